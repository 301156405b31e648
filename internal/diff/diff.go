// Package diff compares two schemas and lists the typed changes that turn the first into
// the second, each with the hazards it carries.
package diff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
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
	ExternalMissing  Kind = "external.missing"
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
	ColumnGenerated  Kind = "column.generated"
	ColumnDefault    Kind = "column.default"
	ColumnNotNull    Kind = "column.not_null"
	ColumnIdentity   Kind = "column.identity"
	TableComment     Kind = "table.comment"
	ColumnComment    Kind = "column.comment"
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
	PoliciesRestore    Kind = "policy.restore"       // and back, once the functions they call exist
)

// Effect says what a change does to the object it concerns, as reports show it.
type Effect string

// The effects.
const (
	Adds    Effect = "missing"   // creates an object the from side lacks
	Removes Effect = "extra"     // removes an object the to side lacks
	Alters  Effect = "different" // changes an object both sides have
)

// descriptor is everything the differ, the inverter and reports know of one change kind.
// Each kind is described once, in kinds; TestEveryKindIsDescribed holds every Kind
// constant to an entry.
type descriptor struct {
	kind    Kind
	inverse Kind   // the kind that undoes it; "" when a rollback leaves it in place
	effect  Effect // for reports
	step    bool   // a statement step, not a change
	// security tells whether a change of this kind, from a database to schema.yaml,
	// means the database lets a role read or write more than the file says; nil: never.
	security func(*Change) bool
	foreign  bool                 // fixes an object rlsmigrate does not own (see Owned)
	was      func(*Change) string // the old name of a renamed object
	// left names what a change creates that a rollback leaves in place, as migrations'
	// Down note says it; nil when a rollback removes it (or it is never generated).
	left func(*Change) string
	// namesRole: the object's name alone does not tell one change from another, its
	// role does (a sequence's privileges, one change per role).
	namesRole bool
	// object and op are the object kind and operation of a change to a schema.Object.
	object *objects.Kind
	op     ObjectOp
}

// ObjectOp is what a change does to an object of a kind package objects describes.
type ObjectOp string

// The operations on objects: an alteration drops the object and creates it anew.
const (
	ObjectCreate ObjectOp = "create"
	ObjectDrop   ObjectOp = "drop"
	ObjectAlter  ObjectOp = "alter"
)

// ObjectKind returns the kind of change to an object of kind k that does op.
func ObjectKind(k *objects.Kind, op ObjectOp) Kind { return Kind(k.Name + "." + string(op)) }

// withObjects returns base with the changes of every object kind placed in apply order:
// creations and alterations after the kind their CreateAfter names, drops after the one
// DropAfter names.
func withObjects(base []descriptor) []descriptor {
	out := slices.Clone(base)
	insertAfter := func(anchor string, ds ...descriptor) {
		i := slices.IndexFunc(out, func(d descriptor) bool { return string(d.kind) == anchor })
		if i < 0 {
			panic(fmt.Sprintf("diff: object kind %s is placed after %q, which is no change kind", ds[0].object.Name, anchor))
		}
		out = slices.Insert(out, i+1, ds...)
	}
	for _, k := range objects.Kinds {
		create, drop, alter := ObjectKind(k, ObjectCreate), ObjectKind(k, ObjectDrop), ObjectKind(k, ObjectAlter)
		insertAfter(k.DropAfter, descriptor{kind: drop, inverse: create, effect: Removes, object: k, op: ObjectDrop})
		insertAfter(k.CreateAfter,
			descriptor{kind: create, inverse: drop, effect: Adds, object: k, op: ObjectCreate},
			descriptor{kind: alter, inverse: alter, effect: Alters, object: k, op: ObjectAlter})
	}
	return out
}

// always is the security test of kinds whose every finding is one.
func always(*Change) bool { return true }

