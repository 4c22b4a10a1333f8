package affinity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxInteractionPageSize is the default and maximum page size of GET /interactions (every
// other v1 listing has MaxPageSize).
const MaxInteractionPageSize = 100

// Interaction type codes (the type parameter and field of GET /interactions).
const (
	InteractionMeeting = 0
	InteractionCall    = 1
	InteractionChat    = 2
	InteractionEmail   = 3
)

// interactionKeys is the envelope key of each interaction type. Only "emails" is documented;
// "events" and "chat_messages" are what other clients read (see Interactions).
var interactionKeys = [...]string{
	InteractionMeeting: "events",
	InteractionCall:    "events",
	InteractionChat:    "chat_messages",
	InteractionEmail:   "emails",
}

// PersonRef is a person object embedded in interactions and reminders.
type PersonRef struct {
	ID           *int64   `json:"id"` // pointer: a participant without an id is an error the client reports
	Type         int      `json:"type"`
	FirstName    *string  `json:"first_name"`
	LastName     *string  `json:"last_name"`
	PrimaryEmail *string  `json:"primary_email"`
	Emails       []string `json:"emails"`
}

// Interaction is one item of GET /interactions: a meeting, call, chat message or e-mail. Its
// id is unique only together with its type. Which fields are set depends on the type:
// meetings and calls have Persons, Attendees, StartTime, EndTime, Title, UpdatedAt, NoteIDs
// and ManualCreatorID; chat messages Persons, Direction, NoteIDs and ManualCreatorID;
// e-mails From, To, CC, Subject and Direction. Raw is the item exactly as received.
type Interaction struct {
	ID              int64           `json:"id"`
	Type            int             `json:"type"`
	Date            time.Time       `json:"date"`
	StartTime       *time.Time      `json:"start_time"`
	EndTime         *time.Time      `json:"end_time"`
	Title           *string         `json:"title"`
	Subject         *string         `json:"subject"`
	Direction       *int            `json:"direction"`
	ManualCreatorID *int64          `json:"manual_creator_id"`
	UpdatedAt       *time.Time      `json:"updated_at"`
	NoteIDs         []int64         `json:"notes"`
	Persons         []PersonRef     `json:"persons"` // meetings, calls, chat
	From            *PersonRef      `json:"from"`    // e-mail
	To              []PersonRef     `json:"to"`      // e-mail
	CC              []PersonRef     `json:"cc"`      // e-mail
	Attendees       []string        `json:"attendees"`
	Raw             json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes an interaction and keeps a copy of data as Raw.
func (i *Interaction) UnmarshalJSON(data []byte) error {
	type plain Interaction
	var v plain
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*i = Interaction(v)
	i.Raw = bytes.Clone(data)
	return nil
}

// participantWithoutID names the first participant of i that has no id ("to[1]", "from"),
// "" when every participant has one.
func (i *Interaction) participantWithoutID() string {
	if i.From != nil && i.From.ID == nil {
		return "from"
	}
	for _, list := range []struct {
		name   string
		people []PersonRef
	}{{"persons", i.Persons}, {"to", i.To}, {"cc", i.CC}} {
		for n, p := range list.people {
			if p.ID == nil {
				return fmt.Sprintf("%s[%d]", list.name, n)
			}
		}
	}
	return ""
}

// InteractionQuery selects the interactions of one type and one entity in the window
// [Start, End) (the API allows at most a year). Exactly one of PersonID, OrganizationID and
// OpportunityID is set; PersonID must be an external person (the API refuses an internal
// one). PageSize 0 means 100, more than 100 is clamped to 100.
type InteractionQuery struct {
	Type           int
	PersonID       *int64
	OrganizationID *int64
	OpportunityID  *int64
	Start, End     time.Time // sent as start_time / end_time, RFC 3339 in UTC with milliseconds
	PageToken      string
	PageSize       int
}

func (q InteractionQuery) size() int {
	if q.PageSize <= 0 || q.PageSize > MaxInteractionPageSize {
		return MaxInteractionPageSize
	}
	return q.PageSize
}

// queryTime is how a datetime query parameter is sent.
func queryTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// Interactions pages through GET /interactions for one entity, type and window.
//
// The page's array is read from the type's envelope key: "events" for meetings and calls,
// "chat_messages" for chat, "emails" for e-mail. Only "emails" is documented, so when that
// key is absent but exactly one other top-level key holds an array, that array is taken.
// Unknown extra keys are ignored. A page with no such array, an item without an id, or an
// item with a participant (persons[i], from, to[i], cc[i]) without an id fails with a
// *DecodeError naming the endpoint, the entity selector, the type and what was wrong, e.g.
// `GET /interactions person_id=70010001 type=3: interaction 41250: to[1] has no id`; such a
// page is not retried (the same answer would come again). A refused request (422, e.g. a
// window over a year or an internal person) is an *APIError whose text names the query
// sent; IsValidation reports it.
func (c *Client) Interactions(ctx context.Context, q InteractionQuery) iter.Seq2[Page[Interaction], error] {
	sel := EntitySelector{PersonID: q.PersonID, OrganizationID: q.OrganizationID, OpportunityID: q.OpportunityID}
	params, n := sel.params()
	var invalid error
	switch {
	case n != 1:
		invalid = fmt.Errorf("want exactly one entity selector, got %d", n)
	case q.Type < 0 || q.Type >= len(interactionKeys):
		invalid = fmt.Errorf("type %d is not an interaction type (0-3)", q.Type)
	case q.Start.IsZero() || q.End.IsZero():
		invalid = errors.New("start and end are required")
	case !q.Start.Before(q.End):
		invalid = fmt.Errorf("start %s is not before end %s", queryTime(q.Start), queryTime(q.End))
	}
	if invalid != nil {
		return func(yield func(Page[Interaction], error) bool) {
			yield(Page[Interaction]{Token: q.PageToken}, fmt.Errorf("get interactions: %w", invalid))
		}
	}
	// Name the selector for errors before adding the other parameters.
	var where string
	for name, v := range params {
		where = name + "=" + v[0]
	}
	where = fmt.Sprintf("GET /interactions %s type=%d", where, q.Type)
	params.Set("type", strconv.Itoa(q.Type))
	params.Set("start_time", queryTime(q.Start))
	params.Set("end_time", queryTime(q.End))
	key := interactionKeys[q.Type]
	pr := pageRequest{endpoint: "/interactions", path: "/interactions", params: params, size: q.size(),
		token: q.PageToken, showQuery: true}
	return walkPages(ctx, c, pr, func(body io.Reader) ([]Interaction, string, error) {
		items, next, err := decodeInteractionPage(body, key)
		if err != nil {
			err = fmt.Errorf("%s: %w", where, err)
			var bad *badInput
			if errors.As(err, &bad) {
				return nil, "", final{err: err}
			}
			return nil, "", err
		}
		return items, next, nil
	})
}

// badInput is a body that is valid JSON but breaks a rule the client checks (a missing
// envelope array, a missing id). It is not retried: the same answer would come again.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badInput{msg: fmt.Sprintf(format, args...)} }

// decodeInteractionPage reads one page of GET /interactions: the array under key (or the only
// other top-level array), next_page_token, and checks every item's id and participants.
func decodeInteractionPage(r io.Reader, key string) ([]Interaction, string, error) {
	var top map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&top); err != nil {
		return nil, "", err
	}
	if top == nil {
		return nil, "", badf("page is null, want an object")
	}
	var next string
	if raw, ok := top["next_page_token"]; ok {
		var t *string
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, "", fmt.Errorf("next_page_token: %w", err)
		}
		if t != nil {
			next = *t
		}
	}
	raw, ok := top[key]
	if ok && !isArray(raw) {
		return nil, "", badf("%q is not an array", key)
	}
	if !ok {
		var others []string
		for name, v := range top {
			if name != "next_page_token" && isArray(v) {
				others = append(others, name)
			}
		}
		slices.Sort(others)
		switch len(others) {
		case 0:
			return nil, "", badf("page has no %q array", key)
		case 1:
			key, raw = others[0], top[others[0]]
		default:
			return nil, "", badf("page has no %q array but %d others (%s)", key, len(others), strings.Join(others, ", "))
		}
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, "", fmt.Errorf("%s: %w", key, err)
	}
	items := make([]Interaction, 0, len(elems))
	for n, elem := range elems {
		var idOnly struct {
			ID *int64 `json:"id"`
		}
		if err := json.Unmarshal(elem, &idOnly); err != nil {
			return nil, "", fmt.Errorf("%s: item %d: %w", key, n, err)
		}
		if idOnly.ID == nil {
			return nil, "", badf("item %d has no id", n)
		}
		var it Interaction
		if err := json.Unmarshal(elem, &it); err != nil {
			return nil, "", fmt.Errorf("%s: interaction %d: %w", key, *idOnly.ID, err)
		}
		if p := it.participantWithoutID(); p != "" {
			return nil, "", badf("interaction %d: %s has no id", it.ID, p)
		}
		items = append(items, it)
	}
	return items, next, nil
}

// isArray reports whether raw is a JSON array.
func isArray(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '['
}
