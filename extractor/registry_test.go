package extractor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// TestRegistryIsComplete: every stream says everything the rest of the program reads.
func TestRegistryIsComplete(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range registry() {
		require.False(t, seen[s.name], "stream %s listed twice", s.name)
		seen[s.name] = true
		require.NotNil(t, s.phases, s.name)
		require.NotNil(t, s.end, s.name)
		require.NotNil(t, s.cost, s.name)
		require.NotEmpty(t, s.endpoints, s.name)
		for _, dep := range s.dependsOn {
			d, ok := lookup(dep)
			require.True(t, ok, "%s depends on unknown %s", s.name, dep)
			require.Less(t, d.stage, s.stage, "%s runs after %s, which it reads", s.name, dep)
		}
		for _, c := range s.cost(loader.PlanCounts{}, CostOptions{}) {
			require.Equal(t, SourceV1, c.Source, s.name)
			require.NotEmpty(t, c.Detail, s.name)
			require.NotEmpty(t, c.Bound, s.name)
		}
		for _, e := range s.endpoints {
			names := StreamsOfEndpoint(e)
			require.Contains(t, names, s.name, e)
			for _, other := range names {
				o, _ := lookup(other)
				require.True(t, other == s.name || o.stage != s.stage,
					"%s and %s share %s in one stage: a request could not be told apart", s.name, other, e)
			}
		}
	}
	require.Equal(t, []string{StreamLists, StreamFields, StreamPersons, StreamOrganizations, StreamOpportunities,
		StreamListEntries, StreamFieldValueChanges, StreamFieldValues, StreamOrganizationDetails, StreamNotes}, Streams())
	require.Equal(t, [][]string{{StreamLists},
		{StreamFields, StreamPersons, StreamOrganizations, StreamOpportunities, StreamListEntries, StreamNotes},
		{StreamFieldValueChanges}, {StreamFieldValues}, {StreamOrganizationDetails}}, Stages())
}

func TestPhaseEnds(t *testing.T) {
	t.Parallel()
	end := func(stream, phase string, o Options) (loader.PhaseEnd, error) {
		s, ok := lookup(stream)
		require.True(t, ok)
		return s.end(phase, o)
	}
	for _, tc := range []struct {
		stream, phase string
		opts          Options
		want          loader.PhaseEnd
	}{
		{StreamLists, "", Options{}, loader.EndSoftDeleteUnseen(loader.ObjectList)},
		{StreamFields, "", Options{}, loader.EndSoftDeleteUnseen(loader.ObjectField)},
		{StreamPersons, "", Options{}, loader.EndSoftDeleteUnseen(loader.ObjectPerson)},
		{StreamPersons, PhaseInteractionDates, Options{}, loader.EndClearUnseenDates(loader.EntityPerson)},
		{StreamOrganizations, "", Options{}, loader.EndSoftDeleteUnseen(loader.ObjectOrganization)},
		{StreamOrganizations, PhaseInteractionDates, Options{}, loader.EndClearUnseenDates(loader.EntityOrganization)},
		{StreamOpportunities, "", Options{}, loader.EndSoftDeleteUnseen(loader.ObjectOpportunity)},
		{StreamNotes, "", Options{}, loader.EndSoftDeleteUnseen(loader.ObjectNote)},
		{StreamListEntries, "42", Options{}, loader.EndSoftDeleteUnseenEntries(42)},
		{StreamFieldValueChanges, "7", Options{}, loader.EndNothing()},
		{StreamFieldValues, "", Options{}, loader.EndSoftDeleteUnlistedValues()},
		{StreamFieldValues, "", Options{FieldValuesForUnlisted: true}, loader.EndNothing()},
		{StreamFieldValues, PhaseUnlisted, Options{}, loader.EndNothing()},
		{StreamOrganizationDetails, "", Options{}, loader.EndNothing()},
	} {
		got, err := end(tc.stream, tc.phase, tc.opts)
		require.NoError(t, err, "%s %q", tc.stream, tc.phase)
		require.Equal(t, tc.want, got, "%s %q", tc.stream, tc.phase)
	}
	for _, tc := range []struct{ stream, phase, err string }{
		{StreamListEntries, "", "not a list id"},
		{StreamListEntries, "12x", "not a list id"},
		{StreamFieldValues, "refresh", `no phase "refresh"`},
		{StreamOpportunities, PhaseInteractionDates, `no phase "interaction_dates"`},
		{StreamNotes, "other", `no phase "other"`},
	} {
		_, err := end(tc.stream, tc.phase, Options{})
		require.ErrorContains(t, err, tc.err, "%s %q", tc.stream, tc.phase)
	}
}

