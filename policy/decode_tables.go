package policy

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// The keys of the file, auth, tables, columns, references, indexes, tests and grants,
// each with its reader.

// fileDecoding is the file being decoded, and whether it says its version.
type fileDecoding struct {
	f          *File
	sawVersion bool
}

var fileKeys = newKeys("the file",
	field[*fileDecoding]{"version", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) {
		fd.sawVersion = true
		if n, ok := d.integer(v); ok {
			if n != Version {
				d.errorf(v, "version %d is not supported; this rlsmigrate reads version %d", n, Version)
			}
			fd.f.Version = n
		}
	}},
	field[*fileDecoding]{"auth", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) { d.auth(v, &fd.f.Auth) }},
	field[*fileDecoding]{"lock_timeout", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) {
		if s, ok := d.str(v, "lock_timeout"); ok {
			if !lockTimeout.MatchString(s) {
				d.errorf(v, "lock_timeout must be a duration such as 2s, 500ms or 1min, above zero; not %q", s)
			}
			fd.f.LockTimeout = s
		}
	}},
	field[*fileDecoding]{"groups", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) { fd.f.Groups = d.groups(v) }},
	field[*fileDecoding]{"enums", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) {
		d.sequence(v, "enums", func(item *yaml.Node) {
			if e := d.enum(item, fd.f.Enums); e != nil {
				fd.f.Enums = append(fd.f.Enums, e)
			}
		})
	}},
	field[*fileDecoding]{"external", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) {
		d.sequence(v, "external", func(item *yaml.Node) {
			if t := d.external(item); t != nil {
				fd.f.External = append(fd.f.External, t)
			}
		})
	}},
	field[*fileDecoding]{"functions", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) {
		d.sequence(v, "functions", func(item *yaml.Node) {
			if r := d.routine(item, fd.f.Functions); r != nil {
				fd.f.Functions = append(fd.f.Functions, r)
			}
		})
	}},
	field[*fileDecoding]{"publications", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) {
		d.sequence(v, "publications", func(item *yaml.Node) {
			p := &Publication{Pos: Pos{item.Line, item.Column}}
			if !publicationKeys.decode(d, item, p) {
				return
			}
			if !d.hasKey(item, "name") || !d.hasKey(item, "tables") {
				d.errorf(item, "a publication needs \"name\" and \"tables\"")
			}
			fd.f.Publications = append(fd.f.Publications, p)
		})
	}},
	field[*fileDecoding]{"views", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) {
		d.sequence(v, "views", func(item *yaml.Node) {
			vw := &View{Schema: "public", Invoker: true, Pos: Pos{item.Line, item.Column}}
			if !viewKeys.decode(d, item, vw) {
				return
			}
			d.require(item, "a view", "name", "query")
			fd.f.Views = append(fd.f.Views, vw)
		})
	}},
	field[*fileDecoding]{"tables", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) {
		d.sequence(v, "tables", func(item *yaml.Node) {
			if t := d.table(item); t != nil {
				fd.f.Tables = append(fd.f.Tables, t)
			}
		})
	}},
	field[*fileDecoding]{"verify", func(d *decoder, _, v *yaml.Node, fd *fileDecoding) { verifyKeys.decode(d, v, fd.f) }},
)

// verifyKeys are the keys of verify: the synthetic callers' claims, by tester name.
var verifyKeys = newKeys("verify",
	field[*File]{"users", func(d *decoder, _, v *yaml.Node, f *File) {
		f.Users = map[string]*TestUser{}
		d.mapping(v, "verify.users", Testers, func(name string, _, v *yaml.Node) {
			u := &TestUser{Pos: Pos{v.Line, v.Column}}
			testUserKeys.decode(d, v, u)
			f.Users[name] = u
		})
	}},
)

var testUserKeys = newKeys("a verify user",
	field[*TestUser]{"claims", func(d *decoder, _, v *yaml.Node, u *TestUser) { u.Claims = d.jwtClaims(v) }},
)

// jwtClaims reads a mapping of JWT claims into JSON values by claim name. sub is the
// caller's id, which verify sets.
func (d *decoder) jwtClaims(n *yaml.Node) map[string]any {
	out := map[string]any{}
	n = d.deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "claims must be a mapping (claim: value), not %s", kindName(n))
		return nil
	}
	for _, kv := range d.pairs(n) {
		k, v := d.deref(kv[0]), kv[1]
		switch {
		case k.Kind != yaml.ScalarNode || k.Tag == "!!null":
			d.errorf(k, "a claim's name must be a string")
		case k.Value == "sub":
			d.errorf(k, "claim \"sub\" is the caller's id, which verify sets: alice, bob or none")
		default:
			if val, ok := d.jsonValue(v); ok {
				out[k.Value] = val
			}
		}
	}
	return out
}

// jsonValue converts a YAML value to the JSON value it writes: mappings with string keys,
// lists, strings, numbers, booleans and null.
func (d *decoder) jsonValue(n *yaml.Node) (any, bool) {
	n = d.deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, kv := range d.pairs(n) {
			k := d.deref(kv[0])
			if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
				d.errorf(k, "a claim's keys must be strings")
				return nil, false
			}
			val, ok := d.jsonValue(kv[1])
			if !ok {
				return nil, false
			}
			m[k.Value] = val
		}
		return m, true
	case yaml.SequenceNode:
		list := []any{}
		for _, item := range n.Content {
			val, ok := d.jsonValue(item)
			if !ok {
				return nil, false
			}
			list = append(list, val)
		}
		return list, true
	}
	switch n.Tag {
	case "!!null":
		return nil, true
	case "!!bool":
		if b, err := boolValue(n); err == nil {
			return b, true
		}
	case "!!int", "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			if n.Tag == "!!int" {
				var i int64
				if n.Decode(&i) == nil {
					return i, true
				}
			}
			return f, true
		}
	case "!!str":
		return n.Value, true
	}
	d.errorf(n, "a claim's value must be JSON: a string, number, boolean, null, list or mapping; not %s", kindName(n))
	return nil, false
}

