package affinity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// These tests run the real client against the fake API (affinitytest) over HTTP and compare
// what the client decodes with the workspace the fake serves.

const fakeKey = "fk-live-7c41d09e55ab2f83"

// fakeConfig is a small workspace with every kind of record: two person lists, one
// organization list, two opportunity lists, NUL characters in some texts.
func fakeConfig() affinitytest.Config {
	return affinitytest.Config{
		Seed: 42, Persons: 120, Organizations: 60, Opportunities: 25,
		PersonLists: 2, OrganizationLists: 1, OpportunityLists: 2, EntriesPerList: 30, NUL: true,
	}
}

// fake is one fake server behind a loopback listener, with an indexed copy of its workspace.
type fake struct {
	srv  *affinitytest.Server
	url  string
	want *affinitytest.Workspace
}

// startFake serves ws (generated from fakeConfig when nil) with the test key.
func startFake(t *testing.T, ws *affinitytest.Workspace, opts ...affinitytest.Option) *fake {
	t.Helper()
	if ws == nil {
		ws = affinitytest.Generate(fakeConfig())
	}
	srv := affinitytest.NewServer(ws, append([]affinitytest.Option{affinitytest.WithAPIKey(fakeKey)}, opts...)...)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	want := srv.Snapshot()
	want.Reindex() // build the lookups now: parallel subtests only read
	return &fake{srv: srv, url: hs.URL, want: want}
}

// calls records what the client reports through its hooks. Waits return at once.
type calls struct {
	reserved atomic.Int64
	onSleep  func(d time.Duration) // optional, runs inside each wait

	mu    sync.Mutex
	waits []time.Duration
	infos []affinity.RequestInfo
}

func (c *calls) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	if c.onSleep != nil {
		c.onSleep(d)
	}
	return nil
}

func (c *calls) observe(info affinity.RequestInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.infos = append(c.infos, info)
}

func (c *calls) reserve(context.Context) error {
	c.reserved.Add(1)
	return nil
}

func (c *calls) recordedWaits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

func (c *calls) attempts() []affinity.RequestInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.infos)
}

// jitter is the fixed jitter source of the fake tests: a 429 wait is the server's reset plus
// 5% of it.
const jitter = 0.5

// client returns a real client of f with every hook recorded into c, no client-side limit and
// a fixed jitter; opts come last and may override those.
func (f *fake) client(t *testing.T, c *calls, opts ...affinity.Option) *affinity.Client {
	t.Helper()
	base := []affinity.Option{
		affinity.WithPerMinute(0),
		affinity.WithSleep(c.sleep),
		affinity.WithRand(func() float64 { return jitter }),
		affinity.WithObserver(c.observe),
		affinity.WithReserve(c.reserve),
	}
	cl, err := affinity.NewClient(f.url, fakeKey, append(base, opts...)...)
	require.NoError(t, err)
	return cl
}

// collect runs a page sequence to its end and returns the pages.
func collect[T any](t *testing.T, seq iter.Seq2[affinity.Page[T], error]) []affinity.Page[T] {
	t.Helper()
	var pages []affinity.Page[T]
	for p, err := range seq {
		require.NoError(t, err)
		pages = append(pages, p)
	}
	return pages
}

func flatten[T any](pages []affinity.Page[T]) []T {
	out := []T{}
	for _, p := range pages {
		out = append(out, p.Items...)
	}
	return out
}

// requirePaging checks the page chain of n items fetched with size (0 = 500): every page but
// the last is full and hands its NextToken to the next one; a last page that would be exactly
// full is followed by an empty one.
func requirePaging[T any](t *testing.T, pages []affinity.Page[T], n, size int) {
	t.Helper()
	if size == 0 {
		size = affinitytest.MaxPageSize
	}
	require.Len(t, pages, n/size+1, "pages of %d items by %d", n, size)
	for i, p := range pages {
		if i == 0 {
			require.Empty(t, p.Token)
		} else {
			require.Equal(t, pages[i-1].NextToken, p.Token, "page %d", i)
		}
		if i < len(pages)-1 {
			require.Len(t, p.Items, size, "page %d", i)
			require.NotEmpty(t, p.NextToken, "page %d", i)
		} else {
			require.Len(t, p.Items, n%size, "last page")
			require.Empty(t, p.NextToken, "last page")
		}
	}
}

// ---- the workspace as the client should decode it ----

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func ptr[T any](v T) *T { return &v }

