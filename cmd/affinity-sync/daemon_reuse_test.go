package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

func TestRunStatus(t *testing.T) {
	t.Parallel()
	ok := extractor.StreamResult{Stream: "persons", Complete: true}
	spent := extractor.StreamResult{Stream: "notes", Err: fmt.Errorf("fetch page 2: %w", affinity.ErrBudgetSpent)}
	broken := extractor.StreamResult{Stream: "lists", Err: errors.New("upsert lists page: conflict")}
	tests := []struct {
		name     string
		sum      syncSummary
		status   string
		exitCode int
	}{
		{"every stream finished", syncSummary{result: extractor.Result{Streams: []extractor.StreamResult{ok}}}, statusCompleted, exitOK},
		{"--streams run finished", syncSummary{partial: true, result: extractor.Result{Streams: []extractor.StreamResult{ok}}}, statusPartial, exitOK},
		{"budget spent", syncSummary{result: extractor.Result{Streams: []extractor.StreamResult{ok, spent}}}, statusBudgetSpent, exitBudgetSpent},
		{"budget spent in a --streams run", syncSummary{partial: true, result: extractor.Result{Streams: []extractor.StreamResult{spent}}}, statusBudgetSpent, exitBudgetSpent},
		{"a stream failed", syncSummary{result: extractor.Result{Streams: []extractor.StreamResult{ok, broken}}}, statusFailed, exitFailed},
		{"a failure outranks a spent budget", syncSummary{result: extractor.Result{Streams: []extractor.StreamResult{spent, broken}}}, statusFailed, exitFailed},
		{"failed before any stream", syncSummary{failure: errors.New("ask Affinity which workspace")}, statusFailed, exitFailed},
		{"failed before any stream, --streams", syncSummary{partial: true, failure: errors.New("whoami")}, statusFailed, exitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.status, tt.sum.status())
			require.Equal(t, tt.exitCode, tt.sum.exitCode())
			require.Equal(t, tt.status, runResult(tt.sum, nil), "the daemon's metrics name the same status")
		})
	}
	require.Equal(t, "error", runResult(syncSummary{}, errors.New("record run end")))
}

// manualClock is the scheduler's clock in these tests: After channels fire only when the
// test moves the time past their deadline.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []manualWaiter
}

type manualWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, manualWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// advanceTo moves the time to at and fires every waiter due by then.
func (c *manualClock) advanceTo(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(at) {
			kept = append(kept, w)
			continue
		}
		w.ch <- at
	}
	c.waiters = kept
}

// TestDaemonKeepsItsWarehouseOpen runs three scheduled passes of one daemon on a manual
// clock: the warehouse is migrated and opened once, at start, and every run uses that store.
func TestDaemonKeepsItsWarehouseOpen(t *testing.T) {
	t.Parallel()
	const key = "reuse-key"
	baseURL, _ := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	cfgPath := writeFile(t, "daemon.yaml", `quota:
  per_minute: 0
server:
  addr: ""
schedule:
  sync: "0 * * * *"
  changes: "0 4 1 1 *"
`, 0o600)
	cfg, err := loadConfig(cfgPath, envOf(map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}),
		func(string) {})
	require.NoError(t, err)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	clk := &manualClock{now: time.Date(2025, 3, 1, 0, 30, 0, 0, time.UTC)}
	var opens atomic.Int32
	var opened *loader.Store
	hooks := daemonHooks{
		openWarehouse: func(ctx context.Context, cfg Config, log *slog.Logger) (*loader.Store, error) {
			opens.Add(1)
			s, err := openWarehouse(ctx, cfg, log)
			opened = s
			return s, err
		},
		now: clk.Now, after: clk.After,
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, cfg, log, hooks) }()

	conn := connect(t, dbURL)
	completed := func(n int) func() bool {
		return func() bool {
			var got int
			err := conn.QueryRow(t.Context(), `SELECT count(*) FROM affinity.sync_runs WHERE status = 'completed'`).Scan(&got)
			return err == nil && got >= n
		}
	}
	waitFor(t, "the run at start", completed(1)) // no complete pass yet: one at start
	clk.advanceTo(time.Date(2025, 3, 1, 1, 0, 0, 0, time.UTC))
	waitFor(t, "the 01:00 run", completed(2))
	clk.advanceTo(time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC))
	waitFor(t, "the 02:00 run", completed(3))
	cancel()
	require.NoError(t, <-done)

	require.Equal(t, int32(1), opens.Load(), "one store for the daemon's life")
	out := logs.String()
	require.Contains(t, out, "migration applied", "migrated at start")
	require.NotContains(t, out, "migrations up to date", "no run migrates again")
	require.Equal(t, 3, strings.Count(out, "msg=\"sync finished\""), out)
	require.Len(t, runRows(t, conn), 3)
	require.Error(t, opened.Ping(t.Context()), "the daemon closed its store when it stopped")
}

// TestDaemonRefreshesDeliveriesLeftQueued: a daemon answered deliveries 200 and was stopped
// (or killed) before their refreshes ran; the next daemon runs them as soon as it starts,
// one refresh per object.
func TestDaemonRefreshesDeliveriesLeftQueued(t *testing.T) {
	t.Parallel()
	const key = "queued-key"
	baseURL, fake := slowFake(t, key, 0)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL,
		"AFFINITY_WEBHOOK_TOKEN": "queued-token"}
	cfgPath := daemonConfig(t)
	code, _, stderr := runCLI(t, env, "--config", cfgPath, "sync")
	require.Equal(t, exitOK, code, stderr)

	// What the stopped daemon left: three deliveries answered and queued, two about one person.
	ws := fake.Snapshot()
	person, other := ws.Persons[0].ID, ws.Persons[1].ID
	name := "Changed while the daemon was down"
	fake.Mutate(func(w *affinitytest.Workspace) { w.Person(person).FirstName = &name })
	store, err := loader.Open(t.Context(), dbURL, "affinity", nil)
	require.NoError(t, err)
	for _, id := range []int64{person, other, person} {
		_, err := store.RecordDelivery(t.Context(), loader.WebhookDelivery{Type: "person.updated", ObjectID: &id,
			Body: fmt.Appendf(nil, `{"id": %d}`, id), Outcome: loader.DeliveryQueued})
		require.NoError(t, err)
	}
	store.Close()
	fake.ResetCounters()

	cfg, err := loadConfig(cfgPath, envOf(env), func(string) {})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runDaemon(ctx, cfg, slog.New(slog.DiscardHandler), daemonHooks{}) }()

	conn := connect(t, dbURL)
	waitFor(t, "the queued deliveries refreshed", func() bool {
		var left int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM affinity.sync_webhook_deliveries WHERE outcome <> 'refreshed'`).Scan(&left)
		return err == nil && left == 0
	})
	cancel()
	require.NoError(t, <-done)
	var got string
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT first_name FROM affinity.persons WHERE id = $1`, person).Scan(&got))
	require.Equal(t, name, got)
	require.Equal(t, 2, fake.Requests()["GET /persons/{id}"], "one refresh per object: %v", fake.Requests())
}
