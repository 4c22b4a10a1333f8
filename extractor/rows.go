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
		Emails:       nonNil(p.Emails),
		Dates:        datesRow(p.InteractionDates),
	}
}

func organizationRow(o affinity.Organization) loader.Organization {
	return loader.Organization{
		ID:             o.ID,
		Name:           o.Name,
		Domain:         o.Domain,
		Domains:        nonNil(o.Domains),
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

// nonNil keeps an empty JSON array an empty array (not NULL) in Postgres.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