// kinds lists every change kind in the order changes are applied: renames first, then
// whatever must go before objects change, then creations, then access rules, and what
// destroys data last. Roles, the identity functions and schemas may be shared, so a
// rollback leaves them. The changes of object kinds are placed among them (withObjects).
var kinds = withObjects([]descriptor{
	// Found only by diff: what lets a declared role past row-level security.
	{kind: RoleMembership, effect: Removes, security: always},
	{kind: RoleBypass, effect: Alters, security: always},
	{kind: TableOwner, effect: Alters, security: always},
	{kind: ViewInvoker, effect: Alters, security: always, foreign: true},
	{kind: MatviewReadable, effect: Removes, security: always, foreign: true},
	{kind: FunctionDefiner, effect: Alters, security: always, foreign: true},
	{kind: TableExposes, effect: Removes, security: always, foreign: true},
	{kind: DefaultPrivilege, effect: Removes, security: always},
	{kind: SchemaCreateDrop, effect: Removes, security: always},
	{kind: GrantOptionDrop, effect: Removes, security: always},
	{kind: SequenceRevoke, effect: Removes, security: always, namesRole: true},
	{kind: RoleCreate, effect: Adds, left: func(c *Change) string { return "role " + c.Name }},
	{kind: AuthSetup, effect: Alters, left: identityFunctions},
	{kind: FunctionMissing, effect: Adds, left: identityFunctions},
	{kind: FunctionAlter, effect: Alters, security: always},
	// An external table (or a column of it) the database lacks: rlsmigrate does not
	// manage it, and what references it cannot be built.
	{kind: ExternalMissing, effect: Adds, foreign: true},
	{kind: SchemaCreate, effect: Adds, left: func(c *Change) string { return "schema " + c.Schema }},
	{kind: TableRename, inverse: TableRename, effect: Alters, was: func(c *Change) string { return c.OldTable.Name }},
	{kind: ColumnRename, inverse: ColumnRename, effect: Alters, was: func(c *Change) string { return c.Old.Column.Name }},
	{kind: PolicyRename, inverse: PolicyRename, effect: Alters, was: func(c *Change) string { return c.Old.Policy.Name }},
	{kind: IndexRename, inverse: IndexRename, effect: Alters, was: func(c *Change) string { return c.Old.Index.Name }},
	{kind: ConstraintRename, inverse: ConstraintRename, effect: Alters, was: func(c *Change) string { return c.Old.Constraint }},
	// A restrictive policy only ever narrows access: the database lacking it is drift.
	{kind: PolicyDrop, inverse: PolicyCreate, effect: Removes, security: func(c *Change) bool { return c.Old.Policy != nil && !c.Old.Policy.Restrictive }},
	{kind: IndexDrop, inverse: IndexCreate, effect: Removes},
	{kind: ForeignKeyDrop, inverse: ForeignKeyAdd, effect: Removes},
	{kind: UniqueDrop, inverse: UniqueAdd, effect: Removes},
	{kind: PrimaryKeyDrop, inverse: PrimaryKeyAdd, effect: Removes},
	{kind: GrantRevoke, inverse: GrantAdd, effect: Removes, security: always},
	{kind: UsageRevoke, inverse: UsageGrant, effect: Removes, security: always},
	{kind: TableCreate, inverse: TableDrop, effect: Adds},
	{kind: ColumnAdd, inverse: ColumnDrop, effect: Adds},
	{kind: ColumnIdentityDrop, effect: Alters, step: true},
	{kind: ColumnDefaultDrop, effect: Alters, step: true},
	{kind: PoliciesLift, effect: Alters, step: true},
	{kind: ColumnType, inverse: ColumnType, effect: Alters},
	// A generated column whose expression changes is made anew (PostgreSQL 15 cannot
	// alter it), between the policies lifted off it and their return; one that stops
	// being generated keeps its values.
	{kind: ColumnGenerated, inverse: ColumnGenerated, effect: Alters},
	{kind: ColumnDefault, inverse: ColumnDefault, effect: Alters},
	{kind: ColumnNotNull, inverse: ColumnNotNull, effect: Alters},
	{kind: ColumnIdentity, inverse: ColumnIdentity, effect: Alters},
	{kind: TableComment, inverse: TableComment, effect: Alters},
	{kind: ColumnComment, inverse: ColumnComment, effect: Alters},
	{kind: PrimaryKeyAdd, inverse: PrimaryKeyDrop, effect: Adds},
	{kind: UniqueAdd, inverse: UniqueDrop, effect: Adds},
	{kind: ForeignKeyAdd, inverse: ForeignKeyDrop, effect: Adds},
	// A unique index the database lacks (or holds invalid, after a failed concurrent
	// build, which inspect reads as absent) enforces nothing.
	{kind: IndexCreate, inverse: IndexDrop, effect: Adds, security: func(c *Change) bool { return c.New.Index != nil && c.New.Index.Unique }},
	// Group functions read tables as they stand after every column change, and come
	// before the policies that call them; they go after the tables whose policies call
	// them (PostgreSQL records that dependency).
	{kind: FunctionCreate, inverse: FunctionDrop, effect: Adds},
	{kind: FunctionReplace, inverse: FunctionReplace, effect: Alters, security: always},
	// The policies lifted around column changes come back once every function they
	// may call exists (a through rule that no longer reads a copy calls a new one).
	{kind: PoliciesRestore, effect: Alters, step: true},
	{kind: RLSEnable, inverse: RLSDisable, effect: Alters, security: always},
	{kind: ForceRLSEnable, inverse: ForceRLSDisable, effect: Alters, security: always},
	{kind: PolicyCreate, inverse: PolicyDrop, effect: Adds},
	{kind: PolicyAlter, inverse: PolicyAlter, effect: Alters, security: always},
	{kind: GrantAdd, inverse: GrantRevoke, effect: Adds},
	{kind: UsageGrant, inverse: UsageRevoke, effect: Adds},
	{kind: ForceRLSDisable, inverse: ForceRLSEnable, effect: Alters},
	{kind: RLSDisable, inverse: RLSEnable, effect: Alters},
	{kind: ColumnDrop, inverse: ColumnAdd, effect: Removes},
	{kind: TableDrop, inverse: TableCreate, effect: Removes},
	// A definer function some role may still call, which the file lacks.
	{kind: FunctionDrop, inverse: FunctionCreate, effect: Removes, security: func(c *Change) bool {
		return c.Old.Function != nil && c.Old.Function.SecurityDefiner && len(c.Old.Function.Execute) > 0
	}},
})

