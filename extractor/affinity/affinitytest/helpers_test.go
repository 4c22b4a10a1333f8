package affinitytest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testKey = "test-key-123"

// fixture is one fake server behind a real HTTP listener.
type fixture struct {
	t   *testing.T
	srv *Server
	url string
}

func newFixture(t *testing.T, ws *Workspace, opts ...Option) *fixture {
	t.Helper()
	srv := NewServer(ws, append([]Option{WithAPIKey(testKey)}, opts...)...)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &fixture{t: t, srv: srv, url: hs.URL}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(path string, auth string) response {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), http.MethodGet, f.url+path, nil)
	require.NoError(f.t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func basic(user, key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+key))
}

// get sends an authorized GET and requires the status.
func (f *fixture) get(path string, status int) response {
	f.t.Helper()
	r := f.do(path, basic("", testKey))
	require.Equal(f.t, status, r.status, "GET %s: %s", path, r.body)
	return r
}

// getJSON sends an authorized GET, requires 200 and decodes the body into v.
func (f *fixture) getJSON(path string, v any) {
	f.t.Helper()
	r := f.get(path, http.StatusOK)
	require.NoError(f.t, json.Unmarshal(r.body, v), "GET %s", path)
}

func (f *fixture) page(path, key string) ([]map[string]any, *string) {
	f.t.Helper()
	var raw map[string]json.RawMessage
	f.getJSON(path, &raw)
	tok, ok := raw["next_page_token"]
	require.True(f.t, ok, "GET %s: no next_page_token key", path)
	var next *string
	require.NoError(f.t, json.Unmarshal(tok, &next))
	var items []map[string]any
	require.NoError(f.t, json.Unmarshal(raw[key], &items), "GET %s: key %q", path, key)
	require.NotNil(f.t, items, "GET %s: %q must be an array", path, key)
	return items, next
}

// all pages through a paged endpoint; q holds the fixed params.
func (f *fixture) all(path, key string, q url.Values) []map[string]any {
	f.t.Helper()
	var out []map[string]any
	token := ""
	for range 10000 {
		v := url.Values{}
		for k, s := range q {
			v[k] = s
		}
		if token != "" {
			v.Set("page_token", token)
		}
		items, next := f.page(path+"?"+v.Encode(), key)
		out = append(out, items...)
		if next == nil {
			return out
		}
		token = *next
	}
	f.t.Fatalf("GET %s: paging does not end", path)
	return nil
}

func idOf(t *testing.T, m map[string]any) int64 {
	t.Helper()
	n, ok := m["id"].(float64)
	require.True(t, ok, "id of %v", m)
	return int64(n)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
