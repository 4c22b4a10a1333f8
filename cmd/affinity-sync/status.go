package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
)

// statusReport is everything status prints, as text or (--json) as JSON.
type statusReport struct {
	Schema  string         `json:"schema"`
	Runs    []statusRun    `json:"runs"`
	Streams []statusStream `json:"streams"`
	Budget  statusBudget   `json:"budget"`
	// Month is the month's projection (plan --month in one object).
	Month     statusMonth     `json:"month"`
	NotSynced statusNotSynced `json:"not_synced"`
	// APIV2 is the affinity.api_v2 setting in effect (auto, on, off); Paths is the API path
	// the last pass of each stream that has two (field_values, organization_details) took.
	APIV2 string       `json:"api_v2"`
	Paths []statusPath `json:"paths"`
	// Backlog is what the capped relationship intelligence streams have due and how many
	// passes at quota.intelligence_requests they need; empty when sync.intelligence_scope is
	// none.
	Backlog []statusBacklog `json:"intelligence_backlog"`

	monthLine string // the month's projection in one line (text only)
	cap       int64  // quota.intelligence_requests (text only)
}

// statusBacklog is one capped stream's backlog (extractor.Backlog).
type statusBacklog struct {
	Stream   string `json:"stream"`
	Entities int64  `json:"entities_due"`
	Requests int64  `json:"requests_due"`
	NextPass int64  `json:"next_pass"`
	Backlog  int64  `json:"backlog"`
	Passes   int64  `json:"passes"`
}

// statusPath is the API path a stream's last pass took, and why.
type statusPath struct {
	Stream    string    `json:"stream"`
	Path      string    `json:"path"` // v1 or v1+v2
	Reason    string    `json:"reason"`
	DecidedAt time.Time `json:"decided_at"`
}

type statusRun struct {
	ID              int64      `json:"id"`
	StartedAt       time.Time  `json:"started_at"`
	EndedAt         *time.Time `json:"ended_at"`
	Status          string     `json:"status"`
	Streams         []string   `json:"streams"`
	Requests        int64      `json:"requests"`
	Rows            int64      `json:"rows_written"`
	NULsReplaced    int64      `json:"nuls_replaced"`
	AllowMassDelete bool       `json:"allow_mass_delete"`
	Error           string     `json:"error,omitempty"`
	// RequestsByStream splits Requests by what sent them: each stream, "(workspace check)";
	// null while the run is running and for runs recorded before it was kept.
	RequestsByStream map[string]int64 `json:"requests_by_stream"`
}

type statusStream struct {
	Stream          string     `json:"stream"`
	PassStartedAt   *time.Time `json:"pass_started_at"`
	Phase           string     `json:"phase"`
	Pages           int64      `json:"pages"`
	Rows            int64      `json:"rows"`
	LastCompletedAt *time.Time `json:"last_completed_at"`
}

type statusBudget struct {
	DayUsed int64 `json:"day_used"`
	DayCap  int64 `json:"day_cap"`  // 0 = none
	DayLeft int64 `json:"day_left"` // -1 = unlimited
	// DayPaced says day_cap is the month's pace (quota.pace: month), below daily_requests.
	DayPaced    bool      `json:"day_paced"`
	DayResets   time.Time `json:"day_resets"`
	MonthUsed   int64     `json:"month_used"`
	MonthCap    int64     `json:"month_cap"`
	MonthLeft   int64     `json:"month_left"`
	MonthResets time.Time `json:"month_resets"`
}

// statusNotSynced names what the configuration leaves out: those rows stay as
// they were and are never soft-deleted for being left out.
type statusNotSynced struct {
	Streams []string `json:"streams"`
	Lists   []string `json:"lists"`
}

func cmdStatus(ctx context.Context, e env, args []string) error {
	fs := newFlags("status", e)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, log, err := e.commandConfig(false)
	if err != nil {
		return err
	}
	store, err := loader.Open(ctx, cfg.Database.URL.reveal(), cfg.Database.Schema, log)
	if err != nil {
		return fmt.Errorf("open warehouse: %w", err)
	}
	defer store.Close()
	rep, err := readStatus(ctx, cfg, store, e.now)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printStatus(e.stdout, rep)
}

