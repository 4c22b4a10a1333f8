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

// orderStreams puts the named streams in run order, without repeats.
func orderStreams(names []extractor.StreamName) []extractor.StreamName {
	var out []extractor.StreamName
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
	streams         []extractor.StreamName
	partial         bool // --streams limited the run
	allowMassDelete bool
	locked          bool   // the caller holds the schema's run lock (the daemon)
	job             string // the daemon's scheduled job (sync_runs.job); "" for the sync command

	observe  func(affinity.RequestInfo) // also sees every request (the daemon's metrics)
	progress *progress                  // shows the run's progress (progress.go); nil = none
	// now is the run's clock for the budget's ledger days and the extractor (what it stamps
	// and what it finds due); nil = time.Now. bench --day runs a simulated day on it.
	now func() time.Time
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
		progress: newProgress(e.stderr, log, streams), now: e.now})
	if err != nil {
		return 0, err
	}
	return sum.exitCode(), nil
}

// Statuses a run records at its end (sync_runs.status).
const (
	statusCompleted   = "completed"
	statusPartial     = "partial" // --streams limited the run, and every stream finished
	statusBudgetSpent = "budget_spent"
	statusFailed      = "failed"
)

// syncSummary is what a run did, for its record, exit codes, metrics and the demo's report.
type syncSummary struct {
	runID    int64
	partial  bool // --streams limited the run
	result   extractor.Result
	requests int64
	// requestsByStream splits requests by what sent them (extractor.StreamOfRequest of the
	// tag each was reserved with): each stream, and extractor.WorkspaceCheck.
	requestsByStream map[string]int64
	failure          error // the run failed before any stream started
}

// status decides how a run ended; the run record, the exit code and the daemon's metrics
// all read it. A failure outranks a spent budget, which outranks a finished run.
func (s syncSummary) status() string {
	switch {
	case s.failure != nil, len(s.result.Failed()) > 0:
		return statusFailed
	case s.result.BudgetSpent():
		return statusBudgetSpent
	case s.partial:
		return statusPartial
	}
	return statusCompleted
}

// exitCode is the exit status of "sync" for the run: 1 failed, 3 budget spent, else 0.
func (s syncSummary) exitCode() int {
	switch s.status() {
	case statusFailed:
		return exitFailed
	case statusBudgetSpent:
		return exitBudgetSpent
	}
	return exitOK
}

// errLocked says another process is syncing the same schema.
type errLocked struct{ schema string }

func (e errLocked) Error() string {
	return fmt.Sprintf("another affinity-sync is syncing schema %q right now (advisory lock held); try again when it has finished", e.schema)
}

// syncOnce migrates, opens the warehouse, runs the streams once within the request budget
// and records the run. The daemon, which keeps its warehouse open, calls syncWith.
func syncOnce(ctx context.Context, cfg Config, log *slog.Logger, opts syncOptions) (syncSummary, error) {
	store, err := openWarehouse(ctx, cfg, log)
	if err != nil {
		return syncSummary{partial: opts.partial}, err
	}
	defer store.Close()
	return syncWith(ctx, cfg, log, store, opts)
}

// syncWith runs the streams once on an open, migrated warehouse: prepare, run, record.
func syncWith(ctx context.Context, cfg Config, log *slog.Logger, store *loader.Store, opts syncOptions) (syncSummary, error) {
	r, err := prepareRun(ctx, cfg, log, store, opts)
	if err != nil {
		return syncSummary{partial: opts.partial}, err
	}
	defer r.close()
	r.run(ctx)
	return r.sum, r.record(ctx)
}

// preparedRun is a run that has its lock, budget and client, and its start recorded.
type preparedRun struct {
	cfg         Config
	log         *slog.Logger
	store       *loader.Store
	opts        syncOptions
	budget      *quota.Budget
	client      *affinity.Client
	guardErr    error      // the workspace could not be checked: no stream may run
	resumeSince *time.Time // the interrupted run this one continues
	started     time.Time
	sum         syncSummary
	cleanups    []func() // run by close, last first
}

