package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
// child process and each api_v2 mode's passes in a child process of its
// own: every pass completes and spends exactly its lower bound of requests,
// stream by stream; auto reads through v2 on the first pass and spends fewer
// requests than off, and on the unchanged second pass auto spends what off does but for the
// change feed (one v2 request where off reads each tracked field's history). With
// quota.intelligence_requests at 50, interactions and relationship_strengths spend at most
// the cap on passes 1 and 2 and leave a backlog that plan says needs ceil(backlog/50)
// passes; the drain without a cap spends at least that backlog (plan counts one page per
// window) and leaves none, and the pass after it, with nothing due, spends 0 on them.
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
	const intelCap = 50
	err := runBench(t.Context(), e, []string{"--scale", "0.005", "--intelligence-requests", strconv.Itoa(intelCap)}, child)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())

	passes := regexp.MustCompile(`(?m)^(?:pass (\d)|drain) .*, api_v2 (auto|off): wall \S+, (\d+) rows written .* (\d+) requests sent \(lower bound (\d+)\), peak RSS [\d.]+ MiB$`).
		FindAllStringSubmatch(out.String(), -1)
	require.Len(t, passes, 8, out.String())
	sent := map[string]int{}
	for _, p := range passes {
		rows, _ := strconv.Atoi(p[3])
		require.Positive(t, rows, p[0])
		require.Equal(t, p[5], p[4], "requests sent against the lower bound: %s", p[0])
		sent[p[1]+" "+p[2]], _ = strconv.Atoi(p[4])
	}
	require.Less(t, sent["1 auto"], sent["1 off"], out.String())

	// The change feed: auto backfills each field's history through v1 on the first pass, then
	// reads the feed through v2 (1 request, nothing changed); off reads each field through v1.
	feed := regexp.MustCompile(`(?m)^\s+field_value_changes\s+(v1|v2|v1\+v2)\s+(\d+)\s+(\d+)\s+(v1)\s+(\d+)\s+(\d+)\s*$`).
		FindAllStringSubmatch(out.String(), -1)
	require.Len(t, feed, 3, out.String()) // passes 1, 2 and 3: the drain runs no field_value_changes
	require.Equal(t, "v1+v2", feed[0][1], feed[0][0])
	require.Equal(t, []string{"v2", "1", "1"}, feed[1][1:4], feed[1][0])
	require.Equal(t, []string{"v2", "1", "1"}, feed[2][1:4], feed[2][0])
	offFeed, _ := strconv.Atoi(feed[1][5])
	require.Equal(t, sent["2 off"]-offFeed, sent["2 auto"]-1,
		"nothing due: beyond the change feed, no v2 page and no probe")

	// Stream by stream: requests equal the bound, and auto's first pass reads field values
	// and organization links through v2.
	streams := regexp.MustCompile(`(?m)^\s+(field_values|organization_details)\s+(v1|v1\+v2)\s+(\d+)\s+(\d+)\s+(v1|v1\+v2)\s+(\d+)\s+(\d+)\s*$`).
		FindAllStringSubmatch(out.String(), -1)
	require.Len(t, streams, 6, out.String())
	for i, m := range streams {
		require.Equal(t, m[3], m[4], m[0])
		require.Equal(t, m[6], m[7], m[0])
		require.Equal(t, "v1", m[5], "api_v2 off: %s", m[0])
		if i < 2 {
			require.Equal(t, "v1+v2", m[2], "the first pass under auto: %s", m[0])
		} else {
			require.Equal(t, "v1", m[2], "nothing due on the second and third passes: %s", m[0])
		}
	}

	// The intelligence streams: each new stream spends its bound on every pass, drain included.
	for _, m := range regexp.MustCompile(`(?m)^\s+(entity_files|reminders|interactions|relationship_strengths)\s+(v1)\s+(\d+)\s+(\d+)\s+(v1)\s+(\d+)\s+(\d+)\s*$`).
		FindAllStringSubmatch(out.String(), -1) {
		require.Equal(t, m[3], m[4], m[0])
		require.Equal(t, m[6], m[7], m[0])
	}
	// Together they spend at most the cap on passes 1 and 2, everything due on the drain, and
	// nothing on pass 3; plan's backlog after each step (four steps a mode, in the order of the
	// passes, auto then off).
	intel := regexp.MustCompile(`(?m)^  interactions \+ relationship_strengths, api_v2 (auto|off): (\d+) requests \((?:cap (\d+)|no cap)\).*\n    backlog after it \(plan\): (\d+) requests due .*, (\d+) pass\(es\) at the cap of (\d+)$`).
		FindAllStringSubmatch(out.String(), -1)
	require.Len(t, intel, 8, out.String())
	type step struct{ requests, capacity, backlog, passes int }
	steps := map[string][]step{}
	for _, m := range intel {
		var s step
		s.requests, _ = strconv.Atoi(m[2])
		s.capacity, _ = strconv.Atoi(m[3]) // "" (no cap) reads as 0
		s.backlog, _ = strconv.Atoi(m[4])
		s.passes, _ = strconv.Atoi(m[5])
		require.Equal(t, strconv.Itoa(intelCap), m[6], m[0])
		steps[m[1]] = append(steps[m[1]], s)
	}
	for mode, st := range steps {
		require.Len(t, st, 4, mode)
		p1, p2, drain, p3 := st[0], st[1], st[2], st[3]
		require.Equal(t, intelCap, p1.capacity, "pass 1, api_v2 %s", mode)
		require.Equal(t, intelCap, p1.requests, "pass 1 spends the cap (more is due at this scale), api_v2 %s", mode)
		require.Positive(t, p1.backlog, "pass 1 leaves a backlog, api_v2 %s", mode)
		require.Equal(t, (p1.backlog+intelCap-1)/intelCap, p1.passes, "plan's passes for the backlog after pass 1, api_v2 %s", mode)
		require.LessOrEqual(t, p2.requests, intelCap, "pass 2, api_v2 %s", mode)
		require.Zero(t, drain.capacity, "the drain runs without a cap, api_v2 %s", mode)
		// plan's backlog is one request per window: an empty one costs none, a full one more.
		require.Positive(t, drain.requests, "the drain reads the backlog, api_v2 %s", mode)
		require.Zero(t, drain.backlog, "the drain leaves no backlog, api_v2 %s", mode)
		require.Zero(t, drain.passes, mode)
		require.Equal(t, intelCap, p3.capacity, "pass 3, api_v2 %s", mode)
		require.Zero(t, p3.requests, "nothing due: no request on interactions and relationship_strengths, api_v2 %s", mode)
	}
	require.NotContains(t, out.String(), "NOT MET")
	require.Regexp(t, `(?m)^  api_v2 auto: pass 3 \(nothing due\): interactions \+ relationship_strengths = 0 requests: 0, met$`, out.String())
	require.Regexp(t, `(?m)^  api_v2 off: pass 1 \(empty warehouse\): interactions \+ relationship_strengths ≤ quota.intelligence_requests: 50 ≤ 50, met$`, out.String())
}

