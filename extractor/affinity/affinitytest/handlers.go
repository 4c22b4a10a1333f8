package affinitytest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

type handlerFunc func(ws *Workspace, x *index, r *http.Request, ids []int64) (any, *apiError)

type route struct {
	template string
	found    bool
	ids      []int64
	handle   handlerFunc
}

// routes maps endpoint templates to handlers.
func routes() map[string]handlerFunc {
	return map[string]handlerFunc{
		"/auth/whoami":                  whoami,
		"/rate-limit":                   nil, // answered by the server from its counters
		"/persons":                      listPersons,
		"/persons/fields":               globalFields(loader.EntityPerson),
		"/persons/{id}":                 getPerson,
		"/organizations":                listOrganizations,
		"/organizations/fields":         globalFields(loader.EntityOrganization),
		"/organizations/{id}":           getOrganization,
		"/opportunities":                listOpportunities,
		"/opportunities/{id}":           getOpportunity,
		"/lists":                        listLists,
		"/lists/{id}":                   getList,
		"/lists/{id}/list-entries":      listEntries,
		"/lists/{id}/list-entries/{id}": getListEntry,
		"/fields":                       listFields,
		"/field-values":                 listFieldValues,
		"/field-value-changes":          listFieldValueChanges,
		"/notes":                        listNotes,
		"/notes/{id}":                   getNote,
	}
}

// matchRoute maps a path to its endpoint template; numeric segments become ids.
func matchRoute(table map[string]handlerFunc, path string) route {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var ids []int64
	tmpl := make([]string, len(segs))
	for i, s := range segs {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			ids = append(ids, id)
			tmpl[i] = "{id}"
		} else {
			tmpl[i] = s
		}
	}
	t := "/" + strings.Join(tmpl, "/")
	h, ok := table[t]
	return route{template: t, found: ok, ids: ids, handle: h}
}

// ---- rendering ----

type obj = map[string]any

func isoTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// extra adds an undocumented key to some objects, as live responses do.
func extra(o obj, id int64, mod int64) obj {
	if id%mod == 0 {
		o["x_extra"] = "undocumented attribute"
	}
	return o
}

func personBase(p *Person) obj {
	return obj{"id": p.ID, "type": p.Type, "first_name": p.FirstName, "last_name": p.LastName,
		"primary_email": p.PrimaryEmail, "emails": strs(p.Emails)}
}

func orgBase(o *Organization) obj {
	return obj{"id": o.ID, "name": o.Name, "domain": o.Domain, "domains": strs(o.Domains),
		"crunchbase_uuid": o.CrunchbaseUUID, "global": o.Global}
}

func entryRef(e *ListEntry) obj {
	return obj{"id": e.ID, "list_id": e.ListID, "creator_id": e.CreatorID, "entity_id": e.EntityID,
		"entity_type": e.EntityType, "created_at": formatTime(e.CreatedAt)}
}

func entryRefs(x *index, typ loader.EntityKind, id int64) []obj {
	out := []obj{}
	for _, e := range x.entriesByEntity[entityKey{typ, id}] {
		out = append(out, entryRef(e))
	}
	return out
}

func entryFull(x *index, e *ListEntry) obj {
	o := extra(entryRef(e), e.ID, 17)
	var ent any
	switch e.EntityType {
	case loader.EntityPerson:
		if p := x.persons[e.EntityID]; p != nil {
			ent = personBase(p)
		}
	case loader.EntityOrganization:
		if org := x.orgs[e.EntityID]; org != nil {
			ent = orgBase(org)
		}
	case loader.EntityOpportunity:
		if op := x.opps[e.EntityID]; op != nil {
			ent = obj{"id": op.ID, "name": op.Name}
		}
	}
	o["entity"] = ent
	return o
}

// entityFlags are the with_* query flags of persons and organizations.
type entityFlags struct {
	dates, datePersons, opportunities, currentOrgs bool
}

func flagsOf(r *http.Request) entityFlags {
	q := r.URL.Query()
	return entityFlags{
		dates:         q.Get("with_interaction_dates") == "true",
		datePersons:   q.Get("with_interaction_persons") == "true",
		opportunities: q.Get("with_opportunities") == "true",
		currentOrgs:   q.Get("with_current_organizations") == "true",
	}
}

func addInteractions(o obj, d *InteractionDates, f entityFlags, userID int64) {
	if d == nil {
		d = &InteractionDates{}
	}
	pairs := []struct {
		key string
		t   *time.Time
	}{
		{"first_email", d.FirstEmail}, {"last_email", d.LastEmail}, {"first_event", d.FirstEvent},
		{"last_event", d.LastEvent}, {"next_event", d.NextEvent}, {"last_chat_message", d.LastChatMessage},
		{"last_interaction", d.LastInteraction},
	}
	dates, inter := obj{}, obj{}
	for _, p := range pairs {
		dates[p.key+"_date"] = isoTime(p.t)
		if p.t == nil {
			inter[p.key] = nil
			continue
		}
		io := obj{"date": formatTime(*p.t)}
		if f.datePersons {
			io["person_ids"] = []int64{userID}
		}
		inter[p.key] = io
	}
	o["interaction_dates"] = dates
	o["interactions"] = inter
}

