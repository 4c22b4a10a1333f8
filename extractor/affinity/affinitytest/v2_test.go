package affinitytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

// ---- v2 helpers ----

func bearer(key string) string { return "Bearer " + key }

// v2 sends an authorized v2 GET (path or absolute URL) and requires the status.
func (f *fixture) v2(path string, status int) response {
	f.t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = f.url + path
	}
	req, err := http.NewRequestWithContext(f.t.Context(), http.MethodGet, path, nil)
	require.NoError(f.t, err)
	req.Header.Set("Authorization", bearer(testKey))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	require.Equal(f.t, status, resp.StatusCode, "GET %s: %s", path, raw)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

type v2Envelope struct {
	Data       []map[string]any `json:"data"`
	Pagination struct {
		PrevURL *string `json:"prevUrl"`
		NextURL *string `json:"nextUrl"`
	} `json:"pagination"`
}

func (f *fixture) v2Page(path string) v2Envelope {
	f.t.Helper()
	var env v2Envelope
	require.NoError(f.t, json.Unmarshal(f.v2(path, http.StatusOK).body, &env), "GET %s", path)
	return env
}

// v2All follows nextUrl verbatim from path to the end and returns every item.
func (f *fixture) v2All(path string) []map[string]any {
	f.t.Helper()
	var out []map[string]any
	next := path
	for range 100000 {
		env := f.v2Page(next)
		out = append(out, env.Data...)
		if env.Pagination.NextURL == nil {
			return out
		}
		require.True(f.t, strings.HasPrefix(*env.Pagination.NextURL, f.url+"/v2/"), "nextUrl %s is absolute, on this host", *env.Pagination.NextURL)
		require.NotEqual(f.t, next, *env.Pagination.NextURL, "the cursor advances")
		next = *env.Pagination.NextURL
	}
	f.t.Fatalf("GET %s: paging does not end", path)
	return nil
}

type v2ErrorBody struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Param   string `json:"param"`
	} `json:"errors"`
}

func requireV2Error(t *testing.T, r response, code, param string) {
	t.Helper()
	var e v2ErrorBody
	require.NoError(t, json.Unmarshal(r.body, &e), "body %s", r.body)
	require.Len(t, e.Errors, 1, "body %s", r.body)
	require.Equal(t, code, e.Errors[0].Code, "body %s", r.body)
	require.Equal(t, param, e.Errors[0].Param, "body %s", r.body)
	require.NotEmpty(t, e.Errors[0].Message)
}

func listPath(id int64, query string) string {
	return "/v2/lists/" + strconv.FormatInt(id, 10) + "/list-entries?" + query
}

const allEntryTypes = "fieldTypes=global&fieldTypes=enriched&fieldTypes=list"

func fieldsOf(t *testing.T, entity map[string]any) []map[string]any {
	t.Helper()
	raw, ok := entity["fields"].([]any)
	require.True(t, ok, "entity.fields is an array: %v", entity)
	out := make([]map[string]any, len(raw))
	for i, f := range raw {
		out[i] = f.(map[string]any)
	}
	return out
}

// ---- a hand conversion of both sides to comparable strings ----

// v1Canon is a v1 value in a comparable form, by the v1 value type.
func v1Canon(t *testing.T, valueType int, v any) string {
	t.Helper()
	switch valueType {
	case ValuePerson, ValueOrganization, ValueNumber:
		return fmt.Sprint(v.(float64))
	case ValueDate:
		ts, err := time.Parse(time.RFC3339Nano, v.(string))
		require.NoError(t, err)
		return ts.UTC().Format(time.RFC3339Nano)
	case ValueLocation:
		m := v.(map[string]any)
		return fmt.Sprint(m["street_address"], "|", m["city"], "|", m["state"], "|", m["country"], "|", m["continent"])
	case ValueRankedDropdown:
		m := v.(map[string]any)
		return fmt.Sprint(m["id"], "|", m["text"], "|", m["rank"])
	}
	return v.(string) // dropdown, text, filterable text
}

