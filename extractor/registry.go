package extractor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The stream registry: one entry per stream says everything the rest of the program needs to
// know about it — its name, stage and dependencies, the endpoints it sends requests to, its
// phases (built in streams.go), what the end of each phase does in the warehouse, the
// per-entity freshness it keeps, and its request cost model, per source. Run, plan, bench,
// reset, progress, metrics and status all read it (see docs/adding-a-stream.md). Which
// stream sent a request is StreamOfRequest's answer: the tag its run put on the context.

// Stream names, in the order a run works through them.
const (
	StreamLists               = "lists"
	StreamFields              = "fields"
	StreamPersons             = "persons"
	StreamOrganizations       = "organizations"
	StreamOpportunities       = "opportunities"
	StreamListEntries         = "list_entries"
	StreamFieldValueChanges   = "field_value_changes"
	StreamFieldValues         = "field_values"
	StreamOrganizationDetails = "organization_details"
	StreamNotes               = "notes"
)

// PageSize is the rows of every paged listing request: Affinity's default and maximum.
const PageSize = affinity.MaxPageSize

// DefaultWorkers is how many per-entity requests are in flight at once unless
// Options.Workers says otherwise.
const DefaultWorkers = 4

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
}

// stream is one entry of the registry.
type stream struct {
	name      string
	stage     int      // streams of one stage run concurrently; a stage starts when the one before ended
	dependsOn []string // streams whose rows it reads from the warehouse
	endpoints []string // endpoint templates of the requests it sends (a test holds every stream to it)
	freshness loader.Freshness
	// phases builds the phases of a pass (streams.go), given where the pass stands.
	phases func(s *Syncer, ctx context.Context, ps passState) (passPlan, error)
	// ends says, for each kind of phase the stream has, what its end does in the warehouse.
	ends phaseEnds
	// cost is what a pass is expected to spend on API v1 alone, per source, given the
	// warehouse's sizes.
	cost func(c loader.PlanCounts, o CostOptions) []Cost
	// v2cost is what a pass that may read through API v2 spends: the v2 pages, the probe and
	// the v1 calls for what stays on v1; nil when the path rule reads nothing through v2.
	// Streams without a v2 source leave it nil.
	v2cost func(c loader.PlanCounts, o CostOptions) []Cost
	// saw adds to counts the sizes a pass of the stream saw, in the shape its cost models
	// read (passcounts.go): bench measures a pass against the cost of what it read.
	saw func(r StreamResult, counts *loader.PlanCounts)
	// per500 says what each 500 rows the warehouse does not know yet will cost.
	per500 string
}

