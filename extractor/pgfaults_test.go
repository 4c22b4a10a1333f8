package extractor_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
)

// TestPostgresConnectionCut terminates the warehouse's connections from
// another session several times while a sync runs against a slow fake. Each
// stream either finishes (the pool reconnects) or fails with an error saying
// what it was doing; a cut transaction writes nothing, a failed pass deletes
// nothing, and the next run is exact.
func TestPostgresConnectionCut(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, faultWorkspace(81), faultEnvOptions{latency: 3 * time.Millisecond})
	ctx := t.Context()

	done := make(chan extractor.Result, 1)
	go func() { done <- e.syncer(nil).Run(ctx, nil) }()
	var res extractor.Result
	finished := false
	cuts := 0
	for _, at := range []int{20, 80, 200, 320} {
	wait:
		for !finished && e.fake.TotalRequests() < at {
			select {
			case res = <-done:
				finished = true
				break wait
			case <-time.After(time.Millisecond):
			}
		}
		if finished {
			break
		}
		var n int
		require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'affinity-sync' AND pid <> pg_backend_pid()`).Scan(&n))
		cuts += n
	}
	if !finished {
		res = <-done
	}
	require.Positive(t, cuts, "connections were cut while the sync ran")
	t.Logf("%d connections cut: complete %v, failed %d", cuts, res.Complete(), len(res.Failed()))
	for _, s := range res.Failed() {
		e.out.record(s.Err.Error())
		require.ErrorContains(t, s.Err, "stream "+string(s.Stream), "a failure names its stream")
	}
	if len(res.Failed()) > 0 {
		e.requireNothingDeleted(t)
	}

	// Idle connections the cut killed are found dead on their next use and
	// dropped; ping them out before the next run (a daemon's next run comes
	// much later, when the pool has long replaced them).
	for i := 0; i < 50 && e.store.Ping(ctx) != nil; i++ {
	}
	requireComplete(t, e.run(t, nil))
	e.requireExact(t)
	e.out.requireClean(t)
}
