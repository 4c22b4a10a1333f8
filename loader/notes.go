package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Note is one row of notes with its associations (docs/warehouse.md).
type Note struct {
	ID              int64
	CreatorID       *int64
	Content         *string // plain text, or HTML when Type is 2
	Type            int     // 0 plain, 1 email, 2 HTML, 3 notetaker
	InteractionID   *int64
	InteractionType *int
	IsMeeting       bool
	ParentID        *int64
	CreatedAt       time.Time
	UpdatedAt       *time.Time
	// The note's persons by relation (note_persons), organizations and opportunities; each
	// set replaces the stored one when the note is written.
	AssociatedPersonIDs, InteractionPersonIDs, MentionedPersonIDs, OrganizationIDs, OpportunityIDs []int64
}

// Relations of note_persons.
const (
	NoteRelationAssociated  = "associated"
	NoteRelationInteraction = "interaction"
	NoteRelationMentioned   = "mentioned"
)

// notesTable is how a page's notes are staged and upserted.
var notesTable = stagedTable{name: "notes", key: idKey, cols: []string{"id", "creator_id", "content", "type",
	"interaction_id", "interaction_type", "is_meeting", "parent_id", "created_at", "updated_at", "synced_at"}}

// noteRows are a page's notes, cleaned and ready for COPY, and their association pairs.
type noteRows struct {
	rows          [][]any
	ids           []int64 // every note whose associations are replaced
	personNotes   []int64 // note_persons, element by element
	personIDs     []int64
	relations     []string
	organizations association
	opportunities association
}

func noteRowsOf(c *cleaner, notes []Note, seenAt time.Time) noteRows {
	notes = lastByID(notes, func(n Note) int64 { return n.ID })
	out := noteRows{
		rows:          make([][]any, len(notes)),
		organizations: association{table: "note_organizations", parentCol: "note_id", childCol: "organization_id"},
		opportunities: association{table: "note_opportunities", parentCol: "note_id", childCol: "opportunity_id"},
	}
	for i, n := range notes {
		var itype *int
		if n.InteractionType != nil {
			v := clampSmallint(*n.InteractionType)
			itype = &v
		}
		out.rows[i] = []any{n.ID, n.CreatorID, c.ptr(n.Content), clampSmallint(n.Type), n.InteractionID, itype,
			n.IsMeeting, n.ParentID, n.CreatedAt, n.UpdatedAt, seenAt}
		out.ids = append(out.ids, n.ID)
		for _, rel := range []struct {
			name string
			ids  []int64
		}{
			{NoteRelationAssociated, n.AssociatedPersonIDs},
			{NoteRelationInteraction, n.InteractionPersonIDs},
			{NoteRelationMentioned, n.MentionedPersonIDs},
		} {
			for _, p := range rel.ids {
				out.personNotes = append(out.personNotes, n.ID)
				out.personIDs = append(out.personIDs, p)
				out.relations = append(out.relations, rel.name)
			}
		}
		out.organizations.parentIDs = append(out.organizations.parentIDs, n.ID)
		out.opportunities.parentIDs = append(out.opportunities.parentIDs, n.ID)
		for _, o := range n.OrganizationIDs {
			out.organizations.parents = append(out.organizations.parents, n.ID)
			out.organizations.children = append(out.organizations.children, o)
		}
		for _, o := range n.OpportunityIDs {
			out.opportunities.parents = append(out.opportunities.parents, n.ID)
			out.opportunities.children = append(out.opportunities.children, o)
		}
	}
	return out
}

// commitNotes upserts the notes (live again) and replaces their association sets; it returns
// the rows written.
func (s *Store) commitNotes(ctx context.Context, tx pgx.Tx, n noteRows) (int64, error) {
	if len(n.rows) == 0 {
		return 0, nil
	}
	written, err := s.writeStaged(ctx, tx, notesTable, n.rows)
	if err != nil {
		return 0, fmt.Errorf("upsert notes page: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+s.table("note_persons")+` WHERE note_id = ANY($1)`, n.ids); err != nil {
		return 0, fmt.Errorf("replace note persons: delete: %w", err)
	}
	if len(n.personNotes) > 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO `+s.table("note_persons")+` (note_id, person_id, relation)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING`,
			n.personNotes, n.personIDs, n.relations)
		if err != nil {
			return 0, fmt.Errorf("replace note persons: insert: %w", err)
		}
		written += tag.RowsAffected()
	}
	for _, a := range []association{n.organizations, n.opportunities} {
		w, err := s.replaceAssociation(ctx, tx, a)
		if err != nil {
			return 0, fmt.Errorf("replace note associations: %w", err)
		}
		written += w
	}
	return written, nil
}