// v2Canon is one v2 item (not a -multi array) in the same form, by the v2 value type.
func v2Canon(t *testing.T, typ string, d any) string {
	t.Helper()
	switch strings.TrimSuffix(typ, "-multi") {
	case "person", "company":
		return fmt.Sprint(d.(map[string]any)["id"].(float64))
	case "number":
		return fmt.Sprint(d.(float64))
	case "datetime":
		s := d.(string)
		require.True(t, strings.HasSuffix(s, "Z"), "v2 datetimes are UTC: %s", s)
		ts, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return ts.UTC().Format(time.RFC3339Nano)
	case "location":
		m := d.(map[string]any)
		return fmt.Sprint(m["streetAddress"], "|", m["city"], "|", m["state"], "|", m["country"], "|", m["continent"])
	case "dropdown":
		m := d.(map[string]any)
		require.Contains(t, m, "dropdownOptionId")
		return m["text"].(string)
	case "ranked-dropdown":
		m := d.(map[string]any)
		_, isString := m["color"].(string)
		require.True(t, isString, "ranked-dropdown color is a string: %v", m)
		return fmt.Sprint(m["dropdownOptionId"], "|", m["text"], "|", m["rank"])
	}
	return d.(string)
}

// v1FieldOf maps a v2 field id to the v1 field: field-<n> is field n, an enriched id is the
// one v1 field of the entity type with that name and an enrichment source; other ids are no
// field values (nil).
func v1FieldOf(t *testing.T, ws *Workspace, entityType loader.EntityKind, fd map[string]any) *Field {
	t.Helper()
	id := fd["id"].(string)
	if n, ok := strings.CutPrefix(id, "field-"); ok {
		fid, err := strconv.ParseInt(n, 10, 64)
		require.NoError(t, err)
		f := ws.Field(fid)
		require.NotNil(t, f, "v2 field %s", id)
		return f
	}
	if fd["type"] != "enriched" {
		return nil
	}
	var match []*Field
	for _, f := range ws.Fields {
		if f.ListID == nil && f.EntityType == entityType && f.Name == fd["name"] && f.EnrichmentSource != "none" {
			match = append(match, f)
		}
	}
	if len(match) == 0 {
		return nil // persons, companies
	}
	require.Len(t, match, 1, "enriched field %s", id)
	require.Equal(t, match[0].EnrichmentSource, fd["enrichmentSource"])
	return match[0]
}

type canonValue struct {
	key string
	id  int64 // v1 value id; 0 on the v2 side
}

// v2Values converts an entity's v2 fields to (field, list entry, value) keys and reports the
// v1 fields they carry.
func v2Values(t *testing.T, ws *Workspace, entityType loader.EntityKind, fields []map[string]any, entryID *int64) ([]string, map[int64]bool) {
	t.Helper()
	var out []string
	carried := map[int64]bool{}
	for _, fd := range fields {
		f := v1FieldOf(t, ws, entityType, fd)
		if f == nil {
			continue
		}
		carried[f.ID] = true
		val := fd["value"].(map[string]any)
		require.Equal(t, V2ValueType(f), val["type"], "field %s", fd["id"])
		var le *int64
		if f.ListID != nil {
			le = entryID
		}
		items := []any{val["data"]}
		if f.AllowsMultiple {
			if val["data"] == nil {
				items = nil
			} else {
				arr, ok := val["data"].([]any)
				require.True(t, ok, "a -multi value is an array or null: %v", val)
				require.NotEmpty(t, arr, "an empty multi value is null")
				items = arr
			}
		} else if val["data"] == nil {
			items = nil
		}
		for _, d := range items {
			out = append(out, fmt.Sprintf("%d|%v|%s", f.ID, ptrVal(le), v2Canon(t, val["type"].(string), d)))
		}
	}
	return out, carried
}

