package main

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/reports"
	"github.com/campaign-run/campaign/reports/export"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestSimulatedRunWithTwoNumbers: a --simulate run from two numbers takes them in turn; status
// shows the pool, the exports name each call's number and the report counts the calls of each.
func TestSimulatedRunWithTwoNumbers(t *testing.T) {
	b := setup(t)
	b.realClock = true
	file := writeFile(t, t.TempDir(), "pool.csv", killContacts(6))
	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "1200", "--rate", "0", "--name", "pool",
		"--phone-number-id", "pn-east,pn-west", "--per-number-max-concurrent", "2")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "6 of 6 contacts final")
	require.Contains(t, b.stderr.String(), "Calling from 2 numbers (round-robin).")

	require.Equal(t, exitOK, b.run(t, "status", "pool"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "numbers:      pn-east, pn-west (round-robin); per number: max concurrent 2, daily cap none (UTC); same number on retry")
	require.Equal(t, exitOK, b.run(t, "status", "pool", "--format", "json"), "stderr: %s", b.stderr)
	var st struct {
		Settings struct {
			PhoneNumberID          string   `json:"phone_number_id"`
			PhoneNumberIDs         []string `json:"phone_number_ids"`
			PerNumberMaxConcurrent int      `json:"per_number_max_concurrent"`
		} `json:"settings"`
	}
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &st), "%s", b.stdout)
	require.Equal(t, "pn-east", st.Settings.PhoneNumberID)
	require.Equal(t, []string{"pn-east", "pn-west"}, st.Settings.PhoneNumberIDs)
	require.Equal(t, 2, st.Settings.PerNumberMaxConcurrent)

	require.Equal(t, exitOK, b.run(t, "export", "pool", "--attempts"), "stderr: %s", b.stderr)
	rows := readCSVBytes(t, b.stdout.Bytes())
	col := slices.Index(rows[0], "caller_number_id")
	require.GreaterOrEqual(t, col, 0, "%v", rows[0])
	perNumber := map[string]int{}
	for _, r := range rows[1:] {
		perNumber[r[col]]++
	}
	require.Equal(t, map[string]int{"pn-east": 3, "pn-west": 3}, perNumber, "one call each, in turn")

	require.Equal(t, exitOK, b.run(t, "export", "pool"), "stderr: %s", b.stderr)
	rows = readCSVBytes(t, b.stdout.Bytes())
	col = slices.Index(rows[0], export.ColCallerNumberID)
	require.GreaterOrEqual(t, col, 0, "%v", rows[0])
	perNumber = map[string]int{}
	for _, r := range rows[1:] {
		perNumber[r[col]]++
	}
	require.Equal(t, map[string]int{"pn-east": 3, "pn-west": 3}, perNumber)

	require.Equal(t, exitOK, b.run(t, "report", "pool", "--format", "json"), "stderr: %s", b.stderr)
	var r reports.Report
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r), "%s", b.stdout)
	require.Len(t, r.CallerNumbers, 2)
	for i, id := range []string{"pn-east", "pn-west"} {
		require.Equal(t, id, r.CallerNumbers[i].PhoneNumberID)
		require.Equal(t, 3, r.CallerNumbers[i].Calls)
		require.NotEmpty(t, r.CallerNumbers[i].Number, "the E.164 number the pre-flight read")
	}
	require.Equal(t, exitOK, b.run(t, "report", "pool"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "By caller number")
}

// TestPoolWebhookRouting: in a pool, a number other than the first with a server URL of its own
// keeps the calls' server in place (--webhooks auto), as the campaign's one number would.
func TestPoolWebhookRouting(t *testing.T) {
	sim := vapitest.New(vapitest.Config{PhoneNumbers: []vapi.PhoneNumber{
		{ID: "pn-plain", Number: "+12015550000"},
		{ID: "pn-crm", Name: "CRM line", Number: "+14155550000", Server: &vapi.Server{URL: "https://crm.example.com/vapi"}},
	}})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	file := writeFile(t, t.TempDir(), "dry.csv", "phone,first_name\n+12015550100,Ann\n")
	b := setup(t)
	b.env[envAPIKey] = sim.Config().APIKey
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--format", "json", "--assistant-id", vapitest.AssistantCollections,
		"--phone-number-id", "pn-plain,pn-crm", "--vapi-base-url", api.URL, "--public-url", "https://hooks.example.com"),
		"stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Phone number CRM line has its own server URL (https://crm.example.com): it is left in place")
}
