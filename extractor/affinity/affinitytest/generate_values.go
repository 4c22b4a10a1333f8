package affinitytest

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Generation of fields, their values and their change history.

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
