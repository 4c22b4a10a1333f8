package affinitytest

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// generatedPresent is the generator's present: generated interactions lie before it, or up to
// 30 days after it (meetings), never within its first hour.
var generatedPresent = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

type interactionKey struct {
	typ int
	id  int64
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// requireDatesAgree checks that every person's and organization's interaction dates are what
// its interactions derive to at ref, and that an organization's interactions are those of its
// external persons.
func requireDatesAgree(t *testing.T, ws *Workspace, ref time.Time) {
	t.Helper()
	x := buildIndex(ws)
	for _, p := range ws.Persons {
		require.Equal(t, datesFrom(ref, entityInteractions(x, loader.EntityPerson, p.ID)), p.Interactions, "person %d", p.ID)
	}
	for _, o := range ws.Organizations {
		want := map[interactionKey]bool{}
		for _, pid := range o.PersonIDs {
			if x.persons[pid].Type != 0 {
				continue
			}
			for _, in := range x.interactionsByPerson[pid] {
				want[interactionKey{in.Type, in.ID}] = true
			}
		}
		got := entityInteractions(x, loader.EntityOrganization, o.ID)
		require.Len(t, got, len(want), "organization %d: interactions", o.ID)
		for _, in := range got {
			require.True(t, want[interactionKey{in.Type, in.ID}], "organization %d: interaction %d/%d", o.ID, in.Type, in.ID)
		}
		require.Equal(t, datesFrom(ref, got), o.Interactions, "organization %d", o.ID)
	}
}

func TestGeneratedInteractionDatesAgree(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{DefaultConfig(), {Seed: 7, Persons: 1}, {Seed: 9, Persons: 2_000, Organizations: 700,
		Opportunities: 50, OpportunityLists: 1, PersonLists: 1, EntriesPerList: 30}} {
		ws := Generate(cfg)
		requireDatesAgree(t, ws, generatedPresent)
	}
}

func TestGeneratedIntelligence(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	x := buildIndex(ws)
	require.True(t, slices.IsSortedFunc(ws.Interactions, interactionLess))
	require.True(t, slices.IsSortedFunc(ws.Strengths, strengthLess))
	require.True(t, slices.IsSortedFunc(ws.Files, func(a, b *EntityFile) int { return int(a.ID - b.ID) }))
	require.True(t, slices.IsSortedFunc(ws.Reminders, func(a, b *Reminder) int { return int(a.ID - b.ID) }))
	types := map[int]int{}
	var future, manual, shared, withNotes int
	for _, in := range ws.Interactions {
		types[in.Type]++
		var internal, external int
		for _, pid := range in.Participants() {
			if x.persons[pid].Type == 1 {
				internal++
			} else {
				external++
			}
		}
		require.Positive(t, internal, "interaction %d/%d: an internal person", in.Type, in.ID)
		require.Positive(t, external, "interaction %d/%d: an external person", in.Type, in.ID)
		if in.Date.After(generatedPresent) {
			require.True(t, in.IsEvent(), "only meetings and calls lie in the future")
			require.False(t, in.Date.After(generatedPresent.AddDate(0, 0, 30)))
			future++
		}
		if in.ManualCreatorID != nil {
			manual++
		}
		if in.Type == InteractionEmail {
			require.Nil(t, in.PersonIDs)
			require.NotNil(t, in.Direction)
			if external > 1 {
				shared++
			}
		} else {
			require.Empty(t, in.To)
		}
		if in.IsEvent() {
			require.Equal(t, in.Date, *in.StartTime)
		}
		if len(in.NoteIDs) > 0 {
			withNotes++
			for _, nid := range in.NoteIDs {
				n := x.notes[nid]
				require.Equal(t, in.ID, *n.InteractionID)
				require.Equal(t, in.Type, *n.InteractionType)
			}
		}
	}
	for typ := range 4 {
		require.Positive(t, types[typ], "type %d", typ)
	}
	for name, n := range map[string]int{"future meetings": future, "manual": manual, "shared e-mails": shared, "with notes": withNotes} {
		require.Positive(t, n, name)
	}
	per := float64(len(ws.Interactions)) / float64(len(ws.Persons))
	require.InDelta(t, 2.5, per, 1, "interactions per person")

	require.NotEmpty(t, ws.Strengths)
	for _, s := range ws.Strengths {
		require.Equal(t, 1, x.persons[s.InternalID].Type)
		require.Equal(t, 0, x.persons[s.ExternalID].Type)
		require.True(t, s.Strength > 0 && s.Strength <= 1, "strength %v", s.Strength)
		met := false
		for _, in := range x.interactionsByPerson[s.ExternalID] {
			met = met || slices.Contains(in.Participants(), s.InternalID)
		}
		require.True(t, met, "pair %d/%d interacted", s.InternalID, s.ExternalID)
	}

	require.NotEmpty(t, ws.Files)
	kinds := map[string]int{}
	for _, f := range ws.Files {
		set := 0
		for k, id := range map[string]*int64{"person": f.PersonID, "organization": f.OrganizationID, "opportunity": f.OpportunityID} {
			if id != nil {
				set++
				kinds[k]++
			}
		}
		require.Equal(t, 1, set, "file %d: one entity", f.ID)
	}
	require.Len(t, kinds, 3)

	combos := map[[2]int]bool{}
	tags := map[string]bool{}
	for _, r := range ws.Reminders {
		combos[[2]int{r.Status(generatedPresent), r.Type}] = true
		switch {
		case r.PersonID != nil:
			tags["person"] = true
		case r.OrganizationID != nil:
			tags["organization"] = true
		case r.OpportunityID != nil:
			tags["opportunity"] = true
		default:
			tags["none"] = true
		}
		require.Equal(t, r.Type == ReminderRecurring, r.ResetType != nil && r.ReminderDays != nil, "reminder %d", r.ID)
		require.Equal(t, r.CompletedAt != nil, r.CompleterID != nil, "reminder %d", r.ID)
	}
	require.Len(t, combos, 6, "every status, one-time and recurring")
	require.Len(t, tags, 4)

	require.Equal(t, ws.Interactions, Generate(DefaultConfig()).Interactions, "deterministic")
	other := DefaultConfig()
	other.Interactions, other.FileRate, other.ReminderRate = -1, -1, -1
	none := Generate(other)
	require.Empty(t, none.Interactions)
	require.Empty(t, none.Files)
	require.Empty(t, none.Reminders)
	require.Equal(t, ws.Changes, none.Changes, "the rest does not depend on the intelligence")
	require.Equal(t, ws.ListEntries, none.ListEntries)
}

func TestInteractionsRules(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	var ext, internal int64
	for _, p := range ws.Persons {
		if p.Type == 1 && internal == 0 {
			internal = p.ID
		}
		if p.Type == 0 && ext == 0 {
			ext = p.ID
		}
	}
	org, opp := ws.Organizations[0].ID, ws.Opportunities[0].ID
	start := "2026-01-01T00:00:00Z"
	end := "2026-06-01T00:00:00Z"
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "/interactions?" + v.Encode()
	}
	p := strconv.FormatInt(ext, 10)
	for _, c := range []struct {
		name, path string
		status     int
	}{
		{"ok", q("type", "3", "person_id", p, "start_time", start, "end_time", end), http.StatusOK},
		{"exactly a year", q("type", "0", "person_id", p, "start_time", start, "end_time", "2027-01-01T00:00:00Z"), http.StatusOK},
		{"organization", q("type", "2", "organization_id", fmt.Sprint(org), "start_time", start, "end_time", end), http.StatusOK},
		{"opportunity", q("type", "1", "opportunity_id", fmt.Sprint(opp), "start_time", start, "end_time", end), http.StatusOK},
		{"no type", q("person_id", p, "start_time", start, "end_time", end), http.StatusUnprocessableEntity},
		{"type 4", q("type", "4", "person_id", p, "start_time", start, "end_time", end), http.StatusUnprocessableEntity},
		{"type not a number", q("type", "email", "person_id", p, "start_time", start, "end_time", end), http.StatusUnprocessableEntity},
		{"no start", q("type", "3", "person_id", p, "end_time", end), http.StatusUnprocessableEntity},
		{"no end", q("type", "3", "person_id", p, "start_time", start), http.StatusUnprocessableEntity},
		{"bad start", q("type", "3", "person_id", p, "start_time", "yesterday", "end_time", end), http.StatusUnprocessableEntity},
		{"bad end", q("type", "3", "person_id", p, "start_time", start, "end_time", "2026-13-01"), http.StatusUnprocessableEntity},
		{"start is end", q("type", "3", "person_id", p, "start_time", start, "end_time", start), http.StatusUnprocessableEntity},
		{"start after end", q("type", "3", "person_id", p, "start_time", end, "end_time", start), http.StatusUnprocessableEntity},
		{"over a year", q("type", "3", "person_id", p, "start_time", start, "end_time", "2027-01-01T00:00:00.001Z"), http.StatusUnprocessableEntity},
		{"no entity", q("type", "3", "start_time", start, "end_time", end), http.StatusUnprocessableEntity},
		{"two entities", q("type", "3", "person_id", p, "organization_id", fmt.Sprint(org), "start_time", start, "end_time", end), http.StatusUnprocessableEntity},
		{"internal person", q("type", "3", "person_id", fmt.Sprint(internal), "start_time", start, "end_time", end), http.StatusUnprocessableEntity},
		{"person id not a number", q("type", "3", "person_id", "x", "start_time", start, "end_time", end), http.StatusUnprocessableEntity},
		{"unknown person", q("type", "3", "person_id", "1", "start_time", start, "end_time", end), http.StatusNotFound},
		{"unknown organization", q("type", "3", "organization_id", "1", "start_time", start, "end_time", end), http.StatusNotFound},
		{"unknown opportunity", q("type", "3", "opportunity_id", "1", "start_time", start, "end_time", end), http.StatusNotFound},
		{"single without type", "/interactions/" + fmt.Sprint(ws.Interactions[0].ID), http.StatusUnprocessableEntity},
		{"single unknown", "/interactions/1?type=0", http.StatusNotFound},
	} {
		r := f.get(c.path, c.status)
		if c.status != http.StatusOK {
			require.Contains(t, string(r.body), `"errors"`, c.name)
		}
	}
	require.Equal(t, 21, f.srv.Requests()["GET /interactions"])
	require.Equal(t, 2, f.srv.Requests()["GET /interactions/{id}"])
}

