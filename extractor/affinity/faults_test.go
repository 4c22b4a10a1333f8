package affinity_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// These tests inject failures into the fake (FailNext, SetFaults, limits, latency) and check
// how the real client rides them out. No test sleeps for real: waits go through calls.sleep.

// fakeClock is a settable clock shared by the fake and the test's waits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rateLimitWait is the wait the client takes after a 429 whose headers name reset: the reset
// plus a tenth of it scaled by the fixed jitter.
func rateLimitWait(reset time.Duration) time.Duration {
	return reset + time.Duration(jitter*float64(reset/10))
}

func statuses(infos []affinity.RequestInfo) []int {
	out := make([]int, len(infos))
	for i, info := range infos {
		out[i] = info.Status
	}
	return out
}

func attemptNumbers(infos []affinity.RequestInfo) []int {
	out := make([]int, len(infos))
	for i, info := range infos {
		out[i] = info.Attempt
	}
	return out
}

// requireLedger checks that the reserve hook and the observer each saw exactly the requests
// the fake received.
func requireLedger(t *testing.T, f *fake, c *calls) {
	t.Helper()
	require.Equal(t, f.srv.TotalRequests(), int(c.reserved.Load()), "reserved vs received")
	require.Len(t, c.attempts(), f.srv.TotalRequests(), "observed vs received")
}

func TestFakeServerErrorThenSuccess(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	var c calls
	cl := f.client(t, &c)
	p := f.want.Persons[7]

	f.srv.FailNext("GET /persons/{id}", http.StatusInternalServerError, 1)
	got, err := cl.Person(t.Context(), p.ID, true)
	require.NoError(t, err)
	require.Equal(t, wantPerson(f.want, p, true, true), normPerson(got))

	infos := c.attempts()
	require.Equal(t, []int{500, 200}, statuses(infos))
	require.Equal(t, []int{1, 2}, attemptNumbers(infos))
	for _, info := range infos {
		require.Equal(t, "/persons/{id}", info.Endpoint)
		require.True(t, info.RateLimit.UserLimit.Known, "rate-limit headers on every answer")
	}
	require.Len(t, c.recordedWaits(), 1)
	require.Positive(t, c.recordedWaits()[0])
	requireLedger(t, f, &c)
}

func TestFakeServiceUnavailableBurst(t *testing.T) {
	t.Parallel()

	t.Run("ridden out", func(t *testing.T) {
		t.Parallel()
		f := startFake(t, nil)
		var c calls
		cl := f.client(t, &c)
		f.srv.FailNext("GET /organizations", http.StatusServiceUnavailable, 3)
		pages := collect(t, cl.Organizations(t.Context(), affinity.OrganizationQuery{PageQuery: affinity.PageQuery{PageSize: 20}}))
		require.Len(t, flatten(pages), len(f.want.Organizations))
		require.Equal(t, []int{503, 503, 503, 200, 200, 200, 200}, statuses(c.attempts()))
		require.Equal(t, []int{1, 2, 3, 4, 1, 1, 1}, attemptNumbers(c.attempts()))
		waits := c.recordedWaits()
		require.Len(t, waits, 3)
		require.Less(t, waits[0], waits[1], "exponential backoff")
		require.Less(t, waits[1], waits[2], "exponential backoff")
		requireLedger(t, f, &c)
	})
	t.Run("longer than the attempts", func(t *testing.T) {
		t.Parallel()
		f := startFake(t, nil)
		var c calls
		cl := f.client(t, &c, affinity.WithRetry(3, 100*time.Millisecond, time.Second))
		f.srv.FailNext("GET /organizations", http.StatusServiceUnavailable, 5)
		var errs []error
		for _, err := range cl.Organizations(t.Context(), affinity.OrganizationQuery{}) {
			errs = append(errs, err)
		}
		require.Len(t, errs, 1)
		var apiErr *affinity.APIError
		require.ErrorAs(t, errs[0], &apiErr)
		require.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
		require.Contains(t, errs[0].Error(), "after 3 attempts")
		require.Equal(t, 3, f.srv.TotalRequests())
		require.Len(t, c.recordedWaits(), 2)
		requireLedger(t, f, &c)
	})
}

