package affinitytest

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The change feed's filter language, as far as the fake understands it: changedAt with > >= < <=,
// field.id, listEntry.id, changer.id and actionType with =, terms joined by &.

// timeBound is one changedAt condition.
type timeBound struct {
	op string // > >= < <=
	at time.Time
}

// changeFilter is a parsed filter: every condition must hold.
type changeFilter struct {
	times    []timeBound
	fieldIDs []string
	entries  []int64
	changers []int64
	actions  []int
}

// splitFilter splits a filter into its terms at each & outside double quotes; | and
// parentheses (outside quotes) are refused. Backslash escapes are kept for parseTerm.
func splitFilter(s string) ([]string, *apiError) {
	var terms []string
	var b strings.Builder
	quoted, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			b.WriteRune('\\')
			b.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
			b.WriteRune(r)
		case quoted:
			b.WriteRune(r)
		case r == '&':
			terms = append(terms, b.String())
			b.Reset()
		case r == '|':
			return nil, v2Validation("filter", "filter: | (or) is not supported by the fake; combine conditions with &")
		case r == '(' || r == ')':
			return nil, v2Validation("filter", "filter: parentheses are not supported by the fake")
		default:
			b.WriteRune(r)
		}
	}
	if escaped || quoted {
		return nil, v2Validation("filter", "filter: unterminated quote or escape")
	}
	return append(terms, b.String()), nil
}

// filterOps are the operators of the filter language, longest first.
var filterOps = []string{">=", "<=", "!=", "=^", "=$", "=~", "=*", ">", "<", "=", "!"}

// unescapeValue reads a term's value: double-quoted or bare, with backslash escapes.
func unescapeValue(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	var b strings.Builder
	escaped := false
	for _, r := range v {
		if r == '\\' && !escaped {
			escaped = true
			continue
		}
		escaped = false
		b.WriteRune(r)
	}
	return b.String()
}

func parseChangeFilter(s string) (changeFilter, *apiError) {
	var f changeFilter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	terms, aerr := splitFilter(s)
	if aerr != nil {
		return f, aerr
	}
	bad := func(format string, a ...any) (changeFilter, *apiError) {
		return changeFilter{}, v2Validation("filter", "filter: "+fmt.Sprintf(format, a...))
	}
	for _, term := range terms {
		term = strings.TrimSpace(term)
		end := strings.IndexFunc(term, func(r rune) bool {
			return !(r == '.' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'))
		})
		if end <= 0 {
			return bad("%q is not a condition (property, operator, value)", term)
		}
		prop, rest := term[:end], strings.TrimSpace(term[end:])
		i := slices.IndexFunc(filterOps, func(op string) bool { return strings.HasPrefix(rest, op) })
		if i < 0 {
			return bad("%q has no operator", term)
		}
		op := filterOps[i]
		raw := strings.TrimSpace(rest[len(op):])
		if raw == "" {
			return bad("%q has no value", term)
		}
		value := unescapeValue(raw)
		wantEq := func() *apiError {
			if op != "=" {
				return v2Validation("filter", fmt.Sprintf("filter: %s takes only =, not %s", prop, op))
			}
			return nil
		}
		switch prop {
		case "changedAt":
			if op != ">" && op != ">=" && op != "<" && op != "<=" {
				return bad("changedAt takes >, >=, < or <=, not %s", op)
			}
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return bad("changedAt value %q is not an RFC 3339 time", value)
			}
			f.times = append(f.times, timeBound{op: op, at: t})
		case "field.id":
			if err := wantEq(); err != nil {
				return changeFilter{}, err
			}
			f.fieldIDs = append(f.fieldIDs, value)
		case "listEntry.id", "changer.id":
			if err := wantEq(); err != nil {
				return changeFilter{}, err
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return bad("%s value %q is not an integer", prop, value)
			}
			if prop == "changer.id" {
				f.changers = append(f.changers, n)
			} else {
				f.entries = append(f.entries, n)
			}
		case "actionType":
			if err := wantEq(); err != nil {
				return changeFilter{}, err
			}
			a, ok := map[string]int{"add": ActionCreate, "delete": ActionDelete, "update": ActionUpdate}[value]
			if !ok {
				return bad("actionType value %q: want add, update or delete", value)
			}
			f.actions = append(f.actions, a)
		default:
			return bad("unknown property %q (the feed filters on changedAt, field.id, listEntry.id, changer.id, actionType)", prop)
		}
	}
	return f, nil
}

// bounds narrows [0, len(all)) (all in feed order) to the changes within the changedAt
// conditions.
func (f changeFilter) bounds(all []*FieldValueChange) (lo, hi int) {
	hi = len(all)
	first := func(pred func(time.Time) bool) int {
		return sort.Search(len(all), func(i int) bool { return pred(changeTime(all[i])) })
	}
	for _, b := range f.times {
		switch b.op {
		case ">":
			lo = max(lo, first(func(t time.Time) bool { return t.After(b.at) }))
		case ">=":
			lo = max(lo, first(func(t time.Time) bool { return !t.Before(b.at) }))
		case "<":
			hi = min(hi, first(func(t time.Time) bool { return !t.Before(b.at) }))
		case "<=":
			hi = min(hi, first(func(t time.Time) bool { return t.After(b.at) }))
		}
	}
	return lo, max(lo, hi)
}

// match reports whether a change within the time bounds passes the other conditions.
func (f changeFilter) match(x *index, c *FieldValueChange) bool {
	fd := x.fields[c.FieldID]
	if fd == nil || !fd.TrackChanges {
		return false
	}
	for _, id := range f.fieldIDs {
		if id != V2FieldID(fd) {
			return false
		}
	}
	for _, id := range f.entries {
		if c.ListEntryID == nil || *c.ListEntryID != id {
			return false
		}
	}
	for _, id := range f.changers {
		if c.ChangerID == nil || *c.ChangerID != id {
			return false
		}
	}
	for _, a := range f.actions {
		if c.ActionType != a {
			return false
		}
	}
	return true
}

// ---- the endpoint ----