func nonNilIDs(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// wantDates is what with_interaction_dates=true gives: every key, null for a missing date and
// for an entity without interactions.
func wantDates(d *affinitytest.InteractionDates) *affinity.InteractionDates {
	if d == nil {
		return &affinity.InteractionDates{}
	}
	return &affinity.InteractionDates{
		FirstEmailDate: utc(d.FirstEmail), LastEmailDate: utc(d.LastEmail),
		FirstEventDate: utc(d.FirstEvent), LastEventDate: utc(d.LastEvent), NextEventDate: utc(d.NextEvent),
		LastChatMessageDate: utc(d.LastChatMessage), LastInteractionDate: utc(d.LastInteraction),
	}
}

func normDates(d *affinity.InteractionDates) *affinity.InteractionDates {
	if d == nil {
		return nil
	}
	return &affinity.InteractionDates{
		FirstEmailDate: utc(d.FirstEmailDate), LastEmailDate: utc(d.LastEmailDate),
		FirstEventDate: utc(d.FirstEventDate), LastEventDate: utc(d.LastEventDate), NextEventDate: utc(d.NextEventDate),
		LastChatMessageDate: utc(d.LastChatMessageDate), LastInteractionDate: utc(d.LastInteractionDate),
	}
}

func wantRefs(entries []*affinitytest.ListEntry) []affinity.ListEntryRef {
	out := []affinity.ListEntryRef{}
	for _, e := range entries {
		out = append(out, affinity.ListEntryRef{ID: e.ID, ListID: e.ListID, CreatorID: e.CreatorID,
			EntityID: e.EntityID, EntityType: ptr(e.EntityType), CreatedAt: e.CreatedAt.UTC()})
	}
	return out
}

func normRefs(refs []affinity.ListEntryRef) []affinity.ListEntryRef {
	if refs == nil {
		return nil
	}
	out := make([]affinity.ListEntryRef, len(refs))
	for i, r := range refs {
		r.CreatedAt = r.CreatedAt.UTC()
		out[i] = r
	}
	return out
}

// wantPerson is p as served by the listing (single false) or the single GET.
func wantPerson(w *affinitytest.Workspace, p *affinitytest.Person, single, dates bool) affinity.Person {
	out := affinity.Person{ID: p.ID, Type: p.Type, FirstName: p.FirstName, LastName: p.LastName,
		PrimaryEmail: p.PrimaryEmail, Emails: nonNilStrings(p.Emails)}
	if single {
		out.OrganizationIDs = nonNilIDs(p.OrganizationIDs)
		out.ListEntries = wantRefs(w.EntriesFor(loader.EntityPerson, p.ID))
	}
	if dates {
		out.InteractionDates = wantDates(p.Interactions)
	}
	return out
}

func normPerson(p affinity.Person) affinity.Person {
	p.InteractionDates = normDates(p.InteractionDates)
	p.ListEntries = normRefs(p.ListEntries)
	return p
}

func wantOrganization(w *affinitytest.Workspace, o *affinitytest.Organization, single, dates bool) affinity.Organization {
	out := affinity.Organization{ID: o.ID, Name: o.Name, Domain: o.Domain, Domains: nonNilStrings(o.Domains),
		CrunchbaseUUID: o.CrunchbaseUUID, Global: o.Global}
	if single {
		out.PersonIDs = nonNilIDs(o.PersonIDs)
		out.ListEntries = wantRefs(w.EntriesFor(loader.EntityOrganization, o.ID))
	}
	if dates {
		out.InteractionDates = wantDates(o.Interactions)
	}
	return out
}

func normOrganization(o affinity.Organization) affinity.Organization {
	o.InteractionDates = normDates(o.InteractionDates)
	o.ListEntries = normRefs(o.ListEntries)
	return o
}

func wantOpportunity(w *affinitytest.Workspace, o *affinitytest.Opportunity) affinity.Opportunity {
	return affinity.Opportunity{ID: o.ID, Name: o.Name, PersonIDs: nonNilIDs(o.PersonIDs),
		OrganizationIDs: nonNilIDs(o.OrganizationIDs),
		ListEntries:     wantRefs(w.EntriesFor(loader.EntityOpportunity, o.ID))}
}

func normOpportunity(o affinity.Opportunity) affinity.Opportunity {
	o.ListEntries = normRefs(o.ListEntries)
	return o
}

// requireEntry compares a decoded list entry, its embedded entity included, with e.
func requireEntry(t *testing.T, w *affinitytest.Workspace, e *affinitytest.ListEntry, got affinity.ListEntry) {
	t.Helper()
	require.Equal(t, affinity.ListEntry{ID: e.ID, ListID: e.ListID, CreatorID: e.CreatorID, EntityID: e.EntityID,
		EntityType: ptr(e.EntityType), CreatedAt: e.CreatedAt.UTC()},
		affinity.ListEntry{ID: got.ID, ListID: got.ListID, CreatorID: got.CreatorID, EntityID: got.EntityID,
			EntityType: got.EntityType, CreatedAt: got.CreatedAt.UTC()}, "entry %d", e.ID)
	switch e.EntityType {
	case loader.EntityPerson:
		var p affinity.Person
		require.NoError(t, json.Unmarshal(got.Entity, &p))
		require.Equal(t, wantPerson(w, w.Person(e.EntityID), false, false), p, "entity of entry %d", e.ID)
	case loader.EntityOrganization:
		var o affinity.Organization
		require.NoError(t, json.Unmarshal(got.Entity, &o))
		require.Equal(t, wantOrganization(w, w.Organization(e.EntityID), false, false), o, "entity of entry %d", e.ID)
	case loader.EntityOpportunity:
		var o affinity.Opportunity
		require.NoError(t, json.Unmarshal(got.Entity, &o))
		require.Equal(t, affinity.Opportunity{ID: e.EntityID, Name: w.Opportunity(e.EntityID).Name}, o,
			"entity of entry %d", e.ID)
	default:
		t.Fatalf("entry %d has entity type %d", e.ID, e.EntityType)
	}
}

func wantField(f *affinitytest.Field) affinity.Field {
	out := affinity.Field{ID: f.ID, Name: f.Name, ListID: f.ListID, EntityType: ptr(f.EntityType),
		EnrichmentSource: &f.EnrichmentSource, ValueType: affinity.ValueType(f.ValueType), AllowsMultiple: f.AllowsMultiple,
		TrackChanges: f.TrackChanges, DropdownOptions: []affinity.DropdownOption{}}
	for _, o := range f.DropdownOptions {
		out.DropdownOptions = append(out.DropdownOptions,
			affinity.DropdownOption{ID: o.ID, Text: o.Text, Rank: ptr(o.Rank), Color: ptr(o.Color)})
	}
	return out
}

func wantFields(fields []*affinitytest.Field, keep func(*affinitytest.Field) bool) []affinity.Field {
	out := []affinity.Field{}
	for _, f := range fields {
		if keep(f) {
			out = append(out, wantField(f))
		}
	}
	return out
}

func wantList(w *affinitytest.Workspace, l *affinitytest.List, withFields bool) affinity.List {
	out := affinity.List{ID: l.ID, Type: l.Type, Name: l.Name, Public: l.Public, OwnerID: ptr(l.OwnerID),
		CreatorID: ptr(l.CreatorID), ListSize: ptr(int64(w.ListSize(l.ID)))}
	if withFields {
		out.Fields = wantFields(w.Fields, func(f *affinitytest.Field) bool { return f.ListID != nil && *f.ListID == l.ID })
	}
	return out
}

func rawOrNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}

