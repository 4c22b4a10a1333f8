package affinity

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// ErrBudgetSpent is what a reserver (see [WithReserve]) returns when the request budget is
// spent; the client then sends nothing and returns an error wrapping it.
var ErrBudgetSpent = errors.New("request budget spent")

// maxBodySnippet bounds the response body kept in an [APIError], and each of its parsed
// fields.
const maxBodySnippet = 512

// maxErrorBody bounds how much of an error response is read to parse it.
const maxErrorBody = 16 << 10

// APIError is a non-2xx answer, of API v1 or v2. Body is at most 512 bytes of the response
// body, with the API key removed; it is opaque text. When the body has the shape
// {"errors":[{"code":…,"message":…,"param":…}]} (every v2 error), Code, Message and Param are
// those of its first error; a v1 body {"errors":["…"]} fills Message only.
//
// Query is the query string sent, unescaped and sorted by name, for the endpoints whose
// parameters decide whether a request is valid (GET /interactions, /relationships-strengths,
// /entity-files), "" for the others; the error's text then names it, so a 422 says which
// window, type and entity were refused. The API key is never part of a query (it travels in
// the Authorization header only) and is removed from Query like from Body.
type APIError struct {
	StatusCode int
	Method     string
	Endpoint   string // path template, e.g. "/persons/{id}", "/v2/companies"
	Path       string
	Query      string // e.g. "end_time=…&page_size=100&person_id=7&start_time=…&type=3"
	Body       string
	Code       string // v2 error code, e.g. "validation", "authorization"; "" on v1
	Message    string
	Param      string // the offending parameter of a v2 validation error
}

func (e *APIError) Error() string {
	target := e.Path
	if e.Query != "" {
		target += "?" + e.Query
	}
	msg := fmt.Sprintf("%s %s: status %d %s", e.Method, target, e.StatusCode, http.StatusText(e.StatusCode))
	switch {
	case e.Code != "":
		msg += ": " + e.Code
		if e.Message != "" {
			msg += ": " + e.Message
		}
		if e.Param != "" {
			msg += " (param " + e.Param + ")"
		}
	case e.Body != "":
		msg += ": " + e.Body
	}
	return msg
}

// readableQuery is q as "name=value&…", sorted by name, values unescaped: for people reading
// an error, not for sending.
func readableQuery(q url.Values) string {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		for _, v := range q[name] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(name + "=" + v)
		}
	}
	return b.String()
}

// errorBody is the first error of {"errors":[…]}.
type errorBody struct {
	Code, Message, Param string
}

// parseErrorBody reads {"errors":[{"code","message","param"}, …]} (v2) or {"errors":["…"]}
// (v1); ok is false for any other body.
func parseErrorBody(raw []byte) (errorBody, bool) {
	var v struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(raw, &v) != nil || len(v.Errors) == 0 {
		return errorBody{}, false
	}
	var obj struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Param   string `json:"param"`
	}
	if json.Unmarshal(v.Errors[0], &obj) == nil && (obj.Code != "" || obj.Message != "") {
		return errorBody{Code: obj.Code, Message: obj.Message, Param: obj.Param}, true
	}
	var text string
	if json.Unmarshal(v.Errors[0], &text) == nil && text != "" {
		return errorBody{Message: text}, true
	}
	return errorBody{}, false
}

// snippet bounds a text taken from a response to maxBodySnippet bytes of valid UTF-8.
func snippet(s string) string {
	return strings.ToValidUTF8(strings.TrimSpace(s[:min(len(s), maxBodySnippet)]), "")
}

// RateLimitError is a 429 answer. RetryAfter is the wait the server asked for (Retry-After,
// else X-Ratelimit-Limit-User-Reset; zero when it named none) and Reset the moment it ends.
// errors.As also finds its [APIError].
type RateLimitError struct {
	APIError
	RetryAfter time.Duration
	Reset      time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%s (rate limited, retry after %s)", e.APIError.Error(), e.RetryAfter)
}

// Unwrap exposes the embedded APIError to errors.As.
func (e *RateLimitError) Unwrap() error { return &e.APIError }

