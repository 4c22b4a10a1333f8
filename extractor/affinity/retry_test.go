package affinity

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetryDecision(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	p := retryPolicy{maxAttempts: 4, base: time.Second, max: 8 * time.Second, rand: func() float64 { return 0.5 }}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	apiErr := func(status int) error { return &APIError{StatusCode: status} }
	decodeErr := &DecodeError{Err: io.ErrUnexpectedEOF}
	reset := &netError{msg: "read: connection reset by peer", err: syscall.ECONNRESET}

	for _, tc := range []struct {
		name    string
		attempt int
		status  int
		err     error
		h       http.Header
		retry   bool
		wait    time.Duration
	}{
		{name: "success", attempt: 1, status: 200},
		{name: "canceled", attempt: 1, err: fmt.Errorf("get: %w", context.Canceled)},
		{name: "canceled wins over 503", attempt: 1, status: 503, err: context.Canceled},
		{name: "connection reset", attempt: 1, err: reset, retry: true, wait: 750 * time.Millisecond},
		{name: "eof", attempt: 2, err: io.EOF, retry: true, wait: 1500 * time.Millisecond},
		{name: "client timeout", attempt: 1, err: context.DeadlineExceeded, retry: true, wait: 750 * time.Millisecond},
		{name: "undecodable 2xx", attempt: 3, status: 200, err: decodeErr, retry: true, wait: 3 * time.Second},
		{name: "500", attempt: 1, status: 500, err: apiErr(500), retry: true, wait: 750 * time.Millisecond},
		{name: "502", attempt: 1, status: 502, err: apiErr(502), retry: true, wait: 750 * time.Millisecond},
		{name: "503 capped", attempt: 3, status: 503, err: apiErr(503), retry: true, wait: 3 * time.Second},
		{name: "503 with retry-after", attempt: 1, status: 503, err: apiErr(503), h: hdr("Retry-After", "5"), retry: true, wait: 5 * time.Second},
		{name: "503 retry-after capped at max", attempt: 1, status: 503, err: apiErr(503), h: hdr("Retry-After", "50"), retry: true, wait: 8 * time.Second},
		{name: "504", attempt: 1, status: 504, err: apiErr(504), retry: true, wait: 750 * time.Millisecond},
		{name: "501 not retried", attempt: 1, status: 501, err: apiErr(501)},
		{name: "400", attempt: 1, status: 400, err: apiErr(400)},
		{name: "401", attempt: 1, status: 401, err: apiErr(401)},
		{name: "403", attempt: 1, status: 403, err: apiErr(403)},
		{name: "404", attempt: 1, status: 404, err: apiErr(404)},
		{name: "422", attempt: 1, status: 422, err: apiErr(422)},
		{name: "429 retry-after seconds", attempt: 1, status: 429, err: apiErr(429), h: hdr("Retry-After", "10"), retry: true, wait: 10*time.Second + 500*time.Millisecond},
		{name: "429 retry-after date", attempt: 1, status: 429, err: apiErr(429),
			h: hdr("Retry-After", now.Add(20*time.Second).Format(http.TimeFormat)), retry: true, wait: 21 * time.Second},
		{name: "429 date in the past", attempt: 1, status: 429, err: apiErr(429),
			h: hdr("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), retry: true, wait: 1050 * time.Millisecond},
		{name: "429 user reset", attempt: 1, status: 429, err: apiErr(429), h: hdr("X-Ratelimit-Limit-User-Reset", "30"), retry: true, wait: 31500 * time.Millisecond},
		{name: "429 garbage headers", attempt: 1, status: 429, err: apiErr(429),
			h: hdr("Retry-After", "soon", "X-Ratelimit-Limit-User-Reset", "later"), retry: true, wait: 63 * time.Second},
		{name: "429 no headers", attempt: 2, status: 429, err: apiErr(429), retry: true, wait: 63 * time.Second},
		{name: "429 beyond the wait cap", attempt: 1, status: 429, err: apiErr(429), h: hdr("Retry-After", "3600")},
		{name: "429 last attempt", attempt: 4, status: 429, err: apiErr(429), h: hdr("Retry-After", "1")},
		{name: "500 last attempt", attempt: 4, status: 500, err: apiErr(500)},
		{name: "transport last attempt", attempt: 4, err: reset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := tc.h
			if h == nil {
				h = http.Header{}
			}
			retry, wait, reason := p.decide(tc.attempt, tc.status, tc.err, h, now)
			require.Equal(t, tc.retry, retry, reason)
			require.Equal(t, tc.wait, wait, reason)
			require.NotEmpty(t, reason)
			if tc.status == 429 && retry {
				require.GreaterOrEqual(t, wait, time.Second, "a 429 is never retried at once")
			}
		})
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	t.Parallel()
	for _, r := range []float64{0, 0.999999} {
		p := retryPolicy{maxAttempts: 10, base: 500 * time.Millisecond, max: 60 * time.Second, rand: func() float64 { return r }}
		for attempt := 1; attempt <= 10; attempt++ {
			step := min(500*time.Millisecond<<(attempt-1), 60*time.Second)
			d := p.backoff(attempt)
			require.GreaterOrEqual(t, d, step/2, "attempt %d", attempt)
			require.LessOrEqual(t, d, step, "attempt %d", attempt)
		}
	}
}

// netError is a transport error like the ones net returns.
type netError struct {
	msg string
	err error
}

func (e *netError) Error() string   { return e.msg }
func (e *netError) Unwrap() error   { return e.err }
func (e *netError) Timeout() bool   { return false }
func (e *netError) Temporary() bool { return false }
