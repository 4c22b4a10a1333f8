package affinity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	// rateLimitFallback is the wait after a 429 that names no reset at all.
	rateLimitFallback = 60 * time.Second
	// rateLimitMinWait keeps a 429 from ever being retried at once.
	rateLimitMinWait = time.Second
	// rateLimitMaxWait is the longest wait the client sits out itself; a longer reset (a
	// spent monthly allowance) is returned to the caller as a *RateLimitError.
	rateLimitMaxWait = 5 * time.Minute
)

// retryPolicy holds the knobs of the one function that decides retries.
type retryPolicy struct {
	maxAttempts int
	base, max   time.Duration
	rand        func() float64 // in [0, 1)
}

// decide says whether attempt (1-based) is followed by another one, how long to wait first,
// and why. status is 0 for a transport error; err is the attempt's error (transport error,
// *APIError, *RateLimitError or, with a 2xx status, *DecodeError). It is a pure function of
// its arguments and the policy.
func (p retryPolicy) decide(attempt, status int, err error, h http.Header, now time.Time) (retry bool, wait time.Duration, reason string) {
	switch {
	case err == nil && status >= 200 && status < 300:
		return false, 0, "success"
	case errors.Is(err, context.Canceled):
		return false, 0, "context canceled"
	case status == http.StatusTooManyRequests:
		server, named := serverWait(h, now)
		if !named {
			server = rateLimitFallback
		}
		if server > rateLimitMaxWait {
			return false, 0, fmt.Sprintf("rate limited for %s, longer than %s", server, rateLimitMaxWait)
		}
		wait = max(server, rateLimitMinWait)
		wait += time.Duration(p.rand() * float64(wait/10))
		reason = fmt.Sprintf("rate limited, server reset in %s", server)
		if !named {
			reason = "rate limited, no reset named"
		}
	case status == 0 && err != nil:
		wait, reason = p.backoff(attempt), "transport error"
	case status >= 200 && status < 300:
		wait, reason = p.backoff(attempt), "response body could not be decoded"
	case status == http.StatusInternalServerError, status == http.StatusBadGateway,
		status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		wait, reason = p.backoff(attempt), fmt.Sprintf("server error %d", status)
		// Only Retry-After can ask for longer here: the per-minute reset header comes with
		// every answer and says nothing about when the server is back.
		if server, named := retryAfter(h, now); named && server > wait {
			wait = min(server, p.max)
		}
	default:
		return false, 0, fmt.Sprintf("status %d is not retried", status)
	}
	if attempt >= p.maxAttempts {
		return false, 0, fmt.Sprintf("%s; gave up after %d attempts", reason, attempt)
	}
	return true, wait, reason
}

// backoff is the capped exponential backoff before attempt+1, with equal jitter: half the
// step is fixed, half random, so it is never zero.
func (p retryPolicy) backoff(attempt int) time.Duration {
	step := p.base
	for i := 1; i < attempt && step < p.max; i++ {
		step *= 2
	}
	step = min(step, p.max)
	return step/2 + time.Duration(p.rand()*float64(step/2))
}

// serverWait is the wait a response asks for: Retry-After (seconds or an HTTP date), else
// X-Ratelimit-Limit-User-Reset seconds, both read in any letter case. named is false when neither is usable.
func serverWait(h http.Header, now time.Time) (wait time.Duration, named bool) {
	if wait, named := retryAfter(h, now); named {
		return wait, true
	}
	v, _ := headerValue(h, headerUserReset)
	if c := parseCount(v); c.Known && !c.Unlimited && c.N >= 0 {
		return seconds(c.N), true
	}
	return 0, false
}

// retryAfter reads Retry-After (seconds or an HTTP date); named is false when it is absent or
// unusable.
func retryAfter(h http.Header, now time.Time) (wait time.Duration, named bool) {
	v, _ := headerValue(h, "Retry-After")
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		return seconds(s), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// seconds converts without overflowing on absurd header values.
func seconds(s int64) time.Duration {
	const maxSeconds = int64(1<<63-1) / int64(time.Second)
	return time.Duration(min(s, maxSeconds)) * time.Second
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
