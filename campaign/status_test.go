package campaign_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestListCampaignsAndStatusExtras(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 5, maxConcurrent: 5})
	b.queueAll(t)
	as := make([]*campaign.Attempt, 4)
	// Four attempts: two ten minutes ago (outside the 5-minute rate window), two a minute ago.
	for i := range as {
		at := t0.Add(-10 * time.Minute)
		if i >= 2 {
			at = t0.Add(-time.Minute)
		}
		as[i] = b.grant(t, b.contacts[i], at)
	}
	cost := 0.25
	require.NoError(t, b.store.CallCreated(b.ctx, as[0].ID, "call-0", t0, t0))
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: "call-0", EndedReason: "customer-ended-call", Cost: &cost}, t0)
	require.NoError(t, err)
	require.True(t, applied)
	require.NoError(t, b.store.CallCreated(b.ctx, as[1].ID, "call-1", t0, t0)) // live
	require.NoError(t, b.store.CallNotCreated(b.ctx, as[2].ID, campaign.NotCreatedPermanent, "", "vapi 400: bad number", time.Time{}, t0))
	require.NoError(t, b.store.CallNotCreated(b.ctx, as[3].ID, campaign.NotCreatedRetryable, "", "vapi 503", t0.Add(time.Hour), t0))
	// Webhook events: one failed to apply for this campaign's call, one "unknown call", one
	// failed for a call of no campaign (not counted), one applied fine.
	for _, e := range []struct{ call, key, applyErr string }{
		{"call-1", "", "deadlock detected"},
		{"call-0", "", "unknown call"},
		{"", as[1].Key, "timeout"},
		{"call-x", "", "boom"},
		{"call-0", "", ""},
	} {
		id, err := b.store.SaveEvent(b.ctx, campaign.WebhookEvent{Type: "status-update", CallID: e.call, AttemptKey: e.key,
			Status: "ended", Payload: []byte(`{}`), ReceivedAt: t0})
		require.NoError(t, err)
		require.NoError(t, b.store.MarkEventApplied(b.ctx, id, e.applyErr, t0))
	}

	// Rejected events: one authenticated for this campaign naming another's call, one for
	// another campaign naming this campaign's call (both counted), one of neither (not counted).
	for _, e := range []struct {
		call       string
		campaignID int64
	}{{"call-of-another", b.camp.ID}, {"call-1", b.camp.ID + 1000}, {"call-y", b.camp.ID + 1000}} {
		id, err := b.store.SaveEvent(b.ctx, campaign.WebhookEvent{Type: "end-of-call-report", CallID: e.call,
			CampaignID: e.campaignID, Auth: "campaign_secret", Payload: []byte(`{}`), ReceivedAt: t0})
		require.NoError(t, err)
		require.NoError(t, b.store.MarkEventRejected(b.ctx, id, "names an attempt of another campaign"))
	}

	x, err := b.store.StatusExtras(b.ctx, b.camp.ID, t0, 5*time.Minute, 5)
	require.NoError(t, err)
	require.Equal(t, 2, x.RejectedEvents)
	require.InDelta(t, 2.0/300, x.RecentRate, 1e-9)
	// Contact 4 was never dialed (queued, not pending); contact 3 waits for its retry in an hour.
	require.Zero(t, x.DueNow)
	require.Equal(t, []campaign.ErrorCount{{Error: "vapi 400: bad number", Count: 1}, {Error: "vapi 503", Count: 1}}, x.Errors)
	require.Equal(t, 2, x.ErroredAttempts)
	require.Equal(t, 2, x.EventErrors)

	top1, err := b.store.StatusExtras(b.ctx, b.camp.ID, t0.Add(2*time.Hour), 5*time.Minute, 1)
	require.NoError(t, err)
	require.Zero(t, top1.RecentRate)
	require.Equal(t, 1, top1.DueNow, "the retry is due")
	require.Len(t, top1.Errors, 1)
	require.Equal(t, 2, top1.ErroredAttempts)

	_, err = b.store.StatusExtras(b.ctx, -1, t0, time.Minute, 5)
	require.ErrorIs(t, err, campaign.ErrNotFound)

	// A second, newer campaign without contacts' attempts comes first.
	_, err = b.pool.Exec(b.ctx, `UPDATE campaign SET created_at = $2 WHERE id = $1`, b.camp.ID, t0.Add(-time.Hour))
	require.NoError(t, err)
	r, err := campaign.NewReader(strings.NewReader("phone\n+14155550999\n"), campaign.ReaderOptions{})
	require.NoError(t, err)
	other, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: "other", Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", RatePerSecond: 1, MaxConcurrent: 1, MaxAttempts: 1,
	}}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)

	list, err := b.store.ListCampaigns(b.ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, other.ID, list[0].ID)
	require.Equal(t, "other", list[0].Name)
	require.Equal(t, campaign.StatusDraft, list[0].Status)
	require.Equal(t, 1, list[0].Contacts)
	require.Zero(t, list[0].Final)
	require.Zero(t, list[0].Live)
	require.Zero(t, list[0].Cost)

	got := list[1]
	require.Equal(t, b.camp.ID, got.ID)
	require.Equal(t, campaign.StatusRunning, got.Status)
	require.Equal(t, 5, got.Contacts)
	require.Equal(t, 2, got.Final, "completed + failed permanent")
	require.Equal(t, 1, got.Live)
	require.InDelta(t, 0.25, got.Cost, 1e-9)
	require.True(t, t0.Add(-time.Hour).Equal(got.CreatedAt))
}

func TestStatusEnded(t *testing.T) {
	t.Parallel()
	for s, want := range map[campaign.Status]bool{
		campaign.StatusDraft: false, campaign.StatusRunning: false, campaign.StatusPaused: false,
		campaign.StatusCompleted: true, campaign.StatusCancelled: true, campaign.StatusFailed: true,
	} {
		require.Equal(t, want, s.Ended(), "%s", s)
	}
}
