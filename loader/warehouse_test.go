package loader_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

type listRow struct {
	Type                         int
	Name                         string
	Public                       bool
	OwnerID, CreatorID, ListSize *int64
	SyncedAt                     time.Time
	DeletedAt                    *time.Time
}

func (e env) list(t *testing.T, id int64) listRow {
	t.Helper()
	var r listRow
	require.NoError(t, e.conn.QueryRow(t.Context(), `SELECT type, name, public, owner_id, creator_id, list_size, synced_at, deleted_at
		FROM `+e.table("lists")+` WHERE id = $1`, id).
		Scan(&r.Type, &r.Name, &r.Public, &r.OwnerID, &r.CreatorID, &r.ListSize, &r.SyncedAt, &r.DeletedAt))
	return r
}

func TestCommitPageListsAndEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", -7*3600))

	stats, err := e.store.CommitPage(ctx, loader.Page{
		Checkpoint: cp("lists", t0, "p2"),
		SeenAt:     t0,
		Lists: []loader.List{
			{ID: 1, Type: 8, Name: "Deals", Public: true, OwnerID: ptr[int64](7), CreatorID: ptr[int64](8), ListSize: ptr[int64](120)},
			{ID: 2, Type: 0, Name: "People"},
			{ID: 2, Type: 0, Name: "People (renamed)"}, // last wins
		},
		ListEntries: []loader.ListEntry{
			{ID: 10, ListID: 1, EntityType: 8, EntityID: 100, CreatorID: ptr[int64](7), CreatedAt: &created},
			{ID: 11, ListID: 2, EntityType: 0, EntityID: 5},
		},
	})
	require.NoError(t, err)
	require.Equal(t, loader.PageStats{Rows: 4}, stats)

	l1 := e.list(t, 1)
	require.Equal(t, listRow{Type: 8, Name: "Deals", Public: true, OwnerID: ptr[int64](7), CreatorID: ptr[int64](8),
		ListSize: ptr[int64](120), SyncedAt: l1.SyncedAt}, l1)
	require.True(t, t0.Equal(l1.SyncedAt))
	l2 := e.list(t, 2)
	require.Equal(t, "People (renamed)", l2.Name)
	require.Nil(t, l2.OwnerID)
	require.Nil(t, l2.ListSize)

	var (
		listID, entityID int64
		entityType       int
		creator          *int64
		createdAt        *time.Time
	)
	require.NoError(t, e.conn.QueryRow(ctx, `SELECT list_id, entity_type, entity_id, creator_id, created_at
		FROM `+e.table("list_entries")+` WHERE id = 10`).Scan(&listID, &entityType, &entityID, &creator, &createdAt))
	require.Equal(t, []any{int64(1), 8, int64(100), int64(7)}, []any{listID, entityType, entityID, *creator})
	require.True(t, created.Equal(*createdAt))
	require.Equal(t, int64(1), e.count(t, "list_entries", "id = 11 AND creator_id IS NULL AND created_at IS NULL"))

	// Update: nulls overwrite, a soft-deleted list comes back live.
	_, err = e.conn.Exec(ctx, `UPDATE `+e.table("lists")+` SET deleted_at = now() WHERE id = 1`)
	require.NoError(t, err)
	t1 := t0.Add(time.Hour)
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("lists", t0, ""), SeenAt: t1,
		Lists:       []loader.List{{ID: 1, Type: 8, Name: "Deals"}},
		ListEntries: []loader.ListEntry{{ID: 10, ListID: 1, EntityType: 8, EntityID: 101}}})
	require.NoError(t, err)
	l1 = e.list(t, 1)
	require.Nil(t, l1.DeletedAt)
	require.Nil(t, l1.OwnerID)
	require.False(t, l1.Public)
	require.True(t, t1.Equal(l1.SyncedAt))
	require.Equal(t, int64(1), e.count(t, "list_entries", "id = 10 AND entity_id = 101 AND creator_id IS NULL"))

	got, err := e.store.LoadCheckpoint(ctx, "lists")
	require.NoError(t, err)
	require.Equal(t, "", got.PageToken)
}

type optionRow struct {
	ID          int64
	Text        string
	Rank, Color *int
	Deleted     bool
}

