package diff

import (
	"slices"
	"sort"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// Diff returns the changes that turn from into to, in apply order. Both schemas must be
// normalised the same way: expressions and type names are compared as text. Renames are
// taken only from RenamedFrom on the to side.
func Diff(from, to *schema.Schema) []*Change {
	d := &differ{}
	for _, r := range to.Roles {
		if !slices.Contains(from.Roles, r) {
			d.add(&Change{Kind: RoleCreate, Name: r})
		}
	}
	authChanged := to.Auth != nil && (from.Auth == nil || *from.Auth != *to.Auth)
	if authChanged {
		d.add(&Change{Kind: AuthSetup, Name: to.Auth.Provider, Old: from.Auth, New: to.Auth})
	}
	if !authChanged {
		for _, f := range to.Functions {
			if !slices.Contains(from.Functions, f) {
				d.add(&Change{Kind: FunctionMissing, Name: f, New: to.Auth})
			}
		}
	}
	for _, s := range to.Schemas {
		if s != "public" && !slices.Contains(from.Schemas, s) {
			d.add(&Change{Kind: SchemaCreate, Schema: s})
		}
	}
	matched := map[*schema.Table]bool{}
	fromTables, toTables := tableIndex(from), tableIndex(to)
	for _, nt := range to.Tables {
		ot := fromTables[[2]string{nt.Schema, nt.Name}]
		if ot == nil && nt.RenamedFrom != "" && toTables[[2]string{nt.Schema, nt.RenamedFrom}] == nil {
			if ot = fromTables[[2]string{nt.Schema, nt.RenamedFrom}]; ot != nil {
				d.add(on(TableRename, ot, nt))
			}
		}
		if ot == nil {
			d.add(&Change{Kind: TableCreate, Schema: nt.Schema, Table: nt.Name, NewTable: nt})
			continue
		}
		matched[ot] = true
		d.table(to, ot, nt)
	}
	for i := len(from.Tables) - 1; i >= 0; i-- {
		if ot := from.Tables[i]; !matched[ot] {
			d.add(&Change{Kind: TableDrop, Schema: ot.Schema, Table: ot.Name, OldTable: ot, Hazards: []Hazard{DeletesData}})
		}
	}
	for _, s := range to.Schemas {
		have, want := from.SchemaUsage[s], to.SchemaUsage[s]
		for _, r := range want {
			if !slices.Contains(have, r) {
				d.add(&Change{Kind: UsageGrant, Schema: s, Role: r})
			}
		}
		for _, r := range have {
			if !slices.Contains(want, r) && slices.Contains(to.Roles, r) {
				d.add(&Change{Kind: UsageRevoke, Schema: s, Role: r})
			}
		}
	}
	return Sorted(d.changes)
}

// tableIndex maps schema and name to each table of s.
func tableIndex(s *schema.Schema) map[[2]string]*schema.Table {
	m := make(map[[2]string]*schema.Table, len(s.Tables))
	for _, t := range s.Tables {
		m[[2]string{t.Schema, t.Name}] = t
	}
	return m
}

// Sorted orders changes by phase, keeping the order within a phase.
func Sorted(changes []*Change) []*Change {
	sort.SliceStable(changes, func(i, j int) bool { return Phase(changes[i].Kind) < Phase(changes[j].Kind) })
	return changes
}

type differ struct {
	changes []*Change
}

func (d *differ) add(c *Change) { d.changes = append(d.changes, c) }

// on returns a change of kind k to table nt (renamed from ot, if so).
func on(k Kind, ot, nt *schema.Table) *Change {
	return &Change{Kind: k, Schema: nt.Schema, Table: nt.Name, OldTable: ot, NewTable: nt}
}

func (d *differ) table(to *schema.Schema, ot, nt *schema.Table) {
	matched := map[string]bool{}
	for _, nc := range nt.Columns {
		oc := ot.Column(nc.Name)
		if oc == nil && nc.RenamedFrom != "" && nt.Column(nc.RenamedFrom) == nil {
			if oc = ot.Column(nc.RenamedFrom); oc != nil {
				c := on(ColumnRename, ot, nt)
				c.Name, c.Old, c.New = nc.Name, oc, nc
				d.add(c)
			}
		}
		if oc == nil {
			c := on(ColumnAdd, ot, nt)
			c.Name, c.New = nc.Name, nc
			if nc.NotNull && nc.Default == "" && nc.Identity == "" {
				c.Hazards = []Hazard{MayFail}
			}
			d.add(c)
			if nc.Unique {
				d.column(UniqueAdd, ot, nt, nil, nc)
			}
			if nc.References != nil {
				d.column(ForeignKeyAdd, ot, nt, nil, nc)
			}
			continue
		}
		matched[oc.Name] = true
		d.columnChanges(ot, nt, oc, nc)
	}
	for _, oc := range ot.Columns {
		if !matched[oc.Name] {
			c := on(ColumnDrop, ot, nt)
			c.Name, c.Old, c.Hazards = oc.Name, oc, []Hazard{DeletesData}
			d.add(c)
		}
	}
	if !slices.Equal(ot.PrimaryKey, nt.PrimaryKey) {
		if len(ot.PrimaryKey) > 0 {
			d.add(on(PrimaryKeyDrop, ot, nt))
		}
		if len(nt.PrimaryKey) > 0 {
			d.add(on(PrimaryKeyAdd, ot, nt))
		}
	}
	switch {
	case !ot.RLS && nt.RLS:
		d.add(on(RLSEnable, ot, nt))
	case ot.RLS && !nt.RLS:
		c := on(RLSDisable, ot, nt)
		c.Hazards = []Hazard{DisablesRLS}
		d.add(c)
	}
	switch {
	case !ot.ForceRLS && nt.ForceRLS:
		d.add(on(ForceRLSEnable, ot, nt))
	case ot.ForceRLS && !nt.ForceRLS:
		c := on(ForceRLSDisable, ot, nt)
		c.Hazards = []Hazard{DisablesRLS}
		d.add(c)
	}
	d.indexes(ot, nt)
	d.policies(ot, nt)
	d.grants(to, ot, nt)
}

func (d *differ) column(k Kind, ot, nt *schema.Table, oc, nc *schema.Column) *Change {
	c := on(k, ot, nt)
	c.Old, c.New = oc, nc
	if nc != nil {
		c.Name = nc.Name
	} else {
		c.Name = oc.Name
	}
	d.add(c)
	return c
}

func (d *differ) columnChanges(ot, nt *schema.Table, oc, nc *schema.Column) {
	if oc.Type != nc.Type {
		d.column(ColumnType, ot, nt, oc, nc).Hazards = []Hazard{DeletesData}
	}
	if oc.Default != nc.Default {
		d.column(ColumnDefault, ot, nt, oc, nc)
	}
	if oc.NotNull != nc.NotNull {
		if c := d.column(ColumnNotNull, ot, nt, oc, nc); nc.NotNull {
			c.Hazards = []Hazard{MayFail}
		}
	}
	if oc.Identity != nc.Identity {
		d.column(ColumnIdentity, ot, nt, oc, nc)
	}
	if oc.Unique != nc.Unique {
		if oc.Unique {
			d.column(UniqueDrop, ot, nt, oc, nc)
		} else {
			d.column(UniqueAdd, ot, nt, oc, nc)
		}
	}
	of, nf := oc.References, nc.References
	if !sameForeignKey(of, nf, ot, nt) {
		if of != nil && nf != nil {
			// One finding: the renderer drops the old key and adds the new one.
			d.column(ForeignKeyAdd, ot, nt, oc, nc)
		} else if of != nil {
			d.column(ForeignKeyDrop, ot, nt, oc, nc)
		} else {
			d.column(ForeignKeyAdd, ot, nt, oc, nc)
		}
	}
}

func sameForeignKey(a, b *schema.ForeignKey, ot, nt *schema.Table) bool {
	if a == nil || b == nil {
		return a == b
	}
	// A reference to the table itself follows that table's rename.
	ta := a.Table
	if a.Schema == ot.Schema && a.Table == ot.Name {
		ta = nt.Name
	}
	return a.Schema == b.Schema && ta == b.Table && a.Column == b.Column && a.OnDelete == b.OnDelete
}

// renamed reports whether an object of the to side was renamed from oldName: the from
// side has an object of that name and the to side does not.
func renamed(oldName string, inOld, inNew bool) bool {
	return oldName != "" && inOld && !inNew
}

func (d *differ) indexes(ot, nt *schema.Table) {
	// olds[i] is the index of the from side that nt.Indexes[i] continues, or nil.
	olds := make([]*schema.Index, len(nt.Indexes))
	continued := map[string]bool{}
	for i, ni := range nt.Indexes {
		oi := ot.Index(ni.Name)
		if oi == nil && renamed(ni.RenamedFrom, ot.Index(ni.RenamedFrom) != nil, nt.Index(ni.RenamedFrom) != nil) {
			oi = ot.Index(ni.RenamedFrom)
			c := on(IndexRename, ot, nt)
			c.Name, c.Old, c.New = ni.Name, oi, ni
			d.add(c)
		}
		if oi != nil && slices.Equal(ni.Columns, oi.Columns) && ni.Unique == oi.Unique {
			olds[i] = oi
			continued[oi.Name] = true
		}
	}
	for _, oi := range ot.Indexes {
		if !continued[oi.Name] {
			c := on(IndexDrop, ot, nt)
			c.Name, c.Old = oi.Name, oi
			d.add(c)
		}
	}
	for i, ni := range nt.Indexes {
		if olds[i] == nil {
			c := on(IndexCreate, ot, nt)
			c.Name, c.New = ni.Name, ni
			d.add(c)
		}
	}
}

func (d *differ) policies(ot, nt *schema.Table) {
	// olds[i] is the policy of the from side that nt.Policies[i] continues, or nil.
	olds := make([]*schema.Policy, len(nt.Policies))
	continued := map[string]bool{}
	for i, np := range nt.Policies {
		op := ot.Policy(np.Name)
		if op == nil && renamed(np.RenamedFrom, ot.Policy(np.RenamedFrom) != nil, nt.Policy(np.RenamedFrom) != nil) {
			op = ot.Policy(np.RenamedFrom)
			c := on(PolicyRename, ot, nt)
			c.Name, c.Old, c.New = np.Name, op, np
			d.add(c)
		}
		if op != nil {
			continued[op.Name] = true
		}
		olds[i] = op
	}
	for _, op := range ot.Policies {
		if !continued[op.Name] {
			c := on(PolicyDrop, ot, nt)
			c.Name, c.Old, c.Hazards = op.Name, op, []Hazard{DropsPolicy}
			d.add(c)
		}
	}
	for i, np := range nt.Policies {
		op := olds[i]
		switch {
		case op == nil:
			c := on(PolicyCreate, ot, nt)
			c.Name, c.New = np.Name, np
			if !np.Restrictive && (np.Using == "true" || np.Check == "true") {
				c.Hazards = []Hazard{WidensAccess}
			}
			d.add(c)
		case !samePolicy(op, np):
			c := on(PolicyAlter, ot, nt)
			c.Name, c.Old, c.New = np.Name, op, np
			c.Hazards = policyHazards(op, np)
			d.add(c)
		}
	}
}

func samePolicy(a, b *schema.Policy) bool {
	return a.Command == b.Command && a.Restrictive == b.Restrictive && slices.Equal(a.Roles, b.Roles) &&
		a.Using == b.Using && a.Check == b.Check
}

// policyHazards classifies a policy rewrite: more roles, permissive instead of
// restrictive, another command, or a condition that becomes "true" widen access; any other
// new condition changes it.
func policyHazards(op, np *schema.Policy) []Hazard {
	widens := op.Command != np.Command || (op.Restrictive && !np.Restrictive)
	for _, r := range np.Roles {
		if !slices.Contains(op.Roles, r) {
			widens = true
		}
	}
	for _, pair := range [][2]string{{op.Using, np.Using}, {op.Check, np.Check}} {
		if pair[0] != pair[1] && pair[1] == "true" {
			widens = true
		}
	}
	switch {
	case widens:
		return []Hazard{WidensAccess}
	case op.Using != np.Using || op.Check != np.Check:
		return []Hazard{ChangesAccess}
	}
	return nil
}

func (d *differ) grants(to *schema.Schema, ot, nt *schema.Table) {
	roles := slices.Clone(to.Roles)
	roles = append(roles, "public")
	for _, role := range roles {
		have, want := ot.Grant(role), nt.Grant(role)
		var add, revoke []string
		for _, p := range want {
			if !slices.Contains(have, p) {
				add = append(add, p)
			}
		}
		for _, p := range have {
			if !slices.Contains(want, p) {
				revoke = append(revoke, p)
			}
		}
		if len(revoke) > 0 {
			c := on(GrantRevoke, ot, nt)
			c.Role, c.Old = role, revoke
			d.add(c)
		}
		if len(add) > 0 {
			c := on(GrantAdd, ot, nt)
			c.Role, c.New, c.Hazards = role, add, []Hazard{WidensAccess}
			d.add(c)
		}
	}
}
