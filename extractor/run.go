package extractor

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The run of one stream: it reads the checkpoint, builds the pass's phases, runs them from
// where the pass stands, and ends each phase in the warehouse as the registry says.

// runPass runs one stream's pass, or continues the one in progress.
func (s *Syncer) runPass(ctx context.Context, def stream) StreamResult {
	stream := string(def.name) // as the warehouse's checkpoints and logs spell it
	res := StreamResult{Stream: def.name}
	log := s.log.With("stream", stream)
	fail := func(err error) StreamResult {
		res.Err = fmt.Errorf("stream %s: %w", stream, err)
		return res
	}
	cp, err := s.store.LoadCheckpoint(ctx, stream)
	if err != nil {
		return fail(err)
	}
	if s.opts.ResumeSince != nil && cp.PassStartedAt.IsZero() && cp.LastCompletedAt != nil && !cp.LastCompletedAt.Before(*s.opts.ResumeSince) {
		log.Info("pass already complete in the run this one continues", "completed", cp.LastCompletedAt)
		res.Complete = true
		return res
	}
	ps := passState{start: s.opts.Now()}
	known := false
	if !cp.PassStartedAt.IsZero() {
		ps.start, ps.resuming = cp.PassStartedAt, true
		ps.at, known = parsePhase(cp.Phase, def.ends)
	}
	plan, err := def.phases(s, ctx, ps)
	res.Rule = plan.rule
	res.Phases = append(res.Phases, plan.spent...)
	if plan.path != nil {
		if rerr := s.recordPath(ctx, &res, *plan.path); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fail(err)
	}
	phases := plan.phases
	for i := range phases {
		phases[i].stream = stream
		if phases[i].end, err = endOf(def, phases[i].id, s.opts); err != nil {
			return fail(err)
		}
	}
	if len(phases) == 0 {
		// Nothing to read (no lists, no tracked fields): the pass is complete.
		if err := s.store.FinishStream(ctx, stream); err != nil {
			return fail(err)
		}
		res.Complete = true
		return res
	}
	start := 0
	if !ps.resuming {
		cp = loader.Checkpoint{Stream: stream, Phase: phaseText(phases[0].id), PassStartedAt: ps.start, LastCompletedAt: cp.LastCompletedAt}
		log.Info("pass started")
	} else {
		start = resumeIndex(phases, ps.at, known)
		if !known || phases[start].id != ps.at {
			cp.Phase, cp.PageToken = phaseText(phases[start].id), ""
		}
		log.Info("pass resumed", "phase", cp.Phase, "pages_done", cp.Pages, "rows_done", cp.Rows)
	}
	// onV1: the pass fell back to v1, so its remaining v2 phases are skipped and its fallback
	// phases read; a pass resumed in a fallback phase had fallen back.
	onV1 := start < len(phases) && phases[start].fallback
	for i := start; i < len(phases); i = nextPhase(phases, i, onV1) {
		ph := phases[i]
		pr, err := s.runPhase(ctx, &cp, ph)
		end, refused := ph.end, err != nil
		if err != nil {
			cause, fallBack := s.v2FallsBack(ph, err)
			if !fallBack {
				res.addPhase(pr)
				if cause != "" {
					note := PathNote{Path: "v1+v2", Reason: cause}
					if rerr := s.recordPath(ctx, &res, note); rerr != nil {
						log.Warn("record path", "error", rerr)
					}
					if errors.As(err, new(*feedFallback)) {
						err = fmt.Errorf("api_v2 is on: %w", err) // its text is the cause
					} else {
						err = fmt.Errorf("api_v2 is on: %s: %w", cause, err)
					}
				}
				res.Err = fmt.Errorf("stream %s: %w", stream, err)
				log.Warn("stream stopped", "phase", ph.id.String(), "pages", res.Pages, "rows", res.Rows, "error", res.Err)
				return res
			}
			// Under auto, v2 refused a page (or the change feed cost what v1 would): what was
			// read stays, and v1 reads what is still due. The phase ends with nothing but the
			// checkpoint moving on.
			onV1, end = true, loader.EndNothing()
			if plan.reread != nil {
				plan.reread(s.opts.Now(), unreadLists(phases, i))
			}
			note := PathNote{Path: "v1+v2", Reason: cause + " (fell back to v1 for the rest of this pass)", Fallback: true}
			log.Warn("reading through API v1 for this pass", "cause", cause)
			if err := s.recordPath(ctx, &res, note); err != nil {
				res.addPhase(pr)
				return fail(err)
			}
		}
		next := nextPhase(phases, i, onV1)
		pass := loader.PassOptions{MaxDeleteShare: s.opts.MaxDeleteShare, AllowMassDelete: s.opts.AllowMassDelete,
			EndsPass: next == len(phases)}
		if !pass.EndsPass {
			pass.NextPhase = phaseText(phases[next].id)
		}
		deleted, err := s.store.CompletePhase(ctx, cp, end, pass)
		pr.SoftDeleted, pr.Complete = deleted, err == nil && !refused
		res.addPhase(pr)
		if err != nil {
			res.Err = fmt.Errorf("stream %s: complete pass: %w", stream, err)
			return res
		}
		cp.Phase, cp.PageToken = pass.NextPhase, ""
	}
	res.Complete = true
	log.Info("pass complete", "pages", res.Pages, "rows", res.Rows, "soft_deleted", res.SoftDeleted, "nul_replaced", res.NULs)
	return res
}