func readStatus(ctx context.Context, cfg Config, store *loader.Store, now func() time.Time) (statusReport, error) {
	rep := statusReport{Schema: cfg.Database.Schema, Runs: []statusRun{}, Streams: []statusStream{},
		APIV2: string(cfg.Affinity.APIV2), Paths: []statusPath{}}
	runs, err := store.RecentRuns(ctx, 10)
	if err != nil {
		return rep, fmt.Errorf("read runs: %w", err)
	}
	for _, r := range runs {
		rep.Runs = append(rep.Runs, statusRun{ID: r.ID, StartedAt: r.StartedAt, EndedAt: r.EndedAt, Status: r.Status, Streams: r.Streams,
			Requests: r.Requests, Rows: r.Rows, NULsReplaced: r.NULsReplaced, AllowMassDelete: r.AllowMassDelete, Error: r.Error,
			RequestsByStream: r.RequestsByStream})
	}
	cps, err := store.Checkpoints(ctx)
	if err != nil {
		return rep, fmt.Errorf("read checkpoints: %w", err)
	}
	for _, c := range cps {
		st := statusStream{Stream: c.Stream, Phase: c.Phase, Pages: c.Pages, Rows: c.Rows, LastCompletedAt: c.LastCompletedAt}
		if !c.PassStartedAt.IsZero() {
			started := c.PassStartedAt
			st.PassStartedAt = &started
		}
		rep.Streams = append(rep.Streams, st)
	}
	paths, err := store.StreamPaths(ctx)
	if err != nil {
		return rep, err
	}
	for _, p := range paths {
		rep.Paths = append(rep.Paths, statusPath{Stream: p.Stream, Path: p.Path, Reason: p.Reason, DecidedAt: p.DecidedAt})
	}
	b, err := quota.New(store, cfg.limits(), now, nil).Status(ctx)
	if err != nil {
		return rep, err
	}
	monthBudget := quota.New(store, cfg.limits(), now, nil)
	p, err := projectMonth(ctx, cfg, monthBudget, store, warehouseEstimator(cfg, store, now))
	if err != nil {
		return rep, err
	}
	rep.Month = newStatusMonth(p)
	rep.monthLine = monthLine(p)
	if rep.Backlog, err = readBacklog(ctx, cfg, store, now()); err != nil {
		return rep, err
	}
	rep.cap = cfg.Quota.IntelligenceRequests
	rep.Budget = statusBudget{DayUsed: b.DayUsed, DayCap: b.DayCap, DayLeft: b.DayLeft, DayPaced: b.DayPaced, DayResets: b.DayResets,
		MonthUsed: b.MonthUsed, MonthCap: b.MonthCap, MonthLeft: b.MonthLeft, MonthResets: b.MonthResets}

	rep.NotSynced = statusNotSynced{Streams: []string{}, Lists: []string{}}
	if len(cfg.Sync.Streams) > 0 {
		for _, s := range extractor.Streams() {
			if !slices.Contains(cfg.Sync.Streams, string(s)) {
				rep.NotSynced.Streams = append(rep.NotSynced.Streams, string(s))
			}
		}
	}
	if len(cfg.Sync.Lists) > 0 {
		all, err := store.LiveLists(ctx)
		if err != nil {
			return rep, err
		}
		chosen, err := extractor.ChooseLists(ctx, store, cfg.Sync.Lists)
		if err != nil {
			return rep, err
		}
		for _, l := range all {
			if !slices.ContainsFunc(chosen, func(c loader.List) bool { return c.ID == l.ID }) {
				rep.NotSynced.Lists = append(rep.NotSynced.Lists, fmt.Sprintf("%d %s", l.ID, l.Name))
			}
		}
	}
	return rep, nil
}

