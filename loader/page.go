package loader

import (
	"context"
	"fmt"
	"slices"
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
	Lists         []List
	ListEntries   []ListEntry
	// Fields are upserted; each field's dropdown_options are replaced as a set: options not in
	// Options get deleted_at, the ones present are upserted live.
	Fields []Field
	// EntityValues upserts each entity's values, then soft-deletes that entity's live values
	// not in its set (list-entry values included).
	EntityValues []EntityValues
	// ScopedValues are API v2 reads: each replaces its scope's values as a set, keeping the
	// stored row (id and times included) of every value equal to one. Written after
	// EntityValues.
	ScopedValues []ScopedValues
	// Changes are inserted once: a change already stored is never modified.
	Changes []FieldValueChange
	// HistoriesRead are the tracked fields whose whole v1 change history this page completes;
	// Feed moves the v2 change feed's watermark and probe time. Both are written with the
	// page's changes.
	HistoriesRead       []ChangeHistoryRead
	Feed                FeedMark
	OrganizationPersons []OrganizationPersons // replaces those organizations' person sets
	// Notes are upserted; each note's persons, organizations and opportunities replace the
	// stored sets.
	Notes []Note
	// Relationship intelligence and files (design §10). EntityFiles and Reminders are
	// upserted live; each of EntityFileSets replaces one entity's files; each of Strengths
	// replaces one external person's pairs (with history rows); Interactions are upserted by
	// (type, id) with their participants replaced; InteractionFetches move the per entity×type
	// bookkeeping of the interactions read.
	EntityFiles        []EntityFile
	EntityFileSets     []EntityFileSet
	Reminders          []Reminder
	Strengths          []StrengthSet
	Interactions       []Interaction
	InteractionFetches []InteractionFetch

	noCheckpoint bool // CommitRefresh: the rows only
}

// PageStats says what CommitPage wrote.
type PageStats struct {
	// Rows counts rows written to every table: rows inserted or updated (after de-duplication
	// by key), rows soft-deleted by a set replacement, association rows inserted.
	Rows         int64
	NULsReplaced int64 // NUL characters and invalid UTF-8 bytes replaced by U+FFFD
}

// The entity tables; persons and organizations take dateColumns too on a listing with dates.
var (
	personsTable = stagedTable{name: "persons", key: idKey,
		cols: []string{"id", "type", "first_name", "last_name", "primary_email", "emails", "synced_at"}}
	organizationsTable = stagedTable{name: "organizations", key: idKey,
		cols: []string{"id", "name", "domain", "domains", "crunchbase_uuid", "global", "synced_at"}}
	opportunitiesTable = stagedTable{name: "opportunities", key: idKey, cols: []string{"id", "name", "list_id", "synced_at"}}
)

var dateColumns = []string{
	"first_email_at", "last_email_at", "first_event_at", "last_event_at", "next_event_at",
	"last_chat_message_at", "last_interaction_at", "interaction_dates_synced_at",
}

// withDates is t with dateColumns written too when dates is set.
func withDates(t stagedTable, dates bool) stagedTable {
	if dates {
		t.cols = append(slices.Clip(t.cols), dateColumns...)
	}
	return t
}

func dateValues(d *InteractionDates, seenAt time.Time) []any {
	if d == nil {
		d = &InteractionDates{}
	}
	return []any{d.FirstEmailAt, d.LastEmailAt, d.FirstEventAt, d.LastEventAt, d.NextEventAt,
		d.LastChatMessageAt, d.LastInteractionAt, seenAt}
}

