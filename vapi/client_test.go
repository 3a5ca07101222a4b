package vapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
)

const testAPIKey = "test-private-key"

// recordedRequest is what the test server saw.
type recordedRequest struct {
	Method  string
	Path    string
	RawPath string
	Query   string
	Header  http.Header
	Body    []byte
}

// testBundle holds a client wired to an httptest server.
type testBundle struct {
	client *vapi.Client
	server *httptest.Server

	mu       sync.Mutex
	requests []recordedRequest
}

// last returns the last request the server saw.
func (b *testBundle) last(t *testing.T) recordedRequest {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NotEmpty(t, b.requests, "server saw no request")
	return b.requests[len(b.requests)-1]
}

// count returns how many requests the server saw.
func (b *testBundle) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

// setup starts a server that records every request and then runs handler,
// and a client pointed at it. cfg may be nil; its BaseURL is overwritten.
func setup(t *testing.T, cfg *vapi.Config, handler http.HandlerFunc) *testBundle {
	t.Helper()
	b := &testBundle{}
	b.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.requests = append(b.requests, recordedRequest{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body,
		})
		b.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(b.server.Close)

	if cfg == nil {
		cfg = &vapi.Config{}
	}
	cfg.BaseURL = b.server.URL
	client, err := vapi.NewClient(testAPIKey, cfg)
	require.NoError(t, err)
	b.client = client
	return b
}

// respond answers with status and body as JSON.
func respond(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// testdata reads a file from testdata/.
func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// fullCreateCallDTO is a request with every field the client supports.
func fullCreateCallDTO() *vapi.CreateCallDTO {
	e164 := true
	return &vapi.CreateCallDTO{
		Name:          "cmp-2026q3-row-000042-a1",
		AssistantID:   "4a170597-a0c2-4657-8c32-cb93f080cead",
		PhoneNumberID: "c6ea6cb0-0dfb-4a65-918f-6a33abb54b64",
		Customer: &vapi.CreateCustomerDTO{
			Number:                 "+14155551234",
			Name:                   "Jane Doe",
			ExternalID:             "crm-000042",
			Extension:              "123",
			NumberE164CheckEnabled: &e164,
		},
		AssistantOverrides: &vapi.AssistantOverrides{
			VariableValues: map[string]any{"first_name": "Jane", "amount_due": 120.5},
			Metadata:       map[string]any{"campaignId": "cmp-2026q3", "contactId": "42", "attempt": 1},
			ServerMessages: []vapi.ServerMessageType{vapi.ServerMessageTypeStatusUpdate, vapi.ServerMessageTypeEndOfCallReport},
			Server: &vapi.Server{
				URL:            "https://runner.example.com/vapi/webhook",
				Headers:        map[string]string{"X-Runner-Token": "secret"},
				TimeoutSeconds: 20,
				CredentialID:   "550e8400-e29b-41d4-a716-446655440000",
				BackoffPlan: &vapi.BackoffPlan{
					Type: vapi.BackoffTypeExponential, MaxRetries: 3, BaseDelaySeconds: 1,
					ExcludedStatusCodes: []int{400, 401},
				},
			},
			Extra: map[string]json.RawMessage{
				"firstMessage":       json.RawMessage(`"Hi {{first_name}}, this is Acme."`),
				"maxDurationSeconds": json.RawMessage(`300`),
				"voicemailMessage":   json.RawMessage(`"Please call us back."`),
			},
		},
	}
}

func TestNewClient(t *testing.T) {
	t.Parallel()

	t.Run("EmptyKey", func(t *testing.T) {
		t.Parallel()
		_, err := vapi.NewClient(" ", nil)
		require.ErrorContains(t, err, "empty API key")
	})

	t.Run("BadBaseURL", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{"api.vapi.ai", "ftp://api.vapi.ai", "http://", "://x"} {
			_, err := vapi.NewClient(testAPIKey, &vapi.Config{BaseURL: u})
			require.Error(t, err, u)
		}
	})

	t.Run("DefaultsWithNilConfig", func(t *testing.T) {
		t.Parallel()
		client, err := vapi.NewClient(testAPIKey, nil)
		require.NoError(t, err)
		require.NotNil(t, client)
	})

	t.Run("BaseURLPrefixKept", func(t *testing.T) {
		t.Parallel()
		paths := make(chan string, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			paths <- r.URL.Path
			respond(http.StatusOK, `{"id":"c1"}`)(w, r)
		}))
		t.Cleanup(srv.Close)
		client, err := vapi.NewClient(testAPIKey, &vapi.Config{BaseURL: srv.URL + "/vapi/"})
		require.NoError(t, err)
		_, err = client.GetCall(context.Background(), "c1")
		require.NoError(t, err)
		require.Equal(t, "/vapi/call/c1", <-paths)
	})
}

