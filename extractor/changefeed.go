package extractor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The change feed (field_value_changes). Through API v1 a tracked field's history is one
// request per field, whatever changed. Through API v2, once every tracked field in scope has a
// complete v1 history (its backfill), one read of GET /v2/field-value-changes from the
// watermark returns the changes of every field: a run with nothing changed costs one request.
// The feed is never dearer than v1: at T pages in one run (T = the tracked fields in scope)
// the rest of the run reads each field through v1. It is probed against v1 on the first read
// of each UTC day and the first after a v1 history read (docs/api-v2.md).

// feedLag is how far before the watermark a feed read starts: a change can land with a
// slightly older timestamp. The changes already stored are skipped.
const feedLag = 10 * time.Minute

// feedFallback stops the change feed for the rest of the run: the fields are read through v1.
type feedFallback struct {
	cause string
	// cheaper: v1 is the cheaper path for the rest of the run (the feed reached T pages), a
	// decision of cost taken under every api_v2 setting; otherwise the feed cannot be trusted
	// (it disagrees with v1, or sent a record the client does not know), which fails the
	// stream under api_v2 on.
	cheaper bool
}

func (e *feedFallback) Error() string { return e.cause }

// changesPhases: under api_v2 off one history read per tracked field; otherwise the v1
// histories of the fields that have none yet, then the feed, then — only when the pass falls
// back — the histories of the other fields.
func (s *Syncer) changesPhases(ctx context.Context, _ passState) (passPlan, error) {
	fields, err := s.trackedInScope(ctx)
	if err != nil {
		return passPlan{}, err
	}
	if len(fields) == 0 {
		return only()
	}
	if s.opts.APIV2 == V2Off {
		phases := make([]phase, len(fields))
		for i, f := range fields {
			phases[i] = s.historyPhase(f)
		}
		return passPlan{phases: phases, path: &PathNote{Path: "v1", Reason: "affinity.api_v2 is off"}}, nil
	}
	st, err := s.store.ChangeFeedState(ctx, fieldIDs(fields))
	if err != nil {
		return passPlan{}, err
	}
	var backfill, fallback []phase
	for _, f := range fields {
		ph := s.historyPhase(f)
		if _, read := st.Read[f.ID]; read {
			ph.fallback = true
			fallback = append(fallback, ph)
		} else {
			backfill = append(backfill, ph)
		}
	}
	feed := phase{id: PhaseID{Kind: PhaseV2Changes}, pages: s.feedPages(fields)}
	note := &PathNote{Path: "v2", Reason: fmt.Sprintf("every tracked field in scope (%d) has its history: the change feed through v2 from the newest change stored, 1 request a page (at most %d)", len(fields), len(fields))}
	if len(backfill) > 0 {
		note = &PathNote{Path: "v1+v2", Reason: fmt.Sprintf("%d of %d tracked fields in scope have no complete history yet: each is read whole through v1 first, then the change feed through v2", len(backfill), len(fields))}
	}
	rule := loader.PlanCounts{TrackedFields: int64(len(fields)), HistoriesDue: int64(len(backfill))}
	return passPlan{phases: slices.Concat(backfill, []phase{feed}, fallback), path: note, rule: rule}, nil
}

