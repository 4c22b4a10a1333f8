package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/schedule/httpapi"
)

// memDeliveries records deliveries in memory.
type memDeliveries struct {
	mu        sync.Mutex
	outcomes  map[int64]string
	deleted   []loader.ObjectKind
	deleteErr error
}

func (m *memDeliveries) RecordDelivery(_ context.Context, d loader.WebhookDelivery) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := int64(len(m.outcomes) + 1)
	m.outcomes[id] = loader.DeliveryReceived
	return id, nil
}

func (m *memDeliveries) SetDeliveryOutcome(_ context.Context, ids []int64, outcome, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		m.outcomes[id] = outcome
	}
	return nil
}

func (m *memDeliveries) SoftDeleteObject(_ context.Context, kind loader.ObjectKind, id int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.deleteErr != nil {
		return 0, m.deleteErr
	}
	m.deleted = append(m.deleted, kind)
	return 1, nil
}

func (m *memDeliveries) QueuedDeliveries(context.Context) ([]loader.QueuedDelivery, error) {
	return nil, nil
}

func (m *memDeliveries) EntityTypeOf(context.Context, int64, *int64) (loader.EntityKind, bool, error) {
	return 0, false, nil
}

func (m *memDeliveries) count(outcome string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, o := range m.outcomes {
		if o == outcome {
			n++
		}
	}
	return n
}

// gateRefresher blocks every refresh until released, and reports each one.
type gateRefresher struct {
	started chan string
	release chan struct{}
}

func (g *gateRefresher) wait(ctx context.Context, what string) (extractor.RefreshStats, error) {
	g.started <- what
	select {
	case <-g.release:
		return extractor.RefreshStats{Rows: 1}, nil
	case <-ctx.Done():
		return extractor.RefreshStats{}, ctx.Err()
	}
}

func (g *gateRefresher) RefreshEntity(ctx context.Context, entityType loader.EntityKind, id int64) (extractor.RefreshStats, error) {
	return g.wait(ctx, "entity "+strings.Repeat("i", int(id)))
}

func (g *gateRefresher) RefreshListEntry(ctx context.Context, _, id int64) (extractor.RefreshStats, error) {
	return g.wait(ctx, "entry "+strings.Repeat("i", int(id)))
}

func (g *gateRefresher) RefreshList(ctx context.Context, id int64) (extractor.RefreshStats, error) {
	return g.wait(ctx, "list "+strings.Repeat("i", int(id)))
}

func (g *gateRefresher) RefreshFile(ctx context.Context, id int64) (extractor.RefreshStats, error) {
	return g.wait(ctx, "file "+strings.Repeat("i", int(id)))
}

