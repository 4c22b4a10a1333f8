package extractor_test

import (
	"encoding/json"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
)

func tinyWorkspace() affinitytest.Config {
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 11
	cfg.Persons, cfg.Organizations, cfg.Opportunities = 30, 12, 6
	cfg.PersonLists, cfg.OrganizationLists, cfg.OpportunityLists = 1, 1, 1
	cfg.EntriesPerList = 8
	return cfg
}

// entryOf returns a list entry of the workspace whose entity has a value of a global text
// field (value type 6).
func entryOf(t *testing.T, ws *affinitytest.Workspace, entityType loader.EntityKind) (*affinitytest.ListEntry, *affinitytest.Field) {
	t.Helper()
	for _, e := range ws.ListEntries {
		if e.EntityType != entityType {
			continue
		}
		for _, f := range ws.Fields {
			if f.ListID == nil && f.EntityType == entityType && f.ValueType == affinitytest.ValueText && !f.AllowsMultiple {
				return e, f
			}
		}
	}
	t.Fatalf("no list entry of entity type %d with a global text field", entityType)
	return nil, nil
}

func (h *harness) scalar(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, h.pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func TestRefreshEntity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tinyWorkspace())
	ctx := t.Context()
	r := extractor.NewRefresher(h.client, h.store, extractor.Options{})
	ws := h.fake.Snapshot()

	for _, entityType := range []loader.EntityKind{loader.EntityPerson, loader.EntityOrganization} {
		entry, field := entryOf(t, ws, entityType)
		id := entry.EntityID
		table := entityType.Table()

		h.fake.ResetCounters()
		stats, err := r.RefreshEntity(ctx, loader.EntityKind(entityType), id)
		require.NoError(t, err)
		require.Positive(t, stats.Rows)
		require.Equal(t, 2, h.fake.TotalRequests(), "the entity and its values: two requests")
		require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.`+table+` WHERE id = $1 AND deleted_at IS NULL`, id))

		h.fake.Mutate(func(w *affinitytest.Workspace) {
			w.SetFieldValue(field.ID, id, nil, json.RawMessage(`"fresh text"`))
		})
		_, err = r.RefreshEntity(ctx, loader.EntityKind(entityType), id)
		require.NoError(t, err)
		require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.field_values
			WHERE entity_type = $1 AND entity_id = $2 AND field_id = $3 AND value_text = 'fresh text' AND deleted_at IS NULL`,
			entityType, id, field.ID))
		require.Equal(t, int64(0), h.scalar(t, `SELECT count(*) FROM affinity.sync_checkpoints`), "no checkpoint moves")

		h.fake.Mutate(func(w *affinitytest.Workspace) {
			if entityType == loader.EntityPerson {
				w.DeletePerson(id)
			} else {
				w.DeleteOrganization(id)
			}
		})
		stats, err = r.RefreshEntity(ctx, loader.EntityKind(entityType), id)
		require.NoError(t, err)
		require.Positive(t, stats.SoftDeleted)
		require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.`+table+` WHERE id = $1 AND deleted_at IS NOT NULL`, id))
		require.Equal(t, int64(0), h.scalar(t, `SELECT count(*) FROM affinity.field_values
			WHERE entity_type = $1 AND entity_id = $2 AND deleted_at IS NULL`, entityType, id), "its values go with it")
	}

	_, err := r.RefreshEntity(ctx, 5, 1)
	require.Error(t, err, "an unknown entity type")
}

func TestRefreshOpportunityAndList(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tinyWorkspace())
	ctx := t.Context()
	r := extractor.NewRefresher(h.client, h.store, extractor.Options{})
	ws := h.fake.Snapshot()
	opp := ws.Opportunities[0]

	_, err := r.RefreshEntity(ctx, loader.EntityOpportunity, opp.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.opportunities WHERE id = $1 AND list_id IS NOT NULL`, opp.ID))
	require.Equal(t, int64(len(opp.PersonIDs)), h.scalar(t, `SELECT count(*) FROM affinity.opportunity_persons WHERE opportunity_id = $1`, opp.ID))

	list := ws.Lists[0]
	_, err = r.RefreshList(ctx, list.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.lists WHERE id = $1 AND name = $2`, list.ID, list.Name))
	var listFields int64
	for _, f := range ws.Fields {
		if f.ListID != nil && *f.ListID == list.ID {
			listFields++
		}
	}
	require.Equal(t, listFields, h.scalar(t, `SELECT count(*) FROM affinity.fields WHERE list_id = $1 AND deleted_at IS NULL`, list.ID))

	h.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteList(list.ID) })
	stats, err := r.RefreshList(ctx, list.ID)
	require.NoError(t, err)
	require.Positive(t, stats.SoftDeleted)
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.lists WHERE id = $1 AND deleted_at IS NOT NULL`, list.ID))
}

