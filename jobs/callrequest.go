// Package jobs places and tracks the calls of running campaigns: River job arguments and
// workers, the mapping of errors to River's control flow, the dispatcher and the reconciler.
package jobs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
)

// WebhookPath is the path of the webhook receiver under the campaign's public URL.
const WebhookPath = "/vapi/webhook"

// WebhookSecretHeader carries the campaign's webhook secret on every server message, the
// header Vapi itself uses for its legacy shared secret.
const WebhookSecretHeader = "X-Vapi-Secret"

// CampaignVariable is the template variable every call carries with its campaign's name, so
// Vapi's analytics can group calls by campaign (groupByVariableValue).
const CampaignVariable = "_campaign"

// Webhook delivery settings asked of Vapi: by default it does not retry a failed delivery, and
// a lost end-of-call report is a lost result.
const (
	webhookTimeoutSeconds   = 20
	webhookMaxRetries       = 5
	webhookBaseDelaySeconds = 2
)

// WebhookURL is the webhook receiver's URL under a public URL given either as the base
// (https://host) or as the receiver's full URL (https://host/vapi/webhook).
func WebhookURL(publicURL string) string {
	base := strings.TrimRight(publicURL, "/")
	base = strings.TrimRight(strings.TrimSuffix(base, WebhookPath), "/")
	return base + WebhookPath
}

// serverMessages is the serverMessages list of a call that carries the runner's server: the
// user's own list (the overrides', else the assistant's) plus the two the runner needs.
func serverMessages(overridden []vapi.ServerMessageType, assistant []string) []vapi.ServerMessageType {
	out := slices.Clone(overridden)
	if len(out) == 0 {
		for _, m := range assistant {
			out = append(out, vapi.ServerMessageType(m))
		}
	}
	for _, need := range []vapi.ServerMessageType{vapi.ServerMessageTypeStatusUpdate, vapi.ServerMessageTypeEndOfCallReport} {
		if !slices.Contains(out, need) {
			out = append(out, need)
		}
	}
	return out
}

// CreateCallRequest builds the POST /call body of a contact's n-th attempt: the attempt key
// as the call's name and customer.externalId; the campaign's overrides, with the row's
// variables on top; the campaign, contact and attempt ids in metadata; and, when the campaign
// has a public URL and does not keep the assistant's server, the webhook routing with the
// campaign's secret. The dry run shows exactly
// this body and the dialer sends exactly this body.
func CreateCallRequest(c *campaign.Campaign, ct *campaign.Contact, attempt int) (*vapi.CreateCallDTO, error) {
	key := campaign.AttemptKey(c.ID, ct.ID, attempt)
	overrides := &vapi.AssistantOverrides{}
	if len(c.Overrides) > 0 {
		if err := json.Unmarshal(c.Overrides, overrides); err != nil {
			return nil, fmt.Errorf("campaign overrides: %w", err)
		}
	}

	vars := make(map[string]any, len(overrides.VariableValues)+len(c.VariableColumns)+1)
	for k, v := range overrides.VariableValues {
		vars[k] = v
	}
	for k, v := range c.Variables(ct) {
		vars[k] = v
	}
	vars[CampaignVariable] = c.Name
	overrides.VariableValues = vars

	meta := make(map[string]any, len(overrides.Metadata)+4)
	for k, v := range overrides.Metadata {
		meta[k] = v
	}
	meta["campaign_id"] = c.ID
	meta["contact_id"] = ct.ID
	meta["attempt"] = attempt
	meta["attempt_key"] = key
	overrides.Metadata = meta

	if c.PublicURL != "" && !c.KeepServer {
		server := overrides.Server
		if server == nil {
			server = &vapi.Server{}
		}
		server.URL = WebhookURL(c.PublicURL)
		headers := make(map[string]string, len(server.Headers)+1)
		for k, v := range server.Headers {
			headers[k] = v
		}
		headers[WebhookSecretHeader] = c.WebhookSecret
		server.Headers = headers
		if server.TimeoutSeconds == 0 {
			server.TimeoutSeconds = webhookTimeoutSeconds
		}
		if server.BackoffPlan == nil {
			server.BackoffPlan = &vapi.BackoffPlan{
				Type:             vapi.BackoffTypeExponential,
				MaxRetries:       webhookMaxRetries,
				BaseDelaySeconds: webhookBaseDelaySeconds,
			}
		}
		overrides.Server = server
		overrides.ServerMessages = serverMessages(overrides.ServerMessages, c.ServerMessages)
	}

	return &vapi.CreateCallDTO{
		Name:               key,
		AssistantID:        c.AssistantID,
		PhoneNumberID:      c.PhoneNumberID,
		AssistantOverrides: overrides,
		Customer: &vapi.CreateCustomerDTO{
			Number:     ct.Phone,
			Name:       ct.Name,
			ExternalID: key,
		},
	}, nil
}
