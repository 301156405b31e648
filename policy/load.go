package policy

import (
	"bytes"
	"encoding/json"
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

	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// MaxFileSize is the largest schema.yaml Load reads, in bytes.
const MaxFileSize = 64 << 20

// Format lists the keys schema.yaml allows in each of its mappings, by the name errors
// give the mapping: the loader accepts these and no others, and the convergence test's
// generator is checked against it, so a key added here is a key the generator must draw.
var Format = map[string][]string{
	"the file":   {"version", "auth", "lock_timeout", "groups", "tables"},
	"auth":       {"provider", "user_id", "claims", "roles"},
	"a group":    {"schema", "table", "group", "user", "where"},
	"a table":    {"name", "schema", "columns", "owner", "owner_index", "rls", "force_rls", "policies", "indexes", "grants", "renamed_from", "tests"},
	"a column":   {"name", "type", "not_null", "primary_key", "unique", "identity", "default", "references", "renamed_from", "using", "immutable"},
	"references": {"schema", "table", "column", "on_delete"},
	"an index":   {"name", "columns", "unique"},
	"a test":     {"name", "as", "role", "sql", "expect"},
	"expect":     {"rows", "error"},
	"policies":   append(slices.Clone(Operations), "read", "write", "all"),
	"a rule":     {"name", "to", "as", "where", "owner", "anyone", "member", "column", "through", "claim", "using", "check"},
	"through":    {"schema", "table", "column"},
}

// Load reads and validates the schema.yaml at path. A returned error is either an Errors
// (problems in the file, each with its position) or a failure to read the file.
func Load(path string) (*File, error) {
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
	return Parse(path, data)
}

// Parse validates data as the schema.yaml named file.
func Parse(file string, data []byte) (*File, error) {
	d := &decoder{file: file}
	f := d.parse(data)
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
	file    string
	lines   []string // the file's lines, for positions inside block scalars
	sql     sqlparse.Cache
	errs    Errors
	stopped bool // the walk stopped (see tooBig)
}

// maxAliasNodes bounds the nodes aliases may add to a file, to stop alias bombs; the
// nodes the file holds itself are bounded by its size alone.
const maxAliasNodes = 1_000_000

// aliasExpansion returns how many nodes aliases add to the tree under root once
// expanded, counted without expanding them (each node's expanded size is computed once),
// and saturated past maxAliasNodes.
func aliasExpansion(root *yaml.Node) int {
	memo := map[*yaml.Node]int{}
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if v, ok := memo[n]; ok {
			return v
		}
		memo[n] = 1 // an alias cycle counts once
		total := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			total = size(n.Alias)
		} else {
			for _, c := range n.Content {
				total = min(total+size(c), 4*maxAliasNodes)
			}
		}
		memo[n] = total
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
	if d.stopped {
		return
	}
	pos := Pos{1, 1}
	if n != nil && n.Line > 0 {
		pos = Pos{n.Line, n.Column}
	}
	d.errs = append(d.errs, &Error{File: d.file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// at records a problem at p.
func (d *decoder) at(p Pos, format string, args ...any) {
	if d.stopped {
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

var lockTimeout = regexp.MustCompile(`^[1-9][0-9]{0,6}(ms|s|min)$`)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) parse(data []byte) *File {
	if !utf8.Valid(data) {
		d.errorf(nil, "file is not UTF-8 text")
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		d.errorf(nil, "file is empty: start with \"version: 1\" and a list of tables")
		return nil
	}
	d.lines = strings.Split(string(data), "\n")
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		d.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "a second YAML document is not allowed; keep one document per file")
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if added := aliasExpansion(root); added > maxAliasNodes {
		d.errorf(root, "the file expands to over %d nodes through aliases", maxAliasNodes)
		return nil
	}
	f := &File{Auth: Auth{Provider: "pg_session_jwt", UserID: DefaultUserID, Roles: []string{"authenticated", "anonymous"}}}
	sawVersion := false
	f.LockTimeout = DefaultLockTimeout
	d.mapping(root, "the file", Format["the file"], func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			sawVersion = true
			if n, ok := d.integer(v); ok {
				if n != Version {
					d.errorf(v, "version %d is not supported; this rlsmigrate reads version %d", n, Version)
				}
				f.Version = n
			}
		case "auth":
			d.auth(v, &f.Auth)
		case "lock_timeout":
			if s, ok := d.str(v, "lock_timeout"); ok {
				if !lockTimeout.MatchString(s) {
					d.errorf(v, "lock_timeout must be a duration such as 2s, 500ms or 1min, above zero; not %q", s)
				}
				f.LockTimeout = s
			}
		case "groups":
			f.Groups = d.groups(v)
		case "tables":
			d.sequence(v, "tables", func(item *yaml.Node) {
				if t := d.table(item); t != nil {
					f.Tables = append(f.Tables, t)
				}
			})
		}
	})
	if root.Kind == yaml.MappingNode && !sawVersion {
		d.errorf(root, "missing key \"version\": add \"version: 1\" at the top")
	}
	d.validate(f)
	return f
}

func (d *decoder) yamlError(err error) {
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
	seen := map[string]bool{}
	for _, kv := range d.pairs(n) {
		k, v := kv[0], kv[1]
		if d.tooBig(k) {
			return false
		}
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys in %s must be plain words", what)
			continue
		}
		if what == "the file" && strings.HasPrefix(key, "x-") {
			continue // extension keys hold anchors for reuse elsewhere
		}
		if !slices.Contains(allowed, key) {
			d.errorf(k, "unknown key %q in %s (expected one of: %s)", key, what, strings.Join(allowed, ", "))
			continue
		}
		if seen[key] {
			d.errorf(k, "key %q appears twice in %s", key, what)
			continue
		}
		seen[key] = true
		fn(key, k, v)
	}
	return true
}