func wantValue(w *affinitytest.Workspace, v *affinitytest.FieldValue) affinity.FieldValue {
	out := affinity.FieldValue{ID: v.ID, FieldID: v.FieldID, EntityID: v.EntityID, ListEntryID: v.ListEntryID,
		Value: affinity.Value{Raw: rawOrNull(v.Value)}, CreatedAt: v.CreatedAt.UTC(), UpdatedAt: utc(v.UpdatedAt)}
	if !v.OmitTypes {
		out.EntityType = ptr(v.EntityType)
		out.ValueType = ptr(affinity.ValueType(w.Field(v.FieldID).ValueType))
	}
	return out
}

func normValue(v affinity.FieldValue) affinity.FieldValue {
	v.CreatedAt = v.CreatedAt.UTC()
	v.UpdatedAt = utc(v.UpdatedAt)
	return v
}

func wantChange(w *affinitytest.Workspace, c *affinitytest.FieldValueChange) affinity.FieldValueChange {
	out := affinity.FieldValueChange{ID: c.ID, FieldID: c.FieldID, EntityID: c.EntityID, ListEntryID: c.ListEntryID,
		ActionType: affinity.Action(c.ActionType), ChangedAt: c.ChangedAt.UTC(), Value: affinity.Value{Raw: rawOrNull(c.Value)}}
	if c.ChangerID != nil {
		p := w.Person(*c.ChangerID)
		out.Changer = &affinity.Changer{ID: p.ID, Type: ptr(p.Type), FirstName: p.FirstName,
			LastName: p.LastName, PrimaryEmail: p.PrimaryEmail}
	}
	return out
}

// ---- paging ----

// pageSizes are the sizes every listing is paged with: the default (one page), a small one
// (several pages) and exactly n (a full page, then an empty one).
func pageSizes(n int) []int { return []int{0, 7, n} }

func TestFakePersonsPageToTheEnd(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	for _, dates := range []bool{false, true} {
		want := []affinity.Person{}
		for _, p := range f.want.Persons {
			// with_interaction_dates omits persons without interactions.
			if !dates || p.Interactions != nil {
				want = append(want, wantPerson(f.want, p, false, dates))
			}
		}
		if dates {
			require.Less(t, len(want), len(f.want.Persons), "some persons have no interactions")
		}
		for _, size := range pageSizes(len(want)) {
			t.Run("dates="+strconv.FormatBool(dates)+"/size="+strconv.Itoa(size), func(t *testing.T) {
				t.Parallel()
				c := f.client(t, &calls{})
				pages := collect(t, c.Persons(t.Context(), affinity.PersonQuery{
					PageQuery: affinity.PageQuery{PageSize: size}, WithInteractionDates: dates}))
				requirePaging(t, pages, len(want), size)
				got := flatten(pages)
				for i := range got {
					got[i] = normPerson(got[i])
				}
				require.Equal(t, want, got)
			})
		}
	}
}

func TestFakeOrganizationsPageToTheEnd(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	for _, dates := range []bool{false, true} {
		want := []affinity.Organization{}
		for _, o := range f.want.Organizations {
			if !dates || o.Interactions != nil {
				want = append(want, wantOrganization(f.want, o, false, dates))
			}
		}
		for _, size := range pageSizes(len(want)) {
			t.Run("dates="+strconv.FormatBool(dates)+"/size="+strconv.Itoa(size), func(t *testing.T) {
				t.Parallel()
				c := f.client(t, &calls{})
				pages := collect(t, c.Organizations(t.Context(), affinity.OrganizationQuery{
					PageQuery: affinity.PageQuery{PageSize: size}, WithInteractionDates: dates}))
				requirePaging(t, pages, len(want), size)
				got := flatten(pages)
				for i := range got {
					got[i] = normOrganization(got[i])
				}
				require.Equal(t, want, got)
			})
		}
	}
}

