package affinity

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Value is the polymorphic `value` element of a field value or change, kept exactly as
// received. Its meaning depends on the field's value type; see [Value.Project].
type Value struct {
	Raw json.RawMessage
}

// UnmarshalJSON keeps a copy of the element as received (JSON null included).
func (v *Value) UnmarshalJSON(b []byte) error {
	v.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON writes the element back as received; an absent value is written as null.
func (v Value) MarshalJSON() ([]byte, error) {
	if len(v.Raw) == 0 {
		return []byte("null"), nil
	}
	return v.Raw, nil
}

// IsNull reports whether the value is absent or JSON null.
func (v Value) IsNull() bool {
	t := bytes.TrimSpace(v.Raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// Projection holds the typed columns derived from a value. At most the projections that fit
// the value type are set; all are nil for a null value, an unknown type or a value whose JSON
// shape does not fit its type.
type Projection struct {
	Text     *string
	Number   *string // exact decimal as sent, e.g. "2500000" or "12.5"
	Date     *time.Time
	EntityID *int64
	OptionID *int64
}

// Project derives the typed projections of the value for the given value type:
// Text for dropdown (2), text (6), filterable text (10), ranked dropdown (7, the option text)
// and location (5, the non-empty parts joined with ", " in the order street_address, city,
// state, country, continent; nil when none); Number for number (3); Date for date (4);
// EntityID for person (0) and organization (1); OptionID for ranked dropdown (7).
// It never fails: what does not fit projects to nothing.
func (v Value) Project(valueType ValueType) Projection {
	if v.IsNull() {
		return Projection{}
	}
	switch valueType {
	case ValueDropdown, ValueText, ValueFilterableText:
		var s string
		if json.Unmarshal(v.Raw, &s) != nil {
			return Projection{}
		}
		return Projection{Text: &s}
	case ValueRankedDropdown:
		var o struct {
			ID   *int64  `json:"id"`
			Text *string `json:"text"`
		}
		if !isObject(v.Raw) || json.Unmarshal(v.Raw, &o) != nil {
			return Projection{}
		}
		return Projection{Text: o.Text, OptionID: o.ID}
	case ValueLocation:
		var l struct {
			StreetAddress *string `json:"street_address"`
			City          *string `json:"city"`
			State         *string `json:"state"`
			Country       *string `json:"country"`
			Continent     *string `json:"continent"`
		}
		if !isObject(v.Raw) || json.Unmarshal(v.Raw, &l) != nil {
			return Projection{}
		}
		var parts []string
		for _, p := range []*string{l.StreetAddress, l.City, l.State, l.Country, l.Continent} {
			if p != nil && *p != "" {
				parts = append(parts, *p)
			}
		}
		if len(parts) == 0 {
			return Projection{}
		}
		s := strings.Join(parts, ", ")
		return Projection{Text: &s}
	case ValueNumber:
		n, ok := v.number()
		if !ok {
			return Projection{}
		}
		s := n.String()
		return Projection{Number: &s}
	case ValueDate:
		var s string
		if json.Unmarshal(v.Raw, &s) != nil {
			return Projection{}
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Projection{}
		}
		return Projection{Date: &t}
	case ValuePerson, ValueOrganization:
		n, ok := v.number()
		if !ok {
			return Projection{}
		}
		id, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return Projection{}
		}
		return Projection{EntityID: &id}
	default:
		return Projection{}
	}
}

// number returns the value as an exact JSON number, or false when it is not a number.
func (v Value) number() (json.Number, bool) {
	dec := json.NewDecoder(bytes.NewReader(v.Raw))
	dec.UseNumber()
	var x any
	if dec.Decode(&x) != nil {
		return "", false
	}
	n, ok := x.(json.Number)
	return n, ok
}

func isObject(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}
