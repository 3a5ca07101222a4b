package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPredialURLStoredSetAndCopied checks that run stores --predial-url with the campaign (so
// resume and serve use it), that set changes and removes it, saying so, and that run --like
// copies it unless given.
func TestPredialURLStoredSetAndCopied(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	hookURL := func(name string) string {
		var u string
		require.NoError(t, b.pool(t).QueryRow(context.Background(),
			`SELECT predial_url FROM campaign WHERE name = $1`, name).Scan(&u))
		return u
	}
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov", "--predial-url", "https://crm.example.com/check"),
		"stderr: %s", b.stderr)
	require.Equal(t, "https://crm.example.com/check", hookURL("nov"))

	require.Equal(t, exitOK, b.run(t, "run", "--like", "nov", file, "--dry-run", "--name", "dec"), "stderr: %s", b.stderr)
	require.Equal(t, "https://crm.example.com/check", hookURL("dec"), "--like copies the hook")

	require.Equal(t, exitOK, b.run(t, "set", "nov", "--predial-url", "https://crm.example.com/v2"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), `  pre-dial URL: "https://crm.example.com/check" → "https://crm.example.com/v2"`)
	require.Equal(t, "https://crm.example.com/v2", hookURL("nov"))

	require.Equal(t, exitOK, b.run(t, "set", "nov", "--predial-url", ""), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), `  pre-dial URL: "https://crm.example.com/v2" → ""`)
	require.Empty(t, hookURL("nov"), "an empty URL removes the hook")
	require.Equal(t, "https://crm.example.com/check", hookURL("dec"))
}
