package httpapi_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
	"github.com/affinity-sync/affinity-sync/schedule/httpapi"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	apiKey = "test-key-0c1d2e"
	token  = "hook-token-7a8b9c"
)

// daemon is a fake Affinity, a warehouse, and the daemon's HTTP side between them, wired as
// the binary wires them.
type daemon struct {
	fake      *affinitytest.Server
	store     *loader.Store
	pool      *pgxpool.Pool
	client    *affinity.Client
	metrics   *httpapi.Metrics
	url       string // the daemon's HTTP base URL
	refreshed chan refreshed
	apiV2     extractor.V2Mode
}

type refreshed struct {
	kind loader.ObjectKind
	id   int64
	err  error
}

func newDaemon(t *testing.T, readyMaxAge time.Duration) *daemon {
	t.Helper()
	return newDaemonV2(t, readyMaxAge, extractor.V2Off, 5)
}

// newDaemonV2 is newDaemon whose syncs read through API v2 as apiV2 says, from a fake of the
// workspace seed generates, with the options given.
func newDaemonV2(t *testing.T, readyMaxAge time.Duration, apiV2 extractor.V2Mode, seed int64, fakeOpts ...affinitytest.Option) *daemon {
	t.Helper()
	ctx := t.Context()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = seed
	cfg.Persons, cfg.Organizations, cfg.Opportunities = 40, 15, 6
	cfg.PersonLists, cfg.OrganizationLists, cfg.OpportunityLists = 1, 1, 1
	cfg.EntriesPerList = 10
	fake := affinitytest.NewServer(affinitytest.Generate(cfg), append([]affinitytest.Option{affinitytest.WithAPIKey(apiKey)}, fakeOpts...)...)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)

	dsn := pgtest.NewDatabase(t)
	log := slog.New(slog.DiscardHandler)
	require.NoError(t, migrations.Run(ctx, dsn, "affinity", "up", io.Discard, log))
	store, err := loader.Open(ctx, dsn, "affinity", log)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	budget := quota.New(store, quota.Limits{Daily: 10000}, time.Now, log)
	metrics := httpapi.NewMetrics(httpapi.MetricsOptions{Budget: budget, Checkpoints: store, Paths: store})
	client, err := affinity.NewClient(api.URL, apiKey, affinity.WithPerMinute(0), affinity.WithReserve(budget.Reserve),
		affinity.WithObserver(func(info affinity.RequestInfo) {
			budget.Observe(info)
			metrics.ObserveRequest(info)
		}))
	require.NoError(t, err)

	d := &daemon{fake: fake, store: store, pool: pool, client: client, metrics: metrics, refreshed: make(chan refreshed, 16), apiV2: apiV2}
	srv := httpapi.New(httpapi.Options{
		WebhookToken: token,
		ReadyMaxAge:  readyMaxAge,
		Health:       store,
		Deliveries:   store,
		Refresher:    extractor.NewRefresher(client, store, extractor.Options{}),
		Metrics:      metrics,
		OnRefresh:    func(kind loader.ObjectKind, id int64, err error) { d.refreshed <- refreshed{kind, id, err} },
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	workerCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.RunWorker(workerCtx) }()
	t.Cleanup(func() { stop(); <-done })
	d.url = hs.URL
	return d
}

// sync runs one complete pass and records it as the binary does.
func (d *daemon) sync(t *testing.T) extractor.Result {
	t.Helper()
	ctx := t.Context()
	runID, err := d.store.StartRun(ctx, extractor.NamesOf(extractor.Streams()))
	require.NoError(t, err)
	started := time.Now()
	res := extractor.New(d.client, d.store, extractor.Options{MaxDeleteShare: 1, APIV2: d.apiV2}).Run(ctx, nil)
	require.True(t, res.Complete(), "%+v", res.Failed())
	rows, _ := res.Totals()
	require.NoError(t, d.store.FinishRun(ctx, runID, loader.RunResult{Streams: extractor.NamesOf(extractor.Streams()), Rows: rows, Status: "completed"}))
	d.metrics.ObserveRun("sync", time.Since(started), "completed", res)
	return res
}

