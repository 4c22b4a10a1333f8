package extractor_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// TestWholeWarehouse syncs every stream and compares every table and view
// with the fake's workspace, then mutates the workspace and checks that the
// second sync leaves current values right, old ones soft-deleted and no
// history row twice.
func TestWholeWarehouse(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 11
	h := newHarness(t, cfg)
	ctx := t.Context()

	requireComplete(t, h.syncer(nil).Run(ctx, nil))
	ws := h.fake.Snapshot()
	requireInteresting(t, ws)
	h.requireWarehouseEquals(t, ws)
	h.requireListsFieldsEntriesEqual(t, ws)
	h.requireValuesEqual(t, ws)
	h.requireChangesEqual(t, ws)
	h.requireViews(t, ws)

	// Mutate: change values (tracked and untracked, multi-valued), remove list
	// entries, add an entry with values.
	var removedEntry int64
	h.fake.Mutate(func(w *affinitytest.Workspace) {
		var status, text *affinitytest.Field
		for _, f := range w.Fields {
			if f.ListID != nil && f.ValueType == affinitytest.ValueRankedDropdown && f.TrackChanges && status == nil {
				status = f
			}
			if f.ListID == nil && f.ValueType == affinitytest.ValueText && text == nil {
				text = f
			}
		}
		require.NotNil(t, status)
		require.NotNil(t, text)
		entries := w.EntriesOf(*status.ListID)
		require.Greater(t, len(entries), 3)
		for _, e := range entries[:3] {
			opt := status.DropdownOptions[len(status.DropdownOptions)-1]
			raw, err := json.Marshal(map[string]any{"id": opt.ID, "text": opt.Text, "rank": opt.Rank, "color": opt.Color})
			require.NoError(t, err)
			w.SetFieldValue(status.ID, e.EntityID, &e.ID, raw)
		}
		removedEntry = entries[3].ID
		w.DeleteListEntry(removedEntry)
		for _, e := range w.ListEntries {
			if e.EntityType == text.EntityType {
				w.SetFieldValue(text.ID, e.EntityID, nil, json.RawMessage(`"changed by the second sync test"`))
				break
			}
		}
	})
	requireComplete(t, h.syncer(nil).Run(ctx, nil))
	first := ws
	ws = h.fake.Snapshot()
	h.requireWarehouseEquals(t, ws)
	h.requireListsFieldsEntriesEqual(t, ws)
	h.requireValuesEqual(t, ws)
	h.requireChangesEqual(t, first, ws)
	h.requireViews(t, first, ws)

	var deletedEntry bool
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM affinity.list_entries WHERE id = $1`, removedEntry).Scan(&deletedEntry))
	require.True(t, deletedEntry, "a removed list entry is soft-deleted")
	var liveOfRemoved, deletedValues int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL)
		FROM affinity.field_values WHERE list_entry_id = $1`, removedEntry).Scan(&liveOfRemoved, &deletedValues))
	require.Zero(t, liveOfRemoved, "values of a removed list entry are soft-deleted")
	require.Positive(t, deletedValues)
}

// requireInteresting makes sure the workspace holds what the comparison is
// meant to cover, so that equality is not vacuous.
func requireInteresting(t *testing.T, ws *affinitytest.Workspace) {
	t.Helper()
	types := map[int]int{}
	field := map[int64]*affinitytest.Field{}
	for _, f := range ws.Fields {
		field[f.ID] = f
	}
	multi, nulls, omitted, locations := 0, 0, 0, 0
	cells := map[string]int{}
	for _, v := range ws.FieldValues {
		f := field[v.FieldID]
		types[f.ValueType]++
		if string(v.Value) == "null" {
			nulls++
		}
		if v.OmitTypes {
			omitted++
		}
		if f.ValueType == affinitytest.ValueLocation {
			locations++
		}
		cells[fmt.Sprint(v.FieldID, v.EntityID, v.ListEntryID)]++
	}
	for _, n := range cells {
		if n > 1 {
			multi++
		}
	}
	for _, vt := range []int{0, 1, 2, 3, 4, 5, 6, 7, 10} {
		require.Positive(t, types[vt], "value type %d present", vt)
	}
	require.Positive(t, multi, "multi-valued cells present")
	require.Positive(t, nulls, "null values present")
	require.Positive(t, omitted, "values without value_type present")
	require.Positive(t, len(ws.Changes), "change history present")
}