// CommitPage writes the page's rows and its checkpoint in one transaction. Rows with the same
// key inside the page are written once (the last one wins); a row written is live again
// (deleted_at cleared). Fields are written before field values, so a value without its own
// value type takes its field's from the same page or an earlier one. Field value changes are
// inserted once and never modified. NULs, invalid UTF-8, and the \u0000 escapes and unpaired
// surrogates jsonb rejects are replaced and counted, never an error; a Number projection that
// is not a decimal is an error and nothing is written.
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
	rest, err := warehouseRowsOf(&c, p)
	if err != nil {
		return PageStats{}, fmt.Errorf("commit page of %s: %w", p.Checkpoint.Stream, err)
	}
	notes := noteRowsOf(&c, p.Notes, p.SeenAt)
	files := fileRowsOf(&c, p.EntityFiles, p.EntityFileSets, p.SeenAt)
	reminders := reminderRowsOf(&c, p.Reminders, p.SeenAt)
	strengths := strengthRowsOf(p.Strengths, p.SeenAt)
	interactions, err := interactionRowsOf(&c, p.Interactions, p.SeenAt)
	if err != nil {
		return PageStats{}, fmt.Errorf("commit page of %s: %w", p.Checkpoint.Stream, err)
	}

	var stats PageStats
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := s.writeStaged(ctx, tx, withDates(personsTable, p.WithDates), persons)
		if err != nil {
			return fmt.Errorf("upsert persons page: %w", err)
		}
		stats.Rows += n
		if n, err = s.writeStaged(ctx, tx, withDates(organizationsTable, p.WithDates), orgs); err != nil {
			return fmt.Errorf("upsert organizations page: %w", err)
		}
		stats.Rows += n
		if n, err = s.writeStaged(ctx, tx, opportunitiesTable, oppRows); err != nil {
			return fmt.Errorf("upsert opportunities page: %w", err)
		}
		stats.Rows += n
		if n, err = s.replaceOpportunityAssociations(ctx, tx, opps); err != nil {
			return fmt.Errorf("replace opportunity associations: %w", err)
		}
		stats.Rows += n
		if n, err = s.commitWarehouseRows(ctx, tx, rest); err != nil {
			return err
		}
		stats.Rows += n
		if n, err = s.commitNotes(ctx, tx, notes); err != nil {
			return err
		}
		stats.Rows += n
		if n, err = s.commitIntelligence(ctx, tx, files, reminders, strengths, interactions, p.InteractionFetches); err != nil {
			return err
		}
		stats.Rows += n
		if _, err := s.recordFreshness(ctx, tx, rest, p.SeenAt); err != nil {
			return err
		}
		if err := s.commitChangeFeed(ctx, tx, p.HistoriesRead, p.Feed); err != nil {
			return err
		}
		if p.noCheckpoint {
			return nil
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

// association is the rows of one association table for a set of parents: every parent's
// rows are replaced by the (parent, child) pairs given.
type association struct {
	table, parentCol, childCol string
	parentIDs                  []int64 // every parent whose set is replaced, even to an empty one
	parents, children          []int64 // the pairs, element by element
}

// replaceOpportunityAssociations replaces the sets of the opportunities' persons and organizations, and
// returns how many association rows it wrote.
func (s *Store) replaceOpportunityAssociations(ctx context.Context, tx pgx.Tx, opps []Opportunity) (int64, error) {
	if len(opps) == 0 {
		return 0, nil
	}
	persons := association{table: "opportunity_persons", parentCol: "opportunity_id", childCol: "person_id"}
	orgs := association{table: "opportunity_organizations", parentCol: "opportunity_id", childCol: "organization_id"}
	for _, o := range opps {
		persons.parentIDs = append(persons.parentIDs, o.ID)
		orgs.parentIDs = append(orgs.parentIDs, o.ID)
		for _, p := range o.PersonIDs {
			persons.parents, persons.children = append(persons.parents, o.ID), append(persons.children, p)
		}
		for _, org := range o.OrganizationIDs {
			orgs.parents, orgs.children = append(orgs.parents, o.ID), append(orgs.children, org)
		}
	}
	var n int64
	for _, a := range []association{persons, orgs} {
		written, err := s.replaceAssociation(ctx, tx, a)
		if err != nil {
			return 0, err
		}
		n += written
	}
	return n, nil
}

// replaceAssociation deletes the parents' rows and inserts the pairs given (duplicates once).
func (s *Store) replaceAssociation(ctx context.Context, tx pgx.Tx, a association) (int64, error) {
	if len(a.parentIDs) == 0 {
		return 0, nil
	}
	parent, child := pgx.Identifier{a.parentCol}.Sanitize(), pgx.Identifier{a.childCol}.Sanitize()
	if _, err := tx.Exec(ctx, `DELETE FROM `+s.table(a.table)+` WHERE `+parent+` = ANY($1)`, a.parentIDs); err != nil {
		return 0, fmt.Errorf("delete %s: %w", a.table, err)
	}
	if len(a.children) == 0 {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, `INSERT INTO `+s.table(a.table)+` (`+parent+`, `+child+`)
		SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`, a.parents, a.children)
	if err != nil {
		return 0, fmt.Errorf("insert %s: %w", a.table, err)
	}
	return tag.RowsAffected(), nil
}

// lastByID keeps one element per id, the last one given, in order of first appearance.
func lastByID[T any](xs []T, id func(T) int64) []T { return lastByKey(xs, id) }

// lastByKey keeps one element per key, the last one given, in order of first appearance.
func lastByKey[T any, K comparable](xs []T, key func(T) K) []T {
	if len(xs) < 2 {
		return xs
	}
	pos := make(map[K]int, len(xs))
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if i, ok := pos[key(x)]; ok {
			out[i] = x
			continue
		}
		pos[key(x)] = len(out)
		out = append(out, x)
	}
	return out
}

