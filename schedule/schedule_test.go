package schedule_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/schedule"
)

// harness is one daemon on a fake clock and a fake locker, with every RunInfo collected.
type harness struct {
	d     *schedule.Daemon
	clk   *fakeClock
	lock  *fakeLocker
	infos chan schedule.RunInfo
	logs  *syncBuffer
}

// syncBuffer is a log sink that is safe to write from the daemon and read from the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newHarness(t *testing.T, now time.Time, jobs []schedule.Job, opts schedule.Options) *harness {
	t.Helper()
	h := &harness{
		clk:   newFakeClock(now),
		lock:  &fakeLocker{},
		infos: make(chan schedule.RunInfo, 100),
		logs:  &syncBuffer{},
	}
	opts.Now, opts.After = h.clk.Now, h.clk.After
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := schedule.New(jobs, h.lock, opts)
	require.NoError(t, err)
	d.Observe(func(info schedule.RunInfo) { h.infos <- info })
	h.d = d
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		_ = d.Stop(ctx)
	})
	return h
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	require.NoError(t, h.d.Start(t.Context()))
}

func (h *harness) next(t *testing.T) schedule.RunInfo {
	t.Helper()
	select {
	case info := <-h.infos:
		return info
	case <-time.After(guard):
		t.Fatal("no run reported")
		return schedule.RunInfo{}
	}
}

func (h *harness) stop(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	return h.d.Stop(ctx)
}

// noMoreInfos stops the daemon (Stop is idempotent and returns once the loop has ended) and
// checks that nothing else was reported.
func (h *harness) noMoreInfos(t *testing.T) {
	t.Helper()
	_ = h.stop(t)
	select {
	case info := <-h.infos:
		t.Fatalf("unexpected run reported: %+v", info)
	default:
	}
}

// utc builds a time on 2025-03-01 in UTC.
func utc(hour, minute int) time.Time {
	return time.Date(2025, 3, 1, hour, minute, 0, 0, time.UTC)
}

// counter is a job body that counts its runs and returns err.
func counter(n *atomic.Int32, err error) func(context.Context) error {
	return func(context.Context) error {
		n.Add(1)
		return err
	}
}

