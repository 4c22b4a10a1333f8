package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
)

// runBenchPasses runs one mode's passes in a child process and reads its report.
func runBenchPasses(ctx context.Context, start selfStarter, args []string, dbURL string, stderr io.Writer) (benchModeReport, error) {
	var r benchModeReport
	if err := runBenchChild(ctx, start, args, dbURL, stderr, &r); err != nil {
		return benchModeReport{}, fmt.Errorf("sync passes child: %w", err)
	}
	if len(r.Passes) == 0 {
		return benchModeReport{}, errors.New("sync passes child: no pass reported")
	}
	return r, nil
}

// runBenchChild runs one of bench's hidden commands (args) in a child process on the
// database dbURL and reads the JSON report it prints last into report.
func runBenchChild(ctx context.Context, start selfStarter, args []string, dbURL string, stderr io.Writer, report any) error {
	cmd, err := start(ctx, args)
	if err != nil {
		return err
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
		return err
	}
	// The report is the last line: anything the child printed before it is not ours.
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), report); err != nil {
		return fmt.Errorf("read report %q: %w", lines[len(lines)-1], err)
	}
	return nil
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
	// Kind is what the pass is for: "full" (every stream, within the intelligence cap),
	// "drain" (interactions and relationship_strengths alone, no cap) or "nothing_due" (a full
	// pass after the drain: the capped streams must send nothing).
	Kind         string            `json:"kind"`
	Intelligence benchIntelligence `json:"intelligence"`
}

// benchIntelligence is what the two per-entity intelligence streams (interactions and
// relationship_strengths) spent in a pass, the cap the pass ran with, and what the warehouse
// has due after it, as plan reads it (intelligenceBacklog, as status reads it too).
type benchIntelligence struct {
	Requests int64 `json:"requests"` // interactions + relationship_strengths
	Cap      int64 `json:"cap"`      // quota.intelligence_requests of this pass; 0 = no cap
	// After the pass: the requests due, and the passes they need at BacklogCap (the cap of the
	// full passes), stream by stream.
	BacklogRequests int64          `json:"backlog_requests"`
	BacklogPasses   int64          `json:"backlog_passes"`
	BacklogCap      int64          `json:"backlog_cap"`
	Backlog         []benchBacklog `json:"backlog"`
}

// benchBacklog is one capped stream's line of extractor.IntelligenceBacklog.
type benchBacklog struct {
	Stream   string `json:"stream"`
	Entities int64  `json:"entities"`
	Pairs    int64  `json:"pairs,omitempty"` // interactions: entity×type pairs due
	Requests int64  `json:"requests"`
	NextPass int64  `json:"next_pass"`
	Passes   int64  `json:"passes"`
}

// benchCapped are the streams quota.intelligence_requests caps that bench adds up (entity_files'
// per-entity fallback counts too, but the fake serves the unfiltered listing).
var benchCapped = []extractor.StreamName{extractor.StreamInteractions, extractor.StreamRelationshipStrengths}

