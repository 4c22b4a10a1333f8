package extractor

import (
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// Rows of the relationship intelligence streams and of files and reminders.

// interactionRow is one interaction with its participants: an e-mail's from, to and cc; a
// meeting's or call's persons as attendees; a chat's persons as participants. The client has
// refused any participant without an id.
func interactionRow(it affinity.Interaction) loader.Interaction {
	row := loader.Interaction{
		Type: it.Type, ID: it.ID, OccurredAt: it.Date, StartTime: it.StartTime, EndTime: it.EndTime,
		Title: it.Title, Subject: it.Subject, Direction: it.Direction, ManualCreatorID: it.ManualCreatorID,
		UpdatedAt: it.UpdatedAt, NoteIDs: it.NoteIDs, Raw: it.Raw,
	}
	add := func(p *affinity.PersonRef, role string) {
		if p != nil && p.ID != nil {
			row.Persons = append(row.Persons, loader.InteractionPerson{PersonID: *p.ID, Role: role})
		}
	}
	if it.Type == loader.InteractionEmail {
		add(it.From, loader.InteractionRoleFrom)
		for i := range it.To {
			add(&it.To[i], loader.InteractionRoleTo)
		}
		for i := range it.CC {
			add(&it.CC[i], loader.InteractionRoleCC)
		}
		return row
	}
	role := loader.InteractionRoleAttendee
	if it.Type == loader.InteractionChat {
		role = loader.InteractionRoleParticipant
	}
	for i := range it.Persons {
		add(&it.Persons[i], role)
	}
	return row
}

func fileRow(f affinity.EntityFile) loader.EntityFile {
	return loader.EntityFile{ID: f.ID, Name: f.Name, Size: f.Size, PersonID: f.PersonID, OrganizationID: f.OrganizationID,
		OpportunityID: f.OpportunityID, UploaderID: f.UploaderID, CreatedAt: f.CreatedAt}
}

// reminderRow takes the ids of the reminder's embedded persons, organization and opportunity.
func reminderRow(r affinity.Reminder) loader.Reminder {
	person := func(p *affinity.PersonRef) *int64 {
		if p == nil {
			return nil
		}
		return p.ID
	}
	entity := func(e *affinity.ReminderEntity) *int64 {
		if e == nil {
			return nil
		}
		return e.ID
	}
	return loader.Reminder{
		ID: r.ID, Type: r.Type, ResetType: r.ResetType, ReminderDays: r.ReminderDays, Status: r.Status,
		Content: r.Content, DueAt: r.DueDate, CreatedAt: r.CreatedAt, CompletedAt: r.CompletedAt,
		CreatorID: person(r.Creator), OwnerID: person(r.Owner), CompleterID: person(r.Completer),
		PersonID: person(r.Person), OrganizationID: entity(r.Organization), OpportunityID: entity(r.Opportunity),
	}
}
