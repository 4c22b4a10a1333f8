package extractor_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
)

// TestDailyBudgetAcrossRunsAndDays gives the sync a daily budget far smaller
// than a full pass: every run stops when the day's budget is spent, a
// "restart" (a new budget and client over the same ledger) never gets more,
// the work continues the next day, and the warehouse ends exact.
func TestDailyBudgetAcrossRunsAndDays(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 3
	h := newHarness(t, cfg)
	ctx := t.Context()

	// The workspace's history lies in the past of this clock, as real history does.
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(8 * time.Hour)
	clock := func() time.Time { return now }
	const daily, reserve = 120, 0.25
	limits := quota.Limits{Daily: daily, Reserve: reserve}
	dayCap := limits.EffectiveDaily()
	require.Equal(t, int64(90), dayCap)

	hs := httptest.NewServer(h.fake)
	t.Cleanup(hs.Close)
	run := func() extractor.Result {
		budget := quota.New(h.store, limits, clock, nil)
		client, err := affinity.NewClient(hs.URL, testKey, affinity.WithPerMinute(0),
			affinity.WithReserve(budget.Reserve), affinity.WithObserver(budget.Observe))
		require.NoError(t, err)
		opts := h.opts
		opts.Now = clock
		// Values are refreshed when new or changed only, so that the
		// budget-limited days make progress instead of re-reading stale ones.
		opts.ValuesMaxAge = 30 * 24 * time.Hour
		// Relationship intelligence has a cap of its own (intelligence_test.go); without it
		// the days are the other streams'.
		opts.Intelligence.Scope = extractor.ScopeNone
		res := extractor.New(client, h.store, opts).Run(ctx, nil)
		require.NoError(t, budget.Close(ctx))
		return res
	}

	days := 0
	for ; days < 20; days++ {
		h.fake.ResetCounters()
		// Three runs a day (a restart between each): together they never
		// send more than the day's cap.
		var res extractor.Result
		for range 3 {
			res = run()
			if res.Complete() {
				break
			}
			require.True(t, res.BudgetSpent(), "a run that did not complete stopped for the budget: %+v", res.Failed())
			require.Empty(t, res.Failed())
		}
		require.LessOrEqual(t, int64(h.fake.TotalRequests()), dayCap, "day %d", days)
		if res.Complete() {
			break
		}
		// The ledger holds the whole cap. A request reserved by one stream
		// while another spent the last of the budget may be cancelled before
		// it is sent (the ledger over-counts, never under-counts), so the fake
		// may see up to one request per concurrent stream less.
		day, month := quota.Periods(now)
		dayUsed, _, err := h.store.Spent(ctx, day, month)
		require.NoError(t, err)
		require.Equal(t, dayCap, dayUsed, "a budget-limited day reserves its whole cap")
		require.GreaterOrEqual(t, int64(h.fake.TotalRequests()), dayCap-int64(len(extractor.Streams())), "and sends nearly all of it")
		now = now.Add(24 * time.Hour)
	}
	require.Greater(t, days, 2, "the work needed several days")
	require.Less(t, days, 20, "the work finished")
	h.requireWarehouseEquals(t, h.fake.Snapshot())
	h.requireValuesEqual(t, h.fake.Snapshot())
}
