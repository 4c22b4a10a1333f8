package extractor

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// This file defines what each stream reads: its phases and how a page of the
// API becomes warehouse rows. extractor.go runs them.

// API is what the streams need from Affinity — the client methods their fetch code below
// calls; *affinity.Client satisfies it.
type API interface {
	Persons(ctx context.Context, q affinity.PersonQuery) iter.Seq2[affinity.Page[affinity.Person], error]
	Organizations(ctx context.Context, q affinity.OrganizationQuery) iter.Seq2[affinity.Page[affinity.Organization], error]
	Opportunities(ctx context.Context, q affinity.PageQuery) iter.Seq2[affinity.Page[affinity.Opportunity], error]
	ListEntries(ctx context.Context, listID int64, q affinity.PageQuery) iter.Seq2[affinity.Page[affinity.ListEntry], error]
	Lists(ctx context.Context) ([]affinity.List, error)
	Fields(ctx context.Context, q affinity.FieldQuery) ([]affinity.Field, error)
	PersonFields(ctx context.Context) ([]affinity.Field, error)
	OrganizationFields(ctx context.Context) ([]affinity.Field, error)
	FieldValues(ctx context.Context, sel affinity.EntitySelector) ([]affinity.FieldValue, error)
	FieldValueChanges(ctx context.Context, q affinity.ChangeQuery) iter.Seq2[[]affinity.FieldValueChange, error]
	Organization(ctx context.Context, id int64, withInteractionDates bool) (affinity.Organization, error)
	Notes(ctx context.Context, q affinity.PageQuery) iter.Seq2[affinity.Page[affinity.Note], error]
	ListEntriesV2(ctx context.Context, listID int64, q affinity.V2Query) iter.Seq2[affinity.V2Page[affinity.V2ListEntry], error]
	CompaniesV2(ctx context.Context, q affinity.V2Query) iter.Seq2[affinity.V2Page[affinity.V2Company], error]
	PersonsV2(ctx context.Context, q affinity.V2Query) iter.Seq2[affinity.V2Page[affinity.V2Person], error]
	FieldValueChangesV2(ctx context.Context, q affinity.V2ChangeQuery) iter.Seq2[affinity.V2Page[affinity.V2FieldValueChange], error]
	Interactions(ctx context.Context, q affinity.InteractionQuery) iter.Seq2[affinity.Page[affinity.Interaction], error]
	RelationshipStrengths(ctx context.Context, externalID int64) ([]affinity.RelationshipStrength, error)
	EntityFiles(ctx context.Context, q affinity.FileQuery) iter.Seq2[affinity.Page[affinity.EntityFile], error]
	Reminders(ctx context.Context, q affinity.PageQuery) iter.Seq2[affinity.Page[affinity.Reminder], error]
}

// entitiesPerBatch is how many entity keys the per-entity streams read from
// the warehouse at a time. Each read ranks every candidate (a sort over the
// listed entities), so fewer, larger reads keep a pass linear in practice.
const entitiesPerBatch = 2000

// The phases of each stream, as the registry (registry.go) refers to them.

// only is the plan of a stream of one path.
func only(phases ...phase) (passPlan, error) { return passPlan{phases: phases}, nil }

func (s *Syncer) listsPhases(ctx context.Context, _ passState) (passPlan, error) {
	return only(phase{id: PhaseID{Kind: PhaseMain}, pages: single(func(ctx context.Context) (loader.Page, int, error) {
		lists, err := s.api.Lists(ctx)
		var p loader.Page
		for _, l := range lists {
			p.Lists = append(p.Lists, listRow(l))
		}
		return p, len(lists), err
	})})
}

func (s *Syncer) fieldsPhases(ctx context.Context, _ passState) (passPlan, error) {
	return only(phase{id: PhaseID{Kind: PhaseMain}, pages: single(func(ctx context.Context) (loader.Page, int, error) {
		fields, err := s.fields(ctx)
		return loader.Page{Fields: fields}, len(fields), err
	})})
}

func (s *Syncer) personsPhases(ctx context.Context, _ passState) (passPlan, error) {
	return only(withDatesPhases(func(ctx context.Context, q affinity.PageQuery, dates bool) iter.Seq2[affinity.Page[affinity.Person], error] {
		return s.api.Persons(ctx, affinity.PersonQuery{PageQuery: q, WithInteractionDates: dates})
	}, s.opts.PageSize, func(p affinity.Person, out *loader.Page) { out.Persons = append(out.Persons, personRow(p)) })...)
}

