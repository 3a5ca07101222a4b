package campaign_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// failReason is an ended reason that classifies as failed_retryable.
const failReason = "call.start.error-vapifault-test-outage"

func TestParseSpike(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    campaign.Spike
		canon   string
		wantErr bool
	}{
		{in: "50%/20", want: campaign.Spike{Percent: 50, Calls: 20}, canon: "50%/20"},
		{in: " 75% / 8 ", want: campaign.Spike{Percent: 75, Calls: 8}, canon: "75%/8"},
		{in: "100%/2", want: campaign.Spike{Percent: 100, Calls: 2}, canon: "100%/2"},
		{in: "OFF", canon: "off"},
		{in: "50/20", wantErr: true},
		{in: "50%", wantErr: true},
		{in: "0%/20", wantErr: true},
		{in: "101%/20", wantErr: true},
		{in: "50%/1", wantErr: true},
		{in: "50%/1001", wantErr: true},
		{in: "", wantErr: true},
	} {
		got, err := campaign.ParseSpike(tc.in)
		if tc.wantErr {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
		require.Equal(t, tc.canon, got.String(), tc.in)
	}
}

func TestSpikeDetect(t *testing.T) {
	t.Parallel()
	fail := func(reason string) campaign.EndedCall {
		return campaign.EndedCall{EndedReason: reason, Outcome: campaign.OutcomeFailedRetryable}
	}
	perm := func(reason string) campaign.EndedCall {
		return campaign.EndedCall{EndedReason: reason, Outcome: campaign.OutcomeFailedPermanent}
	}
	ok := campaign.EndedCall{EndedReason: "customer-ended-call", Outcome: campaign.OutcomeCompleted}
	noAnswer := campaign.EndedCall{EndedReason: "customer-did-not-answer", Outcome: campaign.OutcomeNoAnswer}
	rule := campaign.Spike{Percent: 50, Calls: 4}
	for _, tc := range []struct {
		name   string
		rule   campaign.Spike
		recent []campaign.EndedCall
		want   campaign.SpikeFinding
	}{
		{"too few calls yet", rule, []campaign.EndedCall{fail("a"), fail("a"), fail("a")}, campaign.SpikeFinding{}},
		{"exactly the threshold", rule, []campaign.EndedCall{fail("a"), ok, fail("a"), ok},
			campaign.SpikeFinding{EndedReason: "a", Failed: 2, Calls: 4}},
		{"below the threshold", rule, []campaign.EndedCall{fail("a"), ok, ok, ok}, campaign.SpikeFinding{}},
		{"failures of different reasons do not add up", rule, []campaign.EndedCall{fail("a"), fail("b"), ok, ok},
			campaign.SpikeFinding{}},
		{"permanent failures count", rule, []campaign.EndedCall{perm("bad"), perm("bad"), perm("bad"), ok},
			campaign.SpikeFinding{EndedReason: "bad", Failed: 3, Calls: 4}},
		{"no answer is not a failure", rule, []campaign.EndedCall{noAnswer, noAnswer, noAnswer, noAnswer}, campaign.SpikeFinding{}},
		{"only the last CALLS count", rule, []campaign.EndedCall{ok, ok, ok, fail("a"), fail("a"), fail("a"), fail("a")},
			campaign.SpikeFinding{}},
		{"two reasons over a low threshold: the most frequent", campaign.Spike{Percent: 25, Calls: 5},
			[]campaign.EndedCall{fail("b"), fail("a"), fail("b"), fail("a"), fail("b")},
			campaign.SpikeFinding{EndedReason: "b", Failed: 3, Calls: 5}},
		{"a tie: the first reason alphabetically", campaign.Spike{Percent: 25, Calls: 4},
			[]campaign.EndedCall{fail("b"), fail("a"), fail("b"), fail("a")},
			campaign.SpikeFinding{EndedReason: "a", Failed: 2, Calls: 4}},
		{"off never fires", campaign.Spike{}, []campaign.EndedCall{fail("a"), fail("a")}, campaign.SpikeFinding{}},
		{"an empty reason is no reason", rule, []campaign.EndedCall{fail(""), fail(""), fail(""), fail("")}, campaign.SpikeFinding{}},
	} {
		require.Equal(t, tc.want, tc.rule.Detect(tc.recent), tc.name)
	}
}

func TestMaskURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                       "",
		"https://hooks.slack.com/services/T/B/X": "https://hooks.slack.com/…",
		"https://example.com":                    "https://example.com",
		"https://example.com/":                   "https://example.com",
		"https://example.com?token=abc":          "https://example.com/…",
		"https://user:pw@example.com":            "https://example.com/…",
		"not a url":                              "(hidden)",
	} {
		require.Equal(t, want, campaign.MaskURL(in), in)
	}
}

