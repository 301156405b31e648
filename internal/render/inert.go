package render

import (
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// Line returns s as one line of text for a terminal or a report: each control character
// (CR, LF, tab, ESC, DEL, C1, the Unicode line separators) is written as a Go escape,
// \n or \u2028, so that a name read from a database can neither start a line of its own
// nor steer a terminal.
func Line(s string) string {
	if !sqlident.HasControl(s) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case sqlident.HasControl(string(r)):
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// gooseMark is what makes goose read a comment line as an annotation.
const gooseMark = "+goose"

// Comment returns text as one SQL line comment, "-- " and text made inert by Line, with
// every "+goose" written "\x2bgoose": nothing in it can end the comment, and goose (which
// takes any "--" line holding "+goose" for an annotation) sees only the annotations
// rlsmigrate writes itself.
func Comment(text string) string {
	return "-- " + strings.ReplaceAll(Line(text), gooseMark, `\x2b`+gooseMark[1:]) + "\n"
}

// Annotations returns the lines of a migration that goose reads as annotations: those
// that start with "--" (after spaces) and hold "+goose" anywhere.
func Annotations(migration string) []string {
	var out []string
	for _, l := range strings.Split(migration, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--") && strings.Contains(l, gooseMark) {
			out = append(out, l)
		}
	}
	return out
}
