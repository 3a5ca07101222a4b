package vapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi"
)

// These tests check every request body the client produces against Vapi's
// own schemas, strictly (Vapi rejects unknown properties). They need the
// subset of the OpenAPI document committed in internal/vapispec (make vapi-spec).

func TestConformanceCreateCall(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)

	// overridesFile is what an operator might put in an overrides file.
	const overridesFile = `{
		"firstMessage": "Hi {{first_name}}, this is Acme about your balance.",
		"firstMessageMode": "assistant-speaks-first",
		"voicemailDetection": "off",
		"voicemailMessage": "Please call us back at 555-0100.",
		"endCallMessage": "Thanks, goodbye.",
		"maxDurationSeconds": 300,
		"model": {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "system", "content": "You are Acme's polite collections agent."}]},
		"variableValues": {"company": "Acme"},
		"metadata": {"owner": "ops"}
	}`
	var fromFile vapi.AssistantOverrides
	require.NoError(t, json.Unmarshal([]byte(overridesFile), &fromFile))
	// The runner then sets its own fields; typed fields win.
	fromFile.VariableValues = map[string]any{"company": "Acme", "first_name": "Jane", "amount_due": "120.50"}
	fromFile.Metadata = map[string]any{"campaignId": "cmp1", "contactId": "42", "attempt": 1}
	fromFile.ServerMessages = []vapi.ServerMessageType{vapi.ServerMessageTypeStatusUpdate, vapi.ServerMessageTypeEndOfCallReport}
	fromFile.Server = &vapi.Server{URL: "https://runner.example.com/vapi/webhook", Headers: map[string]string{"X-Runner-Token": "s"}, TimeoutSeconds: 10}

	no := false
	tests := []struct {
		name string
		dto  *vapi.CreateCallDTO
	}{
		{"EveryTypedFieldAndPassThroughOverrides", fullCreateCallDTO()},
		{"OverridesFromAFile", &vapi.CreateCallDTO{
			Name: "cmp1-c42-a1", AssistantID: "a1", PhoneNumberID: "p1",
			Customer:           &vapi.CreateCustomerDTO{Number: "+14155551234", ExternalID: "cmp1-c42"},
			AssistantOverrides: &fromFile,
		}},
		{"Minimal", &vapi.CreateCallDTO{AssistantID: "a1", PhoneNumberID: "p1", Customer: &vapi.CreateCustomerDTO{Number: "+14155551234"}}},
		{"Squad", &vapi.CreateCallDTO{Name: "cmp1-c42-a1", SquadID: "sq1", PhoneNumberID: "p1",
			Customer:       &vapi.CreateCustomerDTO{Number: "+14155551234", ExternalID: "cmp1-c42"},
			SquadOverrides: &fromFile}},
		{"Workflow", &vapi.CreateCallDTO{Name: "cmp1-c42-a1", WorkflowID: "wf1", PhoneNumberID: "p1",
			Customer:          &vapi.CreateCustomerDTO{Number: "+14155551234", ExternalID: "cmp1-c42"},
			WorkflowOverrides: &vapi.WorkflowOverrides{VariableValues: map[string]any{"first_name": "Jane", "amount_due": "120.50"}}}},
		{"InlineAssistant", &vapi.CreateCallDTO{Name: "cmp1-c42-a1", PhoneNumberID: "p1",
			Assistant: json.RawMessage(`{"name": "Acme collections", "firstMessage": "Hi {{first_name}}.",
				"model": {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "system", "content": "Be polite."}]},
				"voice": {"provider": "vapi", "voiceId": "Elliot"}}`),
			Customer:           &vapi.CreateCustomerDTO{Number: "+14155551234", ExternalID: "cmp1-c42"},
			AssistantOverrides: &fromFile}},
		{"NonE164Number", &vapi.CreateCallDTO{AssistantID: "a1", PhoneNumberID: "p1", Customer: &vapi.CreateCustomerDTO{Number: "1234", NumberE164CheckEnabled: &no}}},
		{"FixedBackoffWithZeroRetries", &vapi.CreateCallDTO{AssistantID: "a1", AssistantOverrides: &vapi.AssistantOverrides{
			Server: &vapi.Server{URL: "https://x", BackoffPlan: &vapi.BackoffPlan{Type: vapi.BackoffTypeFixed}},
		}}},
		{"LongestFields", &vapi.CreateCallDTO{
			Name: strings.Repeat("n", 40), AssistantID: "a1",
			Customer: &vapi.CreateCustomerDTO{Number: "+" + strings.Repeat("1", 39), Name: strings.Repeat("x", 40), ExternalID: strings.Repeat("e", 40), Extension: strings.Repeat("9", 10)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, respond(http.StatusCreated, `{"id": "c1"}`))
			_, err := b.client.CreateCall(context.Background(), tt.dto)
			require.NoError(t, err)
			body := b.last(t).Body
			require.NoError(t, spec.Validate("CreateCallDTO", body, true), string(body))
		})
	}

	t.Run("ConformanceCatchesMistakes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"id": "c1"}`))
		_, err := b.client.CreateCall(context.Background(), &vapi.CreateCallDTO{
			Name: strings.Repeat("n", 41), AssistantID: "a1",
			AssistantOverrides: &vapi.AssistantOverrides{Extra: map[string]json.RawMessage{"firstMesage": json.RawMessage(`"typo"`)}},
		})
		require.NoError(t, err)
		err = spec.Validate("CreateCallDTO", b.last(t).Body, true)
		var verr *vapispec.ValidationError
		require.ErrorAs(t, err, &verr)
		require.ElementsMatch(t, []string{"/name", "/assistantOverrides/firstMesage"}, verr.Pointers())
	})
}

