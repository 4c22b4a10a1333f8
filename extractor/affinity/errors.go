package affinity

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrBudgetSpent is what a reserver (see [WithReserve]) returns when the request budget is
// spent; the client then sends nothing and returns an error wrapping it.
var ErrBudgetSpent = errors.New("request budget spent")

// maxBodySnippet bounds the response body kept in an [APIError].
const maxBodySnippet = 512

// APIError is a non-2xx answer. Body is at most 512 bytes of the response body, with the API
// key removed; it is opaque text (Affinity's error bodies have no fixed shape).
type APIError struct {
	StatusCode int
	Method     string
	Endpoint   string // path template, e.g. "/persons/{id}"
	Path       string
	Body       string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: status %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
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

// DecodeError is a 2xx answer whose body could not be decoded (truncated JSON, wrong types).
// PageToken is the token of the page that failed ("" for the first page or an unpaged call).
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

// IsNotFound reports whether err is a 404 (an unknown or deleted entity).
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// IsMerged reports whether err is a 422 on a single-entity GET, which is how Affinity answers
// for an entity that was merged into another.
func IsMerged(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusUnprocessableEntity &&
		strings.HasSuffix(e.Endpoint, "/{id}")
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
