package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Run checks every table of s (compiled from f) that a built-in rule governs, as role,
// which is usually authenticated, then reads through each view and function of exposed
// (see schema.Exposure) as every caller. The connection must bypass row-level security
// (a superuser, or the tables' owner where they are not forced) to insert the test rows;
// nothing is kept.
func Run(ctx context.Context, conn *pgx.Conn, f *policy.File, s *schema.Schema, role string, exposed []*schema.Exposure) (*Report, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("verifying: %w", err)
	}
	defer tx.Rollback(ctx)
	v := &verifier{tx: tx, f: f, s: s, role: role, rows: map[string]map[string]row{}, met: map[string]map[string]row{},
		declared: f.TableIndex(), tables: s.TableIndex(), columnRoles: map[*schema.Table]columnRoles{}}
	if v.categories, err = Categories(ctx, tx, s); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, "SELECT rolname::text FROM pg_roles WHERE rolbypassrls OR rolsuper")
	if err != nil {
		return nil, fmt.Errorf("verifying: reading the roles that bypass row-level security: %w", err)
	}
	bypassing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("verifying: reading the roles that bypass row-level security: %w", err)
	}
	v.bypass = map[string]bool{}
	for _, r := range bypassing {
		// Only the platform's: any other role past row-level security is drift, which
		// the rules then show (diff names it).
		v.bypass[r] = s.Auth.PlatformBypass(r)
	}
	report := &Report{Role: role}
	if err := v.externalUsers(ctx); err != nil {
		return nil, err
	}
	refused := map[*schema.Table]string{} // tables whose test rows the database refused, and why
	for _, t := range parentsFirst(s.Tables) {
		if err := v.setup(ctx, t); err != nil {
			why, ok := rowRefused(err)
			if !ok {
				return nil, err
			}
			refused[t] = why
		}
	}
	for _, t := range s.Tables {
		pt := v.declaredOf(t)
		tr := TableReport{Table: t.QualifiedName(), Owner: t.Owner}
		switch {
		case !t.RLS:
			tr.Skipped = "rls: false: every granted role sees every row"
		case !derivable(pt):
			tr.Skipped = "no built-in rule (owner, member, claim, anyone): custom rules decide, so only its tests run"
		case refused[t] != "":
			tr.Skipped = "not exercised: the database refused verify's test rows (" + refused[t] + "), so only its tests run"
		default:
			checks, notRun, err := v.table(ctx, t, pt)
			if err != nil {
				return nil, err
			}
			tr.NotRun = notRun
			for i := range checks {
				checks[i].Source = ruleSource(f, pt, checks[i].Operation)
			}
			tr.Checks = checks
		}
		tests, err := v.tests(ctx, pt)
		if err != nil {
			return nil, err
		}
		tr.Tests = tests
		report.Tables = append(report.Tables, tr)
	}
	through, err := v.exposures(ctx, exposed)
	if err != nil {
		return nil, err
	}
	report.Tables = append(report.Tables, through...)
	return report, nil
}

// externalUsers gives each test user a row in each external table with a one-column
// primary key (Supabase's auth.users), keyed by the user's id, so that columns
// referencing it take the user's id. The app's triggers there (a profile made on
// sign-up) do not fire, for a superuser: verify makes the test users' rows itself. A
// table that needs more than its key, or that the connecting role may not write, is
// left as it is: the tables referencing it are then not exercised, with the reason.
func (v *verifier) externalUsers(ctx context.Context) error {
	for _, x := range v.f.External {
		pk := x.PrimaryKey()
		if len(pk) != 1 {
			continue
		}
		key := x.Column(pk[0])
		for _, user := range []string{Alice, Bob, Carol, Dave} {
			err := v.savepoint(ctx, false, func() error {
				_, err := v.tx.Exec(ctx, replicaOn+fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s::%s) ON CONFLICT DO NOTHING;",
					sqlident.Qualified(x.Schema, x.Name), sqlident.Quote(key.Name), sqlident.Literal(user), key.Type)+replicaOff)
				return err
			})
			if _, refused := rowRefused(err); err != nil && !refused && !isPrivilege(err) {
				return fmt.Errorf("inserting the test users into %s: %w", x.QualifiedName(), err)
			}
		}
	}
	return nil
}

