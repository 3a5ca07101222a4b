package campaign_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestRouteWebhooks(t *testing.T) {
	const public = "https://hooks.example.com"
	asst := campaign.ServerURLs{Assistant: "https://crm.example.com/vapi"}
	phone := campaign.ServerURLs{PhoneNumber: "https://crm.example.com/vapi"}
	for _, tc := range []struct {
		name   string
		mode   campaign.WebhookMode
		public string
		own    campaign.ServerURLs
		route  bool
	}{
		{"auto, no server of their own", campaign.WebhooksAuto, public, campaign.ServerURLs{}, true},
		{"auto, the assistant has one", campaign.WebhooksAuto, public, asst, false},
		{"auto, the phone number has one", campaign.WebhooksAuto, public, phone, false},
		{"auto, no public URL", campaign.WebhooksAuto, "", campaign.ServerURLs{}, false},
		{"override replaces the assistant's", campaign.WebhooksOverride, public, asst, true},
		{"override without a public URL", campaign.WebhooksOverride, "", asst, false},
		{"poll never routes", campaign.WebhooksPoll, public, campaign.ServerURLs{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.route, campaign.RouteWebhooks(tc.mode, tc.public, tc.own))
		})
	}
}

func TestParseWebhookMode(t *testing.T) {
	for in, want := range map[string]campaign.WebhookMode{"": campaign.WebhooksAuto, "auto": campaign.WebhooksAuto,
		"override": campaign.WebhooksOverride, "poll": campaign.WebhooksPoll} {
		got, err := campaign.ParseWebhookMode(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := campaign.ParseWebhookMode("relay")
	require.ErrorContains(t, err, "want auto, override or poll")
}
