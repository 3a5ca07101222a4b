package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/migrations"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// notifySecret is the notify secret of the notifier tests (CAMPAIGN_NOTIFY_SECRET): the signing
// key. webhookSecret is their campaigns' webhook secret, which must never key a signature.
const (
	notifySecret  = "notify-secret"
	webhookSecret = "webhook-secret"
)

// e2eNotifySecret is the notify secret of the runners of the end-to-end tests.
const e2eNotifySecret = "e2e-notify-secret"

// notifyFailReason is an ended reason that classifies as failed_retryable.
const notifyFailReason = "call.start.error-vapifault-test-outage"

// receivedNotification is one request a test receiver got.
type receivedNotification struct {
	Event, ID, Signature string
	Body                 []byte
}

// notifyReceiver is a real HTTP server on loopback that records every notification and answers
// what answer says (nil: 200).
type notifyReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []receivedNotification
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newNotifyReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *notifyReceiver {
	t.Helper()
	rc := &notifyReceiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, receivedNotification{Event: r.Header.Get(jobs.EventHeader),
			ID: r.Header.Get(jobs.NotificationIDHeader), Signature: r.Header.Get(jobs.SignatureHeader), Body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		if rc.answer != nil {
			rc.answer(n, w, r)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// received returns a copy of what the receiver got.
func (rc *notifyReceiver) received() []receivedNotification {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedNotification(nil), rc.got...)
}

// url is the receiver's URL with a token-like path, as a Slack webhook's.
func (rc *notifyReceiver) url() string { return rc.srv.URL + "/services/T000/B000/sEcReTtOkEn" }

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// notifyBundle is a migrated database of its own, its store and a test clock.
type notifyBundle struct {
	ctx   context.Context
	dbURL string
	store *campaign.Store
	clock *testClock
	t0    time.Time
}

func setupNotify(t *testing.T) *notifyBundle {
	t.Helper()
	ctx := context.Background()
	dbURL := testdb.SchemaURL(t)
	pool := newPool(t, dbURL)
	_, err := migrations.Up(ctx, pool, nil)
	require.NoError(t, err)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	return &notifyBundle{ctx: ctx, dbURL: dbURL, store: campaign.NewStore(pool), clock: &testClock{now: t0}, t0: t0}
}

func newPool(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// campaign imports a running campaign named name of contacts contacts that notifies notifyURL,
// with failure-spike rule spike.
func (b *notifyBundle) campaign(t *testing.T, name, notifyURL, spike string, contacts int) *campaign.Campaign {
	t.Helper()
	return b.campaignOf(t, campaign.ModeForeground, name, notifyURL, spike, contacts)
}

// campaignOf is campaign with the campaign's mode.
func (b *notifyBundle) campaignOf(t *testing.T, mode campaign.Mode, name, notifyURL, spike string, contacts int) *campaign.Campaign {
	t.Helper()
	reader, err := campaign.NewReader(strings.NewReader(e2eContacts(contacts)), campaign.ReaderOptions{})
	require.NoError(t, err)
	c, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: name, Mode: mode, Settings: campaign.Settings{
		AssistantID: "asst", PhoneNumberID: "pn", WebhookSecret: webhookSecret, WindowSpec: "always",
		DefaultTimeZone: "UTC", DefaultRegion: "US", MaxConcurrent: 10, MaxAttempts: 1, RetryPolicy: "none",
		NotifyURL: notifyURL, NotifySpike: spike,
	}}, campaign.ImportInput{Reader: reader})
	require.NoError(t, err)
	require.NoError(t, b.store.Start(b.ctx, c.ID, b.t0))
	return c
}

// call queues and dials the next pending contact of c and ends its call with reason and cost.
func (b *notifyBundle) call(t *testing.T, c *campaign.Campaign, reason string, cost float64) {
	t.Helper()
	now := b.clock.Now()
	var queued []int64
	_, err := b.store.QueueDue(b.ctx, c.ID, now, 1, func(*campaign.Contact) campaign.Decision {
		return campaign.Decision{Queue: true}
	}, func(_ context.Context, _ pgx.Tx, ids []int64) error {
		queued = append(queued, ids...)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, queued, 1)
	g, err := b.store.BeginAttempt(b.ctx, queued[0], now)
	require.NoError(t, err)
	require.NotNil(t, g.Attempt, "refused: %s", g.Refusal)
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: g.Attempt.Key, EndedReason: reason,
		EndedAt: &now, Cost: &cost}, now)
	require.NoError(t, err)
	require.True(t, applied)
}

