package campaign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file holds the pure rules that decide what happens to a contact after a call attempt
// ended: retry it later (and when), or finish it (and in which state). Nothing here reads a
// clock, a database or the calling window; the caller supplies the times and applies the window.
//
// The caller's part, in order:
//
//  1. OutcomeCapacity (Vapi refused to start the call for lack of a concurrency slot) never
//     reaches these rules: nobody was dialed, so the attempt is not counted and the contact
//     is put back in line shortly (see CapacityRetryDelay).
//  2. ParseFollowUp reads the end-of-call report's structured data; AfterCall combines it with
//     the outcome (NextStep is the outcome alone).
//  3. A Final of ContactDoNotCall also adds the number to the suppression list.
//  4. A Retry's At is the earliest the next attempt may start; the caller moves it into the
//     contact's calling window with CallingHours.Decide before storing it as
//     the contact's next_attempt_at. A retry therefore waits for both the delay and the window.

// RetryRule is how many retries an outcome gets and how long to wait before each.
type RetryRule struct {
	// Retries is how many more attempts an outcome earns after the first attempt that ended
	// with it (0: none).
	Retries int
	// Delay is the wait before the first retry, counted from the end of the attempt.
	Delay time.Duration
	// Backoff (≥ 1) multiplies the delay for each further retry: retry n waits
	// Delay × Backoff^(n-1). 1 (or anything below 1) is a fixed delay.
	Backoff float64
}

// RetryPolicy is the retry rule of each outcome and the cap on attempts per contact.
//
// The zero RetryPolicy never retries (no rules) and caps attempts at DefaultMaxAttempts.
type RetryPolicy struct {
	// Rules holds a rule per outcome. A policy from ParseRetryPolicy has one for each of
	// no_answer, busy, voicemail and failed_retryable, and one for completed only when it
	// earns retries. An outcome without a rule is not retried.
	Rules map[Outcome]RetryRule
	// MaxAttempts caps the counted attempts per contact, retries and callbacks included
	// (--max-attempts); below 1 means DefaultMaxAttempts.
	MaxAttempts int
}

// Default retry settings.
//
// They are chosen to reach people without pestering them: at most three dials per contact,
// spread over different parts of the day. Three calls is also the most several telemarketing
// rules allow a caller to place to one person within 24 hours (e.g. Florida's), so the
// defaults stay under such limits even if every retry fell on the same day.
//
//   - no_answer=2@4h: nobody picked up, so the person is probably busy or away; trying again
//     four hours later lands in another part of their day (a morning call is retried in the
//     afternoon) instead of ringing the same unanswered phone again within minutes.
//   - busy=2@30m: the line was in use or the call was declined; half an hour lets a
//     conversation end without redialing someone who just refused the call right away.
//   - voicemail=1@24h: a machine answered (and may have taken a message); one more try the
//     next day, at about the same local time, is enough.
//   - failed=2@10m: a Vapi or telephony fault, not the person; it usually clears within
//     minutes, and retrying it bothers nobody.
//   - completed=0: a conversation happened; call again only if the person asked for it (a
//     callback in the structured data).
//   - MaxAttempts 3: the same as the --max-attempts default.
const (
	DefaultRetrySpec   = "no_answer=2@4h, busy=2@30m, voicemail=1@24h, failed=2@10m"
	DefaultMaxAttempts = 3
)

// Limits of a retry spec.
const (
	// MaxRetriesPerOutcome bounds a rule's count.
	MaxRetriesPerOutcome = 10
	// MinRetryDelay is the shortest delay a rule may ask for: redialing a person within
	// seconds is never what a careful operator wants.
	MinRetryDelay = time.Minute
	// MaxRetryDelay is the longest delay a rule may ask for, and the cap on a delay grown by
	// its backoff.
	MaxRetryDelay = 30 * 24 * time.Hour
	// MaxRetryBackoff bounds a rule's backoff factor.
	MaxRetryBackoff = 10.0
)

// retryKeys are the configurable outcomes in canonical order, with their spec names.
var retryKeys = []struct {
	key     string
	outcome Outcome
}{
	{"no_answer", OutcomeNoAnswer},
	{"busy", OutcomeBusy},
	{"voicemail", OutcomeVoicemail},
	{"failed", OutcomeFailedRetryable},
	{"completed", OutcomeCompleted},
}

// retryKeyNames maps every accepted spelling of a key to its outcome.
var retryKeyNames = map[string]Outcome{
	"no_answer":        OutcomeNoAnswer,
	"busy":             OutcomeBusy,
	"voicemail":        OutcomeVoicemail,
	"failed":           OutcomeFailedRetryable,
	"failed_retryable": OutcomeFailedRetryable,
	"completed":        OutcomeCompleted,
}

