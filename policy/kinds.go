package policy

import "slices"

// RuleKind says how a rule decides access.
type RuleKind string

// The rule kinds.
const (
	RuleOwner    RuleKind = "owner"     // the caller owns the row
	RuleAnyone   RuleKind = "anyone"    // every caller in the rule's roles
	RuleMember   RuleKind = "member"    // the row's column is in a group of the caller
	RuleClaim    RuleKind = "claim"     // the caller's claims hold given values
	RuleSignedIn RuleKind = "signed_in" // the caller has an identity, whatever it is
	RuleCustom   RuleKind = "custom"    // SQL in using/check
)

// ruleKind is everything rlsmigrate knows of one rule kind, in one place: the condition
// its policies compile to, the verdict verify expects of them, the functions they call,
// and what validation checks. compile, lint and verify ask the rule (Conditions,
// Verdict, ReadsClaims...), which asks this table; TestEveryRuleKind runs every kind in
// it through compile and verify. A new kind is an entry here and its key in load.go.
type ruleKind struct {
	// key is the schema.yaml key (or bare word) that selects the kind; "" for custom,
	// which a rule mapping without any kind key is.
	key string
	// condition is the SQL the rule compiles to on table t, before its where; nil for
	// custom rules, whose using and check are their own.
	condition func(r *Rule, f *File, t *Table) string
	// verdict is what the rule alone says in case c, before its where; nil when its SQL
	// decides (Unknown).
	verdict func(r *Rule, f *File, c Case) Verdict
	// readsClaims: its condition calls the claims function (auth.session()), which
	// compile must create and diff and lint must find.
	readsClaims bool
	// callsFunction: its condition compares the row with a function's result in a
	// subquery (the identity, a group's set, the claims), so it never lets every row
	// through by itself, and PostgreSQL's recursion check sees a subquery.
	callsFunction bool
	// validate checks the rule against the whole file; nil when there is nothing to check.
	validate func(d *decoder, f *File, t *Table, r *Rule)
	// keys are the rule mapping's keys that only this kind takes.
	keys []string
	// bare: the kind may be written as its key alone ("select: owner"); it takes no
	// argument.
	bare bool
}

// ruleKinds describes every rule kind.
var ruleKinds = map[RuleKind]ruleKind{
	RuleOwner: {
		key:           "owner",
		bare:          true,
		condition:     func(_ *Rule, f *File, t *Table) string { return OwnerCondition(f.Auth.UserID, t.Owner) },
		verdict:       func(_ *Rule, _ *File, c Case) Verdict { return verdict(c.Identity && c.Owned) },
		callsFunction: true,
	},
	RuleAnyone: {
		key:       "anyone",
		bare:      true,
		condition: func(*Rule, *File, *Table) string { return "true" },
		verdict:   func(*Rule, *File, Case) Verdict { return Allows },
	},
	RuleMember: {
		key:       "member",
		condition: (*Rule).memberCondition,
		verdict: func(r *Rule, f *File, c Case) Verdict {
			g := f.Group(r.Group)
			in := c.InGroups || (c.PeerOf == g.Schema+"."+g.Table && len(g.Where) == 0)
			return verdict(c.Identity && in)
		},
		callsFunction: true,
		validate:      (*decoder).validateMember,
		keys:          []string{"column", "through"},
	},
	RuleClaim: {
		key:       "claim",
		condition: func(r *Rule, f *File, _ *Table) string { return ClaimCondition(f.Auth.Claims, r.Claims) },
		verdict: func(r *Rule, _ *File, c Case) Verdict {
			ok := c.Identity
			for _, cl := range r.Claims {
				ok = ok && slices.Contains(cl.Values, c.Claims[cl.Key()])
			}
			return verdict(ok)
		},
		readsClaims:   true,
		callsFunction: true,
		validate: func(d *decoder, f *File, _ *Table, r *Rule) {
			if f.Auth.Claims == "" {
				d.at(r.Pos, "a claim rule needs the caller's claims: auth.provider none has none; set auth.claims to a SQL expression returning them as jsonb")
			}
		},
	},
	RuleSignedIn: {
		key:  "signed_in",
		bare: true,
		condition: func(_ *Rule, f *File, _ *Table) string {
			return "(SELECT " + f.Auth.UserID + ") IS NOT NULL"
		},
		verdict:       func(_ *Rule, _ *File, c Case) Verdict { return verdict(c.Identity) },
		callsFunction: true,
	},
	RuleCustom: {},
}

// bareKinds are the kinds written as a word alone, in the order errors list them.
var bareKinds = []RuleKind{RuleOwner, RuleAnyone, RuleSignedIn}

// RuleKinds returns every rule kind, sorted.
func RuleKinds() []RuleKind {
	var out []RuleKind
	for k := range ruleKinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// kindOf returns the kind whose key is key, or false.
func kindOf(key string) (RuleKind, bool) {
	for k, rk := range ruleKinds {
		if rk.key != "" && rk.key == key {
			return k, true
		}
	}
	return "", false
}

// RequiresIdentity reports whether r lets a caller through only when it has an identity
// (owner, member, claim and signed_in rules): its roles are the roles signed-in callers
// use.
func (r *Rule) RequiresIdentity() bool { return ruleKinds[r.Kind].callsFunction }

// ReadsClaims reports whether r's policies call the claims function.
func (r *Rule) ReadsClaims() bool { return ruleKinds[r.Kind].readsClaims }
