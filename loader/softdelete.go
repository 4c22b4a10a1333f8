package loader

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Soft deletes come in two forms, built here from one description of what goes with what:
//   - after a complete pass, the live rows the pass did not see (guarded against mass deletes);
//   - when Affinity says an object was deleted (a webhook *.deleted, or a 404 on a targeted
//     refresh), that one object.
//
// The cascades of the warehouse contract (docs/warehouse.md) are written once, in
// contractCascades; a delete by id adds what Affinity deletes with the object (deletedWith).

// ObjectKind is a kind of Affinity object the warehouse soft-deletes, spelt as the prefix of
// Affinity's webhook event names ("person" in person.deleted). The constants below are the
// only kinds there are; ParseObjectKind reads one from an event name.
type ObjectKind string

// The object kinds SoftDeleteObject knows.
const (
	ObjectPerson       ObjectKind = "person"
	ObjectOrganization ObjectKind = "organization"
	ObjectOpportunity  ObjectKind = "opportunity"
	ObjectList         ObjectKind = "list"
	ObjectListEntry    ObjectKind = "list_entry"
	ObjectField        ObjectKind = "field"
	ObjectFieldValue   ObjectKind = "field_value"
	ObjectNote         ObjectKind = "note"
	ObjectEntityFile   ObjectKind = "file"     // entity_files: file.deleted
	ObjectReminder     ObjectKind = "reminder" // reminders: reminder.deleted
)

// ParseObjectKind returns the object kind of a name as Affinity's event names spell it; ok is
// false for any other name: those the warehouse does not soft-delete.
func ParseObjectKind(name string) (kind ObjectKind, ok bool) {
	kind = ObjectKind(name)
	if _, ok := kind.table(); !ok {
		return "", false
	}
	return kind, true
}

// Entity is the entity kind of a person, organization or opportunity; ok is false for the
// other object kinds.
func (o ObjectKind) Entity() (k EntityKind, ok bool) { return ParseEntityKind(string(o)) }

// ErrUnknownObject is what SoftDeleteObject returns for a kind it does not know.
var ErrUnknownObject = errors.New("unknown object kind")

// cascade is a table whose live rows are soft-deleted with the rows of their parent.
type cascade struct {
	table string
	on    string    // joins a row c of table to a parent row p
	then  []cascade // what goes with these rows in turn
	// returning is what the soft delete returns of the rows it takes; "" = c.id. A table
	// without an id column (then is empty) returns its key.
	returning string
	// noted, when set, is a statement run on the rows taken (the CTE named gone), such as the
	// history rows they leave; its rows are not counted.
	noted func(s *Store, gone string) string
}

// The cascades of the warehouse contract.
var (
	entryValues  = cascade{table: "field_values", on: "c.list_entry_id = p.id"}
	listEntries  = cascade{table: "list_entries", on: "c.list_id = p.id", then: []cascade{entryValues}}
	fieldOptions = cascade{table: "dropdown_options", on: "c.field_id = p.id"}
	// A deleted person's live strength pairs, where it is the external person, each with a
	// history row (strength null) at the moment of the delete.
	personStrengths = cascade{table: "relationship_strengths", on: "c.external_person_id = p.id",
		returning: "c.external_person_id, c.internal_person_id",
		noted: func(s *Store, gone string) string {
			return `INSERT INTO ` + s.table("relationship_strength_history") + ` (external_person_id, internal_person_id, strength, observed_at)
				SELECT external_person_id, internal_person_id, NULL, now() FROM ` + gone + ` ON CONFLICT DO NOTHING`
		}}
)

// entityValues are the field values of an entity of kind k, those of its list entries included.
func entityValues(k EntityKind) cascade {
	return cascade{table: "field_values", on: "c.entity_type = " + sqlCode(k) + " AND c.entity_id = p.id"}
}

// table is the warehouse table of an object kind; ok is false for a kind the warehouse does
// not soft-delete. Its cases are the one list of the kinds there are.
func (o ObjectKind) table() (table string, ok bool) {
	if k, ok := o.Entity(); ok {
		return k.Table(), true
	}
	switch o {
	case ObjectList:
		return "lists", true
	case ObjectListEntry:
		return "list_entries", true
	case ObjectField:
		return "fields", true
	case ObjectFieldValue:
		return "field_values", true
	case ObjectNote:
		return "notes", true
	case ObjectEntityFile:
		return "entity_files", true
	case ObjectReminder:
		return "reminders", true
	}
	return "", false
}

