package policy

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// The keys of policies, rules, groups and claims, each with its reader.

// Shorthands are the policies keys that stand for several operations.
var Shorthands = map[string][]string{
	"read":  {"select"},
	"write": {"insert", "update", "delete"},
	"all":   Operations,
}

// policyKeys are the keys of policies: an operation, or a shorthand for several.
var policyKeys = append(slices.Clone(Operations), "read", "write", "all")

func (d *decoder) policies(n *yaml.Node, t *Table) []*Rule {
	n = d.deref(n)
	var out []*Rule
	if n.Kind == yaml.ScalarNode {
		// "policies: owner" (or anyone): the same rule for every operation.
		for _, op := range Operations {
			if r := d.rule(n, op, t); r != nil {
				out = append(out, r)
			}
		}
		return out
	}
	given := map[string]*yaml.Node{} // operation → the key that gave it
	d.mapping(n, "policies", policyKeys, func(key string, k, v *yaml.Node) {
		ops := Shorthands[key]
		if ops == nil {
			ops = []string{key}
		}
		for _, op := range ops {
			if prev, dup := given[op]; dup {
				d.errorf(k, "operation %s is given twice: by %q at line %d, column %d, and by %q here; keep one", op, prev.Value, prev.Line, prev.Column, key)
				continue
			}
			given[op] = k
			items := []*yaml.Node{v}
			if dv := d.deref(v); dv.Kind == yaml.SequenceNode {
				if len(dv.Content) == 0 {
					d.errorf(v, "policies.%s is an empty list; remove it to deny %s", key, op)
				}
				items = dv.Content
			}
			for _, item := range items {
				if r := d.rule(item, op, t); r != nil {
					out = append(out, r)
				}
			}
		}
	})
	// Emit in operation order whatever the order of the keys.
	sort.SliceStable(out, func(i, j int) bool {
		return slices.Index(Operations, out[i].Operation) < slices.Index(Operations, out[j].Operation)
	})
	return out
}

// ruleDecoding is the rule being decoded: its node, operation and table, and the key
// that gave its kind.
type ruleDecoding struct {
	r       *Rule
	n       *yaml.Node
	op      string
	t       *Table
	kindKey *yaml.Node
}

func (d *decoder) rule(n *yaml.Node, op string, t *Table) *Rule {
	n = d.deref(n)
	r := &Rule{Operation: op, Pos: Pos{n.Line, n.Column}}
	if n.Kind == yaml.ScalarNode {
		if k, ok := kindOf(n.Value); ok && ruleKinds[k].bare {
			r.Kind = k
			return r
		}
		var words []string
		for _, k := range bareKinds {
			words = append(words, ruleKinds[k].key)
		}
		d.errorf(n, "unknown rule %q for %s (expected %s, or a mapping: {member: group}, {claim: {...}}, {using: ..., check: ...})", n.Value, op, strings.Join(words, ", "))
		return nil
	}
	r.Kind = RuleCustom
	ok := ruleKeys.decode(d, n, &ruleDecoding{r: r, n: n, op: op, t: t})
	if !ok {
		return nil
	}
	for kind, rk := range ruleKinds {
		for _, key := range rk.keys {
			if kind != r.Kind && d.hasKey(n, key) {
				d.errorf(n, "%q belongs to %s rule; this rule has no %q", key, article(rk.key), rk.key)
			}
		}
	}
	if r.Kind != RuleCustom {
		for _, key := range []string{"using", "check"} {
			if d.hasKey(n, key) {
				d.errorf(n, "%s rule builds its own condition: %q is for custom rules; use \"where\" to add a condition", article(string(r.Kind)), key)
			}
		}
		return r
	}
	switch {
	case op == "insert" && d.hasKey(n, "using"):
		d.errorf(n, "an insert rule takes \"check\", not \"using\"")
	case (op == "select" || op == "delete") && d.hasKey(n, "check"):
		d.errorf(n, "a %s rule takes \"using\", not \"check\"", op)
	case op == "insert" && !d.hasKey(n, "check"):
		d.errorf(n, "an insert rule needs \"check\" (the condition a new row must meet)")
	case op != "insert" && !d.hasKey(n, "using"):
		d.errorf(n, "a %s rule needs \"using\" (the condition a visible row must meet)", op)
	}
	return r
}

