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

	rep, _ := statusJSON(t, env, cfg)
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

// TestStatusShowsTheAPIPath: after a sync, status names the API path each two-path stream's
// last pass took and why, with the api_v2 setting in effect, as text and as JSON.
func TestStatusShowsTheAPIPath(t *testing.T) {
	t.Parallel()
	const key = "status-path-key"
	baseURL, _ := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}
	cfg := writeFile(t, "c.yaml", "quota:\n  per_minute: 0\n", 0o600)

	code, _, stderr := runCLI(t, env, "--config", cfg, "migrate")
	require.Equal(t, exitOK, code, stderr)
	before, _ := statusJSON(t, env, cfg)
	require.Equal(t, "auto", before.APIV2, "the default")
	require.Empty(t, before.Paths, "no pass yet")
	code, text, _ := runCLI(t, env, "--config", cfg, "status")
	require.Equal(t, exitOK, code)
	require.Contains(t, text, "(no pass of field_values, organization_details or field_value_changes yet)")

	code, _, stderr = runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)

	rep, out := statusJSON(t, env, cfg)
	require.Equal(t, "auto", rep.APIV2)
	paths := map[string]statusPath{}
	for _, p := range rep.Paths {
		paths[p.Stream] = p
		require.NotEmpty(t, p.Reason, p.Stream)
		require.False(t, p.DecidedAt.IsZero(), p.Stream)
	}
	require.Len(t, paths, 3, "%+v", rep.Paths)
	require.Equal(t, "v1+v2", paths["field_value_changes"].Path, "a first pass reads every history through v1, then the feed: %+v", paths)
	require.Contains(t, paths["field_value_changes"].Reason, "no complete history yet")
	require.Equal(t, "v1+v2", paths["field_values"].Path, "a first pass reads every list through v2: %+v", paths)
	require.Contains(t, paths["field_values"].Reason, "cost fewer requests through v2")
	require.Equal(t, "v1+v2", paths["organization_details"].Path)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	require.Contains(t, raw, "api_v2")
	require.Contains(t, raw["paths"].([]any)[0], "reason", "the JSON field names are part of the contract")

	code, text, _ = runCLI(t, env, "--config", cfg, "status")
	require.Equal(t, exitOK, code)
	require.Contains(t, text, "affinity.api_v2: auto")
	require.Regexp(t, `(?m)^field_values\s+v1\+v2\s+\S+\s+\d+ of \d+ lists cost fewer requests through v2`, text)
	require.Regexp(t, `(?m)^organization_details\s+v1\+v2\s`, text)
	require.Contains(t, text, "RUN", "the existing sections stay")

	// With api_v2 off the next pass reads v1, and says so.
	off := writeFile(t, "off.yaml", "quota:\n  per_minute: 0\naffinity:\n  api_v2: \"off\"\n", 0o600)
	code, _, stderr = runCLI(t, env, "--config", off, "sync")
	require.Equal(t, exitOK, code, stderr)
	code, text, _ = runCLI(t, env, "--config", off, "status")
	require.Equal(t, exitOK, code)
	require.Contains(t, text, "affinity.api_v2: off")
	require.Regexp(t, `(?m)^field_values\s+v1\s+\S+\s+affinity.api_v2 is off`, text)
}
