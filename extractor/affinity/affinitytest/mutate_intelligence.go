package affinitytest

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Mutation helpers of relationship intelligence and files. Like the others they keep the
// workspace consistent (an interaction moves the interaction dates of its persons and their
// organizations) and patch the lookups instead of rebuilding them.

// AddInteraction adds an interaction (ID assigned when 0; nil id lists made empty) and
// re-derives, at w.Now(), the interaction dates of its persons and of their organizations.
func (w *Workspace) AddInteraction(in Interaction) *Interaction {
	ni, persons, orgs := w.addInteraction(in)
	w.deriveDates(w.Now(), persons, orgs)
	return ni
}

// addInteraction adds an interaction and patches the lookups; it returns it with the persons
// and organizations whose interaction dates it may move.
func (w *Workspace) addInteraction(in Interaction) (_ *Interaction, persons, orgs []int64) {
	x := w.index()
	if in.ID == 0 {
		if w.seq.interaction == 0 {
			for _, v := range w.Interactions {
				w.seq.interaction = max(w.seq.interaction, v.ID+1)
			}
		}
		for in.ID == 0 || w.Interaction(in.Type, in.ID) != nil {
			in.ID = w.nextID(&w.seq.interaction, 0)
		}
	} else if w.Interaction(in.Type, in.ID) != nil {
		panic(fmt.Sprintf("affinitytest: add interaction: type %d id %d exists", in.Type, in.ID))
	}
	ni := cloneInteraction(&in)
	for _, ids := range []*[]int64{&ni.NoteIDs, &ni.To, &ni.CC, &ni.PersonIDs} {
		if *ids == nil {
			*ids = []int64{}
		}
	}
	if ni.Type == InteractionEmail {
		ni.PersonIDs = nil
	} else {
		slices.Sort(ni.PersonIDs)
		ni.PersonIDs = slices.Compact(ni.PersonIDs)
	}
	i, _ := slices.BinarySearchFunc(w.Interactions, ni, interactionLess)
	w.Interactions = slices.Insert(w.Interactions, i, ni)
	persons = ni.Participants()
	orgs = []int64{}
	for _, pid := range persons {
		s := x.interactionsByPerson[pid]
		j, _ := slices.BinarySearchFunc(s, ni, interactionLess)
		x.interactionsByPerson[pid] = slices.Insert(s, j, ni)
		if p := x.persons[pid]; p != nil && p.Type == 0 {
			for _, oid := range p.OrganizationIDs {
				orgs = addID(orgs, oid)
			}
		}
	}
	return ni, persons, orgs
}

// strengthRange is where an external person's strengths lie in w.Strengths.
func (w *Workspace) strengthRange(external int64) (lo, hi int) {
	lo, _ = slices.BinarySearchFunc(w.Strengths, external, func(s *Strength, e int64) int { return cmp.Compare(s.ExternalID, e) })
	hi = lo
	for hi < len(w.Strengths) && w.Strengths[hi].ExternalID == external {
		hi++
	}
	return lo, hi
}

func (w *Workspace) patchStrengths(external int64) {
	if w.idx == nil {
		return
	}
	lo, hi := w.strengthRange(external)
	if lo == hi {
		delete(w.idx.strengthsByExternal, external)
		return
	}
	w.idx.strengthsByExternal[external] = slices.Clone(w.Strengths[lo:hi])
}

// ChangeStrength sets the strength of a pair, adding the pair when it has none.
func (w *Workspace) ChangeStrength(internal, external int64, strength float64) {
	s := &Strength{InternalID: internal, ExternalID: external, Strength: strength}
	i, found := slices.BinarySearchFunc(w.Strengths, s, strengthLess)
	if found {
		w.Strengths[i].Strength = strength
	} else {
		w.Strengths = slices.Insert(w.Strengths, i, s)
	}
	w.patchStrengths(external)
}

// DropStrength removes the strength of a pair (none: nothing happens).
func (w *Workspace) DropStrength(internal, external int64) {
	i, found := slices.BinarySearchFunc(w.Strengths, &Strength{InternalID: internal, ExternalID: external}, strengthLess)
	if !found {
		return
	}
	w.Strengths = slices.Delete(w.Strengths, i, i+1)
	w.patchStrengths(external)
}

