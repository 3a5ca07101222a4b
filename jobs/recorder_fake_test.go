package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
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
		RecordEventsFunc: func(_ context.Context, events []campaign.RecordedEvent, _ time.Time) ([]campaign.EventRecord, error) {
			records := make([]campaign.EventRecord, len(events))
			for i, e := range events {
				b.record("RecordEvents(%s, call %s, key %s, campaign %d, received %s: %s)", e.Event.Type, e.Event.CallID,
					e.Event.AttemptKey, e.Event.CampaignID, at(e.Event.ReceivedAt), describeChange(e.Change))
				records[i] = campaign.EventRecord{ID: 5, Applied: e.Change.Result != nil}
			}
			return records, nil
		},
		SaveEventFunc: func(_ context.Context, e campaign.WebhookEvent) (int64, error) {
			b.record("SaveEvent(%s)", e.Type)
			return 6, nil
		},
		ApplyEventFunc: func(_ context.Context, id int64, ch campaign.EventChange, _ time.Time) (bool, error) {
			b.record("ApplyEvent(%d, %s)", id, describeChange(ch))
			return ch.Result != nil, nil
		},
	}
	b.recorder = &jobs.Recorder{Store: b.store, Now: func() time.Time { return fakeNow },
		Logger: slog.New(slog.DiscardHandler), Observer: &b.observer}
	return b
}

// batchRecord makes RecordEvents return rec (with id 5) for every event, or fail with err.
func (b *recorderBundle) batchRecord(rec campaign.EventRecord, err error) {
	b.store.RecordEventsFunc = func(_ context.Context, events []campaign.RecordedEvent, _ time.Time) ([]campaign.EventRecord, error) {
		b.record("RecordEvents")
		if err != nil {
			return nil, err
		}
		rec.ID = 5
		return slices.Repeat([]campaign.EventRecord{rec}, len(events)), nil
	}
}

// failApply makes ApplyEvent return applied and err.
func (b *recorderBundle) failApply(applied bool, err error) {
	b.store.ApplyEventFunc = func(_ context.Context, id int64, _ campaign.EventChange, _ time.Time) (bool, error) {
		b.record("ApplyEvent(%d)", id)
		return applied, err
	}
}

