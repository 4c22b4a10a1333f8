package extractor_test

import (
	"context"
	"errors"
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
//
// No wall clock is involved: the server holds a slow request for good (until it is
// cancelled) and the client's timeout is the hangingTransport below, which fires as soon as
// the server reports that it holds the request. A real timer would have to be longer than
// the slowest honest answer on a loaded machine, which no fixed value can promise.
func TestRequestTimeoutsAreRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, smallWorkspace())
	var seen atomic.Int64
	held := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if r.Header.Get(holdHeader) != "" {
			select { // tell the client's timeout, then hang until the client gives up
			case held <- struct{}{}:
				<-r.Context().Done()
			case <-r.Context().Done():
			}
			return
		}
		h.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)

	transport := &hangingTransport{base: &http.Transport{}, held: held}
	transport.slow.Store(2)
	t.Cleanup(transport.base.CloseIdleConnections)
	var attempts atomic.Int64
	client, err := affinity.NewClient(hs.URL, testKey, affinity.WithPerMinute(0),
		affinity.WithHTTPClient(&http.Client{Transport: transport}),
		affinity.WithRetry(6, time.Millisecond, time.Millisecond),
		affinity.WithReserve(func(context.Context) error { attempts.Add(1); return nil }))
	require.NoError(t, err)

	res := h.syncer(client).Run(t.Context(), []extractor.StreamName{extractor.StreamPersons})
	requireComplete(t, res)
	h.requirePersonsEqual(t, h.fake.Snapshot())
	require.Equal(t, seen.Load(), attempts.Load(), "every attempt, the timed-out ones too, was reserved")
	require.Negative(t, transport.slow.Load(), "both slow requests timed out and were retried")
}

// holdHeader marks a request the test server holds until the client cancels it.
const holdHeader = "X-Test-Hold"

// hangingTransport makes the first slow GETs of /persons time out the way an
// http.Transport's ResponseHeaderTimeout does, but on an event instead of a timer: it marks
// the request, waits until the server says it holds it, then cancels it and answers with a
// timeout error. Every other request goes to base untouched.
type hangingTransport struct {
	base *http.Transport
	held <-chan struct{}
	slow atomic.Int64 // how many more /persons requests time out
}

func (t *hangingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != "/persons" || t.slow.Add(-1) < 0 {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	req = req.Clone(ctx)
	req.Header.Set(holdHeader, "1")
	done := make(chan error, 1)
	go func() {
		resp, err := t.base.RoundTrip(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-t.held:
	case err := <-done: // the server never held it: let the test see why
		if err == nil {
			err = errNotHeld
		}
		return nil, err
	case <-ctx.Done():
		<-done
		return nil, ctx.Err()
	}
	cancel()
	<-done
	return nil, headerTimeout{}
}

// headerTimeout is the error of a request whose response headers did not come in time; like
// net/http's, it is a net.Error whose Timeout is true.
type headerTimeout struct{}

func (headerTimeout) Error() string   { return "timeout awaiting response headers" }
func (headerTimeout) Timeout() bool   { return true }
func (headerTimeout) Temporary() bool { return true }

// errNotHeld would mean the server answered a request it should have held.
var errNotHeld = errors.New("test server answered a request it should have held")
