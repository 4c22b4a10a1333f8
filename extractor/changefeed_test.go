package extractor_test

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// changesRun is what the daemon's changes schedule runs.
var changesRun = []extractor.StreamName{extractor.StreamFieldValueChanges, extractor.StreamFieldValues}

// feedHarness is a workspace synced once under api_v2 auto (every history read through v1),
// with values due only when they changed, and a clock shared by the fake and the syncer.
func feedHarness(t *testing.T, seed int64, fakeOpts ...affinitytest.Option) *harness {
	t.Helper()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = seed
	h := newHarness(t, cfg, fakeOpts...)
	h.opts.APIV2 = extractor.V2Auto
	h.opts.ValuesMaxAge = 30 * 24 * time.Hour
	requireComplete(t, h.syncer(nil).Run(t.Context(), nil))
	return h
}

// makeChanges makes n changes in the fake, all at one instant, and returns the distinct
// entities they changed.
func (h *harness) makeChanges(t *testing.T, seed uint64, n int) (made []affinitytest.ChangeMade, entities int) {
	t.Helper()
	return h.makeChangesAt(t, seed, n, time.Now())
}

// makeChangesAt makes n changes at the instant at.
func (h *harness) makeChangesAt(t *testing.T, seed uint64, n int, at time.Time) (made []affinitytest.ChangeMade, entities int) {
	t.Helper()
	at = at.UTC().Truncate(time.Millisecond)
	h.fake.Mutate(func(w *affinitytest.Workspace) {
		w.SetClock(func() time.Time { return at })
		made = w.ChangeTrackedValues(rand.New(rand.NewPCG(seed, 1)), n)
		w.SetClock(nil)
	})
	require.Len(t, made, n)
	type key struct {
		kind int
		id   int64
	}
	seen := map[key]bool{}
	for _, c := range made {
		seen[key{int(c.EntityType), c.EntityID}] = true
	}
	return made, len(seen)
}

func (h *harness) trackedFields(t *testing.T) int {
	return h.countRows(t, "fields", "deleted_at IS NULL AND track_changes")
}

// TestChangeFeedStoresWhatV1Stores: after the backfill, a changes run with 10 changes made
// stores each exactly once, every column as a v1 read stores it, for at most 3 requests plus
// one per changed entity; a run with nothing changed then costs 1 request.
func TestChangeFeedStoresWhatV1Stores(t *testing.T) {
	t.Parallel()
	h := feedHarness(t, 71)
	h.fake.ResetCounters()
	_, entities := h.makeChanges(t, 1, 10)

	res := h.syncer(nil).Run(t.Context(), changesRun)
	requireComplete(t, res)
	fc := streamResult(t, res, extractor.StreamFieldValueChanges)
	require.NotNil(t, fc.Path)
	require.Equal(t, "v2", fc.Path.Path, fc.Path.Reason)
	got := h.fake.Requests()
	require.Equal(t, 1, got["GET /v2/field-value-changes"], "10 changes: one feed page")
	require.LessOrEqual(t, got["GET /field-value-changes"], 1, "at most the probe's v1 history")
	require.LessOrEqual(t, h.fake.TotalRequests(), 3+entities, "requests: %v", got)
	h.requireFeedChangesEqual(t, h.fake.Snapshot())
	h.requireWarehouseEquals(t, h.fake.Snapshot())

	h.fake.ResetCounters()
	requireComplete(t, h.syncer(nil).Run(t.Context(), changesRun))
	require.Equal(t, map[string]int{"GET /v2/field-value-changes": 1}, h.fake.Requests(), "nothing changed: one request")
	h.requireFeedChangesEqual(t, h.fake.Snapshot())
}

// TestChangeFeedSharedTimestampAcrossPages: 150 changes share one changedAt, so the page
// boundary falls inside it: each is stored once.
func TestChangeFeedSharedTimestampAcrossPages(t *testing.T) {
	t.Parallel()
	h := feedHarness(t, 72)
	h.makeChanges(t, 2, 150)
	h.fake.ResetCounters()
	requireComplete(t, h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges}))
	require.Equal(t, 2, h.fake.Requests()["GET /v2/field-value-changes"])
	h.requireFeedChangesEqual(t, h.fake.Snapshot())
}

