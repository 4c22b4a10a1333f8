package affinitytest

import (
	"context"
	"encoding/json"
	"fmt"
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

func TestPageTokenRoundTrip(t *testing.T) {
	t.Parallel()
	// The token quoted by the reference decodes to the documented fields.
	doc, err := DecodePageToken("eyJwYXJhbXMiOnsidGVybSI6IiJ9LCJwYWdlX3NpemUiOjUsIm9mZnNldCI6MTB9")
	require.NoError(t, err)
	require.Equal(t, PageToken{Params: map[string]string{"term": ""}, PageSize: 5, Offset: 10}, doc)

	tok := PageToken{Params: map[string]string{"list_id": "247888"}, PageSize: 1, Offset: 3}
	s := EncodePageToken(tok)
	require.NotContains(t, s, "=")
	require.NotContains(t, s, "+")
	require.NotContains(t, s, "/")
	back, err := DecodePageToken(s)
	require.NoError(t, err)
	require.Equal(t, tok, back)

	// A token minted by the server carries the request's params, its page size and the offset.
	f := newFixture(t, Generate(DefaultConfig()))
	_, next := f.page("/persons?page_size=7&with_interaction_dates=true", "persons")
	require.NotNil(t, next)
	got, err := DecodePageToken(*next)
	require.NoError(t, err)
	require.Equal(t, PageToken{Params: map[string]string{"with_interaction_dates": "true"}, PageSize: 7, Offset: 7}, got)

	_, next = f.page("/lists/"+strconv.FormatInt(firstListOfType(t, f.srv.Snapshot(), loader.EntityPerson).ID, 10)+
		"/list-entries?page_size=2", "list_entries")
	require.NotNil(t, next)
	got, err = DecodePageToken(*next)
	require.NoError(t, err)
	require.Contains(t, got.Params, "list_id")
	require.Equal(t, 2, got.Offset)
}

func firstListOfType(t *testing.T, ws *Workspace, typ loader.EntityKind) *List {
	t.Helper()
	for _, l := range ws.Lists {
		if l.Type == typ {
			return l
		}
	}
	t.Fatalf("no list of type %d", typ)
	return nil
}

func TestPagingReturnsTheWorkspace(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	snap := f.srv.Snapshot()

	ids := func(items []map[string]any) []int64 {
		out := make([]int64, len(items))
		for i, m := range items {
			out[i] = idOf(t, m)
		}
		return out
	}
	var personIDs, orgIDs, oppIDs []int64
	for _, p := range snap.Persons {
		personIDs = append(personIDs, p.ID)
	}
	for _, o := range snap.Organizations {
		orgIDs = append(orgIDs, o.ID)
	}
	for _, o := range snap.Opportunities {
		oppIDs = append(oppIDs, o.ID)
	}
	for _, size := range []string{"", "1", "7", "100", "150", "500", "10000"} {
		q := url.Values{}
		if size != "" {
			q.Set("page_size", size)
		}
		require.Equal(t, personIDs, ids(f.all("/persons", "persons", q)), "page_size %q", size)
		require.Equal(t, orgIDs, ids(f.all("/organizations", "organizations", q)), "page_size %q", size)
		require.Equal(t, oppIDs, ids(f.all("/opportunities", "opportunities", q)), "page_size %q", size)
	}
	for _, l := range snap.Lists {
		var want []int64
		for _, e := range snap.ListEntries {
			if e.ListID == l.ID {
				want = append(want, e.ID)
			}
		}
		for _, size := range []string{"1", "20", "60", "500"} {
			got := ids(f.all("/lists/"+strconv.FormatInt(l.ID, 10)+"/list-entries", "list_entries", url.Values{"page_size": {size}}))
			require.Equal(t, want, got, "list %d page_size %s", l.ID, size)
		}
	}
}

func TestExactlyFullLastPageLeadsToAnEmptyPage(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Persons = 300
	f := newFixture(t, Generate(cfg))
	items, next := f.page("/persons?page_size=150", "persons")
	require.Len(t, items, 150)
	require.NotNil(t, next)
	items, next = f.page("/persons?page_size=150&page_token="+*next, "persons")
	require.Len(t, items, 150)
	require.NotNil(t, next, "a full last page still carries a token")
	items, next = f.page("/persons?page_size=150&page_token="+*next, "persons")
	require.Empty(t, items)
	require.Nil(t, next)

	// page_token without page_size: the next page uses the default size of 500.
	_, next = f.page("/persons?page_size=10", "persons")
	items, next = f.page("/persons?page_token="+*next, "persons")
	require.Len(t, items, 290)
	require.Nil(t, next)
}

func TestUnprocessable(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	_, next := f.page("/persons?page_size=5&term=a", "persons")
	require.NotNil(t, next)

	var tracked, untracked *Field
	for _, fl := range ws.Fields {
		if fl.TrackChanges && tracked == nil {
			tracked = fl
		}
		if !fl.TrackChanges && untracked == nil {
			untracked = fl
		}
	}
	p, o := ws.Persons[3].ID, ws.Organizations[0].ID
	cases := []struct {
		name, path, msg string
	}{
		{"changed params", "/persons?page_size=5&term=b&page_token=" + *next, "Invalid page_token variable"},
		{"dropped params", "/persons?page_size=5&page_token=" + *next, "Invalid page_token variable"},
		{"malformed token", "/persons?page_token=%21%21not-a-token", "Invalid page_token"},
		{"token not json", "/organizations?page_token=aGVsbG8", "Invalid page_token"},
		{"bad page size", "/persons?page_size=zero", "page_size"},
		{"field values without selector", "/field-values", "required"},
		{"field values with two selectors", fmt.Sprintf("/field-values?person_id=%d&organization_id=%d", p, o), "only one"},
		{"changes without field", fmt.Sprintf("/field-value-changes?person_id=%d", p), "field_id"},
		{"changes of an untracked field", fmt.Sprintf("/field-value-changes?field_id=%d", untracked.ID), "Tracking changes"},
		{"changes with two selectors", fmt.Sprintf("/field-value-changes?field_id=%d&person_id=%d&organization_id=%d", tracked.ID, p, o), "only one"},
		{"changes with bad action", fmt.Sprintf("/field-value-changes?field_id=%d&action_type=7", tracked.ID), "action_type"},
	}
	for _, c := range cases {
		r := f.get(c.path, http.StatusUnprocessableEntity)
		var body struct{ Errors []string }
		require.NoError(t, json.Unmarshal(r.body, &body), c.name)
		require.Len(t, body.Errors, 1, c.name)
		require.Contains(t, body.Errors[0], c.msg, c.name)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	for _, c := range []struct {
		name, auth string
		status     int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong basic", basic("", "nope"), http.StatusUnauthorized},
		{"wrong bearer", "Bearer nope", http.StatusUnauthorized},
		{"key as user", basic(testKey, ""), http.StatusUnauthorized},
		{"garbage basic", "Basic !!!", http.StatusUnauthorized},
		{"basic, empty user", basic("", testKey), http.StatusOK},
		{"basic, any user", basic("someone", testKey), http.StatusOK},
		{"bearer", "Bearer " + testKey, http.StatusOK},
	} {
		r := f.do("/auth/whoami", c.auth)
		require.Equal(t, c.status, r.status, c.name)
		require.NotContains(t, string(r.body), testKey, c.name)
		require.NotEmpty(t, r.header.Get("X-Ratelimit-Limit-User"), c.name)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	entry := ws.ListEntries[0]
	for _, path := range []string{
		"/persons/1", "/organizations/1", "/opportunities/1", "/lists/1", "/lists/1/list-entries",
		fmt.Sprintf("/lists/%d/list-entries/1", entry.ListID),
		fmt.Sprintf("/lists/%d/list-entries/%d", entry.ListID+1, entry.ID), // entry of another list
		"/nope", "/persons/abc", "/field-values?person_id=1", "/field-value-changes?field_id=1",
	} {
		r := f.get(path, http.StatusNotFound)
		var body struct{ Errors []string }
		require.NoError(t, json.Unmarshal(r.body, &body), path)
		require.NotEmpty(t, body.Errors, path)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.url+"/persons", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, 1, f.srv.Requests()["POST /persons"])
}

func TestListEntriesEnvelopeOrBareArray(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	l := firstListOfType(t, ws, loader.EntityOrganization)
	base := "/lists/" + strconv.FormatInt(l.ID, 10) + "/list-entries"

	var bare []map[string]any
	f.getJSON(base, &bare)
	require.Len(t, bare, ws.ListSize(l.ID))
	// page_token without page_size is ignored: the whole bare array again.
	tok := EncodePageToken(PageToken{Params: map[string]string{"list_id": "1"}, PageSize: 1, Offset: 5})
	var again []map[string]any
	f.getJSON(base+"?page_token="+tok, &again)
	require.Equal(t, bare, again)

	items, next := f.page(base+"?page_size=10", "list_entries")
	require.Len(t, items, 10)
	require.NotNil(t, next)
	require.Equal(t, bare[:10], items)
	ent := items[0]["entity"].(map[string]any)
	require.ElementsMatch(t, []string{"id", "name", "domain", "domains", "crunchbase_uuid", "global"}, keys(ent))

	// the same entity twice on a list, with distinct entry ids
	require.Equal(t, bare[0]["entity_id"], bare[1]["entity_id"])
	require.NotEqual(t, bare[0]["id"], bare[1]["id"])

	opp := firstListOfType(t, ws, loader.EntityOpportunity)
	var oppEntries []map[string]any
	f.getJSON("/lists/"+strconv.FormatInt(opp.ID, 10)+"/list-entries", &oppEntries)
	require.NotEmpty(t, oppEntries)
	require.ElementsMatch(t, []string{"id", "name"}, keys(oppEntries[0]["entity"].(map[string]any)))

	e := ws.EntriesOf(l.ID)[3]
	var one map[string]any
	f.getJSON(fmt.Sprintf("%s/%d", base, e.ID), &one)
	require.EqualValues(t, e.ID, one["id"])
	require.EqualValues(t, e.EntityID, one["entity_id"])
	require.Contains(t, one, "entity")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		if k != "x_extra" {
			out = append(out, k)
		}
	}
	return out
}

func TestWithInteractionDatesDropsEntitiesWithout(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	var want []int64
	for _, p := range ws.Persons {
		if p.Interactions != nil {
			want = append(want, p.ID)
		}
	}
	require.Less(t, len(want), len(ws.Persons), "some persons must have no interactions")
	got := f.all("/persons", "persons", url.Values{"with_interaction_dates": {"true"}, "page_size": {"40"}})
	require.Len(t, got, len(want))
	for i, m := range got {
		require.Equal(t, want[i], idOf(t, m))
		dates := m["interaction_dates"].(map[string]any)
		require.Len(t, dates, 7)
		require.Contains(t, dates, "last_interaction_date")
		inter := m["interactions"].(map[string]any)
		require.Len(t, inter, 7)
		for k, v := range inter {
			if v == nil {
				require.Nil(t, dates[k+"_date"])
				continue
			}
			require.Equal(t, dates[k+"_date"], v.(map[string]any)["date"])
			require.NotContains(t, v, "person_ids")
		}
	}
	var orgs []map[string]any
	orgs = f.all("/organizations", "organizations", url.Values{"with_interaction_dates": {"true"}, "with_interaction_persons": {"true"}})
	n := 0
	for _, o := range ws.Organizations {
		if o.Interactions != nil {
			n++
		}
	}
	require.Len(t, orgs, n)
	li := orgs[0]["interactions"].(map[string]any)["last_interaction"].(map[string]any)
	require.Contains(t, li, "person_ids")
}

func TestSingleGetOnlyKeys(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	persons, _ := f.page("/persons?page_size=50", "persons")
	for _, p := range persons {
		require.NotContains(t, p, "organization_ids")
		require.NotContains(t, p, "list_entries")
		require.NotContains(t, p, "interaction_dates")
	}
	orgs, _ := f.page("/organizations?page_size=50", "organizations")
	for _, o := range orgs {
		require.NotContains(t, o, "person_ids")
		require.NotContains(t, o, "list_entries")
	}
	// a person on a list
	e := ws.EntriesOf(firstListOfType(t, ws, loader.EntityPerson).ID)[0]
	var p map[string]any
	f.getJSON(fmt.Sprintf("/persons/%d", e.EntityID), &p)
	require.Contains(t, p, "organization_ids")
	entries := p["list_entries"].([]any)
	require.GreaterOrEqual(t, len(entries), 2, "the first entity of a list is on it twice")
	require.ElementsMatch(t, []string{"id", "list_id", "creator_id", "entity_id", "entity_type", "created_at"},
		keys(entries[0].(map[string]any)))

	oe := ws.EntriesOf(firstListOfType(t, ws, loader.EntityOrganization).ID)[0]
	var o map[string]any
	f.getJSON(fmt.Sprintf("/organizations/%d?with_opportunities=true", oe.EntityID), &o)
	require.Contains(t, o, "person_ids")
	require.Contains(t, o, "opportunity_ids")
	require.NotEmpty(t, o["list_entries"])

	// opportunities carry their associations in search and single GET alike
	opps, _ := f.page("/opportunities?page_size=5", "opportunities")
	var one map[string]any
	f.getJSON(fmt.Sprintf("/opportunities/%d", idOf(t, opps[0])), &one)
	require.Equal(t, opps[0], one)
	require.Len(t, one["list_entries"], 1)
}

func TestFieldValuesCoverTheWorkspace(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	seen := map[int64]bool{}
	fetch := func(path string) {
		var vals []map[string]any
		f.getJSON(path, &vals)
		for _, v := range vals {
			id := idOf(t, v)
			require.False(t, seen[id], "value %d twice", id)
			seen[id] = true
		}
	}
	for _, p := range ws.Persons {
		fetch(fmt.Sprintf("/field-values?person_id=%d", p.ID))
	}
	for _, o := range ws.Organizations {
		fetch(fmt.Sprintf("/field-values?organization_id=%d", o.ID))
	}
	for _, o := range ws.Opportunities {
		fetch(fmt.Sprintf("/field-values?opportunity_id=%d", o.ID))
	}
	require.Len(t, seen, len(ws.FieldValues))

	e := ws.ListEntries[len(ws.ListEntries)-1]
	var vals []map[string]any
	f.getJSON(fmt.Sprintf("/field-values?list_entry_id=%d", e.ID), &vals)
	for _, v := range vals {
		require.EqualValues(t, e.ID, v["list_entry_id"])
	}
}

func TestFieldValueChanges(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	status := ws.Fields[slices.IndexFunc(ws.Fields, func(fl *Field) bool { return fl.Name == "Status" && fl.ListID != nil })]
	var all []map[string]any
	f.getJSON(fmt.Sprintf("/field-value-changes?field_id=%d", status.ID), &all)
	var want int
	for _, c := range ws.Changes {
		if c.FieldID == status.ID {
			want++
		}
	}
	require.Len(t, all, want)
	require.NotEmpty(t, all)

	var creates []map[string]any
	f.getJSON(fmt.Sprintf("/field-value-changes?field_id=%d&action_type=0", status.ID), &creates)
	for _, c := range creates {
		require.EqualValues(t, ActionCreate, c["action_type"])
	}
	require.Less(t, len(creates), len(all))

	entryID := int64(all[0]["list_entry_id"].(float64))
	var byEntry []map[string]any
	f.getJSON(fmt.Sprintf("/field-value-changes?field_id=%d&list_entry_id=%d", status.ID, entryID), &byEntry)
	require.NotEmpty(t, byEntry)
	e := ws.ListEntry(entryID)
	for _, c := range byEntry {
		require.EqualValues(t, e.EntityID, c["entity_id"])
	}
	if ch, ok := all[0]["changer"].(map[string]any); ok {
		require.ElementsMatch(t, []string{"id", "type", "first_name", "last_name", "primary_email", "emails"}, keys(ch))
	}
}

func TestRateLimitHeadersAndEndpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	r := f.get("/lists", http.StatusOK)
	for _, h := range []string{"X-Ratelimit-Limit-User", "X-Ratelimit-Limit-User-Remaining", "X-Ratelimit-Limit-User-Reset",
		"X-Ratelimit-Limit-Org", "X-Ratelimit-Limit-Org-Remaining", "X-Ratelimit-Limit-Org-Reset"} {
		require.NotEmpty(t, r.header.Get(h), h)
	}
	require.Equal(t, "900", r.header.Get("X-Ratelimit-Limit-User"))
	require.Equal(t, "unlimited", r.header.Get("X-Ratelimit-Limit-Org"))
	require.Equal(t, "unlimited", r.header.Get("X-Ratelimit-Limit-Org-Remaining"))
	_, err := strconv.Atoi(r.header.Get("X-Ratelimit-Limit-Org-Reset"))
	require.NoError(t, err)
	// also on errors
	r = f.get("/persons/1", http.StatusNotFound)
	require.NotEmpty(t, r.header.Get("X-Ratelimit-Limit-User-Remaining"))

	var rl struct {
		Rate map[string]map[string]any
	}
	f.getJSON("/rate-limit", &rl)
	require.Equal(t, "unlimited", rl.Rate["org_monthly"]["limit"])
	require.Equal(t, "unlimited", rl.Rate["org_monthly"]["remaining"])
	require.EqualValues(t, 2, rl.Rate["org_monthly"]["used"], "/rate-limit is not counted monthly")
	require.EqualValues(t, 900, rl.Rate["api_key_per_minute"]["limit"])
}

func TestPerMinuteLimit(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 5, 5, 10, 0, 10, 0, time.UTC)}
	f := newFixture(t, Generate(DefaultConfig()), WithPerMinuteLimit(3), WithClock(c.now))
	for i := range 3 {
		r := f.get("/lists", http.StatusOK)
		require.Equal(t, strconv.Itoa(2-i), r.header.Get("X-Ratelimit-Limit-User-Remaining"))
		require.Equal(t, "50", r.header.Get("X-Ratelimit-Limit-User-Reset"))
		require.Equal(t, "3", r.header.Get("X-Ratelimit-Limit-User"))
	}
	r := f.get("/lists", http.StatusTooManyRequests)
	require.Equal(t, "0", r.header.Get("X-Ratelimit-Limit-User-Remaining"))
	f.get("/rate-limit", http.StatusTooManyRequests)
	c.advance(40 * time.Second)
	r = f.get("/lists", http.StatusTooManyRequests)
	require.Equal(t, "10", r.header.Get("X-Ratelimit-Limit-User-Reset"))
	c.advance(10 * time.Second)
	f.get("/lists", http.StatusOK)
}