// Append adds src's rows to p (the checkpoint and the rest of p stay).
func (p *Page) Append(src Page) {
	p.Persons = append(p.Persons, src.Persons...)
	p.Organizations = append(p.Organizations, src.Organizations...)
	p.Opportunities = append(p.Opportunities, src.Opportunities...)
	p.Lists = append(p.Lists, src.Lists...)
	p.ListEntries = append(p.ListEntries, src.ListEntries...)
	p.Fields = append(p.Fields, src.Fields...)
	p.EntityValues = append(p.EntityValues, src.EntityValues...)
	p.ScopedValues = append(p.ScopedValues, src.ScopedValues...)
	p.Changes = append(p.Changes, src.Changes...)
	p.HistoriesRead = append(p.HistoriesRead, src.HistoriesRead...)
	p.Feed.merge(src.Feed)
	p.OrganizationPersons = append(p.OrganizationPersons, src.OrganizationPersons...)
	p.Notes = append(p.Notes, src.Notes...)
	p.EntityFiles = append(p.EntityFiles, src.EntityFiles...)
	p.EntityFileSets = append(p.EntityFileSets, src.EntityFileSets...)
	p.Reminders = append(p.Reminders, src.Reminders...)
	p.Strengths = append(p.Strengths, src.Strengths...)
	p.Interactions = append(p.Interactions, src.Interactions...)
	p.InteractionFetches = append(p.InteractionFetches, src.InteractionFetches...)
}

// RowCount is how many rows p holds, an entity's values, a set's files and a strength set's
// pairs counted one by one (a strength set without pairs, or gone, counts one).
func (p Page) RowCount() int {
	n := len(p.Persons) + len(p.Organizations) + len(p.Opportunities) + len(p.Lists) + len(p.ListEntries) +
		len(p.Fields) + len(p.Changes) + len(p.OrganizationPersons) + len(p.Notes) +
		len(p.EntityFiles) + len(p.Reminders) + len(p.Interactions) + len(p.InteractionFetches)
	for _, fs := range p.EntityFileSets {
		n += max(len(fs.Files), 1)
	}
	for _, ss := range p.Strengths {
		n += max(len(ss.Pairs), 1)
	}
	for _, ev := range p.EntityValues {
		n += len(ev.Values)
	}
	for _, sv := range p.ScopedValues {
		n += len(sv.Values)
	}
	return n
}
