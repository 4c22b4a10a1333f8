package affinity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// v2Server serves a cursor-paged v2 listing of companies with ids 1..total, size per page;
// the cursor is "c<first id of the page>". It checks the v2 headers and records every
// request URL. nextURL, when set, replaces the nextUrl the server would send.
type v2Server struct {
	total, size int
	nextURL     func(r *http.Request, cursor string) string
	mu          sync.Mutex
	urls        []string
	headers     []http.Header
}

func (s *v2Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.urls = append(s.urls, r.URL.String())
	s.headers = append(s.headers, r.Header.Clone())
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		writeV2Error(w, http.StatusUnauthorized, "authentication", "bad key", "")
		return
	}
	first := 1
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := fmt.Sscanf(c, "c%d", &first)
		if err != nil || n != 1 || first < 1 || first > s.total {
			writeV2Error(w, http.StatusBadRequest, "validation", "invalid cursor", "cursor")
			return
		}
	}
	var data []string
	for id := first; id < first+s.size && id <= s.total; id++ {
		data = append(data, fmt.Sprintf(`{"id":%d,"name":"C%d","domain":null,"domains":[],"isGlobal":false,"fields":[]}`, id, id))
	}
	next := "null"
	if first+s.size <= s.total {
		cursor := fmt.Sprintf("c%d", first+s.size)
		u := "http://" + r.Host + r.URL.Path + "?" + url.Values{"fieldTypes": {"global"}, "limit": {"100"}, "cursor": {cursor}}.Encode()
		if s.nextURL != nil {
			u = s.nextURL(r, cursor)
		}
		next = `"` + u + `"`
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":[%s],"pagination":{"prevUrl":null,"nextUrl":%s}}`, strings.Join(data, ","), next)
}

func (s *v2Server) requested() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.urls...)
}

func writeV2Error(w http.ResponseWriter, status int, code, msg, param string) {
	e := map[string]string{"code": code, "message": msg}
	if param != "" {
		e["param"] = param
	}
	b, _ := json.Marshal(map[string]any{"errors": []any{e}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// companyIDs drains a companies listing: the ids of every page, the cursors and the errors.
func companyIDs(seq func(func(V2Page[V2Company], error) bool)) (ids []int64, cursors []string, errs []error) {
	for page, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range page.Items {
			ids = append(ids, c.ID)
		}
		cursors = append(cursors, page.NextCursor)
	}
	return ids, cursors, errs
}

func TestV2HeadersAndPaging(t *testing.T) {
	t.Parallel()
	srv := &v2Server{total: 5, size: 2}
	var infos []RequestInfo
	c, _ := newTestClient(t, srv, WithObserver(func(i RequestInfo) { infos = append(infos, i) }))
	ids, cursors, errs := companyIDs(c.CompaniesV2(t.Context(), V2Query{FieldTypes: []string{"global", "enriched"}, FieldIDs: []string{"persons"}}))
	require.Empty(t, errs)
	require.Equal(t, []int64{1, 2, 3, 4, 5}, ids)
	require.Equal(t, []string{"c3", "c5", ""}, cursors)

	urls := srv.requested()
	require.Len(t, urls, 3)
	require.Equal(t, "/v2/companies?fieldIds=persons&fieldTypes=global&fieldTypes=enriched&limit=100", urls[0])
	require.Equal(t, "/v2/companies?cursor=c3&fieldTypes=global&limit=100", urls[1], "nextUrl is requested as given")
	for _, h := range srv.headers {
		require.Equal(t, "Bearer "+testKey, h.Get("Authorization"))
		require.Equal(t, "2026-09-17", h.Get("X-Affinity-Api-Version"))
		require.Equal(t, "application/json", h.Get("Accept"))
	}
	require.Len(t, infos, 3)
	for _, i := range infos {
		require.Equal(t, "/v2/companies", i.Endpoint)
		require.Equal(t, "/v2/companies", i.Path)
		require.Equal(t, http.MethodGet, i.Method)
	}
}

func TestV1KeepsBasicAuth(t *testing.T) {
	t.Parallel()
	var got http.Header
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		_, _ = w.Write([]byte(`[]`))
	}))
	_, err := c.Lists(t.Context())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(got.Get("Authorization"), "Basic "))
	require.Empty(t, got.Values("X-Affinity-Api-Version"), "v1 requests pin no v2 version")
}

