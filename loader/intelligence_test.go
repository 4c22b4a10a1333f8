package loader_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// strings returns the first column of a query's rows, as text.
func (e env) strings(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	rows, err := e.conn.Query(t.Context(), sql, args...)
	require.NoError(t, err)
	out := []string{}
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// participants returns an interaction's persons as "role:id", sorted.
func (e env) participants(t *testing.T, typ int, id int64) []string {
	t.Helper()
	return e.strings(t, `SELECT role || ':' || person_id FROM `+e.table("interaction_persons")+`
		WHERE type = $1 AND interaction_id = $2 ORDER BY 1`, typ, id)
}

func TestCommitPageInteractions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	email := func(persons ...loader.InteractionPerson) loader.Interaction {
		return loader.Interaction{Type: 3, ID: 100, OccurredAt: at, Subject: ptr("Intro"), Direction: ptr(0),
			NoteIDs: []int64{7, 8}, Raw: []byte(`{"id": 100, "subject": "Intro\u0000"}`), Persons: persons}
	}
	meeting := loader.Interaction{Type: 0, ID: 100, OccurredAt: at, StartTime: &at, Title: ptr("Sync"), ManualCreatorID: ptr[int64](70),
		Persons: []loader.InteractionPerson{{PersonID: 1, Role: loader.InteractionRoleAttendee}, {PersonID: 5, Role: loader.InteractionRoleAttendee}}}

	// The same e-mail twice in a page (found through two entities): one row, the last one's
	// participants.
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("interactions", t0, ""), SeenAt: t0, Interactions: []loader.Interaction{
		email(loader.InteractionPerson{PersonID: 1, Role: "from"}),
		meeting,
		email(loader.InteractionPerson{PersonID: 2, Role: "from"}, loader.InteractionPerson{PersonID: 3, Role: "to"},
			loader.InteractionPerson{PersonID: 4, Role: "to"}, loader.InteractionPerson{PersonID: 4, Role: "to"}),
	}})
	require.NoError(t, err)
	require.Equal(t, loader.PageStats{Rows: 2 + 3 + 2, NULsReplaced: 1}, stats)
	require.Equal(t, int64(2), e.count(t, "interactions", "true"), "ids are unique per type only")
	require.Equal(t, []string{"from:2", "to:3", "to:4"}, e.participants(t, 3, 100))
	require.Equal(t, []string{"attendee:1", "attendee:5"}, e.participants(t, 0, 100))
	require.Equal(t, []string{`Intro` + "\uFFFD" + `|{7,8}|0`}, e.strings(t, `SELECT (raw->>'subject') || '|' || note_ids::text || '|' || direction
		FROM `+e.table("interactions")+` WHERE type = 3 AND id = 100`))
	require.Equal(t, []string{"Sync|{}|70"}, e.strings(t, `SELECT title || '|' || note_ids::text || '|' || manual_creator_id
		FROM `+e.table("interactions")+` WHERE type = 0 AND id = 100`))

	// Found again in a later page: still one row, its participants replaced, synced_at moved;
	// the meeting is untouched.
	t1 := t0.Add(time.Hour)
	e.commit(t, loader.Page{Checkpoint: cp("interactions", t0, ""), SeenAt: t1, Interactions: []loader.Interaction{
		email(loader.InteractionPerson{PersonID: 9, Role: "cc"})}})
	require.Equal(t, int64(2), e.count(t, "interactions", "true"))
	require.Equal(t, []string{"cc:9"}, e.participants(t, 3, 100))
	require.Equal(t, []string{"attendee:1", "attendee:5"}, e.participants(t, 0, 100))
	require.Equal(t, int64(1), e.count(t, "interactions", "type = 3 AND synced_at = $1", t1))
	require.Equal(t, int64(1), e.count(t, "interactions", "type = 0 AND synced_at = $1", t0))

	// A role outside the contract fails the page before anything is written.
	_, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("interactions", t0, ""), SeenAt: t1, Interactions: []loader.Interaction{
		{Type: 2, ID: 1, OccurredAt: at, Persons: []loader.InteractionPerson{{PersonID: 1, Role: "bcc"}}}}})
	require.ErrorContains(t, err, `role "bcc"`)
	require.Equal(t, int64(0), e.count(t, "interactions", "type = 2"))

	// A webhook refresh writes them the same way.
	_, err = e.store.CommitRefresh(ctx, loader.Page{SeenAt: t1, Interactions: []loader.Interaction{
		{Type: 2, ID: 1, OccurredAt: at, Persons: []loader.InteractionPerson{{PersonID: 1, Role: "participant"}}}}})
	require.NoError(t, err)
	require.Equal(t, []string{"participant:1"}, e.participants(t, 2, 1))
}

