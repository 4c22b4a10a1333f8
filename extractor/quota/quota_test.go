package quota_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is a settable clock for the Budgets of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// ledgers migrates a fresh database and opens n Stores on it (n replicas, each with its
// own pool) as the Budgets' ledger.
func ledgers(t *testing.T, n int) []*loader.Store {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	const schema = "quota"
	require.NoError(t, migrations.Run(t.Context(), dbURL, schema, "up", nil, nil))
	stores := make([]*loader.Store, n)
	for i := range stores {
		s, err := loader.Open(t.Context(), dbURL, schema, nil)
		require.NoError(t, err)
		t.Cleanup(s.Close)
		stores[i] = s
	}
	return stores
}

// spend calls Reserve until it fails or limit calls succeeded; it returns the successes and
// the error that stopped it (nil when limit was reached).
func spend(ctx context.Context, b *quota.Budget, limit int) (int64, error) {
	var n int64
	for range limit {
		if err := b.Reserve(ctx); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// requireSpentError checks that err is the budget-spent error, resetting at resets.
func requireSpentError(t *testing.T, err error, resets time.Time, reason string) {
	t.Helper()
	require.Error(t, err)
	var se *quota.SpentError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, affinity.ErrBudgetSpent)
	require.True(t, quota.IsSpent(err))
	require.Equal(t, resets, se.Resets)
	require.Contains(t, se.Reason, reason)
	require.Contains(t, err.Error(), resets.Format(time.RFC3339))
}

func ledgerCounts(t *testing.T, l quota.Ledger, at time.Time) (int64, int64) {
	t.Helper()
	day, month := quota.Periods(at)
	d, m, err := l.Spent(t.Context(), day, month)
	require.NoError(t, err)
	return d, m
}

func TestLimitsEffective(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		limits         quota.Limits
		daily, monthly int64
		perMinute      int
	}{
		{"defaults", quota.Limits{Daily: 40000, PerMinute: 900, Reserve: 0.1}, 36000, 0, 810},
		{"monthly plan", quota.Limits{Monthly: 100000, Reserve: 0.1}, 0, 90000, 0},
		{"no reserve", quota.Limits{Daily: 40000, Monthly: 100000, PerMinute: 900}, 40000, 100000, 900},
		{"all off", quota.Limits{Reserve: 0.1}, 0, 0, 0},
		// In float64, 100 × (1 − 0.34) is 65.99999999999999 and 900 × (1 − 0.33) is 602.9999999999999.
		{"decimal reserve is exact", quota.Limits{Daily: 100, Monthly: 100000, PerMinute: 900, Reserve: 0.34}, 66, 66000, 594},
		{"decimal reserve is exact too", quota.Limits{Daily: 100000, Monthly: 900, PerMinute: 900, Reserve: 0.33}, 67000, 603, 603},
		{"floor", quota.Limits{Daily: 999, Monthly: 7, PerMinute: 901, Reserve: 0.1}, 899, 6, 810},
		{"a cap never becomes no cap", quota.Limits{Daily: 1, Monthly: 2, PerMinute: 1, Reserve: 0.9}, 1, 1, 1},
		{"negative reserve is none", quota.Limits{Daily: 40000, Reserve: -0.5}, 40000, 0, 0},
	}
	for _, tt := range tests {
		require.Equal(t, tt.daily, tt.limits.EffectiveDaily(), tt.name)
		require.Equal(t, tt.monthly, tt.limits.EffectiveMonthly(), tt.name)
		require.Equal(t, tt.perMinute, tt.limits.EffectivePerMinute(), tt.name)
	}
}