// DefaultRetryPolicy is the policy of DefaultRetrySpec and DefaultMaxAttempts (see there for
// why).
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		Rules: map[Outcome]RetryRule{
			OutcomeNoAnswer:        {Retries: 2, Delay: 4 * time.Hour, Backoff: 1},
			OutcomeBusy:            {Retries: 2, Delay: 30 * time.Minute, Backoff: 1},
			OutcomeVoicemail:       {Retries: 1, Delay: 24 * time.Hour, Backoff: 1},
			OutcomeFailedRetryable: {Retries: 2, Delay: 10 * time.Minute, Backoff: 1},
		},
		MaxAttempts: DefaultMaxAttempts,
	}
}

// ParseRetryPolicy parses a --retry spec such as
// "no_answer=2@30m, busy=3@10m, voicemail=1@24h, failed=2@5m".
//
// Grammar (keys are case-insensitive; spaces are allowed around every part):
//
//	spec  = "" | "none" | rule { "," rule }
//	rule  = key "=" count [ "@" delay [ "*" backoff ] ]
//	key   = "no_answer" | "busy" | "voicemail" | "failed" | "failed_retryable" | "completed"
//	count = 0 to 10                    (retries after the first attempt with this outcome)
//	delay = a Go duration, e.g. 90s, 30m, 4h, 1h30m: whole seconds, 1m to 720h (30 days)
//	backoff = a number from 1 to 10    (retry n waits delay × backoff^(n-1); default 1)
//
// A delay is required when count is above 0 and ignored when it is 0. Outcomes the spec does
// not name keep their default rule (so "busy=0" only turns off busy retries); "none" turns
// every retry off; "" is the default policy. completed defaults to 0: a completed call is
// retried only if the rule says so, or if the person asked for a callback. failed_permanent
// and capacity cannot be configured: the first is never retried, the second is never an
// attempt. The result's MaxAttempts is DefaultMaxAttempts; --max-attempts sets it.
//
// Errors quote the spec and the offending rule, e.g.
// `retry policy "no_anwser=2@30m": unknown outcome "no_anwser" (want no_answer, busy, voicemail, failed or completed)`.
func ParseRetryPolicy(spec string) (RetryPolicy, error) {
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("retry policy %q: %s", spec, fmt.Sprintf(format, args...))
	}
	p := DefaultRetryPolicy()
	trimmed := strings.TrimSpace(spec)
	if trimmed == "" {
		return p, nil
	}
	if strings.EqualFold(trimmed, "none") {
		for o := range p.Rules {
			p.Rules[o] = RetryRule{Backoff: 1}
		}
		return p, nil
	}
	seen := map[Outcome]string{}
	for _, item := range strings.Split(trimmed, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue // tolerate "a, , b" and a trailing ","
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			if strings.EqualFold(item, "none") {
				return RetryPolicy{}, errorf(`"none" must be the whole spec`)
			}
			return RetryPolicy{}, errorf("rule %q has no \"=\": want key=count@delay, e.g. %q", item, "no_answer=2@30m")
		}
		key := strings.ToLower(strings.TrimSpace(k))
		o, ok := retryKeyNames[key]
		if !ok {
			switch Outcome(key) {
			case OutcomeFailedPermanent:
				return RetryPolicy{}, errorf("failed_permanent cannot be retried: a bad number, assistant or account fails the same way every time")
			case OutcomeCapacity:
				return RetryPolicy{}, errorf("capacity cannot be configured: a call refused for lack of a concurrency slot dialed nobody, is not an attempt, and is always tried again shortly")
			}
			return RetryPolicy{}, errorf("unknown outcome %q (want no_answer, busy, voicemail, failed or completed)", strings.TrimSpace(k))
		}
		if prev, dup := seen[o]; dup {
			return RetryPolicy{}, errorf("%s is given twice (%q and %q)", key, prev, item)
		}
		seen[o] = item
		r, err := parseRetryRule(strings.TrimSpace(v))
		if err != nil {
			return RetryPolicy{}, errorf("rule %q: %v", item, err)
		}
		if r.Retries == 0 && o == OutcomeCompleted {
			delete(p.Rules, o)
			continue
		}
		p.Rules[o] = r
	}
	return p, nil
}

