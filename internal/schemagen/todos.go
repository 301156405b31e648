package schemagen

import (
	"fmt"
	"strings"
)

// Todos returns a schema.yaml of n tables of the README's shape, todos_0 to todos_n-1:
// the todos table with its owner and the four ownership policies. Benchmarks size
// their work with it.
func Todos(n int) string {
	var sb strings.Builder
	sb.WriteString("version: 1\nauth:\n  provider: pg_session_jwt\n  roles: [authenticated, anonymous]\ntables:\n")
	for i := range n {
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
	return sb.String()
}