func identityFunctions(*Change) string { return "the identity functions" }

// byKind indexes kinds: each kind's descriptor and its place in apply order.
var byKind = func() map[Kind]int {
	m := make(map[Kind]int, len(kinds))
	for i, d := range kinds {
		m[d.kind] = i
	}
	return m
}()

func describeKind(k Kind) (descriptor, int) {
	i, ok := byKind[k]
	if !ok {
		panic(fmt.Sprintf("diff: unknown change kind %q", k))
	}
	return kinds[i], i
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
	// Anew makes an object anew rather than altering it in place (see objects.Kind.Anew).
	Anew bool
	// Revoke, on a change that creates a table or an identity column (or whose
	// rollback does), lists the roles whose privileges on it, and on its identity
	// sequences, are revoked before its grants: the platform's default privileges gave
	// them some (see schema.Auth.ExplicitGrants). Public is implied.
	Revoke []string
	// OldUnrenamed and NewUnrenamed are the change's sides in the names a rollback sees
	// once it has undone the table and column renames the change follows (Old and New
	// name them renamed: an object, column privileges): the rollback restores the one
	// and takes away the other. nil when they name nothing renamed.
	OldUnrenamed, NewUnrenamed *Side
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
	Object     *schema.Object // an object of a kind package objects describes
}

// Security reports whether c, found by comparing a database (from) with schema.yaml
// (to), means the database lets a role read or write more than the file says: a role
// past row-level security, a table owned by another role, a grant, a permissive policy
// or a policy condition the file lacks, row-level security off or unforced.
func (c *Change) Security() bool {
	d, _ := describeKind(c.Kind)
	return d.security != nil && d.security(c)
}

// ObjectChange returns the object kind c changes and what it does, or nil when c
// concerns no schema.Object.
func (c *Change) ObjectChange() (*objects.Kind, ObjectOp) {
	d, _ := describeKind(c.Kind)
	return d.object, d.op
}

// Owned reports whether rlsmigrate owns the object c changes. It does not own the views
// and functions that expose tables (Exposure): their fix is printed as a suggestion
// unless the caller allows rewriting them.
func (c *Change) Owned() bool {
	d, _ := describeKind(c.Kind)
	return !d.foreign
}

// LeftOnRollback names what c creates that a rollback leaves in place, as other
// databases or migrations may use it (a role, the identity functions, a schema), or "".
func (c *Change) LeftOnRollback() string {
	if d, _ := describeKind(c.Kind); d.left != nil {
		return d.left(c)
	}
	return ""
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
	if d, _ := describeKind(c.Kind); c.Role != "" && (c.Name == "" || d.namesRole) {
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
	if d, _ := describeKind(c.Kind); d.was != nil {
		return d.was(c)
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
