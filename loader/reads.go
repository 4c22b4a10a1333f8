package loader

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
)

// EntityKey names an entity: its type (0 person, 1 organization, 8 opportunity) and id.
type EntityKey struct {
	Type int
	ID   int64
}

// LiveLists returns the lists that are not soft-deleted, by id.
func (s *Store) LiveLists(ctx context.Context) ([]List, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, type, name, public, owner_id, creator_id, list_size
		FROM `+s.table("lists")+` WHERE deleted_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read live lists: %w", err)
	}
	lists, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (List, error) {
		var l List
		err := r.Scan(&l.ID, &l.Type, &l.Name, &l.Public, &l.OwnerID, &l.CreatorID, &l.ListSize)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("read live lists: %w", err)
	}
	return lists, nil
}

// TrackedFields returns the live fields whose changes Affinity tracks, by id, without their
// options.
func (s *Store) TrackedFields(ctx context.Context) ([]Field, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, list_id, entity_type, value_type, allows_multiple,
			track_changes, enrichment_source
		FROM `+s.table("fields")+` WHERE deleted_at IS NULL AND track_changes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read tracked fields: %w", err)
	}
	fields, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Field, error) {
		var f Field
		err := r.Scan(&f.ID, &f.Name, &f.ListID, &f.EntityType, &f.ValueType, &f.AllowsMultiple,
			&f.TrackChanges, &f.EnrichmentSource)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("read tracked fields: %w", err)
	}
	return fields, nil
}

// FieldValueTypes returns the value type of every stored field, soft-deleted ones included.
func (s *Store) FieldValueTypes(ctx context.Context) (map[int64]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, value_type FROM `+s.table("fields"))
	if err != nil {
		return nil, fmt.Errorf("read field value types: %w", err)
	}
	types := make(map[int64]int)
	var (
		id int64
		vt int
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &vt}, func() error {
		types[id] = vt
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read field value types: %w", err)
	}
	return types, nil
}

// ListedEntities returns up to limit distinct entities of live list entries, ordered by
// (type, id), strictly after `after` (the zero value starts at the beginning). With
// includeUnlisted it also returns every live person (type 0) and organization (type 1).
func (s *Store) ListedEntities(ctx context.Context, after EntityKey, limit int, includeUnlisted bool) ([]EntityKey, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Each branch reads its own index in order and stops at limit; the outer query merges them.
	branches := []string{`(SELECT DISTINCT entity_type::int AS type, entity_id AS id FROM ` + s.table("list_entries") + `
		WHERE deleted_at IS NULL AND (entity_type, entity_id) > ($1::smallint, $2::bigint)
		ORDER BY 1, 2 LIMIT $3)`}
	if includeUnlisted {
		for _, t := range []struct {
			table string
			code  int
		}{{"persons", 0}, {"organizations", 1}} {
			var from int64
			switch {
			case after.Type > t.code:
				continue
			case after.Type == t.code:
				from = after.ID
			default:
				from = math.MinInt64
			}
			branches = append(branches, fmt.Sprintf(`(SELECT %d AS type, id FROM %s
				WHERE deleted_at IS NULL AND id > %d ORDER BY id LIMIT $3)`, t.code, s.table(t.table), from))
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT type, id FROM (`+strings.Join(branches, " UNION ")+`) u
		ORDER BY type, id LIMIT $3`, clampSmallint(after.Type), after.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("read listed entities after %d/%d: %w", after.Type, after.ID, err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EntityKey, error) {
		var k EntityKey
		err := r.Scan(&k.Type, &k.ID)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("read listed entities after %d/%d: %w", after.Type, after.ID, err)
	}
	return keys, nil
}

// clampSmallint keeps an entity type within smallint for the keyset comparison.
func clampSmallint(v int) int {
	return min(max(v, math.MinInt16), math.MaxInt16)
}

// OrganizationIDs returns up to limit ids of live organizations greater than after, in order.
func (s *Store) OrganizationIDs(ctx context.Context, after int64, limit int) ([]int64, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM `+s.table("organizations")+`
		WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read organization ids after %d: %w", after, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read organization ids after %d: %w", after, err)
	}
	return ids, nil
}
