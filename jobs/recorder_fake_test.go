package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/webhook"
)

// recorderBundle is a Recorder on a fake store that records every call, in order; the store
// saves events as id 5, knows campaign 42 with secret "s3cret", and applies what it is given.
type recorderBundle struct {
	store    *fakeStore
	recorder *jobs.Recorder
	observer countingObserver
	calls    []string
}

func (b *recorderBundle) record(format string, args ...any) {
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

func setupRecorder(t *testing.T) *recorderBundle {
	t.Helper()
	b := &recorderBundle{}
	b.store = &fakeStore{
		CampaignSecretFunc: func(_ context.Context, campaignID int64) (string, error) {
			if campaignID == 42 {
				return "s3cret", nil
			}
			return "", fmt.Errorf("campaign %d secret: %w", campaignID, campaign.ErrNotFound)
		},
		SaveEventFunc: func(_ context.Context, e campaign.WebhookEvent) (int64, error) {
			b.record("SaveEvent(%s, call %s, key %s, campaign %d, received %s)", e.Type, e.CallID, e.AttemptKey, e.CampaignID, at(e.ReceivedAt))
			return 5, nil
		},
		ApplyResultFunc: func(_ context.Context, r campaign.CallResult, _ time.Time) (bool, error) {
			b.record("ApplyResult(call %s, key %s, campaign %d, %s)", r.CallID, r.AttemptKey, r.CampaignID, r.EndedReason)
			return true, nil
		},
		ApplyStatusFunc: func(_ context.Context, campaignID int64, callID, attemptKey, status, endedReason string, _ time.Time) error {
			b.record("ApplyStatus(campaign %d, call %s, key %s, %s, %s)", campaignID, callID, attemptKey, status, endedReason)
			return nil
		},
		MarkEventAppliedFunc: func(_ context.Context, id int64, applyErr string, _ time.Time) error {
			b.record("MarkEventApplied(%d, %q)", id, applyErr)
			return nil
		},
		MarkEventRejectedFunc: func(_ context.Context, id int64, reason string) error {
			b.record("MarkEventRejected(%d, %q)", id, reason)
			return nil
		},
	}
	b.recorder = &jobs.Recorder{Store: b.store, Now: func() time.Time { return fakeNow },
		Logger: slog.New(slog.DiscardHandler), Observer: &b.observer}
	return b
}

// failApply makes ApplyResult fail with err.
func (b *recorderBundle) failApply(err error) {
	b.store.ApplyResultFunc = func(_ context.Context, r campaign.CallResult, _ time.Time) (bool, error) {
		b.record("ApplyResult(call %s)", r.CallID)
		return false, err
	}
}

// recorderEvent is an authenticated webhook event of campaign 42 about call-1: an
// end-of-call report (typ "end-of-call-report"), an "ended" status update, or another type.
func recorderEvent(typ vapi.ServerMessageType) *webhook.Event {
	key := campaign.AttemptKey(42, 7, 1)
	e := &webhook.Event{Type: typ, CallID: "call-1", AttemptKey: key, CampaignID: 42, Auth: webhook.AuthCampaignSecret,
		Message: &vapi.ServerMessage{Type: typ}, Body: []byte(`{"message":{}}`), ReceivedAt: fakeNow}
	switch typ {
	case vapi.ServerMessageTypeEndOfCallReport:
		e.Message.EndOfCallReport = &vapi.EndOfCallReport{Type: typ, EndedReason: "customer-busy",
			Call: &vapi.Call{ID: "call-1", Name: key}}
	case vapi.ServerMessageTypeStatusUpdate:
		e.Status = string(vapi.CallStatusEnded)
		e.Message.StatusUpdate = &vapi.StatusUpdate{Type: typ, Status: vapi.CallStatusEnded, EndedReason: "customer-busy"}
	}
	return e
}

// TestRecorderOnFakes covers the recorder with no database: every event is saved raw before
// anything else, then applied, then marked; an unknown call is kept and not an error; a failure
// to apply is returned, so that Vapi delivers the event again; a rejected event is marked so and
// answered with webhook.ErrRejected.
func TestRecorderOnFakes(t *testing.T) {
	t.Parallel()
	key := campaign.AttemptKey(42, 7, 1)
	saveReport := "SaveEvent(end-of-call-report, call call-1, key " + key + ", campaign 42, received +0s)"
	saveStatus := "SaveEvent(status-update, call call-1, key " + key + ", campaign 42, received +0s)"
	applied := `MarkEventApplied(5, "")`
	cases := []struct {
		name  string
		typ   vapi.ServerMessageType
		tweak func(*recorderBundle)
		want  []string
		// wantErr is "" for no error, else text the error contains; rejected: it is
		// webhook.ErrRejected.
		wantErr  string
		rejected bool
		results  []campaign.Outcome
	}{
		{name: "end-of-call report: saved, applied, marked", typ: vapi.ServerMessageTypeEndOfCallReport,
			want:    []string{saveReport, "ApplyResult(call call-1, key " + key + ", campaign 42, customer-busy)", applied},
			results: []campaign.Outcome{campaign.OutcomeBusy}},
		{name: "a report applied before: nobody told twice", typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak: func(b *recorderBundle) { b.failApply(nil) },
			want:  []string{saveReport, "ApplyResult(call call-1)", applied}},
		{name: "status update: saved, applied, marked", typ: vapi.ServerMessageTypeStatusUpdate,
			want: []string{saveStatus, "ApplyStatus(campaign 42, call call-1, key " + key + ", ended, customer-busy)", applied}},
		{name: "another type: saved and marked, not applied", typ: "transcript",
			want: []string{"SaveEvent(transcript, call call-1, key " + key + ", campaign 42, received +0s)", applied}},
		{name: "unknown call: kept, not an error", typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak: func(b *recorderBundle) { b.failApply(fmt.Errorf("call call-1: %w", campaign.ErrUnknownCall)) },
			want:  []string{saveReport, "ApplyResult(call call-1)", `MarkEventApplied(5, "unknown call")`}},
		{name: "applying fails: marked with the error, which is returned so that Vapi retries",
			typ:     vapi.ServerMessageTypeEndOfCallReport,
			tweak:   func(b *recorderBundle) { b.failApply(errors.New("database down")) },
			want:    []string{saveReport, "ApplyResult(call call-1)", `MarkEventApplied(5, "database down")`},
			wantErr: "database down"},
		{name: "applying and marking fail: both returned", typ: vapi.ServerMessageTypeStatusUpdate,
			tweak: func(b *recorderBundle) {
				b.store.ApplyStatusFunc = func(context.Context, int64, string, string, string, string, time.Time) error {
					b.record("ApplyStatus")
					return errors.New("database down")
				}
				b.store.MarkEventAppliedFunc = func(_ context.Context, id int64, applyErr string, _ time.Time) error {
					b.record("MarkEventApplied(%d, %q)", id, applyErr)
					return errors.New("database still down")
				}
			},
			want:    []string{saveStatus, "ApplyStatus", `MarkEventApplied(5, "database down")`},
			wantErr: "database down\ndatabase still down"},
		{name: "rejected: marked so, never applied, answered with ErrRejected", typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak: func(b *recorderBundle) {
				b.failApply(&campaign.EventRejectedError{Reason: "call call-1 is not of campaign 42"})
			},
			want:     []string{saveReport, "ApplyResult(call call-1)", `MarkEventRejected(5, "call call-1 is not of campaign 42")`},
			wantErr:  "call call-1 is not of campaign 42",
			rejected: true},
		{name: "saving fails: nothing applied, the error returned so that Vapi retries",
			typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak: func(b *recorderBundle) {
				b.store.SaveEventFunc = func(context.Context, campaign.WebhookEvent) (int64, error) {
					b.record("SaveEvent")
					return 0, errors.New("database down")
				}
			},
			want:    []string{"SaveEvent"},
			wantErr: "database down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupRecorder(t)
			if tc.tweak != nil {
				tc.tweak(b)
			}
			err := b.recorder.Record(context.Background(), recorderEvent(tc.typ))
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.wantErr)
			}
			require.Equal(t, tc.rejected, errors.Is(err, webhook.ErrRejected))
			require.Equal(t, tc.want, b.calls)
			require.Equal(t, tc.results, b.observer.results)
		})
	}
}

