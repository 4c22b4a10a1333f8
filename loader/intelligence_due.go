package loader

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// What is due of the per-entity intelligence streams (design §10): the entity×type pairs whose
// interactions moved, the external persons whose strengths are due, the entities whose files
// the fallback reads. Every rule is one statement over the warehouse; nothing is decided row by
// row in Go but the windows' arithmetic.

// Intelligence scopes (sync.intelligence_scope); "none" never reaches the loader.
const (
	ScopeListed = "listed"
	ScopeAll    = "all"
)

// IntelligenceQuery selects what is due.
type IntelligenceQuery struct {
	Scope  string  // "listed" | "all" ("none" never reaches the loader)
	Lists  []int64 // chosen lists; nil = every live list
	Now    time.Time
	Since  time.Duration // sync.interactions_since: first fetch window start = Now - Since
	MaxAge time.Duration // sync.intelligence_max_age for strengths; 0 = no age rule
	// Limit keeps the first Limit of what is due (InteractionsDue, StrengthsDue, FilesDue);
	// 0 = all. A pass that may send at most n more requests needs no more than n.
	Limit int
}

// limitSQL is the LIMIT clause of q.
func (q IntelligenceQuery) limitSQL() string {
	if q.Limit <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(q.Limit)
}

// InteractionDue is one entity×type whose interactions are due.
type InteractionDue struct {
	Key      InteractionKey
	From     time.Time          // window start: previous fetched_at - 24h, or Now - Since on a first fetch
	Through  InteractionThrough // the entity's dates now (recorded when the fetch is Done)
	Progress *InteractionFetch  // non-nil: a fetch in progress to continue exactly
	Activity *time.Time         // ordering key: the entity's last_interaction_at (or greatest of its dates)
}

// StrengthDue is one external person whose relationship strengths are due.
type StrengthDue struct {
	PersonID int64
	Activity *time.Time // the person's last_interaction_at (or greatest of its dates)
}

// IntelligenceCounts are what the per-entity intelligence streams have due, for plan.
type IntelligenceCounts struct {
	InteractionPairs    int64 // entity×type pairs due
	InteractionEntities int64 // distinct entities among them
	InteractionWindows  int64 // requests they need at one page per window (≤ 1 year each; events to Now+30d), less the windows their dates show to be empty (WindowEmpty)
	StrengthsDue        int64
	FilesListed         int64 // entities the file fallback would read
	// FilesPerEntity says entity_files reads one entity at a time (Affinity refused its
	// unfiltered listing): what a pass of it saw; IntelligenceCounts leaves it false.
	FilesPerEntity bool
}

// Interaction types (design §10): 0 meeting, 1 call, 2 chat message, 3 email.
const (
	InteractionMeeting = 0
	InteractionCall    = 1
	InteractionChat    = 2
	InteractionEmail   = 3
)

// EventsAhead is how far past now a meetings or calls fetch reads: they may lie in the future.
const EventsAhead = 30 * 24 * time.Hour

// InteractionsEnd is where a read of type typ started at now ends: now, or for meetings and
// calls (which may be scheduled) now plus EventsAhead.
func InteractionsEnd(typ int, now time.Time) time.Time {
	if typ == InteractionMeeting || typ == InteractionCall {
		return now.Add(EventsAhead)
	}
	return now
}

// WindowEnd is the end of the window of a read that starts at start: a year later at most
// (Affinity answers for no more), and never after end.
func WindowEnd(start, end time.Time) time.Time {
	if y := start.AddDate(1, 0, 0); y.Before(end) {
		return y
	}
	return end
}

func (q IntelligenceQuery) check() error {
	if q.Scope != ScopeListed && q.Scope != ScopeAll {
		return fmt.Errorf("intelligence scope %q: want %q or %q", q.Scope, ScopeListed, ScopeAll)
	}
	if q.Now.IsZero() {
		return fmt.Errorf("intelligence query: Now is not set")
	}
	return nil
}

// liveEntriesSQL selects entity_type, entity_id of the live entries of the chosen live lists
// (each entity once), of the kinds given as an SQL list of codes.
func (s *Store) liveEntriesSQL(lists []int64, kinds string) string {
	return `SELECT DISTINCT le.entity_type, le.entity_id FROM ` + s.table("list_entries") + ` le
		JOIN ` + s.table("lists") + ` l ON l.id = le.list_id AND l.deleted_at IS NULL
		WHERE le.deleted_at IS NULL AND le.entity_type IN (` + kinds + `)` + listIDFilter("le.list_id", lists)
}

