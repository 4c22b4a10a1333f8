package affinity

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRelationshipStrengths(t *testing.T) {
	t.Parallel()
	// the reference's example (affinity-api-v1.md §10)
	const bare = `[{"internal_id": 70000001, "external_id": 70010001, "strength": 0.62},
 {"internal_id": 70000002, "external_id": 70010001, "strength": 0.18}]`
	want := []RelationshipStrength{
		{InternalID: 70000001, ExternalID: 70010001, Strength: 0.62},
		{InternalID: 70000002, ExternalID: 70010001, Strength: 0.18},
	}
	for name, tc := range map[string]struct {
		body string
		want []RelationshipStrength
	}{
		"bare array":         {bare, want},
		"wrapped in data":    {`{"data": ` + bare + `, "other": 1}`, want},
		"empty":              {`[]`, []RelationshipStrength{}},
		"extra keys ignored": {`[{"internal_id": 1, "external_id": 2, "strength": 1, "note": "x"}]`, []RelationshipStrength{{1, 2, 1}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &tokenPages{path: "/relationships-strengths", bodies: map[string]string{"": tc.body}}
			c, _ := newTestClient(t, srv)
			got, err := c.RelationshipStrengths(t.Context(), 70010001)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, []url.Values{{"external_id": {"70010001"}}}, srv.sent(), "unpaged: no page_size")
		})
	}
}

func TestRelationshipStrengthsGonePerson(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(http.StatusNotFound, `{"error":"Not found"}`)}}
	c, _ := newTestClient(t, s)
	_, err := c.RelationshipStrengths(t.Context(), 7)
	require.True(t, IsNotFound(err))
	require.False(t, IsValidation(err))
	require.ErrorContains(t, err, "GET /relationships-strengths?external_id=7: status 404")
}

func TestEntityFilesSize(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		size string
		want int64
		err  string
	}{
		"number":         {`2483112`, 2483112, ""},
		"numeric string": {`"2483112"`, 2483112, ""},
		"null":           {`null`, 0, ""},
		"zero":           {`0`, 0, ""},
		"text":           {`"big"`, 0, `entity file 77001: size: "big" is not an integer`},
		"fraction":       {`1.5`, 0, `entity file 77001: size: "1.5" is not an integer`},
		"object":         {`{}`, 0, `entity file 77001: size: {} is neither a number nor a string`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var f EntityFile
			err := json.Unmarshal([]byte(`{"id": 77001, "name": "deck-q2.pdf", "size": `+tc.size+`}`), &f)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, EntityFile{ID: 77001, Name: "deck-q2.pdf", Size: tc.want}, f)
		})
	}
}

func TestEntityFilesQuerySent(t *testing.T) {
	t.Parallel()
	// the reference's example (affinity-api-v1.md §12), its size as the docs' table types it
	const page = `{"entity_files": [{"id": 77001, "name": "deck-q2.pdf", "size": "2483112", "person_id": null,
  "organization_id": 50020002, "opportunity_id": null, "uploader_id": 70000001,
  "created_at": "2024-04-03T12:00:00.000-07:00"}], "next_page_token": null}`
	for name, tc := range map[string]struct {
		q    FileQuery
		want url.Values
	}{
		"unfiltered":          {FileQuery{}, url.Values{"page_size": {"500"}}},
		"person, size 50":     {FileQuery{PageQuery: PageQuery{PageSize: 50}, PersonID: ptr(int64(1))}, url.Values{"page_size": {"50"}, "person_id": {"1"}}},
		"organization":        {FileQuery{OrganizationID: ptr(int64(50020002))}, url.Values{"page_size": {"500"}, "organization_id": {"50020002"}}},
		"opportunity clamped": {FileQuery{PageQuery: PageQuery{PageSize: 900}, OpportunityID: ptr(int64(3))}, url.Values{"page_size": {"500"}, "opportunity_id": {"3"}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &tokenPages{path: "/entity-files", bodies: map[string]string{"": page}}
			c, _ := newTestClient(t, srv)
			p := onePage(t, c.EntityFiles(t.Context(), tc.q))
			require.Equal(t, []EntityFile{{ID: 77001, Name: "deck-q2.pdf", Size: 2483112, OrganizationID: ptr(int64(50020002)),
				UploaderID: 70000001, CreatedAt: mustTime(t, "2024-04-03T12:00:00.000-07:00")}}, p.Items)
			require.Equal(t, []url.Values{tc.want}, srv.sent())
		})
	}
}

