package extractor

import (
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// This file turns the API's records into warehouse rows: the one place where
// the two vocabularies meet.

func datesRow(d *affinity.InteractionDates) *loader.InteractionDates {
	if d == nil {
		return nil
	}
	return &loader.InteractionDates{
		FirstEmailAt:      d.FirstEmailDate,
		LastEmailAt:       d.LastEmailDate,
		FirstEventAt:      d.FirstEventDate,
		LastEventAt:       d.LastEventDate,
		NextEventAt:       d.NextEventDate,
		LastChatMessageAt: d.LastChatMessageDate,
		LastInteractionAt: d.LastInteractionDate,
	}
}

func personRow(p affinity.Person) loader.Person {
	return loader.Person{
		ID:           p.ID,
		Type:         p.Type,
		FirstName:    p.FirstName,
		LastName:     p.LastName,
		PrimaryEmail: p.PrimaryEmail,
		Emails:       p.Emails,
		Dates:        datesRow(p.InteractionDates),
	}
}

func organizationRow(o affinity.Organization) loader.Organization {
	return loader.Organization{
		ID:             o.ID,
		Name:           o.Name,
		Domain:         o.Domain,
		Domains:        o.Domains,
		CrunchbaseUUID: o.CrunchbaseUUID,
		Global:         o.Global,
		Dates:          datesRow(o.InteractionDates),
	}
}

// opportunityRow takes list_id from the opportunity's list entry: an
// opportunity lives on exactly one list, and has none visible when the key's
// user cannot see that list.
func opportunityRow(o affinity.Opportunity) loader.Opportunity {
	row := loader.Opportunity{
		ID:              o.ID,
		Name:            o.Name,
		PersonIDs:       o.PersonIDs,
		OrganizationIDs: o.OrganizationIDs,
	}
	if len(o.ListEntries) > 0 {
		id := o.ListEntries[0].ListID
		row.ListID = &id
	}
	return row
}

func listRow(l affinity.List) loader.List {
	return loader.List{ID: l.ID, Type: l.Type, Name: l.Name, Public: l.Public, OwnerID: l.OwnerID, CreatorID: l.CreatorID, ListSize: l.ListSize}
}

// listEntryRow takes the entry's entity type from the entry, or from its list
// when Affinity leaves it out.
func listEntryRow(e affinity.ListEntry, listType loader.EntityKind) loader.ListEntry {
	et := listType
	if e.EntityType != nil {
		et = *e.EntityType
	}
	created := e.CreatedAt
	row := loader.ListEntry{ID: e.ID, ListID: e.ListID, EntityType: et, EntityID: e.EntityID, CreatorID: e.CreatorID}
	if !created.IsZero() {
		row.CreatedAt = &created
	}
	return row
}

func fieldRow(f affinity.Field) loader.Field {
	row := loader.Field{ID: f.ID, Name: f.Name, ListID: f.ListID, EntityType: f.EntityType, ValueType: int(f.ValueType),
		AllowsMultiple: f.AllowsMultiple, TrackChanges: f.TrackChanges, EnrichmentSource: f.EnrichmentSource,
		Options: make([]loader.DropdownOption, 0, len(f.DropdownOptions))}
	for _, o := range f.DropdownOptions {
		row.Options = append(row.Options, loader.DropdownOption{ID: o.ID, Text: o.Text, Rank: o.Rank, Color: o.Color})
	}
	return row
}

func projection(v affinity.Value, valueType *int) loader.Projection {
	if valueType == nil {
		return loader.Projection{}
	}
	p := v.Project(affinity.ValueType(*valueType))
	return loader.Projection{Text: p.Text, Number: p.Number, Date: p.Date, EntityID: p.EntityID, OptionID: p.OptionID}
}

// rawValue is the value element as received; nil stands for JSON null.
func rawValue(v affinity.Value) []byte {
	if v.IsNull() {
		return nil
	}
	return v.Raw
}

// entityValuesRow is an entity's complete set of values. A value's type is
// the one it carries, else its field's (types, from the warehouse).
func entityValuesRow(k loader.EntityKey, values []affinity.FieldValue, types map[int64]int) loader.EntityValues {
	ev := loader.EntityValues{EntityType: k.Type, EntityID: k.ID, Values: make([]loader.FieldValue, 0, len(values))}
	for _, v := range values {
		var vt *int
		if v.ValueType != nil {
			t := int(*v.ValueType)
			vt = &t
		} else if t, ok := types[v.FieldID]; ok {
			vt = &t
		}
		row := loader.FieldValue{ID: v.ID, FieldID: v.FieldID, EntityType: k.Type, EntityID: k.ID, ListEntryID: v.ListEntryID,
			ValueType: vt, Value: rawValue(v.Value), Projection: projection(v.Value, vt), UpdatedAt: v.UpdatedAt}
		if !v.CreatedAt.IsZero() {
			created := v.CreatedAt
			row.CreatedAt = &created
		}
		ev.Values = append(ev.Values, row)
	}
	return ev
}

// changeRow keeps a change as received. It carries no value type of its own:
// its projections follow its field's, and so does its entity type.
func changeRow(c affinity.FieldValueChange, f loader.Field) loader.FieldValueChange {
	vt := f.ValueType
	row := loader.FieldValueChange{ID: c.ID, FieldID: c.FieldID, EntityType: f.EntityType, EntityID: c.EntityID,
		ListEntryID: c.ListEntryID, ActionType: int(c.ActionType), ChangedAt: c.ChangedAt,
		Value: rawValue(c.Value), Projection: projection(c.Value, &vt)}
	if c.Changer != nil {
		id := c.Changer.ID
		row.ChangerID = &id
	}
	return row
}

// noteRow keeps a note and what it is attached to; person_ids, the union of
// the associated and interaction persons, is not stored twice.
func noteRow(n affinity.Note) loader.Note {
	creator := n.CreatorID
	return loader.Note{ID: n.ID, CreatorID: &creator, Content: n.Content, Type: n.Type, InteractionID: n.InteractionID,
		InteractionType: n.InteractionType, IsMeeting: n.IsMeeting, ParentID: n.ParentID, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
		AssociatedPersonIDs: n.AssociatedPersonIDs, InteractionPersonIDs: n.InteractionPersonIDs, MentionedPersonIDs: n.MentionedPersonIDs,
		OrganizationIDs: n.OrganizationIDs, OpportunityIDs: n.OpportunityIDs}
}
