package render

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// Finding is one difference between schema.yaml (desired) and a database (actual), as
// reports show it.
type Finding struct {
	Kind     string   `json:"kind"`     // the change kind that would fix it, e.g. policy.alter
	Severity string   `json:"severity"` // security: the database lets a role read or write more than schema.yaml says; else drift
	Change   string   `json:"change"`   // missing (in the database), extra, or different
	Object   string   `json:"object"`   // qualified name
	Table    string   `json:"table,omitempty"`
	Source   string   `json:"source,omitempty"`  // where schema.yaml declares the object, or its table: file:line:col
	Desired  string   `json:"desired,omitempty"` // as schema.yaml declares it
	Actual   string   `json:"actual,omitempty"`  // as the database has it
	Hazards  []string `json:"hazards,omitempty"` // of the statements that fix it
	SQL      []string `json:"sql"`               // statements that fix it

	order int // the change's place in apply order, for SQL shown together
}

// Report is the outcome of comparing schema.yaml with a database.
type Report struct {
	Findings []Finding `json:"findings"`
	// Goose is set when the database has goose's version table.
	Goose *GooseStatus `json:"goose,omitempty"`
}

// GooseStatus compares the database's migration version with the migrations directory.
type GooseStatus struct {
	DatabaseVersion int64 `json:"database_version"`
	LatestVersion   int64 `json:"latest_version"`
	Pending         int   `json:"pending"`
}

// Findings describes changes (from the database to schema.yaml) as findings, security
// findings first.
func Findings(changes []*diff.Change) []Finding { return FindingsAt(changes, nil) }

// FindingsAt is Findings with each finding's Source set by at ("" where it has none);
// at may be nil.
func FindingsAt(changes []*diff.Change, at func(*diff.Change) string) []Finding {
	out := make([]Finding, 0, len(changes))
	for _, c := range changes {
		f := Finding{Kind: string(c.Kind), Severity: "drift", Change: string(c.Effect()), Object: c.Object(), SQL: []string{}, order: len(out)}
		if at != nil {
			f.Source = at(c)
		}
		if c.Security() {
			f.Severity = "security"
		}
		if c.Table != "" {
			f.Table = c.Schema + "." + c.Table
		}
		f.Desired, f.Actual = describe(c, c.New, c.NewTable), describe(c, c.Old, c.OldTable)
		for _, h := range c.Hazards {
			f.Hazards = append(f.Hazards, string(h))
		}
		for _, st := range Statements([]*diff.Change{c}) {
			f.SQL = append(f.SQL, st.SQL)
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity == "security" && out[j].Severity != "security" })
	return out
}

