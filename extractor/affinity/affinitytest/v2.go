package affinitytest

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v2 as the fake models it: GET /v2/lists/{id}/list-entries, GET /v2/persons and GET
// /v2/companies, read from the same workspace as v1, so that every value v2 serves is a v1
// field value in another shape. Transport differs from v1: Bearer auth only, camelCase,
// {"errors":[{"code","message","param"}]} bodies, opaque cursors, absolute nextUrl, limit 1-100,
// lower-case rate-limit headers and a version header. loader.V2PageSize is the default and
// largest limit of a page, and the number of items an inline association (a company's
// persons, an opportunity's persons or companies) or any multi-valued field holds at most.

// V2Version is the API v2 version the fake answers with when a request names none.
const V2Version = "2026-09-17"

// v2Versions are the versions the fake accepts in X-Affinity-Api-Version; "current" is the newest.
var v2Versions = []string{"2024-01-01", "2026-07-15", "2026-09-17"}

// V2Mode is how the fake answers API v2 requests.
type V2Mode int

// The modes of API v2.
const (
	V2OK        V2Mode = iota // serve v2 (the default)
	V2Forbidden               // 403 "authorization" on every v2 request: a key without export permission
	V2NotFound                // 404 "not-found" on every v2 request: no API v2 at all
)

// String is the mode as ParseV2Mode reads it.
func (m V2Mode) String() string {
	switch m {
	case V2Forbidden:
		return "403"
	case V2NotFound:
		return "404"
	}
	return "ok"
}

// ParseV2Mode reads "ok", "403" or "404".
func ParseV2Mode(s string) (V2Mode, error) {
	switch s {
	case "ok":
		return V2OK, nil
	case "403":
		return V2Forbidden, nil
	case "404":
		return V2NotFound, nil
	}
	return V2OK, fmt.Errorf("v2 mode %q: want ok, 403 or 404", s)
}

type v2Options struct {
	mode     V2Mode
	disagree bool
	nextBase string // scheme://host[:port] of nextUrl/prevUrl; "" = the request's own
}

// WithV2Mode sets how API v2 answers (default V2OK).
func WithV2Mode(m V2Mode) Option { return func(s *Server) { s.v2.mode = m } }

// WithV2Disagree makes v2 serve exactly one value differently from v1: the one
// Workspace.V2DisagreeValue names, a text value served with " (v2)" appended.
func WithV2Disagree() Option { return func(s *Server) { s.v2.disagree = true } }

// WithV2NextURLBase makes nextUrl and prevUrl start with base (e.g. "http://other.example:9")
// instead of the scheme and Host of the request, to test that clients refuse another host.
func WithV2NextURLBase(base string) Option {
	return func(s *Server) { s.v2.nextBase = strings.TrimRight(base, "/") }
}

// SetV2Mode changes how API v2 answers from the next request on.
func (s *Server) SetV2Mode(m V2Mode) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.v2.mode = m
}

// SetV2Disagree turns the one v2-only difference (see WithV2Disagree) on or off.
func (s *Server) SetV2Disagree(on bool) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.v2.disagree = on
}

// V2DisagreeSuffix is appended to the one text value v2 alters when told to disagree.
const V2DisagreeSuffix = " (v2)"

// V2DisagreeValue is the value v2 alters when the server is told to disagree with v1: going
// through the lists in id order and each list's entries in id order, the first entry whose
// entity has a non-null text value (a global value of the entity, or a list value of that
// entry, on a field v2 serves) gives its text value with the lowest value id. Since a
// global value is served with every entry of its entity and by /v2/persons or /v2/companies,
// v2 then differs from v1 on this one value everywhere it is served. Nil when no list entry
// has a text value.
func (w *Workspace) V2DisagreeValue() *FieldValue {
	x := w.index()
	for _, l := range w.Lists {
		for _, e := range x.entriesByList[l.ID] {
			var best *FieldValue
			consider := func(vals []*FieldValue) {
				for _, v := range vals {
					f := x.fields[v.FieldID]
					if f == nil || f.ValueType != ValueText || V2FieldID(f) == "" || v.EntityID != e.EntityID ||
						isJSONNull(v.Value) || (best != nil && best.ID < v.ID) {
						continue
					}
					best = v
				}
			}
			if e.EntityType != loader.EntityOpportunity {
				consider(x.globalValues[entityKey{e.EntityType, e.EntityID}])
			}
			consider(x.entryValues[e.ID])
			if best != nil {
				return best
			}
		}
	}
	return nil
}

