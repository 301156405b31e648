package migdir

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// stateFormat is the version of the state file layout that this file defines. The layout
// is its own: the types below, not the model's, so renaming a field of schema.Schema does
// not change what is written, and a change to what is written is a new format. Format 2
// is format 1 with the columns and policy rules that tables repeat written once (see
// share); both are read.
const stateFormat = 2

// State is what the migrations directory builds, as recorded when it was last written.
type State struct {
	Files  []FileSum
	Schema *schema.Schema
	// Source identifies the schema.yaml that Schema was compiled from and the
	// rlsmigrate that compiled it (see generate's fingerprint); "" when unknown.
	Source string
}

// FileSum is one migration file and the SHA-256 of its content.
type FileSum struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// The state file, format 1.
type (
	savedState struct {
		Format int          `json:"format"`
		Source string       `json:"source,omitempty"`
		Files  []FileSum    `json:"files"`
		Schema *savedSchema `json:"schema"`
	}
	// savedHeader is a state file without its schema, which Unchanged needs not decode.
	savedHeader struct {
		Format int       `json:"format"`
		Source string    `json:"source,omitempty"`
		Files  []FileSum `json:"files"`
	}
	savedSchema struct {
		Auth        *savedAuth          `json:"auth,omitempty"`
		Roles       []string            `json:"roles"`
		Functions   []string            `json:"functions,omitempty"`
		Schemas     []string            `json:"schemas"`
		SchemaUsage map[string][]string `json:"schema_usage,omitempty"`
		Tables      []*savedTable       `json:"tables"`
		Routines    []*savedFunction    `json:"routines,omitempty"`
		Objects     []*savedObject      `json:"objects,omitempty"`
		// ColumnPool and RulePool hold, in format 2, the columns and policy rules that
		// tables name by their index.
		ColumnPool []*savedColumn `json:"column_pool,omitempty"`
		RulePool   []*savedRule   `json:"rule_pool,omitempty"`
	}
	// savedRule is what a policy says, apart from its name: the same in many tables.
	savedRule struct {
		Command     string   `json:"command"`
		Restrictive bool     `json:"restrictive,omitempty"`
		Roles       []string `json:"roles"`
		Using       string   `json:"using,omitempty"`
		Check       string   `json:"check,omitempty"`
	}
	// savedPolicyRef is a policy of format 2: its name, and its rule in the pool.
	savedPolicyRef struct {
		Name        string `json:"name"`
		RenamedFrom string `json:"renamed_from,omitempty"`
		Rule        int    `json:"rule"`
	}
	savedAuth struct {
		Provider string `json:"provider"`
		UserID   string `json:"user_id"`
	}
	savedTable struct {
		Schema      string           `json:"schema"`
		Name        string           `json:"name"`
		RenamedFrom string           `json:"renamed_from,omitempty"`
		Columns     []*savedColumn   `json:"columns,omitempty"`
		ColumnRefs  []int            `json:"column_refs,omitempty"` // format 2: indexes into the column pool
		PrimaryKey  []string         `json:"primary_key,omitempty"`
		PKName      string           `json:"primary_key_name,omitempty"`
		RLS         bool             `json:"rls"`
		ForceRLS    bool             `json:"force_rls"`
		Policies    []*savedPolicy   `json:"policies,omitempty"`
		PolicyRefs  []savedPolicyRef `json:"policy_refs,omitempty"` // format 2
		Indexes     []*savedIndex    `json:"indexes,omitempty"`
		Grants      []*savedGrant    `json:"grants,omitempty"`
		Owner       string           `json:"owner,omitempty"`
		Comment     string           `json:"comment,omitempty"`
		Objects     []*savedObject   `json:"objects,omitempty"`
	}
	// savedObject is an object of a kind package objects describes.
	savedObject struct {
		Kind   string            `json:"kind"`
		Schema string            `json:"schema"`
		Table  string            `json:"table,omitempty"`
		Name   string            `json:"name"`
		Attrs  map[string]string `json:"attrs,omitempty"`
		Items  []string          `json:"items,omitempty"`
	}
	savedColumn struct {
		Name        string           `json:"name"`
		Type        string           `json:"type"`
		NotNull     bool             `json:"not_null,omitempty"`
		Default     string           `json:"default,omitempty"`
		Identity    string           `json:"identity,omitempty"`
		Unique      bool             `json:"unique,omitempty"`
		UniqueName  string           `json:"unique_name,omitempty"`
		References  *savedForeignKey `json:"references,omitempty"`
		RenamedFrom string           `json:"renamed_from,omitempty"`
		Comment     string           `json:"comment,omitempty"`
		Generated   string           `json:"generated,omitempty"`
	}
	savedForeignKey struct {
		Name     string `json:"name,omitempty"`
		Schema   string `json:"schema"`
		Table    string `json:"table"`
		Column   string `json:"column"`
		OnDelete string `json:"on_delete,omitempty"`
	}
	savedPolicy struct {
		Name        string   `json:"name"`
		RenamedFrom string   `json:"renamed_from,omitempty"`
		Command     string   `json:"command"`
		Restrictive bool     `json:"restrictive,omitempty"`
		Roles       []string `json:"roles"`
		Using       string   `json:"using,omitempty"`
		Check       string   `json:"check,omitempty"`
	}
	savedIndex struct {
		Name        string   `json:"name"`
		RenamedFrom string   `json:"renamed_from,omitempty"`
		Columns     []string `json:"columns"`
		Unique      bool     `json:"unique,omitempty"`
	}
	savedGrant struct {
		Role       string              `json:"role"`
		Privileges []string            `json:"privileges"`
		Columns    map[string][]string `json:"columns,omitempty"`
	}
	savedFunction struct {
		Schema          string   `json:"schema"`
		Name            string   `json:"name"`
		Returns         string   `json:"returns"`
		Language        string   `json:"language"`
		Volatility      string   `json:"volatility"`
		SecurityDefiner bool     `json:"security_definer,omitempty"`
		Settings        []string `json:"settings,omitempty"`
		Body            string   `json:"body"`
		Execute         []string `json:"execute,omitempty"`
	}
)

