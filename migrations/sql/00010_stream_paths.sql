-- The API path each stream's last pass took (docs/api-v2.md): field_values and
-- organization_details read through API v1 or v2, chosen per pass by cost and by the probe.
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

CREATE TABLE sync_stream_paths (
    stream     text PRIMARY KEY,
    path       text NOT NULL,
    reason     text NOT NULL,
    decided_at timestamptz NOT NULL
);

COMMENT ON TABLE sync_stream_paths IS 'Bookkeeping: the API path the last pass of each stream took and why (streams with one path have no row). status and status --json print it.';
COMMENT ON COLUMN sync_stream_paths.stream IS 'Stream name (field_values, organization_details).';
COMMENT ON COLUMN sync_stream_paths.path IS 'v1 (every request through API v1) or v1+v2 (v2 pages for what v2 reads cheaper, then v1 for what is still due).';
COMMENT ON COLUMN sync_stream_paths.reason IS 'Why the pass took that path: the cost comparison, or what the v2 probe found (a refusal or a difference with v1) when it fell back to v1.';
COMMENT ON COLUMN sync_stream_paths.decided_at IS 'When the pass chose the path.';

-- +goose Down
DROP TABLE sync_stream_paths;
