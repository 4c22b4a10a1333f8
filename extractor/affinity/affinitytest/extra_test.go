package affinitytest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

func TestSearchTermAndDateFilters(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)

	var want []int64
	for _, p := range ws.Persons {
		if p.LastName != nil && strings.Contains(strings.ToLower(*p.LastName), "berg") {
			want = append(want, p.ID)
			continue
		}
		if p.FirstName != nil && strings.Contains(strings.ToLower(*p.FirstName), "berg") {
			want = append(want, p.ID)
		}
	}
	require.NotEmpty(t, want)
	var got []int64
	for _, m := range f.all("/persons", "persons", url.Values{"term": {"BERG"}, "page_size": {"3"}}) {
		got = append(got, idOf(t, m))
	}
	require.Equal(t, want, got)

	cut := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	want = nil
	for _, o := range ws.Organizations {
		if o.Interactions != nil && o.Interactions.LastInteraction != nil && !o.Interactions.LastInteraction.Before(cut) {
			want = append(want, o.ID)
		}
	}
	got = nil
	for _, m := range f.all("/organizations", "organizations", url.Values{"min_last_interaction_date": {"2024-01-01"}}) {
		got = append(got, idOf(t, m))
	}
	require.Equal(t, want, got)
	f.get("/organizations?max_first_email_date=yesterday", http.StatusUnprocessableEntity)

	opp := ws.Opportunities[0]
	items, _ := f.page("/opportunities?term="+url.QueryEscape(strings.ToUpper(opp.Name)), "opportunities")
	require.NotEmpty(t, items)
	require.Equal(t, opp.Name, items[0]["name"])
}

func TestFieldsEndpointFilters(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	var all []map[string]any
	f.getJSON("/fields", &all)
	require.Len(t, all, len(ws.Fields))

	l := firstListOfType(t, ws, loader.EntityOrganization)
	var byList []map[string]any
	f.getJSON(fmt.Sprintf("/fields?list_id=%d&with_modified_names=true&exclude_dropdown_options=true", l.ID), &byList)
	require.NotEmpty(t, byList)
	for _, fl := range byList {
		require.EqualValues(t, l.ID, fl["list_id"])
		require.True(t, strings.HasPrefix(fl["name"].(string), "["+l.Name+"] "))
		require.NotContains(t, fl, "dropdown_options")
	}
	var ranked []map[string]any
	f.getJSON("/fields?value_type=7&entity_type=1", &ranked)
	require.NotEmpty(t, ranked)
	for _, fl := range ranked {
		require.EqualValues(t, 7, fl["value_type"])
		require.EqualValues(t, 1, fl["entity_type"])
	}
	var persons []map[string]any
	f.getJSON("/persons/fields", &persons)
	for _, fl := range persons {
		require.Nil(t, fl["list_id"])
		require.EqualValues(t, loader.EntityPerson, fl["entity_type"])
	}
	f.get("/fields?list_id=x", http.StatusUnprocessableEntity)
}

// Requests and mutations at once: run with -race.
func TestConcurrentRequestsAndMutations(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	victims := make([]int64, 0, 20)
	for _, p := range ws.Persons[100:120] {
		victims = append(victims, p.ID)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses []int
	)
	for range 3 {
		wg.Go(func() {
			for range 5 {
				for _, path := range []string{"/persons?page_size=50",
					fmt.Sprintf("/field-values?organization_id=%d", ws.Organizations[0].ID)} {
					r := f.do(path, "Bearer "+testKey)
					mu.Lock()
					statuses = append(statuses, r.status)
					mu.Unlock()
				}
			}
		})
	}
	wg.Go(func() {
		for _, id := range victims {
			f.srv.Mutate(func(w *Workspace) { w.DeletePerson(id) })
		}
	})
	wg.Wait()
	require.Len(t, statuses, 30)
	for _, s := range statuses {
		require.Equal(t, http.StatusOK, s)
	}
	require.Len(t, f.srv.Snapshot().Persons, 300-len(victims))
	require.Len(t, f.all("/persons", "persons", nil), 300-len(victims))
}

func BenchmarkServePersonsPage(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Persons = 100_000
	srv := NewServer(Generate(cfg), WithAPIKey(testKey))
	tok := EncodePageToken(PageToken{PageSize: 500, Offset: 50_000})
	req, _ := http.NewRequest(http.MethodGet, "/persons?page_size=500&page_token="+tok, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	b.ReportAllocs()
	for b.Loop() {
		w := &discard{h: http.Header{}}
		srv.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Persons = 100_000
	for b.Loop() {
		Generate(cfg)
	}
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(s int)   { d.status = s }
func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}
