package vapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
)

func TestParseServerMessageExamples(t *testing.T) {
	t.Parallel()

	t.Run("EndOfCallReport", func(t *testing.T) {
		t.Parallel()
		m, err := vapi.ParseServerMessage(testdata(t, "end-of-call-report.json"))
		require.NoError(t, err)
		require.Equal(t, vapi.ServerMessageTypeEndOfCallReport, m.Type)
		require.Nil(t, m.StatusUpdate)
		require.NotEmpty(t, m.Raw)
		r := m.EndOfCallReport
		require.NotNil(t, r)

		require.Equal(t, time.UnixMilli(1754049873126).UTC(), r.Timestamp.Time)
		require.Equal(t, "customer-ended-call", r.EndedReason)
		require.Equal(t, time.Date(2026, 8, 1, 12, 1, 12, 0, time.UTC), r.StartedAt)
		require.Equal(t, time.Date(2026, 8, 1, 12, 3, 45, 0, time.UTC), r.EndedAt)
		require.InDelta(t, 0.2134, *r.Cost, 1e-12)
		require.Len(t, r.Costs, 6)
		require.Equal(t, "transport", r.Costs[0].Type)
		require.InDelta(t, 2.55, r.Costs[0].Minutes, 1e-12)
		require.Equal(t, "vapi", r.Costs[4].Type)
		require.Equal(t, "normal", r.Costs[4].SubType)
		require.InDelta(t, 5120, r.Costs[2].PromptTokens, 0)

		require.Equal(t, "Jane confirmed she will pay the $120.50 balance on Friday.", r.Analysis.Summary)
		require.JSONEq(t, `{"willPay": true}`, string(r.Analysis.StructuredData))
		require.Equal(t, "true", r.Analysis.SuccessEvaluation)

		require.Equal(t, "AI: Hi Jane, this is ...\nUser: ...\n", r.Artifact.Transcript)
		require.Len(t, r.Artifact.Messages, 3)
		require.InDelta(t, 1754049679973.001, r.Artifact.Messages[2].EndTime, 1e-6)
		require.InDelta(t, 6.42, r.Artifact.Messages[2].SecondsFromStart, 1e-12)
		require.Equal(t, "https://...", r.Artifact.Recording.Mono.CombinedURL)
		require.Equal(t, "https://storage.vapi.ai/<...>-mono.wav", r.Artifact.RecordingURL)

		require.Equal(t, "crm-000042", r.Customer.ExternalID)
		require.Equal(t, "+14155550000", r.PhoneNumber.Number)
		require.Equal(t, "twilio", r.PhoneNumber.Provider)
		require.Equal(t, "019d2ad0-6eb1-7aac-9377-0fc25d8bc1ad", r.Call.ID)
		require.Equal(t, "cmp-2026q3-row-000042", r.Call.Name)
		require.Equal(t, "42", r.Call.AssistantOverrides.Metadata["rowId"])
		require.Nil(t, r.Call.AssistantOverrides.Extra)

		// Legacy top-level fields.
		require.Equal(t, "Jane confirmed she will pay ...", r.Summary)
		require.Equal(t, "AI: Hi Jane ...", r.Transcript)
		require.Len(t, r.Messages, 1)
		require.InDelta(t, 153, *r.DurationSeconds, 0)
		require.InDelta(t, 153000, *r.DurationMs, 0)
		require.InDelta(t, 2.55, *r.DurationMinutes, 1e-12)
		require.InDelta(t, 0.2134, r.CostBreakdown.Total, 1e-12)
		require.InDelta(t, 0.0004, r.CostBreakdown.AnalysisCostBreakdown["summary"], 1e-12)

		d, ok := r.Duration()
		require.True(t, ok)
		require.Equal(t, 153*time.Second, d)
		require.Equal(t, r.Analysis.Summary, r.SummaryText())
		require.Equal(t, r.Artifact.Transcript, r.TranscriptText())
		require.Equal(t, "https://...", r.RecordingURLText())
	})

	t.Run("StatusUpdate", func(t *testing.T) {
		t.Parallel()
		m, err := vapi.ParseServerMessage(testdata(t, "status-update.json"))
		require.NoError(t, err)
		require.Equal(t, vapi.ServerMessageTypeStatusUpdate, m.Type)
		require.Nil(t, m.EndOfCallReport)
		su := m.StatusUpdate
		require.NotNil(t, su)
		require.Equal(t, vapi.CallStatusEnded, su.Status)
		require.Equal(t, "customer-did-not-answer", su.EndedReason)
		require.Equal(t, time.UnixMilli(1754049825000).UTC(), su.Timestamp.Time)
		require.Equal(t, "019d2ad0-6eb1-7aac-9377-0fc25d8bc1ad", su.Call.ID)
		require.Equal(t, "42", su.Call.AssistantOverrides.Metadata["rowId"])
		require.Equal(t, "Jane Doe", su.Customer.Name)
	})

	t.Run("CreateCallResponse", func(t *testing.T) {
		t.Parallel()
		var call vapi.Call
		require.NoError(t, json.Unmarshal(testdata(t, "create-call.response.json"), &call))
		require.Equal(t, vapi.CallStatusQueued, call.Status)
		require.False(t, call.ConcurrencyBlocked())
	})

	t.Run("AnalyticsResponse", func(t *testing.T) {
		t.Parallel()
		var results []vapi.AnalyticsQueryResult
		require.NoError(t, json.Unmarshal(testdata(t, "analytics.response.json"), &results))
		require.Len(t, results, 2)
		require.Equal(t, "2026-08-01T13:00:00.000Z", results[1].Result[0]["date"])
	})
}