// notifier returns a notifier on a pool of its own (as another process would have), on the
// bundle's clock.
func (b *notifyBundle) notifier(t *testing.T, cfg jobs.NotifierConfig) *jobs.Notifier {
	t.Helper()
	cfg.Store = campaign.NewStore(newPool(t, b.dbURL))
	cfg.Now = b.clock.Now
	if cfg.Secret == "" {
		cfg.Secret = notifySecret
	}
	return jobs.NewNotifier(cfg)
}

// deliver runs one delivery pass and returns how many notifications it claimed.
func deliver(t *testing.T, n *jobs.Notifier) int {
	t.Helper()
	claimed, err := n.DeliverDue(context.Background(), 0)
	require.NoError(t, err)
	return claimed
}

// counts returns the notification counts of campaign id.
func (b *notifyBundle) counts(t *testing.T, id int64) campaign.NotificationCounts {
	t.Helper()
	n, err := b.store.NotificationCounts(b.ctx, id)
	require.NoError(t, err)
	return n
}

// checkSigned checks that a received notification is signed with the campaign's secret, that
// its headers agree with its body, and returns the body.
func (b *notifyBundle) checkSigned(t *testing.T, got receivedNotification) campaign.NotificationBody {
	t.Helper()
	require.NoError(t, jobs.VerifySignature(notifySecret, got.Signature, got.Body, b.clock.Now(), 5*time.Minute))
	require.ErrorIs(t, jobs.VerifySignature("another secret", got.Signature, got.Body, b.clock.Now(), 0), jobs.ErrBadSignature)
	require.ErrorIs(t, jobs.VerifySignature(webhookSecret, got.Signature, got.Body, b.clock.Now(), 0), jobs.ErrBadSignature,
		"never keyed by the campaign's webhook secret")
	tampered := append([]byte(nil), got.Body...)
	tampered[len(tampered)-2] ^= 1
	require.ErrorIs(t, jobs.VerifySignature(notifySecret, got.Signature, tampered, b.clock.Now(), 0), jobs.ErrBadSignature)
	var body campaign.NotificationBody
	require.NoError(t, json.Unmarshal(got.Body, &body))
	require.Equal(t, got.Event, string(body.Event))
	require.Equal(t, got.ID, body.ID)
	require.NotEmpty(t, body.Text)
	return body
}

// observed counts what a notifier told its observer.
type observed struct {
	mu     sync.Mutex
	counts map[string]int
}

func (o *observed) ObserveNotification(kind campaign.NotificationKind, result jobs.NotifyResult, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = map[string]int{}
	}
	o.counts[string(kind)+"/"+string(result)]++
}

func (o *observed) get() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.counts)
}

