package extractor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// This file maps API v2 inline field values to the rows a v1 read would
// store (docs/api-v2.md): the same field ids, the v1 shape of every value,
// the v1 field's value type, one row per item of a multi-valued field. It
// also compares a v2 read with a v1 read of the same entity, for the probe.

// v2Catalog is what the mapping needs from the warehouse: the v1 fields, the
// enriched fields that have exactly one v1 twin, and the dropdown options.
type v2Catalog struct {
	fields   map[int64]loader.Field
	enriched map[enrichedKey]int64 // (entity type, name) → the one enriched v1 field; 0 when ambiguous
	options  map[[2]int64]loader.DropdownOption
}

type enrichedKey struct {
	entityType loader.EntityKind
	name       string
}

// newV2Catalog indexes the live v1 fields and their dropdown options.
func newV2Catalog(fields []loader.Field) v2Catalog {
	c := v2Catalog{
		fields:   make(map[int64]loader.Field, len(fields)),
		enriched: map[enrichedKey]int64{},
		options:  map[[2]int64]loader.DropdownOption{},
	}
	for _, f := range fields {
		c.fields[f.ID] = f
		for _, o := range f.Options {
			c.options[[2]int64{f.ID, o.ID}] = o
		}
		if f.ListID != nil || f.EntityType == nil || !isEnriched(f.EnrichmentSource) {
			continue
		}
		k := enrichedKey{*f.EntityType, f.Name}
		if _, dup := c.enriched[k]; dup {
			c.enriched[k] = 0 // more than one twin: its values stay on v1
		} else {
			c.enriched[k] = f.ID
		}
	}
	return c
}

// isEnriched reports whether a v1 enrichment_source names a source.
func isEnriched(src *string) bool {
	return src != nil && *src != "" && *src != "none"
}

// resolve finds the v1 field of a v2 field on an entity of entityType:
// field-<n> is field n; an enriched id is the one enriched v1 field of that
// entity type with the same name. Everything else (persons, companies,
// relationship intelligence, built-ins, redacted "hidden" fields) is not a
// field value.
func (c v2Catalog) resolve(entityType loader.EntityKind, f affinity.V2Field) (loader.Field, bool) {
	if f.Type == "hidden" {
		return loader.Field{}, false
	}
	if n, ok := strings.CutPrefix(f.ID, "field-"); ok {
		id, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return loader.Field{}, false
		}
		field, ok := c.fields[id]
		return field, ok
	}
	if f.Type != "enriched" {
		return loader.Field{}, false
	}
	id := c.enriched[enrichedKey{entityType, f.Name}]
	if id == 0 {
		return loader.Field{}, false
	}
	return c.fields[id], true
}

// v2Read is one entity's values as a v2 read returns them, mapped to v1.
type v2Read struct {
	values loader.ScopedValues
	// listFields are the list fields the read carried (for the probe).
	listFields []int64
}

// mapV2 maps the inline fields of one entity (on list entry entryID, nil for
// a /v2/persons or /v2/companies row) to the rows of a v1 read. The global
// scope is every global or matched enriched field present in fields, valued
// or not; the list entry's values are replaced as a whole.
func (c v2Catalog) mapV2(entityType loader.EntityKind, entityID int64, entryID *int64, fields []affinity.V2Field) (v2Read, error) {
	r := v2Read{values: loader.ScopedValues{EntityType: entityType, EntityID: entityID, ListEntryID: entryID}}
	for _, f := range fields {
		field, ok := c.resolve(entityType, f)
		if !ok {
			continue
		}
		var onEntry *int64
		if field.ListID != nil {
			if entryID == nil {
				continue // a list field outside a list entry: not this read's
			}
			onEntry = entryID
			r.listFields = append(r.listFields, field.ID)
		} else if !slices.Contains(r.values.GlobalFields, field.ID) {
			r.values.GlobalFields = append(r.values.GlobalFields, field.ID)
		}
		items, err := c.v1Values(field, f.Value)
		if err != nil {
			return v2Read{}, fmt.Errorf("entity %d field %s: %w", entityID, f.ID, err)
		}
		vt := field.ValueType
		for _, raw := range items {
			v := affinity.Value{Raw: raw}
			r.values.Values = append(r.values.Values, loader.FieldValue{FieldID: field.ID, EntityType: entityType,
				EntityID: entityID, ListEntryID: onEntry, ValueType: &vt, Value: rawValue(v), Projection: projection(v, &vt)})
		}
	}
	return r, nil
}

// v1Values turns a v2 value into the v1 value elements it stands for: none
// for null data, one per item of a multi-valued type, one otherwise.
func (c v2Catalog) v1Values(field loader.Field, v affinity.V2Value) ([]json.RawMessage, error) {
	data := bytes.TrimSpace(v.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	base, multi := strings.CutSuffix(v.Type, "-multi")
	var items []json.RawMessage
	if multi {
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("%s data is not an array: %w", v.Type, err)
		}
	} else {
		items = []json.RawMessage{data}
	}
	out := make([]json.RawMessage, 0, len(items))
	for _, item := range items {
		if t := bytes.TrimSpace(item); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		conv, err := c.v1Value(field, base, item)
		if err != nil {
			return nil, err
		}
		out = append(out, conv)
	}
	return out, nil
}

