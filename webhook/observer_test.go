package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/webhook"
)

// observed is one ObserveWebhook call.
type observed struct {
	typ    vapi.ServerMessageType
	result webhook.Result
}

// recordingObserver keeps every ObserveWebhook call.
type recordingObserver struct {
	mu   sync.Mutex
	seen []observed
}

func (o *recordingObserver) ObserveWebhook(t vapi.ServerMessageType, r webhook.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, observed{t, r})
}

// TestObserverSeesEveryAnswer checks that the Observer hears of every request once, with the
// message type when the body was decoded and the result its status stands for.
func TestObserverSeesEveryAnswer(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	failRecord := false
	b := setup(t, func(c *webhook.Config) { c.Observer = obs })
	b.recorder.RecordFunc = func(context.Context, *webhook.Event) error {
		if failRecord {
			return errors.New("insert webhook event: connection refused")
		}
		return nil
	}

	requireOK(t, b.post(t, readTestdata(t, "end-of-call-report.json"), withSecret(campaign7)))
	requireOK(t, b.post(t, readTestdata(t, "status-update.json"), withSecret(globalSecret)))
	require.Equal(t, http.StatusUnauthorized, b.post(t, readTestdata(t, "status-update.json"), withSecret("wrong")).Code)
	require.Equal(t, http.StatusBadRequest, b.post(t, []byte(`{"message":`), withSecret(globalSecret)).Code)
	failRecord = true
	require.Equal(t, http.StatusInternalServerError, b.post(t, readTestdata(t, "hang.json"), withSecret(globalSecret)).Code)
	req := httptest.NewRequest(http.MethodGet, "/vapi/webhook", strings.NewReader(""))
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)

	require.Equal(t, []observed{
		{vapi.ServerMessageTypeEndOfCallReport, webhook.ResultRecorded},
		{vapi.ServerMessageTypeStatusUpdate, webhook.ResultRecorded},
		{vapi.ServerMessageTypeStatusUpdate, webhook.ResultUnauthorized}, // decoded to find its campaign, then refused
		{"", webhook.ResultBadRequest},
		{"hang", webhook.ResultError},
		{"", webhook.ResultMethodNotAllowed},
	}, obs.seen)
}
