// Package diff compares two schemas and lists the typed changes that turn the first into
// the second, each with the hazards it carries.
package diff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// Kind names what a change does; it is also the finding kind in reports.
type Kind string

// The change kinds, listed in the phase order they are applied in.
const (
	RoleMembership   Kind = "role.membership"
	RoleBypass       Kind = "role.bypass"
	TableOwner       Kind = "table.owner"
	ViewInvoker      Kind = "view.security_invoker"
	MatviewReadable  Kind = "materialized_view.readable"
	FunctionDefiner  Kind = "function.security_definer"
	TableExposes     Kind = "table.exposes_rls_rows"
	DefaultPrivilege Kind = "default_privileges.revoke"
	SchemaCreateDrop Kind = "schema.create.revoke"
	GrantOptionDrop  Kind = "grant.grant_option.revoke"
	SequenceRevoke   Kind = "sequence.grant.revoke"
	RoleCreate       Kind = "role.create"
	AuthSetup        Kind = "auth.setup"
	FunctionMissing  Kind = "function.missing"
	FunctionCreate   Kind = "function.create"
	FunctionReplace  Kind = "function.replace"
	FunctionDrop     Kind = "function.drop"
	FunctionAlter    Kind = "function.definition"
	SchemaCreate     Kind = "schema.create"
	TableRename      Kind = "table.rename"
	ColumnRename     Kind = "column.rename"
	PolicyRename     Kind = "policy.rename"
	IndexRename      Kind = "index.rename"
	ConstraintRename Kind = "constraint.rename"
	PolicyDrop       Kind = "policy.drop"
	IndexDrop        Kind = "index.drop"
	ForeignKeyDrop   Kind = "column.references.drop"
	UniqueDrop       Kind = "column.unique.drop"
	PrimaryKeyDrop   Kind = "table.primary_key.drop"
	GrantRevoke      Kind = "grant.revoke"
	UsageRevoke      Kind = "schema.usage.revoke"
	TableCreate      Kind = "table.create"
	ColumnAdd        Kind = "column.add"
	ColumnType       Kind = "column.type"
	ColumnDefault    Kind = "column.default"
	ColumnNotNull    Kind = "column.not_null"
	ColumnIdentity   Kind = "column.identity"
	PrimaryKeyAdd    Kind = "table.primary_key.add"
	UniqueAdd        Kind = "column.unique.add"
	ForeignKeyAdd    Kind = "column.references.add"
	IndexCreate      Kind = "index.create"
	RLSEnable        Kind = "table.rls.enable"
	ForceRLSEnable   Kind = "table.force_rls.enable"
	PolicyCreate     Kind = "policy.create"
	PolicyAlter      Kind = "policy.alter"
	GrantAdd         Kind = "grant.add"
	UsageGrant       Kind = "schema.usage.grant"
	ForceRLSDisable  Kind = "table.force_rls.disable"
	RLSDisable       Kind = "table.rls.disable"
	ColumnDrop       Kind = "column.drop"
	TableDrop        Kind = "table.drop"
)

// Statement steps: phases that the renderer places some statements of other kinds in,
// so that each column change applies in an order PostgreSQL accepts. No change has them.
const (
	ColumnIdentityDrop Kind = "column.identity.drop" // before a default or type is set
	ColumnDefaultDrop  Kind = "column.default.drop"  // before the type changes
	PoliciesLift       Kind = "policy.lift"          // a table's policies, before its column types change
	PoliciesRestore    Kind = "policy.restore"       // and back, right after
)

// Effect says what a change does to the object it concerns, as reports show it.
type Effect string

// The effects.
const (
	Adds    Effect = "missing"   // creates an object the from side lacks
	Removes Effect = "extra"     // removes an object the to side lacks
	Alters  Effect = "different" // changes an object both sides have
)

// descriptor is what the differ, the inverter and reports know of one change kind.
type descriptor struct {
	kind    Kind
	inverse Kind   // the kind that undoes it; "" when a rollback leaves it in place
	effect  Effect // for reports
	step    bool   // a statement step, not a change
}

