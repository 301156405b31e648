package compile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// groups adds what member rules need to s: one function per group and per group reached
// through a table, in schema rls, executable by the roles whose policies call it; the
// schema itself with USAGE for those roles; and the indexes that let each policy and
// each function answer from an index: the rule's column, the group table's (user,
// group) columns, the through table's group column. Two different functions that would
// share a name (a group named like another group's through function) are refused, each
// error at the rule or group that makes the second.
func groups(f *policy.File, s *schema.Schema) policy.Errors {
	var errs policy.Errors
	type made struct {
		fn  *schema.Function
		pos policy.Pos
	}
	fns := map[string]made{}
	add := func(fn *schema.Function, pos policy.Pos) *schema.Function {
		if prev, ok := fns[fn.Name]; ok {
			if prev.fn.Definition() != fn.Definition() {
				errs = append(errs, &policy.Error{File: f.Path, Pos: pos, Msg: fmt.Sprintf(
					"the function of this rule would be named %s.%s, like a different function made at line %d; rename the group",
					policy.FunctionSchema, fn.Name, prev.pos.Line)})
			}
			return prev.fn
		}
		fns[fn.Name] = made{fn, pos}
		s.Routines = append(s.Routines, fn)
		return fn
	}
	for _, g := range f.Groups {
		gt := f.Table(g.Schema, g.Table)
		add(groupFunction(f, g, gt), g.Pos)
		ensureIndex(f, s, gt, []string{g.UserColumn, g.GroupColumn})
	}
	for _, t := range f.Tables {
		for _, r := range t.Policies {
			if r.Kind != policy.RuleMember {
				continue
			}
			g := f.Group(r.Group)
			fn := fns[g.Function()].fn
			column := r.MemberColumn(f, t)
			if th := r.Through; th != nil && t.CopyOf(column, th.Column) != nil {
				column = t.CopyOf(column, th.Column).Name // the copy answers it: a member rule on the copy
			} else if th != nil {
				tt := f.Table(th.Schema, th.Table)
				ref := t.Column(r.MemberColumn(f, t)).References.Column
				fn = add(throughFunction(g, th, tt, ref), th.Pos)
				ensureIndex(f, s, tt, []string{th.Column})
			}
			fn.Execute = union(fn.Execute, callers(f, r.To))
			if t.OwnerIndex {
				ensureIndex(f, s, t, []string{column})
			}
		}
	}
	for _, t := range f.Tables {
		for _, c := range t.Columns {
			if c.Copy != nil {
				fill, follow := policy.CopyFunctions(t, c)
				fillBody, followBody := f.CopyBodies(t, c)
				add(copyFunction(fill, fillBody), c.Copy.Pos)
				add(copyFunction(follow, followBody), c.Copy.Pos)
				if t.OwnerIndex { // follow finds the rows of a changed source by their via column
					ensureIndex(f, s, t, []string{c.Copy.Via})
				}
			}
		}
	}
	if len(s.Routines) == 0 {
		return errs
	}
	s.Schemas = append(s.Schemas, policy.FunctionSchema)
	var usage []string
	for _, fn := range s.Routines {
		usage = union(usage, fn.Execute)
	}
	s.SchemaUsage[policy.FunctionSchema] = usage
	return errs
}

// groupFunction returns the function that lists the ids of g for the caller.
func groupFunction(f *policy.File, g *policy.Group, gt *policy.Table) *schema.Function {
	conds := []string{fmt.Sprintf("%s = %s", sqlident.Quote(g.UserColumn), f.Auth.UserID)}
	for _, fl := range g.Where {
		lits := make([]string, len(fl.Values))
		for i, v := range fl.Values {
			lits[i] = sqlident.Literal(v)
		}
		if len(lits) == 1 {
			conds = append(conds, fmt.Sprintf("%s = %s", sqlident.Quote(fl.Column), lits[0]))
		} else {
			conds = append(conds, fmt.Sprintf("%s IN (%s)", sqlident.Quote(fl.Column), strings.Join(lits, ", ")))
		}
	}
	body := fmt.Sprintf("ARRAY(SELECT %s FROM %s WHERE %s)",
		sqlident.Quote(g.GroupColumn), sqlident.Qualified(gt.Schema, gt.Name), strings.Join(conds, " AND "))
	return definer(g.Function(), gt.Column(g.GroupColumn).Type, body)
}

