package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// While a file is imported the collector runs by a memory limit, not by heap growth. The
// import's live heap is mostly the set of every number it stored (some 37 MB for a million
// contacts, none of it pointers) and it allocates a few hundred bytes a row that die at once:
// GOGC 30 kept a million-row import under 100 MB of RSS but collected every 11 MB or so; a limit
// of importMemoryFloor collects only when the heap nears it: a fifth less CPU at a million rows,
// and no more RSS (measured back to back, BENCHMARKS.md). Past the floor the limit follows what
// the process needs, importGCPercent above the live heap plus what the runtime holds outside it,
// so a larger file (or serve, with its own heap) collects as GOGC 30 did instead of collecting
// without end under a limit it has outgrown.
const (
	importMemoryFloor = 64 << 20
	importGCPercent   = 30 // the headroom over the live heap once it passes the floor, in percent
	importLimitPeriod = 50 * time.Millisecond
)

// importGC holds the collector to the import's memory limit while any import of the process runs
// (serve imports a campaign per console request, maybe several at once) and puts back the
// settings it found when the last one ends.
var importGC gcLowering

// gcLowering counts the imports running, under its mutex, keeps the settings to put back and
// runs the goroutine that moves the limit with the live heap.
type gcLowering struct {
	mu          sync.Mutex
	running     int
	savedGOGC   int
	savedLimit  int64
	stopFollow  chan struct{}
	followEnded chan struct{}
}

// lower switches the collector to the import's memory limit if no import runs yet and returns
// the function that ends this import's claim. A user who set GOGC off or at most
// importGCPercent keeps their settings: the import never makes the collector run less often
// than they asked.
func (g *gcLowering) lower() (restore func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running == 0 {
		g.savedGOGC = debug.SetGCPercent(-1)
		g.savedLimit = debug.SetMemoryLimit(-1) // reads it
		if g.savedGOGC <= importGCPercent {
			debug.SetGCPercent(g.savedGOGC) // GOGC off (often with GOMEMLIMIT) or already low: it stands
			g.stopFollow = nil
		} else {
			g.stopFollow, g.followEnded = make(chan struct{}), make(chan struct{})
			debug.SetMemoryLimit(importLimit(readMemoryUse(), g.savedLimit))
			go g.follow(g.stopFollow, g.followEnded)
		}
	}
	g.running++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.running--; g.running == 0 && g.stopFollow != nil {
			close(g.stopFollow)
			<-g.followEnded
			debug.SetMemoryLimit(g.savedLimit)
			debug.SetGCPercent(g.savedGOGC)
		}
	}
}

// follow sets the memory limit from the live heap every importLimitPeriod until stop closes.
func (g *gcLowering) follow(stop <-chan struct{}, ended chan<- struct{}) {
	defer close(ended)
	tick := time.NewTicker(importLimitPeriod)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			debug.SetMemoryLimit(importLimit(readMemoryUse(), g.savedLimit))
		}
	}
}

// importLimit is the memory limit of an import for m: importMemoryFloor, or once more is needed,
// importGCPercent above the live heap plus what the runtime holds outside the heap (goroutine
// stacks, its own structures), so the limit never falls under what the process needs (which
// would collect without end); never above userLimit (the GOMEMLIMIT found; math.MaxInt64 when
// none).
func importLimit(m memoryUse, userLimit int64) int64 {
	need := m.live + m.live*importGCPercent/100 + m.outsideHeap
	limit := int64(importMemoryFloor)
	if need < math.MaxInt64 && int64(need) > limit {
		limit = int64(need)
	}
	return min(limit, userLimit)
}

// memoryUse is what the runtime reports of its memory, in bytes.
type memoryUse struct {
	// live is the heap the last collection found live; outsideHeap what the runtime holds
	// against its limit besides the heap's spans (objects, free and unused space).
	live, outsideHeap uint64
}

// memoryMetrics are the runtime/metrics readMemoryUse reads: live heap, all memory, and the
// parts of it that are heap spans or released to the system.
var memoryMetrics = []string{"/gc/heap/live:bytes", "/memory/classes/total:bytes", "/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes", "/memory/classes/heap/free:bytes", "/memory/classes/heap/unused:bytes"}

// readMemoryUse reads the runtime's memoryUse.
func readMemoryUse() memoryUse {
	samples := make([]metrics.Sample, len(memoryMetrics))
	for i, name := range memoryMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	v := make([]uint64, len(samples))
	for i, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	heap := v[2] + v[3] + v[4] + v[5]
	return memoryUse{live: v[0], outsideHeap: v[1] - min(heap, v[1])}
}