// TestNotifierDeliversEachKind records a notification of each kind the store makes (a failure
// spike, a budget pause, a cancel, a completion), delivers them to a real server, and checks
// that each arrives once, signed with the campaign's webhook secret, with the body its headers
// name; a second pass finds nothing left.
func TestNotifierDeliversEachKind(t *testing.T) {
	t.Parallel()
	b := setupNotify(t)
	rc := newNotifyReceiver(t, nil)
	c := b.campaign(t, "kinds", rc.url(), "100%/2", 4)
	b.call(t, c, notifyFailReason, 0.6)
	b.call(t, c, notifyFailReason, 0.6)
	maxCost := 1.0
	require.NoError(t, b.store.SetPacing(b.ctx, c.ID, campaign.Pacing{MaxCostUSD: &maxCost}, b.t0))
	spikes, err := b.store.DetectSpikes(b.ctx, c.ID, false, b.clock.Now())
	require.NoError(t, err)
	require.Equal(t, 1, spikes)
	// The next dial finds the budget spent: the campaign pauses.
	var queued []int64
	_, err = b.store.QueueDue(b.ctx, c.ID, b.clock.Now(), 1, func(*campaign.Contact) campaign.Decision {
		return campaign.Decision{Queue: true}
	}, func(_ context.Context, _ pgx.Tx, ids []int64) error { queued = append(queued, ids...); return nil })
	require.NoError(t, err)
	g, err := b.store.BeginAttempt(b.ctx, queued[0], b.clock.Now())
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseBudget, g.Refusal)
	_, err = b.store.Cancel(b.ctx, c.ID, b.clock.Now())
	require.NoError(t, err)
	done := b.campaign(t, "done", rc.url(), "", 1)
	b.call(t, done, "customer-ended-call", 0.1)

	obs := &observed{}
	n := b.notifier(t, jobs.NotifierConfig{Observer: obs})
	require.Equal(t, 4, deliver(t, n))
	require.Zero(t, deliver(t, n), "every notification was delivered")

	got := rc.received()
	require.Len(t, got, 4)
	byEvent := map[string]campaign.NotificationBody{}
	var order []string // campaign c's, as received
	for _, r := range got {
		body := b.checkSigned(t, r)
		require.NotContains(t, byEvent, r.Event, "delivered twice")
		byEvent[r.Event] = body
		if body.Campaign.ID == c.ID {
			order = append(order, r.Event)
		}
	}
	require.Equal(t, []string{"failure_spike", "paused_budget", "cancelled"}, order,
		"one campaign's notifications arrive in the order they happened")
	require.Equal(t, map[string]int{"failure_spike/delivered": 1, "paused_budget/delivered": 1,
		"cancelled/delivered": 1, "completed/delivered": 1}, obs.get())

	spike := byEvent[string(campaign.KindFailureSpike)]
	require.Equal(t, notifyFailReason, spike.Details["ended_reason"])
	require.Equal(t, campaign.StatusRunning, spike.Campaign.Status)
	budget := byEvent[string(campaign.KindPausedBudget)]
	require.Equal(t, campaign.PauseBudget, budget.Campaign.PausedReason)
	require.InDelta(t, 1.2, budget.Campaign.CostUSD, 1e-9)
	cancelled := byEvent[string(campaign.KindCancelled)]
	require.Equal(t, campaign.StatusCancelled, cancelled.Campaign.Status)
	require.Equal(t, 2, cancelled.Campaign.ByState[campaign.ContactCancelled])
	completed := byEvent[string(campaign.KindCompleted)]
	require.Equal(t, done.ID, completed.Campaign.ID)
	require.Equal(t, 1, completed.Campaign.ByOutcome[campaign.OutcomeCompleted])
	require.Equal(t, campaign.NotificationCounts{Delivered: 3}, b.counts(t, c.ID))
}

// TestNotifierRetriesA500 answers 500 then 200: the notification is tried again after the
// backoff, not before, and delivered once, with the same id both times.
func TestNotifierRetriesA500(t *testing.T) {
	t.Parallel()
	b := setupNotify(t)
	rc := newNotifyReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	})
	c := b.campaign(t, "retry", rc.url(), "", 2)
	_, err := b.store.Cancel(b.ctx, c.ID, b.t0)
	require.NoError(t, err)

	obs := &observed{}
	n := b.notifier(t, jobs.NotifierConfig{RetryBase: time.Minute, Observer: obs})
	require.Equal(t, 1, deliver(t, n))
	counts := b.counts(t, c.ID)
	require.Equal(t, 1, counts.Pending)
	b.clock.set(b.t0.Add(59 * time.Second))
	require.Zero(t, deliver(t, n), "not before the backoff")
	b.clock.set(b.t0.Add(time.Minute))
	require.Equal(t, 1, deliver(t, n))
	require.Zero(t, deliver(t, n))

	got := rc.received()
	require.Len(t, got, 2)
	require.Equal(t, got[0].ID, got[1].ID, "a redelivery carries the same id")
	require.Equal(t, got[0].Body, got[1].Body)
	b.checkSigned(t, got[1])
	require.Equal(t, campaign.NotificationCounts{Delivered: 1}, b.counts(t, c.ID))
	require.Equal(t, map[string]int{"cancelled/retry": 1, "cancelled/delivered": 1}, obs.get())
}

