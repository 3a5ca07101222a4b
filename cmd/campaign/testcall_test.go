package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

func TestTestCallFlags(t *testing.T) {
	b := setupFlags(t)
	b.env[envAPIKey] = "key"
	b.env["VAPI_ASSISTANT_ID"] = "asst-env"
	b.env["VAPI_PHONE_NUMBER_ID"] = "pn-env"
	b.env["CAMPAIGN_DEFAULT_REGION"] = "gb"
	b.env["CAMPAIGN_PUBLIC_URL"] = "https://tunnel.example.com"
	o, code := parse(t, b, newTestCallCmd, "call", "020 7946 0018", "--from-file", "customers.csv", "--assistant-id", "asst-flag")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, "+442079460018", o.Number, "NUMBER in E.164 by --default-region")
	require.Equal(t, "GB", o.DefaultRegion, "env fills a flag that was not given, upper-cased")
	require.Equal(t, "asst-flag", o.AssistantID, "a flag wins over its env variable")
	require.Equal(t, "pn-env", o.PhoneNumberID)
	require.Equal(t, "https://tunnel.example.com", o.PublicURL)
	require.Equal(t, 1, o.Row)
	require.Equal(t, 10*time.Minute, o.Timeout)
	require.Equal(t, "text", o.Format)
	require.Equal(t, "auto", o.Webhooks)
	require.Equal(t, vapi.DefaultBaseURL, o.VapiBaseURL)

	// A simulated call needs no key, assistant or phone number.
	b.env = map[string]string{envDatabaseURL: noDatabaseURL}
	o, code = parse(t, b, newTestCallCmd, "call", "+14155550100", "--from-file", "-", "--simulate", "--row", "3", "--format", "json")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Equal(t, 3, o.Row)
	require.Equal(t, "stdin", o.source())

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no number", []string{"call", "--from-file", "f.csv", "--simulate"}, "arg"},
		{"bad number", []string{"call", "12", "--from-file", "f.csv", "--simulate"}, `NUMBER "12"`},
		{"no file", []string{"call", "+14155550100", "--simulate"}, "--from-file is required"},
		{"row zero", []string{"call", "+14155550100", "--from-file", "f.csv", "--simulate", "--row", "0"}, "--row must be 1 or more"},
		{"no timeout", []string{"call", "+14155550100", "--from-file", "f.csv", "--simulate", "--timeout", "0s"}, "--timeout must be positive"},
		{"bad format", []string{"call", "+14155550100", "--from-file", "f.csv", "--simulate", "--format", "yaml"}, "yaml"},
		{"bad region", []string{"call", "+14155550100", "--from-file", "f.csv", "--simulate", "--default-region", "XX"}, "XX"},
		{"bad delimiter", []string{"call", "+14155550100", "--from-file", "f.csv", "--simulate", "--delimiter", "::"}, "delimiter"},
		{"bad public URL", []string{"call", "+14155550100", "--from-file", "f.csv", "--simulate", "--public-url", "ftp://x"}, "--public-url must start with https://"},
		{"bad webhooks", []string{"call", "+14155550100", "--from-file", "f.csv", "--simulate", "--webhooks", "relay"}, "--webhooks"},
		{"bad time scale", []string{"call", "+14155550100", "--from-file", "f.csv", "--simulate", "--sim-time-scale", "0"}, "--sim-time-scale"},
		{"no API key", []string{"call", "+14155550100", "--from-file", "f.csv"}, "VAPI_API_KEY"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireUsage(t, b, newTestCallCmd, tt.want, tt.args...)
		})
	}
	b.env[envAPIKey] = "key"
	requireUsage(t, b, newTestCallCmd, "--assistant-id (or VAPI_ASSISTANT_ID) is required", "call", "+14155550100", "--from-file", "f.csv")
	requireUsage(t, b, newTestCallCmd, "--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required", "call", "+14155550100", "--from-file", "f.csv", "--assistant-id", "a")

	// The shell completes --format and --webhooks.
	require.Equal(t, exitOK, b.execute(t, nil, "__complete", "call", "+14155550100", "--webhooks", ""), "stderr: %s", b.stderr)
	require.Equal(t, "auto\noverride\npoll\n:4\n", b.stdout.String())
	require.Equal(t, exitOK, b.execute(t, nil, "__complete", "call", "+14155550100", "--format", ""), "stderr: %s", b.stderr)
	require.Equal(t, "text\njson\n:4\n", b.stdout.String())
}

