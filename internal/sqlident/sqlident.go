// Package sqlident quotes PostgreSQL identifiers and literals so that no name taken from
// schema.yaml can change the meaning of the SQL it is placed in.
package sqlident

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest identifier PostgreSQL keeps, in bytes (NAMEDATALEN-1).
const MaxLen = 63

// keywords are the PostgreSQL 15 keywords that are not "unreserved"
// (pg_get_keywords() where catcode <> 'U'), and those that PostgreSQL 16 and 17 added;
// an identifier equal to one is quoted.
var keywords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`all analyse analyze and any array as asc asymmetric
	authorization between bigint binary bit boolean both case cast char character check coalesce
	collate collation column concurrently constraint create cross current_catalog current_date
	current_role current_schema current_time current_timestamp current_user dec decimal default
	deferrable desc distinct do else end except exists extract false fetch float for foreign freeze
	from full grant greatest group grouping having ilike in initially inner inout int integer
	intersect interval into is isnull join lateral leading least left like limit localtime
	localtimestamp national natural nchar none normalize not notnull null nullif numeric offset on
	only or order out outer overlaps overlay placing position precision primary real references
	returning right row select session_user setof similar smallint some substring symmetric table
	tablesample then time timestamp to trailing treat trim true union unique user using values
	varchar variadic verbose when where window with xmlattributes xmlconcat xmlelement xmlexists
	xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
	system_user json json_array json_arrayagg json_exists json_object json_objectagg json_query
	json_scalar json_serialize json_table json_value merge_action`) {
		m[w] = true
	}
	return m
}()

// Quote returns name as a PostgreSQL identifier: bare when it is a lower-case simple name
// that is not a keyword, otherwise in double quotes with embedded quotes doubled. A name
// holding a control character (a newline, say, in a name read from a database) is written
// as a Unicode-escape identifier, U&"a\000ab", so that the identifier stays on one line:
// no line of it can end a goose statement, start a goose annotation or leave a comment.
func Quote(name string) string {
	if isSimple(name) && !keywords[name] {
		return name
	}
	if HasControl(name) {
		return `U&"` + escapeControl(strings.ReplaceAll(name, `"`, `""`)) + `"`
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// HasControl reports whether s holds a control character: C0, DEL or C1, line and
// paragraph separators included.
func HasControl(s string) bool { return strings.ContainsFunc(s, isControl) }

func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029
}

// escapeControl writes s for a U&” or U&"" token: the escape character \ doubled,
// each control character as \XXXX.
func escapeControl(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case isControl(r):
			fmt.Fprintf(&sb, `\%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// Qualified returns schema.name, each part quoted as needed.
func Qualified(schema, name string) string {
	return Quote(schema) + "." + Quote(name)
}

// Literal returns s as a standard-conforming SQL string literal; one holding a control
// character is written as a Unicode-escape literal, U&'a\000ab', so that it stays on one
// line (see Quote).
func Literal(s string) string {
	if HasControl(s) {
		return "U&'" + escapeControl(strings.ReplaceAll(s, "'", "''")) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// DollarQuote wraps body in a dollar-quoted string whose tag does not occur in body.
func DollarQuote(body string) string {
	tag := "$rls$"
	for i := 0; strings.Contains(body, tag); i++ {
		tag = "$rls" + strings.Repeat("x", i+1) + "$"
	}
	return tag + body + tag
}

func isSimple(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case (r >= '0' && r <= '9') || r == '$':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Derived returns a name for an object defined by defining: the readable label, then
// "_" and a hash of every defining part (each part ended by a NUL, so that no two lists
// of parts share an encoding), cut to MaxLen bytes. Two definitions that differ in any
// part get different names, whatever "_" their parts hold; the caller still refuses the
// (2^-32) case where two hashes meet.
func Derived(label string, defining ...string) string {
	h := sha256.New()
	for _, p := range defining {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	suffix := "_" + hex.EncodeToString(h.Sum(nil)[:4])
	cut := min(len(label), MaxLen-len(suffix))
	for cut > 0 && cut < len(label) && !utf8.RuneStart(label[cut]) {
		cut--
	}
	return label[:cut] + suffix
}

// Name joins parts with "_" into an identifier of at most MaxLen bytes; a longer name is
// cut and given a hash of the whole, so it stays unique and stable.
func Name(parts ...string) string {
	name := strings.Join(parts, "_")
	if len(name) <= MaxLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "_" + hex.EncodeToString(sum[:4])
	cut := MaxLen - len(suffix)
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + suffix
}

// RequoteControl rewrites each double-quoted identifier of the SQL text s that holds a
// control character in the one-line form Quote gives it. It is for SQL text that
// PostgreSQL printed (format_type, pg_get_function_identity_arguments), whose quoted
// names may hold newlines; string literals are left as they are.
func RequoteControl(s string) string {
	if !HasControl(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		switch s[i] {
		case '\'':
			j := i + 1
			for j < len(s) && (s[j] != '\'' || (j+1 < len(s) && s[j+1] == '\'')) {
				if s[j] == '\'' {
					j++
				}
				j++
			}
			end := min(j+1, len(s))
			sb.WriteString(s[i:end])
			i = end
		case '"':
			name, end, _ := ReadQuoted(s, i)
			if HasControl(name) {
				sb.WriteString(Quote(name))
			} else {
				sb.WriteString(s[i:end])
			}
			i = end
		default:
			sb.WriteByte(s[i])
			i++
		}
	}
	return sb.String()
}

// SplitNames splits names as Quote (or PostgreSQL's quote_ident) writes them, joined by
// sep (", " for a column list, "." for schema.name), into the names themselves.
func SplitNames(s, sep string) []string {
	var out []string
	for s != "" {
		name := s
		if s[0] == '"' {
			text, end, ok := ReadQuoted(s, 0)
			if !ok {
				return append(out, s)
			}
			name, s = text, s[end:]
		} else if i := strings.Index(s, sep); i >= 0 {
			name, s = s[:i], s[i:]
		} else {
			s = ""
		}
		out = append(out, name)
		s = strings.TrimPrefix(s, sep)
	}
	return out
}

// ReadQuoted reads the double-quoted token of s that starts at byte start (a '"'): its
// text, a doubled quote inside standing for one, and the byte offset just past its
// closing quote. ok is false when no quote closes it; end is then len(s).
func ReadQuoted(s string, start int) (text string, end int, ok bool) {
	var sb strings.Builder
	for j := start + 1; j < len(s); j++ {
		if s[j] != '"' {
			sb.WriteByte(s[j])
			continue
		}
		if j+1 < len(s) && s[j+1] == '"' {
			sb.WriteByte('"')
			j++
			continue
		}
		return sb.String(), j + 1, true
	}
	return sb.String(), len(s), false
}

// Grantee spells role as GRANT and REVOKE name it: PUBLIC for "public", else quoted.
func Grantee(role string) string {
	if role == "public" {
		return "PUBLIC"
	}
	return Quote(role)
}

// Grantees spells roles as a GRANT list: "PUBLIC, authenticated".
func Grantees(roles []string) string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = Grantee(r)
	}
	return strings.Join(out, ", ")
}