func TestFakeOpportunitiesPageToTheEnd(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	want := []affinity.Opportunity{}
	for _, o := range f.want.Opportunities {
		want = append(want, wantOpportunity(f.want, o))
	}
	require.NotEmpty(t, want)
	for _, size := range pageSizes(len(want)) {
		t.Run("size="+strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			c := f.client(t, &calls{})
			pages := collect(t, c.Opportunities(t.Context(), affinity.PageQuery{PageSize: size}))
			requirePaging(t, pages, len(want), size)
			got := flatten(pages)
			for i := range got {
				require.Len(t, got[i].ListEntries, 1, "an opportunity has exactly one list entry")
				got[i] = normOpportunity(got[i])
			}
			require.Equal(t, want, got)
		})
	}
}

func TestFakeListEntriesPageToTheEnd(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	require.Len(t, f.want.Lists, 5)
	for _, l := range f.want.Lists {
		want := f.want.EntriesOf(l.ID)
		require.NotEmpty(t, want, "list %d", l.ID)
		for _, size := range pageSizes(len(want)) {
			t.Run(l.Name+"/size="+strconv.Itoa(size), func(t *testing.T) {
				t.Parallel()
				c := f.client(t, &calls{})
				pages := collect(t, c.ListEntries(t.Context(), l.ID, affinity.PageQuery{PageSize: size}))
				requirePaging(t, pages, len(want), size)
				got := flatten(pages)
				require.Len(t, got, len(want))
				for i, e := range want {
					requireEntry(t, f.want, e, got[i])
				}
			})
		}
	}
}

func TestFakeResumeFromToken(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	c := f.client(t, &calls{})
	const size = 9

	t.Run("persons", func(t *testing.T) {
		t.Parallel()
		q := affinity.PersonQuery{PageQuery: affinity.PageQuery{PageSize: size}, WithInteractionDates: true}
		all := collect(t, c.Persons(t.Context(), q))
		require.Greater(t, len(all), 4)
		const k = 3 // resume after the third page
		q.PageToken = all[k-1].NextToken
		rest := collect(t, c.Persons(t.Context(), q))
		require.Equal(t, q.PageToken, rest[0].Token)
		require.Equal(t, flatten(all[k:]), flatten(rest))
		require.Equal(t, all[k:], rest, "the same pages with the same tokens")
	})
	t.Run("list entries", func(t *testing.T) {
		t.Parallel()
		l := f.want.Lists[0]
		all := collect(t, c.ListEntries(t.Context(), l.ID, affinity.PageQuery{PageSize: size}))
		require.Greater(t, len(all), 2)
		rest := collect(t, c.ListEntries(t.Context(), l.ID, affinity.PageQuery{PageSize: size, PageToken: all[0].NextToken}))
		require.Equal(t, all[1:], rest)
		require.Len(t, flatten(rest), len(f.want.EntriesOf(l.ID))-size)
	})
}

// ---- single GETs ----

// sample returns up to n ids spread over s.
func sample[T any](s []T, n int, id func(T) int64) []int64 {
	var out []int64
	step := max(1, len(s)/n)
	for i := 0; i < len(s) && len(out) < n; i += step {
		out = append(out, id(s[i]))
	}
	return out
}

// listed returns the entity ids on the lists of one type, in entry order (first entities first).
func listed(w *affinitytest.Workspace, typ loader.EntityKind, n int) []int64 {
	var out []int64
	for _, l := range w.Lists {
		if l.Type != typ {
			continue
		}
		for _, e := range w.EntriesOf(l.ID) {
			if len(out) < n && !slices.Contains(out, e.EntityID) {
				out = append(out, e.EntityID)
			}
		}
	}
	return out
}

