package extractor_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// v2Call is one request for a v2 list-entries page as the fake's front saw it.
type v2Call struct {
	path, cursor string
	run          int
}

// killSwitch stands in front of the fake. Armed, it holds the request for the v2 list-entries
// page after the first `after` ones that carry a cursor forever (it never reaches the fake)
// and cancels the run: a kill while a v2 page after a list's first is in flight. It records
// every v2 list-entries request.
type killSwitch struct {
	fake   http.Handler
	after  int
	cancel context.CancelFunc

	mu    sync.Mutex
	run   int
	seen  int
	held  *v2Call
	calls []v2Call
}

func (k *killSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v2/lists/") {
		k.mu.Lock()
		c := v2Call{path: r.URL.Path, cursor: r.URL.Query().Get("cursor"), run: k.run}
		if c.cursor != "" {
			k.seen++
		}
		hold := k.cancel != nil && c.cursor != "" && k.seen == k.after+1
		if hold {
			k.held = &c
			k.cancel()
			k.cancel = nil
		} else {
			k.calls = append(k.calls, c)
		}
		k.mu.Unlock()
		if hold {
			<-r.Context().Done() // the answer never comes: the client gives up when the run is cancelled
			return
		}
	}
	k.fake.ServeHTTP(w, r)
}

// nextRun numbers the requests that follow as those of another run.
func (k *killSwitch) nextRun() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.run++
}

// callsOf returns the recorded requests of run.
func (k *killSwitch) callsOf(run int) []v2Call {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []v2Call
	for _, c := range k.calls {
		if c.run == run {
			out = append(out, c)
		}
	}
	return out
}

// listEntriesV2 is the fake's counter of v2 list-entries pages.
const listEntriesV2 = "GET /v2/lists/{id}/list-entries"

// v2ResumeWorkspace has lists of three v2 pages each.
func v2ResumeWorkspace() affinitytest.Config {
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 41
	cfg.Persons, cfg.Organizations = 700, 400
	cfg.EntriesPerList = 250
	return cfg
}

// killMidV2 runs an auto sync of h through a killSwitch that kills it while the third v2
// page of the first list is in flight: the probe's first page of it and its second page are
// committed. The probe read the first page of every other list too; a page is committed only
// by its own list's phase, so those are lost with the kill.
// It returns the switch (serving the later runs too), a client through it, and when the
// killed run started.
func killMidV2(t *testing.T, h *harness) (*killSwitch, *affinity.Client, time.Time) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	ks := &killSwitch{fake: h.fake, after: 1, cancel: cancel}
	front := httptest.NewServer(ks)
	t.Cleanup(front.Close)
	client, err := affinity.NewClient(front.URL, testKey, affinity.WithPerMinute(0))
	require.NoError(t, err)

	h.opts.APIV2 = extractor.V2Auto
	started := time.Now()
	res := h.syncer(client).Run(ctx, nil)
	require.False(t, res.Complete())
	fv := streamResult(t, res, extractor.StreamFieldValues)
	require.ErrorIs(t, fv.Err, context.Canceled)
	require.NotNil(t, ks.held, "the run was killed inside a v2 phase")
	require.NotEmpty(t, ks.held.cursor, "the held page is not the first of its list")

	cp, err := h.store.LoadCheckpoint(t.Context(), string(extractor.StreamFieldValues))
	require.NoError(t, err)
	require.Equal(t, "v2:"+listIDOf(t, ks.held.path), cp.Phase, "the pass stopped in that list's v2 phase")
	require.Equal(t, int64(2), cp.Pages, "the probe's page and the next one are committed")
	require.Equal(t, ks.held.cursor, cp.PageToken, "the checkpoint holds the cursor of the page in flight")
	ks.nextRun()
	return ks, client, started
}

// listIDOf reads {id} of /v2/lists/{id}/list-entries.
func listIDOf(t *testing.T, path string) string {
	t.Helper()
	id, ok := strings.CutPrefix(path, "/v2/lists/")
	require.True(t, ok, path)
	id, ok = strings.CutSuffix(id, "/list-entries")
	require.True(t, ok, path)
	return id
}

// lostProbePages counts the pages the killed run (0) and the resumed run (1) both fetched, and
// requires each to be a first page the probe read of a list other than the interrupted one.
func lostProbePages(t *testing.T, ks *killSwitch, held v2Call) int {
	t.Helper()
	lost := 0
	for _, c := range ks.callsOf(0) {
		for _, d := range ks.callsOf(1) {
			if c.path == d.path && c.cursor == d.cursor {
				require.Empty(t, c.cursor, "page %s %q was fetched in both runs", c.path, c.cursor)
				require.NotEqual(t, held.path, c.path, "the interrupted list is not read again from its start")
				lost++
			}
		}
	}
	return lost
}

