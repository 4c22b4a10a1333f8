package affinitytest

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Generation of relationship intelligence and files: interactions (and from them the persons'
// and organizations' interaction dates and the relationship strengths), entity files and
// reminders. It runs after everything else with its own random source, so the rest of the
// workspace does not depend on it.

// The densities of a zero Config field (DefaultConfig's values).
const (
	defaultInteractions = 2.5
	defaultFileRate     = 0.03
	defaultReminderRate = 0.01
)

var (
	emailSubjects = []string{"Re: Series A deck", "Intro: our fund <> you", "Follow-up from today", "Data room access",
		"Quarterly update 📈", "Re: Re: term sheet", "Board meeting prep", "Ünïcödé subject — “quoted”"}
	meetingTitles = []string{"Intro", "Partner meeting", "Diligence call", "Board prep", "Coffee ☕", "Pitch"}
	fileNames     = []string{"deck-q2.pdf", "term-sheet.docx", "financials.xlsx", "cap table (final) v3.xlsx",
		"memo — ünïcödé.pdf", "notes.txt", "logo.png"}
	reminderTexts = []string{"Check in before their board meeting", "Send the data room link", "Follow up on the intro",
		"Ask for Q3 numbers 📊"}
)

// intelligence generates the interactions, derives the interaction dates from them, then the
// strengths, files and reminders.
func (g *generator) intelligence() {
	g.rng = rand.New(rand.NewPCG(uint64(g.cfg.Seed)^0x1a7e11, 0x5eed_0f_1a7e11))
	var externals []*Person
	for _, p := range g.ws.Persons {
		if p.Type == 0 {
			externals = append(externals, p)
		}
	}
	if len(externals) > 0 && len(g.internal) > 0 {
		g.genInteractions(externals)
	}
	g.ws.Reindex()
	g.ws.deriveAllDates(g.present)
	g.genStrengths()
	g.genFiles()
	if len(g.internal) > 0 {
		g.genReminders(externals)
	}
	g.linkNotes()
	g.ws.invalidate() // a server indexes the workspace it serves
}

// density is a Config density: the default when zero, none when negative.
func density(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

type interactionGen struct {
	g       *generator
	orgs    map[int64]*Organization
	persons map[int64]*Person
	id      int64
	out     []*Interaction
}

func (ig *interactionGen) nextID() int64 {
	ig.id += 1 + ig.g.rng.Int64N(20)
	return ig.id
}

// genInteractions gives each external person its interactions: about a fifth none (though
// colleagues' e-mails may copy them), about a seventh every kind (e-mail, meeting, call, chat,
// a meeting in the next 30 days) and more, the rest a few; the mean is Config.Interactions.
func (g *generator) genInteractions(externals []*Person) {
	ig := &interactionGen{g: g, orgs: make(map[int64]*Organization, len(g.ws.Organizations)),
		persons: make(map[int64]*Person, len(g.ws.Persons)), id: 100_000}
	for _, o := range g.ws.Organizations {
		ig.orgs[o.ID] = o
	}
	for _, p := range g.ws.Persons {
		ig.persons[p.ID] = p
	}
	ig.id += g.rng.Int64N(1000)
	mean := density(g.cfg.Interactions, defaultInteractions)
	if mean == 0 {
		return
	}
	extra := max(0, (mean-0.15*5)/0.8) // the mean of the random count of a not quiet person
	ig.out = make([]*Interaction, 0, int(mean*float64(len(externals))*1.05))
	for _, p := range externals {
		r := g.rng.Float64()
		if r < 0.2 {
			continue
		}
		if r < 0.35 {
			for _, typ := range []int{InteractionEmail, InteractionMeeting, InteractionCall, InteractionChat} {
				ig.add(p, typ, false)
			}
			ig.add(p, InteractionMeeting, true)
		}
		for range int(g.rng.Float64()*2*extra + 0.5) {
			typ := InteractionEmail
			switch r := g.rng.IntN(100); {
			case r < 20:
				typ = InteractionMeeting
			case r < 30:
				typ = InteractionCall
			case r < 50:
				typ = InteractionChat
			}
			ig.add(p, typ, typ == InteractionMeeting && g.chance(0.08))
		}
	}
	slices.SortFunc(ig.out, interactionLess)
	g.ws.Interactions = ig.out
}

// colleagues are up to n other external persons of p's first organization.
func (ig *interactionGen) colleagues(p *Person, n int) []int64 {
	if len(p.OrganizationIDs) == 0 || n == 0 {
		return nil
	}
	o := ig.orgs[p.OrganizationIDs[0]]
	if o == nil {
		return nil
	}
	var out []int64
	for range n {
		id := o.PersonIDs[ig.g.rng.IntN(len(o.PersonIDs))]
		if q := ig.persons[id]; id != p.ID && q != nil && q.Type == 0 && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// when is an interaction's date: mostly within the last year, some older, or within the next
// 30 days for a future meeting.
func (ig *interactionGen) when(future bool) time.Time {
	g := ig.g
	switch {
	case future:
		return g.at(g.present.Add(time.Hour), g.present.AddDate(0, 0, 30))
	case g.chance(0.65):
		return g.at(g.present.AddDate(-1, 0, 0), g.present)
	}
	return g.at(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), g.present.AddDate(-1, 0, 0))
}

func (ig *interactionGen) add(p *Person, typ int, future bool) {
	g := ig.g
	in := &Interaction{ID: ig.nextID(), Type: typ, Date: ig.when(future && typ != InteractionEmail && typ != InteractionChat), NoteIDs: []int64{}}
	internal := []int64{g.randomInternal()}
	if g.chance(0.2) {
		internal = addID(internal, g.randomInternal())
	}
	switch typ {
	case InteractionEmail:
		dir := g.rng.IntN(2)
		in.Direction = &dir
		in.Subject = str(g.pick(emailSubjects))
		if g.chance(0.05) {
			in.Subject = nil
		}
		others := ig.colleagues(p, g.rng.IntN(3))
		in.To, in.CC = []int64{}, []int64{}
		if dir == 0 {
			in.From = internal[0]
			in.To = append([]int64{p.ID}, others[:len(others)/2]...)
			in.CC = append(in.CC, others[len(others)/2:]...)
			in.CC = append(in.CC, internal[1:]...)
		} else {
			in.From = p.ID
			in.To = internal
			in.CC = append(in.CC, others...)
		}
	default:
		in.PersonIDs = append(slices.Clone(internal), p.ID)
		if typ == InteractionMeeting {
			in.PersonIDs = append(in.PersonIDs, ig.colleagues(p, g.rng.IntN(2))...)
		}
		slices.Sort(in.PersonIDs)
		in.PersonIDs = slices.Compact(in.PersonIDs)
		if g.chance(0.1) {
			c := g.randomInternal()
			in.ManualCreatorID = &c
		}
		if typ == InteractionChat {
			dir := g.rng.IntN(2)
			in.Direction = &dir
			break
		}
		start := in.Date
		in.StartTime = &start
		if typ == InteractionMeeting || g.chance(0.8) {
			end := start.Add(time.Duration(15*(1+g.rng.IntN(4))) * time.Minute)
			in.EndTime = &end
		}
		if typ == InteractionMeeting || g.chance(0.5) {
			in.Title = str(g.pick(meetingTitles))
		}
		if g.chance(0.2) {
			upto := in.Date
			if upto.After(g.present) {
				upto = g.present
			}
			u := g.at(upto.AddDate(0, 0, -7), upto)
			in.UpdatedAt = &u
		}
	}
	ig.out = append(ig.out, in)
}

// linkNotes points the notes about an interaction at generated interactions of their type
// (the note's interaction_id, and its interaction persons the interaction's participants) and
// records the note on the interaction. It runs last, so nothing else depends on the notes.
func (g *generator) linkNotes() {
	byType := map[int][]*Interaction{}
	for _, in := range g.ws.Interactions {
		if !in.Date.After(g.present) {
			byType[in.Type] = append(byType[in.Type], in)
		}
	}
	for _, n := range g.ws.Notes {
		if n.InteractionID == nil || n.InteractionType == nil || len(byType[*n.InteractionType]) == 0 {
			continue
		}
		pool := byType[*n.InteractionType]
		in := pool[g.rng.IntN(len(pool))]
		id := in.ID
		n.InteractionID = &id
		n.InteractionPersonIDs = in.Participants()
		in.NoteIDs = append(in.NoteIDs, n.ID)
	}
}

// genStrengths gives every (internal, external) pair that interacted a strength in (0, 1]:
// higher with more interactions, lower the longer ago the last one was.
func (g *generator) genStrengths() {
	type pair struct{ internal, external int64 }
	type seen struct {
		n    int
		last time.Time
	}
	pairs := map[pair]*seen{}
	x := g.ws.index()
	for _, in := range g.ws.Interactions {
		ids := in.Participants()
		for _, a := range ids {
			pa := x.persons[a]
			if pa == nil || pa.Type != 1 {
				continue
			}
			for _, b := range ids {
				if pb := x.persons[b]; pb == nil || pb.Type != 0 {
					continue
				}
				k := pair{a, b}
				s := pairs[k]
				if s == nil {
					s = &seen{}
					pairs[k] = s
				}
				s.n++
				if in.Date.After(s.last) {
					s.last = in.Date
				}
			}
		}
	}
	g.ws.Strengths = make([]*Strength, 0, len(pairs))
	for k, s := range pairs {
		age := g.present.Sub(s.last).Hours() / 24 / 365
		v := (0.3 + 0.7*math.Exp(-max(age, 0))) * (1 - math.Exp(-0.6*float64(s.n)))
		g.ws.Strengths = append(g.ws.Strengths, &Strength{InternalID: k.internal, ExternalID: k.external, Strength: roundStrength(v)})
	}
	slices.SortFunc(g.ws.Strengths, strengthLess)
	for _, s := range g.ws.Strengths { // jitter in sorted order, so the map's order does not matter
		s.Strength = roundStrength(s.Strength * (0.9 + 0.1*g.rng.Float64()))
	}
}

// roundStrength keeps three decimals within (0, 1].
func roundStrength(v float64) float64 {
	return min(1, max(0.001, math.Round(v*1000)/1000))
}

// genFiles attaches Config.FileRate files per entity to persons, organizations and
// opportunities (each file to one).
func (g *generator) genFiles() {
	ws := g.ws
	n := int(math.Round(density(g.cfg.FileRate, defaultFileRate) * float64(len(ws.Persons)+len(ws.Organizations)+len(ws.Opportunities))))
	if n == 0 || len(g.internal) == 0 {
		return
	}
	id := int64(77_000 + g.rng.IntN(1000))
	for i := range n {
		id += 1 + g.rng.Int64N(10)
		f := &EntityFile{ID: id, Name: g.pick(fileNames), Size: 1_000 + g.rng.Int64N(20_000_000),
			UploaderID: g.randomInternal(), CreatedAt: g.at(g.present.AddDate(-2, 0, 0), g.present)}
		if g.cfg.NUL && i%17 == 5 {
			f.Name = g.nul(f.Name)
		}
		switch k := i % 3; {
		case k == 2 && len(ws.Opportunities) > 0:
			oid := ws.Opportunities[g.rng.IntN(len(ws.Opportunities))].ID
			f.OpportunityID = &oid
		case k >= 1 && len(ws.Organizations) > 0:
			oid := ws.Organizations[g.rng.IntN(len(ws.Organizations))].ID
			f.OrganizationID = &oid
		default:
			pid := ws.Persons[g.rng.IntN(len(ws.Persons))].ID
			f.PersonID = &pid
		}
		ws.Files = append(ws.Files, f)
	}
}

// genReminders makes Config.ReminderRate reminders per person (at least 12): every status
// (completed, overdue, and active until well after the generated present), one-time and
// recurring, tagged to a person, an organization, an opportunity or nothing.
func (g *generator) genReminders(externals []*Person) {
	ws := g.ws
	rate := density(g.cfg.ReminderRate, defaultReminderRate)
	if rate == 0 {
		return
	}
	n := max(12, int(math.Round(rate*float64(len(ws.Persons)))))
	id := int64(31_000 + g.rng.IntN(1000))
	for i := range n {
		id += 1 + g.rng.Int64N(10)
		r := &Reminder{ID: id, Type: ReminderOneTime, CreatorID: g.randomInternal(), OwnerID: g.randomInternal()}
		if i%2 == 1 {
			r.Type = ReminderRecurring
			reset, days := g.rng.IntN(3), 7*(1+g.rng.IntN(12))
			r.ResetType, r.ReminderDays = &reset, &days
		}
		if !g.chance(0.1) {
			r.Content = str(g.nul(g.pick(reminderTexts)))
		}
		before := g.present
		switch i % 3 {
		case ReminderCompleted:
			done := g.at(g.present.AddDate(0, -10, 0), g.present)
			c := r.OwnerID
			r.CompletedAt, r.CompleterID = &done, &c
			r.DueDate = g.at(done.AddDate(0, 0, -20), done.AddDate(0, 0, 20))
			before = done
		case ReminderOverdue:
			r.DueDate = g.at(g.present.AddDate(0, -7, 0), g.present.Add(-time.Hour))
			before = r.DueDate
		default:
			r.DueDate = g.at(g.present.AddDate(0, 2, 0), g.present.AddDate(2, 0, 0))
		}
		r.CreatedAt = g.at(before.AddDate(0, -6, 0), before)
		switch (i / 3) % 4 {
		case 0:
			if len(externals) > 0 {
				pid := externals[g.rng.IntN(len(externals))].ID
				r.PersonID = &pid
			}
		case 1:
			if len(ws.Organizations) > 0 {
				oid := ws.Organizations[g.rng.IntN(len(ws.Organizations))].ID
				r.OrganizationID = &oid
			}
		case 2:
			if len(ws.Opportunities) > 0 {
				oid := ws.Opportunities[g.rng.IntN(len(ws.Opportunities))].ID
				r.OpportunityID = &oid
			}
		}
		ws.Reminders = append(ws.Reminders, r)
	}
}
