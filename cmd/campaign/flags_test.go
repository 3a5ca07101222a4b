package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/console"
)

// noDatabaseURL is the database of the tests that must not use one: nothing listens there, so
// a command that opened it would fail at once rather than start the managed local Postgres.
const noDatabaseURL = "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"

// flagBundle runs the CLI without a database. The command under test is built with a runF that
// records the options it is given instead of running (the runF seam), so that flag parsing,
// environment defaults (flag > env > default) and usage errors are tested apart from what the
// command does, through the same exit codes as main.
type flagBundle struct {
	env    map[string]string
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	// app is the CLI of the last execute, e.g. to see its global options.
	app *app
}

// setupFlags returns a bundle whose environment points DATABASE_URL at nothing, so that a
// command that reached for the database would fail the test.
func setupFlags(t *testing.T) *flagBundle {
	t.Helper()
	return &flagBundle{env: map[string]string{envDatabaseURL: noDatabaseURL}, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
}

// execute runs args through the CLI and returns the exit code. When replace is not nil, the
// command it builds takes the place of the command args name (which must have its name).
func (b *flagBundle) execute(t *testing.T, replace func(*app) *cobra.Command, args ...string) int {
	t.Helper()
	b.stdout.Reset()
	b.stderr.Reset()
	b.app = &app{
		in:     bytes.NewReader(nil),
		out:    b.stdout,
		errOut: b.stderr,
		getenv: func(k string) string { return b.env[k] },
		now:    func() time.Time { return time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC) },
	}
	root := newRootCmd(b.app)
	if replace != nil {
		stub := replace(b.app)
		real, _, err := root.Find(args)
		require.NoError(t, err, "%v", args)
		require.Equal(t, real.Name(), stub.Name(), "args %v run another command than the one replaced", args)
		parent := real.Parent()
		parent.RemoveCommand(real)
		parent.AddCommand(stub)
	}
	if args == nil {
		args = []string{} // nil would make cobra read the test binary's own arguments
	}
	return executeRoot(context.Background(), b.app, root, args)
}

// parse runs args through the CLI with the command of newCmd, whose run function only records
// its options, and returns them (nil when the command stopped before running, e.g. on a usage
// error) with the exit code.
func parse[O any](t *testing.T, b *flagBundle, newCmd func(*app, func(*O) error) *cobra.Command, args ...string) (*O, int) {
	t.Helper()
	var got *O
	code := b.execute(t, func(a *app) *cobra.Command {
		return newCmd(a, func(o *O) error {
			got = o
			return nil
		})
	}, args...)
	return got, code
}

// requireUsage runs args with the command of newCmd and checks that they are a usage error
// (exit 2) that says want on stderr, before the command ran, with nothing on stdout.
func requireUsage[O any](t *testing.T, b *flagBundle, newCmd func(*app, func(*O) error) *cobra.Command, want string, args ...string) {
	t.Helper()
	got, code := parse(t, b, newCmd, args...)
	require.Equal(t, exitUsage, code, "%v: stderr: %s", args, b.stderr)
	require.Nil(t, got, "%v: the command ran", args)
	require.Contains(t, b.stderr.String(), want, "%v", args)
	require.Empty(t, b.stdout.String(), "%v: errors never go to stdout", args)
}

func TestGlobalFlags(t *testing.T) {
	b := setupFlags(t)
	b.env[envLogLevel] = "debug"
	b.env[envDataDir] = "/from/env"
	_, code := parse(t, b, newListCmd, "list", "--data-dir", "/from/flag")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, noDatabaseURL, b.app.global.DatabaseURL, "env fills a flag that was not given")
	require.Equal(t, "/from/flag", b.app.global.DataDir, "a flag wins over its env variable")
	require.Equal(t, "debug", b.app.global.LogLevel)

	requireUsage(t, b, newListCmd, `--log-level "loud": want debug, info, warn or error`, "list", "--log-level", "loud")
	b.env[envLogLevel] = "loud"
	requireUsage(t, b, newListCmd, `--log-level "loud"`, "list")
}

func TestApplyEnvFlags(t *testing.T) {
	cmd := newHealthcheckCmd(&app{}, nil)
	getenv := func(k string) string { return map[string]string{"A": "10.0.0.5:8080", "B": "x"}[k] }
	require.NoError(t, applyEnv(cmd.Flags(), getenv, map[string]string{"listen": "A"}))
	require.Equal(t, "10.0.0.5:8080", cmd.Flags().Lookup("listen").Value.String())

	err := applyEnv(cmd.Flags(), getenv, map[string]string{"listen": "A", "lissen": "B"})
	require.EqualError(t, err, "environment variable B: the command has no flag --lissen")
}