// activitySQL is an entity's ordering key: its last interaction, else the greatest of its
// last dates.
const activitySQL = `coalesce(e.last_interaction_at, greatest(e.last_email_at, e.last_event_at, e.last_chat_message_at))`

// dueInteractionsSQL is a WITH clause naming "due": the entity×type pairs due, with
// in_progress, from_at (the window start of a new fetch), end_at (where a new fetch ends), the
// entity's dates, its activity and the fetch row's columns (f_*). $1 is Now, $2 Now - Since, $3
// Now + EventsAhead.
func (s *Store) dueInteractionsSQL(q IntelligenceQuery) string {
	dates := `last_email_at, last_event_at, next_event_at, last_chat_message_at, last_interaction_at`
	persons := `SELECT ` + sqlCode(EntityPerson) + `::smallint AS entity_type, p.id AS entity_id, ` + dates + `
		FROM ` + s.table(EntityPerson.Table()) + ` p WHERE p.deleted_at IS NULL AND p.type = 0`
	orgs := `SELECT ` + sqlCode(EntityOrganization) + `::smallint, o.id, ` + dates + `
		FROM ` + s.table(EntityOrganization.Table()) + ` o WHERE o.deleted_at IS NULL`
	with := `WITH `
	if q.Scope == ScopeListed {
		scope := s.liveEntriesSQL(q.Lists, sqlCode(EntityPerson)+","+sqlCode(EntityOrganization))
		persons += ` AND (` + sqlCode(EntityPerson) + `, p.id) IN (SELECT * FROM scope)`
		orgs += ` AND (` + sqlCode(EntityOrganization) + `, o.id) IN (SELECT * FROM scope)`
		with += `scope AS MATERIALIZED (` + scope + `), `
	}
	return with + `entities AS (` + persons + ` UNION ALL ` + orgs + `),
		pairs AS (
			SELECT e.entity_type, e.entity_id, t.type,
				e.last_email_at, e.last_event_at, e.next_event_at, e.last_chat_message_at,
				` + activitySQL + ` AS activity,
				CASE t.type WHEN ` + sqlCode(InteractionEmail) + ` THEN e.last_email_at
				            WHEN ` + sqlCode(InteractionChat) + ` THEN e.last_chat_message_at
				            ELSE e.last_event_at END AS d1,
				CASE WHEN t.type IN (` + sqlCode(InteractionMeeting) + `, ` + sqlCode(InteractionCall) + `) THEN e.next_event_at END AS d2,
				CASE t.type WHEN ` + sqlCode(InteractionEmail) + ` THEN f.last_email_at
				            WHEN ` + sqlCode(InteractionChat) + ` THEN f.last_chat_message_at
				            ELSE f.last_event_at END AS s1,
				CASE WHEN t.type IN (` + sqlCode(InteractionMeeting) + `, ` + sqlCode(InteractionCall) + `) THEN f.next_event_at END AS s2,
				f.fetched_at AS f_fetched_at, f.started_at AS f_started_at,
				f.last_email_at AS f_last_email_at, f.last_event_at AS f_last_event_at,
				f.next_event_at AS f_next_event_at, f.last_chat_message_at AS f_last_chat_message_at,
				f.window_start AS f_window_start, f.window_end AS f_window_end, f.fetch_end AS f_fetch_end,
				f.page_token AS f_page_token
			FROM entities e
			CROSS JOIN (VALUES (` + sqlCode(InteractionMeeting) + `), (` + sqlCode(InteractionCall) + `), (` +
		sqlCode(InteractionChat) + `), (` + sqlCode(InteractionEmail) + `)) AS t(type)
			LEFT JOIN ` + s.table("sync_interaction_fetches") + ` f
				ON f.entity_type = e.entity_type AND f.entity_id = e.entity_id AND f.interaction_type = t.type
		),
		due AS (
			SELECT pairs.*, f_started_at IS NOT NULL AS in_progress,
				CASE WHEN f_fetched_at IS NULL THEN $2::timestamptz ELSE f_fetched_at - interval '24 hours' END AS from_at,
				CASE WHEN type IN (` + sqlCode(InteractionMeeting) + `, ` + sqlCode(InteractionCall) + `) THEN $3::timestamptz ELSE $1::timestamptz END AS end_at
			FROM pairs
			WHERE f_started_at IS NOT NULL
			   OR (num_nonnulls(d1, d2) > 0 AND CASE
					WHEN f_fetched_at IS NULL THEN greatest(d1, d2) > $2::timestamptz
					WHEN type = ` + sqlCode(InteractionEmail) + ` THEN d1 > coalesce(s1, '-infinity')
					ELSE d1 IS DISTINCT FROM s1 OR d2 IS DISTINCT FROM s2
				END)
		)`
}