// TestBenchTargetsFail: bench fails, naming the target, when the pass with nothing due sends a
// request on interactions or relationship_strengths, when a capped pass spends past the cap,
// or when a new stream spends other than its bound.
func TestBenchTargetsFail(t *testing.T) {
	t.Parallel()
	good := func() benchModeReport {
		return benchModeReport{Mode: APIV2Auto, Passes: []passReport{
			{Title: "pass 1 (empty warehouse)", Kind: passFull, Intelligence: benchIntelligence{Requests: 2000, Cap: 2000},
				Streams: []streamReport{{Stream: "interactions", Requests: 2000, Bound: 2000}, {Stream: "reminders", Requests: 3, Bound: 3}}},
			{Title: "drain (interactions and relationship_strengths alone, no cap)", Kind: passDrain, Intelligence: benchIntelligence{Requests: 9000}},
			{Title: "pass 3 (nothing due)", Kind: passNothingDue, Intelligence: benchIntelligence{Cap: 2000}},
		}}
	}
	var out strings.Builder
	require.NoError(t, checkBenchTargets(&out, []benchModeReport{good()}), out.String())
	require.NotContains(t, out.String(), "NOT MET")

	for name, spoil := range map[string]func(*benchModeReport){
		"nothing due sends": func(r *benchModeReport) { r.Passes[2].Intelligence.Requests = 1 },
		"past the cap":      func(r *benchModeReport) { r.Passes[0].Intelligence.Requests = 2001 },
		"a bound not spent": func(r *benchModeReport) { r.Passes[0].Streams[1].Requests = 4 },
	} {
		r := good()
		spoil(&r)
		out.Reset()
		err := checkBenchTargets(&out, []benchModeReport{r})
		require.Error(t, err, name)
		require.Contains(t, out.String(), "NOT MET", name)
	}
}