// V2FieldID is the v2 id of a v1 field: "field-<id>" for a global or list field,
// "<enrichment source>-<name as a slug>" for an enriched one (e.g. "affinity-data-job-titles"),
// and "" for a field v2 does not serve (Crunchbase data, which v2 never exposes).
func V2FieldID(f *Field) string {
	switch f.EnrichmentSource {
	case "", "none":
		return "field-" + strconv.FormatInt(f.ID, 10)
	case "crunchbase":
		return ""
	}
	return f.EnrichmentSource + "-" + slug(f.Name)
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// V2ValueType is the v2 value type of a v1 field: person, company, dropdown, number, datetime,
// location, text, ranked-dropdown or filterable-text, with "-multi" for a multi-valued field.
func V2ValueType(f *Field) string {
	t, ok := map[int]string{ValuePerson: "person", ValueOrganization: "company", ValueDropdown: "dropdown",
		ValueNumber: "number", ValueDate: "datetime", ValueLocation: "location", ValueText: "text",
		ValueRankedDropdown: "ranked-dropdown", ValueFilterableText: "filterable-text"}[f.ValueType]
	if !ok {
		t = "unknown-" + strconv.Itoa(f.ValueType)
	}
	if f.AllowsMultiple {
		t += "-multi"
	}
	return t
}

// v2Colors names v1's integer dropdown colors the way v2 serves them.
var v2Colors = []string{"gray", "blue", "green", "yellow", "orange", "red", "purple", "pink"}

func colorName(c int) string {
	if c >= 0 && c < len(v2Colors) {
		return v2Colors[c]
	}
	return "gray"
}

// ---- transport ----

func isV2Path(p string) bool { return p == "/v2" || strings.HasPrefix(p, "/v2/") }

type v2Handler func(rq *v2Request) (any, *apiError)

// v2Routes maps the v2 endpoint templates to their handlers.
var v2Routes = map[string]v2Handler{
	"/v2/lists/{id}/list-entries": v2ListEntries,
	"/v2/persons":                 v2Persons,
	"/v2/companies":               v2Companies,
}

func matchV2Route(path string) route {
	rt := matchRoute(nil, path)
	_, rt.found = v2Routes[rt.template]
	return rt
}

// v2Request is one v2 request being answered, under the workspace read lock.
type v2Request struct {
	ws       *Workspace
	x        *index
	r        *http.Request
	ids      []int64
	base     string // scheme://host of nextUrl/prevUrl
	disagree int64  // id of the value served altered; 0 = none
}

// v2Code is the error code of an HTTP status.
func v2Code(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad-request"
	case http.StatusUnauthorized:
		return "authentication"
	case http.StatusForbidden:
		return "authorization"
	case http.StatusNotFound:
		return "not-found"
	case http.StatusMethodNotAllowed:
		return "method-not-allowed"
	case http.StatusUnprocessableEntity:
		return "unprocessable-entity"
	case http.StatusTooManyRequests:
		return "rate-limit"
	}
	return "server"
}

func v2Error(status int, code, param, msg string) *apiError {
	return &apiError{status: status, msg: msg, code: code, param: param}
}

func v2Validation(param, msg string) *apiError {
	return v2Error(http.StatusBadRequest, "validation", param, msg)
}