func (h *harness) requireListsFieldsEntriesEqual(t *testing.T, ws *affinitytest.Workspace) {
	t.Helper()
	ctx := t.Context()
	type listRow struct {
		ID                   int64
		Type                 int16
		Name                 string
		Public               bool
		Owner, Creator, Size *int64
	}
	rows, err := h.pool.Query(ctx, `SELECT id, type, name, public, owner_id, creator_id, list_size FROM affinity.lists WHERE deleted_at IS NULL ORDER BY id`)
	require.NoError(t, err)
	gotLists, err := pgx.CollectRows(rows, pgx.RowToStructByPos[listRow])
	require.NoError(t, err)
	var wantLists []listRow
	for _, l := range ws.Lists {
		size := int64(ws.ListSize(l.ID))
		wantLists = append(wantLists, listRow{l.ID, int16(l.Type), l.Name, l.Public, ptr(l.OwnerID), ptr(l.CreatorID), &size})
	}
	require.Equal(t, wantLists, gotLists)

	type entryRow struct {
		ID, ListID int64
		EntityType int16
		EntityID   int64
		Creator    *int64
		CreatedAt  time.Time
	}
	rows, err = h.pool.Query(ctx, `SELECT id, list_id, entity_type, entity_id, creator_id, created_at FROM affinity.list_entries WHERE deleted_at IS NULL ORDER BY id`)
	require.NoError(t, err)
	gotEntries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[entryRow])
	require.NoError(t, err)
	var wantEntries []entryRow
	for _, e := range ws.ListEntries {
		wantEntries = append(wantEntries, entryRow{e.ID, e.ListID, int16(e.EntityType), e.EntityID, e.CreatorID, e.CreatedAt.UTC()})
	}
	for i := range gotEntries {
		gotEntries[i].CreatedAt = gotEntries[i].CreatedAt.UTC()
	}
	require.Equal(t, wantEntries, gotEntries)

	type fieldRow struct {
		ID              int64
		Name            string
		ListID          *int64
		EntityType      *int16
		ValueType       int16
		Multiple, Track bool
		Enrichment      *string
		Options         string
	}
	rows, err = h.pool.Query(ctx, `SELECT f.id, f.name, f.list_id, f.entity_type, f.value_type, f.allows_multiple, f.track_changes, f.enrichment_source,
		coalesce((SELECT string_agg(o.id || '/' || o.text || '/' || o.rank || '/' || o.color, '|' ORDER BY o.id)
		          FROM affinity.dropdown_options o WHERE o.field_id = f.id AND o.deleted_at IS NULL), '')
		FROM affinity.fields f WHERE f.deleted_at IS NULL ORDER BY f.id`)
	require.NoError(t, err)
	gotFields, err := pgx.CollectRows(rows, pgx.RowToStructByPos[fieldRow])
	require.NoError(t, err)
	var wantFields []fieldRow
	for _, f := range ws.Fields {
		opts := slices.Clone(f.DropdownOptions)
		sort.Slice(opts, func(i, j int) bool { return opts[i].ID < opts[j].ID })
		var parts []string
		for _, o := range opts {
			parts = append(parts, fmt.Sprintf("%d/%s/%d/%d", o.ID, o.Text, o.Rank, o.Color))
		}
		et := int16(f.EntityType)
		wantFields = append(wantFields, fieldRow{f.ID, f.Name, f.ListID, &et, int16(f.ValueType), f.AllowsMultiple, f.TrackChanges,
			ptr(f.EnrichmentSource), strings.Join(parts, "|")})
	}
	require.Equal(t, wantFields, gotFields)

	// organization_persons: the single-organization GET's person_ids.
	rows, err = h.pool.Query(ctx, `SELECT organization_id, array_agg(person_id ORDER BY person_id) FROM affinity.organization_persons GROUP BY 1 ORDER BY 1`)
	require.NoError(t, err)
	type orgPersons struct {
		Org     int64
		Persons []int64
	}
	gotOP, err := pgx.CollectRows(rows, pgx.RowToStructByPos[orgPersons])
	require.NoError(t, err)
	var wantOP []orgPersons
	for _, o := range ws.Organizations {
		if ids := sortedIDs(o.PersonIDs); len(ids) > 0 {
			wantOP = append(wantOP, orgPersons{o.ID, ids})
		}
	}
	require.Equal(t, wantOP, gotOP)
}

// valueRow is a field value or change as the warehouse holds it.
type valueRow struct {
	ID, FieldID  int64
	EntityType   *int16
	EntityID     int64
	ListEntryID  *int64
	ValueType    *int16
	Value        string // canonical JSON, "" for SQL NULL
	Text, Number *string
	Date         *time.Time
	Entity, Opt  *int64
	Created      *time.Time
	Updated      *time.Time
	Action       int16
	Changer      *int64
}

