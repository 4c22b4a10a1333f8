package affinitytest

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v2 change feed: GET /v2/field-value-changes, served from Workspace.Changes (the history
// v1's /field-value-changes serves, same ids), with its filter, orderBy, keyset cursor and
// its own modes (WithV2Changes).

// V2ChangesMode is how the fake answers GET /v2/field-value-changes; the other v2 endpoints
// answer per WithV2Mode.
type V2ChangesMode int

// The modes of the change feed.
const (
	V2ChangesOK        V2ChangesMode = iota // serve the feed (the default)
	V2ChangesForbidden                      // 403 "authorization" on the feed only
	V2ChangesNotFound                       // 404 "not-found" on the feed only
	// V2ChangesDisagree serves the first record of every page with a value that maps to a
	// different v1 value than the one v1 serves for that change (see DisagreeV1Value).
	V2ChangesDisagree
)

// String is the mode as ParseV2ChangesMode reads it.
func (m V2ChangesMode) String() string {
	switch m {
	case V2ChangesForbidden:
		return "403"
	case V2ChangesNotFound:
		return "404"
	case V2ChangesDisagree:
		return "disagree"
	}
	return "ok"
}

// ParseV2ChangesMode reads "ok", "403", "404" or "disagree".
func ParseV2ChangesMode(s string) (V2ChangesMode, error) {
	for _, m := range []V2ChangesMode{V2ChangesOK, V2ChangesForbidden, V2ChangesNotFound, V2ChangesDisagree} {
		if s == m.String() {
			return m, nil
		}
	}
	return V2ChangesOK, fmt.Errorf("v2 change feed mode %q: want ok, 403, 404 or disagree", s)
}

// WithV2Changes sets how GET /v2/field-value-changes answers (default V2ChangesOK).
func WithV2Changes(m V2ChangesMode) Option { return func(s *Server) { s.v2.changes = m } }

// SetV2Changes changes how GET /v2/field-value-changes answers from the next request on.
func (s *Server) SetV2Changes(m V2ChangesMode) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.v2.changes = m
}

// V2ChangesDefaultLimit is the page size of the change feed when a request names no limit
// (the reference's rendered page suggests 10), so a client that forgets limit pays for it;
// the largest is loader.V2PageSize.
const V2ChangesDefaultLimit = 10

// changeTime is the instant a change is served, sorted and filtered by: its changedAt to the
// millisecond.
func changeTime(c *FieldValueChange) time.Time { return c.ChangedAt.Truncate(time.Millisecond) }

// compareChanges orders the feed: changedAt, then id.
func compareChanges(a, b *FieldValueChange) int {
	if c := changeTime(a).Compare(changeTime(b)); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// sortedChanges is the history in feed order.
func sortedChanges(changes []*FieldValueChange) []*FieldValueChange {
	out := slices.Clone(changes)
	slices.SortFunc(out, compareChanges)
	return out
}

// insertChange puts c into s (in feed order) at its place.
func insertChange(s []*FieldValueChange, c *FieldValueChange) []*FieldValueChange {
	i, _ := slices.BinarySearchFunc(s, c, compareChanges)
	return slices.Insert(s, i, c)
}

// changeCursor is a position in the feed: after (or, Before, before) the change at (At, ID).
// On the wire it is base64 (no padding) of "after:::<unix ms>:<id>" or "before:::...".
type changeCursor struct {
	Before bool
	At     time.Time
	ID     int64
}

func (c changeCursor) encode() string {
	dir := "after"
	if c.Before {
		dir = "before"
	}
	return base64.RawStdEncoding.EncodeToString(fmt.Appendf(nil, "%24s", fmt.Sprintf("%s:::%d:%d", dir, c.At.UnixMilli(), c.ID)))
}

func decodeChangeCursor(s string) (changeCursor, bool) {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return changeCursor{}, false
		}
	}
	dir, pos, ok := strings.Cut(strings.TrimLeft(string(b), " "), ":::")
	if !ok || (dir != "after" && dir != "before") {
		return changeCursor{}, false
	}
	msText, idText, ok := strings.Cut(pos, ":")
	if !ok {
		return changeCursor{}, false
	}
	msec, err1 := strconv.ParseInt(msText, 10, 64)
	id, err2 := strconv.ParseInt(idText, 10, 64)
	if err1 != nil || err2 != nil {
		return changeCursor{}, false
	}
	return changeCursor{Before: dir == "before", At: time.UnixMilli(msec), ID: id}, true
}

// compareToCursor orders a change against a cursor position (feed order).
func compareToCursor(c *FieldValueChange, k changeCursor) int {
	if r := changeTime(c).Compare(k.At); r != 0 {
		return r
	}
	return cmp.Compare(c.ID, k.ID)
}

