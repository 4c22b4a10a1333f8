package affinitytest

import (
	"net/http"
	"time"
)

// API v1 reminders: GET /reminders (every status unless status is given; the 13 filters of the
// reference) and GET /reminders/{id}. A reminder's status is derived at request time from its
// due date, its completion and the workspace's clock.

func renderReminder(x *index, r *Reminder, now time.Time) obj {
	ref := func(id *int64) any {
		if id == nil {
			return nil
		}
		return personRef(x, *id)
	}
	var org, opp any
	if r.OrganizationID != nil {
		if o := x.orgs[*r.OrganizationID]; o != nil {
			org = orgBase(o)
		} else {
			org = obj{"id": *r.OrganizationID}
		}
	}
	if r.OpportunityID != nil {
		if o := x.opps[*r.OpportunityID]; o != nil {
			opp = obj{"id": o.ID, "name": o.Name}
		} else {
			opp = obj{"id": *r.OpportunityID}
		}
	}
	return obj{"id": r.ID, "type": r.Type, "created_at": formatTime(r.CreatedAt), "completed_at": isoTime(r.CompletedAt),
		"content": r.Content, "due_date": formatTime(r.DueDate), "reset_type": r.ResetType,
		"reminder_days": r.ReminderDays, "status": r.Status(now), "creator": personRef(x, r.CreatorID),
		"owner": personRef(x, r.OwnerID), "completer": ref(r.CompleterID), "person": ref(r.PersonID),
		"organization": org, "opportunity": opp}
}

func equalID(p *int64, id int64) bool { return p != nil && *p == id }

// listReminders pages through the reminders in id order, 500 a page at most, narrowed by any
// of person_id, organization_id, opportunity_id, creator_id, owner_id, completer_id, type,
// reset_type, status, due_before and due_after (both strict).
func listReminders(ws *Workspace, x *index, r *http.Request, _ []int64) (any, *apiError) {
	q := r.URL.Query()
	pg, err := readPage(q, nil)
	if err != nil {
		return nil, err
	}
	now := ws.Now()
	var keep func(*Reminder) bool
	for _, f := range []struct {
		name string
		keep func(*Reminder, int64) bool
	}{
		{"person_id", func(m *Reminder, id int64) bool { return equalID(m.PersonID, id) }},
		{"organization_id", func(m *Reminder, id int64) bool { return equalID(m.OrganizationID, id) }},
		{"opportunity_id", func(m *Reminder, id int64) bool { return equalID(m.OpportunityID, id) }},
		{"creator_id", func(m *Reminder, id int64) bool { return m.CreatorID == id }},
		{"owner_id", func(m *Reminder, id int64) bool { return m.OwnerID == id }},
		{"completer_id", func(m *Reminder, id int64) bool { return equalID(m.CompleterID, id) }},
		{"type", func(m *Reminder, v int64) bool { return int64(m.Type) == v }},
		{"reset_type", func(m *Reminder, v int64) bool { return m.ResetType != nil && int64(*m.ResetType) == v }},
		{"status", func(m *Reminder, v int64) bool { return int64(m.Status(now)) == v }},
	} {
		v, ok, err := intParam(r, f.name)
		if err != nil {
			return nil, err
		}
		if ok {
			keep = both(keep, func(m *Reminder) bool { return f.keep(m, v) })
		}
	}
	for _, f := range []struct {
		name string
		keep func(*Reminder, time.Time) bool
	}{
		{"due_before", func(m *Reminder, t time.Time) bool { return m.DueDate.Before(t) }},
		{"due_after", func(m *Reminder, t time.Time) bool { return m.DueDate.After(t) }},
	} {
		if !q.Has(f.name) {
			continue
		}
		t, err := parseQueryTime(q.Get(f.name))
		if err != nil {
			return nil, errorf(http.StatusUnprocessableEntity, f.name+" must be an ISO-8601 date or datetime")
		}
		keep = both(keep, func(m *Reminder) bool { return f.keep(m, t) })
	}
	items := scan(ws.Reminders, pg, keep)
	out := make([]obj, len(items))
	for i, m := range items {
		out[i] = renderReminder(x, m, now)
	}
	return obj{"reminders": out, "next_page_token": pg.next(len(items))}, nil
}

func getReminder(ws *Workspace, x *index, _ *http.Request, ids []int64) (any, *apiError) {
	m := x.reminders[ids[0]]
	if m == nil {
		return nil, errorf(http.StatusNotFound, "Reminder not found")
	}
	return renderReminder(x, m, ws.Now()), nil
}
