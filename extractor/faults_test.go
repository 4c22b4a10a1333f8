package extractor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
)

// This file is the fault matrix of issue 6: every fault the API can throw at a
// sync, each ending in exact data (after a final clean run) or a clear, named
// failure with nothing half-written.

// faultPageSize makes the small workspaces span several pages.
const faultPageSize = 100

// faultEnv is a harness whose HTTP traffic, waits and logs a test can see.
type faultEnv struct {
	*harness
	mw     *middleware
	sleeps *sleepLog
	out    *outputs // everything the runs printed or recorded, for secrets_test.go
}

type faultEnvOptions struct {
	schema  string // default "affinity"
	key     string // default testKey
	latency time.Duration
}

func newFaultEnv(t *testing.T, cfg affinitytest.Config, o faultEnvOptions) *faultEnv {
	t.Helper()
	ctx := t.Context()
	if o.schema == "" {
		o.schema = "affinity"
	}
	if o.key == "" {
		o.key = testKey
	}
	out := &outputs{key: o.key}
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))

	fake := affinitytest.NewServer(affinitytest.Generate(cfg), affinitytest.WithAPIKey(o.key), affinitytest.WithLatency(o.latency))
	mw := &middleware{next: fake}
	hs := httptest.NewServer(mw)
	t.Cleanup(hs.Close)

	dsn := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Run(ctx, dsn, o.schema, "up", out, log))
	store, err := loader.Open(ctx, dsn, o.schema, log)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	sleeps := &sleepLog{}
	client, err := affinity.NewClient(hs.URL, o.key, affinity.WithPerMinute(0), affinity.WithLogger(log),
		affinity.WithSleep(sleeps.sleep), affinity.WithObserver(func(ri affinity.RequestInfo) { out.record(fmt.Sprintf("%+v", ri)) }))
	require.NoError(t, err)
	opts := extractor.Options{MaxDeleteShare: 0.5, ValuesMaxAge: time.Nanosecond, PageSize: faultPageSize, Logger: log}
	h := &harness{fake: fake, client: client, store: store, pool: pool, schema: o.schema, opts: opts}
	return &faultEnv{harness: h, mw: mw, sleeps: sleeps, out: out}
}

// run syncs streams (all when none) through api (the client when nil) and
// records the run the way the command does, so its record is searchable too.
func (e *faultEnv) run(t *testing.T, api extractor.API, streams ...extractor.StreamName) extractor.Result {
	t.Helper()
	ctx := t.Context()
	id, err := e.store.StartRun(ctx, extractor.NamesOf(streams))
	require.NoError(t, err)
	res := e.syncer(api).Run(ctx, streams)
	rr := loader.RunResult{Streams: extractor.NamesOf(streams), Status: "completed"}
	var errs []string
	for _, s := range res.Streams {
		if s.Err != nil {
			errs = append(errs, s.Err.Error())
			e.out.record(s.Err.Error())
			e.out.record(fmt.Sprintf("%#v", s.Err))
		}
	}
	if len(errs) > 0 {
		rr.Status, rr.Error = "failed", strings.Join(errs, "; ")
	}
	rr.Rows, rr.NULsReplaced = res.Totals()
	require.NoError(t, e.store.FinishRun(ctx, id, rr))
	return res
}

// requireExact compares every table the sync writes with the fake's workspace.
func (e *faultEnv) requireExact(t *testing.T) {
	t.Helper()
	ws := e.fake.Snapshot()
	e.requireWarehouseEquals(t, ws)
	e.requireListsFieldsEntriesEqual(t, ws)
	e.requireValuesEqual(t, ws)
	e.requireChangesEqual(t, ws)
}

// requireNothingDeleted checks that no row of any soft-deletable table has
// deleted_at: a failed pass must not infer deletions.
func (e *faultEnv) requireNothingDeleted(t *testing.T) {
	t.Helper()
	for _, table := range []string{"persons", "organizations", "opportunities", "lists", "list_entries", "fields", "dropdown_options", "field_values"} {
		var n int
		require.NoError(t, e.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{e.schema, table}.Sanitize()+" WHERE deleted_at IS NOT NULL").Scan(&n))
		require.Zero(t, n, "%s: a failed or partial pass soft-deletes nothing", table)
	}
}

