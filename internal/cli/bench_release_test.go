package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

// BenchmarkRelease times whole rlsmigrate processes of this checkout and of a baseline
// side by side, on the same files and databases, each round running one then the other
// (alternating which goes first): generate from scratch, with no changes (--check), with
// one change (--check), diff with no change and with one, up into an empty database, and
// verify. It reports each one's median wall time and its largest peak RSS (MiB).
// RLSMIGRATE_BASELINE is the baseline: a binary, or a git revision to build one from;
// RLSMIGRATE_RELEASE_SIZES the table counts (default 100,1000,10000);
// RLSMIGRATE_RELEASE_VERIFY_UP_TO the most tables verify runs at (default 1000: it
// takes about 17 ms a table). With RLSMIGRATE_PEAK_LIMIT_MIB set, a generate, diff or
// verify of this checkout whose peak RSS passes that many MiB fails the benchmark
// (scripts/bench sets 150, the goal). Both binaries are built with -buildvcs=true from
// clean checkouts of their revisions, as releases are: that is what lets generate trust
// an unchanged state.
func BenchmarkRelease(b *testing.B) {
	baseline := os.Getenv("RLSMIGRATE_BASELINE")
	if baseline == "" || testing.Short() {
		b.Skip("set RLSMIGRATE_BASELINE to a binary or a git revision to compare with")
	}
	verifyUpTo := envSizes(b, "RLSMIGRATE_RELEASE_VERIFY_UP_TO", 1000)[0]
	peakLimit := envSizes(b, "RLSMIGRATE_PEAK_LIMIT_MIB", 0)[0] // 0: none
	bins := map[string]string{"new": buildAt(b, "HEAD"), "old": baseline}
	if _, err := os.Stat(baseline); err != nil {
		bins["old"] = buildAt(b, baseline)
	}
	for _, n := range envSizes(b, "RLSMIGRATE_RELEASE_SIZES", 100, 1000, 10000) {
		work := b.TempDir()
		schemaPath, changed := filepath.Join(work, "schema.yaml"), filepath.Join(work, "changed.yaml")
		writeFiles(b, work, map[string]string{"schema.yaml": schemagen.Todos(n),
			// One more table.
			"changed.yaml": schemagen.Todos(n) + "  - name: notes\n    columns:\n      - {name: id, type: bigint, primary_key: true}\n"})
		dirs := map[string]string{}
		for _, which := range []string{"new", "old"} {
			dirs[which] = filepath.Join(work, which)
			mustRun(b, bins[which], "generate", "--schema", schemaPath, "--dir", dirs[which])
		}
		built := pgtest.NewDB(b)
		mustRun(b, bins["new"], "up", "--database-url", built, "--dir", dirs["new"])
		scenarios := []releaseScenario{
			{"generate-scratch", func(which string) []string {
				dir := filepath.Join(work, "scratch-"+which)
				os.RemoveAll(dir)
				return []string{"generate", "--schema", schemaPath, "--dir", dir}
			}, []int{ExitOK}},
			{"generate-unchanged", func(which string) []string {
				return []string{"generate", "--check", "--schema", schemaPath, "--dir", dirs[which]}
			}, []int{ExitOK}},
			{"generate-one-change", func(which string) []string {
				return []string{"generate", "--check", "--schema", changed, "--dir", dirs[which]}
			}, []int{ExitFound}},
			{"diff-unchanged", func(string) []string {
				return []string{"diff", "--schema", schemaPath, "--database-url", built}
			}, []int{ExitOK}},
			{"diff-one-change", func(string) []string {
				return []string{"diff", "--schema", changed, "--database-url", built}
			}, []int{ExitFound}},
			{"up", func(which string) []string {
				return []string{"up", "--database-url", pgtest.NewDB(b), "--dir", dirs[which]}
			}, []int{ExitOK}},
		}
		if n <= verifyUpTo {
			scenarios = append(scenarios, releaseScenario{"verify", func(string) []string {
				return []string{"verify", "--schema", schemaPath, "--database-url", built}
			}, []int{ExitOK}})
		}
		for _, sc := range scenarios {
			b.Run(fmt.Sprintf("tables=%d/%s", n, sc.name), func(b *testing.B) {
				wall := map[string][]float64{}
				peak := map[string]float64{}
				for i := 0; i < b.N; i++ {
					order := []string{"new", "old"}
					if i%2 == 1 {
						order = []string{"old", "new"}
					}
					for _, which := range order {
						ms, mib, code := timeProcess(b, bins[which], sc.args(which)...)
						if !slices.Contains(sc.ok, code) {
							b.Fatalf("%s %s exited %d", which, sc.name, code)
						}
						wall[which] = append(wall[which], ms)
						peak[which] = max(peak[which], mib)
					}
				}
				b.ReportMetric(median(wall["new"]), "new-ms")
				b.ReportMetric(median(wall["old"]), "old-ms")
				b.ReportMetric(median(wall["new"])/median(wall["old"]), "new/old")
				b.ReportMetric(peak["new"], "new-MiB")
				b.ReportMetric(peak["old"], "old-MiB")
				// A child reads at least this process's own peak (see ownPeakMiB).
				floor := ownPeakMiB(b)
				b.ReportMetric(floor, "floor-MiB")
				if over := overLimit(sc.name, peak["new"], peakLimit, floor); over != "" {
					// A failed benchmark prints no metrics: the error carries them.
					b.Errorf("%s; new %.1f ms, old %.1f ms, old's peak %.0f MiB", over, median(wall["new"]), median(wall["old"]), peak["old"])
				}
			})
		}
	}
}

