package affinitytest

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultPerMinute is the per-minute limit reported in the headers when none is enforced.
const DefaultPerMinute = 900

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the only accepted API key (default "demo-key").
func WithAPIKey(key string) Option { return func(s *Server) { s.key = key } }

// WithLatency adds d to every request; the wait ends early when the request is cancelled.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// WithPerMinuteLimit answers 429 once n requests were served in the current clock minute;
// 0 (the default) enforces nothing and reports 900 in the headers.
func WithPerMinuteLimit(n int) Option { return func(s *Server) { s.perMinute = n } }

// WithMonthlyLimit answers 429 once n requests (not counting /rate-limit and /auth/whoami) were
// served in the current UTC month; 0 (the default) is unlimited and reported as "unlimited".
func WithMonthlyLimit(n int) Option { return func(s *Server) { s.monthly = n } }

// WithClock sets the clock used for rate-limit windows and for the workspace's mutation helpers.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// Faults injects failures at random (seeded) into requests.
type Faults struct {
	Seed int64
	// Probabilities per request; RateReset closes the connection without an answer and
	// RateTruncate sends half of a 200 body.
	Rate429, Rate500, Rate503, RateTruncate, RateReset float64
	// RetryAfter adds Retry-After to injected 429s (X-Ratelimit-Limit-User-Reset is always set).
	RetryAfter bool
	// Endpoints limits faults to these endpoint templates (e.g. "GET /persons"); empty = all.
	Endpoints []string
}

type failRule struct {
	status, n int
}

// Server is the fake Affinity API (v1, and the v2 reads of v2.go). It implements http.Handler and is safe for concurrent use.
type Server struct {
	key       string
	latency   time.Duration
	perMinute int
	monthly   int
	now       func() time.Time

	routes map[string]handlerFunc

	mu sync.RWMutex // guards ws
	ws *Workspace

	cmu         sync.Mutex // guards everything below
	requests    map[string]int
	total       int
	minuteStart time.Time
	minuteUsed  int
	month       int
	monthUsed   int
	faults      Faults
	faultRNG    *rand.Rand
	failNext    map[string]failRule

	hooks webhooks // GET /webhook, POST /webhook/subscribe (webhooks.go)

	v2 v2Options // how API v2 answers (v2.go); guarded by cmu

	filesUnfiltered FilesUnfilteredMode // GET /entity-files without a filter (v1_files.go); guarded by cmu
}

// NewServer serves ws. The server owns ws from now on: change it only through Mutate.
func NewServer(ws *Workspace, opts ...Option) *Server {
	s := &Server{key: "demo-key", ws: ws, routes: routes(), requests: map[string]int{}, failNext: map[string]failRule{}}
	for _, o := range opts {
		o(s)
	}
	s.routes["/entity-files"] = s.listEntityFiles
	if s.now != nil {
		ws.SetClock(s.now)
	} else {
		s.now = time.Now
	}
	ws.index()
	return s
}

// Mutate runs f on the workspace under the server's lock and refreshes the lookups afterwards.
func (s *Server) Mutate(f func(w *Workspace)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.ws)
	s.ws.invalidate()
	s.ws.index()
}

// Snapshot returns a deep copy of the served workspace.
func (s *Server) Snapshot() *Workspace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ws.Snapshot()
}

// SetFaults replaces the random fault injection (the zero Faults turns it off).
func (s *Server) SetFaults(f Faults) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	f.Endpoints = append([]string(nil), f.Endpoints...)
	s.faults = f
	s.faultRNG = rand.New(rand.NewPCG(uint64(f.Seed), 0x5eed))
}

// FailNext makes the next n authorized requests to an endpoint template (e.g. "GET /persons")
// answer status with an {"errors": [...]} body.
func (s *Server) FailNext(endpoint string, status int, n int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.failNext[endpoint] = failRule{status: status, n: n}
}

// Requests counts requests per endpoint template, e.g. "GET /persons/{id}"; unknown paths are
// counted under their method and path.
func (s *Server) Requests() map[string]int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return maps.Clone(s.requests)
}

