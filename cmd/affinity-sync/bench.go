package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/affinity-sync/affinity-sync/loader/pgtest/localpg"
)

// The bench command (issue 7) runs the production sync against the fake API
// served by a child `affinity-sync fake-api` process, so that the peak RSS it
// reports is the sync's alone, and prints wall time, rows/s, requests spent
// next to their lower bound, and peak RSS; with --latency it compares the wall
// time with max(requests / rate, longest dependent chain × latency).

// benchWorkspace is the workspace of issue 7 at scale 1: 100,000 persons,
// 50,000 organizations, 5,000 opportunities, 20 lists (9 of persons, 9 of
// organizations, 2 of opportunities) and 30,000 list entries (18 × 1,389 on
// the person and organization lists, plus the 5,000 opportunities' entries).
type benchSizes struct {
	persons, organizations, opportunities            int
	personLists, organizationLists, opportunityLists int
	entriesPerList                                   int
}

func benchWorkspace() benchSizes { return benchSizes{100_000, 50_000, 5_000, 9, 9, 2, 1_389} }

// benchKey is the fake's key for the run; it is no credential.
const benchKey = "bench-key"

// selfStarter builds the command that runs this program with args (a command and its
// flags): the fake API, and the sync passes of each api_v2 mode, each in a child process of
// its own, so that each peak RSS is that process's alone.
type selfStarter func(ctx context.Context, args []string) (*exec.Cmd, error)

// selfCommand runs this binary.
func selfCommand(ctx context.Context, args []string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	return exec.CommandContext(ctx, self, args...), nil
}

func cmdBench(ctx context.Context, e env, args []string) error {
	return runBench(ctx, e, args, selfCommand)
}

// benchOptions are the bench flags.
type benchOptions struct {
	scale      float64
	workspace  string // "issue" or "default"
	latency    time.Duration
	perMinute  int
	secondPass bool
	drain      bool  // read the intelligence backlog without a cap, then run a pass with nothing due
	intelCap   int64 // quota.intelligence_requests of the full passes
	modes      []APIV2Mode
	day        benchDayOptions // --day and its flags (bench_day.go)
	logLevel   string
	cpuProfile string
}

// parseModes reads --api-v2: a comma-separated list of api_v2 settings.
func parseModes(v string) ([]APIV2Mode, error) {
	var modes []APIV2Mode
	for m := range strings.SplitSeq(v, ",") {
		mode := APIV2Mode(strings.TrimSpace(m))
		switch mode {
		case APIV2Auto, APIV2On, APIV2Off:
		default:
			return nil, usagef("bench: --api-v2 takes auto, on and off, comma-separated; got %q", m)
		}
		if slices.Contains(modes, mode) {
			return nil, usagef("bench: --api-v2 names %q twice", mode)
		}
		modes = append(modes, mode)
	}
	return modes, nil
}

