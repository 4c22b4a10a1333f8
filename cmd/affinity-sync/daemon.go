package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/schedule"
	"github.com/affinity-sync/affinity-sync/schedule/httpapi"
)

// changesStreams is what the "changes" schedule runs: the change feed, then a
// targeted refresh of the field values it shows to have changed.
var changesStreams = []extractor.StreamName{extractor.StreamFieldValueChanges, extractor.StreamFieldValues}

// stopTimeout bounds how long the daemon waits for a run to commit its page
// in flight after SIGINT/SIGTERM.
const stopTimeout = 60 * time.Second

func cmdDaemon(ctx context.Context, e env, args []string) error {
	fs := newFlags("daemon", e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, log, err := e.commandConfig(true)
	if err != nil {
		return err
	}
	return runDaemon(ctx, cfg, log, daemonHooks{})
}

// daemonHooks are the daemon's seams for tests; the zero value is production.
type daemonHooks struct {
	// openWarehouse migrates and opens the warehouse; default openWarehouse.
	openWarehouse func(ctx context.Context, cfg Config, log *slog.Logger) (*loader.Store, error)
	// now and after are the scheduler's clock; default the real one.
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
}

// runDaemon serves until ctx ends. It migrates and opens the warehouse once, at start, and
// every scheduled run, the HTTP side and the webhook worker share that store and its pool.
func runDaemon(ctx context.Context, cfg Config, log *slog.Logger, hooks daemonHooks) error {
	if hooks.openWarehouse == nil {
		hooks.openWarehouse = openWarehouse
	}
	streams := configuredStreams(cfg.Sync.Streams)
	store, err := hooks.openWarehouse(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("stopped while starting")
			return nil
		}
		return err
	}
	defer store.Close()
	clock := hooks.now
	if clock == nil {
		clock = time.Now
	}
	if err := checkWorkspaceAtStart(ctx, cfg, log, store, clock); err != nil {
		return err
	}
	// The budget the metrics, status-like reads and the month's projection see; it learns the
	// allowance Affinity reports from every request the runs send.
	watch := quota.New(store, cfg.limits(), clock, log)
	month := monthReader{cfg: cfg, budget: watch, store: store, now: clock}
	warner := &monthWarner{project: month.Month, now: clock, log: log}

	// The HTTP side: metrics, health, webhooks.
	metrics := httpapi.NewMetrics(httpapi.MetricsOptions{
		Budget: watch, Checkpoints: store, Paths: store, Month: month, Logger: log})
	observe := func(info affinity.RequestInfo) {
		watch.Observe(info)
		metrics.ObserveRequest(info)
	}
	serveHTTP, err := startHTTP(ctx, cfg, log, store, metrics)
	if err != nil {
		return err
	}
	defer serveHTTP()

	runJob := func(name string, opts syncOptions) func(ctx context.Context) error {
		opts.observe = observe
		opts.locked = true // the scheduler took the run lock
		opts.job = name
		opts.now = clock
		return func(ctx context.Context) error {
			started := time.Now()
			sum, err := syncWith(ctx, cfg, log, store, opts)
			metrics.ObserveRun(name, time.Since(started), runResult(sum, err), sum.result)
			warner.check(ctx) // once a day
			if err != nil {
				return err
			}
			switch sum.status() {
			case statusFailed:
				return fmt.Errorf("%s run %d failed", name, sum.runID)
			case statusBudgetSpent:
				log.Warn("request budget spent: the run stopped and continues at the next one", "job", name, "run", sum.runID)
			}
			return nil
		}
	}
	changes := changesJobStreams(streams)
	jobs := []schedule.Job{{Name: jobSync, Spec: cfg.Schedule.Sync, Coalesce: true,
		Run: runJob(jobSync, syncOptions{streams: streams})}}
	if cfg.Schedule.Changes != "" && len(changes) > 0 {
		jobs = append(jobs, schedule.Job{Name: jobChanges, Spec: cfg.Schedule.Changes,
			Run: runJob(jobChanges, syncOptions{streams: changes, partial: true})})
	}
	d, err := schedule.New(jobs, runLocker{store}, schedule.Options{
		Logger:      log,
		Now:         hooks.now,
		After:       hooks.after,
		StopTimeout: stopTimeout,
		RunAtStart: func(ctx context.Context) (string, bool, error) {
			last, err := store.LastCompletedRun(ctx)
			if err != nil {
				return "", false, err
			}
			return "sync", last == nil, nil
		},
	})
	if err != nil {
		return usagef("schedule: %v", err)
	}
	warner.check(ctx) // at start
	if err := d.Start(ctx); err != nil {
		if ctx.Err() != nil {
			log.Info("stopped while starting")
			return nil
		}
		return fmt.Errorf("start daemon: %w", err)
	}
	next := d.Next()
	log.Info("daemon started", "schema", cfg.Database.Schema, "next_sync", next["sync"], "next_changes", next["changes"])
	<-ctx.Done()
	log.Info("stopping: no new runs; waiting for the run in progress to commit its page", "timeout", stopTimeout)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout+5*time.Second)
	defer cancel()
	if err := d.Stop(stopCtx); err != nil {
		return err
	}
	log.Info("daemon stopped")
	return nil
}