// registry is every stream, in run order. Stages order the streams by what they read from the
// warehouse and by the planner's priorities: fields and list entries need the lists; the
// change feed needs the fields; the field value refresh needs the list entries and the changes
// (changed entities go first); organization details come after it.
func registry() []stream {
	return []stream{
		{name: StreamLists, stage: 0, endpoints: []string{"/lists", "/lists/{id}"},
			phases: (*Syncer).listsPhases, ends: mainEnds(loader.EndSoftDeleteUnseen(loader.ObjectList)),
			cost: unpaged("GET /lists"), saw: sawNothing},
		{name: StreamFields, stage: 1, dependsOn: []string{StreamLists},
			endpoints: []string{"/fields", "/persons/fields", "/organizations/fields"},
			phases:    (*Syncer).fieldsPhases, ends: mainEnds(loader.EndSoftDeleteUnseen(loader.ObjectField)),
			cost: unpaged("GET /fields"), saw: sawNothing},
		entityListing(StreamPersons, loader.EntityPerson, "/persons", (*Syncer).personsPhases),
		entityListing(StreamOrganizations, loader.EntityOrganization, "/organizations", (*Syncer).organizationsPhases),
		entityListing(StreamOpportunities, loader.EntityOpportunity, "/opportunities", (*Syncer).opportunitiesPhases),
		{name: StreamListEntries, stage: 1, dependsOn: []string{StreamLists}, endpoints: []string{"/lists/{id}/list-entries"},
			phases: (*Syncer).listEntriesPhases,
			ends:   phaseEnds{PhaseListEntries: func(id int64, _ Options) loader.PhaseEnd { return loader.EndSoftDeleteUnseenEntries(id) }},
			per500: "every 500 entries cost 1 request",
			cost: func(c loader.PlanCounts, _ CostOptions) []Cost {
				var requests, entries int64
				for _, l := range c.Lists {
					requests += pagesOf(l.Entries)
					entries += l.Entries
				}
				return []Cost{{Source: SourceV1, Requests: requests, Chain: requests,
					Detail: fmt.Sprintf("%d lists, %d entries", len(c.Lists), entries),
					Bound:  fmt.Sprintf("Σ over %d lists of (size/%d+1)", len(c.Lists), PageSize)}}
			},
			saw: sawListEntries},
		{name: StreamFieldValueChanges, stage: 2, dependsOn: []string{StreamFields}, endpoints: []string{"/field-value-changes"},
			phases: (*Syncer).changesPhases, ends: phaseEnds{PhaseFieldChanges: always(loader.EndNothing())},
			cost: func(c loader.PlanCounts, _ CostOptions) []Cost {
				return []Cost{{Source: SourceV1, Requests: c.TrackedFields, Chain: c.TrackedFields,
					Detail: fmt.Sprintf("one history per tracked field (%d)", c.TrackedFields),
					Bound:  fmt.Sprintf("1 per tracked field (%d)", c.TrackedFields)}}
			},
			saw: sawChanges, per500: "1 request per tracked field"},
		{name: StreamFieldValues, stage: 3, dependsOn: []string{StreamListEntries, StreamFields},
			endpoints: []string{"/field-values", "/v2/lists/{id}/list-entries", "/v2/persons", "/v2/companies"},
			freshness: loader.FreshnessValues, phases: (*Syncer).fieldValuesPhases,
			ends: phaseEnds{
				// Without the values of entities on no list, the listed pass drops theirs.
				PhaseMain: func(_ int64, o Options) loader.PhaseEnd {
					if o.FieldValuesForUnlisted {
						return loader.EndNothing()
					}
					return loader.EndSoftDeleteUnlistedValues()
				},
				PhaseUnlisted: always(loader.EndNothing()), PhaseV2List: always(loader.EndNothing()),
				PhaseV2Persons: always(loader.EndNothing()), PhaseV2Companies: always(loader.EndNothing()),
			},
			cost: func(c loader.PlanCounts, o CostOptions) []Cost {
				due := c.ValuesDue[loader.RefreshNew] + c.ValuesDue[loader.RefreshChanged] + c.ValuesDue[loader.RefreshStale]
				detail := fmt.Sprintf("%d never fetched, %d changed, %d stale (plus those the change feed finds)",
					c.ValuesDue[loader.RefreshNew], c.ValuesDue[loader.RefreshChanged], c.ValuesDue[loader.RefreshStale])
				if o.WithUnlisted {
					due += c.UnlistedDue
					detail += fmt.Sprintf(", %d on no list", c.UnlistedDue)
				}
				return []Cost{perEntityCost(due, o, detail, fmt.Sprintf("1 per entity due (%d)", due))}
			},
			v2cost: fieldValuesV2Cost, saw: sawFieldValues,
			per500: "every 500 entities due cost 500 requests on v1, 5 v2 pages on v2 (plus a probe of up to 5)"},
		{name: StreamOrganizationDetails, stage: 4, dependsOn: []string{StreamOrganizations}, endpoints: []string{"/organizations/{id}", "/v2/companies"},
			freshness: loader.FreshnessDetails, phases: (*Syncer).organizationDetailsPhases,
			ends: phaseEnds{PhaseMain: always(loader.EndNothing()), PhaseV2Companies: always(loader.EndNothing())},
			cost: func(c loader.PlanCounts, o CostOptions) []Cost {
				return []Cost{perEntityCost(c.DetailsDue, o, fmt.Sprintf("%d organizations never fetched or stale", c.DetailsDue),
					fmt.Sprintf("1 per organization due (%d)", c.DetailsDue))}
			},
			v2cost: organizationDetailsV2Cost, saw: sawDetails,
			per500: fmt.Sprintf("every 500 organizations cost 500 requests on v1, 5 v2 pages on v2 (plus a probe of up to 5, and 1 per organization with more than %d persons)", loader.V2PageSize)},
		{name: StreamNotes, stage: 1, endpoints: []string{"/notes"},
			phases: (*Syncer).notesPhases, ends: mainEnds(loader.EndSoftDeleteUnseen(loader.ObjectNote)),
			cost: paged("notes", "notes"), saw: sawListing("notes"), per500: "every 500 cost 1 request"},
	}
}

