package vapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
)

func opCreate(ctx context.Context, c *vapi.Client) error {
	_, err := c.CreateCall(ctx, &vapi.CreateCallDTO{AssistantID: "a1", Customer: &vapi.CreateCustomerDTO{Number: "+14155551234"}})
	return err
}

func opGet(ctx context.Context, c *vapi.Client) error {
	_, err := c.GetCall(ctx, "c1")
	return err
}

func opList(ctx context.Context, c *vapi.Client) error {
	_, err := c.ListCalls(ctx, &vapi.ListCallsParams{PhoneNumberID: "p1"})
	return err
}

func opAnalytics(ctx context.Context, c *vapi.Client) error {
	_, err := c.Analytics(ctx, &vapi.AnalyticsQueryDTO{Queries: []vapi.AnalyticsQuery{{Table: vapi.AnalyticsTableCall, Name: "q"}}})
	return err
}

func opAssistant(ctx context.Context, c *vapi.Client) error {
	_, err := c.GetAssistant(ctx, "a1")
	return err
}

// closeAfterBody drops the connection without answering; setup's wrapper has
// read the whole request body by then.
func closeAfterBody(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	}
}

func TestAPIErrorClasses(t *testing.T) {
	t.Parallel()

	const (
		fixedDate      = "Sat, 01 Aug 2026 12:00:00 GMT"
		twoMinutesLate = "Sat, 01 Aug 2026 12:02:00 GMT"
	)
	clock := func() time.Time { return time.Date(2026, 8, 1, 12, 0, 30, 0, time.UTC) }

	tests := []struct {
		name           string
		op             func(context.Context, *vapi.Client) error
		status         int
		body           string
		header         map[string]string
		noDate         bool
		wantClass      vapi.ErrorClass
		wantOp         vapi.Operation
		wantMessages   []string
		wantRetryAfter time.Duration
		wantInError    string
	}{
		{
			name: "429RetryAfterSeconds", op: opCreate, status: 429,
			body:      `{"message":"Rate limit exceeded","error":"Too Many Requests","statusCode":429}`,
			header:    map[string]string{"Retry-After": "7"},
			wantClass: vapi.ErrorClassRateLimited, wantOp: vapi.OperationCreateCall,
			wantMessages: []string{"Rate limit exceeded"}, wantRetryAfter: 7 * time.Second,
		},
		{
			name: "429RetryAfterHTTPDateAgainstDateHeader", op: opGet, status: 429,
			body:      `{"message":"Rate limit exceeded"}`,
			header:    map[string]string{"Date": fixedDate, "Retry-After": twoMinutesLate},
			wantClass: vapi.ErrorClassRateLimited, wantOp: vapi.OperationGetCall,
			wantMessages: []string{"Rate limit exceeded"}, wantRetryAfter: 2 * time.Minute,
		},
		{
			name: "429RetryAfterHTTPDateAgainstClock", op: opCreate, status: 429, noDate: true,
			body:      `rate limited`,
			header:    map[string]string{"Retry-After": twoMinutesLate},
			wantClass: vapi.ErrorClassRateLimited, wantRetryAfter: 90 * time.Second,
		},
		{
			name: "429RetryAfterInThePast", op: opCreate, status: 429,
			header:    map[string]string{"Date": twoMinutesLate, "Retry-After": fixedDate},
			wantClass: vapi.ErrorClassRateLimited,
		},
		{
			name: "429RetryAfterGarbage", op: opList, status: 429,
			header:    map[string]string{"Retry-After": "soon"},
			wantClass: vapi.ErrorClassRateLimited,
		},
		{
			name: "400NestJSList", op: opCreate, status: 400,
			body:      `{"message":["property foo should not exist","name must be shorter than or equal to 40 characters"],"error":"Bad Request","statusCode":400}`,
			wantClass: vapi.ErrorClassPermanent, wantOp: vapi.OperationCreateCall,
			wantMessages: []string{"property foo should not exist", "name must be shorter than or equal to 40 characters"},
			wantInError:  "vapi: create call: POST /call: 400 Bad Request: property foo should not exist; name must be shorter",
		},
		{
			name: "400OverConcurrencyLimitMessage", op: opCreate, status: 400,
			body:         `{"message":"Over Concurrency Limit","error":"Bad Request","statusCode":400}`,
			wantClass:    vapi.ErrorClassConcurrencyBlocked,
			wantMessages: []string{"Over Concurrency Limit"},
		},
		{
			name: "400OverConcurrencyLimitErrorField", op: opCreate, status: 400,
			body:        `{"error":"Over Concurrency Limit"}`,
			wantClass:   vapi.ErrorClassConcurrencyBlocked,
			wantInError: "400 Bad Request: Over Concurrency Limit",
		},
		{
			name: "400OverConcurrencyLimitInList", op: opCreate, status: 400,
			body:         `{"message":["Couldn't create call. Over Concurrency Limit."],"error":"Bad Request","statusCode":400}`,
			wantClass:    vapi.ErrorClassConcurrencyBlocked,
			wantMessages: []string{"Couldn't create call. Over Concurrency Limit."},
		},
		{
			name: "400BillingLimits", op: opCreate, status: 400,
			body:         `{"message":"Billing Limits Exceeded","error":"Bad Request","statusCode":400}`,
			wantClass:    vapi.ErrorClassPermanent,
			wantMessages: []string{"Billing Limits Exceeded"},
		},
		{
			name: "401", op: opCreate, status: 401,
			body:         `{"message":"Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa.","error":"Unauthorized","statusCode":401}`,
			wantClass:    vapi.ErrorClassPermanent,
			wantMessages: []string{"Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa."},
		},
		{
			name: "403", op: opList, status: 403, body: `{"message":"Forbidden resource","error":"Forbidden","statusCode":403}`,
			wantClass: vapi.ErrorClassPermanent, wantOp: vapi.OperationListCalls, wantMessages: []string{"Forbidden resource"},
		},
		{
			name: "404GetCall", op: opGet, status: 404, body: `{"message":"Not Found","statusCode":404}`,
			wantClass: vapi.ErrorClassPermanent, wantOp: vapi.OperationGetCall, wantMessages: []string{"Not Found"},
			wantInError: "vapi: get call: GET /call/c1: 404 Not Found: Not Found",
		},
		{
			name: "422", op: opAnalytics, status: 422, body: `{"message":["queries.0.operations must be an array"]}`,
			wantClass: vapi.ErrorClassPermanent, wantOp: vapi.OperationAnalytics, wantMessages: []string{"queries.0.operations must be an array"},
		},
		{
			name: "500GetCallRetryable", op: opGet, status: 500, body: `{"message":"Internal server error","statusCode":500}`,
			wantClass: vapi.ErrorClassRetryable, wantMessages: []string{"Internal server error"},
		},
		{
			name: "500CreateCallAmbiguous", op: opCreate, status: 500, body: `{"message":"Internal server error","statusCode":500}`,
			wantClass: vapi.ErrorClassAmbiguous, wantMessages: []string{"Internal server error"},
		},
		{
			name: "502HTMLCreateCallAmbiguous", op: opCreate, status: 502, body: `<html>Bad gateway</html>`,
			wantClass: vapi.ErrorClassAmbiguous, wantInError: "vapi: create call: POST /call: 502 Bad Gateway",
		},
		{
			name: "503AnalyticsRetryable", op: opAnalytics, status: 503, body: ``,
			wantClass: vapi.ErrorClassRetryable,
		},
		{
			name: "503GetAssistantRetryable", op: opAssistant, status: 503,
			wantClass: vapi.ErrorClassRetryable, wantOp: vapi.OperationGetAssistant,
		},
		{
			name: "408CreateCallAmbiguous", op: opCreate, status: 408,
			wantClass: vapi.ErrorClassAmbiguous,
		},
		{
			name: "408ListRetryable", op: opList, status: 408,
			wantClass: vapi.ErrorClassRetryable,
		},
		{
			name: "409Permanent", op: opCreate, status: 409, body: `{"message":"Conflict"}`,
			wantClass: vapi.ErrorClassPermanent, wantMessages: []string{"Conflict"},
		},
		{
			name: "302NotFollowed", op: opCreate, status: 302,
			header:    map[string]string{"Location": "/elsewhere"},
			wantClass: vapi.ErrorClassPermanent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, &vapi.Config{Now: clock}, func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.noDate {
					w.Header()["Date"] = nil
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})

			err := tt.op(context.Background(), b.client)
			require.Error(t, err)
			require.Equal(t, tt.wantClass, vapi.Classify(err))
			require.Equal(t, tt.wantClass, vapi.Classify(fmt.Errorf("dial attempt 3: %w", err)), "classification survives wrapping")

			var apiErr *vapi.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.status, apiErr.StatusCode)
			require.Equal(t, tt.wantRetryAfter, apiErr.RetryAfter)
			require.Equal(t, tt.body, string(apiErr.Body))
			if tt.wantOp != "" {
				require.Equal(t, tt.wantOp, apiErr.Op)
			}
			if tt.wantMessages != nil {
				require.Equal(t, tt.wantMessages, apiErr.Messages)
			}
			if tt.wantInError != "" {
				require.Contains(t, err.Error(), tt.wantInError)
			}
			require.Equal(t, 1, b.count(), "the client never retries")
		})
	}
}