func TestConformanceAnalytics(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)

	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		q    *vapi.AnalyticsQueryDTO
	}{
		{"EveryField", &vapi.AnalyticsQueryDTO{Queries: []vapi.AnalyticsQuery{{
			Table: vapi.AnalyticsTableCall, Name: "by_outcome",
			GroupBy:              []string{"endedReason", "analysis.successEvaluation"},
			GroupByVariableValue: []vapi.VariableValueGroupBy{{Key: "campaign_id"}},
			TimeRange:            &vapi.TimeRange{Step: "hour", Start: start, End: start.Add(24*time.Hour + 123*time.Millisecond), Timezone: "America/New_York"},
			Operations: []vapi.AnalyticsOperation{
				{Operation: vapi.AnalyticsCount, Column: "id", Alias: "calls"},
				{Operation: vapi.AnalyticsSum, Column: "cost"},
				{Operation: vapi.AnalyticsAvg, Column: "duration"},
				{Operation: vapi.AnalyticsMin, Column: "costBreakdown.llm"},
				{Operation: vapi.AnalyticsHistory, Column: "duration"},
			},
		}}}},
		{"Concurrency", &vapi.AnalyticsQueryDTO{Queries: []vapi.AnalyticsQuery{{
			Table: vapi.AnalyticsTableSubscription, Name: "peak",
			Operations: []vapi.AnalyticsOperation{{Operation: vapi.AnalyticsMax, Column: "concurrency"}},
		}}}},
		{"OpenEndedRange", &vapi.AnalyticsQueryDTO{Queries: []vapi.AnalyticsQuery{{
			Table: vapi.AnalyticsTableCall, Name: "since", TimeRange: &vapi.TimeRange{Start: start},
			Operations: []vapi.AnalyticsOperation{{Operation: vapi.AnalyticsCount, Column: "id"}},
		}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, respond(http.StatusOK, `[]`))
			_, err := b.client.Analytics(context.Background(), tt.q)
			require.NoError(t, err)
			body := b.last(t).Body
			require.NoError(t, spec.Validate("AnalyticsQueryDTO", body, true), string(body))
		})
	}
}