func (e env) options(t *testing.T, fieldID int64) []optionRow {
	t.Helper()
	rows, err := e.conn.Query(t.Context(), `SELECT id, text, rank, color, deleted_at IS NOT NULL
		FROM `+e.table("dropdown_options")+` WHERE field_id = $1 ORDER BY id`, fieldID)
	require.NoError(t, err)
	var out []optionRow
	for rows.Next() {
		var r optionRow
		require.NoError(t, rows.Scan(&r.ID, &r.Text, &r.Rank, &r.Color, &r.Deleted))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestCommitPageFieldsAndOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	status := loader.Field{ID: 1, Name: "Status", ListID: ptr[int64](9), EntityType: ptr(loader.EntityOpportunity), ValueType: 7, TrackChanges: true,
		EnrichmentSource: ptr("none"), Options: []loader.DropdownOption{
			{ID: 1, Text: "Lead", Rank: ptr(0), Color: ptr(1)},
			{ID: 2, Text: "Diligence", Rank: ptr(1)},
			{ID: 3, Text: "Won", Rank: ptr(2), Color: ptr(2)},
		}}
	other := loader.Field{ID: 2, Name: "Industry", ValueType: 2, AllowsMultiple: true,
		Options: []loader.DropdownOption{{ID: 1, Text: "Fintech"}}} // option ids are per field
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("fields", t0, ""), SeenAt: t0,
		Fields: []loader.Field{status, other}})
	require.NoError(t, err)
	require.Equal(t, int64(6), stats.Rows, "2 fields and 4 options")

	var (
		name          string
		listID        *int64
		entityType    *int
		valueType     int
		multi, track  bool
		source        *string
		otherListID   *int64
		otherEntity   *int
		otherSource   *string
		otherMultiple bool
	)
	require.NoError(t, e.conn.QueryRow(ctx, `SELECT name, list_id, entity_type, value_type, allows_multiple, track_changes, enrichment_source
		FROM `+e.table("fields")+` WHERE id = 1`).Scan(&name, &listID, &entityType, &valueType, &multi, &track, &source))
	require.Equal(t, []any{"Status", int64(9), 8, 7, false, true, "none"}, []any{name, *listID, *entityType, valueType, multi, track, *source})
	require.NoError(t, e.conn.QueryRow(ctx, `SELECT list_id, entity_type, enrichment_source, allows_multiple
		FROM `+e.table("fields")+` WHERE id = 2`).Scan(&otherListID, &otherEntity, &otherSource, &otherMultiple))
	require.Nil(t, otherListID, "global field")
	require.Nil(t, otherEntity)
	require.Nil(t, otherSource)
	require.True(t, otherMultiple)
	require.Equal(t, []optionRow{{ID: 1, Text: "Lead", Rank: ptr(0), Color: ptr(1)}, {ID: 2, Text: "Diligence", Rank: ptr(1)},
		{ID: 3, Text: "Won", Rank: ptr(2), Color: ptr(2)}}, e.options(t, 1))

	// The set changes: Lead renamed, Diligence dropped, Lost added. Field 2's options are
	// not in this page, so they stay as they are.
	status.Options = []loader.DropdownOption{{ID: 1, Text: "New lead", Rank: ptr(0)}, {ID: 3, Text: "Won", Rank: ptr(2), Color: ptr(2)},
		{ID: 4, Text: "Lost", Rank: ptr(3)}}
	stats, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("fields", t0, ""), SeenAt: t0.Add(time.Hour), Fields: []loader.Field{status}})
	require.NoError(t, err)
	require.Equal(t, int64(5), stats.Rows, "1 field, 3 options upserted, 1 option soft-deleted")
	require.Equal(t, []optionRow{{ID: 1, Text: "New lead", Rank: ptr(0)}, {ID: 2, Text: "Diligence", Rank: ptr(1), Deleted: true},
		{ID: 3, Text: "Won", Rank: ptr(2), Color: ptr(2)}, {ID: 4, Text: "Lost", Rank: ptr(3)}}, e.options(t, 1))
	require.Equal(t, []optionRow{{ID: 1, Text: "Fintech"}}, e.options(t, 2))

	// Diligence comes back; a field with no options loses them all.
	status.Options = append(status.Options, loader.DropdownOption{ID: 2, Text: "Diligence", Rank: ptr(1)})
	other.Options = nil
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("fields", t0, ""), SeenAt: t0.Add(2 * time.Hour), Fields: []loader.Field{status, other}})
	require.NoError(t, err)
	require.Zero(t, e.count(t, "dropdown_options", "field_id = 1 AND deleted_at IS NOT NULL"))
	require.Equal(t, []optionRow{{ID: 1, Text: "Fintech", Deleted: true}}, e.options(t, 2))
}

