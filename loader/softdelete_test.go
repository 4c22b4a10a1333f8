package loader_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

func (e env) commit(t *testing.T, p loader.Page) {
	t.Helper()
	if p.Checkpoint.Stream == "" {
		p.Checkpoint = cp("test", t0, "")
	}
	_, err := e.store.CommitPage(t.Context(), p)
	require.NoError(t, err)
}

// ids returns the ids of table matching where, in order.
func (e env) ids(t *testing.T, table, where string, args ...any) []int64 {
	t.Helper()
	rows, err := e.conn.Query(t.Context(), `SELECT id FROM `+e.table(table)+` WHERE `+where+` ORDER BY id`, args...)
	require.NoError(t, err)
	ids := []int64{}
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

func textValue(id, fieldID int64, entityType loader.EntityKind, entityID int64, entry *int64) loader.FieldValue {
	return loader.FieldValue{ID: id, FieldID: fieldID, EntityType: entityType, EntityID: entityID, ListEntryID: entry,
		Value: []byte(`"x"`), Projection: loader.Projection{Text: ptr("x")}}
}

func requireMassDelete(t *testing.T, err error, want loader.MassDeleteError) {
	t.Helper()
	var mass *loader.MassDeleteError
	require.True(t, errors.As(err, &mass), "got %v", err)
	require.Equal(t, want, *mass)
}

func TestCompleteListsPhase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	e.commit(t, loader.Page{SeenAt: t0,
		Lists: []loader.List{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}, {ID: 3, Name: "c"}},
		ListEntries: []loader.ListEntry{{ID: 10, ListID: 1, EntityID: 5}, {ID: 11, ListID: 1, EntityID: 6},
			{ID: 12, ListID: 1, EntityID: 7}, {ID: 20, ListID: 2, EntityID: 5}},
		EntityValues: []loader.EntityValues{{EntityType: 0, EntityID: 5, Values: []loader.FieldValue{
			textValue(100, 1, 0, 5, ptr[int64](10)), textValue(101, 1, 0, 5, nil), textValue(102, 2, 0, 5, ptr[int64](20))}}},
	})
	earlier := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := e.conn.Exec(ctx, `UPDATE `+e.table("list_entries")+` SET deleted_at = $1 WHERE id = 12`, earlier)
	require.NoError(t, err)

	t1 := t0.Add(time.Hour)
	e.commit(t, loader.Page{SeenAt: t1, Lists: []loader.List{{ID: 2, Name: "b"}, {ID: 3, Name: "c"}}})
	n, err := e.store.CompletePhase(ctx, cp("lists", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectList), loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, []int64{1}, e.ids(t, "lists", "deleted_at IS NOT NULL"))
	require.Equal(t, []int64{10, 11, 12}, e.ids(t, "list_entries", "deleted_at IS NOT NULL"), "the list's live entries go with it")
	require.Equal(t, int64(1), e.count(t, "list_entries", "id = 12 AND deleted_at = $1", earlier), "an entry deleted before keeps its time")
	require.Equal(t, []int64{100}, e.ids(t, "field_values", "deleted_at IS NOT NULL"), "values of those entries go; global and other lists' stay")
	got, err := e.store.LoadCheckpoint(ctx, "lists")
	require.NoError(t, err)
	require.True(t, got.PassStartedAt.IsZero())
	require.NotNil(t, got.LastCompletedAt)

	// The guard measures the whole lists table.
	var many []loader.List
	for i := int64(100); i < 110; i++ {
		many = append(many, loader.List{ID: i, Name: "l"})
	}
	e.commit(t, loader.Page{SeenAt: t1, Lists: many})
	t2 := t1.Add(time.Hour)
	e.commit(t, loader.Page{SeenAt: t2, Lists: []loader.List{{ID: 2, Name: "b"}}})
	_, err = e.store.CompletePhase(ctx, cp("lists", t2, ""), loader.EndSoftDeleteUnseen(loader.ObjectList), loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
	requireMassDelete(t, err, loader.MassDeleteError{Table: "lists", Live: 12, WouldDelete: 11, MaxShare: 0.5})
	require.Equal(t, []int64{1}, e.ids(t, "lists", "deleted_at IS NOT NULL"))
}

