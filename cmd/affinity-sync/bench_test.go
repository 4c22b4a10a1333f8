package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// benchFakeEnv marks the child process that TestBenchFakeProcess turns into
// `affinity-sync fake-api`.
const benchFakeEnv = "AFFINITY_SYNC_BENCH_FAKE_CHILD"

// TestBenchFakeProcess is not a test of its own: run by TestBenchSmoke as a
// child process (the test binary is not the affinity-sync binary), it runs
// `affinity-sync ARGS...` (the fake API, or one mode's sync passes) and exits.
func TestBenchFakeProcess(t *testing.T) {
	if os.Getenv(benchFakeEnv) != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(t.Context(), args, os.Stdout, os.Stderr, os.Getenv))
}

// TestBenchSmoke runs the bench command at a tiny scale, with the fake in a
// child process and each api_v2 mode's two passes in a child process of its
// own: every pass completes and spends exactly its lower bound of requests,
// stream by stream; auto reads through v2 on the first pass and spends fewer
// requests than off, and the unchanged second pass spends the same in both.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	child := func(ctx context.Context, args []string) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestBenchFakeProcess$", "--"}, args...)...)
		cmd.Env = append(os.Environ(), benchFakeEnv+"=1")
		return cmd, nil
	}
	var out, errOut syncBuffer
	e := env{stdout: &out, stderr: &errOut, getenv: envOf(map[string]string{"DATABASE_URL": dbURL})}
	err := runBench(t.Context(), e, []string{"--scale", "0.005"}, child)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())

	passes := regexp.MustCompile(`(?m)^pass (\d) .*, api_v2 (auto|off): wall \S+, (\d+) rows written .* (\d+) requests sent \(lower bound (\d+)\), peak RSS [\d.]+ MiB$`).
		FindAllStringSubmatch(out.String(), -1)
	require.Len(t, passes, 4, out.String())
	sent := map[string]int{}
	for _, p := range passes {
		rows, _ := strconv.Atoi(p[3])
		require.Positive(t, rows, p[0])
		require.Equal(t, p[5], p[4], "requests sent against the lower bound: %s", p[0])
		sent[p[1]+" "+p[2]], _ = strconv.Atoi(p[4])
	}
	require.Less(t, sent["1 auto"], sent["1 off"], out.String())
	require.Less(t, sent["2 auto"], sent["2 off"], "nothing due: one page of the change feed instead of one history per field")

	// Stream by stream: requests equal the bound, and auto's first pass reads field values
	// and organization links through v2.
	streams := regexp.MustCompile(`(?m)^\s+(field_values|organization_details)\s+(v1|v1\+v2)\s+(\d+)\s+(\d+)\s+(v1|v1\+v2)\s+(\d+)\s+(\d+)\s*$`).
		FindAllStringSubmatch(out.String(), -1)
	require.Len(t, streams, 4, out.String())
	for i, m := range streams {
		require.Equal(t, m[3], m[4], m[0])
		require.Equal(t, m[6], m[7], m[0])
		require.Equal(t, "v1", m[5], "api_v2 off: %s", m[0])
		if i < 2 {
			require.Equal(t, "v1+v2", m[2], "the first pass under auto: %s", m[0])
		} else {
			require.Equal(t, "v1", m[2], "nothing due on the second pass: %s", m[0])
		}
	}
}
