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

	batches groupCommit
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

// Record implements webhook.Recorder. The event is stored raw and applied with group commit
// (see groupCommit and campaign.Store.RecordEvents): with the events of the requests waiting at
// the same time, in one transaction, and Record returns only once it is committed. An event the
// batch leaves to be applied alone, and every event of a batch that fails as a whole (one event
// the database refuses fails them all), is stored and applied on its own: saved, then applied and
// marked in one transaction (campaign.Store.ApplyEvent). An event for a call we do not know is
// kept and not an error; a failure to apply is returned (after the raw event is saved) so that
// Vapi retries.
//
// An event is applied only to an attempt of the campaign it is for (e.CampaignID: the campaign
// whose secret authenticated it, or the campaign its metadata names when the global secret or
// HMAC did; any campaign when that is 0), and only when its call id and attempt key name the
// same attempt (see campaign.Store.ApplyResult). Anything else is kept raw, marked rejected with
// the reason, never applied, and answered with webhook.ErrRejected.
func (r *Recorder) Record(ctx context.Context, e *webhook.Event) error {
	ev := campaign.RecordedEvent{Change: eventChange(e), Event: campaign.WebhookEvent{Type: string(e.Type), Status: e.Status,
		CallID: e.CallID, AttemptKey: e.AttemptKey, Auth: string(e.Auth), CampaignID: e.CampaignID,
		Payload: e.Body, ReceivedAt: e.ReceivedAt}}
	rec, err := r.batches.record(ctx, r.Store, r.Now, ev)
	var applyErr error
	switch {
	case err != nil:
		id, err := r.Store.SaveEvent(ctx, ev.Event)
		if err != nil {
			return err
		}
		rec = campaign.EventRecord{ID: id}
		fallthrough
	case rec.Alone:
		rec.Applied, applyErr = r.Store.ApplyEvent(ctx, rec.ID, ev.Change, r.Now())
		if rejected, ok := errors.AsType[*campaign.EventRejectedError](applyErr); ok {
			rec.Rejected, applyErr = rejected, nil
		}
	}
	if rec.Applied && r.Observer != nil {
		r.Observer.ObserveResult(campaign.ClassifyEndedReason(ev.Change.Result.EndedReason))
	}
	if rec.Rejected != nil {
		return fmt.Errorf("%w: %s", webhook.ErrRejected, rec.Rejected.Reason)
	}
	return applyErr
}

// eventChange is what e asks of its call's attempt: the result of an end-of-call report, the
// status of a status-update, nothing for another type (kept, not applied).
func eventChange(e *webhook.Event) campaign.EventChange {
	switch {
	case e.Message.EndOfCallReport != nil:
		res := ResultFromReport(e.Message.EndOfCallReport)
		res.CallID, res.AttemptKey, res.CampaignID = e.CallID, e.AttemptKey, e.CampaignID
		return campaign.EventChange{Result: &res}
	case e.Message.StatusUpdate != nil:
		su := e.Message.StatusUpdate
		return campaign.EventChange{Status: &campaign.CallStatus{CampaignID: e.CampaignID, CallID: e.CallID,
			AttemptKey: e.AttemptKey, Status: string(su.Status), EndedReason: su.EndedReason}}
	}
	return campaign.EventChange{}
}

// compile-time checks that Recorder fits the receiver.
var (
	_ webhook.Recorder = (*Recorder)(nil)
	_ webhook.Secrets  = (*Recorder)(nil)
)
