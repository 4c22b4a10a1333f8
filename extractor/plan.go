package extractor

import (
	"fmt"
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// PlanItem is one step of a run and the requests it is expected to spend.
type PlanItem struct {
	Stream   string
	Requests int64
	Detail   string
}

// pagesOf is how many requests a listing of n rows takes at 500 a page: a
// last page that is exactly full is followed by an empty one.
func pagesOf(n int64) int64 { return n/500 + 1 }

// Plan estimates what a run of streams will spend, from what the warehouse
// knows (design.md section 5), in the order the run spends it: the cheapest
// and most valuable first. A warehouse that has never synced knows no sizes:
// the estimate then covers only the first page of each listing.
func Plan(c loader.PlanCounts, streams []string, withUnlisted bool) []PlanItem {
	// Every run first asks which workspace the key belongs to.
	items := []PlanItem{{Stream: "(workspace check)", Requests: 1, Detail: "GET /auth/whoami"}}
	add := func(stream string, n int64, format string, args ...any) {
		if slices.Contains(streams, stream) {
			items = append(items, PlanItem{Stream: stream, Requests: n, Detail: fmt.Sprintf(format, args...)})
		}
	}
	add(StreamLists, 1, "GET /lists")
	add(StreamFields, 1, "GET /fields")
	add(StreamPersons, pagesOf(c.Persons)+pagesOf(c.PersonsWithDates), "%d persons, %d with interaction dates", c.Persons, c.PersonsWithDates)
	add(StreamOrganizations, pagesOf(c.Organizations)+pagesOf(c.OrganizationsWithDates), "%d organizations, %d with interaction dates",
		c.Organizations, c.OrganizationsWithDates)
	add(StreamOpportunities, pagesOf(c.Opportunities), "%d opportunities", c.Opportunities)
	add(StreamNotes, pagesOf(c.Notes), "%d notes", c.Notes)
	var entryPages, entries int64
	for _, n := range c.ListSizes {
		entryPages += pagesOf(n)
		entries += n
	}
	add(StreamListEntries, entryPages, "%d lists, %d entries", len(c.ListSizes), entries)
	add(StreamFieldValueChanges, c.TrackedFields, "one history per tracked field (%d)", c.TrackedFields)
	due := c.ValuesDue[loader.RefreshNew] + c.ValuesDue[loader.RefreshChanged] + c.ValuesDue[loader.RefreshStale]
	values := fmt.Sprintf("%d never fetched, %d changed, %d stale (plus those the change feed finds)",
		c.ValuesDue[loader.RefreshNew], c.ValuesDue[loader.RefreshChanged], c.ValuesDue[loader.RefreshStale])
	if withUnlisted {
		due += c.UnlistedDue
		values += fmt.Sprintf(", %d on no list", c.UnlistedDue)
	}
	add(StreamFieldValues, due, "%s", values)
	add(StreamOrganizationDetails, c.DetailsDue, "%d organizations never fetched or stale", c.DetailsDue)
	return items
}
