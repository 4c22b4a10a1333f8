package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// The child of bench --day (bench-day): one api_v2 mode's simulated day, on a fake of its own
// served in this process (the day changes values between runs and moves the fake's clock),
// and a warehouse of its own. Every run goes through syncWith, as the daemon's do: the full
// pass with the daemon's sync streams, the changes runs with the options of its changes job.

// benchDayCommand is the hidden command bench --day runs in a child process per api_v2 mode.
const benchDayCommand = "bench-day"

// benchDayFirstPass is when the first pass runs, simulated: the default schedule's 02:00 UTC
// of the first day after every change and list entry the fake generated. (The generator
// dates a few status histories up to 3 days past its "present"; a day simulated before them
// would leave the change feed's watermark in its future.)
func benchDayFirstPass(w *affinitytest.Workspace) time.Time {
	var newest time.Time
	for _, c := range w.Changes {
		newest = later(newest, c.ChangedAt)
	}
	for _, e := range w.ListEntries {
		newest = later(newest, e.CreatedAt)
	}
	first := newest.UTC().Truncate(24 * time.Hour).Add(2 * time.Hour)
	if !first.After(newest) {
		first = first.Add(24 * time.Hour)
	}
	return first
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Simulated time between two changes runs (the default schedule's */30), and when, between
// them, the trickle of changes is made.
const (
	benchDayInterval = 30 * time.Minute
	benchDayChangeAt = 15 * time.Minute
)

// benchDayReport is what one mode's child reports: one line of JSON on stdout.
type benchDayReport struct {
	Mode            APIV2Mode      `json:"mode"`
	Start           time.Time      `json:"start"` // the nightly pass's simulated time
	Full            dayRunReport   `json:"full"`
	Quiet           dayRunReport   `json:"quiet"`
	Trickle         []dayRunReport `json:"trickle"`
	ChangesMade     int            `json:"changes_made"`
	ChangesStored   int64          `json:"changes_stored"`
	ChangedEntities int            `json:"changed_entities"` // distinct, over the day
}

// dayRunReport is one run of the day: its requests as the run records them by sender, and
// the requests the fake served, by endpoint template.
type dayRunReport struct {
	At        time.Time      `json:"at"` // simulated
	Wall      time.Duration  `json:"wall"`
	Requests  int64          `json:"requests"`
	Streams   []dayStream    `json:"streams"`
	Endpoints map[string]int `json:"endpoints"`
	Made      int            `json:"made,omitempty"`     // changes made since the run before
	Entities  int            `json:"entities,omitempty"` // distinct entities they changed
}

// dayStream is one stream of a run (or the workspace check), with its path and its requests
// split as its phases counted them.
type dayStream struct {
	Stream         string `json:"stream"`
	Path           string `json:"path"`
	Requests       int64  `json:"requests"`
	V2Pages        int64  `json:"v2_pages"`
	ProbeRequests  int64  `json:"probe_requests"`
	EntityRequests int64  `json:"entity_requests"`
}

// simClock is the one clock of the simulated day: the fake's, the extractor's and the
// budget's. It stands still while a run runs.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cmdBenchDay runs bench --day for one api_v2 mode and prints the report as one line of JSON.
func cmdBenchDay(ctx context.Context, e env, args []string) error {
	fs := newFlags(benchDayCommand, e)
	schema := fs.String("schema", "", "the warehouse schema")
	mode := fs.String("api-v2", string(APIV2Auto), "affinity.api_v2")
	perMinute := fs.Int("per-minute", 0, "quota.per_minute")
	trickle := fs.Int("trickle", 10, "values changed before each changes run")
	changeRuns := fs.Int("change-runs", 48, "changes runs with a trickle of changes")
	logLevel := fs.String("log-level", "warn", "log level of the sync")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	var ff fakeFlags
	ff.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ff.key = benchKey

	fake := ff.server()
	var first time.Time
	fake.Mutate(func(w *affinitytest.Workspace) { first = benchDayFirstPass(w) })
	clock := &simClock{t: first}
	fake.Mutate(func(w *affinitytest.Workspace) { w.SetClock(clock.Now) })
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	addr, served, err := serveFake(serveCtx, "127.0.0.1:0", fake)
	if err != nil {
		stopServing()
		return err
	}
	defer func() {
		stopServing()
		<-served
	}()
	cfg, log, err := benchChildConfig(e, "http://"+addr, *schema, APIV2Mode(*mode), *perMinute, *logLevel)
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	store, err := openWarehouse(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()

	run := func(title string, opts syncOptions) (dayRunReport, error) {
		before := fake.Requests()
		opts.now = clock.Now
		p, err := benchRun(ctx, func(ctx context.Context) (syncSummary, error) { return syncWith(ctx, cfg, log, store, opts) })
		if err != nil {
			return dayRunReport{}, fmt.Errorf("%s: %w", title, err)
		}
		return newDayRun(clock.Now(), p, requestsSince(before, fake.Requests())), nil
	}
	full := syncOptions{streams: configuredStreams(cfg.Sync.Streams)}
	changes := syncOptions{streams: changesJobStreams(full.streams), partial: true}

	if _, err := run("the first pass", full); err != nil {
		return err
	}
	clock.advance(24 * time.Hour)
	r := benchDayReport{Mode: cfg.Affinity.APIV2, Start: clock.Now()}
	if r.Full, err = run("the nightly pass", full); err != nil {
		return err
	}
	clock.advance(benchDayInterval)
	if r.Quiet, err = run("the quiet changes run", changes); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(ff.seed), 0xda7)) // the same changes in every mode
	var ids []int64
	changed := map[[2]int64]bool{}
	for i := range *changeRuns {
		clock.advance(benchDayChangeAt)
		var made []affinitytest.ChangeMade
		fake.Mutate(func(w *affinitytest.Workspace) { made = w.ChangeTrackedValues(rng, *trickle) })
		entities := map[[2]int64]bool{}
		for _, c := range made {
			ids = append(ids, c.ChangeID)
			entities[[2]int64{int64(c.EntityType), c.EntityID}] = true
		}
		maps.Copy(changed, entities)
		clock.advance(benchDayInterval - benchDayChangeAt)
		tr, err := run(fmt.Sprintf("changes run %d", i+1), changes)
		if err != nil {
			return err
		}
		tr.Made, tr.Entities = len(made), len(entities)
		r.Trickle = append(r.Trickle, tr)
	}
	r.ChangesMade, r.ChangedEntities = len(ids), len(changed)
	if r.ChangesStored, err = store.CountStoredChanges(ctx, ids); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

// newDayRun is the report of one run at simulated time at, served the requests by endpoint.
func newDayRun(at time.Time, p passResult, served map[string]int) dayRunReport {
	r := dayRunReport{At: at, Wall: p.wall, Requests: p.sum.requests, Endpoints: served}
	if n := p.sum.requestsByStream[extractor.WorkspaceCheck]; n > 0 {
		r.Streams = append(r.Streams, dayStream{Stream: extractor.WorkspaceCheck, Path: "v1", Requests: n})
	}
	for _, s := range p.sum.result.Streams {
		ds := dayStream{Stream: string(s.Stream), Path: "v1", Requests: p.sum.requestsByStream[string(s.Stream)]}
		if s.Path != nil {
			ds.Path = s.Path.Path
		}
		for _, ph := range s.Phases {
			ds.V2Pages += ph.V2Pages
			ds.ProbeRequests += ph.ProbeRequests
			ds.EntityRequests += ph.EntityRequests
		}
		r.Streams = append(r.Streams, ds)
	}
	return r
}

// requestsSince is what the fake served between two of its counts, by endpoint.
func requestsSince(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if n := after[k] - before[k]; n > 0 {
			out[k] = n
		}
	}
	return out
}
