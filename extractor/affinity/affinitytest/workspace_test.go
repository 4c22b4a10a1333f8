package affinitytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

// requireConsistent checks the invariants the sync relies on.
func requireConsistent(t *testing.T, ws *Workspace) {
	t.Helper()
	x := buildIndex(ws)
	for _, e := range ws.ListEntries {
		l := x.lists[e.ListID]
		require.NotNil(t, l, "entry %d: list", e.ID)
		require.Equal(t, l.Type, e.EntityType, "entry %d: entity type", e.ID)
		switch e.EntityType {
		case loader.EntityPerson:
			require.NotNil(t, x.persons[e.EntityID], "entry %d: person", e.ID)
		case loader.EntityOrganization:
			require.NotNil(t, x.orgs[e.EntityID], "entry %d: organization", e.ID)
		case loader.EntityOpportunity:
			require.NotNil(t, x.opps[e.EntityID], "entry %d: opportunity", e.ID)
		}
	}
	for _, o := range ws.Opportunities {
		require.Len(t, x.entriesByEntity[entityKey{loader.EntityOpportunity, o.ID}], 1, "opportunity %d: one list entry", o.ID)
	}
	for _, o := range ws.Organizations {
		for _, pid := range o.PersonIDs {
			require.Contains(t, x.persons[pid].OrganizationIDs, o.ID, "org %d person %d", o.ID, pid)
		}
	}
	for _, p := range ws.Persons {
		for _, oid := range p.OrganizationIDs {
			require.Contains(t, x.orgs[oid].PersonIDs, p.ID, "person %d org %d", p.ID, oid)
		}
	}
	type cell struct {
		field, entity, entry int64
	}
	current := map[cell][]string{}
	for _, v := range ws.FieldValues {
		f := x.fields[v.FieldID]
		require.NotNil(t, f, "value %d: field", v.ID)
		require.Equal(t, f.EntityType, v.EntityType, "value %d: entity type", v.ID)
		require.True(t, json.Valid(v.Value), "value %d: JSON", v.ID)
		c := cell{field: f.ID, entity: v.EntityID}
		if v.ListEntryID != nil {
			e := x.entries[*v.ListEntryID]
			require.NotNil(t, e, "value %d: entry", v.ID)
			require.Equal(t, *f.ListID, e.ListID, "value %d: field of the entry's list", v.ID)
			require.Equal(t, e.EntityID, v.EntityID, "value %d: entity of the entry", v.ID)
			c.entry = e.ID
		} else {
			require.Nil(t, f.ListID, "value %d: global field", v.ID)
		}
		if f.TrackChanges {
			current[c] = append(current[c], string(v.Value))
		}
	}
	// Replaying each tracked cell's history gives its current values.
	replayed := map[cell][]string{}
	for _, ch := range ws.Changes {
		c := cell{field: ch.FieldID, entity: ch.EntityID}
		if ch.ListEntryID != nil {
			c.entry = *ch.ListEntryID
		}
		f := x.fields[ch.FieldID]
		require.NotNil(t, f, "change %d: field", ch.ID)
		require.True(t, f.TrackChanges, "change %d: tracked field", ch.ID)
		vals := replayed[c]
		switch ch.ActionType {
		case ActionCreate:
			if !f.AllowsMultiple {
				vals = nil
			}
			vals = append(vals, string(ch.Value))
		case ActionUpdate:
			vals = []string{string(ch.Value)}
		case ActionDelete:
			i := slices.Index(vals, string(ch.Value))
			require.GreaterOrEqual(t, i, 0, "change %d deletes a value the cell holds", ch.ID)
			vals = slices.Delete(vals, i, i+1)
		}
		replayed[c] = vals
	}
	for c := range current {
		require.ElementsMatch(t, current[c], replayed[c], "cell %+v: history", c)
	}
	for c := range replayed {
		require.ElementsMatch(t, current[c], replayed[c], "cell %+v: history", c)
	}
}

func TestGeneratedWorkspaceIsConsistent(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{DefaultConfig(), {Seed: 7, Persons: 1}, {Seed: 8, Persons: 40, Organizations: 3,
		Opportunities: 9, OpportunityLists: 2, PersonLists: 1, EntriesPerList: 5, NUL: true}} {
		requireConsistent(t, Generate(cfg))
	}
}

