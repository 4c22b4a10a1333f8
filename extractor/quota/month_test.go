package quota_test

import (
	"context"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/quota"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		counts []int64
		want   int64
	}{
		{nil, 0},
		{[]int64{7}, 7},
		{[]int64{300, 100, 200}, 200},
		{[]int64{1, 2}, 2}, // the mean of the middle two, rounded up
		{[]int64{10, 40, 20, 30}, 25},
		{[]int64{5, 5, 5, 1000, 5, 5, 5}, 5},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, quota.Median(tt.counts), "%v", tt.counts)
	}
}

// runHistory serves recorded requests per job.
type runHistory map[string][]int64

func (h runHistory) JobRunRequests(_ context.Context, job string, _ []string, n int) ([]int64, error) {
	r := h[job]
	return r[:min(n, len(r))], nil
}

// TestBudgetMonth: the projection is the ledger's month plus, for each job, its activations
// left this month times the median of its recent runs (the planner's estimate before any),
// and it runs out on the first day whose cumulative total passes the allowance less the
// reserve — computed here day by day from the same inputs.
func TestBudgetMonth(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := ledgers(t, 1)[0]
	now := time.Date(2027, 3, 22, 12, 0, 0, 0, time.UTC)
	day, month := quota.Periods(now)
	_, err := store.Reserve(ctx, day.AddDate(0, 0, -3), month, 7990, 0, 0)
	require.NoError(t, err)
	_, err = store.Reserve(ctx, day, month, 10, 0, 0)
	require.NoError(t, err)
	const spent = 8000

	nightly, err := cron.ParseStandard("0 2 * * *")
	require.NoError(t, err)
	sixHourly, err := cron.ParseStandard("0 */6 * * *")
	require.NoError(t, err)
	syncRuns := []int64{300, 100, 200, 999, 50, 200, 250, 5000} // the last is past the 7 newest
	history := runHistory{"sync": syncRuns}
	const changesEstimate = 10
	jobs := []quota.MonthJob{
		{Name: "sync", Schedule: nightly, Estimate: func(context.Context) (int64, error) { panic("runs are recorded") }},
		{Name: "changes", Schedule: sixHourly, Estimate: func(context.Context) (int64, error) { return changesEstimate, nil }},
	}
	b := quota.New(store, quota.Limits{Monthly: 10000, Reserve: 0.1}, func() time.Time { return now }, nil)
	p, err := b.Month(ctx, history, jobs)
	require.NoError(t, err)

	syncPerRun := quota.Median(syncRuns[:7])
	require.Equal(t, int64(200), syncPerRun)
	// Runs left: nightly on the 23rd to the 31st; six-hourly from 18:00 on the 22nd.
	syncLeft, changesLeft := int64(31-22), int64(1+4*(31-22))
	require.Equal(t, month, p.Month)
	require.Equal(t, int64(10000), p.Allowance)
	require.Equal(t, quota.AllowanceFromConfig, p.AllowanceFrom)
	require.Equal(t, int64(9000), p.Usable)
	require.Equal(t, int64(spent), p.Spent)
	require.Equal(t, []quota.JobProjection{
		{Name: "sync", RunsLeft: syncLeft, PerRun: syncPerRun, FromRuns: 7, Requests: syncLeft * syncPerRun},
		{Name: "changes", RunsLeft: changesLeft, PerRun: changesEstimate, FromRuns: 0, Requests: changesLeft * changesEstimate},
	}, p.Jobs)
	require.Equal(t, spent+syncLeft*syncPerRun+changesLeft*changesEstimate, p.Projected)
	require.True(t, p.Exceeds())

	// Day by day: the 22nd has one changes run left, every later day a sync run and four.
	total, runsOut := int64(spent), time.Time{}
	for d := day; d.Before(month.AddDate(0, 1, 0)); d = d.AddDate(0, 0, 1) {
		if d.Equal(day) {
			total += changesEstimate
		} else {
			total += syncPerRun + 4*changesEstimate
		}
		if total > p.Usable {
			runsOut = d
			break
		}
	}
	require.False(t, runsOut.IsZero())
	require.NotNil(t, p.RunsOutOn)
	require.Equal(t, runsOut, *p.RunsOutOn)
	require.Equal(t, time.Date(2027, 3, 27, 0, 0, 0, 0, time.UTC), *p.RunsOutOn)

	// A bigger allowance lasts the month; an unknown one has no run-out day.
	big := quota.New(store, quota.Limits{Monthly: 20000, Reserve: 0.1}, func() time.Time { return now }, nil)
	p, err = big.Month(ctx, history, jobs)
	require.NoError(t, err)
	require.Nil(t, p.RunsOutOn)
	require.False(t, p.Exceeds())
	none := quota.New(store, quota.Limits{Reserve: 0.1}, func() time.Time { return now }, nil)
	p, err = none.Month(ctx, history, jobs)
	require.NoError(t, err)
	require.Zero(t, p.Allowance)
	require.Zero(t, p.Usable)
	require.Nil(t, p.RunsOutOn)
	require.False(t, p.Exceeds())
	require.Equal(t, spent+syncLeft*syncPerRun+changesLeft*changesEstimate, p.Projected)

	// Spent past the allowance already: it ran out today.
	small := quota.New(store, quota.Limits{Monthly: 5000, Reserve: 0.1}, func() time.Time { return now }, nil)
	p, err = small.Month(ctx, history, nil)
	require.NoError(t, err)
	require.Equal(t, day, *p.RunsOutOn)
}
