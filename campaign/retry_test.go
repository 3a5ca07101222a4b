package campaign

import (
	"encoding/json"
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the machine's zoneinfo

	"github.com/stretchr/testify/require"
)

func TestDefaultRetryPolicy(t *testing.T) {
	p := DefaultRetryPolicy()
	require.Equal(t, DefaultRetrySpec, p.String())
	require.Equal(t, DefaultMaxAttempts, p.MaxAttempts)
	require.Equal(t, RetryRule{Retries: 2, Delay: 4 * time.Hour, Backoff: 1}, p.Rules[OutcomeNoAnswer])
	require.Equal(t, RetryRule{Retries: 2, Delay: 30 * time.Minute, Backoff: 1}, p.Rules[OutcomeBusy])
	require.Equal(t, RetryRule{Retries: 1, Delay: 24 * time.Hour, Backoff: 1}, p.Rules[OutcomeVoicemail])
	require.Equal(t, RetryRule{Retries: 2, Delay: 10 * time.Minute, Backoff: 1}, p.Rules[OutcomeFailedRetryable])
	require.NotContains(t, p.Rules, OutcomeCompleted)
	require.NotContains(t, p.Rules, OutcomeFailedPermanent)
	require.NotContains(t, p.Rules, OutcomeCapacity)

	parsed, err := ParseRetryPolicy(DefaultRetrySpec)
	require.NoError(t, err)
	require.Equal(t, p, parsed)
	for _, spec := range []string{"", "  ", ","} {
		parsed, err := ParseRetryPolicy(spec)
		require.NoError(t, err, spec)
		require.Equal(t, p, parsed, spec)
	}
	// Every call returns its own map.
	DefaultRetryPolicy().Rules[OutcomeBusy] = RetryRule{}
	require.Equal(t, 2, DefaultRetryPolicy().Rules[OutcomeBusy].Retries)
}

func TestParseRetryPolicy(t *testing.T) {
	cases := []struct {
		name, spec, want string
	}{
		{"issue example", "no_answer=2@30m, busy=3@10m, voicemail=1@24h, failed=2@5m",
			"no_answer=2@30m, busy=3@10m, voicemail=1@24h, failed=2@5m"},
		{"unnamed outcomes keep their defaults", "busy=3@10m", "no_answer=2@4h, busy=3@10m, voicemail=1@24h, failed=2@10m"},
		{"zero turns one off", "voicemail=0", "no_answer=2@4h, busy=2@30m, voicemail=0, failed=2@10m"},
		{"zero drops its delay", "voicemail=0@1h*2", "no_answer=2@4h, busy=2@30m, voicemail=0, failed=2@10m"},
		{"none", "none", "none"},
		{"none case-insensitive", " NONE ", "none"},
		{"all zero is none", "no_answer=0, busy=0, voicemail=0, failed=0", "none"},
		{"backoff", "no_answer=3@10m*2", "no_answer=3@10m*2, busy=2@30m, voicemail=1@24h, failed=2@10m"},
		{"fractional backoff", "no_answer=3@10m*1.5", "no_answer=3@10m*1.5, busy=2@30m, voicemail=1@24h, failed=2@10m"},
		{"backoff 1 is fixed", "no_answer=3@10m*1", "no_answer=3@10m, busy=2@30m, voicemail=1@24h, failed=2@10m"},
		{"failed_retryable alias", "failed_retryable=1@1m", "no_answer=2@4h, busy=2@30m, voicemail=1@24h, failed=1@1m"},
		{"completed with retries listed last", "completed=1@168h, no_answer=1@1h",
			"no_answer=1@1h, busy=2@30m, voicemail=1@24h, failed=2@10m, completed=1@168h"},
		{"completed zero", "completed=0", DefaultRetrySpec},
		{"durations canonical", "no_answer=1@90m, busy=1@3600s, voicemail=1@1.5h, failed=1@61s",
			"no_answer=1@1h30m, busy=1@1h, voicemail=1@1h30m, failed=1@1m1s"},
		{"spaces and case", " No_Answer = 2 @ 30m * 2 ,BUSY=1@10m,", "no_answer=2@30m*2, busy=1@10m, voicemail=1@24h, failed=2@10m"},
		{"limits", "no_answer=10@720h*10, busy=1@1m", "no_answer=10@720h*10, busy=1@1m, voicemail=1@24h, failed=2@10m"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseRetryPolicy(tc.spec)
			require.NoError(t, err)
			require.Equal(t, tc.want, p.String())
			require.Equal(t, DefaultMaxAttempts, p.MaxAttempts)
			again, err := ParseRetryPolicy(p.String())
			require.NoError(t, err)
			require.Equal(t, p, again, "round trip")
		})
	}

	p, err := ParseRetryPolicy("no_answer=3@10m*2, completed=1@48h")
	require.NoError(t, err)
	require.Equal(t, RetryRule{Retries: 3, Delay: 10 * time.Minute, Backoff: 2}, p.Rules[OutcomeNoAnswer])
	require.Equal(t, RetryRule{Retries: 1, Delay: 48 * time.Hour, Backoff: 1}, p.Rules[OutcomeCompleted])
	none, err := ParseRetryPolicy("none")
	require.NoError(t, err)
	for _, o := range []Outcome{OutcomeNoAnswer, OutcomeBusy, OutcomeVoicemail, OutcomeFailedRetryable} {
		require.Equal(t, RetryRule{Backoff: 1}, none.Rules[o], o)
	}
}

