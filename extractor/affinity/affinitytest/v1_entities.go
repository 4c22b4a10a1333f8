package affinitytest

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v1 persons, organizations and opportunities: GET /persons, /organizations,
// /opportunities (term, interaction-date filters) and their single GETs.

func personBase(p *Person) obj {
	return obj{"id": p.ID, "type": p.Type, "first_name": p.FirstName, "last_name": p.LastName,
		"primary_email": p.PrimaryEmail, "emails": strs(p.Emails)}
}

func orgBase(o *Organization) obj {
	return obj{"id": o.ID, "name": o.Name, "domain": o.Domain, "domains": strs(o.Domains),
		"crunchbase_uuid": o.CrunchbaseUUID, "global": o.Global}
}

func entryRefs(x *index, typ loader.EntityKind, id int64) []obj {
	out := []obj{}
	for _, e := range x.entriesByEntity[entityKey{typ, id}] {
		out = append(out, entryRef(e))
	}
	return out
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

func containsFold(s *string, term string) bool {
	return s != nil && strings.Contains(strings.ToLower(*s), term)
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
	return listDated(r, loader.EntityPerson, ws.Persons, x.personsWithDates,
		func(p *Person, term string) bool {
			if containsFold(p.FirstName, term) || containsFold(p.LastName, term) {
				return true
			}
			for _, e := range p.Emails {
				if strings.Contains(strings.ToLower(e), term) {
					return true
				}
			}
			return false
		},
		func(p *Person) *InteractionDates { return p.Interactions },
		func(p *Person, f entityFlags) obj { return renderPerson(ws, x, p, f, false) })
}

func getPerson(ws *Workspace, x *index, r *http.Request, ids []int64) (any, *apiError) {
	p := x.persons[ids[0]]
	if p == nil {
		return nil, errorf(http.StatusNotFound, "Person not found")
	}
	return renderPerson(ws, x, p, flagsOf(r), true), nil
}

func listOrganizations(ws *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	return listDated(r, loader.EntityOrganization, ws.Organizations, x.orgsWithDates,
		func(o *Organization, term string) bool {
			return strings.Contains(strings.ToLower(o.Name), term) || containsFold(o.Domain, term)
		},
		func(o *Organization) *InteractionDates { return o.Interactions },
		func(o *Organization, f entityFlags) obj { return renderOrg(ws, x, o, f, false) })
}

// listDated serves a v1 listing of persons or organizations (kind k): a page of all, or of
// withDates when with_interaction_dates is set, kept by the term (matches, given it in lower
// case) and by the interaction date ranges, each rendered as render says.
func listDated[T any](r *http.Request, k loader.EntityKind, all, withDates []*T, matches func(*T, string) bool,
	dates func(*T) *InteractionDates, render func(*T, entityFlags) obj) (any, *apiError) {
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
	if f.dates {
		all = withDates
	}
	var keep func(*T) bool
	if term := strings.ToLower(q.Get("term")); term != "" {
		keep = func(v *T) bool { return matches(v, term) }
	}
	if len(ranges) > 0 {
		keep = both(keep, func(v *T) bool { return keepDates(dates(v), ranges) })
	}
	items := scan(all, pg, keep)
	out := make([]obj, len(items))
	for i, v := range items {
		out[i] = render(v, f)
	}
	return obj{k.V1Noun(): out, "next_page_token": pg.next(len(items))}, nil
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
	return obj{loader.EntityOpportunity.V1Noun(): out, "next_page_token": pg.next(len(items))}, nil
}

func getOpportunity(_ *Workspace, x *index, _ *http.Request, ids []int64) (any, *apiError) {
	o := x.opps[ids[0]]
	if o == nil {
		return nil, errorf(http.StatusNotFound, "Opportunity not found")
	}
	return renderOpp(x, o), nil
}