func ptrVal(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// v1Values reads v1 /field-values of an entity and keeps the non-null values of carried
// fields that are global or on entry entryID.
func (f *fixture) v1Values(ws *Workspace, param string, entityID int64, entryID *int64, carried map[int64]bool) []canonValue {
	f.t.Helper()
	var rows []map[string]any
	f.getJSON(fmt.Sprintf("/field-values?%s=%d", param, entityID), &rows)
	var out []canonValue
	for _, r := range rows {
		fid := int64(r["field_id"].(float64))
		if !carried[fid] || r["value"] == nil {
			continue
		}
		var le *int64
		if r["list_entry_id"] != nil {
			n := int64(r["list_entry_id"].(float64))
			if entryID == nil || n != *entryID {
				continue
			}
			le = &n
		}
		out = append(out, canonValue{
			key: fmt.Sprintf("%d|%v|%s", fid, ptrVal(le), v1Canon(f.t, ws.Field(fid).ValueType, r["value"])),
			id:  int64(r["id"].(float64)),
		})
	}
	return out
}

// diff matches v1 and v2 values as multisets; it returns the ids of unmatched v1 values and
// the unmatched v2 keys.
func diff(v1 []canonValue, v2 []string) (v1Only []int64, v2Only []string) {
	left := map[string]int{}
	for _, k := range v2 {
		left[k]++
	}
	for _, v := range v1 {
		if left[v.key] > 0 {
			left[v.key]--
			continue
		}
		v1Only = append(v1Only, v.id)
	}
	for k, n := range left {
		for range n {
			v2Only = append(v2Only, k)
		}
	}
	slices.Sort(v2Only)
	return v1Only, v2Only
}

// crossCheck compares, for every entry on every list, the v2 entry's values with v1's
// /field-values of its entity, restricted to the fields v2 carries.
func (f *fixture) crossCheck() (v1Only []int64, v2Only []string, entries int) {
	f.t.Helper()
	t := f.t
	ws := f.srv.Snapshot()
	for _, l := range ws.Lists {
		items := f.v2All(listPath(l.ID, allEntryTypes+"&limit=37"))
		require.Len(t, items, ws.ListSize(l.ID))
		for _, e := range items {
			entryID := int64(e["id"].(float64))
			le := ws.ListEntry(entryID)
			require.NotNil(t, le)
			entity := e["entity"].(map[string]any)
			fields := fieldsOf(t, entity)
			v2, carried := v2Values(t, ws, l.Type, fields, &entryID)
			// Every v1 field of the entity type and of the list is carried, except Crunchbase's.
			for _, fd := range ws.Fields {
				global := fd.ListID == nil && fd.EntityType == l.Type && l.Type != loader.EntityOpportunity
				onList := fd.ListID != nil && *fd.ListID == l.ID
				if (global || onList) && fd.EnrichmentSource != "crunchbase" {
					require.True(t, carried[fd.ID], "entry %d carries field %d (%s)", entryID, fd.ID, fd.Name)
				}
			}
			v1 := f.v1Values(ws, l.Type.SelectorParam(), le.EntityID, &entryID, carried)
			a, b := diff(v1, v2)
			v1Only = append(v1Only, a...)
			v2Only = append(v2Only, b...)
			entries++
		}
	}
	return v1Only, v2Only, entries
}

// ---- tests ----

func TestV2CrossCheckListEntriesAgainstV1(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	v1Only, v2Only, entries := f.crossCheck()
	require.Greater(t, entries, 200)
	require.Empty(t, v1Only, "v1 values v2 does not serve")
	require.Empty(t, v2Only, "v2 values v1 does not serve")
}

func TestV2EntitiesAgainstV1(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	ws := f.srv.Snapshot()
	for _, c := range []struct {
		path string
		typ  loader.EntityKind
		n    int
	}{{"/v2/persons?fieldTypes=global&fieldTypes=enriched&limit=61", loader.EntityPerson, len(ws.Persons)},
		{"/v2/companies?fieldTypes=global&fieldTypes=enriched", loader.EntityOrganization, len(ws.Organizations)}} {
		items := f.v2All(c.path)
		require.Len(t, items, c.n)
		for _, it := range items {
			id := idOf(t, it)
			v2, carried := v2Values(t, ws, c.typ, fieldsOf(t, it), nil)
			a, b := diff(f.v1Values(ws, c.typ.SelectorParam(), id, nil, carried), v2)
			require.Empty(t, a, "%s entity %d", c.path, id)
			require.Empty(t, b, "%s entity %d", c.path, id)
		}
	}
}

func TestV2DisagreeOnExactlyOneValue(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	want := ws.V2DisagreeValue()
	require.NotNil(t, want)
	require.Equal(t, ValueText, ws.Field(want.FieldID).ValueType)
	f := newFixture(t, ws, WithV2Disagree())
	v1Only, v2Only, _ := f.crossCheck()
	require.NotEmpty(t, v1Only)
	for _, id := range v1Only {
		require.Equal(t, want.ID, id, "only the documented value differs")
	}
	require.Len(t, v2Only, len(v1Only))
	for _, k := range v2Only {
		require.True(t, strings.HasSuffix(k, V2DisagreeSuffix), k)
	}
	// It is on the first list, among the first entries, so a probe of the first page sees it.
	first := ws.Lists[0]
	env := f.v2Page(listPath(first.ID, allEntryTypes+"&limit=5"))
	found := false
	for _, e := range env.Data {
		for _, fd := range fieldsOf(t, e["entity"].(map[string]any)) {
			if s, ok := fd["value"].(map[string]any)["data"].(string); ok && strings.HasSuffix(s, V2DisagreeSuffix) {
				found = true
			}
		}
	}
	require.True(t, found, "the altered value is on the first page of the first list")

	// Turned off, v2 agrees again.
	f.srv.SetV2Disagree(false)
	v1Only, v2Only, _ = f.crossCheck()
	require.Empty(t, v1Only)
	require.Empty(t, v2Only)
}

func TestV2ListEntryShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	ws := f.srv.Snapshot()
	for _, typ := range []loader.EntityKind{loader.EntityPerson, loader.EntityOrganization, loader.EntityOpportunity} {
		l := firstListOfType(t, ws, typ)
		env := f.v2Page(listPath(l.ID, allEntryTypes+"&fieldTypes=relationship-intelligence&limit=3"))
		require.Len(t, env.Data, 3)
		require.Nil(t, env.Pagination.PrevURL)
		e := env.Data[0]
		le := ws.EntriesOf(l.ID)[0]
		require.ElementsMatch(t, []string{"id", "type", "listId", "createdAt", "creatorId", "entity"}, keys(e))
		require.Equal(t, float64(le.ID), e["id"])
		require.Equal(t, map[loader.EntityKind]string{loader.EntityPerson: "person", loader.EntityOrganization: "company", loader.EntityOpportunity: "opportunity"}[typ], e["type"])
		require.Equal(t, float64(l.ID), e["listId"])
		require.True(t, strings.HasSuffix(e["createdAt"].(string), "Z"))
		entity := e["entity"].(map[string]any)
		require.Equal(t, float64(le.EntityID), entity["id"])
		switch typ {
		case loader.EntityPerson:
			require.Subset(t, keys(entity), []string{"firstName", "lastName", "primaryEmailAddress", "emailAddresses", "type", "fields"})
		case loader.EntityOrganization:
			require.Subset(t, keys(entity), []string{"name", "domain", "domains", "isGlobal", "fields"})
		case loader.EntityOpportunity:
			require.Subset(t, keys(entity), []string{"name", "listId", "isRestricted", "isRedacted", "fields"})
		}
		ids := map[string]map[string]any{}
		for _, fd := range fieldsOf(t, entity) {
			require.ElementsMatch(t, []string{"id", "name", "type", "enrichmentSource", "value"}, keys(fd))
			v := fd["value"].(map[string]any)
			require.Contains(t, v, "type")
			require.Contains(t, v, "data", "a field without a value still has data (null)")
			ids[fd["id"].(string)] = fd
		}
		switch typ {
		case loader.EntityOpportunity:
			require.Contains(t, ids, "persons")
			require.Contains(t, ids, "companies")
			require.Equal(t, "list", ids["persons"]["type"])
			require.NotContains(t, ids, "last-email", "opportunities have no relationship intelligence")
		default:
			require.Contains(t, ids, "last-email")
			require.Equal(t, "relationship-intelligence", ids["last-email"]["type"])
		}
	}

	// Enriched fields keep their v1 name and source.
	org := firstListOfType(t, ws, loader.EntityOrganization)
	env := f.v2Page(listPath(org.ID, "fieldIds=dealroom-description&limit=1"))
	fds := fieldsOf(t, env.Data[0]["entity"].(map[string]any))
	require.Len(t, fds, 1)
	require.Equal(t, "Description", fds[0]["name"])
	require.Equal(t, "enriched", fds[0]["type"])
	require.Equal(t, "dealroom", fds[0]["enrichmentSource"])

	// Without a selector, no field data; Crunchbase fields are never served.
	env = f.v2Page(listPath(org.ID, "limit=2"))
	require.Empty(t, fieldsOf(t, env.Data[0]["entity"].(map[string]any)))
	r := f.v2(listPath(org.ID, "fieldIds=crunchbase-crunchbase-rank"), http.StatusBadRequest)
	requireV2Error(t, r, "validation", "fieldIds")
	r = f.v2(listPath(org.ID, "fieldTypes=bogus"), http.StatusBadRequest)
	requireV2Error(t, r, "validation", "fieldTypes")
	requireV2Error(t, f.v2("/v2/lists/1/list-entries", http.StatusNotFound), "not-found", "")
	requireV2Error(t, f.v2("/v2/nothing-here", http.StatusNotFound), "not-found", "")
}

