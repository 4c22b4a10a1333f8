package loader

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Kinds of object SoftDeleteObject knows: the prefixes of Affinity's webhook event names.
const (
	ObjectPerson       = "person"
	ObjectOrganization = "organization"
	ObjectOpportunity  = "opportunity"
	ObjectList         = "list"
	ObjectListEntry    = "list_entry"
	ObjectField        = "field"
	ObjectFieldValue   = "field_value"
	ObjectNote         = "note"
)

// ErrUnknownObject is what SoftDeleteObject returns for a kind it does not know.
var ErrUnknownObject = errors.New("unknown object kind")

// SoftDeleteObject soft-deletes one object that Affinity says was deleted (a webhook
// *.deleted, or a 404 on a targeted refresh), with the cascades of design.md section 4, in one
// transaction, and returns how many rows it soft-deleted over every table. An explicit delete
// is not an inference from absence, so no pass and no mass-delete guard is involved. The
// cascades follow what Affinity deletes with the object:
//   - person, organization, opportunity: the entity, its live list entries and every field
//     value of the entity (those of its list entries included);
//   - list: the list, its entries and their values, its fields and their dropdown options;
//   - list_entry: the entry and its values;
//   - field: the field, its dropdown options and its values;
//   - field_value and note: that row.
//
// Association rows are left as they were. Rows already soft-deleted keep their deleted_at; an
// id the warehouse does not hold deletes nothing and is not an error.
func (s *Store) SoftDeleteObject(ctx context.Context, kind string, id int64) (int64, error) {
	var sql string
	args := []any{id}
	switch kind {
	case ObjectPerson, ObjectOrganization, ObjectOpportunity:
		table, entityType := entityTable(kind)
		args = append(args, entityType)
		sql = `WITH gone AS (
				UPDATE ` + s.table(table) + ` SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id
			), entries_gone AS (
				UPDATE ` + s.table("list_entries") + ` SET deleted_at = now()
				WHERE entity_type = $2 AND entity_id = $1 AND deleted_at IS NULL RETURNING id
			), values_gone AS (
				UPDATE ` + s.table("field_values") + ` SET deleted_at = now()
				WHERE entity_type = $2 AND entity_id = $1 AND deleted_at IS NULL RETURNING id
			)
			SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM entries_gone) + (SELECT count(*) FROM values_gone)`
	case ObjectList:
		sql = `WITH gone AS (
				UPDATE ` + s.table("lists") + ` SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id
			), entries_gone AS (
				UPDATE ` + s.table("list_entries") + ` SET deleted_at = now()
				WHERE list_id = $1 AND deleted_at IS NULL RETURNING id
			), entry_ids AS (
				SELECT id FROM ` + s.table("list_entries") + ` WHERE list_id = $1
			), values_gone AS (
				UPDATE ` + s.table("field_values") + ` fv SET deleted_at = now()
				FROM entry_ids WHERE fv.list_entry_id = entry_ids.id AND fv.deleted_at IS NULL RETURNING fv.id
			), fields_gone AS (
				UPDATE ` + s.table("fields") + ` SET deleted_at = now()
				WHERE list_id = $1 AND deleted_at IS NULL RETURNING id
			), field_ids AS (
				SELECT id FROM ` + s.table("fields") + ` WHERE list_id = $1
			), options_gone AS (
				UPDATE ` + s.table("dropdown_options") + ` o SET deleted_at = now()
				FROM field_ids WHERE o.field_id = field_ids.id AND o.deleted_at IS NULL RETURNING o.id
			)
			SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM entries_gone) + (SELECT count(*) FROM values_gone)
				+ (SELECT count(*) FROM fields_gone) + (SELECT count(*) FROM options_gone)`
	case ObjectListEntry:
		sql = `WITH gone AS (
				UPDATE ` + s.table("list_entries") + ` SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id
			), values_gone AS (
				UPDATE ` + s.table("field_values") + ` SET deleted_at = now()
				WHERE list_entry_id = $1 AND deleted_at IS NULL RETURNING id
			)
			SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM values_gone)`
	case ObjectField:
		sql = `WITH gone AS (
				UPDATE ` + s.table("fields") + ` SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id
			), options_gone AS (
				UPDATE ` + s.table("dropdown_options") + ` SET deleted_at = now()
				WHERE field_id = $1 AND deleted_at IS NULL RETURNING id
			), values_gone AS (
				UPDATE ` + s.table("field_values") + ` SET deleted_at = now()
				WHERE field_id = $1 AND deleted_at IS NULL RETURNING id
			)
			SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM options_gone) + (SELECT count(*) FROM values_gone)`
	case ObjectFieldValue:
		sql = `WITH gone AS (
				UPDATE ` + s.table("field_values") + ` SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id
			) SELECT count(*) FROM gone`
	case ObjectNote:
		sql = `WITH gone AS (
				UPDATE ` + s.table("notes") + ` SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id
			) SELECT count(*) FROM gone`
	default:
		return 0, fmt.Errorf("soft delete %s %d: %w", kind, id, ErrUnknownObject)
	}
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, sql, args...).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("soft delete %s %d: %w", kind, id, err)
	}
	s.logger.Debug("object soft-deleted", "kind", kind, "id", id, "rows", n)
	return n, nil
}

// entityTable maps an entity kind to its table and entity type code.
func entityTable(kind string) (string, int) {
	switch kind {
	case ObjectPerson:
		return "persons", 0
	case ObjectOrganization:
		return "organizations", 1
	default:
		return "opportunities", 8
	}
}

// EntityKind is the object kind of an entity type code (0, 1, 8), or "" for another code.
func EntityKind(entityType int) string {
	switch entityType {
	case 0:
		return ObjectPerson
	case 1:
		return ObjectOrganization
	case 8:
		return ObjectOpportunity
	}
	return ""
}

// EntityTypeOf finds the entity type of a field value that Affinity sent without one: from
// its list entry when the warehouse holds it, else from its field. ok is false when neither
// says.
func (s *Store) EntityTypeOf(ctx context.Context, fieldID int64, listEntryID *int64) (entityType int, ok bool, err error) {
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
	return int(*t), true, nil
}
