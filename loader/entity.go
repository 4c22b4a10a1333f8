package loader

import "fmt"

// EntityKind is the kind of an Affinity entity, by the code Affinity gives it and the warehouse
// stores in every entity_type column: 0 person, 1 organization, 8 opportunity. It is the one
// entity kind of the program: the client's models, the fake API and the warehouse all use it,
// and it knows how each API spells it.
type EntityKind int

// The entity kinds the warehouse holds.
const (
	EntityPerson       EntityKind = 0
	EntityOrganization EntityKind = 1
	EntityOpportunity  EntityKind = 8
)

// EntityKinds are every entity kind, in code order.
func EntityKinds() []EntityKind {
	return []EntityKind{EntityPerson, EntityOrganization, EntityOpportunity}
}

// entitySpellings are the names of one entity kind, in the warehouse and in each API.
type entitySpellings struct {
	object   ObjectKind // webhook events, soft deletes, ParseEntityKind
	table    string     // warehouse table
	v1Noun   string     // v1 paths: /persons, /organizations/{id}
	v2Noun   string     // v2 paths: /v2/persons, /v2/companies
	v2Type   string     // the type of a v2 list entry
	selector string     // the /field-values and /notes query parameter
}

// spellings are k's names; all empty for a code the warehouse does not hold.
func (k EntityKind) spellings() entitySpellings {
	switch k {
	case EntityPerson:
		return entitySpellings{ObjectPerson, "persons", "persons", "persons", "person", "person_id"}
	case EntityOrganization:
		return entitySpellings{ObjectOrganization, "organizations", "organizations", "companies", "company", "organization_id"}
	case EntityOpportunity:
		return entitySpellings{ObjectOpportunity, "opportunities", "opportunities", "opportunities", "opportunity", "opportunity_id"}
	}
	return entitySpellings{}
}

// Valid reports whether k is one of the entity kinds the warehouse holds.
func (k EntityKind) Valid() bool {
	return k == EntityPerson || k == EntityOrganization || k == EntityOpportunity
}

// String is the kind's name, as Affinity's webhook events spell it ("person",
// "organization", "opportunity"), or "entity type N" for a code the warehouse does not hold.
func (k EntityKind) String() string {
	if !k.Valid() {
		return fmt.Sprintf("entity type %d", int(k))
	}
	return string(k.spellings().object)
}

// Object is the object kind of the kind's rows, as SoftDeleteObject and EndSoftDeleteUnseen
// take it; "" for a code the warehouse does not hold.
func (k EntityKind) Object() ObjectKind { return k.spellings().object }

// Table is the warehouse table of the kind's rows; "" for a code the warehouse does not hold.
func (k EntityKind) Table() string { return k.spellings().table }

// V1Noun is the kind's collection in API v1 paths ("persons", "organizations",
// "opportunities", as in /persons and /organizations/{id}); "" for a code the warehouse does
// not hold.
func (k EntityKind) V1Noun() string { return k.spellings().v1Noun }

// V2Noun is the kind's collection in API v2 paths ("persons", "companies", "opportunities",
// as in /v2/companies); "" for a code the warehouse does not hold.
func (k EntityKind) V2Noun() string { return k.spellings().v2Noun }

// V2EntryType is the type of a v2 list entry holding the kind ("person", "company",
// "opportunity"); "" for a code the warehouse does not hold.
func (k EntityKind) V2EntryType() string { return k.spellings().v2Type }

// SelectorParam is the v1 query parameter naming one entity of the kind, as GET /field-values
// and GET /notes take it ("person_id", "organization_id", "opportunity_id"); "" for a code the
// warehouse does not hold.
func (k EntityKind) SelectorParam() string { return k.spellings().selector }

// ParseEntityKind returns the entity kind of a name as String spells it; ok is false for any
// other name.
func ParseEntityKind(name string) (k EntityKind, ok bool) {
	return parseSpelling(name, EntityKind.String)
}

// ParseV2EntryType returns the entity kind of a v2 list entry type as V2EntryType spells it;
// ok is false for any other type.
func ParseV2EntryType(typ string) (k EntityKind, ok bool) {
	return parseSpelling(typ, EntityKind.V2EntryType)
}

func parseSpelling(s string, spell func(EntityKind) string) (EntityKind, bool) {
	for _, k := range EntityKinds() {
		if spell(k) == s {
			return k, true
		}
	}
	return 0, false
}
