package extractor

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// A targeted refresh re-reads one object that a webhook named — an entity, a list entry or a
// list — with single GETs, and commits it through the loader like a page but without moving
// any checkpoint: the regular passes stay the safety net. An object Affinity no longer has
// (404, or 422 for the losing side of a merge) is soft-deleted with its cascades.

// RefreshAPI is what a targeted refresh needs from Affinity; *affinity.Client satisfies it.
type RefreshAPI interface {
	Person(ctx context.Context, id int64, withInteractionDates bool) (affinity.Person, error)
	Organization(ctx context.Context, id int64, withInteractionDates bool) (affinity.Organization, error)
	Opportunity(ctx context.Context, id int64) (affinity.Opportunity, error)
	List(ctx context.Context, id int64) (affinity.List, error)
	ListEntry(ctx context.Context, listID, entryID int64) (affinity.ListEntry, error)
	FieldValues(ctx context.Context, sel affinity.EntitySelector) ([]affinity.FieldValue, error)
	EntityFile(ctx context.Context, id int64) (affinity.EntityFile, error)
	Reminder(ctx context.Context, id int64) (affinity.Reminder, error)
}

// RefreshStore is what a targeted refresh needs from the warehouse; *loader.Store satisfies it.
type RefreshStore interface {
	CommitRefresh(ctx context.Context, p loader.Page) (loader.PageStats, error)
	SoftDeleteObject(ctx context.Context, kind loader.ObjectKind, id int64) (int64, error)
	FieldValueTypes(ctx context.Context) (map[int64]int, error)
}

// RefreshStats is what one targeted refresh did.
type RefreshStats struct {
	Rows        int64 // rows written (PageStats.Rows)
	SoftDeleted int64 // rows soft-deleted because Affinity no longer has the object
}

// Refresher runs targeted refreshes (of webhook deliveries: their requests count for Webhook).
// It is safe for concurrent use.
type Refresher struct {
	api   RefreshAPI
	store RefreshStore
	log   *slog.Logger
	now   func() time.Time
}

// NewRefresher returns a Refresher over api and store; opts.Logger and opts.Now are used, the
// other options do not apply.
func NewRefresher(api RefreshAPI, store RefreshStore, opts Options) *Refresher {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Refresher{api: api, store: store, log: log, now: now}
}

// gone reports whether err says Affinity no longer has the object.
func gone(err error) bool { return affinity.IsNotFound(err) || affinity.IsMerged(err) }

// softDelete soft-deletes an object Affinity no longer has.
func (r *Refresher) softDelete(ctx context.Context, kind loader.ObjectKind, id int64, why error) (RefreshStats, error) {
	n, err := r.store.SoftDeleteObject(ctx, kind, id)
	if err != nil {
		return RefreshStats{}, fmt.Errorf("refresh %s %d: %w", kind, id, err)
	}
	r.log.Info("refresh: object gone from Affinity, soft-deleted", "kind", kind, "id", id, "rows", n, "reason", why.Error())
	return RefreshStats{SoftDeleted: n}, nil
}

// RefreshEntity re-reads one person, organization or opportunity and its field values — two
// requests: GET /persons/{id} (/organizations/{id}, whose person ids replace
// organization_persons; /opportunities/{id}, with its associations and list) and GET
// /field-values?person_id= (…), whose answer replaces the entity's values as a set. A 404 or
// 422 soft-deletes the entity with its list entries and values.
func (r *Refresher) RefreshEntity(ctx context.Context, k loader.EntityKind, id int64) (RefreshStats, error) {
	ctx = WithSender(ctx, Webhook)
	if !k.Valid() {
		return RefreshStats{}, fmt.Errorf("refresh entity %d: unknown %s", id, k)
	}
	kind := k.Object()
	var p loader.Page
	var err error
	switch k {
	case loader.EntityPerson:
		var person affinity.Person
		if person, err = r.api.Person(ctx, id, false); err == nil {
			p.Persons = []loader.Person{personRow(person)}
		}
	case loader.EntityOrganization:
		var org affinity.Organization
		if org, err = r.api.Organization(ctx, id, false); err == nil {
			p.Organizations = []loader.Organization{organizationRow(org)}
			p.OrganizationPersons = []loader.OrganizationPersons{{OrganizationID: id, PersonIDs: org.PersonIDs}}
		}
	default:
		var opp affinity.Opportunity
		if opp, err = r.api.Opportunity(ctx, id); err == nil {
			p.Opportunities = []loader.Opportunity{opportunityRow(opp)}
		}
	}
	if gone(err) {
		return r.softDelete(ctx, kind, id, err)
	}
	if err != nil {
		return RefreshStats{}, fmt.Errorf("refresh %s %d: %w", kind, id, err)
	}
	if err := r.addValues(ctx, &p, loader.EntityKey{Type: k, ID: id}); err != nil {
		if gone(err) {
			return r.softDelete(ctx, kind, id, err)
		}
		return RefreshStats{}, fmt.Errorf("refresh %s %d: %w", kind, id, err)
	}
	return r.commit(ctx, kind, id, p)
}

