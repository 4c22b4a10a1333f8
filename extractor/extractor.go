// Package extractor owns the sync streams: one per Affinity resource. A stream
// pages through the API from its checkpoint, hands each page to the loader in
// a transaction that also moves the checkpoint, and after a complete pass lets
// the loader soft-delete what the pass did not see.
package extractor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// Store is what the streams need from the warehouse; *loader.Store satisfies it.
type Store interface {
	LoadCheckpoint(ctx context.Context, stream string) (loader.Checkpoint, error)
	CommitPage(ctx context.Context, p loader.Page) (loader.PageStats, error)
	CompletePhase(ctx context.Context, cp loader.Checkpoint, end loader.PhaseEnd, opts loader.PassOptions) (int64, error)
	FinishStream(ctx context.Context, stream string) error
	LiveLists(ctx context.Context) ([]loader.List, error)
	TrackedFields(ctx context.Context) ([]loader.Field, error)
	FieldValueTypes(ctx context.Context) (map[int64]int, error)
	RefreshCandidates(ctx context.Context, q loader.RefreshQuery) ([]loader.RefreshKey, error)
	DetailsCandidates(ctx context.Context, q loader.DetailsQuery) ([]loader.RefreshKey, error)
	// What the API v2 sources read.
	FieldCatalog(ctx context.Context) ([]loader.Field, error)
	DropdownOptions(ctx context.Context) (map[loader.DropdownKey]loader.DropdownOption, error)
	ListCounts(ctx context.Context, q loader.RefreshQuery) ([]loader.ListCount, error)
	DetailsDueCount(ctx context.Context, q loader.DetailsQuery) (int64, error)
	UnlistedDueCount(ctx context.Context, passStart, staleBefore time.Time) (persons, organizations, due int64, err error)
	CountLive(ctx context.Context, k loader.EntityKind) (int64, error)
	RecordPath(ctx context.Context, stream string, p loader.StreamPath) error
}

// commitTimeout bounds the commit of a batch that is finished after the run
// was asked to stop.
const commitTimeout = 30 * time.Second

// Options tune a Syncer. Zero values take the defaults.
type Options struct {
	PageSize        int     // rows per API page; default and maximum PageSize
	BatchRows       int     // most rows committed in one transaction; default 5000
	MaxDeleteShare  float64 // mass-delete guard (sync.max_delete_share): 0 refuses every soft delete on tables of 10 rows or more, 1 turns it off
	AllowMassDelete bool    // let this run pass the guard
	// ResumeSince, when set, is the start of an interrupted run that this run
	// continues: a stream that completed its pass since then, and has no pass
	// in progress, is not run again.
	ResumeSince *time.Time
	// Lists limits list entries, their field values and the change feed of
	// list fields to these lists, by id or exact name (sync.lists); empty =
	// every list. Lists left out keep their rows as they were.
	Lists []string
	// FieldValuesForUnlisted also fetches the field values of entities on no list.
	FieldValuesForUnlisted bool
	// ValuesMaxAge: the field values of listed entities fetched longer ago
	// are refreshed (stalest first, within the budget); default 20h, so a
	// daily pass refreshes everything while a rerun refreshes only changes.
	ValuesMaxAge time.Duration
	// UnlistedMaxAge is the same for entities on no list; default 7 days.
	UnlistedMaxAge time.Duration
	// Workers is how many per-entity requests (field values, organization
	// details) may be in flight at once; default DefaultWorkers.
	Workers int
	// APIV2 says whether field values and organization links may be read through API v2
	// where that costs fewer requests (affinity.api_v2); the zero value reads v1 only.
	APIV2  V2Mode
	Logger *slog.Logger
	Now    func() time.Time
}

// Syncer runs streams. It is safe for one Run at a time.
type Syncer struct {
	api   API
	store Store
	opts  Options
	log   *slog.Logger

	mu    sync.Mutex
	paths map[string]PathNote // the path each stream's pass takes, once its phases are built
	reads map[string]*readCounts
}

