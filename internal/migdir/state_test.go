package migdir

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// TestCommittedStateReadsBackByteForByte: the bundled migrations' state file, written
// before the state file had a layout of its own, decodes and encodes to the same bytes.
func TestCommittedStateReadsBackByteForByte(t *testing.T) {
	path := filepath.Join("..", "..", "migrations", StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeState(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Schema.Tables) == 0 || len(st.Files) == 0 {
		t.Fatalf("decoded %d tables and %d files", len(st.Schema.Tables), len(st.Files))
	}
	again, err := encoded(st)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("re-encoded state differs from %s:\n%s", path, cmp.Diff(string(data), string(again)))
	}
}

// notRecorded are the model's fields the state file does not record: how a type change
// converts existing rows (one migration's business), a foreign key left NOT VALID (a
// database's state), whether a policy came from a built-in rule, and the external
// tables (no migration builds them).
var notRecorded = map[string]bool{"Column.Using": true, "ForeignKey.NotValid": true, "Policy.Builtin": true,
	"Schema.External": true}

// TestStateRecordsEveryField fills every field of the model with a value and round-trips
// it through the state file: a field added to the model fails here until the state
// format records it or it is listed in notRecorded.
func TestStateRecordsEveryField(t *testing.T) {
	s := &schema.Schema{}
	fill(reflect.ValueOf(s).Elem(), "")
	data, err := encoded(&State{Schema: s, Files: []FileSum{{"00001_x.sql", "00"}}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeState("state", data)
	if err != nil {
		t.Fatal(err)
	}
	clear(reflect.ValueOf(s).Elem())
	if d := cmp.Diff(s, st.Schema); d != "" {
		t.Errorf("the state file loses fields (-model +read back):\n%s", d)
	}
	for _, field := range []string{"primary_key_name", "unique_name", "on_delete", "security_definer"} {
		if !strings.Contains(string(data), `"`+field+`"`) {
			t.Errorf("format 1 writes %q", field)
		}
	}
}

// fill sets every field of v, recursively, to a value that is not its zero.
func fill(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), path)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, path)
		fill(e, path)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), v.Type().Name()+"."+v.Type().Field(i).Name)
			}
		}
	}
}

// clear zeroes the notRecorded fields of v, recursively.
func clear(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clear(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			clear(v.Index(i))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if notRecorded[v.Type().Name()+"."+f.Name] {
				v.Field(i).SetZero()
			} else if f.IsExported() {
				clear(v.Field(i))
			}
		}
	}
}

// TestReadsFormat1: a state file of format 1 (the bundled one before format 2) reads as
// the same model as it does written again in format 2.
func TestReadsFormat1(t *testing.T) {
	path := filepath.Join("testdata", "format1.state.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := decodeState(path, data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := encoded(old)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(again, []byte(`{"format":2,`)) || len(again) >= len(data) {
		t.Errorf("format 2 of %s: %d bytes, from %d:\n%.200s", path, len(again), len(data), again)
	}
	st, err := decodeState("again", again)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(old, st); diff != "" {
		t.Errorf("format 1 and format 2 read differently (-1 +2):\n%s", diff)
	}
}

// encoded returns what encodeState writes of st.
func encoded(st *State) ([]byte, error) {
	var b bytes.Buffer
	err := encodeState(&b, st)
	return b.Bytes(), err
}

// TestPoolKeysTellEveryFieldApart: two columns or two rules that differ in any one field
// (a foreign key's included) have different pool keys, so the pool never stands one for
// the other; equal ones, built apart, share a key.
func TestPoolKeysTellEveryFieldApart(t *testing.T) {
	// set gives field f of a zero value a value other than its zero.
	set := func(f reflect.Value) {
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{}))
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		default:
			t.Fatalf("field of kind %s: give the pool key a way to tell it apart", f.Kind())
		}
	}
	differ := func(name string, zero, changed any, key func(any) any) {
		if key(zero) == key(changed) {
			t.Errorf("%s: a change leaves the pool key as it was", name)
		}
	}
	columnKeyOf := func(v any) any { return keyOfColumn(v.(*savedColumn)) }
	ruleKeyOf := func(v any) any { return keyOfRule(v.(*savedRule)) }
	for i := range reflect.TypeFor[savedColumn]().NumField() {
		c := &savedColumn{}
		set(reflect.ValueOf(c).Elem().Field(i))
		differ("column field "+reflect.TypeFor[savedColumn]().Field(i).Name, &savedColumn{}, c, columnKeyOf)
	}
	for i := range reflect.TypeFor[savedForeignKey]().NumField() {
		c := &savedColumn{References: &savedForeignKey{}}
		set(reflect.ValueOf(c.References).Elem().Field(i))
		differ("foreign key field "+reflect.TypeFor[savedForeignKey]().Field(i).Name, &savedColumn{References: &savedForeignKey{}}, c, columnKeyOf)
	}
	for i := range reflect.TypeFor[savedRule]().NumField() {
		r := &savedRule{}
		set(reflect.ValueOf(r).Elem().Field(i))
		differ("rule field "+reflect.TypeFor[savedRule]().Field(i).Name, &savedRule{}, r, ruleKeyOf)
	}
	differ("rule roles", &savedRule{Roles: []string{"a", "b"}}, &savedRule{Roles: []string{"a"}}, ruleKeyOf)
	differ("rule roles", &savedRule{Roles: []string{"ab"}}, &savedRule{Roles: []string{"a", "b"}}, ruleKeyOf)
	// Equal values built apart, each with its own foreign key and roles.
	column := func() *savedColumn {
		return &savedColumn{Name: "user_id", References: &savedForeignKey{Schema: "public", Table: "users", Column: "id"}}
	}
	if a, b := column(), column(); keyOfColumn(a) != keyOfColumn(b) {
		t.Error("two equal columns, each with a foreign key of its own, have different pool keys")
	}
	rule := func() *savedRule { return &savedRule{Command: "select", Roles: []string{"authenticated"}} }
	if a, b := rule(), rule(); keyOfRule(a) != keyOfRule(b) {
		t.Error("two equal rules have different pool keys")
	}
}
