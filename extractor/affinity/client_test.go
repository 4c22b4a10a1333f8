package affinity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

func TestNewClientBaseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url     string
		base    string // "" = refused
		errPart string
	}{
		{url: "https://api.affinity.co", base: "https://api.affinity.co"},
		{url: "https://api.affinity.co/", base: "https://api.affinity.co"},
		{url: "https://proxy.example/affinity/", base: "https://proxy.example/affinity"},
		{url: "http://127.0.0.1:8089", base: "http://127.0.0.1:8089"},
		{url: "http://127.8.9.10:8089/", base: "http://127.8.9.10:8089"},
		{url: "http://localhost:8089", base: "http://localhost:8089"},
		{url: "http://LOCALHOST", base: "http://LOCALHOST"},
		{url: "http://[::1]:8089", base: "http://[::1]:8089"},
		{url: "http://api.affinity.co", errPart: "must use https"},
		{url: "http://10.0.0.1", errPart: "must use https"},
		{url: "http://localhost.evil.example", errPart: "must use https"},
		{url: "http://128.0.0.1", errPart: "must use https"},
		{url: "ftp://api.affinity.co", errPart: "must use https"},
		{url: "api.affinity.co", errPart: "no host"},
		{url: "https://", errPart: "no host"},
		{url: "", errPart: "no host"},
		{url: "://broken", errPart: "not a url"},
		{url: "https://user:pw@api.affinity.co", errPart: "credentials"},
		{url: "https://api.affinity.co/?x=1", errPart: "query"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tc.url, testKey)
			if tc.base == "" {
				require.ErrorContains(t, err, tc.errPart)
				require.ErrorContains(t, err, "base url")
				require.NotContains(t, err.Error(), "pw@")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.base, c.base)
		})
	}
}

func TestNewClientRejects(t *testing.T) {
	t.Parallel()
	_, err := NewClient(DefaultBaseURL, "")
	require.ErrorContains(t, err, "api key is empty")

	_, err = NewClient("http://remote.example/"+testKey, testKey)
	require.Error(t, err)
	require.NotContains(t, err.Error(), testKey)

	for _, opt := range []Option{
		WithPerMinute(-1),
		WithRetry(0, time.Second, time.Minute),
		WithRetry(3, 0, time.Minute),
		WithRetry(3, time.Minute, time.Second),
	} {
		_, err := NewClient(DefaultBaseURL, testKey, opt)
		require.Error(t, err)
	}
}

func TestParseRateLimitHeaders(t *testing.T) {
	t.Parallel()
	known := func(n int64) Count { return Count{Known: true, N: n} }
	unlimited := Count{Known: true, Unlimited: true}
	for _, tc := range []struct {
		name string
		h    map[string]string
		want RateLimitHeaders
	}{
		{"missing", nil, RateLimitHeaders{}},
		{"all numbers", map[string]string{
			"X-Ratelimit-Limit-User": "900", "X-Ratelimit-Limit-User-Remaining": "873", "X-Ratelimit-Limit-User-Reset": "41",
			"X-Ratelimit-Limit-Org": "100000", "X-Ratelimit-Limit-Org-Remaining": "81234", "X-Ratelimit-Limit-Org-Reset": "1296000",
		}, RateLimitHeaders{known(900), known(873), known(41), known(100000), known(81234), known(1296000)}},
		{"unlimited org", map[string]string{
			"x-ratelimit-limit-org": "unlimited", "X-RATELIMIT-LIMIT-ORG-REMAINING": "Unlimited", "X-Ratelimit-Limit-User-Remaining": " 0 ",
		}, RateLimitHeaders{UserRemaining: known(0), OrgLimit: unlimited, OrgRemaining: unlimited}},
		{"garbage", map[string]string{
			"X-Ratelimit-Limit-User": "lots", "X-Ratelimit-Limit-User-Remaining": "", "X-Ratelimit-Limit-User-Reset": "1.5",
			"X-Ratelimit-Limit-Org": "99999999999999999999", "X-Ratelimit-Limit-Org-Remaining": "-3",
		}, RateLimitHeaders{OrgRemaining: known(-3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tc.h {
				h.Set(k, v)
			}
			require.Equal(t, tc.want, ParseRateLimitHeaders(h))
		})
	}
}

func TestCountJSON(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]Count{
		`900`:         {Known: true, N: 900},
		`"unlimited"`: {Known: true, Unlimited: true},
		`"42"`:        {Known: true, N: 42},
		`null`:        {},
		`"n/a"`:       {},
		`1.5`:         {},
	} {
		var c Count
		require.NoError(t, json.Unmarshal([]byte(raw), &c), raw)
		require.Equal(t, want, c, raw)
	}
}

func TestObserverSeesRateLimitHeaders(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, `[]`,
		"X-Ratelimit-Limit-User-Remaining", "12", "X-Ratelimit-Limit-Org-Remaining", "unlimited")}}
	var infos []RequestInfo
	c, _ := newTestClient(t, s, WithObserver(func(i RequestInfo) { infos = append(infos, i) }))
	lists, err := c.Lists(t.Context())
	require.NoError(t, err)
	require.Empty(t, lists)
	require.Len(t, infos, 1)
	require.Equal(t, Count{Known: true, N: 12}, infos[0].RateLimit.UserRemaining)
	require.True(t, infos[0].RateLimit.OrgRemaining.Unlimited)
	require.Equal(t, "/lists", infos[0].Endpoint)
}