// kinds lists every change kind in the order changes are applied: renames first, then
// whatever must go before objects change, then creations, then access rules, and what
// destroys data last. Roles, the identity functions and schemas may be shared, so a
// rollback leaves them.
var kinds = []descriptor{
	// Found only by diff: what lets a declared role past row-level security.
	{RoleMembership, "", Removes, false},
	{RoleBypass, "", Alters, false},
	{TableOwner, "", Alters, false},
	{ViewInvoker, "", Alters, false},
	{MatviewReadable, "", Removes, false},
	{FunctionDefiner, "", Alters, false},
	{TableExposes, "", Removes, false},
	{DefaultPrivilege, "", Removes, false},
	{SchemaCreateDrop, "", Removes, false},
	{GrantOptionDrop, "", Removes, false},
	{SequenceRevoke, "", Removes, false},
	{RoleCreate, "", Adds, false},
	{AuthSetup, "", Alters, false},
	{FunctionMissing, "", Adds, false},
	{FunctionAlter, "", Alters, false},
	{SchemaCreate, "", Adds, false},
	{TableRename, TableRename, Alters, false},
	{ColumnRename, ColumnRename, Alters, false},
	{PolicyRename, PolicyRename, Alters, false},
	{IndexRename, IndexRename, Alters, false},
	{ConstraintRename, ConstraintRename, Alters, false},
	{PolicyDrop, PolicyCreate, Removes, false},
	{IndexDrop, IndexCreate, Removes, false},
	{ForeignKeyDrop, ForeignKeyAdd, Removes, false},
	{UniqueDrop, UniqueAdd, Removes, false},
	{PrimaryKeyDrop, PrimaryKeyAdd, Removes, false},
	{GrantRevoke, GrantAdd, Removes, false},
	{UsageRevoke, UsageGrant, Removes, false},
	{TableCreate, TableDrop, Adds, false},
	{ColumnAdd, ColumnDrop, Adds, false},
	{ColumnIdentityDrop, "", Alters, true},
	{ColumnDefaultDrop, "", Alters, true},
	{PoliciesLift, "", Alters, true},
	{ColumnType, ColumnType, Alters, false},
	{PoliciesRestore, "", Alters, true},
	{ColumnDefault, ColumnDefault, Alters, false},
	{ColumnNotNull, ColumnNotNull, Alters, false},
	{ColumnIdentity, ColumnIdentity, Alters, false},
	{PrimaryKeyAdd, PrimaryKeyDrop, Adds, false},
	{UniqueAdd, UniqueDrop, Adds, false},
	{ForeignKeyAdd, ForeignKeyDrop, Adds, false},
	{IndexCreate, IndexDrop, Adds, false},
	// Group functions read tables as they stand after every column change, and come
	// before the policies that call them; they go after the tables whose policies call
	// them (PostgreSQL records that dependency).
	{FunctionCreate, FunctionDrop, Adds, false},
	{FunctionReplace, FunctionReplace, Alters, false},
	{RLSEnable, RLSDisable, Alters, false},
	{ForceRLSEnable, ForceRLSDisable, Alters, false},
	{PolicyCreate, PolicyDrop, Adds, false},
	{PolicyAlter, PolicyAlter, Alters, false},
	{GrantAdd, GrantRevoke, Adds, false},
	{UsageGrant, UsageRevoke, Adds, false},
	{ForceRLSDisable, ForceRLSEnable, Alters, false},
	{RLSDisable, RLSEnable, Alters, false},
	{ColumnDrop, ColumnAdd, Removes, false},
	{TableDrop, TableCreate, Removes, false},
	{FunctionDrop, FunctionCreate, Removes, false},
}

func describeKind(k Kind) (descriptor, int) {
	for i, d := range kinds {
		if d.kind == k {
			return d, i
		}
	}
	panic(fmt.Sprintf("diff: unknown change kind %q", k))
}

// Phase returns the position of k in the apply order.
func Phase(k Kind) int {
	_, i := describeKind(k)
	return i
}

// Hazard is a risk a change carries.
type Hazard string

// The hazards; the first four are refused unless allowed explicitly, the others are
// shown.
const (
	DeletesData   Hazard = "deletes-data"   // drops a table or column, or rewrites a column's type
	DropsPolicy   Hazard = "drops-policy"   // removes a policy
	DisablesRLS   Hazard = "disables-rls"   // turns row-level security or its forcing off
	WidensAccess  Hazard = "widens-access"  // grants more, to more roles, or allows every row
	ChangesAccess Hazard = "changes-access" // rewrites a policy condition
	MayFail       Hazard = "may-fail"       // fails if existing rows break a new NOT NULL
)

// BlockingHazards are the hazards generate refuses unless they are allowed.
var BlockingHazards = []Hazard{DeletesData, DropsPolicy, DisablesRLS, WidensAccess}

// Blocking reports whether h must be allowed explicitly.
func (h Hazard) Blocking() bool { return slices.Contains(BlockingHazards, h) }

