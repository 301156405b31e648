package policy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// MaxFileSize is the largest schema.yaml Load reads, in bytes.
const MaxFileSize = 64 << 20

// Format lists the keys schema.yaml allows in each of its mappings, by the name errors
// give the mapping. It is read from the key tables the loader decodes with (each key
// once, with its reader), so the loader accepts these and no others; the convergence
// test's generator and docs/schema.md are checked against it.
var Format = map[string][]string{"policies": policyKeys}

// field is one key of a schema.yaml mapping and how its value is read into the value
// being decoded, T.
type field[T any] struct {
	key  string
	read func(d *decoder, k, v *yaml.Node, into T)
}

// keyTable is a mapping's keys, each declared once with its reader; errors and Format
// list the keys in its order.
type keyTable[T any] struct {
	what   string // the mapping, as errors and Format name it
	keys   []string
	fields map[string]field[T]
}

// newKeys returns the key table of the mapping named what, and lists it in Format.
func newKeys[T any](what string, fields ...field[T]) *keyTable[T] {
	kt := &keyTable[T]{what: what, fields: map[string]field[T]{}}
	for _, f := range fields {
		kt.keys = append(kt.keys, f.key)
		kt.fields[f.key] = f
	}
	Format[what] = kt.keys
	return kt
}

// decode reads mapping n into into: each key by its reader, unknown and repeated keys
// reported. It returns false when n is not a mapping.
func (kt *keyTable[T]) decode(d *decoder, n *yaml.Node, into T) bool {
	return d.mapping(n, kt.what, kt.keys, func(key string, k, v *yaml.Node) {
		kt.fields[key].read(d, k, v, into)
	})
}

// Load reads and validates the schema.yaml at path. A returned error is either an Errors
// (problems in the file, each with its position) or a failure to read the file.
func Load(path string) (*File, error) {
	data, err := Read(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Read returns the content of the schema.yaml at path, refusing one larger than
// MaxFileSize (an Errors at 1:1).
func Read(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading schema: %w", err)
	}
	if info.Size() > MaxFileSize {
		return nil, Errors{{File: path, Pos: Pos{1, 1}, Msg: fmt.Sprintf("file is %d bytes; the limit is %d", info.Size(), MaxFileSize)}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading schema: %w", err)
	}
	return data, nil
}

// Parse validates data as the schema.yaml named file.
func Parse(file string, data []byte) (*File, error) { return parse(file, data, true) }

// parse is Parse, reading the tables in pieces when split is set and the file allows.
func parse(file string, data []byte, split bool) (*File, error) {
	d := &decoder{file: file}
	f := d.parse(data, split)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool {
			a, b := d.errs[i], d.errs[j]
			return a.Line < b.Line || (a.Line == b.Line && a.Col < b.Col)
		})
		// A node reached through several aliases reports its problem once.
		return nil, slices.CompactFunc(d.errs, func(a, b *Error) bool { return *a == *b })
	}
	f.Path = file
	return f, nil
}

type decoder struct {
	file   string
	data   []byte // the file, and where its lines start, for positions inside block scalars
	starts []int
	sql    sqlparse.Cache
	errs   Errors
}

// maxAliasNodes bounds the nodes aliases may add to a file, to stop alias bombs; the
// nodes the file holds itself are bounded by its size alone.
const maxAliasNodes = 1_000_000

// aliasExpansion returns how many nodes aliases add to the tree under root once
// expanded, counted without expanding them (each anchored node's expanded size is
// computed once; only an anchor can be an alias's target), and saturated past
// maxAliasNodes.
func aliasExpansion(root *yaml.Node) int {
	memo := map[*yaml.Node]int{}
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if n.Anchor != "" {
			if v, ok := memo[n]; ok {
				return v
			}
			memo[n] = 1 // an alias cycle counts once
		}
		total := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			total = size(n.Alias)
		} else {
			for _, c := range n.Content {
				total = min(total+size(c), 4*maxAliasNodes)
			}
		}
		if n.Anchor != "" {
			memo[n] = total
		}
		return total
	}
	plain := 0
	var count func(n *yaml.Node)
	count = func(n *yaml.Node) {
		plain++
		for _, c := range n.Content {
			count(c)
		}
	}
	count(root)
	return size(root) - plain
}

