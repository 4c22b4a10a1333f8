package loader

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// RefreshReason is why an entity's field values are due, and its priority in the per-entity
// field value refresh (docs/quota.md, the planner): new entities first, then those a change
// or a new list entry touched since their last fetch, then the stalest. A change counts from
// when the sync first stored it (our clock), not from its changed_at (Affinity's), so clock
// skew can neither hide a change nor make one look new forever. The reasons index
// PlanCounts.ValuesDue.
type RefreshReason int

// The refresh reasons, in priority order.
const (
	RefreshNew     RefreshReason = iota // values never fetched
	RefreshChanged                      // a change or a new list entry since the last fetch
	RefreshStale                        // older than the refresh age
)

// RefreshKey orders the entities due for a refresh, and is the keyset cursor
// that pages through them.
type RefreshKey struct {
	Priority RefreshReason
	SyncedAt *time.Time // when the values were last fetched; nil = never
	EntityKey
}

// RefreshQuery selects the entities whose field values are due.
type RefreshQuery struct {
	// PassStart: entities fetched since are done for this pass.
	PassStart time.Time
	// StaleBefore: entities whose values were fetched before are due.
	StaleBefore time.Time
	// Unlisted selects the persons and organizations on no live list entry
	// instead of the entities on one.
	Unlisted bool
	// Lists limits the listed entities to the entries of these lists
	// (sync.lists); nil = every list.
	Lists []int64
	After RefreshKey // keyset cursor; the zero value starts at the beginning
	Limit int
}

// RefreshCandidates returns up to q.Limit entities due for a field value
// refresh, in priority order, then stalest first, strictly after q.After.
func (s *Store) RefreshCandidates(ctx context.Context, q RefreshQuery) ([]RefreshKey, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, s.dueValuesSQL(q.Unlisted, q.Lists)+`
		SELECT priority, values_synced_at, entity_type, entity_id FROM due
		WHERE (priority, coalesce(values_synced_at, '-infinity'), entity_type, entity_id)
		      > ($3::int, coalesce($4::timestamptz, '-infinity'), $5::smallint, $6::bigint)
		ORDER BY priority, coalesce(values_synced_at, '-infinity'), entity_type, entity_id
		LIMIT $7`,
		q.StaleBefore, q.PassStart, q.After.Priority, q.After.SyncedAt, clampSmallint(int(q.After.Type)), q.After.ID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read entities due for a refresh: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RefreshKey, error) {
		var k RefreshKey
		err := r.Scan(&k.Priority, &k.SyncedAt, &k.Type, &k.ID)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("read entities due for a refresh: %w", err)
	}
	return keys, nil
}

// dueValuesSQL is a WITH clause naming "due": the entities whose values are
// due, with their priority; $1 is the stale-before time, $2 the pass start.
func (s *Store) dueValuesSQL(unlisted bool, lists []int64) string {
	entities := `SELECT DISTINCT entity_type, entity_id FROM ` + s.table("list_entries") + ` WHERE deleted_at IS NULL` + listIDFilter("list_id", lists)
	if unlisted {
		entities = `SELECT ` + sqlCode(EntityPerson) + `::smallint AS entity_type, id AS entity_id FROM ` + s.table(EntityPerson.Table()) + ` WHERE deleted_at IS NULL
			UNION ALL SELECT ` + sqlCode(EntityOrganization) + `::smallint, id FROM ` + s.table(EntityOrganization.Table()) + ` WHERE deleted_at IS NULL
			EXCEPT SELECT entity_type, entity_id FROM ` + s.table("list_entries") + ` WHERE deleted_at IS NULL`
	}
	return `WITH candidates AS (
			SELECT e.entity_type, e.entity_id, f.values_synced_at,
				CASE
					WHEN f.values_synced_at IS NULL THEN ` + sqlCode(RefreshNew) + `
					WHEN EXISTS (SELECT 1 FROM ` + s.table("field_value_changes") + ` c
					             WHERE c.entity_type = e.entity_type AND c.entity_id = e.entity_id
					               AND c.synced_at > f.values_synced_at) THEN ` + sqlCode(RefreshChanged) + `
					WHEN EXISTS (SELECT 1 FROM ` + s.table("list_entries") + ` le
					             WHERE le.deleted_at IS NULL AND le.entity_type = e.entity_type AND le.entity_id = e.entity_id
					               AND le.created_at > f.values_synced_at) THEN ` + sqlCode(RefreshChanged) + `
					WHEN f.values_synced_at < $1 THEN ` + sqlCode(RefreshStale) + `
				END AS priority
			FROM (` + entities + `) e
			LEFT JOIN ` + s.table("sync_entity_freshness") + ` f ON f.entity_type = e.entity_type AND f.entity_id = e.entity_id
			WHERE f.values_synced_at IS NULL OR f.values_synced_at < $2
		), due AS (SELECT * FROM candidates WHERE priority IS NOT NULL)`
}

