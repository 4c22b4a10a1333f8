-- Warehouse tables (docs/warehouse.md) and the sync_ bookkeeping tables.
-- Tables are referenced unqualified: the migration runner sets search_path to the (quoted)
-- target schema on every connection, so the same file serves any schema name.

-- +goose Up

CREATE TABLE persons (
    id                          bigint PRIMARY KEY,
    type                        smallint NOT NULL,
    first_name                  text,
    last_name                   text,
    primary_email               text,
    emails                      text[] NOT NULL DEFAULT '{}',
    first_email_at              timestamptz,
    last_email_at               timestamptz,
    first_event_at              timestamptz,
    last_event_at               timestamptz,
    next_event_at               timestamptz,
    last_chat_message_at        timestamptz,
    last_interaction_at         timestamptz,
    interaction_dates_synced_at timestamptz,
    synced_at                   timestamptz NOT NULL,
    deleted_at                  timestamptz
);
CREATE INDEX persons_live_synced_at_idx ON persons (synced_at) WHERE deleted_at IS NULL;

COMMENT ON TABLE persons IS 'Affinity persons (GET /persons), one row per person id; soft-deleted rows stay.';
COMMENT ON COLUMN persons.id IS 'Affinity person id.';
COMMENT ON COLUMN persons.type IS 'Person type: 0 = external, 1 = internal (has an Affinity account on the team); other codes are stored as received.';
COMMENT ON COLUMN persons.first_name IS 'First name; may be null or empty for email-only contacts.';
COMMENT ON COLUMN persons.last_name IS 'Last name; often null or empty.';
COMMENT ON COLUMN persons.primary_email IS 'Primary email address; null when the person has no email.';
COMMENT ON COLUMN persons.emails IS 'Every email address of the person (may be empty).';
COMMENT ON COLUMN persons.first_email_at IS 'Date of the first email with the person (with_interaction_dates listing); null when none or not in the last complete such listing.';
COMMENT ON COLUMN persons.last_email_at IS 'Date of the last email with the person (with_interaction_dates listing).';
COMMENT ON COLUMN persons.first_event_at IS 'Date of the first meeting/event with the person (with_interaction_dates listing).';
COMMENT ON COLUMN persons.last_event_at IS 'Date of the last meeting/event with the person (with_interaction_dates listing).';
COMMENT ON COLUMN persons.next_event_at IS 'Date of the next scheduled meeting/event with the person (with_interaction_dates listing).';
COMMENT ON COLUMN persons.last_chat_message_at IS 'Date of the last chat message with the person (with_interaction_dates listing).';
COMMENT ON COLUMN persons.last_interaction_at IS 'Date of the last interaction of any kind with the person (with_interaction_dates listing).';
COMMENT ON COLUMN persons.interaction_dates_synced_at IS 'Bookkeeping: last time the with_interaction_dates listing returned this person; the *_at columns are nulled when a complete such listing no longer returns it.';
COMMENT ON COLUMN persons.synced_at IS 'Last time a complete or partial pass (or a webhook refresh) saw this row.';
COMMENT ON COLUMN persons.deleted_at IS 'Set when a complete pass no longer saw the person (or Affinity reported it deleted); null while live; cleared if it comes back.';

CREATE TABLE organizations (
    id                          bigint PRIMARY KEY,
    name                        text NOT NULL,
    domain                      text,
    domains                     text[] NOT NULL DEFAULT '{}',
    crunchbase_uuid             text,
    global                      boolean NOT NULL DEFAULT false,
    first_email_at              timestamptz,
    last_email_at               timestamptz,
    first_event_at              timestamptz,
    last_event_at               timestamptz,
    next_event_at               timestamptz,
    last_chat_message_at        timestamptz,
    last_interaction_at         timestamptz,
    interaction_dates_synced_at timestamptz,
    synced_at                   timestamptz NOT NULL,
    deleted_at                  timestamptz
);
CREATE INDEX organizations_live_synced_at_idx ON organizations (synced_at) WHERE deleted_at IS NULL;

