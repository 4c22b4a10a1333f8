package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
)

func TestStreamOfEndpoint(t *testing.T) {
	t.Parallel()
	for endpoint, stream := range map[string]string{
		"/persons":                    extractor.StreamPersons,
		"/persons/fields":             extractor.StreamFields,
		"/lists/{id}/list-entries":    extractor.StreamListEntries,
		"/field-values":               extractor.StreamFieldValues,
		"/organizations/{id}":         extractor.StreamOrganizationDetails,
		"/field-value-changes":        extractor.StreamFieldValueChanges,
		"/notes":                      extractor.StreamNotes,
		"/v2/lists/{id}/list-entries": extractor.StreamFieldValues,
		"/v2/persons":                 extractor.StreamFieldValues,
	} {
		got, ok := extractor.StreamOfEndpoint(endpoint)
		require.True(t, ok, endpoint)
		require.Equal(t, stream, got, endpoint)
	}
	for _, endpoint := range []string{"/auth/whoami", "/rate-limit", "/entity-files"} {
		_, ok := extractor.StreamOfEndpoint(endpoint)
		require.False(t, ok, "%s belongs to no stream", endpoint)
	}
}

// TestProgressCountsV2Requests: requests through API v2 count for the stream that sent them;
// /v2/companies serves field_values (entities on no list) and then organization_details.
func TestProgressCountsV2Requests(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{extractor.StreamFieldValues, extractor.StreamOrganizationDetails},
		extractor.StreamsOfEndpoint("/v2/companies"))
	streams := []string{extractor.StreamFieldValues, extractor.StreamOrganizationDetails}
	p := newProgress(&bytes.Buffer{}, slog.New(slog.DiscardHandler), streams)
	send := func(endpoint string, n int) {
		for range n {
			p.observe(affinity.RequestInfo{Endpoint: endpoint, Status: 200})
		}
	}
	p.markStarted(extractor.StreamFieldValues)
	send("/v2/lists/{id}/list-entries", 3)
	send("/field-values", 5)
	send("/v2/persons", 2)
	send("/v2/companies", 4)
	p.markStarted(extractor.StreamOrganizationDetails)
	send("/v2/companies", 7)
	send("/organizations/{id}", 1)
	p.markStarted(extractor.StreamFieldValues) // a later run of the same process
	send("/v2/companies", 10)
	require.Equal(t, int64(3+5+2+4+10), p.stats[extractor.StreamFieldValues].requests)
	require.Equal(t, int64(7+1), p.stats[extractor.StreamOrganizationDetails].requests)
	require.Equal(t, int64(32), p.requests)

	only := newProgress(&bytes.Buffer{}, slog.New(slog.DiscardHandler), []string{extractor.StreamOrganizationDetails})
	only.observe(affinity.RequestInfo{Endpoint: "/v2/companies", Status: 200})
	require.Equal(t, int64(1), only.stats[extractor.StreamOrganizationDetails].requests,
		"a stream not in the run sends nothing: the one that is gets it, started or not")
}

func TestProgressShow(t *testing.T) {
	t.Parallel()
	streams := []string{extractor.StreamPersons, extractor.StreamFieldValues}

	var term bytes.Buffer
	p := newProgress(&term, slog.New(slog.DiscardHandler), streams)
	p.tty = true
	p.left = 100
	for range 3 {
		p.observe(affinity.RequestInfo{Endpoint: "/persons", Status: 200})
	}
	p.stats[extractor.StreamPersons].pages, p.stats[extractor.StreamPersons].rows = 3, 1200
	p.show(false)
	p.stats[extractor.StreamPersons].done = true
	p.show(true)
	out := term.String()
	require.Contains(t, out, "1200 rows")
	require.Contains(t, out, "3 requests")
	require.Contains(t, out, "waiting", "field_values has not started")
	require.Contains(t, out, "budget left: 97", "each request counts against what was left")
	require.Contains(t, out, "\x1b[3A", "the second drawing moves up over the first")
	require.Contains(t, out, "done")

	var logs bytes.Buffer
	p = newProgress(&logs, slog.New(slog.NewTextHandler(&logs, nil)), streams)
	require.False(t, p.tty, "a buffer is no terminal")
	p.observe(affinity.RequestInfo{Endpoint: "/field-values", Status: 200})
	p.show(false)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 1, "only streams that did something: %s", logs.String())
	require.Contains(t, lines[0], "stream=field_values")
	require.Contains(t, lines[0], "requests=1")
	require.Contains(t, lines[0], "budget_left=unlimited")
	require.NotContains(t, logs.String(), "\x1b[")

	var none *progress
	none.observe(affinity.RequestInfo{})
	none.start(t.Context(), nil)()
	_, wrapped := none.wrap(nil).(progressStore)
	require.False(t, wrapped, "no progress, no wrapper")
}
