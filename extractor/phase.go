package extractor

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// A stream's pass is a sequence of phases, each one listing of the API: a stream's main
// listing, the interaction dates listing, one list's entries, one field's change history, one
// list read through API v2. A phase is a typed value (its stream, kind, id and end); its text
// form exists only in sync_checkpoints.phase, written by phaseText and read by parsePhase.

// PhaseKind is what a phase reads.
type PhaseKind int

// The kinds of phase.
const (
	// PhaseMain is a stream's main listing (the only phase of most streams; the v1
	// per-entity reads of field_values and organization_details).
	PhaseMain PhaseKind = iota
	// PhaseInteractionDates is the with_interaction_dates listing of persons or organizations.
	PhaseInteractionDates
	// PhaseUnlisted is the v1 refresh of the field values of entities on no list.
	PhaseUnlisted
	// PhaseListEntries is the v1 entries of one list (ID is the list id).
	PhaseListEntries
	// PhaseFieldChanges is the change history of one tracked field (ID is the field id).
	PhaseFieldChanges
	// PhaseV2List is one list's entries with their values through API v2 (ID is the list id).
	PhaseV2List
	// PhaseV2Persons is every person's values through API v2.
	PhaseV2Persons
	// PhaseV2Companies is every company through API v2: its values (field_values) or its
	// persons (organization_details).
	PhaseV2Companies
	// PhaseV2Changes is the change feed through API v2 (field_value_changes), from its
	// watermark.
	PhaseV2Changes
	// PhasePerEntity is entity_files read one listed entity at a time, after Affinity
	// refused the unfiltered listing.
	PhasePerEntity
)

// hasID reports whether phases of kind k are one of many, told apart by an id.
func (k PhaseKind) hasID() bool {
	return k == PhaseListEntries || k == PhaseFieldChanges || k == PhaseV2List
}

// V2 reports whether phases of kind k read through API v2.
func (k PhaseKind) V2() bool {
	return k == PhaseV2List || k == PhaseV2Persons || k == PhaseV2Companies || k == PhaseV2Changes
}

// PhaseID names a phase within its stream: its kind and, for a phase of one list or field,
// that id (zero otherwise).
type PhaseID struct {
	Kind PhaseKind
	ID   int64
}

// String is the phase as the checkpoint, status and the logs name it.
func (p PhaseID) String() string { return phaseText(p) }

// v2Prefix starts the text form of a phase that reads through API v2.
const v2Prefix = "v2:"

// phaseText is the text form of a phase, as sync_checkpoints.phase stores it: "" for the main
// phase, "interaction_dates", "unlisted", "<list id>" (list_entries), "<field id>"
// (field_value_changes), "v2:<list id>", "v2:persons", "v2:companies", "v2:changes",
// "per_entity". parsePhase reads it.
func phaseText(p PhaseID) string {
	switch p.Kind {
	case PhaseInteractionDates:
		return "interaction_dates"
	case PhaseUnlisted:
		return "unlisted"
	case PhaseListEntries, PhaseFieldChanges:
		return strconv.FormatInt(p.ID, 10)
	case PhaseV2List:
		return v2Prefix + strconv.FormatInt(p.ID, 10)
	case PhaseV2Persons:
		return v2Prefix + "persons"
	case PhaseV2Companies:
		return v2Prefix + "companies"
	case PhaseV2Changes:
		return v2Prefix + "changes"
	case PhasePerEntity:
		return "per_entity"
	}
	return ""
}