func (d *daemon) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, d.url+path, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func (d *daemon) post(t *testing.T, path, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.url+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode
}

func (d *daemon) scalar(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, d.pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func (d *daemon) waitRefresh(t *testing.T) refreshed {
	t.Helper()
	select {
	case r := <-d.refreshed:
		return r
	case <-t.Context().Done():
		t.Fatal("no refresh")
		return refreshed{}
	}
}

// metric reads one sample of a scrape: name{labels} exactly as exposed (labels sorted by
// name); found is false when the scrape has no such line.
func metric(t *testing.T, scrape, series string) (float64, bool) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(scrape))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err, line)
			return v, true
		}
	}
	return 0, false
}

func TestMetricsAfterSync(t *testing.T) {
	t.Parallel()
	d := newDaemon(t, time.Hour)
	res := d.sync(t)
	persons := d.fake.Requests()["GET /persons"]
	require.Positive(t, persons)

	status, scrape := d.get(t, "/metrics")
	require.Equal(t, http.StatusOK, status)
	v, ok := metric(t, scrape, `affinity_sync_api_requests_total{endpoint="/persons",status="200"}`)
	require.True(t, ok, scrape)
	require.Equal(t, float64(persons), v)
	for _, s := range res.Streams {
		v, ok := metric(t, scrape, `affinity_sync_rows_written_total{stream="`+string(s.Stream)+`"}`)
		require.True(t, ok, s.Stream)
		require.Equal(t, float64(s.Rows), v, s.Stream)
		_, ok = metric(t, scrape, `affinity_sync_last_complete_pass_timestamp_seconds{stream="`+string(s.Stream)+`"}`)
		require.True(t, ok, s.Stream)
	}
	v, ok = metric(t, scrape, `affinity_sync_runs_total{job="sync",result="completed"}`)
	require.True(t, ok)
	require.Equal(t, 1.0, v)
	v, ok = metric(t, scrape, `affinity_sync_run_duration_seconds_count{job="sync"}`)
	require.True(t, ok)
	require.Equal(t, 1.0, v)
	spent, ok := metric(t, scrape, `affinity_sync_requests_spent{period="day"}`)
	require.True(t, ok)
	left, ok := metric(t, scrape, `affinity_sync_requests_left{period="day"}`)
	require.True(t, ok)
	require.GreaterOrEqual(t, spent, float64(d.fake.TotalRequests()), "every request is in the ledger")
	require.Equal(t, 10000.0, spent+left)
	_, ok = metric(t, scrape, `affinity_sync_requests_left{period="month"}`)
	require.False(t, ok, "no monthly cap: no gauge")
}