// externalUser reports whether a foreign key references the key of an external table
// that externalUsers gives each test user a row in (Supabase's auth.users): the column
// then holds the row's user (an invitation's inviter, a row's creator).
func (v *verifier) externalUser(fk *schema.ForeignKey) bool {
	if fk == nil {
		return false
	}
	for _, x := range v.f.External {
		if pk := x.PrimaryKey(); x.Schema == fk.Schema && x.Name == fk.Table && len(pk) == 1 && pk[0] == fk.Column {
			return true
		}
	}
	return false
}

// isPrivilege reports whether err is PostgreSQL refusing a privilege.
func isPrivilege(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

// pastExistingIDs moves each identity sequence of t past the largest id its table
// holds, as rows inserted with explicit ids leave it behind: the test rows, and the
// callers' inserts, would take ids that exist. A sequence only moves forward (and, like
// every value verify's inserts draw from it, outside the transaction it rolls back).
func (v *verifier) pastExistingIDs(ctx context.Context, t *schema.Table) error {
	for _, c := range t.Columns {
		if c.Identity == "" {
			continue
		}
		table := sqlident.Qualified(t.Schema, t.Name)
		err := v.savepoint(ctx, false, func() error {
			_, err := v.tx.Exec(ctx, fmt.Sprintf(`SELECT setval(x.s, x.m) FROM (SELECT pg_get_serial_sequence(%s, %s) s, (SELECT max(%s) FROM %s) m) x
				WHERE x.m IS NOT NULL AND x.m > coalesce(pg_sequence_last_value(x.s::regclass), 0)`,
				sqlident.Literal(table), sqlident.Literal(c.Name), sqlident.Quote(c.Name), table))
			return err
		})
		if err != nil && !isPrivilege(err) {
			return fmt.Errorf("moving the identity sequence of %s.%s past its rows: %w", t.QualifiedName(), c.Name, err)
		}
	}
	return nil
}

// rowRefused returns why the database refused a test row, when err is such a refusal:
// a constraint, a value out of its type's range, or a trigger raising an error. Other
// errors (a lost connection, row-level security stopping the connecting role) end the
// run.
func rowRefused(err error) (string, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code == "42501" {
		return "", false
	}
	switch pe.Code[:2] {
	case "22", "23", "P0":
		return pe.Message + ", SQLSTATE " + pe.Code, true
	}
	return "", false
}

// ruleSource returns where f says what op may do on t: its first rule for op, else the
// table, as file:line:col.
func ruleSource(f *policy.File, t *policy.Table, op string) string {
	p := t.Pos
	if i := slices.IndexFunc(t.Policies, func(r *policy.Rule) bool { return r.Operation == op }); i >= 0 {
		p = t.Policies[i].Pos
	}
	return fmt.Sprintf("%s:%d:%d", f.Path, p.Line, p.Col)
}

// derivable reports whether a built-in rule governs some operation on t.
func derivable(t *policy.Table) bool {
	return len(t.Policies) == 0 || slices.ContainsFunc(t.Policies, func(r *policy.Rule) bool { return r.Kind != policy.RuleCustom })
}

// The callers besides Alice and Bob: Carol holds a row of a group table that fails its
// filters (a member who is not an admin); Dave is a user a new row of a group table
// names, so that inserting it takes nothing from Alice.
const (
	Carol = "ca201000-0000-4000-8000-0000000ca201"
	Dave  = "da7e0000-0000-4000-8000-00000000da7e"
)

// row is a test row: its ctid and its values, as text, by column (NULL columns are
// absent).
type row struct {
	ctid   string
	values map[string]string
}

type verifier struct {
	tx   pgx.Tx
	f    *policy.File
	s    *schema.Schema
	role string
	// rows maps table → user → the user's row, whose where columns (see wheres) fail
	// their rules' conditions; met holds a second row per user that meets them, for the
	// tables that have such columns.
	rows, met map[string]map[string]row
	count     int
	// categories maps each column type to its pg_type.typcategory.
	categories map[string]string
	// declared and tables find the file's and the schema's tables by schema and name.
	declared map[[2]string]*policy.Table
	tables   map[[2]string]*schema.Table
	// columnRoles caches roles, asked for every row verify writes; shared holds what
	// the other tables and the groups make of each table's columns, found in one pass
	// over them all (per table, it made verify quadratic in the number of tables).
	columnRoles map[*schema.Table]columnRoles
	shared      map[[2]string]columnRoles
	// confined maps each role to the functions that run SQL text as it (see confine).
	confined map[string]string
	// bypass holds the roles row-level security does not hold by the provider's design
	// (Supabase's service_role): their privileges alone say what they may do.
	bypass map[string]bool
}

// confine returns the name of a function, in pg_temp and owned by role, that runs a
// query as role and returns its text: SECURITY DEFINER, so that nothing the query does
// can change the role or the session's authorization (PostgreSQL refuses SET ROLE, RESET
// ROLE, set_config('role', ...) and SET SESSION AUTHORIZATION inside one), and its
// power is exactly role's. It is made once per role in verify's transaction, which is
// rolled back. Text from schema.yaml (tests) and the views and functions verify reads
// through run only inside it.
func (v *verifier) confine(ctx context.Context, role string) (string, error) {
	if fn, ok := v.confined[role]; ok {
		return fn, nil
	}
	fn := "pg_temp." + sqlident.Quote(sqlident.Derived("rlsmigrate_as", role))
	body := `DECLARE n bigint; out text;
BEGIN
  IF counting THEN
    EXECUTE q;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n::text;
  END IF;
  EXECUTE q INTO out;
  RETURN out;
END`
	if _, err := v.tx.Exec(ctx, "CREATE FUNCTION "+fn+"(q text, counting boolean) RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS "+
		sqlident.DollarQuote(body)+"; ALTER FUNCTION "+fn+"(text, boolean) OWNER TO "+sqlident.Quote(role)); err != nil {
		return "", fmt.Errorf("making the function that runs SQL as role %s (the connecting role must be a superuser or a member of it): %w", role, err)
	}
	if v.confined == nil {
		v.confined = map[string]string{}
	}
	v.confined[role] = fn
	return fn, nil
}

// columnRoles says what the columns of a table are to the rules: whose id a column
// holds, which group ids, which filter and where values.
type columnRoles struct {
	users map[string]bool // group user columns: the row's user
	// ids are columns that owner or group user columns of other tables reference (a
	// users table's key): they hold the row's user's id.
	ids     map[string]bool
	keys    map[string]bool      // group ids (group columns, member rule columns, through columns)
	filters map[string]string    // group filter columns: a value that passes
	wheres  map[string][2]string // where columns: a value that fails, one that meets
}

// roles returns what the columns of t are to the rules, derived once per table.
func (v *verifier) roles(t *schema.Table) columnRoles {
	if cr, ok := v.columnRoles[t]; ok {
		return cr
	}
	if v.shared == nil {
		v.shared = v.sharedRoles()
	}
	cr, ok := v.shared[[2]string{t.Schema, t.Name}]
	if !ok {
		cr = newColumnRoles()
	}
	v.addWheres(t, cr)
	v.columnRoles[t] = cr
	return cr
}

// declaredOf returns schema.yaml's declaration of t, or nil.
func (v *verifier) declaredOf(t *schema.Table) *policy.Table {
	return v.declared[[2]string{t.Schema, t.Name}]
}

func newColumnRoles() columnRoles {
	return columnRoles{users: map[string]bool{}, ids: map[string]bool{}, keys: map[string]bool{}, filters: map[string]string{}, wheres: map[string][2]string{}}
}

// userColumn reports whether column of t holds a user's id: its owner, or the user
// column of a group over it.
func (v *verifier) userColumn(t *schema.Table, column string) bool {
	if column == t.Owner {
		return true
	}
	for _, g := range v.f.Groups {
		if g.Schema == t.Schema && g.Table == t.Name && g.UserColumn == column {
			return true
		}
	}
	return false
}

// sharedRoles derives, for every table at once, what the other tables' references,
// the groups and the member rules of the file make of its columns.
func (v *verifier) sharedRoles() map[[2]string]columnRoles {
	out := map[[2]string]columnRoles{}
	of := func(schemaName, table string) columnRoles {
		k := [2]string{schemaName, table}
		cr, ok := out[k]
		if !ok {
			cr = newColumnRoles()
			out[k] = cr
		}
		return cr
	}
	for _, o := range v.s.Tables {
		for _, c := range o.Columns {
			if r := c.References; r != nil && v.userColumn(o, c.Name) {
				of(r.Schema, r.Table).ids[r.Column] = true
			}
		}
	}
	for _, g := range v.f.Groups {
		cr := of(g.Schema, g.Table)
		cr.users[g.UserColumn], cr.keys[g.GroupColumn] = true, true
		for _, fl := range g.Where {
			if _, ok := cr.filters[fl.Column]; !ok {
				cr.filters[fl.Column] = fl.Values[0]
			}
		}
	}
	for _, pt := range v.f.Tables {
		for _, r := range pt.Policies {
			if r.Kind != policy.RuleMember {
				continue
			}
			of(pt.Schema, pt.Name).keys[r.MemberColumn(v.f, pt)] = true
			if th := r.Through; th != nil {
				of(th.Schema, th.Table).keys[th.Column] = true
			}
		}
	}
	return out
}

// addWheres adds to cr the where columns of t's own rules, a value that fails and one
// that meets each, once cr holds everything else.
func (v *verifier) addWheres(t *schema.Table, cr columnRoles) {
	pt := v.declaredOf(t)
	if pt == nil {
		return
	}
	for _, r := range pt.Policies {
		cmp, ok := r.WhereComparison()
		c := t.Column(cmp.Column)
		if !ok || c == nil || cr.keys[cmp.Column] || cr.users[cmp.Column] || cmp.Column == t.Owner {
			continue
		}
		other, ok := otherValue(v.categories[c.Type], cmp.Value)
		if _, seen := cr.wheres[cmp.Column]; !ok || seen {
			continue
		}
		if cmp.Equal {
			cr.wheres[cmp.Column] = [2]string{other, cmp.Value}
		} else {
			cr.wheres[cmp.Column] = [2]string{cmp.Value, other}
		}
	}
}

// otherValue returns a value of a column of type category other than v, or false.
func otherValue(category, v string) (string, bool) {
	switch category {
	case "B":
		if v == "true" {
			return "false", true
		}
		return "true", true
	case "N":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return strconv.FormatInt(n+1, 10), true
		}
	case "S":
		return v + "-other", true
	}
	return "", false
}