func TestV2EndpointLabels(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var paths []string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.RequestURI())
		mu.Unlock()
		_, _ = w.Write([]byte(`{"data":[],"pagination":{"prevUrl":null,"nextUrl":null}}`))
	}))
	var endpoints []string
	c.observe = func(i RequestInfo) { endpoints = append(endpoints, i.Endpoint+" "+i.Path) }
	for _, err := range c.ListEntriesV2(t.Context(), 401, V2Query{FieldTypes: []string{"list"}, Limit: 500}) {
		require.NoError(t, err)
	}
	for _, err := range c.PersonsV2(t.Context(), V2Query{Limit: 20}) {
		require.NoError(t, err)
	}
	require.Equal(t, []string{
		"/v2/lists/{id}/list-entries /v2/lists/401/list-entries",
		"/v2/persons /v2/persons",
	}, endpoints)
	require.Equal(t, []string{
		"/v2/lists/401/list-entries?fieldTypes=list&limit=100",
		"/v2/persons?limit=20",
	}, paths)
}

func TestV2CursorResume(t *testing.T) {
	t.Parallel()
	srv := &v2Server{total: 5, size: 2}
	c, _ := newTestClient(t, srv)
	ids, cursors, errs := companyIDs(c.CompaniesV2(t.Context(), V2Query{FieldTypes: []string{"global"}, Cursor: "c3"}))
	require.Empty(t, errs)
	require.Equal(t, []int64{3, 4, 5}, ids)
	require.Equal(t, []string{"c5", ""}, cursors)
	require.Equal(t, "/v2/companies?cursor=c3&fieldTypes=global&limit=100", srv.requested()[0])
}

func TestV2InvalidCursor(t *testing.T) {
	t.Parallel()
	srv := &v2Server{total: 5, size: 2}
	c, sleeps := newTestClient(t, srv)
	_, _, errs := companyIDs(c.CompaniesV2(t.Context(), V2Query{Cursor: "bogus"}))
	require.Len(t, errs, 1)
	require.True(t, IsInvalidCursor(errs[0]))
	var apiErr *APIError
	require.ErrorAs(t, errs[0], &apiErr)
	require.Equal(t, "validation", apiErr.Code)
	require.Equal(t, "cursor", apiErr.Param)
	require.Len(t, srv.requested(), 1, "a 400 is not retried")
	require.Empty(t, sleeps.recorded())

	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"400 without cursor": {&APIError{StatusCode: 400}, false},
		"404 with cursor":    {fmt.Errorf("x: %w", &APIError{StatusCode: 404}), false},
		"nil":                {nil, false},
		"wrapped refusal":    {fmt.Errorf("resume: %w", &cursorRefused{cursor: "c", err: &APIError{StatusCode: 400}}), true},
	} {
		require.Equal(t, tc.want, IsInvalidCursor(tc.err), name)
	}
}

