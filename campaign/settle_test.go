package campaign_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// callOnce dials a queued-or-pending contact at now (queueing it as the hopper would) and
// records a result with reason and structured data at now + talk. It returns the attempt and
// the time the result was recorded.
func (b *testBundle) callOnce(t *testing.T, contactID int64, now time.Time, reason, structured string) (*campaign.Attempt, time.Time) {
	t.Helper()
	if b.contact(t, contactID).State == campaign.ContactPending {
		b.queue(t, contactID)
	}
	a := b.grant(t, contactID, now)
	callID := fmt.Sprintf("call-%d-%d", contactID, a.Number)
	require.NoError(t, b.store.CallCreated(b.ctx, a.ID, callID, now, now))
	end := now.Add(2 * time.Minute)
	r := campaign.CallResult{CallID: callID, EndedReason: reason, EndedAt: &end}
	if structured != "" {
		r.StructuredData = json.RawMessage(structured)
	}
	applied, err := b.store.ApplyResult(b.ctx, r, end)
	require.NoError(t, err)
	require.True(t, applied)
	return b.attempt(t, a.ID), end
}

func (b *testBundle) setPacing(t *testing.T, p campaign.Pacing) {
	t.Helper()
	require.NoError(t, b.store.SetPacing(b.ctx, b.camp.ID, p, t0))
}

func ptr[T any](v T) *T { return &v }

// setupInPool imports a second running campaign, named name, of the same numbers into b's
// database and returns its contact ids.
func setupInPool(t *testing.T, b *testBundle, name string) []int64 {
	t.Helper()
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range b.contacts {
		fmt.Fprintf(&csv, "+1415555%04d,Customer %d\n", 100+i, i)
	}
	r, err := campaign.NewReader(strings.NewReader(csv.String()), campaign.ReaderOptions{})
	require.NoError(t, err)
	c, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: name, Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", MaxConcurrent: 1, MaxAttempts: 3,
	}}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	require.NoError(t, b.store.Start(b.ctx, c.ID, t0))
	cs, err := b.store.Contacts(b.ctx, c.ID, len(b.contacts))
	require.NoError(t, err)
	ids := make([]int64, len(cs))
	for i, ct := range cs {
		ids[i] = ct.ID
	}
	return ids
}

// TestRetryCountsAndTimesPerOutcome follows one contact per outcome through its retries with
// an injected clock: each retry waits for its delay (grown by the backoff), and the contact
// ends when the outcome's retries or the attempt cap run out.
func TestRetryCountsAndTimesPerOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		spec        string
		maxAttempts int
		reason      string
		wantDelays  []time.Duration // between a result and the next attempt's earliest time
		wantFinal   campaign.ContactState
	}{
		{"no answer twice then failed", "no_answer=2@30m", 5, "customer-did-not-answer",
			[]time.Duration{30 * time.Minute, 30 * time.Minute}, campaign.ContactFailed},
		{"busy with backoff", "busy=3@10m*2", 5, "customer-busy",
			[]time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute}, campaign.ContactFailed},
		{"capped by max attempts", "no_answer=5@1m", 2, "customer-did-not-answer",
			[]time.Duration{time.Minute}, campaign.ContactFailed},
		{"voicemail once, then done", "voicemail=1@24h", 3, "voicemail",
			[]time.Duration{24 * time.Hour}, campaign.ContactCompleted},
		{"failed (retryable) uses the failed rule", "failed=2@5m", 3, "call.start.error-vapifault-database-error",
			[]time.Duration{5 * time.Minute, 5 * time.Minute}, campaign.ContactFailed},
		{"permanent failure is never retried", "failed=2@5m", 3, "call.start.error-get-assistant",
			nil, campaign.ContactFailed},
		{"completed is not retried", campaign.DefaultRetrySpec, 3, "customer-ended-call",
			nil, campaign.ContactCompleted},
		{"none", "none", 3, "customer-did-not-answer", nil, campaign.ContactFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: tc.spec})
			b.setPacing(t, campaign.Pacing{MaxAttempts: ptr(tc.maxAttempts)})
			id := b.contacts[0]
			now := t0
			for i, d := range tc.wantDelays {
				a, end := b.callOnce(t, id, now, tc.reason, "")
				require.Equal(t, i+1, a.Number)
				c := b.contact(t, id)
				require.Equal(t, campaign.ContactPending, c.State, "after attempt %d", i+1)
				require.Equal(t, i+1, c.Attempts)
				requireTime(t, end.Add(d), c.NextAttemptAt, "retry %d", i+1)
				require.Contains(t, a.Decision, fmt.Sprintf("retry %d of", i+1))
				require.Equal(t, campaign.StatusRunning, b.status(t))
				now = *c.NextAttemptAt
			}
			a, _ := b.callOnce(t, id, now, tc.reason, "")
			c := b.contact(t, id)
			require.Equal(t, tc.wantFinal, c.State, a.Decision)
			require.Equal(t, len(tc.wantDelays)+1, c.Attempts)
			require.NotEmpty(t, a.Decision)
			require.Equal(t, campaign.StatusCompleted, b.status(t), "the only contact is final")
		})
	}
}