func TestParseRetryPolicyErrors(t *testing.T) {
	cases := []struct {
		spec, want string
	}{
		{"no_anwser=2@30m", `retry policy "no_anwser=2@30m": unknown outcome "no_anwser" (want no_answer, busy, voicemail, failed or completed)`},
		{"busy=1@1m, Foo=1@1m", `retry policy "busy=1@1m, Foo=1@1m": unknown outcome "Foo" (want no_answer, busy, voicemail, failed or completed)`},
		{"failed_permanent=1@1h", `retry policy "failed_permanent=1@1h": failed_permanent cannot be retried: a bad number, assistant or account fails the same way every time`},
		{"capacity=3@1m", `retry policy "capacity=3@1m": capacity cannot be configured: a call refused for lack of a concurrency slot dialed nobody, is not an attempt, and is always tried again shortly`},
		{"busy", `retry policy "busy": rule "busy" has no "=": want key=count@delay, e.g. "no_answer=2@30m"`},
		{"none, busy=1@1m", `retry policy "none, busy=1@1m": "none" must be the whole spec`},
		{"busy=1@1m, busy=2@2m", `retry policy "busy=1@1m, busy=2@2m": busy is given twice ("busy=1@1m" and "busy=2@2m")`},
		{"failed=1@1m, failed_retryable=1@1m", `retry policy "failed=1@1m, failed_retryable=1@1m": failed_retryable is given twice ("failed=1@1m" and "failed_retryable=1@1m")`},
		{"busy=x@1m", `retry policy "busy=x@1m": rule "busy=x@1m": bad count "x": want a whole number from 0 to 10`},
		{"busy=-1@1m", `retry policy "busy=-1@1m": rule "busy=-1@1m": bad count "-1": want a whole number from 0 to 10`},
		{"busy=11@1m", `retry policy "busy=11@1m": rule "busy=11@1m": bad count "11": want a whole number from 0 to 10`},
		{"busy=@1m", `retry policy "busy=@1m": rule "busy=@1m": bad count "": want a whole number from 0 to 10`},
		{"busy=2", `retry policy "busy=2": rule "busy=2": no delay: write the wait before each retry after "@", e.g. "2@30m"`},
		{"busy=2@", `retry policy "busy=2@": rule "busy=2@": bad delay "": want a duration such as 90s, 30m, 4h or 1h30m`},
		{"busy=2@1d", `retry policy "busy=2@1d": rule "busy=2@1d": bad delay "1d": want a duration such as 90s, 30m, 4h or 1h30m`},
		{"busy=2@30s", `retry policy "busy=2@30s": rule "busy=2@30s": bad delay "30s": want whole seconds from 1m to 720h`},
		{"busy=2@721h", `retry policy "busy=2@721h": rule "busy=2@721h": bad delay "721h": want whole seconds from 1m to 720h`},
		{"busy=2@-5m", `retry policy "busy=2@-5m": rule "busy=2@-5m": bad delay "-5m": want whole seconds from 1m to 720h`},
		{"busy=2@1m500ms", `retry policy "busy=2@1m500ms": rule "busy=2@1m500ms": bad delay "1m500ms": want whole seconds from 1m to 720h`},
		{"busy=0@2s", `retry policy "busy=0@2s": rule "busy=0@2s": bad delay "2s": want whole seconds from 1m to 720h`},
		{"busy=2@1m*0.5", `retry policy "busy=2@1m*0.5": rule "busy=2@1m*0.5": bad backoff "0.5": want a number from 1 (fixed delay) to 10`},
		{"busy=2@1m*11", `retry policy "busy=2@1m*11": rule "busy=2@1m*11": bad backoff "11": want a number from 1 (fixed delay) to 10`},
		{"busy=2@1m*NaN", `retry policy "busy=2@1m*NaN": rule "busy=2@1m*NaN": bad backoff "NaN": want a number from 1 (fixed delay) to 10`},
		{"busy=2@1m*", `retry policy "busy=2@1m*": rule "busy=2@1m*": bad backoff "": want a number from 1 (fixed delay) to 10`},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := ParseRetryPolicy(tc.spec)
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestRetryPolicyStringOfBuiltPolicies(t *testing.T) {
	require.Equal(t, "none", RetryPolicy{}.String())
	p := RetryPolicy{Rules: map[Outcome]RetryRule{
		OutcomeBusy:      {Retries: 1, Delay: 25 * time.Hour},                      // Backoff 0: fixed
		OutcomeCompleted: {Retries: 0, Delay: time.Hour},                           // no retries: omitted
		OutcomeNoAnswer:  {Retries: 2, Delay: time.Hour + time.Second, Backoff: 3}, // all units
	}}
	// Hours, minutes and seconds are written without zero units.
	require.Equal(t, "no_answer=2@1h1s*3, busy=1@25h, voicemail=0, failed=0", p.String())
	again, err := ParseRetryPolicy(p.String())
	require.NoError(t, err)
	require.Equal(t, p.String(), again.String())
}

func TestRetryDelay(t *testing.T) {
	r := RetryRule{Retries: 5, Delay: 10 * time.Minute, Backoff: 2}
	require.Equal(t, 10*time.Minute, r.RetryDelay(1))
	require.Equal(t, 20*time.Minute, r.RetryDelay(2))
	require.Equal(t, 40*time.Minute, r.RetryDelay(3))
	require.Equal(t, 10*time.Minute, r.RetryDelay(0), "below 1 is the first retry")
	fixed := RetryRule{Retries: 5, Delay: 10 * time.Minute}
	require.Equal(t, 10*time.Minute, fixed.RetryDelay(4), "Backoff 0 is fixed")
	fixed.Backoff = 0.5
	require.Equal(t, 10*time.Minute, fixed.RetryDelay(4), "Backoff below 1 is fixed")
	r15 := RetryRule{Retries: 5, Delay: 10 * time.Minute, Backoff: 1.5}
	require.Equal(t, 22*time.Minute+30*time.Second, r15.RetryDelay(3))
	big := RetryRule{Retries: 10, Delay: 720 * time.Hour, Backoff: 10}
	require.Equal(t, MaxRetryDelay, big.RetryDelay(10), "capped")
	require.Equal(t, MaxRetryDelay, RetryRule{Delay: time.Hour, Backoff: 10}.RetryDelay(1000), "no overflow")
}

func TestRetryNextStep(t *testing.T) {
	end := time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)
	def := DefaultRetryPolicy()
	custom, err := ParseRetryPolicy("no_answer=3@10m*2, busy=3@10m, completed=1@48h")
	require.NoError(t, err)
	custom.MaxAttempts = 4
	zeroPolicy := RetryPolicy{}

	retry := func(at time.Time, reason string) NextStep { return NextStep{Retry: true, At: at, Reason: reason} }
	final := func(s ContactState, reason string) NextStep { return NextStep{Final: s, Reason: reason} }
	cases := []struct {
		name                  string
		p                     RetryPolicy
		outcome               Outcome
		attempts, sameOutcome int
		want                  NextStep
	}{
		{"completed is final", def, OutcomeCompleted, 1, 1, final(ContactCompleted, "completed")},
		{"completed after retries", def, OutcomeCompleted, 3, 1, final(ContactCompleted, "completed")},
		{"completed with a rule retries", custom, OutcomeCompleted, 1, 1, retry(end.Add(48*time.Hour), "completed: retry 1 of 1 after 48h")},
		{"completed rule exhausted stays completed", custom, OutcomeCompleted, 2, 2, final(ContactCompleted, "completed: retries exhausted (1 of 1)")},
		{"completed at the cap stays completed", custom, OutcomeCompleted, 4, 1, final(ContactCompleted, "completed: max attempts reached (4 of 4)")},
		{"permanent failure never retried", def, OutcomeFailedPermanent, 1, 1, final(ContactFailed, "failed_permanent: not retried")},
		{"unknown outcome never retried", def, Outcome("weird"), 1, 1, final(ContactFailed, `unknown outcome "weird": not retried`)},
		{"empty outcome never retried", def, "", 1, 1, final(ContactFailed, `unknown outcome "": not retried`)},
		{"capacity is no attempt", def, OutcomeCapacity, 3, 3, retry(end, "capacity: nobody was dialed; not an attempt")},

		{"no_answer first retry", def, OutcomeNoAnswer, 1, 1, retry(end.Add(4*time.Hour), "no_answer: retry 1 of 2 after 4h")},
		{"no_answer second retry", def, OutcomeNoAnswer, 2, 2, retry(end.Add(4*time.Hour), "no_answer: retry 2 of 2 after 4h")},
		{"no_answer exhausted", def, OutcomeNoAnswer, 3, 3, final(ContactFailed, "no_answer: retries exhausted (2 of 2)")},
		{"no_answer exhausted beyond", custom, OutcomeNoAnswer, 3, 7, final(ContactFailed, "no_answer: retries exhausted (3 of 3)")},
		{"busy", def, OutcomeBusy, 1, 1, retry(end.Add(30*time.Minute), "busy: retry 1 of 2 after 30m")},
		{"voicemail once", def, OutcomeVoicemail, 1, 1, retry(end.Add(24*time.Hour), "voicemail: retry 1 of 1 after 24h")},
		{"voicemail exhausted", def, OutcomeVoicemail, 2, 2, final(ContactCompleted, "voicemail: retries exhausted (1 of 1)")},
		{"failed_retryable", def, OutcomeFailedRetryable, 1, 1, retry(end.Add(10*time.Minute), "failed: retry 1 of 2 after 10m")},
		{"failed_retryable exhausted", def, OutcomeFailedRetryable, 3, 3, final(ContactFailed, "failed: retries exhausted (2 of 2)")},

		{"max attempts across outcomes", def, OutcomeBusy, 3, 1, final(ContactFailed, "busy: max attempts reached (3 of 3)")},
		{"over max attempts", def, OutcomeBusy, 5, 1, final(ContactFailed, "busy: max attempts reached (5 of 3)")},
		{"mixed outcomes under the cap", def, OutcomeVoicemail, 2, 1, retry(end.Add(24*time.Hour), "voicemail: retry 1 of 1 after 24h")},
		{"rule exhausted before the cap wins the reason", def, OutcomeVoicemail, 3, 2, final(ContactCompleted, "voicemail: retries exhausted (1 of 1)")},

		{"backoff 1", custom, OutcomeNoAnswer, 1, 1, retry(end.Add(10*time.Minute), "no_answer: retry 1 of 3 after 10m")},
		{"backoff 2", custom, OutcomeNoAnswer, 2, 2, retry(end.Add(20*time.Minute), "no_answer: retry 2 of 3 after 20m")},
		{"backoff 3", custom, OutcomeNoAnswer, 3, 3, retry(end.Add(40*time.Minute), "no_answer: retry 3 of 3 after 40m")},
		{"custom cap", custom, OutcomeNoAnswer, 4, 1, final(ContactFailed, "no_answer: max attempts reached (4 of 4)")},

		{"unnamed outcome keeps its default", custom, OutcomeVoicemail, 1, 1, retry(end.Add(24*time.Hour), "voicemail: retry 1 of 1 after 24h")},
		{"zero policy never retries", zeroPolicy, OutcomeNoAnswer, 1, 1, final(ContactFailed, "no_answer: no retries configured")},
		{"zero policy completes", zeroPolicy, OutcomeCompleted, 1, 1, final(ContactCompleted, "completed")},
		{"MaxAttempts 0 means the default cap", RetryPolicy{Rules: custom.Rules}, OutcomeBusy, 3, 1, final(ContactFailed, "busy: max attempts reached (3 of 3)")},
		{"counts below 1 are 1", def, OutcomeBusy, 0, 0, retry(end.Add(30*time.Minute), "busy: retry 1 of 2 after 30m")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.NextStep(tc.outcome, tc.attempts, tc.sameOutcome, end)
			require.Equal(t, tc.want, got)
		})
	}

	none, err := ParseRetryPolicy("none")
	require.NoError(t, err)
	require.Equal(t, final(ContactFailed, "busy: no retries configured"), none.NextStep(OutcomeBusy, 1, 1, end))
}