func TestMonthlyLimit(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 5, 31, 23, 59, 0, 0, time.UTC)}
	f := newFixture(t, Generate(DefaultConfig()), WithMonthlyLimit(2), WithClock(c.now))
	r := f.get("/lists", http.StatusOK)
	require.Equal(t, "2", r.header.Get("X-Ratelimit-Limit-Org"))
	require.Equal(t, "1", r.header.Get("X-Ratelimit-Limit-Org-Remaining"))
	require.Equal(t, "60", r.header.Get("X-Ratelimit-Limit-Org-Reset"))
	f.get("/fields", http.StatusOK)
	f.get("/persons", http.StatusTooManyRequests)
	f.get("/auth/whoami", http.StatusOK)
	var rl struct {
		Rate map[string]map[string]any
	}
	f.getJSON("/rate-limit", &rl)
	require.EqualValues(t, 2, rl.Rate["org_monthly"]["limit"])
	require.EqualValues(t, 0, rl.Rate["org_monthly"]["remaining"])
	require.EqualValues(t, 2, rl.Rate["org_monthly"]["used"])
	c.advance(time.Minute) // a new month
	f.get("/persons", http.StatusOK)
}

func TestFailNextAndFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	f.srv.FailNext("GET /persons", http.StatusServiceUnavailable, 2)
	f.get("/persons", http.StatusServiceUnavailable)
	f.get("/organizations", http.StatusOK)
	r := f.get("/persons", http.StatusServiceUnavailable)
	require.Contains(t, string(r.body), `"errors"`)
	f.get("/persons", http.StatusOK)

	f.srv.FailNext("GET /persons/{id}", http.StatusTooManyRequests, 1)
	r = f.get("/persons/1", http.StatusTooManyRequests)
	require.Equal(t, "1", r.header.Get("X-Ratelimit-Limit-User-Reset"))

	f.srv.SetFaults(Faults{Seed: 3, Rate500: 1, Endpoints: []string{"GET /lists"}})
	f.get("/lists", http.StatusInternalServerError)
	f.get("/fields", http.StatusOK)

	f.srv.SetFaults(Faults{Seed: 3, Rate429: 1, RetryAfter: true})
	r = f.get("/fields", http.StatusTooManyRequests)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Equal(t, "1", r.header.Get("X-Ratelimit-Limit-User-Reset"))

	f.srv.SetFaults(Faults{Seed: 3, RateTruncate: 1})
	r = f.get("/lists", http.StatusOK)
	var v any
	require.Error(t, json.Unmarshal(r.body, &v), "a truncated body must not decode")

	f.srv.SetFaults(Faults{Seed: 3, RateReset: 1})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.url+"/lists", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "a reset connection gives a transport error")

	// a mix: roughly the configured share, deterministic for the seed
	f.srv.SetFaults(Faults{Seed: 9, Rate503: 0.5, Endpoints: []string{"GET /fields"}})
	var statuses []int
	for range 40 {
		statuses = append(statuses, f.do("/fields", "Bearer "+testKey).status)
	}
	f.srv.SetFaults(Faults{Seed: 9, Rate503: 0.5, Endpoints: []string{"GET /fields"}})
	for i := range 40 {
		require.Equal(t, statuses[i], f.do("/fields", "Bearer "+testKey).status)
	}
	require.Contains(t, statuses, http.StatusServiceUnavailable)
	require.Contains(t, statuses, http.StatusOK)
	f.srv.SetFaults(Faults{})
	f.get("/fields", http.StatusOK)
}

