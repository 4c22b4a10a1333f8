package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/affinity-sync/affinity-sync/loader"
)

// knownEvent reports whether name is an event of Affinity's webhook reference.
func knownEvent(name string) bool {
	switch name {
	case "list.created", "list.updated", "list.deleted",
		"list_entry.created", "list_entry.deleted",
		"note.created", "note.updated", "note.deleted",
		"field.created", "field.updated", "field.deleted",
		"field_value.created", "field_value.updated", "field_value.deleted",
		"person.created", "person.updated", "person.deleted",
		"organization.created", "organization.updated", "organization.deleted", "organization.merged",
		"opportunity.created", "opportunity.updated", "opportunity.deleted",
		"file.created", "file.deleted",
		"reminder.created", "reminder.updated", "reminder.deleted":
		return true
	}
	return false
}

// eventMerged is the one event that names two objects.
const eventMerged = "organization.merged"

// handle acts on one recorded delivery: a *.deleted is applied now, a change is queued for a
// refresh, anything else is ignored; organization.merged soft-deletes the losing organization
// now and queues a refresh of the one that remains. It returns the delivery's outcome and the
// HTTP status.
func (s *Server) handle(ctx context.Context, deliveryID int64, eventType string, obj object) (string, int, error) {
	name, action, _ := strings.Cut(eventType, ".")
	if !knownEvent(eventType) {
		return loader.DeliveryIgnored, http.StatusOK, nil
	}
	if eventType == eventMerged {
		loser, winner := obj.RemovedCompany.id(), obj.Company.id()
		if loser == nil && winner == nil {
			return loader.DeliveryFailed, http.StatusOK, errors.New("merged event names neither organization (removed_company.id, company.id)")
		}
		if loser != nil {
			// The losing organization and its values, as if it had been deleted: Affinity
			// answers 404 for it from now on.
			n, err := s.opts.Deliveries.SoftDeleteObject(ctx, loader.ObjectOrganization, *loser)
			if err != nil {
				return loader.DeliveryFailed, http.StatusServiceUnavailable, err
			}
			s.opts.Metrics.observeDeleted(n)
		}
		if winner == nil {
			return loader.DeliveryDeleted, http.StatusOK, nil
		}
	}
	// The kinds the warehouse soft-deletes are loader's to say.
	if kind, ok := loader.ParseObjectKind(name); ok && action == "deleted" {
		if obj.ID == nil {
			return loader.DeliveryFailed, http.StatusOK, errors.New("deleted object has no id")
		}
		n, err := s.opts.Deliveries.SoftDeleteObject(ctx, kind, *obj.ID)
		if err != nil {
			// Not applied: ask Affinity to send it again.
			return loader.DeliveryFailed, http.StatusServiceUnavailable, err
		}
		s.opts.Metrics.observeDeleted(n)
		return loader.DeliveryDeleted, http.StatusOK, nil
	}
	t, ok, err := s.targetOf(ctx, eventType, obj)
	if err != nil {
		return loader.DeliveryFailed, http.StatusServiceUnavailable, err
	}
	if !ok {
		return loader.DeliveryIgnored, http.StatusOK, nil
	}
	// The outcome is recorded before the refresh can run, so "refreshed" is never overwritten.
	if err := s.opts.Deliveries.SetDeliveryOutcome(ctx, []int64{deliveryID}, loader.DeliveryQueued, ""); err != nil {
		return loader.DeliveryFailed, http.StatusServiceUnavailable, err
	}
	s.enqueue(t, deliveryID)
	return loader.DeliveryQueued, http.StatusOK, nil
}

// target is one object a refresh re-reads; it is the key bursts coalesce on.
type target struct {
	kind   loader.ObjectKind // an entity's (EntityKind.Object), loader.ObjectListEntry or loader.ObjectList
	id     int64
	listID int64 // for a list entry
}

// targetOf names what a created, updated or merged event refreshes; ok is false for events
// the warehouse does not follow (notes, global fields).
func (s *Server) targetOf(ctx context.Context, eventType string, obj object) (target, bool, error) {
	if eventType == eventMerged {
		// The organization that remains now holds what the losing one had.
		if winner := obj.Company.id(); winner != nil {
			return target{kind: loader.ObjectOrganization, id: *winner}, true, nil
		}
		return target{}, false, nil
	}
	name, _, _ := strings.Cut(eventType, ".")
	kind, ok := loader.ParseObjectKind(name)
	if !ok {
		return target{}, false, nil
	}
	if _, entity := kind.Entity(); entity {
		if obj.ID == nil {
			return target{}, false, nil
		}
		return target{kind: kind, id: *obj.ID}, true, nil
	}
	switch kind {
	case loader.ObjectListEntry:
		if obj.ID == nil || obj.ListID == nil {
			return target{}, false, nil
		}
		return target{kind: kind, id: *obj.ID, listID: *obj.ListID}, true, nil
	case loader.ObjectList, loader.ObjectEntityFile, loader.ObjectReminder:
		// A file's or reminder's refresh reads it again by id (file.created, reminder.created
		// and reminder.updated).
		if obj.ID == nil {
			return target{}, false, nil
		}
		return target{kind: kind, id: *obj.ID}, true, nil
	case loader.ObjectField:
		// v1 has no single-field GET: a list field is refreshed with its list.
		if obj.ListID == nil {
			return target{}, false, nil
		}
		return target{kind: loader.ObjectList, id: *obj.ListID}, true, nil
	case loader.ObjectFieldValue:
		if obj.EntityID == nil {
			return target{}, false, nil
		}
		et := obj.EntityType
		if et == nil && obj.FieldID != nil {
			found, ok, err := s.opts.Deliveries.EntityTypeOf(ctx, *obj.FieldID, obj.ListEntryID)
			if err != nil {
				return target{}, false, err
			}
			if ok {
				et = &found
			}
		}
		if et == nil || !et.Valid() {
			return target{}, false, nil
		}
		return target{kind: et.Object(), id: *obj.EntityID}, true, nil
	}
	return target{}, false, nil
}
