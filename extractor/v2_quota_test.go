package extractor_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
)

// fakeClock is a clock that only moves when the client sleeps: the fake's per-minute window
// then opens again exactly when the client has waited for it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}

// observedRequest is one attempt the client reported, with the fake clock's time then.
type observedRequest struct {
	info affinity.RequestInfo
	at   time.Time
}

// TestV2RequestsAreInLedgerAnd429sWaitForReset syncs under api_v2 auto through a quota.Budget
// against a fake with a small per-minute limit and a clock that moves only when the client
// sleeps: every request, v2 included and 429s included, is in the ledger; every 429 on a v2
// path is followed by a retry of that path only once the reset it named has passed; and the
// warehouse ends as a v1 sync's.
func TestV2RequestsAreInLedgerAnd429sWaitForReset(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 51
	cfg.EntriesPerList = 150
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	// Seven requests a minute: the v2 phases of field_values send more than seven requests in
	// a row with nothing else running, so at least one of them meets the limit.
	h := newHarness(t, cfg, affinitytest.WithPerMinuteLimit(7), affinitytest.WithClock(clock.Now))
	v1 := newHarness(t, cfg)
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))

	budget := quota.New(h.store, quota.Limits{Daily: 1_000_000}, clock.Now, nil)
	var mu sync.Mutex
	var seen []observedRequest
	client, err := affinity.NewClient(h.url, testKey, affinity.WithPerMinute(0),
		affinity.WithReserve(budget.Reserve),
		affinity.WithObserver(func(info affinity.RequestInfo) {
			budget.Observe(info)
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, observedRequest{info: info, at: clock.Now()})
		}),
		affinity.WithSleep(clock.Sleep),
		affinity.WithRand(func() float64 { return 0 }),
		// Concurrent streams share each minute's seven requests: let a request wait out as
		// many windows as it needs.
		affinity.WithRetry(100, time.Second, time.Minute))
	require.NoError(t, err)

	h.opts.APIV2 = extractor.V2Auto
	res := h.syncer(client).Run(t.Context(), nil)
	requireComplete(t, res)
	require.NoError(t, budget.Close(t.Context()))
	require.Equal(t, "v1+v2", streamResult(t, res, extractor.StreamFieldValues).Path.Path)

	day, month := quota.Periods(clock.Now())
	dayUsed, _, err := h.store.Spent(t.Context(), day, month)
	require.NoError(t, err)
	require.Positive(t, v2Requests(h.fake))
	require.Equal(t, int64(h.fake.TotalRequests()), dayUsed, "the ledger holds every request the fake received, v2 included")
	require.Equal(t, int64(h.fake.TotalRequests()), budget.Sent())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, h.fake.TotalRequests())
	v2Limited := 0
	for i, r := range seen {
		if !strings.HasPrefix(r.info.Endpoint, "/v2/") || r.info.Status != 429 {
			continue
		}
		v2Limited++
		require.True(t, r.info.RateLimit.UserReset.Known, "the fake names the reset")
		reset := time.Duration(r.info.RateLimit.UserReset.N) * time.Second
		require.Positive(t, reset)
		j := i + 1
		for j < len(seen) && seen[j].info.Path != r.info.Path {
			j++
		}
		require.Less(t, j, len(seen), "the limited request %s was retried", r.info.Path)
		retry := seen[j]
		require.Equal(t, r.info.Attempt+1, retry.info.Attempt, "%s", r.info.Path)
		require.False(t, retry.at.Before(r.at.Add(reset)), "%s retried %s after a 429 that named a reset of %s",
			r.info.Path, retry.at.Sub(r.at), reset)
		require.Equal(t, 200, retry.info.Status, "the retry after the reset is admitted")
	}
	require.Positive(t, v2Limited, "a v2 request met the per-minute limit")
	t.Logf("%d requests, %d of them to v2; %d 429s on v2, each retried after its reset", len(seen), v2Requests(h.fake), v2Limited)
	requireSameWarehouse(t, v1, h)
}

