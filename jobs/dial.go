package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/time/rate"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
)

// QueueDial is the River queue of dial jobs shared by every campaign (campaign serve).
const QueueDial = "dial"

// DialQueue is the queue of a runner's dial jobs: a runner limited to one campaign (campaign
// run) has a queue of its own, so it never works another campaign's dials, and another
// campaign's runner never works its; 0 means the shared queue.
func DialQueue(campaignID int64) string {
	if campaignID == 0 {
		return QueueDial
	}
	return fmt.Sprintf("%s_%d", QueueDial, campaignID)
}

// ControlQueue is the queue of a runner's hopper and reconciler jobs: River's default queue
// for a runner of every campaign, else one of the campaign's own.
func ControlQueue(campaignID int64) string {
	if campaignID == 0 {
		return river.QueueDefault
	}
	return fmt.Sprintf("campaign_%d", campaignID)
}

// VapiClient is what the workers need of Vapi (a *vapi.Client).
type VapiClient interface {
	CreateCall(ctx context.Context, req *vapi.CreateCallDTO) (*vapi.Call, error)
	GetCall(ctx context.Context, id string) (*vapi.Call, error)
	ListCalls(ctx context.Context, p *vapi.ListCallsParams) ([]vapi.Call, error)
}

// DialArgs is the job that places the next call of one queued contact. Its arguments are ids
// only: the contact's data stays in our tables (and out of River's).
type DialArgs struct {
	CampaignID int64 `json:"campaign_id"`
	ContactID  int64 `json:"contact_id"`
}

// Kind implements river.JobArgs.
func (DialArgs) Kind() string { return "campaign_dial" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DialArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDial, MaxAttempts: 10}
}

// Pacing of the dial worker.
const (
	// maxInlineWait is the longest wait for the rate limiter spent inside the job; longer waits
	// snooze the job and free the worker.
	maxInlineWait = 2 * time.Second
	// capacityRecheck is how soon a contact blocked by the live-call cap is tried again once
	// it stopped waiting for a slot in its job (see roomWatch), or by the account's limit or
	// the numbers' live-call limits.
	capacityRecheck = 2 * time.Second
	// capacityRetry is how long Vapi's own concurrency refusal puts a contact back.
	capacityRetry = 10 * time.Second
	// notCreatedRetry is how long a surely-not-created call waits before its contact is retried.
	notCreatedRetry = 5 * time.Second
	// rateLimitedDefault is the pause after a 429 that carries no Retry-After.
	rateLimitedDefault = 5 * time.Second
)

// DialWorker places calls: it commits the attempt row, sends POST /call, and records what
// happened. It never sends POST /call twice for one attempt: after an ambiguous failure it looks
// the call up, and leaves the attempt to the reconciler when it cannot tell.
type DialWorker struct {
	river.WorkerDefaults[DialArgs]
	Store  DialStore
	Vapi   VapiClient
	Now    func() time.Time
	Logger *slog.Logger
	// Observer, when set, is told of every POST /call.
	Observer Observer
	// Account identifies the Vapi account the calls are placed on (vapi.Client.Account): the
	// account's concurrency limit is learned from Vapi's answers and shared, in the database,
	// by every campaign and process dialing on it. "" learns nothing.
	Account string
	// Predial asks a campaign's pre-dial hook (Campaign.PredialURL) before each of its dials;
	// nil: NewPredial's defaults.
	Predial *Predial

	predialOnce sync.Once
	limiters    localLimiters
	room        roomWatch
	accounts    sync.Map // campaign id → struct{}: campaigns noted as dialing on Account
}

// localLimiters paces this process's dial workers at each campaign's rate before they ask the
// database, so that many workers do not queue on the campaign row's lock only to be told to
// wait. The database's schedule (BeginAttempt) is what holds the rate across processes.
type localLimiters struct {
	mu  sync.Mutex
	byC map[int64]*rate.Limiter
}

