// Package affinitytest is a fake Affinity CRM API, v1 and the parts of v2 a sync reads: an
// http.Handler serving a generated, deterministic workspace with the envelopes, page tokens,
// errors, rate-limit headers and quirks of the real API.
//
// It owns these things:
//
//   - the Workspace model and its generator (Generate, from a Config and a seed), exported so
//     tests can compare a warehouse with it, plus mutation helpers to change it between syncs
//     (ChangeTrackedValues makes a trickle of value changes on tracked fields, at w.Now(), one
//     change record each, spread over distinct entities);
//   - the Server, which answers the read endpoints a sync uses (persons, organizations,
//     opportunities, lists, list entries, fields, field values, field value changes, notes,
//     whoami, rate-limit), enforces optional per-minute and monthly limits and counts requests;
//   - fault injection (Faults, FailNext) for retry and robustness tests;
//   - webhook subscriptions (GET /webhook, POST /webhook/subscribe, at most three) and
//     Deliver, which posts an event the way Affinity would, for end-to-end webhook tests;
//   - API v2 (v2*.go): GET /v2/lists/{id}/list-entries, GET /v2/persons and GET /v2/companies,
//     served from the same workspace as v1, so that a v1 and a v2 read of one workspace give
//     the same values. Bearer auth only; limit 1-100 (default 100); {data, pagination} pages
//     with absolute prevUrl/nextUrl built from the request's Host (or WithV2NextURLBase) and
//     opaque base64 "after:::<id>" cursors, 400 for a bad one; fieldTypes/fieldIds selection
//     (no field data without one, fieldTypes=list refused on persons and companies);
//     {"errors":[{code, message, param}]} bodies; lower-case x-ratelimit-* headers (the -org
//     ones only with a monthly limit); X-Affinity-Api-Version echoed, an unknown one refused.
//     v2 requests share v1's limits, faults and counters (endpoint templates such as
//     "GET /v2/lists/{id}/list-entries"). v1 field n is "field-n"; an enriched field is
//     "<source>-<name slug>" (V2FieldID), Crunchbase fields are never served. Values take the
//     v2 shapes of their v1 value type (V2ValueType): person and company objects, dropdown
//     {dropdownOptionId, text}, ranked dropdown with a color name, datetimes in UTC with Z,
//     camelCase locations, -multi arrays cut at 100 with totalCount and null when empty, and a
//     field without a value as data null. Companies carry their persons (field "persons",
//     v1 person_ids, always with totalCount), persons their organizations ("companies"),
//     opportunity entries their persons and companies, and persons and companies
//     relationship-intelligence fields (clients ignore them). A v1 value that is JSON null
//     has no v2 counterpart. Options answer every v2 request with 403 "authorization"
//     (V2Forbidden) or 404 "not-found" (V2NotFound), or make v2 alter exactly one text value
//     (WithV2Disagree, Workspace.V2DisagreeValue).
//   - the v2 change feed (v2_changes.go): GET /v2/field-value-changes serves Workspace.Changes,
//     the history v1's /field-value-changes serves, with the same ids, changes of tracked
//     fields only. A record is {id, type (V2ValueType of the field), actionType (add, delete,
//     update for v1 0, 1, 2), changedAt (UTC, milliseconds), field {id "field-n", entityType
//     person|company|opportunity, name, type global|list}, entity {id}, listEntry {id, listId}
//     or null, changer {id, firstName, lastName, emailAddress} or null, value}, value being one
//     item in the v2 shape the other v2 endpoints give a value of that type, or null when
//     v1's is null. filter takes changedAt with >, >=, <, <= (an RFC 3339 time), field.id,
//     listEntry.id, changer.id and actionType with =, combined with & (spaces allowed, values
//     may be double-quoted); | and parentheses, other properties and operators are refused
//     with 400 validation (param "filter"), so is an unknown orderBy or a bad cursor. orderBy
//     changedAt (the default: changedAt, then id) or -changedAt; limit 1-100, 10 when absent
//     (V2ChangesDefaultLimit); a keyset cursor on (changedAt, id), so changes recorded between
//     two pages are neither skipped nor served twice; nextUrl and prevUrl as the other v2
//     listings give them. WithV2Changes answers the feed alone with 403 "authorization"
//     (V2ChangesForbidden) or 404 "not-found" (V2ChangesNotFound), the other v2 endpoints
//     keeping WithV2Mode's answer, or makes the first record of every page carry a value that
//     maps to another v1 value (V2ChangesDisagree): the v1 value altered as DisagreeV1Value
//     says (a number plus 1, a person or company id plus 1, a date one hour later, the city of
//     a location with " (v2)" appended, a ranked dropdown's next option; null read as the
//     type's zero first).
//   - relationship intelligence and files (v1_interactions.go, v1_strengths.go, v1_files.go,
//     v1_reminders.go), from Workspace.Interactions, Strengths, Files and Reminders, generated
//     last with their own random source (generate_intelligence.go; Config.Interactions,
//     FileRate, ReminderRate). The persons' and organizations' interaction dates are derived
//     from the interactions (an organization's and an opportunity's interactions are those of
//     its external persons), so they always agree; AddInteraction and MutateIntelligence keep
//     them so at w.Now(). GET /interactions: 422 without type, start_time or end_time, for a
//     window not starting before it ends or longer than a year, without exactly one of
//     person_id, organization_id, opportunity_id, or for an internal person; 404 for an
//     unknown entity; envelope "events" (meetings, calls), "chat_messages", "emails"; 100 a
//     page. GET /relationships-strengths?external_id=P: a bare array; 422 without
//     external_id or for an internal person. GET /entity-files: every file or one entity's,
//     500 a page; WithFilesUnfiltered(FilesUnfilteredRefuse) answers the unfiltered listing
//     422. GET /reminders: every status unless filtered, the status derived from the due date,
//     the completion and the workspace's clock; the reference's filters. Single GETs of each.
//
// Each file has one job, so that a new endpoint or a new kind of data has an obvious home:
// workspace.go the Workspace types (workspace_index.go its lookups, workspace_snapshot.go its
// deep copy), mutate.go the mutation helpers, generate.go the Config and generator with
// generate_<what>.go per kind of generated data (entities, lists, values, notes,
// intelligence), server.go
// the transport (auth, limits, faults, counters), v1.go the v1 route table with
// v1_<resource>.go per resource, v2.go the v2 modes and transport with v2_<job>.go (paging,
// fields, values, entities, list entries, changes), token.go v1 page tokens, webhooks.go
// webhooks, mutate_changes.go the changes made between syncs, mutate_intelligence.go those of
// relationship intelligence and files.
//
// Not modelled yet: the other v2 endpoints (field metadata, notes, a list entry's own field
// value changes...). Deleting an entity removes its list entries, values, history and files
// (a person also its strengths), but values of other entities that point at it
// (person/organization values) stay, and so does its id on notes, interactions and reminders.
//
// The fake is built from the reference only; it does not import the real client, so it can
// catch the client's mistakes. It is used by client tests, end-to-end tests, the demo and the
// fake-api command, and by benchmarks with 100k persons: every paged request costs O(page).
package affinitytest
