package pull

import (
	"slices"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestPullWritesEveryKind fails when package objects holds a kind that pull neither
// writes (tableKinds, schemaKinds) nor says it leaves out (notPulled): a new kind must
// be read back too.
func TestPullWritesEveryKind(t *testing.T) {
	for _, k := range objects.Kinds {
		written := slices.ContainsFunc(tableKinds, func(tk tableKind) bool { return tk.kind == k.Name }) ||
			slices.ContainsFunc(schemaKinds, func(sk schemaKind) bool { return slices.Contains(sk.kinds, k.Name) })
		if _, left := notPulled[k.Name]; written == left {
			t.Errorf("object kind %s: written by pull %v, listed in notPulled %v; want exactly one", k.Name, written, left)
		}
	}
}

// TestClaimNameReadsBack: the names pull writes for claim paths read back as the same
// path (dots and double quotes inside a key are quoted).
func TestClaimNameReadsBack(t *testing.T) {
	for _, path := range [][]string{{"role"}, {"app_metadata", "role"}, {"https://example.com/role"}, {`a"b`, "c.d"}} {
		name := claimName(path)
		if got, problem := policy.ClaimPath(name); problem != "" || !slices.Equal(got, path) {
			t.Errorf("claimName(%q) = %q, which reads back as %q (%s)", path, name, got, problem)
		}
	}
}

// TestStringsReadBack: every string pull writes reads back as itself, whatever its
// lines and spaces (a function body starting with an empty line, then an indented one,
// lost its indentation in a literal block).
func TestStringsReadBack(t *testing.T) {
	for _, s := range []string{"\n  SELECT 1\n", "BEGIN\n  RETURN NEW;\nEND", "  lead", "trail  ", "a\n\n\nb", "\n\n  x", "\t\ty\n", "true", "50", "- x", "#c", "a: b", "\r\nx", "é\u2028f", strings.Repeat("long ", 20)} {
		n := str(s)
		if !readsBack(n) {
			t.Errorf("%q written as %v does not read back", s, n.Style)
		}
	}
}
