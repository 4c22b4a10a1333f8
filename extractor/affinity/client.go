package affinity

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// DefaultBaseURL is the Affinity API (v1 and, under /v2, v2).
const DefaultBaseURL = "https://api.affinity.co"

const userAgent = "affinity-sync (+https://github.com/affinity-sync/affinity-sync)"

// Client talks to the Affinity API, v1 and v2. It is safe for concurrent use.
type Client struct {
	base    string // scheme://host[/prefix], no trailing slash
	auth    string // the Authorization header value of v1 requests (Basic)
	bearer  string // the Authorization header value of v2 requests (Bearer)
	redact  redactor
	http    *http.Client
	log     *slog.Logger
	limiter *rate.Limiter // nil = no client-side limit
	policy  retryPolicy
	reserve func(ctx context.Context) error
	observe func(RequestInfo)
	sleep   func(ctx context.Context, d time.Duration) error
	timeNow func() time.Time
}

// clientOptions collects what the options set; NewClient validates it.
type clientOptions struct {
	http        *http.Client
	log         *slog.Logger
	perMinute   int
	maxAttempts int
	base, max   time.Duration
	reserve     func(ctx context.Context) error
	observe     func(RequestInfo)
	sleep       func(ctx context.Context, d time.Duration) error
	rand        func() float64
}

// Option configures a Client.
type Option func(*clientOptions)

// WithHTTPClient sets the HTTP client (default: one with a 5 minute overall timeout).
func WithHTTPClient(h *http.Client) Option { return func(o *clientOptions) { o.http = h } }

// WithLogger sets the logger for retries (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *clientOptions) { o.log = l } }

// WithPerMinute limits the requests the client sends per minute, retries included
// (default 900; 0 turns the client-side limit off).
func WithPerMinute(n int) Option { return func(o *clientOptions) { o.perMinute = n } }

// WithRetry sets the attempts per request (first one included) and the exponential backoff
// step bounds (defaults 6, 500ms, 60s).
func WithRetry(maxAttempts int, base, max time.Duration) Option {
	return func(o *clientOptions) { o.maxAttempts, o.base, o.max = maxAttempts, base, max }
}

// WithReserve sets a hook called before every attempt, retries included. When it returns an
// error the request is not sent and the call fails with an error wrapping it (the quota
// ledger returns ErrBudgetSpent).
func WithReserve(f func(ctx context.Context) error) Option {
	return func(o *clientOptions) { o.reserve = f }
}

// WithObserver sets a hook called after every attempt that was sent.
func WithObserver(f func(RequestInfo)) Option { return func(o *clientOptions) { o.observe = f } }

// WithSleep replaces the wait between attempts (tests). The function must return early with
// ctx's error when ctx is done.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(o *clientOptions) { o.sleep = f }
}

// WithRand replaces the jitter source (tests); f returns a number in [0, 1).
func WithRand(f func() float64) Option { return func(o *clientOptions) { o.rand = f } }

// RequestInfo describes one attempt that was sent, for metrics and the quota ledger.
type RequestInfo struct {
	Method, Endpoint string // Endpoint is the path template, e.g. "/persons/{id}"
	Path             string // actual path, without query
	Label            string // the label of the request's context (WithLabel); "" for none
	Attempt          int    // 1-based
	Status           int    // 0 for a transport error
	Err              error  // the transport error, if any
	Duration         time.Duration
	RateLimit        RateLimitHeaders
}

// labelKey is the context key of WithLabel.
type labelKey struct{}

// WithLabel returns a copy of ctx whose requests carry label: the RequestInfo of every attempt
// sent with it reports it, so an observer can tell which part of a program sent a request
// (the extractor labels each stream's requests with the stream's name). The client gives
// labels no meaning.
func WithLabel(ctx context.Context, label string) context.Context {
	return context.WithValue(ctx, labelKey{}, label)
}

// LabelOf returns the label WithLabel gave ctx, "" for none.
func LabelOf(ctx context.Context) string {
	label, _ := ctx.Value(labelKey{}).(string)
	return label
}

