package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// StreamPath is the API path a stream's pass took, and why.
type StreamPath struct {
	Stream    string
	Path      string // "v1" or "v1+v2"
	Reason    string
	DecidedAt time.Time
}

// RecordPath records the path of stream's current pass (DecidedAt is now when unset).
func (s *Store) RecordPath(ctx context.Context, stream string, p StreamPath) error {
	if p.DecidedAt.IsZero() {
		p.DecidedAt = time.Now()
	}
	var c cleaner
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.table("sync_stream_paths")+` (stream, path, reason, decided_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (stream) DO UPDATE SET path = excluded.path, reason = excluded.reason, decided_at = excluded.decided_at`,
		stream, p.Path, c.str(p.Reason), p.DecidedAt)
	if err != nil {
		return fmt.Errorf("record the path of %s: %w", stream, err)
	}
	return nil
}

// StreamPaths returns the path each stream's last pass took, by stream name.
func (s *Store) StreamPaths(ctx context.Context) ([]StreamPath, error) {
	rows, err := s.pool.Query(ctx, `SELECT stream, path, reason, decided_at FROM `+s.table("sync_stream_paths")+` ORDER BY stream`)
	if err != nil {
		return nil, fmt.Errorf("read stream paths: %w", err)
	}
	paths, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StreamPath, error) {
		var p StreamPath
		err := r.Scan(&p.Stream, &p.Path, &p.Reason, &p.DecidedAt)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read stream paths: %w", err)
	}
	return paths, nil
}

// CountLive returns how many live rows the entity table of k holds.
func (s *Store) CountLive(ctx context.Context, k EntityKind) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+s.table(k.Table())+` WHERE deleted_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count live %s: %w", k.Table(), err)
	}
	return n, nil
}

// UnlistedDueCount returns the live persons and organizations, and how many of those on no
// live list entry have field values due (the entities RefreshCandidates returns with
// Unlisted set).
func (s *Store) UnlistedDueCount(ctx context.Context, passStart, staleBefore time.Time) (persons, organizations, due int64, err error) {
	if persons, err = s.CountLive(ctx, EntityPerson); err != nil {
		return 0, 0, 0, err
	}
	if organizations, err = s.CountLive(ctx, EntityOrganization); err != nil {
		return 0, 0, 0, err
	}
	if err = s.pool.QueryRow(ctx, s.dueValuesSQL(true, nil)+` SELECT count(*) FROM due`, staleBefore, passStart).Scan(&due); err != nil {
		return 0, 0, 0, fmt.Errorf("count unlisted entities due: %w", err)
	}
	return persons, organizations, due, nil
}
