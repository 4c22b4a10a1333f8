package main

import (
	"strings"

	"github.com/affinity-sync/affinity-sync/extractor"
)

// streamBound is the fewest requests a stream can spend on what its pass read, and the
// longest chain of requests that must follow one another.
type streamBound struct {
	requests, chain int64
	how             string
}

// requestBounds is each stream's lower bound on a pass: the stream registry's cost models —
// the ones plan estimates with — fed with the sizes the pass saw (extractor.Result.Counts),
// on the path it took. There is no second model here: a paged listing of n rows costs
// floor(n/500)+1 requests, a v2 listing ceil(n/100), the probe what it sent, a per-entity
// read one request per entity, as the registry says.
func requestBounds(cfg Config, res extractor.Result) (map[string]streamBound, error) {
	names := make([]extractor.StreamName, len(res.Streams))
	for i, s := range res.Streams {
		names[i] = s.Stream
	}
	costs, err := extractor.Costs(res.Counts(), names, cfg.costOptions())
	if err != nil {
		return nil, err
	}
	b := make(map[string]streamBound, len(costs))
	for _, c := range costs {
		how := make([]string, len(c.Costs))
		for i, x := range c.Costs {
			how[i] = x.Bound
		}
		b[c.Stream] = streamBound{c.Requests(), c.Chain(), strings.Join(how, " + ")}
	}
	return b, nil
}