func TestFakeSingleGets(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	c := f.client(t, &calls{})
	w := f.want

	t.Run("person", func(t *testing.T) {
		t.Parallel()
		ids := append(sample(w.Persons, 8, func(p *affinitytest.Person) int64 { return p.ID }),
			listed(w, loader.EntityPerson, 4)...)
		var sawOrgs, sawTwoEntries bool
		for _, id := range ids {
			p := w.Person(id)
			for _, dates := range []bool{false, true} {
				got, err := c.Person(t.Context(), id, dates)
				require.NoError(t, err)
				require.Equal(t, wantPerson(w, p, true, dates), normPerson(got))
			}
			sawOrgs = sawOrgs || len(p.OrganizationIDs) > 0
			sawTwoEntries = sawTwoEntries || len(w.EntriesFor(loader.EntityPerson, id)) > 1
		}
		require.True(t, sawOrgs && sawTwoEntries, "the sample has organizations and repeated list entries")
	})
	t.Run("organization", func(t *testing.T) {
		t.Parallel()
		ids := append(sample(w.Organizations, 6, func(o *affinitytest.Organization) int64 { return o.ID }),
			listed(w, loader.EntityOrganization, 3)...)
		var sawPersons, sawEntries bool
		for _, id := range ids {
			o := w.Organization(id)
			for _, dates := range []bool{false, true} {
				got, err := c.Organization(t.Context(), id, dates)
				require.NoError(t, err)
				require.Equal(t, wantOrganization(w, o, true, dates), normOrganization(got))
			}
			sawPersons = sawPersons || len(o.PersonIDs) > 0
			sawEntries = sawEntries || len(w.EntriesFor(loader.EntityOrganization, id)) > 0
		}
		require.True(t, sawPersons && sawEntries, "the sample has person ids and list entries")
	})
	t.Run("opportunity", func(t *testing.T) {
		t.Parallel()
		for _, id := range sample(w.Opportunities, 5, func(o *affinitytest.Opportunity) int64 { return o.ID }) {
			got, err := c.Opportunity(t.Context(), id)
			require.NoError(t, err)
			require.Equal(t, wantOpportunity(w, w.Opportunity(id)), normOpportunity(got))
		}
	})
	t.Run("lists", func(t *testing.T) {
		t.Parallel()
		all, err := c.Lists(t.Context())
		require.NoError(t, err)
		want := []affinity.List{}
		for _, l := range w.Lists {
			want = append(want, wantList(w, l, false))
		}
		require.Equal(t, want, all)
		for _, l := range w.Lists {
			got, err := c.List(t.Context(), l.ID)
			require.NoError(t, err)
			require.Equal(t, wantList(w, l, true), got)
			require.NotEmpty(t, got.Fields)
		}
	})
	t.Run("list entry", func(t *testing.T) {
		t.Parallel()
		for _, l := range w.Lists {
			for _, id := range sample(w.EntriesOf(l.ID), 3, func(e *affinitytest.ListEntry) int64 { return e.ID }) {
				got, err := c.ListEntry(t.Context(), l.ID, id)
				require.NoError(t, err)
				requireEntry(t, w, w.ListEntry(id), got)
			}
		}
	})
}

func TestFakeFields(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	c := f.client(t, &calls{})
	w := f.want
	all := func(*affinitytest.Field) bool { return true }
	global := func(typ loader.EntityKind) func(*affinitytest.Field) bool {
		return func(f *affinitytest.Field) bool { return f.ListID == nil && f.EntityType == typ }
	}
	listID := w.Lists[len(w.Lists)-1].ID
	tests := []struct {
		name  string
		fetch func(ctx context.Context) ([]affinity.Field, error)
		keep  func(*affinitytest.Field) bool
	}{
		{"fields", func(ctx context.Context) ([]affinity.Field, error) { return c.Fields(ctx, affinity.FieldQuery{}) }, all},
		{"fields of a list", func(ctx context.Context) ([]affinity.Field, error) {
			return c.Fields(ctx, affinity.FieldQuery{ListID: &listID})
		}, func(f *affinitytest.Field) bool { return f.ListID != nil && *f.ListID == listID }},
		{"fields of organizations", func(ctx context.Context) ([]affinity.Field, error) {
			return c.Fields(ctx, affinity.FieldQuery{EntityType: ptr(loader.EntityOrganization)})
		}, func(f *affinitytest.Field) bool { return f.EntityType == loader.EntityOrganization }},
		{"person fields", c.PersonFields, global(loader.EntityPerson)},
		{"organization fields", c.OrganizationFields, global(loader.EntityOrganization)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.fetch(t.Context())
			require.NoError(t, err)
			want := wantFields(w.Fields, tt.keep)
			require.NotEmpty(t, want)
			require.Equal(t, want, got)
		})
	}
	t.Run("dropdown options", func(t *testing.T) {
		t.Parallel()
		got, err := c.Fields(t.Context(), affinity.FieldQuery{})
		require.NoError(t, err)
		kinds := map[int]bool{}
		for _, fd := range got {
			if len(fd.DropdownOptions) > 0 {
				kinds[int(fd.ValueType)] = true
				require.NotNil(t, fd.DropdownOptions[0].Rank)
			}
		}
		require.Equal(t, map[int]bool{int(affinity.ValueDropdown): true, int(affinity.ValueRankedDropdown): true}, kinds)
	})
}

// richest returns the entity of a type whose values span the most value types, preferring one
// with a multi-valued cell.
func richest(w *affinitytest.Workspace, typ loader.EntityKind) int64 {
	type stats struct {
		types map[int]bool
		cells map[[3]int64]int
	}
	by := map[int64]*stats{}
	for _, v := range w.FieldValues {
		if v.EntityType != typ {
			continue
		}
		s := by[v.EntityID]
		if s == nil {
			s = &stats{types: map[int]bool{}, cells: map[[3]int64]int{}}
			by[v.EntityID] = s
		}
		s.types[w.Field(v.FieldID).ValueType] = true
		entry := int64(0)
		if v.ListEntryID != nil {
			entry = *v.ListEntryID
		}
		s.cells[[3]int64{v.FieldID, v.EntityID, entry}]++
	}
	best, bestScore := int64(0), -1
	for id, s := range by {
		score := 10 * len(s.types)
		for _, n := range s.cells {
			if n > 1 {
				score++
				break
			}
		}
		if score > bestScore || (score == bestScore && id < best) {
			best, bestScore = id, score
		}
	}
	return best
}

