package vapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/campaign-run/campaign/vapi"
)

// Create one outbound call whose assistant greets the customer by name, and
// check whether Vapi accepted it or blocked it on concurrency.
func ExampleClient_CreateCall() {
	// A stand-in for api.vapi.ai that shows what it receives.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.Method, r.URL.Path, r.Header.Get("Authorization"))
		fmt.Println(string(body))
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id": "019d2ad0", "orgId": "org1", "status": "queued",
			"createdAt": "2026-08-01T12:01:05.000Z", "updatedAt": "2026-08-01T12:01:05.000Z",
			"subscriptionLimits": {"concurrencyBlocked": false, "concurrencyLimit": 10, "remainingConcurrentCalls": 9}}`)
	}))
	defer srv.Close()

	client, err := vapi.NewClient("my-private-key", &vapi.Config{BaseURL: srv.URL})
	if err != nil {
		log.Fatal(err)
	}
	call, err := client.CreateCall(context.Background(), &vapi.CreateCallDTO{
		Name:          "cmp1-c42-a1",
		AssistantID:   "asst1",
		PhoneNumberID: "pn1",
		Customer:      &vapi.CreateCustomerDTO{Number: "+14155551234", ExternalID: "cmp1-c42"},
		AssistantOverrides: &vapi.AssistantOverrides{
			VariableValues: map[string]any{"first_name": "Jane", "amount_due": "120.50"},
			ServerMessages: []vapi.ServerMessageType{vapi.ServerMessageTypeStatusUpdate, vapi.ServerMessageTypeEndOfCallReport},
		},
	})
	switch vapi.Classify(err) {
	case vapi.ErrorClassNone:
	case vapi.ErrorClassAmbiguous:
		log.Fatal("the call may exist: look it up by name before dialling again")
	default:
		log.Fatal(err)
	}
	fmt.Println(call.ID, call.Status, "blocked:", call.ConcurrencyBlocked())
	// Output:
	// POST /call Bearer my-private-key
	// {"name":"cmp1-c42-a1","assistantId":"asst1","assistantOverrides":{"variableValues":{"amount_due":"120.50","first_name":"Jane"},"serverMessages":["status-update","end-of-call-report"]},"phoneNumberId":"pn1","customer":{"number":"+14155551234","externalId":"cmp1-c42"}}
	// 019d2ad0 queued blocked: false
}

// Decode a webhook body: an end-of-call report, with the legacy fields that
// some payloads still carry and others do not.
func ExampleParseServerMessage() {
	body := []byte(`{"message": {
		"type": "end-of-call-report",
		"timestamp": 1754049873126,
		"endedReason": "customer-ended-call",
		"startedAt": "2026-08-01T12:01:12.000Z",
		"endedAt": "2026-08-01T12:03:45.000Z",
		"cost": 0.2134,
		"analysis": {"summary": "Jane will pay on Friday.", "structuredData": {"willPay": true}, "successEvaluation": "true"},
		"artifact": {"transcript": "AI: Hi Jane ...", "messages": [{"role": "bot", "message": "Hi Jane", "time": 1754049673840, "endTime": 1754049676920.001, "secondsFromStart": 1.84}]},
		"call": {"id": "019d2ad0", "orgId": "org1", "name": "cmp1-c42-a1", "assistantOverrides": {"metadata": {"contactId": "42"}}},
		"durationSeconds": 153
	}}`)

	msg, err := vapi.ParseServerMessage(body)
	if err != nil {
		log.Fatal(err)
	}
	switch msg.Type {
	case vapi.ServerMessageTypeEndOfCallReport:
		r := msg.EndOfCallReport
		d, _ := r.Duration()
		var data struct {
			WillPay bool `json:"willPay"`
		}
		if err := json.Unmarshal(r.Analysis.StructuredData, &data); err != nil {
			log.Fatal(err)
		}
		fmt.Println("call:", r.Call.ID, r.Call.Name, "contact:", r.Call.AssistantOverrides.Metadata["contactId"])
		fmt.Println("at:", r.Timestamp.UTC().Format("2006-01-02 15:04:05.000"))
		fmt.Println("ended:", r.EndedReason, "after", d)
		fmt.Printf("cost: $%.4f\n", *r.Cost)
		fmt.Println("summary:", r.SummaryText())
		fmt.Println("success:", r.Analysis.SuccessEvaluation, "willPay:", data.WillPay)
		fmt.Println("turns:", len(r.Artifact.Messages), "first at", r.Artifact.Messages[0].SecondsFromStart, "s")
	case vapi.ServerMessageTypeStatusUpdate:
		fmt.Println("status:", msg.StatusUpdate.Status)
	default:
		fmt.Println("ignored:", msg.Type)
	}
	// Output:
	// call: 019d2ad0 cmp1-c42-a1 contact: 42
	// at: 2025-08-01 12:04:33.126
	// ended: customer-ended-call after 2m33s
	// cost: $0.2134
	// summary: Jane will pay on Friday.
	// success: true willPay: true
	// turns: 1 first at 1.84 s
}