func writeV2Error(w http.ResponseWriter, e *apiError) {
	item := obj{"code": cmp.Or(e.code, v2Code(e.status)), "message": e.msg}
	if e.param != "" {
		item["param"] = e.param
	}
	b, _ := json.Marshal(obj{"errors": []obj{item}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// setV2Headers writes the rate-limit headers in lower case, as v2 sends them; the -org ones
// are left out when no monthly limit applies.
func (st limitState) setV2Headers(h http.Header) {
	set := func(k string, n int) { h[k] = []string{strconv.Itoa(n)} }
	set("x-ratelimit-limit-user", st.userLimit)
	set("x-ratelimit-limit-user-remaining", st.userRemaining)
	set("x-ratelimit-limit-user-reset", st.userReset)
	if st.orgLimit > 0 {
		set("x-ratelimit-limit-org", st.orgLimit)
		set("x-ratelimit-limit-org-remaining", st.orgRemaining)
		set("x-ratelimit-limit-org-reset", st.orgReset)
	}
}

// bearer reports whether the request carries the key as a Bearer token (v2 takes no Basic).
func (s *Server) bearer(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	return strings.HasPrefix(h, "Bearer ") && s.authorized(r)
}

// serveV2 answers a v2 request (already counted and delayed): Bearer auth, the shared limits
// and faults, the version header, the v2 mode, then the endpoint.
func (s *Server) serveV2(w http.ResponseWriter, r *http.Request, rt route, endpoint string) {
	if !s.bearer(r) {
		s.cmu.Lock()
		st, _ := s.account(false, true)
		s.cmu.Unlock()
		st.setV2Headers(w.Header())
		writeV2Error(w, v2Error(http.StatusUnauthorized, "authentication", "",
			"Authentication failed: API v2 takes the key as \"Authorization: Bearer <key>\""))
		return
	}
	st, over, injected, retryAfter := s.admit(endpoint, true)
	s.cmu.Lock()
	opts := s.v2
	s.cmu.Unlock()
	st.setV2Headers(w.Header())
	if over {
		writeV2Error(w, v2Error(http.StatusTooManyRequests, "rate-limit", "", "Rate limit exceeded"))
		return
	}
	switch {
	case injected == -2:
		resetConnection(w)
		return
	case injected > 0:
		if injected == http.StatusTooManyRequests {
			w.Header()["x-ratelimit-limit-user-reset"] = []string{"1"}
			if retryAfter {
				w.Header().Set("Retry-After", "1")
			}
		}
		writeV2Error(w, v2Error(injected, "", "", "Injected failure ("+strconv.Itoa(injected)+")"))
		return
	}
	version := V2Version
	if v := r.Header.Get("X-Affinity-Api-Version"); v != "" && v != "current" {
		if !slices.Contains(v2Versions, v) {
			writeV2Error(w, v2Validation("X-Affinity-Api-Version", "unknown API version "+strconv.Quote(v)))
			return
		}
		version = v
	}
	w.Header().Set("X-Affinity-Api-Version", version)
	switch opts.mode {
	case V2Forbidden:
		writeV2Error(w, v2Error(http.StatusForbidden, "authorization", "",
			"The API key lacks the permission this endpoint needs (export data)"))
		return
	case V2NotFound:
		writeV2Error(w, v2Error(http.StatusNotFound, "not-found", "", "Not found"))
		return
	}
	h := v2Routes[rt.template]
	if !rt.found {
		writeV2Error(w, v2Error(http.StatusNotFound, "not-found", "", "Not found"))
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeV2Error(w, v2Error(http.StatusMethodNotAllowed, "method-not-allowed", "", "Method not allowed"))
		return
	}
	base := opts.nextBase
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	var buf bytes.Buffer
	s.mu.RLock()
	rq := &v2Request{ws: s.ws, x: s.ws.index(), r: r, ids: rt.ids, base: base}
	if opts.disagree {
		if v := s.ws.V2DisagreeValue(); v != nil {
			rq.disagree = v.ID
		}
	}
	body, aerr := h(rq)
	if aerr == nil {
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			aerr = v2Error(http.StatusInternalServerError, "server", "", "encode response")
		}
	}
	s.mu.RUnlock()
	if aerr != nil {
		writeV2Error(w, aerr)
		return
	}
	writeOK(w, buf.Bytes(), injected == -1)
}

// ---- paging ----

// V2Cursor is the decoded form of a v2 cursor: Before false pages forward from after ID, true
// backward from before it. On the wire a cursor is base64 (no padding) of "after:::<id>" or
// "before:::<id>", left-padded with spaces to 16 characters.
type V2Cursor struct {
	Before bool
	ID     int64
}

// EncodeV2Cursor mints a cursor the way the fake does.
func EncodeV2Cursor(c V2Cursor) string {
	dir := "after"
	if c.Before {
		dir = "before"
	}
	return base64.RawStdEncoding.EncodeToString(fmt.Appendf(nil, "%16s", dir+":::"+strconv.FormatInt(c.ID, 10)))
}

// DecodeV2Cursor reads a cursor minted by EncodeV2Cursor (padding and URL-safe base64 are
// tolerated).
func DecodeV2Cursor(s string) (V2Cursor, error) {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return V2Cursor{}, fmt.Errorf("cursor is not base64")
		}
	}
	dir, n, ok := strings.Cut(strings.TrimLeft(string(b), " "), ":::")
	if !ok || (dir != "after" && dir != "before") {
		return V2Cursor{}, fmt.Errorf("cursor has no after::: or before::: position")
	}
	id, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return V2Cursor{}, fmt.Errorf("cursor position %q is not an integer", n)
	}
	return V2Cursor{Before: dir == "before", ID: id}, nil
}

