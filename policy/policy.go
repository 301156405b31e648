// Package policy defines the schema.yaml format: its types, Load, and the validation that
// names the file, line and column of every problem it finds.
package policy

import (
	"fmt"
	"strings"
)

// Version is the only schema.yaml format version this package reads.
const Version = 1

// Providers lists the accepted values of auth.provider.
var Providers = []string{"pg_session_jwt", "claims", "none"}

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
	Tables      []*Table
}

// Auth says where the caller's identity comes from and which roles exist.
type Auth struct {
	Provider string   // pg_session_jwt, claims or none
	UserID   string   // SQL expression for the caller's id
	Roles    []string // roles that policies and grants may name
	Pos      Pos
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
	Pos         Pos
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
	Pos   Pos
}

// Column is one declared column.
type Column struct {
	Name        string
	Type        string
	NotNull     bool
	PrimaryKey  bool
	Unique      bool
	Identity    string // "", "always" or "by default"
	Default     string // SQL expression, or ""
	References  *Reference
	RenamedFrom string
	Using       string // SQL converting existing values when the type changes, or ""
	Pos         Pos
}

// Reference is a column's foreign key.
type Reference struct {
	Schema   string
	Table    string
	Column   string
	OnDelete string // "", "cascade", "restrict", "set null", "set default", "no action"
	Pos      Pos
}

// RuleKind says how a rule decides access.
type RuleKind string

// The rule kinds.
const (
	RuleOwner  RuleKind = "owner"  // the caller owns the row
	RuleAnyone RuleKind = "anyone" // every caller in the rule's roles
	RuleCustom RuleKind = "custom" // SQL in using/check
)

// Rule is one policy for one operation.
type Rule struct {
	Operation   string
	Kind        RuleKind
	Name        string // "" for a generated name
	To          []string
	Restrictive bool
	Using       string
	Check       string
	Pos         Pos
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

// Table returns the table schema.name, or nil.
func (f *File) Table(schema, name string) *Table {
	for _, t := range f.Tables {
		if t.Schema == schema && t.Name == name {
			return t
		}
	}
	return nil
}
