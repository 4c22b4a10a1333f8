package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// StrengthSet is one external person's fetch: it replaces that person's pairs (a pair not in
// Pairs is soft-deleted; Gone = the person is gone (404): every live pair soft-deleted), appends
// relationship_strength_history rows (new pair, different strength, pair gone with strength
// null; observed_at = FetchedAt), and records the fetch in sync_strength_fetches (fetched_at =
// FetchedAt, plus the person's seven interaction dates as stored now, so the due rule sees when
// they move) — all in the page's transaction.
type StrengthSet struct {
	ExternalPersonID int64
	Pairs            []StrengthPair
	Gone             bool
	FetchedAt        time.Time // when the request was sent; also fetched_at of its pairs
}

// StrengthPair is one internal person's strength with the set's external person.
type StrengthPair struct {
	InternalPersonID int64
	Strength         float64
}

// relationshipStrengthsTable is how a page's pairs are staged and upserted (live again).
var relationshipStrengthsTable = stagedTable{name: "relationship_strengths",
	key:  []string{"external_person_id", "internal_person_id"},
	cols: []string{"external_person_id", "internal_person_id", "strength", "fetched_at", "synced_at"}}

// strengthRows are a page's strength sets, one per external person (the last given winning),
// their pairs one per internal person.
type strengthRows struct {
	rows    [][]any
	persons []int64 // every external person whose set is replaced
	fetched []time.Time
}

func strengthRowsOf(sets []StrengthSet, seenAt time.Time) strengthRows {
	var out strengthRows
	for _, set := range lastByID(sets, func(s StrengthSet) int64 { return s.ExternalPersonID }) {
		out.persons = append(out.persons, set.ExternalPersonID)
		out.fetched = append(out.fetched, set.FetchedAt)
		if set.Gone {
			continue
		}
		for _, p := range lastByID(set.Pairs, func(p StrengthPair) int64 { return p.InternalPersonID }) {
			out.rows = append(out.rows, []any{set.ExternalPersonID, p.InternalPersonID, p.Strength, set.FetchedAt, seenAt})
		}
	}
	return out
}

// commitStrengths replaces the page's strength sets: history rows first (against the pairs as
// stored before the page), then the pairs no longer returned are soft-deleted (a history row
// each, strength null), the pairs returned upserted, and each read recorded with the person's
// interaction dates as stored now. It returns the rows written (pairs upserted or
// soft-deleted, history rows inserted).
func (s *Store) commitStrengths(ctx context.Context, tx pgx.Tx, r strengthRows) (int64, error) {
	if len(r.persons) == 0 {
		return 0, nil
	}
	strengths, history := s.table("relationship_strengths"), s.table("relationship_strength_history")
	var written int64
	// The pairs gone: live pairs of the sets' persons that the sets do not hold.
	var keepExt, keepInt []int64
	for _, row := range r.rows {
		keepExt = append(keepExt, row[0].(int64))
		keepInt = append(keepInt, row[1].(int64))
	}
	var gone, goneHistory int64
	err := tx.QueryRow(ctx, `WITH sets AS (
			SELECT * FROM unnest($1::bigint[], $2::timestamptz[]) AS s(person_id, fetched_at)
		), gone AS (
			UPDATE `+strengths+` r SET deleted_at = now()
			FROM sets
			WHERE r.external_person_id = sets.person_id AND r.deleted_at IS NULL
			  AND NOT EXISTS (SELECT 1 FROM unnest($3::bigint[], $4::bigint[]) AS k(external_id, internal_id)
			                  WHERE k.external_id = r.external_person_id AND k.internal_id = r.internal_person_id)
			RETURNING r.external_person_id, r.internal_person_id, sets.fetched_at
		), noted AS (
			INSERT INTO `+history+` (external_person_id, internal_person_id, strength, observed_at)
			SELECT external_person_id, internal_person_id, NULL, fetched_at FROM gone
			ON CONFLICT DO NOTHING
			RETURNING 1
		)
		SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM noted)`, r.persons, r.fetched, keepExt, keepInt).
		Scan(&gone, &goneHistory)
	if err != nil {
		return 0, fmt.Errorf("soft delete strength pairs gone: %w", err)
	}
	written += gone + goneHistory
	if len(r.rows) > 0 {
		stage, err := s.stageRows(ctx, tx, relationshipStrengthsTable, r.rows)
		if err != nil {
			return 0, fmt.Errorf("stage strength pairs: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO `+history+` (external_person_id, internal_person_id, strength, observed_at)
			SELECT st.external_person_id, st.internal_person_id, st.strength, st.fetched_at
			FROM `+stage+` st
			LEFT JOIN `+strengths+` r ON r.external_person_id = st.external_person_id
			                          AND r.internal_person_id = st.internal_person_id
			WHERE r.external_person_id IS NULL OR r.deleted_at IS NOT NULL OR r.strength IS DISTINCT FROM st.strength
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return 0, fmt.Errorf("append strength history: %w", err)
		}
		written += tag.RowsAffected()
		n, err := s.mergeStaged(ctx, tx, relationshipStrengthsTable, stage)
		if err != nil {
			return 0, fmt.Errorf("upsert strength pairs: %w", err)
		}
		written += n
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_strength_fetches")+` AS f (person_id, fetched_at,
			first_email_at, last_email_at, first_event_at, last_event_at, next_event_at, last_chat_message_at, last_interaction_at)
		SELECT s.person_id, s.fetched_at, p.first_email_at, p.last_email_at, p.first_event_at, p.last_event_at,
			p.next_event_at, p.last_chat_message_at, p.last_interaction_at
		FROM unnest($1::bigint[], $2::timestamptz[]) AS s(person_id, fetched_at)
		LEFT JOIN `+s.table("persons")+` p ON p.id = s.person_id
		ON CONFLICT (person_id) DO UPDATE SET fetched_at = EXCLUDED.fetched_at,
			first_email_at = EXCLUDED.first_email_at, last_email_at = EXCLUDED.last_email_at,
			first_event_at = EXCLUDED.first_event_at, last_event_at = EXCLUDED.last_event_at,
			next_event_at = EXCLUDED.next_event_at, last_chat_message_at = EXCLUDED.last_chat_message_at,
			last_interaction_at = EXCLUDED.last_interaction_at`, r.persons, r.fetched); err != nil {
		return 0, fmt.Errorf("record strength reads: %w", err)
	}
	return written, nil
}
