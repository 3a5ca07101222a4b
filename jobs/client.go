package jobs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
)

// Config wires the workers of a campaign process.
type Config struct {
	// CampaignID limits the process to one campaign (campaign run): its hopper, dial queue and
	// reconciler see no other campaign. 0 serves every running campaign.
	CampaignID int64
	Store      *campaign.Store
	Vapi       VapiClient
	Now        func() time.Time // default time.Now
	Logger     *slog.Logger     // default discard
	// RiverLogger receives River's own logs (default discard); its routine reports are at info
	// level, so a warn-level logger suits a command line.
	RiverLogger *slog.Logger
	Reconcile   ReconcileConfig // default DefaultReconcileConfig
	// HopperInterval is how often due contacts are queued (default 1 s).
	HopperInterval time.Duration
	// ReconcileInterval is how often missing results are looked for (default 5 s).
	ReconcileInterval time.Duration
	// DialWorkers bounds the dial jobs one process runs at once (default 50). The live-call cap
	// and the rate are enforced in the database, across processes, not by this number.
	DialWorkers int
	// Observer, when set, is told of every POST /call and of every result the reconciler
	// applies (e.g. to count them in metrics).
	Observer Observer
	// Account identifies the Vapi account the calls are placed on, whose concurrency limit the
	// dialers learn and share (see DialWorker.Account); default Vapi's Account(), when it has
	// one (a *vapi.Client does).
	Account string
	// PredialTimeout bounds each pre-dial check (default DefaultPredialTimeout);
	// PredialConcurrency bounds the checks in flight in the process (default
	// DefaultPredialConcurrency).
	PredialTimeout     time.Duration
	PredialConcurrency int
	// Notify configures the runner's notifier (its Store, CampaignID, Now, Logger and, when
	// Observer implements NotifyObserver, Observer come from this Config).
	Notify NotifierConfig
}

// accountNamer is a VapiClient that names its account (a *vapi.Client).
type accountNamer interface {
	Account() string
}

// Observer is told what the workers do, e.g. to count it in metrics. Its methods are called
// from many goroutines at once and must return quickly.
type Observer interface {
	// ObserveCreateCall is told of every POST /call: how long it took, and the call created
	// (which may be refused for concurrency: see vapi.Call.ConcurrencyBlocked) or the error.
	ObserveCreateCall(took time.Duration, call *vapi.Call, err error)
	// ObserveResult is told of every call result applied, with its outcome: once per attempt,
	// since a result that was already recorded is not applied again.
	ObserveResult(outcome campaign.Outcome)
	// ObservePredial is told of every pre-dial check: how long it took and what it came to.
	ObservePredial(took time.Duration, result PredialResult)
}

// rescueStuckJobsAfter is how long a job may be "running" before River runs it again.
const rescueStuckJobsAfter = 3 * time.Minute

// completedJobRetention is how long River keeps a completed job before its cleaner deletes it.
// A campaign makes at least one dial job a contact plus a hopper job a second: River's default
// of a day would keep millions of rows in river_job on a large campaign (`make bench-million`
// measures it), while what a job did is recorded in the campaign's own tables. Failed
// (discarded) jobs keep River's default of a week: they are what an engineer looks for.
const completedJobRetention = 15 * time.Minute

// Runner is a campaign process's River client and, for a runner of one campaign, the ticker
// that schedules that campaign's hopper and reconciler.
//
// River runs periodic jobs on its elected leader only, and several runners of different
// campaigns share one leader; so a runner of every campaign (campaign serve) uses River's
// periodic jobs, and a runner of one campaign (campaign run) enqueues its own, into its
// campaign's queue, unique per second so that any number of its processes enqueue one.
type Runner struct {
	// Client is the River client; Start and Stop start and stop it.
	Client *river.Client[pgx.Tx]

	campaignID        int64
	hopperInterval    time.Duration
	reconcileInterval time.Duration
	logger            *slog.Logger
	stopTicker        context.CancelFunc
	tickerDone        chan struct{}
	// notifier delivers the notification outbox (nil without a Store); stopNotifier stops it.
	notifier     *Notifier
	stopNotifier context.CancelFunc
	notifierDone chan struct{}
}

