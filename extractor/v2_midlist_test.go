package extractor_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
)

// Faults in the middle of a v2 listing, injected by a middleware in front of the fake: a
// cursor the API refuses, a refusal (403) of a page after the first, and a disagreement on
// the fields of one list only.

// v2Front is a middleware in front of the fake that records every v2 list-entries request
// and lets a test rewrite the answer of chosen ones.
type v2Front struct {
	mw    *middleware
	mu    sync.Mutex
	calls []v2Call
}

// newV2Front puts a v2Front in front of h's fake and returns a client through it; edit
// rewrites the answer to the n-th (from 1) v2 list-entries request that carries a cursor (n
// is 0 for one without) and returns ok when it changed it.
func newV2Front(t *testing.T, h *harness, edit func(r *http.Request, n int, status int, body []byte) (int, []byte, bool)) (*v2Front, *affinity.Client) {
	t.Helper()
	f := &v2Front{mw: &middleware{next: h.fake}}
	cursors := 0
	f.mw.set(func(r *http.Request, status int, body []byte) (int, []byte, bool) {
		if !strings.HasPrefix(r.URL.Path, "/v2/lists/") {
			return status, body, false
		}
		f.mu.Lock()
		c := v2Call{path: r.URL.Path, cursor: r.URL.Query().Get("cursor")}
		f.calls = append(f.calls, c)
		n := 0
		if c.cursor != "" {
			cursors++
			n = cursors
		}
		f.mu.Unlock()
		return edit(r, n, status, body)
	})
	srv := httptest.NewServer(f.mw)
	t.Cleanup(srv.Close)
	client, err := affinity.NewClient(srv.URL, testKey, affinity.WithPerMinute(0))
	require.NoError(t, err)
	return f, client
}

func (f *v2Front) requests() []v2Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// v2ErrorBody is a v2 error answer.
func v2ErrorBody(code, message string) []byte {
	return []byte(fmt.Sprintf(`{"errors":[{"code":%q,"message":%q}]}`, code, message))
}

// entryIDsOf reads the list entry ids of a v2 list-entries page.
func entryIDsOf(t *testing.T, body []byte) []int64 {
	t.Helper()
	var page struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &page))
	ids := make([]int64, len(page.Data))
	for i, e := range page.Data {
		ids[i] = e.ID
	}
	return ids
}

// TestV2CursorRefusedMidListRestartsPhase: the API refuses (400) the cursor of a list's third
// v2 page in the middle of a pass. The list's v2 phase restarts from its first page in the
// same run, with one warning; the run completes (exit 0) and the warehouse is that of a v1
// sync, at the cost of the refused request and the list's pages read again.
func TestV2CursorRefusedMidListRestartsPhase(t *testing.T) {
	t.Parallel()
	cfg := v2ResumeWorkspace()
	cfg.Seed = 43
	v1, ref, h := newHarness(t, cfg), newHarness(t, cfg), newHarness(t, cfg)
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))
	ref.opts.APIV2 = extractor.V2Auto
	requireComplete(t, ref.syncer(nil).Run(t.Context(), nil))

	var refused v2Call
	front, client := newV2Front(t, h, func(r *http.Request, n int, status int, body []byte) (int, []byte, bool) {
		if n != 2 { // the second page with a cursor: the first list's third page
			return status, body, false
		}
		refused = v2Call{path: r.URL.Path, cursor: r.URL.Query().Get("cursor")}
		return http.StatusBadRequest, v2ErrorBody("validation", "invalid cursor"), true
	})
	logs := newLogRecorder()
	h.opts.APIV2 = extractor.V2Auto
	h.opts.Logger = slog.New(logs)
	res := h.syncer(client).Run(t.Context(), nil)
	requireComplete(t, res)

	fv := streamResult(t, res, extractor.StreamFieldValues)
	require.Equal(t, "v1+v2", fv.Path.Path, fv.Path.Reason)
	require.False(t, fv.Path.Fallback)
	warns := logs.warnings(extractor.StreamFieldValues)
	require.Len(t, warns, 1, "one warning: %+v", warns)
	require.Contains(t, warns[0].msg, "page token refused: the phase restarts from its first page")
	list := "v2:" + listIDOf(t, refused.path)
	i := slices.IndexFunc(fv.Phases, func(p extractor.PhaseResult) bool { return p.Phase.String() == list })
	require.GreaterOrEqual(t, i, 0)
	require.True(t, fv.Phases[i].Restarted)
	require.True(t, fv.Phases[i].Complete)
	require.True(t, fv.Phases[i].ReadWhole)

	calls := front.requests()
	at := slices.Index(calls, refused)
	require.Greater(t, len(calls), at+1)
	require.Equal(t, v2Call{path: refused.path}, calls[at+1], "the list's v2 phase restarts from its first page")
	// The waste: the refused request and the list's two pages read again.
	want := ref.fake.Requests()
	want[listEntriesV2] += 1 + 2
	require.Equal(t, want, h.fake.Requests())
	requireSameWarehouse(t, v1, h)
}

