package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PlanCounts are what the warehouse knows about the workspace's size, for
// estimating what the next sync will spend.
type PlanCounts struct {
	Persons, PersonsWithDates             int64
	Organizations, OrganizationsWithDates int64
	Opportunities                         int64
	Notes                                 int64
	ListSizes                             []int64 // entries of each live list
	TrackedFields                         int64
	ValuesDue                             [3]int64 // listed entities due, by refresh priority
	UnlistedDue                           int64
	DetailsDue                            int64
}

// PlanCounts reads the counts the planner needs, as of now.
// lists limits list entries and field values to those lists (nil = all).
func (s *Store) PlanCounts(ctx context.Context, now time.Time, valuesStaleBefore, unlistedStaleBefore time.Time, withUnlisted bool, lists []int64) (PlanCounts, error) {
	var c PlanCounts
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		for _, q := range []struct {
			table       string
			all, withDt *int64
		}{{"persons", &c.Persons, &c.PersonsWithDates}, {"organizations", &c.Organizations, &c.OrganizationsWithDates}} {
			if err := tx.QueryRow(ctx, `SELECT count(*), count(interaction_dates_synced_at) FROM `+s.table(q.table)+
				` WHERE deleted_at IS NULL`).Scan(q.all, q.withDt); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.table("opportunities")+` WHERE deleted_at IS NULL`).Scan(&c.Opportunities); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.table("notes")+` WHERE deleted_at IS NULL`).Scan(&c.Notes); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT (SELECT count(*) FROM `+s.table("list_entries")+` e WHERE e.list_id = l.id AND e.deleted_at IS NULL)
			FROM `+s.table("lists")+` l WHERE l.deleted_at IS NULL`+listIDFilter("l.id", lists)+` ORDER BY l.id`)
		if err != nil {
			return err
		}
		if c.ListSizes, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.table("fields")+` WHERE deleted_at IS NULL AND track_changes
`+trackedFilter(lists)).Scan(&c.TrackedFields); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, s.dueValuesSQL(false, lists)+` SELECT priority, count(*) FROM due GROUP BY 1`, valuesStaleBefore, now)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p int
			var n int64
			if err := rows.Scan(&p, &n); err != nil {
				rows.Close()
				return err
			}
			if p >= 0 && p < len(c.ValuesDue) {
				c.ValuesDue[p] = n
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if withUnlisted {
			if err := tx.QueryRow(ctx, s.dueValuesSQL(true, nil)+` SELECT count(*) FROM due`, unlistedStaleBefore, now).Scan(&c.UnlistedDue); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM `+s.table("organizations")+` o
			LEFT JOIN `+s.table("sync_entity_freshness")+` f ON f.entity_type = 1 AND f.entity_id = o.id
			WHERE o.deleted_at IS NULL AND (f.details_synced_at IS NULL OR f.details_synced_at < $1)`, valuesStaleBefore).Scan(&c.DetailsDue)
	})
	if err != nil {
		return PlanCounts{}, fmt.Errorf("read plan counts: %w", err)
	}
	return c, nil
}

// listIDFilter limits a query to the lists chosen by sync.lists; nil = all.
func listIDFilter(col string, lists []int64) string {
	if lists == nil {
		return ""
	}
	return " AND " + inLists(col, lists)
}

// trackedFilter keeps global fields and the fields of the chosen lists.
func trackedFilter(lists []int64) string {
	if lists == nil {
		return ""
	}
	return " AND (list_id IS NULL OR " + inLists("list_id", lists) + ")"
}