// wait blocks until this process may try to dial for campaign c, or returns the delay to snooze
// for when that is longer than maxInlineWait.
func (l *localLimiters) wait(ctx context.Context, c *campaign.Campaign) (snooze time.Duration, err error) {
	limit := rate.Inf
	if c.RatePerSecond > 0 {
		limit = rate.Limit(c.RatePerSecond)
	}
	l.mu.Lock()
	if l.byC == nil {
		l.byC = map[int64]*rate.Limiter{}
	}
	lim, ok := l.byC[c.ID]
	if !ok {
		lim = rate.NewLimiter(limit, 1)
		l.byC[c.ID] = lim
	} else if lim.Limit() != limit {
		lim.SetLimit(limit) // the campaign's rate was changed
	}
	l.mu.Unlock()
	r := lim.Reserve()
	d := r.Delay()
	if d > maxInlineWait {
		r.Cancel()
		return d, nil
	}
	return 0, sleep(ctx, d)
}

// Timeout implements river.Worker: a dial is one HTTP request and a few statements.
func (w *DialWorker) Timeout(*river.Job[DialArgs]) time.Duration { return time.Minute }

// Work implements river.Worker.
func (w *DialWorker) Work(ctx context.Context, job *river.Job[DialArgs]) error {
	c, err := w.Store.Campaign(ctx, job.Args.CampaignID)
	if errors.Is(err, campaign.ErrNotFound) {
		return w.gone(job.Args, err)
	}
	if err != nil {
		return err
	}
	ct, err := w.Store.Contact(ctx, job.Args.ContactID)
	if errors.Is(err, campaign.ErrContactNotFound) {
		return w.gone(job.Args, err)
	}
	if err != nil {
		return err
	}
	// The hopper checked the calling window; check again, since the job may have waited. A
	// contact the decision fails goes back due at once (a zero DeferUntil), for the hopper to
	// fail it.
	if d := campaign.ParseCallingHours(c.WindowSpec).Decide(ct.TimeZones, w.Now()); !d.Queue {
		return w.Store.RequeueContact(ctx, ct.ID, d.DeferUntil, w.Now())
	}

	if snooze, err := w.limiters.wait(ctx, c); err != nil || snooze > 0 {
		if err != nil {
			return err
		}
		return river.JobSnooze(snooze)
	}
	if w.Account != "" {
		if _, noted := w.accounts.Load(c.ID); !noted {
			if err := w.Store.UseAccount(ctx, c.ID, w.Account); err != nil {
				return err
			}
			w.accounts.Store(c.ID, struct{}{})
		}
	}
	if c.PredialURL != "" && c.Status == campaign.StatusRunning && ct.State == campaign.ContactQueued &&
		!campaign.Expired(c.EndBy, w.Now()) {
		if dial, err := w.predial(ctx, c, ct); err != nil || !dial {
			return err
		}
	}
	var grant campaign.DialGrant
	roomDeadline := time.Now().Add(maxInlineWait) // real time: the wait is a real timer's
	for {
		grant, err = w.Store.BeginAttempt(ctx, ct.ID, w.Now())
		if err != nil {
			return err
		}
		if grant.Refusal == campaign.RefuseAtCapacity {
			// Wait in the job for a slot the campaign's cap frees, up to maxInlineWait.
			woken, err := w.room.wait(ctx, w.Store, c.ID, time.Until(roomDeadline))
			if err != nil {
				return err
			}
			if woken {
				continue
			}
			break
		}
		if grant.Refusal != campaign.RefuseRateLimited || grant.Wait > maxInlineWait {
			break
		}
		if err := sleep(ctx, grant.Wait); err != nil {
			return err
		}
	}
	switch grant.Refusal {
	case "":
	case campaign.RefuseRateLimited:
		return river.JobSnooze(grant.Wait)
	case campaign.RefuseAtCapacity, campaign.RefuseAccountLimit:
		return river.JobSnooze(jitter(capacityRecheck))
	case campaign.RefuseNumbersBusy:
		if grant.Wait > 0 { // daily caps: back to pending until the next day, not a spin
			w.Logger.Info("every caller number the contact may use (its row's own, or the pool's) is at its daily cap; contact put back until the next UTC day",
				"campaign_id", c.ID, "contact_id", ct.ID)
			now := w.Now()
			return w.Store.RequeueContact(ctx, ct.ID, now.Add(grant.Wait), now)
		}
		return river.JobSnooze(jitter(capacityRecheck))
	case campaign.RefuseBudget: // the store paused the campaign and put the contact back
		w.Logger.Warn("campaign paused: its budget cap (--max-cost) would be passed; raise it with campaign set and resume",
			"campaign_id", c.ID)
		return nil
	default: // not running, not queued, suppressed, expired: the store has done what there is to do
		w.Logger.Debug("dial refused", "campaign_id", c.ID, "contact_id", ct.ID, "reason", string(grant.Refusal))
		return nil
	}

	att := grant.Attempt
	req, err := CreateCallRequest(c, ct, att.Number)
	if err != nil {
		return w.Store.CallNotCreated(ctx, att.ID, campaign.NotCreatedPermanent, "", err.Error(), time.Time{}, w.Now())
	}
	// The number the attempt recorded, never one chosen again: a retried job of the same
	// attempt sends the same call.
	req.PhoneNumberID = callerNumber(c, att)
	began := w.Now()
	call, err := w.Vapi.CreateCall(ctx, req)
	if w.Observer != nil {
		w.Observer.ObserveCreateCall(w.Now().Sub(began), call, err)
	}
	return w.settle(ctx, c, att, call, err)
}

