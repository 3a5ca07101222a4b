package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotificationKind is the event a notification tells of.
type NotificationKind string

// Notification kinds.
const (
	// KindCompleted: every contact of the campaign is final (completeIfDone).
	KindCompleted NotificationKind = "completed"
	// KindCancelled: an operator cancelled the campaign (Store.Cancel).
	KindCancelled NotificationKind = "cancelled"
	// KindPausedBudget: the budget cap paused the campaign (pauseForBudget).
	KindPausedBudget NotificationKind = "paused_budget"
	// KindFailureSpike: a share of the campaign's last ended calls failed with one ended reason
	// (see Spike and Store.DetectSpikes).
	KindFailureSpike NotificationKind = "failure_spike"
	// KindDeadline: the campaign's end (--end-by) came and its waiting contacts expired
	// (Store.ExpireContacts), once per end time; details: expired, end_by.
	KindDeadline NotificationKind = "deadline"
)

// NotificationKinds lists every NotificationKind.
func NotificationKinds() []NotificationKind {
	return []NotificationKind{KindCompleted, KindCancelled, KindPausedBudget, KindFailureSpike, KindDeadline}
}

// NotificationBody is the JSON body POSTed for a notification. Text is one line for people, the
// field a Slack incoming webhook shows; the rest is for programs.
type NotificationBody struct {
	Text string `json:"text"`
	// ID identifies the notification: redeliveries of it carry the same ID (also sent as the
	// X-Campaign-Notification-Id header), so a receiver can drop duplicates.
	ID         string               `json:"id"`
	Event      NotificationKind     `json:"event"`
	Campaign   NotificationCampaign `json:"campaign"`
	OccurredAt time.Time            `json:"occurred_at"`
	// Details are the event's own figures (e.g. a failure spike's ended reason and share).
	Details map[string]any `json:"details"`
}

// NotificationCampaign is the campaign as it was when the event happened.
type NotificationCampaign struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// PausedReason is "budget" for a campaign its budget cap paused, else absent.
	PausedReason PauseReason `json:"paused_reason,omitempty"`
	Contacts     int         `json:"contacts"`
	// ByState and ByOutcome count the contacts by state and by outcome (those with one).
	ByState   map[ContactState]int `json:"by_state"`
	ByOutcome map[Outcome]int      `json:"by_outcome"`
	// Attempts counts the calls placed, or that may have been (every attempt but not_created).
	Attempts int     `json:"attempts"`
	CostUSD  float64 `json:"cost_usd"`
	// MaxCostUSD is the budget cap, absent when there is none.
	MaxCostUSD *float64 `json:"max_cost_usd,omitempty"`
}

