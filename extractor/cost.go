package extractor

import (
	"fmt"
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The cost models of the registry's streams: what a pass is expected to spend, per source,
// given the sizes of PlanCounts — the warehouse's (plan) or what a pass saw (bench).

// Source is where a stream reads from: an Affinity API version and its read path.
type Source string

// SourceV1 is Affinity's API v1.
const SourceV1 Source = "v1"

// Cost is what one source of a stream is expected to spend on a pass.
type Cost struct {
	Source   Source
	Requests int64
	Chain    int64  // the longest run of these requests that must follow one another
	Detail   string // what the requests are, as plan prints it
	Bound    string // how Requests follows from the sizes, as bench prints it
}

// CostOptions tune a cost model.
type CostOptions struct {
	WithUnlisted bool   // sync.field_values_for_unlisted
	Workers      int    // per-entity requests in flight; 0 = DefaultWorkers
	APIV2        V2Mode // affinity.api_v2: whether the v2 sources may be chosen
	// TrustWorkspace: the run sends no workspace check (a changes run, once the workspace is
	// recorded).
	TrustWorkspace bool
	// IntelligenceCap is quota.intelligence_requests: what interactions, strengths and the
	// file fallback spend together in a pass at most; 0 = no cap.
	IntelligenceCap int64
}

// unpaged is the cost of a stream of one unpaged request.
func unpaged(detail string) func(loader.PlanCounts, CostOptions) []Cost {
	return func(loader.PlanCounts, CostOptions) []Cost {
		return []Cost{{Source: SourceV1, Requests: 1, Chain: 1, Detail: detail, Bound: "1 unpaged call"}}
	}
}

// paged is the cost of one paged listing of a table's live rows.
func paged(table, noun string) func(loader.PlanCounts, CostOptions) []Cost {
	return func(c loader.PlanCounts, _ CostOptions) []Cost {
		n := c.Live[table]
		return []Cost{{Source: SourceV1, Requests: pagesOf(n), Chain: pagesOf(n),
			Detail: fmt.Sprintf("%d %s", n, noun), Bound: fmt.Sprintf("%d/%d+1", n, PageSize)}}
	}
}

// perEntityCost is one request per entity due, Workers of them in flight at once.
func perEntityCost(due int64, o CostOptions, detail, bound string) Cost {
	w := int64(o.Workers)
	if w <= 0 {
		w = DefaultWorkers
	}
	return Cost{Source: SourceV1, Requests: due, Chain: (due + w - 1) / w, Detail: detail, Bound: bound}
}

// pagesOf is how many requests a listing of n rows takes: a last page that is exactly full is
// followed by an empty one.
func pagesOf(n int64) int64 { return n/PageSize + 1 }

// StreamCost is what one step of a run is expected to spend, per source.
type StreamCost struct {
	Stream string // a stream name, or WorkspaceCheck
	Stage  int    // -1 for the workspace check, which comes first
	// Costs are the path the next pass takes: what the run spends.
	Costs []Cost
	// Path is the source the next pass reads through: SourceV2 when it reads anything
	// through API v2 (what stays on v1 included in Costs), else SourceV1.
	Path Source
	// OnV1 is what the pass spends with api_v2 off; OnV2 what it spends where API v2 may be
	// read (the path rule reading through v2 only what is cheaper there). OnV2 is nil for a
	// stream without a v2 source, and equals OnV1 when nothing is cheaper through v2.
	OnV1, OnV2 []Cost
}

// HasV2 reports whether the stream has an API v2 source.
func (c StreamCost) HasV2() bool { return c.OnV2 != nil }

// RequestsOn sums the costs of one alternative.
func RequestsOn(costs []Cost) int64 {
	var n int64
	for _, x := range costs {
		n += x.Requests
	}
	return n
}

// Requests sums the costs of the path the next pass takes over every source.
func (c StreamCost) Requests() int64 { return RequestsOn(c.Costs) }

// Chain sums the longest chains over every source (sources of one stream follow one another).
func (c StreamCost) Chain() int64 {
	var n int64
	for _, x := range c.Costs {
		n += x.Chain
	}
	return n
}

// Costs estimates what a run of streams spends, given the warehouse's sizes: the workspace
// check first (unless the run trusts the recorded workspace), then each stream's costs, stage
// by stage (run order within a stage).
func Costs(c loader.PlanCounts, streams []StreamName, o CostOptions) ([]StreamCost, error) {
	if err := checkStreams(streams); err != nil {
		return nil, err
	}
	var out []StreamCost
	if !o.TrustWorkspace {
		check := []Cost{{Source: SourceV1, Requests: 1, Chain: 1, Detail: "GET /auth/whoami", Bound: "GET /auth/whoami before the streams"}}
		out = append(out, StreamCost{Stream: WorkspaceCheck, Stage: -1, Costs: check, Path: SourceV1, OnV1: check})
	}
	for stage, names := range Stages() {
		for _, name := range names {
			if !slices.Contains(streams, name) {
				continue
			}
			s, _ := lookup(name)
			sc := StreamCost{Stream: string(name), Stage: stage, Path: SourceV1, OnV1: s.cost(c, o)}
			sc.Costs = sc.OnV1
			if s.v2cost != nil {
				sc.OnV2 = sc.OnV1
				if v2 := s.v2cost(c, o); v2 != nil {
					sc.OnV2 = v2
					if o.APIV2 != V2Off {
						sc.Costs, sc.Path = v2, SourceV2
					}
				}
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// fieldValuesV2Cost is the v2 source of field_values: the v2 pages of every list read through
// v2 (and of all persons and companies when entities on no list are), the probe's v1
// requests, and one v1 call per entity still due on no such list. Nil when the path rule
// reads nothing through v2.
func fieldValuesV2Cost(c loader.PlanCounts, o CostOptions) []Cost {
	var pages, entries int64
	n := 0
	for _, l := range c.Lists {
		if !l.ThroughV2 {
			continue
		}
		n++
		pages += loader.V2PagesOf(l.Entries)
		entries += l.Entries
	}
	unlisted := o.WithUnlisted && c.UnlistedThroughV2
	if n == 0 && !unlisted {
		return nil
	}
	detail := fmt.Sprintf("%d of %d lists through v2 (%d entries)", n, len(c.Lists), entries)
	bound := fmt.Sprintf("Σ over %d lists of ceil(entries/%d)", n, loader.V2PageSize)
	if unlisted {
		persons, orgs := c.Live[loader.EntityPerson.Table()], c.Live[loader.EntityOrganization.Table()]
		pages += loader.V2PagesOf(persons) + loader.V2PagesOf(orgs)
		detail += fmt.Sprintf(", %d persons and %d companies through v2", persons, orgs)
		bound += fmt.Sprintf(" + ceil(%d persons/%d) + ceil(%d companies/%d)", persons, loader.V2PageSize, orgs, loader.V2PageSize)
	}
	due := c.ValuesDueOffV2
	rest := fmt.Sprintf("%d entities due on no v2 list through v1", due)
	if o.WithUnlisted && !unlisted {
		due += c.UnlistedDue
		rest += fmt.Sprintf(", %d on no list", c.UnlistedDue)
	}
	return []Cost{
		{Source: SourceV2, Requests: pages, Chain: pages, Detail: detail, Bound: bound},
		probeCost(c.ValuesProbe),
		perEntityCost(due, o, rest, fmt.Sprintf("1 per entity still due (%d)", due)),
	}
}

// organizationDetailsV2Cost is the v2 source of organization_details: every companies page,
// the probe's v1 requests, and one v1 call per organization due whose persons v2 may cut
// short (more than a page of them, as stored). Nil when the v1 calls are cheaper.
func organizationDetailsV2Cost(c loader.PlanCounts, o CostOptions) []Cost {
	if !c.DetailsThroughV2 {
		return nil
	}
	orgs := c.Live[loader.EntityOrganization.Table()]
	pages := loader.V2PagesOf(orgs)
	return []Cost{
		{Source: SourceV2, Requests: pages, Chain: pages,
			Detail: fmt.Sprintf("%d companies through v2", orgs),
			Bound:  fmt.Sprintf("ceil(%d companies/%d)", orgs, loader.V2PageSize)},
		probeCost(c.LinksProbe),
		perEntityCost(c.DetailsCutShort, o, fmt.Sprintf("%d with more than %d persons through v1", c.DetailsCutShort, loader.V2PageSize),
			fmt.Sprintf("1 per company cut short (%d)", c.DetailsCutShort)),
	}
}

// probeCost is the probe's n v1 requests.
func probeCost(n int64) Cost {
	return Cost{Source: SourceV1, Requests: n, Chain: n, Detail: fmt.Sprintf("probe: %d through v1 too", n),
		Bound: fmt.Sprintf("probe (%d)", n)}
}

// changesCost is field_value_changes through v1: one history per tracked field in scope.
func changesCost(c loader.PlanCounts, _ CostOptions) []Cost {
	return []Cost{{Source: SourceV1, Requests: c.TrackedFields, Chain: c.TrackedFields,
		Detail: fmt.Sprintf("one history per tracked field (%d)", c.TrackedFields),
		Bound:  fmt.Sprintf("1 per tracked field (%d)", c.TrackedFields)}}
}

// changesV2Cost is field_value_changes where the change feed may be read: the v1 histories
// of the fields that have none yet, the feed's pages (plan expects one: a quiet feed), the
// probe's v1 request, and the histories read again when a pass fell back to v1.
func changesV2Cost(c loader.PlanCounts, _ CostOptions) []Cost {
	if c.TrackedFields == 0 {
		return nil
	}
	var out []Cost
	if n := c.HistoriesDue + c.HistoriesFallback; n > 0 {
		out = append(out, Cost{Source: SourceV1, Requests: n, Chain: n,
			Detail: fmt.Sprintf("%d histories without a complete v1 read, %d read again after a fall back", c.HistoriesDue, c.HistoriesFallback),
			Bound:  "1 per tracked field without a history (and per field after a fall back to v1)"})
	}
	detail := fmt.Sprintf("the change feed from its watermark: %d page(s), 1 more per 100 changes", c.FeedPages)
	if c.FeedProbe > 0 {
		detail += fmt.Sprintf(", %d v1 probe request(s)", c.FeedProbe)
	}
	out = append(out, Cost{Source: SourceV2, Requests: c.FeedPages + c.FeedProbe, Chain: c.FeedPages + c.FeedProbe,
		Detail: detail,
		Bound:  fmt.Sprintf("1 per 100 changes since the watermark (at most %d), +1 v1 request when the probe is due and the feed has changes", c.TrackedFields)})
	return out
}
