package extractor_test

import (
	"context"
	"io"
	"iter"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testKey = "test-key-5f2c9d"

// harness is one fake workspace, one fresh warehouse and a client between them.
type harness struct {
	fake   *affinitytest.Server
	client *affinity.Client
	store  *loader.Store
	pool   *pgxpool.Pool
	schema string
	opts   extractor.Options
	url    string // the fake's base URL
}

// newHarness serves a workspace generated from cfg; fakeOpts are added to the fake's options
// (after the API key).
func newHarness(t *testing.T, cfg affinitytest.Config, fakeOpts ...affinitytest.Option) *harness {
	t.Helper()
	ctx := t.Context()
	fake := affinitytest.NewServer(affinitytest.Generate(cfg), append([]affinitytest.Option{affinitytest.WithAPIKey(testKey)}, fakeOpts...)...)
	hs := httptest.NewServer(fake)
	t.Cleanup(hs.Close)

	dsn := pgtest.NewDatabase(t)
	const schema = "affinity"
	require.NoError(t, migrations.Run(ctx, dsn, schema, "up", io.Discard, slog.New(slog.DiscardHandler)))
	store, err := loader.Open(ctx, dsn, schema, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(store.Close)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	client, err := affinity.NewClient(hs.URL, testKey, affinity.WithPerMinute(0))
	require.NoError(t, err)
	// Every value is due at every run unless a test says otherwise.
	opts := extractor.Options{MaxDeleteShare: 0.5, ValuesMaxAge: time.Nanosecond}
	return &harness{fake: fake, client: client, store: store, pool: pool, schema: schema, opts: opts, url: hs.URL}
}

func (h *harness) syncer(api extractor.API) *extractor.Syncer {
	if api == nil {
		api = h.client
	}
	return extractor.New(api, h.store, h.opts)
}

func newSyncer(h *harness, api extractor.API, opts extractor.Options) *extractor.Syncer {
	return extractor.New(api, h.store, opts)
}

func smallWorkspace() affinitytest.Config {
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 7
	cfg.Persons, cfg.Organizations, cfg.Opportunities = 1234, 640, 90
	return cfg
}

func TestSyncMatchesWorkspaceThenFollowsChanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, smallWorkspace())
	ctx := t.Context()

	res := h.syncer(nil).Run(ctx, nil)
	requireComplete(t, res)
	h.requireWarehouseEquals(t, h.fake.Snapshot())

	// Mutate the workspace: deletions, renames, additions, changed associations
	// and interaction dates.
	var deletedPerson, deletedOrg, deletedOpp int64
	h.fake.Mutate(func(w *affinitytest.Workspace) {
		deletedPerson = w.Persons[3].ID
		w.DeletePerson(deletedPerson)
		deletedOrg = w.Organizations[5].ID
		w.DeleteOrganization(deletedOrg)
		deletedOpp = w.Opportunities[2].ID
		w.DeleteOpportunity(deletedOpp)

		p := w.Persons[10]
		name := "Renamed Zoë 😀"
		p.FirstName = &name
		p.Emails = append(p.Emails, "new@example.test")
		p.Interactions = nil
		w.Persons[11].Interactions = &affinitytest.InteractionDates{LastEmail: ptr(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))}
		w.Organizations[7].Name = "Renamed Org"
		w.Organizations[7].Domain = nil
		o := w.Opportunities[4]
		o.PersonIDs = []int64{w.Persons[20].ID}
		o.OrganizationIDs = nil
		w.AddPerson(affinitytest.Person{Type: 0, Emails: []string{}})
	})

	res = h.syncer(nil).Run(ctx, nil)
	requireComplete(t, res)
	snap := h.fake.Snapshot()
	h.requireWarehouseEquals(t, snap)
	for table, id := range map[string]int64{"persons": deletedPerson, "organizations": deletedOrg, "opportunities": deletedOpp} {
		var deletedAt *time.Time
		require.NoError(t, h.pool.QueryRow(ctx, "SELECT deleted_at FROM affinity."+table+" WHERE id = $1", id).Scan(&deletedAt))
		require.NotNil(t, deletedAt, "%s %d should be soft-deleted", table, id)
	}
}

