package loader_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

func TestEntityKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind        loader.EntityKind
		code        int
		name, table string
	}{
		{loader.EntityPerson, 0, "person", "persons"},
		{loader.EntityOrganization, 1, "organization", "organizations"},
		{loader.EntityOpportunity, 8, "opportunity", "opportunities"},
	} {
		require.Equal(t, tc.code, int(tc.kind))
		require.True(t, tc.kind.Valid())
		require.Equal(t, tc.name, tc.kind.String())
		require.Equal(t, tc.table, tc.kind.Table())
		got, ok := loader.ParseEntityKind(tc.name)
		require.True(t, ok, tc.name)
		require.Equal(t, tc.kind, got)
	}
	require.Equal(t, loader.EntityKinds(), []loader.EntityKind{0, 1, 8})
	odd := loader.EntityKind(5)
	require.False(t, odd.Valid())
	require.Equal(t, "entity type 5", odd.String())
	require.Empty(t, odd.Table())
	_, ok := loader.ParseEntityKind("list")
	require.False(t, ok)
}