// refuseThirdPage answers 403 to the third v2 page of the first list (the second request that
// carries a cursor) and keeps the entry ids the fake would have answered.
type refuseThirdPage struct {
	mu      sync.Mutex
	refused v2Call
	entries []int64
}

func (rf *refuseThirdPage) edit(t *testing.T) func(r *http.Request, n int, status int, body []byte) (int, []byte, bool) {
	return func(r *http.Request, n int, status int, body []byte) (int, []byte, bool) {
		if n != 2 {
			return status, body, false
		}
		rf.mu.Lock()
		defer rf.mu.Unlock()
		rf.refused = v2Call{path: r.URL.Path, cursor: r.URL.Query().Get("cursor")}
		rf.entries = entryIDsOf(t, body)
		return http.StatusForbidden, v2ErrorBody("authorization", "export permission required"), true
	}
}

// TestV2RefusalMidListingFallsBackUnderAuto: under auto, a 403 on the third v2 page (a page
// after the probe's) falls back to v1 for the rest of the field_values pass: the remaining v2
// phases are skipped, the pages before the refused one stay committed, the v1 phase reads
// what is still due and every entity on the lists v2 did not read whole, one warning names
// the status, the path says so, and the warehouse ends as a v1 sync's.
func TestV2RefusalMidListingFallsBackUnderAuto(t *testing.T) {
	t.Parallel()
	cfg := v2ResumeWorkspace()
	cfg.Seed = 44
	v1, h := newHarness(t, cfg), newHarness(t, cfg)
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))

	var rf refuseThirdPage
	front, client := newV2Front(t, h, rf.edit(t))
	logs := newLogRecorder()
	h.opts.APIV2 = extractor.V2Auto
	h.opts.Logger = slog.New(logs)
	res := h.syncer(client).Run(t.Context(), nil)
	requireComplete(t, res)

	fv := streamResult(t, res, extractor.StreamFieldValues)
	require.NotNil(t, fv.Path)
	require.True(t, fv.Path.Fallback, fv.Path.Reason)
	require.Contains(t, fv.Path.Reason, "API v2 refused: HTTP 403 authorization on /v2/lists/{id}/list-entries")
	require.Contains(t, fv.Path.Reason, "fell back to v1 for the rest of this pass")
	warns := logs.warnings(extractor.StreamFieldValues)
	require.Len(t, warns, 1, "one warning: %+v", warns)
	require.Equal(t, "reading through API v1 for this pass", warns[0].msg)
	require.Contains(t, warns[0].attrs["cause"], "HTTP 403")

	calls := front.requests()
	require.Equal(t, rf.refused, calls[len(calls)-1], "no v2 list page is asked for after the refusal")
	var kinds []extractor.PhaseKind
	for _, p := range fv.Phases {
		kinds = append(kinds, p.Phase.Kind)
	}
	require.Equal(t, []extractor.PhaseKind{extractor.PhaseV2List, extractor.PhaseMain}, kinds,
		"the refused list's phase, then v1: the other lists' v2 phases are skipped")
	require.False(t, fv.Phases[0].Complete)
	require.Equal(t, int64(2), fv.Phases[0].Pages, "the two pages before the refused one were stored")
	require.Positive(t, fv.Phases[1].EntityRequests, "v1 reads what is still due")

	cp, err := h.store.LoadCheckpoint(t.Context(), string(extractor.StreamFieldValues))
	require.NoError(t, err)
	require.True(t, cp.PassStartedAt.IsZero(), "the pass completed")
	requireSameWarehouse(t, v1, h)
}

