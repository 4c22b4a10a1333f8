package affinity

import (
	"encoding/json"
	"iter"
	"net/http"
	"testing"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

// serveRecorded returns a client whose server answers exactly one path and query with a
// recorded file, and 404 for anything else.
func serveRecorded(t *testing.T, path, rawQuery, file string) *Client {
	t.Helper()
	body := readRecorded(t, file)
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !checkAuth(w, r) {
			return
		}
		if r.URL.Path != path || r.URL.RawQuery != rawQuery {
			t.Errorf("request %s?%s, want %s?%s", r.URL.Path, r.URL.RawQuery, path, rawQuery)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	return c
}

// onePage collects the single page of a listing and fails unless it is the only one.
func onePage[T any](t *testing.T, seq iter.Seq2[Page[T], error]) Page[T] {
	t.Helper()
	var pages []Page[T]
	for p, err := range seq {
		require.NoError(t, err)
		pages = append(pages, p)
	}
	require.Len(t, pages, 1)
	return pages[0]
}

func TestRecordedPersons(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/persons", "page_size=500", "persons_search.json")
	p := onePage(t, c.Persons(t.Context(), PersonQuery{}))
	require.Empty(t, p.NextToken)
	require.Len(t, p.Items, 3)
	require.Equal(t, int64(198383654), p.Items[0].ID)
	require.Equal(t, "Joscha", *p.Items[0].FirstName)
	require.Equal(t, "and Else's appointments", *p.Items[1].LastName)
	require.Equal(t, 1, p.Items[2].Type)
	require.Equal(t, "j@p-a.com", *p.Items[2].PrimaryEmail)
	require.Equal(t, []string{"j@p-a.com", "j@f.com", "jf@j.com", "j@c.com", "jf@a.com"}, p.Items[2].Emails)
	require.Nil(t, p.Items[2].InteractionDates)
	require.Nil(t, p.Items[2].OrganizationIDs)
}

func TestRecordedPersonsWithDates(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/persons", "page_size=500&with_interaction_dates=true", "persons_search_with_dates.json")
	p := onePage(t, c.Persons(t.Context(), PersonQuery{WithInteractionDates: true}))
	require.Empty(t, p.NextToken, "no next_page_token key means last page")
	require.Len(t, p.Items, 1)
	d := p.Items[0].InteractionDates
	require.NotNil(t, d)
	require.True(t, d.FirstEmailDate.Equal(mustTime(t, "2021-05-31T16:00:37Z")))
	require.True(t, d.LastInteractionDate.Equal(mustTime(t, "2022-07-08T07:00:00Z")))
	require.Nil(t, d.LastChatMessageDate)
	require.Nil(t, d.NextEventDate)
}

func TestRecordedPerson(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/persons/54576635", "", "persons_get.json")
	p, err := c.Person(t.Context(), 54576635, false)
	require.NoError(t, err)
	require.Equal(t, int64(54576635), p.ID)
	require.Equal(t, []int64{290555008, 3584837, 295075617, 1517097, 1687113, 296715824}, p.OrganizationIDs)
	require.Len(t, p.ListEntries, 2)
	require.Equal(t, ListEntryRef{
		ID: 158330666, ListID: 247888, CreatorID: ptr(int64(54576635)), EntityID: 54576635,
		EntityType: ptr(loader.EntityPerson), CreatedAt: mustTime(t, "2024-05-23T12:27:09.733Z"),
	}, p.ListEntries[1])
}

func TestRecordedPersonFields(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/persons/fields", "", "persons_get_fields.json")
	fields, err := c.PersonFields(t.Context())
	require.NoError(t, err)
	require.Len(t, fields, 3)
	require.Equal(t, Field{ID: 1615, Name: "Address", ValueType: ValueLocation, DropdownOptions: []DropdownOption{}}, fields[2])
	require.True(t, fields[0].AllowsMultiple)
	require.Nil(t, fields[0].ListID)
}

func TestRecordedOrganizations(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/organizations", "page_size=500", "organizations_search.json")
	var p Page[Organization]
	for page, err := range c.Organizations(t.Context(), OrganizationQuery{}) {
		require.NoError(t, err)
		p = page
		break // the recording names a next page this server does not have
	}
	require.Equal(t, "eyJwYXJhbXMiOnsidGVybSI6IiJ9LCJwYWdlX3NpemUiOjUsIm9mZnNldCI6MTB9", p.NextToken)
	require.Len(t, p.Items, 2)
	require.Equal(t, "Brand Affinity Technologies", p.Items[1].Name)
	require.Equal(t, "brandaffinity.net", *p.Items[1].Domain)
	require.True(t, p.Items[1].Global)
	require.False(t, p.Items[0].Global)
}

func TestRecordedOrganization(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/organizations/64779194", "with_interaction_dates=true", "organizations_get.json")
	o, err := c.Organization(t.Context(), 64779194, true)
	require.NoError(t, err)
	require.Equal(t, "affinity.co", *o.Domain)
	require.Equal(t, []int64{89734, 117270, 138123, 274492, 304848}, o.PersonIDs)
	require.Equal(t, []int64{4, 11}, o.OpportunityIDs)
	require.Len(t, o.ListEntries, 1)
	require.Nil(t, o.ListEntries[0].EntityType, "this recording omits entity_type")
	require.Nil(t, o.CrunchbaseUUID)
	require.NotNil(t, o.InteractionDates)
	require.True(t, o.InteractionDates.NextEventDate.Equal(mustTime(t, "2019-03-04T13:06:07.890Z")))
}

func TestRecordedOrganizationFields(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/organizations/fields", "", "organizations_get_fields.json")
	fields, err := c.OrganizationFields(t.Context())
	require.NoError(t, err)
	require.Len(t, fields, 3)
	require.Equal(t, "Last Funding Date", fields[2].Name)
	require.Equal(t, ValueDate, fields[2].ValueType)
}

func TestRecordedLists(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/lists", "", "lists_all.json")
	lists, err := c.Lists(t.Context())
	require.NoError(t, err)
	require.Len(t, lists, 3)
	require.Equal(t, List{ID: 384, Type: loader.EntityOpportunity, Name: "My List of Opportunities", Public: true,
		OwnerID: ptr(int64(38706)), ListSize: ptr(int64(23))}, lists[2])
}

func TestRecordedList(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/lists/450", "", "lists_single.json")
	l, err := c.List(t.Context(), 450)
	require.NoError(t, err)
	require.Equal(t, "My List of People", l.Name)
	require.Len(t, l.Fields, 2)
	require.Equal(t, []DropdownOption{{ID: 886, Text: "Interested", Rank: ptr(1), Color: ptr(0)}}, l.Fields[0].DropdownOptions)
	require.Equal(t, ValueRankedDropdown, l.Fields[0].ValueType)
}

func TestRecordedListEntriesBareArray(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/lists/247888/list-entries", "page_size=500", "list_entries_all.json")
	p := onePage(t, c.ListEntries(t.Context(), 247888, PageQuery{}))
	require.Empty(t, p.NextToken)
	require.Len(t, p.Items, 3)
	require.Equal(t, p.Items[0].EntityID, p.Items[1].EntityID, "the same person is on the list twice")
	require.NotEqual(t, p.Items[0].ID, p.Items[1].ID)
	require.Equal(t, int64(158330666), p.Items[2].ID)
	require.True(t, p.Items[2].CreatedAt.Equal(mustTime(t, "2024-05-23T12:27:09.733Z")))
	var entity Person
	require.NoError(t, json.Unmarshal(p.Items[2].Entity, &entity))
	require.Equal(t, "Feth", *entity.LastName)
}

func TestRecordedListEntry(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/lists/450/list-entries/16367", "", "list_entries_get.json")
	e, err := c.ListEntry(t.Context(), 450, 16367)
	require.NoError(t, err)
	require.Equal(t, int64(987), e.EntityID)
	require.Nil(t, e.EntityType)
	require.Equal(t, int64(123), *e.CreatorID)
	require.True(t, e.CreatedAt.Equal(mustTime(t, "2017-02-22T23:22:21.125Z")))
	require.Contains(t, string(e.Entity), `"jdoe@stanford.edu"`)
}

func TestRecordedFields(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/fields", "", "fields_all.json")
	fields, err := c.Fields(t.Context(), FieldQuery{})
	require.NoError(t, err)
	require.Len(t, fields, 3)
	require.Equal(t, Field{ID: 4321, Name: "[Companies] Description", ListID: ptr(int64(18)),
		EnrichmentSource: ptr("dealroom"), ValueType: ValueText, DropdownOptions: []DropdownOption{}}, fields[2])
	require.True(t, fields[0].TrackChanges)
}

func TestRecordedFieldValues(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/field-values", "person_id=38706", "field_values_get_all.json")
	values, err := c.FieldValues(t.Context(), EntitySelector{PersonID: ptr(int64(38706))})
	require.NoError(t, err)
	require.Len(t, values, 2)

	loc := values[0]
	require.Equal(t, int64(250616), loc.ID)
	require.Nil(t, loc.ListEntryID)
	require.Nil(t, loc.ValueType, "first item has no value_type")
	require.Nil(t, loc.EntityType)
	require.True(t, loc.CreatedAt.Equal(mustTime(t, "2021-10-04T12:54:24.694Z")))
	require.True(t, loc.UpdatedAt.Equal(mustTime(t, "2022-03-04T12:54:24.694Z")))
	require.Equal(t, "San Francisco, California, United States", *loc.Value.Project(ValueLocation).Text)

	job := values[1]
	require.Equal(t, int64(2634897436), job.ID)
	require.Equal(t, ValueDropdown, *job.ValueType)
	require.Equal(t, loader.EntityPerson, *job.EntityType)
	require.Nil(t, job.UpdatedAt)
	require.JSONEq(t, `"Software Engineer"`, string(job.Value.Raw))
	require.Equal(t, "Software Engineer", *job.Value.Project(*job.ValueType).Text)
}

func TestRecordedFieldValueChanges(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/field-value-changes", "field_id=236333", "field_value_changes_all.json")
	var all []FieldValueChange
	for chunk, err := range c.FieldValueChanges(t.Context(), ChangeQuery{FieldID: 236333}) {
		require.NoError(t, err)
		all = append(all, chunk...)
	}
	require.Len(t, all, 1)
	ch := all[0]
	require.Equal(t, int64(50822718), ch.ID)
	require.Equal(t, int64(15709964), *ch.ListEntryID)
	require.Equal(t, ActionCreate, ch.ActionType)
	require.Equal(t, &Changer{ID: 38706, Type: ptr(0), FirstName: ptr("Jane"), LastName: ptr("Doe"),
		PrimaryEmail: ptr("jane@gmail.com")}, ch.Changer)
	require.True(t, ch.ChangedAt.Equal(mustTime(t, "2020-04-11T22:46:50.963Z")))
	proj := ch.Value.Project(ValueRankedDropdown)
	require.Equal(t, "New", *proj.Text)
	require.Equal(t, int64(1607859), *proj.OptionID)
}

func TestRecordedNotes(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/notes", "page_size=500", "notes_all.json")
	p := onePage(t, c.Notes(t.Context(), PageQuery{}))
	require.Len(t, p.Items, 2)
	n := p.Items[0]
	require.Equal(t, int64(20421456), n.ID)
	require.Equal(t, []int64{297551634}, n.OrganizationIDs)
	require.Equal(t, 2, n.Type)
	require.Nil(t, n.InteractionID)
	require.Nil(t, n.UpdatedAt)
	require.Equal(t, "Test text", *p.Items[1].Content)
	require.True(t, n.CreatedAt.Equal(mustTime(t, "2024-08-13T10:23:07.846Z")))
}

func TestRecordedRateLimit(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/rate-limit", "", "rate_limit.json")
	rl, err := c.RateLimit(t.Context())
	require.NoError(t, err)
	require.Equal(t, RateLimit{
		OrgMonthly: Quota{Limit: Count{Known: true, Unlimited: true}, Remaining: Count{Known: true, Unlimited: true},
			Reset: 2124845, Used: 7},
		APIKeyPerMinute: Quota{Limit: Count{Known: true, N: 900}, Remaining: Count{Known: true, N: 878},
			Reset: 10, Used: 22},
	}, rl)
}

func TestRecordedWhoAmI(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/auth/whoami", "", "whoami.json")
	w, err := c.WhoAmI(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(12345), w.Tenant.ID)
	require.Equal(t, "Workspace Name", w.Tenant.Name)
	require.Equal(t, "workspace", w.Tenant.Subdomain)
	require.Equal(t, int64(123456789), w.User.ID)
	require.Equal(t, "First", w.User.FirstName)
	require.Equal(t, "Last", w.User.LastName)
	require.Equal(t, "first@last.com", w.User.Email)
	require.Equal(t, "api_key", w.Grant.Type)
	require.Equal(t, "external_api", w.Grant.Scope)
	require.True(t, w.Grant.CreatedAt.Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)))
}

func TestRecordedEntityFiles(t *testing.T) {
	t.Parallel()
	c := serveRecorded(t, "/entity-files", "page_size=500", "entity_files_all.json")
	p := onePage(t, c.EntityFiles(t.Context(), FileQuery{}))
	require.Empty(t, p.NextToken)
	require.Equal(t, []EntityFile{
		{ID: 43212, Name: "JohnDoeFriends.csv", Size: 993, PersonID: ptr(int64(142)), UploaderID: 10,
			CreatedAt: mustTime(t, "2011-01-25T09:59:35.288-08:00")},
		{ID: 131, Name: "Import.csv", Size: 227224, PersonID: ptr(int64(38654)), UploaderID: 101,
			CreatedAt: mustTime(t, "2019-01-13T12:52:51.539-08:00")},
	}, p.Items)
}
