package loader

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// List is one row of lists.
type List struct {
	ID                           int64
	Type                         int
	Name                         string
	Public                       bool
	OwnerID, CreatorID, ListSize *int64
}

// ListEntry is one row of list_entries.
type ListEntry struct {
	ID, ListID int64
	EntityType int
	EntityID   int64
	CreatorID  *int64
	CreatedAt  *time.Time
}

// DropdownOption is one option of a field (a row of dropdown_options).
type DropdownOption struct {
	ID          int64
	Text        string
	Rank, Color *int
}

// Field is one row of fields with its complete set of dropdown options.
type Field struct {
	ID                           int64
	Name                         string
	ListID                       *int64 // nil = global field
	EntityType                   *int
	ValueType                    int
	AllowsMultiple, TrackChanges bool
	EnrichmentSource             *string
	Options                      []DropdownOption
}

// Projection is the typed projections of a value, computed by the caller from the value type.
type Projection struct {
	Text     *string
	Number   *string // an exact decimal ("2500000", "-1.25", "1e3"), stored as numeric
	Date     *time.Time
	EntityID *int64
	OptionID *int64
}

// FieldValue is one row of field_values.
type FieldValue struct {
	ID, FieldID int64
	EntityType  int
	EntityID    int64
	ListEntryID *int64
	ValueType   *int   // nil = take the field's value_type when the field is known
	Value       []byte // the raw JSON value; nil or JSON null is stored as SQL NULL
	Projection
	CreatedAt, UpdatedAt *time.Time
}

// EntityValues is the complete current set of one entity's field values.
type EntityValues struct {
	EntityType int
	EntityID   int64
	Values     []FieldValue
}

// FieldValueChange is one row of field_value_changes.
type FieldValueChange struct {
	ID, FieldID int64
	EntityType  *int // from the field
	EntityID    int64
	ListEntryID *int64
	ActionType  int
	ChangerID   *int64
	ChangedAt   time.Time
	Value       []byte // the raw JSON value; nil or JSON null is stored as SQL NULL
	Projection
}

// OrganizationPersons is the complete set of an organization's persons.
type OrganizationPersons struct {
	OrganizationID int64
	PersonIDs      []int64
}

// warehouseRows are the rows of a page's lists, entries, fields and values, cleaned and
// ready for COPY.
type warehouseRows struct {
	lists, entries, fields, options, changes [][]any
	values                                   [][]any // valueStageCols
	scoped                                   scopedRows
	optionFieldIDs                           []int64 // every field whose options are replaced
	optionKeys                               [2][]int64
	valueEntities                            entitySets
	orgPersons                               association
}

// entitySets are the entities whose values are replaced and the ids of their current values.
type entitySets struct {
	types    []int16
	ids      []int64
	valueIDs []int64
}

var (
	listCols   = []string{"id", "type", "name", "public", "owner_id", "creator_id", "list_size", "synced_at"}
	entryCols  = []string{"id", "list_id", "entity_type", "entity_id", "creator_id", "created_at", "synced_at"}
	fieldCols  = []string{"id", "name", "list_id", "entity_type", "value_type", "allows_multiple", "track_changes", "enrichment_source", "synced_at"}
	optionCols = []string{"field_id", "id", "text", "rank", "color", "synced_at"}
	valueCols  = []string{"id", "field_id", "entity_type", "entity_id", "list_entry_id", "value_type", "value",
		"value_text", "value_number", "value_date", "value_entity_id", "value_option_id", "created_at", "updated_at", "synced_at"}
	changeCols = []string{"id", "field_id", "entity_type", "entity_id", "list_entry_id", "action_type", "changer_id", "changed_at", "value",
		"value_text", "value_number", "value_date", "value_entity_id", "value_option_id", "synced_at"}
)

