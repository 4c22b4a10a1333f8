// Package httpapi is the daemon's HTTP side: /metrics in the Prometheus text format,
// /healthz, /readyz, and POST /webhooks/affinity, which records Affinity's webhook
// deliveries, applies a *.deleted (and the losing side of organization.merged) before it
// answers and queues a targeted refresh of anything else it follows. The refresh worker
// coalesces bursts by object: ten deliveries about one person while a refresh runs lead to
// one more refresh, not ten. A delivery answered 200 whose refresh had not run when the
// daemon stopped is refreshed as soon as the next worker starts.
//
// The package holds no SQL and no API calls of its own: the warehouse, the refresher and the
// budget come in through small interfaces.
package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Health answers /readyz; *loader.Store satisfies it.
type Health interface {
	Ping(ctx context.Context) error
	// LastCompletedRun is the end of the newest run recorded as completed; nil = none.
	LastCompletedRun(ctx context.Context) (*time.Time, error)
}

// Options configure a Server.
type Options struct {
	// WebhookToken is the secret the token query parameter must equal; "" turns the webhook
	// path off (404).
	WebhookToken string
	// ReadyMaxAge: /readyz fails when the last complete pass is older; 0 = any age.
	ReadyMaxAge time.Duration
	Health      Health
	Deliveries  Deliveries // required when WebhookToken is set
	Refresher   Refresher  // required when WebhookToken is set
	Metrics     *Metrics   // nil = a Metrics that reads nothing at scrape time
	Logger      *slog.Logger
	Now         func() time.Time
	// OnRefresh, when set, is called after every targeted refresh (tests wait on it).
	OnRefresh func(kind loader.ObjectKind, id int64, err error)
	// MaxBody bounds a delivery's size; default 1 MiB.
	MaxBody int64
	// RefreshTimeout bounds one targeted refresh; default 2 minutes.
	RefreshTimeout time.Duration
}

// Server is the daemon's HTTP handler and its refresh worker.
type Server struct {
	opts  Options
	log   *slog.Logger
	mux   *http.ServeMux
	token [sha256.Size]byte

	mu      sync.Mutex
	pending map[target][]int64 // deliveries waiting for each object's refresh
	order   []target           // first come, first refreshed
	wake    chan struct{}
}

// New returns a Server; run its worker with Serve or RunWorker.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(MetricsOptions{Logger: opts.Logger})
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.RefreshTimeout <= 0 {
		opts.RefreshTimeout = 2 * time.Minute
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux(),
		pending: map[target][]int64{}, wake: make(chan struct{}, 1)}
	s.token = sha256.Sum256([]byte(opts.WebhookToken))
	s.mux.Handle("GET /metrics", opts.Metrics.Handler())
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if opts.WebhookToken != "" {
		s.mux.HandleFunc("POST /webhooks/affinity", s.webhook)
	}
	return s
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve answers on ln and runs the refresh worker until ctx ends, then stops accepting, lets
// the requests in flight finish (bounded by shutdownTimeout) and waits for the worker.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		s.RunWorker(ctx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		err = srv.Shutdown(shutCtx)
		cancel()
		if e := <-serveErr; !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	<-workerDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// readyz answers 200 only when the database answers and the last complete pass is younger
// than ReadyMaxAge.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Health == nil {
		writeText(w, http.StatusServiceUnavailable, "not ready: no warehouse")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.opts.Health.Ping(ctx); err != nil {
		s.log.Warn("readyz: database does not answer", "error", err)
		writeText(w, http.StatusServiceUnavailable, "not ready: database does not answer")
		return
	}
	last, err := s.opts.Health.LastCompletedRun(ctx)
	switch {
	case err != nil:
		s.log.Warn("readyz: read last complete pass", "error", err)
		writeText(w, http.StatusServiceUnavailable, "not ready: cannot read the last complete pass")
	case last == nil:
		writeText(w, http.StatusServiceUnavailable, "not ready: no complete pass yet")
	case s.opts.ReadyMaxAge > 0 && s.opts.Now().Sub(*last) > s.opts.ReadyMaxAge:
		writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("not ready: last complete pass %s is older than %s",
			last.UTC().Format(time.RFC3339), s.opts.ReadyMaxAge))
	default:
		writeText(w, http.StatusOK, "ready: last complete pass "+last.UTC().Format(time.RFC3339))
	}
}