// parsePhase reads the text form of a phase of a stream whose phases end as ends says (a bare
// id names a list of list_entries, a field of field_value_changes). ok is false for a text no
// phase of that stream writes.
func parsePhase(text string, ends phaseEnds) (p PhaseID, ok bool) {
	for _, k := range []PhaseKind{PhaseMain, PhaseInteractionDates, PhaseUnlisted, PhaseV2Persons, PhaseV2Companies, PhaseV2Changes, PhasePerEntity} {
		if _, has := ends[k]; has && text == phaseText(PhaseID{Kind: k}) {
			return PhaseID{Kind: k}, true
		}
	}
	kind, digits := PhaseListEntries, text
	if _, has := ends[PhaseFieldChanges]; has {
		kind = PhaseFieldChanges
	}
	if rest, v2 := strings.CutPrefix(text, v2Prefix); v2 {
		kind, digits = PhaseV2List, rest
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if _, has := ends[kind]; !has || err != nil || phaseText(PhaseID{Kind: kind, ID: id}) != text {
		return PhaseID{}, false
	}
	return PhaseID{Kind: kind, ID: id}, true
}

// phaseEnds says what ends each kind of phase a stream has, given the options of the run and
// the phase's id; a kind the map lacks is not one of the stream's.
type phaseEnds map[PhaseKind]func(id int64, o Options) loader.PhaseEnd

// always is the end of a kind of phase that ends the same way whatever its id and the options.
func always(end loader.PhaseEnd) func(int64, Options) loader.PhaseEnd {
	return func(int64, Options) loader.PhaseEnd { return end }
}

// phase is one listing of a stream: what it is, what its end does in the warehouse, and its
// pages, already converted to rows. The phase builders (streams.go) set id and pages; the run
// sets stream and end from the registry.
type phase struct {
	stream string
	id     PhaseID
	end    loader.PhaseEnd
	pages  func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error]
	// fallback marks a v1 phase read only when the pass fell back from API v2 (the change
	// feed's per-field histories); a pass on v2 skips it.
	fallback bool
}

// withDates reports whether the phase's rows carry interaction dates.
func (p phase) withDates() bool { return p.id.Kind == PhaseInteractionDates }

// passPlan is what building a stream's phases decided: the phases of the pass, the path it
// takes and why (nil for a stream of one path), the counts the API v2 path rule decided on,
// and what was spent while deciding that no phase carries (a probe before a failure).
type passPlan struct {
	phases []phase
	path   *PathNote
	rule   loader.PlanCounts
	spent  []PhaseResult
	// reread, when set, is told which lists' v2 phases did not read them whole when the pass
	// falls back to v1 in the middle of its v2 phases: the v1 phases read their entities.
	reread func(at time.Time, lists []int64)
}

// passState is where the stream's pass stands when its phases are built.
type passState struct {
	start    time.Time // when the pass started, or starts now
	resuming bool      // a pass is in progress
	at       PhaseID   // the phase it stopped in, when resuming
}

// PhaseResult is what one phase of a stream did in a run and the requests it spent.
type PhaseResult struct {
	Phase       PhaseID
	Pages       int64 // pages committed (one per entity for a per-entity phase)
	Items       int64 // API items of those pages
	Rows        int64 // warehouse rows written
	NULs        int64 // NUL bytes replaced
	SoftDeleted int64 // rows its end soft-deleted or cleared
	// V2Pages counts the v2 pages requested, the probe's first pages included (counted by
	// the phase that commits them).
	V2Pages int64
	// ProbeRequests counts the v1 requests of the probe whose rows this phase commits.
	ProbeRequests int64
	// EntityRequests counts the v1 requests that fetched one entity each (for interactions
	// and files, each page of an entity's read).
	EntityRequests int64
	// Refused counts the per-entity requests Affinity refused as invalid (422): the entity's
	// read failed alone, and it stays due.
	Refused int64
	// CapReached is set when the phase stopped at quota.intelligence_requests: what is still
	// due is the next pass's backlog.
	CapReached bool
	// ReadWhole is set when a v2 listing reached its last page in this run.
	ReadWhole bool
	// Restarted is set when Affinity refused the phase's page token or cursor and the phase
	// started again from its first page.
	Restarted bool
	Complete  bool // the phase ended
}

// spent is what fetching a page cost besides its rows.
type spent struct {
	v2Pages, probeRequests, entityRequests int64
	refused                                int64 // entity requests refused as invalid (422)
	whole                                  bool  // the last page of a v2 listing
	capped                                 bool  // the intelligence cap stopped the phase
}

func (r *PhaseResult) add(s spent) {
	r.V2Pages += s.v2Pages
	r.ProbeRequests += s.probeRequests
	r.EntityRequests += s.entityRequests
	r.Refused += s.refused
	r.ReadWhole = r.ReadWhole || s.whole
	r.CapReached = r.CapReached || s.capped
}

// endOf is the end of phase p of stream def; an error names a kind of phase the registry
// does not give the stream (a bug in its phase builder).
func endOf(def stream, p PhaseID, o Options) (loader.PhaseEnd, error) {
	end, ok := def.ends[p.Kind]
	if !ok {
		return loader.PhaseEnd{}, fmt.Errorf("the registry gives %s no end for a phase %q", def.name, p)
	}
	return end(p.ID, o), nil
}
