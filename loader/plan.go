package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PlanCounts are what is known of the workspace's size, one field per fact, for estimating
// what a sync spends: plan fills them from the warehouse (PlanCounts), bench from what a pass
// saw. The stream registry's cost models read nothing else.
type PlanCounts struct {
	// Live is the live rows of every warehouse table, by table name: what a stream that
	// lists one table's rows (persons, opportunities, notes, …) costs follows from it.
	Live map[string]int64
	// WithDates counts the live persons and organizations that have interaction dates: the
	// rows the with_interaction_dates listing returns.
	WithDates map[EntityKind]int64
	// Lists are the chosen live lists, by id: their entries (what list entries cost), their
	// due entities and whether the API v2 path rule reads them through v2.
	Lists         []ListCount
	TrackedFields int64
	// The change feed (field_value_changes through API v2): the tracked fields in scope
	// without a complete v1 history, read whole first; the feed's pages (plan expects one, a
	// quiet feed); the probe's v1 request; the histories read again after a fall back to v1.
	HistoriesDue, FeedPages, FeedProbe, HistoriesFallback int64
	ValuesDue                                             [3]int64 // listed entities whose field values are due, by RefreshReason
	UnlistedDue                                           int64    // entities on no list whose field values are due
	DetailsDue                                            int64    // organizations whose persons are due
	// What the API v2 path rule decides (CheaperThroughV2): whether the values of entities on
	// no list, and the organizations' persons, are read through the v2 persons and companies
	// listings.
	UnlistedThroughV2, DetailsThroughV2 bool
	// ValuesDueOffV2 counts the listed entities due on no list read through v2: what a pass
	// that reads through v2 still fetches one by one through v1.
	ValuesDueOffV2 int64
	// DetailsCutShort counts the organizations due whose persons a v2 page may cut short:
	// more stored persons than one v2 page carries. They are fetched through v1.
	DetailsCutShort int64
	// ValuesProbe and LinksProbe are the v1 requests of the API v2 probes (at most
	// ProbeSize each): what plan expects, or what a pass sent.
	ValuesProbe, LinksProbe int64
	// Intelligence is what the per-entity intelligence streams have due (IntelligenceCounts):
	// filled by the caller, PlanCounts leaves it zero.
	Intelligence IntelligenceCounts
}

// ProbeSize is the most entities each API v2 probe also reads through v1.
const ProbeSize = 5

// ListCount is what is known of one list.
type ListCount struct {
	ID      int64
	Entries int64 // live entries stored; Affinity's list_size when none was ever stored
	Known   bool  // Entries counts stored entries, not list_size
	Due     int64 // distinct entities on it whose field values are due
	// ThroughV2: its entries are read through API v2 (the path rule's choice, or what a pass
	// did).
	ThroughV2 bool
}

// CheaperThroughV2 reports whether reading the list's entries through API v2 costs fewer
// requests than one v1 call per due entity on it.
func (l ListCount) CheaperThroughV2() bool { return CheaperThroughV2(l.Entries, l.Due) }

// querier runs queries: the pool, or a transaction that reads one snapshot.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ListCounts returns each chosen live list (q.Lists; nil = all) with its size (listSizes)
// and its distinct entities whose field values are due for a pass that started at
// q.PassStart (dueByList), ThroughV2 set by the path rule.
func (s *Store) ListCounts(ctx context.Context, q RefreshQuery) ([]ListCount, error) {
	return s.listCounts(ctx, s.pool, q)
}

func (s *Store) listCounts(ctx context.Context, db querier, q RefreshQuery) ([]ListCount, error) {
	sizes, err := s.listSizes(ctx, db, q.Lists)
	if err != nil {
		return nil, err
	}
	due, err := s.dueByList(ctx, db, q)
	if err != nil {
		return nil, err
	}
	counts := make([]ListCount, len(sizes))
	for i, sz := range sizes {
		counts[i] = ListCount{ID: sz.ListID, Entries: sz.Entries, Known: !sz.FromListSize, Due: due[sz.ListID]}
		counts[i].ThroughV2 = counts[i].CheaperThroughV2()
	}
	return counts, nil
}

// V2PageSize is the rows of an API v2 page: its maximum, and the size of every v2 page the
// program asks for.
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

// UnlistedCheaperThroughV2 is the rule for the values of entities on no list: the v2
// persons and companies listings together against one v1 call per due entity.
func UnlistedCheaperThroughV2(persons, organizations, due int64) bool {
	return V2PagesOf(persons)+V2PagesOf(organizations) < due
}