func TestInteractionsEnvelopes(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	from, to := generatedPresent.AddDate(0, -11, 0), generatedPresent.AddDate(0, 0, 30)
	for typ, key := range map[int]string{0: "events", 1: "events", 2: "chat_messages", 3: "emails"} {
		// the organization with most interactions of the type in the window
		var best int64
		var want []int64
		for _, o := range ws.Organizations {
			var ids []int64
			for _, in := range ws.InteractionsOf(loader.EntityOrganization, o.ID) {
				if in.Type == typ && !in.Date.Before(from) && in.Date.Before(to) {
					ids = append(ids, in.ID)
				}
			}
			if len(ids) > len(want) {
				best, want = o.ID, ids
			}
		}
		require.NotEmpty(t, want, "type %d", typ)
		items := f.all("/interactions", key, url.Values{"type": {fmt.Sprint(typ)}, "organization_id": {fmt.Sprint(best)},
			"start_time": {rfc(from)}, "end_time": {rfc(to)}})
		var got []int64
		for _, m := range items {
			got = append(got, idOf(t, m))
			require.Equal(t, float64(typ), m["type"])
			in := ws.Interaction(typ, idOf(t, m))
			require.Equal(t, formatTime(in.Date), m["date"])
			switch typ {
			case InteractionEmail:
				require.NotContains(t, m, "persons")
				require.NotContains(t, m, "attendees")
				from := m["from"].(map[string]any)
				require.Equal(t, float64(in.From), from["id"])
				for _, k := range []string{"id", "type", "first_name", "last_name", "primary_email", "emails"} {
					require.Contains(t, from, k)
				}
				require.Len(t, m["to"], len(in.To))
				require.Len(t, m["cc"], len(in.CC))
				require.Contains(t, m, "subject")
				require.Contains(t, m, "direction")
			case InteractionChat:
				require.Len(t, m["persons"], len(in.PersonIDs))
				require.Contains(t, m, "direction")
				require.Contains(t, m, "manual_creator_id")
				require.Contains(t, m, "notes")
				require.NotContains(t, m, "start_time")
			default:
				require.Len(t, m["persons"], len(in.PersonIDs))
				for _, k := range []string{"attendees", "start_time", "end_time", "title", "updated_at", "manual_creator_id", "notes"} {
					require.Contains(t, m, k)
				}
				require.NotContains(t, m, "direction")
			}
		}
		require.Equal(t, want, got, "type %d", typ)
		one := f.get(fmt.Sprintf("/interactions/%d?type=%d", want[0], typ), http.StatusOK)
		require.Contains(t, string(one.body), fmt.Sprintf(`"id":%d`, want[0]))
	}
}

