package loader_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// storedValue is one stored field value as the tests compare it.
type storedValue struct {
	RowID                int64
	ID                   *int64
	FieldID              int64
	ListEntryID          *int64
	Value                string
	CreatedAt, UpdatedAt *time.Time
	SyncedAt             time.Time
	Deleted              bool
}

// values returns the entity's stored field values, by row_id.
func (e env) values(t *testing.T, entityType int, entityID int64) []storedValue {
	t.Helper()
	rows, err := e.conn.Query(t.Context(), `SELECT row_id, id, field_id, list_entry_id, coalesce(value::text, 'NULL'),
			created_at, updated_at, synced_at, deleted_at IS NOT NULL
		FROM `+e.table("field_values")+` WHERE entity_type = $1 AND entity_id = $2 ORDER BY row_id`, entityType, entityID)
	require.NoError(t, err)
	defer rows.Close()
	var out []storedValue
	for rows.Next() {
		var r storedValue
		require.NoError(t, rows.Scan(&r.RowID, &r.ID, &r.FieldID, &r.ListEntryID, &r.Value, &r.CreatedAt, &r.UpdatedAt, &r.SyncedAt, &r.Deleted))
		r.SyncedAt = r.SyncedAt.UTC()
		if r.CreatedAt != nil {
			r.CreatedAt = ptr(r.CreatedAt.UTC())
		}
		if r.UpdatedAt != nil {
			r.UpdatedAt = ptr(r.UpdatedAt.UTC())
		}
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// byID finds the row with Affinity id id.
func byID(t *testing.T, rows []storedValue, id int64) storedValue {
	t.Helper()
	for _, r := range rows {
		if r.ID != nil && *r.ID == id {
			return r
		}
	}
	require.Failf(t, "no row", "no field value with id %d", id)
	return storedValue{}
}

// idless returns the rows without an Affinity id, live or not.
func idless(rows []storedValue, live bool) []storedValue {
	var out []storedValue
	for _, r := range rows {
		if r.ID == nil && r.Deleted == !live {
			out = append(out, r)
		}
	}
	return out
}

func textOf(s string) loader.Projection { return loader.Projection{Text: ptr(s)} }

// v1 and v2 build the values of person 7.
func v1(id, field int64, entry *int64, value string, p loader.Projection, created time.Time) loader.FieldValue {
	return loader.FieldValue{ID: id, FieldID: field, EntityType: 0, EntityID: 7, ListEntryID: entry, Value: []byte(value),
		Projection: p, CreatedAt: &created, UpdatedAt: ptr(created.Add(time.Minute))}
}

func v2(field int64, entry *int64, value string, p loader.Projection) loader.FieldValue {
	return loader.FieldValue{FieldID: field, EntityType: 0, EntityID: 7, ListEntryID: entry, Value: []byte(value), Projection: p}
}

// scopedFixture stores person 7's values through v1: global fields 1 (text), 2 (multi
// dropdown), 4 (an enriched field v2 does not carry), 6 (a value type without projections);
// list field 3 on entry 500 (list 50), list field 5 on entry 600 (list 60).
func scopedFixture(t *testing.T, e env) {
	t.Helper()
	e500, e600 := ptr[int64](500), ptr[int64](600)
	e.commit(t, loader.Page{SeenAt: t0,
		Fields: []loader.Field{
			{ID: 1, Name: "Title", EntityType: ptr(loader.EntityPerson), ValueType: 6},
			{ID: 2, Name: "Tags", EntityType: ptr(loader.EntityPerson), ValueType: 2, AllowsMultiple: true},
			{ID: 3, Name: "Amount", ListID: ptr[int64](50), EntityType: ptr(loader.EntityPerson), ValueType: 3, AllowsMultiple: true},
			{ID: 4, Name: "Location", EntityType: ptr(loader.EntityPerson), ValueType: 5, EnrichmentSource: ptr("affinity-data")},
			{ID: 5, Name: "Note", ListID: ptr[int64](60), EntityType: ptr(loader.EntityPerson), ValueType: 6},
			{ID: 6, Name: "Odd", EntityType: ptr(loader.EntityPerson), ValueType: 99},
		},
		ListEntries: []loader.ListEntry{{ID: 500, ListID: 50, EntityType: 0, EntityID: 7}, {ID: 600, ListID: 60, EntityType: 0, EntityID: 7}},
		EntityValues: []loader.EntityValues{{EntityType: 0, EntityID: 7, Values: []loader.FieldValue{
			v1(100, 1, nil, `"a"`, textOf("a"), t0.Add(-100*time.Hour)),
			v1(101, 2, nil, `"x"`, textOf("x"), t0.Add(-101*time.Hour)),
			v1(102, 2, nil, `"x"`, textOf("x"), t0.Add(-102*time.Hour)),
			v1(103, 2, nil, `"y"`, textOf("y"), t0.Add(-103*time.Hour)),
			v1(104, 3, e500, `5`, loader.Projection{Number: ptr("5")}, t0.Add(-104*time.Hour)),
			v1(105, 4, nil, `{"city": "Oslo"}`, textOf("Oslo"), t0.Add(-105*time.Hour)),
			v1(106, 5, e600, `"other entry"`, textOf("other entry"), t0.Add(-106*time.Hour)),
			v1(107, 3, e500, `9`, loader.Projection{Number: ptr("9")}, t0.Add(-107*time.Hour)),
			v1(108, 6, nil, `{"a": 1, "b": [2]}`, loader.Projection{}, t0.Add(-108*time.Hour)),
		}}},
	})
}

// scopedRead is a v2 read of person 7 on entry 500: global fields 1, 2 and 6, and every value
// of entry 500.
func scopedRead(values ...loader.FieldValue) loader.ScopedValues {
	return loader.ScopedValues{EntityType: 0, EntityID: 7, GlobalFields: []int64{1, 2, 6}, ListEntryID: ptr[int64](500), Values: values}
}

func TestScopedValuesKeepRowsOfUnchangedValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	scopedFixture(t, e)
	before := e.values(t, 0, 7)
	require.Len(t, before, 9)
	e500 := ptr[int64](500)

	t1 := t0.Add(time.Hour)
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t1, "c1"), SeenAt: t1,
		ScopedValues: []loader.ScopedValues{scopedRead(
			v2(1, nil, `"a"`, textOf("a")),
			v2(2, nil, `"y"`, textOf("y")),
			v2(2, nil, `"x"`, textOf("x")),
			v2(2, nil, `"y"`, textOf("y")),                            // a second "y": one new row
			v2(3, e500, `5.0`, loader.Projection{Number: ptr("5.0")}), // equal as a number
			v2(3, e500, `12`, loader.Projection{Number: ptr("12")}),   // new
			v2(6, nil, `{"b": [2], "a": 1}`, loader.Projection{}),     // equal as jsonb
		)}})
	require.NoError(t, err)
	// kept 100, 101, 103, 104, 108; soft-deleted 102 (the second "x"), 107 (9); inserted "y", 12
	require.Equal(t, int64(9), stats.Rows)

	after := e.values(t, 0, 7)
	require.Len(t, after, 11)
	for i, b := range before {
		a := after[i]
		require.Equal(t, b.RowID, a.RowID)
		require.Equal(t, b.ID, a.ID, "row %d keeps its id", b.RowID)
		require.Equal(t, b.CreatedAt, a.CreatedAt, "row %d keeps created_at", b.RowID)
		require.Equal(t, b.UpdatedAt, a.UpdatedAt, "row %d keeps updated_at", b.RowID)
		require.Equal(t, b.Value, a.Value, "row %d keeps the value as stored", b.RowID)
		switch *b.ID {
		case 100, 101, 103, 104, 108:
			require.Equal(t, t1, a.SyncedAt, "value %d seen again", *b.ID)
			require.False(t, a.Deleted, "value %d live", *b.ID)
		case 102, 107:
			require.Equal(t, t0, a.SyncedAt)
			require.True(t, a.Deleted, "value %d no longer returned", *b.ID)
		case 105, 106:
			require.Equal(t, b, a, "value %d outside the scope is untouched", *b.ID)
		}
	}
	require.Equal(t, `5`, byID(t, after, 104).Value, "the stored spelling stays")
	added := idless(after, true)
	require.Len(t, added, 2)
	require.Equal(t, []string{`"y"`, `12`}, []string{added[0].Value, added[1].Value})
	for _, r := range added {
		require.Nil(t, r.CreatedAt)
		require.Nil(t, r.UpdatedAt)
		require.Equal(t, t1, r.SyncedAt)
	}
	require.Equal(t, int64(1), e.count(t, "field_values", "value_number = 12 AND list_entry_id = 500 AND value_type = 3"),
		"the value type comes from the field")

	var fetched time.Time
	require.NoError(t, e.conn.QueryRow(ctx, `SELECT values_synced_at FROM `+e.table("sync_entity_freshness")+
		` WHERE entity_type = 0 AND entity_id = 7`).Scan(&fetched))
	require.True(t, t1.Equal(fetched), "a v2 read counts as a fetch of the entity's values")

	// The same read again keeps every row, the id-less ones included.
	t2 := t1.Add(time.Hour)
	stats, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t2, "c2"), SeenAt: t2,
		ScopedValues: []loader.ScopedValues{scopedRead(
			v2(1, nil, `"a"`, textOf("a")), v2(2, nil, `"y"`, textOf("y")), v2(2, nil, `"x"`, textOf("x")), v2(2, nil, `"y"`, textOf("y")),
			v2(3, e500, `5`, loader.Projection{Number: ptr("5")}), v2(3, e500, `12`, loader.Projection{Number: ptr("12")}),
			v2(6, nil, `{"a": 1, "b": [2]}`, loader.Projection{}),
		)}})
	require.NoError(t, err)
	require.Equal(t, int64(7), stats.Rows, "seven rows kept, nothing inserted or deleted")
	again := e.values(t, 0, 7)
	require.Len(t, again, 11)
	for i, r := range again {
		if !r.Deleted && r.FieldID != 4 && r.FieldID != 5 {
			require.Equal(t, t2, r.SyncedAt)
			r.SyncedAt = after[i].SyncedAt
		}
		require.Equal(t, after[i], r)
	}
}