func (d *decoder) sequence(n *yaml.Node, what string, fn func(item *yaml.Node)) {
	n = d.deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, not %s", what, kindName(n))
		return
	}
	for _, item := range n.Content {
		if d.tooBig(item) {
			return
		}
		fn(item)
	}
}

// tooBig reports whether the walk was stopped; the file's size and its alias
// expansion are bounded before it starts.
func (d *decoder) tooBig(*yaml.Node) bool { return d.stopped }

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
	if line < 1 || line > len(d.lines) {
		return 0
	}
	l := d.lines[line-1]
	return len(l) - len(strings.TrimLeft(l, " "))
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	n = d.deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
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

func (d *decoder) auth(n *yaml.Node, a *Auth) {
	a.Pos = Pos{n.Line, n.Column}
	d.mapping(n, "auth", Format["auth"], func(key string, k, v *yaml.Node) {
		switch key {
		case "provider":
			if s, ok := d.str(v, "auth.provider"); ok {
				if !slices.Contains(Providers, s) {
					d.errorf(v, "unknown auth.provider %q (expected one of: %s)", s, strings.Join(Providers, ", "))
				}
				a.Provider = s
			}
		case "user_id":
			if s, ok := d.expr(v, "auth.user_id"); ok {
				a.UserID = s
			}
		case "claims":
			if s, ok := d.expr(v, "auth.claims"); ok {
				a.Claims = s
			}
		case "roles":
			a.Roles = d.names(v, "role")
			d.noRepeats(v, a.Roles, "role")
			for _, r := range a.Roles {
				if r == "public" || r == "none" || strings.HasPrefix(r, "pg_") {
					d.errorf(v, "role %q is reserved by PostgreSQL and cannot be declared in auth.roles", r)
				}
			}
		}
	})
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

func (d *decoder) table(n *yaml.Node) *Table {
	t := &Table{Schema: "public", RLS: true, OwnerIndex: true, Pos: Pos{n.Line, n.Column}}
	var policies *yaml.Node
	ok := d.mapping(n, "a table", Format["a table"], func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			t.Name, _ = d.name(v, "table name")
		case "schema":
			t.Schema, _ = d.name(v, "schema name")
		case "renamed_from":
			t.RenamedFrom, _ = d.name(v, "renamed_from")
		case "columns":
			d.sequence(v, "columns", func(item *yaml.Node) {
				if c := d.column(item); c != nil {
					t.Columns = append(t.Columns, c)
				}
			})
		case "owner":
			t.Owner, _ = d.name(v, "owner column")
		case "owner_index":
			t.OwnerIndex, _ = d.boolean(v, "owner_index")
		case "rls":
			t.RLS, _ = d.boolean(v, "rls")
		case "force_rls":
			t.ForceRLS, _ = d.boolean(v, "force_rls")
		case "policies":
			policies = v
		case "indexes":
			d.sequence(v, "indexes", func(item *yaml.Node) {
				if ix := d.index(item); ix != nil {
					t.Indexes = append(t.Indexes, ix)
				}
			})
		case "grants":
			t.Grants = d.grants(v)
		case "tests":
			d.sequence(v, "tests", func(item *yaml.Node) {
				if tc := d.test(item); tc != nil {
					t.Tests = append(t.Tests, tc)
				}
			})
		}
	})
	if !ok {
		return nil
	}
	if t.Name == "" && !d.hasKey(n, "name") {
		d.errorf(n, "table has no \"name\"")
	}
	if policies != nil {
		t.Policies = d.policies(policies, t)
	}
	return t
}

