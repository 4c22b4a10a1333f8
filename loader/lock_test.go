package loader_test

import (
	"hash/fnv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/migrations"
)

func TestRunLockIsExclusivePerSchema(t *testing.T) {
	t.Parallel()
	a := newEnv(t, "affinity")
	ctx := t.Context()
	// A second process on the same schema: its own pool.
	b, err := loader.Open(ctx, a.url, a.schema, nil)
	require.NoError(t, err)
	t.Cleanup(b.Close)

	release, ok, err := a.store.TryRunLock(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = b.TryRunLock(ctx)
	require.NoError(t, err)
	require.False(t, ok, "another process holds the schema's run lock")

	// Another schema in the same database is not blocked.
	require.NotEqual(t, loader.RunLockID("affinity"), loader.RunLockID("other"))

	release()
	releaseB, ok, err := b.TryRunLock(ctx)
	require.NoError(t, err)
	require.True(t, ok, "the lock is free once released")
	releaseB()
}

// TestLockIDsAreStable: the lock ids come from one helper and keep the values earlier
// versions used, so a new binary and an old one still exclude each other.
func TestLockIDsAreStable(t *testing.T) {
	t.Parallel()
	hash := func(s string) int64 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(s))
		return int64(h.Sum64())
	}
	require.Equal(t, hash("affinity-sync:run:affinity"), loader.RunLockID("affinity"))
	require.Equal(t, hash("affinity-sync:migrate:affinity"), migrations.LockID("affinity"))
	require.Equal(t, migrations.AdvisoryLockID("run", "affinity"), loader.RunLockID("affinity"))
}
