package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/inspect"
	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/verify"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

func runVerify(ctx context.Context, e *env, args []string) int {
	fs := e.flags("verify", "[--database-url URL] [--schema schema.yaml] [--role authenticated] [--format FORMATS]",
		`Prove on a real database that the policies isolate users. For every table a built-in
rule (owner, member, claim, anyone) governs, verify inserts a row for each of two
synthetic users, each in its own groups, then tries select, insert, update and delete
as one of them (on its own row and on the other's, moving its row to the other or to
another group), as a member failing a group's filter, as a member who does not own the
row, with the claims the rules ask for, and as a caller with no identity, and compares
what PostgreSQL allowed with what schema.yaml says. Everything runs in one transaction that
is rolled back, so it may run against staging; only identity sequences advance.
Connect as a role that bypasses row-level security (a superuser, or the tables' owner
where they are not forced) so the test rows can be written.
Exit 0: as declared; 1: a mismatch (each is named); 2: error.`)
	dbURL := e.dbFlag(fs)
	schemaPath := fs.String("schema", "schema.yaml", "the schema file")
	role := fs.String("role", "authenticated", "the role application queries run as")
	format := formatFlag(fs, verifyFormats...)
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	dialed := e.dial(ctx, *dbURL)
	f, desired, ok := e.loadSchema(*schemaPath, "")
	if !ok {
		dialed.abandon()
		return ExitError
	}
	conn, url, err := dialed.wait()
	if err != nil {
		return e.fail(err)
	}
	defer conn.Close(context.Background())
	// The views and functions that read tables past their policies, read through too.
	_, access, err := inspect.Inspect(ctx, conn, inspect.Options{Schemas: desired.Schemas, Roles: desired.Roles,
		RoutineSchemas: []string{policy.FunctionSchema}, Exposures: true})
	if err != nil {
		return e.fail(fmt.Errorf("%s", redact(err.Error(), url)))
	}
	// What schema.yaml declares reading past the policies (a view with its reason) is
	// meant to: verify reads through the others.
	exposed := slices.DeleteFunc(slices.Clone(access.Exposures), func(x *schema.Exposure) bool { return objects.Declares(desired, x) })
	report, err := verify.Run(ctx, conn, f, desired, *role, exposed)
	if err != nil {
		return e.fail(fmt.Errorf("%s", redact(err.Error(), url)))
	}
	fmt.Fprint(e.stdout, format.Write(report))
	if len(report.Mismatches()) > 0 {
		return ExitFound
	}
	return ExitOK
}

// verifyFormats are verify's output formats.
var verifyFormats = []outputFormat[*verify.Report]{{"text", verifyText}, {"json", (*verify.Report).JSON}, {"markdown", verifyMarkdown}}

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
		fmt.Fprintf(&sb, "%s, as role %s\n", tableTitle(t), r.Role)
		g := grid(t.Checks)
		checks, notDerived = checks+g.checks, notDerived+g.notDerived
		width, label := 24, 18
		for _, c := range g.cols {
			width = max(width, len(c.title)+2)
		}
		for _, op := range g.rows {
			label = max(label, len(op)+2)
		}
		fmt.Fprintf(&sb, "  %-*s", label, "operation")
		for _, c := range g.cols {
			fmt.Fprintf(&sb, "%-*s", width, c.title)
		}
		sb.WriteString("\n")
		for i, op := range g.rows {
			fmt.Fprintf(&sb, "  %-*s", label, op)
			for _, cell := range g.cells[i] {
				fmt.Fprintf(&sb, "%-*s", width, cell)
			}
			sb.WriteString("\n")
		}
		for _, n := range t.NotRun {
			fmt.Fprintf(&sb, "  not run: %s\n", n)
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

// tableTitle names a table of the report, with its owner column.
func tableTitle(t verify.TableReport) string {
	if t.Owner != "" {
		return t.Table + " (owner " + t.Owner + ")"
	}
	return t.Table
}

// accessGrid is a table's access matrix: a cell per row (operation) and column (case),
// "-" where nothing was tried.
type accessGrid struct {
	cols               []matrixColumn
	rows               []string
	cells              [][]string
	checks, notDerived int
}

func grid(checks []verify.Check) accessGrid {
	g := accessGrid{}
	g.cols, g.rows = matrix(checks)
	for _, op := range g.rows {
		line := make([]string, len(g.cols))
		for j, col := range g.cols {
			line[j] = "-"
			for _, c := range checks {
				if rowOf(c) != op || colOf(c) != col {
					continue
				}
				g.checks++
				cell := string(c.Observed)
				switch {
				case c.Observed == verify.Failed:
					cell += " ✗"
				case c.Expected == verify.NotDerived:
					g.notDerived++
					cell += " (not derived)"
				case c.Mismatch():
					cell += " ✗ want " + string(c.Expected)
				default:
					cell += " ✓"
				}
				line[j] = cell
			}
		}
		g.cells = append(g.cells, line)
	}
	return g
}

// verifyMarkdown renders the report for a pull-request comment: each table's access
// matrix as a Markdown table, the tests, and every mismatch.
func verifyMarkdown(r *verify.Report) string {
	var sb strings.Builder
	checks, notDerived, tests := 0, 0, 0
	fmt.Fprintf(&sb, "## rlsmigrate verify, as role `%s`\n\n", r.Role)
	for _, t := range r.Tables {
		if t.Skipped != "" {
			fmt.Fprintf(&sb, "### %s\n\nSkipped: %s.\n\n", t.Table, t.Skipped)
		} else {
			g := grid(t.Checks)
			checks, notDerived = checks+g.checks, notDerived+g.notDerived
			fmt.Fprintf(&sb, "### %s\n\n| operation |", tableTitle(t))
			for _, c := range g.cols {
				fmt.Fprintf(&sb, " %s |", c.title)
			}
			sb.WriteString("\n|---|" + strings.Repeat("---|", len(g.cols)) + "\n")
			for i, op := range g.rows {
				fmt.Fprintf(&sb, "| %s | %s |\n", op, strings.Join(g.cells[i], " | "))
			}
			sb.WriteString("\n")
			for _, n := range t.NotRun {
				fmt.Fprintf(&sb, "- not run: %s\n", n)
			}
			if len(t.NotRun) > 0 {
				sb.WriteString("\n")
			}
		}
		for _, tr := range t.Tests {
			tests++
			mark := "✓"
			if tr.Failed() {
				mark = "✗ want " + tr.Expected
			}
			fmt.Fprintf(&sb, "- test %q (line %d) as %s: %s %s\n", tr.Name, tr.Line, tr.As, tr.Observed, mark)
		}
		if len(t.Tests) > 0 {
			sb.WriteString("\n")
		}
	}
	mismatches := r.Mismatches()
	fmt.Fprintf(&sb, "%d check(s) and %d test(s): %d mismatch(es), %d decided by custom rules (not derived)\n", checks, tests, len(mismatches), notDerived)
	for _, m := range mismatches {
		fmt.Fprintf(&sb, "\n- **mismatch** %s", m)
	}
	if len(mismatches) > 0 {
		sb.WriteString("\n")
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
	switch {
	case c.Role != "" && strings.HasPrefix(cas, verify.NoIdentity):
		title = strings.Replace(cas, verify.NoIdentity, "as "+c.Role, 1)
	case c.Role != "":
		title = cas + " (" + c.Role + ")"
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