func TestRequestErrorClasses(t *testing.T) {
	t.Parallel()

	// hang blocks until the client gives up (its connection closes).
	hang := func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

	t.Run("CreateCallClientTimeoutIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &vapi.Config{Timeout: 500 * time.Millisecond}, hang)
		err := opCreate(context.Background(), b.client)
		require.Error(t, err)
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var netErr net.Error
		require.ErrorAs(t, err, &netErr)
		require.True(t, netErr.Timeout())
		var reqErr *vapi.RequestError
		require.ErrorAs(t, err, &reqErr)
		require.True(t, reqErr.MaybeSent)
		require.Equal(t, vapi.OperationCreateCall, reqErr.Op)
		require.Contains(t, err.Error(), "vapi: create call: POST /call: ")
		require.Equal(t, 1, b.count(), "the server got the whole request before the client gave up")
	})

	t.Run("CreateCallContextDeadlineIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, hang)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		err := opCreate(ctx, b.client)
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("CreateCallCancelledAfterServerReadBodyIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		received := make(chan struct{})
		b := setup(t, nil, func(w http.ResponseWriter, r *http.Request) {
			close(received)
			hang(w, r)
		})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-received
			cancel()
		}()
		err := opCreate(ctx, b.client)
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("GetCallTimeoutIsRetryable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &vapi.Config{Timeout: 500 * time.Millisecond}, hang)
		err := opGet(context.Background(), b.client)
		require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(err))
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("CreateCallConnectionClosedAfterBodyIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, closeAfterBody(t))
		err := opCreate(context.Background(), b.client)
		require.Error(t, err)
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		var reqErr *vapi.RequestError
		require.ErrorAs(t, err, &reqErr)
		require.True(t, reqErr.MaybeSent)
		require.Equal(t, 1, b.count(), "the transport did not re-send the POST")
	})

	t.Run("ListCallsConnectionClosedIsRetryable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, closeAfterBody(t))
		err := opList(context.Background(), b.client)
		require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(err))
	})

	t.Run("ConnectionRefusedIsNotAmbiguous", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())

		client, err := vapi.NewClient(testAPIKey, &vapi.Config{BaseURL: "http://" + addr})
		require.NoError(t, err)
		err = opCreate(context.Background(), client)
		require.Error(t, err)
		require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(err), "a dial error means nothing was sent")
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
		var reqErr *vapi.RequestError
		require.ErrorAs(t, err, &reqErr)
		require.False(t, reqErr.MaybeSent)
		var opErr *net.OpError
		require.ErrorAs(t, err, &opErr)
		require.Equal(t, "dial", opErr.Op)
	})

	t.Run("CreateCallCancelledBeforeSendIsNotAmbiguous", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"id":"c1"}`))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := opCreate(ctx, b.client)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(err))
		require.Zero(t, b.count())
	})

	t.Run("CreateCallUndecodable2xxIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"id": "c1", "status": `))
		err := opCreate(context.Background(), b.client)
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		var reqErr *vapi.RequestError
		require.ErrorAs(t, err, &reqErr)
		require.Equal(t, http.StatusCreated, reqErr.StatusCode)
		require.Contains(t, err.Error(), "decode response")
	})

	t.Run("CreateCall2xxWithoutIDIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusCreated, `{"results":[],"errors":[]}`))
		err := opCreate(context.Background(), b.client)
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		require.Contains(t, err.Error(), "no call id")
	})

	t.Run("GetCallUndecodable2xxIsRetryable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, respond(http.StatusOK, `<html>maintenance</html>`))
		err := opGet(context.Background(), b.client)
		require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(err))
	})
}

