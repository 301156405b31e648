// Package render turns changes into SQL: goose migration files, plain scripts, and the
// statements behind reports.
package render

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// Statement is one SQL statement and the change it comes from.
type Statement struct {
	SQL    string
	Change *diff.Change
	// Kind is the phase the statement is placed in: the change's own kind, or that of a
	// statement it needs before or after it.
	Kind diff.Kind
	// Block is set for statements that goose must be told not to split: DO blocks, and
	// statements whose quoted names hold ";" or "--".
	Block bool
	// Online statements run after the migration's transaction, each on its own, in a
	// migration of their own (-- +goose NO TRANSACTION): index builds CONCURRENTLY,
	// constraint validations, which would otherwise hold a lock that stops writers for
	// as long as they read the table.
	Online bool
	hold   objects.Lock // the lock it takes on its change's table, set where it is made
}

// Statements returns the SQL for changes, in apply order. A created table contributes
// statements to several phases (its foreign keys after every table exists, its policies
// after row-level security is on), so statements are gathered per phase first.
func Statements(changes []*diff.Change) []Statement {
	return statements(changes, false)
}

// statements renders changes; inTx keeps every statement in one transaction (a
// rollback: Down), in the forms that run there.
func statements(changes []*diff.Change, inTx bool) []Statement {
	r := &renderer{byPhase: map[int][]Statement{}, lifted: map[string]bool{}, fkDropped: map[string]bool{}, goneIndexes: map[string]bool{},
		made: map[string]bool{}, inTx: inTx}
	// Policies dropped and created by changes of their own are not lifted again; foreign
	// keys dropped by changes of their own are not dropped again with their table.
	for _, c := range changes {
		if c.Kind == diff.PolicyDrop && c.NewTable != nil {
			r.lifted[tableName(c.NewTable)+"\x00"+c.Old.Policy.Name] = true
		}
		if c.Kind == diff.PolicyAlter && c.NewTable != nil && remakesPolicy(c.Old.Policy, c.New.Policy) {
			r.lifted[tableName(c.NewTable)+"\x00"+c.New.Policy.Name] = true
		}
		switch nc := c.New.Column; {
		case c.Kind == diff.ForeignKeyAdd && nc != nil && c.NewTable != nil:
			r.made[tableName(c.NewTable)+"\x00fkey\x00"+nc.Name] = true
		case c.Kind == diff.UniqueAdd && nc != nil && c.NewTable != nil:
			r.made[tableName(c.NewTable)+"\x00key\x00"+nc.Name] = true
		case c.Kind == diff.IndexCreate && c.New.Index != nil && c.NewTable != nil:
			r.made[tableName(c.NewTable)+"\x00index\x00"+c.New.Index.Name] = true
		}
		if c.Kind == diff.TableDrop {
			for _, ix := range c.OldTable.Indexes {
				r.goneIndexes[sqlident.Qualified(c.OldTable.Schema, ix.Name)] = true
			}
		}
		if oc := c.Old.Column; (c.Kind == diff.ForeignKeyDrop || c.Kind == diff.ForeignKeyAdd) && oc != nil && oc.References != nil && c.OldTable != nil {
			r.fkDropped[tableName(c.OldTable)+"\x00"+fkName(c.OldTable, oc)] = true
		}
	}
	for _, c := range changes {
		r.change(c)
	}
	phases := slices.Sorted(maps.Keys(r.byPhase))
	n := 0
	for _, p := range phases {
		n += len(r.byPhase[p])
	}
	out := make([]Statement, 0, n)
	for _, p := range phases {
		out = append(out, r.byPhase[p]...)
		delete(r.byPhase, p) // let each phase go once copied
	}
	return out
}

type renderer struct {
	byPhase   map[int][]Statement
	lifted    map[string]bool // table and policy names lifted around type changes
	fkDropped map[string]bool // table and foreign key names dropped by a change of their own
	// goneIndexes are the indexes (schema.name, quoted) of the tables the migration
	// drops, which go with them at its end: a new index of such a name drops it first.
	goneIndexes map[string]bool
	// made are the keys, foreign keys and indexes (table and name) that changes of
	// their own make: a column made anew leaves them to those changes.
	made map[string]bool
	inTx bool // no statement may leave the transaction
}

// createIndexOnce creates index ix of t in phase k, first dropping an index of that name
// the migration drops with its table later (index names are the schema's, not the
// table's).
func (r *renderer) createIndexOnce(k diff.Kind, c *diff.Change, h objects.Lock, t *schema.Table, ix *schema.Index) {
	if name := sqlident.Qualified(t.Schema, ix.Name); r.goneIndexes[name] {
		r.emit(k, c, objects.LockBrief, "DROP INDEX IF EXISTS %s;", name)
	}
	r.emit(k, c, h, "%s", createIndex(t, ix))
}

// dropForeignKey drops, in the phase of foreign key drops (before any key, column or
// table they reference is dropped or retyped), the foreign key of column col of the
// table t that change c drops, unless a change of its own drops it.
func (r *renderer) dropForeignKey(c *diff.Change, t *schema.Table, col *schema.Column) {
	if col.References == nil {
		return
	}
	name := fkName(t, col)
	if r.fkDropped[tableName(t)+"\x00"+name] {
		return
	}
	r.fkDropped[tableName(t)+"\x00"+name] = true
	r.emit(diff.ForeignKeyDrop, c, objects.LockBrief, "ALTER TABLE %s DROP CONSTRAINT %s;", tableName(t), sqlident.Quote(name))
}