// DecodeError is a 2xx answer whose body could not be decoded (truncated JSON, wrong types),
// or that is valid JSON but breaks a rule the client checks: an interactions page without its
// array, an interaction participant or a reminder without an id. The first kind is retried
// like a transport fault; the second is not (the same answer would come again), and its Err
// names the endpoint, the query's entity and type where there is one, and what was wrong.
// Either way it is bad input from the server, not a transport error. PageToken is the token
// of the page that failed ("" for the first page or an unpaged call).
type DecodeError struct {
	Endpoint  string
	Path      string
	PageToken string
	Err       error
}

func (e *DecodeError) Error() string {
	if e.PageToken != "" {
		return fmt.Sprintf("decode %s (page token %q): %v", e.Path, e.PageToken, e.Err)
	}
	return fmt.Sprintf("decode %s: %v", e.Path, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ForeignURLError is a v2 nextUrl that does not point at the base URL's scheme, host and
// port. It is never requested (the key must not leave for another host) and never retried.
// Origin is the scheme and host it pointed at; the rest of the URL is not kept.
type ForeignURLError struct {
	Endpoint string // path template of the listing, e.g. "/v2/companies"
	Origin   string // e.g. "https://other.example:8443"
	Want     string // the base URL's scheme and host
}

func (e *ForeignURLError) Error() string {
	return fmt.Sprintf("follow next page of %s: nextUrl points at %s, not at the API's %s; not requested",
		e.Endpoint, e.Origin, e.Want)
}

// IsInvalidCursor reports whether err is a 400 answer to a v2 request that carried a cursor:
// the cursor (a checkpointed one, typically) was refused, and the listing has to start again
// from its first page.
func IsInvalidCursor(err error) bool {
	var c *cursorRefused
	return errors.As(err, &c)
}

// cursorRefused wraps the *APIError of a 400 answer to a v2 request that carried a cursor.
type cursorRefused struct {
	cursor string
	err    error
}

func (e *cursorRefused) Error() string {
	return fmt.Sprintf("cursor %q refused: %v", e.cursor, e.err)
}

func (e *cursorRefused) Unwrap() error { return e.err }

// IsNotFound reports whether err is a 404 (an unknown or deleted entity).
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// IsMerged reports whether err is a 422 on a single-entity GET, which is how Affinity answers
// for an entity that was merged into another. Every error it reports is also one IsValidation
// reports; a caller that tells the two apart asks IsMerged first.
func IsMerged(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusUnprocessableEntity &&
		strings.HasSuffix(e.Endpoint, "/{id}")
}

// IsValidation reports whether err is a 422 on any endpoint: Affinity refused the request's
// parameters (a missing or extra selector, an interaction window over a year, an internal
// person as person_id or external_id, a page token of other parameters). It is not retried,
// and the same request would be refused again. On a single-entity GET a 422 means a merged
// entity instead (see IsMerged), which IsValidation reports too.
func IsValidation(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusUnprocessableEntity
}

// redactedText replaces the key wherever it appears.
const redactedText = "[REDACTED]"

// redactor removes the API key, in every form a server or a URL could echo it, from text.
type redactor struct {
	secrets []string
}

func newRedactor(key string) redactor {
	forms := []string{
		key,
		base64.StdEncoding.EncodeToString([]byte(":" + key)),
		base64.StdEncoding.EncodeToString([]byte(key)),
		base64.URLEncoding.EncodeToString([]byte(":" + key)),
		url.QueryEscape(key),
		url.PathEscape(key),
	}
	var r redactor
	for _, f := range forms {
		// The raw-URL base64 forms are prefixes of the padded ones, so trimming padding
		// covers both.
		f = strings.TrimRight(f, "=")
		if f != "" && !containsString(r.secrets, f) {
			r.secrets = append(r.secrets, f)
		}
	}
	return r
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r redactor) text(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redactedText)
	}
	return s
}

func (r redactor) leaks(s string) bool {
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

// err returns err unchanged when its message is clean, and otherwise an error carrying the
// redacted message only (the original chain, which holds the key, is dropped).
func (r redactor) err(err error) error {
	if err == nil || !r.leaks(err.Error()) {
		return err
	}
	return &redactedError{msg: r.text(err.Error()), timeout: isTimeout(err)}
}

// redactedError stands in for an error whose message held the key.
type redactedError struct {
	msg     string
	timeout bool
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Timeout() bool { return e.timeout }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
