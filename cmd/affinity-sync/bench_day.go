package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
)

// bench --day (docs/benchmarks.md) simulates, without waiting, a day of the default schedule
// on the benchmark workspace after its first pass: the nightly pass with every value due
// again, one changes run with nothing changed, and --change-runs changes runs with --trickle
// changed values each, 30 simulated minutes apart. Each api_v2 mode's day
// runs in a child process (bench-day, bench_day_child.go) on one simulated clock shared by
// its fake, its extractor and its budget.

// monthAllowance is the monthly allowance of common Affinity plans the day is projected against.
const monthAllowance = 100_000

// benchDayOptions are the flags of bench --day.
type benchDayOptions struct {
	on         bool
	trickle    int
	changeRuns int
	json       bool
}

func (d *benchDayOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.on, "day", false, "simulate a day of the default schedule after the first pass instead of the passes")
	fs.IntVar(&d.trickle, "trickle", 10, "with --day: tracked values changed before each changes run")
	fs.IntVar(&d.changeRuns, "change-runs", 48, "with --day: changes runs with a trickle of changes")
	fs.BoolVar(&d.json, "json", false, "with --day: print one JSON object per api_v2 setting on stdout (the tables go to stderr)")
}

// check refuses --day's flags without --day, and the flags --day has no use for.
func (d benchDayOptions) check(o benchOptions) error {
	if !d.on {
		if d.json || d.trickle != 10 || d.changeRuns != 48 {
			return usagef("bench: --json, --trickle and --change-runs go with --day")
		}
		return nil
	}
	switch {
	case d.trickle < 0 || d.changeRuns < 0:
		return usagef("bench: --trickle and --change-runs must not be negative")
	case o.latency > 0:
		return usagef("bench: --day simulates its time: --latency does not apply")
	}
	return nil
}

// benchDaySummary is one setting's day in the shape of bench --day --json.
type benchDaySummary struct {
	APIV2                  APIV2Mode `json:"api_v2"`
	FullPassRequests       int64     `json:"full_pass_requests"`
	QuietChangeRunRequests int64     `json:"quiet_change_run_requests"`
	ChangeRuns             int       `json:"change_runs"`
	ChangeRunRequests      int64     `json:"change_run_requests"`
	ChangedEntities        int       `json:"changed_entities"`
	DayRequests            int64     `json:"day_requests"`
	MonthRequests          int64     `json:"month_requests"`
	ChangesMade            int       `json:"changes_made"`
	ChangesStored          int64     `json:"changes_stored"`
}

func (r benchDayReport) summary() benchDaySummary {
	s := benchDaySummary{APIV2: r.Mode, FullPassRequests: r.Full.Requests, QuietChangeRunRequests: r.Quiet.Requests,
		ChangeRuns: len(r.Trickle), ChangedEntities: r.ChangedEntities, ChangesMade: r.ChangesMade, ChangesStored: r.ChangesStored}
	for _, t := range r.Trickle {
		s.ChangeRunRequests += t.Requests
	}
	s.DayRequests = s.FullPassRequests + s.QuietChangeRunRequests + s.ChangeRunRequests
	s.MonthRequests = 30 * s.DayRequests
	return s
}

// runBenchDay runs each mode's day in a child process of its own, in a warehouse of its own
// on dbURL, and prints them side by side.
func runBenchDay(ctx context.Context, e env, o benchOptions, start selfStarter, dbURL string) error {
	schema := fmt.Sprintf("bench_day_%d", time.Now().UnixNano())
	reports := make([]benchDayReport, 0, len(o.modes))
	for _, mode := range o.modes {
		args := append([]string{benchDayCommand, "--schema", schema + "_" + string(mode), "--api-v2", string(mode),
			"--per-minute", strconv.Itoa(o.perMinute), "--trickle", strconv.Itoa(o.day.trickle),
			"--change-runs", strconv.Itoa(o.day.changeRuns), "--log-level", o.logLevel}, o.workspaceArgs()...)
		if o.cpuProfile != "" {
			args = append(args, "--cpuprofile", o.cpuProfile+"."+string(mode))
		}
		var r benchDayReport
		if err := runBenchChild(ctx, start, args, dbURL, e.stderr, &r); err != nil {
			return fmt.Errorf("bench --day api_v2 %s: day child: %w", mode, err)
		}
		reports = append(reports, r)
	}
	out := e.stdout
	if o.day.json {
		enc := json.NewEncoder(e.stdout)
		for _, r := range reports {
			if err := enc.Encode(r.summary()); err != nil {
				return err
			}
		}
		out = e.stderr
	}
	printDay(out, o, reports)
	return nil
}

