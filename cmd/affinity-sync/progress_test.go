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

// TestProgressCountsRequestsOfTheirStream: a request counts for the stream whose run sent it
// (the tag its context carries), whatever the endpoint: /v2/companies serves field_values
// (entities on no list) and organization_details; a request of no stream in the run counts
// in the total only.
func TestProgressCountsRequestsOfTheirStream(t *testing.T) {
	t.Parallel()
	streams := []extractor.StreamName{extractor.StreamFieldValues, extractor.StreamOrganizationDetails}
	p := newProgress(&bytes.Buffer{}, slog.New(slog.DiscardHandler), streams)
	send := func(sender, endpoint string, n int) {
		for range n {
			p.observe(affinity.RequestInfo{Endpoint: endpoint, Label: sender, Status: 200})
		}
	}
	send(string(extractor.StreamFieldValues), "/v2/lists/{id}/list-entries", 3)
	send(string(extractor.StreamFieldValues), "/field-values", 5)
	send(string(extractor.StreamOrganizationDetails), "/v2/companies", 7) // the two interleave
	send(string(extractor.StreamFieldValues), "/v2/companies", 4)
	send(string(extractor.StreamOrganizationDetails), "/organizations/{id}", 1)
	send(string(extractor.StreamFieldValues), "/v2/companies", 10)
	send(extractor.WorkspaceCheck, "/auth/whoami", 1)
	require.Equal(t, int64(3+5+4+10), p.stats[string(extractor.StreamFieldValues)].requests)
	require.Equal(t, int64(7+1), p.stats[string(extractor.StreamOrganizationDetails)].requests)
	require.Equal(t, int64(31), p.requests)
}

func TestProgressShow(t *testing.T) {
	t.Parallel()
	streams := []extractor.StreamName{extractor.StreamPersons, extractor.StreamFieldValues}

	var term bytes.Buffer
	p := newProgress(&term, slog.New(slog.DiscardHandler), streams)
	p.tty = true
	p.left = 100
	for range 3 {
		p.observe(affinity.RequestInfo{Endpoint: "/persons", Status: 200})
	}
	p.stats[string(extractor.StreamPersons)].pages, p.stats[string(extractor.StreamPersons)].rows = 3, 1200
	p.show(false)
	p.stats[string(extractor.StreamPersons)].done = true
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
