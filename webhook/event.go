package webhook

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

// Metadata keys the campaign runner puts in every call's
// assistantOverrides.metadata (squadOverrides.metadata for a squad).
const (
	metaCampaignID = "campaign_id"
	metaAttemptKey = "attempt_key"
)

// newEvent builds the Event of a decoded message.
func newEvent(msg *vapi.ServerMessage, body []byte, receivedAt time.Time) *Event {
	e := &Event{Type: msg.Type, Message: msg, Body: body, ReceivedAt: receivedAt}
	var (
		callID, name string
		meta         map[string]any
	)
	call := (*vapi.Call)(nil)
	switch {
	case msg.StatusUpdate != nil:
		e.Status = string(msg.StatusUpdate.Status)
		call = msg.StatusUpdate.Call
	case msg.EndOfCallReport != nil:
		call = msg.EndOfCallReport.Call
	default:
		callID, name, meta = rawCall(msg.Raw)
	}
	if call != nil {
		callID, name = call.ID, call.Name
		meta = call.Metadata()
	}
	e.CallID = callID
	e.AttemptKey = name
	if e.AttemptKey == "" {
		e.AttemptKey = metaString(meta[metaAttemptKey])
	}
	e.CampaignID = metaID(meta[metaCampaignID])
	return e
}

// rawCall reads message.call.id, .name and .assistantOverrides.metadata (a squad's call:
// .squadOverrides.metadata) of
// a message that vapi does not decode (any type but status-update and
// end-of-call-report). It is lenient: a part that is missing or of an
// unexpected type is left empty, and never fails the request.
func rawCall(raw json.RawMessage) (id, name string, meta map[string]any) {
	var msg struct {
		Call json.RawMessage `json:"call"`
	}
	if json.Unmarshal(raw, &msg) != nil || !isObject(msg.Call) {
		return "", "", nil
	}
	var call struct {
		ID                 json.RawMessage `json:"id"`
		Name               json.RawMessage `json:"name"`
		AssistantOverrides json.RawMessage `json:"assistantOverrides"`
		SquadOverrides     json.RawMessage `json:"squadOverrides"`
	}
	if json.Unmarshal(msg.Call, &call) != nil {
		return "", "", nil
	}
	id, name = scalar(call.ID), scalar(call.Name)
	raw = call.AssistantOverrides
	if !isObject(raw) {
		raw = call.SquadOverrides // a squad's call
	}
	if !isObject(raw) {
		return id, name, nil
	}
	var overrides struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	if json.Unmarshal(raw, &overrides) != nil || !isObject(overrides.Metadata) {
		return id, name, nil
	}
	if json.Unmarshal(overrides.Metadata, &meta) != nil {
		return id, name, nil
	}
	return id, name, meta
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// scalar is a JSON string's value or a JSON number's text; "" for anything
// else.
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case c == '-' || (c >= '0' && c <= '9'):
		return string(raw)
	}
	return ""
}

// metaString is a metadata value that is a string, else "".
func metaString(v any) string {
	s, _ := v.(string)
	return s
}

// maxExactFloat is the largest integer that a float64 holds exactly.
const maxExactFloat = 1 << 53

// metaID is a metadata value that is a positive integer, as a JSON number
// or a numeric string; 0 for anything else.
func metaID(v any) int64 {
	switch v := v.(type) {
	case float64:
		if v >= 1 && v <= maxExactFloat && v == math.Trunc(v) {
			return int64(v)
		}
	case json.Number:
		if n, err := v.Int64(); err == nil && n > 0 {
			return n
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 0
}
