package affinity

import (
	"encoding/json"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// The entity and list type codes of the v1 API (lists.type, list_entries.entity_type,
// fields.entity_type, field_values.entity_type) decode into loader.EntityKind. Other codes may
// appear and are kept as they are (EntityKind.Valid is then false).

// ValueType is a field value type code of the v1 API (fields.value_type,
// field_values.value_type).
type ValueType int

// Field value type codes of the v1 API. ValueFilterableText is undocumented but seen in
// practice; any other code is kept as received and projects to nothing.
const (
	ValuePerson         ValueType = 0
	ValueOrganization   ValueType = 1
	ValueDropdown       ValueType = 2
	ValueNumber         ValueType = 3
	ValueDate           ValueType = 4
	ValueLocation       ValueType = 5
	ValueText           ValueType = 6
	ValueRankedDropdown ValueType = 7
	ValueFilterableText ValueType = 10
)

// Action is the action type code of a field value change.
type Action int

// Action type codes of a field value change.
const (
	ActionCreate Action = 0
	ActionDelete Action = 1
	ActionUpdate Action = 2
)

// InteractionDates are the interaction summary dates returned with
// with_interaction_dates=true. Each is nil when Affinity reports none.
type InteractionDates struct {
	FirstEmailDate      *time.Time `json:"first_email_date"`
	LastEmailDate       *time.Time `json:"last_email_date"`
	FirstEventDate      *time.Time `json:"first_event_date"`
	LastEventDate       *time.Time `json:"last_event_date"`
	NextEventDate       *time.Time `json:"next_event_date"`
	LastChatMessageDate *time.Time `json:"last_chat_message_date"`
	LastInteractionDate *time.Time `json:"last_interaction_date"`
}

// ListEntryRef is a list entry embedded in a person, organization or opportunity (no entity).
type ListEntryRef struct {
	ID         int64              `json:"id"`
	ListID     int64              `json:"list_id"`
	CreatorID  *int64             `json:"creator_id"`
	EntityID   int64              `json:"entity_id"`
	EntityType *loader.EntityKind `json:"entity_type"`
	CreatedAt  time.Time          `json:"created_at"`
}

// Person is a v1 person. OrganizationIDs and ListEntries are only filled by the single GET.
type Person struct {
	ID                     int64             `json:"id"`
	Type                   int               `json:"type"`
	FirstName              *string           `json:"first_name"`
	LastName               *string           `json:"last_name"`
	PrimaryEmail           *string           `json:"primary_email"`
	Emails                 []string          `json:"emails"`
	OrganizationIDs        []int64           `json:"organization_ids"`
	OpportunityIDs         []int64           `json:"opportunity_ids"`
	CurrentOrganizationIDs []int64           `json:"current_organization_ids"`
	ListEntries            []ListEntryRef    `json:"list_entries"`
	InteractionDates       *InteractionDates `json:"interaction_dates"`
}

// Organization is a v1 organization. PersonIDs and ListEntries are certain only on the
// single GET.
type Organization struct {
	ID               int64             `json:"id"`
	Name             string            `json:"name"`
	Domain           *string           `json:"domain"`
	Domains          []string          `json:"domains"`
	CrunchbaseUUID   *string           `json:"crunchbase_uuid"`
	Global           bool              `json:"global"`
	PersonIDs        []int64           `json:"person_ids"`
	OpportunityIDs   []int64           `json:"opportunity_ids"`
	ListEntries      []ListEntryRef    `json:"list_entries"`
	InteractionDates *InteractionDates `json:"interaction_dates"`
}

// Opportunity is a v1 opportunity; it has at most one list entry.
type Opportunity struct {
	ID              int64          `json:"id"`
	Name            string         `json:"name"`
	PersonIDs       []int64        `json:"person_ids"`
	OrganizationIDs []int64        `json:"organization_ids"`
	ListEntries     []ListEntryRef `json:"list_entries"`
}

// DropdownOption is an option of a (ranked) dropdown field.
type DropdownOption struct {
	ID    int64  `json:"id"`
	Text  string `json:"text"`
	Rank  *int   `json:"rank"`
	Color *int   `json:"color"`
}

// Field is a global (ListID nil) or list-specific field.
type Field struct {
	ID               int64              `json:"id"`
	Name             string             `json:"name"`
	ListID           *int64             `json:"list_id"`
	EntityType       *loader.EntityKind `json:"entity_type"`
	EnrichmentSource *string            `json:"enrichment_source"`
	ValueType        ValueType          `json:"value_type"`
	AllowsMultiple   bool               `json:"allows_multiple"`
	TrackChanges     bool               `json:"track_changes"`
	DropdownOptions  []DropdownOption   `json:"dropdown_options"`
}

// List is a v1 list; Type is the kind of entity it holds. Fields is only filled by the single
// GET.
type List struct {
	ID        int64             `json:"id"`
	Type      loader.EntityKind `json:"type"`
	Name      string            `json:"name"`
	Public    bool              `json:"public"`
	OwnerID   *int64            `json:"owner_id"`
	CreatorID *int64            `json:"creator_id"`
	ListSize  *int64            `json:"list_size"`
	Fields    []Field           `json:"fields"`
}

// ListEntry is a row of a list, with its embedded entity kept as received.
type ListEntry struct {
	ID         int64              `json:"id"`
	ListID     int64              `json:"list_id"`
	CreatorID  *int64             `json:"creator_id"`
	EntityID   int64              `json:"entity_id"`
	EntityType *loader.EntityKind `json:"entity_type"`
	CreatedAt  time.Time          `json:"created_at"`
	Entity     json.RawMessage    `json:"entity"`
}

// FieldValue is one value of one field on one entity (or list entry). A multi-valued field
// has one FieldValue per value. EntityType and ValueType are sent on some items only.
type FieldValue struct {
	ID          int64              `json:"id"`
	FieldID     int64              `json:"field_id"`
	EntityID    int64              `json:"entity_id"`
	ListEntryID *int64             `json:"list_entry_id"`
	EntityType  *loader.EntityKind `json:"entity_type"`
	ValueType   *ValueType         `json:"value_type"`
	Value       Value              `json:"value"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   *time.Time         `json:"updated_at"`
}

// Changer is the person who made a field value change.
type Changer struct {
	ID           int64   `json:"id"`
	Type         *int    `json:"type"`
	FirstName    *string `json:"first_name"`
	LastName     *string `json:"last_name"`
	PrimaryEmail *string `json:"primary_email"`
}

// FieldValueChange is one entry of a field's change history. For a delete, Value is the old
// value; otherwise the new one.
type FieldValueChange struct {
	ID          int64     `json:"id"`
	FieldID     int64     `json:"field_id"`
	EntityID    int64     `json:"entity_id"`
	ListEntryID *int64    `json:"list_entry_id"`
	ActionType  Action    `json:"action_type"`
	Changer     *Changer  `json:"changer"`
	ChangedAt   time.Time `json:"changed_at"`
	Value       Value     `json:"value"`
}

// Quota is one window of GET /rate-limit: Limit and Remaining may be "unlimited"; Reset is
// in seconds.
type Quota struct {
	Limit     Count `json:"limit"`
	Remaining Count `json:"remaining"`
	Reset     int64 `json:"reset"`
	Used      int64 `json:"used"`
}

// RateLimit is the answer of GET /rate-limit.
type RateLimit struct {
	OrgMonthly      Quota `json:"org_monthly"`
	APIKeyPerMinute Quota `json:"api_key_per_minute"`
}

// WhoAmI is the answer of GET /auth/whoami. Its JSON keys are camelCase (firstName,
// createdAt); encoding/json matches them to these field names case-insensitively.
type WhoAmI struct {
	Tenant struct {
		ID              int64
		Name, Subdomain string
	}
	User struct {
		ID                         int64
		FirstName, LastName, Email string
	}
	Grant struct {
		Type, Scope string
		CreatedAt   *time.Time
	}
}

// Note is a v1 note (GET /notes).
type Note struct {
	ID                   int64      `json:"id"`
	CreatorID            int64      `json:"creator_id"`
	PersonIDs            []int64    `json:"person_ids"`
	AssociatedPersonIDs  []int64    `json:"associated_person_ids"`
	InteractionPersonIDs []int64    `json:"interaction_person_ids"`
	MentionedPersonIDs   []int64    `json:"mentioned_person_ids"`
	OrganizationIDs      []int64    `json:"organization_ids"`
	OpportunityIDs       []int64    `json:"opportunity_ids"`
	InteractionID        *int64     `json:"interaction_id"`
	InteractionType      *int       `json:"interaction_type"`
	IsMeeting            bool       `json:"is_meeting"`
	ParentID             *int64     `json:"parent_id"`
	Content              *string    `json:"content"`
	Type                 int        `json:"type"`
	CreatedAt            time.Time  `json:"created_at"`
	UpdatedAt            *time.Time `json:"updated_at"`
}