// TotalRequests is the number of requests received, whatever their answer.
func (s *Server) TotalRequests() int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.total
}

// ResetCounters zeroes the request counters and the rate-limit usage.
func (s *Server) ResetCounters() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.requests = map[string]int{}
	s.total = 0
	s.minuteUsed = 0
	s.monthUsed = 0
}

// limitState is what the rate-limit headers and /rate-limit report.
type limitState struct {
	userLimit, userRemaining, userReset, userUsed int
	orgLimit, orgRemaining, orgReset, orgUsed     int // orgLimit 0 = unlimited
}

func (st limitState) orgValue(n int) any {
	if st.orgLimit == 0 {
		return "unlimited"
	}
	return n
}

func (st limitState) setHeaders(h http.Header) {
	org := func(n int) string {
		if st.orgLimit == 0 {
			return "unlimited"
		}
		return strconv.Itoa(n)
	}
	h.Set("X-Ratelimit-Limit-User", strconv.Itoa(st.userLimit))
	h.Set("X-Ratelimit-Limit-User-Remaining", strconv.Itoa(st.userRemaining))
	h.Set("X-Ratelimit-Limit-User-Reset", strconv.Itoa(st.userReset))
	h.Set("X-Ratelimit-Limit-Org", org(st.orgLimit))
	h.Set("X-Ratelimit-Limit-Org-Remaining", org(st.orgRemaining))
	h.Set("X-Ratelimit-Limit-Org-Reset", strconv.Itoa(st.orgReset))
}

// account rolls the windows, then (when count is set) admits or refuses one request. It
// returns the state to report and whether the request is over a limit. Caller holds cmu.
func (s *Server) account(count, monthly bool) (limitState, bool) {
	now := s.now()
	start := now.Truncate(time.Minute)
	if !start.Equal(s.minuteStart) {
		s.minuteStart, s.minuteUsed = start, 0
	}
	u := now.UTC()
	if m := u.Year()*12 + int(u.Month()); m != s.month {
		s.month, s.monthUsed = m, 0
	}
	over := false
	if count {
		switch {
		case s.perMinute > 0 && s.minuteUsed >= s.perMinute:
			over = true
		case monthly && s.monthly > 0 && s.monthUsed >= s.monthly:
			over = true
		default:
			s.minuteUsed++
			if monthly {
				s.monthUsed++
			}
		}
	}
	userLimit := s.perMinute
	if userLimit == 0 {
		userLimit = DefaultPerMinute
	}
	nextMonth := time.Date(u.Year(), u.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	st := limitState{
		userLimit:     userLimit,
		userRemaining: max(0, userLimit-s.minuteUsed),
		userReset:     ceilSeconds(start.Add(time.Minute).Sub(now)),
		userUsed:      s.minuteUsed,
		orgLimit:      s.monthly,
		orgRemaining:  max(0, s.monthly-s.monthUsed),
		orgReset:      ceilSeconds(nextMonth.Sub(u)),
		orgUsed:       s.monthUsed,
	}
	return st, over
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// fault picks the injected failure for this request, if any: a status, or -1 for truncate,
// -2 for reset. Caller holds cmu.
func (s *Server) fault(endpoint string) int {
	if r, ok := s.failNext[endpoint]; ok && r.n > 0 {
		r.n--
		if r.n == 0 {
			delete(s.failNext, endpoint)
		} else {
			s.failNext[endpoint] = r
		}
		return r.status
	}
	f := s.faults
	if s.faultRNG == nil || (len(f.Endpoints) > 0 && !contains(f.Endpoints, endpoint)) {
		return 0
	}
	u := s.faultRNG.Float64()
	for _, c := range []struct {
		p      float64
		result int
	}{{f.Rate429, 429}, {f.Rate500, 500}, {f.Rate503, 503}, {f.RateTruncate, -1}, {f.RateReset, -2}} {
		if u < c.p {
			return c.result
		}
		u -= c.p
	}
	return 0
}

func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	var got string
	switch {
	case strings.HasPrefix(h, "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len("Basic "):]))
		if err != nil {
			return false
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return false
		}
		got = pass
	case strings.HasPrefix(h, "Bearer "):
		got = strings.TrimSpace(h[len("Bearer "):])
	default:
		return false
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.key)) == 1
}

// admit accounts one authorized request: it reports the limit state, whether the request is
// over a limit and, when it is not, the injected fault (see fault) and whether injected 429s
// carry Retry-After.
func (s *Server) admit(endpoint string, monthly bool) (st limitState, over bool, injected int, retryAfter bool) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	st, over = s.account(true, monthly)
	if !over {
		injected = s.fault(endpoint)
		retryAfter = s.faults.RetryAfter
	}
	return st, over, injected, retryAfter
}

