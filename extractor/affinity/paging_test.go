package affinity

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

// pagedPersons serves GET /persons from a fixed map of token → body and records the raw
// query of every request.
type pagedPersons struct {
	mu      sync.Mutex
	queries []string
	bodies  map[string]string // page_token ("" = first) → body
}

func (p *pagedPersons) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !checkAuth(w, r) {
		return
	}
	p.mu.Lock()
	p.queries = append(p.queries, r.URL.RawQuery)
	p.mu.Unlock()
	body, ok := p.bodies[r.URL.Query().Get("page_token")]
	if !ok {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"errors":["Invalid page_token variable"]}`))
		return
	}
	_, _ = w.Write([]byte(body))
}

func personsBody(next string, ids ...int) string {
	items := make([]string, len(ids))
	for i, id := range ids {
		items[i] = fmt.Sprintf(`{"id":%d,"type":0,"first_name":"P%d","last_name":null,"primary_email":null,"emails":[]}`, id, id)
	}
	tok := "null"
	if next != "" {
		tok = `"` + next + `"`
	}
	return fmt.Sprintf(`{"persons":[%s],"next_page_token":%s,"unknown_key":{"x":[1,2]}}`, strings.Join(items, ","), tok)
}

func threePages() *pagedPersons {
	return &pagedPersons{bodies: map[string]string{
		"":   personsBody("t2", 1, 2),
		"t2": personsBody("t3", 3, 4),
		"t3": personsBody("t4"), // an empty page that still carries a token is followed
		"t4": personsBody("", 5),
	}}
}

func TestPersonsPagesToTheEnd(t *testing.T) {
	t.Parallel()
	srv := threePages()
	c, _ := newTestClient(t, srv)

	var tokens, nexts []string
	var ids []int64
	for p, err := range c.Persons(t.Context(), PersonQuery{PageQuery: PageQuery{PageSize: 2}, WithInteractionDates: true}) {
		require.NoError(t, err)
		tokens = append(tokens, p.Token)
		nexts = append(nexts, p.NextToken)
		for _, person := range p.Items {
			ids = append(ids, person.ID)
		}
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5}, ids)
	require.Equal(t, []string{"", "t2", "t3", "t4"}, tokens)
	require.Equal(t, []string{"t2", "t3", "t4", ""}, nexts)
	require.Equal(t, []string{
		"page_size=2&with_interaction_dates=true",
		"page_size=2&page_token=t2&with_interaction_dates=true",
		"page_size=2&page_token=t3&with_interaction_dates=true",
		"page_size=2&page_token=t4&with_interaction_dates=true",
	}, srv.queries)
}

func TestPersonsResumeFromToken(t *testing.T) {
	t.Parallel()
	srv := threePages()
	c, _ := newTestClient(t, srv)
	var ids []int64
	var first Page[Person]
	for p, err := range c.Persons(t.Context(), PersonQuery{PageQuery: PageQuery{PageToken: "t2"}}) {
		require.NoError(t, err)
		if first.Token == "" {
			first = p
		}
		for _, person := range p.Items {
			ids = append(ids, person.ID)
		}
	}
	require.Equal(t, "t2", first.Token)
	require.Equal(t, []int64{3, 4, 5}, ids)
	require.Equal(t, "page_size=500&page_token=t2", srv.queries[0])
}

func TestPageSizeClamped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size int
		want string
	}{{0, "page_size=500"}, {-3, "page_size=500"}, {501, "page_size=500"}, {500, "page_size=500"}, {7, "page_size=7"}} {
		srv := &pagedPersons{bodies: map[string]string{"": `{"opportunities":[],"next_page_token":null}`}}
		c, _ := newTestClient(t, srv)
		for _, err := range c.Opportunities(t.Context(), PageQuery{PageSize: tc.size}) {
			require.NoError(t, err)
		}
		require.Equal(t, tc.want, srv.queries[0], "size %d", tc.size)
	}
}

func TestPagesStopWhenConsumerStops(t *testing.T) {
	t.Parallel()
	srv := threePages()
	c, _ := newTestClient(t, srv)
	for p, err := range c.Persons(t.Context(), PersonQuery{}) {
		require.NoError(t, err)
		require.Len(t, p.Items, 2)
		break
	}
	require.Len(t, srv.queries, 1)
}

func TestPagesErrorEndsIteration(t *testing.T) {
	t.Parallel()
	srv := threePages()
	c, _ := newTestClient(t, srv)
	var errs []error
	var pages int
	for p, err := range c.Persons(t.Context(), PersonQuery{PageQuery: PageQuery{PageToken: "stale"}}) {
		if err != nil {
			errs = append(errs, err)
			require.Equal(t, "stale", p.Token)
			continue
		}
		pages++
	}
	require.Zero(t, pages)
	require.Len(t, errs, 1)
	var apiErr *APIError
	require.ErrorAs(t, errs[0], &apiErr)
	require.Equal(t, http.StatusUnprocessableEntity, apiErr.StatusCode)
	require.Contains(t, apiErr.Body, "Invalid page_token variable")
	require.False(t, IsMerged(errs[0]), "a 422 on a listing is not a merge")
}

func TestPagesRepeatedTokenIsAnError(t *testing.T) {
	t.Parallel()
	srv := &pagedPersons{bodies: map[string]string{"": personsBody("loop", 1), "loop": personsBody("loop", 2)}}
	c, _ := newTestClient(t, srv)
	var lastErr error
	n := 0
	for _, err := range c.Persons(t.Context(), PersonQuery{}) {
		n++
		lastErr = err
	}
	require.Equal(t, 2, n)
	require.ErrorContains(t, lastErr, "same page token")
}

func TestListEntriesEnvelope(t *testing.T) {
	t.Parallel()
	entry := func(id int) string {
		return fmt.Sprintf(`{"id":%d,"list_id":9,"creator_id":null,"entity_id":%d,"entity_type":1,`+
			`"created_at":"2024-03-10T08:00:00.000-08:00","entity":{"id":%d,"name":"Org"}}`, id, id+100, id+100)
	}
	s := &scripted{steps: []http.HandlerFunc{
		respond(200, `{"list_entries":[`+entry(1)+`,`+entry(2)+`],"next_page_token":"n"}`),
		respond(200, `{"list_entries":[`+entry(3)+`],"next_page_token":""}`),
	}}
	c, _ := newTestClient(t, s)
	var got []int64
	for p, err := range c.ListEntries(t.Context(), 9, PageQuery{PageSize: 2}) {
		require.NoError(t, err)
		for _, e := range p.Items {
			require.Nil(t, e.CreatorID)
			require.Equal(t, loader.EntityOrganization, *e.EntityType)
			got = append(got, e.ID)
		}
	}
	require.Equal(t, []int64{1, 2, 3}, got)
	require.EqualValues(t, 2, s.hits.Load(), `"" as next_page_token ends the listing`)
}