// enum reads {name, schema, values}: values are the type's labels, in order, each at
// most 63 bytes, none twice; earlier are the enums read before it.
func (d *decoder) enum(n *yaml.Node, earlier []*Enum) *Enum {
	e := &Enum{Schema: "public", Pos: Pos{n.Line, n.Column}}
	if !enumKeys.decode(d, n, e) {
		return nil
	}
	d.require(n, "an enum", "name", "values")
	for _, prev := range earlier {
		if prev.Schema == e.Schema && prev.Name == e.Name && e.Name != "" {
			d.errorf(n, "enum %s.%s is declared twice (first at line %d)", e.Schema, e.Name, prev.Pos.Line)
		}
	}
	return e
}

var enumKeys = newKeys("an enum",
	field[*Enum]{"name", func(d *decoder, _, v *yaml.Node, e *Enum) { e.Name, _ = d.name(v, "enum name") }},
	field[*Enum]{"schema", func(d *decoder, _, v *yaml.Node, e *Enum) { e.Schema, _ = d.name(v, "schema name") }},
	field[*Enum]{"values", func(d *decoder, _, v *yaml.Node, e *Enum) {
		d.sequence(v, "values", func(item *yaml.Node) {
			label, ok := d.str(item, "enum value")
			switch {
			case !ok:
			case label == "" || len(label) > 63:
				d.errorf(item, "enum value %q must be 1 to 63 bytes long, as PostgreSQL keeps it", label)
			case slices.Contains(e.Values, label):
				d.errorf(item, "enum value %q is listed twice", label)
			default:
				e.Values = append(e.Values, label)
			}
		})
		if n := d.deref(v); n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
			d.errorf(v, "an enum needs one value or more")
		}
	}},
)

// external reads {schema, name, columns: [{name, type, primary_key}]}: a table that
// exists and that rlsmigrate does not manage, with the columns schema.yaml uses.
func (d *decoder) external(n *yaml.Node) *Table {
	t := &Table{Schema: "public", External: true, Pos: Pos{n.Line, n.Column}}
	if !externalKeys.decode(d, n, t) {
		return nil
	}
	d.require(n, "an external table", "schema", "name", "columns")
	// Triggers read after the columns they may name.
	for _, kv := range d.pairs(d.deref(n)) {
		if kv[0].Value != "triggers" {
			continue
		}
		d.sequence(kv[1], "triggers", func(item *yaml.Node) {
			if tr := d.trigger(item, t); tr != nil {
				if tr.When != "" {
					d.errorf(item, "trigger %q on external table %s has a when condition, which rlsmigrate cannot compare there: test the condition in the function", tr.Name, t.QualifiedName())
				}
				t.Triggers = append(t.Triggers, tr)
			}
		})
	}
	return t
}

var externalKeys = newKeys("an external table",
	field[*Table]{"schema", func(d *decoder, _, v *yaml.Node, t *Table) { t.Schema, _ = d.name(v, "schema name") }},
	field[*Table]{"name", func(d *decoder, _, v *yaml.Node, t *Table) { t.Name, _ = d.name(v, "table name") }},
	field[*Table]{"columns", func(d *decoder, _, v *yaml.Node, t *Table) {
		d.sequence(v, "columns", func(item *yaml.Node) {
			c := &Column{Pos: Pos{item.Line, item.Column}}
			if !externalColumnKeys.decode(d, item, c) {
				return
			}
			d.require(item, "an external column", "name", "type")
			t.Columns = append(t.Columns, c)
		})
	}},
	field[*Table]{"triggers", func(*decoder, *yaml.Node, *yaml.Node, *Table) {}}, // read by external
)

// externalColumnKeys are the keys of an external table's column: what a reference
// to it or a group over it needs.
var externalColumnKeys = newKeys("an external column",
	columnKey("name"), columnKey("type"), columnKey("primary_key"),
)

// auth reads the auth mapping. Under provider supabase, what it leaves out is
// Supabase's: auth.uid() as the identity, auth.jwt() as the claims, roles
// authenticated and anon.
// routineDecoding is the function being decoded, and its body's node, read once its
// language is known.
type routineDecoding struct {
	r    *Routine
	body *yaml.Node
}

// routine reads {name, schema, args, returns, language, volatility, security,
// search_path, body, grants}; earlier are the functions read before it.
func (d *decoder) routine(n *yaml.Node, earlier []*Routine) *Routine {
	rd := &routineDecoding{r: &Routine{Schema: "public", Volatility: "volatile", Pos: Pos{n.Line, n.Column}}}
	if !routineKeys.decode(d, n, rd) {
		return nil
	}
	r := rd.r
	d.require(n, "a function", "name", "returns", "language", "body")
	if r.Definer && r.SearchPath == nil {
		d.errorf(n, "function %s is security definer and sets no search_path: a caller's search path could put its own objects in the way; set search_path: \"\" and qualify names in the body", r.Signature())
	}
	for _, prev := range earlier {
		if prev.Signature() == r.Signature() && r.Name != "" {
			d.errorf(n, "function %s is declared twice (first at line %d)", r.Signature(), prev.Pos.Line)
		}
	}
	if rd.body != nil && r.Language != "" {
		if s, ok := d.str(rd.body, "body"); ok {
			create := fmt.Sprintf("CREATE FUNCTION f() RETURNS %s LANGUAGE %s AS %s", r.Returns, r.Language, sqlident.DollarQuote(s))
			if err := sqlparse.CheckRoutineBody(r.Language, s, create); err != nil {
				d.sqlError(rd.body, 0, "function "+r.Signature(), err)
			}
			r.Body = s
		}
	}
	return r
}

