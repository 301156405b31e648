package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// table tries every operation on t in every case its rules tell apart, and compares what
// PostgreSQL did with what the rules say. Attempts it could not set up or judge are
// returned apart, each with its reason.
func (v *verifier) table(ctx context.Context, t *schema.Table, pt *policy.Table) ([]Check, []string, error) {
	q := t.QualifiedName()
	name := sqlident.Qualified(t.Schema, t.Name)
	at := func(r row) string { return " WHERE ctid = " + sqlident.Literal(r.ctid) + "::tid" }
	upd := v.updateColumn(t)
	alice, nobody := caller{user: Alice}, caller{}

	// The cases on existing rows: a statement on row r by who, as the rules see it.
	var attempts []attempt
	onRow := func(cas string, who caller, r row, c policy.Case, prep string) {
		c.Row = r.values
		sel := "SELECT count(*) FROM " + name + at(r)
		attempts = append(attempts,
			attempt{op: "select", cas: cas, who: who, sql: sel, prep: prep, old: c},
			attempt{op: "update", cas: cas, who: who, sql: fmt.Sprintf("UPDATE %s SET %s = %[2]s%s", name, sqlident.Quote(upd), at(r)), prep: prep, old: c, new: &c, column: upd, reads: true},
			attempt{op: "delete", cas: cas, who: who, sql: "DELETE FROM " + name + at(r), prep: prep, old: c, reads: true})
	}
	// A new row for user, inserted by who.
	insert := func(cas string, who caller, user string, c policy.Case, prep string) {
		c.Row = v.rows[q][user].values
		set := v.newcomer(t)
		// A group id that is a key of t (an organization's own id) is new, so the new
		// row is in no one's group.
		for col := range v.roles(t).keys {
			if uniqueColumn(t, col) {
				set[col] = v.fresh(t.Column(col))
				c.InGroups = false
			}
		}
		cols, vals := v.values(t, user, 0, set)
		attempts = append(attempts, attempt{op: "insert", cas: cas, who: who, sql: insertSQL(t, cols, vals, false), prep: prep + v.clear(t, user, set), old: c})
	}
	own := policy.Case{Identity: true, Owned: true, InGroups: true}
	others := policy.Case{Identity: true}
	noID := policy.Case{Owned: true, InGroups: true}

	onRow(Own, alice, v.rows[q][Alice], own, "")
	insert(Own, alice, Alice, own, "")
	onRow(Others, alice, v.rows[q][Bob], others, "")
	insert(Others, alice, Bob, others, "")
	// UPDATE and DELETE without WHERE read no column, so only their own rules hold: a
	// delete rule open to every row deletes Bob's row although the select rules hide
	// it. Foreign keys (and triggers) are off in the attempt's savepoint
	// (session_replication_role), so that Alice's own rows cannot block it.
	{
		theirs := others
		theirs.Row = v.rows[q][Bob].values
		bob := &rowAt{table: name, ctid: v.rows[q][Bob].ctid}
		attempts = append(attempts,
			attempt{op: "update", cas: Unbounded, who: alice, sql: fmt.Sprintf("UPDATE %s SET %s = %[2]s", name, sqlident.Quote(upd)), prep: replicaOn,
				old: theirs, new: &theirs, column: upd, gone: bob},
			attempt{op: "delete", cas: Unbounded, who: alice, sql: "DELETE FROM " + name, prep: replicaOn, old: theirs, gone: bob})
	}
	onRow(NoIdentity, nobody, v.rows[q][Alice], noID, "")
	insert(NoIdentity, nobody, Alice, noID, "")
	if r, ok := v.met[q][Alice]; ok {
		onRow(Own+WhereMet, alice, r, own, "")
	}
	if r, ok := v.met[q][Bob]; ok {
		onRow(Others+WhereMet, alice, r, others, "")
		onRow(NoIdentity+WhereMet, nobody, r, noID, "")
	}
	// Moving one's own row away: to another user (no WHERE, so the new row is held to
	// the update rules alone, not to the select rules too), or to another group.
	mine := v.rows[q][Alice]
	if t.Owner != "" {
		gone := own
		gone.Owned, gone.Row = false, mine.values
		old := own
		old.Row = mine.values
		attempts = append(attempts, attempt{op: "update", cas: GiveAway, who: alice, column: t.Owner,
			sql: fmt.Sprintf("UPDATE %s SET %s = %s", name, sqlident.Quote(t.Owner), sqlident.Literal(Bob)), old: old, new: &gone})
	}
	if col := memberColumn(v.f, pt); col != "" && col != t.Owner && !uniqueColumn(t, col) {
		if val, ok := v.rows[q][Bob].values[col]; ok {
			moved := own
			moved.InGroups, moved.Row = false, mine.values
			old := own
			old.Row = mine.values
			attempts = append(attempts, attempt{op: "update", cas: MoveGroup, who: alice, column: col, reads: true,
				sql: fmt.Sprintf("UPDATE %s SET %s = %s::%s%s", name, sqlident.Quote(col), sqlident.Literal(val), t.Column(col).Type, at(mine)), old: old, new: &moved})
		}
	}
	// Columns that no update may change.
	for _, c := range pt.Columns {
		if c.Immutable && c.Name != upd {
			old := own
			old.Row = mine.values
			attempts = append(attempts, attempt{op: "update", cas: Immutable + " " + c.Name, who: alice, column: c.Name, reads: true,
				sql: fmt.Sprintf("UPDATE %s SET %s = %[2]s%s", name, sqlident.Quote(c.Name), at(mine)), old: old, new: &old})
		}
	}
	// A member whose row of the group table fails the groups' filters (not an admin).
	for _, gt := range v.groupTables(pt) {
		prep, ok := v.peerRow(gt)
		if !ok {
			continue
		}
		peer := policy.Case{Identity: true, PeerOf: gt.QualifiedName()}
		carol := caller{user: Carol}
		onRow(Peer, carol, mine, peer, prep)
		insert(Peer, carol, Alice, peer, prep)
	}
	// A member failing a group's filter, on the group's own table, setting its own row
	// to pass it (making itself an admin): the group's filter means it must not.
	for _, g := range v.f.Groups {
		if g.Schema != t.Schema || g.Table != t.Name || len(g.Where) == 0 {
			continue
		}
		prep, ok := v.peerRow(t)
		if !ok {
			continue
		}
		var sets []string
		for _, fl := range g.Where {
			sets = append(sets, fmt.Sprintf("%s = %s::%s", sqlident.Quote(fl.Column), sqlident.Literal(fl.Values[0]), t.Column(fl.Column).Type))
		}
		user := t.Column(g.UserColumn)
		attempts = append(attempts, attempt{op: "update", cas: Escalate + g.Name, who: caller{user: Carol}, column: g.Where[0].Column, reads: true,
			sql:  fmt.Sprintf("UPDATE %s SET %s WHERE %s = %s::%s", name, strings.Join(sets, ", "), sqlident.Quote(user.Name), sqlident.Literal(Carol), user.Type),
			prep: prep, fixed: Denied})
	}
	// A member of the row's groups who does not own it (an editor of a shared
	// document): what the groups allow, and whether the member can take the row.
	if gts := v.groupTables(pt); t.Owner != "" && len(gts) > 0 {
		var prep string
		for _, gt := range gts {
			cols, vals := v.values(gt, Dave, 0, nil)
			prep += insertSQL(gt, cols, vals, false) + ";"
		}
		member := policy.Case{Identity: true, InGroups: true}
		dave := caller{user: Dave}
		onRow(Member, dave, mine, member, prep)
		old, taken := member, member
		old.Row, taken.Row, taken.Owned = mine.values, mine.values, true
		attempts = append(attempts, attempt{op: "update", cas: TakeOver, who: dave, column: t.Owner, reads: true, prep: prep,
			sql: fmt.Sprintf("UPDATE %s SET %s = %s::%s%s", name, sqlident.Quote(t.Owner), sqlident.Literal(Dave), t.Column(t.Owner).Type, at(mine)), old: old, new: &taken})
	}
	// Claims that the claim rules ask for, on another user's row.
	if claims := claimsOf(pt); len(claims) > 0 {
		withClaims := others
		withClaims.Claims = claims
		who := caller{user: Alice, claims: claims}
		onRow(WithClaims, who, v.rows[q][Bob], withClaims, "")
		insert(WithClaims, who, Bob, withClaims, "")
	}
	// Every other declared role (anonymous...), as a caller without identity.
	n := len(attempts)
	for _, role := range v.f.Auth.Roles {
		if role == v.role {
			continue
		}
		for _, a := range attempts[:n] {
			if a.who.user == "" {
				a.who.role = role
				attempts = append(attempts, a)
			}
		}
	}
	var checks []Check
	var notRuns []string
	for _, a := range attempts {
		observed, msg, err := v.run(ctx, a)
		if err != nil {
			return nil, nil, fmt.Errorf("verifying %s %s on %s: %w", a.op, a.cas, q, err)
		}
		if observed == notRun {
			notRuns = append(notRuns, attemptName(Check{Operation: a.op, Case: a.cas, Role: a.who.role})+": "+msg)
			continue
		}
		role := a.who.role
		if role == "" {
			role = v.role
		}
		c := Check{Operation: a.op, Case: a.cas, Role: a.who.role, Expected: a.fixed, Observed: observed}
		if c.Expected == "" {
			c.Expected = v.expect(t, pt, role, a)
		}
		if c.Mismatch() || observed == Failed {
			c.Detail = msg
		}
		checks = append(checks, c)
	}
	return checks, notRuns, nil
}

