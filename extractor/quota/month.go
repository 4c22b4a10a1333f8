package quota

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The month's projection (docs/quota.md, "The month, projected"): what the ledger spent this
// month, plus what each scheduled job will spend by the month's end, against the month's
// allowance. plan --month, status, /metrics and the daemon's warning all read it from
// Budget.Month.

// RecentRuns is how many of a job's recorded runs its cost per run is the median of.
const RecentRuns = 7

// Schedule is when a job runs: the first activation after t, zero for none
// (robfig/cron's Schedule fits).
type Schedule interface {
	Next(t time.Time) time.Time
}

// MonthJob is one scheduled job of the month's projection.
type MonthJob struct {
	Name     string // the daemon's job: sync, changes
	Schedule Schedule
	// Streams are what a run of the job runs, to recognise its runs recorded without a job
	// (the sync command).
	Streams []string
	// Estimate is the planner's cost of one run, asked only when the job has no recorded run.
	Estimate func(ctx context.Context) (int64, error)
}

// RunHistory reads the requests of a job's recorded runs, newest first; *loader.Store
// implements it.
type RunHistory interface {
	JobRunRequests(ctx context.Context, job string, streams []string, n int) ([]int64, error)
}

// JobProjection is one job's part of the month's projection.
type JobProjection struct {
	Name     string
	RunsLeft int64 // activations of its schedule from now to the month's end
	PerRun   int64 // the median requests of its last RecentRuns runs, else the planner's estimate
	FromRuns int   // how many recorded runs PerRun is the median of; 0 = the planner's estimate
	Requests int64 // RunsLeft × PerRun
}

// MonthProjection is the month's spending, projected to its end.
type MonthProjection struct {
	Month time.Time // the UTC month (its first day)
	// Allowance is the month's allowance: quota.monthly_requests, else the monthly limit
	// Affinity reported this month; 0 = unknown. AllowanceFrom says which.
	Allowance     int64
	AllowanceFrom string
	// Usable is the allowance less the reserve (as the caps are shrunk); 0 = unknown.
	Usable    int64
	Spent     int64 // the ledger's count of the month so far
	Jobs      []JobProjection
	Projected int64 // Spent + each job's Requests
	// RunsOutOn is the UTC day on which the projection passes Usable; nil when it lasts the
	// month or the allowance is unknown.
	RunsOutOn *time.Time
}

// Exceeds says whether the projection passes the allowance less the reserve.
func (p MonthProjection) Exceeds() bool { return p.Usable > 0 && p.Projected > p.Usable }

// Month projects the month of now to its end: the ledger's count so far, plus, for each job,
// the runs its schedule has left this month times its cost per run.
func (b *Budget) Month(ctx context.Context, runs RunHistory, jobs []MonthJob) (MonthProjection, error) {
	now := b.now().UTC()
	day, month := Periods(now)
	_, spent, err := b.ledger.Spent(ctx, day, month)
	if err != nil {
		return MonthProjection{}, fmt.Errorf("project the month: read the ledger: %w", err)
	}
	b.mu.Lock()
	allowance, from := b.allowance(month)
	b.mu.Unlock()
	p := MonthProjection{Month: month, Allowance: allowance, AllowanceFrom: from, Usable: shrink(allowance, b.limits.Reserve),
		Spent: spent, Projected: spent, Jobs: []JobProjection{}}
	end := nextMonth(month)
	type activation struct {
		at   time.Time
		cost int64
	}
	var acts []activation
	for _, j := range jobs {
		jp := JobProjection{Name: j.Name}
		recent, err := runs.JobRunRequests(ctx, j.Name, j.Streams, RecentRuns)
		if err != nil {
			return MonthProjection{}, fmt.Errorf("project the month: %w", err)
		}
		if len(recent) > 0 {
			jp.PerRun, jp.FromRuns = Median(recent), len(recent)
		} else if j.Estimate != nil {
			if jp.PerRun, err = j.Estimate(ctx); err != nil {
				return MonthProjection{}, fmt.Errorf("project the month: estimate a %s run: %w", j.Name, err)
			}
		}
		for t := j.Schedule.Next(now); !t.IsZero() && t.Before(end); t = j.Schedule.Next(t) {
			jp.RunsLeft++
			acts = append(acts, activation{t, jp.PerRun})
		}
		jp.Requests = jp.RunsLeft * jp.PerRun
		p.Projected += jp.Requests
		p.Jobs = append(p.Jobs, jp)
	}
	if p.Usable == 0 {
		return p, nil
	}
	slices.SortStableFunc(acts, func(a, b activation) int { return a.at.Compare(b.at) })
	total, runsOut := spent, time.Time{}
	if total > p.Usable {
		runsOut = now
	}
	for _, a := range acts {
		if !runsOut.IsZero() {
			break
		}
		if total += a.cost; total > p.Usable {
			runsOut = a.at
		}
	}
	if !runsOut.IsZero() {
		d, _ := Periods(runsOut)
		p.RunsOutOn = &d
	}
	return p, nil
}

// Median is the median of counts: the middle one, or the mean of the two middle ones rounded
// up; 0 for none.
func Median(counts []int64) int64 {
	if len(counts) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(counts))
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid] + 1) / 2
}
