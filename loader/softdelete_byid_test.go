package loader_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// seedObjects writes two persons, a list with two entries and a list field with an option,
// a global field, and values on both persons (global and per entry).
func seedObjects(t *testing.T, e env) {
	e.commit(t, loader.Page{SeenAt: t0,
		Persons: []loader.Person{{ID: 5}, {ID: 6}},
		Lists:   []loader.List{{ID: 1, Name: "a"}},
		Fields: []loader.Field{
			{ID: 1, Name: "global", ValueType: 6},
			{ID: 2, Name: "status", ListID: ptr[int64](1), ValueType: 7, Options: []loader.DropdownOption{{ID: 9, Text: "x"}}}},
		ListEntries: []loader.ListEntry{{ID: 10, ListID: 1, EntityID: 5}, {ID: 11, ListID: 1, EntityID: 6}},
		EntityValues: []loader.EntityValues{
			{EntityType: 0, EntityID: 5, Values: []loader.FieldValue{textValue(100, 1, 0, 5, nil), textValue(101, 2, 0, 5, ptr[int64](10))}},
			{EntityType: 0, EntityID: 6, Values: []loader.FieldValue{textValue(200, 1, 0, 6, nil), textValue(201, 2, 0, 6, ptr[int64](11))}},
		},
	})
}

func TestObjectKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		kind   loader.ObjectKind // "" = not an object kind the warehouse soft-deletes
		entity bool
	}{
		{"person", loader.ObjectPerson, true},
		{"organization", loader.ObjectOrganization, true},
		{"opportunity", loader.ObjectOpportunity, true},
		{"list", loader.ObjectList, false},
		{"list_entry", loader.ObjectListEntry, false},
		{"field", loader.ObjectField, false},
		{"field_value", loader.ObjectFieldValue, false},
		{"note", loader.ObjectNote, false},
		{"reminder", loader.ObjectReminder, false},
		{"file", loader.ObjectEntityFile, false},
		{"interaction", "", false},
		{"entity", "", false},
		{"", "", false},
	} {
		got, ok := loader.ParseObjectKind(tc.name)
		require.Equal(t, tc.kind != "", ok, tc.name)
		require.Equal(t, tc.kind, got, tc.name)
		k, ok := got.Entity()
		require.Equal(t, tc.entity, ok, tc.name)
		if ok {
			require.Equal(t, tc.kind, k.Object(), "entity kind and object kind name each other")
		}
	}
	for _, k := range loader.EntityKinds() {
		o, ok := loader.ParseObjectKind(k.String())
		require.True(t, ok, k)
		require.Equal(t, k.Object(), o)
	}
	require.Empty(t, loader.EntityKind(5).Object())
}

func TestSoftDeleteObject(t *testing.T) {
	t.Parallel()
	type deleted map[string][]int64 // table → ids soft-deleted afterwards
	for _, tc := range []struct {
		kind loader.ObjectKind
		id   int64
		n    int64
		want deleted
	}{
		{loader.ObjectPerson, 5, 4, deleted{"persons": {5}, "list_entries": {10}, "field_values": {100, 101}}},
		{loader.ObjectListEntry, 11, 2, deleted{"list_entries": {11}, "field_values": {201}}},
		{loader.ObjectList, 1, 7, deleted{"lists": {1}, "list_entries": {10, 11}, "field_values": {101, 201}, "fields": {2}}},
		{loader.ObjectField, 1, 3, deleted{"fields": {1}, "field_values": {100, 200}}},
		{loader.ObjectFieldValue, 200, 1, deleted{"field_values": {200}}},
		{loader.ObjectOrganization, 5, 0, deleted{}}, // a person id is not an organization id
		{loader.ObjectPerson, 999, 0, deleted{}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "affinity")
			seedObjects(t, e)
			n, err := e.store.SoftDeleteObject(t.Context(), tc.kind, tc.id)
			require.NoError(t, err)
			require.Equal(t, tc.n, n)
			for _, table := range []string{"persons", "lists", "list_entries", "fields", "field_values"} {
				want := tc.want[table]
				if want == nil {
					want = []int64{}
				}
				require.Equal(t, want, e.ids(t, table, "deleted_at IS NOT NULL"), table)
			}
			if tc.kind == loader.ObjectList {
				require.Equal(t, int64(1), e.count(t, "dropdown_options", "deleted_at IS NOT NULL"))
			}
			again, err := e.store.SoftDeleteObject(t.Context(), tc.kind, tc.id)
			require.NoError(t, err)
			require.Zero(t, again, "a second delete changes nothing")
		})
	}
}

func TestSoftDeleteObjectUnknownKind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	_, err := e.store.SoftDeleteObject(t.Context(), loader.ObjectKind("interaction"), 1)
	require.ErrorIs(t, err, loader.ErrUnknownObject)
}

func TestEntityTypeOf(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	e.commit(t, loader.Page{SeenAt: t0,
		Fields:      []loader.Field{{ID: 1, Name: "g", ValueType: 6, EntityType: ptr(loader.EntityOrganization)}, {ID: 2, Name: "l", ValueType: 6}},
		ListEntries: []loader.ListEntry{{ID: 10, ListID: 1, EntityType: 8, EntityID: 5}},
	})
	for _, tc := range []struct {
		field int64
		entry *int64
		want  loader.EntityKind
		ok    bool
	}{
		{1, nil, 1, true},
		{2, ptr[int64](10), 8, true},
		{2, nil, 0, false},
		{3, ptr[int64](11), 0, false},
	} {
		got, ok, err := e.store.EntityTypeOf(t.Context(), tc.field, tc.entry)
		require.NoError(t, err)
		require.Equal(t, tc.ok, ok)
		require.Equal(t, tc.want, got)
	}
}
