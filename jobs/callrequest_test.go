package jobs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
)

func testCampaign() *campaign.Campaign {
	return &campaign.Campaign{
		ID:              42,
		Name:            "nov-reminders",
		Columns:         []string{"phone", "name", "first_name", "amount_due"},
		PhoneColumn:     0,
		NameColumn:      1,
		TimeZoneColumn:  -1,
		VariableColumns: []int{1, 2, 3},
		Settings: campaign.Settings{
			AssistantID:   "4a170597-a0c2-4657-8c32-cb93f080cead",
			PhoneNumberID: "c6ea6cb0-0dfb-4a65-918f-6a33abb54b64",
			WebhookSecret: "the-secret",
		},
	}
}

func testContact() *campaign.Contact {
	return &campaign.Contact{
		ID:     7,
		Phone:  "+14155550132",
		Name:   "Jane Doe",
		Fields: []string{"+1 415 555 0132", "Jane Doe", "Jane", "120.50"},
	}
}

func TestCreateCallRequest(t *testing.T) {
	t.Run("without a public URL", func(t *testing.T) {
		req, err := jobs.CreateCallRequest(testCampaign(), testContact(), 2)
		require.NoError(t, err)
		key := campaign.AttemptKey(42, 7, 2)
		require.Equal(t, key, req.Name)
		require.Equal(t, key, req.Customer.ExternalID)
		require.Equal(t, "+14155550132", req.Customer.Number)
		require.Equal(t, map[string]any{
			"name": "Jane Doe", "first_name": "Jane", "amount_due": "120.50", jobs.CampaignVariable: "nov-reminders",
		}, req.AssistantOverrides.VariableValues)
		require.Equal(t, map[string]any{
			"campaign_id": int64(42), "contact_id": int64(7), "attempt": 2, "attempt_key": key,
		}, req.AssistantOverrides.Metadata)
		require.Nil(t, req.AssistantOverrides.Server, "no public URL: Vapi is never told where to post")
		require.Empty(t, req.AssistantOverrides.ServerMessages)
	})

	t.Run("with a public URL and user overrides", func(t *testing.T) {
		c := testCampaign()
		c.PublicURL = "https://hooks.example.com/"
		c.Overrides = json.RawMessage(`{
			"firstMessage": "Hi {{first_name}}",
			"variableValues": {"company": "Acme", "first_name": "loses to the row"},
			"metadata": {"team": "collections", "campaign_id": "loses to ours"},
			"server": {"headers": {"X-Extra": "kept"}, "timeoutSeconds": 30}
		}`)
		req, err := jobs.CreateCallRequest(c, testContact(), 1)
		require.NoError(t, err)
		ov := req.AssistantOverrides
		require.Equal(t, "Acme", ov.VariableValues["company"])
		require.Equal(t, "Jane", ov.VariableValues["first_name"])
		require.Equal(t, "collections", ov.Metadata["team"])
		require.Equal(t, int64(42), ov.Metadata["campaign_id"])
		require.Equal(t, "https://hooks.example.com/vapi/webhook", ov.Server.URL)
		require.Equal(t, map[string]string{"X-Extra": "kept", jobs.WebhookSecretHeader: "the-secret"}, ov.Server.Headers)
		require.Equal(t, float64(30), ov.Server.TimeoutSeconds, "the user's timeout is kept")
		require.NotNil(t, ov.Server.BackoffPlan, "retries are asked for: Vapi does not retry by default")
		require.Len(t, ov.ServerMessages, 2)
		require.JSONEq(t, `"Hi {{first_name}}"`, string(ov.Extra["firstMessage"]))
	})

	t.Run("a public URL given as the full webhook URL is not doubled", func(t *testing.T) {
		for _, public := range []string{"https://hooks.example.com/vapi/webhook", "https://hooks.example.com/vapi/webhook/",
			"https://hooks.example.com", "https://hooks.example.com/"} {
			c := testCampaign()
			c.PublicURL = public
			req, err := jobs.CreateCallRequest(c, testContact(), 1)
			require.NoError(t, err)
			require.Equal(t, "https://hooks.example.com/vapi/webhook", req.AssistantOverrides.Server.URL, public)
		}
	})

	t.Run("keeping the assistant's server", func(t *testing.T) {
		c := testCampaign()
		c.PublicURL, c.KeepServer = "https://hooks.example.com", true
		req, err := jobs.CreateCallRequest(c, testContact(), 1)
		require.NoError(t, err)
		require.Nil(t, req.AssistantOverrides.Server, "the assistant's own server stays in place")
		require.Empty(t, req.AssistantOverrides.ServerMessages, "and so do its serverMessages")
	})

	t.Run("the assistant's serverMessages are kept", func(t *testing.T) {
		c := testCampaign()
		c.PublicURL = "https://hooks.example.com"
		c.ServerMessages = []string{"end-of-call-report", "tool-calls", "hang"}
		req, err := jobs.CreateCallRequest(c, testContact(), 1)
		require.NoError(t, err)
		require.Equal(t, []vapi.ServerMessageType{"end-of-call-report", "tool-calls", "hang", "status-update"},
			req.AssistantOverrides.ServerMessages)

		c.Overrides = json.RawMessage(`{"serverMessages": ["transcript"]}`)
		req, err = jobs.CreateCallRequest(c, testContact(), 1)
		require.NoError(t, err)
		require.Equal(t, []vapi.ServerMessageType{"transcript", "status-update", "end-of-call-report"},
			req.AssistantOverrides.ServerMessages, "the user's overrides win over the assistant's list")
	})

	t.Run("invalid overrides", func(t *testing.T) {
		c := testCampaign()
		c.Overrides = json.RawMessage(`[1,2]`)
		_, err := jobs.CreateCallRequest(c, testContact(), 1)
		require.ErrorContains(t, err, "overrides")
	})
}

