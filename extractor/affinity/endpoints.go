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

// getJSON fetches one object or array and decodes it into out (inside the retry loop).
func getJSON[T any](ctx context.Context, c *Client, r request) (T, error) {
	var out T
	err := c.send(ctx, r, func(body io.Reader) error {
		var v T
		if err := json.NewDecoder(body).Decode(&v); err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, err
}

// getArray fetches a bare JSON array, decoding it element by element.
func getArray[T any](ctx context.Context, c *Client, r request) ([]T, error) {
	var out []T
	err := c.send(ctx, r, func(body io.Reader) error {
		items, err := decodeArray[T](body)
		out = items
		return err
	})
	return out, err
}

func idPath(prefix string, id int64) string {
	return prefix + "/" + strconv.FormatInt(id, 10)
}

func interactionDates(with bool) url.Values {
	if with {
		return url.Values{"with_interaction_dates": {"true"}}
	}
	return nil
}

// Person fetches one person with its organization ids and list entries. A deleted person
// gives an error for which IsNotFound is true.
func (c *Client) Person(ctx context.Context, id int64, withInteractionDates bool) (Person, error) {
	return getJSON[Person](ctx, c, request{endpoint: "/persons/{id}", path: idPath("/persons", id),
		query: interactionDates(withInteractionDates)})
}

// Organization fetches one organization with its person ids and list entries.
func (c *Client) Organization(ctx context.Context, id int64, withInteractionDates bool) (Organization, error) {
	return getJSON[Organization](ctx, c, request{endpoint: "/organizations/{id}", path: idPath("/organizations", id),
		query: interactionDates(withInteractionDates)})
}

// Opportunity fetches one opportunity.
func (c *Client) Opportunity(ctx context.Context, id int64) (Opportunity, error) {
	return getJSON[Opportunity](ctx, c, request{endpoint: "/opportunities/{id}", path: idPath("/opportunities", id)})
}

// Lists fetches every list visible to the key (without their fields).
func (c *Client) Lists(ctx context.Context) ([]List, error) {
	return getArray[List](ctx, c, request{endpoint: "/lists", path: "/lists"})
}

// List fetches one list with its list-specific fields.
func (c *Client) List(ctx context.Context, id int64) (List, error) {
	return getJSON[List](ctx, c, request{endpoint: "/lists/{id}", path: idPath("/lists", id)})
}

// ListEntry fetches one entry of a list.
func (c *Client) ListEntry(ctx context.Context, listID, entryID int64) (ListEntry, error) {
	path := idPath(idPath("/lists", listID)+"/list-entries", entryID)
	return getJSON[ListEntry](ctx, c, request{endpoint: "/lists/{id}/list-entries/{id}", path: path})
}

// FieldQuery filters GET /fields; nil filters are not sent.
type FieldQuery struct {
	ListID     *int64
	EntityType *loader.EntityKind
}

// Fields fetches the global and list-specific fields (GET /fields).
func (c *Client) Fields(ctx context.Context, q FieldQuery) ([]Field, error) {
	query := url.Values{}
	if q.ListID != nil {
		query.Set("list_id", strconv.FormatInt(*q.ListID, 10))
	}
	if q.EntityType != nil {
		query.Set("entity_type", strconv.Itoa(int(*q.EntityType)))
	}
	return getArray[Field](ctx, c, request{endpoint: "/fields", path: "/fields", query: query})
}

// PersonFields fetches the global person fields.
func (c *Client) PersonFields(ctx context.Context) ([]Field, error) {
	return getArray[Field](ctx, c, request{endpoint: "/persons/fields", path: "/persons/fields"})
}

// OrganizationFields fetches the global organization fields.
func (c *Client) OrganizationFields(ctx context.Context) ([]Field, error) {
	return getArray[Field](ctx, c, request{endpoint: "/organizations/fields", path: "/organizations/fields"})
}

// EntitySelector names the entity whose values or changes are read. FieldValues needs
// exactly one id set; FieldValueChanges at most one.
type EntitySelector struct {
	PersonID, OrganizationID, OpportunityID, ListEntryID *int64
}

// params returns the selector's query parameters and how many ids are set.
func (s EntitySelector) params() (url.Values, int) {
	q := url.Values{}
	for _, p := range []struct {
		name string
		id   *int64
	}{
		{loader.EntityPerson.SelectorParam(), s.PersonID},
		{loader.EntityOrganization.SelectorParam(), s.OrganizationID},
		{loader.EntityOpportunity.SelectorParam(), s.OpportunityID},
		{"list_entry_id", s.ListEntryID},
	} {
		if p.id != nil {
			q.Set(p.name, strconv.FormatInt(*p.id, 10))
		}
	}
	return q, len(q)
}

// FieldValues fetches every field value of one entity or list entry: for an entity, its
// global values and those of each of its list entries.
func (c *Client) FieldValues(ctx context.Context, sel EntitySelector) ([]FieldValue, error) {
	query, n := sel.params()
	if n != 1 {
		return nil, fmt.Errorf("get field values: want exactly one entity selector, got %d", n)
	}
	return getArray[FieldValue](ctx, c, request{endpoint: "/field-values", path: "/field-values", query: query})
}

// ChangeQuery selects the changes of one field, optionally of one action type and of one
// entity (at most one selector id).
type ChangeQuery struct {
	FieldID    int64
	ActionType *Action
	Selector   EntitySelector
}

// FieldValueChanges reads the change history of a field. The answer is one unpaged array;
// it is decoded as a stream and yielded in chunks of at most 500, so memory stays bounded.
// A body that fails before the first chunk is retried; once chunks were yielded, a failure
// is yielded as a *DecodeError and the sequence ends (the caller has then seen only part).
func (c *Client) FieldValueChanges(ctx context.Context, q ChangeQuery) iter.Seq2[[]FieldValueChange, error] {
	return func(yield func([]FieldValueChange, error) bool) {
		query, n := q.Selector.params()
		if n > 1 {
			yield(nil, fmt.Errorf("get field value changes: want at most one entity selector, got %d", n))
			return
		}
		if q.FieldID <= 0 {
			yield(nil, errors.New("get field value changes: field id is required"))
			return
		}
		query.Set("field_id", strconv.FormatInt(q.FieldID, 10))
		if q.ActionType != nil {
			query.Set("action_type", strconv.Itoa(int(*q.ActionType)))
		}
		stopped := false
		err := c.send(ctx, request{endpoint: "/field-value-changes", path: "/field-value-changes", query: query},
			func(body io.Reader) error {
				yielded := false
				fail := func(err error) error {
					if yielded {
						return final{err: err}
					}
					return err
				}
				emit := func(chunk []FieldValueChange) error {
					yielded = true
					if !yield(chunk, nil) {
						stopped = true
						return final{}
					}
					return nil
				}
				dec := json.NewDecoder(body)
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				if tok != json.Delim('[') {
					return fmt.Errorf("got %v, want an array", tok)
				}
				chunk := make([]FieldValueChange, 0, changesChunkCapacity)
				for dec.More() {
					var ch FieldValueChange
					if err := dec.Decode(&ch); err != nil {
						return fail(err)
					}
					chunk = append(chunk, ch)
					if len(chunk) == changesChunkCapacity {
						if err := emit(chunk); err != nil {
							return err
						}
						chunk = make([]FieldValueChange, 0, changesChunkCapacity)
					}
				}
				if _, err := dec.Token(); err != nil {
					return fail(err)
				}
				if len(chunk) > 0 {
					return emit(chunk)
				}
				return nil
			})
		if err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// RateLimit fetches the key's current quota (GET /rate-limit).
func (c *Client) RateLimit(ctx context.Context) (RateLimit, error) {
	var out RateLimit
	err := c.send(ctx, request{endpoint: "/rate-limit", path: "/rate-limit"}, func(body io.Reader) error {
		var v struct {
			Rate *RateLimit `json:"rate"`
		}
		if err := json.NewDecoder(body).Decode(&v); err != nil {
			return err
		}
		if v.Rate == nil {
			return errors.New(`no "rate" key in the response`)
		}
		out = *v.Rate
		return nil
	})
	return out, err
}

// WhoAmI fetches the key's tenant, user and grant (GET /auth/whoami).
func (c *Client) WhoAmI(ctx context.Context) (WhoAmI, error) {
	return getJSON[WhoAmI](ctx, c, request{endpoint: "/auth/whoami", path: "/auth/whoami"})
}