func TestScopedValuesRevivesDeletedRowsAndComparesWhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	scopedFixture(t, e)
	e500 := ptr[int64](500)
	t1 := t0.Add(time.Hour)
	_, err := e.conn.Exec(ctx, `UPDATE `+e.table("field_values")+` SET deleted_at = now() WHERE id IN (101, 103)`)
	require.NoError(t, err)

	// "x" once takes live 102, not the older soft-deleted 101; "y" revives soft-deleted 103
	// rather than adding a row; a different jsonb value for field 6 is not equal to 108 (no
	// projections: the whole value is compared).
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t1, ""), SeenAt: t1,
		ScopedValues: []loader.ScopedValues{scopedRead(
			v2(1, nil, `"a"`, textOf("a")), v2(2, nil, `"x"`, textOf("x")), v2(2, nil, `"y"`, textOf("y")),
			v2(3, e500, `5`, loader.Projection{Number: ptr("5")}), v2(3, e500, `9`, loader.Projection{Number: ptr("9")}),
			v2(6, nil, `{"a": 2, "b": [2]}`, loader.Projection{}),
		)}})
	require.NoError(t, err)
	rows := e.values(t, 0, 7)
	require.False(t, byID(t, rows, 102).Deleted, "a live equal row is taken first")
	require.Equal(t, t1, byID(t, rows, 102).SyncedAt)
	require.True(t, byID(t, rows, 101).Deleted, "a soft-deleted row is not revived while a live one is left")
	require.Equal(t, t0, byID(t, rows, 101).SyncedAt)
	require.False(t, byID(t, rows, 103).Deleted, "a soft-deleted equal row is revived rather than duplicated")
	require.Equal(t, t1, byID(t, rows, 103).SyncedAt)
	require.True(t, byID(t, rows, 108).Deleted)
	added := idless(rows, true)
	require.Len(t, added, 1)
	require.Equal(t, `{"a": 2, "b": [2]}`, added[0].Value)
	require.Equal(t, int64(6), e.count(t, "field_values", "entity_id = 7 AND deleted_at IS NULL AND field_id IN (1, 2, 3, 6)"))
}

