package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gcSettings reads GOGC and the memory limit without changing them.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

// keepGCSettings puts back the collector's settings when the test ends.
func keepGCSettings(t *testing.T) {
	percent, limit := gcSettings()
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

// TestImportGCOverlapping: two imports of one process that overlap (serve's console) hold the
// collector to the import's memory limit (GOGC off) until the last ends, which puts back the
// settings found before the first, whichever order they end in.
func TestImportGCOverlapping(t *testing.T) {
	keepGCSettings(t)
	debug.SetGCPercent(77)
	debug.SetMemoryLimit(math.MaxInt64)

	var g gcLowering
	endFirst := g.lower()
	endSecond := g.lower()
	percent, limit := gcSettings()
	require.Equal(t, -1, percent, "both running: no collection by heap growth")
	require.GreaterOrEqual(t, limit, int64(importMemoryFloor), "both running")
	require.Less(t, limit, int64(math.MaxInt64), "both running")
	endFirst()
	percent, _ = gcSettings()
	require.Equal(t, -1, percent, "the second still running")
	endSecond()
	percent, limit = gcSettings()
	require.Equal(t, 77, percent, "the setting found before the first is back")
	require.Equal(t, int64(math.MaxInt64), limit, "no limit, as before")
}

// TestImportGCLimitFollowsLiveHeap keeps more live heap than importMemoryFloor during an import:
// the limit moves up to importGCPercent above it and more (a limit below what the process needs
// would collect without end), and a GOMEMLIMIT the user set stays the ceiling.
func TestImportGCLimitFollowsLiveHeap(t *testing.T) {
	keepGCSettings(t)
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)

	var g gcLowering
	end := g.lower()
	live := make([][]byte, 0, 96)
	for range cap(live) {
		live = append(live, make([]byte, 1<<20)) // 96 MB held, more than the floor
	}
	runtime.GC()
	want := int64(readMemoryUse().live * (100 + importGCPercent) / 100)
	require.Greater(t, want, int64(importMemoryFloor))
	deadline := time.Now().Add(30 * time.Second)
	for _, limit := gcSettings(); limit < want; _, limit = gcSettings() {
		require.True(t, time.Now().Before(deadline), "the limit %d never reached %d", limit, want)
		runtime.Gosched()
	}
	end()
	runtime.KeepAlive(live)

	small := memoryUse{live: 10 << 20, outsideHeap: 8 << 20}
	require.Equal(t, int64(importMemoryFloor), importLimit(small, math.MaxInt64), "a small heap: the floor")
	large := memoryUse{live: 100 << 20, outsideHeap: 40 << 20}
	require.Equal(t, int64(170<<20), importLimit(large, math.MaxInt64),
		"a large heap: 30% above it, plus the 40 MB held outside the heap")
	require.Equal(t, int64(48<<20), importLimit(small, 48<<20), "the user's GOMEMLIMIT is the ceiling")
}

// TestImportGCKeepsLowerSettings: a user who set GOGC off, or at or below importGCPercent, keeps
// it, and their memory limit, during an import: the import only ever makes the collector run
// more often.
func TestImportGCKeepsLowerSettings(t *testing.T) {
	keepGCSettings(t)
	debug.SetMemoryLimit(200 << 20)
	for _, setting := range []int{-1, 10, importGCPercent} {
		debug.SetGCPercent(setting)
		var g gcLowering
		end := g.lower()
		percent, limit := gcSettings()
		require.Equal(t, setting, percent, "GOGC %d during the import", setting)
		require.Equal(t, int64(200<<20), limit, "GOGC %d during the import", setting)
		end()
		percent, limit = gcSettings()
		require.Equal(t, setting, percent, "GOGC %d after the import", setting)
		require.Equal(t, int64(200<<20), limit, "GOGC %d after the import", setting)
	}
}
