package affinitytest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

// ---- change feed helpers ----

const feedPath = "/v2/field-value-changes"

// feedURL is the feed's path with the query params given as name, value pairs.
func feedURL(params ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		q.Add(params[i], params[i+1])
	}
	if len(q) == 0 {
		return feedPath
	}
	return feedPath + "?" + q.Encode()
}

func idOfChange(t *testing.T, rec map[string]any) int64 {
	t.Helper()
	n, ok := rec["id"].(float64)
	require.True(t, ok, "record id is a number: %v", rec)
	return int64(n)
}

func changeIDs(t *testing.T, recs []map[string]any) []int64 {
	t.Helper()
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = idOfChange(t, r)
	}
	return out
}

// feedOrder is ws's history as the reference orders the feed: changedAt, then id.
func feedOrder(ws *Workspace) []*FieldValueChange {
	out := slices.Clone(ws.Changes)
	slices.SortFunc(out, func(a, b *FieldValueChange) int {
		return cmp.Or(a.ChangedAt.Compare(b.ChangedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// wantChanges are the ids of the changes of ws (in feed order) that keep accepts.
func wantChanges(ws *Workspace, keep func(c *FieldValueChange) bool) []int64 {
	out := []int64{}
	for _, c := range feedOrder(ws) {
		if keep(c) {
			out = append(out, c.ID)
		}
	}
	return out
}

// v1History reads every tracked field's v1 history: the records by change id.
func (f *fixture) v1History(ws *Workspace) map[int64]map[string]any {
	f.t.Helper()
	out := map[int64]map[string]any{}
	for _, fd := range ws.Fields {
		if !fd.TrackChanges {
			continue
		}
		var rows []map[string]any
		f.getJSON("/field-value-changes?field_id="+strconv.FormatInt(fd.ID, 10), &rows)
		for _, r := range rows {
			out[int64(r["id"].(float64))] = r
		}
	}
	return out
}

// v1CanonOrNull is v1Canon of a value that may be null.
func v1CanonOrNull(t *testing.T, valueType int, v any) string {
	t.Helper()
	if v == nil {
		return "null"
	}
	return v1Canon(t, valueType, v)
}

// v2CanonOrNull is v2Canon of an item that may be null.
func v2CanonOrNull(t *testing.T, typ string, v any) string {
	t.Helper()
	if v == nil {
		return "null"
	}
	return v2Canon(t, typ, v)
}

// rawValue is a v1 value as JSON.
func rawValue(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// ---- tests ----

func TestV2ChangesSameHistoryAsV1(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	ws := f.srv.Snapshot()
	ws.Reindex()
	v1 := f.v1History(ws)
	feed := f.v2All(feedURL("limit", "100"))
	require.Len(t, feed, len(v1), "every change v1 serves, once")
	require.Equal(t, wantChanges(ws, func(*FieldValueChange) bool { return true }), changeIDs(t, feed),
		"ascending by changedAt, then id")
	keys := []string{"id", "type", "actionType", "changedAt", "field", "entity", "listEntry", "changer", "value"}
	actions := map[float64]string{0: "add", 1: "delete", 2: "update"}
	seen := map[string]bool{}
	for _, rec := range feed {
		id := idOfChange(t, rec)
		old, ok := v1[id]
		require.True(t, ok, "change %d is in v1's history", id)
		require.ElementsMatch(t, keys, slices.Collect(maps.Keys(rec)), "record %d", id)
		fd := ws.Field(int64(old["field_id"].(float64)))
		require.NotNil(t, fd)
		seen[V2ValueType(fd)] = true
		require.Equal(t, V2ValueType(fd), rec["type"], "record %d", id)
		require.Equal(t, actions[old["action_type"].(float64)], rec["actionType"], "record %d", id)

		at, err := time.Parse(time.RFC3339Nano, rec["changedAt"].(string))
		require.NoError(t, err)
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, rec["changedAt"], "UTC with milliseconds")
		was, err := time.Parse(time.RFC3339Nano, old["changed_at"].(string))
		require.NoError(t, err)
		require.True(t, at.Equal(was), "record %d: changedAt %s, v1 %s", id, at, was)

		field := rec["field"].(map[string]any)
		kind := "global"
		if fd.ListID != nil {
			kind = "list"
		}
		require.Equal(t, map[string]any{"id": "field-" + strconv.FormatInt(fd.ID, 10),
			"entityType": fd.EntityType.V2EntryType(), "name": fd.Name, "type": kind}, field)
		require.Equal(t, map[string]any{"id": old["entity_id"]}, rec["entity"])
		if old["list_entry_id"] == nil {
			require.Nil(t, rec["listEntry"], "record %d", id)
		} else {
			require.Equal(t, map[string]any{"id": old["list_entry_id"], "listId": float64(*fd.ListID)}, rec["listEntry"])
		}
		if old["changer"] == nil {
			require.Nil(t, rec["changer"], "record %d", id)
		} else {
			ch := old["changer"].(map[string]any)
			require.Equal(t, map[string]any{"id": ch["id"], "firstName": ch["first_name"], "lastName": ch["last_name"],
				"emailAddress": ch["primary_email"]}, rec["changer"], "record %d", id)
		}
		require.Equal(t, v1CanonOrNull(t, fd.ValueType, old["value"]), v2CanonOrNull(t, rec["type"].(string), rec["value"]),
			"record %d of field %d (%s)", id, fd.ID, rec["type"])
	}
	// The default workspace has every kind of tracked value.
	for _, typ := range []string{"person-multi", "company", "company-multi", "number", "datetime", "location", "ranked-dropdown"} {
		require.True(t, seen[typ], "a change of type %s was served", typ)
	}
	require.Equal(t, (len(feed)+99)/100, f.srv.Requests()["GET "+feedPath], "feed requests are counted under the feed's template")
}

func TestV2ChangesFilters(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	// A burst of changes sharing one changedAt, so > and >= differ by more than one record.
	burst := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	ws.SetClock(func() time.Time { return burst })
	made := ws.ChangeTrackedValues(rand.New(rand.NewPCG(7, 7)), 12)
	require.Len(t, made, 12)
	f := newFixture(t, ws)
	ws = f.srv.Snapshot()
	ws.Reindex()

	order := feedOrder(ws)
	pivot := order[len(order)/2].ChangedAt
	fd := ws.Field(made[0].FieldID)
	var entry, changer int64
	for _, c := range order {
		if c.ListEntryID != nil && entry == 0 {
			entry = *c.ListEntryID
		}
		if c.ChangerID != nil && *c.ChangerID != ws.User.ID && changer == 0 {
			changer = *c.ChangerID
		}
	}
	fid := V2FieldID(fd)
	for _, c := range []struct {
		name, filter string
		keep         func(c *FieldValueChange) bool
	}{
		{"after", "changedAt>" + pivot.Format(time.RFC3339Nano), func(c *FieldValueChange) bool { return c.ChangedAt.After(pivot) }},
		{"at or after, another offset", "changedAt>=" + pivot.In(time.FixedZone("", -7*3600)).Format(time.RFC3339Nano),
			func(c *FieldValueChange) bool { return !c.ChangedAt.Before(pivot) }},
		{"before", "changedAt<" + pivot.Format(time.RFC3339Nano), func(c *FieldValueChange) bool { return c.ChangedAt.Before(pivot) }},
		{"at or before", "changedAt<=" + pivot.Format(time.RFC3339Nano), func(c *FieldValueChange) bool { return !c.ChangedAt.After(pivot) }},
		{"the burst, >=", "changedAt>=" + burst.Format(time.RFC3339), func(c *FieldValueChange) bool { return !c.ChangedAt.Before(burst) }},
		{"after the burst", "changedAt>" + burst.Format(time.RFC3339), func(c *FieldValueChange) bool { return c.ChangedAt.After(burst) }},
		{"field", "field.id=" + fid, func(c *FieldValueChange) bool { return c.FieldID == fd.ID }},
		{"field, quoted", `field.id="` + fid + `"`, func(c *FieldValueChange) bool { return c.FieldID == fd.ID }},
		{"unknown field", "field.id=field-1", func(*FieldValueChange) bool { return false }},
		{"list entry", "listEntry.id=" + strconv.FormatInt(entry, 10),
			func(c *FieldValueChange) bool { return c.ListEntryID != nil && *c.ListEntryID == entry }},
		{"changer", "changer.id=" + strconv.FormatInt(changer, 10),
			func(c *FieldValueChange) bool { return c.ChangerID != nil && *c.ChangerID == changer }},
		{"add", "actionType=add", func(c *FieldValueChange) bool { return c.ActionType == ActionCreate }},
		{"update", "actionType=update", func(c *FieldValueChange) bool { return c.ActionType == ActionUpdate }},
		{"delete", "actionType=delete", func(c *FieldValueChange) bool { return c.ActionType == ActionDelete }},
		{"a window with &", "changedAt>=" + pivot.Format(time.RFC3339Nano) + " & changedAt<" + burst.Format(time.RFC3339Nano),
			func(c *FieldValueChange) bool { return !c.ChangedAt.Before(pivot) && c.ChangedAt.Before(burst) }},
		{"time and field with &", "changedAt>" + pivot.Format(time.RFC3339Nano) + "&field.id=" + fid,
			func(c *FieldValueChange) bool { return c.ChangedAt.After(pivot) && c.FieldID == fd.ID }},
		{"empty", "", func(*FieldValueChange) bool { return true }},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := wantChanges(ws, c.keep)
			got := changeIDs(t, f.v2All(feedURL("filter", c.filter, "limit", "100")))
			require.Equal(t, want, got, "filter %q", c.filter)
		})
	}
	// The cases above can tell the operators apart.
	n := func(keep func(c *FieldValueChange) bool) int { return len(wantChanges(ws, keep)) }
	require.Greater(t, n(func(c *FieldValueChange) bool { return !c.ChangedAt.Before(burst) }), 1+n(func(c *FieldValueChange) bool { return c.ChangedAt.After(burst) }))
	require.NotZero(t, n(func(c *FieldValueChange) bool { return c.ChangedAt.After(pivot) }))
	require.NotZero(t, n(func(c *FieldValueChange) bool { return c.ActionType == ActionDelete }))
	require.NotZero(t, n(func(c *FieldValueChange) bool { return c.ChangerID != nil && *c.ChangerID == changer }))
	require.NotZero(t, n(func(c *FieldValueChange) bool { return c.ListEntryID != nil && *c.ListEntryID == entry }))

	for _, bad := range []string{
		"changedAt>2026-10-01T00:00:00Z | field.id=field-1",
		"(changedAt>2026-10-01T00:00:00Z)",
		"changedAt=2026-10-01T00:00:00Z",
		"changedAt>yesterday",
		"changedAt>",
		"changedAt",
		"field.id>field-1",
		"field.id=~field",
		"listEntry.id=abc",
		"changer.id=1.5",
		"actionType=create",
		"entity.id=5",
		"changedAt>2026-10-01T00:00:00Z &",
		`field.id="field-1`,
	} {
		requireV2Error(t, f.v2(feedURL("filter", bad), http.StatusBadRequest), "validation", "filter")
	}
}

func TestV2ChangesOrderLimitCursor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	asc := changeIDs(t, f.v2All(feedURL("limit", "100")))
	require.Greater(t, len(asc), 250)
	desc := changeIDs(t, f.v2All(feedURL("limit", "100", "orderBy", "-changedAt")))
	require.Equal(t, asc, changeIDs(t, f.v2All(feedURL("limit", "100", "orderBy", "changedAt"))))
	slices.Reverse(desc)
	require.Equal(t, asc, desc, "-changedAt is the reverse order")
	requireV2Error(t, f.v2(feedURL("orderBy", "id"), http.StatusBadRequest), "validation", "orderBy")

	// No limit: 10 a page.
	env := f.v2Page(feedPath)
	require.Len(t, env.Data, V2ChangesDefaultLimit)
	require.NotNil(t, env.Pagination.NextURL)
	require.Nil(t, env.Pagination.PrevURL, "no prevUrl on the first page")
	require.Len(t, f.v2Page(feedURL("limit", "100")).Data, 100)
	require.Len(t, f.v2Page(feedURL("limit", "1")).Data, 1)
	for _, bad := range []string{"0", "101", "-1", "ten", ""} {
		requireV2Error(t, f.v2(feedURL("limit", bad), http.StatusBadRequest), "validation", "limit")
	}

	// nextUrl is absolute, keeps the params and adds the cursor; prevUrl goes back.
	first := f.v2Page(feedURL("limit", "7", "orderBy", "-changedAt", "filter", "actionType=update"))
	next, err := url.Parse(*first.Pagination.NextURL)
	require.NoError(t, err)
	require.Equal(t, f.url+feedPath, next.Scheme+"://"+next.Host+next.Path)
	require.Equal(t, "7", next.Query().Get("limit"))
	require.Equal(t, "-changedAt", next.Query().Get("orderBy"))
	require.Equal(t, "actionType=update", next.Query().Get("filter"))
	require.NotEmpty(t, next.Query().Get("cursor"))
	second := f.v2Page(*first.Pagination.NextURL)
	require.Len(t, second.Data, 7)
	require.NotNil(t, second.Pagination.PrevURL)
	require.Equal(t, changeIDs(t, first.Data), changeIDs(t, f.v2Page(*second.Pagination.PrevURL).Data))

	for _, bad := range []string{"bm90IGEgY3Vyc29y", "!!!", EncodeV2Cursor(V2Cursor{ID: 5})} {
		requireV2Error(t, f.v2(feedURL("cursor", bad), http.StatusBadRequest), "validation", "cursor")
	}

	// The last page has no nextUrl.
	last := f.v2Page(feedURL("limit", "100", "filter", "changedAt>2100-01-01T00:00:00Z"))
	require.Empty(t, last.Data)
	require.Nil(t, last.Pagination.NextURL)
}

func TestV2ChangesKeysetAcrossMutations(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	at := time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)
	ws.SetClock(func() time.Time { return at })
	first := ws.ChangeTrackedValues(rand.New(rand.NewPCG(1, 2)), 25)
	require.Len(t, first, 25)
	f := newFixture(t, ws)
	since := "changedAt>=" + at.Format(time.RFC3339)

	// 25 changes share one changedAt; pages of 10 cut through them.
	p1 := f.v2Page(feedURL("filter", since, "limit", "10"))
	require.Len(t, p1.Data, 10)
	for _, r := range p1.Data {
		require.Equal(t, "2026-11-05T12:00:00.000Z", r["changedAt"])
	}
	// Changes recorded between pages, at the same instant and later, are served once each.
	var later []ChangeMade
	f.srv.Mutate(func(w *Workspace) {
		later = w.ChangeTrackedValues(rand.New(rand.NewPCG(3, 4)), 5)
		at = at.Add(time.Second)
		later = append(later, w.ChangeTrackedValues(rand.New(rand.NewPCG(5, 6)), 5)...)
	})
	got := changeIDs(t, p1.Data)
	got = append(got, changeIDs(t, f.v2All(*p1.Pagination.NextURL))...)
	var want []int64
	for _, c := range slices.Concat(first, later) {
		want = append(want, c.ChangeID)
	}
	require.Len(t, got, 35)
	require.Equal(t, want, got, "each change once, by changedAt then id")
}

func TestV2ChangesModes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode   V2ChangesMode
		status int
		code   string
	}{{V2ChangesForbidden, http.StatusForbidden, "authorization"}, {V2ChangesNotFound, http.StatusNotFound, "not-found"}} {
		f := newFixture(t, Generate(DefaultConfig()), WithV2Changes(c.mode))
		requireV2Error(t, f.v2(feedURL("limit", "100"), c.status), c.code, "")
		f.v2("/v2/persons?limit=1", http.StatusOK) // the other v2 endpoints still answer
		f.get("/persons?page_size=1", http.StatusOK)
		require.Equal(t, 1, f.srv.Requests()["GET "+feedPath])
		f.srv.SetV2Changes(V2ChangesOK)
		f.v2(feedPath, http.StatusOK)
	}
	// The v2 mode covers the feed too.
	f := newFixture(t, Generate(DefaultConfig()), WithV2Mode(V2Forbidden))
	requireV2Error(t, f.v2(feedPath, http.StatusForbidden), "authorization", "")

	for _, s := range []string{"ok", "403", "404", "disagree"} {
		m, err := ParseV2ChangesMode(s)
		require.NoError(t, err)
		require.Equal(t, s, m.String())
	}
	_, err := ParseV2ChangesMode("sometimes")
	require.ErrorContains(t, err, "sometimes")
}