func TestConformanceListCallsQuery(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)

	b := setup(t, nil, respond(http.StatusOK, `[]`))
	at := time.Date(2026, 8, 1, 12, 0, 0, 123456789, time.FixedZone("EDT", -4*3600))
	_, err := b.client.ListCalls(context.Background(), &vapi.ListCallsParams{
		ID: "c1", AssistantID: "a1", PhoneNumberID: "p1", Limit: 1000,
		CreatedAtGt: at, CreatedAtLt: at, CreatedAtGe: at, CreatedAtLe: at,
		UpdatedAtGt: at, UpdatedAtLt: at, UpdatedAtGe: at, UpdatedAtLe: at,
	})
	require.NoError(t, err)
	req := b.last(t)
	q, err := url.ParseQuery(req.Query)
	require.NoError(t, err)
	require.Len(t, q, 12, "every filter is sent")
	require.NoError(t, spec.ValidateQuery(http.MethodGet, "/call", q))
}

func TestConformanceReadsHaveNoBody(t *testing.T) {
	t.Parallel()

	b := setup(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/call" {
			respond(http.StatusOK, `[]`)(w, r)
			return
		}
		respond(http.StatusOK, `{"id": "x"}`)(w, r)
	})
	ctx := context.Background()
	_, err := b.client.ListCalls(ctx, &vapi.ListCallsParams{PhoneNumberID: "p1", CreatedAtGt: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	require.Empty(t, b.last(t).Body)
	require.Empty(t, b.last(t).Header.Get("Content-Type"))
	_, err = b.client.GetCall(ctx, "x")
	require.NoError(t, err)
	require.Empty(t, b.last(t).Body)
	_, err = b.client.GetAssistant(ctx, "x")
	require.NoError(t, err)
	require.Empty(t, b.last(t).Body)
}

// TestConformanceServerMessagesWeEncode checks that server messages built
// with this package's types (as the simulator will) match Vapi's schema.
func TestConformanceServerMessagesWeEncode(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)

	created := time.Date(2026, 8, 1, 12, 1, 5, 0, time.UTC)
	call := &vapi.Call{
		ID: "c1", OrgID: "o1", Type: vapi.CallTypeOutboundPhoneCall, Name: "cmp1-c42-a1", Status: vapi.CallStatusEnded,
		CreatedAt: created, UpdatedAt: created.Add(3 * time.Minute), AssistantID: "a1", PhoneNumberID: "p1",
		Customer:           &vapi.CreateCustomerDTO{Number: "+14155551234", ExternalID: "cmp1-c42"},
		AssistantOverrides: &vapi.AssistantOverrides{Metadata: map[string]any{"contactId": "42"}},
	}
	cost := 0.21
	messages := []vapi.ServerMessage{
		{StatusUpdate: &vapi.StatusUpdate{
			Timestamp: vapi.Timestamp{Time: created.Add(time.Minute)}, Status: vapi.CallStatusEnded, EndedReason: "customer-busy",
			Call: call, Customer: call.Customer,
		}},
		{EndOfCallReport: &vapi.EndOfCallReport{
			Timestamp: vapi.Timestamp{Time: created.Add(4 * time.Minute)}, EndedReason: "customer-ended-call",
			StartedAt: created.Add(7 * time.Second), EndedAt: created.Add(3 * time.Minute), Cost: &cost,
			Costs:    []vapi.Cost{{Type: "vapi", SubType: "normal", Minutes: 2.9, Cost: 0.145}},
			Analysis: &vapi.Analysis{Summary: "Will pay Friday.", StructuredData: json.RawMessage(`{"willPay":true}`), SuccessEvaluation: "true"},
			Artifact: &vapi.Artifact{Transcript: "AI: Hi\nUser: Hello\n", Messages: []vapi.ArtifactMessage{
				{Role: "bot", Message: "Hi", Time: 1754049673840, EndTime: 1754049674840.5, SecondsFromStart: 1.2, Duration: 1000},
				{Role: "user", Message: "Hello", Time: 1754049675000, EndTime: 1754049676000, SecondsFromStart: 2.4, Duration: 1000},
			}},
			Call: call, Customer: call.Customer,
		}},
	}
	for _, m := range messages {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, spec.Validate("ServerMessage", b, false), string(b))
	}
}