func TestPeriods(t *testing.T) {
	t.Parallel()
	pacific := time.FixedZone("PST", -8*3600)
	tests := []struct {
		at         time.Time
		day, month time.Time
	}{
		{time.Date(2026, 3, 14, 15, 9, 26, 5, time.UTC), time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		// 20:00 on Feb 28 in California is already March 1 in UTC.
		{time.Date(2026, 2, 28, 20, 0, 0, 0, pacific), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		day, month := quota.Periods(tt.at)
		require.Equal(t, tt.day, day, tt.at.String())
		require.Equal(t, tt.month, month, tt.at.String())
	}
}

func TestStatusLeft(t *testing.T) {
	t.Parallel()
	tests := []struct{ day, month, want int64 }{
		{-1, -1, -1},
		{5, -1, 5},
		{-1, 7, 7},
		{5, 3, 3},
		{3, 5, 3},
		{0, -1, 0},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, quota.Status{DayLeft: tt.day, MonthLeft: tt.month}.Left(), "%+v", tt)
	}
}

// TestBudgetDailyCapAcrossRestarts runs Budgets one after another over one ledger, as a
// daemon that crashes or restarts would: together they never pass the daily cap, and the
// ledger never counts fewer requests than they permitted.
func TestBudgetDailyCapAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	clk := newClock(time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC))
	limits := quota.Limits{Daily: 100, Reserve: 0.25}
	const dayCap = 75
	midnight := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)

	var permitted int64
	// A crash: 23 permitted, the rest of its block never given back.
	crashed := quota.New(store, limits, clk.now, nil)
	n, err := spend(ctx, crashed, 23)
	require.NoError(t, err)
	permitted += n
	// A clean stop: 30 permitted, the rest given back.
	clean := quota.New(store, limits, clk.now, nil)
	n, err = spend(ctx, clean, 30)
	require.NoError(t, err)
	permitted += n
	require.NoError(t, clean.Close(ctx))
	require.Equal(t, int64(30), clean.Sent())
	// The next run spends what is left.
	last := quota.New(store, limits, clk.now, nil)
	n, err = spend(ctx, last, 1000)
	permitted += n
	requireSpentError(t, err, midnight, "of today (UTC) used")
	require.Equal(t, n, last.Sent())

	dayUsed, monthUsed := ledgerCounts(t, store, clk.now())
	require.LessOrEqual(t, permitted, int64(dayCap), "never past the cap")
	require.GreaterOrEqual(t, dayUsed, permitted, "the ledger only over-counts")
	require.Equal(t, int64(dayCap), dayUsed, "the ledger is full")
	require.Equal(t, dayUsed, monthUsed)
	require.Equal(t, int64(dayCap-7), permitted, "only the crashed run's unused block is lost")

	// Still spent later that day, for a fresh Budget too.
	clk.set(time.Date(2026, 3, 14, 23, 59, 59, 0, time.UTC))
	requireSpentError(t, last.Reserve(ctx), midnight, "75 of 75")
	requireSpentError(t, quota.New(store, limits, clk.now, nil).Reserve(ctx), midnight, "75 of 75")

	// The next day, it works again.
	clk.set(midnight.Add(time.Minute))
	n, err = spend(ctx, last, 1000)
	require.Equal(t, int64(dayCap), n)
	requireSpentError(t, err, midnight.AddDate(0, 0, 1), "of today (UTC) used")
	dayUsed, monthUsed = ledgerCounts(t, store, clk.now())
	require.Equal(t, int64(dayCap), dayUsed)
	require.Equal(t, int64(2*dayCap), monthUsed)
}

