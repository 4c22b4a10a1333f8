package affinity

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const okPerson = `{"id":7,"type":0,"first_name":"A","last_name":"B","primary_email":null,"emails":[]}`

func TestStatusErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status            int
		notFound, merged  bool
		wantBodyFragment  string
		responseBody      string
		expectedErrorText string
	}{
		{status: 401, responseBody: `{"errors":["unauthorized"]}`, wantBodyFragment: "unauthorized",
			expectedErrorText: "GET /persons/7: status 401 Unauthorized"},
		{status: 403, responseBody: `{"error":"forbidden"}`, wantBodyFragment: "forbidden"},
		{status: 404, notFound: true, responseBody: `{"error":"Not found"}`, wantBodyFragment: "Not found"},
		{status: 422, merged: true, responseBody: `{"errors":["merged"]}`, wantBodyFragment: "merged"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			s := &scripted{steps: []http.HandlerFunc{respond(tc.status, tc.responseBody)}}
			c, sleeps := newTestClient(t, s)
			_, err := c.Person(t.Context(), 7, false)
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tc.status, apiErr.StatusCode)
			require.Equal(t, "/persons/{id}", apiErr.Endpoint)
			require.Equal(t, "/persons/7", apiErr.Path)
			require.Contains(t, apiErr.Body, tc.wantBodyFragment)
			require.Equal(t, tc.notFound, IsNotFound(err))
			require.Equal(t, tc.merged, IsMerged(err))
			if tc.expectedErrorText != "" {
				require.ErrorContains(t, err, tc.expectedErrorText)
			}
			require.EqualValues(t, 1, s.hits.Load())
			require.Empty(t, sleeps.recorded())
		})
	}
}

func TestWrongKeyIs401(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, okPerson)}}
	c, _ := newTestClient(t, s)
	other, err := NewClient(c.base, "another-key", WithPerMinute(0))
	require.NoError(t, err)
	_, err = other.Person(t.Context(), 7, false)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
}

func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	var got http.Header
	var rawURL string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, rawURL = r.Header.Clone(), r.URL.String()
		_, _ = w.Write([]byte(okPerson))
	}))
	_, err := c.Person(t.Context(), 7, true)
	require.NoError(t, err)
	require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+testKey)), got.Get("Authorization"))
	require.Equal(t, "application/json", got.Get("Accept"))
	require.NotEmpty(t, got.Get("User-Agent"))
	require.Equal(t, "/persons/7?with_interaction_dates=true", rawURL)
	require.NotContains(t, rawURL, testKey)
}

func TestRateLimitRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		headers  []string
		wantWait time.Duration
	}{
		{"retry-after seconds", []string{"Retry-After", "7"}, 7*time.Second + 700*time.Millisecond/2},
		{"user reset header", []string{"X-Ratelimit-Limit-User-Reset", "12"}, 12*time.Second + 1200*time.Millisecond/2},
		{"retry-after wins", []string{"Retry-After", "3", "X-Ratelimit-Limit-User-Reset", "40"}, 3*time.Second + 150*time.Millisecond},
		{"no header", nil, 60*time.Second + 3*time.Second},
		{"zero is never at once", []string{"Retry-After", "0"}, time.Second + 50*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &scripted{steps: []http.HandlerFunc{
				respond(429, `{"errors":["rate limited"]}`, tc.headers...),
				respond(200, okPerson),
			}}
			c, sleeps := newTestClient(t, s)
			p, err := c.Person(t.Context(), 7, false)
			require.NoError(t, err)
			require.Equal(t, int64(7), p.ID)
			require.Equal(t, []time.Duration{tc.wantWait}, sleeps.recorded())
			require.EqualValues(t, 2, s.hits.Load())
		})
	}
}

func TestRateLimitExhausted(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(429, `{}`, "X-Ratelimit-Limit-User-Reset", "20")}}
	c, sleeps := newTestClient(t, s, WithRetry(3, time.Second, time.Minute))
	_, err := c.Person(t.Context(), 7, false)
	var rlErr *RateLimitError
	require.ErrorAs(t, err, &rlErr)
	require.Equal(t, 20*time.Second, rlErr.RetryAfter)
	require.Equal(t, http.StatusTooManyRequests, rlErr.StatusCode)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr, "a RateLimitError is also an APIError")
	require.ErrorContains(t, err, "after 3 attempts")
	require.EqualValues(t, 3, s.hits.Load())
	require.Len(t, sleeps.recorded(), 2)
}