COMMENT ON TABLE organizations IS 'Affinity organizations (GET /organizations), one row per organization id; soft-deleted rows stay.';
COMMENT ON COLUMN organizations.id IS 'Affinity organization id.';
COMMENT ON COLUMN organizations.name IS 'Organization name.';
COMMENT ON COLUMN organizations.domain IS 'Primary domain (website); null for organizations without one.';
COMMENT ON COLUMN organizations.domains IS 'Every domain of the organization (may be empty).';
COMMENT ON COLUMN organizations.crunchbase_uuid IS 'Crunchbase UUID when Affinity has one; usually null.';
COMMENT ON COLUMN organizations.global IS 'True for organizations from Affinity''s global database, false for ones the team created.';
COMMENT ON COLUMN organizations.first_email_at IS 'Date of the first email with the organization (with_interaction_dates listing); null when none or not in the last complete such listing.';
COMMENT ON COLUMN organizations.last_email_at IS 'Date of the last email with the organization (with_interaction_dates listing).';
COMMENT ON COLUMN organizations.first_event_at IS 'Date of the first meeting/event with the organization (with_interaction_dates listing).';
COMMENT ON COLUMN organizations.last_event_at IS 'Date of the last meeting/event with the organization (with_interaction_dates listing).';
COMMENT ON COLUMN organizations.next_event_at IS 'Date of the next scheduled meeting/event with the organization (with_interaction_dates listing).';
COMMENT ON COLUMN organizations.last_chat_message_at IS 'Date of the last chat message with the organization (with_interaction_dates listing).';
COMMENT ON COLUMN organizations.last_interaction_at IS 'Date of the last interaction of any kind with the organization (with_interaction_dates listing).';
COMMENT ON COLUMN organizations.interaction_dates_synced_at IS 'Bookkeeping: last time the with_interaction_dates listing returned this organization; the *_at columns are nulled when a complete such listing no longer returns it.';
COMMENT ON COLUMN organizations.synced_at IS 'Last time a complete or partial pass (or a webhook refresh) saw this row.';
COMMENT ON COLUMN organizations.deleted_at IS 'Set when a complete pass no longer saw the organization (or Affinity reported it deleted or merged away); null while live; cleared if it comes back.';

