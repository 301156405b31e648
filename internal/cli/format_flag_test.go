package cli

import (
	"strings"
	"testing"
)

// TestFormatFlag: every command with --format refuses an unknown one the same way,
// before reading any file or database, names the formats it has, and lists them in
// --help, in the usage line too.
func TestFormatFlag(t *testing.T) {
	for cmd, names := range map[string]string{
		"diff":   "text, json, sql, markdown",
		"lint":   "text, json, github",
		"verify": "text, json, markdown",
		"plan":   "text, json",
	} {
		r := run(t, "", cmd, "--format", "xml", "--schema", "/nonexistent/schema.yaml")
		want := `rlsmigrate ` + cmd + `: invalid value "xml" for flag -format: use one of ` + names + "\n"
		if r.code != ExitError || !strings.HasPrefix(r.stderr, want) || r.stdout != "" {
			t.Errorf("%s --format xml: %s\nwant stderr starting %q", cmd, r, want)
		}
		usage := "[--format " + strings.ReplaceAll(names, ", ", "|") + "]"
		if h := run(t, "", cmd, "--help"); !strings.Contains(h.stdout, "the output format: "+names+" (default text)") || !strings.Contains(h.stdout, usage) {
			t.Errorf("%s --help does not list its formats:\n%s", cmd, h.stdout)
		}
	}
}

// TestFormatsRenderTheirResult: each format of a table renders through its own writer.
func TestFormatsRenderTheirResult(t *testing.T) {
	p := plan{Migrations: []planMigration{}}
	if got := planFormats[0].write(p); got != "no changes: nothing to plan\n" {
		t.Errorf("plan text: %q", got)
	}
	if got := planFormats[1].write(p); !strings.Contains(got, `"migrations": []`) {
		t.Errorf("plan json: %q", got)
	}
	for _, table := range [][]string{names(diffFormats), names(lintFormats), names(verifyFormats), names(planFormats)} {
		if table[0] != "text" {
			t.Errorf("formats %v: the default must be text", table)
		}
	}
}

func names[R any](formats []outputFormat[R]) []string {
	var out []string
	for _, f := range formats {
		out = append(out, f.name)
	}
	return out
}