// v2Page is the page a request asks for.
type v2Page struct {
	limit  int
	cursor *V2Cursor
}

func readV2Page(q url.Values) (v2Page, *apiError) {
	pg := v2Page{limit: loader.V2PageSize}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > loader.V2PageSize {
			return pg, v2Validation("limit", "limit must be an integer from 1 to 100")
		}
		pg.limit = n
	}
	if q.Has("cursor") {
		c, err := DecodeV2Cursor(q.Get("cursor"))
		if err != nil {
			return pg, v2Validation("cursor", "invalid cursor")
		}
		pg.cursor = &c
	}
	return pg, nil
}

// pageByID cuts one page out of all (sorted by id); it reports whether items exist before
// and after the page.
func pageByID[T any](all []T, id func(T) int64, pg v2Page) (items []T, hasPrev, hasNext bool) {
	search := func(n int64) int {
		i, _ := slices.BinarySearchFunc(all, n, func(v T, n int64) int { return cmp.Compare(id(v), n) })
		return i
	}
	start, end := 0, min(len(all), pg.limit)
	if c := pg.cursor; c != nil {
		if c.Before {
			end = search(c.ID)
			start = max(0, end-pg.limit)
		} else {
			start = search(c.ID + 1)
			end = min(len(all), start+pg.limit)
		}
	}
	return all[start:end], start > 0, end < len(all)
}

// envelope wraps a page with absolute prevUrl/nextUrl that keep the request's query params.
func envelope[T any](rq *v2Request, data []obj, items []T, id func(T) int64, hasPrev, hasNext bool) obj {
	link := func(c V2Cursor) string {
		q := rq.r.URL.Query()
		q.Set("cursor", EncodeV2Cursor(c))
		return rq.base + rq.r.URL.Path + "?" + q.Encode()
	}
	var prev, next any
	if hasPrev && len(items) > 0 {
		prev = link(V2Cursor{Before: true, ID: id(items[0])})
	}
	if hasNext && len(items) > 0 {
		next = link(V2Cursor{ID: id(items[len(items)-1])})
	}
	return obj{"data": data, "pagination": obj{"prevUrl": prev, "nextUrl": next}}
}

// ---- field selection ----

// v2Field is one field v2 can serve for an entity (type and, for list entries, list).
type v2Field struct {
	id, name, kind string // kind: global, enriched, list, relationship-intelligence
	source         any    // enrichmentSource: a string or nil
	f              *Field // the v1 field; nil for a built-in
	builtin        string // persons, companies, or an interaction date for the RI fields
}

// riFields are the relationship-intelligence fields of persons and companies (clients ignore
// them; the fake derives them from the interaction dates).
type riField struct {
	id, name string
	date     func(*InteractionDates) *time.Time
	kind     string // the interaction's type
}

var riFields = []riField{
	{"first-email", "First Email", func(d *InteractionDates) *time.Time { return d.FirstEmail }, "email"},
	{"last-email", "Last Email", func(d *InteractionDates) *time.Time { return d.LastEmail }, "email"},
	{"first-event", "First Event", func(d *InteractionDates) *time.Time { return d.FirstEvent }, "meeting"},
	{"last-event", "Last Event", func(d *InteractionDates) *time.Time { return d.LastEvent }, "meeting"},
	{"next-event", "Next Event", func(d *InteractionDates) *time.Time { return d.NextEvent }, "meeting"},
	{"last-chat-message", "Last Chat Message", func(d *InteractionDates) *time.Time { return d.LastChatMessage }, "chat-message"},
	{"last-contact", "Last Contact", func(d *InteractionDates) *time.Time { return d.LastInteraction }, "email"},
}

