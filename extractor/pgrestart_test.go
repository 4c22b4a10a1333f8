package extractor_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

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
	hs := httptest.NewServer(fake)
	t.Cleanup(hs.Close)
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
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var pages int64
		err := pool.QueryRow(ctx, `SELECT coalesce(max(pages), 0) FROM affinity.sync_checkpoints
			WHERE stream = 'field_values' AND pass_started_at IS NOT NULL`).Scan(&pages)
		if err == nil && pages > 5 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the field value pass never got going")
		time.Sleep(20 * time.Millisecond)
	}
	crashCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, cluster.Crash(crashCtx))

	var res extractor.Result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the run did not end after the database crashed")
	}
	require.False(t, res.Complete(), "the crash interrupted the run")
	for _, f := range res.Failed() {
		require.Contains(t, f.Err.Error(), "stream "+f.Stream, "each failure names its stream")
	}

	// The pools reconnect; the next run (and its retries of a dropped
	// connection, at most one more run) ends exact.
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
