package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// MassDeleteError reports a soft delete the guard refused: nothing was deleted.
type MassDeleteError struct {
	Table       string
	Scope       string // "" = the whole table; e.g. "list 123" for list entries
	Live        int64
	WouldDelete int64
	MaxShare    float64
}

func (e *MassDeleteError) Error() string {
	where := e.Table
	if e.Scope != "" {
		where += " (" + e.Scope + ")"
	}
	return fmt.Sprintf("mass delete guard: %s: a complete pass would soft-delete %d of %d live rows (%.1f%%), more than the %.1f%% allowed; nothing deleted (allow it once with --allow-mass-delete)",
		where, e.WouldDelete, e.Live, 100*float64(e.WouldDelete)/float64(e.Live), 100*e.MaxShare)
}

// PassOptions tune the end of a phase: the soft-delete guard, and where the
// checkpoint goes next.
type PassOptions struct {
	MaxDeleteShare  float64 // share of a table's live rows a pass may soft-delete; ≥ 1 = no guard
	AllowMassDelete bool    // pass the guard this time
	// NextPhase is the phase the checkpoint moves to (from its first page),
	// in the same transaction, unless EndsPass is set.
	NextPhase string
	// EndsPass ends the stream's pass in the same transaction, as FinishStream does.
	EndsPass bool
}

// guardMinLive is the size below which a table is not guarded.
const guardMinLive = 10

// PhaseEnd is what the end of a complete phase does in the warehouse besides moving the
// checkpoint. The zero value does nothing else. The extractor's stream registry says which
// one each phase ends with.
type PhaseEnd struct {
	op     phaseOp
	kind   ObjectKind // for endSoftDeleteUnseen
	entity EntityKind // for endClearUnseenDates
	listID int64      // for endSoftDeleteUnseenEntries
}

type phaseOp int

const (
	endNothing phaseOp = iota
	endSoftDeleteUnseen
	endSoftDeleteUnseenEntries
	endClearUnseenDates
	endSoftDeleteUnlistedValues
)

// EndNothing ends a phase with nothing besides the checkpoint.
func EndNothing() PhaseEnd { return PhaseEnd{} }

// EndSoftDeleteUnseen soft-deletes the live rows of an object kind's table that the pass did
// not see, with the cascades of the warehouse contract: an entity kind (ObjectPerson,
// ObjectOrganization, ObjectOpportunity) takes its field values (a person its relationship
// strength pairs too, with a history row each), ObjectList its live entries and their values,
// ObjectField its dropdown options, ObjectNote, ObjectEntityFile and ObjectReminder nothing
// more.
func EndSoftDeleteUnseen(kind ObjectKind) PhaseEnd {
	return PhaseEnd{op: endSoftDeleteUnseen, kind: kind}
}

// EndSoftDeleteUnseenEntries soft-deletes the live entries of one list that the pass did not
// see, and their values; the mass delete guard measures that list alone.
func EndSoftDeleteUnseenEntries(listID int64) PhaseEnd {
	return PhaseEnd{op: endSoftDeleteUnseenEntries, listID: listID}
}

// EndClearUnseenDates nulls the seven interaction date columns of the live rows of an entity
// kind that the with_interaction_dates listing did not return. Soft-deleted rows keep theirs.
func EndClearUnseenDates(k EntityKind) PhaseEnd { return PhaseEnd{op: endClearUnseenDates, entity: k} }

// EndSoftDeleteUnlistedValues soft-deletes the live field values, global ones included, of
// entities on no live list entry.
func EndSoftDeleteUnlistedValues() PhaseEnd { return PhaseEnd{op: endSoftDeleteUnlistedValues} }

// String names the operation, for logs and errors.
func (e PhaseEnd) String() string {
	switch e.op {
	case endSoftDeleteUnseen:
		return "soft-delete unseen " + string(e.kind) + " rows"
	case endSoftDeleteUnseenEntries:
		return "soft-delete unseen entries of list " + strconv.FormatInt(e.listID, 10)
	case endClearUnseenDates:
		return "clear unseen interaction dates of " + e.entity.Table()
	case endSoftDeleteUnlistedValues:
		return "soft-delete values of unlisted entities"
	}
	return "nothing"
}