// TestSyncResumesAfterCancel stops a sync after a few pages, then runs it
// again and expects exact data with at most one page fetched twice.
func TestSyncResumesAfterCancel(t *testing.T) {
	t.Parallel()
	cfg := smallWorkspace()
	cfg.Persons = 2600 // six pages of 500 in the main listing
	h := newHarness(t, cfg)

	// A full, uninterrupted sync of an identical workspace says how many
	// requests one pass takes.
	ref := newHarness(t, cfg)
	requireComplete(t, ref.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamPersons}))
	want := ref.fake.Requests()["GET /persons"]
	require.Greater(t, want, 6)

	ctx, cancel := context.WithCancel(t.Context())
	stopAfter := &cancellingAPI{API: h.client, after: 3, cancel: cancel}
	res := h.syncer(stopAfter).Run(ctx, []extractor.StreamName{extractor.StreamPersons})
	require.False(t, res.Complete())
	cp, err := h.store.LoadCheckpoint(t.Context(), string(extractor.StreamPersons))
	require.NoError(t, err)
	require.NotEmpty(t, cp.PageToken, "the checkpoint must hold the next page")
	require.GreaterOrEqual(t, cp.Pages, int64(3))

	requireComplete(t, h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamPersons}))
	got := h.fake.Requests()["GET /persons"]
	require.LessOrEqual(t, got, want+1, "at most one page may be fetched twice")
	h.requirePersonsEqual(t, h.fake.Snapshot())
}

func TestMassDeleteGuard(t *testing.T) {
	t.Parallel()
	h := newHarness(t, smallWorkspace())
	ctx := t.Context()
	requireComplete(t, h.syncer(nil).Run(ctx, []extractor.StreamName{extractor.StreamOrganizations}))

	h.fake.Mutate(func(w *affinitytest.Workspace) {
		for _, o := range slices.Clone(w.Organizations)[:400] {
			w.DeleteOrganization(o.ID)
		}
	})
	res := h.syncer(nil).Run(ctx, []extractor.StreamName{extractor.StreamOrganizations})
	require.False(t, res.Complete())
	var mde *loader.MassDeleteError
	require.ErrorAs(t, res.Streams[0].Err, &mde)
	var deleted int
	require.NoError(t, h.pool.QueryRow(ctx, "SELECT count(*) FROM affinity.organizations WHERE deleted_at IS NOT NULL").Scan(&deleted))
	require.Zero(t, deleted, "the guard must delete nothing")

	allow := extractor.New(h.client, h.store, extractor.Options{MaxDeleteShare: 0.5, AllowMassDelete: true})
	requireComplete(t, allow.Run(ctx, []extractor.StreamName{extractor.StreamOrganizations}))
	require.NoError(t, h.pool.QueryRow(ctx, "SELECT count(*) FROM affinity.organizations WHERE deleted_at IS NOT NULL").Scan(&deleted))
	require.Equal(t, 400, deleted)
}

// cancellingAPI cancels the run after a number of persons pages.
type cancellingAPI struct {
	extractor.API
	after  int
	seen   int
	cancel context.CancelFunc
}

func (c *cancellingAPI) Persons(ctx context.Context, q affinity.PersonQuery) iter.Seq2[affinity.Page[affinity.Person], error] {
	return func(yield func(affinity.Page[affinity.Person], error) bool) {
		for p, err := range c.API.Persons(ctx, q) {
			if !yield(p, err) {
				return
			}
			c.seen++
			if c.seen == c.after {
				c.cancel()
			}
		}
	}
}

func requireComplete(t *testing.T, res extractor.Result) {
	t.Helper()
	for _, s := range res.Streams {
		require.NoError(t, s.Err, "stream %s", s.Stream)
		require.True(t, s.Complete, "stream %s", s.Stream)
	}
}

func ptr[T any](v T) *T { return &v }

// ---- comparing the warehouse with the workspace ----

type personRow struct {
	ID                         int64
	Type                       int16
	FirstName, LastName, Email *string
	Emails                     []string
	Dates                      [7]*time.Time
	Deleted                    bool
}

func datesOf(d *affinitytest.InteractionDates) [7]*time.Time {
	if d == nil {
		return [7]*time.Time{}
	}
	return [7]*time.Time{d.FirstEmail, d.LastEmail, d.FirstEvent, d.LastEvent, d.NextEvent, d.LastChatMessage, d.LastInteraction}
}