// failing returns, for t as a group table with filters, a value per filter column that
// no group's filter accepts; false when t has no filters or a type has no such value.
func (v *verifier) failing(t *schema.Table) (map[string]string, bool) {
	out := map[string]string{}
	for _, g := range v.f.Groups {
		if g.Schema != t.Schema || g.Table != t.Name {
			continue
		}
		for _, fl := range g.Where {
			if _, done := out[fl.Column]; done {
				continue
			}
			c := t.Column(fl.Column)
			val, ok := otherValue(v.categories[c.Type], fl.Values[0])
			for ok && slices.Contains(fl.Values, val) {
				val, ok = otherValue(v.categories[c.Type], val)
			}
			if !ok {
				return nil, false
			}
			out[fl.Column] = val
		}
	}
	return out, len(out) > 0
}

// key returns the id of user's groups for a group column of type typ that references
// nothing: the same for every column of that type, so that a row's group id is in the
// user's set.
func (v *verifier) key(typ, user string) string {
	if typ == "uuid" {
		return sqlident.Literal(user) + "::uuid"
	}
	n := map[string]int{Alice: 7001, Bob: 7002, Carol: 7003, Dave: 7004}[user]
	return SampleOf(v.categories[typ], typ, n)
}

// values returns the column list and SQL values of a new row of t for user: its owner,
// group user and group ids are the user's, its references point at the user's rows, its
// filter columns pass, its where columns take where (0 fails, 1 meets); set overrides
// any column with SQL.
func (v *verifier) values(t *schema.Table, user string, where int, set map[string]string) ([]string, []string) {
	cr := v.roles(t)
	// Carol and Dave act within Alice's groups: their rows point where hers do.
	keyUser := user
	if user == Carol || user == Dave {
		keyUser = Alice
	}
	var cols, vals []string
	add := func(c *schema.Column, val string) {
		cols, vals = append(cols, sqlident.Quote(c.Name)), append(vals, val)
	}
	for _, c := range t.Columns {
		v.count++
		if c.Generated != "" {
			continue // PostgreSQL computes it
		}
		if val, ok := set[c.Name]; ok {
			add(c, val)
			continue
		}
		switch {
		case (c.Name == t.Owner || cr.users[c.Name] || cr.ids[c.Name] || v.externalUser(c.References)) && user != "":
			add(c, sqlident.Literal(user)+"::"+c.Type)
		case c.References != nil && (c.NotNull || c.Unique || cr.keys[c.Name]):
			parent := v.rows[c.References.Schema+"."+c.References.Table][keyUser]
			if val, ok := parent.values[c.References.Column]; ok {
				add(c, sqlident.Literal(val)+"::"+c.Type)
			}
		case cr.keys[c.Name]:
			add(c, v.key(c.Type, keyUser))
		case cr.filters[c.Name] != "":
			add(c, sqlident.Literal(cr.filters[c.Name])+"::"+c.Type)
		case cr.wheres[c.Name] != [2]string{}:
			add(c, sqlident.Literal(cr.wheres[c.Name][where])+"::"+c.Type)
		case c.Identity != "" || c.Default != "" || c.Name == t.Owner:
		case c.NotNull || c.Unique:
			add(c, SampleOf(v.categories[c.Type], c.Type, v.count))
		}
	}
	return v.copies(t, keyUser, cols, vals)
}