// parseRetryRule parses "count[@delay[*backoff]]".
func parseRetryRule(v string) (RetryRule, error) {
	countStr, rest, hasDelay := strings.Cut(v, "@")
	countStr = strings.TrimSpace(countStr)
	n, err := strconv.Atoi(countStr)
	if err != nil || n < 0 || n > MaxRetriesPerOutcome {
		return RetryRule{}, fmt.Errorf("bad count %q: want a whole number from 0 to %d", countStr, MaxRetriesPerOutcome)
	}
	if n == 0 {
		// No retries: a delay, if any, means nothing; it is checked, then dropped.
		if hasDelay {
			if _, err := parseRetryDelayBackoff(rest); err != nil {
				return RetryRule{}, err
			}
		}
		return RetryRule{Backoff: 1}, nil
	}
	if !hasDelay {
		return RetryRule{}, fmt.Errorf("no delay: write the wait before each retry after \"@\", e.g. %q", fmt.Sprintf("%d@30m", n))
	}
	r, err := parseRetryDelayBackoff(rest)
	if err != nil {
		return RetryRule{}, err
	}
	r.Retries = n
	return r, nil
}

// parseRetryDelayBackoff parses "delay[*backoff]" into a rule without its count.
func parseRetryDelayBackoff(s string) (RetryRule, error) {
	delayStr, backoffStr, hasBackoff := strings.Cut(s, "*")
	delayStr = strings.TrimSpace(delayStr)
	d, err := time.ParseDuration(delayStr)
	if err != nil {
		return RetryRule{}, fmt.Errorf("bad delay %q: want a duration such as 90s, 30m, 4h or 1h30m", delayStr)
	}
	if d%time.Second != 0 || d < MinRetryDelay || d > MaxRetryDelay {
		return RetryRule{}, fmt.Errorf("bad delay %q: want whole seconds from %s to %s",
			delayStr, formatRetryDuration(MinRetryDelay), formatRetryDuration(MaxRetryDelay))
	}
	r := RetryRule{Delay: d, Backoff: 1}
	if hasBackoff {
		backoffStr = strings.TrimSpace(backoffStr)
		b, err := strconv.ParseFloat(backoffStr, 64)
		if err != nil || !(b >= 1 && b <= MaxRetryBackoff) {
			return RetryRule{}, fmt.Errorf("bad backoff %q: want a number from 1 (fixed delay) to %g", backoffStr, MaxRetryBackoff)
		}
		r.Backoff = b
	}
	return r, nil
}

