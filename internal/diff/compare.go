package diff

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// Diff returns the changes that turn from into to, in apply order. Both schemas must be
// normalised the same way: type names are compared as text, policy conditions by parse
// tree (see sqlparse.Equivalent). Renames are taken only from RenamedFrom on the to side.
func Diff(from, to *schema.Schema) []*Change { return Database(from, nil, to, nil) }

// Database returns the changes that bring a database to to: its schema from, and what
// access says about who gets past row-level security there, all of which is drift.
// definitions holds the definition each identity function should have (see
// schema.IdentityFunctions); those the database defines otherwise are reported.
func Database(from *schema.Schema, access *schema.Access, to *schema.Schema, definitions map[string]string) []*Change {
	d := &differ{tableRenames: map[[2]string]string{}, columnRenames: map[[3]string]string{}, ownerFixed: map[[2]string]string{}}
	d.findRenames(from, to)
	if access != nil {
		d.live = true
		d.security(from, access, to, definitions)
		d.external(from, to)
	}
	for _, r := range to.Roles {
		if !slices.Contains(from.Roles, r) {
			d.add(&Change{Kind: RoleCreate, Name: r})
		}
	}
	authChanged := to.Auth != nil && (from.Auth == nil || *from.Auth != *to.Auth)
	if authChanged {
		d.add(&Change{Kind: AuthSetup, Name: to.Auth.Provider, Old: Side{Auth: from.Auth}, New: Side{Auth: to.Auth}})
	}
	if !authChanged {
		for _, f := range to.Functions {
			if !slices.Contains(from.Functions, f) {
				d.add(&Change{Kind: FunctionMissing, Name: f, New: Side{Auth: to.Auth}})
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
		ot, renamed := continuedTable(fromTables, toTables, nt)
		if renamed {
			d.add(on(TableRename, ot, nt))
		}
		if ot == nil {
			d.add(&Change{Kind: TableCreate, Schema: nt.Schema, Table: nt.Name, NewTable: nt})
			continue
		}
		matched[ot] = true
		d.table(from, to, ot, nt)
	}
	for i := len(from.Tables) - 1; i >= 0; i-- {
		if ot := from.Tables[i]; !matched[ot] {
			d.add(&Change{Kind: TableDrop, Schema: ot.Schema, Table: ot.Name, OldTable: ot, Hazards: []Hazard{DeletesData}})
		}
	}
	// Where the platform grants by default, what creates a table or an identity (or
	// whose rollback does) revokes it.
	for _, c := range d.changes {
		a, roles := to.Auth, to.Roles
		if c.Kind == TableDrop || c.Kind == ColumnDrop {
			a, roles = from.Auth, from.Roles
		}
		if a.ExplicitGrants() && (c.Kind == TableCreate || c.Kind == TableDrop || c.Kind == ColumnAdd || c.Kind == ColumnDrop || c.Kind == ColumnIdentity) {
			c.Revoke = roles
		}
	}
	d.routines(from, to)
	d.schemaObjects(from, to)
	d.recreateDependents(from, to)
	// A schema the last table left, and a role that left the file, lose their USAGE too.
	for _, s := range union(from.Schemas, to.Schemas) {
		have, want := from.SchemaUsage[s], to.SchemaUsage[s]
		for _, r := range want {
			if !slices.Contains(have, r) {
				d.add(&Change{Kind: UsageGrant, Schema: s, Role: r})
			}
		}
		for _, r := range have {
			if !slices.Contains(want, r) {
				d.add(&Change{Kind: UsageRevoke, Schema: s, Role: r})
			}
		}
	}
	return Sorted(d.changes)
}

// security reports what lets a declared role past row-level security in a database
// (from, and what access says of it): schema.yaml's side has none of it. A table owned
// by another role than the one that ran the migrations is reported when that role is
// known; its fix comes before the grants', which are compared as they stand after it.
func (d *differ) security(from *schema.Schema, access *schema.Access, to *schema.Schema, definitions map[string]string) {
	for _, role := range to.Roles {
		for _, g := range access.MemberOf[role] {
			c := &Change{Kind: RoleMembership, Name: role, Old: Side{Role: g}}
			d.add(c)
		}
		if how := access.Bypass[role]; how != "" && !(how == "bypassrls" && to.Auth.PlatformBypass(role)) {
			d.add(&Change{Kind: RoleBypass, Name: role, Old: Side{Role: how}})
		}
	}
	// Identity functions redefined in place (one that returns another user's id lets a
	// caller read that user's rows): compared only where both sides know them.
	for _, sig := range slices.Sorted(maps.Keys(access.Definitions)) {
		if want, ok := definitions[sig]; ok && access.Definitions[sig] != want {
			d.add(&Change{Kind: FunctionAlter, Name: sig, Old: Side{Definition: access.Definitions[sig]},
				New: Side{Definition: want, Auth: to.Auth}})
		}
	}
	d.exposures(from, access, to)
	if access.MigrationRole == "" {
		return
	}
	for _, ot := range from.Tables {
		if owner := access.Table(ot.Schema, ot.Name).OwnerRole; owner != "" && owner != access.MigrationRole {
			d.ownerFixed[[2]string{ot.Schema, ot.Name}] = owner
			d.add(&Change{Kind: TableOwner, Schema: ot.Schema, Table: ot.Name, OldTable: ot, NewTable: ot,
				Old: Side{Role: owner}, New: Side{Role: access.MigrationRole}})
		}
	}
}

// exposures reports what lets a declared role past row-level security in a database
// around the policies; schema.yaml declares none of it. Default privileges are the
// platform's where migrations make every table's grants explicit.
func (d *differ) exposures(from *schema.Schema, access *schema.Access, to *schema.Schema) {
	for _, x := range access.Exposures {
		if objects.Declares(to, x) {
			continue
		}
		k := map[string]Kind{"view": ViewInvoker, "materialized view": MatviewReadable, "function": FunctionDefiner,
			"procedure": FunctionDefiner, "parent table": TableExposes, "copy table": TableExposes}[x.Kind]
		d.add(&Change{Kind: k, Schema: x.Schema, Name: x.Name, Old: Side{Exposure: x}})
	}
	for _, dp := range access.DefaultPrivileges {
		if to.Auth.ExplicitGrants() {
			break
		}
		d.add(&Change{Kind: DefaultPrivilege, Schema: dp.Schema, Name: strings.ToLower(dp.ObjectType) + "." + dp.Grantee, Role: dp.Grantee, Old: Side{Default: dp}})
	}
	for _, s := range slices.Sorted(maps.Keys(access.SchemaCreate)) {
		for _, r := range access.SchemaCreate[s] {
			d.add(&Change{Kind: SchemaCreateDrop, Schema: s, Role: r, Old: Side{Role: r}})
		}
	}
	for _, ot := range from.Tables {
		ta := access.Table(ot.Schema, ot.Name)
		for _, role := range slices.Sorted(maps.Keys(ta.GrantOptions)) {
			if platformRole(to, role) {
				continue
			}
			c := &Change{Kind: GrantOptionDrop, Schema: ot.Schema, Table: ot.Name, Role: role, OldTable: ot, NewTable: ot}
			c.Old.Privileges = ta.GrantOptions[role]
			d.add(c)
		}
		for _, g := range ta.SequenceGrants {
			if platformRole(to, g.Role) {
				continue
			}
			c := &Change{Kind: SequenceRevoke, Schema: ot.Schema, Table: ot.Name, Name: g.Sequence, Role: g.Role, OldTable: ot, NewTable: ot}
			c.Old.Privileges = g.Privileges
			d.add(c)
		}
	}
}

// platformRole reports whether role is the platform's and to leaves it to the platform:
// one that gets past row-level security by the provider's design (Supabase's
// service_role) and that schema.yaml does not declare. Its privileges are the
// platform's, as its bypass is.
func platformRole(to *schema.Schema, role string) bool {
	return to.Auth.PlatformBypass(role) && !slices.Contains(to.Roles, role)
}

// routines compares the functions rlsmigrate owns by definition and EXECUTE grants.
func (d *differ) routines(from, to *schema.Schema) {
	for _, nf := range to.Routines {
		of := from.Routine(nf.Schema, nf.Name)
		switch {
		case of == nil:
			d.add(&Change{Kind: FunctionCreate, Schema: nf.Schema, Name: nf.Name + "()", New: Side{Function: nf}})
		case of.Definition() != nf.Definition() || !slices.Equal(of.Execute, nf.Execute):
			c := &Change{Kind: FunctionReplace, Schema: nf.Schema, Name: nf.Name + "()", Old: Side{Function: of}, New: Side{Function: nf}}
			c.Hazards = executeHazards(of, nf)
			if of.Definition() != nf.Definition() {
				c.Hazards = append(c.Hazards, ChangesAccess)
			}
			d.add(c)
		}
	}
	for _, of := range from.Routines {
		if to.Routine(of.Schema, of.Name) == nil {
			d.add(&Change{Kind: FunctionDrop, Schema: of.Schema, Name: of.Name + "()", Old: Side{Function: of}})
		}
	}
}

// recreateDependents makes way for functions whose result type changes, which
// PostgreSQL can only drop and create again, and which it will not drop while a policy
// calls them: every policy of a kept table that calls one is dropped before (an
// alteration becomes a drop and a create) and created after.
func (d *differ) recreateDependents(from, to *schema.Schema) {
	var recreated []string
	for _, c := range d.changes {
		if c.Kind == FunctionReplace && c.Old.Function.Returns != c.New.Function.Returns {
			recreated = append(recreated, c.Schema+"."+c.New.Function.Name)
		}
	}
	if len(recreated) == 0 {
		return
	}
	calls := func(p *schema.Policy) bool {
		for _, expr := range []string{p.Using, p.Check} {
			if e, err := sqlparse.ParseExpr(expr); expr != "" && err == nil && slices.ContainsFunc(e.Functions(), func(f string) bool { return slices.Contains(recreated, f) }) {
				return true
			}
		}
		return false
	}
	handled := map[[3]string]bool{}
	var out []*Change
	for _, c := range d.changes {
		if c.Kind == PolicyAlter && calls(c.New.Policy) {
			drop := on(PolicyDrop, c.OldTable, c.NewTable)
			drop.Name, drop.Old.Policy = c.New.Policy.Name, c.Old.Policy
			create := on(PolicyCreate, c.OldTable, c.NewTable)
			create.Name, create.New.Policy, create.Hazards = c.New.Policy.Name, c.New.Policy, c.Hazards
			out = append(out, drop, create)
			handled[[3]string{c.NewTable.Schema, c.NewTable.Name, c.New.Policy.Name}] = true
			continue
		}
		if c.Kind == PolicyCreate || c.Kind == PolicyDrop || c.Kind == TableCreate {
			if c.NewTable != nil {
				handled[[3]string{c.NewTable.Schema, c.NewTable.Name, c.Name}] = true
			}
		}
		out = append(out, c)
	}
	fromTables, toTables := tableIndex(from), tableIndex(to)
	for _, nt := range to.Tables {
		ot, _ := continuedTable(fromTables, toTables, nt)
		if ot == nil {
			continue
		}
		for _, np := range nt.Policies {
			if handled[[3]string{nt.Schema, nt.Name, np.Name}] || !calls(np) {
				continue
			}
			op := ot.Policy(np.Name)
			if op == nil {
				continue // renamed in this change: left as it is
			}
			drop := on(PolicyDrop, ot, nt)
			drop.Name, drop.Old.Policy = np.Name, op
			create := on(PolicyCreate, ot, nt)
			create.Name, create.New.Policy = np.Name, np
			out = append(out, drop, create)
		}
	}
	d.changes = out
}

// executeHazards says whether nf lets a role execute it that of did not.
func executeHazards(of, nf *schema.Function) []Hazard {
	for _, r := range nf.Execute {
		if !slices.Contains(of.Execute, r) {
			return []Hazard{WidensAccess}
		}
	}
	return nil
}

// union returns the strings of a, then those of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
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
	// tableRenames maps schema and old name to the new name of each renamed table;
	// columnRenames maps schema, new table name and old column name to the new name.
	tableRenames  map[[2]string]string
	columnRenames map[[3]string]string
	// ownerFixed maps a table (schema and name) whose owner is set back to the role that
	// ran the migrations to its owner now, which then keeps no privilege on it.
	ownerFixed map[[2]string]string
	live       bool // from is a live database, not the state of the migrations
}

// findRenames records the renames from to to that apply: the object named by
// renamed_from exists in from, and nothing of the new name does.
func (d *differ) findRenames(from, to *schema.Schema) {
	fromTables, toTables := tableIndex(from), tableIndex(to)
	for _, nt := range to.Tables {
		ot, renamed := continuedTable(fromTables, toTables, nt)
		if renamed {
			d.tableRenames[[2]string{nt.Schema, ot.Name}] = nt.Name
		}
		if ot == nil {
			continue
		}
		for _, nc := range nt.Columns {
			if oc, renamed := continuedColumn(ot, nt, nc); renamed {
				d.columnRenames[[3]string{nt.Schema, nt.Name, oc.Name}] = nc.Name
			}
		}
	}
}

// continuedTable returns the table of the from side that nt continues: of its name, or
// the one its renamed_from names when nothing of the new name was there and nothing of
// the old name stays (renamed is then true); nil when nt is new.
func continuedTable(fromTables, toTables map[[2]string]*schema.Table, nt *schema.Table) (ot *schema.Table, renamed bool) {
	if ot = fromTables[[2]string{nt.Schema, nt.Name}]; ot != nil || nt.RenamedFrom == "" || toTables[[2]string{nt.Schema, nt.RenamedFrom}] != nil {
		return ot, false
	}
	ot = fromTables[[2]string{nt.Schema, nt.RenamedFrom}]
	return ot, ot != nil
}

// continuedColumn is continuedTable for a column nc of nt, continuing a column of ot.
func continuedColumn(ot, nt *schema.Table, nc *schema.Column) (oc *schema.Column, renamed bool) {
	if oc = ot.Column(nc.Name); oc != nil || nc.RenamedFrom == "" || nt.Column(nc.RenamedFrom) != nil {
		return oc, false
	}
	oc = ot.Column(nc.RenamedFrom)
	return oc, oc != nil
}

func (d *differ) add(c *Change) { d.changes = append(d.changes, c) }

// on returns a change of kind k to table nt (renamed from ot, if so).
func on(k Kind, ot, nt *schema.Table) *Change {
	return &Change{Kind: k, Schema: nt.Schema, Table: nt.Name, OldTable: ot, NewTable: nt}
}

func (d *differ) table(from, to *schema.Schema, ot, nt *schema.Table) {
	rt := d.afterRenames(ot, nt)
	matched := map[string]bool{}
	for _, nc := range nt.Columns {
		oc, renamed := continuedColumn(ot, nt, nc)
		if renamed {
			c := on(ColumnRename, ot, nt)
			c.Name, c.Old.Column, c.New.Column = nc.Name, oc, nc
			d.add(c)
		}
		if oc == nil {
			d.changes = append(d.changes, columnAdded(ot, nt, nc)...)
			continue
		}
		matched[oc.Name] = true
		d.columnChanges(ot, nt, oc, nc)
	}
	for _, oc := range ot.Columns {
		if !matched[oc.Name] {
			c := on(ColumnDrop, ot, nt)
			c.Name, c.Old.Column, c.Hazards = oc.Name, oc, []Hazard{DeletesData}
			d.add(c)
		}
	}
	if !slices.Equal(rt.PrimaryKey, nt.PrimaryKey) {
		if len(ot.PrimaryKey) > 0 {
			d.add(on(PrimaryKeyDrop, ot, nt))
		}
		if len(nt.PrimaryKey) > 0 {
			d.add(on(PrimaryKeyAdd, ot, nt))
		}
	} else if len(nt.PrimaryKey) > 0 {
		d.renameConstraint(ot, nt, ot.PKName, nt.PKName)
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
	if ot.Comment != nt.Comment {
		d.add(on(TableComment, ot, nt))
	}
	d.indexes(ot, rt, nt)
	d.tableObjects(ot, rt, nt, to)
	d.policies(ot, rt, nt)
	d.grants(from, to, ot, nt)
}

// renameConstraint records a constraint that both sides have under different names, as
// when a table or column rename changes the name rlsmigrate gives it. An unknown name
// (a model built without names) renames nothing.
func (d *differ) renameConstraint(ot, nt *schema.Table, from, to string) {
	if from == "" || to == "" || from == to {
		return
	}
	c := on(ConstraintRename, ot, nt)
	c.Name, c.Old.Constraint, c.New.Constraint = to, from, to
	d.add(c)
}

// afterRenames returns ot as it reads once the renames of this change apply: columns
// renamed as nt's renamed_from says, and the key, index columns and policy expressions
// that name them following along, as PostgreSQL makes them follow. Comparing nt with it
// finds what the renames themselves do not change.
func (d *differ) afterRenames(ot, nt *schema.Table) *schema.Table {
	renames := map[string]string{}
	for _, oc := range ot.Columns {
		if to, ok := d.columnRenames[[3]string{nt.Schema, nt.Name, oc.Name}]; ok {
			renames[oc.Name] = to
		}
	}
	if len(renames) == 0 {
		return ot
	}
	rename := func(name string) string {
		if to, ok := renames[name]; ok {
			return to
		}
		return name
	}
	rt := *ot
	rt.PrimaryKey = make([]string, len(ot.PrimaryKey))
	for i, c := range ot.PrimaryKey {
		rt.PrimaryKey[i] = rename(c)
	}
	rt.Indexes = make([]*schema.Index, len(ot.Indexes))
	for i, ix := range ot.Indexes {
		cx := *ix
		cx.Columns = make([]string, len(ix.Columns))
		for j, c := range ix.Columns {
			cx.Columns[j] = rename(c)
		}
		rt.Indexes[i] = &cx
	}
	rt.Policies = make([]*schema.Policy, len(ot.Policies))
	for i, p := range ot.Policies {
		cp := *p
		for from, to := range renames {
			cp.Using = sqlparse.RenameColumn(cp.Using, from, to, sqlident.Quote)
			cp.Check = sqlparse.RenameColumn(cp.Check, from, to, sqlident.Quote)
		}
		rt.Policies[i] = &cp
	}
	rt.Objects = renamedObjects(ot.Objects, nt.Name, renames)
	return &rt
}

// columnAdded returns the changes that add column nc to table ot (nt after): the column,
// then its unique constraint and foreign key, which ADD COLUMN leaves to later phases.
func columnAdded(ot, nt *schema.Table, nc *schema.Column) []*Change {
	c := on(ColumnAdd, ot, nt)
	c.Name, c.New.Column = nc.Name, nc
	if nc.NotNull && nc.Default == "" && nc.Identity == "" {
		c.Hazards = []Hazard{MayFail}
	}
	out := []*Change{c}
	for _, k := range []Kind{UniqueAdd, ForeignKeyAdd} {
		if (k == UniqueAdd && nc.Unique) || (k == ForeignKeyAdd && nc.References != nil) {
			kc := on(k, ot, nt)
			kc.Name, kc.New.Column = nc.Name, nc
			out = append(out, kc)
		}
	}
	return out
}

func (d *differ) column(k Kind, ot, nt *schema.Table, oc, nc *schema.Column) *Change {
	c := on(k, ot, nt)
	c.Old.Column, c.New.Column = oc, nc
	if nc != nil {
		c.Name = nc.Name
	} else {
		c.Name = oc.Name
	}
	d.add(c)
	return c
}

func (d *differ) columnChanges(ot, nt *schema.Table, oc, nc *schema.Column) {
	// A generated column's expression follows the renames of the columns it reads.
	was := oc.Generated
	for _, c := range ot.Columns {
		if to, ok := d.columnRenames[[3]string{nt.Schema, nt.Name, c.Name}]; ok {
			was = sqlparse.RenameColumn(was, c.Name, to, sqlident.Quote)
		}
	}
	generated := was != nc.Generated && !(was != "" && nc.Generated != "" && sqlparse.Equivalent(was, nc.Generated))
	// A generated column of another type is made anew with it: PostgreSQL converts no
	// computed values. A change of generation brings the type and default with it.
	generated = generated || nc.Generated != "" && oc.Type != nc.Type
	if oc.Type != nc.Type && !generated {
		d.column(ColumnType, ot, nt, oc, nc).Hazards = []Hazard{DeletesData}
	}
	if generated {
		// Made anew: the values a column held are replaced by computed ones; the
		// indexes and policies on it are made again, a view reading it refuses.
		c := d.column(ColumnGenerated, ot, nt, oc, nc)
		if nc.Generated != "" {
			c.Hazards = []Hazard{MayFail}
			if oc.Generated == "" {
				c.Hazards = []Hazard{DeletesData}
			}
		}
	}
	if !generated && oc.Default != nc.Default &&
		!(oc.Default != "" && nc.Default != "" && oc.Type == nc.Type && sqlparse.EquivalentDefault(oc.Default, nc.Default, nc.Type)) {
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
	if oc.Comment != nc.Comment {
		d.column(ColumnComment, ot, nt, oc, nc)
	}
	if oc.Unique != nc.Unique {
		if oc.Unique {
			d.column(UniqueDrop, ot, nt, oc, nc)
		} else {
			d.column(UniqueAdd, ot, nt, oc, nc)
		}
	} else if nc.Unique {
		d.renameConstraint(ot, nt, oc.UniqueName, nc.UniqueName)
	}
	of, nf := oc.References, nc.References
	if d.sameForeignKey(of, nf) {
		if of != nil {
			d.renameConstraint(ot, nt, of.Name, nf.Name)
		}
	} else {
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

// sameForeignKey reports whether a (from side) and b (to side) are one key, once the
// referenced table and column follow their renames.
func (d *differ) sameForeignKey(a, b *schema.ForeignKey) bool {
	if a == nil || b == nil {
		return a == b
	}
	table := a.Table
	if to, ok := d.tableRenames[[2]string{a.Schema, a.Table}]; ok {
		table = to
	}
	column := a.Column
	if to, ok := d.columnRenames[[3]string{a.Schema, table, a.Column}]; ok {
		column = to
	}
	// A key never validated is not the key schema.yaml declares: it is added again.
	return a.Schema == b.Schema && table == b.Table && column == b.Column && a.OnDelete == b.OnDelete && a.NotValid == b.NotValid
}

// renamed reports whether an object of the to side was renamed from oldName: the from
// side has an object of that name and the to side does not.
func renamed(oldName string, inOld, inNew bool) bool {
	return oldName != "" && inOld && !inNew
}

// indexes compares the indexes of ot, as they read after column renames in rt, with
// nt's; changes record ot's.
func (d *differ) indexes(ot, rt, nt *schema.Table) {
	// olds[i] is the index of the from side that nt.Indexes[i] continues, or nil.
	olds := make([]*schema.Index, len(nt.Indexes))
	continued := map[string]bool{}
	same := func(name string, ni *schema.Index) bool {
		ri := rt.Index(name)
		return ri != nil && slices.Equal(ni.Columns, ri.Columns) && ni.Unique == ri.Unique
	}
	for i, ni := range nt.Indexes {
		name := ni.Name
		// Renamed only when it stays the same index: one that changes (made unique) is
		// dropped under its old name and made under its new one.
		if ot.Index(name) == nil && renamed(ni.RenamedFrom, ot.Index(ni.RenamedFrom) != nil, nt.Index(ni.RenamedFrom) != nil) &&
			same(ni.RenamedFrom, ni) {
			name = ni.RenamedFrom
			c := on(IndexRename, ot, nt)
			c.Name, c.Old.Index, c.New.Index = ni.Name, ot.Index(name), ni
			d.add(c)
		}
		if same(name, ni) {
			olds[i] = ot.Index(name)
			continued[name] = true
		}
	}
	for _, oi := range ot.Indexes {
		if !continued[oi.Name] {
			c := on(IndexDrop, ot, nt)
			c.Name, c.Old.Index = oi.Name, oi
			d.add(c)
		}
	}
	for i, ni := range nt.Indexes {
		if olds[i] == nil {
			c := on(IndexCreate, ot, nt)
			c.Name, c.New.Index = ni.Name, ni
			d.add(c)
		}
	}
}

// policies compares the policies of ot, as they read after column renames in rt, with
// nt's; changes record ot's.
func (d *differ) policies(ot, rt, nt *schema.Table) {
	// olds[i] and reads[i] are the policy of the from side that nt.Policies[i] continues,
	// as it is and as it reads after the renames, or nil.
	olds := make([]*schema.Policy, len(nt.Policies))
	reads := make([]*schema.Policy, len(nt.Policies))
	continued := map[string]bool{}
	for i, np := range nt.Policies {
		name := np.Name
		if ot.Policy(name) == nil && renamed(np.RenamedFrom, ot.Policy(np.RenamedFrom) != nil, nt.Policy(np.RenamedFrom) != nil) {
			name = np.RenamedFrom
			c := on(PolicyRename, ot, nt)
			c.Name, c.Old.Policy, c.New.Policy = np.Name, ot.Policy(name), np
			d.add(c)
		}
		if op := ot.Policy(name); op != nil {
			continued[name] = true
			olds[i], reads[i] = op, rt.Policy(name)
		}
	}
	for _, op := range ot.Policies {
		if !continued[op.Name] {
			c := on(PolicyDrop, ot, nt)
			c.Name, c.Old.Policy, c.Hazards = op.Name, op, []Hazard{DropsPolicy}
			d.add(c)
		}
	}
	for i, np := range nt.Policies {
		op := olds[i]
		switch {
		case op == nil:
			c := on(PolicyCreate, ot, nt)
			c.Name, c.New.Policy = np.Name, np
			if !np.Restrictive && (opensEveryRow(np.Using, np, nt) || opensEveryRow(np.Check, np, nt)) {
				c.Hazards = []Hazard{WidensAccess}
			}
			d.add(c)
		case !samePolicy(reads[i], np):
			c := on(PolicyAlter, ot, nt)
			c.Name, c.Old.Policy, c.New.Policy = np.Name, op, np
			c.Hazards = policyHazards(reads[i], np, nt)
			d.add(c)
		}
	}
}

// samePolicy compares two policies by meaning: their conditions may be spelt
// differently (see sqlparse.Equivalent).
func samePolicy(a, b *schema.Policy) bool {
	return a.Command == b.Command && a.Restrictive == b.Restrictive && slices.Equal(a.Roles, b.Roles) &&
		sqlparse.Equivalent(a.Using, b.Using) && sqlparse.Equivalent(a.Check, b.Check)
}

// opensEveryRow reports whether cond, a condition of policy p on table t, lets a caller
// through on every row: always true (TRUE, 1 = 1, x OR true...), or, unless a built-in
// rule kind that means exactly that made it (anyone, claim), reading no column of the
// row however spelt (true IS TRUE, auth.user_id() IS NOT NULL): all or nothing.
func opensEveryRow(cond string, p *schema.Policy, t *schema.Table) bool {
	if cond == "" {
		return false
	}
	e, err := sqlparse.ParseExpr(cond)
	if err != nil {
		return false
	}
	if e.AlwaysTrue() {
		return true
	}
	if p.Builtin {
		return false
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	return !e.ReadsRow(t.Name, cols)
}

// policyHazards classifies a policy rewrite of table t: more roles, permissive instead
// of restrictive, another command, or a condition that comes to open every row (see
// opensEveryRow) widen access; any other new condition changes it.
func policyHazards(op, np *schema.Policy, t *schema.Table) []Hazard {
	widens := op.Command != np.Command || (op.Restrictive && !np.Restrictive)
	for _, r := range np.Roles {
		if !slices.Contains(op.Roles, r) {
			widens = true
		}
	}
	for _, pair := range [][2]string{{op.Using, np.Using}, {op.Check, np.Check}} {
		if !sqlparse.Equivalent(pair[0], pair[1]) && opensEveryRow(pair[1], np, t) {
			widens = true
		}
	}
	switch {
	case widens:
		return []Hazard{WidensAccess}
	case !sqlparse.Equivalent(op.Using, np.Using) || !sqlparse.Equivalent(op.Check, np.Check):
		return []Hazard{ChangesAccess}
	}
	return nil
}

// grants compares the privileges on a table of every role either side declares, and of
// PUBLIC: a role that leaves the file loses its privileges.
func (d *differ) grants(from, to *schema.Schema, ot, nt *schema.Table) {
	// Every role either side declares, PUBLIC, and any other role the database shows
	// holding a privilege: one schema.yaml does not know can read all the same.
	roles := append(union(from.Roles, to.Roles), "public")
	for _, g := range ot.Grants {
		roles = union(roles, []string{g.Role})
	}
	for _, role := range roles {
		if platformRole(to, role) {
			continue
		}
		have := append(slices.Clone(ot.Grant(role)), d.renamedPrivileges(nt, ot.ColumnPrivileges(role))...)
		want := append(slices.Clone(nt.Grant(role)), nt.ColumnPrivileges(role)...)
		if d.ownerFixed[[2]string{ot.Schema, ot.Name}] == role {
			have = nil // ALTER TABLE ... OWNER TO hands the old owner's privileges to the new one
		}
		add, revoke := schema.Without(want, have), schema.Without(have, want)
		if len(revoke) > 0 {
			c := on(GrantRevoke, ot, nt)
			c.Role, c.Old.Privileges = role, revoke
			if before := d.unrenamedPrivileges(ot, nt, revoke); !slices.Equal(before, revoke) {
				c.OldUnrenamed = &Side{Privileges: before}
			}
			// Revoking a table privilege revokes it on every column too: the change
			// grants the column privileges kept again (New).
			for _, p := range revoke {
				for _, w := range want {
					if priv, col := schema.SplitPrivilege(w); col != "" && priv == p && !slices.Contains(add, w) {
						c.New.Privileges = append(c.New.Privileges, w)
					}
				}
			}
			d.add(c)
		}
		if len(add) > 0 {
			c := on(GrantAdd, ot, nt)
			c.Role, c.New.Privileges = role, add
			if slices.ContainsFunc(add, func(p string) bool { return !coveredBy(p, have) }) {
				c.Hazards = []Hazard{WidensAccess}
			}
			if before := d.unrenamedPrivileges(ot, nt, add); !slices.Equal(before, add) {
				c.NewUnrenamed = &Side{Privileges: before}
			}
			d.add(c)
		}
	}
}

// coveredBy reports whether privilege p, of a table or of one column, is one that have
// holds already: itself, or the privilege on the whole table (a column privilege granted
// where the table's is revoked narrows access, as making a column immutable does).
func coveredBy(p string, have []string) bool {
	priv, _ := schema.SplitPrivilege(p)
	return slices.Contains(have, p) || slices.Contains(have, priv)
}

// unrenamedPrivileges returns privileges of nt, columns named as nt names them, with
// the columns this change renames under the names they have in ot.
func (d *differ) unrenamedPrivileges(ot, nt *schema.Table, privs []string) []string {
	was := map[string]string{}
	for _, oc := range ot.Columns {
		if to, ok := d.columnRenames[[3]string{nt.Schema, nt.Name, oc.Name}]; ok {
			was[to] = oc.Name
		}
	}
	out := make([]string, len(privs))
	for i, p := range privs {
		priv, col := schema.SplitPrivilege(p)
		if from, ok := was[col]; ok && col != "" {
			p = schema.ColumnPrivilege(priv, from)
		}
		out[i] = p
	}
	return out
}

// renamedPrivileges returns column privileges of the table that becomes nt with the
// columns under the names they have once this change's renames apply.
func (d *differ) renamedPrivileges(nt *schema.Table, privs []string) []string {
	out := make([]string, len(privs))
	for i, p := range privs {
		priv, col := schema.SplitPrivilege(p)
		if to, ok := d.columnRenames[[3]string{nt.Schema, nt.Name, col}]; ok {
			col = to
		}
		out[i] = schema.ColumnPrivilege(priv, col)
	}
	return out
}
