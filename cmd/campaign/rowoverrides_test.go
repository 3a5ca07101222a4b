package main

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestRowOverridesCheck checks the import's check of a row's overrides: merged over the
// campaign's, they must be assistantOverrides Vapi knows, and a workflow's only variables.
func TestRowOverridesCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, campaign, workflow, row, wantErr string
	}{
		{name: "Known", campaign: `{"firstMessage":"Hi"}`, row: `{"firstMessage":"Yo","voicemailMessage":"Call back","variableValues":{"a":"b"}}`},
		{name: "UnknownField", row: `{"firstMesage":"Yo"}`, wantErr: "property firstMesage should not exist"},
		{name: "UnknownNested", campaign: `{"voice":{"provider":"vapi","voiceId":"Elliot"}}`, row: `{"voice":{"speed":1.1,"bogus":1}}`,
			wantErr: "bogus"},
		{name: "WrongType", row: `{"maxDurationSeconds":"long"}`, wantErr: "maxDurationSeconds"},
		{name: "WorkflowVariables", workflow: "wf-1", row: `{"variableValues":{"plan":"gold"}}`},
		{name: "WorkflowMore", workflow: "wf-1", row: `{"firstMessage":"Yo"}`, wantErr: "a workflow call takes only variableValues, not firstMessage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check, err := rowOverridesCheck(json.RawMessage(tt.campaign), tt.workflow)
			require.NoError(t, err)
			err = check(json.RawMessage(tt.row))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestRunDryRunRowOverrides imports a file with an assistant_overrides column: rows whose cell
// Vapi would refuse are rejected as bad_overrides with the reason in the rejects file, the
// column is no template variable, and the request bodies shown carry each row's overrides.
func TestRunDryRunRowOverrides(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "c.csv", "phone,first_name,extras\n"+
		"+14155550101,Ada,\"{\"\"firstMessage\"\":\"\"Hello Ada\"\"}\"\n"+
		"+14155550102,Bob,{oops\n"+
		"+14155550103,Cy,\"{\"\"firstMesage\"\":\"\"typo\"\"}\"\n"+
		"+14155550104,Di,\n")
	overrides := writeFile(t, dir, "o.json", `{"firstMessage":"Hello","maxDurationSeconds":300}`)
	rejects := filepath.Join(dir, "rejects.csv")
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--format", "json", "--name", "src", "--overrides-column", "extras",
		"--overrides", overrides, "--rejects", rejects, "--preview", "5"), "stderr: %s", b.stderr)
	r := decodeReport(t, b.stdout.Bytes())
	require.Equal(t, 2, r.Accepted)
	require.Equal(t, map[string]int{"bad_overrides": 2}, r.RejectedByReason)
	require.Equal(t, "extras", r.Columns.Overrides)
	require.Equal(t, []string{"first_name"}, r.Variables)
	require.Len(t, r.Calls, 2)
	var first, second struct {
		AssistantOverrides map[string]any `json:"assistantOverrides"`
	}
	require.NoError(t, json.Unmarshal(r.Calls[0], &first))
	require.NoError(t, json.Unmarshal(r.Calls[1], &second))
	require.Equal(t, "Hello Ada", first.AssistantOverrides["firstMessage"])
	require.Equal(t, "Hello", second.AssistantOverrides["firstMessage"])
	require.InDelta(t, 300, first.AssistantOverrides["maxDurationSeconds"], 0)

	rows := readCSV(t, rejects)
	require.Len(t, rows, 3)
	require.Equal(t, []string{"phone", "first_name", "extras", "line", "reason", "detail"}, rows[0])
	require.Equal(t, "bad_overrides", rows[1][4])
	require.Contains(t, rows[1][5], "not valid JSON")
	require.Equal(t, "bad_overrides", rows[2][4])
	require.Contains(t, rows[2][5], "property firstMesage should not exist")

	// run --like without FILE reads the source's contacts in its columns, the overrides too.
	require.Equal(t, exitOK, b.run(t, "run", "--like", "src", "--dry-run", "--format", "json", "--name", "copy",
		"--rejects", filepath.Join(dir, "copy.rejects.csv")),
		"stderr: %s", b.stderr)
	r = decodeReport(t, b.stdout.Bytes())
	require.Equal(t, "extras", r.Columns.Overrides)
	require.Equal(t, 2, r.Accepted)
	require.NoError(t, json.Unmarshal(r.Calls[0], &first))
	require.Equal(t, "Hello Ada", first.AssistantOverrides["firstMessage"])
}

