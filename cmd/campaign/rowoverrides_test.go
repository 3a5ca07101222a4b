package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
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
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--format", "json", "--overrides-column", "extras",
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
}