// requireProjection checks Value.Project against what the workspace knows about the value.
func requireProjection(t *testing.T, w *affinitytest.Workspace, fd *affinitytest.Field, v affinity.Value) {
	t.Helper()
	p := v.Project(affinity.ValueType(fd.ValueType))
	if v.IsNull() {
		require.Equal(t, affinity.Projection{}, p)
		return
	}
	msg := []any{"field %d (type %d) value %s", fd.ID, fd.ValueType, v.Raw}
	var want affinity.Projection
	switch fd.ValueType {
	case affinitytest.ValuePerson, affinitytest.ValueOrganization:
		require.NotNil(t, p.EntityID, msg...)
		if fd.ValueType == affinitytest.ValuePerson {
			require.NotNil(t, w.Person(*p.EntityID), msg...)
		} else {
			require.NotNil(t, w.Organization(*p.EntityID), msg...)
		}
		want.EntityID = p.EntityID
	case affinitytest.ValueDropdown, affinitytest.ValueText, affinitytest.ValueFilterableText:
		var s string
		require.NoError(t, json.Unmarshal(v.Raw, &s))
		want.Text = &s
		if len(fd.DropdownOptions) > 0 {
			require.True(t, slices.ContainsFunc(fd.DropdownOptions,
				func(o affinitytest.DropdownOption) bool { return o.Text == s }), msg...)
		}
	case affinitytest.ValueRankedDropdown:
		require.NotNil(t, p.OptionID, msg...)
		i := slices.IndexFunc(fd.DropdownOptions, func(o affinitytest.DropdownOption) bool { return o.ID == *p.OptionID })
		require.GreaterOrEqual(t, i, 0, msg...)
		want.OptionID, want.Text = p.OptionID, &fd.DropdownOptions[i].Text
	case affinitytest.ValueNumber:
		s := string(v.Raw)
		_, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, msg...)
		want.Number = &s
	case affinitytest.ValueDate:
		require.NotNil(t, p.Date, msg...)
		require.Equal(t, strings.Trim(string(v.Raw), `"`), p.Date.Format("2006-01-02T15:04:05.000Z07:00"), msg...)
		want.Date = p.Date
	case affinitytest.ValueLocation:
		var l map[string]*string
		require.NoError(t, json.Unmarshal(v.Raw, &l))
		var parts []string
		for _, k := range []string{"street_address", "city", "state", "country", "continent"} {
			if l[k] != nil && *l[k] != "" {
				parts = append(parts, *l[k])
			}
		}
		if len(parts) > 0 {
			s := strings.Join(parts, ", ")
			want.Text = &s
		}
	default:
		t.Fatalf("unexpected value type %d", fd.ValueType)
	}
	require.Equal(t, want, p, msg...)
}

func TestFakeFieldValues(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	c := f.client(t, &calls{})
	w := f.want
	person := richest(w, loader.EntityPerson)
	org := richest(w, loader.EntityOrganization)
	opp := richest(w, loader.EntityOpportunity)
	entry := w.EntriesFor(loader.EntityOpportunity, opp)[0].ID
	tests := []struct {
		name     string
		sel      affinity.EntitySelector
		typ      loader.EntityKind
		entityID int64
		entryID  *int64
	}{
		{"person", affinity.EntitySelector{PersonID: &person}, loader.EntityPerson, person, nil},
		{"organization", affinity.EntitySelector{OrganizationID: &org}, loader.EntityOrganization, org, nil},
		{"opportunity", affinity.EntitySelector{OpportunityID: &opp}, loader.EntityOpportunity, opp, nil},
		{"list entry", affinity.EntitySelector{ListEntryID: &entry}, loader.EntityOpportunity, opp, &entry},
	}
	var mu sync.Mutex
	types, multi := map[int]bool{}, false
	t.Run("selectors", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				want := []affinity.FieldValue{}
				for _, v := range w.FieldValues {
					onEntry := tt.entryID == nil || (v.ListEntryID != nil && *v.ListEntryID == *tt.entryID)
					if v.EntityType == tt.typ && v.EntityID == tt.entityID && onEntry {
						want = append(want, wantValue(w, v))
					}
				}
				require.NotEmpty(t, want)
				got, err := c.FieldValues(t.Context(), tt.sel)
				require.NoError(t, err)
				for i := range got {
					got[i] = normValue(got[i])
				}
				require.Equal(t, want, got)

				cells := map[[2]int64]int{}
				mu.Lock()
				defer mu.Unlock()
				for _, v := range got {
					fd := w.Field(v.FieldID)
					types[fd.ValueType] = true
					requireProjection(t, w, fd, v.Value)
					entry := int64(0)
					if v.ListEntryID != nil {
						entry = *v.ListEntryID
					}
					cells[[2]int64{v.FieldID, entry}]++
					if cells[[2]int64{v.FieldID, entry}] > 1 {
						require.True(t, fd.AllowsMultiple, "field %d has several values", fd.ID)
						multi = true
					}
				}
			})
		}
	})
	// Over all selectors: every value type, including the undocumented 10, and a multi-valued
	// cell were decoded and projected.
	require.Equal(t, map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 10: true}, types)
	require.True(t, multi, "a multi-valued field gave several values")
}

