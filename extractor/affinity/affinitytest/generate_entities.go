package affinitytest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Generation of the tenant, persons, organizations, their links and opportunities.

func (g *generator) tenant() {
	g.ws.Tenant = Tenant{ID: 40000 + g.rng.Int64N(10000), Name: "Northwind Ventures", Subdomain: "northwind-ventures"}
}

func (g *generator) persons() {
	n := max(g.cfg.Persons, 1)
	internal := min(n, 1+min(4, n/50))
	g.ws.Persons = make([]*Person, 0, n)
	id := int64(100_000_000 + g.rng.IntN(1000))
	for i := range n {
		id += 1 + g.rng.Int64N(40)
		p := &Person{ID: id, Emails: []string{}, OrganizationIDs: []int64{}}
		first, last := g.pick(firstNames), g.pick(lastNames)
		if i < internal {
			p.Type = 1
			first, last = g.pick(firstNames[:3]), g.pick(lastNames[:3])
			email := fmt.Sprintf("%s.%d@%s.example", strings.ToLower(first), i, g.ws.Tenant.Subdomain)
			p.FirstName, p.LastName, p.PrimaryEmail = str(first), str(last), str(email)
			p.Emails = []string{email}
			g.internal = append(g.internal, id)
		} else {
			switch r := g.rng.IntN(100); {
			case r < 3:
				p.FirstName = nil
			case r < 6:
				p.FirstName = str("")
			default:
				p.FirstName = str(g.nul(first))
			}
			switch r := g.rng.IntN(100); {
			case r < 8:
				p.LastName = nil
			case r < 12:
				p.LastName = str("")
			default:
				p.LastName = str(g.nul(last))
			}
			ne := g.rng.IntN(4)
			if g.chance(0.1) {
				ne = 0
			}
			for j := range ne {
				p.Emails = append(p.Emails, fmt.Sprintf("p%d.%d@mail%d.example", id, j, g.rng.IntN(50)))
			}
			if ne > 0 {
				p.PrimaryEmail = str(p.Emails[0])
			}
		}
		if g.chance(0.8) {
			p.Interactions = g.interactions()
		}
		g.ws.Persons = append(g.ws.Persons, p)
	}
	u := g.ws.Persons[0]
	g.ws.User = User{ID: u.ID, FirstName: *u.FirstName, LastName: *u.LastName, Email: *u.PrimaryEmail}
}

func (g *generator) interactions() *InteractionDates {
	d := &InteractionDates{}
	var latest *time.Time
	all := g.chance(0.15) // an active contact: every kind of interaction
	for _, p := range []**time.Time{&d.FirstEmail, &d.LastEmail, &d.FirstEvent, &d.LastEvent, &d.LastChatMessage} {
		if all || g.chance(0.7) {
			t := g.past()
			*p = &t
			if latest == nil || t.After(*latest) {
				latest = &t
			}
		}
	}
	if d.FirstEmail != nil && d.LastEmail != nil && d.FirstEmail.After(*d.LastEmail) {
		d.FirstEmail, d.LastEmail = d.LastEmail, d.FirstEmail
	}
	if d.FirstEvent != nil && d.LastEvent != nil && d.FirstEvent.After(*d.LastEvent) {
		d.FirstEvent, d.LastEvent = d.LastEvent, d.FirstEvent
	}
	if all || g.chance(0.2) {
		t := g.at(g.present, g.present.AddDate(0, 3, 0))
		d.NextEvent = &t
	}
	if latest == nil {
		t := g.past()
		d.LastEmail, latest = &t, &t
	}
	l := *latest
	d.LastInteraction = &l
	return d
}

func (g *generator) organizations() {
	n := g.cfg.Organizations
	g.ws.Organizations = make([]*Organization, 0, n)
	id := int64(10_000_000 + g.rng.IntN(1000))
	for i := range n {
		id += 1 + g.rng.Int64N(40)
		name := g.pick(orgWords) + " " + g.pick(orgKinds)
		if i%89 == 3 {
			name = g.nul(name)
		}
		o := &Organization{ID: id, Name: name, Domains: []string{}, PersonIDs: []int64{}}
		if !g.chance(0.15) {
			dom := fmt.Sprintf("%s%d.example", strings.ToLower(strings.ReplaceAll(g.pick(orgWords), " ", "")), id%100000)
			o.Domain = str(dom)
			o.Domains = append(o.Domains, dom)
			if g.chance(0.2) {
				o.Domains = append(o.Domains, "alt-"+dom)
			}
		}
		if g.chance(0.2) {
			o.CrunchbaseUUID = str(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.rng.Uint32(), g.rng.IntN(1<<16),
				g.rng.IntN(1<<12), g.rng.IntN(1<<12), g.rng.Int64N(1<<48)))
		}
		o.Global = g.chance(0.1)
		if g.chance(0.7) {
			o.Interactions = g.interactions()
		}
		g.ws.Organizations = append(g.ws.Organizations, o)
	}
}

// links associates persons with organizations (both directions, sorted).
func (g *generator) links() {
	orgs := g.ws.Organizations
	if len(orgs) == 0 {
		return
	}
	for _, p := range g.ws.Persons {
		if !g.chance(0.7) {
			continue
		}
		for range 1 + g.rng.IntN(2) {
			p.OrganizationIDs = addID(p.OrganizationIDs, orgs[g.rng.IntN(len(orgs))].ID)
		}
	}
	byID := make(map[int64]*Organization, len(orgs))
	for _, o := range orgs {
		byID[o.ID] = o
	}
	for _, p := range g.ws.Persons { // persons in id order keep PersonIDs sorted
		for _, oid := range p.OrganizationIDs {
			byID[oid].PersonIDs = append(byID[oid].PersonIDs, p.ID)
		}
	}
}

func (g *generator) randomInternal() int64 { return g.internal[g.rng.IntN(len(g.internal))] }

func (g *generator) opportunities() {
	var lists []*List
	for _, l := range g.ws.Lists {
		if l.Type == loader.EntityOpportunity {
			lists = append(lists, l)
		}
	}
	if len(lists) == 0 {
		return
	}
	id := int64(1_000_000 + g.rng.IntN(1000))
	for range g.cfg.Opportunities {
		id += 1 + g.rng.Int64N(30)
		o := &Opportunity{ID: id, PersonIDs: []int64{}, OrganizationIDs: []int64{}}
		name := "Deal " + strconv.FormatInt(id, 10)
		if len(g.ws.Organizations) > 0 {
			org := g.ws.Organizations[g.rng.IntN(len(g.ws.Organizations))]
			o.OrganizationIDs = append(o.OrganizationIDs, org.ID)
			name = org.Name + " — " + g.pick([]string{"Seed", "Series A", "Series B", "Bridge"})
		}
		o.Name = name
		for range g.rng.IntN(3) {
			o.PersonIDs = addID(o.PersonIDs, g.ws.Persons[g.rng.IntN(len(g.ws.Persons))].ID)
		}
		g.ws.Opportunities = append(g.ws.Opportunities, o)
	}
}