func TestRateLimitLongResetReturnsAtOnce(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(429, `{}`, "Retry-After", "86400")}}
	c, sleeps := newTestClient(t, s)
	_, err := c.Person(t.Context(), 7, false)
	var rlErr *RateLimitError
	require.ErrorAs(t, err, &rlErr)
	require.Equal(t, 24*time.Hour, rlErr.RetryAfter)
	require.EqualValues(t, 1, s.hits.Load())
	require.Empty(t, sleeps.recorded())
}

func TestServerErrorThenSuccess(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(500, `oops`), respond(200, okPerson)}}
	var infos []RequestInfo
	c, sleeps := newTestClient(t, s, WithObserver(func(i RequestInfo) { infos = append(infos, i) }))
	p, err := c.Person(t.Context(), 7, false)
	require.NoError(t, err)
	require.Equal(t, int64(7), p.ID)
	require.Equal(t, []time.Duration{375 * time.Millisecond}, sleeps.recorded())
	require.Len(t, infos, 2)
	require.Equal(t, 500, infos[0].Status)
	require.Equal(t, 1, infos[0].Attempt)
	require.Equal(t, 200, infos[1].Status)
	require.Equal(t, 2, infos[1].Attempt)
	require.Equal(t, "/persons/{id}", infos[1].Endpoint)
	require.Equal(t, "/persons/7", infos[1].Path)
	require.Equal(t, http.MethodGet, infos[1].Method)
}

func TestServiceUnavailableExhausted(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(503, `down for deploy`)}}
	c, sleeps := newTestClient(t, s, WithRetry(4, 500*time.Millisecond, time.Second))
	_, err := c.Lists(t.Context())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 503, apiErr.StatusCode)
	require.Equal(t, "down for deploy", apiErr.Body)
	require.ErrorContains(t, err, "after 4 attempts")
	require.EqualValues(t, 4, s.hits.Load())
	// equal jitter at 0.5: 3/4 of a step that doubles from 500ms and is capped at 1s
	require.Equal(t, []time.Duration{375 * time.Millisecond, 750 * time.Millisecond, 750 * time.Millisecond}, sleeps.recorded())
}

func TestTruncatedBodyIsRetried(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{
		respond(200, `{"persons":[{"id":1,"type":0,"first_na`),
		respond(200, personsBody("", 1)),
	}}
	c, sleeps := newTestClient(t, s)
	p := onePage(t, c.Persons(t.Context(), PersonQuery{}))
	require.Len(t, p.Items, 1)
	require.EqualValues(t, 2, s.hits.Load())
	require.Len(t, sleeps.recorded(), 1)
}

func TestUndecodableBodyExhausted(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, `{"persons":[{"id":"not a number"}],"next_page_token":null}`)}}
	c, _ := newTestClient(t, s, WithRetry(2, time.Millisecond, time.Millisecond))
	var gotErr error
	for p, err := range c.Persons(t.Context(), PersonQuery{PageQuery: PageQuery{PageToken: "tok"}}) {
		require.Error(t, err)
		require.Empty(t, p.Items)
		gotErr = err
	}
	var decErr *DecodeError
	require.ErrorAs(t, gotErr, &decErr)
	require.Equal(t, "/persons", decErr.Endpoint)
	require.Equal(t, "tok", decErr.PageToken)
	require.EqualValues(t, 2, s.hits.Load())
}

func TestConnectionResetIsRetried(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{
		func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		},
		respond(200, okPerson),
	}}
	var infos []RequestInfo
	c, sleeps := newTestClient(t, s, WithObserver(func(i RequestInfo) { infos = append(infos, i) }))
	p, err := c.Person(t.Context(), 7, false)
	require.NoError(t, err)
	require.Equal(t, int64(7), p.ID)
	require.Len(t, sleeps.recorded(), 1)
	require.Len(t, infos, 2)
	require.Zero(t, infos[0].Status)
	require.Error(t, infos[0].Err)
}

func TestCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(503, ``)}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The real sleep with an hour-long backoff: the call returns only because the sleep
	// honours the cancellation.
	c, _ := newTestClient(t, s, WithRetry(6, time.Hour, time.Hour),
		WithSleep(func(ctx context.Context, d time.Duration) error {
			cancel()
			return sleepCtx(ctx, d)
		}))
	_, err := c.Person(ctx, 7, false)
	require.ErrorIs(t, err, context.Canceled)
	require.EqualValues(t, 1, s.hits.Load())
}

func TestReserveRefusalSendsNothing(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, okPerson)}}
	observed := 0
	c, _ := newTestClient(t, s,
		WithReserve(func(context.Context) error { return fmt.Errorf("ledger: %w", ErrBudgetSpent) }),
		WithObserver(func(RequestInfo) { observed++ }))
	_, err := c.Person(t.Context(), 7, false)
	require.ErrorIs(t, err, ErrBudgetSpent)
	require.Zero(t, s.hits.Load())
	require.Zero(t, observed)

	for _, err := range c.Persons(t.Context(), PersonQuery{}) {
		require.ErrorIs(t, err, ErrBudgetSpent)
	}
	require.Zero(t, s.hits.Load())
}

func TestReserveBeforeEveryAttempt(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(502, ``), respond(504, ``), respond(200, okPerson)}}
	var mu sync.Mutex
	reserved := 0
	c, _ := newTestClient(t, s, WithReserve(func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		reserved++
		if reserved > 2 {
			return ErrBudgetSpent
		}
		return nil
	}))
	_, err := c.Person(t.Context(), 7, false)
	require.ErrorIs(t, err, ErrBudgetSpent)
	require.Equal(t, 3, reserved)
	require.EqualValues(t, 2, s.hits.Load(), "the third attempt was refused before sending")
}

func TestSelectorValidatedBeforeSending(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, `[]`)}}
	c, _ := newTestClient(t, s)
	_, err := c.FieldValues(t.Context(), EntitySelector{})
	require.ErrorContains(t, err, "exactly one")
	_, err = c.FieldValues(t.Context(), EntitySelector{PersonID: ptr(int64(1)), ListEntryID: ptr(int64(2))})
	require.ErrorContains(t, err, "exactly one")
	for _, err := range c.FieldValueChanges(t.Context(), ChangeQuery{FieldID: 1,
		Selector: EntitySelector{PersonID: ptr(int64(1)), OrganizationID: ptr(int64(2))}}) {
		require.ErrorContains(t, err, "at most one")
	}
	for _, err := range c.FieldValueChanges(t.Context(), ChangeQuery{}) {
		require.ErrorContains(t, err, "field id")
	}
	require.Zero(t, s.hits.Load())
}

func TestKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	auth := base64.StdEncoding.EncodeToString([]byte(":" + testKey))
	echo := `{"error":"bad key ` + testKey + `","header":"Basic ` + auth + `"}`
	cases := map[string][]http.HandlerFunc{
		"error body": {respond(401, echo)},
		"long body":  {respond(500, strings.Repeat("x", 505)+testKey+strings.Repeat("y", 600))},
		"redirect":   {respond(302, ``, "Location", "http://127.0.0.1:1/persons?key="+testKey)},
		"bad json":   {respond(200, `{"id":"`+testKey+`"`)},
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			var infos []RequestInfo
			s := &scripted{steps: steps}
			c, _ := newTestClient(t, s, WithRetry(2, time.Millisecond, time.Millisecond),
				WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
				WithObserver(func(i RequestInfo) { infos = append(infos, i) }))
			_, err := c.Person(t.Context(), 7, false)
			require.Error(t, err)
			var texts []string
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logs.String())
			for _, i := range infos {
				texts = append(texts, fmt.Sprintf("%+v", i))
			}
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				texts = append(texts, apiErr.Body)
				require.LessOrEqual(t, len(apiErr.Body), maxBodySnippet)
			}
			for _, text := range texts {
				require.NotContains(t, text, testKey)
				require.NotContains(t, text, auth)
				require.NotContains(t, text, testKey[:12], "no cut-off piece of the key either")
			}
		})
	}
}
