package campaign_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// dialed sets up a running campaign with n contacts and one live attempt (creating) for each.
func dialed(t *testing.T, n int) (*testBundle, []*campaign.Attempt) {
	t.Helper()
	return dialedWith(t, setupOpts{contacts: n, maxConcurrent: n})
}

// dialedWith is dialed on a campaign set up with opts.
func dialedWith(t *testing.T, opts setupOpts) (*testBundle, []*campaign.Attempt) {
	t.Helper()
	n := opts.contacts
	b := setup(t, opts)
	b.queue(t, b.contacts...)
	attempts := make([]*campaign.Attempt, n)
	for i, id := range b.contacts {
		attempts[i] = b.grant(t, id, t0)
	}
	return b, attempts
}

func (b *testBundle) attempt(t *testing.T, id int64) *campaign.Attempt {
	t.Helper()
	a, err := b.store.Attempt(b.ctx, id)
	require.NoError(t, err)
	return a
}

func TestCallCreated(t *testing.T) {
	t.Parallel()
	b, as := dialed(t, 2)
	a := as[0]
	callAt, now := t0.Add(time.Second), t0.Add(2*time.Second)

	require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-a", callAt, now))
	got := b.attempt(t, a.ID)
	require.Equal(t, campaign.AttemptCreated, got.State)
	require.Equal(t, "call-a", got.VapiCallID)
	requireTime(t, callAt, got.CallCreatedAt)
	require.True(t, now.Equal(got.UpdatedAt))

	// Again: nothing changes.
	require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-a", callAt.Add(time.Hour), now.Add(time.Hour)))
	again := b.attempt(t, a.ID)
	require.Equal(t, got, again)

	require.Error(t, b.store.CallCreated(b.ctx, a.ID, "call-other", callAt, now), "a second call for one attempt")
	require.Error(t, b.store.CallCreated(b.ctx, as[1].ID, "call-a", callAt, now), "one call for two attempts")
	require.ErrorIs(t, b.store.CallCreated(b.ctx, -1, "call-x", callAt, now), campaign.ErrAttemptNotFound)

	// An early end-of-call report ended the attempt before its id was stored.
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: as[1].Key, EndedReason: "customer-busy"}, now)
	require.NoError(t, err)
	require.True(t, applied)
	require.NoError(t, b.store.CallCreated(b.ctx, as[1].ID, "call-b", callAt, now))
	got = b.attempt(t, as[1].ID)
	require.Equal(t, campaign.AttemptEnded, got.State)
	require.Equal(t, "call-b", got.VapiCallID)
	requireTime(t, callAt, got.CallCreatedAt)
	require.Equal(t, campaign.OutcomeBusy, got.Outcome)
}