// Change is one step from the old schema to the new. OldTable and NewTable are the
// table before and after; Old and New hold the object the change concerns on each side,
// empty when the object is created or dropped.
type Change struct {
	Kind     Kind
	Schema   string // database schema of the object
	Table    string // table name, "" for objects outside tables
	Name     string // role, column, policy or index name, or the old name of a rename
	Role     string // for grants and schema usage
	OldTable *schema.Table
	NewTable *schema.Table
	Old, New Side
	Hazards  []Hazard
	// Rewrite applies the fix of a change to an object rlsmigrate does not own (see
	// Owned) instead of printing it as a suggestion.
	Rewrite bool
}

// Side is the object a change concerns, on one side of it. Exactly the field that fits
// the change's kind is set, or none when the object does not exist on that side.
type Side struct {
	Column     *schema.Column
	Policy     *schema.Policy
	Index      *schema.Index
	Privileges []string
	Auth       *schema.Auth
	Constraint string // a constraint's name
	Role       string // a role: a table's owner, a role another is a member of, how a role bypasses
	Definition string // a function's definition
	Function   *schema.Function
	Exposure   *schema.Exposure
	Default    *schema.DefaultPrivilege
}

// Security reports whether c, found by comparing a database (from) with schema.yaml
// (to), means the database lets a role read or write more than the file says: a role
// past row-level security, a table owned by another role, a grant, a permissive policy
// or a policy condition the file lacks, row-level security off or unforced.
func (c *Change) Security() bool {
	switch c.Kind {
	case RoleMembership, RoleBypass, TableOwner, FunctionAlter, FunctionReplace, GrantRevoke, UsageRevoke, PolicyAlter, RLSEnable, ForceRLSEnable,
		ViewInvoker, MatviewReadable, FunctionDefiner, TableExposes, DefaultPrivilege, SchemaCreateDrop, GrantOptionDrop, SequenceRevoke:
		return true
	case FunctionDrop:
		return c.Old.Function != nil && c.Old.Function.SecurityDefiner && len(c.Old.Function.Execute) > 0
	case PolicyDrop:
		return c.Old.Policy != nil && !c.Old.Policy.Restrictive
	case IndexCreate:
		// A unique index the database lacks (or holds invalid, after a failed
		// concurrent build, which inspect reads as absent) enforces nothing.
		return c.New.Index != nil && c.New.Index.Unique
	}
	return false
}

// Owned reports whether rlsmigrate owns the object c changes. It does not own the views
// and functions that expose tables (Exposure): their fix is printed as a suggestion
// unless the caller allows rewriting them.
func (c *Change) Owned() bool {
	switch c.Kind {
	case ViewInvoker, MatviewReadable, FunctionDefiner, TableExposes:
		return false
	}
	return true
}

// Effect returns what c does to its object: adds it, removes it, or alters it.
func (c *Change) Effect() Effect {
	if c.Kind == ForeignKeyAdd && c.Old.Column != nil && c.Old.Column.References != nil {
		return Alters // a key replaced by another
	}
	d, _ := describeKind(c.Kind)
	return d.effect
}

// Object returns the qualified name of the object a change concerns.
func (c *Change) Object() string {
	var parts []string
	if c.Schema != "" {
		parts = append(parts, c.Schema)
	}
	if c.Table != "" {
		parts = append(parts, c.Table)
	}
	if c.Name != "" {
		parts = append(parts, c.Name)
	}
	if c.Role != "" && c.Name == "" {
		parts = append(parts, c.Role)
	}

	return strings.Join(parts, ".")
}

// Blocking returns the hazards of c that must be allowed explicitly.
func (c *Change) Blocking() []Hazard {
	var out []Hazard
	for _, h := range c.Hazards {
		if h.Blocking() {
			out = append(out, h)
		}
	}
	return out
}

func (c *Change) String() string {
	s := fmt.Sprintf("%s %s", c.Kind, c.Object())
	if was := c.oldName(); was != "" {
		s += " (was " + was + ")"
	}
	if len(c.Hazards) > 0 {
		hs := make([]string, len(c.Hazards))
		for i, h := range c.Hazards {
			hs[i] = string(h)
		}
		s += " [" + strings.Join(hs, ", ") + "]"
	}
	return s
}

// oldName returns the name a renamed object had, or "".
func (c *Change) oldName() string {
	switch c.Kind {
	case TableRename:
		return c.OldTable.Name
	case ColumnRename:
		return c.Old.Column.Name
	case PolicyRename:
		return c.Old.Policy.Name
	case IndexRename:
		return c.Old.Index.Name
	case ConstraintRename:
		return c.Old.Constraint
	}
	return ""
}

// Kinds returns every change kind in apply order.
func Kinds() []Kind {
	var out []Kind
	for _, d := range kinds {
		if !d.step {
			out = append(out, d.kind)
		}
	}
	return out
}
