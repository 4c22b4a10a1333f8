package extractor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
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
	}
	require.Equal(t, []string{StreamLists, StreamFields, StreamPersons, StreamOrganizations, StreamOpportunities,
		StreamListEntries, StreamFieldValueChanges, StreamFieldValues, StreamOrganizationDetails, StreamNotes}, Streams())
	require.Equal(t, [][]string{{StreamLists},
		{StreamFields, StreamPersons, StreamOrganizations, StreamOpportunities, StreamListEntries, StreamNotes},
		{StreamFieldValueChanges}, {StreamFieldValues}, {StreamOrganizationDetails}}, Stages())
}

// TestStreamsSendOnlyListedEndpoints: every request a stream's run sends carries the stream's
// tag and goes to an endpoint its registry entry lists, on API v1 alone and with api_v2 auto
// reading entities on no list too.
func TestStreamsSendOnlyListedEndpoints(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 23
	for _, opts := range []Options{
		{APIV2: V2Off, FieldValuesForUnlisted: true, MaxDeleteShare: 0.5},
		{APIV2: V2Auto, FieldValuesForUnlisted: true, MaxDeleteShare: 0.5},
	} {
		observed, _ := recordedSync(t, cfg, opts)
		sent := map[string]bool{}
		for _, info := range observed {
			s, ok := lookup(info.Label)
			require.True(t, ok, "%s %s was sent without a stream's tag (%q)", info.Method, info.Endpoint, info.Label)
			require.Contains(t, s.endpoints, info.Endpoint,
				"stream %s sent %s, which its registry entry does not list (api_v2 %s)", s.name, info.Endpoint, opts.APIV2)
			sent[s.name] = true
		}
		require.Len(t, sent, len(Streams()), "every stream sent requests (api_v2 %s)", opts.APIV2)
	}
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
	c := loader.PlanCounts{Live: map[string]int64{"persons": 1000, "organizations": 10, "notes": 499},
		WithDates:     map[loader.EntityKind]int64{loader.EntityPerson: 500},
		Lists:         []loader.ListCount{{ID: 1, Entries: 500, Known: true}, {ID: 2, Entries: 3, Known: true}},
		TrackedFields: 2, ValuesDue: [3]int64{1, 2, 3}, UnlistedDue: 4, DetailsDue: 9}
	items, err := Plan(c, Streams(), CostOptions{WithUnlisted: true})
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
			Bound: "(1000/500+1) + (500 with dates/500+1)"}}, Path: SourceV1, OnV1: 5}, byStream[StreamPersons])
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

	_, err = Plan(c, []string{"persns"}, CostOptions{})
	require.ErrorContains(t, err, `unknown stream "persns"`)
}

// TestV2Costs: the v2 sources cost the v2 pages of what the path rule reads through v2, the
// probe, and one v1 call per entity still due; the path is v2 only where api_v2 allows it
// and the rule reads anything through v2.
func TestV2Costs(t *testing.T) {
	t.Parallel()
	c := loader.PlanCounts{Live: map[string]int64{"organizations": 1234}, DetailsDue: 1234, DetailsCutShort: 3, DetailsThroughV2: true,
		Lists:     []loader.ListCount{{ID: 1, Entries: 250, Known: true, Due: 250, ThroughV2: true}, {ID: 2, Entries: 400, Known: true, Due: 4}},
		ValuesDue: [3]int64{200, 50, 4}, ValuesDueOffV2: 4, ValuesProbe: 5, LinksProbe: 5}
	for _, tc := range []struct {
		mode V2Mode
		path Source
	}{{V2Off, SourceV1}, {V2Auto, SourceV2}, {V2On, SourceV2}} {
		costs, err := Costs(c, []string{StreamFieldValues, StreamOrganizationDetails}, CostOptions{APIV2: tc.mode})
		require.NoError(t, err)
		require.Len(t, costs, 3)
		fv, od := costs[1], costs[2]
		require.Equal(t, int64(254), RequestsOn(fv.OnV1), "one v1 call per entity due")
		require.Equal(t, int64(3+5+4), RequestsOn(fv.OnV2), "list 1's 3 pages, a probe of 5, list 2's 4 due through v1")
		require.Equal(t, int64(1234), RequestsOn(od.OnV1))
		require.Equal(t, int64(13+5+3), RequestsOn(od.OnV2), "13 companies pages, a probe of 5, 3 cut short")
		require.Equal(t, tc.path, fv.Path, tc.mode)
		require.Equal(t, tc.path, od.Path, tc.mode)
		want := map[Source][2]int64{SourceV1: {254, 1234}, SourceV2: {12, 21}}[tc.path]
		require.Equal(t, want, [2]int64{fv.Requests(), od.Requests()}, "the chosen path is what the run spends")
	}

	// Nothing cheaper through v2: the v1 path, whatever the mode, at the v1 cost.
	quiet := loader.PlanCounts{Live: map[string]int64{"organizations": 1234}, DetailsDue: 2, Lists: []loader.ListCount{{ID: 1, Entries: 250, Known: true, Due: 3}},
		ValuesDue: [3]int64{0, 3, 0}, ValuesDueOffV2: 3}
	costs, err := Costs(quiet, []string{StreamFieldValues, StreamOrganizationDetails}, CostOptions{APIV2: V2Auto})
	require.NoError(t, err)
	for _, sc := range costs[1:] {
		require.Equal(t, SourceV1, sc.Path, sc.Stream)
		require.Equal(t, sc.OnV1, sc.OnV2, sc.Stream)
		require.True(t, sc.HasV2(), sc.Stream)
	}
	require.Equal(t, int64(3), costs[1].Requests())
	require.Equal(t, int64(2), costs[2].Requests())

	// Unread lists: every entry is due, and the same rule sends the big ones through v2.
	var fresh loader.PlanCounts
	fresh.AddUnreadLists([]loader.ListCount{{ID: 7, Entries: 1000}, {ID: 8, Entries: 1}})
	require.Equal(t, int64(1001), fresh.ValuesDue[loader.RefreshNew])
	require.Equal(t, int64(1), fresh.ValuesDueOffV2, "a list of one entry stays on v1")
	costs, err = Costs(fresh, []string{StreamFieldValues}, CostOptions{APIV2: V2Auto})
	require.NoError(t, err)
	require.Equal(t, int64(10+5+1), costs[1].Requests())
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
