package affinitytest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DisagreeV1Value is the v1 value a feed record is served as under V2ChangesDisagree, in
// place of v1's value v of field f: a different v1 value of the same type, so that a client
// mapping the record back to v1 sees a difference. A null v1 value counts as the type's zero
// (0, id 0, the Unix epoch, an empty location, no option, "") before it is altered:
//
//   - number: plus 1;
//   - person, organization: the id plus 1 (served as that person's or company's data, with
//     null names when no such record exists);
//   - date: one hour later;
//   - location: the city with V2DisagreeSuffix appended (a null city becomes "(v2)");
//   - ranked dropdown: the field's next option in its option order, wrapping around (the
//     first option when the value is none of them; the same option with id plus 1 when the
//     field has only that one);
//   - dropdown: the next option's text likewise; text and other types: V2DisagreeSuffix
//     appended to the text.
func DisagreeV1Value(f *Field, v json.RawMessage) json.RawMessage {
	null := isJSONNull(v)
	switch f.ValueType {
	case ValuePerson, ValueOrganization:
		var id int64
		if !null {
			_ = json.Unmarshal(v, &id)
		}
		return strconv.AppendInt(nil, id+1, 10)
	case ValueNumber:
		s := strings.TrimSpace(string(v))
		if null {
			s = "0"
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.AppendInt(nil, n+1, 10)
		}
		x, _ := strconv.ParseFloat(s, 64)
		return strconv.AppendFloat(nil, x+1, 'f', -1, 64)
	case ValueDate:
		t := time.Unix(0, 0).UTC()
		var s string
		if !null && json.Unmarshal(v, &s) == nil {
			if p, err := time.Parse(time.RFC3339Nano, s); err == nil {
				t = p
			}
		}
		return jsonTime(t.Add(time.Hour))
	case ValueLocation:
		var l location
		if !null {
			_ = json.Unmarshal(v, &l)
		}
		city := ""
		if l.City != nil {
			city = *l.City
		}
		l.City = str(strings.TrimSpace(city + V2DisagreeSuffix))
		b, _ := json.Marshal(l)
		return b
	case ValueRankedDropdown:
		var rv rankedValue
		if !null {
			_ = json.Unmarshal(v, &rv)
		}
		opts := f.DropdownOptions
		i := slices.IndexFunc(opts, func(o DropdownOption) bool { return o.ID == rv.ID })
		switch {
		case len(opts) == 0 || (len(opts) == 1 && i == 0):
			rv.ID++
			return mustJSON(rv)
		case i < 0:
			return rankedJSON(opts[0])
		}
		return rankedJSON(opts[(i+1)%len(opts)])
	case ValueDropdown:
		var text string
		if !null {
			_ = json.Unmarshal(v, &text)
		}
		opts := f.DropdownOptions
		i := slices.IndexFunc(opts, func(o DropdownOption) bool { return o.Text == text })
		if len(opts) > 1 || (len(opts) == 1 && i < 0) {
			return jsonString(opts[(i+1)%len(opts)].Text)
		}
		return jsonString(text + V2DisagreeSuffix)
	}
	var text string
	if !null {
		_ = json.Unmarshal(v, &text)
	}
	return jsonString(text + V2DisagreeSuffix)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("affinitytest: marshal %T: %v", v, err))
	}
	return b
}
