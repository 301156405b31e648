// Package objects describes the object kinds that schema.yaml declares beside tables,
// columns, keys, indexes and policies, each kind in a file of its own: how the catalog
// holds it, how two of them compare, and the SQL that creates and drops it. The stages
// (compile, inspect, diff, render) carry every kind the same way, as schema.Object, so a
// new kind is one file here, its entry in Kinds, and its schema.yaml key and type.
package objects

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Lock is the lock a statement takes on the table its change concerns, as PostgreSQL
// takes it on a table that already holds rows.
type Lock int

// The locks statements take.
const (
	LockNone            Lock = iota // none that queries wait on: grants, objects outside tables, a new table
	LockBrief                       // ACCESS EXCLUSIVE for an instant: a catalog change
	LockScan                        // ACCESS EXCLUSIVE while it reads every row (SET NOT NULL unproven, a CHECK added valid)
	LockRewrite                     // ACCESS EXCLUSIVE while it rewrites the table (a type change)
	LockDefaultRewrite              // ACCESS EXCLUSIVE while it computes a volatile default for every row
	LockKeyBuild                    // ACCESS EXCLUSIVE while a key's index builds
	LockBuild                       // SHARE while an index builds
	LockConcurrentBuild             // SHARE UPDATE EXCLUSIVE while an index builds CONCURRENTLY
	LockConcurrentDrop              // SHARE UPDATE EXCLUSIVE until the transactions using the index end
	LockValidate                    // SHARE UPDATE EXCLUSIVE while it validates a constraint
	LockReference                   // SHARE ROW EXCLUSIVE on both tables, briefly (NOT VALID)
	LockReferenceScan               // SHARE ROW EXCLUSIVE on both tables while it checks every row
	LockRowWrites                   // ROW EXCLUSIVE, with every row updated and locked until the migration commits
)

// Lasts reports whether l is held for longer than an instant: while the statement
// reads, rewrites or builds, or until other transactions end.
func (l Lock) Lasts() bool { return l != LockNone && l != LockBrief && l != LockReference }

// Statement is one SQL statement of an object kind, with the lock it takes.
type Statement struct {
	SQL  string
	Lock Lock
	// Online statements run after the migration's transaction, each on its own
	// (a constraint's validation, which lets writers go on).
	Online bool
}

// Where says where a created object's table stands.
type Where int

// The places an object is created in.
const (
	NewTable      Where = iota // a table created in the same migration: empty
	InTransaction              // a table that may hold rows, in one transaction (a rollback)
	Online                     // a table that may hold rows, with work that reads them done online
)