CREATE TABLE opportunities (
    id         bigint PRIMARY KEY,
    name       text NOT NULL,
    list_id    bigint,
    synced_at  timestamptz NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX opportunities_live_synced_at_idx ON opportunities (synced_at) WHERE deleted_at IS NULL;
CREATE INDEX opportunities_list_id_idx ON opportunities (list_id);

COMMENT ON TABLE opportunities IS 'Affinity opportunities (GET /opportunities); each lives on one opportunity list.';
COMMENT ON COLUMN opportunities.id IS 'Affinity opportunity id.';
COMMENT ON COLUMN opportunities.name IS 'Opportunity name.';
COMMENT ON COLUMN opportunities.list_id IS 'The list of the opportunity''s list entry (lists.id); null when none is visible.';
COMMENT ON COLUMN opportunities.synced_at IS 'Last time a complete or partial pass (or a webhook refresh) saw this row.';
COMMENT ON COLUMN opportunities.deleted_at IS 'Set when a complete pass no longer saw the opportunity (or Affinity reported it deleted); null while live; cleared if it comes back.';

CREATE TABLE lists (
    id         bigint PRIMARY KEY,
    type       smallint NOT NULL,
    name       text NOT NULL,
    public     boolean NOT NULL DEFAULT false,
    owner_id   bigint,
    creator_id bigint,
    list_size  bigint,
    synced_at  timestamptz NOT NULL,
    deleted_at timestamptz
);

COMMENT ON TABLE lists IS 'Affinity lists (GET /lists) visible to the API key''s user.';
COMMENT ON COLUMN lists.id IS 'Affinity list id.';
COMMENT ON COLUMN lists.type IS 'Kind of entity on the list: 0 = person, 1 = organization, 8 = opportunity.';
COMMENT ON COLUMN lists.name IS 'List name.';
COMMENT ON COLUMN lists.public IS 'True when the list is visible to the whole team.';
COMMENT ON COLUMN lists.owner_id IS 'Internal person id (persons.id) of the list owner.';
COMMENT ON COLUMN lists.creator_id IS 'Internal person id (persons.id) of the list creator; null when the API omits it.';
COMMENT ON COLUMN lists.list_size IS 'Number of entries on the list, as reported by the API.';
COMMENT ON COLUMN lists.synced_at IS 'Last time a pass saw this row.';
COMMENT ON COLUMN lists.deleted_at IS 'Set when a complete pass no longer saw the list; null while live; cleared if it comes back.';

CREATE TABLE list_entries (
    id          bigint PRIMARY KEY,
    list_id     bigint NOT NULL,
    entity_type smallint NOT NULL,
    entity_id   bigint NOT NULL,
    creator_id  bigint,
    created_at  timestamptz,
    synced_at   timestamptz NOT NULL,
    deleted_at  timestamptz
);
CREATE INDEX list_entries_list_id_idx ON list_entries (list_id);
CREATE INDEX list_entries_live_entity_idx ON list_entries (entity_type, entity_id) WHERE deleted_at IS NULL;

COMMENT ON TABLE list_entries IS 'Rows of Affinity lists (GET /lists/{id}/list-entries); the same entity may appear more than once on a list.';
COMMENT ON COLUMN list_entries.id IS 'Affinity list entry id.';
COMMENT ON COLUMN list_entries.list_id IS 'The list (lists.id) the entry belongs to.';
COMMENT ON COLUMN list_entries.entity_type IS 'Kind of entity: 0 = person, 1 = organization, 8 = opportunity.';
COMMENT ON COLUMN list_entries.entity_id IS 'Id of the person, organization or opportunity on this row.';
COMMENT ON COLUMN list_entries.creator_id IS 'Internal person id of the user who added the row; null for system-created rows.';
COMMENT ON COLUMN list_entries.created_at IS 'When the entity was added to the list.';
COMMENT ON COLUMN list_entries.synced_at IS 'Last time a pass saw this row.';
COMMENT ON COLUMN list_entries.deleted_at IS 'Set when a complete pass of its list no longer saw the entry; null while live; cleared if it comes back. Its field values are soft-deleted with it.';

CREATE TABLE fields (
    id                bigint PRIMARY KEY,
    name              text NOT NULL,
    list_id           bigint,
    entity_type       smallint,
    value_type        smallint NOT NULL,
    allows_multiple   boolean NOT NULL DEFAULT false,
    track_changes     boolean NOT NULL DEFAULT false,
    enrichment_source text,
    synced_at         timestamptz NOT NULL,
    deleted_at        timestamptz
);
CREATE INDEX fields_list_id_idx ON fields (list_id);

COMMENT ON TABLE fields IS 'Affinity field definitions (GET /fields): global fields and list-specific fields.';
COMMENT ON COLUMN fields.id IS 'Affinity field id.';
COMMENT ON COLUMN fields.name IS 'Field name.';
COMMENT ON COLUMN fields.list_id IS 'The list (lists.id) the field belongs to; null for a global field.';
COMMENT ON COLUMN fields.entity_type IS 'Kind of entity the field describes: 0 = person, 1 = organization, 8 = opportunity; null when the API does not say.';
COMMENT ON COLUMN fields.value_type IS 'Value type: 0 = person, 1 = organization, 2 = dropdown, 3 = number, 4 = date, 5 = location, 6 = text, 7 = ranked dropdown, 10 = filterable text; other codes are stored as received.';
COMMENT ON COLUMN fields.allows_multiple IS 'True when a cell can hold several values (one field value row per value).';
COMMENT ON COLUMN fields.track_changes IS 'True when Affinity records this field''s history (GET /field-value-changes works for it).';
COMMENT ON COLUMN fields.enrichment_source IS 'Where Affinity gets the values: "none" for custom fields, otherwise a source such as "affinity-data", "dealroom" or "crunchbase".';
COMMENT ON COLUMN fields.synced_at IS 'Last time a pass saw this row.';
COMMENT ON COLUMN fields.deleted_at IS 'Set when a complete pass no longer saw the field; null while live; cleared if it comes back.';

CREATE TABLE dropdown_options (
    field_id   bigint NOT NULL,
    id         bigint NOT NULL,
    text       text NOT NULL,
    rank       integer,
    color      smallint,
    synced_at  timestamptz NOT NULL,
    deleted_at timestamptz,
    PRIMARY KEY (field_id, id)
);

COMMENT ON TABLE dropdown_options IS 'Options of dropdown and ranked-dropdown fields, from the field definitions.';
COMMENT ON COLUMN dropdown_options.field_id IS 'The field (fields.id) the option belongs to.';
COMMENT ON COLUMN dropdown_options.id IS 'Affinity dropdown option id (field_values.value_option_id refers to it).';
COMMENT ON COLUMN dropdown_options.text IS 'Option text shown in Affinity.';
COMMENT ON COLUMN dropdown_options.rank IS 'Position of the option (pipeline stage order for ranked dropdowns), 0 first.';
COMMENT ON COLUMN dropdown_options.color IS 'Color code 0-7 (0 default, 1 blue, 2 green, 3 yellow, 4 orange, 5 red, 6 purple, 7 gray; mapping unconfirmed).';
COMMENT ON COLUMN dropdown_options.synced_at IS 'Last time a pass saw this row.';
COMMENT ON COLUMN dropdown_options.deleted_at IS 'Set when a complete pass no longer saw the option on its field; null while live; cleared if it comes back.';

CREATE TABLE field_values (
    id              bigint PRIMARY KEY,
    field_id        bigint NOT NULL,
    entity_type     smallint NOT NULL,
    entity_id       bigint NOT NULL,
    list_entry_id   bigint,
    value_type      smallint,
    value           jsonb,
    value_text      text,
    value_number    numeric,
    value_date      timestamptz,
    value_entity_id bigint,
    value_option_id bigint,
    created_at      timestamptz,
    updated_at      timestamptz,
    synced_at       timestamptz NOT NULL,
    deleted_at      timestamptz
);
CREATE INDEX field_values_entity_idx ON field_values (entity_type, entity_id);
CREATE INDEX field_values_list_entry_id_idx ON field_values (list_entry_id) WHERE list_entry_id IS NOT NULL;
CREATE INDEX field_values_field_id_idx ON field_values (field_id) WHERE deleted_at IS NULL;

COMMENT ON TABLE field_values IS 'Current field values (GET /field-values per entity): global values and list-entry values, one row per value (multi-value fields have several rows).';
COMMENT ON COLUMN field_values.id IS 'Affinity field value id.';
COMMENT ON COLUMN field_values.field_id IS 'The field (fields.id) this value belongs to.';
COMMENT ON COLUMN field_values.entity_type IS 'Kind of entity the value is on: 0 = person, 1 = organization, 8 = opportunity.';
COMMENT ON COLUMN field_values.entity_id IS 'Id of the person, organization or opportunity the value is on.';
COMMENT ON COLUMN field_values.list_entry_id IS 'The list entry (list_entries.id) of a list-specific value; null for a global-field value.';
COMMENT ON COLUMN field_values.value_type IS 'Value type: 0 = person, 1 = organization, 2 = dropdown, 3 = number, 4 = date, 5 = location, 6 = text, 7 = ranked dropdown, 10 = filterable text; the value''s own value_type when the API sends it, otherwise the field''s; null only when the field is unknown.';
COMMENT ON COLUMN field_values.value IS 'The API''s value element exactly as received (null for e.g. Crunchbase fields).';
COMMENT ON COLUMN field_values.value_text IS 'Text projection: the string for dropdown (2), text (6) and filterable text (10); the option text for ranked dropdown (7); for location (5) the non-empty parts joined with ", " (street_address, city, state, country, continent); otherwise null.';
COMMENT ON COLUMN field_values.value_number IS 'Number projection for number (3) values; otherwise null.';
COMMENT ON COLUMN field_values.value_date IS 'Date projection for date (4) values; otherwise null.';
COMMENT ON COLUMN field_values.value_entity_id IS 'Person id for person (0) values, organization id for organization (1) values; otherwise null.';
COMMENT ON COLUMN field_values.value_option_id IS 'Dropdown option id (dropdown_options.id) for ranked dropdown (7) values; otherwise null.';
COMMENT ON COLUMN field_values.created_at IS 'When the value was created in Affinity.';
COMMENT ON COLUMN field_values.updated_at IS 'When the value was last updated in Affinity; null if never.';
COMMENT ON COLUMN field_values.synced_at IS 'Last time the value was fetched.';
COMMENT ON COLUMN field_values.deleted_at IS 'Set when the value is no longer returned for its entity, or its entity or list entry was soft-deleted; null while current.';

CREATE TABLE opportunity_persons (
    opportunity_id bigint NOT NULL,
    person_id      bigint NOT NULL,
    PRIMARY KEY (opportunity_id, person_id)
);
CREATE INDEX opportunity_persons_person_id_idx ON opportunity_persons (person_id);

COMMENT ON TABLE opportunity_persons IS 'Persons associated with an opportunity; replaced whenever the opportunity is fetched. Join through opportunities.deleted_at.';
COMMENT ON COLUMN opportunity_persons.opportunity_id IS 'The opportunity (opportunities.id).';
COMMENT ON COLUMN opportunity_persons.person_id IS 'The associated person (persons.id).';

CREATE TABLE opportunity_organizations (
    opportunity_id  bigint NOT NULL,
    organization_id bigint NOT NULL,
    PRIMARY KEY (opportunity_id, organization_id)
);
CREATE INDEX opportunity_organizations_organization_id_idx ON opportunity_organizations (organization_id);

COMMENT ON TABLE opportunity_organizations IS 'Organizations associated with an opportunity; replaced whenever the opportunity is fetched. Join through opportunities.deleted_at.';
COMMENT ON COLUMN opportunity_organizations.opportunity_id IS 'The opportunity (opportunities.id).';
COMMENT ON COLUMN opportunity_organizations.organization_id IS 'The associated organization (organizations.id).';

CREATE TABLE organization_persons (
    organization_id bigint NOT NULL,
    person_id       bigint NOT NULL,
    PRIMARY KEY (organization_id, person_id)
);
CREATE INDEX organization_persons_person_id_idx ON organization_persons (person_id);

COMMENT ON TABLE organization_persons IS 'Persons associated with an organization (single-organization GET); replaced whenever the organization''s details are fetched. Join through organizations.deleted_at.';
COMMENT ON COLUMN organization_persons.organization_id IS 'The organization (organizations.id).';
COMMENT ON COLUMN organization_persons.person_id IS 'The associated person (persons.id).';

CREATE TABLE field_value_changes (
    id              bigint PRIMARY KEY,
    field_id        bigint NOT NULL,
    entity_type     smallint,
    entity_id       bigint NOT NULL,
    list_entry_id   bigint,
    action_type     smallint NOT NULL,
    changer_id      bigint,
    changed_at      timestamptz NOT NULL,
    value           jsonb,
    value_text      text,
    value_number    numeric,
    value_date      timestamptz,
    value_entity_id bigint,
    value_option_id bigint,
    synced_at       timestamptz NOT NULL
);
CREATE INDEX field_value_changes_field_entity_idx ON field_value_changes (field_id, entity_id, changed_at, id);
CREATE INDEX field_value_changes_list_entry_id_idx ON field_value_changes (list_entry_id) WHERE list_entry_id IS NOT NULL;

COMMENT ON TABLE field_value_changes IS 'Append-only history of tracked fields (GET /field-value-changes); a row is never modified once written.';
COMMENT ON COLUMN field_value_changes.id IS 'Affinity change id.';
COMMENT ON COLUMN field_value_changes.field_id IS 'The field (fields.id) that changed.';
COMMENT ON COLUMN field_value_changes.entity_type IS 'Kind of entity, from the field: 0 = person, 1 = organization, 8 = opportunity; null when unknown.';
COMMENT ON COLUMN field_value_changes.entity_id IS 'Id of the person, organization or opportunity whose value changed.';
COMMENT ON COLUMN field_value_changes.list_entry_id IS 'The list entry (list_entries.id) of a list-specific field; null for global fields.';
COMMENT ON COLUMN field_value_changes.action_type IS 'What happened: 0 = create, 1 = delete, 2 = update.';
COMMENT ON COLUMN field_value_changes.changer_id IS 'Internal person id of who made the change; null when the API''s changer is null (system changes).';
COMMENT ON COLUMN field_value_changes.changed_at IS 'When the change happened.';
COMMENT ON COLUMN field_value_changes.value IS 'The value as received: the new value for create/update, the old value for delete.';
COMMENT ON COLUMN field_value_changes.value_text IS 'Text projection, by the field''s value type (as field_values.value_text).';
COMMENT ON COLUMN field_value_changes.value_number IS 'Number projection for number (3) fields; otherwise null.';
COMMENT ON COLUMN field_value_changes.value_date IS 'Date projection for date (4) fields; otherwise null.';
COMMENT ON COLUMN field_value_changes.value_entity_id IS 'Person or organization id for person (0) and organization (1) fields; otherwise null.';
COMMENT ON COLUMN field_value_changes.value_option_id IS 'Dropdown option id for ranked dropdown (7) fields; otherwise null.';
COMMENT ON COLUMN field_value_changes.synced_at IS 'When the change was first stored.';

CREATE TABLE sync_runs (
    id                bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    started_at        timestamptz NOT NULL DEFAULT now(),
    ended_at          timestamptz,
    status            text NOT NULL CHECK (status IN ('running', 'completed', 'partial', 'budget_spent', 'failed')),
    streams           text[] NOT NULL DEFAULT '{}',
    requests          bigint NOT NULL DEFAULT 0,
    rows_written      bigint NOT NULL DEFAULT 0,
    nuls_replaced     bigint NOT NULL DEFAULT 0,
    error             text,
    allow_mass_delete boolean NOT NULL DEFAULT false
);
CREATE INDEX sync_runs_started_at_idx ON sync_runs (started_at DESC);
CREATE INDEX sync_runs_completed_idx ON sync_runs (ended_at DESC) WHERE status = 'completed';

COMMENT ON TABLE sync_runs IS 'Bookkeeping: one row per sync run (sync command or daemon pass).';
COMMENT ON COLUMN sync_runs.id IS 'Run number.';
COMMENT ON COLUMN sync_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN sync_runs.ended_at IS 'When the run ended; null while running (or if the process died).';
COMMENT ON COLUMN sync_runs.status IS 'running; completed (every enabled stream finished its pass: a complete run); partial (every requested stream finished, but --streams limited the run, so it is not a complete run); budget_spent (stopped early because the request budget is spent, progress saved); failed.';
COMMENT ON COLUMN sync_runs.streams IS 'Streams the run was asked to sync.';
COMMENT ON COLUMN sync_runs.requests IS 'API requests spent by the run (retries and failures included).';
COMMENT ON COLUMN sync_runs.rows_written IS 'Rows written by the run.';
COMMENT ON COLUMN sync_runs.nuls_replaced IS 'NUL characters and invalid UTF-8 bytes replaced by U+FFFD before writing.';
COMMENT ON COLUMN sync_runs.error IS 'Why the run failed or stopped; null when it completed.';
COMMENT ON COLUMN sync_runs.allow_mass_delete IS 'True when the run was allowed past the mass soft-delete guard (--allow-mass-delete).';

CREATE TABLE sync_checkpoints (
    stream            text PRIMARY KEY,
    phase             text NOT NULL DEFAULT '',
    page_token        text NOT NULL DEFAULT '',
    pass_started_at   timestamptz,
    pages             bigint NOT NULL DEFAULT 0,
    rows_fetched      bigint NOT NULL DEFAULT 0,
    last_completed_at timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE sync_checkpoints IS 'Bookkeeping: where each stream''s current pass stands, committed with the rows of each page.';
COMMENT ON COLUMN sync_checkpoints.stream IS 'Stream name: lists, fields, persons, organizations, opportunities, list_entries, field_value_changes, field_values, organization_details.';
COMMENT ON COLUMN sync_checkpoints.phase IS 'Sub-pass of the stream in progress, e.g. empty or interaction_dates.';
COMMENT ON COLUMN sync_checkpoints.page_token IS 'Next page to fetch in the phase; empty = start of the phase.';
COMMENT ON COLUMN sync_checkpoints.pass_started_at IS 'When the pass in progress started; null when no pass is in progress.';
COMMENT ON COLUMN sync_checkpoints.pages IS 'Pages fetched so far in the pass in progress.';
COMMENT ON COLUMN sync_checkpoints.rows_fetched IS 'Rows fetched so far in the pass in progress.';
COMMENT ON COLUMN sync_checkpoints.last_completed_at IS 'When the stream last finished a complete pass; null if never.';
COMMENT ON COLUMN sync_checkpoints.updated_at IS 'When this checkpoint was last written.';

-- +goose Down
DROP TABLE sync_checkpoints;
DROP TABLE sync_runs;
DROP TABLE field_value_changes;
DROP TABLE organization_persons;
DROP TABLE opportunity_organizations;
DROP TABLE opportunity_persons;
DROP TABLE field_values;
DROP TABLE dropdown_options;
DROP TABLE fields;
DROP TABLE list_entries;
DROP TABLE lists;
DROP TABLE opportunities;
DROP TABLE organizations;
DROP TABLE persons;
