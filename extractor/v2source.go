package extractor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The API v2 sources of the field_values and organization_details streams
// (docs/api-v2.md). API v2 returns an entity's field values, and an
// organization's persons, inline, 100 entities a page; v1 needs one request
// per entity. What is due still decides what a pass must read; the path is
// chosen by cost: a list is read through v2 when its v2 pages cost fewer
// requests than one v1 call per due entity on it, and organization links when
// the companies pages cost fewer than one v1 call per due organization. A
// probe compares the first v2 page with v1 before any v2 row is written.

// V2Mode says whether the streams may read through API v2 (affinity.api_v2).
// The zero value is V2Off: the library reads v1 unless told otherwise.
type V2Mode int

const (
	// V2Off reads v1 only.
	V2Off V2Mode = iota
	// V2Auto reads through v2 where it costs fewer requests, and falls back to v1 for the
	// pass when v2 refuses or its probe disagrees with v1.
	V2Auto
	// V2On is V2Auto, except that a refusal or a probe difference fails the stream.
	V2On
)

func (m V2Mode) String() string {
	switch m {
	case V2Auto:
		return "auto"
	case V2On:
		return "on"
	}
	return "off"
}

// SourceV2 is Affinity's API v2.
const SourceV2 Source = "v2"

// V2PageSize is the rows of a v2 page: its maximum.
const V2PageSize = loader.V2PageSize

// probeSize is how many entities of the first v2 page the probe also reads through v1.
const probeSize = 5

// Phase names of the v2 sources.
const (
	phaseV2Prefix    = "v2:"
	phaseV2Companies = phaseV2Prefix + "companies"
	phaseV2Persons   = phaseV2Prefix + "persons"
)

// v2ListPhase names the phase that reads list id through v2.
func v2ListPhase(id int64) string { return phaseV2Prefix + strconv.FormatInt(id, 10) }

// V2Reads is what a run read through API v2 for one stream, and what its probe spent: with
// the warehouse's sizes, the exact lower bound of the requests the stream sent.
type V2Reads struct {
	Lists         []int64 // lists whose entries were all read through v2 (field_values)
	Persons       bool    // every person read through v2 (values of entities on no list)
	Companies     bool    // every company read through v2 (values on no list, organization links)
	Pages         int64   // v2 pages read
	ProbeRequests int64   // v1 requests the probe sent
}

// readCounts are a stream's V2Reads and per-entity v1 requests in the current run.
type readCounts struct {
	v2       V2Reads
	entities int64
}

func (s *Syncer) resetReads(stream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reads == nil {
		s.reads = map[string]*readCounts{}
	}
	s.reads[stream] = &readCounts{}
}

// countReads updates stream's counts under the lock.
func (s *Syncer) countReads(stream string, f func(*readCounts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reads == nil {
		s.reads = map[string]*readCounts{}
	}
	if s.reads[stream] == nil {
		s.reads[stream] = &readCounts{}
	}
	f(s.reads[stream])
}

func (s *Syncer) readsOf(stream string) (V2Reads, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reads[stream]
	if r == nil {
		return V2Reads{}, 0
	}
	v := r.v2
	v.Lists = slices.Clone(v.Lists)
	return v, r.entities
}

// countEntityRequest counts one v1 request for one entity of stream.
func (s *Syncer) countEntityRequest(stream string) {
	s.countReads(stream, func(r *readCounts) { r.entities++ })
}

// unlistedThroughV2 reports whether the values of entities on no list are cheaper to read
// through the v2 persons and companies listings than one v1 call per due entity.
func unlistedThroughV2(persons, organizations, due int64) bool {
	return loader.V2PagesOf(persons)+loader.V2PagesOf(organizations) < due
}

// PathNote is the path a stream's pass takes, and why.
type PathNote struct {
	Path   string // "v1", "v2", or "v1+v2"
	Reason string
	// ProbeDifferences counts probes that found v2 disagreeing with v1; Fallback is set when
	// the pass fell back to v1 (under auto) because v2 refused or disagreed.
	ProbeDifferences int
	Fallback         bool
}

// notePath records the path of stream's pass for its result.
func (s *Syncer) notePath(stream string, n PathNote) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paths == nil {
		s.paths = map[string]PathNote{}
	}
	s.paths[stream] = n
}

