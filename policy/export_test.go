package policy

import (
	"reflect"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
