package policy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestFastReadingAgrees reads pieces of tables in the forms the fast reader reads and
// in forms it must leave to yaml.v3: what it reads must be yaml.v3's tree, and it must
// read what it is meant to (a reader that declined everything would agree too).
func TestFastReadingAgrees(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		read       bool
	}{
		{"readme table", `  - name: todos
    columns:
      - {name: id, type: bigint, identity: by default, primary_key: true}
      - {name: user_id, type: text, not_null: true, default: auth.user_id()}
      - {name: is_complete, type: boolean, not_null: true, default: "false"}
    owner: user_id
    policies: owner
`, true},
		{"block columns and comments", `# a table
- name: notes   # trailing
  columns:
    # the key
    - name: id
      type: uuid

    - name: body
      type: text
      default: ''''
  policies:
    select: owner
    insert: [owner, member]
`, true},
		{"scalars of every tag", `- a: 1
  b: -2
  c: 0x1f
  d: 1.5
  e: .inf
  f: ~
  g: null
  h: true
  i: False
  j: yes
  k: 2001-12-14
  l: <<
  m: +1
  n: 1_000
  o: on
`, true},
		{"quotes and escapes", `- a: "say \"hi\" \\ \n \t"
  b: 'it''s'
  c: "#not a comment"
  d: 'x' # a comment
  e: ""
  f: ''
`, true},
		{"flow forms", `- {a: [1, 2, [3]], b: {c: d}, e: [], f: {}}
- [x, 'y', "z", {k: v}]
- {default: now()::text, t: numeric(10}
`, true},
		{"plain scalars with indicators inside", `- a: x:y
  b: a#b
  c: a, b [c] {d}
  d: -x
  e: key: value`, false},
		{"unicode columns", "- {name: café, type: text}\n- {name: 日本, type: \"ü\"}\n", true},
		{"crlf", "- name: a\r\n  type: text\r\n", true},
		{"ends without a line break", "- name: a\n  type: text", true},
		{"top-level list at column 0", "- a\n- b\n-   c   # x\n", true},
		{"nested lists", "- -  a\n", false},
		{"dash alone then mapping", "-\n  name: a\n", true},
		{"anchor", "- &a {name: a}\n- *a\n", false},
		{"tag", "- !!str 1\n", false},
		{"block scalar", "- a: |\n    text\n", false},
		{"multi-line plain", "- a: one\n    two\n", false},
		{"multi-line quoted", "- a: 'one\n    two'\n", false},
		{"multi-line flow", "- {a: 1,\n   b: 2}\n", false},
		{"empty value", "- a:\n  b: 1\n", false},
		{"indentless list", "- a:\n  - 1\n", false},
		{"tab", "- a:\tb\n", false},
		{"other escape", `- a: "\u00e9"` + "\n", false},
		{"quoted key", "- 'a': b\n", false},
		{"spaced key", "- a : b\n", false},
		{"trailing comma", "- [a, b,]\n", false},
		{"flow pair in a list", "- [a: b]\n", false},
		{"question mark in flow", "- [a?b]\n", false},
		{"colon before a flow indicator", "- {a: b:}\n", true},
		{"long flow key", "- {" + strings.Repeat("k", 1100) + ": v}\n", false},
		{"long block key", "- " + strings.Repeat("k", 1100) + ": v\n", false},
		{"flow opened at the line's end", "- {\n", false},
		{"slash escape", `- a: "\/"` + "\n", false},
		{"not UTF-8", "- a\xff\n", false},
		{"junk after a quote", `- "a"b` + "\n", false},
		{"comment without a space after a quote", `- "a"#b` + "\n", false},
		{"more indented line", "- a\n   b\n", false},
		{"line separator", "- a\u2028b\n", false},
		{"byte-order mark", "\ufeff- a\n", false},
		{"lone carriage return", "- a\rb\n", false},
		{"a mapping value in a plain scalar", "- a: b: c\n", false},
		{"directive-like", "- %x\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read, d := policy.FastReadingDiffers([]byte(tc.text))
			if d != "" {
				t.Fatalf("the fast reading differs from yaml.v3's (-yaml.v3 +fast):\n%s", d)
			}
			if read != tc.read {
				t.Errorf("read by the fast reader: %v, want %v", read, tc.read)
			}
		})
	}
}

// TestFastReadingCorpus reads every piece of every schema.yaml in the repository both
// ways; most must be read fast.
func TestFastReadingCorpus(t *testing.T) {
	files := corpus()
	pieces, fast := 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		p, f := readPiecesBothWays(t, file, data)
		pieces, fast = pieces+p, fast+f
	}
	t.Logf("%d files, %d pieces, %d read fast", len(files), pieces, fast)
	if pieces < 100 || fast < pieces*3/4 {
		t.Errorf("%d of %d pieces read fast: the corpus no longer tests the fast reader", fast, pieces)
	}
}

// readPiecesBothWays reads each piece of data's tables fast and by yaml.v3, reporting
// where a tree differs; it returns how many pieces there were and how many were read
// fast.
func readPiecesBothWays(t *testing.T, where string, data []byte) (pieces, fast int) {
	t.Helper()
	for _, p := range policy.TablePieces(data) {
		pieces++
		read, d := policy.FastReadingDiffers(p)
		if d != "" {
			t.Errorf("%s: the fast reading differs from yaml.v3's (-yaml.v3 +fast):\n%s", where, d)
		}
		if read {
			fast++
		}
	}
	return pieces, fast
}

// FuzzFastReading holds that whatever the fast reader reads, yaml.v3 reads as the same
// tree.
func FuzzFastReading(f *testing.F) {
	files, _ := filepath.Glob("../internal/cli/testdata/*/*/steps/*.yaml")
	for _, file := range files[:min(len(files), 40)] {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range policy.TablePieces(data) {
			f.Add(p)
		}
	}
	f.Add([]byte("- {a: [1, 'b', \"c\"], d: e f}\n-\n  g: h # i\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		if _, d := policy.FastReadingDiffers(text); d != "" {
			t.Fatalf("the fast reading differs from yaml.v3's (-yaml.v3 +fast):\n%s", d)
		}
	})
}

// TestGeneratedFilesReadAlike reads files the convergence generator writes (JSON, block
// style, and block style with one-line items, by seed) in pieces and whole, and each
// piece fast and by yaml.v3: random schemas in the forms people write.
func TestGeneratedFilesReadAlike(t *testing.T) {
	files, pieces, fast := 0, 0, 0
	for seed := uint64(1); seed <= 21; seed++ {
		g := schemagen.New(seed)
		s := g.Schema()
		for range 12 {
			data := []byte(s.YAML())
			files++
			if d := policy.ReadingsDiffer(data); d != "" {
				t.Fatalf("seed %d: %s\n%s", seed, d, data)
			}
			p, f := readPiecesBothWays(t, fmt.Sprintf("seed %d", seed), data)
			pieces, fast = pieces+p, fast+f
			if next, what := g.Step(s); what != "" {
				s = next
			}
		}
	}
	t.Logf("%d files, %d pieces, %d read fast", files, pieces, fast)
	if pieces < files/2 || fast < pieces/2 {
		t.Errorf("%d files, %d pieces, %d read fast: the generator no longer writes the forms read in pieces", files, pieces, fast)
	}
}