func (d *decoder) hasKey(n *yaml.Node, key string) bool {
	for _, kv := range d.pairs(d.deref(n)) {
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
	var own, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
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

func (d *decoder) column(n *yaml.Node) *Column {
	c := &Column{Pos: Pos{n.Line, n.Column}}
	var values []*yaml.Node // default and using: constants must fit the type
	ok := d.mapping(n, "a column", Format["a column"], func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			c.Name, _ = d.name(v, "column name")
		case "type":
			if s, ok := d.str(v, "column type"); ok {
				lead := len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace))
				typ, err := d.sql.Type(strings.TrimSpace(s), sqlident.Quote)
				if err != nil {
					d.sqlError(v, lead, fmt.Sprintf("column type %q", strings.TrimSpace(s)), err)
				}
				c.Type = typ
			}
		case "not_null":
			c.NotNull, _ = d.boolean(v, "not_null")
		case "primary_key":
			c.PrimaryKey, _ = d.boolean(v, "primary_key")
		case "unique":
			c.Unique, _ = d.boolean(v, "unique")
		case "identity":
			c.Identity = d.choice(v, "identity", identities)
		case "default":
			c.Default, _ = d.expr(v, "default")
			values = append(values, k, v)
		case "references":
			c.References = d.reference(v)
		case "renamed_from":
			c.RenamedFrom, _ = d.name(v, "renamed_from")
		case "using":
			c.Using, _ = d.expr(v, "using")
			values = append(values, k, v)
		case "immutable":
			c.Immutable, c.ImmutableSet = d.boolean(v, "immutable")
		}
	})
	if !ok {
		return nil
	}
	if !d.hasKey(n, "name") {
		d.errorf(n, "column has no \"name\"")
	}
	if !d.hasKey(n, "type") {
		d.errorf(n, "column %q has no \"type\"", c.Name)
	}
	for i := 0; i+1 < len(values) && c.Type != ""; i += 2 {
		k, v := values[i], values[i+1]
		if e, err := d.sql.Expr(strings.TrimSpace(d.deref(v).Value)); err == nil {
			if lit, kind, ok := e.Constant(c.Type); ok && (!sqlparse.Assignable(kind, c.Type) || !sqlparse.ValidLiteral(c.Type, lit)) {
				d.errorf(v, "%s %s is not a value of type %s: PostgreSQL would refuse it when the migration runs", k.Value, e.Text, c.Type)
			}
		}
	}
	return c
}

var (
	onDeleteActions = []string{"cascade", "restrict", "set null", "set default", "no action"}
	identities      = []string{"always", "by default"}
)

// choice reads one of options, ignoring case and repeated spaces.
func (d *decoder) choice(n *yaml.Node, what string, options []string) string {
	s, ok := d.str(n, what)
	if !ok {
		return ""
	}
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	if !slices.Contains(options, s) {
		d.errorf(n, "%s must be one of: %s; not %q", what, strings.Join(options, ", "), s)
	}
	return s
}

func (d *decoder) reference(n *yaml.Node) *Reference {
	r := &Reference{Pos: Pos{n.Line, n.Column}}
	d.mapping(n, "references", Format["references"], func(key string, k, v *yaml.Node) {
		switch key {
		case "schema":
			r.Schema, _ = d.name(v, "references.schema")
		case "table":
			r.Table, _ = d.name(v, "references.table")
		case "column":
			r.Column, _ = d.name(v, "references.column")
		case "on_delete":
			r.OnDelete = d.choice(v, "on_delete", onDeleteActions)
		}
	})
	if r.Table == "" && !d.hasKey(n, "table") {
		d.errorf(n, "references needs a \"table\"")
	}
	return r
}