// emit places a statement of change c in phase k; h is the lock it takes on c's table.
func (r *renderer) emit(k diff.Kind, c *diff.Change, h objects.Lock, format string, args ...any) {
	p := diff.Phase(k)
	sql := fmt.Sprintf(format, args...)
	// goose ends a statement at a line whose last word before "--" ends with ";"; a quoted
	// name holding ";" or "--" could trip that, so such statements are marked as blocks.
	block := strings.Contains(strings.TrimSuffix(sql, ";"), ";") || strings.Contains(sql, "--")
	r.byPhase[p] = append(r.byPhase[p], Statement{SQL: sql, Change: c, Kind: k, Block: block, hold: h})
}

// suggest emits the fix of a change to an object rlsmigrate does not own: as a comment
// unless the change says to rewrite it.
func (r *renderer) suggest(c *diff.Change, sql string) {
	if c.Rewrite {
		r.emit(c.Kind, c, objects.LockNone, "%s", sql)
		return
	}
	p := diff.Phase(c.Kind)
	text := Comment("not applied: rlsmigrate does not own "+c.Old.Exposure.QualifiedName()+" (diff --allow-destructive applies it); the fix:") + Comment(sql)
	r.byPhase[p] = append(r.byPhase[p], Statement{SQL: strings.TrimSuffix(text, "\n"), Change: c, Kind: c.Kind})
}

// online emits a statement that runs outside the transaction, after it.
func (r *renderer) online(k diff.Kind, c *diff.Change, h objects.Lock, format string, args ...any) {
	r.emit(k, c, h, format, args...)
	r.markOnline(k)
}

// markOnline moves the last statement of phase k out of the transaction.
func (r *renderer) markOnline(k diff.Kind) {
	p := diff.Phase(k)
	r.byPhase[p][len(r.byPhase[p])-1].Online = true
}

// block places a DO block of change c in phase k; h is the lock it takes on c's table.
func (r *renderer) block(k diff.Kind, c *diff.Change, h objects.Lock, body string) {
	p := diff.Phase(k)
	r.byPhase[p] = append(r.byPhase[p], Statement{SQL: "DO " + sqlident.DollarQuote("\n"+body+"\n") + ";", Change: c, Kind: k, Block: true, hold: h})
}

func tableName(t *schema.Table) string { return sqlident.Qualified(t.Schema, t.Name) }

