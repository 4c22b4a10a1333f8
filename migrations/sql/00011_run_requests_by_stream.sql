-- The requests of each run, by what sent them: each stream, the workspace check. status and
-- status --json print them for the last run.
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

ALTER TABLE sync_runs ADD COLUMN requests_by_stream jsonb;

COMMENT ON COLUMN sync_runs.requests_by_stream IS 'API requests spent by the run, by what sent them: an object of stream name (and "(workspace check)" for the key''s workspace check before the streams) to requests, retries and failures included; the values add up to requests. Null while the run is running and for runs recorded before this column existed.';

-- +goose Down
ALTER TABLE sync_runs DROP COLUMN requests_by_stream;
