package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/schedule"
	"github.com/affinity-sync/affinity-sync/schedule/httpapi"
)

// changesStreams is what the "changes" schedule runs: the change feed, then a
// targeted refresh of the field values it shows to have changed.
var changesStreams = []string{extractor.StreamFieldValueChanges, extractor.StreamFieldValues}

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
	streams, _, err := effectiveStreams("", cfg.Sync.Streams)
	if err != nil {
		return err
	}
	store, err := hooks.openWarehouse(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("stopped while starting")
			return nil
		}
		return err
	}
	defer store.Close()

	// The HTTP side: metrics, health, webhooks.
	metrics := httpapi.NewMetrics(httpapi.MetricsOptions{
		Budget: quota.New(store, cfg.limits(), time.Now, log), Checkpoints: store, Logger: log})
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
	var changes []string
	for _, s := range changesStreams {
		for _, enabled := range streams {
			if s == enabled {
				changes = append(changes, s)
			}
		}
	}
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

func cmdPlan(ctx context.Context, e env, args []string) error {
	fs := newFlags("plan", e)
	streamsFlag := fs.String("streams", "", "comma-separated streams to plan (default: every enabled stream)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, log, err := e.commandConfig(false)
	if err != nil {
		return err
	}
	streams, _, err := effectiveStreams(*streamsFlag, cfg.Sync.Streams)
	if err != nil {
		return err
	}
	store, err := openWarehouse(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	budget := quota.New(store, cfg.limits(), time.Now, log)

	// The one request a plan spends: what the server says is left.
	serverNote := "not asked (no API key)"
	if cfg.Affinity.APIKey != "" {
		client, err := newClient(cfg, log, budget)
		if err != nil {
			return err
		}
		rl, err := client.RateLimit(ctx)
		switch {
		case err == nil:
			budget.ObserveRateLimit(rl)
			serverNote = fmt.Sprintf("month %s of %s left, minute %s of %s", rl.OrgMonthly.Remaining, rl.OrgMonthly.Limit,
				rl.APIKeyPerMinute.Remaining, rl.APIKeyPerMinute.Limit)
		case quota.IsSpent(err):
			serverNote = "not asked: the budget is spent"
		default:
			return fmt.Errorf("ask Affinity for the rate limit: %w", err)
		}
	}
	if err := budget.Close(ctx); err != nil {
		return err
	}
	now := time.Now()
	var listIDs []int64
	if len(cfg.Sync.Lists) > 0 {
		lists, err := extractor.ChooseLists(ctx, store, cfg.Sync.Lists)
		if err != nil {
			return err
		}
		for _, l := range lists {
			listIDs = append(listIDs, l.ID)
		}
	}
	counts, err := store.PlanCounts(ctx, now, now.Add(-cfg.Sync.ValuesMaxAge), now.Add(-cfg.Sync.UnlistedValuesMaxAge), cfg.Sync.FieldValuesForUnlisted, listIDs)
	if err != nil {
		return err
	}
	st, err := budget.Status(ctx)
	if err != nil {
		return err
	}
	if err := printPlan(e.stdout, extractor.Plan(counts, streams, cfg.Sync.FieldValuesForUnlisted), st, serverNote); err != nil {
		return err
	}
	if len(cfg.Sync.Lists) == 0 && len(cfg.Sync.Streams) == 0 {
		return nil
	}
	// What the choice of lists and streams saves: the same plan for everything.
	all, err := store.PlanCounts(ctx, now, now.Add(-cfg.Sync.ValuesMaxAge), now.Add(-cfg.Sync.UnlistedValuesMaxAge), cfg.Sync.FieldValuesForUnlisted, nil)
	if err != nil {
		return err
	}
	chosen, everything := planTotal(extractor.Plan(counts, streams, cfg.Sync.FieldValuesForUnlisted)),
		planTotal(extractor.Plan(all, extractor.Streams(), cfg.Sync.FieldValuesForUnlisted))
	fmt.Fprintf(e.stdout, "sync.lists and sync.streams save %d requests: %d for every list and stream\n", everything-chosen, everything)
	return nil
}

func planTotal(items []extractor.PlanItem) int64 {
	var n int64
	for _, it := range items {
		n += it.Requests
	}
	return n
}

func printPlan(out io.Writer, items []extractor.PlanItem, st quota.Status, serverNote string) error {
	left := st.Left()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTREAM\tREQUESTS\tTOTAL\tFITS\tWHAT")
	var total int64
	for i, it := range items {
		total += it.Requests
		fits := "yes"
		if left >= 0 && total > left {
			fits = "no"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", i+1, it.Stream, it.Requests, total, fits, it.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nestimated requests: %d\n", total)
	printBudget(out, st)
	fmt.Fprintf(out, "Affinity reports: %s\n", serverNote)
	if left >= 0 && total > left {
		fmt.Fprintf(out, "the budget runs out before the plan ends: the run stops at a page boundary (exit 3) and the next one continues\n")
	}
	return nil
}

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
