package affinitytest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Config sizes a generated workspace.
type Config struct {
	Seed                                             int64
	Persons, Organizations, Opportunities            int
	PersonLists, OrganizationLists, OpportunityLists int // lists per type
	// EntriesPerList is the number of entries on each person and organization list;
	// opportunity lists hold their opportunities.
	EntriesPerList int
	// Notes is the number of notes, replies included (about a quarter are replies).
	Notes int
	// NUL sprinkles a few NUL characters into text values.
	NUL bool
}

// DefaultConfig is the small workspace of the demo and the fake-api command.
func DefaultConfig() Config {
	return Config{
		Seed:              1,
		Persons:           300,
		Organizations:     120,
		Opportunities:     40,
		PersonLists:       2,
		OrganizationLists: 2,
		OpportunityLists:  1,
		EntriesPerList:    60,
		Notes:             80,
	}
}

type generator struct {
	cfg     Config
	rng     *rand.Rand
	zones   []*time.Location
	ws      *Workspace
	valueID int64
	changes []*FieldValueChange
	option  int64
	// internal persons: the user and colleagues (changers, owners, creators)
	internal []int64
	present  time.Time // the generated workspace's "now": generated times are before it
}

// Generate builds a workspace from cfg; the same Config always gives the same workspace.
// Opportunities are generated only when there is at least one opportunity list.
func Generate(cfg Config) *Workspace {
	g := &generator{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		zones: []*time.Location{
			time.UTC,
			time.FixedZone("", -7*3600),
			time.FixedZone("", -4*3600),
			time.FixedZone("", -8*3600),
		},
		ws:      &Workspace{},
		valueID: 2_000_000_000,
		present: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		option:  1_600_000,
	}
	g.tenant()
	g.persons()
	g.organizations()
	g.links()
	g.lists()
	g.fields()
	g.opportunities()
	g.entries()
	g.values()
	g.finishChanges()
	g.notes() // last, so the rest of the workspace does not depend on Config.Notes
	return g.ws
}

// ---- small helpers ----

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) pick(s []string) string { return s[g.rng.IntN(len(s))] }

// at returns a time between from and to, with milliseconds, in one of the zones.
func (g *generator) at(from, to time.Time) time.Time {
	span := to.Sub(from)
	if span <= 0 {
		span = time.Millisecond
	}
	t := from.Add(time.Duration(g.rng.Int64N(int64(span))))
	return ms(t).In(g.zones[g.rng.IntN(len(g.zones))])
}

func (g *generator) past() time.Time {
	return g.at(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), g.present)
}

func (g *generator) nul(s string) string {
	if g.cfg.NUL && g.chance(0.03) {
		i := len(s) / 2
		return s[:i] + "\x00" + s[i:]
	}
	return s
}

func str(s string) *string { return &s }

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

func jsonTime(t time.Time) json.RawMessage { return jsonString(formatTime(t)) }

// formatTime is how every timestamp is served: milliseconds and an offset (Z for UTC).
func formatTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z07:00") }

// ---- content pools ----

var (
	firstNames = []string{"Mara", "Ines", "Tom", "Zoë", "李", "José", "Ørjan", "Aiyana", "Chidi", "Saanvi",
		"Noah", "Émilie", "Łukasz", "Mei", "Olu", "Yusuf", "Freya", "Dmitri", "Ana-María", "Kai 🚀"}
	lastNames = []string{"Lindqvist", "Okafor", "Berg", "Nakamura", "Müller", "O'Brien", "van der Berg",
		"García", "王", "Svensson", "Kowalski", "Haddad", "Ng", "Dubois", "Ivanova", "Smith-Jones 🦄"}
	orgWords = []string{"Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne",
		"Acme", "Tyrell", "Soylent", "Cyberdyne", "Aperture", "Vandelay", "Wonka", "Monarch"}
	orgKinds   = []string{"Robotics", "Labs", "Capital", "Health", "AI", "Energy", "Logistics", "Bio", "Software", "Foods"}
	jobTitles  = []string{"CEO", "CTO", "Founder", "Partner", "Software Engineer", "VP Sales", "Analyst", "Head of Product"}
	tags       = []string{"B2B", "B2C", "SaaS", "Deep tech", "Climate", "Fintech", "Marketplace", "Hardware"}
	sentences  = []string{"Met at demo day; strong team.", "Intro via a former colleague.", "Raising a Series A in Q3.", "Follow up after the board meeting.", "Needs a warm intro to the CFO.", "Ünïcödé notes — with “quotes” and emoji 🎉."}
	cities     = []string{"Austin", "San Francisco", "Berlin", "Lagos", "São Paulo", "Tokyo", "Zürich", "Toronto"}
	states     = []string{"Texas", "California", "Berlin", "Lagos", "São Paulo", "Tokyo", "Zürich", "Ontario"}
	countries  = []string{"United States", "United States", "Germany", "Nigeria", "Brazil", "Japan", "Switzerland", "Canada"}
	continents = []string{"North America", "North America", "Europe", "Africa", "South America", "Asia", "Europe", "North America"}
)

