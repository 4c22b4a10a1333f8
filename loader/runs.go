package loader

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// RunResult is the outcome of a run. Status is one of "running", "completed", "partial"
// (every requested stream finished but --streams limited the run), "budget_spent", "failed".
type RunResult struct {
	Status          string
	Streams         []string
	Requests        int64
	Rows            int64
	NULsReplaced    int64
	Error           string // must never carry the API key; the caller builds it
	AllowMassDelete bool
	// RequestsByStream splits Requests by what sent them (each stream, the workspace check);
	// nil when not known (a run still running, or one recorded before it was kept).
	RequestsByStream map[string]int64
}

// Run is a recorded run.
type Run struct {
	ID        int64
	StartedAt time.Time
	EndedAt   *time.Time
	RunResult
}

// StartRun records a new run in status "running" and returns its id.
func (s *Store) StartRun(ctx context.Context, streams []string) (int64, error) {
	return s.StartJobRun(ctx, "", streams)
}

// StartJobRun records a new run of the daemon's scheduled job (sync_runs.job: "sync",
// "changes"; "" = none, a run of the sync command) in status "running" and returns its id.
func (s *Store) StartJobRun(ctx context.Context, job string, streams []string) (int64, error) {
	var c cleaner
	var id int64
	var jobName *string
	if job != "" {
		jobName = &job
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO `+s.table("sync_runs")+` (status, streams, job)
		VALUES ('running', $1, $2) RETURNING id`, c.strs(streams), jobName).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("start run: %w", err)
	}
	return id, nil
}

// FinishRun records the outcome of run id. The end time is now, unless the status is still
// "running" (a progress update). Streams are replaced only when r.Streams is not nil. The
// requests by stream are written in the same statement as the rest.
func (s *Store) FinishRun(ctx context.Context, id int64, r RunResult) error {
	var c cleaner
	var streams []string
	if r.Streams != nil {
		streams = c.strs(r.Streams)
	}
	var errText *string
	if r.Error != "" {
		e := c.str(r.Error)
		errText = &e
	}
	tag, err := s.pool.Exec(ctx, `UPDATE `+s.table("sync_runs")+` SET
			status = $2,
			ended_at = CASE WHEN $2 = 'running' THEN NULL ELSE now() END,
			streams = coalesce($3, streams),
			requests = $4, rows_written = $5, nuls_replaced = $6, error = $7, allow_mass_delete = $8,
			requests_by_stream = $9
		WHERE id = $1`, id, r.Status, streams, r.Requests, r.Rows, r.NULsReplaced, errText, r.AllowMassDelete, r.RequestsByStream)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish run %d: no such run", id)
	}
	return nil
}

// RecentRuns returns the newest n runs, newest first.
func (s *Store) RecentRuns(ctx context.Context, n int) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, started_at, ended_at, status, streams, requests, rows_written,
			nuls_replaced, coalesce(error, ''), allow_mass_delete, requests_by_stream
		FROM `+s.table("sync_runs")+` ORDER BY started_at DESC, id DESC LIMIT $1`, max(n, 0))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) {
		var run Run
		err := r.Scan(&run.ID, &run.StartedAt, &run.EndedAt, &run.Status, &run.Streams, &run.Requests,
			&run.Rows, &run.NULsReplaced, &run.Error, &run.AllowMassDelete, &run.RequestsByStream)
		return run, err
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// JobRunRequests returns the requests of the newest n runs of job that did all their work
// (status completed or partial), newest first: the runs recorded with that job, and the runs
// recorded without one (the sync command, runs from before sync_runs.job) whose streams are
// exactly streams, in any order.
func (s *Store) JobRunRequests(ctx context.Context, job string, streams []string, n int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT requests FROM `+s.table("sync_runs")+`
		WHERE status IN ('completed', 'partial')
		  AND (job = $1 OR (job IS NULL AND streams @> $2::text[] AND streams <@ $2::text[]))
		ORDER BY started_at DESC, id DESC LIMIT $3`, job, streams, max(n, 0))
	if err != nil {
		return nil, fmt.Errorf("read the requests of %s runs: %w", job, err)
	}
	requests, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read the requests of %s runs: %w", job, err)
	}
	return requests, nil
}

// TableCount is the size of one warehouse table.
type TableCount struct {
	Table   string
	Live    int64 // rows with deleted_at null (every row for tables without deleted_at)
	Deleted int64 // soft-deleted rows
}

// warehouseTable is one table of the warehouse contract, as the catalog describes it.
type warehouseTable struct {
	name       string
	softDelete bool // it has deleted_at
}

// warehouseTables lists the warehouse's tables in the order the migrations created them:
// every table of the schema but the sync_ bookkeeping and goose's version table, so a table a
// new migration adds is counted without naming it here.
func (s *Store) warehouseTables(ctx context.Context, db querier) ([]warehouseTable, error) {
	rows, err := db.Query(ctx, `SELECT c.relname,
			EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'deleted_at' AND NOT a.attisdropped)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
		  AND c.relname NOT LIKE 'sync\_%' AND c.relname <> 'goose_db_version'
		ORDER BY c.oid`, s.schema)
	if err != nil {
		return nil, fmt.Errorf("list warehouse tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (warehouseTable, error) {
		var t warehouseTable
		err := r.Scan(&t.name, &t.softDelete)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list warehouse tables: %w", err)
	}
	return tables, nil
}

// TableCounts returns live and soft-deleted row counts of every warehouse table.
func (s *Store) TableCounts(ctx context.Context) ([]TableCount, error) {
	return s.tableCounts(ctx, s.pool)
}

func (s *Store) tableCounts(ctx context.Context, db querier) ([]TableCount, error) {
	tables, err := s.warehouseTables(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("count tables: %w", err)
	}
	parts := make([]string, len(tables))
	for i, t := range tables {
		counts := `count(*), 0::bigint`
		if t.softDelete {
			counts = `count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL)`
		}
		parts[i] = fmt.Sprintf(`SELECT %d, %s FROM %s`, i, counts, s.table(t.name))
	}
	rows, err := db.Query(ctx, strings.Join(parts, " UNION ALL ")+" ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("count tables: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableCount, error) {
		var i int
		var tc TableCount
		if err := r.Scan(&i, &tc.Live, &tc.Deleted); err != nil {
			return tc, err
		}
		tc.Table = tables[i].name
		return tc, nil
	})
	if err != nil {
		return nil, fmt.Errorf("count tables: %w", err)
	}
	return out, nil
}
