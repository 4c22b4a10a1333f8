package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// daemonConfig schedules nothing that could fire during a test: the daemon
// syncs only because the warehouse has no complete pass yet.
func daemonConfig(t *testing.T) string {
	t.Helper()
	return daemonConfigWith(t, "")
}

// daemonConfigWith is daemonConfig with more YAML at its end.
func daemonConfigWith(t *testing.T, extra string) string {
	t.Helper()
	return writeFile(t, "daemon.yaml", `quota:
  per_minute: 0
server:
  addr: 127.0.0.1:0
schedule:
  sync: "0 3 1 1 *"
  changes: "0 4 1 1 *"
`+extra, 0o600)
}

// slowFake serves a workspace with latency, so that a sync takes a while.
func slowFake(t *testing.T, key string, latency time.Duration) (string, *affinitytest.Server) {
	t.Helper()
	url, fake, _ := holdingFake(t, key, latency, nil)
	return url, fake
}

// holdingFake is slowFake where every request that hold picks (nil: none) gets no answer
// until the test releases the holder or the client gives up. Holding, not latency, is what
// keeps a run in progress for as long as a test needs, however fast or loaded the machine.
func holdingFake(t *testing.T, key string, latency time.Duration, hold func(*http.Request) bool) (string, *affinitytest.Server, *holder) {
	t.Helper()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 21
	fake := affinitytest.NewServer(affinitytest.Generate(cfg), affinitytest.WithAPIKey(key), affinitytest.WithLatency(latency))
	h := &holder{next: fake, hold: hold, released: make(chan struct{}), held: make(chan struct{})}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.release) // before srv.Close: Close waits for the held requests
	return srv.URL, fake, h
}

// holder passes requests on to next, holding those hold picks until release.
type holder struct {
	next     http.Handler
	hold     func(*http.Request) bool
	released chan struct{}
	held     chan struct{} // closed when the first request is held
	heldOnce sync.Once
	relOnce  sync.Once
}

func (h *holder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.hold != nil && h.hold(r) {
		h.heldOnce.Do(func() { close(h.held) })
		select {
		case <-h.released:
		case <-r.Context().Done():
			return
		}
	}
	h.next.ServeHTTP(w, r)
}

// release lets every held request, and every later one, through.
func (h *holder) release() { h.relOnce.Do(func() { close(h.released) }) }

// waitHeld blocks until a request is held; the deadline only turns a hang into a failure.
func (h *holder) waitHeld(t *testing.T, what string) {
	t.Helper()
	select {
	case <-h.held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("gave up waiting for %s", what)
	}
}

type runRow struct {
	ID             int64
	Started, Ended *time.Time
	Status         string
	Error          *string
}

func runRows(t *testing.T, conn *pgx.Conn) []runRow {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT id, started_at, ended_at, status, error FROM affinity.sync_runs ORDER BY id`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[runRow])
	require.NoError(t, err)
	return out
}

// waitFor polls cond until it holds; the deadline only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTwoDaemonsOneDatabase starts two daemons on one warehouse at once:
// only one of them syncs; while it does, another sync of the schema is
// refused.
func TestTwoDaemonsOneDatabase(t *testing.T) {
	t.Parallel()
	const key = "two-daemons-key"
	// Every request is held until both refusals were seen: a request means its daemon holds
	// the run lock, and the run cannot end before the others have tried to take it.
	baseURL, _, held := holdingFake(t, key, 2*time.Millisecond, func(*http.Request) bool { return true })
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}
	cfgPath := daemonConfig(t)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	codes := make([]int, 2)
	stderrs := make([]syncBuffer, 2)
	for i := range codes {
		wg.Go(func() {
			var out syncBuffer
			codes[i] = run(ctx, []string{"--config", cfgPath, "daemon"}, &out, &stderrs[i], envOf(env))
		})
	}
	conn := connect(t, dbURL)
	held.waitHeld(t, "a run in progress")
	// While it runs, a third process cannot sync the same schema.
	code, _, stderr := runCLI(t, env, "--config", cfgPath, "sync")
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "advisory lock held")
	// Nor can the other daemon: it tries at start, since no pass is complete yet.
	waitFor(t, "the other daemon to find the run lock taken", func() bool {
		return strings.Contains(stderrs[0].String()+stderrs[1].String(), "another replica holds the run lock")
	})
	held.release()
	waitFor(t, "a completed run", func() bool {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM affinity.sync_runs WHERE status = 'completed'`).Scan(&n)
		return err == nil && n > 0
	})
	cancel()
	wg.Wait()
	require.Equal(t, []int{exitOK, exitOK}, codes, "stderr: %s\n---\n%s", stderrs[0].String(), stderrs[1].String())

	runs := runRows(t, conn)
	require.Len(t, runs, 1, "the second daemon found the run lock taken: %+v", runs)
	require.Equal(t, "completed", runs[0].Status)
}

