package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
)

// printPassSideBySide prints pass i of every mode: a summary line per mode, then each
// stream's requests against its lower bound, mode by mode, then how each bound follows
// from the sizes.
func printPassSideBySide(out io.Writer, i int, reports []benchModeReport) {
	for _, r := range reports {
		p := r.Passes[i]
		fmt.Fprintf(out, "%s, api_v2 %s: wall %s, %d rows written (%.0f rows/s), %d requests sent (lower bound %d), peak RSS %.1f MiB\n",
			p.Title, r.Mode, p.Wall.Round(time.Millisecond), p.Rows, float64(p.Rows)/p.Wall.Seconds(), p.Requests, p.lowerBound(),
			float64(p.PeakRSS)/(1<<20))
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "  STREAM\t"
	for _, r := range reports {
		header += fmt.Sprintf("%s PATH\t%s REQUESTS\t%s BOUND\t", r.Mode, r.Mode, r.Mode)
	}
	fmt.Fprintln(tw, header)
	for j, s := range reports[0].Passes[i].Streams {
		line := "  " + s.Stream + "\t"
		for _, r := range reports {
			x := r.Passes[i].Streams[j]
			path := x.Path
			if path == "" {
				path = "v1"
			}
			line += fmt.Sprintf("%s\t%d\t%d\t", path, x.Requests, x.Bound)
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
	for _, r := range reports {
		fmt.Fprintf(out, "  lower bounds, api_v2 %s:\n", r.Mode)
		for _, s := range r.Passes[i].Streams {
			fmt.Fprintf(out, "    %s: %d = %s\n", s.Stream, s.Bound, s.How)
		}
	}
}

// printLatencyLimit compares the pass's wall time with its physical limit:
// the requests at the rate in effect, or the longest chain of requests that
// must follow one another (stage by stage, the longest stream of each),
// each costing the latency — whichever is longer.
func printLatencyLimit(out io.Writer, p passReport, latency time.Duration, perMinute int) {
	chainOf := map[string]int64{}
	for _, s := range p.Streams {
		chainOf[s.Stream] = s.Chain
	}
	stages := [][]string{{extractor.WorkspaceCheck}}
	for _, st := range extractor.Stages() {
		stages = append(stages, extractor.NamesOf(st))
	}
	var chain int64
	for _, st := range stages {
		var longest int64
		for _, s := range st {
			longest = max(longest, chainOf[s])
		}
		chain += longest
	}
	byChain := time.Duration(chain) * latency
	var byRate time.Duration
	if perMinute > 0 {
		byRate = time.Duration(float64(p.Requests) / float64(perMinute) * float64(time.Minute))
	}
	limit := max(byChain, byRate)
	fmt.Fprintf(out, "latency limit: max(%d requests / %d a minute = %s, chain of %d requests × %s = %s) = %s; wall / limit = %.3f (target ≤ 1.15)\n",
		p.Requests, perMinute, byRate.Round(time.Millisecond), chain, latency, byChain.Round(time.Millisecond),
		limit.Round(time.Millisecond), p.Wall.Seconds()/limit.Seconds())
}
