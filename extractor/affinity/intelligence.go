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
	"time"
)

// RelationshipStrength is how well an internal person knows an external one (0..1),
// recomputed by Affinity about daily.
type RelationshipStrength struct {
	InternalID int64   `json:"internal_id"`
	ExternalID int64   `json:"external_id"`
	Strength   float64 `json:"strength"`
}

// RelationshipStrengths fetches the strengths of every internal person's relationship with
// one external person (GET /relationships-strengths?external_id=P): one unpaged bare array,
// also accepted wrapped as {"data": [...]}. A deleted person gives an error for which
// IsNotFound is true; an internal person one for which IsValidation is (its text names the
// query sent).
func (c *Client) RelationshipStrengths(ctx context.Context, externalID int64) ([]RelationshipStrength, error) {
	query := url.Values{"external_id": {strconv.FormatInt(externalID, 10)}}
	var out []RelationshipStrength
	err := c.send(ctx, request{endpoint: "/relationships-strengths", path: "/relationships-strengths",
		query: query, showQuery: true}, func(body io.Reader) error {
		items, _, err := decodePage[RelationshipStrength](body, "data", true)
		out = items
		return err
	})
	return out, err
}

// EntityFile is the metadata of a file uploaded to a person, organization or opportunity
// (exactly one of the three ids is set); the bytes are never read. Size is in bytes.
type EntityFile struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Size           int64     `json:"size"`
	PersonID       *int64    `json:"person_id"`
	OrganizationID *int64    `json:"organization_id"`
	OpportunityID  *int64    `json:"opportunity_id"`
	UploaderID     int64     `json:"uploader_id"`
	CreatedAt      time.Time `json:"created_at"`
}

// UnmarshalJSON decodes an entity file. Its size may be a number or, as the reference's table
// types it, a string holding one; null is read as 0.
func (f *EntityFile) UnmarshalJSON(data []byte) error {
	type plain EntityFile
	var v struct {
		*plain
		Size json.RawMessage `json:"size"`
	}
	v.plain = (*plain)(f)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	size, err := flexInt(v.Size)
	if err != nil {
		return fmt.Errorf("entity file %d: size: %w", f.ID, err)
	}
	f.Size = size
	return nil
}

// flexInt reads an integer sent as a number or a numeric string; absent or null is 0.
func flexInt(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("%s is neither a number nor a string", raw)
		}
		n = json.Number(s)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", string(n))
	}
	return v, nil
}

// FileQuery pages through GET /entity-files: every file of the workspace, or with one of
// PersonID, OrganizationID and OpportunityID set, those of that entity. PageSize as in
// PageQuery (at most 500).
type FileQuery struct {
	PageQuery
	PersonID, OrganizationID, OpportunityID *int64
}

// EntityFiles pages through the files' metadata (GET /entity-files). Whether the API lists
// without an entity filter is unconfirmed: a refusal is an *APIError (400, 404 or 422) whose
// text names the query sent.
func (c *Client) EntityFiles(ctx context.Context, q FileQuery) iter.Seq2[Page[EntityFile], error] {
	sel := EntitySelector{PersonID: q.PersonID, OrganizationID: q.OrganizationID, OpportunityID: q.OpportunityID}
	params, n := sel.params()
	if n > 1 {
		return func(yield func(Page[EntityFile], error) bool) {
			yield(Page[EntityFile]{Token: q.PageToken},
				fmt.Errorf("get entity files: want at most one entity selector, got %d", n))
		}
	}
	pr := pageRequest{endpoint: "/entity-files", path: "/entity-files", params: params, size: q.size(),
		token: q.PageToken, showQuery: true}
	return walkPages(ctx, c, pr, func(body io.Reader) ([]EntityFile, string, error) {
		return decodePage[EntityFile](body, "entity_files", false)
	})
}

// EntityFile fetches one file's metadata (GET /entity-files/{id}). A deleted file gives an
// error for which IsNotFound is true.
func (c *Client) EntityFile(ctx context.Context, id int64) (EntityFile, error) {
	return getJSON[EntityFile](ctx, c, request{endpoint: "/entity-files/{id}", path: idPath("/entity-files", id)})
}

