// Package policy defines the schema.yaml format: its types, Load, and the validation that
// names the file, line and column of every problem it finds.
package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Version is the only schema.yaml format version this package reads.
const Version = 1

// Providers lists the accepted values of auth.provider.
var Providers = []string{"pg_session_jwt", "supabase", "claims", "none"}

// IdentityTypes lists the accepted values of auth.user_type.
var IdentityTypes = []string{"uuid", "text", "bigint"}

// Supabase's identity: auth.uid() returns the caller's id as uuid, auth.jwt() the
// claims; its roles exist on every Supabase database.
const (
	SupabaseUserID = "auth.uid()"
	SupabaseClaims = "auth.jwt()"
)

// Operations lists the operations a policy rule can govern, in the order they are emitted.
var Operations = []string{"select", "insert", "update", "delete"}

// Privileges lists the table privileges a grant may name.
var Privileges = []string{"select", "insert", "update", "delete", "truncate", "references", "trigger"}

// DefaultUserID is the SQL expression for the caller's id when auth.user_id is not set.
const DefaultUserID = "auth.user_id()"

// DefaultRole is the role a rule applies to when it names none.
const DefaultRole = "authenticated"

// Pos is a position in schema.yaml, 1-based.
type Pos struct {
	Line, Col int
}

// DefaultLockTimeout bounds how long a migration's statement waits for a lock.
const DefaultLockTimeout = "2s"

// File is a parsed and validated schema.yaml.
type File struct {
	Path    string
	Version int
	Auth    Auth
	// LockTimeout is how long each statement of a generated migration may wait for a
	// lock before it fails (and up retries), as PostgreSQL reads it: "2s", "500ms".
	LockTimeout string
	// Groups are the named sets of ids related to the caller that member rules use, in
	// declaration order.
	Groups []*Group
	Tables []*Table
	Enums  []*Enum
	// External are tables that exist but that rlsmigrate does not manage (Supabase's
	// auth.users): columns may reference them and groups may read them; no migration
	// creates or changes them. Each has External set and only its columns' names, types
	// and primary key.
	External []*Table
	// Functions are the functions schema.yaml declares, with their bodies.
	Functions    []*Routine
	Views        []*View
	Publications []*Publication
	// Users are the claims verify's synthetic callers carry in the tests, by tester
	// name (alice, bob, nobody).
	Users map[string]*TestUser
	// copyReaders maps each table to the copy columns that read it, as validation
	// found them; nil before validation.
	copyReaders map[*Table][]CopyColumn
}

// CopyColumn is a copy column and its table.
type CopyColumn struct {
	Table  *Table
	Column *Column
}

// TestUser is what schema.yaml says of one of verify's synthetic callers.
type TestUser struct {
	// Claims are the JWT claims the caller carries in the tests besides sub (its id):
	// JSON values by top-level claim name.
	Claims map[string]any
	Pos    Pos
}

// Publication is a logical-replication publication and the declared tables it
// publishes (Supabase Realtime reads supabase_realtime). It may exist already: a
// migration makes sure it does and sets its tables.
type Publication struct {
	Name   string
	Tables []string // schema.name of declared tables, sorted
	Pos    Pos
}

// View is a view schema.yaml declares.
type View struct {
	Schema, Name string
	Query        string
	// Invoker runs the query as the caller (security_invoker, the default), under the
	// policies of the tables it reads; otherwise as the view's owner, past them.
	Invoker bool
	// Reason says why a view runs as its owner: required when it reads a table with
	// row-level security.
	Reason string
	Grants []string // the roles that may SELECT from it
	reads  []tableRead
	Pos    Pos
}

// Routine is a function schema.yaml declares: its whole definition, and who may call it.
type Routine struct {
	Schema, Name string
	Args         []*Arg
	// Returns is its result: a type as PostgreSQL prints it, "SETOF <type>", trigger
	// or void.
	Returns    string
	Language   string // sql or plpgsql
	Volatility string // volatile (the default), stable or immutable
	Definer    bool   // SECURITY DEFINER
	// SearchPath is the search_path it runs with: nil leaves the caller's; empty, none
	// (''). A definer function must set it.
	SearchPath []string
	Body       string
	// Grants are the roles granted EXECUTE; PUBLIC's is revoked unless "public" is one.
	Grants []string
	Pos    Pos
}

// Arg is one argument of a function.
type Arg struct {
	Name, Type string
	Default    string // SQL expression callers may leave the argument to, or ""
}