// TestDaemonStopsMidPassAndNextRunResumes cancels a daemon's context (what
// SIGINT/SIGTERM do) while it syncs: the page in flight commits, the daemon
// exits cleanly, the run is recorded, and the next sync continues from the
// checkpoints to exact data.
func TestDaemonStopsMidPassAndNextRunResumes(t *testing.T) {
	t.Parallel()
	const key = "sigterm-key"
	// Field values after the twelfth are held until the daemon has stopped, so the pass is
	// still open when it stops (with four workers, the first eight entities are done by then).
	var fieldValues atomic.Int32
	baseURL, fake, held := holdingFake(t, key, 2*time.Millisecond, func(r *http.Request) bool {
		return r.URL.Path == "/field-values" && fieldValues.Add(1) > 12
	})
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}
	// The per-entity v1 path: one request per entity, so the pass has many pages to stop in
	// (a stop inside a v2 pass is extractor's TestV2KillMidPassResumesExactly's matter).
	cfgPath := daemonConfigWith(t, "affinity:\n  api_v2: off\n")
	conn := connect(t, dbURL)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out, errOut syncBuffer
	go func() { done <- run(ctx, []string{"--config", cfgPath, "daemon"}, &out, &errOut, envOf(env)) }()
	waitFor(t, "field values being fetched", func() bool {
		var pages int64
		err := conn.QueryRow(t.Context(), `SELECT coalesce(max(pages), 0) FROM affinity.sync_checkpoints
			WHERE stream = 'field_values' AND pass_started_at IS NOT NULL`).Scan(&pages)
		return err == nil && pages > 3
	})
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the daemon did not exit after its context ended")
	}
	require.Equal(t, exitOK, code, "stderr: %s", errOut.String())
	held.release()

	runs := runRows(t, conn)
	require.Len(t, runs, 1)
	require.NotNil(t, runs[0].Ended, "the interrupted run is recorded as ended")
	require.NotEqual(t, "completed", runs[0].Status)
	var passInProgress bool
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT pass_started_at IS NOT NULL FROM affinity.sync_checkpoints
		WHERE stream = 'field_values'`).Scan(&passInProgress))
	require.True(t, passInProgress, "the field values pass stays open for the next run")
	var fetched int64
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM affinity.sync_entity_freshness WHERE values_synced_at IS NOT NULL`).Scan(&fetched))
	require.Positive(t, fetched, "pages committed before the stop stay committed")

	// The next run resumes: entities done before the stop are not fetched again.
	fake.ResetCounters()
	code, _, stderr := runCLI(t, env, "--config", cfgPath, "sync")
	require.Equal(t, exitOK, code, stderr)
	var listed int64
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(DISTINCT (entity_type, entity_id)) FROM affinity.list_entries WHERE deleted_at IS NULL`).Scan(&listed))
	require.Equal(t, listed-fetched, int64(fake.Requests()["GET /field-values"]), "only the entities not done before the stop are fetched")
	ws := fake.Snapshot()
	require.Equal(t, int64(len(ws.Persons)), countRows(t, conn, "affinity", "persons"))
	var liveValues int64
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM affinity.field_values WHERE deleted_at IS NULL`).Scan(&liveValues))
	require.Positive(t, liveValues)
}