func runBench(ctx context.Context, e env, args []string, start selfStarter) error {
	fs := newFlags("bench", e)
	var o benchOptions
	fs.Float64Var(&o.scale, "scale", 1, "multiplies the persons, organizations, opportunities and list entries of the issue-7 workspace")
	fs.StringVar(&o.workspace, "workspace", "", `"issue" (100k persons, …) or "default" (the fake's small workspace); default: "default" with --latency, else "issue"`)
	fs.DurationVar(&o.latency, "latency", 0, "latency the fake adds to every request")
	fs.IntVar(&o.perMinute, "per-minute", 0, "quota.per_minute for the run (0 = the per-minute limiter is lifted)")
	fs.BoolVar(&o.secondPass, "second-pass", true, "run a second pass over the unchanged workspace and report its requests")
	fs.BoolVar(&o.drain, "drain", true, "after the passes, read the intelligence backlog without a cap (interactions and relationship_strengths alone), then run a pass with nothing due, which must send them no request")
	fs.Int64Var(&o.intelCap, "intelligence-requests", defaultConfig().Quota.IntelligenceRequests, "quota.intelligence_requests of the full passes (0 = no cap)")
	modesFlag := fs.String("api-v2", "auto,off", "the affinity.api_v2 settings to run side by side, comma-separated, each in a warehouse and a child process of its own")
	fs.StringVar(&o.logLevel, "log-level", "warn", "log level of the sync (debug, info, warn, error)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of each mode's sync process to this file, suffixed with the mode")
	o.day.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.modes, err = parseModes(*modesFlag); err != nil {
		return err
	}
	if o.workspace == "" {
		o.workspace = "issue"
		if o.latency > 0 {
			o.workspace = "default"
		}
	}
	if o.workspace != "issue" && o.workspace != "default" {
		return usagef(`bench: --workspace must be "issue" or "default", got %q`, o.workspace)
	}
	if !(o.scale > 0) || o.latency < 0 || o.perMinute < 0 || o.intelCap < 0 {
		return usagef("bench: --scale must be positive, --latency, --per-minute and --intelligence-requests not negative")
	}
	if err := o.day.check(o); err != nil {
		return err
	}

	cfg := defaultConfig()
	cfg.Log.Level, cfg.Log.Format = o.logLevel, "text"
	log := newLogger(e.stderr, cfg)
	out := e.stdout
	if o.day.json {
		out = e.stderr // stdout holds the JSON alone
	}

	dbURL, stopDB, err := benchDatabase(ctx, e.getenv("DATABASE_URL"), out, log)
	if err != nil {
		return err
	}
	defer stopDB()
	if o.day.on {
		return runBenchDay(ctx, e, o, start, dbURL)
	}

	fakeArgs := append([]string{"--addr", "127.0.0.1:0", "--key", benchKey}, o.workspaceArgs()...)
	if o.latency > 0 {
		fakeArgs = append(fakeArgs, "--latency", o.latency.String())
	}
	fake, err := startBenchFake(ctx, start, fakeArgs)
	if err != nil {
		return err
	}
	defer fake.stop(log)
	fmt.Fprintf(out, "fake API: pid %d on %s: fake-api %s\n", fake.cmd.Process.Pid, fake.url, strings.Join(fakeArgs, " "))

	cfg.Quota.PerMinute = o.perMinute
	rate := cfg.limits().EffectivePerMinute()
	if rate > 0 {
		fmt.Fprintf(out, "rate: %d requests a minute in effect (quota.per_minute %d less the %.0f%% reserve)\n",
			rate, o.perMinute, 100*cfg.Quota.Reserve)
	} else {
		fmt.Fprintln(out, "rate: per-minute limiter lifted")
	}

	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	reports := make([]benchModeReport, 0, len(o.modes))
	for _, mode := range o.modes {
		childArgs := []string{benchPassesCommand, "--base-url", fake.url, "--schema", schema + "_" + string(mode),
			"--api-v2", string(mode), "--per-minute", strconv.Itoa(o.perMinute), "--second-pass=" + strconv.FormatBool(o.secondPass),
			"--drain=" + strconv.FormatBool(o.drain), "--intelligence-requests", strconv.FormatInt(o.intelCap, 10),
			"--log-level", o.logLevel}
		if o.cpuProfile != "" {
			childArgs = append(childArgs, "--cpuprofile", o.cpuProfile+"."+string(mode))
		}
		r, err := runBenchPasses(ctx, start, childArgs, dbURL, e.stderr)
		if err != nil {
			return fmt.Errorf("bench api_v2 %s: %w", mode, err)
		}
		r.Mode = mode
		reports = append(reports, r)
	}
	for i := range reports[0].Passes {
		fmt.Fprintln(out)
		printPassSideBySide(out, i, reports)
		if i == 0 && o.latency > 0 {
			for _, r := range reports {
				fmt.Fprintf(out, "api_v2 %s: ", r.Mode)
				printLatencyLimit(out, r.Passes[0], o.latency, rate)
			}
		}
	}
	return checkBenchTargets(out, reports)
}

// workspaceArgs are the fake's workspace flags (fakeFlags) of --workspace and --scale.
func (o benchOptions) workspaceArgs() []string {
	if o.workspace != "issue" {
		return nil
	}
	w := benchWorkspace()
	scaled := func(n int) string { return strconv.Itoa(int(math.Round(float64(n) * o.scale))) }
	return []string{"--persons", scaled(w.persons), "--organizations", scaled(w.organizations), "--opportunities", scaled(w.opportunities),
		"--person-lists", strconv.Itoa(w.personLists), "--organization-lists", strconv.Itoa(w.organizationLists),
		"--opportunity-lists", strconv.Itoa(w.opportunityLists), "--entries-per-list", scaled(w.entriesPerList)}
}

// benchDatabase is the server bench's warehouses live on: url (DATABASE_URL) when set,
// else a throwaway local cluster, stopped by stop.
func benchDatabase(ctx context.Context, url string, out io.Writer, log *slog.Logger) (_ string, stop func(), _ error) {
	if url != "" {
		fmt.Fprintln(out, "database: DATABASE_URL")
		return url, func() {}, nil
	}
	fmt.Fprintln(out, "database: a throwaway local Postgres (DATABASE_URL is not set)")
	cluster, err := localpg.Start(ctx, log)
	if err != nil {
		return "", nil, fmt.Errorf("start local postgres: %w (set DATABASE_URL to use an existing server)", err)
	}
	return cluster.URL("postgres"), func() {
		if err := cluster.Stop(); err != nil {
			log.Warn("stop local postgres", "error", err)
		}
	}, nil
}

// benchFake is the fake API child process.
type benchFake struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func startBenchFake(ctx context.Context, start selfStarter, args []string) (*benchFake, error) {
	cmd, err := start(ctx, append([]string{"fake-api"}, args...))
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start fake api: %w", err)
	}
	cmd.Stderr = os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start fake api: %w", err)
	}
	f := &benchFake{cmd: cmd, done: make(chan error, 1)}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`^listening on (http://\S+)\n$`).FindStringSubmatch(line)
	if m == nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("start fake api: first line %q: %v, exit: %v", line, err, cmd.Wait())
	}
	f.url = m[1]
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		f.done <- cmd.Wait()
	}()
	return f, nil
}

// stop interrupts the fake and waits for it.
func (f *benchFake) stop(log *slog.Logger) {
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-f.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			log.Warn("fake api child", "error", err)
		}
	case <-time.After(15 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
}
