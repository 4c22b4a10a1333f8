-- The as-of function (docs/warehouse.md, "The as-of function"): field_values_as_of(at)
-- rebuilds, from field_value_changes alone, the value every tracked cell had at an instant.
--
-- The function is a plain SQL function with its tables schema-qualified, so the planner can
-- inline it into the calling query and push filters on field_id, entity_id or list_entry_id
-- down to the index on field_value_changes. The schema name is only known when the migration
-- runs, so the statement is built with format('%I') from current_schema() (the runner sets
-- search_path to the target schema): any schema name stays one quoted identifier.

-- +goose Up

-- +goose StatementBegin
DO $migration$
BEGIN
EXECUTE format($create$
CREATE FUNCTION %1$I.field_values_as_of("at" timestamptz)
RETURNS TABLE (
    field_id        bigint,
    field_name      text,
    entity_type     smallint,
    entity_id       bigint,
    list_entry_id   bigint,
    list_id         bigint,
    value_type      smallint,
    value           jsonb,
    value_text      text,
    value_number    numeric,
    value_date      timestamptz,
    value_entity_id bigint,
    value_option_id bigint
)
LANGUAGE sql STABLE PARALLEL SAFE
AS $body$
WITH numbered AS (
    -- The cell's changes up to the instant, newest first (seq 1 = the last one).
    SELECT c.id, c.field_id, coalesce(c.entity_type, f.entity_type) AS entity_type, c.entity_id,
           c.list_entry_id, c.action_type, c.value, c.value_text, c.value_number, c.value_date,
           c.value_entity_id, c.value_option_id,
           coalesce(f.allows_multiple, false) AS multi,
           row_number() OVER (PARTITION BY c.field_id, c.entity_id, c.list_entry_id
                              ORDER BY c.changed_at DESC, c.id DESC) AS seq
    FROM %1$I.field_value_changes c
    LEFT JOIN %1$I.fields f ON f.id = c.field_id
    WHERE c.changed_at <= $1 AND c.action_type IN (0, 1, 2)
), marked AS (
    -- The last update of the cell: a multi-valued cell's set starts over with it.
    SELECT n.*,
           min(n.seq) FILTER (WHERE n.action_type = 2)
               OVER (PARTITION BY n.field_id, n.entity_id, n.list_entry_id) AS last_update
    FROM numbered n
), steps AS (
    -- Single-valued: the last change, unless it is a delete. Multi-valued: the last update
    -- and every create and delete after it; a create or update adds one copy of its value,
    -- a delete takes one away.
    SELECT m.*, CASE WHEN m.action_type = 1 THEN -1 ELSE 1 END AS delta
    FROM marked m
    WHERE (NOT m.multi AND m.seq = 1 AND m.action_type <> 1)
       OR (m.multi AND m.seq <= coalesce(m.last_update, m.seq))
), walked AS (
    -- Copies of each value after each step, before flooring at zero.
    SELECT s.*,
           sum(s.delta) OVER (PARTITION BY s.field_id, s.entity_id, s.list_entry_id, s.value
                              ORDER BY s.seq DESC) AS level
    FROM steps s
), counted AS (
    -- A delete of a value the cell does not hold removes nothing: the count is a walk floored
    -- at zero, whose end is the plain sum less its lowest (negative) point.
    SELECT w.field_id, w.entity_id, w.list_entry_id, w.value,
           max(w.entity_type) AS entity_type,
           sum(w.delta) - least(0, min(w.level)) AS copies,
           max(w.value_text) AS value_text, max(w.value_number) AS value_number,
           max(w.value_date) AS value_date, max(w.value_entity_id) AS value_entity_id,
           max(w.value_option_id) AS value_option_id
    FROM walked w
    GROUP BY w.field_id, w.entity_id, w.list_entry_id, w.value
)
SELECT k.field_id, f.name, k.entity_type, k.entity_id, k.list_entry_id,
       coalesce(f.list_id, (SELECT le.list_id FROM %1$I.list_entries le WHERE le.id = k.list_entry_id)),
       f.value_type, k.value, k.value_text, k.value_number, k.value_date, k.value_entity_id, k.value_option_id
FROM counted k
CROSS JOIN LATERAL generate_series(1, k.copies) AS copy
LEFT JOIN %1$I.fields f ON f.id = k.field_id
$body$
$create$, current_schema());
END
$migration$;
-- +goose StatementEnd

COMMENT ON FUNCTION field_values_as_of(timestamptz) IS 'The value every tracked field had at an instant, for every entity and list entry, rebuilt from field_value_changes alone (so only fields with track_changes, and only as far back as the stored history goes). Per cell (field, entity, list entry) the changes with changed_at <= at are read in changed_at, then id, order. Single-valued field (fields.allows_multiple false, or the field unknown): the last change''s value, no row when it is a delete; when that value is null the row is returned with a null value and null projections (the cell existed but was empty, as field_values keeps such rows). Multi-valued field: a create adds its value, a delete removes one equal value (jsonb equality; nothing when none is held), an update replaces the whole set with its value; one row per value held, equal values repeated. Columns as field_values: value_type and field_name are the field''s, list_id the field''s list (else the list entry''s), and the typed projections are those stored on the change rows. Changes with an undocumented action_type are ignored. Soft-deleted entities and list entries are not filtered out: join to their tables to do so.';

-- +goose Down
DROP FUNCTION field_values_as_of(timestamptz);