// contractCascades is what the warehouse contract soft-deletes with a row of kind: an entity's
// field values; a person's relationship strength pairs as the external person (with a history
// row each); a list's live entries and their values; a list entry's values; a field's
// dropdown options. Association rows are left as they were.
func contractCascades(kind ObjectKind) []cascade {
	if k, ok := kind.Entity(); ok {
		if k == EntityPerson {
			return []cascade{entityValues(k), personStrengths}
		}
		return []cascade{entityValues(k)}
	}
	switch kind {
	case ObjectList:
		return []cascade{listEntries}
	case ObjectListEntry:
		return []cascade{entryValues}
	case ObjectField:
		return []cascade{fieldOptions}
	}
	return nil
}

// deletedWith is what Affinity deletes with an object besides the contract's cascades, so a
// delete by id takes it too: an entity's list entries (their values are the entity's); a
// list's fields and their options; a field's values.
func deletedWith(kind ObjectKind) []cascade {
	if k, ok := kind.Entity(); ok {
		return []cascade{{table: "list_entries", on: "c.entity_type = " + sqlCode(k) + " AND c.entity_id = p.id"}}
	}
	switch kind {
	case ObjectList:
		return []cascade{{table: "fields", on: "c.list_id = p.id", then: []cascade{fieldOptions}}}
	case ObjectField:
		return []cascade{{table: "field_values", on: "c.field_id = p.id"}}
	}
	return nil
}

// softDeleteSQL is one statement that soft-deletes the live rows of table (alias t) matching
// where, and their cascades, and selects how many rows of table it soft-deleted and how many
// over every table. The cascades follow the newly deleted rows, or with byID the object $1
// and all its dependants (already deleted ones too), so a repeated delete still takes what a
// refresh may have revived under a deleted parent.
func (s *Store) softDeleteSQL(table, where string, cascades []cascade, byID bool) string {
	ctes := []string{`gone AS (UPDATE ` + s.table(table) + ` t SET deleted_at = now()
		WHERE t.deleted_at IS NULL AND ` + where + ` RETURNING t.id)`}
	counts := []string{"(SELECT count(*) FROM gone)"}
	root := "gone"
	if byID {
		ctes = append(ctes, "target AS (SELECT $1::bigint AS id)")
		root = "target"
	}
	var add func(parent string, cs []cascade)
	add = func(parent string, cs []cascade) {
		for _, c := range cs {
			name := fmt.Sprintf("gone%d", len(ctes))
			returning := c.returning
			if returning == "" {
				returning = "c.id"
			}
			ctes = append(ctes, name+` AS (UPDATE `+s.table(c.table)+` c SET deleted_at = now()
				FROM `+parent+` p WHERE `+c.on+` AND c.deleted_at IS NULL RETURNING `+returning+`)`)
			counts = append(counts, "(SELECT count(*) FROM "+name+")")
			if c.noted != nil {
				// A data-modifying WITH runs whether or not the query reads it.
				ctes = append(ctes, fmt.Sprintf("noted%d", len(ctes))+` AS (`+c.noted(s, name)+`)`)
			}
			if len(c.then) == 0 {
				continue
			}
			next := name
			if byID {
				next = fmt.Sprintf("all%d", len(ctes))
				ctes = append(ctes, next+` AS (SELECT c.id FROM `+s.table(c.table)+` c, `+parent+` p WHERE `+c.on+`)`)
			}
			add(next, c.then)
		}
	}
	add(root, cascades)
	return "WITH " + strings.Join(ctes, ",\n") + "\nSELECT " + counts[0] + ", " + strings.Join(counts, " + ")
}

// SoftDeleteObject soft-deletes one object that Affinity says was deleted (a webhook
// *.deleted, or a 404 on a targeted refresh), with the contract's cascades and what Affinity
// deletes with it, in one transaction, and returns how many rows it soft-deleted over every
// table. An explicit delete is not an inference from absence, so no pass and no mass-delete
// guard is involved:
//   - person, organization, opportunity: the entity, its live list entries and every field
//     value of the entity (those of its list entries included);
//   - list: the list, its entries and their values, its fields and their dropdown options;
//   - list_entry: the entry and its values;
//   - field: the field, its dropdown options and its values;
//   - field_value, note, file and reminder: that row.
//
// A person takes its live relationship strength pairs (as the external person) too, each
// with a history row of strength null.
//
// Association rows are left as they were. Rows already soft-deleted keep their deleted_at; an
// id the warehouse does not hold deletes nothing and is not an error.
func (s *Store) SoftDeleteObject(ctx context.Context, kind ObjectKind, id int64) (int64, error) {
	table, ok := kind.table()
	if !ok {
		return 0, fmt.Errorf("soft delete %s %d: %w", kind, id, ErrUnknownObject)
	}
	sql := s.softDeleteSQL(table, "t.id = $1", append(contractCascades(kind), deletedWith(kind)...), true)
	var own, n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, sql, id).Scan(&own, &n)
	})
	if err != nil {
		return 0, fmt.Errorf("soft delete %s %d: %w", kind, id, err)
	}
	s.logger.Debug("object soft-deleted", "kind", kind, "id", id, "rows", n)
	return n, nil
}

