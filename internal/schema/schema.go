// Package schema is the neutral model every source turns into and every output comes from:
// tables, columns, row-level-security flags, policies, grants and roles.
package schema

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Schema is a set of tables with their access rules, plus the roles and identity function
// they depend on.
type Schema struct {
	// Auth is how the caller's identity is provided; nil when the source cannot tell.
	Auth *Auth
	// Roles are the roles the schema declares.
	Roles []string
	// Functions are the signatures of the functions the policies depend on, such as
	// auth.user_id(), sorted.
	Functions []string
	// Schemas are the database schemas the tables live in, sorted.
	Schemas []string
	// SchemaUsage lists, per database schema, the roles granted USAGE on it, sorted.
	SchemaUsage map[string][]string
	// Tables are kept in declaration order: a table precedes the tables that reference it.
	Tables []*Table
	// Routines are the functions rlsmigrate owns besides the identity functions: one per
	// group (and per group reached through a table), in the order they are created.
	Routines []*Function
	// Objects are the objects of the kinds package objects describes that belong to a
	// database schema rather than to a table.
	Objects []*Object
	// External are tables that must exist, with these columns, and that rlsmigrate does
	// not manage (Supabase's auth.users): no migration builds them, so they are compared
	// only with a live database.
	External []*Table
}

// Object is one object of a kind that package objects describes (a CHECK constraint...):
// what names it, and its definition as the attributes and items its kind reads.
type Object struct {
	Kind   string
	Schema string
	Table  string // the table it belongs to; "" for an object of a database schema
	Name   string
	// Attrs are its attributes by the names its kind gives them: its definition.
	Attrs map[string]string
	// Items is an ordered list its kind holds (an enum's values); nil for most.
	Items []string
}

// Access is what a database says about who may get past row-level security, beside the
// schema it holds. inspect reads it; schema.yaml declares none of it and no migration
// builds it, so whatever a database has is drift.
type Access struct {
	// MigrationRole is the role that ran the migrations (the owner of goose's version
	// table), whom every table should belong to; "" when unknown.
	MigrationRole string
	// Bypass maps each declared role that gets past row-level security to how:
	// "superuser" or "bypassrls".
	Bypass map[string]string
	// MemberOf maps each declared role to the roles it is a member of that own a table
	// of the declared schemas or get past row-level security: it acts as them.
	MemberOf map[string][]string
	// Definitions maps the signature of each identity function rlsmigrate writes (see
	// IdentityFunctions) to its definition, as Definition spells it; nil when not read.
	Definitions map[string]string
	// Exposures are the views, materialized views and SECURITY DEFINER functions of the
	// declared schemas that read a table with row-level security and that a declared
	// role or PUBLIC may use: they read as their owner, past the policies.
	Exposures []*Exposure
	// DefaultPrivileges are privileges that objects created later will carry for a
	// declared role or PUBLIC.
	DefaultPrivileges []*DefaultPrivilege
	// SchemaCreate maps each declared schema (and auth) to the declared roles, or
	// public, that may create objects in it.
	SchemaCreate map[string][]string
	// Tables holds what each table read says, by schema.name.
	Tables map[string]*TableAccess
}

// TableAccess is what a database says about who may get past one table's row-level
// security.
type TableAccess struct {
	// OwnerRole is the role that owns the table: it bypasses row-level security unless
	// it is forced.
	OwnerRole string
	// GrantOptions maps each role to the privileges it may grant on to others.
	GrantOptions map[string][]string
	// SequenceGrants are the privileges held on the table's own sequences.
	SequenceGrants []*SequenceGrant
}

// Table returns what a says about table schemaName.name; an empty value when it says
// nothing (or a is nil).
func (a *Access) Table(schemaName, name string) *TableAccess {
	if a != nil {
		if ta := a.Tables[schemaName+"."+name]; ta != nil {
			return ta
		}
	}
	return &TableAccess{}
}