func TestV2ErrorBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status          int
		code, msg, prm  string
		notFound        bool
		wantText        string
		wantRateLimited bool
	}{
		{status: 400, code: "validation", msg: "must be <= 100", prm: "limit",
			wantText: "GET /v2/persons: status 400 Bad Request: validation: must be <= 100 (param limit)"},
		{status: 401, code: "authentication", msg: "bad key", wantText: "status 401 Unauthorized: authentication: bad key"},
		{status: 403, code: "authorization", msg: "export permission needed", wantText: "authorization: export permission needed"},
		{status: 404, code: "not-found", msg: "no such thing", notFound: true},
		{status: 429, code: "rate-limit", msg: "slow down", wantRateLimited: true},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int32
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header()["x-ratelimit-limit-user-reset"] = []string{"600"} // longer than the client waits itself
				writeV2Error(w, tc.status, tc.code, tc.msg, tc.prm)
			}))
			var err error
			for _, e := range c.PersonsV2(t.Context(), V2Query{}) {
				err = e
			}
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tc.status, apiErr.StatusCode)
			require.Equal(t, tc.code, apiErr.Code)
			require.Equal(t, tc.msg, apiErr.Message)
			require.Equal(t, tc.prm, apiErr.Param)
			require.Equal(t, "/v2/persons", apiErr.Endpoint)
			require.Equal(t, tc.notFound, IsNotFound(err))
			require.False(t, IsInvalidCursor(err), "no cursor was sent")
			var rl *RateLimitError
			require.Equal(t, tc.wantRateLimited, errors.As(err, &rl))
			if tc.wantRateLimited {
				require.Equal(t, 600*time.Second, rl.RetryAfter)
			}
			if tc.wantText != "" {
				require.ErrorContains(t, err, tc.wantText)
			}
			require.EqualValues(t, 1, hits.Load())
		})
	}
}

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want errorBody
		ok   bool
	}{
		{`{"errors":[{"code":"validation","message":"must be <= 100","param":"limit"}]}`, errorBody{"validation", "must be <= 100", "limit"}, true},
		{`{"errors":[{"code":"server","message":"oops"},{"code":"other","message":"x"}]}`, errorBody{Code: "server", Message: "oops"}, true},
		{`{"errors":[{"code":"brand-new-code","message":"m","extra":{"a":1}}],"more":true}`, errorBody{Code: "brand-new-code", Message: "m"}, true},
		{`{"errors":["unauthorized"]}`, errorBody{Message: "unauthorized"}, true},
		{`{"errors":[]}`, errorBody{}, false},
		{`{"error":"Not found"}`, errorBody{}, false},
		{`<html>bad gateway</html>`, errorBody{}, false},
		{``, errorBody{}, false},
		{`{"errors":[{"code":"validation","message":"cut`, errorBody{}, false},
	} {
		got, ok := parseErrorBody([]byte(tc.body))
		require.Equal(t, tc.ok, ok, tc.body)
		require.Equal(t, tc.want, got, tc.body)
	}
}

func TestV2RateLimitWaitsForLowerCaseReset(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	c, sleeps := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header()["x-ratelimit-limit-user-reset"] = []string{"17"}
			w.Header()["x-ratelimit-limit-user-remaining"] = []string{"0"}
			writeV2Error(w, http.StatusTooManyRequests, "rate-limit", "too many requests", "")
			return
		}
		_, _ = w.Write([]byte(`{"data":[{"id":1,"firstName":"A","lastName":null,"primaryEmailAddress":null,"emailAddresses":[],"type":"external"}],"pagination":{"nextUrl":null}}`))
	}))
	var remaining []Count
	c.observe = func(i RequestInfo) { remaining = append(remaining, i.RateLimit.UserRemaining) }
	var got []V2Person
	for page, err := range c.PersonsV2(t.Context(), V2Query{}) {
		require.NoError(t, err)
		got = append(got, page.Items...)
	}
	require.Len(t, got, 1)
	require.EqualValues(t, 2, hits.Load())
	// The reset (17 s) plus the fixed jitter of 0.5 × a tenth of it.
	require.Equal(t, []time.Duration{17*time.Second + 850*time.Millisecond}, sleeps.recorded())
	require.Equal(t, Count{Known: true, N: 0}, remaining[0], "lower-case headers reach the observer")
}