// TestChangeFeedBurstFallsBackWithinTheRun: more than T × 100 changes: the feed stops at T
// pages and the run reads each field's history through v1, ending exact; the next run reads
// the feed again.
func TestChangeFeedBurstFallsBackWithinTheRun(t *testing.T) {
	t.Parallel()
	h := feedHarness(t, 73)
	tracked := h.trackedFields(t)
	require.Positive(t, tracked)
	logs := newLogRecorder()
	h.opts.Logger = slog.New(logs)
	h.makeChanges(t, 3, tracked*100+1)
	// The run falls back 20 minutes after the burst, and the next one follows 10 minutes
	// later: the burst is then older than the feed's lag.
	h.opts.Now = func() time.Time { return time.Now().Add(20 * time.Minute) }
	h.fake.ResetCounters()
	res := h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges})
	requireComplete(t, res)
	got := h.fake.Requests()
	require.Equal(t, tracked, got["GET /v2/field-value-changes"], "T feed pages")
	require.Equal(t, tracked+1, got["GET /field-value-changes"], "the probe's history, then one per field")
	fc := streamResult(t, res, extractor.StreamFieldValueChanges)
	require.True(t, fc.Path.Fallback, fc.Path.Reason)
	require.Contains(t, fc.Path.Reason, "the change feed reached")
	require.Len(t, logs.warnings(extractor.StreamFieldValueChanges), 1)
	h.requireFeedChangesEqual(t, h.fake.Snapshot())

	h.fake.ResetCounters()
	h.opts.Now = func() time.Time { return time.Now().Add(30 * time.Minute) }
	h.makeChangesAt(t, 4, 5, h.opts.Now())
	requireComplete(t, h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges}))
	got = h.fake.Requests()
	require.Equal(t, 1, got["GET /v2/field-value-changes"], "the feed again")
	require.Equal(t, 1, got["GET /field-value-changes"], "probed after a v1 run")
	h.requireFeedChangesEqual(t, h.fake.Snapshot())
}

// TestChangeFeedRefusedOrDisagreeing: under auto a refused feed (403, 404) or one that
// disagrees with v1 falls back to v1 with one warning naming the cause and ends exact; under
// on the stream fails with nothing of the refused page written.
func TestChangeFeedRefusedOrDisagreeing(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		mode  affinitytest.V2ChangesMode
		cause string
	}{
		{affinitytest.V2ChangesForbidden, "API v2 refused: HTTP 403"},
		{affinitytest.V2ChangesNotFound, "API v2 refused: HTTP 404"},
		{affinitytest.V2ChangesDisagree, "the change feed disagrees with API v1: field "},
	} {
		for _, mode := range []extractor.V2Mode{extractor.V2Auto, extractor.V2On} {
			t.Run(tc.mode.String()+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				h := feedHarness(t, 80+int64(i))
				made, _ := h.makeChanges(t, 5, 10)
				h.fake.SetV2Changes(tc.mode)
				logs := newLogRecorder()
				h.opts.Logger = slog.New(logs)
				h.opts.APIV2 = mode
				before := h.countRows(t, "field_value_changes", "true")
				h.fake.ResetCounters()
				res := h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges})
				fc := streamResult(t, res, extractor.StreamFieldValueChanges)
				if mode == extractor.V2On {
					require.ErrorContains(t, fc.Err, "api_v2 is on: ")
					require.ErrorContains(t, fc.Err, tc.cause)
					require.Equal(t, before, h.countRows(t, "field_value_changes", "true"), "nothing of the refused page written")
					return
				}
				require.NoError(t, fc.Err)
				require.True(t, fc.Path.Fallback)
				require.Contains(t, fc.Path.Reason, tc.cause)
				warns := logs.warnings(extractor.StreamFieldValueChanges)
				require.Len(t, warns, 1)
				require.Contains(t, fc.Path.Reason, warns[0].attrs["cause"])
				require.Equal(t, 1, h.fake.Requests()["GET /v2/field-value-changes"])
				require.Equal(t, before+len(made), h.countRows(t, "field_value_changes", "true"))
				h.requireFeedChangesEqual(t, h.fake.Snapshot())
			})
		}
	}
}

// cutFeed serves the change feed's first pages and then fails, as a kill mid-feed would
// leave it.
type cutFeed struct {
	*affinity.Client
	pages int
}

var errCut = errors.New("the process died here")

func (c *cutFeed) FieldValueChangesV2(ctx context.Context, q affinity.V2ChangeQuery) iter.Seq2[affinity.V2Page[affinity.V2FieldValueChange], error] {
	return func(yield func(affinity.V2Page[affinity.V2FieldValueChange], error) bool) {
		n := 0
		for p, err := range c.Client.FieldValueChangesV2(ctx, q) {
			if err != nil || n == c.pages {
				if err == nil {
					err = errCut
				}
				yield(p, err)
				return
			}
			n++
			if !yield(p, nil) {
				return
			}
		}
	}
}

// TestChangeFeedResumesAfterAKill: a run that dies after two feed pages keeps them and their
// watermark; the next run queries again from there and ends with every change once.
func TestChangeFeedResumesAfterAKill(t *testing.T) {
	t.Parallel()
	h := feedHarness(t, 74)
	before := h.countRows(t, "field_value_changes", "true")
	h.makeChanges(t, 6, 270)
	res := h.syncer(&cutFeed{Client: h.client, pages: 2}).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges})
	fc := streamResult(t, res, extractor.StreamFieldValueChanges)
	require.ErrorIs(t, fc.Err, errCut)
	require.Equal(t, before+200, h.countRows(t, "field_value_changes", "true"), "the two pages read are stored")
	require.Equal(t, 1, h.countRows(t, "sync_change_feed", "watermark IS NOT NULL"), "and moved the watermark")

	h.fake.ResetCounters()
	requireComplete(t, h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges}))
	require.Equal(t, 3, h.fake.Requests()["GET /v2/field-value-changes"], "the feed queried again (the changes share one instant)")
	require.Equal(t, before+270, h.countRows(t, "field_value_changes", "true"), "nothing lost, nothing twice")
	h.requireFeedChangesEqual(t, h.fake.Snapshot())
}

