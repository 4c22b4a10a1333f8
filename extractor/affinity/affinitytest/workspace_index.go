package affinitytest

import (
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The workspace's lookups: the index rebuilt after structural changes and the accessors
// reading it.

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
	changesByTime    []*FieldValueChange // the history in feed order: changedAt, then id
	oppsByPerson     map[int64][]int64
	oppsByOrg        map[int64][]int64
	notes            map[int64]*Note
	intelligence     // workspace_intelligence_index.go
}

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
	x.changesByTime = sortedChanges(w.Changes)
	x.intelligence = buildIntelligence(w)
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