// NewRunner returns a runner that dials, queues due contacts and reconciles results. Any
// number of processes may run one on the same database: every limit holds across them.
func NewRunner(pool *pgxpool.Pool, cfg Config) (*Runner, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Reconcile == (ReconcileConfig{}) {
		cfg.Reconcile = DefaultReconcileConfig
	}
	r := &Runner{
		campaignID:        cfg.CampaignID,
		hopperInterval:    cmp.Or(cfg.HopperInterval, time.Second),
		reconcileInterval: cmp.Or(cfg.ReconcileInterval, 5*time.Second),
		logger:            logger,
	}
	if cfg.Store != nil {
		nc := cfg.Notify
		nc.Store, nc.CampaignID, nc.Now, nc.Logger = cfg.Store, cfg.CampaignID, now, logger
		if o, ok := cfg.Observer.(NotifyObserver); ok {
			nc.Observer = o
		}
		r.notifier = NewNotifier(nc)
	}
	if a, ok := cfg.Vapi.(accountNamer); ok && cfg.Account == "" {
		cfg.Account = a.Account()
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &DialWorker{Store: cfg.Store, Vapi: cfg.Vapi, Now: now, Logger: logger, Observer: cfg.Observer,
		Account: cfg.Account, Predial: NewPredial(cfg.PredialTimeout, cfg.PredialConcurrency)})
	river.AddWorker(workers, &HopperWorker{Store: cfg.Store, Now: now, Logger: logger})
	river.AddWorker(workers, &ReconcileWorker{Store: cfg.Store, Vapi: cfg.Vapi, Config: cfg.Reconcile, Now: now, Logger: logger,
		Observer: cfg.Observer})

	riverLogger := cfg.RiverLogger
	if riverLogger == nil {
		riverLogger = slog.New(slog.DiscardHandler)
	}
	config := &river.Config{
		Logger: riverLogger,
		Queues: map[string]river.QueueConfig{
			ControlQueue(cfg.CampaignID): {MaxWorkers: 2},
			DialQueue(cfg.CampaignID):    {MaxWorkers: cmp.Or(cfg.DialWorkers, 50)},
		},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
		// A job whose end River could not record (the database restarting under it) stays
		// "running" until rescued; River's default of an hour would hold its contact queued
		// that long. Every job here is safe to run again (the database refuses a second
		// attempt of a contact) and times out after a minute (DialWorker.Timeout, River's
		// default for the others).
		RescueStuckJobsAfter:        rescueStuckJobsAfter,
		CompletedJobRetentionPeriod: completedJobRetention,
	}
	if cfg.CampaignID == 0 {
		config.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(r.hopperInterval),
				func() (river.JobArgs, *river.InsertOpts) { return HopperArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(r.reconcileInterval),
				func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), config)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	r.Client = client
	return r, nil
}

// Start starts the River client, the notifier and, for a runner of one campaign, its ticker.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.Client.Start(ctx); err != nil {
		return fmt.Errorf("start river client: %w", err)
	}
	if r.notifier != nil {
		notifyCtx, cancel := context.WithCancel(ctx)
		r.stopNotifier, r.notifierDone = cancel, make(chan struct{})
		go func() {
			defer close(r.notifierDone)
			r.notifier.Run(notifyCtx)
		}()
	}
	if r.campaignID != 0 {
		tickCtx, cancel := context.WithCancel(ctx)
		r.stopTicker, r.tickerDone = cancel, make(chan struct{})
		go r.tick(tickCtx)
	}
	return nil
}

// Stop stops the ticker and the notifier (a delivery under way finishes, bounded by the notify
// timeout), then the River client, letting running jobs finish (bounded by ctx).
func (r *Runner) Stop(ctx context.Context) error {
	if r.stopTicker != nil {
		r.stopTicker()
		<-r.tickerDone
	}
	if r.stopNotifier != nil {
		r.stopNotifier()
		<-r.notifierDone
	}
	return r.Client.Stop(ctx)
}

// DeliverNotifications delivers the notifications of a campaign that are due now, at once (a
// foreground run does so before it exits, so its campaign's last event goes out with it); it
// returns how many it tried. A notification that fails stays for the notifiers' retries.
func (r *Runner) DeliverNotifications(ctx context.Context, campaignID int64) (int, error) {
	if r.notifier == nil {
		return 0, nil
	}
	return r.notifier.DeliverDue(ctx, campaignID)
}

// tick enqueues the campaign's hopper and reconcile jobs at their intervals, starting now.
func (r *Runner) tick(ctx context.Context) {
	defer close(r.tickerDone)
	hopper := time.NewTicker(r.hopperInterval)
	defer hopper.Stop()
	reconcile := time.NewTicker(r.reconcileInterval)
	defer reconcile.Stop()
	insert := func(args river.JobArgs) {
		if _, err := r.Client.Insert(ctx, args, nil); err != nil && ctx.Err() == nil {
			r.logger.Warn("schedule job", "kind", args.Kind(), "error", err)
		}
	}
	insert(HopperArgs{CampaignID: r.campaignID})
	insert(ReconcileArgs{CampaignID: r.campaignID})
	for {
		select {
		case <-ctx.Done():
			return
		case <-hopper.C:
			insert(HopperArgs{CampaignID: r.campaignID})
		case <-reconcile.C:
			insert(ReconcileArgs{CampaignID: r.campaignID})
		}
	}
}
