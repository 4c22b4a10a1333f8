package extractor_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// pagesOf is how many pages a listing of n rows takes at 500 a page: a last
// page that is exactly full is followed by an empty one.
func pagesOf(n int) int { return n/500 + 1 }

// TestIncrementalRefresh: a second sync with no changes spends only the
// lists, fields, entity pages and change-feed requests; a change brings only
// the changed entity's values; changed entities go before stale ones.
func TestIncrementalRefresh(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 5
	h := newHarness(t, cfg)
	ctx := t.Context()
	now := time.Now()
	clock := func() time.Time { return now }
	h.opts = extractor.Options{MaxDeleteShare: 0.5, Now: clock, Workers: 1} // default 20h refresh age

	requireComplete(t, h.syncer(nil).Run(ctx, nil))
	first := h.fake.Requests()
	require.Positive(t, first["GET /field-values"])
	require.Positive(t, first["GET /organizations/{id}"])

	// The same sync again, a minute later, with nothing changed.
	h.fake.ResetCounters()
	now = now.Add(time.Minute)
	requireComplete(t, h.syncer(nil).Run(ctx, nil))
	ws := h.fake.Snapshot()
	withDates := func(n int, has func(int) bool) int {
		c := 0
		for i := range n {
			if has(i) {
				c++
			}
		}
		return c
	}
	want := 1 + 1 + // lists, fields
		pagesOf(len(ws.Persons)) + pagesOf(withDates(len(ws.Persons), func(i int) bool { return ws.Persons[i].Interactions != nil })) +
		pagesOf(len(ws.Organizations)) + pagesOf(withDates(len(ws.Organizations), func(i int) bool { return ws.Organizations[i].Interactions != nil })) +
		pagesOf(len(ws.Opportunities)) + pagesOf(len(ws.Notes)) +
		pagesOf(len(ws.Files)) + pagesOf(len(ws.Reminders)) // the two listings of files and reminders
	for _, l := range ws.Lists {
		want += pagesOf(len(ws.EntriesOf(l.ID)))
	}
	for _, f := range ws.Fields {
		if f.TrackChanges {
			want++
		}
	}
	second := h.fake.Requests()
	require.Zero(t, second["GET /field-values"], "no entity changed: no values fetched")
	require.Zero(t, second["GET /organizations/{id}"], "organization details are fresh")
	require.Equal(t, want, h.fake.TotalRequests(), "requests of a sync with no changes: %v", second)
	// For this workspace: lists 1, fields 1, persons 1+1, organizations 1+1,
	// opportunities 1, notes 1, list entries 5 (one page per list), change
	// feed 39 (one per tracked field), files 1, reminders 1; no interaction date moved, so
	// no interactions and no strengths.
	require.Equal(t, 54, want)
	require.Zero(t, second["GET /interactions"], "no interaction date moved")
	require.Zero(t, second["GET /relationships-strengths"], "no strengths due")

	// One tracked value changes: only that entity's values are fetched.
	now = now.Add(time.Minute)
	entity := changeStatus(t, h.fake, clock)
	h.fake.ResetCounters()
	rec := &recordingAPI{API: h.client}
	now = now.Add(time.Minute)
	requireComplete(t, h.syncer(rec).Run(ctx, nil))
	require.Equal(t, []affinity.EntitySelector{entity}, rec.calls)

	// A day later everything is stale; a fresh change still goes first.
	now = now.Add(21 * time.Hour)
	entity = changeStatus(t, h.fake, clock)
	rec = &recordingAPI{API: h.client}
	now = now.Add(time.Minute)
	requireComplete(t, h.syncer(rec).Run(ctx, nil))
	require.Greater(t, len(rec.calls), 10, "stale entities are refreshed")
	require.Equal(t, entity, rec.calls[0], "the changed entity is refreshed first")
	h.requireValuesEqual(t, h.fake.Snapshot())
}

// changeStatus moves the first opportunity's status to another option, at
// the time clock says, and returns the selector of that opportunity.
func changeStatus(t *testing.T, fake *affinitytest.Server, clock func() time.Time) affinity.EntitySelector {
	t.Helper()
	var sel affinity.EntitySelector
	fake.Mutate(func(w *affinitytest.Workspace) {
		w.SetClock(clock)
		for _, f := range w.Fields {
			if f.ListID == nil || f.ValueType != affinitytest.ValueRankedDropdown || !f.TrackChanges || w.List(*f.ListID).Type != loader.EntityOpportunity {
				continue
			}
			e := w.EntriesOf(*f.ListID)[0]
			cur := w.ValuesOf(f.ID, e.EntityID, &e.ID)
			opt := f.DropdownOptions[0]
			if len(cur) > 0 && string(cur[0].Value) != "null" {
				var v struct{ ID int64 }
				require.NoError(t, json.Unmarshal(cur[0].Value, &v))
				if v.ID == opt.ID {
					opt = f.DropdownOptions[1]
				}
			}
			raw, err := json.Marshal(map[string]any{"id": opt.ID, "text": opt.Text, "rank": opt.Rank, "color": opt.Color})
			require.NoError(t, err)
			w.SetFieldValue(f.ID, e.EntityID, &e.ID, raw)
			id := e.EntityID
			sel = affinity.EntitySelector{OpportunityID: &id}
			return
		}
		t.Fatal("no tracked status field on an opportunity list")
	})
	return sel
}

// recordingAPI records the field value requests in the order they are made.
type recordingAPI struct {
	extractor.API
	mu    sync.Mutex
	calls []affinity.EntitySelector
}

func (r *recordingAPI) FieldValues(ctx context.Context, sel affinity.EntitySelector) ([]affinity.FieldValue, error) {
	r.mu.Lock()
	r.calls = append(r.calls, sel)
	r.mu.Unlock()
	return r.API.FieldValues(ctx, sel)
}
