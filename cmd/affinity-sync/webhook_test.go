package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

func TestWebhookSubscribe(t *testing.T) {
	t.Parallel()
	const key, token = "webhook-cli-key", "cli-hook-token-31337"
	fake := affinitytest.NewServer(smallWorkspace(), affinitytest.WithAPIKey(key))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": srv.URL, "DATABASE_URL": pgtest.NewDatabase(t),
		"AFFINITY_WEBHOOK_TOKEN": token}
	cfg := quickConfig(t)
	subscribe := func(env map[string]string, args ...string) (int, string) {
		code, stdout, stderr := runCLI(t, env, append([]string{"--config", cfg, "webhook", "subscribe"}, args...)...)
		require.NotContains(t, stdout+stderr, token)
		require.NotContains(t, stdout+stderr, key)
		return code, stdout + stderr
	}

	code, out := subscribe(env, "--url", "https://a.example/webhooks/affinity", "--events", "person.updated,list_entry.deleted")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "subscribed: subscription 1 delivers person.updated, list_entry.deleted to https://a.example/webhooks/affinity")
	code, out = subscribe(env, "--url", "https://a.example/webhooks/affinity")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "already subscribed")
	for _, host := range []string{"b", "c"} {
		code, out = subscribe(env, "--url", "https://"+host+".example/webhooks/affinity")
		require.Equal(t, exitOK, code, out)
	}
	code, out = subscribe(env, "--url", "https://d.example/webhooks/affinity")
	require.Equal(t, exitFailed, code)
	require.Contains(t, out, "already has 3 subscriptions")

	subs := fake.Webhooks()
	require.Len(t, subs, 3)
	u, err := url.Parse(subs[0].WebhookURL)
	require.NoError(t, err)
	require.Equal(t, token, u.Query().Get("token"), "the token is part of the URL Affinity posts to")
	require.Equal(t, []string{"person.updated", "list_entry.deleted"}, subs[0].Subscriptions)
	require.Equal(t, 3, fake.Requests()["POST /webhook/subscribe"])

	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"no url", nil, env},
		{"relative url", []string{"--url", "/webhooks/affinity"}, env},
		{"token in url", []string{"--url", "https://e.example/h?token=x"}, env},
		{"no token", []string{"--url", "https://e.example/h"}, map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": srv.URL}},
	} {
		code, _ := subscribe(tc.env, tc.args...)
		require.Equal(t, exitUsage, code, tc.name)
	}
	code, _, _ = runCLI(t, env, "webhook", "unsubscribe")
	require.Equal(t, exitUsage, code)
}

// TestDaemonServesHTTP runs the daemon with its HTTP side on a free port: after its start-up
// pass it is ready and its metrics show the run, and a delivered list_entry.deleted is applied
// before the daemon answers.
func TestDaemonServesHTTP(t *testing.T) {
	t.Parallel()
	const key, token = "daemon-http-key", "daemon-hook-token-4242"
	fake := affinitytest.NewServer(smallWorkspace(), affinitytest.WithAPIKey(key))
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": api.URL, "DATABASE_URL": dbURL,
		"AFFINITY_WEBHOOK_TOKEN": token}
	cfgPath := writeFile(t, "daemon.yaml", `quota:
  per_minute: 0
schedule:
  sync: "0 3 1 1 *"
  changes: "0 4 1 1 *"
server:
  addr: 127.0.0.1:0
  ready_max_age: 1h
log:
  format: json
`, 0o600)
	ctx, cancel := context.WithCancel(t.Context())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--config", cfgPath, "daemon"}, io.Discard, &stderr, envOf(env)) }()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, exitOK, <-done, stderr.String())
		require.NotContains(t, stderr.String(), token)
	})

	listening := regexp.MustCompile(`"msg":"http server listening","addr":"([^"]+)"`)
	var base string
	waitFor(t, "the http server", func() bool {
		m := listening.FindStringSubmatch(stderr.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil
	})
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, _ := get("/healthz")
	require.Equal(t, http.StatusOK, status)
	waitFor(t, "the start-up pass", func() bool { s, _ := get("/readyz"); return s == http.StatusOK })
	// The run is recorded (ready) a moment before the job reports it to the metrics.
	var scrape string
	waitFor(t, "the start-up pass in the metrics", func() bool {
		status, scrape = get("/metrics")
		return status == http.StatusOK && strings.Contains(scrape, `affinity_sync_runs_total{job="sync",result="completed"} 1`)
	})
	require.Contains(t, scrape, `affinity_sync_api_requests_total{endpoint="/persons",status="200"}`)

	conn := connect(t, dbURL)
	entry := fake.Snapshot().ListEntries[0]
	body, err := fake.Object("/lists/" + strconv.FormatInt(entry.ListID, 10) + "/list-entries/" + strconv.FormatInt(entry.ID, 10))
	require.NoError(t, err)
	fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteListEntry(entry.ID) })
	err = fake.Deliver(t.Context(), base+"/webhooks/affinity?token=wrong", "list_entry.deleted", json.RawMessage(body))
	require.Equal(t, http.StatusUnauthorized, affinitytest.DeliveryStatus(err))
	require.NoError(t, fake.Deliver(t.Context(), base+"/webhooks/affinity?token="+token, "list_entry.deleted", json.RawMessage(body)))
	var deleted bool
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT deleted_at IS NOT NULL FROM affinity.list_entries WHERE id = $1`, entry.ID).Scan(&deleted))
	require.True(t, deleted)
	var recorded int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM affinity.sync_webhook_deliveries`).Scan(&recorded))
	require.Equal(t, 1, recorded, "the refused delivery is not recorded")
	require.False(t, strings.Contains(stderr.String(), `"level":"ERROR"`), stderr.String())
}