// printDay prints the days side by side: requests by job and stream (path, v1 and v2), each
// changes run, what the fake served the changes runs by endpoint, the day, the month, and the
// targets of api_v2 auto.
func printDay(out io.Writer, o benchOptions, reports []benchDayReport) {
	r0 := reports[0]
	fmt.Fprintf(out, "\nbench --day: the nightly pass at %s (simulated, a day after the first pass, every value due), "+
		"1 quiet changes run, %d changes runs with %d changed values each, %s apart\n",
		r0.Start.Format(time.RFC3339), len(r0.Trickle), o.day.trickle, benchDayInterval)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "JOB / STREAM\t"
	for _, r := range reports {
		header += fmt.Sprintf("%[1]s PATH\t%[1]s REQUESTS\t%[1]s V1\t%[1]s V2\t", r.Mode)
	}
	fmt.Fprintln(tw, header)
	job := func(title string, runs func(r benchDayReport) []dayRunReport) {
		line := title + "\t"
		for _, r := range reports {
			line += fmt.Sprintf("\t%d\t\t\t", total(runs(r)))
		}
		fmt.Fprintln(tw, line)
		for _, name := range streamNames(runs(r0)) {
			line := "  " + name + "\t"
			for _, r := range reports {
				s := sumStream(runs(r), name)
				line += fmt.Sprintf("%s\t%d\t%d\t%d\t", s.Path, s.Requests, s.Requests-s.V2Pages, s.V2Pages)
			}
			fmt.Fprintln(tw, line)
		}
	}
	job("nightly full pass", func(r benchDayReport) []dayRunReport { return []dayRunReport{r.Full} })
	job("quiet changes run", func(r benchDayReport) []dayRunReport { return []dayRunReport{r.Quiet} })
	job(fmt.Sprintf("%d trickle changes runs", len(r0.Trickle)), func(r benchDayReport) []dayRunReport { return r.Trickle })
	maxLine := "  max per run\t"
	for _, r := range reports {
		maxLine += fmt.Sprintf("\t%d\t\t\t", maxRun(r.Trickle))
	}
	fmt.Fprintln(tw, maxLine)
	_ = tw.Flush()

	printDayRuns(out, reports)
	for _, r := range reports {
		fmt.Fprintf(out, "served to the changes runs, api_v2 %s: quiet run %s; %d trickle runs %s\n",
			r.Mode, endpointText(r.Quiet.Endpoints), len(r.Trickle), endpointText(sumEndpoints(r.Trickle)))
	}
	fmt.Fprintln(out)
	for _, r := range reports {
		s := r.summary()
		fmt.Fprintf(out, "api_v2 %s: day %d requests (nightly %d + quiet %d + changes runs %d); month (day × 30) %d, %.0f %% of %d; "+
			"changes made %d, stored %d; %d entities changed\n",
			r.Mode, s.DayRequests, s.FullPassRequests, s.QuietChangeRunRequests, s.ChangeRunRequests, s.MonthRequests,
			100*float64(s.MonthRequests)/monthAllowance, monthAllowance, s.ChangesMade, s.ChangesStored, s.ChangedEntities)
	}
	for _, r := range reports {
		if r.Mode == APIV2Auto {
			printDayTargets(out, o, r)
		}
	}
}

