package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
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
	for _, r := range reports {
		printIntelligence(out, r, i)
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

// printIntelligence prints what interactions and relationship_strengths spent together in
// pass i of r against the cap, and the backlog the warehouse has left after it (what plan
// would print): the requests due and the passes they need at the cap.
func printIntelligence(out io.Writer, r benchModeReport, i int) {
	p := r.Passes[i]
	in := p.Intelligence
	limit := "no cap"
	if in.Cap > 0 {
		limit = fmt.Sprintf("cap %d", in.Cap)
	}
	what := ""
	switch p.Kind {
	case passDrain:
		if i > 0 {
			what = fmt.Sprintf(", against the backlog of %d requests plan read after %s", r.Passes[i-1].Intelligence.BacklogRequests,
				strings.SplitN(r.Passes[i-1].Title, " (", 2)[0])
		}
	case passNothingDue:
		what = ", nothing due: must be 0"
	}
	fmt.Fprintf(out, "  interactions + relationship_strengths, api_v2 %s: %d requests (%s)%s\n", r.Mode, in.Requests, limit, what)
	var parts []string
	for _, b := range in.Backlog {
		switch b.Stream {
		case string(extractor.StreamInteractions):
			parts = append(parts, fmt.Sprintf("%s %d for %d entities (%d entity×type pairs)", b.Stream, b.Requests, b.Entities, b.Pairs))
		case string(extractor.StreamRelationshipStrengths):
			parts = append(parts, fmt.Sprintf("%s %d for %d persons", b.Stream, b.Requests, b.Entities))
		default:
			parts = append(parts, fmt.Sprintf("%s %d for %d entities", b.Stream, b.Requests, b.Entities))
		}
	}
	at := "no cap"
	if in.BacklogCap > 0 {
		at = fmt.Sprintf("the cap of %d", in.BacklogCap)
	}
	fmt.Fprintf(out, "    backlog after it (plan): %d requests due (%s), %d pass(es) at %s\n",
		in.BacklogRequests, strings.Join(parts, ", "), in.BacklogPasses, at)
}

// benchNewStreams are the streams of issue 21, whose requests bench checks against their bound.
var benchNewStreams = []string{string(extractor.StreamEntityFiles), string(extractor.StreamReminders),
	string(extractor.StreamInteractions), string(extractor.StreamRelationshipStrengths)}

// checkBenchTargets prints the targets of the intelligence streams, mode by mode, and fails
// when one is not met: every pass, each new stream spends its bound; a pass with a cap spends
// at most the cap on interactions and relationship_strengths; the pass with nothing due spends
// nothing on them.
func checkBenchTargets(out io.Writer, reports []benchModeReport) error {
	fmt.Fprintln(out)
	fmt.Fprintln(out, "targets of the intelligence streams:")
	failed := 0
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		failed++
		return "NOT MET"
	}
	for _, r := range reports {
		var off []string
		for _, p := range r.Passes {
			for _, s := range p.Streams {
				if slices.Contains(benchNewStreams, s.Stream) && s.Requests != s.Bound {
					off = append(off, fmt.Sprintf("%s: %s %d requests, bound %d", p.Title, s.Stream, s.Requests, s.Bound))
				}
			}
		}
		fmt.Fprintf(out, "  api_v2 %s: entity_files, reminders, interactions, relationship_strengths spend their bound on every pass: %s\n",
			r.Mode, met(len(off) == 0))
		for _, o := range off {
			fmt.Fprintf(out, "    %s\n", o)
		}
		for _, p := range r.Passes {
			in := p.Intelligence
			switch {
			case p.Kind == passNothingDue:
				fmt.Fprintf(out, "  api_v2 %s: %s: interactions + relationship_strengths = 0 requests: %d, %s\n",
					r.Mode, p.Title, in.Requests, met(in.Requests == 0))
			case in.Cap > 0:
				fmt.Fprintf(out, "  api_v2 %s: %s: interactions + relationship_strengths ≤ quota.intelligence_requests: %d ≤ %d, %s\n",
					r.Mode, p.Title, in.Requests, in.Cap, met(in.Requests <= in.Cap))
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("bench: %d target(s) of the intelligence streams not met (see above)", failed)
	}
	return nil
}
