// Package jobs places and tracks the calls of running campaigns: River job arguments and
// workers, the mapping of errors to River's control flow, the dispatcher and the reconciler.
package jobs

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
// campaign's secret; all of it where Vapi takes it for the contact's target, its row's own or
// else the campaign's (see setTarget and Campaign.ContactSettings), from the row's own caller
// number or else the campaign's first (the dialer sends the one its attempt recorded). The dry run shows exactly
// this body and the dialer sends exactly this body.
func CreateCallRequest(c *campaign.Campaign, ct *campaign.Contact, attempt int) (*vapi.CreateCallDTO, error) {
	key := campaign.AttemptKey(c.ID, ct.ID, attempt)
	settings, err := c.ContactSettings(ct)
	if err != nil {
		return nil, err
	}
	caller, err := c.RowPhoneNumber(ct) // the row's own number, else the campaign's
	if err != nil {
		return nil, err
	}
	merged, err := MergeOverrides(c.Overrides, c.RowOverrides(ct))
	if err != nil {
		return nil, err
	}
	overrides := &vapi.AssistantOverrides{}
	if len(merged) > 0 {
		if err := json.Unmarshal(merged, overrides); err != nil {
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

	if kind, _ := settings.Target(); c.PublicURL != "" && !c.KeepServer && kind != campaign.TargetWorkflow {
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

	dto := &vapi.CreateCallDTO{
		Name:          key,
		PhoneNumberID: cmp.Or(caller, c.PhoneNumberID),
		Customer: &vapi.CreateCustomerDTO{
			Number:     ct.Phone,
			Name:       ct.Name,
			ExternalID: key,
		},
	}
	return dto, setTarget(dto, &settings, overrides)
}

// setTarget puts what places the call into dto with the overrides where Vapi takes them for it:
// assistantOverrides for a saved or transient assistant, squadOverrides (the same schema,
// applied to every member) for a squad. A workflow takes only variableValues
// (workflowOverrides): its calls carry no metadata and no server, so their results are polled
// (the pre-flight keeps the server for them) and found by the attempt key in name.
func setTarget(dto *vapi.CreateCallDTO, s *campaign.Settings, overrides *vapi.AssistantOverrides) error {
	kind, id := s.Target()
	switch kind {
	case campaign.TargetNone, campaign.TargetAssistant:
		dto.AssistantID, dto.AssistantOverrides = id, overrides
	case campaign.TargetInlineAssistant:
		dto.Assistant, dto.AssistantOverrides = s.Assistant, overrides
	case campaign.TargetSquad:
		dto.SquadID, dto.SquadOverrides = id, overrides
	case campaign.TargetWorkflow:
		if err := workflowOverridable(overrides); err != nil {
			return err
		}
		dto.WorkflowID = id
		dto.WorkflowOverrides = &vapi.WorkflowOverrides{VariableValues: overrides.VariableValues}
	default:
		return fmt.Errorf("campaign target: unknown kind %q", kind)
	}
	return nil
}

// MergeOverrides deep-merges a contact's own assistantOverrides JSON object (row, from the
// campaign's overrides column) over the campaign's: objects merge key by key, recursively,
// and anything else the row gives (arrays, scalars, null) replaces the campaign's value. Either
// may be empty; the result is the campaign's own bytes when the row has nothing.
func MergeOverrides(campaignOverrides, row json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(row)) == 0 {
		return campaignOverrides, nil
	}
	base := map[string]any{}
	if len(bytes.TrimSpace(campaignOverrides)) > 0 {
		if err := decodeNumbers(campaignOverrides, &base); err != nil {
			return nil, fmt.Errorf("campaign overrides: %w", err)
		}
	}
	var top map[string]any
	if err := decodeNumbers(row, &top); err != nil || top == nil {
		return nil, errors.New("contact overrides: not a JSON object")
	}
	merged, err := json.Marshal(deepMerge(base, top))
	if err != nil {
		return nil, fmt.Errorf("merge overrides: %w", err)
	}
	return merged, nil
}

// decodeNumbers decodes JSON keeping numbers as written (json.Number), so a merge does not
// round them through float64.
func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// deepMerge merges top over base (both are modified and shared): see MergeOverrides.
func deepMerge(base, top map[string]any) map[string]any {
	for k, v := range top {
		if sub, ok := v.(map[string]any); ok {
			if under, ok := base[k].(map[string]any); ok {
				base[k] = deepMerge(under, sub)
				continue
			}
		}
		base[k] = v
	}
	return base
}

// CheckOverrides reports overrides the campaign's target cannot take (a workflow takes only
// variableValues), so a run refuses them before it dials rather than at the first call.
func CheckOverrides(s *campaign.Settings) error {
	overrides := &vapi.AssistantOverrides{}
	if len(s.Overrides) > 0 {
		if err := json.Unmarshal(s.Overrides, overrides); err != nil {
			return fmt.Errorf("campaign overrides: %w", err)
		}
	}
	return setTarget(&vapi.CreateCallDTO{}, s, overrides)
}

// workflowOverridable refuses overrides a workflow call cannot carry: anything but variables
// (the --overrides file's, the runner's metadata aside) or a server the runner was to route to.
func workflowOverridable(o *vapi.AssistantOverrides) error {
	if len(o.Extra) > 0 {
		keys := slices.Sorted(maps.Keys(o.Extra))
		return fmt.Errorf("campaign overrides: a workflow call takes only variableValues, not %s", strings.Join(keys, ", "))
	}
	if o.Server != nil {
		return errors.New("campaign overrides: a workflow call carries no server; its results are polled")
	}
	return nil
}