// CompletePhase ends a phase that read all its pages, in one transaction: it does what end
// says and moves the checkpoint to the start of opts.NextPhase (Rows and Pages as given), or
// ends the pass when opts.EndsPass is set, so a crash right after it never repeats the phase.
// Soft deletes take the live rows the pass did not see (synced_at before cp.PassStartedAt),
// unless the guard refuses (*MassDeleteError, nothing changed, the checkpoint stays).
//
// It returns how many rows of the operation's own table were soft-deleted or had their dates
// cleared (cascaded rows are not counted).
func (s *Store) CompletePhase(ctx context.Context, cp Checkpoint, end PhaseEnd, opts PassOptions) (int64, error) {
	if cp.PassStartedAt.IsZero() {
		return 0, fmt.Errorf("complete phase %q of %s: no pass in progress", cp.Phase, cp.Stream)
	}
	run, err := s.phaseEnd(cp, end, opts)
	if err != nil {
		return 0, fmt.Errorf("complete phase %q of %s: %w", cp.Phase, cp.Stream, err)
	}

	var n int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if n, err = run(ctx, tx); err != nil {
			return err
		}
		if opts.EndsPass {
			return s.finishStream(ctx, tx, cp.Stream)
		}
		next := cp
		next.Phase, next.PageToken = opts.NextPhase, ""
		return s.saveCheckpoint(ctx, tx, next)
	})
	if err != nil {
		var mass *MassDeleteError
		if errors.As(err, &mass) {
			s.logger.Warn("soft delete refused by the mass delete guard", "table", mass.Table, "scope", mass.Scope,
				"live", mass.Live, "would_delete", mass.WouldDelete, "max_share", mass.MaxShare)
		}
		return 0, fmt.Errorf("complete phase %q of %s: %w", cp.Phase, cp.Stream, err)
	}
	// A phase per list or tracked field would flood the log at info level:
	// only phases that deleted or cleared something say so there.
	level := slog.LevelDebug
	if n > 0 {
		level = slog.LevelInfo
	}
	s.logger.Log(ctx, level, "phase complete", "stream", cp.Stream, "phase", cp.Phase, "affected", n)
	return n, nil
}

// phaseEnd returns the work of end, run inside CompletePhase's transaction.
func (s *Store) phaseEnd(cp Checkpoint, end PhaseEnd, opts PassOptions) (func(context.Context, pgx.Tx) (int64, error), error) {
	var d unseen
	switch end.op {
	case endNothing:
		return func(context.Context, pgx.Tx) (int64, error) { return 0, nil }, nil
	case endClearUnseenDates:
		if end.entity != EntityPerson && end.entity != EntityOrganization {
			return nil, fmt.Errorf("%s: only persons and organizations have interaction dates", end)
		}
		return func(ctx context.Context, tx pgx.Tx) (int64, error) {
			return s.clearUnseenDates(ctx, tx, end.entity.Table(), cp)
		}, nil
	case endSoftDeleteUnseen:
		var err error
		if d, err = unseenRows(end.kind, cp.PassStartedAt); err != nil {
			return nil, err
		}
	case endSoftDeleteUnseenEntries:
		d = unseenEntries(end.listID, cp.PassStartedAt)
	case endSoftDeleteUnlistedValues:
		d = s.unlistedValues()
	default:
		return nil, errors.New("not a phase end the loader knows")
	}
	return func(ctx context.Context, tx pgx.Tx) (int64, error) { return s.softDeleteUnseen(ctx, tx, d, opts) }, nil
}

// guardRefuses applies the mass-delete rule (sync.max_delete_share, docs/configuration.md).
func guardRefuses(live, wouldDelete int64, opts PassOptions) bool {
	return live >= guardMinLive && opts.MaxDeleteShare < 1 && !opts.AllowMassDelete &&
		float64(wouldDelete) > opts.MaxDeleteShare*float64(live)
}

// clearUnseenDates nulls the interaction dates of live rows the complete dates listing did not
// return. Soft-deleted rows keep theirs.
func (s *Store) clearUnseenDates(ctx context.Context, tx pgx.Tx, table string, cp Checkpoint) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE `+s.table(table)+` SET
			first_email_at = NULL, last_email_at = NULL, first_event_at = NULL, last_event_at = NULL,
			next_event_at = NULL, last_chat_message_at = NULL, last_interaction_at = NULL
		WHERE deleted_at IS NULL
		  AND (interaction_dates_synced_at IS NULL OR interaction_dates_synced_at < $1)
		  AND num_nonnulls(first_email_at, last_email_at, first_event_at, last_event_at,
		                   next_event_at, last_chat_message_at, last_interaction_at) > 0`, cp.PassStartedAt)
	if err != nil {
		return 0, fmt.Errorf("clear unseen interaction dates of %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}
