package affinitytest

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The mutation step of the intelligence tests: a day of relationship intelligence,
// and its exact report.

// DatesMoved is an entity and interaction type whose interaction dates moved: for e-mail (3)
// the last e-mail, for meetings and calls (0 and 1, each reported) the last or next event, for
// chat (2) the last chat message.
type DatesMoved struct {
	EntityType loader.EntityKind
	EntityID   int64
	Type       int
}

// IntelligenceChanges is what MutateIntelligence did.
type IntelligenceChanges struct {
	Interactions       []*Interaction // added, in the order added
	Moved              []DatesMoved   // external persons and organizations, sorted by entity type, id, type
	StrengthsChanged   []Strength     // the pairs set (new or changed), with their new strength
	StrengthsDropped   []Strength     // the pairs removed, with their last strength
	FilesAdded         []int64
	FilesDeleted       []int64
	RemindersCompleted []int64
	RemindersDeleted   []int64
}

// movedTypes are the interaction types whose due dates differ between a and b.
func movedTypes(a, b *InteractionDates) []int {
	a, b = orEmpty(a), orEmpty(b)
	var out []int
	if !sameTime(a.LastEvent, b.LastEvent) || !sameTime(a.NextEvent, b.NextEvent) {
		out = append(out, InteractionMeeting, InteractionCall)
	}
	if !sameTime(a.LastChatMessage, b.LastChatMessage) {
		out = append(out, InteractionChat)
	}
	if !sameTime(a.LastEmail, b.LastEmail) {
		out = append(out, InteractionEmail)
	}
	return out
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func orEmpty(d *InteractionDates) *InteractionDates {
	if d == nil {
		return &InteractionDates{}
	}
	return d
}

// MutateIntelligence makes the changes of a day of relationship intelligence, chosen with rng
// (mostly about persons on lists and the persons of organizations on lists): n new
// interactions (e-mails, some shared with a colleague of the same organization, meetings,
// among them one in the next 30 days, calls and chat messages) dated shortly before w.Now()
// (future meetings after), each strengthening its first internal/external pair; about n/4
// strengths dropped (of persons whose dates moved: strengths change with them); about n/4 files added and n/8 deleted; about n/8 reminders completed and
// n/8 deleted. It reports exactly what it did.
func (w *Workspace) MutateIntelligence(rng *rand.Rand, n int) IntelligenceChanges {
	var ch IntelligenceChanges
	x := w.index()
	now := w.Now()
	movedPersons := map[int64]bool{}
	var internal, externals, listed []int64
	for _, p := range w.Persons {
		if p.Type == 1 {
			internal = append(internal, p.ID)
		} else {
			externals = append(externals, p.ID)
		}
	}
	var listedEntities []entityKey
	for _, e := range w.ListEntries {
		listedEntities = append(listedEntities, entityKey{e.EntityType, e.EntityID})
		listed = append(listed, personsOf(x, e.EntityType, e.EntityID)...)
	}
	slices.Sort(listed)
	listed = slices.Compact(listed)

	if len(internal) > 0 && len(externals) > 0 {
		before := map[entityKey]*InteractionDates{}
		var touched []entityKey
		remember := func(k entityKey, d *InteractionDates) {
			if _, ok := before[k]; !ok {
				before[k] = cloneDates(d)
				touched = append(touched, k)
			}
		}
		futureDone := false
		derivePersons, deriveOrgs := []int64{}, []int64{}
		var pending []Strength // strength changes, made for persons whose dates moved
		for i := range n {
			pool := externals
			if len(listed) > 0 && rng.IntN(4) > 0 {
				pool = listed
			}
			p := x.persons[pool[rng.IntN(len(pool))]]
			me := internal[rng.IntN(len(internal))]
			in := Interaction{Type: []int{InteractionEmail, InteractionMeeting, InteractionChat, InteractionCall}[i%4],
				Date: ms(now.Add(-time.Duration(1+rng.IntN(360)) * time.Minute))}
			switch in.Type {
			case InteractionEmail:
				dir := rng.IntN(2)
				in.Direction, in.Subject = &dir, str("Re: following up")
				in.From, in.To, in.CC = me, []int64{p.ID}, []int64{}
				if dir == 1 {
					in.From, in.To = p.ID, []int64{me}
				}
				if len(p.OrganizationIDs) > 0 {
					for _, c := range x.orgs[p.OrganizationIDs[0]].PersonIDs {
						if q := x.persons[c]; c != p.ID && q != nil && q.Type == 0 {
							in.CC = append(in.CC, c) // shared with a colleague
							break
						}
					}
				}
			case InteractionChat:
				dir := rng.IntN(2)
				in.Direction, in.PersonIDs = &dir, []int64{me, p.ID}
			default:
				if in.Type == InteractionMeeting && (!futureDone || rng.IntN(4) == 0) {
					futureDone = true
					in.Date = ms(now.Add(time.Duration(1+rng.IntN(30*24)) * time.Hour))
				}
				in.PersonIDs = []int64{me, p.ID}
				start, end := in.Date, in.Date.Add(30*time.Minute)
				in.StartTime, in.EndTime, in.Title = &start, &end, str("Catch-up")
				if rng.IntN(5) == 0 {
					in.ManualCreatorID = &me
				}
			}
			slices.Sort(in.PersonIDs)
			for _, pid := range in.Participants() {
				q := x.persons[pid]
				if q == nil || q.Type != 0 {
					continue
				}
				remember(entityKey{loader.EntityPerson, pid}, q.Interactions)
				for _, oid := range q.OrganizationIDs {
					if o := x.orgs[oid]; o != nil {
						remember(entityKey{loader.EntityOrganization, oid}, o.Interactions)
					}
				}
			}
			added, persons, orgs := w.addInteraction(in)
			for _, id := range persons {
				derivePersons = addID(derivePersons, id)
			}
			for _, id := range orgs {
				deriveOrgs = addID(deriveOrgs, id)
			}
			ch.Interactions = append(ch.Interactions, added)
			old := 0.0
			for _, s := range x.strengthsByExternal[p.ID] {
				if s.InternalID == me {
					old = s.Strength
				}
			}
			st := Strength{InternalID: me, ExternalID: p.ID, Strength: roundStrength(old + 0.05)}
			if st.Strength == old {
				st.Strength = roundStrength(old - 0.05)
			}
			pending = append(pending, st)
		}
		w.deriveDates(now, derivePersons, deriveOrgs)
		for _, k := range touched {
			var after *InteractionDates
			if k.typ == loader.EntityPerson {
				after = x.persons[k.id].Interactions
			} else {
				after = x.orgs[k.id].Interactions
			}
			for _, t := range movedTypes(before[k], after) {
				ch.Moved = append(ch.Moved, DatesMoved{EntityType: k.typ, EntityID: k.id, Type: t})
			}
		}
		// Affinity derives strengths from interactions: a strength changes (or goes) only
		// with a person's interaction dates, which is when a sync reads it again.
		for _, m := range ch.Moved {
			if m.EntityType == loader.EntityPerson {
				movedPersons[m.EntityID] = true
			}
		}
		for _, st := range pending {
			if movedPersons[st.ExternalID] {
				w.ChangeStrength(st.InternalID, st.ExternalID, st.Strength)
				ch.StrengthsChanged = append(ch.StrengthsChanged, st)
			}
		}
		ch.StrengthsChanged = lastPerPair(ch.StrengthsChanged)
		slices.SortFunc(ch.Moved, func(a, b DatesMoved) int {
			return cmp.Or(cmp.Compare(a.EntityType, b.EntityType), cmp.Compare(a.EntityID, b.EntityID), cmp.Compare(a.Type, b.Type))
		})
	}

	var droppable []*Strength // pairs of persons whose dates moved
	for _, st := range w.Strengths {
		if movedPersons[st.ExternalID] {
			droppable = append(droppable, st)
		}
	}
	for range max(1, n/4) {
		if len(droppable) == 0 {
			break
		}
		s := *droppable[rng.IntN(len(droppable))]
		if !slices.ContainsFunc(w.Strengths, func(c *Strength) bool { return *c == s }) {
			continue // dropped already
		}
		if slices.ContainsFunc(ch.StrengthsChanged, func(c Strength) bool {
			return c.InternalID == s.InternalID && c.ExternalID == s.ExternalID
		}) {
			continue
		}
		w.DropStrength(s.InternalID, s.ExternalID)
		ch.StrengthsDropped = append(ch.StrengthsDropped, s)
	}

	if len(listedEntities) > 0 {
		for range max(1, n/4) {
			k := listedEntities[rng.IntN(len(listedEntities))]
			f := EntityFile{Name: "upload-" + now.UTC().Format("20060102") + ".pdf", Size: 1_000 + rng.Int64N(5_000_000)}
			id := k.id
			switch k.typ {
			case loader.EntityPerson:
				f.PersonID = &id
			case loader.EntityOrganization:
				f.OrganizationID = &id
			default:
				f.OpportunityID = &id
			}
			ch.FilesAdded = append(ch.FilesAdded, w.AddFile(f).ID)
		}
	}
	for range max(1, n/8) {
		if len(w.Files) == 0 {
			break
		}
		f := w.Files[rng.IntN(len(w.Files))]
		if slices.Contains(ch.FilesAdded, f.ID) {
			continue
		}
		w.DeleteFile(f.ID)
		ch.FilesDeleted = append(ch.FilesDeleted, f.ID)
	}

	for range max(1, n/8) {
		var open []*Reminder
		for _, r := range w.Reminders {
			if r.CompletedAt == nil {
				open = append(open, r)
			}
		}
		if len(open) == 0 {
			break
		}
		r := open[rng.IntN(len(open))]
		w.CompleteReminder(r.ID)
		ch.RemindersCompleted = append(ch.RemindersCompleted, r.ID)
	}
	for range max(1, n/8) {
		if len(w.Reminders) == 0 {
			break
		}
		r := w.Reminders[rng.IntN(len(w.Reminders))]
		if slices.Contains(ch.RemindersCompleted, r.ID) {
			continue
		}
		w.DeleteReminder(r.ID)
		ch.RemindersDeleted = append(ch.RemindersDeleted, r.ID)
	}
	slices.Sort(ch.FilesDeleted)
	slices.Sort(ch.RemindersCompleted)
	slices.Sort(ch.RemindersDeleted)
	return ch
}

// lastPerPair keeps the last strength set for each pair, sorted by external then internal id.
func lastPerPair(s []Strength) []Strength {
	slices.Reverse(s)
	slices.SortStableFunc(s, func(a, b Strength) int { return strengthLess(&a, &b) })
	return slices.CompactFunc(s, func(a, b Strength) bool {
		return a.InternalID == b.InternalID && a.ExternalID == b.ExternalID
	})
}
