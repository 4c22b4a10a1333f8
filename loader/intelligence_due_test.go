package loader_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

var dueNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func days(n int) time.Time { return dueNow.Add(time.Duration(n) * 24 * time.Hour) }

// intelFixture: persons 1..9, organizations 1..2, opportunity 40, on lists:
//
//	1 (persons)        persons 1, 2, 3, 4
//	2 (organizations)  organization 1
//	3 (persons)        person 7 — the list is deleted
//	4 (opportunities)  opportunity 40 (persons 8, 3)
//	5 (organizations)  organization 2 — deleted (persons 9)
//
// Person 3 is internal, person 6 deleted; organization 1's persons are 5 and 3.
func intelFixture(t *testing.T, e env) {
	t.Helper()
	d := func(email, event, next, chat, last *time.Time) *loader.InteractionDates {
		return &loader.InteractionDates{LastEmailAt: email, LastEventAt: event, NextEventAt: next, LastChatMessageAt: chat, LastInteractionAt: last}
	}
	e.commit(t, loader.Page{SeenAt: t0, WithDates: true,
		Persons: []loader.Person{
			{ID: 1, Dates: d(ptr(days(-10)), nil, nil, nil, ptr(days(-10)))},
			{ID: 2, Dates: d(nil, ptr(days(-5)), ptr(days(3)), nil, ptr(days(-5)))},
			{ID: 3, Type: 1, Dates: d(ptr(days(-1)), nil, nil, nil, ptr(days(-1)))},
			{ID: 4, Dates: d(ptr(days(-400)), nil, nil, nil, ptr(days(-400)))},
			{ID: 5},
			{ID: 6, Dates: d(ptr(days(-1)), nil, nil, nil, ptr(days(-1)))},
			{ID: 7, Dates: d(nil, nil, nil, ptr(days(-2)), nil)},
			{ID: 8, Dates: d(nil, nil, nil, nil, ptr(days(-50)))},
			{ID: 9},
		},
		Organizations: []loader.Organization{
			{ID: 1, Name: "one", Dates: d(ptr(days(-20)), nil, nil, nil, ptr(days(-20)))},
			{ID: 2, Name: "two", Dates: d(ptr(days(-1)), nil, nil, nil, ptr(days(-1)))},
		},
		Opportunities:       []loader.Opportunity{{ID: 40, Name: "deal", PersonIDs: []int64{8, 3}}},
		OrganizationPersons: []loader.OrganizationPersons{{OrganizationID: 1, PersonIDs: []int64{5, 3}}, {OrganizationID: 2, PersonIDs: []int64{9}}},
		Lists: []loader.List{{ID: 1, Name: "p"}, {ID: 2, Type: 1, Name: "o"}, {ID: 3, Name: "gone"}, {ID: 4, Type: 8, Name: "deals"},
			{ID: 5, Type: 1, Name: "o2"}},
		ListEntries: []loader.ListEntry{
			{ID: 11, ListID: 1, EntityID: 1}, {ID: 12, ListID: 1, EntityID: 2}, {ID: 13, ListID: 1, EntityID: 3}, {ID: 14, ListID: 1, EntityID: 4},
			{ID: 21, ListID: 2, EntityType: 1, EntityID: 1},
			{ID: 31, ListID: 3, EntityID: 7},
			{ID: 41, ListID: 4, EntityType: 8, EntityID: 40},
			{ID: 51, ListID: 5, EntityType: 1, EntityID: 2},
		},
	})
	_, err := e.conn.Exec(t.Context(), `UPDATE `+e.table("lists")+` SET deleted_at = now() WHERE id = 3`)
	require.NoError(t, err)
	_, err = e.conn.Exec(t.Context(), `UPDATE `+e.table("organizations")+` SET deleted_at = now() WHERE id = 2`)
	require.NoError(t, err)
	_, err = e.store.SoftDeleteObject(t.Context(), loader.ObjectPerson, 6)
	require.NoError(t, err)
}

