package affinitytest

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// Field value types (fields.value_type).
const (
	ValuePerson         = 0
	ValueOrganization   = 1
	ValueDropdown       = 2
	ValueNumber         = 3
	ValueDate           = 4
	ValueLocation       = 5
	ValueText           = 6
	ValueRankedDropdown = 7
	ValueFilterableText = 10
)

// Field value change action types.
const (
	ActionCreate = 0
	ActionDelete = 1
	ActionUpdate = 2
)

// Workspace is everything the fake serves. Slices are sorted by ID. Once a Server serves it,
// change it only inside Server.Mutate. Prefer the mutation helpers, which keep it consistent;
// after editing the slices directly, call Reindex before using a lookup or helper.
type Workspace struct {
	Tenant        Tenant
	User          User // the API key's user; also an internal person in Persons
	Persons       []*Person
	Organizations []*Organization
	Opportunities []*Opportunity
	Lists         []*List
	ListEntries   []*ListEntry
	Fields        []*Field // global (ListID nil) and list fields
	FieldValues   []*FieldValue
	Changes       []*FieldValueChange
	Notes         []*Note
	// Relationship intelligence and files (workspace_intelligence.go): interactions sorted by
	// type then id, strengths by external then internal person id, files and reminders by id.
	// The persons' and organizations' Interactions are derived from Interactions.
	Interactions []*Interaction
	Strengths    []*Strength
	Files        []*EntityFile
	Reminders    []*Reminder

	now func() time.Time // clock for mutation helpers; nil means time.Now
	seq idSeq            // next ids handed out by the mutation helpers
	idx *index           // lookups; nil when stale
}

// Tenant is the workspace's account as /auth/whoami reports it.
type Tenant struct {
	ID        int64
	Name      string
	Subdomain string
}

// User is the API key's user as /auth/whoami reports it.
type User struct {
	ID        int64
	FirstName string
	LastName  string
	Email     string
}

// InteractionDates are the seven interaction summaries; a nil date is served as null.
type InteractionDates struct {
	FirstEmail, LastEmail, FirstEvent, LastEvent, NextEvent, LastChatMessage, LastInteraction *time.Time
}

// Person is a person record. Type is 0 external or 1 internal.
type Person struct {
	ID              int64
	Type            int
	FirstName       *string
	LastName        *string
	PrimaryEmail    *string
	Emails          []string
	OrganizationIDs []int64
	Interactions    *InteractionDates // nil = no interactions
}

// Organization is an organization record.
type Organization struct {
	ID             int64
	Name           string
	Domain         *string
	Domains        []string
	CrunchbaseUUID *string
	Global         bool
	PersonIDs      []int64
	Interactions   *InteractionDates // nil = no interactions
}

// Opportunity is an opportunity; it lives on exactly one opportunity list.
type Opportunity struct {
	ID              int64
	Name            string
	PersonIDs       []int64
	OrganizationIDs []int64
}

// List is a list of persons, organizations or opportunities (Type).
type List struct {
	ID        int64
	Type      loader.EntityKind
	Name      string
	Public    bool
	OwnerID   int64
	CreatorID int64
}

// ListEntry is a row of a list.
type ListEntry struct {
	ID         int64
	ListID     int64
	CreatorID  *int64
	EntityID   int64
	EntityType loader.EntityKind
	CreatedAt  time.Time
}

// DropdownOption is an option of a (ranked) dropdown field.
type DropdownOption struct {
	ID    int64
	Text  string
	Rank  int
	Color int
}

// Field is a global field (ListID nil) or a list field.
type Field struct {
	ID               int64
	Name             string
	ListID           *int64
	EntityType       loader.EntityKind
	ValueType        int
	AllowsMultiple   bool
	TrackChanges     bool
	EnrichmentSource string
	DropdownOptions  []DropdownOption
}

// FieldValue is one value of a cell; multi-value cells have one FieldValue per value.
type FieldValue struct {
	ID          int64
	FieldID     int64
	EntityID    int64
	EntityType  loader.EntityKind
	ListEntryID *int64
	Value       json.RawMessage // exactly what is served; "null" allowed
	CreatedAt   time.Time
	UpdatedAt   *time.Time
	OmitTypes   bool // leave entity_type/value_type out of the JSON, as some live items do
}

// FieldValueChange is one entry of a tracked field's history.
type FieldValueChange struct {
	ID          int64
	FieldID     int64
	EntityID    int64
	ListEntryID *int64
	ActionType  int
	ChangerID   *int64 // nil is served as "changer": null
	ChangedAt   time.Time
	Value       json.RawMessage
}

// Note types (notes.type).
const (
	NotePlain     = 0
	NoteEmail     = 1 // email-derived (legacy)
	NoteHTML      = 2
	NoteNotetaker = 3 // AI notetaker summary
)

// Note is a note. PersonIDs as served is the union of AssociatedPersonIDs and
// InteractionPersonIDs; a reply (ParentID set) has no persons, organizations or opportunities.
type Note struct {
	ID                   int64
	CreatorID            int64
	AssociatedPersonIDs  []int64
	InteractionPersonIDs []int64
	MentionedPersonIDs   []int64
	OrganizationIDs      []int64
	OpportunityIDs       []int64
	InteractionID        *int64
	InteractionType      *int
	IsMeeting            bool
	ParentID             *int64
	Content              *string // nil is served as null
	Type                 int
	CreatedAt            time.Time
	UpdatedAt            *time.Time // nil = never edited
}

// PersonIDs is the note's person_ids: associated and interaction persons, sorted, once each.
func (n *Note) PersonIDs() []int64 {
	out := slices.Concat(n.AssociatedPersonIDs, n.InteractionPersonIDs)
	slices.Sort(out)
	return slices.Compact(out)
}

type idSeq struct {
	person, org, opp, entry, value, change, note int64
	interaction, file, reminder                  int64
}

// Now is the workspace's clock, used for timestamps the mutation helpers record.
func (w *Workspace) Now() time.Time {
	if w.now != nil {
		return w.now()
	}
	return time.Now()
}

// SetClock replaces the clock used by the mutation helpers (nil restores time.Now).
func (w *Workspace) SetClock(now func() time.Time) { w.now = now }
