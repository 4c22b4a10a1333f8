-- Views for BI and audit (docs/warehouse.md): field_history, list_entry_values and
-- stage_durations. Plain (not materialized) views: always current, nothing to refresh.
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

-- stage_durations reads each entry's changes of one field in (changed_at, id) order.
CREATE INDEX field_value_changes_stage_idx ON field_value_changes (field_id, list_entry_id, changed_at, id);

CREATE VIEW field_history AS
SELECT c.id AS change_id,
       c.changed_at,
       c.field_id,
       f.name AS field_name,
       f.list_id,
       c.entity_type,
       c.entity_id,
       c.list_entry_id,
       CASE c.action_type WHEN 0 THEN 'create' WHEN 1 THEN 'delete' WHEN 2 THEN 'update' END AS action,
       c.changer_id,
       CASE WHEN f.value_type IN (2, 5, 6, 7, 10) THEN c.value_text ELSE c.value #>> '{}' END AS value_text,
       c.value
FROM field_value_changes c
LEFT JOIN fields f ON f.id = c.field_id;

COMMENT ON VIEW field_history IS 'Audit trail: every stored change of a tracked field, oldest and newest alike, with the field''s name and a readable value.';
COMMENT ON COLUMN field_history.change_id IS 'Affinity change id (field_value_changes.id).';
COMMENT ON COLUMN field_history.changed_at IS 'When the change happened.';
COMMENT ON COLUMN field_history.field_id IS 'The field (fields.id) that changed.';
COMMENT ON COLUMN field_history.field_name IS 'Name of the field; null when the field is unknown.';
COMMENT ON COLUMN field_history.list_id IS 'The list (lists.id) of a list field; null for a global field or an unknown one.';
COMMENT ON COLUMN field_history.entity_type IS 'Kind of entity, from the field: 0 = person, 1 = organization, 8 = opportunity; null when unknown.';
COMMENT ON COLUMN field_history.entity_id IS 'Id of the person, organization or opportunity whose value changed.';
COMMENT ON COLUMN field_history.list_entry_id IS 'The list entry (list_entries.id) of a list field''s change; null for global fields.';
COMMENT ON COLUMN field_history.action IS 'create, delete or update (action_type 0, 1, 2); null for an action code Affinity has not documented.';
COMMENT ON COLUMN field_history.changer_id IS 'Internal person id of who made the change; null for system changes.';
COMMENT ON COLUMN field_history.value_text IS 'The value as text: the text projection for dropdown (2), location (5), text (6), ranked dropdown (7) and filterable text (10) fields; otherwise the JSON value as text (value #>> ''{}'', e.g. 2500000 for a number); null when value is null.';
COMMENT ON COLUMN field_history.value IS 'The value as received (jsonb): the new value for create/update, the old value for delete.';

CREATE VIEW list_entry_values AS
SELECT le.id AS list_entry_id, le.list_id, le.entity_type, le.entity_id,
       fv.field_id, f.name AS field_name, fv.value_type,
       fv.value_text, fv.value_number, fv.value_date, fv.value_entity_id, fv.value_option_id,
       fv.value, fv.id AS field_value_id
FROM list_entries le
JOIN field_values fv ON fv.list_entry_id = le.id
LEFT JOIN fields f ON f.id = fv.field_id
WHERE le.deleted_at IS NULL AND fv.deleted_at IS NULL
UNION ALL
SELECT le.id, le.list_id, le.entity_type, le.entity_id,
       fv.field_id, f.name, fv.value_type,
       fv.value_text, fv.value_number, fv.value_date, fv.value_entity_id, fv.value_option_id,
       fv.value, fv.id
FROM list_entries le
JOIN field_values fv ON fv.list_entry_id IS NULL AND fv.entity_type = le.entity_type AND fv.entity_id = le.entity_id
LEFT JOIN fields f ON f.id = fv.field_id
WHERE le.deleted_at IS NULL AND fv.deleted_at IS NULL;

