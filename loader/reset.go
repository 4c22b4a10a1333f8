package loader

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Freshness is a per-entity freshness time that a per-entity stream keeps in
// sync_entity_freshness: when each entity's values or details were last fetched.
type Freshness int

// The freshness times, by the stream that keeps them.
const (
	FreshnessNone    Freshness = iota // the stream keeps none
	FreshnessValues                   // values_synced_at, kept by field_values
	FreshnessDetails                  // details_synced_at, kept by organization_details
)

// column is the freshness time's column; "" for FreshnessNone.
func (f Freshness) column() string {
	switch f {
	case FreshnessValues:
		return "values_synced_at"
	case FreshnessDetails:
		return "details_synced_at"
	}
	return ""
}

// Watermarks is the per-entity bookkeeping of an intelligence stream (design §10), kept in a
// table of its own: what each entity's last read covered.
type Watermarks int

// The watermarks, by the stream that keeps them.
const (
	WatermarksNone         Watermarks = iota // the stream keeps none
	WatermarksInteractions                   // sync_interaction_fetches, kept by interactions
	WatermarksStrengths                      // sync_strength_fetches, kept by relationship_strengths
	WatermarksFiles                          // sync_file_fetches, kept by entity_files (its per-entity fallback)
)

// table is the watermarks' bookkeeping table; "" for WatermarksNone.
func (w Watermarks) table() string {
	switch w {
	case WatermarksInteractions:
		return "sync_interaction_fetches"
	case WatermarksStrengths:
		return "sync_strength_fetches"
	case WatermarksFiles:
		return "sync_file_fetches"
	}
	return ""
}

// StreamReset is one stream to re-read from the start, and the freshness time it keeps.
type StreamReset struct {
	Stream    string
	Freshness Freshness
	// ChangeFeed: the stream keeps the change feed's bookkeeping (which fields' histories
	// were read, the feed's watermark), forgotten too, so every history is read whole again.
	ChangeFeed bool
	// Watermarks: the stream's per-entity watermarks, deleted too, so every entity is due
	// again (interactions from Now - Since, as on a first fetch).
	Watermarks Watermarks
}

// ResetStreams makes the next run re-read the given streams from the start, in one
// transaction: their checkpoints are deleted (the pass in progress and the time of the last
// complete pass with them), their per-entity freshness times are cleared and their
// watermarks deleted, so every entity's values, details or intelligence are due again. Rows
// already in the warehouse stay as they are. The caller (the extractor's stream registry)
// knows which names are streams.
func (s *Store) ResetStreams(ctx context.Context, streams []StreamReset) error {
	if len(streams) == 0 {
		return nil
	}
	names := make([]string, len(streams))
	for i, r := range streams {
		names[i] = r.Stream
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.table("sync_checkpoints")+` WHERE stream = ANY($1)`, names); err != nil {
			return fmt.Errorf("delete checkpoints: %w", err)
		}
		for _, r := range streams {
			if r.ChangeFeed {
				for _, t := range []string{"sync_change_histories", "sync_change_feed"} {
					if _, err := tx.Exec(ctx, `DELETE FROM `+s.table(t)); err != nil {
						return fmt.Errorf("forget the change feed: %w", err)
					}
				}
			}
			if t := r.Watermarks.table(); t != "" {
				if _, err := tx.Exec(ctx, `DELETE FROM `+s.table(t)); err != nil {
					return fmt.Errorf("forget %s watermarks: %w", r.Stream, err)
				}
			}
			col := r.Freshness.column()
			if col == "" {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE `+s.table("sync_entity_freshness")+` SET `+col+` = NULL
				WHERE `+col+` IS NOT NULL`); err != nil {
				return fmt.Errorf("clear %s freshness: %w", r.Stream, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reset streams: %w", err)
	}
	s.logger.Info("streams reset", "streams", names)
	return nil
}
