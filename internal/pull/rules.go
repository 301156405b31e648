package pull

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// rule is one rule of a pulled table: a policy, or the part of a FOR ALL policy that
// governs one operation, read back as the rule it means.
type rule struct {
	op          string
	kind        policy.RuleKind
	name        string // the policy's name; written when the generated one differs
	nameWritten bool
	to          []string
	restrictive bool
	where       string
	using       string // custom rules
	check       string
	group       string // member rules
	column      string
	through     *group // member rules through a table: the through function's group
	claims      []sqlparse.ClaimTest
	src         *schema.Policy
	table       *schema.Table // the table the policy is on
	why         string        // why it is custom
}

// rules reads the policies of t back as rules, in operation order.
func (p *puller) rules(t *schema.Table, tb *table) {
	for _, op := range policy.Operations {
		for _, pol := range t.Policies {
			if pol.Command == op || pol.Command == "all" {
				tb.rules = append(tb.rules, p.rule(t, tb, pol, op)...)
			}
		}
	}
	for _, pol := range t.Policies {
		if pol.Command == "all" {
			p.find(FindNote, policyName(t, pol), "FOR ALL: read back as one rule per operation; the next migration makes a policy per operation of it")
		}
	}
}

func policyName(t *schema.Table, pol *schema.Policy) string {
	return t.QualifiedName() + " policy " + pol.Name
}

// rule reads the part of pol that governs op: one rule, or one per operand of a
// permissive policy's OR when each is a built-in rule (permissive policies OR
// together, so the meaning is the same).
func (p *puller) rule(t *schema.Table, tb *table, pol *schema.Policy, op string) []*rule {
	r := &rule{op: op, kind: policy.RuleCustom, name: pol.Name, to: slices.Clone(pol.Roles), restrictive: pol.Restrictive, src: pol, table: t}
	if pol.Command == "all" && op != policy.Operations[0] {
		r.name = "" // the select rule keeps the policy's name; the others are new
	}
	using, check := pol.Using, pol.Check
	if op == "insert" && check == "" {
		check = using // FOR ALL without WITH CHECK checks new rows with USING
	}
	switch op {
	case "insert":
		r.check = check
	case "update":
		r.using, r.check = using, check
	default:
		r.using = using
	}
	cond := r.using
	if op == "insert" {
		cond = r.check
	}
	if cond == "" && (op != "update" || check == "") {
		// PostgreSQL takes a policy without a condition for its command as letting
		// nothing through; so does schema.yaml an operation without a rule.
		p.find(FindNote, policyName(t, pol), "%s: it has no condition, so it lets nothing through; left out (the next migration drops it, which changes no access)", op)
		return nil
	}
	if op == "update" && check != "" && !sqlparse.Equivalent(using, check) {
		p.custom(t, pol, r, "its USING and WITH CHECK differ")
		return []*rule{r}
	}
	e, err := p.cache.Expr(cond)
	if err != nil {
		p.custom(t, pol, r, "its condition does not parse as one expression")
		return []*rule{r}
	}
	if ds := e.Disjuncts(); len(ds) > 1 && !pol.Restrictive {
		owner, groups, findings := tb.owner, len(p.groups), len(p.findings)
		var out []*rule
		for i, d := range ds {
			dr := *r
			if i > 0 {
				dr.name = "" // the first keeps the policy's name; the others are new
			}
			if !p.recognise(t, tb, &dr, d) {
				break
			}
			out = append(out, &dr)
		}
		// Split only where it pays: a rule of it gets a faster form. Otherwise the
		// policy stays as it is, a custom rule.
		faster := slices.ContainsFunc(p.findings[findings:], func(f Finding) bool { return f.Kind == FindFaster })
		if len(out) == len(ds) && faster {
			p.find(FindNote, policyName(t, pol), "%s: its condition is an OR of %d rules, read back as %d rules (permissive policies OR together)", op, len(ds), len(ds))
			return out
		}
		tb.owner, p.groups = owner, p.groups[:groups]
		p.forget(findings)
	}
	if !p.recognise(t, tb, r, e) {
		p.custom(t, pol, r, r.why)
	}
	return []*rule{r}
}

