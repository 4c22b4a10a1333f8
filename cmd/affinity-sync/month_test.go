package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// monthRun is a run row the month's tests record.
type monthRun struct {
	job      string // "" = a run of the sync command
	status   string
	streams  []string
	requests int64
}

// monthFixture is a warehouse with a known month: the ledger spent 8,000 requests this month,
// and sync_runs holds runs of both jobs, of the sync command, and runs that do not count.
type monthFixture struct {
	env     map[string]string
	cfg     string
	now     time.Time
	spent   int64
	runs    []monthRun // oldest first
	usable  int64      // 10,000 less the 0.1 reserve
	syncDay string     // schedule.sync and .changes, as configured
	changes string
}

func newMonthFixture(t *testing.T) monthFixture {
	t.Helper()
	all := extractor.NamesOf(extractor.Streams())
	changes := extractor.NamesOf(changesStreams)
	f := monthFixture{
		env:     map[string]string{"DATABASE_URL": pgtest.NewDatabase(t)},
		now:     time.Date(2027, 3, 22, 12, 0, 0, 0, time.UTC),
		spent:   8000,
		usable:  9000,
		syncDay: "0 2 * * *",
		changes: "0 */6 * * *",
		runs: []monthRun{
			{"sync", "completed", all, 5000}, // older than the 7 newest sync runs
			{"sync", "completed", all, 300},
			{"", "completed", all, 100},                            // the sync command, every stream: sync
			{"changes", "partial", changes, 12},                    //
			{"sync", "budget_spent", all, 7},                       // stopped early: not a cost per run
			{"sync", "failed", all, 3},                             // failed: not a cost per run
			{"sync", "completed", all, 200},                        //
			{"", "partial", changes, 14},                           // the sync command, the changes streams: changes
			{"", "partial", []string{"persons"}, 999},              // neither job
			{"sync", "completed", all, 999},                        //
			{"changes", "partial", changes, 10},                    //
			{"sync", "completed", all, 50},                         //
			{"sync", "completed", all, 200},                        //
			{"sync", "completed", all, 250},                        //
			{"", "running", all, 4000},                             // still running
			{"changes", "partial", []string{"field_values"}, 2000}, // recorded as changes: counts whatever ran
		},
	}
	f.cfg = writeFile(t, "config.yaml", fmt.Sprintf("quota:\n  monthly_requests: 10000\n  reserve: 0.1\n  daily_requests: 0\n"+
		"schedule:\n  sync: %q\n  changes: %q\n", f.syncDay, f.changes), 0o600)
	code, _, stderr := runCLIAt(t, f.now, f.env, "--config", f.cfg, "migrate", "up")
	require.Equal(t, exitOK, code, stderr)
	store := openStore(t, f.env)
	day, month := quota.Periods(f.now)
	_, err := store.Reserve(t.Context(), day.AddDate(0, 0, -4), month, f.spent-25, 0, 0)
	require.NoError(t, err)
	_, err = store.Reserve(t.Context(), day, month, 25, 0, 0)
	require.NoError(t, err)
	conn := connect(t, f.env["DATABASE_URL"])
	for i, r := range f.runs {
		var job *string
		if r.job != "" {
			job = &r.job
		}
		started := f.now.Add(time.Duration(i-len(f.runs)) * time.Hour)
		_, err := conn.Exec(t.Context(), `INSERT INTO affinity.sync_runs (started_at, ended_at, status, streams, requests, job)
			VALUES ($1::timestamptz, CASE WHEN $2::text = 'running' THEN NULL ELSE $1::timestamptz + interval '1 minute' END, $2::text, $3, $4, $5)`,
			started, r.status, r.streams, r.requests, job)
		require.NoError(t, err)
	}
	return f
}

// perRun is the median requests of the newest 7 runs that belong to job and did all their
// work, computed from the fixture's rows.
func (f monthFixture) perRun(job string, streams []string) (int64, int) {
	var recent []int64
	for i := len(f.runs) - 1; i >= 0 && len(recent) < 7; i-- {
		r := f.runs[i]
		if r.status != "completed" && r.status != "partial" {
			continue
		}
		if r.job == job || r.job == "" && slices.Equal(slices.Sorted(slices.Values(r.streams)), slices.Sorted(slices.Values(streams))) {
			recent = append(recent, r.requests)
		}
	}
	slices.Sort(recent)
	n := len(recent)
	if n%2 == 1 {
		return recent[n/2], n
	}
	return (recent[n/2-1] + recent[n/2] + 1) / 2, n
}

// expectation is what plan --month and status must say, computed from the fixture's rows and
// the schedules: nightly at 02:00 runs on the 23rd to the 31st; every six hours runs at
// 18:00 on the 22nd and four times on each later day.
type expectation struct {
	syncPerRun, changesPerRun int64
	syncFrom, changesFrom     int
	syncLeft, changesLeft     int64
	projected                 int64
	runsOutOn                 string // "" = lasts the month
}