func TestGeneratedContentIsAdversarial(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	has := func(n int, what string) { require.Positive(t, n, what) }
	count := func(n int, ok bool) int {
		if ok {
			return n + 1
		}
		return n
	}
	var nilFirst, emptyFirst, unicode, noEmails, internal, noInteractions int
	for _, p := range ws.Persons {
		nilFirst = count(nilFirst, p.FirstName == nil)
		emptyFirst = count(emptyFirst, p.FirstName != nil && *p.FirstName == "")
		unicode = count(unicode, p.FirstName != nil && !isASCII(*p.FirstName))
		noEmails = count(noEmails, len(p.Emails) == 0 && p.PrimaryEmail == nil)
		internal = count(internal, p.Type == 1)
		noInteractions = count(noInteractions, p.Interactions == nil)
		require.NotNil(t, p.Emails)
	}
	has(nilFirst, "null first names")
	has(emptyFirst, "empty first names")
	has(unicode, "unicode names")
	has(noEmails, "persons without emails")
	has(internal, "internal persons")
	has(noInteractions, "persons without interactions")
	var nilDomain, global int
	for _, o := range ws.Organizations {
		nilDomain = count(nilDomain, o.Domain == nil)
		global = count(global, o.Global)
	}
	has(nilDomain, "organizations without domain")
	has(global, "global organizations")

	types := map[int]bool{}
	multi := map[int]bool{}
	statusLists := map[int64]bool{}
	for _, f := range ws.Fields {
		types[f.ValueType] = true
		if f.AllowsMultiple {
			multi[f.ValueType] = true
		}
		if f.Name == "Status" && f.ListID != nil {
			require.Equal(t, ValueRankedDropdown, f.ValueType)
			require.True(t, f.TrackChanges)
			require.NotEmpty(t, f.DropdownOptions)
			statusLists[*f.ListID] = true
		}
	}
	for _, vt := range []int{0, 1, 2, 3, 4, 5, 6, 7, 10} {
		require.True(t, types[vt], "value type %d", vt)
	}
	for _, vt := range []int{ValuePerson, ValueOrganization, ValueDropdown} {
		require.True(t, multi[vt], "multi-value type %d", vt)
	}
	require.Len(t, statusLists, len(ws.Lists), "a Status field on every list")

	x := buildIndex(ws)
	var longText, nullValue, omitted, typed, decimal, locNull, locEmpty, multiCell int
	cells := map[[3]int64]int{}
	for _, v := range ws.FieldValues {
		f := x.fields[v.FieldID]
		s := string(v.Value)
		longText = count(longText, f.ValueType == ValueText && len(s) > 10*1024)
		nullValue = count(nullValue, s == "null")
		omitted = count(omitted, v.OmitTypes)
		typed = count(typed, !v.OmitTypes)
		decimal = count(decimal, f.ValueType == ValueNumber && strings.Contains(s, "."))
		locNull = count(locNull, f.ValueType == ValueLocation && strings.Contains(s, ":null"))
		locEmpty = count(locEmpty, f.ValueType == ValueLocation && strings.Contains(s, `:""`))
		var entry int64
		if v.ListEntryID != nil {
			entry = *v.ListEntryID
		}
		k := [3]int64{v.FieldID, v.EntityID, entry}
		cells[k]++
		multiCell = count(multiCell, cells[k] == 2)
	}
	has(longText, "text values over 10 KB")
	has(nullValue, "null values")
	has(omitted, "values without entity_type/value_type")
	has(typed, "values with entity_type/value_type")
	has(decimal, "numbers with decimals")
	has(locNull, "locations with null parts")
	has(locEmpty, "locations with empty parts")
	has(multiCell, "multi-value cells")

	var nilChanger, deletes, updates int
	for _, c := range ws.Changes {
		nilChanger = count(nilChanger, c.ChangerID == nil)
		deletes = count(deletes, c.ActionType == ActionDelete)
		updates = count(updates, c.ActionType == ActionUpdate)
	}
	has(nilChanger, "changes without changer")
	has(deletes, "delete changes")
	has(updates, "update changes")

	// served timestamps mix Z and offsets, always with milliseconds
	f := newFixture(t, ws)
	r := f.get(fmt.Sprintf("/lists/%d/list-entries", ws.Lists[0].ID), http.StatusOK)
	body := string(r.body)
	require.Regexp(t, `"created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`, body)
	require.Regexp(t, `"created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-0[478]:00"`, body)
	require.Contains(t, body, `"x_extra"`)

	for _, p := range ws.Persons {
		for _, s := range []*string{p.FirstName, p.LastName} {
			require.False(t, s != nil && strings.Contains(*s, "\x00"), "no NUL unless asked")
		}
	}
	cfg := DefaultConfig()
	cfg.NUL = true
	nul := Generate(cfg)
	found := 0
	for _, p := range nul.Persons {
		for _, s := range []*string{p.FirstName, p.LastName} {
			found = count(found, s != nil && strings.Contains(*s, "\x00"))
		}
	}
	for _, v := range nul.FieldValues {
		found = count(found, strings.Contains(string(v.Value), `\u0000`))
	}
	has(found, "NUL characters with NUL set")
}

