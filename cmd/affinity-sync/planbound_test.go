package main

import (
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// TestPlanAgreesWithTheNextPass: after a pass, with field values and organization links made
// due again (reset), plan's estimate for each stream — the registry's cost models fed with
// the warehouse's counts — equals bench's lower bound for the next pass — the same models
// fed with what that pass saw — and what the pass spent, stream by stream; the next pass reads
// field values and links through API v2, as plan says.
func TestPlanAgreesWithTheNextPass(t *testing.T) {
	t.Parallel()
	const key = "plan-bound-key"
	cfgW := affinitytest.DefaultConfig()
	cfgW.Persons, cfgW.Organizations, cfgW.Opportunities = 700, 300, 40
	cfgW.EntriesPerList = 150
	srv := httptest.NewServer(affinitytest.NewServer(affinitytest.Generate(cfgW), affinitytest.WithAPIKey(key)))
	t.Cleanup(srv.Close)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": srv.URL, "DATABASE_URL": pgtest.NewDatabase(t)}
	cfgPath := writeFile(t, "c.yaml", "quota:\n  per_minute: 0\n", 0o600)

	code, _, stderr := runCLI(t, env, "--config", cfgPath, "sync")
	require.Equal(t, exitOK, code, stderr)
	code, _, stderr = runCLI(t, env, "--config", cfgPath, "reset", "--streams", "field_values,organization_details")
	require.Equal(t, exitOK, code, stderr)

	code, out, stderr := runCLI(t, env, "--config", cfgPath, "plan")
	require.Equal(t, exitOK, code, stderr)
	planned := map[string]int64{}
	paths := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\d+\s+(\(workspace check\)|\S+)\s+(\d+)\s+\d+\s+\S+\s+\d+\s+\S+\s+(v1|v2)\s`).FindAllStringSubmatch(out, -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		require.NoError(t, err)
		planned[m[1]], paths[m[1]] = n, m[3]
	}
	require.Len(t, planned, len(extractor.Streams())+1, "a line per stream and the workspace check:\n%s", out)
	require.Equal(t, "v2", paths[string(extractor.StreamFieldValues)], out)
	require.Equal(t, "v2", paths[string(extractor.StreamOrganizationDetails)], out)

	cfg, err := loadConfig(cfgPath, envOf(env), func(string) {})
	require.NoError(t, err)
	sum, err := syncOnce(t.Context(), cfg, slog.New(slog.DiscardHandler), syncOptions{streams: extractor.Streams()})
	require.NoError(t, err)
	require.Equal(t, exitOK, sum.exitCode())
	bound, err := requestBounds(cfg, sum.result)
	require.NoError(t, err)
	for name, want := range planned {
		require.Equal(t, want, bound[name].requests, "%s: plan's estimate against bench's bound (%s)", name, bound[name].how)
		require.Equal(t, want, sum.requestsByStream[name], "%s: plan's estimate against what the pass spent", name)
	}
	require.Positive(t, planned[string(extractor.StreamFieldValues)])
}
