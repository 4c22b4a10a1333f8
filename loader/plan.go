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
	// Live is the live rows of every warehouse table, by table name: what a stream that
	// lists one table's rows (opportunities, notes, …) costs follows from it.
	Live          map[string]int64
	ListSizes     []int64 // entries of each live list
	TrackedFields int64
	ValuesDue     [3]int64 // listed entities due, by refresh priority
	UnlistedDue   int64
	DetailsDue    int64
	// Lists are the chosen live lists with their entries and due entities, for the API v2
	// path rule (CheaperThroughV2), by id.
	Lists []ListCount
	// ValuesDueOffV2 counts the listed entities due (ValuesDue's) on no list the rule reads
	// through v2: what a v2 pass still fetches one by one through v1.
	ValuesDueOffV2 int64
	// DetailsCutShort counts the organizations due with more stored persons than one v2
	// page carries: v2 may cut their persons short, so they are fetched through v1.
	DetailsCutShort int64
}

// ListCount is what the planner knows of one list.
type ListCount struct {
	ID      int64
	Entries int64 // live entries stored; Affinity's list_size when none was ever stored
	Known   bool  // Entries counts stored entries, not list_size
	Due     int64 // distinct entities on it whose field values are due
}

// CheaperThroughV2 reports whether reading the list's entries through API v2 costs fewer
// requests than one v1 call per due entity on it.
func (l ListCount) CheaperThroughV2() bool { return CheaperThroughV2(l.Entries, l.Due) }

// ListCounts returns each chosen live list (q.Lists; nil = all) with its size (ListSizes) and
// its distinct entities whose field values are due for a pass that started at q.PassStart
// (DueByList).
func (s *Store) ListCounts(ctx context.Context, q RefreshQuery) ([]ListCount, error) {
	sizes, err := s.ListSizes(ctx, q.Lists)
	if err != nil {
		return nil, err
	}
	due, err := s.DueByList(ctx, q)
	if err != nil {
		return nil, err
	}
	counts := make([]ListCount, len(sizes))
	for i, sz := range sizes {
		counts[i] = ListCount{ID: sz.ListID, Entries: sz.Entries, Known: !sz.FromListSize, Due: due[sz.ListID]}
	}
	return counts, nil
}

// V2PageSize is the rows of an API v2 page: its maximum.
const V2PageSize = 100

// V2PagesOf is how many requests an API v2 listing of n rows takes: the last page is never
// empty, and even an empty listing costs one request.
func V2PagesOf(n int64) int64 {
	if n <= 0 {
		return 1
	}
	return (n + V2PageSize - 1) / V2PageSize
}

// CheaperThroughV2 is the one rule that picks the API v2 path, for the sync and for its
// estimates alike: a listing of rows entities is read through v2 when its v2 pages cost
// fewer requests than one v1 call per due entity.
func CheaperThroughV2(rows, due int64) bool { return V2PagesOf(rows) < due }

// PlanCounts reads the counts the planner needs, as of now.
// lists limits list entries and field values to those lists (nil = all).
func (s *Store) PlanCounts(ctx context.Context, now time.Time, valuesStaleBefore, unlistedStaleBefore time.Time, withUnlisted bool, lists []int64) (PlanCounts, error) {
	var c PlanCounts
	tables, err := s.TableCounts(ctx)
	if err != nil {
		return PlanCounts{}, fmt.Errorf("read plan counts: %w", err)
	}
	c.Live = make(map[string]int64, len(tables))
	for _, t := range tables {
		c.Live[t.Table] = t.Live
	}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		for _, q := range []struct {
			table       string
			all, withDt *int64
		}{{"persons", &c.Persons, &c.PersonsWithDates}, {"organizations", &c.Organizations, &c.OrganizationsWithDates}} {
			if err := tx.QueryRow(ctx, `SELECT count(*), count(interaction_dates_synced_at) FROM `+s.table(q.table)+
				` WHERE deleted_at IS NULL`).Scan(q.all, q.withDt); err != nil {
				return err
			}
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
		return tx.QueryRow(ctx, s.dueDetailsSQL()+` SELECT count(*) FROM due`, valuesStaleBefore, now).Scan(&c.DetailsDue)
	})
	if err != nil {
		return PlanCounts{}, fmt.Errorf("read plan counts: %w", err)
	}
	if err := s.planV2Counts(ctx, &c, now, valuesStaleBefore, lists); err != nil {
		return PlanCounts{}, fmt.Errorf("read plan counts: %w", err)
	}
	return c, nil
}

// planV2Counts reads the counts of the API v2 path rule: each list's entries and due
// entities, the due entities on no list the rule reads through v2, and the organizations
// due whose persons v2 may cut short.
func (s *Store) planV2Counts(ctx context.Context, c *PlanCounts, now, staleBefore time.Time, lists []int64) error {
	counts, err := s.ListCounts(ctx, RefreshQuery{PassStart: now, StaleBefore: staleBefore, Lists: lists})
	if err != nil {
		return err
	}
	var v2 []int64
	var unread []ListCount
	c.Lists, c.ListSizes = nil, nil
	for _, l := range counts {
		if !l.Known {
			unread = append(unread, ListCount{ID: l.ID, Entries: l.Entries})
			continue
		}
		c.Lists = append(c.Lists, l)
		c.ListSizes = append(c.ListSizes, l.Entries)
		if l.CheaperThroughV2() {
			v2 = append(v2, l.ID)
		}
	}
	if err := s.pool.QueryRow(ctx, s.dueValuesSQL(false, lists)+` SELECT count(*) FROM due
		WHERE NOT EXISTS (SELECT 1 FROM `+s.table("list_entries")+` le
			WHERE le.deleted_at IS NULL AND le.entity_type = due.entity_type AND le.entity_id = due.entity_id
			  AND `+inLists("le.list_id", v2)+`)`, staleBefore, now).Scan(&c.ValuesDueOffV2); err != nil {
		return fmt.Errorf("count entities due on no v2 list: %w", err)
	}
	if err := s.pool.QueryRow(ctx, s.dueDetailsSQL()+` SELECT count(*) FROM due
		WHERE (SELECT count(*) FROM `+s.table("organization_persons")+` op WHERE op.organization_id = due.id) > $3`,
		staleBefore, now, V2PageSize).Scan(&c.DetailsCutShort); err != nil {
		return fmt.Errorf("count organizations v2 may cut short: %w", err)
	}
	c.AddUnreadLists(unread)
	return nil
}

// AddUnreadLists adds lists whose entries were never read, sized by Affinity's list_size
// (0 when unknown): a pass reads their entries and, every entity on them being new, fetches
// the values of each (an entity on two such lists is counted twice, so the estimate may
// exceed what the pass spends). The same rule decides whether each is read through v2.
func (c *PlanCounts) AddUnreadLists(lists []ListCount) {
	for _, l := range lists {
		l.Known, l.Due = false, l.Entries
		c.Lists = append(c.Lists, l)
		c.ListSizes = append(c.ListSizes, l.Entries)
		c.ValuesDue[RefreshNew] += l.Entries
		if !l.CheaperThroughV2() {
			c.ValuesDueOffV2 += l.Entries
		}
	}
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