func TestHeaderValueAnyCase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		h    http.Header
		want string
		ok   bool
	}{
		{http.Header{"X-Ratelimit-Limit-User-Reset": {"5"}}, "5", true},
		{http.Header{"x-ratelimit-limit-user-reset": {"6"}}, "6", true},
		{http.Header{"X-RATELIMIT-LIMIT-USER-RESET": {"7", "8"}}, "7", true},
		{http.Header{"x-ratelimit-limit-user-reset": {}}, "", false},
		{http.Header{"x-ratelimit-limit-user": {"900"}}, "", false},
		{nil, "", false},
	} {
		got, ok := headerValue(tc.h, headerUserReset)
		require.Equal(t, tc.ok, ok, "%v", tc.h)
		require.Equal(t, tc.want, got, "%v", tc.h)
	}
	require.Equal(t, RateLimitHeaders{UserLimit: Count{Known: true, N: 900}, OrgRemaining: Count{Known: true, Unlimited: true}},
		ParseRateLimitHeaders(http.Header{"x-ratelimit-limit-user": {"900"}, "x-ratelimit-limit-org-remaining": {"unlimited"}}))
	wait, named := serverWait(http.Header{"x-ratelimit-limit-user-reset": {"9"}}, time.Now())
	require.True(t, named)
	require.Equal(t, 9*time.Second, wait)
}

func TestV2ReserveBeforeEveryAttempt(t *testing.T) {
	t.Parallel()
	var hits, reserved atomic.Int32
	var mu sync.Mutex
	var reservedAtArrival []int32 // reservations made when each request reached the server
	srv := &v2Server{total: 3, size: 2}
	c, sleeps := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reservedAtArrival = append(reservedAtArrival, reserved.Load())
		mu.Unlock()
		// Attempts 1 and 2 of the first page fail; the rest succeed.
		if n := hits.Add(1); n <= 2 {
			writeV2Error(w, http.StatusServiceUnavailable, "server", "try later", "")
			return
		}
		srv.ServeHTTP(w, r)
	}), WithReserve(func(context.Context) error { reserved.Add(1); return nil }))
	ids, _, errs := companyIDs(c.CompaniesV2(t.Context(), V2Query{}))
	require.Empty(t, errs)
	require.Equal(t, []int64{1, 2, 3}, ids)
	require.EqualValues(t, 4, hits.Load())
	require.EqualValues(t, 4, reserved.Load(), "one reservation per attempt, retries included")
	mu.Lock()
	require.Equal(t, []int32{1, 2, 3, 4}, reservedAtArrival, "each attempt was reserved before it was sent")
	mu.Unlock()
	require.Len(t, sleeps.recorded(), 2)

	// A refused reservation sends nothing.
	refusing, _ := newTestClient(t, srv, WithReserve(func(context.Context) error { return ErrBudgetSpent }))
	_, _, errs = companyIDs(refusing.CompaniesV2(t.Context(), V2Query{}))
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], ErrBudgetSpent)
	require.Len(t, srv.requested(), 2, "only the two pages of the first listing reached the server")
}

func TestV2NextURLMustStayOnTheBaseHost(t *testing.T) {
	t.Parallel()
	// other counts what reaches a second server: nothing may.
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	t.Cleanup(other.Close)
	otherPort := other.Listener.Addr().(*net.TCPAddr).Port

	for name, next := range map[string]func(r *http.Request, cursor string) string{
		"other port": func(_ *http.Request, c string) string {
			return fmt.Sprintf("http://127.0.0.1:%d/v2/companies?cursor=%s", otherPort, c)
		},
		"other host": func(r *http.Request, c string) string {
			return "http://localhost:" + portOf(r.Host) + "/v2/companies?cursor=" + c
		},
		"other scheme": func(r *http.Request, c string) string { return "https://" + r.Host + "/v2/companies?cursor=" + c },
		"credentials": func(r *http.Request, c string) string {
			return "http://" + testKey + "@" + r.Host + "/v2/companies?cursor=" + c
		},
		"relative":  func(_ *http.Request, c string) string { return "/v2/companies?cursor=" + c },
		"no scheme": func(r *http.Request, c string) string { return "//" + r.Host + "/v2/companies?cursor=" + c },
		"key in host": func(_ *http.Request, c string) string {
			return "http://" + testKey + ".example/v2/companies?cursor=" + c
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &v2Server{total: 5, size: 2, nextURL: next}
			c, sleeps := newTestClient(t, srv)
			ids, _, errs := companyIDs(c.CompaniesV2(t.Context(), V2Query{}))
			require.Empty(t, ids, "the page whose nextUrl is refused is not yielded")
			require.Len(t, errs, 1)
			var foreign *ForeignURLError
			require.ErrorAs(t, errs[0], &foreign)
			require.Equal(t, "/v2/companies", foreign.Endpoint)
			require.NotContains(t, errs[0].Error(), testKey)
			require.Len(t, srv.requested(), 1, "the foreign URL is never requested")
			require.Empty(t, sleeps.recorded(), "never retried")
		})
	}
	require.Zero(t, otherHits.Load())
}

