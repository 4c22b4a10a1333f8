package extractor

import (
	"context"
	"fmt"
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The probe: each pass that would read through API v2 first reads the first v2 pages and a
// few of their entities through v1 too, and compares both sides before any v2 row is written
// (docs/api-v2.md). The pages it read become the first pages of their phases; what it read
// through v1 is stored as usual.

// v2Source is one v2 listing of a pass: the phase that reads it and the listing.
type v2Source struct {
	id   PhaseID
	list v2Listing
}

// probeOutcome is what the probe of a stream's v2 listings found.
type probeOutcome struct {
	probed []probedPage // the first pages it read, in the order of the sources
	cause  string       // why the pass must not read through v2; "" when it may
	diff   bool         // the cause is a difference, not a refusal
}

// rows is everything the probe read through v1.
func (o probeOutcome) rows() loader.Page {
	var out loader.Page
	for _, p := range o.probed {
		out.Append(p.rows)
	}
	return out
}

// requests counts the v1 requests the probe sent.
func (o probeOutcome) requests() int64 {
	var n int64
	for _, p := range o.probed {
		n += p.spent.probeRequests
	}
	return n
}

// results is what the probe spent, as results of the phases whose first pages it read: what a
// pass that does not run those phases spent on them.
func (o probeOutcome) results(sources []v2Source) []PhaseResult {
	out := make([]PhaseResult, 0, len(o.probed))
	for i, p := range o.probed {
		r := PhaseResult{Phase: sources[i].id}
		r.add(spent{v2Pages: p.spent.v2Pages, probeRequests: p.spent.probeRequests})
		out = append(out, r)
	}
	return out
}

// probeValues reads the first page of up to loader.ProbeSize of the v2 listings and, round-robin
// over them, up to loader.ProbeSize of their entries that have a value through v1 too: one from
// each listing's page, then a second from each, and so on. So a disagreement confined to one
// list's fields is seen, and a single listing is still probed with loader.ProbeSize entries.
func (s *Syncer) probeValues(ctx context.Context, sources []v2Source, cat v2Catalog) (probeOutcome, error) {
	var out probeOutcome
	for _, src := range sources[:min(len(sources), loader.ProbeSize)] {
		first, err := firstV2Page(ctx, src.list)
		if err != nil {
			if ae, ok := v2Refusal(err); ok {
				out.cause = "API v2 refused: " + refusalText(ae)
				return out, nil
			}
			return probeOutcome{}, err
		}
		out.probed = append(out.probed, probedPage{page: first, spent: spent{v2Pages: 1}})
	}
	type candidate struct {
		key  loader.EntityKey
		read v2Read
	}
	candidates := make([][]candidate, len(out.probed))
	for i, p := range out.probed {
		for _, it := range p.page.items {
			r, err := cat.mapV2(it.kind, it.id, it.entry, it.fields)
			if err != nil {
				return probeOutcome{}, err
			}
			if len(r.values.Values) > 0 {
				candidates[i] = append(candidates[i], candidate{loader.EntityKey{Type: it.kind, ID: it.id}, r})
			}
		}
	}
	types, err := s.store.FieldValueTypes(ctx)
	if err != nil {
		return probeOutcome{}, err
	}
	// An entity on two entries (or lists) is compared on each, but read through v1 once.
	v1 := map[loader.EntityKey][]loader.FieldValue{}
	gone := map[loader.EntityKey]bool{} // v1 no longer finds them: skipped
	for round, picked := 0, 0; picked < loader.ProbeSize; round++ {
		more := false
		for i := range candidates {
			if round >= len(candidates[i]) || picked == loader.ProbeSize {
				continue
			}
			more = true
			picked++
			c := candidates[i][round]
			values, read := v1[c.key]
			if gone[c.key] {
				continue
			}
			if !read {
				out.probed[i].spent.probeRequests++
				got, err := s.api.FieldValues(ctx, selectorOf(c.key))
				if err != nil {
					if skippable(err) {
						gone[c.key] = true
						continue
					}
					return probeOutcome{}, fmt.Errorf("probe: entity %s: %w", encodeKey(c.key), err)
				}
				ev := entityValuesRow(c.key, got, types)
				out.probed[i].rows.EntityValues = append(out.probed[i].rows.EntityValues, ev)
				values, v1[c.key] = ev.Values, ev.Values
			}
			if d := probeDifference(c.read, values); d != "" && out.cause == "" {
				out.cause, out.diff = "API v2 disagrees with v1: "+d, true
			}
		}
		if !more {
			break
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
	p := probedPage{page: first, spent: spent{v2Pages: 1}}
	var picks []v2Item
	for _, withPersons := range []bool{true, false} {
		for _, it := range first.items {
			if ids, ok := companyPersons(it.fields); ok && (len(ids) > 0) == withPersons && len(picks) < loader.ProbeSize {
				picks = append(picks, it)
			}
		}
	}
	var cause string
	for _, it := range picks {
		v2IDs, _ := companyPersons(it.fields)
		p.spent.probeRequests++
		org, err := s.api.Organization(ctx, it.id, false)
		if err != nil {
			if skippable(err) {
				continue
			}
			return probeOutcome{}, fmt.Errorf("probe: organization %d: %w", it.id, err)
		}
		p.rows.OrganizationPersons = append(p.rows.OrganizationPersons, loader.OrganizationPersons{OrganizationID: it.id, PersonIDs: org.PersonIDs})
		if d := personSetDifference(it.id, v2IDs, org.PersonIDs); d != "" && cause == "" {
			cause = "API v2 disagrees with v1: " + d
		}
	}
	return probeOutcome{probed: []probedPage{p}, cause: cause, diff: cause != ""}, nil
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

// probeFallback is what a refused or disagreeing probe means for stream: under on, the
// stream fails; under auto, the pass reads v1 (its v1 phases, after what the probe read
// through v1), with one warning. plan carries what the path rule decided on.
func (s *Syncer) probeFallback(stream StreamName, pr probeOutcome, sources []v2Source, v1 []phase, plan passPlan) (passPlan, error) {
	note := PathNote{Path: "v1", Reason: pr.cause + " (fell back to v1 for this pass)", Fallback: true}
	if pr.diff {
		note.ProbeDifferences = 1
	}
	plan.spent = pr.results(sources)
	if s.opts.APIV2 == V2On {
		note.Fallback, note.Reason = false, pr.cause
		plan.path = &note
		return plan, fmt.Errorf("api_v2 is on: %s", pr.cause)
	}
	plan.path = &note
	plan.phases = withPrelude(v1, pr.rows())
	s.log.Warn("reading through API v1 for this pass", "stream", stream, "cause", pr.cause)
	return plan, nil
}