// TestRetryNextStepSequence plays a contact's attempts through the default policy: no answer, busy,
// no answer, and the cap of 3 ends it although no_answer had a retry left.
func TestRetryNextStepSequence(t *testing.T) {
	p := DefaultRetryPolicy()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := p.NextStep(OutcomeNoAnswer, 1, 1, t0)
	require.True(t, s.Retry)
	require.Equal(t, t0.Add(4*time.Hour), s.At)
	s = p.NextStep(OutcomeBusy, 2, 1, s.At.Add(time.Minute))
	require.True(t, s.Retry)
	require.Equal(t, t0.Add(4*time.Hour+31*time.Minute), s.At)
	s = p.NextStep(OutcomeNoAnswer, 3, 2, s.At)
	require.Equal(t, NextStep{Final: ContactFailed, Reason: "no_answer: max attempts reached (3 of 3)"}, s)
}

// TestRetryNextStepThenWindow shows the caller's part: the retry time goes through the window.
func TestRetryNextStepThenWindow(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	w, err := ParseWindow("mon-fri 09:00-20:00")
	require.NoError(t, err)
	// Friday 18:30 New York; no answer; 4 hours later is 22:30, outside the window.
	end := time.Date(2026, 3, 6, 18, 30, 0, 0, ny)
	s := DefaultRetryPolicy().NextStep(OutcomeNoAnswer, 1, 1, end)
	require.True(t, s.Retry)
	next, ok := w.NextOpen(s.At, []*time.Location{ny})
	require.True(t, ok)
	require.True(t, next.Equal(time.Date(2026, 3, 9, 9, 0, 0, 0, ny)), "Monday 09:00, got %v", next)
}