// String returns the canonical spec of the policy's rules, which ParseRetryPolicy parses back
// to the same rules: the keys in the order no_answer, busy, voicemail, failed, completed,
// joined by ", ", each "key=count@delay[*backoff]" ("key=0" without retries); completed only
// when it has retries; "none" when nothing is retried. The default policy gives
// DefaultRetrySpec. MaxAttempts is not part of the spec (it is --max-attempts), so a policy
// round-trips exactly when its MaxAttempts is DefaultMaxAttempts.
func (p RetryPolicy) String() string {
	var parts []string
	retried := false
	for _, k := range retryKeys {
		r := p.Rules[k.outcome]
		if r.Retries > 0 {
			retried = true
		} else if k.outcome == OutcomeCompleted {
			continue
		}
		parts = append(parts, k.key+"="+r.spec())
	}
	if !retried {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// spec formats a rule as "count@delay[*backoff]", or "0" without retries.
func (r RetryRule) spec() string {
	if r.Retries <= 0 {
		return "0"
	}
	s := strconv.Itoa(r.Retries) + "@" + formatRetryDuration(r.Delay)
	if r.Backoff > 1 {
		s += "*" + strconv.FormatFloat(r.Backoff, 'g', -1, 64)
	}
	return s
}

// formatRetryDuration writes d as hours, minutes and seconds without zero parts ("4h",
// "1h30m", "90s" as "1m30s"), which time.ParseDuration reads back; sub-second parts are
// dropped.
func formatRetryDuration(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	h, m, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// maxAttempts is the effective cap on counted attempts.
func (p RetryPolicy) maxAttempts() int {
	if p.MaxAttempts < 1 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

// RetryDelay is the wait before retry n (1 for the first retry) of rule r:
// Delay × Backoff^(n-1), rounded to whole seconds and capped at MaxRetryDelay.
func (r RetryRule) RetryDelay(n int) time.Duration {
	b := r.Backoff
	if !(b > 1) {
		b = 1
	}
	if n < 1 {
		n = 1
	}
	secs := r.Delay.Seconds() * math.Pow(b, float64(n-1))
	if !(secs < MaxRetryDelay.Seconds()) {
		return MaxRetryDelay
	}
	if secs < 0 {
		return 0
	}
	return time.Duration(math.Round(secs)) * time.Second
}

// NextStep is what happens to a contact after an attempt.
type NextStep struct {
	// Retry: the contact goes back to pending for another attempt, not before At.
	Retry bool
	// At is when the next attempt may start at the earliest (set only with Retry), before the
	// calling window: the caller moves it into the window with CallingHours.Decide.
	At time.Time
	// Final is the contact's end state (set only without Retry): ContactCompleted,
	// ContactFailed or ContactDoNotCall.
	Final ContactState
	// Reason explains the decision for logs and reports, e.g.
	// "no_answer: retries exhausted (2 of 2)".
	Reason string
}

// NextStep decides what happens to a contact after an attempt ended with outcome at endedAt,
// from the outcome alone (AfterCall adds the conversation's follow-ups). attempts is how many
// counted attempts the contact has made, this one included; sameOutcome is how many of them
// ended with outcome, this one included (values below 1 are taken as 1).
//
//   - completed: final ContactCompleted, unless its rule gives it retries (default none).
//   - failed_permanent, or an outcome this version does not know: final ContactFailed; calling
//     again would fail the same way.
//   - capacity never gets here: it is not an attempt, and the caller puts the contact back in
//     line itself. If it does, the answer is a retry at endedAt, with nothing counted.
//   - no_answer, busy, voicemail, failed_retryable (and completed with retries): a retry at
//     endedAt + rule.RetryDelay(sameOutcome) while sameOutcome ≤ rule.Retries and
//     attempts < MaxAttempts; otherwise final ContactFailed, or ContactCompleted for completed
//     and voicemail (the line answered and the assistant left its message: nothing more is
//     owed, as Outcome.Reached says).
//
// The calling window is not applied here: the caller passes At through CallingHours.Decide.
func (p RetryPolicy) NextStep(outcome Outcome, attempts, sameOutcome int, endedAt time.Time) NextStep {
	attempts, sameOutcome = max(attempts, 1), max(sameOutcome, 1)
	final := ContactFailed
	switch outcome {
	case OutcomeCapacity:
		return NextStep{Retry: true, At: endedAt, Reason: "capacity: nobody was dialed; not an attempt"}
	case OutcomeFailedPermanent:
		return NextStep{Final: ContactFailed, Reason: "failed_permanent: not retried"}
	case OutcomeCompleted, OutcomeVoicemail:
		final = ContactCompleted
	case OutcomeNoAnswer, OutcomeBusy, OutcomeFailedRetryable:
	default:
		return NextStep{Final: ContactFailed, Reason: fmt.Sprintf("unknown outcome %q: not retried", outcome)}
	}
	name := retryOutcomeName(outcome)
	r := p.Rules[outcome]
	retries := max(r.Retries, 0)
	switch {
	case retries == 0:
		if outcome == OutcomeCompleted {
			return NextStep{Final: final, Reason: "completed"}
		}
		return NextStep{Final: final, Reason: name + ": no retries configured"}
	case sameOutcome > retries:
		return NextStep{Final: final, Reason: fmt.Sprintf("%s: retries exhausted (%d of %d)", name, retries, retries)}
	case attempts >= p.maxAttempts():
		return NextStep{Final: final, Reason: fmt.Sprintf("%s: max attempts reached (%d of %d)", name, attempts, p.maxAttempts())}
	}
	d := r.RetryDelay(sameOutcome)
	return NextStep{
		Retry:  true,
		At:     endedAt.Add(d),
		Reason: fmt.Sprintf("%s: retry %d of %d after %s", name, sameOutcome, retries, formatRetryDuration(d)),
	}
}

// AfterCall is NextStep with the conversation's follow-ups, which win over the outcome:
//
//   - DoNotCall: final ContactDoNotCall, whatever the outcome; the caller also adds the number
//     to the suppression list.
//   - capacity, failed_permanent and unknown outcomes: as NextStep (a callback cannot change
//     them).
//   - HasCallback: a retry at CallbackAt (the caller still applies the window) while
//     attempts < MaxAttempts, whether or not the outcome's rule has retries left; at the cap,
//     final ContactCompleted for completed and voicemail, else ContactFailed.
//   - otherwise NextStep.
func (p RetryPolicy) AfterCall(outcome Outcome, attempts, sameOutcome int, endedAt time.Time, fu FollowUp) NextStep {
	configurable := false
	for _, k := range retryKeys {
		configurable = configurable || k.outcome == outcome
	}
	switch {
	case fu.DoNotCall:
		return NextStep{Final: ContactDoNotCall, Reason: "asked not to be called"}
	case !configurable || !fu.HasCallback:
		return p.NextStep(outcome, attempts, sameOutcome, endedAt)
	}
	asked := "callback asked for " + fu.CallbackAt.Format(time.RFC3339)
	if attempts = max(attempts, 1); attempts >= p.maxAttempts() {
		final := ContactFailed
		if outcome.Reached() {
			final = ContactCompleted
		}
		return NextStep{Final: final, Reason: fmt.Sprintf("%s, but max attempts reached (%d of %d)", asked, attempts, p.maxAttempts())}
	}
	return NextStep{Retry: true, At: fu.CallbackAt, Reason: asked}
}

// retryOutcomeName is an outcome's name in reasons: its spec key.
func retryOutcomeName(o Outcome) string {
	for _, k := range retryKeys {
		if k.outcome == o {
			return k.key
		}
	}
	return string(o)
}

// Follow-up keys of the end-of-call report's structured data, by default.
const (
	DefaultCallbackAtKey = "callback_at"
	DefaultDoNotCallKey  = "do_not_call"
)

// MaxCallbackAhead is how far ahead a callback time may be; a later one is ignored.
const MaxCallbackAhead = 30 * 24 * time.Hour

// FollowUpKeys name the structured-data fields that carry follow-ups; "" means the default
// (DefaultCallbackAtKey, DefaultDoNotCallKey). Keys are top-level fields of the object.
type FollowUpKeys struct {
	CallbackAt, DoNotCall string
}

// FollowUp is what the conversation asked for.
type FollowUp struct {
	// CallbackAt is when the person asked to be called again (valid with HasCallback).
	CallbackAt  time.Time
	HasCallback bool
	// DoNotCall: the person asked not to be called again.
	DoNotCall bool
}

// callbackLayouts are the accepted callback formats with a UTC offset ("Z" included); they are
// matched against the upper-cased value.
var callbackLayouts = []string{
	time.RFC3339Nano, // also reads values without fractional seconds
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04Z0700",
}

// callbackLocalLayouts are the accepted callback formats without an offset: local times.
var callbackLocalLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
}

// ParseFollowUp reads the follow-ups from an end-of-call report's structured data (a JSON
// object; empty, null or a non-object carry none).
//
// Callback (keys.CallbackAt): a string holding an ISO 8601 / RFC 3339 date and time, with
// seconds or without, "T" or a space between date and time:
//   - with a UTC offset ("2026-11-24T15:00:00-05:00", "2026-11-24T20:00:00Z"): that instant;
//   - without ("2026-11-24T15:00", "2026-11-24 15:00"): a local time in the contact's first
//     zone (contactZones[0]; nil means UTC; no zones means now's location). A local time
//     that a DST change skips or repeats resolves as time.Date does.
//
// A callback that is not after now, or more than MaxCallbackAhead (30 days) after it, is
// ignored, as is a value that is not a string or not such a time: HasCallback is false, with
// no error. The time is returned as given; the caller still applies the calling window.
//
// Do not call (keys.DoNotCall): JSON true, or the strings "true" or "yes" in any case.
// Anything else (false, "no", 1, null, absent) is not a request.
//
// The only error is structured data that is not valid JSON.
func ParseFollowUp(structured json.RawMessage, keys FollowUpKeys, contactZones []*time.Location, now time.Time) (FollowUp, error) {
	var fu FollowUp
	trimmed := bytes.TrimSpace(structured)
	if len(trimmed) == 0 {
		return fu, nil
	}
	if !json.Valid(trimmed) {
		return fu, fmt.Errorf("structured data is not valid JSON")
	}
	if trimmed[0] != '{' {
		return fu, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return fu, fmt.Errorf("structured data: %v", err)
	}
	if keys.CallbackAt == "" {
		keys.CallbackAt = DefaultCallbackAtKey
	}
	if keys.DoNotCall == "" {
		keys.DoNotCall = DefaultDoNotCallKey
	}

	if raw, ok := fields[keys.DoNotCall]; ok {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			switch v := v.(type) {
			case bool:
				fu.DoNotCall = v
			case string:
				s := strings.TrimSpace(v)
				fu.DoNotCall = strings.EqualFold(s, "true") || strings.EqualFold(s, "yes")
			}
		}
	}

	if raw, ok := fields[keys.CallbackAt]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			loc := now.Location()
			if len(contactZones) > 0 {
				loc = contactZones[0]
				if loc == nil {
					loc = time.UTC
				}
			}
			if at, ok := parseCallbackTime(s, loc); ok && at.After(now) && !at.After(now.Add(MaxCallbackAhead)) {
				fu.CallbackAt, fu.HasCallback = at, true
			}
		}
	}
	return fu, nil
}

// parseCallbackTime reads an ISO 8601 date and time, with an offset or local to loc.
func parseCallbackTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	for _, layout := range callbackLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	for _, layout := range callbackLocalLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
