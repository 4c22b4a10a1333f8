package extractor

import (
	"strings"

	"github.com/affinity-sync/affinity-sync/loader"
)

// PlanItem is one step of a run and the requests it is expected to spend.
type PlanItem struct {
	Stream   string
	Requests int64
	Detail   string
	Costs    []Cost // per source
}

// Plan estimates what a run of streams will spend, from what the warehouse knows, in the
// order the run spends it: stage by stage, from the stream registry's cost models. A
// warehouse that has never synced knows no sizes: the estimate then covers only the first
// page of each listing. An unknown stream name is an error.
func Plan(c loader.PlanCounts, streams []string, withUnlisted bool) ([]PlanItem, error) {
	costs, err := Costs(c, streams, CostOptions{WithUnlisted: withUnlisted})
	if err != nil {
		return nil, err
	}
	items := make([]PlanItem, len(costs))
	for i, sc := range costs {
		details := make([]string, len(sc.Costs))
		for j, x := range sc.Costs {
			details[j] = x.Detail
		}
		items[i] = PlanItem{Stream: sc.Stream, Requests: sc.Requests(), Detail: strings.Join(details, "; "), Costs: sc.Costs}
	}
	return items, nil
}
