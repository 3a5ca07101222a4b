package jobs

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// Defaults and limits of the notifier.
const (
	// DefaultNotifyTimeout bounds one delivery: connection, request and answer.
	DefaultNotifyTimeout = 10 * time.Second
	// DefaultNotifyMaxAttempts is how many deliveries of a notification are tried before it is
	// given up.
	DefaultNotifyMaxAttempts = 8
	// DefaultNotifyRetryBase is the wait after a notification's first failed delivery; each
	// later one waits twice as long as the one before: 30 s, 1, 2, 4, 8, 16 and 32 min, so the
	// eighth and last try comes about an hour after the first.
	DefaultNotifyRetryBase = 30 * time.Second
	// DefaultNotifyInterval is how often a notifier looks for notifications due.
	DefaultNotifyInterval = time.Second
	// DefaultSpikeInterval is how often a notifier applies the failure-spike rules.
	DefaultSpikeInterval = 5 * time.Second
	// notifyLeaseMargin is added to the timeout to make the lease of a claimed notification:
	// no other notifier takes it before then, whatever the clocks of their machines say.
	notifyLeaseMargin = time.Minute
	// notifyBatch bounds the notifications one pass claims (and delivers at once).
	notifyBatch = 20
	// maxNotifyAnswer bounds the answer body read (and dropped).
	maxNotifyAnswer = 64 << 10
)

// Headers of a notification request.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">" (see Sign).
	SignatureHeader = "X-Campaign-Signature"
	// EventHeader carries the notification's kind.
	EventHeader = "X-Campaign-Event"
	// NotificationIDHeader carries the notification's id: the same on every redelivery.
	NotificationIDHeader = "X-Campaign-Notification-Id"
)

// NotifyResult is what one delivery of a notification came to, for a NotifyObserver.
type NotifyResult string

// Delivery results.
const (
	// NotifyDelivered: the receiver answered 2xx.
	NotifyDelivered NotifyResult = "delivered"
	// NotifyRetry: it did not (an error, a timeout, another status); it is tried again later.
	NotifyRetry NotifyResult = "retry"
	// NotifyGaveUp: it did not, and that was the last try.
	NotifyGaveUp NotifyResult = "gave_up"
)

// NotifyResults lists every NotifyResult.
func NotifyResults() []NotifyResult {
	return []NotifyResult{NotifyDelivered, NotifyRetry, NotifyGaveUp}
}

// NotifyObserver is told of every delivery of a notification: its kind, what it came to and how
// long it took. A Config.Observer that implements it is told of the runner's notifier.
type NotifyObserver interface {
	ObserveNotification(kind campaign.NotificationKind, result NotifyResult, took time.Duration)
}

// NotifyStore is what the notifier needs of the store; *campaign.Store implements it.
type NotifyStore interface {
	ClaimNotifications(ctx context.Context, campaignID int64, defaultURL string, limit int, now, leaseUntil time.Time) ([]campaign.ClaimedNotification, error)
	NotificationDelivered(ctx context.Context, id int64, attempt int, now time.Time) error
	NotificationFailed(ctx context.Context, id int64, attempt int, errText string, retryAt, now time.Time) error
	DetectSpikes(ctx context.Context, campaignID int64, serviceDefault bool, now time.Time) (int, error)
}

// NotifierConfig configures a Notifier; zero fields take the defaults above.
type NotifierConfig struct {
	Store NotifyStore
	// CampaignID limits the failure-spike rules applied to one campaign's (campaign run); 0
	// applies every running campaign's. Deliveries are never limited: any runner delivers any
	// campaign's notifications, so one that a process left undelivered goes out from another.
	CampaignID int64
	// DefaultURL is where the notifications of ModeService campaigns without a notify URL of
	// their own go (campaign serve --notify-url); "" leaves them to a process that has one.
	DefaultURL string
	// Secret keys every signature (CAMPAIGN_NOTIFY_SECRET); "" sends notifications unsigned.
	// A campaign's webhook secret never keys one: a receiver holding it could forge that
	// campaign's webhooks.
	Secret      string
	Timeout     time.Duration
	MaxAttempts int
	RetryBase   time.Duration
	// Interval and SpikeInterval are how often Run delivers and applies the spike rules.
	Interval, SpikeInterval time.Duration
	Now                     func() time.Time
	Logger                  *slog.Logger
	Observer                NotifyObserver
}

