package loader_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// workspaceRows returns the stored workspace rows as text.
func (e env) workspaceRows(t *testing.T) []string {
	t.Helper()
	rows, err := e.conn.Query(t.Context(), `SELECT format('%s|%s|%s|%s', tenant_id, name, subdomain, first_seen)
		FROM `+e.table("sync_workspace")+` ORDER BY tenant_id`)
	require.NoError(t, err)
	out := []string{}
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestCheckWorkspace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()

	// First use records the workspace.
	existing, err := e.store.CheckWorkspace(ctx, 4242, "Our Fund", "ourfund")
	require.NoError(t, err)
	require.Nil(t, existing)
	rows := e.workspaceRows(t)
	require.Len(t, rows, 1)
	require.Regexp(t, `^4242\|Our Fund\|ourfund\|`, rows[0])

	// The same tenant passes and gets the stored workspace back.
	existing, err = e.store.CheckWorkspace(ctx, 4242, "Our Fund", "ourfund")
	require.NoError(t, err)
	require.NotNil(t, existing)
	require.Equal(t, int64(4242), existing.TenantID)
	require.Equal(t, "Our Fund", existing.Name)
	require.False(t, existing.FirstSeen.IsZero())
	require.Equal(t, rows, e.workspaceRows(t), "nothing changes")

	// Another tenant is refused with both named, and nothing is written.
	existing, err = e.store.CheckWorkspace(ctx, 17, "Other Capital", "other")
	var mismatch *loader.WorkspaceMismatchError
	require.True(t, errors.As(err, &mismatch), "got %v", err)
	require.Equal(t, int64(4242), mismatch.Have.TenantID)
	require.Equal(t, "Our Fund", mismatch.Have.Name)
	require.Equal(t, loader.Workspace{TenantID: 17, Name: "Other Capital", Subdomain: "other"}, mismatch.Got)
	require.Equal(t, mismatch.Have, *existing)
	for _, part := range []string{`"Our Fund" (tenant 4242)`, `"Other Capital" (tenant 17)`, "nothing written"} {
		require.Contains(t, err.Error(), part)
	}
	require.Equal(t, rows, e.workspaceRows(t), "a refused key writes nothing")

	// The same tenant renamed keeps its first_seen and takes the new name.
	existing, err = e.store.CheckWorkspace(ctx, 4242, "Our Fund II", "ourfund2")
	require.NoError(t, err)
	require.Equal(t, "Our Fund", existing.Name, "the workspace as it was stored")
	after := e.workspaceRows(t)
	require.Len(t, after, 1)
	require.Regexp(t, `^4242\|Our Fund II\|ourfund2\|`, after[0])
	require.Equal(t, rows[0][len("4242|Our Fund|ourfund|"):], after[0][len("4242|Our Fund II|ourfund2|"):], "first_seen kept")
}

func TestCheckWorkspaceConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	// Two first syncs of different tenants at once: exactly one records its workspace, the
	// other is refused.
	errs := make(chan error, 2)
	for _, id := range []int64{1, 2} {
		go func() {
			_, err := e.store.CheckWorkspace(ctx, id, "tenant", "t")
			errs <- err
		}()
	}
	var refused int
	for range 2 {
		if err := <-errs; err != nil {
			var mismatch *loader.WorkspaceMismatchError
			require.True(t, errors.As(err, &mismatch), "got %v", err)
			refused++
		}
	}
	require.Equal(t, 1, refused)
	require.Len(t, e.workspaceRows(t), 1)
}
