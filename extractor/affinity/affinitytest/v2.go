package affinitytest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

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
	changes  V2ChangesMode // GET /v2/field-value-changes only (v2_changes.go)
	nextBase string        // scheme://host[:port] of nextUrl/prevUrl; "" = the request's own
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

// ---- transport ----

func isV2Path(p string) bool { return p == "/v2" || strings.HasPrefix(p, "/v2/") }

type v2Handler func(rq *v2Request) (any, *apiError)

// v2Routes maps the v2 endpoint templates to their handlers.
var v2Routes = map[string]v2Handler{
	"/v2/lists/{id}/list-entries": v2ListEntries,
	"/v2/persons":                 v2Persons,
	"/v2/companies":               v2Companies,
	"/v2/field-value-changes":     v2FieldValueChanges,
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
	changes  V2ChangesMode
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
	rq := &v2Request{ws: s.ws, x: s.ws.index(), r: r, ids: rt.ids, base: base, changes: opts.changes}
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