// copies adds to a row of t, whose columns cols hold vals, the value of each copy
// column whose via column points at keyUser's row of the table it references: what the
// fill trigger would set, which does not fire on test rows (see insertAs).
func (v *verifier) copies(t *schema.Table, keyUser string, cols, vals []string) ([]string, []string) {
	pt := v.declaredOf(t)
	if pt == nil {
		return cols, vals
	}
	for _, c := range pt.Columns {
		src, key := v.f.CopySource(pt, c)
		if src == nil || slices.Contains(cols, sqlident.Quote(c.Name)) {
			continue
		}
		parent := v.rows[src.QualifiedName()][keyUser]
		i := slices.Index(cols, sqlident.Quote(c.Copy.Via))
		val, ok := parent.values[c.Copy.Column]
		if i < 0 || !ok || vals[i] != sqlident.Literal(parent.values[key])+"::"+t.Column(c.Copy.Via).Type {
			continue
		}
		cols, vals = append(cols, sqlident.Quote(c.Name)), append(vals, sqlident.Literal(val)+"::"+t.Column(c.Name).Type)
	}
	return cols, vals
}

func insertSQL(t *schema.Table, cols, vals []string, returning bool) string {
	name := sqlident.Qualified(t.Schema, t.Name)
	ret := ""
	if returning {
		ret = " RETURNING r.ctid::text, to_jsonb(r)::text"
	}
	if len(cols) == 0 {
		return fmt.Sprintf("INSERT INTO %s AS r DEFAULT VALUES%s", name, ret)
	}
	return fmt.Sprintf("INSERT INTO %s AS r (%s) VALUES (%s)%s", name, strings.Join(cols, ", "), strings.Join(vals, ", "), ret)
}

