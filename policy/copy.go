package policy

import (
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// CopyFunctions returns the names, in FunctionSchema, of the two trigger functions that
// keep copy column c of t in step: fill sets it on each row of t written, follow
// carries a change of the source column to the rows of t that reference it. Derived
// from everything that defines them, so no two copies share one.
func CopyFunctions(t *Table, c *Column) (fill, follow string) {
	defining := []string{t.Schema, t.Name, c.Name, c.Copy.Via, c.Copy.Column}
	return sqlident.Derived("copy_"+t.Name+"_"+c.Name, defining...),
		sqlident.Derived("follow_"+t.Name+"_"+c.Name, defining...)
}

// CopySource returns the table and the column (key) that copy column c of t reads its
// value through: the table its via column references, and the referenced column; nil
// when c copies nothing or the file does not validate.
func (f *File) CopySource(t *Table, c *Column) (*Table, string) {
	if c.Copy == nil {
		return nil, ""
	}
	via := t.Column(c.Copy.Via)
	if via == nil || via.References == nil {
		return nil, ""
	}
	return f.Table(via.References.Schema, via.References.Table), via.References.Column
}

// validateCopies checks every copy column: its via column references another managed
// table holding the copied column, of the same type; a table without row-level
// security copies nothing from one with it; neither table forces row-level security
// on its owner, whom the triggers run as; nothing else writes it (no
// default, identity, generated expression, declared row, not_null that a row without a
// reference could not meet, immutable: false); and no chain of copies leads back to
// it, which would make its triggers update each other without end. A copy column is
// immutable: the roles get no UPDATE on it.
func (d *decoder) validateCopies(f *File) {
	f.copyReaders = map[*Table][]CopyColumn{}
	for _, t := range f.Tables {
		for _, c := range t.Columns {
			cp := c.Copy
			if cp == nil || cp.Via == "" || cp.Column == "" {
				continue // a missing key is reported where it was read
			}
			via := t.Column(cp.Via)
			src, _ := f.CopySource(t, c)
			switch {
			case via == nil:
				d.at(cp.Pos, "copy.via %q is not a column of table %s", cp.Via, t.QualifiedName())
				continue
			case cp.Via == c.Name:
				d.at(cp.Pos, "column %q cannot copy through itself: name the column that references the row it copies from", c.Name)
				continue
			case via.References == nil:
				d.at(cp.Pos, "copy.via %q references no table: add references: to it", cp.Via)
				continue
			case src == nil:
				d.at(cp.Pos, "copy.via %q references %s.%s, which rlsmigrate does not manage: a copy reads a table under tables:", cp.Via, via.References.Schema, via.References.Table)
				continue
			case src == t:
				d.at(cp.Pos, "copy.via %q references table %s itself: a copy reads another table", cp.Via, t.QualifiedName())
				continue
			case src.Column(cp.Column) == nil:
				d.at(cp.Pos, "copy.column %q is not a column of table %s", cp.Column, src.QualifiedName())
				continue
			}
			if got := src.Column(cp.Column).Type; c.Type != "" && sqlparse.WithoutModifiers(got) != sqlparse.WithoutModifiers(c.Type) {
				d.at(cp.Pos, "column %q is %s and copies %s.%s, which is %s; declare it %s", c.Name, c.Type, src.Name, cp.Column, got, got)
			}
			switch {
			case c.Default != "" || c.Identity != "" || c.Generated != "":
				d.at(c.Pos, "column %q is a copy: its triggers write it, so it takes no default, identity or generated expression", c.Name)
			case c.NotNull || c.PrimaryKey:
				d.at(c.Pos, "column %q is a copy: it is NULL where %q references no row, so it cannot be not_null or a primary key", c.Name, cp.Via)
			case c.ImmutableSet && !c.Immutable:
				d.at(c.Pos, "column %q is a copy: only its triggers write it, so it cannot be immutable: false", c.Name)
			}
			for _, forced := range []*Table{t, src} {
				if forced.ForceRLS {
					d.at(cp.Pos, "column %q copies through table %s, which has force_rls: true: its triggers, which run as the tables' owner, would read and write it under its policies and leave copies stale; drop force_rls", c.Name, forced.QualifiedName())
				}
			}
			if src.RLS && !t.RLS {
				d.at(cp.Pos, "column %q copies %s.%s, which row-level security guards, into table %s, which has none: whoever reads %s would read the copied values past the policies of %s; enable rls on %s", c.Name, src.Name, cp.Column, t.QualifiedName(), t.Name, src.Name, t.Name)
			}
			c.Immutable = true
			for _, r := range t.Rows {
				if _, ok := r.Value(c.Name); ok {
					d.at(r.Pos, "row gives column %q, a copy that its triggers write", c.Name)
				}
			}
			f.copyReaders[src] = append(f.copyReaders[src], CopyColumn{t, c})
			if d.copyCycle(f, t, c) {
				d.at(cp.Pos, "column %q copies %s.%s, whose copies lead back to it: their triggers would update each other without end", c.Name, src.Name, cp.Column)
			}
		}
	}
}

// CopiesReading returns the copy columns, of any table, that read a column of t.
func (f *File) CopiesReading(t *Table) []CopyColumn {
	if f.copyReaders != nil {
		return f.copyReaders[t]
	}
	var out []CopyColumn // a file that did not go through validation
	for _, ct := range f.Tables {
		for _, c := range ct.Columns {
			if src, _ := f.CopySource(ct, c); src == t {
				out = append(out, CopyColumn{ct, c})
			}
		}
	}
	return out
}

// copyCycle reports whether following the copies from column c of t leads back to it.
func (d *decoder) copyCycle(f *File, t *Table, c *Column) bool {
	seen := map[*Column]bool{}
	for cur, ct := c, t; cur != nil && cur.Copy != nil; {
		if seen[cur] {
			return cur == c
		}
		seen[cur] = true
		src, _ := f.CopySource(ct, cur)
		if src == nil {
			return false
		}
		ct, cur = src, src.Column(cur.Copy.Column)
	}
	return false
}

// CopyBodies returns the PL/pgSQL bodies of the trigger functions that keep copy column
// c of t in step (see CopyFunctions); "" when the file does not validate. fill runs
// before each insert of a row of t and each update of its via or copy column, and sets
// the copy from the referenced row, which it locks FOR SHARE so that a concurrent change
// of the source waits for it (or it for that change, and reads the new value). An
// update that leaves via alone keeps a copy that is not NULL (the roles cannot write
// it; follow does): setting it to NULL makes fill read it again, which is how a
// migration fills the column. follow runs after an update of the source column and
// sets the copy of every row that references the updated row and holds another value,
// compared as text, which every type has (json has no equality). Every name is
// qualified: the functions run with an empty search_path.
func (f *File) CopyBodies(t *Table, c *Column) (fill, follow string) {
	src, key := f.CopySource(t, c)
	if src == nil || src.Column(c.Copy.Column) == nil {
		return "", ""
	}
	col, via := sqlident.Quote(c.Name), sqlident.Quote(c.Copy.Via)
	srcCol, srcKey := sqlident.Quote(c.Copy.Column), sqlident.Quote(key)
	fill = "BEGIN\n" +
		"  IF TG_OP = 'UPDATE' AND NEW." + via + " IS NOT DISTINCT FROM OLD." + via + " AND NEW." + col + " IS NOT NULL THEN\n" +
		"    RETURN NEW;\n" +
		"  END IF;\n" +
		"  SELECT s." + srcCol + " INTO NEW." + col + " FROM " + sqlident.Qualified(src.Schema, src.Name) +
		" s WHERE s." + srcKey + " = NEW." + via + " FOR SHARE;\n" +
		"  RETURN NEW;\n" +
		"END"
	follow = "BEGIN\n" +
		"  UPDATE " + sqlident.Qualified(t.Schema, t.Name) + " c SET " + col + " = NEW." + srcCol +
		" WHERE c." + via + " = NEW." + srcKey + " AND c." + col + "::text IS DISTINCT FROM NEW." + srcCol + "::text;\n" +
		"  RETURN NULL;\n" +
		"END"
	return fill, follow
}