func (e *faultEnv) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{e.schema, table}.Sanitize()).Scan(&n))
	return n
}

// sleepLog replaces the client's waits: it records them and returns at once.
type sleepLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepLog) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// middleware sits between the client and the fake; a test may rewrite the
// answer of chosen requests.
type middleware struct {
	next    http.Handler
	mu      sync.Mutex
	rewrite func(r *http.Request, status int, body []byte) (int, []byte, bool)
}

func (m *middleware) set(f func(r *http.Request, status int, body []byte) (int, []byte, bool)) {
	m.mu.Lock()
	m.rewrite = f
	m.mu.Unlock()
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	f := m.rewrite
	m.mu.Unlock()
	if f == nil {
		m.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	m.next.ServeHTTP(rec, r)
	status, body, changed := f(r, rec.Code, rec.Body.Bytes())
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	if changed {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// onPage wraps the persons listing: after is called with each page's number
// (from 1) once the page arrived, before the stream sees it.
type onPage struct {
	extractor.API
	mu    sync.Mutex
	seen  int
	after func(n int, p affinity.Page[affinity.Person])
}

func (o *onPage) Persons(ctx context.Context, q affinity.PersonQuery) iter.Seq2[affinity.Page[affinity.Person], error] {
	return func(yield func(affinity.Page[affinity.Person], error) bool) {
		for p, err := range o.API.Persons(ctx, q) {
			if err == nil && !q.WithInteractionDates {
				o.mu.Lock()
				o.seen++
				n := o.seen
				o.mu.Unlock()
				o.after(n, p)
			}
			if !yield(p, err) {
				return
			}
		}
	}
}

func faultWorkspace(seed int64) affinitytest.Config {
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = seed
	return cfg
}

// TestFaultsRecovered: transient faults are retried (429 after the reset the
// server names, never at once; 5xx, truncated bodies and resets with backoff)
// and the run ends exact without a second run.
func TestFaultsRecovered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults affinitytest.Faults
		burst  []string // endpoints answering a burst of three of the fault's status
		status int
		// minWait is the least every recorded wait must be (429 waits for the reset).
		minWait time.Duration
	}{
		{"429 burst with Retry-After", affinitytest.Faults{Seed: 1, Rate429: 0.05, RetryAfter: true}, []string{"GET /persons", "GET /field-values"}, 429, time.Second},
		{"429 burst without Retry-After", affinitytest.Faults{Seed: 2, Rate429: 0.05}, []string{"GET /organizations", "GET /lists"}, 429, time.Second},
		{"500 and 503", affinitytest.Faults{Seed: 3, Rate500: 0.03, Rate503: 0.03}, []string{"GET /fields", "GET /lists/{list_id}/list-entries"}, 503, 0},
		{"truncated JSON", affinitytest.Faults{Seed: 4, RateTruncate: 0.05}, []string{"GET /opportunities", "GET /field-value-changes"}, -1, 0},
		{"connection resets", affinitytest.Faults{Seed: 5, RateReset: 0.05}, []string{"GET /persons", "GET /organizations/{id}"}, -2, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFaultEnv(t, faultWorkspace(int64(20+i)), faultEnvOptions{})
			e.fake.SetFaults(tt.faults)
			for _, ep := range tt.burst {
				e.fake.FailNext(ep, tt.status, 3)
			}
			res := e.run(t, nil)
			requireComplete(t, res)
			e.fake.SetFaults(affinitytest.Faults{})
			e.requireExact(t)
			waits := e.sleeps.all()
			require.GreaterOrEqual(t, len(waits), 3*len(tt.burst), "every injected fault was retried after a wait")
			for _, w := range waits {
				require.GreaterOrEqual(t, w, tt.minWait, "a 429 waits for the reset the server reports")
			}
			e.out.requireClean(t)
		})
	}
}

