package loader_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

func TestFieldCatalogAndDropdownOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	e.commit(t, loader.Page{SeenAt: t0, Fields: []loader.Field{
		{ID: 2, Name: "Status", ListID: ptr[int64](3), EntityType: ptr(loader.EntityOpportunity), ValueType: 7, TrackChanges: true, EnrichmentSource: ptr("none"),
			Options: []loader.DropdownOption{{ID: 1, Text: "New", Rank: ptr(0), Color: ptr(1)}, {ID: 2, Text: "Won", Rank: ptr(1)}, {ID: 3, Text: "Lost"}}},
		{ID: 1, Name: "Location", EntityType: ptr(loader.EntityOrganization), ValueType: 5, EnrichmentSource: ptr("affinity-data")},
		{ID: 9, Name: "Gone", ValueType: 2, Options: []loader.DropdownOption{{ID: 1, Text: "old"}}},
	}})
	for _, stmt := range []string{
		`UPDATE ` + e.table("fields") + ` SET deleted_at = now() WHERE id = 9`,
		`UPDATE ` + e.table("dropdown_options") + ` SET deleted_at = now() WHERE field_id = 2 AND id = 3`,
	} {
		_, err := e.conn.Exec(ctx, stmt)
		require.NoError(t, err)
	}

	fields, err := e.store.FieldCatalog(ctx)
	require.NoError(t, err)
	require.Equal(t, []loader.Field{
		{ID: 1, Name: "Location", EntityType: ptr(loader.EntityOrganization), ValueType: 5, EnrichmentSource: ptr("affinity-data")},
		{ID: 2, Name: "Status", ListID: ptr[int64](3), EntityType: ptr(loader.EntityOpportunity), ValueType: 7, TrackChanges: true, EnrichmentSource: ptr("none")},
	}, fields, "live fields, untracked ones included")

	options, err := e.store.DropdownOptions(ctx)
	require.NoError(t, err)
	require.Equal(t, map[loader.DropdownKey]loader.DropdownOption{
		{FieldID: 2, OptionID: 1}: {ID: 1, Text: "New", Rank: ptr(0), Color: ptr(1)},
		{FieldID: 2, OptionID: 2}: {ID: 2, Text: "Won", Rank: ptr(1)},
	}, options, "live options of live fields")
}

// dueFixture: lists 1 and 2 with entries (one soft-deleted), list 3 never entry-synced with
// Affinity's size 42, list 5 never entry-synced without a size, list 4 soft-deleted;
// person 11 fetched at t0, organization 21 at t0-48h, person 10 and organization 20 never;
// organizations 20, 22 without details, 21 with details at t0, 23 soft-deleted.
func dueFixture(t *testing.T, e env) {
	t.Helper()
	e.commit(t, loader.Page{SeenAt: t0.Add(-48 * time.Hour),
		Lists:         []loader.List{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}, {ID: 3, Name: "c", ListSize: ptr[int64](42)}, {ID: 4, Name: "d"}, {ID: 5, Name: "e"}},
		Organizations: []loader.Organization{{ID: 20, Name: "x"}, {ID: 21, Name: "y"}, {ID: 22, Name: "z"}, {ID: 23, Name: "w"}},
		ListEntries: []loader.ListEntry{
			{ID: 100, ListID: 1, EntityType: 0, EntityID: 10}, {ID: 101, ListID: 1, EntityType: 0, EntityID: 11},
			{ID: 102, ListID: 1, EntityType: 1, EntityID: 20}, {ID: 103, ListID: 2, EntityType: 0, EntityID: 10},
			{ID: 104, ListID: 2, EntityType: 1, EntityID: 21}, {ID: 105, ListID: 2, EntityType: 0, EntityID: 12},
			{ID: 106, ListID: 4, EntityType: 0, EntityID: 13},
		},
		EntityValues: []loader.EntityValues{{EntityType: 1, EntityID: 21}},
	})
	e.commit(t, loader.Page{SeenAt: t0,
		EntityValues:        []loader.EntityValues{{EntityType: 0, EntityID: 11}},
		OrganizationPersons: []loader.OrganizationPersons{{OrganizationID: 21}},
	})
	for _, stmt := range []string{
		`UPDATE ` + e.table("list_entries") + ` SET deleted_at = now() WHERE id = 105`,
		`UPDATE ` + e.table("lists") + ` SET deleted_at = now() WHERE id = 4`,
		`UPDATE ` + e.table("organizations") + ` SET deleted_at = now() WHERE id = 23`,
	} {
		_, err := e.conn.Exec(t.Context(), stmt)
		require.NoError(t, err)
	}
}