func (s *Syncer) pathOf(stream string) (PathNote, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.paths[stream]
	return n, ok
}

// v2Refusal is v2 refusing a read (403 without export permission, 404 without v2, any other
// answer that is not a rate limit): under auto the stream falls back to v1 for the pass.
// A nextUrl to another host is never a refusal: it fails the stream under every setting.
func v2Refusal(err error) (*affinity.APIError, bool) {
	var ae *affinity.APIError
	var foreign *affinity.ForeignURLError
	var rl *affinity.RateLimitError
	if errors.As(err, &foreign) || errors.As(err, &rl) || !errors.As(err, &ae) {
		return nil, false
	}
	return ae, true
}

// v2Item is one entity of a v2 page with its inline fields.
type v2Item struct {
	kind   loader.EntityKind
	id     int64
	entry  *int64 // the list entry, for /v2/lists/{id}/list-entries rows
	fields []affinity.V2Field
}

// v2ItemPage is one v2 page of entities.
type v2ItemPage struct {
	items []v2Item
	next  string // the cursor of the next page; "" on the last
}

// v2Listing pages through one v2 listing from a cursor.
type v2Listing func(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error]

func (s *Syncer) v2ListEntries(listID int64) v2Listing {
	return func(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error] {
		q := affinity.V2Query{FieldTypes: []string{"global", "enriched", "list"}, Cursor: cursor, Limit: V2PageSize}
		return v2Convert(s.api.ListEntriesV2(ctx, listID, q), func(e affinity.V2ListEntry) (v2Item, bool) {
			kind, ok := v2EntryKind(e.Type)
			entry := e.ID
			return v2Item{kind: kind, id: e.Entity.ID, entry: &entry, fields: e.Entity.Fields}, ok
		})
	}
}

func (s *Syncer) v2Persons(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error] {
	q := affinity.V2Query{FieldTypes: []string{"global", "enriched"}, Cursor: cursor, Limit: V2PageSize}
	return v2Convert(s.api.PersonsV2(ctx, q), func(p affinity.V2Person) (v2Item, bool) {
		return v2Item{kind: loader.EntityPerson, id: p.ID, fields: p.Fields}, true
	})
}

func (s *Syncer) v2CompanyValues(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error] {
	q := affinity.V2Query{FieldTypes: []string{"global", "enriched"}, Cursor: cursor, Limit: V2PageSize}
	return v2Convert(s.api.CompaniesV2(ctx, q), func(c affinity.V2Company) (v2Item, bool) {
		return v2Item{kind: loader.EntityOrganization, id: c.ID, fields: c.Fields}, true
	})
}

func (s *Syncer) v2CompanyPersons(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error] {
	q := affinity.V2Query{FieldIDs: []string{"persons"}, Cursor: cursor, Limit: V2PageSize}
	return v2Convert(s.api.CompaniesV2(ctx, q), func(c affinity.V2Company) (v2Item, bool) {
		return v2Item{kind: loader.EntityOrganization, id: c.ID, fields: c.Fields}, true
	})
}

// v2EntryKind maps a v2 list entry type to the entity kind; false for a type v1 does not know.
func v2EntryKind(t string) (loader.EntityKind, bool) {
	switch t {
	case "person":
		return loader.EntityPerson, true
	case "company":
		return loader.EntityOrganization, true
	case "opportunity":
		return loader.EntityOpportunity, true
	}
	return 0, false
}

func v2Convert[T any](pages iter.Seq2[affinity.V2Page[T], error], item func(T) (v2Item, bool)) iter.Seq2[v2ItemPage, error] {
	return func(yield func(v2ItemPage, error) bool) {
		for p, err := range pages {
			if err != nil {
				yield(v2ItemPage{}, err)
				return
			}
			out := v2ItemPage{next: p.NextCursor, items: make([]v2Item, 0, len(p.Items))}
			for _, x := range p.Items {
				if it, ok := item(x); ok {
					out.items = append(out.items, it)
				}
			}
			if !yield(out, nil) {
				return
			}
		}
	}
}

// firstV2Page reads the first page of a listing, which the probe checks.
func firstV2Page(ctx context.Context, list v2Listing) (v2ItemPage, error) {
	for p, err := range list(ctx, "") {
		return p, err
	}
	return v2ItemPage{}, nil
}