func TestInteractionsPaging(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	var p *Person
	for _, q := range ws.Persons {
		if q.Type == 0 && len(q.OrganizationIDs) > 0 {
			p = q
			break
		}
	}
	now := generatedPresent.Add(30 * time.Minute)
	ws.SetClock(func() time.Time { return now })
	for i := range 250 {
		ws.AddInteraction(Interaction{Type: InteractionEmail, Date: now.Add(-time.Duration(i+1) * time.Minute),
			From: ws.User.ID, To: []int64{p.ID}})
	}
	f := newFixture(t, ws)
	base := url.Values{"type": {"3"}, "person_id": {fmt.Sprint(p.ID)}, "start_time": {rfc(now.Add(-300 * time.Minute))},
		"end_time": {rfc(now)}, "page_size": {"500"}}
	items, next := f.page("/interactions?"+base.Encode(), "emails")
	require.Len(t, items, InteractionsPageSize, "page_size at most 100")
	require.NotNil(t, next)
	tok, err := DecodePageToken(*next)
	require.NoError(t, err)
	require.Equal(t, 100, tok.Offset)
	require.Equal(t, "3", tok.Params["type"])
	require.Equal(t, fmt.Sprint(p.ID), tok.Params["person_id"])
	delete(base, "page_size")
	all := f.all("/interactions", "emails", base)
	require.Len(t, all, 250)
	require.Equal(t, 4, f.srv.Requests()["GET /interactions"], "100 + 100 + 50, and the first page")

	// a token of other params is refused
	other := url.Values{"type": {"3"}, "person_id": {fmt.Sprint(p.ID)}, "start_time": {rfc(now.Add(-299 * time.Minute))},
		"end_time": {rfc(now)}, "page_token": {*next}}
	f.get("/interactions?"+other.Encode(), http.StatusUnprocessableEntity)

	// the organization serves them too
	org := url.Values{"type": {"3"}, "organization_id": {fmt.Sprint(p.OrganizationIDs[0])}, "start_time": base["start_time"],
		"end_time": {rfc(now)}}
	require.GreaterOrEqual(t, len(f.all("/interactions", "emails", org)), 250)
}

