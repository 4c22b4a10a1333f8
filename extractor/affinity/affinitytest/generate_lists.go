package affinitytest

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Generation of lists and list entries.

func (g *generator) lists() {
	id := int64(200_000 + g.rng.IntN(1000))
	add := func(typ loader.EntityKind, n int, names []string) {
		for i := range n {
			id += 1 + g.rng.Int64N(20)
			name := names[i%len(names)]
			if i >= len(names) {
				name += " " + strconv.Itoa(i/len(names)+1)
			}
			g.ws.Lists = append(g.ws.Lists, &List{ID: id, Type: typ, Name: name, Public: !g.chance(0.2),
				OwnerID: g.randomInternal(), CreatorID: g.randomInternal()})
		}
	}
	add(loader.EntityPerson, g.cfg.PersonLists, []string{"Founders", "Co-investors", "Talent Pool"})
	add(loader.EntityOrganization, g.cfg.OrganizationLists, []string{"Deal Flow", "Portfolio", "LPs"})
	add(loader.EntityOpportunity, g.cfg.OpportunityLists, []string{"Pipeline", "Fundraising"})
}

func (g *generator) entries() {
	id := int64(150_000_000 + g.rng.IntN(1000))
	add := func(l *List, entityID int64) {
		id += 1 + g.rng.Int64N(20)
		e := &ListEntry{ID: id, ListID: l.ID, EntityID: entityID, EntityType: l.Type, CreatedAt: g.past()}
		if !g.chance(0.05) {
			c := g.randomInternal()
			e.CreatorID = &c
		}
		g.ws.ListEntries = append(g.ws.ListEntries, e)
	}
	var oppLists []*List
	for _, l := range g.ws.Lists {
		if l.Type == loader.EntityOpportunity {
			oppLists = append(oppLists, l)
		}
	}
	for i, o := range g.ws.Opportunities {
		add(oppLists[i%len(oppLists)], o.ID)
	}
	for _, l := range g.ws.Lists {
		var pool func() int64
		switch l.Type {
		case loader.EntityPerson:
			pool = func() int64 { return g.ws.Persons[g.rng.IntN(len(g.ws.Persons))].ID }
		case loader.EntityOrganization:
			if len(g.ws.Organizations) == 0 {
				continue
			}
			pool = func() int64 { return g.ws.Organizations[g.rng.IntN(len(g.ws.Organizations))].ID }
		default:
			continue
		}
		var first int64
		for i := range g.cfg.EntriesPerList {
			eid := pool()
			switch i {
			case 0:
				first = eid
			case 1:
				eid = first // the same entity twice on a list
			}
			add(l, eid)
		}
	}
	// Opportunity entries were added first; keep the slice sorted by id.
	slices.SortFunc(g.ws.ListEntries, func(a, b *ListEntry) int { return cmp.Compare(a.ID, b.ID) })
}
