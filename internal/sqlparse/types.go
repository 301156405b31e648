package sqlparse

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// builtinTypes maps PostgreSQL's internal names of built-in types, and the synonyms the
// parser leaves unresolved (int8, bool, timestamptz...), to the names format_type prints.
var builtinTypes = map[string]string{
	"int8": "bigint", "int4": "integer", "int2": "smallint", "int": "integer",
	"float8": "double precision", "float4": "real",
	"bool": "boolean", "boolean": "boolean",
	"varchar": "character varying", "bpchar": "character",
	"timestamptz": "timestamp with time zone", "timestamp": "timestamp without time zone",
	"timetz": "time with time zone", "time": "time without time zone",
	"varbit": "bit varying", "bit": "bit", "numeric": "numeric", "decimal": "numeric",
	"interval": "interval",
}

// serialTypes are shorthands that CREATE TABLE expands into a sequence and a default;
// they are not types a column keeps.
var serialTypes = map[string]string{
	"serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint",
	"smallserial": "smallint", "serial2": "smallint",
}

// withTimeZone maps the types whose modifier goes before "with/without time zone".
var withTimeZone = map[string][2]string{
	"timestamp with time zone":    {"timestamp", " with time zone"},
	"timestamp without time zone": {"timestamp", " without time zone"},
	"time with time zone":         {"time", " with time zone"},
	"time without time zone":      {"time", " without time zone"},
}

// ParseType parses s as a column type and returns it as PostgreSQL's format_type prints
// it, so that two spellings of one type (int8 and bigint, timestamptz and timestamp with
// time zone) compare equal: "bigint", "character varying(20)", "numeric(10,2)",
// "timestamp(3) with time zone", "text[]". Types it does not know are returned with each
// name part quoted as needed.
func ParseType(s string, quote func(string) string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", &Error{Offset: -1, Msg: "must not be empty"}
	}
	if err := noComments(s); err != nil {
		return "", err
	}
	const prefix = "SELECT NULL::"
	tree, err := parse(prefix+s, len(prefix))
	if err != nil {
		return "", err
	}
	var tn *pg.TypeName
	if len(tree.Stmts) == 1 {
		if sel := tree.Stmts[0].Stmt.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 && !extraClauses(sel) {
			if rt := sel.TargetList[0].GetResTarget(); rt != nil && rt.Name == "" {
				if tc := rt.Val.GetTypeCast(); tc != nil && tc.Arg.GetAConst() != nil && tc.Arg.GetAConst().Isnull {
					tn = tc.TypeName
				}
			}
		}
	}
	if tn == nil || tn.Setof || tn.PctType {
		return "", &Error{Offset: -1, Msg: "must be one type name"}
	}
	names := stringList(tn.Names)
	if len(names) == 2 && names[0] == "pg_catalog" {
		names = names[1:]
	}
	var base string
	if len(names) == 1 {
		if to, ok := serialTypes[names[0]]; ok {
			return "", &Error{Offset: -1, Msg: fmt.Sprintf("%s is not a type a column keeps but a shorthand for a sequence; write type: %s with identity: by default", names[0], to)}
		}
		base = builtinTypes[names[0]]
		if base == "" && slices.Contains(knownTypes, names[0]) {
			base = names[0] // json, xml...: keywords of newer PostgreSQL, still bare type names
		}
	}
	if base == "" {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = quote(n)
		}
		base = strings.Join(quoted, ".")
	}
	mods, err := typmods(tn)
	if err != nil {
		return "", err
	}
	out := base
	if mods != "" && base == "interval" {
		return "", &Error{Offset: -1, Msg: "interval fields and precision are not supported; write interval"}
	}
	if mods != "" {
		if tz, ok := withTimeZone[base]; ok {
			out = tz[0] + mods + tz[1]
		} else {
			out = base + mods
		}
	}
	if len(tn.ArrayBounds) > 0 {
		out += "[]" // PostgreSQL keeps no array dimensions in the type
	}
	return out, nil
}

// typmods returns a type's modifiers as "(n)" or "(n,m)", or "".
func typmods(tn *pg.TypeName) (string, error) {
	if len(tn.Typmods) == 0 {
		return "", nil
	}
	parts := make([]string, len(tn.Typmods))
	for i, m := range tn.Typmods {
		c := m.GetAConst()
		iv, ok := c.GetVal().(*pg.A_Const_Ival)
		if c == nil || !ok {
			return "", &Error{Offset: -1, Msg: "type modifiers must be whole numbers, as in varchar(20) or numeric(10,2)"}
		}
		parts[i] = strconv.Itoa(int(iv.Ival.Ival))
	}
	return "(" + strings.Join(parts, ",") + ")", nil
}