func (q IntelligenceQuery) interactionArgs() []any {
	return []any{q.Now, q.Now.Add(-q.Since), q.Now.Add(EventsAhead)}
}

// InteractionsDue: every entity×type in scope whose date moved past what was fetched (email:
// last_email_at IS DISTINCT FROM and > stored; meetings & calls (types 0 and 1, each its own
// pair): last_event_at or next_event_at IS DISTINCT FROM stored; chat: last_chat_message_at),
// never fetched pairs count only when the date is not null and (for the first fetch) the entity
// has a date later than Now - Since; pairs in progress first, then most recently active first
// (Activity desc nulls last, then entity type, id, type). Persons: external only (type 0),
// live. Organizations: live. listed = persons on live entries of the chosen lists (person
// lists) and organizations on live entries of the chosen lists (organization lists).
//
// A pair in progress has From as a new fetch would (its Progress says where to continue), and
// Through as of now, Progress.Through as recorded when the fetch started.
//
// A pair whose dates are all null is never due (unless in progress); "the entity has a date
// later than Now - Since" is read as the type's own dates (e-mail: last_email_at; meetings and
// calls: last_event_at or next_event_at; chat: last_chat_message_at).
func (s *Store) InteractionsDue(ctx context.Context, q IntelligenceQuery) ([]InteractionDue, error) {
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("read interactions due: %w", err)
	}
	rows, err := s.pool.Query(ctx, s.dueInteractionsSQL(q)+`
		SELECT entity_type, entity_id, type, from_at, last_email_at, last_event_at, next_event_at, last_chat_message_at,
			activity, in_progress, f_started_at, f_last_email_at, f_last_event_at, f_next_event_at, f_last_chat_message_at,
			f_window_start, f_window_end, f_fetch_end, coalesce(f_page_token, '')
		FROM due
		ORDER BY in_progress DESC, activity DESC NULLS LAST, entity_type, entity_id, type`+q.limitSQL(), q.interactionArgs()...)
	if err != nil {
		return nil, fmt.Errorf("read interactions due: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InteractionDue, error) {
		var (
			d                                  InteractionDue
			now                                InteractionThrough
			inProgress                         bool
			started, wStart, wEnd, end         *time.Time
			p                                  InteractionFetch
			token                              string
			email, event, next, chat, activity *time.Time
		)
		if err := r.Scan(&d.Key.Entity.Type, &d.Key.Entity.ID, &d.Key.Type, &d.From, &email, &event, &next, &chat,
			&activity, &inProgress, &started, &p.Through.LastEmailAt, &p.Through.LastEventAt, &p.Through.NextEventAt,
			&p.Through.LastChatMessageAt, &wStart, &wEnd, &end, &token); err != nil {
			return d, err
		}
		now = InteractionThrough{LastEmailAt: email, LastEventAt: event, NextEventAt: next, LastChatMessageAt: chat}
		d.Through = throughOf(d.Key.Type, now)
		d.Activity = activity
		if inProgress {
			p.Key, p.StartedAt, p.PageToken = d.Key, deref(started), token
			p.WindowStart, p.WindowEnd, p.End = deref(wStart), deref(wEnd), deref(end)
			p.Through = throughOf(d.Key.Type, p.Through)
			d.Progress = &p
		}
		return d, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read interactions due: %w", err)
	}
	return due, nil
}