// v2Phase is a phase that reads a v2 listing, turning each page into rows with rows. The
// probe's first page (and what the probe read through v1, in extra) is committed as the
// phase's first page instead of being read again. A page counts the warehouse rows it
// writes (an entity's values, one by one), not its entities, so a batch holds at most
// BatchRows values however many fields an entity carries.
func (s *Syncer) v2Phase(stream, name string, list v2Listing, first *v2ItemPage, extra loader.Page, rows func(v2ItemPage) (loader.Page, error)) phase {
	var once sync.Once
	// count notes a page requested (the probe counted the first one) and, on the last
	// page, the listing read whole.
	count := func(requested bool, last bool) {
		s.countReads(stream, func(r *readCounts) {
			if requested {
				r.v2.Pages++
			}
			if !last {
				return
			}
			switch {
			case name == phaseV2Persons:
				r.v2.Persons = true
			case name == phaseV2Companies:
				r.v2.Companies = true
			default:
				if id, err := strconv.ParseInt(strings.TrimPrefix(name, phaseV2Prefix), 10, 64); err == nil {
					r.v2.Lists = append(r.v2.Lists, id)
				}
			}
		})
	}
	return phase{name: name, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		return func(yield func(fetched, error) bool) {
			cursor := cp.PageToken
			var cached *v2ItemPage
			once.Do(func() {
				if first != nil && cursor == "" {
					cached = first
				}
			})
			if cached != nil {
				out, err := rows(*cached)
				if err != nil {
					yield(fetched{}, err)
					return
				}
				out.Append(extra)
				count(false, cached.next == "")
				if !yield(fetched{rows: out, n: out.RowCount(), nextToken: cached.next}, nil) || cached.next == "" {
					return
				}
				cursor = cached.next
			}
			for p, err := range list(ctx, cursor) {
				if err != nil {
					yield(fetched{}, err)
					return
				}
				out, err := rows(p)
				if err != nil {
					yield(fetched{}, err)
					return
				}
				count(true, p.next == "")
				if !yield(fetched{rows: out, n: out.RowCount(), nextToken: p.next}, nil) {
					return
				}
			}
		}
	}}
}

// valueRows maps a v2 page of entities to the values it replaces.
func valueRows(cat v2Catalog) func(v2ItemPage) (loader.Page, error) {
	return func(p v2ItemPage) (loader.Page, error) {
		var out loader.Page
		for _, it := range p.items {
			r, err := cat.mapV2(int(it.kind), it.id, it.entry, it.fields)
			if err != nil {
				return loader.Page{}, err
			}
			out.ScopedValues = append(out.ScopedValues, r.values)
		}
		return out, nil
	}
}

