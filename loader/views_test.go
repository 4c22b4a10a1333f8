package loader_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

func TestFieldHistoryView(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	e.commit(t, loader.Page{SeenAt: t0, Fields: []loader.Field{
		{ID: 1, Name: "Amount", ValueType: 3, TrackChanges: true},
		{ID: 2, Name: "HQ", ValueType: 5, TrackChanges: true},
		{ID: 3, Name: "Status", ListID: ptr[int64](9), ValueType: 7, TrackChanges: true},
		{ID: 5, Name: "Closed on", ValueType: 4, TrackChanges: true},
	}})
	e.commit(t, loader.Page{SeenAt: t0, Changes: []loader.FieldValueChange{
		{ID: 1, FieldID: 1, EntityType: ptr(loader.EntityOrganization), EntityID: 50, ActionType: 0, ChangerID: ptr[int64](7), ChangedAt: at(1),
			Value: []byte(`2500000`), Projection: loader.Projection{Number: ptr("2500000")}},
		{ID: 2, FieldID: 2, EntityType: ptr(loader.EntityOrganization), EntityID: 50, ActionType: 2, ChangedAt: at(2),
			Value:      []byte(`{"street_address": null, "city": "Berlin", "state": "", "country": "Germany", "continent": null}`),
			Projection: loader.Projection{Text: ptr("Berlin, Germany")}},
		{ID: 3, FieldID: 1, EntityType: ptr(loader.EntityOrganization), EntityID: 50, ActionType: 1, ChangedAt: at(3), Value: []byte(`null`)},
		{ID: 4, FieldID: 99, EntityID: 50, ActionType: 2, ChangedAt: at(4), Value: []byte(`"hello"`)},
		{ID: 5, FieldID: 5, EntityType: ptr(loader.EntityOrganization), EntityID: 50, ActionType: 0, ChangedAt: at(5), Value: []byte(`"2025-01-01T00:00:00Z"`),
			Projection: loader.Projection{Date: ptr(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))}},
		{ID: 6, FieldID: 3, EntityType: ptr(loader.EntityOpportunity), EntityID: 60, ListEntryID: ptr[int64](70), ActionType: 2, ChangedAt: at(6),
			Value:      []byte(`{"id": 3, "text": "Won", "rank": 2, "color": 1}`),
			Projection: loader.Projection{Text: ptr("Won"), OptionID: ptr[int64](3)}},
		{ID: 7, FieldID: 1, EntityType: ptr(loader.EntityOrganization), EntityID: 50, ActionType: 9, ChangedAt: at(7), Value: []byte(`-0.5`)},
	}})

	type row struct {
		ID          int64
		FieldName   *string
		ListID      *int64
		EntityType  *int
		ListEntryID *int64
		Action      *string
		ChangerID   *int64
		ValueText   *string
		HasValue    bool
	}
	rows, err := e.conn.Query(ctx, `SELECT change_id, field_name, list_id, entity_type, list_entry_id, action, changer_id,
			value_text, value IS NOT NULL
		FROM `+e.table("field_history")+` ORDER BY changed_at, change_id`)
	require.NoError(t, err)
	var got []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.ID, &r.FieldName, &r.ListID, &r.EntityType, &r.ListEntryID, &r.Action, &r.ChangerID, &r.ValueText, &r.HasValue))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []row{
		{ID: 1, FieldName: ptr("Amount"), EntityType: ptr(1), Action: ptr("create"), ChangerID: ptr[int64](7), ValueText: ptr("2500000"), HasValue: true},
		{ID: 2, FieldName: ptr("HQ"), EntityType: ptr(1), Action: ptr("update"), ValueText: ptr("Berlin, Germany"), HasValue: true},
		{ID: 3, FieldName: ptr("Amount"), EntityType: ptr(1), Action: ptr("delete")},
		{ID: 4, Action: ptr("update"), ValueText: ptr("hello"), HasValue: true},
		{ID: 5, FieldName: ptr("Closed on"), EntityType: ptr(1), Action: ptr("create"), ValueText: ptr("2025-01-01T00:00:00Z"), HasValue: true},
		{ID: 6, FieldName: ptr("Status"), ListID: ptr[int64](9), EntityType: ptr(8), ListEntryID: ptr[int64](70), Action: ptr("update"),
			ValueText: ptr("Won"), HasValue: true},
		{ID: 7, FieldName: ptr("Amount"), EntityType: ptr(1), ValueText: ptr("-0.5"), HasValue: true},
	}, got)
}