func TestRunFlags(t *testing.T) {
	b := setupFlags(t)
	o, code := parse(t, b, newRunCmd, "run", "customers.csv", "--dry-run")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "customers.csv", o.File)
	require.True(t, o.DryRun)
	require.Equal(t, "US", o.DefaultRegion)
	require.Equal(t, "UTC", o.TimeZone)
	require.Equal(t, 1.0, o.Rate)
	require.Equal(t, 10, o.MaxConcurrent)
	require.Equal(t, "auto", o.Webhooks)
	require.Equal(t, 2*time.Minute, o.Grace)
	require.Nil(t, o.maxCostUSD, "no budget cap by default")

	// flag > env > default; the region is upper-cased and the retry policy made canonical.
	b.env["CAMPAIGN_WINDOW"] = "mon-fri 09:00-17:00"
	b.env["VAPI_ASSISTANT_ID"] = "asst-from-env"
	b.env["CAMPAIGN_PUBLIC_URL"] = "https://tunnel.example.com"
	b.env["CAMPAIGN_DEFAULT_REGION"] = "gb"
	b.env["CAMPAIGN_RATE"] = "2.5"
	b.env["CAMPAIGN_PREDIAL_URL"] = "https://crm.example.com/eligible?list=nov"
	o, code = parse(t, b, newRunCmd, "run", "-", "--dry-run", "--assistant-id", "asst-flag", "--rate", "4",
		"--retry", "busy=1@5m")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "https://crm.example.com/eligible?list=nov", o.PredialURL)
	require.Equal(t, 5*time.Second, o.PredialTimeout, "the default")
	require.Equal(t, "mon-fri 09:00-17:00", o.Window, "env fills a flag that was not given")
	require.Equal(t, "asst-flag", o.AssistantID, "a flag wins over its env variable")
	require.Equal(t, "https://tunnel.example.com", o.PublicURL)
	require.Equal(t, "GB", o.DefaultRegion)
	require.Equal(t, 4.0, o.Rate)
	require.Equal(t, "no_answer=2@4h, busy=1@5m, voicemail=1@24h, failed=2@10m", o.Retry, "made canonical")
	require.Equal(t, "stdin", o.source())

	// The budget cap: from the environment, a flag wins, "none" removes it.
	b.env["CAMPAIGN_MAX_COST"] = "12.5"
	o, code = parse(t, b, newRunCmd, "run", "f.csv", "--dry-run")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, 12.5, *o.maxCostUSD)
	o, code = parse(t, b, newRunCmd, "run", "f.csv", "--dry-run", "--max-cost", "40")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, 40.0, *o.maxCostUSD)
	o, code = parse(t, b, newRunCmd, "run", "f.csv", "--dry-run", "--max-cost", "none")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Nil(t, o.maxCostUSD)

	// A simulation calls at any hour, once per contact, unless told otherwise.
	b.env = map[string]string{envDatabaseURL: noDatabaseURL}
	o, code = parse(t, b, newRunCmd, "run", "customers.csv", "--simulate")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "always", o.Window)
	require.Equal(t, "none", o.Retry)
	require.Equal(t, 1, o.MaxAttempts)
	require.Equal(t, 60.0, o.retryTimeScale(), "retries run on simulated time")
	b.env["CAMPAIGN_WINDOW"] = "mon-fri 09:00-17:00"
	b.env["CAMPAIGN_MAX_ATTEMPTS"] = "2"
	o, code = parse(t, b, newRunCmd, "run", "customers.csv", "--simulate")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "mon-fri 09:00-17:00", o.Window, "a window from the environment is kept")
	require.Equal(t, 2, o.MaxAttempts, "attempts from the environment are kept")
	require.NotEqual(t, "none", o.Retry)

	// A real run needs the key, the assistant and the phone number, from flags or the environment.
	b.env = map[string]string{envDatabaseURL: noDatabaseURL, envAPIKey: "key", "VAPI_ASSISTANT_ID": "a", "VAPI_PHONE_NUMBER_ID": "p"}
	o, code = parse(t, b, newRunCmd, "run", "customers.csv", "--detach")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "p", o.PhoneNumberID)
	require.Equal(t, "service", string(o.mode()))
	require.Equal(t, 1.0, o.retryTimeScale())

	b.env = map[string]string{envDatabaseURL: noDatabaseURL}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad window", []string{"run", "f.csv", "--dry-run", "--window", "mon-fry 09:00-17:00"}, "fry"},
		{"bad timezone", []string{"run", "f.csv", "--dry-run", "--timezone", "Mars/Olympus"}, "Mars/Olympus"},
		{"local timezone", []string{"run", "f.csv", "--dry-run", "--timezone", "Local"}, "--timezone"},
		{"bad region", []string{"run", "f.csv", "--dry-run", "--default-region", "XX"}, "XX"},
		{"bad delimiter", []string{"run", "f.csv", "--dry-run", "--delimiter", "::"}, "delimiter"},
		{"bad format", []string{"run", "f.csv", "--dry-run", "--format", "yaml"}, "yaml"},
		{"unknown flag", []string{"run", "f.csv", "--dry-runn"}, "dry-runn"},
		{"no file", []string{"run"}, "arg"},
		{"no API key", []string{"run", "f.csv"}, "VAPI_API_KEY"},
		{"negative rate", []string{"run", "f.csv", "--dry-run", "--rate", "-1"}, "--rate must be zero"},
		{"no concurrency", []string{"run", "f.csv", "--dry-run", "--max-concurrent", "0"}, "--max-concurrent must be at least 1"},
		{"no attempts", []string{"run", "f.csv", "--dry-run", "--max-attempts", "0"}, "--max-attempts must be at least 1"},
		{"negative preview", []string{"run", "f.csv", "--dry-run", "--preview", "-1"}, "--preview must be zero or more"},
		{"detach simulate", []string{"run", "f.csv", "--detach", "--simulate"}, "--detach and --simulate do not go together"},
		{"detach dry run", []string{"run", "f.csv", "--detach", "--dry-run"}, "--detach and --dry-run do not go together"},
		{"bad retry", []string{"run", "f.csv", "--dry-run", "--retry", "answered=1@1h"}, "--retry"},
		{"padded key", []string{"run", "f.csv", "--dry-run", "--callback-key", " when"}, "--callback-key must be"},
		{"bad public URL", []string{"run", "f.csv", "--dry-run", "--public-url", "ftp://x"}, "--public-url must start with https://"},
		{"bad webhooks", []string{"run", "f.csv", "--dry-run", "--webhooks", "relay"}, "--webhooks"},
		{"zero max cost", []string{"run", "f.csv", "--dry-run", "--max-cost", "0"}, "--max-cost must be an amount in USD above 0"},
		{"negative max cost", []string{"run", "f.csv", "--dry-run", "--max-cost", "-5"}, "--max-cost must be"},
		{"max cost not a number", []string{"run", "f.csv", "--dry-run", "--max-cost", "$5"}, `got "$5"`},
		{"zero predial timeout", []string{"run", "f.csv", "--dry-run", "--predial-timeout", "0s"}, "--predial-timeout must be above zero"},
		{"predial URL not http", []string{"run", "f.csv", "--dry-run", "--predial-url", "ftp://x/check"}, "--predial-url must be an absolute https://"},
		{"predial URL relative", []string{"run", "f.csv", "--dry-run", "--predial-url", "/check"}, "--predial-url must be an absolute https://"},
		{"predial URL without host", []string{"run", "f.csv", "--dry-run", "--predial-url", "https:///check"}, "--predial-url must be an absolute https://"},
		{"notify URL not http", []string{"run", "f.csv", "--dry-run", "--notify-url", "ftp://hooks/T/secret"}, "--notify-url must be an absolute https://"},
		{"notify URL relative", []string{"run", "f.csv", "--dry-run", "--notify-url", "hooks.slack.com/services/T"}, "--notify-url must be an absolute https://"},
		{"bad notify spike", []string{"run", "f.csv", "--dry-run", "--notify-spike", "50/20"}, "--notify-spike"},
		{"notify spike out of range", []string{"run", "f.csv", "--dry-run", "--notify-spike", "0%/20"}, "the percentage must be 1 to 100"},
		{"zero notify timeout", []string{"run", "f.csv", "--dry-run", "--notify-timeout", "0s"}, "--notify-timeout must be above zero"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireUsage(t, b, newRunCmd, tt.want, tt.args...)
		})
	}
	b.env[envAPIKey] = "key"
	requireUsage(t, b, newRunCmd, "--assistant-id (or VAPI_ASSISTANT_ID), --squad-id, --workflow-id or --assistant FILE is required", "run", "f.csv")
	requireUsage(t, b, newRunCmd, "--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required", "run", "f.csv", "--assistant-id", "a")
	requireUsage(t, b, newRunCmd, "--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required", "run", "f.csv", "--squad-id", "s")
}