func TestV2ValueShapes(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	snap := f.srv.Snapshot()
	l := firstListOfType(t, snap, loader.EntityOrganization)
	seen := map[string]bool{}
	for _, e := range f.v2All(listPath(l.ID, allEntryTypes)) {
		for _, fd := range fieldsOf(t, e["entity"].(map[string]any)) {
			v := fd["value"].(map[string]any)
			typ := v["type"].(string)
			d := v["data"]
			if d == nil {
				continue
			}
			item := d
			if strings.HasSuffix(typ, "-multi") {
				item = d.([]any)[0]
			}
			seen[strings.TrimSuffix(typ, "-multi")] = true
			switch strings.TrimSuffix(typ, "-multi") {
			case "person":
				require.ElementsMatch(t, []string{"id", "firstName", "lastName", "primaryEmailAddress", "type"}, keys(item.(map[string]any)))
			case "company":
				require.ElementsMatch(t, []string{"id", "name", "domain"}, keys(item.(map[string]any)))
			case "dropdown":
				require.ElementsMatch(t, []string{"dropdownOptionId", "text"}, keys(item.(map[string]any)))
			case "ranked-dropdown":
				require.ElementsMatch(t, []string{"dropdownOptionId", "text", "rank", "color"}, keys(item.(map[string]any)))
			case "location":
				require.ElementsMatch(t, []string{"streetAddress", "city", "state", "country", "continent"}, keys(item.(map[string]any)))
			case "number":
				require.IsType(t, float64(0), item)
			case "text", "filterable-text", "datetime":
				require.IsType(t, "", item)
			}
		}
	}
	for _, typ := range []string{"person", "company", "dropdown", "ranked-dropdown", "location", "number", "text", "filterable-text", "datetime"} {
		require.True(t, seen[typ], "an organization list shows a %s value", typ)
	}
}