// peerRow returns the statement that gives Carol a row of group table gt failing every
// filter of its groups (a member, not an admin), or false when no value fails them.
func (v *verifier) peerRow(gt *schema.Table) (string, bool) {
	fails, ok := v.failing(gt)
	if !ok {
		return "", false
	}
	set := map[string]string{}
	for col, val := range fails {
		set[col] = sqlident.Literal(val) + "::" + gt.Column(col).Type
	}
	cols, vals := v.values(gt, Carol, 0, set)
	return insertSQL(gt, cols, vals, false) + ";", true
}

// updateColumn returns the column an update sets to itself: the owner column, or else
// the first column every role may update (not immutable) and PostgreSQL lets an UPDATE
// set (not GENERATED ALWAYS AS IDENTITY, which may only be set to DEFAULT and would fail
// before any privilege or policy is looked at).
func (v *verifier) updateColumn(t *schema.Table) string {
	pt := v.declaredOf(t)
	settable := func(c *policy.Column) bool { return !c.Immutable && c.Identity != "always" && c.Generated == "" }
	for _, c := range pt.Columns {
		if c.Name == t.Owner && settable(c) {
			return c.Name
		}
	}
	for _, c := range pt.Columns {
		if settable(c) {
			return c.Name
		}
	}
	return t.Columns[0].Name
}

