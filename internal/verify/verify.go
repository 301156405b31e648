// Package verify proves on a real database that the policies isolate users: for every
// table with an owner column it inserts rows for two synthetic users, then tries each
// operation as one of them, on its own rows and on the other's, and as a caller with no
// identity, and compares what PostgreSQL allowed with what schema.yaml says. Everything
// runs in one transaction that is rolled back.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// The synthetic users. Their ids are UUIDs, so that owner columns of type uuid (an
// identity expression such as auth.user_id()::uuid) take them as text columns do, and
// unlikely to collide with real ones.
const (
	Alice = "a11ce000-0000-4000-8000-00000000a11c"
	Bob   = "b0b00000-0000-4000-8000-000000000b0b"
)

// Outcome is what happened, or should happen, to one attempt.
type Outcome string

// The outcomes.
const (
	Allowed    Outcome = "allowed"
	Denied     Outcome = "denied"
	Failed     Outcome = "failed"      // refused for another reason than access (observed only)
	NotDerived Outcome = "not derived" // a custom rule decides it (expected only)
)

// The cases, as the access matrix labels them.
const (
	Own        = "own rows"
	Others     = "others' rows"
	NoIdentity = "no identity"
	GiveAway   = "give own row away"
)

// Check is one attempt: an operation by a caller on a kind of row.
type Check struct {
	Operation string  `json:"operation"`
	Case      string  `json:"case"`
	Role      string  `json:"role,omitempty"` // another role than the report's, for a caller without identity
	Expected  Outcome `json:"expected"`
	Observed  Outcome `json:"observed"`
	Detail    string  `json:"detail,omitempty"`
}

// Mismatch reports whether the observed outcome contradicts the expected one. An
// attempt that failed for another reason than access (infinite recursion in a policy,
// 42P17, a policy calling a missing function...) is always one: the rule is broken.
func (c Check) Mismatch() bool {
	return c.Observed == Failed || (c.Expected != NotDerived && c.Expected != c.Observed)
}

// TestResult is the outcome of one test declared in schema.yaml.
type TestResult struct {
	Name     string `json:"name,omitempty"`
	Line     int    `json:"line"`
	As       string `json:"as"`
	SQL      string `json:"sql"`
	Expected string `json:"expected"` // "rows N" or "error SQLSTATE"
	Observed string `json:"observed"`
	Detail   string `json:"detail,omitempty"`
}

// Failed reports whether the test did not have the declared outcome.
func (r TestResult) Failed() bool { return r.Expected != r.Observed }