func TestRequestCounters(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	f.get("/persons", http.StatusOK)
	f.get(fmt.Sprintf("/persons/%d", ws.Persons[0].ID), http.StatusOK)
	f.get(fmt.Sprintf("/persons/%d", ws.Persons[1].ID), http.StatusOK)
	f.get("/persons/fields", http.StatusOK)
	f.get(fmt.Sprintf("/lists/%d/list-entries/%d", ws.ListEntries[0].ListID, ws.ListEntries[0].ID), http.StatusOK)
	f.do("/lists", "") // unauthorized requests count too
	require.Equal(t, map[string]int{
		"GET /persons": 1, "GET /persons/{id}": 2, "GET /persons/fields": 1,
		"GET /lists/{id}/list-entries/{id}": 1, "GET /lists": 1,
	}, f.srv.Requests())
	require.Equal(t, 6, f.srv.TotalRequests())
	f.srv.ResetCounters()
	require.Empty(t, f.srv.Requests())
	require.Zero(t, f.srv.TotalRequests())
}

func TestLatencyHonoursCancellation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()), WithLatency(time.Hour))
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/lists", nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Seed = 42
	a := newFixture(t, Generate(cfg))
	b := newFixture(t, Generate(cfg))
	cfg.Seed = 43
	c := newFixture(t, Generate(cfg))
	ws := a.srv.Snapshot()
	paths := []string{"/persons", "/organizations?with_interaction_dates=true", "/opportunities", "/lists", "/fields",
		"/auth/whoami", fmt.Sprintf("/lists/%d/list-entries", ws.Lists[0].ID),
		fmt.Sprintf("/field-values?person_id=%d", ws.Persons[5].ID)}
	differs := false
	for _, p := range paths {
		ra, rb := a.get(p, http.StatusOK), b.get(p, http.StatusOK)
		require.Equal(t, string(ra.body), string(rb.body), p)
		if string(c.do(p, "Bearer "+testKey).body) != string(ra.body) {
			differs = true
		}
	}
	require.True(t, differs, "another seed gives another workspace")
}