// Type families whose members PostgreSQL casts among with "::".
var (
	numericTypes  = []string{"smallint", "integer", "bigint", "numeric", "real", "double precision"}
	dateTimeTypes = []string{"date", "timestamp with time zone", "timestamp without time zone"}
	timeTypes     = []string{"time with time zone", "time without time zone", "interval"}
	stringTypes   = []string{"text", "character varying", "character", "name"}
	knownTypes    = append(append(append(append([]string{"boolean", "uuid", "json", "jsonb", "bytea", "bit", "bit varying", "inet", "cidr", "macaddr", "money", "xml"},
		numericTypes...), dateTimeTypes...), timeTypes...), stringTypes...)
)

// KnownTypes returns the types CanCast knows, as ParseType spells them.
func KnownTypes() []string { return slices.Clone(knownTypes) }

// baseType strips the modifiers and array brackets of a type as ParseType returns it:
// "character varying(20)" is "character varying", "timestamp(3) with time zone" is
// "timestamp with time zone".
func baseType(t string) (base string, array bool) {
	array = strings.HasSuffix(t, "[]")
	t = strings.TrimSuffix(t, "[]")
	if i := strings.Index(t, "("); i >= 0 {
		if j := strings.Index(t[i:], ")"); j >= 0 {
			t = t[:i] + t[i+j+1:]
		}
	}
	return t, array
}

// BuiltinType reports whether t (as ParseType spells it) is a type this package knows,
// whose casts CanCast can tell; an enum, a domain or an extension's type is not.
func BuiltinType(t string) bool {
	base, _ := baseType(t)
	return slices.Contains(knownTypes, base)
}

// StringType reports whether t (as ParseType spells it) is a string type: text,
// character varying, character, name.
func StringType(t string) bool {
	base, array := baseType(t)
	return !array && slices.Contains(stringTypes, base)
}

// CanCast reports whether PostgreSQL converts a value of type from to type to with
// "value::to", for two types as ParseType returns them. Types it does not know (a
// domain, an enum, an extension's type) may have casts it cannot see: it answers true,
// and the migration finds out.
func CanCast(from, to string) bool {
	f, fArr := baseType(from)
	t, tArr := baseType(to)
	if !slices.Contains(knownTypes, f) || !slices.Contains(knownTypes, t) {
		return true
	}
	switch {
	case f == t && fArr == tArr:
		return true
	case slices.Contains(stringTypes, t) && !tArr, slices.Contains(stringTypes, f) && !fArr:
		return true // text input and output convert every type
	case fArr != tArr:
		return false
	case fArr:
		return CanCast(f, t) // arrays convert element by element
	}
	same := func(family []string) bool { return slices.Contains(family, f) && slices.Contains(family, t) }
	switch {
	case same(numericTypes), same(dateTimeTypes), same(stringTypes):
		return true
	case same(timeTypes):
		return f == "time without time zone" || t == "time without time zone" // time with time zone and interval do not convert
	case f == "integer" && t == "boolean", f == "boolean" && t == "integer":
		return true
	case f == "timestamp with time zone" && t == "time with time zone",
		(f == "timestamp with time zone" || f == "timestamp without time zone") && t == "time without time zone":
		return true
	case f == "json" && t == "jsonb", f == "jsonb" && t == "json":
		return true
	case f == "jsonb" && (t == "boolean" || slices.Contains(numericTypes, t)):
		return true
	case same([]string{"bit", "bit varying"}), f == "integer" && t == "bit", f == "bigint" && t == "bit", f == "bit" && (t == "integer" || t == "bigint"):
		return true
	case f == "inet" && t == "cidr", f == "cidr" && t == "inet":
		return true
	case (f == "money" && slices.Contains([]string{"numeric", "integer", "bigint"}, t)) || (t == "money" && slices.Contains([]string{"numeric", "integer", "bigint"}, f)):
		return f != "money" || t == "numeric"
	}
	return false
}

var uuidText = regexp.MustCompile(`^(?i)\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$`)