// TestTestCallRowUsage checks that a --row the campaign would not call is a usage error, found
// in the file before Vapi is reached (the base URL leads nowhere) and with no database.
func TestTestCallRowUsage(t *testing.T) {
	file := writeFile(t, t.TempDir(), "rows.csv", "phone,first_name\n+14155550101,Ann\nnot a number,Bo\n+1 415 555 0101,Cy\n\n+14155550104,Di\n")
	b := setupFlags(t)
	b.env[envAPIKey] = "key"
	for _, tt := range []struct {
		row  string
		want string
	}{
		{"2", "--row 2 (line 3) would not be called: invalid_phone"},
		{"3", "--row 3 (line 4) would not be called: its number is also on line 2"},
		{"5", "--row 5: " + file + " has 4 data row(s)"},
	} {
		t.Run(tt.row, func(t *testing.T) {
			code := b.execute(t, nil, "call", "+14155550100", "--from-file", file, "--row", tt.row,
				"--assistant-id", "a", "--phone-number-id", "p", "--vapi-base-url", "http://127.0.0.1:1")
			require.Equal(t, exitUsage, code, "stderr: %s", b.stderr)
			require.Contains(t, b.stderr.String(), tt.want)
			require.Empty(t, b.stdout.String())
		})
	}
}

// TestTestCallSimulated places a test call on the built-in simulator, with no database: the
// result is printed, and the variables the assistant uses that the row leaves without a value
// are warned about, the call placed all the same.
func TestTestCallSimulated(t *testing.T) {
	file := writeFile(t, t.TempDir(), "nofirst.csv", "phone,due_date,amount_due\n+12015550100,2026-12-01,\n")
	b := setupFlags(t)
	code := b.execute(t, nil, "call", "+14155550100", "--from-file", file, "--simulate", "--sim-time-scale", "600", "--sim-seed", "3")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "no real call is placed")
	require.Contains(t, b.stderr.String(), "Warning: the assistant uses {{first_name}}, which no column supplies")
	require.NotContains(t, b.stderr.String(), "{{amount_due}}", "a variable with a default is no warning")
	require.NotContains(t, b.stderr.String(), "{{due_date}}")
	require.Regexp(t, `Call\s+\S+ to \+14155550100 \(row 1, line 2\)\nOutcome\s+\S+ \(ended reason \S+\)`, b.stdout.String())

	empty := writeFile(t, t.TempDir(), "empty.csv", "phone,first_name\n+12015550100,\n")
	code = b.execute(t, nil, "call", "+14155550100", "--from-file", empty, "--simulate", "--sim-time-scale", "600")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), `Warning: the assistant uses {{first_name}}, which is empty in this row (column "first_name")`)
}