func (h *harness) requireValuesEqual(t *testing.T, ws *affinitytest.Workspace) {
	t.Helper()
	field := fieldsByID(ws)
	listed := map[[2]int64]bool{}
	for _, e := range ws.ListEntries {
		listed[[2]int64{int64(e.EntityType), e.EntityID}] = true
	}
	var want []valueRow
	for _, v := range ws.FieldValues {
		if !listed[[2]int64{int64(v.EntityType), v.EntityID}] {
			continue // entities on no list are not fetched by default
		}
		f := field[v.FieldID]
		r := expectedValue(t, v.Value, f.ValueType)
		r.ID, r.FieldID, r.EntityID, r.ListEntryID = v.ID, v.FieldID, v.EntityID, v.ListEntryID
		et, vt := int16(v.EntityType), int16(f.ValueType)
		r.EntityType, r.ValueType = &et, &vt
		created := v.CreatedAt.UTC()
		r.Created = &created
		r.Updated = utcPtr(v.UpdatedAt)
		want = append(want, r)
	}
	got := h.queryValues(t, `SELECT id, field_id, entity_type, entity_id, list_entry_id, value_type, value::text,
		value_text, value_number::text, value_date, value_entity_id, value_option_id, created_at, updated_at, 0::smallint, NULL::bigint
		FROM affinity.field_values WHERE deleted_at IS NULL ORDER BY id`)
	require.Equal(t, ids(want), ids(got), "field value ids")
	for i := range want {
		require.Equal(t, want[i], got[i], "field value %d", want[i].ID)
	}
}

// requireChangesEqual compares field_value_changes with every change the
// workspaces ever showed: history is append-only, so a change that Affinity
// no longer returns (its list entry was removed) stays in the warehouse.
func (h *harness) requireChangesEqual(t *testing.T, seen ...*affinitytest.Workspace) {
	t.Helper()
	h.requireChanges(t, false, seen...)
}

// requireFeedChangesEqual is requireChangesEqual for changes that may have been read from the
// v2 change feed: a date's value string may keep either API's form (its value_date must agree).
func (h *harness) requireFeedChangesEqual(t *testing.T, seen ...*affinitytest.Workspace) {
	t.Helper()
	h.requireChanges(t, true, seen...)
}

func (h *harness) requireChanges(t *testing.T, anyDateForm bool, seen ...*affinitytest.Workspace) {
	t.Helper()
	ws := seen[len(seen)-1]
	field := fieldsByID(ws)
	all := map[int64]*affinitytest.FieldValueChange{}
	for _, w := range seen {
		for _, c := range w.Changes {
			all[c.ID] = c
		}
	}
	changes := slices.Collect(maps.Values(all))
	sort.Slice(changes, func(i, j int) bool { return changes[i].ID < changes[j].ID })
	var want []valueRow
	for _, c := range changes {
		f := field[c.FieldID]
		r := expectedValue(t, c.Value, f.ValueType)
		et := int16(f.EntityType)
		r.ID, r.FieldID, r.EntityType, r.EntityID, r.ListEntryID = c.ID, c.FieldID, &et, c.EntityID, c.ListEntryID
		r.Action, r.Changer = int16(c.ActionType), c.ChangerID
		changed := c.ChangedAt.UTC()
		r.Created = &changed
		want = append(want, r)
	}
	got := h.queryValues(t, `SELECT id, field_id, entity_type, entity_id, list_entry_id, NULL::smallint, value::text,
		value_text, value_number::text, value_date, value_entity_id, value_option_id, changed_at, NULL::timestamptz, action_type, changer_id
		FROM affinity.field_value_changes ORDER BY id`)
	require.Equal(t, ids(want), ids(got), "each change is stored exactly once")
	for i := range want {
		if anyDateForm && want[i].Date != nil {
			got[i].Value = want[i].Value
		}
		require.Equal(t, want[i], got[i], "change %d", want[i].ID)
	}
}

func ids(rows []valueRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func (h *harness) queryValues(t *testing.T, sql string) []valueRow {
	t.Helper()
	rows, err := h.pool.Query(t.Context(), sql)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (valueRow, error) {
		var v valueRow
		var raw *string
		err := r.Scan(&v.ID, &v.FieldID, &v.EntityType, &v.EntityID, &v.ListEntryID, &v.ValueType, &raw,
			&v.Text, &v.Number, &v.Date, &v.Entity, &v.Opt, &v.Created, &v.Updated, &v.Action, &v.Changer)
		if raw != nil {
			v.Value = canonicalJSON(t, []byte(*raw))
		}
		v.Date, v.Created, v.Updated = utcPtr(v.Date), utcPtr(v.Created), utcPtr(v.Updated)
		return v, err
	})
	require.NoError(t, err)
	return got
}

