package extractor

import (
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// What a pass saw, in the shape plan fills from the warehouse: each registry entry's saw
// function turns its stream's result into the counts its cost model reads, so that bench
// measures a pass against the same cost models plan estimates with.

// Counts returns the sizes the run's passes saw, as loader.PlanCounts: fed to Costs, they
// give the requests each stream had to send for what it read.
func (r Result) Counts() loader.PlanCounts {
	c := loader.PlanCounts{Live: map[string]int64{}, WithDates: map[loader.EntityKind]int64{}}
	for _, res := range r.Streams {
		if st, ok := lookup(res.Stream); ok {
			st.saw(res, &c)
		}
	}
	return c
}

// sawNothing is the saw of a stream of fixed cost.
func sawNothing(StreamResult, *loader.PlanCounts) {}

// sawListing is the saw of a listing of one table's rows: its main phase's items are the
// table's live rows, an interaction-dates phase's items the rows with dates.
func sawListing(table string) func(StreamResult, *loader.PlanCounts) {
	return func(r StreamResult, c *loader.PlanCounts) {
		for _, p := range r.Phases {
			switch p.Phase.Kind {
			case PhaseMain:
				c.Live[table] = max(c.Live[table], p.Items)
			case PhaseInteractionDates:
				for _, k := range loader.EntityKinds() {
					if k.Table() == table {
						c.WithDates[k] = max(c.WithDates[k], p.Items)
					}
				}
			}
		}
	}
}

// sawListEntries: each list's entries are the items of its phase.
func sawListEntries(r StreamResult, c *loader.PlanCounts) {
	for _, p := range r.Phases {
		if p.Phase.Kind == PhaseListEntries {
			listCount(c, p.Phase.ID).Entries = p.Items
		}
	}
}

// sawChanges: the v1 histories read before the change feed (fields without one) and after it
// (a fall back), the feed's pages and its probe, and the tracked fields in scope.
func sawChanges(r StreamResult, c *loader.PlanCounts) {
	feed := false
	var histories int64
	for _, p := range r.Phases {
		switch {
		case p.Phase.Kind == PhaseV2Changes:
			feed = true
			c.FeedPages += p.V2Pages
			c.FeedProbe += p.ProbeRequests
		case p.Phase.Kind == PhaseFieldChanges && feed:
			c.HistoriesFallback++
		case p.Phase.Kind == PhaseFieldChanges:
			c.HistoriesDue++
			histories++
		}
	}
	if r.Rule.TrackedFields > 0 {
		c.TrackedFields += r.Rule.TrackedFields // the fields in scope, as the pass counted them
	} else {
		c.TrackedFields += histories // a pass through v1: one history per field
	}
}

// sawFieldValues: what the path rule decided on (the lists, entities on no list, the probe),
// and the entities still fetched one by one through v1.
func sawFieldValues(r StreamResult, c *loader.PlanCounts) {
	whole := map[PhaseID]bool{} // the v2 listings the pass read to their end
	for _, p := range r.Phases {
		if p.Phase.Kind.V2() && p.ReadWhole {
			whole[p.Phase] = true
		}
	}
	for _, l := range r.Rule.Lists {
		lc := listCount(c, l.ID)
		// A list the rule chose but the pass did not read to its end (v2 refused it, and the
		// pass fell back to v1) costs what its v1 reads cost, not its v2 pages.
		lc.Entries, lc.Due, lc.ThroughV2 = max(lc.Entries, l.Entries), l.Due, l.ThroughV2 && whole[PhaseID{Kind: PhaseV2List, ID: l.ID}]
	}
	c.UnlistedThroughV2 = r.Rule.UnlistedThroughV2 && whole[PhaseID{Kind: PhaseV2Persons}] && whole[PhaseID{Kind: PhaseV2Companies}]
	c.UnlistedDue, c.ValuesProbe = r.Rule.UnlistedDue, r.Rule.ValuesProbe
	for _, p := range r.Phases {
		switch p.Phase.Kind {
		case PhaseMain:
			c.ValuesDue[loader.RefreshNew] += p.EntityRequests
			c.ValuesDueOffV2 += p.EntityRequests
		case PhaseUnlisted:
			c.UnlistedDue = p.EntityRequests
		}
	}
}

// sawDetails: the organizations fetched through v1 — every one due on the v1 path, those v2
// may cut short on the v2 path — and the probe.
func sawDetails(r StreamResult, c *loader.PlanCounts) {
	var v1 int64
	whole := false // the companies listing read to its end
	for _, p := range r.Phases {
		v1 += p.EntityRequests
		whole = whole || p.Phase.Kind == PhaseV2Companies && p.ReadWhole
	}
	orgs := loader.EntityOrganization.Table()
	c.Live[orgs] = max(c.Live[orgs], r.Rule.Live[orgs])
	c.DetailsThroughV2, c.LinksProbe, c.DetailsDue = r.Rule.DetailsThroughV2 && whole, r.Rule.LinksProbe, v1
	if c.DetailsThroughV2 {
		c.DetailsDue, c.DetailsCutShort = r.Rule.DetailsDue, v1
	}
}

// listCount returns c's count of list id, added when missing.
func listCount(c *loader.PlanCounts, id int64) *loader.ListCount {
	i := slices.IndexFunc(c.Lists, func(l loader.ListCount) bool { return l.ID == id })
	if i < 0 {
		c.Lists = append(c.Lists, loader.ListCount{ID: id, Known: true})
		i = len(c.Lists) - 1
	}
	return &c.Lists[i]
}