func TestGenerateLarge(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Persons, cfg.Organizations, cfg.Opportunities = 100_000, 20_000, 2_000
	cfg.EntriesPerList = 5_000
	ws := Generate(cfg)
	require.Len(t, ws.Persons, 100_000)
	require.True(t, slices.IsSortedFunc(ws.Persons, func(a, b *Person) int { return int(a.ID - b.ID) }))
	require.Less(t, ws.Persons[len(ws.Persons)-1].ID, int64(1_000_000_000), "person ids keep 9 digits")
	f := newFixture(t, ws)
	items, next := f.page("/persons?page_size=500&page_token="+EncodePageToken(PageToken{PageSize: 500, Offset: 99_800}), "persons")
	require.Len(t, items, 200)
	require.Nil(t, next)
}

func TestIDsAreUniqueAndSized(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	digits := func(n int64) int { return len(strconv.FormatInt(n, 10)) }
	seen := map[int64]string{}
	for _, p := range ws.Persons {
		require.Equal(t, 9, digits(p.ID))
		seen[p.ID] = "person"
	}
	for _, o := range ws.Organizations {
		require.Equal(t, 8, digits(o.ID))
		require.Empty(t, seen[o.ID])
		seen[o.ID] = "organization"
	}
	for _, o := range ws.Opportunities {
		require.Empty(t, seen[o.ID])
	}
	sorted := func(n int, id func(int) int64) {
		for i := 1; i < n; i++ {
			require.Less(t, id(i-1), id(i))
		}
	}
	sorted(len(ws.Persons), func(i int) int64 { return ws.Persons[i].ID })
	sorted(len(ws.Organizations), func(i int) int64 { return ws.Organizations[i].ID })
	sorted(len(ws.Opportunities), func(i int) int64 { return ws.Opportunities[i].ID })
	sorted(len(ws.Lists), func(i int) int64 { return ws.Lists[i].ID })
	sorted(len(ws.ListEntries), func(i int) int64 { return ws.ListEntries[i].ID })
	sorted(len(ws.Fields), func(i int) int64 { return ws.Fields[i].ID })
	sorted(len(ws.FieldValues), func(i int) int64 { return ws.FieldValues[i].ID })
	sorted(len(ws.Changes), func(i int) int64 { return ws.Changes[i].ID })
	for i := 1; i < len(ws.Changes); i++ {
		require.False(t, ws.Changes[i].ChangedAt.Before(ws.Changes[i-1].ChangedAt), "change ids grow with changed_at")
	}
	require.True(t, strings.HasPrefix(formatTime(ws.ListEntries[0].CreatedAt), "20"))
}
