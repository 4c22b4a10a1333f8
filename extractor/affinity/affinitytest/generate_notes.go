package affinitytest

import (
	"slices"
	"strings"
)

// Generation of notes and replies.

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
