package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/schedule"
)

// Scheduled jobs of the daemon (schedule.sync and schedule.changes); sync_runs.job records them.
const (
	jobSync    = "sync"
	jobChanges = "changes"
)

// estimator is the planner's cost of one run: its streams, and its job (a changes run
// refreshes no stale value and sends no workspace check, changesRun).
type estimator func(ctx context.Context, run syncOptions) (int64, error)

// monthJobs are the daemon's scheduled jobs as the month's projection takes them: sync, and
// changes when it is scheduled and any of its streams is enabled — as runDaemon schedules
// them. A run of the sync command counts as sync when it ran every enabled stream and as
// changes when it ran exactly the changes streams (loader.JobRunRequests).
func monthJobs(cfg Config, estimate estimator) ([]quota.MonthJob, error) {
	streams := configuredStreams(cfg.Sync.Streams)
	job := func(name, spec string, streams []extractor.StreamName) (quota.MonthJob, error) {
		sched, err := schedule.ParseSpec(spec)
		if err != nil {
			return quota.MonthJob{}, usagef("schedule.%s: %q: %v", name, spec, err)
		}
		run := syncOptions{streams: streams, partial: name != jobSync, job: name}
		return quota.MonthJob{Name: name, Schedule: sched, Streams: extractor.NamesOf(streams),
			Estimate: func(ctx context.Context) (int64, error) { return estimate(ctx, run) }}, nil
	}
	sync, err := job(jobSync, cfg.Schedule.Sync, streams)
	if err != nil {
		return nil, err
	}
	jobs := []quota.MonthJob{sync}
	if changes := changesJobStreams(streams); cfg.Schedule.Changes != "" && len(changes) > 0 {
		c, err := job(jobChanges, cfg.Schedule.Changes, changes)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, c)
	}
	return jobs, nil
}

// warehouseEstimator estimates a run from what the warehouse knows, as plan does.
func warehouseEstimator(cfg Config, store *loader.Store, now func() time.Time) estimator {
	return func(ctx context.Context, run syncOptions) (int64, error) {
		listIDs, err := chosenListIDs(ctx, store, cfg)
		if err != nil {
			return 0, err
		}
		t := now()
		stale, unlistedStale := t.Add(-cfg.Sync.ValuesMaxAge), t.Add(-cfg.Sync.UnlistedValuesMaxAge)
		if changesRun(run) {
			stale, unlistedStale = time.Time{}, time.Time{} // a changes run refreshes no stale value
		}
		counts, err := warehouseCounts(ctx, store, cfg, t, stale, unlistedStale, listIDs)
		if err != nil {
			return 0, err
		}
		return countsEstimator(cfg, counts)(ctx, run)
	}
}

// countsEstimator estimates a run from counts the caller already has.
func countsEstimator(cfg Config, counts loader.PlanCounts) estimator {
	return func(_ context.Context, run syncOptions) (int64, error) {
		o := cfg.costOptions()
		o.TrustWorkspace = changesRun(run)
		items, err := extractor.Plan(counts, run.streams, o)
		if err != nil {
			return 0, err
		}
		return planTotal(items), nil
	}
}

// projectMonth is the month's projection of the configured schedule (quota.Budget.Month).
func projectMonth(ctx context.Context, cfg Config, budget *quota.Budget, store *loader.Store, estimate estimator) (quota.MonthProjection, error) {
	jobs, err := monthJobs(cfg, estimate)
	if err != nil {
		return quota.MonthProjection{}, err
	}
	return budget.Month(ctx, store, jobs)
}

// statusMonth is the month's projection as status --json prints it.
type statusMonth struct {
	Month         string `json:"month"`          // 2027-03 (UTC)
	Allowance     int64  `json:"allowance"`      // 0 = unknown
	AllowanceFrom string `json:"allowance_from"` // quota.monthly_requests, Affinity, or ""
	Usable        int64  `json:"usable"`         // the allowance less the reserve; 0 = unknown
	Spent         int64  `json:"spent"`
	Projected     int64  `json:"projected"`
	// RunsOutOn is the UTC day the projection passes the allowance less the reserve; null
	// when it lasts the month or the allowance is unknown.
	RunsOutOn *string          `json:"runs_out_on"`
	Jobs      []statusMonthJob `json:"jobs"`
}

type statusMonthJob struct {
	Job      string `json:"job"`
	RunsLeft int64  `json:"runs_left"`
	PerRun   int64  `json:"per_run"`
	FromRuns int    `json:"from_runs"` // 0 = the planner's estimate
	Requests int64  `json:"requests"`
}