func TestV2NextURLSameOriginForms(t *testing.T) {
	t.Parallel()
	// Explicit default ports and letter case do not make a URL foreign.
	for _, tc := range []struct{ base, next string }{
		{"https://api.affinity.co", "https://api.affinity.co:443/v2/companies?cursor=x"},
		{"https://API.affinity.co:443", "HTTPS://api.Affinity.co/v2/companies?cursor=x"},
		{"http://127.0.0.1:8089/prefix", "http://127.0.0.1:8089/prefix/v2/companies?cursor=x"},
	} {
		c, err := NewClient(tc.base, testKey)
		require.NoError(t, err)
		u, err := c.checkFollow("/v2/companies", tc.next)
		require.NoError(t, err, tc.next)
		require.Equal(t, "/v2/companies", c.relativePath(u))
	}
	c, err := NewClient("https://api.affinity.co", testKey)
	require.NoError(t, err)
	for _, next := range []string{
		"http://api.affinity.co/v2/companies?cursor=x",
		"https://api.affinity.co:8443/v2/companies?cursor=x",
		"https://api.affinity.co.evil.example/v2/companies?cursor=x",
		"https://evil.example/v2/companies?cursor=x",
		"https://u:p@api.affinity.co/v2/companies?cursor=x",
		"api.affinity.co/v2/companies",
		"https://api.affinity.co:bad/x",
	} {
		_, err := c.checkFollow("/v2/companies", next)
		var foreign *ForeignURLError
		require.ErrorAs(t, err, &foreign, next)
		require.NotContains(t, err.Error(), "u:p")
	}
}

func TestV2PagingEdgeCases(t *testing.T) {
	t.Parallel()
	page := func(data, next string) string {
		return `{"data":` + data + `,"pagination":{"prevUrl":null,"nextUrl":` + next + `}}`
	}
	for _, tc := range []struct {
		name    string
		pages   func(host string) []string // answers, in order
		wantIDs []int64
		wantErr string
		hits    int
	}{
		{name: "null data is an empty last page", pages: func(string) []string { return []string{page("null", "null")} }, hits: 1},
		{name: "empty page with nextUrl continues", pages: func(h string) []string {
			return []string{
				page(`[]`, `"http://`+h+`/v2/companies?cursor=a"`),
				page(`null`, `"http://`+h+`/v2/companies?cursor=b"`),
				page(`[{"id":7,"name":"X","unknownKey":{"deep":[1]}}]`, `null`),
			}
		}, wantIDs: []int64{7}, hits: 3},
		{name: "nextUrl equal to the URL just requested", pages: func(h string) []string {
			return []string{
				page(`[{"id":1}]`, `"http://`+h+`/v2/companies?cursor=a"`),
				page(`[{"id":2}]`, `"http://`+h+`/v2/companies?cursor=a"`),
			}
		}, wantIDs: []int64{1}, wantErr: "page just requested", hits: 2},
		{name: "nextUrl without cursor", pages: func(h string) []string {
			return []string{page(`[{"id":1}]`, `"http://`+h+`/v2/companies?limit=100"`)}
		}, wantErr: "carries no cursor", hits: 1},
		{name: "missing data key is retried then fails", pages: func(string) []string {
			return []string{`{"pagination":{"nextUrl":null}}`}
		}, wantErr: `no "data" key`, hits: 2},
		{name: "truncated body is retried", pages: func(string) []string {
			return []string{page(`[{"id":1}`, `null`)[:20], page(`[{"id":1}]`, `null`)}
		}, wantIDs: []int64{1}, hits: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int32
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				answers := tc.pages(r.Host)
				n := int(hits.Add(1)) - 1
				_, _ = w.Write([]byte(answers[min(n, len(answers)-1)]))
			}), WithRetry(2, time.Millisecond, time.Millisecond))
			ids, _, errs := companyIDs(c.CompaniesV2(t.Context(), V2Query{}))
			require.Equal(t, tc.wantIDs, ids)
			if tc.wantErr == "" {
				require.Empty(t, errs)
			} else {
				require.Len(t, errs, 1)
				require.ErrorContains(t, errs[0], tc.wantErr)
			}
			require.EqualValues(t, tc.hits, hits.Load())
		})
	}
}