// TestBudgetReplicasConcurrently has Budgets on two replicas (two pools) spend from several
// goroutines at once: together they permit at most the cap.
func TestBudgetReplicasConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	stores := ledgers(t, 2)
	clk := newClock(time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC))
	limits := quota.Limits{Daily: 1000, Reserve: 0.1}
	const dayCap = 900

	var (
		permitted atomic.Int64
		wg        sync.WaitGroup
		errs      = make(chan error, 8)
	)
	for i := range 4 {
		b := quota.New(stores[i%2], limits, clk.now, nil)
		for range 2 {
			wg.Go(func() {
				n, err := spend(ctx, b, 10000)
				permitted.Add(n)
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.True(t, quota.IsSpent(err), "every goroutine stops on a spent budget: %v", err)
	}
	dayUsed, _ := ledgerCounts(t, stores[0], clk.now())
	require.Equal(t, int64(dayCap), dayUsed, "the ledger is full, never past the cap")
	// A Budget is spent only once its block is used up, so nothing reserved is left unused.
	require.Equal(t, int64(dayCap), permitted.Load())
}

func TestBudgetMonthlyCap(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	clk := newClock(time.Date(2026, 1, 30, 22, 0, 0, 0, time.UTC))
	b := quota.New(store, quota.Limits{Daily: 40, Monthly: 50, Reserve: 0.1}, clk.now, nil) // caps 36 a day, 45 a month
	february := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

	n, err := spend(ctx, b, 1000)
	require.Equal(t, int64(36), n)
	requireSpentError(t, err, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), "36 of 36 requests of today")

	clk.set(time.Date(2026, 1, 31, 0, 0, 1, 0, time.UTC))
	n, err = spend(ctx, b, 1000)
	require.Equal(t, int64(9), n, "the month's cap binds on the next day")
	requireSpentError(t, err, february, "45 of 45 requests of this month")

	clk.set(time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC))
	requireSpentError(t, b.Reserve(ctx), february, "of this month")

	clk.set(february.Add(time.Second))
	n, err = spend(ctx, b, 1000)
	require.Equal(t, int64(36), n, "a new month starts afresh")
	requireSpentError(t, err, february.AddDate(0, 0, 1), "of today")

	dayUsed, monthUsed := ledgerCounts(t, store, february)
	require.Equal(t, int64(36), dayUsed)
	require.Equal(t, int64(36), monthUsed)
	_, january := ledgerCounts(t, store, time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC))
	require.Equal(t, int64(45), january)
}

func TestBudgetCloseGivesBackTheBlock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	day1 := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	clk := newClock(day1)
	b := quota.New(store, quota.Limits{Daily: 40000, Reserve: 0.1}, clk.now, nil)

	require.NoError(t, b.Close(ctx), "closing an unused Budget does nothing")
	n, err := spend(ctx, b, 3)
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	dayUsed, _ := ledgerCounts(t, store, day1)
	require.Equal(t, int64(10), dayUsed, "a block is reserved before the first request")

	require.NoError(t, b.Close(ctx))
	dayUsed, monthUsed := ledgerCounts(t, store, day1)
	require.Equal(t, int64(3), dayUsed, "a clean stop counts only what was permitted")
	require.Equal(t, int64(3), monthUsed)
	require.NoError(t, b.Close(ctx), "a second Close gives nothing back twice")
	dayUsed, _ = ledgerCounts(t, store, day1)
	require.Equal(t, int64(3), dayUsed)

	// A Budget used across midnight gives the old day's unused block back on the old day.
	_, err = spend(ctx, b, 4)
	require.NoError(t, err)
	day2 := day1.AddDate(0, 0, 1)
	clk.set(day2)
	require.NoError(t, b.Reserve(ctx))
	dayUsed, _ = ledgerCounts(t, store, day1)
	require.Equal(t, int64(7), dayUsed)
	dayUsed, monthUsed = ledgerCounts(t, store, day2)
	require.Equal(t, int64(10), dayUsed)
	require.Equal(t, int64(17), monthUsed)
	require.NoError(t, b.Close(ctx))
	dayUsed, monthUsed = ledgerCounts(t, store, day2)
	require.Equal(t, int64(1), dayUsed)
	require.Equal(t, int64(8), monthUsed)
	require.Equal(t, int64(8), b.Sent())
}

func orgHeaders(limit, remaining affinity.Count) affinity.RequestInfo {
	return affinity.RequestInfo{Status: 200, RateLimit: affinity.RateLimitHeaders{OrgLimit: limit, OrgRemaining: remaining}}
}