// ---- entities ----

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

// ---- fields ----

type fieldSpec struct {
	name       string
	valueType  int
	multi      bool
	track      bool
	enrichment string
	options    []string
	fill       float64 // share of cells holding a value
}

var (
	personFieldSpecs = []fieldSpec{
		{name: "Job Titles", valueType: ValueDropdown, multi: true, enrichment: "affinity-data", fill: 0.4},
		{name: "Referrers", valueType: ValuePerson, multi: true, track: true, fill: 0.15},
		{name: "Address", valueType: ValueLocation, track: true, fill: 0.25},
		{name: "Bio", valueType: ValueText, fill: 0.2},
		{name: "Birthday", valueType: ValueDate, track: true, fill: 0.1},
		{name: "Employer", valueType: ValueOrganization, track: true, fill: 0.2},
		{name: "Tags", valueType: ValueFilterableText, fill: 0.15},
	}
	orgFieldSpecs = []fieldSpec{
		{name: "Potential Users", valueType: ValueNumber, track: true, fill: 0.5},
		{name: "Leads", valueType: ValuePerson, multi: true, track: true, fill: 0.4},
		{name: "Last Funding Date", valueType: ValueDate, track: true, fill: 0.4},
		{name: "Industry", valueType: ValueDropdown, multi: true, options: tags, fill: 0.5},
		{name: "Description", valueType: ValueText, enrichment: "dealroom", fill: 0.5},
		{name: "Headquarters", valueType: ValueLocation, track: true, fill: 0.4},
		{name: "Investors", valueType: ValueOrganization, multi: true, track: true, fill: 0.3},
		{name: "Crunchbase Rank", valueType: ValueNumber, enrichment: "crunchbase", fill: 0.2},
		{name: "Sector", valueType: ValueFilterableText, fill: 0.3},
		{name: "Tier", valueType: ValueRankedDropdown, options: []string{"Tier 1", "Tier 2", "Tier 3"}, fill: 0.3},
	}
	listFieldSpecs = []fieldSpec{
		{name: "Status", valueType: ValueRankedDropdown, track: true, fill: 0.85,
			options: []string{"Sourced", "Contacted", "Diligence", "Term Sheet", "Closed", "Passed"}},
		{name: "Owners", valueType: ValuePerson, multi: true, track: true, fill: 0.6},
		{name: "Amount", valueType: ValueNumber, track: true, fill: 0.5},
		{name: "Close Date", valueType: ValueDate, track: true, fill: 0.3},
		{name: "Priority", valueType: ValueDropdown, options: []string{"High", "Medium", "Low"}, fill: 0.5},
		{name: "Comments", valueType: ValueText, fill: 0.4},
		{name: "Region", valueType: ValueLocation, track: true, fill: 0.3},
		{name: "Related Organizations", valueType: ValueOrganization, multi: true, track: true, fill: 0.3},
		{name: "Source", valueType: ValueFilterableText, fill: 0.3},
	}
)

func (g *generator) fields() {
	id := int64(300_000 + g.rng.IntN(1000))
	add := func(spec fieldSpec, entityType loader.EntityKind, listID *int64) {
		id += 1 + g.rng.Int64N(7)
		f := &Field{ID: id, Name: spec.name, ListID: listID, EntityType: entityType, ValueType: spec.valueType,
			AllowsMultiple: spec.multi, TrackChanges: spec.track, EnrichmentSource: cmp.Or(spec.enrichment, "none"),
			DropdownOptions: []DropdownOption{}}
		for rank, text := range spec.options {
			g.option += 1 + g.rng.Int64N(5)
			f.DropdownOptions = append(f.DropdownOptions, DropdownOption{ID: g.option, Text: text, Rank: rank, Color: g.rng.IntN(8)})
		}
		g.ws.Fields = append(g.ws.Fields, f)
	}
	for _, s := range personFieldSpecs {
		add(s, loader.EntityPerson, nil)
	}
	for _, s := range orgFieldSpecs {
		add(s, loader.EntityOrganization, nil)
	}
	for _, l := range g.ws.Lists {
		for _, s := range listFieldSpecs {
			lid := l.ID
			add(s, l.Type, &lid)
		}
	}
}

