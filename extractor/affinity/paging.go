package affinity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strconv"

	"github.com/affinity-sync/affinity-sync/loader"
)

// MaxPageSize is the v1 default and maximum page size of every paged endpoint used here.
const MaxPageSize = 500

const (
	// changesChunkCapacity bounds the field value changes held in memory at once.
	changesChunkCapacity = 500
)

// Page is one page of a paged listing. Token is the token that fetched it ("" for the first
// page); NextToken is the server's next_page_token, "" on the last page. A caller that
// committed a page checkpoints NextToken and resumes later by passing it as PageToken.
type Page[T any] struct {
	Items     []T
	Token     string
	NextToken string
}

// PageQuery selects the page size (0 means 500; more than 500 is clamped to 500) and the
// page to start from ("" = first).
type PageQuery struct {
	PageSize  int
	PageToken string
}

func (q PageQuery) size() int {
	if q.PageSize <= 0 || q.PageSize > MaxPageSize {
		return MaxPageSize
	}
	return q.PageSize
}

// PersonQuery pages through GET /persons. WithInteractionDates adds interaction dates but
// makes Affinity omit persons without interactions.
type PersonQuery struct {
	PageQuery
	WithInteractionDates bool
}

// OrganizationQuery pages through GET /organizations; see PersonQuery for
// WithInteractionDates.
type OrganizationQuery struct {
	PageQuery
	WithInteractionDates bool
}

// Persons pages through every person visible to the key.
func (c *Client) Persons(ctx context.Context, q PersonQuery) iter.Seq2[Page[Person], error] {
	return entityPages[Person](ctx, c, loader.EntityPerson, q.PageQuery, q.WithInteractionDates)
}

// Organizations pages through every organization of the instance.
func (c *Client) Organizations(ctx context.Context, q OrganizationQuery) iter.Seq2[Page[Organization], error] {
	return entityPages[Organization](ctx, c, loader.EntityOrganization, q.PageQuery, q.WithInteractionDates)
}

// Opportunities pages through every opportunity visible to the key.
func (c *Client) Opportunities(ctx context.Context, q PageQuery) iter.Seq2[Page[Opportunity], error] {
	return entityPages[Opportunity](ctx, c, loader.EntityOpportunity, q, false)
}

// entityPages pages through the v1 collection of an entity kind (GET /persons,
// /organizations, /opportunities), whose pages hold the items under the same noun.
func entityPages[T any](ctx context.Context, c *Client, k loader.EntityKind, q PageQuery, withInteractionDates bool) iter.Seq2[Page[T], error] {
	path := "/" + k.V1Noun()
	return pages[T](ctx, c, path, path, interactionDates(withInteractionDates), q, k.V1Noun(), false)
}

// ListEntries pages through the entries of a list. It always sends page_size; a bare-array
// answer is accepted as one last page.
func (c *Client) ListEntries(ctx context.Context, listID int64, q PageQuery) iter.Seq2[Page[ListEntry], error] {
	path := "/lists/" + strconv.FormatInt(listID, 10) + "/list-entries"
	return pages[ListEntry](ctx, c, "/lists/{id}/list-entries", path, url.Values{}, q, "list_entries", true)
}

// Notes pages through every note visible to the key (GET /notes). A bare-array answer is
// accepted as one last page.
func (c *Client) Notes(ctx context.Context, q PageQuery) iter.Seq2[Page[Note], error] {
	return pages[Note](ctx, c, "/notes", "/notes", url.Values{}, q, "notes", true)
}

// pages walks a token-paged listing whose pages hold their items under key (see decodePage).
func pages[T any](ctx context.Context, c *Client, endpoint, path string, params url.Values, q PageQuery, key string, bareOK bool) iter.Seq2[Page[T], error] {
	return walkPages(ctx, c, pageRequest{endpoint: endpoint, path: path, params: params, size: q.size(), token: q.PageToken},
		func(body io.Reader) ([]T, string, error) { return decodePage[T](body, key, bareOK) })
}

// pageRequest is what every request of one listing sends: the same endpoint, path, params
// and page_size; only page_token changes. showQuery puts the query sent into the text of an
// *APIError (for endpoints whose parameters decide whether a request is valid).
type pageRequest struct {
	endpoint, path string
	params         url.Values
	size           int
	token          string // the page to start from; "" = first
	showQuery      bool
}

// walkPages walks a token-paged listing, decoding each page's body with decode (inside the
// retry loop: an error is retried unless it is a final). It stops after yielding an error,
// on the last page, or when the consumer stops.
func walkPages[T any](ctx context.Context, c *Client, pr pageRequest, decode func(io.Reader) ([]T, string, error)) iter.Seq2[Page[T], error] {
	size := strconv.Itoa(pr.size)
	return func(yield func(Page[T], error) bool) {
		token := pr.token
		for {
			query := url.Values{}
			for k, v := range pr.params {
				query[k] = v
			}
			query.Set("page_size", size)
			if token != "" {
				query.Set("page_token", token)
			}
			page := Page[T]{Token: token}
			err := c.send(ctx, request{endpoint: pr.endpoint, path: pr.path, query: query, pageToken: token, showQuery: pr.showQuery},
				func(body io.Reader) error {
					items, next, err := decode(body)
					page.Items, page.NextToken = items, next
					return err
				})
			if err != nil {
				yield(Page[T]{Token: token}, err)
				return
			}
			if page.NextToken != "" && page.NextToken == token {
				yield(Page[T]{Token: token}, fmt.Errorf("list %s: server returned the same page token again", pr.path))
				return
			}
			if !yield(page, nil) || page.NextToken == "" {
				return
			}
			token = page.NextToken
		}
	}
}

// decodePage reads {"<key>": [...], "next_page_token": ...} (other keys skipped) or, when
// bareOK, a bare array (then there is no next page). It streams the body.
func decodePage[T any](r io.Reader, key string, bareOK bool) (items []T, next string, err error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, "", err
	}
	switch tok {
	case json.Delim('['):
		if !bareOK {
			return nil, "", errors.New("got a bare array, want an object")
		}
		items, err = decodeArrayRest[T](dec)
		return items, "", err
	case json.Delim('{'):
	default:
		return nil, "", fmt.Errorf("got %v, want an object", tok)
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "", err
		}
		name, _ := tok.(string)
		switch name {
		case key:
			if err := dec.Decode(&items); err != nil {
				return nil, "", fmt.Errorf("%s: %w", key, err)
			}
			found = true
		case "next_page_token":
			var t *string
			if err := dec.Decode(&t); err != nil {
				return nil, "", fmt.Errorf("next_page_token: %w", err)
			}
			if t != nil {
				next = *t
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, "", err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, "", err
	}
	if !found {
		return nil, "", fmt.Errorf("no %q key in the response", key)
	}
	return items, next, nil
}

// decodeArrayRest decodes the elements after an opening bracket and the closing bracket.
func decodeArrayRest[T any](dec *json.Decoder) ([]T, error) {
	items := []T{}
	for dec.More() {
		var item T
		if err := dec.Decode(&item); err != nil {
			return nil, fmt.Errorf("item %d: %w", len(items), err)
		}
		items = append(items, item)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return items, nil
}

// decodeArray decodes a whole bare JSON array, element by element.
func decodeArray[T any](r io.Reader) ([]T, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("got %v, want an array", tok)
	}
	return decodeArrayRest[T](dec)
}