func renderPerson(ws *Workspace, x *index, p *Person, f entityFlags, single bool) obj {
	o := extra(personBase(p), p.ID, 11)
	if single {
		o["organization_ids"] = nonNil(p.OrganizationIDs)
		o["list_entries"] = entryRefs(x, loader.EntityPerson, p.ID)
	}
	if f.opportunities {
		o["opportunity_ids"] = nonNil(x.oppsByPerson[p.ID])
	}
	if f.currentOrgs {
		cur := []int64{}
		if len(p.OrganizationIDs) > 0 {
			cur = append(cur, p.OrganizationIDs[0])
		}
		o["current_organization_ids"] = cur
	}
	if f.dates {
		addInteractions(o, p.Interactions, f, ws.User.ID)
	}
	return o
}

func renderOrg(ws *Workspace, x *index, org *Organization, f entityFlags, single bool) obj {
	o := extra(orgBase(org), org.ID, 13)
	if single {
		o["person_ids"] = nonNil(org.PersonIDs)
		o["list_entries"] = entryRefs(x, loader.EntityOrganization, org.ID)
	}
	if f.opportunities {
		o["opportunity_ids"] = nonNil(x.oppsByOrg[org.ID])
	}
	if f.dates {
		addInteractions(o, org.Interactions, f, ws.User.ID)
	}
	return o
}

func renderOpp(x *index, op *Opportunity) obj {
	return obj{"id": op.ID, "name": op.Name, "person_ids": nonNil(op.PersonIDs),
		"organization_ids": nonNil(op.OrganizationIDs), "list_entries": entryRefs(x, loader.EntityOpportunity, op.ID)}
}

func renderList(x *index, l *List) obj {
	return obj{"id": l.ID, "type": l.Type, "name": l.Name, "public": l.Public, "owner_id": l.OwnerID,
		"creator_id": l.CreatorID, "list_size": len(x.entriesByList[l.ID])}
}

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

// ---- handlers ----

func whoami(ws *Workspace, _ *index, _ *http.Request, _ []int64) (any, *apiError) {
	return obj{
		"tenant": obj{"id": ws.Tenant.ID, "name": ws.Tenant.Name, "subdomain": ws.Tenant.Subdomain},
		"user": obj{"id": ws.User.ID, "firstName": ws.User.FirstName, "lastName": ws.User.LastName,
			"email": ws.User.Email},
		"grant": obj{"type": "api_key", "scope": "external_api", "createdAt": "2023-01-09T10:00:00.000-05:00"},
	}, nil
}

func containsFold(s *string, term string) bool {
	return s != nil && strings.Contains(strings.ToLower(*s), term)
}

// scan pages through all items that match keep, in order; O(offset+page) for a match-all.
func scan[T any](all []T, pg page, keep func(T) bool) []T {
	if keep == nil {
		return window(all, pg)
	}
	var out []T
	skipped := 0
	for _, v := range all {
		if !keep(v) {
			continue
		}
		if skipped < pg.offset {
			skipped++
			continue
		}
		out = append(out, v)
		if len(out) == pg.size {
			break
		}
	}
	return out
}

// dateRange is one min_{t}_date / max_{t}_date filter.
type dateRange struct {
	pick     func(*InteractionDates) *time.Time
	min, max *time.Time
}

// readDateRanges parses the interaction date filters of persons and organizations.
func readDateRanges(q url.Values) ([]dateRange, *apiError) {
	kinds := []struct {
		name string
		pick func(*InteractionDates) *time.Time
	}{
		{"first_email", func(d *InteractionDates) *time.Time { return d.FirstEmail }},
		{"last_email", func(d *InteractionDates) *time.Time { return d.LastEmail }},
		{"first_event", func(d *InteractionDates) *time.Time { return d.FirstEvent }},
		{"last_event", func(d *InteractionDates) *time.Time { return d.LastEvent }},
		{"next_event", func(d *InteractionDates) *time.Time { return d.NextEvent }},
		{"last_interaction", func(d *InteractionDates) *time.Time { return d.LastInteraction }},
	}
	var out []dateRange
	for _, k := range kinds {
		dr := dateRange{pick: k.pick}
		for _, bound := range []struct {
			prefix string
			into   **time.Time
		}{{"min_", &dr.min}, {"max_", &dr.max}} {
			name := bound.prefix + k.name + "_date"
			if !q.Has(name) {
				continue
			}
			t, err := parseQueryTime(q.Get(name))
			if err != nil {
				return nil, errorf(http.StatusUnprocessableEntity, name+" must be an ISO-8601 date or datetime")
			}
			*bound.into = &t
		}
		if dr.min != nil || dr.max != nil {
			out = append(out, dr)
		}
	}
	return out, nil
}

func parseQueryTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s) // no time part: 00:00:00 is assumed
}

// keepDates reports whether interaction dates pass every range; an entity without the date
// (or without interactions) does not.
func keepDates(d *InteractionDates, ranges []dateRange) bool {
	for _, r := range ranges {
		if d == nil {
			return false
		}
		t := r.pick(d)
		if t == nil || (r.min != nil && t.Before(*r.min)) || (r.max != nil && t.After(*r.max)) {
			return false
		}
	}
	return true
}

// both combines two optional filters.
func both[T any](a, b func(T) bool) func(T) bool {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(v T) bool { return a(v) && b(v) }
}

func listPersons(ws *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	q := r.URL.Query()
	pg, err := readPage(q, nil)
	if err != nil {
		return nil, err
	}
	ranges, err := readDateRanges(q)
	if err != nil {
		return nil, err
	}
	f := flagsOf(r)
	all := ws.Persons
	if f.dates {
		all = x.personsWithDates
	}
	var keep func(*Person) bool
	if term := strings.ToLower(q.Get("term")); term != "" {
		keep = func(p *Person) bool {
			if containsFold(p.FirstName, term) || containsFold(p.LastName, term) {
				return true
			}
			for _, e := range p.Emails {
				if strings.Contains(strings.ToLower(e), term) {
					return true
				}
			}
			return false
		}
	}
	if len(ranges) > 0 {
		keep = both(keep, func(p *Person) bool { return keepDates(p.Interactions, ranges) })
	}
	items := scan(all, pg, keep)
	out := make([]obj, len(items))
	for i, p := range items {
		out[i] = renderPerson(ws, x, p, f, false)
	}
	return obj{"persons": out, "next_page_token": pg.next(len(items))}, nil
}

func getPerson(ws *Workspace, x *index, r *http.Request, ids []int64) (any, *apiError) {
	p := x.persons[ids[0]]
	if p == nil {
		return nil, errorf(http.StatusNotFound, "Person not found")
	}
	return renderPerson(ws, x, p, flagsOf(r), true), nil
}

func listOrganizations(ws *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	q := r.URL.Query()
	pg, err := readPage(q, nil)
	if err != nil {
		return nil, err
	}
	ranges, err := readDateRanges(q)
	if err != nil {
		return nil, err
	}
	f := flagsOf(r)
	all := ws.Organizations
	if f.dates {
		all = x.orgsWithDates
	}
	var keep func(*Organization) bool
	if term := strings.ToLower(q.Get("term")); term != "" {
		keep = func(o *Organization) bool {
			return strings.Contains(strings.ToLower(o.Name), term) || containsFold(o.Domain, term)
		}
	}
	if len(ranges) > 0 {
		keep = both(keep, func(o *Organization) bool { return keepDates(o.Interactions, ranges) })
	}
	items := scan(all, pg, keep)
	out := make([]obj, len(items))
	for i, o := range items {
		out[i] = renderOrg(ws, x, o, f, false)
	}
	return obj{"organizations": out, "next_page_token": pg.next(len(items))}, nil
}

func getOrganization(ws *Workspace, x *index, r *http.Request, ids []int64) (any, *apiError) {
	o := x.orgs[ids[0]]
	if o == nil {
		return nil, errorf(http.StatusNotFound, "Organization not found")
	}
	return renderOrg(ws, x, o, flagsOf(r), true), nil
}

func listOpportunities(ws *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	q := r.URL.Query()
	pg, err := readPage(q, nil)
	if err != nil {
		return nil, err
	}
	var keep func(*Opportunity) bool
	if term := strings.ToLower(q.Get("term")); term != "" {
		keep = func(o *Opportunity) bool { return strings.Contains(strings.ToLower(o.Name), term) }
	}
	items := scan(ws.Opportunities, pg, keep)
	out := make([]obj, len(items))
	for i, o := range items {
		out[i] = renderOpp(x, o)
	}
	return obj{"opportunities": out, "next_page_token": pg.next(len(items))}, nil
}

func getOpportunity(_ *Workspace, x *index, _ *http.Request, ids []int64) (any, *apiError) {
	o := x.opps[ids[0]]
	if o == nil {
		return nil, errorf(http.StatusNotFound, "Opportunity not found")
	}
	return renderOpp(x, o), nil
}