func TestTimestampLenient(t *testing.T) {
	t.Parallel()

	ms := time.Date(2025, 8, 1, 12, 4, 33, 126e6, time.UTC)
	tests := []struct {
		name string
		json string
		want time.Time
	}{
		{"Milliseconds", `1754049873126`, ms},
		{"FractionalMilliseconds", `1754049873126.5`, ms.Add(500 * time.Microsecond)},
		{"ExponentNotation", `1.754049873126e12`, ms},
		{"Seconds", `1754049873`, ms.Truncate(time.Second)},
		{"ISOString", `"2025-08-01T12:04:33.126Z"`, ms},
		{"ISOStringWithOffset", `"2025-08-01T14:04:33.126+02:00"`, ms},
		{"ISOStringNoZone", `"2025-08-01T12:04:33.126"`, ms},
		{"NumericString", `"1754049873126"`, ms},
		{"GarbageStringIsZero", `"yesterday"`, time.Time{}},
		{"Null", `null`, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got struct {
				Timestamp vapi.Timestamp `json:"timestamp"`
			}
			require.NoError(t, json.Unmarshal([]byte(`{"timestamp": `+tt.json+`}`), &got))
			require.True(t, tt.want.Equal(got.Timestamp.Time), "want %v, got %v", tt.want, got.Timestamp.Time)
		})
	}

	t.Run("RejectsOtherTypes", func(t *testing.T) {
		t.Parallel()
		var ts vapi.Timestamp
		require.Error(t, json.Unmarshal([]byte(`true`), &ts))
		require.Error(t, json.Unmarshal([]byte(`{}`), &ts))
	})

	t.Run("MarshalsMilliseconds", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(vapi.Timestamp{Time: ms})
		require.NoError(t, err)
		require.Equal(t, `1754049873126`, string(b))
		b, err = json.Marshal(vapi.Timestamp{Time: ms.Add(500250 * time.Nanosecond)})
		require.NoError(t, err)
		require.Equal(t, `1754049873126.50025`, string(b))
		b, err = json.Marshal(vapi.Timestamp{})
		require.NoError(t, err)
		require.Equal(t, `null`, string(b))
	})
}