// notifyTx records a notification of kind about a campaign in tx, the transaction of the change
// that causes it, so that the event is recorded if and only if the change commits. It does
// nothing when the campaign has no notify URL and is not of ModeService (whose notifications
// `campaign serve --notify-url` may deliver). dedupeKey names the event: a second record of it
// (another process recording the same event) is ignored. The body snapshots the campaign as tx
// sees it, counts included.
//
// Call it after the campaign row is locked (the last lock of the order in dispatch.go): the
// notification table is written only here, by the notifier's short claims and updates, and by
// cascade deletes, none of which waits for a contact, attempt or campaign lock, so it takes no
// place in that order.
func notifyTx(ctx context.Context, tx pgx.Tx, campaignID int64, kind NotificationKind, dedupeKey string,
	details map[string]any, now time.Time) error {
	b := NotificationBody{ID: dedupeKey, Event: kind, OccurredAt: now.UTC(), Details: details}
	c := &b.Campaign
	var (
		notifyURL string
		mode      Mode
	)
	err := tx.QueryRow(ctx, `SELECT name, status, paused_reason, max_cost::float8, notify_url, mode FROM campaign WHERE id = $1`,
		campaignID).Scan(&c.Name, &c.Status, &c.PausedReason, &c.MaxCostUSD, &notifyURL, &mode)
	if err != nil {
		return fmt.Errorf("notify %s of campaign %d: %w", kind, campaignID, err)
	}
	if notifyURL == "" && mode != ModeService {
		return nil
	}
	c.ID = campaignID
	c.ByState, c.ByOutcome = map[ContactState]int{}, map[Outcome]int{}
	rows, err := tx.Query(ctx, `SELECT state, outcome, count(*) FROM contact WHERE campaign_id = $1 GROUP BY state, outcome`,
		campaignID)
	if err != nil {
		return fmt.Errorf("notify %s of campaign %d: %w", kind, campaignID, err)
	}
	var (
		state   ContactState
		outcome Outcome
		n       int
	)
	if _, err := pgx.ForEachRow(rows, []any{&state, &outcome, &n}, func() error {
		c.Contacts += n
		c.ByState[state] += n
		if outcome != "" {
			c.ByOutcome[outcome] += n
		}
		return nil
	}); err != nil {
		return fmt.Errorf("notify %s of campaign %d: %w", kind, campaignID, err)
	}
	if err := tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state <> $2), coalesce(sum(cost), 0)::float8 FROM attempt WHERE campaign_id = $1`,
		campaignID, AttemptNotCreated).Scan(&c.Attempts, &c.CostUSD); err != nil {
		return fmt.Errorf("notify %s of campaign %d: %w", kind, campaignID, err)
	}
	if b.Details == nil {
		b.Details = map[string]any{}
	}
	b.Text = notificationText(&b)
	payload, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("notify %s of campaign %d: %w", kind, campaignID, err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO notification (campaign_id, kind, dedupe_key, payload, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (dedupe_key) DO NOTHING`,
		campaignID, kind, dedupeKey, payload, now); err != nil {
		return fmt.Errorf("notify %s of campaign %d: %w", kind, campaignID, err)
	}
	return nil
}

// eventKey is the dedupe key of a campaign's event of kind that happened at now: a campaign
// completes, is cancelled or pauses for its budget at most once at one instant, and the
// transaction that does it is the only one that can (it moves the status under the row lock).
func eventKey(kind NotificationKind, campaignID int64, now time.Time) string {
	return fmt.Sprintf("%s-%d-%d", kind, campaignID, now.UnixNano())
}

// slackEscape escapes the three characters Slack's message formatting reserves.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// notificationText is the one line a notification's receiver shows people.
func notificationText(b *NotificationBody) string {
	c := &b.Campaign
	name := slackEscape.Replace(c.Name)
	tally := fmt.Sprintf("%d contacts: %d completed, %d failed, %d cancelled, %d not to call; %d calls, $%.2f spent",
		c.Contacts, c.ByState[ContactCompleted], c.ByState[ContactFailed], c.ByState[ContactCancelled],
		c.ByState[ContactDoNotCall], c.Attempts, c.CostUSD)
	switch b.Event {
	case KindCompleted:
		return fmt.Sprintf("Campaign %s completed. %s.", name, tally)
	case KindCancelled:
		return fmt.Sprintf("Campaign %s was cancelled. %s.", name, tally)
	case KindPausedBudget:
		budget := ""
		if c.MaxCostUSD != nil {
			budget = fmt.Sprintf(" of $%.2f", *c.MaxCostUSD)
		}
		return fmt.Sprintf("Campaign %s paused: its budget cap%s is reached. %s.", name, budget, tally)
	case KindFailureSpike:
		return fmt.Sprintf("Campaign %s: %v of its last %v ended calls failed with %s. %s.", name,
			b.Details["failed"], b.Details["calls"], slackEscape.Replace(fmt.Sprint(b.Details["ended_reason"])), tally)
	case KindDeadline:
		return fmt.Sprintf("Campaign %s reached its deadline. %s.", name, tally)
	}
	return fmt.Sprintf("Campaign %s: %s. %s.", name, b.Event, tally)
}

// DefaultNotifySpike is the failure-spike rule of a campaign given none.
const DefaultNotifySpike = "50%/20"

// NotifySpikeOff is the failure-spike rule that never fires.
const NotifySpikeOff = "off"