// kind sets the rule's kind from a key that selects one; a second is refused, and
// false says not to read its value.
func (rd *ruleDecoding) kind(d *decoder, k *yaml.Node) bool {
	kind, _ := kindOf(k.Value)
	if rd.kindKey != nil {
		d.errorf(k, "a rule has one kind: %q and %q are both given; write two rules", rd.kindKey.Value, k.Value)
		return false
	}
	rd.kindKey = k
	rd.r.Kind = kind
	return true
}

// flagRule reads a rule kind written key: true (owner, signed_in); false is refused.
func flagRule(key string) field[*ruleDecoding] {
	return field[*ruleDecoding]{key, func(d *decoder, k, v *yaml.Node, rd *ruleDecoding) {
		if !rd.kind(d, k) {
			return
		}
		if b, ok := d.boolean(v, key); ok && !b {
			d.errorf(v, "%s: false is not a rule; remove the rule to deny %s", key, rd.op)
		}
	}}
}

var ruleKeys = newKeys("a rule",
	field[*ruleDecoding]{"name", func(d *decoder, _, v *yaml.Node, rd *ruleDecoding) { rd.r.Name, _ = d.name(v, "policy name") }},
	field[*ruleDecoding]{"to", func(d *decoder, _, v *yaml.Node, rd *ruleDecoding) {
		rd.r.To = d.names(v, "role")
		d.noRepeats(v, rd.r.To, "role")
	}},
	field[*ruleDecoding]{"as", func(d *decoder, _, v *yaml.Node, rd *ruleDecoding) {
		if s, ok := d.str(v, "as"); ok {
			switch s {
			case "permissive":
			case "restrictive":
				rd.r.Restrictive = true
			default:
				d.errorf(v, "as must be permissive or restrictive, not %q", s)
			}
		}
	}},
	field[*ruleDecoding]{"where", func(d *decoder, _, v *yaml.Node, rd *ruleDecoding) {
		rd.r.Where = d.condition(v, "where", rd.t)
		rd.r.reads = append(rd.r.reads, d.tablesRead(v, rd.r.Where)...)
		rd.r.WherePos = Pos{d.deref(v).Line, d.deref(v).Column}
	}},
	flagRule("owner"),
	field[*ruleDecoding]{"anyone", func(d *decoder, k, v *yaml.Node, rd *ruleDecoding) {
		if !rd.kind(d, k) {
			return
		}
		// anyone: true, or the roles it lets in.
		if dv := d.deref(v); dv.Kind == yaml.ScalarNode && dv.Tag == "!!bool" {
			if b, _ := d.boolean(v, "anyone"); !b {
				d.errorf(v, "anyone: false is not a rule; remove the rule to deny %s", rd.op)
			}
			return
		}
		roles := d.names(v, "role")
		d.noRepeats(v, roles, "role")
		if d.hasKey(rd.n, "to") {
			d.errorf(v, "anyone names its roles, so \"to\" is not needed; keep one")
		}
		rd.r.To = roles
	}},
	flagRule("signed_in"),
	field[*ruleDecoding]{"member", func(d *decoder, k, v *yaml.Node, rd *ruleDecoding) {
		if !rd.kind(d, k) {
			return
		}
		rd.r.Group, _ = d.name(v, "member group")
	}},
	field[*ruleDecoding]{"column", func(d *decoder, _, v *yaml.Node, rd *ruleDecoding) { rd.r.Column, _ = d.name(v, "column") }},
	field[*ruleDecoding]{"through", func(d *decoder, _, v *yaml.Node, rd *ruleDecoding) { rd.r.Through = d.through(v) }},
	field[*ruleDecoding]{"claim", func(d *decoder, k, v *yaml.Node, rd *ruleDecoding) {
		if !rd.kind(d, k) {
			return
		}
		rd.r.Claims = d.claims(v)
	}},
	field[*ruleDecoding]{"using", func(d *decoder, _, v *yaml.Node, rd *ruleDecoding) {
		rd.r.Using = d.condition(v, "using", rd.t)
		rd.r.reads = append(rd.r.reads, d.tablesRead(v, rd.r.Using)...)
	}},
	field[*ruleDecoding]{"check", func(d *decoder, _, v *yaml.Node, rd *ruleDecoding) {
		rd.r.Check = d.condition(v, "check", rd.t)
		rd.r.reads = append(rd.r.reads, d.tablesRead(v, rd.r.Check)...)
	}},
)

