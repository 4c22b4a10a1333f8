package loader

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DropdownKey names one dropdown option: its field and its id.
type DropdownKey struct {
	FieldID, OptionID int64
}

// DropdownOptions returns every live dropdown option of a live field, by field and option
// id: what a ranked dropdown value read through API v2 takes its rank and color from.
func (s *Store) DropdownOptions(ctx context.Context) (map[DropdownKey]DropdownOption, error) {
	rows, err := s.pool.Query(ctx, `SELECT o.field_id, o.id, o.text, o.rank, o.color
		FROM `+s.table("dropdown_options")+` o
		JOIN `+s.table("fields")+` f ON f.id = o.field_id AND f.deleted_at IS NULL
		WHERE o.deleted_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("read dropdown options: %w", err)
	}
	options := make(map[DropdownKey]DropdownOption)
	var (
		k DropdownKey
		o DropdownOption
	)
	_, err = pgx.ForEachRow(rows, []any{&k.FieldID, &o.ID, &o.Text, &o.Rank, &o.Color}, func() error {
		k.OptionID = o.ID
		options[k] = o
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read dropdown options: %w", err)
	}
	return options, nil
}

// DueByList returns, for each list with a live entry of a due entity, how many distinct
// entities on its live entries have field values due: the entities RefreshCandidates would
// return for q (q.After and q.Limit aside). An entity on several lists counts on each.
// Lists with none due are absent. q.Lists limits the lists (nil = all); q.Unlisted is
// refused, as unlisted entities are on no list.
func (s *Store) DueByList(ctx context.Context, q RefreshQuery) (map[int64]int64, error) {
	return s.dueByList(ctx, s.pool, q)
}

func (s *Store) dueByList(ctx context.Context, db querier, q RefreshQuery) (map[int64]int64, error) {
	if q.Unlisted {
		return nil, errors.New("count due entities by list: the query selects unlisted entities, which are on no list")
	}
	rows, err := db.Query(ctx, s.dueValuesSQL(false, q.Lists)+`
		SELECT le.list_id, count(DISTINCT (le.entity_type, le.entity_id))
		FROM due
		JOIN `+s.table("list_entries")+` le ON le.entity_type = due.entity_type AND le.entity_id = due.entity_id
		WHERE le.deleted_at IS NULL`+listIDFilter("le.list_id", q.Lists)+`
		GROUP BY le.list_id`, q.StaleBefore, q.PassStart)
	if err != nil {
		return nil, fmt.Errorf("count due entities by list: %w", err)
	}
	due := make(map[int64]int64)
	var list, n int64
	if _, err := pgx.ForEachRow(rows, []any{&list, &n}, func() error {
		due[list] = n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("count due entities by list: %w", err)
	}
	return due, nil
}

// DetailsDueCount returns how many organizations have details due: those DetailsCandidates
// would return for q (q.After and q.Limit aside).
func (s *Store) DetailsDueCount(ctx context.Context, q DetailsQuery) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, s.dueDetailsSQL()+` SELECT count(*) FROM due`, q.StaleBefore, q.PassStart).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count organizations due for details: %w", err)
	}
	return n, nil
}

// ListSize is how many entries a list has, for estimating what reading it costs.
type ListSize struct {
	ListID int64
	// Entries is the number of live entries stored; for a list none of whose entries was
	// ever stored, Affinity's list_size (0 when unknown).
	Entries int64
	// FromListSize says Entries is Affinity's list_size: the list's entries were never
	// stored, so they are not known yet.
	FromListSize bool
}

// ListSizes returns the size of each live list, by id; lists limits them (nil = all).
func (s *Store) ListSizes(ctx context.Context, lists []int64) ([]ListSize, error) {
	return s.listSizes(ctx, s.pool, lists)
}

func (s *Store) listSizes(ctx context.Context, db querier, lists []int64) ([]ListSize, error) {
	rows, err := db.Query(ctx, `SELECT l.id,
			CASE WHEN e.stored = 0 THEN coalesce(l.list_size, 0) ELSE e.live END,
			e.stored = 0
		FROM `+s.table("lists")+` l
		CROSS JOIN LATERAL (
			SELECT count(*) AS stored, count(*) FILTER (WHERE le.deleted_at IS NULL) AS live
			FROM `+s.table("list_entries")+` le WHERE le.list_id = l.id
		) e
		WHERE l.deleted_at IS NULL`+listIDFilter("l.id", lists)+`
		ORDER BY l.id`)
	if err != nil {
		return nil, fmt.Errorf("read list sizes: %w", err)
	}
	sizes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ListSize, error) {
		var ls ListSize
		err := r.Scan(&ls.ListID, &ls.Entries, &ls.FromListSize)
		return ls, err
	})
	if err != nil {
		return nil, fmt.Errorf("read list sizes: %w", err)
	}
	return sizes, nil
}