var routineKeys = newKeys("a function",
	field[*routineDecoding]{"name", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) { rd.r.Name, _ = d.name(v, "function name") }},
	field[*routineDecoding]{"schema", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) { rd.r.Schema, _ = d.name(v, "schema name") }},
	field[*routineDecoding]{"args", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) {
		d.sequence(v, "args", func(item *yaml.Node) {
			c := &Column{}
			if !argKeys.decode(d, item, c) {
				return
			}
			if c.Name == "" || c.Type == "" {
				d.errorf(item, "an argument needs \"name\" and \"type\"")
			}
			arg := &Arg{Name: c.Name, Type: c.Type, Default: c.Default}
			if n := len(rd.r.Args); n > 0 && rd.r.Args[n-1].Default != "" && arg.Default == "" {
				d.errorf(item, "argument %q follows one with a default, so it needs a default too (PostgreSQL requires it)", arg.Name)
			}
			rd.r.Args = append(rd.r.Args, arg)
		})
	}},
	field[*routineDecoding]{"returns", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) {
		s, ok := d.str(v, "returns")
		if !ok {
			return
		}
		setof := ""
		if f := strings.Fields(s); len(f) > 1 && strings.EqualFold(f[0], "setof") {
			setof, s = "SETOF ", strings.TrimSpace(s[len(f[0]):])
		}
		typ, err := d.sql.Type(strings.TrimSpace(s), sqlident.Quote)
		if err != nil {
			d.sqlError(v, 0, "returns", err)
			return
		}
		rd.r.Returns = setof + typ
	}},
	field[*routineDecoding]{"language", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) {
		rd.r.Language = d.choice(v, "language", []string{"sql", "plpgsql"})
	}},
	field[*routineDecoding]{"volatility", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) {
		rd.r.Volatility = d.choice(v, "volatility", []string{"volatile", "stable", "immutable"})
	}},
	field[*routineDecoding]{"security", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) {
		rd.r.Definer = d.choice(v, "security", []string{"invoker", "definer"}) == "definer"
	}},
	field[*routineDecoding]{"search_path", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) {
		s, ok := d.str(v, "search_path")
		if !ok {
			return
		}
		rd.r.SearchPath = []string{}
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				if len(p) > 63 || strings.ContainsAny(p, "\"'\n") {
					d.errorf(v, "search_path names schemas separated by commas; %q is not a schema name", p)
					return
				}
				rd.r.SearchPath = append(rd.r.SearchPath, p)
			}
		}
	}},
	field[*routineDecoding]{"body", func(_ *decoder, _, v *yaml.Node, rd *routineDecoding) { rd.body = v }},
	field[*routineDecoding]{"grants", func(d *decoder, _, v *yaml.Node, rd *routineDecoding) {
		rd.r.Grants = d.names(v, "role")
		d.noRepeats(v, rd.r.Grants, "role")
	}},
)

var publicationKeys = newKeys("a publication",
	field[*Publication]{"name", func(d *decoder, _, v *yaml.Node, p *Publication) { p.Name, _ = d.name(v, "publication name") }},
	field[*Publication]{"tables", func(d *decoder, _, v *yaml.Node, p *Publication) {
		// schema.name or name (in public): each part a name of its own, up to 63 bytes.
		d.sequence(v, "tables", func(item *yaml.Node) {
			s, ok := d.str(item, "table")
			if !ok {
				return
			}
			schemaName, name, qualified := strings.Cut(s, ".")
			if !qualified {
				schemaName, name = "public", s
			}
			for _, part := range []string{schemaName, name} {
				if part == "" || len(part) > 63 || strings.ContainsFunc(part, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
					d.errorf(item, "publication table %q must be schema.name or name, each 1 to 63 bytes without control characters", s)
					return
				}
			}
			p.Tables = append(p.Tables, schemaName+"."+name)
		})
		slices.Sort(p.Tables)
		d.noRepeats(v, p.Tables, "table")
	}},
)

var viewKeys = newKeys("a view",
	field[*View]{"name", func(d *decoder, _, v *yaml.Node, vw *View) { vw.Name, _ = d.name(v, "view name") }},
	field[*View]{"schema", func(d *decoder, _, v *yaml.Node, vw *View) { vw.Schema, _ = d.name(v, "schema name") }},
	field[*View]{"query", func(d *decoder, _, v *yaml.Node, vw *View) {
		s, ok := d.str(v, "query")
		if !ok {
			return
		}
		raw := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";"))
		reads, err := sqlparse.ParseQuery(raw)
		if err != nil {
			d.sqlError(v, len(s)-len(strings.TrimLeftFunc(s, unicode.IsSpace)), "query", err)
			return
		}
		for _, r := range reads {
			vw.reads = append(vw.reads, tableRead{Schema: r.Schema, Name: r.Name, Pos: Pos{v.Line, v.Column}})
		}
		vw.Query = raw
	}},
	field[*View]{"security_invoker", func(d *decoder, _, v *yaml.Node, vw *View) { vw.Invoker, _ = d.boolean(v, "security_invoker") }},
	field[*View]{"reason", func(d *decoder, _, v *yaml.Node, vw *View) { vw.Reason, _ = d.str(v, "reason") }},
	field[*View]{"grants", func(d *decoder, _, v *yaml.Node, vw *View) {
		vw.Grants = d.names(v, "role")
		d.noRepeats(v, vw.Grants, "role")
	}},
)

