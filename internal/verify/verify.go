// Package verify proves on a real database that the policies isolate users: for every
// table with an owner column it inserts rows for two synthetic users, then tries each
// operation as one of them, on its own rows and on the other's, and as a caller with no
// identity, and compares what PostgreSQL allowed with what schema.yaml says. Everything
// runs in one transaction that is rolled back.
package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
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
	MoveGroup  = "move own row to another group"
	Peer       = "member failing the group's filter"
	Member     = "member, not the owner"
	TakeOver   = "take a group's row"
	WithClaims = "others' rows, with the claims"
	// Escalate is followed by a group's name: a member failing the group's filter
	// updating its own row of the group's table to pass it.
	Escalate = "member passing the filter of group "
	// Unbounded is an update or delete without WHERE, by a user, judged on another
	// user's row: it reads no column, so the select rules do not hold.
	Unbounded = "others' rows, no WHERE"
	// Immutable is followed by the column's name: an update of it on one's own row.
	Immutable = "change immutable column"
	// WhereMet follows a case on the row that meets the rules' where conditions.
	WhereMet = ", where met"
)

// Check is one attempt: an operation by a caller on a kind of row.
type Check struct {
	Operation string  `json:"operation"`
	Case      string  `json:"case"`
	Role      string  `json:"role,omitempty"` // another role than the report's, for a caller without identity
	Expected  Outcome `json:"expected"`
	Observed  Outcome `json:"observed"`
	Detail    string  `json:"detail,omitempty"`
	// Source is where schema.yaml says what the operation may do: its first rule on the
	// table, or the table when it has none (file:line:col).
	Source string `json:"source,omitempty"`
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
	// NotRun lists the attempts that could not be set up or judged, each with why.
	NotRun []string `json:"not_run,omitempty"`
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
				out = append(out, fmt.Sprintf("%s: %s: failed, where schema.yaml says %s%s%s", t.Table, attemptName(c), c.Expected, detail(c.Detail), at(c.Source)))
				continue
			}
			if c.Mismatch() {
				out = append(out, fmt.Sprintf("%s: %s: %s, schema.yaml says %s%s%s",
					t.Table, attemptName(c), c.Observed, c.Expected, detail(c.Detail), at(c.Source)))
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

// at names a source position after a mismatch, or nothing.
func at(source string) string {
	if source == "" {
		return ""
	}
	return " at " + source
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
	case MoveGroup:
		return "update moving its own row to another user's group"
	}
	if who, ok := strings.CutPrefix(c.Case, Through); ok {
		return c.Operation + " through it, as " + who + asRole(c.Role) + ", of rows the base tables' rules deny"
	}
	if g, ok := strings.CutPrefix(c.Case, Escalate); ok {
		return "update by a member setting its own row to pass the filter of group " + g + " (making itself one)"
	}
	if col, ok := strings.CutPrefix(c.Case, Immutable+" "); ok {
		return "update of immutable column " + col + " of its own row"
	}
	switch c.Case {
	case Peer:
		return c.Operation + " of a group's row by a member failing the group's filter"
	case Member:
		return c.Operation + " of a group's row by a member who does not own it"
	case TakeOver:
		return "update by a member making itself the owner of a group's row"
	case WithClaims:
		return c.Operation + " of another user's row by a user with the claims the rules ask for"
	case Unbounded:
		return c.Operation + " without WHERE by a user, reaching another user's row"
	case Own + WhereMet:
		return c.Operation + " of its own row meeting the where condition by a user"
	case Others + WhereMet:
		return c.Operation + " of another user's row meeting the where condition by a user"
	}
	if c.Case == NoIdentity+WhereMet {
		return c.Operation + " of a row meeting the where condition by a caller with no identity" + asRole(c.Role)
	}
	return c.Operation + " by a caller with no identity" + asRole(c.Role)
}

func asRole(role string) string {
	if role == "" {
		return ""
	}
	return " as role " + role
}

// JSON returns the report with stable field names.
func (r *Report) JSON() string {
	data, _ := json.MarshalIndent(r, "", "  ")
	return string(data) + "\n"
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
	case "E": // enum: one of its labels, by n
		return fmt.Sprintf("(enum_range(NULL::%[1]s))[1 + %[2]d %% cardinality(enum_range(NULL::%[1]s))]", typ, n)
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