func TestScopedValuesScopeBoundaries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	scopedFixture(t, e)
	before := e.values(t, 0, 7)
	t1 := t0.Add(time.Hour)

	// Entry 600 alone, read empty: its one value goes, nothing global changes.
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t1, ""), SeenAt: t1,
		ScopedValues: []loader.ScopedValues{{EntityType: 0, EntityID: 7, ListEntryID: ptr[int64](600)}}})
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.Rows)
	after := e.values(t, 0, 7)
	for i, r := range after {
		if r.ID != nil && *r.ID == 106 {
			require.True(t, r.Deleted)
			continue
		}
		require.Equal(t, before[i], r)
	}

	// Global field 1 only, no entry: field 2's values and entry 500's stay; the same entity's
	// fields named twice in one page are replaced once, by the last read naming them.
	stats, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t1, ""), SeenAt: t1,
		ScopedValues: []loader.ScopedValues{
			{EntityType: 0, EntityID: 7, GlobalFields: []int64{1}, Values: []loader.FieldValue{v2(1, nil, `"first"`, textOf("first"))}},
			{EntityType: 0, EntityID: 7, GlobalFields: []int64{1, 1}, Values: []loader.FieldValue{v2(1, nil, `"b"`, textOf("b"))}},
		}})
	require.NoError(t, err)
	require.Equal(t, int64(2), stats.Rows, "100 soft-deleted, one row inserted")
	rows := e.values(t, 0, 7)
	require.True(t, byID(t, rows, 100).Deleted)
	require.Equal(t, int64(1), e.count(t, "field_values", "entity_id = 7 AND field_id = 1 AND deleted_at IS NULL AND value_text = 'b' AND id IS NULL"))
	require.Zero(t, e.count(t, "field_values", "value_text = 'first'"))
	for _, id := range []int64{101, 102, 103, 104, 105, 107, 108} {
		require.False(t, byID(t, rows, id).Deleted, "value %d outside the scope", id)
		require.Equal(t, t0, byID(t, rows, id).SyncedAt, "value %d outside the scope", id)
	}

	// Another entity's values are never in the scope.
	require.Zero(t, e.count(t, "field_values", "entity_id <> 7"))
}