// deref follows an alias to the node it names.
func (d *decoder) deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	pos := Pos{1, 1}
	if n != nil && n.Line > 0 {
		pos = Pos{n.Line, n.Column}
	}
	d.errs = append(d.errs, &Error{File: d.file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// at records a problem at p.
func (d *decoder) at(p Pos, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

var lockTimeout = regexp.MustCompile(`^[1-9][0-9]{0,6}(ms|s|min)$`)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) parse(data []byte, split bool) *File {
	if !utf8.Valid(data) {
		d.errorf(nil, "file is not UTF-8 text")
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		d.errorf(nil, "file is empty: start with \"version: 1\" and a list of tables")
		return nil
	}
	d.data, d.starts = data, lineStarts(data)
	if split {
		if f, ok := d.parseSplit(); ok {
			return f
		}
	}
	root, err := readDocument(data)
	if err != nil {
		d.yamlError(err)
		return nil
	}
	if added := aliasExpansion(root); added > maxAliasNodes {
		d.errorf(root, "the file expands to over %d nodes through aliases", maxAliasNodes)
		return nil
	}
	fd := d.decodeFile(root)
	return d.finish(root, fd)
}

// parseSplit reads the file in pieces, as splitTables cuts it (see there); ok is false,
// with nothing recorded, when it cannot be read so.
func (d *decoder) parseSplit() (*File, bool) {
	s, ok := splitTables(d.data, d.starts)
	if !ok {
		return nil, false
	}
	root, err := readDocument(s.head)
	if err != nil || !emptyTablesKey(root, s.keyLine+1) {
		return nil, false
	}
	added := aliasExpansion(root)
	fd := d.decodeFile(root)
	ok = readTables(s.pieces, func(item *yaml.Node) bool {
		if added += aliasExpansion(item); added > maxAliasNodes {
			return false
		}
		if t := d.table(item); t != nil {
			fd.f.Tables = append(fd.f.Tables, t)
		}
		return true
	})
	if !ok {
		d.errs = nil
		return nil, false
	}
	return d.finish(root, fd), true
}

// emptyTablesKey reports whether root is a mapping whose only key "tables", on line,
// has the empty flow list splitTables put there.
func emptyTablesKey(root *yaml.Node, line int) bool {
	if root.Kind != yaml.MappingNode {
		return false
	}
	ours := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "tables" {
			continue
		}
		if ours || k.Line != line || k.Column != 1 || k.Style != 0 || k.Tag != "!!str" {
			return false // another key named tables (quoted, say): read whole
		}
		ours = v.Kind == yaml.SequenceNode && v.Style == yaml.FlowStyle && len(v.Content) == 0 && v.Anchor == "" && v.Tag == "!!seq"
		if !ours {
			return false
		}
	}
	return ours
}

// readDocument returns the root node of the single YAML document data holds.
func readDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		pos := Pos{1, 1}
		if extra.Line > 0 {
			pos = Pos{extra.Line, extra.Column}
		}
		return nil, &Error{Pos: pos, Msg: "a second YAML document is not allowed; keep one document per file"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	return root, nil
}

// decodeFile reads the file's keys from root into a File with the defaults.
func (d *decoder) decodeFile(root *yaml.Node) *fileDecoding {
	fd := &fileDecoding{f: &File{Auth: Auth{Provider: "pg_session_jwt", UserID: DefaultUserID, Roles: []string{"authenticated", "anonymous"}},
		LockTimeout: DefaultLockTimeout}}
	fileKeys.decode(d, root, fd)
	return fd
}

// finish checks what the file as a whole must hold and validates it.
func (d *decoder) finish(root *yaml.Node, fd *fileDecoding) *File {
	if root.Kind == yaml.MappingNode && !fd.sawVersion {
		d.errorf(root, "missing key \"version\": add \"version: 1\" at the top")
	}
	d.validate(fd.f)
	return fd.f
}

func (d *decoder) yamlError(err error) {
	var own *Error
	if errors.As(err, &own) {
		d.at(own.Pos, "%s", own.Msg)
		return
	}
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errs = append(d.errs, &Error{File: d.file, Pos: Pos{line, 1}, Msg: "invalid YAML: " + m[2]})
		return
	}
	d.errorf(nil, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// mapping calls fn for each key of n in order, reporting keys outside allowed and repeats.
func (d *decoder) mapping(n *yaml.Node, what string, allowed []string, fn func(key string, k, v *yaml.Node)) bool {
	n = d.deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping (key: value), not %s", what, kindName(n))
		return false
	}
	seen := make([]bool, len(allowed)) // by the key's index in allowed
	for _, kv := range d.pairs(n) {
		k, v := kv[0], kv[1]
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys in %s must be plain words", what)
			continue
		}
		if what == "the file" && strings.HasPrefix(key, "x-") {
			continue // extension keys hold anchors for reuse elsewhere
		}
		i := slices.Index(allowed, key)
		if i < 0 {
			if near := nearest(key, allowed); near != "" {
				d.errorf(k, "unknown key %q in %s: did you mean %q?", key, what, near)
			} else {
				d.errorf(k, "unknown key %q in %s (expected one of: %s)", key, what, strings.Join(allowed, ", "))
			}
			continue
		}
		if seen[i] {
			d.errorf(k, "key %q appears twice in %s", key, what)
			continue
		}
		seen[i] = true
		fn(key, k, v)
	}
	return true
}