func TestEntityFilesPagesAndSelectors(t *testing.T) {
	t.Parallel()
	srv := &tokenPages{path: "/entity-files", bodies: map[string]string{
		"":  `{"entity_files": [{"id": 1, "size": 1}], "next_page_token": "b"}`,
		"b": `{"entity_files": [{"id": 2, "size": "2"}], "next_page_token": null}`,
	}}
	c, _ := newTestClient(t, srv)
	var ids []int64
	for p, err := range c.EntityFiles(t.Context(), FileQuery{}) {
		require.NoError(t, err)
		for _, f := range p.Items {
			ids = append(ids, f.ID)
		}
	}
	require.Equal(t, []int64{1, 2}, ids)
	require.Equal(t, []url.Values{{"page_size": {"500"}}, {"page_size": {"500"}, "page_token": {"b"}}}, srv.sent())

	for _, err := range c.EntityFiles(t.Context(), FileQuery{PersonID: ptr(int64(1)), OpportunityID: ptr(int64(2))}) {
		require.EqualError(t, err, "get entity files: want at most one entity selector, got 2")
	}
	require.Len(t, srv.sent(), 2, "two selectors send nothing")
}

func TestEntityFile(t *testing.T) {
	t.Parallel()
	c := serveRecordedBody(t, "/entity-files/77001", `{"id": 77001, "name": "deck-q2.pdf", "size": 2483112, "person_id": 9,
  "organization_id": null, "opportunity_id": null, "uploader_id": 70000001, "created_at": "2024-04-03T12:00:00.000-07:00"}`)
	f, err := c.EntityFile(t.Context(), 77001)
	require.NoError(t, err)
	require.Equal(t, EntityFile{ID: 77001, Name: "deck-q2.pdf", Size: 2483112, PersonID: ptr(int64(9)),
		UploaderID: 70000001, CreatedAt: mustTime(t, "2024-04-03T12:00:00.000-07:00")}, f)

	s := &scripted{steps: []http.HandlerFunc{respond(http.StatusNotFound, `{"error":"Not found"}`)}}
	gone, _ := newTestClient(t, s)
	_, err = gone.EntityFile(t.Context(), 77001)
	require.True(t, IsNotFound(err))
	require.ErrorContains(t, err, "GET /entity-files/77001: status 404")
}

// serveRecordedBody answers exactly one path (any query) with body.
func serveRecordedBody(t *testing.T, path, body string) *Client {
	t.Helper()
	srv := &tokenPages{path: path, bodies: map[string]string{"": body}}
	c, _ := newTestClient(t, srv)
	return c
}

