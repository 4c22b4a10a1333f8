package affinitytest

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v1 interactions: GET /interactions (one type, one entity, a window of at most a year)
// and GET /interactions/{id}?type=T.

// InteractionsPageSize is the default and largest page size of GET /interactions.
const InteractionsPageSize = 100

// InteractionsEnvelope is the key of GET /interactions' items for an interaction type:
// "events" for meetings and calls, "chat_messages" for chat, "emails" for e-mail.
func InteractionsEnvelope(typ int) string {
	switch typ {
	case InteractionChat:
		return "chat_messages"
	case InteractionEmail:
		return "emails"
	}
	return "events"
}

// personRef is a person object as interactions and reminders embed it; a person no longer in
// the workspace keeps its id.
func personRef(x *index, id int64) obj {
	if p := x.persons[id]; p != nil {
		return personBase(p)
	}
	return obj{"id": id, "type": 0, "first_name": nil, "last_name": nil, "primary_email": nil, "emails": []string{}}
}

func personRefs(x *index, ids []int64) []obj {
	out := make([]obj, 0, len(ids))
	for _, id := range ids {
		out = append(out, personRef(x, id))
	}
	return out
}

func renderInteraction(x *index, in *Interaction) obj {
	o := obj{"id": in.ID, "type": in.Type, "date": formatTime(in.Date)}
	if in.Type == InteractionEmail {
		o["subject"], o["direction"] = in.Subject, in.Direction
		o["from"], o["to"], o["cc"] = personRef(x, in.From), personRefs(x, in.To), personRefs(x, in.CC)
		return extra(o, in.ID, 23)
	}
	o["persons"], o["manual_creator_id"], o["notes"] = personRefs(x, in.PersonIDs), in.ManualCreatorID, nonNil(in.NoteIDs)
	if in.Type == InteractionChat {
		o["direction"] = in.Direction
		return extra(o, in.ID, 23)
	}
	attendees := []string{}
	for _, id := range in.PersonIDs {
		if p := x.persons[id]; p != nil && p.PrimaryEmail != nil {
			attendees = append(attendees, *p.PrimaryEmail)
		}
	}
	o["attendees"], o["start_time"], o["end_time"] = attendees, isoTime(in.StartTime), isoTime(in.EndTime)
	o["title"], o["updated_at"] = in.Title, isoTime(in.UpdatedAt)
	return extra(o, in.ID, 23)
}

// interactionType reads the required type parameter.
func interactionType(q url.Values) (int, *apiError) {
	if !q.Has("type") {
		return 0, errorf(http.StatusUnprocessableEntity, "type is required")
	}
	t, err := strconv.Atoi(q.Get("type"))
	if err != nil || t < InteractionMeeting || t > InteractionEmail {
		return 0, errorf(http.StatusUnprocessableEntity, "type must be one of 0, 1, 2, 3")
	}
	return t, nil
}

// interactionWindow reads the required start_time and end_time: start before end, at most a
// year apart.
func interactionWindow(q url.Values) (start, end time.Time, _ *apiError) {
	for _, b := range []struct {
		name string
		into *time.Time
	}{{"start_time", &start}, {"end_time", &end}} {
		if !q.Has(b.name) {
			return start, end, errorf(http.StatusUnprocessableEntity, b.name+" is required")
		}
		t, err := parseQueryTime(q.Get(b.name))
		if err != nil {
			return start, end, errorf(http.StatusUnprocessableEntity, b.name+" must be an ISO-8601 datetime")
		}
		*b.into = t
	}
	if !start.Before(end) {
		return start, end, errorf(http.StatusUnprocessableEntity, "start_time must be before end_time")
	}
	if end.After(start.AddDate(1, 0, 0)) {
		return start, end, errorf(http.StatusUnprocessableEntity, "the window between start_time and end_time must not exceed one year")
	}
	return start, end, nil
}

// interactionEntity reads the one entity selector: 422 unless exactly one, or for an internal
// person; 404 for an unknown entity.
func interactionEntity(x *index, r *http.Request) (loader.EntityKind, int64, *apiError) {
	var kind loader.EntityKind
	var id int64
	n := 0
	for _, k := range []loader.EntityKind{loader.EntityPerson, loader.EntityOrganization, loader.EntityOpportunity} {
		v, ok, err := intParam(r, k.SelectorParam())
		if err != nil {
			return kind, 0, err
		}
		if ok {
			n++
			kind, id = k, v
		}
	}
	if n != 1 {
		return kind, 0, errorf(http.StatusUnprocessableEntity, "exactly one of person_id, organization_id, opportunity_id is required")
	}
	switch kind {
	case loader.EntityPerson:
		p := x.persons[id]
		if p == nil {
			return kind, 0, errorf(http.StatusNotFound, "Person not found")
		}
		if p.Type != 0 {
			return kind, 0, errorf(http.StatusUnprocessableEntity, "person_id must be an external person")
		}
	case loader.EntityOrganization:
		if x.orgs[id] == nil {
			return kind, 0, errorf(http.StatusNotFound, "Organization not found")
		}
	case loader.EntityOpportunity:
		if x.opps[id] == nil {
			return kind, 0, errorf(http.StatusNotFound, "Opportunity not found")
		}
	}
	return kind, id, nil
}

// listInteractions serves one type's interactions of one entity whose date lies in
// [start_time, end_time), in id order, 100 a page at most; internal_person_id, logging_type
// (1 = manual only) and direction narrow them further.
func listInteractions(_ *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	q := r.URL.Query()
	typ, err := interactionType(q)
	if err != nil {
		return nil, err
	}
	start, end, err := interactionWindow(q)
	if err != nil {
		return nil, err
	}
	kind, id, err := interactionEntity(x, r)
	if err != nil {
		return nil, err
	}
	pg, err := readPageMax(q, nil, InteractionsPageSize)
	if err != nil {
		return nil, err
	}
	keep := func(in *Interaction) bool {
		return in.Type == typ && !in.Date.Before(start) && in.Date.Before(end)
	}
	internal, ok, err := intParam(r, "internal_person_id")
	if err != nil {
		return nil, err
	}
	if ok {
		keep = both(keep, func(in *Interaction) bool {
			for _, p := range in.Participants() {
				if p == internal {
					return true
				}
			}
			return false
		})
	}
	if logging, ok, err := intParam(r, "logging_type"); err != nil {
		return nil, err
	} else if ok && logging == 1 {
		keep = both(keep, func(in *Interaction) bool { return in.ManualCreatorID != nil })
	}
	if dir, ok, err := intParam(r, "direction"); err != nil {
		return nil, err
	} else if ok {
		keep = both(keep, func(in *Interaction) bool { return in.Direction != nil && int64(*in.Direction) == dir })
	}
	items := scan(entityInteractions(x, kind, id), pg, keep)
	out := make([]obj, len(items))
	for i, in := range items {
		out[i] = renderInteraction(x, in)
	}
	return obj{InteractionsEnvelope(typ): out, "next_page_token": pg.next(len(items))}, nil
}

func getInteraction(ws *Workspace, x *index, r *http.Request, ids []int64) (any, *apiError) {
	typ, err := interactionType(r.URL.Query())
	if err != nil {
		return nil, err
	}
	in := ws.Interaction(typ, ids[0])
	if in == nil {
		return nil, errorf(http.StatusNotFound, "Interaction not found")
	}
	return renderInteraction(x, in), nil
}