type valueRow struct {
	FieldID, EntityID     int64
	EntityType            int
	ListEntryID           *int64
	ValueType             *int
	Value                 *string // jsonb as text
	Text, Number          *string
	Date                  *time.Time
	EntityValue, OptionID *int64
	CreatedAt, UpdatedAt  *time.Time
	Deleted               bool
}

// value reads one row of field_values or field_value_changes (which has no value_type,
// created_at, updated_at or deleted_at: those read as null/false).
func (e env) value(t *testing.T, table string, id int64) valueRow {
	t.Helper()
	extra := "value_type, created_at, updated_at, deleted_at IS NOT NULL"
	if table == "field_value_changes" {
		extra = "NULL::int, NULL::timestamptz, NULL::timestamptz, false"
	}
	var r valueRow
	require.NoError(t, e.conn.QueryRow(t.Context(), `SELECT field_id, entity_id, coalesce(entity_type, -1), list_entry_id,
		value::text, value_text, value_number::text, value_date, value_entity_id, value_option_id, `+extra+`
		FROM `+e.table(table)+` WHERE id = $1`, id).
		Scan(&r.FieldID, &r.EntityID, &r.EntityType, &r.ListEntryID, &r.Value, &r.Text, &r.Number, &r.Date,
			&r.EntityValue, &r.OptionID, &r.ValueType, &r.CreatedAt, &r.UpdatedAt, &r.Deleted))
	return r
}

func TestCommitPageFieldValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("fields", t0, ""), SeenAt: t0, Fields: []loader.Field{
		{ID: 1, Name: "Amount", ValueType: 3},
		{ID: 2, Name: "Notes", ValueType: 6},
	}})
	require.NoError(t, err)
	when := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	set := loader.EntityValues{EntityType: 1, EntityID: 50, Values: []loader.FieldValue{
		{ID: 1, FieldID: 1, EntityType: 1, EntityID: 50, Value: []byte(` 2500000 `),
			Projection: loader.Projection{Number: ptr("2500000")}, CreatedAt: &when},
		{ID: 2, FieldID: 2, EntityType: 1, EntityID: 50, ValueType: ptr(10), Value: []byte(`"a\u0000b \\u0000 \ud83d\ude00 \udc00"`),
			Projection: loader.Projection{Text: ptr("a\x00b")}},
		{ID: 3, FieldID: 99, EntityType: 1, EntityID: 50, ListEntryID: ptr[int64](7), Value: []byte(`null`)},
		{ID: 4, FieldID: 5, EntityType: 1, EntityID: 50, Value: nil}, // field 5 arrives in this page
		{ID: 5, FieldID: 2, EntityType: 1, EntityID: 50, Value: []byte(`{"street_address":null,"city":"Berlin","nested":{"x":[1,2.50,true]}}`),
			Projection: loader.Projection{Text: ptr("Berlin"), Date: &when, EntityID: ptr[int64](3), OptionID: ptr[int64](4)}, UpdatedAt: &when},
		{ID: 6, FieldID: 1, EntityType: 1, EntityID: 50, Value: []byte(`-1.250e3`), Projection: loader.Projection{Number: ptr("-1.250e3")}},
	}}
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t0, ""), SeenAt: t0,
		Fields:       []loader.Field{{ID: 5, Name: "Owner", ValueType: 0}},
		EntityValues: []loader.EntityValues{set}})
	require.NoError(t, err)
	require.Equal(t, int64(7), stats.Rows, "1 field and 6 values")
	require.Equal(t, int64(3), stats.NULsReplaced, `one \u0000 escape (\\u0000 is text), one lone surrogate, one NUL in the projection`)

	require.Equal(t, valueRow{FieldID: 1, EntityID: 50, EntityType: 1, ValueType: ptr(3), Value: ptr("2500000"), Number: ptr("2500000"),
		CreatedAt: &when}, normalize(e.value(t, "field_values", 1)), "value_type from the field")
	v2 := e.value(t, "field_values", 2)
	require.Equal(t, 10, *v2.ValueType, "the value's own value_type wins")
	require.Equal(t, "\"a\uFFFDb \\\\u0000 😀 \uFFFD\"", *v2.Value)
	require.Equal(t, "a\uFFFDb", *v2.Text)
	require.Equal(t, valueRow{FieldID: 99, EntityID: 50, EntityType: 1, ListEntryID: ptr[int64](7)}, e.value(t, "field_values", 3),
		"unknown field: value_type null; JSON null stored as SQL NULL")
	require.Equal(t, 0, *e.value(t, "field_values", 4).ValueType, "a field of the same page counts")
	require.Nil(t, e.value(t, "field_values", 4).Value)
	v5 := normalize(e.value(t, "field_values", 5))
	require.Equal(t, valueRow{FieldID: 2, EntityID: 50, EntityType: 1, ValueType: ptr(6),
		Value: ptr(`{"city": "Berlin", "nested": {"x": [1, 2.50, true]}, "street_address": null}`),
		Text:  ptr("Berlin"), Date: &when, EntityValue: ptr[int64](3), OptionID: ptr[int64](4), UpdatedAt: &when}, v5)
	require.Equal(t, int64(1), e.count(t, "field_values", `id = 5 AND value = '{"street_address":null,"city":"Berlin","nested":{"x":[1,2.5,true]}}'::jsonb`))
	require.Equal(t, int64(1), e.count(t, "field_values", `id = 6 AND value_number = -1250`))

	// A number projection that is not a number fails the page, writing nothing.
	bad := set
	bad.Values = []loader.FieldValue{{ID: 9, FieldID: 1, EntityType: 1, EntityID: 50, Projection: loader.Projection{Number: ptr("12abc")}}}
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t0, "x"), SeenAt: t0, EntityValues: []loader.EntityValues{bad}})
	require.ErrorContains(t, err, `field value 9: value_number "12abc" is not a decimal`)
	require.Zero(t, e.count(t, "field_values", "deleted_at IS NOT NULL"))
}

