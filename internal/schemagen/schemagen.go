// Package schemagen draws random schema.yaml files and random edits of them, everything
// the format allows in any combination: the convergence property test applies its
// sequences to a database, and the loader's fuzz target starts from them. It is a test
// helper, never imported by rlsmigrate itself; TestGeneratorDrawsTheFormat (in
// internal/cli) fails when policy.Format holds a key it never writes.
package schemagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Schema and the types below are schema.yaml as the generator writes it: built as JSON
// (which is YAML), and written in the Form drawn.
type Schema struct {
	// Form is how the file is written: schema.yaml is read in pieces, and most of it by
	// a reader of the few forms people write, so the forms are drawn too.
	Form        Form               `json:"-"`
	Version     int                `json:"version"`
	LockTimeout string             `json:"lock_timeout,omitempty"`
	Auth        *yAuth             `json:"auth,omitempty"`
	Groups      map[string]*yGroup `json:"groups,omitempty"`
	Enums       []*yEnum           `json:"enums,omitempty"`
	External    []*yExternal       `json:"external,omitempty"`
	Functions   []*yFunction       `json:"functions,omitempty"`
	Views       []*yView           `json:"views,omitempty"`
	Pubs        []*yPublication    `json:"publications,omitempty"`
	Tables      []*yTable          `json:"tables"`
}

// yExternal is a table rlsmigrate does not manage; the only one drawn is usersTable,
// which the convergence test's database holds.
type yExternal struct {
	Schema   string       `json:"schema"`
	Name     string       `json:"name"`
	Columns  []yExtColumn `json:"columns"`
	Triggers []*yTrigger  `json:"triggers,omitempty"` // never with when
}

type yExtColumn struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	PrimaryKey bool   `json:"primary_key,omitempty"`
}

// usersTable is Supabase's auth.users as schema.yaml declares it: the test database
// holds such a table (UsersTableSQL).
var usersTable = yExternal{Schema: "auth", Name: "users", Columns: []yExtColumn{{"id", "uuid", true}}}

// UsersTableSQL creates the external table the generator's schemas reference, as a
// database on Supabase holds it.
const UsersTableSQL = `CREATE SCHEMA IF NOT EXISTS auth; CREATE TABLE IF NOT EXISTS auth.users (id uuid PRIMARY KEY, email text)`

// yEnum is an enum type; columns name it by typeName.
type yEnum struct {
	Name   string   `json:"name"`
	Schema string   `json:"schema,omitempty"`
	Values []string `json:"values"`
}

// typeName is how a column names e.
func (e *yEnum) typeName() string {
	if e.Schema == "" {
		return quoteIdent(e.Name)
	}
	return e.Schema + "." + quoteIdent(e.Name)
}

// enumOf returns the enum a column of type typ holds, or nil.
func enumOf(s *Schema, typ string) *yEnum {
	for _, e := range s.Enums {
		if e.typeName() == typ {
			return e
		}
	}
	return nil
}

// yGroup is a group over an owner table: its owner column is the user column.
type yGroup struct {
	Schema string            `json:"schema,omitempty"`
	Table  string            `json:"table"`
	Group  string            `json:"group"`
	User   string            `json:"user"`
	Where  map[string]string `json:"where,omitempty"`
}

type yAuth struct {
	Provider string   `json:"provider,omitempty"`
	UserID   string   `json:"user_id,omitempty"` // "" for auth.user_id(); uuidIdentity casts it
	UserType string   `json:"user_type,omitempty"`
	Claims   string   `json:"claims,omitempty"`
	Roles    []string `json:"roles"`
}

// uuidIdentity is the identity as uuid: owner columns are then uuid.
const uuidIdentity = "(auth.user_id())::uuid"

// ownerColumn returns a new owner column for the identity s declares.
func ownerColumn(s *Schema) *yColumn {
	if s.Auth != nil && s.Auth.Provider == "supabase" {
		return &yColumn{Name: "user_id", Type: "uuid", NotNull: true, Default: "auth.uid()"}
	}
	if s.Auth != nil && s.Auth.UserID == uuidIdentity {
		return &yColumn{Name: "user_id", Type: "uuid", NotNull: true, Default: uuidIdentity}
	}
	return &yColumn{Name: "user_id", Type: "text", NotNull: true, Default: "auth.user_id()"}
}

// auth returns s's auth, made with the default roles when there is none.
func (s *Schema) auth() *yAuth {
	if s.Auth == nil {
		s.Auth = &yAuth{Roles: []string{"authenticated", "anonymous"}}
	}
	return s.Auth
}

type yTable struct {
	Name        string              `json:"name"`
	Schema      string              `json:"schema,omitempty"`
	RenamedFrom string              `json:"renamed_from,omitempty"`
	Columns     []*yColumn          `json:"columns"`
	Owner       string              `json:"owner,omitempty"`
	OwnerIndex  *bool               `json:"owner_index,omitempty"`
	RLS         *bool               `json:"rls,omitempty"`
	ForceRLS    bool                `json:"force_rls,omitempty"`
	Policies    map[string][]*yRule `json:"policies,omitempty"`
	Indexes     []*yIndex           `json:"indexes,omitempty"`
	Grants      map[string][]string `json:"grants,omitempty"`
	Comment     string              `json:"comment,omitempty"`
	Checks      []*yCheck           `json:"checks,omitempty"`
	Triggers    []*yTrigger         `json:"triggers,omitempty"`
	Rows        []*yRow             `json:"rows,omitempty"`
	// HadRows: the table held declared rows when the step began, so the database may
	// hold them while the step's migration runs.
	HadRows bool `json:"-"`
}

// holdsRows reports whether t's rows may be in the database during this step's
// migration: edits that existing values could fail (a type change, a unique key, NOT
// NULL, a reference) leave such a table alone.
func holdsRows(t *yTable) bool { return t.HadRows || len(t.Rows) > 0 }

// yRow is a declared row of a table keyed by a plain bigint id: its id, and the text of
// its rowLabel column (nil: NULL, "": not given).
type yRow struct {
	ID    int64
	Label *string
	Given bool // the row gives its label (possibly NULL)
}

// rowLabel is the column rows give a value to: a text column no other edit picks (see
// plainColumn), so that no type change, unique key or NOT NULL meets the values rows
// put in the table.
const rowLabel = "label"

// rowLabels are the values labels are drawn from: quotes, backslashes, letters beyond
// ASCII, SQL, what YAML reads as another type.
var rowLabels = []string{"free", "it's", `a "b" \c`, "Ünï", "x'); DROP TABLE y; --", "true", "12", "null", "", "  spaced  "}

func (r *yRow) MarshalJSON() ([]byte, error) {
	m := map[string]any{"id": r.ID}
	if r.Given {
		m[rowLabel] = r.Label
	}
	return json.Marshal(m)
}

// rowsFit reports whether t may hold declared rows that give only its id and label: a
// bigint primary key id that is no identity, no owner (whose NOT NULL value comes
// from the caller), every other NOT NULL column with a default, no check (which may
// refuse the defaults), no trigger (a BEFORE trigger returning NULL keeps a row from
// being written or deleted), and row-level security not forced on the migration's
// role.
func rowsFit(t *yTable) bool {
	id := t.Columns[0]
	if id.Name != "id" || !id.PrimaryKey || id.Type != "bigint" || id.Identity != "" || t.Owner != "" || t.ForceRLS || len(t.Checks) > 0 || len(t.Triggers) > 0 {
		return false
	}
	for _, c := range t.Columns[1:] {
		// Rows leave it to its default: NOT NULL needs one, and a unique key would get
		// the same default twice.
		if c.NotNull && c.Default == "" || c.Unique || c.References != nil {
			return false
		}
	}
	return !slices.ContainsFunc(t.Indexes, func(ix *yIndex) bool { return ix.Unique })
}

// yPublication publishes some of the tables, by schema and name (quoted as needed).
type yPublication struct {
	Name   string
	Tables [][2]string
}

func (p *yPublication) MarshalJSON() ([]byte, error) {
	names := []string{}
	for _, t := range p.Tables {
		names = append(names, t[0]+"."+t[1])
	}
	return json.Marshal(map[string]any{"name": p.Name, "tables": names})
}

// yView counts the rows of a table (Schema, Table): it names no column, so column
// edits never touch it; renames and drops of its table do (repair).
type yView struct {
	Name        string
	Schema      string
	TableSchema string
	Table       string
	Invoker     bool
	Grants      []string
}

func (v *yView) MarshalJSON() ([]byte, error) {
	m := map[string]any{"name": v.Name, "query": "SELECT count(*) AS n FROM " + v.TableSchema + "." + quoteIdent(v.Table)}
	if v.Schema != "" {
		m["schema"] = v.Schema
	}
	if !v.Invoker {
		m["security_invoker"], m["reason"] = false, "a count of rows, whoever owns them"
	}
	if len(v.Grants) > 0 {
		m["grants"] = v.Grants
	}
	return json.Marshal(m)
}

