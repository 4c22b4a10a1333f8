package affinitytest

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Field value types (fields.value_type).
const (
	ValuePerson         = 0
	ValueOrganization   = 1
	ValueDropdown       = 2
	ValueNumber         = 3
	ValueDate           = 4
	ValueLocation       = 5
	ValueText           = 6
	ValueRankedDropdown = 7
	ValueFilterableText = 10
)

// Field value change action types.
const (
	ActionCreate = 0
	ActionDelete = 1
	ActionUpdate = 2
)

// Workspace is everything the fake serves. Slices are sorted by ID. Once a Server serves it,
// change it only inside Server.Mutate. Prefer the mutation helpers, which keep it consistent;
// after editing the slices directly, call Reindex before using a lookup or helper.
type Workspace struct {
	Tenant        Tenant
	User          User // the API key's user; also an internal person in Persons
	Persons       []*Person
	Organizations []*Organization
	Opportunities []*Opportunity
	Lists         []*List
	ListEntries   []*ListEntry
	Fields        []*Field // global (ListID nil) and list fields
	FieldValues   []*FieldValue
	Changes       []*FieldValueChange
	Notes         []*Note

	now func() time.Time // clock for mutation helpers; nil means time.Now
	seq idSeq            // next ids handed out by the mutation helpers
	idx *index           // lookups; nil when stale
}

// Tenant is the workspace's account as /auth/whoami reports it.
type Tenant struct {
	ID        int64
	Name      string
	Subdomain string
}

// User is the API key's user as /auth/whoami reports it.
type User struct {
	ID        int64
	FirstName string
	LastName  string
	Email     string
}

// InteractionDates are the seven interaction summaries; a nil date is served as null.
type InteractionDates struct {
	FirstEmail, LastEmail, FirstEvent, LastEvent, NextEvent, LastChatMessage, LastInteraction *time.Time
}

// Person is a person record. Type is 0 external or 1 internal.
type Person struct {
	ID              int64
	Type            int
	FirstName       *string
	LastName        *string
	PrimaryEmail    *string
	Emails          []string
	OrganizationIDs []int64
	Interactions    *InteractionDates // nil = no interactions
}

// Organization is an organization record.
type Organization struct {
	ID             int64
	Name           string
	Domain         *string
	Domains        []string
	CrunchbaseUUID *string
	Global         bool
	PersonIDs      []int64
	Interactions   *InteractionDates // nil = no interactions
}

// Opportunity is an opportunity; it lives on exactly one opportunity list.
type Opportunity struct {
	ID              int64
	Name            string
	PersonIDs       []int64
	OrganizationIDs []int64
}

// List is a list of persons, organizations or opportunities (Type).
type List struct {
	ID        int64
	Type      loader.EntityKind
	Name      string
	Public    bool
	OwnerID   int64
	CreatorID int64
}

// ListEntry is a row of a list.
type ListEntry struct {
	ID         int64
	ListID     int64
	CreatorID  *int64
	EntityID   int64
	EntityType loader.EntityKind
	CreatedAt  time.Time
}

// DropdownOption is an option of a (ranked) dropdown field.
type DropdownOption struct {
	ID    int64
	Text  string
	Rank  int
	Color int
}

// Field is a global field (ListID nil) or a list field.
type Field struct {
	ID               int64
	Name             string
	ListID           *int64
	EntityType       loader.EntityKind
	ValueType        int
	AllowsMultiple   bool
	TrackChanges     bool
	EnrichmentSource string
	DropdownOptions  []DropdownOption
}

// FieldValue is one value of a cell; multi-value cells have one FieldValue per value.
type FieldValue struct {
	ID          int64
	FieldID     int64
	EntityID    int64
	EntityType  loader.EntityKind
	ListEntryID *int64
	Value       json.RawMessage // exactly what is served; "null" allowed
	CreatedAt   time.Time
	UpdatedAt   *time.Time
	OmitTypes   bool // leave entity_type/value_type out of the JSON, as some live items do
}

// FieldValueChange is one entry of a tracked field's history.
type FieldValueChange struct {
	ID          int64
	FieldID     int64
	EntityID    int64
	ListEntryID *int64
	ActionType  int
	ChangerID   *int64 // nil is served as "changer": null
	ChangedAt   time.Time
	Value       json.RawMessage
}

