package affinitytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
)

// MaxWebhookSubscriptions is Affinity's limit of webhook subscriptions per instance.
const MaxWebhookSubscriptions = 3

// webhookEvents are the event names of the reference's webhook section.
var webhookEvents = []string{
	"list.created", "list.updated", "list.deleted",
	"list_entry.created", "list_entry.deleted",
	"note.created", "note.updated", "note.deleted",
	"field.created", "field.updated", "field.deleted",
	"field_value.created", "field_value.updated", "field_value.deleted",
	"person.created", "person.updated", "person.deleted",
	"organization.created", "organization.updated", "organization.deleted", "organization.merged",
	"opportunity.created", "opportunity.updated", "opportunity.deleted",
	"file.created", "file.deleted",
	"reminder.created", "reminder.updated", "reminder.deleted",
}

// WebhookSubscription is a subscription as GET /webhook serves it; empty Subscriptions means
// every event.
type WebhookSubscription struct {
	ID            int64    `json:"id"`
	WebhookURL    string   `json:"webhook_url"`
	Subscriptions []string `json:"subscriptions"`
	Disabled      bool     `json:"disabled"`
	CreatedBy     int64    `json:"created_by"`
}

// webhooks is the fake's subscription table. It lives beside the workspace (it is not CRM
// data) with its own lock.
type webhooks struct {
	mu     sync.Mutex
	subs   []WebhookSubscription
	nextID int64
}

// Webhooks returns the subscriptions made so far.
func (s *Server) Webhooks() []WebhookSubscription {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	out := make([]WebhookSubscription, len(s.hooks.subs))
	for i, sub := range s.hooks.subs {
		sub.Subscriptions = slices.Clone(sub.Subscriptions)
		out[i] = sub
	}
	return out
}

// serveWebhooks answers the webhook endpoints (already authorized and counted) and reports
// whether the request was one of them: GET /webhook, GET and DELETE /webhook/{id}, and POST
// /webhook/subscribe, which refuses a fourth subscription with 422 as Affinity does.
func (s *Server) serveWebhooks(w http.ResponseWriter, r *http.Request, rt route) bool {
	h := &s.hooks
	switch {
	case rt.template == "/webhook" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Webhooks())
	case rt.template == "/webhook/{id}" && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		h.mu.Lock()
		i := slices.IndexFunc(h.subs, func(sub WebhookSubscription) bool { return sub.ID == rt.ids[0] })
		if i < 0 {
			h.mu.Unlock()
			writeError(w, http.StatusNotFound, "Webhook subscription not found")
			return true
		}
		sub := h.subs[i]
		if r.Method == http.MethodDelete {
			h.subs = slices.Delete(h.subs, i, i+1)
		}
		h.mu.Unlock()
		if r.Method == http.MethodDelete {
			writeJSON(w, http.StatusOK, map[string]bool{"success": true})
			return true
		}
		writeJSON(w, http.StatusOK, sub)
	case rt.template == "/webhook/subscribe" && r.Method == http.MethodPost:
		var req struct {
			URL    string   `json:"webhook_url"`
			Events []string `json:"subscriptions"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "body is not JSON")
			return true
		}
		if req.URL == "" {
			writeError(w, http.StatusUnprocessableEntity, "webhook_url is required")
			return true
		}
		for _, e := range req.Events {
			if !slices.Contains(webhookEvents, e) {
				writeError(w, http.StatusUnprocessableEntity, "unknown event "+strconv.Quote(e))
				return true
			}
		}
		h.mu.Lock()
		if len(h.subs) >= MaxWebhookSubscriptions {
			h.mu.Unlock()
			writeError(w, http.StatusUnprocessableEntity, "Webhook subscription limit reached (3 per instance)")
			return true
		}
		h.nextID++
		sub := WebhookSubscription{ID: h.nextID, WebhookURL: req.URL, Subscriptions: append([]string{}, req.Events...), CreatedBy: 1}
		h.subs = append(h.subs, sub)
		h.mu.Unlock()
		writeJSON(w, http.StatusOK, sub)
	case rt.template == "/webhook" || rt.template == "/webhook/{id}" || rt.template == "/webhook/subscribe":
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
	default:
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode response")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Object renders what a GET of path (e.g. "/lists/3/list-entries/17" or "/persons/5") answers
// now, as a delivery body, without counting a request. It is how a test builds the body of a
// delivery before it mutates the workspace.
func (s *Server) Object(path string) (json.RawMessage, error) {
	rt := matchRoute(s.routes, path)
	if !rt.found || rt.handle == nil {
		return nil, fmt.Errorf("object %s: no such endpoint", path)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	s.mu.RLock()
	body, aerr := rt.handle(s.ws, s.ws.index(), req, rt.ids)
	s.mu.RUnlock()
	if aerr != nil {
		return nil, fmt.Errorf("object %s: status %d: %s", path, aerr.status, aerr.msg)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", path, err)
	}
	return b, nil
}

// Deliver sends one webhook delivery to url the way Affinity does: a POST of {"type", "body",
// "sent_at"} (sent_at in unix seconds, from the server's clock). body is marshalled as is (a
// json.RawMessage from Object stays what it was). A non-2xx answer is an error naming the
// status.
func (s *Server) Deliver(ctx context.Context, url, event string, body any) error {
	payload, err := json.Marshal(map[string]any{"type": event, "body": body, "sent_at": s.now().Unix()})
	if err != nil {
		return fmt.Errorf("deliver %s: encode: %w", event, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("deliver %s: %w", event, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "affinitytest-webhooks")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("deliver %s: %w", event, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &DeliveryError{Event: event, StatusCode: resp.StatusCode}
	}
	return nil
}

// DeliveryError is a delivery the receiver did not accept.
type DeliveryError struct {
	Event      string
	StatusCode int
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("deliver %s: status %d %s", e.Event, e.StatusCode, http.StatusText(e.StatusCode))
}

// DeliveryStatus returns the status of a *DeliveryError in err's chain, or 0.
func DeliveryStatus(err error) int {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.StatusCode
	}
	return 0
}
