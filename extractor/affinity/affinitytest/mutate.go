package affinitytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The mutation helpers change the workspace the way Affinity would, keeping it consistent.
// They panic on programmer errors (an unknown field or list), as test helpers do. Call them
// inside Server.Mutate once a Server serves the workspace.

func (w *Workspace) nextID(p *int64, last int64) int64 {
	if *p <= last {
		*p = last + 1
	}
	id := *p
	*p++
	return id
}

func lastID[T any](s []*T, id func(*T) int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return id(s[len(s)-1])
}

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// insertSorted puts v into s (sorted by id) at its place.
func insertSorted[T any](s []*T, v *T, id func(*T) int64) []*T {
	i, _ := slices.BinarySearchFunc(s, id(v), func(e *T, t int64) int {
		switch {
		case id(e) < t:
			return -1
		case id(e) > t:
			return 1
		}
		return 0
	})
	return slices.Insert(s, i, v)
}

func personID(p *Person) int64           { return p.ID }
func orgID(o *Organization) int64        { return o.ID }
func oppID(o *Opportunity) int64         { return o.ID }
func entryID(e *ListEntry) int64         { return e.ID }
func valueID(v *FieldValue) int64        { return v.ID }
func changeID(c *FieldValueChange) int64 { return c.ID }
func noteID(n *Note) int64               { return n.ID }
func removeID(s []int64, id int64) []int64 {
	return slices.DeleteFunc(s, func(v int64) bool { return v == id })
}

func addID(s []int64, id int64) []int64 {
	if slices.Contains(s, id) {
		return s
	}
	s = append(s, id)
	slices.Sort(s)
	return s
}

// DeletePerson removes a person, its list entries (with their values and changes), its global
// values and changes, and its id from organizations and opportunities.
func (w *Workspace) DeletePerson(id int64) {
	x := w.index()
	p := x.persons[id]
	if p == nil {
		return
	}
	for _, oid := range p.OrganizationIDs {
		if o := x.orgs[oid]; o != nil {
			o.PersonIDs = removeID(o.PersonIDs, id)
		}
	}
	for _, oid := range x.oppsByPerson[id] {
		if o := x.opps[oid]; o != nil {
			o.PersonIDs = removeID(o.PersonIDs, id)
		}
	}
	w.Persons = slices.DeleteFunc(w.Persons, func(q *Person) bool { return q.ID == id })
	w.removeEntity(loader.EntityPerson, id)
	w.forgetPerson(id, p.OrganizationIDs)
}

// DeleteOrganization removes an organization like DeletePerson removes a person.
func (w *Workspace) DeleteOrganization(id int64) {
	x := w.index()
	o := x.orgs[id]
	if o == nil {
		return
	}
	for _, pid := range o.PersonIDs {
		if p := x.persons[pid]; p != nil {
			p.OrganizationIDs = removeID(p.OrganizationIDs, id)
		}
	}
	for _, oid := range x.oppsByOrg[id] {
		if op := x.opps[oid]; op != nil {
			op.OrganizationIDs = removeID(op.OrganizationIDs, id)
		}
	}
	w.Organizations = slices.DeleteFunc(w.Organizations, func(q *Organization) bool { return q.ID == id })
	w.removeEntity(loader.EntityOrganization, id)
	w.forgetEntityFiles(loader.EntityOrganization, id)
}

// DeleteOpportunity removes an opportunity with its list entry, values and changes.
func (w *Workspace) DeleteOpportunity(id int64) {
	if w.index().opps[id] == nil {
		return
	}
	w.Opportunities = slices.DeleteFunc(w.Opportunities, func(q *Opportunity) bool { return q.ID == id })
	w.removeEntity(loader.EntityOpportunity, id)
	w.forgetEntityFiles(loader.EntityOpportunity, id)
}

// removeEntity drops the list entries, values and changes of an entity (not the entity).
func (w *Workspace) removeEntity(typ loader.EntityKind, id int64) {
	x := w.index()
	gone := map[int64]bool{}
	for _, e := range x.entriesByEntity[entityKey{typ, id}] {
		gone[e.ID] = true
	}
	w.removeEntries(gone)
	w.FieldValues = slices.DeleteFunc(w.FieldValues, func(v *FieldValue) bool {
		return v.ListEntryID == nil && v.EntityType == typ && v.EntityID == id
	})
	w.Changes = slices.DeleteFunc(w.Changes, func(c *FieldValueChange) bool {
		f := x.fields[c.FieldID]
		return c.EntityID == id && f != nil && f.EntityType == typ
	})
	w.invalidate()
}