COMMENT ON VIEW list_entry_values IS 'What a list row shows: every current field value of each live list entry, its own list-field values and its entity''s global-field values; a multi-valued field has one row per value.';
COMMENT ON COLUMN list_entry_values.list_entry_id IS 'The live list entry (list_entries.id).';
COMMENT ON COLUMN list_entry_values.list_id IS 'The list (lists.id) of the entry.';
COMMENT ON COLUMN list_entry_values.entity_type IS 'Kind of entity on the row: 0 = person, 1 = organization, 8 = opportunity.';
COMMENT ON COLUMN list_entry_values.entity_id IS 'Id of the person, organization or opportunity on the row.';
COMMENT ON COLUMN list_entry_values.field_id IS 'The field (fields.id): a field of this list, or a global field.';
COMMENT ON COLUMN list_entry_values.field_name IS 'Name of the field; null when the field is unknown.';
COMMENT ON COLUMN list_entry_values.value_type IS 'Value type (as field_values.value_type): 0 = person, 1 = organization, 2 = dropdown, 3 = number, 4 = date, 5 = location, 6 = text, 7 = ranked dropdown, 10 = filterable text.';
COMMENT ON COLUMN list_entry_values.value_text IS 'Text projection (as field_values.value_text).';
COMMENT ON COLUMN list_entry_values.value_number IS 'Number projection for number (3) values; otherwise null.';
COMMENT ON COLUMN list_entry_values.value_date IS 'Date projection for date (4) values; otherwise null.';
COMMENT ON COLUMN list_entry_values.value_entity_id IS 'Person or organization id for person (0) and organization (1) values; otherwise null.';
COMMENT ON COLUMN list_entry_values.value_option_id IS 'Dropdown option id for ranked dropdown (7) values; otherwise null.';
COMMENT ON COLUMN list_entry_values.value IS 'The value as received (jsonb).';
COMMENT ON COLUMN list_entry_values.field_value_id IS 'The field value (field_values.id).';

CREATE VIEW stage_durations AS
WITH changes AS (
    -- Changes of tracked ranked-dropdown list fields on live list entries; state is the option
    -- the entry is in after the change, null when it is in none.
    SELECT c.id, c.field_id, c.list_entry_id, c.changed_at, c.action_type, c.value,
           CASE WHEN c.action_type = 1 OR c.value IS NULL OR jsonb_typeof(c.value) = 'null' THEN NULL
                ELSE c.value_option_id END AS state
    FROM field_value_changes c
    JOIN fields f ON f.id = c.field_id AND f.value_type = 7 AND f.track_changes AND f.list_id IS NOT NULL
    JOIN list_entries le ON le.id = c.list_entry_id AND le.deleted_at IS NULL
), marked AS (
    SELECT ch.*, lag(ch.state) OVER (PARTITION BY ch.field_id, ch.list_entry_id ORDER BY ch.changed_at, ch.id) AS prev_state
    FROM changes ch
), boundaries AS (
    -- A create, or a move to another state, closes the open stage and opens the next one.
    SELECT m.*, lead(m.changed_at) OVER (PARTITION BY m.field_id, m.list_entry_id ORDER BY m.changed_at, m.id) AS left_at
    FROM marked m
    WHERE m.action_type = 0 OR m.state IS DISTINCT FROM m.prev_state
)
SELECT b.list_entry_id, le.list_id, le.entity_id, b.field_id,
       b.state AS option_id,
       coalesce(o.text, b.value ->> 'text') AS stage,
       b.changed_at AS entered_at,
       b.left_at,
       coalesce(b.left_at, now()) - b.changed_at AS duration
FROM boundaries b
JOIN list_entries le ON le.id = b.list_entry_id
LEFT JOIN dropdown_options o ON o.field_id = b.field_id AND o.id = b.state
WHERE b.state IS NOT NULL;

COMMENT ON VIEW stage_durations IS 'Time in stage: for each tracked ranked-dropdown list field (pipeline status), every stage a live list entry was in, from its change history. A create or a change to another option opens a stage; a delete or a null value closes it without opening one; a change to the current option changes nothing.';
COMMENT ON COLUMN stage_durations.list_entry_id IS 'The live list entry (list_entries.id).';
COMMENT ON COLUMN stage_durations.list_id IS 'The list (lists.id) of the entry.';
COMMENT ON COLUMN stage_durations.entity_id IS 'Id of the person, organization or opportunity on the entry.';
COMMENT ON COLUMN stage_durations.field_id IS 'The ranked-dropdown field (fields.id).';
COMMENT ON COLUMN stage_durations.option_id IS 'The stage''s dropdown option (dropdown_options.id).';
COMMENT ON COLUMN stage_durations.stage IS 'Option text: from dropdown_options (deleted options included), else from the change''s value.';
COMMENT ON COLUMN stage_durations.entered_at IS 'When the entry entered the stage (changed_at of the change that opened it).';
COMMENT ON COLUMN stage_durations.left_at IS 'When the entry left the stage; null while it is the current stage.';
COMMENT ON COLUMN stage_durations.duration IS 'Time spent in the stage (interval): left_at - entered_at, or now() - entered_at while current.';

-- +goose Down
DROP VIEW stage_durations;
DROP VIEW list_entry_values;
DROP VIEW field_history;
DROP INDEX field_value_changes_stage_idx;
