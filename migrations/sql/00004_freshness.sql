-- Freshness of each entity's fetched data, which the incremental refresh orders its work by
-- (docs/quota.md, "The planner"), and an index for finding the entities a change touched.

-- +goose Up

CREATE TABLE sync_entity_freshness (
    entity_type       smallint NOT NULL,
    entity_id         bigint NOT NULL,
    values_synced_at  timestamptz,
    details_synced_at timestamptz,
    PRIMARY KEY (entity_type, entity_id)
);
COMMENT ON TABLE sync_entity_freshness IS 'When affinity-sync last fetched each entity''s field values (GET /field-values) and, for organizations, its details (GET /organizations/{id}). The incremental refresh fetches new and changed entities first, then the stalest.';
COMMENT ON COLUMN sync_entity_freshness.entity_type IS 'Entity type: 0 person, 1 organization, 8 opportunity.';
COMMENT ON COLUMN sync_entity_freshness.entity_id IS 'Id of the person, organization or opportunity.';
COMMENT ON COLUMN sync_entity_freshness.values_synced_at IS 'When the entity''s complete set of field values was last fetched and stored; null = never.';
COMMENT ON COLUMN sync_entity_freshness.details_synced_at IS 'When the organization''s details (its persons, organization_persons) were last fetched; null = never.';

CREATE INDEX field_value_changes_entity_synced_idx ON field_value_changes (entity_type, entity_id, synced_at);
CREATE INDEX list_entries_live_entity_created_idx ON list_entries (entity_type, entity_id, created_at) WHERE deleted_at IS NULL;

-- +goose Down

DROP INDEX list_entries_live_entity_created_idx;
DROP INDEX field_value_changes_entity_synced_idx;
DROP TABLE sync_entity_freshness;