func TestCompleteFieldsPhase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	opts := []loader.DropdownOption{{ID: 1, Text: "a"}, {ID: 2, Text: "b"}}
	e.commit(t, loader.Page{SeenAt: t0, Fields: []loader.Field{{ID: 1, Name: "f1", ValueType: 7, Options: opts},
		{ID: 2, Name: "f2", ValueType: 2, Options: opts}}})
	e.commit(t, loader.Page{SeenAt: t0, EntityValues: []loader.EntityValues{{EntityType: 0, EntityID: 5,
		Values: []loader.FieldValue{textValue(100, 1, 0, 5, nil)}}}})
	t1 := t0.Add(time.Hour)
	e.commit(t, loader.Page{SeenAt: t1, Fields: []loader.Field{{ID: 2, Name: "f2", ValueType: 2, Options: opts}}})

	next := cp("fields", t1, "")
	n, err := e.store.CompletePhase(ctx, next, loader.EndSoftDeleteUnseen(loader.ObjectField), loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, []int64{1}, e.ids(t, "fields", "deleted_at IS NOT NULL"))
	require.Equal(t, int64(2), e.count(t, "dropdown_options", "field_id = 1 AND deleted_at IS NOT NULL"))
	require.Zero(t, e.count(t, "dropdown_options", "field_id = 2 AND deleted_at IS NOT NULL"))
	require.Zero(t, e.count(t, "field_values", "deleted_at IS NOT NULL"), "values are not the fields pass's to delete")
}

func TestCompleteListEntriesPhase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	// Lists 1 and 2 have ten entries each (ids 100.., 200..); each entry has a list value.
	for _, list := range []int64{1, 2} {
		var entries []loader.ListEntry
		var sets []loader.EntityValues
		for i := int64(0); i < 10; i++ {
			id := list*100 + i
			entries = append(entries, loader.ListEntry{ID: id, ListID: list, EntityType: 1, EntityID: id})
			sets = append(sets, loader.EntityValues{EntityType: 1, EntityID: id, Values: []loader.FieldValue{
				textValue(id, 1, 1, id, &id), textValue(id+10000, 2, 1, id, nil)}})
		}
		e.commit(t, loader.Page{SeenAt: t0, ListEntries: entries, EntityValues: sets})
	}
	t1 := t0.Add(time.Hour)
	seen := func(list int64, n int64) {
		var entries []loader.ListEntry
		for i := int64(0); i < n; i++ {
			entries = append(entries, loader.ListEntry{ID: list*100 + i, ListID: list, EntityType: 1, EntityID: list*100 + i})
		}
		e.commit(t, loader.Page{SeenAt: t1, ListEntries: entries})
	}
	seen(1, 8) // 100..107 seen, 108 and 109 gone
	seen(2, 4) // 200..203 seen: 6 of 10 would go

	// List 1: its two unseen entries and their list values go; list 2's unseen ones stay.
	n, err := e.store.CompletePhase(ctx, loader.Checkpoint{Stream: "list_entries", Phase: "1", PassStartedAt: t1, PageToken: "t"},
		loader.EndSoftDeleteUnseenEntries(1), loader.PassOptions{MaxDeleteShare: 0.5, NextPhase: "2"})
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	require.Equal(t, []int64{108, 109}, e.ids(t, "list_entries", "deleted_at IS NOT NULL"))
	require.Equal(t, []int64{108, 109}, e.ids(t, "field_values", "deleted_at IS NOT NULL"), "global values are not the entry's")
	got, err := e.store.LoadCheckpoint(ctx, "list_entries")
	require.NoError(t, err)
	require.Equal(t, "2", got.Phase)
	require.Empty(t, got.PageToken)

	// List 2: the guard refuses, per list.
	_, err = e.store.CompletePhase(ctx, loader.Checkpoint{Stream: "list_entries", Phase: "2", PassStartedAt: t1},
		loader.EndSoftDeleteUnseenEntries(2), loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
	requireMassDelete(t, err, loader.MassDeleteError{Table: "list_entries", Scope: "list 2", Live: 10, WouldDelete: 6, MaxShare: 0.5})
	require.ErrorContains(t, err, "list_entries (list 2)")
	require.Equal(t, []int64{108, 109}, e.ids(t, "list_entries", "deleted_at IS NOT NULL"))
	got, err = e.store.LoadCheckpoint(ctx, "list_entries")
	require.NoError(t, err)
	require.Equal(t, "2", got.Phase, "a refused phase leaves the checkpoint")
	require.False(t, got.PassStartedAt.IsZero())

	// Allowed once, it goes through and ends the pass.
	n, err = e.store.CompletePhase(ctx, loader.Checkpoint{Stream: "list_entries", Phase: "2", PassStartedAt: t1},
		loader.EndSoftDeleteUnseenEntries(2), loader.PassOptions{MaxDeleteShare: 0.5, AllowMassDelete: true, EndsPass: true})
	require.NoError(t, err)
	require.Equal(t, int64(6), n)
	require.Equal(t, int64(8), e.count(t, "field_values", "deleted_at IS NOT NULL"))
}

