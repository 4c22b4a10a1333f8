package schedule

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"time"
)

// pendingRun is a run waiting for the one in progress to end.
type pendingRun struct {
	name  string
	cause string
}

// loopState is owned by the loop goroutine alone; nothing else reads or writes it.
type loopState struct {
	d          *Daemon
	runCtx     context.Context
	cancelRuns context.CancelFunc
	running    string // name of the job in flight, "" when idle
	pending    []pendingRun
}

// loop is the daemon's one scheduling goroutine. It sleeps until the earliest next time of
// any job, fires the jobs that are due, and starts pending runs when the run in flight ends. It returns after shutdown, closing d.stopped.
func (d *Daemon) loop(ctx, runCtx context.Context, cancelRuns context.CancelFunc, initial string) {
	defer close(d.stopped)
	s := &loopState{d: d, runCtx: runCtx, cancelRuns: cancelRuns}
	if initial != "" {
		s.start(initial, CauseStart)
	}
	// The wake channel is re-armed only after it fires: next times change only then.
	wake := d.arm()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return
		case <-d.quit:
			s.shutdown()
			return
		case <-wake:
			// Nothing is due when this wake was only the maxSleep cap.
			for _, name := range d.advance(d.now().UTC()) {
				s.dispatch(name, CauseSchedule)
			}
			wake = d.arm()
		case info := <-d.runEnded:
			s.running = ""
			d.report(info)
			if len(s.pending) > 0 {
				p := s.pending[0]
				s.pending = s.pending[1:]
				s.start(p.name, p.cause)
			}
		}
	}
}

// dispatch starts the job, or — when a run is in progress — queues it (a job that
// coalesces) or skips it as busy.
func (s *loopState) dispatch(name, cause string) {
	if s.running == "" {
		s.start(name, cause)
		return
	}
	d := s.d
	if d.jobs[d.byName[name]].Coalesce {
		if slices.ContainsFunc(s.pending, func(p pendingRun) bool { return p.name == name }) {
			d.log.Info("run already pending", "job", name, "cause", cause, "running", s.running)
			return
		}
		s.pending = append(s.pending, pendingRun{name: name, cause: cause})
		d.log.Info("run pending until the current run ends", "job", name, "cause", cause, "running", s.running)
		return
	}
	now := d.now().UTC()
	d.log.Warn("run skipped: another run in progress", "job", name, "cause", cause, "running", s.running)
	d.report(runInfo{Job: name, Cause: cause, Started: now, Ended: now, Skipped: SkippedBusy})
}

func (s *loopState) start(name, cause string) {
	s.running = name
	go s.d.execute(s.runCtx, s.d.jobs[s.d.byName[name]], cause)
}

// shutdown cancels the run in flight and waits for it, at most stopTimeout.
func (s *loopState) shutdown() {
	d := s.d
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	s.cancelRuns()
	for _, p := range s.pending {
		d.log.Info("pending run dropped at shutdown", "job", p.name, "cause", p.cause)
	}
	if s.running == "" {
		return
	}
	d.log.Debug("waiting for the run in progress to return", "job", s.running, "timeout", d.stopTimeout)
	t := time.NewTimer(d.stopTimeout)
	defer t.Stop()
	select {
	case info := <-d.runEnded:
		d.report(info)
	case <-t.C:
		err := fmt.Errorf("stop daemon: run of %q still in progress %s after cancellation; abandoned", s.running, d.stopTimeout)
		d.log.Error("run abandoned at shutdown", "job", s.running, "error", err)
		d.mu.Lock()
		d.stopErr = err
		d.mu.Unlock()
	}
}

// maxSleep caps one wait of the loop. Timers run on the monotonic clock, which stands still
// while a machine or VM is suspended and ignores wall-clock steps; waking at least once a
// minute lets the loop compare the wall clock with the schedule again.
const maxSleep = time.Minute

// arm returns a channel that fires at the earliest next time of any job, or after maxSleep if
// that is sooner (nil when no job is scheduled, so it never fires).
func (d *Daemon) arm() <-chan time.Time {
	d.mu.Lock()
	var earliest time.Time
	for _, t := range d.next {
		if !t.IsZero() && (earliest.IsZero() || t.Before(earliest)) {
			earliest = t
		}
	}
	d.mu.Unlock()
	if earliest.IsZero() {
		return nil
	}
	return d.after(min(earliest.Sub(d.now()), maxSleep))
}

// advance returns the jobs due at now, in definition order, and moves each one's next time
// past now. Ticks missed while the process was suspended collapse into one.
func (d *Daemon) advance(now time.Time) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var due []string
	for _, j := range d.jobs {
		t := d.next[j.Name]
		if t.IsZero() || t.After(now) {
			continue
		}
		due = append(due, j.Name)
		d.next[j.Name] = j.sched.Next(now)
	}
	return due
}

// execute takes the run lock, runs the job and hands its runInfo back to the loop.
func (d *Daemon) execute(ctx context.Context, j job, cause string) {
	info := runInfo{Job: j.Name, Cause: cause, Started: d.now().UTC()}
	log := d.log.With("job", j.Name, "cause", cause)
	release, ok, err := d.locker.TryLock(ctx)
	switch {
	case err != nil:
		info.Skipped, info.Err = SkippedLocked, fmt.Errorf("take run lock: %w", err)
		log.Error("run skipped: run lock unavailable", "error", info.Err)
	case !ok:
		info.Skipped = SkippedLocked
		log.Info("run skipped: another replica holds the run lock")
	default:
		log.Debug("run started")
		info.Err = d.call(ctx, j)
		if release != nil {
			release()
		}
	}
	info.Ended = d.now().UTC()
	if info.Skipped == "" {
		if info.Err != nil {
			log.Error("run failed", "error", info.Err, "duration", info.Ended.Sub(info.Started))
		} else {
			log.Debug("run finished", "duration", info.Ended.Sub(info.Started))
		}
	}
	d.runEnded <- info
}

// call runs the job, turning a panic into an error so that one bad run never ends the daemon.
func (d *Daemon) call(ctx context.Context, j job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("run panicked", "job", j.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("run %s: panic: %v", j.Name, r)
		}
	}()
	if err := j.Run(ctx); err != nil {
		return fmt.Errorf("run %s: %w", j.Name, err)
	}
	return nil
}