// setup inserts one row for each user into t, as the connecting role, and a second one
// meeting the where conditions of t's rules where it has some.
func (v *verifier) setup(ctx context.Context, t *schema.Table) error {
	q := t.QualifiedName()
	v.rows[q], v.met[q] = map[string]row{}, map[string]row{}
	if err := v.pastExistingIDs(ctx, t); err != nil {
		return err
	}
	// A table of declared rows (settings, permissions) holds the keys its test rows
	// would take: they go, for the rolled-back run, with foreign keys off (a superuser).
	if slices.ContainsFunc(t.Objects, func(o *schema.Object) bool { return objects.Of(o).Rows != nil }) {
		err := v.savepoint(ctx, false, func() error {
			_, err := v.tx.Exec(ctx, replicaOn+"DELETE FROM "+sqlident.Qualified(t.Schema, t.Name)+";"+replicaOff)
			return err
		})
		if err != nil && !isPrivilege(err) {
			if _, refused := rowRefused(err); !refused {
				return fmt.Errorf("clearing the declared rows of %s: %w", q, err)
			}
		}
	}
	hasWhere := len(v.roles(t).wheres) > 0
	users := []string{Alice, Bob}
	if len(v.roles(t).ids) > 0 {
		users = append(users, Carol, Dave) // every caller's rows reference its own
	}
	for _, user := range users {
		r, err := v.insertAs(ctx, t, user, 0, nil)
		if err != nil {
			return err
		}
		v.rows[q][user] = r
		if hasWhere {
			if r, err := v.insertAs(ctx, t, user, 1, nil); err == nil {
				v.met[q][user] = r
			}
		}
	}
	return nil
}