func TestScopedValuesRefusesValuesOutsideTheirScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	scopedFixture(t, e)
	before := e.values(t, 0, 7)
	tests := []struct {
		name  string
		value loader.FieldValue
		want  string
	}{
		{"global field not carried", v2(4, nil, `"x"`, textOf("x")), "field 4 on no list entry"},
		{"another entry", v2(5, ptr[int64](600), `"x"`, textOf("x")), "list entry 600"},
		{"another entity", loader.FieldValue{FieldID: 1, EntityType: 0, EntityID: 8, Value: []byte(`"x"`)}, "entity 0/8"},
		{"with an id", loader.FieldValue{ID: 5, FieldID: 1, EntityType: 0, EntityID: 7, Value: []byte(`"x"`)}, "has id 5"},
	}
	for _, tt := range tests {
		_, err := e.store.CommitPage(t.Context(), loader.Page{Checkpoint: cp("field_values", t0, ""), SeenAt: t0.Add(time.Hour),
			ScopedValues: []loader.ScopedValues{scopedRead(v2(1, nil, `"new"`, textOf("new")), tt.value)}})
		require.ErrorContains(t, err, tt.want, tt.name)
		if tt.name != "with an id" {
			require.ErrorIs(t, err, loader.ErrValueOutsideScope, tt.name)
		}
	}
	require.Equal(t, before, e.values(t, 0, 7), "nothing written")
}

func TestEntityValuesAfterScopedValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	scopedFixture(t, e)
	e500 := ptr[int64](500)
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t1, ""), SeenAt: t1,
		ScopedValues: []loader.ScopedValues{scopedRead(
			v2(1, nil, `"a"`, textOf("a")), v2(2, nil, `"x"`, textOf("x")), v2(2, nil, `"x"`, textOf("x")),
			v2(2, nil, `"y"`, textOf("y")), v2(2, nil, `"z"`, textOf("z")), v2(2, nil, `"z"`, textOf("z")),
			v2(3, e500, `5`, loader.Projection{Number: ptr("5")}), v2(3, e500, `12`, loader.Projection{Number: ptr("12")}),
			v2(6, nil, `{"a": 1, "b": [2]}`, loader.Projection{}),
		)}})
	require.NoError(t, err)
	mid := e.values(t, 0, 7)
	newRows := idless(mid, true)
	require.Len(t, newRows, 3, `"z" twice and 12`)

	// v1 now returns the whole set with ids: "z" once as 110 (takes the first id-less "z"),
	// 12 not at all but 13 as 111; the second "z" and 12 are no longer there.
	e600 := ptr[int64](600)
	c := t0.Add(-time.Hour)
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t2, ""), SeenAt: t2,
		EntityValues: []loader.EntityValues{{EntityType: 0, EntityID: 7, Values: []loader.FieldValue{
			v1(100, 1, nil, `"a"`, textOf("a"), c), v1(101, 2, nil, `"x"`, textOf("x"), c), v1(102, 2, nil, `"x"`, textOf("x"), c),
			v1(103, 2, nil, `"y"`, textOf("y"), c), v1(110, 2, nil, `"z"`, textOf("z"), c),
			v1(104, 3, e500, `5`, loader.Projection{Number: ptr("5")}, c), v1(111, 3, e500, `13`, loader.Projection{Number: ptr("13")}, c),
			v1(105, 4, nil, `{"city": "Oslo"}`, textOf("Oslo"), c), v1(106, 5, e600, `"other entry"`, textOf("other entry"), c),
			v1(108, 6, nil, `{"a": 1, "b": [2]}`, loader.Projection{}, c),
		}}}})
	require.NoError(t, err)
	require.Equal(t, int64(10+2), stats.Rows, "ten values upserted, the second id-less z and 12 soft-deleted")

	after := e.values(t, 0, 7)
	require.Empty(t, idless(after, true), "after a v1 fetch every live value has its id")
	var firstZ int64
	for _, r := range newRows {
		if r.Value == `"z"` && (firstZ == 0 || r.RowID < firstZ) {
			firstZ = r.RowID
		}
	}
	z := byID(t, after, 110)
	require.Equal(t, firstZ, z.RowID, "the first id-less z row took the id: one row, not two")
	require.Equal(t, ptr(c.UTC()), z.CreatedAt)
	require.False(t, z.Deleted)
	require.Equal(t, t2, z.SyncedAt)
	require.Len(t, idless(after, false), 2)
	require.Len(t, after, len(mid)+1, "only 13 is a new row")
	require.Equal(t, int64(10), e.count(t, "field_values", "entity_id = 7 AND deleted_at IS NULL"))
	require.Equal(t, int64(10), e.count(t, "field_values", "entity_id = 7 AND deleted_at IS NULL AND id IS NOT NULL"))
}

func TestListEntryValuesWithIDLessValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	scopedFixture(t, e)
	e500 := ptr[int64](500)
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t0, ""), SeenAt: t0.Add(time.Hour),
		ScopedValues: []loader.ScopedValues{scopedRead(
			v2(1, nil, `"a"`, textOf("a")), v2(2, nil, `"w"`, textOf("w")),
			v2(3, e500, `12`, loader.Projection{Number: ptr("12")}),
		)}})
	require.NoError(t, err)

	rows, err := e.conn.Query(ctx, `SELECT list_entry_id, field_id, field_value_id, value::text FROM `+e.table("list_entry_values")+`
		ORDER BY list_entry_id, field_id, value::text`)
	require.NoError(t, err)
	type row struct {
		entry, field int64
		id           *int64
		value        string
	}
	var got []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.entry, &r.field, &r.id, &r.value))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	// Each entry shows its own values and the entity's live global ones (1 "a" kept as 100,
	// 2 "w" new without id, 4 untouched as 105; 6's value was not returned).
	globals := func(entry int64) []row {
		return []row{{entry, 1, ptr[int64](100), `"a"`}, {entry, 2, nil, `"w"`}, {entry, 4, ptr[int64](105), `{"city": "Oslo"}`}}
	}
	want := append(globals(500)[:2:2], row{500, 3, nil, `12`}, globals(500)[2])
	want = append(want, globals(600)[:2]...)
	want = append(want, globals(600)[2], row{600, 5, ptr[int64](106), `"other entry"`})
	require.Equal(t, want, got)
}
