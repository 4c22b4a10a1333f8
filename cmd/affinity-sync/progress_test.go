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
		"/persons":                 extractor.StreamPersons,
		"/persons/fields":          extractor.StreamFields,
		"/lists/{id}/list-entries": extractor.StreamListEntries,
		"/field-values":            extractor.StreamFieldValues,
		"/organizations/{id}":      extractor.StreamOrganizationDetails,
		"/field-value-changes":     extractor.StreamFieldValueChanges,
		"/notes":                   extractor.StreamNotes,
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