func count(n int64) affinity.Count { return affinity.Count{Known: true, N: n} }
func unlimited() affinity.Count    { return affinity.Count{Known: true, Unlimited: true} }
func ptr[T any](v T) *T            { return &v }
func mustStatus(t *testing.T, b *quota.Budget) quota.Status {
	t.Helper()
	st, err := b.Status(t.Context())
	require.NoError(t, err)
	return st
}

func TestBudgetServerHeaders(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	clk := newClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	april := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	// Ledger caps far above what the server will report: the server binds.
	b := quota.New(store, quota.Limits{Daily: 40000, Monthly: 100000, Reserve: 0.1}, clk.now, nil)

	require.NoError(t, b.Reserve(ctx))
	// 1000 a month, 120 left: the reserve's share is 100, so 20 may be spent.
	b.Observe(orgHeaders(count(1000), count(120)))
	st := mustStatus(t, b)
	require.Equal(t, ptr(int64(120)), st.ServerMonthlyRemaining)
	require.Equal(t, ptr(int64(1000)), st.ServerMonthlyLimit)
	require.Equal(t, int64(20), st.MonthLeft)
	require.Equal(t, int64(20), st.Left())

	n, err := spend(ctx, b, 1000)
	require.Equal(t, int64(20), n)
	requireSpentError(t, err, april, "reported by Affinity")
	st = mustStatus(t, b)
	require.Equal(t, int64(0), st.MonthLeft)
	require.Equal(t, int64(0), st.Left())
	dayUsed, _ := ledgerCounts(t, store, clk.now())
	require.GreaterOrEqual(t, dayUsed, b.Sent())

	// A response without readable org headers changes nothing.
	b.Observe(orgHeaders(affinity.Count{}, affinity.Count{}))
	requireSpentError(t, b.Reserve(ctx), april, "reported by Affinity")

	// A report that tightens the budget takes effect at once, even inside a block.
	b.Observe(orgHeaders(unlimited(), unlimited()))
	st = mustStatus(t, b)
	require.Nil(t, st.ServerMonthlyRemaining)
	require.Nil(t, st.ServerMonthlyLimit)
	require.NoError(t, b.Reserve(ctx), "unlimited clears the server's limit")
	b.Observe(orgHeaders(count(1000), count(101)))
	require.NoError(t, b.Reserve(ctx))
	requireSpentError(t, b.Reserve(ctx), april, "reported by Affinity")

	// A report of last month does not bind the new month.
	clk.set(april.Add(time.Hour))
	require.NoError(t, b.Reserve(ctx))
	st = mustStatus(t, b)
	require.Nil(t, st.ServerMonthlyRemaining)
	require.Equal(t, int64(90000-10), st.MonthLeft, "the ledger binds again")

	// Without a reported limit the remaining count binds with no reserve share.
	b.Observe(orgHeaders(affinity.Count{}, count(3)))
	n, err = spend(ctx, b, 10)
	require.Equal(t, int64(3), n)
	requireSpentError(t, err, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "reported by Affinity")
	st = mustStatus(t, b)
	require.Equal(t, ptr(int64(3)), st.ServerMonthlyRemaining)
	require.Nil(t, st.ServerMonthlyLimit)
}

func TestBudgetLedgerBindsBelowServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	clk := newClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	b := quota.New(store, quota.Limits{Monthly: 30}, clk.now, nil)
	b.Observe(orgHeaders(count(100000), count(90000)))
	n, err := spend(ctx, b, 1000)
	require.Equal(t, int64(30), n)
	requireSpentError(t, err, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), "30 of 30 requests of this month")
}

