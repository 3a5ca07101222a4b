package campaign_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestLiveCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 5, maxConcurrent: 5, mode: campaign.ModeService})
	b.queueAll(t)
	// Five attempts: one ended with its result, one ended by its status-update with its result
	// still to come, one not created, two live (one created before t0, one after).
	ended := b.grant(t, b.contacts[0], t0.Add(-2*time.Minute))
	require.NoError(t, b.store.CallCreated(b.ctx, ended.ID, "call-ended", t0, t0))
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: "call-ended", EndedReason: "customer-ended-call"}, t0)
	require.NoError(t, err)
	require.True(t, applied)
	notCreated := b.grant(t, b.contacts[1], t0.Add(-2*time.Minute))
	require.NoError(t, b.store.CallNotCreated(b.ctx, notCreated.ID, campaign.NotCreatedPermanent, "", "vapi 400", time.Time{}, t0))
	before := b.grant(t, b.contacts[2], t0.Add(-time.Minute))
	require.NoError(t, b.store.CallCreated(b.ctx, before.ID, "call-before", t0, t0))
	b.grant(t, b.contacts[3], t0.Add(time.Minute)) // creating
	statusOnly := b.grant(t, b.contacts[4], t0.Add(-2*time.Minute))
	require.NoError(t, b.store.CallCreated(b.ctx, statusOnly.ID, "call-status-only", t0, t0))
	require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "call-status-only", "", "ended", "customer-ended-call", t0))

	// Other campaigns: a paused one (listed, with no live call), a draft (left out).
	paused := importLiveCallsCampaign(t, b, "paused")
	require.NoError(t, b.store.Start(b.ctx, paused.ID, t0))
	require.NoError(t, b.store.Pause(b.ctx, paused.ID, t0))
	importLiveCallsCampaign(t, b, "draft")

	all, err := b.store.LiveCalls(b.ctx, time.Time{})
	require.NoError(t, err)
	require.Equal(t, []campaign.CampaignLiveCalls{
		// Running in the service with no serve process: orphaned.
		{ID: b.camp.ID, Name: "test", Mode: campaign.ModeService, Status: campaign.StatusRunning, Live: 2, Unreported: 3, Orphaned: true},
		{ID: paused.ID, Name: "paused", Mode: campaign.ModeForeground, Status: campaign.StatusPaused, Live: 0, Unreported: 0},
	}, all)
	// A serve process covers it.
	require.NoError(t, b.store.AcquireLease(b.ctx, campaign.Runner{ID: "serve-1", Mode: campaign.ModeService, Host: "h", PID: 1}, time.Hour))
	all, err = b.store.LiveCalls(b.ctx, time.Time{})
	require.NoError(t, err)
	require.False(t, all[0].Orphaned)

	inFlight, err := b.store.LiveCalls(b.ctx, t0)
	require.NoError(t, err)
	require.Len(t, inFlight, 2)
	require.Equal(t, 1, inFlight[0].Live, "only the call created before t0")
	require.Equal(t, 2, inFlight[0].Unreported, "the calls created before t0, ended or not, without their results")

	// A cancelled campaign with a call still live stays listed until the call ends.
	_, err = b.store.Cancel(b.ctx, b.camp.ID, t0)
	require.NoError(t, err)
	all, err = b.store.LiveCalls(b.ctx, time.Time{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, campaign.StatusCancelled, all[0].Status)
	require.Equal(t, 2, all[0].Live)
}

// importLiveCallsCampaign imports a one-contact draft campaign named name.
func importLiveCallsCampaign(t *testing.T, b *testBundle, name string) *campaign.Campaign {
	t.Helper()
	r, err := campaign.NewReader(strings.NewReader("phone\n+14155550199\n"), campaign.ReaderOptions{})
	require.NoError(t, err)
	c, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: name, Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", MaxConcurrent: 1, MaxAttempts: 1,
		RetryPolicy: "none",
	}}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	return c
}
