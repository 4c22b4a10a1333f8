package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
	"github.com/affinity-sync/affinity-sync/schedule/httpapi"
)

// monthOf projects the month of one nightly job with recorded runs, as the daemon's reader
// does over its configured jobs.
type monthOf struct {
	budget *quota.Budget
	runs   map[string][]int64
	job    quota.MonthJob
}

func (m monthOf) Month(ctx context.Context) (quota.MonthProjection, error) {
	return m.budget.Month(ctx, m, []quota.MonthJob{m.job})
}

func (m monthOf) JobRunRequests(_ context.Context, job string, _ []string, n int) ([]int64, error) {
	r := m.runs[job]
	return r[:min(n, len(r))], nil
}

func scrapeMetrics(t *testing.T, m *httpapi.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(body)
}

// TestMonthGauges: /metrics exports the month's spent, projected and allowance requests from
// the projection read at scrape time; the allowance is absent when unknown.
func TestMonthGauges(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Run(ctx, dsn, "affinity", "up", io.Discard, nil))
	store, err := loader.Open(ctx, dsn, "affinity", nil)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	now := time.Date(2027, 3, 22, 12, 0, 0, 0, time.UTC)
	day, month := quota.Periods(now)
	const spent = 4321
	_, err = store.Reserve(ctx, day, month, spent, 0, 0)
	require.NoError(t, err)
	nightly, err := cron.ParseStandard("0 2 * * *")
	require.NoError(t, err)
	runs := map[string][]int64{"sync": {700, 500, 600}}
	job := quota.MonthJob{Name: "sync", Schedule: nightly}
	// Nightly from the 23rd to the 31st, each at the median of 500, 600, 700.
	const projected = spent + (31-22)*600

	for _, tt := range []struct {
		name      string
		limits    quota.Limits
		allowance float64 // 0 = absent
	}{
		{"allowance known", quota.Limits{Monthly: 10000, Reserve: 0.1}, 10000},
		{"allowance unknown", quota.Limits{Daily: 40000, Reserve: 0.1}, 0},
	} {
		budget := quota.New(store, tt.limits, func() time.Time { return now }, nil)
		m := httpapi.NewMetrics(httpapi.MetricsOptions{Month: monthOf{budget: budget, runs: runs, job: job}})
		scrape := scrapeMetrics(t, m)
		v, ok := metric(t, scrape, "affinity_sync_month_spent_requests")
		require.True(t, ok, tt.name)
		require.Equal(t, float64(spent), v, tt.name)
		v, ok = metric(t, scrape, "affinity_sync_month_projected_requests")
		require.True(t, ok, tt.name)
		require.Equal(t, float64(projected), v, tt.name)
		v, ok = metric(t, scrape, "affinity_sync_month_allowance_requests")
		require.Equal(t, tt.allowance > 0, ok, tt.name)
		require.Equal(t, tt.allowance, v, tt.name)
	}

	// Without a month reader there are no month gauges.
	scrape := scrapeMetrics(t, httpapi.NewMetrics(httpapi.MetricsOptions{}))
	require.NotContains(t, scrape, "affinity_sync_month_")
}