// Kind is one object kind. Its changes are the diff kinds Name+".create", ".drop" and
// ".alter" (in place when the kind says how, else drop, then create).
type Kind struct {
	Name string
	// Declare returns the objects of the kind that schema.yaml declares, each with its
	// position: for a kind on tables, those of table t of f; otherwise those of f
	// (t is nil).
	Declare func(f *policy.File, t *policy.Table) []Declared
	// Namespace is where PostgreSQL keeps one name: "constraint" for the constraints of
	// a table. compile refuses a declared name that rlsmigrate gives another object there.
	Namespace string
	// OnTable says its objects belong to a table (schema.Table.Objects): they are read
	// with the table, follow its renames, go with it when it is dropped, and are made on
	// its stand-in when schema.yaml is normalised. Otherwise they belong to a database
	// schema (schema.Schema.Objects).
	OnTable bool
	// Query reads the kind's objects from the catalog, in one statement. For a kind on
	// tables: rows of (table oid, name, attrs, items) of the tables whose oids the
	// subquery %s returns; otherwise rows of (schema, name, attrs, items) of the
	// database schemas in $1. attrs is a jsonb object of text values, items a text[].
	Query string
	// Exprs are the attributes that hold SQL expressions over the table's columns:
	// compared by parse tree, and renamed with the columns.
	Exprs []string
	// ColumnLists are the attributes that hold column names, quoted as needed and
	// separated by ", ": renamed with the columns.
	ColumnLists []string
	// Create returns the statements that create o on table (qualified and quoted; ""
	// for a kind outside tables).
	Create func(table string, o *schema.Object, where Where) []Statement
	// Drop returns the statements that drop o.
	Drop func(table string, o *schema.Object) []Statement
	// Alter returns the statements that turn old into new in place, or with anew set,
	// by making it anew where the kind can (see Anew); nil (the field) drops and
	// creates instead.
	Alter func(table string, old, new *schema.Object, anew bool) []Statement
	// Anew reports whether turning old into new must make the object anew rather than
	// alter it in place, because schema to uses, in the same migration, what the
	// alteration adds (PostgreSQL refuses an enum value added in a transaction to be
	// used in it). A rollback always makes it anew. nil: never.
	Anew func(old, new *schema.Object, to *schema.Schema) bool
	// StandIn returns the statement that makes a temporary stand-in of o, of a kind
	// outside tables, named name, which Query reads back (from the session's temporary
	// schema) to put o's expressions (and Printed attributes) in PostgreSQL's printed
	// form; "" when o needs none, nil when no object of the kind does.
	StandIn func(o *schema.Object, name string) string
	// Printed are attributes, besides Exprs, that the stand-in gives in the form
	// PostgreSQL prints them (a function's arguments with their defaults).
	Printed []string
	// Users returns the roles that use o (may call a function): they need USAGE on its
	// database schema. nil: none.
	Users func(o *schema.Object) []string
	// Hazard returns the hazard (a diff.Hazard) of creating new (old nil) or turning
	// old into new where rows may exist, or ""; nil for none ever.
	Hazard func(old, new *schema.Object) string
	// Summary describes o in one line for reports.
	Summary func(o *schema.Object) string
	// TypeName returns the name a column gives an object of a kind that is a type
	// converting to and from other types only through its text form (an enum), as
	// PostgreSQL prints it; nil for other kinds.
	TypeName func(o *schema.Object) string
	// DeclaredOnly leaves a database's objects of the kind that schema.yaml has never
	// declared alone: apps keep hand-written functions and triggers beside rlsmigrate's
	// (and diff reports around the policies what lets a role past them). One
	// schema.yaml stops declaring is still dropped by the next migration.
	DeclaredOnly bool
	// Lazy reads a database for objects of the kind only when schema.yaml declares some:
	// one it holds otherwise cannot widen access (a CHECK only refuses rows), and the
	// query costs every diff. DeclaredOnly kinds are lazy too.
	Lazy bool
	// DropHazard is the hazard of dropping one where rows may exist (a declared row
	// deleted), or "".
	DropHazard string
	// Rows, for a kind whose objects are rows a table holds rather than catalog entries
	// (a reference table's declared rows), returns the query reading the declared
	// objects os from table as it holds them: rows of (index into os, attrs jsonb). Only
	// what schema.yaml declares is read; nil for kinds the catalog holds (Query).
	Rows func(table string, os []*schema.Object) string
	// RenameColumns renames the columns renames maps (old name to new, all at once)
	// wherever o names them otherwise than in its Exprs and ColumnLists (a row's values,
	// keyed by column), as PostgreSQL's renames make the object follow; nil: nowhere
	// else.
	RenameColumns func(o *schema.Object, renames map[string]string)
	// RenameTables renames the tables o names (a publication's), as renames maps them
	// (schema.name, old to new), as PostgreSQL's renames make the object follow; nil:
	// its objects name no table, or only through SQL they are made anew from.
	RenameTables func(o *schema.Object, renames map[string]string)
	// Values says the objects' attributes are values of the table's columns, by column
	// name: normalisation puts each in the text form PostgreSQL gives it in the
	// column's type, the form Rows reads.
	Values bool
	// CreateAfter and DropAfter are the diff kinds whose changes the kind's creations
	// (and alterations) and its drops follow in apply order.
	CreateAfter, DropAfter string
}

// Declared is an object schema.yaml declares, and where.
type Declared struct {
	Object *schema.Object
	Pos    policy.Pos
}

// Kinds are every object kind, in the order their changes are described.
var Kinds = []*Kind{&Check, &Enum, &Routine, &Trigger, &ExternalTrigger, &View, &Publication, &Row, &Copy}