func TestCallNotCreated(t *testing.T) {
	t.Parallel()
	retryAt := t0.Add(5 * time.Minute)
	cases := []struct {
		kind         campaign.NotCreatedKind
		callID       string
		wantOutcome  campaign.Outcome
		wantContact  campaign.ContactState
		wantCOutcome string
		wantAttempts int
		wantNext     *time.Time
		wantDone     bool // the campaign completes (its only contact failed)
	}{
		{kind: campaign.NotCreatedCapacity, callID: "call-blocked", wantOutcome: campaign.OutcomeCapacity,
			wantContact: campaign.ContactPending, wantAttempts: 0, wantNext: &retryAt},
		{kind: campaign.NotCreatedRetryable, wantOutcome: "",
			wantContact: campaign.ContactPending, wantAttempts: 0, wantNext: &retryAt},
		{kind: campaign.NotCreatedPermanent, wantOutcome: campaign.OutcomeFailedPermanent,
			wantContact: campaign.ContactFailed, wantCOutcome: "failed_permanent", wantAttempts: 1, wantDone: true},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			b, as := dialed(t, 1)
			a := as[0]
			now := t0.Add(time.Second)
			require.NoError(t, b.store.CallNotCreated(b.ctx, a.ID, tc.kind, tc.callID, "detail", retryAt, now))

			got := b.attempt(t, a.ID)
			require.Equal(t, campaign.AttemptNotCreated, got.State)
			require.Equal(t, tc.wantOutcome, got.Outcome)
			require.Equal(t, "detail", got.Error)
			require.Equal(t, tc.callID, got.VapiCallID)
			require.Nil(t, got.ReportAt)
			require.Zero(t, b.live(t), "the slot is free")

			c := b.contact(t, a.ContactID)
			require.Equal(t, tc.wantContact, c.State)
			require.Equal(t, tc.wantCOutcome, c.Outcome)
			require.Equal(t, tc.wantAttempts, c.Attempts)
			if tc.wantNext != nil {
				requireTime(t, *tc.wantNext, c.NextAttemptAt)
			} else {
				require.Nil(t, c.NextAttemptAt)
			}
			wantStatus := campaign.StatusRunning
			if tc.wantDone {
				wantStatus = campaign.StatusCompleted
			}
			require.Equal(t, wantStatus, b.status(t))

			// Twice, or another kind after: nothing changes.
			require.NoError(t, b.store.CallNotCreated(b.ctx, a.ID, campaign.NotCreatedPermanent, "", "again", retryAt, now.Add(time.Hour)))
			require.Equal(t, got, b.attempt(t, a.ID))
			require.Equal(t, c, b.contact(t, a.ContactID))
		})
	}

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b, as := dialed(t, 1)
		require.ErrorIs(t, b.store.CallNotCreated(b.ctx, -1, campaign.NotCreatedRetryable, "", "", t0, t0), campaign.ErrAttemptNotFound)
		require.Error(t, b.store.CallNotCreated(b.ctx, as[0].ID, "maybe", "", "", t0, t0))
	})

	t.Run("AfterResult", func(t *testing.T) {
		t.Parallel()
		b, as := dialed(t, 2)
		_, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: as[0].Key, EndedReason: "customer-ended-call"}, t0)
		require.NoError(t, err)
		require.NoError(t, b.store.CallNotCreated(b.ctx, as[0].ID, campaign.NotCreatedRetryable, "", "timeout", t0, t0))
		require.Equal(t, campaign.AttemptEnded, b.attempt(t, as[0].ID).State, "the result stands")
		require.Equal(t, campaign.ContactCompleted, b.contact(t, as[0].ContactID).State)
	})
}

