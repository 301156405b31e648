// Package pull writes schema.yaml from a database's schema as inspect reads it: tables,
// columns, keys, indexes, grants, the object kinds package objects describes, and each
// policy read back, from its parse tree, as the rule it means (owner, signed_in, anyone,
// member, claim) or else as a custom rule with its exact conditions. It knows nothing
// of connections: it turns one schema.Schema into a file and a list of findings.
package pull

import (
	"bytes"
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Finding is one thing the report says about a pulled object.
type Finding struct {
	// Kind is "rule" (a policy read back as a built-in rule), "custom" (kept as a
	// custom rule), "faster" (a rule whose generated form replaces the policy's slower
	// one), "not expressed" (left out of schema.yaml) or "note".
	Kind   string
	Object string // what it concerns: public.todos policy todos_select, ...
	Text   string
}

// Finding kinds.
const (
	FindRule    = "rule"
	FindCustom  = "custom"
	FindFaster  = "faster"
	FindLeftOut = "not expressed"
	FindNote    = "note"
)

// Result is a pulled schema.yaml and what the report says of it.
type Result struct {
	YAML     []byte
	File     *policy.File // YAML as loaded
	Findings []Finding
}

// Input is what pull reads.
type Input struct {
	Schema *schema.Schema
	// Provider is the identity provider the database shows: supabase, pg_session_jwt
	// or claims ("" is pg_session_jwt).
	Provider string
	// External are the tables Externals names, with every column and the primary key.
	External []*schema.Table
	// Owners are the roles that own the tables (the migration role): never declared.
	Owners []string
}

// Pull returns the schema.yaml that describes in.Schema. Should the rules it reads make
// a file that does not compile (a form read back wrongly), it reads every policy as a
// custom rule instead, which keeps its SQL as it is, and says why in the report.
func Pull(in Input) (*Result, error) {
	res, err := pull(in, false)
	if err == nil {
		return res, nil
	}
	res, err2 := pull(in, true)
	if err2 != nil {
		return nil, err
	}
	res.Findings = append(res.Findings, Finding{Kind: FindNote, Object: "schema.yaml",
		Text: "every policy is kept as a custom rule: reading them as built-in rules made a file that does not compile (please report it): " + err.Error()})
	return res, nil
}

// pull is Pull, reading policies as built-in rules unless customOnly.
func pull(in Input, customOnly bool) (*Result, error) {
	p := newPuller(in)
	p.customOnly = customOnly
	p.build()
	// Each pass compiles the file as it stands and writes what it must say for the
	// compiled schema to match the database (a policy or index named otherwise than
	// rlsmigrate names it, grants other than the derived ones), until nothing changes.
	for pass := 0; ; pass++ {
		data, f, compiled, err := p.compile()
		if err != nil {
			return nil, err
		}
		if pass == 3 || !p.adjust(compiled) {
			return &Result{YAML: data, File: f, Findings: p.findings}, nil
		}
	}
}

// compile writes the file as it stands, reads it back and compiles it.
func (p *puller) compile() ([]byte, *policy.File, *schema.Schema, error) {
	data, err := p.encode()
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := policy.Parse("schema.yaml", data)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pull wrote a schema.yaml it cannot read back (please report it): %w", err)
	}
	compiled, err := compile.Compile(f)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pull wrote a schema.yaml that does not compile (please report it): %w", err)
	}
	return data, f, compiled, nil
}

// puller holds the file as it is built.
type puller struct {
	in       Input
	s        *schema.Schema
	auth     authInfo
	groups   []*group
	throughs []*group // the through functions, each of a group of groups
	tables   []*table
	findings []Finding
	found    map[Finding]bool
	// customOnly reads every policy as a custom rule (see Pull).
	customOnly bool
	// cache parses each distinct fragment once: most tables' policies share their text.
	cache *sqlparse.Cache
}

func newPuller(in Input) *puller {
	p := &puller{in: in, s: in.Schema, cache: &sqlparse.Cache{}, found: map[Finding]bool{}}
	p.auth = detectAuth(in, p.cache)
	return p
}

// find adds a finding to the report, once: every pass writes the file anew.
func (p *puller) find(kind, object, format string, args ...any) {
	f := Finding{Kind: kind, Object: object, Text: fmt.Sprintf(format, args...)}
	if !p.found[f] {
		p.found[f] = true
		p.findings = append(p.findings, f)
	}
}

// forget takes back the findings after the first n.
func (p *puller) forget(n int) {
	for _, f := range p.findings[n:] {
		delete(p.found, f)
	}
	p.findings = p.findings[:n]
}

// build reads the schema into tables, groups and objects.
func (p *puller) build() {
	p.readGroups()
	for _, t := range p.s.Tables {
		p.tables = append(p.tables, p.table(t))
	}
	p.declareGrants()
}