func TestV2ChangesDisagreeOnFirstRecordOfEachPage(t *testing.T) {
	t.Parallel()
	agree := newFixture(t, Generate(DefaultConfig()))
	differ := newFixture(t, Generate(DefaultConfig()), WithV2Changes(V2ChangesDisagree))
	ws := agree.srv.Snapshot()
	ws.Reindex()
	v1 := agree.v1History(ws)
	for _, query := range []string{feedURL("limit", "7"), feedURL("limit", "100", "orderBy", "-changedAt")} {
		pages, nextA, nextD := 0, query, query
		for nextA != "" {
			a, d := agree.v2Page(nextA), differ.v2Page(nextD)
			require.Equal(t, changeIDs(t, a.Data), changeIDs(t, d.Data))
			for i := range a.Data {
				id := idOfChange(t, a.Data[i])
				fd := ws.Field(int64(v1[id]["field_id"].(float64)))
				old := v1[id]["value"]
				typ := a.Data[i]["type"].(string)
				if i > 0 {
					require.Equal(t, a.Data[i], d.Data[i], "only the first record of a page differs")
					continue
				}
				aValue, dValue := a.Data[i]["value"], d.Data[i]["value"]
				delete(a.Data[i], "value")
				delete(d.Data[i], "value")
				require.Equal(t, a.Data[i], d.Data[i], "only the value differs")
				require.Equal(t, v1CanonOrNull(t, fd.ValueType, old), v2CanonOrNull(t, typ, aValue))
				require.NotEqual(t, v1CanonOrNull(t, fd.ValueType, old), v2CanonOrNull(t, typ, dValue),
					"record %d (%s) differs from v1", id, typ)
				var altered any
				require.NoError(t, json.Unmarshal(DisagreeV1Value(fd, rawValue(t, old)), &altered))
				require.Equal(t, v1Canon(t, fd.ValueType, altered), v2Canon(t, typ, dValue),
					"record %d (%s) is v1's value altered as DisagreeV1Value documents", id, typ)
			}
			pages++
			nextA, nextD = "", ""
			if a.Pagination.NextURL != nil {
				nextA = *a.Pagination.NextURL
				nextD = strings.Replace(*a.Pagination.NextURL, agree.url, differ.url, 1)
			}
		}
		require.Greater(t, pages, 3, query)
	}
}

