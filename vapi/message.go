package vapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ServerMessageType is the type of a server message (message.type), also
// used to select messages in AssistantOverrides.ServerMessages.
type ServerMessageType string

// The server message types the runner uses. Others are decoded as raw JSON.
const (
	ServerMessageTypeStatusUpdate    ServerMessageType = "status-update"
	ServerMessageTypeEndOfCallReport ServerMessageType = "end-of-call-report"
	// ServerMessageTypeToolCalls asks the tool's server to run the tools the model called.
	ServerMessageTypeToolCalls ServerMessageType = "tool-calls"
)

// DefaultServerMessages are the server messages Vapi sends when neither the assistant nor
// the call's assistantOverrides set serverMessages.
var DefaultServerMessages = []ServerMessageType{
	"conversation-update", ServerMessageTypeEndOfCallReport, "function-call", "hang", "speech-update",
	ServerMessageTypeStatusUpdate, ServerMessageTypeToolCalls, "transfer-destination-request",
	"handoff-destination-request", "user-interrupted", "assistant.started",
}

// Timestamp is a server message's timestamp. Vapi sends milliseconds since
// the Unix epoch as a number (possibly fractional); older payloads carry an
// ISO 8601 string. Decoding accepts both, and a number small enough to be
// seconds (below 1e11) is read as seconds. A string that is neither leaves
// the zero value rather than failing the whole message. Timestamp encodes
// as milliseconds, as Vapi does today.
type Timestamp struct {
	time.Time
}

// secondsCutoff separates epoch seconds from epoch milliseconds: 1e11 ms is
// in 1973, 1e11 s is in the year 5138.
const secondsCutoff = 1e11

// UnmarshalJSON decodes a number or a string.
func (t *Timestamp) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	if data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("unmarshal timestamp: %w", err)
		}
		t.Time = parseTimestampString(s)
		return nil
	}
	f, err := strconv.ParseFloat(string(data), 64)
	if err != nil {
		return fmt.Errorf("unmarshal timestamp %s: not a number or a string", data)
	}
	t.Time = epochTime(f)
	return nil
}

// MarshalJSON encodes milliseconds since the Unix epoch, null when zero.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	out := strconv.AppendInt(nil, t.UnixMilli(), 10)
	if sub := t.Nanosecond() % 1e6; sub != 0 {
		// Exact decimal fraction of a millisecond, without float rounding.
		out = append(out, '.')
		out = append(out, strings.TrimRight(fmt.Sprintf("%06d", sub), "0")...)
	}
	return out, nil
}

// parseTimestampString reads an ISO 8601 or numeric string, zero if neither.
func parseTimestampString(s string) time.Time {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return epochTime(f)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm
		}
	}
	return time.Time{}
}

// epochTime converts epoch milliseconds (or seconds, below secondsCutoff).
func epochTime(f float64) time.Time {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}
	}
	if math.Abs(f) < secondsCutoff {
		f *= 1000
	}
	ms := math.Floor(f)
	ns := math.Round((f - ms) * 1e6)
	return time.UnixMilli(int64(ms)).Add(time.Duration(ns)).UTC()
}

