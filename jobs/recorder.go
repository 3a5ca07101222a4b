package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/webhook"
)

// Recorder is the webhook receiver's store: it saves every event raw, then applies it through
// the same code path as the reconciler. It implements webhook.Recorder and webhook.Secrets.
type Recorder struct {
	Store  RecordStore
	Now    func() time.Time
	Logger *slog.Logger
	// Observer, when set, is told of every end-of-call report applied (not of one applied before).
	Observer Observer
}

// CampaignSecret implements webhook.Secrets: a campaign that does not exist has no secret ("",
// nil), so that the request is refused as unauthorized rather than failed.
func (r *Recorder) CampaignSecret(ctx context.Context, campaignID int64) (string, error) {
	secret, err := r.Store.CampaignSecret(ctx, campaignID)
	if errors.Is(err, campaign.ErrNotFound) {
		return "", nil
	}
	return secret, err
}

// Record implements webhook.Recorder. An event for a call we do not know is kept and not an
// error; a failure to apply is returned (after the raw event is saved) so that Vapi retries.
//
// An event is applied only to an attempt of the campaign it is for (e.CampaignID: the campaign
// whose secret authenticated it, or the campaign its metadata names when the global secret or
// HMAC did; any campaign when that is 0), and only when its call id and attempt key name the
// same attempt (see campaign.Store.ApplyResult). Anything else is kept raw, marked rejected with
// the reason, never applied, and answered with webhook.ErrRejected.
func (r *Recorder) Record(ctx context.Context, e *webhook.Event) error {
	id, err := r.Store.SaveEvent(ctx, campaign.WebhookEvent{Type: string(e.Type), Status: e.Status,
		CallID: e.CallID, AttemptKey: e.AttemptKey, Auth: string(e.Auth), CampaignID: e.CampaignID,
		Payload: e.Body, ReceivedAt: e.ReceivedAt})
	if err != nil {
		return err
	}
	applyErr := r.apply(ctx, e)
	if rejected, ok := errors.AsType[*campaign.EventRejectedError](applyErr); ok {
		if err := r.Store.MarkEventRejected(ctx, id, rejected.Reason); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s", webhook.ErrRejected, rejected.Reason)
	}
	note := ""
	switch {
	case errors.Is(applyErr, campaign.ErrUnknownCall):
		note, applyErr = "unknown call", nil
	case applyErr != nil:
		note = applyErr.Error()
	}
	if err := r.Store.MarkEventApplied(ctx, id, note, r.Now()); err != nil {
		return errors.Join(applyErr, err)
	}
	return applyErr
}

func (r *Recorder) apply(ctx context.Context, e *webhook.Event) error {
	switch {
	case e.Message.EndOfCallReport != nil:
		res := ResultFromReport(e.Message.EndOfCallReport)
		res.CallID, res.AttemptKey, res.CampaignID = e.CallID, e.AttemptKey, e.CampaignID
		applied, err := r.Store.ApplyResult(ctx, res, r.Now())
		if applied && r.Observer != nil {
			r.Observer.ObserveResult(campaign.ClassifyEndedReason(res.EndedReason))
		}
		return err
	case e.Message.StatusUpdate != nil:
		su := e.Message.StatusUpdate
		return r.Store.ApplyStatus(ctx, e.CampaignID, e.CallID, e.AttemptKey, string(su.Status), su.EndedReason, r.Now())
	default:
		return nil // other message types are kept, not applied
	}
}

// compile-time checks that Recorder fits the receiver.
var (
	_ webhook.Recorder = (*Recorder)(nil)
	_ webhook.Secrets  = (*Recorder)(nil)
)
