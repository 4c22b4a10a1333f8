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

func dayUsed(t *testing.T, statusJSON string) int64 {
	t.Helper()
	m := regexp.MustCompile(`"day_used": (\d+)`).FindStringSubmatch(statusJSON)
	require.NotNil(t, m, statusJSON)
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n
}