// ServeHTTP answers one request: latency, auth, limits, injected faults, then the endpoint.
// Paths under /v2 are answered by serveV2 (v2.go), from the same workspace and counters.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v2 := isV2Path(r.URL.Path)
	var rt route
	if v2 {
		rt = matchV2Route(r.URL.Path)
	} else {
		rt = matchRoute(s.routes, r.URL.Path)
	}
	endpoint := r.Method + " " + rt.template
	if !rt.found {
		endpoint = r.Method + " " + r.URL.Path
	}
	s.cmu.Lock()
	s.requests[endpoint]++
	s.total++
	s.cmu.Unlock()

	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}

	if v2 {
		s.serveV2(w, r, rt, endpoint)
		return
	}
	monthly := rt.template != "/rate-limit" && rt.template != "/auth/whoami"
	if !s.authorized(r) {
		s.cmu.Lock()
		st, _ := s.account(false, monthly)
		s.cmu.Unlock()
		st.setHeaders(w.Header())
		writeError(w, http.StatusUnauthorized, "Unauthorized: missing or invalid API key")
		return
	}
	st, over, injected, retryAfter := s.admit(endpoint, monthly)
	st.setHeaders(w.Header())
	if over {
		writeError(w, http.StatusTooManyRequests, "Rate limit exceeded")
		return
	}
	switch {
	case injected == -2:
		resetConnection(w)
		return
	case injected > 0:
		if injected == http.StatusTooManyRequests {
			w.Header().Set("X-Ratelimit-Limit-User-Reset", "1")
			if retryAfter {
				w.Header().Set("Retry-After", "1")
			}
		}
		writeError(w, injected, "Injected failure ("+strconv.Itoa(injected)+")")
		return
	}

	if s.serveWebhooks(w, r, rt) {
		return
	}
	if !rt.found {
		writeError(w, http.StatusNotFound, "Not found")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	var body any
	var aerr *apiError
	s.mu.RLock()
	if rt.template == "/rate-limit" {
		body = rateLimitBody(st)
	} else {
		body, aerr = rt.handle(s.ws, s.ws.index(), r, rt.ids)
	}
	var buf bytes.Buffer
	if aerr == nil {
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			aerr = errorf(http.StatusInternalServerError, "encode response")
		}
	}
	s.mu.RUnlock()
	if aerr != nil {
		writeError(w, aerr.status, aerr.msg)
		return
	}
	writeOK(w, buf.Bytes(), injected == -1)
}

// writeOK answers 200 with a JSON body; a truncated answer (an injected fault) sends half of
// it without a Content-Length.
func writeOK(w http.ResponseWriter, b []byte, truncate bool) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if truncate {
		b = b[:len(b)/2]
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// resetConnection drops the connection without an answer.
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// apiError is an error answer. v1 serves only msg; v2 also serves code (derived from status
// when empty) and param.
type apiError struct {
	status      int
	msg         string
	code, param string
}

func errorf(status int, msg string) *apiError { return &apiError{status: status, msg: msg} }

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string][]string{"errors": {msg}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func rateLimitBody(st limitState) any {
	return map[string]any{"rate": map[string]any{
		"org_monthly": map[string]any{
			"limit": st.orgValue(st.orgLimit), "remaining": st.orgValue(st.orgRemaining),
			"reset": st.orgReset, "used": st.orgUsed,
		},
		"api_key_per_minute": map[string]any{
			"limit": st.userLimit, "remaining": st.userRemaining, "reset": st.userReset, "used": st.userUsed,
		},
	}}
}
