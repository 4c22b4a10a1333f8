package loader_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// freshness returns the (values, details) freshness times of every entity as "type:id:v:d",
// with "-" for null.
func (e env) freshness(t *testing.T) []string {
	t.Helper()
	rows, err := e.conn.Query(t.Context(), `SELECT format('%s:%s:%s:%s', entity_type, entity_id,
			CASE WHEN values_synced_at IS NULL THEN '-' ELSE 'v' END,
			CASE WHEN details_synced_at IS NULL THEN '-' ELSE 'd' END)
		FROM `+e.table("sync_entity_freshness")+` ORDER BY entity_type, entity_id`)
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

func (e env) checkpointStreams(t *testing.T) []string {
	t.Helper()
	cps, err := e.store.Checkpoints(t.Context())
	require.NoError(t, err)
	out := []string{}
	for _, c := range cps {
		out = append(out, c.Stream)
	}
	return out
}

func TestResetStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()

	// A finished pass of persons, notes and field_values, a pass in progress of
	// organization_details, and freshness for a person (values) and an organization (both).
	for _, s := range []string{"persons", "notes", "field_values"} {
		require.NoError(t, e.store.FinishStream(ctx, s))
	}
	e.commit(t, loader.Page{Checkpoint: cp("organization_details", t0, "p9"), SeenAt: t0,
		OrganizationPersons: []loader.OrganizationPersons{{OrganizationID: 5, PersonIDs: []int64{1}}}})
	e.commit(t, loader.Page{Checkpoint: cp("field_values", t0, ""), SeenAt: t0, EntityValues: []loader.EntityValues{
		{EntityType: 0, EntityID: 1}, {EntityType: 1, EntityID: 5},
	}})
	require.Equal(t, []string{"0:1:v:-", "1:5:v:d"}, e.freshness(t))
	require.Equal(t, []string{"field_values", "notes", "organization_details", "persons"}, e.checkpointStreams(t))

	// Resetting persons and organization_details: their checkpoints go, the details freshness
	// is cleared, values freshness and the other streams stay.
	require.NoError(t, e.store.ResetStreams(ctx, []loader.StreamReset{{Stream: "persons"},
		{Stream: "organization_details", Freshness: loader.FreshnessDetails}}))
	require.Equal(t, []string{"field_values", "notes"}, e.checkpointStreams(t))
	require.Equal(t, []string{"0:1:v:-", "1:5:v:-"}, e.freshness(t))
	got, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.Equal(t, loader.Checkpoint{Stream: "persons"}, got, "a reset stream starts from nothing")

	// The entities whose details were cleared are due again.
	due, err := e.store.DetailsCandidates(ctx, loader.DetailsQuery{PassStart: t0.Add(time.Hour), StaleBefore: t0.Add(-time.Hour), Limit: 10})
	require.NoError(t, err)
	require.Empty(t, due, "no organization rows exist, so none is due") // details are read for live organizations only
	e.commit(t, loader.Page{Checkpoint: cp("organizations", t0, ""), SeenAt: t0, Organizations: []loader.Organization{{ID: 5, Name: "x"}}})
	due, err = e.store.DetailsCandidates(ctx, loader.DetailsQuery{PassStart: t0.Add(time.Hour), StaleBefore: t0.Add(-time.Hour), Limit: 10})
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Nil(t, due[0].SyncedAt, "never fetched as far as the refresh knows")

	// field_values: checkpoint and values freshness go.
	require.NoError(t, e.store.ResetStreams(ctx, []loader.StreamReset{{Stream: "field_values", Freshness: loader.FreshnessValues}}))
	require.Equal(t, []string{"notes", "organizations"}, e.checkpointStreams(t))
	require.Equal(t, []string{"0:1:-:-", "1:5:-:-"}, e.freshness(t))

	require.NoError(t, e.store.ResetStreams(ctx, nil), "nothing to reset is fine")
}
