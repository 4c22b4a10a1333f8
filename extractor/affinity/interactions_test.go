package affinity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tokenPages serves one path from a fixed map of page_token ("" = first) → body, and records
// the query of every request. An unknown token is answered 422 like Affinity does.
type tokenPages struct {
	path    string
	mu      sync.Mutex
	queries []url.Values
	bodies  map[string]string
}

func (p *tokenPages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !checkAuth(w, r) {
		return
	}
	p.mu.Lock()
	p.queries = append(p.queries, r.URL.Query())
	p.mu.Unlock()
	if r.URL.Path != p.path {
		http.NotFound(w, r)
		return
	}
	body, ok := p.bodies[r.URL.Query().Get("page_token")]
	if !ok {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"errors":["Invalid page_token variable"]}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(body))
}

func (p *tokenPages) sent() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.queries...)
}

// The reference's examples (affinity-api-v1.md §11.3 and §11.4), one item each.
const (
	emailItem = `{"id": 41250, "type": 3, "date": "2024-05-10T08:02:11.004-07:00", "subject": "Re: Series A deck",
     "direction": 1,
     "from": {"id": 70010001, "type": 0, "first_name": "Mara", "last_name": "Lindqvist",
              "primary_email": "mara@northwind.example", "emails": ["mara@northwind.example"]},
     "to": [{"id": 70000001, "type": 1, "first_name": "Ines", "last_name": "Okafor",
             "primary_email": "ines@ourfund.example", "emails": ["ines@ourfund.example"]}],
     "cc": []}`
	eventItem = `{"id": 88123, "type": 0, "date": "2024-05-12T14:00:00.000-07:00",
     "start_time": "2024-05-12T14:00:00.000-07:00", "end_time": "2024-05-12T14:45:00.000-07:00",
     "title": "Northwind intro", "attendees": ["ines@ourfund.example", "mara@northwind.example"],
     "manual_creator_id": null, "updated_at": null, "notes": [2200401],
     "persons": [{"id": 70010001, "type": 0, "first_name": "Mara", "last_name": "Lindqvist",
                  "primary_email": "mara@northwind.example", "emails": ["mara@northwind.example"]}]}`
	chatItem = `{"id": 5501, "type": 2, "date": "2024-05-13T10:00:00.000Z", "direction": 0,
     "manual_creator_id": 70000001, "notes": [], "persons": [{"id": 70010001, "type": 0}]}`
)

var (
	mara = PersonRef{ID: ptr(int64(70010001)), Type: 0, FirstName: ptr("Mara"), LastName: ptr("Lindqvist"),
		PrimaryEmail: ptr("mara@northwind.example"), Emails: []string{"mara@northwind.example"}}
	ines = PersonRef{ID: ptr(int64(70000001)), Type: 1, FirstName: ptr("Ines"), LastName: ptr("Okafor"),
		PrimaryEmail: ptr("ines@ourfund.example"), Emails: []string{"ines@ourfund.example"}}
	window = InteractionQuery{Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		End: time.Date(2024, 12, 31, 0, 0, 0, 0, time.FixedZone("PST", -8*3600))}
)

func interactionQuery(typ int, person, org, opp *int64) InteractionQuery {
	q := window
	q.Type, q.PersonID, q.OrganizationID, q.OpportunityID = typ, person, org, opp
	return q
}