// sqlCode is a code (an entity kind, a refresh reason) as an SQL integer literal: statements
// take their codes from the typed constants, never from a number written into them. An
// integer is safe to write into a statement.
func sqlCode[T ~int](code T) string { return strconv.Itoa(int(code)) }

// inLists is the condition "col is one of ids". Ids are integers, so writing
// them into the statement is safe.
func inLists(col string, ids []int64) string {
	if len(ids) == 0 {
		return "false"
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return col + " IN (" + strings.Join(parts, ",") + ")"
}

// DetailsQuery selects the organizations whose details are due.
type DetailsQuery struct {
	PassStart   time.Time  // organizations fetched since are done for this pass
	StaleBefore time.Time  // organizations fetched before are due
	After       RefreshKey // keyset cursor (SyncedAt, ID); zero = from the start
	Limit       int
}

// dueDetailsSQL is a WITH clause naming "due": the live organizations whose details are due,
// with when they were last fetched (details_synced_at, null = never); $1 is the stale-before
// time, $2 the pass start (organizations fetched since are done for this pass).
func (s *Store) dueDetailsSQL() string {
	return `WITH due AS (
			SELECT o.id, f.details_synced_at
			FROM ` + s.table(EntityOrganization.Table()) + ` o
			LEFT JOIN ` + s.table("sync_entity_freshness") + ` f ON f.entity_type = ` + sqlCode(EntityOrganization) + ` AND f.entity_id = o.id
			WHERE o.deleted_at IS NULL
			  AND (f.details_synced_at IS NULL OR (f.details_synced_at < $1 AND f.details_synced_at < $2))
		)`
}

// DetailsCandidates returns up to q.Limit live organizations whose details
// were never fetched or are stale, never-fetched first, then stalest.
func (s *Store) DetailsCandidates(ctx context.Context, q DetailsQuery) ([]RefreshKey, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, s.dueDetailsSQL()+` SELECT details_synced_at, id FROM due
		WHERE (coalesce(details_synced_at, '-infinity'), id) > (coalesce($3::timestamptz, '-infinity'), $4::bigint)
		ORDER BY coalesce(details_synced_at, '-infinity'), id
		LIMIT $5`, q.StaleBefore, q.PassStart, q.After.SyncedAt, q.After.ID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read organizations due for details: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RefreshKey, error) {
		k := RefreshKey{EntityKey: EntityKey{Type: EntityOrganization}}
		err := r.Scan(&k.SyncedAt, &k.ID)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("read organizations due for details: %w", err)
	}
	return keys, nil
}

// recordFreshness notes, in the page's transaction, when the page's entities
// had their values or details fetched.
func (s *Store) recordFreshness(ctx context.Context, tx pgx.Tx, w warehouseRows, seenAt time.Time) (int64, error) {
	var n int64
	if fetched := valuesFetched(w); len(fetched.ids) > 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_entity_freshness")+` (entity_type, entity_id, values_synced_at)
			SELECT * FROM unnest($1::smallint[], $2::bigint[]), LATERAL (SELECT $3::timestamptz) t
			ON CONFLICT (entity_type, entity_id) DO UPDATE SET values_synced_at = EXCLUDED.values_synced_at`,
			fetched.types, fetched.ids, seenAt)
		if err != nil {
			return 0, fmt.Errorf("record values freshness: %w", err)
		}
		n += tag.RowsAffected()
	}
	if len(w.orgPersons.parentIDs) > 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_entity_freshness")+` (entity_type, entity_id, details_synced_at)
			SELECT `+sqlCode(EntityOrganization)+`, id, $2::timestamptz FROM unnest($1::bigint[]) AS id
			ON CONFLICT (entity_type, entity_id) DO UPDATE SET details_synced_at = EXCLUDED.details_synced_at`,
			w.orgPersons.parentIDs, seenAt)
		if err != nil {
			return 0, fmt.Errorf("record details freshness: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// valuesFetched are the entities whose values the page fetched, each once: those of
// EntityValues and of ScopedValues. A v2 read counts as a fetch of the entity's values,
// so the refresh planner does not take the entity as due again.
func valuesFetched(w warehouseRows) entitySets {
	if len(w.scoped.entities.ids) == 0 {
		return w.entityValues.entities
	}
	type key struct {
		t  int16
		id int64
	}
	seen := make(map[key]bool, len(w.entityValues.entities.ids)+len(w.scoped.entities.ids))
	var out entitySets
	for _, set := range []entitySets{w.entityValues.entities, w.scoped.entities} {
		for i, id := range set.ids {
			if k := (key{set.types[i], id}); !seen[k] {
				seen[k] = true
				out.types = append(out.types, k.t)
				out.ids = append(out.ids, id)
			}
		}
	}
	return out
}
