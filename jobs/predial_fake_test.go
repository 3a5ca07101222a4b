package jobs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
)

// predialObserver records the pre-dial results it is told of.
type predialObserver struct {
	countingObserver
	mu      sync.Mutex
	predial []jobs.PredialResult
}

func (o *predialObserver) ObservePredial(_ time.Duration, r jobs.PredialResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.predial = append(o.predial, r)
}

// predialHook is a pre-dial hook on loopback that answers with status and body (or waits
// for release before answering, when block is set) and keeps every request it gets.
type predialHook struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
}

func newPredialHook(t *testing.T, status int, body string, block chan struct{}) *predialHook {
	t.Helper()
	h := &predialHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			raw = []byte(err.Error()) // not JSON: the test's decoding of it fails
		}
		h.mu.Lock()
		h.requests, h.bodies = append(h.requests, r), append(h.bodies, raw)
		h.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(h.Close)
	return h
}

// TestPredialOnFakes maps every answer of the pre-dial hook (a real server on loopback) to the
// store calls the dial worker makes: only an explicit yes journals an attempt and dials; a no ends
// the contact ineligible with the hook's reason; no usable answer puts it back in a minute.
func TestPredialOnFakes(t *testing.T) {
	t.Parallel()
	// The ids of setupDial: campaign 42, contact 7, attempt 9.
	dialed := []string{"UseAccount(42, acct)", "BeginAttempt(7)", "vapi CreateCall(" + campaign.AttemptKey(42, 7, 1) + ")",
		"CallCreated(9, call-1, created +1s)", "LearnAccountLimit(acct, 9, limit 0, remaining 0, refused false)"}
	backoff := []string{"UseAccount(42, acct)", "PredialFailed(7, retry +1m0s)"}
	tests := []struct {
		name     string
		status   int
		body     string
		slow     bool
		failures int // the contact's failed checks before this one
		want     []string
		result   jobs.PredialResult
	}{
		{name: "eligible", status: 200, body: `{"eligible": true}`, want: dialed, result: jobs.PredialEligible},
		{name: "eligible after failures clears them", status: 200, body: `{"eligible":true}`, failures: 2,
			want: after([]string{"UseAccount(42, acct)", "PredialPassed(7)"}, dialed[1:]...), result: jobs.PredialEligible},
		{name: "ineligible", status: 200, body: `{"eligible": false, "reason": "paid already"}`,
			want: []string{"UseAccount(42, acct)", `PredialIneligible(7, "paid already")`}, result: jobs.PredialIneligible},
		{name: "server error", status: 500, body: `{"eligible": true}`, want: backoff, result: jobs.PredialError},
		{name: "not JSON", status: 200, body: `yes`, want: backoff, result: jobs.PredialError},
		{name: "no eligible field", status: 200, body: `{"ok": true}`, want: backoff, result: jobs.PredialError},
		{name: "eligible not a boolean", status: 200, body: `{"eligible": "true"}`, want: backoff, result: jobs.PredialError},
		{name: "slower than the timeout", status: 200, body: `{"eligible": true}`, slow: true, want: backoff, result: jobs.PredialError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var block chan struct{}
			if tt.slow {
				block = make(chan struct{})
				t.Cleanup(func() { close(block) })
			}
			hook := newPredialHook(t, tt.status, tt.body, block)
			b := setupDial(t)
			b.campaign.Status, b.contact.State = campaign.StatusRunning, campaign.ContactQueued
			b.campaign.PredialURL = hook.URL + "/check"
			b.contact.PredialFailures = tt.failures
			b.store.PredialIneligibleFunc = func(_ context.Context, contactID int64, reason string, _ time.Time) error {
				b.record("PredialIneligible(%d, %q)", contactID, reason)
				return nil
			}
			b.store.PredialFailedFunc = func(_ context.Context, contactID int64, detail string, retryAt, _ time.Time) (bool, error) {
				require.NotEmpty(t, detail)
				b.record("PredialFailed(%d, retry %s)", contactID, at(retryAt))
				return false, nil
			}
			b.store.PredialPassedFunc = func(_ context.Context, contactID int64) error {
				b.record("PredialPassed(%d)", contactID)
				return nil
			}
			obs := &predialObserver{}
			b.worker.Observer = obs
			b.worker.Predial = jobs.NewPredial(200*time.Millisecond, 2)

			outcome, _ := riverOutcomeOf(b.work())
			require.Equal(t, outcomeComplete, outcome)
			require.Equal(t, tt.want, b.calls)
			require.Equal(t, []jobs.PredialResult{tt.result}, obs.predial)

			require.Len(t, hook.requests, 1)
			r := hook.requests[0]
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, "/check", r.URL.Path)
			require.Equal(t, "application/json", r.Header.Get("Content-Type"))
			require.Equal(t, b.campaign.WebhookSecret, r.Header.Get(jobs.WebhookSecretHeader))
			var got map[string]any
			require.NoError(t, json.Unmarshal(hook.bodies[0], &got))
			require.Equal(t, map[string]any{"message": map[string]any{
				"type": "campaign.predial", "campaignId": "42", "campaignName": "nov-reminders",
				"attempt": float64(b.contact.Attempts + 1),
				"contact": map[string]any{
					"id": "7", "campaignId": "42", "number": "+14155550132", "name": "Jane Doe",
					"externalId": b.contact.ExternalID,
					"variables":  map[string]any{"name": "Jane Doe", "first_name": "Jane", "amount_due": "120.50"},
				},
			}}, got)
		})
	}
}

// TestPredialSkippedOnFakes checks that a campaign without a hook is dialed without one, and
// that a contact no longer queued, or a campaign no longer running, asks no hook (BeginAttempt
// refuses them).
func TestPredialSkippedOnFakes(t *testing.T) {
	t.Parallel()
	hook := newPredialHook(t, 200, `{"eligible": true}`, nil)
	for _, tt := range []struct {
		name   string
		url    string
		status campaign.Status
		state  campaign.ContactState
	}{
		{name: "no hook", status: campaign.StatusRunning, state: campaign.ContactQueued},
		{name: "paused", url: hook.URL, status: campaign.StatusPaused, state: campaign.ContactQueued},
		{name: "not queued", url: hook.URL, status: campaign.StatusRunning, state: campaign.ContactInCall},
	} {
		b := setupDial(t)
		b.campaign.Status, b.contact.State, b.campaign.PredialURL = tt.status, tt.state, tt.url
		require.NoError(t, b.work(), tt.name)
		require.Contains(t, b.calls, "BeginAttempt(7)", tt.name)
	}
	require.Empty(t, hook.requests)
}