// decodeState reads a state file's content; path names it in errors.
func decodeState(path string, data []byte) (*State, error) {
	var saved savedState
	if err := json.Unmarshal(data, &saved); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if saved.Format != 1 && saved.Format != stateFormat {
		return nil, fmt.Errorf("%s has format %d; this rlsmigrate reads formats 1 and %d", path, saved.Format, stateFormat)
	}
	if err := saved.Schema.unshare(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &State{Files: saved.Files, Schema: saved.Schema.model(), Source: saved.Source}, nil
}

// encodeState writes st in the current format to w.
func encodeState(w io.Writer, st *State) error {
	files := st.Files
	if files == nil {
		files = []FileSum{}
	}
	saved := saveSchema(st.Schema)
	saved.share()
	// An Encoder writes what Marshal returns, and a newline, without copying it.
	if err := json.NewEncoder(w).Encode(savedState{Format: stateFormat, Source: st.Source, Files: files, Schema: saved}); err != nil {
		return fmt.Errorf("encoding migration state: %w", err)
	}
	return nil
}

// share writes each column and policy rule of s's tables once, in the pools, and the
// tables' columns and policies as indexes into them: an app's tables repeat their id,
// owner and timestamp columns and their owner policies.
func (s *savedSchema) share() {
	if s == nil {
		return
	}
	columns, rules := map[columnKey]int{}, map[ruleKey]int{}
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			t.ColumnRefs = append(t.ColumnRefs, pooled(&s.ColumnPool, columns, c, keyOfColumn(c)))
		}
		for _, p := range t.Policies {
			r := &savedRule{p.Command, p.Restrictive, p.Roles, p.Using, p.Check}
			t.PolicyRefs = append(t.PolicyRefs, savedPolicyRef{p.Name, p.RenamedFrom, pooled(&s.RulePool, rules, r, keyOfRule(r))})
		}
		t.Columns, t.Policies = nil, nil
	}
}

// pooled returns the index of v, whose key is key, in pool, adding it when the pool
// holds no value of that key; index maps each pooled value's key to its place.
func pooled[T any, K comparable](pool *[]T, index map[K]int, v T, key K) int {
	i, ok := index[key]
	if !ok {
		i = len(*pool)
		index[key] = i
		*pool = append(*pool, v)
	}
	return i
}