// warehouseRowsOf cleans and flattens the page's rows. Within the page the last row of an id
// wins, as for the entity tables.
func warehouseRowsOf(c *cleaner, p Page) (warehouseRows, error) {
	var w warehouseRows
	w.valueEntities.valueIDs = []int64{} // never NULL: "id <> all of none" holds for every id
	for _, l := range lastByID(p.Lists, func(x List) int64 { return x.ID }) {
		w.lists = append(w.lists, []any{l.ID, l.Type, c.str(l.Name), l.Public, l.OwnerID, l.CreatorID, l.ListSize, p.SeenAt})
	}
	for _, e := range lastByID(p.ListEntries, func(x ListEntry) int64 { return x.ID }) {
		w.entries = append(w.entries, []any{e.ID, e.ListID, e.EntityType, e.EntityID, e.CreatorID, e.CreatedAt, p.SeenAt})
	}
	for _, f := range lastByID(p.Fields, func(x Field) int64 { return x.ID }) {
		w.fields = append(w.fields, []any{f.ID, c.str(f.Name), f.ListID, f.EntityType, f.ValueType,
			f.AllowsMultiple, f.TrackChanges, c.ptr(f.EnrichmentSource), p.SeenAt})
		w.optionFieldIDs = append(w.optionFieldIDs, f.ID)
		for _, o := range lastByID(f.Options, func(x DropdownOption) int64 { return x.ID }) {
			w.options = append(w.options, []any{f.ID, o.ID, c.str(o.Text), o.Rank, o.Color, p.SeenAt})
			w.optionKeys[0] = append(w.optionKeys[0], f.ID)
			w.optionKeys[1] = append(w.optionKeys[1], o.ID)
		}
	}

	type entityKey struct {
		t  int
		id int64
	}
	sets := lastByKey(p.EntityValues, func(x EntityValues) entityKey { return entityKey{x.EntityType, x.EntityID} })
	var values []FieldValue
	for _, set := range sets {
		w.valueEntities.types = append(w.valueEntities.types, int16(set.EntityType))
		w.valueEntities.ids = append(w.valueEntities.ids, set.EntityID)
		values = append(values, set.Values...)
	}
	for _, v := range lastByID(values, func(x FieldValue) int64 { return x.ID }) {
		w.valueEntities.valueIDs = append(w.valueEntities.valueIDs, v.ID)
		proj, err := projectionRow(c, v.Projection)
		if err != nil {
			return warehouseRows{}, fmt.Errorf("field value %d: %w", v.ID, err)
		}
		row := append([]any{len(w.values), v.ID, v.FieldID, v.EntityType, v.EntityID, v.ListEntryID, v.ValueType, c.json(v.Value)}, proj...)
		w.values = append(w.values, append(row, v.CreatedAt, v.UpdatedAt, p.SeenAt))
	}
	scoped, err := scopedRowsOf(c, p.ScopedValues, p.SeenAt)
	if err != nil {
		return warehouseRows{}, err
	}
	w.scoped = scoped
	for _, ch := range lastByID(p.Changes, func(x FieldValueChange) int64 { return x.ID }) {
		proj, err := projectionRow(c, ch.Projection)
		if err != nil {
			return warehouseRows{}, fmt.Errorf("field value change %d: %w", ch.ID, err)
		}
		row := append([]any{ch.ID, ch.FieldID, ch.EntityType, ch.EntityID, ch.ListEntryID, ch.ActionType,
			ch.ChangerID, ch.ChangedAt, c.json(ch.Value)}, proj...)
		w.changes = append(w.changes, append(row, p.SeenAt))
	}

	w.orgPersons = association{table: "organization_persons", parentCol: "organization_id", childCol: "person_id"}
	for _, op := range lastByID(p.OrganizationPersons, func(x OrganizationPersons) int64 { return x.OrganizationID }) {
		w.orgPersons.parentIDs = append(w.orgPersons.parentIDs, op.OrganizationID)
		for _, person := range op.PersonIDs {
			w.orgPersons.parents = append(w.orgPersons.parents, op.OrganizationID)
			w.orgPersons.children = append(w.orgPersons.children, person)
		}
	}
	return w, nil
}

// projectionRow returns the five projection columns in table order.
func projectionRow(c *cleaner, p Projection) ([]any, error) {
	var number pgtype.Numeric
	if p.Number != nil {
		if err := number.ScanScientific(*p.Number); err != nil {
			return nil, fmt.Errorf("value_number %q is not a decimal: %w", c.str(*p.Number), err)
		}
	}
	return []any{c.ptr(p.Text), number, p.Date, p.EntityID, p.OptionID}, nil
}

