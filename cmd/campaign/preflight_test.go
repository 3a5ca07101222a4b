package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPreflightVariables runs the pre-flight check against the simulator's payment-reminder
// assistant, whose system prompt uses {{first_name}} with no default and {{amount_due}} and
// {{due_date}} with defaults.
func TestPreflightVariables(t *testing.T) {
	dir := t.TempDir()
	t.Run("all supplied", func(t *testing.T) {
		b := setup(t)
		b.realClock = true
		file := copyFile(t, "../../examples/customers.csv", dir)
		code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "--rate", "0")
		require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
		out := b.stderr.String()
		require.Contains(t, out, `Assistant "Payment reminder" uses 3 variables`)
		require.Contains(t, out, `column "first_name"`)
		require.Contains(t, out, "due_date")
		require.NotContains(t, out, "MISSING")
	})

	t.Run("missing without default stops the run", func(t *testing.T) {
		b := setup(t)
		b.realClock = true
		file := writeFile(t, dir, "nofirst.csv", "phone,First Name,amount_due\n+1 415 555 0132,Jane,12.50\n")
		code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "--name", "nofirst")
		require.Equal(t, exitError, code, "stderr: %s", b.stderr)
		out := b.stderr.String()
		require.Contains(t, out, "first_name")
		require.Contains(t, out, "MISSING")
		require.Contains(t, out, `column "First Name" differs only by case or spacing`)
		require.Contains(t, out, "--allow-missing-variables")
		var status string
		require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT status FROM campaign WHERE name = 'nofirst'`).Scan(&status))
		require.Equal(t, "draft", status, "nothing was dialed")

		// The operator accepts it.
		code = b.run(t, "resume", "nofirst", "--simulate", "--sim-time-scale", "600", "--allow-missing-variables")
		require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
		require.Contains(t, b.stderr.String(), "1 of 1 contacts final")
	})
}