// v2FieldValueChanges answers GET /v2/field-value-changes: the changes of the tracked fields,
// in changedAt-then-id order (or its reverse with orderBy=-changedAt), filtered, limit per
// page (default V2ChangesDefaultLimit), with a keyset cursor on (changedAt, id) so that
// changes recorded between two pages are neither skipped nor served twice.
func v2FieldValueChanges(rq *v2Request) (any, *apiError) {
	switch rq.changes {
	case V2ChangesForbidden:
		return nil, v2Error(http.StatusForbidden, "authorization", "",
			"The API key lacks the permission to read field value changes")
	case V2ChangesNotFound:
		return nil, v2Error(http.StatusNotFound, "not-found", "", "Not found")
	}
	q := rq.r.URL.Query()
	flt, aerr := parseChangeFilter(q.Get("filter"))
	if aerr != nil {
		return nil, aerr
	}
	desc := false
	switch q.Get("orderBy") {
	case "", "changedAt":
	case "-changedAt":
		desc = true
	default:
		return nil, v2Validation("orderBy", "orderBy must be changedAt or -changedAt")
	}
	limit := V2ChangesDefaultLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > loader.V2PageSize {
			return nil, v2Validation("limit", "limit must be an integer from 1 to 100")
		}
		limit = n
	}
	var cursor *changeCursor
	if q.Has("cursor") {
		c, ok := decodeChangeCursor(q.Get("cursor"))
		if !ok {
			return nil, v2Validation("cursor", "invalid cursor")
		}
		cursor = &c
	}

	all := rq.x.changesByTime
	lo, hi := flt.bounds(all)
	n := hi - lo
	// at is the i-th change of the requested order within the bounds.
	at := func(i int) *FieldValueChange {
		if desc {
			return all[hi-1-i]
		}
		return all[lo+i]
	}
	// order compares a change with a cursor position in the requested order.
	order := func(c *FieldValueChange, k changeCursor) int {
		if desc {
			return -compareToCursor(c, k)
		}
		return compareToCursor(c, k)
	}
	matches := func(i int) bool { return flt.match(rq.x, at(i)) }
	anyIn := func(from, to int) bool { // a match in [from, to)
		for i := from; i < to; i++ {
			if matches(i) {
				return true
			}
		}
		return false
	}
	var page []*FieldValueChange
	var hasPrev, hasNext bool
	if cursor != nil && cursor.Before {
		end := sort.Search(n, func(i int) bool { return order(at(i), *cursor) >= 0 })
		start := end
		for start > 0 && len(page) < limit {
			start--
			if matches(start) {
				page = append(page, at(start))
			}
		}
		slices.Reverse(page)
		hasPrev, hasNext = anyIn(0, start), anyIn(end, n)
	} else {
		start := 0
		if cursor != nil {
			start = sort.Search(n, func(i int) bool { return order(at(i), *cursor) > 0 })
		}
		end := start
		for end < n && len(page) < limit {
			if matches(end) {
				page = append(page, at(end))
			}
			end++
		}
		hasPrev, hasNext = anyIn(0, start), anyIn(end, n)
	}

	data := make([]obj, len(page))
	for i, c := range page {
		data[i] = rq.renderV2Change(c, i == 0 && rq.changes == V2ChangesDisagree)
	}
	link := func(c changeCursor) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = slices.Clone(vs)
		}
		v.Set("cursor", c.encode())
		return rq.base + rq.r.URL.Path + "?" + v.Encode()
	}
	var prev, next any
	if hasPrev && len(page) > 0 {
		prev = link(changeCursor{Before: true, At: changeTime(page[0]), ID: page[0].ID})
	}
	if hasNext && len(page) > 0 {
		last := page[len(page)-1]
		next = link(changeCursor{At: changeTime(last), ID: last.ID})
	}
	return obj{"data": data, "pagination": obj{"prevUrl": prev, "nextUrl": next}}, nil
}

// v2ActionTypes are the v2 names of the v1 action types.
var v2ActionTypes = map[int]string{ActionCreate: "add", ActionDelete: "delete", ActionUpdate: "update"}

// renderV2Change is one feed record; disagree serves its value as DisagreeV1Value alters it.
func (rq *v2Request) renderV2Change(c *FieldValueChange, disagree bool) obj {
	x := rq.x
	f := x.fields[c.FieldID] // match kept only changes of known fields
	kind := "global"
	var entry any
	if f.ListID != nil {
		kind = "list"
		if c.ListEntryID != nil {
			entry = obj{"id": *c.ListEntryID, "listId": *f.ListID}
		}
	}
	action, ok := v2ActionTypes[c.ActionType]
	if !ok {
		action = "unknown-" + strconv.Itoa(c.ActionType)
	}
	raw := c.Value
	if disagree {
		raw = DisagreeV1Value(f, raw)
	}
	var value any
	if !isJSONNull(raw) {
		value = v2Data(x, f, raw, false)
	}
	return obj{
		"id":         c.ID,
		"type":       V2ValueType(f),
		"actionType": action,
		"changedAt":  changeTime(c).UTC().Format("2006-01-02T15:04:05.000Z"),
		"field": obj{"id": V2FieldID(f), "entityType": f.EntityType.V2EntryType(), "name": f.Name,
			"type": kind},
		"entity":    obj{"id": c.EntityID},
		"listEntry": entry,
		"changer":   rq.v2Changer(c.ChangerID),
		"value":     value,
	}
}

// v2Changer is the changer of a feed record: the person (or the key's user), or null.
func (rq *v2Request) v2Changer(id *int64) any {
	switch {
	case id == nil:
		return nil
	case rq.x.persons[*id] != nil:
		p := rq.x.persons[*id]
		return obj{"id": p.ID, "firstName": p.FirstName, "lastName": p.LastName, "emailAddress": p.PrimaryEmail}
	case *id == rq.ws.User.ID:
		u := rq.ws.User
		return obj{"id": u.ID, "firstName": u.FirstName, "lastName": u.LastName, "emailAddress": u.Email}
	}
	return obj{"id": *id, "firstName": nil, "lastName": nil, "emailAddress": nil}
}
