package policy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestSplitReadingAgrees reads files whose tables can be cut apart and files where the
// cut would change their meaning: each must read the same whole and in pieces, and in
// pieces exactly when the file allows it.
func TestSplitReadingAgrees(t *testing.T) {
	const todo = "  - name: todos\n    columns:\n      - {name: id, type: bigint, primary_key: true}\n      - {name: user_id, type: text}\n    owner: user_id\n    policies: owner\n"
	const head = "version: 1\ntables:\n"
	var many strings.Builder
	many.WriteString(head)
	for i := range 300 {
		many.WriteString(strings.ReplaceAll(todo, "todos", fmt.Sprintf("todos_%d", i)))
	}
	cases := []struct {
		name  string
		yaml  string
		split bool
	}{
		{"indented items", head + todo + strings.ReplaceAll(todo, "todos", "notes"), true},
		{"items at the key's indentation", head + "- name: a\n  columns: [{name: id, type: bigint}]\n- name: b\n  columns: [{name: id, type: bigint}]\n", true},
		{"many pieces", many.String(), true},
		{"many pieces, a problem in the last", many.String() + "  - name: bad\n    colums: []\n", true},
		{"keys after the tables", head + todo + "groups:\n  g: {table: todos, group: id, user: user_id}\n", true},
		{"comments and blank lines between and after the items", head + "# first\n" + todo + "\n# between, at the margin\n\n" + todo + "   # indented\n", true},
		{"a comment after the key", "version: 1\ntables:   # the app's tables\n" + todo, true},
		{"a # right after the colon", "version: 1\ntables:#x\n" + todo, false},
		{"windows line ends", strings.ReplaceAll(head+todo+todo, "\n", "\r\n"), true},
		{"no newline at the end", head + strings.TrimSuffix(todo, "\n"), true},
		{"a problem in the second table", head + todo + "  - name: bad\n    colums: []\n", true},
		{"a repeated table", head + todo + todo, true},
		{"a block scalar in a table", head + "  - name: t\n    columns: [{name: id, type: bigint}]\n    checks:\n      - name: c\n        check: |\n          id > 0\n          AND id < 10\n", true},
		{"an alias to an anchor in the same piece", head + "  - name: a\n    columns: &cols [{name: id, type: bigint}]\n  - name: b\n    columns: *cols\n", true},
		{"an alias to an anchor in another piece", head + "  - name: a\n    columns: &cols [{name: id, type: bigint}]\n" + strings.Repeat(todo, 200) + "  - name: b\n    columns: *cols\n", false},
		{"an alias to an x- key's anchor", "version: 1\nx-cols: &cols [{name: id, type: bigint}]\ntables:\n  - name: a\n    columns: *cols\n", false},
		{"a merge key from an x- key", "version: 1\nx-t: &t {columns: [{name: id, type: bigint}]}\ntables:\n  - <<: *t\n    name: a\n", false},
		{"an anchor within a table", head + "  - name: a\n    columns: [&c {name: id, type: bigint}]\n    indexes: [{columns: [id]}]\n", true},
		{"a quoted value cut at an item line", head + "  - name: a\n    comment: \"one\n  - two\"\n    columns: [{name: id, type: bigint}]\n", false},
		{"a flow list of tables", head + "  [{name: a, columns: [{name: id, type: bigint}]}]\n", false},
		{"a flow list over lines", head + "  [{name: a, columns: [{name: id, type: bigint}]},\n  {name: b, columns: [{name: id, type: bigint}]}]\n", false},
		{"tables: inside a quoted value", "version: 1\nx-note: \"a\ntables:\n  - name: a\n  \"\n", false},
		{"the key twice", head + todo + "tables:\n" + todo, false},
		{"the key quoted before it", "version: 1\n\"tables\": [{name: a, columns: [{name: id, type: bigint}]}]\ntables:\n  - name: b\n    colums: []\n", false},
		{"the key quoted after it", head + todo + "'tables': []\n", false},
		{"a directive", "%YAML 1.1\n---\n" + head + todo, true},
		{"a tag handle", "%TAG !e! tag:example.com,2000:\n---\n" + head + "  - !e!t {name: a, columns: [{name: id, type: bigint}]}\n", false},
		{"a second document after the tables", head + todo + "---\nversion: 1\n", false},
		{"a document end", head + todo + "...\n", true},
		{"tab-indented lines", head + "  - name: a\n\tcolumns: []\n", false},
		{"an empty item", head + "  -\n  - name: a\n    columns: [{name: id, type: bigint}]\n", true},
		{"an item on its own line", head + "  -\n    name: a\n    columns: [{name: id, type: bigint}]\n", true},
		{"a nested list item", head + "  - - name: a\n", true},
		{"a less indented line ends the list", head + todo + " bad: 1\n", false},
		{"a key line less indented than the items", "version: 1\nauth:\n  provider: none\ntables:\n    - name: a\n      columns: [{name: id, type: bigint}]\n  - name: b\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := []byte(c.yaml)
			if d := policy.ReadingsDiffer(data); d != "" {
				t.Fatalf("%s\n%s", d, c.yaml)
			}
			if got := policy.ReadsSplit(data); got != c.split {
				t.Errorf("read in pieces: %v, want %v", got, c.split)
			}
		})
	}
}

// corpus returns every schema.yaml the project keeps.
func corpus() []string {
	var files []string
	for _, pattern := range []string{"../schema.yaml", "../internal/cli/testdata/*/*/steps/*.yaml", "../internal/cli/testdata/*/*.yaml", "../internal/cli/testdata/*/*/*.yaml", "testdata/bad/*.yaml", "testdata/*.yaml"} {
		found, _ := filepath.Glob(pattern)
		files = append(files, found...)
	}
	return files
}

// TestSplitReadingCorpus reads every schema.yaml the project keeps both ways.
func TestSplitReadingCorpus(t *testing.T) {
	files := corpus()
	split := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if d := policy.ReadingsDiffer(data); d != "" {
			t.Errorf("%s: %s", file, d)
		}
		if policy.ReadsSplit(data) {
			split++
		}
	}
	t.Logf("%d files, %d read in pieces", len(files), split)
	if len(files) < 100 || split < len(files)/2 {
		t.Errorf("%d files, %d read in pieces: the corpus no longer tests the cut", len(files), split)
	}
}