// v1Value converts one item to its v1 shape. A type v1 does not know is kept
// raw (its projections are then null).
func (c v2Catalog) v1Value(field loader.Field, typ string, item json.RawMessage) (json.RawMessage, error) {
	switch typ {
	case "person", "company":
		var ref struct {
			ID *json.Number `json:"id"`
		}
		if err := json.Unmarshal(item, &ref); err != nil || ref.ID == nil {
			return nil, fmt.Errorf("%s value without an id", typ)
		}
		return json.RawMessage(ref.ID.String()), nil
	case "dropdown":
		var o struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(item, &o); err != nil || o.Text == nil {
			return nil, fmt.Errorf("dropdown value without text")
		}
		return json.Marshal(*o.Text)
	case "ranked-dropdown":
		var o struct {
			ID   *int64  `json:"dropdownOptionId"`
			Text *string `json:"text"`
			Rank *int    `json:"rank"`
		}
		if err := json.Unmarshal(item, &o); err != nil || o.ID == nil {
			return nil, fmt.Errorf("ranked dropdown value without an option id")
		}
		out := struct {
			ID    int64   `json:"id"`
			Text  *string `json:"text"`
			Rank  *int    `json:"rank"`
			Color *int    `json:"color"`
		}{ID: *o.ID, Text: o.Text, Rank: o.Rank}
		if opt, ok := c.options[[2]int64{field.ID, *o.ID}]; ok {
			text := opt.Text
			out.Text, out.Rank, out.Color = &text, opt.Rank, opt.Color
		}
		return json.Marshal(out)
	case "location":
		var l struct {
			StreetAddress *string `json:"streetAddress"`
			City          *string `json:"city"`
			State         *string `json:"state"`
			Country       *string `json:"country"`
			Continent     *string `json:"continent"`
		}
		if err := json.Unmarshal(item, &l); err != nil {
			return nil, fmt.Errorf("location value: %w", err)
		}
		return json.Marshal(struct {
			StreetAddress *string `json:"street_address"`
			City          *string `json:"city"`
			State         *string `json:"state"`
			Country       *string `json:"country"`
			Continent     *string `json:"continent"`
		}{l.StreetAddress, l.City, l.State, l.Country, l.Continent})
	default: // number, text, filterable-text, datetime as given; unknown types raw
		return item, nil
	}
}

// probeKey is how the probe compares one value of either API: field, list
// entry, value type and typed projections, each in a canonical form.
func probeKey(v loader.FieldValue) string {
	var b strings.Builder
	fmt.Fprintf(&b, "field %d", v.FieldID)
	if v.ListEntryID != nil {
		fmt.Fprintf(&b, " entry %d", *v.ListEntryID)
	}
	if v.ValueType != nil {
		fmt.Fprintf(&b, " type %d", *v.ValueType)
	}
	b.WriteString(projectionKey(v.Projection))
	return b.String()
}

// projectionKey is a value's typed projections in a canonical form.
func projectionKey(p loader.Projection) string {
	var b strings.Builder
	if p.Text != nil {
		fmt.Fprintf(&b, " text %q", *p.Text)
	}
	if p.Number != nil {
		if r, ok := new(big.Rat).SetString(*p.Number); ok {
			fmt.Fprintf(&b, " number %s", r.RatString())
		} else {
			fmt.Fprintf(&b, " number %s", *p.Number)
		}
	}
	if p.Date != nil {
		fmt.Fprintf(&b, " date %s", p.Date.UTC().Format(time.RFC3339Nano))
	}
	if p.EntityID != nil {
		fmt.Fprintf(&b, " entity %d", *p.EntityID)
	}
	if p.OptionID != nil {
		fmt.Fprintf(&b, " option %d", *p.OptionID)
	}
	return b.String()
}

// probeDifference compares a v2 read of one entity with a v1 read of it,
// restricted to what the v2 read carries: its global scope and, on a list
// entry, the list fields it carried on that entry. v1 values that are JSON null
// are left out: v2 has no way to send them. It describes the first difference,
// or returns "" when both hold the same multiset of values.
func probeDifference(v2 v2Read, v1 []loader.FieldValue) string {
	carried := func(v loader.FieldValue) bool {
		if v.Value == nil {
			return false // a JSON null value: v2 cannot express it (v1 sends them, e.g. for Crunchbase fields)
		}
		if v.ListEntryID == nil {
			return slices.Contains(v2.values.GlobalFields, v.FieldID)
		}
		return v2.values.ListEntryID != nil && *v.ListEntryID == *v2.values.ListEntryID && slices.Contains(v2.listFields, v.FieldID)
	}
	count := map[string]int{}
	for _, v := range v1 {
		if carried(v) {
			count[probeKey(v)]++
		}
	}
	for _, v := range v2.values.Values {
		k := probeKey(v)
		if count[k] == 0 {
			other := "no such value"
			for _, w := range v1 {
				if carried(w) && w.FieldID == v.FieldID && sameEntry(w.ListEntryID, v.ListEntryID) {
					other = string(w.Value)
					break
				}
			}
			return fmt.Sprintf("entity %d field %d: v2 has %s, v1 has %s", v.EntityID, v.FieldID, displayValue(v.Value), other)
		}
		count[k]--
	}
	for _, v := range v1 {
		if carried(v) && count[probeKey(v)] > 0 {
			return fmt.Sprintf("entity %d field %d: v1 has %s, v2 has no such value", v.EntityID, v.FieldID, displayValue(v.Value))
		}
	}
	return ""
}

func sameEntry(a, b *int64) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func displayValue(raw []byte) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}