// history returns relationship_strength_history as "ext-int:strength@hours since t0", in
// order.
func (e env) history(t *testing.T) []string {
	t.Helper()
	return e.strings(t, `SELECT external_person_id || '-' || internal_person_id || ':' || coalesce(strength::text, 'null')
			|| '@' || (extract(epoch FROM observed_at - $1::timestamptz) / 3600)::int
		FROM `+e.table("relationship_strength_history")+` ORDER BY observed_at, external_person_id, internal_person_id`, t0)
}

// pairs returns relationship_strengths as "ext-int:strength" plus " deleted" when soft-deleted.
func (e env) pairs(t *testing.T) []string {
	t.Helper()
	return e.strings(t, `SELECT external_person_id || '-' || internal_person_id || ':' || strength
			|| CASE WHEN deleted_at IS NULL THEN '' ELSE ' deleted' END
		FROM `+e.table("relationship_strengths")+` ORDER BY external_person_id, internal_person_id`)
}

func TestCommitPageStrengths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	last := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	e.commit(t, loader.Page{SeenAt: t0, WithDates: true, Persons: []loader.Person{
		{ID: 10, Dates: &loader.InteractionDates{LastEmailAt: &last, LastInteractionAt: &last}}, {ID: 11}}})

	set := func(person int64, at time.Time, pairs ...loader.StrengthPair) loader.StrengthSet {
		return loader.StrengthSet{ExternalPersonID: person, FetchedAt: at, Pairs: pairs}
	}
	p := func(internal int64, strength float64) loader.StrengthPair {
		return loader.StrengthPair{InternalPersonID: internal, Strength: strength}
	}
	steps := []struct {
		name    string
		sets    []loader.StrengthSet
		rows    int64
		pairs   []string
		history []string // appended by this step
	}{
		{"first read: every pair new", []loader.StrengthSet{
			set(10, h(1), p(1, 0.5), p(2, 0.7)), set(11, h(1), p(1, 0.1)),
		}, 3 + 3, []string{"10-1:0.5", "10-2:0.7", "11-1:0.1"},
			[]string{"10-1:0.5@1", "10-2:0.7@1", "11-1:0.1@1"}},
		{"unchanged, changed and new pairs; person 11 not read", []loader.StrengthSet{
			set(10, h(2), p(1, 0.5), p(2, 0.9), p(3, 0.2)),
		}, 3 + 2, []string{"10-1:0.5", "10-2:0.9", "10-3:0.2", "11-1:0.1"},
			[]string{"10-2:0.9@2", "10-3:0.2@2"}},
		{"pairs no longer returned are gone; the last set of a person in a page wins", []loader.StrengthSet{
			set(10, h(3), p(9, 1)), set(10, h(3), p(1, 0.5)),
		}, 1 + 2 + 2, []string{"10-1:0.5", "10-2:0.9 deleted", "10-3:0.2 deleted", "11-1:0.1"},
			[]string{"10-2:null@3", "10-3:null@3"}},
		{"a 404: every live pair gone", []loader.StrengthSet{
			{ExternalPersonID: 10, FetchedAt: h(4), Gone: true, Pairs: []loader.StrengthPair{p(1, 0.5)}},
		}, 2, []string{"10-1:0.5 deleted", "10-2:0.9 deleted", "10-3:0.2 deleted", "11-1:0.1"},
			[]string{"10-1:null@4"}},
		{"a pair back after it was gone is new again", []loader.StrengthSet{
			set(10, h(5), p(2, 0.9)),
		}, 2, []string{"10-1:0.5 deleted", "10-2:0.9", "10-3:0.2 deleted", "11-1:0.1"},
			[]string{"10-2:0.9@5"}},
		{"the same read again changes nothing", []loader.StrengthSet{
			set(10, h(5), p(2, 0.9)),
		}, 1, []string{"10-1:0.5 deleted", "10-2:0.9", "10-3:0.2 deleted", "11-1:0.1"}, nil},
	}
	var history []string
	for _, step := range steps {
		stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("relationship_strengths", t0, ""), SeenAt: t0, Strengths: step.sets})
		require.NoError(t, err, step.name)
		require.Equal(t, step.rows, stats.Rows, step.name)
		require.Equal(t, step.pairs, e.pairs(t), step.name)
		history = append(history, step.history...)
		require.Equal(t, history, e.history(t), step.name)
	}

	// The read is recorded with the person's dates as stored at commit (none for a person the
	// warehouse does not hold).
	e.commit(t, loader.Page{Strengths: []loader.StrengthSet{set(12, h(6))}, SeenAt: t0})
	require.Equal(t, []string{"10|5|2025-05-01|2025-05-01", "11|1||", "12|6||"}, e.strings(t, `SELECT person_id || '|' ||
			(extract(epoch FROM fetched_at - $1::timestamptz) / 3600)::int || '|' ||
			coalesce(to_char(last_email_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '') || '|' ||
			coalesce(to_char(last_interaction_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '')
		FROM `+e.table("sync_strength_fetches")+` ORDER BY person_id`, t0))
	require.Equal(t, int64(1), e.count(t, "relationship_strengths", "fetched_at = $1 AND deleted_at IS NULL", h(5)))
}

