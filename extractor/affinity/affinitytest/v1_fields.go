package affinitytest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v1 fields, field values and their history: GET /fields, /persons/fields,
// /organizations/fields, /field-values and /field-value-changes.

func renderField(x *index, f *Field, modifiedNames, excludeOptions bool) obj {
	name := f.Name
	if modifiedNames && f.ListID != nil {
		if l := x.lists[*f.ListID]; l != nil {
			name = "[" + l.Name + "] " + f.Name
		}
	}
	o := obj{"id": f.ID, "name": name, "list_id": f.ListID, "entity_type": f.EntityType,
		"enrichment_source": f.EnrichmentSource, "value_type": f.ValueType,
		"allows_multiple": f.AllowsMultiple, "track_changes": f.TrackChanges}
	if !excludeOptions {
		opts := make([]obj, 0, len(f.DropdownOptions))
		for _, d := range f.DropdownOptions {
			opts = append(opts, obj{"id": d.ID, "text": d.Text, "rank": d.Rank, "color": d.Color})
		}
		o["dropdown_options"] = opts
	}
	return o
}

func rawOrNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}

func renderValue(x *index, v *FieldValue) obj {
	o := obj{"id": v.ID, "field_id": v.FieldID, "entity_id": v.EntityID, "list_entry_id": v.ListEntryID,
		"value": rawOrNull(v.Value), "created_at": formatTime(v.CreatedAt), "updated_at": isoTime(v.UpdatedAt)}
	if !v.OmitTypes {
		o["entity_type"] = v.EntityType
		if f := x.fields[v.FieldID]; f != nil {
			o["value_type"] = f.ValueType
		}
	}
	return extra(o, v.ID, 7)
}

func renderChange(ws *Workspace, x *index, c *FieldValueChange) obj {
	var changer any
	if c.ChangerID != nil {
		if p := x.persons[*c.ChangerID]; p != nil {
			changer = personBase(p)
		} else if *c.ChangerID == ws.User.ID {
			changer = obj{"id": ws.User.ID, "type": 1, "first_name": ws.User.FirstName, "last_name": ws.User.LastName,
				"primary_email": ws.User.Email, "emails": []string{ws.User.Email}}
		} else {
			changer = obj{"id": *c.ChangerID, "type": 1, "first_name": nil, "last_name": nil,
				"primary_email": nil, "emails": []string{}}
		}
	}
	return extra(obj{"id": c.ID, "field_id": c.FieldID, "entity_id": c.EntityID, "list_entry_id": c.ListEntryID,
		"action_type": c.ActionType, "changer": changer, "changed_at": formatTime(c.ChangedAt),
		"value": rawOrNull(c.Value)}, c.ID, 5)
}

func globalFields(entityType loader.EntityKind) handlerFunc {
	return func(_ *Workspace, x *index, _ *http.Request, _ []int64) (any, *apiError) {
		out := []obj{}
		for _, f := range x.globalFields[entityType] {
			out = append(out, renderField(x, f, false, false))
		}
		return out, nil
	}
}

func listFields(ws *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	filters := map[string]int64{}
	for _, name := range []string{"list_id", "value_type", "entity_type"} {
		n, ok, err := intParam(r, name)
		if err != nil {
			return nil, err
		}
		if ok {
			filters[name] = n
		}
	}
	q := r.URL.Query()
	modified := q.Get("with_modified_names") == "true"
	exclude := q.Get("exclude_dropdown_options") == "true"
	out := []obj{}
	for _, f := range ws.Fields {
		if v, ok := filters["list_id"]; ok && (f.ListID == nil || *f.ListID != v) {
			continue
		}
		if v, ok := filters["value_type"]; ok && int64(f.ValueType) != v {
			continue
		}
		if v, ok := filters["entity_type"]; ok && int64(f.EntityType) != v {
			continue
		}
		out = append(out, renderField(x, f, modified, exclude))
	}
	return out, nil
}

// listEntryParam selects a list entry in /field-values and /field-value-changes.
const listEntryParam = "list_entry_id"

