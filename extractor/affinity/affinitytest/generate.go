package affinitytest

import (
	"encoding/json"
	"math/rand/v2"
	"time"
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
	// Interactions is the mean number of interactions per external person (0 = 2.5, negative =
	// none); persons' and organizations' interaction dates derive from them.
	Interactions float64
	// FileRate is the number of entity files per person, organization and opportunity (0 =
	// 0.03, negative = none).
	FileRate float64
	// ReminderRate is the number of reminders per person, at least 12 (0 = 0.01, negative =
	// none).
	ReminderRate float64
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
		Interactions:      defaultInteractions,
		FileRate:          defaultFileRate,
		ReminderRate:      defaultReminderRate,
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
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		zones:   zones(),
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
	g.notes() // so the rest of the workspace does not depend on Config.Notes
	// last, with its own random source: interactions (and the interaction dates derived from
	// them), strengths, files, reminders
	g.intelligence()
	return g.ws
}

// zones are the time zones generated times are in; values of date fields use the second.
func zones() []*time.Location {
	return []*time.Location{
		time.UTC,
		time.FixedZone("", -7*3600),
		time.FixedZone("", -4*3600),
		time.FixedZone("", -8*3600),
	}
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
