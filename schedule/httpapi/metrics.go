package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
)

// BudgetReader reads the request budget at scrape time; *quota.Budget satisfies it.
type BudgetReader interface {
	Status(ctx context.Context) (quota.Status, error)
}

// CheckpointReader reads every stream's checkpoint at scrape time; *loader.Store satisfies it.
type CheckpointReader interface {
	Checkpoints(ctx context.Context) ([]loader.Checkpoint, error)
}

// PathReader reads the API path each stream's last pass took at scrape time; *loader.Store
// satisfies it.
type PathReader interface {
	StreamPaths(ctx context.Context) ([]loader.StreamPath, error)
}

// MonthReader projects the month at scrape time: quota.Budget.Month over the daemon's
// scheduled jobs, the one projection plan --month and status print.
type MonthReader interface {
	Month(ctx context.Context) (quota.MonthProjection, error)
}

// MetricsOptions say where the metrics read at scrape time come from; a nil reader leaves its
// metrics out.
type MetricsOptions struct {
	Budget      BudgetReader
	Checkpoints CheckpointReader
	Paths       PathReader
	Month       MonthReader
	Logger      *slog.Logger
	// ScrapeTimeout bounds the reads of one scrape; default 5s.
	ScrapeTimeout time.Duration
}

// Metrics are the daemon's Prometheus metrics, in a registry of their own (never the global
// one). Every name starts with affinity_sync_. The counters are fed by the Observe methods;
// the budget and the last complete pass of each stream are read when scraped.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	byStream    *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	retries     *prometheus.CounterVec
	rows        *prometheus.CounterVec
	softDeleted *prometheus.CounterVec
	runSeconds  *prometheus.HistogramVec
	runs        *prometheus.CounterVec
	deliveries  *prometheus.CounterVec
	refreshes   *prometheus.CounterVec
	probeDiffs  *prometheus.CounterVec
	fallbacks   *prometheus.CounterVec
}

// NewMetrics registers the metrics in a new registry.
func NewMetrics(opts MetricsOptions) *Metrics {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 5 * time.Second
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_api_requests_total",
			Help: "Affinity API requests sent (every attempt), by endpoint template and HTTP status (\"error\" for a transport failure)."},
			[]string{"endpoint", "status"}),
		byStream: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_stream_requests_total",
			Help: "Affinity API requests sent (every attempt), by what sent them: a stream, or \"webhook\" for targeted refreshes."},
			[]string{"stream"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_api_rate_limited_total",
			Help: "Affinity API answers 429 (rate limited), by endpoint template."}, []string{"endpoint"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_api_retries_total",
			Help: "Affinity API attempts that were retries (attempt > 1), by endpoint template."}, []string{"endpoint"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_rows_written_total",
			Help: "Warehouse rows written (inserted or updated), by stream; \"webhook\" for targeted refreshes."}, []string{"stream"}),
		softDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_rows_soft_deleted_total",
			Help: "Warehouse rows soft-deleted, by stream; \"webhook\" for deletes Affinity announced."}, []string{"stream"}),
		runSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "affinity_sync_run_duration_seconds",
			Help:    "Duration of sync runs, by scheduled job.",
			Buckets: []float64{1, 5, 15, 60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600}}, []string{"job"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_runs_total",
			Help: "Sync runs by scheduled job and result (completed, partial, budget_spent, failed)."}, []string{"job", "result"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_webhook_deliveries_total",
			Help: "Webhook deliveries by event type (\"unknown\" for names not in Affinity's list) and outcome (unauthorized, bad_request, deleted, queued, ignored, failed)."},
			[]string{"type", "outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_webhook_refreshes_total",
			Help: "Targeted refreshes run for webhook deliveries, by object kind and result (refreshed, failed)."},
			[]string{"kind", "result"}),
	}
	m.probeDiffs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_v2_probe_differences_total",
		Help: "Passes whose API v2 probe found v2 disagreeing with v1, by stream."}, []string{"stream"})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "affinity_sync_v2_fallbacks_total",
		Help: "Passes that fell back to API v1 (api_v2: auto) because v2 refused or its probe disagreed, by stream."}, []string{"stream"})
	m.reg.MustRegister(m.requests, m.byStream, m.rateLimited, m.retries, m.rows, m.softDeleted, m.runSeconds, m.runs,
		m.deliveries, m.refreshes, m.probeDiffs, m.fallbacks, newScrapeCollector(opts))
	return m
}