func (w *Workspace) removeEntries(gone map[int64]bool) {
	if len(gone) == 0 {
		return
	}
	w.ListEntries = slices.DeleteFunc(w.ListEntries, func(e *ListEntry) bool { return gone[e.ID] })
	w.FieldValues = slices.DeleteFunc(w.FieldValues, func(v *FieldValue) bool {
		return v.ListEntryID != nil && gone[*v.ListEntryID]
	})
	w.Changes = slices.DeleteFunc(w.Changes, func(c *FieldValueChange) bool {
		return c.ListEntryID != nil && gone[*c.ListEntryID]
	})
	w.invalidate()
}

// DeleteListEntry removes a list entry with its values and changes; removing the entry of an
// opportunity removes the opportunity too.
func (w *Workspace) DeleteListEntry(id int64) {
	e := w.index().entries[id]
	if e == nil {
		return
	}
	w.removeEntries(map[int64]bool{id: true})
	if e.EntityType == loader.EntityOpportunity {
		w.DeleteOpportunity(e.EntityID)
	}
}

// DeleteList removes a list with its entries, fields, values and changes (and the
// opportunities of an opportunity list).
func (w *Workspace) DeleteList(id int64) {
	x := w.index()
	l := x.lists[id]
	if l == nil {
		return
	}
	var opps []int64
	gone := map[int64]bool{}
	for _, e := range x.entriesByList[id] {
		gone[e.ID] = true
		if e.EntityType == loader.EntityOpportunity {
			opps = append(opps, e.EntityID)
		}
	}
	fields := map[int64]bool{}
	for _, f := range x.fieldsByList[id] {
		fields[f.ID] = true
	}
	w.removeEntries(gone)
	w.Fields = slices.DeleteFunc(w.Fields, func(f *Field) bool { return fields[f.ID] })
	w.FieldValues = slices.DeleteFunc(w.FieldValues, func(v *FieldValue) bool { return fields[v.FieldID] })
	w.Changes = slices.DeleteFunc(w.Changes, func(c *FieldValueChange) bool { return fields[c.FieldID] })
	w.Lists = slices.DeleteFunc(w.Lists, func(q *List) bool { return q.ID == id })
	w.invalidate()
	for _, oid := range opps {
		w.DeleteOpportunity(oid)
	}
}

// AddPerson adds a person (ID assigned when 0) and links it to its organizations.
func (w *Workspace) AddPerson(p Person) *Person {
	x := w.index()
	if p.ID == 0 {
		p.ID = w.nextID(&w.seq.person, lastID(w.Persons, personID))
	} else if x.persons[p.ID] != nil {
		panic(fmt.Sprintf("affinitytest: add person: id %d exists", p.ID))
	}
	if p.Emails == nil {
		p.Emails = []string{}
	}
	p.OrganizationIDs = slices.Clone(p.OrganizationIDs)
	slices.Sort(p.OrganizationIDs)
	if p.OrganizationIDs == nil {
		p.OrganizationIDs = []int64{}
	}
	np := &p
	for _, oid := range p.OrganizationIDs {
		if o := x.orgs[oid]; o != nil {
			o.PersonIDs = addID(o.PersonIDs, p.ID)
		}
	}
	w.Persons = insertSorted(w.Persons, np, personID)
	w.invalidate()
	return np
}

// AddOrganization adds an organization (ID assigned when 0) and links it to its persons.
func (w *Workspace) AddOrganization(o Organization) *Organization {
	x := w.index()
	if o.ID == 0 {
		o.ID = w.nextID(&w.seq.org, lastID(w.Organizations, orgID))
	} else if x.orgs[o.ID] != nil {
		panic(fmt.Sprintf("affinitytest: add organization: id %d exists", o.ID))
	}
	if o.Domains == nil {
		o.Domains = []string{}
	}
	o.PersonIDs = slices.Clone(o.PersonIDs)
	slices.Sort(o.PersonIDs)
	if o.PersonIDs == nil {
		o.PersonIDs = []int64{}
	}
	no := &o
	for _, pid := range o.PersonIDs {
		if p := x.persons[pid]; p != nil {
			p.OrganizationIDs = addID(p.OrganizationIDs, o.ID)
		}
	}
	w.Organizations = insertSorted(w.Organizations, no, orgID)
	w.invalidate()
	return no
}

