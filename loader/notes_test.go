package loader_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

type noteRow struct {
	CreatorID       *int64
	Content         *string
	Type            int
	InteractionID   *int64
	InteractionType *int
	IsMeeting       bool
	ParentID        *int64
	CreatedAt       time.Time
	UpdatedAt       *time.Time
	SyncedAt        time.Time
	DeletedAt       *time.Time
}

func (e env) note(t *testing.T, id int64) noteRow {
	t.Helper()
	var r noteRow
	require.NoError(t, e.conn.QueryRow(t.Context(), `SELECT creator_id, content, type, interaction_id, interaction_type,
		is_meeting, parent_id, created_at, updated_at, synced_at, deleted_at FROM `+e.table("notes")+` WHERE id = $1`, id).
		Scan(&r.CreatorID, &r.Content, &r.Type, &r.InteractionID, &r.InteractionType, &r.IsMeeting, &r.ParentID,
			&r.CreatedAt, &r.UpdatedAt, &r.SyncedAt, &r.DeletedAt))
	return r
}

// noteLinks returns a note's association rows as "persons:<relation>:<id>", "organizations:<id>"
// and "opportunities:<id>", sorted.
func (e env) noteLinks(t *testing.T, noteID int64) []string {
	t.Helper()
	rows, err := e.conn.Query(t.Context(), `
		SELECT 'persons:' || relation || ':' || person_id FROM `+e.table("note_persons")+` WHERE note_id = $1
		UNION ALL SELECT 'organizations:' || organization_id FROM `+e.table("note_organizations")+` WHERE note_id = $1
		UNION ALL SELECT 'opportunities:' || opportunity_id FROM `+e.table("note_opportunities")+` WHERE note_id = $1
		ORDER BY 1`, noteID)
	require.NoError(t, err)
	out := []string{}
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestCommitPageNotes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	created := time.Date(2024, 8, 13, 3, 23, 7, 846_000_000, time.FixedZone("", -7*3600))
	edited := created.Add(48 * time.Hour)

	full := loader.Note{
		ID: 1, CreatorID: ptr[int64](70), Content: ptr("<p>Intro call. Raising a Series A — 🚀</p>"), Type: 2,
		InteractionID: ptr[int64](88123), InteractionType: ptr(0), IsMeeting: true, CreatedAt: created, UpdatedAt: &edited,
		AssociatedPersonIDs:  []int64{10, 11},
		InteractionPersonIDs: []int64{11, 12},
		MentionedPersonIDs:   []int64{13},
		OrganizationIDs:      []int64{500, 500}, // a duplicate is stored once
		OpportunityIDs:       []int64{900},
	}
	reply := loader.Note{ID: 2, CreatorID: ptr[int64](71), Content: ptr("plain reply"), Type: 0, ParentID: ptr[int64](1), CreatedAt: created}
	empty := loader.Note{ID: 3, Type: 3, CreatedAt: created, Content: ptr("a\x00b")} // no creator; a NUL in content
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("notes", t0, "p2"), SeenAt: t0,
		Notes: []loader.Note{{ID: 1, Type: 0, CreatedAt: created}, full, reply, empty}}) // the last note 1 wins
	require.NoError(t, err)
	// 3 notes + 5 person links (11 twice, by relation) + 1 organization + 1 opportunity.
	require.Equal(t, loader.PageStats{Rows: 3 + 5 + 1 + 1, NULsReplaced: 1}, stats)

	require.Equal(t, noteRow{CreatorID: ptr[int64](70), Content: full.Content, Type: 2, InteractionID: ptr[int64](88123),
		InteractionType: ptr(0), IsMeeting: true, CreatedAt: e.note(t, 1).CreatedAt, UpdatedAt: e.note(t, 1).UpdatedAt,
		SyncedAt: e.note(t, 1).SyncedAt}, e.note(t, 1))
	n1 := e.note(t, 1)
	require.True(t, created.Equal(n1.CreatedAt))
	require.True(t, edited.Equal(*n1.UpdatedAt))
	require.True(t, t0.Equal(n1.SyncedAt))
	require.Equal(t, []string{"opportunities:900", "organizations:500", "persons:associated:10", "persons:associated:11",
		"persons:interaction:11", "persons:interaction:12", "persons:mentioned:13"}, e.noteLinks(t, 1))

	n2 := e.note(t, 2)
	require.Equal(t, ptr[int64](1), n2.ParentID)
	require.Nil(t, n2.UpdatedAt)
	require.Nil(t, n2.InteractionID)
	require.Nil(t, n2.InteractionType)
	require.Empty(t, e.noteLinks(t, 2))
	n3 := e.note(t, 3)
	require.Nil(t, n3.CreatorID)
	require.Equal(t, "a\uFFFDb", *n3.Content)

	cpAfter, err := e.store.LoadCheckpoint(ctx, "notes")
	require.NoError(t, err)
	require.Equal(t, "p2", cpAfter.PageToken, "the checkpoint is written with the page")

	// Fetched again, a note's sets are replaced as a whole, even by empty ones; other notes'
	// sets are untouched; null content and an unknown type code are stored as received.
	t1 := t0.Add(time.Hour)
	again := full
	again.Content, again.Type = nil, 99
	again.AssociatedPersonIDs, again.InteractionPersonIDs, again.MentionedPersonIDs = []int64{14}, nil, nil
	again.OrganizationIDs, again.OpportunityIDs = nil, []int64{901}
	e.commit(t, loader.Page{Checkpoint: cp("notes", t0, "p3"), SeenAt: t1, Notes: []loader.Note{again}})
	require.Equal(t, []string{"opportunities:901", "persons:associated:14"}, e.noteLinks(t, 1))
	n1 = e.note(t, 1)
	require.Nil(t, n1.Content)
	require.Equal(t, 99, n1.Type)
	require.True(t, t1.Equal(n1.SyncedAt))

	// A type code beyond smallint is clamped rather than failing the page.
	e.commit(t, loader.Page{Checkpoint: cp("notes", t0, "p4"), SeenAt: t1,
		Notes: []loader.Note{{ID: 4, Type: 1 << 20, InteractionType: ptr(-1 << 20), CreatedAt: created}}})
	require.Equal(t, 32767, e.note(t, 4).Type)
	require.Equal(t, -32768, *e.note(t, 4).InteractionType)
}