// ---- opportunities and list entries ----

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

// ---- values and history ----

type location struct {
	StreetAddress *string `json:"street_address"`
	City          *string `json:"city"`
	State         *string `json:"state"`
	Country       *string `json:"country"`
	Continent     *string `json:"continent"`
}

type rankedValue struct {
	ID    int64  `json:"id"`
	Text  string `json:"text"`
	Rank  int    `json:"rank"`
	Color int    `json:"color"`
}

func rankedJSON(o DropdownOption) json.RawMessage {
	b, _ := json.Marshal(rankedValue{ID: o.ID, Text: o.Text, Rank: o.Rank, Color: o.Color})
	return b
}

// value makes one value for field f; it may be null.
func (g *generator) value(f *Field) json.RawMessage {
	if f.EnrichmentSource == "crunchbase" || g.chance(0.03) {
		return json.RawMessage("null")
	}
	switch f.ValueType {
	case ValuePerson:
		if g.chance(0.5) {
			return strconv.AppendInt(nil, g.randomInternal(), 10)
		}
		return strconv.AppendInt(nil, g.ws.Persons[g.rng.IntN(len(g.ws.Persons))].ID, 10)
	case ValueOrganization:
		if len(g.ws.Organizations) == 0 {
			return json.RawMessage("null")
		}
		return strconv.AppendInt(nil, g.ws.Organizations[g.rng.IntN(len(g.ws.Organizations))].ID, 10)
	case ValueDropdown:
		if len(f.DropdownOptions) > 0 {
			return jsonString(f.DropdownOptions[g.rng.IntN(len(f.DropdownOptions))].Text)
		}
		return jsonString(g.pick(jobTitles))
	case ValueNumber:
		if g.chance(0.5) {
			return strconv.AppendFloat(nil, float64(g.rng.IntN(100000))/100, 'f', -1, 64)
		}
		return strconv.AppendInt(nil, int64(g.rng.IntN(50_000_000)), 10)
	case ValueDate:
		d := g.past()
		return jsonTime(time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, g.zones[1]))
	case ValueLocation:
		i := g.rng.IntN(len(cities))
		loc := location{City: str(cities[i]), State: str(states[i]), Country: str(countries[i]), Continent: str(continents[i])}
		if g.chance(0.3) {
			loc.StreetAddress = str(strconv.Itoa(1+g.rng.IntN(999)) + " Main St")
		}
		if g.chance(0.2) {
			loc.Continent = nil
		}
		if g.chance(0.1) {
			loc.State = str("")
		}
		if g.chance(0.05) {
			loc = location{}
		}
		b, _ := json.Marshal(loc)
		return b
	case ValueText:
		s := g.pick(sentences)
		if g.chance(0.01) {
			s = strings.Repeat(s+" ", 10240/len(s)+1)
		}
		return jsonString(g.nul(s))
	case ValueRankedDropdown:
		return rankedJSON(f.DropdownOptions[g.rng.IntN(len(f.DropdownOptions))])
	case ValueFilterableText:
		return jsonString(g.pick(tags))
	}
	return json.RawMessage("null")
}

func (g *generator) addValue(f *Field, entityID int64, listEntryID *int64, v json.RawMessage, created time.Time, updated *time.Time) {
	g.valueID += 1 + g.rng.Int64N(50)
	g.ws.FieldValues = append(g.ws.FieldValues, &FieldValue{
		ID: g.valueID, FieldID: f.ID, EntityID: entityID, EntityType: f.EntityType, ListEntryID: listEntryID,
		Value: v, CreatedAt: created, UpdatedAt: updated, OmitTypes: g.chance(0.5),
	})
}

func (g *generator) changer() *int64 {
	if g.chance(0.1) {
		return nil
	}
	c := g.randomInternal()
	return &c
}

func (g *generator) addChange(f *Field, entityID int64, listEntryID *int64, action int, at time.Time, v json.RawMessage) {
	g.changes = append(g.changes, &FieldValueChange{FieldID: f.ID, EntityID: entityID, ListEntryID: listEntryID,
		ActionType: action, ChangerID: g.changer(), ChangedAt: at, Value: v})
}