// keys spells due pairs as "entity_type:id:type", with "*" for one in progress.
func keys(due []loader.InteractionDue) []string {
	out := []string{}
	for _, d := range due {
		s := fmt.Sprintf("%d:%d:%d", d.Key.Entity.Type, d.Key.Entity.ID, d.Key.Type)
		if d.Progress != nil {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

func strengthIDs(due []loader.StrengthDue) []int64 {
	out := []int64{}
	for _, d := range due {
		out = append(out, d.PersonID)
	}
	return out
}

func TestInteractionsDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	intelFixture(t, e)
	q := loader.IntelligenceQuery{Scope: loader.ScopeListed, Now: dueNow, Since: 365 * 24 * time.Hour, MaxAge: 30 * 24 * time.Hour}
	due := func(q loader.IntelligenceQuery) []loader.InteractionDue {
		t.Helper()
		d, err := e.store.InteractionsDue(ctx, q)
		require.NoError(t, err)
		return d
	}

	// Never fetched: only pairs with a date within Since; internal person 3, person 4 (e-mail
	// older than Since), person 5 (no dates), deleted person 6 and organization 2 are not
	// due; person 7 only through "all" (its list is deleted). Most recently active first.
	for _, tc := range []struct {
		name  string
		scope string
		lists []int64
		want  []string
	}{
		{"listed", loader.ScopeListed, nil, []string{"0:2:0", "0:2:1", "0:1:3", "1:1:3"}},
		{"listed, chosen lists", loader.ScopeListed, []int64{2}, []string{"1:1:3"}},
		{"all", loader.ScopeAll, nil, []string{"0:7:2", "0:2:0", "0:2:1", "0:1:3", "1:1:3"}},
	} {
		q := q
		q.Scope, q.Lists = tc.scope, tc.lists
		require.Equal(t, tc.want, keys(due(q)), tc.name)
	}
	first := due(q)
	require.True(t, days(-365).Equal(first[0].From), "a first fetch starts at Now - Since")
	require.Equal(t, loader.InteractionThrough{LastEventAt: ptr(days(-5)), NextEventAt: ptr(days(3))}, utcThrough(first[0].Through))
	require.Equal(t, loader.InteractionThrough{LastEmailAt: ptr(days(-10))}, utcThrough(first[2].Through))
	require.True(t, days(-5).Equal(*first[0].Activity))

	// Person 1's e-mail and person 2's meetings fetched through their dates; person 2's calls
	// in progress; organization 1's e-mail fetched through a date later than it now has.
	started := dueNow.Add(-time.Hour)
	progress := loader.InteractionFetch{Key: loader.InteractionKey{Entity: loader.EntityKey{ID: 2}, Type: 1}, StartedAt: started,
		Through:     loader.InteractionThrough{LastEventAt: ptr(days(-6)), NextEventAt: ptr(days(3))},
		WindowStart: days(-400), WindowEnd: days(-35), End: days(30), PageToken: "tok"}
	e.commit(t, loader.Page{SeenAt: t0, InteractionFetches: []loader.InteractionFetch{
		{Key: loader.InteractionKey{Entity: loader.EntityKey{ID: 1}, Type: 3}, StartedAt: started,
			Through: loader.InteractionThrough{LastEmailAt: ptr(days(-10))}, Done: true},
		{Key: loader.InteractionKey{Entity: loader.EntityKey{ID: 2}, Type: 0}, StartedAt: started,
			Through: loader.InteractionThrough{LastEventAt: ptr(days(-5)), NextEventAt: ptr(days(3))}, Done: true},
		progress,
		{Key: loader.InteractionKey{Entity: loader.EntityKey{Type: 1, ID: 1}, Type: 3}, StartedAt: started,
			Through: loader.InteractionThrough{LastEmailAt: ptr(days(-15))}, Done: true},
	}})
	got := due(q)
	require.Equal(t, []string{"0:2:1*"}, keys(got), "unchanged or earlier dates cost nothing; in progress is due")
	require.NotNil(t, got[0].Progress)
	p := *got[0].Progress
	p.Through = utcThrough(p.Through)
	require.True(t, progress.StartedAt.Equal(p.StartedAt) && progress.WindowStart.Equal(p.WindowStart) &&
		progress.WindowEnd.Equal(p.WindowEnd) && progress.End.Equal(p.End))
	p.StartedAt, p.WindowStart, p.WindowEnd, p.End = progress.StartedAt, progress.WindowStart, progress.WindowEnd, progress.End
	require.Equal(t, progress, p, "a fetch in progress is continued exactly")

	// Dates move: person 1's e-mail (later), person 2's next meeting (moved), organization
	// 1's e-mail (later than fetched through); person 4's e-mail is now within Since. In
	// progress first, then by activity.
	d := func(email, event, next, chat, last *time.Time) *loader.InteractionDates {
		return &loader.InteractionDates{LastEmailAt: email, LastEventAt: event, NextEventAt: next, LastChatMessageAt: chat, LastInteractionAt: last}
	}
	e.commit(t, loader.Page{SeenAt: t0, WithDates: true,
		Persons: []loader.Person{
			{ID: 1, Dates: d(ptr(days(0)), nil, nil, nil, ptr(days(0)))},
			{ID: 2, Dates: d(nil, ptr(days(-5)), ptr(days(4)), nil, ptr(days(-5)))},
			{ID: 4, Dates: d(ptr(days(-3)), nil, nil, nil, ptr(days(-3)))},
		},
		Organizations: []loader.Organization{{ID: 1, Name: "one", Dates: d(ptr(days(-14)), nil, nil, nil, ptr(days(-14)))}},
	})
	got = due(q)
	require.Equal(t, []string{"0:2:1*", "0:1:3", "0:4:3", "0:2:0", "1:1:3"}, keys(got))
	require.True(t, started.Add(-24*time.Hour).Equal(got[1].From), "a later fetch starts a day before the previous one")
	require.True(t, days(-365).Equal(got[2].From))

	// Done: the calls fetch records its start and dates and leaves progress; null dates are
	// never due.
	done := progress
	done.Done = true
	e.commit(t, loader.Page{SeenAt: t0, InteractionFetches: []loader.InteractionFetch{done}, WithDates: true,
		Persons: []loader.Person{{ID: 1}}})
	got = due(q)
	require.Equal(t, []string{"0:4:3", "0:2:0", "0:2:1", "1:1:3"}, keys(got),
		"the calls are due again: their next event moved since the fetch started")
	require.True(t, started.Add(-24*time.Hour).Equal(got[2].From))

	// A limit keeps the first of the same order.
	limited := q
	limited.Limit = 2
	require.Equal(t, keys(got)[:2], keys(due(limited)))

	_, err := e.store.InteractionsDue(ctx, loader.IntelligenceQuery{Scope: "none", Now: dueNow})
	require.ErrorContains(t, err, `scope "none"`)
}

func utcThrough(d loader.InteractionThrough) loader.InteractionThrough {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return loader.InteractionThrough{LastEmailAt: utc(d.LastEmailAt), LastEventAt: utc(d.LastEventAt),
		NextEventAt: utc(d.NextEventAt), LastChatMessageAt: utc(d.LastChatMessageAt)}
}

func TestStrengthsDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	intelFixture(t, e)
	q := loader.IntelligenceQuery{Scope: loader.ScopeListed, Now: dueNow, MaxAge: 30 * 24 * time.Hour}
	due := func(q loader.IntelligenceQuery) []int64 {
		t.Helper()
		d, err := e.store.StrengthsDue(ctx, q)
		require.NoError(t, err)
		return strengthIDs(d)
	}
	// listed: persons on lists (1, 2, 4; 3 is internal), organization 1's person 5,
	// opportunity 40's person 8; not organization 2's person 9 (deleted organization) nor
	// person 7 (deleted list). Most recently active first, never-active last.
	require.Equal(t, []int64{2, 1, 8, 4, 5}, due(q))
	all := q
	all.Scope = loader.ScopeAll
	require.Equal(t, []int64{7, 2, 1, 8, 4, 5, 9}, due(all), "every external live person")
	chosen := q
	chosen.Lists = []int64{4}
	require.Equal(t, []int64{8}, due(chosen))

	// Read: persons 1 and 2 now, person 4 forty days ago.
	e.commit(t, loader.Page{SeenAt: t0, Strengths: []loader.StrengthSet{
		{ExternalPersonID: 1, FetchedAt: dueNow.Add(-time.Hour)}, {ExternalPersonID: 2, FetchedAt: dueNow.Add(-time.Hour)},
		{ExternalPersonID: 4, FetchedAt: days(-40)},
	}})
	require.Equal(t, []int64{8, 4, 5}, due(q), "person 4 is older than MaxAge")
	noAge := q
	noAge.MaxAge = 0
	require.Equal(t, []int64{8, 5}, due(noAge), "MaxAge 0: no age rule")

	// Person 1's dates move: due again.
	e.commit(t, loader.Page{SeenAt: t0, WithDates: true, Persons: []loader.Person{{ID: 1,
		Dates: &loader.InteractionDates{LastEmailAt: ptr(days(-10)), FirstEmailAt: ptr(days(-90)), LastInteractionAt: ptr(days(-10))}}}})
	require.Equal(t, []int64{1, 8, 4, 5}, due(q))

	// A deleted person is never due.
	_, err := e.store.SoftDeleteObject(ctx, loader.ObjectPerson, 8)
	require.NoError(t, err)
	require.Equal(t, []int64{1, 4, 5}, due(q))
}

func TestFilesDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	intelFixture(t, e)
	q := loader.IntelligenceQuery{Scope: loader.ScopeListed, Now: dueNow}
	due := func(q loader.IntelligenceQuery) []loader.EntityKey {
		t.Helper()
		d, err := e.store.FilesDue(ctx, q)
		require.NoError(t, err)
		return d
	}
	k := func(typ loader.EntityKind, id int64) loader.EntityKey { return loader.EntityKey{Type: typ, ID: id} }
	// Every entity on a live entry of a live list, internal persons too (files attach to any).
	require.Equal(t, []loader.EntityKey{k(0, 1), k(0, 2), k(0, 3), k(0, 4), k(1, 1), k(1, 2), k(8, 40)}, due(q))
	e.commit(t, loader.Page{SeenAt: t0, EntityFileSets: []loader.EntityFileSet{
		{Entity: k(1, 1), FetchedAt: dueNow.Add(-time.Hour)}, {Entity: k(0, 1), FetchedAt: dueNow.Add(-2 * time.Hour)},
	}})
	require.Equal(t, []loader.EntityKey{k(0, 2), k(0, 3), k(0, 4), k(1, 2), k(8, 40), k(0, 1), k(1, 1)}, due(q),
		"never read first, then least recently read")
	q.Lists = []int64{2, 4}
	require.Equal(t, []loader.EntityKey{k(8, 40), k(1, 1)}, due(q))
}