func (r *renderer) change(c *diff.Change) {
	var t string
	if c.NewTable != nil {
		t = tableName(c.NewTable)
	} else if c.OldTable != nil {
		t = tableName(c.OldTable)
	}
	if k, op := c.ObjectChange(); k != nil {
		r.object(c, k, op, t)
		return
	}
	oc, nc := c.Old.Column, c.New.Column
	q := sqlident.Quote
	switch c.Kind {
	case diff.RoleMembership:
		r.emit(c.Kind, c, objects.LockNone, "REVOKE %s FROM %s;", q(c.Old.Role), q(c.Name))
	case diff.RoleBypass:
		attr := "NOBYPASSRLS"
		if c.Old.Role == "superuser" {
			attr = "NOSUPERUSER"
		}
		r.emit(c.Kind, c, objects.LockNone, "ALTER ROLE %s %s;", q(c.Name), attr)
	case diff.TableOwner:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s OWNER TO %s;", t, q(c.New.Role))
	case diff.ViewInvoker:
		r.suggest(c, fmt.Sprintf("ALTER VIEW %s SET (security_invoker = true);", sqlident.Qualified(c.Schema, c.Name)))
	case diff.MatviewReadable:
		r.suggest(c, fmt.Sprintf("REVOKE SELECT ON %s FROM %s;", sqlident.Qualified(c.Schema, c.Name), roleList(c.Old.Exposure.Roles)))
	case diff.FunctionDefiner:
		// ON ROUTINE: procedures too. The name is quoted apart from the arguments,
		// which PostgreSQL printed (quoted as needed): a name may hold "(" and SQL.
		x := c.Old.Exposure
		r.suggest(c, fmt.Sprintf("REVOKE EXECUTE ON ROUTINE %s(%s) FROM %s;", sqlident.Qualified(c.Schema, x.Routine), sqlident.RequoteControl(x.Args), roleList(x.Roles)))
	case diff.TableExposes:
		// Through a parent, a role reads and writes the children under the parent's
		// rules; a copy is only read.
		privs := "ALL"
		if c.Old.Exposure.Kind == "copy table" {
			privs = "SELECT"
		}
		r.suggest(c, fmt.Sprintf("REVOKE %s ON TABLE %s FROM %s;", privs, sqlident.Qualified(c.Schema, c.Name), roleList(c.Old.Exposure.Roles)))
	case diff.DefaultPrivilege:
		dp := c.Old.Default
		in := ""
		if dp.Schema != "" {
			in = " IN SCHEMA " + q(dp.Schema)
		}
		r.emit(c.Kind, c, objects.LockNone, "ALTER DEFAULT PRIVILEGES FOR ROLE %s%s REVOKE %s ON %s FROM %s;", q(dp.Owner), in, privileges(dp.Privileges), dp.ObjectType, sqlident.Grantee(dp.Grantee))
	case diff.SchemaCreateDrop:
		r.emit(c.Kind, c, objects.LockNone, "REVOKE CREATE ON SCHEMA %s FROM %s;", q(c.Schema), sqlident.Grantee(c.Role))
	case diff.GrantOptionDrop:
		r.emit(c.Kind, c, objects.LockNone, "REVOKE GRANT OPTION FOR %s ON %s FROM %s CASCADE;", privileges(c.Old.Privileges), t, sqlident.Grantee(c.Role))
	case diff.SequenceRevoke:
		r.emit(c.Kind, c, objects.LockNone, "REVOKE ALL ON SEQUENCE %s FROM %s;", sqlident.Qualified(c.Schema, c.Name), sqlident.Grantee(c.Role))
	case diff.RoleCreate:
		r.block(c.Kind, c, objects.LockNone, createRole(c.Name))
	case diff.AuthSetup, diff.FunctionMissing, diff.FunctionAlter:
		r.auth(c)
	case diff.SchemaCreate:
		r.emit(c.Kind, c, objects.LockNone, "CREATE SCHEMA IF NOT EXISTS %s;", q(c.Schema))
	case diff.ExternalMissing:
		// Nothing to run: the table belongs to whoever made it (the platform).
		p := diff.Phase(c.Kind)
		text := Comment("not applied: rlsmigrate does not manage " + c.NewTable.QualifiedName() + ", which schema.yaml declares external: " +
			externalSummary(c.NewTable) + "; create it, or correct external: in schema.yaml")
		r.byPhase[p] = append(r.byPhase[p], Statement{SQL: strings.TrimSuffix(text, "\n"), Change: c, Kind: c.Kind})
	case diff.TableRename:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s RENAME TO %s;", tableName(c.OldTable), q(c.NewTable.Name))
	case diff.ColumnRename:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s RENAME COLUMN %s TO %s;", t, q(oc.Name), q(nc.Name))
	case diff.PolicyRename:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER POLICY %s ON %s RENAME TO %s;", q(c.Old.Policy.Name), t, q(c.New.Policy.Name))
	case diff.IndexRename:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER INDEX %s RENAME TO %s;", sqlident.Qualified(c.Schema, c.Old.Index.Name), q(c.New.Index.Name))
	case diff.ConstraintRename:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s RENAME CONSTRAINT %s TO %s;", t, q(c.Old.Constraint), q(c.New.Constraint))
	case diff.TableCreate:
		r.createTable(c)
	case diff.TableDrop:
		// Its foreign keys go first, with the others: a key or column it references
		// may be dropped or retyped in the same migration, before the table.
		for _, col := range c.OldTable.Columns {
			r.dropForeignKey(c, c.OldTable, col)
		}
		r.emit(c.Kind, c, objects.LockBrief, "DROP TABLE %s;", t)
	case diff.ColumnAdd:
		r.emit(c.Kind, c, addColumnHold(nc), "ALTER TABLE %s ADD COLUMN %s;", t, columnDef(nc, false))
		r.revokeSequences(c.Kind, c, c.NewTable, []*schema.Column{nc})
		if nc.Comment != "" {
			r.emit(c.Kind, c, objects.LockNone, "%s", columnComment(t, nc))
		}
	case diff.ColumnComment:
		r.emit(c.Kind, c, objects.LockNone, "%s", columnComment(t, nc))
	case diff.TableComment:
		r.emit(c.Kind, c, objects.LockNone, "%s", commentOn("TABLE "+t, c.NewTable.Comment))
	case diff.ColumnDrop:
		if r.lifted[t+"\x00dropped\x00"+oc.Name] {
			break // a generated column, dropped before a type change of a column it read
		}
		r.dropForeignKey(c, c.OldTable, oc) // first, as for a dropped table
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DROP COLUMN %s;", t, q(oc.Name))
	case diff.ColumnType:
		r.columnType(c, t)
	case diff.ColumnGenerated:
		if r.lifted[t+"\x00generated\x00"+nc.Name] {
			break // made anew, or its expression dropped, around a type change already
		}
		if nc.Generated == "" { // generated no more: its values stay, converted
			r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s DROP EXPRESSION;", t, q(nc.Name))
			if oc.Type != nc.Type {
				r.liftPolicies(c, t, nc.Name)
				r.retype(c, t, columnUsing(oc, nc))
			}
			if nc.Default != "" {
				r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s;", t, q(nc.Name), nc.Default)
			}
			break
		}
		r.liftPolicies(c, t, nc.Name)
		r.remakeColumn(c, t, []*schema.Column{nc}, nil)
	case diff.ColumnDefault:
		if nc.Default == "" {
			r.emit(diff.ColumnDefaultDrop, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;", t, q(nc.Name))
		} else {
			r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s;", t, q(nc.Name), nc.Default)
		}
	case diff.ColumnNotNull:
		// SET NOT NULL reads the whole table under ACCESS EXCLUSIVE, unless a valid
		// CHECK (col IS NOT NULL) proves it: that check is added NOT VALID here, and
		// validated (SHARE UPDATE EXCLUSIVE: writers go on) after the transaction.
		check := q(sqlident.Name(c.NewTable.Name, nc.Name, "not_null"))
		// An identity added in the same migration needs NOT NULL first, in the
		// transaction (PostgreSQL refuses ADD GENERATED on a nullable column).
		if nc.NotNull && (r.inTx || (nc.Identity != "" && (oc == nil || oc.Identity == ""))) {
			r.emit(c.Kind, c, objects.LockScan, "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;", t, q(nc.Name))
			break
		}
		if !nc.NotNull {
			r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;", t, q(nc.Name))
			r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s;", t, check)
			break
		}
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID;", t, check, q(nc.Name))
		r.block(c.Kind, c, objects.LockValidate, fmt.Sprintf(`BEGIN
  IF EXISTS (SELECT FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s) THEN
    ALTER TABLE %s VALIDATE CONSTRAINT %s;
  END IF;
END`, sqlident.Literal(t), sqlident.Literal(sqlident.Name(c.NewTable.Name, nc.Name, "not_null")), t, check))
		r.markOnline(c.Kind)
		r.online(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;", t, q(nc.Name))
		r.online(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s;", t, check)
	case diff.ColumnIdentity:
		switch {
		case nc.Identity == "":
			r.emit(diff.ColumnIdentityDrop, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s DROP IDENTITY;", t, q(nc.Name))
		case oc.Identity == "":
			r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s ADD GENERATED %s AS IDENTITY;", t, q(nc.Name), strings.ToUpper(nc.Identity))
			r.revokeSequences(c.Kind, c, c.NewTable, []*schema.Column{nc})
		default:
			r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s SET GENERATED %s;", t, q(nc.Name), strings.ToUpper(nc.Identity))
		}
	case diff.UniqueAdd:
		r.emit(c.Kind, c, objects.LockKeyBuild, "ALTER TABLE %s ADD CONSTRAINT %s UNIQUE (%s);", t, q(uniqueName(c.NewTable, nc)), q(nc.Name))
	case diff.UniqueDrop:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DROP CONSTRAINT %s;", t, q(uniqueName(c.OldTable, oc)))
	case diff.ForeignKeyAdd:
		if oc != nil && oc.References != nil {
			r.emit(diff.ForeignKeyDrop, c, objects.LockBrief, "ALTER TABLE %s DROP CONSTRAINT %s;", t, q(fkName(c.OldTable, oc)))
		}
		// On a table that holds rows: NOT VALID now (a brief lock), VALIDATE after the
		// transaction, which reads the rows without stopping writers.
		if r.inTx {
			r.emit(c.Kind, c, objects.LockReferenceScan, "%s", addForeignKey(c.NewTable, nc))
			break
		}
		r.emit(c.Kind, c, objects.LockReference, "%s", strings.TrimSuffix(addForeignKey(c.NewTable, nc), ";")+" NOT VALID;")
		r.online(c.Kind, c, objects.LockValidate, "ALTER TABLE %s VALIDATE CONSTRAINT %s;", t, q(fkName(c.NewTable, nc)))
	case diff.ForeignKeyDrop:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DROP CONSTRAINT %s;", t, q(fkName(c.OldTable, oc)))
	case diff.PrimaryKeyAdd:
		r.emit(c.Kind, c, objects.LockKeyBuild, "ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s);", t, q(pkName(c.NewTable)), idents(c.NewTable.PrimaryKey))
	case diff.PrimaryKeyDrop:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DROP CONSTRAINT %s;", t, q(pkName(c.OldTable)))
	case diff.IndexCreate:
		// On a table that holds rows, CONCURRENTLY: writers go on while it builds. A
		// build that failed leaves an invalid index of that name, dropped first.
		name := sqlident.Qualified(c.Schema, c.New.Index.Name)
		if r.inTx {
			r.createIndexOnce(c.Kind, c, objects.LockBuild, c.NewTable, c.New.Index)
			break
		}
		// A retry after a failed build finds an invalid index of that name: only that is
		// dropped (briefly, ACCESS EXCLUSIVE, bounded by lock_timeout); a valid one that
		// an earlier attempt built is kept, and IF NOT EXISTS leaves it be.
		r.block(c.Kind, c, objects.LockBrief, fmt.Sprintf(`BEGIN
  IF EXISTS (SELECT FROM pg_index WHERE indexrelid = to_regclass(%s) AND NOT indisvalid) THEN
    DROP INDEX %s;
  END IF;
END`, sqlident.Literal(name), name))
		r.markOnline(c.Kind)
		r.online(c.Kind, c, objects.LockConcurrentBuild, "%s", strings.Replace(createIndex(c.NewTable, c.New.Index), "INDEX ", "INDEX CONCURRENTLY IF NOT EXISTS ", 1))
	case diff.IndexDrop:
		if r.inTx { // a rollback: the migration after it may have dropped it already
			r.emit(c.Kind, c, objects.LockBrief, "DROP INDEX IF EXISTS %s;", sqlident.Qualified(c.Schema, c.Old.Index.Name))
			break
		}
		r.online(c.Kind, c, objects.LockConcurrentDrop, "DROP INDEX CONCURRENTLY IF EXISTS %s;", sqlident.Qualified(c.Schema, c.Old.Index.Name))
	case diff.RLSEnable:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s ENABLE ROW LEVEL SECURITY;", t)
	case diff.RLSDisable:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DISABLE ROW LEVEL SECURITY;", t)
	case diff.ForceRLSEnable:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s FORCE ROW LEVEL SECURITY;", t)
	case diff.ForceRLSDisable:
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s NO FORCE ROW LEVEL SECURITY;", t)
	case diff.PolicyCreate:
		r.emit(c.Kind, c, objects.LockBrief, "%s", createPolicy(c.NewTable, c.New.Policy))
	case diff.PolicyDrop:
		r.emit(c.Kind, c, objects.LockBrief, "DROP POLICY %s ON %s;", q(c.Old.Policy.Name), t)
	case diff.PolicyAlter:
		r.alterPolicy(c, t)
	case diff.GrantAdd:
		r.emit(c.Kind, c, objects.LockNone, "GRANT %s ON %s TO %s;", privileges(c.New.Privileges), t, sqlident.Grantee(c.Role))
	case diff.GrantRevoke:
		r.emit(c.Kind, c, objects.LockNone, "REVOKE %s ON %s FROM %s;", privileges(c.Old.Privileges), t, sqlident.Grantee(c.Role))
		if len(c.New.Privileges) > 0 { // column privileges the revoke took with it
			r.emit(c.Kind, c, objects.LockNone, "GRANT %s ON %s TO %s;", privileges(c.New.Privileges), t, sqlident.Grantee(c.Role))
		}
	case diff.FunctionCreate:
		r.emit(c.Kind, c, objects.LockNone, "%s", createFunction(c.New.Function))
		r.execute(c, c.New.Function, []string{"public"}, c.New.Function.Execute)
	case diff.FunctionReplace:
		of, nf := c.Old.Function, c.New.Function
		if of.Returns != nf.Returns {
			// Its policies are dropped before (see diff) and created after.
			r.emit(diff.PoliciesLift, c, objects.LockNone, "DROP FUNCTION %s();", sqlident.Qualified(of.Schema, of.Name))
			r.emit(c.Kind, c, objects.LockNone, "%s", createFunction(nf))
			r.execute(c, nf, []string{"public"}, nf.Execute)
			return
		}
		if of.Definition() != nf.Definition() {
			r.emit(c.Kind, c, objects.LockNone, "%s", createFunction(nf))
		}
		r.execute(c, nf, of.Execute, nf.Execute)
	case diff.FunctionDrop:
		r.emit(c.Kind, c, objects.LockNone, "DROP FUNCTION %s();", sqlident.Qualified(c.Old.Function.Schema, c.Old.Function.Name))
	case diff.UsageGrant:
		r.emit(c.Kind, c, objects.LockNone, "GRANT USAGE ON SCHEMA %s TO %s;", q(c.Schema), sqlident.Grantee(c.Role))
	case diff.UsageRevoke:
		r.emit(c.Kind, c, objects.LockNone, "REVOKE USAGE ON SCHEMA %s FROM %s;", q(c.Schema), sqlident.Grantee(c.Role))
	default:
		panic(fmt.Sprintf("render: no SQL for change kind %q", c.Kind))
	}
}

// createTable emits the table with its columns and keys, then, each in its own phase, its
// foreign keys, indexes, row-level security, policies and grants.
func (r *renderer) createTable(c *diff.Change) {
	t := c.NewTable
	var lines []string
	for _, col := range t.Columns {
		lines = append(lines, "  "+columnDef(col, len(t.PrimaryKey) > 0 && slices.Contains(t.PrimaryKey, col.Name)))
	}
	if len(t.PrimaryKey) > 0 {
		lines = append(lines, fmt.Sprintf("  CONSTRAINT %s PRIMARY KEY (%s)", sqlident.Quote(pkName(t)), idents(t.PrimaryKey)))
	}
	for _, col := range t.Columns {
		if col.Unique {
			lines = append(lines, fmt.Sprintf("  CONSTRAINT %s UNIQUE (%s)", sqlident.Quote(uniqueName(t, col)), sqlident.Quote(col.Name)))
		}
	}
	r.emit(diff.TableCreate, c, objects.LockNone, "CREATE TABLE %s (\n%s\n);", tableName(t), strings.Join(lines, ",\n"))
	if len(c.Revoke) > 0 {
		r.emit(diff.TableCreate, c, objects.LockNone, "REVOKE ALL ON %s FROM %s;", tableName(t), roleList(append([]string{"public"}, c.Revoke...)))
		r.revokeSequences(diff.TableCreate, c, t, t.Columns)
	}
	if t.Comment != "" {
		r.emit(diff.TableCreate, c, objects.LockNone, "%s", commentOn("TABLE "+tableName(t), t.Comment))
	}
	for _, col := range t.Columns {
		if col.Comment != "" {
			r.emit(diff.TableCreate, c, objects.LockNone, "%s", columnComment(tableName(t), col))
		}
	}
	// Each object in its kind's phase: a trigger after the function it runs.
	for _, o := range t.Objects {
		k := objects.Of(o)
		r.objectStatements(diff.ObjectKind(k, diff.ObjectCreate), c, k.Create(tableName(t), o, objects.NewTable))
	}
	for _, col := range t.Columns {
		if col.References != nil {
			r.emit(diff.ForeignKeyAdd, c, objects.LockNone, "%s", addForeignKey(t, col))
		}
	}
	for _, ix := range t.Indexes {
		r.createIndexOnce(diff.IndexCreate, c, objects.LockNone, t, ix)
	}
	if t.RLS {
		r.emit(diff.RLSEnable, c, objects.LockNone, "ALTER TABLE %s ENABLE ROW LEVEL SECURITY;", tableName(t))
	}
	if t.ForceRLS {
		r.emit(diff.ForceRLSEnable, c, objects.LockNone, "ALTER TABLE %s FORCE ROW LEVEL SECURITY;", tableName(t))
	}
	for _, p := range t.Policies {
		r.emit(diff.PolicyCreate, c, objects.LockNone, "%s", createPolicy(t, p))
	}
	for _, g := range t.Grants {
		privs := append(slices.Clone(g.Privileges), t.ColumnPrivileges(g.Role)...)
		r.emit(diff.GrantAdd, c, objects.LockNone, "GRANT %s ON %s TO %s;", privileges(privs), tableName(t), sqlident.Grantee(g.Role))
	}
}

// object emits the statements of change c, which does op to an object of kind k of
// table t ("" outside tables): an alteration drops the object with the drops (before
// columns change) and creates it anew. On a table that may hold rows, what reads them
// is done online unless the whole migration stays in one transaction.
func (r *renderer) object(c *diff.Change, k *objects.Kind, op diff.ObjectOp, t string) {
	if op == diff.ObjectAlter && k.Alter != nil {
		r.objectStatements(c.Kind, c, k.Alter(t, c.Old.Object, c.New.Object, c.Anew))
		return
	}
	if op != diff.ObjectCreate {
		r.objectStatements(diff.ObjectKind(k, diff.ObjectDrop), c, k.Drop(t, c.Old.Object))
	}
	if op != diff.ObjectDrop {
		where := objects.Online
		if r.inTx {
			where = objects.InTransaction
		}
		r.objectStatements(c.Kind, c, k.Create(t, c.New.Object, where))
	}
}

// objectStatements emits an object kind's statements for change c in phase k.
func (r *renderer) objectStatements(k diff.Kind, c *diff.Change, stmts []objects.Statement) {
	for _, st := range stmts {
		r.emit(k, c, st.Lock, "%s", st.SQL)
		if st.Online {
			r.markOnline(k)
		}
	}
}

// revokeSequences revokes, in phase k, what the platform's default privileges gave
// c.Revoke (and public) on the identity sequences of cols of table t.
func (r *renderer) revokeSequences(k diff.Kind, c *diff.Change, t *schema.Table, cols []*schema.Column) {
	if len(c.Revoke) == 0 {
		return
	}
	var lines []string
	for _, col := range cols {
		if col.Identity != "" {
			lines = append(lines, fmt.Sprintf("  EXECUTE format('REVOKE ALL ON SEQUENCE %%s FROM %%s', pg_get_serial_sequence(%s, %s), %s);",
				sqlident.Literal(tableName(t)), sqlident.Literal(col.Name), sqlident.Literal(roleList(append([]string{"public"}, c.Revoke...)))))
		}
	}
	if len(lines) > 0 {
		r.block(k, c, objects.LockNone, "BEGIN\n"+strings.Join(lines, "\n")+"\nEND")
	}
}

// commentOn sets the comment of object (TABLE t, COLUMN t.c); "" removes it. COMMENT
// takes a SHARE UPDATE EXCLUSIVE lock: reads and writes go on.
func commentOn(object, comment string) string {
	text := "NULL"
	if comment != "" {
		text = sqlident.Literal(comment)
	}
	return "COMMENT ON " + object + " IS " + text + ";"
}

// columnComment sets the comment of column c of table t (qualified and quoted).
func columnComment(t string, c *schema.Column) string {
	return commentOn("COLUMN "+t+"."+sqlident.Quote(c.Name), c.Comment)
}

// createFunction writes a function rlsmigrate owns. CREATE OR REPLACE keeps its grants.
func createFunction(f *schema.Function) string {
	var attrs []string
	attrs = append(attrs, "LANGUAGE "+f.Language, map[string]string{"i": "IMMUTABLE", "s": "STABLE", "v": "VOLATILE"}[f.Volatility])
	if f.SecurityDefiner {
		attrs = append(attrs, "SECURITY DEFINER")
	}
	for _, set := range f.Settings {
		name, value, _ := strings.Cut(set, "=")
		if value == `""` {
			value = "''"
		} else {
			value = sqlident.Literal(value)
		}
		attrs = append(attrs, "SET "+name+" = "+value)
	}
	return fmt.Sprintf("CREATE OR REPLACE FUNCTION %s() RETURNS %s\n  %s\n  AS %s;",
		sqlident.Qualified(f.Schema, f.Name), f.Returns, strings.Join(attrs, " "), sqlident.DollarQuote(f.Body))
}

// execute revokes EXECUTE on f from the roles of had that want lacks, and grants it to
// those of want that had lacks.
func (r *renderer) execute(c *diff.Change, f *schema.Function, had, want []string) {
	name := sqlident.Qualified(f.Schema, f.Name) + "()"
	revoke, grant := schema.Without(had, want), schema.Without(want, had)
	if len(revoke) > 0 {
		r.emit(c.Kind, c, objects.LockNone, "REVOKE EXECUTE ON FUNCTION %s FROM %s;", name, roleList(revoke))
	}
	if len(grant) > 0 {
		r.emit(c.Kind, c, objects.LockNone, "GRANT EXECUTE ON FUNCTION %s TO %s;", name, roleList(grant))
	}
}

// columnType changes a column's type. A default is dropped first and set again after
// (PostgreSQL converts it with the column and fails when it cannot), and the policies that
// mention the column are dropped and created again around it (PostgreSQL refuses to change
// the type of a column a policy uses), all in the migration's one transaction. Values are
// converted with the column's using: expression, else a cast, else (where PostgreSQL has
// no cast, which generate refuses for Up but a Down section or a diff fix may need)
// through their text form.
func (r *renderer) columnType(c *diff.Change, t string) {
	nc := c.New.Column
	using := columnUsing(c.Old.Column, nc)
	r.liftPolicies(c, t, nc.Name)
	// Generated columns reading it are made anew around it, each time a column they
	// read changes type (PostgreSQL refuses the change while one reads it): those the
	// table has, and those added in this migration (before the type changes).
	var generated []*schema.Column
	for _, g := range c.NewTable.Columns {
		if g.Generated == "" || !sqlparse.MentionsIdent(g.Generated, nc.Name) {
			continue
		}
		if og := c.OldTable.Column(g.Name); og != nil && og.Generated == "" {
			continue // generated later in this migration (column.generated)
		}
		r.lifted[t+"\x00generated\x00"+g.Name] = true
		r.liftPolicies(c, t, g.Name)
		generated = append(generated, g)
	}
	// One this migration drops (later, with the columns it drops) goes now.
	for _, g := range c.OldTable.Columns {
		key := t + "\x00dropped\x00" + g.Name
		if g.Generated != "" && c.NewTable.Column(g.Name) == nil && !r.lifted[key] && sqlparse.MentionsIdent(g.Generated, c.Old.Column.Name) {
			r.lifted[key] = true
			r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DROP COLUMN %s;", t, sqlident.Quote(g.Name))
		}
	}
	if len(generated) > 0 {
		r.remakeColumn(c, t, generated, func() { r.retype(c, t, using) })
		return
	}
	r.retype(c, t, using)
}

// columnUsing is how values of column oc convert to nc's type: nc's using expression,
// else a cast, else (where PostgreSQL has no cast, which generate refuses for Up but a
// Down section or a diff fix may need) through their text form.
func columnUsing(oc, nc *schema.Column) string {
	q := sqlident.Quote
	switch {
	case nc.Using != "":
		return nc.Using
	// A type it does not know (an enum, a domain) converts through its text form.
	case sqlparse.StringType(nc.Type) || sqlparse.BuiltinType(oc.Type) && sqlparse.BuiltinType(nc.Type) && sqlparse.CanCast(oc.Type, nc.Type):
		return q(nc.Name) + "::" + nc.Type
	}
	return q(nc.Name) + "::text::" + nc.Type
}

// retype changes the column of c to its new type, converting values with using, its
// default dropped around it.
func (r *renderer) retype(c *diff.Change, t, using string) {
	oc, nc, q := c.Old.Column, c.New.Column, sqlident.Quote
	if nc.Default != "" && oc.Default != "" {
		r.emit(diff.ColumnDefaultDrop, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;", t, q(nc.Name))
		if nc.Default == oc.Default {
			r.emit(diff.ColumnDefault, c, objects.LockBrief, "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s;", t, q(nc.Name), nc.Default)
		}
	}
	r.emit(c.Kind, c, objects.LockRewrite, "ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s;", t, q(nc.Name), nc.Type, using)
}

// remakeColumn drops column nc of the table and adds it anew (a generated column whose
// expression changes, or that reads a column whose type changes, which PostgreSQL
// refuses to change in place), with the keys, indexes and comment dropping it takes
// away; ADD COLUMN computes the values, rewriting the table.
func (r *renderer) remakeColumn(c *diff.Change, t string, cols []*schema.Column, between func()) {
	q := sqlident.Quote
	var held []*schema.Object // the table's checks and triggers on the columns: in the way, or dropped with them
	for _, nc := range cols {
		for _, o := range c.NewTable.Objects {
			if oc := c.OldTable.Column(nc.Name); oc != nil && oc.Type != nc.Type {
				break // the objects on it are made anew around its type change (diff)
			}
			if objects.Mentions(o, nc.Name) && c.OldTable.Object(o.Kind, o.Name) != nil && !slices.Contains(held, o) {
				held = append(held, o)
				r.objectStatements(c.Kind, c, objects.Of(o).Drop(t, c.OldTable.Object(o.Kind, o.Name)))
			}
		}
		r.emit(c.Kind, c, objects.LockBrief, "ALTER TABLE %s DROP COLUMN %s;", t, q(nc.Name))
	}
	if between != nil {
		between()
	}
	for _, nc := range cols {
		r.addBack(c, t, nc)
	}
	for _, o := range held {
		r.objectStatements(c.Kind, c, objects.Of(o).Create(t, o, objects.InTransaction))
	}
}

// addBack adds column nc, which remakeColumn dropped, with its keys, indexes and comment.
func (r *renderer) addBack(c *diff.Change, t string, nc *schema.Column) {
	q := sqlident.Quote
	r.emit(c.Kind, c, objects.LockDefaultRewrite, "ALTER TABLE %s ADD COLUMN %s;", t, columnDef(nc, slices.Contains(c.NewTable.PrimaryKey, nc.Name)))
	if nc.Unique && !r.made[t+"\x00key\x00"+nc.Name] {
		r.emit(c.Kind, c, objects.LockKeyBuild, "ALTER TABLE %s ADD CONSTRAINT %s UNIQUE (%s);", t, q(uniqueName(c.NewTable, nc)), q(nc.Name))
	}
	if nc.References != nil && !r.made[t+"\x00fkey\x00"+nc.Name] {
		r.emit(c.Kind, c, objects.LockReferenceScan, "%s", addForeignKey(c.NewTable, nc))
	}
	// Every index on it went with it. One this migration creates anyway is made; the
	// others are the table's, under whatever name they had (a Down knows a renamed
	// index by its Up name only).
	for _, ix := range c.NewTable.Indexes {
		if slices.Contains(ix.Columns, nc.Name) && !r.made[t+"\x00index\x00"+ix.Name] {
			r.emit(c.Kind, c, objects.LockBuild, "%s", createIndex(c.NewTable, ix))
		}
	}
	if nc.Comment != "" {
		r.emit(c.Kind, c, objects.LockNone, "%s", columnComment(t, nc))
	}
	for _, g := range c.NewTable.Grants {
		for _, priv := range slices.Sorted(maps.Keys(g.Columns)) {
			if slices.Contains(g.Columns[priv], nc.Name) {
				r.emit(c.Kind, c, objects.LockNone, "GRANT %s (%s) ON %s TO %s;", strings.ToUpper(priv), q(nc.Name), t, roleList([]string{g.Role}))
			}
		}
	}
}

// liftPolicies drops the policies of the table that mention column, as they are or as
// they end up, and that the table keeps through this change, before the column's type
// changes, and creates them as they end up right after; each policy once.
func (r *renderer) liftPolicies(c *diff.Change, t, column string) {
	mentions := func(p *schema.Policy) bool {
		return p != nil && (sqlparse.MentionsIdent(p.Using, column) || sqlparse.MentionsIdent(p.Check, column))
	}
	for _, np := range c.NewTable.Policies {
		key := t + "\x00" + np.Name
		if r.lifted[key] || !continues(c.OldTable, np) || !(mentions(np) || mentions(c.OldTable.Policy(np.Name)) || mentions(c.OldTable.Policy(np.RenamedFrom))) {
			continue // created later in the migration, or not in the way
		}
		r.lifted[key] = true
		r.emit(diff.PoliciesLift, c, objects.LockBrief, "DROP POLICY %s ON %s;", sqlident.Quote(np.Name), t)
		r.emit(diff.PoliciesRestore, c, objects.LockBrief, "%s", createPolicy(c.NewTable, np))
	}
}

// remakesPolicy reports whether turning op into np drops the policy and creates it:
// ALTER POLICY cannot change the command or kind, nor remove a clause.
func remakesPolicy(op, np *schema.Policy) bool {
	return op.Command != np.Command || op.Restrictive != np.Restrictive ||
		(op.Using != "" && np.Using == "") || (op.Check != "" && np.Check == "")
}

// continues reports whether np exists in ot, under its name or renamed either way.
func continues(ot *schema.Table, np *schema.Policy) bool {
	if ot.Policy(np.Name) != nil || (np.RenamedFrom != "" && ot.Policy(np.RenamedFrom) != nil) {
		return true
	}
	for _, op := range ot.Policies {
		if op.RenamedFrom == np.Name {
			return true
		}
	}
	return false
}

func (r *renderer) alterPolicy(c *diff.Change, t string) {
	op, np := c.Old.Policy, c.New.Policy
	if remakesPolicy(op, np) {
		// Renames apply first: the policy has its new name by now.
		r.emit(diff.PolicyDrop, c, objects.LockBrief, "DROP POLICY %s ON %s;", sqlident.Quote(np.Name), t)
		r.emit(diff.PolicyCreate, c, objects.LockBrief, "%s", createPolicy(c.NewTable, np))
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "ALTER POLICY %s ON %s TO %s", sqlident.Quote(np.Name), t, roleList(np.Roles))
	if np.Using != "" {
		fmt.Fprintf(&sb, " USING (%s)", np.Using)
	}
	if np.Check != "" {
		fmt.Fprintf(&sb, " WITH CHECK (%s)", np.Check)
	}
	r.emit(c.Kind, c, objects.LockBrief, "%s;", sb.String())
}

func columnDef(c *schema.Column, inPrimaryKey bool) string {
	var sb strings.Builder
	sb.WriteString(sqlident.Quote(c.Name) + " " + c.Type)
	if c.Identity != "" {
		sb.WriteString(" GENERATED " + strings.ToUpper(c.Identity) + " AS IDENTITY")
	} else if c.NotNull && !inPrimaryKey {
		sb.WriteString(" NOT NULL")
	}
	if c.Default != "" {
		sb.WriteString(" DEFAULT " + c.Default)
	}
	if c.Generated != "" {
		sb.WriteString(" GENERATED ALWAYS AS (" + c.Generated + ") STORED")
	}
	return sb.String()
}

func createIndex(t *schema.Table, ix *schema.Index) string {
	unique := ""
	if ix.Unique {
		unique = "UNIQUE "
	}
	return fmt.Sprintf("CREATE %sINDEX %s ON %s (%s);", unique, sqlident.Quote(ix.Name), tableName(t), idents(ix.Columns))
}

func createPolicy(t *schema.Table, p *schema.Policy) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "CREATE POLICY %s ON %s", sqlident.Quote(p.Name), tableName(t))
	if p.Restrictive {
		sb.WriteString(" AS RESTRICTIVE")
	}
	fmt.Fprintf(&sb, " FOR %s TO %s", strings.ToUpper(p.Command), roleList(p.Roles))
	if p.Using != "" {
		fmt.Fprintf(&sb, " USING (%s)", p.Using)
	}
	if p.Check != "" {
		fmt.Fprintf(&sb, " WITH CHECK (%s)", p.Check)
	}
	return sb.String() + ";"
}

func addForeignKey(t *schema.Table, c *schema.Column) string {
	fk := c.References
	s := fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)",
		tableName(t), sqlident.Quote(fkName(t, c)), sqlident.Quote(c.Name),
		sqlident.Qualified(fk.Schema, fk.Table), sqlident.Quote(fk.Column))
	if fk.OnDelete != "" {
		s += " ON DELETE " + strings.ToUpper(fk.OnDelete)
	}
	return s + ";"
}

// The constraint names a model carries; a model built without them gets the names that
// schema.yaml compiles to.
func pkName(t *schema.Table) string {
	if t.PKName != "" {
		return t.PKName
	}
	return sqlident.Name(t.Name, "pkey")
}

func uniqueName(t *schema.Table, c *schema.Column) string {
	if c.UniqueName != "" {
		return c.UniqueName
	}
	return sqlident.Name(t.Name, c.Name, "key")
}

func fkName(t *schema.Table, c *schema.Column) string {
	if c.References.Name != "" {
		return c.References.Name
	}
	return sqlident.Name(t.Name, c.Name, "fkey")
}

func idents(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = sqlident.Quote(n)
	}
	return strings.Join(quoted, ", ")
}

func roleList(roles []string) string { return sqlident.Grantees(roles) }

// privileges spells a privilege list: table privileges, then each column privilege with
// its columns, UPDATE ("task", "done").
func privileges(privs []string) string {
	var out []string
	columns := map[string][]string{}
	var order []string
	for _, p := range privs {
		priv, col := schema.SplitPrivilege(p)
		if col == "" {
			out = append(out, strings.ToUpper(priv))
			continue
		}
		if _, ok := columns[priv]; !ok {
			order = append(order, priv)
		}
		columns[priv] = append(columns[priv], sqlident.Quote(col))
	}
	for _, priv := range order {
		out = append(out, strings.ToUpper(priv)+" ("+strings.Join(columns[priv], ", ")+")")
	}
	return strings.Join(out, ", ")
}
