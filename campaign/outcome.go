package campaign

import (
	"maps"
	"slices"
	"strings"
)

// Outcome is what a call attempt came to, reduced from Vapi's several hundred endedReasons
// to the few that decide what happens next.
type Outcome string

// Outcomes.
const (
	// OutcomeCompleted: the call connected and the assistant talked with someone.
	OutcomeCompleted Outcome = "completed"
	// OutcomeVoicemail: an answering machine or voicemail answered.
	OutcomeVoicemail Outcome = "voicemail"
	// OutcomeNoAnswer: it rang, nobody answered (or the far end was temporarily unreachable).
	OutcomeNoAnswer Outcome = "no_answer"
	// OutcomeBusy: the line was busy or the call was declined.
	OutcomeBusy Outcome = "busy"
	// OutcomeFailedRetryable: a Vapi or telephony-provider fault; calling again may work.
	OutcomeFailedRetryable Outcome = "failed_retryable"
	// OutcomeFailedPermanent: a bad number, assistant, phone number, billing or account problem,
	// or an ended reason this version does not know; calling again would fail the same way.
	OutcomeFailedPermanent Outcome = "failed_permanent"
	// OutcomeCapacity: Vapi refused to start the call for lack of a concurrency slot. Nobody was
	// dialed, so it never counts as an attempt.
	OutcomeCapacity Outcome = "capacity"
)

// Outcomes of a contact failed without a (further) call: its calling hours never let it be
// called (see CallingHours.Decide and Decision.FailOutcome), the pre-dial hook refused it, or the
// campaign's end came first.
const (
	// OutcomeInvalidWindow: the campaign's calling-window spec does not parse (specs are
	// validated before they are stored, so only a hand-edited database gets here).
	OutcomeInvalidWindow Outcome = "invalid_window"
	// OutcomeInvalidTimeZone: one of the contact's time zones does not load on the runner's
	// machine (it did at import), or the contact has none: its local hours are unknown.
	OutcomeInvalidTimeZone Outcome = "invalid_time_zone"
	// OutcomeNoCallingWindow: the window never opens in all of the contact's zones at once
	// within the 14 days Window.NextOpen looks ahead (e.g. zones far apart, short hours).
	OutcomeNoCallingWindow Outcome = "no_calling_window"
	// OutcomeIneligible: the pre-dial hook (--predial-url) answered that the contact is not to
	// be called, or gave no usable answer PredialMaxFailures times in a row; the contact's
	// PredialReason says why.
	OutcomeIneligible Outcome = "ineligible"
	// OutcomeExpired: the campaign's end (Settings.EndBy) came before the contact was reached:
	// it was still waiting for a call, or its next try (a retry, a window's opening) would have
	// come after the end (see Store.ExpireContacts).
	OutcomeExpired Outcome = "expired"
)

// callOutcomes lists the outcomes of a call, in the order of their constants.
func callOutcomes() []Outcome {
	return []Outcome{OutcomeCompleted, OutcomeVoicemail, OutcomeNoAnswer, OutcomeBusy,
		OutcomeFailedRetryable, OutcomeFailedPermanent, OutcomeCapacity}
}

// uncalledOutcomes lists the outcomes of a contact failed without a call, in the order of their
// constants.
func uncalledOutcomes() []Outcome {
	return []Outcome{OutcomeInvalidWindow, OutcomeInvalidTimeZone, OutcomeNoCallingWindow, OutcomeIneligible, OutcomeExpired}
}

// Reached reports whether the outcome means a person or a machine picked up.
func (o Outcome) Reached() bool {
	return o == OutcomeCompleted || o == OutcomeVoicemail
}

