package extractor_test

import (
	"context"
	"iter"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// listRecorder records which lists' entries and which entities' values a
// sync asks for.
type listRecorder struct {
	recordingAPI
	mu      sync.Mutex
	entries []int64
}

func (r *listRecorder) ListEntries(ctx context.Context, listID int64, q affinity.PageQuery) iter.Seq2[affinity.Page[affinity.ListEntry], error] {
	r.mu.Lock()
	r.entries = append(r.entries, listID)
	r.mu.Unlock()
	return r.recordingAPI.ListEntries(ctx, listID, q)
}

// TestSyncLimitedToChosenLists: with sync.lists naming one list, the other
// lists' entries and values are not requested and their rows stay as they
// were, even when Affinity changed them.
func TestSyncLimitedToChosenLists(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 17
	h := newHarness(t, cfg)
	ctx := t.Context()
	requireComplete(t, h.syncer(nil).Run(ctx, nil))

	ws := h.fake.Snapshot()
	chosen, other := ws.Lists[0], ws.Lists[1]
	onChosen := map[int64]bool{}
	for _, e := range ws.EntriesOf(chosen.ID) {
		onChosen[e.EntityID] = true
	}
	// Remove an entry of the other list whose entity is on no chosen list.
	var removed *affinitytest.ListEntry
	for _, e := range ws.EntriesOf(other.ID) {
		if !onChosen[e.EntityID] && e.EntityType == other.Type {
			removed = e
			break
		}
	}
	require.NotNil(t, removed)
	h.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteListEntry(removed.ID) })
	var before int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM affinity.field_values WHERE list_entry_id = $1 AND deleted_at IS NULL`, removed.ID).Scan(&before))

	rec := &listRecorder{recordingAPI: recordingAPI{API: h.client}}
	opts := h.opts
	opts.Lists = []string{chosen.Name}
	s := newSyncer(h, rec, opts)
	requireComplete(t, s.Run(ctx, nil))

	require.Equal(t, []int64{chosen.ID}, rec.entries, "only the chosen list's entries are read")
	for _, sel := range rec.calls {
		id := selectorID(sel)
		require.True(t, onChosen[id], "values of entity %d (not on the chosen list) were requested", id)
	}
	var deleted bool
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM affinity.list_entries WHERE id = $1`, removed.ID).Scan(&deleted))
	require.False(t, deleted, "a list left out is not soft-deleted")
	var after int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM affinity.field_values WHERE list_entry_id = $1 AND deleted_at IS NULL`, removed.ID).Scan(&after))
	require.Equal(t, before, after, "its values stay as they were")

	// A name that matches no list fails the list streams with a clear error.
	opts.Lists = []string{"No Such List"}
	res := newSyncer(h, h.client, opts).Run(ctx, nil)
	require.False(t, res.Complete())
	var msgs []string
	for _, f := range res.Failed() {
		msgs = append(msgs, f.Err.Error())
	}
	require.Contains(t, msgs[0], `no live list has the id or name "No Such List"`)
}

func selectorID(sel affinity.EntitySelector) int64 {
	for _, p := range []*int64{sel.PersonID, sel.OrganizationID, sel.OpportunityID} {
		if p != nil {
			return *p
		}
	}
	return 0
}