// TestBenchDaySmoke runs bench --day at a tiny scale with a few changes runs, each api_v2
// mode's day in a child process of its own: --json prints one object per mode with exactly
// the keys of the contract; under auto a quiet changes run costs at most 2 requests, each
// trickle run at most 3 plus one per entity it changed, and every change made is stored once.
// One change a run: on this workspace's lists of 7 entries, two changed entries on one list
// make the path rule read that list through v2 (1 page < 2 due), and the v2 probe's v1
// requests then cost more than the v1 refresh would (docs/benchmarks.md, bench --day).
func TestBenchDaySmoke(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	child := func(ctx context.Context, args []string) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestBenchFakeProcess$", "--"}, args...)...)
		cmd.Env = append(os.Environ(), benchFakeEnv+"=1")
		return cmd, nil
	}
	var out, errOut syncBuffer
	e := env{stdout: &out, stderr: &errOut, getenv: envOf(map[string]string{"DATABASE_URL": dbURL})}
	err := runBench(t.Context(), e, []string{"--day", "--json", "--scale", "0.005", "--change-runs", "3", "--trickle", "1"}, child)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())

	keys := []string{"api_v2", "full_pass_requests", "quiet_change_run_requests", "change_runs", "change_run_requests",
		"changed_entities", "day_requests", "month_requests", "changes_made", "changes_stored"}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, out.String())
	days := map[string]map[string]any{}
	for _, line := range lines {
		var day map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &day), line)
		require.ElementsMatch(t, keys, slices.Collect(maps.Keys(day)), line)
		days[day["api_v2"].(string)] = day
	}
	require.Len(t, days, 2, out.String())
	for mode, day := range days {
		require.InDelta(t, 3, day["change_runs"], 0, mode)
		require.InDelta(t, 3, day["changes_made"], 0, mode)
		require.Equal(t, day["changes_made"], day["changes_stored"], "every change made stored once, api_v2 %s", mode)
		require.InDelta(t, day["full_pass_requests"].(float64)+day["quiet_change_run_requests"].(float64)+day["change_run_requests"].(float64),
			day["day_requests"], 0, mode)
		require.InDelta(t, 30*day["day_requests"].(float64), day["month_requests"], 0, mode)
	}
	auto := days["auto"]
	require.LessOrEqual(t, auto["quiet_change_run_requests"], 2.0, "a quiet changes run under auto")
	require.Less(t, auto["day_requests"], days["off"]["day_requests"])

	// Run by run (the table on stderr): auto spends at most 3 plus one per changed entity.
	runs := regexp.MustCompile(`(?m)^\s*(\d+)\s+\d\d-\d\d \d\d:\d\d\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`).FindAllStringSubmatch(errOut.String(), -1)
	require.Len(t, runs, 3, errOut.String())
	for _, m := range runs {
		entities, _ := strconv.Atoi(m[3])
		autoRequests, _ := strconv.Atoi(m[4])
		require.Positive(t, entities, m[0])
		require.LessOrEqual(t, autoRequests, 3+entities, "a trickle run under auto: %s", m[0])
	}
	require.Contains(t, errOut.String(), "every change made stored exactly once: 3 of 3, met")
}
