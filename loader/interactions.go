package loader

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Interaction is one row of interactions with its participants (replacing its stored
// interaction_persons rows). Key (Type, ID).
type Interaction struct {
	Type            int // 0 meeting, 1 call, 2 chat message, 3 email
	ID              int64
	OccurredAt      time.Time
	StartTime       *time.Time
	EndTime         *time.Time
	Title, Subject  *string
	Direction       *int
	ManualCreatorID *int64
	UpdatedAt       *time.Time
	NoteIDs         []int64
	Raw             []byte // the item as received (JSON); nil = none
	Persons         []InteractionPerson
}

// InteractionPerson is one participant of an interaction and its role.
type InteractionPerson struct {
	PersonID int64
	Role     string // from, to, cc, attendee, participant
}

// The roles of interaction_persons.
const (
	InteractionRoleFrom        = "from"        // e-mail sender
	InteractionRoleTo          = "to"          // e-mail recipient
	InteractionRoleCC          = "cc"          // e-mail copy
	InteractionRoleAttendee    = "attendee"    // meeting, call
	InteractionRoleParticipant = "participant" // chat
)

var interactionRoles = []string{InteractionRoleFrom, InteractionRoleTo, InteractionRoleCC, InteractionRoleAttendee, InteractionRoleParticipant}

// interactionKey is an interaction's key: ids are unique per type only.
type interactionKey struct {
	typ int
	id  int64
}

// interactionsTable is how a page's interactions are staged and upserted; interactions have
// no deleted_at.
var interactionsTable = stagedTable{name: "interactions", key: []string{"type", "id"}, onConflict: overwriteRow,
	cols: []string{"type", "id", "occurred_at", "start_time", "end_time", "title", "subject", "direction",
		"manual_creator_id", "updated_at", "note_ids", "raw", "synced_at"}}

// interactionRows are a page's interactions, one per key (the last given winning), cleaned and
// ready for COPY, and their participants element by element.
type interactionRows struct {
	rows                    [][]any
	types                   []int16 // every interaction whose participants are replaced
	ids                     []int64
	personTypes, personIxns []int64
	personIDs               []int64
	roles                   []string
}

func interactionRowsOf(c *cleaner, interactions []Interaction, seenAt time.Time) (interactionRows, error) {
	var out interactionRows
	for _, x := range lastByKey(interactions, func(x Interaction) interactionKey { return interactionKey{x.Type, x.ID} }) {
		typ := clampSmallint(x.Type)
		noteIDs := x.NoteIDs
		if noteIDs == nil {
			noteIDs = []int64{}
		}
		out.rows = append(out.rows, []any{typ, x.ID, x.OccurredAt, x.StartTime, x.EndTime, c.ptr(x.Title), c.ptr(x.Subject),
			clampSmallintPtr(x.Direction), x.ManualCreatorID, x.UpdatedAt, noteIDs, c.json(x.Raw), seenAt})
		out.types = append(out.types, int16(typ))
		out.ids = append(out.ids, x.ID)
		for _, p := range x.Persons {
			if !slices.Contains(interactionRoles, p.Role) {
				return interactionRows{}, fmt.Errorf("interaction %d of type %d: person %d has role %q, not one of %v",
					x.ID, x.Type, p.PersonID, p.Role, interactionRoles)
			}
			out.personTypes = append(out.personTypes, int64(typ))
			out.personIxns = append(out.personIxns, x.ID)
			out.personIDs = append(out.personIDs, p.PersonID)
			out.roles = append(out.roles, p.Role)
		}
	}
	return out, nil
}

// commitInteractions upserts the page's interactions and replaces their participants; it
// returns the rows written.
func (s *Store) commitInteractions(ctx context.Context, tx pgx.Tx, r interactionRows) (int64, error) {
	if len(r.rows) == 0 {
		return 0, nil
	}
	written, err := s.writeStaged(ctx, tx, interactionsTable, r.rows)
	if err != nil {
		return 0, fmt.Errorf("upsert interactions page: %w", err)
	}
	persons := s.table("interaction_persons")
	if _, err := tx.Exec(ctx, `DELETE FROM `+persons+` ip USING unnest($1::smallint[], $2::bigint[]) AS k(type, id)
		WHERE ip.type = k.type AND ip.interaction_id = k.id`, r.types, r.ids); err != nil {
		return 0, fmt.Errorf("replace interaction persons: delete: %w", err)
	}
	if len(r.personIDs) > 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO `+persons+` (type, interaction_id, person_id, role)
			SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bigint[], $4::text[]) ON CONFLICT DO NOTHING`,
			r.personTypes, r.personIxns, r.personIDs, r.roles)
		if err != nil {
			return 0, fmt.Errorf("replace interaction persons: insert: %w", err)
		}
		written += tag.RowsAffected()
	}
	return written, nil
}

// InteractionKey is one entity and interaction type.
type InteractionKey struct {
	Entity EntityKey
	Type   int
}

// InteractionFetch is where one entity×type fetch stands after the page it is committed with
// (sync_interaction_fetches). While Done is false the fetch is in progress: the next request is
// the window [WindowStart, WindowEnd) from PageToken ("" = its first page); further windows
// follow up to End. Done records the fetch complete: fetched_at = StartedAt (when its first
// request was sent), and the dates it fetched through (Through, the entity's interaction dates
// of that type as stored when the fetch started), and clears the progress columns.
//
// While in progress, Through is stored too (in the columns of the dates fetched through), so
// the fetch is continued with the dates it started with; an entity×type in progress is always
// due, whatever its dates.
type InteractionFetch struct {
	Key                         InteractionKey
	StartedAt                   time.Time
	Through                     InteractionThrough
	WindowStart, WindowEnd, End time.Time
	PageToken                   string
	Done                        bool
}

// InteractionThrough: the dates of the type's due rule: email LastEmailAt; meetings/calls
// LastEventAt, NextEventAt; chat LastChatMessageAt (others nil).
type InteractionThrough struct {
	LastEmailAt, LastEventAt, NextEventAt, LastChatMessageAt *time.Time
}

// commitInteractionFetches records where the page's fetches stand (the last given for a key
// wins), in one statement.
func (s *Store) commitInteractionFetches(ctx context.Context, tx pgx.Tx, fetches []InteractionFetch) error {
	fetches = lastByKey(fetches, func(f InteractionFetch) InteractionKey { return f.Key })
	if len(fetches) == 0 {
		return nil
	}
	n := len(fetches)
	var (
		entityTypes, types                          = make([]int16, n), make([]int16, n)
		entityIDs                                   = make([]int64, n)
		fetchedAt, email, event, next, chat         = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		windowStart, windowEnd, fetchEnd, startedAt = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		tokens                                      = make([]*string, n)
	)
	for i, f := range fetches {
		entityTypes[i], entityIDs[i], types[i] = int16(clampSmallint(int(f.Key.Entity.Type))), f.Key.Entity.ID, int16(clampSmallint(f.Key.Type))
		email[i], event[i], next[i], chat[i] = f.Through.LastEmailAt, f.Through.LastEventAt, f.Through.NextEventAt, f.Through.LastChatMessageAt
		if f.Done {
			fetchedAt[i] = &f.StartedAt
			continue
		}
		windowStart[i], windowEnd[i], fetchEnd[i], startedAt[i], tokens[i] = &f.WindowStart, &f.WindowEnd, &f.End, &f.StartedAt, &f.PageToken
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_interaction_fetches")+` AS f (entity_type, entity_id,
			interaction_type, fetched_at, last_email_at, last_event_at, next_event_at, last_chat_message_at,
			window_start, window_end, fetch_end, page_token, started_at)
		SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::smallint[], $4::timestamptz[], $5::timestamptz[],
			$6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],
			$11::timestamptz[], $12::text[], $13::timestamptz[])
		ON CONFLICT (entity_type, entity_id, interaction_type) DO UPDATE SET
			fetched_at = coalesce(EXCLUDED.fetched_at, f.fetched_at),
			last_email_at = EXCLUDED.last_email_at, last_event_at = EXCLUDED.last_event_at,
			next_event_at = EXCLUDED.next_event_at, last_chat_message_at = EXCLUDED.last_chat_message_at,
			window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, fetch_end = EXCLUDED.fetch_end,
			page_token = EXCLUDED.page_token, started_at = EXCLUDED.started_at`,
		entityTypes, entityIDs, types, fetchedAt, email, event, next, chat, windowStart, windowEnd, fetchEnd, tokens, startedAt); err != nil {
		return fmt.Errorf("record interaction fetches: %w", err)
	}
	return nil
}

// commitIntelligence writes a page's relationship intelligence and files (design §10) in its
// transaction and returns the rows written.
func (s *Store) commitIntelligence(ctx context.Context, tx pgx.Tx, files fileRows, reminders [][]any,
	strengths strengthRows, interactions interactionRows, fetches []InteractionFetch) (int64, error) {
	var total int64
	n, err := s.commitFiles(ctx, tx, files)
	if err != nil {
		return 0, err
	}
	total += n
	if n, err = s.writeStaged(ctx, tx, remindersTable, reminders); err != nil {
		return 0, fmt.Errorf("upsert reminders page: %w", err)
	}
	total += n
	if n, err = s.commitStrengths(ctx, tx, strengths); err != nil {
		return 0, err
	}
	total += n
	if n, err = s.commitInteractions(ctx, tx, interactions); err != nil {
		return 0, err
	}
	total += n
	if err := s.commitInteractionFetches(ctx, tx, fetches); err != nil {
		return 0, err
	}
	return total, nil
}
