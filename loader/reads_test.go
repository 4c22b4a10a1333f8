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
			{ID: 4, Name: "Status", ListID: ptr[int64](3), EntityType: ptr(loader.EntityOpportunity), ValueType: 7, TrackChanges: true, EnrichmentSource: ptr("none"),
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
		{ID: 4, Name: "Status", ListID: ptr[int64](3), EntityType: ptr(loader.EntityOpportunity), ValueType: 7, TrackChanges: true, EnrichmentSource: ptr("none")},
	}, fields)

	types, err := e.store.FieldValueTypes(ctx)
	require.NoError(t, err)
	require.Equal(t, map[int64]int{1: 3, 2: 6, 3: 10, 4: 7}, types, "soft-deleted fields included")
}