// insertAs inserts a row of t for user as the connecting role, with the user's claims
// so that columns defaulting to the caller's id get the user's.
func (v *verifier) insertAs(ctx context.Context, t *schema.Table, user string, where int, set map[string]string) (row, error) {
	cols, vals := v.values(t, user, where, set)
	var r row
	// With the savepoint, in one round trip: the user's claims, and the app's triggers
	// off for test rows (for a superuser): one that adds rows of its own (a membership
	// for an account's creator) would take the keys of verify's next rows, and change
	// who may see what. They come back on as the savepoint is released.
	begin := "SELECT set_config('request.jwt.claims', " + sqlident.Literal(fmt.Sprintf(`{"sub":%q}`, user)) + ", true); " + replicaOn
	err := v.savepointWith(ctx, false, begin, replicaOff, func() error {
		var js string
		if err := v.tx.QueryRow(ctx, insertSQL(t, cols, vals, true)).Scan(&r.ctid, &js); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42501" {
				return fmt.Errorf("inserting test rows into %s as the connecting role, which row-level security stopped (connect as a superuser or the tables' owner): %w",
					t.QualifiedName(), err)
			}
			return fmt.Errorf("inserting test rows into %s as the connecting role: %w", t.QualifiedName(), err)
		}
		var values map[string]any
		dec := json.NewDecoder(strings.NewReader(js))
		dec.UseNumber()
		if err := dec.Decode(&values); err != nil {
			return fmt.Errorf("reading test row of %s: %w", t.QualifiedName(), err)
		}
		r.values = map[string]string{}
		for k, val := range values {
			if val != nil {
				r.values[k] = fmt.Sprint(val)
			}
		}
		return nil
	})
	return r, err
}

// asRole runs fn inside a savepoint that is then rolled back, as role with the claims
// of user ("" for none): declared (schema.yaml's), then claims (see claimsJSON). prep, if
// any, runs first as the connecting role.
func (v *verifier) asRole(ctx context.Context, role, user string, declared map[string]any, claims map[string]string, prep string, fn func(pgx.Tx) error) error {
	// The caller's claims, then its role; with the savepoint in one round trip, and
	// prep, when there is one, in the same round trip as the savepoint instead.
	become := "SELECT set_config('request.jwt.claims', " + sqlident.Literal(claimsJSON(user, declared, claims)) + ", true); SET LOCAL ROLE " + sqlident.Quote(role)
	becomeErr := func(err error) error {
		return fmt.Errorf("switching to role %s (the connecting role must be a superuser or a member of it): %w", role, err)
	}
	begin := become
	if prep != "" {
		begin = prep
	}
	err := v.savepointWith(ctx, true, begin, "", func() error {
		if prep != "" {
			if _, err := v.tx.Exec(ctx, become); err != nil {
				return becomeErr(err)
			}
		}
		return fn(v.tx)
	})
	var be *beginError
	switch {
	case errors.As(err, &be) && prep != "":
		return &prepError{be.err}
	case errors.As(err, &be):
		return becomeErr(be.err)
	}
	return err
}

// beginError is the failure of a savepoint's begin SQL (see savepointWith).
type beginError struct{ err error }

func (e *beginError) Error() string { return e.err.Error() }
func (e *beginError) Unwrap() error { return e.err }

// savepoint runs fn inside a savepoint that it then releases, rolled back first when
// discard is set or fn fails. A savepoint only rolled back stays established, and the
// next one nests inside it: thousands of attempts then nest thousands of
// subtransactions, each making PostgreSQL's visibility checks longer.
func (v *verifier) savepoint(ctx context.Context, discard bool, fn func() error) error {
	return v.savepointWith(ctx, discard, "", "", fn)
}

