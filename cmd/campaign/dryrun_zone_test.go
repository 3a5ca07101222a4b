package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

// TestDryRunReportsZonesThatDoNotLoad: stored contacts whose zone this machine does not know
// are reported as the runner will treat them (failed with invalid_time_zone, never called),
// not an error that stops the dry run; the other zones are reported as usual.
func TestDryRunReportsZonesThatDoNotLoad(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Pool(t)
	store := campaign.NewStore(pool)
	reader, err := campaign.NewReader(strings.NewReader("phone\n+14155550100\n+14155550101\n"), campaign.ReaderOptions{DefaultRegion: "US"})
	require.NoError(t, err)
	c, err := store.Import(ctx, campaign.NewCampaign{Name: "zones", Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", MaxConcurrent: 1, MaxAttempts: 1,
	}}, campaign.ImportInput{Reader: reader})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE contact SET time_zones = '{Mars/Olympus}'
		WHERE id = (SELECT min(id) FROM contact WHERE campaign_id = $1)`, c.ID)
	require.NoError(t, err)

	now := time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)
	r, err := buildDryRunReport(ctx, store, c, campaign.AlwaysOpen(), 0, now)
	require.NoError(t, err)
	require.Len(t, r.TimeZones, 1, "only the zones that load have a first callable time")
	require.Equal(t, []string{"America/Los_Angeles"}, r.TimeZones[0].TimeZones)
	require.True(t, r.TimeZones[0].CallableNow)
	require.Len(t, r.Warnings, 1)
	require.Contains(t, r.Warnings[0], "Mars/Olympus")
	require.Contains(t, r.Warnings[0], string(campaign.OutcomeInvalidTimeZone))
}
