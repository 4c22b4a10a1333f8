package affinitytest

import (
	"slices"
	"time"
)

// Relationship intelligence and files: interactions, relationship strengths, entity files and
// reminders (API reference §10-12, §20).

// Interaction types (interactions.type).
const (
	InteractionMeeting = 0
	InteractionCall    = 1
	InteractionChat    = 2
	InteractionEmail   = 3
)

// Interaction is a meeting, call, chat message or e-mail. IDs are unique per Type. Meetings,
// calls and chat messages have their participants (internal and external) in PersonIDs;
// e-mails have From, To and CC instead.
type Interaction struct {
	ID              int64
	Type            int
	Date            time.Time
	StartTime       *time.Time // meetings, calls
	EndTime         *time.Time // meetings, calls; nil allowed
	Title           *string    // meetings, calls
	Subject         *string    // e-mail
	Direction       *int       // chat, e-mail: 0 sent by an internal person, 1 received
	ManualCreatorID *int64     // manually logged meetings, calls, chat
	UpdatedAt       *time.Time // meetings, calls
	NoteIDs         []int64
	PersonIDs       []int64 // meetings, calls, chat
	From            int64   // e-mail
	To, CC          []int64 // e-mail
}

// Participants are the interaction's persons: PersonIDs, or for an e-mail From, To and CC,
// sorted, once each.
func (i *Interaction) Participants() []int64 {
	var out []int64
	if i.Type == InteractionEmail {
		out = slices.Concat([]int64{i.From}, i.To, i.CC)
	} else {
		out = slices.Clone(i.PersonIDs)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// eachParticipant calls fn once for each participant, without allocating: PersonIDs (kept
// sorted and unique), or From, To and CC of an e-mail, each id once.
func (i *Interaction) eachParticipant(fn func(int64)) {
	if i.Type != InteractionEmail {
		for _, id := range i.PersonIDs {
			fn(id)
		}
		return
	}
	fn(i.From)
	for k, id := range i.To {
		if id != i.From && !slices.Contains(i.To[:k], id) {
			fn(id)
		}
	}
	for k, id := range i.CC {
		if id != i.From && !slices.Contains(i.To, id) && !slices.Contains(i.CC[:k], id) {
			fn(id)
		}
	}
}

// IsEvent reports whether the interaction is a meeting or a call (the events envelope).
func (i *Interaction) IsEvent() bool {
	return i.Type == InteractionMeeting || i.Type == InteractionCall
}

// Strength is the relationship strength of an internal and an external person, in (0, 1].
type Strength struct {
	InternalID, ExternalID int64
	Strength               float64
}

// EntityFile is an uploaded file's metadata; exactly one of PersonID, OrganizationID and
// OpportunityID is set.
type EntityFile struct {
	ID                                      int64
	Name                                    string
	Size                                    int64
	PersonID, OrganizationID, OpportunityID *int64
	UploaderID                              int64
	CreatedAt                               time.Time
}

// Reminder types, reset types and statuses.
const (
	ReminderOneTime   = 0
	ReminderRecurring = 1

	ResetInteraction = 0
	ResetEmail       = 1
	ResetMeeting     = 2

	ReminderCompleted = 0
	ReminderActive    = 1
	ReminderOverdue   = 2
)

// Reminder is a reminder; at most one of PersonID, OrganizationID and OpportunityID is set.
// Its status is not stored: Status derives it from DueDate, CompletedAt and a clock.
type Reminder struct {
	ID                                                   int64
	Type                                                 int
	ResetType, ReminderDays                              *int // recurring only
	Content                                              *string
	DueDate                                              time.Time
	CreatedAt                                            time.Time
	CompletedAt                                          *time.Time
	CreatorID, OwnerID                                   int64
	CompleterID, PersonID, OrganizationID, OpportunityID *int64
}

// Status is the reminder's status at now: completed when completed, overdue when due before
// now, else active.
func (r *Reminder) Status(now time.Time) int {
	switch {
	case r.CompletedAt != nil:
		return ReminderCompleted
	case r.DueDate.Before(now):
		return ReminderOverdue
	}
	return ReminderActive
}

func interactionLess(a, b *Interaction) int {
	if a.Type != b.Type {
		return a.Type - b.Type
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

func strengthLess(a, b *Strength) int {
	switch {
	case a.ExternalID != b.ExternalID:
		if a.ExternalID < b.ExternalID {
			return -1
		}
		return 1
	case a.InternalID < b.InternalID:
		return -1
	case a.InternalID > b.InternalID:
		return 1
	}
	return 0
}