// Notifier delivers the notification outbox: it claims due notifications, POSTs each to its URL
// with no lock held, and records the delivery or schedules a retry with exponential backoff,
// giving up after MaxAttempts. A failed delivery never touches the campaign. Safe for
// concurrent use, and any number of notifiers, in any number of processes, share one outbox:
// each notification is claimed by one of them at a time.
type Notifier struct {
	cfg    NotifierConfig
	client *http.Client
	// unsigned says, once per process, that notifications go out unsigned.
	unsigned sync.Once
}

// NewNotifier returns a notifier with cfg, its zero fields set to the defaults.
func NewNotifier(cfg NotifierConfig) *Notifier {
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultNotifyTimeout)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultNotifyMaxAttempts)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, DefaultNotifyRetryBase)
	cfg.Interval = cmp.Or(cfg.Interval, DefaultNotifyInterval)
	cfg.SpikeInterval = cmp.Or(cfg.SpikeInterval, DefaultSpikeInterval)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, client: &http.Client{
		Timeout: cfg.Timeout,
		// A redirect is an answer that is not 2xx: following it would turn the POST into a GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Run delivers due notifications every Interval and applies the failure-spike rules every
// SpikeInterval until ctx is done; deliveries under way then finish (each bounded by Timeout)
// before it returns.
func (n *Notifier) Run(ctx context.Context) {
	deliver := time.NewTicker(n.cfg.Interval)
	defer deliver.Stop()
	spikes := time.NewTicker(n.cfg.SpikeInterval)
	defer spikes.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deliver.C:
			if _, err := n.DeliverDue(ctx, 0); err != nil && ctx.Err() == nil {
				n.cfg.Logger.Warn("deliver notifications", "error", err)
			}
		case <-spikes.C:
			if _, err := n.cfg.Store.DetectSpikes(ctx, n.cfg.CampaignID, n.cfg.DefaultURL != "", n.cfg.Now()); err != nil && ctx.Err() == nil {
				n.cfg.Logger.Warn("detect failure spikes", "error", err)
			}
		}
	}
}

