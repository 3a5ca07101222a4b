package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi"
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

// TestDryRunTargets runs --dry-run with each kind of target against a simulator that has a
// squad: the bodies shown carry the target and its overrides where Vapi takes them, and they
// validate strictly; the pre-flight reads the squad and checks every member's variables, and an
// inline assistant's from its file.
func TestDryRunTargets(t *testing.T) {
	spec := vapispec.ForTest(t)
	squad := vapi.Squad{ID: "sq-1", Name: "Collections", Members: []vapi.SquadMember{
		{AssistantID: vapitest.AssistantCollections},
		{Assistant: &vapi.Assistant{Name: "Closer", FirstMessage: "Your plan is {{plan_name}}."}},
	}}
	sim := vapitest.New(vapitest.Config{Squads: []vapi.Squad{squad}})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	file := writeFile(t, dir, "targets.csv", "phone,first_name,amount_due\n+1 415 555 0132,Jane,12.50\n")
	inline := writeFile(t, dir, "assistant.json", `{"name": "Inline", "firstMessage": "Hi {{first_name}}, {{balance}} is due."}`)

	b := setup(t)
	b.env[envAPIKey] = vapitest.DefaultAPIKey
	for _, tt := range []struct {
		name       string
		args       []string
		key, where string // the target's property and where the variables go
		missing    string // a variable reported MISSING, failing the dry run
		note       string
	}{
		{"squad", []string{"--squad-id", "sq-1"}, "squadId", "squadOverrides", "plan_name", `Assistant "Closer" uses 1 variables`},
		{"inline", []string{"--assistant", inline}, "assistant", "assistantOverrides", "balance", `Assistant "Inline" uses 2 variables`},
		{"workflow", []string{"--workflow-id", "wf-1"}, "workflowId", "workflowOverrides", "", "a workflow's {{variables}} are not checked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"run", file, "--dry-run", "--format", "json", "--name", "targets-" + tt.name,
				"--vapi-base-url", srv.URL, "--public-url", "https://hooks.example.com"}, tt.args...)
			code := b.run(t, args...)
			if tt.missing != "" {
				require.Equal(t, exitError, code, "stderr: %s", b.stderr)
				require.Contains(t, b.stderr.String(), tt.missing+" ")
				require.Contains(t, b.stderr.String(), "MISSING")
			} else {
				require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
			}
			require.Contains(t, b.stderr.String(), tt.note)
			var report struct {
				Calls []map[string]json.RawMessage `json:"calls"`
			}
			require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &report), b.stdout.String())
			require.Len(t, report.Calls, 1)
			call := report.Calls[0]
			body, err := json.Marshal(call)
			require.NoError(t, err)
			require.NoError(t, spec.Validate("CreateCallDTO", body, true), "%s", body)
			require.Contains(t, call, tt.key)
			require.NotContains(t, call, "assistantId")
			require.Contains(t, string(call[tt.where]), `"first_name": "Jane"`)
			if tt.name == "workflow" {
				require.NotContains(t, string(body), "hooks.example.com", "a workflow's call carries no server")
			} else {
				require.Contains(t, string(call[tt.where]), "https://hooks.example.com/vapi/webhook")
				require.Contains(t, string(call[tt.where]), `"X-Vapi-Secret": "[redacted]"`, "the secret never reaches stdout")
			}
		})
	}
}

// TestSimulateTargets places a whole campaign on the simulator with each kind of target: every
// contact gets a result (by webhook for the squad and the inline assistant, whose overrides
// carry the runner's server; by polling for the workflow), and the campaign keeps its target.
func TestSimulateTargets(t *testing.T) {
	dir := t.TempDir()
	inline := writeFile(t, dir, "assistant.json", `{"name": "Inline", "firstMessage": "Hi {{first_name}}."}`)
	file := writeFile(t, dir, "two.csv", "phone,first_name\n+1 415 555 0132,Jane\n+1 212 555 0187,Marcus\n")
	for _, tt := range []struct {
		name string
		args []string
		kind campaign.TargetKind
		// what status says places the calls, in text and JSON
		label, field string
	}{
		{"squad", []string{"--squad-id", vapitest.SquadReminders}, campaign.TargetSquad,
			"squad " + vapitest.SquadReminders, `"squad_id":"` + vapitest.SquadReminders + `"`},
		{"workflow", []string{"--workflow-id", "wf-1"}, campaign.TargetWorkflow, "workflow wf-1", `"workflow_id":"wf-1"`},
		{"inline", []string{"--assistant", inline}, campaign.TargetInlineAssistant, "inline assistant Inline", `"inline_assistant":"Inline"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			b.realClock = true
			code := b.run(t, append([]string{"run", file, "--simulate", "--sim-time-scale", "600", "--rate", "0", "--name", "sim-" + tt.name}, tt.args...)...)
			require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
			require.Contains(t, b.stderr.String(), "2 of 2 contacts final")
			store := campaign.NewStore(b.pool(t))
			c, err := store.CampaignByRef(context.Background(), "sim-"+tt.name)
			require.NoError(t, err)
			kind, _ := c.Target()
			require.Equal(t, tt.kind, kind)
			require.Equal(t, tt.kind == campaign.TargetWorkflow, c.KeepServer, "only a workflow's results are polled")
			var reports int
			require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT count(*) FROM webhook_event
				WHERE auth_campaign_id = $1 AND type = $2 AND applied_at IS NOT NULL`, c.ID, vapi.ServerMessageTypeEndOfCallReport).Scan(&reports))
			if tt.kind == campaign.TargetWorkflow {
				require.Zero(t, reports, "a workflow's call posts no webhook")
			} else {
				require.Equal(t, 2, reports, "each call's report arrives by webhook, authenticated and applied")
			}

			code = b.run(t, "status", "sim-"+tt.name)
			require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
			require.Contains(t, b.stdout.String(), ", "+tt.label+", phone number")
			code = b.run(t, "status", "sim-"+tt.name, "--format", "json")
			require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
			require.Contains(t, b.stdout.String(), tt.field)
		})
	}
}
