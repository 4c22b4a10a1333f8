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

// StreamName is a stream's name, as --streams, sync.streams, checkpoints, logs and metric
// labels spell it. The streams are the constants below; a name from outside (a flag, the
// configuration) becomes one through ParseStreams, which refuses any other.
type StreamName string

// Stream names, in the order a run works through them.
const (
	StreamLists               StreamName = "lists"
	StreamFields              StreamName = "fields"
	StreamPersons             StreamName = "persons"
	StreamOrganizations       StreamName = "organizations"
	StreamOpportunities       StreamName = "opportunities"
	StreamListEntries         StreamName = "list_entries"
	StreamFieldValueChanges   StreamName = "field_value_changes"
	StreamFieldValues         StreamName = "field_values"
	StreamOrganizationDetails StreamName = "organization_details"
	StreamNotes               StreamName = "notes"
	// The relationship intelligence and files streams (docs/warehouse.md).
	StreamEntityFiles           StreamName = "entity_files"
	StreamReminders             StreamName = "reminders"
	StreamInteractions          StreamName = "interactions"
	StreamRelationshipStrengths StreamName = "relationship_strengths"
)

// PageSize is the rows of every paged listing request: Affinity's default and maximum.
const PageSize = affinity.MaxPageSize

// DefaultWorkers is how many per-entity requests are in flight at once unless
// Options.Workers says otherwise.
const DefaultWorkers = 4

// stream is one entry of the registry.
type stream struct {
	name      StreamName
	stage     int          // streams of one stage run concurrently; a stage starts when the one before ended
	dependsOn []StreamName // streams whose rows it reads from the warehouse
	endpoints []string     // endpoint templates of the requests it sends (a test holds every stream to it)
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
	// keepsFeed: the stream keeps the change feed's bookkeeping, which a reset forgets too.
	keepsFeed bool
	// watermarks are the per-entity read marks the stream keeps in the warehouse, which a
	// reset forgets too.
	watermarks loader.Watermarks
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
		{name: StreamFields, stage: 1, dependsOn: []StreamName{StreamLists},
			endpoints: []string{"/fields", "/persons/fields", "/organizations/fields"},
			phases:    (*Syncer).fieldsPhases, ends: mainEnds(loader.EndSoftDeleteUnseen(loader.ObjectField)),
			cost: unpaged("GET /fields"), saw: sawNothing},
		entityListing(StreamPersons, loader.EntityPerson, (*Syncer).personsPhases),
		entityListing(StreamOrganizations, loader.EntityOrganization, (*Syncer).organizationsPhases),
		entityListing(StreamOpportunities, loader.EntityOpportunity, (*Syncer).opportunitiesPhases),
		{name: StreamListEntries, stage: 1, dependsOn: []StreamName{StreamLists}, endpoints: []string{"/lists/{id}/list-entries"},
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
		{name: StreamFieldValueChanges, stage: 2, dependsOn: []StreamName{StreamFields}, endpoints: []string{"/field-value-changes", "/v2/field-value-changes"},
			phases: (*Syncer).changesPhases, ends: phaseEnds{PhaseFieldChanges: always(loader.EndNothing()), PhaseV2Changes: always(loader.EndNothing())},
			cost: changesCost, v2cost: changesV2Cost, saw: sawChanges, per500: "1 request per tracked field; through v2 1 per 100 changes", keepsFeed: true},
		{name: StreamFieldValues, stage: 3, dependsOn: []StreamName{StreamListEntries, StreamFields},
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
			per500: fmt.Sprintf("every 500 entities due cost 500 requests on v1, %d v2 pages on v2 (plus a probe of up to %d)",
				loader.V2PagesOf(500), loader.ProbeSize)},
		{name: StreamOrganizationDetails, stage: 4, dependsOn: []StreamName{StreamOrganizations}, endpoints: []string{"/organizations/{id}", "/v2/companies"},
			freshness: loader.FreshnessDetails, phases: (*Syncer).organizationDetailsPhases,
			ends: phaseEnds{PhaseMain: always(loader.EndNothing()), PhaseV2Companies: always(loader.EndNothing())},
			cost: func(c loader.PlanCounts, o CostOptions) []Cost {
				return []Cost{perEntityCost(c.DetailsDue, o, fmt.Sprintf("%d organizations never fetched or stale", c.DetailsDue),
					fmt.Sprintf("1 per organization due (%d)", c.DetailsDue))}
			},
			v2cost: organizationDetailsV2Cost, saw: sawDetails,
			per500: fmt.Sprintf("every 500 organizations cost 500 requests on v1, %d v2 pages on v2 (plus a probe of up to %d, and 1 per organization with more than %d persons)",
				loader.V2PagesOf(500), loader.ProbeSize, loader.V2PageSize)},
		{name: StreamNotes, stage: 1, endpoints: []string{"/notes"},
			phases: (*Syncer).notesPhases, ends: mainEnds(loader.EndSoftDeleteUnseen(loader.ObjectNote)),
			cost: paged("notes", "notes"), saw: sawListing("notes"), per500: "every 500 cost 1 request"},
		{name: StreamReminders, stage: 1, endpoints: []string{"/reminders"},
			phases: (*Syncer).remindersPhases, ends: mainEnds(loader.EndSoftDeleteUnseen(loader.ObjectReminder)),
			cost: paged("reminders", "reminders"), saw: sawListing("reminders"), per500: "every 500 cost 1 request"},
		// The unfiltered listing, or — when Affinity refuses it — the listed entities one by
		// one within the intelligence cap: a pass that fell back soft-deletes per entity read.
		{name: StreamEntityFiles, stage: 2, dependsOn: []StreamName{StreamListEntries}, endpoints: []string{"/entity-files"},
			phases: (*Syncer).entityFilesPhases, watermarks: loader.WatermarksFiles,
			ends: phaseEnds{PhaseMain: always(loader.EndSoftDeleteUnseen(loader.ObjectEntityFile)), PhasePerEntity: always(loader.EndNothing())},
			cost: filesCost, saw: sawFiles,
			per500: "every 500 cost 1 request (per entity within quota.intelligence_requests when the unfiltered listing is refused)"},
		// Interactions and strengths come after every other stream: they read the interaction
		// dates and list entries this pass stored, and spend what the intelligence cap allows.
		{name: StreamInteractions, stage: 5, dependsOn: []StreamName{StreamPersons, StreamOrganizations, StreamListEntries},
			endpoints: []string{"/interactions"}, phases: (*Syncer).interactionsPhases, ends: mainEnds(loader.EndNothing()),
			watermarks: loader.WatermarksInteractions, cost: interactionsCost, saw: sawInteractions,
			per500: "1 request per entity and type whose interaction date moved, within quota.intelligence_requests"},
		{name: StreamRelationshipStrengths, stage: 6, dependsOn: []StreamName{StreamPersons, StreamListEntries},
			endpoints: []string{"/relationships-strengths"}, phases: (*Syncer).relationshipStrengthsPhases, ends: mainEnds(loader.EndNothing()),
			watermarks: loader.WatermarksStrengths, cost: strengthsCost, saw: sawStrengths,
			per500: "1 request per external person whose interaction dates moved or whose strengths are old, within quota.intelligence_requests"},
	}
}