func fileID(f *EntityFile) int64   { return f.ID }
func reminderID(r *Reminder) int64 { return r.ID }

// AddFile adds a file (ID assigned when 0, CreatedAt w.Now() when zero, uploaded by the key's
// user when UploaderID is 0); exactly one of its entity ids must be set.
func (w *Workspace) AddFile(f EntityFile) *EntityFile {
	x := w.index()
	set := 0
	for _, id := range []*int64{f.PersonID, f.OrganizationID, f.OpportunityID} {
		if id != nil {
			set++
		}
	}
	if set != 1 {
		panic("affinitytest: add file: exactly one of person, organization and opportunity must be set")
	}
	if f.ID == 0 {
		f.ID = w.nextID(&w.seq.file, lastID(w.Files, fileID))
	} else if x.files[f.ID] != nil {
		panic(fmt.Sprintf("affinitytest: add file: id %d exists", f.ID))
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = ms(w.Now())
	}
	if f.UploaderID == 0 {
		f.UploaderID = w.User.ID
	}
	nf := cloneFile(&f)
	w.Files = insertSorted(w.Files, nf, fileID)
	x.files[nf.ID] = nf
	return nf
}

// DeleteFile removes a file.
func (w *Workspace) DeleteFile(id int64) {
	x := w.index()
	if x.files[id] == nil {
		return
	}
	w.Files = slices.DeleteFunc(w.Files, func(f *EntityFile) bool { return f.ID == id })
	delete(x.files, id)
}

// AddReminder adds a reminder (ID assigned when 0, CreatedAt w.Now() when zero, created by
// and owned by the key's user when CreatorID and OwnerID are 0).
func (w *Workspace) AddReminder(r Reminder) *Reminder {
	x := w.index()
	if r.ID == 0 {
		r.ID = w.nextID(&w.seq.reminder, lastID(w.Reminders, reminderID))
	} else if x.reminders[r.ID] != nil {
		panic(fmt.Sprintf("affinitytest: add reminder: id %d exists", r.ID))
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = ms(w.Now())
	}
	if r.CreatorID == 0 {
		r.CreatorID = w.User.ID
	}
	if r.OwnerID == 0 {
		r.OwnerID = w.User.ID
	}
	nr := cloneReminder(&r)
	w.Reminders = insertSorted(w.Reminders, nr, reminderID)
	x.reminders[nr.ID] = nr
	return nr
}

// CompleteReminder completes a reminder now, by the key's user; it returns the reminder, or nil
// when there is none with that id.
func (w *Workspace) CompleteReminder(id int64) *Reminder {
	r := w.index().reminders[id]
	if r == nil {
		return nil
	}
	now, by := ms(w.Now()), w.User.ID
	r.CompletedAt, r.CompleterID = &now, &by
	return r
}

// DeleteReminder removes a reminder.
func (w *Workspace) DeleteReminder(id int64) {
	x := w.index()
	if x.reminders[id] == nil {
		return
	}
	w.Reminders = slices.DeleteFunc(w.Reminders, func(r *Reminder) bool { return r.ID == id })
	delete(x.reminders, id)
}

// forgetPerson drops what a deleted person leaves behind: its strengths (as either side) and
// its files; its interactions stay. Its organizations' dates are re-derived, as their persons
// changed.
func (w *Workspace) forgetPerson(id int64, orgs []int64) {
	w.Strengths = slices.DeleteFunc(w.Strengths, func(s *Strength) bool { return s.InternalID == id || s.ExternalID == id })
	w.Files = slices.DeleteFunc(w.Files, func(f *EntityFile) bool { return equalID(f.PersonID, id) })
	w.invalidate()
	if len(orgs) > 0 {
		w.deriveDates(w.Now(), []int64{}, orgs)
	}
}

// forgetEntityFiles drops the files of a deleted organization or opportunity.
func (w *Workspace) forgetEntityFiles(entityType loader.EntityKind, id int64) {
	w.Files = slices.DeleteFunc(w.Files, func(f *EntityFile) bool {
		return (entityType == loader.EntityOrganization && equalID(f.OrganizationID, id)) ||
			(entityType == loader.EntityOpportunity && equalID(f.OpportunityID, id))
	})
	w.invalidate()
}