// columnKey is what a pooled column is: every field of a savedColumn, its foreign
// key's by value. A field savedColumn gains is in it, or, if it cannot be compared,
// stops this from compiling.
type columnKey struct {
	c     savedColumn // References cleared
	fk    savedForeignKey
	hasFK bool
}

// keyOfColumn returns c's key in the column pool.
func keyOfColumn(c *savedColumn) columnKey {
	k := columnKey{c: *c}
	if c.References != nil {
		k.c.References, k.fk, k.hasFK = nil, *c.References, true
	}
	return k
}

// ruleKey is what a pooled rule is: every field of a savedRule, the roles joined by
// a NUL, which no role name holds, and whether they are nil, which encodes as null
// (TestPoolKeysTellEveryFieldApart holds it whole).
type ruleKey struct {
	command     string
	restrictive bool
	roles       string
	noRoles     bool
	using       string
	check       string
}

// keyOfRule returns r's key in the rule pool.
func keyOfRule(r *savedRule) ruleKey {
	return ruleKey{r.Command, r.Restrictive, strings.Join(r.Roles, "\x00"), r.Roles == nil, r.Using, r.Check}
}

// unshare puts the pooled columns and policy rules back in s's tables.
func (s *savedSchema) unshare() error {
	if s == nil {
		return nil
	}
	for _, t := range s.Tables {
		for _, i := range t.ColumnRefs {
			if i < 0 || i >= len(s.ColumnPool) {
				return fmt.Errorf("table %s names column %d of %d in the pool", t.Name, i, len(s.ColumnPool))
			}
			c := *s.ColumnPool[i]
			t.Columns = append(t.Columns, &c)
		}
		for _, ref := range t.PolicyRefs {
			if ref.Rule < 0 || ref.Rule >= len(s.RulePool) {
				return fmt.Errorf("table %s names policy rule %d of %d in the pool", t.Name, ref.Rule, len(s.RulePool))
			}
			r := s.RulePool[ref.Rule]
			t.Policies = append(t.Policies, &savedPolicy{ref.Name, ref.RenamedFrom, r.Command, r.Restrictive, r.Roles, r.Using, r.Check})
		}
		t.ColumnRefs, t.PolicyRefs = nil, nil
	}
	s.ColumnPool, s.RulePool = nil, nil
	return nil
}

// Show returns the content of state file path as format 1 writes it, every pooled
// column and rule in its table, indented: what the migrations build, for review.
func Show(path string, data []byte) ([]byte, error) {
	st, err := decodeState(path, data)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(struct {
		Source string       `json:"source,omitempty"`
		Files  []FileSum    `json:"files"`
		Schema *savedSchema `json:"schema"`
	}{st.Source, st.Files, saveSchema(st.Schema)}, "", "  ")
}

func saveSchema(s *schema.Schema) *savedSchema {
	if s == nil {
		return nil
	}
	out := &savedSchema{Roles: s.Roles, Functions: s.Functions, Schemas: s.Schemas, SchemaUsage: s.SchemaUsage}
	if s.Auth != nil {
		out.Auth = &savedAuth{Provider: s.Auth.Provider, UserID: s.Auth.UserID}
	}
	out.Tables = each(s.Tables, saveTable)
	out.Routines = each(s.Routines, func(f *schema.Function) *savedFunction {
		return &savedFunction{f.Schema, f.Name, f.Returns, f.Language, f.Volatility, f.SecurityDefiner, f.Settings, f.Body, f.Execute}
	})
	out.Objects = saveObjects(s.Objects)
	return out
}

func saveObjects(objs []*schema.Object) []*savedObject {
	return each(objs, func(o *schema.Object) *savedObject {
		return &savedObject{o.Kind, o.Schema, o.Table, o.Name, o.Attrs, o.Items}
	})
}

func objectsOf(saved []*savedObject) []*schema.Object {
	return each(saved, func(o *savedObject) *schema.Object {
		return &schema.Object{Kind: o.Kind, Schema: o.Schema, Table: o.Table, Name: o.Name, Attrs: o.Attrs, Items: o.Items}
	})
}

