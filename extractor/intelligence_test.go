package extractor_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The relationship intelligence streams against the fake: what a pass stores, what it asks
// for, and what it does not ask for.

// intelWorkspace is a small workspace with every kind of interaction.
func intelWorkspace() affinitytest.Config {
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 21
	return cfg
}

// stepClock is the clock of the syncer and the fake: it stands still within a pass and moves a
// minute before each (run).
type stepClock struct {
	mu       sync.Mutex
	start, t time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// run moves the clock on and runs every stream.
func (c *stepClock) run(t *testing.T, h *harness, api extractor.API) extractor.Result {
	t.Helper()
	return c.runCtx(t.Context(), h, api)
}

func (c *stepClock) runCtx(ctx context.Context, h *harness, api extractor.API) extractor.Result {
	c.mu.Lock()
	c.t = c.t.Add(time.Minute)
	c.mu.Unlock()
	return h.syncer(api).Run(ctx, nil)
}

// intelHarness is a harness whose passes run on a stepClock, the fake's included.
func intelHarness(t *testing.T, opts ...affinitytest.Option) (*harness, *stepClock) {
	t.Helper()
	return intelHarnessOf(t, intelWorkspace(), opts...)
}

func intelHarnessOf(t *testing.T, cfg affinitytest.Config, opts ...affinitytest.Option) (*harness, *stepClock) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	clk := &stepClock{start: now, t: now}
	h := newHarness(t, cfg, append([]affinitytest.Option{affinitytest.WithClock(clk.Now)}, opts...)...)
	h.fake.Mutate(func(w *affinitytest.Workspace) { w.SetClock(clk.Now) })
	h.opts.Now = clk.Now
	h.opts.ValuesMaxAge = 20 * time.Hour
	h.opts.Intelligence = extractor.IntelligenceOptions{Scope: extractor.ScopeListed}
	return h, clk
}

// intelRecorder records the entity of every interactions and strengths request.
type intelRecorder struct {
	extractor.API
	mu           sync.Mutex
	interactions []affinity.InteractionQuery
	strengths    []int64
}

func (r *intelRecorder) Interactions(ctx context.Context, q affinity.InteractionQuery) iter.Seq2[affinity.Page[affinity.Interaction], error] {
	inner := r.API.Interactions(ctx, q)
	return func(yield func(affinity.Page[affinity.Interaction], error) bool) {
		for p, err := range inner {
			r.mu.Lock()
			r.interactions = append(r.interactions, q)
			r.mu.Unlock()
			if !yield(p, err) {
				return
			}
			q.PageToken = p.NextToken
		}
	}
}

func (r *intelRecorder) RelationshipStrengths(ctx context.Context, externalID int64) ([]affinity.RelationshipStrength, error) {
	r.mu.Lock()
	r.strengths = append(r.strengths, externalID)
	r.mu.Unlock()
	return r.API.RelationshipStrengths(ctx, externalID)
}

// pairKey is one entity and interaction type.
type pairKey struct {
	entity loader.EntityKind
	id     int64
	typ    int
}

func (r *intelRecorder) pairs() map[pairKey]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[pairKey]int{}
	for _, q := range r.interactions {
		switch {
		case q.PersonID != nil:
			out[pairKey{loader.EntityPerson, *q.PersonID, q.Type}]++
		case q.OrganizationID != nil:
			out[pairKey{loader.EntityOrganization, *q.OrganizationID, q.Type}]++
		}
	}
	return out
}

// scope is what sync.intelligence_scope: listed reads of a workspace.
type scope struct {
	persons, orgs map[int64]bool // interactions
	strengths     map[int64]bool // external persons whose strengths are read
}

func listedScope(w *affinitytest.Workspace) scope {
	s := scope{persons: map[int64]bool{}, orgs: map[int64]bool{}, strengths: map[int64]bool{}}
	external := func(id int64) bool { p := w.Person(id); return p != nil && p.Type == 0 }
	for _, e := range w.ListEntries {
		switch e.EntityType {
		case loader.EntityPerson:
			if external(e.EntityID) {
				s.persons[e.EntityID], s.strengths[e.EntityID] = true, true
			}
		case loader.EntityOrganization:
			s.orgs[e.EntityID] = true
			for _, p := range w.Organization(e.EntityID).PersonIDs {
				if external(p) {
					s.strengths[p] = true
				}
			}
		case loader.EntityOpportunity:
			for _, p := range w.Opportunity(e.EntityID).PersonIDs {
				if external(p) {
					s.strengths[p] = true
				}
			}
		}
	}
	return s
}