func TestServerMessageLenient(t *testing.T) {
	t.Parallel()

	t.Run("UnknownEnumsAndFieldsAndMissingLegacy", func(t *testing.T) {
		t.Parallel()
		m, err := vapi.ParseServerMessage([]byte(`{"message": {
			"type": "end-of-call-report",
			"timestamp": "2026-08-01T12:03:50.000Z",
			"endedReason": "call.in-progress.error-some-reason-added-next-week",
			"startedAt": "2026-08-01T12:01:12.250Z",
			"endedAt": "2026-08-01T12:03:45.750Z",
			"analysis": {"successEvaluation": 8},
			"artifact": {"messages": [{"role": "tool_call_result", "time": 1754049672000.25, "secondsFromStart": 0.5, "brandNewField": {"x": 1}}]},
			"call": {"id": "c1", "status": "hibernating", "type": "quantumCall", "somethingNew": [1, 2]},
			"brandNewTopLevel": {"nested": true}
		}}`))
		require.NoError(t, err)
		r := m.EndOfCallReport
		require.Equal(t, "call.in-progress.error-some-reason-added-next-week", r.EndedReason)
		require.Equal(t, time.Date(2026, 8, 1, 12, 3, 50, 0, time.UTC), r.Timestamp.Time)
		require.Equal(t, vapi.CallStatus("hibernating"), r.Call.Status)
		require.Equal(t, vapi.CallType("quantumCall"), r.Call.Type)
		require.Equal(t, "8", r.Analysis.SuccessEvaluation)
		require.Empty(t, r.Analysis.Summary)
		require.InDelta(t, 1754049672000.25, r.Artifact.Messages[0].Time, 1e-6)
		require.Equal(t, "tool_call_result", r.Artifact.Messages[0].Role)

		// No legacy fields: they are absent, not zero.
		require.Nil(t, r.DurationSeconds)
		require.Nil(t, r.DurationMs)
		require.Nil(t, r.Cost)
		require.Nil(t, r.CostBreakdown)
		require.Empty(t, r.Summary)
		require.Empty(t, r.Transcript)
		require.Empty(t, r.RecordingURL)
		require.Empty(t, r.SummaryText())
		require.Empty(t, r.TranscriptText())
		require.Empty(t, r.RecordingURLText())
		d, ok := r.Duration()
		require.True(t, ok)
		require.Equal(t, 153500*time.Millisecond, d)
	})

	t.Run("LegacyOnly", func(t *testing.T) {
		t.Parallel()
		m, err := vapi.ParseServerMessage([]byte(`{"message": {"type": "end-of-call-report", "endedReason": "voicemail",
			"durationSeconds": 7.734, "summary": "left a message", "transcript": "AI: hi", "recordingUrl": "https://r",
			"analysis": {"successEvaluation": false}, "artifact": {}}}`))
		require.NoError(t, err)
		r := m.EndOfCallReport
		require.True(t, r.Timestamp.IsZero())
		d, ok := r.Duration()
		require.True(t, ok)
		require.Equal(t, 7734*time.Millisecond, d)
		require.Equal(t, "left a message", r.SummaryText())
		require.Equal(t, "AI: hi", r.TranscriptText())
		require.Equal(t, "https://r", r.RecordingURLText())
		require.Equal(t, "false", r.Analysis.SuccessEvaluation)
	})

	t.Run("NoDurationAtAll", func(t *testing.T) {
		t.Parallel()
		m, err := vapi.ParseServerMessage([]byte(`{"message": {"type": "end-of-call-report", "endedReason": "customer-did-not-answer", "startedAt": null}}`))
		require.NoError(t, err)
		_, ok := m.EndOfCallReport.Duration()
		require.False(t, ok)
		require.Nil(t, m.EndOfCallReport.Analysis)
	})

	t.Run("OtherTypesKeptRaw", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			`{"message": {"type": "hang", "timestamp": 1754049873126}}`,
			`{"message": {"type": "conversation-update", "messagesOpenAIFormatted": []}}`,
			`{"message": {"type": "some.future-type", "anything": {"at": "all"}}}`,
		} {
			m, err := vapi.ParseServerMessage([]byte(body))
			require.NoError(t, err, body)
			require.Nil(t, m.StatusUpdate)
			require.Nil(t, m.EndOfCallReport)
			var env struct {
				Message json.RawMessage `json:"message"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &env))
			require.JSONEq(t, string(env.Message), string(m.Raw))

			// Re-encoding gives back the same envelope.
			out, err := json.Marshal(m)
			require.NoError(t, err)
			require.JSONEq(t, body, string(out))
		}
	})

	t.Run("Malformed", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			``,
			`{`,
			`[]`,
			`{}`,
			`{"message": null}`,
			`{"message": "status-update"}`,
			`{"message": {}}`,
			`{"message": {"type": ""}}`,
			`{"message": {"type": "status-update", "status": 3}}`,
			`{"message": {"type": "end-of-call-report", "cost": "free"}}`,
		} {
			_, err := vapi.ParseServerMessage([]byte(body))
			require.Error(t, err, body)
		}
	})
}

func TestServerMessageMarshal(t *testing.T) {
	t.Parallel()

	cost := 0.12
	m := vapi.ServerMessage{EndOfCallReport: &vapi.EndOfCallReport{
		Timestamp:   vapi.Timestamp{Time: time.UnixMilli(1754049873126)},
		EndedReason: "customer-ended-call",
		StartedAt:   time.Date(2026, 8, 1, 12, 1, 12, 0, time.UTC),
		EndedAt:     time.Date(2026, 8, 1, 12, 3, 45, 0, time.UTC),
		Cost:        &cost,
		Analysis:    &vapi.Analysis{Summary: "fine", SuccessEvaluation: "true"},
		Artifact:    &vapi.Artifact{Transcript: "AI: hi"},
		Call:        &vapi.Call{ID: "c1", OrgID: "o1", CreatedAt: time.Date(2026, 8, 1, 12, 1, 5, 0, time.UTC), UpdatedAt: time.Date(2026, 8, 1, 12, 1, 5, 0, time.UTC)},
	}}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	require.JSONEq(t, `{"message": {
		"type": "end-of-call-report",
		"timestamp": 1754049873126,
		"endedReason": "customer-ended-call",
		"startedAt": "2026-08-01T12:01:12Z",
		"endedAt": "2026-08-01T12:03:45Z",
		"cost": 0.12,
		"analysis": {"summary": "fine", "successEvaluation": "true"},
		"artifact": {"transcript": "AI: hi"},
		"call": {"id": "c1", "orgId": "o1", "createdAt": "2026-08-01T12:01:05Z", "updatedAt": "2026-08-01T12:01:05Z"}
	}}`, string(b))

	back, err := vapi.ParseServerMessage(b)
	require.NoError(t, err)
	require.Equal(t, vapi.ServerMessageTypeEndOfCallReport, back.Type)
	require.Equal(t, m.EndOfCallReport.EndedReason, back.EndOfCallReport.EndedReason)
	require.True(t, m.EndOfCallReport.Timestamp.Equal(back.EndOfCallReport.Timestamp.Time))

	su, err := json.Marshal(vapi.ServerMessage{StatusUpdate: &vapi.StatusUpdate{Status: vapi.CallStatusRinging}})
	require.NoError(t, err)
	require.JSONEq(t, `{"message": {"type": "status-update", "status": "ringing"}}`, string(su))

	_, err = json.Marshal(vapi.ServerMessage{})
	require.Error(t, err)
}

func TestAssistantOverridesJSON(t *testing.T) {
	t.Parallel()

	t.Run("UnmarshalKeepsUnknownKeysInExtra", func(t *testing.T) {
		t.Parallel()
		var o vapi.AssistantOverrides
		require.NoError(t, json.Unmarshal([]byte(`{
			"firstMessage": "Hello {{name}}",
			"voicemailDetection": "off",
			"variableValues": {"name": "Jane"},
			"serverMessages": ["end-of-call-report"],
			"server": {"url": "https://x", "timeoutSeconds": 12.5}
		}`), &o))
		require.Equal(t, map[string]any{"name": "Jane"}, o.VariableValues)
		require.Equal(t, []vapi.ServerMessageType{vapi.ServerMessageTypeEndOfCallReport}, o.ServerMessages)
		require.InDelta(t, 12.5, o.Server.TimeoutSeconds, 0)
		require.Len(t, o.Extra, 2)
		require.JSONEq(t, `"Hello {{name}}"`, string(o.Extra["firstMessage"]))
		require.JSONEq(t, `"off"`, string(o.Extra["voicemailDetection"]))
	})

	t.Run("MarshalTypedFieldsWin", func(t *testing.T) {
		t.Parallel()
		o := vapi.AssistantOverrides{
			VariableValues: map[string]any{"name": "Jane"},
			Extra: map[string]json.RawMessage{
				"variableValues": json.RawMessage(`{"name": "from file"}`),
				"metadata":       json.RawMessage(`{"owner": "ops"}`),
				"firstMessage":   json.RawMessage(`"Hi"`),
			},
		}
		b, err := json.Marshal(o)
		require.NoError(t, err)
		require.Equal(t, `{"firstMessage":"Hi","metadata":{"owner":"ops"},"variableValues":{"name":"Jane"}}`, string(b))
	})

	t.Run("MarshalWithoutExtra", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(vapi.AssistantOverrides{})
		require.NoError(t, err)
		require.Equal(t, `{}`, string(b))
	})

	t.Run("MarshalRejectsInvalidExtra", func(t *testing.T) {
		t.Parallel()
		_, err := json.Marshal(vapi.AssistantOverrides{Extra: map[string]json.RawMessage{"firstMessage": json.RawMessage(`Hi`)}})
		require.ErrorContains(t, err, `extra "firstMessage" is not valid JSON`)
	})

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		in := `{"endCallMessage":"Bye","maxDurationSeconds":300,"metadata":{"a":1},"serverMessages":["status-update"]}`
		var o vapi.AssistantOverrides
		require.NoError(t, json.Unmarshal([]byte(in), &o))
		out, err := json.Marshal(&o)
		require.NoError(t, err)
		require.Equal(t, in, string(out))
	})
}