func TestInteractionsDecodeReferenceExamples(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		q    InteractionQuery
		body string
		item string
		want Interaction
	}{
		"email by person": {
			q:    interactionQuery(InteractionEmail, ptr(int64(70010001)), nil, nil),
			body: `{"emails": [` + emailItem + `], "next_page_token": null}`,
			item: emailItem,
			want: Interaction{ID: 41250, Type: 3, Date: mustTime(t, "2024-05-10T08:02:11.004-07:00"),
				Subject: ptr("Re: Series A deck"), Direction: ptr(1), From: &mara, To: []PersonRef{ines}, CC: []PersonRef{}},
		},
		"meeting by organization": {
			q:    interactionQuery(InteractionMeeting, nil, ptr(int64(50020002)), nil),
			body: `{"events": [` + eventItem + `], "next_page_token": null}`,
			item: eventItem,
			want: Interaction{ID: 88123, Type: 0, Date: mustTime(t, "2024-05-12T14:00:00.000-07:00"),
				StartTime: ptr(mustTime(t, "2024-05-12T14:00:00.000-07:00")),
				EndTime:   ptr(mustTime(t, "2024-05-12T14:45:00.000-07:00")),
				Title:     ptr("Northwind intro"), Attendees: []string{"ines@ourfund.example", "mara@northwind.example"},
				NoteIDs: []int64{2200401}, Persons: []PersonRef{mara}},
		},
		"call by opportunity": {
			q:    interactionQuery(InteractionCall, nil, nil, ptr(int64(9001))),
			body: `{"events": [` + eventItem + `], "next_page_token": null}`,
			item: eventItem,
			want: Interaction{ID: 88123, Type: 0, Date: mustTime(t, "2024-05-12T14:00:00.000-07:00"),
				StartTime: ptr(mustTime(t, "2024-05-12T14:00:00.000-07:00")),
				EndTime:   ptr(mustTime(t, "2024-05-12T14:45:00.000-07:00")),
				Title:     ptr("Northwind intro"), Attendees: []string{"ines@ourfund.example", "mara@northwind.example"},
				NoteIDs: []int64{2200401}, Persons: []PersonRef{mara}},
		},
		"chat": {
			q:    interactionQuery(InteractionChat, ptr(int64(70010001)), nil, nil),
			body: `{"chat_messages": [` + chatItem + `], "next_page_token": null}`,
			item: chatItem,
			want: Interaction{ID: 5501, Type: 2, Date: mustTime(t, "2024-05-13T10:00:00.000Z"), Direction: ptr(0),
				ManualCreatorID: ptr(int64(70000001)), NoteIDs: []int64{}, Persons: []PersonRef{{ID: ptr(int64(70010001))}}},
		},
		"chat under the only other array, extra keys ignored": {
			q:    interactionQuery(InteractionChat, ptr(int64(70010001)), nil, nil),
			body: `{"next_page_token": null, "count": 1, "meta": {"x": [1]}, "data": [` + chatItem + `]}`,
			item: chatItem,
			want: Interaction{ID: 5501, Type: 2, Date: mustTime(t, "2024-05-13T10:00:00.000Z"), Direction: ptr(0),
				ManualCreatorID: ptr(int64(70000001)), NoteIDs: []int64{}, Persons: []PersonRef{{ID: ptr(int64(70010001))}}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &tokenPages{path: "/interactions", bodies: map[string]string{"": tc.body}}
			c, _ := newTestClient(t, srv)
			p := onePage(t, c.Interactions(t.Context(), tc.q))
			require.Empty(t, p.NextToken)
			require.Len(t, p.Items, 1)
			got := p.Items[0]
			require.Equal(t, tc.item, string(got.Raw), "Raw is the item exactly as received")
			got.Raw = nil
			require.Equal(t, tc.want, got)
		})
	}
}

func TestInteractionsQuerySent(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		q    InteractionQuery
		want url.Values
	}{
		"person, default size": {
			q: interactionQuery(InteractionEmail, ptr(int64(70010001)), nil, nil),
			want: url.Values{"type": {"3"}, "person_id": {"70010001"}, "page_size": {"100"},
				"start_time": {"2024-01-01T00:00:00.000Z"}, "end_time": {"2024-12-31T08:00:00.000Z"}},
		},
		"organization, size clamped to 100": {
			q: func() InteractionQuery {
				q := interactionQuery(InteractionMeeting, nil, ptr(int64(50020002)), nil)
				q.PageSize = 500
				return q
			}(),
			want: url.Values{"type": {"0"}, "organization_id": {"50020002"}, "page_size": {"100"},
				"start_time": {"2024-01-01T00:00:00.000Z"}, "end_time": {"2024-12-31T08:00:00.000Z"}},
		},
		"opportunity, smaller size kept": {
			q: func() InteractionQuery {
				q := interactionQuery(InteractionCall, nil, nil, ptr(int64(9001)))
				q.PageSize = 25
				q.Start = time.Date(2024, 3, 1, 12, 30, 15, 123456789, time.UTC)
				return q
			}(),
			want: url.Values{"type": {"1"}, "opportunity_id": {"9001"}, "page_size": {"25"},
				"start_time": {"2024-03-01T12:30:15.123Z"}, "end_time": {"2024-12-31T08:00:00.000Z"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &tokenPages{path: "/interactions", bodies: map[string]string{
				"": `{"emails": [], "events": [], "next_page_token": null}`}}
			c, _ := newTestClient(t, srv)
			onePage(t, c.Interactions(t.Context(), tc.q))
			require.Equal(t, []url.Values{tc.want}, srv.sent())
		})
	}
}