// Signature returns schema.name(type, ...), as messages name the function.
func (r *Routine) Signature() string {
	types := make([]string, len(r.Args))
	for i, a := range r.Args {
		types[i] = a.Type
	}
	return r.Schema + "." + r.Name + "(" + strings.Join(types, ", ") + ")"
}

// Enum is an enum type: a column of the type holds one of its values, ordered as listed.
type Enum struct {
	Schema string
	Name   string
	Values []string
	Pos    Pos
}

// Group is a set of ids related to the caller, such as the organizations the caller
// belongs to: the values of GroupColumn in the rows of Table whose UserColumn is the
// caller's id and that pass every filter. It compiles to one SECURITY DEFINER function,
// rls.<name>(), read once per statement.
type Group struct {
	Name        string
	Schema      string
	Table       string
	GroupColumn string
	UserColumn  string
	Where       []Filter
	Pos         Pos
}

// Filter is an equality filter on a group's table: the column equals one of the values.
type Filter struct {
	Column string
	Values []string
	Pos    Pos
}

// Group returns the group named name, or nil.
func (f *File) Group(name string) *Group {
	for _, g := range f.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Auth says where the caller's identity comes from and which roles exist.
type Auth struct {
	Provider string // pg_session_jwt, supabase, claims or none
	UserID   string // SQL expression for the caller's id
	// UserType is the caller's id's type as auth.user_type says it (uuid, text,
	// bigint), or "" to take it from the provider (see File.IdentityType).
	UserType string
	// Claims is the SQL expression for the caller's claims as jsonb, which claim rules
	// read; "" when the provider offers none.
	Claims string
	Roles  []string // roles that policies and grants may name
	Pos    Pos
}

// Table is one declared table.
type Table struct {
	Schema      string
	Name        string
	RenamedFrom string
	Columns     []*Column
	Owner       string // the ownership column, or ""
	OwnerIndex  bool   // index the owner column (default true)
	RLS         bool   // enable row-level security (default true)
	ForceRLS    bool
	Policies    []*Rule // in operation order, then declaration order
	Indexes     []*Index
	Grants      []*Grant // nil: derived from the policies
	Tests       []*Test  // checks rlsmigrate verify runs
	Comment     string   // COMMENT ON TABLE, or ""
	Checks      []*Check // CHECK constraints
	Triggers    []*Trigger
	Rows        []*Row // reference or config rows the table must hold
	External    bool   // declared under external: not managed
	Pos         Pos
}

// Row is a row a table must hold (a plan, a role's permission, a config value), found
// by its key: the table's primary key, or else its first unique key whose columns the
// row gives. A migration inserts it or updates it in place; taking it out of schema.yaml
// deletes it.
type Row struct {
	Columns []string  // as written
	Values  []*string // per column, as text; nil is NULL
	Key     []string  // the columns it is found by, in the key's order
	Pos     Pos
}

// Value returns the value r gives column, and whether it gives one; nil is NULL.
func (r *Row) Value(column string) (*string, bool) {
	i := slices.Index(r.Columns, column)
	if i < 0 {
		return nil, false
	}
	return r.Values[i], true
}

// Trigger runs a function on a table's rows (or statements) as they change.
type Trigger struct {
	Name    string
	Timing  string   // before or after
	Events  []string // insert, update, delete, truncate, in that order
	Columns []string // update of these columns only; nil for any
	ForEach string   // row (the default) or statement
	When    string   // a condition on OLD and NEW, or ""
	// Function is the trigger function, schema.name.
	Function string
	Pos      Pos
}

// Check is a table's CHECK constraint: rows for which Expr is false are refused.
type Check struct {
	Name string
	Expr string // one SQL expression over the table's columns
	Pos  Pos
}

// Testers are the callers a test can run as: the two synthetic users verify creates, and
// a caller with no identity.
var Testers = []string{"alice", "bob", "nobody"}

// Test is a statement verify runs as a caller, with the outcome it must have.
type Test struct {
	Name  string // optional, for reports
	As    string // alice, bob or nobody
	Role  string // the role it runs as; "" for verify's --role
	SQL   string
	Rows  int    // rows returned or affected, when Error is ""
	Error string // the SQLSTATE the statement must fail with, or ""
	// Claims are claims the caller carries in this test, over its user's: JSON values
	// by top-level claim name.
	Claims map[string]any
	Pos    Pos
}

// Column is one declared column.
type Column struct {
	Name       string
	Type       string
	NotNull    bool
	PrimaryKey bool
	Unique     bool
	Identity   string // "", "always" or "by default"
	Default    string // SQL expression, or ""
	// Generated is the expression a stored generated column computes from the row's
	// other columns (GENERATED ALWAYS AS (...) STORED), or "".
	Generated   string
	References  *Reference
	RenamedFrom string
	Using       string // SQL converting existing values when the type changes, or ""
	Comment     string // COMMENT ON COLUMN, or ""
	// Immutable columns cannot be changed by UPDATE: the roles get UPDATE on the other
	// columns only. ImmutableSet says the file wrote the key (false overrides a default).
	Immutable    bool
	ImmutableSet bool
	// Copy makes the column a copy of a column of the row another of the table's
	// columns references (a project's org_id on each of its tasks), kept in step by
	// triggers rlsmigrate writes and written by no one else; nil for a column the app
	// writes. A through rule that the copy answers reads the copy instead.
	Copy *Copy
	Pos  Pos
}

// Copy is where a copy column's value comes from: column Column of the row that column
// Via of the same table references.
type Copy struct {
	Via, Column string
	Pos         Pos
}

// CopyOf returns the column of t that copies column of the row that column via
// references, or nil.
func (t *Table) CopyOf(via, column string) *Column {
	for _, c := range t.Columns {
		if c.Copy != nil && c.Copy.Via == via && c.Copy.Column == column {
			return c
		}
	}
	return nil
}

// Reference is a column's foreign key.
type Reference struct {
	Schema   string
	Table    string
	Column   string
	OnDelete string // "", "cascade", "restrict", "set null", "set default", "no action"
	Pos      Pos
}

// Rule is one policy for one operation.
type Rule struct {
	Operation   string
	Kind        RuleKind
	Name        string // "" for a generated name
	To          []string
	Restrictive bool
	Using       string
	Check       string
	// Where is one SQL expression ANDed to the rule's condition, or "".
	Where    string
	WherePos Pos
	// Group and Column, for member rules: the row's Column must be in the caller's group.
	Group  string
	Column string
	// Through, for member rules: Column references a row of another table whose column
	// holds the group's id.
	Through *Through
	// Claims, for claim rules: every claim must hold one of its values.
	Claims []Claim
	Pos    Pos
	// reads are the tables its SQL (using, check, where) names, with their positions.
	reads []tableRead
}

// tableRead is a table a rule's SQL names, and where in the file.
type tableRead struct {
	Schema, Name string // Schema is "" when unqualified
	Pos          Pos
}

// Through reaches a group through a referenced table: Column of Schema.Table holds the
// group's id.
type Through struct {
	Schema string
	Table  string
	Column string
	Pos    Pos
}

// Claim is one JWT claim a claim rule requires: Path names it (nested claims by their
// dotted names), Values are those it may hold.
type Claim struct {
	Path   []string
	Values []string
}

// Index is a declared secondary index.
type Index struct {
	Name    string // "" for a generated name
	Columns []string
	Unique  bool
	Pos     Pos
}

// Grant gives one role privileges on a table.
type Grant struct {
	Role       string
	Privileges []string
	Pos        Pos
}

// Error is one problem in schema.yaml, printed as file:line:col: message.
type Error struct {
	File string
	Pos
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found in one schema.yaml, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// QualifiedName returns schema.name for messages.
func (t *Table) QualifiedName() string { return t.Schema + "." + t.Name }

// Column returns the column named name, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Table returns the managed table schema.name, or nil.
func (f *File) Table(schema, name string) *Table {
	for _, t := range f.Tables {
		if t.Schema == schema && t.Name == name {
			return t
		}
	}
	return nil
}

// TableIndex returns f's tables by schema and name: for finding many tables at once,
// where Table scans them all for each.
func (f *File) TableIndex() map[[2]string]*Table {
	out := make(map[[2]string]*Table, len(f.Tables))
	for _, t := range f.Tables {
		if k := [2]string{t.Schema, t.Name}; out[k] == nil {
			out[k] = t // the first, as Table finds
		}
	}
	return out
}

// Referable returns the table schema.name that a column may reference or a group
// read: a managed table, or else an external one; nil when neither is declared.
func (f *File) Referable(schema, name string) *Table {
	if t := f.Table(schema, name); t != nil {
		return t
	}
	for _, t := range f.External {
		if t.Schema == schema && t.Name == name {
			return t
		}
	}
	return nil
}