// entityListing is the entry of a stream that lists every entity of kind k: persons and
// organizations in two listings (plain, then with interaction dates), opportunities in one.
func entityListing(name string, k loader.EntityKind, endpoint string, phases func(*Syncer, context.Context, passState) (passPlan, error)) stream {
	st := stream{name: name, stage: 1, endpoints: []string{endpoint}, phases: phases, saw: sawListing(k.Table())}
	if k == loader.EntityOpportunity {
		st.ends = mainEnds(loader.EndSoftDeleteUnseen(k.Object()))
		st.cost = paged(k.Table(), name)
		st.per500 = "every 500 cost 1 request"
		return st
	}
	st.ends = phaseEnds{PhaseMain: always(loader.EndSoftDeleteUnseen(k.Object())), PhaseInteractionDates: always(loader.EndClearUnseenDates(k))}
	st.per500 = "every 500 cost 2 requests (plain + dates)"
	st.cost = func(c loader.PlanCounts, _ CostOptions) []Cost {
		all, dated := c.Live[k.Table()], c.WithDates[k]
		n := pagesOf(all) + pagesOf(dated)
		return []Cost{{Source: SourceV1, Requests: n, Chain: n,
			Detail: fmt.Sprintf("%d %s, %d with interaction dates", all, name, dated),
			Bound:  fmt.Sprintf("(%d/%d+1) + (%d with dates/%d+1)", all, PageSize, dated, PageSize)}}
	}
	return st
}

// mainEnds are the ends of a stream of one main phase.
func mainEnds(end loader.PhaseEnd) phaseEnds { return phaseEnds{PhaseMain: always(end)} }

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

// Per500 says what each 500 rows of stream that the warehouse does not know yet will cost;
// "" for a stream of fixed cost.
func Per500(stream string) string {
	s, _ := lookup(stream)
	return s.per500
}

// DependsOn names the streams whose rows stream reads from the warehouse: its estimate is
// only as known as theirs.
func DependsOn(stream string) []string {
	s, _ := lookup(stream)
	return slices.Clone(s.dependsOn)
}

// lookup returns the registry entry of name.
func lookup(name string) (stream, bool) {
	r := registry()
	i := slices.IndexFunc(r, func(s stream) bool { return s.name == name })
	if i < 0 {
		return stream{}, false
	}
	return r[i], true
}

// Streams returns the names of every stream, in run order.
func Streams() []string {
	var names []string
	for _, s := range registry() {
		names = append(names, s.name)
	}
	return names
}

// CheckStreams returns an error naming the first name that is not a stream.
func CheckStreams(names []string) error {
	for _, n := range names {
		if _, ok := lookup(n); !ok {
			return fmt.Errorf("unknown stream %q (known: %s)", n, strings.Join(Streams(), ", "))
		}
	}
	return nil
}

// Stages returns the stream names stage by stage, in run order within a stage.
func Stages() [][]string {
	var stages [][]string
	for _, s := range registry() {
		for len(stages) <= s.stage {
			stages = append(stages, nil)
		}
		stages[s.stage] = append(stages[s.stage], s.name)
	}
	return stages
}