// AddOpportunity adds an opportunity (ID assigned when 0) with its entry on an opportunity list.
func (w *Workspace) AddOpportunity(o Opportunity, listID int64) *Opportunity {
	x := w.index()
	l := x.lists[listID]
	if l == nil || l.Type != loader.EntityOpportunity {
		panic(fmt.Sprintf("affinitytest: add opportunity: %d is not an opportunity list", listID))
	}
	if o.ID == 0 {
		o.ID = w.nextID(&w.seq.opp, lastID(w.Opportunities, oppID))
	} else if x.opps[o.ID] != nil {
		panic(fmt.Sprintf("affinitytest: add opportunity: id %d exists", o.ID))
	}
	if o.PersonIDs == nil {
		o.PersonIDs = []int64{}
	}
	if o.OrganizationIDs == nil {
		o.OrganizationIDs = []int64{}
	}
	no := &o
	w.Opportunities = insertSorted(w.Opportunities, no, oppID)
	w.invalidate()
	w.AddListEntry(listID, o.ID)
	return no
}

// AddListEntry adds the entity to a list, created now by the key's user.
func (w *Workspace) AddListEntry(listID, entityID int64) *ListEntry {
	l := w.index().lists[listID]
	if l == nil {
		panic(fmt.Sprintf("affinitytest: add list entry: no list %d", listID))
	}
	creator := w.User.ID
	e := &ListEntry{
		ID:         w.nextID(&w.seq.entry, lastID(w.ListEntries, entryID)),
		ListID:     listID,
		CreatorID:  &creator,
		EntityID:   entityID,
		EntityType: l.Type,
		CreatedAt:  ms(w.Now()),
	}
	w.ListEntries = insertSorted(w.ListEntries, e, entryID)
	w.invalidate()
	return e
}

// SetFieldValue replaces the values of one cell (a field of an entity, on a list entry or
// global when listEntryID is nil) with values; no values clears the cell. A single-value field
// takes at most one value. For a tracked field it records the changes: create for a new value,
// update for a changed single value, delete (with the old value) for a removed one; the changer
// is the key's user and changed_at is w.Now().
func (w *Workspace) SetFieldValue(fieldID, entityID int64, listEntryID *int64, values ...json.RawMessage) {
	x := w.index()
	f := x.fields[fieldID]
	if f == nil {
		panic(fmt.Sprintf("affinitytest: set field value: no field %d", fieldID))
	}
	if (f.ListID == nil) != (listEntryID == nil) {
		panic(fmt.Sprintf("affinitytest: set field value: field %d and list entry do not match", fieldID))
	}
	if !f.AllowsMultiple && len(values) > 1 {
		panic(fmt.Sprintf("affinitytest: set field value: field %d takes one value", fieldID))
	}
	now := ms(w.Now())
	old := cellValues(x, f, entityID, listEntryID)
	removed := map[int64]bool{}
	var added []*FieldValue
	record := func(action int, v json.RawMessage) {
		if !f.TrackChanges {
			return
		}
		changer := w.User.ID
		c := &FieldValueChange{
			ID:          w.nextID(&w.seq.change, lastID(w.Changes, changeID)),
			FieldID:     f.ID,
			EntityID:    entityID,
			ListEntryID: clonePtr(listEntryID),
			ActionType:  action,
			ChangerID:   &changer,
			ChangedAt:   now,
			Value:       slices.Clone(v),
		}
		w.Changes = append(w.Changes, c)
		x.changesByField[f.ID] = append(x.changesByField[f.ID], c)
		x.changesByTime = insertChange(x.changesByTime, c)
	}
	create := func(v json.RawMessage) {
		nv := &FieldValue{
			ID:          w.nextID(&w.seq.value, lastID(w.FieldValues, valueID)),
			FieldID:     f.ID,
			EntityID:    entityID,
			EntityType:  f.EntityType,
			ListEntryID: clonePtr(listEntryID),
			Value:       slices.Clone(v),
			CreatedAt:   now,
		}
		w.FieldValues = append(w.FieldValues, nv)
		added = append(added, nv)
		record(ActionCreate, v)
	}
	if !f.AllowsMultiple && len(old) == 1 && len(values) == 1 {
		if !bytes.Equal(old[0].Value, values[0]) {
			old[0].Value = slices.Clone(values[0])
			old[0].UpdatedAt = &now
			record(ActionUpdate, values[0])
		}
		return
	}
	kept := map[int]bool{} // index into values already present
	for _, o := range old {
		match := -1
		for i, v := range values {
			if !kept[i] && bytes.Equal(o.Value, v) {
				match = i
				break
			}
		}
		if match >= 0 {
			kept[match] = true
			continue
		}
		removed[o.ID] = true
		record(ActionDelete, o.Value)
	}
	for i, v := range values {
		if !kept[i] {
			create(v)
		}
	}
	if len(removed) > 0 {
		w.FieldValues = slices.DeleteFunc(w.FieldValues, func(v *FieldValue) bool { return removed[v.ID] })
	}
	// Patch the index for this cell instead of rebuilding it.
	patch := func(pool []*FieldValue) []*FieldValue {
		pool = slices.DeleteFunc(slices.Clone(pool), func(v *FieldValue) bool { return removed[v.ID] })
		return append(pool, added...)
	}
	if listEntryID == nil {
		k := entityKey{f.EntityType, entityID}
		x.globalValues[k] = patch(x.globalValues[k])
	} else {
		x.entryValues[*listEntryID] = patch(x.entryValues[*listEntryID])
	}
}

