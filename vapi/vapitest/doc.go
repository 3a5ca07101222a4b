// Package vapitest is a simulator of the Vapi API for tests, benchmarks and
// dry runs: an http.Handler (Server) usable in-process or as a standalone
// server (`campaign simulator`).
//
// # Endpoints
//
// Every endpoint but /_sim/* requires Authorization: Bearer <Config.APIKey>
// (else 401 with Vapi's "Invalid Key. Hot tip, ..." body) and is subject to
// the request-rate limiter (429 "Rate limit exceeded" with Retry-After in
// seconds).
//
//   - POST /call: validates the CreateCallDTO strictly (unknown properties,
//     40-character limits, E.164 customer.number unless
//     numberE164CheckEnabled is false, assistant and phone number required;
//     with Config.Spec also against Vapi's OpenAPI document) and answers 400
//     {"message": [...], "error": "Bad Request", "statusCode": 400}. A batch
//     (customers) is refused with MessageBatchUnsupported. An unknown
//     assistantId is a 400 "Couldn't Get Assistant. ..." (as is a
//     phoneNumberId outside Config.PhoneNumberIDs when that list is set).
//     Success: 201 with the Call (status queued) and subscriptionLimits.
//     Over the concurrency limit: see ConcurrencyMode.
//   - GET /call: filters id, assistantId, phoneNumberId, limit (default 100,
//     at most 1000), createdAt{Gt,Lt,Ge,Le}, updatedAt{Gt,Lt,Ge,Le}; newest
//     first; a plain array.
//   - GET /call/{id}: the call as it is now; 400 for a non-uuid id, 404 for
//     an unknown one.
//   - GET /assistant/{id}: the saved assistants (Config.Assistants).
//   - GET /phone-number/{id}: the saved numbers (Config.PhoneNumbers), and
//     a plain Twilio number without a server for any other accepted id.
//   - POST /analytics: table "call" computed from the simulated calls
//     (table "subscription" answers empty results): count, sum, avg, min,
//     max, history over id, cost, costBreakdown.*, duration (the simulated
//     seconds of answered calls) and minutesUsed; groupBy type,
//     assistantId, endedReason, analysis.successEvaluation, status;
//     groupByVariableValue keys appear in rows under the variable's own
//     name; timeRange defaults to the last 7 days, a step
//     adds a "date" key (bucket start, RFC 3339); alias defaults to
//     operation + Column, e.g. countId, sumCost.
//   - GET /_sim/requests, /_sim/calls, /_sim/concurrency, /_sim/deliveries,
//     /_sim/faults: the introspection records as JSON (no auth).
//
// # Lifecycle
//
// A call goes queued → ringing → in-progress → ended (or ringing → ended
// when not answered; start errors end at once), Config.TimeScale times
// faster than Config.Clock. Timestamps (createdAt, startedAt, endedAt,
// message times) are Clock times, when the events were played; lengths
// (durationSeconds, analytics duration, costs, transcript offsets) and the
// delays below are simulated. A callback asked for "in two hours" is two
// simulated hours after the call's endedAt. A status-update is
// posted at each change after queued, and an end-of-call-report 3–8
// simulated seconds after the end. They go where Vapi sends them: to
// assistantOverrides.server, else the saved assistant's server, else the
// phone number's, with that server's headers (plus X-Vapi-Secret when
// Config.WebhookSecret is set), filtered by assistantOverrides.serverMessages,
// else the assistant's serverMessages, else Vapi's default list. When an
// answered call goes in-progress, each function tool of the assistant gets a
// tool-calls message at its own server, else at that same server. Without a
// server url no webhook is sent. Deliveries records every one and its URL.
// A failed delivery is retried per server.backoffPlan,
// else attempted once. Durations: completed 30–240 s of conversation,
// voicemail 20–40 s, no-answer rings 25–35 s, busy about 5 s.
//
// # Outcomes and magic numbers
//
// Each number has a stable propensity drawn from (Config.Seed, number): dead
// numbers (every call a start error, or failed to connect) stay dead; a live
// number has an answering propensity (some people rarely answer) and a
// voicemail box or not. Each call to a number draws its outcome from that
// propensity, the call's index among the calls to the number and the
// number's local hour (see Server.OutcomeForCall), deterministically for
// (Config.Seed, number, index, hour): a retry of a number not reached
// reaches a realistic share of the people not reached before. First calls
// at an average hour follow Config.OutcomeMix. Magic numbers force an
// outcome on every call whatever the mix: +1 201 555 01NN (valid US
// numbers):
//
//	+12015550100 … +12015550109  completed (customer-ended-call or assistant-ended-call);
//	                             0108 asks not to be called ({"do_not_call": true}),
//	                             0109 asks for a callback 2 h later ({"callback_at": …})
//	+12015550110 … +12015550119  no-answer (customer-did-not-answer)
//	+12015550120 … +12015550129  busy (customer-busy)
//	+12015550130 … +12015550139  voicemail (voicemail)
//	+12015550140 … +12015550144  failed (call.in-progress.error-providerfault-outbound-sip-503-service-unavailable)
//	+12015550145 … +12015550149  failed (twilio-failed-to-connect-call)
//	+12015550150 … +12015550159  start-error (call.start.error-get-phone-number)
//	+12015550160 … +12015550199  the mix, like any other number
//
// # Knobs
//
// See Config and Faults: APIKey, Seed, TimeScale, ConcurrencyLimit,
// ConcurrencyMode (blocked-201 or reject-400), RequestRate and
// RequestBurst, OutcomeMix, WebhookSecret, Assistants, PhoneNumberIDs,
// PhoneNumbers (saved numbers, with their E.164 number),
// Clock, HTTPClient, Spec; faults CreateErrorBefore, CreateErrorAfter,
// CreateTimeout(+Delay), CreateDrop, RateLimitBurst(+Length), WebhookDrop,
// WebhookDuplicate, WebhookDelay(+By), WebhookReorder. Faults are drawn from
// a PRNG seeded with Config.Seed.
//
// # Introspection
//
// Server.CreateRequests, CreateRequestsByNumber, Calls, Concurrency, Live,
// PhoneNumbers (calls and most live at once per phoneNumberId), Deliveries,
// Faults and FaultCounts expose what happened; Changed returns a
// channel closed at the next change, to wait on a condition without
// sleeping.
package vapitest
