package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/campaign-run/campaign/campaign"
)

// HopperArgs is the periodic job that, for every running campaign, queues the contacts that are
// due now and inside their calling hours, as many as the campaign can dial soon. Windows,
// pausing and re-pacing therefore act on a query, not on a million snoozed jobs. It also keeps
// the schedule: the runner of every campaign (campaign serve) first starts the scheduled
// campaigns of the service whose start has come, the runner of one campaign (a foreground run or
// resume) its campaign when scheduled again (its start moved ahead while it ran), and every
// runner ends the contacts of a
// campaign whose end has come (Store.ExpireContacts) instead of queueing them.
type HopperArgs struct {
	// CampaignID limits the run to one campaign; 0 means every running campaign.
	CampaignID int64 `json:"campaign_id"`
}

// Kind implements river.JobArgs.
func (HopperArgs) Kind() string { return "campaign_hopper" }

// InsertOpts implements river.JobArgsWithInsertOpts: one hopper a second per campaign is
// enough, in the campaign's own queue when it has one.
func (a HopperArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: ControlQueue(a.CampaignID), MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Second}}
}

// HopperWorker runs HopperArgs.
type HopperWorker struct {
	river.WorkerDefaults[HopperArgs]
	Store  HopperStore
	Now    func() time.Time
	Logger *slog.Logger
}

// hopperBatch bounds the contacts one hopper run queues per campaign.
const hopperBatch = 500

// Work implements river.Worker.
func (w *HopperWorker) Work(ctx context.Context, job *river.Job[HopperArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("hopper: %w", err)
	}
	// A runner of one campaign serves it whatever its mode; a runner of every campaign (campaign
	// serve) serves the campaigns handed to the service.
	scope := job.Args.CampaignID
	mode := campaign.ModeService
	if scope != 0 {
		mode = ""
	}
	started, err := w.Store.StartScheduled(ctx, mode, scope, w.Now())
	if err != nil {
		return err
	}
	for _, id := range started {
		w.Logger.Info("scheduled campaign started", "campaign_id", id)
	}
	ids, err := w.Store.RunningCampaigns(ctx, mode)
	if err != nil {
		return err
	}
	queue := DialQueue(scope)
	for _, id := range ids {
		if scope != 0 && id != scope {
			continue
		}
		c, err := w.Store.Campaign(ctx, id)
		if errors.Is(err, campaign.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return err
		}
		now := w.Now()
		if campaign.Expired(c.EndBy, now) {
			// Its end has come: nothing is queued, and what waits expires (completing it).
			n, err := w.Store.ExpireContacts(ctx, id, now)
			if err != nil && !errors.Is(err, campaign.ErrNotFound) {
				return fmt.Errorf("hopper: campaign %d: %w", id, err)
			}
			if n > 0 {
				w.Logger.Info("contacts expired at the campaign's end", "campaign_id", id, "count", n)
			}
			continue
		}
		hours := campaign.ParseCallingHours(c.WindowSpec)
		n, err := w.Store.QueueDue(ctx, id, now, hopperBatch,
			func(ct *campaign.Contact) campaign.Decision { return hours.Decide(ct.TimeZones, now) },
			func(ctx context.Context, tx pgx.Tx, contactIDs []int64) error {
				params := make([]river.InsertManyParams, len(contactIDs))
				for i, cid := range contactIDs {
					params[i] = river.InsertManyParams{Args: DialArgs{CampaignID: id, ContactID: cid},
						InsertOpts: &river.InsertOpts{Queue: queue}}
				}
				_, err := client.InsertManyTx(ctx, tx, params)
				return err
			})
		if errors.Is(err, campaign.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return fmt.Errorf("hopper: campaign %d: %w", id, err)
		}
		if n > 0 {
			w.Logger.Debug("contacts queued", "campaign_id", id, "count", n)
			continue
		}
		// Nothing to queue: a campaign whose every contact is final (some without ever being
		// dialed, e.g. all suppressed) is completed here.
		if _, err := w.Store.CompleteIfDone(ctx, id, now); err != nil {
			return err
		}
	}
	return nil
}
