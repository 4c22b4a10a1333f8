package loader_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// asOf returns field_values_as_of(at) as sorted lines
// "field entity entry list type value|text|number|option name".
func (e env) asOf(t *testing.T, at time.Time) []string {
	t.Helper()
	rows, err := e.conn.Query(t.Context(), `SELECT format('%s %s %s %s %s %s|%s|%s|%s|%s %s',
			field_id, entity_id, coalesce(list_entry_id::text, '-'), coalesce(list_id::text, '-'),
			coalesce(value_type::text, '-'), coalesce(value::text, 'NULL'), value_text, value_number,
			value_option_id, value_entity_id, coalesce(field_name, '?'))
		FROM `+e.table("field_values_as_of")+`($1)`, at)
	require.NoError(t, err)
	out := []string{}
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	slices.Sort(out)
	return out
}

func TestFieldValuesAsOf(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `as"of; drop table x`) // a hostile schema: the function names its own tables
	ctx := t.Context()
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	num := func(v string) loader.Projection { return loader.Projection{Number: &v} }
	person := func(id int64) loader.Projection { return loader.Projection{EntityID: &id} }
	stage := func(id int64, text string) loader.Projection { return loader.Projection{OptionID: &id, Text: &text} }

	e.commit(t, loader.Page{SeenAt: t0, Fields: []loader.Field{
		{ID: 1, Name: "Amount", EntityType: ptr(loader.EntityOrganization), ValueType: 3, TrackChanges: true},
		{ID: 2, Name: "Leads", EntityType: ptr(loader.EntityOrganization), ValueType: 0, AllowsMultiple: true, TrackChanges: true},
		{ID: 3, Name: "Status", ListID: ptr[int64](500), EntityType: ptr(loader.EntityOpportunity), ValueType: 7, TrackChanges: true},
	}, ListEntries: []loader.ListEntry{{ID: 3009, ListID: 501, EntityType: 8, EntityID: 77}}})

	var id int64
	ch := func(field, entity int64, entry *int64, action int, at time.Time, value string, p loader.Projection) loader.FieldValueChange {
		id++
		var raw []byte
		if value != "" {
			raw = []byte(value)
		}
		return loader.FieldValueChange{ID: id, FieldID: field, EntityID: entity, ListEntryID: entry, ActionType: action,
			ChangedAt: at, Value: raw, Projection: p}
	}
	entry1, entry2 := ptr[int64](3001), ptr[int64](3002)
	changes := []loader.FieldValueChange{
		// Single-valued number on organization 10.
		ch(1, 10, nil, 0, day(1), "5", num("5")),
		ch(1, 10, nil, 2, day(2), "7", num("7")),
		ch(1, 10, nil, 1, day(4), "7", num("7")),
		ch(1, 10, nil, 0, day(5), "", loader.Projection{}), // a create with a null value
		// Two changes at the same instant: id order decides.
		ch(1, 11, nil, 0, day(3), "1", num("1")),
		ch(1, 11, nil, 2, day(3), "2", num("2")),
		// Multi-valued persons on organization 10.
		ch(2, 10, nil, 0, day(1), "1", person(1)),
		ch(2, 10, nil, 0, day(1), "2", person(2)),
		ch(2, 10, nil, 0, day(2), "1", person(1)), // a second, equal value
		ch(2, 10, nil, 1, day(3), "1", person(1)), // removes one of the two
		ch(2, 10, nil, 1, day(4), "3", person(3)), // removes nothing: 3 is not held
		ch(2, 10, nil, 2, day(5), "9", person(9)), // replaces the set
		ch(2, 10, nil, 0, day(6), "9", person(9)),
		ch(2, 10, nil, 1, day(7), "9", person(9)),
		ch(2, 10, nil, 1, day(7), "9", person(9)),
		ch(2, 10, nil, 1, day(7), "9", person(9)), // one delete too many: nothing left, not minus one
		ch(2, 10, nil, 0, day(8), "9", person(9)),
		// A list field on two list entries of the same opportunity.
		ch(3, 77, entry1, 0, day(1), `{"id": 1, "text": "Sourced"}`, stage(1, "Sourced")),
		ch(3, 77, entry1, 2, day(3), `{"id": 2, "text": "Diligence"}`, stage(2, "Diligence")),
		ch(3, 77, entry2, 0, day(2), `{"id": 3, "text": "Passed"}`, stage(3, "Passed")),
		// A field no longer known: single-valued, its list from the list entry.
		ch(9, 77, ptr[int64](3009), 0, day(2), `"x"`, loader.Projection{}),
		// An undocumented action code is ignored.
		ch(1, 12, nil, 7, day(1), "1", num("1")),
	}
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_value_changes", t0, ""), SeenAt: t0, Changes: changes})
	require.NoError(t, err)

	const (
		amount = " - - 3 "
		status = " 500 7 "
	)
	tests := []struct {
		at   time.Time
		want []string
	}{
		{day(1).Add(-time.Second), []string{}},
		{day(1), []string{
			"1 10" + amount + "5||5|| Amount",
			"2 10 - - 0 1||||1 Leads",
			"2 10 - - 0 2||||2 Leads",
			"3 77 3001" + status + `{"id": 1, "text": "Sourced"}|Sourced||1| Status`,
		}},
		{day(2), []string{
			"1 10" + amount + "7||7|| Amount",
			"2 10 - - 0 1||||1 Leads",
			"2 10 - - 0 1||||1 Leads",
			"2 10 - - 0 2||||2 Leads",
			"3 77 3001" + status + `{"id": 1, "text": "Sourced"}|Sourced||1| Status`,
			"3 77 3002" + status + `{"id": 3, "text": "Passed"}|Passed||3| Status`,
			`9 77 3009 501 - "x"|||| ?`,
		}},
		{day(4), []string{
			"1 11" + amount + "2||2|| Amount",
			"2 10 - - 0 1||||1 Leads",
			"2 10 - - 0 2||||2 Leads",
			"3 77 3001" + status + `{"id": 2, "text": "Diligence"}|Diligence||2| Status`,
			"3 77 3002" + status + `{"id": 3, "text": "Passed"}|Passed||3| Status`,
			`9 77 3009 501 - "x"|||| ?`,
		}},
		{day(6), []string{
			"1 10" + amount + "NULL|||| Amount",
			"1 11" + amount + "2||2|| Amount",
			"2 10 - - 0 9||||9 Leads",
			"2 10 - - 0 9||||9 Leads",
			"3 77 3001" + status + `{"id": 2, "text": "Diligence"}|Diligence||2| Status`,
			"3 77 3002" + status + `{"id": 3, "text": "Passed"}|Passed||3| Status`,
			`9 77 3009 501 - "x"|||| ?`,
		}},
		{day(7), []string{
			"1 10" + amount + "NULL|||| Amount",
			"1 11" + amount + "2||2|| Amount",
			"3 77 3001" + status + `{"id": 2, "text": "Diligence"}|Diligence||2| Status`,
			"3 77 3002" + status + `{"id": 3, "text": "Passed"}|Passed||3| Status`,
			`9 77 3009 501 - "x"|||| ?`,
		}},
		{day(8), []string{
			"1 10" + amount + "NULL|||| Amount",
			"1 11" + amount + "2||2|| Amount",
			"2 10 - - 0 9||||9 Leads",
			"3 77 3001" + status + `{"id": 2, "text": "Diligence"}|Diligence||2| Status`,
			"3 77 3002" + status + `{"id": 3, "text": "Passed"}|Passed||3| Status`,
			`9 77 3009 501 - "x"|||| ?`,
		}},
	}
	for _, tt := range tests {
		want := slices.Clone(tt.want)
		slices.Sort(want)
		require.Equal(t, want, e.asOf(t, tt.at), "as of %s", tt.at)
	}
	// The function is inlined into the calling query, so a filter on field_id reaches the
	// index of field_value_changes.
	var plan strings.Builder
	rows, err := e.conn.Query(ctx, `EXPLAIN SELECT * FROM `+e.table("field_values_as_of")+`(now()) WHERE field_id = 2`)
	require.NoError(t, err)
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	require.Contains(t, plan.String(), "Index Cond: ((field_id = 2)", plan.String())
	require.NotContains(t, plan.String(), "Function Scan on field_values_as_of", plan.String())
}

