package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Deliveries is what the webhook endpoint writes; *loader.Store satisfies it.
type Deliveries interface {
	RecordDelivery(ctx context.Context, d loader.WebhookDelivery) (int64, error)
	SetDeliveryOutcome(ctx context.Context, ids []int64, outcome, errText string) error
	SoftDeleteObject(ctx context.Context, kind loader.ObjectKind, id int64) (int64, error)
	EntityTypeOf(ctx context.Context, fieldID int64, listEntryID *int64) (loader.EntityKind, bool, error)
	// QueuedDeliveries are the deliveries whose refresh has not run, oldest first.
	QueuedDeliveries(ctx context.Context) ([]loader.QueuedDelivery, error)
}

// delivery is Affinity's webhook payload.
type delivery struct {
	Type   string          `json:"type"`
	Body   json.RawMessage `json:"body"`
	SentAt json.RawMessage `json:"sent_at"`
}

// object is what the handler reads from a delivery's body; every field is optional.
type object struct {
	ID          *int64             `json:"id"`
	EntityID    *int64             `json:"entity_id"`
	EntityType  *loader.EntityKind `json:"entity_type"`
	ListID      *int64             `json:"list_id"`
	ListEntryID *int64             `json:"list_entry_id"`
	FieldID     *int64             `json:"field_id"`

	// organization.merged has a body of its own: the organization merged away
	// (removed_company) and the one that remains (company).
	RemovedCompany *objectRef `json:"removed_company"`
	Company        *objectRef `json:"company"`
}

// objectRef is an object nested in a delivery's body.
type objectRef struct {
	ID *int64 `json:"id"`
}

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