// v2Catalogue lists the fields v2 serves for an entity type, plus a list's fields when
// listID is set, in a stable order: global and enriched fields by v1 id, list fields by v1
// id, built-in associations, relationship-intelligence fields.
func v2Catalogue(x *index, entityType loader.EntityKind, listID *int64) []v2Field {
	var out []v2Field
	if entityType != loader.EntityOpportunity {
		for _, f := range x.globalFields[entityType] {
			id := V2FieldID(f)
			switch {
			case id == "":
			case f.EnrichmentSource == "" || f.EnrichmentSource == "none":
				out = append(out, v2Field{id: id, name: f.Name, kind: "global", f: f})
			default:
				out = append(out, v2Field{id: id, name: f.Name, kind: "enriched", source: f.EnrichmentSource, f: f})
			}
		}
	}
	if listID != nil {
		for _, f := range x.fieldsByList[*listID] {
			out = append(out, v2Field{id: V2FieldID(f), name: f.Name, kind: "list", f: f})
		}
	}
	switch entityType {
	case loader.EntityOrganization:
		out = append(out, v2Field{id: "persons", name: "People", kind: "enriched", builtin: "persons"})
	case loader.EntityPerson:
		out = append(out, v2Field{id: "companies", name: "Organizations", kind: "enriched", builtin: "companies"})
	case loader.EntityOpportunity:
		out = append(out, v2Field{id: "persons", name: "People", kind: "list", builtin: "persons"},
			v2Field{id: "companies", name: "Organizations", kind: "list", builtin: "companies"})
	}
	if entityType != loader.EntityOpportunity {
		for _, ri := range riFields {
			out = append(out, v2Field{id: ri.id, name: ri.name, kind: "relationship-intelligence", builtin: ri.id})
		}
	}
	return out
}

// selectFields applies fieldTypes (each one of allowed) and fieldIds (each in the catalogue)
// to the catalogue; a field is selected when its type or its id is asked for.
func selectFields(q url.Values, catalogue []v2Field, allowed []string) ([]v2Field, *apiError) {
	types := map[string]bool{}
	for _, t := range q["fieldTypes"] {
		if !slices.Contains(allowed, t) {
			return nil, v2Validation("fieldTypes", fmt.Sprintf("fieldTypes %q is not one of %s", t, strings.Join(allowed, ", ")))
		}
		types[t] = true
	}
	ids := map[string]bool{}
	for _, id := range q["fieldIds"] {
		if !slices.ContainsFunc(catalogue, func(f v2Field) bool { return f.id == id }) {
			return nil, v2Validation("fieldIds", fmt.Sprintf("unknown field id %q", id))
		}
		ids[id] = true
	}
	var out []v2Field
	for _, f := range catalogue {
		if types[f.kind] || ids[f.id] {
			out = append(out, f)
		}
	}
	return out, nil
}

// ---- values ----

func personData(x *index, id int64) obj {
	p := x.persons[id]
	if p == nil {
		return obj{"id": id, "firstName": nil, "lastName": nil, "primaryEmailAddress": nil, "type": "external"}
	}
	return obj{"id": p.ID, "firstName": p.FirstName, "lastName": p.LastName,
		"primaryEmailAddress": p.PrimaryEmail, "type": personType(p)}
}

func personType(p *Person) string {
	if p.Type == 1 {
		return "internal"
	}
	return "external"
}

func companyData(x *index, id int64) obj {
	o := x.orgs[id]
	if o == nil {
		return obj{"id": id, "name": nil, "domain": nil}
	}
	return obj{"id": o.ID, "name": o.Name, "domain": o.Domain}
}

func isJSONNull(v json.RawMessage) bool {
	return len(v) == 0 || bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// v2Data converts one non-null v1 value of f to its v2 data; altered appends V2DisagreeSuffix
// to a text value.
func v2Data(x *index, f *Field, raw json.RawMessage, altered bool) any {
	switch f.ValueType {
	case ValuePerson, ValueOrganization:
		var id int64
		if json.Unmarshal(raw, &id) != nil {
			return raw
		}
		if f.ValueType == ValuePerson {
			return personData(x, id)
		}
		return companyData(x, id)
	case ValueDropdown:
		var text string
		if json.Unmarshal(raw, &text) != nil {
			return raw
		}
		var optID any
		if i := slices.IndexFunc(f.DropdownOptions, func(o DropdownOption) bool { return o.Text == text }); i >= 0 {
			optID = f.DropdownOptions[i].ID
		}
		return obj{"dropdownOptionId": optID, "text": text}
	case ValueRankedDropdown:
		var rv rankedValue
		if json.Unmarshal(raw, &rv) != nil {
			return raw
		}
		return obj{"dropdownOptionId": rv.ID, "text": rv.Text, "rank": rv.Rank, "color": colorName(rv.Color)}
	case ValueDate:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return raw
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	case ValueLocation:
		var l location
		if json.Unmarshal(raw, &l) != nil {
			return raw
		}
		return obj{"streetAddress": l.StreetAddress, "city": l.City, "state": l.State, "country": l.Country, "continent": l.Continent}
	case ValueText:
		var s string
		if altered && json.Unmarshal(raw, &s) == nil {
			return s + V2DisagreeSuffix
		}
	}
	return raw // number, text, filterable text and unknown types as v1 serves them
}

// multiValue is a -multi value: null when empty, cut at loader.V2PageSize items with totalCount.
func multiValue(typ string, items []any, withCount bool) obj {
	v := obj{"type": typ, "data": nil}
	if len(items) > 0 {
		v["data"] = items[:min(len(items), loader.V2PageSize)]
	}
	if withCount || len(items) > loader.V2PageSize {
		v["totalCount"] = len(items)
	}
	return v
}

func idItems(ids []int64, render func(int64) obj) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = render(id)
	}
	return out
}

