package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// complete asks the CLI for the shell completions of args (the last one being the word being
// typed), as the completion scripts do, and returns the offered words.
func (b *testBundle) complete(t *testing.T, args ...string) []string {
	t.Helper()
	b.env[envDatabaseURL] = b.databaseURL() // `__complete` must see the word being typed last
	defer delete(b.env, envDatabaseURL)
	require.Equal(t, exitOK, b.run(t, append([]string{"__complete"}, args...)...), "stderr: %s", b.stderr)
	var words []string
	for _, line := range strings.Split(strings.TrimSpace(b.stdout.String()), "\n") {
		if !strings.HasPrefix(line, ":") { // the last line is the directive
			words = append(words, strings.SplitN(line, "\t", 2)[0])
		}
	}
	return words
}

func TestCompletion(t *testing.T) {
	b := setup(t)

	// Before any campaign (the schema is not even there), nothing is offered and nothing fails.
	require.Empty(t, b.complete(t, "status", ""))

	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	for _, name := range []string{"nov-reminders", "nov-survey", "dec-reminders"} {
		require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", name), "stderr: %s", b.stderr)
	}
	require.ElementsMatch(t, []string{"nov-reminders", "nov-survey", "dec-reminders"}, b.complete(t, "status", ""))
	for _, cmd := range []string{"pause", "cancel", "set", "resume", "export", "report", "wait", "delete"} {
		require.ElementsMatch(t, []string{"nov-reminders", "nov-survey"}, b.complete(t, cmd, "nov"), cmd)
	}
	require.Empty(t, b.complete(t, "status", "nov-survey", ""), "one campaign per command")
	require.ElementsMatch(t, []string{"nov-reminders", "nov-survey"}, b.complete(t, "run", "--like", "nov"))
	require.ElementsMatch(t, []string{"nov-reminders", "nov-survey"}, b.complete(t, "run", "x.csv", "--like", "nov"))

	require.Equal(t, []string{"text", "json"}, b.complete(t, "status", "nov-survey", "--format", ""))
	require.Equal(t, []string{"text", "json"}, b.complete(t, "list", "--format", ""))
	require.Equal(t, []string{"csv", "jsonl"}, b.complete(t, "export", "nov-survey", "--format", ""))
	require.Equal(t, []string{"text", "json", "csv", "html"}, b.complete(t, "report", "nov-survey", "--format", ""))
	require.Equal(t, []string{"text", "json"}, b.complete(t, "run", "x.csv", "--format", ""))
	require.Equal(t, []string{"state=", "outcome="}, b.complete(t, "export", "nov-survey", "--filter", ""))
	filters := b.complete(t, "export", "nov-survey", "--filter", "state=")
	require.Contains(t, filters, "state=failed")
	filters = b.complete(t, "export", "nov-survey", "--filter", "outcome=")
	require.Contains(t, filters, "outcome=no_answer")
	require.Contains(t, filters, "outcome=none")

	// A database that cannot be reached: no names, no error.
	b.dbURL = "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"
	require.Empty(t, b.complete(t, "status", ""))
}