func (g *gateRefresher) RefreshReminder(ctx context.Context, id int64) (extractor.RefreshStats, error) {
	return g.wait(ctx, "reminder "+strings.Repeat("i", int(id)))
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRefreshesCoalesceByObject(t *testing.T) {
	t.Parallel()
	mem := &memDeliveries{outcomes: map[int64]string{}}
	gate := &gateRefresher{started: make(chan string, 16), release: make(chan struct{})}
	done := make(chan struct{}, 16)
	srv := httpapi.New(httpapi.Options{WebhookToken: "t", Deliveries: mem, Refresher: gate,
		OnRefresh: func(loader.ObjectKind, int64, error) { done <- struct{}{} }})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go srv.RunWorker(ctx)
	url := hs.URL + "/webhooks/affinity?token=t"

	require.Equal(t, http.StatusOK, post(t, url, `{"type":"person.updated","body":{"id":1}}`))
	require.Equal(t, "entity i", <-gate.started, "the first refresh runs at once")
	// While it runs: a burst about person 1, two about person 2, one list entry.
	for _, body := range []string{
		`{"type":"person.updated","body":{"id":1}}`,
		`{"type":"field_value.updated","body":{"id":70,"entity_id":1,"entity_type":0,"field_id":3}}`,
		`{"type":"person.updated","body":{"id":2}}`,
		`{"type":"person.created","body":{"id":2}}`,
		`{"type":"list_entry.created","body":{"id":3,"list_id":9}}`,
		`{"type":"person.updated","body":{"id":1}}`,
	} {
		require.Equal(t, http.StatusOK, post(t, url, body))
	}
	require.Equal(t, 7, mem.count(loader.DeliveryQueued), "the first one too, while it runs")
	var order []string
	for range 4 {
		gate.release <- struct{}{}
		<-done
		if len(order) < 3 {
			order = append(order, <-gate.started)
		}
	}
	require.Equal(t, []string{"entity i", "entity ii", "entry iii"}, order, "one more refresh per object, in arrival order")
	require.Equal(t, 7, mem.count(loader.DeliveryRefreshed))
	select {
	case extra := <-gate.started:
		t.Fatalf("unexpected refresh %s", extra)
	default:
	}
}

func TestDeletedIsAppliedBeforeTheAnswer(t *testing.T) {
	t.Parallel()
	mem := &memDeliveries{outcomes: map[int64]string{}}
	srv := httptest.NewServer(httpapi.New(httpapi.Options{WebhookToken: "t", Deliveries: mem, Refresher: &gateRefresher{}}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/webhooks/affinity?token=t"
	kinds := []loader.ObjectKind{loader.ObjectPerson, loader.ObjectOrganization, loader.ObjectOpportunity, loader.ObjectList,
		loader.ObjectListEntry, loader.ObjectField, loader.ObjectFieldValue, loader.ObjectNote, loader.ObjectEntityFile, loader.ObjectReminder}
	for _, kind := range kinds {
		require.Equal(t, http.StatusOK, post(t, url, `{"type":"`+string(kind)+`.deleted","body":{"id":4}}`), kind)
	}
	require.Equal(t, kinds, mem.deleted)
	require.Equal(t, 10, mem.count(loader.DeliveryDeleted))

	require.Equal(t, http.StatusOK, post(t, url, `{"type":"interaction.deleted","body":{"id":4}}`), "an event Affinity does not send is ignored")
	require.Equal(t, 1, mem.count(loader.DeliveryIgnored))

	mem.deleteErr = errors.New("database down")
	require.Equal(t, http.StatusServiceUnavailable, post(t, url, `{"type":"person.deleted","body":{"id":5}}`),
		"a delete that was not applied asks Affinity to send it again")
	require.Equal(t, 1, mem.count(loader.DeliveryFailed))
}

func TestMergedEventShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		wantDeleted []loader.ObjectKind
		wantOutcome string
		wantRefresh string // "" = none
	}{
		{name: "loser and winner", body: `{"removed_company":{"id":4},"company":{"id":2},"merged_at":"2021-11-15 13:45:16 -0800"}`,
			wantDeleted: []loader.ObjectKind{loader.ObjectOrganization}, wantOutcome: loader.DeliveryQueued, wantRefresh: "entity ii"},
		{name: "loser only", body: `{"removed_company":{"id":4}}`,
			wantDeleted: []loader.ObjectKind{loader.ObjectOrganization}, wantOutcome: loader.DeliveryDeleted},
		{name: "winner only", body: `{"company":{"id":3}}`, wantOutcome: loader.DeliveryQueued, wantRefresh: "entity iii"},
		{name: "neither", body: `{"id":5}`, wantOutcome: loader.DeliveryFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := &memDeliveries{outcomes: map[int64]string{}}
			gate := &gateRefresher{started: make(chan string, 4), release: make(chan struct{})}
			srv := httpapi.New(httpapi.Options{WebhookToken: "t", Deliveries: mem, Refresher: gate})
			hs := httptest.NewServer(srv)
			t.Cleanup(hs.Close)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go srv.RunWorker(ctx)

			require.Equal(t, http.StatusOK, post(t, hs.URL+"/webhooks/affinity?token=t", `{"type":"organization.merged","body":`+tt.body+`}`))
			require.Equal(t, tt.wantDeleted, mem.deleted)
			require.Equal(t, 1, mem.count(tt.wantOutcome))
			if tt.wantRefresh != "" {
				require.Equal(t, tt.wantRefresh, <-gate.started)
			}
		})
	}
}