// storedNotification is a row of the notification table.
type storedNotification struct {
	Kind    string
	Key     string
	Payload campaign.NotificationBody
}

// notifications returns b's campaign's notifications in id order.
func (b *testBundle) notifications(t *testing.T) []storedNotification {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, `SELECT kind, dedupe_key, payload FROM notification WHERE campaign_id = $1 ORDER BY id`, b.camp.ID)
	require.NoError(t, err)
	defer rows.Close()
	var list []storedNotification
	for rows.Next() {
		var (
			n   storedNotification
			raw []byte
		)
		require.NoError(t, rows.Scan(&n.Kind, &n.Key, &raw))
		require.NoError(t, json.Unmarshal(raw, &n.Payload))
		list = append(list, n)
	}
	require.NoError(t, rows.Err())
	return list
}

// setNotifyURL gives b's campaign a notify URL (and spike rule, when not "").
func (b *testBundle) setNotifyURL(t *testing.T, url, spike string) {
	t.Helper()
	p := campaign.Pacing{NotifyURL: &url}
	if spike != "" {
		p.NotifySpike = &spike
	}
	require.NoError(t, b.store.SetPacing(b.ctx, b.camp.ID, p, t0))
}

// end applies an end-of-call report with reason to attempt a, ended at at.
func (b *testBundle) end(t *testing.T, a *campaign.Attempt, reason string, at time.Time) {
	t.Helper()
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: a.Key, EndedReason: reason, EndedAt: &at}, at)
	require.NoError(t, err)
	require.True(t, applied)
}

func TestNotificationOnCompletion(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2})
	b.setNotifyURL(t, "https://hooks.example.com/services/T/B/X", "")
	b.queueAll(t)
	a1 := b.grant(t, b.contacts[0], t0)
	a2 := b.grant(t, b.contacts[1], t0)
	b.end(t, a1, "customer-ended-call", t0.Add(time.Minute))
	require.Empty(t, b.notifications(t), "nothing before the campaign completes")
	b.end(t, a2, failReason, t0.Add(2*time.Minute))
	require.Equal(t, campaign.StatusCompleted, b.status(t))

	got := b.notifications(t)
	require.Len(t, got, 1)
	n := got[0]
	require.Equal(t, string(campaign.KindCompleted), n.Kind)
	require.Equal(t, n.Key, n.Payload.ID)
	require.Equal(t, campaign.KindCompleted, n.Payload.Event)
	require.Equal(t, b.camp.ID, n.Payload.Campaign.ID)
	require.Equal(t, "test", n.Payload.Campaign.Name)
	require.Equal(t, campaign.StatusCompleted, n.Payload.Campaign.Status)
	require.Equal(t, 2, n.Payload.Campaign.Contacts)
	require.Equal(t, 1, n.Payload.Campaign.ByState[campaign.ContactCompleted])
	require.Equal(t, 1, n.Payload.Campaign.ByState[campaign.ContactFailed])
	require.Equal(t, 1, n.Payload.Campaign.ByOutcome[campaign.OutcomeFailedRetryable])
	require.Equal(t, 2, n.Payload.Campaign.Attempts)
	require.Equal(t, "Campaign test completed. 2 contacts: 1 completed, 1 failed, 0 cancelled, 0 not to call; 2 calls, $0.00 spent.",
		n.Payload.Text)
	require.True(t, n.Payload.OccurredAt.Equal(t0.Add(2*time.Minute)))

	// Completing again (a call that was already recorded) records nothing more.
	done, err := b.store.CompleteIfDone(b.ctx, b.camp.ID, t0.Add(time.Hour))
	require.NoError(t, err)
	require.False(t, done)
	require.Len(t, b.notifications(t), 1)
}

func TestNotificationOnCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 3})
	b.setNotifyURL(t, "https://hooks.example.com/x", "")
	_, err := b.store.Cancel(b.ctx, b.camp.ID, t0.Add(time.Minute))
	require.NoError(t, err)
	got := b.notifications(t)
	require.Len(t, got, 1)
	require.Equal(t, string(campaign.KindCancelled), got[0].Kind)
	require.Equal(t, campaign.StatusCancelled, got[0].Payload.Campaign.Status)
	require.Equal(t, 3, got[0].Payload.Campaign.ByState[campaign.ContactCancelled])
	require.Contains(t, got[0].Payload.Text, "Campaign test was cancelled.")

	// A cancel that is refused (already cancelled) records nothing.
	_, err = b.store.Cancel(b.ctx, b.camp.ID, t0.Add(2*time.Minute))
	require.ErrorIs(t, err, campaign.ErrWrongStatus)
	require.Len(t, b.notifications(t), 1)
}