// describeChange names what an EventChange asks for.
func describeChange(ch campaign.EventChange) string {
	switch {
	case ch.Result != nil:
		r := ch.Result
		return fmt.Sprintf("result of call %s, key %s, campaign %d, %s", r.CallID, r.AttemptKey, r.CampaignID, r.EndedReason)
	case ch.Status != nil:
		st := ch.Status
		return fmt.Sprintf("status of call %s, key %s, campaign %d, %s, %s", st.CallID, st.AttemptKey, st.CampaignID, st.Status, st.EndedReason)
	}
	return "nothing"
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

// TestRecorderOnFakes covers the recorder with no database: every event is recorded (stored
// raw and applied) with the others waiting at the same time (campaign.Store.RecordEvents); one
// the batch leaves to be applied alone is applied then (campaign.Store.ApplyEvent), and so is
// every event of a batch that failed, after it is saved alone; a failure to apply is returned,
// so that Vapi delivers the event again; a rejected event is answered with webhook.ErrRejected;
// a result applied now, and only then, is counted.
func TestRecorderOnFakes(t *testing.T) {
	t.Parallel()
	key := campaign.AttemptKey(42, 7, 1)
	recordReport := "RecordEvents(end-of-call-report, call call-1, key " + key + ", campaign 42, received +0s: " +
		"result of call call-1, key " + key + ", campaign 42, customer-busy)"
	applyReport := "ApplyEvent(5, result of call call-1, key " + key + ", campaign 42, customer-busy)"
	rejected := &campaign.EventRejectedError{Reason: "call call-1 is not of campaign 42"}
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
		{name: "end-of-call report: recorded", typ: vapi.ServerMessageTypeEndOfCallReport,
			want: []string{recordReport}, results: []campaign.Outcome{campaign.OutcomeBusy}},
		{name: "a report applied before: nobody told twice", typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak: func(b *recorderBundle) { b.batchRecord(campaign.EventRecord{}, nil) },
			want:  []string{"RecordEvents"}},
		{name: "status update: recorded", typ: vapi.ServerMessageTypeStatusUpdate,
			want: []string{"RecordEvents(status-update, call call-1, key " + key + ", campaign 42, received +0s: " +
				"status of call call-1, key " + key + ", campaign 42, ended, customer-busy)"}},
		{name: "another type: recorded with nothing to apply", typ: "transcript",
			want: []string{"RecordEvents(transcript, call call-1, key " + key + ", campaign 42, received +0s: nothing)"}},
		{name: "rejected in the batch: answered with ErrRejected", typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak:   func(b *recorderBundle) { b.batchRecord(campaign.EventRecord{Rejected: rejected}, nil) },
			want:    []string{"RecordEvents"},
			wantErr: rejected.Reason, rejected: true},
		{name: "left to be applied alone: applied then", typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak:   func(b *recorderBundle) { b.batchRecord(campaign.EventRecord{Alone: true}, nil) },
			want:    []string{"RecordEvents", applyReport},
			results: []campaign.Outcome{campaign.OutcomeBusy}},
		{name: "applying alone fails: the error is returned so that Vapi retries",
			typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak: func(b *recorderBundle) {
				b.batchRecord(campaign.EventRecord{Alone: true}, nil)
				b.failApply(false, errors.New("database down"))
			},
			want:    []string{"RecordEvents", "ApplyEvent(5)"},
			wantErr: "database down"},
		{name: "rejected when applied alone: answered with ErrRejected", typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak: func(b *recorderBundle) {
				b.batchRecord(campaign.EventRecord{Alone: true}, nil)
				b.failApply(false, rejected)
			},
			want:    []string{"RecordEvents", "ApplyEvent(5)"},
			wantErr: rejected.Reason, rejected: true},
		{name: "the batch fails: saved alone, then applied", typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak:   func(b *recorderBundle) { b.batchRecord(campaign.EventRecord{}, errors.New("invalid jsonb")) },
			want:    []string{"RecordEvents", "SaveEvent(end-of-call-report)", "ApplyEvent(6, result of call call-1, key " + key + ", campaign 42, customer-busy)"},
			results: []campaign.Outcome{campaign.OutcomeBusy}},
		{name: "the batch fails and so does saving alone: nothing applied, the error returned so that Vapi retries",
			typ: vapi.ServerMessageTypeEndOfCallReport,
			tweak: func(b *recorderBundle) {
				b.batchRecord(campaign.EventRecord{}, errors.New("database down"))
				b.store.SaveEventFunc = func(context.Context, campaign.WebhookEvent) (int64, error) {
					b.record("SaveEvent")
					return 0, errors.New("database still down")
				}
			},
			want:    []string{"RecordEvents", "SaveEvent"},
			wantErr: "database still down"},
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
// to apply is answered 500, so that Vapi delivers it again; a rejected event is answered 200, so
// that it does not.
func TestRecorderBehindTheReceiverOnFakes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		applyErr error
		want     int
	}{
		{"applied", nil, http.StatusOK},
		{"apply error: Vapi retries", errors.New("database down"), http.StatusInternalServerError},
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
			b.batchRecord(campaign.EventRecord{Alone: true}, nil)
			b.store.ApplyEventFunc = func(_ context.Context, _ int64, ch campaign.EventChange, _ time.Time) (bool, error) {
				b.record("ApplyEvent(call %s, campaign %d)", ch.Result.CallID, ch.Result.CampaignID)
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
			require.Contains(t, b.calls, "ApplyEvent(call call-1, campaign 42)")
		})
	}
}
