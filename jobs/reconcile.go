package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
)

// ReconcileArgs is the periodic job that fetches the results no webhook delivered: calls with no
// end-of-call report after a grace period are read with GET /call/{id}, and attempts left
// "creating" by an ambiguous failure or a crash are looked up with GET /call.
type ReconcileArgs struct {
	// CampaignID limits the run to one campaign; 0 means every campaign.
	CampaignID int64 `json:"campaign_id"`
}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "campaign_reconcile" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (a ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: ControlQueue(a.CampaignID), MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Second}}
}

// ReconcileConfig sets the reconciler's patience.
type ReconcileConfig struct {
	// ReportGrace is how long a call may go without news (a status update or a look) before it
	// is read from Vapi. With no public URL, this is the polling interval.
	ReportGrace time.Duration
	// CreatingGrace is how long an attempt may stay "creating" before it is looked up.
	CreatingGrace time.Duration
	// SureAbsentLookups and SureAbsentAfter decide when a call that cannot be found is taken to
	// not exist: at least this many lookups, the last this long after the attempt began. Only
	// then is the contact dialed again.
	SureAbsentLookups int
	SureAbsentAfter   time.Duration
}

// DefaultReconcileConfig suits Vapi: reports usually arrive 5-15 s after a call ends.
var DefaultReconcileConfig = ReconcileConfig{
	ReportGrace:       30 * time.Second,
	CreatingGrace:     20 * time.Second,
	SureAbsentLookups: 3,
	SureAbsentAfter:   2 * time.Minute,
}

// ReconcileWorker runs ReconcileArgs.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	Store  ReconcileStore
	Vapi   VapiClient
	Config ReconcileConfig
	Now    func() time.Time
	Logger *slog.Logger
	// Observer, when set, is told of every result applied.
	Observer Observer
}

// reconcileBatch bounds the attempts one run looks at.
const reconcileBatch = 200

// Work implements river.Worker. Each run also folds the pending tally deltas of every campaign
// into their totals (Store.CompactTallies; a run that finds another compactor at work skips it),
// so that the reports' readers sum few deltas.
func (w *ReconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	var errs []error
	if _, err := w.Store.CompactTallies(ctx); err != nil {
		errs = append(errs, err)
	}
	now := w.Now()
	stale, err := w.Store.StaleAttempts(ctx, job.Args.CampaignID, now.Add(-w.Config.ReportGrace), now.Add(-w.Config.CreatingGrace), reconcileBatch)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for i := range stale {
		if err := w.reconcile(ctx, &stale[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *ReconcileWorker) reconcile(ctx context.Context, att *campaign.Attempt) error {
	log := w.Logger.With("campaign_id", att.CampaignID, "attempt_key", att.Key)
	if att.State == campaign.AttemptCreating {
		c, err := w.Store.Campaign(ctx, att.CampaignID)
		if errors.Is(err, campaign.ErrNotFound) {
			return nil // deleted since the attempt was listed: nothing left to settle
		}
		if err != nil {
			return err
		}
		call, err := findCall(ctx, w.Vapi, c, att)
		if err != nil {
			return err
		}
		if call != nil {
			log.Info("adopted a call whose creation was ambiguous", "vapi_call_id", call.ID)
			if err := w.Store.CallCreated(ctx, att.ID, call.ID, call.CreatedAt, w.Now()); err != nil {
				return err
			}
			att.VapiCallID = call.ID
		} else {
			lookups, err := w.Store.NoteLookup(ctx, att.ID, w.Now())
			if err != nil {
				return err
			}
			if lookups >= w.Config.SureAbsentLookups && w.Now().Sub(att.CreatedAt) >= w.Config.SureAbsentAfter {
				log.Info("no call was created; the contact will be dialed again", "lookups", lookups)
				return w.Store.CallNotCreated(ctx, att.ID, campaign.NotCreatedRetryable, "",
					fmt.Sprintf("no call found after %d lookups", lookups), w.Now().Add(notCreatedRetry), w.Now())
			}
			return nil
		}
	}

	call, err := w.Vapi.GetCall(ctx, att.VapiCallID)
	if err != nil {
		// A 404 never means "ended": the call may not be visible yet. Look again later.
		if _, nerr := w.Store.NoteLookup(ctx, att.ID, w.Now()); nerr != nil {
			return nerr
		}
		if vapi.Classify(err) == vapi.ErrorClassPermanent {
			log.Info("call not readable yet", "vapi_call_id", att.VapiCallID, "error", err)
			return nil
		}
		return err
	}
	if !call.Ended() {
		_, err := w.Store.NoteLookup(ctx, att.ID, w.Now())
		return err
	}
	applied, err := w.Store.ApplyResult(ctx, ResultFromCall(call), w.Now())
	if err != nil {
		return err
	}
	if applied {
		if w.Observer != nil {
			w.Observer.ObserveResult(campaign.ClassifyEndedReason(call.EndedReason))
		}
		log.Info("result recorded from GET /call (no end-of-call report)", "vapi_call_id", call.ID, "ended_reason", call.EndedReason)
	}
	return nil
}
