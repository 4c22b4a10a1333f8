-- Field values without an API v1 id. Values read through API v2 carry no value id and no
-- created/updated times: a value that matches a stored row keeps that row (and its id), a new
-- one is stored with id, created_at and updated_at null. So id can no longer be the primary
-- key: row_id, a number the warehouse assigns, is, and id stays unique where it is set (a
-- unique constraint lets any number of nulls through), which is what v1 upserts by id need.
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

ALTER TABLE field_values DROP CONSTRAINT field_values_pkey;
ALTER TABLE field_values ALTER COLUMN id DROP NOT NULL;
ALTER TABLE field_values ADD CONSTRAINT field_values_id_key UNIQUE (id);
ALTER TABLE field_values ADD COLUMN row_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
-- A v1 fetch of an entity looks for its live rows without an id (to give them theirs): this
-- index holds only those, so the look-up costs nothing when there are none.
CREATE INDEX field_values_idless_entity_idx ON field_values (entity_type, entity_id) WHERE id IS NULL AND deleted_at IS NULL;

COMMENT ON TABLE field_values IS 'Current field values: global values and list-entry values, one row per value (multi-value fields have several rows, equal values repeated). Read through API v1 (GET /field-values per entity) or API v2 (values inline in list entries, persons, companies); a value first seen through v2 has null id, created_at and updated_at until a v1 fetch of its entity returns it.';
COMMENT ON COLUMN field_values.row_id IS 'Warehouse row number (primary key), assigned when the row is first stored; not an Affinity id.';
COMMENT ON COLUMN field_values.id IS 'Affinity field value id, unique where set; null for a value first seen through API v2 (which sends no value ids) until a v1 fetch of its entity returns it.';
COMMENT ON COLUMN field_values.created_at IS 'When the value was created in Affinity; null for a value first seen through API v2 (which does not send it).';
COMMENT ON COLUMN field_values.updated_at IS 'When the value was last updated in Affinity; null if never, and for a value first seen through API v2 (which does not send it).';
COMMENT ON COLUMN list_entry_values.field_value_id IS 'The field value''s Affinity id (field_values.id); null for a value first seen through API v2.';

-- +goose Down

-- Going back to id as the primary key needs every row to have one. Rows without an id (values
-- only ever seen through API v2) cannot be given one here, so the step refuses, naming how many
-- there are; re-fetch those entities through v1 (affinity.api_v2: off), or delete those rows,
-- first.
-- +goose StatementBegin
DO $down$
DECLARE
    missing bigint;
BEGIN
    SELECT count(*) INTO missing FROM field_values WHERE id IS NULL;
    IF missing > 0 THEN
        RAISE EXCEPTION 'field_values holds % rows without an Affinity id (values seen only through API v2); id cannot become the primary key again until they are re-fetched through API v1 or deleted', missing;
    END IF;
END
$down$;
-- +goose StatementEnd
DROP INDEX field_values_idless_entity_idx;
ALTER TABLE field_values DROP COLUMN row_id;
ALTER TABLE field_values DROP CONSTRAINT field_values_id_key;
ALTER TABLE field_values ADD CONSTRAINT field_values_pkey PRIMARY KEY (id);

COMMENT ON TABLE field_values IS 'Current field values (GET /field-values per entity): global values and list-entry values, one row per value (multi-value fields have several rows).';
COMMENT ON COLUMN field_values.id IS 'Affinity field value id.';
COMMENT ON COLUMN field_values.created_at IS 'When the value was created in Affinity.';
COMMENT ON COLUMN field_values.updated_at IS 'When the value was last updated in Affinity; null if never.';
COMMENT ON COLUMN list_entry_values.field_value_id IS 'The field value (field_values.id).';