// companyPersons returns the person ids of a company's inline persons field, and whether
// they are all there: not when the field is missing, or may be cut short (totalCount above
// the items returned, or a full 100 without totalCount).
func companyPersons(fields []affinity.V2Field) ([]int64, bool) {
	i := slices.IndexFunc(fields, func(f affinity.V2Field) bool { return f.ID == "persons" })
	if i < 0 {
		return nil, false
	}
	v := fields[i].Value
	var items []struct {
		ID int64 `json:"id"`
	}
	if !v.IsNull() {
		if err := json.Unmarshal(v.Data, &items); err != nil {
			return nil, false
		}
	}
	if v.TotalCount != nil && *v.TotalCount > len(items) || v.TotalCount == nil && len(items) >= V2PageSize {
		return nil, false
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids, true
}

// linkRows maps a v2 companies page to organization → person links; companies whose persons
// may be cut short are left for v1.
func linkRows(p v2ItemPage) (loader.Page, error) {
	var out loader.Page
	for _, it := range p.items {
		if ids, ok := companyPersons(it.fields); ok {
			out.OrganizationPersons = append(out.OrganizationPersons, loader.OrganizationPersons{OrganizationID: it.id, PersonIDs: ids})
		}
	}
	return out, nil
}

// probeOutcome is what the probe of a v2 listing found.
type probeOutcome struct {
	first *v2ItemPage // the first page, when v2 answered
	rows  loader.Page // what the probe read through v1, stored as usual
	cause string      // why the pass must not read through v2; "" when it may
	diff  bool        // the cause is a difference, not a refusal
}

// probeValues reads the first v2 page of a listing and the first up to 5 of its entities that
// have a value through v1 too, and compares them.
func (s *Syncer) probeValues(ctx context.Context, list v2Listing, cat v2Catalog) (probeOutcome, error) {
	first, err := firstV2Page(ctx, list)
	if err != nil {
		if ae, ok := v2Refusal(err); ok {
			return probeOutcome{cause: "API v2 refused: " + refusalText(ae)}, nil
		}
		return probeOutcome{}, err
	}
	s.countReads(StreamFieldValues, func(r *readCounts) { r.v2.Pages++ })
	types, err := s.store.FieldValueTypes(ctx)
	if err != nil {
		return probeOutcome{}, err
	}
	out := probeOutcome{first: &first}
	probed := 0
	for _, it := range first.items {
		if probed == probeSize {
			break
		}
		r, err := cat.mapV2(int(it.kind), it.id, it.entry, it.fields)
		if err != nil {
			return probeOutcome{}, err
		}
		if len(r.values.Values) == 0 {
			continue
		}
		probed++
		k := loader.EntityKey{Type: it.kind, ID: it.id}
		s.countReads(StreamFieldValues, func(r *readCounts) { r.v2.ProbeRequests++ })
		values, err := s.api.FieldValues(ctx, selectorOf(k))
		if err != nil {
			if skippable(err) {
				continue
			}
			return probeOutcome{}, fmt.Errorf("probe: entity %s: %w", encodeKey(k), err)
		}
		ev := entityValuesRow(k, values, types)
		out.rows.EntityValues = append(out.rows.EntityValues, ev)
		if d := probeDifference(r, ev.Values); d != "" && out.cause == "" {
			out.cause, out.diff = "API v2 disagrees with v1: "+d, true
		}
	}
	return out, nil
}

// probeLinks reads the first v2 companies page and the first up to 5 companies with their
// complete persons (those with persons first) through v1 too, and compares the person sets.
func (s *Syncer) probeLinks(ctx context.Context) (probeOutcome, error) {
	first, err := firstV2Page(ctx, s.v2CompanyPersons)
	if err != nil {
		if ae, ok := v2Refusal(err); ok {
			return probeOutcome{cause: "API v2 refused: " + refusalText(ae)}, nil
		}
		return probeOutcome{}, err
	}
	s.countReads(StreamOrganizationDetails, func(r *readCounts) { r.v2.Pages++ })
	out := probeOutcome{first: &first}
	var picks []v2Item
	for _, withPersons := range []bool{true, false} {
		for _, it := range first.items {
			if ids, ok := companyPersons(it.fields); ok && (len(ids) > 0) == withPersons && len(picks) < probeSize {
				picks = append(picks, it)
			}
		}
	}
	for _, it := range picks {
		v2IDs, _ := companyPersons(it.fields)
		s.countReads(StreamOrganizationDetails, func(r *readCounts) { r.v2.ProbeRequests++ })
		org, err := s.api.Organization(ctx, it.id, false)
		if err != nil {
			if skippable(err) {
				continue
			}
			return probeOutcome{}, fmt.Errorf("probe: organization %d: %w", it.id, err)
		}
		out.rows.OrganizationPersons = append(out.rows.OrganizationPersons, loader.OrganizationPersons{OrganizationID: it.id, PersonIDs: org.PersonIDs})
		if d := personSetDifference(it.id, v2IDs, org.PersonIDs); d != "" && out.cause == "" {
			out.cause, out.diff = "API v2 disagrees with v1: "+d, true
		}
	}
	return out, nil
}

// personSetDifference describes how two person id sets of one organization differ, or "".
func personSetDifference(org int64, v2, v1 []int64) string {
	a, b := slices.Clone(v2), slices.Clone(v1)
	slices.Sort(a)
	slices.Sort(b)
	a, b = slices.Compact(a), slices.Compact(b)
	if slices.Equal(a, b) {
		return ""
	}
	return fmt.Sprintf("organization %d persons: v2 has %v, v1 has %v", org, a, b)
}

func refusalText(ae *affinity.APIError) string {
	s := fmt.Sprintf("HTTP %d", ae.StatusCode)
	if ae.Code != "" {
		s += " " + ae.Code
	}
	return s + " on " + ae.Endpoint
}

// fallback decides what a refused or disagreeing probe means for stream: under on, the
// stream fails; under auto, the pass reads v1, with one warning.
func (s *Syncer) fallback(stream string, pr probeOutcome) error {
	note := PathNote{Path: "v1", Reason: pr.cause + " (fell back to v1 for this pass)", Fallback: true}
	if pr.diff {
		note.ProbeDifferences = 1
	}
	if s.opts.APIV2 == V2On {
		note.Fallback = false
		note.Reason = pr.cause
		s.notePath(stream, note)
		return fmt.Errorf("api_v2 is on: %s", pr.cause)
	}
	s.notePath(stream, note)
	s.log.Warn("reading through API v1 for this pass", "stream", stream, "cause", pr.cause)
	return nil
}

// withPrelude makes the first phase commit rows (what a probe read through v1) before its
// own pages.
func withPrelude(phases []phase, rows loader.Page) []phase {
	if len(phases) == 0 || rows.RowCount() == 0 {
		return phases
	}
	first := phases[0]
	var once sync.Once
	pages := first.pages
	first.pages = func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		return func(yield func(fetched, error) bool) {
			send := false
			once.Do(func() { send = true })
			if send && !yield(fetched{rows: rows, n: 0, nextToken: cp.PageToken}, nil) {
				return
			}
			for f, err := range pages(ctx, cp) {
				if !yield(f, err) {
					return
				}
			}
		}
	}
	out := slices.Clone(phases)
	out[0] = first
	return out
}

