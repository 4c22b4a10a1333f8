package affinitytest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

func TestDeliverAndObject(t *testing.T) {
	t.Parallel()
	fake := affinitytest.NewServer(affinitytest.Generate(affinitytest.DefaultConfig()))
	entry := fake.Snapshot().ListEntries[0]
	body, err := fake.Object("/lists/" + itoa(entry.ListID) + "/list-entries/" + itoa(entry.ID))
	require.NoError(t, err)
	require.Zero(t, fake.TotalRequests(), "Object is no request")
	var got struct {
		ID, ListID int64
		Entity     map[string]any
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, entry.ID, got.ID)
	_, err = fake.Object("/lists/1/list-entries/999999999")
	require.Error(t, err)

	received := make(chan map[string]any, 1)
	status := http.StatusOK
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := map[string]any{}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &d)
		d["method"], d["token"] = r.Method, r.URL.Query().Get("token")
		received <- d
		w.WriteHeader(status)
	}))
	t.Cleanup(hook.Close)
	require.NoError(t, fake.Deliver(t.Context(), hook.URL+"/h?token=s3", "list_entry.deleted", json.RawMessage(body)))
	d := <-received
	require.Equal(t, http.MethodPost, d["method"])
	require.Equal(t, "s3", d["token"])
	require.Equal(t, "list_entry.deleted", d["type"])
	require.Equal(t, float64(entry.ID), d["body"].(map[string]any)["id"])
	require.IsType(t, float64(0), d["sent_at"], "unix seconds")

	status = http.StatusUnauthorized
	err = fake.Deliver(t.Context(), hook.URL+"/h?token=s3", "person.updated", map[string]int{"id": 1})
	<-received
	require.Equal(t, http.StatusUnauthorized, affinitytest.DeliveryStatus(err))
}

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	fake := affinitytest.NewServer(affinitytest.Generate(affinitytest.DefaultConfig()), affinitytest.WithAPIKey("k"))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	do := func(method, path, body string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.SetBasicAuth("", "k")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := do(http.MethodGet, "/webhook", "")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `[]`, body)
	for i := range affinitytest.MaxWebhookSubscriptions {
		code, body = do(http.MethodPost, "/webhook/subscribe", `{"webhook_url":"https://x.example/`+itoa(int64(i))+`"}`)
		require.Equal(t, http.StatusOK, code, body)
	}
	code, _ = do(http.MethodPost, "/webhook/subscribe", `{"webhook_url":"https://x.example/4"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, "three per instance")
	code, _ = do(http.MethodDelete, "/webhook/2", "")
	require.Equal(t, http.StatusOK, code)
	code, _ = do(http.MethodGet, "/webhook/2", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = do(http.MethodPost, "/webhook/subscribe", `{"webhook_url":"https://x.example/4","subscriptions":["person.updated"]}`)
	require.Equal(t, http.StatusOK, code)
	code, _ = do(http.MethodPost, "/webhook/subscribe", `{"webhook_url":""}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	code, _ = do(http.MethodPut, "/webhook", "")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Len(t, fake.Webhooks(), 3)
	require.Equal(t, []string{"person.updated"}, fake.Webhooks()[2].Subscriptions)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