// New returns a Syncer over api and store.
func New(api API, store Store, opts Options) *Syncer {
	if opts.PageSize <= 0 || opts.PageSize > PageSize {
		opts.PageSize = PageSize
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 5000
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.ValuesMaxAge <= 0 {
		opts.ValuesMaxAge = 20 * time.Hour
	}
	if opts.UnlistedMaxAge <= 0 {
		opts.UnlistedMaxAge = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Syncer{api: api, store: store, opts: opts, log: log}
}

// StreamResult is what one stream did in a run.
type StreamResult struct {
	Stream      string
	Pages       int64
	Rows        int64
	NULs        int64
	SoftDeleted int64
	Complete    bool  // the stream finished its pass
	Err         error // why it did not
	// Path is the API path the pass took and why (field_values and organization_details);
	// nil for a stream of one path, or one that stopped before choosing.
	Path *PathNote
	// V2 is what the run read through API v2 for this stream, and what the probe spent.
	V2 V2Reads
	// EntityRequests counts the v1 requests of this run that fetched one entity each
	// (field values, organization details), the probe's aside.
	EntityRequests int64
}

// Result is what a run did.
type Result struct {
	Streams []StreamResult
}

// Complete reports whether every stream finished its pass.
func (r Result) Complete() bool {
	for _, s := range r.Streams {
		if !s.Complete {
			return false
		}
	}
	return true
}

// BudgetSpent reports whether a stream stopped because the request budget ran out.
func (r Result) BudgetSpent() bool {
	for _, s := range r.Streams {
		if errors.Is(s.Err, affinity.ErrBudgetSpent) {
			return true
		}
	}
	return false
}

// Failed returns the streams that failed for a reason other than the budget.
func (r Result) Failed() []StreamResult {
	var out []StreamResult
	for _, s := range r.Streams {
		if s.Err != nil && !errors.Is(s.Err, affinity.ErrBudgetSpent) {
			out = append(out, s)
		}
	}
	return out
}

// Totals sums rows and NUL replacements over every stream.
func (r Result) Totals() (rows, nuls int64) {
	for _, s := range r.Streams {
		rows += s.Rows
		nuls += s.NULs
	}
	return rows, nuls
}

// Run syncs the named streams (all of Streams() when names is empty), stage
// by stage (see the registry). The streams of a stage run concurrently; a failed
// stream does not stop the others, but a spent budget stops them all at their
// next page boundary, and the later stages do not start. An unknown stream name
// fails that stream alone, before anything runs.
func (s *Syncer) Run(ctx context.Context, names []string) Result {
	if len(names) == 0 {
		names = Streams()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	results := make([]StreamResult, len(names))
	defs := make([]stream, len(names))
	known := make([]bool, len(names))
	for i, name := range names {
		defs[i], known[i] = lookup(name)
		if !known[i] {
			results[i] = StreamResult{Stream: name, Err: fmt.Errorf("stream %s: %w", name, CheckStreams([]string{name}))}
		}
	}
	for stage := range len(Stages()) {
		var wg sync.WaitGroup
		for i, name := range names {
			if !known[i] || defs[i].stage != stage {
				continue
			}
			if ctx.Err() != nil {
				results[i] = StreamResult{Stream: name, Err: fmt.Errorf("stream %s: not started: %w", name, context.Cause(ctx))}
				continue
			}
			if dep := failedDependency(defs[i], names, results); dep != "" {
				results[i] = StreamResult{Stream: name, Err: fmt.Errorf("stream %s: not started: it reads %s, which failed in this run", name, dep)}
				continue
			}
			wg.Go(func() {
				res := s.runStream(ctx, defs[i])
				if errors.Is(res.Err, affinity.ErrBudgetSpent) {
					// The other streams stop at their next page; the ones
					// not started yet say why.
					cancel(res.Err)
				}
				results[i] = res
			})
		}
		wg.Wait()
	}
	return Result{Streams: results}
}

// failedDependency names a stream that st reads from and that failed
// earlier in this run, or "".
func failedDependency(st stream, names []string, results []StreamResult) string {
	for _, dep := range st.dependsOn {
		if i := slices.Index(names, dep); i >= 0 && results[i].Err != nil {
			return dep
		}
	}
	return ""
}

// phase is one listing of a stream: its pages, already converted to rows.
type phase struct {
	name      string
	withDates bool
	pages     func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error]
}

// fetched is one API page turned into warehouse rows.
type fetched struct {
	rows      loader.Page // only the row slices are set
	n         int
	nextToken string
}

// convertPages maps an API page iterator to pages of warehouse rows.
func convertPages[T any](pages iter.Seq2[affinity.Page[T], error], add func(T, *loader.Page)) iter.Seq2[fetched, error] {
	return func(yield func(fetched, error) bool) {
		for page, err := range pages {
			if err != nil {
				yield(fetched{}, err)
				return
			}
			f := fetched{n: len(page.Items), nextToken: page.NextToken}
			for _, item := range page.Items {
				add(item, &f.rows)
			}
			if !yield(f, nil) {
				return
			}
		}
	}
}

func (s *Syncer) runStream(ctx context.Context, def stream) StreamResult {
	ctx = WithSender(ctx, def.name) // every request of the stream's run names it (StreamOfRequest)
	s.resetReads(def.name)
	res := s.runStreamPhases(ctx, def)
	res.V2, res.EntityRequests = s.readsOf(def.name)
	return res
}

func (s *Syncer) runStreamPhases(ctx context.Context, def stream) StreamResult {
	stream := def.name
	res := StreamResult{Stream: stream}
	log := s.log.With("stream", stream)
	cp, err := s.store.LoadCheckpoint(ctx, stream)
	if err != nil {
		res.Err = fmt.Errorf("stream %s: %w", stream, err)
		return res
	}
	if s.opts.ResumeSince != nil && cp.PassStartedAt.IsZero() && cp.LastCompletedAt != nil && !cp.LastCompletedAt.Before(*s.opts.ResumeSince) {
		log.Info("pass already complete in the run this one continues", "completed", cp.LastCompletedAt)
		res.Complete = true
		return res
	}
	phases, err := def.phases(s, ctx)
	if note, ok := s.pathOf(stream); ok {
		res.Path = &note
		if rerr := s.store.RecordPath(ctx, stream, loader.StreamPath{Path: note.Path, Reason: note.Reason}); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		res.Err = fmt.Errorf("stream %s: %w", stream, err)
		return res
	}
	if len(phases) == 0 {
		// Nothing to read (no lists, no tracked fields): the pass is complete.
		if err := s.store.FinishStream(ctx, stream); err != nil {
			res.Err = fmt.Errorf("stream %s: %w", stream, err)
			return res
		}
		res.Complete = true
		return res
	}
	start := 0
	if cp.PassStartedAt.IsZero() {
		cp = loader.Checkpoint{Stream: stream, Phase: phases[0].name, PassStartedAt: s.opts.Now(), LastCompletedAt: cp.LastCompletedAt}
		log.Info("pass started")
	} else {
		start = resumeIndex(phases, cp.Phase)
		if start >= len(phases) {
			// The phase it stopped in (a list, a field) is gone and none follows.
			start = len(phases) - 1
		}
		if phases[start].name != cp.Phase {
			cp.Phase, cp.PageToken = phases[start].name, ""
		}
		log.Info("pass resumed", "phase", cp.Phase, "pages_done", cp.Pages, "rows_done", cp.Rows)
	}
	for i, ph := range phases[start:] {
		i += start
		if err := s.runPhase(ctx, &cp, ph, &res); err != nil {
			res.Err = fmt.Errorf("stream %s: %w", stream, err)
			log.Warn("stream stopped", "phase", ph.name, "pages", res.Pages, "rows", res.Rows, "error", res.Err)
			return res
		}
		end, err := def.end(ph.name, s.opts)
		if err != nil {
			res.Err = fmt.Errorf("stream %s: complete pass: %w", stream, err)
			return res
		}
		pass := loader.PassOptions{MaxDeleteShare: s.opts.MaxDeleteShare, AllowMassDelete: s.opts.AllowMassDelete,
			EndsPass: i == len(phases)-1}
		if !pass.EndsPass {
			pass.NextPhase = phases[i+1].name
		}
		deleted, err := s.store.CompletePhase(ctx, cp, end, pass)
		res.SoftDeleted += deleted
		if err != nil {
			res.Err = fmt.Errorf("stream %s: complete pass: %w", stream, err)
			return res
		}
		cp.Phase, cp.PageToken = pass.NextPhase, ""
	}
	res.Complete = true
	log.Info("pass complete", "pages", res.Pages, "rows", res.Rows, "soft_deleted", res.SoftDeleted, "nul_replaced", res.NULs)
	return res
}

// resumeIndex finds where a pass that stopped in phase name continues: that
// phase, or — when it is gone (a deleted list or field, named by its id) — the
// first phase after it.
func resumeIndex(phases []phase, name string) int {
	if i := slices.IndexFunc(phases, func(p phase) bool { return p.name == name }); i >= 0 {
		return i
	}
	id, err := strconv.ParseInt(name, 10, 64)
	if err != nil {
		return 0
	}
	for i, p := range phases {
		if pid, err := strconv.ParseInt(p.name, 10, 64); err == nil && pid > id {
			return i
		}
	}
	return len(phases)
}

// runPhase fetches the phase's pages from cp.PageToken on while the loader
// commits the pages already fetched. Three goroutines form the pipeline: the
// fetcher pages through the API; the coalescer merges the pages that arrive
// while a batch commits into the next batch (at most BatchRows rows, so the
// fetcher only waits for the loader when a whole batch is already waiting);
// the committer (this goroutine) commits every batch together with the
// checkpoint that follows its last page.
func (s *Syncer) runPhase(ctx context.Context, cp *loader.Checkpoint, ph phase, res *StreamResult) error {
	fetchCtx, stop := context.WithCancel(ctx)
	defer stop()
	pages := make(chan fetched)
	var fetchErr error
	go func() {
		defer close(pages)
		for f, err := range ph.pages(fetchCtx, *cp) {
			if err != nil {
				fetchErr = err // read after pages is closed
				return
			}
			select {
			case pages <- f:
			case <-fetchCtx.Done():
				return
			}
		}
	}()
	batches := make(chan pendingBatch)
	go coalesce(pages, batches, s.opts.BatchRows)

	commitErr := s.commitBatches(ctx, cp, ph, batches, res)
	stop()
	for range batches { // after a failed commit: let the coalescer and the fetcher exit
	}
	if commitErr != nil {
		return commitErr
	}
	if fetchErr != nil {
		err := fmt.Errorf("fetch page %d: %w", cp.Pages+1, fetchErr)
		if cp.PageToken != "" && tokenRefused(fetchErr) {
			// Affinity refused the page token (an expired one, say): resuming
			// from it would fail the same way on every run. The phase starts
			// over from its first page instead, within the same pass, so the
			// pass still soft-deletes only what it did not see.
			restart := *cp
			restart.PageToken = ""
			commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
			_, cerr := s.store.CommitPage(commitCtx, loader.Page{Checkpoint: restart, SeenAt: s.opts.Now()})
			cancel()
			if cerr != nil {
				return fmt.Errorf("%w; drop refused page token: %w", err, cerr)
			}
			*cp = restart
			return fmt.Errorf("%w (page token refused: the phase restarts from its first page)", err)
		}
		return err
	}
	return ctx.Err()
}

// pendingBatch is pages merged for one transaction.
type pendingBatch struct {
	rows  loader.Page // only the row slices are set
	items int         // API items of its pages
	pages int
	next  string // the page token after its last page
}

func (b *pendingBatch) add(f fetched) {
	b.rows.Append(f.rows)
	b.items += f.n
	b.pages++
	b.next = f.nextToken
}

// coalesce merges the pages from in into batches of at most maxRows items (a
// single larger page is a batch of its own) and hands each to out as soon as
// out takes it. It closes out once in is closed and every page is handed on.
func coalesce(in <-chan fetched, out chan<- pendingBatch, maxRows int) {
	defer close(out)
	var (
		cur  pendingBatch
		held *fetched // a page that would overflow cur: it starts the next batch
	)
	for {
		if held != nil && cur.pages == 0 {
			cur.add(*held)
			held = nil
		}
		recv := in
		if held != nil || cur.items >= maxRows {
			recv = nil // full: the fetcher waits for the loader
		}
		var send chan<- pendingBatch
		if cur.pages > 0 {
			send = out
		}
		if recv == nil && send == nil {
			return // in is closed and nothing is left
		}
		select {
		case f, ok := <-recv:
			if !ok {
				in = nil
				continue
			}
			if cur.pages > 0 && cur.items+f.n > maxRows {
				held = &f
				continue
			}
			cur.add(f)
		case send <- cur:
			cur = pendingBatch{}
		}
	}
}

// commitBatches commits every batch from batches, each with the checkpoint
// that follows it. Batches already fetched are committed even when ctx ends
// meanwhile: their requests are spent, and a commit is short.
func (s *Syncer) commitBatches(ctx context.Context, cp *loader.Checkpoint, ph phase, batches <-chan pendingBatch, res *StreamResult) error {
	for b := range batches {
		batch := b.rows
		batch.WithDates = ph.withDates
		next := *cp
		next.PageToken = b.next
		next.Pages += int64(b.pages)
		next.Rows += int64(b.items)
		batch.Checkpoint = next
		batch.SeenAt = s.opts.Now()
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		stats, err := s.store.CommitPage(commitCtx, batch)
		cancel()
		if err != nil {
			return fmt.Errorf("commit pages %d-%d: %w", cp.Pages+1, next.Pages, err)
		}
		*cp = next
		res.Pages += int64(b.pages)
		res.Rows += stats.Rows
		res.NULs += stats.NULsReplaced
		s.log.Debug("batch committed", "stream", cp.Stream, "phase", cp.Phase, "pages", b.pages, "rows", stats.Rows, "pass_pages", cp.Pages)
	}
	return nil
}

// tokenRefused reports whether err is Affinity refusing a request outright
// (400 or 422), which for a listing page means its page token.
func tokenRefused(err error) bool {
	var ae *affinity.APIError
	return errors.As(err, &ae) && (ae.StatusCode == 400 || ae.StatusCode == 422) && !affinity.IsMerged(err)
}
