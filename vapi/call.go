package vapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// CallStatus is the lifecycle status of a call (Call.status and
// status-update's status). Values not listed below may appear; they are kept
// as received.
type CallStatus string

// Call statuses known at the time of writing.
const (
	CallStatusScheduled      CallStatus = "scheduled"
	CallStatusQueued         CallStatus = "queued"
	CallStatusRinging        CallStatus = "ringing"
	CallStatusInProgress     CallStatus = "in-progress"
	CallStatusForwarding     CallStatus = "forwarding"
	CallStatusEnded          CallStatus = "ended"
	CallStatusNotFound       CallStatus = "not-found"
	CallStatusDeletionFailed CallStatus = "deletion-failed"
)

// CallType is the kind of call (Call.type).
type CallType string

// Call types known at the time of writing.
const (
	CallTypeInboundPhoneCall  CallType = "inboundPhoneCall"
	CallTypeOutboundPhoneCall CallType = "outboundPhoneCall"
	CallTypeWebCall           CallType = "webCall"
	CallTypeWebsocketCall     CallType = "vapi.websocketCall"
)

// EndedReasonConcurrencyLimitReached is the endedReason of a call that Vapi
// accepted (201) but never dialled because the account's concurrency limit
// was reached. Mapping the other endedReasons to outcomes is not this
// package's job.
const EndedReasonConcurrencyLimitReached = "call.start.error-subscription-concurrency-limit-reached"

// BackoffType is the retry schedule of a webhook delivery (BackoffPlan.type).
type BackoffType string

// Backoff types.
const (
	BackoffTypeFixed       BackoffType = "fixed"
	BackoffTypeExponential BackoffType = "exponential"
)

// CreateCallDTO is the body of POST /call. It covers the fields the runner
// sets; anything else an operator wants to override goes through
// AssistantOverrides.Extra. It deliberately has no batch "customers" field:
// one request creates exactly one call.
type CreateCallDTO struct {
	// Name is for our own reference (at most 40 characters). The runner puts
	// the attempt's deterministic key here so that a call can be found again
	// after an ambiguous failure.
	Name string `json:"name,omitempty"`
	// AssistantID is the saved assistant that places the call. A call has
	// exactly one target: AssistantID, Assistant, SquadID or WorkflowID.
	AssistantID string `json:"assistantId,omitempty"`
	// Assistant is a transient assistant (a CreateAssistantDTO object), sent
	// as given.
	Assistant json.RawMessage `json:"assistant,omitempty"`
	// AssistantOverrides carries template variables, metadata, webhook
	// routing and any other override of the assistant's settings (of
	// AssistantID or Assistant).
	AssistantOverrides *AssistantOverrides `json:"assistantOverrides,omitempty"`
	// SquadID is the saved squad that places the call.
	SquadID string `json:"squadId,omitempty"`
	// SquadOverrides overrides every squad member's settings and template
	// variables; its schema is AssistantOverrides'.
	SquadOverrides *AssistantOverrides `json:"squadOverrides,omitempty"`
	// WorkflowID is the saved workflow that places the call.
	WorkflowID string `json:"workflowId,omitempty"`
	// WorkflowOverrides carries the workflow's template variables.
	WorkflowOverrides *WorkflowOverrides `json:"workflowOverrides,omitempty"`
	// PhoneNumberID is the Vapi phone number the call is placed from.
	PhoneNumberID string `json:"phoneNumberId,omitempty"`
	// Customer is the person to call.
	Customer *CreateCustomerDTO `json:"customer,omitempty"`
}

// WorkflowOverrides overrides a saved workflow for one call. Vapi's schema
// has only the template variables: a workflow call carries no metadata and
// no server of its own.
type WorkflowOverrides struct {
	// VariableValues replaces the {{ template }} variables in the workflow's
	// messages and prompts.
	VariableValues map[string]any `json:"variableValues,omitempty"`
}