func (f monthFixture) expect() expectation {
	var e expectation
	e.syncPerRun, e.syncFrom = f.perRun(jobSync, extractor.NamesOf(extractor.Streams()))
	e.changesPerRun, e.changesFrom = f.perRun(jobChanges, extractor.NamesOf(changesStreams))
	e.syncLeft, e.changesLeft = 31-22, 1+4*(31-22)
	e.projected = f.spent + e.syncLeft*e.syncPerRun + e.changesLeft*e.changesPerRun
	total := f.spent
	for d := 22; d <= 31; d++ {
		if d == 22 {
			total += e.changesPerRun
		} else {
			total += e.syncPerRun + 4*e.changesPerRun
		}
		if total > f.usable {
			e.runsOutOn = fmt.Sprintf("2027-03-%02d", d)
			break
		}
	}
	return e
}

// TestPlanMonth: plan --month prints the allowance, the ledger's month, each job's runs left
// times the median of its last 7 runs, the projection and the day it runs out.
func TestPlanMonth(t *testing.T) {
	t.Parallel()
	f := newMonthFixture(t)
	e := f.expect()
	require.NotEmpty(t, e.runsOutOn, "the fixture runs out within the month")
	require.Equal(t, 7, e.syncFrom)
	require.Equal(t, 4, e.changesFrom)

	code, out, stderr := runCLIAt(t, f.now, f.env, "--config", f.cfg, "plan", "--month")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "month 2027-03 (UTC), 10 days left, today included\n")
	require.Contains(t, out, "allowance: 10000 (quota.monthly_requests), 9000 after the reserve\n")
	require.Contains(t, out, fmt.Sprintf("spent this month: %d (the ledger)\n", f.spent))
	require.Regexp(t, fmt.Sprintf(`(?m)^sync\s+%s\s+%d\s+%d\s+median of the last %d runs\s+%d$`,
		regexp.QuoteMeta(f.syncDay), e.syncLeft, e.syncPerRun, e.syncFrom, e.syncLeft*e.syncPerRun), out)
	require.Regexp(t, fmt.Sprintf(`(?m)^changes\s+%s\s+%d\s+%d\s+median of the last %d runs\s+%d$`,
		regexp.QuoteMeta(f.changes), e.changesLeft, e.changesPerRun, e.changesFrom, e.changesLeft*e.changesPerRun), out)
	require.Contains(t, out, fmt.Sprintf("projected by the month's end: %d of %d (the allowance less the reserve)\n", e.projected, f.usable))
	require.Contains(t, out, "runs out on "+e.runsOutOn+"\n")
	// The month's pace: (9000 − 7975 spent before today) / 10 days left.
	require.Contains(t, out, fmt.Sprintf("today's cap is the month's pace (quota.pace: month): %d, %d left\n", (f.usable-(f.spent-25))/10, (f.usable-(f.spent-25))/10-25))

	// A bigger allowance lasts the month.
	big := writeFile(t, "big.yaml", fmt.Sprintf("quota:\n  monthly_requests: 1000000\nschedule:\n  sync: %q\n  changes: %q\n", f.syncDay, f.changes), 0o600)
	code, out, stderr = runCLIAt(t, f.now, f.env, "--config", big, "plan", "--month")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "\nlasts the month\n")

	// Without an allowance and before any run: the planner's estimate, and no run-out day.
	fresh := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t)}
	none := writeFile(t, "none.yaml", "schedule:\n  changes: \"\"\n", 0o600)
	code, out, stderr = runCLIAt(t, f.now, fresh, "--config", none, "plan", "--month")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "allowance: unknown")
	require.Regexp(t, `(?m)^sync\s+0 2 \* \* \*\s+9\s+\d+\s+the planner's estimate \(no run recorded\)\s+\d+$`, out)
	require.NotContains(t, out, "\nchanges ")
	require.Contains(t, out, "run-out day unknown")
}

// TestStatusMonth: status prints the month's line and status --json its object, the same
// projection plan --month prints.
func TestStatusMonth(t *testing.T) {
	t.Parallel()
	f := newMonthFixture(t)
	e := f.expect()
	code, out, stderr := runCLIAt(t, f.now, f.env, "--config", f.cfg, "status")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, fmt.Sprintf("month 2027-03 (UTC): allowance 10000 (quota.monthly_requests), 9000 after the reserve; "+
		"%d spent, %d projected by the month's end; runs out on %s\n", f.spent, e.projected, e.runsOutOn))

	code, out, stderr = runCLIAt(t, f.now, f.env, "--config", f.cfg, "status", "--json")
	require.Equal(t, exitOK, code, stderr)
	var raw struct {
		Month map[string]any `json:"month"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	for _, key := range []string{"allowance", "spent", "projected", "runs_out_on"} {
		require.Contains(t, raw.Month, key, "the JSON key is part of the contract")
	}
	var rep statusReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	runsOut := e.runsOutOn
	require.Equal(t, statusMonth{Month: "2027-03", Allowance: 10000, AllowanceFrom: "quota.monthly_requests", Usable: f.usable,
		Spent: f.spent, Projected: e.projected, RunsOutOn: &runsOut, Jobs: []statusMonthJob{
			{Job: "sync", RunsLeft: e.syncLeft, PerRun: e.syncPerRun, FromRuns: e.syncFrom, Requests: e.syncLeft * e.syncPerRun},
			{Job: "changes", RunsLeft: e.changesLeft, PerRun: e.changesPerRun, FromRuns: e.changesFrom, Requests: e.changesLeft * e.changesPerRun},
		}}, rep.Month)
	require.True(t, rep.Budget.DayPaced)
}
