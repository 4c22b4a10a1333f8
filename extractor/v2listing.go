package extractor

import (
	"context"
	"encoding/json"
	"iter"
	"slices"
	"sync"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The v2 listings: list entries, persons and companies, a page of entities with their inline
// fields at a time, and the phase that commits a listing's pages as warehouse rows.

// v2Item is one entity of a v2 page with its inline fields.
type v2Item struct {
	kind   loader.EntityKind
	id     int64
	entry  *int64 // the list entry, for /v2/lists/{id}/list-entries rows
	fields []affinity.V2Field
}

// v2ItemPage is one v2 page of entities.
type v2ItemPage struct {
	items []v2Item
	next  string // the cursor of the next page; "" on the last
}

// v2Listing pages through one v2 listing from a cursor.
type v2Listing func(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error]

func (s *Syncer) v2ListEntries(listID int64) v2Listing {
	return func(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error] {
		q := affinity.V2Query{FieldTypes: []string{"global", "enriched", "list"}, Cursor: cursor, Limit: loader.V2PageSize}
		return v2Convert(s.api.ListEntriesV2(ctx, listID, q), func(e affinity.V2ListEntry) (v2Item, bool) {
			kind, ok := loader.ParseV2EntryType(e.Type)
			entry := e.ID
			return v2Item{kind: kind, id: e.Entity.ID, entry: &entry, fields: e.Entity.Fields}, ok
		})
	}
}

func (s *Syncer) v2Persons(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error] {
	q := affinity.V2Query{FieldTypes: []string{"global", "enriched"}, Cursor: cursor, Limit: loader.V2PageSize}
	return v2Convert(s.api.PersonsV2(ctx, q), func(p affinity.V2Person) (v2Item, bool) {
		return v2Item{kind: loader.EntityPerson, id: p.ID, fields: p.Fields}, true
	})
}

func (s *Syncer) v2CompanyValues(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error] {
	q := affinity.V2Query{FieldTypes: []string{"global", "enriched"}, Cursor: cursor, Limit: loader.V2PageSize}
	return v2Convert(s.api.CompaniesV2(ctx, q), func(c affinity.V2Company) (v2Item, bool) {
		return v2Item{kind: loader.EntityOrganization, id: c.ID, fields: c.Fields}, true
	})
}

func (s *Syncer) v2CompanyPersons(ctx context.Context, cursor string) iter.Seq2[v2ItemPage, error] {
	q := affinity.V2Query{FieldIDs: []string{"persons"}, Cursor: cursor, Limit: loader.V2PageSize}
	return v2Convert(s.api.CompaniesV2(ctx, q), func(c affinity.V2Company) (v2Item, bool) {
		return v2Item{kind: loader.EntityOrganization, id: c.ID, fields: c.Fields}, true
	})
}

func v2Convert[T any](pages iter.Seq2[affinity.V2Page[T], error], item func(T) (v2Item, bool)) iter.Seq2[v2ItemPage, error] {
	return func(yield func(v2ItemPage, error) bool) {
		for p, err := range pages {
			if err != nil {
				yield(v2ItemPage{}, err)
				return
			}
			out := v2ItemPage{next: p.NextCursor, items: make([]v2Item, 0, len(p.Items))}
			for _, x := range p.Items {
				if it, ok := item(x); ok {
					out.items = append(out.items, it)
				}
			}
			if !yield(out, nil) {
				return
			}
		}
	}
}

// firstV2Page reads the first page of a listing, which the probe checks.
func firstV2Page(ctx context.Context, list v2Listing) (v2ItemPage, error) {
	for p, err := range list(ctx, "") {
		return p, err
	}
	return v2ItemPage{}, nil
}

// probedPage is the first page of a listing as the probe read it: the page, what the probe
// read through v1 of its entities (stored as usual), and the requests that cost.
type probedPage struct {
	page  v2ItemPage
	rows  loader.Page
	spent spent
}

// v2Phase is the phase id that reads a v2 listing, turning each page into rows with rows.
// The probe's first page (with what the probe read through v1) is committed as the phase's
// first page instead of being read again; a restart of the phase reads it from the API. A
// page counts the warehouse rows it writes (an entity's values, one by one), not its
// entities, so a batch holds at most BatchRows values however many fields an entity carries.
func v2Phase(id PhaseID, list v2Listing, first *probedPage, rows func(v2ItemPage) (loader.Page, error)) phase {
	var once sync.Once
	return phase{id: id, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		return func(yield func(fetched, error) bool) {
			cursor := cp.PageToken
			var cached *probedPage
			once.Do(func() {
				if first != nil && cursor == "" {
					cached = first
				}
			})
			if cached != nil {
				sp := cached.spent
				sp.whole = cached.page.next == ""
				out, err := rows(cached.page)
				if err != nil {
					yield(fetched{spent: sp}, err)
					return
				}
				out.Append(cached.rows)
				if !yield(fetched{rows: out, n: out.RowCount(), nextToken: cached.page.next, spent: sp}, nil) || sp.whole {
					return
				}
				cursor = cached.page.next
			}
			for p, err := range list(ctx, cursor) {
				if err != nil {
					yield(fetched{}, err)
					return
				}
				sp := spent{v2Pages: 1, whole: p.next == ""}
				out, err := rows(p)
				if err != nil {
					yield(fetched{spent: sp}, err)
					return
				}
				if !yield(fetched{rows: out, n: out.RowCount(), nextToken: p.next, spent: sp}, nil) {
					return
				}
			}
		}
	}}
}