// Kinds of bench passes.
const (
	passFull       = "full"
	passDrain      = "drain"
	passNothingDue = "nothing_due"
)

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
	drain := fs.Bool("drain", true, "then read the intelligence backlog without a cap, and run a pass with nothing due")
	intelCap := fs.Int64("intelligence-requests", -1, "quota.intelligence_requests of the full passes (-1 = the default)")
	logLevel := fs.String("log-level", "warn", "log level of the sync")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, log, err := benchChildConfig(e, *baseURL, *schema, APIV2Mode(*mode), *perMinute, *logLevel)
	if err != nil {
		return err
	}
	if *intelCap >= 0 {
		cfg.Quota.IntelligenceRequests = *intelCap
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	type benchStep struct{ title, kind string }
	steps := []benchStep{{"pass 1 (empty warehouse)", passFull}}
	if *secondPass {
		steps = append(steps, benchStep{"pass 2 (no changes)", passFull})
	}
	if *drain {
		steps = append(steps, benchStep{"drain (interactions and relationship_strengths alone, no cap)", passDrain},
			benchStep{fmt.Sprintf("pass %d (nothing due)", len(steps)+1), passNothingDue})
	}
	var r benchModeReport
	for _, step := range steps {
		runCfg, streams := cfg, extractor.Streams()
		if step.kind == passDrain {
			runCfg.Quota.IntelligenceRequests = 0
			streams = benchCapped
		}
		p, err := benchPass(ctx, runCfg, log, streams, step.kind == passDrain)
		if err != nil {
			return fmt.Errorf("%s: %w", step.title, err)
		}
		report, err := p.report(runCfg, step.title)
		if err != nil {
			return err
		}
		report.Kind = step.kind
		if report.Intelligence, err = benchIntelligenceOf(ctx, cfg, log, p, runCfg.Quota.IntelligenceRequests); err != nil {
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

// benchIntelligenceOf is what the capped streams spent in pass p, which ran with the cap
// passCap, and the backlog the warehouse has left after it as plan and status read it
// (intelligenceBacklog), at the cap of the full passes (cfg).
func benchIntelligenceOf(ctx context.Context, cfg Config, log *slog.Logger, p passResult, passCap int64) (benchIntelligence, error) {
	in := benchIntelligence{Cap: passCap, BacklogCap: cfg.Quota.IntelligenceRequests}
	for _, s := range benchCapped {
		in.Requests += p.sum.requestsByStream[string(s)]
	}
	store, err := openWarehouse(ctx, cfg, log)
	if err != nil {
		return in, err
	}
	defer store.Close()
	backlog, err := intelligenceBacklog(ctx, store, cfg, time.Now())
	if err != nil {
		return in, err
	}
	in.Backlog = []benchBacklog{}
	for _, b := range backlog {
		in.Backlog = append(in.Backlog, benchBacklog{Stream: string(b.Stream), Entities: b.Entities, Pairs: b.Pairs,
			Requests: b.Requests, NextPass: b.ThisPass, Passes: b.Passes})
		in.BacklogRequests += b.Requests
		in.BacklogPasses = max(in.BacklogPasses, b.Passes)
	}
	return in, nil
}

// benchChildConfig is the configuration of a bench child's syncs: the fake at baseURL, the
// warehouse DATABASE_URL and schema, the daily cap lifted.
func benchChildConfig(e env, baseURL, schema string, mode APIV2Mode, perMinute int, logLevel string) (Config, *slog.Logger, error) {
	cfg := defaultConfig()
	cfg.Log.Level, cfg.Log.Format = logLevel, "text"
	log := newLogger(e.stderr, cfg)
	cfg.Affinity.APIKey = secret(benchKey)
	cfg.Affinity.BaseURL = baseURL
	cfg.Affinity.APIV2 = mode
	cfg.Database.URL = secret(e.getenv("DATABASE_URL"))
	cfg.Database.Schema = schema
	cfg.Quota.PerMinute = perMinute
	cfg.Quota.DailyRequests = 0 // one v1 pass of the scale-1 workspace alone is ~80,000 requests
	if err := cfg.validate(); err != nil {
		return Config{}, nil, err
	}
	return cfg, log, nil
}

// startCPUProfile writes a CPU profile to path until stop is called; an empty path profiles
// nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// passResult is one measured sync pass.
type passResult struct {
	sum     syncSummary
	wall    time.Duration
	peakRSS int64 // bytes, the process's high-water mark so far
}

// benchPass runs the streams once; partial says they are not every stream (--streams).
func benchPass(ctx context.Context, cfg Config, log *slog.Logger, streams []extractor.StreamName, partial bool) (passResult, error) {
	return benchRun(ctx, func(ctx context.Context) (syncSummary, error) {
		return syncOnce(ctx, cfg, log, syncOptions{streams: streams, partial: partial})
	})
}

// benchRun times one sync run, which must end well (exit status 0).
func benchRun(ctx context.Context, run func(context.Context) (syncSummary, error)) (passResult, error) {
	started := time.Now()
	sum, err := run(ctx)
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

// report is the pass with each stream's requests, as the run records them by sender, against
// its lower bound.
func (p passResult) report(cfg Config, title string) (passReport, error) {
	bound, err := requestBounds(cfg, p.sum.result)
	if err != nil {
		return passReport{}, err
	}
	rows, _ := p.sum.result.Totals()
	r := passReport{Title: title, Wall: p.wall, Rows: rows, Requests: p.sum.requests, PeakRSS: p.peakRSS}
	b := bound[extractor.WorkspaceCheck]
	r.Streams = append(r.Streams, streamReport{Stream: extractor.WorkspaceCheck, Requests: p.sum.requestsByStream[extractor.WorkspaceCheck],
		Bound: b.requests, Chain: b.chain, How: b.how})
	for _, s := range p.sum.result.Streams {
		name := string(s.Stream)
		b := bound[name]
		sr := streamReport{Stream: name, Pages: s.Pages, Rows: s.Rows, Requests: p.sum.requestsByStream[name],
			Bound: b.requests, Chain: b.chain, How: b.how}
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
