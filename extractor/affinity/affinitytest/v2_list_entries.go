package affinitytest

import (
	"net/http"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v2 list entries: GET /v2/lists/{id}/list-entries.

// v2ListEntries answers GET /v2/lists/{id}/list-entries: the list's entries by id, each with
// its entity and, in entity.fields, the selected global, enriched and relationship-intelligence
// fields of the entity and list fields of that entry.
func v2ListEntries(rq *v2Request) (any, *apiError) {
	l := rq.x.lists[rq.ids[0]]
	if l == nil {
		return nil, v2Error(http.StatusNotFound, "not-found", "", "List not found")
	}
	q := rq.r.URL.Query()
	pg, err := readV2Page(q)
	if err != nil {
		return nil, err
	}
	sel, err := selectFields(q, v2Catalogue(rq.x, l.Type, &l.ID), []string{"enriched", "global", "list", "relationship-intelligence"})
	if err != nil {
		return nil, err
	}
	items, hasPrev, hasNext := pageByID(rq.x.entriesByList[l.ID], entryID, pg)
	data := make([]obj, 0, len(items))
	for _, e := range items {
		var ent obj
		switch e.EntityType {
		case loader.EntityPerson:
			if p := rq.x.persons[e.EntityID]; p != nil {
				ent = v2Person(p)
			}
		case loader.EntityOrganization:
			if o := rq.x.orgs[e.EntityID]; o != nil {
				ent = v2Company(o)
			}
		case loader.EntityOpportunity:
			if o := rq.x.opps[e.EntityID]; o != nil {
				ent = obj{"id": o.ID, "name": o.Name, "listId": e.ListID, "isRestricted": false, "isRedacted": false}
			}
		}
		if ent == nil {
			ent = obj{"id": e.EntityID}
		}
		ent["fields"] = rq.fields(sel, e.EntityType, e.EntityID, e)
		data = append(data, obj{"id": e.ID, "type": e.EntityType.V2EntryType(), "listId": e.ListID,
			"createdAt": e.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), "creatorId": e.CreatorID, "entity": ent})
	}
	return envelope(rq, data, items, entryID, hasPrev, hasNext), nil
}
