package affinity

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Count is a rate-limit number as Affinity reports it: an integer, or "unlimited" on plans
// without a cap. Known is false when the number was missing or could not be read;
// Unlimited implies Known.
type Count struct {
	Known     bool
	Unlimited bool
	N         int64
}

// String is the number, "unlimited", or "unknown".
func (c Count) String() string {
	switch {
	case !c.Known:
		return "unknown"
	case c.Unlimited:
		return "unlimited"
	}
	return strconv.FormatInt(c.N, 10)
}

// parseCount reads "123" or "unlimited" (any case); anything else is not Known.
func parseCount(s string) Count {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "unlimited") {
		return Count{Known: true, Unlimited: true}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return Count{}
	}
	return Count{Known: true, N: n}
}

// UnmarshalJSON accepts a JSON integer, a string holding an integer or "unlimited", and
// null. Anything else leaves the count unknown rather than failing the whole response.
func (c *Count) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	*c = parseCount(s)
	return nil
}

// RateLimitHeaders are the X-Ratelimit-* headers Affinity sends on every response: the
// per-minute window of the key's user and the monthly window of the account.
type RateLimitHeaders struct {
	UserLimit, UserRemaining, UserReset Count
	OrgLimit, OrgRemaining, OrgReset    Count
}

// Rate-limit header names (canonical form; lookups are case-insensitive).
const (
	headerUserLimit     = "X-Ratelimit-Limit-User"
	headerUserRemaining = "X-Ratelimit-Limit-User-Remaining"
	headerUserReset     = "X-Ratelimit-Limit-User-Reset"
	headerOrgLimit      = "X-Ratelimit-Limit-Org"
	headerOrgRemaining  = "X-Ratelimit-Limit-Org-Remaining"
	headerOrgReset      = "X-Ratelimit-Limit-Org-Reset"
)

// ParseRateLimitHeaders reads the six X-Ratelimit-* headers, in any letter case (v2 sends
// them lower-case). A missing or unreadable header gives a Count that is not Known; it never
// fails.
func ParseRateLimitHeaders(h http.Header) RateLimitHeaders {
	get := func(name string) Count {
		v, ok := headerValue(h, name)
		if !ok {
			return Count{}
		}
		return parseCount(v)
	}
	return RateLimitHeaders{
		UserLimit:     get(headerUserLimit),
		UserRemaining: get(headerUserRemaining),
		UserReset:     get(headerUserReset),
		OrgLimit:      get(headerOrgLimit),
		OrgRemaining:  get(headerOrgRemaining),
		OrgReset:      get(headerOrgReset),
	}
}

// headerValue is the first value of the header name, matched in any letter case: also in a
// header map whose keys were not canonicalized (as HTTP/2 and hand-built maps may have them).
func headerValue(h http.Header, name string) (string, bool) {
	if v := h.Values(name); len(v) > 0 {
		return v[0], true
	}
	for k, v := range h {
		if len(v) > 0 && strings.EqualFold(k, name) {
			return v[0], true
		}
	}
	return "", false
}