// changesJobStreams are the streams of the "changes" job: those of changesStreams that are
// enabled.
func changesJobStreams(enabled []extractor.StreamName) []extractor.StreamName {
	var changes []extractor.StreamName
	for _, s := range changesStreams {
		if slices.Contains(enabled, s) {
			changes = append(changes, s)
		}
	}
	return changes
}

// checkWorkspaceAtStart asks once which workspace the key belongs to: the scheduled changes
// runs trust the workspace recorded, full passes check it again. A key of another workspace,
// or one Affinity refuses, stops the daemon; any other failure is left to the first run. A
// schema that has recorded no workspace yet is left to the first run too: only full passes
// run until one completes, and each checks it.
func checkWorkspaceAtStart(ctx context.Context, cfg Config, log *slog.Logger, store *loader.Store, now func() time.Time) error {
	if ws, err := store.RecordedWorkspace(ctx); err != nil || ws == nil {
		return err
	}
	budget := quota.New(store, cfg.limits(), now, log)
	defer closeBudget(ctx, budget, log)
	err := checkWorkspace(ctx, cfg, log, store, budget)
	var usage *usageError
	var refused *keyRefusedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &usage), errors.As(err, &refused):
		return err
	case ctx.Err() != nil:
		return nil
	}
	log.Warn("could not check the workspace at start; the first run checks it", "error", err)
	return nil
}

// monthReader projects the month of the configured schedule (httpapi.MonthReader).
type monthReader struct {
	cfg    Config
	budget *quota.Budget
	store  *loader.Store
	now    func() time.Time
}

func (m monthReader) Month(ctx context.Context) (quota.MonthProjection, error) {
	return projectMonth(ctx, m.cfg, m.budget, m.store, warehouseEstimator(m.cfg, m.store, m.now))
}

// monthWarner logs warnMonth's warning at most once per UTC day of its clock: at start, and
// after the first run of each day.
type monthWarner struct {
	project func(context.Context) (quota.MonthProjection, error)
	now     func() time.Time
	log     *slog.Logger

	mu  sync.Mutex
	day time.Time // the UTC day last checked
}

func (w *monthWarner) check(ctx context.Context) {
	day, _ := quota.Periods(w.now())
	w.mu.Lock()
	checked := day.Equal(w.day)
	w.day = day
	w.mu.Unlock()
	if checked {
		return
	}
	p, err := w.project(ctx)
	if err != nil {
		w.log.Warn("project the month's requests", "error", err)
		return
	}
	warnMonth(w.log, p)
}

// runResult names how a daemon run ended, for the metrics: the run record's status, or
// "error" when the run could not start or record itself.
func runResult(sum syncSummary, err error) string {
	if err != nil {
		return "error"
	}
	return sum.status()
}

// startHTTP binds server.addr and serves the daemon's HTTP side there, with the webhook
// refresh worker, until the returned stop is called (after the scheduler stopped). Targeted
// refreshes spend requests from the same ledger as the runs. An empty server.addr serves
// nothing.
func startHTTP(ctx context.Context, cfg Config, log *slog.Logger, store *loader.Store, metrics *httpapi.Metrics) (stop func(), err error) {
	if cfg.Server.Addr == "" {
		log.Info("http server off (server.addr is empty)")
		return func() {}, nil
	}
	opts := httpapi.Options{ReadyMaxAge: cfg.Server.ReadyMaxAge, Health: store, Metrics: metrics, Logger: log}
	var budget *quota.Budget
	if cfg.Webhook.Token != "" {
		budget = quota.New(store, cfg.limits(), time.Now, log)
		client, err := newClient(cfg, log, budget, metrics.ObserveRequest)
		if err != nil {
			return nil, err
		}
		opts.WebhookToken = cfg.Webhook.Token.reveal()
		opts.Deliveries = store
		opts.Refresher = extractor.NewRefresher(client, store, extractor.Options{Logger: log})
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("serve http on server.addr: %w", err)
	}
	log.Info("http server listening", "addr", ln.Addr().String(), "webhooks", cfg.Webhook.Token != "")
	srvCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := httpapi.New(opts).Serve(srvCtx, ln, 10*time.Second); err != nil {
			log.Error("http server stopped", "error", err)
		}
	}()
	return func() {
		cancel()
		<-done
		if budget != nil {
			closeBudget(ctx, budget, log)
		}
	}, nil
}

// runLocker lets the scheduler take the schema's run lock.
type runLocker struct{ store *loader.Store }

func (l runLocker) TryLock(ctx context.Context) (func(), bool, error) { return l.store.TryRunLock(ctx) }

func printBudget(out io.Writer, st quota.Status) {
	capText := func(n int64) string {
		if n <= 0 {
			return "no cap"
		}
		return fmt.Sprint(n)
	}
	leftText := func(n int64) string {
		if n < 0 {
			return "unlimited"
		}
		return fmt.Sprint(n)
	}
	dayCap := capText(st.DayCap)
	if st.DayPaced {
		dayCap = fmt.Sprintf("%d (the month's pace)", st.DayCap)
	}
	fmt.Fprintf(out, "requests today (UTC): %d spent, cap %s, %s left, resets %s\n", st.DayUsed, dayCap, leftText(st.DayLeft),
		st.DayResets.Format(time.RFC3339))
	fmt.Fprintf(out, "requests this month (UTC): %d spent, cap %s, %s left, resets %s\n", st.MonthUsed, capText(st.MonthCap),
		leftText(st.MonthLeft), st.MonthResets.Format(time.RFC3339))
}