func TestV2PagingAndCursors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	ws := f.srv.Snapshot()
	l := firstListOfType(t, ws, loader.EntityPerson)

	// Following nextUrl gives every entry once, in id order; it keeps the query params.
	first := f.v2Page(listPath(l.ID, "fieldTypes=list&limit=7"))
	require.Len(t, first.Data, 7)
	require.Nil(t, first.Pagination.PrevURL)
	require.NotNil(t, first.Pagination.NextURL)
	next, err := url.Parse(*first.Pagination.NextURL)
	require.NoError(t, err)
	require.Equal(t, f.url, next.Scheme+"://"+next.Host)
	require.Equal(t, []string{"list"}, next.Query()["fieldTypes"])
	require.Equal(t, "7", next.Query().Get("limit"))
	c, err := DecodeV2Cursor(next.Query().Get("cursor"))
	require.NoError(t, err)
	require.Equal(t, V2Cursor{ID: idOf(t, first.Data[6])}, c)

	second := f.v2Page(*first.Pagination.NextURL)
	require.NotNil(t, second.Pagination.PrevURL, "a later page links back")
	back := f.v2Page(*second.Pagination.PrevURL)
	require.Equal(t, first.Data, back.Data)

	var got []int64
	for _, e := range f.v2All(listPath(l.ID, "limit=7")) {
		got = append(got, idOf(t, e))
	}
	var want []int64
	for _, e := range ws.EntriesOf(l.ID) {
		want = append(want, e.ID)
	}
	require.Equal(t, want, got)

	// Exactly full pages: the last one has no nextUrl.
	n := ws.ListSize(l.ID)
	env := f.v2Page(listPath(l.ID, "limit="+strconv.Itoa(n)))
	require.Len(t, env.Data, n)
	require.Nil(t, env.Pagination.NextURL)

	// Persons page by id too.
	var persons []int64
	for _, p := range f.v2All("/v2/persons?limit=100") {
		persons = append(persons, idOf(t, p))
	}
	require.Len(t, persons, len(ws.Persons))
	require.True(t, slices.IsSorted(persons))

	// A cursor is opaque base64 of a space-padded after:::<id>, as the reference's examples.
	require.Equal(t, "ICAgICAgIGFmdGVyOjo6NA", EncodeV2Cursor(V2Cursor{ID: 4}))
	for _, bad := range []string{"garbage!", "Zm9v", EncodeV2Cursor(V2Cursor{ID: 4})[:5]} {
		r := f.v2(listPath(l.ID, "cursor="+url.QueryEscape(bad)), http.StatusBadRequest)
		require.JSONEq(t, `{"errors":[{"code":"validation","message":"invalid cursor","param":"cursor"}]}`, string(r.body))
	}
}