func TestCreateCall(t *testing.T) {
	t.Parallel()

	t.Run("RequestShapeMatchesExample", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &vapi.Config{UserAgent: "campaign-test/1"}, respond(http.StatusCreated, string(testdata(t, "create-call.response.json"))))

		// The same request as testdata/create-call.request.json, built from
		// the typed fields.
		dto := &vapi.CreateCallDTO{
			Name:          "cmp-2026q3-row-000042",
			AssistantID:   "4a170597-a0c2-4657-8c32-cb93f080cead",
			PhoneNumberID: "c6ea6cb0-0dfb-4a65-918f-6a33abb54b64",
			Customer:      &vapi.CreateCustomerDTO{Number: "+14155551234", Name: "Jane Doe", ExternalID: "crm-000042"},
			AssistantOverrides: &vapi.AssistantOverrides{
				VariableValues: map[string]any{"first_name": "Jane", "campaign_id": "cmp-2026q3", "amount_due": 120.5},
				Metadata:       map[string]any{"campaignId": "cmp-2026q3", "rowId": "42"},
				ServerMessages: []vapi.ServerMessageType{vapi.ServerMessageTypeStatusUpdate, vapi.ServerMessageTypeEndOfCallReport},
				Server: &vapi.Server{
					URL:            "https://runner.example.com/vapi/webhook",
					TimeoutSeconds: 20,
					Headers:        map[string]string{"X-Runner-Token": "<shared-secret>"},
					BackoffPlan:    &vapi.BackoffPlan{Type: vapi.BackoffTypeExponential, MaxRetries: 3, BaseDelaySeconds: 1},
				},
			},
		}
		call, err := b.client.CreateCall(context.Background(), dto)
		require.NoError(t, err)

		req := b.last(t)
		require.Equal(t, http.MethodPost, req.Method)
		require.Equal(t, "/call", req.Path)
		require.Empty(t, req.Query)
		require.Equal(t, "Bearer "+testAPIKey, req.Header.Get("Authorization"))
		require.Equal(t, "application/json", req.Header.Get("Content-Type"))
		require.Equal(t, "application/json", req.Header.Get("Accept"))
		require.Equal(t, "campaign-test/1", req.Header.Get("User-Agent"))
		require.JSONEq(t, string(testdata(t, "create-call.request.json")), string(req.Body))

		require.Equal(t, "019d2ad0-6eb1-7aac-9377-0fc25d8bc1ad", call.ID)
		require.Equal(t, vapi.CallStatusQueued, call.Status)
		require.Equal(t, vapi.CallTypeOutboundPhoneCall, call.Type)
		require.Equal(t, time.Date(2026, 3, 26, 15, 43, 16, 145e6, time.UTC), call.CreatedAt)
		require.NotNil(t, call.SubscriptionLimits)
		require.False(t, call.SubscriptionLimits.ConcurrencyBlocked)
		require.InDelta(t, 10, call.SubscriptionLimits.ConcurrencyLimit, 0)
		require.InDelta(t, 8, call.SubscriptionLimits.RemainingConcurrentCalls, 0)
		require.False(t, call.ConcurrencyBlocked())
		require.Equal(t, "Mayte", call.Customer.Name)
		require.InDelta(t, 8822.63, call.AssistantOverrides.VariableValues["payment_amount"], 1e-9)
		require.NotNil(t, call.Cost)
		require.Zero(t, *call.Cost)
	})

	t.Run("OnlySetFieldsAreSent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"id":"c1","orgId":"o","createdAt":"2026-08-01T12:00:00Z","updatedAt":"2026-08-01T12:00:00Z"}`))
		_, err := b.client.CreateCall(context.Background(), &vapi.CreateCallDTO{
			AssistantID: "a1", PhoneNumberID: "p1", Customer: &vapi.CreateCustomerDTO{Number: "+14155551234"},
		})
		require.NoError(t, err)
		require.JSONEq(t, `{"assistantId":"a1","phoneNumberId":"p1","customer":{"number":"+14155551234"}}`, string(b.last(t).Body))
	})

	t.Run("FullRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"id":"c1","orgId":"o","createdAt":"2026-08-01T12:00:00Z","updatedAt":"2026-08-01T12:00:00Z"}`))
		_, err := b.client.CreateCall(context.Background(), fullCreateCallDTO())
		require.NoError(t, err)
		require.JSONEq(t, `{
			"name": "cmp-2026q3-row-000042-a1",
			"assistantId": "4a170597-a0c2-4657-8c32-cb93f080cead",
			"phoneNumberId": "c6ea6cb0-0dfb-4a65-918f-6a33abb54b64",
			"customer": {"number": "+14155551234", "name": "Jane Doe", "externalId": "crm-000042", "extension": "123", "numberE164CheckEnabled": true},
			"assistantOverrides": {
				"variableValues": {"first_name": "Jane", "amount_due": 120.5},
				"metadata": {"campaignId": "cmp-2026q3", "contactId": "42", "attempt": 1},
				"serverMessages": ["status-update", "end-of-call-report"],
				"server": {
					"url": "https://runner.example.com/vapi/webhook",
					"headers": {"X-Runner-Token": "secret"},
					"timeoutSeconds": 20,
					"credentialId": "550e8400-e29b-41d4-a716-446655440000",
					"backoffPlan": {"type": "exponential", "maxRetries": 3, "baseDelaySeconds": 1, "excludedStatusCodes": [400, 401]}
				},
				"firstMessage": "Hi {{first_name}}, this is Acme.",
				"maxDurationSeconds": 300,
				"voicemailMessage": "Please call us back."
			}
		}`, string(b.last(t).Body))
	})

	t.Run("BackoffPlanZeroRetriesIsSent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"id":"c1"}`))
		_, err := b.client.CreateCall(context.Background(), &vapi.CreateCallDTO{
			AssistantOverrides: &vapi.AssistantOverrides{Server: &vapi.Server{URL: "https://x", BackoffPlan: &vapi.BackoffPlan{Type: vapi.BackoffTypeFixed}}},
		})
		require.NoError(t, err)
		require.JSONEq(t, `{"assistantOverrides":{"server":{"url":"https://x","backoffPlan":{"type":"fixed","maxRetries":0,"baseDelaySeconds":0}}}}`, string(b.last(t).Body))
	})

	t.Run("NilRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"id":"c1"}`))
		_, err := b.client.CreateCall(context.Background(), nil)
		require.Error(t, err)
		require.Equal(t, vapi.ErrorClassPermanent, vapi.Classify(err))
		require.Zero(t, b.count())
	})

	t.Run("ConcurrencyBlockedCreated", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"id":"c1","status":"ended","endedReason":"call.start.error-subscription-concurrency-limit-reached",
			"subscriptionLimits":{"concurrencyBlocked":true,"concurrencyLimit":10,"remainingConcurrentCalls":0}}`))
		call, err := b.client.CreateCall(context.Background(), &vapi.CreateCallDTO{AssistantID: "a1"})
		require.NoError(t, err)
		require.True(t, call.ConcurrencyBlocked())
		require.True(t, call.Ended())
	})
}

func TestGetCall(t *testing.T) {
	t.Parallel()

	t.Run("RequestShape", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusOK, `{"id":"019d2ad0","orgId":"o","status":"ended","endedReason":"customer-ended-call",
			"createdAt":"2026-08-01T12:01:05.000Z","updatedAt":"2026-08-01T12:03:46.000Z","startedAt":"2026-08-01T12:01:12.000Z","endedAt":null,
			"analysis":{"summary":"ok","successEvaluation":"true"},"artifact":{"transcript":"AI: hi"}}`))
		call, err := b.client.GetCall(context.Background(), "019d2ad0")
		require.NoError(t, err)

		req := b.last(t)
		require.Equal(t, http.MethodGet, req.Method)
		require.Equal(t, "/call/019d2ad0", req.Path)
		require.Equal(t, "Bearer "+testAPIKey, req.Header.Get("Authorization"))
		require.Empty(t, req.Header.Get("Content-Type"))
		require.Empty(t, req.Body)

		require.True(t, call.Ended())
		require.Equal(t, "customer-ended-call", call.EndedReason)
		require.True(t, call.EndedAt.IsZero())
		require.Equal(t, time.Date(2026, 8, 1, 12, 1, 12, 0, time.UTC), call.StartedAt)
		require.Equal(t, "true", call.Analysis.SuccessEvaluation)
		require.Equal(t, "AI: hi", call.Artifact.Transcript)
	})

	t.Run("IDIsEscaped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusOK, `{"id":"a/b"}`))
		_, err := b.client.GetCall(context.Background(), "a/b?c")
		require.NoError(t, err)
		require.Equal(t, "/call/a%2Fb%3Fc", b.last(t).RawPath)
		require.Empty(t, b.last(t).Query)
	})

	t.Run("EmptyID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusOK, `{}`))
		_, err := b.client.GetCall(context.Background(), "")
		require.Error(t, err)
		require.Zero(t, b.count())
	})
}

func TestListCalls(t *testing.T) {
	t.Parallel()

	t.Run("QueryFormatting", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusOK, `[{"id":"c1","name":"k1"},{"id":"c2","name":"k2","status":"some-future-status"}]`))
		paris, err := time.LoadLocation("Europe/Paris")
		require.NoError(t, err)

		calls, err := b.client.ListCalls(context.Background(), &vapi.ListCallsParams{
			ID:            "c1",
			AssistantID:   "a1",
			PhoneNumberID: "p1",
			Limit:         50,
			// 14:00:00.1234567 in Paris (summer time) is 12:00:00.1234567Z.
			CreatedAtGt: time.Date(2026, 8, 1, 14, 0, 0, 123456700, paris),
			CreatedAtLt: time.Date(2026, 8, 1, 12, 5, 0, 123456700, time.UTC),
			CreatedAtGe: time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC),
			CreatedAtLe: time.Date(2026, 8, 1, 12, 5, 0, 7e6, time.UTC),
			UpdatedAtGt: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC),
			UpdatedAtLt: time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC),
			UpdatedAtGe: time.Date(2026, 8, 1, 0, 0, 1, 0, time.UTC),
			UpdatedAtLe: time.Date(2026, 8, 2, 0, 0, 1, 0, time.UTC),
		})
		require.NoError(t, err)
		require.Len(t, calls, 2)
		require.Equal(t, vapi.CallStatus("some-future-status"), calls[1].Status)

		req := b.last(t)
		require.Equal(t, http.MethodGet, req.Method)
		require.Equal(t, "/call", req.Path)
		require.Empty(t, req.Body)
		require.Empty(t, req.Header.Get("Content-Type"))
		require.Equal(t, "Bearer "+testAPIKey, req.Header.Get("Authorization"))
		// Keys sorted; lower bounds truncated, upper bounds rounded up, to
		// the millisecond.
		require.Equal(t, "assistantId=a1"+
			"&createdAtGe=2026-08-01T12%3A00%3A00.000Z"+
			"&createdAtGt=2026-08-01T12%3A00%3A00.123Z"+
			"&createdAtLe=2026-08-01T12%3A05%3A00.007Z"+
			"&createdAtLt=2026-08-01T12%3A05%3A00.124Z"+
			"&id=c1&limit=50&phoneNumberId=p1"+
			"&updatedAtGe=2026-08-01T00%3A00%3A01.000Z"+
			"&updatedAtGt=2026-08-01T00%3A00%3A00.000Z"+
			"&updatedAtLe=2026-08-02T00%3A00%3A01.000Z"+
			"&updatedAtLt=2026-08-02T00%3A00%3A00.000Z", req.Query)
	})

	t.Run("NoFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusOK, `[]`))
		calls, err := b.client.ListCalls(context.Background(), nil)
		require.NoError(t, err)
		require.Empty(t, calls)
		require.Empty(t, b.last(t).Query)

		_, err = b.client.ListCalls(context.Background(), &vapi.ListCallsParams{})
		require.NoError(t, err)
		require.Empty(t, b.last(t).Query)
	})
}

func TestAnalytics(t *testing.T) {
	t.Parallel()

	b := setup(t, nil, respond(http.StatusCreated, string(testdata(t, "analytics.response.json"))))
	day := func(d int) time.Time { return time.Date(2026, 8, d, 0, 0, 0, 0, time.UTC) }
	results, err := b.client.Analytics(context.Background(), &vapi.AnalyticsQueryDTO{Queries: []vapi.AnalyticsQuery{
		{
			Table:     vapi.AnalyticsTableCall,
			Name:      "outcomes",
			TimeRange: &vapi.TimeRange{Start: day(1), End: day(2), Timezone: "UTC"},
			GroupBy:   []string{"endedReason"},
			Operations: []vapi.AnalyticsOperation{
				{Operation: vapi.AnalyticsCount, Column: "id", Alias: "calls"},
				{Operation: vapi.AnalyticsSum, Column: "cost", Alias: "totalCost"},
				{Operation: vapi.AnalyticsAvg, Column: "duration", Alias: "avgDuration"},
			},
		},
		{
			Table:                vapi.AnalyticsTableCall,
			Name:                 "success_by_campaign",
			TimeRange:            &vapi.TimeRange{Start: day(1), End: day(2), Step: "day"},
			GroupBy:              []string{"analysis.successEvaluation"},
			GroupByVariableValue: []vapi.VariableValueGroupBy{{Key: "campaign_id"}},
			Operations:           []vapi.AnalyticsOperation{{Operation: vapi.AnalyticsCount, Column: "id", Alias: "calls"}},
		},
		{
			Table:      vapi.AnalyticsTableSubscription,
			Name:       "peak_concurrency",
			TimeRange:  &vapi.TimeRange{Start: day(1), End: day(2), Step: "hour"},
			Operations: []vapi.AnalyticsOperation{{Operation: vapi.AnalyticsMax, Column: "concurrency", Alias: "concurrency"}},
		},
	}})
	require.NoError(t, err)

	req := b.last(t)
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "/analytics", req.Path)
	require.Equal(t, "Bearer "+testAPIKey, req.Header.Get("Authorization"))
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.JSONEq(t, string(testdata(t, "analytics.request.json")), string(req.Body))

	require.Len(t, results, 2)
	require.Equal(t, "outcomes", results[0].Name)
	require.Equal(t, day(1), results[0].TimeRange.Start)
	require.Equal(t, "UTC", results[0].TimeRange.Timezone)
	require.Len(t, results[0].Result, 2)
	require.Equal(t, "customer-ended-call", results[0].Result[0]["endedReason"])
	require.InDelta(t, 57, results[0].Result[0]["calls"], 0)
	require.Equal(t, "hour", results[1].TimeRange.Step)

	_, err = b.client.Analytics(context.Background(), nil)
	require.Error(t, err)
}

func TestGetAssistant(t *testing.T) {
	t.Parallel()

	b := setup(t, nil, respond(http.StatusOK, `{
		"id": "4a170597", "orgId": "o", "name": "Collections",
		"createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-02-01T00:00:00.5Z",
		"firstMessage": "Hi {{first_name}}!",
		"firstMessageMode": "assistant-speaks-first",
		"voicemailMessage": "Please call us back.",
		"endCallMessage": "Goodbye.",
		"serverMessages": ["end-of-call-report", "brand-new-message"],
		"model": {
			"provider": "openai", "model": "gpt-4o", "temperature": 0.3,
			"messages": [
				{"role": "system", "content": "You are a polite collections agent."},
				{"role": "user", "content": null},
				{"role": "system", "content": [{"type": "text", "text": "Never threaten."}, {"type": "text", "text": "Be brief."}]}
			]
		},
		"voice": {"provider": "vapi", "voiceId": "Elliot"}
	}`))
	a, err := b.client.GetAssistant(context.Background(), "4a170597")
	require.NoError(t, err)

	req := b.last(t)
	require.Equal(t, http.MethodGet, req.Method)
	require.Equal(t, "/assistant/4a170597", req.Path)
	require.Equal(t, "Bearer "+testAPIKey, req.Header.Get("Authorization"))

	require.Equal(t, "Hi {{first_name}}!", a.FirstMessage)
	require.Equal(t, "Please call us back.", a.VoicemailMessage)
	require.Equal(t, "Goodbye.", a.EndCallMessage)
	require.Equal(t, "gpt-4o", a.Model.Model)
	require.Len(t, a.Model.Messages, 3)
	require.Empty(t, a.Model.Messages[1].Content)
	require.Equal(t, "You are a polite collections agent.\n\nNever threaten.\nBe brief.", a.SystemPrompt())
	require.Equal(t, []vapi.ServerMessageType{vapi.ServerMessageTypeEndOfCallReport, "brand-new-message"}, a.ServerMessages)

	_, err = b.client.GetAssistant(context.Background(), "")
	require.Error(t, err)
}
