package render

import "testing"

func TestCommentAndLineAreInert(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                       "-- plain\n",
		"a\nDROP TABLE t; --":         "-- a\\nDROP TABLE t; --\n",
		"table notes+goose":           "-- table notes\\x2bgoose\n",
		"\x1b[31mred\r\n+goose Down":  "-- \\u001b[31mred\\r\\n\\x2bgoose Down\n",
		"line\u2028separator\u0085c1": "-- line\\u2028separator\\u0085c1\n",
	} {
		got := Comment(in)
		if got != want {
			t.Errorf("Comment(%q) = %q, want %q", in, got, want)
		}
		if len(Annotations(got)) != 0 {
			t.Errorf("goose reads Comment(%q) as an annotation", in)
		}
	}
	if got := Line("a\tb"); got != `a\tb` {
		t.Errorf("Line = %q", got)
	}
	if got := Annotations("-- +goose Up\nSELECT 1;\n  --x+goose y\n-- plain\n"); len(got) != 2 {
		t.Errorf("Annotations = %q, want the two lines goose reads as annotations", got)
	}
}