func TestStrengthsEndpoint(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	s := ws.Strengths[len(ws.Strengths)/2]
	var got []map[string]any
	f.getJSON(fmt.Sprintf("/relationships-strengths?external_id=%d", s.ExternalID), &got)
	require.Len(t, got, len(ws.StrengthsOf(s.ExternalID)))
	f.getJSON(fmt.Sprintf("/relationships-strengths?external_id=%d&internal_id=%d", s.ExternalID, s.InternalID), &got)
	require.Equal(t, []map[string]any{{"internal_id": float64(s.InternalID), "external_id": float64(s.ExternalID), "strength": s.Strength}}, got)
	f.getJSON(fmt.Sprintf("/relationships-strengths?external_id=%d&internal_id=1", s.ExternalID), &got)
	require.Empty(t, got)
	f.get("/relationships-strengths", http.StatusUnprocessableEntity)
	f.get(fmt.Sprintf("/relationships-strengths?internal_id=%d", s.InternalID), http.StatusUnprocessableEntity)
	f.get(fmt.Sprintf("/relationships-strengths?external_id=%d", s.InternalID), http.StatusUnprocessableEntity)
	f.get("/relationships-strengths?external_id=1", http.StatusNotFound)
	require.Equal(t, 7, f.srv.Requests()["GET /relationships-strengths"])

	// deleting the person drops its pairs and leaves its interactions
	f.srv.Mutate(func(w *Workspace) { w.DeletePerson(s.ExternalID) })
	snap := f.srv.Snapshot()
	require.Empty(t, snap.StrengthsOf(s.ExternalID))
	for _, st := range snap.Strengths {
		require.NotEqual(t, s.ExternalID, st.ExternalID)
	}
	require.Len(t, snap.Interactions, len(ws.Interactions))
	f.get(fmt.Sprintf("/relationships-strengths?external_id=%d", s.ExternalID), http.StatusNotFound)
}