func (h *harness) requirePersonsEqual(t *testing.T, ws *affinitytest.Workspace) {
	t.Helper()
	rows, err := h.pool.Query(t.Context(), `SELECT id, type, first_name, last_name, primary_email, emails,
		first_email_at, last_email_at, first_event_at, last_event_at, next_event_at, last_chat_message_at, last_interaction_at
		FROM affinity.persons WHERE deleted_at IS NULL ORDER BY id`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (personRow, error) {
		var p personRow
		d := make([]*time.Time, 7)
		err := r.Scan(&p.ID, &p.Type, &p.FirstName, &p.LastName, &p.Email, &p.Emails, &d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6])
		copy(p.Dates[:], d)
		return p, err
	})
	require.NoError(t, err)
	want := make([]personRow, 0, len(ws.Persons))
	for _, p := range ws.Persons {
		want = append(want, personRow{ID: p.ID, Type: int16(p.Type), FirstName: p.FirstName, LastName: p.LastName,
			Email: p.PrimaryEmail, Emails: nonNil(p.Emails), Dates: datesOf(p.Interactions)})
	}
	require.Len(t, got, len(want))
	for i := range want {
		requireSameRow(t, want[i], got[i])
	}
}

type orgRow struct {
	ID             int64
	Name           string
	Domain         *string
	Domains        []string
	CrunchbaseUUID *string
	Global         bool
	Dates          [7]*time.Time
}

type oppRow struct {
	ID            int64
	Name          string
	ListID        *int64
	Persons, Orgs []int64
}

func (h *harness) requireWarehouseEquals(t *testing.T, ws *affinitytest.Workspace) {
	t.Helper()
	ctx := t.Context()
	h.requirePersonsEqual(t, ws)

	rows, err := h.pool.Query(ctx, `SELECT id, name, domain, domains, crunchbase_uuid, global,
		first_email_at, last_email_at, first_event_at, last_event_at, next_event_at, last_chat_message_at, last_interaction_at
		FROM affinity.organizations WHERE deleted_at IS NULL ORDER BY id`)
	require.NoError(t, err)
	gotOrgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (orgRow, error) {
		var o orgRow
		d := make([]*time.Time, 7)
		err := r.Scan(&o.ID, &o.Name, &o.Domain, &o.Domains, &o.CrunchbaseUUID, &o.Global, &d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6])
		copy(o.Dates[:], d)
		return o, err
	})
	require.NoError(t, err)
	require.Len(t, gotOrgs, len(ws.Organizations))
	for i, o := range ws.Organizations {
		requireSameRow(t, orgRow{ID: o.ID, Name: o.Name, Domain: o.Domain, Domains: nonNil(o.Domains), CrunchbaseUUID: o.CrunchbaseUUID,
			Global: o.Global, Dates: datesOf(o.Interactions)}, gotOrgs[i])
	}

	rows, err = h.pool.Query(ctx, `SELECT o.id, o.name, o.list_id,
		coalesce((SELECT array_agg(person_id ORDER BY person_id) FROM affinity.opportunity_persons WHERE opportunity_id = o.id), '{}'),
		coalesce((SELECT array_agg(organization_id ORDER BY organization_id) FROM affinity.opportunity_organizations WHERE opportunity_id = o.id), '{}')
		FROM affinity.opportunities o WHERE deleted_at IS NULL ORDER BY id`)
	require.NoError(t, err)
	gotOpps, err := pgx.CollectRows(rows, pgx.RowToStructByPos[oppRow])
	require.NoError(t, err)
	listOf := map[int64]int64{}
	for _, e := range ws.ListEntries {
		if e.EntityType == 8 {
			listOf[e.EntityID] = e.ListID
		}
	}
	require.Len(t, gotOpps, len(ws.Opportunities))
	for i, o := range ws.Opportunities {
		want := oppRow{ID: o.ID, Name: o.Name, Persons: sortedIDs(o.PersonIDs), Orgs: sortedIDs(o.OrganizationIDs)}
		if l, ok := listOf[o.ID]; ok {
			want.ListID = &l
		}
		requireSameRow(t, want, gotOpps[i])
	}
}

func requireSameRow[T any](t *testing.T, want, got T) {
	t.Helper()
	require.Equal(t, normalize(want), normalize(got))
}

// normalize makes times comparable (one location, microseconds as stored).
func normalize(v any) any {
	switch r := v.(type) {
	case personRow:
		r.Dates = utc(r.Dates)
		return r
	case orgRow:
		r.Dates = utc(r.Dates)
		return r
	}
	return v
}

func utc(d [7]*time.Time) [7]*time.Time {
	for i, t := range d {
		if t != nil {
			u := t.UTC().Truncate(time.Microsecond)
			d[i] = &u
		}
	}
	return d
}

func sortedIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	if out == nil {
		out = []int64{}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return slices.Compact(out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