// expectedValue computes the typed projections (docs/warehouse.md) from
// the raw value — an oracle written apart from the client's own code.
func expectedValue(t *testing.T, raw json.RawMessage, valueType int) valueRow {
	t.Helper()
	var r valueRow
	if len(raw) == 0 || string(raw) == "null" {
		return r
	}
	r.Value = canonicalJSON(t, raw)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	switch valueType {
	case 0, 1:
		n, err := v.(json.Number).Int64()
		require.NoError(t, err)
		r.Entity = &n
	case 2, 6, 10:
		s := v.(string)
		r.Text = &s
	case 3:
		s := v.(json.Number).String()
		r.Number = &s
	case 4:
		d, err := time.Parse(time.RFC3339Nano, v.(string))
		require.NoError(t, err)
		d = d.UTC()
		r.Date = &d
	case 5:
		m := v.(map[string]any)
		var parts []string
		for _, k := range []string{"street_address", "city", "state", "country", "continent"} {
			if s, ok := m[k].(string); ok && s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) > 0 {
			s := strings.Join(parts, ", ")
			r.Text = &s
		}
	case 7:
		m := v.(map[string]any)
		s := m["text"].(string)
		id, err := m["id"].(json.Number).Int64()
		require.NoError(t, err)
		r.Text, r.Opt = &s, &id
	}
	return r
}

func canonicalJSON(t *testing.T, raw []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return string(out)
}

func fieldsByID(ws *affinitytest.Workspace) map[int64]*affinitytest.Field {
	m := map[int64]*affinitytest.Field{}
	for _, f := range ws.Fields {
		m[f.ID] = f
	}
	return m
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// requireViews checks the three views against what the data implies.
func (h *harness) requireViews(t *testing.T, seen ...*affinitytest.Workspace) {
	t.Helper()
	ctx := t.Context()
	ws := seen[len(seen)-1]
	field := fieldsByID(ws)
	all := map[int64]*affinitytest.FieldValueChange{}
	for _, w := range seen {
		for _, c := range w.Changes {
			all[c.ID] = c
		}
	}
	history := slices.Collect(maps.Values(all))
	sort.Slice(history, func(i, j int) bool { return history[i].ID < history[j].ID })

	// field_history: one row per change, action spelled out, value_text as the contract says.
	type histRow struct {
		ID     int64
		Action string
		Text   *string
	}
	rows, err := h.pool.Query(ctx, `SELECT change_id, action, value_text FROM affinity.field_history ORDER BY change_id`)
	require.NoError(t, err)
	gotHist, err := pgx.CollectRows(rows, pgx.RowToStructByPos[histRow])
	require.NoError(t, err)
	var wantHist []histRow
	for _, c := range history {
		f := field[c.FieldID]
		r := expectedValue(t, c.Value, f.ValueType)
		text := r.Text
		switch f.ValueType {
		case 2, 5, 6, 7, 10:
		default:
			text = jsonAsText(t, c.Value)
		}
		wantHist = append(wantHist, histRow{c.ID, []string{"create", "delete", "update"}[c.ActionType], text})
	}
	require.Equal(t, wantHist, gotHist)

	// list_entry_values: the entry's own values and its entity's global values.
	type lev struct {
		Entry, Field int64
		Value        string
	}
	var wantLEV []lev
	for _, e := range ws.ListEntries {
		for _, v := range ws.FieldValues {
			own := v.ListEntryID != nil && *v.ListEntryID == e.ID
			global := v.ListEntryID == nil && v.EntityType == e.EntityType && v.EntityID == e.EntityID
			if own || global {
				val := ""
				if string(v.Value) != "null" {
					val = canonicalJSON(t, v.Value)
				}
				wantLEV = append(wantLEV, lev{e.ID, v.FieldID, val})
			}
		}
	}
	rows, err = h.pool.Query(ctx, `SELECT list_entry_id, field_id, coalesce(value::text, '') FROM affinity.list_entry_values`)
	require.NoError(t, err)
	gotLEV, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (lev, error) {
		var l lev
		err := r.Scan(&l.Entry, &l.Field, &l.Value)
		if l.Value != "" {
			l.Value = canonicalJSON(t, []byte(l.Value))
		}
		return l, err
	})
	require.NoError(t, err)
	sortLEV := func(s []lev) {
		sort.Slice(s, func(i, j int) bool {
			if s[i].Entry != s[j].Entry {
				return s[i].Entry < s[j].Entry
			}
			if s[i].Field != s[j].Field {
				return s[i].Field < s[j].Field
			}
			return s[i].Value < s[j].Value
		})
	}
	sortLEV(wantLEV)
	sortLEV(gotLEV)
	require.Equal(t, wantLEV, gotLEV)

	h.requireStageDurations(t, ws, history)
}