// DeliverDue claims the notifications due now, of campaign campaignID or of any when it is 0,
// delivers them at once and records what came of each; it returns how many it claimed. The
// deliveries outlive ctx (each is bounded by Timeout), so a stopping process does not leave a
// delivery half done.
func (n *Notifier) DeliverDue(ctx context.Context, campaignID int64) (int, error) {
	now := n.cfg.Now()
	claimed, err := n.cfg.Store.ClaimNotifications(ctx, campaignID, n.cfg.DefaultURL, notifyBatch, now,
		now.Add(n.cfg.Timeout+notifyLeaseMargin))
	if err != nil {
		return 0, err
	}
	// One campaign's notifications go one after the other, in the order they were recorded (a
	// deadline before the completion it leads to); different campaigns' at once.
	byCampaign := map[int64][]*campaign.ClaimedNotification{}
	for i := range claimed {
		c := &claimed[i]
		byCampaign[c.CampaignID] = append(byCampaign[c.CampaignID], c)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, list := range byCampaign {
		slices.SortFunc(list, func(a, b *campaign.ClaimedNotification) int { return cmp.Compare(a.ID, b.ID) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range list {
				if err := n.deliver(context.WithoutCancel(ctx), c); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return len(claimed), errors.Join(errs...)
}

// deliver POSTs one claimed notification and records the result.
func (n *Notifier) deliver(ctx context.Context, c *campaign.ClaimedNotification) error {
	began := n.cfg.Now()
	postErr := n.post(ctx, c)
	now := n.cfg.Now()
	result := NotifyDelivered
	var err error
	switch {
	case postErr == nil:
		err = n.cfg.Store.NotificationDelivered(ctx, c.ID, c.Attempt, now)
	case c.Attempt >= n.cfg.MaxAttempts:
		result = NotifyGaveUp
		err = n.cfg.Store.NotificationFailed(ctx, c.ID, c.Attempt, postErr.Error(), time.Time{}, now)
		n.cfg.Logger.Warn("notification given up", "campaign_id", c.CampaignID, "kind", c.Kind,
			"attempts", c.Attempt, "url", campaign.MaskURL(c.URL), "error", postErr)
	default:
		result = NotifyRetry
		retryAt := now.Add(NotifyBackoff(n.cfg.RetryBase, c.Attempt))
		err = n.cfg.Store.NotificationFailed(ctx, c.ID, c.Attempt, postErr.Error(), retryAt, now)
		n.cfg.Logger.Warn("notification not delivered; will retry", "campaign_id", c.CampaignID, "kind", c.Kind,
			"attempt", c.Attempt, "retry_at", retryAt, "url", campaign.MaskURL(c.URL), "error", postErr)
	}
	if n.cfg.Observer != nil {
		n.cfg.Observer.ObserveNotification(c.Kind, result, now.Sub(began))
	}
	return err
}

// NotifyBackoff is the wait after the attempt-th failed delivery: base, doubled for each
// attempt after the first (capped at a day).
func NotifyBackoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < 24*time.Hour; i++ {
		d *= 2
	}
	return min(d, 24*time.Hour)
}

// post sends one notification. Its errors never carry the URL's path or query (a Slack webhook
// URL's token): they name the host only.
func (n *Notifier) post(ctx context.Context, c *campaign.ClaimedNotification) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(c.Payload))
	if err != nil {
		return fmt.Errorf("notify %s: bad URL", campaign.MaskURL(c.URL))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "campaign-notifier")
	req.Header.Set(EventHeader, string(c.Kind))
	req.Header.Set(NotificationIDHeader, c.Key)
	if n.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(n.cfg.Secret, n.cfg.Now().Unix(), c.Payload))
	} else {
		n.unsigned.Do(func() {
			n.cfg.Logger.Info("notifications are sent unsigned: no notify secret is set (CAMPAIGN_NOTIFY_SECRET)")
		})
	}
	resp, err := n.client.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // its text holds the whole URL
		}
		if errors.Is(err, context.DeadlineExceeded) || (urlErr != nil && urlErr.Timeout()) {
			return fmt.Errorf("POST %s: no answer within %s", campaign.MaskURL(c.URL), n.cfg.Timeout)
		}
		return fmt.Errorf("POST %s: %v", campaign.MaskURL(c.URL), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxNotifyAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: answered %s", campaign.MaskURL(c.URL), resp.Status)
	}
	return nil
}

// Sign is the SignatureHeader value of body sent at unix time t: "t=<t>,v1=<hex HMAC-SHA256,
// keyed by secret, of "<t>.<body>">".
func Sign(secret string, t int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", t)
	mac.Write(body)
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature is returned by VerifySignature for a signature that does not match.
var ErrBadSignature = errors.New("notification signature does not match")

// VerifySignature checks a SignatureHeader value against body, as a receiver does: the v1 HMAC
// must match and t must be within tolerance of now (0: any t), so that a request recorded
// once cannot be replayed later.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var (
		t   int64
		sig string
		err error
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			if t, err = strconv.ParseInt(v, 10, 64); err != nil {
				return fmt.Errorf("%w: bad t", ErrBadSignature)
			}
		case "v1":
			sig = v
		}
	}
	if sig == "" || t == 0 {
		return fmt.Errorf("%w: t or v1 missing", ErrBadSignature)
	}
	want := Sign(secret, t, body)
	if !hmac.Equal([]byte(want[strings.Index(want, "v1=")+3:]), []byte(sig)) {
		return ErrBadSignature
	}
	if tolerance > 0 && now.Sub(time.Unix(t, 0)).Abs() > tolerance {
		return fmt.Errorf("%w: t is %s from now", ErrBadSignature, now.Sub(time.Unix(t, 0)).Abs())
	}
	return nil
}