// argKeys are the keys of a function's argument.
var argKeys = newKeys("an argument", columnKey("name"), columnKey("type"), columnKey("default"))

func (d *decoder) auth(n *yaml.Node, a *Auth) {
	a.Pos = Pos{n.Line, n.Column}
	if !authKeys.decode(d, n, a) || a.Provider != "supabase" {
		return
	}
	if !d.hasKey(n, "user_id") {
		a.UserID = SupabaseUserID
	}
	if !d.hasKey(n, "claims") {
		a.Claims = SupabaseClaims
	}
	if !d.hasKey(n, "roles") {
		a.Roles = []string{"authenticated", "anon"}
	}
}

var authKeys = newKeys("auth",
	field[*Auth]{"provider", func(d *decoder, _, v *yaml.Node, a *Auth) {
		if s, ok := d.str(v, "auth.provider"); ok {
			if !slices.Contains(Providers, s) {
				d.errorf(v, "unknown auth.provider %q (expected one of: %s)", s, strings.Join(Providers, ", "))
			}
			a.Provider = s
		}
	}},
	field[*Auth]{"user_id", func(d *decoder, _, v *yaml.Node, a *Auth) {
		if s, ok := d.expr(v, "auth.user_id"); ok {
			a.UserID = s
		}
	}},
	field[*Auth]{"user_type", func(d *decoder, _, v *yaml.Node, a *Auth) { a.UserType = d.choice(v, "auth.user_type", IdentityTypes) }},
	field[*Auth]{"claims", func(d *decoder, _, v *yaml.Node, a *Auth) {
		if s, ok := d.expr(v, "auth.claims"); ok {
			a.Claims = s
		}
	}},
	field[*Auth]{"roles", func(d *decoder, _, v *yaml.Node, a *Auth) {
		a.Roles = d.names(v, "role")
		d.noRepeats(v, a.Roles, "role")
		for _, r := range a.Roles {
			if r == "public" || r == "none" || strings.HasPrefix(r, "pg_") {
				d.errorf(v, "role %q is reserved by PostgreSQL and cannot be declared in auth.roles", r)
			}
		}
	}},
)

// tableDecoding is the table being decoded, and its policies, read once its columns
// are known.
type tableDecoding struct {
	t        *Table
	policies *yaml.Node
	checks   *yaml.Node
	triggers *yaml.Node
	rows     *yaml.Node
}

func (d *decoder) table(n *yaml.Node) *Table {
	td := &tableDecoding{t: &Table{Schema: "public", RLS: true, OwnerIndex: true, Pos: Pos{n.Line, n.Column}}}
	if !tableKeys.decode(d, n, td) {
		return nil
	}
	t := td.t
	if t.Name == "" && !d.hasKey(n, "name") {
		d.errorf(n, "table has no \"name\"")
	}
	if td.policies != nil {
		t.Policies = d.policies(td.policies, t)
	}
	if td.triggers != nil {
		d.sequence(td.triggers, "triggers", func(item *yaml.Node) {
			if tr := d.trigger(item, t); tr != nil {
				t.Triggers = append(t.Triggers, tr)
			}
		})
	}
	if td.checks != nil {
		d.sequence(td.checks, "checks", func(item *yaml.Node) {
			if c := d.check(item, t); c != nil {
				t.Checks = append(t.Checks, c)
			}
		})
	}
	if td.rows != nil {
		d.sequence(td.rows, "rows", func(item *yaml.Node) {
			if r := d.row(item, t); r != nil {
				t.Rows = append(t.Rows, r)
			}
		})
	}
	return t
}

