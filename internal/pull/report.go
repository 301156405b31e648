package pull

import (
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/render"
)

// reportSections are the report's sections, in order, by finding kind.
var reportSections = []struct{ kind, title string }{
	{FindRule, "Policies read back as rules"},
	{FindFaster, "Policies the next migration writes in a faster form"},
	{FindCustom, "Policies kept as custom rules"},
	{FindLeftOut, "Not expressed in schema.yaml"},
	{FindNote, "Notes"},
}

// items renders, one string each, the findings of kind.
func items(fs []Finding, kind string, format func(Finding) string) []string {
	var out []string
	for _, f := range fs {
		if f.Kind == kind {
			out = append(out, format(f))
		}
	}
	return out
}

// Text renders the report as text: each section's findings, then what the next
// migration changes (changes, as diff's text report renders them, n of them).
func Text(out string, fs []Finding, changes string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "wrote %s\n", render.Line(out))
	for _, s := range reportSections {
		lines := items(fs, s.kind, func(f Finding) string { return "  " + render.Line(f.Object) + ": " + render.Line(f.Text) })
		if len(lines) > 0 {
			fmt.Fprintf(&b, "\n%s (%d):\n%s\n", s.title, len(lines), strings.Join(lines, "\n"))
		}
	}
	if n == 0 {
		b.WriteString("\nThe next migration changes nothing: schema.yaml describes the database as it is.\n")
	} else {
		fmt.Fprintf(&b, "\nThe next migration changes %d thing(s) in this database:\n%s", n, changes)
	}
	return b.String()
}

// Markdown renders the report as Markdown, for a pull request adopting the database.
func Markdown(out string, fs []Finding, changes string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## rlsmigrate pull: `%s`\n", strings.ReplaceAll(render.Line(out), "`", "'"))
	for _, s := range reportSections {
		rows := items(fs, s.kind, func(f Finding) string { return "| " + render.Cell(f.Object) + " | " + render.Cell(f.Text) + " |" })
		if len(rows) > 0 {
			fmt.Fprintf(&b, "\n### %s (%d)\n\n| object | finding |\n|---|---|\n%s\n", s.title, len(rows), strings.Join(rows, "\n"))
		}
	}
	if n == 0 {
		b.WriteString("\n### The next migration\n\nChanges nothing: schema.yaml describes the database as it is.\n")
	} else {
		fmt.Fprintf(&b, "\n### The next migration changes %d thing(s)\n\n%s", n, changes)
	}
	return b.String()
}