// TableReport is the access matrix of one table, and its declared tests.
type TableReport struct {
	Table  string       `json:"table"`
	Owner  string       `json:"owner,omitempty"`
	Checks []Check      `json:"checks,omitempty"`
	Tests  []TestResult `json:"tests,omitempty"`
	// Skipped says why a table was not checked.
	Skipped string `json:"skipped,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Role   string        `json:"role"`
	Tables []TableReport `json:"tables"`
}

// Mismatches returns every check whose outcome contradicts schema.yaml.
func (r *Report) Mismatches() []string {
	var out []string
	for _, t := range r.Tables {
		for _, c := range t.Checks {
			if c.Observed == Failed {
				out = append(out, fmt.Sprintf("%s: %s: failed, where schema.yaml says %s%s", t.Table, attemptName(c), c.Expected, detail(c.Detail)))
				continue
			}
			if c.Mismatch() {
				out = append(out, fmt.Sprintf("%s: %s: %s, schema.yaml says %s%s",
					t.Table, attemptName(c), c.Observed, c.Expected, detail(c.Detail)))
			}
		}
		for _, tr := range t.Tests {
			if tr.Failed() {
				out = append(out, fmt.Sprintf("%s: test %q (line %d) as %s: %s, schema.yaml says %s%s",
					t.Table, tr.Name, tr.Line, tr.As, tr.Observed, tr.Expected, detail(tr.Detail)))
			}
		}
	}
	return out
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}

// attemptName says in words what a check tried.
func attemptName(c Check) string {
	switch c.Case {
	case Own:
		return c.Operation + " of its own row by a user"
	case Others:
		return c.Operation + " of another user's row by a user"
	case GiveAway:
		return "update giving its own row to another user"
	}
	if c.Role != "" {
		return c.Operation + " by a caller with no identity as role " + c.Role
	}
	return c.Operation + " by a caller with no identity"
}

// JSON returns the report with stable field names.
func (r *Report) JSON() string {
	data, _ := json.MarshalIndent(r, "", "  ")
	return string(data) + "\n"
}

// Run checks every owned table of s (compiled from f) as role, which is usually
// authenticated. The connection must bypass row-level security (a superuser, or the
// tables' owner where they are not forced) to insert the test rows; nothing is kept.
func Run(ctx context.Context, conn *pgx.Conn, f *policy.File, s *schema.Schema, role string) (*Report, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("verifying: %w", err)
	}
	defer tx.Rollback(ctx)
	v := &verifier{tx: tx, f: f, s: s, role: role, rows: map[string]map[string]row{}}
	if v.categories, err = Categories(ctx, tx, s); err != nil {
		return nil, err
	}
	report := &Report{Role: role}
	for _, t := range s.Tables {
		if err := v.setup(ctx, t); err != nil {
			return nil, err
		}
	}
	for _, t := range s.Tables {
		tr := TableReport{Table: t.QualifiedName(), Owner: t.Owner}
		switch {
		case t.Owner == "":
			tr.Skipped = "no owner column: no per-user isolation to prove"
		case !t.RLS:
			tr.Skipped = "rls: false: every granted role sees every row"
		default:
			checks, err := v.table(ctx, t)
			if err != nil {
				return nil, err
			}
			tr.Checks = checks
		}
		tests, err := v.tests(ctx, f.Table(t.Schema, t.Name))
		if err != nil {
			return nil, err
		}
		tr.Tests = tests
		report.Tables = append(report.Tables, tr)
	}
	return report, nil
}

// row is a test row: its ctid and its values, as text, by column.
type row struct {
	ctid   string
	values map[string]any
}

type verifier struct {
	tx    pgx.Tx
	f     *policy.File
	s     *schema.Schema
	role  string
	rows  map[string]map[string]row // table → user → row
	count int
	// categories maps each column type to its pg_type.typcategory.
	categories map[string]string
}

// values returns the column list and SQL values of a new row of t owned by owner
// ("" leaves the owner column to its default).
func (v *verifier) values(t *schema.Table, owner, user string) ([]string, []string) {
	var cols, vals []string
	for _, c := range t.Columns {
		v.count++
		switch {
		case c.Name == t.Owner && owner != "":
			cols, vals = append(cols, sqlident.Quote(c.Name)), append(vals, sqlident.Literal(owner)+"::"+c.Type)
		case c.References != nil && c.NotNull || c.References != nil && c.Unique:
			parent := v.rows[c.References.Schema+"."+c.References.Table][user]
			if val, ok := parent.values[c.References.Column]; ok && val != nil {
				cols = append(cols, sqlident.Quote(c.Name))
				vals = append(vals, sqlident.Literal(fmt.Sprint(val))+"::"+c.Type)
			}
		case c.Identity != "" || c.Default != "" || c.Name == t.Owner:
		case c.NotNull || c.Unique:
			cols, vals = append(cols, sqlident.Quote(c.Name)), append(vals, SampleOf(v.categories[c.Type], c.Type, v.count))
		}
	}
	return cols, vals
}

func insertSQL(t *schema.Table, cols, vals []string) string {
	name := sqlident.Qualified(t.Schema, t.Name)
	if len(cols) == 0 {
		return fmt.Sprintf("INSERT INTO %s AS r DEFAULT VALUES RETURNING r.ctid::text, to_jsonb(r)::text", name)
	}
	return fmt.Sprintf("INSERT INTO %s AS r (%s) VALUES (%s) RETURNING r.ctid::text, to_jsonb(r)::text",
		name, strings.Join(cols, ", "), strings.Join(vals, ", "))
}

// setup inserts one row for each user into t, as the connecting role.
func (v *verifier) setup(ctx context.Context, t *schema.Table) error {
	v.rows[t.QualifiedName()] = map[string]row{}
	for _, user := range []string{Alice, Bob} {
		owner := user
		if t.Owner == "" {
			owner = ""
		}
		cols, vals := v.values(t, owner, user)
		// Columns whose default is the caller's id get the user's.
		if _, err := v.tx.Exec(ctx, "SELECT set_config('request.jwt.claims', $1, true)", fmt.Sprintf(`{"sub":%q}`, user)); err != nil {
			return fmt.Errorf("setting the test user's claims: %w", err)
		}
		var r row
		var js string
		if err := v.tx.QueryRow(ctx, insertSQL(t, cols, vals)).Scan(&r.ctid, &js); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42501" {
				return fmt.Errorf("inserting test rows into %s as the connecting role, which row-level security stopped (connect as a superuser or the tables' owner): %w",
					t.QualifiedName(), err)
			}
			return fmt.Errorf("inserting test rows into %s as the connecting role: %w", t.QualifiedName(), err)
		}
		if err := json.Unmarshal([]byte(js), &r.values); err != nil {
			return fmt.Errorf("reading test row of %s: %w", t.QualifiedName(), err)
		}
		v.rows[t.QualifiedName()][user] = r
	}
	return nil
}

// asRole runs fn inside a savepoint that is then rolled back, as role with the claims
// of user ("" for none). prep, if any, runs first as the connecting role.
func (v *verifier) asRole(ctx context.Context, role, user, prep string, fn func(pgx.Tx) error) error {
	sp, err := v.tx.Begin(ctx)
	if err != nil {
		return err
	}
	defer sp.Rollback(ctx)
	if prep != "" {
		if _, err := sp.Exec(ctx, prep); err != nil {
			return fmt.Errorf("preparing the attempt: %w", err)
		}
	}
	claims := ""
	if user != "" {
		claims = fmt.Sprintf(`{"sub":%q}`, user)
	}
	if _, err := sp.Exec(ctx, "SELECT set_config('request.jwt.claims', $1, true)", claims); err != nil {
		return err
	}
	if _, err := sp.Exec(ctx, "SET LOCAL ROLE "+sqlident.Quote(role)); err != nil {
		return fmt.Errorf("switching to role %s (the connecting role must be a superuser or a member of it): %w", role, err)
	}
	return fn(sp)
}

// rowsOf runs sql and returns the rows it returned or, for other commands, affected.
func rowsOf(ctx context.Context, tx pgx.Tx, sql string) (int64, error) {
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return 0, err
	}
	var n int64
	for rows.Next() {
		n++
	}
	rows.Close()
	if tag := rows.CommandTag(); !tag.Select() {
		n = tag.RowsAffected()
	}
	return n, rows.Err()
}

// attempt runs sql as a caller (see asCaller) and says what PostgreSQL allowed.
func (v *verifier) attempt(ctx context.Context, role, user, prep, sql string) (Outcome, string, error) {
	var n int64
	var runErr error
	err := v.asRole(ctx, role, user, prep, func(sp pgx.Tx) error {
		if strings.HasPrefix(sql, "SELECT") {
			runErr = sp.QueryRow(ctx, sql).Scan(&n)
		} else {
			var tag pgconn.CommandTag
			tag, runErr = sp.Exec(ctx, sql)
			n = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	var pe *pgconn.PgError
	switch {
	case errors.As(runErr, &pe) && pe.Code == "42501":
		return Denied, pe.Message, nil
	case errors.As(runErr, &pe) && pe.Code == "23503" && strings.HasPrefix(sql, "DELETE"):
		// The row was visible and deletable; a referencing row then blocked it.
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
		err := v.asRole(ctx, role, testers[tc.As], "", func(sp pgx.Tx) error {
			n, err := rowsOf(ctx, sp, tc.SQL)
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

func (v *verifier) table(ctx context.Context, t *schema.Table) ([]Check, error) {
	name := sqlident.Qualified(t.Schema, t.Name)
	owner := sqlident.Quote(t.Owner)
	mine, theirs := v.rows[t.QualifiedName()][Alice].ctid, v.rows[t.QualifiedName()][Bob].ctid
	where := func(ctid string) string { return "WHERE ctid = " + sqlident.Literal(ctid) + "::tid" }
	// Where the owner column is a key, a user's test row must go before another can be
	// inserted for that user.
	clear := func(user string) string {
		if !uniqueColumn(t, t.Owner) {
			return ""
		}
		return fmt.Sprintf("DELETE FROM %s %s", name, where(v.rows[t.QualifiedName()][user].ctid))
	}
	insert := func(ownerValue string) string {
		cols, vals := v.values(t, ownerValue, Alice)
		return insertSQL(t, cols, vals)
	}
	type attempt struct {
		op, cas, user, sql, prep string
	}
	attempts := []attempt{
		{"select", Own, Alice, fmt.Sprintf("SELECT count(*) FROM %s %s", name, where(mine)), ""},
		{"select", Others, Alice, fmt.Sprintf("SELECT count(*) FROM %s %s", name, where(theirs)), ""},
		{"select", NoIdentity, "", fmt.Sprintf("SELECT count(*) FROM %s %s", name, where(mine)), ""},
		{"insert", Own, Alice, insert(Alice), clear(Alice)},
		{"insert", Others, Alice, insert(Bob), clear(Bob)},
		{"insert", NoIdentity, "", insert(Alice), clear(Alice)},
		{"update", Own, Alice, fmt.Sprintf("UPDATE %s SET %s = %s %s", name, owner, owner, where(mine)), ""},
		{"update", Others, Alice, fmt.Sprintf("UPDATE %s SET %s = %s %s", name, owner, owner, where(theirs)), ""},
		// Without a WHERE clause the new row is held to the update rules alone, not to the
		// select rules too: the form that gives a row away when the update check is loose.
		{"update", GiveAway, Alice, fmt.Sprintf("UPDATE %s SET %s = %s", name, owner, sqlident.Literal(Bob)), ""},
		{"update", NoIdentity, "", fmt.Sprintf("UPDATE %s SET %s = %s %s", name, owner, owner, where(mine)), ""},
		{"delete", Own, Alice, fmt.Sprintf("DELETE FROM %s %s", name, where(mine)), ""},
		{"delete", Others, Alice, fmt.Sprintf("DELETE FROM %s %s", name, where(theirs)), ""},
		{"delete", NoIdentity, "", fmt.Sprintf("DELETE FROM %s %s", name, where(mine)), ""},
	}
	// Then every other declared role (anonymous...), as a caller without identity.
	type run struct {
		attempt
		role string // "" for the verified role
	}
	var runs []run
	for _, a := range attempts {
		runs = append(runs, run{a, ""})
	}
	for _, role := range v.f.Auth.Roles {
		for _, a := range attempts {
			if role != v.role && a.cas == NoIdentity {
				runs = append(runs, run{a, role})
			}
		}
	}
	var checks []Check
	for _, a := range runs {
		role := a.role
		if role == "" {
			role = v.role
		}
		observed, msg, err := v.attempt(ctx, role, a.user, a.prep, a.sql)
		if err != nil {
			return nil, fmt.Errorf("verifying %s %s on %s as %s: %w", a.op, a.cas, t.QualifiedName(), role, err)
		}
		c := Check{Operation: a.op, Case: a.cas, Role: a.role, Expected: v.expect(t, role, a.op, a.cas), Observed: observed}
		if c.Mismatch() || observed == Failed {
			c.Detail = msg
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// uniqueColumn reports whether column alone is a key of t.
func uniqueColumn(t *schema.Table, column string) bool {
	if slices.Equal(t.PrimaryKey, []string{column}) {
		return true
	}
	c := t.Column(column)
	return c != nil && c.Unique
}

// expect derives from schema.yaml what PostgreSQL should do with op on a row of kind cas
// by the verifying role: no grant denies; otherwise each rule's verdict (asked of the
// rule), permissive ones ORed and restrictive ones ANDed; a rule whose SQL decides makes
// the outcome not derived unless the others settle it.
func (v *verifier) expect(t *schema.Table, role, op, cas string) Outcome {
	if !slices.Contains(t.Grant(role), op) && !slices.Contains(t.Grant("public"), op) {
		return Denied
	}
	pt := v.f.Table(t.Schema, t.Name)
	row := map[string]policy.Row{Own: policy.OwnRow, Others: policy.OthersRow, NoIdentity: policy.NoIdentity, GiveAway: policy.OthersRow}[cas]
	// Permissive rules are ORed, restrictive ones ANDed with them.
	permissive, restrictive := policy.Denies, policy.Allows
	for _, r := range pt.Policies {
		if r.Operation != op || !(slices.Contains(r.To, role) || slices.Contains(r.To, "public")) {
			continue
		}
		verdict := r.Verdict(row)
		switch {
		case r.Restrictive && verdict == policy.Denies:
			restrictive = policy.Denies
		case r.Restrictive && verdict == policy.Unknown && restrictive != policy.Denies:
			restrictive = policy.Unknown
		case !r.Restrictive && verdict == policy.Allows:
			permissive = policy.Allows
		case !r.Restrictive && verdict == policy.Unknown && permissive == policy.Denies:
			permissive = policy.Unknown
		}
	}
	switch {
	case permissive == policy.Denies || restrictive == policy.Denies:
		return Denied
	case permissive == policy.Unknown || restrictive == policy.Unknown:
		return NotDerived
	}
	return Allowed
}

// Categories returns the pg_type.typcategory of every column type of s, read from the
// catalog in one query, so that sample values fit types by what they are, not by their
// names.
func Categories(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, s *schema.Schema) (map[string]string, error) {
	var types []string
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			if !slices.Contains(types, c.Type) {
				types = append(types, c.Type)
			}
		}
	}
	rows, err := q.Query(ctx, `SELECT t, coalesce((SELECT typcategory::text FROM pg_type WHERE oid = to_regtype(t)), '')
		FROM unnest($1::text[]) t`, types)
	if err != nil {
		return nil, fmt.Errorf("reading column types: %w", err)
	}
	out := map[string]string{}
	var typ, cat string
	_, err = pgx.ForEachRow(rows, []any{&typ, &cat}, func() error {
		out[typ] = cat
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading column types: %w", err)
	}
	return out, nil
}

// SampleOf returns a SQL value of type typ, whose pg_type.typcategory is category,
// distinct per n where the type allows.
func SampleOf(category, typ string, n int) string {
	cast := func(v string) string { return v + "::" + typ }
	switch category {
	case "N": // numeric
		return cast(fmt.Sprint(n))
	case "B":
		return cast("true")
	case "D": // date and time
		return cast(fmt.Sprintf("(timestamptz '2000-01-01' + interval '%d seconds')", n))
	case "T": // interval
		return cast(sqlident.Literal(fmt.Sprintf("%d seconds", n)))
	case "G": // geometric
		if typ == "point" {
			return cast(sqlident.Literal(fmt.Sprintf("(%d,%d)", n, n)))
		}
	case "A": // array
		return cast("'{}'")
	case "E": // enum: its first label
		return fmt.Sprintf("(enum_range(NULL::%s))[1]", typ)
	case "I": // network
		return cast(sqlident.Literal(fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)))
	case "V": // bit string
		return cast("B'1'")
	}
	switch typ {
	case "uuid":
		return "gen_random_uuid()"
	case "json", "jsonb":
		return cast(sqlident.Literal(fmt.Sprintf(`{"n": %d}`, n)))
	}
	// Short enough for char(2) keys, distinct for the first 1,296 values.
	return cast(sqlident.Literal(strconv.FormatInt(int64(n), 36)))
}
