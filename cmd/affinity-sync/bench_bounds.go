package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/loader"
)

// streamBound is the fewest requests a stream can spend on the warehouse's
// current contents, and the longest chain of requests that must follow one
// another.
type streamBound struct {
	requests, chain int64
	how             string
}

// requestBounds derives each stream's lower bound from what the pass wrote, through the
// stream registry's cost models: a paged listing of n rows costs floor(n/500)+1 requests (an
// exactly full last page is followed by an empty one), an unpaged call one request, and the
// per-entity streams one request per entity fetched, at most extractor.DefaultWorkers of
// them in flight. A stream that read through API v2 costs ceil(n/100) pages for each
// listing of n rows it read whole (a list's live entries, every person, every company), the
// probe's v1 requests, and one v1 request per entity still due after them.
func requestBounds(ctx context.Context, cfg Config, res extractor.Result) (map[string]streamBound, error) {
	store, err := loader.Open(ctx, cfg.Database.URL.reveal(), cfg.Database.Schema, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	defer store.Close()
	counts, err := store.TableCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	live := map[string]int64{}
	for _, c := range counts {
		live[c.Table] = c.Live
	}
	lists, err := store.LiveLists(ctx)
	if err != nil {
		return nil, fmt.Errorf("read lists: %w", err)
	}
	tracked, err := store.TrackedFields(ctx)
	if err != nil {
		return nil, fmt.Errorf("read tracked fields: %w", err)
	}
	entries, err := store.ListSizes(ctx, nil)
	if err != nil {
		return nil, err
	}
	rows := map[string]int64{}
	for _, s := range res.Streams {
		rows[s.Stream] = s.Rows
	}
	// The sizes the pass saw. The with_interaction_dates listing leaves out the entities
	// without interactions: its length is what the stream wrote beyond the first listing (in
	// an unchanged workspace no row is written twice by one listing).
	sizes := loader.PlanCounts{Live: live, TrackedFields: int64(len(tracked)), WithDates: map[loader.EntityKind]int64{
		loader.EntityPerson:       max(0, rows[extractor.StreamPersons]-live["persons"]),
		loader.EntityOrganization: max(0, rows[extractor.StreamOrganizations]-live["organizations"]),
	}}
	for _, l := range lists {
		var size int64
		if l.ListSize != nil {
			size = *l.ListSize
		}
		sizes.Lists = append(sizes.Lists, loader.ListCount{ID: l.ID, Entries: size})
	}
	for _, s := range res.Streams {
		switch s.Stream {
		case extractor.StreamFieldValues:
			sizes.ValuesDue[loader.RefreshNew] = s.EntityRequests
		case extractor.StreamOrganizationDetails:
			sizes.DetailsDue = s.EntityRequests
		}
	}
	costs, err := extractor.Costs(sizes, extractor.Streams(), extractor.CostOptions{})
	if err != nil {
		return nil, err
	}
	b := map[string]streamBound{}
	for _, c := range costs {
		how := make([]string, len(c.Costs))
		for i, x := range c.Costs {
			how[i] = x.Bound
		}
		b[c.Stream] = streamBound{c.Requests(), c.Chain(), strings.Join(how, " + ")}
	}
	entriesOf := map[int64]int64{}
	for _, e := range entries {
		entriesOf[e.ListID] = e.Entries
	}
	for _, s := range res.Streams {
		if v2 := v2Bound(s, entriesOf, live["persons"], live["organizations"]); v2 != nil {
			b[s.Stream] = *v2
		}
	}
	return b, nil
}

// v2Bound is the lower bound of a stream that sent anything through API v2 or its probe:
// ceil(n/100) per listing of n rows read whole, the v2 pages before a fallback to v1, the
// probe's v1 requests, and one v1 request per entity still due. Nil for a v1-only pass.
func v2Bound(s extractor.StreamResult, entries map[int64]int64, persons, organizations int64) *streamBound {
	v := s.V2
	if v.Pages == 0 && v.ProbeRequests == 0 {
		return nil
	}
	var pages int64
	var how []string
	if len(v.Lists) > 0 {
		var n int64
		for _, id := range v.Lists {
			pages += loader.V2PagesOf(entries[id])
			n += entries[id]
		}
		how = append(how, fmt.Sprintf("Σ over %d lists (%d entries) of ceil(entries/%d)", len(v.Lists), n, loader.V2PageSize))
	}
	if v.Persons {
		pages += loader.V2PagesOf(persons)
		how = append(how, fmt.Sprintf("ceil(%d persons/%d)", persons, loader.V2PageSize))
	}
	if v.Companies {
		pages += loader.V2PagesOf(organizations)
		how = append(how, fmt.Sprintf("ceil(%d companies/%d)", organizations, loader.V2PageSize))
	}
	if len(v.Lists) == 0 && !v.Persons && !v.Companies {
		pages = v.Pages
		how = append(how, fmt.Sprintf("%d v2 pages before the fallback to v1", v.Pages))
	}
	how = append(how, fmt.Sprintf("probe (%d)", v.ProbeRequests), fmt.Sprintf("1 per entity still due (%d)", s.EntityRequests))
	w := int64(extractor.DefaultWorkers)
	return &streamBound{requests: pages + v.ProbeRequests + s.EntityRequests,
		chain: pages + v.ProbeRequests + (s.EntityRequests+w-1)/w, how: strings.Join(how, " + ")}
}