// yFunction is a function: a trigger function (Trigger) or one computing from its
// argument. Bodies read no table: a table renamed later would break the next CREATE OR
// REPLACE, which is the file's business, not rlsmigrate's.
type yFunction struct {
	Name       string   `json:"name"`
	Schema     string   `json:"schema,omitempty"`
	Args       []yArg   `json:"args,omitempty"`
	Returns    string   `json:"returns"`
	Language   string   `json:"language"`
	Volatility string   `json:"volatility,omitempty"`
	Security   string   `json:"security,omitempty"`
	SearchPath *string  `json:"search_path,omitempty"`
	Body       string   `json:"body"`
	Grants     []string `json:"grants,omitempty"`
}

type yArg struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Default string `json:"default,omitempty"`
}

// argDefault draws a default for argument a, or none.
func (g *Gen) argDefault(a *yArg) {
	a.Default = []string{"", "NULL", map[string]string{"bigint": "0", "text": "'it''s'"}[a.Type]}[g.pick(3)]
}

// yTrigger runs a trigger function on a table; When and Columns name its columns.
type yTrigger struct {
	Name     string   `json:"name"`
	Timing   string   `json:"timing"`
	Events   []string `json:"events"`
	Columns  []string `json:"columns,omitempty"`
	ForEach  string   `json:"for_each,omitempty"`
	When     string   `json:"when,omitempty"` // a column, compared between OLD and NEW
	Function string   `json:"function"`
}

func (tr *yTrigger) MarshalJSON() ([]byte, error) {
	type plain yTrigger
	p := plain(*tr)
	if p.When != "" {
		p.When = "OLD." + quoteIdent(p.When) + " IS DISTINCT FROM NEW." + quoteIdent(p.When)
	}
	return json.Marshal(p)
}

// function returns a new function: a trigger function, or one of an argument.
func (g *Gen) function() *yFunction {
	f := &yFunction{Name: fmt.Sprintf("f%d", g.next())}
	if g.chance(0.3) {
		f.Schema = "app"
	}
	if g.chance(0.5) {
		f.Returns, f.Language = "trigger", "plpgsql"
		f.Body = []string{"BEGIN\n  RETURN NEW;\nEND;\n", "BEGIN RETURN NULL; END", "DECLARE n int := 1;\nBEGIN\n  IF n > 0 THEN RETURN NEW; END IF;\n  RETURN OLD;\nEND"}[g.pick(3)]
	} else {
		f.Args = []yArg{{Name: "p_x", Type: []string{"bigint", "text"}[g.pick(2)]}}
		g.argDefault(&f.Args[0])
		f.Returns, f.Language = f.Args[0].Type, []string{"sql", "plpgsql"}[g.pick(2)]
		// As people write it between dollar quotes: on lines of its own, indented.
		f.Body = []string{"SELECT p_x", "\n  SELECT p_x\n"}[g.pick(2)]
		if f.Language == "plpgsql" {
			f.Body = "BEGIN\n  RETURN p_x; -- it's the argument\nEND"
		}
		f.Volatility = []string{"", "stable", "immutable"}[g.pick(3)]
		if g.chance(0.5) {
			f.Grants = []string{[]string{"authenticated", "public"}[g.pick(2)]}
		}
	}
	if g.chance(0.4) {
		f.Security = "definer"
		empty := ""
		f.SearchPath = &empty
		if g.chance(0.5) {
			path := "pg_catalog, public"
			f.SearchPath = &path
		}
	}
	return f
}

func (g *Gen) next() int {
	g.names++
	return g.names
}

// triggerFunctions are s's functions a trigger may run, as triggers name them.
func triggerFunctions(s *Schema) []string {
	var out []string
	for _, f := range s.Functions {
		if f.Returns == "trigger" {
			schema := f.Schema
			if schema == "" {
				schema = "public"
			}
			out = append(out, schema+"."+f.Name)
		}
	}
	return out
}

// trigger returns a new trigger on t running fn.
func (g *Gen) trigger(t *yTable, fn string) *yTrigger {
	tr := &yTrigger{Name: g.name("tr"), Timing: []string{"before", "after"}[g.pick(2)], Function: fn}
	for _, e := range []string{"insert", "update", "delete"} {
		if g.chance(0.5) {
			tr.Events = append(tr.Events, e)
		}
	}
	if len(tr.Events) == 0 {
		tr.Events = []string{"update"}
	}
	c := t.Columns[g.pick(len(t.Columns))].Name
	switch {
	case g.chance(0.2):
		tr.ForEach = "statement"
		if g.chance(0.3) {
			tr.Events = append(tr.Events, "truncate")
		}
	case slices.Equal(tr.Events, []string{"update"}) && g.chance(0.5):
		tr.When = c
	case slices.Contains(tr.Events, "update") && g.chance(0.4):
		tr.Columns = []string{c}
	}
	return tr
}

// yCheck is a CHECK constraint on Column, in one of checkForms: each holds for every
// value of every column type, so rows the tables hold never break it.
type yCheck struct {
	Name   string
	Column string
	Form   int
}

// checkForms are the conditions checks are drawn from, over one quoted column: some
// PostgreSQL stores as written, some with casts and parentheses added.
var checkForms = []string{
	"%[1]s IS NULL OR %[1]s IS NOT NULL",
	"num_nulls(%[1]s) <= 1",
	"octet_length(%[1]s::text) < 1000000",
	"%[1]s IS NOT DISTINCT FROM %[1]s",
}

func (c *yCheck) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"name": c.Name, "expr": fmt.Sprintf(checkForms[c.Form], quoteIdent(c.Column))})
}

type yColumn struct {
	Name        string      `json:"name"`
	Type        string      `json:"type"`
	NotNull     bool        `json:"not_null,omitempty"`
	PrimaryKey  bool        `json:"primary_key,omitempty"`
	Unique      bool        `json:"unique,omitempty"`
	Identity    string      `json:"identity,omitempty"`
	Default     string      `json:"default,omitempty"`
	References  *yReference `json:"references,omitempty"`
	RenamedFrom string      `json:"renamed_from,omitempty"`
	Using       string      `json:"using,omitempty"`
	Immutable   bool        `json:"immutable,omitempty"`
	Comment     string      `json:"comment,omitempty"`
	Generated   string      `json:"generated,omitempty"` // computed from the table's key column
	Copy        *yCopy      `json:"copy,omitempty"`
}

// yCopy makes a column a copy of Column of the row that Via references.
type yCopy struct {
	Via    string `json:"via"`
	Column string `json:"column"`
}

// generatedForms are the expressions generated columns are drawn from, over the table's
// bigint key (quoted), with the column type each computes.
var generatedForms = []struct{ typ, expr string }{
	{"bigint", "%s * 2"}, {"text", "'row ' || %s::text"}, {"numeric(12,2)", "%s / 4.0"},
}

// generated makes c a generated column of t over its key, in form i; false when t's key
// is not a bigint.
func generated(t *yTable, c *yColumn, i int) bool {
	key := t.Columns[0]
	if !key.PrimaryKey || key.Type != "bigint" || c == key {
		return false
	}
	f := generatedForms[i%len(generatedForms)]
	c.Type, c.Generated = f.typ, fmt.Sprintf(f.expr, quoteIdent(key.Name))
	c.Default, c.Identity, c.Unique, c.References, c.NotNull, c.Immutable, c.Using = "", "", false, nil, false, false, ""
	return true
}

type yReference struct {
	Schema   string `json:"schema,omitempty"`
	Table    string `json:"table"`
	Column   string `json:"column,omitempty"`
	OnDelete string `json:"on_delete,omitempty"`
}

type yIndex struct {
	Name    string   `json:"name,omitempty"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique,omitempty"`
}

// yRule is a rule: Kind owner, anyone, member (of Group, on Column, maybe Through),
// claim, or a custom rule on Column; Where, on Column too, adds "<Where> IS NOT NULL".
type yRule struct {
	Kind        string   `json:"-"`
	Column      string   `json:"-"` // for custom rules: the column the condition tests
	To          []string `json:"-"`
	Restrictive bool     `json:"-"`
	Group       string   `json:"-"`
	Through     *yThrough
	Claims      map[string]any // a claim rule's claims: names (some with dots, quoted) and typed values
	Name        string         // a declared policy name, or ""
	Where       string         // a column
	op          string         // set by yaml(): the operation it governs
}

// yThrough reaches a group through a referenced table's column.
type yThrough struct {
	Schema string `json:"schema,omitempty"`
	Table  string `json:"table"`
	Column string `json:"column"`
}

func (r *yRule) MarshalJSON() ([]byte, error) {
	if r.Kind != "custom" && r.Where == "" && r.Kind != "member" && r.Kind != "claim" && r.Name == "" && len(r.To) == 0 {
		return json.Marshal(r.Kind)
	}
	m := map[string]any{}
	if r.Where != "" {
		m["where"] = quoteIdent(r.Where) + " IS NOT NULL"
	}
	if r.Name != "" {
		m["name"] = r.Name
	}
	if len(r.To) > 0 && r.Kind != "custom" {
		m["to"] = r.To
	}
	switch r.Kind {
	case "owner", "anyone", "signed_in":
		m[r.Kind] = true
		return json.Marshal(m)
	case "member":
		m["member"], m["column"] = r.Group, r.Column
		if r.Through != nil {
			m["through"] = r.Through
		}
		return json.Marshal(m)
	case "claim":
		m["claim"] = r.Claims
		return json.Marshal(m)
	}
	cond := quoteIdent(r.Column) + " IS NOT NULL"
	if r.op != "insert" {
		m["using"] = cond
	}
	if r.op == "insert" || r.op == "update" {
		m["check"] = cond
	}
	if len(r.To) > 0 {
		m["to"] = r.To
	}
	if r.Restrictive {
		m["as"] = "restrictive"
	}
	return json.Marshal(m)
}

