package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChangeHistoryRead says that a tracked field's whole change history was read through API v1
// in a request sent at ReadAt: every change of the field made before is stored once the page
// that carries it commits.
type ChangeHistoryRead struct {
	FieldID int64
	ReadAt  time.Time
}

// FeedMark moves the v2 change feed's bookkeeping in the transaction of the page that carries
// it: Watermark to the newest changed_at the page's feed records hold (it never moves back),
// ProbedAt when the page passed the probe.
type FeedMark struct {
	Watermark *time.Time
	ProbedAt  *time.Time
}

// merge keeps the later of each time.
func (m *FeedMark) merge(o FeedMark) {
	later := func(a, b *time.Time) *time.Time {
		if a == nil || (b != nil && b.After(*a)) {
			return b
		}
		return a
	}
	m.Watermark, m.ProbedAt = later(m.Watermark, o.Watermark), later(m.ProbedAt, o.ProbedAt)
}

// ChangeFeedState is where the change feed stands for the tracked fields in scope.
type ChangeFeedState struct {
	Watermark *time.Time // the newest changed_at of the feed pages stored; nil before the first
	ProbedAt  *time.Time // when the feed last passed the probe; nil = never
	// Read holds, by field id, when each field's last complete v1 history read was sent.
	Read map[int64]time.Time
}

// ChangeFeedState reads the feed's bookkeeping. It first forgets the history reads of the
// fields not in scope (deleted, no longer tracked, or on a list left out of sync.lists): a
// field that comes back into scope is read whole through v1 again, since the feed skipped its
// changes meanwhile.
func (s *Store) ChangeFeedState(ctx context.Context, scope []int64) (ChangeFeedState, error) {
	st := ChangeFeedState{Read: map[int64]time.Time{}}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.table("sync_change_histories")+` WHERE NOT field_id = ANY($1)`, scope); err != nil {
			return fmt.Errorf("forget the change histories out of scope: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT field_id, read_at FROM `+s.table("sync_change_histories"))
		if err != nil {
			return err
		}
		var id int64
		var at time.Time
		if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error {
			st.Read[id] = at
			return nil
		}); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT watermark, probed_at FROM `+s.table("sync_change_feed")).Scan(&st.Watermark, &st.ProbedAt)
		if err == pgx.ErrNoRows {
			return nil
		}
		return err
	})
	if err != nil {
		return ChangeFeedState{}, fmt.Errorf("read the change feed's state: %w", err)
	}
	return st, nil
}

// commitChangeFeed writes a page's history reads and feed mark in its transaction.
func (s *Store) commitChangeFeed(ctx context.Context, tx pgx.Tx, reads []ChangeHistoryRead, mark FeedMark) error {
	for _, r := range reads {
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_change_histories")+` (field_id, read_at) VALUES ($1, $2)
			ON CONFLICT (field_id) DO UPDATE SET read_at = GREATEST(excluded.read_at, `+s.table("sync_change_histories")+`.read_at)`,
			r.FieldID, r.ReadAt); err != nil {
			return fmt.Errorf("record the change history of field %d: %w", r.FieldID, err)
		}
	}
	if mark.Watermark == nil && mark.ProbedAt == nil {
		return nil
	}
	t := s.table("sync_change_feed")
	if _, err := tx.Exec(ctx, `INSERT INTO `+t+` (singleton, watermark, probed_at, updated_at) VALUES (true, $1, $2, now())
		ON CONFLICT (singleton) DO UPDATE SET
			watermark = GREATEST(`+t+`.watermark, excluded.watermark),
			probed_at = GREATEST(`+t+`.probed_at, excluded.probed_at),
			updated_at = now()`, mark.Watermark, mark.ProbedAt); err != nil {
		return fmt.Errorf("move the change feed's watermark: %w", err)
	}
	return nil
}
