package loader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The request ledger (sync_request_ledger) counts the API requests reserved per UTC day and
// per UTC month. The Store implements the quota package's Ledger with it.

const (
	periodDay   = "day"
	periodMonth = "month"
)

// ledgerPeriods checks the day and month a caller names and returns them as UTC dates.
func ledgerPeriods(day, month time.Time) (time.Time, time.Time, error) {
	day, month = day.UTC(), month.UTC()
	if day.IsZero() || month.IsZero() {
		return time.Time{}, time.Time{}, errors.New("day or month is zero")
	}
	if month.Day() != 1 {
		return time.Time{}, time.Time{}, fmt.Errorf("month %s is not the first of a month", month.Format(time.DateOnly))
	}
	if day.Year() != month.Year() || day.Month() != month.Month() {
		return time.Time{}, time.Time{}, fmt.Errorf("day %s is not in month %s", day.Format(time.DateOnly), month.Format("2006-01"))
	}
	return day, month, nil
}

// Reserve adds up to n requests to the counts of the UTC day and the UTC month and returns
// how many it added: n, or less when a cap (0 = none) would be passed, never below 0. Both
// rows are locked for the transaction, so reservations by several processes never add up
// past a cap.
func (s *Store) Reserve(ctx context.Context, day, month time.Time, n, dayCap, monthCap int64) (int64, error) {
	day, month, err := ledgerPeriods(day, month)
	if err != nil {
		return 0, fmt.Errorf("reserve requests: %w", err)
	}
	if n < 0 {
		return 0, fmt.Errorf("reserve requests: negative count %d", n)
	}
	if n == 0 {
		return 0, nil
	}
	var granted int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Rows are created and locked in one order (day, then month) by every caller, so
		// two reservations never deadlock.
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_request_ledger")+` (period, period_start)
			VALUES ($1, $2), ($3, $4) ON CONFLICT (period, period_start) DO NOTHING`,
			periodDay, day, periodMonth, month); err != nil {
			return fmt.Errorf("create rows: %w", err)
		}
		dayReserved, monthReserved, err := s.lockedCounts(ctx, tx, day, month)
		if err != nil {
			return err
		}
		granted = n
		if dayCap > 0 {
			granted = min(granted, dayCap-dayReserved)
		}
		if monthCap > 0 {
			granted = min(granted, monthCap-monthReserved)
		}
		granted = max(granted, 0)
		if granted == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE `+s.table("sync_request_ledger")+`
			SET reserved = reserved + $1, updated_at = now()
			WHERE (period = $2 AND period_start = $3) OR (period = $4 AND period_start = $5)`,
			granted, periodDay, day, periodMonth, month); err != nil {
			return fmt.Errorf("add %d: %w", granted, err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reserve requests for %s: %w", day.Format(time.DateOnly), err)
	}
	return granted, nil
}

// lockedCounts reads the day's and the month's rows FOR UPDATE, in the order day, month.
func (s *Store) lockedCounts(ctx context.Context, tx pgx.Tx, day, month time.Time) (int64, int64, error) {
	rows, err := tx.Query(ctx, `SELECT period, reserved FROM `+s.table("sync_request_ledger")+`
		WHERE (period = $1 AND period_start = $2) OR (period = $3 AND period_start = $4)
		ORDER BY period
		FOR UPDATE`, periodDay, day, periodMonth, month)
	if err != nil {
		return 0, 0, fmt.Errorf("lock rows: %w", err)
	}
	counts, err := collectCounts(rows)
	if err != nil {
		return 0, 0, fmt.Errorf("lock rows: %w", err)
	}
	return counts[periodDay], counts[periodMonth], nil
}

func collectCounts(rows pgx.Rows) (map[string]int64, error) {
	counts := make(map[string]int64, 2)
	var (
		period   string
		reserved int64
	)
	_, err := pgx.ForEachRow(rows, []any{&period, &reserved}, func() error {
		counts[period] = reserved
		return nil
	})
	return counts, err
}

// Release gives back n requests that were reserved but never sent, on the day and the
// month they were reserved in. A count never drops below 0.
func (s *Store) Release(ctx context.Context, day, month time.Time, n int64) error {
	day, month, err := ledgerPeriods(day, month)
	if err != nil {
		return fmt.Errorf("release requests: %w", err)
	}
	if n < 0 {
		return fmt.Errorf("release requests: negative count %d", n)
	}
	if n == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE `+s.table("sync_request_ledger")+`
		SET reserved = greatest(reserved - $1, 0), updated_at = now()
		WHERE (period = $2 AND period_start = $3) OR (period = $4 AND period_start = $5)`,
		n, periodDay, day, periodMonth, month); err != nil {
		return fmt.Errorf("release requests for %s: %w", day.Format(time.DateOnly), err)
	}
	return nil
}

// Spent returns the requests reserved on the UTC day and in the UTC month (0 for a period
// with no row).
func (s *Store) Spent(ctx context.Context, day, month time.Time) (dayUsed, monthUsed int64, err error) {
	day, month, err = ledgerPeriods(day, month)
	if err != nil {
		return 0, 0, fmt.Errorf("read request ledger: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT period, reserved FROM `+s.table("sync_request_ledger")+`
		WHERE (period = $1 AND period_start = $2) OR (period = $3 AND period_start = $4)`,
		periodDay, day, periodMonth, month)
	if err != nil {
		return 0, 0, fmt.Errorf("read request ledger: %w", err)
	}
	counts, err := collectCounts(rows)
	if err != nil {
		return 0, 0, fmt.Errorf("read request ledger: %w", err)
	}
	return counts[periodDay], counts[periodMonth], nil
}
