package affinitytest

import (
	"net/http"
	"strconv"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v1 lists and list entries: GET /lists, /lists/{id}, /lists/{id}/list-entries and
// /lists/{id}/list-entries/{id}.

func entryRef(e *ListEntry) obj {
	return obj{"id": e.ID, "list_id": e.ListID, "creator_id": e.CreatorID, "entity_id": e.EntityID,
		"entity_type": e.EntityType, "created_at": formatTime(e.CreatedAt)}
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

func renderList(x *index, l *List) obj {
	return obj{"id": l.ID, "type": l.Type, "name": l.Name, "public": l.Public, "owner_id": l.OwnerID,
		"creator_id": l.CreatorID, "list_size": len(x.entriesByList[l.ID])}
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
