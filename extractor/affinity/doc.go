// Package affinity is the client of the Affinity CRM REST API used by the extractors: all of
// API v1 that the sync reads, and the three API v2 listings that carry field values inline
// (list entries, companies, persons).
//
// It owns everything about talking to Affinity: authentication (Basic on v1, Bearer on v2,
// with the v2 version pinned), typed models of the resources, page iterators (v1 page
// tokens, v2 cursors and nextUrl, followed only on the base URL's host), the retry policy
// (one function decides every retry), 429 handling, rate-limit header parsing, a client-side
// per-minute limiter and the hooks the quota ledger uses to count every request before it is
// sent. Every request, of every method and API version, takes the same send path. Its only
// write is the webhook subscription.
//
// The API key is held only by the [Client]; it is sent in the Authorization header and is
// scrubbed from every error, log line and observer report the package produces.
package affinity