// TestRecorderSecretsOnFakes: a campaign the store does not know has no secret (the request is
// refused as unauthorized); a store that fails fails the lookup (the request is failed).
func TestRecorderSecretsOnFakes(t *testing.T) {
	t.Parallel()
	b := setupRecorder(t)
	ctx := context.Background()
	secret, err := b.recorder.CampaignSecret(ctx, 42)
	require.NoError(t, err)
	require.Equal(t, "s3cret", secret)
	secret, err = b.recorder.CampaignSecret(ctx, 43)
	require.NoError(t, err)
	require.Empty(t, secret)
	b.store.CampaignSecretFunc = func(context.Context, int64) (string, error) { return "", errors.New("database down") }
	_, err = b.recorder.CampaignSecret(ctx, 42)
	require.ErrorContains(t, err, "database down")
}

// TestRecorderBehindTheReceiverOnFakes: through the webhook receiver, a result the store fails
// to apply is answered 500, so that Vapi delivers it again; an unknown call and a rejected event
// are answered 200, so that it does not.
func TestRecorderBehindTheReceiverOnFakes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		applyErr error
		want     int
	}{
		{"applied", nil, http.StatusOK},
		{"apply error: Vapi retries", errors.New("database down"), http.StatusInternalServerError},
		{"unknown call", campaign.ErrUnknownCall, http.StatusOK},
		{"rejected", &campaign.EventRejectedError{Reason: "not this campaign's call"}, http.StatusOK},
	}
	body, err := json.Marshal(map[string]any{"message": map[string]any{
		"type": "end-of-call-report", "endedReason": "customer-busy",
		"call": map[string]any{"id": "call-1", "name": campaign.AttemptKey(42, 7, 1),
			"assistantOverrides": map[string]any{"metadata": map[string]any{"campaign_id": 42}}},
	}})
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupRecorder(t)
			b.store.ApplyResultFunc = func(_ context.Context, r campaign.CallResult, _ time.Time) (bool, error) {
				b.record("ApplyResult(call %s, campaign %d)", r.CallID, r.CampaignID)
				return tc.applyErr == nil, tc.applyErr
			}
			handler, err := webhook.NewHandler(webhook.Config{Recorder: b.recorder, Secrets: b.recorder,
				Now: func() time.Time { return fakeNow }})
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, jobs.WebhookPath, strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(webhook.SecretHeader, "s3cret")
			resp := httptest.NewRecorder()
			handler.ServeHTTP(resp, req)
			require.Equal(t, tc.want, resp.Code, resp.Body.String())
			require.Contains(t, b.calls, "ApplyResult(call call-1, campaign 42)")
		})
	}
}
