-- The request ledger (docs/quota.md): every API request is reserved here, per UTC
-- day and per UTC month, before it is sent, so restarts, crashes and replicas never reset or
-- under-count the budget. Names are unqualified: the migration runner sets search_path to
-- the target schema.

-- +goose Up
CREATE TABLE sync_request_ledger (
    period       text NOT NULL CHECK (period IN ('day', 'month')),
    period_start date NOT NULL,
    reserved     bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (period, period_start)
);

COMMENT ON TABLE sync_request_ledger IS 'Bookkeeping: API requests reserved per UTC day and per UTC month, by every process syncing this workspace. Reserved before sending, in small blocks; unused blocks are given back on a clean stop, so the count may exceed what was sent but never falls short.';
COMMENT ON COLUMN sync_request_ledger.period IS 'day or month.';
COMMENT ON COLUMN sync_request_ledger.period_start IS 'First day of the period (UTC): the day itself, or the first of the month.';
COMMENT ON COLUMN sync_request_ledger.reserved IS 'Requests reserved in the period (retries and failed requests included), less those given back unused.';
COMMENT ON COLUMN sync_request_ledger.updated_at IS 'When the row was last changed.';

-- +goose Down
DROP TABLE sync_request_ledger;