// predial asks the campaign's pre-dial hook whether ct may be dialed now, outside any
// transaction (the hook's latency holds no lock), and reports whether to dial. Only an explicit
// yes dials: a no ends the contact ineligible; no usable answer puts it back for
// campaign.PredialRetry, and ends it ineligible after campaign.PredialMaxFailures in a row.
func (w *DialWorker) predial(ctx context.Context, c *campaign.Campaign, ct *campaign.Contact) (bool, error) {
	w.predialOnce.Do(func() {
		if w.Predial == nil {
			w.Predial = NewPredial(0, 0)
		}
	})
	log := w.Logger.With("campaign_id", c.ID, "contact_id", ct.ID)
	began := w.Now()
	eligible, reason, checkErr := w.Predial.Check(ctx, c, ct)
	result := PredialEligible
	switch {
	case checkErr != nil:
		result = PredialError
	case !eligible:
		result = PredialIneligible
	}
	if w.Observer != nil {
		w.Observer.ObservePredial(w.Now().Sub(began), result)
	}
	now := w.Now()
	switch result {
	case PredialError:
		if ctx.Err() != nil { // the job is stopping, not the hook failing
			return false, ctx.Err()
		}
		ended, err := w.Store.PredialFailed(ctx, ct.ID, checkErr.Error(), c.PredialRetryAt(now), now)
		if err != nil {
			return false, err
		}
		log.Warn("pre-dial check failed; the contact is not dialed", "error", checkErr, "ended_ineligible", ended)
		return false, nil
	case PredialIneligible:
		log.Info("pre-dial hook: contact ineligible; not dialed", "reason", reason)
		return false, w.Store.PredialIneligible(ctx, ct.ID, reason, now)
	}
	if ct.PredialFailures > 0 {
		if err := w.Store.PredialPassed(ctx, ct.ID); err != nil {
			return false, err
		}
	}
	return true, nil
}

// gone cancels a dial job whose campaign or contact no longer exists (campaign delete): there is
// nothing to dial, now or on a retry.
func (w *DialWorker) gone(args DialArgs, err error) error {
	w.Logger.Info("dial job cancelled: its campaign or contact no longer exists (deleted)",
		"campaign_id", args.CampaignID, "contact_id", args.ContactID)
	return river.JobCancel(err)
}