// recognise reads cond as a built-in rule into r, and reports whether it is one; r.why
// says why not.
func (p *puller) recognise(t *schema.Table, tb *table, r *rule, cond *sqlparse.Expr) bool {
	if p.customOnly {
		r.why = "every policy is kept as written (see the note on schema.yaml)"
		return false
	}
	if cond.AlwaysTrue() {
		r.kind, r.using, r.check = policy.RuleAnyone, "", ""
		p.find(FindRule, policyName(t, r.src), "anyone (%s)", r.op)
		return true
	}
	cs := cond.Conjuncts()
	first, rest := cs[0], cs[1:]
	kind, why := p.kindOf(t, tb, first, &rest, r)
	if kind == "" {
		r.why = why
		return false
	}
	r.kind, r.using, r.check = kind, "", ""
	r.where = sqlparse.AndText(rest)
	p.find(FindRule, policyName(t, r.src), "%s (%s)%s", describe(r), r.op, map[bool]string{true: ", where " + r.where}[r.where != ""])
	return true
}

// custom keeps r as a custom rule and says why.
func (p *puller) custom(t *schema.Table, pol *schema.Policy, r *rule, why string) {
	r.kind = policy.RuleCustom
	p.find(FindCustom, policyName(t, pol), "custom rule (%s): %s", r.op, why)
}

// kindOf returns the built-in rule kind cond (a policy's first conjunct) means, and
// fills r; rest are the conjuncts after it, which a claim rule may take more of. It
// returns "" and why when cond means none.
func (p *puller) kindOf(t *schema.Table, tb *table, cond *sqlparse.Expr, rest *[]*sqlparse.Expr, r *rule) (policy.RuleKind, string) {
	if it, ok := cond.IdentityTest(); ok && sqlparse.Equivalent(it.Call, p.auth.userID) {
		if tb.owner != "" && tb.owner != it.Column {
			return "", "it compares " + it.Column + " with the caller, and the table's owner column is " + tb.owner
		}
		if t.Column(it.Column) == nil {
			return "", "it compares a column the table lacks"
		}
		tb.owner = it.Column
		if !it.PerStatement {
			p.find(FindFaster, policyName(t, r.src), "it calls %s for every row; the generated policy calls it once per statement, (select %s) = %s",
				it.Call, it.Call, it.Column)
		}
		return policy.RuleOwner, ""
	}
	if call, ok := cond.NotNullCall(); ok && sqlparse.Equivalent(call, p.auth.userID) {
		return policy.RuleSignedIn, ""
	}
	if am, ok := cond.ArrayMember(); ok && am.Schema == policy.FunctionSchema {
		g := p.groupOf(am.Function)
		if g == nil {
			return "", "it calls " + am.Schema + "." + am.Function + "(), which is no group function pull reads"
		}
		r.column = am.Column
		if g.through != nil {
			r.group, r.through = g.through.name, g
		} else {
			r.group = g.name
		}
		return policy.RuleMember, ""
	}
	if sf, ok := cond.SetFunction(); ok {
		g, why := p.functionGroup(t, sf)
		if g == nil {
			return "", why
		}
		r.group, r.column = g.name, sf.Column
		p.find(FindNote, policyName(t, r.src), "%s() is a query of %s.%s: read back as group %s, whose function %s.%s() the generated policy reads once per statement; %s() stays as declared",
			sf.Function, g.schema, g.table, g.name, policy.FunctionSchema, g.function, sf.Function)
		return policy.RuleMember, ""
	}
	if sm, ok := cond.SetMembership(t.Name); ok {
		g, why := p.setGroup(t, sm)
		if g == nil {
			return "", why
		}
		r.group, r.column = g.name, sm.Column
		p.find(FindFaster, policyName(t, r.src), "it reads %s.%s for every row (%s); the generated policy reads the group once per statement, %s.%s(), and answers from an index on %s",
			g.schema, g.table, map[string]string{"in": "IN (SELECT ...)", "exists": "EXISTS (SELECT ...)", "in-users": "the caller's id IN (SELECT ...)"}[sm.Form], policy.FunctionSchema, g.function, sm.Column)
		return policy.RuleMember, ""
	}
	if ct, ok := cond.ClaimTest(); ok && sqlparse.Equivalent(ct.Claims, p.auth.claims) {
		if !ct.PerStatement {
			p.find(FindFaster, policyName(t, r.src), "it calls %s for every row; the generated policy reads the claims once per statement", ct.Claims)
		}
		if ct.Text {
			p.find(FindNote, policyName(t, r.src), "it compares claim %s as text (->>); the claim rule compares JSON values, so a claim holding the number or boolean spelled alike no longer passes", claimName(ct.Path))
		}
		r.claims = []sqlparse.ClaimTest{ct}
		for len(*rest) > 0 {
			next, ok := (*rest)[0].ClaimTest()
			if !ok || !sqlparse.Equivalent(next.Claims, p.auth.claims) || slices.ContainsFunc(r.claims, func(c sqlparse.ClaimTest) bool { return slices.Equal(c.Path, next.Path) }) {
				break
			}
			r.claims = append(r.claims, next)
			*rest = (*rest)[1:]
		}
		for _, c := range r.claims {
			if slices.Contains(c.Path, "") {
				return "", "it reads a claim with an empty key, which schema.yaml cannot name"
			}
			for _, v := range c.Values {
				if _, ok := jsonValue(v); !ok {
					return "", "it compares a claim with a JSON list or mapping"
				}
			}
		}
		return policy.RuleClaim, ""
	}
	if len(cond.Functions()) == 0 && !cond.HasSubquery() {
		// A condition on the row's own values alone: anyone in the roles, where it holds.
		*rest = append([]*sqlparse.Expr{cond}, *rest...)
		return policy.RuleAnyone, ""
	}
	return "", "it matches no built-in rule"
}

