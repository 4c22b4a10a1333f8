package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
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
	if err := checkWorkspaceAtStart(ctx, cfg, log, store); err != nil {
		return err
	}

	// The HTTP side: metrics, health, webhooks.
	metrics := httpapi.NewMetrics(httpapi.MetricsOptions{
		Budget: quota.New(store, cfg.limits(), time.Now, log), Checkpoints: store, Paths: store, Logger: log})
	serveHTTP, err := startHTTP(ctx, cfg, log, store, metrics)
	if err != nil {
		return err
	}
	defer serveHTTP()

	runJob := func(name string, opts syncOptions) func(ctx context.Context) error {
		opts.observe = metrics.ObserveRequest
		opts.locked = true // the scheduler took the run lock
		return func(ctx context.Context) error {
			started := time.Now()
			sum, err := syncWith(ctx, cfg, log, store, opts)
			metrics.ObserveRun(name, time.Since(started), runResult(sum, err), sum.result)
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
	jobs := []schedule.Job{{Name: "sync", Spec: cfg.Schedule.Sync, Coalesce: true,
		Run: runJob("sync", syncOptions{streams: streams})}}
	if cfg.Schedule.Changes != "" && len(changes) > 0 {
		jobs = append(jobs, schedule.Job{Name: "changes", Spec: cfg.Schedule.Changes,
			Run: runJob("changes", syncOptions{streams: changes, partial: true})})
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
// or one Affinity refuses, stops the daemon; any other failure is left to the first run.
func checkWorkspaceAtStart(ctx context.Context, cfg Config, log *slog.Logger, store *loader.Store) error {
	budget := quota.New(store, cfg.limits(), time.Now, log)
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
	fmt.Fprintf(out, "requests today (UTC): %d spent, cap %s, %s left, resets %s\n", st.DayUsed, capText(st.DayCap), leftText(st.DayLeft),
		st.DayResets.Format(time.RFC3339))
	fmt.Fprintf(out, "requests this month (UTC): %d spent, cap %s, %s left, resets %s\n", st.MonthUsed, capText(st.MonthCap),
		leftText(st.MonthLeft), st.MonthResets.Format(time.RFC3339))
}
