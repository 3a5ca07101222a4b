package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/vapispec"
)

func TestRunLikeFlags(t *testing.T) {
	b := setupFlags(t)
	o, code := parse(t, b, newRunCmd, "run", "--like", "nov", "--dry-run")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "nov", o.Like)
	require.Empty(t, o.File, "no FILE: the source's contacts")

	o, code = parse(t, b, newRunCmd, "run", "--like", "nov", "dec.csv", "--phone-column", "mobile", "--dry-run")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "dec.csv", o.File)
	require.Equal(t, "mobile", o.PhoneColumn, "FILE's columns may be named")

	// A real run --like needs the key now; the assistant and number may be the source's.
	b.env[envAPIKey] = "key"
	o, code = parse(t, b, newRunCmd, "run", "--like", "nov")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Empty(t, o.AssistantID, "filled from the source when the run loads it")
	delete(b.env, envAPIKey)

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no file, no like", []string{"run", "--dry-run"}, "give the CSV FILE (or - for stdin), or --like CAMPAIGN"},
		{"two files", []string{"run", "a.csv", "b.csv", "--dry-run"}, "accepts at most 1 arg(s), received 2"},
		{"no API key", []string{"run", "--like", "nov"}, "VAPI_API_KEY"},
		{"phone column without file", []string{"run", "--like", "nov", "--dry-run", "--phone-column", "tel"}, "--phone-column applies to FILE"},
		{"delimiter without file", []string{"run", "--like", "nov", "--dry-run", "--delimiter", ";"}, "--delimiter applies to FILE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireUsage(t, b, newRunCmd, tt.want, tt.args...)
		})
	}
}

// TestApplyLikeFlags: the source's settings fill every option whose flag was not given on the
// command line; a simulation keeps its own routing, hours and single attempt.
func TestApplyLikeFlags(t *testing.T) {
	src := &campaign.Campaign{Name: "nov", Settings: campaign.Settings{
		AssistantID: "asst-nov", PhoneNumberID: "pn-nov", PublicURL: "https://nov.example.com",
		Webhooks: campaign.WebhooksPoll, WindowSpec: "mon-fri 09:00-17:00", DefaultTimeZone: "Europe/London",
		DefaultRegion: "GB", RatePerSecond: 3, MaxConcurrent: 4, RetryPolicy: "busy=1@5m", MaxAttempts: 2,
		CallbackKey: "cb", DoNotCallKey: "dnc", MaxCostUSD: new(12.5),
	}}
	for _, tt := range []struct {
		name    string
		opts    runOptions
		changed []string
		check   func(t *testing.T, o *runOptions)
	}{
		{"nothing given", runOptions{Rate: 1, MaxConcurrent: 10, Window: "09:00-20:00"}, nil, func(t *testing.T, o *runOptions) {
			require.Equal(t, "asst-nov", o.AssistantID)
			require.Equal(t, "pn-nov", o.PhoneNumberID)
			require.Equal(t, "https://nov.example.com", o.PublicURL)
			require.Equal(t, "poll", o.Webhooks)
			require.Equal(t, "mon-fri 09:00-17:00", o.Window)
			require.Equal(t, "Europe/London", o.TimeZone)
			require.Equal(t, "GB", o.DefaultRegion)
			require.Equal(t, 3.0, o.Rate)
			require.Equal(t, 4, o.MaxConcurrent)
			require.Equal(t, "busy=1@5m", o.Retry)
			require.Equal(t, 2, o.MaxAttempts)
			require.Equal(t, "cb", o.CallbackKey)
			require.Equal(t, "dnc", o.DoNotCallKey)
			require.Equal(t, "12.5", o.MaxCost, "the budget cap, as the flag would give it")
		}},
		{"flags given win", runOptions{Rate: 5, callOptions: callOptions{AssistantID: "asst-dec"}, Window: "always", MaxCost: "none"},
			[]string{"rate", "assistant-id", "window", "max-cost"}, func(t *testing.T, o *runOptions) {
				require.Equal(t, "none", o.MaxCost)
				require.Equal(t, 5.0, o.Rate)
				require.Equal(t, "asst-dec", o.AssistantID)
				require.Equal(t, "always", o.Window)
				require.Equal(t, "pn-nov", o.PhoneNumberID, "what was not given is copied")
				require.Equal(t, 4, o.MaxConcurrent)
			}},
		{"an environment default is not a flag given", runOptions{Rate: 2.5}, nil, func(t *testing.T, o *runOptions) {
			require.Equal(t, 3.0, o.Rate, "CAMPAIGN_RATE does not override the copy")
		}},
		{"max attempts given keeps the copied retry policy out", runOptions{MaxAttempts: 5, Retry: "none"}, []string{"max-attempts"},
			func(t *testing.T, o *runOptions) {
				require.Equal(t, 5, o.MaxAttempts)
				require.Equal(t, "none", o.Retry, "retry policy and attempts go together")
			}},
		{"simulation", runOptions{Window: "always", Retry: "none", MaxAttempts: 1, callOptions: callOptions{Simulate: true}}, nil,
			func(t *testing.T, o *runOptions) {
				require.Empty(t, o.AssistantID, "the simulator's own")
				require.Empty(t, o.PhoneNumberID)
				require.Empty(t, o.PublicURL, "the simulation's own receiver")
				require.Equal(t, "always", o.Window)
				require.Equal(t, "none", o.Retry)
				require.Equal(t, 1, o.MaxAttempts)
				require.Equal(t, 3.0, o.Rate, "pacing is copied")
				require.Equal(t, "GB", o.DefaultRegion)
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			changed := map[string]bool{}
			for _, f := range tt.changed {
				changed[f] = true
			}
			o := tt.opts
			o.applyLike(&likeSource{campaign: src}, func(flag string) bool { return changed[flag] })
			tt.check(t, &o)
		})
	}
}

