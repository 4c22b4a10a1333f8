package loader_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

type personRow struct {
	Type                              int
	FirstName, LastName, PrimaryEmail *string
	Emails                            []string
	LastEmailAt, DatesSyncedAt        *time.Time
	SyncedAt                          time.Time
	DeletedAt                         *time.Time
}

func (e env) person(t *testing.T, id int64) personRow {
	t.Helper()
	var r personRow
	require.NoError(t, e.conn.QueryRow(t.Context(), `SELECT type, first_name, last_name, primary_email, emails,
		last_email_at, interaction_dates_synced_at, synced_at, deleted_at FROM `+e.table("persons")+` WHERE id = $1`, id).
		Scan(&r.Type, &r.FirstName, &r.LastName, &r.PrimaryEmail, &r.Emails, &r.LastEmailAt, &r.DatesSyncedAt, &r.SyncedAt, &r.DeletedAt))
	return r
}

func TestCommitPageInsertUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()

	stats, err := e.store.CommitPage(ctx, loader.Page{
		Checkpoint: cp("persons", t0, "tok1"),
		SeenAt:     t0,
		Persons: []loader.Person{
			{ID: 1, Type: 0, FirstName: ptr("Mara"), LastName: nil, PrimaryEmail: ptr("mara@x.example"), Emails: []string{"mara@x.example", "m@y.example"}},
			{ID: 2, Type: 1, FirstName: ptr("Zoë 😀 日本"), Emails: nil},
			{ID: 3, Type: 0, FirstName: ptr("old")},
			{ID: 3, Type: 0, FirstName: ptr("new")}, // duplicate id inside a page: last wins
		},
		Organizations: []loader.Organization{
			{ID: 10, Name: "Northwind", Domain: nil, Domains: []string{}, CrunchbaseUUID: ptr("cb"), Global: true},
		},
	})
	require.NoError(t, err)
	require.Equal(t, loader.PageStats{Rows: 4}, stats)

	p1 := e.person(t, 1)
	require.Equal(t, "Mara", *p1.FirstName)
	require.Nil(t, p1.LastName)
	require.Equal(t, []string{"mara@x.example", "m@y.example"}, p1.Emails)
	require.True(t, t0.Equal(p1.SyncedAt))
	require.Nil(t, p1.DatesSyncedAt)
	p2 := e.person(t, 2)
	require.Equal(t, "Zoë 😀 日本", *p2.FirstName)
	require.Equal(t, []string{}, p2.Emails, "nil emails stored as an empty array")
	require.Equal(t, "new", *e.person(t, 3).FirstName)

	var name string
	var domain *string
	var domains []string
	var global bool
	require.NoError(t, e.conn.QueryRow(ctx, `SELECT name, domain, domains, global FROM `+e.table("organizations")+` WHERE id = 10`).
		Scan(&name, &domain, &domains, &global))
	require.Equal(t, "Northwind", name)
	require.Nil(t, domain)
	require.Equal(t, []string{}, domains)
	require.True(t, global)

	// Update: values change, fields become null, synced_at moves on.
	t1 := t0.Add(time.Hour)
	_, err = e.store.CommitPage(ctx, loader.Page{
		Checkpoint: cp("persons", t0, "tok2"),
		SeenAt:     t1,
		Persons:    []loader.Person{{ID: 1, Type: 1, FirstName: nil, PrimaryEmail: nil, Emails: []string{}}},
	})
	require.NoError(t, err)
	p1 = e.person(t, 1)
	require.Equal(t, 1, p1.Type)
	require.Nil(t, p1.FirstName)
	require.Nil(t, p1.PrimaryEmail)
	require.Empty(t, p1.Emails)
	require.True(t, t1.Equal(p1.SyncedAt))

	got, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.Equal(t, "tok2", got.PageToken)
	require.True(t, t0.Equal(got.PassStartedAt))
}

