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
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/loader"
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

// fakeStarter builds the command that serves the fake API with args (the
// flags of fake-api).
type fakeStarter func(ctx context.Context, args []string) (*exec.Cmd, error)

// selfFake runs this binary's fake-api command.
func selfFake(ctx context.Context, args []string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	return exec.CommandContext(ctx, self, append([]string{"fake-api"}, args...)...), nil
}

func cmdBench(ctx context.Context, e env, args []string) error {
	return runBench(ctx, e, args, selfFake)
}

// benchOptions are the bench flags.
type benchOptions struct {
	scale      float64
	workspace  string // "issue" or "default"
	latency    time.Duration
	perMinute  int
	secondPass bool
}

func runBench(ctx context.Context, e env, args []string, startFake fakeStarter) error {
	fs := newFlags("bench", e)
	var o benchOptions
	fs.Float64Var(&o.scale, "scale", 1, "multiplies the persons, organizations, opportunities and list entries of the issue-7 workspace")
	fs.StringVar(&o.workspace, "workspace", "", `"issue" (100k persons, …) or "default" (the fake's small workspace); default: "default" with --latency, else "issue"`)
	fs.DurationVar(&o.latency, "latency", 0, "latency the fake adds to every request")
	fs.IntVar(&o.perMinute, "per-minute", 0, "quota.per_minute for the run (0 = the per-minute limiter is lifted)")
	fs.BoolVar(&o.secondPass, "second-pass", true, "run a second pass over the unchanged workspace and report its requests")
	logLevel := fs.String("log-level", "warn", "log level of the sync (debug, info, warn, error)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the bench process (the sync) to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench: unexpected argument %q", fs.Arg(0))
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
	if !(o.scale > 0) || o.latency < 0 || o.perMinute < 0 {
		return usagef("bench: --scale must be positive, --latency and --per-minute not negative")
	}

	cfg := defaultConfig()
	cfg.Log.Level, cfg.Log.Format = *logLevel, "text"
	log := newLogger(e.stderr, cfg)
	out := e.stdout

	fakeArgs := []string{"--addr", "127.0.0.1:0", "--key", benchKey}
	if o.workspace == "issue" {
		w := benchWorkspace()
		scaled := func(n int) string { return strconv.Itoa(int(math.Round(float64(n) * o.scale))) }
		fakeArgs = append(fakeArgs,
			"--persons", scaled(w.persons), "--organizations", scaled(w.organizations), "--opportunities", scaled(w.opportunities),
			"--person-lists", strconv.Itoa(w.personLists), "--organization-lists", strconv.Itoa(w.organizationLists),
			"--opportunity-lists", strconv.Itoa(w.opportunityLists), "--entries-per-list", scaled(w.entriesPerList))
	}
	if o.latency > 0 {
		fakeArgs = append(fakeArgs, "--latency", o.latency.String())
	}
	fake, err := startBenchFake(ctx, startFake, fakeArgs)
	if err != nil {
		return err
	}
	defer fake.stop(log)
	fmt.Fprintf(out, "fake API: pid %d on %s: fake-api %s\n", fake.cmd.Process.Pid, fake.url, strings.Join(fakeArgs, " "))

	dbURL := e.getenv("DATABASE_URL")
	if dbURL == "" {
		fmt.Fprintln(out, "database: a throwaway local Postgres (DATABASE_URL is not set)")
		cluster, err := localpg.Start(ctx, log)
		if err != nil {
			return fmt.Errorf("start local postgres: %w (set DATABASE_URL to use an existing server)", err)
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				log.Warn("stop local postgres", "error", err)
			}
		}()
		dbURL = cluster.URL("postgres")
	} else {
		fmt.Fprintln(out, "database: DATABASE_URL")
	}
	cfg.Affinity.APIKey = secret(benchKey)
	cfg.Affinity.BaseURL = fake.url
	cfg.Database.URL = secret(dbURL)
	cfg.Database.Schema = fmt.Sprintf("bench_%d", time.Now().UnixNano())
	cfg.Quota.PerMinute = o.perMinute
	cfg.Quota.DailyRequests = 0 // one pass of the scale-1 workspace alone is ~80,000 requests
	if err := cfg.validate(); err != nil {
		return err
	}
	rate := cfg.limits().EffectivePerMinute()
	if rate > 0 {
		fmt.Fprintf(out, "rate: %d requests a minute in effect (quota.per_minute %d less the %.0f%% reserve)\n",
			rate, o.perMinute, 100*cfg.Quota.Reserve)
	} else {
		fmt.Fprintln(out, "rate: per-minute limiter lifted")
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("create cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	first, err := benchPass(ctx, cfg, log)
	if err != nil {
		return err
	}
	bound, err := requestBounds(ctx, cfg, first.sum.result)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	first.print(out, "pass 1 (empty warehouse)", bound)
	if o.latency > 0 {
		printLatencyLimit(out, first, bound, o.latency, rate)
	}
	if o.secondPass {
		second, err := benchPass(ctx, cfg, log)
		if err != nil {
			return err
		}
		bound2, err := requestBounds(ctx, cfg, second.sum.result)
		if err != nil {
			return err
		}
		fmt.Fprintln(out)
		second.print(out, "pass 2 (no changes)", bound2)
	}
	return nil
}

// benchFake is the fake API child process.
type benchFake struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func startBenchFake(ctx context.Context, startFake fakeStarter, args []string) (*benchFake, error) {
	cmd, err := startFake(ctx, args)
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

// passResult is one measured sync pass.
type passResult struct {
	sum     syncSummary
	wall    time.Duration
	peakRSS int64 // bytes, the process's high-water mark so far
}

func benchPass(ctx context.Context, cfg Config, log *slog.Logger) (passResult, error) {
	started := time.Now()
	sum, err := syncOnce(ctx, cfg, log, syncOptions{streams: extractor.Streams()})
	wall := time.Since(started)
	if err != nil {
		return passResult{}, fmt.Errorf("bench sync: %w", err)
	}
	if code := sum.exitCode(); code != exitOK {
		var errs []string
		for _, s := range sum.result.Streams {
			if s.Err != nil {
				errs = append(errs, s.Err.Error())
			}
		}
		return passResult{}, fmt.Errorf("bench sync ended with exit status %d: %s", code, strings.Join(errs, "; "))
	}
	rss, err := peakRSS()
	if err != nil {
		return passResult{}, err
	}
	return passResult{sum: sum, wall: wall, peakRSS: rss}, nil
}

// peakRSS reads the process's resident-set high-water mark (VmHWM).
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read peak rss: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read peak rss: %q: %w", line, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("read peak rss: no VmHWM in /proc/self/status")
}

// streamBound is the fewest requests a stream can spend on the warehouse's
// current contents, and the longest chain of requests that must follow one
// another.
type streamBound struct {
	requests, chain int64
	how             string
}

// requestBounds derives each stream's lower bound from what the pass wrote, through the
// stream registry's cost models: a paged listing of n rows costs floor(n/500)+1 requests (an
// exactly full last page is followed by an empty one), an unpaged call one request, and the
// per-entity streams one request per entity fetched, at most extractor.DefaultWorkers of
// them in flight.
func requestBounds(ctx context.Context, cfg Config, res extractor.Result) (map[string]streamBound, error) {
	store, err := loader.Open(ctx, cfg.Database.URL.reveal(), cfg.Database.Schema, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	defer store.Close()
	counts, err := store.TableCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	live := map[string]int64{}
	for _, c := range counts {
		live[c.Table] = c.Live
	}
	lists, err := store.LiveLists(ctx)
	if err != nil {
		return nil, fmt.Errorf("read lists: %w", err)
	}
	tracked, err := store.TrackedFields(ctx)
	if err != nil {
		return nil, fmt.Errorf("read tracked fields: %w", err)
	}
	rows := map[string]int64{}
	for _, s := range res.Streams {
		rows[s.Stream] = s.Rows
	}
	// The sizes the pass saw. The with_interaction_dates listing leaves out the entities
	// without interactions: its length is what the stream wrote beyond the first listing (in
	// an unchanged workspace no row is written twice by one listing).
	sizes := loader.PlanCounts{
		Persons: live["persons"], PersonsWithDates: max(0, rows[extractor.StreamPersons]-live["persons"]),
		Organizations: live["organizations"], OrganizationsWithDates: max(0, rows[extractor.StreamOrganizations]-live["organizations"]),
		Opportunities: live["opportunities"], Notes: live["notes"], TrackedFields: int64(len(tracked)),
	}
	for _, l := range lists {
		var size int64
		if l.ListSize != nil {
			size = *l.ListSize
		}
		sizes.ListSizes = append(sizes.ListSizes, size)
	}
	for _, s := range res.Streams {
		switch s.Stream {
		case extractor.StreamFieldValues:
			sizes.ValuesDue[loader.RefreshNew] = s.Pages
		case extractor.StreamOrganizationDetails:
			sizes.DetailsDue = s.Pages
		}
	}
	costs, err := extractor.Costs(sizes, extractor.Streams(), extractor.CostOptions{})
	if err != nil {
		return nil, err
	}
	b := map[string]streamBound{}
	for _, c := range costs {
		how := make([]string, len(c.Costs))
		for i, x := range c.Costs {
			how[i] = x.Bound
		}
		b[c.Stream] = streamBound{c.Requests(), c.Chain(), strings.Join(how, " + ")}
	}
	return b, nil
}

func (p passResult) print(out io.Writer, title string, bound map[string]streamBound) {
	rows, _ := p.sum.result.Totals()
	var lower int64
	for _, b := range bound {
		lower += b.requests
	}
	fmt.Fprintf(out, "%s: wall %s, %d rows written (%.0f rows/s), %d requests sent (lower bound %d), peak RSS %.1f MiB\n",
		title, p.wall.Round(time.Millisecond), rows, float64(rows)/p.wall.Seconds(), p.sum.requests, lower,
		float64(p.peakRSS)/(1<<20))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  STREAM\tPAGES\tROWS\tLOWER BOUND\t")
	fmt.Fprintf(tw, "  %s\t-\t-\t%d = %s\t\n", extractor.WorkspaceCheck, bound[extractor.WorkspaceCheck].requests, bound[extractor.WorkspaceCheck].how)
	for _, s := range p.sum.result.Streams {
		b := bound[s.Stream]
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d = %s\t\n", s.Stream, s.Pages, s.Rows, b.requests, b.how)
	}
	_ = tw.Flush()
}

// printLatencyLimit compares the pass's wall time with its physical limit:
// the requests at the rate in effect, or the longest chain of requests that
// must follow one another (stage by stage, the longest stream of each),
// each costing the latency — whichever is longer.
func printLatencyLimit(out io.Writer, p passResult, bound map[string]streamBound, latency time.Duration, perMinute int) {
	stages := append([][]string{{extractor.WorkspaceCheck}}, extractor.Stages()...)
	var chain int64
	for _, st := range stages {
		var longest int64
		for _, s := range st {
			longest = max(longest, bound[s].chain)
		}
		chain += longest
	}
	byChain := time.Duration(chain) * latency
	var byRate time.Duration
	if perMinute > 0 {
		byRate = time.Duration(float64(p.sum.requests) / float64(perMinute) * float64(time.Minute))
	}
	limit := max(byChain, byRate)
	fmt.Fprintf(out, "latency limit: max(%d requests / %d a minute = %s, chain of %d requests × %s = %s) = %s; wall / limit = %.3f (target ≤ 1.15)\n",
		p.sum.requests, perMinute, byRate.Round(time.Millisecond), chain, latency, byChain.Round(time.Millisecond),
		limit.Round(time.Millisecond), p.wall.Seconds()/limit.Seconds())
}