// schemaOf returns the database schema t lives in.
func schemaOf(t *yTable) string {
	if t.Schema == "" {
		return "public"
	}
	return t.Schema
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Form is a way of writing schema.yaml.
type Form int

const (
	// JSON writes the file as indented JSON.
	JSON Form = iota
	// Block writes block mappings and lists throughout, scalars plain where YAML allows.
	Block
	// FlowItems writes block style with each mapping of scalars on one line, as the
	// README's columns are.
	FlowItems
	forms
)

func (s *Schema) yaml() string {
	for _, t := range s.Tables {
		for op, rs := range t.Policies {
			for _, r := range rs {
				r.op = op
			}
		}
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err)
	}
	if s.Form == JSON {
		return string(data) + "\n"
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		panic(err)
	}
	restyle(&doc, s.Form == FlowItems)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		panic(err)
	}
	return out.String()
}

// restyle sets every node under n to block style and every scalar to plain (the
// encoder quotes those that need it, and writes those with line breaks as literal
// blocks); with flowItems, mappings that hold only scalars are written on one line. A
// scalar the encoder would not write so that it reads back (a block whose first line is
// empty and whose next is indented) stays double-quoted.
func restyle(n *yaml.Node, flowItems bool) {
	style := n.Style
	n.Style = 0
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "\n") {
		data, err := yaml.Marshal(n)
		var back string
		if err != nil || yaml.Unmarshal(data, &back) != nil || back != n.Value {
			n.Style = style
		}
	}
	if flowItems && n.Kind == yaml.MappingNode && len(n.Content) > 0 &&
		!slices.ContainsFunc(n.Content, func(c *yaml.Node) bool { return c.Kind != yaml.ScalarNode }) {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		restyle(c, flowItems)
	}
}

func (s *Schema) clone() *Schema {
	c := &Schema{Form: s.Form, Version: 1, LockTimeout: s.LockTimeout}
	if s.Auth != nil {
		a := *s.Auth
		a.Roles = slices.Clone(s.Auth.Roles)
		c.Auth = &a
	}
	if s.Groups != nil {
		c.Groups = map[string]*yGroup{}
		for name, g := range s.Groups {
			cg := *g
			cg.Where = maps.Clone(g.Where)
			c.Groups[name] = &cg
		}
	}
	for _, e := range s.Enums {
		c.Enums = append(c.Enums, &yEnum{Name: e.Name, Schema: e.Schema, Values: slices.Clone(e.Values)})
	}
	for _, x := range s.External {
		cx := *x
		cx.Triggers = nil
		for _, tr := range x.Triggers {
			ctr := *tr
			ctr.Events, ctr.Columns = slices.Clone(tr.Events), slices.Clone(tr.Columns)
			cx.Triggers = append(cx.Triggers, &ctr)
		}
		c.External = append(c.External, &cx)
	}
	for _, p := range s.Pubs {
		c.Pubs = append(c.Pubs, &yPublication{Name: p.Name, Tables: slices.Clone(p.Tables)})
	}
	for _, v := range s.Views {
		cv := *v
		cv.Grants = slices.Clone(v.Grants)
		c.Views = append(c.Views, &cv)
	}
	for _, f := range s.Functions {
		cf := *f
		cf.Args, cf.Grants = slices.Clone(f.Args), slices.Clone(f.Grants)
		c.Functions = append(c.Functions, &cf)
	}
	for _, t := range s.Tables {
		ct := *t
		ct.Columns = nil
		for _, col := range t.Columns {
			cc := *col
			if col.References != nil {
				r := *col.References
				cc.References = &r
			}
			if col.Copy != nil {
				cp := *col.Copy
				cc.Copy = &cp
			}
			ct.Columns = append(ct.Columns, &cc)
		}
		ct.Policies = map[string][]*yRule{}
		for op, rs := range t.Policies {
			for _, r := range rs {
				cr := *r
				cr.To = slices.Clone(r.To)
				cr.Claims = maps.Clone(r.Claims)
				if r.Through != nil {
					th := *r.Through
					cr.Through = &th
				}
				ct.Policies[op] = append(ct.Policies[op], &cr)
			}
		}
		ct.Triggers = nil
		for _, tr := range t.Triggers {
			ctr := *tr
			ctr.Events, ctr.Columns = slices.Clone(tr.Events), slices.Clone(tr.Columns)
			ct.Triggers = append(ct.Triggers, &ctr)
		}
		ct.Checks = nil
		for _, ck := range t.Checks {
			cc := *ck
			ct.Checks = append(ct.Checks, &cc)
		}
		ct.Rows = nil
		for _, r := range t.Rows {
			cr := *r
			ct.Rows = append(ct.Rows, &cr)
		}
		ct.Indexes = nil
		for _, ix := range t.Indexes {
			ct.Indexes = append(ct.Indexes, &yIndex{Name: ix.Name, Columns: slices.Clone(ix.Columns), Unique: ix.Unique})
		}
		if t.Grants != nil {
			ct.Grants = map[string][]string{}
			for r, p := range t.Grants {
				ct.Grants[r] = slices.Clone(p)
			}
		}
		c.Tables = append(c.Tables, &ct)
	}
	return c
}

// colType is a column type the generator uses, with a default of that type.
type colType struct{ name, def string }

var colTypes = []colType{
	{"bigint", "0"}, {"integer", "42"}, {"text", "''"}, {"boolean", "false"},
	{"timestamptz", "now()"}, {"numeric(10,2)", "0"}, {"varchar(20)", "'a'"},
	{"uuid", "gen_random_uuid()"}, {"jsonb", "'{}'::jsonb"}, {"smallint", "1"}, {"date", "current_date"},
}

func defaultFor(typ string) string {
	for _, t := range colTypes {
		if t.name == typ {
			return t.def
		}
	}
	return ""
}

// Gen makes random schemas and edits with a seeded source.
type Gen struct {
	r        *rand.Rand
	names    int
	supabase bool // every schema says auth.provider: supabase
	form     Form // how its schemas are written: by the seed, so that its draws stay as they were
}

// Supabase makes g draw schemas for a Supabase database: auth.provider supabase (uuid
// identities, roles authenticated and anon), which the edits never change.
func (g *Gen) Supabase() *Gen {
	g.supabase = true
	return g
}

func (g *Gen) pick(n int) int { return g.r.IntN(n) }
func (g *Gen) chance(p float64) bool {
	return g.r.Float64() < p
}

// name returns a fresh identifier, now and then an odd one: upper case, spaces, quotes,
// a keyword, or 63 bytes long.
func (g *Gen) name(prefix string) string {
	g.names++
	n := fmt.Sprintf("%s%d", prefix, g.names)
	switch g.pick(12) {
	case 0:
		return "Mixed " + n
	case 1:
		return n + `"q`
	case 2:
		return (n + "_" + strings.Repeat("x", 63))[:63]
	case 3:
		return "select" + strconv.Itoa(g.names)
	}
	return n
}

func (g *Gen) column(s *Schema, t *yTable) *yColumn {
	ct := colTypes[g.pick(len(colTypes))]
	if len(s.Enums) > 0 && g.chance(0.2) {
		e := s.Enums[g.pick(len(s.Enums))]
		ct = colType{e.typeName(), enumDefault(e)}
	}
	c := &yColumn{Name: g.name("c"), Type: ct.name}
	if g.chance(0.3) {
		c.Default = ct.def
	}
	if g.chance(0.3) {
		c.NotNull = true
		if c.Default == "" {
			c.Default = ct.def // tables may hold rows in real life; keep adds safe
		}
	}
	if g.chance(0.1) && ct.name != "boolean" {
		c.Unique = true
	}
	if g.chance(0.08) && generated(t, c, g.pick(len(generatedForms))) {
		return c
	}
	if g.chance(0.15) {
		if target := g.referable(s, t); target != nil {
			c.Type, c.Default, c.Unique = "bigint", "", false
			c.References = &yReference{Schema: schemaOf(target), Table: target.Name, OnDelete: []string{"", "cascade", "set null"}[g.pick(3)]}
			if g.chance(0.3) {
				c.References.Column = target.Columns[0].Name // the key, named
			}
		}
	}
	return c
}

// enumDefault is the default of a column of enum e: its first value, which additions
// never change (PostgreSQL refuses a value added in a migration to be used in it).
func enumDefault(e *yEnum) string { return "'" + strings.ReplaceAll(e.Values[0], "'", "''") + "'" }