func TestV2LimitBounds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	for _, bad := range []string{"0", "101", "-1", "x", ""} {
		requireV2Error(t, f.v2("/v2/persons?limit="+bad, http.StatusBadRequest), "validation", "limit")
	}
	require.Len(t, f.v2Page("/v2/persons?limit=1").Data, 1)
	require.Len(t, f.v2Page("/v2/persons?limit=100").Data, 100)
	require.Len(t, f.v2Page("/v2/persons").Data, 100, "default 100")
	requireV2Error(t, f.v2("/v2/companies?fieldTypes=list", http.StatusBadRequest), "validation", "fieldTypes")
	requireV2Error(t, f.v2("/v2/persons?fieldTypes=list", http.StatusBadRequest), "validation", "fieldTypes")
}

func TestV2BearerOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	for _, auth := range []string{basic("", testKey), "", bearer("wrong"), "Bearer "} {
		r := f.do("/v2/persons", auth)
		require.Equal(t, http.StatusUnauthorized, r.status, "auth %q", auth)
		requireV2Error(t, r, "authentication", "")
		require.NotContains(t, string(r.body), testKey)
	}
	require.Equal(t, http.StatusOK, f.do("/v2/persons", bearer(testKey)).status)
	// v1 keeps taking Basic and Bearer.
	require.Equal(t, http.StatusOK, f.do("/persons?page_size=1", basic("", testKey)).status)
	require.Equal(t, http.StatusOK, f.do("/persons?page_size=1", bearer(testKey)).status)
}