func TestPersonDeleteTakesStrengths(t *testing.T) {
	t.Parallel()
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	seed := func(t *testing.T, e env, persons int) {
		var ps []loader.Person
		for id := int64(1); id <= int64(persons); id++ {
			ps = append(ps, loader.Person{ID: id})
		}
		e.commit(t, loader.Page{SeenAt: t0, Persons: ps, Strengths: []loader.StrengthSet{
			{ExternalPersonID: 1, FetchedAt: h(1), Pairs: []loader.StrengthPair{{InternalPersonID: 90, Strength: 1}, {InternalPersonID: 91, Strength: 2}}},
			{ExternalPersonID: 2, FetchedAt: h(1), Pairs: []loader.StrengthPair{{InternalPersonID: 1, Strength: 3}}},
		}})
		// Pair 1-92 gone already.
		e.commit(t, loader.Page{SeenAt: t0, Strengths: []loader.StrengthSet{
			{ExternalPersonID: 3, FetchedAt: h(1), Pairs: []loader.StrengthPair{{InternalPersonID: 92, Strength: 1}}}}})
	}

	t.Run("by id", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "affinity")
		seed(t, e, 3)
		n, err := e.store.SoftDeleteObject(t.Context(), loader.ObjectPerson, 1)
		require.NoError(t, err)
		require.Equal(t, int64(3), n, "the person and its two live pairs")
		require.Equal(t, []string{"1-90:1 deleted", "1-91:2 deleted", "2-1:3", "3-92:1"}, e.pairs(t),
			"only pairs where it is the external person")
		require.Equal(t, int64(2), e.count(t, "relationship_strength_history", "strength IS NULL AND external_person_id = 1"))
		n, err = e.store.SoftDeleteObject(t.Context(), loader.ObjectPerson, 1)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, int64(2), e.count(t, "relationship_strength_history", "strength IS NULL"), "no second history row")
	})

	t.Run("end of pass, under the guard", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "affinity")
		seed(t, e, 12)
		t1 := t0.Add(24 * time.Hour)
		var seen []loader.Person
		for id := int64(2); id <= 4; id++ {
			seen = append(seen, loader.Person{ID: id})
		}
		e.commit(t, loader.Page{Checkpoint: cp("persons", t1, "x"), SeenAt: t1, Persons: seen})
		_, err := e.store.CompletePhase(t.Context(), cp("persons", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectPerson),
			loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
		requireMassDelete(t, err, loader.MassDeleteError{Table: "persons", Live: 12, WouldDelete: 9, MaxShare: 0.5})
		require.Equal(t, []string{"1-90:1", "1-91:2", "2-1:3", "3-92:1"}, e.pairs(t), "a refused delete takes no pair")
		require.Zero(t, e.count(t, "relationship_strength_history", "strength IS NULL"))

		n, err := e.store.CompletePhase(t.Context(), cp("persons", t1, ""), loader.EndSoftDeleteUnseen(loader.ObjectPerson),
			loader.PassOptions{MaxDeleteShare: 0.5, AllowMassDelete: true, EndsPass: true})
		require.NoError(t, err)
		require.Equal(t, int64(9), n, "persons only are counted")
		require.Equal(t, []string{"1-90:1 deleted", "1-91:2 deleted", "2-1:3", "3-92:1"}, e.pairs(t))
		require.Equal(t, []string{"1-90", "1-91"}, e.strings(t, `SELECT external_person_id || '-' || internal_person_id
			FROM `+e.table("relationship_strength_history")+` WHERE strength IS NULL ORDER BY 1`))
	})
}

func TestCommitPageEntityFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	file := func(id int64, name string, person, org *int64) loader.EntityFile {
		return loader.EntityFile{ID: id, Name: name, Size: id * 1000, PersonID: person, OrganizationID: org, UploaderID: 70, CreatedAt: created}
	}
	stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("entity_files", t0, ""), SeenAt: t0, EntityFiles: []loader.EntityFile{
		file(1, "cv.pdf", ptr[int64](5), nil), file(2, "deck.pdf", nil, ptr[int64](6)), file(3, "old.pdf", nil, ptr[int64](6)),
		file(4, "x\x00.pdf", nil, ptr[int64](7)),
	}})
	require.NoError(t, err)
	require.Equal(t, loader.PageStats{Rows: 4, NULsReplaced: 1}, stats)
	require.Equal(t, []string{"x\uFFFD.pdf"}, e.strings(t, `SELECT name FROM `+e.table("entity_files")+` WHERE id = 4`))

	// Organization 6's set: file 2 renamed, file 5 new, file 3 gone; person 5's empty set
	// takes file 1; organization 7 is not read, so file 4 stays.
	t1 := t0.Add(time.Hour)
	stats, err = e.store.CommitPage(ctx, loader.Page{Checkpoint: cp("entity_files", t0, ""), SeenAt: t1, EntityFileSets: []loader.EntityFileSet{
		{Entity: loader.EntityKey{Type: loader.EntityOrganization, ID: 6}, FetchedAt: t1,
			Files: []loader.EntityFile{file(2, "deck-v2.pdf", nil, ptr[int64](6)), file(5, "new.pdf", nil, ptr[int64](6))}},
		{Entity: loader.EntityKey{Type: loader.EntityPerson, ID: 5}, FetchedAt: t1},
	}})
	require.NoError(t, err)
	require.Equal(t, int64(2+2), stats.Rows)
	require.Equal(t, []int64{2, 4, 5}, e.ids(t, "entity_files", "deleted_at IS NULL"))
	require.Equal(t, []string{"deck-v2.pdf"}, e.strings(t, `SELECT name FROM `+e.table("entity_files")+` WHERE id = 2`))
	require.Equal(t, []string{"0:5", "1:6"}, e.strings(t, `SELECT entity_type || ':' || entity_id FROM `+e.table("sync_file_fetches")+`
		WHERE fetched_at = $1 ORDER BY 1`, t1))

	// A file soft-deleted by id (webhook file.deleted) and back through a set.
	n, err := e.store.SoftDeleteObject(ctx, loader.ObjectEntityFile, 5)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, []int64{2, 4}, e.ids(t, "entity_files", "deleted_at IS NULL"))
	e.commit(t, loader.Page{SeenAt: t1, EntityFileSets: []loader.EntityFileSet{{Entity: loader.EntityKey{Type: loader.EntityOrganization, ID: 6},
		FetchedAt: t1, Files: []loader.EntityFile{file(5, "new.pdf", nil, ptr[int64](6))}}}})
	require.Equal(t, []int64{4, 5}, e.ids(t, "entity_files", "deleted_at IS NULL"))
}

func TestCompleteFilesAndRemindersPhases(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, kind := range []loader.ObjectKind{loader.ObjectEntityFile, loader.ObjectReminder} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "affinity")
			ctx := t.Context()
			page := func(at time.Time, ids ...int64) loader.Page {
				p := loader.Page{Checkpoint: cp(string(kind), at, "x"), SeenAt: at}
				for _, id := range ids {
					if kind == loader.ObjectEntityFile {
						p.EntityFiles = append(p.EntityFiles, loader.EntityFile{ID: id, Name: fmt.Sprint(id), CreatedAt: created})
					} else {
						p.Reminders = append(p.Reminders, loader.Reminder{ID: id, Status: 1, CreatedAt: created})
					}
				}
				return p
			}
			table := map[loader.ObjectKind]string{loader.ObjectEntityFile: "entity_files", loader.ObjectReminder: "reminders"}[kind]
			e.commit(t, page(t0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12))
			t1 := t0.Add(24 * time.Hour)
			e.commit(t, page(t1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
			n, err := e.store.CompletePhase(ctx, cp(string(kind), t1, ""), loader.EndSoftDeleteUnseen(kind), loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
			require.NoError(t, err)
			require.Equal(t, int64(2), n)
			require.Equal(t, []int64{11, 12}, e.ids(t, table, "deleted_at IS NOT NULL"))

			t2 := t1.Add(24 * time.Hour)
			e.commit(t, page(t2, 1, 2))
			_, err = e.store.CompletePhase(ctx, cp(string(kind), t2, ""), loader.EndSoftDeleteUnseen(kind), loader.PassOptions{MaxDeleteShare: 0.5, EndsPass: true})
			requireMassDelete(t, err, loader.MassDeleteError{Table: table, Live: 10, WouldDelete: 8, MaxShare: 0.5})

			n, err = e.store.SoftDeleteObject(ctx, kind, 1)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
			got, ok := loader.ParseObjectKind(string(kind))
			require.True(t, ok)
			require.Equal(t, kind, got)
			require.Equal(t, []int64{2, 3, 4, 5, 6, 7, 8, 9, 10}, e.ids(t, table, "deleted_at IS NULL"))
			e.commit(t, page(t2, 11))
			require.Equal(t, []int64{1, 12}, e.ids(t, table, "deleted_at IS NOT NULL"), "a row seen again is live again")
		})
	}
}