// entityListing is the entry of a stream that lists every entity of kind k: persons and
// organizations in two listings (plain, then with interaction dates), opportunities in one.
func entityListing(name StreamName, k loader.EntityKind, phases func(*Syncer, context.Context, passState) (passPlan, error)) stream {
	endpoint := "/" + k.V1Noun()
	st := stream{name: name, stage: 1, endpoints: []string{endpoint}, phases: phases, saw: sawListing(k.Table())}
	if k == loader.EntityOpportunity {
		st.ends = mainEnds(loader.EndSoftDeleteUnseen(k.Object()))
		st.cost = paged(k.Table(), string(name))
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

// Per500 says what each 500 rows of stream that the warehouse does not know yet will cost;
// "" for a stream of fixed cost.
func Per500(stream StreamName) string {
	s, _ := lookup(stream)
	return s.per500
}

// DependsOn names the streams whose rows stream reads from the warehouse: its estimate is
// only as known as theirs.
func DependsOn(stream StreamName) []StreamName {
	s, _ := lookup(stream)
	return slices.Clone(s.dependsOn)
}

// lookup returns the registry entry of name.
func lookup(name StreamName) (stream, bool) {
	r := registry()
	i := slices.IndexFunc(r, func(s stream) bool { return s.name == name })
	if i < 0 {
		return stream{}, false
	}
	return r[i], true
}

// Streams returns the names of every stream, in run order.
func Streams() []StreamName {
	var names []StreamName
	for _, s := range registry() {
		names = append(names, s.name)
	}
	return names
}

// NamesOf spells streams as strings, for the warehouse's records and for messages.
func NamesOf(streams []StreamName) []string {
	out := make([]string, len(streams))
	for i, s := range streams {
		out[i] = string(s)
	}
	return out
}

// ParseStreams returns the streams names name, in the order given; an error names the
// first that is not a stream.
func ParseStreams(names []string) ([]StreamName, error) {
	out := make([]StreamName, len(names))
	for i, n := range names {
		out[i] = StreamName(n)
	}
	return out, checkStreams(out)
}

// checkStreams returns an error naming the first name that is not a stream: a StreamName
// converted from a string the registry does not know.
func checkStreams(names []StreamName) error {
	for _, n := range names {
		if _, ok := lookup(n); !ok {
			return fmt.Errorf("unknown stream %q (known: %s)", n, strings.Join(NamesOf(Streams()), ", "))
		}
	}
	return nil
}

// Stages returns the stream names stage by stage, in run order within a stage.
func Stages() [][]StreamName {
	var stages [][]StreamName
	for _, s := range registry() {
		for len(stages) <= s.stage {
			stages = append(stages, nil)
		}
		stages[s.stage] = append(stages[s.stage], s.name)
	}
	return stages
}

// What sends requests outside the streams, as StreamOfRequest names it.
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

// WorkspaceCheck names the one request of a run outside the streams: which workspace the key
// belongs to.
const WorkspaceCheck = "(workspace check)"

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
	var owner StreamName
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
	return string(owner)
}

// StreamResetter clears checkpoints and freshness times; *loader.Store satisfies it.
type StreamResetter interface {
	ResetStreams(ctx context.Context, streams []loader.StreamReset) error
}

// ResetStreams makes the next run re-read the named streams from the start: their
// checkpoints and the per-entity freshness they keep are cleared. An unknown name is an error
// and nothing is changed.
func ResetStreams(ctx context.Context, store StreamResetter, names []StreamName) error {
	resets := make([]loader.StreamReset, 0, len(names))
	for _, n := range names {
		s, ok := lookup(n)
		if !ok {
			return fmt.Errorf("reset streams: %w", checkStreams([]StreamName{n}))
		}
		resets = append(resets, loader.StreamReset{Stream: string(n), Freshness: s.freshness, ChangeFeed: s.keepsFeed, Watermarks: s.watermarks})
	}
	return store.ResetStreams(ctx, resets)
}
