package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
)

// cmdPlan prints the requests the next sync would spend, from the stream registry's cost
// models and what the warehouse knows, against the budget.
func cmdPlan(ctx context.Context, e env, args []string) error {
	fs := newFlags("plan", e)
	streamsFlag := fs.String("streams", "", "comma-separated streams to plan (default: every enabled stream)")
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
	budget := quota.New(store, cfg.limits(), time.Now, log)

	// The one request a plan spends: what the server says is left.
	serverNote := "not asked (no API key)"
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
		case quota.IsSpent(err):
			serverNote = "not asked: the budget is spent"
		default:
			return fmt.Errorf("ask Affinity for the rate limit: %w", err)
		}
	}
	if err := budget.Close(ctx); err != nil {
		return err
	}
	now := time.Now()
	var listIDs []int64
	if len(cfg.Sync.Lists) > 0 {
		lists, err := extractor.ChooseLists(ctx, store, cfg.Sync.Lists)
		if err != nil {
			return err
		}
		for _, l := range lists {
			listIDs = append(listIDs, l.ID)
		}
	}
	counts, err := store.PlanCounts(ctx, now, now.Add(-cfg.Sync.ValuesMaxAge), now.Add(-cfg.Sync.UnlistedValuesMaxAge), cfg.Sync.FieldValuesForUnlisted, listIDs)
	if err != nil {
		return err
	}
	st, err := budget.Status(ctx)
	if err != nil {
		return err
	}
	items, err := extractor.Plan(counts, streams, cfg.Sync.FieldValuesForUnlisted)
	if err != nil {
		return err
	}
	if err := printPlan(e.stdout, items, st, serverNote); err != nil {
		return err
	}
	if len(cfg.Sync.Lists) == 0 && len(cfg.Sync.Streams) == 0 {
		return nil
	}
	// What the choice of lists and streams saves: the same plan for everything.
	all, err := store.PlanCounts(ctx, now, now.Add(-cfg.Sync.ValuesMaxAge), now.Add(-cfg.Sync.UnlistedValuesMaxAge), cfg.Sync.FieldValuesForUnlisted, nil)
	if err != nil {
		return err
	}
	everyItem, err := extractor.Plan(all, extractor.Streams(), cfg.Sync.FieldValuesForUnlisted)
	if err != nil {
		return err
	}
	chosen, everything := planTotal(items), planTotal(everyItem)
	fmt.Fprintf(e.stdout, "sync.lists and sync.streams save %d requests: %d for every list and stream\n", everything-chosen, everything)
	return nil
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
	fmt.Fprintln(tw, "STEP\tSTREAM\tREQUESTS\tTOTAL\tFITS\tWHAT")
	var total int64
	for i, it := range items {
		total += it.Requests
		fits := "yes"
		if left >= 0 && total > left {
			fits = "no"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", i+1, it.Stream, it.Requests, total, fits, it.Detail)
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
