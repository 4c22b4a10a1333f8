package loader

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// guard counts the live rows a soft delete is measured against and the ones it would delete
// (countSQL returns both, in that order), and returns how many would go, or a
// *MassDeleteError when the guard refuses.
func guard(ctx context.Context, tx pgx.Tx, table, scope, countSQL string, opts PassOptions, args ...any) (int64, error) {
	var live, gone int64
	if err := tx.QueryRow(ctx, countSQL, args...).Scan(&live, &gone); err != nil {
		return 0, fmt.Errorf("count unseen %s: %w", table, err)
	}
	if gone > 0 && guardRefuses(live, gone, opts) {
		return 0, &MassDeleteError{Table: table, Scope: scope, Live: live, WouldDelete: gone, MaxShare: opts.MaxDeleteShare}
	}
	return gone, nil
}

// softDeleteUnseenLists soft-deletes the lists the pass did not see, their live entries and
// those entries' values.
func (s *Store) softDeleteUnseenLists(ctx context.Context, tx pgx.Tx, cp Checkpoint, opts PassOptions) (int64, error) {
	gone, err := guard(ctx, tx, "lists", "", `SELECT count(*), count(*) FILTER (WHERE synced_at < $1)
		FROM `+s.table("lists")+` WHERE deleted_at IS NULL`, opts, cp.PassStartedAt)
	if err != nil || gone == 0 {
		return 0, err
	}
	var deleted int64
	err = tx.QueryRow(ctx, `WITH gone AS (
			UPDATE `+s.table("lists")+` SET deleted_at = now()
			WHERE deleted_at IS NULL AND synced_at < $1
			RETURNING id
		), entries_gone AS (
			UPDATE `+s.table("list_entries")+` le SET deleted_at = now()
			FROM gone WHERE le.list_id = gone.id AND le.deleted_at IS NULL
			RETURNING le.id
		), values_gone AS (
			UPDATE `+s.table("field_values")+` fv SET deleted_at = now()
			FROM entries_gone WHERE fv.list_entry_id = entries_gone.id AND fv.deleted_at IS NULL
		)
		SELECT count(*) FROM gone`, cp.PassStartedAt).Scan(&deleted)
	if err != nil {
		return 0, fmt.Errorf("soft delete unseen lists: %w", err)
	}
	return deleted, nil
}

// softDeleteUnseenFields soft-deletes the fields the pass did not see and their options.
func (s *Store) softDeleteUnseenFields(ctx context.Context, tx pgx.Tx, cp Checkpoint, opts PassOptions) (int64, error) {
	gone, err := guard(ctx, tx, "fields", "", `SELECT count(*), count(*) FILTER (WHERE synced_at < $1)
		FROM `+s.table("fields")+` WHERE deleted_at IS NULL`, opts, cp.PassStartedAt)
	if err != nil || gone == 0 {
		return 0, err
	}
	var deleted int64
	err = tx.QueryRow(ctx, `WITH gone AS (
			UPDATE `+s.table("fields")+` SET deleted_at = now()
			WHERE deleted_at IS NULL AND synced_at < $1
			RETURNING id
		), options_gone AS (
			UPDATE `+s.table("dropdown_options")+` o SET deleted_at = now()
			FROM gone WHERE o.field_id = gone.id AND o.deleted_at IS NULL
		)
		SELECT count(*) FROM gone`, cp.PassStartedAt).Scan(&deleted)
	if err != nil {
		return 0, fmt.Errorf("soft delete unseen fields: %w", err)
	}
	return deleted, nil
}

// softDeleteUnseenEntries soft-deletes the entries of one list the pass did not see, and their
// values; the guard measures that list alone.
func (s *Store) softDeleteUnseenEntries(ctx context.Context, tx pgx.Tx, listID int64, cp Checkpoint, opts PassOptions) (int64, error) {
	gone, err := guard(ctx, tx, "list_entries", "list "+strconv.FormatInt(listID, 10),
		`SELECT count(*), count(*) FILTER (WHERE synced_at < $1)
		FROM `+s.table("list_entries")+` WHERE deleted_at IS NULL AND list_id = $2`, opts, cp.PassStartedAt, listID)
	if err != nil || gone == 0 {
		return 0, err
	}
	var deleted int64
	err = tx.QueryRow(ctx, `WITH gone AS (
			UPDATE `+s.table("list_entries")+` SET deleted_at = now()
			WHERE deleted_at IS NULL AND list_id = $2 AND synced_at < $1
			RETURNING id
		), values_gone AS (
			UPDATE `+s.table("field_values")+` fv SET deleted_at = now()
			FROM gone WHERE fv.list_entry_id = gone.id AND fv.deleted_at IS NULL
		)
		SELECT count(*) FROM gone`, cp.PassStartedAt, listID).Scan(&deleted)
	if err != nil {
		return 0, fmt.Errorf("soft delete unseen entries of list %d: %w", listID, err)
	}
	return deleted, nil
}

// softDeleteUnlistedValues soft-deletes the live values, global ones included, of entities
// that are on no live list entry.
func (s *Store) softDeleteUnlistedValues(ctx context.Context, tx pgx.Tx, opts PassOptions) (int64, error) {
	unlisted := `NOT EXISTS (SELECT 1 FROM ` + s.table("list_entries") + ` le
		WHERE le.deleted_at IS NULL AND le.entity_type = fv.entity_type AND le.entity_id = fv.entity_id)`
	gone, err := guard(ctx, tx, "field_values", "", `SELECT count(*), count(*) FILTER (WHERE `+unlisted+`)
		FROM `+s.table("field_values")+` fv WHERE fv.deleted_at IS NULL`, opts)
	if err != nil || gone == 0 {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `UPDATE `+s.table("field_values")+` fv SET deleted_at = now()
		WHERE fv.deleted_at IS NULL AND `+unlisted)
	if err != nil {
		return 0, fmt.Errorf("soft delete values of unlisted entities: %w", err)
	}
	return tag.RowsAffected(), nil
}
