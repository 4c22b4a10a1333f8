package loader_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
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