func TestFakeRateLimited(t *testing.T) {
	t.Parallel()
	for _, retryAfter := range []bool{false, true} {
		name := "reset header only"
		if retryAfter {
			name = "retry-after"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := startFake(t, nil)
			var c calls
			cl := f.client(t, &c)
			// Retry-After is added to every injected 429 once the faults ask for it.
			f.srv.SetFaults(affinitytest.Faults{RetryAfter: retryAfter})
			f.srv.FailNext("GET /opportunities/{id}", http.StatusTooManyRequests, 1)
			o := f.want.Opportunities[3]
			got, err := cl.Opportunity(t.Context(), o.ID)
			require.NoError(t, err)
			require.Equal(t, wantOpportunity(f.want, o), normOpportunity(got))

			infos := c.attempts()
			require.Equal(t, []int{429, 200}, statuses(infos))
			reset := infos[0].RateLimit.UserReset
			require.True(t, reset.Known)
			require.Equal(t, []time.Duration{rateLimitWait(time.Duration(reset.N) * time.Second)}, c.recordedWaits(),
				"the wait is the reset the 429 named (not the 60s fallback)")
			requireLedger(t, f, &c)
		})
	}
	t.Run("exhausted", func(t *testing.T) {
		t.Parallel()
		f := startFake(t, nil)
		var c calls
		cl := f.client(t, &c, affinity.WithRetry(2, 100*time.Millisecond, time.Second))
		f.srv.SetFaults(affinitytest.Faults{RetryAfter: true})
		f.srv.FailNext("GET /opportunities/{id}", http.StatusTooManyRequests, 2)
		_, err := cl.Opportunity(t.Context(), f.want.Opportunities[0].ID)
		var rlErr *affinity.RateLimitError
		require.ErrorAs(t, err, &rlErr)
		require.Equal(t, http.StatusTooManyRequests, rlErr.StatusCode)
		require.Equal(t, time.Second, rlErr.RetryAfter)
		var apiErr *affinity.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Len(t, c.recordedWaits(), 1)
		requireLedger(t, f, &c)
	})
}

func TestFakePerMinuteLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 11, 10, 12, 0, 15, 0, time.UTC))
	f := startFake(t, nil, affinitytest.WithClock(clock.now), affinitytest.WithPerMinuteLimit(4))
	c := calls{onSleep: clock.advance} // waiting moves the fake's clock on
	cl := f.client(t, &c)

	const size = 10
	pages := collect(t, cl.Persons(t.Context(), affinity.PersonQuery{PageQuery: affinity.PageQuery{PageSize: size}}))
	requirePaging(t, pages, len(f.want.Persons), size)
	got := flatten(pages)
	for i, p := range f.want.Persons {
		require.Equal(t, wantPerson(f.want, p, false, false), got[i])
	}

	infos := c.attempts()
	waits := c.recordedWaits()
	var limited []affinity.RequestInfo
	for _, info := range infos {
		if info.Status == http.StatusTooManyRequests {
			limited = append(limited, info)
		} else {
			require.Equal(t, http.StatusOK, info.Status)
		}
	}
	require.Len(t, infos, len(pages)+len(limited))
	require.Len(t, waits, len(limited))
	require.GreaterOrEqual(t, len(limited), len(pages)/4-1)
	// The first window (12:00:15) closes 45 s later; each wait is the reset its 429 named.
	require.Equal(t, rateLimitWait(45*time.Second), waits[0])
	for i, info := range limited {
		require.True(t, info.RateLimit.UserReset.Known)
		require.Equal(t, int64(0), info.RateLimit.UserRemaining.N)
		require.Equal(t, rateLimitWait(time.Duration(info.RateLimit.UserReset.N)*time.Second), waits[i], "wait %d", i)
	}
	requireLedger(t, f, &c)
}

