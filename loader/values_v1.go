package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EntityValues is the complete current set of one entity's field values, read through API v1
// (GET /field-values per entity): every value has its Affinity id.
type EntityValues struct {
	EntityType EntityKind
	EntityID   int64
	Values     []FieldValue
}

// entityValueRows are a page's EntityValues, cleaned and ready for staging. Within the page
// the last set of an entity and the last value of an id win, as rows of the same key do
// elsewhere.
type entityValueRows struct {
	values   [][]any    // staging rows: valueStageCols
	entities entitySets // the entities whose sets are replaced, and the value ids they keep
}

// entityValueRowsOf cleans and flattens the page's EntityValues.
func entityValueRowsOf(c *cleaner, sets []EntityValues, seenAt time.Time) (entityValueRows, error) {
	var r entityValueRows
	r.entities.valueIDs = []int64{} // never NULL: "id <> all of none" holds for every id
	sets = lastByKey(sets, func(x EntityValues) EntityKey { return EntityKey{x.EntityType, x.EntityID} })
	var values []FieldValue
	for _, set := range sets {
		r.entities.types = append(r.entities.types, int16(set.EntityType))
		r.entities.ids = append(r.entities.ids, set.EntityID)
		values = append(values, set.Values...)
	}
	for _, v := range lastByID(values, func(x FieldValue) int64 { return x.ID }) {
		r.entities.valueIDs = append(r.entities.valueIDs, v.ID)
		row, err := valueRow(c, len(r.values), v.ID, v, seenAt)
		if err != nil {
			return entityValueRows{}, fmt.Errorf("field value %d: %w", v.ID, err)
		}
		r.values = append(r.values, row)
	}
	return r, nil
}

// replaceEntityValues upserts the page's field values live (a value without its own value type
// takes its field's, when the field is known) and soft-deletes the live values of the page's
// entities that are not in their sets. Before the upsert, a value whose id is not stored yet
// takes over a live row of its entity that has no id (one first seen through API v2) and is
// equal to it (see valueKey), the i-th value of a key the i-th such row, so a value read
// through v2 and then through v1 is one row; id-less live rows left over are soft-deleted
// with the rest, as v1 returns every value with its id. The values kept are an anti-join, not
// NOT (id = ANY(…)): the latter compares every candidate with every kept id, quadratic in a
// 5,000-row batch.
func (s *Store) replaceEntityValues(ctx context.Context, tx pgx.Tx, r entityValueRows) (int64, error) {
	if len(r.entities.ids) == 0 && len(r.values) == 0 {
		return 0, nil
	}
	stage, err := s.stageValues(ctx, tx, r.values)
	if err != nil {
		return 0, err
	}
	fv := s.table("field_values")
	if len(r.entities.ids) > 0 && len(r.values) > 0 {
		if _, err := tx.Exec(ctx, s.claimSQL(stage),
			pgx.QueryExecModeExec, r.entities.types, r.entities.ids); err != nil {
			return 0, fmt.Errorf("match values to rows without an id: %w", err)
		}
	}
	var n int64
	if len(r.values) > 0 {
		if n, err = s.mergeStaged(ctx, tx, fieldValuesTable, stage); err != nil {
			return 0, err
		}
	}
	if len(r.entities.ids) == 0 {
		return n, nil
	}
	// A row without an id is never among the kept ids, so the id-less live rows no value
	// took over above are soft-deleted here too.
	tag, err := tx.Exec(ctx, `UPDATE `+fv+` fv SET deleted_at = now()
		FROM unnest($1::smallint[], $2::bigint[]) AS e(entity_type, entity_id)
		WHERE fv.entity_type = e.entity_type AND fv.entity_id = e.entity_id
		  AND fv.deleted_at IS NULL
		  AND NOT EXISTS (SELECT 1 FROM unnest($3::bigint[]) AS keep(id) WHERE keep.id = fv.id)`,
		// Planned for these arrays every time: a cached generic plan goes for a sequential
		// scan of field_values, which grows with the table (1.5 s a batch at 220k values).
		pgx.QueryExecModeExec,
		r.entities.types, r.entities.ids, r.entities.valueIDs)
	if err != nil {
		return 0, fmt.Errorf("soft delete values no longer returned: %w", err)
	}
	return n + tag.RowsAffected(), nil
}

// claimSQL is the statement of replaceEntityValues that gives values whose id is not stored yet
// the equal live rows without an id of their entities: $1, $2 are the entities (type, id)
// whose sets the page replaces; stage holds the values. It costs next to nothing when those
// entities have no id-less row (the usual case): the id-less rows are found through their
// own small index, and only the values of entities that have some are looked at further,
// each id checked through the unique index (a correlated subquery, so the planner never
// hashes the whole table for it).
func (s *Store) claimSQL(stage string) string {
	fv := s.table("field_values")
	return `WITH idless AS MATERIALIZED (
			SELECT fv.row_id, fv.field_id, fv.entity_type, fv.entity_id, ` + valueKey("fv") + ` AS k,
				row_number() OVER (PARTITION BY fv.field_id, fv.entity_type, fv.entity_id, ` + valueKey("fv") + `
				                   ORDER BY fv.row_id) AS r
			FROM unnest($1::smallint[], $2::bigint[]) AS e(entity_type, entity_id)
			JOIN ` + fv + ` fv ON fv.entity_type = e.entity_type AND fv.entity_id = e.entity_id
			WHERE fv.id IS NULL AND fv.deleted_at IS NULL
		), incoming AS (
			SELECT s.id, s.field_id, s.entity_type, s.entity_id, ` + valueKey("s") + ` AS k,
				row_number() OVER (PARTITION BY s.field_id, s.entity_type, s.entity_id, ` + valueKey("s") + `
				                   ORDER BY s.n) AS r
			FROM ` + stage + ` s
			WHERE EXISTS (SELECT 1 FROM idless l WHERE l.entity_type = s.entity_type AND l.entity_id = s.entity_id)
			  AND (SELECT count(*) FROM ` + fv + ` known WHERE known.id = s.id) = 0
		)
		UPDATE ` + fv + ` fv SET id = i.id
		FROM idless l JOIN incoming i ON i.field_id = l.field_id AND i.entity_type = l.entity_type
		                             AND i.entity_id = l.entity_id AND i.k = l.k AND i.r = l.r
		WHERE fv.row_id = l.row_id`
}