// printDayRuns prints each trickle run: its simulated time, the changes made before it and
// the entities they changed, and each mode's requests.
func printDayRuns(out io.Writer, reports []benchDayReport) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "\nRUN\tAT (SIMULATED)\tMADE\tENTITIES\t"
	for _, r := range reports {
		header += string(r.Mode) + " REQUESTS\t"
	}
	fmt.Fprintln(tw, header)
	for i, t := range reports[0].Trickle {
		line := fmt.Sprintf("%d\t%s\t%d\t%d\t", i+1, t.At.Format("01-02 15:04"), t.Made, t.Entities)
		for _, r := range reports {
			line += fmt.Sprintf("%d\t", r.Trickle[i].Requests)
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
}

// printDayTargets checks the day of api_v2 auto against its targets (docs/benchmarks.md,
// stated at scale 1): a quiet changes run ≤ 2 requests, a trickle run ≤ 3 + one per changed
// entity, the day ≤ 1,700 + one per changed entity, every change made stored once.
func printDayTargets(out io.Writer, o benchOptions, r benchDayReport) {
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT MET"
	}
	s := r.summary()
	this := fmt.Sprintf("scale %g", o.scale)
	if o.workspace != "issue" {
		this = "the fake's default workspace"
	}
	fmt.Fprintf(out, "targets, api_v2 auto (stated at scale 1; this is %s):\n", this)
	fmt.Fprintf(out, "  quiet changes run ≤ 2 requests: %d, %s\n", s.QuietChangeRunRequests, met(s.QuietChangeRunRequests <= 2))
	var over []string
	for i, t := range r.Trickle {
		if t.Requests > int64(3+t.Entities) {
			over = append(over, fmt.Sprintf("run %d: %d > 3 + %d (%s)", i+1, t.Requests, t.Entities, endpointText(t.Endpoints)))
		}
	}
	fmt.Fprintf(out, "  each trickle run ≤ 3 + its changed entities: %s", met(len(over) == 0))
	if len(over) > 0 {
		fmt.Fprintf(out, ": %s", strings.Join(over, "; "))
	}
	fmt.Fprintln(out)
	dayTarget := int64(1700 + s.ChangedEntities)
	fmt.Fprintf(out, "  day ≤ 1,700 + changed entities (%d) = %d: %d, %s\n", s.ChangedEntities, dayTarget, s.DayRequests,
		met(s.DayRequests <= dayTarget))
	fmt.Fprintf(out, "  every change made stored exactly once: %d of %d, %s\n", s.ChangesStored, s.ChangesMade,
		met(s.ChangesStored == int64(s.ChangesMade)))
}

func total(runs []dayRunReport) int64 {
	var n int64
	for _, r := range runs {
		n += r.Requests
	}
	return n
}

func maxRun(runs []dayRunReport) int64 {
	var n int64
	for _, r := range runs {
		n = max(n, r.Requests)
	}
	return n
}

// streamNames are the streams of runs, in the order they first appear.
func streamNames(runs []dayRunReport) []string {
	var names []string
	for _, r := range runs {
		for _, s := range r.Streams {
			if !slices.Contains(names, s.Stream) {
				names = append(names, s.Stream)
			}
		}
	}
	return names
}

// sumStream adds up a stream over runs; its path lists the paths the runs took, in order.
func sumStream(runs []dayRunReport, name string) dayStream {
	sum := dayStream{Stream: name}
	var paths []string
	for _, r := range runs {
		for _, s := range r.Streams {
			if s.Stream != name {
				continue
			}
			if !slices.Contains(paths, s.Path) {
				paths = append(paths, s.Path)
			}
			sum.Requests += s.Requests
			sum.V2Pages += s.V2Pages
			sum.ProbeRequests += s.ProbeRequests
			sum.EntityRequests += s.EntityRequests
		}
	}
	sum.Path = strings.Join(paths, ",")
	if sum.Path == "" {
		sum.Path = "-"
	}
	if name == extractor.WorkspaceCheck {
		sum.Path = "v1"
	}
	return sum
}

func sumEndpoints(runs []dayRunReport) map[string]int {
	out := map[string]int{}
	for _, r := range runs {
		for k, n := range r.Endpoints {
			out[k] += n
		}
	}
	return out
}

// endpointText is "GET /a 3, GET /b 1", most served first; "none" when empty.
func endpointText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
