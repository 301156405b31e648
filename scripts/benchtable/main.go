// Command benchtable reads `go test -bench` output on standard input and prints, per
// benchmark, the median of each metric over the runs, plus the ratios a reader needs:
// each policy form against the hand-written floor, and up against psql.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var line = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

type metrics map[string][]float64

func main() {
	names, byName, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	fmt.Println("| benchmark | runs | median time/op | other medians | ratio | p50 ratio | server p50 ratio |")
	fmt.Println("|---|---:|---:|---|---:|---:|---:|")
	for _, name := range names {
		m := byName[name]
		var other []string
		for _, unit := range []string{"p50-ms", "server-p50-ms", "ns/table", "roundtrips/op", "new-ms", "old-ms", "new/old", "new-MiB", "old-MiB", "B/op", "allocs/op"} {
			if v, ok := median(m[unit]); ok {
				other = append(other, fmt.Sprintf("%s %s", compact(v), unit))
			}
		}
		t, _ := median(m["ns/op"])
		p50, _ := median(m["p50-ms"])
		server, _ := median(m["server-p50-ms"])
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %s |\n", strings.TrimPrefix(name, "Benchmark"), len(m["ns/op"]),
			duration(t), strings.Join(other, ", "), ratio(name, "ns/op", t, byName),
			ratio(name, "p50-ms", p50, byName), ratio(name, "server-p50-ms", server, byName))
	}
}

func read(r io.Reader) ([]string, map[string]metrics, error) {
	var names []string
	byName := map[string]metrics{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name, fields := m[1], strings.Fields(m[3])
		if byName[name] == nil {
			byName[name] = metrics{}
			names = append(names, name)
		}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			byName[name][fields[i+1]] = append(byName[name][fields[i+1]], v)
		}
	}
	return names, byName, sc.Err()
}

func median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// ratio compares a policy form with the floor of the same operation, and up with psql,
// on the median of unit.
func ratio(name, unit string, t float64, byName map[string]metrics) string {
	var base string
	switch {
	case (strings.HasPrefix(name, "BenchmarkPolicies/") || strings.HasPrefix(name, "BenchmarkTeamPolicies/")) && !strings.HasSuffix(name, "/floor"):
		base = name[:strings.LastIndex(name, "/")] + "/floor"
	case strings.HasPrefix(name, "BenchmarkUp/") && strings.HasSuffix(name, "/rlsmigrate"):
		base = strings.TrimSuffix(name, "/rlsmigrate") + "/psql"
	default:
		return ""
	}
	b, ok := median(byName[base][unit])
	if !ok || b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f× %s", t/b, base[strings.LastIndex(base, "/")+1:])
}

func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	default:
		return fmt.Sprintf("%.3f ms", ns/1e6)
	}
}

func compact(v float64) string {
	if v >= 1e6 {
		return fmt.Sprintf("%.1fM", v/1e6)
	}
	if v >= 1e3 {
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	if v < 1 {
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
