package loader_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

func TestLiveListsAndFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	e.commit(t, loader.Page{SeenAt: t0,
		Lists: []loader.List{{ID: 3, Type: 8, Name: "c", Public: true, OwnerID: ptr[int64](7), ListSize: ptr[int64](4)},
			{ID: 1, Name: "a"}, {ID: 2, Type: 1, Name: "b"}},
		Fields: []loader.Field{
			{ID: 4, Name: "Status", ListID: ptr[int64](3), EntityType: ptr(8), ValueType: 7, TrackChanges: true, EnrichmentSource: ptr("none"),
				Options: []loader.DropdownOption{{ID: 1, Text: "x"}}},
			{ID: 1, Name: "Amount", ValueType: 3, TrackChanges: true, AllowsMultiple: true},
			{ID: 2, Name: "Notes", ValueType: 6},
			{ID: 3, Name: "Gone", ValueType: 10, TrackChanges: true},
		}})
	_, err := e.conn.Exec(ctx, `UPDATE `+e.table("lists")+` SET deleted_at = now() WHERE id = 1`)
	require.NoError(t, err)
	_, err = e.conn.Exec(ctx, `UPDATE `+e.table("fields")+` SET deleted_at = now() WHERE id = 3`)
	require.NoError(t, err)

	lists, err := e.store.LiveLists(ctx)
	require.NoError(t, err)
	require.Equal(t, []loader.List{{ID: 2, Type: 1, Name: "b"},
		{ID: 3, Type: 8, Name: "c", Public: true, OwnerID: ptr[int64](7), ListSize: ptr[int64](4)}}, lists)

	fields, err := e.store.TrackedFields(ctx)
	require.NoError(t, err)
	require.Equal(t, []loader.Field{
		{ID: 1, Name: "Amount", ValueType: 3, TrackChanges: true, AllowsMultiple: true},
		{ID: 4, Name: "Status", ListID: ptr[int64](3), EntityType: ptr(8), ValueType: 7, TrackChanges: true, EnrichmentSource: ptr("none")},
	}, fields)

	types, err := e.store.FieldValueTypes(ctx)
	require.NoError(t, err)
	require.Equal(t, map[int64]int{1: 3, 2: 6, 3: 10, 4: 7}, types, "soft-deleted fields included")
}

func TestListedEntities(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	e.commit(t, loader.Page{SeenAt: t0,
		ListEntries: []loader.ListEntry{
			{ID: 1, ListID: 1, EntityType: 0, EntityID: 5}, {ID: 2, ListID: 2, EntityType: 0, EntityID: 5},
			{ID: 3, ListID: 1, EntityType: 0, EntityID: 3}, {ID: 4, ListID: 3, EntityType: 1, EntityID: 7},
			{ID: 5, ListID: 4, EntityType: 8, EntityID: 2}, {ID: 6, ListID: 3, EntityType: 1, EntityID: 9},
		},
		Persons:       []loader.Person{{ID: 1}, {ID: 3}, {ID: 4}},
		Organizations: []loader.Organization{{ID: 7, Name: "o"}, {ID: 8, Name: "o"}, {ID: 10, Name: "o"}},
	})
	for _, stmt := range []string{
		`UPDATE ` + e.table("list_entries") + ` SET deleted_at = now() WHERE id = 6`,
		`UPDATE ` + e.table("persons") + ` SET deleted_at = now() WHERE id = 4`,
		`UPDATE ` + e.table("organizations") + ` SET deleted_at = now() WHERE id = 10`,
	} {
		_, err := e.conn.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	all := func(limit int, unlisted bool) []loader.EntityKey {
		t.Helper()
		var out []loader.EntityKey
		var after loader.EntityKey
		for range 20 {
			page, err := e.store.ListedEntities(ctx, after, limit, unlisted)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), limit)
			if len(page) == 0 {
				return out
			}
			out = append(out, page...)
			after = page[len(page)-1]
		}
		t.Fatal("paging did not end")
		return nil
	}
	listed := []loader.EntityKey{{0, 3}, {0, 5}, {1, 7}, {8, 2}}
	require.Equal(t, listed, all(100, false))
	require.Equal(t, listed, all(1, false))
	require.Equal(t, listed, all(3, false))
	withUnlisted := []loader.EntityKey{{0, 1}, {0, 3}, {0, 5}, {1, 7}, {1, 8}, {8, 2}}
	require.Equal(t, withUnlisted, all(100, true))
	require.Equal(t, withUnlisted, all(1, true))
	require.Equal(t, withUnlisted, all(4, true))

	page, err := e.store.ListedEntities(ctx, loader.EntityKey{Type: 1, ID: 7}, 10, true)
	require.NoError(t, err)
	require.Equal(t, []loader.EntityKey{{1, 8}, {8, 2}}, page, "persons are skipped after a type-1 key")
	page, err = e.store.ListedEntities(ctx, loader.EntityKey{Type: 0, ID: 3}, 2, true)
	require.NoError(t, err)
	require.Equal(t, []loader.EntityKey{{0, 5}, {1, 7}}, page)
	page, err = e.store.ListedEntities(ctx, loader.EntityKey{Type: 8, ID: 2}, 10, true)
	require.NoError(t, err)
	require.Empty(t, page)

	ids, err := e.store.OrganizationIDs(ctx, 0, 10)
	require.NoError(t, err)
	require.Equal(t, []int64{7, 8}, ids)
	ids, err = e.store.OrganizationIDs(ctx, 0, 1)
	require.NoError(t, err)
	require.Equal(t, []int64{7}, ids)
	ids, err = e.store.OrganizationIDs(ctx, 7, 10)
	require.NoError(t, err)
	require.Equal(t, []int64{8}, ids)
	ids, err = e.store.OrganizationIDs(ctx, 8, 10)
	require.NoError(t, err)
	require.Empty(t, ids)
}
