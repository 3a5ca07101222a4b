package jobs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestDecide(t *testing.T) {
	// Monday 2026-11-23 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles, 00:00 in Tokyo.
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		window string
		zones  []string
		want   campaign.Decision
	}{
		{"open", "09:00-20:00", []string{"America/New_York"}, campaign.Decision{Queue: true}},
		{"always", "always", []string{"Asia/Tokyo"}, campaign.Decision{Queue: true}},
		{"before opening: deferred to 09:00 local", "09:00-20:00", []string{"America/Los_Angeles"},
			campaign.Decision{DeferUntil: time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)}},
		{"both zones must be open", "09:00-20:00", []string{"America/New_York", "America/Los_Angeles"},
			campaign.Decision{DeferUntil: time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)}},
		{"zones that never share an hour fail the contact", "09:00-12:00", []string{"America/New_York", "Asia/Tokyo"},
			campaign.Decision{FailOutcome: "no_calling_window"}},
		{"unknown zone", "09:00-20:00", []string{"Mars/Base"}, campaign.Decision{FailOutcome: "invalid_time_zone"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &campaign.Campaign{Settings: campaign.Settings{WindowSpec: tc.window}}
			got := decide(c, &campaign.Contact{TimeZones: tc.zones}, now)
			require.Equal(t, tc.want.Queue, got.Queue)
			require.Equal(t, tc.want.FailOutcome, got.FailOutcome)
			require.True(t, tc.want.DeferUntil.Equal(got.DeferUntil), "defer until %v, want %v", got.DeferUntil, tc.want.DeferUntil)
		})
	}
}
