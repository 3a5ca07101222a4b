package jobs_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// rowCampaign is testCampaign with a per-contact overrides column (column 4) and the
// campaign's own overrides.
func rowCampaign(overrides string) *campaign.Campaign {
	c := testCampaign()
	c.Columns = append(c.Columns, "assistant_overrides")
	col := 4
	c.OverridesColumn = &col
	c.Overrides = json.RawMessage(overrides)
	return c
}

func rowContact(cell string) *campaign.Contact {
	ct := testContact()
	ct.Fields = append(ct.Fields, cell)
	return ct
}

func TestMergeOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, campaign, row, want string
	}{
		{"NoRow", `{"firstMessage":"Hi"}`, "", `{"firstMessage":"Hi"}`},
		{"NoCampaign", "", `{"firstMessage":"Yo"}`, `{"firstMessage":"Yo"}`},
		{"RowScalarWins", `{"firstMessage":"Hi","maxDurationSeconds":300}`, `{"firstMessage":"Yo"}`,
			`{"firstMessage":"Yo","maxDurationSeconds":300}`},
		{"ObjectsMergeRecursively", `{"voice":{"provider":"11labs","voiceId":"a","chunkPlan":{"enabled":true}}}`,
			`{"voice":{"voiceId":"b","chunkPlan":{"minCharacters":30}}}`,
			`{"voice":{"provider":"11labs","voiceId":"b","chunkPlan":{"enabled":true,"minCharacters":30}}}`},
		{"ArraysReplaced", `{"serverMessages":["status-update","end-of-call-report"]}`, `{"serverMessages":["hang"]}`,
			`{"serverMessages":["hang"]}`},
		{"NumbersKeptAsWritten", `{"metadata":{"big":12345678901234567890}}`, `{"metadata":{"small":1.50}}`,
			`{"metadata":{"big":12345678901234567890,"small":1.50}}`},
		{"ObjectReplacesScalar", `{"metadata":"x"}`, `{"metadata":{"a":1}}`, `{"metadata":{"a":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := jobs.MergeOverrides(json.RawMessage(tt.campaign), json.RawMessage(tt.row))
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
	got, err := jobs.MergeOverrides(json.RawMessage(`{"metadata":{"big":12345678901234567890}}`), json.RawMessage(`{"x":1}`))
	require.NoError(t, err)
	require.Contains(t, string(got), "12345678901234567890", "not rounded through float64")
	_, err = jobs.MergeOverrides(nil, json.RawMessage(`[1]`))
	require.ErrorContains(t, err, "not a JSON object")
}

// TestCreateCallRequestRowOverrides checks the precedence of a call's overrides: the row's
// template variables over the row's overrides over the campaign's.
func TestCreateCallRequestRowOverrides(t *testing.T) {
	t.Parallel()
	c := rowCampaign(`{"firstMessage":"Hi","maxDurationSeconds":300,
		"variableValues":{"first_name":"campaign","company":"Acme","plan":"basic"}}`)
	tests := []struct {
		name      string
		cell      string
		wantFirst string
		wantVars  map[string]any
	}{
		{"EmptyCell", "", "Hi", map[string]any{"first_name": "Jane", "company": "Acme", "plan": "basic"}},
		{"RowWins", `{"firstMessage":"Yo","variableValues":{"first_name":"row","plan":"gold"}}`, "Yo",
			map[string]any{"first_name": "Jane", "company": "Acme", "plan": "gold"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := jobs.CreateCallRequest(c, rowContact(tt.cell), 1)
			require.NoError(t, err)
			o := req.AssistantOverrides
			require.JSONEq(t, strconv.Quote(tt.wantFirst), string(o.Extra["firstMessage"]))
			require.JSONEq(t, `300`, string(o.Extra["maxDurationSeconds"]))
			for k, v := range tt.wantVars {
				require.Equal(t, v, o.VariableValues[k], k)
			}
			require.Equal(t, "Jane Doe", o.VariableValues["name"])
		})
	}

	squad := rowCampaign(`{}`)
	squad.AssistantID, squad.SquadID = "", "sq-1"
	req, err := jobs.CreateCallRequest(squad, rowContact(`{"firstMessage":"Yo"}`), 1)
	require.NoError(t, err)
	require.Nil(t, req.AssistantOverrides)
	require.JSONEq(t, `"Yo"`, string(req.SquadOverrides.Extra["firstMessage"]), "a squad takes them as squadOverrides")
}

// TestCreateCallRequestRowOverridesConformance checks that a request carrying a row's
// overrides, nested ones merged, validates strictly against Vapi's CreateCallDTO.
func TestCreateCallRequestRowOverridesConformance(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)
	c := rowCampaign(`{"firstMessage":"Hi","voicemailMessage":"Call us back."}`)
	c.PublicURL = "https://hooks.example.com"
	req, err := jobs.CreateCallRequest(c, rowContact(`{"firstMessage":"Hi {{first_name}}","maxDurationSeconds":120,
		"variableValues":{"plan":"gold"},"metadata":{"crm":"x1"}}`), 1)
	require.NoError(t, err)
	body, err := json.Marshal(req)
	require.NoError(t, err)
	require.NoError(t, spec.Validate("CreateCallDTO", body, true), "%s", body)
	require.JSONEq(t, `120`, string(req.AssistantOverrides.Extra["maxDurationSeconds"]))
	require.Equal(t, "x1", req.AssistantOverrides.Metadata["crm"])
}

// TestEndToEndRowOverrides runs a campaign whose rows carry their own overrides on the
// simulator: each call's body has its row's overrides merged over the campaign's, and the
// campaign finishes with every result recorded.
func TestEndToEndRowOverrides(t *testing.T) {
	t.Parallel()
	csv := "phone,first_name,assistant_overrides\n" +
		"+1 415 555 2001,Ada,\"{\"\"firstMessage\"\":\"\"Hello Ada\"\",\"\"variableValues\"\":{\"\"plan\"\":\"\"gold\"\"}}\"\n" +
		"+1 415 555 2002,Bob,\n"
	b := setupE2EFile(t, csv, campaign.ReaderOptions{}, 2, vapitest.Faults{}, func(s *campaign.Settings) {
		s.Overrides = json.RawMessage(`{"firstMessage":"Hello","variableValues":{"plan":"basic"}}`)
	})
	b.startRunner(t)
	p := b.waitFinal(t, time.Minute)
	require.Equal(t, 2, p.Total)
	b.checkGuarantees(t, 2)

	type sent struct {
		AssistantOverrides struct {
			FirstMessage   string         `json:"firstMessage"`
			VariableValues map[string]any `json:"variableValues"`
		} `json:"assistantOverrides"`
	}
	want := map[string][2]string{"+14155552001": {"Hello Ada", "gold"}, "+14155552002": {"Hello", "basic"}}
	seen := map[string]bool{}
	for _, req := range b.sim.CreateRequests() {
		var body sent
		require.NoError(t, json.Unmarshal(req.Body, &body))
		w, ok := want[req.Number]
		require.True(t, ok, "unexpected number %s", req.Number)
		require.Equal(t, w[0], body.AssistantOverrides.FirstMessage, req.Number)
		require.Equal(t, w[1], body.AssistantOverrides.VariableValues["plan"], req.Number)
		require.NotContains(t, body.AssistantOverrides.VariableValues, "assistant_overrides", "not a template variable")
		seen[req.Number] = true
	}
	require.Len(t, seen, 2)
}