// addValues fetches an entity's values and adds them to p as its complete set.
func (r *Refresher) addValues(ctx context.Context, p *loader.Page, k loader.EntityKey) error {
	values, err := r.api.FieldValues(ctx, selectorOf(k))
	if err != nil {
		return fmt.Errorf("field values: %w", err)
	}
	types, err := r.store.FieldValueTypes(ctx)
	if err != nil {
		return err
	}
	p.EntityValues = append(p.EntityValues, entityValuesRow(k, values, types))
	return nil
}

func (r *Refresher) commit(ctx context.Context, kind loader.ObjectKind, id int64, p loader.Page) (RefreshStats, error) {
	p.SeenAt = r.now()
	stats, err := r.store.CommitRefresh(ctx, p)
	if err != nil {
		return RefreshStats{}, fmt.Errorf("refresh %s %d: %w", kind, id, err)
	}
	r.log.Debug("refresh committed", "kind", kind, "id", id, "rows", stats.Rows)
	return RefreshStats{Rows: stats.Rows}, nil
}

// RefreshListEntry re-reads one list entry (GET /lists/{id}/list-entries/{id}) and its
// entity's field values (GET /field-values?person_id= …), which hold the entry's own. A 404
// soft-deletes the entry and its values.
func (r *Refresher) RefreshListEntry(ctx context.Context, listID, entryID int64) (RefreshStats, error) {
	ctx = WithSender(ctx, Webhook)
	e, err := r.api.ListEntry(ctx, listID, entryID)
	if gone(err) {
		return r.softDelete(ctx, loader.ObjectListEntry, entryID, err)
	}
	if err != nil {
		return RefreshStats{}, fmt.Errorf("refresh list entry %d: %w", entryID, err)
	}
	row := listEntryRow(e, loader.EntityPerson)
	p := loader.Page{ListEntries: []loader.ListEntry{row}}
	k := row.EntityType
	if !k.Valid() {
		// An entity type this sync does not know: the entry alone.
		return r.commit(ctx, loader.ObjectListEntry, entryID, p)
	}
	err = r.addValues(ctx, &p, loader.EntityKey{Type: k, ID: row.EntityID})
	switch {
	case gone(err):
		// The entity went between the two requests: keep the entry; the entity's own
		// delivery (or the next pass) deletes it.
		r.log.Warn("refresh: entity of list entry gone", "list_entry", entryID, "entity_id", row.EntityID, "error", err)
		p.EntityValues = nil
	case err != nil:
		return RefreshStats{}, fmt.Errorf("refresh list entry %d: %w", entryID, err)
	}
	return r.commit(ctx, loader.ObjectListEntry, entryID, p)
}

// RefreshList re-reads one list with its list-specific fields (GET /lists/{id}); each field's
// dropdown options are replaced as a set. A 404 soft-deletes the list, its entries and their
// values, and its fields.
func (r *Refresher) RefreshList(ctx context.Context, id int64) (RefreshStats, error) {
	ctx = WithSender(ctx, Webhook)
	l, err := r.api.List(ctx, id)
	if gone(err) {
		return r.softDelete(ctx, loader.ObjectList, id, err)
	}
	if err != nil {
		return RefreshStats{}, fmt.Errorf("refresh list %d: %w", id, err)
	}
	p := loader.Page{Lists: []loader.List{listRow(l)}}
	for _, f := range l.Fields {
		if f.ListID == nil {
			f.ListID = &id
		}
		if f.EntityType == nil {
			t := l.Type
			f.EntityType = &t
		}
		p.Fields = append(p.Fields, fieldRow(f))
	}
	return r.commit(ctx, loader.ObjectList, id, p)
}

// RefreshFile re-reads one entity file's metadata (GET /entity-files/{id}): file.created. A 404
// soft-deletes it.
func (r *Refresher) RefreshFile(ctx context.Context, id int64) (RefreshStats, error) {
	ctx = WithSender(ctx, Webhook)
	f, err := r.api.EntityFile(ctx, id)
	if gone(err) {
		return r.softDelete(ctx, loader.ObjectEntityFile, id, err)
	}
	if err != nil {
		return RefreshStats{}, fmt.Errorf("refresh file %d: %w", id, err)
	}
	return r.commit(ctx, loader.ObjectEntityFile, id, loader.Page{EntityFiles: []loader.EntityFile{fileRow(f)}})
}

// RefreshReminder re-reads one reminder (GET /reminders/{id}): reminder.created and
// reminder.updated. A 404 soft-deletes it.
func (r *Refresher) RefreshReminder(ctx context.Context, id int64) (RefreshStats, error) {
	ctx = WithSender(ctx, Webhook)
	rem, err := r.api.Reminder(ctx, id)
	if gone(err) {
		return r.softDelete(ctx, loader.ObjectReminder, id, err)
	}
	if err != nil {
		return RefreshStats{}, fmt.Errorf("refresh reminder %d: %w", id, err)
	}
	return r.commit(ctx, loader.ObjectReminder, id, loader.Page{Reminders: []loader.Reminder{reminderRow(rem)}})
}