func jsonAsText(t *testing.T, raw json.RawMessage) *string {
	if string(raw) == "null" || len(raw) == 0 {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return &s
	}
	c := string(raw)
	return &c
}

// stage is one stretch of time a list entry spent in one option of a status field.
type stage struct {
	Entry, Field, Option int64
	Entered              time.Time
	Left                 *time.Time
}

// requireStageDurations replays each tracked ranked-dropdown list field's
// history by hand, following the rules of docs/warehouse.md, and compares
// with the stage_durations view.
func (h *harness) requireStageDurations(t *testing.T, ws *affinitytest.Workspace, history []*affinitytest.FieldValueChange) {
	t.Helper()
	field := fieldsByID(ws)
	live := map[int64]bool{}
	for _, e := range ws.ListEntries {
		live[e.ID] = true
	}
	changes := slices.Clone(history)
	sort.SliceStable(changes, func(i, j int) bool {
		if !changes[i].ChangedAt.Equal(changes[j].ChangedAt) {
			return changes[i].ChangedAt.Before(changes[j].ChangedAt)
		}
		return changes[i].ID < changes[j].ID
	})
	type cell struct{ field, entry int64 }
	open := map[cell]int{} // index into want
	current := map[cell]*int64{}
	var want []stage
	for _, c := range changes {
		f := field[c.FieldID]
		if f.ValueType != affinitytest.ValueRankedDropdown || !f.TrackChanges || f.ListID == nil || c.ListEntryID == nil || !live[*c.ListEntryID] {
			continue
		}
		k := cell{c.FieldID, *c.ListEntryID}
		var option *int64
		if c.ActionType != affinitytest.ActionDelete && string(c.Value) != "null" {
			var v struct{ ID int64 }
			require.NoError(t, json.Unmarshal(c.Value, &v))
			option = &v.ID
		}
		same := option != nil && current[k] != nil && *current[k] == *option
		if c.ActionType == affinitytest.ActionUpdate && same {
			continue // an update to the option already current changes nothing
		}
		if c.ActionType != affinitytest.ActionCreate && option == nil && current[k] == nil {
			continue // nothing open, nothing to open
		}
		at := c.ChangedAt.UTC()
		if i, ok := open[k]; ok {
			want[i].Left = &at
			delete(open, k)
		}
		current[k] = option
		if option != nil {
			want = append(want, stage{Entry: k.entry, Field: k.field, Option: *option, Entered: at})
			open[k] = len(want) - 1
		}
	}
	wantRows := want

	before := time.Now()
	rows, err := h.pool.Query(t.Context(), `SELECT list_entry_id, field_id, option_id, entered_at, left_at,
		left_at IS NULL OR duration = left_at - entered_at, entered_at + duration
		FROM affinity.stage_durations ORDER BY list_entry_id, field_id, entered_at`)
	require.NoError(t, err)
	var got []stage
	for rows.Next() {
		var s stage
		var durationOK bool
		var end time.Time
		require.NoError(t, rows.Scan(&s.Entry, &s.Field, &s.Option, &s.Entered, &s.Left, &durationOK, &end))
		require.True(t, durationOK, "duration of a closed stage is left_at - entered_at")
		if s.Left == nil {
			require.False(t, end.Before(before.Add(-time.Minute)), "an open stage lasts until now")
		}
		s.Entered = s.Entered.UTC()
		s.Left = utcPtr(s.Left)
		got = append(got, s)
	}
	require.NoError(t, rows.Err())
	sort.SliceStable(wantRows, func(i, j int) bool {
		a, b := wantRows[i], wantRows[j]
		if a.Entry != b.Entry {
			return a.Entry < b.Entry
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Entered.Before(b.Entered)
	})
	for i := range wantRows {
		wantRows[i].Entered = wantRows[i].Entered.Truncate(time.Microsecond)
		wantRows[i].Left = utcPtr(wantRows[i].Left)
	}
	require.NotEmpty(t, wantRows, "the workspace has stages to compare")
	require.Equal(t, wantRows, got)
}