// CreateCustomerDTO is the customer of a call: the number to dial and our
// references for it. It is also the shape Vapi echoes back in Call.customer
// and in server messages.
type CreateCustomerDTO struct {
	// Number is the number to dial, E.164 unless NumberE164CheckEnabled is
	// false (3 to 40 characters).
	Number string `json:"number,omitempty"`
	// Name is the customer's name, for reference (at most 40 characters).
	Name string `json:"name,omitempty"`
	// ExternalID is our identifier for the customer (at most 40 characters).
	ExternalID string `json:"externalId,omitempty"`
	// Extension is dialled after the call is answered (at most 10 characters).
	Extension string `json:"extension,omitempty"`
	// NumberE164CheckEnabled, when set to false, lets Number be a non-E.164
	// string (SIP trunks). Nil leaves Vapi's default (true).
	NumberE164CheckEnabled *bool `json:"numberE164CheckEnabled,omitempty"`
}

// AssistantOverrides overrides a saved assistant's settings for one call.
// The typed fields are the ones the runner sets; Extra carries any other
// override (firstMessage, voicemailDetection, maxDurationSeconds, ...)
// verbatim, for example from an operator's overrides file.
//
// When marshalled, Extra's keys are merged into the object and a typed field
// that is set wins over an Extra key of the same name. When unmarshalled,
// keys without a typed field land in Extra.
type AssistantOverrides struct {
	// VariableValues replaces the {{ template }} variables in the
	// assistant's messages and prompts.
	VariableValues map[string]any `json:"variableValues,omitempty"`
	// Metadata is stored on the call and echoed back in
	// call.assistantOverrides.metadata.
	Metadata map[string]any `json:"metadata,omitempty"`
	// Server is where Vapi posts this call's server messages.
	Server *Server `json:"server,omitempty"`
	// ServerMessages selects the server messages Vapi sends.
	ServerMessages []ServerMessageType `json:"serverMessages,omitempty"`
	// Extra holds any other override, keyed by its JSON name.
	Extra map[string]json.RawMessage `json:"-"`
}

// assistantOverridesFields has AssistantOverrides' typed fields without its
// methods, so that encoding/json can handle them.
type assistantOverridesFields AssistantOverrides

