package main

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// envLeaseTTL is how long a runner's lease lasts without a heartbeat (a Go duration, default
// defaultLeaseTTL): a runner that dies is shown as gone, and its campaign as orphaned, that long
// after its last heartbeat. Tests shorten it.
const envLeaseTTL = "CAMPAIGN_LEASE_TTL"

// defaultLeaseTTL is the lease's life without a heartbeat; a runner renews it every third.
const defaultLeaseTTL = 30 * time.Second

// leaseReleaseTimeout bounds the deletion of a lease at exit.
const leaseReleaseTimeout = 5 * time.Second

// leaseTTL is the runner lease's TTL: CAMPAIGN_LEASE_TTL, else defaultLeaseTTL.
func (a *app) leaseTTL() (time.Duration, error) {
	v := a.getenv(envLeaseTTL)
	if v == "" {
		return defaultLeaseTTL, nil
	}
	ttl, err := time.ParseDuration(v)
	if err != nil || ttl < 100*time.Millisecond {
		return 0, usageErrorf("%s=%q: want a duration of at least 100ms, e.g. 30s", envLeaseTTL, v)
	}
	return ttl, nil
}

// lease is this process's runner lease, renewed in the background until release.
type lease struct {
	store  *campaign.Store
	runner campaign.Runner
	ttl    time.Duration
	stop   context.CancelFunc
	done   chan struct{}
}

// holdLease takes a runner lease for campaignID (0: every campaign of mode service, for serve)
// in mode and renews it every third of its TTL until release. A heartbeat that fails (the
// database restarting) is logged and tried again at the next tick; one that finds the campaign
// deleted stops the heartbeats, with one log line.
func holdLease(ctx context.Context, a *app, store *campaign.Store, campaignID int64, mode campaign.Mode) (*lease, error) {
	ttl, err := a.leaseTTL()
	if err != nil {
		return nil, err
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	r := campaign.Runner{ID: rand.Text(), CampaignID: campaignID, Mode: mode, Host: host, PID: os.Getpid()}
	if err := store.AcquireLease(ctx, r, ttl); err != nil {
		return nil, err
	}
	beatCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l := &lease{store: store, runner: r, ttl: ttl, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		failing := false
		for {
			select {
			case <-beatCtx.Done():
				return
			case <-tick.C:
			}
			err := store.Heartbeat(beatCtx, r, ttl)
			switch {
			case errors.Is(err, campaign.ErrNotFound):
				a.logger.Warn("runner heartbeat stopped: the campaign was deleted", "runner_id", r.ID, "campaign_id", r.CampaignID)
				return
			case err != nil && beatCtx.Err() == nil && !failing:
				failing = true
				a.logger.Warn("runner heartbeat failed; retrying", "runner_id", r.ID, "error", err)
			case err == nil && failing:
				failing = false
				a.logger.Info("runner heartbeat works again", "runner_id", r.ID)
			}
		}
	}()
	return l, nil
}

// release stops the heartbeats and deletes the lease: this runner exits cleanly.
func (l *lease) release(a *app) {
	l.stop()
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), leaseReleaseTimeout)
	defer cancel()
	if err := l.store.ReleaseLease(ctx, l.runner.ID); err != nil {
		a.logger.Warn("release the runner lease: it expires by itself", "runner_id", l.runner.ID, "error", err)
	}
}