// Exposure is an object that reads tables with row-level security as its owner and that
// app roles may use.
type Exposure struct {
	// Kind is view, materialized view, function, procedure, parent table (whose
	// inheritance children or partitions have row-level security) or copy table (into
	// which a trigger or rule of a table with it writes).
	Kind         string
	Schema, Name string // for a function, Name holds its identity arguments: f(integer)
	// Routine and Args are a function's or procedure's name and identity arguments,
	// apart: its name may hold "(" and SQL, so Name is for messages only.
	Routine, Args   string
	Types           string   // a function's argument types, as oidvectortypes spells them
	Reads           []string // the tables with row-level security it reads, schema.name
	Roles           []string // the declared roles, or public, that may use it
	SecurityInvoker bool     // a view with security_invoker: it reads as its caller
	// Opaque says why a function's body cannot be analysed (dynamic SQL...): it may then
	// read every table in Reads, those its owner gets past.
	Opaque   string
	Volatile bool // a volatile function or procedure: it may act outside a transaction
}

// QualifiedName returns schema.name for messages.
func (e *Exposure) QualifiedName() string { return e.Schema + "." + e.Name }

// DefaultPrivilege is an ALTER DEFAULT PRIVILEGES grant: objects of ObjectType (TABLES,
// SEQUENCES, FUNCTIONS, TYPES, SCHEMAS) that Owner creates, in Schema ("" for all),
// grant Privileges to Grantee.
type DefaultPrivilege struct {
	Owner, Schema, ObjectType, Grantee string
	Privileges                         []string
}

// IdentityFunction is a function rlsmigrate writes where pg_session_jwt is not
// installed: a SQL function with the extension's name and fallback semantics.
type IdentityFunction struct {
	Signature string // auth.session()
	Returns   string // its result type
	Body      string // its SQL body, exactly as written and as pg_proc.prosrc keeps it
}

// IdentityFunctions are the SQL fallbacks of pg_session_jwt's functions, in creation
// order: the claims JSON comes from the setting request.jwt.claims, which a trusted
// backend sets per transaction; user_id() is its "sub" as text; both are NULL when the
// setting is unset, so ownership policies fail closed.
var IdentityFunctions = []IdentityFunction{
	{"auth.session()", "jsonb", " SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb "},
	{"auth.user_id()", "text", " SELECT auth.session() ->> 'sub' "},
}

// Definition spells a SQL function's definition for comparison: language, volatility
// (i, s or v), SECURITY DEFINER, settings (SET search_path...), body.
func Definition(language, volatility string, securityDefiner bool, settings []string, body string) string {
	return fmt.Sprintf("language %s, volatility %s, security definer %v, settings [%s], body %q",
		language, volatility, securityDefiner, strings.Join(settings, ", "), body)
}

// Definition returns the definition rlsmigrate writes for f.
func (f IdentityFunction) Definition() string { return Definition("sql", "s", false, nil, f.Body) }

// Function is a SQL function rlsmigrate owns, such as rls.org_member(): its signature
// takes no arguments.
type Function struct {
	Schema          string
	Name            string
	Returns         string // as format_type spells it
	Language        string
	Volatility      string // i, s or v, as pg_proc.provolatile
	SecurityDefiner bool
	Settings        []string // as pg_proc.proconfig: search_path=""
	Body            string   // as pg_proc.prosrc keeps it
	// Execute lists the roles granted EXECUTE, sorted; "public" for PUBLIC.
	Execute []string
}

// Signature returns schema.name(), unquoted, for messages and keys.
func (f *Function) Signature() string { return f.Schema + "." + f.Name + "()" }

// Definition spells f's definition for comparison (see Definition), with its result.
func (f *Function) Definition() string {
	return "returns " + f.Returns + ", " + Definition(f.Language, f.Volatility, f.SecurityDefiner, f.Settings, f.Body)
}

// Routine returns the function schema.name, or nil.
func (s *Schema) Routine(schemaName, name string) *Function {
	for _, f := range s.Routines {
		if f.Schema == schemaName && f.Name == name {
			return f
		}
	}
	return nil
}

// Auth is the identity source.
type Auth struct {
	Provider string // pg_session_jwt, supabase, claims or none
	UserID   string // SQL expression for the caller's id
}

// PlatformBypass reports whether role gets past row-level security by the provider's
// design, so that it is no drift: Supabase's service_role, which backends use to act
// for every user. Unless schema.yaml declares it, its privileges are the platform's too.
func (a *Auth) PlatformBypass(role string) bool {
	return a != nil && a.Provider == "supabase" && role == "service_role"
}