func TestInteractionsFollowPageTokens(t *testing.T) {
	t.Parallel()
	item := func(id string) string {
		return `{"id": ` + id + `, "type": 3, "date": "2024-05-10T08:02:11.004Z", "to": [], "cc": []}`
	}
	srv := &tokenPages{path: "/interactions", bodies: map[string]string{
		"":   `{"emails": [` + item("1") + `,` + item("2") + `], "next_page_token": "p2"}`,
		"p2": `{"emails": [], "next_page_token": "p3"}`,
		"p3": `{"emails": [` + item("3") + `], "next_page_token": null}`,
	}}
	c, _ := newTestClient(t, srv)
	q := interactionQuery(InteractionEmail, ptr(int64(7)), nil, nil)
	var ids []int64
	var tokens []string
	for p, err := range c.Interactions(t.Context(), q) {
		require.NoError(t, err)
		tokens = append(tokens, p.Token)
		for _, it := range p.Items {
			ids = append(ids, it.ID)
		}
	}
	require.Equal(t, []int64{1, 2, 3}, ids)
	require.Equal(t, []string{"", "p2", "p3"}, tokens)
	sent := srv.sent()
	require.Len(t, sent, 3)
	for n, want := range []string{"", "p2", "p3"} {
		require.Equal(t, want, sent[n].Get("page_token"))
		sent[n].Del("page_token")
		require.Equal(t, sent[0], sent[n], "only page_token changes")
	}

	// resuming from a checkpointed token starts there
	q.PageToken = "p3"
	p := onePage(t, c.Interactions(t.Context(), q))
	require.Equal(t, "p3", p.Token)
	require.Len(t, p.Items, 1)
}

func TestInteractionsStrictDecoding(t *testing.T) {
	t.Parallel()
	person := func(id string) string {
		if id == "" {
			return `{"type": 0, "first_name": "Nobody"}`
		}
		return `{"id": ` + id + `, "type": 0}`
	}
	email := func(to, cc string) string {
		return `{"id": 41250, "type": 3, "date": "2024-05-10T08:02:11.004Z", "from": ` + person("1") +
			`, "to": [` + to + `], "cc": [` + cc + `]}`
	}
	for name, tc := range map[string]struct {
		typ  int
		body string
		want string
	}{
		"no array at all": {InteractionEmail, `{"next_page_token": null, "count": 3}`,
			`GET /interactions person_id=70010001 type=3: page has no "emails" array`},
		"envelope key not an array": {InteractionEmail, `{"emails": null, "next_page_token": null}`,
			`GET /interactions person_id=70010001 type=3: "emails" is not an array`},
		"two other arrays": {InteractionMeeting, `{"chat_messages": [], "emails": [], "next_page_token": null}`,
			`GET /interactions person_id=70010001 type=0: page has no "events" array but 2 others (chat_messages, emails)`},
		"item without id": {InteractionEmail, `{"emails": [` + email("", "") + `, {"type": 3}], "next_page_token": null}`,
			`GET /interactions person_id=70010001 type=3: item 1 has no id`},
		"to without id": {InteractionEmail, `{"emails": [` + email(person("2")+","+person(""), "") + `]}`,
			`GET /interactions person_id=70010001 type=3: interaction 41250: to[1] has no id`},
		"cc without id": {InteractionEmail, `{"emails": [` + email(person("2"), person("")) + `]}`,
			`GET /interactions person_id=70010001 type=3: interaction 41250: cc[0] has no id`},
		"from without id": {InteractionEmail, `{"emails": [{"id": 41250, "type": 3, "date": "2024-05-10T08:02:11.004Z", "from": {"type": 0}, "to": [], "cc": []}]}`,
			`GET /interactions person_id=70010001 type=3: interaction 41250: from has no id`},
		"persons without id": {InteractionChat, `{"chat_messages": [{"id": 9, "type": 2, "date": "2024-05-10T08:02:11.004Z", "persons": [` + person("") + `]}]}`,
			`GET /interactions person_id=70010001 type=2: interaction 9: persons[0] has no id`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &tokenPages{path: "/interactions", bodies: map[string]string{"": tc.body}}
			c, _ := newTestClient(t, srv)
			var errs []error
			for p, err := range c.Interactions(t.Context(), interactionQuery(tc.typ, ptr(int64(70010001)), nil, nil)) {
				require.Empty(t, p.Items)
				errs = append(errs, err)
			}
			require.Len(t, errs, 1)
			var de *DecodeError
			require.ErrorAs(t, errs[0], &de, "bad input is a *DecodeError")
			require.Equal(t, "/interactions", de.Endpoint)
			require.ErrorContains(t, errs[0], tc.want)
			require.False(t, IsValidation(errs[0]))
			require.Len(t, srv.sent(), 1, "a page that breaks the rules is not retried")
		})
	}
}