// nearest returns the key of keys that key most likely misspells: the one within two
// edits of it, or that it begins (primary for primary_key); "" when none or several are.
func nearest(key string, keys []string) string {
	var found []string
	for _, k := range keys {
		if editDistance(key, k) <= 2 || (len(key) >= 4 && strings.HasPrefix(k, key)) {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func (d *decoder) sequence(n *yaml.Node, what string, fn func(item *yaml.Node)) {
	n = d.deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, not %s", what, kindName(n))
		return
	}
	for _, item := range n.Content {
		fn(item)
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	n = d.deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!binary" {
		d.errorf(n, "%s must be a string, not %s", what, kindName(n))
		return "", false
	}
	if !utf8.ValidString(n.Value) {
		d.errorf(n, "%s must be UTF-8 text", what)
		return "", false
	}
	if off := gooseAnnotation(n.Value); off >= 0 {
		d.at(d.posIn(n, off), "%s holds a line that goose would read as an annotation (a line starting with -- that holds +goose); rlsmigrate writes goose's annotations itself", what)
		return "", false
	}
	return n.Value, true
}

// gooseAnnotation returns the byte offset of the first line of s that goose, reading a
// migration line by line, would take for an annotation (after spaces, "--", and
// "+goose" anywhere on the line), or -1. A string of schema.yaml that reaches a
// migration over several lines could otherwise run a migration outside its transaction
// (NO TRANSACTION) or expand the environment into it (ENVSUB ON).
func gooseAnnotation(s string) int {
	off := 0
	for line := range strings.SplitAfterSeq(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") && strings.Contains(line, "+goose") {
			return off + len(line) - len(strings.TrimLeftFunc(line, unicode.IsSpace))
		}
		off += len(line)
	}
	return -1
}

// name reads an identifier: non-empty, at most 63 bytes, no NUL.
func (d *decoder) name(n *yaml.Node, what string) (string, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return "", false
	}
	switch {
	case s == "":
		d.errorf(n, "%s must not be empty", what)
	case len(s) > 63:
		d.errorf(n, "%s %q is %d bytes; PostgreSQL keeps at most 63", what, s, len(s))
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		d.errorf(n, "%s %q must not contain control characters such as newlines", what, s)
	default:
		return s, true
	}
	return "", false
}

// expr reads one SQL expression, parsed by PostgreSQL's parser: a syntax error, or text
// that reads as more than one expression, is reported at its position in the scalar.
func (d *decoder) expr(n *yaml.Node, what string) (string, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return "", false
	}
	lead := len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace))
	s = strings.TrimSpace(s)
	if _, err := d.sql.Expr(s); err != nil {
		d.sqlError(n, lead, what, err)
		return "", false
	}
	return s, true
}

// condition reads a rule's SQL condition on table t: one expression whose column
// references (outside subqueries) name columns of t.
func (d *decoder) condition(n *yaml.Node, what string, t *Table) string {
	s, ok := d.expr(n, what)
	if !ok {
		return ""
	}
	e, err := d.sql.Expr(s)
	if err != nil {
		return s // reported by expr
	}
	raw := d.deref(n).Value
	lead := len(raw) - len(strings.TrimLeftFunc(raw, unicode.IsSpace))
	for _, ref := range e.ColumnRefs() {
		if (ref.Table == "" || ref.Table == t.Name) && t.Column(ref.Column) == nil && t.Name != "" {
			d.at(d.posIn(d.deref(n), lead+ref.Offset), "%s names column %q, which table %s does not have", what, ref.Column, t.QualifiedName())
		}
	}
	return s
}

// tablesRead returns the tables that the SQL expression s, read from scalar n, names.
func (d *decoder) tablesRead(n *yaml.Node, s string) []tableRead {
	e, err := d.sql.Expr(s)
	if s == "" || err != nil {
		return nil
	}
	raw := d.deref(n).Value
	lead := len(raw) - len(strings.TrimLeftFunc(raw, unicode.IsSpace))
	var out []tableRead
	for _, ref := range e.Tables() {
		out = append(out, tableRead{Schema: ref.Schema, Name: ref.Name, Pos: d.posIn(d.deref(n), lead+ref.Offset)})
	}
	return out
}

// sqlError reports a problem sqlparse found in the SQL of scalar n, whose text starts lead
// bytes into the scalar, at the position it names.
func (d *decoder) sqlError(n *yaml.Node, lead int, what string, err error) {
	var se *sqlparse.Error
	if errors.As(err, &se) && se.Offset >= 0 {
		d.at(d.posIn(d.deref(n), lead+se.Offset), "%s: %s", what, se.Msg)
		return
	}
	d.errorf(n, "%s: %s", what, err)
}