// TestFaultsThatStayBad: a fault that outlasts the retries fails its stream
// with an error naming the resource and the page; nothing of that page is
// written, nothing is soft-deleted, the other streams go on, and the next
// clean run is exact.
func TestFaultsThatStayBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stream extractor.StreamName
		inject func(e *faultEnv)
		want   []string // in the stream's error
	}{
		{"truncated page stays truncated", extractor.StreamPersons, func(e *faultEnv) {
			e.fake.FailNext("GET /persons", -1, 1000)
		}, []string{"stream persons", "fetch page 1", "decode /persons"}},
		{"wrong JSON types on one page", extractor.StreamOrganizations, func(e *faultEnv) {
			e.mw.set(func(r *http.Request, status int, body []byte) (int, []byte, bool) {
				if r.URL.Path == "/organizations" && r.URL.Query().Get("page_token") != "" && r.URL.Query().Get("with_interaction_dates") == "" {
					return 200, []byte(`{"organizations":[{"id":"seven","name":7}],"next_page_token":null}`), true
				}
				return status, body, false
			})
		}, []string{"stream organizations", "fetch page 2", "decode /organizations", "page token"}},
		{"503 on every attempt", extractor.StreamOpportunities, func(e *faultEnv) {
			e.fake.FailNext("GET /opportunities", 503, 1000)
		}, []string{"stream opportunities", "fetch page 1", "503"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFaultEnv(t, faultWorkspace(int64(40+i)), faultEnvOptions{})
			tt.inject(e)
			res := e.run(t, nil)
			require.False(t, res.Complete())
			var failed *extractor.StreamResult
			for _, s := range res.Streams {
				switch {
				case s.Stream == tt.stream:
					failed = &s
				case slices.Contains(extractor.DependsOn(s.Stream), tt.stream):
					require.ErrorContains(t, s.Err, "not started: it reads "+string(tt.stream)+", which failed in this run")
				default:
					require.True(t, s.Complete, "stream %s goes on: %v", s.Stream, s.Err)
				}
			}
			require.NotNil(t, failed)
			require.False(t, failed.Complete)
			for _, w := range tt.want {
				require.Contains(t, failed.Err.Error(), w)
			}
			rows := map[extractor.StreamName]string{extractor.StreamPersons: "persons", extractor.StreamOrganizations: "organizations", extractor.StreamOpportunities: "opportunities"}
			if tt.stream == extractor.StreamOrganizations {
				// The first page was good and committed; the bad one wrote nothing.
				require.Equal(t, faultPageSize, e.count(t, rows[tt.stream]))
			} else {
				require.Zero(t, e.count(t, rows[tt.stream]), "nothing of a bad page is written")
			}
			e.requireNothingDeleted(t)

			e.fake.FailNext("GET /persons", 0, 0)
			e.fake.FailNext("GET /opportunities", 0, 0)
			e.mw.set(nil)
			requireComplete(t, e.run(t, nil))
			e.requireExact(t)
			e.out.requireClean(t)
		})
	}
}