// TestV2RefusalMidListingFailsUnderOn: under on, the same 403 fails the stream, naming the
// cause, with nothing of the refused page written; the other streams complete.
func TestV2RefusalMidListingFailsUnderOn(t *testing.T) {
	t.Parallel()
	cfg := v2ResumeWorkspace()
	cfg.Seed = 45
	h := newHarness(t, cfg)
	var rf refuseThirdPage
	_, client := newV2Front(t, h, rf.edit(t))
	h.opts.APIV2 = extractor.V2On
	res := h.syncer(client).Run(t.Context(), nil)
	require.False(t, res.Complete())

	fv := streamResult(t, res, extractor.StreamFieldValues)
	require.False(t, fv.Complete)
	require.ErrorContains(t, fv.Err, "api_v2 is on: API v2 refused: HTTP 403 authorization on /v2/lists/{id}/list-entries")
	require.NotNil(t, fv.Path)
	require.False(t, fv.Path.Fallback, "on never falls back")
	for _, s := range res.Streams {
		if s.Stream != extractor.StreamFieldValues {
			require.NoError(t, s.Err, s.Stream)
		}
	}
	require.NotEmpty(t, rf.entries)
	ids := make([]string, len(rf.entries))
	for i, id := range rf.entries {
		ids[i] = strconv.FormatInt(id, 10)
	}
	require.Zero(t, h.countRows(t, "field_values", "id IS NULL AND list_entry_id IN ("+strings.Join(ids, ",")+")"),
		"nothing of the refused page was written")
	require.Positive(t, h.countRows(t, "field_values", "id IS NULL"), "the pages before it were")
	cp, err := h.store.LoadCheckpoint(t.Context(), string(extractor.StreamFieldValues))
	require.NoError(t, err)
	require.Equal(t, "v2:"+listIDOf(t, rf.refused.path), cp.Phase)
	require.Equal(t, rf.refused.cursor, cp.PageToken, "the checkpoint stands before the refused page")
}

// alterListFields makes the first v2 page of one list disagree with v1 on that list's text
// fields: every such value gets a suffix, and every empty one a value v1 does not have.
func alterListFields(t *testing.T, listID int64, fields []int64) func(r *http.Request, n int, status int, body []byte) (int, []byte, bool) {
	ids := map[string]bool{}
	for _, f := range fields {
		ids[fmt.Sprintf("field-%d", f)] = true
	}
	return func(r *http.Request, n int, status int, body []byte) (int, []byte, bool) {
		if n != 0 || r.URL.Path != fmt.Sprintf("/v2/lists/%d/list-entries", listID) || status != http.StatusOK {
			return status, body, false
		}
		var page map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&page))
		for _, e := range page["data"].([]any) {
			entity := e.(map[string]any)["entity"].(map[string]any)
			for _, f := range entity["fields"].([]any) {
				field := f.(map[string]any)
				if !ids[field["id"].(string)] {
					continue
				}
				value := field["value"].(map[string]any)
				if s, ok := value["data"].(string); ok {
					value["data"] = s + " (altered)"
				} else if value["data"] == nil {
					value["data"] = "v2 only"
				}
			}
		}
		out, err := json.Marshal(page)
		require.NoError(t, err)
		return status, out, true
	}
}

// TestV2ProbeSeesSecondList: v2 disagrees with v1 on the text fields of the second list only.
// The probe reads one entry of each list's first page, so it sees the difference: under auto
// field_values falls back to v1 and ends exact; under on it fails naming the difference.
func TestV2ProbeSeesSecondList(t *testing.T) {
	t.Parallel()
	cfg := v2ResumeWorkspace()
	cfg.Seed = 46
	v1 := newHarness(t, cfg)
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))
	ws := v1.fake.Snapshot()
	lists := slices.Clone(ws.Lists)
	slices.SortFunc(lists, func(a, b *affinitytest.List) int { return int(a.ID - b.ID) })
	second := lists[1].ID
	var fields []int64
	for _, f := range ws.Fields {
		if f.ListID != nil && *f.ListID == second && f.ValueType == affinitytest.ValueText && !f.AllowsMultiple {
			fields = append(fields, f.ID)
		}
	}
	require.NotEmpty(t, fields, "the second list has a text field")
	fieldOf := regexp.MustCompile(`API v2 disagrees with v1: entity \d+ field (\d+): v2 has `)

	for _, mode := range []extractor.V2Mode{extractor.V2Auto, extractor.V2On} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg)
			_, client := newV2Front(t, h, alterListFields(t, second, fields))
			h.opts.APIV2 = mode
			res := h.syncer(client).Run(t.Context(), nil)
			fv := streamResult(t, res, extractor.StreamFieldValues)
			require.NotNil(t, fv.Path)
			m := fieldOf.FindStringSubmatch(fv.Path.Reason)
			require.NotNil(t, m, fv.Path.Reason)
			id, err := strconv.ParseInt(m[1], 10, 64)
			require.NoError(t, err)
			require.Contains(t, fields, id, "the difference is on a field of the second list")
			require.Equal(t, 1, fv.Path.ProbeDifferences)
			require.Zero(t, h.countRows(t, "field_values", "id IS NULL"), "no value was stored from v2")
			if mode == extractor.V2On {
				require.ErrorContains(t, fv.Err, "api_v2 is on: API v2 disagrees with v1: ")
				require.Zero(t, h.countRows(t, "field_values", "true"), "the failed stream wrote nothing")
				return
			}
			requireComplete(t, res)
			require.True(t, fv.Path.Fallback)
			require.Equal(t, "v1", fv.Path.Path)
			requireSameWarehouse(t, v1, h)
		})
	}
}

