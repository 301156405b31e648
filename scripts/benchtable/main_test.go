package main

import (
	"strings"
	"testing"
)

// TestMediansAndRatios reads go test -bench lines (with the -N suffix of GOMAXPROCS,
// and lines that are not benchmarks) and takes medians per metric and ratios against
// the floor of the same operation.
func TestMediansAndRatios(t *testing.T) {
	out := `goos: linux
BenchmarkPolicies/select/floor-2     300   1000000 ns/op   0.5 p50-ms
BenchmarkPolicies/select/floor-2     300   3000000 ns/op   0.7 p50-ms
BenchmarkPolicies/select/floor-2     300   2000000 ns/op   0.6 p50-ms
BenchmarkPolicies/select/rlsmigrate-2  300   2200000 ns/op   0.66 p50-ms
PASS
`
	names, byName, err := read(strings.NewReader(out))
	if err != nil || len(names) != 2 || names[0] != "BenchmarkPolicies/select/floor" {
		t.Fatalf("read: %v %v", names, err)
	}
	if m, ok := median(byName["BenchmarkPolicies/select/floor"]["ns/op"]); !ok || m != 2000000 {
		t.Errorf("median ns/op %v", m)
	}
	if m, _ := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of an even count: %v", m)
	}
	if got := ratio("BenchmarkPolicies/select/rlsmigrate", "ns/op", 2200000, byName); got != "1.10× floor" {
		t.Errorf("ratio: %q", got)
	}
	if got := ratio("BenchmarkPolicies/select/floor", "ns/op", 2000000, byName); got != "" {
		t.Errorf("the floor against itself: %q", got)
	}
	if got := duration(1.5e9) + " " + duration(2.5e6) + " " + compact(1234567) + " " + compact(0.25); got != "1.50 s 2.5 ms 1.2M 0.2500" {
		t.Errorf("formatting: %q", got)
	}
}
