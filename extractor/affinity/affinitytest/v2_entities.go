package affinitytest

import (
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v2 persons and companies: GET /v2/persons and GET /v2/companies.

func personType(p *Person) string {
	if p.Type == 1 {
		return "internal"
	}
	return "external"
}

func v2Person(p *Person) obj {
	return obj{"id": p.ID, "firstName": p.FirstName, "lastName": p.LastName, "primaryEmailAddress": p.PrimaryEmail,
		"emailAddresses": strs(p.Emails), "type": personType(p)}
}

func v2Company(o *Organization) obj {
	return obj{"id": o.ID, "name": o.Name, "domain": o.Domain, "domains": strs(o.Domains), "isGlobal": o.Global}
}

// entityPage answers GET /v2/persons and GET /v2/companies.
func entityPage[T any](rq *v2Request, all []T, id func(T) int64, entityType loader.EntityKind, render func(T) obj) (any, *apiError) {
	q := rq.r.URL.Query()
	pg, err := readV2Page(q)
	if err != nil {
		return nil, err
	}
	sel, err := selectFields(q, v2Catalogue(rq.x, entityType, nil), []string{"enriched", "global", "relationship-intelligence"})
	if err != nil {
		return nil, err
	}
	ids, err := readIDs(q)
	if err != nil {
		return nil, err
	}
	if ids != nil {
		all = slices.DeleteFunc(slices.Clone(all), func(v T) bool { return !ids[id(v)] })
	}
	items, hasPrev, hasNext := pageByID(all, id, pg)
	data := make([]obj, 0, len(items))
	for _, v := range items {
		o := render(v)
		o["fields"] = rq.fields(sel, entityType, id(v), nil)
		data = append(data, o)
	}
	return envelope(rq, data, items, id, hasPrev, hasNext), nil
}

func v2Persons(rq *v2Request) (any, *apiError) {
	return entityPage(rq, rq.ws.Persons, personID, loader.EntityPerson, v2Person)
}

func v2Companies(rq *v2Request) (any, *apiError) {
	return entityPage(rq, rq.ws.Organizations, orgID, loader.EntityOrganization, v2Company)
}
