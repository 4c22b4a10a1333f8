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
// child process (the test binary is not the affinity-sync binary), it serves
// the fake API like `affinity-sync fake-api ARGS...` and exits.
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
// child process, two passes: both complete, and each spends exactly its
// lower bound of requests.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	child := func(ctx context.Context, args []string) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestBenchFakeProcess$", "--", "fake-api"}, args...)...)
		cmd.Env = append(os.Environ(), benchFakeEnv+"=1")
		return cmd, nil
	}
	var out, errOut syncBuffer
	e := env{stdout: &out, stderr: &errOut, getenv: envOf(map[string]string{"DATABASE_URL": dbURL})}
	err := runBench(t.Context(), e, []string{"--scale", "0.005"}, child)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())

	passes := regexp.MustCompile(`(?m)^pass \d .*: wall \S+, (\d+) rows written .* (\d+) requests sent \(lower bound (\d+)\), peak RSS [\d.]+ MiB$`).
		FindAllStringSubmatch(out.String(), -1)
	require.Len(t, passes, 2, out.String())
	for _, p := range passes {
		rows, _ := strconv.Atoi(p[1])
		require.Positive(t, rows, p[0])
		require.Equal(t, p[3], p[2], "requests sent against the lower bound: %s", p[0])
	}
}
