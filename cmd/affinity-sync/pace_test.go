package main

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// runCLIAt is runCLI on a fixed clock: the budget's day and month, and the month's
// projection, are taken from now.
func runCLIAt(t *testing.T, now time.Time, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = runAt(t.Context(), args, &out, &errOut, envOf(env), func() time.Time { return now })
	return code, out.String(), errOut.String()
}

// openStore opens the migrated warehouse of env (schema affinity).
func openStore(t *testing.T, env map[string]string) *loader.Store {
	t.Helper()
	store, err := loader.Open(t.Context(), env["DATABASE_URL"], "affinity", nil)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	return store
}

// TestSyncPacedToTheMonth: quota.monthly_requests 10,000, reserve 0.1, 8,000 spent this month
// before today, 10 days left in the month (the 22nd of March): the daily cap in effect is
// (9,000 − 8,000) / 10 = 100, so a first sync, which needs more, spends exactly 100 requests
// and exits 3 naming the month's pace; with quota.pace: off the cap is daily_requests after
// the reserve (180).
func TestSyncPacedToTheMonth(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 3, 22, 14, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		pace    string
		wantCap int64
		reason  string
	}{
		{"month", 100, "today's even share of the month's allowance left (100 of 100 used"},
		{"off", 180, "180 of 180 requests of today (UTC) used"},
	} {
		t.Run(tt.pace, func(t *testing.T) {
			t.Parallel()
			// 150 organizations: on v1 their details alone cost 150 requests, so a first sync
			// needs more than either cap.
			wcfg := affinitytest.DefaultConfig()
			wcfg.Persons, wcfg.Organizations, wcfg.Opportunities, wcfg.EntriesPerList = 30, 150, 6, 8
			key := "pace-key-" + tt.pace
			fake := affinitytest.NewServer(affinitytest.Generate(wcfg), affinitytest.WithAPIKey(key))
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": srv.URL, "DATABASE_URL": pgtest.NewDatabase(t)}
			cfg := writeFile(t, "config.yaml", "affinity:\n  api_v2: off\nquota:\n  per_minute: 0\n  daily_requests: 200\n"+
				"  monthly_requests: 10000\n  reserve: 0.1\n  pace: "+tt.pace+"\n", 0o600)
			code, _, stderr := runCLIAt(t, now, env, "--config", cfg, "migrate", "up")
			require.Equal(t, exitOK, code, stderr)
			store := openStore(t, env)
			day, month := quota.Periods(now)
			got, err := store.Reserve(t.Context(), day.AddDate(0, 0, -9), month, 8000, 0, 0)
			require.NoError(t, err)
			require.Equal(t, int64(8000), got)

			code, out, _ := runCLIAt(t, now, env, "--config", cfg, "status")
			require.Equal(t, exitOK, code)
			if tt.pace == "month" {
				require.Contains(t, out, "requests today (UTC): 0 spent, cap 100 (the month's pace), 100 left")
			} else {
				require.Contains(t, out, "requests today (UTC): 0 spent, cap 180, 180 left")
			}

			code, _, stderr = runCLIAt(t, now, env, "--config", cfg, "sync")
			require.Equal(t, exitBudgetSpent, code, stderr)
			require.Contains(t, stderr, tt.reason)
			dayUsed, monthUsed, err := store.Spent(t.Context(), day, month)
			require.NoError(t, err)
			require.Equal(t, tt.wantCap, dayUsed, "the ledger counts the day's cap, no more")
			require.Equal(t, 8000+tt.wantCap, monthUsed)
			require.Equal(t, int(tt.wantCap), fake.TotalRequests(), "what Affinity answered is what the ledger counts")
			runs, err := store.RecentRuns(t.Context(), 1)
			require.NoError(t, err)
			require.Equal(t, statusBudgetSpent, runs[0].Status)
			require.Equal(t, tt.wantCap, runs[0].Requests)
		})
	}
}