// commitWarehouseRows writes w inside tx, fields before values (a value without a value type
// takes its field's), and returns the rows written.
func (s *Store) commitWarehouseRows(ctx context.Context, tx pgx.Tx, w warehouseRows) (int64, error) {
	steps := []struct {
		what string
		run  func() (int64, error)
	}{
		{"upsert lists page", func() (int64, error) { return s.upsert(ctx, tx, "lists", listCols, w.lists) }},
		{"upsert list entries page", func() (int64, error) { return s.upsert(ctx, tx, "list_entries", entryCols, w.entries) }},
		{"upsert fields page", func() (int64, error) { return s.upsert(ctx, tx, "fields", fieldCols, w.fields) }},
		{"replace dropdown options", func() (int64, error) { return s.replaceOptions(ctx, tx, w) }},
		{"upsert field values page", func() (int64, error) { return s.replaceValues(ctx, tx, w) }},
		{"replace scoped field values page", func() (int64, error) { return s.replaceScopedValues(ctx, tx, w.scoped) }},
		{"insert field value changes page", func() (int64, error) {
			return s.merge(ctx, tx, merge{table: "field_value_changes", keys: []string{"id"}, cols: changeCols, rows: w.changes, appendOnly: true})
		}},
		{"replace organization persons", func() (int64, error) { return s.replaceAssociation(ctx, tx, w.orgPersons) }},
	}
	var total int64
	for _, step := range steps {
		n, err := step.run()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", step.what, err)
		}
		total += n
	}
	return total, nil
}

// replaceOptions upserts the page's dropdown options live and soft-deletes the live options
// of the page's fields that are not among them.
func (s *Store) replaceOptions(ctx context.Context, tx pgx.Tx, w warehouseRows) (int64, error) {
	if len(w.optionFieldIDs) == 0 {
		return 0, nil
	}
	n, err := s.merge(ctx, tx, merge{table: "dropdown_options", keys: []string{"field_id", "id"}, cols: optionCols, rows: w.options})
	if err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `UPDATE `+s.table("dropdown_options")+` o SET deleted_at = now()
		WHERE o.field_id = ANY($1) AND o.deleted_at IS NULL
		  AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[], $3::bigint[]) AS keep(field_id, id)
		                  WHERE keep.field_id = o.field_id AND keep.id = o.id)`,
		w.optionFieldIDs, w.optionKeys[0], w.optionKeys[1])
	if err != nil {
		return 0, fmt.Errorf("soft delete dropped options: %w", err)
	}
	return n + tag.RowsAffected(), nil
}

