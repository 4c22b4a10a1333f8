package extractor

import (
	"fmt"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The cost models of the capped streams. Within a pass, entity_files' per-entity fallback
// (stage 2) spends first, then interactions, then relationship strengths, each what the
// intelligence cap leaves; what a stream needs beyond its share is its backlog.

// Backlog is what one capped stream has due and what the next pass reads of it.
type Backlog struct {
	Stream StreamName
	// Entities due (for interactions, entity×type pairs are Pairs); Requests they need at one
	// page per window or entity.
	Entities, Pairs, Requests int64
	ThisPass                  int64 // what the next pass spends on it, within the cap
	Left                      int64 // the backlog the next pass leaves: Requests - ThisPass
	// Passes is how many passes at the cap it takes until the stream has nothing due (the
	// requests of the streams before it in the pass come first); 1 without a cap.
	Passes int64
}

// IntelligenceBacklog is what interactions and relationship_strengths (and entity_files' fallback,
// when a pass fell back) have due given the counts, and what a pass with the cap spends on
// them.
func IntelligenceBacklog(c loader.PlanCounts, capacity int64) []Backlog {
	ic := c.Intelligence
	var files int64
	if ic.FilesPerEntity {
		files = ic.FilesListed
	}
	streams := []Backlog{
		{Stream: StreamEntityFiles, Entities: files, Requests: files},
		{Stream: StreamInteractions, Entities: ic.InteractionEntities, Pairs: ic.InteractionPairs, Requests: ic.InteractionWindows},
		{Stream: StreamRelationshipStrengths, Entities: ic.StrengthsDue, Requests: ic.StrengthsDue},
	}
	left, before := capacity, int64(0)
	for i := range streams {
		b := &streams[i]
		b.ThisPass = b.Requests
		if capacity > 0 {
			b.ThisPass = min(b.Requests, left)
			left -= b.ThisPass
		}
		b.Left = b.Requests - b.ThisPass
		before += b.Requests
		b.Passes = 1
		if capacity > 0 && before > 0 {
			b.Passes = (before + capacity - 1) / capacity
		}
		if b.Requests == 0 {
			b.Passes = 0
		}
	}
	return streams
}

// backlogOf is the stream's line of IntelligenceBacklog.
func backlogOf(c loader.PlanCounts, o CostOptions, stream StreamName) Backlog {
	for _, b := range IntelligenceBacklog(c, o.IntelligenceCap) {
		if b.Stream == stream {
			return b
		}
	}
	return Backlog{Stream: stream}
}

// capText says what the cap leaves for later.
func capText(b Backlog, capacity int64) string {
	if capacity <= 0 {
		return "no cap"
	}
	return fmt.Sprintf("backlog %d after this pass, %d pass(es) at the cap of %d", b.Left, b.Passes, capacity)
}

func filesCost(c loader.PlanCounts, o CostOptions) []Cost {
	if !c.Intelligence.FilesPerEntity {
		return paged("entity_files", "files")(c, o)
	}
	b := backlogOf(c, o, StreamEntityFiles)
	x := perEntityCost(b.ThisPass, o, fmt.Sprintf("the unfiltered listing refused; %d listed entities read one by one: %d this pass, %s",
		b.Entities, b.ThisPass, capText(b, o.IntelligenceCap)), fmt.Sprintf("1 refused listing + 1 per listed entity within the cap (%d)", b.ThisPass))
	x.Requests++
	x.Chain++
	return []Cost{x}
}

func interactionsCost(c loader.PlanCounts, o CostOptions) []Cost {
	b := backlogOf(c, o, StreamInteractions)
	return []Cost{perEntityCost(b.ThisPass, o,
		fmt.Sprintf("%d entities due (%d entity×type pairs whose interaction date moved), %d requests: %d this pass, %s",
			b.Entities, b.Pairs, b.Requests, b.ThisPass, capText(b, o.IntelligenceCap)),
		fmt.Sprintf("1 per page of each ≤1-year window of each entity×type due (%d), within the cap", b.ThisPass))}
}

func strengthsCost(c loader.PlanCounts, o CostOptions) []Cost {
	b := backlogOf(c, o, StreamRelationshipStrengths)
	return []Cost{perEntityCost(b.ThisPass, o,
		fmt.Sprintf("%d persons due (never read, interaction dates moved, or older than the maximum age): %d this pass, %s",
			b.Entities, b.ThisPass, capText(b, o.IntelligenceCap)),
		fmt.Sprintf("1 per person due (%d), within the cap", b.ThisPass))}
}

// sawFiles: the listing's files, or the entities the fallback read.
func sawFiles(r StreamResult, c *loader.PlanCounts) {
	for _, p := range r.Phases {
		switch p.Phase.Kind {
		case PhaseMain:
			c.Live["entity_files"] = max(c.Live["entity_files"], p.Items)
		case PhasePerEntity:
			c.Intelligence.FilesPerEntity = true
			c.Intelligence.FilesListed += p.EntityRequests
		}
	}
}

// sawInteractions: the requests the pass sent, one per page of each window read.
func sawInteractions(r StreamResult, c *loader.PlanCounts) {
	for _, p := range r.Phases {
		c.Intelligence.InteractionWindows += p.EntityRequests
		c.Intelligence.InteractionPairs += p.Pages
	}
}

// sawStrengths: the persons read.
func sawStrengths(r StreamResult, c *loader.PlanCounts) {
	for _, p := range r.Phases {
		c.Intelligence.StrengthsDue += p.EntityRequests
	}
}
