package vapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
)

// TestRetryRead checks that a read is repeated after 429 and 5xx answers, waiting the
// Retry-After (bounded), and that permanent errors and the attempt budget end it.
func TestRetryRead(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var failFirst int32
	status := http.StatusTooManyRequests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= failFirst {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"message":"slow down"}`, status)
			return
		}
		_, _ = w.Write([]byte(`{"id":"asst-1","name":"Reminders"}`))
	}))
	t.Cleanup(srv.Close)
	client, err := vapi.NewClient("key", &vapi.Config{BaseURL: srv.URL})
	require.NoError(t, err)
	ctx := context.Background()
	get := func(attempts int) (*vapi.Assistant, error) {
		calls.Store(0)
		var a *vapi.Assistant
		err := vapi.RetryRead(ctx, attempts, 20*time.Millisecond, func() (err error) {
			a, err = client.GetAssistant(ctx, "asst-1")
			return err
		})
		return a, err
	}

	failFirst = 2 // two 429s, then the assistant; Retry-After 1 s is cut to 20 ms
	a, err := get(3)
	require.NoError(t, err)
	require.Equal(t, "asst-1", a.ID)
	require.EqualValues(t, 3, calls.Load())

	_, err = get(2) // out of attempts
	require.Equal(t, vapi.ErrorClassRateLimited, vapi.Classify(err))
	require.EqualValues(t, 2, calls.Load())

	status = http.StatusBadGateway
	_, err = get(3)
	require.NoError(t, err, "a 5xx on a read is retried")

	status = http.StatusNotFound
	_, err = get(3)
	require.Equal(t, vapi.ErrorClassPermanent, vapi.Classify(err))
	require.EqualValues(t, 1, calls.Load(), "a permanent error is not retried")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	status, failFirst = http.StatusTooManyRequests, 5
	calls.Store(0)
	err = vapi.RetryRead(canceled, 3, time.Second, func() error {
		_, err := client.GetAssistant(context.Background(), "asst-1")
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	require.EqualValues(t, 1, calls.Load())
}