// fieldValue is the value of one selected field for an entity (and, for list fields, entry).
func (rq *v2Request) fieldValue(fd v2Field, entityType loader.EntityKind, entityID int64, entry *ListEntry) obj {
	x := rq.x
	if f := fd.f; f != nil {
		var entryID *int64
		if f.ListID != nil {
			entryID = &entry.ID
		}
		var items []any
		for _, v := range cellValues(x, f, entityID, entryID) {
			if !isJSONNull(v.Value) {
				items = append(items, v2Data(x, f, v.Value, v.ID == rq.disagree))
			}
		}
		if f.AllowsMultiple {
			return multiValue(V2ValueType(f), items, false)
		}
		var data any
		if len(items) > 0 {
			data = items[0]
		}
		return obj{"type": V2ValueType(f), "data": data}
	}
	switch fd.builtin {
	case "persons":
		var ids []int64
		if entityType == loader.EntityOrganization {
			if o := x.orgs[entityID]; o != nil {
				ids = o.PersonIDs
			}
		} else if o := x.opps[entityID]; o != nil {
			ids = o.PersonIDs
		}
		return multiValue("person-multi", idItems(ids, func(id int64) obj { return personData(x, id) }), true)
	case "companies":
		var ids []int64
		if entityType == loader.EntityPerson {
			if p := x.persons[entityID]; p != nil {
				ids = p.OrganizationIDs
			}
		} else if o := x.opps[entityID]; o != nil {
			ids = o.OrganizationIDs
		}
		return multiValue("company-multi", idItems(ids, func(id int64) obj { return companyData(x, id) }), true)
	}
	return rq.interaction(fd.builtin, entityType, entityID)
}

// interaction is a relationship-intelligence value: the interaction behind one of the
// entity's interaction dates, with no participants, or null.
func (rq *v2Request) interaction(id string, entityType loader.EntityKind, entityID int64) obj {
	var d *InteractionDates
	switch entityType {
	case loader.EntityPerson:
		if p := rq.x.persons[entityID]; p != nil {
			d = p.Interactions
		}
	case loader.EntityOrganization:
		if o := rq.x.orgs[entityID]; o != nil {
			d = o.Interactions
		}
	}
	v := obj{"type": "interaction", "data": nil}
	i := slices.IndexFunc(riFields, func(f riField) bool { return f.id == id })
	if d == nil || i < 0 || riFields[i].date(d) == nil {
		return v
	}
	at := riFields[i].date(d).UTC().Format("2006-01-02T15:04:05.000Z")
	iid := entityID*10 + int64(i)
	switch riFields[i].kind {
	case "email":
		v["data"] = obj{"type": "email", "id": iid, "subject": nil, "sentAt": at, "from": nil, "to": []obj{}, "cc": []obj{}}
	case "meeting":
		v["data"] = obj{"type": "meeting", "id": iid, "title": nil, "allDay": false, "startTime": at, "endTime": nil, "attendees": []obj{}}
	default:
		v["data"] = obj{"type": "chat-message", "id": iid, "direction": "sent", "sentAt": at, "manualCreator": nil, "participants": []obj{}}
	}
	return v
}

func (rq *v2Request) fields(sel []v2Field, entityType loader.EntityKind, entityID int64, entry *ListEntry) []obj {
	out := make([]obj, 0, len(sel))
	for _, fd := range sel {
		out = append(out, obj{"id": fd.id, "name": fd.name, "type": fd.kind, "enrichmentSource": fd.source,
			"value": rq.fieldValue(fd, entityType, entityID, entry)})
	}
	return out
}