func TestFakeTruncatedBody(t *testing.T) {
	t.Parallel()

	t.Run("page retried", func(t *testing.T) {
		t.Parallel()
		f := startFake(t, nil)
		c := calls{onSleep: func(time.Duration) { f.srv.SetFaults(affinitytest.Faults{}) }}
		cl := f.client(t, &c)
		f.srv.SetFaults(affinitytest.Faults{RateTruncate: 1, Endpoints: []string{"GET /persons"}})
		pages := collect(t, cl.Persons(t.Context(), affinity.PersonQuery{PageQuery: affinity.PageQuery{PageSize: 50}}))
		require.Len(t, flatten(pages), len(f.want.Persons))
		require.Equal(t, []int{1, 2, 1, 1}, attemptNumbers(c.attempts()))
		require.Equal(t, []int{200, 200, 200, 200}, statuses(c.attempts()), "the truncated answer was a 200")
		requireLedger(t, f, &c)
	})
	t.Run("changes retried before the first chunk", func(t *testing.T) {
		t.Parallel()
		f := startFake(t, nil)
		c := calls{onSleep: func(time.Duration) { f.srv.SetFaults(affinitytest.Faults{}) }}
		cl := f.client(t, &c)
		fieldID := f.want.Changes[0].FieldID
		want := []affinity.FieldValueChange{}
		for _, ch := range f.want.Changes {
			if ch.FieldID == fieldID {
				want = append(want, wantChange(f.want, ch))
			}
		}
		require.Less(t, len(want), 500)
		f.srv.SetFaults(affinitytest.Faults{RateTruncate: 1, Endpoints: []string{"GET /field-value-changes"}})
		got, chunks := drain(t, cl.FieldValueChanges(t.Context(), affinity.ChangeQuery{FieldID: fieldID}))
		require.Equal(t, want, got)
		require.Len(t, chunks, 1)
		require.Equal(t, []int{1, 2}, attemptNumbers(c.attempts()))
		requireLedger(t, f, &c)
	})
	t.Run("changes not retried after a chunk", func(t *testing.T) {
		t.Parallel()
		ws, fieldID := withLongHistory(1400)
		f := startFake(t, ws)
		var c calls
		cl := f.client(t, &c)
		f.srv.SetFaults(affinitytest.Faults{RateTruncate: 1, Endpoints: []string{"GET /field-value-changes"}})
		var chunks []int
		var errs []error
		for chunk, err := range cl.FieldValueChanges(t.Context(), affinity.ChangeQuery{FieldID: fieldID}) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			chunks = append(chunks, len(chunk))
		}
		require.Equal(t, []int{500}, chunks, "half of the body holds one full chunk")
		require.Len(t, errs, 1)
		var decErr *affinity.DecodeError
		require.ErrorAs(t, errs[0], &decErr)
		require.Equal(t, "/field-value-changes", decErr.Path)
		require.Empty(t, c.recordedWaits(), "a stream that yielded is not retried")
		require.Equal(t, 1, f.srv.TotalRequests())
		requireLedger(t, f, &c)
	})
}

func TestFakeConnectionReset(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	c := calls{onSleep: func(time.Duration) { f.srv.SetFaults(affinitytest.Faults{}) }}
	cl := f.client(t, &c)

	// A first call leaves a kept-alive connection, which the reset then hits.
	_, err := cl.WhoAmI(t.Context())
	require.NoError(t, err)
	f.srv.SetFaults(affinitytest.Faults{RateReset: 1, Endpoints: []string{"GET /persons/{id}"}})
	p := f.want.Persons[3]
	got, err := cl.Person(t.Context(), p.ID, false)
	require.NoError(t, err)
	require.Equal(t, wantPerson(f.want, p, true, false), normPerson(got))

	infos := c.attempts()
	require.Equal(t, []int{200, 0, 200}, statuses(infos))
	require.Error(t, infos[1].Err)
	require.NotContains(t, infos[1].Err.Error(), fakeKey)
	require.Equal(t, []int{1, 1, 2}, attemptNumbers(infos))
	requireLedger(t, f, &c)
}

