-- Which scheduled job a run belongs to, so that plan --month, status and /metrics can project
-- each job's cost to the month's end from its recent runs (docs/quota.md).
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

ALTER TABLE sync_runs ADD COLUMN job text;

COMMENT ON COLUMN sync_runs.job IS 'The daemon''s scheduled job that ran it: sync (full pass) or changes (change feed and targeted refresh). Null for runs of the sync command and runs recorded before this column existed; the month''s projection counts those as sync when they ran every enabled stream and as changes when they ran exactly the changes streams.';

-- +goose Down
ALTER TABLE sync_runs DROP COLUMN job;