// cell fills one cell (maybe) with values and, for tracked fields, their history.
func (g *generator) cell(f *Field, spec fieldSpec, entityID int64, listEntryID *int64, since time.Time) {
	if !g.chance(spec.fill) {
		return
	}
	if f.ValueType == ValueRankedDropdown && f.TrackChanges && !f.AllowsMultiple {
		g.statusHistory(f, entityID, listEntryID, since)
		return
	}
	n := 1
	if f.AllowsMultiple {
		n = 1 + g.rng.IntN(3)
	}
	seen := map[string]bool{}
	for range n {
		v := g.value(f)
		if seen[string(v)] {
			continue
		}
		seen[string(v)] = true
		created := g.at(since, g.present)
		var updated *time.Time
		if !f.AllowsMultiple && g.chance(0.3) {
			u := g.at(created, g.present)
			updated = &u
		}
		g.addValue(f, entityID, listEntryID, v, created, updated)
		if f.TrackChanges {
			g.addChange(f, entityID, listEntryID, ActionCreate, created, v)
			if updated != nil {
				// The create carried an earlier value; the update set the current one.
				g.changes[len(g.changes)-1].Value = g.value(f)
				g.addChange(f, entityID, listEntryID, ActionUpdate, *updated, v)
			}
		}
	}
}

// statusHistory writes a ranked-dropdown history: a create, some updates, sometimes a delete
// (sometimes followed by a new create); the current value is what the history ends with.
func (g *generator) statusHistory(f *Field, entityID int64, listEntryID *int64, since time.Time) {
	opts := f.DropdownOptions
	t := g.at(since, since.Add(72*time.Hour))
	rank := g.rng.IntN(2)
	cur := rankedJSON(opts[rank])
	created, updated := t, (*time.Time)(nil)
	g.addChange(f, entityID, listEntryID, ActionCreate, t, cur)
	alive := true
	step := func() time.Time {
		end := t.Add(40 * 24 * time.Hour)
		if end.After(g.present) {
			end = g.present
		}
		t = g.at(t.Add(time.Millisecond), end)
		return t
	}
	for range g.rng.IntN(4) {
		rank = min(rank+1+g.rng.IntN(2), len(opts)-1)
		cur = rankedJSON(opts[rank])
		u := step()
		updated = &u
		g.addChange(f, entityID, listEntryID, ActionUpdate, u, cur)
	}
	if g.chance(0.08) {
		g.addChange(f, entityID, listEntryID, ActionDelete, step(), cur)
		alive = false
		if g.chance(0.4) {
			cur = rankedJSON(opts[g.rng.IntN(len(opts))])
			created, updated = step(), nil
			g.addChange(f, entityID, listEntryID, ActionCreate, created, cur)
			alive = true
		}
	}
	if alive {
		g.addValue(f, entityID, listEntryID, cur, created, updated)
	}
}

func (g *generator) values() {
	specs := map[string]fieldSpec{}
	for _, s := range slices.Concat(personFieldSpecs, orgFieldSpecs, listFieldSpecs) {
		specs[s.name] = s
	}
	var personFields, orgFields []*Field
	listFields := map[int64][]*Field{}
	for _, f := range g.ws.Fields {
		switch {
		case f.ListID != nil:
			listFields[*f.ListID] = append(listFields[*f.ListID], f)
		case f.EntityType == loader.EntityPerson:
			personFields = append(personFields, f)
		default:
			orgFields = append(orgFields, f)
		}
	}
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range g.ws.Persons {
		for _, f := range personFields {
			g.cell(f, specs[f.Name], p.ID, nil, start)
		}
	}
	for _, o := range g.ws.Organizations {
		for _, f := range orgFields {
			g.cell(f, specs[f.Name], o.ID, nil, start)
		}
	}
	for _, e := range g.ws.ListEntries {
		id := e.ID
		for _, f := range listFields[e.ListID] {
			g.cell(f, specs[f.Name], e.EntityID, &id, e.CreatedAt)
		}
	}
}

// finishChanges numbers the history in time order so change ids grow with changed_at.
func (g *generator) finishChanges() {
	slices.SortStableFunc(g.changes, func(a, b *FieldValueChange) int { return a.ChangedAt.Compare(b.ChangedAt) })
	id := int64(50_000_000 + g.rng.IntN(1000))
	for _, c := range g.changes {
		id += 1 + g.rng.Int64N(9)
		c.ID = id
	}
	g.ws.Changes = g.changes
}

