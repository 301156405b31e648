package policy

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestReferenceNamesEveryKey holds docs/schema.md to the loader: its reference block
// names every key of every mapping in Format, so a key added to the format is a key
// documented.
func TestReferenceNamesEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "schema.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(data)
	if m == nil {
		t.Fatal("docs/schema.md has no yaml block")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(m[1], &root); err != nil {
		t.Fatalf("docs/schema.md's reference block is not YAML: %v", err)
	}
	named := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i < len(n.Content); i += 2 {
				named[n.Content[i].Value] = true
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	for mapping, keys := range Format {
		for _, k := range keys {
			if !named[k] {
				t.Errorf("docs/schema.md's reference does not show key %q of %s", k, mapping)
			}
		}
	}
}