// TestV2ProbeSpreadsOverLists: the probe compares one entry of each of the first 5 v2 lists,
// and each list's phase counts the probe's page and request it committed: no first page is
// read twice. With one list synced (sync.lists), the probe still compares 5 of its entries.
func TestV2ProbeSpreadsOverLists(t *testing.T) {
	t.Parallel()
	cfg := v2ResumeWorkspace()
	cfg.Seed = 47
	for _, one := range []bool{false, true} {
		t.Run(fmt.Sprintf("one list %v", one), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg)
			h.opts.APIV2 = extractor.V2Auto
			lists := slices.Clone(h.fake.Snapshot().Lists)
			if one {
				h.opts.Lists = []string{strconv.FormatInt(lists[0].ID, 10)}
				lists = lists[:1]
			}
			res := h.syncer(nil).Run(t.Context(), nil)
			requireComplete(t, res)
			fv := streamResult(t, res, extractor.StreamFieldValues)
			var v2 []extractor.PhaseResult
			for _, p := range fv.Phases {
				if p.Phase.Kind == extractor.PhaseV2List {
					v2 = append(v2, p)
				}
			}
			require.Len(t, v2, len(lists))
			ws := h.fake.Snapshot()
			var probed, pages int64
			for _, p := range v2 {
				require.True(t, p.Complete, "%v", p.Phase)
				require.True(t, p.ReadWhole, "%v", p.Phase)
				want := loader.V2PagesOf(int64(ws.ListSize(p.Phase.ID)))
				require.Equal(t, want, p.V2Pages, "%v: its pages, the probe's first page among them", p.Phase)
				pages += want
				if !one {
					require.Equal(t, int64(1), p.ProbeRequests, "%v: one entry of each list", p.Phase)
				}
				probed += p.ProbeRequests
			}
			if one {
				// 5 entries of the one list; an entity on two of them is read through v1 once.
				require.Greater(t, probed, int64(1))
				require.LessOrEqual(t, probed, int64(5))
			} else {
				require.Equal(t, int64(5), probed)
			}
			require.Equal(t, probed, fv.Rule.ValuesProbe)
			require.Equal(t, int(pages), h.fake.Requests()[listEntriesV2], "no v2 page read twice")
			var v2pages int64
			var whole []int64
			for _, p := range fv.Phases {
				v2pages += p.V2Pages
				if p.Phase.Kind == extractor.PhaseV2List && p.ReadWhole {
					whole = append(whole, p.Phase.ID)
				}
			}
			require.Equal(t, pages, v2pages)
			require.Len(t, whole, len(lists))
		})
	}
}

// TestV2LinksRefusalMidListingFallsBackUnderAuto: the same for organization_details: a 403 on
// the second companies page falls back to v1 for the rest of the pass, which reads the
// organizations still due, and the links end as a v1 sync's.
func TestV2LinksRefusalMidListingFallsBackUnderAuto(t *testing.T) {
	t.Parallel()
	cfg := v2ResumeWorkspace()
	cfg.Seed = 48
	v1, h := newHarness(t, cfg), newHarness(t, cfg)
	requireComplete(t, v1.syncer(nil).Run(t.Context(), nil))

	mw := &middleware{next: h.fake}
	var mu sync.Mutex
	refused := 0
	mw.set(func(r *http.Request, status int, body []byte) (int, []byte, bool) {
		if r.URL.Path != "/v2/companies" || r.URL.Query().Get("cursor") == "" {
			return status, body, false
		}
		mu.Lock()
		defer mu.Unlock()
		refused++
		return http.StatusForbidden, v2ErrorBody("authorization", "export permission required"), true
	})
	srv := httptest.NewServer(mw)
	t.Cleanup(srv.Close)
	client, err := affinity.NewClient(srv.URL, testKey, affinity.WithPerMinute(0))
	require.NoError(t, err)
	logs := newLogRecorder()
	h.opts.APIV2 = extractor.V2Auto
	h.opts.Logger = slog.New(logs)
	res := h.syncer(client).Run(t.Context(), nil)
	requireComplete(t, res)

	od := streamResult(t, res, extractor.StreamOrganizationDetails)
	require.True(t, od.Path.Fallback, od.Path.Reason)
	require.Contains(t, od.Path.Reason, "API v2 refused: HTTP 403 authorization on /v2/companies")
	require.Len(t, logs.warnings(extractor.StreamOrganizationDetails), 1)
	require.Equal(t, 1, refused, "no companies page is asked for after the refusal")
	require.Len(t, od.Phases, 2)
	require.Equal(t, extractor.PhaseV2Companies, od.Phases[0].Phase.Kind)
	require.Equal(t, int64(1), od.Phases[0].Pages, "the probe's page was stored")
	require.Positive(t, od.Phases[1].EntityRequests)
	requireSameWarehouse(t, v1, h)
}
