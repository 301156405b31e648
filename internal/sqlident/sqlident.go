// Package sqlident quotes PostgreSQL identifiers and literals so that no name taken from
// schema.yaml can change the meaning of the SQL it is placed in.
package sqlident

import (
	"crypto/sha256"
	"encoding/hex"
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
// that is not a keyword, otherwise in double quotes with embedded quotes doubled.
func Quote(name string) string {
	if isSimple(name) && !keywords[name] {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Qualified returns schema.name, each part quoted as needed.
func Qualified(schema, name string) string {
	return Quote(schema) + "." + Quote(name)
}

// Literal returns s as a standard-conforming SQL string literal.
func Literal(s string) string {
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