func (d *decoder) index(n *yaml.Node) *Index {
	ix := &Index{Pos: Pos{n.Line, n.Column}}
	ok := d.mapping(n, "an index", Format["an index"], func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			ix.Name, _ = d.name(v, "index name")
		case "columns":
			ix.Columns = d.names(v, "index column")
		case "unique":
			ix.Unique, _ = d.boolean(v, "unique")
		}
	})
	if ok && len(ix.Columns) == 0 {
		d.errorf(n, "index needs \"columns\": one column or more")
	}
	return ix
}

var sqlState = regexp.MustCompile(`^[0-9A-Z]{5}$`)

// test reads {name, as, sql, expect: {rows: N} | {error: SQLSTATE}}.
func (d *decoder) test(n *yaml.Node) *Test {
	tc := &Test{Pos: Pos{n.Line, n.Column}}
	var expect *yaml.Node
	ok := d.mapping(n, "a test", Format["a test"], func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			tc.Name, _ = d.str(v, "test name")
		case "as":
			if s, ok := d.str(v, "as"); ok {
				if !slices.Contains(Testers, s) {
					d.errorf(v, "a test runs as one of: %s; not %q", strings.Join(Testers, ", "), s)
				}
				tc.As = s
			}
		case "role":
			tc.Role, _ = d.name(v, "role")
		case "sql":
			if s, ok := d.str(v, "sql"); ok {
				st, err := sqlparse.ParseStatement(s)
				if err != nil {
					d.sqlError(v, 0, "sql", err)
					break
				}
				tc.SQL = strings.TrimSuffix(st.Text, ";")
			}
		case "expect":
			expect = v
		}
	})
	if !ok {
		return nil
	}
	for _, key := range []string{"as", "sql", "expect"} {
		if !d.hasKey(n, key) {
			d.errorf(n, "a test needs %q", key)
		}
	}
	if expect == nil {
		return tc
	}
	seen := 0
	d.mapping(expect, "expect", Format["expect"], func(key string, k, v *yaml.Node) {
		seen++
		switch key {
		case "rows":
			var rows int
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&rows) != nil || rows < 0 {
				d.errorf(v, "rows must be a number of rows, 0 or more")
			}
			tc.Rows = rows
		case "error":
			if s, ok := d.str(v, "error"); ok {
				if !sqlState.MatchString(s) {
					d.errorf(v, "error must be a five-character SQLSTATE such as \"42501\", not %q", s)
				}
				tc.Error = s
			}
		}
	})
	if seen != 1 {
		d.errorf(expect, "expect takes exactly one of rows or error")
	}
	return tc
}

func (d *decoder) grants(n *yaml.Node) []*Grant {
	n = d.deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "grants must be a mapping of role to privileges, not %s", kindName(n))
		return nil
	}
	out := []*Grant{}
	seen := map[string]bool{}
	for _, kv := range d.pairs(n) {
		k, v := kv[0], kv[1]
		role, ok := d.name(k, "grant role")
		if !ok {
			continue
		}
		if seen[role] {
			d.errorf(k, "role %q appears twice in grants", role)
			continue
		}
		seen[role] = true
		g := &Grant{Role: role, Pos: Pos{k.Line, k.Column}}
		for _, p := range d.names(v, "privilege") {
			p = strings.ToLower(p)
			if !slices.Contains(Privileges, p) {
				d.errorf(v, "unknown privilege %q (expected some of: %s)", p, strings.Join(Privileges, ", "))
				continue
			}
			g.Privileges = append(g.Privileges, p)
		}
		out = append(out, g)
	}
	return out
}

// Shorthands are the policies keys that stand for several operations.
var Shorthands = map[string][]string{
	"read":  {"select"},
	"write": {"insert", "update", "delete"},
	"all":   Operations,
}