func TestV2ConsumerStops(t *testing.T) {
	t.Parallel()
	srv := &v2Server{total: 9, size: 2}
	c, _ := newTestClient(t, srv)
	for _, err := range c.CompaniesV2(t.Context(), V2Query{}) {
		require.NoError(t, err)
		break
	}
	require.Len(t, srv.requested(), 1)
}

func TestPostGoesThroughTheOneSendPath(t *testing.T) {
	t.Parallel()
	var got http.Header
	var body string
	var hits atomic.Int32
	c, sleeps := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		got = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		writeV2Error(w, http.StatusServiceUnavailable, "server", "down", "")
	}))
	var infos []RequestInfo
	c.observe = func(i RequestInfo) { infos = append(infos, i) }
	_, err := c.SubscribeWebhook(t.Context(), "https://sync.example/hook?token=s3cret", []string{"person.created"})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.MethodPost, apiErr.Method)
	require.Equal(t, 503, apiErr.StatusCode)
	require.ErrorContains(t, err, "POST /webhook/subscribe: status 503")
	require.EqualValues(t, 1, hits.Load(), "a write is sent once, even on a 5xx")
	require.Empty(t, sleeps.recorded())
	require.Equal(t, "application/json", got.Get("Content-Type"))
	require.True(t, strings.HasPrefix(got.Get("Authorization"), "Basic "))
	require.JSONEq(t, `{"webhook_url":"https://sync.example/hook?token=s3cret","subscriptions":["person.created"]}`, body)
	require.Len(t, infos, 1)
	require.Equal(t, http.MethodPost, infos[0].Method)
}

