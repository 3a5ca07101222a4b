// Package metrics counts what a `campaign serve` process does, for Prometheus: the calls it
// creates (in all and by caller number) and how long each POST /call takes, its failed POST /call by class, the outcomes of the
// results it applies, its pre-dial checks by result and how long each takes, its notification
// deliveries by kind and result and how long each takes, the webhook
// requests it answers and, read from the database at every scrape, the live calls of each
// campaign, whether it is orphaned (running, with no runner) and whether its budget cap paused
// it, and, read at most every TotalsMaxAge, its contacts by state and its cost.
//
// [Metrics] implements jobs.Observer and webhook.Observer. Its metrics live on a registry of its
// own (never Prometheus's global one), served by [Metrics.Handler]. Counters are per process:
// with several serve processes, sum them across processes; the live-call gauge reads the shared
// database, so every process reports the same figure.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/webhook"
)

// Metric names.
const (
	NameCallsCreated      = "campaign_calls_created_total"
	NameCallCreateErrors  = "campaign_call_create_errors_total"
	NameDialDuration      = "campaign_dial_duration_seconds"
	NameLiveCalls         = "campaign_live_calls"
	NameOrphaned          = "campaign_orphaned"
	NameBudgetPaused      = "campaign_budget_paused"
	NameScheduled         = "campaign_scheduled"
	NameContactsExpired   = "campaign_contacts_expired"
	NameContacts          = "campaign_contacts"
	NameCost              = "campaign_cost_usd"
	NameCallOutcomes      = "campaign_call_outcomes_total"
	NameWebhookEvents     = "campaign_webhook_events_total"
	NamePredialChecks     = "campaign_predial_checks_total"
	NamePredialDuration   = "campaign_predial_duration_seconds"
	NameNotifications     = "campaign_notifications_total"
	NameNotifyDuration    = "campaign_notification_duration_seconds"
	NameCallerNumberCalls = "campaign_caller_number_calls_created_total"
)

// ErrorClass is the class label of campaign_call_create_errors_total: why a POST /call placed
// no call.
type ErrorClass string

// Error classes.
const (
	// ClassConcurrencyBlocked: Vapi's account concurrency limit refused the call (a 201 with
	// subscriptionLimits.concurrencyBlocked, or a 4xx "Over Concurrency Limit").
	ClassConcurrencyBlocked ErrorClass = "concurrency_blocked"
	// ClassRateLimited: Vapi answered 429.
	ClassRateLimited ErrorClass = "rate_limited"
	// ClassServer: Vapi answered 5xx or 408; the call may exist (the worker looks it up).
	ClassServer ErrorClass = "server"
	// ClassClient: Vapi refused the request (another 4xx: validation, auth, not found).
	ClassClient ErrorClass = "client"
	// ClassNetwork: no usable answer: the connection failed, timed out or dropped, or the answer
	// could not be read.
	ClassNetwork ErrorClass = "network"
	// ClassOther: anything else.
	ClassOther ErrorClass = "other"
)

// errorClasses are every class, each counted from zero.
var errorClasses = []ErrorClass{ClassConcurrencyBlocked, ClassRateLimited, ClassServer, ClassClient, ClassNetwork, ClassOther}

// outcomes are every outcome a result can have, each counted from zero.
var outcomes = []campaign.Outcome{campaign.OutcomeCompleted, campaign.OutcomeVoicemail, campaign.OutcomeNoAnswer,
	campaign.OutcomeBusy, campaign.OutcomeFailedRetryable, campaign.OutcomeFailedPermanent, campaign.OutcomeCapacity}

// Values of the type label of campaign_webhook_events_total besides the message types the
// runner uses (status-update, end-of-call-report). The type of a request is whatever the sender
// claims, so other types are counted together: the label's values stay few, whatever is posted.
const (
	// WebhookTypeOther: any other message type.
	WebhookTypeOther = "other"
	// WebhookTypeUnknown: the body was not decoded (refused before, or not a server message).
	WebhookTypeUnknown = "unknown"
)

// liveCallsTimeout bounds the database read of a scrape.
const liveCallsTimeout = 5 * time.Second

// TotalsMaxAge is how long the contacts by state and the cost of the campaigns listed are served
// from memory before a scrape reads them again. They come from the campaigns' tallies (about
// 1 ms a campaign, whatever its size); the cache bounds what frequent scrapes of many processes
// cost the database when many campaigns are listed.
const TotalsMaxAge = 30 * time.Second

