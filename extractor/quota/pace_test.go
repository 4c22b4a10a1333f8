package quota_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
)

func TestPacedDayCap(t *testing.T) {
	t.Parallel()
	mar22 := time.Date(2027, 3, 22, 15, 0, 0, 0, time.UTC) // 10 days left in March, the 22nd included
	tests := []struct {
		name                   string
		allowance, spentBefore int64
		reserve                float64
		day                    time.Time
		want                   int64
	}{
		{"the contract's example", 10000, 8000, 0.1, mar22, 100},
		{"floor", 10000, 8001, 0.1, mar22, 99},
		{"first of the month", 100000, 0, 0.1, time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), 2903}, // 90000 / 31
		{"last day of the month gets all that is left", 100000, 89000, 0.1, time.Date(2027, 3, 31, 23, 59, 0, 0, time.UTC), 1000},
		{"february", 2800, 0, 0, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), 100},
		{"leap february's last day", 2900, 2800, 0, time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), 100},
		// shrink's exact decimal arithmetic: 100 × (1 − 0.34) is 66, not 65.99999999999999.
		{"exact reserve", 100, 0, 0.34, time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC), 66},
		{"overspent is nothing, never negative", 10000, 9500, 0.1, mar22, 0},
		{"unknown allowance paces nothing", 0, 8000, 0.1, mar22, -1},
		{"a zone is taken in UTC", 3100, 0, 0, time.Date(2027, 2, 28, 20, 0, 0, 0, time.FixedZone("PST", -8*3600)), 100},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, quota.PacedDayCap(tt.allowance, tt.spentBefore, tt.reserve, tt.day), tt.name)
	}
	require.Equal(t, int64(10), quota.DaysLeft(mar22))
	require.Equal(t, int64(1), quota.DaysLeft(time.Date(2027, 12, 31, 23, 0, 0, 0, time.UTC)))
}

// TestBudgetPacedToTheMonth: allowance 10,000, reserve 0.1, 8,000 spent this month before
// today, 10 days left: the daily cap in effect is 100, however the day's requests are spread
// over restarts, and a refusal names the pace; with the pace off the cap is daily_requests.
func TestBudgetPacedToTheMonth(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2027, 3, 22, 9, 0, 0, 0, time.UTC)
	tomorrow := time.Date(2027, 3, 23, 0, 0, 0, 0, time.UTC)
	seed := func(t *testing.T) quota.Ledger {
		store := ledgers(t, 1)[0]
		// 8,000 spent earlier this month.
		got, err := store.Reserve(ctx, time.Date(2027, 3, 5, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), 8000, 0, 0)
		require.NoError(t, err)
		require.Equal(t, int64(8000), got)
		return store
	}
	limits := quota.Limits{Daily: 150, Monthly: 10000, Reserve: 0.1, PaceMonth: true}

	t.Run("month", func(t *testing.T) {
		t.Parallel()
		ledger := seed(t)
		st := mustStatus(t, quota.New(ledger, limits, func() time.Time { return now }, nil))
		require.Equal(t, int64(100), st.DayCap)
		require.True(t, st.DayPaced)
		require.Equal(t, int64(100), st.DayLeft)
		require.Equal(t, int64(10000), st.Allowance)
		require.Equal(t, quota.AllowanceFromConfig, st.AllowanceFrom)

		// A first process spends 45 and stops; the one after it still has 55, not less:
		// today's own spending does not shrink today's share.
		first := quota.New(ledger, limits, func() time.Time { return now }, nil)
		n, err := spend(ctx, first, 45)
		require.NoError(t, err)
		require.Equal(t, int64(45), n)
		require.NoError(t, first.Close(ctx))
		second := quota.New(ledger, limits, func() time.Time { return now.Add(time.Hour) }, nil)
		n, err = spend(ctx, second, 1000)
		require.Equal(t, int64(55), n)
		requireSpentError(t, err, tomorrow, "today's even share of the month's allowance left (100 of 100 used")
		dayUsed, monthUsed := ledgerCounts(t, ledger, now)
		require.Equal(t, int64(100), dayUsed)
		require.Equal(t, int64(8100), monthUsed)
		st = mustStatus(t, second)
		require.Equal(t, int64(0), st.DayLeft)
		require.True(t, st.DayPaced)

		// The next day's share is what is left over the 9 days left: (9000 − 8100) / 9.
		next := quota.New(ledger, limits, func() time.Time { return tomorrow.Add(time.Minute) }, nil)
		require.Equal(t, int64(100), mustStatus(t, next).DayCap)
		n, err = spend(ctx, next, 101)
		require.Equal(t, int64(100), n)
		require.True(t, quota.IsSpent(err))
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		ledger := seed(t)
		off := limits
		off.PaceMonth = false
		b := quota.New(ledger, off, func() time.Time { return now }, nil)
		st := mustStatus(t, b)
		require.Equal(t, int64(135), st.DayCap, "daily_requests after the reserve")
		require.False(t, st.DayPaced)
		n, err := spend(ctx, b, 1000)
		require.Equal(t, int64(135), n)
		requireSpentError(t, err, tomorrow, "135 of 135 requests of today (UTC) used")
	})
	t.Run("the server's monthly limit", func(t *testing.T) {
		t.Parallel()
		ledger := seed(t)
		noMonthly := quota.Limits{Daily: 40000, Reserve: 0.1, PaceMonth: true}
		b := quota.New(ledger, noMonthly, func() time.Time { return now }, nil)
		require.False(t, mustStatus(t, b).DayPaced, "no allowance known yet: the daily cap")
		n, err := spend(ctx, b, 30)
		require.NoError(t, err)
		require.Equal(t, int64(30), n)
		// Affinity reports the allowance: the pace binds from the next block on.
		b.ObserveRateLimit(affinity.RateLimit{OrgMonthly: affinity.Quota{Limit: count(10000), Remaining: count(1970)}})
		st := mustStatus(t, b)
		require.True(t, st.DayPaced)
		require.Equal(t, int64(100), st.DayCap)
		require.Equal(t, quota.AllowanceFromServer, st.AllowanceFrom)
		n, err = spend(ctx, b, 1000)
		require.Equal(t, int64(70), n)
		requireSpentError(t, err, tomorrow, "even share")
	})
	t.Run("nothing left today", func(t *testing.T) {
		t.Parallel()
		ledger := seed(t)
		// No configured monthly cap; Affinity reports an allowance of 8,800 (7,920 after the
		// reserve), already passed by the ledger, while it says plenty is left.
		b := quota.New(ledger, quota.Limits{Reserve: 0.1, PaceMonth: true}, func() time.Time { return now }, nil)
		b.ObserveRateLimit(affinity.RateLimit{OrgMonthly: affinity.Quota{Limit: count(8800), Remaining: count(5000)}})
		st := mustStatus(t, b)
		require.True(t, st.DayPaced)
		require.Equal(t, int64(0), st.DayCap)
		require.Equal(t, int64(0), st.DayLeft)
		requireSpentError(t, b.Reserve(ctx), tomorrow, "(0 of 0 used")
		dayUsed, _ := ledgerCounts(t, ledger, now)
		require.Zero(t, dayUsed, "a paced cap of 0 is no request, not no cap")
	})
}