// TestMetricsOfAPIV2: requests through API v2 are counted by their endpoint template; a
// probe that finds v2 disagreeing with v1 counts a difference and a fallback; the path each
// stream's last pass took is a gauge.
func TestMetricsOfAPIV2(t *testing.T) {
	t.Parallel()
	t.Run("agreeing", func(t *testing.T) {
		t.Parallel()
		d := newDaemonV2(t, time.Hour, extractor.V2Auto, 5)
		res := d.sync(t)
		for _, s := range res.Streams {
			if s.Path != nil {
				require.Equal(t, "v1+v2", s.Path.Path, "%s: %s", s.Stream, s.Path.Reason)
			}
		}
		_, scrape := d.get(t, "/metrics")
		served := d.fake.Requests()
		for endpoint, fake := range map[string]string{
			"/v2/lists/{id}/list-entries": "GET /v2/lists/{id}/list-entries",
			"/v2/companies":               "GET /v2/companies",
		} {
			require.Positive(t, served[fake], "%s: %v", fake, served)
			v, ok := metric(t, scrape, `affinity_sync_api_requests_total{endpoint="`+endpoint+`",status="200"}`)
			require.True(t, ok, "%s\n%s", endpoint, scrape)
			require.Equal(t, float64(served[fake]), v, endpoint)
		}
		var byStream float64
		for _, s := range res.Streams {
			v, ok := metric(t, scrape, `affinity_sync_stream_requests_total{stream="`+string(s.Stream)+`"}`)
			require.True(t, ok, "%s\n%s", s.Stream, scrape)
			byStream += v
		}
		require.Equal(t, float64(d.fake.TotalRequests()), byStream, "every request counts for the stream that sent it")
		for _, stream := range extractor.NamesOf([]extractor.StreamName{extractor.StreamFieldValues, extractor.StreamOrganizationDetails}) {
			v, ok := metric(t, scrape, `affinity_sync_stream_path{path="v1+v2",stream="`+stream+`"}`)
			require.True(t, ok, "%s\n%s", stream, scrape)
			require.Equal(t, 1.0, v)
			_, ok = metric(t, scrape, `affinity_sync_stream_path{path="v1",stream="`+stream+`"}`)
			require.False(t, ok, "one path per stream")
			v, ok = metric(t, scrape, `affinity_sync_v2_fallbacks_total{stream="`+stream+`"}`)
			require.True(t, ok, stream)
			require.Zero(t, v, stream)
			v, ok = metric(t, scrape, `affinity_sync_v2_probe_differences_total{stream="`+stream+`"}`)
			require.True(t, ok, stream)
			require.Zero(t, v, stream)
		}
	})
	t.Run("disagreeing", func(t *testing.T) {
		t.Parallel()
		// Seed 1: the value v2 alters is on one of the first entries the probe compares.
		d := newDaemonV2(t, time.Hour, extractor.V2Auto, 1, affinitytest.WithV2Disagree())
		d.sync(t)
		_, scrape := d.get(t, "/metrics")
		for series, want := range map[string]float64{
			`affinity_sync_v2_fallbacks_total{stream="field_values"}`:               1,
			`affinity_sync_v2_probe_differences_total{stream="field_values"}`:       1,
			`affinity_sync_stream_path{path="v1",stream="field_values"}`:            1,
			`affinity_sync_v2_fallbacks_total{stream="organization_details"}`:       0,
			`affinity_sync_stream_path{path="v1+v2",stream="organization_details"}`: 1,
		} {
			v, ok := metric(t, scrape, series)
			require.True(t, ok, "%s\n%s", series, scrape)
			require.Equal(t, want, v, series)
		}
		v, ok := metric(t, scrape, `affinity_sync_api_requests_total{endpoint="/v2/lists/{id}/list-entries",status="200"}`)
		require.True(t, ok, "the probe read the first v2 pages")
		// Three lists of 10 entries, each read through v2 on a first pass: the probe reads the
		// first page of each (one entry of each compared), and nothing more, as the pass fell
		// back to v1.
		require.Equal(t, 3.0, v, "only the probe's first pages: the pass fell back to v1")
	})
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	d := newDaemon(t, time.Hour)
	status, body := d.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, "no complete pass yet")
	require.Contains(t, body, "no complete pass")
	status, _ = d.get(t, "/healthz")
	require.Equal(t, http.StatusOK, status)

	d.sync(t)
	status, _ = d.get(t, "/readyz")
	require.Equal(t, http.StatusOK, status)

	_, err := d.pool.Exec(t.Context(), `UPDATE affinity.sync_runs SET ended_at = now() - interval '2 hours'`)
	require.NoError(t, err)
	status, body = d.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, "the last complete pass is older than ready_max_age")
	require.Contains(t, body, "older than 1h0m0s")

	_, err = d.pool.Exec(t.Context(), `UPDATE affinity.sync_runs SET ended_at = now()`)
	require.NoError(t, err)
	status, _ = d.get(t, "/readyz")
	require.Equal(t, http.StatusOK, status)
	d.store.Close() // the database no longer answers
	status, body = d.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, body, "database")
	status, _ = d.get(t, "/healthz")
	require.Equal(t, http.StatusOK, status, "alive all the same")
}