// TestDisagreeV1Value pins the alteration of each tracked value type, null included.
func TestDisagreeV1Value(t *testing.T) {
	t.Parallel()
	opts := []DropdownOption{{ID: 31, Text: "Sourced", Rank: 0, Color: 1}, {ID: 32, Text: "Diligence", Rank: 1, Color: 3}}
	for _, c := range []struct {
		name      string
		f         Field
		v1, wantV string
	}{
		{"number", Field{ValueType: ValueNumber}, `41`, `42`},
		{"decimal", Field{ValueType: ValueNumber}, `2.5`, `3.5`},
		{"null number", Field{ValueType: ValueNumber}, `null`, `1`},
		{"person", Field{ValueType: ValuePerson, AllowsMultiple: true}, `100000123`, `100000124`},
		{"organization", Field{ValueType: ValueOrganization}, `7`, `8`},
		{"date", Field{ValueType: ValueDate}, `"2024-04-01T00:00:00.000-07:00"`, `"2024-04-01T01:00:00.000-07:00"`},
		{"null date", Field{ValueType: ValueDate}, `null`, `"1970-01-01T01:00:00.000Z"`},
		{"location", Field{ValueType: ValueLocation}, `{"street_address":null,"city":"Berlin","state":"Berlin","country":"Germany","continent":null}`,
			`{"street_address":null,"city":"Berlin (v2)","state":"Berlin","country":"Germany","continent":null}`},
		{"location without city", Field{ValueType: ValueLocation}, `null`,
			`{"street_address":null,"city":"(v2)","state":null,"country":null,"continent":null}`},
		{"ranked dropdown", Field{ValueType: ValueRankedDropdown, DropdownOptions: opts}, `{"id":31,"text":"Sourced","rank":0,"color":1}`,
			`{"id":32,"text":"Diligence","rank":1,"color":3}`},
		{"ranked dropdown wraps", Field{ValueType: ValueRankedDropdown, DropdownOptions: opts}, `{"id":32,"text":"Diligence","rank":1,"color":3}`,
			`{"id":31,"text":"Sourced","rank":0,"color":1}`},
		{"ranked dropdown, one option", Field{ValueType: ValueRankedDropdown, DropdownOptions: opts[:1]}, `{"id":31,"text":"Sourced","rank":0,"color":1}`,
			`{"id":32,"text":"Sourced","rank":0,"color":1}`},
		{"text", Field{ValueType: ValueText}, `"hello"`, `"hello (v2)"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.JSONEq(t, c.wantV, string(DisagreeV1Value(&c.f, json.RawMessage(c.v1))))
		})
	}
}

// TestV2ChangeValueShapes pins the v2 item each tracked value type is served as.
func TestV2ChangeValueShapes(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	ws.SetClock(func() time.Time { return time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC) })
	named := func(name string, entityType loader.EntityKind, list bool) *Field {
		for _, f := range ws.Fields {
			if f.Name == name && f.EntityType == entityType && (f.ListID != nil) == list {
				return f
			}
		}
		t.Fatalf("no field %s", name)
		return nil
	}
	person := ws.Persons[7]
	org := ws.Organizations[3]
	var opp *ListEntry
	for _, e := range ws.ListEntries {
		if e.EntityType == loader.EntityOpportunity {
			opp = e
			break
		}
	}
	require.NotNil(t, opp)
	status := named("Status", loader.EntityOpportunity, true)
	opt := status.DropdownOptions[2]
	personJSON := func(p *Person) string {
		return string(rawValue(t, map[string]any{"id": p.ID, "firstName": p.FirstName, "lastName": p.LastName,
			"primaryEmailAddress": p.PrimaryEmail, "type": personType(p)}))
	}
	for _, c := range []struct {
		name     string
		f        *Field
		entity   int64
		entry    *int64
		v1, want string
		typ      string
	}{
		{"person-multi", named("Referrers", loader.EntityPerson, false), person.ID, nil,
			strconv.FormatInt(ws.Persons[2].ID, 10), personJSON(ws.Persons[2]), "person-multi"},
		{"company", named("Employer", loader.EntityPerson, false), person.ID, nil,
			strconv.FormatInt(org.ID, 10), string(rawValue(t, map[string]any{"id": org.ID, "name": org.Name, "domain": org.Domain})), "company"},
		{"number", named("Potential Users", loader.EntityOrganization, false), org.ID, nil, `1234.5`, `1234.5`, "number"},
		{"null", named("Potential Users", loader.EntityOrganization, false), ws.Organizations[4].ID, nil, `null`, `null`, "number"},
		{"datetime", named("Birthday", loader.EntityPerson, false), person.ID, nil,
			`"1990-05-17T00:00:00.000-07:00"`, `"1990-05-17T07:00:00.000Z"`, "datetime"},
		{"location", named("Headquarters", loader.EntityOrganization, false), org.ID, nil,
			`{"street_address":"1 Main St","city":"Austin","state":"Texas","country":"United States","continent":null}`,
			`{"streetAddress":"1 Main St","city":"Austin","state":"Texas","country":"United States","continent":null}`, "location"},
		{"ranked-dropdown", status, opp.EntityID, &opp.ID, string(rankedJSON(opt)),
			fmt.Sprintf(`{"dropdownOptionId":%d,"text":%q,"rank":%d,"color":%q}`, opt.ID, opt.Text, opt.Rank, colorName(opt.Color)), "ranked-dropdown"},
		{"company-multi", named("Related Organizations", loader.EntityOpportunity, true), opp.EntityID, &opp.ID,
			strconv.FormatInt(org.ID, 10), string(rawValue(t, map[string]any{"id": org.ID, "name": org.Name, "domain": org.Domain})), "company-multi"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(ws.Changes)
			// Clear the cell first, so that setting the value records an add.
			ws.SetFieldValue(c.f.ID, c.entity, c.entry)
			ws.SetFieldValue(c.f.ID, c.entity, c.entry, json.RawMessage(c.v1))
			require.Greater(t, len(ws.Changes), before)
			id := ws.Changes[len(ws.Changes)-1].ID
			f := newFixture(t, ws.Snapshot())
			recs := f.v2All(feedURL("filter", "field.id="+V2FieldID(c.f)+" & actionType=add", "limit", "100"))
			i := slices.IndexFunc(recs, func(r map[string]any) bool { return idOfChange(t, r) == id })
			require.GreaterOrEqual(t, i, 0, "change %d is served", id)
			require.Equal(t, c.typ, recs[i]["type"])
			require.JSONEq(t, c.want, string(rawValue(t, recs[i]["value"])))
		})
	}
}

func TestChangeTrackedValues(t *testing.T) {
	t.Parallel()
	bench := Config{Seed: 3, Persons: 5_000, Organizations: 2_500, Opportunities: 250,
		PersonLists: 9, OrganizationLists: 9, OpportunityLists: 2, EntriesPerList: 70}
	for _, c := range []struct {
		name string
		cfg  Config
		n    int
	}{{"default", DefaultConfig(), 40}, {"bench shape", bench, 60}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			at := time.Date(2026, 11, 9, 8, 0, 0, 0, time.UTC)
			f := newFixture(t, Generate(c.cfg), WithClock(func() time.Time { return at }))
			before := f.srv.Snapshot()
			var made []ChangeMade
			f.srv.Mutate(func(w *Workspace) { made = w.ChangeTrackedValues(rand.New(rand.NewPCG(11, 12)), c.n) })
			require.Len(t, made, c.n)
			after := f.srv.Snapshot()
			require.Len(t, after.Changes, len(before.Changes)+c.n, "one change record each")

			entities := map[entityKey]bool{}
			actions := map[int]int{}
			ids := make([]int64, len(made))
			for i, m := range made {
				entities[entityKey{m.EntityType, m.EntityID}] = true
				actions[m.ActionType]++
				ids[i] = m.ChangeID
				fd := after.Field(m.FieldID)
				require.True(t, fd.TrackChanges)
				require.Equal(t, fd.ListID != nil, m.ListEntryID != nil)
				if m.ListEntryID != nil {
					e := after.ListEntry(*m.ListEntryID)
					require.Equal(t, *fd.ListID, e.ListID)
					require.Equal(t, m.EntityID, e.EntityID)
				}
				// v1 serves the change in the field's history, at the clock's instant.
				var rows []map[string]any
				f.getJSON(fmt.Sprintf("/field-value-changes?field_id=%d", m.FieldID), &rows)
				j := slices.IndexFunc(rows, func(r map[string]any) bool { return int64(r["id"].(float64)) == m.ChangeID })
				require.GreaterOrEqual(t, j, 0)
				require.Equal(t, "2026-11-09T08:00:00.000Z", rows[j]["changed_at"])
				require.EqualValues(t, m.ActionType, rows[j]["action_type"])
				require.EqualValues(t, m.EntityID, rows[j]["entity_id"])
			}
			require.Len(t, entities, c.n, "distinct entities")
			require.NotZero(t, actions[ActionUpdate])
			require.NotZero(t, actions[ActionCreate])
			// The feed serves exactly these changes since the clock's instant, over pages.
			got := changeIDs(t, f.v2All(feedURL("filter", "changedAt>="+at.Format(time.RFC3339), "limit", "25")))
			require.Equal(t, ids, got)
			// The same seed makes the same changes.
			again := Generate(c.cfg)
			again.SetClock(func() time.Time { return at })
			require.Equal(t, made, again.ChangeTrackedValues(rand.New(rand.NewPCG(11, 12)), c.n))
		})
	}
	// A workspace without tracked fields changes nothing.
	ws := Generate(DefaultConfig())
	for _, f := range ws.Fields {
		f.TrackChanges = false
	}
	require.Empty(t, ws.ChangeTrackedValues(rand.New(rand.NewPCG(1, 1)), 5))
}