// selector is the one entity selector of /field-values and /field-value-changes: an entity of
// kind (name is kind.SelectorParam()) or a list entry (name is listEntryParam).
type selector struct {
	name string
	kind loader.EntityKind
	id   int64
}

// readSelector returns the entity selector; more than one is a 422, none gives name "".
func readSelector(r *http.Request) (selector, *apiError) {
	var params []selector
	for _, k := range loader.EntityKinds() {
		params = append(params, selector{name: k.SelectorParam(), kind: k})
	}
	params = append(params, selector{name: listEntryParam})
	var sel selector
	n := 0
	for _, p := range params {
		id, ok, err := intParam(r, p.name)
		if err != nil {
			return sel, err
		}
		if ok {
			n++
			sel, sel.id = p, id
		}
	}
	if n > 1 {
		return sel, errorf(http.StatusUnprocessableEntity, "only one of person_id, organization_id, opportunity_id, list_entry_id is allowed")
	}
	return sel, nil
}

func listFieldValues(_ *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	sel, err := readSelector(r)
	if err != nil {
		return nil, err
	}
	var vals []*FieldValue
	entityValues := func(typ loader.EntityKind) {
		vals = append(vals, x.globalValues[entityKey{typ, sel.id}]...)
		for _, e := range x.entriesByEntity[entityKey{typ, sel.id}] {
			vals = append(vals, x.entryValues[e.ID]...)
		}
	}
	switch {
	case sel.name == "":
		return nil, errorf(http.StatusUnprocessableEntity, "one of person_id, organization_id, opportunity_id, list_entry_id is required")
	case sel.name == listEntryParam:
		if x.entries[sel.id] == nil {
			return nil, errorf(http.StatusNotFound, "List entry not found")
		}
		vals = append(vals, x.entryValues[sel.id]...)
	case sel.kind == loader.EntityPerson && x.persons[sel.id] == nil:
		return nil, errorf(http.StatusNotFound, "Person not found")
	case sel.kind == loader.EntityOrganization && x.orgs[sel.id] == nil:
		return nil, errorf(http.StatusNotFound, "Organization not found")
	case sel.kind == loader.EntityOpportunity && x.opps[sel.id] == nil:
		return nil, errorf(http.StatusNotFound, "Opportunity not found")
	default:
		entityValues(sel.kind)
	}
	slices.SortFunc(vals, func(a, b *FieldValue) int { return cmp.Compare(a.ID, b.ID) })
	out := make([]obj, len(vals))
	for i, v := range vals {
		out[i] = renderValue(x, v)
	}
	return out, nil
}

func listFieldValueChanges(ws *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	fieldID, ok, err := intParam(r, "field_id")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf(http.StatusUnprocessableEntity, "field_id is required")
	}
	f := x.fields[fieldID]
	if f == nil {
		return nil, errorf(http.StatusNotFound, "Field not found")
	}
	if !f.TrackChanges {
		return nil, errorf(http.StatusUnprocessableEntity, "Tracking changes for this entity attribute is not yet supported")
	}
	action, hasAction, err := intParam(r, "action_type")
	if err != nil {
		return nil, err
	}
	if hasAction && action != ActionCreate && action != ActionDelete && action != ActionUpdate {
		return nil, errorf(http.StatusUnprocessableEntity, "action_type must be 0, 1 or 2")
	}
	sel, err := readSelector(r)
	if err != nil {
		return nil, err
	}
	keepEntity := func(int64) bool { return true }
	switch sel.name {
	case "":
	case listEntryParam:
		e := x.entries[sel.id]
		if e == nil {
			return nil, errorf(http.StatusNotFound, "List entry not found")
		}
		keepEntity = func(id int64) bool { return f.EntityType == e.EntityType && id == e.EntityID }
	default:
		keepEntity = func(id int64) bool { return f.EntityType == sel.kind && id == sel.id }
	}
	out := []obj{}
	for _, c := range x.changesByField[f.ID] {
		if hasAction && int64(c.ActionType) != action {
			continue
		}
		if !keepEntity(c.EntityID) {
			continue
		}
		out = append(out, renderChange(ws, x, c))
	}
	return out, nil
}