// passStart is when the pass of stream started, or now for a pass about to start.
func (s *Syncer) passStart(ctx context.Context, stream string) (loader.Checkpoint, time.Time, error) {
	cp, err := s.store.LoadCheckpoint(ctx, stream)
	if err != nil {
		return cp, time.Time{}, err
	}
	if cp.PassStartedAt.IsZero() {
		return cp, s.opts.Now(), nil
	}
	return cp, cp.PassStartedAt, nil
}

// v2Catalog reads the field catalog the mapping needs.
func (s *Syncer) v2Catalog(ctx context.Context) (v2Catalog, error) {
	fields, err := s.store.FieldCatalog(ctx)
	if err != nil {
		return v2Catalog{}, err
	}
	options, err := s.store.DropdownOptions(ctx)
	if err != nil {
		return v2Catalog{}, err
	}
	byField := map[int64][]loader.DropdownOption{}
	for k, o := range options {
		byField[k.FieldID] = append(byField[k.FieldID], o)
	}
	for i := range fields {
		fields[i].Options = byField[fields[i].ID]
	}
	return newV2Catalog(fields), nil
}

// fieldValuesV2Phases are the phases of a field_values pass that may read through v2: one
// v2 phase per list that is cheaper through v2, then the v1 phases for what is still due.
func (s *Syncer) fieldValuesV2Phases(ctx context.Context, v1 []phase) ([]phase, error) {
	cp, start, err := s.passStart(ctx, StreamFieldValues)
	if err != nil {
		return nil, err
	}
	chosen, err := s.chosenListIDs(ctx)
	if err != nil {
		return nil, err
	}
	plans, err := s.store.ListCounts(ctx, loader.RefreshQuery{PassStart: start, StaleBefore: s.opts.Now().Add(-s.opts.ValuesMaxAge), Lists: chosen})
	if err != nil {
		return nil, err
	}
	if !cp.PassStartedAt.IsZero() && !strings.HasPrefix(cp.Phase, phaseV2Prefix) {
		// A pass in progress past its v2 phases (or that chose none) goes on through v1.
		s.notePath(StreamFieldValues, PathNote{Path: "v1", Reason: "the pass in progress continues through v1"})
		return v1, nil
	}
	var lists []int64
	for _, l := range plans {
		if l.CheaperThroughV2() || cp.Phase == v2ListPhase(l.ID) {
			lists = append(lists, l.ID)
		}
	}
	unlisted := false
	if s.opts.FieldValuesForUnlisted {
		persons, orgs, due, err := s.store.UnlistedDueCount(ctx, start, s.opts.Now().Add(-s.opts.UnlistedMaxAge))
		if err != nil {
			return nil, err
		}
		unlisted = unlistedThroughV2(persons, orgs, due) || cp.Phase == phaseV2Persons || cp.Phase == phaseV2Companies
	}
	if len(lists) == 0 && !unlisted {
		s.notePath(StreamFieldValues, PathNote{Path: "v1", Reason: "no list costs fewer requests through v2 than one v1 call per due entity on it"})
		return v1, nil
	}
	cat, err := s.v2Catalog(ctx)
	if err != nil {
		return nil, err
	}
	var listings []struct {
		name string
		list v2Listing
	}
	for _, id := range lists {
		listings = append(listings, struct {
			name string
			list v2Listing
		}{v2ListPhase(id), s.v2ListEntries(id)})
	}
	if unlisted {
		listings = append(listings, struct {
			name string
			list v2Listing
		}{phaseV2Persons, s.v2Persons}, struct {
			name string
			list v2Listing
		}{phaseV2Companies, s.v2CompanyValues})
	}
	resuming := strings.HasPrefix(cp.Phase, phaseV2Prefix)
	var pr probeOutcome
	if !resuming {
		if pr, err = s.probeValues(ctx, listings[0].list, cat); err != nil {
			return nil, err
		}
		if pr.cause != "" {
			return withPrelude(v1, pr.rows), s.fallback(StreamFieldValues, pr)
		}
	}
	// The lists' v2 phases, then the v1 phase of the listed entities still due, then the v2
	// persons and companies of entities on no list: those pages carry listed entities too, and
	// mark them fetched, so they must not run before the listed entities on v1 lists are read.
	phases := make([]phase, 0, len(listings)+len(v1))
	for i, l := range listings {
		var first *v2ItemPage
		var extra loader.Page
		if i == 0 {
			first, extra = pr.first, pr.rows
		}
		if l.name == phaseV2Persons {
			phases = append(phases, v1[0])
			v1 = v1[1:]
		}
		phases = append(phases, s.v2Phase(StreamFieldValues, l.name, l.list, first, extra, valueRows(cat)))
	}
	reason := fmt.Sprintf("%d of %d lists cost fewer requests through v2", len(lists), len(plans))
	if unlisted {
		reason += "; entities on no list through v2 persons and companies"
	}
	s.notePath(StreamFieldValues, PathNote{Path: "v1+v2", Reason: reason + "; what is still due after them through v1"})
	return append(phases, v1...), nil
}

