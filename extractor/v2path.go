package extractor

import (
	"context"
	"fmt"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The path decisions of the two streams with an API v2 source: what is due decides what a
// pass must read, and the cheaper side reads it. A list is read through v2 when its v2 pages
// cost fewer requests than one v1 call per due entity on it; organization links when the
// companies pages cost fewer than one v1 call per due organization (docs/api-v2.md).

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

// continuesOnV1 is the plan of a pass in progress past its v2 phases (or that chose none): it
// goes on through v1, whatever the costs say now.
func continuesOnV1(v1 []phase) passPlan {
	return passPlan{phases: v1, path: &PathNote{Path: "v1", Reason: "the pass in progress continues through v1"}}
}

// fieldValuesV2Phases are the phases of a field_values pass that may read through v2: one
// v2 phase per list that is cheaper through v2, then the v1 phases for what is still due.
func (s *Syncer) fieldValuesV2Phases(ctx context.Context, ps passState, v1 []phase) (passPlan, error) {
	if ps.resuming && !ps.at.Kind.V2() {
		return continuesOnV1(v1), nil
	}
	chosen, err := s.chosenListIDs(ctx)
	if err != nil {
		return passPlan{}, err
	}
	counts, err := s.store.ListCounts(ctx, loader.RefreshQuery{PassStart: ps.start, StaleBefore: s.staleBefore(s.opts.ValuesMaxAge), Lists: chosen})
	if err != nil {
		return passPlan{}, err
	}
	plan := passPlan{rule: loader.PlanCounts{Lists: counts}}
	var sources []v2Source
	for i, l := range plan.rule.Lists {
		id := PhaseID{Kind: PhaseV2List, ID: l.ID}
		if ps.at == id {
			plan.rule.Lists[i].ThroughV2 = true // the pass stopped in its v2 phase: it goes on there
		}
		if plan.rule.Lists[i].ThroughV2 {
			sources = append(sources, v2Source{id: id, list: s.v2ListEntries(l.ID)})
		}
	}
	lists := len(sources)
	unlisted := false
	if s.opts.FieldValuesForUnlisted {
		persons, orgs, due, err := s.store.UnlistedDueCount(ctx, ps.start, s.staleBefore(s.opts.UnlistedMaxAge))
		if err != nil {
			return passPlan{}, err
		}
		unlisted = loader.UnlistedCheaperThroughV2(persons, orgs, due) || ps.at.Kind == PhaseV2Persons || ps.at.Kind == PhaseV2Companies
		plan.rule.UnlistedDue, plan.rule.UnlistedThroughV2 = due, unlisted
		plan.rule.Live = map[string]int64{loader.EntityPerson.Table(): persons, loader.EntityOrganization.Table(): orgs}
	}
	if lists == 0 && !unlisted {
		plan.phases = v1
		plan.path = &PathNote{Path: "v1", Reason: "no list costs fewer requests through v2 than one v1 call per due entity on it"}
		return plan, nil
	}
	cat, err := s.v2Catalog(ctx)
	if err != nil {
		return passPlan{}, err
	}
	if unlisted {
		sources = append(sources, v2Source{PhaseID{Kind: PhaseV2Persons}, s.v2Persons}, v2Source{PhaseID{Kind: PhaseV2Companies}, s.v2CompanyValues})
	}
	var pr probeOutcome
	if !ps.resuming {
		probe := sources[:lists]
		if lists == 0 {
			probe = sources[:1] // only entities on no list go through v2: the persons listing
		}
		if pr, err = s.probeValues(ctx, probe, cat); err != nil {
			return passPlan{}, err
		}
		plan.rule.ValuesProbe = pr.requests()
		if pr.cause != "" {
			return s.probeFallback(StreamFieldValues, pr, probe, v1, plan)
		}
	}
	// The lists' v2 phases, then the v1 phase of the listed entities still due, then the v2
	// persons and companies of entities on no list: those pages carry listed entities too, and
	// mark them fetched, so they must not run before the listed entities on v1 lists are read.
	phases := make([]phase, 0, len(sources)+len(v1))
	for i, src := range sources {
		var first *probedPage
		if i < len(pr.probed) {
			first = &pr.probed[i]
		}
		if src.id.Kind == PhaseV2Persons {
			phases = append(phases, v1[0])
			v1 = v1[1:]
		}
		phases = append(phases, v2Phase(src.id, src.list, first, valueRows(cat)))
	}
	reason := fmt.Sprintf("%d of %d lists cost fewer requests through v2", lists, len(counts))
	if unlisted {
		reason += "; entities on no list through v2 persons and companies"
	}
	plan.phases = append(phases, v1...)
	plan.path = &PathNote{Path: "v1+v2", Reason: reason + "; what is still due after them through v1"}
	return plan, nil
}

// organizationDetailsV2Phases reads every company's persons through v2 when the companies
// pages cost fewer requests than one v1 call per due organization, then through v1 what is
// still due (companies whose persons v2 may have cut short among them).
func (s *Syncer) organizationDetailsV2Phases(ctx context.Context, ps passState, v1 []phase) (passPlan, error) {
	companies := PhaseID{Kind: PhaseV2Companies}
	if ps.resuming && ps.at != companies {
		return continuesOnV1(v1), nil
	}
	due, err := s.store.DetailsDueCount(ctx, loader.DetailsQuery{PassStart: ps.start, StaleBefore: s.staleBefore(s.opts.ValuesMaxAge)})
	if err != nil {
		return passPlan{}, err
	}
	orgs, err := s.store.CountLive(ctx, loader.EntityOrganization)
	if err != nil {
		return passPlan{}, err
	}
	plan := passPlan{rule: loader.PlanCounts{DetailsDue: due, Live: map[string]int64{loader.EntityOrganization.Table(): orgs},
		DetailsThroughV2: loader.CheaperThroughV2(orgs, due) || ps.at == companies}}
	if !plan.rule.DetailsThroughV2 {
		plan.phases = v1
		plan.path = &PathNote{Path: "v1",
			Reason: fmt.Sprintf("%d organizations due cost fewer requests through v1 than %d v2 companies pages", due, loader.V2PagesOf(orgs))}
		return plan, nil
	}
	var first *probedPage
	if !ps.resuming {
		pr, err := s.probeLinks(ctx)
		if err != nil {
			return passPlan{}, err
		}
		plan.rule.LinksProbe = pr.requests()
		if pr.cause != "" {
			return s.probeFallback(StreamOrganizationDetails, pr, []v2Source{{id: companies}}, v1, plan)
		}
		first = &pr.probed[0]
	}
	plan.phases = append([]phase{v2Phase(companies, s.v2CompanyPersons, first, linkRows)}, v1...)
	plan.path = &PathNote{Path: "v1+v2",
		Reason: fmt.Sprintf("%d organizations due cost more than %d v2 companies pages; companies with more than %d persons through v1", due, loader.V2PagesOf(orgs), loader.V2PageSize)}
	return plan, nil
}
