package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportGCOverlapping: two imports of one process that overlap (serve's console) hold the
// collector at importGCPercent until the last ends, which puts back the setting found before
// the first, whichever order they end in.
func TestImportGCOverlapping(t *testing.T) {
	before := debug.SetGCPercent(77)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	var g gcLowering
	endFirst := g.lower()
	endSecond := g.lower()
	require.Equal(t, importGCPercent, debug.SetGCPercent(importGCPercent), "both running")
	endFirst()
	require.Equal(t, importGCPercent, debug.SetGCPercent(importGCPercent), "the second still running")
	endSecond()
	require.Equal(t, 77, debug.SetGCPercent(77), "the setting found before the first is back")
}

// TestImportGCKeepsLowerSettings: a user who set GOGC off, or at or below importGCPercent, keeps
// it during an import: the import only ever makes the collector run more often.
func TestImportGCKeepsLowerSettings(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	for _, setting := range []int{-1, 10, importGCPercent} {
		debug.SetGCPercent(setting)
		var g gcLowering
		end := g.lower()
		require.Equal(t, setting, debug.SetGCPercent(setting), "GOGC %d during the import", setting)
		end()
		require.Equal(t, setting, debug.SetGCPercent(setting), "GOGC %d after the import", setting)
	}
}