// throughOf keeps the dates of typ's due rule.
func throughOf(typ int, d InteractionThrough) InteractionThrough {
	switch typ {
	case InteractionEmail:
		return InteractionThrough{LastEmailAt: d.LastEmailAt}
	case InteractionChat:
		return InteractionThrough{LastChatMessageAt: d.LastChatMessageAt}
	case InteractionMeeting, InteractionCall:
		return InteractionThrough{LastEventAt: d.LastEventAt, NextEventAt: d.NextEventAt}
	}
	return InteractionThrough{}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// dueStrengthsSQL is a WITH clause naming "due": the external live persons in scope whose
// strengths are due, with their activity. $1 is Now - MaxAge (null = no age rule).
func (s *Store) dueStrengthsSQL(q IntelligenceQuery) string {
	where := ``
	if q.Scope == ScopeListed {
		entries := s.liveEntriesSQL(q.Lists, sqlCode(EntityPerson)+","+sqlCode(EntityOrganization)+","+sqlCode(EntityOpportunity))
		where = ` AND e.id IN (
			SELECT entity_id FROM listed WHERE entity_type = ` + sqlCode(EntityPerson) + `
			UNION
			SELECT op.person_id FROM listed
			JOIN ` + s.table(EntityOrganization.Table()) + ` o ON o.id = listed.entity_id AND o.deleted_at IS NULL
			JOIN ` + s.table("organization_persons") + ` op ON op.organization_id = o.id
			WHERE listed.entity_type = ` + sqlCode(EntityOrganization) + `
			UNION
			SELECT pp.person_id FROM listed
			JOIN ` + s.table(EntityOpportunity.Table()) + ` x ON x.id = listed.entity_id AND x.deleted_at IS NULL
			JOIN ` + s.table("opportunity_persons") + ` pp ON pp.opportunity_id = x.id
			WHERE listed.entity_type = ` + sqlCode(EntityOpportunity) + `)`
		return `WITH listed AS MATERIALIZED (` + entries + `), ` + s.strengthsDueCTE(where)
	}
	return `WITH ` + s.strengthsDueCTE(where)
}

func (s *Store) strengthsDueCTE(where string) string {
	dates := func(a string) string {
		return `(` + a + `.first_email_at, ` + a + `.last_email_at, ` + a + `.first_event_at, ` + a + `.last_event_at, ` +
			a + `.next_event_at, ` + a + `.last_chat_message_at, ` + a + `.last_interaction_at)`
	}
	return `due AS (
			SELECT e.id, ` + activitySQL + ` AS activity
			FROM ` + s.table(EntityPerson.Table()) + ` e
			LEFT JOIN ` + s.table("sync_strength_fetches") + ` f ON f.person_id = e.id
			WHERE e.deleted_at IS NULL AND e.type = 0` + where + `
			  AND (f.person_id IS NULL OR ` + dates("e") + ` IS DISTINCT FROM ` + dates("f") + `
			       OR f.fetched_at < $1::timestamptz)
		)`
}

func (q IntelligenceQuery) strengthArgs() []any {
	if q.MaxAge <= 0 {
		return []any{nil}
	}
	return []any{q.Now.Add(-q.MaxAge)}
}

// StrengthsDue: external live persons in scope (listed: persons on live entries of chosen lists,
// the persons (organization_persons) of organizations on them, the persons
// (opportunity_persons) of opportunities on them; all: every external live person) never
// fetched, or whose interaction dates differ from those recorded at the fetch, or fetched
// before Now - MaxAge (MaxAge 0: no age rule); most recently active first, then by id.
func (s *Store) StrengthsDue(ctx context.Context, q IntelligenceQuery) ([]StrengthDue, error) {
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("read strengths due: %w", err)
	}
	rows, err := s.pool.Query(ctx, s.dueStrengthsSQL(q)+` SELECT id, activity FROM due ORDER BY activity DESC NULLS LAST, id`+q.limitSQL(),
		q.strengthArgs()...)
	if err != nil {
		return nil, fmt.Errorf("read strengths due: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StrengthDue, error) {
		var d StrengthDue
		err := r.Scan(&d.PersonID, &d.Activity)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("read strengths due: %w", err)
	}
	return due, nil
}

// dueFilesSQL is a WITH clause naming "due": the entities on live entries of the chosen live
// lists, with when their files were last read (null = never).
func (s *Store) dueFilesSQL(q IntelligenceQuery) string {
	return `WITH due AS (
			SELECT le.entity_type, le.entity_id, ff.fetched_at
			FROM (` + s.liveEntriesSQL(q.Lists, sqlCode(EntityPerson)+","+sqlCode(EntityOrganization)+","+sqlCode(EntityOpportunity)) + `) le
			LEFT JOIN ` + s.table("sync_file_fetches") + ` ff ON ff.entity_type = le.entity_type AND ff.entity_id = le.entity_id
		)`
}

// FilesDue: the entities on live entries of the chosen lists (persons, organizations,
// opportunities; persons external or not — files attach to any), least recently fetched
// (sync_file_fetches) first, never fetched first, then by entity type and id. Scope does not
// apply: the fallback reads the listed entities.
func (s *Store) FilesDue(ctx context.Context, q IntelligenceQuery) ([]EntityKey, error) {
	rows, err := s.pool.Query(ctx, s.dueFilesSQL(q)+` SELECT entity_type, entity_id FROM due
		ORDER BY fetched_at NULLS FIRST, entity_type, entity_id`+q.limitSQL())
	if err != nil {
		return nil, fmt.Errorf("read entities due for files: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EntityKey, error) {
		var k EntityKey
		err := r.Scan(&k.Type, &k.ID)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("read entities due for files: %w", err)
	}
	return keys, nil
}

// IntelligenceCounts counts what InteractionsDue, StrengthsDue and FilesDue return for q, in
// one repeatable-read snapshot. InteractionWindows counts one request per window: a new fetch
// runs from its From to Now (e-mail, chat) or Now + 30 days (meetings, calls) in windows of at
// most a year (at least one request); a fetch in progress counts its current window and those
// from its WindowEnd to its End.
func (s *Store) IntelligenceCounts(ctx context.Context, q IntelligenceQuery) (IntelligenceCounts, error) {
	if err := q.check(); err != nil {
		return IntelligenceCounts{}, fmt.Errorf("count intelligence due: %w", err)
	}
	var c IntelligenceCounts
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		// Each pair's windows, less those its dates show to be empty (as the read skips them).
		rows, err := tx.Query(ctx, s.dueInteractionsSQL(q)+`
			SELECT entity_type, entity_id, type, in_progress, from_at, end_at, f_window_start, f_window_end, f_fetch_end,
				coalesce(f_page_token, ''), last_email_at, last_event_at, next_event_at, last_chat_message_at
			FROM due`, q.interactionArgs()...)
		if err != nil {
			return fmt.Errorf("interactions: %w", err)
		}
		var (
			entity                   EntityKey
			typ                      int
			inProgress               bool
			from, end                time.Time
			wStart, wEnd, fetchEnd   *time.Time
			token                    string
			email, event, next, chat *time.Time
			entities                 = map[EntityKey]bool{}
		)
		if _, err := pgx.ForEachRow(rows, []any{&entity.Type, &entity.ID, &typ, &inProgress, &from, &end, &wStart, &wEnd, &fetchEnd,
			&token, &email, &event, &next, &chat}, func() error {
			d := throughOf(typ, InteractionThrough{LastEmailAt: email, LastEventAt: event, NextEventAt: next, LastChatMessageAt: chat})
			var n int64
			switch {
			case inProgress && token != "":
				n = 1 + WindowsToRead(typ, d, deref(wEnd), deref(fetchEnd)) // the window being read, then the rest
			case inProgress:
				n = WindowsToRead(typ, d, deref(wStart), deref(fetchEnd))
			default:
				n = WindowsToRead(typ, d, from, end)
			}
			c.InteractionPairs++
			c.InteractionWindows += n
			entities[entity] = true
			return nil
		}); err != nil {
			return fmt.Errorf("interactions: %w", err)
		}
		c.InteractionEntities = int64(len(entities))
		if err := tx.QueryRow(ctx, s.dueStrengthsSQL(q)+` SELECT count(*) FROM due`, q.strengthArgs()...).Scan(&c.StrengthsDue); err != nil {
			return fmt.Errorf("strengths: %w", err)
		}
		if err := tx.QueryRow(ctx, s.dueFilesSQL(q)+` SELECT count(*) FROM due`).Scan(&c.FilesListed); err != nil {
			return fmt.Errorf("files: %w", err)
		}
		return nil
	})
	if err != nil {
		return IntelligenceCounts{}, fmt.Errorf("count intelligence due: %w", err)
	}
	return c, nil
}

// WindowEmpty reports whether an entity's interaction dates of type typ (d, as throughOf keeps
// them) say that [start, end) holds no interaction of that type: e-mails and chat messages lie
// at or before their last date; meetings and calls at or before the last event or at or after
// the next one, never between. A read does not ask for such a window.
func WindowEmpty(typ int, d InteractionThrough, start, end time.Time) bool {
	before := func(last *time.Time) bool { return last == nil || last.Before(start) }
	switch typ {
	case InteractionEmail:
		return before(d.LastEmailAt)
	case InteractionChat:
		return before(d.LastChatMessageAt)
	}
	return before(d.LastEventAt) && (d.NextEventAt == nil || !d.NextEventAt.Before(end))
}

// WindowsToRead counts the windows of at most a year from start to end (each starting where
// the one before ended) that d does not show to be empty: the requests of a read at one page a
// window.
func WindowsToRead(typ int, d InteractionThrough, start, end time.Time) int64 {
	var n int64
	for ws := start; ws.Before(end); ws = WindowEnd(ws, end) {
		if !WindowEmpty(typ, d, ws, WindowEnd(ws, end)) {
			n++
		}
	}
	return n
}
