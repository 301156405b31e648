package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// heapFloor is the heap the collector lets a run reach before it collects. Most runs
// (a schema.yaml of up to a few thousand tables) allocate less in all: they never
// collect, which saves about a fifth of their CPU. Larger ones collect as Go's default
// does, when the heap doubles what is live.
const heapFloor = 128 << 20

// tuneGC makes the collector let the heap grow to heapFloor, or to twice what is live
// if that is more, unless GOGC or GOMEMLIMIT says otherwise.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(gcPercent(0, heapFloor))
	arm()
}

// arm sets the collector's percentage again after the next collection, from what it
// left live.
func arm() {
	// A finalizer runs after the collection that finds its object unreachable; the
	// object holds a pointer, so it is not one of the tiny ones finalizers may miss.
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercent(sample[0].Value.Uint64(), heapFloor))
		}
		arm()
	})
}

// gcPercent is the GOGC that makes the heap's goal floor or twice live, whichever is
// more. Go's goal is live*(1+GOGC/100), but never under its minimum heap, 4 MiB*GOGC/100.
func gcPercent(live, floor uint64) int {
	if 2*live >= floor {
		return 100
	}
	percent := floor * 100 / minimumHeap
	if live > 0 {
		percent = min(percent, (floor-live)*100/live)
	}
	return int(percent)
}

// minimumHeap is Go's goal at GOGC=100 when next to nothing is live.
const minimumHeap = 4 << 20

// sentinel is the object whose finalizer marks a collection.
type sentinel struct{ _ *sentinel }
