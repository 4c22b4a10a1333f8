-- Notes (docs/warehouse.md): the notes table (GET /notes) and the association tables that
-- attach a note to persons, organizations and opportunities. Names are unqualified: the
-- migration runner sets search_path to the target schema.

-- +goose Up

CREATE TABLE notes (
    id               bigint PRIMARY KEY,
    creator_id       bigint,
    content          text,
    type             smallint NOT NULL,
    interaction_id   bigint,
    interaction_type smallint,
    is_meeting       boolean NOT NULL DEFAULT false,
    parent_id        bigint,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz,
    synced_at        timestamptz NOT NULL,
    deleted_at       timestamptz
);
CREATE INDEX notes_live_synced_at_idx ON notes (synced_at) WHERE deleted_at IS NULL;
CREATE INDEX notes_parent_id_idx ON notes (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX notes_created_at_idx ON notes (created_at);

COMMENT ON TABLE notes IS 'Affinity notes (GET /notes), one row per note id, replies included; soft-deleted rows stay.';
COMMENT ON COLUMN notes.id IS 'Affinity note id.';
COMMENT ON COLUMN notes.creator_id IS 'Internal person id (persons.id) of the user who wrote the note.';
COMMENT ON COLUMN notes.content IS 'The note''s text: plain text, or HTML when type = 2 (live data also shows markdown-like text); null when Affinity sends none.';
COMMENT ON COLUMN notes.type IS 'Note type: 0 = plain text, 1 = email-derived (legacy), 2 = HTML, 3 = AI notetaker summary; other codes are stored as received.';
COMMENT ON COLUMN notes.interaction_id IS 'Id of the interaction (meeting, call, chat, email) the note was taken on; null when none.';
COMMENT ON COLUMN notes.interaction_type IS 'Type of that interaction: 0 = meeting, 1 = call, 2 = chat message, 3 = email; null when none.';
COMMENT ON COLUMN notes.is_meeting IS 'True when the note is attached to a meeting or call.';
COMMENT ON COLUMN notes.parent_id IS 'The note (notes.id) this one replies to; null for a top-level note. Replies have no persons, organizations or opportunities of their own.';
COMMENT ON COLUMN notes.created_at IS 'When the note was created (its creator can back-date it).';
COMMENT ON COLUMN notes.updated_at IS 'When the note was last edited; null if never.';
COMMENT ON COLUMN notes.synced_at IS 'Last time a complete or partial pass (or a webhook refresh) saw this row.';
COMMENT ON COLUMN notes.deleted_at IS 'Set when a complete pass no longer saw the note (or Affinity reported it deleted); null while live; cleared if it comes back. Its association rows are kept: join through this column.';

CREATE TABLE note_persons (
    note_id   bigint NOT NULL,
    person_id bigint NOT NULL,
    relation  text NOT NULL CHECK (relation IN ('associated', 'interaction', 'mentioned')),
    PRIMARY KEY (note_id, person_id, relation)
);
CREATE INDEX note_persons_person_id_idx ON note_persons (person_id);

COMMENT ON TABLE note_persons IS 'Persons a note is about, one row per person and relation; replaced whenever the note is fetched. Join through notes.deleted_at.';
COMMENT ON COLUMN note_persons.note_id IS 'The note (notes.id).';
COMMENT ON COLUMN note_persons.person_id IS 'The person (persons.id).';
COMMENT ON COLUMN note_persons.relation IS 'How the person is attached: associated (tagged on the note), interaction (attended the note''s interaction), mentioned (@-mentioned in the content). Affinity''s person_ids is the union of associated and interaction.';

CREATE TABLE note_organizations (
    note_id         bigint NOT NULL,
    organization_id bigint NOT NULL,
    PRIMARY KEY (note_id, organization_id)
);
CREATE INDEX note_organizations_organization_id_idx ON note_organizations (organization_id);

COMMENT ON TABLE note_organizations IS 'Organizations a note is attached to; replaced whenever the note is fetched. Join through notes.deleted_at.';
COMMENT ON COLUMN note_organizations.note_id IS 'The note (notes.id).';
COMMENT ON COLUMN note_organizations.organization_id IS 'The organization (organizations.id).';

CREATE TABLE note_opportunities (
    note_id        bigint NOT NULL,
    opportunity_id bigint NOT NULL,
    PRIMARY KEY (note_id, opportunity_id)
);
CREATE INDEX note_opportunities_opportunity_id_idx ON note_opportunities (opportunity_id);

COMMENT ON TABLE note_opportunities IS 'Opportunities a note is attached to; replaced whenever the note is fetched. Join through notes.deleted_at.';
COMMENT ON COLUMN note_opportunities.note_id IS 'The note (notes.id).';
COMMENT ON COLUMN note_opportunities.opportunity_id IS 'The opportunity (opportunities.id).';

-- +goose Down
DROP TABLE note_opportunities;
DROP TABLE note_organizations;
DROP TABLE note_persons;
DROP TABLE notes;