func v2Person(p *Person) obj {
	return obj{"id": p.ID, "firstName": p.FirstName, "lastName": p.LastName, "primaryEmailAddress": p.PrimaryEmail,
		"emailAddresses": strs(p.Emails), "type": personType(p)}
}

func v2Company(o *Organization) obj {
	return obj{"id": o.ID, "name": o.Name, "domain": o.Domain, "domains": strs(o.Domains), "isGlobal": o.Global}
}

// ---- handlers ----

// v2ListEntries answers GET /v2/lists/{id}/list-entries: the list's entries by id, each with
// its entity and, in entity.fields, the selected global, enriched and relationship-intelligence
// fields of the entity and list fields of that entry.
func v2ListEntries(rq *v2Request) (any, *apiError) {
	l := rq.x.lists[rq.ids[0]]
	if l == nil {
		return nil, v2Error(http.StatusNotFound, "not-found", "", "List not found")
	}
	q := rq.r.URL.Query()
	pg, err := readV2Page(q)
	if err != nil {
		return nil, err
	}
	sel, err := selectFields(q, v2Catalogue(rq.x, l.Type, &l.ID), []string{"enriched", "global", "list", "relationship-intelligence"})
	if err != nil {
		return nil, err
	}
	items, hasPrev, hasNext := pageByID(rq.x.entriesByList[l.ID], entryID, pg)
	data := make([]obj, 0, len(items))
	for _, e := range items {
		var ent obj
		switch e.EntityType {
		case loader.EntityPerson:
			if p := rq.x.persons[e.EntityID]; p != nil {
				ent = v2Person(p)
			}
		case loader.EntityOrganization:
			if o := rq.x.orgs[e.EntityID]; o != nil {
				ent = v2Company(o)
			}
		case loader.EntityOpportunity:
			if o := rq.x.opps[e.EntityID]; o != nil {
				ent = obj{"id": o.ID, "name": o.Name, "listId": e.ListID, "isRestricted": false, "isRedacted": false}
			}
		}
		if ent == nil {
			ent = obj{"id": e.EntityID}
		}
		ent["fields"] = rq.fields(sel, e.EntityType, e.EntityID, e)
		data = append(data, obj{"id": e.ID, "type": e.EntityType.V2EntryType(), "listId": e.ListID,
			"createdAt": e.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), "creatorId": e.CreatorID, "entity": ent})
	}
	return envelope(rq, data, items, entryID, hasPrev, hasNext), nil
}

// readIDs reads the repeatable ids parameter.
func readIDs(q url.Values) (map[int64]bool, *apiError) {
	if !q.Has("ids") {
		return nil, nil
	}
	out := map[int64]bool{}
	for _, s := range q["ids"] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, v2Validation("ids", fmt.Sprintf("ids %q is not an integer", s))
		}
		out[n] = true
	}
	return out, nil
}

// entityPage answers GET /v2/persons and GET /v2/companies.
func entityPage[T any](rq *v2Request, all []T, id func(T) int64, entityType loader.EntityKind, render func(T) obj) (any, *apiError) {
	q := rq.r.URL.Query()
	pg, err := readV2Page(q)
	if err != nil {
		return nil, err
	}
	sel, err := selectFields(q, v2Catalogue(rq.x, entityType, nil), []string{"enriched", "global", "relationship-intelligence"})
	if err != nil {
		return nil, err
	}
	ids, err := readIDs(q)
	if err != nil {
		return nil, err
	}
	if ids != nil {
		all = slices.DeleteFunc(slices.Clone(all), func(v T) bool { return !ids[id(v)] })
	}
	items, hasPrev, hasNext := pageByID(all, id, pg)
	data := make([]obj, 0, len(items))
	for _, v := range items {
		o := render(v)
		o["fields"] = rq.fields(sel, entityType, id(v), nil)
		data = append(data, o)
	}
	return envelope(rq, data, items, id, hasPrev, hasNext), nil
}

func v2Persons(rq *v2Request) (any, *apiError) {
	return entityPage(rq, rq.ws.Persons, personID, loader.EntityPerson, v2Person)
}

func v2Companies(rq *v2Request) (any, *apiError) {
	return entityPage(rq, rq.ws.Organizations, orgID, loader.EntityOrganization, v2Company)
}
