package cli

import (
	"flag"
	"fmt"
	"strings"
)

// outputFormat is one way a command writes its result R: the --format name, and the
// function that renders R in it.
type outputFormat[R any] struct {
	name  string
	write func(R) string
}

// formatChoice is the --format flag of a command: a name from its formats, checked as
// the flags are parsed, so an unknown one is a flag error like any other.
type formatChoice[R any] struct {
	formats []outputFormat[R]
	chosen  int
}

// formatFlag declares --format on fs; the first of formats is the default.
func formatFlag[R any](fs *flag.FlagSet, formats ...outputFormat[R]) *formatChoice[R] {
	f := &formatChoice[R]{formats: formats}
	fs.Var(f, "format", "the output `format`: "+f.names(", "))
	return f
}

func (f *formatChoice[R]) names(sep string) string {
	names := make([]string, len(f.formats))
	for i, o := range f.formats {
		names[i] = o.name
	}
	return strings.Join(names, sep)
}

// choices lists the formats as a usage line shows them: text|json|....
func (f *formatChoice[R]) choices() string { return f.names("|") }

func (f *formatChoice[R]) String() string {
	if f == nil || len(f.formats) == 0 {
		return ""
	}
	return f.formats[f.chosen].name
}

// Set chooses the format called name.
func (f *formatChoice[R]) Set(name string) error {
	for i, o := range f.formats {
		if o.name == name {
			f.chosen = i
			return nil
		}
	}
	return fmt.Errorf("use one of %s", f.names(", "))
}

// Write renders r in the chosen format.
func (f *formatChoice[R]) Write(r R) string { return f.formats[f.chosen].write(r) }
