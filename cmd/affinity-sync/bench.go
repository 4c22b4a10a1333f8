package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
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
	modes      []APIV2Mode
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
	modesFlag := fs.String("api-v2", "auto,off", "the affinity.api_v2 settings to run side by side, comma-separated, each in a warehouse and a child process of its own")
	logLevel := fs.String("log-level", "warn", "log level of the sync (debug, info, warn, error)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of each mode's sync process to this file, suffixed with the mode")
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
	fake, err := startBenchFake(ctx, start, fakeArgs)
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
			"--log-level", *logLevel}
		if *cpuProfile != "" {
			childArgs = append(childArgs, "--cpuprofile", *cpuProfile+"."+string(mode))
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
	return nil
}

// runBenchPasses runs one mode's passes in a child process and reads its report.
func runBenchPasses(ctx context.Context, start selfStarter, args []string, dbURL string, stderr io.Writer) (benchModeReport, error) {
	cmd, err := start(ctx, args)
	if err != nil {
		return benchModeReport{}, err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "DATABASE_URL="+dbURL)
	cmd.Stderr = stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	b, err := cmd.Output()
	if err != nil {
		return benchModeReport{}, fmt.Errorf("sync passes child: %w", err)
	}
	var r benchModeReport
	// The report is the last line: anything the child printed before it is not ours.
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return benchModeReport{}, fmt.Errorf("sync passes child: read report %q: %w", lines[len(lines)-1], err)
	}
	if len(r.Passes) == 0 {
		return benchModeReport{}, errors.New("sync passes child: no pass reported")
	}
	return r, nil
}

// benchPassesCommand is the hidden command bench runs in a child process per api_v2 mode.
const benchPassesCommand = "bench-passes"

// benchModeReport is what one mode's child reports: one line of JSON on stdout.
type benchModeReport struct {
	Mode   APIV2Mode    `json:"mode"`
	Passes []passReport `json:"passes"`
}

// passReport is one measured pass.
type passReport struct {
	Title    string         `json:"title"`
	Wall     time.Duration  `json:"wall"`
	Rows     int64          `json:"rows"`
	Requests int64          `json:"requests"`
	PeakRSS  int64          `json:"peak_rss"` // bytes, the child's high-water mark so far
	Streams  []streamReport `json:"streams"`  // the workspace check first, then in run order
}

// streamReport is one stream of a pass.
type streamReport struct {
	Stream   string `json:"stream"`
	Path     string `json:"path,omitempty"`
	Pages    int64  `json:"pages"`
	Rows     int64  `json:"rows"`
	Requests int64  `json:"requests"`
	Bound    int64  `json:"bound"`
	Chain    int64  `json:"chain"`
	How      string `json:"how"`
}

func (p passReport) lowerBound() int64 {
	var n int64
	for _, s := range p.Streams {
		n += s.Bound
	}
	return n
}