// enumLabels are the values enums are drawn from: quotes, spaces, letters beyond
// ASCII, SQL, 63 bytes.
var enumLabels = []string{"open", "done", "it's", "two words", "Ünï", "a,b", "x); DROP TYPE y; --", strings.Repeat("z", 63), "OPEN"}

// referable returns a table other than t with a bigint primary key, or nil.
func (g *Gen) referable(s *Schema, t *yTable) *yTable {
	var out []*yTable
	for _, o := range s.Tables {
		if o != t && o.Columns[0].PrimaryKey && o.Columns[0].Type == "bigint" {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out[g.pick(len(out))]
}

func (g *Gen) table(s *Schema) *yTable {
	t := &yTable{Name: g.name("t"), Policies: map[string][]*yRule{}}
	if g.chance(0.2) {
		t.Schema = "app"
	}
	id := &yColumn{Name: "id", Type: "bigint", PrimaryKey: true}
	if g.chance(0.5) {
		id.Identity = []string{"always", "by default"}[g.pick(2)]
	}
	t.Columns = []*yColumn{id}
	if g.chance(0.7) {
		owner := ownerColumn(s)
		t.Columns = append(t.Columns, owner)
		t.Owner = owner.Name
	}
	for i := g.pick(3); i >= 0; i-- {
		t.Columns = append(t.Columns, g.column(s, t))
	}
	for _, c := range slices.Clone(t.Columns) {
		if src := copySource(s, t, &yColumn{Copy: &yCopy{Via: c.Name}}); src != nil && g.chance(0.3) {
			g.addCopy(s, t, c.Name, src.Columns[g.pick(len(src.Columns))].Name)
		}
	}
	for _, op := range []string{"select", "insert", "update", "delete"} {
		if g.chance(0.8) {
			t.Policies[op] = []*yRule{g.rule(s, t)}
		}
	}
	if g.chance(0.2) {
		t.Comment = g.comment()
		t.Columns[len(t.Columns)-1].Comment = g.comment()
	}
	if g.chance(0.2) {
		t.Checks = append(t.Checks, g.check(t))
	}
	return t
}

// enumInRows reports whether a column of e is in a table that may hold declared rows.
func enumInRows(s *Schema, e *yEnum) bool {
	for _, t := range s.Tables {
		if holdsRows(t) && slices.ContainsFunc(t.Columns, func(c *yColumn) bool { return c.Type == e.typeName() }) {
			return true
		}
	}
	return false
}

// enumUse reports whether a column holds e, and whether a rule reads such a column.
func enumUse(s *Schema, e *yEnum) (used, inRules bool) {
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			if c.Type != e.typeName() {
				continue
			}
			used = true
			for _, rs := range t.Policies {
				for _, r := range rs {
					inRules = inRules || r.Column == c.Name || r.Where == c.Name
				}
			}
		}
	}
	return used, inRules
}

// check returns a new CHECK constraint on a column of t.
func (g *Gen) check(t *yTable) *yCheck {
	return &yCheck{Name: g.name("ck"), Column: t.Columns[g.pick(len(t.Columns))].Name, Form: g.pick(len(checkForms))}
}

// comments are the texts comments are drawn from: quotes, lines, letters beyond ASCII,
// and "" (none).
var comments = []string{"a note", "it's quoted", "two\nlines", "Ünïcödé -- not SQL; DROP TABLE x", ""}

func (g *Gen) comment() string { return comments[g.pick(len(comments))] }

func (g *Gen) rule(s *Schema, t *yTable) *yRule {
	r := g.kindOf(s, t)
	if r.Kind != "custom" && g.chance(0.2) {
		r.Where = t.Columns[g.pick(len(t.Columns))].Name
	}
	if g.chance(0.1) {
		g.names++
		r.Name = fmt.Sprintf("p%d_named", g.names)
	}
	if r.Kind != "custom" && r.Kind != "owner" && g.chance(0.1) {
		r.To = []string{"public"} // every role, declared or not
	}
	return r
}

func (g *Gen) kindOf(s *Schema, t *yTable) *yRule {
	switch k := g.pick(7); {
	case k == 0 && t.Owner != "":
		return &yRule{Kind: "owner"}
	case k == 1:
		return &yRule{Kind: "anyone"}
	case k == 2:
		names := []string{"role", "app.role", `"https://myapp.example.com/role"`, `app."tier.level"`}
		values := []any{"admin", "staff", true, 2, "true"}
		r := &yRule{Kind: "claim", Claims: map[string]any{names[g.pick(len(names))]: values[g.pick(len(values))]}}
		if g.chance(0.3) {
			r.Claims[names[g.pick(len(names))]] = []any{values[g.pick(len(values))], "other"}
		}
		return r
	case k == 3 && len(s.Groups) > 0:
		if r := g.member(s, t); r != nil {
			return r
		}
	case k == 4 && g.chance(0.5):
		return &yRule{Kind: "signed_in"}
	}
	r := &yRule{Kind: "custom", Column: t.Columns[g.pick(len(t.Columns))].Name, Restrictive: g.chance(0.2)}
	if s.Auth != nil && len(s.Auth.Roles) > 2 && g.chance(0.5) {
		r.To = []string{s.Auth.Roles[2+g.pick(len(s.Auth.Roles)-2)]}
	}
	return r
}

// member returns a member rule of a random group on a bigint column of t, half the time
// through a table that column references; nil when t has no such column.
func (g *Gen) member(s *Schema, t *yTable) *yRule {
	names := slices.Sorted(maps.Keys(s.Groups))
	r := &yRule{Kind: "member", Group: names[g.pick(len(names))]}
	var cols []*yColumn
	for _, c := range t.Columns {
		if c.Type == "bigint" {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		return nil
	}
	c := cols[g.pick(len(cols))]
	r.Column = c.Name
	if ref := c.References; ref != nil && g.chance(0.5) {
		if target := tableNamed(s, ref.Schema, ref.Table); target != nil && !target.ForceRLS {
			var ys []string
			for _, tc := range target.Columns {
				if tc.Type == "bigint" {
					ys = append(ys, tc.Name)
				}
			}
			r.Through = &yThrough{Schema: schemaOf(target), Table: target.Name, Column: ys[g.pick(len(ys))]}
			if g.chance(0.5) {
				g.addCopy(s, t, c.Name, r.Through.Column) // the rule then reads the copy
			}
		}
	}
	return r
}

// addCopy adds to t a copy of column col of the table that t's column via references,
// unless t holds one already; it returns the copy, or nil.
func (g *Gen) addCopy(s *Schema, t *yTable, via, col string) *yColumn {
	src := copySource(s, t, &yColumn{Copy: &yCopy{Via: via}})
	if src == nil || src == t || column(src, col) == nil ||
		slices.ContainsFunc(t.Columns, func(c *yColumn) bool { return c.Copy != nil && *c.Copy == yCopy{via, col} }) {
		return nil
	}
	c := &yColumn{Name: g.name("c"), Type: column(src, col).Type, Copy: &yCopy{Via: via, Column: col}}
	t.Columns = append(t.Columns, c)
	return c
}

// tableNamed returns the table schema.name of s, or nil.
func tableNamed(s *Schema, schema, name string) *yTable {
	for _, t := range s.Tables {
		if schemaOf(t) == schema && t.Name == name {
			return t
		}
	}
	return nil
}

// repair removes what an edit left invalid: groups over a table that is gone, forced or
// lacks their columns; member rules of such groups, or on a column that is no longer a
// bigint, or through a table the column no longer references; where conditions on
// columns that are gone.
func repair(s *Schema) {
	for name, gr := range s.Groups {
		t := tableNamed(s, gr.Schema, gr.Table)
		if gr.Schema == "" && t == nil {
			t = tableNamed(s, "public", gr.Table)
		}
		if t == nil || t.ForceRLS || t.Owner != gr.User || column(t, gr.Group) == nil || column(t, gr.Group).Type != "bigint" {
			delete(s.Groups, name)
			continue
		}
		for col := range gr.Where {
			if c := column(t, col); c == nil || c.Type != "text" {
				delete(gr.Where, col)
			}
		}
	}
	if len(s.Groups) == 0 {
		s.Groups = nil
	}
	s.Views = slices.DeleteFunc(s.Views, func(v *yView) bool { return tableNamed(s, v.TableSchema, v.Table) == nil })
	for _, x := range s.External {
		x.Triggers = slices.DeleteFunc(x.Triggers, func(tr *yTrigger) bool { return !slices.Contains(triggerFunctions(s), tr.Function) })
	}
	for _, p := range s.Pubs {
		p.Tables = slices.DeleteFunc(p.Tables, func(t [2]string) bool { return tableNamed(s, t[0], t[1]) == nil })
	}
	// Grants keep the roles the file still declares.
	undeclared := func(r string) bool {
		return r != "public" && (s.Auth == nil && r != "authenticated" || s.Auth != nil && !slices.Contains(s.Auth.Roles, r))
	}
	for _, v := range s.Views {
		v.Grants = slices.DeleteFunc(v.Grants, undeclared)
	}
	for _, f := range s.Functions {
		f.Grants = slices.DeleteFunc(f.Grants, undeclared)
	}
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			if r := c.References; r != nil && r.Schema == usersTable.Schema && r.Table == usersTable.Name && (c.Type != "uuid" || len(s.External) == 0) {
				c.References = nil
			}
			if e := enumOf(s, c.Type); e != nil && c.Default != "" {
				c.Default = enumDefault(e)
			}
		}
		for _, c := range t.Columns {
			if c.Copy != nil && !validCopy(s, t, c) {
				c.Copy = nil // a plain column now, keeping its values
			}
		}
		t.Checks = slices.DeleteFunc(t.Checks, func(ck *yCheck) bool { return column(t, ck.Column) == nil })
		if !rowsFit(t) {
			t.Rows = nil
		}
		if l := column(t, rowLabel); l == nil || l.Type != "text" {
			for _, r := range t.Rows {
				r.Given, r.Label = false, nil
			}
		}
		for _, tr := range t.Triggers {
			if c := column(t, tr.When); c != nil && c.Generated != "" && tr.Timing == "before" {
				tr.When = "" // a BEFORE trigger's condition may not read a generated column's NEW value
			}
		}
		fns := triggerFunctions(s)
		t.Triggers = slices.DeleteFunc(t.Triggers, func(tr *yTrigger) bool {
			return !slices.Contains(fns, tr.Function) || (tr.When != "" && column(t, tr.When) == nil) ||
				slices.ContainsFunc(tr.Columns, func(c string) bool { return column(t, c) == nil })
		})
		if t.RLS != nil {
			t.Policies, t.ForceRLS = map[string][]*yRule{}, false // rls: false takes no rules
		}
		// An operation is given once: a rule added for one drops the shorthand over it.
		covers := map[string][]string{"all": {"select", "insert", "update", "delete"}, "read": {"select"}, "write": {"insert", "update", "delete"}}
		for short, ops := range covers {
			if t.Policies[short] != nil && slices.ContainsFunc(ops, func(op string) bool { return t.Policies[op] != nil }) {
				delete(t.Policies, short)
			}
		}
		for op, rs := range t.Policies {
			rs = slices.DeleteFunc(rs, func(r *yRule) bool {
				if r.Where != "" && column(t, r.Where) == nil {
					r.Where = ""
				}
				if r.Kind != "member" {
					return false
				}
				c := column(t, r.Column)
				if s.Groups[r.Group] == nil || c == nil || c.Type != "bigint" {
					return true
				}
				if th := r.Through; th != nil {
					target := tableNamed(s, th.Schema, th.Table)
					return target == nil || target.ForceRLS || c.References == nil || c.References.Table != th.Table ||
						schemaOfRef(c.References, t) != th.Schema || column(target, th.Column) == nil || column(target, th.Column).Type != "bigint"
				}
				return false
			})
			if len(rs) == 0 {
				delete(t.Policies, op)
			} else {
				t.Policies[op] = rs
			}
		}
	}
}