// TestTestCallSendsTheDialWorkersRequest runs a real campaign on a simulated Vapi on loopback
// (which validates every POST /call against Vapi's OpenAPI schema), then `campaign call` with
// the same flags for row 2 and no database at all: the body it sends is the dial worker's body
// for that row but for customer.number (the operator's) and the ids (zero: no campaign's
// attempt), and it prints the call's summary and cost as the simulator has them.
func TestTestCallSendsTheDialWorkersRequest(t *testing.T) {
	t.Parallel()
	sim := vapitest.New(vapitest.Config{TimeScale: 600, Seed: 9, OutcomeMix: vapitest.OutcomeMix{Completed: 1},
		Spec: vapispec.ForTest(t)})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hookAddr := ln.Addr().String()
	require.NoError(t, ln.Close())

	const secret = "tc-webhook-secret-0123456789"
	b := setup(t)
	b.realClock = true
	b.env[envAPIKey] = sim.Config().APIKey
	b.env[envWebhookSecret] = secret
	dir := t.TempDir()
	file := writeFile(t, dir, "tc.csv", "phone,name,first_name,amount_due\n+12015550100,Ann Lee,Ann,10.00\n+12015550101,Bo Ray,Bo,20.50\n+12015550102,Cy Ng,Cy,30.00\n")
	overrides := writeFile(t, dir, "overrides.json", `{"firstMessage":"Hi {{first_name}}","variableValues":{"agent":"Alex","first_name":"(row wins)"},"metadata":{"team":"ops"}}`)
	shaping := []string{"--name", "tc", "--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-1",
		"--vapi-base-url", api.URL, "--public-url", "http://" + hookAddr, "--overrides", overrides}

	code := b.run(t, append([]string{"run", file, "--webhook-listen", hookAddr, "--window", "always", "--rate", "0",
		"--retry", "none", "--max-attempts", "1"}, shaping...)...)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	var worker json.RawMessage
	for _, r := range sim.CreateRequests() {
		if r.Number == "+12015550101" {
			worker = r.Body
		}
	}
	require.NotNil(t, worker, "the dial worker called row 2")
	placed := len(sim.CreateRequests())

	b.env[envDatabaseURL] = noDatabaseURL // the test call opens no database
	code = b.run(t, append([]string{"call", "(415) 555-0199", "--from-file", file, "--row", "2", "--format", "json"}, shaping...)...)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	reqs := sim.CreateRequests()
	require.Len(t, reqs, placed+1, "one call placed")
	sent := reqs[placed]
	require.Equal(t, "+14155550199", sent.Number, "the operator's number is called")

	want, got := decodeObject(t, worker), decodeObject(t, sent.Body)
	delete(want["customer"].(map[string]any), "number")
	delete(got["customer"].(map[string]any), "number")
	key := campaign.AttemptKey(0, 0, 1)
	want["name"] = key
	want["customer"].(map[string]any)["externalId"] = key
	meta := want["assistantOverrides"].(map[string]any)["metadata"].(map[string]any)
	meta["campaign_id"], meta["contact_id"], meta["attempt_key"] = 0.0, 0.0, key
	require.Equal(t, want, got, "the dial worker's body for row 2, ids aside")
	require.Equal(t, secret, got["assistantOverrides"].(map[string]any)["server"].(map[string]any)["headers"].(map[string]any)["X-Vapi-Secret"],
		"the call carries the campaign's webhook routing")

	var res testCallResult
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &res), "stdout: %s", b.stdout)
	client, err := vapi.NewClient(sim.Config().APIKey, &vapi.Config{BaseURL: api.URL})
	require.NoError(t, err)
	call, err := client.GetCall(context.Background(), sent.CallID)
	require.NoError(t, err)
	require.True(t, call.Ended())
	require.Equal(t, sent.CallID, res.CallID)
	require.Equal(t, 2, res.Row)
	require.Equal(t, 3, res.Line)
	require.Equal(t, string(campaign.OutcomeCompleted), res.Outcome)
	require.Equal(t, call.EndedReason, res.EndedReason)
	require.NotEmpty(t, res.Summary)
	require.Equal(t, call.Analysis.Summary, res.Summary)
	require.Equal(t, call.Analysis.SuccessEvaluation, res.SuccessEvaluation)
	require.JSONEq(t, string(call.Analysis.StructuredData), string(res.StructuredData))
	require.NotNil(t, res.Cost)
	require.Equal(t, *call.Cost, *res.Cost)
	require.NotEmpty(t, res.Transcript)
	shown := decodeObject(t, res.Request)
	headers := shown["assistantOverrides"].(map[string]any)["server"].(map[string]any)["headers"].(map[string]any)
	require.Equal(t, redacted, headers["X-Vapi-Secret"], "the request shown has its secret redacted")
	headers["X-Vapi-Secret"] = secret
	require.Equal(t, decodeObject(t, sent.Body), shown, "and is otherwise the body sent")
	require.NotContains(t, b.stdout.String()+b.stderr.String(), secret, "secrets are never printed")

	// The text form shows the same.
	code = b.run(t, append([]string{"call", "(415) 555-0199", "--from-file", file, "--row", "2"}, shaping...)...)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	out := b.stdout.String()
	require.Regexp(t, `Outcome\s+completed \(ended reason `, out)
	require.Contains(t, out, "Transcript:\n")
	require.NotContains(t, out+b.stderr.String(), secret)
}

// decodeObject decodes a JSON object.
func decodeObject(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m
}