func TestDueByList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	dueFixture(t, e)
	q := loader.RefreshQuery{PassStart: t0.Add(time.Hour), StaleBefore: t0.Add(-24 * time.Hour)}

	due, err := e.store.DueByList(ctx, q)
	require.NoError(t, err)
	// list 1: person 10 (new), organization 20 (new); person 11 is fresh.
	// list 2: person 10, organization 21 (stale); person 12's entry is deleted.
	// list 4: person 13 (new) on a live entry of a soft-deleted list, as RefreshCandidates has it.
	require.Equal(t, map[int64]int64{1: 2, 2: 2, 4: 1}, due)

	all := q
	all.Limit = 100
	candidates, err := e.store.RefreshCandidates(ctx, all)
	require.NoError(t, err)
	require.Len(t, candidates, 4, "persons 10 and 13, organizations 20 and 21: the same definition of due")

	chosen := q
	chosen.Lists = []int64{2}
	due, err = e.store.DueByList(ctx, chosen)
	require.NoError(t, err)
	require.Equal(t, map[int64]int64{2: 2}, due, "only the chosen lists")

	// A v2 read of organization 20 (its entry on list 1, no values) makes it fresh.
	e.commit(t, loader.Page{SeenAt: t0, ScopedValues: []loader.ScopedValues{{EntityType: 1, EntityID: 20, ListEntryID: ptr[int64](102)}}})
	due, err = e.store.DueByList(ctx, q)
	require.NoError(t, err)
	require.Equal(t, map[int64]int64{1: 1, 2: 2, 4: 1}, due, "a v2 read marks the entity's values fetched")

	unlisted := q
	unlisted.Unlisted = true
	_, err = e.store.DueByList(ctx, unlisted)
	require.ErrorContains(t, err, "unlisted")
}

func TestDetailsDueCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	dueFixture(t, e)
	for _, tt := range []struct {
		name string
		q    loader.DetailsQuery
		want int64
	}{
		{"21 fresh", loader.DetailsQuery{PassStart: t0.Add(time.Hour), StaleBefore: t0.Add(-time.Hour)}, 2},
		{"21 stale", loader.DetailsQuery{PassStart: t0.Add(time.Hour), StaleBefore: t0.Add(time.Minute)}, 3},
		{"21 done this pass", loader.DetailsQuery{PassStart: t0.Add(-time.Minute), StaleBefore: t0.Add(time.Minute)}, 2},
	} {
		n, err := e.store.DetailsDueCount(ctx, tt.q)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, n, tt.name)
		tt.q.Limit = 100
		keys, err := e.store.DetailsCandidates(ctx, tt.q)
		require.NoError(t, err, tt.name)
		require.Len(t, keys, int(tt.want), "%s: the same definition as DetailsCandidates", tt.name)
	}
}

func TestListSizes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	dueFixture(t, e)
	sizes, err := e.store.ListSizes(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, []loader.ListSize{
		{ListID: 1, Entries: 3},
		{ListID: 2, Entries: 2},
		{ListID: 3, Entries: 42, FromListSize: true},
		{ListID: 5, Entries: 0, FromListSize: true},
	}, sizes)

	sizes, err = e.store.ListSizes(ctx, []int64{2, 3})
	require.NoError(t, err)
	require.Equal(t, []loader.ListSize{{ListID: 2, Entries: 2}, {ListID: 3, Entries: 42, FromListSize: true}}, sizes)
}
