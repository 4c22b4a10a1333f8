package loader

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// InteractionDates are the seven dates of a with_interaction_dates listing; nil = none.
type InteractionDates struct {
	FirstEmailAt, LastEmailAt, FirstEventAt, LastEventAt, NextEventAt,
	LastChatMessageAt, LastInteractionAt *time.Time
}

// Person is one row of persons.
type Person struct {
	ID                                int64
	Type                              int
	FirstName, LastName, PrimaryEmail *string
	Emails                            []string
	Dates                             *InteractionDates
}

// Organization is one row of organizations.
type Organization struct {
	ID             int64
	Name           string
	Domain         *string
	Domains        []string
	CrunchbaseUUID *string
	Global         bool
	Dates          *InteractionDates
}

// Opportunity is one row of opportunities with its associations.
type Opportunity struct {
	ID                         int64
	Name                       string
	ListID                     *int64
	PersonIDs, OrganizationIDs []int64
}

// Page is what one transaction writes: rows and the checkpoint that follows them.
type Page struct {
	Checkpoint Checkpoint // written in the same transaction as the rows
	SeenAt     time.Time  // becomes synced_at of every row written
	// WithDates marks rows from a with_interaction_dates listing: their seven *_at columns
	// (null where Dates is nil) and interaction_dates_synced_at are written too. Without it,
	// stored *_at columns are left as they are.
	WithDates     bool
	Persons       []Person
	Organizations []Organization
	Opportunities []Opportunity // also replaces opportunity_persons/opportunity_organizations per opportunity
}

// PageStats says what CommitPage wrote.
type PageStats struct {
	Rows         int64 // entity rows inserted or updated (after de-duplication by id)
	NULsReplaced int64 // NUL characters and invalid UTF-8 bytes replaced by U+FFFD
}

var dateColumns = []string{
	"first_email_at", "last_email_at", "first_event_at", "last_event_at", "next_event_at",
	"last_chat_message_at", "last_interaction_at", "interaction_dates_synced_at",
}

func dateValues(d *InteractionDates, seenAt time.Time) []any {
	if d == nil {
		d = &InteractionDates{}
	}
	return []any{d.FirstEmailAt, d.LastEmailAt, d.FirstEventAt, d.LastEventAt, d.NextEventAt,
		d.LastChatMessageAt, d.LastInteractionAt, seenAt}
}

// CommitPage writes the page's rows and its checkpoint in one transaction. Rows with the same
// id inside the page are written once (the last one wins); a row written is live again
// (deleted_at cleared). NULs and invalid UTF-8 are replaced and counted, never an error.
func (s *Store) CommitPage(ctx context.Context, p Page) (PageStats, error) {
	if p.SeenAt.IsZero() {
		return PageStats{}, fmt.Errorf("commit page of %s: SeenAt is not set", p.Checkpoint.Stream)
	}
	var c cleaner
	persons := s.personRows(&c, lastByID(p.Persons, func(x Person) int64 { return x.ID }), p.SeenAt, p.WithDates)
	orgs := s.organizationRows(&c, lastByID(p.Organizations, func(x Organization) int64 { return x.ID }), p.SeenAt, p.WithDates)
	opps := lastByID(p.Opportunities, func(x Opportunity) int64 { return x.ID })
	oppRows := make([][]any, len(opps))
	for i, o := range opps {
		oppRows[i] = []any{o.ID, c.str(o.Name), o.ListID, p.SeenAt}
	}

	var stats PageStats
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		personCols := []string{"id", "type", "first_name", "last_name", "primary_email", "emails", "synced_at"}
		orgCols := []string{"id", "name", "domain", "domains", "crunchbase_uuid", "global", "synced_at"}
		if p.WithDates {
			personCols = append(personCols, dateColumns...)
			orgCols = append(orgCols, dateColumns...)
		}
		n, err := s.upsert(ctx, tx, "persons", personCols, persons)
		if err != nil {
			return fmt.Errorf("upsert persons page: %w", err)
		}
		stats.Rows += n
		if n, err = s.upsert(ctx, tx, "organizations", orgCols, orgs); err != nil {
			return fmt.Errorf("upsert organizations page: %w", err)
		}
		stats.Rows += n
		if n, err = s.upsert(ctx, tx, "opportunities", []string{"id", "name", "list_id", "synced_at"}, oppRows); err != nil {
			return fmt.Errorf("upsert opportunities page: %w", err)
		}
		stats.Rows += n
		if err := s.replaceOpportunityAssociations(ctx, tx, opps); err != nil {
			return fmt.Errorf("replace opportunity associations: %w", err)
		}
		return s.saveCheckpoint(ctx, tx, p.Checkpoint)
	})
	if err != nil {
		return PageStats{}, fmt.Errorf("commit page of %s: %w", p.Checkpoint.Stream, err)
	}
	stats.NULsReplaced = c.n
	s.logger.Debug("page committed", "stream", p.Checkpoint.Stream, "phase", p.Checkpoint.Phase,
		"rows", stats.Rows, "nul_replaced", stats.NULsReplaced)
	return stats, nil
}