func (r *preparedRun) close() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// prepareRun takes the run lock (unless the caller holds it), checks what --streams needs,
// checks the workspace, marks runs that died unrecorded as failed and records the start.
// Errors before the start is recorded leave no run record; on error nothing stays held.
func prepareRun(ctx context.Context, cfg Config, log *slog.Logger, store *loader.Store, opts syncOptions) (_ *preparedRun, err error) {
	r := &preparedRun{cfg: cfg, log: log, store: store, opts: opts, sum: syncSummary{partial: opts.partial}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if !opts.locked {
		release, ok, err := store.TryRunLock(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errLocked{cfg.Database.Schema}
		}
		r.cleanups = append(r.cleanups, release)
	}
	if opts.partial {
		unmet, err := extractor.UnmetDependencies(ctx, store, opts.streams)
		if err != nil {
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		if len(unmet) > 0 {
			return nil, usagef("--streams: %s", strings.Join(unmet, "; "))
		}
	}

	r.budget = quota.New(store, cfg.limits(), opts.now, log)
	r.cleanups = append(r.cleanups, func() { closeBudget(ctx, r.budget, log) })
	if r.client, err = newClient(cfg, log, r.budget, opts.observe, opts.progress.observe); err != nil {
		return nil, err
	}
	// A key of another workspace changes nothing (not even a run record);
	// any other failure to ask is recorded as a failed run. A changes run trusts the
	// workspace recorded: full passes and the daemon's start check it.
	trusted := false
	if changesRun(opts) {
		ws, err := store.RecordedWorkspace(ctx)
		if err != nil {
			return nil, err
		}
		trusted = ws != nil
	}
	if !trusted {
		r.guardErr = checkWorkspace(ctx, cfg, log, store, r.budget)
	}
	var usage *usageError
	if errors.As(r.guardErr, &usage) {
		return nil, r.guardErr
	}
	// Runs that died without recording their end are failed runs.
	if _, err := store.AbandonRuns(ctx); err != nil {
		return nil, err
	}
	if !opts.partial {
		if r.resumeSince, err = store.ResumeSince(ctx, extractor.NamesOf(opts.streams)); err != nil {
			return nil, err
		}
		if r.resumeSince != nil {
			log.Info("continuing the interrupted run: streams that completed since it started are not run again", "since", r.resumeSince)
		}
	}
	r.cleanups = append(r.cleanups, opts.progress.start(ctx, r.budget))
	if r.sum.runID, err = store.StartJobRun(ctx, opts.job, extractor.NamesOf(opts.streams)); err != nil {
		return nil, fmt.Errorf("record run start: %w", err)
	}
	r.started = time.Now()
	log.Info("sync started", "run", r.sum.runID, "streams", strings.Join(extractor.NamesOf(opts.streams), ","))
	return r, nil
}

// run runs the streams, or none when the workspace could not be checked.
func (r *preparedRun) run(ctx context.Context) {
	if r.guardErr != nil {
		// Not knowing the workspace, no stream may run; the run is recorded failed.
		r.sum.failure = r.guardErr
	} else {
		syncer := extractor.New(r.client, r.opts.progress.wrap(r.store), extractor.Options{
			MaxDeleteShare:         r.cfg.Sync.MaxDeleteShare,
			AllowMassDelete:        r.opts.allowMassDelete,
			FieldValuesForUnlisted: r.cfg.Sync.FieldValuesForUnlisted,
			Lists:                  r.cfg.Sync.Lists,
			ResumeSince:            r.resumeSince,
			ValuesMaxAge:           r.cfg.Sync.ValuesMaxAge,
			UnlistedMaxAge:         r.cfg.Sync.UnlistedValuesMaxAge,
			APIV2:                  r.cfg.Affinity.APIV2.extractorMode(),
			ChangedOnly:            changesRun(r.opts),
			Intelligence:           r.cfg.intelligence(),
			Logger:                 r.log,
			Now:                    r.opts.now,
		})
		r.sum.result = syncer.Run(ctx, r.opts.streams)
	}
	r.sum.requests = r.budget.Sent()
	r.sum.requestsByStream = map[string]int64{}
	for label, n := range r.budget.SentBy() {
		r.sum.requestsByStream[extractor.StreamOfRequest(affinity.RequestInfo{Label: label})] += n
	}
}

// record writes the run's end, even when ctx has ended (the run was interrupted).
func (r *preparedRun) record(ctx context.Context) error {
	sum := r.sum
	rows, nuls := sum.result.Totals()
	rr := loader.RunResult{
		Status:           sum.status(),
		Streams:          extractor.NamesOf(r.opts.streams),
		Requests:         sum.requests,
		Rows:             rows,
		NULsReplaced:     nuls,
		AllowMassDelete:  r.opts.allowMassDelete,
		RequestsByStream: sum.requestsByStream,
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
	finishCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.store.FinishRun(finishCtx, sum.runID, rr); err != nil {
		return fmt.Errorf("record run end: %w", err)
	}
	level := slog.LevelInfo
	if rr.Status == statusFailed {
		level = slog.LevelError
	}
	r.log.Log(ctx, level, "sync finished", "run", sum.runID, "status", rr.Status, "rows", rows, "requests", sum.requests,
		"nul_replaced", nuls, "duration", time.Since(r.started).Round(time.Millisecond), "error", rr.Error)
	return nil
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

// changesRun reports whether a run is a changes run: the daemon's changes job, or a sync of
// exactly the streams it runs (the change feed and the field values it shows to have
// changed). Such a run does not ask which workspace the key belongs to once the schema has
// recorded one, and refreshes only the field values of new and changed entities: the rolling
// refresh of stale values is the full pass's.
func changesRun(opts syncOptions) bool {
	if opts.job == jobChanges {
		return true
	}
	if !opts.partial || len(opts.streams) != len(changesStreams) {
		return false
	}
	for _, s := range changesStreams {
		if !slices.Contains(opts.streams, s) {
			return false
		}
	}
	return true
}

// checkWorkspace makes sure the key belongs to the workspace the schema holds
// (one warehouse schema holds one workspace), before anything is written: a key of another
// workspace is a configuration error (exit 2) and leaves the schema exactly
// as it was — the ledger too, so GET /auth/whoami is counted only once the
// workspace is known to be this schema's.
func checkWorkspace(ctx context.Context, cfg Config, log *slog.Logger, store *loader.Store, budget *quota.Budget) error {
	ctx = extractor.WithSender(ctx, extractor.WorkspaceCheck) // its request counts under its own name
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
