-- The change feed through API v2 (docs/api-v2.md): which tracked fields have a complete
-- history read through API v1, and where the v2 feed stands. Both are written in the
-- transaction that stores the changes they describe.
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

CREATE TABLE sync_change_histories (
    field_id bigint PRIMARY KEY,
    read_at  timestamptz NOT NULL
);

COMMENT ON TABLE sync_change_histories IS 'Bookkeeping: the tracked fields in scope whose whole change history was read through API v1, the backfill the v2 change feed starts from. A field leaving scope loses its row, so it is read whole again when it comes back.';
COMMENT ON COLUMN sync_change_histories.field_id IS 'The tracked field (fields.id).';
COMMENT ON COLUMN sync_change_histories.read_at IS 'When its last complete history read was sent: every change of the field made before is stored.';

CREATE TABLE sync_change_feed (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark timestamptz,
    probed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE sync_change_feed IS 'Bookkeeping: where the v2 change feed (GET /v2/field-value-changes) stands; one row.';
COMMENT ON COLUMN sync_change_feed.singleton IS 'Always true: the table holds one row.';
COMMENT ON COLUMN sync_change_feed.watermark IS 'The newest changed_at of the feed pages stored (W): the next read asks for changedAt >= W minus 10 minutes, skipping the changes already stored.';
COMMENT ON COLUMN sync_change_feed.probed_at IS 'When the feed last agreed with API v1 on one field (the probe): the first feed read of each UTC day, and the first after a history read through v1, is probed again.';
COMMENT ON COLUMN sync_change_feed.updated_at IS 'When the row was last written.';

-- +goose Down
DROP TABLE sync_change_feed;
DROP TABLE sync_change_histories;