// TestPageTokenRejectedMidPass: Affinity answers 422 to a page token in the
// middle of a pass. The phase drops the token and starts over from its first
// page in the same run, with one warning, within the same pass (which still
// soft-deletes only what it did not see), and the run completes exact. The
// same holds for a stored token refused on resume (an expired one). A second
// refusal in the same run fails the stream, with the token dropped, and the
// next run starts the phase over.
func TestPageTokenRejectedMidPass(t *testing.T) {
	t.Parallel()
	restarts := func(e *faultEnv) int {
		return strings.Count(e.out.String(), "page token refused: the phase restarts from its first page")
	}
	t.Run("once", func(t *testing.T) {
		t.Parallel()
		e := newFaultEnv(t, faultWorkspace(61), faultEnvOptions{})
		requireComplete(t, e.run(t, nil))
		first := e.fake.Snapshot()
		var gone int64
		e.fake.Mutate(func(w *affinitytest.Workspace) { gone = w.Persons[len(w.Persons)-1].ID; w.DeletePerson(gone) })

		api := &onPage{API: e.client, after: func(n int, _ affinity.Page[affinity.Person]) {
			if n == 1 {
				e.fake.FailNext("GET /persons", 422, 1)
			}
		}}
		res := e.run(t, api, extractor.StreamPersons)
		requireComplete(t, res)
		require.Equal(t, 1, restarts(e), "one warning")
		persons := res.Streams[0]
		require.True(t, persons.Phases[0].Restarted)
		require.False(t, persons.Phases[1].Restarted)
		require.Equal(t, 1, e.countRows(t, "persons", "deleted_at IS NOT NULL"), "the pass soft-deletes only the person it no longer saw")
		var deleted bool
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT deleted_at IS NOT NULL FROM affinity.persons WHERE id = $1`, gone).Scan(&deleted))
		require.True(t, deleted)

		requireComplete(t, e.run(t, nil))
		ws := e.fake.Snapshot()
		e.requireWarehouseEquals(t, ws)
		e.requireListsFieldsEntriesEqual(t, ws)
		e.requireValuesEqual(t, ws)
		e.requireChangesEqual(t, first, ws) // history is kept for the deleted person
	})
	t.Run("expired on resume", func(t *testing.T) {
		t.Parallel()
		e := newFaultEnv(t, faultWorkspace(62), faultEnvOptions{})
		// A first run stops mid-pass for another reason, keeping its token.
		api := &onPage{API: e.client, after: func(n int, _ affinity.Page[affinity.Person]) {
			if n == 1 {
				e.fake.FailNext("GET /persons", 503, 1000)
			}
		}}
		res := e.run(t, api, extractor.StreamLists, extractor.StreamPersons)
		require.False(t, res.Complete())
		cp, err := e.store.LoadCheckpoint(t.Context(), string(extractor.StreamPersons))
		require.NoError(t, err)
		require.NotEmpty(t, cp.PageToken, "the pass stopped mid-way")
		passStart := cp.PassStartedAt
		e.fake.FailNext("GET /persons", 0, 0)

		// The resumed run's first request (the stored token) is refused: the phase restarts.
		e.fake.FailNext("GET /persons", 422, 1)
		res = e.run(t, nil, extractor.StreamLists, extractor.StreamPersons)
		requireComplete(t, res)
		require.Equal(t, 1, restarts(e))
		require.True(t, res.Streams[1].Phases[0].Restarted)
		cp, err = e.store.LoadCheckpoint(t.Context(), string(extractor.StreamPersons))
		require.NoError(t, err)
		require.NotNil(t, cp.LastCompletedAt)
		require.False(t, cp.LastCompletedAt.Before(passStart), "the pass that started before the refusal completed")
		e.requireNothingDeleted(t)

		requireComplete(t, e.run(t, nil))
		e.requireExact(t)
	})
	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		e := newFaultEnv(t, faultWorkspace(64), faultEnvOptions{})
		// Page 2 is refused, and again after the restart: the phase restarts once per run.
		api := &onPage{API: e.client, after: func(n int, _ affinity.Page[affinity.Person]) {
			if n <= 2 {
				e.fake.FailNext("GET /persons", 422, 1)
			}
		}}
		res := e.run(t, api, extractor.StreamLists, extractor.StreamPersons)
		require.False(t, res.Complete())
		require.ErrorContains(t, res.Streams[1].Err, "page token refused again after a restart")
		require.Equal(t, 1, restarts(e))
		cp, err := e.store.LoadCheckpoint(t.Context(), string(extractor.StreamPersons))
		require.NoError(t, err)
		require.Empty(t, cp.PageToken, "a refused token is dropped: the next run starts the phase over")
		require.False(t, cp.PassStartedAt.IsZero(), "within the same pass")
		e.requireNothingDeleted(t)

		requireComplete(t, e.run(t, nil))
		e.requireExact(t)
	})
}

// TestEmptyPageWithToken: an empty page that still carries a token is
// followed, not taken for the end.
func TestEmptyPageWithToken(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, faultWorkspace(63), faultEnvOptions{})
	var mu sync.Mutex
	emptied := map[string]bool{}
	e.mw.set(func(r *http.Request, status int, body []byte) (int, []byte, bool) {
		tok := r.URL.Query().Get("page_token")
		if tok == "" || strings.HasSuffix(tok, "=") || (r.URL.Path != "/persons" && r.URL.Path != "/organizations") {
			return status, body, false
		}
		mu.Lock()
		defer mu.Unlock()
		key := r.URL.Path + r.URL.RawQuery
		if emptied[key] {
			return status, body, false
		}
		emptied[key] = true
		// The same position under another spelling (the fake tolerates
		// padding), so the client sees a new token.
		env := strings.TrimPrefix(r.URL.Path, "/")
		b, _ := json.Marshal(map[string]any{env: []any{}, "next_page_token": tok + "="})
		return 200, b, true
	})
	requireComplete(t, e.run(t, nil))
	mu.Lock()
	require.NotEmpty(t, emptied, "empty pages were served")
	mu.Unlock()
	e.mw.set(nil)
	e.requireExact(t)
}

// TestEntityGoneMidRun: a 404 or a merged-entity 422 for an entity fetched by
// id is logged and skipped, never fatal; the next run fetches it again.
func TestEntityGoneMidRun(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, faultWorkspace(64), faultEnvOptions{})
	e.fake.FailNext("GET /organizations/{id}", 404, 2)
	e.fake.FailNext("GET /field-values", 404, 2)
	requireComplete(t, e.run(t, nil))
	require.Contains(t, e.out.String(), "entity skipped")

	requireComplete(t, e.run(t, nil))
	e.requireExact(t)

	e.fake.FailNext("GET /organizations/{id}", 422, 3)
	requireComplete(t, e.run(t, nil)) // a merged organization is skipped
	e.out.requireClean(t)
}

// TestBadInput: NULs, ids above 2^53, a 1 MB string and invalid UTF-8 are
// stored (NULs and bad bytes replaced with U+FFFD and counted), never fatal.
func TestBadInput(t *testing.T) {
	t.Parallel()
	t.Run("NUL", func(t *testing.T) {
		t.Parallel()
		cfg := faultWorkspace(65)
		cfg.NUL = true
		e := newFaultEnv(t, cfg, faultEnvOptions{})
		res := e.run(t, nil)
		requireComplete(t, res)
		_, nuls := res.Totals()
		ws := e.fake.Snapshot()
		want := replaceNULs(ws)
		require.Positive(t, want, "the workspace holds NULs")
		require.GreaterOrEqual(t, nuls, int64(want), "every NUL is counted")
		e.requireWarehouseEquals(t, ws)
		e.requireValuesEqual(t, ws)
		var runNULs int64
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT nuls_replaced FROM affinity.sync_runs ORDER BY id DESC LIMIT 1`).Scan(&runNULs))
		require.Equal(t, nuls, runNULs, "the run record counts the replacements")
	})
	t.Run("big ids, 1 MB strings, invalid UTF-8", func(t *testing.T) {
		t.Parallel()
		e := newFaultEnv(t, faultWorkspace(66), faultEnvOptions{})
		const bigPerson, bigOrg = int64(1)<<53 + 1, int64(1)<<62 + 7
		huge := strings.Repeat("ü1234567", 1<<17) // 1 MiB of UTF-8
		marker := "-BADBYTES-"
		e.fake.Mutate(func(w *affinitytest.Workspace) {
			first := "Big" + marker + "Id"
			w.AddPerson(affinitytest.Person{ID: bigPerson, FirstName: &first, Emails: []string{"big@example.test"}})
			w.AddOrganization(affinitytest.Organization{ID: bigOrg, Name: huge, PersonIDs: []int64{bigPerson}})
			var personList, personField, textField *int64
			for _, l := range w.Lists {
				if l.Type == loader.EntityPerson && personList == nil {
					personList = &l.ID
				}
			}
			for _, f := range w.Fields {
				if f.ListID == nil && f.EntityType == loader.EntityPerson && f.ValueType == affinitytest.ValuePerson && !f.AllowsMultiple && personField == nil {
					personField = &f.ID
				}
				if f.ListID == nil && f.EntityType == loader.EntityPerson && f.ValueType == affinitytest.ValueText && !f.AllowsMultiple && textField == nil {
					textField = &f.ID
				}
			}
			require.NotNil(t, personList)
			w.AddListEntry(*personList, bigPerson)
			if personField != nil {
				w.SetFieldValue(*personField, bigPerson, nil, json.RawMessage(fmt.Sprint(bigPerson)))
			}
			require.NotNil(t, textField)
			w.SetFieldValue(*textField, bigPerson, nil, jsonString(huge))
		})
		e.mw.set(func(r *http.Request, status int, body []byte) (int, []byte, bool) {
			if !bytes.Contains(body, []byte(marker)) {
				return status, body, false
			}
			return status, bytes.ReplaceAll(body, []byte(marker), []byte("\xff\xfe")), true
		})
		res := e.run(t, nil)
		requireComplete(t, res)

		ws := e.fake.Snapshot()
		for _, p := range ws.Persons {
			if p.FirstName != nil && strings.Contains(*p.FirstName, marker) {
				s := strings.ReplaceAll(*p.FirstName, marker, "\uFFFD\uFFFD")
				p.FirstName = &s
			}
		}
		e.requireWarehouseEquals(t, ws)
		e.requireListsFieldsEntriesEqual(t, ws)
		e.requireValuesEqual(t, ws)
		var name string
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT name FROM affinity.organizations WHERE id = $1`, bigOrg).Scan(&name))
		require.Equal(t, huge, name, "a 1 MB string is stored whole")
		var persons []int64
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT array_agg(person_id) FROM affinity.organization_persons WHERE organization_id = $1`, bigOrg).Scan(&persons))
		require.Equal(t, []int64{bigPerson}, persons, "ids above 2^53 keep every digit")
	})
}

