package main

import (
	"runtime/debug"
	"testing"
)

// TestGCPercentGoal: the goal Go computes from gcPercent's answer — live*(1+GOGC/100),
// and never under 4 MiB*GOGC/100 — is the floor while twice live is under it, and twice
// live (GOGC=100) from there on.
func TestGCPercentGoal(t *testing.T) {
	const floor = 128 << 20
	for _, live := range []uint64{0, 1 << 10, 1 << 20, 3 << 20, 10 << 20, 40 << 20, 63 << 20, 64 << 20, 100 << 20, 1 << 30} {
		p := uint64(gcPercent(live, floor))
		goal := max(live*(100+p)/100, minimumHeap*p/100)
		want := max(uint64(floor), 2*live)
		// The percentage is whole: the goal may fall short of the floor by up to 1% of
		// live, and by the 4 MiB minimum's share of a percent.
		if goal > want || want-goal > live/100+minimumHeap/100 {
			t.Errorf("live %d MiB: GOGC %d gives a goal of %.1f MiB, want %.1f MiB", live>>20, p, float64(goal)/(1<<20), float64(want)/(1<<20))
		}
	}
}

// TestGCLeftToTheUser: GOGC or GOMEMLIMIT in the environment leave the collector as
// they set it.
func TestGCLeftToTheUser(t *testing.T) {
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}[name])
			saved := debug.SetGCPercent(77)
			defer debug.SetGCPercent(saved)
			tuneGC()
			if got := debug.SetGCPercent(77); got != 77 {
				t.Errorf("with %s set, tuneGC changed GOGC to %d", name, got)
			}
		})
	}
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	saved := debug.SetGCPercent(77)
	defer debug.SetGCPercent(saved)
	tuneGC()
	if got := debug.SetGCPercent(77); got != gcPercent(0, heapFloor) {
		t.Errorf("without GOGC or GOMEMLIMIT, tuneGC set GOGC to %d, want %d", got, gcPercent(0, heapFloor))
	}
}
