// Package extractor owns the sync streams: one per Affinity resource. A stream
// pages through the API from its checkpoint, hands each page to the loader in
// a transaction that also moves the checkpoint, and after a complete pass lets
// the loader soft-delete what the pass did not see.
package extractor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// What the change feed reads.
	ChangeFeedState(ctx context.Context, scope []int64) (loader.ChangeFeedState, error)
	// What the relationship intelligence streams read: what is due.
	InteractionsDue(ctx context.Context, q loader.IntelligenceQuery) ([]loader.InteractionDue, error)
	StrengthsDue(ctx context.Context, q loader.IntelligenceQuery) ([]loader.StrengthDue, error)
	FilesDue(ctx context.Context, q loader.IntelligenceQuery) ([]loader.EntityKey, error)
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
	// ChangedOnly refreshes only the field values (and organization persons) of new and
	// changed entities, none for being stale: what a changes run does between full passes.
	ChangedOnly bool
	// Workers is how many per-entity requests (field values, organization
	// details) may be in flight at once; default DefaultWorkers.
	Workers int
	// APIV2 says whether field values and organization links may be read through API v2
	// where that costs fewer requests (affinity.api_v2); the zero value reads v1 only.
	APIV2 V2Mode
	// Intelligence tunes interactions, relationship_strengths and entity_files' per-entity
	// fallback (sync.intelligence_*, quota.intelligence_requests).
	Intelligence IntelligenceOptions
	Logger       *slog.Logger
	Now          func() time.Time
}

// Syncer runs streams. It is safe for one Run at a time.
type Syncer struct {
	api   API
	store Store
	opts  Options
	log   *slog.Logger
	intel *requestCap // the intelligence cap of the current run
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
	return &Syncer{api: api, store: store, opts: opts, log: log, intel: &requestCap{limit: opts.Intelligence.Cap}}
}

// StreamResult is what one stream did in a run.
type StreamResult struct {
	Stream      StreamName
	Pages       int64
	Rows        int64
	NULs        int64
	SoftDeleted int64
	Complete    bool  // the stream finished its pass
	Err         error // why it did not
	// Path is the API path the pass took and why (field_values and organization_details);
	// nil for a stream of one path, or one that stopped before choosing.
	Path *PathNote
	// Phases are the phases the run ran (or started), in order, each with what it read and
	// spent; a probe that failed the stream before any phase ran is one more.
	Phases []PhaseResult
	// Rule is the counts the API v2 path rule decided on and what it decided: for
	// field_values the lists as ListCounts returned them (ThroughV2 as the rule chose, or set
	// for the list a resumed pass stopped in; Phases say what was read),
	// UnlistedDue, Live["persons"] and Live["organizations"] with UnlistedThroughV2 (with
	// sync.field_values_for_unlisted); for organization_details DetailsDue,
	// Live["organizations"] and DetailsThroughV2; and the v1 requests the probe sent
	// (ValuesProbe, LinksProbe). Zero when the stream has no rule or did not apply it (api_v2
	// off, a pass continuing through v1).
	Rule loader.PlanCounts
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
func (s *Syncer) Run(ctx context.Context, names []StreamName) Result {
	if len(names) == 0 {
		names = Streams()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.intel = &requestCap{limit: s.opts.Intelligence.Cap} // a cap a pass

	results := make([]StreamResult, len(names))
	defs := make([]stream, len(names))
	known := make([]bool, len(names))
	for i, name := range names {
		defs[i], known[i] = lookup(name)
		if !known[i] {
			results[i] = StreamResult{Stream: name, Err: fmt.Errorf("stream %s: %w", name, checkStreams([]StreamName{name}))}
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
func failedDependency(st stream, names []StreamName, results []StreamResult) StreamName {
	for _, dep := range st.dependsOn {
		if i := slices.Index(names, dep); i >= 0 && results[i].Err != nil {
			return dep
		}
	}
	return ""
}

func (s *Syncer) runStream(ctx context.Context, def stream) StreamResult {
	ctx = WithSender(ctx, string(def.name)) // every request of the stream's run names it (StreamOfRequest)
	return s.runPass(ctx, def)
}

// staleBefore is when values fetched earlier are due for being stale, given their maximum
// age: never under ChangedOnly.
func (s *Syncer) staleBefore(maxAge time.Duration) time.Time {
	if s.opts.ChangedOnly {
		return time.Time{}
	}
	return s.opts.Now().Add(-maxAge)
}
