package affinity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v2 is read through three collections only: the entries of a list, companies and
// persons, each with its field values inline (see docs/api-v2.md). Every v2 request takes the
// same path as a v1 request (limiter, reservation, observer, retries), authenticates with a
// Bearer header and pins the v2 version the models below were written against.

// V2Field is one field of a v2 entity, with its value. Type and Value.Type are kept as sent,
// unknown strings included.
type V2Field struct {
	ID               string  `json:"id"`   // "field-123", "affinity-data-location", "persons", ...
	Name             string  `json:"name"` // as shown in Affinity
	Type             string  `json:"type"` // enriched | global | list | relationship-intelligence | hidden | unknown strings
	EnrichmentSource *string `json:"enrichmentSource"`
	Value            V2Value `json:"value"`
}

// V2Value is a field's value: its type and its data, left raw for the caller to map.
type V2Value struct {
	Type       string          `json:"type"`       // "text", "person-multi", ... unknown strings kept
	Data       json.RawMessage `json:"data"`       // JSON null, scalar, object, or array for -multi types
	TotalCount *int            `json:"totalCount"` // set when the server reports the full count of a multi value
}

// IsNull reports whether the value holds no data (data null or absent).
func (v V2Value) IsNull() bool {
	d := strings.TrimSpace(string(v.Data))
	return d == "" || d == "null"
}

// V2Company is a company of GET /v2/companies (a v1 organization; the ids are the same).
type V2Company struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Domain   *string   `json:"domain"`
	Domains  []string  `json:"domains"`
	IsGlobal bool      `json:"isGlobal"`
	Fields   []V2Field `json:"fields"`
}

// V2Person is a person of GET /v2/persons. Type is "internal" or "external" (unknown strings
// kept).
type V2Person struct {
	ID                  int64     `json:"id"`
	FirstName           string    `json:"firstName"`
	LastName            *string   `json:"lastName"`
	PrimaryEmailAddress *string   `json:"primaryEmailAddress"`
	EmailAddresses      []string  `json:"emailAddresses"`
	Type                string    `json:"type"`
	Fields              []V2Field `json:"fields"`
}

// V2Entity is the entity of a v2 list entry: a company, a person or an opportunity. Missing
// keys are left zero. A person has no name in v2: Name is then its first and last name.
type V2Entity struct {
	ID     int64     `json:"id"`
	Name   string    `json:"name"`
	Fields []V2Field `json:"fields"`
}

