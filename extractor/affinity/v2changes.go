package affinity

import (
	"context"
	"encoding/json"
	"iter"
	"net/url"
	"strconv"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The change feed through API v2 (GET /v2/field-value-changes, BETA): the changes of every
// tracked field of the workspace, oldest first (changedAt, then id), filtered by time.

// V2FieldValueChange is one record of the v2 change feed. Strings the client does not know
// (value types, action types, field types) are kept as sent: the caller decides what it can map.
type V2FieldValueChange struct {
	ID         int64           `json:"id"`
	Type       string          `json:"type"`       // the field's value type: "ranked-dropdown", "person-multi", "number", ...
	ActionType string          `json:"actionType"` // add | update | delete
	ChangedAt  time.Time       `json:"changedAt"`
	Field      V2ChangeField   `json:"field"`
	Entity     *V2Ref          `json:"entity"`
	ListEntry  *V2ChangeEntry  `json:"listEntry"` // nil for a global field
	Changer    *V2Changer      `json:"changer"`   // nil for a change made by the system
	Value      json.RawMessage `json:"value"`     // one item (also for -multi types): the value set, added or removed
}

// V2ChangeField is the field a v2 change record belongs to.
type V2ChangeField struct {
	ID         string `json:"id"`         // "field-5001"
	EntityType string `json:"entityType"` // person | company | opportunity
	Name       string `json:"name"`
	Type       string `json:"type"` // global | list
}

// V2Ref is a reference to an entity by id.
type V2Ref struct {
	ID int64 `json:"id"`
}

// V2ChangeEntry is the list entry of a change to a list field.
type V2ChangeEntry struct {
	ID     int64 `json:"id"`
	ListID int64 `json:"listId"`
}

// V2Changer is the person who made a change.
type V2Changer struct {
	ID           int64   `json:"id"`
	FirstName    *string `json:"firstName"`
	LastName     *string `json:"lastName"`
	EmailAddress *string `json:"emailAddress"`
}

// V2ChangeQuery selects a page of the change feed.
type V2ChangeQuery struct {
	Filter  string // the filter expression, e.g. "changedAt>=2026-10-01T00:00:00Z"; "" = none
	OrderBy string // "changedAt" (the default) or "-changedAt"; "" = the server's default
	Cursor  string // resume at this cursor; "" = the first page
	Limit   int    // default and max 100 (0 or more than 100 means 100)
}

// V2ChangeFilterTime is how a time is written in a change feed filter. Its Z is literal:
// format the time in UTC (t.UTC().Format(V2ChangeFilterTime)).
const V2ChangeFilterTime = "2006-01-02T15:04:05.000Z"

// FieldValueChangesV2 pages through the change feed (GET /v2/field-value-changes), following
// nextUrl until it is null. A nextUrl is never meant to be kept across runs: a caller that
// stops queries again from its own watermark.
func (c *Client) FieldValueChangesV2(ctx context.Context, q V2ChangeQuery) iter.Seq2[V2Page[V2FieldValueChange], error] {
	const path = "/v2/field-value-changes"
	return pagesV2With[V2FieldValueChange](ctx, c, path, path, q.params(), q.Cursor)
}

func (q V2ChangeQuery) params() url.Values {
	v := url.Values{}
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	if q.OrderBy != "" {
		v.Set("orderBy", q.OrderBy)
	}
	limit := q.Limit
	if limit <= 0 || limit > loader.V2PageSize {
		limit = loader.V2PageSize
	}
	v.Set("limit", strconv.Itoa(limit))
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	return v
}