func TestBudgetObserveRateLimit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	clk := newClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	b := quota.New(store, quota.Limits{Reserve: 0.1}, clk.now, nil) // no configured caps at all

	st := mustStatus(t, b)
	require.Equal(t, int64(-1), st.Left(), "nothing caps the budget")

	b.ObserveRateLimit(affinity.RateLimit{OrgMonthly: affinity.Quota{Limit: count(1000), Remaining: count(105)}})
	st = mustStatus(t, b)
	require.Equal(t, int64(-1), st.DayLeft)
	require.Equal(t, int64(5), st.MonthLeft)
	require.Equal(t, int64(5), st.Left())
	n, err := spend(ctx, b, 100)
	require.Equal(t, int64(5), n)
	requireSpentError(t, err, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), "reported by Affinity")

	// An answer without a readable remaining count keeps what is known.
	b.ObserveRateLimit(affinity.RateLimit{})
	require.True(t, quota.IsSpent(b.Reserve(ctx)))

	b.ObserveRateLimit(affinity.RateLimit{OrgMonthly: affinity.Quota{Limit: unlimited(), Remaining: unlimited()}})
	n, err = spend(ctx, b, 100)
	require.NoError(t, err)
	require.Equal(t, int64(100), n)
	require.Equal(t, int64(-1), mustStatus(t, b).Left())
}

func TestBudgetStatus(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	clk := newClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	b := quota.New(store, quota.Limits{Daily: 100, Monthly: 1000, Reserve: 0.1}, clk.now, nil)

	n, err := spend(ctx, b, 12)
	require.NoError(t, err)
	require.Equal(t, int64(12), n)
	require.Equal(t, quota.Status{
		DayUsed: 20, MonthUsed: 20, // two blocks reserved
		DayCap: 90, MonthCap: 900,
		DayLeft: 70, MonthLeft: 880,
		DayResets:   time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC),
		MonthResets: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		Allowance:   1000, AllowanceFrom: quota.AllowanceFromConfig,
	}, mustStatus(t, b))
	require.Equal(t, int64(70), mustStatus(t, b).Left())

	require.NoError(t, b.Close(ctx))
	st := mustStatus(t, b)
	require.Equal(t, int64(12), st.DayUsed)
	require.Equal(t, int64(78), st.DayLeft)

	// Another day, another month: the month's count carries over within the month only.
	clk.set(time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC))
	st = mustStatus(t, b)
	require.Equal(t, int64(0), st.DayUsed)
	require.Equal(t, int64(12), st.MonthUsed)
	require.Equal(t, int64(90), st.Left())
	clk.set(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	st = mustStatus(t, b)
	require.Equal(t, int64(0), st.MonthUsed)
	require.Equal(t, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), st.MonthResets)
}

// failingLedger fails every call, as a database that is down would.
type failingLedger struct{ err error }

func (f failingLedger) Reserve(context.Context, time.Time, time.Time, int64, int64, int64) (int64, error) {
	return 0, f.err
}
func (f failingLedger) Release(context.Context, time.Time, time.Time, int64) error { return f.err }
func (f failingLedger) Spent(context.Context, time.Time, time.Time) (int64, int64, error) {
	return 0, 0, f.err
}

func TestBudgetLedgerDown(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	b := quota.New(failingLedger{err: down}, quota.Limits{Daily: 10}, nil, nil)
	err := b.Reserve(t.Context())
	require.ErrorIs(t, err, down)
	require.False(t, quota.IsSpent(err), "a ledger that is down is not a spent budget")
	require.ErrorContains(t, err, "reserve requests in the ledger")
	require.Zero(t, b.Sent())
	_, err = b.Status(t.Context())
	require.ErrorIs(t, err, down)
}

// TestBudgetSentBy: each permitted request counts for the label of its context, a refused
// one for none, and the counts add up to Sent.
func TestBudgetSentBy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	b := quota.New(store, quota.Limits{Daily: 4}, newClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)).now, nil)
	require.Nil(t, b.SentBy())
	for _, label := range []string{"persons", "persons", "notes", ""} {
		require.NoError(t, b.Reserve(affinity.WithLabel(ctx, label)))
	}
	require.True(t, quota.IsSpent(b.Reserve(affinity.WithLabel(ctx, "notes"))))
	require.Equal(t, map[string]int64{"persons": 2, "notes": 1, "": 1}, b.SentBy())
	require.Equal(t, int64(4), b.Sent())
	require.NoError(t, b.Close(ctx))
}