// UnmarshalJSON reads a company, person or opportunity, ignoring the keys V2Entity lacks.
func (e *V2Entity) UnmarshalJSON(b []byte) error {
	var v struct {
		ID        int64     `json:"id"`
		Name      *string   `json:"name"`
		FirstName *string   `json:"firstName"`
		LastName  *string   `json:"lastName"`
		Fields    []V2Field `json:"fields"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = V2Entity{ID: v.ID, Fields: v.Fields}
	switch {
	case v.Name != nil:
		e.Name = *v.Name
	case v.FirstName != nil || v.LastName != nil:
		var parts []string
		for _, p := range []*string{v.FirstName, v.LastName} {
			if p != nil && *p != "" {
				parts = append(parts, *p)
			}
		}
		e.Name = strings.Join(parts, " ")
	}
	return nil
}

// V2ListEntry is an entry of GET /v2/lists/{id}/list-entries. Type is "company", "person" or
// "opportunity" (unknown strings kept). The entity's fields hold its global and enriched
// values and this entry's list values.
type V2ListEntry struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	ListID    int64     `json:"listId"`
	CreatedAt time.Time `json:"createdAt"`
	CreatorID *int64    `json:"creatorId"`
	Entity    V2Entity  `json:"entity"`
}

// V2Query selects the fields a v2 listing carries inline and where it starts.
type V2Query struct {
	FieldTypes []string // repeated fieldTypes= params, e.g. global, enriched, list
	FieldIDs   []string // repeated fieldIds= params, e.g. "persons"
	Cursor     string   // resume at this cursor (a NextCursor checkpointed earlier); "" = first page
	Limit      int      // default and max 100 (0 or more than 100 means 100)
}

func (q V2Query) params() url.Values {
	v := url.Values{}
	for _, t := range q.FieldTypes {
		v.Add("fieldTypes", t)
	}
	for _, id := range q.FieldIDs {
		v.Add("fieldIds", id)
	}
	limit := q.Limit
	if limit <= 0 || limit > loader.V2PageSize {
		limit = loader.V2PageSize // the v2 default and maximum page size of the collections used here
	}
	v.Set("limit", strconv.Itoa(limit))
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	return v
}

// V2Page is one page of a v2 listing. A caller that committed a page checkpoints NextCursor
// and resumes later by passing it as V2Query.Cursor.
type V2Page[T any] struct {
	Items      []T
	NextCursor string // the cursor parameter of nextUrl; "" on the last page (checkpoint it to resume)
}

// ListEntriesV2 pages through the entries of a list (GET /v2/lists/{id}/list-entries).
func (c *Client) ListEntriesV2(ctx context.Context, listID int64, q V2Query) iter.Seq2[V2Page[V2ListEntry], error] {
	path := "/v2/lists/" + strconv.FormatInt(listID, 10) + "/list-entries"
	return pagesV2[V2ListEntry](ctx, c, "/v2/lists/{id}/list-entries", path, q)
}

// CompaniesV2 pages through every company (GET /v2/companies).
func (c *Client) CompaniesV2(ctx context.Context, q V2Query) iter.Seq2[V2Page[V2Company], error] {
	return entityPagesV2[V2Company](ctx, c, loader.EntityOrganization, q)
}

// PersonsV2 pages through every person (GET /v2/persons).
func (c *Client) PersonsV2(ctx context.Context, q V2Query) iter.Seq2[V2Page[V2Person], error] {
	return entityPagesV2[V2Person](ctx, c, loader.EntityPerson, q)
}

// entityPagesV2 pages through the v2 collection of an entity kind (GET /v2/persons,
// /v2/companies), named by its v2 noun.
func entityPagesV2[T any](ctx context.Context, c *Client, k loader.EntityKind, q V2Query) iter.Seq2[V2Page[T], error] {
	path := "/v2/" + k.V2Noun()
	return pagesV2[T](ctx, c, path, path, q)
}

// pagesV2 walks a cursor-paged v2 listing. The first request is built from the base URL, path
// and query (with the cursor when resuming); after that the server's nextUrl is requested as
// given, but only once checkFollow accepted it. It stops after yielding an error, on the last
// page, or when the consumer stops. A page whose nextUrl is refused is not yielded.
func pagesV2[T any](ctx context.Context, c *Client, endpoint, path string, q V2Query) iter.Seq2[V2Page[T], error] {
	return pagesV2With[T](ctx, c, endpoint, path, q.params(), q.Cursor)
}

// pagesV2With is pagesV2 for a query already encoded (with the cursor to start at, if any).
func pagesV2With[T any](ctx context.Context, c *Client, endpoint, path string, query url.Values, cursor string) iter.Seq2[V2Page[T], error] {
	return func(yield func(V2Page[T], error) bool) {
		r := request{version: apiV2, endpoint: endpoint, path: path, query: query, pageToken: cursor}
		for {
			var items []T
			var next string
			err := c.send(ctx, r, func(body io.Reader) error {
				var err error
				items, next, err = decodeV2Page[T](body)
				return err
			})
			if err != nil {
				var apiErr *APIError
				if cursor != "" && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
					err = &cursorRefused{cursor: cursor, err: err}
				}
				yield(V2Page[T]{}, err)
				return
			}
			if next == "" {
				yield(V2Page[T]{Items: items}, nil)
				return
			}
			u, err := c.checkFollow(endpoint, next)
			if err != nil {
				yield(V2Page[T]{}, err)
				return
			}
			nextCursor := u.Query().Get("cursor")
			switch {
			case nextCursor == "":
				yield(V2Page[T]{}, fmt.Errorf("list %s: nextUrl carries no cursor", r.path))
				return
			case nextCursor == cursor || next == r.target(c.base):
				yield(V2Page[T]{}, fmt.Errorf("list %s: server returned the page just requested as the next one (cursor %q)", r.path, nextCursor))
				return
			}
			if !yield(V2Page[T]{Items: items, NextCursor: nextCursor}, nil) {
				return
			}
			cursor = nextCursor
			r = request{version: apiV2, endpoint: endpoint, path: c.relativePath(u), url: next, pageToken: cursor}
		}
	}
}

// decodeV2Page reads {"data": [...]|null, "pagination": {"nextUrl": ...}}; other keys are
// skipped, data null is an empty page, a missing data key is an error.
func decodeV2Page[T any](r io.Reader) (items []T, next string, err error) {
	var env struct {
		Data       json.RawMessage `json:"data"`
		Pagination *struct {
			NextURL *string `json:"nextUrl"`
		} `json:"pagination"`
	}
	if err := json.NewDecoder(r).Decode(&env); err != nil {
		return nil, "", err
	}
	if env.Data == nil {
		return nil, "", errors.New(`no "data" key in the response`)
	}
	if err := json.Unmarshal(env.Data, &items); err != nil {
		return nil, "", fmt.Errorf("data: %w", err)
	}
	if env.Pagination != nil && env.Pagination.NextURL != nil {
		next = strings.TrimSpace(*env.Pagination.NextURL)
	}
	return items, next, nil
}

// checkFollow accepts a nextUrl only when it is absolute, carries no credentials, and its
// scheme, host and port are the base URL's; anything else is a *ForeignURLError.
func (c *Client) checkFollow(endpoint, next string) (*url.URL, error) {
	base, err := url.Parse(c.base)
	if err != nil { // c.base was validated by NewClient
		return nil, fmt.Errorf("follow next page of %s: base url: %w", endpoint, err)
	}
	want := origin(base)
	u, err := url.Parse(next)
	switch {
	case err != nil:
		return nil, &ForeignURLError{Endpoint: endpoint, Origin: "an unparsable URL", Want: want}
	case !u.IsAbs() || u.Host == "":
		return nil, &ForeignURLError{Endpoint: endpoint, Origin: "a URL without scheme and host", Want: want}
	case u.User != nil:
		// Never echo the user info: it may hold a secret.
		return nil, &ForeignURLError{Endpoint: endpoint, Origin: "a URL with credentials", Want: want}
	case origin(u) != want:
		return nil, &ForeignURLError{Endpoint: endpoint, Origin: c.redact.text(origin(u)), Want: want}
	}
	return u, nil
}

// origin is scheme://host:port in lower case, with the scheme's default port made explicit.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port
}

// relativePath is u's path without the base URL's path prefix, as the path of a request
// built from base and path would be reported.
func (c *Client) relativePath(u *url.URL) string {
	p := u.EscapedPath()
	if base, err := url.Parse(c.base); err == nil && base.EscapedPath() != "" {
		if rest, ok := strings.CutPrefix(p, base.EscapedPath()); ok && strings.HasPrefix(rest, "/") {
			return rest
		}
	}
	return p
}