func TestNotificationOnBudgetPause(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 3})
	b.setNotifyURL(t, "https://hooks.example.com/x", "")
	b.setBudget(t, 1)
	b.queueAll(t)
	a := b.grant(t, b.contacts[0], t0)
	b.result(t, a, 1.25, t0.Add(time.Minute))
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[1], t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseBudget, g.Refusal)
	// A second dial finds the campaign paused already: no second notification.
	g, err = b.store.BeginAttempt(b.ctx, b.contacts[2], t0.Add(3*time.Minute))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNotRunning, g.Refusal)

	got := b.notifications(t)
	require.Len(t, got, 1)
	n := got[0].Payload
	require.Equal(t, campaign.KindPausedBudget, n.Event)
	require.Equal(t, campaign.StatusPaused, n.Campaign.Status)
	require.Equal(t, campaign.PauseBudget, n.Campaign.PausedReason)
	require.InDelta(t, 1.25, n.Campaign.CostUSD, 1e-9)
	require.NotNil(t, n.Campaign.MaxCostUSD)
	require.Equal(t, "Campaign test paused: its budget cap of $1.00 is reached. 3 contacts: 1 completed, 0 failed, 0 cancelled, "+
		"0 not to call; 1 calls, $1.25 spent.", n.Text)
}

func TestNoNotificationWithoutURL(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1})
	_, err := b.store.Cancel(b.ctx, b.camp.ID, t0)
	require.NoError(t, err)
	require.Empty(t, b.notifications(t), "a foreground campaign without a notify URL records nothing")

	// A service campaign records its events even without a URL: serve --notify-url may deliver them.
	s := setup(t, setupOpts{contacts: 1, mode: campaign.ModeService})
	_, err = s.store.Cancel(s.ctx, s.camp.ID, t0)
	require.NoError(t, err)
	require.Len(t, s.notifications(t), 1)
}

func TestDetectSpikes(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 6, maxConcurrent: 6})
	b.setNotifyURL(t, "https://hooks.example.com/x", "50%/2")
	b.queueAll(t)
	var attempts []*campaign.Attempt
	for _, id := range b.contacts {
		attempts = append(attempts, b.grant(t, id, t0))
	}
	detect := func(now time.Time) int {
		t.Helper()
		n, err := b.store.DetectSpikes(b.ctx, b.camp.ID, false, now)
		require.NoError(t, err)
		return n
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i+1) * time.Minute) }

	b.end(t, attempts[0], failReason, at(0))
	require.Zero(t, detect(at(0)), "one call is fewer than the rule's two")
	b.end(t, attempts[1], failReason, at(1))
	require.Equal(t, 1, detect(at(1)))
	require.Zero(t, detect(at(1)), "the episode under way is notified once")
	b.end(t, attempts[2], failReason, at(2))
	require.Zero(t, detect(at(2)), "still the same episode")

	// Two good calls end the episode; two more failures start a new one.
	b.end(t, attempts[3], "customer-ended-call", at(3))
	b.end(t, attempts[4], "customer-ended-call", at(4))
	require.Zero(t, detect(at(4)))
	b.end(t, attempts[5], failReason, at(5))
	require.Zero(t, detect(at(5)), "the campaign completed: it is no longer checked")

	got := b.notifications(t)
	require.Len(t, got, 2, "the spike, then the completion")
	spike := got[0].Payload
	require.Equal(t, campaign.KindFailureSpike, spike.Event)
	require.Equal(t, failReason, spike.Details["ended_reason"])
	require.EqualValues(t, 2, spike.Details["failed"])
	require.EqualValues(t, 2, spike.Details["calls"])
	require.EqualValues(t, 1, spike.Details["episode"])
	require.Equal(t, "50%/2", spike.Details["rule"])
	require.Contains(t, spike.Text, "2 of its last 2 ended calls failed with "+failReason)
	require.Equal(t, campaign.KindCompleted, got[1].Payload.Event)
}