func TestWebhookAuthAndParsing(t *testing.T) {
	t.Parallel()
	d := newDaemon(t, time.Hour)
	const delivery = `{"type":"person.deleted","body":{"id":1},"sent_at":1731000000}`
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"no token", "/webhooks/affinity", delivery, http.StatusUnauthorized},
		{"wrong token", "/webhooks/affinity?token=nope", delivery, http.StatusUnauthorized},
		{"empty token", "/webhooks/affinity?token=", delivery, http.StatusUnauthorized},
		{"token prefix", "/webhooks/affinity?token=" + token[:5], delivery, http.StatusUnauthorized},
		{"not JSON", "/webhooks/affinity?token=" + token, `{"type": "person.deleted", "body": {`, http.StatusBadRequest},
	} {
		require.Equal(t, tc.status, d.post(t, tc.path, tc.body), tc.name)
	}
	require.Zero(t, d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries`), "refused deliveries are not recorded")

	require.Equal(t, http.StatusOK, d.post(t, "/webhooks/affinity?token="+token, `{"type":"note.created","body":{"id":9},"sent_at":1731000000}`))
	require.Equal(t, http.StatusOK, d.post(t, "/webhooks/affinity?token="+token, `{"type":"something.new","body":{"id":9}}`))
	require.Equal(t, int64(2), d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries WHERE outcome = 'ignored'`))
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries
		WHERE type = 'note.created' AND object_id = 9 AND sent_at = to_timestamp(1731000000)`))
	require.Zero(t, d.fake.TotalRequests(), "nothing was fetched")

	status, scrape := d.get(t, "/metrics")
	require.Equal(t, http.StatusOK, status)
	v, _ := metric(t, scrape, `affinity_sync_webhook_deliveries_total{outcome="unauthorized",type="unknown"}`)
	require.Equal(t, 4.0, v)
	v, _ = metric(t, scrape, `affinity_sync_webhook_deliveries_total{outcome="ignored",type="unknown"}`)
	require.Equal(t, 1.0, v)
	v, _ = metric(t, scrape, `affinity_sync_webhook_deliveries_total{outcome="ignored",type="note.created"}`)
	require.Equal(t, 1.0, v)
}

func TestWebhookOffWithoutToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(httpapi.New(httpapi.Options{}))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/webhooks/affinity?token=", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestFieldValueUpdatedRefreshesTheEntity(t *testing.T) {
	t.Parallel()
	d := newDaemon(t, time.Hour)
	d.sync(t)
	ctx := t.Context()
	ws := d.fake.Snapshot()
	// A person on a list, and a global single-valued text field of persons.
	var personID, fieldID int64
	for _, f := range ws.Fields {
		if f.ListID == nil && f.EntityType == loader.EntityPerson && f.ValueType == affinitytest.ValueText && !f.AllowsMultiple {
			fieldID = f.ID
		}
	}
	for _, e := range ws.ListEntries {
		if e.EntityType == loader.EntityPerson {
			personID = e.EntityID
		}
	}
	require.NotZero(t, fieldID)
	require.NotZero(t, personID)
	d.fake.Mutate(func(w *affinitytest.Workspace) {
		w.SetFieldValue(fieldID, personID, nil, []byte(`"changed by a webhook test"`))
	})
	var valueID int64
	for _, v := range d.fake.Snapshot().FieldValues {
		if v.FieldID == fieldID && v.EntityID == personID && v.ListEntryID == nil {
			valueID = v.ID
		}
	}
	d.fake.ResetCounters()
	// Affinity leaves entity_type out of some values: the field says what the entity is.
	body := map[string]any{"id": valueID, "field_id": fieldID, "entity_id": personID, "list_entry_id": nil,
		"value": "changed by a webhook test"}
	require.NoError(t, d.fake.Deliver(ctx, d.url+"/webhooks/affinity?token="+token, "field_value.updated", body))
	r := d.waitRefresh(t)
	require.NoError(t, r.err)
	require.Equal(t, loader.ObjectPerson, r.kind)
	require.Equal(t, personID, r.id)

	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.field_values
		WHERE entity_type = 0 AND entity_id = $1 AND field_id = $2 AND value_text = 'changed by a webhook test' AND deleted_at IS NULL`,
		personID, fieldID))
	require.LessOrEqual(t, d.fake.TotalRequests(), 3, "a handful of requests: %v", d.fake.Requests())
	require.Equal(t, 1, d.fake.Requests()["GET /field-values"])
	_, scrape := d.get(t, "/metrics")
	v, ok := metric(t, scrape, `affinity_sync_stream_requests_total{stream="webhook"}`)
	require.True(t, ok, scrape)
	require.Equal(t, float64(d.fake.TotalRequests()), v, "the refresh's requests count for webhook, not for field_values")
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries
		WHERE type = 'field_value.updated' AND outcome = 'refreshed'`))
}

func TestListEntryDeletedSoftDeletesAtOnce(t *testing.T) {
	t.Parallel()
	d := newDaemon(t, time.Hour)
	d.sync(t)
	ctx := t.Context()
	var entry *affinitytest.ListEntry
	for _, e := range d.fake.Snapshot().ListEntries {
		if d.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE list_entry_id = $1 AND deleted_at IS NULL`, e.ID) > 0 {
			entry = e
			break
		}
	}
	require.NotNil(t, entry, "an entry with values")
	body, err := d.fake.Object("/lists/" + strconv.FormatInt(entry.ListID, 10) + "/list-entries/" + strconv.FormatInt(entry.ID, 10))
	require.NoError(t, err)
	d.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteListEntry(entry.ID) })
	d.fake.ResetCounters()

	// Deliver returns once the daemon answered: the delete is applied by then.
	require.NoError(t, d.fake.Deliver(ctx, d.url+"/webhooks/affinity?token="+token, "list_entry.deleted", body))
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.list_entries WHERE id = $1 AND deleted_at IS NOT NULL`, entry.ID))
	require.Zero(t, d.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE list_entry_id = $1 AND deleted_at IS NULL`, entry.ID))
	require.Zero(t, d.fake.TotalRequests(), "a delete costs no request")
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries
		WHERE type = 'list_entry.deleted' AND object_id = $1 AND outcome = 'deleted'`, entry.ID))
}

func TestOrganizationMergedSoftDeletesTheLoserAndRefreshesTheWinner(t *testing.T) {
	t.Parallel()
	d := newDaemon(t, time.Hour)
	d.sync(t)
	ctx := t.Context()
	ws := d.fake.Snapshot()
	// The loser has live values in the warehouse; the winner is another organization.
	var loser, winner int64
	for _, o := range ws.Organizations {
		if loser == 0 && d.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE entity_type = 1 AND entity_id = $1 AND deleted_at IS NULL`, o.ID) > 0 {
			loser = o.ID
		} else if winner == 0 {
			winner = o.ID
		}
	}
	require.NotZero(t, loser, "an organization with values")
	require.NotZero(t, winner)
	var fieldID int64
	for _, f := range ws.Fields {
		if f.ListID == nil && f.EntityType == loader.EntityOrganization && f.ValueType == affinitytest.ValueText && !f.AllowsMultiple {
			fieldID = f.ID
		}
	}
	require.NotZero(t, fieldID)

	// Affinity's body: the changer, the organization merged away and the one that remains.
	removed, err := d.fake.Object("/organizations/" + strconv.FormatInt(loser, 10))
	require.NoError(t, err)
	d.fake.Mutate(func(w *affinitytest.Workspace) {
		w.DeleteOrganization(loser)
		w.SetFieldValue(fieldID, winner, nil, []byte(`"kept from the merged organization"`))
	})
	company, err := d.fake.Object("/organizations/" + strconv.FormatInt(winner, 10))
	require.NoError(t, err)
	d.fake.ResetCounters()
	body := map[string]any{
		"changer":         map[string]any{"id": 38706, "type": 1, "first_name": "John", "last_name": "Doe"},
		"removed_company": removed,
		"company":         company,
		"merged_at":       "2021-11-15 13:45:16 -0800",
	}
	require.NoError(t, d.fake.Deliver(ctx, d.url+"/webhooks/affinity?token="+token, "organization.merged", body))

	// Applied before the answer: the loser and its values are soft-deleted.
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.organizations WHERE id = $1 AND deleted_at IS NOT NULL`, loser))
	require.Zero(t, d.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE entity_type = 1 AND entity_id = $1 AND deleted_at IS NULL`, loser))
	require.Zero(t, d.scalar(t, `SELECT count(*) FROM affinity.list_entries WHERE entity_type = 1 AND entity_id = $1 AND deleted_at IS NULL`, loser))
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.organizations WHERE id = $1 AND deleted_at IS NULL`, winner))

	// Then the winner is refreshed.
	r := d.waitRefresh(t)
	require.NoError(t, r.err)
	require.Equal(t, loader.ObjectOrganization, r.kind)
	require.Equal(t, winner, r.id)
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE entity_type = 1 AND entity_id = $1
		AND field_id = $2 AND value_text = 'kept from the merged organization' AND deleted_at IS NULL`, winner, fieldID))
	require.Equal(t, 1, d.fake.Requests()["GET /organizations/{id}"], "only the winner is read: %v", d.fake.Requests())
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries
		WHERE type = 'organization.merged' AND outcome = 'refreshed'`))
}

// TestQueuedDeliveriesAreRefreshedAtStart: a daemon answered deliveries 200 and stopped
// before their refreshes ran (its worker never got to them); the next worker to start runs
// them at once, coalesced by object.
func TestQueuedDeliveriesAreRefreshedAtStart(t *testing.T) {
	t.Parallel()
	d := newDaemon(t, time.Hour)
	d.sync(t)
	ctx := t.Context()
	ws := d.fake.Snapshot()
	person, other := ws.Persons[0].ID, ws.Persons[1].ID
	d.fake.Mutate(func(w *affinitytest.Workspace) {
		name := "Requeued"
		w.Person(person).FirstName = &name
	})

	opts := func(onRefresh func(loader.ObjectKind, int64, error)) httpapi.Options {
		return httpapi.Options{WebhookToken: token, Health: d.store, Deliveries: d.store,
			Refresher: extractor.NewRefresher(d.client, d.store, extractor.Options{}), OnRefresh: onRefresh}
	}
	// The stopped daemon: it answers, but its worker never runs.
	stopped := httptest.NewServer(httpapi.New(opts(nil)))
	t.Cleanup(stopped.Close)
	for _, id := range []int64{person, other, person, person} {
		require.NoError(t, d.fake.Deliver(ctx, stopped.URL+"/webhooks/affinity?token="+token, "person.updated", map[string]any{"id": id}))
	}
	require.Equal(t, int64(4), d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries WHERE outcome = 'queued'`))
	d.fake.ResetCounters()

	// The next daemon starts its worker and nothing else arrives.
	done := make(chan refreshed, 8)
	next := httpapi.New(opts(func(kind loader.ObjectKind, id int64, err error) { done <- refreshed{kind, id, err} }))
	workerCtx, stop := context.WithCancel(context.Background())
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); next.RunWorker(workerCtx) }()
	t.Cleanup(func() { stop(); <-workerDone })

	var got []int64
	for range 2 {
		select {
		case r := <-done:
			require.NoError(t, r.err)
			require.Equal(t, loader.ObjectPerson, r.kind)
			got = append(got, r.id)
		case <-time.After(2 * time.Minute): // a guard against a hang, not a margin
			t.Fatal("the queued deliveries were not refreshed")
		}
	}
	require.Equal(t, []int64{person, other}, got, "one refresh per object, oldest first")
	require.Zero(t, d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries WHERE outcome <> 'refreshed'`))
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.persons WHERE id = $1 AND first_name = 'Requeued'`, person))
	require.Equal(t, 2, d.fake.Requests()["GET /persons/{id}"], "%v", d.fake.Requests())
}

