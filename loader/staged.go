package loader

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// onConflict is what merging a staged row does to the stored row of the same key.
type onConflict int

const (
	// reviveRow overwrites every column written but the key and clears deleted_at: a row
	// written is live again. The table has a deleted_at column.
	reviveRow onConflict = iota
	// overwriteRow overwrites every column written but the key, for a table without
	// deleted_at.
	overwriteRow
	// keepRow leaves the stored row as it is (ON CONFLICT DO NOTHING): append-only history.
	keepRow
)

// stagedTable describes a warehouse table written in bulk: a batch of rows is copied (COPY)
// into a staging table, then merged into the table by key in one
// INSERT … SELECT DISTINCT ON (key) … ON CONFLICT statement. Writing a new table this way is
// describing it here and calling writeStaged.
type stagedTable struct {
	name string   // the warehouse table
	key  []string // the conflict key: cols start with it
	cols []string // the columns written, key first; a row holds them in this order
	// onConflict is what a row whose key is stored does to the stored row.
	onConflict onConflict
	// stageDDL, when set, defines the staging table's columns instead of a LIKE twin of the
	// table (whose NOT NULL columns the rows may not all fill), and stageCols names them in
	// the order a row holds them; the staging columns not in cols (an ordinal, say) serve
	// statements of the caller's own and are not merged.
	stageDDL  string
	stageCols []string
}

// idKey is the key of the tables keyed by Affinity id alone.
var idKey = []string{"id"}

// writeStaged stages rows for t and merges them into t inside tx, and returns how many rows
// it inserted or updated (rows with the same key are written once).
func (s *Store) writeStaged(ctx context.Context, tx pgx.Tx, t stagedTable, rows [][]any) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	stage, err := s.stageRows(ctx, tx, t, rows)
	if err != nil {
		return 0, err
	}
	return s.mergeStaged(ctx, tx, t, stage)
}

// stageRows empties t's staging table, copies rows into it and returns its quoted name, for
// mergeStaged or a statement of the caller's own.
//
// The staging table lives as long as the connection and is emptied at every commit: creating
// and dropping one per transaction cost more than the COPY it serves (catalog writes). DELETE
// empties it should one transaction stage the same table twice; on an empty table it is free.
// The name carries the schema's run-lock id, so two warehouses sharing a pool connection's
// session never share a staging table.
func (s *Store) stageRows(ctx context.Context, tx pgx.Tx, t stagedTable, rows [][]any) (string, error) {
	name := fmt.Sprintf("_page_%s_%x", t.name, uint64(RunLockID(s.schema)))
	columns, cols := `LIKE `+s.table(t.name), t.cols
	if t.stageDDL != "" {
		columns, cols = t.stageDDL, t.stageCols
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+pgx.Identifier{name}.Sanitize()+
		` (`+columns+`) ON COMMIT DELETE ROWS`); err != nil {
		return "", fmt.Errorf("create staging table: %w", err)
	}
	stage := pgx.Identifier{"pg_temp", name}.Sanitize()
	if _, err := tx.Exec(ctx, `DELETE FROM `+stage); err != nil {
		return "", fmt.Errorf("empty staging table: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", name}, cols, pgx.CopyFromRows(rows)); err != nil {
		return "", fmt.Errorf("copy rows: %w", err)
	}
	return stage, nil
}

// mergeStaged merges the rows staged in stage into t, one per key, and returns how many rows
// it inserted or updated.
func (s *Store) mergeStaged(ctx context.Context, tx pgx.Tx, t stagedTable, stage string) (int64, error) {
	tag, err := tx.Exec(ctx, s.mergeSQL(t, stage))
	if err != nil {
		return 0, fmt.Errorf("merge rows: %w", err)
	}
	return tag.RowsAffected(), nil
}

// mergeSQL is the statement of mergeStaged.
func (s *Store) mergeSQL(t stagedTable, stage string) string {
	quoted := make([]string, len(t.cols))
	sets := make([]string, 0, len(t.cols)+1)
	for i, col := range t.cols {
		quoted[i] = pgx.Identifier{col}.Sanitize()
		if i >= len(t.key) {
			sets = append(sets, quoted[i]+" = EXCLUDED."+quoted[i])
		}
	}
	keys := strings.Join(quoted[:len(t.key)], ", ")
	list := strings.Join(quoted, ", ")
	into, from, action := list, list, "DO NOTHING"
	switch t.onConflict {
	case reviveRow:
		into, from = list+", deleted_at", list+", NULL::timestamptz"
		action = "DO UPDATE SET " + strings.Join(append(sets, "deleted_at = NULL"), ", ")
	case overwriteRow:
		if len(sets) > 0 {
			action = "DO UPDATE SET " + strings.Join(sets, ", ")
		}
	}
	return `INSERT INTO ` + s.table(t.name) + ` (` + into + `)
		SELECT DISTINCT ON (` + keys + `) ` + from + ` FROM ` + stage + ` ORDER BY ` + keys + `
		ON CONFLICT (` + keys + `) ` + action
}
