package jobs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestPredialEndToEnd runs a campaign with a pre-dial hook (a real server on loopback) against
// the simulator and a real database: the simulator is asked to call exactly the contacts the hook
// said yes to; a no ends its contact ineligible with the hook's reason; a hook that never
// answers usably ends its contact ineligible after campaign.PredialMaxFailures checks; one that
// fails twice then says yes gets its contact called. Every check carries the campaign's secret.
func TestPredialEndToEnd(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		checks  = map[string]int{} // number → checks received
		secrets = map[string]bool{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req jobs.PredialRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest) // counted nowhere: the test fails
			return
		}
		mu.Lock()
		checks[req.Message.Contact.Number]++
		n := checks[req.Message.Contact.Number]
		secrets[r.Header.Get(jobs.WebhookSecretHeader)] = true
		mu.Unlock()
		switch req.Message.Contact.Number {
		case "+14155551002":
			_, _ = w.Write([]byte(`{"eligible": false, "reason": "already paid"}`))
		case "+14155551003":
			http.Error(w, "down", http.StatusInternalServerError)
		case "+14155551004":
			switch n {
			case 1:
				http.Error(w, "down", http.StatusBadGateway)
			case 2:
				_, _ = w.Write([]byte(`not json`))
			default:
				_, _ = w.Write([]byte(`{"eligible": true}`))
			}
		default:
			_, _ = w.Write([]byte(`{"eligible": true}`))
		}
	}))
	t.Cleanup(hook.Close)

	b := setupE2E(t, 5, 5, vapitest.Faults{}, func(s *campaign.Settings) {
		s.PredialURL = hook.URL
		s.RetryTimeScale = 600 // a failed check is retried after 100 ms
	})
	b.startRunner(t)
	b.waitFinal(t, time.Minute)
	b.checkGuarantees(t, 5)

	var called []string
	for _, call := range b.sim.Calls() {
		if call.EndedReason != vapi.EndedReasonConcurrencyLimitReached {
			called = append(called, call.Number)
		}
	}
	require.ElementsMatch(t, []string{"+14155551000", "+14155551001", "+14155551004"}, called)

	contacts, err := b.store.Contacts(context.Background(), b.c.ID, 10)
	require.NoError(t, err)
	byNumber := map[string]campaign.Contact{}
	for _, ct := range contacts {
		byNumber[ct.Phone] = ct
	}
	paid := byNumber["+14155551002"]
	require.Equal(t, campaign.ContactFailed, paid.State)
	require.Equal(t, string(campaign.OutcomeIneligible), paid.Outcome)
	require.Equal(t, "already paid", paid.PredialReason)
	require.Zero(t, paid.Attempts)

	down := byNumber["+14155551003"]
	require.Equal(t, campaign.ContactFailed, down.State)
	require.Equal(t, string(campaign.OutcomeIneligible), down.Outcome)
	require.True(t, strings.HasPrefix(down.PredialReason, "pre-dial check failed 5 times: "), down.PredialReason)
	require.Zero(t, down.Attempts)

	flaky := byNumber["+14155551004"]
	require.NotEqual(t, string(campaign.OutcomeIneligible), flaky.Outcome)
	require.Equal(t, 1, flaky.Attempts)
	require.Zero(t, flaky.PredialFailures, "the yes cleared the failed checks")

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, checks["+14155551002"])
	require.Equal(t, campaign.PredialMaxFailures, checks["+14155551003"])
	require.Equal(t, 3, checks["+14155551004"])
	require.Equal(t, map[string]bool{"e2e-secret": true}, secrets)

	c, err := b.store.Campaign(context.Background(), b.c.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, c.Status)

	// The report counts them, the export shows why.
	facts, err := b.store.ReportFacts(context.Background(), b.c.ID)
	require.NoError(t, err)
	require.Contains(t, facts.Contacts, campaign.ContactCount{State: campaign.ContactFailed,
		Outcome: string(campaign.OutcomeIneligible), Contacts: 2})
	snap, err := b.store.BeginResults(context.Background(), b.c.ID)
	require.NoError(t, err)
	defer func() { require.NoError(t, snap.Close(context.Background())) }()
	reasons := map[string]string{}
	require.NoError(t, snap.EachContact(context.Background(), campaign.ExportFilter{Outcomes: []string{string(campaign.OutcomeIneligible)}}, nil,
		func(r *campaign.ContactResult) error {
			reasons[r.Phone] = r.IneligibleReason
			return nil
		}))
	require.Equal(t, map[string]string{"+14155551002": "already paid", "+14155551003": down.PredialReason}, reasons)
}