// settle records the answer to POST /call. This mapping of Vapi's errors to what happens to the
// attempt is the one place it is decided.
func (w *DialWorker) settle(ctx context.Context, c *campaign.Campaign, att *campaign.Attempt, call *vapi.Call, callErr error) error {
	now := w.Now()
	log := w.Logger.With("campaign_id", c.ID, "attempt_key", att.Key)
	if callErr == nil {
		var err error
		if call.ConcurrencyBlocked() {
			log.Info("vapi account at its concurrency limit; contact put back", "vapi_call_id", call.ID)
			err = w.Store.CallNotCreated(ctx, att.ID, campaign.NotCreatedCapacity, call.ID, "concurrency blocked", now.Add(capacityRetry), now)
		} else {
			err = w.Store.CallCreated(ctx, att.ID, call.ID, call.CreatedAt, now)
		}
		if err != nil {
			return err
		}
		w.learnAccountLimit(ctx, log, att, call.SubscriptionLimits, call.ConcurrencyBlocked())
		return nil
	}

	var apiErr *vapi.APIError
	errors.As(callErr, &apiErr)
	switch vapi.Classify(callErr) {
	case vapi.ErrorClassRateLimited:
		wait := rateLimitedDefault
		if apiErr != nil && apiErr.RetryAfter > 0 {
			wait = apiErr.RetryAfter
		}
		log.Warn("vapi rate limit; slowing every process down", "wait", wait)
		if err := w.Store.DelayDials(ctx, c.ID, now.Add(wait)); err != nil {
			return err
		}
		return w.Store.CallNotCreated(ctx, att.ID, campaign.NotCreatedRetryable, "", "rate limited (429)", now.Add(wait), now)
	case vapi.ErrorClassConcurrencyBlocked:
		if err := w.Store.CallNotCreated(ctx, att.ID, campaign.NotCreatedCapacity, "", callErr.Error(), now.Add(capacityRetry), now); err != nil {
			return err
		}
		w.learnAccountLimit(ctx, log, att, nil, true)
		return nil
	case vapi.ErrorClassPermanent:
		log.Warn("call refused by vapi; contact failed", "error", callErr)
		return w.Store.CallNotCreated(ctx, att.ID, campaign.NotCreatedPermanent, "", callErr.Error(), time.Time{}, now)
	case vapi.ErrorClassRetryable: // provably never sent
		log.Warn("could not reach vapi; the call was not placed and will be tried again", "error", callErr, "retry_in", notCreatedRetry)
		return w.Store.CallNotCreated(ctx, att.ID, campaign.NotCreatedRetryable, "", callErr.Error(), now.Add(notCreatedRetry), now)
	default: // ambiguous: the call may exist
		log.Warn("call creation ambiguous; looking it up before anything else", "error", callErr)
		found, err := findCall(ctx, w.Vapi, c, att)
		if err != nil || found == nil {
			// The reconciler looks again; until it is sure no call exists, nothing is redialed.
			return nil
		}
		return w.Store.CallCreated(ctx, att.ID, found.ID, found.CreatedAt, w.Now())
	}
}

// learnAccountLimit learns the account's concurrency limit from the answer to the attempt's
// POST /call: its subscriptionLimits (nil if none) and whether it refused the call for
// concurrency. It comes after the answer is recorded and is best effort: a failure is logged,
// and the next answer teaches the same.
func (w *DialWorker) learnAccountLimit(ctx context.Context, log *slog.Logger, att *campaign.Attempt, sl *vapi.SubscriptionLimits, refused bool) {
	l := campaign.AccountLimits{Refused: refused}
	if sl != nil && sl.ConcurrencyLimit > 0 {
		l.Limit, l.Remaining = int(sl.ConcurrencyLimit), int(sl.RemainingConcurrentCalls)
	}
	if err := w.Store.LearnAccountLimit(ctx, w.Account, att.ID, l, w.Now()); err != nil {
		log.Warn("could not learn the vapi account's concurrency limit; the call is recorded", "error", err)
	}
}

// lookupWindow is how far before the attempt's journal time a lookup searches (clock skew).
const lookupWindow = 2 * time.Minute

// findCall looks for the call of an attempt at Vapi: calls from the attempt's phone number
// created since shortly before the attempt, matched on the attempt key in the call's name.
func findCall(ctx context.Context, v VapiClient, c *campaign.Campaign, att *campaign.Attempt) (*vapi.Call, error) {
	calls, err := v.ListCalls(ctx, &vapi.ListCallsParams{
		PhoneNumberID: callerNumber(c, att),
		CreatedAtGe:   att.CreatedAt.Add(-lookupWindow),
		Limit:         1000,
	})
	if err != nil {
		return nil, fmt.Errorf("look up call %s: %w", att.Key, err)
	}
	for i := range calls {
		if calls[i].Name == att.Key {
			return &calls[i], nil
		}
	}
	return nil, nil
}

// callerNumber is the phone number id an attempt's call is placed from: the one BeginAttempt
// recorded, or the campaign's for an attempt journaled before pools existed.
func callerNumber(c *campaign.Campaign, att *campaign.Attempt) string {
	if att.PhoneNumberID != "" {
		return att.PhoneNumberID
	}
	return c.PhoneNumberID
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jitter spreads retries of many jobs over [d, 1.5d).
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/2+1))
}