func (d *decoder) policies(n *yaml.Node, t *Table) []*Rule {
	n = d.deref(n)
	var out []*Rule
	if n.Kind == yaml.ScalarNode {
		// "policies: owner" (or anyone): the same rule for every operation.
		for _, op := range Operations {
			if r := d.rule(n, op, t); r != nil {
				out = append(out, r)
			}
		}
		return out
	}
	given := map[string]*yaml.Node{} // operation → the key that gave it
	d.mapping(n, "policies", Format["policies"], func(key string, k, v *yaml.Node) {
		ops := Shorthands[key]
		if ops == nil {
			ops = []string{key}
		}
		for _, op := range ops {
			if prev, dup := given[op]; dup {
				d.errorf(k, "operation %s is given twice: by %q at line %d, column %d, and by %q here; keep one", op, prev.Value, prev.Line, prev.Column, key)
				continue
			}
			given[op] = k
			items := []*yaml.Node{v}
			if dv := d.deref(v); dv.Kind == yaml.SequenceNode {
				if len(dv.Content) == 0 {
					d.errorf(v, "policies.%s is an empty list; remove it to deny %s", key, op)
				}
				items = dv.Content
			}
			for _, item := range items {
				if r := d.rule(item, op, t); r != nil {
					out = append(out, r)
				}
			}
		}
	})
	// Emit in operation order whatever the order of the keys.
	sort.SliceStable(out, func(i, j int) bool {
		return slices.Index(Operations, out[i].Operation) < slices.Index(Operations, out[j].Operation)
	})
	return out
}

func (d *decoder) rule(n *yaml.Node, op string, t *Table) *Rule {
	n = d.deref(n)
	r := &Rule{Operation: op, Pos: Pos{n.Line, n.Column}}
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "owner":
			r.Kind = RuleOwner
		case "anyone":
			r.Kind = RuleAnyone
		default:
			d.errorf(n, "unknown rule %q for %s (expected owner, anyone, or a mapping: {member: group}, {claim: {...}}, {using: ..., check: ...})", n.Value, op)
			return nil
		}
		return r
	}
	r.Kind = RuleCustom
	var kindKey *yaml.Node
	ok := d.mapping(n, "a rule", Format["a rule"], func(key string, k, v *yaml.Node) {
		if kind, ok := kindOf(key); ok {
			if kindKey != nil {
				d.errorf(k, "a rule has one kind: %q and %q are both given; write two rules", kindKey.Value, key)
				return
			}
			kindKey = k
			r.Kind = kind
		}
		switch key {
		case "name":
			r.Name, _ = d.name(v, "policy name")
		case "to":
			r.To = d.names(v, "role")
			d.noRepeats(v, r.To, "role")
		case "as":
			if s, ok := d.str(v, "as"); ok {
				switch s {
				case "permissive":
				case "restrictive":
					r.Restrictive = true
				default:
					d.errorf(v, "as must be permissive or restrictive, not %q", s)
				}
			}
		case "where":
			r.Where = d.condition(v, "where", t)
			r.reads = append(r.reads, d.tablesRead(v, r.Where)...)
			r.WherePos = Pos{d.deref(v).Line, d.deref(v).Column}
		case "owner":
			if b, ok := d.boolean(v, "owner"); ok && !b {
				d.errorf(v, "owner: false is not a rule; remove the rule to deny %s", op)
			}
		case "anyone":
			// anyone: true, or the roles it lets in.
			if dv := d.deref(v); dv.Kind == yaml.ScalarNode && dv.Tag == "!!bool" {
				if b, _ := d.boolean(v, "anyone"); !b {
					d.errorf(v, "anyone: false is not a rule; remove the rule to deny %s", op)
				}
				break
			}
			roles := d.names(v, "role")
			d.noRepeats(v, roles, "role")
			if d.hasKey(n, "to") {
				d.errorf(v, "anyone names its roles, so \"to\" is not needed; keep one")
			}
			r.To = roles
		case "member":
			r.Group, _ = d.name(v, "member group")
		case "column":
			r.Column, _ = d.name(v, "column")
		case "through":
			r.Through = d.through(v)
		case "claim":
			r.Claims = d.claims(v)
		case "using":
			r.Using = d.condition(v, "using", t)
			r.reads = append(r.reads, d.tablesRead(v, r.Using)...)
		case "check":
			r.Check = d.condition(v, "check", t)
			r.reads = append(r.reads, d.tablesRead(v, r.Check)...)
		}
	})
	if !ok {
		return nil
	}
	for kind, rk := range ruleKinds {
		for _, key := range rk.keys {
			if kind != r.Kind && d.hasKey(n, key) {
				d.errorf(n, "%q belongs to %s rule; this rule has no %q", key, article(rk.key), rk.key)
			}
		}
	}
	if r.Kind != RuleCustom {
		for _, key := range []string{"using", "check"} {
			if d.hasKey(n, key) {
				d.errorf(n, "%s rule builds its own condition: %q is for custom rules; use \"where\" to add a condition", article(string(r.Kind)), key)
			}
		}
		return r
	}
	switch {
	case op == "insert" && d.hasKey(n, "using"):
		d.errorf(n, "an insert rule takes \"check\", not \"using\"")
	case (op == "select" || op == "delete") && d.hasKey(n, "check"):
		d.errorf(n, "a %s rule takes \"using\", not \"check\"", op)
	case op == "insert" && !d.hasKey(n, "check"):
		d.errorf(n, "an insert rule needs \"check\" (the condition a new row must meet)")
	case op != "insert" && !d.hasKey(n, "using"):
		d.errorf(n, "a %s rule needs \"using\" (the condition a visible row must meet)", op)
	}
	return r
}