// ValidLiteral reports whether PostgreSQL can read text as a value of typ (as
// ParseType spells it), for the types whose input it checks offline: integers, numbers,
// booleans and uuids. Other types are taken as valid.
func ValidLiteral(typ, text string) bool {
	t := strings.TrimSpace(text)
	base, array := baseType(typ)
	if array {
		return true
	}
	switch base {
	case "smallint", "integer", "bigint":
		_, err := strconv.ParseInt(t, 10, 64)
		return err == nil
	case "numeric", "real", "double precision":
		_, err := strconv.ParseFloat(t, 64)
		return err == nil || strings.EqualFold(t, "NaN")
	case "boolean":
		switch strings.ToLower(t) {
		case "t", "f", "true", "false", "y", "n", "yes", "no", "on", "off", "1", "0":
			return true
		}
		return false
	case "uuid":
		return uuidText.MatchString(t)
	}
	return true
}

// Comparable reports whether PostgreSQL has an = operator between values of types a
// and b (as ParseType spells them) without a cast: the same type, two string types or
// two numeric types. A type it does not know (a domain, an enum) is taken to compare
// with its own name only, and with anything it cannot rule out (true).
func Comparable(a, b string) bool {
	x, xArr := baseType(a)
	y, yArr := baseType(b)
	switch {
	case xArr != yArr:
		return false
	case x == y:
		return true
	case !slices.Contains(knownTypes, x) || !slices.Contains(knownTypes, y):
		return true
	case slices.Contains(stringTypes, x) && slices.Contains(stringTypes, y):
		return true
	case slices.Contains(numericTypes, x) && slices.Contains(numericTypes, y):
		return true
	}
	return false
}

// CastType returns the type the expression casts to when it is a cast, x::type or
// CAST(x AS type), as ParseType spells it.
func (e *Expr) CastType() (string, bool) {
	tc := e.node.GetTypeCast()
	if tc == nil || tc.TypeName == nil {
		return "", false
	}
	start := int(tc.TypeName.Location) - len(exprPrefix)
	if start < 0 || start > len(e.Text) {
		return "", false
	}
	text := strings.TrimSpace(e.Text[start:])
	for strings.HasSuffix(text, ")") && strings.Count(text, ")") > strings.Count(text, "(") {
		text = strings.TrimSpace(strings.TrimSuffix(text, ")"))
	}
	typ, err := ParseType(text, func(s string) string { return s })
	return typ, err == nil
}

// WithoutModifiers returns type t without its modifiers, as PostgreSQL keeps the type of
// a function's result: "character varying(20)[]" is "character varying[]".
func WithoutModifiers(t string) string {
	base, array := baseType(t)
	if array {
		return base + "[]"
	}
	return base
}

// GroupIDType reports whether PostgreSQL compares, indexes and lists values of type t as
// ids: the integer and numeric types, text and varchar, and uuid. A group's id must be
// one: others have no btree order (json, xml), or too few values to tell groups apart
// (boolean), or pad (character).
func GroupIDType(t string) bool {
	base, array := baseType(t)
	return !array && slices.Contains([]string{"smallint", "integer", "bigint", "numeric", "text", "character varying", "uuid"}, base)
}

// Constant returns the text of the expression when it is a constant that PostgreSQL
// must read as a value of column type typ: a string, a number or a boolean, alone or
// cast to typ itself, and its kind (string, number or boolean).
func (e *Expr) Constant(typ string) (text, kind string, ok bool) {
	n := e.node
	if tc := n.GetTypeCast(); tc != nil {
		if t, ok := e.CastType(); !ok || t != typ {
			return "", "", false
		}
		n = tc.Arg
	}
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return "", "", false
	}
	switch v := c.Val.(type) {
	case *pg.A_Const_Sval:
		return v.Sval.Sval, "string", true
	case *pg.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.Ival)), "number", true
	case *pg.A_Const_Fval:
		return v.Fval.Fval, "number", true
	case *pg.A_Const_Boolval:
		return strconv.FormatBool(v.Boolval.Boolval), "boolean", true
	}
	return "", "", false
}

// Assignable reports whether a constant of kind (see Expr.Constant) is stored in a
// column of type typ without an explicit cast: a string always (PostgreSQL reads its
// text as typ), a number into a numeric or string type, a boolean into boolean or a
// string type. Types it does not know are taken to accept it.
func Assignable(kind, typ string) bool {
	base, array := baseType(typ)
	if kind == "string" || array || !slices.Contains(knownTypes, base) || slices.Contains(stringTypes, base) {
		return true
	}
	switch kind {
	case "number":
		return slices.Contains(numericTypes, base) || base == "money"
	case "boolean":
		return base == "boolean"
	}
	return true
}
