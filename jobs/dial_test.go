package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestLocalLimiters(t *testing.T) {
	ctx := context.Background()
	var l localLimiters
	slow := &campaign.Campaign{ID: 1, Settings: campaign.Settings{RatePerSecond: 0.1}}

	snooze, err := l.wait(ctx, slow)
	require.NoError(t, err)
	require.Zero(t, snooze, "the first call goes at once")
	snooze, err = l.wait(ctx, slow)
	require.NoError(t, err)
	require.Greater(t, snooze, maxInlineWait, "at 0.1/s the next call is ~10 s away: snooze, do not hold a worker")
	require.LessOrEqual(t, snooze, 10*time.Second)

	unlimited := &campaign.Campaign{ID: 2}
	for range 100 {
		snooze, err := l.wait(ctx, unlimited)
		require.NoError(t, err)
		require.Zero(t, snooze, "rate 0 means no local limit")
	}

	// A changed rate applies to the campaign's limiter.
	slow.RatePerSecond = 0
	snooze, err = l.wait(ctx, slow)
	require.NoError(t, err)
	require.Zero(t, snooze)
}
