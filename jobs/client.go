package jobs

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/campaign-run/campaign/campaign"
)

// Config wires the workers of a campaign process.
type Config struct {
	Store  *campaign.Store
	Vapi   VapiClient
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default discard
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
}

// NewClient returns a River client that dials, queues due contacts and reconciles results.
// Any number of processes may run one on the same database: the leader runs the periodic jobs,
// every process dials, and every limit holds across them.
func NewClient(pool *pgxpool.Pool, cfg Config) (*river.Client[pgx.Tx], error) {
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
	workers := river.NewWorkers()
	river.AddWorker(workers, &DialWorker{Store: cfg.Store, Vapi: cfg.Vapi, Now: now, Logger: logger})
	river.AddWorker(workers, &HopperWorker{Store: cfg.Store, Now: now, Logger: logger})
	river.AddWorker(workers, &ReconcileWorker{Store: cfg.Store, Vapi: cfg.Vapi, Config: cfg.Reconcile, Now: now, Logger: logger})

	riverLogger := cfg.RiverLogger
	if riverLogger == nil {
		riverLogger = slog.New(slog.DiscardHandler)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger: riverLogger,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 2},
			QueueDial:          {MaxWorkers: cmp.Or(cfg.DialWorkers, 50)},
		},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cmp.Or(cfg.HopperInterval, time.Second)),
				func() (river.JobArgs, *river.InsertOpts) { return HopperArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cmp.Or(cfg.ReconcileInterval, 5*time.Second)),
				func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}