func TestRunTargetFlags(t *testing.T) {
	b := setupFlags(t)
	dir := t.TempDir()
	asstFile := filepath.Join(dir, "assistant.json")
	require.NoError(t, os.WriteFile(asstFile, []byte(`{"name": "Acme",
		"firstMessage": "Hi {{first_name}}"}`), 0o600))
	notObject := filepath.Join(dir, "list.json")
	require.NoError(t, os.WriteFile(notObject, []byte(`[1]`), 0o600))

	b.env = map[string]string{envDatabaseURL: noDatabaseURL, envAPIKey: "key", "VAPI_PHONE_NUMBER_ID": "p"}
	for _, tt := range []struct {
		name                   string
		args                   []string
		assistant, squad, flow string
		inline                 string
	}{
		{"assistant", []string{"--assistant-id", "a-1"}, "a-1", "", "", ""},
		{"squad", []string{"--squad-id", "sq-1"}, "", "sq-1", "", ""},
		{"workflow", []string{"--workflow-id", "wf-1"}, "", "", "wf-1", ""},
		{"inline assistant", []string{"--assistant", asstFile}, "", "", "", `{"firstMessage":"Hi {{first_name}}","name":"Acme"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b.env["VAPI_ASSISTANT_ID"] = "" // no target from the environment
			o, code := parse(t, b, newRunCmd, append([]string{"run", "f.csv"}, tt.args...)...)
			require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
			require.Equal(t, tt.assistant, o.AssistantID)
			require.Equal(t, tt.squad, o.SquadID)
			require.Equal(t, tt.flow, o.WorkflowID)
			require.Equal(t, tt.inline, string(o.Assistant))

			// Another target on the command line wins over VAPI_ASSISTANT_ID.
			b.env["VAPI_ASSISTANT_ID"] = "a-env"
			o, code = parse(t, b, newRunCmd, append([]string{"run", "f.csv"}, tt.args...)...)
			require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
			require.Equal(t, tt.assistant, o.AssistantID)
		})
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"two targets", []string{"--assistant-id", "a", "--squad-id", "s"}, "--assistant-id and --squad-id: give one of"},
		{"three targets", []string{"--squad-id", "s", "--workflow-id", "w", "--assistant", asstFile}, "--squad-id and --workflow-id and --assistant: give one of"},
		{"missing assistant file", []string{"--assistant", filepath.Join(dir, "none.json")}, "--assistant: open"},
		{"assistant file not an object", []string{"--assistant", notObject}, "not a JSON object of an assistant"},
		{"workflow with webhooks override", []string{"--workflow-id", "w", "--webhooks", "override"}, "--webhooks override does not go with --workflow-id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireUsage(t, b, newRunCmd, tt.want, append([]string{"run", "f.csv", "--dry-run"}, tt.args...)...)
		})
	}
}

func TestResumeFlags(t *testing.T) {
	b := setupFlags(t)
	requireUsage(t, b, newResumeCmd, "set VAPI_API_KEY to your Vapi private API key (or use --simulate)", "resume", "nov")
	requireUsage(t, b, newResumeCmd, "accepts 1 arg(s), received 0", "resume", "--simulate")

	// The routing is the campaign's unless its flag is given; the environment gives only the
	// receiver's address (and a simulation's public URL).
	b.env["CAMPAIGN_PUBLIC_URL"] = "https://tunnel.example.com"
	b.env["CAMPAIGN_WEBHOOK_LISTEN"] = "127.0.0.1:9000"
	b.env["CAMPAIGN_RATE"] = "7"
	b.env["VAPI_ASSISTANT_ID"] = "asst-from-env"
	o, code := parse(t, b, newResumeCmd, "resume", "nov", "--simulate", "--phone-number-id", "pn", "--retry-failed")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "nov", o.Ref)
	require.True(t, o.Simulate)
	require.True(t, o.RetryFailed)
	require.Equal(t, routingGiven{PhoneNumberID: true}, o.Given)
	require.Equal(t, "pn", o.PhoneNumberID)
	require.Empty(t, o.AssistantID, "the campaign's assistant, not VAPI_ASSISTANT_ID")
	require.Equal(t, "https://tunnel.example.com", o.PublicURL)
	require.Equal(t, "127.0.0.1:9000", o.WebhookListen)
	require.Zero(t, o.Pacing, "the stored pacing stays unless a flag changes it")
	require.Equal(t, "simulated", string(o.mode()))

	b.env = map[string]string{envDatabaseURL: noDatabaseURL, envAPIKey: "key"}
	o, code = parse(t, b, newResumeCmd, "resume", "12", "--rate", "2", "--window", "mon-fri 10:00-18:00",
		"--public-url", "https://hooks.example.com", "--webhooks", "poll", "--detach")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, routingGiven{PublicURL: true, Webhooks: true}, o.Given)
	require.Equal(t, 2.0, *o.Pacing.RatePerSecond)
	require.Equal(t, "mon-fri 10:00-18:00", *o.Pacing.WindowSpec)
	require.Nil(t, o.Pacing.MaxConcurrent)
	require.Equal(t, "service", string(o.mode()))

	requireUsage(t, b, newResumeCmd, "--max-concurrent must be at least 1", "resume", "nov", "--max-concurrent", "0")
	requireUsage(t, b, newResumeCmd, "fry", "resume", "nov", "--window", "mon-fry 10:00-18:00")
	o, code = parse(t, b, newResumeCmd, "resume", "nov", "--max-cost", "80")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, 80.0, *o.Pacing.MaxCostUSD, "resume raises the cap and continues in one command")

	requireUsage(t, b, newResumeCmd, "--predial-timeout must be above zero", "resume", "nov", "--predial-timeout", "-1s")

	b.env[envPredialTimeout] = "750ms"
	o, code = parse(t, b, newResumeCmd, "resume", "nov", "--predial-url", "https://crm.example.com/check")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, 750*time.Millisecond, o.PredialTimeout, "from the environment")
	require.Equal(t, "https://crm.example.com/check", *o.Pacing.PredialURL)
}

func TestSetFlags(t *testing.T) {
	b := setupFlags(t)
	o, code := parse(t, b, newSetCmd, "set", "nov", "--max-attempts", "4", "--do-not-call-key", "dnc")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "nov", o.Ref)
	require.Equal(t, 4, *o.Pacing.MaxAttempts)
	require.Equal(t, "dnc", *o.Pacing.DoNotCallKey)
	require.Nil(t, o.Pacing.RatePerSecond)
	require.Nil(t, o.Pacing.PredialURL)
	o, code = parse(t, b, newSetCmd, "set", "nov", "--predial-url", "https://crm.example.com/check")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "https://crm.example.com/check", *o.Pacing.PredialURL)
	o, code = parse(t, b, newSetCmd, "set", "nov", "--predial-url", "")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Empty(t, *o.Pacing.PredialURL, "an empty URL removes the hook")

	requireUsage(t, b, newSetCmd, "nothing to set: give --rate", "set", "nov")
	requireUsage(t, b, newSetCmd, "--predial-url must be an absolute https://", "set", "nov", "--predial-url", "crm.example.com")
	o, code = parse(t, b, newSetCmd, "set", "nov", "--notify-url", "https://hooks.slack.com/services/T/B/X", "--notify-spike", "25% / 8")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "https://hooks.slack.com/services/T/B/X", *o.Pacing.NotifyURL)
	require.Equal(t, "25%/8", *o.Pacing.NotifySpike, "canonical")
	requireUsage(t, b, newSetCmd, "--notify-spike", "set", "nov", "--notify-spike", "often")
	requireUsage(t, b, newSetCmd, "--notify-url must be an absolute https://", "set", "nov", "--notify-url", "hooks.slack.com/services/T/B/X")
	require.NotContains(t, b.stderr.String(), "services/T/B/X", "a bad notify URL is shown masked")
	requireUsage(t, b, newSetCmd, "fry", "set", "nov", "--window", "mon-fry 10:00-18:00")
	requireUsage(t, b, newSetCmd, "--max-concurrent must be at least 1", "set", "nov", "--max-concurrent", "0")
	requireUsage(t, b, newSetCmd, "--rate must be 0 (no limit) or more", "set", "nov", "--rate", "-2")
	requireUsage(t, b, newSetCmd, "--retry", "set", "nov", "--retry", "busy")

	// --max-cost sets the cap; "none" removes it (0 in campaign.Pacing); 0 is refused.
	o, code = parse(t, b, newSetCmd, "set", "nov", "--max-cost", "25")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, 25.0, *o.Pacing.MaxCostUSD)
	o, code = parse(t, b, newSetCmd, "set", "nov", "--max-cost", "none")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, 0.0, *o.Pacing.MaxCostUSD)
	requireUsage(t, b, newSetCmd, "--max-cost must be an amount in USD above 0", "set", "nov", "--max-cost", "0")
	requireUsage(t, b, newSetCmd, "--max-cost must be", "set", "nov", "--max-cost", "lots")
	requireUsage(t, b, newSetCmd, "--max-cost must be", "set", "nov", "--max-cost", "")
}

func TestPauseCancelDeleteFlags(t *testing.T) {
	b := setupFlags(t)
	p, code := parse(t, b, newPauseCmd, "pause", "nov")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "nov", p.Ref)
	requireUsage(t, b, newPauseCmd, "accepts 1 arg(s), received 2", "pause", "nov", "dec")

	c, code := parse(t, b, newCancelCmd, "cancel", "12")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "12", c.Ref)
	requireUsage(t, b, newCancelCmd, "accepts 1 arg(s), received 0", "cancel")

	d, code := parse(t, b, newDeleteCmd, "delete", "a", "b", "--purge")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, []string{"a", "b"}, d.Refs)
	require.True(t, d.Purge)
	require.False(t, d.Force)
	requireUsage(t, b, newDeleteCmd, "requires at least 1 arg(s)", "delete")
}

func TestServeFlags(t *testing.T) {
	b := setupFlags(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"NoAPIKey", map[string]string{}, nil, "set VAPI_API_KEY"},
		{"OneRiverUICredential", map[string]string{envAPIKey: "k", envRiverUIUser: "ops"}, nil,
			"set both CAMPAIGN_RIVERUI_USER and CAMPAIGN_RIVERUI_PASSWORD"},
		{"NegativeGrace", map[string]string{envAPIKey: "k"}, []string{"--grace", "-1s"}, "--grace must be zero or more"},
		{"ZeroPredialTimeout", map[string]string{envAPIKey: "k"}, []string{"--predial-timeout", "0s"}, "--predial-timeout must be above zero"},
		{"ZeroNotifyTimeout", map[string]string{envAPIKey: "k"}, []string{"--notify-timeout", "0s"}, "--notify-timeout must be above zero"},
		{"BadNotifyURL", map[string]string{envAPIKey: "k", envNotifyURL: "hooks.example.com/x"}, nil, "--notify-url must be an absolute https://"},
		{"Argument", map[string]string{envAPIKey: "k"}, []string{"extra"}, "unknown command"},
		{"ConsoleUserWithoutPassword", map[string]string{envAPIKey: "k", envConsoleOperator: "ops"}, nil,
			"CAMPAIGN_CONSOLE_OPERATOR: operator credential 1: want user:password"},
		{"ConsoleShortPassword", map[string]string{envAPIKey: "k", envConsoleViewer: "ann:pw"}, nil,
			"CAMPAIGN_CONSOLE_VIEWER: viewer credential 1 (user ann): the password is shorter than 8 characters"},
		{"ConsoleUserInBothRoles", map[string]string{envAPIKey: "k", envConsoleOperator: "ann:long-password",
			envConsoleViewer: "ann:other-password"}, nil, "console user ann is in both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.env = tc.env
			requireUsage(t, b, newServeCmd, tc.want, append([]string{"serve"}, tc.args...)...)
			require.NotContains(t, b.stderr.String(), "long-password", "no password in the error")
			require.NotContains(t, b.stderr.String(), "other-password", "no password in the error")
		})
	}

	b.env = map[string]string{envAPIKey: "k", envListen: "0.0.0.0:9090", envVapiBaseURL: "http://sim:8090"}
	o, code := parse(t, b, newServeCmd, "serve", "--adopt-orphans")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "0.0.0.0:9090", o.Listen, "the listen address comes from the environment")
	require.Equal(t, "http://sim:8090", o.VapiBaseURL)
	require.True(t, o.AdoptOrphans)
	require.Equal(t, 5*time.Second, o.PredialTimeout, "the default")
	b.env[envPredialTimeout] = "2s"
	o, code = parse(t, b, newServeCmd, "serve", "--listen", "127.0.0.1:7000", "--grace", "0s")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "127.0.0.1:7000", o.Listen)
	require.Zero(t, o.Grace)
	require.Equal(t, 2*time.Second, o.PredialTimeout, "from the environment")
	require.Equal(t, 10*time.Second, o.NotifyTimeout, "the default")
	require.Empty(t, o.NotifyURL)
	b.env[envNotifyURL], b.env[envNotifyTimeout] = "https://hooks.slack.com/services/T/B/X", "3s"
	o, code = parse(t, b, newServeCmd, "serve")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "https://hooks.slack.com/services/T/B/X", o.NotifyURL, "from the environment")
	require.Equal(t, 3*time.Second, o.NotifyTimeout, "from the environment")
	require.Empty(t, o.consoleUsers, "no console without users")
	b.env[envConsoleOperator], b.env[envConsoleViewer] = "ann:long-password,bob:other-password", "cy:third-password"
	o, code = parse(t, b, newServeCmd, "serve")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, []console.User{{Name: "ann", Password: "long-password", Role: console.RoleOperator},
		{Name: "bob", Password: "other-password", Role: console.RoleOperator}, {Name: "cy", Password: "third-password", Role: console.RoleViewer}},
		o.consoleUsers)
}

func TestReportFlags(t *testing.T) {
	b := setupFlags(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "accepts 1 arg(s), received 0"},
		{[]string{"report", "d", "e"}, "accepts 1 arg(s), received 2"},
		{[]string{"report", "d", "--format", "pdf"}, `--format "pdf": want text, json, csv or html`},
		{[]string{"report", "d", "--top", "0"}, "--top must be at least 1"},
		{[]string{"report", "d", "--colour"}, "unknown flag: --colour"},
	} {
		requireUsage(t, b, newReportCmd, tt.want, tt.args...)
	}

	b.env[envVapiBaseURL] = "http://sim:8090"
	o, code := parse(t, b, newReportCmd, "report", "d", "--format", "html", "-o", "r.html", "--analytics", "--top", "3")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "d", o.Ref)
	require.Equal(t, "html", string(o.format))
	require.Equal(t, "r.html", o.Output)
	require.True(t, o.Analytics)
	require.Equal(t, "http://sim:8090", o.VapiBaseURL)
	require.Equal(t, 3, o.Top)
}

func TestExportFlags(t *testing.T) {
	b := setupFlags(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter", "colour=red"}, `unknown key "colour"`},
		{[]string{"--filter", "state=happy"}, `unknown state "happy"`},
		{[]string{"--filter", "outcome=answered"}, `unknown outcome "answered"`},
		{[]string{"--filter", "no_answer"}, "want KEY=VALUE"},
		{[]string{"--filter", "outcome="}, "needs a value"},
		{[]string{"--format", "xml"}, "want csv or jsonl"},
		{[]string{"--format", "jsonl", "--excel"}, "--excel applies to --format csv only"},
	} {
		requireUsage(t, b, newExportCmd, tt.want, append([]string{"export", "exp"}, tt.args...)...)
	}
	requireUsage(t, b, newExportCmd, "accepts 1 arg(s), received 0", "export")

	o, code := parse(t, b, newExportCmd, "export", "exp", "--attempts", "--format", "jsonl",
		"--filter", "STATE = completed, failed", "--filter", "outcome=none")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "exp", o.Ref)
	require.True(t, o.Attempts)
	require.Equal(t, "jsonl", string(o.format))
	require.Equal(t, []string{"completed", "failed"}, []string{string(o.filter.States[0]), string(o.filter.States[1])})
	require.Equal(t, []string{""}, o.filter.Outcomes, "none: no outcome yet")
}

func TestStatusListWaitFlags(t *testing.T) {
	b := setupFlags(t)
	requireUsage(t, b, newListCmd, `--format "yaml": want text or json`, "list", "--format", "yaml")
	requireUsage(t, b, newStatusCmd, `--format "xml": want text or json`, "status", "nov", "--format", "xml")
	requireUsage(t, b, newStatusCmd, "--interval must be more than 0", "status", "nov", "--watch", "--interval", "0s")
	requireUsage(t, b, newStatusCmd, "accepts 1 arg(s), received 0", "status")
	requireUsage(t, b, newWaitCmd, "accepts 1 arg(s), received 0", "wait")
	requireUsage(t, b, newWaitCmd, "--interval must be more than 0", "wait", "nov", "--interval", "-1s")

	s, code := parse(t, b, newStatusCmd, "status", "nov", "--watch", "--interval", "5s", "--format", "json")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, statusOptions{Ref: "nov", Format: "json", Watch: true, Interval: 5 * time.Second}, *s)
	w, code := parse(t, b, newWaitCmd, "wait", "nov", "--exit-status")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, waitOptions{Ref: "nov", ExitStatus: true, Interval: 2 * time.Second}, *w)
}

func TestHealthcheckFlags(t *testing.T) {
	b := setupFlags(t)
	requireUsage(t, b, newHealthcheckCmd, `--listen "nonsense": want HOST:PORT`, "healthcheck", "--listen", "nonsense")
	requireUsage(t, b, newHealthcheckCmd, "unknown command", "healthcheck", "extra")

	o, code := parse(t, b, newHealthcheckCmd, "healthcheck")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "http://127.0.0.1:8080/healthz", o.url)
	b.env[envListen] = "0.0.0.0:9090"
	o, code = parse(t, b, newHealthcheckCmd, "healthcheck", "--ready")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "http://127.0.0.1:9090/readyz", o.url, "serve's address from the environment, asked on loopback")
	o, code = parse(t, b, newHealthcheckCmd, "healthcheck", "--listen", "10.0.0.5:8080", "--timeout", "1s")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "http://10.0.0.5:8080/healthz", o.url, "a flag wins over its env variable")
	require.Equal(t, time.Second, o.Timeout)
}

func TestSuppressFlags(t *testing.T) {
	b := setupFlags(t)
	for _, tc := range []struct {
		newCmd func(*app, func(*suppressOptions) error) *cobra.Command
		args   []string
		want   string
	}{
		{newSuppressAddCmd, []string{"suppress", "add"}, "arg"},
		{newSuppressRemoveCmd, []string{"suppress", "remove"}, "arg"},
		{newSuppressImportCmd, []string{"suppress", "import"}, "arg"},
		{newSuppressAddCmd, []string{"suppress", "add", "+12125550187", "--default-region", "XX"}, "XX"},
		{newSuppressListCmd, []string{"suppress", "list", "--format", "yaml"}, "yaml"},
		{newSuppressListCmd, []string{"suppress", "list", "extra"}, "extra"},
	} {
		requireUsage(t, b, tc.newCmd, tc.want, tc.args...)
	}
	// The group itself: an unknown subcommand, or none.
	require.Equal(t, exitUsage, b.execute(t, nil, "suppress", "frobnicate"))
	require.Contains(t, b.stderr.String(), "frobnicate")
	require.Equal(t, exitUsage, b.execute(t, nil, "suppress"))
	require.Contains(t, b.stderr.String(), "add, import, list or remove")

	b.env["CAMPAIGN_DEFAULT_REGION"] = " gb "
	o, code := parse(t, b, newSuppressAddCmd, "suppress", "add", "020 7946 0018", "07700 900123", "--reason", "complaint")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, suppressOptions{Args: []string{"020 7946 0018", "07700 900123"}, Reason: "complaint", DefaultRegion: "GB"}, *o)
	o, code = parse(t, b, newSuppressImportCmd, "suppress", "import", "-", "--default-region", "de")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, suppressOptions{Args: []string{"-"}, Reason: "manual", DefaultRegion: "DE"}, *o)
	o, code = parse(t, b, newSuppressListCmd, "suppress", "list", "--format", "csv")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "csv", o.Format)
}

// TestScheduleFlags: run reads --start-at and --end-by in --timezone (given) as absolute times and
// checks them at its clock (2026-11-22 23:30 UTC); set and resume take them as changes, "none"
// or "" removing one (a zero time in campaign.Pacing).
func TestScheduleFlags(t *testing.T) {
	b := setupFlags(t)
	o, code := parse(t, b, newRunCmd, "run", "c.csv", "--dry-run")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Nil(t, o.startAt)
	require.Nil(t, o.endBy)

	_, code = parse(t, b, newRunCmd, "run", "c.csv", "--dry-run", "--timezone", "America/New_York",
		"--start-at", "2026-11-23 09:00", "--end-by", "+1h30m")
	require.Equal(t, exitUsage, code, "the end (01:00 UTC) comes before the start (14:00 UTC)")
	require.Contains(t, b.stderr.String(), "the end must come after the start")

	o, code = parse(t, b, newRunCmd, "run", "c.csv", "--dry-run", "--timezone", "America/New_York",
		"--start-at", "2026-11-23 09:00", "--end-by", "2026-11-23T17:00:00-05:00")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.True(t, o.startAt.Equal(time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)), "%s", o.startAt)
	require.True(t, o.endBy.Equal(time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC)), "%s", o.endBy)

	o, code = parse(t, b, newRunCmd, "run", "c.csv", "--simulate", "--start-at", "+2h")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.True(t, o.startAt.Equal(time.Date(2026, 11, 23, 1, 30, 0, 0, time.UTC)), "%s", o.startAt)
	requireUsage(t, b, newRunCmd, "--end-by 2026-11-22", "run", "c.csv", "--simulate", "--end-by", "2026-11-22T12:00:00Z")

	s, code := parse(t, b, newSetCmd, "set", "nov", "--start-at", "none", "--end-by", "2026-11-24T18:00:00Z")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.True(t, s.Pacing.StartAt.IsZero(), "none removes the start")
	require.True(t, s.Pacing.EndBy.Equal(time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)))
	require.Nil(t, s.Pacing.RatePerSecond)
	s, code = parse(t, b, newSetCmd, "set", "nov", "--end-by", "")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.True(t, s.Pacing.EndBy.IsZero(), `"" removes the end`)
	require.Nil(t, s.Pacing.StartAt)
	requireUsage(t, b, newSetCmd, "is not a time", "set", "nov", "--start-at", "monday")

	r, code := parse(t, b, newResumeCmd, "resume", "nov", "--simulate", "--start-at", "+30m")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.True(t, r.Pacing.StartAt.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)))
}
