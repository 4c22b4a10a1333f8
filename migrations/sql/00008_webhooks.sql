-- Webhook deliveries (docs/cli.md, "daemon"): every delivery the daemon accepted (right token,
-- JSON body) is recorded here before it gets its 200, with what became of it.
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

CREATE TABLE sync_webhook_deliveries (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    type        text NOT NULL,
    object_id   bigint,
    sent_at     timestamptz,
    body        jsonb,
    outcome     text NOT NULL,
    error       text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_webhook_deliveries_received_idx ON sync_webhook_deliveries (received_at);

COMMENT ON TABLE sync_webhook_deliveries IS 'Bookkeeping: every Affinity webhook delivery the daemon accepted (POST /webhooks/affinity with the right token and a JSON body), recorded before it was answered 200. Refused deliveries (wrong token, not JSON) are not recorded.';
COMMENT ON COLUMN sync_webhook_deliveries.id IS 'Delivery number, in order of arrival.';
COMMENT ON COLUMN sync_webhook_deliveries.received_at IS 'When the daemon received the delivery.';
COMMENT ON COLUMN sync_webhook_deliveries.type IS 'The event name as sent (type), e.g. person.updated, list_entry.deleted; unknown names are kept as received.';
COMMENT ON COLUMN sync_webhook_deliveries.object_id IS 'The id of the object in the body (body.id), null when it has none.';
COMMENT ON COLUMN sync_webhook_deliveries.sent_at IS 'When Affinity sent it (sent_at, unix seconds), null when absent or unreadable.';
COMMENT ON COLUMN sync_webhook_deliveries.body IS 'The delivery''s body element as received (the object as the REST API returns it).';
COMMENT ON COLUMN sync_webhook_deliveries.outcome IS 'What became of it: received (being handled), deleted (a *.deleted applied before the 200), queued (a targeted refresh waits), refreshed (that refresh committed), ignored (an event the warehouse does not follow), failed (see error).';
COMMENT ON COLUMN sync_webhook_deliveries.error IS 'Why handling failed, null otherwise.';
COMMENT ON COLUMN sync_webhook_deliveries.updated_at IS 'When outcome last changed.';

-- +goose Down
DROP TABLE sync_webhook_deliveries;