func TestRefreshListEntry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tinyWorkspace())
	ctx := t.Context()
	r := extractor.NewRefresher(h.client, h.store, extractor.Options{})
	entry, _ := entryOf(t, h.fake.Snapshot(), loader.EntityOrganization)

	h.fake.ResetCounters()
	_, err := r.RefreshListEntry(ctx, entry.ListID, entry.ID)
	require.NoError(t, err)
	require.Equal(t, 2, h.fake.TotalRequests(), "the entry and its entity's values")
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.list_entries WHERE id = $1 AND deleted_at IS NULL`, entry.ID))
	entryValues := h.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE list_entry_id = $1 AND deleted_at IS NULL`, entry.ID)

	h.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteListEntry(entry.ID) })
	stats, err := r.RefreshListEntry(ctx, entry.ListID, entry.ID)
	require.NoError(t, err)
	require.Equal(t, 1+entryValues, stats.SoftDeleted)
	require.Equal(t, int64(0), h.scalar(t, `SELECT count(*) FROM affinity.field_values WHERE list_entry_id = $1 AND deleted_at IS NULL`, entry.ID))
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.sync_entity_freshness WHERE entity_id = $1`, entry.EntityID))
}

// observedClient is a client of the harness's fake that reports, for every request it sends,
// what StreamOfRequest names as its sender and its endpoint.
func observedClient(t *testing.T, h *harness) (*affinity.Client, func() map[[2]string]int) {
	t.Helper()
	var mu sync.Mutex
	sent := map[[2]string]int{}
	client, err := affinity.NewClient(h.url, testKey, affinity.WithPerMinute(0),
		affinity.WithObserver(func(info affinity.RequestInfo) {
			mu.Lock()
			sent[[2]string{extractor.StreamOfRequest(info), info.Endpoint}]++
			mu.Unlock()
		}))
	require.NoError(t, err)
	return client, func() map[[2]string]int {
		mu.Lock()
		defer mu.Unlock()
		out := maps.Clone(sent)
		clear(sent)
		return out
	}
}

// storedFile is a row of entity_files, without synced_at.
type storedFile struct {
	Name                                    string
	Size                                    int64
	PersonID, OrganizationID, OpportunityID *int64
	UploaderID                              int64
	CreatedAt                               time.Time
	Deleted                                 bool
}

func (h *harness) storedFile(t *testing.T, id int64) storedFile {
	t.Helper()
	var f storedFile
	require.NoError(t, h.pool.QueryRow(t.Context(), `SELECT name, size, person_id, organization_id, opportunity_id,
		uploader_id, created_at, deleted_at IS NOT NULL FROM affinity.entity_files WHERE id = $1`, id).
		Scan(&f.Name, &f.Size, &f.PersonID, &f.OrganizationID, &f.OpportunityID, &f.UploaderID, &f.CreatedAt, &f.Deleted))
	f.CreatedAt = f.CreatedAt.UTC()
	return f
}

// TestRefreshFile: file.created's refresh stores the new file exactly as Affinity has it, with
// one request that counts for the webhook; once Affinity answers 404 the file is soft-deleted.
func TestRefreshFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tinyWorkspace())
	ctx := t.Context()
	client, sent := observedClient(t, h)
	r := extractor.NewRefresher(client, h.store, extractor.Options{})
	ws := h.fake.Snapshot()
	org := ws.Organizations[len(ws.Organizations)-1].ID

	var file affinitytest.EntityFile
	h.fake.Mutate(func(w *affinitytest.Workspace) {
		file = *w.AddFile(affinitytest.EntityFile{Name: "term sheet (v2).pdf", Size: 48_213, OrganizationID: &org})
	})
	require.NotZero(t, file.ID)
	h.fake.ResetCounters()
	stats, err := r.RefreshFile(ctx, file.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.Rows)
	require.Zero(t, stats.SoftDeleted)
	require.Equal(t, storedFile{Name: file.Name, Size: file.Size, OrganizationID: &org, UploaderID: file.UploaderID,
		CreatedAt: file.CreatedAt.UTC()}, h.storedFile(t, file.ID), "the row is the file as the fake has it")
	require.Equal(t, map[string]int{"GET /entity-files/{id}": 1}, h.fake.Requests())
	require.Equal(t, map[[2]string]int{{extractor.Webhook, "/entity-files/{id}"}: 1}, sent(), "the request counts for the webhook")
	require.Zero(t, h.scalar(t, `SELECT count(*) FROM affinity.sync_checkpoints`), "no checkpoint moves")

	h.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteFile(file.ID) })
	stats, err = r.RefreshFile(ctx, file.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.SoftDeleted, "a 404 soft-deletes the file")
	require.Zero(t, stats.Rows)
	got := h.storedFile(t, file.ID)
	require.True(t, got.Deleted)
	require.Equal(t, file.Name, got.Name, "the row stays, soft-deleted")
	require.Equal(t, map[[2]string]int{{extractor.Webhook, "/entity-files/{id}"}: 1}, sent())

	// A file the warehouse never had: the 404 changes nothing.
	stats, err = r.RefreshFile(ctx, file.ID+1_000_000)
	require.NoError(t, err)
	require.Equal(t, extractor.RefreshStats{}, stats)
	require.Equal(t, int64(1), h.scalar(t, `SELECT count(*) FROM affinity.entity_files`))
}

// storedReminder is the part of a reminders row a completion changes, and its subject.
type storedReminder struct {
	Status      int
	CompletedAt *time.Time
	CompleterID *int64
	OwnerID     *int64
	PersonID    *int64
	Deleted     bool
}

func (h *harness) storedReminder(t *testing.T, id int64) storedReminder {
	t.Helper()
	var r storedReminder
	require.NoError(t, h.pool.QueryRow(t.Context(), `SELECT status, completed_at, completer_id, owner_id, person_id,
		deleted_at IS NOT NULL FROM affinity.reminders WHERE id = $1`, id).
		Scan(&r.Status, &r.CompletedAt, &r.CompleterID, &r.OwnerID, &r.PersonID, &r.Deleted))
	if r.CompletedAt != nil {
		utc := r.CompletedAt.UTC()
		r.CompletedAt = &utc
	}
	return r
}

// TestRefreshReminder: reminder.updated's refresh stores a completed reminder's new state
// (completed_at, completer_id and the status as received), with one request that counts for
// the webhook; once Affinity answers 404 the reminder is soft-deleted.
func TestRefreshReminder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tinyWorkspace())
	ctx := t.Context()
	client, sent := observedClient(t, h)
	r := extractor.NewRefresher(client, h.store, extractor.Options{})
	ws := h.fake.Snapshot()
	var rem *affinitytest.Reminder
	for _, m := range ws.Reminders {
		if m.CompletedAt == nil && m.PersonID != nil {
			rem = m
			break
		}
	}
	require.NotNil(t, rem, "an open reminder about a person")

	stats, err := r.RefreshReminder(ctx, rem.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.Rows)
	open := h.storedReminder(t, rem.ID)
	require.Equal(t, storedReminder{Status: rem.Status(ws.Now()), OwnerID: &rem.OwnerID, PersonID: rem.PersonID}, open)
	require.NotEqual(t, affinitytest.ReminderCompleted, open.Status)
	require.Equal(t, map[[2]string]int{{extractor.Webhook, "/reminders/{id}"}: 1}, sent(), "the request counts for the webhook")

	var done affinitytest.Reminder
	h.fake.Mutate(func(w *affinitytest.Workspace) { done = *w.CompleteReminder(rem.ID) })
	require.NotNil(t, done.CompletedAt)
	require.NotNil(t, done.CompleterID)
	h.fake.ResetCounters()
	stats, err = r.RefreshReminder(ctx, rem.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.Rows)
	completedAt := done.CompletedAt.UTC()
	require.Equal(t, storedReminder{Status: affinitytest.ReminderCompleted, CompletedAt: &completedAt, CompleterID: done.CompleterID,
		OwnerID: &rem.OwnerID, PersonID: rem.PersonID}, h.storedReminder(t, rem.ID), "the completed reminder as the fake has it")
	require.Equal(t, map[string]int{"GET /reminders/{id}": 1}, h.fake.Requests())
	require.Equal(t, map[[2]string]int{{extractor.Webhook, "/reminders/{id}"}: 1}, sent())
	require.Zero(t, h.scalar(t, `SELECT count(*) FROM affinity.sync_checkpoints`), "no checkpoint moves")

	h.fake.Mutate(func(w *affinitytest.Workspace) { w.DeleteReminder(rem.ID) })
	stats, err = r.RefreshReminder(ctx, rem.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.SoftDeleted, "a 404 soft-deletes the reminder")
	gone := h.storedReminder(t, rem.ID)
	require.True(t, gone.Deleted)
	require.Equal(t, affinitytest.ReminderCompleted, gone.Status, "the row stays as last read")
	require.Equal(t, map[[2]string]int{{extractor.Webhook, "/reminders/{id}"}: 1}, sent())
	require.Zero(t, h.scalar(t, `SELECT count(*) FROM affinity.reminders_current WHERE id = $1`, rem.ID), "gone from the view of live reminders")
}
