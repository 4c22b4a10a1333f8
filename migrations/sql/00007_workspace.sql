-- The workspace guard (docs/architecture.md, "How a run is planned and recorded"): the schema
-- records the Affinity workspace (tenant) it belongs to on the first sync, and a key of another
-- workspace is refused.
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

CREATE TABLE sync_workspace (
    tenant_id  bigint PRIMARY KEY,
    name       text NOT NULL,
    subdomain  text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now()
);
-- At most one row: a schema holds one workspace.
CREATE UNIQUE INDEX sync_workspace_one_row_idx ON sync_workspace ((true));

COMMENT ON TABLE sync_workspace IS 'Bookkeeping: the one Affinity workspace (tenant) whose data this schema holds, recorded by the first sync (GET /auth/whoami). A key of another tenant is refused and nothing is written.';
COMMENT ON COLUMN sync_workspace.tenant_id IS 'Affinity tenant id (whoami tenant.id).';
COMMENT ON COLUMN sync_workspace.name IS 'Tenant name (whoami tenant.name), kept current while the tenant id matches.';
COMMENT ON COLUMN sync_workspace.subdomain IS 'Tenant subdomain (whoami tenant.subdomain), kept current while the tenant id matches.';
COMMENT ON COLUMN sync_workspace.first_seen IS 'When the first sync recorded the workspace.';

-- +goose Down
DROP TABLE sync_workspace;