func newStatusMonth(p quota.MonthProjection) statusMonth {
	m := statusMonth{Month: p.Month.Format("2006-01"), Allowance: p.Allowance, AllowanceFrom: p.AllowanceFrom, Usable: p.Usable,
		Spent: p.Spent, Projected: p.Projected, Jobs: []statusMonthJob{}}
	if p.RunsOutOn != nil {
		d := p.RunsOutOn.Format(time.DateOnly)
		m.RunsOutOn = &d
	}
	for _, j := range p.Jobs {
		m.Jobs = append(m.Jobs, statusMonthJob{Job: j.Name, RunsLeft: j.RunsLeft, PerRun: j.PerRun, FromRuns: j.FromRuns, Requests: j.Requests})
	}
	return m
}

// monthLine is the month's projection in one line, as status prints it.
func monthLine(p quota.MonthProjection) string {
	allowance := "allowance unknown (set quota.monthly_requests)"
	if p.Allowance > 0 {
		allowance = fmt.Sprintf("allowance %d (%s), %d after the reserve", p.Allowance, p.AllowanceFrom, p.Usable)
	}
	return fmt.Sprintf("month %s (UTC): %s; %d spent, %d projected by the month's end; %s",
		p.Month.Format("2006-01"), allowance, p.Spent, p.Projected, runsOutText(p))
}

// runsOutText says when the allowance runs out, if it does.
func runsOutText(p quota.MonthProjection) string {
	switch {
	case p.Usable == 0:
		return "run-out day unknown"
	case p.RunsOutOn != nil:
		return "runs out on " + p.RunsOutOn.Format(time.DateOnly)
	}
	return "lasts the month"
}

// printMonth prints the month's projection as plan --month does.
func printMonth(out io.Writer, cfg Config, p quota.MonthProjection, st quota.Status, now time.Time) error {
	fmt.Fprintf(out, "month %s (UTC), %d days left, today included\n", p.Month.Format("2006-01"), quota.DaysLeft(now))
	switch p.AllowanceFrom {
	case quota.AllowanceFromConfig:
		fmt.Fprintf(out, "allowance: %d (quota.monthly_requests), %d after the reserve\n", p.Allowance, p.Usable)
	case quota.AllowanceFromServer:
		fmt.Fprintf(out, "allowance: %d (the monthly limit Affinity reports), %d after the reserve\n", p.Allowance, p.Usable)
	default:
		fmt.Fprintln(out, "allowance: unknown (quota.monthly_requests is 0 and Affinity reported no monthly limit)")
	}
	fmt.Fprintf(out, "spent this month: %d (the ledger)\n", p.Spent)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSCHEDULE\tRUNS LEFT\tPER RUN\tFROM\tREQUESTS")
	for _, j := range p.Jobs {
		spec := cfg.Schedule.Sync
		if j.Name == jobChanges {
			spec = cfg.Schedule.Changes
		}
		from := "the planner's estimate (no run recorded)"
		if j.FromRuns > 0 {
			from = fmt.Sprintf("median of the last %d runs", j.FromRuns)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\n", j.Name, spec, j.RunsLeft, j.PerRun, from, j.Requests)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p.Usable > 0 {
		fmt.Fprintf(out, "projected by the month's end: %d of %d (the allowance less the reserve)\n", p.Projected, p.Usable)
	} else {
		fmt.Fprintf(out, "projected by the month's end: %d\n", p.Projected)
	}
	fmt.Fprintln(out, runsOutText(p))
	if st.DayPaced {
		fmt.Fprintf(out, "today's cap is the month's pace (quota.pace: month): %d, %d left\n", st.DayCap, st.DayLeft)
	}
	return nil
}

// warnMonth logs a warning when the month's projection passes the allowance less the reserve.
func warnMonth(log *slog.Logger, p quota.MonthProjection) {
	if !p.Exceeds() {
		return
	}
	args := []any{"month", p.Month.Format("2006-01"), "projected", p.Projected, "allowance_less_reserve", p.Usable, "spent", p.Spent}
	if p.RunsOutOn != nil {
		args = append(args, "runs_out_on", p.RunsOutOn.Format(time.DateOnly))
	}
	log.Warn("the schedule's projected requests exceed the month's allowance less the reserve: the month's pace will hold back the rolling refresh (see plan --month)", args...)
}