func TestPlanAndCosts(t *testing.T) {
	t.Parallel()
	c := loader.PlanCounts{Persons: 1000, PersonsWithDates: 500, Organizations: 10, Notes: 499, ListSizes: []int64{500, 3},
		TrackedFields: 2, ValuesDue: [3]int64{1, 2, 3}, UnlistedDue: 4, DetailsDue: 9}
	items, err := Plan(c, Streams(), true)
	require.NoError(t, err)
	var order []string
	byStream := map[string]PlanItem{}
	for _, it := range items {
		order = append(order, it.Stream)
		byStream[it.Stream] = it
	}
	require.Equal(t, []string{WorkspaceCheck, StreamLists, StreamFields, StreamPersons, StreamOrganizations, StreamOpportunities,
		StreamListEntries, StreamNotes, StreamFieldValueChanges, StreamFieldValues, StreamOrganizationDetails}, order,
		"stage by stage, the order the run spends them")
	require.Equal(t, PlanItem{Stream: StreamPersons, Requests: 3 + 2, Detail: "1000 persons, 500 with interaction dates",
		Costs: []Cost{{Source: SourceV1, Requests: 5, Chain: 5, Detail: "1000 persons, 500 with interaction dates",
			Bound: "(1000/500+1) + (500 with dates/500+1)"}}}, byStream[StreamPersons])
	require.Equal(t, int64(1), byStream[StreamNotes].Requests)
	require.Equal(t, int64(2+1), byStream[StreamListEntries].Requests)
	require.Equal(t, "2 lists, 503 entries", byStream[StreamListEntries].Detail)
	require.Equal(t, int64(10), byStream[StreamFieldValues].Requests)
	require.Equal(t, "1 never fetched, 2 changed, 3 stale (plus those the change feed finds), 4 on no list", byStream[StreamFieldValues].Detail)
	require.Equal(t, "9 organizations never fetched or stale", byStream[StreamOrganizationDetails].Detail)

	costs, err := Costs(c, []string{StreamOrganizationDetails}, CostOptions{Workers: 2})
	require.NoError(t, err)
	require.Len(t, costs, 2)
	require.Equal(t, int64(9), costs[1].Requests())
	require.Equal(t, int64(5), costs[1].Chain(), "9 requests, two at a time")

	_, err = Plan(c, []string{"persns"}, false)
	require.ErrorContains(t, err, `unknown stream "persns"`)
}

type fakeResetter struct{ got []loader.StreamReset }

func (f *fakeResetter) ResetStreams(_ context.Context, r []loader.StreamReset) error {
	f.got = r
	return nil
}

func TestResetStreams(t *testing.T) {
	t.Parallel()
	var f fakeResetter
	require.NoError(t, ResetStreams(t.Context(), &f, []string{StreamPersons, StreamFieldValues, StreamOrganizationDetails}))
	require.Equal(t, []loader.StreamReset{{Stream: StreamPersons}, {Stream: StreamFieldValues, Freshness: loader.FreshnessValues},
		{Stream: StreamOrganizationDetails, Freshness: loader.FreshnessDetails}}, f.got)

	f.got = nil
	require.ErrorContains(t, ResetStreams(t.Context(), &f, []string{StreamPersons, "persns"}), `unknown stream "persns"`)
	require.Nil(t, f.got, "an unknown name changes nothing")
}

func TestRunRefusesUnknownStream(t *testing.T) {
	t.Parallel()
	res := New(nil, nil, Options{}).Run(t.Context(), []string{"persns"})
	require.Len(t, res.Streams, 1)
	require.ErrorContains(t, res.Streams[0].Err, `unknown stream "persns"`)
	require.False(t, res.Complete())
}
