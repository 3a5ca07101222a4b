package vapitest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestSimulatorTargets: calls placed by a squad, a workflow and a transient assistant are
// accepted (strictly validated), echoed in the call with their overrides, and report to the
// server their overrides name; unknown squads and workflows and two targets get Vapi's 400;
// GET /squad/{id} answers a Squad, or Vapi's 404.
func TestSimulatorTargets(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)
	squad := vapi.Squad{ID: "sq-1", Name: "Collections", Members: []vapi.SquadMember{
		{AssistantID: vapitest.AssistantCollections},
		{Assistant: &vapi.Assistant{Name: "Closer", FirstMessage: "Thanks {{first_name}}."}},
	}}
	b := setup(t, vapitest.Config{Seed: 7, Spec: spec, Squads: []vapi.Squad{squad}, WorkflowIDs: []string{"wf-1"}})
	ctx := context.Background()

	got, err := b.client.GetSquad(ctx, "sq-1")
	require.NoError(t, err)
	require.Equal(t, "Collections", got.Name)
	require.Len(t, got.Members, 2)
	require.Equal(t, "Closer", got.Members[1].Assistant.Name)
	code, body, _ := b.raw(t, http.MethodGet, "/squad/sq-1", nil)
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, spec.Validate("Squad", body, false), "%s", body)
	code, body, _ = b.raw(t, http.MethodGet, "/squad/sq-none", nil)
	require.Equal(t, http.StatusNotFound, code)
	requireNestError(t, http.StatusNotFound, body, "Not Found")
	_, err = b.client.GetSquad(ctx, "sq-none")
	var apiErr *vapi.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.StatusCode)

	runner := &vapi.AssistantOverrides{
		VariableValues: map[string]any{"first_name": "Jane"},
		Metadata:       map[string]any{"attempt_key": "k"},
		Server:         &vapi.Server{URL: b.rc.srv.URL},
		ServerMessages: []vapi.ServerMessageType{vapi.ServerMessageTypeEndOfCallReport},
	}
	customer := func(n string) *vapi.CreateCustomerDTO { return &vapi.CreateCustomerDTO{Number: "+1201555010" + n} }
	tests := []struct {
		name      string
		dto       *vapi.CreateCallDTO
		key, echo string // where the target and the overrides come back in the call
	}{
		{"squad", &vapi.CreateCallDTO{Name: "sq", SquadID: "sq-1", PhoneNumberID: "p", Customer: customer("1"), SquadOverrides: runner},
			"squadId", "squadOverrides"},
		{"workflow", &vapi.CreateCallDTO{Name: "wf", WorkflowID: "wf-1", PhoneNumberID: "p", Customer: customer("2"),
			WorkflowOverrides: &vapi.WorkflowOverrides{VariableValues: map[string]any{"first_name": "Jane"}}},
			"workflowId", "workflowOverrides"},
		{"inline assistant", &vapi.CreateCallDTO{Name: "in", PhoneNumberID: "p", Customer: customer("3"), AssistantOverrides: runner,
			Assistant: json.RawMessage(`{"name": "Inline", "firstMessage": "Hi {{first_name}}."}`)},
			"assistant", "assistantOverrides"},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		call, err := b.client.CreateCall(ctx, tt.dto)
		require.NoError(t, err, tt.name)
		ids[tt.name] = call.ID
		code, body, _ := b.raw(t, http.MethodGet, "/call/"+call.ID, nil)
		require.Equal(t, http.StatusOK, code)
		require.NoError(t, spec.Validate("Call", body, false), "%s", body)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &m))
		require.Contains(t, m, tt.key, tt.name)
		require.Contains(t, string(m[tt.echo]), "Jane", tt.name)
		require.NotContains(t, m, "assistantId", tt.name)
	}

	// The squad's and the inline assistant's overrides route their reports to the runner; the
	// workflow's call has no server to report to.
	waitFor(t, b.sim, "the squad's and the inline assistant's reports", func() bool {
		n := 0
		for _, d := range b.sim.Deliveries() {
			if d.Type == vapi.ServerMessageTypeEndOfCallReport && d.OK() && d.URL == b.rc.srv.URL {
				n++
			}
		}
		return n == 2
	})
	for _, d := range b.sim.Deliveries() {
		require.NotEqual(t, ids["workflow"], d.CallID, "a workflow call without a server posts nothing")
	}

	for _, tt := range []struct {
		name string
		dto  *vapi.CreateCallDTO
		want string
	}{
		{"unknown squad", &vapi.CreateCallDTO{SquadID: "sq-none", PhoneNumberID: "p", Customer: customer("4")},
			"Couldn't Get Squad. `squadId` sq-none Does Not Exist."},
		{"unknown workflow", &vapi.CreateCallDTO{WorkflowID: "wf-none", PhoneNumberID: "p", Customer: customer("5")},
			"Couldn't Get Workflow. `workflowId` wf-none Does Not Exist."},
		{"two targets", &vapi.CreateCallDTO{AssistantID: vapitest.AssistantCollections, SquadID: "sq-1", PhoneNumberID: "p", Customer: customer("6")},
			vapitest.MessageTargets},
	} {
		code, resp, _ := b.raw(t, http.MethodPost, "/call", tt.dto)
		require.Equal(t, http.StatusBadRequest, code, tt.name)
		requireNestError(t, http.StatusBadRequest, resp, tt.want)
	}
}
