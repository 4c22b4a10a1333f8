package affinity_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// These tests read the v2 change feed (FieldValueChangesV2) from the fake API.

// feedFake is a fake server whose feed requests' query strings are recorded.
type feedFake struct {
	*fake
	mu      sync.Mutex
	queries []url.Values
}

func (f *feedFake) sent() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.queries...)
}

// startFeedFake serves ws (generated from fakeConfig when nil) and records every feed query.
func startFeedFake(t *testing.T, ws *affinitytest.Workspace, opts ...affinitytest.Option) *feedFake {
	t.Helper()
	if ws == nil {
		ws = affinitytest.Generate(fakeConfig())
	}
	srv := affinitytest.NewServer(ws, append([]affinitytest.Option{affinitytest.WithAPIKey(fakeKey)}, opts...)...)
	ff := &feedFake{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/field-value-changes" {
			ff.mu.Lock()
			ff.queries = append(ff.queries, r.URL.Query())
			ff.mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	ff.fake = &fake{srv: srv, url: hs.URL}
	return ff
}

// rawValues reads the feed from path to its end without the client: the JSON value of
// each change by id.
func (f *feedFake) rawValues(t *testing.T, path string) map[int64]json.RawMessage {
	t.Helper()
	out := map[int64]json.RawMessage{}
	next := f.url + path
	for next != "" {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, next, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+fakeKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var env struct {
			Data []struct {
				ID    int64           `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"data"`
			Pagination struct {
				NextURL *string `json:"nextUrl"`
			} `json:"pagination"`
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		_ = resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		for _, d := range env.Data {
			out[d.ID] = d.Value
		}
		next = ""
		if env.Pagination.NextURL != nil {
			next = *env.Pagination.NextURL
		}
	}
	return out
}

// changedWorkspace is fakeConfig's workspace with n more changes, all at one instant.
func changedWorkspace(t *testing.T, at time.Time, n int) (*affinitytest.Workspace, []affinitytest.ChangeMade) {
	t.Helper()
	ws := affinitytest.Generate(fakeConfig())
	ws.SetClock(func() time.Time { return at })
	made := ws.ChangeTrackedValues(rand.New(rand.NewPCG(5, 8)), n)
	require.Len(t, made, n)
	return ws, made
}

// readFeed runs FieldValueChangesV2 to its end and returns the pages.
func readFeed(t *testing.T, cl *affinity.Client, q affinity.V2ChangeQuery) []affinity.V2Page[affinity.V2FieldValueChange] {
	t.Helper()
	var pages []affinity.V2Page[affinity.V2FieldValueChange]
	for p, err := range cl.FieldValueChangesV2(t.Context(), q) {
		require.NoError(t, err)
		pages = append(pages, p)
	}
	return pages
}

func feedIDs(pages []affinity.V2Page[affinity.V2FieldValueChange]) []int64 {
	var out []int64
	for _, p := range pages {
		for _, c := range p.Items {
			out = append(out, c.ID)
		}
	}
	return out
}

func TestFieldValueChangesV2ReadsTheFeed(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)
	ws, made := changedWorkspace(t, at, 130)
	f := startFeedFake(t, ws)
	want := f.srv.Snapshot()
	want.Reindex()
	cl := f.client(t, &calls{})

	filter := "changedAt>=" + at.Format(affinity.V2ChangeFilterTime)
	pages := readFeed(t, cl, affinity.V2ChangeQuery{Filter: filter, Limit: 100})

	// A page of 100 and the remainder; the 130 changes share one changedAt, so the page
	// boundary falls among them, and each is returned once, in id order.
	require.Len(t, pages, 2)
	require.Len(t, pages[0].Items, 100)
	require.NotEmpty(t, pages[0].NextCursor)
	require.Len(t, pages[1].Items, 30)
	require.Empty(t, pages[1].NextCursor)
	ids := make([]int64, len(made))
	for i, m := range made {
		ids[i] = m.ChangeID
	}
	require.Equal(t, ids, feedIDs(pages))

	// The filter and the limit are sent; the second request is the nextUrl, with the cursor.
	sent := f.sent()
	require.Len(t, sent, 2)
	require.Equal(t, url.Values{"filter": {filter}, "limit": {"100"}}, sent[0])
	require.Equal(t, filter, sent[1].Get("filter"))
	require.Equal(t, "100", sent[1].Get("limit"))
	require.Equal(t, pages[0].NextCursor, sent[1].Get("cursor"))
	require.Equal(t, 2, f.srv.Requests()["GET /v2/field-value-changes"])

	// Every key is decoded; the value is kept as served.
	raw := f.rawValues(t, "/v2/field-value-changes?"+url.Values{"filter": {filter}, "limit": {"100"}}.Encode())
	require.Len(t, raw, len(made))
	byID := map[int64]affinitytest.ChangeMade{}
	for _, m := range made {
		byID[m.ChangeID] = m
	}
	actions := map[int]string{affinitytest.ActionCreate: "add", affinitytest.ActionDelete: "delete", affinitytest.ActionUpdate: "update"}
	kinds := map[bool]string{false: "global", true: "list"}
	for _, p := range pages {
		for _, c := range p.Items {
			m := byID[c.ID]
			fd := want.Field(m.FieldID)
			require.Equal(t, affinitytest.V2ValueType(fd), c.Type, "change %d", c.ID)
			require.Equal(t, actions[m.ActionType], c.ActionType)
			require.True(t, c.ChangedAt.Equal(at), "change %d at %s", c.ID, c.ChangedAt)
			require.Equal(t, affinity.V2ChangeField{ID: "field-" + strconv.FormatInt(fd.ID, 10),
				EntityType: fd.EntityType.V2EntryType(), Name: fd.Name, Type: kinds[fd.ListID != nil]}, c.Field)
			require.Equal(t, &affinity.V2Ref{ID: m.EntityID}, c.Entity)
			if m.ListEntryID == nil {
				require.Nil(t, c.ListEntry)
			} else {
				require.Equal(t, &affinity.V2ChangeEntry{ID: *m.ListEntryID, ListID: *fd.ListID}, c.ListEntry)
			}
			u := want.User
			require.Equal(t, &affinity.V2Changer{ID: u.ID, FirstName: &u.FirstName, LastName: &u.LastName, EmailAddress: &u.Email},
				c.Changer, "the key's user made the change")
			require.JSONEq(t, string(raw[c.ID]), string(c.Value), "change %d carries the value served", c.ID)
		}
	}
}

func TestFieldValueChangesV2PagesSmallAndOrdered(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)
	ws, made := changedWorkspace(t, at, 23)
	f := startFeedFake(t, ws)
	cl := f.client(t, &calls{})
	filter := "changedAt>=" + at.Format(affinity.V2ChangeFilterTime)

	pages := readFeed(t, cl, affinity.V2ChangeQuery{Filter: filter, Limit: 5, OrderBy: "-changedAt"})
	require.Len(t, pages, 5)
	var want []int64
	for i := len(made) - 1; i >= 0; i-- {
		want = append(want, made[i].ChangeID)
	}
	require.Equal(t, want, feedIDs(pages), "newest first, ties by id, each once over four page boundaries")
	sent := f.sent()
	require.Len(t, sent, 5)
	for _, q := range sent {
		require.Equal(t, "-changedAt", q.Get("orderBy"))
		require.Equal(t, "5", q.Get("limit"))
	}
}

func TestFieldValueChangesV2NeverSendsLimitOver100(t *testing.T) {
	t.Parallel()
	f := startFeedFake(t, nil)
	cl := f.client(t, &calls{})
	for _, c := range []struct {
		limit int
		sent  string
	}{{0, "100"}, {-3, "100"}, {101, "100"}, {500, "100"}, {100, "100"}, {1, "1"}, {42, "42"}} {
		before := len(f.sent())
		for _, err := range cl.FieldValueChangesV2(t.Context(), affinity.V2ChangeQuery{Limit: c.limit}) {
			require.NoError(t, err, "limit %d", c.limit)
			break // the first page is enough
		}
		sent := f.sent()
		require.Len(t, sent, before+1)
		require.Equal(t, c.sent, sent[before].Get("limit"), "limit %d", c.limit)
	}
}

func TestFieldValueChangesV2Refusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode   affinitytest.V2ChangesMode
		status int
		code   string
	}{
		{affinitytest.V2ChangesForbidden, http.StatusForbidden, "authorization"},
		{affinitytest.V2ChangesNotFound, http.StatusNotFound, "not-found"},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			t.Parallel()
			f := startFeedFake(t, nil, affinitytest.WithV2Changes(c.mode))
			cl := f.client(t, &calls{})
			n := 0
			for _, err := range cl.FieldValueChangesV2(t.Context(), affinity.V2ChangeQuery{Limit: 100}) {
				n++
				var apiErr *affinity.APIError
				require.True(t, errors.As(err, &apiErr), "error %v is an *APIError", err)
				require.Equal(t, c.status, apiErr.StatusCode)
				require.Equal(t, c.code, apiErr.Code)
				require.Equal(t, "/v2/field-value-changes", apiErr.Endpoint)
			}
			require.Equal(t, 1, n, "one error, then the sequence ends")
			require.Equal(t, 1, f.srv.Requests()["GET /v2/field-value-changes"], "a refusal is not retried")
		})
	}
	t.Run("invalid cursor", func(t *testing.T) {
		t.Parallel()
		f := startFeedFake(t, nil)
		cl := f.client(t, &calls{})
		var got error
		for _, err := range cl.FieldValueChangesV2(t.Context(), affinity.V2ChangeQuery{Cursor: "bm90IGEgY3Vyc29y", Limit: 100}) {
			got = err
		}
		require.True(t, affinity.IsInvalidCursor(got), "error %v", got)
		var apiErr *affinity.APIError
		require.True(t, errors.As(got, &apiErr))
		require.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		require.Equal(t, "cursor", apiErr.Param)
	})
	t.Run("bad filter", func(t *testing.T) {
		t.Parallel()
		f := startFeedFake(t, nil)
		cl := f.client(t, &calls{})
		var got error
		for _, err := range cl.FieldValueChangesV2(t.Context(), affinity.V2ChangeQuery{Filter: "changedAt=yesterday", Limit: 100}) {
			got = err
		}
		require.False(t, affinity.IsInvalidCursor(got), "no cursor was sent: %v", got)
		var apiErr *affinity.APIError
		require.True(t, errors.As(got, &apiErr), "error %v", got)
		require.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		require.Equal(t, "filter", apiErr.Param)
	})
}