// through reads {table, column} with an optional schema.
func (d *decoder) through(n *yaml.Node) *Through {
	th := &Through{Pos: Pos{d.deref(n).Line, d.deref(n).Column}}
	d.mapping(n, "through", Format["through"], func(key string, k, v *yaml.Node) {
		switch key {
		case "schema":
			th.Schema, _ = d.name(v, "through.schema")
		case "table":
			th.Table, _ = d.name(v, "through.table")
		case "column":
			th.Column, _ = d.name(v, "through.column")
		}
	})
	for _, key := range []string{"table", "column"} {
		if !d.hasKey(n, key) {
			d.errorf(n, "through needs %q", key)
		}
	}
	return th
}

// claims reads {name: value | [values]}: dotted names reach nested claims, and a part in
// double quotes is taken whole ("https://example.com/role"); values keep their YAML type
// (a string, a number, a boolean), as the JSON value the claim must equal.
func (d *decoder) claims(n *yaml.Node) []Claim {
	var out []Claim
	dn := d.deref(n)
	if dn.Kind == yaml.MappingNode && len(dn.Content) == 0 {
		d.errorf(n, "claim needs at least one claim and its value, such as {role: admin}")
		return nil
	}
	if dn.Kind != yaml.MappingNode {
		d.errorf(n, "claim must be a mapping of claim names to values, such as {role: admin}, not %s", kindName(dn))
		return nil
	}
	for _, kv := range d.pairs(dn) {
		k, v := kv[0], kv[1]
		name, ok := d.str(k, "claim name")
		if !ok {
			continue
		}
		path, err := ClaimPath(name)
		if err != "" {
			d.errorf(k, "claim name %q %s", name, err)
			continue
		}
		var values []string
		items := []*yaml.Node{v}
		if dv := d.deref(v); dv.Kind == yaml.SequenceNode {
			items = dv.Content
		}
		for _, item := range items {
			if js, ok := jsonScalar(d.deref(item)); ok {
				values = append(values, js)
			}
		}
		d.values(v, "claim "+strconv.Quote(name)) // reports empty lists and non-scalars
		d.noRepeats(v, values, "claim value")
		out = append(out, Claim{Path: path, Values: values})
	}
	return out
}

// ClaimPath splits a claim name into the keys of its path: parts separated by dots, a
// part in double quotes taken whole (a doubled quote inside stands for one). It returns
// the problem, or "".
func ClaimPath(name string) ([]string, string) {
	var path []string
	for i := 0; i <= len(name); {
		var part strings.Builder
		if i < len(name) && name[i] == '"' {
			text, end, ok := sqlident.ReadQuoted(name, i)
			if !ok {
				return nil, "has a part in double quotes that does not end"
			}
			part.WriteString(text)
			i = end
			if i < len(name) && name[i] != '.' {
				return nil, "has text after a part in double quotes; separate parts with dots"
			}
		} else {
			j := strings.IndexByte(name[i:], '.')
			if j < 0 {
				j = len(name) - i
			}
			part.WriteString(name[i : i+j])
			if strings.Contains(part.String(), `"`) {
				return nil, `has a double quote inside a part; write the whole part in double quotes, with "" for a quote`
			}
			i += j
		}
		if part.Len() == 0 {
			return nil, `has an empty part; nested claims are written a.b, and a name holding dots "a.b"`
		}
		path = append(path, part.String())
		i++ // the dot
	}
	return path, ""
}