func TestEntityFilesEndpoint(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	all := f.all("/entity-files", "entity_files", url.Values{"page_size": {"5"}})
	require.Len(t, all, len(ws.Files))
	file := ws.Files[0]
	require.Equal(t, map[string]any{"id": float64(file.ID), "name": file.Name, "size": float64(file.Size),
		"person_id": ptrNum(file.PersonID), "organization_id": ptrNum(file.OrganizationID), "opportunity_id": ptrNum(file.OpportunityID),
		"uploader_id": float64(file.UploaderID), "created_at": formatTime(file.CreatedAt)}, all[0])
	for _, file := range ws.Files {
		param, id := "person_id", file.PersonID
		if file.OrganizationID != nil {
			param, id = "organization_id", file.OrganizationID
		} else if file.OpportunityID != nil {
			param, id = "opportunity_id", file.OpportunityID
		}
		items := f.all("/entity-files", "entity_files", url.Values{param: {fmt.Sprint(*id)}})
		require.NotEmpty(t, items)
		for _, m := range items {
			require.Equal(t, float64(*id), m[param])
		}
	}
	items, next := f.page("/entity-files?page_size=9999", "entity_files")
	require.Len(t, items, min(len(ws.Files), MaxPageSize))
	require.Nil(t, next)
	f.get("/entity-files?person_id=1&organization_id=2", http.StatusUnprocessableEntity)
	f.get(fmt.Sprintf("/entity-files/%d", file.ID), http.StatusOK)
	f.get("/entity-files/1", http.StatusNotFound)

	f.srv.SetFilesUnfiltered(FilesUnfilteredRefuse)
	r := f.get("/entity-files", http.StatusUnprocessableEntity)
	require.Contains(t, string(r.body), `"errors"`)
	f.get("/entity-files?page_token=x", http.StatusUnprocessableEntity)
	f.get(fmt.Sprintf("/entity-files?organization_id=%d", ws.Organizations[0].ID), http.StatusOK)

	f.srv.Mutate(func(w *Workspace) { w.DeleteFile(file.ID) })
	f.get(fmt.Sprintf("/entity-files/%d", file.ID), http.StatusNotFound)
	require.Equal(t, 3, f.srv.Requests()["GET /entity-files/{id}"])

	refuse := newFixture(t, Generate(DefaultConfig()), WithFilesUnfiltered(FilesUnfilteredRefuse))
	refuse.get("/entity-files", http.StatusUnprocessableEntity)
}

func TestParseFilesUnfilteredMode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want FilesUnfilteredMode
		ok   bool
	}{{"ok", FilesUnfilteredOK, true}, {"refuse", FilesUnfilteredRefuse, true}, {"", 0, false}, {"422", 0, false}} {
		m, err := ParseFilesUnfilteredMode(c.in)
		if !c.ok {
			require.Error(t, err, c.in)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, c.want, m)
		require.Equal(t, c.in, m.String())
	}
}