// TestV2NothingDueSpendsNoV2Request: a second pass with nothing due (values younger than
// ValuesMaxAge) reads no v2 page and runs no probe: it sends exactly the requests of a
// v1-only second pass.
func TestV2NothingDueSpendsNoV2Request(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 61
	v1, h := newHarness(t, cfg), newHarness(t, cfg)
	v1.opts.ValuesMaxAge = 30 * 24 * time.Hour
	h.opts.ValuesMaxAge = 30 * 24 * time.Hour
	h.opts.APIV2 = extractor.V2Auto
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))
	requireComplete(t, h.syncer(nil).Run(t.Context(), nil))
	require.Positive(t, v2Requests(h.fake), "the first pass reads through v2")

	v1.fake.ResetCounters()
	h.fake.ResetCounters()
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))
	res := h.syncer(nil).Run(t.Context(), nil)
	requireComplete(t, res)
	require.Zero(t, v2Requests(h.fake), "nothing is due: no v2 page, no probe")
	// Nothing changed either: the change feed costs one page where v1 reads every history.
	got, want := h.fake.Requests(), v1.fake.Requests()
	require.Equal(t, 1, got["GET /v2/field-value-changes"], "one feed page, no probe")
	require.Positive(t, want["GET /field-value-changes"])
	require.Zero(t, got["GET /field-value-changes"], "no v1 history")
	delete(got, "GET /v2/field-value-changes")
	delete(want, "GET /field-value-changes")
	require.Equal(t, want, got, "otherwise the same requests as a v1-only second pass")
	for _, stream := range []extractor.StreamName{extractor.StreamFieldValues, extractor.StreamOrganizationDetails} {
		s := streamResult(t, res, stream)
		require.NotNil(t, s.Path, stream)
		require.Equal(t, "v1", s.Path.Path, "%s: %s", stream, s.Path.Reason)
		require.False(t, s.Path.Fallback, stream)
	}
	requireSameWarehouse(t, v1, h)
}

// TestV2UnlistedEntitiesThroughV2: with field values of entities on no list synced, auto
// reads them through /v2/persons and /v2/companies (cheaper in this workspace than one v1
// call per unlisted entity) and the warehouse is a v1 sync's.
func TestV2UnlistedEntitiesThroughV2(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 71
	v1, h := newHarness(t, cfg), newHarness(t, cfg)
	v1.opts.FieldValuesForUnlisted = true
	h.opts.FieldValuesForUnlisted = true
	h.opts.APIV2 = extractor.V2Auto
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))
	res := h.syncer(nil).Run(t.Context(), nil)
	requireComplete(t, res)

	fv := streamResult(t, res, extractor.StreamFieldValues)
	require.Equal(t, "v1+v2", fv.Path.Path, fv.Path.Reason)
	require.Contains(t, fv.Path.Reason, "entities on no list through v2 persons and companies")
	require.Positive(t, h.fake.Requests()["GET /v2/persons"])
	// /v2/companies (120 companies: two pages) is read twice over: for the values and for
	// the persons of each company; each probe's first page is not read again.
	require.Equal(t, 2+2, h.fake.Requests()["GET /v2/companies"])
	// The v1 sync read every unlisted entity's values one request each; the v2 sync only
	// what the probe read.
	require.Greater(t, v1.fake.Requests()["GET /field-values"], h.fake.Requests()["GET /field-values"]+100)
	requireSameWarehouse(t, v1, h)

	// A second pass where one listed person's values are due (a tracked list field changed on
	// its entry, so its list is read through v1: one entity due costs less than a v2 page)
	// and every entity on no list is stale: the v2 persons pages carry the listed person too,
	// and must not mark it fetched before its list values are read through v1.
	for _, x := range []*harness{v1, h} {
		x.opts.ValuesMaxAge = 30 * 24 * time.Hour
		x.opts.UnlistedMaxAge = time.Nanosecond
	}
	// The same change in both workspaces, made after the first pass: the change feed reads
	// from the newest history read.
	changedAt := time.Now().UTC().Truncate(time.Millisecond)
	mutate := func(w *affinitytest.Workspace) {
		w.SetClock(func() time.Time { return changedAt })
		personLists := map[int64]bool{}
		for _, l := range w.Lists {
			if l.Type == loader.EntityPerson {
				personLists[l.ID] = true
			}
		}
		tracked := map[int64]bool{}
		for _, f := range w.Fields {
			if f.ListID != nil && personLists[*f.ListID] && f.TrackChanges {
				tracked[f.ID] = true
			}
		}
		for _, v := range w.FieldValues {
			if !tracked[v.FieldID] || v.ListEntryID == nil || string(v.Value) == "null" {
				continue
			}
			for _, e := range w.ListEntries {
				if e.ID != *v.ListEntryID && e.EntityType == loader.EntityPerson && e.EntityID != v.EntityID &&
					personLists[e.ListID] && w.ListEntry(*v.ListEntryID).ListID == e.ListID {
					w.SetFieldValue(v.FieldID, e.EntityID, &e.ID, v.Value)
					return
				}
			}
		}
		t.Fatal("no tracked person list field to change")
	}
	v1.fake.Mutate(mutate)
	h.fake.Mutate(mutate)
	h.fake.ResetCounters()
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))
	res = h.syncer(nil).Run(t.Context(), nil)
	requireComplete(t, res)
	require.Positive(t, h.fake.Requests()["GET /v2/persons"], "the stale unlisted entities are read through v2")
	requireSameWarehouse(t, v1, h)
}
