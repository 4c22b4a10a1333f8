package extractor_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
)

func tinyWorkspace() affinitytest.Config {
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 11
	cfg.Persons, cfg.Organizations, cfg.Opportunities = 30, 12, 6
	cfg.PersonLists, cfg.OrganizationLists, cfg.OpportunityLists = 1, 1, 1
	cfg.EntriesPerList = 8
	return cfg
}

// entryOf returns a list entry of the workspace whose entity has a value of a global text
// field (value type 6).
func entryOf(t *testing.T, ws *affinitytest.Workspace, entityType loader.EntityKind) (*affinitytest.ListEntry, *affinitytest.Field) {
	t.Helper()
	for _, e := range ws.ListEntries {
		if e.EntityType != entityType {
			continue
		}
		for _, f := range ws.Fields {
			if f.ListID == nil && f.EntityType == entityType && f.ValueType == affinitytest.ValueText && !f.AllowsMultiple {
				return e, f
			}
		}
	}
	t.Fatalf("no list entry of entity type %d with a global text field", entityType)
	return nil, nil
}

func (h *harness) scalar(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, h.pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func TestRefreshEntity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tinyWorkspace())
	ctx := t.Context()
	r := extractor.NewRefresher(h.client, h.store, extractor.Options{})
	ws := h.fake.Snapshot()

	for _, entityType := range []loader.EntityKind{loader.EntityPerson, loader.EntityOrganization} {
		entry, field := entryOf(t, ws, entityType)
		id := entry.EntityID
		table := entityType.Table()

		h.fake.ResetCounters()
		stats, err := r.RefreshEntity(ctx, loader.EntityKind(entityType), id)
		require.NoError(t, err)
		require.Positive(t, stats.Rows)
		require.Equal(t, 2, h.fake.TotalRequests(), "the entity and its values: two requests")
		require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.`+table+` WHERE id = $1 AND deleted_at IS NULL`, id))

		h.fake.Mutate(func(w *affinitytest.Workspace) {
			w.SetFieldValue(field.ID, id, nil, json.RawMessage(`"fresh text"`))
		})
		_, err = r.RefreshEntity(ctx, loader.EntityKind(entityType), id)
		require.NoError(t, err)
		require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.field_values
			WHERE entity_type = $1 AND entity_id = $2 AND field_id = $3 AND value_text = 'fresh text' AND deleted_at IS NULL`,
			entityType, id, field.ID))
		require.Equal(t, int64(0), h.scalar(t, `SELECT count(*) FROM affinity.sync_checkpoints`), "no checkpoint moves")

		h.fake.Mutate(func(w *affinitytest.Workspace) {
			if entityType == loader.EntityPerson {
				w.DeletePerson(id)
			} else {
				w.DeleteOrganization(id)
			}
		})
		stats, err = r.RefreshEntity(ctx, loader.EntityKind(entityType), id)
		require.NoError(t, err)
		require.Positive(t, stats.SoftDeleted)
		require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.`+table+` WHERE id = $1 AND deleted_at IS NOT NULL`, id))
		require.Equal(t, int64(0), h.scalar(t, `SELECT count(*) FROM affinity.field_values
			WHERE entity_type = $1 AND entity_id = $2 AND deleted_at IS NULL`, entityType, id), "its values go with it")
	}

	_, err := r.RefreshEntity(ctx, 5, 1)
	require.Error(t, err, "an unknown entity type")
}

func TestRefreshOpportunityAndList(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tinyWorkspace())
	ctx := t.Context()
	r := extractor.NewRefresher(h.client, h.store, extractor.Options{})
	ws := h.fake.Snapshot()
	opp := ws.Opportunities[0]

	_, err := r.RefreshEntity(ctx, loader.EntityOpportunity, opp.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.opportunities WHERE id = $1 AND list_id IS NOT NULL`, opp.ID))
	require.Equal(t, int64(len(opp.PersonIDs)), h.scalar(t, `SELECT count(*) FROM affinity.opportunity_persons WHERE opportunity_id = $1`, opp.ID))

	list := ws.Lists[0]
	_, err = r.RefreshList(ctx, list.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.lists WHERE id = $1 AND name = $2`, list.ID, list.Name))
	var listFields int64
	for _, f := range ws.Fields {
		if f.ListID != nil && *f.ListID == list.ID {
			listFields++
		}
	}
	require.Equal(t, listFields, h.scalar(t, `SELECT count(*) FROM affinity.fields WHERE list_id = $1 AND deleted_at IS NULL`, list.ID))

	h.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteList(list.ID) })
	stats, err := r.RefreshList(ctx, list.ID)
	require.NoError(t, err)
	require.Positive(t, stats.SoftDeleted)
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.lists WHERE id = $1 AND deleted_at IS NOT NULL`, list.ID))
}

func TestRefreshListEntry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tinyWorkspace())
	ctx := t.Context()
	r := extractor.NewRefresher(h.client, h.store, extractor.Options{})
	entry, _ := entryOf(t, h.fake.Snapshot(), loader.EntityOrganization)

	h.fake.ResetCounters()
	_, err := r.RefreshListEntry(ctx, entry.ListID, entry.ID)
	require.NoError(t, err)
	require.Equal(t, 2, h.fake.TotalRequests(), "the entry and its entity's values")
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.list_entries WHERE id = $1 AND deleted_at IS NULL`, entry.ID))
	entryValues := h.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE list_entry_id = $1 AND deleted_at IS NULL`, entry.ID)

	h.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteListEntry(entry.ID) })
	stats, err := r.RefreshListEntry(ctx, entry.ListID, entry.ID)
	require.NoError(t, err)
	require.Equal(t, 1+entryValues, stats.SoftDeleted)
	require.Equal(t, int64(0), h.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE list_entry_id = $1 AND deleted_at IS NULL`, entry.ID))
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.sync_entity_freshness WHERE entity_id = $1`, entry.EntityID))
}