// through reads {table, column} with an optional schema.
func (d *decoder) through(n *yaml.Node) *Through {
	th := &Through{Pos: Pos{d.deref(n).Line, d.deref(n).Column}}
	throughKeys.decode(d, n, th)
	d.require(n, "through", "table", "column")
	return th
}

var throughKeys = newKeys("through",
	field[*Through]{"schema", func(d *decoder, _, v *yaml.Node, th *Through) { th.Schema, _ = d.name(v, "through.schema") }},
	field[*Through]{"table", func(d *decoder, _, v *yaml.Node, th *Through) { th.Table, _ = d.name(v, "through.table") }},
	field[*Through]{"column", func(d *decoder, _, v *yaml.Node, th *Through) { th.Column, _ = d.name(v, "through.column") }},
)

// claims reads {name: value | [values]}: dotted names reach nested claims, and a part in
// double quotes is taken whole ("https://example.com/role"); values keep their YAML type
// (a string, a number, a boolean), as the JSON value the claim must equal.
func (d *decoder) claims(n *yaml.Node) []Claim {
	var out []Claim
	dn := d.deref(n)
	if dn.Kind == yaml.MappingNode && len(dn.Content) == 0 {
		d.errorf(n, "claim needs at least one claim and its value, such as {role: admin}")
		return nil
	}
	if dn.Kind != yaml.MappingNode {
		d.errorf(n, "claim must be a mapping of claim names to values, such as {role: admin}, not %s", kindName(dn))
		return nil
	}
	for _, kv := range d.pairs(dn) {
		k, v := kv[0], kv[1]
		name, ok := d.str(k, "claim name")
		if !ok {
			continue
		}
		path, err := ClaimPath(name)
		if err != "" {
			d.errorf(k, "claim name %q %s", name, err)
			continue
		}
		var values []string
		items := []*yaml.Node{v}
		if dv := d.deref(v); dv.Kind == yaml.SequenceNode {
			items = dv.Content
		}
		for _, item := range items {
			if js, ok := jsonScalar(d.deref(item)); ok {
				values = append(values, js)
			}
		}
		d.values(v, "claim "+strconv.Quote(name)) // reports empty lists and non-scalars
		d.noRepeats(v, values, "claim value")
		out = append(out, Claim{Path: path, Values: values})
	}
	return out
}

// ClaimPath splits a claim name into the keys of its path: parts separated by dots, a
// part in double quotes taken whole (a doubled quote inside stands for one). It returns
// the problem, or "".
func ClaimPath(name string) ([]string, string) {
	var path []string
	for i := 0; i <= len(name); {
		var part strings.Builder
		if i < len(name) && name[i] == '"' {
			text, end, ok := sqlident.ReadQuoted(name, i)
			if !ok {
				return nil, "has a part in double quotes that does not end"
			}
			part.WriteString(text)
			i = end
			if i < len(name) && name[i] != '.' {
				return nil, "has text after a part in double quotes; separate parts with dots"
			}
		} else {
			j := strings.IndexByte(name[i:], '.')
			if j < 0 {
				j = len(name) - i
			}
			part.WriteString(name[i : i+j])
			if strings.Contains(part.String(), `"`) {
				return nil, `has a double quote inside a part; write the whole part in double quotes, with "" for a quote`
			}
			i += j
		}
		if part.Len() == 0 {
			return nil, `has an empty part; nested claims are written a.b, and a name holding dots "a.b"`
		}
		path = append(path, part.String())
		i++ // the dot
	}
	return path, ""
}