// TestV2KillMidPassResumesExactly kills an auto sync while a v2 list-entries page is in
// flight, then runs it again (continuing the killed run, as the daemon does): the resumed pass
// starts at the checkpointed cursor without probing again, fetches no committed page twice,
// sends exactly the requests of an uninterrupted auto sync plus the one lost in flight, and
// ends with the warehouse of a v1 sync.
func TestV2KillMidPassResumesExactly(t *testing.T) {
	t.Parallel()
	cfg := v2ResumeWorkspace()
	v1, ref, h := newHarness(t, cfg), newHarness(t, cfg), newHarness(t, cfg)
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))
	ref.opts.APIV2 = extractor.V2Auto
	requireComplete(t, ref.syncer(nil).Run(t.Context(), nil))

	ks, client, started := killMidV2(t, h)
	held := *ks.held
	h.opts.ResumeSince = &started
	res := h.syncer(client).Run(t.Context(), nil)
	requireComplete(t, res)
	fv := streamResult(t, res, extractor.StreamFieldValues)
	require.Equal(t, "v1+v2", fv.Path.Path, fv.Path.Reason)

	resumed := ks.callsOf(1)
	require.NotEmpty(t, resumed)
	require.Equal(t, held, v2Call{path: resumed[0].path, cursor: resumed[0].cursor}, "the resumed pass starts at the checkpointed cursor")
	for _, c := range resumed {
		if c.path == held.path {
			require.NotEmpty(t, c.cursor, "no page of the interrupted list is read again from its start (no new probe)")
		}
	}
	// No page is fetched in both runs, except the first pages the probe read of the lists
	// after the interrupted one: they were lost with the kill.
	lost := lostProbePages(t, ks, held)
	require.Equal(t, len(h.fake.Snapshot().Lists)-1, lost)
	// Every endpoint received exactly what an uninterrupted pass sends, but for those: the
	// only other request wasted by the kill is the one held in flight, which never reached
	// the fake.
	want := ref.fake.Requests()
	want[listEntriesV2] += lost
	require.Equal(t, want, h.fake.Requests())
	require.Equal(t, ref.fake.TotalRequests()+lost, h.fake.TotalRequests())
	requireSameWarehouse(t, v1, h)
}

// TestV2RefusedCursorRestartsListPhase: a checkpointed v2 cursor that the API refuses (400)
// on resume restarts that list's v2 phase from its first page in the same run, with one
// warning and without a new probe; the run completes and the pass ends exact.
func TestV2RefusedCursorRestartsListPhase(t *testing.T) {
	t.Parallel()
	cfg := v2ResumeWorkspace()
	cfg.Seed = 42
	v1, ref, h := newHarness(t, cfg), newHarness(t, cfg), newHarness(t, cfg)
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))
	ref.opts.APIV2 = extractor.V2Auto
	requireComplete(t, ref.syncer(nil).Run(t.Context(), nil))

	ks, client, started := killMidV2(t, h)
	held := *ks.held
	const garbage = "bm90LWEtY3Vyc29y" // base64 of "not-a-cursor"
	_, err := h.pool.Exec(t.Context(), "UPDATE "+h.schema+".sync_checkpoints SET page_token = $1 WHERE stream = $2", garbage, extractor.StreamFieldValues)
	require.NoError(t, err)

	logs := newLogRecorder()
	h.opts.Logger = slog.New(logs)
	h.opts.ResumeSince = &started
	res := h.syncer(client).Run(t.Context(), nil)
	requireComplete(t, res)
	fv := streamResult(t, res, extractor.StreamFieldValues)
	require.Equal(t, "v1+v2", fv.Path.Path, fv.Path.Reason)
	require.False(t, fv.Path.Fallback)
	warns := logs.warnings(extractor.StreamFieldValues)
	require.Len(t, warns, 1, "one warning: %+v", warns)
	require.Contains(t, warns[0].msg, "page token refused: the phase restarts from its first page")
	require.Contains(t, warns[0].attrs["phase"], "v2:"+listIDOf(t, held.path))
	require.True(t, fv.Phases[0].Restarted, "%+v", fv.Phases[0])
	require.Equal(t, "v2:"+listIDOf(t, held.path), fv.Phases[0].Phase.String())

	resumed := ks.callsOf(1)
	require.GreaterOrEqual(t, len(resumed), 2)
	require.Equal(t, v2Call{path: held.path, cursor: garbage, run: 1}, resumed[0], "the stored cursor was the first v2 request")
	require.Equal(t, v2Call{path: held.path, run: 1}, resumed[1], "the list's v2 phase restarts from its first page")
	// The restarted phase reads the list's pages again; the v1 reads of field values are
	// those of an uninterrupted pass (the probe ran once).
	require.Equal(t, ref.fake.Requests()["GET /field-values"], h.fake.Requests()["GET /field-values"])
	// The waste: the list's two pages committed before the kill, read again, the one request
	// with the refused cursor, and the first pages the probe read of the other lists, lost
	// with the kill (the page held in flight never reached the fake). Every other endpoint
	// received what an uninterrupted pass sends.
	want := ref.fake.Requests()
	want[listEntriesV2] += 2 + 1 + len(h.fake.Snapshot().Lists) - 1
	require.Equal(t, want, h.fake.Requests())
	requireSameWarehouse(t, v1, h)
}
