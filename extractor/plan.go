package extractor

import (
	"strings"

	"github.com/affinity-sync/affinity-sync/loader"
)

// PlanItem is one step of a run and the requests it is expected to spend.
type PlanItem struct {
	Stream   string
	Requests int64  // on the path the next pass takes
	Detail   string // of that path
	Costs    []Cost // of that path, per source
	Path     Source // the path the next pass takes
	// OnV1 and OnV2 are the requests with api_v2 off and where API v2 may be read; HasV2
	// says whether the stream has a v2 source at all.
	OnV1, OnV2 int64
	HasV2      bool
}

// Plan estimates what a run of streams will spend, from what the warehouse knows, in the
// order the run spends it: stage by stage, from the stream registry's cost models. A
// warehouse that has never synced knows no sizes: the estimate then covers only the first
// page of each listing. An unknown stream name is an error.
func Plan(c loader.PlanCounts, streams []StreamName, o CostOptions) ([]PlanItem, error) {
	costs, err := Costs(c, streams, o)
	if err != nil {
		return nil, err
	}
	items := make([]PlanItem, len(costs))
	for i, sc := range costs {
		details := make([]string, len(sc.Costs))
		for j, x := range sc.Costs {
			details[j] = x.Detail
		}
		items[i] = PlanItem{Stream: sc.Stream, Requests: sc.Requests(), Detail: strings.Join(details, "; "), Costs: sc.Costs,
			Path: sc.Path, OnV1: RequestsOn(sc.OnV1), OnV2: RequestsOn(sc.OnV2), HasV2: sc.HasV2()}
	}
	return items, nil
}
