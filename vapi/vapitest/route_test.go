package vapitest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestSimulatorServerPrecedence checks that server messages go where Vapi sends them: a tool's
// tool-calls to the tool's own server, everything else to assistantOverrides.server, else the
// assistant's server, else the phone number's; and that the simulator records what went where.
func TestSimulatorServerPrecedence(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)
	toolRc, asstRc, phoneRc := newReceiver(t), newReceiver(t), newReceiver(t)
	withServer := vapitest.DefaultAssistants()[0]
	withServer.ID = "a1f0c6a2-7b1e-4c59-9d33-0000000000a1"
	withServer.Server = &vapi.Server{URL: asstRc.srv.URL, Headers: map[string]string{"X-Crm": "crm"}}
	withServer.ServerMessages = []vapi.ServerMessageType{vapi.ServerMessageTypeEndOfCallReport}
	withServer.Model.Tools = []vapi.Tool{
		{Type: "function", Function: &vapi.ToolFunction{Name: "lookup_balance"}, Server: &vapi.Server{URL: toolRc.srv.URL}},
		{Type: "function", Function: &vapi.ToolFunction{Name: "book_payment"}}, // the assistant's server
		{Type: "endCall"},
	}
	plain := vapitest.DefaultAssistants()[1]
	plain.Model.Tools = []vapi.Tool{{Type: "function", Function: &vapi.ToolFunction{Name: "reschedule"}}}
	b := setup(t, vapitest.Config{
		Assistants:   []vapi.Assistant{withServer, plain},
		PhoneNumbers: []vapi.PhoneNumber{{ID: "pn-crm", Provider: "twilio", Number: "+12015550999", Server: &vapi.Server{URL: phoneRc.srv.URL}}},
	})
	ctx := context.Background()

	// The phone number is served with its server.
	pn, err := b.client.GetPhoneNumber(ctx, "pn-crm")
	require.NoError(t, err)
	require.Equal(t, phoneRc.srv.URL, pn.Server.URL)
	code, body, _ := b.raw(t, http.MethodGet, "/phone-number/pn-crm", nil)
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, spec.Validate("TwilioPhoneNumber", body, false), "%s", body)
	other, err := b.client.GetPhoneNumber(ctx, "pn-other")
	require.NoError(t, err)
	require.Nil(t, other.Server)

	call := func(assistantID, phoneID, number string, overrides *vapi.AssistantOverrides) string {
		c, err := b.client.CreateCall(ctx, &vapi.CreateCallDTO{AssistantID: assistantID, PhoneNumberID: phoneID,
			Customer: &vapi.CreateCustomerDTO{Number: number}, AssistantOverrides: overrides})
		require.NoError(t, err)
		return c.ID
	}
	// +1201555010x complete: the call is answered, so the model calls its tools.
	own := call(withServer.ID, "pn-crm", "+12015550101", nil)
	byPhone := call(plain.ID, "pn-crm", "+12015550102", nil)
	overridden := call(withServer.ID, "pn-crm", "+12015550103", &vapi.AssistantOverrides{
		Server:         &vapi.Server{URL: b.rc.srv.URL},
		ServerMessages: []vapi.ServerMessageType{vapi.ServerMessageTypeStatusUpdate, vapi.ServerMessageTypeEndOfCallReport},
	})
	waitFor(t, b.sim, "every report delivered", func() bool {
		n := 0
		for _, d := range b.sim.Deliveries() {
			if d.Type == vapi.ServerMessageTypeEndOfCallReport && d.OK() {
				n++
			}
		}
		return n == 3
	})

	type sent struct {
		typ vapi.ServerMessageType
		url string
	}
	got := map[string][]sent{}
	for _, d := range b.sim.Deliveries() {
		require.True(t, d.OK(), "%+v", d)
		if d.Type == vapi.ServerMessageTypeToolCalls {
			require.NoError(t, spec.Validate("ServerMessage", d.Body, false), "%s", d.Body)
		}
		if d.Type != vapi.ServerMessageTypeStatusUpdate {
			got[d.CallID] = append(got[d.CallID], sent{d.Type, d.URL})
		}
	}
	tools, asst, phone, runner := toolRc.srv.URL, asstRc.srv.URL, phoneRc.srv.URL, b.rc.srv.URL
	require.ElementsMatch(t, []sent{{"tool-calls", tools}, {"tool-calls", asst}, {"end-of-call-report", asst}}, got[own],
		"the assistant's server gets its own list (end-of-call-report only) and its tool's calls")
	require.ElementsMatch(t, []sent{{"tool-calls", phone}, {"end-of-call-report", phone}}, got[byPhone],
		"an assistant without a server falls back to the phone number's")
	require.ElementsMatch(t, []sent{{"tool-calls", tools}, {"tool-calls", runner}, {"end-of-call-report", runner}}, got[overridden],
		"assistantOverrides.server takes over everything but a tool's own server")
	for _, d := range b.sim.Deliveries() {
		if d.CallID == own && d.URL == asst {
			require.Equal(t, "crm", d.Header.Get("X-Crm"), "the assistant's server headers go with its messages")
		}
	}
}
