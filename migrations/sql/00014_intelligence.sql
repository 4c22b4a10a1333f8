-- Relationship intelligence and files (design section 10): entity files, reminders, relationship
-- strengths with their history, interactions with their participants, and the bookkeeping of
-- the per-entity reads (interactions, strengths, the file fallback).
-- Names are unqualified: the migration runner sets search_path to the target schema.

-- +goose Up

CREATE TABLE entity_files (
    id              bigint PRIMARY KEY,
    name            text NOT NULL,
    size            bigint NOT NULL,
    person_id       bigint,
    organization_id bigint,
    opportunity_id  bigint,
    uploader_id     bigint NOT NULL,
    created_at      timestamptz NOT NULL,
    synced_at       timestamptz NOT NULL,
    deleted_at      timestamptz
);
CREATE INDEX entity_files_live_synced_at_idx ON entity_files (synced_at) WHERE deleted_at IS NULL;
CREATE INDEX entity_files_person_id_idx ON entity_files (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX entity_files_organization_id_idx ON entity_files (organization_id) WHERE organization_id IS NOT NULL;
CREATE INDEX entity_files_opportunity_id_idx ON entity_files (opportunity_id) WHERE opportunity_id IS NOT NULL;

COMMENT ON TABLE entity_files IS 'Files attached to persons, organizations and opportunities in Affinity (GET /entity-files): the file''s name, size and who uploaded it, never its contents. One row per file id; soft-deleted rows stay.';
COMMENT ON COLUMN entity_files.id IS 'Affinity file id.';
COMMENT ON COLUMN entity_files.name IS 'File name, as uploaded (e.g. deck.pdf).';
COMMENT ON COLUMN entity_files.size IS 'File size in bytes.';
COMMENT ON COLUMN entity_files.person_id IS 'The person (persons.id) the file is attached to; null when it is attached to an organization or opportunity.';
COMMENT ON COLUMN entity_files.organization_id IS 'The organization (organizations.id) the file is attached to; null when none.';
COMMENT ON COLUMN entity_files.opportunity_id IS 'The opportunity (opportunities.id) the file is attached to; null when none.';
COMMENT ON COLUMN entity_files.uploader_id IS 'Internal person id (persons.id) of the team member who uploaded the file.';
COMMENT ON COLUMN entity_files.created_at IS 'When the file was uploaded.';
COMMENT ON COLUMN entity_files.synced_at IS 'Last time a complete or partial pass (or a webhook refresh) saw this row.';
COMMENT ON COLUMN entity_files.deleted_at IS 'Set when a complete pass (or a read of its entity''s files) no longer saw the file, or Affinity reported it deleted; null while live; cleared if it comes back.';

CREATE TABLE reminders (
    id              bigint PRIMARY KEY,
    type            smallint NOT NULL,
    reset_type      smallint,
    reminder_days   integer,
    status          smallint NOT NULL,
    content         text,
    due_at          timestamptz,
    created_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    creator_id      bigint,
    owner_id        bigint,
    completer_id    bigint,
    person_id       bigint,
    organization_id bigint,
    opportunity_id  bigint,
    synced_at       timestamptz NOT NULL,
    deleted_at      timestamptz
);
CREATE INDEX reminders_live_synced_at_idx ON reminders (synced_at) WHERE deleted_at IS NULL;
CREATE INDEX reminders_owner_id_idx ON reminders (owner_id);
CREATE INDEX reminders_due_at_idx ON reminders (due_at) WHERE deleted_at IS NULL AND completed_at IS NULL;

COMMENT ON TABLE reminders IS 'Affinity reminders (GET /reminders): follow-ups a team member set on a person, organization or opportunity, in every status. One row per reminder id; soft-deleted rows stay. For the status as of today use the view reminders_current.';
COMMENT ON COLUMN reminders.id IS 'Affinity reminder id.';
COMMENT ON COLUMN reminders.type IS 'Reminder type: 0 = one-time, 1 = recurring; other codes are stored as received.';
COMMENT ON COLUMN reminders.reset_type IS 'For a recurring reminder, what restarts its countdown: 0 = any interaction, 1 = an email, 2 = a meeting; null for one-time reminders.';
COMMENT ON COLUMN reminders.reminder_days IS 'For a recurring reminder, the number of days after which it becomes due again; null for one-time reminders.';
COMMENT ON COLUMN reminders.status IS 'Status as Affinity reported it when last synced: 0 = completed, 1 = active, 2 = overdue. It goes stale as time passes (an active reminder becomes overdue without any change): use reminders_current.status_now instead.';
COMMENT ON COLUMN reminders.content IS 'The reminder''s text; null when it has none.';
COMMENT ON COLUMN reminders.due_at IS 'When the reminder is due; null when Affinity sends no due date.';
COMMENT ON COLUMN reminders.created_at IS 'When the reminder was created.';
COMMENT ON COLUMN reminders.completed_at IS 'When the reminder was completed; null while open.';
COMMENT ON COLUMN reminders.creator_id IS 'Person id (persons.id) of the team member who created the reminder.';
COMMENT ON COLUMN reminders.owner_id IS 'Person id (persons.id) of the team member the reminder is for.';
COMMENT ON COLUMN reminders.completer_id IS 'Person id (persons.id) of the team member who completed it; null while open.';
COMMENT ON COLUMN reminders.person_id IS 'The person (persons.id) the reminder is about; null when it is about an organization or opportunity.';
COMMENT ON COLUMN reminders.organization_id IS 'The organization (organizations.id) the reminder is about; null when none.';
COMMENT ON COLUMN reminders.opportunity_id IS 'The opportunity (opportunities.id) the reminder is about; null when none.';
COMMENT ON COLUMN reminders.synced_at IS 'Last time a complete or partial pass (or a webhook) saw this row.';
COMMENT ON COLUMN reminders.deleted_at IS 'Set when a complete pass no longer saw the reminder (or Affinity reported it deleted); null while live; cleared if it comes back.';

CREATE VIEW reminders_current AS
SELECT r.id, r.type, r.reset_type, r.reminder_days, r.status, r.content, r.due_at, r.created_at, r.completed_at,
       r.creator_id, r.owner_id, r.completer_id, r.person_id, r.organization_id, r.opportunity_id, r.synced_at,
       CASE
           WHEN r.completed_at IS NOT NULL THEN 'completed'
           WHEN r.due_at < now() THEN 'overdue'
           ELSE 'active'
       END AS status_now
FROM reminders r
WHERE r.deleted_at IS NULL;

COMMENT ON VIEW reminders_current IS 'Every live (not deleted) reminder with its status as of the moment you query: Affinity''s status changes with time alone, so status_now is worked out at query time.';
COMMENT ON COLUMN reminders_current.id IS 'Affinity reminder id (reminders.id).';
COMMENT ON COLUMN reminders_current.type IS 'Reminder type: 0 = one-time, 1 = recurring.';
COMMENT ON COLUMN reminders_current.reset_type IS 'For a recurring reminder, what restarts it: 0 = any interaction, 1 = an email, 2 = a meeting; null otherwise.';
COMMENT ON COLUMN reminders_current.reminder_days IS 'For a recurring reminder, days until it is due again; null otherwise.';
COMMENT ON COLUMN reminders_current.status IS 'Status as Affinity reported it when last synced (0 = completed, 1 = active, 2 = overdue); may be stale, prefer status_now.';
COMMENT ON COLUMN reminders_current.content IS 'The reminder''s text.';
COMMENT ON COLUMN reminders_current.due_at IS 'When the reminder is due.';
COMMENT ON COLUMN reminders_current.created_at IS 'When the reminder was created.';
COMMENT ON COLUMN reminders_current.completed_at IS 'When the reminder was completed; null while open.';
COMMENT ON COLUMN reminders_current.creator_id IS 'Person id of the team member who created it.';
COMMENT ON COLUMN reminders_current.owner_id IS 'Person id of the team member the reminder is for.';
COMMENT ON COLUMN reminders_current.completer_id IS 'Person id of the team member who completed it; null while open.';
COMMENT ON COLUMN reminders_current.person_id IS 'The person the reminder is about; null when none.';
COMMENT ON COLUMN reminders_current.organization_id IS 'The organization the reminder is about; null when none.';
COMMENT ON COLUMN reminders_current.opportunity_id IS 'The opportunity the reminder is about; null when none.';
COMMENT ON COLUMN reminders_current.synced_at IS 'Last time a pass or webhook saw the reminder.';
COMMENT ON COLUMN reminders_current.status_now IS 'Status right now: completed when completed_at is set, otherwise overdue when due_at has passed, otherwise active.';

CREATE TABLE relationship_strengths (
    external_person_id bigint NOT NULL,
    internal_person_id bigint NOT NULL,
    strength           double precision NOT NULL,
    fetched_at         timestamptz NOT NULL,
    synced_at          timestamptz NOT NULL,
    deleted_at         timestamptz,
    PRIMARY KEY (external_person_id, internal_person_id)
);
CREATE INDEX relationship_strengths_internal_person_id_idx ON relationship_strengths (internal_person_id) WHERE deleted_at IS NULL;

COMMENT ON TABLE relationship_strengths IS 'How well each team member knows each outside contact, as Affinity scores it (GET /relationships-strengths): one row per external person and internal person. Pairs Affinity no longer returns are soft-deleted; their past values are in relationship_strength_history.';
COMMENT ON COLUMN relationship_strengths.external_person_id IS 'The outside contact (persons.id, a person of type 0).';
COMMENT ON COLUMN relationship_strengths.internal_person_id IS 'The team member (persons.id, a person of type 1).';
COMMENT ON COLUMN relationship_strengths.strength IS 'Affinity''s relationship strength score for the pair: higher means a warmer relationship.';
COMMENT ON COLUMN relationship_strengths.fetched_at IS 'When this score was read from Affinity: how old it is. Scores of contacts no longer in scope stay as last read.';
COMMENT ON COLUMN relationship_strengths.synced_at IS 'Last time a pass saw this pair.';
COMMENT ON COLUMN relationship_strengths.deleted_at IS 'Set when a read of the external person no longer returned the pair, the person is gone, or the person was deleted; null while live; cleared if the pair comes back.';

CREATE TABLE relationship_strength_history (
    external_person_id bigint NOT NULL,
    internal_person_id bigint NOT NULL,
    strength           double precision,
    observed_at        timestamptz NOT NULL,
    PRIMARY KEY (external_person_id, internal_person_id, observed_at)
);

COMMENT ON TABLE relationship_strength_history IS 'Every change of a relationship strength, append-only: one row when a pair is seen for the first time, when its score changes, and when it disappears (strength null). Plot strength over observed_at for one pair to see the relationship''s trend.';
COMMENT ON COLUMN relationship_strength_history.external_person_id IS 'The outside contact (persons.id).';
COMMENT ON COLUMN relationship_strength_history.internal_person_id IS 'The team member (persons.id).';
COMMENT ON COLUMN relationship_strength_history.strength IS 'The score from this moment on; null = the pair is gone (no longer returned, or the person was deleted).';
COMMENT ON COLUMN relationship_strength_history.observed_at IS 'When the change was seen: the time of the read that found it (or of the deletion).';

CREATE TABLE interactions (
    type              smallint NOT NULL,
    id                bigint NOT NULL,
    occurred_at       timestamptz NOT NULL,
    start_time        timestamptz,
    end_time          timestamptz,
    title             text,
    subject           text,
    direction         smallint,
    manual_creator_id bigint,
    updated_at        timestamptz,
    note_ids          bigint[] NOT NULL DEFAULT '{}',
    raw               jsonb,
    synced_at         timestamptz NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE INDEX interactions_occurred_at_idx ON interactions (occurred_at);

COMMENT ON TABLE interactions IS 'Meetings, calls, chat messages and emails between the team and its contacts (GET /interactions), one row per interaction however many persons or organizations it was found through. Only metadata: message bodies are never available. Ids are unique per type only, so the key is (type, id).';
COMMENT ON COLUMN interactions.type IS 'Interaction type: 0 = meeting, 1 = call, 2 = chat message, 3 = email.';
COMMENT ON COLUMN interactions.id IS 'Affinity interaction id (unique within its type).';
COMMENT ON COLUMN interactions.occurred_at IS 'When the interaction happened (Affinity''s date): the email''s send time, the meeting''s or call''s start.';
COMMENT ON COLUMN interactions.start_time IS 'Start of a meeting or call; null for emails and chat messages.';
COMMENT ON COLUMN interactions.end_time IS 'End of a meeting or call; null when unknown.';
COMMENT ON COLUMN interactions.title IS 'Title of a meeting or call; null when none.';
COMMENT ON COLUMN interactions.subject IS 'Subject of an email; null for other types.';
COMMENT ON COLUMN interactions.direction IS 'For emails and chat messages: 0 = sent by the team, 1 = received by the team; null when not given.';
COMMENT ON COLUMN interactions.manual_creator_id IS 'Person id (persons.id) of the team member who logged the interaction by hand; null when it was captured automatically.';
COMMENT ON COLUMN interactions.updated_at IS 'When the interaction was last changed in Affinity; null when not given.';
COMMENT ON COLUMN interactions.note_ids IS 'Notes (notes.id) taken on this interaction; empty when none.';
COMMENT ON COLUMN interactions.raw IS 'The interaction exactly as Affinity sent it (JSON), for fields without a column of their own.';
COMMENT ON COLUMN interactions.synced_at IS 'Last time a pass saw this interaction.';

CREATE TABLE interaction_persons (
    type           smallint NOT NULL,
    interaction_id bigint NOT NULL,
    person_id      bigint NOT NULL,
    role           text NOT NULL CHECK (role IN ('from', 'to', 'cc', 'attendee', 'participant')),
    PRIMARY KEY (type, interaction_id, person_id, role)
);
CREATE INDEX interaction_persons_person_id_idx ON interaction_persons (person_id);

COMMENT ON TABLE interaction_persons IS 'Who took part in each interaction, one row per person and role; replaced whenever the interaction is read again. Join to interactions on (type, interaction_id).';
COMMENT ON COLUMN interaction_persons.type IS 'Interaction type (interactions.type): 0 = meeting, 1 = call, 2 = chat message, 3 = email.';
COMMENT ON COLUMN interaction_persons.interaction_id IS 'The interaction (interactions.id, with type).';
COMMENT ON COLUMN interaction_persons.person_id IS 'The person (persons.id) who took part.';
COMMENT ON COLUMN interaction_persons.role IS 'How the person took part: from, to, cc (emails), attendee (meetings and calls), participant (chat messages).';

CREATE TABLE sync_interaction_fetches (
    entity_type          smallint NOT NULL,
    entity_id            bigint NOT NULL,
    interaction_type     smallint NOT NULL,
    fetched_at           timestamptz,
    last_email_at        timestamptz,
    last_event_at        timestamptz,
    next_event_at        timestamptz,
    last_chat_message_at timestamptz,
    window_start         timestamptz,
    window_end           timestamptz,
    fetch_end            timestamptz,
    page_token           text,
    started_at           timestamptz,
    PRIMARY KEY (entity_type, entity_id, interaction_type)
);

COMMENT ON TABLE sync_interaction_fetches IS 'Bookkeeping: for each person or organization and interaction type, when its interactions were last read and which interaction dates that read covered, plus where a read still in progress stands. A type is read again only when those dates move.';
COMMENT ON COLUMN sync_interaction_fetches.entity_type IS 'Entity kind: 0 = person, 1 = organization.';
COMMENT ON COLUMN sync_interaction_fetches.entity_id IS 'The person (persons.id) or organization (organizations.id).';
COMMENT ON COLUMN sync_interaction_fetches.interaction_type IS 'Interaction type read: 0 = meeting, 1 = call, 2 = chat message, 3 = email.';
COMMENT ON COLUMN sync_interaction_fetches.fetched_at IS 'When the last complete read was started; null before the first completes. The next read starts one day before it.';
COMMENT ON COLUMN sync_interaction_fetches.last_email_at IS 'The entity''s last_email_at that the read covered (emails); while a read is in progress, the value it will cover.';
COMMENT ON COLUMN sync_interaction_fetches.last_event_at IS 'The entity''s last_event_at that the read covered (meetings and calls); while in progress, the value it will cover.';
COMMENT ON COLUMN sync_interaction_fetches.next_event_at IS 'The entity''s next_event_at that the read covered (meetings and calls); while in progress, the value it will cover.';
COMMENT ON COLUMN sync_interaction_fetches.last_chat_message_at IS 'The entity''s last_chat_message_at that the read covered (chat); while in progress, the value it will cover.';
COMMENT ON COLUMN sync_interaction_fetches.window_start IS 'Read in progress: start of the time window being read; null when no read is in progress.';
COMMENT ON COLUMN sync_interaction_fetches.window_end IS 'Read in progress: end of the time window being read; null when none.';
COMMENT ON COLUMN sync_interaction_fetches.fetch_end IS 'Read in progress: where the whole read ends (further windows follow up to it); null when none.';
COMMENT ON COLUMN sync_interaction_fetches.page_token IS 'Read in progress: the page token of the next request in the current window (empty = its first page); null when none.';
COMMENT ON COLUMN sync_interaction_fetches.started_at IS 'Read in progress: when its first request was sent; null when no read is in progress.';

CREATE TABLE sync_strength_fetches (
    person_id            bigint PRIMARY KEY,
    fetched_at           timestamptz NOT NULL,
    first_email_at       timestamptz,
    last_email_at        timestamptz,
    first_event_at       timestamptz,
    last_event_at        timestamptz,
    next_event_at        timestamptz,
    last_chat_message_at timestamptz,
    last_interaction_at  timestamptz
);

COMMENT ON TABLE sync_strength_fetches IS 'Bookkeeping: when each external person''s relationship strengths were last read, and the person''s interaction dates at that moment; strengths are read again when those dates move or the read grows old.';
COMMENT ON COLUMN sync_strength_fetches.person_id IS 'The external person (persons.id).';
COMMENT ON COLUMN sync_strength_fetches.fetched_at IS 'When the read was sent.';
COMMENT ON COLUMN sync_strength_fetches.first_email_at IS 'persons.first_email_at when the read was stored.';
COMMENT ON COLUMN sync_strength_fetches.last_email_at IS 'persons.last_email_at when the read was stored.';
COMMENT ON COLUMN sync_strength_fetches.first_event_at IS 'persons.first_event_at when the read was stored.';
COMMENT ON COLUMN sync_strength_fetches.last_event_at IS 'persons.last_event_at when the read was stored.';
COMMENT ON COLUMN sync_strength_fetches.next_event_at IS 'persons.next_event_at when the read was stored.';
COMMENT ON COLUMN sync_strength_fetches.last_chat_message_at IS 'persons.last_chat_message_at when the read was stored.';
COMMENT ON COLUMN sync_strength_fetches.last_interaction_at IS 'persons.last_interaction_at when the read was stored.';

CREATE TABLE sync_file_fetches (
    entity_type smallint NOT NULL,
    entity_id   bigint NOT NULL,
    fetched_at  timestamptz NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
);

COMMENT ON TABLE sync_file_fetches IS 'Bookkeeping: when each entity''s files were last read one entity at a time (the fallback used when Affinity refuses the unfiltered file listing).';
COMMENT ON COLUMN sync_file_fetches.entity_type IS 'Entity kind: 0 = person, 1 = organization, 8 = opportunity.';
COMMENT ON COLUMN sync_file_fetches.entity_id IS 'The person, organization or opportunity id.';
COMMENT ON COLUMN sync_file_fetches.fetched_at IS 'When its complete file set was last read.';

-- +goose Down
DROP TABLE sync_file_fetches;
DROP TABLE sync_strength_fetches;
DROP TABLE sync_interaction_fetches;
DROP TABLE interaction_persons;
DROP TABLE interactions;
DROP TABLE relationship_strength_history;
DROP TABLE relationship_strengths;
DROP VIEW reminders_current;
DROP TABLE reminders;
DROP TABLE entity_files;
