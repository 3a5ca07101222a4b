package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/webhook"
)

// runnerProcess is what a process that runs campaigns is made of, `campaign run` and `campaign
// resume` (one campaign) as well as `campaign serve` (every campaign handed to the service): the
// River client with its workers, and the webhook receiver that records the calls' results. The
// caller starts and stops the runner and mounts the receiver at jobs.WebhookPath.
type runnerProcess struct {
	runner  *jobs.Runner
	webhook http.Handler
}

// runnerObserver is told what a runner process does, e.g. to count it in metrics: its workers
// and its webhook receiver.
type runnerObserver interface {
	jobs.Observer
	webhook.Observer
}

// newRunnerProcess wires a runner process on pool: of campaign campaignID, or of every campaign
// of mode service when it is 0. Its calls go to client; obs, when not nil, is told what the
// workers and the receiver do; predialTimeout bounds each pre-dial check; notify configures the
// notifier (its timeout and serve's default URL), which signs with CAMPAIGN_NOTIFY_SECRET when
// the environment sets it. The receiver accepts each campaign's own secret and, when the
// environment sets them, VAPI_WEBHOOK_SECRET and VAPI_WEBHOOK_HMAC_SECRET.
func (a *app) newRunnerProcess(pool *pgxpool.Pool, store *campaign.Store, client *vapi.Client, campaignID int64,
	predialTimeout time.Duration, notify jobs.NotifierConfig, obs runnerObserver) (*runnerProcess, error) {
	notify.Secret = a.getenv(envNotifySecret)
	cfg := jobs.Config{CampaignID: campaignID, Store: store, Vapi: client, Now: a.now, Logger: a.logger,
		RiverLogger: a.riverLogger(), PredialTimeout: predialTimeout, Notify: notify}
	rec := &jobs.Recorder{Store: store, Now: a.now, Logger: a.logger}
	hook := webhook.Config{
		Recorder: rec, Secrets: rec, Secret: a.getenv(envWebhookSecret), HMACSecret: a.getenv(envWebhookHMACSecret),
		Now: a.now, Logger: a.logger,
	}
	if obs != nil {
		cfg.Observer, rec.Observer, hook.Observer = obs, obs, obs
	}
	handler, err := webhook.NewHandler(hook)
	if err != nil {
		return nil, err
	}
	rc, err := jobs.NewRunner(pool, cfg)
	if err != nil {
		return nil, err
	}
	return &runnerProcess{runner: rc, webhook: handler}, nil
}

// riverLogger is the logger of River's own messages (and the River UI's): warnings and errors
// only, its routine reports being at info level, on errOut.
func (a *app) riverLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