func TestApplyResult(t *testing.T) {
	t.Parallel()
	cases := []struct {
		reason       string
		byKey        bool
		wantOutcome  campaign.Outcome
		wantContact  campaign.ContactState
		wantAttempts int
		requeued     bool          // capacity: back in line, not counted
		retryAfter   time.Duration // the default policy's retry delay
	}{
		{reason: "customer-ended-call", wantOutcome: campaign.OutcomeCompleted, wantContact: campaign.ContactCompleted, wantAttempts: 1},
		{reason: "voicemail", byKey: true, wantOutcome: campaign.OutcomeVoicemail, wantContact: campaign.ContactPending,
			wantAttempts: 1, retryAfter: 24 * time.Hour},
		{reason: "customer-did-not-answer", wantOutcome: campaign.OutcomeNoAnswer, wantContact: campaign.ContactPending,
			wantAttempts: 1, retryAfter: 4 * time.Hour},
		{reason: "customer-busy", byKey: true, wantOutcome: campaign.OutcomeBusy, wantContact: campaign.ContactPending,
			wantAttempts: 1, retryAfter: 30 * time.Minute},
		{reason: "call.start.error-vapifault-database-error", wantOutcome: campaign.OutcomeFailedRetryable,
			wantContact: campaign.ContactPending, wantAttempts: 1, retryAfter: 10 * time.Minute},
		{reason: "call.start.error-get-assistant", wantOutcome: campaign.OutcomeFailedPermanent,
			wantContact: campaign.ContactFailed, wantAttempts: 1},
		{reason: "call.start.error-subscription-concurrency-limit-reached", wantOutcome: campaign.OutcomeCapacity,
			wantContact: campaign.ContactPending, wantAttempts: 0, requeued: true},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			t.Parallel()
			b, as := dialedWith(t, setupOpts{contacts: 2, maxConcurrent: 2, retry: campaign.DefaultRetrySpec})
			a := as[0]
			now := t0.Add(3 * time.Minute)
			r := campaign.CallResult{CallID: "call-1", EndedReason: tc.reason}
			if tc.byKey {
				r.AttemptKey = a.Key // the id was never stored: the report came first
			} else {
				require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-1", t0, t0))
			}
			applied, err := b.store.ApplyResult(b.ctx, r, now)
			require.NoError(t, err)
			require.True(t, applied)

			got := b.attempt(t, a.ID)
			require.Equal(t, campaign.AttemptEnded, got.State)
			require.Equal(t, "call-1", got.VapiCallID)
			require.Equal(t, tc.reason, got.EndedReason)
			require.Equal(t, tc.wantOutcome, got.Outcome)
			requireTime(t, now, got.ReportAt)
			require.Equal(t, 1, b.live(t), "the other attempt")

			c := b.contact(t, a.ContactID)
			require.Equal(t, tc.wantContact, c.State)
			require.Equal(t, tc.wantAttempts, c.Attempts)
			switch {
			case tc.requeued:
				require.Empty(t, c.Outcome)
				requireTime(t, now.Add(campaign.CapacityRetryDelay), c.NextAttemptAt)
			case tc.retryAfter > 0:
				require.Equal(t, string(tc.wantOutcome), c.Outcome)
				requireTime(t, now.Add(tc.retryAfter), c.NextAttemptAt)
			default:
				require.Equal(t, string(tc.wantOutcome), c.Outcome)
			}
			require.Equal(t, campaign.StatusRunning, b.status(t), "another contact is in a call")

			// The same result again (by id, then by key): a no-op.
			for _, dup := range []campaign.CallResult{
				{CallID: "call-1", EndedReason: "customer-ended-call"},
				{AttemptKey: a.Key, EndedReason: "customer-ended-call"},
			} {
				applied, err = b.store.ApplyResult(b.ctx, dup, now.Add(time.Hour))
				require.NoError(t, err)
				require.False(t, applied)
			}
			require.Equal(t, got, b.attempt(t, a.ID))
			require.Equal(t, c, b.contact(t, a.ContactID))
		})
	}
}