// TestRetryWaitsForTheWindow: a retry whose delay ends outside the calling hours waits for the
// next opening in the contact's zone (+1 415: America/Los_Angeles).
func TestRetryWaitsForTheWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: "no_answer=2@4h"})
	b.setPacing(t, campaign.Pacing{WindowSpec: ptr("mon-fri 09:00-17:00")})
	// Monday 2025-03-03 14:00 in Los Angeles (PST, UTC-8) = 22:00 UTC; +4h is 18:00 local,
	// after hours: the retry moves to Tuesday 09:00 local = 17:00 UTC.
	start := time.Date(2025, 3, 3, 21, 58, 0, 0, time.UTC)
	b.callOnce(t, b.contacts[0], start, "customer-did-not-answer", "")
	requireTime(t, time.Date(2025, 3, 4, 17, 0, 0, 0, time.UTC), b.contact(t, b.contacts[0]).NextAttemptAt)
}

// TestRetryOfAContactWhoseZoneDoesNotLoad: the calling hours of a contact whose zone does not
// load fail it (campaign.CallingHours.Decide), never read it as UTC: its retry keeps the retry
// delay (not moved into a window in UTC, nor to a local callback time read in UTC), and the
// hopper then fails it with invalid_time_zone instead of queueing it.
func TestRetryOfAContactWhoseZoneDoesNotLoad(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: "no_answer=2@4h"})
	spec := "mon-fri 09:00-17:00"
	b.setPacing(t, campaign.Pacing{WindowSpec: ptr(spec)})
	id := b.contacts[0]
	_, err := b.pool.Exec(b.ctx, `UPDATE contact SET time_zones = '{Mars/Olympus}' WHERE id = $1`, id)
	require.NoError(t, err)
	// Monday 2025-03-03 21:58 UTC; the result comes at 22:00, the retry delay ends at 02:00 UTC,
	// outside the window in UTC; the callback would be 10:00 UTC, inside it.
	start := time.Date(2025, 3, 3, 21, 58, 0, 0, time.UTC)
	a, end := b.callOnce(t, id, start, "customer-did-not-answer", `{"callback_at": "2025-03-04T10:00"}`)
	c := b.contact(t, id)
	require.Equal(t, campaign.ContactPending, c.State, a.Decision)
	retryAt := end.Add(4 * time.Hour)
	requireTime(t, retryAt, c.NextAttemptAt)

	hours := campaign.ParseCallingHours(spec)
	n, err := b.store.QueueDue(b.ctx, b.camp.ID, retryAt, 10,
		func(ct *campaign.Contact) campaign.Decision { return hours.Decide(ct.TimeZones, retryAt) },
		func(context.Context, pgx.Tx, []int64) error { return nil })
	require.NoError(t, err)
	require.Zero(t, n)
	c = b.contact(t, id)
	require.Equal(t, campaign.ContactFailed, c.State)
	require.Equal(t, string(campaign.OutcomeInvalidTimeZone), c.Outcome)
}