// row reads one of a table's rows: {column: value, ...}, each value a scalar (its
// text, as PostgreSQL reads it into the column's type) or null.
func (d *decoder) row(n *yaml.Node, t *Table) *Row {
	r := &Row{Pos: Pos{n.Line, n.Column}}
	if t.ForceRLS {
		d.errorf(n, "table %s forces row-level security on its owner, so a migration could not write its rows: declare rows only on tables without force_rls", t.QualifiedName())
		return nil
	}
	n = d.deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "a row must be a mapping (column: value), not %s", kindName(n))
		return nil
	}
	ok := true
	for _, kv := range d.pairs(n) {
		k, v := d.deref(kv[0]), d.deref(kv[1])
		c := t.Column(k.Value)
		switch {
		case c == nil:
			d.errorf(k, "row gives column %q, which table %s does not have", k.Value, t.QualifiedName())
			ok = false
			continue
		case slices.Contains(r.Columns, c.Name):
			d.errorf(k, "row gives column %q twice", c.Name)
			ok = false
			continue
		case c.Identity != "":
			d.errorf(k, "row gives identity column %q, whose values the table's sequence hands out: leave it out, and find the row by a unique key", c.Name)
			ok = false
			continue
		case v.Kind != yaml.ScalarNode || v.Tag == "!!binary":
			d.errorf(v, "a row's value must be a string, number, boolean or null, not %s; write an array or JSON as its text ('{a,b}', '{\"k\": 1}')", kindName(v))
			ok = false
			continue
		}
		r.Columns = append(r.Columns, c.Name)
		if v.Tag == "!!null" {
			r.Values = append(r.Values, nil)
			if c.NotNull || c.PrimaryKey {
				d.errorf(v, "row gives NULL to column %q, which is not null", c.Name)
				ok = false
			}
			continue
		}
		val := v.Value
		if strings.ContainsRune(val, 0) {
			d.errorf(v, "a row's value cannot hold a NUL character, which PostgreSQL's text types refuse")
			ok = false
		} else if c.Type != "" && !sqlparse.ValidLiteral(c.Type, val) {
			d.errorf(v, "%q is not a value of type %s: PostgreSQL would refuse it when the migration runs", val, c.Type)
			ok = false
		}
		r.Values = append(r.Values, &val)
	}
	if !ok {
		return nil
	}
	r.Key = rowKey(t, r)
	if r.Key == nil {
		d.errorf(n, "row gives no key of table %s: give its primary key, or every column of one of its unique keys, to find the row by", t.QualifiedName())
		return nil
	}
	for _, prev := range t.Rows {
		if slices.Equal(prev.Key, r.Key) && rowKeyText(prev) == rowKeyText(r) {
			d.errorf(n, "row %s is declared twice on table %s (first at line %d)", rowKeyText(r), t.QualifiedName(), prev.Pos.Line)
			return nil
		}
	}
	return r
}

// rowKey returns the key r is found by: t's primary key when r gives all its columns,
// else the first unique column, then unique index, whose columns r gives (non-null);
// nil when none.
func rowKey(t *Table, r *Row) []string {
	gives := func(cols []string) bool {
		for _, c := range cols {
			if v, ok := r.Value(c); !ok || v == nil {
				return false
			}
		}
		return len(cols) > 0
	}
	var pk []string
	for _, c := range t.Columns {
		if c.PrimaryKey {
			pk = append(pk, c.Name)
		}
	}
	candidates := [][]string{pk}
	for _, c := range t.Columns {
		if c.Unique {
			candidates = append(candidates, []string{c.Name})
		}
	}
	for _, ix := range t.Indexes {
		if ix.Unique {
			candidates = append(candidates, ix.Columns)
		}
	}
	for _, cols := range candidates {
		if gives(cols) {
			return cols
		}
	}
	return nil
}

// rowKeyText spells r's key for messages: (a, b) = (1, x).
func rowKeyText(r *Row) string {
	var vals []string
	for _, c := range r.Key {
		v, _ := r.Value(c)
		vals = append(vals, *v)
	}
	return "(" + strings.Join(r.Key, ", ") + ") = (" + strings.Join(vals, ", ") + ")"
}

// triggerDecoding is the trigger being decoded, on its table.
type triggerDecoding struct {
	tr *Trigger
	t  *Table
}

// trigger reads {name, timing, events, columns, for_each, when, function}.
func (d *decoder) trigger(n *yaml.Node, t *Table) *Trigger {
	td := &triggerDecoding{tr: &Trigger{ForEach: "row", Pos: Pos{n.Line, n.Column}}, t: t}
	if !triggerKeys.decode(d, n, td) {
		return nil
	}
	tr := td.tr
	d.require(n, "a trigger", "name", "timing", "events", "function")
	switch {
	case len(tr.Columns) > 0 && !slices.Contains(tr.Events, "update"):
		d.errorf(n, "trigger %q names columns, which only an update trigger takes (update of those columns)", tr.Name)
	case slices.Contains(tr.Events, "truncate") && tr.ForEach == "row":
		d.errorf(n, "trigger %q fires on truncate, which has no rows: say for_each: statement", tr.Name)
	case tr.When != "" && tr.ForEach == "statement":
		d.errorf(n, "trigger %q has a when condition, which reads OLD and NEW rows: only a row trigger takes it", tr.Name)
	}
	for _, prev := range t.Triggers {
		if prev.Name == tr.Name && tr.Name != "" {
			d.errorf(n, "trigger %q is declared twice on table %s (first at line %d)", tr.Name, t.QualifiedName(), prev.Pos.Line)
		}
	}
	return tr
}