// gated is a job body that says when it starts, then blocks until release is closed.
func gated(started chan<- string, name string, release <-chan struct{}) func(context.Context) error {
	return func(context.Context) error {
		started <- name
		<-release
		return nil
	}
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatal("nothing received")
		var zero T
		return zero
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	noop := func(context.Context) error { return nil }
	tests := []struct {
		name    string
		jobs    []schedule.Job
		nilLock bool
		wantErr []string // substrings of the error; none means success
	}{
		{name: "standard specs", jobs: []schedule.Job{
			{Name: "sync", Spec: "0 2 * * *", Run: noop},
			{Name: "changes", Spec: "*/30 * * * *", Run: noop},
			{Name: "weekly", Spec: "@weekly", Run: noop},
		}},
		{name: "no jobs", jobs: nil},
		{name: "too few fields", jobs: []schedule.Job{{Name: "sync", Spec: "0 2 *", Run: noop}},
			wantErr: []string{`job "sync"`, `"0 2 *"`}},
		{name: "six fields", jobs: []schedule.Job{{Name: "changes", Spec: "0 */30 * * * *", Run: noop}},
			wantErr: []string{`job "changes"`, `"0 */30 * * * *"`}},
		{name: "minute out of range", jobs: []schedule.Job{{Name: "sync", Spec: "61 2 * * *", Run: noop}},
			wantErr: []string{`job "sync"`, `"61 2 * * *"`}},
		{name: "garbage", jobs: []schedule.Job{{Name: "sync", Spec: "nightly", Run: noop}},
			wantErr: []string{`job "sync"`, `"nightly"`}},
		{name: "empty spec", jobs: []schedule.Job{{Name: "sync", Spec: " ", Run: noop}},
			wantErr: []string{`job "sync"`, "empty"}},
		{name: "time zone prefix", jobs: []schedule.Job{{Name: "sync", Spec: "CRON_TZ=Europe/Paris 0 2 * * *", Run: noop}},
			wantErr: []string{`job "sync"`, "CRON_TZ=Europe/Paris", "UTC"}},
		{name: "bare time zone prefix", jobs: []schedule.Job{{Name: "sync", Spec: "TZ=UTC", Run: noop}},
			wantErr: []string{`job "sync"`, `"TZ=UTC"`}},
		{name: "never fires", jobs: []schedule.Job{{Name: "sync", Spec: "0 0 30 2 *", Run: noop}},
			wantErr: []string{`job "sync"`, `"0 0 30 2 *"`, "never fires"}},
		{name: "second job bad", jobs: []schedule.Job{
			{Name: "sync", Spec: "0 2 * * *", Run: noop},
			{Name: "changes", Spec: "*/70 * * *", Run: noop},
		}, wantErr: []string{`job "changes"`, `"*/70 * * *"`}},
		{name: "duplicate name", jobs: []schedule.Job{
			{Name: "sync", Spec: "0 2 * * *", Run: noop},
			{Name: "sync", Spec: "0 3 * * *", Run: noop},
		}, wantErr: []string{`job "sync" defined twice`}},
		{name: "no name", jobs: []schedule.Job{{Spec: "0 2 * * *", Run: noop}},
			wantErr: []string{"no name"}},
		{name: "no run", jobs: []schedule.Job{{Name: "sync", Spec: "0 2 * * *"}},
			wantErr: []string{`job "sync"`, "no Run"}},
		{name: "nil locker", nilLock: true, wantErr: []string{"nil locker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var locker schedule.Locker = &fakeLocker{}
			if tt.nilLock {
				locker = nil
			}
			d, err := schedule.New(tt.jobs, locker, schedule.Options{})
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				require.NotNil(t, d)
				return
			}
			require.Error(t, err)
			require.Nil(t, d)
			for _, want := range tt.wantErr {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestJobsFireAtTheirTimesInUTC(t *testing.T) {
	t.Parallel()
	var syncs, changes atomic.Int32
	jobs := []schedule.Job{
		{Name: "sync", Spec: "15 2 * * *", Run: counter(&syncs, nil)},
		{Name: "changes", Spec: "*/30 * * * *", Run: counter(&changes, nil)},
	}
	// The clock reports local time five hours ahead of UTC: schedules must still be UTC.
	plus5 := time.FixedZone("PLUS5", 5*60*60)
	h := newHarness(t, utc(1, 10).In(plus5), jobs, schedule.Options{})

	require.Equal(t, map[string]time.Time{"sync": utc(2, 15), "changes": utc(1, 30)}, h.d.Next(),
		"Next before Start")
	h.start(t)

	steps := []struct {
		at       time.Time
		job      string
		wantNext map[string]time.Time
	}{
		{utc(1, 30), "changes", map[string]time.Time{"sync": utc(2, 15), "changes": utc(2, 0)}},
		{utc(2, 0), "changes", map[string]time.Time{"sync": utc(2, 15), "changes": utc(2, 30)}},
		{utc(2, 15), "sync", map[string]time.Time{"sync": time.Date(2025, 3, 2, 2, 15, 0, 0, time.UTC), "changes": utc(2, 30)}},
		{utc(2, 30), "changes", map[string]time.Time{"sync": time.Date(2025, 3, 2, 2, 15, 0, 0, time.UTC), "changes": utc(3, 0)}},
	}
	for _, step := range steps {
		h.clk.advanceTo(t, step.at.In(plus5))
		info := h.next(t)
		require.Equal(t, step.job, info.Job)
		require.Equal(t, schedule.CauseSchedule, info.Cause)
		require.Empty(t, info.Skipped)
		require.NoError(t, info.Err)
		require.Equal(t, step.at, info.Started)
		require.Equal(t, time.UTC, info.Started.Location())
		h.clk.waitArmed(t) // the loop has moved its next times
		require.Equal(t, step.wantNext, h.d.Next(), "Next after %s", step.at)
	}
	require.Equal(t, int32(1), syncs.Load())
	require.Equal(t, int32(3), changes.Load())
	acquired, released := h.lock.counts()
	require.Equal(t, 4, acquired)
	require.Equal(t, 4, released)
}

func TestMissedTicksCollapseIntoOne(t *testing.T) {
	t.Parallel()
	var changes atomic.Int32
	h := newHarness(t, utc(1, 0), []schedule.Job{
		{Name: "changes", Spec: "*/10 * * * *", Run: counter(&changes, nil)},
	}, schedule.Options{})
	h.start(t)

	// The process was suspended for an hour: one run, not six.
	h.clk.advanceTo(t, utc(2, 1))
	info := h.next(t)
	require.Equal(t, utc(2, 1), info.Started)
	h.clk.waitArmed(t)
	require.Equal(t, map[string]time.Time{"changes": utc(2, 10)}, h.d.Next())
	require.NoError(t, h.stop(t))
	h.noMoreInfos(t)
	require.Equal(t, int32(1), changes.Load())
}

func TestWallClockIsCheckedAfterSuspend(t *testing.T) {
	t.Parallel()
	var syncs atomic.Int32
	h := newHarness(t, utc(1, 0), []schedule.Job{
		{Name: "sync", Spec: "0 2 * * *", Run: counter(&syncs, nil)},
	}, schedule.Options{})
	h.start(t)
	h.clk.waitArmed(t)

	// Suspended from 01:00 to 06:00: the 02:00 run starts within a minute of waking up,
	// not five hours late.
	h.clk.suspend(5 * time.Hour)
	h.clk.advanceTo(t, utc(6, 1))
	info := h.next(t)
	require.Equal(t, "sync", info.Job)
	require.Equal(t, utc(6, 1), info.Started)
	h.clk.waitArmed(t)
	require.Equal(t, map[string]time.Time{"sync": time.Date(2025, 3, 2, 2, 0, 0, 0, time.UTC)}, h.d.Next())
}

func TestBusyTickIsSkipped(t *testing.T) {
	t.Parallel()
	started := make(chan string, 10)
	release := make(chan struct{})
	var changes atomic.Int32
	h := newHarness(t, utc(1, 59), []schedule.Job{
		{Name: "sync", Spec: "0 2 * * *", Run: gated(started, "sync", release), Coalesce: true},
		{Name: "changes", Spec: "*/30 * * * *", Run: counter(&changes, nil)},
	}, schedule.Options{})
	h.start(t)

	// Both are due at 02:00: sync comes first, changes finds it busy.
	h.clk.advanceTo(t, utc(2, 0))
	require.Equal(t, "sync", recv(t, started))
	skipped := h.next(t)
	require.Equal(t, schedule.RunInfo{Job: "changes", Cause: schedule.CauseSchedule,
		Started: utc(2, 0), Ended: utc(2, 0), Skipped: schedule.SkippedBusy}, skipped)

	h.clk.advanceTo(t, utc(2, 30))
	require.Equal(t, schedule.SkippedBusy, h.next(t).Skipped)

	close(release)
	done := h.next(t)
	require.Equal(t, "sync", done.Job)
	require.Empty(t, done.Skipped)
	require.Equal(t, utc(2, 0), done.Started)
	require.Equal(t, utc(2, 30), done.Ended)

	// A skipped changes tick is not kept: the next changes run is the 03:00 one.
	h.clk.advanceTo(t, utc(3, 0))
	info := h.next(t)
	require.Equal(t, "changes", info.Job)
	require.Equal(t, utc(3, 0), info.Started)
	require.Equal(t, int32(1), changes.Load())
	require.Contains(t, h.logs.String(), "another run in progress")
}

func TestCoalescedTicksRunOnceAfterTheCurrentRun(t *testing.T) {
	t.Parallel()
	started := make(chan string, 10)
	release := make(chan struct{})
	var syncs atomic.Int32
	h := newHarness(t, utc(1, 59), []schedule.Job{
		{Name: "sync", Spec: "10 * * * *", Run: counter(&syncs, nil), Coalesce: true},
		{Name: "changes", Spec: "*/30 * * * *", Run: gated(started, "changes", release)},
	}, schedule.Options{})
	h.start(t)

	h.clk.advanceTo(t, utc(2, 0))
	require.Equal(t, "changes", recv(t, started))
	h.clk.advanceTo(t, utc(2, 10)) // sync pending
	// Sync due again at 03:10 and changes at 02:30 (collapsed): changes is skipped, sync
	// stays one pending run.
	h.clk.advanceTo(t, utc(3, 10))
	skipped := h.next(t)
	require.Equal(t, "changes", skipped.Job)
	require.Equal(t, schedule.SkippedBusy, skipped.Skipped)

	close(release)
	first := h.next(t)
	require.Equal(t, "changes", first.Job)
	require.Empty(t, first.Skipped)
	pending := h.next(t)
	require.Equal(t, "sync", pending.Job)
	require.Equal(t, schedule.CauseSchedule, pending.Cause)
	require.Empty(t, pending.Skipped)
	require.Equal(t, utc(3, 10), pending.Started)

	h.clk.advanceTo(t, utc(3, 30))
	require.Equal(t, "changes", h.next(t).Job)
	require.NoError(t, h.stop(t))
	h.noMoreInfos(t)
	require.Equal(t, int32(1), syncs.Load())
}

func TestLocker(t *testing.T) {
	t.Parallel()
	lockErr := errors.New("advisory lock: connection refused")
	tests := []struct {
		name        string
		refuse      bool
		err         error
		wantSkipped string
		wantRuns    int32
		wantLog     string
	}{
		{name: "acquired", wantRuns: 1, wantLog: "run finished"},
		{name: "held by another replica", refuse: true, wantSkipped: schedule.SkippedLocked,
			wantLog: "another replica holds the run lock"},
		{name: "lock error", err: lockErr, wantSkipped: schedule.SkippedLocked,
			wantLog: "advisory lock: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int32
			h := newHarness(t, utc(1, 0), []schedule.Job{
				{Name: "sync", Spec: "0 * * * *", Run: counter(&runs, nil)},
			}, schedule.Options{})
			h.lock.set(tt.refuse, tt.err)
			h.start(t)

			h.clk.advanceTo(t, utc(2, 0))
			info := h.next(t)
			require.Equal(t, "sync", info.Job)
			require.Equal(t, tt.wantSkipped, info.Skipped)
			if tt.err != nil {
				require.ErrorIs(t, info.Err, tt.err)
			} else {
				require.NoError(t, info.Err)
			}
			require.Equal(t, tt.wantRuns, runs.Load())
			acquired, released := h.lock.counts()
			require.Equal(t, int(tt.wantRuns), acquired)
			require.Equal(t, int(tt.wantRuns), released)
			require.Contains(t, h.logs.String(), tt.wantLog)

			// The daemon goes on: once the lock is free the next tick runs.
			h.lock.set(false, nil)
			h.clk.advanceTo(t, utc(3, 0))
			require.Empty(t, h.next(t).Skipped)
			require.Equal(t, tt.wantRuns+1, runs.Load())
		})
	}
}

func TestFailedRunDoesNotStopTheDaemon(t *testing.T) {
	t.Parallel()
	runErr := errors.New("upsert persons page: conflict")
	tests := []struct {
		name    string
		run     func(context.Context) error
		wantErr string
		is      error
	}{
		{name: "error", run: func(context.Context) error { return runErr },
			wantErr: "run sync: upsert persons page: conflict", is: runErr},
		{name: "panic", run: func(context.Context) error { panic("nil map") },
			wantErr: "run sync: panic: nil map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			h := newHarness(t, utc(1, 0), []schedule.Job{
				{Name: "sync", Spec: "0 * * * *", Run: func(ctx context.Context) error {
					if calls.Add(1) == 1 {
						return tt.run(ctx)
					}
					return nil
				}},
			}, schedule.Options{})
			h.start(t)

			h.clk.advanceTo(t, utc(2, 0))
			failed := h.next(t)
			require.EqualError(t, failed.Err, tt.wantErr)
			if tt.is != nil {
				require.ErrorIs(t, failed.Err, tt.is)
			}
			require.Contains(t, h.logs.String(), "run failed")
			_, released := h.lock.counts()
			require.Equal(t, 1, released, "lock released after a failed run")

			h.clk.advanceTo(t, utc(3, 0))
			ok := h.next(t)
			require.NoError(t, ok.Err)
			require.Equal(t, schedule.CauseSchedule, ok.Cause)
		})
	}
}