// TestObserverSeesLabel: every attempt, retries included, reports the label of the context
// it was sent with, and a context without one reports "".
func TestObserverSeesLabel(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(503, `{}`), respond(200, `[]`), respond(200, `[]`)}}
	var infos []RequestInfo
	c, _ := newTestClient(t, s, WithObserver(func(i RequestInfo) { infos = append(infos, i) }))
	ctx := WithLabel(t.Context(), "lists")
	require.Equal(t, "lists", LabelOf(ctx))
	_, err := c.Lists(ctx)
	require.NoError(t, err)
	_, err = c.Lists(t.Context())
	require.NoError(t, err)
	require.Len(t, infos, 3)
	require.Equal(t, []string{"lists", "lists", ""}, []string{infos[0].Label, infos[1].Label, infos[2].Label})
	require.Equal(t, []int{1, 2, 1}, []int{infos[0].Attempt, infos[1].Attempt, infos[2].Attempt})
}

func TestFieldsQuery(t *testing.T) {
	t.Parallel()
	var query string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		_, _ = w.Write([]byte(`[{"id":1,"name":"X","list_id":null,"entity_type":0,"value_type":10,"allows_multiple":false,"track_changes":false,"dropdown_options":[]}]`))
	}))
	f, err := c.Fields(t.Context(), FieldQuery{ListID: ptr(int64(5)), EntityType: ptr(loader.EntityOpportunity)})
	require.NoError(t, err)
	require.Equal(t, "entity_type=8&list_id=5", query)
	require.Equal(t, ValueFilterableText, f[0].ValueType)
	require.Equal(t, loader.EntityPerson, *f[0].EntityType)
}

// changesBody is a bare array of n changes, ids 1..n.
func changesBody(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"field_id":4001,"entity_id":5,"list_entry_id":null,"action_type":2,"changer":null,`+
			`"changed_at":"2024-05-02T10:00:00.000-07:00","value":{"id":880002,"text":"Diligence","rank":1,"color":3},"extra":[1]}`, i)
	}
	b.WriteString("]")
	return b.String()
}

func TestFieldValueChangesChunks(t *testing.T) {
	t.Parallel()
	var query string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		_, _ = w.Write([]byte(changesBody(1201)))
	}))
	var sizes []int
	next := int64(1)
	for chunk, err := range c.FieldValueChanges(t.Context(), ChangeQuery{FieldID: 4001, ActionType: ptr(ActionUpdate),
		Selector: EntitySelector{OrganizationID: ptr(int64(5))}}) {
		require.NoError(t, err)
		sizes = append(sizes, len(chunk))
		for _, ch := range chunk {
			require.Equal(t, next, ch.ID)
			require.Nil(t, ch.Changer)
			next++
		}
	}
	require.Equal(t, []int{500, 500, 201}, sizes)
	require.Equal(t, "action_type=2&field_id=4001&organization_id=5", query)
}

func TestFieldValueChangesEmpty(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, `[]`)}}
	c, _ := newTestClient(t, s)
	n := 0
	for range c.FieldValueChanges(t.Context(), ChangeQuery{FieldID: 1}) {
		n++
	}
	require.Zero(t, n)
}

func TestFieldValueChangesTruncatedBeforeFirstChunkIsRetried(t *testing.T) {
	t.Parallel()
	full := changesBody(3)
	s := &scripted{steps: []http.HandlerFunc{respond(200, full[:len(full)-40]), respond(200, full)}}
	c, sleeps := newTestClient(t, s)
	var ids []int64
	for chunk, err := range c.FieldValueChanges(t.Context(), ChangeQuery{FieldID: 4001}) {
		require.NoError(t, err)
		for _, ch := range chunk {
			ids = append(ids, ch.ID)
		}
	}
	require.Equal(t, []int64{1, 2, 3}, ids, "nothing of the broken attempt was yielded")
	require.EqualValues(t, 2, s.hits.Load())
	require.Len(t, sleeps.recorded(), 1)
}

func TestFieldValueChangesTruncatedAfterChunkIsNotRetried(t *testing.T) {
	t.Parallel()
	full := changesBody(700)
	s := &scripted{steps: []http.HandlerFunc{respond(200, full[:len(full)-40])}}
	c, _ := newTestClient(t, s)
	var got int
	var errs []error
	for chunk, err := range c.FieldValueChanges(t.Context(), ChangeQuery{FieldID: 4001}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got += len(chunk)
	}
	require.Equal(t, 500, got)
	require.Len(t, errs, 1)
	var decErr *DecodeError
	require.ErrorAs(t, errs[0], &decErr)
	require.Equal(t, "/field-value-changes", decErr.Endpoint)
	require.EqualValues(t, 1, s.hits.Load())
}

func TestFieldValueChangesConsumerStops(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, changesBody(1200))}}
	c, _ := newTestClient(t, s)
	chunks := 0
	for _, err := range c.FieldValueChanges(t.Context(), ChangeQuery{FieldID: 4001}) {
		require.NoError(t, err)
		chunks++
		break
	}
	require.Equal(t, 1, chunks)
	require.EqualValues(t, 1, s.hits.Load())
}

func TestPerMinuteLimiterGatesEveryRequest(t *testing.T) {
	t.Parallel()
	s := &scripted{steps: []http.HandlerFunc{respond(200, `[]`)}}
	reserved := 0
	c, _ := newTestClient(t, s, WithPerMinute(1), WithReserve(func(context.Context) error { reserved++; return nil }))
	_, err := c.Lists(t.Context())
	require.NoError(t, err)
	// The next token is a minute away; a context that ends sooner fails at once in Wait.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = c.Lists(ctx)
	require.ErrorContains(t, err, "rate limiter")
	require.EqualValues(t, 1, s.hits.Load())
	require.Equal(t, 1, reserved, "nothing is reserved for a request the limiter held back")
}
