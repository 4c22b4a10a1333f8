package loader_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// TestResumeSince: a run continues the oldest failed or budget-spent run since
// the last completed one that covered its streams; runs that died while
// running count as failed once abandoned.
func TestResumeSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	all := []string{"lists", "persons"}
	finish := func(streams []string, status string) int64 {
		id, err := e.store.StartRun(ctx, streams)
		require.NoError(t, err)
		if status != "running" {
			require.NoError(t, e.store.FinishRun(ctx, id, loader.RunResult{Status: status}))
		}
		return id
	}
	startedAt := func(id int64) string {
		var at string
		require.NoError(t, e.conn.QueryRow(ctx, `SELECT started_at::text FROM `+e.table("sync_runs")+` WHERE id = $1`, id).Scan(&at))
		return at
	}
	text := func(since any) string {
		if since == nil {
			return ""
		}
		var at string
		require.NoError(t, e.conn.QueryRow(ctx, `SELECT $1::timestamptz::text`, since).Scan(&at))
		return at
	}

	since, err := e.store.ResumeSince(ctx, all)
	require.NoError(t, err)
	require.Nil(t, since, "nothing to continue on a fresh warehouse")

	finish(all, "completed")
	since, err = e.store.ResumeSince(ctx, all)
	require.NoError(t, err)
	require.Nil(t, since, "the last run completed")

	first := finish(all, "budget_spent")
	finish([]string{"persons"}, "failed") // a partial run is not what a full run continues
	finish(all, "failed")
	since, err = e.store.ResumeSince(ctx, all)
	require.NoError(t, err)
	require.NotNil(t, since)
	require.Equal(t, startedAt(first), text(*since), "the oldest unfinished run since the last completed one")

	// A run that died while running is abandoned, then counts as failed.
	finish(all, "completed")
	dead := finish(all, "running")
	n, err := e.store.AbandonRuns(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	runs, err := e.store.RecentRuns(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "failed", runs[0].Status)
	require.Contains(t, runs[0].Error, "without recording the end")
	since, err = e.store.ResumeSince(ctx, all)
	require.NoError(t, err)
	require.NotNil(t, since)
	require.Equal(t, startedAt(dead), text(*since))
}