func TestRemindersEndpoint(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	c := &clock{t: generatedPresent}
	f := newFixture(t, ws, WithClock(c.now))
	all := f.all("/reminders", "reminders", url.Values{"page_size": {"5"}})
	require.Len(t, all, len(ws.Reminders), "every status without a filter")
	statuses := map[float64]int{}
	for i, m := range all {
		r := ws.Reminders[i]
		require.Equal(t, float64(r.ID), m["id"])
		require.Equal(t, float64(r.Status(c.now())), m["status"])
		statuses[m["status"].(float64)]++
		for _, k := range []string{"type", "created_at", "completed_at", "content", "due_date", "reset_type", "reminder_days",
			"creator", "owner", "completer", "person", "organization", "opportunity"} {
			require.Contains(t, m, k)
		}
		require.Equal(t, float64(r.OwnerID), m["owner"].(map[string]any)["id"])
		if r.OrganizationID != nil {
			require.Equal(t, map[string]any{"id": float64(*r.OrganizationID), "name": ws.Organization(*r.OrganizationID).Name,
				"domain": ptrStr(ws.Organization(*r.OrganizationID).Domain), "domains": strsAny(ws.Organization(*r.OrganizationID).Domains),
				"crunchbase_uuid": ptrStr(ws.Organization(*r.OrganizationID).CrunchbaseUUID), "global": ws.Organization(*r.OrganizationID).Global},
				m["organization"])
		}
		if r.OpportunityID != nil {
			require.Equal(t, map[string]any{"id": float64(*r.OpportunityID), "name": ws.Opportunity(*r.OpportunityID).Name}, m["opportunity"])
		}
	}
	require.Len(t, statuses, 3)

	// statuses follow the clock: an active reminder is overdue once its due date passed
	var active *Reminder
	for _, r := range ws.Reminders {
		if r.Status(c.now()) == ReminderActive {
			active = r
			break
		}
	}
	f.getJSON(fmt.Sprintf("/reminders/%d", active.ID), &map[string]any{})
	c.advance(active.DueDate.Sub(c.now()) + time.Millisecond)
	var one map[string]any
	f.getJSON(fmt.Sprintf("/reminders/%d", active.ID), &one)
	require.Equal(t, float64(ReminderOverdue), one["status"])
	f.get("/reminders/1", http.StatusNotFound)

	r0 := ws.Reminders[0]
	filters := []struct {
		name, value string
		keep        func(*Reminder) bool
	}{
		{"person_id", fmt.Sprint(*firstSet(ws, func(r *Reminder) *int64 { return r.PersonID })), nil},
		{"organization_id", fmt.Sprint(*firstSet(ws, func(r *Reminder) *int64 { return r.OrganizationID })), nil},
		{"opportunity_id", fmt.Sprint(*firstSet(ws, func(r *Reminder) *int64 { return r.OpportunityID })), nil},
		{"creator_id", fmt.Sprint(r0.CreatorID), func(r *Reminder) bool { return r.CreatorID == r0.CreatorID }},
		{"owner_id", fmt.Sprint(r0.OwnerID), func(r *Reminder) bool { return r.OwnerID == r0.OwnerID }},
		{"completer_id", fmt.Sprint(*firstSet(ws, func(r *Reminder) *int64 { return r.CompleterID })), nil},
		{"type", "1", func(r *Reminder) bool { return r.Type == 1 }},
		{"reset_type", "2", func(r *Reminder) bool { return r.ResetType != nil && *r.ResetType == 2 }},
		{"status", "0", func(r *Reminder) bool { return r.Status(c.now()) == 0 }},
		{"status", "1", func(r *Reminder) bool { return r.Status(c.now()) == 1 }},
		{"status", "2", func(r *Reminder) bool { return r.Status(c.now()) == 2 }},
		{"due_before", rfc(generatedPresent), func(r *Reminder) bool { return r.DueDate.Before(generatedPresent) }},
		{"due_after", rfc(generatedPresent), func(r *Reminder) bool { return r.DueDate.After(generatedPresent) }},
	}
	for _, fl := range filters {
		keep := fl.keep
		if keep == nil {
			id, _ := strconv.ParseInt(fl.value, 10, 64)
			pick := map[string]func(*Reminder) *int64{
				"person_id": func(r *Reminder) *int64 { return r.PersonID }, "organization_id": func(r *Reminder) *int64 { return r.OrganizationID },
				"opportunity_id": func(r *Reminder) *int64 { return r.OpportunityID }, "completer_id": func(r *Reminder) *int64 { return r.CompleterID },
			}[fl.name]
			keep = func(r *Reminder) bool { return equalID(pick(r), id) }
		}
		var want []int64
		for _, r := range ws.Reminders {
			if keep(r) {
				want = append(want, r.ID)
			}
		}
		require.NotEmpty(t, want, "%s=%s", fl.name, fl.value)
		var got []int64
		for _, m := range f.all("/reminders", "reminders", url.Values{fl.name: {fl.value}, "page_size": {"2"}}) {
			got = append(got, idOf(t, m))
		}
		require.Equal(t, want, got, "%s=%s", fl.name, fl.value)
	}
	_, next := f.page("/reminders?page_size=1&owner_id="+fmt.Sprint(r0.OwnerID)+"&type=0", "reminders")
	tok, err := DecodePageToken(*next)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"owner_id": fmt.Sprint(r0.OwnerID), "type": "0"}, tok.Params, "the token echoes the filters")
	f.get("/reminders?due_before=soon", http.StatusUnprocessableEntity)
	f.get("/reminders?status=x", http.StatusUnprocessableEntity)
	items, _ := f.page("/reminders?page_size=100000", "reminders")
	require.Len(t, items, min(len(ws.Reminders), MaxPageSize))
}

