package main

import (
	"context"
	"fmt"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/loader"
)

// intelligence is the relationship intelligence settings as the extractor takes them.
func (c Config) intelligence() extractor.IntelligenceOptions {
	return extractor.IntelligenceOptions{
		Scope:  extractor.IntelligenceScope(c.Sync.IntelligenceScope),
		Cap:    c.Quota.IntelligenceRequests,
		MaxAge: c.Sync.IntelligenceMaxAge,
		Since:  c.Sync.InteractionsSince,
	}
}

// countsStore reads what the cost models need from the warehouse; *loader.Store satisfies it.
type countsStore interface {
	PlanCounts(ctx context.Context, now time.Time, valuesStaleBefore, unlistedStaleBefore time.Time, withUnlisted bool, lists []int64) (loader.PlanCounts, error)
	IntelligenceCounts(ctx context.Context, q loader.IntelligenceQuery) (loader.IntelligenceCounts, error)
}

// warehouseCounts are the warehouse's counts for a pass at now over the chosen lists (nil =
// every list), what the capped intelligence streams have due included; stale and
// unlistedStale are when field values count as stale (zero for a changes run).
func warehouseCounts(ctx context.Context, store countsStore, cfg Config, now, stale, unlistedStale time.Time, lists []int64) (loader.PlanCounts, error) {
	counts, err := store.PlanCounts(ctx, now, stale, unlistedStale, cfg.Sync.FieldValuesForUnlisted, lists)
	if err != nil {
		return counts, err
	}
	o := cfg.intelligence()
	if o.Scope == extractor.ScopeNone {
		return counts, nil
	}
	counts.Intelligence, err = store.IntelligenceCounts(ctx, extractor.IntelligenceQuery(o, lists, now))
	return counts, err
}

// chosenListIDs are the ids of the live lists sync.lists chooses; nil when it names none
// (every list).
func chosenListIDs(ctx context.Context, store extractor.ListReader, cfg Config) ([]int64, error) {
	if len(cfg.Sync.Lists) == 0 {
		return nil, nil
	}
	lists, err := extractor.ChooseLists(ctx, store, cfg.Sync.Lists)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(lists))
	for _, l := range lists {
		ids = append(ids, l.ID)
	}
	return ids, nil
}

// backlogStore reads what interactions and relationship_strengths have due; *loader.Store
// satisfies it.
type backlogStore interface {
	extractor.ListReader
	IntelligenceCounts(ctx context.Context, q loader.IntelligenceQuery) (loader.IntelligenceCounts, error)
}

// intelligenceBacklog is what interactions and relationship_strengths have due at now, and
// what passes at quota.intelligence_requests read of it (the model plan prints); none under
// sync.intelligence_scope: none. entity_files' per-entity reads are left out: they are due
// only once a pass finds the unfiltered listing refused, which the warehouse does not count.
func intelligenceBacklog(ctx context.Context, store backlogStore, cfg Config, now time.Time) ([]extractor.Backlog, error) {
	o := cfg.intelligence()
	if o.Scope == extractor.ScopeNone {
		return nil, nil
	}
	lists, err := chosenListIDs(ctx, store, cfg)
	if err != nil {
		return nil, err
	}
	ic, err := store.IntelligenceCounts(ctx, extractor.IntelligenceQuery(o, lists, now))
	if err != nil {
		return nil, fmt.Errorf("read the intelligence backlog: %w", err)
	}
	var out []extractor.Backlog
	for _, b := range extractor.IntelligenceBacklog(loader.PlanCounts{Intelligence: ic}, o.Cap) {
		if b.Stream != extractor.StreamEntityFiles {
			out = append(out, b)
		}
	}
	return out, nil
}
