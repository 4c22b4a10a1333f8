package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

const monthWarning = "the schedule's projected requests exceed the month's allowance less the reserve"

// TestMonthWarnerOncePerDay: the warning is checked at most once per UTC day of the clock,
// and logged only when the projection passes the allowance less the reserve.
func TestMonthWarnerOncePerDay(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	now := time.Date(2027, 3, 22, 23, 0, 0, 0, time.UTC)
	p := quota.MonthProjection{Month: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), Allowance: 1000, Usable: 900, Spent: 800, Projected: 901}
	calls := 0
	w := &monthWarner{project: func(context.Context) (quota.MonthProjection, error) { calls++; return p, nil },
		now: func() time.Time { return now }, log: slog.New(slog.NewTextHandler(&logs, nil))}
	w.check(t.Context())
	w.check(t.Context())
	now = now.Add(59 * time.Minute) // 23:59, the same day
	w.check(t.Context())
	require.Equal(t, 1, calls)
	require.Equal(t, 1, strings.Count(logs.String(), monthWarning), logs.String())
	require.Contains(t, logs.String(), "projected=901 allowance_less_reserve=900")

	now = now.Add(time.Minute) // the next day
	p.Projected = 900          // exactly the allowance less the reserve: no warning
	w.check(t.Context())
	require.Equal(t, 2, calls)
	require.Equal(t, 1, strings.Count(logs.String(), monthWarning))
}

// TestDaemonWarnsOfTheMonth: a daemon whose hourly full pass would spend more than a small
// allowance warns at start and once a day (on its clock), and records its runs as job sync.
func TestDaemonWarnsOfTheMonth(t *testing.T) {
	t.Parallel()
	const key = "month-warn-key"
	baseURL, _ := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	cfgPath := writeFile(t, "daemon.yaml", `quota:
  per_minute: 0
  monthly_requests: 1000
  pace: "off"
server:
  addr: ""
schedule:
  sync: "0 * * * *"
  changes: ""
`, 0o600)
	cfg, err := loadConfig(cfgPath, envOf(map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}),
		func(string) {})
	require.NoError(t, err)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	clk := &manualClock{now: time.Date(2025, 3, 1, 0, 30, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, cfg, log, daemonHooks{now: clk.Now, after: clk.After}) }()

	conn := connect(t, dbURL)
	runs := func(n int) func() bool {
		return func() bool {
			var got int
			err := conn.QueryRow(t.Context(), `SELECT count(*) FROM affinity.sync_runs WHERE ended_at IS NOT NULL AND job = 'sync'`).Scan(&got)
			return err == nil && got >= n
		}
	}
	warnings := func() int { return strings.Count(logs.String(), monthWarning) }
	waitFor(t, "the run at start", runs(1))
	waitFor(t, "the warning at start", func() bool { return warnings() == 1 })
	clk.advanceTo(time.Date(2025, 3, 1, 1, 0, 0, 0, time.UTC))
	waitFor(t, "the 01:00 run", runs(2))
	clk.advanceTo(time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC))
	waitFor(t, "the first run of the next day", runs(3))
	clk.advanceTo(time.Date(2025, 3, 2, 1, 0, 0, 0, time.UTC))
	waitFor(t, "the 01:00 run of the next day", runs(4))
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, 2, warnings(), "at start and once on the next day: %s", logs.String())
}
