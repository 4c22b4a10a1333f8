package loader_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
)

var (
	ledgerDay   = time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	ledgerMonth = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
)

// ledgerStores migrates a fresh database and opens n Stores on it, each with its own pool,
// as n replicas of the daemon would.
func ledgerStores(t *testing.T, schema string, n int) []*loader.Store {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
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

func requireSpent(t *testing.T, s *loader.Store, day, month time.Time, wantDay, wantMonth int64) {
	t.Helper()
	d, m, err := s.Spent(t.Context(), day, month)
	require.NoError(t, err)
	require.Equal(t, wantDay, d, "day count")
	require.Equal(t, wantMonth, m, "month count")
}

func TestLedgerReserveCaps(t *testing.T) {
	t.Parallel()
	s := ledgerStores(t, `ledger "caps"`, 1)[0]
	ctx := t.Context()

	requireSpent(t, s, ledgerDay, ledgerMonth, 0, 0)

	type step struct {
		n, dayCap, monthCap int64
		want                int64
		wantDay, wantMonth  int64
	}
	steps := []step{
		{n: 10, dayCap: 25, monthCap: 100, want: 10, wantDay: 10, wantMonth: 10},
		{n: 10, dayCap: 25, monthCap: 100, want: 10, wantDay: 20, wantMonth: 20},
		{n: 10, dayCap: 25, monthCap: 100, want: 5, wantDay: 25, wantMonth: 25},       // partial at the day's edge
		{n: 10, dayCap: 25, monthCap: 100, want: 0, wantDay: 25, wantMonth: 25},       // day spent
		{n: 10, dayCap: 0, monthCap: 30, want: 5, wantDay: 30, wantMonth: 30},         // no day cap; partial at the month's edge
		{n: 10, dayCap: 0, monthCap: 30, want: 0, wantDay: 30, wantMonth: 30},         // month spent
		{n: 10, dayCap: 20, monthCap: 0, want: 0, wantDay: 30, wantMonth: 30},         // a cap already passed grants nothing
		{n: 1000, dayCap: 0, monthCap: 0, want: 1000, wantDay: 1030, wantMonth: 1030}, // no caps at all
		{n: 0, dayCap: 0, monthCap: 0, want: 0, wantDay: 1030, wantMonth: 1030},
	}
	for i, st := range steps {
		got, err := s.Reserve(ctx, ledgerDay, ledgerMonth, st.n, st.dayCap, st.monthCap)
		require.NoError(t, err, "step %d", i)
		require.Equal(t, st.want, got, "step %d", i)
		requireSpent(t, s, ledgerDay, ledgerMonth, st.wantDay, st.wantMonth)
	}

	// Another day of the same month has its own day count but shares the month's.
	nextDay := ledgerDay.AddDate(0, 0, 1)
	got, err := s.Reserve(ctx, nextDay, ledgerMonth, 10, 25, 1035)
	require.NoError(t, err)
	require.Equal(t, int64(5), got, "the month's cap binds on the next day")
	requireSpent(t, s, nextDay, ledgerMonth, 5, 1035)
	requireSpent(t, s, ledgerDay, ledgerMonth, 1030, 1035)

	// Another month starts from zero.
	april, aprilDay := ledgerMonth.AddDate(0, 1, 0), ledgerMonth.AddDate(0, 1, 0)
	got, err = s.Reserve(ctx, aprilDay, april, 10, 25, 1035)
	require.NoError(t, err)
	require.Equal(t, int64(10), got)
	requireSpent(t, s, aprilDay, april, 10, 10)
}

func TestLedgerRelease(t *testing.T) {
	t.Parallel()
	s := ledgerStores(t, "ledger_release", 1)[0]
	ctx := t.Context()

	require.NoError(t, s.Release(ctx, ledgerDay, ledgerMonth, 5), "releasing with no rows is harmless")
	requireSpent(t, s, ledgerDay, ledgerMonth, 0, 0)

	got, err := s.Reserve(ctx, ledgerDay, ledgerMonth, 10, 10, 0)
	require.NoError(t, err)
	require.Equal(t, int64(10), got)
	require.NoError(t, s.Release(ctx, ledgerDay, ledgerMonth, 4))
	requireSpent(t, s, ledgerDay, ledgerMonth, 6, 6)

	got, err = s.Reserve(ctx, ledgerDay, ledgerMonth, 10, 10, 0)
	require.NoError(t, err)
	require.Equal(t, int64(4), got, "released requests can be reserved again")

	require.NoError(t, s.Release(ctx, ledgerDay, ledgerMonth, 0))
	requireSpent(t, s, ledgerDay, ledgerMonth, 10, 10)
	require.NoError(t, s.Release(ctx, ledgerDay, ledgerMonth, 25))
	requireSpent(t, s, ledgerDay, ledgerMonth, 0, 0)
}

func TestLedgerBadInput(t *testing.T) {
	t.Parallel()
	s := ledgerStores(t, "ledger_bad", 1)[0]
	ctx := t.Context()
	tests := []struct {
		name       string
		day, month time.Time
		n          int64
		wantErr    string
	}{
		{"month not the first", ledgerDay, ledgerDay, 1, "not the first of a month"},
		{"day outside the month", ledgerDay.AddDate(0, 1, 0), ledgerMonth, 1, "is not in month"},
		{"zero day", time.Time{}, ledgerMonth, 1, "zero"},
		{"negative count", ledgerDay, ledgerMonth, -1, "negative count"},
	}
	for _, tt := range tests {
		_, err := s.Reserve(ctx, tt.day, tt.month, tt.n, 0, 0)
		require.ErrorContains(t, err, tt.wantErr, tt.name)
		require.ErrorContains(t, s.Release(ctx, tt.day, tt.month, tt.n), tt.wantErr, tt.name)
		if tt.n >= 0 {
			_, _, err = s.Spent(ctx, tt.day, tt.month)
			require.ErrorContains(t, err, tt.wantErr, tt.name)
		}
	}
	requireSpent(t, s, ledgerDay, ledgerMonth, 0, 0)

	// A day given in another zone is read as its UTC date.
	berlin := time.FixedZone("CET", 3600)
	got, err := s.Reserve(ctx, ledgerDay.In(berlin), ledgerMonth.In(berlin), 3, 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), got)
	requireSpent(t, s, ledgerDay, ledgerMonth, 3, 3)
}