func firstSet(ws *Workspace, pick func(*Reminder) *int64) *int64 {
	for _, r := range ws.Reminders {
		if id := pick(r); id != nil {
			return id
		}
	}
	return nil
}

func ptrNum(p *int64) any {
	if p == nil {
		return nil
	}
	return float64(*p)
}

func ptrStr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func strsAny(s []string) []any {
	out := []any{}
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

func TestMutateIntelligence(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	now := generatedPresent.Add(30 * time.Minute) // no generated meeting lies between present and now
	ws.SetClock(func() time.Time { return now })
	before := ws.Snapshot()
	ch := ws.MutateIntelligence(rand.New(rand.NewPCG(5, 6)), 16)
	requireDatesAgree(t, ws, now)

	require.Len(t, ch.Interactions, 16)
	types, future := map[int]int{}, 0
	for _, in := range ch.Interactions {
		types[in.Type]++
		require.Same(t, in, ws.Interaction(in.Type, in.ID))
		require.Nil(t, before.Interaction(in.Type, in.ID))
		if in.Date.After(now) {
			future++
			require.Equal(t, InteractionMeeting, in.Type)
			require.False(t, in.Date.After(now.AddDate(0, 0, 31)))
		} else {
			require.True(t, in.Date.After(now.Add(-7*time.Hour)), "shortly before now")
		}
	}
	require.Len(t, types, 4)
	require.Positive(t, future)

	// Moved is exactly the entities and types whose due dates differ
	var moved []DatesMoved
	for _, p := range ws.Persons {
		if p.Type != 0 {
			continue
		}
		for _, typ := range movedTypes(before.Person(p.ID).Interactions, p.Interactions) {
			moved = append(moved, DatesMoved{loader.EntityPerson, p.ID, typ})
		}
	}
	for _, o := range ws.Organizations {
		for _, typ := range movedTypes(before.Organization(o.ID).Interactions, o.Interactions) {
			moved = append(moved, DatesMoved{loader.EntityOrganization, o.ID, typ})
		}
	}
	require.Equal(t, moved, ch.Moved)
	require.NotEmpty(t, ch.Moved)
	kinds := map[loader.EntityKind]bool{}
	for _, m := range ch.Moved {
		kinds[m.EntityType] = true
	}
	require.Len(t, kinds, 2, "persons and organizations")

	for _, s := range ch.StrengthsChanged {
		var got float64
		for _, st := range ws.StrengthsOf(s.ExternalID) {
			if st.InternalID == s.InternalID {
				got = st.Strength
			}
		}
		require.Equal(t, s.Strength, got)
	}
	require.NotEmpty(t, ch.StrengthsDropped)
	for _, s := range ch.StrengthsDropped {
		for _, st := range ws.StrengthsOf(s.ExternalID) {
			require.NotEqual(t, s.InternalID, st.InternalID)
		}
	}
	require.NotEmpty(t, ch.FilesAdded)
	require.NotEmpty(t, ch.FilesDeleted)
	for _, id := range ch.FilesAdded {
		require.NotNil(t, ws.EntityFile(id))
	}
	for _, id := range ch.FilesDeleted {
		require.Nil(t, ws.EntityFile(id))
		require.NotNil(t, before.EntityFile(id))
	}
	require.NotEmpty(t, ch.RemindersCompleted)
	require.NotEmpty(t, ch.RemindersDeleted)
	for _, id := range ch.RemindersCompleted {
		require.Equal(t, ReminderCompleted, ws.Reminder(id).Status(now))
		require.Equal(t, ws.User.ID, *ws.Reminder(id).CompleterID)
	}
	for _, id := range ch.RemindersDeleted {
		require.Nil(t, ws.Reminder(id))
	}
	require.Len(t, ws.Files, len(before.Files)+len(ch.FilesAdded)-len(ch.FilesDeleted))

	// the index the helpers patched is the one a rebuild gives
	patched := ws.index()
	rebuilt := buildIndex(ws)
	require.Equal(t, rebuilt.intelligence, patched.intelligence)
	require.Equal(t, rebuilt.personsWithDates, patched.personsWithDates)
	require.Equal(t, rebuilt.orgsWithDates, patched.orgsWithDates)

	// the served dates moved with them
	f := newFixture(t, ws, WithClock(func() time.Time { return now }))
	m := ch.Moved[0]
	in := ch.Interactions[0]
	var p map[string]any
	f.getJSON(fmt.Sprintf("/%s/%d?with_interaction_dates=true", m.EntityType.V1Noun(), m.EntityID), &p)
	require.NotNil(t, p["interaction_dates"])
	items := f.all("/interactions", InteractionsEnvelope(in.Type), url.Values{"type": {fmt.Sprint(in.Type)},
		"person_id": {fmt.Sprint(externalOf(ws, in))}, "start_time": {rfc(now.Add(-24 * time.Hour))}, "end_time": {rfc(now.Add(time.Minute))}})
	var ids []int64
	for _, it := range items {
		ids = append(ids, idOf(t, it))
	}
	require.Contains(t, ids, in.ID)
}

func externalOf(ws *Workspace, in *Interaction) int64 {
	for _, id := range in.Participants() {
		if ws.Person(id).Type == 0 {
			return id
		}
	}
	return 0
}

func TestIntelligenceSnapshotIsDeep(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	c := ws.Snapshot()
	require.Equal(t, ws.Interactions, c.Interactions)
	require.Equal(t, ws.Strengths, c.Strengths)
	require.Equal(t, ws.Files, c.Files)
	require.Equal(t, ws.Reminders, c.Reminders)
	var email *Interaction
	for _, in := range c.Interactions {
		if in.Type == InteractionEmail {
			email = in
			break
		}
	}
	email.To[0] = -1
	*email.Subject = "changed"
	c.Strengths[0].Strength = 2
	c.Files[0].Name = "x"
	c.Reminders[0].DueDate = time.Time{}
	require.NotEqual(t, int64(-1), ws.Interaction(email.Type, email.ID).To[0])
	require.NotEqual(t, "changed", *ws.Interaction(email.Type, email.ID).Subject)
	require.NotEqual(t, 2.0, ws.Strengths[0].Strength)
	require.NotEqual(t, "x", ws.Files[0].Name)
	require.False(t, ws.Reminders[0].DueDate.IsZero())
}

func TestIntelligenceWebhookBodies(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	fake := NewServer(ws)
	file, reminder := ws.Files[0], ws.Reminders[0]
	body, err := fake.Object(fmt.Sprintf("/entity-files/%d", file.ID))
	require.NoError(t, err)
	require.Contains(t, string(body), fmt.Sprintf(`"id":%d`, file.ID))
	rb, err := fake.Object(fmt.Sprintf("/reminders/%d", reminder.ID))
	require.NoError(t, err)
	require.Contains(t, string(rb), `"due_date"`)
	require.Zero(t, fake.TotalRequests())

	// file.deleted carries the file as it was before the deletion
	got := make(chan string, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	t.Cleanup(hook.Close)
	fake.Mutate(func(w *Workspace) { w.DeleteFile(file.ID) })
	_, err = fake.Object(fmt.Sprintf("/entity-files/%d", file.ID))
	require.Error(t, err, "gone")
	require.NoError(t, fake.Deliver(t.Context(), hook.URL, "file.deleted", json.RawMessage(body)))
	require.Contains(t, <-got, fmt.Sprintf(`"body":{"created_at":%q`, formatTime(file.CreatedAt)))
	require.NoError(t, fake.Deliver(t.Context(), hook.URL, "reminder.updated", json.RawMessage(rb)))
	require.Contains(t, <-got, `"type":"reminder.updated"`)
	for _, e := range []string{"file.created", "file.deleted", "reminder.created", "reminder.updated", "reminder.deleted"} {
		require.Contains(t, webhookEvents, e)
	}
}
