package loader_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// TestIntelligenceDueAtScale: the due queries of a large workspace (100,000 persons, 50,000
// organizations, 25,000 listed entities, a fetch recorded for half of them) each answer in one
// statement well within a plan's patience.
func TestIntelligenceDueAtScale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	for _, sql := range []string{
		`INSERT INTO ` + e.table("persons") + ` (id, type, synced_at, last_email_at, last_event_at, next_event_at, last_chat_message_at, last_interaction_at)
			SELECT i, (i % 10 = 0)::int, now(), $1::timestamptz - i * interval '1 minute', $1::timestamptz - i * interval '2 minutes',
				CASE WHEN i % 3 = 0 THEN $1::timestamptz + interval '3 days' END, CASE WHEN i % 5 = 0 THEN $1::timestamptz - interval '1 day' END,
				$1::timestamptz - i * interval '1 minute'
			FROM generate_series(1, 100000) i`,
		`INSERT INTO ` + e.table("organizations") + ` (id, name, synced_at, last_email_at, last_interaction_at)
			SELECT i, 'o', now(), $1::timestamptz - i * interval '1 minute', $1::timestamptz - i * interval '1 minute' FROM generate_series(1, 50000) i`,
		`INSERT INTO ` + e.table("opportunities") + ` (id, name, synced_at) SELECT i, 'x', now() FROM generate_series(1, 5000) i`,
		`INSERT INTO ` + e.table("lists") + ` (id, type, name, public, synced_at) VALUES (1, 0, 'p', true, now()), (2, 1, 'o', true, now()), (3, 8, 'x', true, now())`,
		`INSERT INTO ` + e.table("list_entries") + ` (id, list_id, entity_type, entity_id, synced_at)
			SELECT i, 1, 0, i * 7, now() FROM generate_series(1, 10000) i
			UNION ALL SELECT 100000 + i, 2, 1, i * 3, now() FROM generate_series(1, 10000) i
			UNION ALL SELECT 200000 + i, 3, 8, i, now() FROM generate_series(1, 5000) i`,
		`INSERT INTO ` + e.table("organization_persons") + ` SELECT i % 50000 + 1, i FROM generate_series(1, 100000) i`,
		`INSERT INTO ` + e.table("opportunity_persons") + ` SELECT i % 5000 + 1, i * 11 FROM generate_series(1, 9000) i`,
		`INSERT INTO ` + e.table("sync_interaction_fetches") + ` (entity_type, entity_id, interaction_type, fetched_at, last_email_at)
			SELECT 0, i, 3, $1::timestamptz - interval '1 day', $1::timestamptz - i * interval '1 minute' FROM generate_series(1, 100000, 2) i`,
		`INSERT INTO ` + e.table("sync_strength_fetches") + ` (person_id, fetched_at) SELECT i, $1::timestamptz FROM generate_series(1, 100000, 2) i`,
		`ANALYZE`,
	} {
		var args []any
		if strings.Contains(sql, "$1") {
			args = append(args, dueNow)
		}
		_, err := e.conn.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	began := time.Now()
	for _, scope := range []string{loader.ScopeListed, loader.ScopeAll} {
		q := loader.IntelligenceQuery{Scope: scope, Now: dueNow, Since: 365 * 24 * time.Hour, MaxAge: 30 * 24 * time.Hour}
		start := time.Now()
		due, err := e.store.InteractionsDue(ctx, q)
		require.NoError(t, err)
		require.NotEmpty(t, due)
		t.Logf("%s: InteractionsDue %d in %v", scope, len(due), time.Since(start))
		start = time.Now()
		strengths, err := e.store.StrengthsDue(ctx, q)
		require.NoError(t, err)
		require.NotEmpty(t, strengths)
		t.Logf("%s: StrengthsDue %d in %v", scope, len(strengths), time.Since(start))
		start = time.Now()
		files, err := e.store.FilesDue(ctx, q)
		require.NoError(t, err)
		require.Len(t, files, 25000)
		t.Logf("%s: FilesDue %d in %v", scope, len(files), time.Since(start))
		start = time.Now()
		c, err := e.store.IntelligenceCounts(ctx, q)
		require.NoError(t, err)
		require.Equal(t, int64(len(due)), c.InteractionPairs)
		require.Equal(t, int64(len(strengths)), c.StrengthsDue)
		t.Logf("%s: IntelligenceCounts %+v in %v", scope, c, time.Since(start))
	}
	// Measured at about 0.2 s a call (0.8 s for the 280,000 pairs of "all"); the bound only
	// catches a plan gone quadratic.
	require.Less(t, time.Since(began), 30*time.Second)
}