func schemaOfRef(r *yReference, t *yTable) string {
	if r.Schema != "" {
		return r.Schema
	}
	return schemaOf(t)
}

// column returns the column of t named name, or nil.
func column(t *yTable, name string) *yColumn {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (g *Gen) schema() *Schema {
	s := &Schema{Form: g.form, Version: 1}
	if g.supabase {
		s.Auth = &yAuth{Provider: "supabase", Roles: []string{"authenticated", "anon"}}
		if g.chance(0.5) {
			s.Auth.UserType = "uuid"
		}
	}
	for i := 1 + g.pick(3); i > 0; i-- {
		s.Tables = append(s.Tables, g.table(s))
	}
	return s
}

// edit is one random change to a schema; it returns a short description, or "" when it
// did not apply to the schema drawn.
type edit func(g *Gen, s *Schema) string

func (g *Gen) anyTable(s *Schema) *yTable {
	if len(s.Tables) == 0 {
		return nil
	}
	return s.Tables[g.pick(len(s.Tables))]
}

// onColumn applies fn to a plain column (see plainColumn) of a random table of s, and
// returns what fn says it did, or "" when there is none.
func (g *Gen) onColumn(s *Schema, fn func(t *yTable, c *yColumn) string) string {
	t := g.anyTable(s)
	if t == nil {
		return ""
	}
	c := g.plainColumn(t)
	if c == nil {
		return ""
	}
	return fn(t, c)
}

// plainColumn returns a column of t that is neither the key, the owner, a foreign key,
// nor the label rows give, or nil.
func (g *Gen) plainColumn(t *yTable) *yColumn {
	var out []*yColumn
	for _, c := range t.Columns {
		if !c.PrimaryKey && c.Name != t.Owner && c.References == nil && c.Name != rowLabel && c.Generated == "" {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out[g.pick(len(out))]
}

// referencedBy lists the columns of s that reference t.
func referencedBy(s *Schema, t *yTable) []*yColumn {
	var out []*yColumn
	for _, o := range s.Tables {
		for _, c := range o.Columns {
			if r := c.References; r != nil && r.Table == t.Name && r.Schema == schemaOf(t) {
				out = append(out, c)
			}
		}
	}
	return out
}

// renameColumnRefs follows a column rename in t's owner, indexes, checks and custom
// rules.
func renameColumnRefs(t *yTable, from, to string) {
	if t.Owner == from {
		t.Owner = to
	}
	for _, c := range t.Columns {
		c.Generated = strings.ReplaceAll(c.Generated, quoteIdent(from), quoteIdent(to))
		if c.Copy != nil && c.Copy.Via == from {
			c.Copy.Via = to
		}
	}
	for _, ck := range t.Checks {
		if ck.Column == from {
			ck.Column = to
		}
	}
	for _, tr := range t.Triggers {
		if tr.When == from {
			tr.When = to
		}
		for i, c := range tr.Columns {
			if c == from {
				tr.Columns[i] = to
			}
		}
	}
	for _, ix := range t.Indexes {
		for i, c := range ix.Columns {
			if c == from {
				ix.Columns[i] = to
			}
		}
	}
	for _, rs := range t.Policies {
		for _, r := range rs {
			if r.Column == from {
				r.Column = to
			}
			if r.Where == from {
				r.Where = to
			}
		}
	}
}

// renameInGroups follows a rename of column from of table t in the groups over t and
// the member rules through t.
func renameInGroups(s *Schema, t *yTable, from, to string) {
	for _, gr := range s.Groups {
		if gr.Table == t.Name && (gr.Schema == "" || gr.Schema == schemaOf(t)) {
			if gr.Group == from {
				gr.Group = to
			}
			if gr.User == from {
				gr.User = to
			}
			if v, ok := gr.Where[from]; ok {
				delete(gr.Where, from)
				gr.Where[to] = v
			}
		}
	}
	for _, o := range s.Tables {
		for _, rs := range o.Policies {
			for _, r := range rs {
				if th := r.Through; th != nil && th.Table == t.Name && th.Schema == schemaOf(t) && th.Column == from {
					th.Column = to
				}
			}
		}
		for _, c := range o.Columns {
			if c.Copy != nil && c.Copy.Column == from && copySource(s, o, c) == t {
				c.Copy.Column = to
			}
		}
	}
}

// copySource returns the table copy column c of t reads from: the managed table its
// via column references; nil when there is none.
func copySource(s *Schema, t *yTable, c *yColumn) *yTable {
	via := column(t, c.Copy.Via)
	if via == nil || via.References == nil {
		return nil
	}
	return tableNamed(s, schemaOfRef(via.References, t), via.References.Table)
}

// validCopy reports whether copy column c of t validates: its via column references
// another managed table holding the copied column, of its type; a table without rls
// copies nothing from one with it; nothing else writes it; it references nothing (the copied values need not exist where it would point);
// no chain of copies leads back to it.
func validCopy(s *Schema, t *yTable, c *yColumn) bool {
	seen := map[*yColumn]bool{}
	for ct, cc := t, c; cc != nil && cc.Copy != nil; {
		src := copySource(s, ct, cc)
		if src == nil || src == ct || cc.Copy.Via == cc.Name || seen[cc] || src.RLS == nil && ct.RLS != nil ||
			src.ForceRLS || ct.ForceRLS {
			return false // a table without rls copies nothing from one with it; the triggers run as the owner
		}
		seen[cc] = true
		sc := column(src, cc.Copy.Column)
		if cc == c && (sc == nil || sc.Type != c.Type) {
			return false
		}
		ct, cc = src, sc
		if cc == c {
			return false
		}
	}
	return c.Default == "" && c.Identity == "" && c.Generated == "" && !c.NotNull && !c.PrimaryKey && c.References == nil && c.Name != rowLabel
}

var edits = []struct {
	name string
	fn   edit
}{
	{"add table", func(g *Gen, s *Schema) string {
		t := g.table(s)
		s.Tables = append(s.Tables, t)
		return "add table " + t.Name
	}},
	{"drop table", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil || len(s.Tables) == 1 {
			return ""
		}
		for _, c := range referencedBy(s, t) {
			c.References = nil
		}
		s.Tables = slices.DeleteFunc(s.Tables, func(o *yTable) bool { return o == t })
		return "drop table " + t.Name
	}},
	{"rename table", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		old := t.Name
		t.RenamedFrom, t.Name = old, g.name("t")
		for _, c := range referencedBy(s, &yTable{Name: old, Schema: t.Schema}) {
			c.References.Table = t.Name
		}
		for _, gr := range s.Groups {
			if gr.Table == old && (gr.Schema == "" || gr.Schema == schemaOf(t)) {
				gr.Table = t.Name
			}
		}
		for _, v := range s.Views {
			if v.Table == old && v.TableSchema == schemaOf(t) {
				v.Table = t.Name
			}
		}
		for _, p := range s.Pubs {
			for i, pt := range p.Tables {
				if pt == [2]string{schemaOf(t), old} {
					p.Tables[i][1] = t.Name
				}
			}
		}
		for _, o := range s.Tables {
			for _, rs := range o.Policies {
				for _, r := range rs {
					if th := r.Through; th != nil && th.Table == old && th.Schema == schemaOf(t) {
						th.Table = t.Name
					}
				}
			}
		}
		return "rename table " + old + " to " + t.Name
	}},
	{"comment", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		if g.chance(0.5) {
			t.Comment = g.comment()
			return "comment on table " + t.Name
		}
		c := t.Columns[g.pick(len(t.Columns))]
		c.Comment = g.comment()
		return "comment on column " + t.Name + "." + c.Name
	}},
	{"toggle enum", func(g *Gen, s *Schema) string {
		if len(s.Enums) == 0 || g.chance(0.2) {
			e := &yEnum{Name: g.name("e"), Values: []string{enumLabels[g.pick(len(enumLabels))]}}
			if g.chance(0.3) {
				e.Schema = "app"
			}
			s.Enums = append(s.Enums, e)
			return "add enum " + e.Name
		}
		e := s.Enums[g.pick(len(s.Enums))]
		used, inRules := enumUse(s, e)
		switch {
		case !used && g.chance(0.3):
			s.Enums = slices.DeleteFunc(s.Enums, func(o *yEnum) bool { return o == e })
			return "drop enum " + e.Name
		case len(e.Values) > 1 && !inRules && g.chance(0.4):
			// Made anew: PostgreSQL refuses to convert a column a policy reads. Rows
			// hold the first value (the columns' default), which then stays.
			i := g.pick(len(e.Values))
			if i == 0 && enumInRows(s, e) {
				return ""
			}
			e.Values = slices.Delete(e.Values, i, i+1)
			return "remove a value of enum " + e.Name
		}
		label := enumLabels[g.pick(len(enumLabels))]
		if slices.Contains(e.Values, label) {
			return ""
		}
		at := 1 + g.pick(len(e.Values)) // never first: see enumDefault
		e.Values = slices.Insert(e.Values, at, label)
		return "add value to enum " + e.Name
	}},
	{"toggle function", func(g *Gen, s *Schema) string {
		if len(s.Functions) == 0 || g.chance(0.3) {
			f := g.function()
			s.Functions = append(s.Functions, f)
			return "add function " + f.Name
		}
		f := s.Functions[g.pick(len(s.Functions))]
		switch g.pick(4) {
		case 0:
			s.Functions = slices.DeleteFunc(s.Functions, func(o *yFunction) bool { return o == f })
			return "drop function " + f.Name // and the triggers that ran it (repair)
		case 1:
			if f.Returns == "trigger" {
				f.Body = "BEGIN\n  RETURN COALESCE(NEW, OLD);\nEND"
			} else if f.Language == "sql" {
				f.Body = "SELECT p_x -- the same, spelled anew"
			}
			if len(f.Args) > 0 {
				g.argDefault(&f.Args[0])
			}
			return "change body of " + f.Name
		case 2:
			if f.Security == "definer" {
				f.Security, f.SearchPath = "", nil
			} else {
				empty := ""
				f.Security, f.SearchPath = "definer", &empty
			}
			return "toggle security of " + f.Name
		}
		if f.Returns == "trigger" {
			return ""
		}
		if len(f.Grants) > 0 {
			f.Grants = nil
		} else {
			f.Grants = []string{"authenticated"}
		}
		return "toggle grants of " + f.Name
	}},
	{"toggle publication", func(g *Gen, s *Schema) string {
		if len(s.Pubs) == 0 {
			s.Pubs = []*yPublication{{Name: []string{"supabase_realtime", "rlsm_feed"}[g.pick(2)]}}
		}
		p := s.Pubs[0]
		if len(p.Tables) > 0 && g.chance(0.3) {
			p.Tables = p.Tables[:len(p.Tables)-1]
			return "take a table out of publication " + p.Name
		}
		if g.chance(0.1) {
			s.Pubs = nil
			return "forget publication " + p.Name
		}
		t := g.anyTable(s)
		if t == nil || slices.Contains(p.Tables, [2]string{schemaOf(t), t.Name}) {
			return ""
		}
		p.Tables = append(p.Tables, [2]string{schemaOf(t), t.Name})
		return "publish " + t.Name + " in " + p.Name
	}},
	{"toggle view", func(g *Gen, s *Schema) string {
		if len(s.Views) > 0 && g.chance(0.5) {
			v := s.Views[g.pick(len(s.Views))]
			switch g.pick(3) {
			case 0:
				s.Views = slices.DeleteFunc(s.Views, func(o *yView) bool { return o == v })
				return "drop view " + v.Name
			case 1:
				v.Invoker = !v.Invoker
				return "toggle security_invoker of view " + v.Name
			}
			if len(v.Grants) > 0 {
				v.Grants = nil
			} else {
				v.Grants = []string{[]string{"authenticated", "public"}[g.pick(2)]}
			}
			return "toggle grants of view " + v.Name
		}
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		v := &yView{Name: g.name("v"), TableSchema: schemaOf(t), Table: t.Name, Invoker: g.chance(0.7)}
		if g.chance(0.3) {
			v.Schema = "app"
		}
		if g.chance(0.5) {
			v.Grants = []string{"authenticated"}
		}
		s.Views = append(s.Views, v)
		return "add view " + v.Name + " over " + t.Name
	}},
	{"toggle trigger", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		fns := triggerFunctions(s)
		if t == nil || len(fns) == 0 || holdsRows(t) {
			return "" // a BEFORE trigger returning NULL would keep a row's delete from happening
		}
		if len(t.Triggers) > 0 && g.chance(0.4) {
			tr := t.Triggers[g.pick(len(t.Triggers))]
			t.Triggers = slices.DeleteFunc(t.Triggers, func(o *yTrigger) bool { return o == tr })
			return "drop trigger " + tr.Name + " of " + t.Name
		}
		if len(t.Triggers) > 0 && g.chance(0.5) {
			i := g.pick(len(t.Triggers))
			name := t.Triggers[i].Name
			t.Triggers[i] = g.trigger(t, fns[g.pick(len(fns))])
			t.Triggers[i].Name = name
			return "change trigger " + name + " of " + t.Name
		}
		tr := g.trigger(t, fns[g.pick(len(fns))])
		t.Triggers = append(t.Triggers, tr)
		return "add trigger " + tr.Name + " to " + t.Name
	}},
	{"toggle sign-up trigger", func(g *Gen, s *Schema) string {
		fns := triggerFunctions(s)
		if len(s.External) == 0 || len(fns) == 0 {
			return ""
		}
		x := s.External[0]
		if len(x.Triggers) > 0 && g.chance(0.4) {
			tr := x.Triggers[g.pick(len(x.Triggers))]
			x.Triggers = slices.DeleteFunc(x.Triggers, func(o *yTrigger) bool { return o == tr })
			return "drop trigger " + tr.Name + " of auth.users"
		}
		tr := &yTrigger{Name: g.name("tr"), Timing: []string{"before", "after"}[g.pick(2)], Events: []string{"insert"}, Function: fns[g.pick(len(fns))]}
		if g.chance(0.3) {
			tr.Events = []string{"update"}
			if g.chance(0.5) {
				tr.Columns = []string{"id"}
			}
		}
		x.Triggers = append(x.Triggers, tr)
		return "add trigger " + tr.Name + " to auth.users"
	}},
	{"toggle generated", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		var gen []*yColumn
		for _, c := range t.Columns {
			if c.Generated != "" {
				gen = append(gen, c)
			}
		}
		switch {
		case len(gen) > 0 && g.chance(0.3):
			c := gen[g.pick(len(gen))]
			c.Generated = "" // a plain column now, keeping its values
			return "column " + t.Name + "." + c.Name + " no longer generated"
		case len(gen) > 0 && g.chance(0.5):
			c := gen[g.pick(len(gen))]
			if !generated(t, c, g.pick(len(generatedForms))) {
				return ""
			}
			return "change generated column " + t.Name + "." + c.Name
		}
		c := g.plainColumn(t)
		if c == nil || holdsRows(t) || !generated(t, c, g.pick(len(generatedForms))) {
			return ""
		}
		return "make " + t.Name + "." + c.Name + " generated"
	}},
	{"toggle copy", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		var copies []*yColumn
		for _, c := range t.Columns {
			if c.Copy != nil {
				copies = append(copies, c)
			}
		}
		if len(copies) > 0 && g.chance(0.4) {
			c := copies[g.pick(len(copies))]
			c.Copy = nil // a plain column now, keeping its values
			return "column " + t.Name + "." + c.Name + " no longer a copy"
		}
		// What a through rule of t reads, which then reads the copy; or any column of
		// a table t references.
		type source struct{ via, col string }
		var from []source
		for _, rs := range t.Policies {
			for _, r := range rs {
				if r.Through != nil {
					from = append(from, source{r.Column, r.Through.Column})
				}
			}
		}
		if len(from) == 0 || g.chance(0.3) {
			for _, via := range t.Columns {
				if src := copySource(s, t, &yColumn{Copy: &yCopy{Via: via.Name}}); src != nil && src != t {
					for _, sc := range src.Columns {
						from = append(from, source{via.Name, sc.Name})
					}
				}
			}
		}
		if len(from) == 0 {
			return ""
		}
		pick := from[g.pick(len(from))]
		c := g.addCopy(s, t, pick.via, pick.col)
		if c == nil {
			return ""
		}
		return "add copy " + t.Name + "." + c.Name + " of " + pick.col + " via " + pick.via
	}},
	{"toggle rows", func(g *Gen, s *Schema) string {
		fit := slices.DeleteFunc(slices.Clone(s.Tables), func(t *yTable) bool { return !rowsFit(t) })
		if len(fit) == 0 || g.chance(0.2) {
			// A reference table: an id the rows give, a label, readable by everyone.
			t := &yTable{Name: g.name("t"), Policies: map[string][]*yRule{"select": {{Kind: "anyone"}}},
				Columns: []*yColumn{{Name: "id", Type: "bigint", PrimaryKey: true}, {Name: rowLabel, Type: "text"}}}
			for i := g.pick(3); i >= 0; i-- {
				l := rowLabels[g.pick(len(rowLabels))]
				t.Rows = append(t.Rows, &yRow{ID: int64(g.next()), Label: &l, Given: true})
			}
			s.Tables = append(s.Tables, t)
			return "add reference table " + t.Name
		}
		t := fit[g.pick(len(fit))]
		label := func() *string {
			if g.chance(0.2) {
				return nil
			}
			l := rowLabels[g.pick(len(rowLabels))]
			return &l
		}
		switch {
		case len(t.Rows) > 0 && g.chance(0.3):
			r := t.Rows[g.pick(len(t.Rows))]
			t.Rows = slices.DeleteFunc(t.Rows, func(o *yRow) bool { return o == r })
			return fmt.Sprintf("drop row %d of %s", r.ID, t.Name)
		case len(t.Rows) > 0 && column(t, rowLabel) != nil && g.chance(0.5):
			r := t.Rows[g.pick(len(t.Rows))]
			r.Given, r.Label = g.chance(0.8), label()
			return fmt.Sprintf("change row %d of %s", r.ID, t.Name)
		}
		if column(t, rowLabel) == nil && g.chance(0.7) {
			t.Columns = append(t.Columns, &yColumn{Name: rowLabel, Type: "text"})
		}
		r := &yRow{ID: int64(g.next())}
		if column(t, rowLabel) != nil {
			r.Given, r.Label = g.chance(0.8), label()
		}
		t.Rows = append(t.Rows, r)
		return fmt.Sprintf("add row %d to %s", r.ID, t.Name)
	}},
	{"toggle check", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		switch {
		case len(t.Checks) > 0 && g.chance(0.4):
			ck := t.Checks[g.pick(len(t.Checks))]
			t.Checks = slices.DeleteFunc(t.Checks, func(o *yCheck) bool { return o == ck })
			return "drop check " + ck.Name + " of " + t.Name
		case len(t.Checks) > 0 && g.chance(0.5):
			ck := t.Checks[g.pick(len(t.Checks))]
			ck.Form = (ck.Form + 1 + g.pick(len(checkForms)-1)) % len(checkForms)
			ck.Column = t.Columns[g.pick(len(t.Columns))].Name
			return "change check " + ck.Name + " of " + t.Name
		}
		ck := g.check(t)
		t.Checks = append(t.Checks, ck)
		return "add check " + ck.Name + " to " + t.Name
	}},
	{"add column", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		c := g.column(s, t)
		if holdsRows(t) && c.NotNull && c.Default == "" {
			c.NotNull = false // the rows it holds would have no value
		}
		t.Columns = append(t.Columns, c)
		return "add column " + t.Name + "." + c.Name
	}},
	{"drop column", func(g *Gen, s *Schema) string {
		return g.onColumn(s, func(t *yTable, c *yColumn) string {
			t.Columns = slices.DeleteFunc(t.Columns, func(o *yColumn) bool { return o == c })
			t.Indexes = slices.DeleteFunc(t.Indexes, func(ix *yIndex) bool { return slices.Contains(ix.Columns, c.Name) })
			renameColumnRefs(t, c.Name, t.Columns[0].Name)
			return "drop column " + t.Name + "." + c.Name
		})
	}},
	{"rename column", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		c := t.Columns[g.pick(len(t.Columns))]
		if c.PrimaryKey && len(referencedBy(s, t)) > 0 {
			return "" // references name the key column implicitly
		}
		old := c.Name
		c.RenamedFrom, c.Name = old, g.name("c")
		renameColumnRefs(t, old, c.Name)
		renameInGroups(s, t, old, c.Name)
		return "rename column " + t.Name + "." + old + " to " + c.Name
	}},
	{"change type", func(g *Gen, s *Schema) string {
		return g.onColumn(s, func(t *yTable, c *yColumn) string {
			ct := colTypes[g.pick(len(colTypes))]
			if ct.name == c.Type || c.Identity != "" || holdsRows(t) {
				return ""
			}
			old := c.Type
			c.Type = ct.name
			if c.Default != "" {
				c.Default = ct.def
			}
			c.Using = "" // a using of an earlier change does not fit this one
			if g.chance(0.3) {
				// using: the new values computed, here the type's default (or NULL).
				c.Using = ct.def
				if c.Using == "" || !c.NotNull && g.chance(0.5) {
					c.Using = "NULL"
				}
				if c.NotNull && c.Using == "NULL" {
					c.Using = ct.def
				}
			}
			if ct.name == "boolean" {
				c.Unique = false
			}
			return "change type " + t.Name + "." + c.Name + " " + old + " -> " + ct.name
		})
	}},
	{"toggle default", func(g *Gen, s *Schema) string {
		return g.onColumn(s, func(t *yTable, c *yColumn) string {
			if c.Identity != "" {
				return ""
			}
			if c.Default == "" {
				c.Default = defaultFor(c.Type)
			} else {
				c.Default = ""
			}
			return "toggle default " + t.Name + "." + c.Name
		})
	}},
	{"toggle not null", func(g *Gen, s *Schema) string {
		return g.onColumn(s, func(t *yTable, c *yColumn) string {
			if c.Identity != "" || !c.NotNull && holdsRows(t) {
				return ""
			}
			c.NotNull = !c.NotNull
			return "toggle not null " + t.Name + "." + c.Name
		})
	}},
	{"toggle unique", func(g *Gen, s *Schema) string {
		return g.onColumn(s, func(t *yTable, c *yColumn) string {
			if c.Type == "boolean" || !c.Unique && holdsRows(t) {
				return ""
			}
			c.Unique = !c.Unique
			return "toggle unique " + t.Name + "." + c.Name
		})
	}},
	{"toggle users reference", func(g *Gen, s *Schema) string {
		if len(s.External) == 0 {
			users := usersTable
			s.External = []*yExternal{&users}
			return "declare external auth.users"
		}
		t := g.anyTable(s)
		if t == nil {
			if g.chance(0.5) {
				s.External = nil // dropped from the file; references to it go with it
				return "forget external auth.users"
			}
			return ""
		}
		c := column(t, t.Owner)
		if c == nil || c.Type != "uuid" {
			return ""
		}
		if c.References != nil {
			c.References = nil
			return "owner " + t.Name + "." + c.Name + " no longer references auth.users"
		}
		c.References = &yReference{Schema: usersTable.Schema, Table: usersTable.Name, OnDelete: []string{"", "cascade"}[g.pick(2)]}
		return "owner " + t.Name + "." + c.Name + " references auth.users"
	}},
	{"toggle reference", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		for _, c := range t.Columns {
			if c.References != nil {
				c.References = nil
				return "drop reference " + t.Name + "." + c.Name
			}
		}
		target := g.referable(s, t)
		if target == nil || holdsRows(t) {
			return ""
		}
		for _, c := range t.Columns {
			if c.Type == "bigint" && !c.PrimaryKey && c.Identity == "" {
				c.References = &yReference{Schema: schemaOf(target), Table: target.Name}
				return "add reference " + t.Name + "." + c.Name
			}
		}
		return ""
	}},
	{"toggle identity", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		for _, c := range t.Columns {
			if (c.Type == "bigint" || c.Type == "integer") && c.References == nil {
				if c.Identity != "" {
					c.Identity = ""
					if g.chance(0.5) {
						c.Default = "0"
					}
				} else {
					c.Identity, c.Default = []string{"always", "by default"}[g.pick(2)], ""
				}
				return "toggle identity " + t.Name + "." + c.Name
			}
		}
		return ""
	}},
	{"toggle index", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		if len(t.Indexes) > 0 && g.chance(0.5) {
			t.Indexes = t.Indexes[1:]
			return "drop index on " + t.Name
		}
		c := t.Columns[g.pick(len(t.Columns))]
		for _, ix := range t.Indexes {
			if slices.Equal(ix.Columns, []string{c.Name}) {
				return ""
			}
		}
		ix := &yIndex{Columns: []string{c.Name}, Unique: g.chance(0.2) && c.Type != "boolean" && c.Type != "jsonb" && !holdsRows(t)}
		if g.chance(0.3) {
			g.names++
			ix.Name = fmt.Sprintf("ix%d_named", g.names)
		}
		t.Indexes = append(t.Indexes, ix)
		return "add index " + t.Name + "." + c.Name
	}},
	{"change policy", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		for _, short := range []string{"all", "read", "write"} {
			delete(t.Policies, short) // an operation may be given once
		}
		t.RLS = nil
		op := []string{"select", "insert", "update", "delete"}[g.pick(4)]
		if g.chance(0.25) {
			delete(t.Policies, op)
			return "drop rules for " + op + " on " + t.Name
		}
		t.Policies[op] = []*yRule{g.rule(s, t)}
		return "change rule for " + op + " on " + t.Name
	}},
	{"use shorthand", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		r := g.rule(s, t)
		if r.Kind == "custom" || r.Kind == "member" {
			return "" // a condition per operation, a column per table: not for shorthands
		}
		r.Name = ""
		t.RLS = nil
		switch g.pick(2) {
		case 0:
			t.Policies = map[string][]*yRule{"all": {r}}
			return "all: " + r.Kind + " on " + t.Name
		default:
			w := *r
			t.Policies = map[string][]*yRule{"read": {r}, "write": {&w}}
			return "read and write: " + r.Kind + " on " + t.Name
		}
	}},
	{"toggle rls", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		if t.RLS != nil {
			t.RLS = nil
			return "rls on " + t.Name
		}
		off := false
		t.RLS, t.ForceRLS, t.Policies = &off, false, map[string][]*yRule{}
		return "rls: false on " + t.Name
	}},
	{"toggle owner index", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil || t.Owner == "" {
			return ""
		}
		if t.OwnerIndex != nil {
			t.OwnerIndex = nil
			return "owner index on " + t.Name
		}
		off := false
		t.OwnerIndex = &off
		return "owner_index: false on " + t.Name
	}},
	{"toggle lock timeout", func(g *Gen, s *Schema) string {
		if s.LockTimeout != "" {
			s.LockTimeout = ""
			return "default lock_timeout"
		}
		s.LockTimeout = []string{"5s", "500ms", "1min"}[g.pick(3)]
		return "lock_timeout " + s.LockTimeout
	}},
	{"toggle provider", func(g *Gen, s *Schema) string {
		if g.supabase {
			return ""
		}
		a := s.auth()
		if a.Provider != "" {
			a.Provider, a.Claims = "", ""
			return "provider pg_session_jwt"
		}
		a.Provider = "claims"
		if g.chance(0.5) {
			a.Claims = "auth.session()"
		}
		return "provider claims"
	}},
	{"toggle identity type", func(g *Gen, s *Schema) string {
		if g.supabase {
			return ""
		}
		a := s.auth()
		if a.UserID == "" {
			a.UserID = uuidIdentity
			if g.chance(0.5) {
				a.UserType = "uuid" // said as well as cast
			}
		} else {
			a.UserID, a.UserType = "", ""
		}
		for _, t := range s.Tables {
			if c := column(t, t.Owner); c != nil {
				o := ownerColumn(s)
				c.Type, c.Default = o.Type, o.Default
			}
		}
		return "identity type " + map[bool]string{true: "uuid", false: "text"}[a.UserID != ""]
	}},
	{"toggle force rls", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		t.ForceRLS = !t.ForceRLS
		return "toggle force_rls " + t.Name
	}},
	{"toggle grants", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		if t.Grants != nil {
			t.Grants = nil
			return "derive grants on " + t.Name
		}
		t.Grants = map[string][]string{"authenticated": {"select", "insert"}}
		if s.Auth != nil && len(s.Auth.Roles) > 2 {
			t.Grants[s.Auth.Roles[2]] = []string{"select"}
		}
		return "explicit grants on " + t.Name
	}},
	{"add group", func(g *Gen, s *Schema) string {
		var owners []*yTable
		for _, t := range s.Tables {
			if t.Owner != "" && !t.ForceRLS {
				owners = append(owners, t)
			}
		}
		if len(owners) == 0 {
			return ""
		}
		t := owners[g.pick(len(owners))]
		var groupCols []string
		for _, c := range t.Columns {
			if c.Type == "bigint" {
				groupCols = append(groupCols, c.Name)
			}
		}
		g.names++
		name := fmt.Sprintf("g%d", g.names)
		gr := &yGroup{Schema: schemaOf(t), Table: t.Name, Group: groupCols[g.pick(len(groupCols))], User: t.Owner}
		for _, c := range t.Columns {
			if c.Type == "text" && c.Name != t.Owner && g.chance(0.5) {
				gr.Where = map[string]string{c.Name: "admin"}
				break
			}
		}
		if s.Groups == nil {
			s.Groups = map[string]*yGroup{}
		}
		s.Groups[name] = gr
		// And a rule that uses it.
		o := g.anyTable(s)
		op := []string{"select", "insert", "update", "delete"}[g.pick(4)]
		if r := g.member(s, o); r != nil {
			r.Group = name
			o.Policies[op] = append(o.Policies[op], r)
		}
		return "add group " + name + " over " + t.Name
	}},
	{"drop group", func(g *Gen, s *Schema) string {
		if len(s.Groups) == 0 {
			return ""
		}
		names := slices.Sorted(maps.Keys(s.Groups))
		name := names[g.pick(len(names))]
		delete(s.Groups, name)
		return "drop group " + name
	}},
	{"toggle immutable", func(g *Gen, s *Schema) string {
		t := g.anyTable(s)
		if t == nil {
			return ""
		}
		c := t.Columns[g.pick(len(t.Columns))]
		if c.Generated != "" {
			return "" // no statement writes it
		}
		c.Immutable = !c.Immutable
		return "toggle immutable " + t.Name + "." + c.Name
	}},
	{"toggle role", func(g *Gen, s *Schema) string {
		if s.Auth == nil {
			s.Auth = &yAuth{Roles: []string{"authenticated", "anonymous"}}
		}
		if len(s.Auth.Roles) > 2 && g.chance(0.5) {
			gone := s.Auth.Roles[len(s.Auth.Roles)-1]
			s.Auth.Roles = s.Auth.Roles[:len(s.Auth.Roles)-1]
			for _, t := range s.Tables {
				delete(t.Grants, gone)
				for _, rs := range t.Policies {
					for _, r := range rs {
						r.To = slices.DeleteFunc(r.To, func(x string) bool { return x == gone })
					}
				}
			}
			return "remove role " + gone
		}
		role := fmt.Sprintf("rlsm_role_%d", g.pick(3))
		if slices.Contains(s.Auth.Roles, role) {
			return ""
		}
		s.Auth.Roles = append(s.Auth.Roles, role)
		return "add role " + role
	}},
}

