package loader

import "fmt"

// EntityKind is the kind of an Affinity entity, by the code Affinity gives it and the warehouse
// stores in every entity_type column: 0 person, 1 organization, 8 opportunity.
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

// Valid reports whether k is one of the entity kinds the warehouse holds.
func (k EntityKind) Valid() bool {
	return k == EntityPerson || k == EntityOrganization || k == EntityOpportunity
}

// String is the kind's name, as Affinity's webhook events spell it ("person",
// "organization", "opportunity"), or "entity type N" for a code the warehouse does not hold.
func (k EntityKind) String() string {
	if o := k.Object(); o != "" {
		return string(o)
	}
	return fmt.Sprintf("entity type %d", int(k))
}

// Object is the object kind of the kind's rows, as SoftDeleteObject and EndSoftDeleteUnseen
// take it; "" for a code the warehouse does not hold.
func (k EntityKind) Object() ObjectKind {
	switch k {
	case EntityPerson:
		return ObjectPerson
	case EntityOrganization:
		return ObjectOrganization
	case EntityOpportunity:
		return ObjectOpportunity
	}
	return ""
}

// Table is the warehouse table of the kind's rows; "" for a code the warehouse does not hold.
func (k EntityKind) Table() string {
	switch k {
	case EntityPerson:
		return "persons"
	case EntityOrganization:
		return "organizations"
	case EntityOpportunity:
		return "opportunities"
	}
	return ""
}

// ParseEntityKind returns the entity kind of a name as String spells it; ok is false for any
// other name.
func ParseEntityKind(name string) (k EntityKind, ok bool) {
	for _, k := range EntityKinds() {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}