func TestFakeLatency(t *testing.T) {
	t.Parallel()

	t.Run("honoured", func(t *testing.T) {
		t.Parallel()
		const latency = 30 * time.Millisecond
		f := startFake(t, nil, affinitytest.WithLatency(latency))
		var c calls
		cl := f.client(t, &c)
		_, err := cl.Lists(t.Context())
		require.NoError(t, err)
		infos := c.attempts()
		require.Len(t, infos, 1)
		require.GreaterOrEqual(t, infos[0].Duration, latency)
	})
	t.Run("cancel stops a slow request", func(t *testing.T) {
		t.Parallel()
		f := startFake(t, nil, affinitytest.WithLatency(time.Hour))
		var c calls
		cl := f.client(t, &c)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			// Cancel once the fake holds the request.
			for f.srv.TotalRequests() == 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Millisecond):
				}
			}
			cancel()
		}()
		_, err := cl.Lists(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Empty(t, c.recordedWaits(), "no retry after a cancel")
		require.Equal(t, 1, f.srv.TotalRequests())
		requireLedger(t, f, &c)
	})
}

// TestFakeReserveCountsEveryRequest pages through everything while the fake fails requests at
// random: the reserve hook (the quota ledger) must count exactly the requests the fake got.
func TestFakeReserveCountsEveryRequest(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	var c calls
	cl := f.client(t, &c, affinity.WithRetry(12, 100*time.Millisecond, time.Second))
	f.srv.SetFaults(affinitytest.Faults{Seed: 7, Rate429: 0.06, Rate500: 0.06, Rate503: 0.06,
		RateTruncate: 0.06, RateReset: 0.06, RetryAfter: true})
	ctx := t.Context()

	persons := flatten(collect(t, cl.Persons(ctx, affinity.PersonQuery{PageQuery: affinity.PageQuery{PageSize: 10}})))
	require.Len(t, persons, len(f.want.Persons))
	for i, p := range f.want.Persons {
		require.Equal(t, wantPerson(f.want, p, false, false), persons[i])
	}
	orgs := flatten(collect(t, cl.Organizations(ctx, affinity.OrganizationQuery{
		PageQuery: affinity.PageQuery{PageSize: 10}, WithInteractionDates: true})))
	for i, o := range orgs {
		require.NotNil(t, f.want.Organization(o.ID).Interactions)
		orgs[i] = normOrganization(o)
	}
	opps := flatten(collect(t, cl.Opportunities(ctx, affinity.PageQuery{PageSize: 5})))
	require.Len(t, opps, len(f.want.Opportunities))
	for _, l := range f.want.Lists {
		entries := flatten(collect(t, cl.ListEntries(ctx, l.ID, affinity.PageQuery{PageSize: 10})))
		require.Len(t, entries, f.want.ListSize(l.ID))
	}
	fields, err := cl.Fields(ctx, affinity.FieldQuery{})
	require.NoError(t, err)
	require.Len(t, fields, len(f.want.Fields))

	requireLedger(t, f, &c)
	// Every kind of fault was met and ridden out.
	infos := c.attempts()
	kinds := map[string]int{}
	for i, info := range infos {
		switch {
		case info.Status == 0:
			kinds["reset"]++
		case info.Status == http.StatusOK && i+1 < len(infos) && infos[i+1].Attempt == info.Attempt+1:
			kinds["truncated"]++
		case info.Status != http.StatusOK:
			kinds[http.StatusText(info.Status)]++
		}
	}
	for _, k := range []string{"reset", "truncated", "Too Many Requests", "Internal Server Error", "Service Unavailable"} {
		require.Positive(t, kinds[k], "no %s in %v", k, kinds)
	}
	require.Len(t, c.recordedWaits(), len(infos)-countFirst(infos))
}

// countFirst counts first attempts: the logical requests of a run.
func countFirst(infos []affinity.RequestInfo) int {
	n := 0
	for _, info := range infos {
		if info.Attempt == 1 {
			n++
		}
	}
	return n
}