// TestLikeSettingsFlags: the copy starts from the whole Settings struct, less the secret and the
// pre-flight's decisions.
func TestLikeSettingsFlags(t *testing.T) {
	o := &runOptions{}
	require.Equal(t, campaign.Settings{}, o.likeSettings(), "without --like: nothing copied")
	o.like = &likeSource{campaign: &campaign.Campaign{Settings: campaign.Settings{
		AssistantID: "a", Overrides: json.RawMessage(`{"firstMessage":"Hi"}`), WebhookSecret: "s3cret",
		KeepServer: true, ServerMessages: []string{"end-of-call-report"}, RetryTimeScale: 60,
	}}}
	s := o.likeSettings()
	require.Equal(t, "a", s.AssistantID)
	require.JSONEq(t, `{"firstMessage":"Hi"}`, string(s.Overrides))
	require.Empty(t, s.WebhookSecret, "never the source's secret")
	require.False(t, s.KeepServer)
	require.Nil(t, s.ServerMessages)
}

// TestRunLike copies a campaign: its settings, less what flags given change, a new secret, and
// its contacts (phone, name, variables; never states) or a new file's.
func TestRunLike(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	overrides := writeFile(t, dir, "overrides.json", `{"firstMessage":"Hello {{first_name}}"}`)
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov", "--assistant-id", "asst-nov",
		"--phone-number-id", "pn-nov", "--public-url", "https://nov.example.com", "--webhooks", "override",
		"--window", "mon-fri 09:00-17:00", "--timezone", "America/Chicago", "--rate", "3", "--max-concurrent", "4",
		"--retry", "busy=1@5m", "--max-attempts", "2", "--callback-key", "cb", "--do-not-call-key", "dnc",
		"--overrides", overrides), "stderr: %s", b.stderr)
	ctx := context.Background()
	store := campaign.NewStore(b.pool(t))
	nov, err := store.CampaignByRef(ctx, "nov")
	require.NoError(t, err)
	// The source has moved on: its contacts' states must not come along.
	_, err = b.pool(t).Exec(ctx, `UPDATE contact SET attempts = 1 WHERE campaign_id = $1`, nov.ID)
	require.NoError(t, err)

	t.Run("same contacts, a flag given", func(t *testing.T) {
		require.Equal(t, exitOK, b.run(t, "run", "--like", "nov", "--dry-run", "--format", "json", "--name", "dec", "--rate", "5",
			"--rejects", filepath.Join(dir, "dec.rejects.csv")), "stderr: %s", b.stderr)
		var report dryRunReport
		require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &report), "%s", b.stdout)
		dec, err := store.CampaignByRef(ctx, "dec")
		require.NoError(t, err)
		want := nov.Settings
		want.RatePerSecond = 5
		want.WebhookSecret = dec.WebhookSecret
		require.Equal(t, want, dec.Settings, "everything copied but the rate given")
		require.NotEmpty(t, dec.WebhookSecret)
		require.NotEqual(t, nov.WebhookSecret, dec.WebhookSecret, "a new secret")
		require.Equal(t, nov.SourceFile, dec.SourceFile)
		require.Equal(t, nov.Columns, dec.Columns)

		src, err := store.Contacts(ctx, nov.ID, 100)
		require.NoError(t, err)
		got, err := store.Contacts(ctx, dec.ID, 100)
		require.NoError(t, err)
		require.Len(t, got, len(src))
		for i := range got {
			require.Equal(t, src[i].Phone, got[i].Phone)
			require.Equal(t, src[i].Name, got[i].Name)
			require.Equal(t, src[i].Fields, got[i].Fields)
			require.Equal(t, src[i].TimeZones, got[i].TimeZones)
			require.Equal(t, campaign.ContactPending, got[i].State)
			require.Zero(t, got[i].Attempts, "never the source's attempts")
		}
		// The copy's calls are valid CreateCallDTOs (strictly: no unknown property), with the
		// copied overrides.
		spec := vapispec.ForTest(t)
		require.Len(t, report.Calls, 3)
		for _, body := range report.Calls {
			require.NoError(t, spec.Validate("CreateCallDTO", body, true), "%s", body)
			var call struct {
				AssistantID        string `json:"assistantId"`
				AssistantOverrides struct {
					FirstMessage string `json:"firstMessage"`
				} `json:"assistantOverrides"`
			}
			require.NoError(t, json.Unmarshal(body, &call))
			require.Equal(t, "asst-nov", call.AssistantID)
			require.Equal(t, "Hello {{first_name}}", call.AssistantOverrides.FirstMessage, "the copied overrides")
		}
	})

	t.Run("new file", func(t *testing.T) {
		other := writeFile(t, dir, "jan.csv", "mobile;name;plan\n+14155550100;Ann;gold\n+14155550101;Bob;silver\n")
		require.Equal(t, exitOK, b.run(t, "run", "--like", "nov", other, "--dry-run", "--name", "jan"), "stderr: %s", b.stderr)
		jan, err := store.CampaignByRef(ctx, "jan")
		require.NoError(t, err)
		require.Equal(t, "asst-nov", jan.AssistantID)
		require.Equal(t, 3.0, jan.RatePerSecond)
		require.Equal(t, other, jan.SourceFile)
		got, err := store.Contacts(ctx, jan.ID, 100)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "+14155550100", got[0].Phone)
	})

	t.Run("errors", func(t *testing.T) {
		require.Equal(t, exitError, b.run(t, "run", "--like", "oct", "--dry-run"))
		require.Contains(t, b.stderr.String(), `no campaign "oct" (by name or id); see them with: campaign list`)
		require.Equal(t, exitUsage, b.run(t, "run", "--like", "nov", "--dry-run", "--name", "nov"))
		require.Contains(t, b.stderr.String(), "give the copy another --name")

		empty := writeFile(t, dir, "empty.csv", "phone,name\n12,Too short\n")
		require.Equal(t, exitOK, b.run(t, "run", empty, "--dry-run", "--name", "none"), "stderr: %s", b.stderr)
		require.Equal(t, exitUsage, b.run(t, "run", "--like", "none", "--dry-run"))
		require.Contains(t, b.stderr.String(), "campaign none has no contacts to copy: give --like none a FILE")
	})
}

// TestRunLikeSimulated runs the copy of a campaign on the simulator to the end.
func TestRunLikeSimulated(t *testing.T) {
	b := setup(t)
	b.realClock = true
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov", "--assistant-id", "asst-real",
		"--phone-number-id", "pn-real", "--public-url", "https://nov.example.com", "--window", "mon-fri 09:00-17:00",
		"--rate", "0"), "stderr: %s", b.stderr)
	code := b.run(t, "run", "--like", "nov", "--simulate", "--sim-time-scale", "1200", "--name", "nov-sim",
		"--allow-missing-variables", "--rejects", filepath.Join(dir, "sim.rejects.csv"))
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	c, err := campaign.NewStore(b.pool(t)).CampaignByRef(context.Background(), "nov-sim")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, c.Status)
	require.Equal(t, campaign.ModeSimulated, c.Mode)
	require.NotEqual(t, "asst-real", c.AssistantID, "the simulator's own assistant")
	require.Contains(t, b.stderr.String(), "contacts final")
}