// MarshalJSON encodes the typed fields and merges Extra in, typed fields
// winning. Keys come out sorted.
func (o AssistantOverrides) MarshalJSON() ([]byte, error) {
	typed, err := json.Marshal(assistantOverridesFields(o))
	if err != nil {
		return nil, fmt.Errorf("marshal assistant overrides: %w", err)
	}
	if len(o.Extra) == 0 {
		return typed, nil
	}
	merged := make(map[string]json.RawMessage, len(o.Extra)+4)
	for k, v := range o.Extra {
		if !json.Valid(v) {
			return nil, fmt.Errorf("marshal assistant overrides: extra %q is not valid JSON", k)
		}
		merged[k] = v
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(typed, &fields); err != nil {
		return nil, fmt.Errorf("marshal assistant overrides: %w", err)
	}
	for k, v := range fields {
		merged[k] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("marshal assistant overrides: %w", err)
	}
	return out, nil
}

// UnmarshalJSON decodes the typed fields and keeps every other key in Extra.
func (o *AssistantOverrides) UnmarshalJSON(data []byte) error {
	var fields assistantOverridesFields
	if err := json.Unmarshal(data, &fields); err != nil {
		return fmt.Errorf("unmarshal assistant overrides: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return fmt.Errorf("unmarshal assistant overrides: %w", err)
	}
	for _, k := range []string{"variableValues", "metadata", "server", "serverMessages"} {
		delete(all, k)
	}
	fields.Extra = nil
	if len(all) > 0 {
		fields.Extra = all
	}
	*o = AssistantOverrides(fields)
	return nil
}

// Server is a webhook destination (AssistantOverrides.server).
type Server struct {
	// URL is where Vapi sends the requests.
	URL string `json:"url,omitempty"`
	// Headers are sent with every request, e.g. a shared secret.
	Headers map[string]string `json:"headers,omitempty"`
	// TimeoutSeconds is how long Vapi waits for an answer (1 to 300,
	// Vapi's default 20).
	TimeoutSeconds float64 `json:"timeoutSeconds,omitempty"`
	// CredentialID references a Vapi credential that authenticates the
	// requests (bearer, HMAC or OAuth2).
	CredentialID string `json:"credentialId,omitempty"`
	// BackoffPlan makes Vapi retry failed deliveries. Nil: no retries.
	BackoffPlan *BackoffPlan `json:"backoffPlan,omitempty"`
}

// BackoffPlan is how Vapi retries a failed webhook delivery. Type,
// MaxRetries and BaseDelaySeconds are required by Vapi and always sent.
type BackoffPlan struct {
	// Type is fixed or exponential.
	Type BackoffType `json:"type"`
	// MaxRetries is the number of retries (0 to 10).
	MaxRetries int `json:"maxRetries"`
	// BaseDelaySeconds is the (first) delay between attempts (0 to 10).
	BaseDelaySeconds float64 `json:"baseDelaySeconds"`
	// ExcludedStatusCodes are answers that are not retried.
	ExcludedStatusCodes []int `json:"excludedStatusCodes,omitempty"`
}

// SubscriptionLimits is the account's concurrency state that Vapi returns
// with a created call.
type SubscriptionLimits struct {
	// ConcurrencyBlocked is true when the call was not placed because the
	// account's concurrency limit was reached.
	ConcurrencyBlocked bool `json:"concurrencyBlocked,omitempty"`
	// ConcurrencyLimit is the account's concurrent-call limit.
	ConcurrencyLimit float64 `json:"concurrencyLimit,omitempty"`
	// RemainingConcurrentCalls is how many more concurrent calls are
	// allowed, including this one.
	RemainingConcurrentCalls float64 `json:"remainingConcurrentCalls,omitempty"`
}

// Call is Vapi's call object, as returned by POST /call, GET /call/{id} and
// GET /call, and embedded in server messages. Only the fields the runner
// reads are decoded; the rest is ignored.
type Call struct {
	// ID is Vapi's call id.
	ID string `json:"id"`
	// OrgID is the owning organization.
	OrgID string `json:"orgId,omitempty"`
	// Type is the kind of call.
	Type CallType `json:"type,omitempty"`
	// Name is the name given at creation.
	Name string `json:"name,omitempty"`
	// Status is the lifecycle status.
	Status CallStatus `json:"status,omitempty"`
	// EndedReason says why the call ended (one of some 600 values, kept as
	// received).
	EndedReason string `json:"endedReason,omitempty"`
	// EndedMessage adds context to EndedReason.
	EndedMessage string `json:"endedMessage,omitempty"`
	// CreatedAt is when Vapi created the call.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// UpdatedAt is when the call object last changed.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	// StartedAt is when the call started; zero if it never did.
	StartedAt time.Time `json:"startedAt,omitzero"`
	// EndedAt is when the call ended; zero while it is live.
	EndedAt time.Time `json:"endedAt,omitzero"`
	// AssistantID is the assistant that placed the call.
	AssistantID string `json:"assistantId,omitempty"`
	// PhoneNumberID is the number the call was placed from.
	PhoneNumberID string `json:"phoneNumberId,omitempty"`
	// CustomerID is set when the call used a saved customer.
	CustomerID string `json:"customerId,omitempty"`
	// CampaignID is set when the call belongs to a Vapi campaign.
	CampaignID string `json:"campaignId,omitempty"`
	// Customer is the person called.
	Customer *CreateCustomerDTO `json:"customer,omitempty"`
	// AssistantOverrides echoes the overrides given at creation, including
	// metadata.
	AssistantOverrides *AssistantOverrides `json:"assistantOverrides,omitempty"`
	// SquadID is the squad that placed the call.
	SquadID string `json:"squadId,omitempty"`
	// SquadOverrides echoes a squad call's overrides, including metadata.
	SquadOverrides *AssistantOverrides `json:"squadOverrides,omitempty"`
	// WorkflowID is the workflow that placed the call.
	WorkflowID string `json:"workflowId,omitempty"`
	// Cost is the call's total cost in USD.
	Cost *float64 `json:"cost,omitempty"`
	// Costs itemizes Cost.
	Costs []Cost `json:"costs,omitempty"`
	// CostBreakdown summarizes Cost by component.
	CostBreakdown *CostBreakdown `json:"costBreakdown,omitempty"`
	// Analysis holds the post-call summary, structured data and success
	// evaluation.
	Analysis *Analysis `json:"analysis,omitempty"`
	// Artifact holds the transcript, messages and recordings.
	Artifact *Artifact `json:"artifact,omitempty"`
	// SubscriptionLimits is returned by POST /call (not part of Vapi's
	// published Call schema, hence optional).
	SubscriptionLimits *SubscriptionLimits `json:"subscriptionLimits,omitempty"`
}

// ConcurrencyBlocked reports whether Vapi accepted the call but did not place
// it because the account's concurrency limit was reached, either as
// subscriptionLimits.concurrencyBlocked or as the endedReason
// EndedReasonConcurrencyLimitReached. Such a call should be re-queued
// without counting as an attempt.
func (c *Call) ConcurrencyBlocked() bool {
	if c == nil {
		return false
	}
	if c.SubscriptionLimits != nil && c.SubscriptionLimits.ConcurrencyBlocked {
		return true
	}
	return c.EndedReason == EndedReasonConcurrencyLimitReached
}

// Ended reports whether the call has status "ended".
func (c *Call) Ended() bool {
	return c != nil && c.Status == CallStatusEnded
}

// Cost is one item of a call's itemized cost (Call.costs). Vapi has several
// item shapes (transport, transcriber, model, voice, vapi, analysis, ...);
// the fields common to most of them are decoded.
type Cost struct {
	// Type is the kind of cost, e.g. "transport", "model", "vapi".
	Type string `json:"type"`
	// SubType refines Type where Vapi has one (vapi: normal or overage).
	SubType string `json:"subType,omitempty"`
	// Cost is the item's cost in USD.
	Cost float64 `json:"cost"`
	// Minutes is set on minute-billed items.
	Minutes float64 `json:"minutes,omitempty"`
	// Characters is set on voice items.
	Characters float64 `json:"characters,omitempty"`
	// PromptTokens is set on model and analysis items.
	PromptTokens float64 `json:"promptTokens,omitempty"`
	// CompletionTokens is set on model and analysis items.
	CompletionTokens float64 `json:"completionTokens,omitempty"`
}

// CostBreakdown summarizes a call's cost by component, in USD (token and
// character counts excepted).
type CostBreakdown struct {
	// Transport is the telephony cost.
	Transport float64 `json:"transport,omitempty"`
	// STT is the speech-to-text cost.
	STT float64 `json:"stt,omitempty"`
	// LLM is the language-model cost.
	LLM float64 `json:"llm,omitempty"`
	// TTS is the text-to-speech cost.
	TTS float64 `json:"tts,omitempty"`
	// Vapi is Vapi's own fee.
	Vapi float64 `json:"vapi,omitempty"`
	// Chat is the chat cost.
	Chat float64 `json:"chat,omitempty"`
	// Total is the sum.
	Total float64 `json:"total,omitempty"`
	// LLMPromptTokens is the number of prompt tokens.
	LLMPromptTokens float64 `json:"llmPromptTokens,omitempty"`
	// LLMCompletionTokens is the number of completion tokens.
	LLMCompletionTokens float64 `json:"llmCompletionTokens,omitempty"`
	// LLMCachedPromptTokens is the number of cached prompt tokens.
	LLMCachedPromptTokens float64 `json:"llmCachedPromptTokens,omitempty"`
	// TTSCharacters is the number of synthesized characters.
	TTSCharacters float64 `json:"ttsCharacters,omitempty"`
	// AnalysisCostBreakdown itemizes the post-call analysis cost (summary,
	// structuredData, successEvaluation and their token counts).
	AnalysisCostBreakdown map[string]float64 `json:"analysisCostBreakdown,omitempty"`
}

// Analysis is the post-call analysis (Call.analysis, end-of-call-report's
// analysis). It is empty when the call had too few messages or an analysis
// step timed out.
type Analysis struct {
	// Summary is the call summary.
	Summary string `json:"summary,omitempty"`
	// StructuredData is the data extracted by the structured-data plan, as
	// received (normally a JSON object).
	StructuredData json.RawMessage `json:"structuredData,omitempty"`
	// StructuredDataMulti is the structured-data catalog, as received.
	StructuredDataMulti json.RawMessage `json:"structuredDataMulti,omitempty"`
	// SuccessEvaluation is the success evaluation: "true"/"false" with the
	// default PassFail rubric, a score or a label with others. A
	// non-string value is kept as its JSON text.
	SuccessEvaluation string `json:"successEvaluation,omitempty"`
}

// analysisFields has Analysis' fields without its methods.
type analysisFields Analysis

// UnmarshalJSON decodes an analysis, accepting a successEvaluation that is a
// boolean or a number instead of a string.
func (a *Analysis) UnmarshalJSON(data []byte) error {
	var aux struct {
		analysisFields
		SuccessEvaluation json.RawMessage `json:"successEvaluation,omitempty"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return fmt.Errorf("unmarshal analysis: %w", err)
	}
	*a = Analysis(aux.analysisFields)
	a.SuccessEvaluation = scalarText(aux.SuccessEvaluation)
	return nil
}

// scalarText returns a JSON string's value, "" for null or absent, and the
// JSON text of any other value.
func scalarText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}

// Artifact is what a call produced (Call.artifact, a server message's
// artifact).
type Artifact struct {
	// Transcript is the plain-text transcript.
	Transcript string `json:"transcript,omitempty"`
	// Messages is the conversation, one item per turn.
	Messages []ArtifactMessage `json:"messages,omitempty"`
	// RecordingURL is the mono recording (deprecated by Vapi in favour of
	// Recording, still sent).
	RecordingURL string `json:"recordingUrl,omitempty"`
	// StereoRecordingURL is the stereo recording (deprecated by Vapi in
	// favour of Recording, still sent).
	StereoRecordingURL string `json:"stereoRecordingUrl,omitempty"`
	// Recording holds the recording URLs.
	Recording *Recording `json:"recording,omitempty"`
	// LogURL is the call log.
	LogURL string `json:"logUrl,omitempty"`
	// VariableValues are the template variables in effect at the end of
	// the call.
	VariableValues map[string]any `json:"variableValues,omitempty"`
	// StructuredOutputs are the results of the assistant's structured
	// outputs, as received.
	StructuredOutputs json.RawMessage `json:"structuredOutputs,omitempty"`
}

// Recording holds a call's recording URLs.
type Recording struct {
	// StereoURL is the stereo recording.
	StereoURL string `json:"stereoUrl,omitempty"`
	// Mono holds the mono recordings.
	Mono *MonoRecording `json:"mono,omitempty"`
}

// MonoRecording holds a call's mono recording URLs.
type MonoRecording struct {
	// CombinedURL is both sides mixed.
	CombinedURL string `json:"combinedUrl,omitempty"`
	// AssistantURL is the assistant's side.
	AssistantURL string `json:"assistantUrl,omitempty"`
	// CustomerURL is the customer's side.
	CustomerURL string `json:"customerUrl,omitempty"`
}

// ArtifactMessage is one turn of a call's conversation. Times are
// milliseconds since the Unix epoch and may have a fractional part.
type ArtifactMessage struct {
	// Role is who spoke: "system", "bot", "user", or a tool role.
	Role string `json:"role"`
	// Message is what was said.
	Message string `json:"message,omitempty"`
	// Time is when the turn started (ms since the epoch).
	Time float64 `json:"time,omitempty"`
	// EndTime is when the turn ended (ms since the epoch).
	EndTime float64 `json:"endTime,omitempty"`
	// SecondsFromStart is when the turn started, from the call's start.
	SecondsFromStart float64 `json:"secondsFromStart"`
	// Duration is the turn's length in milliseconds.
	Duration float64 `json:"duration,omitempty"`
	// Source says where a bot message came from, if anywhere in particular.
	Source string `json:"source,omitempty"`
}

// Metadata is the metadata the call was created with: assistantOverrides', else (a squad's
// call) squadOverrides'.
func (c *Call) Metadata() map[string]any {
	switch {
	case c.AssistantOverrides != nil && c.AssistantOverrides.Metadata != nil:
		return c.AssistantOverrides.Metadata
	case c.SquadOverrides != nil:
		return c.SquadOverrides.Metadata
	}
	return nil
}
