package loader

import (
	"context"
	"fmt"
)

// CountStoredChanges is how many rows of field_value_changes have one of ids (bench --day
// checks that every change it made is stored exactly once).
func (s *Store) CountStoredChanges(ctx context.Context, ids []int64) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+s.table("field_value_changes")+` WHERE id = ANY($1)`, ids).Scan(&n); err != nil {
		return 0, fmt.Errorf("count stored changes: %w", err)
	}
	return n, nil
}