// encode writes the file as it stands.
func (p *puller) encode() ([]byte, error) {
	root := mapping(false)
	root.set("version", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(policy.Version)})
	root.set("auth", p.auth.node(p.roles()))
	if len(p.groups) > 0 {
		gs := mapping(false)
		for _, g := range p.groups {
			gs.set(g.name, g.node())
		}
		root.set("groups", gs.n)
	}
	for _, k := range schemaKinds {
		if items := k.nodes(p); len(items) > 0 {
			root.set(k.key, sequence(items))
		}
	}
	var tables []*yaml.Node
	for _, t := range p.tables {
		tables = append(tables, t.node())
	}
	root.set("tables", sequence(tables))
	var buf bytes.Buffer
	buf.WriteString("# schema.yaml written by rlsmigrate pull from a live database: review it, then\n# run rlsmigrate generate (see the pull report for what the next migration changes).\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root.n); err != nil {
		return nil, fmt.Errorf("writing schema.yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("writing schema.yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// roles returns the roles policies and grants name, but PUBLIC and the tables' owners.
func (p *puller) roles() []string {
	var out []string
	add := func(rs ...string) {
		for _, r := range rs {
			if r != "public" && !slices.Contains(p.in.Owners, r) && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	for _, t := range p.tables {
		for _, r := range t.rules {
			add(r.to...)
		}
		for _, g := range t.declaredGrants {
			add(g.Role)
		}
	}
	for _, g := range p.groups {
		add(g.execute...)
	}
	for _, k := range schemaKinds {
		add(k.roles(p)...)
	}
	slices.Sort(out)
	return out
}

// authInfo is the identity the database shows.
type authInfo struct {
	provider string
	userID   string // the identity call
	// userIDSet: userID is not the provider's own, so the file says it.
	userIDSet bool
	userIDs   []string // the spellings of userID to try, the one in use first
	claims    string   // the claims call, or ""
}

// detectAuth reads the provider: Supabase (auth.uid() and its roles), or else
// pg_session_jwt (its functions, or rlsmigrate's stand-ins of them); and the identity
// expression the policies compare rows with, when it is the provider's identity
// function cast to another type ("(auth.user_id())::uuid").
func detectAuth(in Input, cache *sqlparse.Cache) authInfo {
	a := authInfo{provider: in.Provider, userID: policy.DefaultUserID, claims: "auth.session()"}
	if in.Provider == "" {
		a.provider = "pg_session_jwt"
	}
	if in.Provider == "supabase" {
		a = authInfo{provider: "supabase", userID: policy.SupabaseUserID, claims: policy.SupabaseClaims}
	}
	counts := map[string]int{}
	var calls []string
	for _, call := range identityCalls(in.Schema, cache) {
		if e, err := cache.Expr(call); err == nil && !sqlparse.Equivalent(call, a.userID) && e.CastOf(a.userID) {
			if counts[call] == 0 {
				calls = append(calls, call)
			}
			counts[call]++
		}
	}
	best := ""
	for _, c := range calls {
		if best == "" || counts[c] > counts[best] {
			best = c
		}
	}
	if best != "" {
		// A group function's body holds the expression as schema.yaml spelled it, and
		// is compared as text: PostgreSQL's spelling of a cast comes first, then the
		// parser's (adjust takes the next when the bodies differ).
		e, _ := sqlparse.ParseExpr(best)
		arg, typ, _ := e.CastParts()
		a.userIDs = []string{"(" + arg + ")::" + typ, best}
		a.userID, a.userIDSet = a.userIDs[0], true
	}
	return a
}

// identityCalls returns the calls the policies of s compare a column with, or test
// for NULL, and those the group functions of schema rls compare their user column
// with.
func identityCalls(s *schema.Schema, cache *sqlparse.Cache) []string {
	var out []string
	add := func(e *sqlparse.Expr) {
		if it, ok := e.IdentityTest(); ok {
			out = append(out, it.Call)
		} else if call, ok := e.NotNullCall(); ok {
			out = append(out, call)
		}
	}
	for _, t := range s.Tables {
		for _, pol := range t.Policies {
			for _, cond := range []string{pol.Using, pol.Check} {
				if e, err := cache.Expr(cond); err == nil {
					add(e.Conjuncts()[0])
				}
			}
		}
	}
	for _, f := range s.Routines {
		if cs, ok := returnedSet(f); ok && len(cs.Where) > 0 {
			add(cs.Where[0])
		}
	}
	return out
}

// node returns the auth mapping, with the roles where they differ from the provider's.
func (a authInfo) node(roles []string) *yaml.Node {
	m := mapping(false)
	m.setStr("provider", a.provider)
	if a.userIDSet {
		m.setStr("user_id", a.userID)
	}
	def := []string{policy.DefaultRole, "anonymous"}
	if a.provider == "supabase" {
		def = []string{policy.DefaultRole, "anon"}
	}
	if len(roles) == 0 {
		roles = []string{policy.DefaultRole}
	}
	if !sameSet(roles, def) {
		m.set("roles", list(roles))
	}
	return m.n
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// qualified returns schema.name, unquoted, for findings.
func qualified(schemaName, name string) string { return schemaName + "." + name }

// setSchema writes m's schema key, which schema.yaml leaves out for public.
func setSchema(m node, schemaName string) {
	if schemaName != "public" {
		m.setStr("schema", schemaName)
	}
}

// generatedName returns the name rlsmigrate gives an object of table named by parts.
func generatedName(table string, parts ...string) string {
	return sqlident.Name(append([]string{table}, parts...)...)
}
