package policy

import (
	"reflect"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"
)

// ReadingsDiffer returns how data read with its tables in pieces differs from data read
// whole (the File or the problems), or "" when they agree.
func ReadingsDiffer(data []byte) string {
	split, splitErr := parse("schema.yaml", data, true)
	whole, wholeErr := parse("schema.yaml", data, false)
	// copyReaders is an index validation builds, keyed by the File's own pointers.
	all := cmp.Options{cmp.Exporter(func(reflect.Type) bool { return true }), cmpopts.IgnoreFields(File{}, "copyReaders")}
	if d := cmp.Diff(wholeErr, splitErr, all); d != "" {
		return "problems (-whole +split):\n" + d
	}
	if d := cmp.Diff(whole, split, all); d != "" {
		return "file (-whole +split):\n" + d
	}
	return ""
}

// ReadsSplit reports whether Parse reads data's tables in pieces.
func ReadsSplit(data []byte) bool {
	d := &decoder{file: "schema.yaml", data: data, starts: lineStarts(data)}
	_, ok := d.parseSplit()
	return ok
}

// FastReadingDiffers reads text, a piece of a file's tables, as readFast does and as
// yaml.v3 does: accepted is whether readFast read it, and diff how its tree differs
// from yaml.v3's (comments aside), "" when they agree or readFast declined.
func FastReadingDiffers(text []byte) (accepted bool, diff string) {
	fast, ok := readFast(text, 0)
	if !ok {
		return false, ""
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return true, "yaml.v3 refuses what readFast read: " + err.Error()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return true, "yaml.v3 reads no single document"
	}
	return true, cmp.Diff(doc.Content[0], fast, cmpopts.IgnoreFields(yaml.Node{}, "HeadComment", "LineComment", "FootComment"))
}

// TablePieces returns the text of the pieces data's tables are cut into, or nil.
func TablePieces(data []byte) [][]byte {
	s, ok := splitTables(data, lineStarts(data))
	if !ok {
		return nil
	}
	var texts [][]byte
	for _, p := range s.pieces {
		texts = append(texts, p.text)
	}
	return texts
}