// trackedInScope are the live tracked fields, without the list fields of lists left out of
// sync.lists.
func (s *Syncer) trackedInScope(ctx context.Context) ([]loader.Field, error) {
	fields, err := s.store.TrackedFields(ctx)
	if err != nil {
		return nil, err
	}
	chosen, err := s.chosenListIDs(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(fields, func(f loader.Field) bool {
		return f.ListID != nil && chosen != nil && !slices.Contains(chosen, *f.ListID)
	}), nil
}

func fieldIDs(fields []loader.Field) []int64 {
	ids := make([]int64, len(fields))
	for i, f := range fields {
		ids[i] = f.ID
	}
	return ids
}

// historyPhase reads one tracked field's whole history through v1.
func (s *Syncer) historyPhase(f loader.Field) phase {
	return phase{id: PhaseID{Kind: PhaseFieldChanges, ID: f.ID}, pages: func(ctx context.Context, _ loader.Checkpoint) iter.Seq2[fetched, error] {
		return s.history(ctx, f)
	}}
}

// history reads a tracked field's whole history, a chunk at a time. The last chunk records
// that the field's history was read whole, as of the moment the request was sent.
func (s *Syncer) history(ctx context.Context, f loader.Field) iter.Seq2[fetched, error] {
	return func(yield func(fetched, error) bool) {
		readAt := s.opts.Now()
		var held *fetched
		for chunk, err := range s.api.FieldValueChanges(ctx, affinity.ChangeQuery{FieldID: f.ID}) {
			if err != nil {
				yield(fetched{}, err)
				return
			}
			if held != nil && !yield(*held, nil) {
				return
			}
			var out loader.Page
			for _, c := range chunk {
				out.Changes = append(out.Changes, changeRow(c, f))
			}
			held = &fetched{rows: out, n: len(chunk)}
		}
		if held == nil {
			held = &fetched{}
		}
		held.rows.HistoriesRead = []loader.ChangeHistoryRead{{FieldID: f.ID, ReadAt: readAt}}
		yield(*held, nil)
	}
}

// feedPages reads the change feed from the watermark: S = max(the feed's watermark, the
// oldest history read of a field in scope), at most now, minus feedLag. Each page's changes of fields in
// scope are stored with the watermark moved to the page's newest changedAt; a nextUrl is
// never kept, so a resumed run queries again.
func (s *Syncer) feedPages(fields []loader.Field) func(context.Context, loader.Checkpoint) iter.Seq2[fetched, error] {
	return func(ctx context.Context, _ loader.Checkpoint) iter.Seq2[fetched, error] {
		return func(yield func(fetched, error) bool) {
			st, err := s.store.ChangeFeedState(ctx, fieldIDs(fields))
			if err != nil {
				yield(fetched{}, err)
				return
			}
			cat, err := s.v2Catalog(ctx)
			if err != nil {
				yield(fetched{}, err)
				return
			}
			scope := map[int64]loader.Field{}
			var oldest, newest time.Time // of the history reads
			for _, f := range fields {
				at, read := st.Read[f.ID]
				if !read {
					continue // its history is not read yet: its changes wait for it
				}
				scope[f.ID] = f
				if oldest.IsZero() || at.Before(oldest) {
					oldest = at
				}
				newest = later(newest, at)
			}
			if len(scope) == 0 {
				return
			}
			w := oldest
			if st.Watermark != nil {
				w = later(w, *st.Watermark)
			}
			// A change stamped in the future must not hold the feed back until the clock
			// catches up: the watermark is never later than now.
			now := s.opts.Now()
			if w.After(now) {
				w = now
			}
			since := w.Add(-feedLag)
			probe := st.ProbedAt == nil || !sameUTCDay(*st.ProbedAt, now) || newest.After(*st.ProbedAt)
			limit := len(fields)
			q := affinity.V2ChangeQuery{Filter: "changedAt>=" + since.UTC().Format(affinity.V2ChangeFilterTime)}
			pages := 0
			for page, err := range s.api.FieldValueChangesV2(ctx, q) {
				sp := spent{v2Pages: 1}
				if err != nil {
					yield(fetched{spent: sp}, err)
					return
				}
				pages++
				f, probeField, err := feedRows(cat, scope, page.Items)
				if err != nil {
					yield(fetched{spent: sp}, &feedFallback{cause: "the change feed (GET /v2/field-value-changes) sent " + err.Error()})
					return
				}
				if probe && probeField != 0 {
					sp.probeRequests++
					rows, diff, err := s.probeFeed(ctx, scope[probeField], f.rows.Changes, since)
					if err != nil {
						yield(fetched{spent: sp}, fmt.Errorf("probe the change feed with the v1 history of field %d: %w", probeField, err))
						return
					}
					if diff != "" {
						yield(fetched{spent: sp}, &feedFallback{cause: "the change feed disagrees with API v1: " + diff})
						return
					}
					probedAt := s.opts.Now()
					f.rows.Changes = append(f.rows.Changes, rows.Changes...)
					f.rows.HistoriesRead = rows.HistoriesRead
					f.rows.Feed.ProbedAt = &probedAt
					probe = false
				}
				f.spent = sp
				if !yield(f, nil) {
					return
				}
				if page.NextCursor != "" && pages >= limit {
					yield(fetched{}, &feedFallback{cheaper: true, cause: fmt.Sprintf(
						"the change feed reached %d pages, what reading the history of each of the %d tracked fields in scope through v1 costs", pages, limit)})
					return
				}
			}
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func sameUTCDay(a, b time.Time) bool {
	ay, am, ad := a.UTC().Date()
	by, bm, bd := b.UTC().Date()
	return ay == by && am == bm && ad == bd
}

// feedRows maps a feed page to the rows v1 gives: the changes of fields in scope (others are
// skipped: out of sync.lists, or new to the warehouse and left for their v1 history), and the
// watermark the page moves to (its newest changedAt, skipped records included). probeField is
// the field of the first change in scope, 0 when none is.
func feedRows(cat v2Catalog, scope map[int64]loader.Field, items []affinity.V2FieldValueChange) (f fetched, probeField int64, err error) {
	f.n = len(items)
	var newest time.Time
	for i, r := range items {
		newest = later(newest, r.ChangedAt)
		id, ok := v2FieldNumber(r.Field.ID)
		if !ok {
			continue // not a field-<n> id: no v1 field has it
		}
		field, in := scope[id]
		if !in {
			continue
		}
		row, err := cat.changeRowV2(r, field)
		if err != nil {
			return fetched{}, 0, fmt.Errorf("record %d of the page (change %d of %s) that the client cannot map: %w", i+1, r.ID, r.Field.ID, err)
		}
		f.rows.Changes = append(f.rows.Changes, row)
		if probeField == 0 {
			probeField = id
		}
	}
	if !newest.IsZero() {
		f.rows.Feed.Watermark = &newest
	}
	return f, probeField, nil
}

// v2FieldNumber reads the v1 field id of a v2 field id "field-<n>".
func v2FieldNumber(id string) (int64, bool) {
	digits, ok := strings.CutPrefix(id, "field-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n > 0
}

// v2Actions are the feed's action types with their v1 codes.
var v2Actions = map[string]affinity.Action{"add": affinity.ActionCreate, "delete": affinity.ActionDelete, "update": affinity.ActionUpdate}

// v2ChangeTypes are the value types (without -multi) of the fields whose changes are tracked,
// and the other types the reference describes.
var v2ChangeTypes = []string{"person", "company", "dropdown", "ranked-dropdown", "number", "datetime", "location", "text", "filterable-text"}

// changeRowV2 maps one feed record of field f to the field_value_changes row v1 gives for the
// same change. A record the reference does not describe is an error.
func (c v2Catalog) changeRowV2(r affinity.V2FieldValueChange, f loader.Field) (loader.FieldValueChange, error) {
	action, ok := v2Actions[r.ActionType]
	switch {
	case r.ID <= 0:
		return loader.FieldValueChange{}, errors.New("no id")
	case r.ChangedAt.IsZero():
		return loader.FieldValueChange{}, errors.New("no changedAt")
	case r.Entity == nil || r.Entity.ID <= 0:
		return loader.FieldValueChange{}, errors.New("no entity id")
	case !ok:
		return loader.FieldValueChange{}, fmt.Errorf("actionType %q", r.ActionType)
	case f.ListID != nil && (r.ListEntry == nil || r.ListEntry.ID <= 0):
		return loader.FieldValueChange{}, errors.New("a list field's change without its list entry")
	}
	if k, known := loader.ParseV2EntryType(r.Field.EntityType); !known || f.EntityType != nil && *f.EntityType != k {
		return loader.FieldValueChange{}, fmt.Errorf("field entityType %q", r.Field.EntityType)
	}
	base, _ := strings.CutSuffix(r.Type, "-multi")
	if !slices.Contains(v2ChangeTypes, base) {
		return loader.FieldValueChange{}, fmt.Errorf("value type %q", r.Type)
	}
	var raw []byte
	if d := bytes.TrimSpace(r.Value); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		conv, err := c.v1Value(f, base, r.Value)
		if err != nil {
			return loader.FieldValueChange{}, err
		}
		raw = conv
	}
	v := affinity.Value{Raw: raw}
	vt := f.ValueType
	row := loader.FieldValueChange{ID: r.ID, FieldID: f.ID, EntityType: f.EntityType, EntityID: r.Entity.ID,
		ActionType: int(action), ChangedAt: r.ChangedAt, Value: rawValue(v), Projection: projection(v, &vt)}
	if r.ListEntry != nil && f.ListID != nil {
		id := r.ListEntry.ID
		row.ListEntryID = &id
	}
	if r.Changer != nil {
		id := r.Changer.ID
		row.ChangerID = &id
	}
	return row, nil
}

// probeFeed reads field f's history through v1 (one request) and compares it with the feed
// page's changes of f (feed holds the page's changes in scope): every v1 change from since
// before the page's newest changedAt must be on the page, equal, and every change of f on the
// page must be one v1 has, equal. Later v1 changes may be on the next page, or made since
// the feed was read: they are not compared. It returns the history's rows to store.
func (s *Syncer) probeFeed(ctx context.Context, f loader.Field, feed []loader.FieldValueChange, since time.Time) (loader.Page, string, error) {
	var out loader.Page
	for chunk, err := range s.history(ctx, f) {
		if err != nil {
			return loader.Page{}, "", err
		}
		out.Changes = append(out.Changes, chunk.rows.Changes...)
		out.HistoriesRead = append(out.HistoriesRead, chunk.rows.HistoriesRead...)
	}
	var upTo time.Time
	fromFeed := map[int64]loader.FieldValueChange{}
	for _, c := range feed {
		upTo = later(upTo, c.ChangedAt)
		if c.FieldID == f.ID {
			fromFeed[c.ID] = c
		}
	}
	fromV1 := map[int64]loader.FieldValueChange{}
	for _, c := range out.Changes {
		fromV1[c.ID] = c
		if c.ChangedAt.Before(since) || !c.ChangedAt.Before(upTo) {
			continue
		}
		got, ok := fromFeed[c.ID]
		if !ok {
			return loader.Page{}, fmt.Sprintf("field %d: change %d (%s) of the v1 history is not in the feed", f.ID, c.ID, c.ChangedAt.UTC().Format(time.RFC3339Nano)), nil
		}
		if a, b := changeKey(got), changeKey(c); a != b {
			return loader.Page{}, fmt.Sprintf("field %d: change %d is %s in the feed, %s through v1", f.ID, c.ID, a, b), nil
		}
	}
	for id, got := range fromFeed {
		want, ok := fromV1[id]
		if !ok {
			return loader.Page{}, fmt.Sprintf("field %d: change %d of the feed is not in the v1 history", f.ID, id), nil
		}
		if a, b := changeKey(got), changeKey(want); a != b {
			return loader.Page{}, fmt.Sprintf("field %d: change %d is %s in the feed, %s through v1", f.ID, id, a, b), nil
		}
	}
	return out, "", nil
}

// changeKey is how the probe compares a change of either API: entity, list entry, action,
// changer, time and the value's typed projections.
func changeKey(c loader.FieldValueChange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "entity %d", c.EntityID)
	if c.ListEntryID != nil {
		fmt.Fprintf(&b, " entry %d", *c.ListEntryID)
	}
	fmt.Fprintf(&b, " action %d", c.ActionType)
	if c.ChangerID != nil {
		fmt.Fprintf(&b, " by %d", *c.ChangerID)
	}
	fmt.Fprintf(&b, " at %s%s", c.ChangedAt.UTC().Format(time.RFC3339Nano), projectionKey(c.Projection))
	return b.String()
}
