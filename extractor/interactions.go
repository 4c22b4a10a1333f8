package extractor

import (
	"context"
	"fmt"
	"iter"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The interactions and relationship_strengths streams: one phase each, which reads what the
// warehouse says is due (loader.InteractionsDue, loader.StrengthsDue) one entity at a time,
// within the intelligence cap. An interactions read of one entity and type is a sequence of
// windows of at most a year, each paged; every page is committed with where the read stands
// (loader.InteractionFetch), so a read cut short — by a kill or the cap — continues from the
// request it had not sent.

func (s *Syncer) interactionsPhases(ctx context.Context, _ passState) (passPlan, error) {
	if s.intelligenceOff() {
		return only()
	}
	return only(phase{id: PhaseID{Kind: PhaseMain}, pages: dueItems(s, s.store.InteractionsDue,
		func(d loader.InteractionDue) string { return interactionKeyText(d.Key) }, s.fetchInteractions)})
}

func (s *Syncer) relationshipStrengthsPhases(ctx context.Context, _ passState) (passPlan, error) {
	if s.intelligenceOff() {
		return only()
	}
	return only(phase{id: PhaseID{Kind: PhaseMain}, pages: dueItems(s, s.store.StrengthsDue,
		func(d loader.StrengthDue) string { return fmt.Sprintf("person %d", d.PersonID) }, s.fetchStrengths)})
}

// dueItems are the pages of a phase that reads, one at a time within the intelligence cap, the
// items the warehouse says are due (perItem).
func dueItems[T any](s *Syncer, due func(context.Context, loader.IntelligenceQuery) ([]T, error), name func(T) string,
	fetch func(ctx context.Context, item T, emit func(fetched)) error) func(context.Context, loader.Checkpoint) iter.Seq2[fetched, error] {
	return func(ctx context.Context, _ loader.Checkpoint) iter.Seq2[fetched, error] {
		q, err := s.intelligenceQuery(ctx)
		if err != nil {
			return failed(err)
		}
		items, err := due(ctx, q)
		if err != nil {
			return failed(err)
		}
		return perItem(ctx, s, items, name, fetch)
	}
}

// failed is a phase's pages that are only err.
func failed(err error) iter.Seq2[fetched, error] {
	return func(yield func(fetched, error) bool) { yield(fetched{}, err) }
}

// interactionKeyText names an entity and interaction type in logs and checkpoints.
func interactionKeyText(k loader.InteractionKey) string {
	return fmt.Sprintf("%s %d type %d", k.Entity.Type, k.Entity.ID, k.Type)
}

// readThrough is what a read that ends at f.End has read through: a next meeting or call
// beyond it was not read, so the read does not count it as seen — the pair is due again on the
// next pass (at no cost while its windows stay empty) and reads the meeting once it lies within
// the horizon.
func readThrough(f loader.InteractionFetch) loader.InteractionThrough {
	t := f.Through
	if t.NextEventAt != nil && !t.NextEventAt.Before(f.End) {
		t.NextEventAt = nil
	}
	return t
}

// fetchInteractions reads one entity's interactions of one type from where its read stands
// (d.Progress) or from d.From, window by window and page by page, and emits each page with the
// read's state after it; the last page's state records the read done, through d.Through.
func (s *Syncer) fetchInteractions(ctx context.Context, d loader.InteractionDue, emit func(fetched)) error {
	f := loader.InteractionFetch{Key: d.Key, StartedAt: s.opts.Now(), Through: d.Through}
	if p := d.Progress; p != nil {
		f.StartedAt, f.WindowStart, f.WindowEnd, f.End, f.PageToken = p.StartedAt, p.WindowStart, p.WindowEnd, p.End, p.PageToken
	} else {
		f.End = loader.InteractionsEnd(d.Key.Type, f.StartedAt)
		f.WindowStart = d.From
		f.WindowEnd = loader.WindowEnd(d.From, f.End)
	}
	restarted := false
	for {
		// Windows the entity's dates say hold nothing of this type are not asked for.
		for f.PageToken == "" && f.WindowStart.Before(f.WindowEnd) && loader.WindowEmpty(d.Key.Type, d.Through, f.WindowStart, f.WindowEnd) {
			f.WindowStart, f.WindowEnd = f.WindowEnd, loader.WindowEnd(f.WindowEnd, f.End)
		}
		if !f.WindowStart.Before(f.WindowEnd) {
			// Nothing left to read: the read is done.
			f.PageToken, f.Done, f.Through = "", true, readThrough(f)
			emit(fetched{rows: loader.Page{InteractionFetches: []loader.InteractionFetch{f}}, nextToken: interactionKeyText(d.Key)})
			return nil
		}
		if !s.intel.take() {
			return errCapReached
		}
		sel := selectorOf(d.Key.Entity)
		q := affinity.InteractionQuery{Type: d.Key.Type, Start: f.WindowStart, End: f.WindowEnd, PageToken: f.PageToken,
			PersonID: sel.PersonID, OrganizationID: sel.OrganizationID, OpportunityID: sel.OpportunityID}
		page, err := firstPage(s.api.Interactions(ctx, q))
		sp := spent{entityRequests: 1}
		if err != nil {
			emit(fetched{spent: sp, noPage: true})
			if f.PageToken != "" && !restarted && tokenRefused(err) {
				// A page token kept from an earlier run that Affinity no longer takes: the
				// window starts over (its rows are upserted again, never twice).
				s.log.Warn("page token refused: the window starts over", "item", interactionKeyText(d.Key), "error", err)
				f.PageToken, restarted = "", true
				continue
			}
			return err
		}
		next := f
		switch {
		case page.NextToken != "":
			next.PageToken = page.NextToken
		case f.WindowEnd.Before(f.End):
			next.WindowStart, next.WindowEnd, next.PageToken = f.WindowEnd, loader.WindowEnd(f.WindowEnd, f.End), ""
		default:
			next.PageToken, next.Done, next.Through = "", true, readThrough(next)
		}
		rows := loader.Page{InteractionFetches: []loader.InteractionFetch{next}}
		for _, it := range page.Items {
			rows.Interactions = append(rows.Interactions, interactionRow(it))
		}
		emit(fetched{rows: rows, n: len(page.Items), nextToken: interactionKeyText(d.Key), spent: sp})
		if next.Done {
			return nil
		}
		f = next
	}
}

// fetchStrengths reads one external person's relationship strengths: the set replaces the
// person's pairs; a person Affinity no longer has (404) loses them.
func (s *Syncer) fetchStrengths(ctx context.Context, d loader.StrengthDue, emit func(fetched)) error {
	if !s.intel.take() {
		return errCapReached
	}
	set := loader.StrengthSet{ExternalPersonID: d.PersonID, FetchedAt: s.opts.Now()}
	pairs, err := s.api.RelationshipStrengths(ctx, d.PersonID)
	sp := spent{entityRequests: 1}
	switch {
	case affinity.IsNotFound(err):
		set.Gone = true
		s.log.Info("person gone from Affinity: its relationship strengths are soft-deleted", "person_id", d.PersonID)
	case err != nil:
		emit(fetched{spent: sp, noPage: true})
		return err
	}
	for _, p := range pairs {
		if p.ExternalID != d.PersonID {
			continue // not the person asked about
		}
		set.Pairs = append(set.Pairs, loader.StrengthPair{InternalPersonID: p.InternalID, Strength: p.Strength})
	}
	emit(fetched{rows: loader.Page{Strengths: []loader.StrengthSet{set}}, n: len(set.Pairs),
		nextToken: fmt.Sprintf("person %d", d.PersonID), spent: sp})
	return nil
}
