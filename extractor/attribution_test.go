package extractor

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
)

// sentRequest is one attempt as the client's transport sent it.
type sentRequest struct {
	tag string // the tag of the request's context
	url *url.URL
}

// transportLog is an http.RoundTripper that keeps every attempt it sends.
type transportLog struct {
	mu   sync.Mutex
	sent []sentRequest
}

func (l *transportLog) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.sent = append(l.sent, sentRequest{tag: affinity.LabelOf(req.Context()), url: req.URL})
	l.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// recordedSync runs every stream once, into a fresh warehouse, against the fake workspace of
// cfg, and returns what the client's observer reported and what its transport sent.
func recordedSync(t *testing.T, cfg affinitytest.Config, opts Options) ([]affinity.RequestInfo, []sentRequest) {
	t.Helper()
	ctx := t.Context()
	const key = "attribution-key"
	hs := httptest.NewServer(affinitytest.NewServer(affinitytest.Generate(cfg), affinitytest.WithAPIKey(key)))
	t.Cleanup(hs.Close)
	dsn := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Run(ctx, dsn, "affinity", "up", io.Discard, slog.New(slog.DiscardHandler)))
	store, err := loader.Open(ctx, dsn, "affinity", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(store.Close)

	transport := &transportLog{}
	var mu sync.Mutex
	var observed []affinity.RequestInfo
	client, err := affinity.NewClient(hs.URL, key, affinity.WithPerMinute(0),
		affinity.WithHTTPClient(&http.Client{Transport: transport}),
		affinity.WithObserver(func(info affinity.RequestInfo) {
			mu.Lock()
			observed = append(observed, info)
			mu.Unlock()
		}))
	require.NoError(t, err)
	res := New(client, store, opts).Run(ctx, nil)
	for _, s := range res.Streams {
		require.True(t, s.Complete, "%s: %v", s.Stream, s.Err)
	}
	return observed, transport.sent
}

// idSegment is a path segment that is an id.
var idSegment = regexp.MustCompile(`/[0-9]+(/|$)`)

// expectedSender says, from a request's URL alone, which stream should have sent it, and its
// endpoint template: what each stream is written to send. /v2/companies serves two streams:
// organization_details asks for the persons field (fieldIds=persons), field_values for the
// field values of entities on no list (fieldTypes=…).
func expectedSender(u *url.URL) (stream, endpoint string) {
	endpoint = idSegment.ReplaceAllString(idSegment.ReplaceAllString(u.Path, "/{id}$1"), "/{id}$1")
	if endpoint == "/v2/companies" && u.Query().Has("fieldIds") {
		return string(StreamOrganizationDetails), endpoint
	}
	sender, ok := map[string]StreamName{
		"/lists": StreamLists, "/fields": StreamFields, "/persons/fields": StreamFields, "/organizations/fields": StreamFields,
		"/persons": StreamPersons, "/organizations": StreamOrganizations, "/opportunities": StreamOpportunities,
		"/lists/{id}/list-entries": StreamListEntries, "/field-value-changes": StreamFieldValueChanges, "/v2/field-value-changes": StreamFieldValueChanges,
		"/field-values": StreamFieldValues, "/v2/lists/{id}/list-entries": StreamFieldValues, "/v2/persons": StreamFieldValues,
		"/v2/companies": StreamFieldValues, "/organizations/{id}": StreamOrganizationDetails, "/notes": StreamNotes,
		"/reminders": StreamReminders, "/entity-files": StreamEntityFiles, "/interactions": StreamInteractions,
		"/relationships-strengths": StreamRelationshipStrengths,
	}[endpoint]
	if !ok {
		return "(no stream sends " + endpoint + ")", endpoint
	}
	return string(sender), endpoint
}

// TestEveryRequestCountsForTheStreamThatSentIt: a sync with api_v2 auto in which both
// field_values (entities on no list) and organization_details read /v2/companies — in stages
// of their own, but one endpoint — counts every request for the stream that sent it, as the
// request's URL says it must.
func TestEveryRequestCountsForTheStreamThatSentIt(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 19
	observed, sent := recordedSync(t, cfg, Options{APIV2: V2Auto, FieldValuesForUnlisted: true, MaxDeleteShare: 0.5})
	require.Len(t, observed, len(sent), "the observer reports every attempt the transport sent")

	want := map[[2]string]int{} // stream, endpoint → requests, from the URLs
	companies := map[string]int{}
	for _, s := range sent {
		stream, endpoint := expectedSender(s.url)
		require.Equal(t, stream, s.tag, "%s was sent with the tag of another stream", s.url)
		want[[2]string{stream, endpoint}]++
		if endpoint == "/v2/companies" {
			companies[stream]++
		}
	}
	companyPages := int(loader.V2PagesOf(int64(cfg.Organizations)))
	require.Equal(t, map[string]int{string(StreamFieldValues): companyPages, string(StreamOrganizationDetails): companyPages}, companies,
		"each of the two streams reads every companies page once")

	got := map[[2]string]int{}
	for _, info := range observed {
		got[[2]string{StreamOfRequest(info), info.Endpoint}]++
	}
	require.Equal(t, want, got, "what StreamOfRequest names, request by request, is what the URLs say")
}

// TestStreamOfRequest: the tag names the sender whatever the endpoint; without one, the
// endpoint does — the workspace check, the rate-limit check and webhook subscriptions by
// name, a stream's endpoint when only that stream lists it, and nothing otherwise.
func TestStreamOfRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ tag, endpoint, want string }{
		{string(StreamOrganizationDetails), "/v2/companies", string(StreamOrganizationDetails)},
		{string(StreamFieldValues), "/v2/companies", string(StreamFieldValues)},
		{Webhook, "/field-values", Webhook},
		{WorkspaceCheck, "/auth/whoami", WorkspaceCheck},
		{"", "/auth/whoami", WorkspaceCheck},
		{"", "/rate-limit", RateLimitCheck},
		{"", "/webhook", Webhook},
		{"", "/webhook/subscribe", Webhook},
		{"", "/persons", string(StreamPersons)},
		{"", "/persons/fields", string(StreamFields)},
		{"", "/lists/{id}/list-entries", string(StreamListEntries)},
		{"", "/field-values", string(StreamFieldValues)},
		{"", "/v2/lists/{id}/list-entries", string(StreamFieldValues)},
		{"", "/organizations/{id}", string(StreamOrganizationDetails)},
		{"", "/field-value-changes", string(StreamFieldValueChanges)},
		{"", "/notes", string(StreamNotes)},
		{"", "/v2/companies", Unattributed},
		{"", "/persons/{id}", Unattributed},
		{"", "", Unattributed},
	} {
		require.Equal(t, tc.want, StreamOfRequest(affinity.RequestInfo{Label: tc.tag, Endpoint: tc.endpoint}), "%q %s", tc.tag, tc.endpoint)
	}
}
