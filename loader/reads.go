package loader

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
)

// EntityKey names an entity: its kind and id.
type EntityKey struct {
	Type EntityKind
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
	return s.liveFields(ctx, "tracked fields", ` AND track_changes`)
}

// FieldCatalog returns the live fields, by id, without their options: what mapping API v2
// field ids to stored fields and value types needs.
func (s *Store) FieldCatalog(ctx context.Context) ([]Field, error) {
	return s.liveFields(ctx, "field catalog", "")
}

// liveFields reads the live fields that also meet the condition and (empty: all), by id.
func (s *Store) liveFields(ctx context.Context, what, and string) ([]Field, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, list_id, entity_type, value_type, allows_multiple,
			track_changes, enrichment_source
		FROM `+s.table("fields")+` WHERE deleted_at IS NULL`+and+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	fields, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Field, error) {
		var f Field
		err := r.Scan(&f.ID, &f.Name, &f.ListID, &f.EntityType, &f.ValueType, &f.AllowsMultiple,
			&f.TrackChanges, &f.EnrichmentSource)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
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

// clampSmallint keeps an entity type within smallint for the keyset comparison.
func clampSmallint(v int) int {
	return min(max(v, math.MinInt16), math.MaxInt16)
}