// TestCallbackAcrossDST: a callback written as a local time is read in the contact's zone on
// the callback's own date, so a DST change between the call and the callback moves it to the
// right UTC instant. Los Angeles leaves DST on 2026-11-01 at 02:00 and enters it on
// 2027-03-14.
func TestCallbackAcrossDST(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		callAt   time.Time
		callback string
		want     time.Time
	}{
		{"fall back", time.Date(2026, 10, 31, 17, 0, 0, 0, time.UTC), "2026-11-02T10:00",
			time.Date(2026, 11, 2, 18, 0, 0, 0, time.UTC)}, // 10:00 PST
		{"spring forward", time.Date(2027, 3, 13, 18, 0, 0, 0, time.UTC), "2027-03-15 10:00",
			time.Date(2027, 3, 15, 17, 0, 0, 0, time.UTC)}, // 10:00 PDT
		{"with an offset", time.Date(2026, 10, 31, 17, 0, 0, 0, time.UTC), "2026-11-02T13:00:00-05:00",
			time.Date(2026, 11, 2, 18, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: "none"})
			b.setPacing(t, campaign.Pacing{WindowSpec: ptr("mon-sat 09:00-20:00")})
			a, _ := b.callOnce(t, b.contacts[0], tc.callAt, "customer-ended-call",
				fmt.Sprintf(`{"callback_at": %q, "will_pay": false}`, tc.callback))
			c := b.contact(t, b.contacts[0])
			require.Equal(t, campaign.ContactPending, c.State, a.Decision)
			requireTime(t, tc.want, c.NextAttemptAt)
			require.Contains(t, a.Decision, "callback asked for")
		})
	}

	t.Run("outside the window waits for it", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: "none"})
		b.setPacing(t, campaign.Pacing{WindowSpec: ptr("mon-sat 09:00-20:00")})
		b.callOnce(t, b.contacts[0], time.Date(2026, 10, 31, 17, 0, 0, 0, time.UTC), "customer-ended-call",
			`{"callback_at": "2026-11-01T10:00"}`) // a Sunday: Monday 09:00 PST
		requireTime(t, time.Date(2026, 11, 2, 17, 0, 0, 0, time.UTC), b.contact(t, b.contacts[0]).NextAttemptAt)
	})

	t.Run("at the attempt cap the callback is not honoured", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: "none"})
		b.setPacing(t, campaign.Pacing{MaxAttempts: ptr(1)})
		a, _ := b.callOnce(t, b.contacts[0], t0, "customer-ended-call", `{"callback_at": "2025-03-04T10:00:00Z"}`)
		require.Equal(t, campaign.ContactCompleted, b.contact(t, b.contacts[0]).State)
		require.Contains(t, a.Decision, "max attempts reached")
	})

	t.Run("custom key", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: "none"})
		b.setPacing(t, campaign.Pacing{CallbackKey: ptr("call_me_at")})
		b.callOnce(t, b.contacts[0], t0, "customer-ended-call", `{"callback_at": "2025-03-04T10:00:00Z", "call_me_at": "2025-03-05T10:00:00Z"}`)
		requireTime(t, time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC), b.contact(t, b.contacts[0]).NextAttemptAt)
	})
}

