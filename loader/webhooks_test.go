package loader_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

func TestRecordDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	sent := time.Unix(1731000000, 0)
	id, err := e.store.RecordDelivery(ctx, loader.WebhookDelivery{Type: "list_entry.deleted", ObjectID: ptr[int64](7),
		SentAt: &sent, Body: []byte(`{"id": 7, "note": "a\u0000b"}`)})
	require.NoError(t, err)
	other, err := e.store.RecordDelivery(ctx, loader.WebhookDelivery{Type: "file.created", Outcome: loader.DeliveryIgnored})
	require.NoError(t, err)
	require.Greater(t, other, id)

	var body string
	var gotSent time.Time
	require.NoError(t, e.conn.QueryRow(ctx, `SELECT body->>'note', sent_at FROM `+e.table("sync_webhook_deliveries")+
		` WHERE id = $1`, id).Scan(&body, &gotSent))
	require.Equal(t, "a\uFFFDb", body, "the escape jsonb rejects is replaced, not an error")
	require.True(t, gotSent.Equal(sent))

	require.NoError(t, e.store.SetDeliveryOutcome(ctx, []int64{id}, loader.DeliveryFailed, "boom"))
	rows, err := e.store.RecentDeliveries(ctx, 10)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, other, rows[0].ID, "newest first")
	require.Equal(t, loader.DeliveryIgnored, rows[0].Outcome)
	require.Nil(t, rows[0].ObjectID)
	require.Equal(t, loader.DeliveryFailed, rows[1].Outcome)
	require.Equal(t, "boom", *rows[1].Error)
	require.Equal(t, int64(7), *rows[1].ObjectID)

	require.NoError(t, e.store.SetDeliveryOutcome(ctx, []int64{id}, loader.DeliveryRefreshed, ""))
	rows, err = e.store.RecentDeliveries(ctx, 1)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, other, rows[0].ID)
	require.Equal(t, int64(0), e.count(t, "sync_webhook_deliveries", "error IS NOT NULL"), "a later outcome clears the error")
}

func TestRecordDeliveryRefusesBadJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	_, err := e.store.RecordDelivery(t.Context(), loader.WebhookDelivery{Type: "person.updated", Body: []byte(`{"id":`)})
	require.Error(t, err)
	require.Equal(t, int64(0), e.count(t, "sync_webhook_deliveries", "true"))
}

func TestCommitRefreshLeavesCheckpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	e.commit(t, loader.Page{SeenAt: t0, Checkpoint: cp("persons", t0, "tok"), Persons: []loader.Person{{ID: 1, FirstName: ptr("old")}}})
	before, err := e.store.Checkpoints(ctx)
	require.NoError(t, err)

	later := t0.Add(time.Hour)
	stats, err := e.store.CommitRefresh(ctx, loader.Page{SeenAt: later,
		Checkpoint: cp("persons", later, "ignored"),
		Persons:    []loader.Person{{ID: 1, FirstName: ptr("new")}},
		EntityValues: []loader.EntityValues{{EntityType: 0, EntityID: 1, Values: []loader.FieldValue{
			textValue(100, 1, 0, 1, nil)}}}})
	require.NoError(t, err)
	require.Equal(t, int64(2), stats.Rows)

	after, err := e.store.Checkpoints(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "a refresh moves no checkpoint and adds none")
	require.Equal(t, int64(1), e.count(t, "persons", "id = 1 AND first_name = 'new' AND synced_at = $1", later))
	require.Equal(t, int64(1), e.count(t, "sync_entity_freshness", "entity_id = 1 AND values_synced_at = $1", later))
	_, err = e.store.CommitRefresh(ctx, loader.Page{})
	require.Error(t, err, "SeenAt is required")
}

func TestQueuedDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "affinity")
	ctx := t.Context()
	record := func(typ, body, outcome string) int64 {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		id, err := e.store.RecordDelivery(ctx, loader.WebhookDelivery{Type: typ, Body: b, Outcome: outcome})
		require.NoError(t, err)
		return id
	}
	first := record("person.updated", `{"id": 1}`, loader.DeliveryQueued)
	record("person.deleted", `{"id": 2}`, loader.DeliveryDeleted)
	second := record("organization.merged", `{"company": {"id": 3}}`, loader.DeliveryQueued)
	third := record("list.updated", "", loader.DeliveryQueued)
	refreshed := record("person.updated", `{"id": 4}`, loader.DeliveryQueued)
	require.NoError(t, e.store.SetDeliveryOutcome(ctx, []int64{refreshed}, loader.DeliveryRefreshed, ""))

	got, err := e.store.QueuedDeliveries(ctx)
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, []int64{first, second, third}, []int64{got[0].ID, got[1].ID, got[2].ID}, "oldest first, queued only")
	require.Equal(t, "person.updated", got[0].Type)
	require.JSONEq(t, `{"id": 1}`, string(got[0].Body))
	require.JSONEq(t, `{"company": {"id": 3}}`, string(got[1].Body))
	require.Nil(t, got[2].Body, "no body stays nil")
}