// describe names r's kind for the report.
func describe(r *rule) string {
	switch r.kind {
	case policy.RuleOwner:
		return "owner"
	case policy.RuleMember:
		if r.through != nil {
			return "member of " + r.group + " on " + r.column + " through " + r.through.table
		}
		return "member of " + r.group + " on " + r.column
	case policy.RuleClaim:
		var names []string
		for _, c := range r.claims {
			names = append(names, claimName(c.Path))
		}
		return "claim " + strings.Join(names, ", ")
	}
	return string(r.kind)
}

// claimName spells a claim's path as schema.yaml does: parts joined by dots, a part
// holding a dot or a double quote in double quotes.
func claimName(path []string) string {
	parts := make([]string, len(path))
	for i, k := range path {
		parts[i] = k
		if k == "" || strings.ContainsAny(k, `."`) {
			parts[i] = `"` + strings.ReplaceAll(k, `"`, `""`) + `"`
		}
	}
	return strings.Join(parts, ".")
}

// node returns r as schema.yaml writes it.
func (r *rule) node() *yaml.Node {
	m := mapping(true)
	switch r.kind {
	case policy.RuleOwner, policy.RuleSignedIn:
		m.set(string(r.kind), boolean(true))
	case policy.RuleAnyone:
		m.set("anyone", boolean(true))
	case policy.RuleMember:
		m.setStr("member", r.group)
		m.setStr("column", r.column)
		if th := r.through; th != nil {
			tm := mapping(true)
			if th.schema != r.table.Schema { // through's schema defaults to the rule's table's
				tm.setStr("schema", th.schema)
			}
			tm.setStr("table", th.table)
			tm.setStr("column", th.column)
			m.set("through", tm.n)
		}
	case policy.RuleClaim:
		cm := mapping(true)
		for _, c := range r.claims {
			var values []*yaml.Node
			for _, v := range c.Values {
				n, _ := jsonValue(v)
				values = append(values, n)
			}
			if len(values) == 1 {
				cm.set(claimName(c.Path), values[0])
			} else {
				cm.set(claimName(c.Path), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Content: values})
			}
		}
		m.set("claim", cm.n)
	case policy.RuleCustom:
		m.setStr("using", r.using)
		m.setStr("check", r.check)
	}
	if r.nameWritten {
		m.setStr("name", r.name)
	}
	if !slices.Equal(r.to, []string{policy.DefaultRole}) {
		if len(r.to) == 1 {
			m.setStr("to", r.to[0])
		} else {
			m.set("to", list(r.to))
		}
	}
	if r.restrictive {
		m.setStr("as", "restrictive")
	}
	m.setStr("where", r.where)
	if r.kind == policy.RuleOwner && len(m.n.Content) == 2 {
		return str("owner")
	}
	return m.n
}