func TestStopCancelsTheRunAndWaitsForIt(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	cancelled := make(chan struct{})
	finish := make(chan struct{})
	h := newHarness(t, utc(1, 0), []schedule.Job{
		{Name: "sync", Spec: "0 2 * * *", Run: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			close(cancelled)
			<-finish // the page in flight commits
			return ctx.Err()
		}},
	}, schedule.Options{})
	h.start(t)
	h.clk.advanceTo(t, utc(2, 0))
	recv(t, started)

	stopped := make(chan error, 1)
	go func() { stopped <- h.stop(t) }()
	recv(t, cancelled)
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned before the run did: %v", err)
	default:
	}

	close(finish)
	require.NoError(t, recv(t, stopped))
	info := h.next(t)
	require.ErrorIs(t, info.Err, context.Canceled)
	_, released := h.lock.counts()
	require.Equal(t, 1, released)
	h.noMoreInfos(t)

	// Idempotent.
	require.NoError(t, h.stop(t))
}

func TestStopAbandonsARunThatIgnoresCancellation(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	unblock := make(chan struct{})
	returned := make(chan struct{})
	h := newHarness(t, utc(1, 0), []schedule.Job{
		{Name: "sync", Spec: "0 2 * * *", Run: func(context.Context) error {
			defer close(returned)
			close(started)
			<-unblock
			return nil
		}},
	}, schedule.Options{StopTimeout: 20 * time.Millisecond})
	t.Cleanup(func() {
		close(unblock)
		<-returned
	})
	h.start(t)
	h.clk.advanceTo(t, utc(2, 0))
	recv(t, started)

	err := h.stop(t)
	require.ErrorContains(t, err, `run of "sync" still in progress 20ms after cancellation; abandoned`)
	h.noMoreInfos(t)
	require.Equal(t, err, h.stop(t), "a second Stop reports the same")
	require.Contains(t, h.logs.String(), "run abandoned at shutdown")
}