// TestFieldValuesAsOfRandomHistories checks the function against a step-by-step replay of
// random histories of a few small cells, at every instant of the history.
func TestFieldValuesAsOfRandomHistories(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 11))
	e.commit(t, loader.Page{SeenAt: t0, Fields: []loader.Field{
		{ID: 1, Name: "single", ValueType: 3, TrackChanges: true},
		{ID: 2, Name: "multi", ValueType: 3, AllowsMultiple: true, TrackChanges: true},
	}})
	type cell struct{ field, entity int64 }
	var changes []loader.FieldValueChange
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }
	id := int64(0)
	for _, c := range []cell{{1, 1}, {1, 2}, {2, 1}, {2, 2}, {2, 3}, {2, 4}} {
		for range 25 {
			id++
			v := fmt.Sprint(rng.IntN(3))
			changes = append(changes, loader.FieldValueChange{ID: id, FieldID: c.field, EntityID: c.entity,
				ActionType: rng.IntN(3), ChangedAt: at(rng.IntN(30)), Value: []byte(v), Projection: loader.Projection{Number: &v}})
		}
	}
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("field_value_changes", t0, ""), SeenAt: t0, Changes: changes})
	require.NoError(t, err)

	// replay applies the changes up to the instant one by one, in (changed_at, id) order.
	replay := func(until time.Time) []string {
		sorted := slices.Clone(changes)
		slices.SortFunc(sorted, func(a, b loader.FieldValueChange) int {
			if c := a.ChangedAt.Compare(b.ChangedAt); c != 0 {
				return c
			}
			return int(a.ID - b.ID)
		})
		state := map[cell][]string{}
		for _, c := range sorted {
			if c.ChangedAt.After(until) {
				break
			}
			k, v := cell{c.FieldID, c.EntityID}, string(c.Value)
			switch {
			case c.FieldID == 1 && c.ActionType == 1:
				state[k] = nil
			case c.FieldID == 1:
				state[k] = []string{v}
			case c.ActionType == 0:
				state[k] = append(state[k], v)
			case c.ActionType == 2:
				state[k] = []string{v}
			case c.ActionType == 1:
				if i := slices.Index(state[k], v); i >= 0 {
					state[k] = slices.Delete(state[k], i, i+1)
				}
			}
		}
		out := []string{}
		for k, vs := range state {
			for _, v := range vs {
				out = append(out, fmt.Sprintf("%d %d %s", k.field, k.entity, v))
			}
		}
		slices.Sort(out)
		return out
	}
	for i := -1; i <= 30; i++ {
		rows, err := e.conn.Query(ctx, `SELECT format('%s %s %s', field_id, entity_id, value) FROM `+
			e.table("field_values_as_of")+`($1) ORDER BY 1`, at(i))
		require.NoError(t, err)
		got := []string{}
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			got = append(got, s)
		}
		require.NoError(t, rows.Err())
		slices.Sort(got)
		require.Equal(t, replay(at(i)), got, "as of hour %d", i)
	}
}

func TestFieldValuesAsOfCommented(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	var comment *string
	require.NoError(t, e.conn.QueryRow(t.Context(), `SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p
		JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'affinity' AND p.proname = 'field_values_as_of'`).Scan(&comment))
	require.NotNil(t, comment)
	require.Contains(t, *comment, "Single-valued")
}
