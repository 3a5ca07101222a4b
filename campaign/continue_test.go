package campaign_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestContinueCommand(t *testing.T) {
	routed := func(mode campaign.Mode) *campaign.Campaign {
		return &campaign.Campaign{Name: "nov", Mode: mode, Settings: campaign.Settings{AssistantID: "a", PhoneNumberID: "p"}}
	}
	for _, tt := range []struct {
		name     string
		c        *campaign.Campaign
		orphaned bool
		want     string
	}{
		{"paused", routed(campaign.ModeForeground), false, "campaign resume nov"},
		{"paused service", routed(campaign.ModeService), false, "campaign resume nov"},
		{"simulated", routed(campaign.ModeSimulated), false, "campaign resume nov --simulate"},
		{"simulated without an assistant", &campaign.Campaign{Name: "nov", Mode: campaign.ModeSimulated}, false,
			"campaign resume nov --simulate"},
		{"draft without an assistant", &campaign.Campaign{Name: "nov", Mode: campaign.ModeForeground}, false,
			"campaign resume nov --assistant-id ID --phone-number-id ID (or --simulate)"},
		{"without a phone number", &campaign.Campaign{Name: "nov", Settings: campaign.Settings{AssistantID: "a"}}, false,
			"campaign resume nov --assistant-id ID --phone-number-id ID (or --simulate)"},
		{"orphaned", routed(campaign.ModeForeground), true, "campaign resume nov (or campaign serve --adopt-orphans)"},
		{"orphaned service", routed(campaign.ModeService), true, "start campaign serve, or: campaign resume nov"},
		{"orphaned simulated", routed(campaign.ModeSimulated), true, "campaign resume nov --simulate"},
		{"orphaned, only name and mode known", &campaign.Campaign{Name: "nov", Mode: campaign.ModeForeground}, true,
			"campaign resume nov (or campaign serve --adopt-orphans)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, campaign.ContinueCommand(tt.c, tt.orphaned))
		})
	}
}