// SetInteractions replaces the interaction dates of a person or organization (nil = none).
func (w *Workspace) SetInteractions(entityType loader.EntityKind, id int64, d *InteractionDates) {
	switch entityType {
	case loader.EntityPerson:
		if p := w.Person(id); p != nil {
			p.Interactions = d
		}
	case loader.EntityOrganization:
		if o := w.Organization(id); o != nil {
			o.Interactions = d
		}
	}
	w.invalidate()
}

// AddNote adds a note (ID assigned when 0, CreatedAt w.Now() when zero, nil id lists made
// empty and sorted) and returns it. Its parent, when set, must exist.
func (w *Workspace) AddNote(n Note) *Note {
	x := w.index()
	if n.ID == 0 {
		n.ID = w.nextID(&w.seq.note, lastID(w.Notes, noteID))
	} else if x.notes[n.ID] != nil {
		panic(fmt.Sprintf("affinitytest: add note: id %d exists", n.ID))
	}
	if n.ParentID != nil && x.notes[*n.ParentID] == nil {
		panic(fmt.Sprintf("affinitytest: add note: no parent note %d", *n.ParentID))
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = ms(w.Now())
	}
	nn := cloneNote(&n)
	for _, ids := range []*[]int64{&nn.AssociatedPersonIDs, &nn.InteractionPersonIDs, &nn.MentionedPersonIDs,
		&nn.OrganizationIDs, &nn.OpportunityIDs} {
		if *ids == nil {
			*ids = []int64{}
		}
		slices.Sort(*ids)
		*ids = slices.Compact(*ids)
	}
	w.Notes = insertSorted(w.Notes, nn, noteID)
	w.invalidate()
	return nn
}

// UpdateNote edits a note in place with edit and sets its UpdatedAt to w.Now(); it returns the
// note, or nil (edit not called) when there is none with that id.
func (w *Workspace) UpdateNote(id int64, edit func(n *Note)) *Note {
	n := w.index().notes[id]
	if n == nil {
		return nil
	}
	edit(n)
	n.ID = id
	now := ms(w.Now())
	n.UpdatedAt = &now
	w.invalidate()
	return n
}

// DeleteNote removes a note and its replies.
func (w *Workspace) DeleteNote(id int64) {
	if w.index().notes[id] == nil {
		return
	}
	w.Notes = slices.DeleteFunc(w.Notes, func(n *Note) bool {
		return n.ID == id || (n.ParentID != nil && *n.ParentID == id)
	})
	w.invalidate()
}