func TestInteractionsQueryCheckedBeforeSending(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, `{"emails":[]}`)}}
	c, _ := newTestClient(t, s)
	for name, tc := range map[string]struct {
		q    InteractionQuery
		want string
	}{
		"no selector":   {interactionQuery(3, nil, nil, nil), "exactly one entity selector, got 0"},
		"two selectors": {interactionQuery(3, ptr(int64(1)), ptr(int64(2)), nil), "exactly one entity selector, got 2"},
		"unknown type":  {interactionQuery(4, ptr(int64(1)), nil, nil), "type 4 is not an interaction type"},
		"negative type": {interactionQuery(-1, ptr(int64(1)), nil, nil), "type -1 is not an interaction type"},
		"no window":     {InteractionQuery{Type: 3, PersonID: ptr(int64(1))}, "start and end are required"},
		"empty window":  {func() InteractionQuery { q := interactionQuery(3, ptr(int64(1)), nil, nil); q.End = q.Start; return q }(), "is not before end"},
		"window reverse": {func() InteractionQuery {
			q := interactionQuery(3, ptr(int64(1)), nil, nil)
			q.Start, q.End = q.End, q.Start
			return q
		}(), "is not before end"},
	} {
		var errs []error
		for _, err := range c.Interactions(t.Context(), tc.q) {
			errs = append(errs, err)
		}
		require.Len(t, errs, 1, name)
		require.ErrorContains(t, errs[0], tc.want, name)
	}
	require.Zero(t, s.hits.Load())
}

func TestValidationErrorNamesTheQuery(t *testing.T) {
	t.Parallel()
	// The server echoes the key in its body; the error must still never carry it.
	refuse := respond(http.StatusUnprocessableEntity, `{"errors":["date range exceeds 1 year for key `+testKey+`"]}`)
	for name, tc := range map[string]struct {
		call func(c *Client) error
		want []string
	}{
		"interactions": {
			call: func(c *Client) error {
				q := interactionQuery(InteractionEmail, ptr(int64(70010001)), nil, nil)
				q.PageToken = "tok-2"
				for _, err := range c.Interactions(t.Context(), q) {
					return err
				}
				return nil
			},
			want: []string{"GET /interactions?", "status 422", "type=3", "person_id=70010001",
				"start_time=2024-01-01T00:00:00.000Z", "end_time=2024-12-31T08:00:00.000Z", "page_token=tok-2", "page_size=100"},
		},
		"relationship strengths": {
			call: func(c *Client) error {
				_, err := c.RelationshipStrengths(t.Context(), 70000001)
				return err
			},
			want: []string{"GET /relationships-strengths?external_id=70000001: status 422"},
		},
		"entity files": {
			call: func(c *Client) error {
				for _, err := range c.EntityFiles(t.Context(), FileQuery{}) {
					return err
				}
				return nil
			},
			want: []string{"GET /entity-files?page_size=500: status 422"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := &scripted{steps: []http.HandlerFunc{refuse}}
			c, _ := newTestClient(t, s)
			err := tc.call(c)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), testKey)
			require.True(t, IsValidation(err))
			require.False(t, IsMerged(err), "a refused listing is no merged entity")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.NotContains(t, apiErr.Query, testKey)
			require.EqualValues(t, 1, s.hits.Load(), "a 422 is not retried")
		})
	}
}