// describe renders one side of a change: obj is the object on that side, t the table.
func describe(c *diff.Change, obj diff.Side, t *schema.Table) string {
	if k, _ := c.ObjectChange(); k != nil {
		if obj.Object == nil {
			return ""
		}
		return k.Summary(obj.Object)
	}
	switch c.Kind {
	case diff.RLSEnable, diff.RLSDisable:
		return onOff(t != nil && t.RLS, "enabled", "disabled")
	case diff.ForceRLSEnable, diff.ForceRLSDisable:
		return onOff(t != nil && t.ForceRLS, "forced", "not forced")
	case diff.TableComment:
		if t == nil {
			return commentSummary("")
		}
		return commentSummary(t.Comment)
	case diff.PrimaryKeyAdd, diff.PrimaryKeyDrop:
		if t == nil || len(t.PrimaryKey) == 0 {
			return "none"
		}
		return "PRIMARY KEY (" + idents(t.PrimaryKey) + ")"
	case diff.GrantAdd, diff.GrantRevoke:
		if t == nil {
			return "no privileges"
		}
		privs := append(slices.Clone(t.Grant(c.Role)), t.ColumnPrivileges(c.Role)...)
		if len(privs) == 0 {
			return "no privileges"
		}
		return privileges(privs)
	case diff.ExternalMissing:
		if t == nil {
			return "none"
		}
		return externalSummary(t)
	case diff.TableCreate, diff.TableDrop, diff.TableRename:
		if t == nil {
			return ""
		}
		return fmt.Sprintf("table %s (%d columns, %d policies)", t.QualifiedName(), len(t.Columns), len(t.Policies))
	case diff.RoleCreate, diff.SchemaCreate, diff.FunctionMissing, diff.UsageGrant, diff.UsageRevoke:
		return "" // existence is the whole story
	case diff.RoleMembership:
		return onOff(obj.Role != "", "member of "+obj.Role+", whose power it takes (it owns tables, gets past row-level security, reads or writes the server's files or all data, or is another declared role)", "")
	case diff.RoleBypass:
		return onOff(obj.Role != "", obj.Role+": bypasses row-level security", "")
	case diff.TableOwner:
		return onOff(obj.Role != "", "owned by "+obj.Role, "")
	case diff.FunctionAlter:
		return obj.Definition
	case diff.ViewInvoker, diff.MatviewReadable, diff.FunctionDefiner, diff.TableExposes:
		x := obj.Exposure
		switch {
		case x == nil:
			return ""
		case x.Kind == "parent table":
			return fmt.Sprintf("parent table, without row-level security, of %s, usable by %s", strings.Join(x.Reads, ", "), strings.Join(x.Roles, ", "))
		case x.Kind == "copy table":
			return fmt.Sprintf("table without row-level security that triggers or rules of %s write rows into, readable by %s", strings.Join(x.Reads, ", "), strings.Join(x.Roles, ", "))
		case x.Opaque != "":
			return fmt.Sprintf("%s whose body cannot be analysed (%s), so it may read %s as its owner, usable by %s", x.Kind, x.Opaque, strings.Join(x.Reads, ", "), strings.Join(x.Roles, ", "))
		}
		return fmt.Sprintf("%s reading %s as its owner, usable by %s", x.Kind, strings.Join(x.Reads, ", "), strings.Join(x.Roles, ", "))
	case diff.DefaultPrivilege:
		if dp := obj.Default; dp != nil {
			return fmt.Sprintf("%s on %s that %s creates go to %s", privileges(dp.Privileges), dp.ObjectType, dp.Owner, dp.Grantee)
		}
		return ""
	case diff.SchemaCreateDrop:
		return onOff(obj.Role != "", "CREATE granted to "+obj.Role, "")
	case diff.GrantOptionDrop, diff.SequenceRevoke:
		return onOff(len(obj.Privileges) > 0, privileges(obj.Privileges), "")
	case diff.FunctionCreate, diff.FunctionReplace, diff.FunctionDrop:
		if obj.Function == nil {
			return ""
		}
		return obj.Function.Definition() + ", execute [" + strings.Join(obj.Function.Execute, ", ") + "]"
	}
	switch {
	case obj.Column != nil:
		return columnSummary(c.Kind, obj.Column)
	case obj.Policy != nil:
		return policySummary(obj.Policy)
	case obj.Index != nil:
		return strings.TrimSuffix(strings.TrimPrefix(createIndex(t, obj.Index), "CREATE "), ";")
	case obj.Auth != nil:
		return "provider " + obj.Auth.Provider + ", user id " + obj.Auth.UserID
	}
	return ""
}

// externalSummary shows an external table with its columns: "auth.users (id uuid)".
func externalSummary(t *schema.Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = sqlident.Quote(c.Name) + " " + c.Type
	}
	return t.QualifiedName() + " (" + strings.Join(cols, ", ") + ")"
}

// commentSummary shows a comment, or that there is none.
func commentSummary(text string) string {
	return onOff(text != "", "COMMENT "+sqlident.Literal(text), "no comment")
}

func onOff(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}