// TestFileAndReminderDeliveries: file.created refreshes the new file (GET /entity-files/{id})
// and file.deleted soft-deletes it before the answer; reminder.created and reminder.updated
// re-read the reminder (GET /reminders/{id}) and reminder.deleted soft-deletes it before the
// answer. Each delivery is recorded with its outcome, and the refreshes' requests count for
// the webhook.
func TestFileAndReminderDeliveries(t *testing.T) {
	t.Parallel()
	d := newDaemon(t, time.Hour)
	d.sync(t)
	ctx := t.Context()
	hook := d.url + "/webhooks/affinity?token=" + token
	ws := d.fake.Snapshot()
	require.Positive(t, d.scalar(t, `SELECT count(*) FROM affinity.entity_files WHERE deleted_at IS NULL`), "the pass stored files")
	require.Positive(t, d.scalar(t, `SELECT count(*) FROM affinity.reminders WHERE deleted_at IS NULL`), "the pass stored reminders")
	outcome := func(event string, id int64) string {
		t.Helper()
		var o string
		require.NoError(t, d.pool.QueryRow(ctx, `SELECT outcome FROM affinity.sync_webhook_deliveries WHERE type = $1 AND object_id = $2`,
			event, id).Scan(&o))
		return o
	}

	// file.created: a file added in Affinity appears.
	person := ws.Persons[0].ID
	var file affinitytest.EntityFile
	d.fake.Mutate(func(w *affinitytest.Workspace) {
		file = *w.AddFile(affinitytest.EntityFile{Name: "intro call notes.docx", Size: 12_345, PersonID: &person})
	})
	require.Zero(t, d.scalar(t, `SELECT count(*) FROM affinity.entity_files WHERE id = $1`, file.ID))
	body, err := d.fake.Object("/entity-files/" + strconv.FormatInt(file.ID, 10))
	require.NoError(t, err)
	d.fake.ResetCounters()
	require.NoError(t, d.fake.Deliver(ctx, hook, "file.created", body))
	r := d.waitRefresh(t)
	require.NoError(t, r.err)
	require.Equal(t, refreshed{kind: loader.ObjectEntityFile, id: file.ID}, r)
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.entity_files WHERE id = $1 AND name = $2 AND size = $3
		AND person_id = $4 AND organization_id IS NULL AND opportunity_id IS NULL AND uploader_id = $5 AND created_at = $6
		AND deleted_at IS NULL`, file.ID, file.Name, file.Size, person, file.UploaderID, file.CreatedAt))
	require.Equal(t, map[string]int{"GET /entity-files/{id}": 1}, d.fake.Requests())
	require.Equal(t, loader.DeliveryRefreshed, outcome("file.created", file.ID))

	// file.deleted: soft-deleted before the 200, without a request.
	d.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteFile(file.ID) })
	require.NoError(t, d.fake.Deliver(ctx, hook, "file.deleted", body))
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.entity_files WHERE id = $1 AND deleted_at IS NOT NULL`, file.ID))
	require.Equal(t, loader.DeliveryDeleted, outcome("file.deleted", file.ID))

	// reminder.created: a new reminder appears.
	var added affinitytest.Reminder
	d.fake.Mutate(func(w *affinitytest.Workspace) {
		content := "send the deck"
		added = *w.AddReminder(affinitytest.Reminder{Content: &content, DueDate: w.Now().Add(72 * time.Hour), PersonID: &person})
	})
	body, err = d.fake.Object("/reminders/" + strconv.FormatInt(added.ID, 10))
	require.NoError(t, err)
	require.NoError(t, d.fake.Deliver(ctx, hook, "reminder.created", body))
	r = d.waitRefresh(t)
	require.NoError(t, r.err)
	require.Equal(t, refreshed{kind: loader.ObjectReminder, id: added.ID}, r)
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.reminders WHERE id = $1 AND content = 'send the deck'
		AND person_id = $2 AND status = $3 AND completed_at IS NULL AND deleted_at IS NULL`, added.ID, person, affinitytest.ReminderActive))
	require.Equal(t, loader.DeliveryRefreshed, outcome("reminder.created", added.ID))

	// reminder.updated: a reminder the pass stored as open, completed in Affinity.
	var open *affinitytest.Reminder
	for _, m := range ws.Reminders {
		if m.CompletedAt == nil && d.scalar(t, `SELECT count(*) FROM affinity.reminders WHERE id = $1 AND completed_at IS NULL AND status <> 0`, m.ID) == 1 {
			open = m
			break
		}
	}
	require.NotNil(t, open, "an open reminder in the warehouse")
	var done affinitytest.Reminder
	d.fake.Mutate(func(w *affinitytest.Workspace) { done = *w.CompleteReminder(open.ID) })
	body, err = d.fake.Object("/reminders/" + strconv.FormatInt(open.ID, 10))
	require.NoError(t, err)
	require.NoError(t, d.fake.Deliver(ctx, hook, "reminder.updated", body))
	r = d.waitRefresh(t)
	require.NoError(t, r.err)
	require.Equal(t, refreshed{kind: loader.ObjectReminder, id: open.ID}, r)
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.reminders WHERE id = $1 AND status = $2
		AND completed_at = $3 AND completer_id = $4 AND deleted_at IS NULL`, open.ID, affinitytest.ReminderCompleted, *done.CompletedAt, *done.CompleterID))
	require.Equal(t, loader.DeliveryRefreshed, outcome("reminder.updated", open.ID))

	// reminder.deleted: soft-deleted before the 200, without a request.
	d.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteReminder(open.ID) })
	require.NoError(t, d.fake.Deliver(ctx, hook, "reminder.deleted", body))
	require.Equal(t, int64(1), d.scalar(t, `SELECT count(*) FROM affinity.reminders WHERE id = $1 AND deleted_at IS NOT NULL`, open.ID))
	require.Equal(t, loader.DeliveryDeleted, outcome("reminder.deleted", open.ID))

	// Three refreshes, one request each; the deletes cost none.
	require.Equal(t, map[string]int{"GET /entity-files/{id}": 1, "GET /reminders/{id}": 2}, d.fake.Requests())
	require.Equal(t, int64(5), d.scalar(t, `SELECT count(*) FROM affinity.sync_webhook_deliveries`))
	_, scrape := d.get(t, "/metrics")
	v, ok := metric(t, scrape, `affinity_sync_stream_requests_total{stream="webhook"}`)
	require.True(t, ok, scrape)
	require.Equal(t, 3.0, v, "the refreshes' requests count for webhook")
	for series, want := range map[string]float64{
		`affinity_sync_webhook_refreshes_total{kind="file",result="refreshed"}`:             1,
		`affinity_sync_webhook_refreshes_total{kind="reminder",result="refreshed"}`:         2,
		`affinity_sync_webhook_deliveries_total{outcome="deleted",type="file.deleted"}`:     1,
		`affinity_sync_webhook_deliveries_total{outcome="deleted",type="reminder.deleted"}`: 1,
	} {
		v, ok := metric(t, scrape, series)
		require.True(t, ok, "%s\n%s", series, scrape)
		require.Equal(t, want, v, series)
	}
}