// newcomer sets a group table's user columns (that are not its owner) of a new row to
// Dave, so that inserting it neither repeats a key of Alice's row nor changes her groups.
func (v *verifier) newcomer(t *schema.Table) map[string]string {
	set := map[string]string{}
	for col := range v.roles(t).users {
		if c := t.Column(col); c != nil && col != t.Owner {
			set[col] = sqlident.Literal(Dave) + "::" + c.Type
		}
	}
	return set
}

// fresh returns a new value for a key column: its default, or else a sample.
func (v *verifier) fresh(c *schema.Column) string {
	if c.Identity != "" || c.Default != "" {
		return "DEFAULT"
	}
	v.count++
	return SampleOf(v.categories[c.Type], c.Type, 100000+v.count)
}

// replicaOn turns foreign keys and triggers off for the rest of the attempt's savepoint
// (session_replication_role), and replicaOff back on. Only a superuser may set it; for
// another connecting role a foreign key that blocks the statement leaves the case not
// run.
const (
	replicaOn = `DO $r$BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
			SET LOCAL session_replication_role = replica; END IF; END$r$;`
	replicaOff = `DO $r$BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
			SET LOCAL session_replication_role = DEFAULT; END IF; END$r$;`
)

// clear returns the statement that deletes user's row of t before a new one is
// inserted, where the new row takes the same key: the owner column alone is a key, or
// every column of the primary key gets the user's value (its owner, group or user id,
// its reference to the user's parent row) rather than a new one; "" elsewhere.
func (v *verifier) clear(t *schema.Table, user string, set map[string]string) string {
	if !uniqueColumn(t, t.Owner) && !v.userKey(t, set) {
		return ""
	}
	// Rows of other tables may reference it: the keys are off while it goes (the new
	// row takes its key back).
	return replicaOn + fmt.Sprintf("DELETE FROM %s WHERE ctid = %s::tid;", sqlident.Qualified(t.Schema, t.Name), sqlident.Literal(v.rows[t.QualifiedName()][user].ctid)) + replicaOff
}

// userKey reports whether every column of t's primary key takes, in a new row of a
// user (values), the value the user's existing row holds; set are the columns given
// new values.
func (v *verifier) userKey(t *schema.Table, set map[string]string) bool {
	if len(t.PrimaryKey) == 0 {
		return false
	}
	cr := v.roles(t)
	for _, name := range t.PrimaryKey {
		c := t.Column(name)
		if _, fresh := set[name]; fresh || c == nil || c.Identity != "" {
			return false
		}
		if !(name == t.Owner || cr.users[name] || cr.ids[name] || cr.keys[name] || c.References != nil) {
			return false
		}
	}
	return true
}