// cmdBenchPasses runs bench's passes for one api_v2 mode against the fake at --base-url, in
// the warehouse DATABASE_URL names, and prints the report as one line of JSON.
func cmdBenchPasses(ctx context.Context, e env, args []string) error {
	fs := newFlags(benchPassesCommand, e)
	baseURL := fs.String("base-url", "", "the fake API")
	schema := fs.String("schema", "", "the warehouse schema")
	mode := fs.String("api-v2", string(APIV2Auto), "affinity.api_v2")
	perMinute := fs.Int("per-minute", 0, "quota.per_minute")
	secondPass := fs.Bool("second-pass", true, "run a second, unchanged pass")
	logLevel := fs.String("log-level", "warn", "log level of the sync")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := defaultConfig()
	cfg.Log.Level, cfg.Log.Format = *logLevel, "text"
	log := newLogger(e.stderr, cfg)
	cfg.Affinity.APIKey = secret(benchKey)
	cfg.Affinity.BaseURL = *baseURL
	cfg.Affinity.APIV2 = APIV2Mode(*mode)
	cfg.Database.URL = secret(e.getenv("DATABASE_URL"))
	cfg.Database.Schema = *schema
	cfg.Quota.PerMinute = *perMinute
	cfg.Quota.DailyRequests = 0 // one v1 pass of the scale-1 workspace alone is ~80,000 requests
	if err := cfg.validate(); err != nil {
		return err
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
	var r benchModeReport
	titles := []string{"pass 1 (empty warehouse)", "pass 2 (no changes)"}
	if !*secondPass {
		titles = titles[:1]
	}
	for _, title := range titles {
		p, err := benchPass(ctx, cfg, log)
		if err != nil {
			return err
		}
		report, err := p.report(ctx, cfg, title)
		if err != nil {
			return err
		}
		r.Passes = append(r.Passes, report)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
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

// passResult is one measured sync pass.
type passResult struct {
	sum      syncSummary
	wall     time.Duration
	peakRSS  int64            // bytes, the process's high-water mark so far
	requests map[string]int64 // by stream, the workspace check under extractor.WorkspaceCheck
}

func benchPass(ctx context.Context, cfg Config, log *slog.Logger) (passResult, error) {
	var mu sync.Mutex
	requests := map[string]int64{}
	observe := func(info affinity.RequestInfo) {
		name := extractor.StreamOfRequest(info)
		mu.Lock()
		requests[name]++
		mu.Unlock()
	}
	started := time.Now()
	sum, err := syncOnce(ctx, cfg, log, syncOptions{streams: extractor.Streams(), observe: observe})
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
	mu.Lock()
	defer mu.Unlock()
	return passResult{sum: sum, wall: wall, peakRSS: rss, requests: maps.Clone(requests)}, nil
}

// report is the pass with each stream's lower bound.
func (p passResult) report(ctx context.Context, cfg Config, title string) (passReport, error) {
	bound, err := requestBounds(ctx, cfg, p.sum.result)
	if err != nil {
		return passReport{}, err
	}
	rows, _ := p.sum.result.Totals()
	r := passReport{Title: title, Wall: p.wall, Rows: rows, Requests: p.sum.requests, PeakRSS: p.peakRSS}
	// The workspace check is sent before the streams' client observes requests: it is what
	// the ledger counted beyond the streams.
	check := p.sum.requests
	for _, s := range p.sum.result.Streams {
		check -= p.requests[s.Stream]
	}
	b := bound[extractor.WorkspaceCheck]
	r.Streams = append(r.Streams, streamReport{Stream: extractor.WorkspaceCheck, Requests: check,
		Bound: b.requests, Chain: b.chain, How: b.how})
	for _, s := range p.sum.result.Streams {
		b := bound[s.Stream]
		sr := streamReport{Stream: s.Stream, Pages: s.Pages, Rows: s.Rows, Requests: p.requests[s.Stream], Bound: b.requests, Chain: b.chain, How: b.how}
		if s.Path != nil {
			sr.Path = s.Path.Path
		}
		r.Streams = append(r.Streams, sr)
	}
	return r, nil
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
// them in flight. A stream that read through API v2 costs ceil(n/100) pages for each
// listing of n rows it read whole (a list's live entries, every person, every company), the
// probe's v1 requests, and one v1 request per entity still due after them.
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
	entries, err := store.ListSizes(ctx, nil)
	if err != nil {
		return nil, err
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
		Live: live, TrackedFields: int64(len(tracked)),
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
			sizes.ValuesDue[loader.RefreshNew] = s.EntityRequests
		case extractor.StreamOrganizationDetails:
			sizes.DetailsDue = s.EntityRequests
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
	entriesOf := map[int64]int64{}
	for _, e := range entries {
		entriesOf[e.ListID] = e.Entries
	}
	for _, s := range res.Streams {
		if v2 := v2Bound(s, entriesOf, sizes.Persons, sizes.Organizations); v2 != nil {
			b[s.Stream] = *v2
		}
	}
	return b, nil
}

// v2Bound is the lower bound of a stream that sent anything through API v2 or its probe:
// ceil(n/100) per listing of n rows read whole, the v2 pages before a fallback to v1, the
// probe's v1 requests, and one v1 request per entity still due. Nil for a v1-only pass.
func v2Bound(s extractor.StreamResult, entries map[int64]int64, persons, organizations int64) *streamBound {
	v := s.V2
	if v.Pages == 0 && v.ProbeRequests == 0 {
		return nil
	}
	var pages int64
	var how []string
	if len(v.Lists) > 0 {
		var n int64
		for _, id := range v.Lists {
			pages += loader.V2PagesOf(entries[id])
			n += entries[id]
		}
		how = append(how, fmt.Sprintf("Σ over %d lists (%d entries) of ceil(entries/%d)", len(v.Lists), n, loader.V2PageSize))
	}
	if v.Persons {
		pages += loader.V2PagesOf(persons)
		how = append(how, fmt.Sprintf("ceil(%d persons/%d)", persons, loader.V2PageSize))
	}
	if v.Companies {
		pages += loader.V2PagesOf(organizations)
		how = append(how, fmt.Sprintf("ceil(%d companies/%d)", organizations, loader.V2PageSize))
	}
	if len(v.Lists) == 0 && !v.Persons && !v.Companies {
		pages = v.Pages
		how = append(how, fmt.Sprintf("%d v2 pages before the fallback to v1", v.Pages))
	}
	how = append(how, fmt.Sprintf("probe (%d)", v.ProbeRequests), fmt.Sprintf("1 per entity still due (%d)", s.EntityRequests))
	w := int64(extractor.DefaultWorkers)
	return &streamBound{requests: pages + v.ProbeRequests + s.EntityRequests,
		chain: pages + v.ProbeRequests + (s.EntityRequests+w-1)/w, how: strings.Join(how, " + ")}
}

// printPassSideBySide prints pass i of every mode: a summary line per mode, then each
// stream's requests against its lower bound, mode by mode, then how each bound follows
// from the sizes.
func printPassSideBySide(out io.Writer, i int, reports []benchModeReport) {
	for _, r := range reports {
		p := r.Passes[i]
		fmt.Fprintf(out, "%s, api_v2 %s: wall %s, %d rows written (%.0f rows/s), %d requests sent (lower bound %d), peak RSS %.1f MiB\n",
			p.Title, r.Mode, p.Wall.Round(time.Millisecond), p.Rows, float64(p.Rows)/p.Wall.Seconds(), p.Requests, p.lowerBound(),
			float64(p.PeakRSS)/(1<<20))
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "  STREAM\t"
	for _, r := range reports {
		header += fmt.Sprintf("%s PATH\t%s REQUESTS\t%s BOUND\t", r.Mode, r.Mode, r.Mode)
	}
	fmt.Fprintln(tw, header)
	for j, s := range reports[0].Passes[i].Streams {
		line := "  " + s.Stream + "\t"
		for _, r := range reports {
			x := r.Passes[i].Streams[j]
			path := x.Path
			if path == "" {
				path = "v1"
			}
			line += fmt.Sprintf("%s\t%d\t%d\t", path, x.Requests, x.Bound)
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
	for _, r := range reports {
		fmt.Fprintf(out, "  lower bounds, api_v2 %s:\n", r.Mode)
		for _, s := range r.Passes[i].Streams {
			fmt.Fprintf(out, "    %s: %d = %s\n", s.Stream, s.Bound, s.How)
		}
	}
}

// printLatencyLimit compares the pass's wall time with its physical limit:
// the requests at the rate in effect, or the longest chain of requests that
// must follow one another (stage by stage, the longest stream of each),
// each costing the latency — whichever is longer.
func printLatencyLimit(out io.Writer, p passReport, latency time.Duration, perMinute int) {
	chainOf := map[string]int64{}
	for _, s := range p.Streams {
		chainOf[s.Stream] = s.Chain
	}
	stages := append([][]string{{extractor.WorkspaceCheck}}, extractor.Stages()...)
	var chain int64
	for _, st := range stages {
		var longest int64
		for _, s := range st {
			longest = max(longest, chainOf[s])
		}
		chain += longest
	}
	byChain := time.Duration(chain) * latency
	var byRate time.Duration
	if perMinute > 0 {
		byRate = time.Duration(float64(p.Requests) / float64(perMinute) * float64(time.Minute))
	}
	limit := max(byChain, byRate)
	fmt.Fprintf(out, "latency limit: max(%d requests / %d a minute = %s, chain of %d requests × %s = %s) = %s; wall / limit = %.3f (target ≤ 1.15)\n",
		p.Requests, perMinute, byRate.Round(time.Millisecond), chain, latency, byChain.Round(time.Millisecond),
		limit.Round(time.Millisecond), p.Wall.Seconds()/limit.Seconds())
}