// withLongHistory adds n updates of a tracked field's cell to a generated workspace, so its
// change history spans several chunks. It returns the workspace and the field.
func withLongHistory(n int) (*affinitytest.Workspace, int64) {
	ws := affinitytest.Generate(fakeConfig())
	var v *affinitytest.FieldValue
	for _, fv := range ws.FieldValues {
		if fd := ws.Field(fv.FieldID); fd.TrackChanges && fd.ValueType == affinitytest.ValueNumber {
			v = fv
			break
		}
	}
	id := ws.Changes[len(ws.Changes)-1].ID
	at := ws.Changes[len(ws.Changes)-1].ChangedAt
	for i := range n {
		changer := ws.User.ID
		ws.Changes = append(ws.Changes, &affinitytest.FieldValueChange{
			ID: id + int64(i) + 1, FieldID: v.FieldID, EntityID: v.EntityID, ListEntryID: v.ListEntryID,
			ActionType: affinitytest.ActionUpdate, ChangerID: &changer, ChangedAt: at.Add(time.Duration(i+1) * time.Minute),
			Value: json.RawMessage(strconv.Itoa(1000 + i)),
		})
	}
	ws.Reindex()
	return ws, v.FieldID
}

// drain reads a change stream to its end.
func drain(t *testing.T, seq iter.Seq2[[]affinity.FieldValueChange, error]) (changes []affinity.FieldValueChange, chunks []int) {
	t.Helper()
	changes = []affinity.FieldValueChange{}
	for chunk, err := range seq {
		require.NoError(t, err)
		require.NotEmpty(t, chunk)
		chunks = append(chunks, len(chunk))
		for _, ch := range chunk {
			ch.ChangedAt = ch.ChangedAt.UTC()
			changes = append(changes, ch)
		}
	}
	return changes, chunks
}

func TestFakeFieldValueChanges(t *testing.T) {
	t.Parallel()
	ws, long := withLongHistory(1100)
	f := startFake(t, ws)
	c := f.client(t, &calls{})
	w := f.want
	tracked := 0
	for _, fd := range w.Fields {
		if !fd.TrackChanges {
			continue
		}
		tracked++
		t.Run(strconv.FormatInt(fd.ID, 10), func(t *testing.T) {
			t.Parallel()
			want := []affinity.FieldValueChange{}
			for _, ch := range w.Changes {
				if ch.FieldID == fd.ID {
					want = append(want, wantChange(w, ch))
				}
			}
			got, chunks := drain(t, c.FieldValueChanges(t.Context(), affinity.ChangeQuery{FieldID: fd.ID}))
			require.Equal(t, want, got)
			if fd.ID == long {
				require.Greater(t, len(want), 1100)
				require.Equal(t, []int{500, 500, len(want) - 1000}, chunks)
			}
			for _, n := range chunks {
				require.LessOrEqual(t, n, 500)
			}
		})
	}
	require.Greater(t, tracked, 10)

	t.Run("one action of one entity", func(t *testing.T) {
		t.Parallel()
		ch := w.Changes[0]
		fd := w.Field(ch.FieldID)
		var sel affinity.EntitySelector
		switch fd.EntityType {
		case loader.EntityPerson:
			sel.PersonID = &ch.EntityID
		case loader.EntityOrganization:
			sel.OrganizationID = &ch.EntityID
		default:
			sel.OpportunityID = &ch.EntityID
		}
		want := []affinity.FieldValueChange{}
		for _, x := range w.Changes {
			if x.FieldID == ch.FieldID && x.EntityID == ch.EntityID && x.ActionType == ch.ActionType {
				want = append(want, wantChange(w, x))
			}
		}
		got, _ := drain(t, c.FieldValueChanges(t.Context(), affinity.ChangeQuery{FieldID: ch.FieldID,
			ActionType: ptr(affinity.Action(ch.ActionType)), Selector: sel}))
		require.Equal(t, want, got)
	})
}

func TestFakeRateLimitAndWhoAmI(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 11, 10, 12, 0, 15, 0, time.UTC))
	f := startFake(t, nil, affinitytest.WithClock(clock.now))
	c := f.client(t, &calls{})

	me, err := c.WhoAmI(t.Context())
	require.NoError(t, err)
	require.Equal(t, f.want.Tenant.ID, me.Tenant.ID)
	require.Equal(t, f.want.Tenant.Name, me.Tenant.Name)
	require.Equal(t, f.want.Tenant.Subdomain, me.Tenant.Subdomain)
	require.Equal(t, f.want.User.ID, me.User.ID)
	require.Equal(t, f.want.User.FirstName, me.User.FirstName)
	require.Equal(t, f.want.User.LastName, me.User.LastName)
	require.Equal(t, f.want.User.Email, me.User.Email)
	require.Equal(t, "api_key", me.Grant.Type)
	require.NotNil(t, me.Grant.CreatedAt)

	_, err = c.Person(t.Context(), f.want.Persons[0].ID, false)
	require.NoError(t, err)

	rl, err := c.RateLimit(t.Context())
	require.NoError(t, err)
	unlimited := affinity.Count{Known: true, Unlimited: true}
	known := func(n int64) affinity.Count { return affinity.Count{Known: true, N: n} }
	require.Equal(t, affinity.RateLimit{
		// Only the person counts against the month; all three calls against the minute.
		OrgMonthly: affinity.Quota{Limit: unlimited, Remaining: unlimited, Reset: 21*24*3600 - (12*3600 + 15), Used: 1},
		APIKeyPerMinute: affinity.Quota{Limit: known(affinitytest.DefaultPerMinute),
			Remaining: known(affinitytest.DefaultPerMinute - 3), Reset: 45, Used: 3},
	}, rl)
}

