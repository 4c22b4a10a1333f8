package extractor_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

type noteRow struct {
	ID                                 int64
	Creator                            *int64
	Content                            *string
	Type                               int16
	InteractionID                      *int64
	InteractionType                    *int16
	IsMeeting                          bool
	ParentID                           *int64
	Created                            time.Time
	Updated                            *time.Time
	Associated, Interaction, Mentioned []int64
	Orgs, Opps                         []int64
}

// TestNotesMatchWorkspace: notes and their associations equal the fake's
// after a sync; a note that vanishes is soft-deleted, an edited one updated.
func TestNotesMatchWorkspace(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 29
	cfg.Notes = 700 // two pages
	h := newHarness(t, cfg)
	ctx := t.Context()
	requireComplete(t, h.syncer(nil).Run(ctx, []extractor.StreamName{extractor.StreamNotes}))
	h.requireNotesEqual(t, h.fake.Snapshot())

	var gone int64
	h.fake.Mutate(func(w *affinitytest.Workspace) {
		for _, n := range w.Notes {
			if n.ParentID == nil {
				gone = n.ID
				break
			}
		}
		w.DeleteNote(gone)
		w.UpdateNote(w.Notes[10].ID, func(n *affinitytest.Note) {
			text := "<p>edited ✓</p>"
			n.Content = &text
			n.MentionedPersonIDs = append(n.MentionedPersonIDs, w.Persons[0].ID)
		})
		w.AddNote(affinitytest.Note{CreatorID: w.User.ID, Type: affinitytest.NotePlain, OrganizationIDs: []int64{w.Organizations[0].ID}})
	})
	requireComplete(t, h.syncer(nil).Run(ctx, []extractor.StreamName{extractor.StreamNotes}))
	h.requireNotesEqual(t, h.fake.Snapshot())
	var deleted bool
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM affinity.notes WHERE id = $1`, gone).Scan(&deleted))
	require.True(t, deleted)
}

func (h *harness) requireNotesEqual(t *testing.T, ws *affinitytest.Workspace) {
	t.Helper()
	rows, err := h.pool.Query(t.Context(), `SELECT n.id, n.creator_id, n.content, n.type, n.interaction_id, n.interaction_type,
		n.is_meeting, n.parent_id, n.created_at, n.updated_at,
		coalesce((SELECT array_agg(person_id ORDER BY person_id) FROM affinity.note_persons WHERE note_id = n.id AND relation = 'associated'), '{}'),
		coalesce((SELECT array_agg(person_id ORDER BY person_id) FROM affinity.note_persons WHERE note_id = n.id AND relation = 'interaction'), '{}'),
		coalesce((SELECT array_agg(person_id ORDER BY person_id) FROM affinity.note_persons WHERE note_id = n.id AND relation = 'mentioned'), '{}'),
		coalesce((SELECT array_agg(organization_id ORDER BY organization_id) FROM affinity.note_organizations WHERE note_id = n.id), '{}'),
		coalesce((SELECT array_agg(opportunity_id ORDER BY opportunity_id) FROM affinity.note_opportunities WHERE note_id = n.id), '{}')
		FROM affinity.notes n WHERE n.deleted_at IS NULL ORDER BY n.id`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[noteRow])
	require.NoError(t, err)
	require.NotEmpty(t, ws.Notes)
	want := make([]noteRow, 0, len(ws.Notes))
	for _, n := range ws.Notes {
		creator := n.CreatorID
		r := noteRow{ID: n.ID, Creator: &creator, Content: n.Content, Type: int16(n.Type), InteractionID: n.InteractionID,
			IsMeeting: n.IsMeeting, ParentID: n.ParentID, Created: n.CreatedAt.UTC(), Updated: utcPtr(n.UpdatedAt),
			Associated: sortedIDs(n.AssociatedPersonIDs), Interaction: sortedIDs(n.InteractionPersonIDs),
			Mentioned: sortedIDs(n.MentionedPersonIDs), Orgs: sortedIDs(n.OrganizationIDs), Opps: sortedIDs(n.OpportunityIDs)}
		if n.InteractionType != nil {
			it := int16(*n.InteractionType)
			r.InteractionType = &it
		}
		want = append(want, r)
	}
	for i := range got {
		got[i].Created = got[i].Created.UTC()
		got[i].Updated = utcPtr(got[i].Updated)
	}
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i], got[i], "note %d", want[i].ID)
	}
}
