package main

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// TestWorkspaceGuard: a key of another workspace into a schema that holds one
// exits 2, names both workspaces, and changes nothing in the schema.
func TestWorkspaceGuard(t *testing.T) {
	t.Parallel()
	fake, env, cfg := fakeAndWarehouse(t, "guard-key")
	dbURL := env["DATABASE_URL"]

	code, _, stderr := runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)
	conn := connect(t, dbURL)
	before := dumpSchema(t, conn, "affinity")

	var first affinitytest.Tenant
	fake.Mutate(func(w *affinitytest.Workspace) {
		first = w.Tenant
		w.Tenant = affinitytest.Tenant{ID: first.ID + 1, Name: "Other Fund", Subdomain: "otherfund"}
	})
	code, _, stderr = runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitUsage, code, stderr)
	require.Contains(t, stderr, first.Name)
	require.Contains(t, stderr, "Other Fund")
	require.Equal(t, before, dumpSchema(t, conn, "affinity"), "nothing in the schema changes")

	// The same workspace again syncs as before.
	fake.Mutate(func(w *affinitytest.Workspace) { w.Tenant = first })
	code, _, stderr = runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)
}

// TestResetRereadsExactlyTheNamedStreams: after reset --streams field_values,
// the next sync fetches every listed entity's values again, and nothing else
// it would not fetch anyway.
func TestResetRereadsExactlyTheNamedStreams(t *testing.T) {
	t.Parallel()
	fake, env, _ := fakeAndWarehouse(t, "reset-key")
	// Per entity through v1, so that every re-read is one request to count.
	cfg := writeFile(t, "config.yaml", "affinity:\n  api_v2: off\nquota:\n  per_minute: 0\n", 0o600)
	code, _, stderr := runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)

	// Without a reset, a second sync fetches no values and no details.
	fake.ResetCounters()
	code, _, stderr = runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)
	require.Zero(t, fake.Requests()["GET /field-values"])
	require.Zero(t, fake.Requests()["GET /organizations/{id}"])

	code, out, stderr := runCLI(t, env, "--config", cfg, "reset", "--streams", "field_values")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "field_values")

	fake.ResetCounters()
	code, _, stderr = runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)
	listed := map[[2]int64]bool{}
	for _, e := range fake.Snapshot().ListEntries {
		listed[[2]int64{int64(e.EntityType), e.EntityID}] = true
	}
	require.Equal(t, len(listed), fake.Requests()["GET /field-values"], "every listed entity's values are read again")
	require.Zero(t, fake.Requests()["GET /organizations/{id}"], "organization details were not reset")

	code, _, _ = runCLI(t, env, "--config", cfg, "reset", "--streams", "nope")
	require.Equal(t, exitUsage, code)
	code, _, _ = runCLI(t, env, "--config", cfg, "reset")
	require.Equal(t, exitUsage, code)
}

// fakeAndWarehouse serves a small fake workspace that accepts key and makes a
// fresh database; it returns the fake, the environment of a command that
// syncs the one into the other, and a quick config file.
func fakeAndWarehouse(t *testing.T, key string) (*affinitytest.Server, map[string]string, string) {
	t.Helper()
	fake := affinitytest.NewServer(smallWorkspace(), affinitytest.WithAPIKey(key))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": srv.URL, "DATABASE_URL": pgtest.NewDatabase(t)}
	return fake, env, quickConfig(t)
}