// LiveCallsSource reads the live calls of every campaign, and the totals of some;
// *campaign.Store implements it.
type LiveCallsSource interface {
	LiveCalls(ctx context.Context, createdBy time.Time) ([]campaign.CampaignLiveCalls, error)
	CampaignTotals(ctx context.Context, campaignIDs []int64) ([]campaign.CampaignTotals, error)
}

// Metrics is a serve process's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	registry      *prometheus.Registry
	callsCreated  prometheus.Counter
	createErrors  *prometheus.CounterVec
	dialDuration  prometheus.Histogram
	outcomes      *prometheus.CounterVec
	webhookEvents *prometheus.CounterVec
	predialChecks *prometheus.CounterVec
	predialTime   prometheus.Histogram
	notifications *prometheus.CounterVec
	notifyTime    prometheus.Histogram
	callerCalls   *prometheus.CounterVec
	live          *liveCallsCollector
}

// New returns the metrics of a process on a registry of their own, with Go runtime and process
// metrics, reading the live calls from live at every scrape.
func New(live LiveCallsSource) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		live:     newLiveCallsCollector(live),
		callsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameCallsCreated,
			Help: "Calls created by POST /call (not counting those refused for concurrency).",
		}),
		createErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameCallCreateErrors,
			Help: "POST /call that placed no call, by class: concurrency_blocked, rate_limited, server, client, network, other.",
		}, []string{"class"}),
		dialDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    NameDialDuration,
			Help:    "Time taken by POST /call, whatever its answer.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameCallOutcomes,
			Help: "Call results applied by this process (from end-of-call reports and the reconciler), by outcome.",
		}, []string{"outcome"}),
		webhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameWebhookEvents,
			Help: "Webhook requests answered, by message type and result.",
		}, []string{"type", "result"}),
		predialChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NamePredialChecks,
			Help: "Pre-dial eligibility checks (--predial-url), by result: eligible, ineligible, error (no usable answer; not dialed).",
		}, []string{"result"}),
		predialTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    NamePredialDuration,
			Help:    "Time taken by a pre-dial eligibility check, whatever its answer.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameNotifications,
			Help: "Notification deliveries (--notify-url), by kind and result: delivered, retry (failed, tried again later), gave_up.",
		}, []string{"kind", "result"}),
		notifyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    NameNotifyDuration,
			Help:    "Time taken by a notification delivery, whatever its answer.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		callerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameCallerNumberCalls,
			Help: "Calls created by POST /call, by the Vapi phone number they come from (not counting those refused for concurrency).",
		}, []string{"phone_number_id"}),
	}
	for _, k := range campaign.NotificationKinds() {
		for _, r := range jobs.NotifyResults() {
			m.notifications.WithLabelValues(string(k), string(r))
		}
	}
	for _, c := range errorClasses {
		m.createErrors.WithLabelValues(string(c))
	}
	for _, o := range outcomes {
		m.outcomes.WithLabelValues(string(o))
	}
	for _, r := range jobs.PredialResults() {
		m.predialChecks.WithLabelValues(string(r))
	}
	m.registry.MustRegister(m.callsCreated, m.createErrors, m.dialDuration, m.outcomes, m.webhookEvents,
		m.predialChecks, m.predialTime, m.notifications, m.notifyTime, m.callerCalls,
		m.live,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's text format. A metric that cannot be collected
// (the live calls, when the database is unreachable) is left out, the others are served, and
// the error is logged to logger (nil: not logged) and counted in
// promhttp_metric_handler_errors_total.
func (m *Metrics) Handler(logger *slog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: m.registry}
	if logger != nil {
		opts.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	}
	return promhttp.HandlerFor(m.registry, opts)
}

// ObserveCreateCall implements jobs.Observer: it times every POST /call and counts the call
// created (and by the phone number it comes from), or the class of its failure.
func (m *Metrics) ObserveCreateCall(took time.Duration, call *vapi.Call, err error) {
	m.dialDuration.Observe(took.Seconds())
	if err == nil && call != nil && !call.ConcurrencyBlocked() {
		m.callsCreated.Inc()
		if call.PhoneNumberID != "" {
			m.callerCalls.WithLabelValues(call.PhoneNumberID).Inc()
		}
		return
	}
	m.createErrors.WithLabelValues(string(Classify(call, err))).Inc()
}

