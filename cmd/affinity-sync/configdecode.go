package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// configProblems is every mistake found in a config file, each one a line
// that names its place ("line 4: quota.daily_requests: ...").
type configProblems []string

func (p configProblems) Error() string { return strings.Join(p, "; ") }

// parseConfig decodes YAML into cfg. It walks the document node by node, so
// that every mistake names its line, the key's full path and what the key
// accepts: unknown keys (with the closest known key), values of the wrong
// type, values outside a fixed set, repeated keys and second documents.
func parseConfig(data []byte, cfg *Config) error {
	_, err := decodeConfig(data, cfg)
	return err
}

// decodeConfig is parseConfig that also returns the line of every key it set,
// by path ("quota.reserve"), for the checks that come after.
func decodeConfig(data []byte, cfg *Config) (map[string]int, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]int{}, nil
		}
		return nil, configProblems{yamlSyntax(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, configProblems{yamlSyntax(err)}
		}
		return nil, configProblems{fmt.Sprintf("line %d: more than one YAML document: put every setting in one", line)}
	}
	d := configDecoder{lines: map[string]int{}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.section(root, "", reflect.ValueOf(cfg).Elem())
	if len(d.problems) > 0 {
		return d.lines, d.problems
	}
	return d.lines, nil
}

// byLine orders problems by the line they name; those naming none go last.
func byLine(problems []string) []string {
	lineOf := func(p string) int {
		var n int
		if _, err := fmt.Sscanf(p, "line %d:", &n); err != nil {
			return math.MaxInt
		}
		return n
	}
	slices.SortStableFunc(problems, func(a, b string) int { return cmp.Compare(lineOf(a), lineOf(b)) })
	return problems
}

// yamlSyntax turns the YAML library's parse error into "line N: what".
func yamlSyntax(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

type configDecoder struct {
	problems configProblems
	lines    map[string]int
}

func (d *configDecoder) bad(n *yaml.Node, format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf("line %d: ", n.Line)+fmt.Sprintf(format, args...))
}

// yamlKeys returns the YAML keys of a struct type and the field index of each.
func yamlKeys(t reflect.Type) ([]string, map[string]int) {
	var keys []string
	index := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		keys = append(keys, name)
		index[name] = i
	}
	return keys, index
}

// section decodes a mapping into the struct v (the whole config, or one of
// its sections such as quota). An empty section ("quota:" alone) sets nothing.
func (d *configDecoder) section(n *yaml.Node, path string, v reflect.Value) {
	n = resolveAlias(n)
	if isNull(n) {
		return
	}
	keys, index := yamlKeys(v.Type())
	if n.Kind != yaml.MappingNode {
		what := "the config"
		if path != "" {
			what = path
		}
		d.bad(n, "%s must be a mapping of keys (%s), got %s", what, strings.Join(keys, ", "), describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		full := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.bad(k, "%s: a key must be a plain name, got %s", orRoot(path), describe(k))
			continue
		}
		if first, ok := seen[k.Value]; ok {
			d.bad(k, "key %s appears twice (first on line %d): keep one", full, first)
			continue
		}
		seen[k.Value] = k.Line
		fi, ok := index[k.Value]
		if !ok {
			d.bad(k, "unknown key %s (%s)", full, suggest(k.Value, keys))
			continue
		}
		d.lines[full] = k.Line
		field := v.Type().Field(fi)
		d.value(val, full, v.Field(fi), field.Tag.Get("oneof"))
	}
}

// value decodes one setting into v, by v's type.
func (d *configDecoder) value(n *yaml.Node, path string, v reflect.Value, oneof string) {
	n = resolveAlias(n)
	switch {
	case v.Kind() == reflect.Struct:
		d.section(n, path, v)
		return
	case v.Kind() == reflect.Slice:
		d.list(n, path, v)
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.bad(n, "%s: expected one value, got %s", path, describe(n))
		return
	}
	if isNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	before := reflect.ValueOf(v.Interface())
	if err := setScalar(n, v); err != nil {
		d.bad(n, "%s: %s", path, err.Error())
		return
	}
	if oneof != "" {
		allowed := strings.Split(oneof, ",")
		if !slices.Contains(allowed, v.String()) {
			d.bad(n, "%s: %q is not one of %s", path, n.Value, listChoices(allowed))
			v.Set(before) // said once, here, not again by the range checks
		}
	}
}

// list decodes a sequence of plain values ([a, b], or one "- item" a line).
func (d *configDecoder) list(n *yaml.Node, path string, v reflect.Value) {
	if isNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.bad(n, "%s: expected a list such as [a, b], got %s", path, describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	ok := true
	for i, item := range n.Content {
		item = resolveAlias(item)
		at := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			d.bad(item, "%s: expected one value, got %s", at, describe(item))
			ok = false
			continue
		}
		if err := setScalar(item, out.Index(i)); err != nil {
			d.bad(item, "%s: %s", at, err.Error())
			ok = false
		}
	}
	if ok { // a broken list is said once, here, not again by the range checks
		v.Set(out)
	}
}

// setScalar parses the scalar n into v by v's type. A number or boolean may
// be quoted ("10" is read as 10).
func setScalar(n *yaml.Node, v reflect.Value) error {
	plain := *n
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		plain.Style, plain.Tag = 0, ""
	}
	quoted := strconv.Quote(n.Value)
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			return fmt.Errorf("%s is not a duration (such as 90s, 45m, 20h or 1h30m)", quoted)
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(n.Value)
	case v.Kind() == reflect.Bool:
		var b bool
		if err := plain.Decode(&b); err != nil {
			return fmt.Errorf("%s is not true or false", quoted)
		}
		v.SetBool(b)
	case v.CanInt():
		var i int64
		// The YAML library would truncate 1.5 to 1: only integers pass.
		if plain.ShortTag() != "!!int" || plain.Decode(&i) != nil || v.OverflowInt(i) {
			return fmt.Errorf("%s is not a whole number", quoted)
		}
		v.SetInt(i)
	case v.CanFloat():
		var f float64
		if err := plain.Decode(&f); err != nil {
			return fmt.Errorf("%s is not a number", quoted)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("no reader for %s values", v.Type())
	}
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node is, for "expected X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping of keys"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "the config"
	}
	return path
}

// listChoices spells allowed values for a message: "a, b or c"; the empty
// value shows as "" (unset).
func listChoices(allowed []string) string {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = a
		if a == "" {
			q[i] = `"" (unset)`
		}
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// suggest says which known key an unknown one probably meant ("did you mean
// daily_requests?"), or lists the keys accepted there when none is close.
func suggest(unknown string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		if dist := editDistance(unknown, k); bestDist < 0 || dist < bestDist {
			best, bestDist = k, dist
		}
	}
	// Close means a slip of a few characters, not a different word.
	if best != "" && bestDist <= max(2, len(best)/3) && bestDist < len(unknown) {
		return "did you mean " + best + "?"
	}
	return "accepted here: " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance between a and b, over bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