// jsonScalar returns a YAML scalar as the JSON value it stands for: a quoted or plain
// string as a JSON string, a number or boolean as itself.
func jsonScalar(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	switch n.Tag {
	case "!!bool":
		b, err := boolValue(n)
		if err != nil {
			return "", false
		}
		return strconv.FormatBool(b), true
	case "!!int", "!!float":
		var f json.Number
		if _, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err != nil {
			break // .inf, 0x10: not JSON numbers; kept as strings
		}
		f = json.Number(strings.ReplaceAll(n.Value, "_", ""))
		if data, err := json.Marshal(f); err == nil {
			return string(data), true
		}
	case "!!null":
		return "", false
	}
	data, _ := json.Marshal(n.Value)
	return string(data), true
}

// values reads one scalar value or a non-empty list of them, for what (a claim, a
// filter).
func (d *decoder) values(n *yaml.Node, what string) []string {
	items := []*yaml.Node{n}
	if dn := d.deref(n); dn.Kind == yaml.SequenceNode {
		items = dn.Content
		if len(items) == 0 {
			d.errorf(n, "%s needs at least one value", what)
		}
	}
	var out []string
	for _, item := range items {
		item = d.deref(item)
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
			d.errorf(item, "a value of %s is a string, number or boolean, not %s", what, kindName(item))
			continue
		}
		out = append(out, item.Value)
	}
	return out
}

// groups reads the groups mapping: name → {table, schema, group, user, where}.
func (d *decoder) groups(n *yaml.Node) []*Group {
	n = d.deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "groups must be a mapping of group names to their definition, not %s", kindName(n))
		return nil
	}
	var out []*Group
	seen := map[string]bool{}
	for _, kv := range d.pairs(n) {
		k, v := kv[0], kv[1]
		name, ok := d.name(k, "group name")
		if !ok {
			continue
		}
		if !groupName.MatchString(name) {
			d.errorf(k, "group name %q must be lower-case letters, digits and underscores, starting with a letter: it names the function rls.%s()", name, name)
		}
		if seen[name] {
			d.errorf(k, "group %q is declared twice", name)
			continue
		}
		seen[name] = true
		g := &Group{Name: name, Schema: "public", Pos: Pos{k.Line, k.Column}}
		groupKeys.decode(d, v, g)
		for _, key := range []string{"table", "group", "user"} {
			if d.deref(v).Kind == yaml.MappingNode && !d.hasKey(v, key) {
				d.errorf(v, "group %q needs %q", name, key)
			}
		}
		out = append(out, g)
	}
	return out
}

var groupKeys = newKeys("a group",
	field[*Group]{"schema", func(d *decoder, _, v *yaml.Node, g *Group) { g.Schema, _ = d.name(v, "schema name") }},
	field[*Group]{"table", func(d *decoder, _, v *yaml.Node, g *Group) { g.Table, _ = d.name(v, "group table") }},
	field[*Group]{"group", func(d *decoder, _, v *yaml.Node, g *Group) { g.GroupColumn, _ = d.name(v, "group column") }},
	field[*Group]{"user", func(d *decoder, _, v *yaml.Node, g *Group) { g.UserColumn, _ = d.name(v, "user column") }},
	field[*Group]{"where", func(d *decoder, _, v *yaml.Node, g *Group) { g.Where = d.filters(v) }},
)

var groupName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// filters reads {column: value | [values]}.
func (d *decoder) filters(n *yaml.Node) []Filter {
	dn := d.deref(n)
	if dn.Kind != yaml.MappingNode {
		d.errorf(n, "where in a group is a mapping of column to value, such as {role: admin}, not %s", kindName(dn))
		return nil
	}
	var out []Filter
	for _, kv := range d.pairs(dn) {
		k, v := kv[0], kv[1]
		col, ok := d.name(k, "filter column")
		if !ok {
			continue
		}
		out = append(out, Filter{Column: col, Values: d.values(v, "filter "+strconv.Quote(col)), Pos: Pos{k.Line, k.Column}})
	}
	return out
}

// ValidGroupName reports whether name may name a group: it names the function
// rls.<name>().
func ValidGroupName(name string) bool { return groupName.MatchString(name) }