// TestCreateCallRequestConformance validates the bodies the dialer sends (and the dry run
// shows) strictly against Vapi's CreateCallDTO: no property Vapi would refuse.
func TestCreateCallRequestConformance(t *testing.T) {
	spec := vapispec.ForTest(t)
	c := testCampaign()
	c.PublicURL = "https://hooks.example.com"
	c.Overrides = json.RawMessage(`{"firstMessage": "Hi {{first_name}}", "maxDurationSeconds": 300,
		"voicemailMessage": "Please call us back."}`)
	ct := testContact()
	ct.Name = strings.Repeat("n", 40)
	for _, cmp := range []*campaign.Campaign{testCampaign(), c} {
		req, err := jobs.CreateCallRequest(cmp, ct, 1)
		require.NoError(t, err)
		body, err := json.Marshal(req)
		require.NoError(t, err)
		require.NoError(t, spec.Validate("CreateCallDTO", body, true), "%s", body)
	}

	for _, target := range targets() {
		tc := testCampaign()
		tc.PublicURL = "https://hooks.example.com"
		tc.AssistantID = ""
		target.set(&tc.Settings)
		if target.kind == campaign.TargetWorkflow {
			tc.Overrides = json.RawMessage(`{"variableValues": {"company": "Acme"}}`)
		} else {
			tc.Overrides = c.Overrides
		}
		req, err := jobs.CreateCallRequest(tc, ct, 1)
		require.NoError(t, err)
		body, err := json.Marshal(req)
		require.NoError(t, err)
		require.NoError(t, spec.Validate("CreateCallDTO", body, true), "%s: %s", target.kind, body)
	}

	// The largest ids still give an attempt key within Vapi's 40-character limit.
	key := campaign.AttemptKey(1<<63-1, 1<<63-1, 999)
	require.LessOrEqual(t, len(key), campaign.MaxAttemptKeyLen, key)
}