func TestDecodeV2ListEntriesSample(t *testing.T) {
	t.Parallel()
	const body = `{"data":[{"id":880001,"type":"opportunity","listId":401,"createdAt":"2026-02-01T09:00:00Z","creatorId":11,
  "entity":{"id":9001,"name":"Northwind Series A","listId":401,"isRestricted":false,"isRedacted":false,"fields":[
   {"id":"field-5001","name":"Status","type":"list","enrichmentSource":null,
    "value":{"type":"ranked-dropdown","data":{"dropdownOptionId":31,"text":"Due Diligence","rank":3,"color":"blue"}}},
   {"id":"companies","name":"Organizations","type":"list","enrichmentSource":null,
    "value":{"type":"company-multi","data":[{"id":50001,"name":"Northwind Robotics","domain":"northwind.example"}]}},
   {"id":"persons","name":"People","type":"list","enrichmentSource":null,"value":{"type":"person-multi","data":null}},
   {"id":"field-5002","name":"Amount","type":"list","enrichmentSource":null,"value":{"type":"number","data":2500000}}]}},
  {"id":880002,"type":"person","listId":401,"createdAt":"2026-02-02T10:00:00.123Z","creatorId":null,
   "entity":{"id":70001,"firstName":"Ana","lastName":"Ruiz","primaryEmailAddress":"ana@northwind.example","emailAddresses":[],"type":"external"}},
  {"id":880003,"type":"some-future-type","listId":401,"createdAt":"2026-02-03T10:00:00Z","creatorId":12,
   "entity":{"id":5,"fields":[{"id":"x","name":"X","type":"brand-new","enrichmentSource":"s","value":{"type":"hologram","data":{"z":1},"totalCount":250}}]}}],
 "pagination":{"prevUrl":null,"nextUrl":"https://api.affinity.co/v2/lists/401/list-entries?fieldTypes=list&cursor=ICAgICAgIGFmdGVyOjo6ODgwMDAx"}}`
	items, next, err := decodeV2Page[V2ListEntry](strings.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, "https://api.affinity.co/v2/lists/401/list-entries?fieldTypes=list&cursor=ICAgICAgIGFmdGVyOjo6ODgwMDAx", next)
	require.Len(t, items, 3)

	e := items[0]
	require.Equal(t, int64(880001), e.ID)
	require.Equal(t, "opportunity", e.Type)
	require.Equal(t, int64(401), e.ListID)
	require.Equal(t, time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC), e.CreatedAt)
	require.Equal(t, ptr(int64(11)), e.CreatorID)
	require.Equal(t, int64(9001), e.Entity.ID)
	require.Equal(t, "Northwind Series A", e.Entity.Name)
	require.Len(t, e.Entity.Fields, 4)
	status := e.Entity.Fields[0]
	require.Equal(t, "field-5001", status.ID)
	require.Equal(t, "Status", status.Name)
	require.Equal(t, "list", status.Type)
	require.Nil(t, status.EnrichmentSource)
	require.Equal(t, "ranked-dropdown", status.Value.Type)
	require.JSONEq(t, `{"dropdownOptionId":31,"text":"Due Diligence","rank":3,"color":"blue"}`, string(status.Value.Data))
	require.Nil(t, status.Value.TotalCount)
	require.False(t, status.Value.IsNull())
	require.Equal(t, "company-multi", e.Entity.Fields[1].Value.Type)
	require.JSONEq(t, `[{"id":50001,"name":"Northwind Robotics","domain":"northwind.example"}]`, string(e.Entity.Fields[1].Value.Data))
	require.True(t, e.Entity.Fields[2].Value.IsNull())
	require.JSONEq(t, `2500000`, string(e.Entity.Fields[3].Value.Data))

	p := items[1]
	require.Equal(t, "person", p.Type)
	require.Nil(t, p.CreatorID)
	require.Equal(t, time.Date(2026, 2, 2, 10, 0, 0, 123e6, time.UTC), p.CreatedAt)
	require.Equal(t, V2Entity{ID: 70001, Name: "Ana Ruiz"}, p.Entity)

	u := items[2]
	require.Equal(t, "some-future-type", u.Type)
	require.Equal(t, "brand-new", u.Entity.Fields[0].Type)
	require.Equal(t, ptr("s"), u.Entity.Fields[0].EnrichmentSource)
	require.Equal(t, "hologram", u.Entity.Fields[0].Value.Type)
	require.Equal(t, ptr(250), u.Entity.Fields[0].Value.TotalCount)
	require.Empty(t, u.Entity.Name)
}

