package policy

import (
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

// BenchmarkParse reads a schema.yaml of 1,000 tables of the README's shape.
func BenchmarkParse(b *testing.B) {
	data := []byte(schemagen.Todos(1000))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("schema.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
