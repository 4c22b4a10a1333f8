package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/migrations"
)

func knownStream(name string) bool { return slices.Contains(extractor.Streams(), name) }

// orderStreams puts the named streams in run order, without repeats.
func orderStreams(names []string) []string {
	var out []string
	for _, s := range extractor.Streams() {
		if slices.Contains(names, s) {
			out = append(out, s)
		}
	}
	return out
}

func migrateRun(ctx context.Context, cfg Config, command string, out io.Writer, log *slog.Logger) error {
	return migrations.Run(ctx, cfg.Database.URL.reveal(), cfg.Database.Schema, command, out, log)
}

// closeBudget gives the budget's unused reservations back to the ledger, even
// when ctx has ended; a failure only over-counts, so it is logged.
func closeBudget(ctx context.Context, budget *quota.Budget, log *slog.Logger) {
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := budget.Close(closeCtx); err != nil {
		log.Warn("give back unused request reservations", "error", err)
	}
}

// openWarehouse migrates the schema (idempotent) and opens the store.
func openWarehouse(ctx context.Context, cfg Config, log *slog.Logger) (*loader.Store, error) {
	if err := migrateRun(ctx, cfg, "up", io.Discard, log); err != nil {
		return nil, err
	}
	store, err := loader.Open(ctx, cfg.Database.URL.reveal(), cfg.Database.Schema, log)
	if err != nil {
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	return store, nil
}

// syncOptions are the flags of one sync run.
type syncOptions struct {
	streams         []string
	partial         bool // --streams limited the run
	allowMassDelete bool
	locked          bool // the caller holds the schema's run lock (the daemon)

	observe  func(affinity.RequestInfo) // also sees every request (the daemon's metrics)
	progress *progress                  // shows the run's progress (progress.go); nil = none
}

func cmdSync(ctx context.Context, e env, args []string) (int, error) {
	fs := newFlags("sync", e)
	streamsFlag := fs.String("streams", "", "comma-separated streams to run (default: every enabled stream)")
	allowMassDelete := fs.Bool("allow-mass-delete", false, "let this run soft-delete past sync.max_delete_share")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, usagef("sync: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return 0, err
	}
	streams, partial, err := effectiveStreams(*streamsFlag, cfg.Sync.Streams)
	if err != nil {
		return 0, err
	}
	if err := cfg.needAPI(); err != nil {
		return 0, err
	}
	if err := cfg.needDatabase(); err != nil {
		return 0, err
	}
	log := newLogger(e.stderr, cfg)
	sum, err := syncOnce(ctx, cfg, log, syncOptions{streams: streams, partial: partial, allowMassDelete: *allowMassDelete,
		progress: newProgress(e.stderr, log, streams)})
	if err != nil {
		return 0, err
	}
	return sum.exitCode(), nil
}

// syncSummary is what a run did, for exit codes and the demo's report.
type syncSummary struct {
	runID    int64
	result   extractor.Result
	requests int64
	failure  error // the run failed before any stream started
}

func (s syncSummary) exitCode() int {
	switch {
	case s.failure != nil, len(s.result.Failed()) > 0:
		return exitFailed
	case s.result.BudgetSpent():
		return exitBudgetSpent
	}
	return exitOK
}

// errLocked says another process is syncing the same schema.
type errLocked struct{ schema string }

func (e errLocked) Error() string {
	return fmt.Sprintf("another affinity-sync is syncing schema %q right now (advisory lock held); try again when it has finished", e.schema)
}

// syncOnce migrates, then runs the streams once within the request budget and
// records the run.
func syncOnce(ctx context.Context, cfg Config, log *slog.Logger, opts syncOptions) (syncSummary, error) {
	var sum syncSummary
	store, err := openWarehouse(ctx, cfg, log)
	if err != nil {
		return sum, err
	}
	defer store.Close()
	if !opts.locked {
		release, ok, err := store.TryRunLock(ctx)
		if err != nil {
			return sum, err
		}
		if !ok {
			return sum, errLocked{cfg.Database.Schema}
		}
		defer release()
	}
	if opts.partial {
		unmet, err := extractor.UnmetDependencies(ctx, store, opts.streams)
		if err != nil {
			return sum, fmt.Errorf("read checkpoints: %w", err)
		}
		if len(unmet) > 0 {
			return sum, usagef("--streams: %s", strings.Join(unmet, "; "))
		}
	}

	budget := quota.New(store, cfg.limits(), time.Now, log)
	defer closeBudget(ctx, budget, log)
	client, err := newClient(cfg, log, budget, opts.observe, opts.progress.observe)
	if err != nil {
		return sum, err
	}
	// A key of another workspace changes nothing (not even a run record);
	// any other failure to ask is recorded as a failed run.
	guardErr := checkWorkspace(ctx, cfg, log, store, budget)
	var usage *usageError
	if errors.As(guardErr, &usage) {
		return sum, guardErr
	}
	// Runs that died without recording their end are failed runs.
	if _, err := store.AbandonRuns(ctx); err != nil {
		return sum, err
	}
	var resumeSince *time.Time
	if !opts.partial {
		if resumeSince, err = store.ResumeSince(ctx, opts.streams); err != nil {
			return sum, err
		}
		if resumeSince != nil {
			log.Info("continuing the interrupted run: streams that completed since it started are not run again", "since", resumeSince)
		}
	}
	defer opts.progress.start(ctx, budget)()
	runID, err := store.StartRun(ctx, opts.streams)
	if err != nil {
		return sum, fmt.Errorf("record run start: %w", err)
	}
	sum.runID = runID
	started := time.Now()
	log.Info("sync started", "run", runID, "streams", strings.Join(opts.streams, ","))

	if guardErr != nil {
		// Not knowing the workspace, no stream may run; the run is recorded failed.
		sum.failure = guardErr
	} else {
		syncer := extractor.New(client, opts.progress.wrap(store), extractor.Options{
			MaxDeleteShare:         cfg.Sync.MaxDeleteShare,
			AllowMassDelete:        opts.allowMassDelete,
			FieldValuesForUnlisted: cfg.Sync.FieldValuesForUnlisted,
			Lists:                  cfg.Sync.Lists,
			ResumeSince:            resumeSince,
			ValuesMaxAge:           cfg.Sync.ValuesMaxAge,
			UnlistedMaxAge:         cfg.Sync.UnlistedValuesMaxAge,
			Logger:                 log,
		})
		sum.result = syncer.Run(ctx, opts.streams)
	}
	sum.requests = budget.Sent()

	rows, nuls := sum.result.Totals()
	rr := loader.RunResult{
		Streams:         opts.streams,
		Requests:        sum.requests,
		Rows:            rows,
		NULsReplaced:    nuls,
		AllowMassDelete: opts.allowMassDelete,
	}
	var errs []string
	if sum.failure != nil {
		errs = append(errs, sum.failure.Error())
	}
	for _, s := range sum.result.Streams {
		if s.Err != nil {
			errs = append(errs, s.Err.Error())
		}
	}
	rr.Error = strings.Join(errs, "; ")
	switch sum.exitCode() {
	case exitFailed:
		rr.Status = "failed"
	case exitBudgetSpent:
		rr.Status = "budget_spent"
	default:
		rr.Status = "completed"
		if opts.partial {
			rr.Status = "partial"
		}
	}
	// Record the outcome even when the run was interrupted.
	finishCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := store.FinishRun(finishCtx, runID, rr); err != nil {
		return sum, fmt.Errorf("record run end: %w", err)
	}
	level := slog.LevelInfo
	if rr.Status == "failed" {
		level = slog.LevelError
	}
	log.Log(ctx, level, "sync finished", "run", runID, "status", rr.Status, "rows", rows, "requests", sum.requests,
		"nul_replaced", nuls, "duration", time.Since(started).Round(time.Millisecond), "error", rr.Error)
	return sum, nil
}

// newClient builds the Affinity client: every attempt is reserved in the
// budget first, every response's rate-limit headers go to the budget, and
// requests are paced at the per-minute rate left after the reserve.
func newClient(cfg Config, log *slog.Logger, budget *quota.Budget, observers ...func(affinity.RequestInfo)) (*affinity.Client, error) {
	client, err := affinity.NewClient(cfg.Affinity.BaseURL, cfg.Affinity.APIKey.reveal(),
		affinity.WithLogger(log),
		affinity.WithPerMinute(cfg.limits().EffectivePerMinute()),
		affinity.WithReserve(budget.Reserve),
		affinity.WithObserver(func(info affinity.RequestInfo) {
			budget.Observe(info)
			for _, o := range observers {
				if o != nil {
					o(info)
				}
			}
		}),
	)
	if err != nil {
		return nil, usagef("affinity: %v", err)
	}
	return client, nil
}

// checkWorkspace makes sure the key belongs to the workspace the schema holds
// (design.md section 8), before anything is written: a key of another
// workspace is a configuration error (exit 2) and leaves the schema exactly
// as it was — the ledger too, so GET /auth/whoami is counted only once the
// workspace is known to be this schema's.
func checkWorkspace(ctx context.Context, cfg Config, log *slog.Logger, store *loader.Store, budget *quota.Budget) error {
	st, err := budget.Status(ctx)
	if err != nil {
		return err
	}
	if st.Left() == 0 {
		return nil // the first reservation of the run says the budget is spent
	}
	plain, err := affinity.NewClient(cfg.Affinity.BaseURL, cfg.Affinity.APIKey.reveal(), affinity.WithLogger(log),
		affinity.WithPerMinute(cfg.limits().EffectivePerMinute()), affinity.WithObserver(budget.Observe))
	if err != nil {
		return usagef("affinity: %v", err)
	}
	who, err := plain.WhoAmI(ctx)
	if err != nil {
		return refusedKey(fmt.Errorf("ask Affinity which workspace the key belongs to: %w", err))
	}
	_, err = store.CheckWorkspace(ctx, who.Tenant.ID, who.Tenant.Name, who.Tenant.Subdomain)
	var mismatch *loader.WorkspaceMismatchError
	if errors.As(err, &mismatch) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	if err := budget.Reserve(ctx); err != nil && !quota.IsSpent(err) {
		return err
	}
	return nil
}
