package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// ScopedValues is what one API v2 read returns for one entity: the values of some of its
// fields, with no value ids and no times. A v2 list entry replaces its entity's values of
// the global and matched enriched fields the read carries (those on no list entry) and every
// value of that list entry; values of other fields and other entries are left as they are.
//
// Stored rows are kept where they can be (see CommitPage): a value equal to a stored row of
// the same field, entity and list entry keeps that row with its id and times.
type ScopedValues struct {
	EntityType EntityKind
	EntityID   int64
	// GlobalFields are the global and matched enriched fields the read carries: the entity's
	// values of these fields on no list entry are replaced as a set (an empty set included).
	GlobalFields []int64
	// ListEntryID, when set, names the list entry whose values are all replaced as a set.
	ListEntryID *int64
	// Values have ID 0 and CreatedAt/UpdatedAt nil, and the entity above; a value on no list
	// entry must be of one of GlobalFields, one on a list entry must be on ListEntryID.
	// ValueType is the field's (taken from fields when nil).
	Values []FieldValue
}

// ErrValueOutsideScope is returned for a ScopedValues value its scope does not cover.
var ErrValueOutsideScope = errors.New("value outside its scope")

// scopedRows are a page's ScopedValues, cleaned, staged and flattened into their scopes.
// Within a page the last ScopedValues naming an (entity, global field) or a list entry wins
// that part of the scope, as rows of the same key do elsewhere.
type scopedRows struct {
	values [][]any // stage rows: valueStageCols
	// the global part of the scopes, element by element: (entity type, entity id, field)
	globalTypes  []int16
	globalIDs    []int64
	globalFields []int64
	entries      []int64 // list entries replaced as a set
	entities     entitySets
	seenAt       time.Time
}

// scopedRowsOf checks and flattens the page's ScopedValues.
func scopedRowsOf(c *cleaner, sets []ScopedValues, seenAt time.Time) (scopedRows, error) {
	r := scopedRows{seenAt: seenAt}
	if len(sets) == 0 {
		return r, nil
	}
	type globalKey struct {
		t         EntityKind
		id, field int64
	}
	globalWinner := make(map[globalKey]int)
	entryWinner := make(map[int64]int)
	for i, set := range sets {
		if set.EntityType < 0 || set.EntityType > 32767 {
			return scopedRows{}, fmt.Errorf("scoped values of entity %d: entity type %d is not a smallint", set.EntityID, set.EntityType)
		}
		for _, f := range set.GlobalFields {
			globalWinner[globalKey{set.EntityType, set.EntityID, f}] = i
		}
		if set.ListEntryID != nil {
			entryWinner[*set.ListEntryID] = i
		}
		for _, v := range set.Values {
			if err := checkScoped(set, v); err != nil {
				return scopedRows{}, fmt.Errorf("scoped values of entity %d/%d: %w", set.EntityType, set.EntityID, err)
			}
		}
	}

	seenEntity := make(map[EntityKey]bool)
	emitted := make(map[globalKey]bool)
	for i, set := range sets {
		if e := (EntityKey{set.EntityType, set.EntityID}); !seenEntity[e] {
			seenEntity[e] = true
			r.entities.types = append(r.entities.types, int16(set.EntityType))
			r.entities.ids = append(r.entities.ids, set.EntityID)
		}
		for _, f := range set.GlobalFields {
			k := globalKey{set.EntityType, set.EntityID, f}
			if globalWinner[k] == i && !emitted[k] {
				emitted[k] = true
				r.globalTypes = append(r.globalTypes, int16(set.EntityType))
				r.globalIDs = append(r.globalIDs, set.EntityID)
				r.globalFields = append(r.globalFields, f)
			}
		}
		if set.ListEntryID != nil && entryWinner[*set.ListEntryID] == i {
			r.entries = append(r.entries, *set.ListEntryID)
		}
	}
	for i, set := range sets {
		for _, v := range set.Values {
			if v.ListEntryID == nil {
				if globalWinner[globalKey{set.EntityType, set.EntityID, v.FieldID}] != i {
					continue
				}
			} else if entryWinner[*v.ListEntryID] != i {
				continue
			}
			row, err := valueRow(c, len(r.values), nil, v, seenAt)
			if err != nil {
				return scopedRows{}, fmt.Errorf("scoped value of field %d on entity %d: %w", v.FieldID, v.EntityID, err)
			}
			r.values = append(r.values, row)
		}
	}
	return r, nil
}

// checkScoped says why v does not belong to set, nil when it does.
func checkScoped(set ScopedValues, v FieldValue) error {
	switch {
	case v.ID != 0:
		return fmt.Errorf("value of field %d has id %d: values read through API v2 have none", v.FieldID, v.ID)
	case v.CreatedAt != nil || v.UpdatedAt != nil:
		return fmt.Errorf("value of field %d has created or updated times: values read through API v2 have none", v.FieldID)
	case v.EntityType != set.EntityType || v.EntityID != set.EntityID:
		return fmt.Errorf("value of field %d is on entity %d/%d: %w", v.FieldID, v.EntityType, v.EntityID, ErrValueOutsideScope)
	case v.ListEntryID == nil && !slices.Contains(set.GlobalFields, v.FieldID):
		return fmt.Errorf("value of field %d on no list entry, a field not in GlobalFields: %w", v.FieldID, ErrValueOutsideScope)
	case v.ListEntryID != nil && (set.ListEntryID == nil || *set.ListEntryID != *v.ListEntryID):
		return fmt.Errorf("value of field %d on list entry %d, not the scope's: %w", v.FieldID, *v.ListEntryID, ErrValueOutsideScope)
	}
	return nil
}