func printStatus(out io.Writer, rep statusReport) error {
	when := func(t *time.Time, none string) string {
		if t == nil {
			return none
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tENDED\tSTATUS\tREQUESTS\tROWS\tSTREAMS\tERROR")
	if len(rep.Runs) == 0 {
		fmt.Fprintln(tw, "(no runs yet)")
	}
	for _, r := range rep.Runs {
		status := r.Status
		if r.AllowMassDelete {
			status += " (--allow-mass-delete)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.ID, when(&r.StartedAt, "-"), when(r.EndedAt, "-"),
			status, r.Requests, r.Rows, strings.Join(r.Streams, ","), r.Error)
	}
	if len(rep.Runs) > 0 && rep.Runs[0].RequestsByStream != nil {
		last := rep.Runs[0]
		fmt.Fprintln(tw)
		fmt.Fprintf(tw, "Requests of the last run (%d), by stream:\n", last.ID)
		fmt.Fprintln(tw, "STREAM\tREQUESTS")
		for _, name := range senderOrder(last.RequestsByStream) {
			fmt.Fprintf(tw, "%s\t%d\n", name, last.RequestsByStream[name])
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "STREAM\tPASS STARTED\tPHASE\tPAGES\tROWS\tLAST COMPLETE PASS")
	for _, c := range rep.Streams {
		phase := c.Phase
		if phase == "" {
			phase = "main"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", c.Stream, when(c.PassStartedAt, "-"), phase, c.Pages, c.Rows, when(c.LastCompletedAt, "never"))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "API path of the last pass (affinity.api_v2: %s):\n", rep.APIV2)
	fmt.Fprintln(tw, "STREAM\tPATH\tDECIDED\tWHY")
	if len(rep.Paths) == 0 {
		fmt.Fprintln(tw, "(no pass of field_values, organization_details or field_value_changes yet)")
	}
	for _, p := range rep.Paths {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Stream, p.Path, when(&p.DecidedAt, "-"), p.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	printBudget(out, quota.Status{DayUsed: rep.Budget.DayUsed, DayCap: rep.Budget.DayCap, DayLeft: rep.Budget.DayLeft, DayPaced: rep.Budget.DayPaced,
		DayResets: rep.Budget.DayResets,
		MonthUsed: rep.Budget.MonthUsed, MonthCap: rep.Budget.MonthCap, MonthLeft: rep.Budget.MonthLeft, MonthResets: rep.Budget.MonthResets})
	if rep.monthLine != "" {
		fmt.Fprintln(out, rep.monthLine)
	}
	if err := printBacklog(out, rep.Backlog, rep.cap); err != nil {
		return err
	}
	if len(rep.NotSynced.Streams) > 0 {
		fmt.Fprintf(out, "streams not synced (sync.streams leaves them out; their rows stay as they were): %s\n", strings.Join(rep.NotSynced.Streams, ", "))
	}
	if len(rep.NotSynced.Lists) > 0 {
		fmt.Fprintf(out, "lists not synced (sync.lists leaves them out; their rows stay as they were): %s\n", strings.Join(rep.NotSynced.Lists, "; "))
	}
	return nil
}

// senderOrder lists what sent a run's requests in the order the run sends them: the
// workspace check, the streams in run order, then anything else by name.
func senderOrder(requests map[string]int64) []string {
	var names []string
	for _, name := range append([]string{extractor.WorkspaceCheck}, extractor.NamesOf(extractor.Streams())...) {
		if _, ok := requests[name]; ok {
			names = append(names, name)
		}
	}
	var rest []string
	for name := range requests {
		if !slices.Contains(names, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	return append(names, rest...)
}

// readBacklog reads what interactions and relationship_strengths have due: every request
// needed, what the next pass reads within quota.intelligence_requests, and the passes the rest
// takes.
func readBacklog(ctx context.Context, cfg Config, store *loader.Store, now time.Time) ([]statusBacklog, error) {
	backlog, err := intelligenceBacklog(ctx, store, cfg, now)
	out := []statusBacklog{}
	for _, b := range backlog {
		out = append(out, statusBacklog{Stream: string(b.Stream), Entities: b.Entities, Requests: b.Requests,
			NextPass: b.ThisPass, Backlog: b.Left, Passes: b.Passes})
	}
	return out, err
}

// printBacklog prints the intelligence backlog as a table.
func printBacklog(out io.Writer, backlog []statusBacklog, capacity int64) error {
	if len(backlog) == 0 {
		return nil
	}
	limit := "no cap"
	if capacity > 0 {
		limit = fmt.Sprintf("%d requests a pass", capacity)
	}
	fmt.Fprintf(out, "\nRelationship intelligence due (quota.intelligence_requests: %s):\n", limit)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tENTITIES DUE\tREQUESTS\tNEXT PASS\tBACKLOG\tPASSES")
	for _, b := range backlog {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", b.Stream, b.Entities, b.Requests, b.NextPass, b.Backlog, b.Passes)
	}
	return tw.Flush()
}