func TestCompleteFieldValuesPhase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		end         loader.PhaseEnd
		opts        loader.PassOptions
		wantDeleted []int64
		wantGuard   bool
	}{
		{name: "default drops unlisted entities' values", end: loader.EndSoftDeleteUnlistedValues(), opts: loader.PassOptions{MaxDeleteShare: 1},
			wantDeleted: []int64{3, 4, 5, 6}},
		{name: "for unlisted keeps them", end: loader.EndNothing(), opts: loader.PassOptions{MaxDeleteShare: 1},
			wantDeleted: []int64{}},
		{name: "guarded over the field_values table", end: loader.EndSoftDeleteUnlistedValues(), opts: loader.PassOptions{MaxDeleteShare: 0.3}, wantGuard: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "affinity")
			ctx := t.Context()
			// Person 1 is on a live entry, person 2 only on a deleted one, organization 3 on
			// none, opportunity 4 on a live entry; organization 1 shares person 1's id.
			e.commit(t, loader.Page{SeenAt: t0, ListEntries: []loader.ListEntry{
				{ID: 10, ListID: 1, EntityType: 0, EntityID: 1}, {ID: 20, ListID: 1, EntityType: 0, EntityID: 2},
				{ID: 40, ListID: 2, EntityType: 8, EntityID: 4}}})
			_, err := e.conn.Exec(ctx, `UPDATE `+e.table("list_entries")+` SET deleted_at = now() WHERE id = 20`)
			require.NoError(t, err)
			e.commit(t, loader.Page{SeenAt: t0, EntityValues: []loader.EntityValues{
				{EntityType: 0, EntityID: 1, Values: []loader.FieldValue{textValue(1, 1, 0, 1, nil), textValue(2, 2, 0, 1, ptr[int64](10))}},
				{EntityType: 0, EntityID: 2, Values: []loader.FieldValue{textValue(3, 1, 0, 2, nil), textValue(4, 2, 0, 2, ptr[int64](20))}},
				{EntityType: 1, EntityID: 3, Values: []loader.FieldValue{textValue(5, 1, 1, 3, nil)}},
				{EntityType: 1, EntityID: 1, Values: []loader.FieldValue{textValue(6, 1, 1, 1, nil)}},
				{EntityType: 8, EntityID: 4, Values: []loader.FieldValue{textValue(7, 3, 8, 4, ptr[int64](40))}},
			}})
			// Padding to ten live values, the guard's minimum.
			e.commit(t, loader.Page{SeenAt: t0, EntityValues: []loader.EntityValues{{EntityType: 8, EntityID: 4,
				Values: []loader.FieldValue{textValue(7, 3, 8, 4, ptr[int64](40)), textValue(100, 3, 8, 4, ptr[int64](40)),
					textValue(101, 3, 8, 4, ptr[int64](40)), textValue(102, 3, 8, 4, ptr[int64](40))}}}})
			t1 := t0.Add(time.Hour)
			opts := tt.opts
			opts.EndsPass = true
			n, err := e.store.CompletePhase(ctx, cp("field_values", t1, ""), tt.end, opts)
			if tt.wantGuard {
				requireMassDelete(t, err, loader.MassDeleteError{Table: "field_values", Live: 10, WouldDelete: 4, MaxShare: 0.3})
				require.Zero(t, e.count(t, "field_values", "deleted_at IS NOT NULL"))
				return
			}
			require.NoError(t, err)
			require.Equal(t, int64(len(tt.wantDeleted)), n)
			require.Equal(t, tt.wantDeleted, e.ids(t, "field_values", "deleted_at IS NOT NULL"))
			got, err := e.store.LoadCheckpoint(ctx, "field_values")
			require.NoError(t, err)
			require.NotNil(t, got.LastCompletedAt)
		})
	}
}

func TestCompletePhasesWithNothingToDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	e.commit(t, loader.Page{SeenAt: t0, EntityValues: []loader.EntityValues{{EntityType: 0, EntityID: 1,
		Values: []loader.FieldValue{textValue(1, 1, 0, 1, nil)}}}})
	t1 := t0.Add(time.Hour)
	for _, c := range []loader.Checkpoint{
		{Stream: "field_value_changes", Phase: "42", PassStartedAt: t1},
		{Stream: "organization_details", Phase: "", PassStartedAt: t1},
	} {
		n, err := e.store.CompletePhase(ctx, c, loader.EndNothing(), loader.PassOptions{NextPhase: "next"})
		require.NoError(t, err, c.Stream)
		require.Zero(t, n)
		got, err := e.store.LoadCheckpoint(ctx, c.Stream)
		require.NoError(t, err)
		require.Equal(t, "next", got.Phase, c.Stream)
	}
	require.Zero(t, e.count(t, "field_values", "deleted_at IS NOT NULL"), "an unlisted entity's value stays")
	_, err := e.store.CompletePhase(ctx, loader.Checkpoint{Stream: "field_values", Phase: "refresh", PassStartedAt: t1}, loader.PhaseEnd{}, loader.PassOptions{})
	require.NoError(t, err, "the zero PhaseEnd does nothing")
}
