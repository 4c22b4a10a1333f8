package extractor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// loggedRecord is one record a logRecorder kept, with the attributes of its logger's With.
type loggedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu    *sync.Mutex
	recs  *[]loggedRecord
	attrs []slog.Attr
}

func newLogRecorder() logRecorder {
	return logRecorder{mu: &sync.Mutex{}, recs: &[]loggedRecord{}}
}

func (l logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := loggedRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range l.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.recs = append(*l.recs, rec)
	return nil
}

func (l logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := l
	c.attrs = append(slices.Clone(l.attrs), as...)
	return c
}

func (l logRecorder) WithGroup(string) slog.Handler { return l }

// warnings returns the records of level warning or above about stream.
func (l logRecorder) warnings(stream extractor.StreamName) []loggedRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedRecord
	for _, r := range *l.recs {
		if r.level >= slog.LevelWarn && r.attrs["stream"] == string(stream) {
			out = append(out, r)
		}
	}
	return out
}

func streamResult(t *testing.T, res extractor.Result, stream extractor.StreamName) extractor.StreamResult {
	t.Helper()
	i := slices.IndexFunc(res.Streams, func(s extractor.StreamResult) bool { return s.Stream == stream })
	require.GreaterOrEqual(t, i, 0, "stream %s ran", stream)
	return res.Streams[i]
}

// countRows counts the rows of a warehouse table that match where.
func (h *harness) countRows(t *testing.T, table, where string) int {
	t.Helper()
	var n int
	require.NoError(t, h.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+h.schema+"."+table+" WHERE "+where).Scan(&n))
	return n
}

// v2Fault is one way API v2 can fail the probe, and what the fallback must say about it.
type v2Fault struct {
	name string
	opt  affinitytest.Option
	// causes returns, for the workspace served, the texts the field_values fallback reason must hold.
	causes func(t *testing.T, ws *affinitytest.Workspace) []string
	// links is set when organization_details falls back too (a refusal; a disagreeing value
	// is a field value, and links agree).
	links bool
}

func v2Faults() []v2Fault {
	return []v2Fault{
		{name: "403", opt: affinitytest.WithV2Mode(affinitytest.V2Forbidden), links: true,
			causes: func(*testing.T, *affinitytest.Workspace) []string {
				return []string{"API v2 refused: HTTP 403 authorization on /v2/lists/{id}/list-entries"}
			}},
		{name: "404", opt: affinitytest.WithV2Mode(affinitytest.V2NotFound), links: true,
			causes: func(*testing.T, *affinitytest.Workspace) []string {
				return []string{"API v2 refused: HTTP 404 not-found on /v2/lists/{id}/list-entries"}
			}},
		{name: "disagree", opt: affinitytest.WithV2Disagree(),
			causes: func(t *testing.T, ws *affinitytest.Workspace) []string {
				v := ws.V2DisagreeValue()
				require.NotNil(t, v)
				return []string{
					"API v2 disagrees with v1: ",
					fmt.Sprintf("entity %d field %d: v2 has ", v.EntityID, v.FieldID),
					affinitytest.V2DisagreeSuffix,
					"v1 has " + string(v.Value),
				}
			}},
	}
}

// TestV2FallbackUnderAutoIsExact: when the fake refuses v2 (403, 404) or disagrees with v1 on
// one value, a sync under api_v2 auto falls back to v1 for the stream that met it, says why
// in its path, logs one warning naming the cause, and ends with the warehouse of a v1-only
// sync of the same workspace.
func TestV2FallbackUnderAutoIsExact(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	// A workspace where the value the fake alters is on the first entry with values of the
	// first list, which the probe reads (it reads the first such entry of each list).
	cfg.Seed = 34
	ref := newHarness(t, cfg)
	requireComplete(t, ref.syncer(nil).Run(t.Context(), nil))

	for _, fault := range v2Faults() {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg, fault.opt)
			logs := newLogRecorder()
			h.opts.APIV2 = extractor.V2Auto
			h.opts.Logger = slog.New(logs)
			res := h.syncer(nil).Run(t.Context(), nil)
			requireComplete(t, res)

			fv := streamResult(t, res, extractor.StreamFieldValues)
			require.NotNil(t, fv.Path)
			require.True(t, fv.Path.Fallback, fv.Path.Reason)
			require.Equal(t, "v1", fv.Path.Path)
			for _, c := range fault.causes(t, h.fake.Snapshot()) {
				require.Contains(t, fv.Path.Reason, c)
			}
			warns := logs.warnings(extractor.StreamFieldValues)
			require.Len(t, warns, 1, "one warning for the field_values fallback: %+v", warns)
			require.Contains(t, fv.Path.Reason, warns[0].attrs["cause"], "the warning names the cause")
			require.NotEmpty(t, warns[0].attrs["cause"])

			od := streamResult(t, res, extractor.StreamOrganizationDetails)
			require.NotNil(t, od.Path)
			if fault.links {
				require.True(t, od.Path.Fallback, od.Path.Reason)
				require.Equal(t, "v1", od.Path.Path)
				require.Contains(t, od.Path.Reason, "API v2 refused: HTTP "+fault.name)
				require.Contains(t, od.Path.Reason, "/v2/companies")
				warns := logs.warnings(extractor.StreamOrganizationDetails)
				require.Len(t, warns, 1, "one warning for the organization_details fallback: %+v", warns)
				require.Contains(t, od.Path.Reason, warns[0].attrs["cause"])
				// Each stream asked v2 once (its probe's first page) and took no for an answer.
				require.Equal(t, 2, v2Requests(h.fake))
				require.Zero(t, fv.Path.ProbeDifferences, "a refusal is no difference")
			} else {
				require.False(t, od.Path.Fallback, od.Path.Reason)
				require.Equal(t, "v1+v2", od.Path.Path, od.Path.Reason)
				require.Empty(t, logs.warnings(extractor.StreamOrganizationDetails))
				require.Equal(t, 1, fv.Path.ProbeDifferences, "the probe counted its difference")
			}
			require.Zero(t, h.countRows(t, "field_values", "id IS NULL"), "no value was stored from v2")
			requireSameWarehouse(t, ref, h)
		})
	}
}

