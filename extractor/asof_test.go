package extractor_test

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// TestFieldValuesAsOf compares field_values_as_of, at several instants, with
// the values replayed in Go from the fake's change history by the rules of
// docs/warehouse.md.
func TestFieldValuesAsOf(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 13
	h := newHarness(t, cfg)
	ctx := t.Context()
	requireComplete(t, h.syncer(nil).Run(ctx, nil))
	ws := h.fake.Snapshot()
	field := fieldsByID(ws)

	changes := slices.Clone(ws.Changes)
	sort.SliceStable(changes, func(i, j int) bool {
		if !changes[i].ChangedAt.Equal(changes[j].ChangedAt) {
			return changes[i].ChangedAt.Before(changes[j].ChangedAt)
		}
		return changes[i].ID < changes[j].ID
	})
	require.Greater(t, len(changes), 100)
	first, last := changes[0].ChangedAt, changes[len(changes)-1].ChangedAt
	instants := []time.Time{first.Add(-time.Second), first, first.Add(last.Sub(first) / 3), first.Add(last.Sub(first) * 2 / 3), last, last.Add(time.Hour)}

	for _, at := range instants {
		// Replay: per cell, the multiset of values held.
		type cell struct {
			field, entity int64
			entry         string
		}
		held := map[cell][]string{}
		for _, c := range changes {
			if c.ChangedAt.After(at) {
				break
			}
			k := cell{c.FieldID, c.EntityID, fmt.Sprint(ptrValue(c.ListEntryID))}
			v := ""
			if string(c.Value) != "null" {
				v = canonicalJSON(t, c.Value)
			}
			f := field[c.FieldID]
			switch {
			case !f.AllowsMultiple && c.ActionType == affinitytest.ActionDelete:
				delete(held, k)
			case !f.AllowsMultiple:
				held[k] = []string{v}
			case c.ActionType == affinitytest.ActionCreate:
				held[k] = append(held[k], v)
			case c.ActionType == affinitytest.ActionDelete:
				if i := slices.Index(held[k], v); i >= 0 {
					held[k] = slices.Delete(held[k], i, i+1)
				}
			default: // update replaces the set
				held[k] = []string{v}
			}
		}
		var want []string
		for k, vs := range held {
			for _, v := range vs {
				want = append(want, fmt.Sprintf("%d/%d/%s/%s", k.field, k.entity, k.entry, v))
			}
		}
		rows, err := h.pool.Query(ctx, `SELECT field_id, entity_id, list_entry_id, value::text FROM affinity.field_values_as_of($1)`, at)
		require.NoError(t, err)
		var got []string
		for rows.Next() {
			var fid, eid int64
			var entry *int64
			var raw *string
			require.NoError(t, rows.Scan(&fid, &eid, &entry, &raw))
			v := ""
			if raw != nil {
				v = canonicalJSON(t, []byte(*raw))
			}
			got = append(got, fmt.Sprintf("%d/%d/%s/%s", fid, eid, fmt.Sprint(ptrValue(entry)), v))
		}
		require.NoError(t, rows.Err())
		if at.After(first) {
			require.NotEmpty(t, want, "the history holds values at %s", at)
		} else if at.Before(first) {
			require.Empty(t, want)
		}
		sort.Strings(want)
		sort.Strings(got)
		require.Equal(t, want, got, "as of %s", at)
	}
}

func ptrValue(p *int64) any {
	if p == nil {
		return "global"
	}
	return *p
}