// PhoneNumber is a Vapi phone number: the one a server message refers to, or
// GET /phone-number/{id}'s answer. Vapi sends one of five provider-specific
// shapes (byo-phone-number, twilio, vonage, vapi, telnyx); the fields common
// to all are decoded.
type PhoneNumber struct {
	// ID is Vapi's phone number id, when sent.
	ID string `json:"id,omitempty"`
	// OrgID is the owning organization.
	OrgID string `json:"orgId,omitempty"`
	// Number is the phone number (absent for some SIP numbers).
	Number string `json:"number,omitempty"`
	// Provider is the telephony provider, e.g. "twilio".
	Provider string `json:"provider,omitempty"`
	// Name is the number's label.
	Name string `json:"name,omitempty"`
	// AssistantID is the assistant that answers inbound calls.
	AssistantID string `json:"assistantId,omitempty"`
	// Server is where Vapi sends the server messages of calls on this
	// number whose assistant has no server.
	Server *Server `json:"server,omitempty"`
	// CreatedAt is when the number was created.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// UpdatedAt is when the number last changed.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// ServerMessage is the body of a webhook request: {"message": {...}}.
// Exactly one of StatusUpdate and EndOfCallReport is set for those two types;
// every message, of any type, keeps its raw JSON in Raw.
//
// To build a message (as a simulator does), set Type and the matching field
// and marshal; Raw is used only when neither typed field is set.
type ServerMessage struct {
	// Type is message.type.
	Type ServerMessageType
	// StatusUpdate is set when Type is "status-update".
	StatusUpdate *StatusUpdate
	// EndOfCallReport is set when Type is "end-of-call-report".
	EndOfCallReport *EndOfCallReport
	// Raw is the message object as received.
	Raw json.RawMessage
}

// ParseServerMessage decodes a webhook body. It fails on malformed JSON, a
// missing "message" object, a missing type, or a status-update or
// end-of-call-report whose fields have impossible types; any other type is
// accepted and kept raw.
func ParseServerMessage(body []byte) (*ServerMessage, error) {
	var m ServerMessage
	// Not json.Unmarshal(body, &m), which would check the whole body once more before
	// UnmarshalJSON checks it again (a fifth of the receiver's CPU went to such checks).
	if err := m.UnmarshalJSON(body); err != nil {
		return nil, err
	}
	return &m, nil
}

// UnmarshalJSON decodes the {"message": {...}} envelope.
func (m *ServerMessage) UnmarshalJSON(data []byte) error {
	var env struct {
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("decode server message: %w", err)
	}
	raw := bytes.TrimSpace(env.Message)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("decode server message: no message object")
	}
	var head struct {
		Type json.RawMessage `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("decode server message: %w", err)
	}
	typ := ServerMessageType(scalarText(head.Type))
	if typ == "" {
		return fmt.Errorf("decode server message: no type")
	}
	out := ServerMessage{Type: typ, Raw: append(json.RawMessage(nil), raw...)}
	switch typ {
	case ServerMessageTypeStatusUpdate:
		out.StatusUpdate = new(StatusUpdate)
		if err := json.Unmarshal(raw, out.StatusUpdate); err != nil {
			return fmt.Errorf("decode %s: %w", typ, err)
		}
	case ServerMessageTypeEndOfCallReport:
		out.EndOfCallReport = new(EndOfCallReport)
		if err := json.Unmarshal(raw, out.EndOfCallReport); err != nil {
			return fmt.Errorf("decode %s: %w", typ, err)
		}
	}
	*m = out
	return nil
}

// MarshalJSON encodes the {"message": {...}} envelope from the typed field
// matching Type (its type field is set to Type), else from Raw.
func (m ServerMessage) MarshalJSON() ([]byte, error) {
	var (
		msg any
		typ = m.Type
	)
	switch {
	case m.StatusUpdate != nil:
		su := *m.StatusUpdate
		if typ == "" {
			typ = ServerMessageTypeStatusUpdate
		}
		su.Type = typ
		msg = su
	case m.EndOfCallReport != nil:
		r := *m.EndOfCallReport
		if typ == "" {
			typ = ServerMessageTypeEndOfCallReport
		}
		r.Type = typ
		msg = r
	case len(m.Raw) > 0:
		msg = m.Raw
	default:
		return nil, fmt.Errorf("encode server message: empty message")
	}
	out, err := json.Marshal(struct {
		Message any `json:"message"`
	}{msg})
	if err != nil {
		return nil, fmt.Errorf("encode server message %s: %w", typ, err)
	}
	return out, nil
}

// StatusUpdate is the "status-update" server message, sent whenever a call's
// status changes.
type StatusUpdate struct {
	// Type is "status-update".
	Type ServerMessageType `json:"type"`
	// Timestamp is when Vapi emitted the message.
	Timestamp Timestamp `json:"timestamp,omitzero"`
	// Status is the call's new status.
	Status CallStatus `json:"status"`
	// EndedReason is set when Status is "ended".
	EndedReason string `json:"endedReason,omitempty"`
	// Call is the call, often a snapshot from its creation: read the
	// outcome from the message's own fields.
	Call *Call `json:"call,omitempty"`
	// Customer is the person called.
	Customer *CreateCustomerDTO `json:"customer,omitempty"`
	// PhoneNumber is the number the call was placed from.
	PhoneNumber *PhoneNumber `json:"phoneNumber,omitempty"`
	// Artifact is the call's artifact so far.
	Artifact *Artifact `json:"artifact,omitempty"`
	// Transcript is sent with status "forwarding".
	Transcript string `json:"transcript,omitempty"`
	// Summary is sent with status "forwarding".
	Summary string `json:"summary,omitempty"`
}

// EndOfCallReport is the "end-of-call-report" server message, sent when a
// call has ended and its analysis is done. Besides the documented fields it
// decodes the legacy top-level fields that some payloads still carry
// (summary, transcript, messages, recording URLs, durations, costBreakdown);
// all of them are optional.
type EndOfCallReport struct {
	// Type is "end-of-call-report".
	Type ServerMessageType `json:"type"`
	// Timestamp is when Vapi emitted the message.
	Timestamp Timestamp `json:"timestamp,omitzero"`
	// EndedReason says why the call ended.
	EndedReason string `json:"endedReason"`
	// StartedAt is when the call started; zero if it never did.
	StartedAt time.Time `json:"startedAt,omitzero"`
	// EndedAt is when the call ended.
	EndedAt time.Time `json:"endedAt,omitzero"`
	// Cost is the call's total cost in USD.
	Cost *float64 `json:"cost,omitempty"`
	// Costs itemizes Cost.
	Costs []Cost `json:"costs,omitempty"`
	// Analysis is the post-call analysis.
	Analysis *Analysis `json:"analysis,omitempty"`
	// Artifact is the transcript, messages and recordings.
	Artifact *Artifact `json:"artifact,omitempty"`
	// Call is the call, often a snapshot from its creation: read the
	// outcome from the message's own fields.
	Call *Call `json:"call,omitempty"`
	// Customer is the person called.
	Customer *CreateCustomerDTO `json:"customer,omitempty"`
	// PhoneNumber is the number the call was placed from.
	PhoneNumber *PhoneNumber `json:"phoneNumber,omitempty"`

	// CostBreakdown summarizes Cost by component (legacy, not in Vapi's
	// current schema).
	CostBreakdown *CostBreakdown `json:"costBreakdown,omitempty"`
	// Summary duplicates Analysis.Summary (legacy).
	Summary string `json:"summary,omitempty"`
	// Transcript duplicates Artifact.Transcript (legacy).
	Transcript string `json:"transcript,omitempty"`
	// Messages duplicates Artifact.Messages (legacy).
	Messages []ArtifactMessage `json:"messages,omitempty"`
	// RecordingURL duplicates Artifact.RecordingURL (legacy).
	RecordingURL string `json:"recordingUrl,omitempty"`
	// StereoRecordingURL duplicates Artifact.StereoRecordingURL (legacy).
	StereoRecordingURL string `json:"stereoRecordingUrl,omitempty"`
	// DurationSeconds is the call's length in seconds (legacy).
	DurationSeconds *float64 `json:"durationSeconds,omitempty"`
	// DurationMs is the call's length in milliseconds (legacy).
	DurationMs *float64 `json:"durationMs,omitempty"`
	// DurationMinutes is the call's length in minutes (legacy).
	DurationMinutes *float64 `json:"durationMinutes,omitempty"`
}

// Duration is the call's length: the reported durationSeconds, durationMs or
// durationMinutes (legacy), else EndedAt - StartedAt when both are set. ok is
// false when none is available. The reported length comes first: a simulator
// on a faster clock (vapitest) reports the simulated length while its
// timestamps are real times.
func (r *EndOfCallReport) Duration() (d time.Duration, ok bool) {
	switch {
	case r.DurationSeconds != nil:
		return time.Duration(*r.DurationSeconds * float64(time.Second)), true
	case r.DurationMs != nil:
		return time.Duration(*r.DurationMs * float64(time.Millisecond)), true
	case r.DurationMinutes != nil:
		return time.Duration(*r.DurationMinutes * float64(time.Minute)), true
	case !r.StartedAt.IsZero() && !r.EndedAt.IsZero() && !r.EndedAt.Before(r.StartedAt):
		return r.EndedAt.Sub(r.StartedAt), true
	}
	return 0, false
}

// SummaryText is Analysis.Summary, else the legacy top-level summary.
func (r *EndOfCallReport) SummaryText() string {
	if r.Analysis != nil && r.Analysis.Summary != "" {
		return r.Analysis.Summary
	}
	return r.Summary
}

// TranscriptText is Artifact.Transcript, else the legacy top-level
// transcript.
func (r *EndOfCallReport) TranscriptText() string {
	if r.Artifact != nil && r.Artifact.Transcript != "" {
		return r.Artifact.Transcript
	}
	return r.Transcript
}

// RecordingURLText is the mono recording: Artifact.Recording's combined URL,
// else Artifact.RecordingURL, else the legacy top-level recordingUrl.
func (r *EndOfCallReport) RecordingURLText() string {
	if a := r.Artifact; a != nil {
		if a.Recording != nil && a.Recording.Mono != nil && a.Recording.Mono.CombinedURL != "" {
			return a.Recording.Mono.CombinedURL
		}
		if a.RecordingURL != "" {
			return a.RecordingURL
		}
	}
	return r.RecordingURL
}