// savepointWith is savepoint with begin, SQL that runs in the savepoint in the same
// round trip as SAVEPOINT (when it fails, so does savepointWith, with a *beginError,
// and fn does not run), and finish, SQL that runs in the round trip that releases it
// when it is kept (a rollback to it undoes what begin set).
func (v *verifier) savepointWith(ctx context.Context, discard bool, begin, finish string, fn func() error) error {
	const name = "rlsmigrate_attempt"
	if _, err := v.tx.Exec(ctx, "SAVEPOINT "+name+"; "+begin); err != nil {
		if _, rbErr := v.tx.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+name+"; RELEASE SAVEPOINT "+name); rbErr != nil {
			// The round trip failed before the savepoint was made (SQL that does not
			// parse, a query cancelled): its error says why, the undoing's does not.
			return fmt.Errorf("%w (then undoing the savepoint: %v)", err, rbErr)
		}
		return &beginError{err}
	}
	err := fn()
	end := finish + "RELEASE SAVEPOINT " + name
	if discard || err != nil {
		end = "ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name
	}
	if _, endErr := v.tx.Exec(context.WithoutCancel(ctx), end); endErr != nil && err == nil {
		err = endErr
	}
	return err
}

// claimsJSON builds the claims of user: sub (none for a caller with no identity, ""),
// then the declared claims (schema.yaml's, by top-level name), then extra claims keyed
// by policy.Claim.Key and holding JSON values, nested as objects. A caller with no
// identity and no claims has an empty claims object, as an API gateway sets for an
// anonymous request: an empty setting is no JSON, and Supabase's auth.uid() casts the
// setting to jsonb.
func claimsJSON(user string, declared map[string]any, extra map[string]string) string {
	root := maps.Clone(declared)
	if root == nil {
		root = map[string]any{}
	}
	if user != "" {
		root["sub"] = user
	}
	for _, key := range slices.Sorted(maps.Keys(extra)) {
		m := root
		path := policy.ClaimKeyPath(key)
		for _, p := range path[:len(path)-1] {
			next, _ := m[p].(map[string]any)
			next = maps.Clone(next) // declared claims are schema.yaml's: never written to
			if next == nil {
				next = map[string]any{}
			}
			m[p], m = next, next
		}
		m[path[len(path)-1]] = json.RawMessage(extra[key])
	}
	data, _ := json.Marshal(root)
	return string(data)
}

// caller is who runs an attempt: a user ("" for none) with claims, as a role.
type caller struct {
	user   string
	claims map[string]string
	role   string // "" for the verified role
}

// notRun is the outcome of an attempt that could not be set up or judged; it is
// reported apart (TableReport.NotRun).
const notRun Outcome = "not run"

// prepError is an attempt's set-up refused by the database (a key another table's rows
// hold): the attempt is not run.
type prepError struct{ err error }

func (e *prepError) Error() string { return "setting the attempt up: " + e.err.Error() }
func (e *prepError) Unwrap() error { return e.err }

// attempt is one statement by a caller, and the cases it puts the rules in: old is the
// row the statement reads or the new row of an insert, new the row an update writes.
type attempt struct {
	op, cas string
	who     caller
	sql     string
	prep    string
	old     policy.Case
	new     *policy.Case
	column  string // the column an update sets, whose UPDATE privilege it needs
	reads   bool   // it reads a column (WHERE), so the select rules hold too
	// gone is the row the attempt is judged on, for a statement that may touch other
	// rows too: allowed when that row version is gone afterwards (deleted, or updated
	// into a new version), as the connecting role sees it.
	gone *rowAt
	// fixed is the outcome the attempt must have whatever the rules say, or "": what a
	// group's definition implies (no member makes itself an admin).
	fixed Outcome
}

// rowAt is a row version of a table: its quoted name and the row's ctid.
type rowAt struct{ table, ctid string }

