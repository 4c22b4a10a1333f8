package extractor

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
)

// TestRegistryIsComplete: every stream says everything the rest of the program reads.
func TestRegistryIsComplete(t *testing.T) {
	t.Parallel()
	seen := map[StreamName]bool{}
	for _, s := range registry() {
		require.False(t, seen[s.name], "stream %s listed twice", s.name)
		seen[s.name] = true
		require.NoError(t, checkEntry(s))
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
	require.Equal(t, []StreamName{StreamLists, StreamFields, StreamPersons, StreamOrganizations, StreamOpportunities,
		StreamListEntries, StreamFieldValueChanges, StreamFieldValues, StreamOrganizationDetails, StreamNotes,
		StreamReminders, StreamEntityFiles, StreamInteractions, StreamRelationshipStrengths}, Streams())
	require.Equal(t, [][]StreamName{{StreamLists},
		{StreamFields, StreamPersons, StreamOrganizations, StreamOpportunities, StreamListEntries, StreamNotes, StreamReminders},
		{StreamFieldValueChanges, StreamEntityFiles}, {StreamFieldValues}, {StreamOrganizationDetails},
		{StreamInteractions}, {StreamRelationshipStrengths}}, Stages(), "interactions and strengths after every other stream")
}

// checkEntry is the registry's completeness rule for one entry: the phases it builds, what
// ends each kind of them, the endpoints it sends to and its cost model.
func checkEntry(s stream) error {
	switch {
	case s.phases == nil:
		return fmt.Errorf("stream %s has no phases", s.name)
	case len(s.ends) == 0:
		return fmt.Errorf("stream %s has no end operation", s.name)
	case len(s.endpoints) == 0:
		return fmt.Errorf("stream %s has no endpoints", s.name)
	case s.cost == nil:
		return fmt.Errorf("stream %s has no cost model", s.name)
	case s.saw == nil:
		return fmt.Errorf("stream %s has no cost model of what a pass saw (saw)", s.name)
	}
	for k, end := range s.ends {
		if end == nil {
			return fmt.Errorf("stream %s has no end for a phase %q", s.name, PhaseID{Kind: k})
		}
	}
	return nil
}

// TestRegistryCheckRefusesIncompleteEntry: a stream registered without a cost model, an end
// operation or endpoints fails the completeness rule.
func TestRegistryCheckRefusesIncompleteEntry(t *testing.T) {
	t.Parallel()
	notes, ok := lookup(StreamNotes)
	require.True(t, ok)
	require.NoError(t, checkEntry(notes))
	for _, tc := range []struct {
		name   string
		mutate func(*stream)
		err    string
	}{
		{"no cost model", func(s *stream) { s.cost = nil }, "no cost model"},
		{"no sizes seen", func(s *stream) { s.saw = nil }, "no cost model of what a pass saw"},
		{"no end", func(s *stream) { s.ends = nil }, "no end operation"},
		{"nil end", func(s *stream) { s.ends = phaseEnds{PhaseMain: nil} }, "no end for a phase"},
		{"no endpoints", func(s *stream) { s.endpoints = nil }, "no endpoints"},
		{"no phases", func(s *stream) { s.phases = nil }, "no phases"},
	} {
		s := notes
		s.ends = maps.Clone(notes.ends)
		tc.mutate(&s)
		require.ErrorContains(t, checkEntry(s), tc.err, tc.name)
	}
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
		sent := map[StreamName]bool{}
		for _, info := range observed {
			s, ok := lookup(StreamName(info.Label))
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
	end := func(stream StreamName, p PhaseID, o Options) (loader.PhaseEnd, error) {
		s, ok := lookup(stream)
		require.True(t, ok)
		return endOf(s, p, o)
	}
	main := PhaseID{Kind: PhaseMain}
	for _, tc := range []struct {
		stream StreamName
		phase  PhaseID
		opts   Options
		want   loader.PhaseEnd
	}{
		{StreamLists, main, Options{}, loader.EndSoftDeleteUnseen(loader.ObjectList)},
		{StreamFields, main, Options{}, loader.EndSoftDeleteUnseen(loader.ObjectField)},
		{StreamPersons, main, Options{}, loader.EndSoftDeleteUnseen(loader.ObjectPerson)},
		{StreamPersons, PhaseID{Kind: PhaseInteractionDates}, Options{}, loader.EndClearUnseenDates(loader.EntityPerson)},
		{StreamOrganizations, main, Options{}, loader.EndSoftDeleteUnseen(loader.ObjectOrganization)},
		{StreamOrganizations, PhaseID{Kind: PhaseInteractionDates}, Options{}, loader.EndClearUnseenDates(loader.EntityOrganization)},
		{StreamOpportunities, main, Options{}, loader.EndSoftDeleteUnseen(loader.ObjectOpportunity)},
		{StreamNotes, main, Options{}, loader.EndSoftDeleteUnseen(loader.ObjectNote)},
		{StreamListEntries, PhaseID{Kind: PhaseListEntries, ID: 42}, Options{}, loader.EndSoftDeleteUnseenEntries(42)},
		{StreamFieldValueChanges, PhaseID{Kind: PhaseFieldChanges, ID: 7}, Options{}, loader.EndNothing()},
		{StreamFieldValues, main, Options{}, loader.EndSoftDeleteUnlistedValues()},
		{StreamFieldValues, main, Options{FieldValuesForUnlisted: true}, loader.EndNothing()},
		{StreamFieldValues, PhaseID{Kind: PhaseUnlisted}, Options{}, loader.EndNothing()},
		{StreamFieldValues, PhaseID{Kind: PhaseV2List, ID: 3}, Options{}, loader.EndNothing()},
		{StreamFieldValues, PhaseID{Kind: PhaseV2Persons}, Options{}, loader.EndNothing()},
		{StreamFieldValues, PhaseID{Kind: PhaseV2Companies}, Options{}, loader.EndNothing()},
		{StreamOrganizationDetails, main, Options{}, loader.EndNothing()},
		{StreamOrganizationDetails, PhaseID{Kind: PhaseV2Companies}, Options{}, loader.EndNothing()},
	} {
		got, err := end(tc.stream, tc.phase, tc.opts)
		require.NoError(t, err, "%s %q", tc.stream, tc.phase)
		require.Equal(t, tc.want, got, "%s %q", tc.stream, tc.phase)
	}
	// A kind of phase a stream does not have is a bug in its phase builder, named as such.
	_, err := end(StreamOpportunities, PhaseID{Kind: PhaseInteractionDates}, Options{})
	require.ErrorContains(t, err, `no end for a phase "interaction_dates"`)
}

// TestPhaseText: the text form that sync_checkpoints.phase holds reads back as the phase that
// wrote it, and every text the versions before typed phases stored still reads.
func TestPhaseText(t *testing.T) {
	t.Parallel()
	ends := func(stream StreamName) phaseEnds {
		s, ok := lookup(stream)
		require.True(t, ok)
		return s.ends
	}
	for _, tc := range []struct {
		stream StreamName
		text   string
		want   PhaseID
	}{
		{StreamPersons, "", PhaseID{Kind: PhaseMain}},
		{StreamPersons, "interaction_dates", PhaseID{Kind: PhaseInteractionDates}},
		{StreamFieldValues, "unlisted", PhaseID{Kind: PhaseUnlisted}},
		{StreamListEntries, "42", PhaseID{Kind: PhaseListEntries, ID: 42}},
		{StreamFieldValueChanges, "300606", PhaseID{Kind: PhaseFieldChanges, ID: 300606}},
		{StreamFieldValues, "v2:17", PhaseID{Kind: PhaseV2List, ID: 17}},
		{StreamFieldValues, "v2:persons", PhaseID{Kind: PhaseV2Persons}},
		{StreamFieldValues, "v2:companies", PhaseID{Kind: PhaseV2Companies}},
		{StreamOrganizationDetails, "v2:companies", PhaseID{Kind: PhaseV2Companies}},
	} {
		got, ok := parsePhase(tc.text, ends(tc.stream))
		require.True(t, ok, "%s %q", tc.stream, tc.text)
		require.Equal(t, tc.want, got, "%s %q", tc.stream, tc.text)
		require.Equal(t, tc.text, phaseText(got), "%s %q", tc.stream, tc.text)
	}
	for _, tc := range []struct {
		stream StreamName
		text   string
	}{
		{StreamListEntries, ""}, {StreamListEntries, "12x"}, {StreamListEntries, "v2:12"}, {StreamListEntries, "012"},
		{StreamFieldValues, "refresh"}, {StreamFieldValues, "v2:"}, {StreamFieldValues, "v2:x"}, {StreamFieldValues, "12"},
		{StreamOpportunities, "interaction_dates"}, {StreamNotes, "other"}, {StreamOrganizationDetails, "v2:persons"},
	} {
		_, ok := parsePhase(tc.text, ends(tc.stream))
		require.False(t, ok, "%s %q is no phase of the stream", tc.stream, tc.text)
	}
}

// TestResumeIndex: a pass continues in the phase it stopped in, or, when that list or field
// is gone, at the next one of its kind.
func TestResumeIndex(t *testing.T) {
	t.Parallel()
	ids := []PhaseID{{Kind: PhaseV2List, ID: 3}, {Kind: PhaseV2List, ID: 8}, {Kind: PhaseMain}, {Kind: PhaseV2Persons}, {Kind: PhaseUnlisted}}
	phases := make([]phase, len(ids))
	for i, id := range ids {
		phases[i] = phase{id: id}
	}
	for _, tc := range []struct {
		at    PhaseID
		known bool
		want  int
	}{
		{PhaseID{Kind: PhaseV2List, ID: 8}, true, 1},
		{PhaseID{Kind: PhaseV2Persons}, true, 3},
		{PhaseID{Kind: PhaseV2List, ID: 5}, true, 1}, // list 5 is gone: list 8 follows
		{PhaseID{Kind: PhaseV2List, ID: 9}, true, 2}, // no later v2 list: the phase after them
		{PhaseID{Kind: PhaseV2Companies}, true, 0},   // gone, no id: from the start
		{PhaseID{Kind: PhaseMain}, false, 0},         // an unknown text
		{PhaseID{Kind: PhaseUnlisted}, true, 4},
	} {
		require.Equal(t, tc.want, resumeIndex(phases, tc.at, tc.known), "%v", tc.at)
	}
	entries := []phase{{id: PhaseID{Kind: PhaseListEntries, ID: 1}}, {id: PhaseID{Kind: PhaseListEntries, ID: 2}}}
	require.Equal(t, 1, resumeIndex(entries, PhaseID{Kind: PhaseListEntries, ID: 9}, true), "none follows: the last list")
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
	byStream := map[StreamName]PlanItem{}
	for _, it := range items {
		order = append(order, it.Stream)
		byStream[StreamName(it.Stream)] = it
	}
	require.Equal(t, append([]string{WorkspaceCheck}, NamesOf([]StreamName{StreamLists, StreamFields, StreamPersons, StreamOrganizations, StreamOpportunities,
		StreamListEntries, StreamNotes, StreamReminders, StreamFieldValueChanges, StreamEntityFiles, StreamFieldValues, StreamOrganizationDetails,
		StreamInteractions, StreamRelationshipStrengths})...), order,
		"stage by stage, the order the run spends them")
	require.Equal(t, PlanItem{Stream: string(StreamPersons), Requests: 3 + 2, Detail: "1000 persons, 500 with interaction dates",
		Costs: []Cost{{Source: SourceV1, Requests: 5, Chain: 5, Detail: "1000 persons, 500 with interaction dates",
			Bound: "(1000/500+1) + (500 with dates/500+1)"}}, Path: SourceV1, OnV1: 5}, byStream[StreamPersons])
	require.Equal(t, int64(1), byStream[StreamNotes].Requests)
	require.Equal(t, int64(2+1), byStream[StreamListEntries].Requests)
	require.Equal(t, "2 lists, 503 entries", byStream[StreamListEntries].Detail)
	require.Equal(t, int64(10), byStream[StreamFieldValues].Requests)
	require.Equal(t, "1 never fetched, 2 changed, 3 stale (plus those the change feed finds), 4 on no list", byStream[StreamFieldValues].Detail)
	require.Equal(t, "9 organizations never fetched or stale", byStream[StreamOrganizationDetails].Detail)

	costs, err := Costs(c, []StreamName{StreamOrganizationDetails}, CostOptions{Workers: 2})
	require.NoError(t, err)
	require.Len(t, costs, 2)
	require.Equal(t, int64(9), costs[1].Requests())
	require.Equal(t, int64(5), costs[1].Chain(), "9 requests, two at a time")

	_, err = Plan(c, []StreamName{"persns"}, CostOptions{})
	require.ErrorContains(t, err, `unknown stream "persns"`)
}

// TestIntelligenceCostsWithinTheCap: interactions spend first, strengths what the cap leaves;
// the rest is backlog, and the passes it needs count the requests before it.
func TestIntelligenceCostsWithinTheCap(t *testing.T) {
	t.Parallel()
	c := loader.PlanCounts{Live: map[string]int64{}, Intelligence: loader.IntelligenceCounts{
		InteractionPairs: 900, InteractionEntities: 400, InteractionWindows: 1500, StrengthsDue: 1200}}
	for _, tc := range []struct {
		cap                      int64
		interactions, strengths  int64
		interactionsLeft, passes int64 // passes of relationship_strengths
	}{
		{cap: 2000, interactions: 1500, strengths: 500, interactionsLeft: 0, passes: 2},
		{cap: 1000, interactions: 1000, strengths: 0, interactionsLeft: 500, passes: 3},
		{cap: 0, interactions: 1500, strengths: 1200, interactionsLeft: 0, passes: 1},
	} {
		items, err := Plan(c, []StreamName{StreamInteractions, StreamRelationshipStrengths}, CostOptions{IntelligenceCap: tc.cap})
		require.NoError(t, err)
		by := map[string]PlanItem{}
		for _, it := range items {
			by[it.Stream] = it
		}
		require.Equal(t, tc.interactions, by[string(StreamInteractions)].Requests, "cap %d", tc.cap)
		require.Equal(t, tc.strengths, by[string(StreamRelationshipStrengths)].Requests, "cap %d", tc.cap)
		b := IntelligenceBacklog(c, tc.cap)
		require.Equal(t, tc.interactionsLeft, b[1].Left, "cap %d", tc.cap)
		require.Equal(t, tc.passes, b[2].Passes, "cap %d", tc.cap)
		require.Contains(t, by[string(StreamInteractions)].Detail, "400 entities due (900 entity×type pairs")
	}
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
		costs, err := Costs(c, []StreamName{StreamFieldValues, StreamOrganizationDetails}, CostOptions{APIV2: tc.mode})
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
	costs, err := Costs(quiet, []StreamName{StreamFieldValues, StreamOrganizationDetails}, CostOptions{APIV2: V2Auto})
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
	costs, err = Costs(fresh, []StreamName{StreamFieldValues}, CostOptions{APIV2: V2Auto})
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
	require.NoError(t, ResetStreams(t.Context(), &f, []StreamName{StreamPersons, StreamFieldValues, StreamOrganizationDetails}))
	require.Equal(t, []loader.StreamReset{{Stream: string(StreamPersons)}, {Stream: string(StreamFieldValues), Freshness: loader.FreshnessValues},
		{Stream: string(StreamOrganizationDetails), Freshness: loader.FreshnessDetails}}, f.got)

	f.got = nil
	require.ErrorContains(t, ResetStreams(t.Context(), &f, []StreamName{StreamPersons, "persns"}), `unknown stream "persns"`)
	require.Nil(t, f.got, "an unknown name changes nothing")
}

func TestRunRefusesUnknownStream(t *testing.T) {
	t.Parallel()
	res := New(nil, nil, Options{}).Run(t.Context(), []StreamName{"persns"})
	require.Len(t, res.Streams, 1)
	require.ErrorContains(t, res.Streams[0].Err, `unknown stream "persns"`)
	require.False(t, res.Complete())
}