// PlanCounts reads the counts the planner needs, as of now, in one repeatable-read
// snapshot. lists limits list entries and field values to those lists (nil = all).
func (s *Store) PlanCounts(ctx context.Context, now time.Time, valuesStaleBefore, unlistedStaleBefore time.Time, withUnlisted bool, lists []int64) (PlanCounts, error) {
	var c PlanCounts
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		tables, err := s.tableCounts(ctx, tx)
		if err != nil {
			return err
		}
		c.Live = make(map[string]int64, len(tables))
		for _, t := range tables {
			c.Live[t.Table] = t.Live
		}
		c.WithDates = map[EntityKind]int64{}
		for _, k := range []EntityKind{EntityPerson, EntityOrganization} {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.table(k.Table())+
				` WHERE deleted_at IS NULL AND interaction_dates_synced_at IS NOT NULL`).Scan(&n); err != nil {
				return err
			}
			c.WithDates[k] = n
		}
		counts, err := s.listCounts(ctx, tx, RefreshQuery{PassStart: now, StaleBefore: valuesStaleBefore, Lists: lists})
		if err != nil {
			return err
		}
		var unread []ListCount
		var v2 []int64
		for _, l := range counts {
			if !l.Known {
				unread = append(unread, ListCount{ID: l.ID, Entries: l.Entries})
				continue
			}
			c.Lists = append(c.Lists, l)
			if l.ThroughV2 {
				v2 = append(v2, l.ID)
			}
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.table("fields")+` WHERE deleted_at IS NULL AND track_changes
`+trackedFilter(lists)).Scan(&c.TrackedFields); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.table("fields")+` f WHERE deleted_at IS NULL AND track_changes
`+trackedFilter(lists)+` AND NOT EXISTS (SELECT 1 FROM `+s.table("sync_change_histories")+` h WHERE h.field_id = f.id)`).Scan(&c.HistoriesDue); err != nil {
			return err
		}
		if c.TrackedFields > 0 {
			c.FeedPages = 1
		}
		rows, err := tx.Query(ctx, s.dueValuesSQL(false, lists)+` SELECT priority, count(*) FROM due GROUP BY 1`, valuesStaleBefore, now)
		if err != nil {
			return err
		}
		var p, n int64
		if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error {
			if p >= 0 && p < int64(len(c.ValuesDue)) {
				c.ValuesDue[p] = n
			}
			return nil
		}); err != nil {
			return err
		}
		if withUnlisted {
			if err := tx.QueryRow(ctx, s.dueValuesSQL(true, nil)+` SELECT count(*) FROM due`, unlistedStaleBefore, now).Scan(&c.UnlistedDue); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, s.dueDetailsSQL()+` SELECT count(*) FROM due`, valuesStaleBefore, now).Scan(&c.DetailsDue); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, s.dueValuesSQL(false, lists)+` SELECT count(*) FROM due
		WHERE NOT EXISTS (SELECT 1 FROM `+s.table("list_entries")+` le
			WHERE le.deleted_at IS NULL AND le.entity_type = due.entity_type AND le.entity_id = due.entity_id
			  AND `+inLists("le.list_id", v2)+`)`, valuesStaleBefore, now).Scan(&c.ValuesDueOffV2); err != nil {
			return fmt.Errorf("count entities due on no v2 list: %w", err)
		}
		if err := tx.QueryRow(ctx, s.dueDetailsSQL()+` SELECT count(*) FROM due
		WHERE (SELECT count(*) FROM `+s.table("organization_persons")+` op WHERE op.organization_id = due.id) > $3`,
			valuesStaleBefore, now, V2PageSize).Scan(&c.DetailsCutShort); err != nil {
			return fmt.Errorf("count organizations v2 may cut short: %w", err)
		}
		c.AddUnreadLists(unread)
		return nil
	})
	if err != nil {
		return PlanCounts{}, fmt.Errorf("read plan counts: %w", err)
	}
	return c, nil
}

// AddUnreadLists adds lists whose entries were never read, sized by Affinity's list_size
// (0 when unknown): a pass reads their entries and, every entity on them being new, fetches
// the values of each (an entity on two such lists is counted twice, so the estimate may
// exceed what the pass spends). The same rule decides whether each is read through v2, and
// the path rule's other facts and the probes follow.
func (c *PlanCounts) AddUnreadLists(lists []ListCount) {
	for _, l := range lists {
		l.Known, l.Due = false, l.Entries
		l.ThroughV2 = l.CheaperThroughV2()
		c.Lists = append(c.Lists, l)
		c.ValuesDue[RefreshNew] += l.Entries
		if !l.ThroughV2 {
			c.ValuesDueOffV2 += l.Entries
		}
	}
	c.decideV2()
}

// decideV2 applies the path rule's other choices to the counts and sets what the probes
// are expected to send: one v1 request per entity probed, up to ProbeSize, of the first
// listing read through v2.
func (c *PlanCounts) decideV2() {
	persons, orgs := c.Live[EntityPerson.Table()], c.Live[EntityOrganization.Table()]
	c.UnlistedThroughV2 = UnlistedCheaperThroughV2(persons, orgs, c.UnlistedDue)
	c.DetailsThroughV2 = CheaperThroughV2(orgs, c.DetailsDue)
	var v2entries int64
	for _, l := range c.Lists {
		if l.ThroughV2 {
			v2entries += l.Entries
		}
	}
	if v2entries == 0 && c.UnlistedThroughV2 {
		v2entries = persons
	}
	c.ValuesProbe = min(v2entries, ProbeSize)
	c.LinksProbe = 0
	if c.DetailsThroughV2 {
		c.LinksProbe = min(orgs, ProbeSize)
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
