package campaign_test

import (
	"fmt"
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

func TestListCampaignsPage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2})
	// Four more campaigns beside b's running one: paused by an operator, paused by the budget,
	// a draft, and one running with a live serve process.
	ids := []int64{b.camp.ID}
	for i := range 4 {
		r, err := campaign.NewReader(strings.NewReader("phone\n+14155550199\n"), campaign.ReaderOptions{})
		require.NoError(t, err)
		c, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: fmt.Sprintf("more-%d", i), Mode: campaign.ModeService,
			Settings: campaign.Settings{WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", MaxConcurrent: 1 + i,
				RatePerSecond: 0.5, MaxAttempts: 1, RetryPolicy: "none"}}, campaign.ImportInput{Reader: r})
		require.NoError(t, err)
		ids = append(ids, c.ID)
		if i != 2 {
			require.NoError(t, b.store.Start(b.ctx, c.ID, t0))
		}
	}
	require.NoError(t, b.store.Pause(b.ctx, ids[1], t0))
	require.NoError(t, b.store.Pause(b.ctx, ids[2], t0))
	_, err := b.pool.Exec(b.ctx, `UPDATE campaign SET paused_reason = $2 WHERE id = $1`, ids[2], campaign.PauseBudget)
	require.NoError(t, err)
	// b's campaign is foreground and has no runner (orphaned); the last is the service's, and a
	// serve process runs it.
	require.NoError(t, b.store.AcquireLease(b.ctx, campaign.Runner{ID: "serve-a", Mode: campaign.ModeService, Host: "h", PID: 1}, time.Hour))

	page := func(p campaign.ListPage) []int64 {
		t.Helper()
		list, err := b.store.ListCampaignsPage(b.ctx, p)
		require.NoError(t, err)
		var got []int64
		for _, c := range list {
			got = append(got, c.ID)
		}
		return got
	}
	all, err := b.store.ListCampaigns(b.ctx)
	require.NoError(t, err)
	require.Len(t, all, 5)
	require.Equal(t, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}, page(campaign.ListPage{}), "newest first")
	require.Equal(t, 4, all[0].MaxConcurrent, "the pacing of each (more-3's)")
	require.Equal(t, 0.5, all[0].RatePerSecond)
	require.NotNil(t, all[0].StartedAt)
	require.Nil(t, all[0].FinishedAt)

	// Keyset pages of two, to the end.
	var seen []int64
	p := campaign.ListPage{Limit: 2}
	for {
		list, err := b.store.ListCampaignsPage(b.ctx, p)
		require.NoError(t, err)
		for _, c := range list {
			seen = append(seen, c.ID)
		}
		if len(list) < 2 {
			break
		}
		p.After = &list[len(list)-1]
	}
	require.Equal(t, page(campaign.ListPage{}), seen)

	require.Equal(t, []int64{ids[2], ids[1]}, page(campaign.ListPage{Filter: campaign.ListFilter(campaign.StatusPaused)}))
	require.Equal(t, []int64{ids[2]}, page(campaign.ListPage{Filter: campaign.ListPausedBudget}))
	require.Equal(t, []int64{ids[3]}, page(campaign.ListPage{Filter: campaign.ListFilter(campaign.StatusDraft)}))
	require.Equal(t, []int64{ids[0]}, page(campaign.ListPage{Filter: campaign.ListOrphaned}), "running with no runner")
	require.Equal(t, []int64{ids[4], ids[0]}, page(campaign.ListPage{Filter: campaign.ListFilter(campaign.StatusRunning)}))
	_, err = b.store.ListCampaignsPage(b.ctx, campaign.ListPage{Filter: "nonsense"})
	require.ErrorContains(t, err, `unknown campaign filter "nonsense"`)
}

func TestNextDial(t *testing.T) {
	t.Parallel()
	later, earlier := t0.Add(time.Hour), t0.Add(-time.Minute)
	for _, tc := range []struct {
		name    string
		c       campaign.Campaign
		p       campaign.Progress
		x       campaign.StatusExtras
		wantAt  *time.Time
		wantNow bool
	}{
		{"ScheduledStart", campaign.Campaign{Status: campaign.StatusScheduled, Settings: campaign.Settings{StartAt: &later}},
			campaign.Progress{}, campaign.StatusExtras{DueNow: 3}, &later, false},
		{"DueNow", campaign.Campaign{Status: campaign.StatusRunning}, campaign.Progress{}, campaign.StatusExtras{DueNow: 1}, nil, true},
		{"Queued", campaign.Campaign{Status: campaign.StatusRunning},
			campaign.Progress{ByState: map[campaign.ContactState]int{campaign.ContactQueued: 1}}, campaign.StatusExtras{}, nil, true},
		{"DuePast", campaign.Campaign{Status: campaign.StatusRunning}, campaign.Progress{NextDue: &earlier}, campaign.StatusExtras{}, nil, true},
		{"DueLater", campaign.Campaign{Status: campaign.StatusRunning}, campaign.Progress{NextDue: &later}, campaign.StatusExtras{}, &later, false},
		{"NothingWaits", campaign.Campaign{Status: campaign.StatusRunning}, campaign.Progress{}, campaign.StatusExtras{}, nil, false},
	} {
		at, now := campaign.NextDial(&tc.c, tc.p, tc.x, t0)
		require.Equal(t, tc.wantAt, at, tc.name)
		require.Equal(t, tc.wantNow, now, tc.name)
	}
}
