package extractor

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// TestPassCounts: what each stream's pass saw becomes the counts its cost model reads, so
// the registry's cost of those counts is what the pass had to send: listings by their items,
// lists read whole through v2 by their entries, v1 reads one per entity, the probe as sent. A
// list the rule chose for v2 but the pass did not read to its end (v2 refused it and the pass
// fell back) is not costed as v2 pages.
func TestPassCounts(t *testing.T) {
	t.Parallel()
	res := Result{Streams: []StreamResult{
		{Stream: StreamPersons, Phases: []PhaseResult{
			{Phase: PhaseID{Kind: PhaseMain}, Items: 1200}, {Phase: PhaseID{Kind: PhaseInteractionDates}, Items: 700}}},
		{Stream: StreamListEntries, Phases: []PhaseResult{
			{Phase: PhaseID{Kind: PhaseListEntries, ID: 1}, Items: 250}, {Phase: PhaseID{Kind: PhaseListEntries, ID: 2}, Items: 1000}}},
		{Stream: StreamFieldValueChanges, Phases: []PhaseResult{
			{Phase: PhaseID{Kind: PhaseFieldChanges, ID: 7}}, {Phase: PhaseID{Kind: PhaseFieldChanges, ID: 9}}}},
		{Stream: StreamFieldValues,
			Rule: loader.PlanCounts{ValuesProbe: 2, Lists: []loader.ListCount{
				{ID: 1, Entries: 250, Known: true, Due: 250, ThroughV2: true},
				{ID: 2, Entries: 1000, Known: true, Due: 900, ThroughV2: true}}},
			Phases: []PhaseResult{
				{Phase: PhaseID{Kind: PhaseV2List, ID: 1}, ReadWhole: true},
				{Phase: PhaseID{Kind: PhaseV2List, ID: 2}}, // refused on a later page: the pass fell back
				{Phase: PhaseID{Kind: PhaseMain}, EntityRequests: 40}}},
		{Stream: StreamOrganizationDetails, Phases: []PhaseResult{{Phase: PhaseID{Kind: PhaseMain}, EntityRequests: 12}}},
	}}
	c := res.Counts()
	require.Equal(t, int64(1200), c.Live["persons"])
	require.Equal(t, int64(700), c.WithDates[loader.EntityPerson])
	require.Equal(t, int64(2), c.TrackedFields)
	require.Equal(t, []loader.ListCount{
		{ID: 1, Entries: 250, Known: true, Due: 250, ThroughV2: true},
		{ID: 2, Entries: 1000, Known: true, Due: 900}}, c.Lists)

	costs, err := Costs(c, []StreamName{StreamPersons, StreamListEntries, StreamFieldValueChanges, StreamFieldValues,
		StreamOrganizationDetails}, CostOptions{APIV2: V2Auto})
	require.NoError(t, err)
	got := map[string]int64{}
	for _, sc := range costs {
		got[sc.Stream] = sc.Requests()
	}
	require.Equal(t, map[string]int64{
		WorkspaceCheck:                    1,
		string(StreamPersons):             3 + 2,      // 1200/500+1 plain, 700/500+1 with dates
		string(StreamListEntries):         1 + 3,      // 250/500+1, 1000/500+1
		string(StreamFieldValueChanges):   2,          // one history per field
		string(StreamFieldValues):         3 + 2 + 40, // list 1's v2 pages, the probe, the v1 reads
		string(StreamOrganizationDetails): 12,         // v1 path: one per organization
	}, got)
}