func listLists(ws *Workspace, x *index, _ *http.Request, _ []int64) (any, *apiError) {
	out := make([]obj, len(ws.Lists))
	for i, l := range ws.Lists {
		out[i] = renderList(x, l)
	}
	return out, nil
}

func getList(_ *Workspace, x *index, _ *http.Request, ids []int64) (any, *apiError) {
	l := x.lists[ids[0]]
	if l == nil {
		return nil, errorf(http.StatusNotFound, "List not found")
	}
	o := renderList(x, l)
	fields := []obj{}
	for _, f := range x.fieldsByList[l.ID] {
		fields = append(fields, renderField(x, f, false, false))
	}
	o["fields"] = fields
	return o, nil
}

func listEntries(_ *Workspace, x *index, r *http.Request, ids []int64) (any, *apiError) {
	l := x.lists[ids[0]]
	if l == nil {
		return nil, errorf(http.StatusNotFound, "List not found")
	}
	all := x.entriesByList[l.ID]
	q := r.URL.Query()
	if !q.Has("page_size") {
		out := make([]obj, len(all))
		for i, e := range all {
			out[i] = entryFull(x, e)
		}
		return out, nil
	}
	pg, err := readPage(q, map[string]string{"list_id": strconv.FormatInt(l.ID, 10)})
	if err != nil {
		return nil, err
	}
	items := window(all, pg)
	out := make([]obj, len(items))
	for i, e := range items {
		out[i] = entryFull(x, e)
	}
	return obj{"list_entries": out, "next_page_token": pg.next(len(items))}, nil
}

func getListEntry(_ *Workspace, x *index, _ *http.Request, ids []int64) (any, *apiError) {
	e := x.entries[ids[1]]
	if e == nil || e.ListID != ids[0] {
		return nil, errorf(http.StatusNotFound, "List entry not found")
	}
	return entryFull(x, e), nil
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

// intParam reads an optional integer query parameter.
func intParam(r *http.Request, name string) (int64, bool, *apiError) {
	q := r.URL.Query()
	if !q.Has(name) {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil {
		return 0, false, errorf(http.StatusUnprocessableEntity, name+" must be an integer")
	}
	return n, true, nil
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

func renderNote(n *Note) obj {
	return extra(obj{"id": n.ID, "creator_id": n.CreatorID, "person_ids": nonNil(n.PersonIDs()),
		"associated_person_ids": nonNil(n.AssociatedPersonIDs), "interaction_person_ids": nonNil(n.InteractionPersonIDs),
		"interaction_id": n.InteractionID, "interaction_type": n.InteractionType, "is_meeting": n.IsMeeting,
		"mentioned_person_ids": nonNil(n.MentionedPersonIDs), "organization_ids": nonNil(n.OrganizationIDs),
		"opportunity_ids": nonNil(n.OpportunityIDs), "parent_id": n.ParentID, "content": n.Content, "type": n.Type,
		"created_at": formatTime(n.CreatedAt), "updated_at": isoTime(n.UpdatedAt)}, n.ID, 19)
}

// listNotes pages through the notes in id order, 500 a page at most, optionally filtered by
// one entity (person_id: associated or interaction persons) and by creator_id.
func listNotes(ws *Workspace, _ *index, r *http.Request, _ []int64) (any, *apiError) {
	q := r.URL.Query()
	pg, err := readPage(q, nil)
	if err != nil {
		return nil, err
	}
	var keep func(*Note) bool
	entities := 0
	for _, f := range []struct {
		name string
		ids  func(*Note) []int64
	}{
		{"person_id", (*Note).PersonIDs},
		{"organization_id", func(n *Note) []int64 { return n.OrganizationIDs }},
		{"opportunity_id", func(n *Note) []int64 { return n.OpportunityIDs }},
	} {
		id, ok, err := intParam(r, f.name)
		if err != nil {
			return nil, err
		}
		if ok {
			entities++
			keep = both(keep, func(n *Note) bool { return slices.Contains(f.ids(n), id) })
		}
	}
	if entities > 1 {
		return nil, errorf(http.StatusUnprocessableEntity, "only one of person_id, organization_id, opportunity_id is allowed")
	}
	creator, ok, err := intParam(r, "creator_id")
	if err != nil {
		return nil, err
	}
	if ok {
		keep = both(keep, func(n *Note) bool { return n.CreatorID == creator })
	}
	items := scan(ws.Notes, pg, keep)
	out := make([]obj, len(items))
	for i, n := range items {
		out[i] = renderNote(n)
	}
	return obj{"notes": out, "next_page_token": pg.next(len(items))}, nil
}

func getNote(_ *Workspace, x *index, _ *http.Request, ids []int64) (any, *apiError) {
	n := x.notes[ids[0]]
	if n == nil {
		return nil, errorf(http.StatusNotFound, "Note not found")
	}
	return renderNote(n), nil
}