func (s *Store) personRows(c *cleaner, persons []Person, seenAt time.Time, withDates bool) [][]any {
	rows := make([][]any, len(persons))
	for i, x := range persons {
		row := []any{x.ID, x.Type, c.ptr(x.FirstName), c.ptr(x.LastName), c.ptr(x.PrimaryEmail), c.strs(x.Emails), seenAt}
		if withDates {
			row = append(row, dateValues(x.Dates, seenAt)...)
		}
		rows[i] = row
	}
	return rows
}

func (s *Store) organizationRows(c *cleaner, orgs []Organization, seenAt time.Time, withDates bool) [][]any {
	rows := make([][]any, len(orgs))
	for i, x := range orgs {
		row := []any{x.ID, c.str(x.Name), c.ptr(x.Domain), c.strs(x.Domains), c.ptr(x.CrunchbaseUUID), x.Global, seenAt}
		if withDates {
			row = append(row, dateValues(x.Dates, seenAt)...)
		}
		rows[i] = row
	}
	return rows
}

// upsert copies rows into a temporary twin of the table and merges them by id in one
// statement; rows written become live (deleted_at cleared). cols[0] must be "id".
func (s *Store) upsert(ctx context.Context, tx pgx.Tx, table string, cols []string, rows [][]any) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	tmp := "_page_" + table
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE `+pgx.Identifier{tmp}.Sanitize()+
		` (LIKE `+s.table(table)+`) ON COMMIT DROP`); err != nil {
		return 0, fmt.Errorf("create temp table: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", tmp}, cols, pgx.CopyFromRows(rows)); err != nil {
		return 0, fmt.Errorf("copy rows: %w", err)
	}
	quoted := make([]string, len(cols))
	sets := make([]string, 0, len(cols))
	for i, col := range cols {
		quoted[i] = pgx.Identifier{col}.Sanitize()
		if col != "id" {
			sets = append(sets, quoted[i]+" = EXCLUDED."+quoted[i])
		}
	}
	list := strings.Join(quoted, ", ")
	tag, err := tx.Exec(ctx, `INSERT INTO `+s.table(table)+` (`+list+`, deleted_at)
		SELECT DISTINCT ON (id) `+list+`, NULL::timestamptz FROM `+pgx.Identifier{"pg_temp", tmp}.Sanitize()+` ORDER BY id
		ON CONFLICT (id) DO UPDATE SET `+strings.Join(sets, ", ")+`, deleted_at = NULL`)
	if err != nil {
		return 0, fmt.Errorf("merge rows: %w", err)
	}
	return tag.RowsAffected(), nil
}

// replaceOpportunityAssociations replaces the person and organization sets of each opportunity.
func (s *Store) replaceOpportunityAssociations(ctx context.Context, tx pgx.Tx, opps []Opportunity) error {
	if len(opps) == 0 {
		return nil
	}
	ids := make([]int64, len(opps))
	var oppP, personIDs, oppO, orgIDs []int64
	for i, o := range opps {
		ids[i] = o.ID
		for _, p := range o.PersonIDs {
			oppP, personIDs = append(oppP, o.ID), append(personIDs, p)
		}
		for _, org := range o.OrganizationIDs {
			oppO, orgIDs = append(oppO, o.ID), append(orgIDs, org)
		}
	}
	for _, a := range []struct {
		table, column string
		parents, ids  []int64
	}{
		{"opportunity_persons", "person_id", oppP, personIDs},
		{"opportunity_organizations", "organization_id", oppO, orgIDs},
	} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.table(a.table)+` WHERE opportunity_id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("delete %s: %w", a.table, err)
		}
		if len(a.ids) == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.table(a.table)+` (opportunity_id, `+a.column+`)
			SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`, a.parents, a.ids); err != nil {
			return fmt.Errorf("insert %s: %w", a.table, err)
		}
	}
	return nil
}

// lastByID keeps one element per id, the last one given, in order of first appearance.
func lastByID[T any](xs []T, id func(T) int64) []T {
	if len(xs) < 2 {
		return xs
	}
	pos := make(map[int64]int, len(xs))
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if i, ok := pos[id(x)]; ok {
			out[i] = x
			continue
		}
		pos[id(x)] = len(out)
		out = append(out, x)
	}
	return out
}