// TestChangeFeedNewFieldGetsItsHistoryFirst: a field that comes into scope is read whole
// through v1 before the feed is read.
func TestChangeFeedNewFieldGetsItsHistoryFirst(t *testing.T) {
	t.Parallel()
	h := feedHarness(t, 75)
	var field int64
	require.NoError(t, h.pool.QueryRow(t.Context(), `SELECT min(field_id) FROM affinity.sync_change_histories`).Scan(&field))
	_, err := h.pool.Exec(t.Context(), `DELETE FROM affinity.sync_change_histories WHERE field_id = $1`, field)
	require.NoError(t, err)
	h.makeChanges(t, 8, 10)
	h.fake.ResetCounters()
	res := h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges})
	requireComplete(t, res)
	fc := streamResult(t, res, extractor.StreamFieldValueChanges)
	require.Equal(t, "v1+v2", fc.Path.Path, fc.Path.Reason)
	require.Equal(t, 1, h.fake.Requests()["GET /v2/field-value-changes"])
	require.LessOrEqual(t, h.fake.Requests()["GET /field-value-changes"], 2, "its history, and at most the probe")
	require.Equal(t, 1, h.countRows(t, "sync_change_histories", "field_id = "+strconv.FormatInt(field, 10)))
	h.requireFeedChangesEqual(t, h.fake.Snapshot())
}

// TestChangedOnlyRefreshesNoStaleValue: a changes run (ChangedOnly) refreshes the values of
// the entities that changed, one request each at most, and none for being stale.
func TestChangedOnlyRefreshesNoStaleValue(t *testing.T) {
	t.Parallel()
	h := feedHarness(t, 76)
	h.opts.ValuesMaxAge = time.Nanosecond // every value is stale
	h.opts.ChangedOnly = true
	h.fake.ResetCounters()
	requireComplete(t, h.syncer(nil).Run(t.Context(), changesRun))
	require.Equal(t, map[string]int{"GET /v2/field-value-changes": 1}, h.fake.Requests(), "nothing changed: no value refreshed")

	_, entities := h.makeChanges(t, 9, 10)
	h.fake.ResetCounters()
	requireComplete(t, h.syncer(nil).Run(t.Context(), changesRun))
	got := h.fake.Requests()
	require.Positive(t, got["GET /field-values"])
	require.LessOrEqual(t, got["GET /field-values"], entities, "one request per changed entity at most: %v", got)
	require.LessOrEqual(t, h.fake.TotalRequests(), 3+entities, "%v", got)
	h.requireWarehouseEquals(t, h.fake.Snapshot())
}

// TestChangeFeedFutureStampDoesNotHoldItBack: a change stamped hours ahead of the clock moves
// the watermark past now; the changes made meanwhile are still read.
func TestChangeFeedFutureStampDoesNotHoldItBack(t *testing.T) {
	t.Parallel()
	h := feedHarness(t, 77)
	h.makeChangesAt(t, 10, 3, time.Now().Add(3*time.Hour))
	requireComplete(t, h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges}))
	h.requireFeedChangesEqual(t, h.fake.Snapshot())

	h.makeChanges(t, 11, 5)
	requireComplete(t, h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges}))
	h.requireFeedChangesEqual(t, h.fake.Snapshot())
}

// TestChangeFeedUndecodablePageFailsTheStream: a feed page that stays undecodable after the
// retries fails the stream (under auto too: it is no refusal), naming the endpoint; nothing
// of it is written and the watermark does not move.
func TestChangeFeedUndecodablePageFailsTheStream(t *testing.T) {
	t.Parallel()
	h := feedHarness(t, 78)
	h.makeChanges(t, 12, 10)
	watermark := func() string {
		var w string
		require.NoError(t, h.pool.QueryRow(t.Context(), `SELECT coalesce((SELECT watermark::text FROM affinity.sync_change_feed), '-')`).Scan(&w))
		return w
	}
	before, stored := watermark(), h.countRows(t, "field_value_changes", "true")
	h.fake.SetFaults(affinitytest.Faults{Seed: 1, RateTruncate: 1, Endpoints: []string{"GET /v2/field-value-changes"}})
	res := h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges})
	fc := streamResult(t, res, extractor.StreamFieldValueChanges)
	require.Error(t, fc.Err)
	require.ErrorContains(t, fc.Err, "/v2/field-value-changes")
	require.Equal(t, stored, h.countRows(t, "field_value_changes", "true"), "nothing of the page written")
	require.Equal(t, before, watermark(), "the watermark did not move")

	h.fake.SetFaults(affinitytest.Faults{})
	requireComplete(t, h.syncer(nil).Run(t.Context(), []extractor.StreamName{extractor.StreamFieldValueChanges}))
	h.requireFeedChangesEqual(t, h.fake.Snapshot())
}
