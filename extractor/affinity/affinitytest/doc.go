// Package affinitytest is a fake Affinity CRM v1 API: an http.Handler serving a generated,
// deterministic workspace with the envelopes, page tokens, errors, rate-limit headers and quirks
// described in the API reference (shared/affinity-api-v1.md).
//
// It owns three things:
//
//   - the Workspace model and its generator (Generate, from a Config and a seed), exported so
//     tests can compare a warehouse with it, plus mutation helpers to change it between syncs;
//   - the Server, which answers the read endpoints a sync uses (persons, organizations,
//     opportunities, lists, list entries, fields, field values, field value changes, notes,
//     whoami, rate-limit), enforces optional per-minute and monthly limits and counts requests;
//   - fault injection (Faults, FailNext) for retry and robustness tests;
//   - webhook subscriptions (GET /webhook, POST /webhook/subscribe, at most three) and
//     Deliver, which posts an event the way Affinity would, for end-to-end webhook tests.
//
// Not modelled yet: interactions, entity files and relationship strengths. Deleting an entity removes its list entries, values and history, but
// values of other entities that point at it (person/organization values) stay, and so does its
// id on notes.
//
// The fake is built from the reference only; it does not import the real client, so it can
// catch the client's mistakes. It is used by client tests, end-to-end tests, the demo and the
// fake-api command, and by benchmarks with 100k persons: every paged request costs O(page).
package affinitytest