// exactOutcomes maps the ended reasons whose meaning is not carried by a prefix.
var exactOutcomes = map[string]Outcome{
	"customer-ended-call":                             OutcomeCompleted,
	"customer-ended-call-before-warm-transfer":        OutcomeCompleted,
	"customer-ended-call-after-warm-transfer-attempt": OutcomeCompleted,
	"customer-ended-call-during-transfer":             OutcomeCompleted,
	"assistant-ended-call":                            OutcomeCompleted,
	"assistant-said-end-call-phrase":                  OutcomeCompleted,
	"assistant-ended-call-with-hangup-task":           OutcomeCompleted,
	"assistant-ended-call-after-message-spoken":       OutcomeCompleted,
	"assistant-forwarded-call":                        OutcomeCompleted,
	"exceeded-max-duration":                           OutcomeCompleted,
	"silence-timed-out":                               OutcomeCompleted,
	"vonage-completed":                                OutcomeCompleted,
	"call.in-progress.twilio-completed-call":          OutcomeCompleted,
	"call.in-progress.sip-completed-call":             OutcomeCompleted,
	"call.in-progress.error-transfer-failed":          OutcomeCompleted,
	"call.forwarding.operator-busy":                   OutcomeCompleted,
	"call.forwarding.no-answer":                       OutcomeCompleted,

	"voicemail": OutcomeVoicemail,

	"customer-did-not-answer": OutcomeNoAnswer,
	"call.in-progress.error-providerfault-outbound-sip-480-temporarily-unavailable": OutcomeNoAnswer,
	"call.in-progress.error-providerfault-outbound-sip-408-request-timeout":         OutcomeNoAnswer,

	"customer-busy":   OutcomeBusy,
	"vonage-rejected": OutcomeBusy,

	"call.start.error-subscription-concurrency-limit-reached": OutcomeCapacity,

	"twilio-failed-to-connect-call":                                   OutcomeFailedRetryable,
	"vonage-failed-to-connect-call":                                   OutcomeFailedRetryable,
	"vonage-disconnected":                                             OutcomeFailedRetryable,
	"worker-shutdown":                                                 OutcomeFailedRetryable,
	"phone-call-provider-closed-websocket":                            OutcomeFailedRetryable,
	"assistant-join-timed-out":                                        OutcomeFailedRetryable,
	"call.in-progress.error-sip-outbound-call-failed-to-connect":      OutcomeFailedRetryable,
	"call.in-progress.error-assistant-did-not-receive-customer-audio": OutcomeFailedRetryable,
	"call.start.error-vapi-number-outbound-daily-limit":               OutcomeFailedRetryable,

	"twilio-reported-customer-misdialed":                                                  OutcomeFailedPermanent,
	"call.in-progress.error-providerfault-outbound-sip-403-forbidden":                     OutcomeFailedPermanent,
	"call.in-progress.error-providerfault-outbound-sip-407-proxy-authentication-required": OutcomeFailedPermanent,
}

// prefixOutcomes classifies families of ended reasons, longest prefix first; a reason Vapi adds
// later lands in its family.
var prefixOutcomes = []struct {
	prefix  string
	outcome Outcome
}{
	{"call.in-progress.error-warm-transfer-", OutcomeCompleted},
	{"call.ending.hook-executed-", OutcomeCompleted},
	{"call.start.error-vapifault-", OutcomeFailedRetryable},
	{"call.in-progress.error-vapifault-", OutcomeFailedRetryable},
	{"call.in-progress.error-providerfault-", OutcomeFailedRetryable},
	{"call.in-progress.error-pipeline-", OutcomeFailedRetryable},
	{"pipeline-error-", OutcomeFailedRetryable},
	{"customer-ended-call", OutcomeCompleted},
	{"assistant-ended-call", OutcomeCompleted},
	{"call.start.error-", OutcomeFailedPermanent},
	{"call.start.", OutcomeFailedPermanent},
	{"assistant-request-", OutcomeFailedPermanent},
	{"assistant-not-", OutcomeFailedPermanent},
}

// ClassifyEndedReason maps a Vapi endedReason to an Outcome: known reasons exactly, unknown
// ones by their family prefix, and anything else to OutcomeFailedPermanent, the safe default:
// a reason nobody understands is reported for attention, never redialed blindly.
func ClassifyEndedReason(reason string) Outcome {
	if o, ok := exactOutcomes[reason]; ok {
		return o
	}
	for _, p := range prefixOutcomes {
		if strings.HasPrefix(reason, p.prefix) {
			return p.outcome
		}
	}
	return OutcomeFailedPermanent
}

// KnownEndedReasons lists, sorted, the Vapi ended reasons this version classifies by name (the
// others go by their family's prefix): what a filter on the ended reason suggests.
func KnownEndedReasons() []string {
	reasons := slices.Collect(maps.Keys(exactOutcomes))
	slices.Sort(reasons)
	return reasons
}
