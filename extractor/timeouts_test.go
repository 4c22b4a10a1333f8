package extractor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
)

// TestRequestTimeoutsAreRetried: requests that outlast the client's timeout
// are retried like any transport fault, each counted, and the pass ends exact.
func TestRequestTimeoutsAreRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, smallWorkspace())
	var slow, seen atomic.Int64
	slow.Store(2)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if r.URL.Path == "/persons" && slow.Add(-1) >= 0 {
			select { // hang longer than the client waits
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
				return
			}
		}
		h.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	var attempts atomic.Int64
	client, err := affinity.NewClient(hs.URL, testKey, affinity.WithPerMinute(0),
		affinity.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}),
		affinity.WithRetry(6, 10*time.Millisecond, 50*time.Millisecond),
		affinity.WithReserve(func(context.Context) error { attempts.Add(1); return nil }))
	require.NoError(t, err)

	res := h.syncer(client).Run(t.Context(), []string{extractor.StreamPersons})
	requireComplete(t, res)
	h.requirePersonsEqual(t, h.fake.Snapshot())
	require.Equal(t, seen.Load(), attempts.Load(), "every attempt, the timed-out ones too, was reserved")
	require.Negative(t, slow.Load(), "both slow requests were retried")
}
