package loader_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

func TestEntityKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind                                  loader.EntityKind
		code                                  int
		name, table, v1, v2, v2Type, selector string
	}{
		{loader.EntityPerson, 0, "person", "persons", "persons", "persons", "person", "person_id"},
		{loader.EntityOrganization, 1, "organization", "organizations", "organizations", "companies", "company", "organization_id"},
		{loader.EntityOpportunity, 8, "opportunity", "opportunities", "opportunities", "opportunities", "opportunity", "opportunity_id"},
	} {
		require.Equal(t, tc.code, int(tc.kind))
		require.True(t, tc.kind.Valid())
		require.Equal(t, tc.name, tc.kind.String())
		require.Equal(t, tc.table, tc.kind.Table())
		got, ok := loader.ParseEntityKind(tc.name)
		require.True(t, ok, tc.name)
		require.Equal(t, tc.kind, got)
		require.Equal(t, tc.v1, tc.kind.V1Noun())
		require.Equal(t, tc.v2, tc.kind.V2Noun())
		require.Equal(t, tc.v2Type, tc.kind.V2EntryType())
		require.Equal(t, tc.selector, tc.kind.SelectorParam())
		got, ok = loader.ParseV2EntryType(tc.v2Type)
		require.True(t, ok, tc.v2Type)
		require.Equal(t, tc.kind, got)
	}
	require.Equal(t, loader.EntityKinds(), []loader.EntityKind{0, 1, 8})
	odd := loader.EntityKind(5)
	require.False(t, odd.Valid())
	require.Equal(t, "entity type 5", odd.String())
	require.Empty(t, odd.Table())
	require.Empty(t, odd.V1Noun())
	require.Empty(t, odd.V2Noun())
	require.Empty(t, odd.V2EntryType())
	require.Empty(t, odd.SelectorParam())
	for _, name := range []string{"list", ""} {
		_, ok := loader.ParseEntityKind(name)
		require.False(t, ok, name)
		_, ok = loader.ParseV2EntryType(name)
		require.False(t, ok, name)
	}
	_, ok := loader.ParseV2EntryType("organization")
	require.False(t, ok)
}