func TestClassifyOtherErrors(t *testing.T) {
	t.Parallel()

	require.Equal(t, vapi.ErrorClassNone, vapi.Classify(nil))
	require.Equal(t, vapi.ErrorClassPermanent, vapi.Classify(errors.New("boom")))
	require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(context.DeadlineExceeded))
	require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(fmt.Errorf("x: %w", context.Canceled)))
	require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}))

	// The classes by hand, as another package (a fake client) would build them.
	require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(&vapi.RequestError{Op: vapi.OperationCreateCall, MaybeSent: true, Err: io.EOF}))
	require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(&vapi.RequestError{Op: vapi.OperationCreateCall, Err: io.EOF}))
	require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(&vapi.RequestError{Op: vapi.OperationGetCall, MaybeSent: true, Err: io.EOF}))
	require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(&vapi.APIError{Op: vapi.OperationCreateCall, StatusCode: 504}))
	require.Equal(t, vapi.ErrorClassRetryable, vapi.Classify(&vapi.APIError{Op: vapi.OperationListCalls, StatusCode: 504}))
	require.Equal(t, vapi.ErrorClassRateLimited, vapi.Classify(&vapi.APIError{Op: vapi.OperationCreateCall, StatusCode: 429, Messages: []string{"Over Concurrency Limit"}}))
	require.Equal(t, vapi.ErrorClassConcurrencyBlocked, vapi.Classify(&vapi.APIError{Op: vapi.OperationCreateCall, StatusCode: 403, Messages: []string{"over concurrency limit"}}))
	require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(&vapi.APIError{Op: vapi.OperationCreateCall, StatusCode: 500, Messages: []string{"Over Concurrency Limit"}}))

	require.ErrorIs(t, &vapi.RequestError{Err: fmt.Errorf("read: %w", io.ErrUnexpectedEOF)}, io.ErrUnexpectedEOF)
}

func TestCallConcurrencyBlocked(t *testing.T) {
	t.Parallel()

	var nilCall *vapi.Call
	require.False(t, nilCall.ConcurrencyBlocked())
	require.False(t, nilCall.Ended())
	require.False(t, (&vapi.Call{Status: vapi.CallStatusQueued}).ConcurrencyBlocked())
	require.False(t, (&vapi.Call{SubscriptionLimits: &vapi.SubscriptionLimits{ConcurrencyLimit: 10}}).ConcurrencyBlocked())
	require.True(t, (&vapi.Call{SubscriptionLimits: &vapi.SubscriptionLimits{ConcurrencyBlocked: true}}).ConcurrencyBlocked())
	require.True(t, (&vapi.Call{Status: vapi.CallStatusEnded, EndedReason: vapi.EndedReasonConcurrencyLimitReached}).ConcurrencyBlocked())
	require.False(t, (&vapi.Call{Status: vapi.CallStatusEnded, EndedReason: "call.start.error-subscription-insufficient-credits"}).ConcurrencyBlocked())
}