// Registry is the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveRequest counts one attempt, by endpoint and by what sent it
// (extractor.StreamOfRequest); it fits affinity.WithObserver.
func (m *Metrics) ObserveRequest(info affinity.RequestInfo) {
	m.byStream.WithLabelValues(extractor.StreamOfRequest(info)).Inc()
	status := "error"
	if info.Status != 0 {
		status = strconv.Itoa(info.Status)
	}
	endpoint := info.Endpoint
	if endpoint == "" {
		endpoint = "unknown"
	}
	if info.Method != "" && info.Method != http.MethodGet {
		endpoint = info.Method + " " + endpoint
	}
	m.requests.WithLabelValues(endpoint, status).Inc()
	if info.Status == http.StatusTooManyRequests {
		m.rateLimited.WithLabelValues(endpoint).Inc()
	}
	if info.Attempt > 1 {
		m.retries.WithLabelValues(endpoint).Inc()
	}
}

// ObserveRun records a finished run of job: its duration, its result (the run record's
// status), what each stream wrote and soft-deleted, and for the streams that may read
// through API v2 their probe differences and fallbacks.
func (m *Metrics) ObserveRun(job string, took time.Duration, result string, res extractor.Result) {
	m.runSeconds.WithLabelValues(job).Observe(took.Seconds())
	m.runs.WithLabelValues(job, result).Inc()
	for _, s := range res.Streams {
		m.rows.WithLabelValues(string(s.Stream)).Add(float64(s.Rows))
		m.softDeleted.WithLabelValues(string(s.Stream)).Add(float64(s.SoftDeleted))
		if s.Path != nil {
			m.probeDiffs.WithLabelValues(string(s.Stream)).Add(float64(s.Path.ProbeDifferences))
			fallback := 0.0
			if s.Path.Fallback {
				fallback = 1
			}
			m.fallbacks.WithLabelValues(string(s.Stream)).Add(fallback)
		}
	}
}

// observeDelivery counts a delivery by type and outcome.
func (m *Metrics) observeDelivery(eventType, outcome string) {
	if !knownEvent(eventType) {
		eventType = "unknown"
	}
	m.deliveries.WithLabelValues(eventType, outcome).Inc()
}

// observeRefresh counts a targeted refresh and the rows it wrote or soft-deleted.
func (m *Metrics) observeRefresh(kind loader.ObjectKind, stats extractor.RefreshStats, err error) {
	result := "refreshed"
	if err != nil {
		result = "failed"
	}
	m.refreshes.WithLabelValues(string(kind), result).Inc()
	m.rows.WithLabelValues("webhook").Add(float64(stats.Rows))
	m.softDeleted.WithLabelValues("webhook").Add(float64(stats.SoftDeleted))
}

// observeDeleted counts the rows a *.deleted delivery soft-deleted.
func (m *Metrics) observeDeleted(n int64) {
	m.softDeleted.WithLabelValues("webhook").Add(float64(n))
}

// scrapeCollector reads the budget, the checkpoints and the stream paths at every scrape.
type scrapeCollector struct {
	opts                        MetricsOptions
	left, spent, lastPass, path *prometheus.Desc
	// the month's projection (docs/quota.md)
	monthSpent, monthProjected, monthAllowance *prometheus.Desc
}

