package loader

import (
	"math"
	"time"
)

// Reminder is one row of reminders; the ids are those of its embedded objects.
type Reminder struct {
	ID                                                                       int64
	Type                                                                     int // 0 one-time, 1 recurring
	ResetType, ReminderDays                                                  *int
	Status                                                                   int // as received: 0 completed, 1 active, 2 overdue
	Content                                                                  *string
	DueAt                                                                    *time.Time
	CreatedAt                                                                time.Time
	CompletedAt                                                              *time.Time
	CreatorID, OwnerID, CompleterID, PersonID, OrganizationID, OpportunityID *int64
}

// remindersTable is how a page's reminders are staged and upserted (live again).
var remindersTable = stagedTable{name: "reminders", key: idKey, cols: []string{"id", "type", "reset_type",
	"reminder_days", "status", "content", "due_at", "created_at", "completed_at", "creator_id", "owner_id",
	"completer_id", "person_id", "organization_id", "opportunity_id", "synced_at"}}

// reminderRowsOf cleans the page's reminders (one per id, the last given winning); codes out
// of range are clamped rather than failing the page.
func reminderRowsOf(c *cleaner, reminders []Reminder, seenAt time.Time) [][]any {
	reminders = lastByID(reminders, func(r Reminder) int64 { return r.ID })
	rows := make([][]any, len(reminders))
	for i, r := range reminders {
		rows[i] = []any{r.ID, clampSmallint(r.Type), clampSmallintPtr(r.ResetType), clampInt32Ptr(r.ReminderDays),
			clampSmallint(r.Status), c.ptr(r.Content), r.DueAt, r.CreatedAt, r.CompletedAt, r.CreatorID, r.OwnerID,
			r.CompleterID, r.PersonID, r.OrganizationID, r.OpportunityID, seenAt}
	}
	return rows
}

func clampSmallintPtr(v *int) *int {
	if v == nil {
		return nil
	}
	c := clampSmallint(*v)
	return &c
}

func clampInt32Ptr(v *int) *int {
	if v == nil {
		return nil
	}
	c := min(max(*v, math.MinInt32), math.MaxInt32)
	return &c
}