func TestRemindersCurrentView(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	now := time.Now()
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.commit(t, loader.Page{SeenAt: t0, Reminders: []loader.Reminder{
		{ID: 1, Status: 1, DueAt: &past, CreatedAt: created},                       // active when synced, overdue now
		{ID: 2, Status: 1, DueAt: &future, CreatedAt: created},                     // active
		{ID: 3, Status: 0, DueAt: &past, CompletedAt: &past, CreatedAt: created},   // completed, though past due
		{ID: 4, Status: 1, CreatedAt: created},                                     // no due date: active
		{ID: 5, Status: 2, DueAt: &future, CreatedAt: created},                     // overdue when synced, due date moved
		{ID: 6, Status: 1, DueAt: &past, CreatedAt: created, Content: ptr("gone")}, // deleted below
		{ID: 7, Type: 1, ResetType: ptr(2), ReminderDays: ptr(45), Status: 1, Content: ptr("a\x00"), DueAt: &future, CreatedAt: created,
			CreatorID: ptr[int64](70), OwnerID: ptr[int64](71), PersonID: ptr[int64](5)},
	}})
	_, err := e.store.SoftDeleteObject(ctx, loader.ObjectReminder, 6)
	require.NoError(t, err)
	require.Equal(t, []string{"1:overdue", "2:active", "3:completed", "4:active", "5:active", "7:active"},
		e.strings(t, `SELECT id || ':' || status_now FROM `+e.table("reminders_current")+` ORDER BY id`))
	require.Equal(t, []string{"1|2|45|a\uFFFD|70|71|5"}, e.strings(t, `SELECT concat_ws('|', type, reset_type, reminder_days, content, creator_id,
		owner_id, person_id) FROM `+e.table("reminders_current")+` WHERE id = 7`))
}

func TestIntelligenceTablesCommented(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	tables := []string{"entity_files", "reminders", "reminders_current", "relationship_strengths", "relationship_strength_history",
		"interactions", "interaction_persons", "sync_interaction_fetches", "sync_strength_fetches", "sync_file_fetches"}
	missing := e.strings(t, `SELECT c.relname || '.' || a.attname
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = $1
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relname = ANY($2) AND col_description(c.oid, a.attnum) IS NULL
		UNION ALL
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = $1
		WHERE c.relname = ANY($2) AND obj_description(c.oid, 'pg_class') IS NULL`, e.schema, tables)
	require.Empty(t, missing)
	var n int
	require.NoError(t, e.conn.QueryRow(t.Context(), `SELECT count(DISTINCT c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = $1 WHERE c.relname = ANY($2)`, e.schema, tables).Scan(&n))
	require.Equal(t, len(tables), n)
}

func TestPageAppendAndRowCountIntelligence(t *testing.T) {
	t.Parallel()
	var p loader.Page
	p.Append(loader.Page{EntityFiles: []loader.EntityFile{{ID: 1}}, Reminders: []loader.Reminder{{ID: 1}, {ID: 2}}})
	p.Append(loader.Page{
		EntityFileSets:     []loader.EntityFileSet{{Files: []loader.EntityFile{{ID: 2}, {ID: 3}}}, {}},
		Strengths:          []loader.StrengthSet{{Pairs: []loader.StrengthPair{{}, {}}}, {Gone: true}},
		Interactions:       []loader.Interaction{{ID: 1}},
		InteractionFetches: []loader.InteractionFetch{{Done: true}},
	})
	require.Len(t, p.EntityFiles, 1)
	require.Len(t, p.EntityFileSets, 2)
	require.Len(t, p.Strengths, 2)
	require.Len(t, p.Interactions, 1)
	require.Len(t, p.InteractionFetches, 1)
	require.Equal(t, 1+2+(2+1)+(2+1)+1+1, p.RowCount())
}
