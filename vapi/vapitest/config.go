package vapitest

import (
	"net/http"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

// Outcome is how a simulated call plays out.
type Outcome string

// Outcomes.
const (
	// OutcomeCompleted: answered by a person, a conversation of 30–240 s,
	// ended by the customer or the assistant.
	OutcomeCompleted Outcome = "completed"
	// OutcomeNoAnswer: rings 25–35 s, customer-did-not-answer.
	OutcomeNoAnswer Outcome = "no-answer"
	// OutcomeBusy: rings about 5 s, customer-busy.
	OutcomeBusy Outcome = "busy"
	// OutcomeVoicemail: answered by a machine, 20–40 s, voicemail.
	OutcomeVoicemail Outcome = "voicemail"
	// OutcomeFailed: a provider fault while connecting (SIP 503 or
	// twilio-failed-to-connect-call).
	OutcomeFailed Outcome = "failed"
	// OutcomeStartError: never dialled, ended at once with
	// call.start.error-get-phone-number.
	OutcomeStartError Outcome = "start-error"
	// OutcomeConcurrencyBlocked: refused by the concurrency limit in
	// blocked-201 mode, ended at once. Never drawn from the mix.
	OutcomeConcurrencyBlocked Outcome = "concurrency-blocked"
)

// OutcomeMix weighs the outcomes drawn for numbers that are not magic
// numbers. Weights are relative; all zero means DefaultOutcomeMix.
type OutcomeMix struct {
	Completed  float64
	NoAnswer   float64
	Busy       float64
	Voicemail  float64
	Failed     float64
	StartError float64
}

// DefaultOutcomeMix is 55% completed, 20% no answer, 8% busy, 12% voicemail,
// 3% failed, 2% start error.
var DefaultOutcomeMix = OutcomeMix{Completed: 55, NoAnswer: 20, Busy: 8, Voicemail: 12, Failed: 3, StartError: 2}

// ConcurrencyMode is how the simulator refuses a call over the concurrency
// limit.
type ConcurrencyMode string

// Concurrency modes.
const (
	// ConcurrencyBlocked201 answers 201 with
	// subscriptionLimits.concurrencyBlocked=true and a call already ended
	// with call.start.error-subscription-concurrency-limit-reached.
	ConcurrencyBlocked201 ConcurrencyMode = "blocked-201"
	// ConcurrencyReject400 answers 400 "Over Concurrency Limit" and creates
	// nothing.
	ConcurrencyReject400 ConcurrencyMode = "reject-400"
)

// Faults are injected failures, each a probability from 0 to 1, drawn from
// a PRNG seeded with Config.Seed (so a run is reproducible for a given
// request order).
type Faults struct {
	// CreateErrorBefore answers POST /call with 500 without creating the
	// call.
	CreateErrorBefore float64
	// CreateErrorAfter creates the call (it plays out normally) and then
	// answers 500.
	CreateErrorAfter float64
	// CreateTimeout creates the call and holds the response until the
	// client gives up (the request's context is done) or, when
	// CreateTimeoutDelay is set, until that much Clock time has passed
	// (then it answers 201).
	CreateTimeout float64
	// CreateTimeoutDelay bounds a held response; zero holds until the
	// client gives up.
	CreateTimeoutDelay time.Duration
	// CreateDrop creates the call and closes the connection without an
	// answer.
	CreateDrop float64
	// RateLimitBurst is the probability that a request starts a burst of
	// RateLimitBurstLength 429 answers (this request included).
	RateLimitBurst float64
	// RateLimitBurstLength is the length of a 429 burst (default 5).
	RateLimitBurstLength int
	// WebhookDrop drops a webhook: it is never sent.
	WebhookDrop float64
	// WebhookDuplicate sends a webhook twice.
	WebhookDuplicate float64
	// WebhookDelay holds a webhook for WebhookDelayBy (simulated time)
	// before sending it; the call's later webhooks wait behind it.
	WebhookDelay float64
	// WebhookDelayBy is the extra delay of a delayed webhook in simulated
	// time (default 30 s).
	WebhookDelayBy time.Duration
	// WebhookReorder sends a call's end-of-call-report before its final
	// status-update (probability per call).
	WebhookReorder float64
}

// Config configures a Server. The zero value is usable: see the defaults
// on each field.
type Config struct {
	// APIKey is the bearer key the API requires (default "sim-key").
	APIKey string
	// Seed drives outcomes, durations, generated content and faults.
	Seed int64
	// TimeScale speeds calls up: 60 makes a two-minute call last two
	// seconds of Clock time. Default 1. Lengths the simulator reports
	// (durationSeconds, analytics duration, cost minutes, transcript
	// offsets) are simulated: that call reports 120 s. Timestamps
	// (createdAt, startedAt, endedAt, message times) are Clock times: when
	// the events were played, so its startedAt and endedAt are 2 s apart.
	TimeScale float64
	// ConcurrencyLimit is the account's concurrent-call limit (default 10).
	ConcurrencyLimit int
	// ConcurrencyMode is how calls over the limit are refused (default
	// ConcurrencyBlocked201).
	ConcurrencyMode ConcurrencyMode
	// RequestRate is the API request rate limit in requests per second of
	// Clock time (default 1000); a negative rate disables the limit.
	RequestRate float64
	// RequestBurst is the rate limiter's bucket size (default
	// max(RequestRate, 1)).
	RequestBurst int
	// OutcomeMix weighs the outcomes of ordinary numbers.
	OutcomeMix OutcomeMix
	// Faults injects failures.
	Faults Faults
	// WebhookSecret, when set, is sent as X-Vapi-Secret with every webhook.
	WebhookSecret string
	// Assistants are the saved assistants (default DefaultAssistants()).
	Assistants []vapi.Assistant
	// PhoneNumberIDs are the accepted phoneNumberId values; empty accepts
	// any non-empty id. The ids of PhoneNumbers are accepted too.
	PhoneNumberIDs []string
	// PhoneNumbers are saved phone numbers, e.g. with a server URL of their
	// own; GET /phone-number/{id} answers them, and a plain Twilio number for
	// any other accepted id.
	PhoneNumbers []vapi.PhoneNumber
	// Squads are the saved squads: GET /squad/{id} answers them and POST
	// /call accepts their ids as squadId (default DefaultSquads()).
	Squads []vapi.Squad
	// WorkflowIDs are the accepted workflowId values; empty accepts any
	// non-empty id. (Vapi's OpenAPI document has no GET /workflow/{id}.)
	WorkflowIDs []string
	// Clock is the time source (default RealClock).
	Clock Clock
	// HTTPClient posts the webhooks (default a client without a timeout;
	// each delivery is bounded by the call's server.timeoutSeconds).
	HTTPClient *http.Client
	// Spec, when set, validates POST /call and POST /analytics bodies
	// against Vapi's OpenAPI document, strictly, in addition to the
	// built-in checks. *vapispec.Spec implements it.
	Spec SpecValidator
	// OrgID is the organization id stamped on calls (default a fixed
	// uuid).
	OrgID string
}

// SpecValidator validates a request body against a component schema of
// Vapi's OpenAPI document, strictly, and returns the messages of Vapi's 400
// answer for it (NestJS class-validator wording, e.g. "customer.property foo
// should not exist"); none when the body conforms. The simulator adds them
// to its own checks' messages. *vapispec.Spec implements it; it is declared
// here so that the simulator does not link the validator into programs that
// do not set one.
type SpecValidator interface {
	RequestMessages(schema string, body []byte) []string
}

// Default values.
const (
	DefaultAPIKey           = "sim-key"
	DefaultConcurrencyLimit = 10
	DefaultRequestRate      = 1000
	DefaultOrgID            = "6c0b5e2a-51f3-4d0c-9a39-5f0d8d1b7a10"
)

func (c Config) withDefaults() Config {
	if c.APIKey == "" {
		c.APIKey = DefaultAPIKey
	}
	if c.TimeScale <= 0 {
		c.TimeScale = 1
	}
	if c.ConcurrencyLimit <= 0 {
		c.ConcurrencyLimit = DefaultConcurrencyLimit
	}
	if c.ConcurrencyMode == "" {
		c.ConcurrencyMode = ConcurrencyBlocked201
	}
	if c.RequestRate == 0 {
		c.RequestRate = DefaultRequestRate
	}
	if c.RequestBurst <= 0 {
		c.RequestBurst = int(c.RequestRate)
		if c.RequestBurst < 1 {
			c.RequestBurst = 1
		}
	}
	if c.OutcomeMix == (OutcomeMix{}) {
		c.OutcomeMix = DefaultOutcomeMix
	}
	if c.Faults.RateLimitBurstLength <= 0 {
		c.Faults.RateLimitBurstLength = 5
	}
	if c.Faults.WebhookDelayBy <= 0 {
		c.Faults.WebhookDelayBy = 30 * time.Second
	}
	if c.Assistants == nil {
		c.Assistants = DefaultAssistants()
	}
	if c.Squads == nil {
		c.Squads = DefaultSquads()
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.OrgID == "" {
		c.OrgID = DefaultOrgID
	}
	return c
}

// Ids of the default assistants.
const (
	AssistantCollections = "a1f0c6a2-7b1e-4c59-9d33-000000000001"
	AssistantAppointment = "a1f0c6a2-7b1e-4c59-9d33-000000000002"
)

// SquadReminders is the id of the default squad.
const SquadReminders = "5e1d0a7c-3b2f-4c8e-9a61-000000000001"

// DefaultSquads returns one saved squad: the payment reminder, which hands over to the
// appointment confirmation.
func DefaultSquads() []vapi.Squad {
	created := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	return []vapi.Squad{{
		ID: SquadReminders, OrgID: DefaultOrgID, Name: "Reminders",
		Members:   []vapi.SquadMember{{AssistantID: AssistantCollections}, {AssistantID: AssistantAppointment}},
		CreatedAt: created, UpdatedAt: created,
	}}
}

// DefaultAssistants returns two saved assistants whose prompts use
// {{variables}}: a payment reminder (first_name, amount_due, due_date) and
// an appointment confirmation (first_name, appointment_time).
func DefaultAssistants() []vapi.Assistant {
	created := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	return []vapi.Assistant{
		{
			ID: AssistantCollections, OrgID: DefaultOrgID, Name: "Payment reminder",
			FirstMessage:     `Hi {{ first_name | default: "there" }}, this is Alex from Acme about {{ amount_due | default: "your balance" }}.`,
			FirstMessageMode: "assistant-speaks-first",
			VoicemailMessage: `Hi {{ first_name | default: "there" }}, this is Alex from Acme. Please call us back about your account.`,
			EndCallMessage:   "Thanks for your time. Goodbye.",
			Model: &vapi.AssistantModel{Provider: "openai", Model: "gpt-4o", Messages: []vapi.ModelMessage{{
				Role:    "system",
				Content: `You are Alex, a polite assistant for Acme. Remind {{first_name}} that {{ amount_due | default: "a balance" }} is due on {{ due_date | default: "the due date" }} and ask when they will pay.`,
			}}},
			CreatedAt: created, UpdatedAt: created,
		},
		{
			ID: AssistantAppointment, OrgID: DefaultOrgID, Name: "Appointment confirmation",
			FirstMessage:     `Hello {{ first_name | default: "there" }}, I'm calling to confirm your appointment {{ appointment_time | default: "tomorrow" }}.`,
			FirstMessageMode: "assistant-speaks-first",
			EndCallMessage:   "See you then. Goodbye.",
			Model: &vapi.AssistantModel{Provider: "openai", Model: "gpt-4o-mini", Messages: []vapi.ModelMessage{{
				Role:    "system",
				Content: `You confirm appointments for Acme Clinic. Confirm {{first_name}}'s appointment {{ appointment_time | default: "tomorrow" }} or offer to reschedule.`,
			}}},
			CreatedAt: created, UpdatedAt: created,
		},
	}
}
