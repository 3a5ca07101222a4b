package jobs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// Defaults of the pre-dial checker.
const (
	// DefaultPredialTimeout bounds one pre-dial check: connection, request and answer.
	DefaultPredialTimeout = 5 * time.Second
	// DefaultPredialConcurrency bounds the pre-dial checks one process has in flight at once.
	DefaultPredialConcurrency = 8
	// maxPredialAnswer bounds the answer body read.
	maxPredialAnswer = 64 << 10
)

// PredialRequest is the JSON body POSTed to a campaign's pre-dial hook (--predial-url) before
// each dial, with the campaign's webhook secret in the WebhookSecretHeader header. It has the
// shape of the "campaign.predial" server message of Vapi's own Campaigns ({"message": {"type",
// "campaignId", "contact": {"id", "campaignId", "number", "name"}}}), so a hook written for
// those answers ours unchanged; the other fields are ours, added beside Vapi's.
type PredialRequest struct {
	Message PredialMessage `json:"message"`
}

// PredialTypeMessage is PredialMessage.Type: the type of Vapi's pre-dial server message.
const PredialTypeMessage = "campaign.predial"

// PredialMessage is the message of a PredialRequest.
type PredialMessage struct {
	// Type is always PredialTypeMessage.
	Type string `json:"type"`
	// CampaignID is the campaign's id, as text (Vapi's ids are strings).
	CampaignID   string `json:"campaignId"`
	CampaignName string `json:"campaignName"`
	// Attempt is the number of the counted attempt this dial would be: 1 for the first call.
	Attempt int            `json:"attempt"`
	Contact PredialContact `json:"contact"`
}

// PredialContact is the contact a PredialRequest asks about.
type PredialContact struct {
	// ID and CampaignID are the contact's and its campaign's ids, as text.
	ID         string `json:"id"`
	CampaignID string `json:"campaignId"`
	// Number is the contact's phone number, E.164.
	Number     string `json:"number"`
	Name       string `json:"name"`
	ExternalID string `json:"externalId"`
	// Variables are the contact's template variables (column → cell).
	Variables map[string]string `json:"variables"`
}

// PredialAnswer is the hook's answer. Eligible must be present: an answer without it is no
// answer.
type PredialAnswer struct {
	Eligible *bool  `json:"eligible"`
	Reason   string `json:"reason"`
}

// PredialResult is what a pre-dial check came to, for an Observer.
type PredialResult string

// Pre-dial results.
const (
	// PredialEligible: the hook said to dial.
	PredialEligible PredialResult = "eligible"
	// PredialIneligible: the hook said not to dial.
	PredialIneligible PredialResult = "ineligible"
	// PredialError: no usable answer (timeout, connection error, non-2xx, a body that does not
	// say); the contact is not dialed (fail-closed).
	PredialError PredialResult = "error"
)

// PredialResults lists every PredialResult.
func PredialResults() []PredialResult {
	return []PredialResult{PredialEligible, PredialIneligible, PredialError}
}

// Predial asks campaigns' pre-dial hooks whether a contact may be dialed. It bounds each check
// with a timeout and the checks in flight in the process with a semaphore. Safe for concurrent
// use.
type Predial struct {
	client *http.Client
	sem    chan struct{}
}

// NewPredial returns a checker whose checks time out after timeout (0: DefaultPredialTimeout)
// and of which at most concurrency (0: DefaultPredialConcurrency) are in flight at once.
func NewPredial(timeout time.Duration, concurrency int) *Predial {
	return &Predial{
		client: &http.Client{Timeout: cmp.Or(timeout, DefaultPredialTimeout)},
		sem:    make(chan struct{}, cmp.Or(concurrency, DefaultPredialConcurrency)),
	}
}

// Check POSTs the contact to the campaign's hook and returns its answer: eligible, or not with
// the hook's reason. Any failure to get a 2xx answer with a JSON body carrying a boolean
// "eligible" is an error, which the caller must take as "do not dial".
func (p *Predial) Check(ctx context.Context, c *campaign.Campaign, ct *campaign.Contact) (eligible bool, reason string, err error) {
	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
	case <-ctx.Done():
		return false, "", fmt.Errorf("pre-dial check: %w", ctx.Err())
	}
	campaignID := strconv.FormatInt(c.ID, 10)
	body, err := json.Marshal(PredialRequest{Message: PredialMessage{
		Type: PredialTypeMessage, CampaignID: campaignID, CampaignName: c.Name, Attempt: ct.Attempts + 1,
		Contact: PredialContact{ID: strconv.FormatInt(ct.ID, 10), CampaignID: campaignID,
			Number: ct.Phone, Name: ct.Name, ExternalID: ct.ExternalID, Variables: c.Variables(ct)},
	}})
	if err != nil {
		return false, "", fmt.Errorf("pre-dial check: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.PredialURL, bytes.NewReader(body))
	if err != nil {
		return false, "", fmt.Errorf("pre-dial check: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(WebhookSecretHeader, c.WebhookSecret)
	resp, err := p.client.Do(req)
	if err != nil {
		// The URL is the operator's own; the error names it, never the secret.
		return false, "", fmt.Errorf("pre-dial check: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxPredialAnswer))
	if err != nil {
		return false, "", fmt.Errorf("pre-dial check: read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, "", fmt.Errorf("pre-dial check: hook answered %s", resp.Status)
	}
	var a PredialAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return false, "", fmt.Errorf("pre-dial check: decode answer: %w", err)
	}
	if a.Eligible == nil {
		return false, "", errors.New(`pre-dial check: the answer has no boolean "eligible"`)
	}
	return *a.Eligible, a.Reason, nil
}
