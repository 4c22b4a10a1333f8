package extractor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest/localpg"
	"github.com/affinity-sync/affinity-sync/migrations"
)

// TestPostgresServerCrashMidRun crashes the Postgres server (immediate stop,
// then recovery) while a sync is fetching field values: the run ends with
// clean, named errors instead of hanging or panicking, nothing half-written
// survives recovery, and the next run ends exact.
//
// No timing decides whether the crash lands mid-run. From its 20th on, every
// GET /field-values is held unanswered, so the run cannot end before the
// crash. After the crash every connection the run had is dead, but its pool
// pings a connection idle for more than a second before handing it out and
// replaces a dead one, so a run held across the crash could reconnect and
// finish normally. So the database refuses new connections from just before
// the crash until the run has ended, and the held requests are answered only
// after the crash: the commit of what they fetched certainly meets it, like
// a server that stays down.
func TestPostgresServerCrashMidRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cluster, err := localpg.Start(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cluster.Stop() })
	dsn := cluster.URL("postgres")
	require.NoError(t, migrations.Run(ctx, dsn, "affinity", "up", nil, nil))

	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 41
	fake := affinitytest.NewServer(affinitytest.Generate(cfg), affinitytest.WithAPIKey(testKey), affinitytest.WithLatency(3*time.Millisecond))
	var values atomic.Int64
	held := make(chan struct{})
	var heldOnce sync.Once
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/field-values" && values.Add(1) >= 20 {
			heldOnce.Do(func() { close(held) })
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll) // before hs.Close, which waits for held requests
	client, err := affinity.NewClient(hs.URL, testKey, affinity.WithPerMinute(0))
	require.NoError(t, err)
	store, err := loader.Open(ctx, dsn, "affinity", nil)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	h := &harness{fake: fake, client: client, store: store, pool: pool, schema: "affinity",
		opts: extractor.Options{MaxDeleteShare: 0.5, ValuesMaxAge: time.Nanosecond}}

	done := make(chan extractor.Result, 1)
	go func() { done <- h.syncer(nil).Run(ctx, nil) }()
	select {
	case <-held:
	case res := <-done:
		t.Fatalf("the run ended before its 20th field value request: %+v", res)
	case <-ctx.Done():
		t.Fatal("test ended before the field value pass got going")
	}
	// From now until the run has ended the database refuses new
	// connections (the ones open stay, until the crash ends them). The
	// change is flushed before the crash, so recovery keeps it.
	closer, err := pgx.Connect(ctx, cluster.URL("template1"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = closer.Close(context.Background()) })
	_, err = closer.Exec(ctx, `SET synchronous_commit TO on`)
	require.NoError(t, err)
	_, err = closer.Exec(ctx, `ALTER DATABASE postgres ALLOW_CONNECTIONS false`)
	require.NoError(t, err)
	crashCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, cluster.Crash(crashCtx))
	admin, err := pgx.Connect(ctx, cluster.URL("template1")) // the crash ended closer's session
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	var allowed bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT datallowconn FROM pg_database WHERE datname = 'postgres'`).Scan(&allowed))
	require.False(t, allowed, "recovery kept the database closed")
	releaseAll()

	var res extractor.Result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute): // only turns a hang into a failure
		t.Fatal("the run did not end after the database crashed")
	}
	require.False(t, res.Complete(), "the crash interrupted the run")
	require.NotEmpty(t, res.Failed())
	for _, f := range res.Failed() {
		require.Contains(t, f.Err.Error(), "stream "+string(f.Stream), "each failure names its stream")
	}
	var failed []extractor.StreamName
	for _, f := range res.Failed() {
		failed = append(failed, f.Stream)
	}
	require.Contains(t, failed, extractor.StreamFieldValues, "the held field value pass could not commit")

	// The database takes connections again; the pools reconnect and the next
	// run (and its retries of a dropped connection, at most one more run)
	// ends exact.
	_, err = admin.Exec(ctx, `ALTER DATABASE postgres ALLOW_CONNECTIONS true`)
	require.NoError(t, err)
	for range 2 {
		if res = h.syncer(nil).Run(ctx, nil); res.Complete() {
			break
		}
	}
	requireComplete(t, res)
	// The test's own pool still holds connections from before the crash.
	pool.Reset()
	ws := fake.Snapshot()
	h.requireWarehouseEquals(t, ws)
	h.requireValuesEqual(t, ws)
	h.requireChangesEqual(t, ws)
}