func TestQueryNotShownForOtherEndpoints(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(http.StatusUnprocessableEntity, `{"errors":["Invalid page_token variable"]}`)}}
	c, _ := newTestClient(t, s)
	for _, err := range c.Notes(t.Context(), PageQuery{PageToken: "abc"}) {
		require.EqualError(t, err, "GET /notes: status 422 Unprocessable Entity: {\"errors\":[\"Invalid page_token variable\"]}")
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		require.Empty(t, apiErr.Query)
	}
}

func TestIsValidationAndIsMerged(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		err               error
		validation, merge bool
	}{
		"422 on a listing":        {&APIError{StatusCode: 422, Endpoint: "/interactions"}, true, false},
		"422 on one entity":       {fmt.Errorf("refresh: %w", &APIError{StatusCode: 422, Endpoint: "/persons/{id}"}), true, true},
		"404 on one entity":       {&APIError{StatusCode: 404, Endpoint: "/persons/{id}"}, false, false},
		"400":                     {&APIError{StatusCode: 400, Endpoint: "/entity-files"}, false, false},
		"decode error":            {&DecodeError{Endpoint: "/interactions", Err: errors.New("x")}, false, false},
		"not an API error at all": {errors.New("422"), false, false},
		"nil":                     {nil, false, false},
	} {
		require.Equal(t, tc.validation, IsValidation(tc.err), name)
		require.Equal(t, tc.merge, IsMerged(tc.err), name)
	}
}

func TestInteractionUnmarshalKeepsRaw(t *testing.T) {
	t.Parallel()
	var it Interaction
	require.NoError(t, json.Unmarshal([]byte(emailItem), &it))
	require.Equal(t, emailItem, string(it.Raw))
	require.Equal(t, int64(41250), it.ID)
	require.True(t, strings.HasPrefix(string(it.Raw), `{"id": 41250`))
}

// FuzzInteractionPage feeds arbitrary bodies to the page decoder: it never panics, and a page
// it accepts holds only items whose participants all have ids, each keeping valid JSON as Raw.
func FuzzInteractionPage(f *testing.F) {
	for _, seed := range []string{
		`{"emails": [` + emailItem + `], "next_page_token": null}`,
		`{"events": [` + eventItem + `], "next_page_token": "x"}`,
		`{"data": [` + chatItem + `]}`, `{"a": [], "b": []}`, `{"emails": null}`, `null`, `[]`, `{`,
		`{"emails": [{"id": 1, "to": [{}]}]}`, `{"emails": [{"id": "1"}]}`, `{"next_page_token": 5}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, _, err := decodeInteractionPage(strings.NewReader(string(body)), "emails")
		if err != nil {
			return
		}
		for _, it := range items {
			require.Empty(t, it.participantWithoutID())
			require.True(t, json.Valid(it.Raw), "%s", it.Raw)
		}
	})
}

func TestInteractionsUndecodablePageNamesTheQuery(t *testing.T) {
	t.Parallel()
	srv := &tokenPages{path: "/interactions", bodies: map[string]string{"": `{"emails": [{"id": "x"}]}`}}
	c, _ := newTestClient(t, srv, WithRetry(2, time.Millisecond, time.Millisecond))
	for _, err := range c.Interactions(t.Context(), interactionQuery(InteractionEmail, nil, ptr(int64(50020002)), nil)) {
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		require.ErrorContains(t, err, "GET /interactions organization_id=50020002 type=3: ")
	}
	require.Len(t, srv.sent(), 2, "a body that does not decode is retried like a transport fault")
}