// posIn returns the position in the file of byte offset off of scalar n's value. It is
// exact for one-line scalars and literal blocks (|); for folded text it names the
// scalar's first line.
func (d *decoder) posIn(n *yaml.Node, off int) Pos {
	v := n.Value
	if off > len(v) {
		off = len(v)
	}
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		k := strings.Count(v[:off], "\n")
		lineStart := strings.LastIndex(v[:off], "\n") + 1
		// Every line of a block is indented as its first line is.
		return Pos{n.Line + 1 + k, d.indent(n.Line+1) + utf8.RuneCountInString(v[lineStart:off]) + 1}
	case n.Style&yaml.FoldedStyle != 0:
		return Pos{n.Line + 1, d.indent(n.Line+1) + 1}
	case strings.Contains(v[:off], "\n"):
		return Pos{n.Line, n.Column}
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		return Pos{n.Line, n.Column + 1 + utf8.RuneCountInString(v[:off])}
	}
	return Pos{n.Line, n.Column + utf8.RuneCountInString(v[:off])}
}

// indent returns the number of leading spaces of the file's line (1-based).
func (d *decoder) indent(line int) int {
	if line < 1 || line >= len(d.starts) {
		return 0
	}
	l := d.data[d.starts[line-1]:d.starts[line]]
	return len(l) - len(bytes.TrimLeft(l, " "))
}

// boolValue returns the value of !!bool scalar n. The spellings YAML's core schema
// reads as booleans are answered here; anything else (an explicit tag on other text)
// goes through yaml.v3, whose Decode builds a decoder of its own for every call.
func boolValue(n *yaml.Node) (bool, error) {
	switch n.Value {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	var b bool
	err := n.Decode(&b)
	return b, err
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	n = d.deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		if b, err := boolValue(n); err == nil {
			return b, true
		}
	}
	d.errorf(n, "%s must be true or false, not %s", what, kindName(n))
	return false, false
}

func (d *decoder) integer(n *yaml.Node) (int, bool) {
	n = d.deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		if i, err := strconv.Atoi(n.Value); err == nil {
			return i, true
		}
	}
	d.errorf(n, "version must be a number, not %s", kindName(n))
	return 0, false
}

// names reads one name or a list of names.
func (d *decoder) names(n *yaml.Node, what string) []string {
	n = d.deref(n)
	if n.Kind == yaml.ScalarNode {
		if s, ok := d.name(n, what); ok {
			return []string{s}
		}
		return nil
	}
	var out []string
	d.sequence(n, what, func(item *yaml.Node) {
		if s, ok := d.name(item, what); ok {
			out = append(out, s)
		}
	})
	return out
}

func (d *decoder) noRepeats(n *yaml.Node, items []string, what string) {
	seen := map[string]bool{}
	for _, s := range items {
		if seen[s] {
			d.errorf(n, "%s %q is listed twice", what, s)
		}
		seen[s] = true
	}
}

// hasKey reports whether mapping n holds key, merged mappings included.
func (d *decoder) hasKey(n *yaml.Node, key string) bool {
	n = d.deref(n)
	merges := false
	for i := 0; i+1 < len(n.Content) && n.Kind == yaml.MappingNode; i += 2 {
		if k := n.Content[i]; isMerge(k) {
			merges = true
		} else if k.Value == key {
			return true
		}
	}
	if !merges {
		return false
	}
	for _, kv := range d.pairs(n) {
		if kv[0].Value == key {
			return true
		}
	}
	return false
}

// pairs returns the keys and values of mapping n with YAML merge keys ("<<: *base" or
// "<<: [*a, *b]") applied: a key written in n wins over a merged one, and an earlier
// merged mapping over a later one.
func (d *decoder) pairs(n *yaml.Node) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	own := make([][2]*yaml.Node, 0, len(n.Content)/2)
	var merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMerge(k) {
			own = append(own, [2]*yaml.Node{k, v})
			continue
		}
		v = d.deref(v)
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if src = d.deref(src); src.Kind != yaml.MappingNode {
				d.errorf(src, "a merge key (<<) takes a mapping or a list of mappings, not %s", kindName(src))
				continue
			}
			merged = append(merged, d.pairs(src)...)
		}
	}
	if len(merged) == 0 {
		return own
	}
	present := map[string]bool{}
	for _, kv := range own {
		present[kv[0].Value] = true
	}
	for _, kv := range merged {
		if !present[kv[0].Value] {
			present[kv[0].Value] = true
			own = append(own, kv)
		}
	}
	return own
}

// isMerge reports whether key k is YAML's merge key, <<.
func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" }

// article returns word with "a" or "an" before it.
func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}