// Spike is a failure-spike rule: it fires when at least Percent % of a campaign's last Calls
// ended calls failed (outcome failed_retryable or failed_permanent) with one same ended reason,
// once Calls calls have ended. The zero Spike is off.
type Spike struct {
	Percent int
	Calls   int
}

// ParseSpike reads a failure-spike rule: "PERCENT%/CALLS" (e.g. "50%/20": half of the last 20
// ended calls), or "off".
func ParseSpike(s string) (Spike, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, NotifySpikeOff) {
		return Spike{}, nil
	}
	pct, calls, ok := strings.Cut(s, "/")
	p, errP := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(pct), "%"))
	n, errN := strconv.Atoi(strings.TrimSpace(calls))
	switch {
	case !ok || errP != nil || errN != nil || !strings.HasSuffix(strings.TrimSpace(pct), "%"):
		return Spike{}, fmt.Errorf(`failure-spike rule %q: want PERCENT%%/CALLS, e.g. "50%%/20", or "off"`, s)
	case p < 1 || p > 100:
		return Spike{}, fmt.Errorf("failure-spike rule %q: the percentage must be 1 to 100", s)
	case n < 2 || n > 1000:
		return Spike{}, fmt.Errorf("failure-spike rule %q: the number of calls must be 2 to 1000", s)
	}
	return Spike{Percent: p, Calls: n}, nil
}

// String is the rule in ParseSpike's form: "50%/20", or "off".
func (s Spike) String() string {
	if s.Off() {
		return NotifySpikeOff
	}
	return fmt.Sprintf("%d%%/%d", s.Percent, s.Calls)
}

// Off reports whether the rule never fires.
func (s Spike) Off() bool { return s.Calls == 0 }

// EndedCall is one ended call as the spike rule sees it.
type EndedCall struct {
	EndedReason string
	Outcome     Outcome
}

// SpikeFinding is what Spike.Detect found: the ended reason of the spike ("" = none) and how many
// of the calls looked at failed with it.
type SpikeFinding struct {
	EndedReason string
	Failed      int
	Calls       int
}

// Detect applies the rule to a campaign's last ended calls, newest first (only the first
// s.Calls count). With fewer calls than that, or the rule off, it finds nothing. Of several
// reasons over the threshold (possible below 50%) it names the most frequent, then the first
// in alphabetical order.
func (s Spike) Detect(recent []EndedCall) SpikeFinding {
	if s.Off() || len(recent) < s.Calls {
		return SpikeFinding{}
	}
	recent = recent[:s.Calls]
	counts := map[string]int{}
	for _, c := range recent {
		if (c.Outcome == OutcomeFailedRetryable || c.Outcome == OutcomeFailedPermanent) && c.EndedReason != "" {
			counts[c.EndedReason]++
		}
	}
	var f SpikeFinding
	for reason, n := range counts {
		if n*100 < s.Percent*len(recent) {
			continue
		}
		if n > f.Failed || (n == f.Failed && reason < f.EndedReason) {
			f = SpikeFinding{EndedReason: reason, Failed: n, Calls: len(recent)}
		}
	}
	return f
}