func TestWindowsToRead(t *testing.T) {
	t.Parallel()
	at := func(d int) *time.Time { return ptr(days(d)) }
	for _, tc := range []struct {
		name       string
		typ        int
		d          loader.InteractionThrough
		start, end int // days from dueNow
		want       int64
	}{
		{"e-mail within", loader.InteractionEmail, loader.InteractionThrough{LastEmailAt: at(-10)}, -365, 0, 1},
		{"e-mail before the span", loader.InteractionEmail, loader.InteractionThrough{LastEmailAt: at(-400)}, -365, 0, 0},
		{"e-mail in the first of two years", loader.InteractionEmail, loader.InteractionThrough{LastEmailAt: at(-400)}, -730, 0, 1},
		{"no chat", loader.InteractionChat, loader.InteractionThrough{}, -30, 0, 0},
		{"meetings behind and ahead", loader.InteractionMeeting, loader.InteractionThrough{LastEventAt: at(-5), NextEventAt: at(3)}, -365, 30, 2},
		{"a meeting ahead only", loader.InteractionMeeting, loader.InteractionThrough{NextEventAt: at(3)}, -365, 30, 1},
		{"a meeting past the span", loader.InteractionCall, loader.InteractionThrough{LastEventAt: at(-40), NextEventAt: at(60)}, -2, 30, 0},
	} {
		got := loader.WindowsToRead(tc.typ, tc.d, days(tc.start), days(tc.end))
		require.Equal(t, tc.want, got, tc.name)
	}
}

func TestIntelligenceCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	intelFixture(t, e)
	q := loader.IntelligenceQuery{Scope: loader.ScopeListed, Now: dueNow, Since: 365 * 24 * time.Hour, MaxAge: 30 * 24 * time.Hour}
	count := func(q loader.IntelligenceQuery) loader.IntelligenceCounts {
		t.Helper()
		c, err := e.store.IntelligenceCounts(ctx, q)
		require.NoError(t, err)
		return c
	}
	// Meetings and calls of person 2 (a year and 30 days: 2 windows each), e-mails of person 1
	// and organization 1 (a year: 1 window each).
	require.Equal(t, loader.IntelligenceCounts{InteractionPairs: 4, InteractionEntities: 3, InteractionWindows: 6,
		StrengthsDue: 5, FilesListed: 7}, count(q))

	// Two years back: e-mails take 2 windows, events 3; person 4's e-mail (400 days old) is
	// due too, but its last e-mail says the second year holds none: 1 window.
	long := q
	long.Since = 2 * 365 * 24 * time.Hour
	require.Equal(t, loader.IntelligenceCounts{InteractionPairs: 5, InteractionEntities: 4, InteractionWindows: 3 + 3 + 2 + 2 + 1,
		StrengthsDue: 5, FilesListed: 7}, count(long))

	// In progress: the current window and those from its WindowEnd to its End (35 days back
	// to 30 ahead: one). Fetched a day ago: from two days back to now, one window.
	started := dueNow.Add(-24 * time.Hour)
	e.commit(t, loader.Page{SeenAt: t0, InteractionFetches: []loader.InteractionFetch{
		{Key: loader.InteractionKey{Entity: loader.EntityKey{ID: 2}, Type: 1}, StartedAt: started,
			WindowStart: days(-400), WindowEnd: days(-35), End: days(30)},
		{Key: loader.InteractionKey{Entity: loader.EntityKey{ID: 2}, Type: 0}, StartedAt: started, Done: true},
		{Key: loader.InteractionKey{Entity: loader.EntityKey{ID: 1}, Type: 3}, StartedAt: started, Done: true},
	}})
	// Person 2's meetings were recorded through no dates: its dates moved (due, 2 days back to
	// 30 ahead: 1 window); person 1's e-mail likewise, but its last e-mail (10 days back) lies
	// before that window: none.
	require.Equal(t, loader.IntelligenceCounts{InteractionPairs: 4, InteractionEntities: 3, InteractionWindows: 2 + 1 + 0 + 1,
		StrengthsDue: 5, FilesListed: 7}, count(q))
	in, err := e.store.InteractionsDue(ctx, q)
	require.NoError(t, err)
	require.Equal(t, []string{"0:2:1*", "0:2:0", "0:1:3", "1:1:3"}, keys(in))

	// A window ending exactly a year after it starts is one window; a day more is two.
	e.commit(t, loader.Page{SeenAt: t0, InteractionFetches: []loader.InteractionFetch{
		{Key: loader.InteractionKey{Entity: loader.EntityKey{ID: 2}, Type: 1}, StartedAt: started,
			WindowStart: days(-800), WindowEnd: dueNow.AddDate(-1, 0, 0).Add(-24 * time.Hour), End: dueNow},
	}})
	require.Equal(t, int64(3+1+0+1), count(q).InteractionWindows)

	none, err := e.store.IntelligenceCounts(ctx, loader.IntelligenceQuery{Scope: loader.ScopeListed, Now: dueNow, Lists: []int64{}})
	require.NoError(t, err)
	require.Equal(t, loader.IntelligenceCounts{}, none, "no list chosen: nothing listed")
}