func TestListEntryValuesView(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	when := time.Date(2025, 2, 3, 0, 0, 0, 0, time.UTC)
	e.commit(t, loader.Page{SeenAt: t0,
		Fields: []loader.Field{{ID: 1, Name: "Stage", ListID: ptr[int64](1), ValueType: 7}, {ID: 2, Name: "Title", ValueType: 2}},
		ListEntries: []loader.ListEntry{
			{ID: 10, ListID: 1, EntityType: 0, EntityID: 5}, {ID: 11, ListID: 1, EntityType: 0, EntityID: 6},
			{ID: 12, ListID: 1, EntityType: 0, EntityID: 7}, {ID: 13, ListID: 2, EntityType: 0, EntityID: 5},
		},
		EntityValues: []loader.EntityValues{
			{EntityType: 0, EntityID: 5, Values: []loader.FieldValue{
				{ID: 1, FieldID: 1, EntityType: 0, EntityID: 5, ListEntryID: ptr[int64](10), Value: []byte(`{"id": 4, "text": "Won"}`),
					Projection: loader.Projection{Text: ptr("Won"), OptionID: ptr[int64](4)}},
				{ID: 2, FieldID: 2, EntityType: 0, EntityID: 5, Value: []byte(`"CEO"`), Projection: loader.Projection{Text: ptr("CEO")},
					UpdatedAt: &when},
				{ID: 3, FieldID: 2, EntityType: 0, EntityID: 5, Value: []byte(`"old"`), Projection: loader.Projection{Text: ptr("old")}},
				{ID: 8, FieldID: 3, EntityType: 0, EntityID: 5, ListEntryID: ptr[int64](13), Value: []byte(`12`),
					Projection: loader.Projection{Number: ptr("12")}},
			}},
			{EntityType: 0, EntityID: 6, Values: []loader.FieldValue{
				{ID: 6, FieldID: 1, EntityType: 0, EntityID: 6, ListEntryID: ptr[int64](11), Value: []byte(`{"id": 5, "text": "Lost"}`),
					Projection: loader.Projection{Text: ptr("Lost"), OptionID: ptr[int64](5)}},
			}},
			{EntityType: 0, EntityID: 7, Values: []loader.FieldValue{
				{ID: 4, FieldID: 1, EntityType: 0, EntityID: 7, ListEntryID: ptr[int64](12), Value: []byte(`{"id": 4}`)},
				{ID: 5, FieldID: 2, EntityType: 0, EntityID: 7, Value: []byte(`"CTO"`)},
			}},
			{EntityType: 1, EntityID: 5, Values: []loader.FieldValue{ // an organization with person 5's id
				{ID: 7, FieldID: 2, EntityType: 1, EntityID: 5, Value: []byte(`"org"`)},
			}},
		},
	})
	for _, stmt := range []string{
		`UPDATE ` + e.table("field_values") + ` SET deleted_at = now() WHERE id = 3`,
		`UPDATE ` + e.table("list_entries") + ` SET deleted_at = now() WHERE id = 12`,
	} {
		_, err := e.conn.Exec(ctx, stmt)
		require.NoError(t, err)
	}

	rows, err := e.conn.Query(ctx, `SELECT list_entry_id, field_value_id FROM `+e.table("list_entry_values")+` ORDER BY 1, 2`)
	require.NoError(t, err)
	var got [][2]int64
	for rows.Next() {
		var r [2]int64
		require.NoError(t, rows.Scan(&r[0], &r[1]))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, [][2]int64{{10, 1}, {10, 2}, {11, 6}, {13, 2}, {13, 8}}, got,
		"own list values and the entity's global values; not deleted values, deleted entries, other entries' values or other entity types")

	var (
		listID, entityID, fieldID, optionID int64
		entityType, valueType               int
		fieldName, text, value              string
		number                              *string
		date                                *time.Time
		entityValue                         *int64
	)
	require.NoError(t, e.conn.QueryRow(ctx, `SELECT list_id, entity_type, entity_id, field_id, field_name, value_type, value_text,
			value_number::text, value_date, value_entity_id, value_option_id, value::text
		FROM `+e.table("list_entry_values")+` WHERE list_entry_id = 10 AND field_value_id = 1`).
		Scan(&listID, &entityType, &entityID, &fieldID, &fieldName, &valueType, &text, &number, &date, &entityValue, &optionID, &value))
	require.Equal(t, []any{int64(1), 0, int64(5), int64(1), "Stage", 7, "Won", int64(4), `{"id": 4, "text": "Won"}`},
		[]any{listID, entityType, entityID, fieldID, fieldName, valueType, text, optionID, value})
	require.Nil(t, number)
	require.Nil(t, date)
	require.Nil(t, entityValue)
	require.Equal(t, int64(1), e.count(t, "list_entry_values", "list_entry_id = 13 AND field_value_id = 8 AND value_number = 12 AND field_name IS NULL AND value_type IS NULL"))
}