// Note types (notes.type).
const (
	NotePlain     = 0
	NoteEmail     = 1 // email-derived (legacy)
	NoteHTML      = 2
	NoteNotetaker = 3 // AI notetaker summary
)

// Note is a note. PersonIDs as served is the union of AssociatedPersonIDs and
// InteractionPersonIDs; a reply (ParentID set) has no persons, organizations or opportunities.
type Note struct {
	ID                   int64
	CreatorID            int64
	AssociatedPersonIDs  []int64
	InteractionPersonIDs []int64
	MentionedPersonIDs   []int64
	OrganizationIDs      []int64
	OpportunityIDs       []int64
	InteractionID        *int64
	InteractionType      *int
	IsMeeting            bool
	ParentID             *int64
	Content              *string // nil is served as null
	Type                 int
	CreatedAt            time.Time
	UpdatedAt            *time.Time // nil = never edited
}

// PersonIDs is the note's person_ids: associated and interaction persons, sorted, once each.
func (n *Note) PersonIDs() []int64 {
	out := slices.Concat(n.AssociatedPersonIDs, n.InteractionPersonIDs)
	slices.Sort(out)
	return slices.Compact(out)
}

type idSeq struct {
	person, org, opp, entry, value, change, note int64
}

type entityKey struct {
	typ loader.EntityKind
	id  int64
}

// index holds the lookups the server and the helpers need; rebuilt after structural changes.
type index struct {
	persons          map[int64]*Person
	personsWithDates []*Person
	orgs             map[int64]*Organization
	orgsWithDates    []*Organization
	opps             map[int64]*Opportunity
	lists            map[int64]*List
	entries          map[int64]*ListEntry
	entriesByList    map[int64][]*ListEntry
	entriesByEntity  map[entityKey][]*ListEntry
	fields           map[int64]*Field
	fieldsByList     map[int64][]*Field
	globalFields     map[loader.EntityKind][]*Field
	globalValues     map[entityKey][]*FieldValue
	entryValues      map[int64][]*FieldValue
	changesByField   map[int64][]*FieldValueChange
	oppsByPerson     map[int64][]int64
	oppsByOrg        map[int64][]int64
	notes            map[int64]*Note
}

// Now is the workspace's clock, used for timestamps the mutation helpers record.
func (w *Workspace) Now() time.Time {
	if w.now != nil {
		return w.now()
	}
	return time.Now()
}

// SetClock replaces the clock used by the mutation helpers (nil restores time.Now).
func (w *Workspace) SetClock(now func() time.Time) { w.now = now }

func (w *Workspace) index() *index {
	if w.idx == nil {
		w.idx = buildIndex(w)
	}
	return w.idx
}

func (w *Workspace) invalidate() { w.idx = nil }

// Reindex refreshes the lookups after the exported slices were edited directly (the mutation
// helpers and Server.Mutate do this themselves).
func (w *Workspace) Reindex() { w.idx = buildIndex(w) }

