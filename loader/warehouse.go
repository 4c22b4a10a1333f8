package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// List is one row of lists.
type List struct {
	ID                           int64
	Type                         EntityKind // the kind of its entries
	Name                         string
	Public                       bool
	OwnerID, CreatorID, ListSize *int64
}

// ListEntry is one row of list_entries.
type ListEntry struct {
	ID, ListID int64
	EntityType EntityKind
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
	EntityType                   *EntityKind
	ValueType                    int
	AllowsMultiple, TrackChanges bool
	EnrichmentSource             *string
	Options                      []DropdownOption
}

// FieldValueChange is one row of field_value_changes.
type FieldValueChange struct {
	ID, FieldID int64
	EntityType  *EntityKind // from the field
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
	entityValues                             entityValueRows
	scoped                                   scopedRows
	optionFieldIDs                           []int64 // every field whose options are replaced
	optionKeys                               [2][]int64
	orgPersons                               association
}

// The tables written from warehouseRows; rows hold cols in this order.
var (
	listsTable = stagedTable{name: "lists", key: idKey,
		cols: []string{"id", "type", "name", "public", "owner_id", "creator_id", "list_size", "synced_at"}}
	listEntriesTable = stagedTable{name: "list_entries", key: idKey,
		cols: []string{"id", "list_id", "entity_type", "entity_id", "creator_id", "created_at", "synced_at"}}
	fieldsTable = stagedTable{name: "fields", key: idKey,
		cols: []string{"id", "name", "list_id", "entity_type", "value_type", "allows_multiple", "track_changes", "enrichment_source", "synced_at"}}
	dropdownOptionsTable = stagedTable{name: "dropdown_options", key: []string{"field_id", "id"},
		cols: []string{"field_id", "id", "text", "rank", "color", "synced_at"}}
	// A change already stored is never modified.
	fieldValueChangesTable = stagedTable{name: "field_value_changes", key: idKey, onConflict: keepRow,
		cols: []string{"id", "field_id", "entity_type", "entity_id", "list_entry_id", "action_type", "changer_id", "changed_at", "value",
			"value_text", "value_number", "value_date", "value_entity_id", "value_option_id", "synced_at"}}
)

// warehouseRowsOf cleans and flattens the page's rows. Within the page the last row of an id
// wins, as for the entity tables.
func warehouseRowsOf(c *cleaner, p Page) (warehouseRows, error) {
	var w warehouseRows
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

	values, err := entityValueRowsOf(c, p.EntityValues, p.SeenAt)
	if err != nil {
		return warehouseRows{}, err
	}
	w.entityValues = values
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

// commitWarehouseRows writes w inside tx, fields before values (a value without a value type
// takes its field's), and returns the rows written.
func (s *Store) commitWarehouseRows(ctx context.Context, tx pgx.Tx, w warehouseRows) (int64, error) {
	steps := []struct {
		what string
		run  func() (int64, error)
	}{
		{"upsert lists page", func() (int64, error) { return s.writeStaged(ctx, tx, listsTable, w.lists) }},
		{"upsert list entries page", func() (int64, error) { return s.writeStaged(ctx, tx, listEntriesTable, w.entries) }},
		{"upsert fields page", func() (int64, error) { return s.writeStaged(ctx, tx, fieldsTable, w.fields) }},
		{"replace dropdown options", func() (int64, error) { return s.replaceOptions(ctx, tx, w) }},
		{"upsert field values page", func() (int64, error) { return s.replaceEntityValues(ctx, tx, w.entityValues) }},
		{"replace scoped field values page", func() (int64, error) { return s.replaceScopedValues(ctx, tx, w.scoped) }},
		{"insert field value changes page", func() (int64, error) { return s.writeStaged(ctx, tx, fieldValueChangesTable, w.changes) }},
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
	n, err := s.writeStaged(ctx, tx, dropdownOptionsTable, w.options)
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