func TestStageDurationsView(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }
	opts := []loader.DropdownOption{{ID: 1, Text: "A"}, {ID: 2, Text: "B"}, {ID: 3, Text: "C"}}
	e.commit(t, loader.Page{SeenAt: t0,
		Fields: []loader.Field{
			{ID: 1, Name: "Status", ListID: ptr[int64](9), ValueType: 7, TrackChanges: true, Options: opts},
			{ID: 2, Name: "Untracked", ListID: ptr[int64](9), ValueType: 7, Options: opts},
			{ID: 3, Name: "Global", ValueType: 7, TrackChanges: true, Options: opts},
		},
		ListEntries: []loader.ListEntry{{ID: 10, ListID: 9, EntityType: 8, EntityID: 100}, {ID: 11, ListID: 9, EntityType: 8, EntityID: 101},
			{ID: 12, ListID: 9, EntityType: 8, EntityID: 102}},
	})
	_, err := e.conn.Exec(ctx, `UPDATE `+e.table("list_entries")+` SET deleted_at = now() WHERE id = 12`)
	require.NoError(t, err)
	option := func(id int64, text string) ([]byte, loader.Projection) {
		return []byte(fmt.Sprintf(`{"id": %d, "text": %q, "rank": %d, "color": 0}`, id, text, id-1)),
			loader.Projection{Text: ptr(text), OptionID: ptr(id)}
	}
	change := func(id int64, field int64, entry int64, action int, hour int, optionID int64, text string) loader.FieldValueChange {
		c := loader.FieldValueChange{ID: id, FieldID: field, EntityType: ptr(loader.EntityOpportunity), EntityID: 100 + entry - 10, ListEntryID: ptr(entry),
			ActionType: action, ChangedAt: at(hour)}
		if optionID != 0 {
			c.Value, c.Projection = option(optionID, text)
		}
		return c
	}
	e.commit(t, loader.Page{SeenAt: t0, Changes: []loader.FieldValueChange{
		// Entry 10: create A, update A→A (nothing), update B, delete, create C, update to a null
		// value, update to D (an option no longer in dropdown_options: text from the value).
		change(1, 1, 10, 0, 1, 1, "A"),
		change(2, 1, 10, 2, 2, 1, "A"),
		change(3, 1, 10, 2, 3, 2, "B"),
		change(4, 1, 10, 1, 4, 2, "B"), // a delete carries the old value
		change(5, 1, 10, 0, 5, 3, "C"),
		change(6, 1, 10, 2, 6, 0, ""),
		change(7, 1, 10, 2, 8, 4, "D"),
		// Entry 11: two changes at the same time, ordered by id: update to B, then create A.
		change(21, 1, 11, 0, 1, 1, "A"),
		change(20, 1, 11, 2, 1, 2, "B"),
		// Entry 11 again, a create of the current option: a new stage all the same.
		change(22, 1, 11, 0, 3, 1, "A"),
		// Not covered: a deleted entry, an untracked field, a global field.
		change(30, 1, 12, 0, 1, 1, "A"),
		change(31, 2, 10, 0, 1, 1, "A"),
		change(32, 3, 10, 0, 1, 1, "A"),
	}})

	type stage struct {
		Entry, List, Entity, Field, Option int64
		Stage                              string
		Entered                            time.Time
		Left                               *time.Time
	}
	closed := func(entry, option int64, text string, from, to int) stage {
		left := at(to)
		return stage{Entry: entry, List: 9, Entity: 100 + entry - 10, Field: 1, Option: option, Stage: text, Entered: at(from), Left: &left}
	}
	current := func(entry, option int64, text string, from int) stage {
		return stage{Entry: entry, List: 9, Entity: 100 + entry - 10, Field: 1, Option: option, Stage: text, Entered: at(from)}
	}
	want := []stage{
		closed(10, 1, "A", 1, 3),
		closed(10, 2, "B", 3, 4),
		closed(10, 3, "C", 5, 6),
		current(10, 4, "D", 8),
		closed(11, 2, "B", 1, 1),
		closed(11, 1, "A", 1, 3),
		current(11, 1, "A", 3),
	}

	rows, err := e.conn.Query(ctx, `SELECT list_entry_id, list_id, entity_id, field_id, option_id, stage, entered_at, left_at,
			duration = coalesce(left_at, now()) - entered_at
		FROM `+e.table("stage_durations")+` ORDER BY list_entry_id, entered_at, left_at NULLS LAST`)
	require.NoError(t, err)
	var got []stage
	for rows.Next() {
		var s stage
		var durationOK bool
		require.NoError(t, rows.Scan(&s.Entry, &s.List, &s.Entity, &s.Field, &s.Option, &s.Stage, &s.Entered, &s.Left, &durationOK))
		require.True(t, durationOK, "duration of %+v", s)
		s.Entered = s.Entered.UTC()
		if s.Left != nil {
			u := s.Left.UTC()
			s.Left = &u
		}
		got = append(got, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, want, got)

	var hours float64
	require.NoError(t, e.conn.QueryRow(ctx, `SELECT extract(epoch FROM duration) / 3600 FROM `+e.table("stage_durations")+`
		WHERE list_entry_id = 10 AND option_id = 1`).Scan(&hours))
	require.Equal(t, float64(2), hours, "A lasted from hour 1 to hour 3")
}
