package extractor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// Relationship intelligence: interactions and relationship strengths are read one entity at a
// time, and only for the entities whose interaction dates — which every full pass lists with
// the persons and organizations — moved since the last read (the warehouse's watermarks say
// what was read through). Together with the per-entity reads of entity_files' fallback they
// spend at most Options.Intelligence.Cap requests a pass, most recently active entity first;
// what the cap leaves is the next pass's backlog, and a pass that stops at the cap is
// complete.

// IntelligenceScope is which entities the per-entity intelligence streams read
// (sync.intelligence_scope).
type IntelligenceScope string

// The scopes.
const (
	// ScopeListed reads the persons and organizations on live entries of the synced lists
	// (and, for strengths, the persons of organizations and opportunities on them).
	ScopeListed IntelligenceScope = "listed"
	// ScopeAll reads every external person and organization.
	ScopeAll IntelligenceScope = "all"
	// ScopeNone turns interactions and relationship_strengths off.
	ScopeNone IntelligenceScope = "none"
)

// Defaults of IntelligenceOptions.
const (
	DefaultIntelligenceMaxAge = 720 * time.Hour
	DefaultInteractionsSince  = 8760 * time.Hour
)

// IntelligenceOptions tune the relationship intelligence streams.
type IntelligenceOptions struct {
	Scope IntelligenceScope // "" = ScopeListed
	// Cap is quota.intelligence_requests: the most requests interactions, relationship
	// strengths and entity_files' per-entity fallback spend together in one pass; 0 = no cap.
	Cap int64
	// MaxAge re-reads a person's strengths fetched longer ago (sync.intelligence_max_age);
	// 0 = DefaultIntelligenceMaxAge.
	MaxAge time.Duration
	// Since is how far back the first read of an entity's interactions reaches
	// (sync.interactions_since); 0 = DefaultInteractionsSince.
	Since time.Duration
}

func (o IntelligenceOptions) scope() IntelligenceScope {
	if o.Scope == "" {
		return ScopeListed
	}
	return o.Scope
}

// IntelligenceQuery is the warehouse's question of what is due, for a pass at now over the
// chosen lists (nil = every list).
func IntelligenceQuery(o IntelligenceOptions, lists []int64, now time.Time) loader.IntelligenceQuery {
	q := loader.IntelligenceQuery{Scope: string(o.scope()), Lists: lists, Now: now, MaxAge: o.MaxAge, Since: o.Since}
	if q.MaxAge <= 0 {
		q.MaxAge = DefaultIntelligenceMaxAge
	}
	if q.Since <= 0 {
		q.Since = DefaultInteractionsSince
	}
	return q
}

// intelligenceQuery is IntelligenceQuery for this pass: under a cap, no more of what is due
// than the requests left (each item read costs at least one, but for windows its dates show
// to be empty), so that a large backlog is never held in memory.
func (s *Syncer) intelligenceQuery(ctx context.Context) (loader.IntelligenceQuery, error) {
	lists, err := s.chosenListIDs(ctx)
	if err != nil {
		return loader.IntelligenceQuery{}, err
	}
	q := IntelligenceQuery(s.opts.Intelligence, lists, s.opts.Now())
	if s.intel.limit > 0 {
		q.Limit = int(max(s.intel.limit-s.intel.used.Load(), 1))
	}
	return q, nil
}

// intelligenceOff reports whether the per-entity intelligence streams read nothing in this
// run: scope none, or a changes run (they run in full passes only).
func (s *Syncer) intelligenceOff() bool {
	return s.opts.ChangedOnly || s.opts.Intelligence.scope() == ScopeNone
}

// requestCap counts the requests of the capped streams in one run.
type requestCap struct {
	limit int64 // 0 = no cap
	used  atomic.Int64
}

// take reserves one request; false when the cap is spent.
func (c *requestCap) take() bool {
	if n := c.used.Add(1); c.limit > 0 && n > c.limit {
		c.used.Add(-1)
		return false
	}
	return true
}

// spentAll reports whether no request is left.
func (c *requestCap) spentAll() bool { return c.limit > 0 && c.used.Load() >= c.limit }

// errCapReached stops an entity's read at the intelligence cap.
var errCapReached = errors.New("quota.intelligence_requests reached for this pass")

// perItem reads items one by one, up to s.opts.Workers at once, and yields each item's pages
// in the order of items, those of the item read first as they arrive (so that a read cut short
// loses no page already fetched before it); fetch sends the item's requests and emits its
// pages, each with what it spent. An item Affinity no longer has (404) is logged and skipped;
// one it refuses as invalid (422) is logged, counted and skipped (it stays due); at the
// intelligence cap the pages read so far are yielded and the phase ends; any other error ends
// the phase with it.
func perItem[T any](ctx context.Context, s *Syncer, items []T, name func(T) string,
	fetch func(ctx context.Context, item T, emit func(fetched)) error) iter.Seq2[fetched, error] {
	type itemSlot struct {
		item  T
		pages chan fetched // closed when the read ends
		err   error        // read once pages is closed
	}
	return func(yield func(fetched, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		window := make(chan *itemSlot, max(s.opts.Workers-1, 0))
		var early atomic.Bool // items were left when the cap was spent
		var reads sync.WaitGroup
		go func() {
			defer close(window)
			for _, it := range items {
				if s.intel.spentAll() {
					early.Store(true)
					return
				}
				sl := &itemSlot{item: it, pages: make(chan fetched, itemPagesAhead)}
				select {
				case window <- sl:
				case <-ctx.Done():
					return
				}
				reads.Go(func() {
					defer close(sl.pages)
					sl.err = fetch(ctx, sl.item, func(f fetched) {
						select {
						case sl.pages <- f:
						case <-ctx.Done(): // the run stopped: nothing more is committed
						}
					})
				})
			}
		}()
		defer func() {
			cancel()
			for range window { // let the producer end
			}
			reads.Wait()
		}()
		capped := false
		for sl := range window {
			for f := range sl.pages {
				if !yield(f, nil) {
					return
				}
			}
			switch err := sl.err; {
			case err == nil:
			case errors.Is(err, errCapReached):
				capped = true
			case affinity.IsNotFound(err):
				s.log.Warn("gone from Affinity: skipped", "item", name(sl.item), "error", err)
			case affinity.IsValidation(err):
				s.log.Warn("Affinity refused the request as invalid: skipped, still due", "item", name(sl.item), "error", err)
				if !yield(fetched{spent: spent{refused: 1}, noPage: true}, nil) {
					return
				}
			default:
				yield(fetched{}, fmt.Errorf("%s: %w", name(sl.item), err))
				return
			}
		}
		if capped || early.Load() {
			s.log.Info("quota.intelligence_requests reached: the rest is the next pass's backlog", "cap", s.intel.limit)
			yield(fetched{spent: spent{capped: true}, noPage: true}, nil)
		}
	}
}

// itemPagesAhead is how many pages of an item not yet being committed its read may hold
// before it waits.
const itemPagesAhead = 16

// firstPage sends the first request of a paged listing and returns its page alone.
func firstPage[T any](pages iter.Seq2[affinity.Page[T], error]) (affinity.Page[T], error) {
	for p, err := range pages {
		return p, err
	}
	return affinity.Page[T]{}, errors.New("listing returned no page")
}