var triggerKeys = newKeys("a trigger",
	field[*triggerDecoding]{"name", func(d *decoder, _, v *yaml.Node, td *triggerDecoding) { td.tr.Name, _ = d.name(v, "trigger name") }},
	field[*triggerDecoding]{"timing", func(d *decoder, _, v *yaml.Node, td *triggerDecoding) {
		td.tr.Timing = d.choice(v, "timing", []string{"before", "after"})
	}},
	field[*triggerDecoding]{"events", func(d *decoder, _, v *yaml.Node, td *triggerDecoding) {
		events := []string{"insert", "update", "delete", "truncate"}
		got := d.names(v, "event")
		for _, e := range got {
			if !slices.Contains(events, strings.ToLower(e)) {
				d.errorf(v, "unknown trigger event %q (expected some of: %s)", e, strings.Join(events, ", "))
			}
		}
		for _, e := range events { // in PostgreSQL's order
			if slices.ContainsFunc(got, func(g string) bool { return strings.EqualFold(g, e) }) {
				td.tr.Events = append(td.tr.Events, e)
			}
		}
		if len(td.tr.Events) == 0 && len(got) == 0 {
			d.errorf(v, "a trigger needs one event or more")
		}
	}},
	field[*triggerDecoding]{"columns", func(d *decoder, _, v *yaml.Node, td *triggerDecoding) {
		td.tr.Columns = d.names(v, "trigger column")
		for _, c := range td.tr.Columns {
			if td.t.Column(c) == nil && td.t.Name != "" {
				d.errorf(v, "trigger column %q is not a column of table %s", c, td.t.QualifiedName())
			}
		}
	}},
	field[*triggerDecoding]{"for_each", func(d *decoder, _, v *yaml.Node, td *triggerDecoding) {
		td.tr.ForEach = d.choice(v, "for_each", []string{"row", "statement"})
	}},
	field[*triggerDecoding]{"when", func(d *decoder, _, v *yaml.Node, td *triggerDecoding) {
		s, ok := d.expr(v, "when")
		if !ok {
			return
		}
		if e, err := d.sql.Expr(s); err == nil {
			raw := d.deref(v).Value
			lead := len(raw) - len(strings.TrimLeftFunc(raw, unicode.IsSpace))
			for _, ref := range e.ColumnRefs() {
				if q := strings.ToLower(ref.Table); (q != "new" && q != "old") || td.t.Column(ref.Column) == nil {
					d.at(d.posIn(d.deref(v), lead+ref.Offset), "when names %s; a trigger's condition reads columns of table %s as OLD.column and NEW.column", strings.Trim(ref.Table+"."+ref.Column, "."), td.t.QualifiedName())
				}
			}
			if e.HasSubquery() {
				d.errorf(v, "when holds a subquery, which PostgreSQL refuses in a trigger's condition")
			}
		}
		td.tr.When = s
	}},
	field[*triggerDecoding]{"function", func(d *decoder, _, v *yaml.Node, td *triggerDecoding) {
		s, ok := d.str(v, "function")
		if !ok {
			return
		}
		schemaName, name, qualified := strings.Cut(s, ".")
		if !qualified {
			schemaName, name = "public", s
		}
		if !identName.MatchString(schemaName) || !identName.MatchString(name) {
			d.errorf(v, "function must name a function as schema.name (lower case, unquoted), not %q", s)
			return
		}
		td.tr.Function = schemaName + "." + name
	}},
)

// identName is an identifier written without quotes.
var identName = regexp.MustCompile(`^[a-z_][a-z0-9_$]{0,62}$`)

// checkDecoding is the CHECK constraint being decoded, on its table.
type checkDecoding struct {
	c *Check
	t *Table
}

// check reads {name, expr}: one expression over t's columns, unqualified and without
// subqueries, as PostgreSQL takes a CHECK constraint.
func (d *decoder) check(n *yaml.Node, t *Table) *Check {
	cd := &checkDecoding{c: &Check{Pos: Pos{n.Line, n.Column}}, t: t}
	if !checkKeys.decode(d, n, cd) {
		return nil
	}
	d.require(n, "a check", "name", "expr")
	for _, prev := range t.Checks {
		if prev.Name == cd.c.Name && cd.c.Name != "" {
			d.errorf(n, "check %q is declared twice on table %s (first at line %d)", cd.c.Name, t.QualifiedName(), prev.Pos.Line)
		}
	}
	return cd.c
}

var checkKeys = newKeys("a check",
	field[*checkDecoding]{"name", func(d *decoder, _, v *yaml.Node, cd *checkDecoding) { cd.c.Name, _ = d.name(v, "check name") }},
	field[*checkDecoding]{"expr", func(d *decoder, _, v *yaml.Node, cd *checkDecoding) {
		s := d.condition(v, "check", cd.t)
		e, err := d.sql.Expr(s)
		if s == "" || err != nil {
			return
		}
		raw := d.deref(v).Value
		lead := len(raw) - len(strings.TrimLeftFunc(raw, unicode.IsSpace))
		switch {
		case e.HasSubquery():
			d.errorf(v, "check %q holds a subquery, which PostgreSQL refuses in a CHECK constraint: a check reads only its own row", s)
			return
		case len(e.Tables()) > 0:
			d.errorf(v, "check %q reads a table: a check reads only its own row", s)
			return
		}
		for _, ref := range e.ColumnRefs() {
			if ref.Table != "" {
				d.at(d.posIn(d.deref(v), lead+ref.Offset), "check names column %s.%s; write the column alone (%s): a check reads only its own row", ref.Table, ref.Column, ref.Column)
				return
			}
		}
		cd.c.Expr = s
	}},
)