func isASCII(s string) bool {
	for _, r := range s {
		if r >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func TestMutateAndSnapshot(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 11, 20, 9, 30, 0, 123_456_789, time.UTC)}
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws, WithClock(c.now))
	before := f.srv.Snapshot()
	user := before.User.ID

	// A snapshot is a deep copy.
	*before.Persons[10].FirstName = "changed in the snapshot"
	before.Persons[10].Emails = append(before.Persons[10].Emails, "x@y.example")
	var p map[string]any
	f.getJSON(fmt.Sprintf("/persons/%d", before.Persons[10].ID), &p)
	require.NotEqual(t, "changed in the snapshot", p["first_name"])

	// Delete a person on a list: it 404s, its entries and values go.
	pl := firstListOfType(t, before, loader.EntityPerson)
	victim := before.EntriesOf(pl.ID)[0].EntityID
	f.srv.Mutate(func(w *Workspace) { w.DeletePerson(victim) })
	f.get(fmt.Sprintf("/persons/%d", victim), http.StatusNotFound)
	f.get(fmt.Sprintf("/field-values?person_id=%d", victim), http.StatusNotFound)
	for _, e := range f.all(fmt.Sprintf("/lists/%d/list-entries", pl.ID), "list_entries", url.Values{"page_size": {"50"}}) {
		require.NotEqual(t, float64(victim), e["entity_id"])
	}
	require.NotNil(t, before.Person(victim), "the earlier snapshot keeps it")
	after := f.srv.Snapshot()
	require.Nil(t, after.Person(victim))
	requireConsistent(t, after)

	// Deleting an opportunity's list entry deletes the opportunity.
	opp := before.Opportunities[0]
	entry := before.EntriesFor(loader.EntityOpportunity, opp.ID)[0]
	f.srv.Mutate(func(w *Workspace) { w.DeleteListEntry(entry.ID) })
	f.get(fmt.Sprintf("/opportunities/%d", opp.ID), http.StatusNotFound)

	// Deleting an organization unlinks it from its persons.
	var org *Organization
	for _, o := range before.Organizations {
		if len(o.PersonIDs) > 0 && o.PersonIDs[0] != victim {
			org = o
			break
		}
	}
	f.srv.Mutate(func(w *Workspace) { w.DeleteOrganization(org.ID) })
	f.getJSON(fmt.Sprintf("/persons/%d", org.PersonIDs[0]), &p)
	require.NotContains(t, p["organization_ids"], float64(org.ID))

	// Tracked single value: update, then clear.
	status := before.Fields[slices.IndexFunc(before.Fields, func(fl *Field) bool { return fl.Name == "Status" && fl.ListID != nil && *fl.ListID == pl.ID })]
	e := before.EntriesOf(pl.ID)[5]
	eid := e.ID
	opt := rankedJSON(status.DropdownOptions[len(status.DropdownOptions)-1])
	hadValue := len(before.ValuesOf(status.ID, e.EntityID, &eid)) > 0
	f.srv.Mutate(func(w *Workspace) { w.SetFieldValue(status.ID, e.EntityID, &eid, opt) })
	var vals []map[string]any
	f.getJSON(fmt.Sprintf("/field-values?list_entry_id=%d", eid), &vals)
	found := false
	for _, v := range vals {
		if v["field_id"] == float64(status.ID) {
			found = true
			b, _ := json.Marshal(v["value"])
			require.JSONEq(t, string(opt), string(b))
		}
	}
	require.True(t, found)
	var changes []map[string]any
	f.getJSON(fmt.Sprintf("/field-value-changes?field_id=%d&list_entry_id=%d", status.ID, eid), &changes)
	last := changes[len(changes)-1]
	wantAction := ActionCreate
	if hadValue {
		wantAction = ActionUpdate
	}
	require.EqualValues(t, wantAction, last["action_type"])
	require.Equal(t, "2026-11-20T09:30:00.123Z", last["changed_at"])
	require.EqualValues(t, user, last["changer"].(map[string]any)["id"])
	require.Greater(t, last["id"].(float64), changes[0]["id"].(float64))

	c.advance(time.Hour)
	f.srv.Mutate(func(w *Workspace) { w.SetFieldValue(status.ID, e.EntityID, &eid) })
	f.getJSON(fmt.Sprintf("/field-value-changes?field_id=%d&list_entry_id=%d&action_type=1", status.ID, eid), &changes)
	require.Equal(t, "2026-11-20T10:30:00.123Z", changes[len(changes)-1]["changed_at"])
	require.Empty(t, f.srv.Snapshot().ValuesOf(status.ID, e.EntityID, &eid))

	// Tracked multi value: replace {a, b} by {b, c}.
	owners := before.Fields[slices.IndexFunc(before.Fields, func(fl *Field) bool { return fl.Name == "Owners" && fl.ListID != nil && *fl.ListID == pl.ID })]
	a, b, cc := json.RawMessage(fmt.Sprint(before.Persons[1].ID)), json.RawMessage(fmt.Sprint(before.Persons[2].ID)), json.RawMessage(fmt.Sprint(before.Persons[3].ID))
	f.srv.Mutate(func(w *Workspace) {
		w.SetFieldValue(owners.ID, e.EntityID, &eid, a, b)
		w.SetFieldValue(owners.ID, e.EntityID, &eid, b, cc)
	})
	got := f.srv.Snapshot().ValuesOf(owners.ID, e.EntityID, &eid)
	require.Len(t, got, 2)
	require.ElementsMatch(t, []string{string(b), string(cc)}, []string{string(got[0].Value), string(got[1].Value)})

	// Untracked field: values change, no history.
	comments := before.Fields[slices.IndexFunc(before.Fields, func(fl *Field) bool { return fl.Name == "Comments" && fl.ListID != nil && *fl.ListID == pl.ID })]
	n := len(f.srv.Snapshot().Changes)
	f.srv.Mutate(func(w *Workspace) { w.SetFieldValue(comments.ID, e.EntityID, &eid, jsonString("new note")) })
	require.Len(t, f.srv.Snapshot().Changes, n)

	// Adds: a person, a list entry, an opportunity.
	var added *Person
	var addedEntry *ListEntry
	var addedOpp *Opportunity
	f.srv.Mutate(func(w *Workspace) {
		added = w.AddPerson(Person{FirstName: str("Nova"), OrganizationIDs: []int64{before.Organizations[1].ID}})
		addedEntry = w.AddListEntry(pl.ID, added.ID)
		addedOpp = w.AddOpportunity(Opportunity{Name: "New deal"}, firstListOfType(t, w, loader.EntityOpportunity).ID)
		w.Person(before.Persons[4].ID).Interactions = nil
	})
	require.Greater(t, added.ID, before.Persons[len(before.Persons)-1].ID)
	f.getJSON(fmt.Sprintf("/persons/%d", added.ID), &p)
	require.Equal(t, "Nova", p["first_name"])
	require.Nil(t, p["primary_email"])
	require.Equal(t, []any{}, p["emails"])
	require.Len(t, p["list_entries"], 1)
	var le map[string]any
	f.getJSON(fmt.Sprintf("/lists/%d/list-entries/%d", pl.ID, addedEntry.ID), &le)
	require.Equal(t, "2026-11-20T10:30:00.123Z", le["created_at"])
	var o map[string]any
	f.getJSON(fmt.Sprintf("/organizations/%d", before.Organizations[1].ID), &o)
	require.Contains(t, o["person_ids"], float64(added.ID))
	f.getJSON(fmt.Sprintf("/opportunities/%d", addedOpp.ID), &o)
	require.Len(t, o["list_entries"], 1)
	withDates := f.all("/persons", "persons", url.Values{"with_interaction_dates": {"true"}})
	for _, m := range withDates {
		require.NotEqual(t, float64(before.Persons[4].ID), m["id"], "the index follows Mutate")
	}
	requireConsistent(t, f.srv.Snapshot())
}

func TestDeleteList(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	l := firstListOfType(t, ws, loader.EntityOpportunity)
	n := len(ws.Opportunities)
	ws.DeleteList(l.ID)
	require.Nil(t, ws.List(l.ID))
	require.Less(t, len(ws.Opportunities), n)
	for _, f := range ws.Fields {
		require.False(t, f.ListID != nil && *f.ListID == l.ID)
	}
	requireConsistent(t, ws)
}
