package jobs_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// targetCampaign is testCampaign with a per-contact target column (column 4) and a per-contact
// overrides column (column 5).
func targetCampaign(header string) *campaign.Campaign {
	c := testCampaign()
	c.Columns = append(c.Columns, header, "assistant_overrides")
	target, overrides := 4, 5
	c.TargetColumn, c.OverridesColumn = &target, &overrides
	c.Overrides = json.RawMessage(`{"firstMessage":"Hi","variableValues":{"plan":"basic"}}`)
	c.PublicURL = "https://hooks.example.com"
	return c
}

func targetContact(target, overrides string) *campaign.Contact {
	ct := testContact()
	ct.Fields = append(ct.Fields, target, overrides)
	return ct
}

// TestCreateCallRequestRowTarget checks that a row's target places its call: an assistant row
// as assistantId with assistantOverrides, a squad row as squadId with squadOverrides (a bare
// id in a squad_id column is a squad), an empty cell the campaign's own target; each carries the
// variables, the row's overrides, the metadata and the runner's server, and validates strictly
// against Vapi's CreateCallDTO.
func TestCreateCallRequestRowTarget(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)
	const (
		rowAsst  = "a1f0c6a2-7b1e-4c59-9d33-000000000002"
		rowSquad = "5e1d0a7c-3b2f-4c8e-9a61-000000000001"
	)
	tests := []struct {
		name, header, cell   string
		wantAssistant, squad string
	}{
		{name: "AssistantRow", header: "assistant_id", cell: rowAsst, wantAssistant: rowAsst},
		{name: "SquadRow", header: "assistant_id", cell: "squad:" + rowSquad, squad: rowSquad},
		{name: "BareSquad", header: "squad_id", cell: rowSquad, squad: rowSquad},
		{name: "CampaignsOwn", header: "assistant_id", cell: "", wantAssistant: testCampaign().AssistantID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := targetCampaign(tt.header)
			req, err := jobs.CreateCallRequest(c, targetContact(tt.cell, `{"firstMessage":"Hola {{first_name}}"}`), 1)
			require.NoError(t, err)
			body, err := json.Marshal(req)
			require.NoError(t, err)
			require.NoError(t, spec.Validate("CreateCallDTO", body, true), "%s", body)

			require.Equal(t, tt.wantAssistant, req.AssistantID)
			require.Equal(t, tt.squad, req.SquadID)
			o := req.AssistantOverrides
			if tt.squad != "" {
				require.Nil(t, req.AssistantOverrides)
				o = req.SquadOverrides
			} else {
				require.Nil(t, req.SquadOverrides)
			}
			require.NotNil(t, o)
			require.JSONEq(t, `"Hola {{first_name}}"`, string(o.Extra["firstMessage"]), "the row's overrides")
			require.Equal(t, "basic", o.VariableValues["plan"], "the campaign's overrides")
			require.Equal(t, "Jane", o.VariableValues["first_name"])
			require.NotContains(t, o.VariableValues, tt.header, "the target column is no variable")
			require.Equal(t, int64(7), o.Metadata["contact_id"])
			require.NotNil(t, o.Server)
			require.Equal(t, "https://hooks.example.com"+jobs.WebhookPath, o.Server.URL)
		})
	}

	t.Run("AssistantRowOfAWorkflowCampaign", func(t *testing.T) {
		t.Parallel()
		c := targetCampaign("assistant_id")
		c.AssistantID, c.WorkflowID, c.Overrides, c.KeepServer = "", "wf-1", nil, true
		req, err := jobs.CreateCallRequest(c, targetContact(rowAsst, ""), 1)
		require.NoError(t, err)
		require.Equal(t, rowAsst, req.AssistantID)
		require.Empty(t, req.WorkflowID)
		require.Nil(t, req.AssistantOverrides.Server, "the campaign keeps the server: results are polled")
		body, err := json.Marshal(req)
		require.NoError(t, err)
		require.NoError(t, spec.Validate("CreateCallDTO", body, true), "%s", body)
	})
}

// TestEndToEndRowTargets runs a campaign whose rows name an assistant, a squad or nothing (the
// campaign's assistant) on the simulator: each call went to its row's target, every body
// validates against Vapi's CreateCallDTO, and the campaign finishes with every result recorded.
func TestEndToEndRowTargets(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)
	csv := "phone,first_name,assistant_id\n" +
		"+1 415 555 2001,Ada,squad:" + vapitest.SquadReminders + "\n" +
		"+1 415 555 2002,Bob," + vapitest.AssistantAppointment + "\n" +
		"+1 415 555 2003,Cy,\n"
	b := setupE2EFile(t, csv, campaign.ReaderOptions{}, 2, vapitest.Faults{})
	b.startRunner(t)
	p := b.waitFinal(t, time.Minute)
	require.Equal(t, 3, p.Total)
	b.checkGuarantees(t, 2)

	type sent struct {
		AssistantID    string          `json:"assistantId"`
		SquadID        string          `json:"squadId"`
		SquadOverrides json.RawMessage `json:"squadOverrides"`
	}
	want := map[string]sent{
		"+14155552001": {SquadID: vapitest.SquadReminders},
		"+14155552002": {AssistantID: vapitest.AssistantAppointment},
		"+14155552003": {AssistantID: vapitest.AssistantCollections},
	}
	seen := map[string]bool{}
	for _, req := range b.sim.CreateRequests() {
		require.NoError(t, spec.Validate("CreateCallDTO", req.Body, true), "%s", req.Body)
		var body sent
		require.NoError(t, json.Unmarshal(req.Body, &body))
		w, ok := want[req.Number]
		require.True(t, ok, "unexpected number %s", req.Number)
		require.Equal(t, w.AssistantID, body.AssistantID, req.Number)
		require.Equal(t, w.SquadID, body.SquadID, req.Number)
		require.Equal(t, w.SquadID != "", len(body.SquadOverrides) > 0, req.Number)
		seen[req.Number] = true
	}
	require.Len(t, seen, 3)
}