// addPhase adds a phase's result to the stream's.
func (r *StreamResult) addPhase(p PhaseResult) {
	r.Phases = append(r.Phases, p)
	r.Pages += p.Pages
	r.Rows += p.Rows
	r.NULs += p.NULs
	r.SoftDeleted += p.SoftDeleted
}

// recordPath notes the path the stream's pass takes in its result and in the warehouse.
func (s *Syncer) recordPath(ctx context.Context, res *StreamResult, note PathNote) error {
	res.Path = &note
	return s.store.RecordPath(ctx, string(res.Stream), loader.StreamPath{Path: note.Path, Reason: note.Reason})
}

// unreadLists are the lists whose entities the v1 phases must read whole when v2 refused
// phase i: the refused list and those of the v2 list phases the fall back skips. An entity
// read through v2 before (on an earlier list, or on the refused list's pages read, which may
// hold the entity on two entries) counts as fetched for the pass, but its entries on these
// lists were not read: the values of an entry are read with its list, or by a v1 read of
// the entity.
func unreadLists(phases []phase, i int) []int64 {
	var ids []int64
	for _, p := range phases[i:] {
		if p.id.Kind == PhaseV2List {
			ids = append(ids, p.id.ID)
		}
	}
	return ids
}

// nextPhase is the index of the phase that follows phase i: the next one, or once the pass
// fell back to v1 the next one that does not read through v2, and until then the next one
// that is not a fallback phase; len(phases) after the last.
func nextPhase(phases []phase, i int, onV1 bool) int {
	for i++; i < len(phases) && (onV1 && phases[i].id.Kind.V2() || !onV1 && phases[i].fallback); i++ {
	}
	return i
}

// v2FallsBack decides what an error of phase ph means for the pass. When it is v2 refusing a
// page (v2Refusal), cause names the refusal; fallBack is set under api_v2 auto, where the
// pass reads the rest through v1; under on the refusal fails the stream.
func (s *Syncer) v2FallsBack(ph phase, err error) (cause string, fallBack bool) {
	if !ph.id.Kind.V2() {
		return "", false
	}
	var fb *feedFallback
	if errors.As(err, &fb) {
		return fb.cause, s.opts.APIV2 == V2Auto || fb.cheaper
	}
	ae, ok := v2Refusal(err)
	if !ok {
		return "", false
	}
	return "API v2 refused: " + refusalText(ae), s.opts.APIV2 == V2Auto
}

// resumeIndex finds where a pass that stopped in phase at continues: that phase, or — when it
// is gone (a deleted list or field, named by its id) — the first phase of its kind with a
// greater id, or else the first phase after those of its kind. An unknown phase (known false)
// starts the pass's phases over.
func resumeIndex(phases []phase, at PhaseID, known bool) int {
	if !known {
		return 0
	}
	if i := slices.IndexFunc(phases, func(p phase) bool { return p.id == at }); i >= 0 {
		return i
	}
	if !at.Kind.hasID() {
		return 0
	}
	last := -1
	for i, p := range phases {
		if p.id.Kind != at.Kind {
			continue
		}
		if p.id.ID > at.ID {
			return i
		}
		last = i
	}
	return min(last+1, len(phases)-1)
}