// TestV2FieldValueChangeDecodesReferenceExample decodes the example page of the reference's
// section on the change feed.
func TestV2FieldValueChangeDecodesReferenceExample(t *testing.T) {
	t.Parallel()
	const page = `{"data":[{"id":71000042,"type":"ranked-dropdown","actionType":"update","changedAt":"2026-10-02T08:15:11Z",
  "field":{"id":"field-5001","entityType":"opportunity","name":"Status","type":"list"},
  "entity":{"id":9001},"listEntry":{"id":880001,"listId":401},
  "changer":{"id":11,"firstName":"Dana","lastName":"Lee","emailAddress":"dana@fund.example"},
  "value":{"referenceType":"entity","dropdownOptionId":31,"text":"Due Diligence","rank":3,"color":"blue"}}],
 "pagination":{"prevUrl":null,"nextUrl":null}}`
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(hs.Close)
	cl, err := affinity.NewClient(hs.URL, fakeKey, affinity.WithPerMinute(0))
	require.NoError(t, err)
	var got []affinity.V2FieldValueChange
	for p, err := range cl.FieldValueChangesV2(t.Context(), affinity.V2ChangeQuery{}) {
		require.NoError(t, err)
		got = append(got, p.Items...)
	}
	require.Len(t, got, 1)
	c := got[0]
	require.JSONEq(t, `{"referenceType":"entity","dropdownOptionId":31,"text":"Due Diligence","rank":3,"color":"blue"}`, string(c.Value))
	c.Value = nil
	require.Equal(t, affinity.V2FieldValueChange{
		ID: 71000042, Type: "ranked-dropdown", ActionType: "update",
		ChangedAt: time.Date(2026, 10, 2, 8, 15, 11, 0, time.UTC),
		Field:     affinity.V2ChangeField{ID: "field-5001", EntityType: "opportunity", Name: "Status", Type: "list"},
		Entity:    &affinity.V2Ref{ID: 9001},
		ListEntry: &affinity.V2ChangeEntry{ID: 880001, ListID: 401},
		Changer:   &affinity.V2Changer{ID: 11, FirstName: ptr("Dana"), LastName: ptr("Lee"), EmailAddress: ptr("dana@fund.example")},
	}, c)

	// A global field's change by the system: listEntry and changer null.
	var sys affinity.V2FieldValueChange
	require.NoError(t, json.Unmarshal([]byte(`{"id":1,"type":"number","actionType":"add","changedAt":"2026-10-02T08:15:11.250Z",
		"field":{"id":"field-7","entityType":"company","name":"Users","type":"global"},"entity":{"id":3},
		"listEntry":null,"changer":null,"value":12.5}`), &sys))
	require.Nil(t, sys.ListEntry)
	require.Nil(t, sys.Changer)
	require.Equal(t, "12.5", string(sys.Value))
	require.Equal(t, 250*time.Millisecond, time.Duration(sys.ChangedAt.Nanosecond()))
}
