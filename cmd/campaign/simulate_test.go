package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunSimulate is the README's demo: the whole loop (import, dial, webhooks, results) on the
// built-in simulator, ending with every contact final, a summary and a results file.
func TestRunSimulate(t *testing.T) {
	b := setup(t)
	b.realClock = true // calls, webhooks and the reconciler run on real time
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	out := filepath.Join(dir, "results.csv")

	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "-o", out, "--rate", "0")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "9 of 9 contacts final")
	require.Contains(t, b.stderr.String(), "Simulating Vapi")

	rows := readCSV(t, out)
	require.Len(t, rows, 1+9)
	header := rows[0]
	require.Equal(t, []string{"phone", "name", "first_name", "amount_due", "due_date", "customer_id", "timezone"}, header[:7])
	require.Contains(t, header, "outcome")
	state := slices.Index(header, "state")
	callID := slices.Index(header, "vapi_call_id")
	for _, r := range rows[1:] {
		require.Contains(t, []string{"completed", "failed"}, r[state], "row %v", r)
		require.NotEmpty(t, r[callID], "every contact was called: %v", r)
	}
}