// ObserveResult implements jobs.Observer: it counts the outcome of a result applied.
func (m *Metrics) ObserveResult(outcome campaign.Outcome) {
	m.outcomes.WithLabelValues(string(outcome)).Inc()
}

// ObservePredial implements jobs.Observer: it times every pre-dial check and counts its result.
func (m *Metrics) ObservePredial(took time.Duration, result jobs.PredialResult) {
	m.predialTime.Observe(took.Seconds())
	m.predialChecks.WithLabelValues(string(result)).Inc()
}

// ObserveNotification implements jobs.NotifyObserver: it times every notification delivery and
// counts its result by kind.
func (m *Metrics) ObserveNotification(kind campaign.NotificationKind, result jobs.NotifyResult, took time.Duration) {
	m.notifyTime.Observe(took.Seconds())
	m.notifications.WithLabelValues(string(kind), string(result)).Inc()
}

// ObserveWebhook implements webhook.Observer: it counts the request by type and result.
func (m *Metrics) ObserveWebhook(t vapi.ServerMessageType, r webhook.Result) {
	m.webhookEvents.WithLabelValues(webhookType(t), string(r)).Inc()
}

// Classify says why a POST /call that answered call and err placed no call.
func Classify(call *vapi.Call, err error) ErrorClass {
	if err == nil {
		if call != nil && call.ConcurrencyBlocked() {
			return ClassConcurrencyBlocked
		}
		return ClassOther
	}
	var apiErr *vapi.APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.StatusCode == http.StatusTooManyRequests:
			return ClassRateLimited
		case apiErr.ConcurrencyBlocked():
			return ClassConcurrencyBlocked
		case apiErr.StatusCode >= 500 || apiErr.StatusCode == http.StatusRequestTimeout:
			return ClassServer
		default:
			return ClassClient
		}
	}
	var reqErr *vapi.RequestError
	var netErr net.Error
	if errors.As(err, &reqErr) || errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ClassNetwork
	}
	return ClassOther
}

// webhookType is the type label of a webhook request's message type.
func webhookType(t vapi.ServerMessageType) string {
	switch t {
	case vapi.ServerMessageTypeStatusUpdate, vapi.ServerMessageTypeEndOfCallReport:
		return string(t)
	case "":
		return WebhookTypeUnknown
	}
	return WebhookTypeOther
}

// liveCallsCollector reads the live calls of every campaign from the database at each scrape,
// and the totals of those campaigns at most every TotalsMaxAge.
type liveCallsCollector struct {
	source       LiveCallsSource
	desc         *prometheus.Desc
	orphaned     *prometheus.Desc
	budgetPaused *prometheus.Desc
	scheduled    *prometheus.Desc
	expired      *prometheus.Desc
	contacts     *prometheus.Desc
	cost         *prometheus.Desc
	now          func() time.Time

	mu       sync.Mutex // held while the totals are read or served
	totals   map[int64]campaign.CampaignTotals
	totalsAt time.Time // when totals were read
}