// uniqueColumn reports whether column alone is a key of t.
func uniqueColumn(t *schema.Table, column string) bool {
	if column == "" {
		return false
	}
	if slices.Equal(t.PrimaryKey, []string{column}) {
		return true
	}
	c := t.Column(column)
	return c != nil && c.Unique
}

// memberColumn returns the column every member rule of t compares, or "" when there is
// none or they compare different columns.
func memberColumn(f *policy.File, t *policy.Table) string {
	col := ""
	for _, r := range t.Policies {
		if r.Kind != policy.RuleMember {
			continue
		}
		c := r.MemberColumn(f, t)
		if col != "" && c != col {
			return ""
		}
		col = c
	}
	return col
}

// groupTables returns the tables of the groups t's member rules use, each once.
func (v *verifier) groupTables(t *policy.Table) []*schema.Table {
	var out []*schema.Table
	for _, r := range t.Policies {
		if r.Kind != policy.RuleMember {
			continue
		}
		g := v.f.Group(r.Group)
		if gt := v.tables[[2]string{g.Schema, g.Table}]; gt != nil && !slices.Contains(out, gt) {
			out = append(out, gt)
		}
	}
	return out
}

// claimsOf returns claims that meet t's claim rules, by Claim.Key: each claim's first
// value, as JSON.
func claimsOf(t *policy.Table) map[string]string {
	out := map[string]string{}
	for _, r := range t.Policies {
		for _, c := range r.Claims {
			if _, ok := out[c.Key()]; !ok {
				out[c.Key()] = c.Values[0]
			}
		}
	}
	return out
}

// granted reports whether role (or PUBLIC) holds the privilege op needs on t: UPDATE on
// the column it sets, where column privileges hold it.
func granted(t *schema.Table, role, op, column string) bool {
	for _, r := range []string{role, "public"} {
		if slices.Contains(t.Grant(r), op) {
			return true
		}
		if g := t.GrantOf(r); g != nil && column != "" && slices.Contains(g.Columns[op], column) {
			return true
		}
	}
	return false
}

// expect derives from schema.yaml what PostgreSQL should do with attempt a by role: no
// privilege denies; a role that bypasses row-level security is allowed; otherwise the rules for the operation, permissive ones ORed and
// restrictive ones ANDed, judge the row it reads (USING) and the row it writes (WITH
// CHECK). A statement that reads a column (a WHERE clause) is held to the select rules
// too, on both rows. A rule whose SQL decides makes the outcome not derived unless the
// others settle it.
func (v *verifier) expect(t *schema.Table, pt *policy.Table, role string, a attempt) Outcome {
	if !granted(t, role, a.op, a.column) || (a.reads && !granted(t, role, "select", "")) {
		return Denied
	}
	if v.bypass[role] {
		return Allowed // no rule holds it (Supabase's service_role)
	}
	judge := func(op string, c policy.Case) policy.Verdict { return combine(v.f, pt, role, op, c) }
	var out policy.Verdict
	switch a.op {
	case "select", "insert":
		out = judge(a.op, a.old)
	case "delete":
		out = judge("delete", a.old)
		if a.reads {
			out = both(out, judge("select", a.old))
		}
	case "update":
		using, check := judge("update", a.old), judge("update", *a.new)
		if a.reads {
			using, check = both(using, judge("select", a.old)), both(check, judge("select", *a.new))
		}
		out = both(using, check)
	}
	switch out {
	case policy.Denies:
		return Denied
	case policy.Unknown:
		return NotDerived
	}
	return Allowed
}

// combine is the verdict of t's rules for op and role in case c: permissive rules ORed,
// restrictive ones ANDed with them, none at all denies.
func combine(f *policy.File, t *policy.Table, role, op string, c policy.Case) policy.Verdict {
	permissive, restrictive := policy.Denies, policy.Allows
	for _, r := range t.Policies {
		if r.Operation != op || !(slices.Contains(r.To, role) || slices.Contains(r.To, "public")) {
			continue
		}
		verdict := r.Verdict(f, c)
		switch {
		case r.Restrictive:
			restrictive = both(restrictive, verdict)
		case verdict == policy.Allows:
			permissive = policy.Allows
		case verdict == policy.Unknown && permissive == policy.Denies:
			permissive = policy.Unknown
		}
	}
	return both(permissive, restrictive)
}

// both is the verdict of two conditions ANDed.
func both(a, b policy.Verdict) policy.Verdict {
	switch {
	case a == policy.Denies || b == policy.Denies:
		return policy.Denies
	case a == policy.Unknown || b == policy.Unknown:
		return policy.Unknown
	}
	return policy.Allows
}