// TestRunRowOverridesOnSimulator runs a campaign whose file has an assistant_overrides column
// on a simulated Vapi that validates every POST /call strictly against Vapi's OpenAPI schema:
// each call carries its row's overrides merged over --overrides, and `campaign call` for a
// row sends the same overrides.
func TestRunRowOverridesOnSimulator(t *testing.T) {
	t.Parallel()
	sim := vapitest.New(vapitest.Config{TimeScale: 600, Seed: 11, OutcomeMix: vapitest.OutcomeMix{Completed: 1},
		Spec: vapispec.ForTest(t)})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)

	b := setup(t)
	b.realClock = true
	b.env[envAPIKey] = sim.Config().APIKey
	dir := t.TempDir()
	file := writeFile(t, dir, "ro.csv", "phone,first_name,assistant_overrides\n"+
		"+12015550100,Ann,\"{\"\"firstMessage\"\":\"\"Hi Ann\"\",\"\"maxDurationSeconds\"\":120,\"\"metadata\"\":{\"\"tier\"\":\"\"vip\"\"}}\"\n"+
		"+12015550101,Bo,\n")
	overrides := writeFile(t, dir, "o.json", `{"firstMessage":"Hello","metadata":{"team":"ops"}}`)
	shaping := []string{"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-1",
		"--vapi-base-url", api.URL, "--overrides", overrides}
	code := b.run(t, append([]string{"run", file, "--name", "ro", "--window", "always", "--rate", "0",
		"--retry", "none", "--max-attempts", "1"}, shaping...)...)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)

	type body struct {
		AssistantOverrides struct {
			FirstMessage       string            `json:"firstMessage"`
			MaxDurationSeconds float64           `json:"maxDurationSeconds"`
			Metadata           map[string]any    `json:"metadata"`
			VariableValues     map[string]string `json:"variableValues"`
		} `json:"assistantOverrides"`
	}
	sent := map[string]body{}
	for _, r := range sim.CreateRequests() {
		require.Equal(t, 201, r.Status, "the schema-checking simulator took %s", r.Body)
		var got body
		require.NoError(t, json.Unmarshal(r.Body, &got))
		sent[r.Number] = got
	}
	require.Len(t, sent, 2)
	ann, bo := sent["+12015550100"].AssistantOverrides, sent["+12015550101"].AssistantOverrides
	require.Equal(t, "Hi Ann", ann.FirstMessage)
	require.InDelta(t, 120, ann.MaxDurationSeconds, 0)
	require.Equal(t, "vip", ann.Metadata["tier"])
	require.Equal(t, "ops", ann.Metadata["team"], "objects merge")
	require.NotContains(t, ann.VariableValues, "assistant_overrides", "not a template variable")
	require.Equal(t, "Hello", bo.FirstMessage, "an empty cell leaves the campaign's overrides")
	require.Zero(t, bo.MaxDurationSeconds)

	b.env[envDatabaseURL] = noDatabaseURL
	placed := len(sim.CreateRequests())
	code = b.run(t, append([]string{"call", "(415) 555-0199", "--from-file", file, "--row", "1", "--format", "json"}, shaping...)...)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	reqs := sim.CreateRequests()
	require.Len(t, reqs, placed+1)
	var test body
	require.NoError(t, json.Unmarshal(reqs[placed].Body, &test))
	require.Equal(t, "Hi Ann", test.AssistantOverrides.FirstMessage, "the test call carries the row's overrides too")
}