// ---- errors ----

func TestFakeWrongKey(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	const wrong = "wk-0a9b8c7d6e5f4031"
	var c calls
	cl, err := affinity.NewClient(f.url, wrong, affinity.WithPerMinute(0), affinity.WithSleep(c.sleep))
	require.NoError(t, err)

	_, err = cl.Person(t.Context(), f.want.Persons[0].ID, false)
	var apiErr *affinity.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	require.Equal(t, "/persons/{id}", apiErr.Endpoint)
	for _, secret := range []string{wrong, fakeKey, base64.StdEncoding.EncodeToString([]byte(":" + wrong))} {
		require.NotContains(t, err.Error(), secret)
	}
	require.Equal(t, 1, f.srv.TotalRequests(), "a 401 is not retried")
	require.Empty(t, c.recordedWaits())
}

func TestFakeNotFound(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	c := f.client(t, &calls{})
	const unknown = 999_999_999
	listID := f.want.Lists[0].ID
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"person", func(ctx context.Context) error { _, err := c.Person(ctx, unknown, false); return err }},
		{"organization", func(ctx context.Context) error { _, err := c.Organization(ctx, unknown, true); return err }},
		{"opportunity", func(ctx context.Context) error { _, err := c.Opportunity(ctx, unknown); return err }},
		{"list", func(ctx context.Context) error { _, err := c.List(ctx, unknown); return err }},
		{"list entry", func(ctx context.Context) error { _, err := c.ListEntry(ctx, listID, unknown); return err }},
		{"entries of a list", func(ctx context.Context) error {
			for _, err := range c.ListEntries(ctx, unknown, affinity.PageQuery{}) {
				return err
			}
			return nil
		}},
		{"field values", func(ctx context.Context) error {
			_, err := c.FieldValues(ctx, affinity.EntitySelector{PersonID: ptr[int64](unknown)})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context())
			require.Error(t, err)
			require.True(t, affinity.IsNotFound(err), "%v", err)
			require.False(t, affinity.IsMerged(err))
		})
	}
}

func TestFakeUnprocessable(t *testing.T) {
	t.Parallel()
	f := startFake(t, nil)
	var c calls
	cl := f.client(t, &c)
	w := f.want

	requireStatus := func(t *testing.T, err error, status int) {
		t.Helper()
		var apiErr *affinity.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, status, apiErr.StatusCode, "%v", err)
	}
	// first returns the first page's result of seq and stops.
	first := func(seq iter.Seq2[affinity.Page[affinity.Person], error]) (affinity.Page[affinity.Person], error) {
		for p, err := range seq {
			return p, err
		}
		return affinity.Page[affinity.Person]{}, errors.New("no page")
	}

	t.Run("person token with another param", func(t *testing.T) {
		p, err := first(cl.Persons(t.Context(), affinity.PersonQuery{PageQuery: affinity.PageQuery{PageSize: 10}}))
		require.NoError(t, err)
		require.NotEmpty(t, p.NextToken)
		_, err = first(cl.Persons(t.Context(), affinity.PersonQuery{
			PageQuery: affinity.PageQuery{PageSize: 10, PageToken: p.NextToken}, WithInteractionDates: true}))
		requireStatus(t, err, http.StatusUnprocessableEntity)
		require.False(t, affinity.IsMerged(err), "a listing is not a merged entity")
	})
	t.Run("list entries token of another list", func(t *testing.T) {
		var token string
		for p, err := range cl.ListEntries(t.Context(), w.Lists[0].ID, affinity.PageQuery{PageSize: 5}) {
			require.NoError(t, err)
			token = p.NextToken
			break
		}
		require.NotEmpty(t, token)
		for _, err := range cl.ListEntries(t.Context(), w.Lists[1].ID, affinity.PageQuery{PageSize: 5, PageToken: token}) {
			requireStatus(t, err, http.StatusUnprocessableEntity)
			break
		}
	})
	t.Run("changes of an untracked field", func(t *testing.T) {
		i := slices.IndexFunc(w.Fields, func(f *affinitytest.Field) bool { return !f.TrackChanges })
		require.GreaterOrEqual(t, i, 0)
		n := 0
		for chunk, err := range cl.FieldValueChanges(t.Context(), affinity.ChangeQuery{FieldID: w.Fields[i].ID}) {
			n++
			require.Nil(t, chunk)
			requireStatus(t, err, http.StatusUnprocessableEntity)
		}
		require.Equal(t, 1, n)
	})
	require.Empty(t, c.recordedWaits(), "a 422 is not retried")
	require.Equal(t, int(c.reserved.Load()), f.srv.TotalRequests())
}