// run runs a as its caller and says what PostgreSQL allowed.
func (v *verifier) run(ctx context.Context, a attempt) (Outcome, string, error) {
	role := a.who.role
	if role == "" {
		role = v.role
	}
	var n int64
	var runErr error
	err := v.asRole(ctx, role, a.who.user, nil, a.who.claims, a.prep, func(sp pgx.Tx) error {
		if strings.HasPrefix(a.sql, "SELECT") {
			runErr = sp.QueryRow(ctx, a.sql).Scan(&n)
		} else {
			var tag pgconn.CommandTag
			tag, runErr = sp.Exec(ctx, a.sql)
			n = tag.RowsAffected()
		}
		if a.gone == nil || runErr != nil {
			return nil
		}
		// The statement is done: back to the connecting role to look at the row.
		if _, err := sp.Exec(ctx, "RESET ROLE"); err != nil {
			return err
		}
		var left int64
		if err := sp.QueryRow(ctx, "SELECT count(*) FROM "+a.gone.table+" WHERE ctid = "+sqlident.Literal(a.gone.ctid)+"::tid").Scan(&left); err != nil {
			return err
		}
		n = 1 - left
		return nil
	})
	var prep *prepError
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &prep) && errors.As(err, &pe):
		return notRun, "the database refused its set-up: " + pe.Message, nil
	case err != nil:
		return "", "", err
	}
	switch {
	case errors.As(runErr, &pe) && pe.Code == "42501":
		return Denied, pe.Message, nil
	case errors.As(runErr, &pe) && pe.Code == "23503" && a.gone != nil:
		// A statement on every row that a reference blocked tells nothing of the row.
		return notRun, pe.Message, nil
	case errors.As(runErr, &pe) && pe.Code == "23503" && strings.HasPrefix(a.sql, "DELETE"):
		// The row was visible and deletable; a referencing row then blocked it.
		return Allowed, "", nil
	case errors.As(runErr, &pe) && v.bypass[role] && strings.HasPrefix(pe.Code, "23"):
		// Past row-level security, granted: the row itself broke a constraint (verify's
		// rows are made for the callers the rules judge, not for this role).
		return Allowed, "", nil
	case errors.As(runErr, &pe):
		return Failed, pe.Message, nil
	case runErr != nil:
		return "", "", runErr
	case n == 0:
		return Denied, "no rows", nil
	}
	return Allowed, "", nil
}

// testers maps the callers a test names to the synthetic users' ids.
var testers = map[string]string{"alice": Alice, "bob": Bob, "nobody": ""}

// testClaims are the claims tc's caller carries besides its id: its user's of
// verify.users, with the test's own over them.
func (v *verifier) testClaims(tc *policy.Test) map[string]any {
	var out map[string]any
	if u := v.f.Users[tc.As]; u != nil {
		out = maps.Clone(u.Claims)
	}
	if len(tc.Claims) > 0 && out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, tc.Claims)
	return out
}

// tests runs the tests schema.yaml declares for t.
func (v *verifier) tests(ctx context.Context, t *policy.Table) ([]TestResult, error) {
	var out []TestResult
	for _, tc := range t.Tests {
		r := TestResult{Name: tc.Name, Line: tc.Pos.Line, As: tc.As, SQL: tc.SQL, Expected: fmt.Sprintf("rows %d", tc.Rows)}
		if tc.Error != "" {
			r.Expected = "error " + tc.Error
		}
		role := tc.Role
		if role == "" {
			role = v.role
		}
		fn, err := v.confine(ctx, role)
		if err != nil {
			return nil, err
		}
		err = v.asRole(ctx, role, testers[tc.As], v.testClaims(tc), nil, "", func(sp pgx.Tx) error {
			var n int64
			err := sp.QueryRow(ctx, "SELECT "+fn+"($1, true)::bigint", tc.SQL).Scan(&n)
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe):
				r.Observed, r.Detail = "error "+pe.Code, pe.Message
			case err != nil:
				return err
			default:
				r.Observed = fmt.Sprintf("rows %d", n)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("running test at %s:%d: %w", v.f.Path, tc.Pos.Line, err)
		}
		if !r.Failed() {
			r.Detail = ""
		}
		out = append(out, r)
	}
	return out, nil
}

// parentsFirst returns tables with each after the tables it references (a reference
// cycle is broken where it closes), otherwise in their order.
func parentsFirst(tables []*schema.Table) []*schema.Table {
	var out []*schema.Table
	state := map[*schema.Table]int{} // 1: being placed, 2: placed
	byName := map[string]*schema.Table{}
	for _, t := range tables {
		byName[t.QualifiedName()] = t
	}
	var place func(t *schema.Table)
	place = func(t *schema.Table) {
		if state[t] != 0 {
			return
		}
		state[t] = 1
		for _, c := range t.Columns {
			if r := c.References; r != nil {
				if p := byName[r.Schema+"."+r.Table]; p != nil && p != t {
					place(p)
				}
			}
		}
		state[t] = 2
		out = append(out, t)
	}
	for _, t := range tables {
		place(t)
	}
	return out
}