func (s *Syncer) organizationsPhases(ctx context.Context, _ passState) (passPlan, error) {
	return only(withDatesPhases(func(ctx context.Context, q affinity.PageQuery, dates bool) iter.Seq2[affinity.Page[affinity.Organization], error] {
		return s.api.Organizations(ctx, affinity.OrganizationQuery{PageQuery: q, WithInteractionDates: dates})
	}, s.opts.PageSize, func(o affinity.Organization, out *loader.Page) {
		out.Organizations = append(out.Organizations, organizationRow(o))
	})...)
}

func (s *Syncer) opportunitiesPhases(ctx context.Context, _ passState) (passPlan, error) {
	return only(phase{id: PhaseID{Kind: PhaseMain}, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		q := affinity.PageQuery{PageSize: s.opts.PageSize, PageToken: cp.PageToken}
		return convertPages(s.api.Opportunities(ctx, q), func(o affinity.Opportunity, out *loader.Page) {
			out.Opportunities = append(out.Opportunities, opportunityRow(o))
		})
	}})
}

func (s *Syncer) notesPhases(ctx context.Context, _ passState) (passPlan, error) {
	return only(phase{id: PhaseID{Kind: PhaseMain}, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		q := affinity.PageQuery{PageSize: s.opts.PageSize, PageToken: cp.PageToken}
		return convertPages(s.api.Notes(ctx, q), func(n affinity.Note, out *loader.Page) {
			out.Notes = append(out.Notes, noteRow(n))
		})
	}})
}

func (s *Syncer) listEntriesPhases(ctx context.Context, _ passState) (passPlan, error) {
	// One phase per live (chosen) list, in id order.
	lists, err := s.chosenLists(ctx)
	if err != nil {
		return passPlan{}, err
	}
	phases := make([]phase, 0, len(lists))
	for _, l := range lists {
		phases = append(phases, phase{id: PhaseID{Kind: PhaseListEntries, ID: l.ID}, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
			q := affinity.PageQuery{PageSize: s.opts.PageSize, PageToken: cp.PageToken}
			return convertPages(s.api.ListEntries(ctx, l.ID, q), func(e affinity.ListEntry, out *loader.Page) {
				out.ListEntries = append(out.ListEntries, listEntryRow(e, l.Type))
			})
		}})
	}
	return only(phases...)
}

func (s *Syncer) fieldValuesPhases(ctx context.Context, ps passState) (passPlan, error) {
	types, err := s.store.FieldValueTypes(ctx)
	if err != nil {
		return passPlan{}, err
	}
	chosen, err := s.chosenListIDs(ctx)
	if err != nil {
		return passPlan{}, err
	}
	fetch := func(ctx context.Context, k loader.EntityKey, out *loader.Page) error {
		values, err := s.api.FieldValues(ctx, selectorOf(k))
		if err != nil {
			return err
		}
		out.EntityValues = append(out.EntityValues, entityValuesRow(k, values, types))
		return nil
	}
	candidates := func(q loader.RefreshQuery) func(context.Context, loader.RefreshKey) ([]loader.RefreshKey, error) {
		return func(ctx context.Context, after loader.RefreshKey) ([]loader.RefreshKey, error) {
			q.After, q.Limit = after, entitiesPerBatch
			return s.store.RefreshCandidates(ctx, q)
		}
	}
	var reread rereadLists
	listed := func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		due := perEntity(ctx, s, candidates(loader.RefreshQuery{PassStart: cp.PassStartedAt,
			StaleBefore: s.staleBefore(s.opts.ValuesMaxAge), Lists: chosen}), fetch)
		at, lists := reread.get()
		if len(lists) == 0 {
			return due
		}
		// After a fall back to v1 in the middle of the v2 lists: every entity on the lists v2
		// did not read whole, read before the fall back (by another list's v2 read, which
		// carried none of these lists' values, among them).
		return concat(due, perEntity(ctx, s, candidates(loader.RefreshQuery{PassStart: at, StaleBefore: at, Lists: lists}), fetch))
	}
	unlisted := func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		return perEntity(ctx, s, candidates(loader.RefreshQuery{PassStart: cp.PassStartedAt,
			StaleBefore: s.staleBefore(s.opts.UnlistedMaxAge), Unlisted: true}), fetch)
	}
	phases := []phase{{id: PhaseID{Kind: PhaseMain}, pages: listed}}
	if s.opts.FieldValuesForUnlisted {
		phases = append(phases, phase{id: PhaseID{Kind: PhaseUnlisted}, pages: unlisted})
	}
	if s.opts.APIV2 == V2Off {
		return passPlan{phases: phases, path: &PathNote{Path: "v1", Reason: "affinity.api_v2 is off"}}, nil
	}
	plan, err := s.fieldValuesV2Phases(ctx, ps, phases)
	plan.reread = reread.set
	return plan, err
}

