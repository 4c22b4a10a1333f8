package affinitytest

import (
	"slices"
)

// Deep copies of the workspace.

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
	c.Interactions = make([]*Interaction, len(w.Interactions))
	for i, in := range w.Interactions {
		c.Interactions[i] = cloneInteraction(in)
	}
	c.Strengths = make([]*Strength, len(w.Strengths))
	for i, st := range w.Strengths {
		q := *st
		c.Strengths[i] = &q
	}
	c.Files = make([]*EntityFile, len(w.Files))
	for i, f := range w.Files {
		c.Files[i] = cloneFile(f)
	}
	c.Reminders = make([]*Reminder, len(w.Reminders))
	for i, r := range w.Reminders {
		c.Reminders[i] = cloneReminder(r)
	}
	return c
}

func cloneInteraction(in *Interaction) *Interaction {
	q := *in
	q.StartTime = clonePtr(in.StartTime)
	q.EndTime = clonePtr(in.EndTime)
	q.Title = clonePtr(in.Title)
	q.Subject = clonePtr(in.Subject)
	q.Direction = clonePtr(in.Direction)
	q.ManualCreatorID = clonePtr(in.ManualCreatorID)
	q.UpdatedAt = clonePtr(in.UpdatedAt)
	q.NoteIDs = slices.Clone(in.NoteIDs)
	q.PersonIDs = slices.Clone(in.PersonIDs)
	q.To = slices.Clone(in.To)
	q.CC = slices.Clone(in.CC)
	return &q
}

func cloneFile(f *EntityFile) *EntityFile {
	q := *f
	q.PersonID = clonePtr(f.PersonID)
	q.OrganizationID = clonePtr(f.OrganizationID)
	q.OpportunityID = clonePtr(f.OpportunityID)
	return &q
}

func cloneReminder(r *Reminder) *Reminder {
	q := *r
	q.ResetType = clonePtr(r.ResetType)
	q.ReminderDays = clonePtr(r.ReminderDays)
	q.Content = clonePtr(r.Content)
	q.CompletedAt = clonePtr(r.CompletedAt)
	q.CompleterID = clonePtr(r.CompleterID)
	q.PersonID = clonePtr(r.PersonID)
	q.OrganizationID = clonePtr(r.OrganizationID)
	q.OpportunityID = clonePtr(r.OpportunityID)
	return &q
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