// normalize makes times comparable with require.Equal.
func normalize(r valueRow) valueRow {
	for _, p := range []**time.Time{&r.Date, &r.CreatedAt, &r.UpdatedAt} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	return r
}

func TestEntityValuesSetReplacement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	v := func(id, entity int64, entry *int64) loader.FieldValue {
		return loader.FieldValue{ID: id, FieldID: 1, EntityType: 0, EntityID: entity, ListEntryID: entry, Value: []byte(`"v"`),
			Projection: loader.Projection{Text: ptr("v")}}
	}
	commit := func(sets ...loader.EntityValues) loader.PageStats {
		t.Helper()
		stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_values", t0, ""), SeenAt: t0, EntityValues: sets})
		require.NoError(t, err)
		return stats
	}
	deleted := func() []int64 {
		t.Helper()
		rows, err := e.conn.Query(ctx, `SELECT id FROM `+e.table("field_values")+` WHERE deleted_at IS NOT NULL ORDER BY id`)
		require.NoError(t, err)
		var ids []int64
		for rows.Next() {
			var id int64
			require.NoError(t, rows.Scan(&id))
			ids = append(ids, id)
		}
		require.NoError(t, rows.Err())
		return ids
	}

	commit(loader.EntityValues{EntityType: 0, EntityID: 5, Values: []loader.FieldValue{v(1, 5, nil), v(2, 5, ptr[int64](10)), v(3, 5, ptr[int64](11))}},
		loader.EntityValues{EntityType: 0, EntityID: 6, Values: []loader.FieldValue{v(4, 6, nil)}})
	// Organization 5 shares the id with person 5 and must not be touched.
	_, err := e.conn.Exec(ctx, `INSERT INTO `+e.table("field_values")+` (id, field_id, entity_type, entity_id, synced_at) VALUES (100, 1, 1, 5, now())`)
	require.NoError(t, err)
	require.Empty(t, deleted())

	// Value 3 (on another list entry) vanished from person 5's set.
	stats := commit(loader.EntityValues{EntityType: 0, EntityID: 5, Values: []loader.FieldValue{v(1, 5, nil), v(2, 5, ptr[int64](10))}})
	require.Equal(t, int64(3), stats.Rows, "2 upserted, 1 soft-deleted")
	require.Equal(t, []int64{3}, deleted())
	require.Equal(t, "v", *e.value(t, "field_values", 3).Text, "a soft-deleted value keeps its content")

	// It comes back: live again.
	commit(loader.EntityValues{EntityType: 0, EntityID: 5, Values: []loader.FieldValue{v(1, 5, nil), v(2, 5, ptr[int64](10)), v(3, 5, ptr[int64](11))}})
	require.Empty(t, deleted())

	// An empty set removes every value of the entity; the same entity twice: the last set wins.
	commit(loader.EntityValues{EntityType: 0, EntityID: 6},
		loader.EntityValues{EntityType: 0, EntityID: 5, Values: []loader.FieldValue{v(1, 5, nil)}},
		loader.EntityValues{EntityType: 0, EntityID: 5, Values: []loader.FieldValue{v(2, 5, ptr[int64](10))}})
	require.Equal(t, []int64{1, 3, 4}, deleted())
}

func TestChangesInsertedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	changed := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	first := loader.FieldValueChange{ID: 1, FieldID: 3, EntityType: ptr(loader.EntityOpportunity), EntityID: 100, ListEntryID: ptr[int64](10), ActionType: 0,
		ChangerID: ptr[int64](7), ChangedAt: changed, Value: []byte(`{"id": 2, "text": "Diligence"}`),
		Projection: loader.Projection{Text: ptr("Diligence"), OptionID: ptr[int64](2)}}
	nullChange := loader.FieldValueChange{ID: 2, FieldID: 3, EntityID: 100, ActionType: 1, ChangedAt: changed, Value: []byte("null")}
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_value_changes", t0, ""), SeenAt: t0,
		Changes: []loader.FieldValueChange{first, nullChange}})
	require.NoError(t, err)
	require.Equal(t, int64(2), stats.Rows)

	again := first
	again.ChangerID, again.Value, again.Projection = nil, []byte(`{"id": 3, "text": "Won"}`), loader.Projection{Text: ptr("Won")}
	stats, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_value_changes", t0, ""), SeenAt: t0.Add(time.Hour),
		Changes: []loader.FieldValueChange{again, {ID: 3, FieldID: 3, EntityID: 101, ActionType: 2, ChangedAt: changed}}})
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.Rows, "only the new change is written")

	c1 := e.value(t, "field_value_changes", 1)
	require.Equal(t, valueRow{FieldID: 3, EntityID: 100, EntityType: 8, ListEntryID: ptr[int64](10),
		Value: ptr(`{"id": 2, "text": "Diligence"}`), Text: ptr("Diligence"), OptionID: ptr[int64](2)}, c1)
	require.Equal(t, int64(1), e.count(t, "field_value_changes",
		"id = 1 AND changer_id = 7 AND action_type = 0 AND changed_at = $1 AND synced_at = $2", changed, t0))
	require.Equal(t, int64(1), e.count(t, "field_value_changes",
		"id = 2 AND value IS NULL AND entity_type IS NULL AND changer_id IS NULL AND list_entry_id IS NULL AND action_type = 1"))
}

func TestOrganizationPersons(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	pairs := func() [][2]int64 {
		t.Helper()
		rows, err := e.conn.Query(ctx, `SELECT organization_id, person_id FROM `+e.table("organization_persons")+` ORDER BY 1, 2`)
		require.NoError(t, err)
		var out [][2]int64
		for rows.Next() {
			var p [2]int64
			require.NoError(t, rows.Scan(&p[0], &p[1]))
			out = append(out, p)
		}
		require.NoError(t, rows.Err())
		return out
	}
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("organization_details", t0, ""), SeenAt: t0,
		OrganizationPersons: []loader.OrganizationPersons{{OrganizationID: 1, PersonIDs: []int64{10, 11, 11}}, {OrganizationID: 2, PersonIDs: []int64{10}}}})
	require.NoError(t, err)
	require.Equal(t, int64(3), stats.Rows)
	require.Equal(t, [][2]int64{{1, 10}, {1, 11}, {2, 10}}, pairs())

	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("organization_details", t0, ""), SeenAt: t0,
		OrganizationPersons: []loader.OrganizationPersons{{OrganizationID: 1, PersonIDs: []int64{12}}, {OrganizationID: 3}}})
	require.NoError(t, err)
	require.Equal(t, [][2]int64{{1, 12}, {2, 10}}, pairs(), "org 1 replaced, org 2 untouched")

	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("organization_details", t0, ""), SeenAt: t0,
		OrganizationPersons: []loader.OrganizationPersons{{OrganizationID: 2, PersonIDs: nil}}})
	require.NoError(t, err)
	require.Equal(t, [][2]int64{{1, 12}}, pairs(), "an empty set clears the organization's rows")
}