func TestStopHonoursItsContext(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	unblock := make(chan struct{})
	h := newHarness(t, utc(1, 0), []schedule.Job{
		{Name: "sync", Spec: "0 2 * * *", Run: func(context.Context) error {
			close(started)
			<-unblock
			return nil
		}},
	}, schedule.Options{})
	t.Cleanup(func() { close(unblock) })
	h.start(t)
	h.clk.advanceTo(t, utc(2, 0))
	recv(t, started)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, h.d.Stop(ctx), context.Canceled)
}

func TestRunAtStart(t *testing.T) {
	t.Parallel()
	askErr := errors.New("query last complete pass: connection refused")
	tests := []struct {
		name     string
		job      string
		ok       bool
		err      error
		wantRun  string // job expected to run at start
		startErr string
	}{
		{name: "no complete pass", job: "sync", ok: true, wantRun: "sync"},
		{name: "complete pass exists", job: "", ok: false},
		{name: "error", err: askErr, startErr: "start daemon: run at start: query last complete pass"},
		{name: "unknown job", job: "everything", ok: true, startErr: `run at start: unknown job "everything"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var syncs, changes atomic.Int32
			var asked atomic.Int32
			h := newHarness(t, utc(1, 0), []schedule.Job{
				{Name: "sync", Spec: "0 2 * * *", Run: counter(&syncs, nil)},
				{Name: "changes", Spec: "*/30 * * * *", Run: counter(&changes, nil)},
			}, schedule.Options{RunAtStart: func(context.Context) (string, bool, error) {
				asked.Add(1)
				return tt.job, tt.ok, tt.err
			}})

			err := h.d.Start(t.Context())
			require.Equal(t, int32(1), asked.Load())
			if tt.startErr != "" {
				require.ErrorContains(t, err, tt.startErr)
				if tt.err != nil {
					require.ErrorIs(t, err, tt.err)
				}
				h.noMoreInfos(t) // a failed Start leaves the daemon stopped
				require.NoError(t, h.stop(t))
				return
			}
			require.NoError(t, err)
			if tt.wantRun != "" {
				info := h.next(t)
				require.Equal(t, tt.wantRun, info.Job)
				require.Equal(t, schedule.CauseStart, info.Cause)
				require.Equal(t, utc(1, 0), info.Started)
			}
			// Then the schedule: the first run reported next is the 01:30 changes.
			h.clk.advanceTo(t, utc(1, 30))
			info := h.next(t)
			require.Equal(t, "changes", info.Job)
			require.Equal(t, schedule.CauseSchedule, info.Cause)
			require.Equal(t, int32(len(tt.wantRun)/len("sync")), syncs.Load())
		})
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	noop := func(context.Context) error { return nil }
	jobs := []schedule.Job{{Name: "sync", Spec: "0 2 * * *", Run: noop}}

	t.Run("no jobs", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, utc(1, 0), nil, schedule.Options{})
		h.start(t)
		require.Empty(t, h.d.Next())
		require.NoError(t, h.stop(t))
		h.noMoreInfos(t)
	})
	t.Run("start twice", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, utc(1, 0), jobs, schedule.Options{})
		h.start(t)
		require.ErrorContains(t, h.d.Start(t.Context()), "already started")
	})
	t.Run("stop before start", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, utc(1, 0), jobs, schedule.Options{})
		require.NoError(t, h.stop(t))
		h.noMoreInfos(t)
		require.ErrorContains(t, h.d.Start(t.Context()), "already stopped")
		require.NoError(t, h.stop(t))
	})
	t.Run("start after stop", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, utc(1, 0), jobs, schedule.Options{})
		h.start(t)
		require.NoError(t, h.stop(t))
		require.ErrorContains(t, h.d.Start(t.Context()), "already stopped")
	})
	t.Run("cancelled start context stops the daemon", func(t *testing.T) {
		t.Parallel()
		started := make(chan struct{})
		var sawCancel atomic.Bool
		h := newHarness(t, utc(1, 0), []schedule.Job{{Name: "sync", Spec: "0 2 * * *",
			Run: func(ctx context.Context) error {
				close(started)
				<-ctx.Done()
				sawCancel.Store(true)
				return ctx.Err()
			}}}, schedule.Options{})
		ctx, cancel := context.WithCancel(t.Context())
		require.NoError(t, h.d.Start(ctx))
		h.clk.advanceTo(t, utc(2, 0))
		<-started
		cancel()
		info := h.next(t)
		require.ErrorIs(t, info.Err, context.Canceled)
		h.noMoreInfos(t)
		require.True(t, sawCancel.Load())
		require.NoError(t, h.stop(t))
	})
}

// TestNoGoroutinesLeftAfterStop is not parallel: the parallel tests are paused while it
// runs, so any daemon goroutine still alive after Stop is a leak of this test or an earlier
// sequential one.
func TestNoGoroutinesLeftAfterStop(t *testing.T) {
	started := make(chan string, 10)
	release := make(chan struct{})
	h := newHarness(t, utc(1, 59), []schedule.Job{
		{Name: "sync", Spec: "0 2 * * *", Run: gated(started, "sync", release), Coalesce: true},
		{Name: "changes", Spec: "*/30 * * * *", Run: func(context.Context) error { return nil }},
	}, schedule.Options{})
	h.start(t)
	h.clk.advanceTo(t, utc(2, 0))
	require.Equal(t, "sync", recv(t, started))
	require.Equal(t, schedule.SkippedBusy, h.next(t).Skipped)
	require.Positive(t, daemonGoroutines(), "the loop and the run are visible while running")

	close(release)
	require.Equal(t, "sync", h.next(t).Job)
	require.NoError(t, h.stop(t))

	deadline := time.Now().Add(guard)
	for daemonGoroutines() > 0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("daemon goroutines left after Stop:\n%s", buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// daemonGoroutines counts goroutines running the daemon's own code.
func daemonGoroutines() int {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	n := 0
	for g := range strings.SplitSeq(stacks, "\n\n") {
		if strings.Contains(g, "affinity-sync/schedule.(*Daemon)") {
			n++
		}
	}
	return n
}