// throughFunction returns the function that lists the ids (column ref) of the rows of
// tt whose group column is in the caller's group g.
func throughFunction(g *policy.Group, th *policy.Through, tt *policy.Table, ref string) *schema.Function {
	body := fmt.Sprintf("ARRAY(SELECT %s FROM %s WHERE %s = ANY (%s.%s()))",
		sqlident.Quote(ref), sqlident.Qualified(tt.Schema, tt.Name), sqlident.Quote(th.Column),
		policy.FunctionSchema, sqlident.Quote(g.Function()))
	return definer(policy.ThroughFunction(g.Name, th, ref), tt.Column(ref).Type, body)
}

// definer returns a STABLE SECURITY DEFINER function of schema rls that returns the
// array query returns, with an empty search_path (every name in query is qualified), so
// that it reads its table as the migration role, past that table's policies: a policy
// that calls it cannot recurse. It is PL/pgSQL, not SQL: PostgreSQL cannot inline a SQL
// function that is SECURITY DEFINER or SETs a parameter, so it would parse and plan the
// query again on every statement (0.2–0.3 ms each), where PL/pgSQL keeps the plan for
// the session (0.01–0.05 ms a call once warm).
func definer(name, elemType, query string) *schema.Function {
	return &schema.Function{
		Schema:          policy.FunctionSchema,
		Name:            name,
		Returns:         sqlparse.WithoutModifiers(elemType) + "[]", // as PostgreSQL keeps it: varchar(20) is varchar
		Language:        "plpgsql",
		Volatility:      "s",
		SecurityDefiner: true,
		Settings:        []string{`search_path=""`},
		Body:            "BEGIN RETURN " + query + "; END",
	}
}

// copyFunction returns a trigger function of a copy column (see policy.CopyBodies):
// SECURITY DEFINER, so that it reads and writes both tables as the migration role, past
// their policies; executable by no one, as a trigger function needs no grant to run.
func copyFunction(name, body string) *schema.Function {
	return &schema.Function{
		Schema: policy.FunctionSchema, Name: name, Returns: "trigger", Language: "plpgsql",
		Volatility: "v", SecurityDefiner: true, Settings: []string{`search_path=""`}, Body: body,
	}
}

// ensureIndex adds an index on cols to table t unless a key or index of it starts
// with them.
func ensureIndex(f *policy.File, s *schema.Schema, t *policy.Table, cols []string) {
	ct := s.Table(t.Schema, t.Name)
	if ct == nil || Covers(ct, cols) {
		return
	}
	cx := &schema.Index{Columns: slices.Clone(cols)}
	cx.Name, cx.RenamedFrom = namer{t: t}.generated(append(slices.Clone(cols), "idx"), len(cols))
	ct.Indexes = append(ct.Indexes, cx)
}

// Covers reports whether a key or index of t starts with cols: an index on cols would
// add nothing, so none is made for an owner or member rule's column.
func Covers(t *schema.Table, cols []string) bool {
	if len(t.PrimaryKey) >= len(cols) && slices.Equal(t.PrimaryKey[:len(cols)], cols) {
		return true
	}
	if c := t.Column(cols[0]); len(cols) == 1 && c != nil && c.Unique {
		return true
	}
	for _, ix := range t.Indexes {
		if len(ix.Columns) >= len(cols) && slices.Equal(ix.Columns[:len(cols)], cols) {
			return true
		}
	}
	return false
}

// callers returns the roles that run the policies of a rule for roles: public stands
// for every declared role. The functions and schema rls are granted to those, never to
// PUBLIC, which would reach roles schema.yaml does not know (and which diff reads as
// no one's).
func callers(f *policy.File, roles []string) []string {
	if slices.Contains(roles, "public") {
		return slices.Clone(f.Auth.Roles)
	}
	return roles
}

// union returns the strings of a, then those of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// usesClaims reports whether a rule of f reads the caller's claims.
func usesClaims(f *policy.File) bool {
	for _, t := range f.Tables {
		for _, r := range t.Policies {
			if r.ReadsClaims() {
				return true
			}
		}
	}
	return false
}

// immutable narrows UPDATE to the columns of t that are not immutable: a role keeps
// UPDATE on each other column, and none when every column is immutable.
func immutable(t *policy.Table, grants []*schema.Grant) {
	var mutable []string
	frozen := false
	for _, c := range t.Columns {
		if c.Immutable {
			frozen = true
		} else {
			mutable = append(mutable, c.Name)
		}
	}
	if !frozen {
		return
	}
	for _, g := range grants {
		if i := slices.Index(g.Privileges, "update"); i >= 0 {
			g.Privileges = slices.Delete(g.Privileges, i, i+1)
			if len(mutable) > 0 {
				g.Columns = map[string][]string{"update": slices.Clone(mutable)}
			}
		}
	}
}
