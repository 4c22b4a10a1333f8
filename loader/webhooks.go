package loader

import (
	"context"
	"fmt"
	"time"
)

// Outcomes of a webhook delivery (sync_webhook_deliveries.outcome).
const (
	DeliveryReceived  = "received"  // being handled
	DeliveryDeleted   = "deleted"   // a *.deleted applied before the 200
	DeliveryQueued    = "queued"    // a targeted refresh waits
	DeliveryRefreshed = "refreshed" // that refresh committed
	DeliveryIgnored   = "ignored"   // an event the warehouse does not follow
	DeliveryFailed    = "failed"    // see the error
)

// WebhookDelivery is one accepted Affinity webhook delivery.
type WebhookDelivery struct {
	Type     string
	ObjectID *int64     // body.id, when the body has one
	SentAt   *time.Time // sent_at, when readable
	Body     []byte     // the body element as received (JSON); nil = none
	Outcome  string     // DeliveryReceived when empty
}

// RecordDelivery stores a delivery and returns its id. NULs and the escapes jsonb rejects are
// replaced as in pages; a body that is not valid JSON is an error.
func (s *Store) RecordDelivery(ctx context.Context, d WebhookDelivery) (int64, error) {
	var c cleaner
	if d.Outcome == "" {
		d.Outcome = DeliveryReceived
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO `+s.table("sync_webhook_deliveries")+`
		(type, object_id, sent_at, body, outcome) VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING id`,
		c.str(d.Type), d.ObjectID, d.SentAt, jsonText(c.json(d.Body)), d.Outcome).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record webhook delivery %s: %w", c.str(d.Type), err)
	}
	return id, nil
}

// jsonText passes raw JSON to Postgres as text (nil stays SQL NULL), so the cast to jsonb is
// explicit in the statement.
func jsonText(raw []byte) *string {
	if raw == nil {
		return nil
	}
	s := string(raw)
	return &s
}

// SetDeliveryOutcome records what became of the deliveries ids; errText "" clears the error.
func (s *Store) SetDeliveryOutcome(ctx context.Context, ids []int64, outcome, errText string) error {
	if len(ids) == 0 {
		return nil
	}
	var c cleaner
	var e *string
	if errText != "" {
		cleaned := c.str(errText)
		e = &cleaned
	}
	_, err := s.pool.Exec(ctx, `UPDATE `+s.table("sync_webhook_deliveries")+`
		SET outcome = $2, error = $3, updated_at = now() WHERE id = ANY($1)`, ids, outcome, e)
	if err != nil {
		return fmt.Errorf("set outcome of webhook deliveries: %w", err)
	}
	return nil
}

// WebhookDeliveryRow is a stored delivery, as RecentDeliveries reads it.
type WebhookDeliveryRow struct {
	ID         int64
	ReceivedAt time.Time
	Type       string
	ObjectID   *int64
	Outcome    string
	Error      *string
}

// RecentDeliveries returns the n newest deliveries, newest first.
func (s *Store) RecentDeliveries(ctx context.Context, n int) ([]WebhookDeliveryRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, received_at, type, object_id, outcome, error
		FROM `+s.table("sync_webhook_deliveries")+` ORDER BY id DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("read webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []WebhookDeliveryRow
	for rows.Next() {
		var d WebhookDeliveryRow
		if err := rows.Scan(&d.ID, &d.ReceivedAt, &d.Type, &d.ObjectID, &d.Outcome, &d.Error); err != nil {
			return nil, fmt.Errorf("read webhook deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read webhook deliveries: %w", err)
	}
	return out, nil
}

// QueuedDelivery is a delivery answered 200 whose targeted refresh has not run yet.
type QueuedDelivery struct {
	ID   int64
	Type string
	Body []byte // the body element as stored (JSON); nil = none
}

// QueuedDeliveries returns the deliveries still waiting for their refresh (outcome queued),
// oldest first: what a daemon that stopped before running them left behind.
func (s *Store) QueuedDeliveries(ctx context.Context) ([]QueuedDelivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, type, body::text FROM `+s.table("sync_webhook_deliveries")+`
		WHERE outcome = $1 ORDER BY id`, DeliveryQueued)
	if err != nil {
		return nil, fmt.Errorf("read queued webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []QueuedDelivery
	for rows.Next() {
		var d QueuedDelivery
		var body *string
		if err := rows.Scan(&d.ID, &d.Type, &body); err != nil {
			return nil, fmt.Errorf("read queued webhook deliveries: %w", err)
		}
		if body != nil {
			d.Body = []byte(*body)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read queued webhook deliveries: %w", err)
	}
	return out, nil
}
