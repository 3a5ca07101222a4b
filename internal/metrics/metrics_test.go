package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/metrics"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/webhook"
)

// liveCallsFunc adapts a function to metrics.LiveCallsSource.
type liveCallsFunc func(ctx context.Context, createdBy time.Time) ([]campaign.CampaignLiveCalls, error)

func (f liveCallsFunc) LiveCalls(ctx context.Context, createdBy time.Time) ([]campaign.CampaignLiveCalls, error) {
	return f(ctx, createdBy)
}

// CampaignTotals implements metrics.LiveCallsSource: none (no campaign_contacts or
// campaign_cost_usd is served).
func (f liveCallsFunc) CampaignTotals(context.Context, []int64) ([]campaign.CampaignTotals, error) {
	return nil, nil
}

// source is a metrics.LiveCallsSource of two functions.
type source struct {
	LiveCallsFunc      func(ctx context.Context, createdBy time.Time) ([]campaign.CampaignLiveCalls, error)
	CampaignTotalsFunc func(ctx context.Context, campaignIDs []int64) ([]campaign.CampaignTotals, error)
}

func (s source) LiveCalls(ctx context.Context, createdBy time.Time) ([]campaign.CampaignLiveCalls, error) {
	return s.LiveCallsFunc(ctx, createdBy)
}

func (s source) CampaignTotals(ctx context.Context, campaignIDs []int64) ([]campaign.CampaignTotals, error) {
	return s.CampaignTotalsFunc(ctx, campaignIDs)
}

// TestCampaignTotals: the contacts by state (every state, zeros included) and the cost of each
// campaign listed, read at the first scrape, served from memory until TotalsMaxAge has passed or
// a campaign appears, then read again; a failed read leaves out these two alone.
func TestCampaignTotals(t *testing.T) {
	t.Parallel()
	listed := []campaign.CampaignLiveCalls{{ID: 3, Name: "nov", Status: campaign.StatusRunning, Live: 2}}
	var (
		reads   [][]int64
		failing error
		cost    = 12.5
	)
	m := metrics.New(source{
		LiveCallsFunc: func(context.Context, time.Time) ([]campaign.CampaignLiveCalls, error) { return listed, nil },
		CampaignTotalsFunc: func(_ context.Context, ids []int64) ([]campaign.CampaignTotals, error) {
			reads = append(reads, ids)
			if failing != nil {
				return nil, failing
			}
			var out []campaign.CampaignTotals
			for _, id := range ids {
				out = append(out, campaign.CampaignTotals{ID: id, Cost: cost * float64(id),
					ByState: map[campaign.ContactState]int{campaign.ContactPending: int(id) * 100, campaign.ContactCompleted: 7}})
			}
			return out, nil
		},
	})
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	metrics.SetClock(m, func() time.Time { return now })
	url := scrape(t, m)

	body := get(t, url)
	require.Equal(t, `# HELP campaign_contacts Contacts of the campaign in each state; for each campaign scheduled, running, paused or with a call live, from the database, read at most every 30 s.
# TYPE campaign_contacts gauge
campaign_contacts{campaign="nov",campaign_id="3",state="cancelled"} 0
campaign_contacts{campaign="nov",campaign_id="3",state="completed"} 7
campaign_contacts{campaign="nov",campaign_id="3",state="do_not_call"} 0
campaign_contacts{campaign="nov",campaign_id="3",state="failed"} 0
campaign_contacts{campaign="nov",campaign_id="3",state="in_call"} 0
campaign_contacts{campaign="nov",campaign_id="3",state="pending"} 300
campaign_contacts{campaign="nov",campaign_id="3",state="queued"} 0
# HELP campaign_cost_usd Cost of the campaign's calls so far (USD, as Vapi reported it); for each campaign scheduled, running, paused or with a call live, from the database, read at most every 30 s.
# TYPE campaign_cost_usd gauge
campaign_cost_usd{campaign="nov",campaign_id="3"} 37.5
`, family(body, metrics.NameContacts)+family(body, metrics.NameCost))
	require.Equal(t, [][]int64{{3}}, reads)

	// Within TotalsMaxAge: from memory.
	cost = 20
	now = now.Add(metrics.TotalsMaxAge - time.Second)
	require.Contains(t, get(t, url), `campaign_cost_usd{campaign="nov",campaign_id="3"} 37.5`)
	require.Len(t, reads, 1)
	// A campaign appears: read again, for both.
	listed = append(listed, campaign.CampaignLiveCalls{ID: 5, Name: "dec", Status: campaign.StatusPaused})
	body = get(t, url)
	require.Equal(t, []int64{3, 5}, reads[1])
	require.Contains(t, body, `campaign_cost_usd{campaign="nov",campaign_id="3"} 60`)
	require.Contains(t, body, `campaign_contacts{campaign="dec",campaign_id="5",state="pending"} 500`)
	// TotalsMaxAge later: read again; when that fails, these two are left out, the others served.
	now = now.Add(metrics.TotalsMaxAge)
	failing = errors.New("connection refused")
	body = get(t, url)
	require.Len(t, reads, 3)
	require.NotContains(t, body, "campaign_contacts{")
	require.NotContains(t, body, "campaign_cost_usd{")
	require.Contains(t, body, `campaign_live_calls{campaign="nov",campaign_id="3"} 2`)
	// A campaign no longer listed is no longer served.
	failing, listed = nil, listed[1:]
	body = get(t, url)
	require.NotContains(t, body, `campaign_id="3"`)
	require.Contains(t, body, `campaign_cost_usd{campaign="dec",campaign_id="5"} 100`)
}

