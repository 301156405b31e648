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
	RoleCreate      Kind = "role.create"
	AuthSetup       Kind = "auth.setup"
	FunctionMissing Kind = "function.missing"
	SchemaCreate    Kind = "schema.create"
	TableRename     Kind = "table.rename"
	ColumnRename    Kind = "column.rename"
	PolicyRename    Kind = "policy.rename"
	IndexRename     Kind = "index.rename"
	PolicyDrop      Kind = "policy.drop"
	IndexDrop       Kind = "index.drop"
	ForeignKeyDrop  Kind = "column.references.drop"
	UniqueDrop      Kind = "column.unique.drop"
	PrimaryKeyDrop  Kind = "table.primary_key.drop"
	GrantRevoke     Kind = "grant.revoke"
	UsageRevoke     Kind = "schema.usage.revoke"
	TableCreate     Kind = "table.create"
	ColumnAdd       Kind = "column.add"
	ColumnType      Kind = "column.type"
	ColumnDefault   Kind = "column.default"
	ColumnNotNull   Kind = "column.not_null"
	ColumnIdentity  Kind = "column.identity"
	PrimaryKeyAdd   Kind = "table.primary_key.add"
	UniqueAdd       Kind = "column.unique.add"
	ForeignKeyAdd   Kind = "column.references.add"
	IndexCreate     Kind = "index.create"
	RLSEnable       Kind = "table.rls.enable"
	ForceRLSEnable  Kind = "table.force_rls.enable"
	PolicyCreate    Kind = "policy.create"
	PolicyAlter     Kind = "policy.alter"
	GrantAdd        Kind = "grant.add"
	UsageGrant      Kind = "schema.usage.grant"
	ForceRLSDisable Kind = "table.force_rls.disable"
	RLSDisable      Kind = "table.rls.disable"
	ColumnDrop      Kind = "column.drop"
	TableDrop       Kind = "table.drop"
)

// phases is the order changes are applied in: renames first, then whatever must go before
// objects change, then creations, then access rules, and what destroys data last.
var phases = []Kind{
	RoleCreate, AuthSetup, FunctionMissing, SchemaCreate, TableRename, ColumnRename, PolicyRename, IndexRename,
	PolicyDrop, IndexDrop, ForeignKeyDrop, UniqueDrop, PrimaryKeyDrop, GrantRevoke, UsageRevoke,
	TableCreate, ColumnAdd, ColumnType, ColumnDefault, ColumnNotNull, ColumnIdentity,
	PrimaryKeyAdd, UniqueAdd, ForeignKeyAdd, IndexCreate, RLSEnable, ForceRLSEnable,
	PolicyCreate, PolicyAlter, GrantAdd, UsageGrant, ForceRLSDisable, RLSDisable,
	ColumnDrop, TableDrop,
}

// Phase returns the position of k in the apply order.
func Phase(k Kind) int { return slices.Index(phases, k) }

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

// Blocking reports whether h must be allowed explicitly.
func (h Hazard) Blocking() bool { return h != ChangesAccess && h != MayFail }

// Change is one step from the old schema to the new. Old* and New* hold the objects
// before and after; either is nil when the object is created or dropped.
type Change struct {
	Kind     Kind
	Schema   string // database schema of the object
	Table    string // table name, "" for objects outside tables
	Name     string // role, column, policy or index name, or the old name of a rename
	Role     string // for grants and schema usage
	OldTable *schema.Table
	NewTable *schema.Table
	Old, New any // *schema.Column, *schema.Policy, *schema.Index, []string privileges, *schema.Auth
	Hazards  []Hazard
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
		return c.Old.(*schema.Column).Name
	case PolicyRename:
		return c.Old.(*schema.Policy).Name
	case IndexRename:
		return c.Old.(*schema.Index).Name
	}
	return ""
}

// Kinds returns every change kind in apply order.
func Kinds() []Kind { return slices.Clone(phases) }
