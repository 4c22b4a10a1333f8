package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// PhaseInteractionDates is the phase of the persons and organizations streams that reads the
// with_interaction_dates listing.
const PhaseInteractionDates = "interaction_dates"

// PhaseUnlisted is the phase of the field_values stream that refreshes the
// values of entities on no list (sync.field_values_for_unlisted).
const PhaseUnlisted = "unlisted"

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
	// FieldValuesForUnlisted keeps the field values of entities on no live list entry when the
	// field_values pass completes (sync.field_values_for_unlisted).
	FieldValuesForUnlisted bool
}

// guardMinLive is the size below which a table is not guarded.
const guardMinLive = 10

// entityTables maps the entity streams to their table and field_values entity_type code.
var entityTables = map[string]struct {
	table      string
	entityType int
}{
	"persons":       {"persons", 0},
	"organizations": {"organizations", 1},
	"opportunities": {"opportunities", 8},
}

// CompletePhase ends a phase that read all its pages, in one transaction, and moves the
// checkpoint to the start of opts.NextPhase (Rows and Pages as given), or ends the pass when
// opts.EndsPass is set, so a crash right after it never repeats the phase. What else it does
// depends on the stream and phase (design.md §4, §6); soft deletes take the live rows the pass
// did not see (synced_at before cp.PassStartedAt), unless the guard refuses (*MassDeleteError,
// nothing changed, the checkpoint stays):
//   - persons, organizations, opportunities, phase "": soft-delete unseen rows and their
//     field values;
//   - persons, organizations, phase "interaction_dates": null the seven *_at columns of live
//     rows the dates listing did not return;
//   - lists, phase "": soft-delete unseen lists, their live entries and those entries' values;
//   - fields, phase "": soft-delete unseen fields and their dropdown options;
//   - list_entries, phase = a list id in decimal: soft-delete that list's unseen entries
//     (guarded per list) and their values;
//   - notes, phase "": soft-delete unseen notes (their associations are left as they were);
//   - field_values, phase "": unless opts.FieldValuesForUnlisted, soft-delete the live values
//     of entities on no live list entry;
//   - field_value_changes and organization_details, any phase: nothing besides the checkpoint.
//
// It returns how many rows of the stream's own table were soft-deleted or had their dates
// cleared (cascaded rows are not counted).
func (s *Store) CompletePhase(ctx context.Context, cp Checkpoint, opts PassOptions) (int64, error) {
	if cp.PassStartedAt.IsZero() {
		return 0, fmt.Errorf("complete phase %q of %s: no pass in progress", cp.Phase, cp.Stream)
	}
	run, err := s.phaseEnd(cp, opts)
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

// phaseEnd returns the work of the end of cp's phase, run inside CompletePhase's transaction.
func (s *Store) phaseEnd(cp Checkpoint, opts PassOptions) (func(context.Context, pgx.Tx) (int64, error), error) {
	nothing := func(context.Context, pgx.Tx) (int64, error) { return 0, nil }
	et, isEntity := entityTables[cp.Stream]
	switch {
	case isEntity && cp.Phase == "":
		return func(ctx context.Context, tx pgx.Tx) (int64, error) {
			return s.softDeleteUnseen(ctx, tx, et.table, et.entityType, cp, opts)
		}, nil
	case isEntity && cp.Phase == PhaseInteractionDates && et.entityType != 8:
		return func(ctx context.Context, tx pgx.Tx) (int64, error) {
			return s.clearUnseenDates(ctx, tx, et.table, cp)
		}, nil
	case cp.Stream == "lists" && cp.Phase == "":
		return func(ctx context.Context, tx pgx.Tx) (int64, error) { return s.softDeleteUnseenLists(ctx, tx, cp, opts) }, nil
	case cp.Stream == "fields" && cp.Phase == "":
		return func(ctx context.Context, tx pgx.Tx) (int64, error) {
			return s.softDeleteUnseenFields(ctx, tx, cp, opts)
		}, nil
	case cp.Stream == "list_entries":
		listID, err := strconv.ParseInt(cp.Phase, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("phase is not a list id: %w", err)
		}
		return func(ctx context.Context, tx pgx.Tx) (int64, error) {
			return s.softDeleteUnseenEntries(ctx, tx, listID, cp, opts)
		}, nil
	case cp.Stream == "notes" && cp.Phase == "":
		return func(ctx context.Context, tx pgx.Tx) (int64, error) { return s.softDeleteUnseenNotes(ctx, tx, cp, opts) }, nil
	case cp.Stream == "field_values" && cp.Phase == "":
		if opts.FieldValuesForUnlisted {
			return nothing, nil
		}
		return func(ctx context.Context, tx pgx.Tx) (int64, error) { return s.softDeleteUnlistedValues(ctx, tx, opts) }, nil
	case cp.Stream == "field_values" && cp.Phase == PhaseUnlisted,
		cp.Stream == "field_value_changes", cp.Stream == "organization_details":
		return nothing, nil
	}
	return nil, errors.New("not a phase the loader knows")
}

// softDeleteUnseen soft-deletes the live rows of table not seen since the pass started, and
// their field values, after checking the mass delete guard.
func (s *Store) softDeleteUnseen(ctx context.Context, tx pgx.Tx, table string, entityType int, cp Checkpoint, opts PassOptions) (int64, error) {
	gone, err := guard(ctx, tx, table, "", `SELECT count(*), count(*) FILTER (WHERE synced_at < $1)
		FROM `+s.table(table)+` WHERE deleted_at IS NULL`, opts, cp.PassStartedAt)
	if err != nil || gone == 0 {
		return 0, err
	}
	var deleted int64
	err = tx.QueryRow(ctx, `WITH gone AS (
			UPDATE `+s.table(table)+` SET deleted_at = now()
			WHERE deleted_at IS NULL AND synced_at < $1
			RETURNING id
		), values_gone AS (
			UPDATE `+s.table("field_values")+` fv SET deleted_at = now()
			FROM gone
			WHERE fv.entity_type = $2 AND fv.entity_id = gone.id AND fv.deleted_at IS NULL
		)
		SELECT count(*) FROM gone`, cp.PassStartedAt, entityType).Scan(&deleted)
	if err != nil {
		return 0, fmt.Errorf("soft delete unseen %s: %w", table, err)
	}
	return deleted, nil
}

// guardRefuses applies the mass delete rule of design.md §6.
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