// scrape serves m and returns its URL.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler(nil))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	var scrapes int
	m := metrics.New(liveCallsFunc(func(_ context.Context, createdBy time.Time) ([]campaign.CampaignLiveCalls, error) {
		scrapes++
		require.True(t, createdBy.IsZero(), "every live call counts")
		return []campaign.CampaignLiveCalls{
			{ID: 3, Name: "nov-reminders", Mode: campaign.ModeService, Status: campaign.StatusRunning, Live: 7, Expired: 4},
			{ID: 9, Name: `say "hi"`, Mode: campaign.ModeForeground, Status: campaign.StatusPaused, Live: 0, BudgetPaused: true},
			{ID: 12, Name: "phantom", Mode: campaign.ModeForeground, Status: campaign.StatusRunning, Live: 5, Orphaned: true},
			{ID: 14, Name: "dec-reminders", Mode: campaign.ModeService, Status: campaign.StatusScheduled, Scheduled: true},
		}, nil
	}))
	placed := &vapi.Call{ID: "c1"}
	blocked := &vapi.Call{ID: "c2", SubscriptionLimits: &vapi.SubscriptionLimits{ConcurrencyBlocked: true}}
	m.ObserveCreateCall(40*time.Millisecond, placed, nil)
	m.ObserveCreateCall(200*time.Millisecond, placed, nil)
	m.ObserveCreateCall(300*time.Millisecond, blocked, nil)
	m.ObserveCreateCall(3*time.Second, nil, &vapi.APIError{Op: vapi.OperationCreateCall, StatusCode: http.StatusTooManyRequests})
	m.ObserveCreateCall(time.Minute, nil, &vapi.RequestError{Op: vapi.OperationCreateCall, MaybeSent: true, Err: context.DeadlineExceeded})
	m.ObserveResult(campaign.OutcomeCompleted)
	m.ObserveResult(campaign.OutcomeCompleted)
	m.ObserveResult(campaign.OutcomeNoAnswer)
	m.ObservePredial(30*time.Millisecond, jobs.PredialEligible)
	m.ObservePredial(200*time.Millisecond, jobs.PredialEligible)
	m.ObservePredial(5*time.Second, jobs.PredialError)
	m.ObserveWebhook(vapi.ServerMessageTypeStatusUpdate, webhook.ResultRecorded)
	m.ObserveWebhook(vapi.ServerMessageTypeEndOfCallReport, webhook.ResultRecorded)
	m.ObserveWebhook(vapi.ServerMessageTypeEndOfCallReport, webhook.ResultError)
	m.ObserveWebhook("transcript", webhook.ResultRecorded)
	m.ObserveWebhook("made-up-by-a-stranger", webhook.ResultUnauthorized)
	m.ObserveWebhook("", webhook.ResultUnauthorized)
	m.ObserveWebhook("", webhook.ResultMethodNotAllowed)

	body := get(t, scrape(t, m))
	want := `
# HELP campaign_calls_created_total Calls created by POST /call (not counting those refused for concurrency).
# TYPE campaign_calls_created_total counter
campaign_calls_created_total 2
# HELP campaign_call_create_errors_total POST /call that placed no call, by class: concurrency_blocked, rate_limited, server, client, network, other.
# TYPE campaign_call_create_errors_total counter
campaign_call_create_errors_total{class="client"} 0
campaign_call_create_errors_total{class="concurrency_blocked"} 1
campaign_call_create_errors_total{class="network"} 1
campaign_call_create_errors_total{class="other"} 0
campaign_call_create_errors_total{class="rate_limited"} 1
campaign_call_create_errors_total{class="server"} 0
# HELP campaign_dial_duration_seconds Time taken by POST /call, whatever its answer.
# TYPE campaign_dial_duration_seconds histogram
campaign_dial_duration_seconds_bucket{le="0.05"} 1
campaign_dial_duration_seconds_bucket{le="0.1"} 1
campaign_dial_duration_seconds_bucket{le="0.25"} 2
campaign_dial_duration_seconds_bucket{le="0.5"} 3
campaign_dial_duration_seconds_bucket{le="1"} 3
campaign_dial_duration_seconds_bucket{le="2.5"} 3
campaign_dial_duration_seconds_bucket{le="5"} 4
campaign_dial_duration_seconds_bucket{le="10"} 4
campaign_dial_duration_seconds_bucket{le="30"} 4
campaign_dial_duration_seconds_bucket{le="+Inf"} 5
campaign_dial_duration_seconds_sum 63.54
campaign_dial_duration_seconds_count 5
# HELP campaign_call_outcomes_total Call results applied by this process (from end-of-call reports and the reconciler), by outcome.
# TYPE campaign_call_outcomes_total counter
campaign_call_outcomes_total{outcome="busy"} 0
campaign_call_outcomes_total{outcome="capacity"} 0
campaign_call_outcomes_total{outcome="completed"} 2
campaign_call_outcomes_total{outcome="failed_permanent"} 0
campaign_call_outcomes_total{outcome="failed_retryable"} 0
campaign_call_outcomes_total{outcome="no_answer"} 1
campaign_call_outcomes_total{outcome="voicemail"} 0
# HELP campaign_predial_checks_total Pre-dial eligibility checks (--predial-url), by result: eligible, ineligible, error (no usable answer; not dialed).
# TYPE campaign_predial_checks_total counter
campaign_predial_checks_total{result="eligible"} 2
campaign_predial_checks_total{result="error"} 1
campaign_predial_checks_total{result="ineligible"} 0
# HELP campaign_predial_duration_seconds Time taken by a pre-dial eligibility check, whatever its answer.
# TYPE campaign_predial_duration_seconds histogram
campaign_predial_duration_seconds_bucket{le="0.01"} 0
campaign_predial_duration_seconds_bucket{le="0.025"} 0
campaign_predial_duration_seconds_bucket{le="0.05"} 1
campaign_predial_duration_seconds_bucket{le="0.1"} 1
campaign_predial_duration_seconds_bucket{le="0.25"} 2
campaign_predial_duration_seconds_bucket{le="0.5"} 2
campaign_predial_duration_seconds_bucket{le="1"} 2
campaign_predial_duration_seconds_bucket{le="2.5"} 2
campaign_predial_duration_seconds_bucket{le="5"} 3
campaign_predial_duration_seconds_bucket{le="10"} 3
campaign_predial_duration_seconds_bucket{le="+Inf"} 3
campaign_predial_duration_seconds_sum 5.23
campaign_predial_duration_seconds_count 3
# HELP campaign_webhook_events_total Webhook requests answered, by message type and result.
# TYPE campaign_webhook_events_total counter
campaign_webhook_events_total{result="error",type="end-of-call-report"} 1
campaign_webhook_events_total{result="method_not_allowed",type="unknown"} 1
campaign_webhook_events_total{result="recorded",type="end-of-call-report"} 1
campaign_webhook_events_total{result="recorded",type="other"} 1
campaign_webhook_events_total{result="recorded",type="status-update"} 1
campaign_webhook_events_total{result="unauthorized",type="other"} 1
campaign_webhook_events_total{result="unauthorized",type="unknown"} 1
# HELP campaign_live_calls Live calls (created, not yet ended) of each campaign scheduled, running, paused or with a call live, from the database.
# TYPE campaign_live_calls gauge
campaign_live_calls{campaign="dec-reminders",campaign_id="14"} 0
campaign_live_calls{campaign="nov-reminders",campaign_id="3"} 7
campaign_live_calls{campaign="phantom",campaign_id="12"} 5
campaign_live_calls{campaign="say \"hi\"",campaign_id="9"} 0
# HELP campaign_orphaned 1 when the campaign is running and no runner runs it (its process died; see campaign status), else 0; for each campaign scheduled, running, paused or with a call live, from the database.
# TYPE campaign_orphaned gauge
campaign_orphaned{campaign="dec-reminders",campaign_id="14"} 0
campaign_orphaned{campaign="nov-reminders",campaign_id="3"} 0
campaign_orphaned{campaign="phantom",campaign_id="12"} 1
campaign_orphaned{campaign="say \"hi\"",campaign_id="9"} 0
# HELP campaign_budget_paused 1 when the campaign's budget cap (--max-cost) paused it, else 0; for each campaign scheduled, running, paused or with a call live, from the database.
# TYPE campaign_budget_paused gauge
campaign_budget_paused{campaign="dec-reminders",campaign_id="14"} 0
campaign_budget_paused{campaign="nov-reminders",campaign_id="3"} 0
campaign_budget_paused{campaign="phantom",campaign_id="12"} 0
campaign_budget_paused{campaign="say \"hi\"",campaign_id="9"} 1
# HELP campaign_scheduled 1 when the campaign waits for its start (--start-at), else 0; for each campaign scheduled, running, paused or with a call live, from the database.
# TYPE campaign_scheduled gauge
campaign_scheduled{campaign="dec-reminders",campaign_id="14"} 1
campaign_scheduled{campaign="nov-reminders",campaign_id="3"} 0
campaign_scheduled{campaign="phantom",campaign_id="12"} 0
campaign_scheduled{campaign="say \"hi\"",campaign_id="9"} 0
# HELP campaign_contacts_expired Contacts of the campaign its end (--end-by) came before (outcome expired); for each campaign scheduled, running, paused or with a call live, from the database.
# TYPE campaign_contacts_expired gauge
campaign_contacts_expired{campaign="dec-reminders",campaign_id="14"} 0
campaign_contacts_expired{campaign="nov-reminders",campaign_id="3"} 4
campaign_contacts_expired{campaign="phantom",campaign_id="12"} 0
campaign_contacts_expired{campaign="say \"hi\"",campaign_id="9"} 0
`
	var got strings.Builder
	for _, name := range []string{metrics.NameCallsCreated, metrics.NameCallCreateErrors, metrics.NameDialDuration,
		metrics.NameCallOutcomes, metrics.NamePredialChecks, metrics.NamePredialDuration, metrics.NameWebhookEvents,
		metrics.NameLiveCalls, metrics.NameOrphaned, metrics.NameBudgetPaused, metrics.NameScheduled, metrics.NameContactsExpired} {
		got.WriteString(family(body, name))
	}
	require.Equal(t, strings.TrimPrefix(want, "\n"), got.String())
	require.Equal(t, 1, scrapes, "the live calls are read at each scrape")

	// The process's own metrics come along.
	require.Contains(t, body, "go_goroutines ")
	require.Contains(t, body, "process_start_time_seconds ")
}

