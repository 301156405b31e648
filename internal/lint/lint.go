// Package lint finds row-level-security mistakes in schema.yaml and, given what a live
// database says about its roles and tables, in the database: each finding has a stable
// rule id, a severity, the position in schema.yaml it concerns, and a one-line fix.
package lint

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Severity orders findings by how much they matter.
type Severity int

// The severities.
const (
	Info Severity = iota
	Warn
	Error
)

func (s Severity) String() string { return [...]string{"info", "warn", "error"}[s] }

// ParseSeverity reads "info", "warn" or "error".
func ParseSeverity(s string) (Severity, error) {
	for v := Info; v <= Error; v++ {
		if v.String() == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (use info, warn or error)", s)
}

// Rule is one check.
type Rule struct {
	ID       string
	Name     string
	Severity Severity
	Fix      string
}

// Rules lists every rule, by id.
var Rules = []Rule{
	{"RLS001", "rls-disabled", Error, "remove rls: false, or grant the table to no role that runs queries"},
	{"RLS002", "no-policies", Warn, "add a rule for the operations callers need, or rls: false with no grants if nobody should"},
	{"RLS003", "permissive-write-for-anyone", Error, "use owner, or a condition on the row, for insert, update and delete"},
	{"RLS004", "anonymous-writes", Error, "give anonymous select rules only"},
	{"RLS005", "update-can-give-away", Error, "make the update rule's check keep the owner condition, or leave check out so PostgreSQL reuses using"},
	{"RLS006", "identity-per-row", Warn, "wrap the identity call as (select auth.user_id()) so it is evaluated once per statement"},
	{"RLS007", "several-permissive", Info, "merge the conditions into one rule, or make the extra ones restrictive"},
	{"RLS008", "owner-not-indexed", Warn, "remove owner_index: false, or declare an index that starts with the owner column"},
	{"RLS009", "owner-nullable", Warn, "declare the owner column not_null: true"},
	{"RLS010", "owner-no-default", Info, "give the owner column default: auth.user_id() (the identity expression)"},
	{"RLS011", "dead-grant", Warn, "remove the privilege, or add a rule for that operation and role"},
	{"RLS012", "policy-without-grant", Error, "grant the operation to the role, or remove the rule"},
	{"RLS013", "policies-while-disabled", Error, "enable row-level security on the table (rlsmigrate diff --format sql shows how)"},
	{"RLS014", "role-bypasses-rls", Error, "ALTER ROLE ... NOBYPASSRLS, and never run app queries as a superuser"},
	{"RLS015", "owner-without-force", Warn, "set force_rls: true, or run app queries as a role that does not own the tables"},
	{"RLS016", "identity-function-missing", Error, "run rlsmigrate up (or install pg_session_jwt) so the identity function exists"},
	{"RLS017", "captured-column", Error, "qualify the column with the policy's table name (table.column), so it is not read from the subquery's table"},
	{"RLS018", "membership-per-row", Warn, "declare a group (groups:) and use {member: group, column: ...}: at 1,000,000 rows, select * took 314x the floor with IN (SELECT f()) and 668x with a correlated EXISTS, the member rule 1.13x (docs/performance.md)"},
	{"RLS019", "owner-column-mutable", Error, "remove immutable: false from the owner column, so UPDATE is granted on the other columns only"},
	{"RLS020", "member-of-bypassing-role", Error, "REVOKE the role from the app role (rlsmigrate diff --format sql prints it)"},
	{"RLS021", "table-owner-drift", Error, "ALTER TABLE ... OWNER TO the role that ran the migrations (rlsmigrate diff --format sql prints it)"},
	{"RLS022", "view-bypasses-rls", Error, "ALTER VIEW ... SET (security_invoker = true), or REVOKE SELECT from the app roles (a materialized view always reads as its owner)"},
	{"RLS023", "definer-function-exposed", Error, "REVOKE EXECUTE from the app roles and PUBLIC, or make the function SECURITY INVOKER"},
	{"RLS024", "default-privileges", Warn, "ALTER DEFAULT PRIVILEGES ... REVOKE (rlsmigrate diff --format sql prints it): grants come from schema.yaml"},
	{"RLS025", "schema-create", Error, "REVOKE CREATE ON SCHEMA ... FROM the app role"},
	{"RLS027", "table-exposes-rls-rows", Error, "REVOKE from the app roles what they hold on the table (rlsmigrate diff --format sql prints it), or enable row-level security on it"},
	{"RLS028", "group-self-escalation", Error, "let only members of the group itself (or of a stricter group on the same table) insert or update its rows, or make the group's user, group and filter columns immutable (for update)"},
	{"RLS029", "anyone-admits-no-identity", Warn, "write signed_in (every caller with an identity) if only signed-in callers are meant, or name only the roles that callers without an identity use (anonymous)"},
	{"RLS030", "through-lists-group-rows", Info, "add a copy of the through column to the table (copy: {via: <column>, column: <through.column>}): the rule then reads an indexed column of the row, and its cost stays flat as the group grows (docs/team-access.md)"},
	{"RLS026", "condition-ignores-row", Error, "write anyone: [roles] (every row for those roles) or a claim rule if that is meant, or compare a column of the row (owner, member)"},
}

// RuleByID returns the rule with the given id.
func RuleByID(id string) Rule {
	for _, r := range Rules {
		if r.ID == id {
			return r
		}
	}
	panic("lint: unknown rule " + id)
}

// Finding is one problem.
type Finding struct {
	Rule    Rule
	File    string
	Pos     policy.Pos
	Message string
}

// Live is what a database says about the tables and roles the schema names.
type Live struct {
	Actual      *schema.Schema // from inspect.Inspect
	Access      *schema.Access // from inspect.Inspect
	LoginRole   string         // the role the connection runs as
	BypassRoles []string       // roles among the declared and login roles that bypass RLS (BYPASSRLS or superuser)
}

// Check runs every rule on f (compiled as s) and, when live is not nil, on the database.
// Findings are sorted by position, then rule.
func Check(f *policy.File, s *schema.Schema, live *Live) []Finding {
	c := &checker{f: f, s: s, signedIn: map[string]*policy.Rule{}}
	for _, t := range f.Tables {
		for _, r := range t.Policies {
			for _, role := range r.To {
				if r.RequiresIdentity() && c.signedIn[role] == nil {
					c.signedIn[role] = r
				}
			}
		}
	}
	tables := s.TableIndex()
	for _, t := range f.Tables {
		c.table(t, tables[[2]string{t.Schema, t.Name}])
	}
	for _, g := range f.Groups {
		c.escalation(g)
	}
	if live != nil {
		c.live(live)
	}
	sort.SliceStable(c.out, func(i, j int) bool {
		a, b := c.out[i], c.out[j]
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Rule.ID < b.Rule.ID
	})
	return c.out
}

type checker struct {
	// signedIn maps each role that rules requiring an identity name to the first such
	// rule: the roles signed-in callers use.
	signedIn map[string]*policy.Rule
	f        *policy.File
	s        *schema.Schema
	out      []Finding
}

func (c *checker) add(id string, pos policy.Pos, format string, args ...any) {
	c.out = append(c.out, Finding{Rule: RuleByID(id), File: c.f.Path, Pos: pos, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) table(t *policy.Table, ct *schema.Table) {
	q := t.QualifiedName()
	if !t.RLS {
		for _, g := range ct.Grants {
			if slices.Contains(c.f.Auth.Roles, g.Role) || g.Role == "public" {
				c.add("RLS001", t.Pos, "table %s has rls: false and grants %s to %s: every row is open to it", q, strings.Join(g.Privileges, ", "), g.Role)
			}
		}
		return
	}
	if len(t.Policies) == 0 {
		c.add("RLS002", t.Pos, "table %s has row-level security and no rules: every operation is denied to every role but its owner", q)
	}
	permissive := map[string][]*policy.Rule{}
	for _, r := range t.Policies {
		c.rule(t, r)
		if !r.Restrictive {
			for _, role := range r.To {
				key := role + " " + r.Operation
				permissive[key] = append(permissive[key], r)
			}
		}
	}
	keys := make([]string, 0, len(permissive))
	for k := range permissive {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		// Built-in rules are meant to be listed side by side (owner or member); only a
		// custom condition among them may want merging.
		if rs := permissive[k]; len(rs) > 1 && slices.ContainsFunc(rs, func(r *policy.Rule) bool { return r.Kind == policy.RuleCustom }) {
			role, op, _ := strings.Cut(k, " ")
			c.add("RLS007", rs[1].Pos, "%d permissive rules for %s on %s by %s: they are ORed together", len(rs), op, q, role)
		}
	}
	c.owner(t, ct)
	c.grants(t, ct)
}

// escalation finds the insert and update rules of group g's table that let a caller
// write a row that puts itself into g: rules for members of a weaker group on the same
// table (fewer filters), for the row's owner when the owner is the group's user column,
// or for anyone. An update cannot when the group's user, group and filter columns are
// all immutable. Rules of groups on other tables are not affected by writes here.
func (c *checker) escalation(g *policy.Group) {
	t := c.f.Table(g.Schema, g.Table)
	if t == nil {
		return
	}
	cols := []string{g.UserColumn, g.GroupColumn}
	for _, fl := range g.Where {
		cols = append(cols, fl.Column)
	}
	frozen := !slices.ContainsFunc(cols, func(name string) bool { col := t.Column(name); return col == nil || !col.Immutable })
	// A group column that is the table's key alone names each group once: a new row
	// is a new group (an org's creator), and no row can join an existing one.
	if pk := t.PrimaryKey(); (len(pk) == 1 && pk[0] == g.GroupColumn) || (t.Column(g.GroupColumn) != nil && t.Column(g.GroupColumn).Unique) {
		return
	}
	for _, r := range t.Policies {
		if r.Restrictive || (r.Operation != "insert" && r.Operation != "update") || (r.Operation == "update" && frozen) {
			continue
		}
		var via string
		switch r.Kind {
		case policy.RuleAnyone:
			via = "any caller"
		case policy.RuleOwner:
			if t.Owner == g.UserColumn {
				via = "the row's owner (the group's user)"
			}
		case policy.RuleMember:
			if o := c.f.Group(r.Group); o != nil && o.Schema == g.Schema && o.Table == g.Table && o.GroupColumn == g.GroupColumn && !stricter(o, g) {
				via = "members of group " + o.Name
			}
		}
		if via != "" {
			c.add("RLS028", r.Pos, "%s rule on %s lets %s write rows of group %q's table: a caller can put itself into %s", r.Operation, t.QualifiedName(), via, g.Name, g.Name)
		}
	}
}

// stricter reports whether every filter of g holds for the members of o: o has each
// of g's filters, with no more values.
func stricter(o, g *policy.Group) bool {
	for _, want := range g.Where {
		i := slices.IndexFunc(o.Where, func(f policy.Filter) bool { return f.Column == want.Column })
		if i < 0 {
			return false
		}
		for _, v := range o.Where[i].Values {
			if !slices.Contains(want.Values, v) {
				return false
			}
		}
	}
	return true
}

func (c *checker) rule(t *policy.Table, r *policy.Rule) {
	q := t.QualifiedName()
	if th := r.Through; r.Kind == policy.RuleMember && th != nil && t.CopyOf(r.MemberColumn(c.f, t), th.Column) == nil &&
		!slices.ContainsFunc(c.out, func(f Finding) bool { return f.Rule.ID == "RLS030" && f.Pos == th.Pos }) { // once for all, read, write
		c.add("RLS030", th.Pos, "member rule on %s lists, on every statement, every row of %s that the caller's groups reach", q, th.Table)
	}
	if r.AllowsEveryRow() && !r.Restrictive && r.Operation != "select" {
		c.add("RLS003", r.Pos, "%s on %s is allowed on every row for %s", r.Operation, q, strings.Join(r.To, ", "))
	}
	if r.AllOrNothing(t) && !r.Restrictive && (r.Operation == "select" || !r.AllowsEveryRow()) { // else RLS003 says it
		c.add("RLS026", r.Pos, "%s rule on %s reads no column of the row: for each caller it allows every row or none", r.Operation, q)
	}
	if r.Operation != "select" && slices.Contains(r.To, "anonymous") {
		c.add("RLS004", r.Pos, "a rule lets anonymous %s on %s", r.Operation, q)
	}
	// An anyone rule for the roles of signed-in callers alone (not also for anonymous
	// ones, whom it would let in anyway) was likely meant for signed-in callers.
	if r.Kind == policy.RuleAnyone && !r.Restrictive && !slices.ContainsFunc(r.To, func(role string) bool { return c.signedIn[role] == nil }) {
		by := c.signedIn[r.To[0]]
		c.add("RLS029", r.Pos, "anyone rule for %s on %s lets every connection in role %s through, with an identity or without one, where the %s rule at line %d asks that role's callers for an identity",
			r.Operation, q, strings.Join(r.To, ", "), by.Kind, by.Pos.Line)
	}
	if r.Operation == "update" && r.Kind == policy.RuleCustom && t.Owner != "" && r.Check != "" &&
		r.UsingMentions(t.Owner) && !r.CheckMentions(t.Owner) {
		c.add("RLS005", r.Pos, "update rule on %s checks the owner in using but not in check: a caller can give its row to someone else", q)
	}
	if r.CallsPerRow(c.f.Auth.UserID) {
		c.add("RLS006", r.Pos, "%s rule on %s calls %s once per row", r.Operation, q, c.f.Auth.UserID)
	}
	if form, ok := r.MembershipSubquery(); ok {
		what := map[string]string{"in": "x IN (SELECT ...)", "exists": "a correlated EXISTS (SELECT ... FROM another table)"}[form]
		c.add("RLS018", r.Pos, "%s rule on %s tests each row with %s, which PostgreSQL runs for every row it reads", r.Operation, q, what)
	}
	if r.Operation == "update" && r.Kind != policy.RuleOwner && !r.Restrictive && t.Owner != "" {
		if col := t.Column(t.Owner); col != nil && !col.Immutable {
			c.add("RLS019", r.Pos, "update rule on %s lets callers other than the owner update rows, and owner column %s may change: such a caller can take a row by setting it to its own id", q, t.Owner)
		}
	}
	seen := map[string]bool{}
	for _, cp := range r.Captured(c.f, t) {
		if seen[cp.Column] {
			continue
		}
		seen[cp.Column] = true
		from := cp.Table
		if cp.Schema != "" {
			from = cp.Schema + "." + from
		}
		c.add("RLS017", r.Pos, "%s rule on %s: %q inside the subquery is %s.%s, not %s.%s; PostgreSQL compares the subquery's row with itself, so the rule does not tie the row to it",
			r.Operation, q, cp.Column, from, cp.Column, t.Name, cp.Column)
	}
}

func (c *checker) owner(t *policy.Table, ct *schema.Table) {
	if t.Owner == "" {
		return
	}
	col := t.Column(t.Owner)
	if col == nil {
		return
	}
	q := t.QualifiedName()
	indexed := len(ct.PrimaryKey) > 0 && ct.PrimaryKey[0] == t.Owner
	for _, ix := range ct.Indexes {
		indexed = indexed || ix.Columns[0] == t.Owner
	}
	if !indexed && !col.Unique {
		c.add("RLS008", t.Pos, "owner column %s.%s has no index: every policy check scans the table", q, t.Owner)
	}
	if !col.NotNull && !col.PrimaryKey {
		c.add("RLS009", col.Pos, "owner column %s.%s may be NULL: such rows belong to nobody", q, t.Owner)
	}
	if normalizeSpace(col.Default) != normalizeSpace(c.f.Auth.UserID) {
		c.add("RLS010", col.Pos, "owner column %s.%s has no default from %s: every insert must name the owner", q, t.Owner, c.f.Auth.UserID)
	}
}

func (c *checker) grants(t *policy.Table, ct *schema.Table) {
	q := t.QualifiedName()
	allowed := map[string]bool{} // "role op"
	for _, p := range ct.Policies {
		if !p.Restrictive {
			for _, role := range p.Roles {
				allowed[role+" "+p.Command] = true
			}
		}
	}
	granted := map[string]bool{}
	for _, g := range ct.Grants {
		pos := t.Pos
		for _, pg := range t.Grants {
			if pg.Role == g.Role {
				pos = pg.Pos
			}
		}
		// A privilege held on some columns only (UPDATE where a column is immutable)
		// still lets the rule apply.
		for _, priv := range append(slices.Clone(g.Privileges), slices.Sorted(maps.Keys(g.Columns))...) {
			granted[g.Role+" "+priv] = true
			if slices.Contains(policy.Operations, priv) && !allowed[g.Role+" "+priv] && !allowed["public "+priv] {
				c.add("RLS011", pos, "%s is granted %s on %s, but no rule allows it: the privilege is dead", g.Role, priv, q)
			}
		}
	}
	for _, r := range t.Policies {
		for _, role := range r.To {
			if !granted[role+" "+r.Operation] && !granted["public "+r.Operation] {
				c.add("RLS012", r.Pos, "the %s rule on %s is for %s, which has no %s grant: the rule can never apply", r.Operation, q, role, r.Operation)
			}
		}
	}
}

func (c *checker) live(l *Live) {
	for _, role := range l.BypassRoles {
		what := "bypasses row-level security (superuser or BYPASSRLS)"
		if role == l.LoginRole {
			what = "is the role of --database-url and " + what
		}
		c.add("RLS014", c.f.Auth.Pos, "role %s %s: policies never apply to its queries", role, what)
	}
	for _, fn := range c.s.Functions {
		if !slices.Contains(l.Actual.Functions, fn) {
			c.add("RLS016", c.f.Auth.Pos, "the identity function %s does not exist in the database: every policy that calls it fails", fn)
		}
	}
	a := l.Access
	for _, role := range slices.Sorted(maps.Keys(a.MemberOf)) {
		c.add("RLS020", c.f.Auth.Pos, "role %s is a member of %s, whose power it takes (a table owner, a role that gets past row-level security, a predefined role for server files or all data, or another declared role)", role, strings.Join(a.MemberOf[role], ", "))
	}
	for _, x := range a.Exposures {
		id := "RLS022"
		switch x.Kind {
		case "function", "procedure":
			id = "RLS023"
		case "parent table", "copy table":
			c.add("RLS027", c.f.Auth.Pos, "%s %s, without row-level security, holds or reaches the rows of %s, and %s may use it", x.Kind, x.QualifiedName(), strings.Join(x.Reads, ", "), strings.Join(x.Roles, ", "))
			continue
		}
		c.add(id, c.f.Auth.Pos, "%s %s reads %s as its owner, past row-level security, and %s may use it", x.Kind, x.QualifiedName(), strings.Join(x.Reads, ", "), strings.Join(x.Roles, ", "))
	}
	for _, dp := range a.DefaultPrivileges {
		where := "every schema"
		if dp.Schema != "" {
			where = "schema " + dp.Schema
		}
		c.add("RLS024", c.f.Auth.Pos, "%s that %s creates in %s will grant %s to %s", strings.ToLower(dp.ObjectType), dp.Owner, where, strings.Join(dp.Privileges, ", "), dp.Grantee)
	}
	for _, name := range slices.Sorted(maps.Keys(a.SchemaCreate)) {
		c.add("RLS025", c.f.Auth.Pos, "%s may create objects in schema %s (a view or function there can read tables past row-level security)", strings.Join(a.SchemaCreate[name], ", "), name)
	}
	actual := l.Actual.TableIndex()
	for _, t := range c.f.Tables {
		q := t.QualifiedName()
		at := actual[[2]string{t.Schema, t.Name}]
		if at == nil {
			continue
		}
		if owner := a.Table(t.Schema, t.Name).OwnerRole; a.MigrationRole != "" && owner != "" && owner != a.MigrationRole {
			c.add("RLS021", t.Pos, "table %s is owned by %s, not by %s, which ran the migrations: its owner bypasses row-level security", q, owner, a.MigrationRole)
		}
		if !at.RLS && len(at.Policies) > 0 {
			c.add("RLS013", t.Pos, "table %s has %d policies in the database but row-level security is disabled: they do not apply", q, len(at.Policies))
		}
		if at.RLS && !at.ForceRLS && a.Table(t.Schema, t.Name).OwnerRole == l.LoginRole {
			c.add("RLS015", t.Pos, "table %s is owned by %s, the role of --database-url, without FORCE: its queries skip the policies", q, l.LoginRole)
		}
	}
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