// The reference's example of GET /reminders (affinity-api-v1.md §20.2).
const remindersExample = `{
  "reminders": [
    {"id": 31001, "type": 1, "created_at": "2024-02-01T09:15:00.000-08:00", "completed_at": null,
     "content": "Check in with Northwind before their board meeting",
     "due_date": "2024-06-01T09:15:00.000-07:00", "reset_type": 0, "reminder_days": 45, "status": 1,
     "creator": {"id": 70000001, "type": 1, "first_name": "Ines", "last_name": "Okafor",
                 "primary_email": "ines@ourfund.example", "emails": ["ines@ourfund.example"]},
     "owner": {"id": 70000002, "type": 1, "first_name": "Tomas", "last_name": "Brandt",
               "primary_email": "tomas@ourfund.example", "emails": ["tomas@ourfund.example"]},
     "completer": null, "person": null,
     "organization": {"id": 50020002, "name": "Northwind Robotics", "domain": "northwind.example",
                      "domains": ["northwind.example"], "crunchbase_uuid": null, "global": false},
     "opportunity": null},
    {"id": 31002, "type": 0, "created_at": "2024-03-03T11:00:00.000-08:00",
     "completed_at": "2024-03-09T16:42:10.512-08:00", "content": "Send term sheet comments",
     "due_date": "2024-03-10T00:00:00.000-08:00", "reset_type": null, "reminder_days": null, "status": 0,
     "creator": {"id": 70000001, "type": 1, "first_name": "Ines", "last_name": "Okafor",
                 "primary_email": "ines@ourfund.example", "emails": ["ines@ourfund.example"]},
     "owner": {"id": 70000001, "type": 1, "first_name": "Ines", "last_name": "Okafor",
               "primary_email": "ines@ourfund.example", "emails": ["ines@ourfund.example"]},
     "completer": {"id": 70000001, "type": 1, "first_name": "Ines", "last_name": "Okafor",
                   "primary_email": "ines@ourfund.example", "emails": ["ines@ourfund.example"]},
     "person": {"id": 70010001, "type": 0, "first_name": "Mara", "last_name": "Lindqvist",
                "primary_email": "mara@northwind.example", "emails": ["mara@northwind.example"]},
     "organization": null, "opportunity": null}
  ],
  "next_page_token": null
}`

func exampleReminders(t *testing.T) []Reminder {
	tomas := PersonRef{ID: ptr(int64(70000002)), Type: 1, FirstName: ptr("Tomas"), LastName: ptr("Brandt"),
		PrimaryEmail: ptr("tomas@ourfund.example"), Emails: []string{"tomas@ourfund.example"}}
	return []Reminder{
		{ID: 31001, Type: 1, ResetType: ptr(0), ReminderDays: ptr(45), Status: 1,
			Content:   ptr("Check in with Northwind before their board meeting"),
			DueDate:   ptr(mustTime(t, "2024-06-01T09:15:00.000-07:00")),
			CreatedAt: mustTime(t, "2024-02-01T09:15:00.000-08:00"),
			Creator:   ptr(ines), Owner: &tomas,
			Organization: &ReminderEntity{ID: ptr(int64(50020002)), Name: ptr("Northwind Robotics")}},
		{ID: 31002, Type: 0, Status: 0, Content: ptr("Send term sheet comments"),
			DueDate:     ptr(mustTime(t, "2024-03-10T00:00:00.000-08:00")),
			CreatedAt:   mustTime(t, "2024-03-03T11:00:00.000-08:00"),
			CompletedAt: ptr(mustTime(t, "2024-03-09T16:42:10.512-08:00")),
			Creator:     ptr(ines), Owner: ptr(ines), Completer: ptr(ines), Person: ptr(mara)},
	}
}

func TestRemindersReferenceExample(t *testing.T) {
	t.Parallel()
	srv := &tokenPages{path: "/reminders", bodies: map[string]string{"": remindersExample}}
	c, _ := newTestClient(t, srv)
	p := onePage(t, c.Reminders(t.Context(), PageQuery{}))
	require.Empty(t, p.NextToken)
	require.Equal(t, exampleReminders(t), p.Items)
	require.Equal(t, []url.Values{{"page_size": {"500"}}}, srv.sent(), "no filter: every status")
}

func TestRemindersPages(t *testing.T) {
	t.Parallel()
	srv := &tokenPages{path: "/reminders", bodies: map[string]string{
		"":   `{"reminders": [{"id": 1, "status": 2, "opportunity": {"id": 5}}], "next_page_token": "t2"}`,
		"t2": `{"reminders": [{"id": 2, "status": 7}], "next_page_token": null}`,
	}}
	c, _ := newTestClient(t, srv)
	var got []Reminder
	for p, err := range c.Reminders(t.Context(), PageQuery{PageSize: 10}) {
		require.NoError(t, err)
		got = append(got, p.Items...)
	}
	require.Equal(t, []Reminder{{ID: 1, Status: 2, Opportunity: &ReminderEntity{ID: ptr(int64(5))}}, {ID: 2, Status: 7}}, got,
		"status as received, even an unknown code")
	require.Equal(t, []url.Values{{"page_size": {"10"}}, {"page_size": {"10"}, "page_token": {"t2"}}}, srv.sent())
}

