package affinitytest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v2 values: the v2 shape of each v1 value type, inline associations and
// relationship-intelligence fields.

// V2ValueType is the v2 value type of a v1 field: person, company, dropdown, number, datetime,
// location, text, ranked-dropdown or filterable-text, with "-multi" for a multi-valued field.
func V2ValueType(f *Field) string {
	t, ok := map[int]string{ValuePerson: "person", ValueOrganization: "company", ValueDropdown: "dropdown",
		ValueNumber: "number", ValueDate: "datetime", ValueLocation: "location", ValueText: "text",
		ValueRankedDropdown: "ranked-dropdown", ValueFilterableText: "filterable-text"}[f.ValueType]
	if !ok {
		t = "unknown-" + strconv.Itoa(f.ValueType)
	}
	if f.AllowsMultiple {
		t += "-multi"
	}
	return t
}

func personData(x *index, id int64) obj {
	p := x.persons[id]
	if p == nil {
		return obj{"id": id, "firstName": nil, "lastName": nil, "primaryEmailAddress": nil, "type": "external"}
	}
	return obj{"id": p.ID, "firstName": p.FirstName, "lastName": p.LastName,
		"primaryEmailAddress": p.PrimaryEmail, "type": personType(p)}
}

func companyData(x *index, id int64) obj {
	o := x.orgs[id]
	if o == nil {
		return obj{"id": id, "name": nil, "domain": nil}
	}
	return obj{"id": o.ID, "name": o.Name, "domain": o.Domain}
}

func isJSONNull(v json.RawMessage) bool {
	return len(v) == 0 || bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// v2Data converts one non-null v1 value of f to its v2 data; altered appends V2DisagreeSuffix
// to a text value.
func v2Data(x *index, f *Field, raw json.RawMessage, altered bool) any {
	switch f.ValueType {
	case ValuePerson, ValueOrganization:
		var id int64
		if json.Unmarshal(raw, &id) != nil {
			return raw
		}
		if f.ValueType == ValuePerson {
			return personData(x, id)
		}
		return companyData(x, id)
	case ValueDropdown:
		var text string
		if json.Unmarshal(raw, &text) != nil {
			return raw
		}
		var optID any
		if i := slices.IndexFunc(f.DropdownOptions, func(o DropdownOption) bool { return o.Text == text }); i >= 0 {
			optID = f.DropdownOptions[i].ID
		}
		return obj{"dropdownOptionId": optID, "text": text}
	case ValueRankedDropdown:
		var rv rankedValue
		if json.Unmarshal(raw, &rv) != nil {
			return raw
		}
		return obj{"dropdownOptionId": rv.ID, "text": rv.Text, "rank": rv.Rank, "color": colorName(rv.Color)}
	case ValueDate:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return raw
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	case ValueLocation:
		var l location
		if json.Unmarshal(raw, &l) != nil {
			return raw
		}
		return obj{"streetAddress": l.StreetAddress, "city": l.City, "state": l.State, "country": l.Country, "continent": l.Continent}
	case ValueText:
		var s string
		if altered && json.Unmarshal(raw, &s) == nil {
			return s + V2DisagreeSuffix
		}
	}
	return raw // number, text, filterable text and unknown types as v1 serves them
}

// multiValue is a -multi value: null when empty, cut at loader.V2PageSize items with totalCount.
func multiValue(typ string, items []any, withCount bool) obj {
	v := obj{"type": typ, "data": nil}
	if len(items) > 0 {
		v["data"] = items[:min(len(items), loader.V2PageSize)]
	}
	if withCount || len(items) > loader.V2PageSize {
		v["totalCount"] = len(items)
	}
	return v
}

func idItems(ids []int64, render func(int64) obj) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = render(id)
	}
	return out
}

// fieldValue is the value of one selected field for an entity (and, for list fields, entry).
func (rq *v2Request) fieldValue(fd v2Field, entityType loader.EntityKind, entityID int64, entry *ListEntry) obj {
	x := rq.x
	if f := fd.f; f != nil {
		var entryID *int64
		if f.ListID != nil {
			entryID = &entry.ID
		}
		var items []any
		for _, v := range cellValues(x, f, entityID, entryID) {
			if !isJSONNull(v.Value) {
				items = append(items, v2Data(x, f, v.Value, v.ID == rq.disagree))
			}
		}
		if f.AllowsMultiple {
			return multiValue(V2ValueType(f), items, false)
		}
		var data any
		if len(items) > 0 {
			data = items[0]
		}
		return obj{"type": V2ValueType(f), "data": data}
	}
	switch fd.builtin {
	case "persons":
		var ids []int64
		if entityType == loader.EntityOrganization {
			if o := x.orgs[entityID]; o != nil {
				ids = o.PersonIDs
			}
		} else if o := x.opps[entityID]; o != nil {
			ids = o.PersonIDs
		}
		return multiValue("person-multi", idItems(ids, func(id int64) obj { return personData(x, id) }), true)
	case "companies":
		var ids []int64
		if entityType == loader.EntityPerson {
			if p := x.persons[entityID]; p != nil {
				ids = p.OrganizationIDs
			}
		} else if o := x.opps[entityID]; o != nil {
			ids = o.OrganizationIDs
		}
		return multiValue("company-multi", idItems(ids, func(id int64) obj { return companyData(x, id) }), true)
	}
	return rq.interaction(fd.builtin, entityType, entityID)
}

// interaction is a relationship-intelligence value: the interaction behind one of the
// entity's interaction dates, with no participants, or null.
func (rq *v2Request) interaction(id string, entityType loader.EntityKind, entityID int64) obj {
	var d *InteractionDates
	switch entityType {
	case loader.EntityPerson:
		if p := rq.x.persons[entityID]; p != nil {
			d = p.Interactions
		}
	case loader.EntityOrganization:
		if o := rq.x.orgs[entityID]; o != nil {
			d = o.Interactions
		}
	}
	v := obj{"type": "interaction", "data": nil}
	i := slices.IndexFunc(riFields, func(f riField) bool { return f.id == id })
	if d == nil || i < 0 || riFields[i].date(d) == nil {
		return v
	}
	at := riFields[i].date(d).UTC().Format("2006-01-02T15:04:05.000Z")
	iid := entityID*10 + int64(i)
	switch riFields[i].kind {
	case "email":
		v["data"] = obj{"type": "email", "id": iid, "subject": nil, "sentAt": at, "from": nil, "to": []obj{}, "cc": []obj{}}
	case "meeting":
		v["data"] = obj{"type": "meeting", "id": iid, "title": nil, "allDay": false, "startTime": at, "endTime": nil, "attendees": []obj{}}
	default:
		v["data"] = obj{"type": "chat-message", "id": iid, "direction": "sent", "sentAt": at, "manualCreator": nil, "participants": []obj{}}
	}
	return v
}

func (rq *v2Request) fields(sel []v2Field, entityType loader.EntityKind, entityID int64, entry *ListEntry) []obj {
	out := make([]obj, 0, len(sel))
	for _, fd := range sel {
		out = append(out, obj{"id": fd.id, "name": fd.name, "type": fd.kind, "enrichmentSource": fd.source,
			"value": rq.fieldValue(fd, entityType, entityID, entry)})
	}
	return out
}