// replaceValues upserts the page's field values live (a value without its own value type
// takes its field's, when the field is known) and soft-deletes the live values of the page's
// entities that are not in their sets. Before the upsert, a value whose id is not stored yet
// takes over a live row of its entity that has no id (one first seen through API v2) and is
// equal to it (see valueKey), the i-th value of a key the i-th such row, so a value read
// through v2 and then through v1 is one row; id-less live rows left over are soft-deleted
// with the rest, as v1 returns every value with its id. The values kept are an anti-join, not
// NOT (id = ANY(…)): the latter compares every candidate with every kept id, quadratic in a
// 5,000-row batch.
func (s *Store) replaceValues(ctx context.Context, tx pgx.Tx, w warehouseRows) (int64, error) {
	if len(w.valueEntities.ids) == 0 && len(w.values) == 0 {
		return 0, nil
	}
	stage, err := s.stageValues(ctx, tx, w.values)
	if err != nil {
		return 0, err
	}
	fv := s.table("field_values")
	if len(w.valueEntities.ids) > 0 && len(w.values) > 0 {
		if _, err := tx.Exec(ctx, s.claimSQL(stage),
			pgx.QueryExecModeExec, w.valueEntities.types, w.valueEntities.ids); err != nil {
			return 0, fmt.Errorf("match values to rows without an id: %w", err)
		}
	}
	var n int64
	if len(w.values) > 0 {
		quoted := make([]string, len(valueCols))
		sets := make([]string, 0, len(valueCols))
		for i, col := range valueCols {
			quoted[i] = pgx.Identifier{col}.Sanitize()
			if i > 0 {
				sets = append(sets, quoted[i]+" = EXCLUDED."+quoted[i])
			}
		}
		list := strings.Join(quoted, ", ")
		tag, err := tx.Exec(ctx, `INSERT INTO `+fv+` (`+list+`, deleted_at)
			SELECT DISTINCT ON (id) `+list+`, NULL::timestamptz FROM `+stage+` ORDER BY id
			ON CONFLICT (id) DO UPDATE SET `+strings.Join(append(sets, "deleted_at = NULL"), ", "))
		if err != nil {
			return 0, fmt.Errorf("merge values: %w", err)
		}
		n = tag.RowsAffected()
	}
	if len(w.valueEntities.ids) == 0 {
		return n, nil
	}
	// A row without an id is never among the kept ids, so the id-less live rows no value
	// took over above are soft-deleted here too.
	tag, err := tx.Exec(ctx, `UPDATE `+fv+` fv SET deleted_at = now()
		FROM unnest($1::smallint[], $2::bigint[]) AS e(entity_type, entity_id)
		WHERE fv.entity_type = e.entity_type AND fv.entity_id = e.entity_id
		  AND fv.deleted_at IS NULL
		  AND NOT EXISTS (SELECT 1 FROM unnest($3::bigint[]) AS keep(id) WHERE keep.id = fv.id)`,
		// Planned for these arrays every time: a cached generic plan goes for a sequential
		// scan of field_values, which grows with the table (1.5 s a batch at 220k values).
		pgx.QueryExecModeExec,
		w.valueEntities.types, w.valueEntities.ids, w.valueEntities.valueIDs)
	if err != nil {
		return 0, fmt.Errorf("soft delete values no longer returned: %w", err)
	}
	return n + tag.RowsAffected(), nil
}

// claimSQL is the statement of replaceValues that gives values whose id is not stored yet
// the equal live rows without an id of their entities: $1, $2 are the entities (type, id)
// whose sets the page replaces; stage holds the values. It costs next to nothing when those
// entities have no id-less row (the usual case): the id-less rows are found through their
// own small index, and only the values of entities that have some are looked at further,
// each id checked through the unique index (a correlated subquery, so the planner never
// hashes the whole table for it).
func (s *Store) claimSQL(stage string) string {
	fv := s.table("field_values")
	return `WITH idless AS MATERIALIZED (
			SELECT fv.row_id, fv.field_id, fv.entity_type, fv.entity_id, ` + valueKey("fv") + ` AS k,
				row_number() OVER (PARTITION BY fv.field_id, fv.entity_type, fv.entity_id, ` + valueKey("fv") + `
				                   ORDER BY fv.row_id) AS r
			FROM unnest($1::smallint[], $2::bigint[]) AS e(entity_type, entity_id)
			JOIN ` + fv + ` fv ON fv.entity_type = e.entity_type AND fv.entity_id = e.entity_id
			WHERE fv.id IS NULL AND fv.deleted_at IS NULL
		), incoming AS (
			SELECT s.id, s.field_id, s.entity_type, s.entity_id, ` + valueKey("s") + ` AS k,
				row_number() OVER (PARTITION BY s.field_id, s.entity_type, s.entity_id, ` + valueKey("s") + `
				                   ORDER BY s.n) AS r
			FROM ` + stage + ` s
			WHERE EXISTS (SELECT 1 FROM idless l WHERE l.entity_type = s.entity_type AND l.entity_id = s.entity_id)
			  AND (SELECT count(*) FROM ` + fv + ` known WHERE known.id = s.id) = 0
		)
		UPDATE ` + fv + ` fv SET id = i.id
		FROM idless l JOIN incoming i ON i.field_id = l.field_id AND i.entity_type = l.entity_type
		                             AND i.entity_id = l.entity_id AND i.k = l.k AND i.r = l.r
		WHERE fv.row_id = l.row_id`
}
