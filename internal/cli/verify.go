package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/verify"
)

func runVerify(ctx context.Context, e *env, args []string) int {
	fs := e.flags("verify", "[--database-url URL] [--schema schema.yaml] [--role authenticated] [--format text|json]",
		`Prove on a real database that the policies isolate users. For every table with an
owner column, verify inserts a row for each of two synthetic users, then tries select,
insert, update and delete as one of them (on its own row and on the other's, and by
moving its row to the other) and as a caller with no identity, and compares what
PostgreSQL allowed with what schema.yaml says. Everything runs in one transaction that
is rolled back, so it may run against staging; only identity sequences advance.
Connect as a role that bypasses row-level security (a superuser, or the tables' owner
where they are not forced) so the test rows can be written.
Exit 0: as declared; 1: a mismatch (each is named); 2: error.`)
	dbURL := e.dbFlag(fs)
	schemaPath := fs.String("schema", "schema.yaml", "the schema file")
	role := fs.String("role", "authenticated", "the role application queries run as")
	format := fs.String("format", "text", "output format: text or json")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	if *format != "text" && *format != "json" {
		return e.fail(fmt.Errorf("--format %q: use text or json", *format))
	}
	f, desired, ok := e.loadSchema(*schemaPath, "")
	if !ok {
		return ExitError
	}
	conn, url, err := e.connectTo(ctx, *dbURL)
	if err != nil {
		return e.fail(err)
	}
	defer conn.Close(context.Background())
	report, err := verify.Run(ctx, conn, f, desired, *role)
	if err != nil {
		return e.fail(fmt.Errorf("%s", redact(err.Error(), url)))
	}
	if *format == "json" {
		fmt.Fprint(e.stdout, report.JSON())
	} else {
		fmt.Fprint(e.stdout, verifyText(report))
	}
	if len(report.Mismatches()) > 0 {
		return ExitFound
	}
	return ExitOK
}

// verifyText renders each table's access matrix (rows are operations, columns the
// caller's own rows, another user's rows, and a caller with no identity), then the tests
// schema.yaml declares, then a summary naming every mismatch.
func verifyText(r *verify.Report) string {
	var sb strings.Builder
	checks, notDerived := 0, 0
	var tests []string
	for _, t := range r.Tables {
		for _, tr := range t.Tests {
			mark := "✓"
			if tr.Failed() {
				mark = "✗ want " + tr.Expected
			}
			name := tr.Name
			if name == "" {
				name = fmt.Sprintf("line %d", tr.Line)
			}
			tests = append(tests, fmt.Sprintf("  %s %s, as %s: %s %s\n", t.Table, name, tr.As, tr.Observed, mark))
		}
		if t.Skipped != "" {
			fmt.Fprintf(&sb, "%s: skipped, %s\n\n", t.Table, t.Skipped)
			continue
		}
		owner := ""
		if t.Owner != "" {
			owner = " (owner " + t.Owner + ")"
		}
		fmt.Fprintf(&sb, "%s%s, as role %s\n", t.Table, owner, r.Role)
		cols, rows := matrix(t.Checks)
		width, label := 24, 18
		for _, c := range cols {
			width = max(width, len(c.title)+2)
		}
		for _, op := range rows {
			label = max(label, len(op)+2)
		}
		fmt.Fprintf(&sb, "  %-*s", label, "operation")
		for _, c := range cols {
			fmt.Fprintf(&sb, "%-*s", width, c.title)
		}
		sb.WriteString("\n")
		for _, op := range rows {
			fmt.Fprintf(&sb, "  %-*s", label, op)
			for _, col := range cols {
				cell := "-"
				for _, c := range t.Checks {
					if rowOf(c) != op || colOf(c) != col {
						continue
					}
					checks++
					cell = string(c.Observed)
					switch {
					case c.Observed == verify.Failed:
						cell += " ✗"
					case c.Expected == verify.NotDerived:
						notDerived++
						cell += " (not derived)"
					case c.Mismatch():
						cell += " ✗ want " + string(c.Expected)
					default:
						cell += " ✓"
					}
				}
				fmt.Fprintf(&sb, "%-*s", width, cell)
			}
			sb.WriteString("\n")
		}
		sb.WriteString("\n")
	}
	if len(tests) > 0 {
		sb.WriteString("tests declared in schema.yaml:\n" + strings.Join(tests, "") + "\n")
	}
	mismatches := r.Mismatches()
	// The matrix pads its cells; lines end without the padding.
	lines := strings.Split(sb.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	sb.Reset()
	sb.WriteString(strings.Join(lines, "\n"))
	fmt.Fprintf(&sb, "%d check(s) and %d test(s): %d mismatch(es), %d decided by custom rules (not derived)\n",
		checks, len(tests), len(mismatches), notDerived)
	for _, m := range mismatches {
		fmt.Fprintf(&sb, "MISMATCH %s\n", m)
	}
	return sb.String()
}

// matrixColumn is a column of the access matrix: a case, as a role.
type matrixColumn struct{ cas, role, title string }

// colOf and rowOf place a check in the matrix: moving one's own row is an update of
// one's own rows, on a row of its own.
func colOf(c verify.Check) matrixColumn {
	cas := c.Case
	switch {
	case cas == verify.GiveAway || cas == verify.MoveGroup || strings.HasPrefix(cas, verify.Immutable):
		cas = verify.Own
	case cas == verify.TakeOver:
		cas = verify.Member
	}
	title := cas
	if c.Role != "" {
		title = strings.Replace(cas, verify.NoIdentity, "as "+c.Role, 1)
	}
	return matrixColumn{cas, c.Role, title}
}

func rowOf(c verify.Check) string {
	switch c.Case {
	case verify.GiveAway:
		return "update: give away"
	case verify.MoveGroup:
		return "update: move to another group"
	case verify.TakeOver:
		return "update: take the row"
	}
	if col, ok := strings.CutPrefix(c.Case, verify.Immutable+" "); ok {
		return "update: " + col + " (immutable)"
	}
	return c.Operation
}

// matrix returns the columns and rows of the checks' matrix, in order of appearance.
func matrix(checks []verify.Check) ([]matrixColumn, []string) {
	var cols []matrixColumn
	var rows []string
	for _, c := range checks {
		if col := colOf(c); !slices.Contains(cols, col) {
			cols = append(cols, col)
		}
		if r := rowOf(c); !slices.Contains(rows, r) {
			rows = append(rows, r)
		}
	}
	rank := func(r string) int {
		for i, p := range []string{"select", "insert", "update", "update: give away", "update: take the row", "update: move to another group", "update: ", "delete"} {
			if r == p || (p == "update: " && strings.HasPrefix(r, p)) {
				return i
			}
		}
		return 99
	}
	slices.SortStableFunc(rows, func(a, b string) int { return rank(a) - rank(b) })
	return cols, rows
}