// NewClient returns a client of the API at baseURL authenticating with apiKey. baseURL must
// use https, except for loopback hosts (127.0.0.0/8, ::1, localhost), which may use http.
func NewClient(baseURL, apiKey string, opts ...Option) (*Client, error) {
	if apiKey == "" {
		return nil, errors.New("new affinity client: api key is empty")
	}
	r := newRedactor(apiKey)
	base, err := checkBaseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("new affinity client: %w", r.err(err))
	}
	o := clientOptions{
		perMinute:   900,
		maxAttempts: 6,
		base:        500 * time.Millisecond,
		max:         60 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.perMinute < 0:
		return nil, fmt.Errorf("new affinity client: per-minute limit %d is negative", o.perMinute)
	case o.maxAttempts < 1:
		return nil, fmt.Errorf("new affinity client: max attempts %d is below 1", o.maxAttempts)
	case o.base <= 0 || o.max < o.base:
		return nil, fmt.Errorf("new affinity client: backoff bounds %s..%s are invalid", o.base, o.max)
	}
	c := &Client{
		base:    base,
		auth:    "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+apiKey)),
		bearer:  "Bearer " + apiKey,
		redact:  r,
		http:    o.http,
		log:     o.log,
		reserve: o.reserve,
		observe: o.observe,
		sleep:   o.sleep,
		timeNow: time.Now,
		policy:  retryPolicy{maxAttempts: o.maxAttempts, base: o.base, max: o.max, rand: o.rand},
	}
	if c.http == nil {
		// A server that accepts a request and never answers costs a minute,
		// not the five a whole (possibly long, streamed) response may take.
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.ResponseHeaderTimeout = time.Minute
		c.http = &http.Client{Timeout: 5 * time.Minute, Transport: transport}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.policy.rand == nil {
		c.policy.rand = rand.Float64
	}
	if o.perMinute > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(float64(o.perMinute)/60), max(1, o.perMinute/60))
	}
	return c, nil
}

// checkBaseURL validates the base URL and returns it without a trailing slash.
// CheckBaseURL reports whether raw may serve as the API's base URL: https, or
// http for a loopback host only, with no credentials, query or fragment.
func CheckBaseURL(raw string) error {
	_, err := checkBaseURL(raw)
	return err
}

func checkBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("base url is not a url: %w", err)
	}
	if u.User != nil {
		return "", fmt.Errorf("base url %q must not carry credentials", u.Redacted())
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("base url %q has no host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("base url %q must not have a query or fragment", u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("base url %q must use https (http only for loopback hosts)", u.Redacted())
		}
	default:
		return "", fmt.Errorf("base url %q must use https", u.Redacted())
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiVersion is the API a request goes to; it decides the auth scheme and the headers.
type apiVersion int

const (
	apiV1 apiVersion = iota
	apiV2
)

// v2Version is the dated v2 version every v2 request pins, so a change of the key's default
// version on the server never changes what the client reads.
const v2Version = "2026-09-17"

// request is one logical call: its method, API version, path template (for metrics and
// errors), path and query, or an absolute URL (a v2 nextUrl, already checked to point at the
// base URL's host).
type request struct {
	method    string // "" = GET
	version   apiVersion
	endpoint  string
	path      string
	query     url.Values
	url       string // absolute URL sent as given instead of base+path+query
	body      []byte // JSON request body; nil = none
	once      bool   // a single attempt, never retried (writes)
	pageToken string // reported in a DecodeError
	showQuery bool   // an *APIError names the query sent (see APIError.Query)
}

func (r request) verb() string {
	if r.method == "" {
		return http.MethodGet
	}
	return r.method
}

// target is the URL the request is sent to.
func (r request) target(base string) string {
	if r.url != "" {
		return r.url
	}
	target := base + r.path
	if q := r.query.Encode(); q != "" {
		target += "?" + q
	}
	return target
}

// final marks a decode error that must not be retried (a stream that already yielded items);
// a nil err inside means the consumer stopped early and the call ends without error.
type final struct{ err error }

func (f final) Error() string {
	if f.err == nil {
		return "stopped"
	}
	return f.err.Error()
}

// send is the one path every request of every method and API version takes: per-minute
// limiter, reservation, auth and headers, observer, error typing and retries. It hands a 2xx
// body to decode inside the retry loop: a body that fails to decode is retried like a
// transport fault unless decode returns a final. A request marked once gets one attempt.
func (c *Client) send(ctx context.Context, r request, decode func(io.Reader) error) error {
	method, target := r.verb(), r.target(c.base)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s %s: %w", method, r.path, err)
		}
		if c.limiter != nil {
			if err := c.limiter.Wait(ctx); err != nil {
				return fmt.Errorf("%s %s: wait for rate limiter: %w", method, r.path, err)
			}
		}
		if c.reserve != nil {
			if err := c.reserve(ctx); err != nil {
				return fmt.Errorf("%s %s: reserve request: %w", method, r.path, err)
			}
		}
		status, header, err := c.attempt(ctx, r, target, attempt, decode)
		if err == nil {
			return nil
		}
		var f final
		if errors.As(err, &f) {
			if f.err == nil {
				return nil
			}
			return &DecodeError{Endpoint: r.endpoint, Path: r.path, PageToken: r.pageToken, Err: f.err}
		}
		if r.once {
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%s %s: %w", method, r.path, ctxErr)
		}
		retry, wait, reason := c.policy.decide(attempt, status, err, header, c.timeNow())
		if !retry {
			if attempt > 1 {
				return fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return err
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "affinity request retry",
			slog.String("method", method),
			slog.String("endpoint", r.endpoint), slog.String("path", r.path),
			slog.Int("attempt", attempt), slog.Int("status", status),
			slog.Duration("wait", wait), slog.String("reason", reason),
			slog.String("error", err.Error()))
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s %s: wait before attempt %d: %w", method, r.path, attempt+1, err)
		}
	}
}