func TestRemindersWithoutID(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		body, token, want string
	}{
		"first page": {`{"reminders": [{"id": 1}, {"id": 2}, {"id": 3}, {"type": 0, "content": "x"}], "next_page_token": null}`, "",
			`decode /reminders: GET /reminders: item 3 has no id`},
		"null item": {`{"reminders": [null], "next_page_token": null}`, "",
			`decode /reminders: GET /reminders: item 0 has no id`},
		"later page": {`{"reminders": [{"content": "x"}], "next_page_token": null}`, "t9",
			`decode /reminders (page token "t9"): GET /reminders: item 0 has no id`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &tokenPages{path: "/reminders", bodies: map[string]string{tc.token: tc.body}}
			c, _ := newTestClient(t, srv)
			var errs []error
			for p, err := range c.Reminders(t.Context(), PageQuery{PageToken: tc.token}) {
				require.Empty(t, p.Items)
				errs = append(errs, err)
			}
			require.Len(t, errs, 1)
			require.EqualError(t, errs[0], tc.want)
			var de *DecodeError
			require.ErrorAs(t, errs[0], &de)
			require.Equal(t, tc.token, de.PageToken)
			require.Len(t, srv.sent(), 1, "not retried")
		})
	}
}

func TestReminder(t *testing.T) {
	t.Parallel()
	var page struct {
		Reminders []json.RawMessage `json:"reminders"`
	}
	require.NoError(t, json.Unmarshal([]byte(remindersExample), &page))
	c := serveRecordedBody(t, "/reminders/31002", string(page.Reminders[1]))
	r, err := c.Reminder(t.Context(), 31002)
	require.NoError(t, err)
	require.Equal(t, exampleReminders(t)[1], r)

	bad := serveRecordedBody(t, "/reminders/31002", `{"type": 0}`)
	_, err = bad.Reminder(t.Context(), 31002)
	require.EqualError(t, err, "decode /reminders/31002: GET /reminders/31002: reminder has no id")

	s := &scripted{steps: []http.HandlerFunc{respond(http.StatusNotFound, `{"error":"Not found"}`)}}
	gone, _ := newTestClient(t, s)
	_, err = gone.Reminder(t.Context(), 31002)
	require.True(t, IsNotFound(err))
}

// Webhook deliveries carry the REST object as their body (affinity-api-v1.md §13): file.* an
// entity file, reminder.* a reminder; both decode with the client's types.
func TestWebhookBodiesDecode(t *testing.T) {
	t.Parallel()
	var page struct {
		Reminders []json.RawMessage `json:"reminders"`
	}
	require.NoError(t, json.Unmarshal([]byte(remindersExample), &page))
	deliveries := map[string]string{
		"file.created": `{"type": "file.created", "sent_at": 1731000000, "body": {"id": 77001, "name": "deck-q2.pdf",
			"size": "2483112", "person_id": null, "organization_id": 50020002, "opportunity_id": null,
			"uploader_id": 70000001, "created_at": "2024-04-03T12:00:00.000-07:00"}}`,
		"reminder.updated": `{"type": "reminder.updated", "sent_at": 1731000000, "body": ` + string(page.Reminders[0]) + `}`,
	}
	var d struct {
		Type string          `json:"type"`
		Body json.RawMessage `json:"body"`
	}
	require.NoError(t, json.Unmarshal([]byte(deliveries["file.created"]), &d))
	var f EntityFile
	require.NoError(t, json.Unmarshal(d.Body, &f))
	require.Equal(t, EntityFile{ID: 77001, Name: "deck-q2.pdf", Size: 2483112, OrganizationID: ptr(int64(50020002)),
		UploaderID: 70000001, CreatedAt: mustTime(t, "2024-04-03T12:00:00.000-07:00")}, f)

	require.NoError(t, json.Unmarshal([]byte(deliveries["reminder.updated"]), &d))
	var r Reminder
	require.NoError(t, json.Unmarshal(d.Body, &r))
	require.Equal(t, exampleReminders(t)[0], r)
}