func buildIndex(w *Workspace) *index {
	x := &index{
		persons:         make(map[int64]*Person, len(w.Persons)),
		orgs:            make(map[int64]*Organization, len(w.Organizations)),
		opps:            make(map[int64]*Opportunity, len(w.Opportunities)),
		lists:           make(map[int64]*List, len(w.Lists)),
		entries:         make(map[int64]*ListEntry, len(w.ListEntries)),
		entriesByList:   make(map[int64][]*ListEntry),
		entriesByEntity: make(map[entityKey][]*ListEntry, len(w.ListEntries)),
		fields:          make(map[int64]*Field, len(w.Fields)),
		fieldsByList:    make(map[int64][]*Field),
		globalFields:    make(map[loader.EntityKind][]*Field),
		globalValues:    make(map[entityKey][]*FieldValue, len(w.Persons)+len(w.Organizations)),
		entryValues:     make(map[int64][]*FieldValue, len(w.ListEntries)),
		changesByField:  make(map[int64][]*FieldValueChange),
		oppsByPerson:    make(map[int64][]int64),
		oppsByOrg:       make(map[int64][]int64),
		notes:           make(map[int64]*Note, len(w.Notes)),
	}
	for _, n := range w.Notes {
		x.notes[n.ID] = n
	}
	for _, p := range w.Persons {
		x.persons[p.ID] = p
		if p.Interactions != nil {
			x.personsWithDates = append(x.personsWithDates, p)
		}
	}
	for _, o := range w.Organizations {
		x.orgs[o.ID] = o
		if o.Interactions != nil {
			x.orgsWithDates = append(x.orgsWithDates, o)
		}
	}
	for _, o := range w.Opportunities {
		x.opps[o.ID] = o
		for _, id := range o.PersonIDs {
			x.oppsByPerson[id] = append(x.oppsByPerson[id], o.ID)
		}
		for _, id := range o.OrganizationIDs {
			x.oppsByOrg[id] = append(x.oppsByOrg[id], o.ID)
		}
	}
	for _, l := range w.Lists {
		x.lists[l.ID] = l
	}
	for _, e := range w.ListEntries {
		x.entries[e.ID] = e
		x.entriesByList[e.ListID] = append(x.entriesByList[e.ListID], e)
		k := entityKey{e.EntityType, e.EntityID}
		x.entriesByEntity[k] = append(x.entriesByEntity[k], e)
	}
	for _, f := range w.Fields {
		x.fields[f.ID] = f
		if f.ListID == nil {
			x.globalFields[f.EntityType] = append(x.globalFields[f.EntityType], f)
		} else {
			x.fieldsByList[*f.ListID] = append(x.fieldsByList[*f.ListID], f)
		}
	}
	for _, v := range w.FieldValues {
		if v.ListEntryID == nil {
			k := entityKey{v.EntityType, v.EntityID}
			x.globalValues[k] = append(x.globalValues[k], v)
		} else {
			x.entryValues[*v.ListEntryID] = append(x.entryValues[*v.ListEntryID], v)
		}
	}
	for _, c := range w.Changes {
		x.changesByField[c.FieldID] = append(x.changesByField[c.FieldID], c)
	}
	return x
}

// Person returns the person with that id, or nil.
func (w *Workspace) Person(id int64) *Person { return w.index().persons[id] }

// Organization returns the organization with that id, or nil.
func (w *Workspace) Organization(id int64) *Organization { return w.index().orgs[id] }

// Opportunity returns the opportunity with that id, or nil.
func (w *Workspace) Opportunity(id int64) *Opportunity { return w.index().opps[id] }

// Note returns the note with that id, or nil.
func (w *Workspace) Note(id int64) *Note { return w.index().notes[id] }

// List returns the list with that id, or nil.
func (w *Workspace) List(id int64) *List { return w.index().lists[id] }

// ListEntry returns the list entry with that id, or nil.
func (w *Workspace) ListEntry(id int64) *ListEntry { return w.index().entries[id] }

// Field returns the field with that id, or nil.
func (w *Workspace) Field(id int64) *Field { return w.index().fields[id] }

// EntriesOf returns the list entries of a list, sorted by id.
func (w *Workspace) EntriesOf(listID int64) []*ListEntry {
	return slices.Clone(w.index().entriesByList[listID])
}

// EntriesFor returns the list entries holding an entity of the given type, sorted by id.
func (w *Workspace) EntriesFor(entityType loader.EntityKind, entityID int64) []*ListEntry {
	return slices.Clone(w.index().entriesByEntity[entityKey{entityType, entityID}])
}

// ValuesOf returns the values of one cell: a field of an entity, on a list entry (listEntryID
// set) or global (nil), sorted by id.
func (w *Workspace) ValuesOf(fieldID, entityID int64, listEntryID *int64) []*FieldValue {
	f := w.Field(fieldID)
	if f == nil {
		return nil
	}
	return cellValues(w.index(), f, entityID, listEntryID)
}

func cellValues(x *index, f *Field, entityID int64, listEntryID *int64) []*FieldValue {
	var pool []*FieldValue
	if listEntryID == nil {
		pool = x.globalValues[entityKey{f.EntityType, entityID}]
	} else {
		pool = x.entryValues[*listEntryID]
	}
	var out []*FieldValue
	for _, v := range pool {
		if v.FieldID == f.ID && v.EntityID == entityID {
			out = append(out, v)
		}
	}
	return out
}

// ListSize is the number of entries on a list.
func (w *Workspace) ListSize(listID int64) int { return len(w.index().entriesByList[listID]) }