func newLiveCallsCollector(source LiveCallsSource) *liveCallsCollector {
	return &liveCallsCollector{
		source: source,
		now:    time.Now,
		desc: prometheus.NewDesc(NameLiveCalls,
			"Live calls (created, not yet ended) of each campaign scheduled, running, paused or with a call live, from the database.",
			[]string{"campaign_id", "campaign"}, nil),
		orphaned: prometheus.NewDesc(NameOrphaned,
			"1 when the campaign is running and no runner runs it (its process died; see campaign status), else 0; "+
				"for each campaign scheduled, running, paused or with a call live, from the database.",
			[]string{"campaign_id", "campaign"}, nil),
		budgetPaused: prometheus.NewDesc(NameBudgetPaused,
			"1 when the campaign's budget cap (--max-cost) paused it, else 0; "+
				"for each campaign scheduled, running, paused or with a call live, from the database.",
			[]string{"campaign_id", "campaign"}, nil),
		scheduled: prometheus.NewDesc(NameScheduled,
			"1 when the campaign waits for its start (--start-at), else 0; "+
				"for each campaign scheduled, running, paused or with a call live, from the database.",
			[]string{"campaign_id", "campaign"}, nil),
		expired: prometheus.NewDesc(NameContactsExpired,
			"Contacts of the campaign its end (--end-by) came before (outcome expired); "+
				"for each campaign scheduled, running, paused or with a call live, from the database.",
			[]string{"campaign_id", "campaign"}, nil),
		contacts: prometheus.NewDesc(NameContacts,
			"Contacts of the campaign in each state; for each campaign scheduled, running, paused or with a call live, "+
				"from the database, read at most every 30 s.",
			[]string{"campaign_id", "campaign", "state"}, nil),
		cost: prometheus.NewDesc(NameCost,
			"Cost of the campaign's calls so far (USD, as Vapi reported it); for each campaign scheduled, running, "+
				"paused or with a call live, from the database, read at most every 30 s.",
			[]string{"campaign_id", "campaign"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *liveCallsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.orphaned
	ch <- c.budgetPaused
	ch <- c.scheduled
	ch <- c.expired
	ch <- c.contacts
	ch <- c.cost
}

// Collect implements prometheus.Collector.
func (c *liveCallsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), liveCallsTimeout)
	defer cancel()
	list, err := c.source.LiveCalls(ctx, time.Time{})
	if err != nil {
		// Served as an error (counted in promhttp_metric_handler_errors_total{cause="gathering"}
		// and logged); the other metrics are still served.
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		ch <- prometheus.NewInvalidMetric(c.orphaned, err)
		ch <- prometheus.NewInvalidMetric(c.budgetPaused, err)
		ch <- prometheus.NewInvalidMetric(c.scheduled, err)
		ch <- prometheus.NewInvalidMetric(c.expired, err)
		ch <- prometheus.NewInvalidMetric(c.contacts, err)
		ch <- prometheus.NewInvalidMetric(c.cost, err)
		return
	}
	for _, l := range list {
		id := strconv.FormatInt(l.ID, 10)
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(l.Live), id, l.Name)
		ch <- prometheus.MustNewConstMetric(c.orphaned, prometheus.GaugeValue, gauge(l.Orphaned), id, l.Name)
		ch <- prometheus.MustNewConstMetric(c.budgetPaused, prometheus.GaugeValue, gauge(l.BudgetPaused), id, l.Name)
		ch <- prometheus.MustNewConstMetric(c.scheduled, prometheus.GaugeValue, gauge(l.Scheduled), id, l.Name)
		ch <- prometheus.MustNewConstMetric(c.expired, prometheus.GaugeValue, float64(l.Expired), id, l.Name)
	}
	c.collectTotals(ctx, ch, list)
}

// collectTotals serves the contacts by state and the cost of the campaigns listed, read again
// when they are older than TotalsMaxAge or a campaign listed is not among them.
func (c *liveCallsCollector) collectTotals(ctx context.Context, ch chan<- prometheus.Metric, list []campaign.CampaignLiveCalls) {
	if len(list) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	stale := c.totals == nil || now.Sub(c.totalsAt) >= TotalsMaxAge
	ids := make([]int64, len(list))
	for i, l := range list {
		ids[i] = l.ID
		if _, ok := c.totals[l.ID]; !ok {
			stale = true
		}
	}
	if stale {
		totals, err := c.source.CampaignTotals(ctx, ids)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.contacts, err)
			ch <- prometheus.NewInvalidMetric(c.cost, err)
			return
		}
		c.totals, c.totalsAt = make(map[int64]campaign.CampaignTotals, len(totals)), now
		for _, t := range totals {
			c.totals[t.ID] = t
		}
	}
	for _, l := range list {
		t, ok := c.totals[l.ID]
		if !ok { // deleted since it was listed
			continue
		}
		id := strconv.FormatInt(l.ID, 10)
		for _, state := range campaign.ContactStates() {
			ch <- prometheus.MustNewConstMetric(c.contacts, prometheus.GaugeValue, float64(t.ByState[state]), id, l.Name, string(state))
		}
		ch <- prometheus.MustNewConstMetric(c.cost, prometheus.GaugeValue, t.Cost, id, l.Name)
	}
}

// gauge is a flag as a gauge's value: 1 or 0.
func gauge(flag bool) float64 {
	if flag {
		return 1
	}
	return 0
}

// compile-time checks that Metrics observes the workers and the receiver.
var (
	_ jobs.Observer       = (*Metrics)(nil)
	_ jobs.NotifyObserver = (*Metrics)(nil)
	_ webhook.Observer    = (*Metrics)(nil)
)