// TestNotifierRetriesASlowReceiver: a receiver that does not answer within the timeout is given
// up on for this try, and the notification is delivered on the next.
func TestNotifierRetriesASlowReceiver(t *testing.T) {
	t.Parallel()
	b := setupNotify(t)
	release := make(chan struct{})
	var slow atomic.Bool
	slow.Store(true)
	rc := newNotifyReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			select {
			case <-r.Context().Done(): // the notifier hung up
			case <-release:
			}
		}
	})
	t.Cleanup(func() { close(release) })
	c := b.campaign(t, "slow", rc.url(), "", 1)
	_, err := b.store.Cancel(b.ctx, c.ID, b.t0)
	require.NoError(t, err)

	n := b.notifier(t, jobs.NotifierConfig{Timeout: 200 * time.Millisecond, RetryBase: time.Minute})
	require.Equal(t, 1, deliver(t, n))
	counts := b.counts(t, c.ID)
	require.Equal(t, 1, counts.Pending)
	require.Contains(t, counts.LastError, "no answer within 200ms")
	require.NotContains(t, counts.LastError, "sEcReTtOkEn", "the URL's path never shows")

	slow.Store(false)
	b.clock.set(b.t0.Add(time.Minute))
	require.Equal(t, 1, deliver(t, n))
	require.Equal(t, campaign.NotificationCounts{Delivered: 1}, b.counts(t, c.ID))
	require.Len(t, rc.received(), 2)
}

// TestNotifierGivesUp: a receiver that always fails gets MaxAttempts tries, on the backoff's
// schedule, then the notification is failed with the last error; the campaign is untouched.
func TestNotifierGivesUp(t *testing.T) {
	t.Parallel()
	b := setupNotify(t)
	rc := newNotifyReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	c := b.campaign(t, "down", rc.url(), "", 1)
	b.call(t, c, "customer-ended-call", 0.1)

	obs := &observed{}
	n := b.notifier(t, jobs.NotifierConfig{MaxAttempts: 3, RetryBase: time.Minute, Observer: obs})
	at := b.t0
	for i, wait := range []time.Duration{0, time.Minute, 2 * time.Minute} {
		at = at.Add(wait)
		b.clock.set(at)
		require.Equal(t, 1, deliver(t, n), "try %d", i+1)
	}
	b.clock.set(at.Add(24 * time.Hour))
	require.Zero(t, deliver(t, n), "given up")
	require.Len(t, rc.received(), 3)
	counts := b.counts(t, c.ID)
	require.Equal(t, 1, counts.Failed)
	require.Zero(t, counts.Pending)
	require.Contains(t, counts.LastError, "answered 503 Service Unavailable")
	require.NotContains(t, counts.LastError, "sEcReTtOkEn")
	require.Equal(t, map[string]int{"completed/retry": 2, "completed/gave_up": 1}, obs.get())
	got, err := b.store.Campaign(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, got.Status)
}