func TestV2Modes(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	l := ws.Lists[0]
	for _, c := range []struct {
		mode   V2Mode
		status int
		code   string
	}{{V2Forbidden, http.StatusForbidden, "authorization"}, {V2NotFound, http.StatusNotFound, "not-found"}} {
		f := newFixture(t, Generate(DefaultConfig()), WithV2Mode(c.mode))
		for _, p := range []string{listPath(l.ID, allEntryTypes), "/v2/persons", "/v2/companies?fieldIds=persons"} {
			requireV2Error(t, f.v2(p, c.status), c.code, "")
		}
		f.get("/persons?page_size=1", http.StatusOK) // v1 is unaffected
		require.Equal(t, 3, f.srv.Requests()["GET /v2/persons"]+f.srv.Requests()["GET /v2/companies"]+
			f.srv.Requests()["GET /v2/lists/{id}/list-entries"])
		f.srv.SetV2Mode(V2OK)
		f.v2("/v2/persons", http.StatusOK)
	}
	for _, s := range []string{"ok", "403", "404"} {
		m, err := ParseV2Mode(s)
		require.NoError(t, err)
		require.Equal(t, s, m.String())
	}
	_, err := ParseV2Mode("maybe")
	require.ErrorContains(t, err, "maybe")
}

func TestV2NextURLBase(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()), WithV2NextURLBase("http://elsewhere.example:9/"))
	env := f.v2Page("/v2/companies?limit=2&fieldIds=persons")
	require.NotNil(t, env.Pagination.NextURL)
	require.True(t, strings.HasPrefix(*env.Pagination.NextURL, "http://elsewhere.example:9/v2/companies?"), *env.Pagination.NextURL)
}

func TestV2CompanyPersonsCutAt100(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	ws := f.srv.Snapshot()
	big := ws.Organizations[3].ID
	var ids []int64
	for _, p := range ws.Persons[:150] {
		ids = append(ids, p.ID)
	}
	f.srv.Mutate(func(w *Workspace) { w.Organization(big).PersonIDs = ids })

	// Every company's persons are v1's person_ids (cut at 100, with totalCount).
	for _, c := range f.v2All("/v2/companies?fieldIds=persons&limit=50") {
		id := idOf(t, c)
		var v1 struct {
			PersonIDs []int64 `json:"person_ids"`
		}
		f.getJSON("/organizations/"+strconv.FormatInt(id, 10), &v1)
		fds := fieldsOf(t, c)
		require.Len(t, fds, 1)
		require.Equal(t, "persons", fds[0]["id"])
		require.Equal(t, "enriched", fds[0]["type"])
		v := fds[0]["value"].(map[string]any)
		require.Equal(t, "person-multi", v["type"])
		require.Equal(t, float64(len(v1.PersonIDs)), v["totalCount"])
		if len(v1.PersonIDs) == 0 {
			require.Nil(t, v["data"], "an empty multi value is null")
			continue
		}
		var got []int64
		for _, p := range v["data"].([]any) {
			pd := p.(map[string]any)
			require.ElementsMatch(t, []string{"id", "firstName", "lastName", "primaryEmailAddress", "type"}, keys(pd))
			got = append(got, idOf(t, pd))
		}
		want := v1.PersonIDs[:min(len(v1.PersonIDs), 100)]
		require.Equal(t, want, got, "company %d", id)
		if id == big {
			require.Len(t, got, 100)
			require.Equal(t, float64(150), v["totalCount"])
		}
	}
	// ids= picks companies.
	env := f.v2Page("/v2/companies?ids=" + strconv.FormatInt(big, 10) + "&ids=1")
	require.Len(t, env.Data, 1)
	require.Equal(t, big, idOf(t, env.Data[0]))
}