// attempt sends one request and classifies the outcome: nil, a transport error (status 0),
// *APIError, *RateLimitError, *DecodeError, or a final from decode.
func (c *Client) attempt(ctx context.Context, r request, target string, n int, decode func(io.Reader) error) (int, http.Header, error) {
	method := r.verb()
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: build request: %w", method, r.path, c.redact.err(err))
	}
	// A body without GetBody makes the request non-replayable: net/http then never resends
	// it on its own (it would after a reused connection broke before the answer), so every
	// resend goes through decide, the reserve hook and the observer. Without a payload the
	// body is empty: the transport probes it and sends nothing.
	if r.body != nil {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(r.body)), int64(len(r.body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Body = noReplay{}
	}
	switch r.version {
	case apiV2:
		req.Header.Set("Authorization", c.bearer)
		req.Header.Set("X-Affinity-Api-Version", v2Version)
	default:
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	info := RequestInfo{Method: method, Endpoint: r.endpoint, Path: r.path, Label: LabelOf(ctx), Attempt: n}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		err = c.redact.err(err)
		info.Err, info.Duration = err, time.Since(start)
		c.report(info)
		return 0, nil, fmt.Errorf("%s %s: %w", method, r.path, err)
	}
	defer resp.Body.Close()
	info.Status = resp.StatusCode
	info.RateLimit = ParseRateLimitHeaders(resp.Header)

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		err = decode(resp.Body)
		var f final
		if err != nil && !errors.As(err, &f) {
			err = &DecodeError{Endpoint: r.endpoint, Path: r.path, PageToken: r.pageToken, Err: c.redact.err(err)}
		}
	} else {
		err = c.statusError(r, resp)
	}
	// Drain a little so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	info.Duration = time.Since(start)
	c.report(info)
	return resp.StatusCode, resp.Header, err
}

// noReplay is the empty request body that keeps net/http from replaying a request.
type noReplay struct{}

func (noReplay) Read([]byte) (int, error) { return 0, io.EOF }
func (noReplay) Close() error             { return nil }

func (c *Client) report(info RequestInfo) {
	if c.observe != nil {
		c.observe(info)
	}
}

// statusError turns a non-2xx response into an *APIError or *RateLimitError.
func (c *Client) statusError(r request, resp *http.Response) error {
	// Read past the snippet so a key straddling its end is still whole when redacted, and
	// far enough to parse a structured error body. Only the last longest-1 bytes of a full
	// read can hold a cut-off piece of a key: drop them.
	longest := 0
	for _, s := range c.redact.secrets {
		longest = max(longest, len(s))
	}
	limit := maxErrorBody + longest
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, int64(limit)))
	body := c.redact.text(string(raw))
	if len(raw) == limit {
		body = body[:max(0, len(body)-(longest-1))]
	}
	apiErr := APIError{
		StatusCode: resp.StatusCode,
		Method:     r.verb(),
		Endpoint:   r.endpoint,
		Path:       r.path,
		Body:       strings.TrimSpace(strings.ToValidUTF8(body[:min(len(body), maxBodySnippet)], "")),
	}
	if r.showQuery {
		apiErr.Query = c.redact.text(readableQuery(r.query))
	}
	if e, ok := parseErrorBody(raw); ok {
		apiErr.Code = snippet(c.redact.text(e.Code))
		apiErr.Message = snippet(c.redact.text(e.Message))
		apiErr.Param = snippet(c.redact.text(e.Param))
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		now := c.timeNow()
		wait, _ := serverWait(resp.Header, now)
		return &RateLimitError{APIError: apiErr, RetryAfter: wait, Reset: now.Add(wait)}
	}
	return &apiErr
}
