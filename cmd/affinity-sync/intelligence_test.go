package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// TestIntelligenceBacklogInPlanAndStatus: with quota.intelligence_requests at 40, a first sync
// spends at most 40 requests on interactions and strengths and exits 0; plan and status say
// what is left and how many passes it needs; passes at the cap empty the backlog, each within
// the cap.
func TestIntelligenceBacklogInPlanAndStatus(t *testing.T) {
	t.Parallel()
	const key = "intelligence-backlog-key"
	baseURL, _ := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}
	cfg := writeFile(t, "c.yaml", "quota:\n  per_minute: 0\n  intelligence_requests: 40\n", 0o600)

	intelligence := func(rep statusReport) int64 {
		by := rep.Runs[0].RequestsByStream
		return by["interactions"] + by["relationship_strengths"]
	}
	code, _, stderr := runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, "a pass that stops at the cap is complete: %s", stderr)
	rep, _ := statusJSON(t, env, cfg)
	require.Equal(t, int64(40), intelligence(rep), "the first pass spends the cap")
	require.Len(t, rep.Backlog, 2, "%+v", rep.Backlog)
	var due int64
	for _, b := range rep.Backlog {
		require.Contains(t, []string{"interactions", "relationship_strengths"}, b.Stream)
		require.LessOrEqual(t, b.NextPass, int64(40))
		require.Equal(t, b.Requests-b.NextPass, b.Backlog, b.Stream)
		due += b.Requests
	}
	require.Positive(t, due, "the cap left a backlog")
	passes := rep.Backlog[1].Passes
	require.Equal(t, (due+39)/40, passes, "relationship_strengths come last: the passes of every request due")

	code, text, _ := runCLI(t, env, "--config", cfg, "status")
	require.Equal(t, exitOK, code)
	require.Contains(t, text, "Relationship intelligence due (quota.intelligence_requests: 40 requests a pass)")
	code, text, _ = runCLI(t, env, "--config", cfg, "plan")
	require.Equal(t, exitOK, code)
	require.Contains(t, text, "pass(es) at the cap of 40")

	n := 2
	for ; ; n++ {
		require.LessOrEqual(t, n, int(passes)+5, "the backlog empties in about the passes status said (%d)", passes)
		code, _, stderr = runCLI(t, env, "--config", cfg, "sync")
		require.Equal(t, exitOK, code, stderr)
		rep, _ = statusJSON(t, env, cfg)
		require.LessOrEqual(t, intelligence(rep), int64(40), "pass %d", n)
		if intelligence(rep) == 0 {
			break
		}
	}
	for _, b := range rep.Backlog {
		require.Zero(t, b.Requests, "%s: nothing is due once the backlog is read: %+v", b.Stream, b)
	}
	_, text, _ = runCLI(t, env, "--config", cfg, "plan")
	require.Contains(t, text, "0 this pass")
	require.Contains(t, text, "backlog 0 after this pass, 0 pass(es)")
	t.Logf("passes: %d predicted, %d run\n%s", passes, n, text)
}
