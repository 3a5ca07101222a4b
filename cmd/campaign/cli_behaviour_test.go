package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnknownCommandIsUsageError(t *testing.T) {
	b := setupFlags(t)
	require.Equal(t, exitUsage, b.execute(t, nil, "stauts", "nov"))
	require.Contains(t, b.stderr.String(), `unknown command "stauts"`)
	require.Contains(t, b.stderr.String(), "status", "a near miss is suggested")
	require.Contains(t, b.stderr.String(), "campaign --help")

	// With no command at all, the help is shown: not an error.
	require.Equal(t, exitOK, b.execute(t, nil))
	require.Contains(t, b.stdout.String(), "Available Commands")

	// The same one level down.
	require.Equal(t, exitUsage, b.execute(t, nil, "db", "ulr"))
	require.Contains(t, b.stderr.String(), `unknown command "ulr" for "campaign db": did you mean "url"?`)
	require.Equal(t, exitOK, b.execute(t, nil, "db"))
	require.Contains(t, b.stdout.String(), "Available Commands")
}

func TestVersion(t *testing.T) {
	b := setupFlags(t)
	require.Equal(t, exitOK, b.execute(t, nil, "--version"), "stderr: %s", b.stderr)
	flagOut := b.stdout.String()
	require.True(t, strings.HasPrefix(flagOut, "campaign version "), flagOut)
	require.Equal(t, exitOK, b.execute(t, nil, "version"), "stderr: %s", b.stderr)
	require.Equal(t, flagOut, b.stdout.String())
	require.Equal(t, exitUsage, b.execute(t, nil, "version", "extra"))
}

func TestBuildVersion(t *testing.T) {
	require.NotEmpty(t, buildVersion(), "(devel) at least")
	defer func(v string) { version = v }(version)
	version = "v1.2.3"
	require.Equal(t, "v1.2.3", buildVersion(), "-ldflags -X main.version wins")

	for _, tt := range []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "435d679f0c1e2a3b4c5d6e7f8091a2b3c4d5e6f7"}, {Key: "vcs.modified", Value: "true"}}},
			"(devel) 435d679f0c1e+dirty"},
	} {
		require.Equal(t, tt.want, infoVersion(&tt.bi))
	}
}

func TestOpenErrorNamesTheFileOnce(t *testing.T) {
	b := setup(t)
	require.Equal(t, exitError, b.run(t, "run", "/no/such/customers.csv", "--dry-run"))
	msg := b.stderr.String()
	require.Equal(t, 1, strings.Count(msg, "/no/such/customers.csv"), msg)
	require.Contains(t, msg, "no such file or directory")
}

func TestErrorsNameTheCampaignAndHint(t *testing.T) {
	b := setup(t)
	for _, args := range [][]string{{"pause", "novv"}, {"status", "novv"}, {"export", "novv"}, {"resume", "novv", "--simulate"}} {
		require.Equal(t, exitError, b.run(t, args...), "%v", args)
		msg := b.stderr.String()
		require.Contains(t, msg, `no campaign "novv"`, "%v", args)
		require.Contains(t, msg, "campaign list", "%v", args)
		require.Equal(t, 1, strings.Count(msg, "campaign: "), "one error line: %q", msg)
	}

	// Refusals name the campaign as typed (here its id) and what to do next.
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov"), "stderr: %s", b.stderr)
	var id string
	require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT id::text FROM campaign WHERE name = 'nov'`).Scan(&id))
	require.Equal(t, exitError, b.run(t, "pause", id))
	require.Contains(t, b.stderr.String(), "campaign nov is draft")
	require.Contains(t, b.stderr.String(), "campaign resume nov --assistant-id")

	b.env[envAPIKey] = "key"
	require.Equal(t, exitUsage, b.run(t, "resume", "nov"), "a draft has no assistant")
	require.Contains(t, b.stderr.String(), "campaign resume nov --assistant-id ID --phone-number-id ID")

	_, err := b.pool(t).Exec(context.Background(), `UPDATE campaign SET status = 'completed' WHERE name = 'nov'`)
	require.NoError(t, err)
	require.Equal(t, exitError, b.run(t, "resume", id, "--simulate"))
	require.Contains(t, b.stderr.String(), "campaign nov is completed: nothing to resume")
	require.Contains(t, b.stderr.String(), "campaign resume nov --retry-failed")
}