// DetectSpikes applies each running campaign's failure-spike rule to its last ended calls: those
// of campaign campaignID, or of every campaign when it is 0; only campaigns with a notify URL,
// or of ModeService when serviceDefault (a `campaign serve --notify-url` delivers theirs). A
// spike whose reason differs from the episode under way starts a new episode and records a
// KindFailureSpike notification, once however many processes see it; a campaign with no spike
// ends its episode, so the next one is notified again. It reads each campaign's last calls
// through an index, one query a campaign, off the path of results, and returns how many
// notifications it recorded.
func (s *Store) DetectSpikes(ctx context.Context, campaignID int64, serviceDefault bool, now time.Time) (int, error) {
	type candidate struct {
		id     int64
		rule   string
		reason string
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, notify_spike, spike_reason FROM campaign
		WHERE status = $1 AND ($2 = 0 OR id = $2) AND notify_spike <> $3
		  AND (notify_url <> '' OR ($4 AND mode = $5)) ORDER BY id`,
		StatusRunning, campaignID, NotifySpikeOff, serviceDefault, ModeService)
	if err != nil {
		return 0, fmt.Errorf("detect failure spikes: %w", err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
		var c candidate
		return c, r.Scan(&c.id, &c.rule, &c.reason)
	})
	if err != nil {
		return 0, fmt.Errorf("detect failure spikes: %w", err)
	}
	recorded := 0
	for _, c := range cands {
		rule, err := ParseSpike(c.rule)
		if err != nil || rule.Off() {
			continue // refused on the way in; an unreadable rule is no rule
		}
		rows, err := s.pool.Query(ctx, `
			SELECT ended_reason, outcome FROM attempt WHERE campaign_id = $1 AND ended_at IS NOT NULL AND outcome <> $3
			ORDER BY ended_at DESC LIMIT $2`, c.id, rule.Calls, OutcomeCapacity)
		if err != nil {
			return recorded, fmt.Errorf("detect failure spikes of campaign %d: %w", c.id, err)
		}
		recent, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EndedCall, error) {
			var e EndedCall
			return e, r.Scan(&e.EndedReason, &e.Outcome)
		})
		if err != nil {
			return recorded, fmt.Errorf("detect failure spikes of campaign %d: %w", c.id, err)
		}
		f := rule.Detect(recent)
		if f.EndedReason == c.reason {
			continue
		}
		got, err := s.moveSpikeEpisode(ctx, c.id, c.reason, f, rule, now)
		if err != nil {
			return recorded, err
		}
		if got {
			recorded++
		}
	}
	return recorded, nil
}

// moveSpikeEpisode moves a campaign's spike episode from reason was to f's (none when f found
// nothing) unless another process moved it first, and records the notification of a new one.
func (s *Store) moveSpikeEpisode(ctx context.Context, campaignID int64, was string, f SpikeFinding, rule Spike, now time.Time) (bool, error) {
	recorded := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		recorded = false
		var episode int
		err := tx.QueryRow(ctx, `
			UPDATE campaign SET spike_reason = $3, spike_episodes = spike_episodes + CASE WHEN $3 = '' THEN 0 ELSE 1 END
			WHERE id = $1 AND spike_reason = $2 RETURNING spike_episodes`, campaignID, was, f.EndedReason).Scan(&episode)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && f.EndedReason == "") {
			return nil // moved by another process first, or an episode ended
		}
		if err != nil {
			return err
		}
		recorded = true
		return notifyTx(ctx, tx, campaignID, KindFailureSpike, fmt.Sprintf("%s-%d-%d", KindFailureSpike, campaignID, episode),
			map[string]any{"ended_reason": f.EndedReason, "failed": f.Failed, "calls": f.Calls,
				"rule": rule.String(), "episode": episode}, now)
	})
	if err != nil {
		return false, fmt.Errorf("record failure spike of campaign %d: %w", campaignID, err)
	}
	return recorded, nil
}

// ClaimedNotification is a notification a notifier claimed to deliver.
type ClaimedNotification struct {
	ID         int64
	CampaignID int64
	Kind       NotificationKind
	// Key is the notification's dedupe key, its id for receivers.
	Key string
	// Attempt is this delivery's number, 1 for the first.
	Attempt int
	Payload []byte
	// URL is where to POST it.
	URL string
}

// ClaimNotifications claims up to limit notifications due at now (of campaign campaignID, or
// of any when 0) in one short statement: it counts the attempt and pushes next_attempt_at to
// leaseUntil, so no other notifier takes them while this one delivers them with no lock held,
// and a notifier that dies mid-delivery leaves them due again at leaseUntil. A notification goes
// to its campaign's notify URL or, for a campaign of ModeService without one, to defaultURL
// ("" = those are left for a process that has one).
func (s *Store) ClaimNotifications(ctx context.Context, campaignID int64, defaultURL string, limit int,
	now, leaseUntil time.Time) ([]ClaimedNotification, error) {
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT n.id FROM notification n JOIN campaign c ON c.id = n.campaign_id
			WHERE n.delivered_at IS NULL AND n.failed_at IS NULL AND n.next_attempt_at <= $1
			  AND ($2 = 0 OR n.campaign_id = $2) AND (c.notify_url <> '' OR (c.mode = $3 AND $4 <> ''))
			ORDER BY n.next_attempt_at, n.id LIMIT $5
			FOR UPDATE OF n SKIP LOCKED
		)
		UPDATE notification n SET attempts = n.attempts + 1, next_attempt_at = $6
		FROM due, campaign c WHERE n.id = due.id AND c.id = n.campaign_id
		RETURNING n.id, n.campaign_id, n.kind, n.dedupe_key, n.attempts, n.payload,
		          CASE WHEN c.notify_url <> '' THEN c.notify_url ELSE $4 END`,
		now, campaignID, ModeService, defaultURL, limit, leaseUntil)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClaimedNotification, error) {
		var n ClaimedNotification
		return n, r.Scan(&n.ID, &n.CampaignID, &n.Kind, &n.Key, &n.Attempt, &n.Payload, &n.URL)
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return claimed, nil
}

