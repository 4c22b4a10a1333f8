package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/affinity-sync/affinity-sync/migrations"
)

// RunLockID is the advisory lock that lets one sync run at a time per schema,
// across processes and replicas.
func RunLockID(schema string) int64 { return migrations.AdvisoryLockID("run", schema) }

// TryRunLock takes the schema's run lock on a connection of its own, without
// waiting. ok is false when another process holds it. release gives it back;
// a process that dies loses it with its connection.
func (s *Store) TryRunLock(ctx context.Context) (release func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("take run lock: %w", err)
	}
	id := RunLockID(s.schema)
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("take run lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, id); err != nil {
			// The lock goes with the connection: close it rather than
			// return a connection that may still hold it.
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, true, nil
}

// LastCompletedRun is the end of the newest run recorded as completed, by sync
// or the daemon; nil when there is none.
func (s *Store) LastCompletedRun(ctx context.Context) (*time.Time, error) {
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(ended_at) FROM `+s.table("sync_runs")+` WHERE status = 'completed'`).Scan(&at)
	if err != nil {
		return nil, fmt.Errorf("read last complete run: %w", err)
	}
	return at, nil
}