// columnSummary shows the attribute of the column that a change of kind k is about.
func columnSummary(k diff.Kind, c *schema.Column) string {
	switch k {
	case diff.ColumnType:
		return c.Type
	case diff.ColumnDefault:
		return onOff(c.Default != "", "DEFAULT "+c.Default, "no default")
	case diff.ColumnNotNull:
		return onOff(c.NotNull, "NOT NULL", "nullable")
	case diff.ColumnIdentity:
		return onOff(c.Identity != "", "GENERATED "+strings.ToUpper(c.Identity)+" AS IDENTITY", "no identity")
	case diff.ColumnComment:
		return commentSummary(c.Comment)
	case diff.ColumnGenerated:
		return onOff(c.Generated != "", "GENERATED ALWAYS AS ("+c.Generated+") STORED", "not generated")
	case diff.UniqueAdd, diff.UniqueDrop:
		return onOff(c.Unique, "UNIQUE", "not unique")
	case diff.ForeignKeyAdd, diff.ForeignKeyDrop:
		if c.References == nil {
			return "no foreign key"
		}
		fk := c.References
		s := fmt.Sprintf("REFERENCES %s.%s (%s)", fk.Schema, fk.Table, fk.Column)
		if fk.OnDelete != "" {
			s += " ON DELETE " + strings.ToUpper(fk.OnDelete)
		}
		return s
	}
	return columnDef(c, false)
}

func policySummary(p *schema.Policy) string {
	var sb strings.Builder
	if p.Restrictive {
		sb.WriteString("AS RESTRICTIVE ")
	}
	fmt.Fprintf(&sb, "FOR %s TO %s", strings.ToUpper(p.Command), roleList(p.Roles))
	if p.Using != "" {
		fmt.Fprintf(&sb, " USING (%s)", p.Using)
	}
	if p.Check != "" {
		fmt.Fprintf(&sb, " WITH CHECK (%s)", p.Check)
	}
	return sb.String()
}

var signs = map[string]string{"missing": "+", "extra": "-", "different": "~"}

// Text renders the report for people: findings grouped by table, "+" missing in the
// database, "-" extra in it, "~" different, with both sides shown.
func Text(r *Report) string {
	var sb strings.Builder
	if r.Goose != nil && r.Goose.Pending > 0 {
		fmt.Fprintf(&sb, "note: the database is at migration version %d; the migrations directory goes to %d (%d pending: run rlsmigrate up)\n\n",
			r.Goose.DatabaseVersion, r.Goose.LatestVersion, r.Goose.Pending)
	}
	if len(r.Findings) == 0 {
		sb.WriteString("no differences: the database matches schema.yaml\n")
		return sb.String()
	}
	for _, g := range groups(r.Findings) {
		sb.WriteString(Line(g.title) + "\n")
		for _, f := range g.findings {
			fmt.Fprintf(&sb, "  %s %s", signs[f.Change], f.Kind)
			if f.Severity == "security" {
				sb.WriteString(" (security)")
			}
			if name := strings.TrimPrefix(f.Object, f.Table+"."); name != f.Object || f.Table == "" {
				fmt.Fprintf(&sb, " %s", Line(name))
			}
			if len(f.Hazards) > 0 {
				fmt.Fprintf(&sb, " [%s]", strings.Join(f.Hazards, ", "))
			}
			if f.Source != "" {
				fmt.Fprintf(&sb, "  at %s", Line(f.Source))
			}
			sb.WriteString("\n")
			if f.Desired != "" || f.Change == "different" {
				fmt.Fprintf(&sb, "      schema.yaml: %s\n", Line(orNone(f.Desired)))
			}
			if f.Actual != "" || f.Change == "different" {
				fmt.Fprintf(&sb, "      database:    %s\n", Line(orNone(f.Actual)))
			}
		}
	}
	fmt.Fprintf(&sb, "\n%s\n", summary(r.Findings))
	return sb.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func summary(fs []Finding) string {
	n := map[string]int{}
	for _, f := range fs {
		n[f.Change]++
		n[f.Severity]++
	}
	return fmt.Sprintf("%d difference(s) (%d security): %d missing in the database, %d extra, %d different",
		len(fs), n["security"], n["missing"], n["extra"], n["different"])
}

type group struct {
	title    string
	findings []Finding
}

// groups puts findings outside tables first, then each table's in order of appearance.
func groups(fs []Finding) []group {
	var out []group
	index := map[string]int{}
	for _, f := range fs {
		title := f.Table
		if title == "" {
			title = "database"
		}
		i, ok := index[title]
		if !ok {
			i = len(out)
			index[title] = i
			out = append(out, group{title: title})
		}
		out[i].findings = append(out[i].findings, f)
	}
	return out
}

// JSON renders the report with stable field names, one object per finding.
func JSON(r *Report) string {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		// A Report holds only strings, numbers and slices of them.
		return fmt.Sprintf(`{"error": %q}`, err.Error())
	}
	return string(data) + "\n"
}

