package policy

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestBoolValueAgreesWithYAML holds boolValue's shortcut to what yaml.v3 decodes, for
// every spelling a !!bool scalar can have, tagged or not.
func TestBoolValueAgreesWithYAML(t *testing.T) {
	for _, text := range []string{"true", "True", "TRUE", "false", "False", "FALSE", "tRUE", "yes", "on", "y", "1", `"true"`, "''"} {
		for _, src := range []string{"v: " + text, "v: !!bool " + text} {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
				continue // not YAML: nothing to agree on
			}
			n := doc.Content[0].Content[1]
			if n.Tag != "!!bool" {
				continue
			}
			var want bool
			wantErr := n.Decode(&want)
			got, err := boolValue(n)
			if (err != nil) != (wantErr != nil) || got != want {
				t.Errorf("%s: boolValue = %v, %v; yaml.v3 decodes %v, %v", src, got, err, want, wantErr)
			}
		}
	}
}