// overLimit says how the peak RSS mib of scenario passes limit (MiB), or returns ""
// when it does not, when limit is 0, when the scenario is up, which the memory goal
// does not name (generate, diff and verify), or when mib is no more than floor, the
// least any child of this process reads, so that its own peak is not known.
func overLimit(scenario string, mib float64, limit int, floor float64) string {
	if limit == 0 || scenario == "up" || mib <= float64(limit) || mib <= floor {
		return ""
	}
	return fmt.Sprintf("%s: peak RSS %.0f MiB, above the limit of %d MiB (RLSMIGRATE_PEAK_LIMIT_MIB)", scenario, mib, limit)
}

// ownPeakMiB returns this process's peak RSS (VmHWM) in MiB, 0 where /proc does not
// say. Go starts a child sharing this process's memory until the child execs, and
// Linux counts the shared memory's peak into the child's: a child's peak RSS reads
// at least this much, whatever the child itself used.
func ownPeakMiB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kib); err != nil {
				b.Fatalf("reading VmHWM from %q: %v", line, err)
			}
			return kib / 1024
		}
	}
	return 0
}

// releaseScenario is one command BenchmarkRelease times: its arguments for binary
// which (new or old), and the exit codes that are success for it.
type releaseScenario struct {
	name string
	args func(which string) []string
	ok   []int
}

// buildAt builds the rlsmigrate binary of git revision rev from a clean checkout of it,
// with its vcs stamp, and returns its path.
func buildAt(b *testing.B, rev string) string {
	dir := b.TempDir()
	tree, bin := filepath.Join(dir, "tree"), filepath.Join(dir, "rlsmigrate")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		b.Fatal(err)
	}
	git := func(args ...string) {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// A clone, not a worktree: go stamps no vcs revision in a worktree.
	git("clone", "-q", "--shared", "--no-checkout", root, tree)
	git("-C", tree, "checkout", "-q", "--detach", rev)
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/rlsmigrate")
	build.Dir = tree
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building %s: %v\n%s", rev, err, out)
	}
	return bin
}

// timeProcess runs bin with args and returns its wall time in milliseconds, its peak
// resident memory in MiB, and its exit code.
func timeProcess(b *testing.B, bin string, args ...string) (float64, float64, int) {
	cmd := exec.Command(bin, args...)
	start := time.Now()
	err := cmd.Run()
	ms := float64(time.Since(start).Microseconds()) / 1000
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		b.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	mib := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB on Linux
	return ms, mib, cmd.ProcessState.ExitCode()
}

// mustRun runs bin with args and fails b unless it succeeds.
func mustRun(b *testing.B, bin string, args ...string) {
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// TestOverLimit holds which of BenchmarkRelease's scenarios the memory limit fails.
func TestOverLimit(t *testing.T) {
	for _, c := range []struct {
		scenario string
		mib      float64
		limit    int
		floor    float64
		over     bool
	}{
		{"generate-scratch", 151, 150, 30, true},
		{"diff-unchanged", 150, 150, 30, false},
		{"verify", 1280, 150, 30, true},
		{"up", 456, 150, 30, false},
		{"generate-scratch", 583, 0, 30, false},
		{"generate-unchanged", 178, 150, 178, false}, // the harness's peak, not the child's
	} {
		got := overLimit(c.scenario, c.mib, c.limit, c.floor)
		if (got != "") != c.over {
			t.Errorf("overLimit(%q, %v, %d, %v) = %q, want over: %v", c.scenario, c.mib, c.limit, c.floor, got, c.over)
		}
	}
}
