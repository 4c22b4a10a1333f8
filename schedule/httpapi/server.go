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
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/loader"
)

// Health answers /readyz; *loader.Store satisfies it.
type Health interface {
	Ping(ctx context.Context) error
	// LastCompletedRun is the end of the newest run recorded as completed; nil = none.
	LastCompletedRun(ctx context.Context) (*time.Time, error)
}

// Deliveries is what the webhook endpoint writes; *loader.Store satisfies it.
type Deliveries interface {
	RecordDelivery(ctx context.Context, d loader.WebhookDelivery) (int64, error)
	SetDeliveryOutcome(ctx context.Context, ids []int64, outcome, errText string) error
	SoftDeleteObject(ctx context.Context, kind loader.ObjectKind, id int64) (int64, error)
	EntityTypeOf(ctx context.Context, fieldID int64, listEntryID *int64) (loader.EntityKind, bool, error)
	// QueuedDeliveries are the deliveries whose refresh has not run, oldest first.
	QueuedDeliveries(ctx context.Context) ([]loader.QueuedDelivery, error)
}

// Refresher runs targeted refreshes; *extractor.Refresher satisfies it.
type Refresher interface {
	RefreshEntity(ctx context.Context, k loader.EntityKind, id int64) (extractor.RefreshStats, error)
	RefreshListEntry(ctx context.Context, listID, entryID int64) (extractor.RefreshStats, error)
	RefreshList(ctx context.Context, id int64) (extractor.RefreshStats, error)
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

// ---- webhooks ----

// knownEvents are the event names of Affinity's webhook reference.
func knownEvent(name string) bool {
	switch name {
	case "list.created", "list.updated", "list.deleted",
		"list_entry.created", "list_entry.deleted",
		"note.created", "note.updated", "note.deleted",
		"field.created", "field.updated", "field.deleted",
		"field_value.created", "field_value.updated", "field_value.deleted",
		"person.created", "person.updated", "person.deleted",
		"organization.created", "organization.updated", "organization.deleted", "organization.merged",
		"opportunity.created", "opportunity.updated", "opportunity.deleted",
		"file.created", "file.deleted",
		"reminder.created", "reminder.updated", "reminder.deleted":
		return true
	}
	return false
}

// delivery is Affinity's webhook payload.
type delivery struct {
	Type   string          `json:"type"`
	Body   json.RawMessage `json:"body"`
	SentAt json.RawMessage `json:"sent_at"`
}

// object is what the handler reads from a delivery's body; every field is optional.
type object struct {
	ID          *int64 `json:"id"`
	EntityID    *int64 `json:"entity_id"`
	EntityType  *int   `json:"entity_type"`
	ListID      *int64 `json:"list_id"`
	ListEntryID *int64 `json:"list_entry_id"`
	FieldID     *int64 `json:"field_id"`

	// organization.merged has a body of its own: the organization merged away
	// (removed_company) and the one that remains (company).
	RemovedCompany *objectRef `json:"removed_company"`
	Company        *objectRef `json:"company"`
}

// objectRef is an object nested in a delivery's body.
type objectRef struct {
	ID *int64 `json:"id"`
}

// eventMerged is the one event that names two objects.
const eventMerged = "organization.merged"

func (r *objectRef) id() *int64 {
	if r == nil {
		return nil
	}
	return r.ID
}

// parseObject reads what the handler needs from a delivery's body. A body of another shape
// (an array, a string) names no object: the event is recorded, and acted on only if it
// needs none.
func parseObject(body []byte) object {
	var obj object
	if len(body) > 0 {
		_ = json.Unmarshal(body, &obj)
	}
	return obj
}

// target is one object a refresh re-reads; it is the key bursts coalesce on.
type target struct {
	kind   loader.ObjectKind // an entity's (EntityKind.Object), loader.ObjectListEntry or loader.ObjectList
	id     int64
	listID int64 // for a list entry
}

// tokenOK compares the token query parameter with the configured one in constant time (both
// hashed first, so not even the length leaks).
func (s *Server) tokenOK(r *http.Request) bool {
	got := sha256.Sum256([]byte(r.URL.Query().Get("token")))
	return r.URL.Query().Has("token") && subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	if !s.tokenOK(r) {
		s.opts.Metrics.observeDelivery("", "unauthorized")
		writeText(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.opts.Metrics.observeDelivery("", "bad_request")
			writeText(w, http.StatusRequestEntityTooLarge, "delivery too large")
			return
		}
		writeText(w, http.StatusBadRequest, "read delivery")
		return
	}
	var d delivery
	if err := json.Unmarshal(raw, &d); err != nil {
		s.opts.Metrics.observeDelivery("", "bad_request")
		writeText(w, http.StatusBadRequest, "delivery is not JSON")
		return
	}
	obj := parseObject(d.Body)
	rec := loader.WebhookDelivery{Type: d.Type, ObjectID: obj.ID, SentAt: sentAt(d.SentAt), Body: d.Body}
	ctx := r.Context()
	id, err := s.opts.Deliveries.RecordDelivery(ctx, rec)
	if err != nil {
		s.log.Error("webhook: record delivery", "type", d.Type, "error", err)
		s.opts.Metrics.observeDelivery(d.Type, loader.DeliveryFailed)
		writeText(w, http.StatusServiceUnavailable, "cannot record the delivery; send it again")
		return
	}
	outcome, status, herr := s.handle(ctx, id, d.Type, obj)
	errText := ""
	if herr != nil {
		errText = herr.Error()
		s.log.Error("webhook: handle delivery", "delivery", id, "type", d.Type, "error", herr)
	}
	if outcome != loader.DeliveryQueued || herr != nil {
		if err := s.opts.Deliveries.SetDeliveryOutcome(ctx, []int64{id}, outcome, errText); err != nil {
			s.log.Warn("webhook: record outcome", "delivery", id, "error", err)
		}
	}
	s.opts.Metrics.observeDelivery(d.Type, outcome)
	s.log.Info("webhook delivery", "delivery", id, "type", d.Type, "object_id", derefID(obj.ID), "outcome", outcome)
	if status != http.StatusOK {
		writeText(w, status, "delivery recorded; handling failed, send it again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, "{\"delivery\":%d,\"outcome\":%q}\n", id, outcome)
}

func derefID(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// sentAt reads sent_at: unix seconds, as a number or a numeric string.
func sentAt(raw json.RawMessage) *time.Time {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		n = json.Number(s)
	}
	secs, err := n.Int64()
	if err != nil {
		return nil
	}
	t := time.Unix(secs, 0).UTC()
	return &t
}

// handle acts on one recorded delivery: a *.deleted is applied now, a change is queued for a
// refresh, anything else is ignored; organization.merged soft-deletes the losing organization
// now and queues a refresh of the one that remains. It returns the delivery's outcome and the
// HTTP status.
func (s *Server) handle(ctx context.Context, deliveryID int64, eventType string, obj object) (string, int, error) {
	name, action, _ := strings.Cut(eventType, ".")
	if !knownEvent(eventType) {
		return loader.DeliveryIgnored, http.StatusOK, nil
	}
	if eventType == eventMerged {
		loser, winner := obj.RemovedCompany.id(), obj.Company.id()
		if loser == nil && winner == nil {
			return loader.DeliveryFailed, http.StatusOK, errors.New("merged event names neither organization (removed_company.id, company.id)")
		}
		if loser != nil {
			// The losing organization and its values, as if it had been deleted: Affinity
			// answers 404 for it from now on.
			n, err := s.opts.Deliveries.SoftDeleteObject(ctx, loader.ObjectOrganization, *loser)
			if err != nil {
				return loader.DeliveryFailed, http.StatusServiceUnavailable, err
			}
			s.opts.Metrics.observeDeleted(n)
		}
		if winner == nil {
			return loader.DeliveryDeleted, http.StatusOK, nil
		}
	}
	// The kinds the warehouse soft-deletes are loader's to say.
	if kind, ok := loader.ParseObjectKind(name); ok && action == "deleted" {
		if obj.ID == nil {
			return loader.DeliveryFailed, http.StatusOK, errors.New("deleted object has no id")
		}
		n, err := s.opts.Deliveries.SoftDeleteObject(ctx, kind, *obj.ID)
		if err != nil {
			// Not applied: ask Affinity to send it again.
			return loader.DeliveryFailed, http.StatusServiceUnavailable, err
		}
		s.opts.Metrics.observeDeleted(n)
		return loader.DeliveryDeleted, http.StatusOK, nil
	}
	t, ok, err := s.targetOf(ctx, eventType, obj)
	if err != nil {
		return loader.DeliveryFailed, http.StatusServiceUnavailable, err
	}
	if !ok {
		return loader.DeliveryIgnored, http.StatusOK, nil
	}
	// The outcome is recorded before the refresh can run, so "refreshed" is never overwritten.
	if err := s.opts.Deliveries.SetDeliveryOutcome(ctx, []int64{deliveryID}, loader.DeliveryQueued, ""); err != nil {
		return loader.DeliveryFailed, http.StatusServiceUnavailable, err
	}
	s.enqueue(t, deliveryID)
	return loader.DeliveryQueued, http.StatusOK, nil
}

// targetOf names what a created, updated or merged event refreshes; ok is false for events
// the warehouse does not follow (notes, files, reminders, global fields).
func (s *Server) targetOf(ctx context.Context, eventType string, obj object) (target, bool, error) {
	if eventType == eventMerged {
		// The organization that remains now holds what the losing one had.
		if winner := obj.Company.id(); winner != nil {
			return target{kind: loader.EntityOrganization.Object(), id: *winner}, true, nil
		}
		return target{}, false, nil
	}
	name, _, _ := strings.Cut(eventType, ".")
	kind, ok := loader.ParseObjectKind(name)
	if !ok {
		return target{}, false, nil
	}
	if _, entity := kind.Entity(); entity {
		if obj.ID == nil {
			return target{}, false, nil
		}
		return target{kind: kind, id: *obj.ID}, true, nil
	}
	switch kind {
	case loader.ObjectListEntry:
		if obj.ID == nil || obj.ListID == nil {
			return target{}, false, nil
		}
		return target{kind: kind, id: *obj.ID, listID: *obj.ListID}, true, nil
	case loader.ObjectList:
		if obj.ID == nil {
			return target{}, false, nil
		}
		return target{kind: kind, id: *obj.ID}, true, nil
	case loader.ObjectField:
		// v1 has no single-field GET: a list field is refreshed with its list.
		if obj.ListID == nil {
			return target{}, false, nil
		}
		return target{kind: loader.ObjectList, id: *obj.ListID}, true, nil
	case loader.ObjectFieldValue:
		if obj.EntityID == nil {
			return target{}, false, nil
		}
		var et *loader.EntityKind
		if obj.EntityType != nil {
			k := loader.EntityKind(*obj.EntityType)
			et = &k
		}
		if et == nil && obj.FieldID != nil {
			found, ok, err := s.opts.Deliveries.EntityTypeOf(ctx, *obj.FieldID, obj.ListEntryID)
			if err != nil {
				return target{}, false, err
			}
			if ok {
				et = &found
			}
		}
		if et == nil || !et.Valid() {
			return target{}, false, nil
		}
		return target{kind: et.Object(), id: *obj.EntityID}, true, nil
	}
	return target{}, false, nil
}

// enqueue adds a refresh of t, or joins the one already waiting.
func (s *Server) enqueue(t target, deliveryID int64) {
	s.mu.Lock()
	if _, waiting := s.pending[t]; !waiting {
		s.order = append(s.order, t)
	}
	s.pending[t] = append(s.pending[t], deliveryID)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest waiting refresh and its deliveries.
func (s *Server) next() (target, []int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return target{}, nil, false
	}
	t := s.order[0]
	s.order = s.order[1:]
	ids := s.pending[t]
	delete(s.pending, t)
	return t, ids, true
}

// RunWorker runs queued refreshes, one at a time, until ctx ends. It starts with the
// deliveries a stopped daemon left queued, as if they had just arrived. A delivery that
// arrives while its object is being refreshed queues one more refresh, since it may describe
// a change the running one did not see. Refreshes still waiting when ctx ends stay queued in
// the warehouse, for the next worker to start with.
func (s *Server) RunWorker(ctx context.Context) {
	s.requeue(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for ctx.Err() == nil {
			t, ids, ok := s.next()
			if !ok {
				break
			}
			s.refresh(ctx, t, ids)
		}
	}
}

// requeue queues the refreshes of the deliveries still waiting in the warehouse, coalesced
// by object like new deliveries. A failure to read them is logged: the scheduled passes
// catch up all the same.
func (s *Server) requeue(ctx context.Context) {
	if s.opts.WebhookToken == "" || s.opts.Deliveries == nil {
		return
	}
	queued, err := s.opts.Deliveries.QueuedDeliveries(ctx)
	if err != nil {
		s.log.Warn("webhook: read deliveries left queued", "error", err)
		return
	}
	if len(queued) == 0 {
		return
	}
	n := 0
	for _, d := range queued {
		t, ok, err := s.targetOf(ctx, d.Type, parseObject(d.Body))
		if err != nil {
			s.log.Warn("webhook: requeue delivery", "delivery", d.ID, "type", d.Type, "error", err)
			continue
		}
		if !ok {
			// Cannot happen for a delivery that was queued; say so rather than keep it forever.
			if err := s.opts.Deliveries.SetDeliveryOutcome(ctx, []int64{d.ID}, loader.DeliveryFailed,
				"queued delivery names nothing to refresh"); err != nil {
				s.log.Warn("webhook: record outcome", "delivery", d.ID, "error", err)
			}
			continue
		}
		s.enqueue(t, d.ID)
		n++
	}
	s.log.Info("webhook deliveries left queued by the last daemon: refreshing now", "deliveries", n)
}

func (s *Server) refresh(ctx context.Context, t target, ids []int64) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.RefreshTimeout)
	defer cancel()
	var stats extractor.RefreshStats
	var err error
	kind := t.kind
	switch k, entity := kind.Entity(); {
	case entity:
		stats, err = s.opts.Refresher.RefreshEntity(rctx, k, t.id)
	case kind == loader.ObjectListEntry:
		stats, err = s.opts.Refresher.RefreshListEntry(rctx, t.listID, t.id)
	case kind == loader.ObjectList:
		stats, err = s.opts.Refresher.RefreshList(rctx, t.id)
	default:
		err = fmt.Errorf("no targeted refresh of a %s", kind)
	}
	if err != nil && ctx.Err() != nil {
		// The worker is stopping: the refresh did not run to its end, so its deliveries stay
		// queued and the next worker starts with them.
		s.log.Info("webhook refresh interrupted by shutdown; its deliveries stay queued", "kind", kind, "id", t.id, "deliveries", len(ids))
		return
	}
	s.opts.Metrics.observeRefresh(kind, stats, err)
	outcome, errText := loader.DeliveryRefreshed, ""
	if err != nil {
		outcome, errText = loader.DeliveryFailed, err.Error()
		s.log.Warn("webhook refresh failed; the next scheduled pass catches up", "kind", kind, "id", t.id, "error", err)
	} else {
		s.log.Info("webhook refresh", "kind", kind, "id", t.id, "deliveries", len(ids), "rows", stats.Rows, "soft_deleted", stats.SoftDeleted)
	}
	octx, ocancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if oerr := s.opts.Deliveries.SetDeliveryOutcome(octx, ids, outcome, errText); oerr != nil {
		s.log.Warn("webhook: record refresh outcome", "error", oerr)
	}
	ocancel()
	if s.opts.OnRefresh != nil {
		s.opts.OnRefresh(kind, t.id, err)
	}
}