// forget clears last step's renamed_from marks, as a user may once a rename is applied.
func forget(s *Schema) {
	for _, t := range s.Tables {
		t.RenamedFrom = ""
		for _, c := range t.Columns {
			c.RenamedFrom, c.Using = "", ""
		}
	}
}

// New returns a generator drawing from the seeded source seed; the seed also chooses
// the Form its files are written in.
func New(seed uint64) *Gen {
	// seed/3: the convergence test draws for Supabase by seed%3, and both vary alike.
	return &Gen{r: rand.New(rand.NewPCG(seed, 7)), form: Form(seed / 3 % uint64(forms))}
}

// Schema returns a random schema.yaml.
func (g *Gen) Schema() *Schema { return g.schema() }

// Step returns a random edit of s (s is left as it was) and what it did, or "" when the
// edit it drew did not apply.
func (g *Gen) Step(s *Schema) (*Schema, string) {
	next := s.clone()
	if g.chance(0.5) {
		forget(next)
	}
	for _, t := range next.Tables {
		t.HadRows = len(t.Rows) > 0
	}
	// A quarter of the steps combine two or three edits, as one schema.yaml change
	// often does (a column renamed while a check over it goes).
	n := 1
	if g.chance(0.25) {
		n += 1 + g.pick(2)
	}
	var did []string
	for range n {
		if what := edits[g.pick(len(edits))].fn(g, next); what != "" {
			did = append(did, what)
			repair(next)
		}
	}
	if len(did) == 0 {
		return nil, ""
	}
	return next, strings.Join(did, " + ")
}

// YAML returns s as schema.yaml text (JSON, which is YAML).
func (s *Schema) YAML() string { return s.yaml() }