func TestCompleteNotesPhase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	note := func(id int64) loader.Note {
		return loader.Note{ID: id, Content: ptr(fmt.Sprint("note ", id)), CreatedAt: created,
			AssociatedPersonIDs: []int64{id * 10}, OrganizationIDs: []int64{id * 100}, OpportunityIDs: []int64{id * 1000}}
	}
	var first []loader.Note
	for id := int64(1); id <= 12; id++ {
		first = append(first, note(id))
	}
	e.commit(t, loader.Page{Checkpoint: cp("notes", t0, ""), SeenAt: t0, Notes: first})

	// Pass 2 sees notes 1..10: 11 and 12 are soft-deleted, keeping content and associations.
	t1 := t0.Add(24 * time.Hour)
	e.commit(t, loader.Page{Checkpoint: cp("notes", t1, "x"), SeenAt: t1, Notes: first[:10]})
	n, err := e.store.CompletePhase(ctx, cp("notes", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectNote), loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	require.Equal(t, []int64{11, 12}, e.ids(t, "notes", "deleted_at IS NOT NULL"))
	require.Equal(t, "note 11", *e.note(t, 11).Content)
	require.Equal(t, []string{"opportunities:11000", "organizations:1100", "persons:associated:110"}, e.noteLinks(t, 11))
	got, err := e.store.LoadCheckpoint(ctx, "notes")
	require.NoError(t, err)
	require.True(t, got.PassStartedAt.IsZero(), "the pass ended with the deletes")
	require.NotNil(t, got.LastCompletedAt)

	// Pass 3 sees only notes 1..3: 7 of 10 live notes is more than half; the guard refuses
	// and nothing changes; allowed once, it deletes them.
	t2 := t1.Add(24 * time.Hour)
	e.commit(t, loader.Page{Checkpoint: cp("notes", t2, "x"), SeenAt: t2, Notes: first[:3]})
	_, err = e.store.CompletePhase(ctx, cp("notes", t2, ""), loader.EndSoftDeleteUnseen(loader.ObjectNote), loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
	requireMassDelete(t, err, loader.MassDeleteError{Table: "notes", Live: 10, WouldDelete: 7, MaxShare: 0.5})
	require.Equal(t, []int64{11, 12}, e.ids(t, "notes", "deleted_at IS NOT NULL"))
	n, err = e.store.CompletePhase(ctx, cp("notes", t2, ""), loader.EndSoftDeleteUnseen(loader.ObjectNote), loader.PassOptions{MaxDeleteShare: 0.5, AllowMassDelete: true, EndsPass: true})
	require.NoError(t, err)
	require.Equal(t, int64(7), n)
	require.Equal(t, []int64{1, 2, 3}, e.ids(t, "notes", "deleted_at IS NULL"))

	// A soft-deleted note that comes back is live again.
	e.commit(t, loader.Page{Checkpoint: cp("notes", t2, ""), SeenAt: t2.Add(time.Hour), Notes: []loader.Note{note(12)}})
	require.Nil(t, e.note(t, 12).DeletedAt)
}
