package loader

import (
	"context"
	"fmt"
	"time"
)

// AbandonRuns marks the runs still recorded as running as failed: a process
// that died (kill -9, power loss) could not record its end. Call it holding
// the schema's run lock, so that no live run is among them.
func (s *Store) AbandonRuns(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE `+s.table("sync_runs")+` SET status = 'failed',
			error = coalesce(error || '; ', '') || 'the process ended without recording the end of its run'
		WHERE status = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("abandon dead runs: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ResumeSince is the start of the run that the next run of streams continues:
// the oldest run, since the newest completed one, that covered at least the
// same streams and ended failed or with the budget spent. Streams that
// completed their pass after that moment need not run again to finish the
// interrupted pass. Nil when there is nothing to continue.
func (s *Store) ResumeSince(ctx context.Context, streams []string) (*time.Time, error) {
	var c cleaner
	var since *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(started_at) FROM `+s.table("sync_runs")+`
		WHERE id > coalesce((SELECT max(id) FROM `+s.table("sync_runs")+` WHERE status = 'completed'), 0)
		  AND status IN ('failed', 'budget_spent') AND streams @> $1`, c.strs(streams)).Scan(&since)
	if err != nil {
		return nil, fmt.Errorf("read the run to resume: %w", err)
	}
	return since, nil
}