// Of returns the kind of o.
func Of(o *schema.Object) *Kind {
	for _, k := range Kinds {
		if k.Name == o.Kind {
			return k
		}
	}
	panic("objects: unknown object kind " + o.Kind)
}

// TextTypes returns the column types that the objects of the schemas define and that
// convert only through text (see Kind.TypeName).
func TextTypes(schemas ...*schema.Schema) []string {
	var out []string
	for _, s := range schemas {
		for _, o := range s.Objects {
			if k := Of(o); k.TypeName != nil {
				out = append(out, k.TypeName(o))
			}
		}
	}
	return out
}

// Same reports whether a and b, two objects of one kind, mean the same: their
// expressions by parse tree, their other attributes and items as text.
func Same(a, b *schema.Object) bool {
	k := Of(a)
	if len(a.Attrs) != len(b.Attrs) || !slices.Equal(a.Items, b.Items) {
		return false
	}
	for key, av := range a.Attrs {
		bv, ok := b.Attrs[key]
		if !ok || (av != bv && !(slices.Contains(k.Exprs, key) && sqlparse.Equivalent(av, bv))) {
			return false
		}
	}
	return true
}

// Mentions reports whether o, an object of a table, names column in an expression or a
// column list: what a change of the column's type, or its making anew, gets in the way
// of.
func Mentions(o *schema.Object, column string) bool {
	k := Of(o)
	for _, key := range k.Exprs {
		if sqlparse.MentionsIdent(o.Attrs[key], column) {
			return true
		}
	}
	for _, key := range k.ColumnLists {
		if slices.Contains(strings.Split(o.Attrs[key], ", "), sqlident.Quote(column)) {
			return true
		}
	}
	return false
}

// Declares reports whether exposure x (a function or view that reads past row-level
// security) is one s declares, with who may use it: schema.yaml says so on purpose (a
// view with its reason), and generate said widens-access when it was made so.
func Declares(s *schema.Schema, x *schema.Exposure) bool {
	for _, o := range s.Objects {
		switch {
		case x.Kind == "function" && o.Kind == Routine.Name:
			if o.Schema == x.Schema && o.Attrs["function"] == x.Routine && o.Attrs["types"] == x.Types {
				return true
			}
		case x.Kind == "view" && o.Kind == View.Name:
			if o.Schema == x.Schema && o.Name == x.Name {
				return true
			}
		}
	}
	return false
}

// revokeEveryone returns a DO block that revokes every privilege on the object ref (a
// TABLE or FUNCTION, looked up as ref::cast in catalog) from every role but its owner
// that holds one: what default privileges gave is gone, and grants follow as declared.
// acl is the object's privileges (NULL: its defaults) and owner its owner's column.
func revokeEveryone(keyword, catalog, acl, owner, ref, cast string) string {
	lit := sqlident.Literal(ref)
	return "DO " + sqlident.DollarQuote(fmt.Sprintf(`
DECLARE
  r record;
BEGIN
  FOR r IN SELECT DISTINCT a.grantee FROM %[1]s x, aclexplode(coalesce(x.%[2]s)) a
      WHERE x.oid = %[3]s::%[4]s AND a.grantee <> x.%[5]s LOOP
    EXECUTE format('REVOKE ALL ON %[6]s %%s FROM %%s', %[3]s::%[4]s,
      CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END);
  END LOOP;
END
`, catalog, acl, lit, cast, owner, keyword)) + ";"
}

// Read returns the kinds a database must be read for to compare it with s: every kind
// but the lazy ones (DeclaredOnly, Lazy), and those s declares.
func Read(s *schema.Schema) []*Kind {
	declared := map[string]bool{}
	for _, o := range s.Objects {
		declared[o.Kind] = true
	}
	for _, t := range s.Tables {
		for _, o := range t.Objects {
			declared[o.Kind] = true
		}
	}
	out := []*Kind{}
	for _, k := range Kinds {
		if !(k.DeclaredOnly || k.Lazy) || declared[k.Name] {
			out = append(out, k)
		}
	}
	return out
}
