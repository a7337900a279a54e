package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kmsguard/kmsguard/functions/catalog"
)

// Problem is one thing wrong in a configuration: the field, where it is in
// the file, and what was found and is expected.
type Problem struct {
	// Path names the field as in regions[1] or
	// guardrails.key-rotation.rotation_period_days; empty for the file as a
	// whole (a syntax error).
	Path string
	// Line is the field's line in the file; 0 when the field is missing or
	// the line is not known (a Config built in code).
	Line int
	// Message says what is wrong and what is expected: the value found and
	// the fix.
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error is every problem found in a configuration, in file order.
type Error struct {
	// File is the configuration file's name, when it was read from one.
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	n := fmt.Sprintf("%d problems", len(e.Problems))
	if len(e.Problems) == 1 {
		n = "1 problem"
	}
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s has %s:", e.File, n)
	} else {
		fmt.Fprintf(&b, "kmsguard configuration has %s:", n)
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		switch {
		case p.Line > 0 && e.File != "":
			fmt.Fprintf(&b, "%s:%d: ", e.File, p.Line)
		case p.Line > 0:
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Decode decodes YAML or JSON into v, a pointer to a struct with json tags,
// the way Parse decodes kmsguard.yaml: every unknown field, value of the
// wrong type and duplicate key is reported at once, as an *Error with paths
// and lines; guardrail settings under a top-level guardrails mapping are
// checked against their specs. It does not validate values: the runtime
// configuration (runconfig.RuntimeConfig) decoded here is then validated by
// its own parser.
func Decode(b []byte, v any) error {
	d := decode(b, v)
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return &Error{Problems: d.problems}
	}
	return nil
}

// decode reads YAML (or JSON) into c. It walks the document against the
// Config struct rather than handing it to a decoder, so that every unknown
// field (with the known field it resembles), every value of the wrong type
// and every duplicate key is reported at once, by field path and line, in
// words rather than the decoder's. Values with problems are left out, so
// the rest can still be validated. The decoder's lines map each field path
// present in the file to its line.
func decode(b []byte, c any) *decoder {
	d := &decoder{lines: map[string]int{}}
	root, err := parseDocument(b)
	if err != nil {
		d.problems = []Problem{syntaxProblem(err, bytes.Count(bytes.TrimRight(b, "\n"), []byte("\n"))+1)}
		d.dropped = []string{""}
		return d
	}
	v, _ := d.value(root, reflect.TypeOf(c).Elem(), "")
	if m, ok := v.(map[string]any); ok {
		raw, err := json.Marshal(m)
		if err == nil {
			err = json.Unmarshal(raw, c)
		}
		if err != nil { // the walk shapes values after c: not expected
			d.problems = append(d.problems, Problem{Message: "cannot be decoded: " + err.Error()})
		}
	}
	return d
}

// parseDocument returns the document's top node: a mapping (empty for an
// empty file), or whatever the file holds instead.
func parseDocument(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	err := yaml.Unmarshal(b, &doc)
	if err != nil {
		// Valid JSON that YAML refuses (an escaped \/, a tab where YAML
		// counts indentation) is still a valid configuration.
		if n, jerr := jsonNode(b); jerr == nil {
			return n, nil
		}
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1}, nil
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?`)

func syntaxProblem(err error, lines int) Problem {
	msg := err.Error()
	p := Problem{}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	// The YAML parser (not its scanner) counts lines from 0; it points at
	// the start of the list or mapping it could not finish, or where it
	// gave up (the end of the file for an unclosed one).
	if strings.HasPrefix(msg, "did not find expected") || strings.HasPrefix(msg, "found duplicate %") ||
		strings.HasPrefix(msg, "found incompatible YAML") || strings.HasPrefix(msg, "found undefined tag") {
		p.Line++
	}
	p.Line = min(p.Line, lines)
	p.Message = "not valid YAML or JSON: " + msg
	return p
}

type decoder struct {
	problems []Problem
	lines    map[string]int
	// dropped are the paths whose values were left out.
	dropped []string
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// add records a problem at the line of path's key (where the reader looks),
// else at node n's line.
func (d *decoder) add(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	if l, ok := d.lines[path]; ok {
		line = l
	}
	d.addAt(path, line, format, args...)
}

func (d *decoder) addAt(path string, line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

// value converts node n to the JSON value type t decodes from; ok is false
// when n does not fit t (the problem is recorded).
func (d *decoder) value(n *yaml.Node, t reflect.Type, path string) (v any, ok bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return d.any(n, path), true
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.wrongType(n, t, path)
			return nil, false
		}
		fields := jsonFields(t)
		out := map[string]any{}
		d.pairs(n, path, func(key string, k, val *yaml.Node, p string) {
			ft, known := fields[key]
			if !known {
				d.unknownField(p, k, key, fields)
				return
			}
			if x, ok := d.value(val, ft, p); ok {
				out[key] = x
			}
		})
		return out, true
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.wrongType(n, t, path)
			return nil, false
		}
		out := map[string]any{}
		d.pairs(n, path, func(key string, k, val *yaml.Node, p string) {
			et := t.Elem()
			if path == "guardrails" && et == rawMessageType {
				// Each guardrail's settings have its spec's type.
				st, known := settingsType(key)
				if !known {
					d.add(p, k, "unknown guardrail%s; known: %s", didYouMean(key, catalog.IDs(), " (did you mean %s?)"), strings.Join(catalog.IDs(), ", "))
					return
				}
				et = st
			}
			if x, ok := d.value(val, et, p); ok {
				out[key] = x
			}
		})
		return out, true
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			d.wrongType(n, t, path)
			return nil, false
		}
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = e.Line
			x, ok := d.value(e, t.Elem(), p)
			if !ok {
				x = nil // keep the indexes of the file
			}
			out = append(out, x)
		}
		return out, true
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.wrongType(n, t, path)
			return nil, false
		}
		if lostZero(n) {
			d.add(path, n, "%s is read as a number, which loses its leading zero; quote it: %q", n.Value, n.Value)
			d.dropped = append(d.dropped, path)
			return nil, false
		}
		return n.Value, true
	case reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
			var b bool
			if err := n.Decode(&b); err == nil {
				return b, true
			}
		}
		// YAML 1.1's unquoted yes/no/on/off, which the previous decoder
		// accepted.
		if n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			switch strings.ToLower(n.Value) {
			case "yes", "on":
				return true, true
			case "no", "off":
				return false, true
			}
		}
		d.wrongType(n, t, path)
		return nil, false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
			var i int64
			if err := n.Decode(&i); err == nil && !reflect.Zero(t).OverflowInt(i) {
				return i, true
			}
		}
		d.wrongType(n, t, path)
		return nil, false
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
			var i uint64
			if err := n.Decode(&i); err == nil && !reflect.Zero(t).OverflowUint(i) {
				return i, true
			}
		}
		d.wrongType(n, t, path)
		return nil, false
	case reflect.Float32, reflect.Float64:
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
			var f float64
			if err := n.Decode(&f); err == nil {
				return f, true
			}
		}
		d.wrongType(n, t, path)
		return nil, false
	}
	d.add(path, n, "cannot be read into %s", t)
	return nil, false
}

// pairs calls fn for each key of mapping n, following YAML merge keys and
// reporting keys that are not plain names and keys given twice.
func (d *decoder) pairs(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node, p string)) {
	seen := map[string]int{}
	var walk func(m *yaml.Node, merged bool)
	walk = func(m *yaml.Node, merged bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := deref(m.Content[i]), m.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				for _, src := range mergeSources(v) {
					walk(src, true)
				}
				continue
			}
			p := joinPath(path, k.Value)
			if k.Kind != yaml.ScalarNode {
				d.add(joinPath(path, "?"), k, "a key must be a plain name, not a list or mapping")
				continue
			}
			if first, dup := seen[k.Value]; dup {
				if !merged {
					d.addAt(p, k.Line, "given twice (first at line %d); keep one", first)
				}
				continue
			}
			seen[k.Value] = k.Line
			d.lines[p] = k.Line
			if lostZero(k) {
				d.add(p, k, "the key %s is read as a number, which loses its leading zero; quote it: %q", k.Value, k.Value)
				d.dropped = append(d.dropped, p)
				continue
			}
			fn(k.Value, k, v, p)
		}
	}
	// Explicit keys win over merged ones: walk them first.
	explicit := &yaml.Node{Kind: yaml.MappingNode}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, n.Content[i], n.Content[i+1])
			continue
		}
		explicit.Content = append(explicit.Content, n.Content[i], n.Content[i+1])
	}
	walk(explicit, false)
	walk(&yaml.Node{Kind: yaml.MappingNode, Content: merges}, true)
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	v = deref(v)
	if v.Kind == yaml.SequenceNode {
		var out []*yaml.Node
		for _, e := range v.Content {
			if e = deref(e); e.Kind == yaml.MappingNode {
				out = append(out, e)
			}
		}
		return out
	}
	if v.Kind == yaml.MappingNode {
		return []*yaml.Node{v}
	}
	return nil
}

// any converts a node whose shape the Config does not fix, recording the
// lines of everything under it.
func (d *decoder) any(n *yaml.Node, path string) any {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		d.pairs(n, path, func(key string, _, v *yaml.Node, p string) { out[key] = d.any(v, p) })
		return out
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = e.Line
			out = append(out, d.any(e, p))
		}
		return out
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return n.Value
	}
	return v
}

func (d *decoder) wrongType(n *yaml.Node, t reflect.Type, path string) {
	d.dropped = append(d.dropped, path)
	found := describeNode(n)
	want := describeType(t)
	hint := ""
	switch {
	case n.Kind == yaml.ScalarNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		hint = fmt.Sprintf(", for example [%s]", n.Value)
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str" && isNumberKind(t.Kind()):
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
			hint = " (write it without quotes)"
		}
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str" && t.Kind() == reflect.Bool:
		if _, err := strconv.ParseBool(n.Value); err == nil {
			hint = " (write it without quotes)"
		}
	}
	if path == "" {
		d.dropped = []string{""} // nothing to validate
		d.add(path, n, "the configuration must be %s; found %s", want, found)
		return
	}
	d.add(path, n, "found %s; expected %s%s", found, want, hint)
}

func (d *decoder) unknownField(path string, k *yaml.Node, key string, fields map[string]reflect.Type) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	if s := didYouMean(key, names, "; did you mean %s?"); s != "" {
		d.add(path, k, "unknown field%s", s)
		return
	}
	d.add(path, k, "unknown field; the fields here are %s", strings.Join(names, ", "))
}

// didYouMean names the known name closest to s in format, when one is
// close enough to be a typo; else it is "".
func didYouMean(s string, known []string, format string) string {
	best, bestDist := "", -1
	for _, k := range known {
		dist := editDistance(strings.ToLower(s), strings.ToLower(k))
		if bestDist < 0 || dist < bestDist {
			best, bestDist = k, dist
		}
	}
	limit := max(2, len(s)/3)
	if best == "" || bestDist > limit {
		// A prefix (region for regions, email for emails) is close too.
		for _, k := range known {
			if len(s) >= 3 && (strings.HasPrefix(k, s) || strings.HasPrefix(s, k)) {
				return fmt.Sprintf(format, k)
			}
		}
		return ""
	}
	return fmt.Sprintf(format, best)
}

// editDistance is the Levenshtein distance between a and b.
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

// lostZero: an unquoted 012345678901 is a number to YAML, and a number has
// no leading zero.
func lostZero(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") && leadingZeroRE.MatchString(n.Value)
}

var leadingZeroRE = regexp.MustCompile(`^[-+]?0[0-9]+$`)

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	}
	return fmt.Sprintf("the value %q", n.Value)
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		e := describeType(t.Elem())
		e = strings.TrimPrefix(strings.TrimPrefix(e, "a "), "an ")
		return "a list of " + plural(e)
	case reflect.Map:
		return "a mapping of names to " + plural(strings.TrimPrefix(describeType(t.Elem()), "a "))
	case reflect.Struct:
		names := make([]string, 0)
		for name := range jsonFields(t) {
			names = append(names, name)
		}
		sort.Strings(names)
		if len(names) == 1 {
			return "a mapping with the field " + names[0]
		}
		return "a mapping with the fields " + strings.Join(names, ", ")
	}
	return t.String()
}

func plural(s string) string {
	head, tail, found := strings.Cut(s, " ")
	if !found {
		return s + "s"
	}
	if head == "true" { // "true or false"
		return "booleans"
	}
	if head == "mapping" {
		return "mappings " + tail
	}
	return head + "s " + tail
}

func isNumberKind(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Float64
}

// jsonFields maps a struct's JSON names to their types, embedded structs
// flattened as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func settingsType(id string) (reflect.Type, bool) {
	for _, s := range catalog.Specs() {
		if s.ID == id && s.Settings != nil {
			return reflect.TypeOf(s.Settings), true
		}
	}
	return nil, false
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return deref(n.Content[0])
	}
	return n
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// lineOf is the line of path, or of the nearest enclosing field the file
// has (alerts for a missing alerts.emails); 0 when there is none.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// under reports whether path is p or a field inside it.
func under(path, p string) bool {
	return path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[")
}

// jsonNode builds the node tree of a JSON document, keys in file order and
// lines counted, for JSON that YAML refuses.
func jsonNode(b []byte) (*yaml.Node, error) {
	if !json.Valid(b) {
		return nil, errors.New("not JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	line := func() int { return bytes.Count(b[:dec.InputOffset()], []byte("\n")) + 1 }
	var build func(tok json.Token) (*yaml.Node, error)
	build = func(tok json.Token) (*yaml.Node, error) {
		l := line()
		switch t := tok.(type) {
		case json.Delim:
			kind, end := yaml.MappingNode, json.Delim('}')
			if t == '[' {
				kind, end = yaml.SequenceNode, ']'
			}
			n := &yaml.Node{Kind: kind, Line: l}
			for {
				tok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				if tok == end {
					return n, nil
				}
				c, err := build(tok)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, c)
			}
		case string:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: t, Line: l}, nil
		case json.Number:
			tag := "!!int"
			if strings.ContainsAny(t.String(), ".eE") {
				tag = "!!float"
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String(), Line: l}, nil
		case bool:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t), Line: l}, nil
		case nil:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: l}, nil
		}
		return nil, fmt.Errorf("unexpected JSON token %v", tok)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n, err := build(tok)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return n, nil
}

// sortProblems orders problems by line, those without one last.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return a.Line - b.Line
	})
}
