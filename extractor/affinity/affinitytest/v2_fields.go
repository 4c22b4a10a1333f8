package affinitytest

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v2 field ids and field selection: which v1 fields an entity carries inline and how
// fieldTypes and fieldIds pick among them.

// V2FieldID is the v2 id of a v1 field: "field-<id>" for a global or list field,
// "<enrichment source>-<name as a slug>" for an enriched one (e.g. "affinity-data-job-titles"),
// and "" for a field v2 does not serve (Crunchbase data, which v2 never exposes).
func V2FieldID(f *Field) string {
	switch f.EnrichmentSource {
	case "", "none":
		return "field-" + strconv.FormatInt(f.ID, 10)
	case "crunchbase":
		return ""
	}
	return f.EnrichmentSource + "-" + slug(f.Name)
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// v2Colors names v1's integer dropdown colors the way v2 serves them.
var v2Colors = []string{"gray", "blue", "green", "yellow", "orange", "red", "purple", "pink"}

func colorName(c int) string {
	if c >= 0 && c < len(v2Colors) {
		return v2Colors[c]
	}
	return "gray"
}

// v2Field is one field v2 can serve for an entity (type and, for list entries, list).
type v2Field struct {
	id, name, kind string // kind: global, enriched, list, relationship-intelligence
	source         any    // enrichmentSource: a string or nil
	f              *Field // the v1 field; nil for a built-in
	builtin        string // persons, companies, or an interaction date for the RI fields
}

// riFields are the relationship-intelligence fields of persons and companies (clients ignore
// them; the fake derives them from the interaction dates).
type riField struct {
	id, name string
	date     func(*InteractionDates) *time.Time
	kind     string // the interaction's type
}

var riFields = []riField{
	{"first-email", "First Email", func(d *InteractionDates) *time.Time { return d.FirstEmail }, "email"},
	{"last-email", "Last Email", func(d *InteractionDates) *time.Time { return d.LastEmail }, "email"},
	{"first-event", "First Event", func(d *InteractionDates) *time.Time { return d.FirstEvent }, "meeting"},
	{"last-event", "Last Event", func(d *InteractionDates) *time.Time { return d.LastEvent }, "meeting"},
	{"next-event", "Next Event", func(d *InteractionDates) *time.Time { return d.NextEvent }, "meeting"},
	{"last-chat-message", "Last Chat Message", func(d *InteractionDates) *time.Time { return d.LastChatMessage }, "chat-message"},
	{"last-contact", "Last Contact", func(d *InteractionDates) *time.Time { return d.LastInteraction }, "email"},
}

// v2Catalogue lists the fields v2 serves for an entity type, plus a list's fields when
// listID is set, in a stable order: global and enriched fields by v1 id, list fields by v1
// id, built-in associations, relationship-intelligence fields.
func v2Catalogue(x *index, entityType loader.EntityKind, listID *int64) []v2Field {
	var out []v2Field
	if entityType != loader.EntityOpportunity {
		for _, f := range x.globalFields[entityType] {
			id := V2FieldID(f)
			switch {
			case id == "":
			case f.EnrichmentSource == "" || f.EnrichmentSource == "none":
				out = append(out, v2Field{id: id, name: f.Name, kind: "global", f: f})
			default:
				out = append(out, v2Field{id: id, name: f.Name, kind: "enriched", source: f.EnrichmentSource, f: f})
			}
		}
	}
	if listID != nil {
		for _, f := range x.fieldsByList[*listID] {
			out = append(out, v2Field{id: V2FieldID(f), name: f.Name, kind: "list", f: f})
		}
	}
	switch entityType {
	case loader.EntityOrganization:
		out = append(out, v2Field{id: "persons", name: "People", kind: "enriched", builtin: "persons"})
	case loader.EntityPerson:
		out = append(out, v2Field{id: "companies", name: "Organizations", kind: "enriched", builtin: "companies"})
	case loader.EntityOpportunity:
		out = append(out, v2Field{id: "persons", name: "People", kind: "list", builtin: "persons"},
			v2Field{id: "companies", name: "Organizations", kind: "list", builtin: "companies"})
	}
	if entityType != loader.EntityOpportunity {
		for _, ri := range riFields {
			out = append(out, v2Field{id: ri.id, name: ri.name, kind: "relationship-intelligence", builtin: ri.id})
		}
	}
	return out
}

// selectFields applies fieldTypes (each one of allowed) and fieldIds (each in the catalogue)
// to the catalogue; a field is selected when its type or its id is asked for.
func selectFields(q url.Values, catalogue []v2Field, allowed []string) ([]v2Field, *apiError) {
	types := map[string]bool{}
	for _, t := range q["fieldTypes"] {
		if !slices.Contains(allowed, t) {
			return nil, v2Validation("fieldTypes", fmt.Sprintf("fieldTypes %q is not one of %s", t, strings.Join(allowed, ", ")))
		}
		types[t] = true
	}
	ids := map[string]bool{}
	for _, id := range q["fieldIds"] {
		if !slices.ContainsFunc(catalogue, func(f v2Field) bool { return f.id == id }) {
			return nil, v2Validation("fieldIds", fmt.Sprintf("unknown field id %q", id))
		}
		ids[id] = true
	}
	var out []v2Field
	for _, f := range catalogue {
		if types[f.kind] || ids[f.id] {
			out = append(out, f)
		}
	}
	return out, nil
}