// targets are the ways of naming what places the calls, but a saved assistant's.
func targets() []struct {
	kind campaign.TargetKind
	set  func(*campaign.Settings)
} {
	return []struct {
		kind campaign.TargetKind
		set  func(*campaign.Settings)
	}{
		{campaign.TargetSquad, func(s *campaign.Settings) { s.SquadID = "sq-1" }},
		{campaign.TargetWorkflow, func(s *campaign.Settings) { s.WorkflowID = "wf-1" }},
		{campaign.TargetInlineAssistant, func(s *campaign.Settings) {
			s.Assistant = json.RawMessage(`{"name": "Acme", "firstMessage": "Hi {{first_name}}",
				"model": {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."}]}}`)
		}},
	}
}

func TestCreateCallRequestTargets(t *testing.T) {
	newCampaign := func(set func(*campaign.Settings)) *campaign.Campaign {
		c := testCampaign()
		c.AssistantID = ""
		c.PublicURL = "https://hooks.example.com"
		set(&c.Settings)
		return c
	}
	key := campaign.AttemptKey(42, 7, 1)

	t.Run("squad: the overrides go to squadOverrides", func(t *testing.T) {
		req, err := jobs.CreateCallRequest(newCampaign(func(s *campaign.Settings) { s.SquadID = "sq-1" }), testContact(), 1)
		require.NoError(t, err)
		require.Equal(t, "sq-1", req.SquadID)
		require.Empty(t, req.AssistantID)
		require.Nil(t, req.AssistantOverrides)
		require.Equal(t, "Jane", req.SquadOverrides.VariableValues["first_name"])
		require.Equal(t, key, req.SquadOverrides.Metadata["attempt_key"])
		require.Equal(t, "https://hooks.example.com/vapi/webhook", req.SquadOverrides.Server.URL)
	})

	t.Run("inline assistant: sent as given, overrides in assistantOverrides", func(t *testing.T) {
		inline := json.RawMessage(`{"name":"Acme","firstMessage":"Hi {{first_name}}"}`)
		req, err := jobs.CreateCallRequest(newCampaign(func(s *campaign.Settings) { s.Assistant = inline }), testContact(), 1)
		require.NoError(t, err)
		require.JSONEq(t, string(inline), string(req.Assistant))
		require.Empty(t, req.AssistantID)
		require.Equal(t, "Jane", req.AssistantOverrides.VariableValues["first_name"])
		require.Equal(t, "https://hooks.example.com/vapi/webhook", req.AssistantOverrides.Server.URL)
	})

	t.Run("workflow: only variables, no server", func(t *testing.T) {
		c := newCampaign(func(s *campaign.Settings) { s.WorkflowID = "wf-1" })
		c.Overrides = json.RawMessage(`{"variableValues": {"company": "Acme"}}`)
		req, err := jobs.CreateCallRequest(c, testContact(), 1)
		require.NoError(t, err)
		require.Equal(t, "wf-1", req.WorkflowID)
		require.Nil(t, req.AssistantOverrides)
		require.Equal(t, map[string]any{
			"name": "Jane Doe", "first_name": "Jane", "amount_due": "120.50", "company": "Acme", jobs.CampaignVariable: "nov-reminders",
		}, req.WorkflowOverrides.VariableValues)
		require.Equal(t, key, req.Name, "the attempt key still names the call")
	})

	t.Run("workflow: overrides it cannot take are refused", func(t *testing.T) {
		for _, overrides := range []string{`{"firstMessage": "Hi"}`, `{"server": {"url": "https://mine.example.com"}}`} {
			c := newCampaign(func(s *campaign.Settings) { s.WorkflowID = "wf-1" })
			c.Overrides = json.RawMessage(overrides)
			_, err := jobs.CreateCallRequest(c, testContact(), 1)
			require.ErrorContains(t, err, "workflow", overrides)
		}
	})
}