// ReminderEntity is the organization or opportunity a reminder is tagged with; of the
// organization object only its id and name are kept.
type ReminderEntity struct {
	ID   *int64  `json:"id"`
	Name *string `json:"name"`
}

// Reminder is a v1 reminder. Status is as received (0 completed, 1 active, 2 overdue):
// Affinity derives it from DueDate and CompletedAt at request time, so it goes stale by time
// alone. At most one of Person, Organization and Opportunity is set.
type Reminder struct {
	ID           int64           `json:"id"`
	Type         int             `json:"type"`       // 0 one-time, 1 recurring
	ResetType    *int            `json:"reset_type"` // 0 interaction, 1 email, 2 meeting; nil for one-time
	ReminderDays *int            `json:"reminder_days"`
	Status       int             `json:"status"`
	Content      *string         `json:"content"`
	DueDate      *time.Time      `json:"due_date"`
	CreatedAt    time.Time       `json:"created_at"`
	CompletedAt  *time.Time      `json:"completed_at"`
	Creator      *PersonRef      `json:"creator"`
	Owner        *PersonRef      `json:"owner"`
	Completer    *PersonRef      `json:"completer"`
	Person       *PersonRef      `json:"person"`
	Organization *ReminderEntity `json:"organization"`
	Opportunity  *ReminderEntity `json:"opportunity"`
}

// Reminders pages through every reminder visible to the key, of every status (GET
// /reminders, no filter sent). An item without an id fails the page with a *DecodeError
// naming the endpoint and the item's position (`GET /reminders: item 3 has no id`), not
// retried.
func (c *Client) Reminders(ctx context.Context, q PageQuery) iter.Seq2[Page[Reminder], error] {
	pr := pageRequest{endpoint: "/reminders", path: "/reminders", size: q.size(), token: q.PageToken}
	return walkPages(ctx, c, pr, func(body io.Reader) ([]Reminder, string, error) {
		raws, next, err := decodePage[json.RawMessage](body, "reminders", false)
		if err != nil {
			return nil, "", err
		}
		items := make([]Reminder, 0, len(raws))
		for n, raw := range raws {
			r, err := decodeReminder(raw)
			if err != nil {
				var bad *badInput
				if errors.As(err, &bad) {
					return nil, "", final{err: fmt.Errorf("GET /reminders: item %d %w", n, bad)}
				}
				return nil, "", fmt.Errorf("reminders: item %d: %w", n, err)
			}
			items = append(items, r)
		}
		return items, next, nil
	})
}

// Reminder fetches one reminder (GET /reminders/{id}). A deleted reminder gives an error for
// which IsNotFound is true (unconfirmed: the API only promises "an appropriate error").
func (c *Client) Reminder(ctx context.Context, id int64) (Reminder, error) {
	path := idPath("/reminders", id)
	var out Reminder
	err := c.send(ctx, request{endpoint: "/reminders/{id}", path: path}, func(body io.Reader) error {
		var raw json.RawMessage
		if err := json.NewDecoder(body).Decode(&raw); err != nil {
			return err
		}
		r, err := decodeReminder(raw)
		if err != nil {
			var bad *badInput
			if errors.As(err, &bad) {
				return final{err: fmt.Errorf("GET %s: reminder %w", path, bad)}
			}
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// decodeReminder decodes one reminder and fails with a *badInput when it has no id.
func decodeReminder(raw json.RawMessage) (Reminder, error) {
	var idOnly struct {
		ID *int64 `json:"id"`
	}
	if err := json.Unmarshal(raw, &idOnly); err != nil {
		return Reminder{}, err
	}
	if idOnly.ID == nil {
		return Reminder{}, badf("has no id")
	}
	var r Reminder
	if err := json.Unmarshal(raw, &r); err != nil {
		return Reminder{}, err
	}
	return r, nil
}
