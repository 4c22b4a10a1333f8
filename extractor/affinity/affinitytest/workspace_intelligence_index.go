package affinitytest

import (
	"slices"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Lookups of relationship intelligence and files, and the interaction dates derived from the
// interactions.

// intelligence is the part of the index about interactions, strengths, files and reminders.
type intelligence struct {
	interactionsByPerson map[int64][]*Interaction // sorted by type, then id
	strengthsByExternal  map[int64][]*Strength
	files                map[int64]*EntityFile
	reminders            map[int64]*Reminder
}

func buildIntelligence(w *Workspace) intelligence {
	x := intelligence{
		interactionsByPerson: make(map[int64][]*Interaction, len(w.Persons)),
		strengthsByExternal:  make(map[int64][]*Strength),
		files:                make(map[int64]*EntityFile, len(w.Files)),
		reminders:            make(map[int64]*Reminder, len(w.Reminders)),
	}
	for _, in := range w.Interactions {
		in.eachParticipant(func(pid int64) {
			x.interactionsByPerson[pid] = append(x.interactionsByPerson[pid], in)
		})
	}
	for _, s := range w.Strengths {
		x.strengthsByExternal[s.ExternalID] = append(x.strengthsByExternal[s.ExternalID], s)
	}
	for _, f := range w.Files {
		x.files[f.ID] = f
	}
	for _, r := range w.Reminders {
		x.reminders[r.ID] = r
	}
	return x
}

// Interaction returns the interaction of that type and id, or nil.
func (w *Workspace) Interaction(typ int, id int64) *Interaction {
	i, found := slices.BinarySearchFunc(w.Interactions, &Interaction{Type: typ, ID: id}, interactionLess)
	if !found {
		return nil
	}
	return w.Interactions[i]
}

// EntityFile returns the file with that id, or nil.
func (w *Workspace) EntityFile(id int64) *EntityFile { return w.index().files[id] }

// Reminder returns the reminder with that id, or nil.
func (w *Workspace) Reminder(id int64) *Reminder { return w.index().reminders[id] }

// StrengthsOf returns the strengths of an external person, sorted by internal person id.
func (w *Workspace) StrengthsOf(externalID int64) []*Strength {
	return slices.Clone(w.index().strengthsByExternal[externalID])
}

// InteractionsOf returns the interactions an entity takes part in, sorted by type then id: a
// person's own; an organization's or opportunity's are those of its external persons
// (internal persons, who take part in every interaction, do not make it the organization's).
func (w *Workspace) InteractionsOf(entityType loader.EntityKind, id int64) []*Interaction {
	return entityInteractions(w.index(), entityType, id)
}

// personsOf are the persons whose interactions are an entity's: the person itself, or the
// external persons of an organization or opportunity.
func personsOf(x *index, entityType loader.EntityKind, id int64) []int64 {
	var ids []int64
	switch entityType {
	case loader.EntityPerson:
		return []int64{id}
	case loader.EntityOrganization:
		if o := x.orgs[id]; o != nil {
			ids = o.PersonIDs
		}
	case loader.EntityOpportunity:
		if o := x.opps[id]; o != nil {
			ids = o.PersonIDs
		}
	}
	var out []int64
	for _, pid := range ids {
		if p := x.persons[pid]; p != nil && p.Type == 0 {
			out = append(out, pid)
		}
	}
	return out
}

func entityInteractions(x *index, entityType loader.EntityKind, id int64) []*Interaction {
	persons := personsOf(x, entityType, id)
	if len(persons) == 1 {
		return slices.Clone(x.interactionsByPerson[persons[0]])
	}
	var out []*Interaction
	for _, pid := range persons {
		out = append(out, x.interactionsByPerson[pid]...)
	}
	slices.SortFunc(out, interactionLess)
	return slices.Compact(out)
}

// datesFrom derives interaction dates from interactions at ref: first and last e-mail, first
// and last meeting or call up to ref, the next one after ref, the last chat message and the
// latest of the last e-mail, event and chat message; nil when there are none.
func datesFrom(ref time.Time, sets ...[]*Interaction) *InteractionDates {
	var d InteractionDates
	found := false
	earlier := func(p **time.Time, t time.Time) {
		if *p == nil || t.Before(**p) {
			v := t
			*p = &v
		}
	}
	later := func(p **time.Time, t time.Time) {
		if *p == nil || t.After(**p) {
			v := t
			*p = &v
		}
	}
	for _, set := range sets {
		for _, in := range set {
			found = true
			switch {
			case in.Type == InteractionEmail:
				earlier(&d.FirstEmail, in.Date)
				later(&d.LastEmail, in.Date)
			case in.Type == InteractionChat:
				later(&d.LastChatMessage, in.Date)
			case in.Date.After(ref):
				earlier(&d.NextEvent, in.Date)
			default:
				earlier(&d.FirstEvent, in.Date)
				later(&d.LastEvent, in.Date)
			}
		}
	}
	if !found {
		return nil
	}
	for _, t := range []*time.Time{d.LastEmail, d.LastEvent, d.LastChatMessage} {
		if t != nil {
			later(&d.LastInteraction, *t)
		}
	}
	return &d
}

// deriveDates sets the interaction dates of the persons and organizations given (nil: all)
// from their interactions at ref, keeping the index's lists of entities with dates.
func (w *Workspace) deriveDates(ref time.Time, persons, orgs []int64) {
	x := w.index()
	if persons == nil && orgs == nil {
		for _, p := range w.Persons {
			p.Interactions = datesFrom(ref, x.interactionsByPerson[p.ID])
		}
		for _, o := range w.Organizations {
			o.Interactions = orgDates(x, o, ref)
		}
		x.personsWithDates = slices.DeleteFunc(slices.Clone(w.Persons), func(p *Person) bool { return p.Interactions == nil })
		x.orgsWithDates = slices.DeleteFunc(slices.Clone(w.Organizations), func(o *Organization) bool { return o.Interactions == nil })
		return
	}
	for _, id := range persons {
		if p := x.persons[id]; p != nil {
			had := p.Interactions != nil
			p.Interactions = datesFrom(ref, x.interactionsByPerson[id])
			if has := p.Interactions != nil; has != had {
				x.personsWithDates = slices.DeleteFunc(x.personsWithDates, func(q *Person) bool { return q.ID == id })
				if has {
					x.personsWithDates = insertSorted(x.personsWithDates, p, personID)
				}
			}
		}
	}
	for _, id := range orgs {
		if o := x.orgs[id]; o != nil {
			had := o.Interactions != nil
			o.Interactions = orgDates(x, o, ref)
			if has := o.Interactions != nil; has != had {
				x.orgsWithDates = slices.DeleteFunc(x.orgsWithDates, func(q *Organization) bool { return q.ID == id })
				if has {
					x.orgsWithDates = insertSorted(x.orgsWithDates, o, orgID)
				}
			}
		}
	}
}

func (w *Workspace) deriveAllDates(ref time.Time) { w.deriveDates(ref, nil, nil) }

func orgDates(x *index, o *Organization, ref time.Time) *InteractionDates {
	var sets [][]*Interaction
	for _, pid := range personsOf(x, loader.EntityOrganization, o.ID) {
		sets = append(sets, x.interactionsByPerson[pid])
	}
	return datesFrom(ref, sets...)
}

// DeriveInteractionDates sets every person's and organization's interaction dates from the
// interactions at w.Now(), after Interactions was edited directly.
func (w *Workspace) DeriveInteractionDates() {
	w.Reindex()
	w.deriveAllDates(w.Now())
}

// DatesFromInteractions is what the interaction dates of an entity derive to at ref from its
// interactions now (see InteractionsOf): the rule the generated workspace and the mutation
// helpers follow.
func (w *Workspace) DatesFromInteractions(entityType loader.EntityKind, id int64, ref time.Time) *InteractionDates {
	return datesFrom(ref, w.InteractionsOf(entityType, id))
}
