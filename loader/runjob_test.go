package loader_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// TestJobRunRequests: a job's runs are those recorded with it and those recorded without a job
// whose streams are exactly the job's, in any order; only runs that did all their work count,
// newest first, at most n.
func TestJobRunRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	changes := []string{"field_value_changes", "field_values"}
	record := func(job string, streams []string, status string, requests int64) {
		t.Helper()
		id, err := e.store.StartJobRun(ctx, job, streams)
		require.NoError(t, err)
		require.NoError(t, e.store.FinishRun(ctx, id, loader.RunResult{Status: status, Requests: requests}))
	}
	record("changes", changes, "partial", 11)
	record("", []string{"field_values", "field_value_changes"}, "partial", 12) // the sync command, any order
	record("", []string{"field_values"}, "partial", 99)                        // other streams
	record("sync", []string{"lists"}, "completed", 98)                         // another job
	record("changes", changes, "budget_spent", 97)                             // stopped early
	record("changes", changes, "failed", 96)
	record("changes", changes, "partial", 13)
	running, err := e.store.StartJobRun(ctx, "changes", changes)
	require.NoError(t, err)
	require.NotZero(t, running)

	got, err := e.store.JobRunRequests(ctx, "changes", changes, 7)
	require.NoError(t, err)
	require.Equal(t, []int64{13, 12, 11}, got)
	got, err = e.store.JobRunRequests(ctx, "changes", changes, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{13, 12}, got)
	got, err = e.store.JobRunRequests(ctx, "sync", []string{"lists", "persons"}, 7)
	require.NoError(t, err)
	require.Equal(t, []int64{98}, got)
	require.Equal(t, int64(1), e.count(t, "sync_runs", "job IS NULL AND requests = 12"), "no job is recorded as null")
}