// TestLiveCallsUnreadable: when the database cannot be read, the live calls are left out, the
// other metrics are served and the failure is counted.
func TestLiveCallsUnreadable(t *testing.T) {
	t.Parallel()
	m := metrics.New(liveCallsFunc(func(context.Context, time.Time) ([]campaign.CampaignLiveCalls, error) {
		return nil, errors.New("connection refused")
	}))
	m.ObserveCreateCall(time.Millisecond, &vapi.Call{ID: "c1"}, nil)
	url := scrape(t, m)
	body := get(t, url)
	require.Contains(t, body, "campaign_calls_created_total 1")
	require.NotContains(t, body, "campaign_live_calls{")
	require.NotContains(t, body, "campaign_budget_paused{")
	require.NotContains(t, body, "campaign_scheduled{")
	require.NotContains(t, body, "campaign_contacts_expired{")
	// The failure is counted once the scrape is over: the next one shows it.
	require.Contains(t, get(t, url), `promhttp_metric_handler_errors_total{cause="gathering"} 1`)
}

func TestClassify(t *testing.T) {
	t.Parallel()
	api := func(status int, messages ...string) error {
		return fmt.Errorf("dial: %w", &vapi.APIError{Op: vapi.OperationCreateCall, StatusCode: status, Messages: messages})
	}
	for _, tc := range []struct {
		name string
		call *vapi.Call
		err  error
		want metrics.ErrorClass
	}{
		{"blocked 201", &vapi.Call{SubscriptionLimits: &vapi.SubscriptionLimits{ConcurrencyBlocked: true}}, nil, metrics.ClassConcurrencyBlocked},
		{"blocked by ended reason", &vapi.Call{EndedReason: vapi.EndedReasonConcurrencyLimitReached}, nil, metrics.ClassConcurrencyBlocked},
		{"no call, no error", nil, nil, metrics.ClassOther},
		{"400 over concurrency", nil, api(400, "Over Concurrency Limit"), metrics.ClassConcurrencyBlocked},
		{"429", nil, api(429), metrics.ClassRateLimited},
		{"500", nil, api(500), metrics.ClassServer},
		{"503", nil, api(503), metrics.ClassServer},
		{"408", nil, api(408), metrics.ClassServer},
		{"400 validation", nil, api(400, "property foo should not exist"), metrics.ClassClient},
		{"401", nil, api(401), metrics.ClassClient},
		{"timeout", nil, &vapi.RequestError{Op: vapi.OperationCreateCall, MaybeSent: true, Err: context.DeadlineExceeded}, metrics.ClassNetwork},
		{"refused", nil, &vapi.RequestError{Op: vapi.OperationCreateCall, Err: syscall.ECONNREFUSED}, metrics.ClassNetwork},
		{"cancelled", nil, context.Canceled, metrics.ClassNetwork},
		{"anything else", nil, errors.New("boom"), metrics.ClassOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, metrics.Classify(tc.call, tc.err))
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// family returns the lines of the metric family name in a text exposition: its HELP and TYPE
// lines and its samples, in the order served.
func family(body, name string) string {
	var b strings.Builder
	for line := range strings.Lines(body) {
		sample, _, _ := strings.Cut(line, " ")
		sample, _, _ = strings.Cut(sample, "{")
		if strings.HasPrefix(line, "# HELP "+name+" ") || strings.HasPrefix(line, "# TYPE "+name+" ") ||
			sample == name || sample == name+"_bucket" || sample == name+"_sum" || sample == name+"_count" {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestNotificationMetrics counts deliveries by kind and result, every pair from zero, and times
// them.
func TestNotificationMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New(liveCallsFunc(func(context.Context, time.Time) ([]campaign.CampaignLiveCalls, error) { return nil, nil }))
	m.ObserveNotification(campaign.KindCompleted, jobs.NotifyDelivered, 80*time.Millisecond)
	m.ObserveNotification(campaign.KindFailureSpike, jobs.NotifyRetry, 10*time.Second)
	m.ObserveNotification(campaign.KindFailureSpike, jobs.NotifyGaveUp, 2*time.Second)
	body := get(t, scrape(t, m))
	counts := family(body, metrics.NameNotifications)
	require.Contains(t, counts, `campaign_notifications_total{kind="completed",result="delivered"} 1`+"\n")
	require.Contains(t, counts, `campaign_notifications_total{kind="failure_spike",result="retry"} 1`+"\n")
	require.Contains(t, counts, `campaign_notifications_total{kind="failure_spike",result="gave_up"} 1`+"\n")
	require.Contains(t, counts, `campaign_notifications_total{kind="deadline",result="delivered"} 0`+"\n")
	require.Equal(t, 5*3+2, strings.Count(counts, "\n"), "every kind and result, with HELP and TYPE")
	times := family(body, metrics.NameNotifyDuration)
	require.Contains(t, times, `campaign_notification_duration_seconds_bucket{le="0.1"} 1`+"\n")
	require.Contains(t, times, `campaign_notification_duration_seconds_bucket{le="2.5"} 2`+"\n")
	require.Contains(t, times, "campaign_notification_duration_seconds_count 3\n")
}

// TestCallerNumberCalls: the calls created are counted by the phone number they come from; a
// call refused for concurrency, or one whose answer names no number, is not.
func TestCallerNumberCalls(t *testing.T) {
	t.Parallel()
	m := metrics.New(liveCallsFunc(func(context.Context, time.Time) ([]campaign.CampaignLiveCalls, error) { return nil, nil }))
	m.ObserveCreateCall(time.Millisecond, &vapi.Call{ID: "c1", PhoneNumberID: "pn-a"}, nil)
	m.ObserveCreateCall(time.Millisecond, &vapi.Call{ID: "c2", PhoneNumberID: "pn-a"}, nil)
	m.ObserveCreateCall(time.Millisecond, &vapi.Call{ID: "c3", PhoneNumberID: "pn-b"}, nil)
	m.ObserveCreateCall(time.Millisecond, &vapi.Call{ID: "c4", PhoneNumberID: "pn-b",
		SubscriptionLimits: &vapi.SubscriptionLimits{ConcurrencyBlocked: true}}, nil)
	m.ObserveCreateCall(time.Millisecond, &vapi.Call{ID: "c5"}, nil)
	body := get(t, scrape(t, m))
	require.Contains(t, body, `campaign_caller_number_calls_created_total{phone_number_id="pn-a"} 2`+"\n")
	require.Contains(t, body, `campaign_caller_number_calls_created_total{phone_number_id="pn-b"} 1`+"\n")
	require.NotContains(t, body, `phone_number_id=""`)
	require.Contains(t, body, "campaign_calls_created_total 4\n")
}