func TestDecodeV2CompaniesSample(t *testing.T) {
	t.Parallel()
	const body = `{"data":[{"id":50001,"name":"Northwind Robotics","domain":"northwind.example","domains":["northwind.example"],"isGlobal":false,
  "fields":[{"id":"affinity-data-location","name":"Location","type":"enriched","enrichmentSource":"affinity-data",
             "value":{"type":"location","data":{"streetAddress":null,"city":"Austin","state":"Texas","country":"United States","continent":null}}},
            {"id":"persons","name":"People","type":"enriched","enrichmentSource":null,
             "value":{"type":"person-multi","data":[{"id":70001,"firstName":"Ana","lastName":"Ruiz","primaryEmailAddress":"ana@northwind.example","type":"external"}],"totalCount":1}}]},
  {"id":50002,"name":"Bare","domain":null,"domains":[],"isGlobal":true}],
 "pagination":{"prevUrl":null,"nextUrl":"https://api.affinity.co/v2/companies?fieldTypes=enriched&cursor=ICAgICAgIGFmdGVyOjo6NTAwMDE"}}`
	items, next, err := decodeV2Page[V2Company](strings.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, "https://api.affinity.co/v2/companies?fieldTypes=enriched&cursor=ICAgICAgIGFmdGVyOjo6NTAwMDE", next)
	require.Len(t, items, 2)
	c := items[0]
	require.Equal(t, int64(50001), c.ID)
	require.Equal(t, "Northwind Robotics", c.Name)
	require.Equal(t, ptr("northwind.example"), c.Domain)
	require.Equal(t, []string{"northwind.example"}, c.Domains)
	require.False(t, c.IsGlobal)
	require.Len(t, c.Fields, 2)
	require.Equal(t, "affinity-data-location", c.Fields[0].ID)
	require.Equal(t, "enriched", c.Fields[0].Type)
	require.Equal(t, ptr("affinity-data"), c.Fields[0].EnrichmentSource)
	require.Equal(t, "location", c.Fields[0].Value.Type)
	require.Equal(t, "persons", c.Fields[1].ID)
	require.Equal(t, "person-multi", c.Fields[1].Value.Type)
	require.Equal(t, ptr(1), c.Fields[1].Value.TotalCount)
	var people []struct{ ID int64 }
	require.NoError(t, json.Unmarshal(c.Fields[1].Value.Data, &people))
	require.Equal(t, []struct{ ID int64 }{{70001}}, people)

	require.Equal(t, V2Company{ID: 50002, Name: "Bare", Domains: []string{}, IsGlobal: true}, items[1], "a company without fields decodes")

	persons, _, err := decodeV2Page[V2Person](strings.NewReader(`{"data":[{"id":70001,"firstName":"Ana","lastName":null,
		"primaryEmailAddress":"ana@northwind.example","emailAddresses":["ana@northwind.example"],"type":"collaborator","fields":[
		{"id":"last-email","name":"Last Email","type":"relationship-intelligence","enrichmentSource":null,
		 "value":{"type":"interaction","data":{"type":"email","id":880011},"internalPerson":null}}]}],"pagination":{"nextUrl":null}}`))
	require.NoError(t, err)
	require.Equal(t, V2Person{ID: 70001, FirstName: "Ana", PrimaryEmailAddress: ptr("ana@northwind.example"),
		EmailAddresses: []string{"ana@northwind.example"}, Type: "collaborator",
		Fields: []V2Field{{ID: "last-email", Name: "Last Email", Type: "relationship-intelligence",
			Value: V2Value{Type: "interaction", Data: json.RawMessage(`{"type":"email","id":880011}`)}}}}, persons[0])
}

func portOf(hostport string) string {
	_, port, _ := net.SplitHostPort(hostport)
	return port
}

func TestV2KeyNeverLeaks(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeV2Error(w, http.StatusUnauthorized, "authentication "+testKey, "bad header "+r.Header.Get("Authorization"), testKey)
	}))
	var infos []RequestInfo
	c.observe = func(i RequestInfo) { infos = append(infos, i) }
	var err error
	for _, e := range c.CompaniesV2(t.Context(), V2Query{}) {
		err = e
	}
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	for _, text := range []string{err.Error(), fmt.Sprintf("%#v", err), apiErr.Body, apiErr.Code, apiErr.Message, apiErr.Param, fmt.Sprintf("%+v", infos)} {
		require.NotContains(t, text, testKey)
		require.NotContains(t, text, testKey[:12])
	}
	require.Equal(t, "bad header Bearer "+redactedText, apiErr.Message)
}
