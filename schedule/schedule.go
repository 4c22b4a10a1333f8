// Package schedule is the daemon: it fires jobs on cron schedules evaluated in UTC, runs at
// most one job at a time in the process, takes a cross-replica lock before every run, and
// shuts down in one order — stop scheduling, cancel the run in flight, wait for it, bounded
// by a timeout.
//
// The package knows nothing about Affinity or Postgres: a job is a function, and the lock is
// the one-method Locker interface that the caller implements (with a Postgres session
// advisory lock in the binary).
//
// Single flight. A scheduled tick that fires while another run is in progress is skipped
// (and logged), so a short job such as the change feed never piles up behind a long full
// pass. A job with Coalesce set is not lost
// that way: its skipped ticks fold into one pending run that starts as soon as the current
// run ends. The binary sets Coalesce on the full "sync" job, because a missed full pass
// would otherwise wait a whole cron period and leave soft deletes and readiness stale; the
// change feed does not need it, since its next tick reads every change since its checkpoint.
// The pending queue holds each job at most once and runs in the order the ticks fired.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Skip reasons of a tick that did not run (runInfo.Skipped).
const (
	// SkippedBusy: another run was in progress in this process.
	SkippedBusy = "busy"
	// SkippedLocked: the Locker refused (another replica holds the lock) or failed (Err set).
	SkippedLocked = "locked"
)

// Causes of a run, as logged.
const (
	CauseStart    = "start"    // Options.RunAtStart asked for it
	CauseSchedule = "schedule" // the job's cron spec fired
)

// Job is one scheduled kind of run, e.g. "sync" (full pass) and "changes" (change feed).
type Job struct {
	Name string
	// Spec is a standard 5-field cron expression (or a descriptor such as "@daily"),
	// evaluated in UTC. A CRON_TZ= or TZ= prefix is refused.
	Spec string
	// Run performs one run. Its ctx is cancelled on shutdown; a Run that returns soon after
	// lets Stop finish within Options.StopTimeout.
	Run func(ctx context.Context) error
	// Coalesce keeps a tick that fires while another run is in progress as one pending run
	// (started when the current run ends) instead of skipping it.
	Coalesce bool
}

// Locker serialises runs across replicas. TryLock returns ok=false when another process
// holds the lock; release is called once, after the run, when ok is true.
type Locker interface {
	TryLock(ctx context.Context) (release func(), ok bool, err error)
}

// Options tunes a Daemon. The zero value is usable.
type Options struct {
	// Logger receives the daemon's log lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock; default time.Now. Schedules are computed from Now().UTC().
	Now func() time.Time
	// After returns a channel that receives once d has passed on the clock; default
	// time.After. A fake clock supplies Now and After together.
	After func(d time.Duration) <-chan time.Time
	// StopTimeout bounds how long shutdown waits for a cancelled run to return; default 60s.
	// It is measured on the real clock.
	StopTimeout time.Duration
	// RunAtStart is asked once by Start: ok means the named job runs at once (the binary
	// answers "sync", true when the warehouse has no complete pass). An error fails Start.
	RunAtStart func(ctx context.Context) (jobName string, ok bool, err error)
}

// runInfo describes one run, or one tick that did not run.
type runInfo struct {
	Job     string
	Cause   string // CauseStart or CauseSchedule
	Started time.Time
	Ended   time.Time
	// Err is the run's error, or the Locker's error when the lock could not be taken.
	Err error
	// Skipped is empty for a run that happened, else SkippedBusy or SkippedLocked.
	Skipped string
}

// DefaultStopTimeout is the StopTimeout used when Options leaves it zero.
const DefaultStopTimeout = 60 * time.Second

type job struct {
	Job
	sched cron.Schedule
}

// Daemon runs jobs on their schedules. Build it with New, then Start and Stop it once.
type Daemon struct {
	jobs        []job
	byName      map[string]int
	locker      Locker
	log         *slog.Logger
	now         func() time.Time
	after       func(time.Duration) <-chan time.Time
	stopTimeout time.Duration
	runAtStart  func(context.Context) (string, bool, error)

	runEnded chan runInfo  // buffered 1: at most one run is in flight
	quit     chan struct{} // closed by the first Stop
	stopped  chan struct{} // closed when the daemon has stopped

	// observe, when set (by this package's tests only), sees every run and every skipped
	// tick, from the loop goroutine.
	observe func(runInfo)

	mu       sync.Mutex
	started  bool
	stopping bool
	next     map[string]time.Time
	stopErr  error
}

