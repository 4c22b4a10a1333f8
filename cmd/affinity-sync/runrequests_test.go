package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// TestRunRecordsRequestsByStream: a sync with api_v2 auto in which field_values reads the
// entities on no list through /v2/companies, which organization_details reads too, records
// each stream's requests — what the fake answered for that stream's endpoints, the companies
// pages split between the two — and the workspace check's under its own name; they add up to
// the run's requests, and status prints them for the last run, as text and as JSON.
func TestRunRecordsRequestsByStream(t *testing.T) {
	t.Parallel()
	const key = "run-requests-key"
	ws := smallWorkspace()
	fake := affinitytest.NewServer(ws, affinitytest.WithAPIKey(key))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": srv.URL, "DATABASE_URL": pgtest.NewDatabase(t)}
	cfg := writeFile(t, "c.yaml", "quota:\n  per_minute: 0\nsync:\n  field_values_for_unlisted: true\n", 0o600)
	code, _, stderr := runCLI(t, env, "--config", cfg, "sync")
	require.Equal(t, exitOK, code, stderr)

	rep, out := statusJSON(t, env, cfg)
	require.Len(t, rep.Runs, 1)
	run := rep.Runs[0]
	var sum int64
	for _, n := range run.RequestsByStream {
		sum += n
	}
	require.Equal(t, run.Requests, sum, "the requests by stream add up to the run's: %v", run.RequestsByStream)
	require.Equal(t, int64(fake.TotalRequests()), run.Requests)

	served := fake.Requests()
	companyPages := loader.V2PagesOf(int64(len(ws.Organizations)))
	require.Equal(t, 2*companyPages, int64(served["GET /v2/companies"]), "both streams read every companies page: %v", served)
	want := map[string]int64{extractor.WorkspaceCheck: 1}
	for stream, endpoints := range map[extractor.StreamName][]string{
		extractor.StreamLists:                 {"/lists"},
		extractor.StreamFields:                {"/fields", "/persons/fields", "/organizations/fields"},
		extractor.StreamPersons:               {"/persons"},
		extractor.StreamOrganizations:         {"/organizations"},
		extractor.StreamOpportunities:         {"/opportunities"},
		extractor.StreamListEntries:           {"/lists/{id}/list-entries"},
		extractor.StreamFieldValueChanges:     {"/field-value-changes", "/v2/field-value-changes"},
		extractor.StreamFieldValues:           {"/field-values", "/v2/lists/{id}/list-entries", "/v2/persons"},
		extractor.StreamNotes:                 {"/notes"},
		extractor.StreamOrganizationDetails:   {"/organizations/{id}"},
		extractor.StreamReminders:             {"/reminders"},
		extractor.StreamEntityFiles:           {"/entity-files"},
		extractor.StreamInteractions:          {"/interactions"},
		extractor.StreamRelationshipStrengths: {"/relationships-strengths"},
	} {
		for _, e := range endpoints {
			want[string(stream)] += int64(served["GET "+e])
		}
	}
	want[string(extractor.StreamFieldValues)] += companyPages
	want[string(extractor.StreamOrganizationDetails)] += companyPages
	for stream, n := range want {
		if n == 0 {
			delete(want, stream)
		}
	}
	require.Equal(t, want, run.RequestsByStream, "each stream's requests are what the fake answered for it: %v", served)

	var raw struct {
		Runs []map[string]json.RawMessage `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	require.Contains(t, raw.Runs[0], "requests_by_stream", "the JSON key is part of the contract")

	code, text, _ := runCLI(t, env, "--config", cfg, "status")
	require.Equal(t, exitOK, code)
	require.Contains(t, text, "Requests of the last run (1), by stream:")
	require.Regexp(t, `(?m)^\(workspace check\)\s+1$`, text)
	require.Regexp(t, fmt.Sprintf(`(?m)^organization_details\s+%d$`, want[string(extractor.StreamOrganizationDetails)]), text)
}

// statusJSON runs status --json and returns its report and its output.
func statusJSON(t *testing.T, env map[string]string, cfg string) (statusReport, string) {
	t.Helper()
	code, out, stderr := runCLI(t, env, "--config", cfg, "status", "--json")
	require.Equal(t, exitOK, code, stderr)
	var rep statusReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	return rep, out
}
