package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/inspect"
	"github.com/rlsmigrate/rlsmigrate/internal/lint"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

func runLint(ctx context.Context, e *env, args []string) int {
	fs := e.flags("lint", "[--schema schema.yaml] [--database-url URL] [--format FORMATS] [--fail-on error|warn|info]",
		`Check schema.yaml for row-level-security mistakes: RLS off on granted tables, tables
with no rules, writes open to anyone or to anonymous, update rules that let a row be
given away, the identity call evaluated per row, owner columns without index, NOT NULL
or default, dead grants and rules without grants. With --database-url, also check the
live database: roles that bypass RLS or are members of roles that do, tables owned by
another role than the one that ran the migrations or by the connecting role without
FORCE, policies on tables whose RLS is off, a missing identity function, views and
SECURITY DEFINER functions that read RLS tables for app roles, default privileges and
CREATE on the schemas.
Exit 1 when a finding at or above --fail-on exists.`)
	schemaPath := fs.String("schema", "schema.yaml", "the schema file")
	dbURL := fs.String("database-url", "", "also check this database (DATABASE_URL is not read: lint is offline unless asked)")
	format := formatFlag(fs, lintFormats...)
	failOn := fs.String("fail-on", "error", "the lowest severity that makes lint exit 1: error, warn or info")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	threshold, err := lint.ParseSeverity(*failOn)
	if err != nil {
		return e.fail(fmt.Errorf("--fail-on: %w", err))
	}
	f, desired, ok := e.loadSchema(*schemaPath, "")
	if !ok {
		return ExitError
	}
	var live *lint.Live
	if *dbURL != "" {
		conn, err := connect(ctx, *dbURL)
		if err != nil {
			return e.fail(err)
		}
		defer conn.Close(context.Background())
		actual, drift, err := inspect.Inspect(ctx, conn, inspect.Options{Schemas: desired.Schemas, Roles: desired.Roles, Functions: desired.Functions,
			RoutineSchemas: []string{policy.FunctionSchema}, Exposures: true})
		if err != nil {
			return e.fail(fmt.Errorf("%s", redact(err.Error(), *dbURL)))
		}
		access, err := inspect.ReadAccess(ctx, conn, desired.Roles)
		if err != nil {
			return e.fail(fmt.Errorf("%s", redact(err.Error(), *dbURL)))
		}
		live = &lint.Live{Actual: actual, Access: drift, LoginRole: access.LoginRole, BypassRoles: access.BypassRoles}
	}
	findings := lint.Check(f, desired, live)
	fmt.Fprint(e.stdout, format.Write(findings))
	for _, fd := range findings {
		if fd.Rule.Severity >= threshold {
			return ExitFound
		}
	}
	return ExitOK
}

// lintFormats are lint's output formats; github writes workflow annotations.
var lintFormats = []outputFormat[[]lint.Finding]{{"text", lintText}, {"json", lintJSON}, {"github", lintGitHub}}

// lintGitHub writes each finding as a GitHub workflow annotation at its position.
func lintGitHub(findings []lint.Finding) string {
	var sb strings.Builder
	for _, fd := range findings {
		level := map[lint.Severity]string{lint.Error: "error", lint.Warn: "warning", lint.Info: "notice"}[fd.Rule.Severity]
		fmt.Fprintf(&sb, "::%s file=%s,line=%d,col=%d,title=%s::%s. Fix: %s\n", level, escapeProperty(fd.File), fd.Pos.Line, fd.Pos.Col,
			escapeProperty(fd.Rule.ID+" "+fd.Rule.Name), escapeAnnotation(fd.Message), escapeAnnotation(fd.Rule.Fix))
	}
	return sb.String()
}

func lintText(findings []lint.Finding) string {
	var sb strings.Builder
	count := map[lint.Severity]int{}
	for _, fd := range findings {
		count[fd.Rule.Severity]++
		fmt.Fprintf(&sb, "%s:%d:%d: %s %s %s: %s\n    fix: %s\n", fd.File, fd.Pos.Line, fd.Pos.Col,
			fd.Rule.Severity, fd.Rule.ID, fd.Rule.Name, fd.Message, fd.Rule.Fix)
	}
	fmt.Fprintf(&sb, "%d finding(s): %d error, %d warn, %d info\n", len(findings), count[lint.Error], count[lint.Warn], count[lint.Info])
	return sb.String()
}

type lintRecord struct {
	Rule     string `json:"rule"`
	Name     string `json:"name"`
	Severity string `json:"severity"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

func lintJSON(findings []lint.Finding) string {
	recs := make([]lintRecord, 0, len(findings))
	for _, fd := range findings {
		recs = append(recs, lintRecord{fd.Rule.ID, fd.Rule.Name, fd.Rule.Severity.String(), fd.File, fd.Pos.Line, fd.Pos.Col, fd.Message, fd.Rule.Fix})
	}
	data, _ := json.MarshalIndent(map[string]any{"findings": recs}, "", "  ")
	return string(data) + "\n"
}

// escapeAnnotation escapes a workflow command's message as GitHub Actions requires.
func escapeAnnotation(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property (file=..., title=...), where ":"
// and "," also end the value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