// rereadLists are the lists whose entities the listed v1 phase of field_values reads whole
// after the pass fell back to v1 in the middle of its v2 lists, and when it fell back.
type rereadLists struct {
	mu    sync.Mutex
	at    time.Time
	lists []int64
}

func (r *rereadLists) set(at time.Time, lists []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at, r.lists = at, slices.Clone(lists)
}

func (r *rereadLists) get() (time.Time, []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at, r.lists
}

// concat yields the pages of a, then those of b.
func concat(a, b iter.Seq2[fetched, error]) iter.Seq2[fetched, error] {
	return func(yield func(fetched, error) bool) {
		for f, err := range a {
			if !yield(f, err) || err != nil {
				return
			}
		}
		for f, err := range b {
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
}

func (s *Syncer) organizationDetailsPhases(ctx context.Context, ps passState) (passPlan, error) {
	v1 := []phase{{id: PhaseID{Kind: PhaseMain}, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		staleBefore := s.staleBefore(s.opts.ValuesMaxAge)
		return perEntity(ctx, s, func(ctx context.Context, after loader.RefreshKey) ([]loader.RefreshKey, error) {
			return s.store.DetailsCandidates(ctx, loader.DetailsQuery{PassStart: cp.PassStartedAt, StaleBefore: staleBefore,
				After: after, Limit: entitiesPerBatch})
		}, func(ctx context.Context, k loader.EntityKey, out *loader.Page) error {
			org, err := s.api.Organization(ctx, k.ID, false)
			if err != nil {
				return err
			}
			out.OrganizationPersons = append(out.OrganizationPersons, loader.OrganizationPersons{OrganizationID: k.ID, PersonIDs: org.PersonIDs})
			return nil
		})
	}}}
	if s.opts.APIV2 == V2Off {
		return passPlan{phases: v1, path: &PathNote{Path: "v1", Reason: "affinity.api_v2 is off"}}, nil
	}
	return s.organizationDetailsV2Phases(ctx, ps, v1)
}

// chosenLists are the live lists sync.lists names (every live list when it
// names none).
func (s *Syncer) chosenLists(ctx context.Context) ([]loader.List, error) {
	return ChooseLists(ctx, s.store, s.opts.Lists)
}

// ListReader reads the live lists; *loader.Store satisfies it.
type ListReader interface {
	LiveLists(ctx context.Context) ([]loader.List, error)
}

// ChooseLists returns the live lists that names (ids or exact names, as in
// sync.lists) choose, by id; every live list when names is empty. A name
// that matches no list is an error, so a typo never quietly syncs nothing.
func ChooseLists(ctx context.Context, store ListReader, names []string) ([]loader.List, error) {
	lists, err := store.LiveLists(ctx)
	if err != nil || len(names) == 0 {
		return lists, err
	}
	var chosen []loader.List
	for _, want := range names {
		found := false
		for _, l := range lists {
			if l.Name == want || strconv.FormatInt(l.ID, 10) == want {
				found = true
				if !slices.ContainsFunc(chosen, func(c loader.List) bool { return c.ID == l.ID }) {
					chosen = append(chosen, l)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("sync.lists: no live list has the id or name %q", want)
		}
	}
	slices.SortFunc(chosen, func(a, b loader.List) int { return cmp.Compare(a.ID, b.ID) })
	return chosen, nil
}

// chosenListIDs is chosenLists as ids; nil when sync.lists names none.
func (s *Syncer) chosenListIDs(ctx context.Context) ([]int64, error) {
	if len(s.opts.Lists) == 0 {
		return nil, nil
	}
	lists, err := s.chosenLists(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(lists))
	for i, l := range lists {
		ids[i] = l.ID
	}
	return ids, nil
}

// withDatesPhases are the two listings of persons or organizations: plain,
// then with_interaction_dates=true for the seven *_at columns.
func withDatesPhases[T any](list func(context.Context, affinity.PageQuery, bool) iter.Seq2[affinity.Page[T], error],
	size int, add func(T, *loader.Page)) []phase {
	listing := func(kind PhaseKind) phase {
		dates := kind == PhaseInteractionDates
		return phase{id: PhaseID{Kind: kind}, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
			return convertPages(list(ctx, affinity.PageQuery{PageSize: size, PageToken: cp.PageToken}, dates), add)
		}}
	}
	return []phase{listing(PhaseMain), listing(PhaseInteractionDates)}
}

// single is a phase of one unpaged request.
func single(get func(ctx context.Context) (loader.Page, int, error)) func(context.Context, loader.Checkpoint) iter.Seq2[fetched, error] {
	return func(ctx context.Context, _ loader.Checkpoint) iter.Seq2[fetched, error] {
		return func(yield func(fetched, error) bool) {
			rows, n, err := get(ctx)
			if err != nil {
				yield(fetched{}, err)
				return
			}
			yield(fetched{rows: rows, n: n}, nil)
		}
	}
}

// fields reads every field with one GET /fields. Affinity may leave out a
// field's entity type: a list field takes its list's type, and only when a
// global field lacks it are the global person and organization fields read
// to tell which is which.
func (s *Syncer) fields(ctx context.Context) ([]loader.Field, error) {
	fields, err := s.api.Fields(ctx, affinity.FieldQuery{})
	if err != nil {
		return nil, err
	}
	lists, err := s.store.LiveLists(ctx)
	if err != nil {
		return nil, err
	}
	listType := make(map[int64]loader.EntityKind, len(lists))
	for _, l := range lists {
		listType[l.ID] = l.Type
	}
	var globalType map[int64]loader.EntityKind
	for i, f := range fields {
		if f.EntityType != nil {
			continue
		}
		if f.ListID != nil {
			if t, ok := listType[*f.ListID]; ok {
				fields[i].EntityType = &t
			}
			continue
		}
		if globalType == nil {
			if globalType, err = s.globalFieldTypes(ctx); err != nil {
				return nil, err
			}
		}
		if t, ok := globalType[f.ID]; ok {
			fields[i].EntityType = &t
		}
	}
	rows := make([]loader.Field, len(fields))
	for i, f := range fields {
		rows[i] = fieldRow(f)
	}
	return rows, nil
}

func (s *Syncer) globalFieldTypes(ctx context.Context) (map[int64]loader.EntityKind, error) {
	types := map[int64]loader.EntityKind{}
	persons, err := s.api.PersonFields(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range persons {
		types[f.ID] = loader.EntityPerson
	}
	orgs, err := s.api.OrganizationFields(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range orgs {
		types[f.ID] = loader.EntityOrganization
	}
	return types, nil
}

// selectorOf is the /field-values query of an entity.
func selectorOf(k loader.EntityKey) affinity.EntitySelector {
	id := k.ID
	switch k.Type {
	case loader.EntityPerson:
		return affinity.EntitySelector{PersonID: &id}
	case loader.EntityOrganization:
		return affinity.EntitySelector{OrganizationID: &id}
	default:
		return affinity.EntitySelector{OpportunityID: &id}
	}
}

// CheckpointReader reads checkpoints; *loader.Store satisfies it.
type CheckpointReader interface {
	LoadCheckpoint(ctx context.Context, stream string) (loader.Checkpoint, error)
}

// UnmetDependencies reports, for a run limited to streams, every stream it
// depends on that is not part of the run and has never completed a pass.
func UnmetDependencies(ctx context.Context, store CheckpointReader, streams []StreamName) ([]string, error) {
	var unmet []string
	for _, s := range streams {
		st, _ := lookup(s)
		for _, dep := range st.dependsOn {
			if slices.Contains(streams, dep) {
				continue
			}
			cp, err := store.LoadCheckpoint(ctx, string(dep))
			if err != nil {
				return nil, err
			}
			if cp.LastCompletedAt == nil {
				unmet = append(unmet, fmt.Sprintf("stream %s needs %s, which has never completed a pass (run it too, or a full sync first)", s, dep))
			}
		}
	}
	return unmet, nil
}
