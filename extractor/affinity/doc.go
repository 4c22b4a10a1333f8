// Package affinity is the client of the Affinity CRM REST API v1 used by the extractors.
//
// It owns everything about talking to Affinity: authentication, typed models of the v1
// resources, page iterators, the retry policy (one function decides every retry), 429
// handling, rate-limit header parsing, a client-side per-minute limiter and the hooks the
// quota ledger uses to count every request before it is sent. It never writes anywhere.
//
// The API key is held only by the [Client]; it is sent in the Authorization header and is
// scrubbed from every error, log line and observer report the package produces.
package affinity