func TestRetryAfterCall(t *testing.T) {
	end := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	cb := end.Add(26 * time.Hour)
	def := DefaultRetryPolicy()
	callback := FollowUp{CallbackAt: cb, HasCallback: true}
	dnc := FollowUp{DoNotCall: true}
	both := FollowUp{CallbackAt: cb, HasCallback: true, DoNotCall: true}
	cbReason := "callback asked for 2026-03-03T17:00:00Z"

	cases := []struct {
		name                  string
		outcome               Outcome
		attempts, sameOutcome int
		fu                    FollowUp
		want                  NextStep
	}{
		{"no follow-up is NextStep", OutcomeCompleted, 1, 1, FollowUp{}, NextStep{Final: ContactCompleted, Reason: "completed"}},
		{"callback after a completed call", OutcomeCompleted, 1, 1, callback, NextStep{Retry: true, At: cb, Reason: cbReason}},
		{"callback replaces the delay", OutcomeVoicemail, 1, 1, callback, NextStep{Retry: true, At: cb, Reason: cbReason}},
		{"callback beyond the outcome's retries", OutcomeVoicemail, 2, 2, callback, NextStep{Retry: true, At: cb, Reason: cbReason}},
		{"callback at the cap, completed", OutcomeCompleted, 3, 1, callback,
			NextStep{Final: ContactCompleted, Reason: cbReason + ", but max attempts reached (3 of 3)"}},
		{"callback at the cap, no answer", OutcomeNoAnswer, 3, 1, callback,
			NextStep{Final: ContactFailed, Reason: cbReason + ", but max attempts reached (3 of 3)"}},
		{"do not call ends a completed contact", OutcomeCompleted, 1, 1, dnc, NextStep{Final: ContactDoNotCall, Reason: "asked not to be called"}},
		{"do not call wins over a retry", OutcomeNoAnswer, 1, 1, dnc, NextStep{Final: ContactDoNotCall, Reason: "asked not to be called"}},
		{"do not call wins over a callback", OutcomeCompleted, 1, 1, both, NextStep{Final: ContactDoNotCall, Reason: "asked not to be called"}},
		{"do not call wins over a permanent failure", OutcomeFailedPermanent, 1, 1, dnc, NextStep{Final: ContactDoNotCall, Reason: "asked not to be called"}},
		{"permanent failure ignores a callback", OutcomeFailedPermanent, 1, 1, callback, NextStep{Final: ContactFailed, Reason: "failed_permanent: not retried"}},
		{"unknown outcome ignores a callback", Outcome("failed"), 1, 1, callback, NextStep{Final: ContactFailed, Reason: `unknown outcome "failed": not retried`}},
		{"capacity ignores a callback", OutcomeCapacity, 1, 1, callback, NextStep{Retry: true, At: end, Reason: "capacity: nobody was dialed; not an attempt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, def.AfterCall(tc.outcome, tc.attempts, tc.sameOutcome, end, tc.fu))
		})
	}
}