// Markdown renders the report as a pull-request comment: a summary table, then each
// table's findings and the SQL that would fix them.
func Markdown(r *Report) string {
	var sb strings.Builder
	if len(r.Findings) == 0 {
		sb.WriteString("### rlsmigrate diff: no differences\n\nThe database matches `schema.yaml`.\n")
	} else {
		fmt.Fprintf(&sb, "### rlsmigrate diff: %d difference(s)\n\n", len(r.Findings))
		sb.WriteString("| object | missing | extra | different |\n|---|---:|---:|---:|\n")
		for _, g := range groups(r.Findings) {
			n := map[string]int{}
			for _, f := range g.findings {
				n[f.Change]++
			}
			fmt.Fprintf(&sb, "| %s | %d | %d | %d |\n", code(g.title), n["missing"], n["extra"], n["different"])
		}
		for _, g := range groups(r.Findings) {
			fmt.Fprintf(&sb, "\n#### %s\n\n| | kind | object | schema.yaml | database |\n|---|---|---|---|---|\n", code(g.title))
			for _, f := range g.findings {
				hazard := ""
				if f.Severity == "security" {
					hazard = " (security)"
				}
				if len(f.Hazards) > 0 {
					hazard += " ⚠️ " + strings.Join(f.Hazards, ", ")
				}
				object := code(f.Object)
				if f.Source != "" {
					object += " at " + code(f.Source)
				}
				fmt.Fprintf(&sb, "| %s | %s%s | %s | %s | %s |\n", signs[f.Change], f.Kind, hazard, object, code(f.Desired), code(f.Actual))
			}
			// The statements in the order they apply, whatever the order of the rows.
			inOrder := slices.Clone(g.findings)
			slices.SortFunc(inOrder, func(a, b Finding) int { return a.order - b.order })
			var sql []string
			for _, f := range inOrder {
				sql = append(sql, f.SQL...)
			}
			if len(sql) > 0 {
				body := strings.Join(sql, "\n")
				fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
				fmt.Fprintf(&sb, "\n<details><summary>SQL that brings the database to schema.yaml</summary>\n\n%ssql\n%s\n%s\n</details>\n", fence, body, fence)
			}
		}
	}
	if r.Goose != nil && r.Goose.Pending > 0 {
		fmt.Fprintf(&sb, "\n> The database is at migration version %d; `migrations/` goes to %d (%d pending).\n",
			r.Goose.DatabaseVersion, r.Goose.LatestVersion, r.Goose.Pending)
	}
	return sb.String()
}

// Cell renders s inert for one cell of a Markdown table: one line, pipes escaped.
func Cell(s string) string { return strings.ReplaceAll(Line(s), "|", `\|`) }

// code returns s as an inline code span inside a table cell: delimited by one backtick
// more than its longest run of backticks, padded where it starts or ends with one, as
// CommonMark reads it.
func code(s string) string {
	if s == "" {
		return ""
	}
	s = Cell(s)
	tick := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return tick + s + tick
}

// longestRun returns the length of the longest run of r in s.
func longestRun(s string, r rune) int {
	best, n := 0, 0
	for _, c := range s {
		if c == r {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}