// TestFailedPassNeverSoftDeletes fails the last page of persons after rows
// vanished from Affinity: nothing gets deleted_at until a pass completes.
func TestFailedPassNeverSoftDeletes(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, faultWorkspace(67), faultEnvOptions{})
	requireComplete(t, e.run(t, nil))
	var gone []int64
	e.fake.Mutate(func(w *affinitytest.Workspace) {
		for _, p := range w.Persons[10:13] {
			gone = append(gone, p.ID)
		}
		for _, id := range gone {
			w.DeletePerson(id)
		}
	})
	pages := (len(e.fake.Snapshot().Persons) + faultPageSize - 1) / faultPageSize
	require.Greater(t, pages, 2)
	api := &onPage{API: e.client, after: func(n int, _ affinity.Page[affinity.Person]) {
		if n == pages-1 {
			e.fake.FailNext("GET /persons", 500, 1000)
		}
	}}
	res := e.run(t, api)
	require.False(t, res.Complete())
	require.ErrorContains(t, res.Streams[2].Err, fmt.Sprintf("fetch page %d", pages))
	e.requireNothingDeleted(t)

	e.fake.FailNext("GET /persons", 0, 0)
	requireComplete(t, e.run(t, nil))
	e.requireExact(t)
	var deleted int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM affinity.persons WHERE deleted_at IS NOT NULL AND id = ANY($1)`, gone).Scan(&deleted))
	require.Equal(t, len(gone), deleted, "the completed pass deletes what vanished")
}

// replaceNULs rewrites ws as the warehouse must hold it (NUL → U+FFFD) and
// returns how many NULs it replaced.
func replaceNULs(ws *affinitytest.Workspace) int {
	n := 0
	// The fake's JSON encoder already turns each invalid UTF-8 byte into
	// U+FFFD (a NUL put in the middle of a name may split a character).
	fix := func(s *string) *string {
		if s == nil {
			return s
		}
		var b strings.Builder
		for _, r := range *s { // an invalid byte ranges as U+FFFD
			if r == 0 {
				n++
				r = '\uFFFD'
			}
			b.WriteRune(r)
		}
		r := b.String()
		return &r
	}
	fixRaw := func(raw json.RawMessage) json.RawMessage {
		if !bytes.Contains(raw, []byte(`\u0000`)) {
			return raw
		}
		n += bytes.Count(raw, []byte(`\u0000`))
		return bytes.ReplaceAll(raw, []byte(`\u0000`), []byte(`\ufffd`))
	}
	for _, p := range ws.Persons {
		p.FirstName, p.LastName, p.PrimaryEmail = fix(p.FirstName), fix(p.LastName), fix(p.PrimaryEmail)
	}
	for _, o := range ws.Organizations {
		o.Name = *fix(&o.Name)
	}
	for _, v := range ws.FieldValues {
		v.Value = fixRaw(v.Value)
	}
	for _, c := range ws.Changes {
		c.Value = fixRaw(c.Value)
	}
	return n
}

func jsonString(s string) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return b
}