// TestNotifiersDeliverOnce runs two notifiers, each on a pool of its own as two processes would,
// at the same time over many notifications: each is delivered exactly once.
func TestNotifiersDeliverOnce(t *testing.T) {
	t.Parallel()
	b := setupNotify(t)
	rc := newNotifyReceiver(t, nil)
	const campaigns = 30
	for i := range campaigns {
		c := b.campaign(t, fmt.Sprintf("race-%d", i), rc.url(), "", 1)
		_, err := b.store.Cancel(b.ctx, c.ID, b.t0)
		require.NoError(t, err)
	}
	notifiers := []*jobs.Notifier{b.notifier(t, jobs.NotifierConfig{}), b.notifier(t, jobs.NotifierConfig{})}
	var (
		wg    sync.WaitGroup
		total atomic.Int64
	)
	for _, n := range notifiers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				claimed, err := n.DeliverDue(context.Background(), 0)
				assert.NoError(t, err)
				if claimed == 0 || err != nil {
					return
				}
				total.Add(int64(claimed))
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, campaigns, total.Load(), "claimed in all")
	ids := map[string]int{}
	for _, r := range rc.received() {
		ids[r.ID]++
	}
	require.Len(t, ids, campaigns)
	for id, n := range ids {
		require.Equal(t, 1, n, "notification %s", id)
	}
}

// TestRunnerNotifiesAndFailuresDoNotMatter runs a campaign on the simulator with a runner whose
// notifier's receiver always fails: the campaign completes as it would without it, and the
// runner's notifier has tried its completion.
func TestRunnerNotifiesAndFailuresDoNotMatter(t *testing.T) {
	t.Parallel()
	rc := newNotifyReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	})
	b := setupE2E(t, 5, 5, vapitest.Faults{}, func(s *campaign.Settings) { s.NotifyURL = rc.url() })
	b.startRunner(t)
	p := b.waitFinal(t, 30*time.Second)
	require.Equal(t, 5, p.Total)
	require.True(t, assert.Eventually(t, func() bool {
		got, err := b.store.Campaign(context.Background(), b.c.ID)
		require.NoError(t, err)
		return got.Status == campaign.StatusCompleted && len(rc.received()) >= 1
	}, 30*time.Second, 50*time.Millisecond), "the campaign completes and its notification is tried")
	got := rc.received()[0]
	require.Equal(t, string(campaign.KindCompleted), got.Event)
	require.NoError(t, jobs.VerifySignature(e2eNotifySecret, got.Signature, got.Body, time.Now(), time.Minute))
	n, err := b.store.NotificationCounts(context.Background(), b.c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n.Pending+n.Failed, "kept for a retry")
}