var tableKeys = newKeys("a table",
	field[*tableDecoding]{"name", func(d *decoder, _, v *yaml.Node, td *tableDecoding) { td.t.Name, _ = d.name(v, "table name") }},
	field[*tableDecoding]{"schema", func(d *decoder, _, v *yaml.Node, td *tableDecoding) { td.t.Schema, _ = d.name(v, "schema name") }},
	field[*tableDecoding]{"columns", func(d *decoder, _, v *yaml.Node, td *tableDecoding) {
		d.sequence(v, "columns", func(item *yaml.Node) {
			if c := d.column(item); c != nil {
				td.t.Columns = append(td.t.Columns, c)
			}
		})
	}},
	field[*tableDecoding]{"owner", func(d *decoder, _, v *yaml.Node, td *tableDecoding) { td.t.Owner, _ = d.name(v, "owner column") }},
	field[*tableDecoding]{"owner_index", func(d *decoder, _, v *yaml.Node, td *tableDecoding) {
		td.t.OwnerIndex, _ = d.boolean(v, "owner_index")
	}},
	field[*tableDecoding]{"rls", func(d *decoder, _, v *yaml.Node, td *tableDecoding) { td.t.RLS, _ = d.boolean(v, "rls") }},
	field[*tableDecoding]{"force_rls", func(d *decoder, _, v *yaml.Node, td *tableDecoding) { td.t.ForceRLS, _ = d.boolean(v, "force_rls") }},
	field[*tableDecoding]{"policies", func(_ *decoder, _, v *yaml.Node, td *tableDecoding) { td.policies = v }},
	field[*tableDecoding]{"indexes", func(d *decoder, _, v *yaml.Node, td *tableDecoding) {
		d.sequence(v, "indexes", func(item *yaml.Node) {
			if ix := d.index(item); ix != nil {
				td.t.Indexes = append(td.t.Indexes, ix)
			}
		})
	}},
	field[*tableDecoding]{"grants", func(d *decoder, _, v *yaml.Node, td *tableDecoding) { td.t.Grants = d.grants(v) }},
	field[*tableDecoding]{"renamed_from", func(d *decoder, _, v *yaml.Node, td *tableDecoding) {
		td.t.RenamedFrom, _ = d.name(v, "renamed_from")
	}},
	field[*tableDecoding]{"comment", func(d *decoder, _, v *yaml.Node, td *tableDecoding) { td.t.Comment, _ = d.str(v, "comment") }},
	field[*tableDecoding]{"checks", func(_ *decoder, _, v *yaml.Node, td *tableDecoding) { td.checks = v }},
	field[*tableDecoding]{"rows", func(_ *decoder, _, v *yaml.Node, td *tableDecoding) { td.rows = v }},
	field[*tableDecoding]{"triggers", func(_ *decoder, _, v *yaml.Node, td *tableDecoding) { td.triggers = v }},
	field[*tableDecoding]{"tests", func(d *decoder, _, v *yaml.Node, td *tableDecoding) {
		d.sequence(v, "tests", func(item *yaml.Node) {
			if tc := d.test(item); tc != nil {
				td.t.Tests = append(td.t.Tests, tc)
			}
		})
	}},
)

// columnDecoding is the column being decoded, and the keys and values of its default
// and using, whose constants must fit its type.
type columnDecoding struct {
	c      *Column
	values []*yaml.Node
}

func (d *decoder) column(n *yaml.Node) *Column {
	cd := &columnDecoding{c: &Column{Pos: Pos{n.Line, n.Column}}}
	if !columnKeys.decode(d, n, cd) {
		return nil
	}
	c, values := cd.c, cd.values
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

// columnKey is the reader of column key key, for a mapping that decodes straight into
// a Column.
func columnKey(key string) field[*Column] {
	read := columnKeys.fields[key].read
	return field[*Column]{key, func(d *decoder, k, v *yaml.Node, c *Column) { read(d, k, v, &columnDecoding{c: c}) }}
}

var columnKeys = newKeys("a column",
	field[*columnDecoding]{"name", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) { cd.c.Name, _ = d.name(v, "column name") }},
	field[*columnDecoding]{"type", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) {
		if s, ok := d.str(v, "column type"); ok {
			lead := len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace))
			typ, err := d.sql.Type(strings.TrimSpace(s), sqlident.Quote)
			if err != nil {
				d.sqlError(v, lead, fmt.Sprintf("column type %q", strings.TrimSpace(s)), err)
			}
			cd.c.Type = typ
		}
	}},
	field[*columnDecoding]{"not_null", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) { cd.c.NotNull, _ = d.boolean(v, "not_null") }},
	field[*columnDecoding]{"primary_key", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) {
		cd.c.PrimaryKey, _ = d.boolean(v, "primary_key")
	}},
	field[*columnDecoding]{"unique", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) { cd.c.Unique, _ = d.boolean(v, "unique") }},
	field[*columnDecoding]{"identity", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) {
		cd.c.Identity = d.choice(v, "identity", identities)
	}},
	field[*columnDecoding]{"default", func(d *decoder, k, v *yaml.Node, cd *columnDecoding) {
		cd.c.Default, _ = d.expr(v, "default")
		cd.values = append(cd.values, k, v)
	}},
	field[*columnDecoding]{"generated", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) { cd.c.Generated, _ = d.expr(v, "generated") }},
	field[*columnDecoding]{"references", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) { cd.c.References = d.reference(v) }},
	field[*columnDecoding]{"renamed_from", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) {
		cd.c.RenamedFrom, _ = d.name(v, "renamed_from")
	}},
	field[*columnDecoding]{"using", func(d *decoder, k, v *yaml.Node, cd *columnDecoding) {
		cd.c.Using, _ = d.expr(v, "using")
		cd.values = append(cd.values, k, v)
	}},
	field[*columnDecoding]{"comment", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) { cd.c.Comment, _ = d.str(v, "comment") }},
	field[*columnDecoding]{"immutable", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) {
		cd.c.Immutable, cd.c.ImmutableSet = d.boolean(v, "immutable")
	}},
	field[*columnDecoding]{"copy", func(d *decoder, _, v *yaml.Node, cd *columnDecoding) { cd.c.Copy = d.copySource(v) }},
)

// require reports each of keys that mapping n, a what, lacks: "what needs key".
func (d *decoder) require(n *yaml.Node, what string, keys ...string) {
	for _, key := range keys {
		if !d.hasKey(n, key) {
			d.errorf(n, "%s needs %q", what, key)
		}
	}
}