func TestResetWatermarks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	at := t0
	e.commit(t, loader.Page{SeenAt: t0,
		InteractionFetches: []loader.InteractionFetch{{Key: loader.InteractionKey{Entity: loader.EntityKey{ID: 1}, Type: 3}, StartedAt: at, Done: true}},
		Strengths:          []loader.StrengthSet{{ExternalPersonID: 1, FetchedAt: at, Pairs: []loader.StrengthPair{{InternalPersonID: 2, Strength: 1}}}},
		EntityFileSets:     []loader.EntityFileSet{{Entity: loader.EntityKey{ID: 1}, FetchedAt: at}},
	})
	counts := func() []int64 {
		return []int64{e.count(t, "sync_interaction_fetches", "true"), e.count(t, "sync_strength_fetches", "true"),
			e.count(t, "sync_file_fetches", "true")}
	}
	require.Equal(t, []int64{1, 1, 1}, counts())
	for i, tc := range []struct {
		reset loader.StreamReset
		want  []int64
	}{
		{loader.StreamReset{Stream: "reminders", Watermarks: loader.WatermarksNone}, []int64{1, 1, 1}},
		{loader.StreamReset{Stream: "interactions", Watermarks: loader.WatermarksInteractions}, []int64{0, 1, 1}},
		{loader.StreamReset{Stream: "relationship_strengths", Watermarks: loader.WatermarksStrengths}, []int64{0, 0, 1}},
		{loader.StreamReset{Stream: "entity_files", Watermarks: loader.WatermarksFiles}, []int64{0, 0, 0}},
	} {
		require.NoError(t, e.store.ResetStreams(ctx, []loader.StreamReset{tc.reset}))
		require.Equal(t, tc.want, counts(), "step %d", i)
	}
	require.Equal(t, int64(1), e.count(t, "relationship_strengths", "deleted_at IS NULL"), "rows stay; only the watermarks go")
}