func TestNotifyBackoff(t *testing.T) {
	t.Parallel()
	var total time.Duration
	for attempt := 1; attempt < jobs.DefaultNotifyMaxAttempts; attempt++ {
		total += jobs.NotifyBackoff(jobs.DefaultNotifyRetryBase, attempt)
	}
	require.Equal(t, 30*time.Second, jobs.NotifyBackoff(jobs.DefaultNotifyRetryBase, 1))
	require.Equal(t, time.Minute, jobs.NotifyBackoff(jobs.DefaultNotifyRetryBase, 2))
	require.Equal(t, 63*time.Minute+30*time.Second, total, "the last try comes about an hour after the first")
	require.Equal(t, 24*time.Hour, jobs.NotifyBackoff(time.Hour, 40), "capped")
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"text":"hi"}`)
	at := time.Unix(1700000000, 0)
	header := jobs.Sign("k", at.Unix(), body)
	require.True(t, strings.HasPrefix(header, "t=1700000000,v1="))
	require.NoError(t, jobs.VerifySignature("k", header, body, at.Add(time.Minute), 5*time.Minute))
	require.ErrorIs(t, jobs.VerifySignature("k", header, body, at.Add(time.Hour), 5*time.Minute), jobs.ErrBadSignature, "too old")
	require.ErrorIs(t, jobs.VerifySignature("k", "v1=00", body, at, 0), jobs.ErrBadSignature)
	require.ErrorIs(t, jobs.VerifySignature("k", "t=x,v1=00", body, at, 0), jobs.ErrBadSignature)
}

// TestNotifierServiceDefaultURL: a service campaign without a notify URL of its own records its
// events; a notifier without a default URL (a campaign run) leaves them, and one with a default
// (campaign serve --notify-url) delivers them there. A campaign's own URL wins over the default.
func TestNotifierServiceDefaultURL(t *testing.T) {
	t.Parallel()
	b := setupNotify(t)
	serveDefault := newNotifyReceiver(t, nil)
	own := newNotifyReceiver(t, nil)
	plain := b.campaignOf(t, campaign.ModeService, "service", "", "", 1)
	mine := b.campaignOf(t, campaign.ModeService, "own", own.url(), "", 1)
	foreground := b.campaign(t, "foreground", "", "", 1)
	for _, c := range []*campaign.Campaign{plain, mine, foreground} {
		_, err := b.store.Cancel(b.ctx, c.ID, b.t0)
		require.NoError(t, err)
	}
	require.Equal(t, 1, deliver(t, b.notifier(t, jobs.NotifierConfig{})), "only the campaign with its own URL")
	require.Equal(t, 1, b.counts(t, plain.ID).Pending, "left for a process with a default URL")
	require.Equal(t, 1, deliver(t, b.notifier(t, jobs.NotifierConfig{DefaultURL: serveDefault.url()})))
	require.Len(t, serveDefault.received(), 1)
	require.Len(t, own.received(), 1)
	var body campaign.NotificationBody
	require.NoError(t, json.Unmarshal(serveDefault.received()[0].Body, &body))
	require.Equal(t, plain.ID, body.Campaign.ID)
	require.Equal(t, campaign.NotificationCounts{}, b.counts(t, foreground.ID), "a foreground campaign without a URL records nothing")
}

// TestNotifierAfterACrash: a process that claimed a notification and died before it could say
// what came of it leaves it to another, once the claim's lease (the timeout and a minute) has
// passed, and not before.
func TestNotifierAfterACrash(t *testing.T) {
	t.Parallel()
	b := setupNotify(t)
	rc := newNotifyReceiver(t, nil)
	c := b.campaign(t, "crash", rc.url(), "", 1)
	_, err := b.store.Cancel(b.ctx, c.ID, b.t0)
	require.NoError(t, err)
	// The dead process's claim, as its notifier makes it.
	claimed, err := b.store.ClaimNotifications(b.ctx, 0, "", 10, b.t0, b.t0.Add(jobs.DefaultNotifyTimeout+time.Minute))
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, 1, claimed[0].Attempt)
	require.Equal(t, rc.url(), claimed[0].URL)

	n := b.notifier(t, jobs.NotifierConfig{})
	b.clock.set(b.t0.Add(jobs.DefaultNotifyTimeout + time.Minute - time.Second))
	require.Zero(t, deliver(t, n), "claimed by the other process")
	b.clock.set(b.t0.Add(jobs.DefaultNotifyTimeout + time.Minute))
	require.Equal(t, 1, deliver(t, n))
	require.Len(t, rc.received(), 1)
	require.Equal(t, campaign.NotificationCounts{Delivered: 1}, b.counts(t, c.ID))

	// The dead process's late word changes nothing: its claim is not the latest.
	require.NoError(t, b.store.NotificationFailed(b.ctx, claimed[0].ID, claimed[0].Attempt, "late", time.Time{}, b.clock.Now()))
	require.Equal(t, campaign.NotificationCounts{Delivered: 1}, b.counts(t, c.ID))
}

// TestNotifierUnsignedWithoutSecret: with no notify secret the notifications go out unsigned, and
// are delivered all the same; the campaign's webhook secret, which would let the receiver forge
// that campaign's webhooks, keys nothing.
func TestNotifierUnsignedWithoutSecret(t *testing.T) {
	t.Parallel()
	b := setupNotify(t)
	rc := newNotifyReceiver(t, nil)
	c := b.campaign(t, "unsigned", rc.url(), "", 1)
	b.call(t, c, "customer-ended-call", 0.1)
	n := jobs.NewNotifier(jobs.NotifierConfig{Store: campaign.NewStore(newPool(t, b.dbURL)), Now: b.clock.Now})
	require.Equal(t, 1, deliver(t, n))
	got := rc.received()
	require.Len(t, got, 1)
	require.Empty(t, got[0].Signature)
	require.NotContains(t, string(got[0].Body), webhookSecret)
	require.Equal(t, campaign.NotificationCounts{Delivered: 1}, b.counts(t, c.ID))
}