// ---- notes ----

var (
	noteTexts = []string{
		"Intro call. Raising a Series A in Q3.",
		"Met at demo day; strong team, early traction in the Nordics.",
		"Follow-up: send the data room link.",
		"Ünïcödé notes — “quotes”, 中文, emoji 🎉 and a tab\there.",
		"Test ***html***\n\n* 1\n\n* 2\n\n* 3",
		"Pricing discussion: €12k/yr, <b>not</b> HTML in a plain note & an ampersand.",
	}
	replyTexts = []string{"Agreed.", "Thanks — will follow up 👍", "Can we loop in the CFO?", "+1"}
)

// notes generates Config.Notes notes in id order: top-level notes attached to persons,
// organizations, opportunities and interactions, with plain, HTML, legacy email and notetaker
// types, mentions, edits and a few null contents; about a quarter are replies to earlier notes.
func (g *generator) notes() {
	id := int64(20_000_000 + g.rng.IntN(1000))
	var top []*Note
	interactionID := int64(88_000 + g.rng.IntN(1000))
	randomIDs := func(n int, pick func() int64) []int64 {
		out := []int64{}
		for range n {
			out = addID(out, pick())
		}
		return out
	}
	person := func() int64 { return g.ws.Persons[g.rng.IntN(len(g.ws.Persons))].ID }
	for range g.cfg.Notes {
		id += 1 + g.rng.Int64N(30)
		n := &Note{ID: id, CreatorID: g.randomInternal(), AssociatedPersonIDs: []int64{}, InteractionPersonIDs: []int64{},
			MentionedPersonIDs: []int64{}, OrganizationIDs: []int64{}, OpportunityIDs: []int64{}}
		if len(top) > 0 && g.chance(0.25) {
			parent := top[g.rng.IntN(len(top))]
			pid := parent.ID
			n.ParentID = &pid
			n.Type = NotePlain
			n.Content = str(g.nul(g.pick(replyTexts)))
			n.CreatedAt = g.at(parent.CreatedAt, g.present)
		} else {
			switch r := g.rng.IntN(100); {
			case r < 55:
				n.Type = NoteHTML
			case r < 85:
				n.Type = NotePlain
			case r < 93:
				n.Type = NoteEmail
			default:
				n.Type = NoteNotetaker
			}
			text := g.pick(noteTexts)
			if g.chance(0.3) {
				m := g.randomInternal()
				n.MentionedPersonIDs = []int64{m}
				name := "colleague"
				if i := slices.IndexFunc(g.ws.Persons, func(p *Person) bool { return p.ID == m }); i >= 0 && g.ws.Persons[i].FirstName != nil {
					name = *g.ws.Persons[i].FirstName
				}
				text = "@" + name + " " + text
			}
			if n.Type == NoteHTML {
				text = "<p>" + strings.ReplaceAll(text, "\n\n", "</p><p>") + "</p>"
			}
			if g.chance(0.04) {
				n.Content = nil // UNCONFIRMED in the reference, allowed by the client
			} else {
				n.Content = str(g.nul(text))
			}
			n.AssociatedPersonIDs = randomIDs(g.rng.IntN(3), person)
			if len(g.ws.Organizations) > 0 && g.chance(0.6) {
				n.OrganizationIDs = randomIDs(1+g.rng.IntN(2), func() int64 { return g.ws.Organizations[g.rng.IntN(len(g.ws.Organizations))].ID })
			}
			if len(g.ws.Opportunities) > 0 && g.chance(0.3) {
				n.OpportunityIDs = []int64{g.ws.Opportunities[g.rng.IntN(len(g.ws.Opportunities))].ID}
			}
			if g.chance(0.3) || n.Type == NoteNotetaker {
				interactionID += 1 + g.rng.Int64N(50)
				iid, itype := interactionID, g.rng.IntN(4)
				if n.Type == NoteNotetaker {
					itype = 0
				}
				n.InteractionID, n.InteractionType = &iid, &itype
				n.IsMeeting = itype == 0 || itype == 1
				n.InteractionPersonIDs = randomIDs(1+g.rng.IntN(3), person)
			}
			n.CreatedAt = g.past()
			top = append(top, n)
		}
		if g.chance(0.3) {
			u := g.at(n.CreatedAt, g.present)
			n.UpdatedAt = &u
		}
		g.ws.Notes = append(g.ws.Notes, n)
	}
}