// ikey is an interaction's key.
type ikey struct {
	typ int
	id  int64
}

// expectedInteractions are the interactions passes from first to last store: those of entities
// in scope since first − since, up to last, meetings and calls up to 30 days ahead.
func expectedInteractions(w *affinitytest.Workspace, s scope, first, last time.Time, since time.Duration) map[ikey][]string {
	// An organization's interactions are those of its external persons.
	orgOf := map[int64][]int64{}
	for id := range s.orgs {
		for _, p := range w.Organization(id).PersonIDs {
			if w.Person(p).Type == 0 {
				orgOf[p] = append(orgOf[p], id)
			}
		}
	}
	out := map[ikey][]string{}
	for _, it := range w.Interactions {
		end := last
		if it.IsEvent() {
			end = last.Add(30 * 24 * time.Hour)
		}
		if it.Date.Before(first.Add(-since)) || !it.Date.Before(end) {
			continue
		}
		in := false
		for _, p := range it.Participants() {
			in = in || s.persons[p] || len(orgOf[p]) > 0
		}
		if in {
			out[ikey{it.Type, it.ID}] = participantsOf(it)
		}
	}
	return out
}

// participantsOf are an interaction's interaction_persons rows as "role:id", sorted.
func participantsOf(it *affinitytest.Interaction) []string {
	var out []string
	add := func(role string, ids ...int64) {
		for _, id := range ids {
			out = append(out, fmt.Sprintf("%s:%d", role, id))
		}
	}
	switch it.Type {
	case affinitytest.InteractionEmail:
		add("from", it.From)
		add("to", it.To...)
		add("cc", it.CC...)
	case affinitytest.InteractionChat:
		add("participant", it.PersonIDs...)
	default:
		add("attendee", it.PersonIDs...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (h *harness) storedInteractions(t *testing.T) map[ikey][]string {
	t.Helper()
	out := map[ikey][]string{}
	rows, err := h.pool.Query(t.Context(), `SELECT i.type, i.id, coalesce(array_agg(p.role || ':' || p.person_id) FILTER (WHERE p.person_id IS NOT NULL), '{}')
		FROM affinity.interactions i LEFT JOIN affinity.interaction_persons p ON p.type = i.type AND p.interaction_id = i.id
		GROUP BY i.type, i.id`)
	require.NoError(t, err)
	for rows.Next() {
		var k ikey
		var persons []string
		require.NoError(t, rows.Scan(&k.typ, &k.id, &persons))
		sort.Strings(persons)
		out[k] = slices.Compact(persons)
	}
	require.NoError(t, rows.Err())
	return out
}

type strengthKey struct{ external, internal int64 }

func expectedStrengths(w *affinitytest.Workspace, s scope) map[strengthKey]float64 {
	out := map[strengthKey]float64{}
	for _, st := range w.Strengths {
		if s.strengths[st.ExternalID] {
			out[strengthKey{st.ExternalID, st.InternalID}] = st.Strength
		}
	}
	return out
}

func (h *harness) storedStrengths(t *testing.T) map[strengthKey]float64 {
	t.Helper()
	out := map[strengthKey]float64{}
	rows, err := h.pool.Query(t.Context(), `SELECT external_person_id, internal_person_id, strength FROM affinity.relationship_strengths WHERE deleted_at IS NULL`)
	require.NoError(t, err)
	for rows.Next() {
		var k strengthKey
		var v float64
		require.NoError(t, rows.Scan(&k.external, &k.internal, &v))
		out[k] = v
	}
	require.NoError(t, rows.Err())
	return out
}

// liveIDs are the ids of a table's live rows.
func (h *harness) liveIDs(t *testing.T, table string) []int64 {
	t.Helper()
	rows, err := h.pool.Query(t.Context(), `SELECT id FROM affinity.`+table+` WHERE deleted_at IS NULL ORDER BY id`)
	require.NoError(t, err)
	ids := []int64{}
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

func fileIDs(w *affinitytest.Workspace, keep func(*affinitytest.EntityFile) bool) []int64 {
	ids := []int64{}
	for _, f := range w.Files {
		if keep == nil || keep(f) {
			ids = append(ids, f.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func reminderIDs(w *affinitytest.Workspace) []int64 {
	ids := []int64{}
	for _, r := range w.Reminders {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

// requireIntelligenceExact holds the four tables to the workspace.
func (h *harness) requireIntelligenceExact(t *testing.T, clk *stepClock) {
	t.Helper()
	w := h.fake.Snapshot()
	s := listedScope(w)
	require.Equal(t, fileIDs(w, nil), h.liveIDs(t, "entity_files"), "entity_files")
	require.Equal(t, reminderIDs(w), h.liveIDs(t, "reminders"), "reminders")
	require.Equal(t, expectedStrengths(w, s), h.storedStrengths(t), "relationship_strengths")
	want := expectedInteractions(w, s, clk.start.Add(time.Minute), clk.Now(), extractor.DefaultInteractionsSince)
	got := h.storedInteractions(t)
	require.Equal(t, len(want), len(got), "interactions")
	require.Equal(t, want, got, "interactions and their persons")
}

func requestsTo(h *harness, endpoint string) int { return h.fake.Requests()["GET "+endpoint] }

func TestIntelligenceFirstPassQuietPassAndMutation(t *testing.T) {
	t.Parallel()
	h, clk := intelHarness(t)
	ctx := t.Context()
	api := &intelRecorder{API: h.client}
	res := clk.runCtx(ctx, h, api)
	requireComplete(t, res)
	h.requireIntelligenceExact(t, clk)
	require.NotEmpty(t, h.storedInteractions(t))
	require.NotEmpty(t, h.storedStrengths(t))
	requireNoInternalPerson(t, h, api)

	// Each interaction once, even when reached through a person and its organization.
	var rows, distinct int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT (type, id)) FROM affinity.interactions`).Scan(&rows, &distinct))
	require.Equal(t, distinct, rows)

	// Nothing moved: no interactions, no strengths.
	h.fake.ResetCounters()
	res = clk.runCtx(ctx, h, nil)
	requireComplete(t, res)
	require.Zero(t, requestsTo(h, "/interactions"), "a quiet pass reads no interactions")
	require.Zero(t, requestsTo(h, "/relationships-strengths"), "a quiet pass reads no strengths")
	h.requireIntelligenceExact(t, clk)

	// The mutation step: new interactions, changed and dropped strengths, a file added and one
	// deleted, reminders completed and deleted.
	before := h.fake.Snapshot()
	var changes affinitytest.IntelligenceChanges
	h.fake.Mutate(func(w *affinitytest.Workspace) { changes = w.MutateIntelligence(rand.New(rand.NewPCG(5, 6)), 12) })
	after := h.fake.Snapshot()
	s := listedScope(after)
	moved := movedPairs(before, after, s)
	require.NotEmpty(t, moved, "the mutation moves interaction dates in scope")

	h.fake.ResetCounters()
	api = &intelRecorder{API: h.client}
	res = clk.runCtx(ctx, h, api)
	requireComplete(t, res)
	h.requireIntelligenceExact(t, clk)
	// Interactions are read only for pairs whose dates moved, and for every pair that has a
	// new interaction. (A pair whose dates moved with nothing new in its window — a meeting
	// that was ahead and now lies behind — costs nothing.)
	read := api.pairs()
	for p := range read {
		require.Contains(t, moved, p, "interactions read for a pair whose dates did not move")
	}
	for _, it := range changes.Interactions {
		for _, pid := range it.Participants() {
			if s.persons[pid] {
				require.Contains(t, read, pairKey{loader.EntityPerson, pid, it.Type}, "a new interaction of a listed person")
			}
			for _, oid := range after.Person(pid).OrganizationIDs {
				if s.orgs[oid] && after.Person(pid).Type == 0 {
					require.Contains(t, read, pairKey{loader.EntityOrganization, oid, it.Type}, "a new interaction of a listed organization")
				}
			}
		}
	}
	requireNoInternalPerson(t, h, api)

	// History rows for changed and gone pairs; the deleted file and reminder soft-deleted.
	for _, c := range changes.StrengthsChanged {
		if !s.strengths[c.ExternalID] {
			continue
		}
		var last *float64
		require.NoError(t, h.pool.QueryRow(ctx, `SELECT strength FROM affinity.relationship_strength_history
			WHERE external_person_id = $1 AND internal_person_id = $2 ORDER BY observed_at DESC LIMIT 1`, c.ExternalID, c.InternalID).Scan(&last))
		require.NotNil(t, last)
		require.InDelta(t, c.Strength, *last, 1e-9)
	}
	for _, c := range changes.StrengthsDropped {
		if !s.strengths[c.ExternalID] {
			continue
		}
		var last *float64
		require.NoError(t, h.pool.QueryRow(ctx, `SELECT strength FROM affinity.relationship_strength_history
			WHERE external_person_id = $1 AND internal_person_id = $2 ORDER BY observed_at DESC LIMIT 1`, c.ExternalID, c.InternalID).Scan(&last))
		require.Nil(t, last, "a gone pair's history row has a null strength")
	}
	for table, ids := range map[string][]int64{"entity_files": changes.FilesDeleted, "reminders": changes.RemindersDeleted} {
		require.NotEmpty(t, ids, table)
		for _, id := range ids {
			var deleted *time.Time
			require.NoError(t, h.pool.QueryRow(ctx, `SELECT deleted_at FROM affinity.`+table+` WHERE id = $1`, id).Scan(&deleted))
			require.NotNil(t, deleted, "%s %d soft-deleted", table, id)
		}
	}
}

// movedPairs are the entity×type pairs in scope whose interaction dates differ between two
// snapshots: e-mail, chat, and both meetings and calls when an event date moved.
func movedPairs(before, after *affinitytest.Workspace, s scope) []pairKey {
	var out []pairKey
	eq := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
	check := func(k loader.EntityKind, id int64, a, b *affinitytest.InteractionDates) {
		if a == nil {
			a = &affinitytest.InteractionDates{}
		}
		if b == nil {
			b = &affinitytest.InteractionDates{}
		}
		if !eq(a.LastEmail, b.LastEmail) {
			out = append(out, pairKey{k, id, affinitytest.InteractionEmail})
		}
		if !eq(a.LastEvent, b.LastEvent) || !eq(a.NextEvent, b.NextEvent) {
			out = append(out, pairKey{k, id, affinitytest.InteractionMeeting}, pairKey{k, id, affinitytest.InteractionCall})
		}
		if !eq(a.LastChatMessage, b.LastChatMessage) {
			out = append(out, pairKey{k, id, affinitytest.InteractionChat})
		}
	}
	for id := range s.persons {
		check(loader.EntityPerson, id, before.Person(id).Interactions, after.Person(id).Interactions)
	}
	for id := range s.orgs {
		check(loader.EntityOrganization, id, before.Organization(id).Interactions, after.Organization(id).Interactions)
	}
	slices.SortFunc(out, comparePairs)
	return out
}

func comparePairs(a, b pairKey) int {
	if a.entity != b.entity {
		return int(a.entity) - int(b.entity)
	}
	if a.id != b.id {
		if a.id < b.id {
			return -1
		}
		return 1
	}
	return a.typ - b.typ
}

// requireNoInternalPerson fails when a request named an internal person.
func requireNoInternalPerson(t *testing.T, h *harness, api *intelRecorder) {
	t.Helper()
	w := h.fake.Snapshot()
	api.mu.Lock()
	defer api.mu.Unlock()
	for _, q := range api.interactions {
		if q.PersonID != nil {
			require.Equal(t, 0, w.Person(*q.PersonID).Type, "interactions of internal person %d requested", *q.PersonID)
		}
	}
	for _, id := range api.strengths {
		require.Equal(t, 0, w.Person(id).Type, "strengths of internal person %d requested", id)
	}
}

func TestIntelligenceCapConverges(t *testing.T) {
	t.Parallel()
	cfg := intelWorkspace()
	cfg.EntriesPerList = 12 // a backlog of some passes at a cap of 10
	h, clk := intelHarnessOf(t, cfg)
	ctx := t.Context()
	h.opts.Intelligence.Cap = 10
	// The first pass of every stream; then, the rest of the warehouse being read, passes of
	// the two capped streams alone until nothing is due.
	var streams []extractor.StreamName
	passes := 0
	for ; ; passes++ {
		require.Less(t, passes, 200, "the backlog never emptied")
		h.fake.ResetCounters()
		clk.mu.Lock()
		clk.t = clk.t.Add(time.Minute)
		clk.mu.Unlock()
		res := h.syncer(nil).Run(ctx, streams)
		requireComplete(t, res)
		spent := requestsTo(h, "/interactions") + requestsTo(h, "/relationships-strengths")
		require.LessOrEqual(t, spent, 10, "pass %d", passes)
		if spent == 0 {
			break
		}
		streams = []extractor.StreamName{extractor.StreamInteractions, extractor.StreamRelationshipStrengths}
	}
	require.Greater(t, passes, 3, "the cap spread the reads over several passes")
	h.requireIntelligenceExact(t, clk)
}

func TestIntelligenceResumesAfterKill(t *testing.T) {
	t.Parallel()
	// The uninterrupted pass's interactions requests, for comparison.
	ref, refClk := intelHarness(t)
	requireComplete(t, refClk.run(t, ref, nil))
	want := requestsTo(ref, "/interactions")

	h, clk := intelHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	killer := &killAfter{API: h.client, after: want / 3, cancel: cancel}
	res := clk.runCtx(ctx, h, killer)
	require.False(t, res.Complete())
	require.NotZero(t, requestsTo(h, "/interactions"))

	res = clk.run(t, h, nil)
	requireComplete(t, res)
	h.requireIntelligenceExact(t, clk)
	// What was in flight at the kill, at most one request per worker, is asked again.
	require.LessOrEqual(t, requestsTo(h, "/interactions"), want+extractor.DefaultWorkers)
}

// killAfter cancels the run once after interactions requests have been sent.
type killAfter struct {
	extractor.API
	mu     sync.Mutex
	n      int
	after  int
	cancel context.CancelFunc
}

func (k *killAfter) Interactions(ctx context.Context, q affinity.InteractionQuery) iter.Seq2[affinity.Page[affinity.Interaction], error] {
	k.mu.Lock()
	k.n++
	if k.n > k.after {
		k.cancel()
	}
	k.mu.Unlock()
	return k.API.Interactions(ctx, q)
}

func TestEntityFilesFallBackWhenTheListingIsRefused(t *testing.T) {
	t.Parallel()
	h, clk := intelHarness(t, affinitytest.WithFilesUnfiltered(affinitytest.FilesUnfilteredRefuse))
	ctx := t.Context()
	res := clk.runCtx(ctx, h, nil)
	requireComplete(t, res)
	w := h.fake.Snapshot()
	listed := map[loader.EntityKey]bool{}
	for _, e := range w.ListEntries {
		listed[loader.EntityKey{Type: e.EntityType, ID: e.EntityID}] = true
	}
	onList := func(f *affinitytest.EntityFile) bool {
		switch {
		case f.PersonID != nil:
			return listed[loader.EntityKey{Type: loader.EntityPerson, ID: *f.PersonID}]
		case f.OrganizationID != nil:
			return listed[loader.EntityKey{Type: loader.EntityOrganization, ID: *f.OrganizationID}]
		default:
			return listed[loader.EntityKey{Type: loader.EntityOpportunity, ID: *f.OpportunityID}]
		}
	}
	require.NotEmpty(t, fileIDs(w, onList))
	require.Equal(t, fileIDs(w, onList), h.liveIDs(t, "entity_files"), "the files of the listed entities")
	require.Equal(t, len(listed)+1, requestsTo(h, "/entity-files"), "the refused listing, then one request per listed entity")
	for _, s := range res.Streams {
		if s.Stream == extractor.StreamEntityFiles {
			require.NotNil(t, s.Path)
			require.Contains(t, s.Path.Reason, "HTTP 422")
		}
	}
}

// badInteractions answers GET /interactions for one person and type with body and status
// instead of the fake's answer.
func badInteractions(h *harness, personID int64, typ int, status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path == "/interactions" && q.Get("person_id") == strconv.FormatInt(personID, 10) && q.Get("type") == strconv.Itoa(typ) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return
		}
		h.fake.ServeHTTP(w, r)
	})
}

// listedEmailPerson is a listed external person with e-mails in the last year.
func listedEmailPerson(t *testing.T, h *harness, now time.Time) int64 {
	t.Helper()
	w := h.fake.Snapshot()
	s := listedScope(w)
	for _, id := range slices.Sorted(maps.Keys(s.persons)) {
		d := w.Person(id).Interactions
		if d != nil && d.LastEmail != nil && d.LastEmail.After(now.Add(-300*24*time.Hour)) {
			return id
		}
	}
	t.Fatal("no listed person with e-mails")
	return 0
}

func TestInteractionsBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		fails  string // the stream's error; "" = the entity's request alone fails
	}{
		{name: "page without its array", status: 200, body: `{"next_page_token": null}`, fails: `"emails"`},
		{name: "participant without id", status: 200,
			body:  `{"emails": [{"id": 1, "type": 3, "date": "2026-11-02T10:00:00.000Z", "direction": 0, "from": {"type": 1}, "to": [], "cc": []}], "next_page_token": null}`,
			fails: "no id"},
		{name: "refused as invalid", status: 422, body: `{"errors": [{"code": "validation", "message": "invalid window"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, clk := intelHarness(t)
			ctx := t.Context()
			person := listedEmailPerson(t, h, clk.Now())
			proxy := httptest.NewServer(badInteractions(h, person, affinitytest.InteractionEmail, tc.status, tc.body))
			t.Cleanup(proxy.Close)
			client, err := affinity.NewClient(proxy.URL, testKey, affinity.WithPerMinute(0))
			require.NoError(t, err)
			res := clk.runCtx(ctx, h, client)
			var st extractor.StreamResult
			for _, s := range res.Streams {
				if s.Stream == extractor.StreamInteractions {
					st = s
				} else {
					require.NoError(t, s.Err, "stream %s", s.Stream)
				}
			}
			var marks int
			require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM affinity.sync_interaction_fetches
				WHERE entity_type = 0 AND entity_id = $1 AND interaction_type = 3`, person).Scan(&marks))
			require.Zero(t, marks, "the watermark of the bad read does not move")
			if tc.fails != "" {
				require.Error(t, st.Err)
				require.Contains(t, st.Err.Error(), "/interactions")
				require.Contains(t, st.Err.Error(), fmt.Sprintf("person_id=%d", person))
				require.Contains(t, st.Err.Error(), tc.fails)
				require.NotContains(t, st.Err.Error(), testKey)
				return
			}
			require.NoError(t, st.Err)
			require.True(t, st.Complete)
			var refused int64
			for _, p := range st.Phases {
				refused += p.Refused
			}
			require.Equal(t, int64(1), refused, "the refused request is counted")
			var stored int
			require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM affinity.sync_interaction_fetches WHERE fetched_at IS NOT NULL`).Scan(&stored))
			require.NotZero(t, stored, "the other entities were read")
		})
	}
}

// TestScheduledMeetingComesIntoView: a meeting scheduled beyond the 30 days a read looks ahead
// is not read, nor counted as read: once it lies within them, the next pass reads it.
func TestScheduledMeetingComesIntoView(t *testing.T) {
	t.Parallel()
	h, clk := intelHarness(t)
	ctx := t.Context()
	w := h.fake.Snapshot()
	person := listedEmailPerson(t, h, clk.Now())
	var meeting *affinitytest.Interaction
	h.fake.Mutate(func(ws *affinitytest.Workspace) {
		at := clk.Now().Add(45 * 24 * time.Hour).Truncate(time.Millisecond)
		end := at.Add(time.Hour)
		meeting = ws.AddInteraction(affinitytest.Interaction{Type: affinitytest.InteractionMeeting, Date: at, StartTime: &at, EndTime: &end,
			PersonIDs: []int64{w.User.ID, person}})
	})
	stored := func() bool {
		var n int
		require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM affinity.interactions WHERE type = 0 AND id = $1`, meeting.ID).Scan(&n))
		return n == 1
	}
	requireComplete(t, clk.runCtx(ctx, h, nil))
	require.False(t, stored(), "45 days ahead: beyond the read's horizon")
	h.fake.ResetCounters()
	requireComplete(t, clk.runCtx(ctx, h, nil))
	require.False(t, stored())
	require.Zero(t, requestsTo(h, "/interactions"), "while it lies beyond the horizon, asking again costs nothing")

	clk.mu.Lock()
	clk.t = clk.t.Add(20 * 24 * time.Hour)
	clk.mu.Unlock()
	requireComplete(t, clk.runCtx(ctx, h, nil))
	require.True(t, stored(), "25 days ahead: read")
}