// TestV2RefusalOrDifferenceFailsStreamUnderOn: under api_v2 on, the same refusals and the
// difference fail the stream, naming the cause, and nothing of it is written.
func TestV2RefusalOrDifferenceFailsStreamUnderOn(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 34
	for _, fault := range v2Faults() {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg, fault.opt)
			logs := newLogRecorder()
			h.opts.APIV2 = extractor.V2On
			h.opts.Logger = slog.New(logs)
			res := h.syncer(nil).Run(t.Context(), nil)
			require.False(t, res.Complete())

			fv := streamResult(t, res, extractor.StreamFieldValues)
			require.False(t, fv.Complete)
			require.Error(t, fv.Err)
			require.ErrorContains(t, fv.Err, "api_v2 is on")
			require.NotNil(t, fv.Path)
			require.False(t, fv.Path.Fallback, "on never falls back")
			for _, c := range fault.causes(t, h.fake.Snapshot()) {
				require.ErrorContains(t, fv.Err, c)
				require.Contains(t, fv.Path.Reason, c)
			}
			require.Zero(t, h.countRows(t, "field_values", "true"), "the failed stream wrote nothing")
			cp, err := h.store.LoadCheckpoint(t.Context(), string(extractor.StreamFieldValues))
			require.NoError(t, err)
			require.True(t, cp.PassStartedAt.IsZero(), "no pass was started")

			od := streamResult(t, res, extractor.StreamOrganizationDetails)
			if fault.links {
				require.False(t, od.Complete)
				require.ErrorContains(t, od.Err, "api_v2 is on: API v2 refused: HTTP "+fault.name)
				require.ErrorContains(t, od.Err, "/v2/companies")
				require.Zero(t, h.countRows(t, "organization_persons", "true"), "the failed stream wrote nothing")
				require.Equal(t, 2, v2Requests(h.fake))
			} else {
				require.NoError(t, od.Err)
				require.True(t, od.Complete)
			}
			// The change feed is refused like every v2 read; every other stream completed.
			fc := streamResult(t, res, extractor.StreamFieldValueChanges)
			if fault.links {
				require.ErrorContains(t, fc.Err, "api_v2 is on: API v2 refused: HTTP "+fault.name)
				require.ErrorContains(t, fc.Err, "/v2/field-value-changes")
			} else {
				require.NoError(t, fc.Err)
			}
			for _, s := range res.Streams {
				switch s.Stream {
				case extractor.StreamFieldValues, extractor.StreamOrganizationDetails, extractor.StreamFieldValueChanges:
				default:
					require.NoError(t, s.Err, s.Stream)
				}
			}
		})
	}
}

// countingServer is a second host: it counts every request and answers 200 with an empty page.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[],"pagination":{"nextUrl":null}}`))
	}))
	t.Cleanup(other.Close)
	return other, &hits
}

// TestV2ForeignNextURLIsNeverRequested: a nextUrl that points at another host fails the
// stream under auto as under on (it is not a refusal to fall back from), and the other host
// never sees a request.
func TestV2ForeignNextURLIsNeverRequested(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 35
	cfg.EntriesPerList = 130 // more than one v2 page per list, so that lists carry a nextUrl
	for _, mode := range []extractor.V2Mode{extractor.V2Auto, extractor.V2On} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			other, hits := countingServer(t)
			h := newHarness(t, cfg, affinitytest.WithV2NextURLBase(other.URL))
			h.opts.APIV2 = mode
			res := h.syncer(nil).Run(t.Context(), nil)
			for _, stream := range []extractor.StreamName{extractor.StreamFieldValues, extractor.StreamOrganizationDetails} {
				s := streamResult(t, res, stream)
				require.False(t, s.Complete, stream)
				var foreign *affinity.ForeignURLError
				require.True(t, errors.As(s.Err, &foreign), "%s: %v", stream, s.Err)
				require.ErrorContains(t, s.Err, "not requested")
				require.ErrorContains(t, s.Err, other.Listener.Addr().String())
			}
			require.Zero(t, hits.Load(), "the other host was never asked")
			require.Zero(t, h.countRows(t, "field_values", "id IS NULL"), "no value was stored from v2")
		})
	}
}