// jsonScalar returns a YAML scalar as the JSON value it stands for: a quoted or plain
// string as a JSON string, a number or boolean as itself.
func jsonScalar(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	switch n.Tag {
	case "!!bool":
		var b bool
		if n.Decode(&b) != nil {
			return "", false
		}
		return strconv.FormatBool(b), true
	case "!!int", "!!float":
		var f json.Number
		if _, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err != nil {
			break // .inf, 0x10: not JSON numbers; kept as strings
		}
		f = json.Number(strings.ReplaceAll(n.Value, "_", ""))
		if data, err := json.Marshal(f); err == nil {
			return string(data), true
		}
	case "!!null":
		return "", false
	}
	data, _ := json.Marshal(n.Value)
	return string(data), true
}

// values reads one scalar value or a non-empty list of them, for what (a claim, a
// filter).
func (d *decoder) values(n *yaml.Node, what string) []string {
	items := []*yaml.Node{n}
	if dn := d.deref(n); dn.Kind == yaml.SequenceNode {
		items = dn.Content
		if len(items) == 0 {
			d.errorf(n, "%s needs at least one value", what)
		}
	}
	var out []string
	for _, item := range items {
		item = d.deref(item)
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
			d.errorf(item, "a value of %s is a string, number or boolean, not %s", what, kindName(item))
			continue
		}
		out = append(out, item.Value)
	}
	return out
}

// groups reads the groups mapping: name → {table, schema, group, user, where}.
func (d *decoder) groups(n *yaml.Node) []*Group {
	n = d.deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "groups must be a mapping of group names to their definition, not %s", kindName(n))
		return nil
	}
	var out []*Group
	seen := map[string]bool{}
	for _, kv := range d.pairs(n) {
		k, v := kv[0], kv[1]
		name, ok := d.name(k, "group name")
		if !ok {
			continue
		}
		if !groupName.MatchString(name) {
			d.errorf(k, "group name %q must be lower-case letters, digits and underscores, starting with a letter: it names the function rls.%s()", name, name)
		}
		if seen[name] {
			d.errorf(k, "group %q is declared twice", name)
			continue
		}
		seen[name] = true
		g := &Group{Name: name, Schema: "public", Pos: Pos{k.Line, k.Column}}
		d.mapping(v, "a group", Format["a group"], func(key string, k, v *yaml.Node) {
			switch key {
			case "schema":
				g.Schema, _ = d.name(v, "schema name")
			case "table":
				g.Table, _ = d.name(v, "group table")
			case "group":
				g.GroupColumn, _ = d.name(v, "group column")
			case "user":
				g.UserColumn, _ = d.name(v, "user column")
			case "where":
				g.Where = d.filters(v)
			}
		})
		for _, key := range []string{"table", "group", "user"} {
			if d.deref(v).Kind == yaml.MappingNode && !d.hasKey(v, key) {
				d.errorf(v, "group %q needs %q", name, key)
			}
		}
		out = append(out, g)
	}
	return out
}

var groupName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// filters reads {column: value | [values]}.
func (d *decoder) filters(n *yaml.Node) []Filter {
	dn := d.deref(n)
	if dn.Kind != yaml.MappingNode {
		d.errorf(n, "where in a group is a mapping of column to value, such as {role: admin}, not %s", kindName(dn))
		return nil
	}
	var out []Filter
	for _, kv := range d.pairs(dn) {
		k, v := kv[0], kv[1]
		col, ok := d.name(k, "filter column")
		if !ok {
			continue
		}
		out = append(out, Filter{Column: col, Values: d.values(v, "filter "+strconv.Quote(col)), Pos: Pos{k.Line, k.Column}})
	}
	return out
}

// article returns word with "a" or "an" before it.
func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}