func TestParseFollowUp(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	la, err := time.LoadLocation("America/Los_Angeles")
	require.NoError(t, err)
	// Saturday 31 October 2026, 12:00 UTC: New York is on EDT (-4) until Sunday 1 November
	// 02:00 local, then EST (-5).
	now := time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC)
	nyZones := []*time.Location{ny}
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}

	cases := []struct {
		name       string
		structured string
		keys       FollowUpKeys
		zones      []*time.Location
		wantAt     time.Time // zero: no callback
		wantDNC    bool
	}{
		{"empty", ``, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"null", `null`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"not an object", `["callback_at"]`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"a JSON string", `"2026-11-02T15:00"`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"no keys", `{"interested": true}`, FollowUpKeys{}, nyZones, time.Time{}, false},

		{"offset", `{"callback_at": "2026-11-24T15:00:00-05:00"}`, FollowUpKeys{}, nyZones, utc("2026-11-24T20:00:00Z"), false},
		{"Z", `{"callback_at": "2026-11-24T15:00:00Z"}`, FollowUpKeys{}, nyZones, utc("2026-11-24T15:00:00Z"), false},
		{"lower-case z and t", `{"callback_at": "2026-11-24t15:00:00z"}`, FollowUpKeys{}, nyZones, utc("2026-11-24T15:00:00Z"), false},
		{"fractional seconds", `{"callback_at": "2026-11-24T15:00:00.5+01:00"}`, FollowUpKeys{}, nyZones, utc("2026-11-24T14:00:00Z").Add(500 * time.Millisecond), false},
		{"offset without seconds", `{"callback_at": "2026-11-24T15:00+02:00"}`, FollowUpKeys{}, nyZones, utc("2026-11-24T13:00:00Z"), false},
		{"offset without colon", `{"callback_at": "2026-11-24T15:00:00-0500"}`, FollowUpKeys{}, nyZones, utc("2026-11-24T20:00:00Z"), false},
		{"offset with a space", `{"callback_at": "2026-11-24 15:00:00-05:00"}`, FollowUpKeys{}, nyZones, utc("2026-11-24T20:00:00Z"), false},

		// The day after the fall-back, 15:00 in New York is EST: 20:00 UTC, not 19:00.
		{"local after the fall-back", `{"callback_at": "2026-11-02T15:00"}`, FollowUpKeys{}, nyZones, utc("2026-11-02T20:00:00Z"), false},
		{"local with a space", `{"callback_at": "2026-11-02 15:00"}`, FollowUpKeys{}, nyZones, utc("2026-11-02T20:00:00Z"), false},
		{"local with seconds", `{"callback_at": " 2026-11-02T15:00:30 "}`, FollowUpKeys{}, nyZones, utc("2026-11-02T20:00:30Z"), false},
		{"local before the fall-back", `{"callback_at": "2026-10-31T15:00"}`, FollowUpKeys{}, nyZones, utc("2026-10-31T19:00:00Z"), false},
		{"local in the first zone", `{"callback_at": "2026-11-02T15:00"}`, FollowUpKeys{}, []*time.Location{la, ny}, utc("2026-11-02T23:00:00Z"), false},
		{"nil zone is UTC", `{"callback_at": "2026-11-02T15:00"}`, FollowUpKeys{}, []*time.Location{nil}, utc("2026-11-02T15:00:00Z"), false},
		{"no zones is now's location", `{"callback_at": "2026-11-02T15:00"}`, FollowUpKeys{}, nil, utc("2026-11-02T15:00:00Z"), false},

		{"past", `{"callback_at": "2026-10-31T11:59:59Z"}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"now is not ahead", `{"callback_at": "2026-10-31T12:00:00Z"}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"local past", `{"callback_at": "2026-10-31T07:00"}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"30 days ahead", `{"callback_at": "2026-11-30T12:00:00Z"}`, FollowUpKeys{}, nyZones, utc("2026-11-30T12:00:00Z"), false},
		{"more than 30 days ahead", `{"callback_at": "2026-11-30T12:00:01Z"}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"date only", `{"callback_at": "2026-11-02"}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"garbage", `{"callback_at": "tomorrow afternoon"}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"empty string", `{"callback_at": ""}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"number", `{"callback_at": 1793718000}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"null value", `{"callback_at": null}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"object value", `{"callback_at": {"at": "2026-11-02T15:00"}}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"bad month", `{"callback_at": "2026-13-02T15:00"}`, FollowUpKeys{}, nyZones, time.Time{}, false},

		{"do_not_call true", `{"do_not_call": true}`, FollowUpKeys{}, nyZones, time.Time{}, true},
		{"do_not_call false", `{"do_not_call": false}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"do_not_call \"true\"", `{"do_not_call": "TRUE"}`, FollowUpKeys{}, nyZones, time.Time{}, true},
		{"do_not_call \"yes\"", `{"do_not_call": " Yes "}`, FollowUpKeys{}, nyZones, time.Time{}, true},
		{"do_not_call \"no\"", `{"do_not_call": "no"}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"do_not_call 1", `{"do_not_call": 1}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"do_not_call null", `{"do_not_call": null}`, FollowUpKeys{}, nyZones, time.Time{}, false},
		{"both", `{"do_not_call": true, "callback_at": "2026-11-02T15:00"}`, FollowUpKeys{}, nyZones, utc("2026-11-02T20:00:00Z"), true},

		{"custom keys", `{"callMeAt": "2026-11-02T15:00", "optOut": "yes", "callback_at": "2026-11-03T15:00", "do_not_call": false}`,
			FollowUpKeys{CallbackAt: "callMeAt", DoNotCall: "optOut"}, nyZones, utc("2026-11-02T20:00:00Z"), true},
		{"custom keys ignore the defaults", `{"callback_at": "2026-11-02T15:00", "do_not_call": true}`,
			FollowUpKeys{CallbackAt: "callMeAt", DoNotCall: "optOut"}, nyZones, time.Time{}, false},
		{"keys are exact", `{"Callback_At": "2026-11-02T15:00", "DO_NOT_CALL": true}`, FollowUpKeys{}, nyZones, time.Time{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fu, err := ParseFollowUp(json.RawMessage(tc.structured), tc.keys, tc.zones, now)
			require.NoError(t, err)
			require.Equal(t, tc.wantDNC, fu.DoNotCall, "DoNotCall")
			if tc.wantAt.IsZero() {
				require.False(t, fu.HasCallback, "HasCallback, at %v", fu.CallbackAt)
				require.True(t, fu.CallbackAt.IsZero())
				return
			}
			require.True(t, fu.HasCallback, "HasCallback")
			require.True(t, tc.wantAt.Equal(fu.CallbackAt), "want %v, got %v", tc.wantAt, fu.CallbackAt.UTC())
		})
	}
}

func TestParseFollowUpErrors(t *testing.T) {
	now := time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC)
	for _, bad := range []string{`{`, `{"callback_at": }`, `nope`, `{"a":1} x`} {
		_, err := ParseFollowUp(json.RawMessage(bad), FollowUpKeys{}, nil, now)
		require.EqualError(t, err, "structured data is not valid JSON", bad)
	}
}

// TestFollowUpThroughDSTAndWindow: a local callback the day after the fall-back, at 15:00,
// lands inside a 09:00-20:00 window as is and schedules the retry at 20:00 UTC.
func TestFollowUpThroughDSTAndWindow(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	now := time.Date(2026, 10, 31, 18, 0, 0, 0, time.UTC)
	fu, err := ParseFollowUp(json.RawMessage(`{"callback_at":"2026-11-02T15:00"}`), FollowUpKeys{}, []*time.Location{ny}, now)
	require.NoError(t, err)
	s := DefaultRetryPolicy().AfterCall(OutcomeCompleted, 1, 1, now, fu)
	require.True(t, s.Retry)
	w, err := ParseWindow(DefaultWindowSpec)
	require.NoError(t, err)
	next, ok := w.NextOpen(s.At, []*time.Location{ny})
	require.True(t, ok)
	require.True(t, next.Equal(time.Date(2026, 11, 2, 20, 0, 0, 0, time.UTC)), "got %v", next.UTC())
}

func FuzzParseRetryPolicy(f *testing.F) {
	for _, s := range []string{
		"", "none", DefaultRetrySpec, "no_answer=3@10m*2", "busy=0@1m*1.5", "completed=1@48h, failed_retryable=2@1h30m",
		"busy=2@1m*0x1p1", "busy=+2@60s*1e0", "no_answer=10@720h*10", "x=1", "busy=1@1m,,voicemail=0",
		"failed_permanent=1@1m", "busy=2@1.5h*1.25",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := ParseRetryPolicy(spec)
		if err != nil {
			return
		}
		s := p.String()
		again, err := ParseRetryPolicy(s)
		if err != nil {
			t.Fatalf("ParseRetryPolicy(%q) = %q, which does not parse: %v", spec, s, err)
		}
		require.Equal(t, p, again, "spec %q, canonical %q", spec, s)
		require.Equal(t, s, again.String(), "canonical form is stable")
		for o, r := range p.Rules {
			require.GreaterOrEqual(t, r.Retries, 0, o)
			require.LessOrEqual(t, r.Retries, MaxRetriesPerOutcome, o)
			if r.Retries > 0 {
				require.GreaterOrEqual(t, r.Delay, MinRetryDelay, o)
				require.LessOrEqual(t, r.Delay, MaxRetryDelay, o)
				require.True(t, r.Backoff >= 1 && r.Backoff <= MaxRetryBackoff, "%s backoff %v", o, r.Backoff)
			}
		}
	})
}

// FuzzParseFollowUp: whatever the structured data (it comes from the call's analysis, so from
// what a person said), ParseFollowUp never panics, errs only on invalid JSON, and a callback it
// returns is after now and at most MaxCallbackAhead later.
func FuzzParseFollowUp(f *testing.F) {
	for _, s := range []string{
		`{"callback_at":"2026-11-24T15:00:00-05:00"}`, `{"callback_at":"2026-11-24 15:00"}`,
		`{"callback_at":"2026-03-08T02:30"}`, `{"callback_at":"tomorrow"}`, `{"callback_at":1764000000}`,
		`{"do_not_call":true}`, `{"do_not_call":"YES"}`, `{"do_not_call":1}`, `{"callback_at":null,"do_not_call":false}`,
		`null`, `[]`, `"x"`, ``, `{`, `{"callback_at":"2026-11-24T15:00:00.123456789Z"}`, `{"callback_at":"2099-01-01T00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(f, err)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	keys := FollowUpKeys{CallbackAt: DefaultCallbackAtKey, DoNotCall: DefaultDoNotCallKey}
	f.Fuzz(func(t *testing.T, data []byte) {
		fu, err := ParseFollowUp(data, keys, []*time.Location{ny}, now)
		if err != nil {
			require.False(t, json.Valid(data), "an error only for invalid JSON: %q", data)
			return
		}
		if fu.HasCallback {
			require.True(t, fu.CallbackAt.After(now), "callback %v not after now", fu.CallbackAt)
			require.False(t, fu.CallbackAt.After(now.Add(MaxCallbackAhead)), "callback %v too far", fu.CallbackAt)
		}
	})
}