// New validates the jobs and returns a daemon that is not started yet. Every spec is
// parsed; a bad one is an error naming the job and the spec.
func New(jobs []Job, locker Locker, opts Options) (*Daemon, error) {
	if locker == nil {
		return nil, errors.New("new daemon: nil locker")
	}
	d := &Daemon{
		byName:      make(map[string]int, len(jobs)),
		locker:      locker,
		log:         opts.Logger,
		now:         opts.Now,
		after:       opts.After,
		stopTimeout: opts.StopTimeout,
		runAtStart:  opts.RunAtStart,
		runEnded:    make(chan runInfo, 1),
		quit:        make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.after == nil {
		d.after = time.After
	}
	if d.stopTimeout <= 0 {
		d.stopTimeout = DefaultStopTimeout
	}
	now := d.now().UTC()
	for _, j := range jobs {
		if j.Name == "" {
			return nil, fmt.Errorf("new daemon: job with spec %q has no name", j.Spec)
		}
		if _, dup := d.byName[j.Name]; dup {
			return nil, fmt.Errorf("new daemon: job %q defined twice", j.Name)
		}
		if j.Run == nil {
			return nil, fmt.Errorf("new daemon: job %q has no Run func", j.Name)
		}
		sched, err := parseSpec(j.Spec)
		if err != nil {
			return nil, fmt.Errorf("new daemon: job %q: schedule %q: %w", j.Name, j.Spec, err)
		}
		if sched.Next(now).IsZero() {
			return nil, fmt.Errorf("new daemon: job %q: schedule %q never fires", j.Name, j.Spec)
		}
		d.byName[j.Name] = len(d.jobs)
		d.jobs = append(d.jobs, job{Job: j, sched: sched})
	}
	return d, nil
}

// ParseSpec parses a job's Spec as the Daemon does (UTC; no time-zone prefix), for callers
// that count a schedule's activations, such as the month's projection.
func ParseSpec(spec string) (cron.Schedule, error) { return parseSpec(spec) }

// parseSpec parses a standard cron spec. Schedules are UTC by contract, so a time-zone
// prefix is refused (cron v3 also panics on some malformed prefixes).
func parseSpec(spec string) (sched cron.Schedule, err error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, errors.New("empty")
	}
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, errors.New("time-zone prefix not allowed: schedules are evaluated in UTC")
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("parse: %v", r)
		}
	}()
	return cron.ParseStandard(s)
}

// Start asks Options.RunAtStart, then starts scheduling in the background and returns.
// Cancelling ctx shuts the daemon down like Stop. A failed Start leaves the daemon stopped.
func (d *Daemon) Start(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.stopping:
		d.mu.Unlock()
		return errors.New("start daemon: already stopped")
	case d.started:
		d.mu.Unlock()
		return errors.New("start daemon: already started")
	}
	d.started = true
	d.mu.Unlock()

	initial, err := d.startJob(ctx)
	if err != nil {
		d.mu.Lock()
		d.stopping = true
		d.mu.Unlock()
		close(d.stopped)
		return fmt.Errorf("start daemon: %w", err)
	}

	now := d.now().UTC()
	next := make(map[string]time.Time, len(d.jobs))
	for _, j := range d.jobs {
		next[j.Name] = j.sched.Next(now)
	}
	d.mu.Lock()
	d.next = next
	d.mu.Unlock()
	d.log.Debug("schedule started", "next", next, "run_at_start", initial)
	if initial != "" {
		d.log.Info("run at start", "job", initial)
	}

	runCtx, cancelRuns := context.WithCancel(ctx)
	go d.loop(ctx, runCtx, cancelRuns, initial)
	return nil
}

// startJob asks RunAtStart which job, if any, runs at once.
func (d *Daemon) startJob(ctx context.Context) (string, error) {
	if d.runAtStart == nil {
		return "", nil
	}
	name, ok, err := d.runAtStart(ctx)
	if err != nil {
		return "", fmt.Errorf("run at start: %w", err)
	}
	if !ok {
		return "", nil
	}
	if _, known := d.byName[name]; !known {
		return "", fmt.Errorf("run at start: unknown job %q", name)
	}
	return name, nil
}

// Stop stops scheduling, cancels the context of the run in flight and waits for the run to
// return, at most StopTimeout (then it reports the run as abandoned) or until ctx is done.
// Pending runs are dropped. Stop is idempotent: later calls wait the same way and return the
// same result.
func (d *Daemon) Stop(ctx context.Context) error {
	d.mu.Lock()
	first := !d.stopping
	if first {
		d.stopping = true
		close(d.quit)
		if !d.started {
			close(d.stopped)
		}
	}
	d.mu.Unlock()

	select {
	case <-d.stopped:
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.stopErr
	case <-ctx.Done():
		return fmt.Errorf("stop daemon: %w", ctx.Err())
	}
}

// Next returns the next scheduled time of every job, in UTC. Before Start it is computed
// from the clock's current time.
func (d *Daemon) Next() map[string]time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]time.Time, len(d.jobs))
	if d.next == nil {
		now := d.now().UTC()
		for _, j := range d.jobs {
			out[j.Name] = j.sched.Next(now)
		}
		return out
	}
	for name, t := range d.next {
		out[name] = t
	}
	return out
}

func (d *Daemon) report(info runInfo) {
	if d.observe != nil {
		d.observe(info)
	}
}
