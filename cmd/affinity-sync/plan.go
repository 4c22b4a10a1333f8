package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
)

// cmdPlan prints the requests the next sync would spend, from the stream registry's cost
// models and what the warehouse knows, against the budget: per stream on API v1 and where
// API v2 may be read, and the path the next pass takes. Before the first pass it learns
// what is cheap to learn (the lists and their sizes, the tracked fields: one request each)
// and says which counts are not known yet and what they will cost.
func cmdPlan(ctx context.Context, e env, args []string) error {
	fs := newFlags("plan", e)
	streamsFlag := fs.String("streams", "", "comma-separated streams to plan (default: every enabled stream)")
	month := fs.Bool("month", false, "project the month: the allowance, what is spent, and what each scheduled job will spend by the month's end")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, log, err := e.commandConfig(false)
	if err != nil {
		return err
	}
	streams, _, err := effectiveStreams(*streamsFlag, cfg.Sync.Streams)
	if err != nil {
		return err
	}
	store, err := openWarehouse(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	budget := quota.New(store, cfg.limits(), e.now, log)
	completed, err := completedStreams(ctx, store)
	if err != nil {
		return err
	}

	// The requests a plan spends: what the server says is left, and what is cheap to learn.
	serverNote := "not asked (no API key)"
	var learned planLearned
	if cfg.Affinity.APIKey != "" {
		client, err := newClient(cfg, log, budget)
		if err != nil {
			return err
		}
		rl, err := client.RateLimit(ctx)
		switch {
		case err == nil:
			budget.ObserveRateLimit(rl)
			serverNote = fmt.Sprintf("month %s of %s left, minute %s of %s", rl.OrgMonthly.Remaining, rl.OrgMonthly.Limit,
				rl.APIKeyPerMinute.Remaining, rl.APIKeyPerMinute.Limit)
			if learned, err = learnForPlan(ctx, client, completed, cfg.Sync.Lists); err != nil {
				return err
			}
		case quota.IsSpent(err):
			serverNote = "not asked: the budget is spent"
		default:
			return fmt.Errorf("ask Affinity for the rate limit: %w", err)
		}
	}
	if err := budget.Close(ctx); err != nil {
		return err
	}
	now := e.now()
	var listIDs []int64
	if learned.lists && len(cfg.Sync.Lists) > 0 {
		listIDs = []int64{}
		for _, l := range learned.chosen {
			listIDs = append(listIDs, l.ID)
		}
	} else if listIDs, err = chosenListIDs(ctx, store, cfg); err != nil {
		return err
	}
	counts, err := warehouseCounts(ctx, store, cfg, now, now.Add(-cfg.Sync.ValuesMaxAge), now.Add(-cfg.Sync.UnlistedValuesMaxAge), listIDs)
	if err != nil {
		return err
	}
	learned.apply(&counts, true)
	st, err := budget.Status(ctx)
	if err != nil {
		return err
	}
	if *month {
		p, err := projectMonth(ctx, cfg, budget, store, countsEstimator(cfg, counts))
		if err != nil {
			return err
		}
		if err := printMonth(e.stdout, cfg, p, st, now); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Affinity reports: %s\n", serverNote)
		return nil
	}
	opts := cfg.costOptions()
	items, err := extractor.Plan(counts, streams, opts)
	if err != nil {
		return err
	}
	if err := printPlan(e.stdout, items, st, serverNote); err != nil {
		return err
	}
	learned.print(e.stdout)
	printUnknown(e.stdout, streams, completed, learned)
	if len(cfg.Sync.Lists) == 0 && len(cfg.Sync.Streams) == 0 {
		return nil
	}
	// What the choice of lists and streams saves: the same plan for everything.
	all, err := warehouseCounts(ctx, store, cfg, now, now.Add(-cfg.Sync.ValuesMaxAge), now.Add(-cfg.Sync.UnlistedValuesMaxAge), nil)
	if err != nil {
		return err
	}
	learned.apply(&all, false)
	everyItem, err := extractor.Plan(all, extractor.Streams(), opts)
	if err != nil {
		return err
	}
	chosen, everything := planTotal(items), planTotal(everyItem)
	fmt.Fprintf(e.stdout, "sync.lists and sync.streams save %d requests: %d for every list and stream\n", everything-chosen, everything)
	return nil
}

// completedStreams reads which streams have completed a pass: the counts of the others are
// not known yet.
func completedStreams(ctx context.Context, store *loader.Store) (map[extractor.StreamName]bool, error) {
	done := map[extractor.StreamName]bool{}
	for _, s := range extractor.Streams() {
		cp, err := store.LoadCheckpoint(ctx, string(s))
		if err != nil {
			return nil, err
		}
		done[s] = cp.LastCompletedAt != nil
	}
	return done, nil
}

// planLearned is what plan asked Affinity because the warehouse has never synced it.
type planLearned struct {
	requests int
	lists    bool               // GET /lists was asked
	chosen   []loader.ListCount // the lists sync.lists chooses, sized by list_size
	every    []loader.ListCount // every list
	fields   bool               // GET /fields was asked
	tracked  map[bool]int64     // tracked fields: [true] global and of the chosen lists, [false] of every list
	notes    []string           // what each request learned
}

// learnForPlan asks GET /lists when the lists were never synced and GET /fields when the
// fields were never synced.
func learnForPlan(ctx context.Context, client *affinity.Client, completed map[extractor.StreamName]bool, names []string) (planLearned, error) {
	var l planLearned
	var chosenIDs []int64
	if !completed[extractor.StreamLists] {
		lists, err := client.Lists(ctx)
		l.requests++
		if err != nil {
			return l, fmt.Errorf("plan: learn the lists: %w", err)
		}
		l.lists = true
		warehouseLists := make([]loader.List, len(lists))
		var entries int64
		for i, x := range lists {
			warehouseLists[i] = loader.List{ID: x.ID, Name: x.Name, ListSize: x.ListSize}
			n := int64(0)
			if x.ListSize != nil {
				n = *x.ListSize
			}
			entries += n
			l.every = append(l.every, loader.ListCount{ID: x.ID, Entries: n})
		}
		chosen, err := extractor.ChooseLists(ctx, staticLists(warehouseLists), names)
		if err != nil {
			return l, fmt.Errorf("plan: %w", err)
		}
		for _, c := range chosen {
			chosenIDs = append(chosenIDs, c.ID)
			i := slices.IndexFunc(l.every, func(x loader.ListCount) bool { return x.ID == c.ID })
			l.chosen = append(l.chosen, l.every[i])
		}
		l.notes = append(l.notes, fmt.Sprintf("GET /lists: %d lists, %d entries by their list_size", len(lists), entries))
	}
	if !completed[extractor.StreamFields] {
		fields, err := client.Fields(ctx, affinity.FieldQuery{})
		l.requests++
		if err != nil {
			return l, fmt.Errorf("plan: learn the fields: %w", err)
		}
		l.fields = true
		l.tracked = map[bool]int64{}
		for _, f := range fields {
			if !f.TrackChanges {
				continue
			}
			l.tracked[false]++
			if f.ListID == nil || len(names) == 0 || !l.lists || slices.Contains(chosenIDs, *f.ListID) {
				l.tracked[true]++
			}
		}
		l.notes = append(l.notes, fmt.Sprintf("GET /fields: %d tracked fields", l.tracked[true]))
	}
	return l, nil
}

// staticLists serves lists read from the API as the live lists, to choose among them.
type staticLists []loader.List

func (s staticLists) LiveLists(context.Context) ([]loader.List, error) { return s, nil }

// apply adds what was learned to counts of the chosen lists (chosen) or of every list.
func (l planLearned) apply(c *loader.PlanCounts, chosen bool) {
	if l.lists {
		lists := l.every
		if chosen {
			lists = l.chosen
		}
		c.AddUnreadLists(lists)
	}
	if l.fields {
		c.TrackedFields = l.tracked[chosen]
		c.HistoriesDue, c.FeedPages = c.TrackedFields, min(c.TrackedFields, 1)
	}
}

func (l planLearned) print(out io.Writer) {
	if l.requests == 0 {
		return
	}
	fmt.Fprintf(out, "learned from Affinity, which the warehouse has never synced (%d requests spent): %s\n",
		l.requests, strings.Join(l.notes, "; "))
}

// printUnknown says which counts are not known yet and what each 500 of them will cost: a
// stream that never completed a pass, or whose input streams never did, unless what it
// needs was learned.
func printUnknown(out io.Writer, streams []extractor.StreamName, completed map[extractor.StreamName]bool, learned planLearned) {
	known := func(s extractor.StreamName) bool {
		return completed[s] || s == extractor.StreamLists && learned.lists || s == extractor.StreamFields && learned.fields
	}
	var unknown func(s extractor.StreamName) bool
	unknown = func(s extractor.StreamName) bool {
		if completed[s] {
			return false
		}
		deps := extractor.DependsOn(s)
		if len(deps) == 0 {
			return !known(s)
		}
		return slices.ContainsFunc(deps, unknown)
	}
	var lines, estimated []string
	for _, s := range streams {
		switch per := extractor.Per500(s); {
		case per == "" || completed[s]:
		case unknown(s):
			lines = append(lines, fmt.Sprintf("  %s: not known yet — %s", s, per))
		default:
			estimated = append(estimated, string(s))
		}
	}
	if len(estimated) > 0 {
		fmt.Fprintf(out, "estimated from what was learned, before their first pass: %s\n", strings.Join(estimated, ", "))
	}
	if len(lines) > 0 {
		fmt.Fprintln(out, "counts not known yet (their streams have never completed a pass), so not in the estimate:")
		for _, l := range lines {
			fmt.Fprintln(out, l)
		}
	}
}

func planTotal(items []extractor.PlanItem) int64 {
	var n int64
	for _, it := range items {
		n += it.Requests
	}
	return n
}

func printPlan(out io.Writer, items []extractor.PlanItem, st quota.Status, serverNote string) error {
	left := st.Left()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTREAM\tREQUESTS\tTOTAL\tFITS\tON V1\tON V2\tPATH\tWHAT")
	var total int64
	for i, it := range items {
		total += it.Requests
		fits := "yes"
		if left >= 0 && total > left {
			fits = "no"
		}
		onV2 := "-"
		if it.HasV2 {
			onV2 = fmt.Sprint(it.OnV2)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", i+1, it.Stream, it.Requests, total, fits, it.OnV1, onV2, it.Path, it.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nestimated requests: %d\n", total)
	printBudget(out, st)
	fmt.Fprintf(out, "Affinity reports: %s\n", serverNote)
	if left >= 0 && total > left {
		fmt.Fprintf(out, "the budget runs out before the plan ends: the run stops at a page boundary (exit 3) and the next one continues\n")
	}
	return nil
}

// costOptions are the settings the registry's cost models read: plan's estimates and bench's
// bounds alike.
func (c Config) costOptions() extractor.CostOptions {
	return extractor.CostOptions{WithUnlisted: c.Sync.FieldValuesForUnlisted, APIV2: c.Affinity.APIV2.extractorMode(),
		IntelligenceCap: c.Quota.IntelligenceRequests}
}