// Snapshot returns a deep copy of the workspace.
func (w *Workspace) Snapshot() *Workspace {
	c := &Workspace{Tenant: w.Tenant, User: w.User, now: w.now, seq: w.seq}
	c.Persons = make([]*Person, len(w.Persons))
	for i, p := range w.Persons {
		q := *p
		q.FirstName = clonePtr(p.FirstName)
		q.LastName = clonePtr(p.LastName)
		q.PrimaryEmail = clonePtr(p.PrimaryEmail)
		q.Emails = slices.Clone(p.Emails)
		q.OrganizationIDs = slices.Clone(p.OrganizationIDs)
		q.Interactions = cloneDates(p.Interactions)
		c.Persons[i] = &q
	}
	c.Organizations = make([]*Organization, len(w.Organizations))
	for i, o := range w.Organizations {
		q := *o
		q.Domain = clonePtr(o.Domain)
		q.Domains = slices.Clone(o.Domains)
		q.CrunchbaseUUID = clonePtr(o.CrunchbaseUUID)
		q.PersonIDs = slices.Clone(o.PersonIDs)
		q.Interactions = cloneDates(o.Interactions)
		c.Organizations[i] = &q
	}
	c.Opportunities = make([]*Opportunity, len(w.Opportunities))
	for i, o := range w.Opportunities {
		q := *o
		q.PersonIDs = slices.Clone(o.PersonIDs)
		q.OrganizationIDs = slices.Clone(o.OrganizationIDs)
		c.Opportunities[i] = &q
	}
	c.Lists = make([]*List, len(w.Lists))
	for i, l := range w.Lists {
		q := *l
		c.Lists[i] = &q
	}
	c.ListEntries = make([]*ListEntry, len(w.ListEntries))
	for i, e := range w.ListEntries {
		q := *e
		q.CreatorID = clonePtr(e.CreatorID)
		c.ListEntries[i] = &q
	}
	c.Fields = make([]*Field, len(w.Fields))
	for i, f := range w.Fields {
		q := *f
		q.ListID = clonePtr(f.ListID)
		q.DropdownOptions = slices.Clone(f.DropdownOptions)
		c.Fields[i] = &q
	}
	c.FieldValues = make([]*FieldValue, len(w.FieldValues))
	for i, v := range w.FieldValues {
		q := *v
		q.ListEntryID = clonePtr(v.ListEntryID)
		q.Value = slices.Clone(v.Value)
		q.UpdatedAt = clonePtr(v.UpdatedAt)
		c.FieldValues[i] = &q
	}
	c.Changes = make([]*FieldValueChange, len(w.Changes))
	for i, ch := range w.Changes {
		q := *ch
		q.ListEntryID = clonePtr(ch.ListEntryID)
		q.ChangerID = clonePtr(ch.ChangerID)
		q.Value = slices.Clone(ch.Value)
		c.Changes[i] = &q
	}
	c.Notes = make([]*Note, len(w.Notes))
	for i, n := range w.Notes {
		c.Notes[i] = cloneNote(n)
	}
	return c
}

func cloneNote(n *Note) *Note {
	q := *n
	q.AssociatedPersonIDs = slices.Clone(n.AssociatedPersonIDs)
	q.InteractionPersonIDs = slices.Clone(n.InteractionPersonIDs)
	q.MentionedPersonIDs = slices.Clone(n.MentionedPersonIDs)
	q.OrganizationIDs = slices.Clone(n.OrganizationIDs)
	q.OpportunityIDs = slices.Clone(n.OpportunityIDs)
	q.InteractionID = clonePtr(n.InteractionID)
	q.InteractionType = clonePtr(n.InteractionType)
	q.ParentID = clonePtr(n.ParentID)
	q.Content = clonePtr(n.Content)
	q.UpdatedAt = clonePtr(n.UpdatedAt)
	return &q
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneDates(d *InteractionDates) *InteractionDates {
	if d == nil {
		return nil
	}
	return &InteractionDates{
		FirstEmail:      clonePtr(d.FirstEmail),
		LastEmail:       clonePtr(d.LastEmail),
		FirstEvent:      clonePtr(d.FirstEvent),
		LastEvent:       clonePtr(d.LastEvent),
		NextEvent:       clonePtr(d.NextEvent),
		LastChatMessage: clonePtr(d.LastChatMessage),
		LastInteraction: clonePtr(d.LastInteraction),
	}
}