func TestV2VersionHeader(t *testing.T) {
	t.Parallel()
	srv := NewServer(Generate(DefaultConfig()), WithAPIKey(testKey))
	get := func(version string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "http://fake.example/v2/persons?limit=1", nil)
		req.Header.Set("Authorization", bearer(testKey))
		if version != "" {
			req.Header.Set("X-Affinity-Api-Version", version)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	require.Equal(t, V2Version, get("").Header().Get("X-Affinity-Api-Version"))
	require.Equal(t, "2024-01-01", get("2024-01-01").Header().Get("X-Affinity-Api-Version"))
	require.Equal(t, V2Version, get("current").Header().Get("X-Affinity-Api-Version"))
	rec := get("2025-13-01")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	requireV2Error(t, response{status: rec.Code, body: rec.Body.Bytes()}, "validation", "X-Affinity-Api-Version")

	// Rate-limit headers are lower-case; the -org ones are left out without a monthly limit.
	h := get("").Header()
	require.Equal(t, []string{"900"}, h["x-ratelimit-limit-user"])
	require.Contains(t, h, "x-ratelimit-limit-user-remaining")
	require.Contains(t, h, "x-ratelimit-limit-user-reset")
	require.NotContains(t, h, "x-ratelimit-limit-org")
	require.NotContains(t, h, "X-Ratelimit-Limit-User")
	// The nextUrl is built from the request's host.
	var env v2Envelope
	require.NoError(t, json.Unmarshal(get("").Body.Bytes(), &env))
	require.True(t, strings.HasPrefix(*env.Pagination.NextURL, "http://fake.example/v2/persons?"))
}

func TestV2SharesLimitsFaultsAndCounters(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 10, 5, 12, 0, 10, 0, time.UTC)}
	f := newFixture(t, Generate(DefaultConfig()), WithPerMinuteLimit(3), WithMonthlyLimit(1000), WithClock(clk.now))
	f.get("/persons?page_size=1", http.StatusOK)
	r := f.v2("/v2/persons?limit=1", http.StatusOK)
	require.Equal(t, "1", r.header.Get("X-Ratelimit-Limit-User-Remaining"))
	require.Equal(t, "998", r.header.Get("X-Ratelimit-Limit-Org-Remaining"))
	f.get("/persons?page_size=1", http.StatusOK)
	r = f.v2("/v2/persons?limit=1", http.StatusTooManyRequests)
	requireV2Error(t, r, "rate-limit", "")
	f.get("/persons?page_size=1", http.StatusTooManyRequests)
	clk.advance(time.Minute)
	f.v2("/v2/persons?limit=1", http.StatusOK)

	f.srv.FailNext("GET /v2/lists/{id}/list-entries", http.StatusInternalServerError, 1)
	l := f.srv.Snapshot().Lists[0]
	requireV2Error(t, f.v2(listPath(l.ID, "limit=1"), http.StatusInternalServerError), "server", "")
	f.v2(listPath(l.ID, "limit=1"), http.StatusOK)
	req := f.srv.Requests()
	require.Equal(t, 3, req["GET /v2/persons"])
	require.Equal(t, 2, req["GET /v2/lists/{id}/list-entries"])
	require.Equal(t, 3, req["GET /persons"])
	require.Equal(t, 8, f.srv.TotalRequests())
}

func TestV2SeesMutations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Generate(DefaultConfig()))
	ws := f.srv.Snapshot()
	l := firstListOfType(t, ws, loader.EntityOrganization)
	var comments *Field
	for _, fd := range ws.Fields {
		if fd.ListID != nil && *fd.ListID == l.ID && fd.Name == "Comments" {
			comments = fd
		}
	}
	require.NotNil(t, comments)
	var added *ListEntry
	gone := ws.EntriesOf(l.ID)[5].ID
	f.srv.Mutate(func(w *Workspace) {
		added = w.AddListEntry(l.ID, w.Organizations[0].ID)
		w.SetFieldValue(comments.ID, added.EntityID, &added.ID, jsonString("fresh comment"))
		w.DeleteListEntry(gone)
	})
	var found bool
	for _, e := range f.v2All(listPath(l.ID, "fieldIds="+V2FieldID(comments))) {
		id := idOf(t, e)
		require.NotEqual(t, gone, id)
		if id == added.ID {
			found = true
			fds := fieldsOf(t, e["entity"].(map[string]any))
			require.Equal(t, "fresh comment", fds[0]["value"].(map[string]any)["data"])
		}
	}
	require.True(t, found)
	v1Only, v2Only, _ := f.crossCheck()
	require.Empty(t, v1Only)
	require.Empty(t, v2Only)
}