func TestApplyResultStoresEveryField(t *testing.T) {
	t.Parallel()
	b, as := dialed(t, 1)
	started, ended := t0.Add(10*time.Second), t0.Add(70*time.Second)
	dur, cost := 60.0, 0.1234
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{
		AttemptKey: as[0].Key, CallID: "call-1", EndedReason: "assistant-ended-call",
		StartedAt: &started, EndedAt: &ended, DurationSeconds: &dur, Cost: &cost,
		CostBreakdown: json.RawMessage(`{"llm": 0.1}`), Costs: json.RawMessage(`[{"type": "llm"}]`),
		StructuredData: json.RawMessage(`{"paid": true}`),
		Summary:        "agreed to pay", SuccessEvaluation: "true", Transcript: "AI: hi\nUser: hello",
		RecordingURL: "https://r/1.wav", StereoRecordingURL: "https://r/1s.wav",
	}, t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.True(t, applied)

	var (
		gotStarted, gotEnded                                  time.Time
		gotDur, gotCost                                       float64
		breakdown, costs, structured                          string
		summary, evaluation, transcript, recording, stereoRec string
	)
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT started_at, ended_at, duration_seconds, cost::float8, cost_breakdown::text, costs::text,
		       structured_data::text, summary, success_evaluation, transcript, recording_url, stereo_recording_url
		FROM attempt WHERE id = $1`, as[0].ID).Scan(&gotStarted, &gotEnded, &gotDur, &gotCost, &breakdown, &costs,
		&structured, &summary, &evaluation, &transcript, &recording, &stereoRec))
	require.True(t, started.Equal(gotStarted))
	require.True(t, ended.Equal(gotEnded))
	require.Equal(t, dur, gotDur)
	require.Equal(t, cost, gotCost)
	require.JSONEq(t, `{"llm": 0.1}`, breakdown)
	require.JSONEq(t, `[{"type": "llm"}]`, costs)
	require.JSONEq(t, `{"paid": true}`, structured)
	require.Equal(t, []string{"agreed to pay", "true", "AI: hi\nUser: hello", "https://r/1.wav", "https://r/1s.wav"},
		[]string{summary, evaluation, transcript, recording, stereoRec})
	a := b.attempt(t, as[0].ID)
	requireTime(t, ended, a.EndedAt)
}

func TestApplyOutOfOrder(t *testing.T) {
	t.Parallel()
	t.Run("StatusEndedThenResult", func(t *testing.T) {
		t.Parallel()
		b, as := dialed(t, 2)
		a := as[0]
		require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-1", t0, t0))
		require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "call-1", a.Key, "ended", "customer-did-not-answer", t0.Add(time.Minute)))
		got := b.attempt(t, a.ID)
		require.Equal(t, campaign.AttemptEnded, got.State)
		require.Equal(t, "ended", got.LastStatus)
		require.Equal(t, "customer-did-not-answer", got.EndedReason)
		require.Nil(t, got.ReportAt, "the full result is still to come")
		require.Equal(t, 1, b.live(t), "the slot is released")
		require.Equal(t, campaign.ContactInCall, b.contact(t, a.ContactID).State)

		// A late, earlier status does not undo the end.
		require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "call-1", "", "ringing", "", t0.Add(2*time.Minute)))
		got = b.attempt(t, a.ID)
		require.Equal(t, campaign.AttemptEnded, got.State)
		require.Equal(t, "ended", got.LastStatus)

		// The report without an ended reason: the status's reason decides.
		applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: "call-1"}, t0.Add(3*time.Minute))
		require.NoError(t, err)
		require.True(t, applied)
		got = b.attempt(t, a.ID)
		require.Equal(t, campaign.OutcomeNoAnswer, got.Outcome)
		requireTime(t, t0.Add(3*time.Minute), got.ReportAt)
		c := b.contact(t, a.ContactID)
		require.Equal(t, campaign.ContactFailed, c.State)
		require.Equal(t, "no_answer", c.Outcome)
	})
	t.Run("ResultThenStatuses", func(t *testing.T) {
		t.Parallel()
		b, as := dialed(t, 2)
		a := as[0]
		applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: a.Key, CallID: "call-1", EndedReason: "voicemail"}, t0.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, applied)
		for _, st := range []string{"in-progress", "ended"} {
			require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "call-1", a.Key, st, "customer-ended-call", t0.Add(2*time.Minute)))
		}
		got := b.attempt(t, a.ID)
		require.Equal(t, campaign.AttemptEnded, got.State)
		require.Equal(t, "voicemail", got.EndedReason, "the report's reason stands")
		require.Equal(t, campaign.OutcomeVoicemail, got.Outcome)
		requireTime(t, t0.Add(time.Minute), got.ReportAt)
		require.Equal(t, "ended", got.LastStatus)
		require.Equal(t, campaign.ContactCompleted, b.contact(t, a.ContactID).State)
	})
	t.Run("StatusBeforeCallCreated", func(t *testing.T) {
		t.Parallel()
		b, as := dialed(t, 1)
		a := as[0]
		require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "call-1", a.Key, "ringing", "", t0))
		got := b.attempt(t, a.ID)
		require.Equal(t, campaign.AttemptCreating, got.State)
		require.Equal(t, "call-1", got.VapiCallID, "the id comes with the webhook")
		require.Equal(t, "ringing", got.LastStatus)
		require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-1", t0, t0))
		require.Equal(t, campaign.AttemptCreated, b.attempt(t, a.ID).State)
	})
}

func TestCampaignCompletesWithItsLastContact(t *testing.T) {
	t.Parallel()
	b, as := dialed(t, 3)
	results := []struct {
		attempt *campaign.Attempt
		reason  string
		done    bool
	}{
		{as[0], "customer-ended-call", false},
		{as[1], "call.start.error-subscription-concurrency-limit-reached", false}, // back to pending
		{as[2], "customer-busy", false},
	}
	for i, r := range results {
		_, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: r.attempt.Key, EndedReason: r.reason}, t0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, campaign.StatusRunning, b.status(t), "result %d", i)
	}
	b.queue(t, as[1].ContactID)
	retry := b.grant(t, as[1].ContactID, t0.Add(2*time.Minute))
	require.Equal(t, 2, retry.Number)
	end := t0.Add(3 * time.Minute)
	_, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: retry.Key, EndedReason: "voicemail"}, end)
	require.NoError(t, err)

	p, err := b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, p.Status)
	require.True(t, p.Final())
	var finished *time.Time
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT finished_at FROM campaign WHERE id = $1`, b.camp.ID).Scan(&finished))
	requireTime(t, end, finished)
}

