package loader

import (
	"context"
	"fmt"
)

// RefreshStream names the rows a targeted refresh writes in logs and errors.
const RefreshStream = "refresh"

// CommitRefresh writes the rows of a targeted refresh (a webhook, a single GET) in one
// transaction exactly as CommitPage does — de-duplication, set replacements of values and
// associations, freshness — but touches no checkpoint: p.Checkpoint is ignored and no
// stream's pass moves.
func (s *Store) CommitRefresh(ctx context.Context, p Page) (PageStats, error) {
	p.Checkpoint = Checkpoint{Stream: RefreshStream}
	p.noCheckpoint = true
	stats, err := s.CommitPage(ctx, p)
	if err != nil {
		return stats, fmt.Errorf("commit refresh: %w", err)
	}
	return stats, nil
}
