package main

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// envByCommand is, for each command (by path; "" for the flags of every command), the map from
// its flags to the environment variables that default them, as applyEnv reads it.
var envByCommand = map[string]map[string]string{
	"":                globalEnv,
	"run":             runEnv,
	"call":            testCallEnv,
	"resume":          resumeEnv,
	"serve":           serveEnv,
	"report":          reportEnv,
	"healthcheck":     healthcheckEnv,
	"simulator":       simulatorEnv,
	"suppress add":    suppressEnv,
	"suppress import": suppressEnv,
	"suppress remove": suppressEnv,
}

// secretEnv are the secrets, read from the environment only: the README names them beside the
// flag that needs them (report --analytics needs VAPI_API_KEY), not as the flag's default.
var secretEnv = map[string]bool{envAPIKey: true, envWebhookSecret: true, envWebhookHMACSecret: true}

// documentedEnv is one row of a README flag table with an env column.
type documentedEnv struct {
	command string // the command's path, "" for every command
	flag    string
	env     string
	line    int
}

var (
	// readmeCommand is a "### `campaign run FILE`" heading: the command's words, lower case.
	readmeCommand = regexp.MustCompile("^### `campaign ((?:[a-z]+ ?)+)")
	flagName      = regexp.MustCompile(`--([a-z0-9-]+)`)
	envName       = regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
)

// readmeEnv reads the flag tables of README.md whose second column is env, and returns their
// rows that name both a flag and a variable.
func readmeEnv(t *testing.T) []documentedEnv {
	t.Helper()
	f, err := os.Open("../../README.md")
	require.NoError(t, err)
	defer f.Close()
	var (
		rows    []documentedEnv
		command string
		known   bool // command is a command (or every command)
		inTable bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### "):
			command, known, inTable = "", false, false
			if m := readmeCommand.FindStringSubmatch(line); m != nil {
				command, known = strings.TrimSpace(m[1]), true
			} else if line == "### Flags and environment for every command" {
				known = true
			}
		case strings.HasPrefix(line, "| flag | env |"):
			require.True(t, known, "README.md:%d: a flag table under a heading that names no command", n)
			inTable = true
		case !strings.HasPrefix(line, "|"):
			inTable = false
		case inTable:
			cells := strings.Split(line, "|")
			flag, env := flagName.FindStringSubmatch(cells[1]), envName.FindStringSubmatch(cells[2])
			if flag != nil && env != nil {
				rows = append(rows, documentedEnv{command: command, flag: flag[1], env: env[1], line: n})
			}
		}
	}
	require.NoError(t, sc.Err())
	return rows
}

// TestFlagsOfDocumentedEnv checks that every environment variable the README's flag tables
// give a flag is read into that flag of that command, and that every flag an env map names
// exists.
func TestFlagsOfDocumentedEnv(t *testing.T) {
	root := newRootCmd(&app{})
	find := func(path string) *cobra.Command {
		cmd, _, err := root.Find(strings.Fields(path))
		require.NoError(t, err, path)
		require.Equal(t, strings.TrimSpace("campaign "+path), cmd.CommandPath(), "no command %q", path)
		return cmd
	}

	rows := readmeEnv(t)
	require.GreaterOrEqual(t, len(rows), 20, "the README's flag tables were read")
	for _, r := range rows {
		cmd := find(r.command)
		require.NotNil(t, cmd.LocalFlags().Lookup(r.flag), "README.md:%d: campaign %s has no flag --%s", r.line, r.command, r.flag)
		if secretEnv[r.env] {
			continue
		}
		envs, ok := envByCommand[r.command]
		require.True(t, ok, "README.md:%d: campaign %s reads no environment variable", r.line, r.command)
		require.Equal(t, r.env, envs[r.flag], "README.md:%d: campaign %s --%s", r.line, r.command, r.flag)
	}

	for path, envs := range envByCommand {
		cmd := find(path)
		for flag := range envs {
			require.NotNil(t, cmd.LocalFlags().Lookup(flag), "campaign %s has no flag --%s", path, flag)
		}
	}
}
