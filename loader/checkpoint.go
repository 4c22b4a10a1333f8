package loader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Checkpoint is where a stream's pass stands. It is committed with the rows of every page.
type Checkpoint struct {
	Stream        string
	Phase         string    // sub-pass of a stream, e.g. "" or "interaction_dates"
	PageToken     string    // next page to fetch; "" = start of the phase
	PassStartedAt time.Time // zero = no pass in progress
	Pages, Rows   int64     // fetched so far in this pass
	// LastCompletedAt is the end of the last complete pass of the stream. Only FinishStream
	// changes it; the value given to CommitPage or CompletePhase is used only when the
	// stream has no checkpoint row yet.
	LastCompletedAt *time.Time
}

const checkpointColumns = `stream, phase, page_token, pass_started_at, pages, rows_fetched, last_completed_at`

func scanCheckpoint(row pgx.Row) (Checkpoint, error) {
	var (
		cp      Checkpoint
		started *time.Time
	)
	if err := row.Scan(&cp.Stream, &cp.Phase, &cp.PageToken, &started, &cp.Pages, &cp.Rows, &cp.LastCompletedAt); err != nil {
		return Checkpoint{}, err
	}
	if started != nil {
		cp.PassStartedAt = *started
	}
	return cp, nil
}

// LoadCheckpoint returns the stream's checkpoint, or the zero value with Stream set when the
// stream has none.
func (s *Store) LoadCheckpoint(ctx context.Context, stream string) (Checkpoint, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+checkpointColumns+` FROM `+s.table("sync_checkpoints")+` WHERE stream = $1`, stream)
	cp, err := scanCheckpoint(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Checkpoint{Stream: stream}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("load checkpoint %s: %w", stream, err)
	}
	return cp, nil
}

// Checkpoints returns every stream's checkpoint, by stream name.
func (s *Store) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+checkpointColumns+` FROM `+s.table("sync_checkpoints")+` ORDER BY stream`)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	cps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Checkpoint, error) { return scanCheckpoint(r) })
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return cps, nil
}

// saveCheckpoint writes cp inside tx. last_completed_at is kept as stored.
func (s *Store) saveCheckpoint(ctx context.Context, tx pgx.Tx, cp Checkpoint) error {
	if cp.Stream == "" {
		return errors.New("save checkpoint: stream name is empty")
	}
	var c cleaner
	var started *time.Time
	if !cp.PassStartedAt.IsZero() {
		started = &cp.PassStartedAt
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_checkpoints")+` (`+checkpointColumns+`, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now())
		ON CONFLICT (stream) DO UPDATE SET
			phase = EXCLUDED.phase,
			page_token = EXCLUDED.page_token,
			pass_started_at = EXCLUDED.pass_started_at,
			pages = EXCLUDED.pages,
			rows_fetched = EXCLUDED.rows_fetched,
			updated_at = now()`,
		cp.Stream, c.str(cp.Phase), c.str(cp.PageToken), started, cp.Pages, cp.Rows, cp.LastCompletedAt)
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", cp.Stream, err)
	}
	return nil
}

// FinishStream ends the stream's pass: no pass in progress, and the last complete pass ends now.
func (s *Store) FinishStream(ctx context.Context, stream string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.finishStream(ctx, tx, stream) })
}

func (s *Store) finishStream(ctx context.Context, tx pgx.Tx, stream string) error {
	_, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_checkpoints")+` (`+checkpointColumns+`, updated_at)
		VALUES ($1, '', '', NULL, 0, 0, now(), now())
		ON CONFLICT (stream) DO UPDATE SET
			phase = '', page_token = '', pass_started_at = NULL, pages = 0, rows_fetched = 0,
			last_completed_at = now(), updated_at = now()`, stream)
	if err != nil {
		return fmt.Errorf("finish stream %s: %w", stream, err)
	}
	return nil
}
