package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Projection is the typed projections of a value, computed by the caller from the value type.
type Projection struct {
	Text     *string
	Number   *string // an exact decimal ("2500000", "-1.25", "1e3"), stored as numeric
	Date     *time.Time
	EntityID *int64
	OptionID *int64
}

// FieldValue is one row of field_values.
type FieldValue struct {
	ID, FieldID int64
	EntityType  EntityKind
	EntityID    int64
	ListEntryID *int64
	ValueType   *int   // nil = take the field's value_type when the field is known
	Value       []byte // the raw JSON value; nil or JSON null is stored as SQL NULL
	Projection
	CreatedAt, UpdatedAt *time.Time
}

// entitySets are the entities whose values are replaced and the ids of their current values.
type entitySets struct {
	types    []int16
	ids      []int64
	valueIDs []int64
}

var (
	valueCols = []string{"id", "field_id", "entity_type", "entity_id", "list_entry_id", "value_type", "value",
		"value_text", "value_number", "value_date", "value_entity_id", "value_option_id", "created_at", "updated_at", "synced_at"}
	// valueStageCols are the columns of the field value staging table: an ordinal (the
	// order values came in), then valueCols.
	valueStageCols = append([]string{"n"}, valueCols...)
)

// fieldValuesTable is field_values, staged for the v1 and the v2 values alike. Its staging
// table is not a LIKE twin of field_values: that would copy row_id's NOT NULL.
var fieldValuesTable = stagedTable{name: "field_values", key: idKey, cols: valueCols,
	stageCols: valueStageCols,
	stageDDL: `n int NOT NULL, id bigint, field_id bigint, entity_type smallint, entity_id bigint,
		list_entry_id bigint, value_type smallint, value jsonb, value_text text, value_number numeric,
		value_date timestamptz, value_entity_id bigint, value_option_id bigint,
		created_at timestamptz, updated_at timestamptz, synced_at timestamptz`,
}

// valueRow is the staging row (valueStageCols) of v, the n-th value of its page, stored
// under id (nil for a value read through API v2, which has none).
func valueRow(c *cleaner, n int, id any, v FieldValue, seenAt time.Time) ([]any, error) {
	proj, err := projectionRow(c, v.Projection)
	if err != nil {
		return nil, err
	}
	row := append([]any{n, id, v.FieldID, v.EntityType, v.EntityID, v.ListEntryID, v.ValueType, c.json(v.Value)}, proj...)
	return append(row, v.CreatedAt, v.UpdatedAt, seenAt), nil
}

// projectionRow returns the five projection columns in table order.
func projectionRow(c *cleaner, p Projection) ([]any, error) {
	var number pgtype.Numeric
	if p.Number != nil {
		if err := number.ScanScientific(*p.Number); err != nil {
			return nil, fmt.Errorf("value_number %q is not a decimal: %w", c.str(*p.Number), err)
		}
	}
	return []any{c.ptr(p.Text), number, p.Date, p.EntityID, p.OptionID}, nil
}

// stageValues stages rows (valueStageCols) for field_values, gives values without a value
// type their field's, and returns the staging table's quoted name.
func (s *Store) stageValues(ctx context.Context, tx pgx.Tx, rows [][]any) (string, error) {
	stage, err := s.stageRows(ctx, tx, fieldValuesTable, rows)
	if err != nil {
		return "", fmt.Errorf("stage values: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE `+stage+` v SET value_type = f.value_type FROM `+s.table("fields")+` f
		WHERE v.value_type IS NULL AND f.id = v.field_id`); err != nil {
		return "", fmt.Errorf("fill value types: %w", err)
	}
	return stage, nil
}

// valueKey is what makes two values of one field and entity equal, as one hashable jsonb:
// the list entry and the typed projections, and the value itself when every projection is
// null. Numbers compare as numbers (1.0 equals 1) and dates as instants, so the value's own
// spelling (a v1 or a v2 datetime string) does not matter.
func valueKey(a string) string {
	return `jsonb_build_array(` + a + `.list_entry_id, ` + a + `.value_text, ` + a + `.value_number, ` +
		a + `.value_date, ` + a + `.value_entity_id, ` + a + `.value_option_id,
		CASE WHEN num_nonnulls(` + a + `.value_text, ` + a + `.value_number, ` + a + `.value_date, ` +
		a + `.value_entity_id, ` + a + `.value_option_id) = 0 THEN ` + a + `.value END)`
}