// replaceScopedValues writes the page's ScopedValues in one statement and returns the rows
// written: rows kept (synced_at updated), rows inserted, rows soft-deleted.
//
// Within each scope, stored rows and incoming values are numbered per (field, entity, value
// key); the i-th incoming value of a key takes the i-th stored row of that key, so a value
// that occurs k times keeps up to k rows. Stored rows are taken live ones first, then those
// with an Affinity id, then oldest: a soft-deleted row is revived only when no live row is
// left for the value, as an upsert by id revives a row on the v1 path. A row taken keeps its
// id, times, value and value type; only synced_at changes and deleted_at is cleared.
// Incoming values left over are inserted without id or times; live rows of the scope left
// over are soft-deleted.
func (s *Store) replaceScopedValues(ctx context.Context, tx pgx.Tx, r scopedRows) (int64, error) {
	if len(r.globalFields) == 0 && len(r.entries) == 0 && len(r.values) == 0 {
		return 0, nil
	}
	stage, err := s.stageValues(ctx, tx, r.values)
	if err != nil {
		return 0, err
	}
	var n int64
	err = tx.QueryRow(ctx, s.scopedValuesSQL(stage),
		// Planned for these arrays every time, as the v1 soft delete is: a generic plan
		// could scan field_values whole.
		pgx.QueryExecModeExec,
		r.globalTypes, r.globalIDs, r.globalFields, r.entries, r.seenAt).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("replace scoped values: %w", err)
	}
	return n, nil
}

// scopedValuesSQL is the statement of replaceScopedValues, reading the staged values from
// stage: $1, $2, $3 the global part of the scopes (entity type, entity id, field), $4 the
// list entries replaced, $5 the page's SeenAt.
func (s *Store) scopedValuesSQL(stage string) string {
	fv := s.table("field_values")
	cols := "id, field_id, entity_type, entity_id, list_entry_id, value_type, value, value_text, value_number, " +
		"value_date, value_entity_id, value_option_id, created_at, updated_at, synced_at"
	scopeCols := `fv.row_id, fv.id, fv.field_id, fv.entity_type, fv.entity_id, fv.deleted_at, ` + valueKey("fv") + ` AS k`
	return `WITH scope AS MATERIALIZED (
			SELECT ` + scopeCols + `
			FROM unnest($1::smallint[], $2::bigint[], $3::bigint[]) AS g(entity_type, entity_id, field_id)
			JOIN ` + fv + ` fv ON fv.entity_type = g.entity_type AND fv.entity_id = g.entity_id
			                AND fv.field_id = g.field_id AND fv.list_entry_id IS NULL
			UNION ALL
			SELECT ` + scopeCols + `
			FROM unnest($4::bigint[]) AS e(id)
			JOIN ` + fv + ` fv ON fv.list_entry_id = e.id
		), stored AS (
			SELECT row_id, field_id, entity_type, entity_id, k, deleted_at IS NULL AS live,
				row_number() OVER (PARTITION BY field_id, entity_type, entity_id, k
				                   ORDER BY deleted_at IS NOT NULL, id IS NULL, row_id) AS r
			FROM scope
		), incoming AS MATERIALIZED (
			SELECT s.*, ` + valueKey("s") + ` AS k,
				row_number() OVER (PARTITION BY s.field_id, s.entity_type, s.entity_id, ` + valueKey("s") + ` ORDER BY s.n) AS r
			FROM ` + stage + ` s
		), paired AS MATERIALIZED (
			-- One full join pairs them all: both sides = kept, no stored row = added, no
			-- incoming value = soft-deleted if live (an anti-join against a CTE would be
			-- planned as a nested loop, quadratic in the page).
			SELECT i.n, st.row_id, st.live
			FROM incoming i
			FULL JOIN stored st ON st.field_id = i.field_id AND st.entity_type = i.entity_type
			                   AND st.entity_id = i.entity_id AND st.k = i.k AND st.r = i.r
		), kept AS (
			UPDATE ` + fv + ` fv SET synced_at = $5, deleted_at = NULL
			FROM paired p WHERE p.n IS NOT NULL AND fv.row_id = p.row_id
			RETURNING 1
		), gone AS (
			UPDATE ` + fv + ` fv SET deleted_at = now()
			FROM paired p WHERE p.n IS NULL AND p.live AND fv.row_id = p.row_id
			RETURNING 1
		), added AS (
			INSERT INTO ` + fv + ` (` + cols + `)
			SELECT ` + cols + ` FROM incoming i JOIN paired p ON p.n = i.n
			WHERE p.row_id IS NULL
			ORDER BY i.n
			RETURNING 1
		)
		SELECT (SELECT count(*) FROM kept) + (SELECT count(*) FROM gone) + (SELECT count(*) FROM added)`
}