// NotificationDelivered records the delivery of attempt of notification id.
func (s *Store) NotificationDelivered(ctx context.Context, id int64, attempt int, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `
		UPDATE notification SET delivered_at = $3, last_error = '' WHERE id = $1 AND attempts = $2 AND delivered_at IS NULL`,
		id, attempt, now); err != nil {
		return fmt.Errorf("record notification %d delivered: %w", id, err)
	}
	return nil
}

// maxNotifyError bounds the delivery error kept with a notification.
const maxNotifyError = 500

// NotificationFailed records a failed delivery of attempt of notification id, with what went
// wrong: it is tried again at retryAt, or, when retryAt is zero, given up (failed_at = now).
func (s *Store) NotificationFailed(ctx context.Context, id int64, attempt int, errText string, retryAt, now time.Time) error {
	var next *time.Time
	if !retryAt.IsZero() {
		next = &retryAt
	}
	if len(errText) > maxNotifyError {
		errText = truncateUTF8(errText, maxNotifyError)
	}
	if _, err := s.pool.Exec(ctx, `
		UPDATE notification SET last_error = $3, next_attempt_at = coalesce($4, next_attempt_at),
			failed_at = CASE WHEN $4::timestamptz IS NULL THEN $5::timestamptz END
		WHERE id = $1 AND attempts = $2 AND delivered_at IS NULL AND failed_at IS NULL`,
		id, attempt, errText, next, now); err != nil {
		return fmt.Errorf("record notification %d failed: %w", id, err)
	}
	return nil
}

// NotificationCounts are a campaign's notifications by where they stand.
type NotificationCounts struct {
	// Pending are still to be delivered (a first try or a retry); Delivered were; Failed were
	// given up. LastError is the error of the newest undelivered notification that has one.
	Pending, Delivered, Failed int
	LastError                  string
}

// NotificationCounts counts a campaign's notifications.
func (s *Store) NotificationCounts(ctx context.Context, campaignID int64) (NotificationCounts, error) {
	var n NotificationCounts
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL),
		       count(*) FILTER (WHERE delivered_at IS NOT NULL),
		       count(*) FILTER (WHERE failed_at IS NOT NULL),
		       coalesce((SELECT last_error FROM notification WHERE campaign_id = $1 AND delivered_at IS NULL
		                 AND last_error <> '' ORDER BY id DESC LIMIT 1), '')
		FROM notification WHERE campaign_id = $1`, campaignID).Scan(&n.Pending, &n.Delivered, &n.Failed, &n.LastError)
	if err != nil {
		return NotificationCounts{}, fmt.Errorf("count notifications of campaign %d: %w", campaignID, err)
	}
	return n, nil
}

// MaskURL is a URL safe to print: its scheme and host, with "/…" for a path and no user or
// query. A Slack incoming-webhook URL carries its token in the path, so the path never shows.
// Text that is not an absolute URL gives "(hidden)".
func MaskURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(hidden)"
	}
	masked := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		masked += "/…"
	}
	return masked
}
