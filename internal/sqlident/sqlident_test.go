package sqlident

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"todos":       "todos",
		"user_id2":    "user_id2",
		"user":        `"user"`,
		"order":       `"order"`,
		"Todos":       `"Todos"`,
		"Order Items": `"Order Items"`,
		`a"b`:         `"a""b"`,
		"semi;colon":  `"semi;colon"`,
		"Ünïcödé":     `"Ünïcödé"`,
		"2fast":       `"2fast"`,
		"":            `""`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := Literal("it's"); got != "'it''s'" {
		t.Errorf("Literal = %s", got)
	}
	if got := DollarQuote("a $rls$ b"); strings.Count(got, "$rlsx$") != 2 {
		t.Errorf("DollarQuote picked a tag found in the body: %s", got)
	}
}

func TestNameStaysWithinLimitAndUnique(t *testing.T) {
	long := strings.Repeat("é", 40)
	a, b := Name(long, "x", "idx"), Name(long, "y", "idx")
	for _, n := range []string{a, b} {
		if len(n) > MaxLen || !utf8.ValidString(n) {
			t.Errorf("Name gave %q (%d bytes)", n, len(n))
		}
	}
	if a == b {
		t.Errorf("two long names collide: %s", a)
	}
	if Name(long, "x", "idx") != a {
		t.Error("Name is not stable")
	}
	if got := Name("todos", "user_id", "idx"); got != "todos_user_id_idx" {
		t.Errorf("short name changed: %s", got)
	}
}

// TestControlCharactersStayOnOneLine: a name or string holding a newline is written as a
// Unicode-escape token, so no line of it can start a goose annotation or leave a comment.
func TestControlCharactersStayOnOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb":          `U&"a\000ab"`,
		"x\n-- +goose":  `U&"x\000a-- +goose"`,
		"back\\slash\r": `U&"back\\slash\000d"`,
		"q\"\t":         `U&"q""\0009"`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := Literal("it's\n"); got != `U&'it''s\000a'` {
		t.Errorf("Literal = %s", got)
	}
	for in, want := range map[string]string{
		"integer, text":                 "integer, text",
		"\"dom\nx\", 'a\nb'":            "U&\"dom\\000ax\", 'a\nb'",
		"\"a\"\"\nb\"[]":                "U&\"a\"\"\\000ab\"[]",
		"public.\"t\u2028\", \"plain\"": "public.U&\"t\\2028\", \"plain\"",
	} {
		if got := RequoteControl(in); got != want {
			t.Errorf("RequoteControl(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSplitNamesReadsQuote: names joined after Quote split back into the names, for a
// column list and for schema.name, whatever they hold.
func TestSplitNamesReadsQuote(t *testing.T) {
	names := []string{"id", "Mixed c4", `t5"q`, "a, b", "x.y", "Ünïcödé", "user"}
	for _, sep := range []string{", ", "."} {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = Quote(n)
		}
		got := SplitNames(strings.Join(quoted, sep), sep)
		if !slices.Equal(got, names) {
			t.Errorf("SplitNames(%q, %q) = %q, want %q", strings.Join(quoted, sep), sep, got, names)
		}
	}
	if got := SplitNames("", ", "); got != nil {
		t.Errorf("SplitNames of nothing = %q", got)
	}
}