// TestDoNotCallFromTheConversation: a person who asks not to be called ends their contact as
// do_not_call, their number joins the suppression list with the call as evidence, and the same
// number waiting in another campaign is stopped too.
func TestDoNotCallFromTheConversation(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2, maxConcurrent: 2, retry: campaign.DefaultRetrySpec})
	b.setPacing(t, campaign.Pacing{DoNotCallKey: ptr("opt_out")})
	// The same numbers in a second campaign, waiting.
	other := setupInPool(t, b, "other")

	// The default key is not this campaign's: ignored, and no_answer is retried as usual.
	b.callOnce(t, b.contacts[1], t0, "customer-did-not-answer", `{"do_not_call": true}`)
	require.Equal(t, campaign.ContactPending, b.contact(t, b.contacts[1]).State)

	a, end := b.callOnce(t, b.contacts[0], t0, "customer-ended-call", `{"opt_out": "yes"}`)
	c := b.contact(t, b.contacts[0])
	require.Equal(t, campaign.ContactDoNotCall, c.State)
	require.Equal(t, string(campaign.OutcomeCompleted), c.Outcome)
	require.Equal(t, "asked not to be called", a.Decision)

	var list []campaign.Suppression
	require.NoError(t, b.store.ListSuppressions(b.ctx, func(s campaign.Suppression) error {
		list = append(list, s)
		return nil
	}))
	require.Len(t, list, 1)
	require.Equal(t, "+14155550100", list[0].Phone)
	require.Equal(t, campaign.DoNotCallReason, list[0].Reason)
	require.Equal(t, a.VapiCallID, list[0].VapiCallID)
	require.Equal(t, b.camp.ID, list[0].CampaignID)
	require.Equal(t, "call in campaign "+b.camp.Name, list[0].Origin())
	require.True(t, end.Equal(list[0].CreatedAt), "suppressed at %s", list[0].CreatedAt)

	require.Equal(t, campaign.ContactDoNotCall, b.contact(t, other[0]).State, "the other campaign's contact")
	require.Equal(t, campaign.ContactPending, b.contact(t, other[1]).State)
}

// TestSimulatedDoNotCallStaysInItsCampaign: in a simulated campaign, a "do not call" answer
// reached nobody: the contact ends do_not_call, but the number joins no shared list, and the
// same number waiting in a real campaign is still called.
func TestSimulatedDoNotCallStaysInItsCampaign(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: campaign.DefaultRetrySpec})
	_, err := b.pool.Exec(b.ctx, `UPDATE campaign SET mode = 'simulated' WHERE id = $1`, b.camp.ID)
	require.NoError(t, err)
	realContacts := setupInPool(t, b, "real")

	a, _ := b.callOnce(t, b.contacts[0], t0, "customer-ended-call", `{"do_not_call": true}`)
	require.Equal(t, campaign.ContactDoNotCall, b.contact(t, b.contacts[0]).State)
	require.Contains(t, a.Decision, "simulated: not added to the suppression list")

	var list []campaign.Suppression
	require.NoError(t, b.store.ListSuppressions(b.ctx, func(s campaign.Suppression) error {
		list = append(list, s)
		return nil
	}))
	require.Empty(t, list, "a simulated answer wrote the shared suppression list")
	require.Equal(t, campaign.ContactPending, b.contact(t, realContacts[0]).State, "the real campaign's contact")
}

// TestSimulatedRetriesRunOnSimulatedTime: in a simulated campaign (RetryTimeScale 60), a 30 m
// retry comes 30 s later in real time, and a callback is placed as far from the call's
// simulated end as it asked, divided by the scale.
func TestSimulatedRetriesRunOnSimulatedTime(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2, maxConcurrent: 2, retry: "no_answer=2@30m"})
	_, err := b.pool.Exec(b.ctx, `UPDATE campaign SET retry_time_scale = 60, mode = 'simulated' WHERE id = $1`, b.camp.ID)
	require.NoError(t, err)

	_, end := b.callOnce(t, b.contacts[0], t0, "customer-did-not-answer", "")
	requireTime(t, end.Add(30*time.Second), b.contact(t, b.contacts[0]).NextAttemptAt)

	// The simulator's clock is far from ours: only distances count. A call that ended at
	// simulated time sim asks for a callback 2 h after that: 2 minutes away in real time.
	b.queue(t, b.contacts[1])
	a := b.grant(t, b.contacts[1], t0)
	sim := time.Date(2031, 1, 1, 9, 0, 0, 0, time.UTC)
	now := t0.Add(time.Minute)
	_, err = b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: a.Key, EndedReason: "customer-ended-call", EndedAt: &sim,
		StructuredData: json.RawMessage(fmt.Sprintf(`{"callback_at": %q}`, sim.Add(2*time.Hour).Format(time.RFC3339)))}, now)
	require.NoError(t, err)
	requireTime(t, now.Add(2*time.Minute), b.contact(t, b.contacts[1]).NextAttemptAt)
}