// What sends requests outside the streams, as StreamOfRequest names it (WorkspaceCheck is
// below, with the costs).
const (
	// Webhook sends the daemon's targeted refreshes of webhook deliveries, and the webhook
	// subscription requests of "webhook subscribe".
	Webhook = "webhook"
	// RateLimitCheck is GET /rate-limit: what Affinity says is left (plan).
	RateLimitCheck = "(rate-limit check)"
	// Unattributed is a request sent without a tag to an endpoint that no stream, or more
	// than one stream, lists.
	Unattributed = "(unattributed)"
)

// WithSender tags ctx with what sends the requests made with it — a stream's name,
// WorkspaceCheck or Webhook — for StreamOfRequest: the client reports the tag with every
// request (affinity.WithLabel). A stream's run tags its own context.
func WithSender(ctx context.Context, sender string) context.Context {
	return affinity.WithLabel(ctx, sender)
}

// StreamOfRequest names what sent a request, for the progress display, the daemon's
// metrics, bench and the run record: the tag of its context (WithSender) when it has one —
// every request of a stream's run does, so /v2/companies, which field_values (entities on no
// list) and organization_details both read, counts for the one that sent it. A request
// without a tag is named by its endpoint: WorkspaceCheck for /auth/whoami, RateLimitCheck
// for /rate-limit, Webhook for /webhook and what is under it, the stream whose registry
// entry lists the endpoint when exactly one does, otherwise Unattributed.
func StreamOfRequest(info affinity.RequestInfo) string {
	if info.Label != "" {
		return info.Label
	}
	switch {
	case info.Endpoint == "/auth/whoami":
		return WorkspaceCheck
	case info.Endpoint == "/rate-limit":
		return RateLimitCheck
	case info.Endpoint == "/webhook", strings.HasPrefix(info.Endpoint, "/webhook/"):
		return Webhook
	}
	owner := ""
	for _, s := range registry() {
		if !slices.Contains(s.endpoints, info.Endpoint) {
			continue
		}
		if owner != "" {
			return Unattributed
		}
		owner = s.name
	}
	if owner == "" {
		return Unattributed
	}
	return owner
}

// StreamResetter clears checkpoints and freshness times; *loader.Store satisfies it.
type StreamResetter interface {
	ResetStreams(ctx context.Context, streams []loader.StreamReset) error
}

// ResetStreams makes the next run re-read the named streams from the start: their
// checkpoints and the per-entity freshness they keep are cleared. An unknown name is an error
// and nothing is changed.
func ResetStreams(ctx context.Context, store StreamResetter, names []string) error {
	resets := make([]loader.StreamReset, 0, len(names))
	for _, n := range names {
		s, ok := lookup(n)
		if !ok {
			return fmt.Errorf("reset streams: %w", CheckStreams([]string{n}))
		}
		resets = append(resets, loader.StreamReset{Stream: n, Freshness: s.freshness})
	}
	return store.ResetStreams(ctx, resets)
}

// WorkspaceCheck names the one request of a run outside the streams: which workspace the key
// belongs to.
const WorkspaceCheck = "(workspace check)"

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
// check first, then each stream's costs, stage by stage (run order within a stage).
func Costs(c loader.PlanCounts, streams []string, o CostOptions) ([]StreamCost, error) {
	if err := CheckStreams(streams); err != nil {
		return nil, err
	}
	check := []Cost{{Source: SourceV1, Requests: 1, Chain: 1, Detail: "GET /auth/whoami", Bound: "GET /auth/whoami before the streams"}}
	out := []StreamCost{{Stream: WorkspaceCheck, Stage: -1, Costs: check, Path: SourceV1, OnV1: check}}
	for stage, names := range Stages() {
		for _, name := range names {
			if !slices.Contains(streams, name) {
				continue
			}
			s, _ := lookup(name)
			sc := StreamCost{Stream: name, Stage: stage, Path: SourceV1, OnV1: s.cost(c, o)}
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
