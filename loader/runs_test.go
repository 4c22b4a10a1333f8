package loader_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

func TestRunsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()

	first, err := e.store.StartRun(ctx, []string{"persons", "organizations"})
	require.NoError(t, err)
	second, err := e.store.StartRun(ctx, nil)
	require.NoError(t, err)
	require.Greater(t, second, first)

	require.NoError(t, e.store.FinishRun(ctx, first, loader.RunResult{
		Status: "failed", Requests: 12, Rows: 3400, NULsReplaced: 2, Error: "stream persons: boom\x00", AllowMassDelete: true,
		RequestsByStream: map[string]int64{"(workspace check)": 1, "persons": 11},
	}))
	require.NoError(t, e.store.FinishRun(ctx, second, loader.RunResult{Status: "running", Streams: []string{"lists"}, Requests: 1}))
	require.ErrorContains(t, e.store.FinishRun(ctx, 999, loader.RunResult{Status: "completed"}), "no such run")
	require.Error(t, e.store.FinishRun(ctx, first, loader.RunResult{Status: "bogus"}), "status is checked")

	runs, err := e.store.RecentRuns(ctx, 10)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, second, runs[0].ID, "newest first")
	require.Nil(t, runs[0].EndedAt, "still running")
	require.Nil(t, runs[0].RequestsByStream, "not known while running")
	require.Equal(t, []string{"lists"}, runs[0].Streams)
	r := runs[1]
	require.Equal(t, first, r.ID)
	require.NotNil(t, r.EndedAt)
	require.False(t, r.StartedAt.IsZero())
	require.Equal(t, loader.RunResult{Status: "failed", Streams: []string{"persons", "organizations"}, Requests: 12,
		Rows: 3400, NULsReplaced: 2, Error: "stream persons: boom\uFFFD", AllowMassDelete: true,
		RequestsByStream: map[string]int64{"(workspace check)": 1, "persons": 11}}, r.RunResult)

	runs, err = e.store.RecentRuns(ctx, 1)
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

func TestCheckpointsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()

	none, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.Equal(t, loader.Checkpoint{Stream: "persons"}, none)

	want := loader.Checkpoint{Stream: "persons", Phase: "interaction_dates", PageToken: "eyJ0b2tlbiI6MX0",
		PassStartedAt: t0, Pages: 3, Rows: 1500}
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: want, SeenAt: t0})
	require.NoError(t, err)
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: loader.Checkpoint{Stream: "organizations"}, SeenAt: t0})
	require.NoError(t, err)

	got, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.True(t, want.PassStartedAt.Equal(got.PassStartedAt))
	got.PassStartedAt = want.PassStartedAt
	require.Equal(t, want, got)

	all, err := e.store.Checkpoints(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "organizations", all[0].Stream)
	require.True(t, all[0].PassStartedAt.IsZero())

	// LastCompletedAt survives later pages of a new pass.
	require.NoError(t, e.store.FinishStream(ctx, "persons"))
	done, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.NotNil(t, done.LastCompletedAt)
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: loader.Checkpoint{Stream: "persons", PassStartedAt: t0, PageToken: "p2"}, SeenAt: t0})
	require.NoError(t, err)
	again, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.Equal(t, "p2", again.PageToken)
	require.NotNil(t, again.LastCompletedAt)
	require.True(t, done.LastCompletedAt.Equal(*again.LastCompletedAt))
}

func TestTableCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("persons", t0, ""), SeenAt: t0,
		Persons:       []loader.Person{{ID: 1}, {ID: 2}, {ID: 3}},
		Opportunities: []loader.Opportunity{{ID: 1, Name: "o", PersonIDs: []int64{1, 2}}}})
	require.NoError(t, err)
	_, err = e.conn.Exec(ctx, `UPDATE `+e.table("persons")+` SET deleted_at = now() WHERE id = 3`)
	require.NoError(t, err)

	counts, err := e.store.TableCounts(ctx)
	require.NoError(t, err)
	byName := map[string]loader.TableCount{}
	var names []string
	for _, c := range counts {
		byName[c.Table] = c
		names = append(names, c.Table)
	}
	require.Equal(t, []string{"persons", "organizations", "opportunities", "lists", "list_entries", "fields",
		"dropdown_options", "field_values", "opportunity_persons", "opportunity_organizations",
		"organization_persons", "field_value_changes", "notes", "note_persons", "note_organizations", "note_opportunities",
		"entity_files", "reminders", "relationship_strengths", "relationship_strength_history", "interactions",
		"interaction_persons"}, names)
	require.Equal(t, loader.TableCount{Table: "persons", Live: 2, Deleted: 1}, byName["persons"])
	require.Equal(t, loader.TableCount{Table: "opportunity_persons", Live: 2}, byName["opportunity_persons"])
	require.Equal(t, loader.TableCount{Table: "lists"}, byName["lists"])
}
