package loader

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// knownStream reports whether name is a stream of design.md sections 4 and 8.
func knownStream(name string) bool {
	switch name {
	case "lists", "fields", "persons", "organizations", "opportunities", "list_entries",
		"field_value_changes", "field_values", "organization_details", "notes":
		return true
	}
	return false
}

// ResetStreams makes the next run re-read the named streams from the start, in one
// transaction: their checkpoints are deleted (the pass in progress and the time of the last
// complete pass with them), and for field_values and organization_details the per-entity
// freshness times too, so every entity's values or details are due again. Rows already in the
// warehouse stay as they are. An unknown stream name is an error and nothing is changed.
func (s *Store) ResetStreams(ctx context.Context, streams []string) error {
	for _, name := range streams {
		if !knownStream(name) {
			return fmt.Errorf("reset streams: unknown stream %q", name)
		}
	}
	if len(streams) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.table("sync_checkpoints")+` WHERE stream = ANY($1)`, streams); err != nil {
			return fmt.Errorf("delete checkpoints: %w", err)
		}
		for _, name := range streams {
			var col string
			switch name {
			case "field_values":
				col = "values_synced_at"
			case "organization_details":
				col = "details_synced_at"
			default:
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE `+s.table("sync_entity_freshness")+` SET `+col+` = NULL
				WHERE `+col+` IS NOT NULL`); err != nil {
				return fmt.Errorf("clear %s freshness: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reset streams: %w", err)
	}
	s.logger.Info("streams reset", "streams", streams)
	return nil
}