// withPrelude makes the first phase commit rows (what a probe read through v1) before its
// own pages.
func withPrelude(phases []phase, rows loader.Page) []phase {
	if len(phases) == 0 || rows.RowCount() == 0 {
		return phases
	}
	first := phases[0]
	var once sync.Once
	pages := first.pages
	first.pages = func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		return func(yield func(fetched, error) bool) {
			send := false
			once.Do(func() { send = true })
			if send && !yield(fetched{rows: rows, n: 0, nextToken: cp.PageToken}, nil) {
				return
			}
			for f, err := range pages(ctx, cp) {
				if !yield(f, err) {
					return
				}
			}
		}
	}
	out := slices.Clone(phases)
	out[0] = first
	return out
}

// valueRows maps a v2 page of entities to the values it replaces.
func valueRows(cat v2Catalog) func(v2ItemPage) (loader.Page, error) {
	return func(p v2ItemPage) (loader.Page, error) {
		var out loader.Page
		for _, it := range p.items {
			r, err := cat.mapV2(it.kind, it.id, it.entry, it.fields)
			if err != nil {
				return loader.Page{}, err
			}
			out.ScopedValues = append(out.ScopedValues, r.values)
		}
		return out, nil
	}
}

// companyPersons returns the person ids of a company's inline persons field, and whether
// they are all there: not when the field is missing, or may be cut short (totalCount above
// the items returned, or a full 100 without totalCount).
func companyPersons(fields []affinity.V2Field) ([]int64, bool) {
	i := slices.IndexFunc(fields, func(f affinity.V2Field) bool { return f.ID == "persons" })
	if i < 0 {
		return nil, false
	}
	v := fields[i].Value
	var items []struct {
		ID int64 `json:"id"`
	}
	if !v.IsNull() {
		if err := json.Unmarshal(v.Data, &items); err != nil {
			return nil, false
		}
	}
	if v.TotalCount != nil && *v.TotalCount > len(items) || v.TotalCount == nil && len(items) >= loader.V2PageSize {
		return nil, false
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids, true
}

// linkRows maps a v2 companies page to organization → person links; companies whose persons
// may be cut short are left for v1.
func linkRows(p v2ItemPage) (loader.Page, error) {
	var out loader.Page
	for _, it := range p.items {
		if ids, ok := companyPersons(it.fields); ok {
			out.OrganizationPersons = append(out.OrganizationPersons, loader.OrganizationPersons{OrganizationID: it.id, PersonIDs: ids})
		}
	}
	return out, nil
}