// TestLedgerReplicasNeverPassTheCap has two Stores (two pools, as two replicas) reserve
// from several goroutines each; together they must grant exactly the caps, never more.
func TestLedgerReplicasNeverPassTheCap(t *testing.T) {
	t.Parallel()
	stores := ledgerStores(t, "ledger_race", 2)
	ctx := t.Context()

	tests := []struct {
		name               string
		day                time.Time
		dayCap, monthCap   int64
		wantDay, wantMonth int64
	}{
		{"day cap binds", ledgerDay, 97, 0, 97, 97},
		{"month cap binds", ledgerDay.AddDate(0, 0, 1), 0, 97 + 53, 53, 97 + 53},
	}
	for _, tt := range tests {
		const workers, attempts, block = 4, 20, 7
		var (
			mu    sync.Mutex
			total int64
			wg    sync.WaitGroup
			errs  = make(chan error, len(stores)*workers*attempts)
		)
		for _, s := range stores {
			for range workers {
				wg.Go(func() {
					for range attempts {
						got, err := s.Reserve(ctx, tt.day, ledgerMonth, block, tt.dayCap, tt.monthCap)
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						total += got
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, tt.name)
		}
		// 2 stores × 4 workers × 20 attempts × 7 = 1120 asked, far more than either cap.
		require.Equal(t, tt.wantDay, total, tt.name)
		requireSpent(t, stores[1], tt.day, ledgerMonth, tt.wantDay, tt.wantMonth)
	}
}