// ExplicitGrants reports whether the provider's platform grants privileges on new
// tables by default (Supabase grants ALL on tables and sequences of public to anon,
// authenticated and service_role): migrations then revoke them from each table and
// identity sequence they create, so the grants are exactly schema.yaml's, and the
// default privileges themselves are the platform's, not drift.
func (a *Auth) ExplicitGrants() bool { return a != nil && a.Provider == "supabase" }

// PlatformSchemaUsage returns the roles of declared that the provider's platform
// grants USAGE on database schema name (Supabase: public to anon, authenticated and
// service_role).
func (a *Auth) PlatformSchemaUsage(name string, declared []string) []string {
	if a == nil || a.Provider != "supabase" || name != "public" {
		return nil
	}
	var out []string
	for _, r := range declared {
		if slices.Contains([]string{"anon", "authenticated", "service_role"}, r) {
			out = append(out, r)
		}
	}
	return out
}

// Table is one table.
type Table struct {
	Schema      string
	Name        string
	RenamedFrom string
	Columns     []*Column
	PrimaryKey  []string
	PKName      string // the constraint's name, if known
	RLS         bool
	ForceRLS    bool
	Policies    []*Policy
	Indexes     []*Index
	Grants      []*Grant // sorted by role
	Owner       string   // the ownership column, for reports
	Comment     string   // COMMENT ON TABLE; "" for none
	// Objects are the table's objects of the kinds package objects describes, sorted
	// by kind and name.
	Objects []*Object
}

// SequenceGrant is the privileges one role holds on a sequence.
type SequenceGrant struct {
	Sequence, Role string
	Privileges     []string
}

// Column is one column. Type and Default are SQL text.
type Column struct {
	Name    string
	Type    string
	NotNull bool
	Default string
	// Generated is a stored generated column's expression, or "" (Default is then "").
	Generated   string
	Identity    string // "", "always" or "by default"
	Unique      bool
	UniqueName  string // the constraint's name, if known
	References  *ForeignKey
	RenamedFrom string
	Comment     string // COMMENT ON COLUMN; "" for none
	// Using converts existing values when the type changes, as ALTER COLUMN ... TYPE ...
	// USING takes it; "" converts with a cast. It is an instruction for one migration,
	// not a property of the column: it is neither recorded nor compared.
	Using string
}

// ForeignKey is a single-column foreign key.
type ForeignKey struct {
	Name     string // the constraint's name, if known
	Schema   string
	Table    string
	Column   string
	OnDelete string // lower case; "" means no action
	// NotValid is set, by inspect, on a key added NOT VALID and never validated (an
	// online migration that failed at VALIDATE): it holds for new rows only. Never
	// recorded.
	NotValid bool
}

// Policy is one row-level-security policy.
type Policy struct {
	Name        string
	RenamedFrom string
	Command     string // select, insert, update, delete or all
	Restrictive bool
	Roles       []string // sorted; "public" for PUBLIC
	Using       string
	Check       string
	// Builtin is set when a built-in rule kind of schema.yaml (anyone, claim...) made the
	// policy, whose conditions then mean what that kind says; never recorded.
	Builtin bool
}

// Index is a secondary index over plain columns.
type Index struct {
	Name        string
	RenamedFrom string
	Columns     []string
	Unique      bool
}

// Grant is the table privileges held by one role, sorted, and its column privileges.
type Grant struct {
	Role       string
	Privileges []string
	// Columns maps a privilege held on some columns only (update) to those columns,
	// sorted.
	Columns map[string][]string
}

func sortObjects(objs []*Object) {
	slices.SortFunc(objs, func(a, b *Object) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Schema, b.Schema), strings.Compare(a.Name, b.Name))
	})
}