func TestUnknownCalls(t *testing.T) {
	t.Parallel()
	b, as := dialed(t, 1)
	a := as[0]
	require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-1", t0, t0))

	cases := []struct {
		name        string
		callID, key string
		campaignID  int64
		// rejected: an *EventRejectedError, else ErrUnknownCall.
		rejected bool
	}{
		{name: "UnknownCall", callID: "call-x"},
		{name: "UnknownKey", key: "cmp-zz-zz-1"},
		{name: "Nothing"},
		{name: "KeyOfAnotherCall", callID: "call-2", key: a.Key, rejected: true}, // the attempt has call-1
		{name: "CallOfAnotherCampaign", callID: "call-1", campaignID: b.camp.ID + 1, rejected: true},
		{name: "KeyOfAnotherCampaign", key: a.Key, campaignID: b.camp.ID + 1, rejected: true},
		{name: "CallWithUnknownKey", callID: "call-1", key: "cmp-zz-zz-1", campaignID: b.camp.ID, rejected: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(err error) {
				t.Helper()
				if tc.rejected {
					_, ok := errors.AsType[*campaign.EventRejectedError](err)
					require.True(t, ok, "%v", err)
					require.NotErrorIs(t, err, campaign.ErrUnknownCall)
				} else {
					require.ErrorIs(t, err, campaign.ErrUnknownCall)
				}
			}
			check(b.store.ApplyStatus(b.ctx, tc.campaignID, tc.callID, tc.key, "ended", "customer-ended-call", t0))
			applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: tc.callID, AttemptKey: tc.key,
				CampaignID: tc.campaignID, EndedReason: "customer-ended-call"}, t0)
			check(err)
			require.False(t, applied)
		})
	}
	require.Equal(t, campaign.AttemptCreated, b.attempt(t, a.ID).State, "untouched")
	_, err := b.store.Attempt(b.ctx, -1)
	require.ErrorIs(t, err, campaign.ErrAttemptNotFound)

	// Its own campaign's event is applied.
	require.NoError(t, b.store.ApplyStatus(b.ctx, b.camp.ID, "call-1", a.Key, "ended", "customer-ended-call", t0))
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: "call-1", AttemptKey: a.Key,
		CampaignID: b.camp.ID, EndedReason: "customer-ended-call"}, t0)
	require.NoError(t, err)
	require.True(t, applied)
}

func TestStaleAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 8, maxConcurrent: 8, mode: campaign.ModeService})
	b.queue(t, b.contacts...)
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	// Each attempt: begun at minute(begin); then what happened to it, at minute(at).
	type step func(a *campaign.Attempt, at time.Time)
	created := func(a *campaign.Attempt, at time.Time) {
		require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-"+a.Key, at, at))
	}
	ended := func(a *campaign.Attempt, at time.Time) {
		created(a, at)
		require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "call-"+a.Key, "", "ended", "", at))
	}
	reported := func(a *campaign.Attempt, at time.Time) {
		_, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: a.Key, EndedReason: "voicemail"}, at)
		require.NoError(t, err)
	}
	notCreated := func(a *campaign.Attempt, at time.Time) {
		require.NoError(t, b.store.CallNotCreated(b.ctx, a.ID, campaign.NotCreatedRetryable, "", "", at, at))
	}
	attempts := []struct {
		name  string
		begin int
		then  step
		at    int
	}{
		{"creatingOld", 5, nil, 0},          // 0: stale (created_at 5 < 10)
		{"creatingNew", 12, nil, 0},         // 1: too young
		{"createdOld", 1, created, 8},       // 2: stale (updated 8 < 20)
		{"createdNew", 1, created, 25},      // 3: heard from recently
		{"endedOld", 1, ended, 15},          // 4: stale (updated 15 < 20)
		{"reportedOld", 1, reported, 2},     // 5: has its result
		{"notCreatedOld", 1, notCreated, 2}, // 6: placed no call
		{"creatingOlder", 2, nil, 0},        // 7: stale (created_at 2 < 10)
	}
	ids := map[string]int64{}
	for i, a := range attempts {
		got := b.grant(t, b.contacts[i], minute(a.begin))
		if a.then != nil {
			a.then(got, minute(a.at))
		}
		ids[a.name] = got.ID
	}
	stale, err := b.store.StaleAttempts(b.ctx, 0, minute(20), minute(10), 10)
	require.NoError(t, err)
	var names []string
	for _, s := range stale {
		for name, id := range ids {
			if id == s.ID {
				names = append(names, name)
			}
		}
	}
	require.Equal(t, []string{"creatingOlder", "creatingOld", "createdOld", "endedOld"}, names, "longest waiting first")
	require.Equal(t, "+14155550107", stale[0].Phone)

	limited, err := b.store.StaleAttempts(b.ctx, 0, minute(20), minute(10), 2)
	require.NoError(t, err)
	require.Len(t, limited, 2)

	// Limited to the campaign: the same four; another campaign's id finds none.
	own, err := b.store.StaleAttempts(b.ctx, stale[0].CampaignID, minute(20), minute(10), 10)
	require.NoError(t, err)
	require.Len(t, own, 4)
	other, err := b.store.StaleAttempts(b.ctx, stale[0].CampaignID+1000, minute(20), minute(10), 10)
	require.NoError(t, err)
	require.Empty(t, other)

	// Every campaign (0) means the service's: a foreground campaign is its own process's.
	_, err = b.pool.Exec(b.ctx, `UPDATE campaign SET mode = 'foreground' WHERE id = $1`, b.camp.ID)
	require.NoError(t, err)
	none, err := b.store.StaleAttempts(b.ctx, 0, minute(20), minute(10), 10)
	require.NoError(t, err)
	require.Empty(t, none)
	own, err = b.store.StaleAttempts(b.ctx, b.camp.ID, minute(20), minute(10), 10)
	require.NoError(t, err)
	require.Len(t, own, 4)
	_, err = b.pool.Exec(b.ctx, `UPDATE campaign SET mode = 'service' WHERE id = $1`, b.camp.ID)
	require.NoError(t, err)

	// A lookup that found nothing puts a reported-pending attempt back to the end of the line.
	n, err := b.store.NoteLookup(b.ctx, ids["createdOld"], minute(21))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = b.store.NoteLookup(b.ctx, ids["createdOld"], minute(21))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, 2, b.attempt(t, ids["createdOld"]).Lookups)
	stale, err = b.store.StaleAttempts(b.ctx, 0, minute(20), minute(10), 10)
	require.NoError(t, err)
	require.Len(t, stale, 3)
	_, err = b.store.NoteLookup(b.ctx, -1, t0)
	require.ErrorIs(t, err, campaign.ErrAttemptNotFound)
}

func TestWebhookEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1})
	payload := []byte(`{"message": {"type": "status-update", "status": "ringing"}}`)
	id, err := b.store.SaveEvent(b.ctx, campaign.WebhookEvent{Type: "status-update", CallID: "call-1",
		AttemptKey: "cmp-1-2-1", Status: "ringing", Auth: "hmac", CampaignID: b.camp.ID, Payload: payload, ReceivedAt: t0})
	require.NoError(t, err)
	require.NoError(t, b.store.MarkEventApplied(b.ctx, id, "no attempt for this call", t0.Add(time.Second)))

	var (
		typ, callID, key, status, stored, applyErr string
		received, appliedAt                        time.Time
	)
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT type, vapi_call_id, attempt_key, status, payload::text, apply_error, received_at, applied_at
		FROM webhook_event WHERE id = $1`, id).Scan(&typ, &callID, &key, &status, &stored, &applyErr, &received, &appliedAt))
	require.Equal(t, []string{"status-update", "call-1", "cmp-1-2-1", "ringing", "no attempt for this call"},
		[]string{typ, callID, key, status, applyErr})
	require.JSONEq(t, string(payload), stored)
	require.True(t, t0.Equal(received))
	require.True(t, t0.Add(time.Second).Equal(appliedAt))

	// How it was authenticated, and for which campaign; then rejected, never applied.
	id, err = b.store.SaveEvent(b.ctx, campaign.WebhookEvent{Type: "end-of-call-report", CallID: "call-2",
		Auth: "campaign_secret", CampaignID: b.camp.ID, Payload: payload, ReceivedAt: t0})
	require.NoError(t, err)
	require.NoError(t, b.store.MarkEventRejected(b.ctx, id, "belongs to campaign 99"))
	var (
		auth, rejected  string
		authCampaign    *int64
		rejectedApplied *time.Time
	)
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT auth, auth_campaign_id, rejected, applied_at FROM webhook_event WHERE id = $1`, id).
		Scan(&auth, &authCampaign, &rejected, &rejectedApplied))
	require.Equal(t, []string{"campaign_secret", "belongs to campaign 99"}, []string{auth, rejected})
	require.Equal(t, &b.camp.ID, authCampaign)
	require.Nil(t, rejectedApplied)
	id, err = b.store.SaveEvent(b.ctx, campaign.WebhookEvent{Type: "status-update", Auth: "global_secret",
		Payload: payload, ReceivedAt: t0})
	require.NoError(t, err)
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT auth_campaign_id FROM webhook_event WHERE id = $1`, id).
		Scan(&authCampaign))
	require.Nil(t, authCampaign, "no campaign: NULL")

	require.ErrorIs(t, b.store.MarkEventApplied(b.ctx, -1, "", t0), campaign.ErrEventNotFound)
	require.ErrorIs(t, b.store.MarkEventRejected(b.ctx, -1, "x"), campaign.ErrEventNotFound)
	_, err = b.store.SaveEvent(b.ctx, campaign.WebhookEvent{Type: "status-update", Payload: []byte("not json"), ReceivedAt: t0})
	require.Error(t, err)
}

// TestApplyResultMeasuresLength: without a reported length, a call's duration is EndedAt -
// StartedAt on the campaign's clock: as is in a real campaign, times the time scale in a
// simulated one (the simulator stamps real times on calls that last scale times longer). A
// reported length is kept as reported.
func TestApplyResultMeasuresLength(t *testing.T) {
	t.Parallel()
	b, as := dialed(t, 3)
	started, ended := t0.Add(10*time.Second), t0.Add(12*time.Second)
	duration := func(a *campaign.Attempt) float64 {
		t.Helper()
		var d float64
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT duration_seconds FROM attempt WHERE id = $1`, a.ID).Scan(&d))
		return d
	}
	apply := func(a *campaign.Attempt, reported *float64) {
		t.Helper()
		applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: a.Key, EndedReason: "customer-ended-call",
			StartedAt: &started, EndedAt: &ended, DurationSeconds: reported}, t0.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, applied)
	}

	apply(as[0], nil)
	require.Equal(t, 2.0, duration(as[0]), "a real campaign")

	_, err := b.pool.Exec(b.ctx, `UPDATE campaign SET retry_time_scale = 60, mode = 'simulated' WHERE id = $1`, b.camp.ID)
	require.NoError(t, err)
	apply(as[1], nil)
	require.Equal(t, 120.0, duration(as[1]), "a simulated campaign at x60")

	reported := 95.5
	apply(as[2], &reported)
	require.Equal(t, reported, duration(as[2]), "a reported length")
}