func newScrapeCollector(opts MetricsOptions) *scrapeCollector {
	return &scrapeCollector{
		opts: opts,
		left: prometheus.NewDesc("affinity_sync_requests_left",
			"Requests the budget still allows in the period (day or month, UTC), after the reserve; absent when the period has no cap.",
			[]string{"period"}, nil),
		spent: prometheus.NewDesc("affinity_sync_requests_spent",
			"Requests recorded in the ledger for the current period (day or month, UTC).", []string{"period"}, nil),
		lastPass: prometheus.NewDesc("affinity_sync_last_complete_pass_timestamp_seconds",
			"Unix time at which the stream last completed a pass.", []string{"stream"}, nil),
		path: prometheus.NewDesc("affinity_sync_stream_path",
			"1 for the API path (v1, or v1+v2) the stream's last pass took; only streams that may read through API v2 have one.",
			[]string{"stream", "path"}, nil),
		monthSpent: prometheus.NewDesc("affinity_sync_month_spent_requests",
			"Requests the ledger counts for the current UTC month.", nil, nil),
		monthProjected: prometheus.NewDesc("affinity_sync_month_projected_requests",
			"Requests projected by the end of the current UTC month: those spent, plus each scheduled job's runs left this month times the median requests of its last 7 runs (the planner's estimate before any).",
			nil, nil),
		monthAllowance: prometheus.NewDesc("affinity_sync_month_allowance_requests",
			"The month's request allowance (quota.monthly_requests, else the monthly limit Affinity reported), before the reserve; absent when unknown.",
			nil, nil),
	}
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.left
	ch <- c.spent
	ch <- c.lastPass
	ch <- c.path
	ch <- c.monthSpent
	ch <- c.monthProjected
	ch <- c.monthAllowance
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ScrapeTimeout)
	defer cancel()
	if c.opts.Budget != nil {
		st, err := c.opts.Budget.Status(ctx)
		if err != nil {
			c.opts.Logger.Warn("metrics: read request budget", "error", err)
		} else {
			ch <- prometheus.MustNewConstMetric(c.spent, prometheus.GaugeValue, float64(st.DayUsed), "day")
			ch <- prometheus.MustNewConstMetric(c.spent, prometheus.GaugeValue, float64(st.MonthUsed), "month")
			if st.DayLeft >= 0 {
				ch <- prometheus.MustNewConstMetric(c.left, prometheus.GaugeValue, float64(st.DayLeft), "day")
			}
			if st.MonthLeft >= 0 {
				ch <- prometheus.MustNewConstMetric(c.left, prometheus.GaugeValue, float64(st.MonthLeft), "month")
			}
		}
	}
	if c.opts.Month != nil {
		p, err := c.opts.Month.Month(ctx)
		if err != nil {
			c.opts.Logger.Warn("metrics: project the month", "error", err)
		} else {
			ch <- prometheus.MustNewConstMetric(c.monthSpent, prometheus.GaugeValue, float64(p.Spent))
			ch <- prometheus.MustNewConstMetric(c.monthProjected, prometheus.GaugeValue, float64(p.Projected))
			if p.Allowance > 0 {
				ch <- prometheus.MustNewConstMetric(c.monthAllowance, prometheus.GaugeValue, float64(p.Allowance))
			}
		}
	}
	if c.opts.Checkpoints != nil {
		cps, err := c.opts.Checkpoints.Checkpoints(ctx)
		if err != nil {
			c.opts.Logger.Warn("metrics: read checkpoints", "error", err)
		}
		for _, cp := range cps {
			if cp.LastCompletedAt != nil {
				ch <- prometheus.MustNewConstMetric(c.lastPass, prometheus.GaugeValue,
					float64(cp.LastCompletedAt.UnixNano())/1e9, cp.Stream)
			}
		}
	}
	if c.opts.Paths != nil {
		paths, err := c.opts.Paths.StreamPaths(ctx)
		if err != nil {
			c.opts.Logger.Warn("metrics: read stream paths", "error", err)
		}
		for _, p := range paths {
			ch <- prometheus.MustNewConstMetric(c.path, prometheus.GaugeValue, 1, p.Stream, p.Path)
		}
	}
}