// Object returns t's object of kind kind named name, or nil.
func (t *Table) Object(kind, name string) *Object {
	for _, o := range t.Objects {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	return nil
}

// QualifiedName returns schema.name, unquoted, for messages and keys.
func (t *Table) QualifiedName() string { return t.Schema + "." + t.Name }

// Table returns the table with the given schema and name, or nil.
func (s *Schema) Table(schemaName, name string) *Table {
	for _, t := range s.Tables {
		if t.Schema == schemaName && t.Name == name {
			return t
		}
	}
	return nil
}

// TableIndex returns s's tables by schema and name: for finding many tables at once,
// where Table scans them all for each.
func (s *Schema) TableIndex() map[[2]string]*Table {
	out := make(map[[2]string]*Table, len(s.Tables))
	for _, t := range s.Tables {
		if k := [2]string{t.Schema, t.Name}; out[k] == nil {
			out[k] = t // the first, as Table finds
		}
	}
	return out
}

// Column returns the column named name, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Policy returns the policy named name, or nil.
func (t *Table) Policy(name string) *Policy {
	for _, p := range t.Policies {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Index returns the index named name, or nil.
func (t *Table) Index(name string) *Index {
	for _, ix := range t.Indexes {
		if ix.Name == name {
			return ix
		}
	}
	return nil
}

// Grant returns the privileges of role, or nil.
func (t *Table) Grant(role string) []string {
	if g := t.GrantOf(role); g != nil {
		return g.Privileges
	}
	return nil
}

// GrantOf returns the grant of role, or nil.
func (t *Table) GrantOf(role string) *Grant {
	for _, g := range t.Grants {
		if g.Role == role {
			return g
		}
	}
	return nil
}

// ColumnPrivileges returns the column privileges of role, each as ColumnPrivilege
// spells it, sorted.
func (t *Table) ColumnPrivileges(role string) []string {
	g := t.GrantOf(role)
	if g == nil {
		return nil
	}
	var out []string
	for priv, cols := range g.Columns {
		for _, c := range cols {
			out = append(out, ColumnPrivilege(priv, c))
		}
	}
	slices.Sort(out)
	return out
}

// ColumnPrivilege spells a privilege on one column: "update(task)".
func ColumnPrivilege(priv, column string) string { return priv + "(" + column + ")" }

// SplitPrivilege returns the privilege and column of a ColumnPrivilege, or the
// privilege and "" for a table privilege.
func SplitPrivilege(p string) (priv, column string) {
	i := strings.IndexByte(p, '(')
	if i < 0 || !strings.HasSuffix(p, ")") {
		return p, ""
	}
	return p[:i], p[i+1 : len(p)-1]
}

// Without returns the strings of a that b lacks, in a's order: the privileges or roles
// one side has and the other has not.
func Without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// PrivilegeOrder is the order privileges are listed in.
var PrivilegeOrder = []string{"select", "insert", "update", "delete", "truncate", "references", "trigger"}

// SortPrivileges sorts privileges in PrivilegeOrder and removes repeats.
func SortPrivileges(privs []string) []string {
	out := slices.Clone(privs)
	slices.SortFunc(out, func(a, b string) int {
		return slices.Index(PrivilegeOrder, a) - slices.Index(PrivilegeOrder, b)
	})
	return slices.Compact(out)
}

// Normalize puts every unordered list in a fixed order so that two schemas that mean the
// same compare equal field by field.
func (s *Schema) Normalize() {
	slices.Sort(s.Roles)
	s.Roles = slices.Compact(s.Roles)
	slices.Sort(s.Functions)
	s.Functions = slices.Compact(s.Functions)
	slices.Sort(s.Schemas)
	s.Schemas = slices.Compact(s.Schemas)
	for k, roles := range s.SchemaUsage {
		slices.Sort(roles)
		s.SchemaUsage[k] = slices.Compact(roles)
	}
	for _, t := range s.Tables {
		for _, p := range t.Policies {
			slices.Sort(p.Roles)
		}
		slices.SortFunc(t.Grants, func(a, b *Grant) int { return strings.Compare(a.Role, b.Role) })
		for _, g := range t.Grants {
			g.Privileges = SortPrivileges(g.Privileges)
			for p, cols := range g.Columns {
				slices.Sort(cols)
				g.Columns[p] = slices.Compact(cols)
			}
		}
		t.Grants = slices.DeleteFunc(t.Grants, func(g *Grant) bool { return len(g.Privileges) == 0 && len(g.Columns) == 0 })
		sortObjects(t.Objects)
	}
	sortObjects(s.Objects)
	for _, f := range s.Routines {
		slices.Sort(f.Execute)
	}
}
