package affinitytest

import (
	"encoding/json"
	"math/rand/v2"
	"slices"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Changes made between syncs: ChangeTrackedValues, for tests and bench runs that need a
// trickle of changed values seen by v1 (/field-values, /field-value-changes) and v2 alike.

// ChangeMade is one value change ChangeTrackedValues made: the cell it changed and the one
// change record it added.
type ChangeMade struct {
	FieldID     int64
	EntityType  loader.EntityKind
	EntityID    int64
	ListEntryID *int64 // nil for a global field
	ChangeID    int64  // the id of the FieldValueChange recorded
	ActionType  int    // ActionCreate, ActionUpdate or ActionDelete
}

// ChangeTrackedValues makes n value changes on tracked fields through SetFieldValue, so that
// v1 and v2 serve them, each with changed_at w.Now() (fix the clock with SetClock to make
// them share one changedAt). Each change adds exactly one change record: a single-valued
// cell with a value gets another value (update), an empty cell a value (create), and a
// multi-valued cell one more value (create) or, one time in four when it holds two or more,
// loses one (delete). Cells are picked at random from rng over the tracked fields and their
// entities (persons, organizations, opportunities, or a list's entries), each on an entity
// not changed before in this call as long as one can be found, so the changes are spread
// over distinct entities where the workspace allows. It returns what it changed, in order;
// fewer than n when the workspace has no tracked field it can set. Call it inside
// Server.Mutate once a Server serves the workspace.
func (w *Workspace) ChangeTrackedValues(rng *rand.Rand, n int) []ChangeMade {
	x := w.index()
	g := &generator{rng: rng, ws: w, zones: zones(), present: w.Now()}
	for _, p := range w.Persons {
		if p.Type == 1 {
			g.internal = append(g.internal, p.ID)
		}
	}
	if len(g.internal) == 0 {
		g.internal = []int64{w.User.ID}
	}
	var tracked []*Field
	for _, f := range w.Fields {
		if f.TrackChanges && canMakeValue(w, f) {
			tracked = append(tracked, f)
		}
	}
	if len(tracked) == 0 || n <= 0 {
		return nil
	}
	// pick is a random cell of a tracked field; ok is false when the field has no entity.
	pick := func() (f *Field, key entityKey, entry *int64, ok bool) {
		f = tracked[rng.IntN(len(tracked))]
		if f.ListID != nil {
			es := x.entriesByList[*f.ListID]
			if len(es) == 0 {
				return f, key, nil, false
			}
			e := es[rng.IntN(len(es))]
			id := e.ID
			return f, entityKey{e.EntityType, e.EntityID}, &id, true
		}
		var ids []int64
		switch f.EntityType {
		case loader.EntityPerson:
			if len(w.Persons) > 0 {
				ids = []int64{w.Persons[rng.IntN(len(w.Persons))].ID}
			}
		case loader.EntityOrganization:
			if len(w.Organizations) > 0 {
				ids = []int64{w.Organizations[rng.IntN(len(w.Organizations))].ID}
			}
		case loader.EntityOpportunity:
			if len(w.Opportunities) > 0 {
				ids = []int64{w.Opportunities[rng.IntN(len(w.Opportunities))].ID}
			}
		}
		if len(ids) == 0 {
			return f, key, nil, false
		}
		return f, entityKey{f.EntityType, ids[0]}, nil, true
	}
	used := map[entityKey]bool{}
	distinctTries := 50 * n // picks spent looking for an entity not changed yet
	var out []ChangeMade
	for tries := 0; len(out) < n && tries < 100*n+100; tries++ {
		f, key, entry, ok := pick()
		if !ok || (used[key] && tries < distinctTries) {
			continue
		}
		before := len(w.Changes)
		action, ok := g.changeCell(f, key.id, entry)
		if !ok || len(w.Changes) != before+1 {
			continue
		}
		used[key] = true
		out = append(out, ChangeMade{FieldID: f.ID, EntityType: key.typ, EntityID: key.id,
			ListEntryID: clonePtr(entry), ChangeID: w.Changes[len(w.Changes)-1].ID, ActionType: action})
	}
	return out
}

// canMakeValue reports whether the generator can make a value of f in w.
func canMakeValue(w *Workspace, f *Field) bool {
	switch f.ValueType {
	case ValuePerson:
		return len(w.Persons) > 0
	case ValueOrganization:
		return len(w.Organizations) > 0
	case ValueRankedDropdown:
		return len(f.DropdownOptions) > 0
	}
	return true
}

// changeCell makes one change record on a cell (see ChangeTrackedValues); ok is false when
// no new value was found.
func (g *generator) changeCell(f *Field, entityID int64, entry *int64) (action int, ok bool) {
	w := g.ws
	old := w.ValuesOf(f.ID, entityID, entry)
	cur := make([]json.RawMessage, len(old))
	for i, v := range old {
		cur[i] = v.Value
	}
	if f.AllowsMultiple && len(cur) >= 2 && g.rng.IntN(4) == 0 {
		i := g.rng.IntN(len(cur))
		w.SetFieldValue(f.ID, entityID, entry, slices.Delete(slices.Clone(cur), i, i+1)...)
		return ActionDelete, true
	}
	for range 20 {
		v := g.value(f)
		if isJSONNull(v) || slices.ContainsFunc(cur, func(c json.RawMessage) bool { return string(c) == string(v) }) {
			continue
		}
		switch {
		case f.AllowsMultiple:
			w.SetFieldValue(f.ID, entityID, entry, append(slices.Clone(cur), v)...)
			return ActionCreate, true
		case len(cur) == 1:
			w.SetFieldValue(f.ID, entityID, entry, v)
			return ActionUpdate, true
		case len(cur) == 0:
			w.SetFieldValue(f.ID, entityID, entry, v)
			return ActionCreate, true
		}
		return 0, false // a single-valued cell holding several values: leave it alone
	}
	return 0, false
}