// organizationDetailsV2Phases reads every company's persons through v2 when the companies
// pages cost fewer requests than one v1 call per due organization, then through v1 what is
// still due (companies whose persons v2 may have cut short among them).
func (s *Syncer) organizationDetailsV2Phases(ctx context.Context, v1 []phase) ([]phase, error) {
	cp, start, err := s.passStart(ctx, StreamOrganizationDetails)
	if err != nil {
		return nil, err
	}
	if !cp.PassStartedAt.IsZero() && cp.Phase != phaseV2Companies {
		s.notePath(StreamOrganizationDetails, PathNote{Path: "v1", Reason: "the pass in progress continues through v1"})
		return v1, nil
	}
	due, err := s.store.DetailsDueCount(ctx, loader.DetailsQuery{PassStart: start, StaleBefore: s.opts.Now().Add(-s.opts.ValuesMaxAge)})
	if err != nil {
		return nil, err
	}
	orgs, err := s.store.CountLive(ctx, loader.EntityOrganization)
	if err != nil {
		return nil, err
	}
	if !loader.CheaperThroughV2(orgs, due) && cp.Phase != phaseV2Companies {
		s.notePath(StreamOrganizationDetails, PathNote{Path: "v1",
			Reason: fmt.Sprintf("%d organizations due cost fewer requests through v1 than %d v2 companies pages", due, loader.V2PagesOf(orgs))})
		return v1, nil
	}
	var pr probeOutcome
	if cp.Phase != phaseV2Companies {
		if pr, err = s.probeLinks(ctx); err != nil {
			return nil, err
		}
		if pr.cause != "" {
			return withPrelude(v1, pr.rows), s.fallback(StreamOrganizationDetails, pr)
		}
	}
	s.notePath(StreamOrganizationDetails, PathNote{Path: "v1+v2",
		Reason: fmt.Sprintf("%d organizations due cost more than %d v2 companies pages; companies with more than %d persons through v1", due, loader.V2PagesOf(orgs), V2PageSize)})
	return append([]phase{s.v2Phase(StreamOrganizationDetails, phaseV2Companies, s.v2CompanyPersons, pr.first, pr.rows, linkRows)}, v1...), nil
}
