package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi/vapitest"
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
		require.Contains(t, out, "nothing was dialed and campaign nofirst was not kept")
		var n int
		require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT count(*) FROM campaign WHERE name = 'nofirst'`).Scan(&n))
		require.Zero(t, n, "no draft is left to get in the way")

		// The operator accepts it: the same command, the same name.
		code = b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "--name", "nofirst", "--allow-missing-variables")
		require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
		require.Contains(t, b.stderr.String(), "1 of 1 contacts final")
	})
}

// TestDryRunPreflight checks that --dry-run runs the same variable check when VAPI_API_KEY is
// set (here against a simulator on loopback), and says it did not when the key is unset.
func TestDryRunPreflight(t *testing.T) {
	sim := vapitest.New(vapitest.Config{})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	file := writeFile(t, dir, "nofirst.csv", "phone,First Name,amount_due\n+1 415 555 0132,Jane,12.50\n")
	args := func(name string, extra ...string) []string {
		return append([]string{"run", file, "--dry-run", "--name", name, "--assistant-id", sim.Config().Assistants[0].ID,
			"--vapi-base-url", srv.URL}, extra...)
	}

	b := setup(t)
	code := b.run(t, args("no-key")...)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "were not checked: set VAPI_API_KEY")

	b.env[envAPIKey] = vapitest.DefaultAPIKey
	code = b.run(t, args("with-key")...)
	require.Equal(t, exitError, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "+14155550132", "the dry-run report comes first")
	require.Contains(t, b.stderr.String(), "MISSING")
	require.Contains(t, b.stderr.String(), `column "First Name" differs only by case or spacing`)

	code = b.run(t, args("allowed", "--allow-missing-variables")...)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "MISSING")
}
