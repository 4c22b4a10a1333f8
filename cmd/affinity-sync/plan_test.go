package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// TestPlanAfterSync: after a sync, plan estimates exactly what a second,
// unchanged sync sends, spends only its /rate-limit request, and shows what
// sync.lists saves.
func TestPlanAfterSync(t *testing.T) {
	t.Parallel()
	const key = "plan-key"
	baseURL, _ := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}
	cfg := quickConfig(t)
	code, _, stderr := runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)

	code, out, stderr := runCLI(t, env, "--config", cfg, "plan")
	require.Equal(t, exitOK, code, stderr)
	m := regexp.MustCompile(`estimated requests: (\d+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	estimate, err := strconv.Atoi(m[1])
	require.NoError(t, err)

	// A second sync spends exactly the estimate.
	code, out2, stderr := runCLI(t, env, "--config", cfg, "status", "--json")
	require.Equal(t, exitOK, code, stderr)
	before := dayUsed(t, out2)
	code, _, stderr = runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)
	_, out2, _ = runCLI(t, env, "--config", cfg, "status", "--json")
	require.Equal(t, int64(estimate), dayUsed(t, out2)-before, "the plan's estimate")

	// With one list chosen the plan says what that saves.
	conn := connect(t, dbURL)
	var name string
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT name FROM affinity.lists ORDER BY id LIMIT 1`).Scan(&name))
	limited := writeFile(t, "limited.yaml", "quota:\n  per_minute: 0\nsync:\n  lists: ["+strconv.Quote(name)+"]\n", 0o600)
	code, out, stderr = runCLI(t, env, "--config", limited, "plan")
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `sync.lists and sync.streams save [1-9]\d* requests`, out)
}

// TestPlanBeforeFirstPass: on an empty warehouse plan learns the list sizes and the tracked
// fields (two requests, which it says it spent), estimates the streams they decide, reads
// field values through v2 under auto, and says which counts are not known yet and what each
// 500 of them cost. With api_v2 off it gives the v1 figures.
func TestPlanBeforeFirstPass(t *testing.T) {
	t.Parallel()
	const key = "plan-key"
	baseURL, _ := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}
	row := func(out, stream string) []string {
		m := regexp.MustCompile(`(?m)^\d+\s+` + stream + `\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+(\S+)\s+(v1|v2)\s`).FindStringSubmatch(out)
		require.NotNil(t, m, "%s in\n%s", stream, out)
		return m[1:]
	}
	off := writeFile(t, "off.yaml", "quota:\n  per_minute: 0\naffinity:\n  api_v2: off\n", 0o600)
	code, out, stderr := runCLI(t, env, "--config", off, "plan")
	require.Equal(t, exitOK, code, stderr)
	m := regexp.MustCompile(`GET /lists: (\d+) lists, (\d+) entries by their list_size; GET /fields: (\d+) tracked fields`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Contains(t, out, "(2 requests spent)")
	entries, tracked := m[2], m[3]
	require.NotEqual(t, "0", entries, out)
	fvOff := row(out, "field_values")
	require.Equal(t, []string{entries, entries, "v1"}, []string{fvOff[0], fvOff[1], fvOff[3]}, "api_v2 off: one v1 call per entity on a list")
	require.Equal(t, tracked, row(out, "field_value_changes")[0])
	for _, line := range []string{
		"persons: not known yet — every 500 cost 2 requests (plain + dates)",
		"organizations: not known yet — every 500 cost 2 requests (plain + dates)",
		"notes: not known yet — every 500 cost 1 request",
		"organization_details: not known yet — every 500 organizations cost 500 requests on v1, 5 v2 pages on v2",
	} {
		require.Contains(t, out, line)
	}
	require.Contains(t, out, "estimated from what was learned, before their first pass: list_entries, field_value_changes, field_values")

	cfg := quickConfig(t) // api_v2: auto, the default
	code, out, stderr = runCLI(t, env, "--config", cfg, "plan")
	require.Equal(t, exitOK, code, stderr)
	fv := row(out, "field_values")
	require.Equal(t, "v2", fv[3], out)
	require.Equal(t, entries, fv[1], "on v1")
	require.Equal(t, fv[0], fv[2], "the v2 path is what the pass spends")
	require.Equal(t, fvOff[2], fv[2], "what v2 would spend is shown under off too")
	n, _ := strconv.Atoi(entries)
	v2, _ := strconv.Atoi(fv[0])
	require.Less(t, v2, n, "v2 pages and the probe cost less than one call per entity")
}

func dayUsed(t *testing.T, statusJSON string) int64 {
	t.Helper()
	m := regexp.MustCompile(`"day_used": (\d+)`).FindStringSubmatch(statusJSON)
	require.NotNil(t, m, statusJSON)
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n
}