func TestDetectSpikesReArms(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 7, maxConcurrent: 7})
	b.setNotifyURL(t, "https://hooks.example.com/x", "100%/2")
	b.queueAll(t)
	var attempts []*campaign.Attempt
	for _, id := range b.contacts {
		attempts = append(attempts, b.grant(t, id, t0))
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i+1) * time.Minute) }
	detect := func(i int) int {
		t.Helper()
		n, err := b.store.DetectSpikes(b.ctx, 0, false, at(i))
		require.NoError(t, err)
		return n
	}
	reasons := []string{failReason, failReason, "customer-ended-call", failReason, failReason, failReason}
	want := []int{0, 1, 0, 0, 1, 0}
	for i, r := range reasons {
		b.end(t, attempts[i], r, at(i))
		require.Equal(t, want[i], detect(i), "after call %d", i)
	}
	got := b.notifications(t)
	require.Len(t, got, 2)
	require.EqualValues(t, 1, got[0].Payload.Details["episode"])
	require.EqualValues(t, 2, got[1].Payload.Details["episode"])
	require.NotEqual(t, got[0].Key, got[1].Key)

	// The rule "off" checks nothing.
	off := "off"
	require.NoError(t, b.store.SetPacing(b.ctx, b.camp.ID, campaign.Pacing{NotifySpike: &off}, t0))
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, "off", c.NotifySpike)
	bad := "half"
	require.Error(t, b.store.SetPacing(b.ctx, b.camp.ID, campaign.Pacing{NotifySpike: &bad}, t0))
}

func TestNotificationOnDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 3, maxConcurrent: 2})
	b.setNotifyURL(t, "https://hooks.example.com/x", "")
	end := t0.Add(time.Hour)
	b.schedule(t, nil, &end)
	b.queue(t, b.contacts[0])
	a := b.grant(t, b.contacts[0], t0) // in a call at the end; the other two still pending

	for range 2 { // a second run at the end records nothing more
		_, err := b.store.ExpireContacts(b.ctx, b.camp.ID, end)
		require.NoError(t, err)
	}
	got := b.notifications(t)
	require.Len(t, got, 1, "one deadline notification, and no completion while a call is live")
	n := got[0].Payload
	require.Equal(t, campaign.KindDeadline, n.Event)
	require.EqualValues(t, 2, n.Details["expired"])
	require.Equal(t, 2, n.Campaign.ByOutcome[campaign.OutcomeExpired])
	require.Equal(t, campaign.StatusRunning, n.Campaign.Status)
	require.Contains(t, n.Text, "Campaign test reached its deadline.")

	// The live call ends: its contact expires too and the campaign completes, which is told
	// once more, after the deadline.
	after := end.Add(time.Minute)
	b.end(t, a, "customer-did-not-answer", after)
	require.Equal(t, campaign.StatusCompleted, b.status(t))
	got = b.notifications(t)
	require.Len(t, got, 2)
	require.Equal(t, campaign.KindCompleted, got[1].Payload.Event)
}

// TestNotificationOnDeadlineWithoutTheHopper: the contacts expire without ExpireContacts (their
// dials come after the end; a call ends after it), yet the deadline is told, once, before the
// completion.
func TestNotificationOnDeadlineWithoutTheHopper(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(b *testBundle, live *campaign.Attempt, queued []int64, after time.Time)
	}{
		{"dials after the end", func(b *testBundle, live *campaign.Attempt, queued []int64, after time.Time) {
			b.end(t, live, "customer-ended-call", after.Add(-2*time.Hour)) // before the end
			for _, id := range queued {
				g, err := b.store.BeginAttempt(b.ctx, id, after)
				require.NoError(t, err)
				require.Equal(t, campaign.RefuseExpired, g.Refusal)
			}
		}},
		{"a call ends after the end", func(b *testBundle, live *campaign.Attempt, queued []int64, after time.Time) {
			for _, id := range queued {
				g, err := b.store.BeginAttempt(b.ctx, id, after.Add(-2*time.Hour)) // before the end
				require.NoError(t, err)
				b.end(t, g.Attempt, "customer-ended-call", after.Add(-time.Hour))
			}
			b.end(t, live, "customer-did-not-answer", after) // would be retried: expires
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{contacts: 3, maxConcurrent: 3, retry: "no_answer=2@10m"})
			b.setNotifyURL(t, "https://hooks.example.com/x", "")
			end := t0.Add(3 * time.Hour)
			b.schedule(t, nil, &end)
			b.queueAll(t)
			live := b.grant(t, b.contacts[0], t0)
			tc.end(b, live, b.contacts[1:], end.Add(time.Minute))
			require.Equal(t, campaign.StatusCompleted, b.status(t))
			got := b.notifications(t)
			require.Len(t, got, 2)
			require.Equal(t, campaign.KindDeadline, got[0].Payload.Event)
			require.Equal(t, campaign.KindCompleted, got[1].Payload.Event)
			require.Positive(t, got[0].Payload.Details["expired"])
		})
	}
}