// copySource reads a copy column's {via, column}.
func (d *decoder) copySource(n *yaml.Node) *Copy {
	cp := &Copy{Pos: Pos{d.deref(n).Line, d.deref(n).Column}}
	if copyKeys.decode(d, n, cp) {
		d.require(n, "copy", "via", "column")
	}
	return cp
}

var copyKeys = newKeys("copy",
	field[*Copy]{"via", func(d *decoder, _, v *yaml.Node, cp *Copy) { cp.Via, _ = d.name(v, "copy.via") }},
	field[*Copy]{"column", func(d *decoder, _, v *yaml.Node, cp *Copy) { cp.Column, _ = d.name(v, "copy.column") }},
)

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
	referenceKeys.decode(d, n, r)
	if r.Table == "" && !d.hasKey(n, "table") {
		d.errorf(n, "references needs a \"table\"")
	}
	return r
}

var referenceKeys = newKeys("references",
	field[*Reference]{"schema", func(d *decoder, _, v *yaml.Node, r *Reference) { r.Schema, _ = d.name(v, "references.schema") }},
	field[*Reference]{"table", func(d *decoder, _, v *yaml.Node, r *Reference) { r.Table, _ = d.name(v, "references.table") }},
	field[*Reference]{"column", func(d *decoder, _, v *yaml.Node, r *Reference) { r.Column, _ = d.name(v, "references.column") }},
	field[*Reference]{"on_delete", func(d *decoder, _, v *yaml.Node, r *Reference) {
		r.OnDelete = d.choice(v, "on_delete", onDeleteActions)
	}},
)

func (d *decoder) index(n *yaml.Node) *Index {
	ix := &Index{Pos: Pos{n.Line, n.Column}}
	if indexKeys.decode(d, n, ix) && len(ix.Columns) == 0 {
		d.errorf(n, "index needs \"columns\": one column or more")
	}
	return ix
}

var indexKeys = newKeys("an index",
	field[*Index]{"name", func(d *decoder, _, v *yaml.Node, ix *Index) { ix.Name, _ = d.name(v, "index name") }},
	field[*Index]{"columns", func(d *decoder, _, v *yaml.Node, ix *Index) { ix.Columns = d.names(v, "index column") }},
	field[*Index]{"unique", func(d *decoder, _, v *yaml.Node, ix *Index) { ix.Unique, _ = d.boolean(v, "unique") }},
)

var sqlState = regexp.MustCompile(`^[0-9A-Z]{5}$`)

// testDecoding is the test being decoded, and its expect mapping, read after its keys.
type testDecoding struct {
	tc     *Test
	expect *yaml.Node
}

// test reads {name, as, sql, expect: {rows: N} | {error: SQLSTATE}}.
func (d *decoder) test(n *yaml.Node) *Test {
	td := &testDecoding{tc: &Test{Pos: Pos{n.Line, n.Column}}}
	if !testKeys.decode(d, n, td) {
		return nil
	}
	tc := td.tc
	d.require(n, "a test", "as", "sql", "expect")
	if td.expect == nil {
		return tc
	}
	ed := &expectDecoding{tc: tc}
	expectKeys.decode(d, td.expect, ed)
	if ed.seen != 1 {
		d.errorf(td.expect, "expect takes exactly one of rows or error")
	}
	return tc
}

// expectDecoding is the test whose expect is being decoded, and how many of its keys
// were read.
type expectDecoding struct {
	tc   *Test
	seen int
}

var testKeys = newKeys("a test",
	field[*testDecoding]{"name", func(d *decoder, _, v *yaml.Node, td *testDecoding) { td.tc.Name, _ = d.str(v, "test name") }},
	field[*testDecoding]{"as", func(d *decoder, _, v *yaml.Node, td *testDecoding) {
		if s, ok := d.str(v, "as"); ok {
			if !slices.Contains(Testers, s) {
				d.errorf(v, "a test runs as one of: %s; not %q", strings.Join(Testers, ", "), s)
			}
			td.tc.As = s
		}
	}},
	field[*testDecoding]{"role", func(d *decoder, _, v *yaml.Node, td *testDecoding) { td.tc.Role, _ = d.name(v, "role") }},
	field[*testDecoding]{"sql", func(d *decoder, _, v *yaml.Node, td *testDecoding) {
		if s, ok := d.str(v, "sql"); ok {
			st, err := sqlparse.ParseStatement(s)
			if err != nil {
				d.sqlError(v, 0, "sql", err)
				return
			}
			td.tc.SQL = strings.TrimSuffix(st.Text, ";")
		}
	}},
	field[*testDecoding]{"expect", func(_ *decoder, _, v *yaml.Node, td *testDecoding) { td.expect = v }},
	field[*testDecoding]{"claims", func(d *decoder, _, v *yaml.Node, td *testDecoding) { td.tc.Claims = d.jwtClaims(v) }},
)

var expectKeys = newKeys("expect",
	field[*expectDecoding]{"rows", func(d *decoder, _, v *yaml.Node, ed *expectDecoding) {
		ed.seen++
		var rows int
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&rows) != nil || rows < 0 {
			d.errorf(v, "rows must be a number of rows, 0 or more")
		}
		ed.tc.Rows = rows
	}},
	field[*expectDecoding]{"error", func(d *decoder, _, v *yaml.Node, ed *expectDecoding) {
		ed.seen++
		if s, ok := d.str(v, "error"); ok {
			if !sqlState.MatchString(s) {
				d.errorf(v, "error must be a five-character SQLSTATE such as \"42501\", not %q", s)
			}
			ed.tc.Error = s
		}
	}},
)

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
