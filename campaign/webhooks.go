package campaign

import (
	"context"
	"fmt"
	"time"
)

// WebhookMode is the user's choice of how a campaign's results reach the runner (--webhooks).
type WebhookMode string

// Webhook modes.
const (
	// WebhooksAuto routes the calls' server messages to the runner's public URL only when neither
	// the assistant nor the phone number has a server URL of its own; else results are polled.
	WebhooksAuto WebhookMode = "auto"
	// WebhooksOverride always routes them to the runner, replacing the assistant's server for
	// the campaign's calls.
	WebhooksOverride WebhookMode = "override"
	// WebhooksPoll never sets a server on the calls: results are read from Vapi by polling.
	WebhooksPoll WebhookMode = "poll"
)

// ParseWebhookMode reads a --webhooks value; "" is WebhooksAuto.
func ParseWebhookMode(s string) (WebhookMode, error) {
	switch m := WebhookMode(s); m {
	case "":
		return WebhooksAuto, nil
	case WebhooksAuto, WebhooksOverride, WebhooksPoll:
		return m, nil
	}
	return "", fmt.Errorf("%q: want auto, override or poll", s)
}

// ServerURLs are the server URLs Vapi would send a campaign's server messages to without the
// runner ("" = none): the assistant's (the campaign's assistantOverrides.server, else the saved
// assistant's) and the phone number's. An organization's own server URL is not readable.
type ServerURLs struct {
	Assistant   string
	PhoneNumber string
}

// RouteWebhooks decides whether a campaign's calls carry the runner's server (its public URL)
// and so replace the server URLs Vapi would otherwise use. Without a public URL nothing is
// routed; WebhooksAuto routes only when neither the assistant nor the phone number has a
// server URL, so the user's own server keeps receiving what it receives today.
func RouteWebhooks(mode WebhookMode, publicURL string, own ServerURLs) bool {
	switch {
	case publicURL == "", mode == WebhooksPoll:
		return false
	case mode == WebhooksOverride:
		return true
	}
	return own.Assistant == "" && own.PhoneNumber == ""
}

// SetWebhookRouting stores the pre-flight's decision: whether the campaign's calls keep the
// assistant's server (results are then polled) and the assistant's own serverMessages, which the
// calls that carry the runner's server keep asking for.
func (s *Store) SetWebhookRouting(ctx context.Context, campaignID int64, keepServer bool, serverMessages []string, now time.Time) error {
	if serverMessages == nil {
		serverMessages = []string{}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE campaign SET keep_server = $2, server_messages = $3, updated_at = $4 WHERE id = $1`,
		campaignID, keepServer, serverMessages, now)
	if err != nil {
		return fmt.Errorf("set webhook routing: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
	}
	return nil
}
