package loader_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// seedPersons writes persons 1..n seen at seenAt, each with one field value.
func seedPersons(t *testing.T, e env, n int, seenAt time.Time) {
	t.Helper()
	var ps []loader.Person
	for i := 1; i <= n; i++ {
		ps = append(ps, loader.Person{ID: int64(i), FirstName: ptr(fmt.Sprint("p", i))})
	}
	_, err := e.store.CommitPage(t.Context(), loader.Page{Checkpoint: cp("persons", seenAt, ""), SeenAt: seenAt, Persons: ps})
	require.NoError(t, err)
	for i := 1; i <= n; i++ {
		for _, et := range []int{0, 1} { // entity_type 1 rows must not be touched by a persons delete
			_, err := e.conn.Exec(t.Context(), `INSERT INTO `+e.table("field_values")+`
				(id, field_id, entity_type, entity_id, synced_at) VALUES ($1, 1, $2, $3, now())`, 1000*et+i, et, i)
			require.NoError(t, err)
		}
	}
}

func TestCompletePhaseSoftDeletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	seedPersons(t, e, 4, t0)

	// Pass 2 sees 1..3 only; 4 is soft-deleted with its values.
	t1 := t0.Add(24 * time.Hour)
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("persons", t1, "x"), SeenAt: t1,
		Persons: []loader.Person{{ID: 1}, {ID: 2}, {ID: 3}}})
	require.NoError(t, err)
	done := cp("persons", t1, "should-be-cleared")
	done.Pages, done.Rows = 7, 3
	n, err := e.store.CompletePhase(ctx, done, loader.EndSoftDeleteUnseen(loader.ObjectPerson), loader.PassOptions{MaxDeleteShare: 0.5, NextPhase: "interaction_dates"})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, int64(1), e.count(t, "persons", "deleted_at IS NOT NULL AND id = 4"))
	require.NotNil(t, e.person(t, 4).FirstName, "a soft-deleted row keeps its values")
	require.Equal(t, int64(1), e.count(t, "field_values", "deleted_at IS NOT NULL"))
	require.Equal(t, int64(1), e.count(t, "field_values", "deleted_at IS NOT NULL AND entity_type = 0 AND entity_id = 4"))
	got, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.Equal(t, "", got.PageToken)
	require.Equal(t, "interaction_dates", got.Phase, "the checkpoint moves to the next phase with the deletes")
	require.Equal(t, int64(7), got.Pages)
	require.True(t, t1.Equal(got.PassStartedAt))

	// Running it again deletes nothing more; person 4 coming back is live again.
	n, err = e.store.CompletePhase(ctx, done, loader.EndSoftDeleteUnseen(loader.ObjectPerson), loader.PassOptions{MaxDeleteShare: 0.5})
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("persons", t1, ""), SeenAt: t1.Add(time.Hour),
		Persons: []loader.Person{{ID: 4, FirstName: ptr("back")}}})
	require.NoError(t, err)
	p4 := e.person(t, 4)
	require.Nil(t, p4.DeletedAt)
	require.Equal(t, "back", *p4.FirstName)

	// FinishStream clears the pass and records completion.
	require.NoError(t, e.store.FinishStream(ctx, "persons"))
	got, err = e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.True(t, got.PassStartedAt.IsZero())
	require.Zero(t, got.Pages)
	require.NotNil(t, got.LastCompletedAt)
}

func TestCompletePhaseOtherEntities(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("organizations", t0, ""), SeenAt: t0,
		Organizations: []loader.Organization{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}},
		Opportunities: []loader.Opportunity{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}}})
	require.NoError(t, err)
	_, err = e.conn.Exec(ctx, `INSERT INTO `+e.table("field_values")+` (id, field_id, entity_type, entity_id, synced_at)
		VALUES (1, 1, 1, 2, now()), (2, 1, 8, 2, now()), (3, 1, 0, 2, now())`)
	require.NoError(t, err)
	t1 := t0.Add(time.Hour)
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("organizations", t1, ""), SeenAt: t1,
		Organizations: []loader.Organization{{ID: 1, Name: "a"}}})
	require.NoError(t, err)
	n, err := e.store.CompletePhase(ctx, cp("organizations", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectOrganization), loader.PassOptions{MaxDeleteShare: 0.5})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, int64(1), e.count(t, "field_values", "deleted_at IS NOT NULL AND id = 1"))
	require.Equal(t, int64(2), e.count(t, "opportunities", "deleted_at IS NULL"), "other tables untouched")

	n, err = e.store.CompletePhase(ctx, cp("opportunities", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectOpportunity), loader.PassOptions{MaxDeleteShare: 1})
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	require.Equal(t, int64(1), e.count(t, "field_values", "deleted_at IS NOT NULL AND id = 2"))
	require.Equal(t, int64(1), e.count(t, "field_values", "deleted_at IS NULL"))

	_, err = e.store.CompletePhase(ctx, cp("interactions", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectKind("interaction")), loader.PassOptions{})
	require.ErrorContains(t, err, "no complete pass soft-deletes unseen interaction rows")
	_, err = e.store.CompletePhase(ctx, cp("list_entries", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectListEntry), loader.PassOptions{})
	require.ErrorContains(t, err, "no complete pass soft-deletes unseen list_entry rows", "entries are deleted per list")
	_, err = e.store.CompletePhase(ctx, cp("opportunities", t1, ""), loader.EndClearUnseenDates(loader.EntityOpportunity), loader.PassOptions{})
	require.ErrorContains(t, err, "only persons and organizations have interaction dates")
	_, err = e.store.CompletePhase(ctx, loader.Checkpoint{Stream: "persons"}, loader.EndNothing(), loader.PassOptions{})
	require.ErrorContains(t, err, "no pass in progress")
}

func TestMassDeleteGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rows      int
		seen      int
		opts      loader.PassOptions
		wantDel   int64
		wantGuard bool
	}{
		{name: "over the share", rows: 10, seen: 4, opts: loader.PassOptions{MaxDeleteShare: 0.5}, wantGuard: true},
		{name: "exactly the share", rows: 10, seen: 5, opts: loader.PassOptions{MaxDeleteShare: 0.5}, wantDel: 5},
		{name: "allowed once", rows: 10, seen: 0, opts: loader.PassOptions{MaxDeleteShare: 0.5, AllowMassDelete: true}, wantDel: 10},
		{name: "guard off", rows: 10, seen: 1, opts: loader.PassOptions{MaxDeleteShare: 1}, wantDel: 9},
		{name: "small table unguarded", rows: 9, seen: 0, opts: loader.PassOptions{MaxDeleteShare: 0.5}, wantDel: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "affinity")
			seedPersons(t, e, tt.rows, t0)
			t1 := t0.Add(time.Hour)
			var seen []loader.Person
			for i := 1; i <= tt.seen; i++ {
				seen = append(seen, loader.Person{ID: int64(i)})
			}
			_, err := e.store.CommitPage(t.Context(), loader.Page{Checkpoint: cp("persons", t1, "last"), SeenAt: t1, Persons: seen})
			require.NoError(t, err)
			n, err := e.store.CompletePhase(t.Context(), cp("persons", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectPerson), tt.opts)
			if tt.wantGuard {
				var mass *loader.MassDeleteError
				require.True(t, errors.As(err, &mass), "got %v", err)
				require.Equal(t, loader.MassDeleteError{Table: "persons", Live: int64(tt.rows),
					WouldDelete: int64(tt.rows - tt.seen), MaxShare: tt.opts.MaxDeleteShare}, *mass)
				require.Contains(t, err.Error(), "would soft-delete 6 of 10 live rows")
				require.Zero(t, n)
				require.Zero(t, e.count(t, "persons", "deleted_at IS NOT NULL"), "the guard deletes nothing")
				require.Zero(t, e.count(t, "field_values", "deleted_at IS NOT NULL"))
				got, err := e.store.LoadCheckpoint(t.Context(), "persons")
				require.NoError(t, err)
				require.Equal(t, "last", got.PageToken, "a refused phase does not move the checkpoint")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantDel, n)
			require.Equal(t, tt.wantDel, e.count(t, "persons", "deleted_at IS NOT NULL"))
		})
	}
}

func TestCompleteDatesPhase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	when := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	dates := &loader.InteractionDates{LastEmailAt: &when, NextEventAt: &when}
	// Pass 1: persons 1, 2, 3 have dates; 3 is then soft-deleted.
	_, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("persons", t0, ""), SeenAt: t0, WithDates: true,
		Persons: []loader.Person{{ID: 1, Dates: dates}, {ID: 2, Dates: dates}, {ID: 3, Dates: dates}}})
	require.NoError(t, err)
	_, err = e.conn.Exec(ctx, `UPDATE `+e.table("persons")+` SET deleted_at = now() WHERE id = 3`)
	require.NoError(t, err)
	// Pass 2: a person never in a dates listing, and the dates listing returns only person 1.
	t1 := t0.Add(time.Hour)
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("persons", t1, ""), SeenAt: t1,
		Persons: []loader.Person{{ID: 1}, {ID: 2}, {ID: 4}}})
	require.NoError(t, err)
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("persons", t1, ""), SeenAt: t1.Add(time.Minute), WithDates: true,
		Persons: []loader.Person{{ID: 1, Dates: dates}}})
	require.NoError(t, err)

	done := cp("persons", t1, "")
	done.Phase = "interaction_dates"
	n, err := e.store.CompletePhase(ctx, done, loader.EndClearUnseenDates(loader.EntityPerson), loader.PassOptions{EndsPass: true})
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "only person 2 had dates to clear")
	require.Equal(t, int64(1), e.count(t, "persons", "id = 1 AND last_email_at = $1 AND next_event_at = $1", when))
	require.Equal(t, int64(1), e.count(t, "persons", "id = 2 AND last_email_at IS NULL AND next_event_at IS NULL"))
	require.Equal(t, int64(1), e.count(t, "persons", "id = 3 AND last_email_at = $1", when), "soft-deleted rows keep their dates")
	require.Zero(t, e.count(t, "persons", "deleted_at IS NULL AND id <> 3 AND deleted_at IS NOT NULL"))
	got, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.True(t, got.PassStartedAt.IsZero(), "the last phase ends the pass in the same transaction")
	require.Empty(t, got.Phase)
	require.NotNil(t, got.LastCompletedAt)
}