// unseen describes a soft delete at the end of a complete pass: the live rows of table (alias
// t) within scope that match gone, with the contract's cascades of kind.
type unseen struct {
	kind      ObjectKind // object kind whose cascades apply; "" = none
	table     string
	scope     string // limits the rows the guard measures, e.g. "t.list_id = $2"; "" = the whole table
	scopeName string // the scope as the guard reports it, e.g. "list 123"
	gone      string // the rows the pass did not see
	args      []any
}

// softDeleteUnseen soft-deletes what d describes, after checking the mass delete guard, and
// returns how many rows of d's own table it soft-deleted (cascaded rows are not counted).
func (s *Store) softDeleteUnseen(ctx context.Context, tx pgx.Tx, d unseen, opts PassOptions) (int64, error) {
	where := d.gone
	if d.scope != "" {
		where = d.scope + " AND " + d.gone
	}
	what := d.table
	if d.scopeName != "" {
		what += " of " + d.scopeName
	}
	var live, gone int64
	countSQL := `SELECT count(*), count(*) FILTER (WHERE ` + d.gone + `) FROM ` + s.table(d.table) + ` t WHERE t.deleted_at IS NULL`
	if d.scope != "" {
		countSQL += " AND " + d.scope
	}
	if err := tx.QueryRow(ctx, countSQL, d.args...).Scan(&live, &gone); err != nil {
		return 0, fmt.Errorf("count unseen %s: %w", what, err)
	}
	if gone == 0 {
		return 0, nil
	}
	if guardRefuses(live, gone, opts) {
		return 0, &MassDeleteError{Table: d.table, Scope: d.scopeName, Live: live, WouldDelete: gone, MaxShare: opts.MaxDeleteShare}
	}
	var own, all int64
	if err := tx.QueryRow(ctx, s.softDeleteSQL(d.table, where, contractCascades(d.kind), false), d.args...).Scan(&own, &all); err != nil {
		return 0, fmt.Errorf("soft delete unseen %s: %w", what, err)
	}
	return own, nil
}

// unseenRows are the live rows of kind's table that the pass started at $1 did not see.
func unseenRows(kind ObjectKind, passStart any) (unseen, error) {
	table, ok := kind.table()
	if !ok || kind == ObjectListEntry || kind == ObjectFieldValue {
		return unseen{}, fmt.Errorf("no complete pass soft-deletes unseen %s rows", kind)
	}
	return unseen{kind: kind, table: table, gone: "t.synced_at < $1", args: []any{passStart}}, nil
}

// unseenEntries are the live entries of one list that the pass started at $1 did not see; the
// guard measures that list alone.
func unseenEntries(listID int64, passStart any) unseen {
	return unseen{kind: ObjectListEntry, table: "list_entries", scope: "t.list_id = $2",
		scopeName: "list " + strconv.FormatInt(listID, 10), gone: "t.synced_at < $1", args: []any{passStart, listID}}
}

// unlistedValues are the live values, global ones included, of entities on no live list entry.
func (s *Store) unlistedValues() unseen {
	return unseen{table: "field_values", gone: `NOT EXISTS (SELECT 1 FROM ` + s.table("list_entries") + ` le
		WHERE le.deleted_at IS NULL AND le.entity_type = t.entity_type AND le.entity_id = t.entity_id)`}
}

// EntityTypeOf finds the entity type of a field value that Affinity sent without one: from
// its list entry when the warehouse holds it, else from its field. ok is false when neither
// says.
func (s *Store) EntityTypeOf(ctx context.Context, fieldID int64, listEntryID *int64) (kind EntityKind, ok bool, err error) {
	var t *int16
	err = s.pool.QueryRow(ctx, `SELECT coalesce(
			(SELECT entity_type FROM `+s.table("list_entries")+` WHERE id = $2),
			(SELECT entity_type FROM `+s.table("fields")+` WHERE id = $1))`, fieldID, listEntryID).Scan(&t)
	if err != nil {
		return 0, false, fmt.Errorf("read entity type of field %d: %w", fieldID, err)
	}
	if t == nil {
		return 0, false, nil
	}
	return EntityKind(*t), true, nil
}
