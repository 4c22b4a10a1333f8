package affinitytest

import (
	"net/http"
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v1 notes: GET /notes and /notes/{id}.

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
		{loader.EntityPerson.SelectorParam(), (*Note).PersonIDs},
		{loader.EntityOrganization.SelectorParam(), func(n *Note) []int64 { return n.OrganizationIDs }},
		{loader.EntityOpportunity.SelectorParam(), func(n *Note) []int64 { return n.OpportunityIDs }},
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