func saveTable(t *schema.Table) *savedTable {
	return &savedTable{
		Schema: t.Schema, Name: t.Name, RenamedFrom: t.RenamedFrom, PrimaryKey: t.PrimaryKey, PKName: t.PKName,
		RLS: t.RLS, ForceRLS: t.ForceRLS, Owner: t.Owner, Comment: t.Comment,
		Columns: each(t.Columns, func(c *schema.Column) *savedColumn {
			sc := &savedColumn{c.Name, c.Type, c.NotNull, c.Default, c.Identity, c.Unique, c.UniqueName, nil, c.RenamedFrom, c.Comment, c.Generated}
			if fk := c.References; fk != nil {
				sc.References = &savedForeignKey{fk.Name, fk.Schema, fk.Table, fk.Column, fk.OnDelete}
			}
			return sc
		}),
		Policies: each(t.Policies, func(p *schema.Policy) *savedPolicy {
			return &savedPolicy{p.Name, p.RenamedFrom, p.Command, p.Restrictive, p.Roles, p.Using, p.Check}
		}),
		Indexes: each(t.Indexes, func(ix *schema.Index) *savedIndex {
			return &savedIndex{ix.Name, ix.RenamedFrom, ix.Columns, ix.Unique}
		}),
		Grants:  each(t.Grants, func(g *schema.Grant) *savedGrant { return &savedGrant{g.Role, g.Privileges, g.Columns} }),
		Objects: saveObjects(t.Objects),
	}
}

// model returns the schema s records; an empty one for a state without a schema.
func (s *savedSchema) model() *schema.Schema {
	if s == nil {
		return &schema.Schema{}
	}
	out := &schema.Schema{Roles: s.Roles, Functions: s.Functions, Schemas: s.Schemas, SchemaUsage: s.SchemaUsage}
	if s.Auth != nil {
		out.Auth = &schema.Auth{Provider: s.Auth.Provider, UserID: s.Auth.UserID}
	}
	out.Tables = each(s.Tables, (*savedTable).model)
	out.Routines = each(s.Routines, func(f *savedFunction) *schema.Function {
		return &schema.Function{Schema: f.Schema, Name: f.Name, Returns: f.Returns, Language: f.Language, Volatility: f.Volatility,
			SecurityDefiner: f.SecurityDefiner, Settings: f.Settings, Body: f.Body, Execute: f.Execute}
	})
	out.Objects = objectsOf(s.Objects)
	return out
}

func (t *savedTable) model() *schema.Table {
	return &schema.Table{
		Schema: t.Schema, Name: t.Name, RenamedFrom: t.RenamedFrom, PrimaryKey: t.PrimaryKey, PKName: t.PKName,
		RLS: t.RLS, ForceRLS: t.ForceRLS, Owner: t.Owner, Comment: t.Comment,
		Columns: each(t.Columns, func(c *savedColumn) *schema.Column {
			mc := &schema.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull, Default: c.Default, Identity: c.Identity,
				Unique: c.Unique, UniqueName: c.UniqueName, RenamedFrom: c.RenamedFrom, Comment: c.Comment, Generated: c.Generated}
			if fk := c.References; fk != nil {
				mc.References = &schema.ForeignKey{Name: fk.Name, Schema: fk.Schema, Table: fk.Table, Column: fk.Column, OnDelete: fk.OnDelete}
			}
			return mc
		}),
		Policies: each(t.Policies, func(p *savedPolicy) *schema.Policy {
			return &schema.Policy{Name: p.Name, RenamedFrom: p.RenamedFrom, Command: p.Command, Restrictive: p.Restrictive,
				Roles: p.Roles, Using: p.Using, Check: p.Check}
		}),
		Indexes: each(t.Indexes, func(ix *savedIndex) *schema.Index {
			return &schema.Index{Name: ix.Name, RenamedFrom: ix.RenamedFrom, Columns: ix.Columns, Unique: ix.Unique}
		}),
		Grants: each(t.Grants, func(g *savedGrant) *schema.Grant {
			return &schema.Grant{Role: g.Role, Privileges: g.Privileges, Columns: g.Columns}
		}),
		Objects: objectsOf(t.Objects),
	}
}

// each maps f over in; nil stays nil, as the model and the file both tell "none" that way.
func each[A, B any](in []A, f func(A) B) []B {
	if in == nil {
		return nil
	}
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}
