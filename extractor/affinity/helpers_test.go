package affinity

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testKey = "sk-test-8f3a1c9e2b7d4f60"

// sleepRecorder replaces real waits: it records each wait and returns at once (or with
// ctx's error when ctx is done).
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// newTestClient serves h on a loopback httptest server and returns a client of it with no
// client-side limit, recorded sleeps and a fixed jitter of 0.5.
func newTestClient(t *testing.T, h http.Handler, opts ...Option) (*Client, *sleepRecorder) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rec := &sleepRecorder{}
	base := []Option{WithPerMinute(0), WithSleep(rec.sleep), WithRand(func() float64 { return 0.5 })}
	c, err := NewClient(srv.URL, testKey, append(base, opts...)...)
	require.NoError(t, err)
	return c, rec
}

// checkAuth fails the request with 401 unless it carries the test key as Basic auth.
func checkAuth(w http.ResponseWriter, r *http.Request) bool {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+testKey))
	if r.Header.Get("Authorization") != want {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":["unauthorized"]}`))
		return false
	}
	return true
}

// scripted answers the n-th request (0-based) with steps[n], repeating the last one, and
// counts requests.
type scripted struct {
	hits  atomic.Int32
	steps []http.HandlerFunc
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.hits.Add(1)) - 1
	if !checkAuth(w, r) {
		return
	}
	s.steps[min(n, len(s.steps)-1)](w, r)
}

func respond(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func readRecorded(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "recorded", name))
	require.NoError(t, err)
	return b
}

func ptr[T any](v T) *T { return &v }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm
}
