package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// TestStatusJSON: status --json prints the same facts as the text form.
func TestStatusJSON(t *testing.T) {
	t.Parallel()
	const key = "status-json-key"
	baseURL, _ := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}
	cfg := writeFile(t, "c.yaml", "quota:\n  per_minute: 0\n  daily_requests: 1000\nsync:\n  streams: [lists, persons]\n", 0o600)
	code, _, stderr := runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)

	code, out, stderr := runCLI(t, env, "--config", cfg, "status", "--json")
	require.Equal(t, exitOK, code, stderr)
	var rep statusReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Equal(t, "affinity", rep.Schema)
	require.Len(t, rep.Runs, 1)
	require.Equal(t, "completed", rep.Runs[0].Status)
	require.Equal(t, []string{"lists", "persons"}, rep.Runs[0].Streams)
	require.Positive(t, rep.Runs[0].Requests)
	require.Equal(t, rep.Runs[0].Requests, rep.Budget.DayUsed, "every request sent is in the ledger")
	require.Equal(t, int64(900), rep.Budget.DayCap, "1000 less the 10% reserve")
	require.Equal(t, 900-rep.Budget.DayUsed, rep.Budget.DayLeft)
	require.Contains(t, rep.NotSynced.Streams, "field_values")
	var streams []string
	for _, s := range rep.Streams {
		streams = append(streams, s.Stream)
		require.NotNil(t, s.LastCompletedAt, s.Stream)
	}
	require.Equal(t, []string{"lists", "persons"}, streams)

	code, text, _ := runCLI(t, env, "--config", cfg, "status")
	require.Equal(t, exitOK, code)
	require.Contains(t, text, "streams not synced (sync.streams leaves them out")
	require.Contains(t, text, "completed")
}
