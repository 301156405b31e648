package policy

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse reads a schema.yaml of 1,000 tables of the README's shape.
func BenchmarkParse(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("version: 1\ntables:\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, `  - name: todos_%d
    columns:
      - {name: id, type: bigint, identity: by default, primary_key: true}
      - {name: user_id, type: text, not_null: true, default: auth.user_id()}
      - {name: task, type: text, not_null: true}
      - {name: is_complete, type: boolean, not_null: true, default: "false"}
      - {name: inserted_at, type: timestamptz, not_null: true, default: now()}
    owner: user_id
    policies: owner
`, i)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("schema.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