func TestCommitPageTextRepair(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	stats, err := e.store.CommitPage(t.Context(), loader.Page{
		Checkpoint: cp("persons", t0, ""),
		SeenAt:     t0,
		Persons: []loader.Person{{
			ID: 1, FirstName: ptr("a\x00b"), LastName: ptr("bad\xffbyte\xfe"),
			Emails: []string{"x\x00@y", "ok@y", "\x00\x00"},
		}},
		Organizations: []loader.Organization{{ID: 2, Name: "N\x00ame", Domains: []string{"d\xc3"}}},
	})
	require.NoError(t, err)
	require.Equal(t, int64(8), stats.NULsReplaced)
	require.Equal(t, int64(2), stats.Rows)
	p := e.person(t, 1)
	require.Equal(t, "a\uFFFDb", *p.FirstName)
	require.Equal(t, "bad\uFFFDbyte\uFFFD", *p.LastName)
	require.Equal(t, []string{"x\uFFFD@y", "ok@y", "\uFFFD\uFFFD"}, p.Emails)
	var name string
	var domains []string
	require.NoError(t, e.conn.QueryRow(t.Context(), `SELECT name, domains FROM `+e.table("organizations")+` WHERE id = 2`).Scan(&name, &domains))
	require.Equal(t, "N\uFFFDame", name)
	require.Equal(t, []string{"d\uFFFD"}, domains)
}

func TestCommitPageInteractionDates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	when := time.Date(2024, 6, 30, 18, 22, 10, 0, time.UTC)
	_, err := e.store.CommitPage(ctx, loader.Page{
		Checkpoint: loader.Checkpoint{Stream: "persons", Phase: "interaction_dates", PassStartedAt: t0},
		SeenAt:     t0, WithDates: true,
		Persons: []loader.Person{
			{ID: 1, FirstName: ptr("A"), Dates: &loader.InteractionDates{LastEmailAt: &when}},
			{ID: 2, FirstName: ptr("B"), Dates: nil},
		},
		Organizations: []loader.Organization{{ID: 5, Name: "O", Dates: &loader.InteractionDates{LastEmailAt: &when}}},
	})
	require.NoError(t, err)
	p1 := e.person(t, 1)
	require.True(t, when.Equal(*p1.LastEmailAt))
	require.True(t, t0.Equal(*p1.DatesSyncedAt))
	require.Nil(t, e.person(t, 2).LastEmailAt)
	require.Equal(t, int64(1), e.count(t, "organizations", "last_email_at = $1", when))

	// A page without dates leaves stored dates alone.
	_, err = e.store.CommitPage(ctx, loader.Page{
		Checkpoint: cp("persons", t0, ""), SeenAt: t0.Add(time.Minute),
		Persons:       []loader.Person{{ID: 1, FirstName: ptr("A2")}},
		Organizations: []loader.Organization{{ID: 5, Name: "O2"}},
	})
	require.NoError(t, err)
	p1 = e.person(t, 1)
	require.Equal(t, "A2", *p1.FirstName)
	require.True(t, when.Equal(*p1.LastEmailAt))
	require.True(t, t0.Equal(*p1.DatesSyncedAt))
	require.Equal(t, int64(1), e.count(t, "organizations", "last_email_at = $1 AND name = 'O2'", when))
}

func TestCommitPageAtomicWithCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	_, err := e.store.CommitPage(ctx, loader.Page{
		Checkpoint: cp("persons", t0, "good"), SeenAt: t0,
		Persons: []loader.Person{{ID: 1, FirstName: ptr("kept")}},
	})
	require.NoError(t, err)

	// Break the last table written before the checkpoint: the persons rows of the same page
	// and the checkpoint must roll back with it.
	_, err = e.conn.Exec(ctx, `ALTER TABLE `+e.table("opportunities")+` ADD CONSTRAINT no_bad CHECK (name <> 'bad')`)
	require.NoError(t, err)
	_, err = e.store.CommitPage(ctx, loader.Page{
		Checkpoint:    cp("persons", t0, "bad-token"),
		SeenAt:        t0.Add(time.Hour),
		Persons:       []loader.Person{{ID: 1, FirstName: ptr("changed")}, {ID: 2, FirstName: ptr("new")}},
		Opportunities: []loader.Opportunity{{ID: 9, Name: "bad"}},
	})
	require.ErrorContains(t, err, "upsert opportunities page")
	require.Equal(t, "kept", *e.person(t, 1).FirstName)
	require.Zero(t, e.count(t, "persons", "id = 2"))
	got, err := e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.Equal(t, "good", got.PageToken)

	// A cancelled context writes nothing either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = e.store.CommitPage(cctx, loader.Page{
		Checkpoint: cp("persons", t0, "cancelled"), SeenAt: t0,
		Persons: []loader.Person{{ID: 3, FirstName: ptr("x")}},
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, e.count(t, "persons", "id = 3"))
	got, err = e.store.LoadCheckpoint(ctx, "persons")
	require.NoError(t, err)
	require.Equal(t, "good", got.PageToken)
}

func TestOpportunityAssociationsReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	pairs := func(table, col string) [][2]int64 {
		rows, err := e.conn.Query(ctx, `SELECT opportunity_id, `+col+` FROM `+e.table(table)+` ORDER BY 1, 2`)
		require.NoError(t, err)
		defer rows.Close()
		var out [][2]int64
		for rows.Next() {
			var p [2]int64
			require.NoError(t, rows.Scan(&p[0], &p[1]))
			out = append(out, p)
		}
		require.NoError(t, rows.Err())
		return out
	}
	_, err := e.store.CommitPage(ctx, loader.Page{
		Checkpoint: cp("opportunities", t0, ""), SeenAt: t0,
		Opportunities: []loader.Opportunity{
			{ID: 1, Name: "A", ListID: ptr(int64(130)), PersonIDs: []int64{10, 11, 11}, OrganizationIDs: []int64{20}},
			{ID: 2, Name: "B", PersonIDs: []int64{12}},
		},
	})
	require.NoError(t, err)
	require.Equal(t, [][2]int64{{1, 10}, {1, 11}, {2, 12}}, pairs("opportunity_persons", "person_id"))
	require.Equal(t, [][2]int64{{1, 20}}, pairs("opportunity_organizations", "organization_id"))
	require.Equal(t, int64(1), e.count(t, "opportunities", "id = 1 AND list_id = 130"))

	_, err = e.store.CommitPage(ctx, loader.Page{
		Checkpoint: cp("opportunities", t0, ""), SeenAt: t0,
		Opportunities: []loader.Opportunity{{ID: 1, Name: "A", PersonIDs: []int64{11, 13}, OrganizationIDs: nil}},
	})
	require.NoError(t, err)
	require.Equal(t, [][2]int64{{1, 11}, {1, 13}, {2, 12}}, pairs("opportunity_persons", "person_id"), "opportunity 2 untouched")
	require.Empty(t, pairs("opportunity_organizations", "organization_id"))
	require.Equal(t, int64(1), e.count(t, "opportunities", "id = 1 AND list_id IS NULL"))
}

func TestHostileSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `we"ird; drop table x`)
	ctx := t.Context()
	_, err := e.store.CommitPage(ctx, loader.Page{
		Checkpoint: cp("persons", t0, "t"), SeenAt: t0,
		Persons:       []loader.Person{{ID: 1, FirstName: ptr("A")}},
		Opportunities: []loader.Opportunity{{ID: 2, Name: "O", PersonIDs: []int64{1}}},
	})
	require.NoError(t, err)
	require.Equal(t, int64(1), e.count(t, "persons", "true"))
	_, err = e.store.CompletePhase(ctx, cp("persons", t0, ""), loader.EndSoftDeleteUnseen(loader.ObjectPerson), loader.PassOptions{MaxDeleteShare: 0.5})
	require.NoError(t, err)
	require.NoError(t, e.store.FinishStream(ctx, "persons"))
	id, err := e.store.StartRun(ctx, []string{"persons"})
	require.NoError(t, err)
	require.NoError(t, e.store.FinishRun(ctx, id, loader.RunResult{Status: "completed"}))
	counts, err := e.store.TableCounts(ctx)
	require.NoError(t, err)
	require.Len(t, counts, 22)
	require.NoError(t, e.store.Ping(ctx))
}

func TestPageAppendAndRowCount(t *testing.T) {
	t.Parallel()
	var p loader.Page
	p.Append(loader.Page{Persons: []loader.Person{{ID: 1}}, Notes: []loader.Note{{ID: 2}}})
	p.Append(loader.Page{EntityValues: []loader.EntityValues{{EntityID: 1, Values: []loader.FieldValue{{ID: 1}, {ID: 2}}}},
		Lists: []loader.List{{ID: 3}}})
	require.Len(t, p.Persons, 1)
	require.Len(t, p.Notes, 1)
	require.Len(t, p.Lists, 1)
	require.Equal(t, 5, p.RowCount(), "values count one by one")
	p.Append(loader.Page{ScopedValues: []loader.ScopedValues{{EntityID: 1, Values: []loader.FieldValue{{FieldID: 1}, {FieldID: 2}, {FieldID: 3}}}}})
	require.Len(t, p.ScopedValues, 1)
	require.Equal(t, 8, p.RowCount(), "v2 values count one by one too")
}
