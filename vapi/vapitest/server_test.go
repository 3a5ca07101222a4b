package vapitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// receiver records webhooks.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []received
	srv    *httptest.Server
}

type received struct {
	header http.Header
	body   []byte
	msg    *vapi.ServerMessage
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{status: http.StatusOK}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m, err := vapi.ParseServerMessage(b)
		rc.mu.Lock()
		if err == nil {
			rc.got = append(rc.got, received{header: r.Header.Clone(), body: b, msg: m})
		}
		st := rc.status
		rc.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

type testBundle struct {
	sim    *vapitest.Server
	http   *httptest.Server
	client *vapi.Client
	rc     *receiver
}

func setup(t *testing.T, cfg vapitest.Config) *testBundle {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1000
	}
	sim := vapitest.New(cfg)
	hs := httptest.NewServer(sim)
	t.Cleanup(func() { hs.Close(); sim.Close() })
	client, err := vapi.NewClient(sim.Config().APIKey, &vapi.Config{BaseURL: hs.URL, Timeout: 5 * time.Second})
	require.NoError(t, err)
	return &testBundle{sim: sim, http: hs, client: client, rc: newReceiver(t)}
}

// waitFor waits (without sleeping) until cond holds, up to 10 s.
func waitFor(t *testing.T, sim *vapitest.Server, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ch := sim.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond): // the receiver's side may change without the simulator noticing
		case <-deadline:
			require.FailNow(t, "timed out waiting for "+what)
		}
	}
}

func (b *testBundle) dto(number string) *vapi.CreateCallDTO {
	return &vapi.CreateCallDTO{
		Name: "cmp1-" + number[len(number)-4:], AssistantID: vapitest.AssistantCollections, PhoneNumberID: "pn-1",
		Customer: &vapi.CreateCustomerDTO{Number: number, Name: "Jane Doe", ExternalID: "row-" + number[len(number)-4:]},
		AssistantOverrides: &vapi.AssistantOverrides{
			VariableValues: map[string]any{"first_name": "Jane", "amount_due": "$120.50", "campaign": "cmp1"},
			Metadata:       map[string]any{"campaignId": "cmp1", "row": number},
			ServerMessages: []vapi.ServerMessageType{vapi.ServerMessageTypeStatusUpdate, vapi.ServerMessageTypeEndOfCallReport},
			Server:         &vapi.Server{URL: b.rc.srv.URL, Headers: map[string]string{"X-Runner-Token": "tok"}},
		},
	}
}

func (b *testBundle) raw(t *testing.T, method, path string, body any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		bb, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(bb)
	}
	req, err := http.NewRequest(method, b.http.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.sim.Config().APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

func TestSimulatorMagicNumbersAreValid(t *testing.T) {
	t.Parallel()
	for nn := 0; nn < 100; nn++ {
		n := fmt.Sprintf("%s%02d", vapitest.MagicPrefix, nn)
		p, err := phonenumbers.Parse(n, "")
		require.NoError(t, err)
		require.True(t, phonenumbers.IsValidNumber(p), n)
	}
}

func TestSimulatorConformanceAndLifecycle(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)
	b := setup(t, vapitest.Config{Seed: 7, Spec: spec, WebhookSecret: "shh"})
	numbers := []string{"+12015550101", "+12015550111", "+12015550121", "+12015550131", "+12015550141", "+12015550146", "+12015550151", "+14155550123"}
	ids := map[string]string{}
	for _, n := range numbers {
		code, body, _ := b.raw(t, http.MethodPost, "/call", b.dto(n))
		require.Equal(t, http.StatusCreated, code, "%s", body)
		require.NoError(t, spec.Validate("Call", body, false), "%s", body)
		var c vapi.Call
		require.NoError(t, json.Unmarshal(body, &c))
		require.NotNil(t, c.SubscriptionLimits)
		require.Equal(t, "cmp1", c.AssistantOverrides.Metadata["campaignId"])
		ids[n] = c.ID
		code, body, _ = b.raw(t, http.MethodGet, "/call/"+c.ID, nil)
		require.Equal(t, http.StatusOK, code)
		require.NoError(t, spec.Validate("Call", body, false), "%s", body)
	}
	waitFor(t, b.sim, "every report delivered", func() bool {
		n := 0
		for _, r := range b.rc.all() {
			if r.msg.Type == vapi.ServerMessageTypeEndOfCallReport {
				n++
			}
		}
		return n == len(numbers)
	})
	want := map[string]string{
		"+12015550101": "", "+12015550111": "customer-did-not-answer", "+12015550121": "customer-busy",
		"+12015550131": "voicemail", "+12015550141": "call.in-progress.error-providerfault-outbound-sip-503-service-unavailable",
		"+12015550146": "twilio-failed-to-connect-call", "+12015550151": "call.start.error-get-phone-number",
	}
	statuses := map[string][]vapi.CallStatus{}
	for _, r := range b.rc.all() {
		require.NoError(t, spec.Validate("ServerMessage", r.body, false), "%s", r.body)
		require.Equal(t, "tok", r.header.Get("X-Runner-Token"))
		require.Equal(t, "shh", r.header.Get("X-Vapi-Secret"))
		switch r.msg.Type {
		case vapi.ServerMessageTypeStatusUpdate:
			su := r.msg.StatusUpdate
			statuses[su.Call.ID] = append(statuses[su.Call.ID], su.Status)
		case vapi.ServerMessageTypeEndOfCallReport:
			rep := r.msg.EndOfCallReport
			require.Equal(t, "cmp1", rep.Call.AssistantOverrides.Metadata["campaignId"])
			if w := want[rep.Customer.Number]; w != "" {
				require.Equal(t, w, rep.EndedReason)
			}
			if rep.EndedReason == "customer-ended-call" || rep.EndedReason == "assistant-ended-call" {
				require.Contains(t, rep.TranscriptText(), "Jane")
				require.Contains(t, rep.TranscriptText(), "$120.50")
				require.NotEmpty(t, rep.Analysis.SuccessEvaluation)
				d, ok := rep.Duration()
				require.True(t, ok)
				require.True(t, d >= 30*time.Second && d <= 240*time.Second, d)
				require.NotEmpty(t, rep.RecordingURLText())
				require.NotNil(t, rep.DurationSeconds)
				require.Greater(t, *rep.Cost, 0.0)
			}
		}
	}
	require.Equal(t, []vapi.CallStatus{"ringing", "in-progress", "ended"}, statuses[ids["+12015550101"]])
	require.Equal(t, []vapi.CallStatus{"ringing", "ended"}, statuses[ids["+12015550111"]])
	require.Equal(t, []vapi.CallStatus{"ended"}, statuses[ids["+12015550151"]])

	code, body, _ := b.raw(t, http.MethodGet, "/call?limit=1000", nil)
	require.Equal(t, http.StatusOK, code)
	var items []json.RawMessage
	require.NoError(t, json.Unmarshal(body, &items))
	require.Len(t, items, len(numbers))
	for _, it := range items {
		require.NoError(t, spec.Validate("Call", it, false), "%s", it)
	}
	c, err := b.client.GetCall(context.Background(), ids["+12015550101"])
	require.NoError(t, err)
	require.True(t, c.Ended())
	require.NotNil(t, c.Analysis)
	require.NotNil(t, c.Artifact)
	require.False(t, c.EndedAt.IsZero())

	list, err := b.client.ListCalls(context.Background(), &vapi.ListCallsParams{ID: ids["+12015550121"]})
	require.NoError(t, err)
	require.Len(t, list, 1)

	a, err := b.client.GetAssistant(context.Background(), vapitest.AssistantCollections)
	require.NoError(t, err)
	require.Contains(t, a.FirstMessage, "{{ first_name")

	// Analytics: counts by endedReason match the calls made.
	res, err := b.client.Analytics(context.Background(), &vapi.AnalyticsQueryDTO{Queries: []vapi.AnalyticsQuery{{
		Table: vapi.AnalyticsTableCall, Name: "outcomes", GroupBy: []string{"endedReason"},
		Operations: []vapi.AnalyticsOperation{{Operation: vapi.AnalyticsCount, Column: "id"}, {Operation: vapi.AnalyticsSum, Column: "cost"}, {Operation: vapi.AnalyticsAvg, Column: "duration"}},
	}, {
		Table: vapi.AnalyticsTableCall, Name: "by_campaign", GroupByVariableValue: []vapi.VariableValueGroupBy{{Key: "campaign"}},
		TimeRange:  &vapi.TimeRange{Step: "day"},
		Operations: []vapi.AnalyticsOperation{{Operation: vapi.AnalyticsCount, Column: "id", Alias: "calls"}},
	}}})
	require.NoError(t, err)
	require.Len(t, res, 2)
	wantCounts := map[string]int{}
	wantCost := map[string]float64{}
	for _, rec := range b.sim.Calls() {
		wantCounts[rec.EndedReason]++
		cl, err := b.client.GetCall(context.Background(), rec.ID)
		require.NoError(t, err)
		wantCost[rec.EndedReason] += *cl.Cost
	}
	total := 0
	for _, row := range res[0].Result {
		er := row["endedReason"].(string)
		require.EqualValues(t, wantCounts[er], row["countId"], er)
		require.InDelta(t, wantCost[er], row["sumCost"].(float64), 0.001)
		total += int(row["countId"].(float64))
	}
	require.Equal(t, len(numbers), total)
	require.Len(t, res[1].Result, 1)
	require.Equal(t, "cmp1", res[1].Result[0]["campaign"])
	require.EqualValues(t, len(numbers), res[1].Result[0]["calls"])
	require.NotEmpty(t, res[1].Result[0]["date"])
	code, body, _ = b.raw(t, http.MethodPost, "/analytics", map[string]any{"queries": []map[string]any{{"table": "call", "name": "x", "operations": []map[string]any{{"operation": "count", "column": "id"}}}}})
	require.Equal(t, http.StatusOK, code)
	var results []json.RawMessage
	require.NoError(t, json.Unmarshal(body, &results))
	for _, r := range results {
		require.NoError(t, spec.Validate("AnalyticsQueryResult", r, false), "%s", r)
	}
	code, body, _ = b.raw(t, http.MethodPost, "/analytics", map[string]any{"queries": []map[string]any{{"table": "calls", "name": "x", "operations": []map[string]any{{"operation": "median", "column": "idx"}}}}})
	require.Equal(t, http.StatusBadRequest, code, "%s", body)

	// Introspection.
	_, maxLive := b.sim.Concurrency()
	require.GreaterOrEqual(t, maxLive, 1)
	require.Equal(t, 0, b.sim.Live())
	require.Equal(t, 1, b.sim.CreateRequestsByNumber()["+12015550101"])
}

func TestSimulatorFakeClockLifecycle(t *testing.T) {
	t.Parallel()
	clock := vapitest.NewFakeClock(time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC))
	b := setup(t, vapitest.Config{Seed: 1, Clock: clock, TimeScale: 1})
	c, err := b.client.CreateCall(context.Background(), b.dto("+12015550105"))
	require.NoError(t, err)
	require.Equal(t, vapi.CallStatusQueued, c.Status)
	require.Equal(t, "2026-08-01T12:00:00Z", c.CreatedAt.Format(time.RFC3339))
	clock.Advance(3 * time.Second)
	rec, _ := b.sim.Call(c.ID)
	require.Equal(t, vapi.CallStatusRinging, rec.Status)
	clock.Advance(20 * time.Second)
	rec, _ = b.sim.Call(c.ID)
	require.Equal(t, vapi.CallStatusInProgress, rec.Status)
	require.Equal(t, 1, b.sim.Live())
	clock.Advance(5 * time.Minute)
	rec, _ = b.sim.Call(c.ID)
	require.Equal(t, vapi.CallStatusEnded, rec.Status)
	require.True(t, rec.Reported)
	got, err := b.client.GetCall(context.Background(), c.ID)
	require.NoError(t, err)
	d := got.EndedAt.Sub(got.StartedAt)
	require.True(t, d >= 30*time.Second && d <= 240*time.Second, d)
	waitFor(t, b.sim, "3 status updates and a report", func() bool { return len(b.rc.all()) == 4 })
}

// TestSimulatorStampsClockTime: on a faster clock (x60), timestamps are the Clock's times at
// which the events were played, while lengths are simulated: a call never seems to end after
// the moment it was reported, and its reported duration is its simulated one.
func TestSimulatorStampsClockTime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	clock := vapitest.NewFakeClock(t0)
	b := setup(t, vapitest.Config{Seed: 1, Clock: clock, TimeScale: 60})
	c, err := b.client.CreateCall(context.Background(), b.dto("+12015550105"))
	require.NoError(t, err)
	require.True(t, t0.Equal(c.CreatedAt), c.CreatedAt)
	clock.Advance(10 * time.Second) // 10 simulated minutes: the call is over and reported
	waitFor(t, b.sim, "3 status updates and a report", func() bool { return len(b.rc.all()) == 4 })

	got, err := b.client.GetCall(context.Background(), c.ID)
	require.NoError(t, err)
	require.True(t, t0.Before(got.StartedAt) && got.StartedAt.Before(got.EndedAt), "%s %s", got.StartedAt, got.EndedAt)
	require.False(t, got.EndedAt.After(clock.Now()), "ended %s, now %s", got.EndedAt, clock.Now())
	played := got.EndedAt.Sub(got.StartedAt)
	require.True(t, played >= 500*time.Millisecond && played <= 4*time.Second, played) // 30-240 s / 60
	for _, r := range b.rc.all() {
		rep := r.msg.EndOfCallReport
		if rep == nil {
			require.False(t, r.msg.StatusUpdate.Timestamp.After(clock.Now()), "%s", r.body)
			continue
		}
		require.False(t, rep.Timestamp.After(clock.Now()), "%s", r.body)
		require.True(t, got.StartedAt.Equal(rep.StartedAt) && got.EndedAt.Equal(rep.EndedAt), "%s", r.body)
		d, ok := rep.Duration()
		require.True(t, ok)
		require.InDelta(t, (60 * played).Seconds(), d.Seconds(), 0.06*2, "the simulated length: %s", r.body)
		require.InDelta(t, d.Minutes(), rep.Costs[0].Minutes, 1e-4, "billed on the simulated length")
		for _, m := range rep.Artifact.Messages {
			at := time.UnixMilli(int64(m.Time))
			require.False(t, at.Before(got.StartedAt.Truncate(time.Millisecond)) || at.After(got.EndedAt), "message at %s", at)
			require.LessOrEqual(t, m.SecondsFromStart, d.Seconds())
		}
	}
}

func TestSimulatorErrorsClassify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Unauthorized", func(t *testing.T) {
		b := setup(t, vapitest.Config{})
		bad, err := vapi.NewClient("wrong", &vapi.Config{BaseURL: b.http.URL})
		require.NoError(t, err)
		_, err = bad.CreateCall(ctx, b.dto("+12015550101"))
		var ae *vapi.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 401, ae.StatusCode)
		require.Contains(t, ae.Message(), "Invalid Key. Hot tip")
		require.Equal(t, vapi.ErrorClassPermanent, vapi.Classify(err))
	})
	t.Run("Validation", func(t *testing.T) {
		b := setup(t, vapitest.Config{})
		tests := []struct {
			body map[string]any
			want string
		}{
			{map[string]any{"assistantId": vapitest.AssistantCollections, "phoneNumberId": "p", "customer": map[string]any{"number": "+14155550123"}, "metadata": map[string]any{}}, "property metadata should not exist"},
			{map[string]any{"assistantId": vapitest.AssistantCollections, "phoneNumberId": "p", "customer": map[string]any{"number": "+14155550123", "foo": 1}}, "customer.property foo should not exist"},
			{map[string]any{"assistantId": vapitest.AssistantCollections, "phoneNumberId": "p", "name": "0123456789012345678901234567890123456789X", "customer": map[string]any{"number": "+14155550123"}}, "name must be shorter than or equal to 40 characters"},
			{map[string]any{"assistantId": vapitest.AssistantCollections, "phoneNumberId": "p", "customer": map[string]any{"number": "+14155550123", "externalId": "0123456789012345678901234567890123456789X"}}, "customer.externalId must be shorter than or equal to 40 characters"},
			{map[string]any{"assistantId": vapitest.AssistantCollections, "phoneNumberId": "p", "customer": map[string]any{"number": "4155550123"}}, vapitest.MessageE164},
			{map[string]any{"assistantId": vapitest.AssistantCollections, "phoneNumberId": "p", "customers": []any{map[string]any{"number": "+14155550123"}}}, vapitest.MessageBatchUnsupported},
			{map[string]any{"phoneNumberId": "p", "customer": map[string]any{"number": "+14155550123"}}, "Need Either `assistant`"},
			{map[string]any{"assistantId": vapitest.AssistantCollections, "customer": map[string]any{"number": "+14155550123"}}, "Need Either `phoneNumberId`"},
			{map[string]any{"assistantId": "nope", "phoneNumberId": "p", "customer": map[string]any{"number": "+14155550123"}}, "Couldn't Get Assistant"},
		}
		for _, tt := range tests {
			code, body, _ := b.raw(t, http.MethodPost, "/call", tt.body)
			require.Equal(t, 400, code, "%s", body)
			require.Contains(t, string(body), tt.want)
			require.Contains(t, string(body), `"error":"Bad Request"`)
		}
		no := false
		_, err := b.client.CreateCall(ctx, &vapi.CreateCallDTO{AssistantID: vapitest.AssistantCollections, PhoneNumberID: "p", Customer: &vapi.CreateCustomerDTO{Number: "1234", NumberE164CheckEnabled: &no}})
		require.NoError(t, err)
		_, err = b.client.CreateCall(ctx, &vapi.CreateCallDTO{AssistantID: vapitest.AssistantCollections, PhoneNumberID: "p", Customer: &vapi.CreateCustomerDTO{Number: "1234"}})
		require.Equal(t, vapi.ErrorClassPermanent, vapi.Classify(err))
		code, body, _ := b.raw(t, http.MethodGet, "/call/00000000-0000-4000-8000-000000000000", nil)
		require.Equal(t, 404, code, "%s", body)
		code, _, _ = b.raw(t, http.MethodGet, "/call?limit=1001", nil)
		require.Equal(t, 400, code)
	})
	t.Run("RateLimited", func(t *testing.T) {
		clock := vapitest.NewFakeClock(time.Now())
		b := setup(t, vapitest.Config{Clock: clock, RequestRate: 1, RequestBurst: 2})
		_, err := b.client.CreateCall(ctx, b.dto("+12015550101"))
		require.NoError(t, err)
		_, err = b.client.CreateCall(ctx, b.dto("+12015550102"))
		require.NoError(t, err)
		_, err = b.client.CreateCall(ctx, b.dto("+12015550103"))
		var ae *vapi.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, vapi.ErrorClassRateLimited, vapi.Classify(err))
		require.Equal(t, time.Second, ae.RetryAfter)
		clock.Advance(time.Second)
		_, err = b.client.CreateCall(ctx, b.dto("+12015550103"))
		require.NoError(t, err)
		require.Equal(t, 1, b.sim.FaultCounts()[vapitest.FaultRateLimited])
	})
	t.Run("ConcurrencyBlocked201", func(t *testing.T) {
		clock := vapitest.NewFakeClock(time.Now())
		b := setup(t, vapitest.Config{Clock: clock, ConcurrencyLimit: 2})
		for i := 0; i < 2; i++ {
			c, err := b.client.CreateCall(ctx, b.dto(fmt.Sprintf("+1201555010%d", i)))
			require.NoError(t, err)
			require.False(t, c.ConcurrencyBlocked())
		}
		c, err := b.client.CreateCall(ctx, b.dto("+12015550103"))
		require.NoError(t, err)
		require.True(t, c.ConcurrencyBlocked())
		require.True(t, c.SubscriptionLimits.ConcurrencyBlocked)
		require.Equal(t, vapi.EndedReasonConcurrencyLimitReached, c.EndedReason)
		require.True(t, c.Ended())
		_, maxLive := b.sim.Concurrency()
		require.Equal(t, 2, maxLive)
	})
	t.Run("ConcurrencyReject400", func(t *testing.T) {
		clock := vapitest.NewFakeClock(time.Now())
		b := setup(t, vapitest.Config{Clock: clock, ConcurrencyLimit: 1, ConcurrencyMode: vapitest.ConcurrencyReject400})
		_, err := b.client.CreateCall(ctx, b.dto("+12015550101"))
		require.NoError(t, err)
		_, err = b.client.CreateCall(ctx, b.dto("+12015550102"))
		require.Equal(t, vapi.ErrorClassConcurrencyBlocked, vapi.Classify(err))
		require.Len(t, b.sim.Calls(), 1)
	})
	t.Run("ErrorAfterCreate", func(t *testing.T) {
		b := setup(t, vapitest.Config{Faults: vapitest.Faults{CreateErrorAfter: 1}})
		_, err := b.client.CreateCall(ctx, b.dto("+12015550101"))
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		list, err := b.client.ListCalls(ctx, &vapi.ListCallsParams{PhoneNumberID: "pn-1"})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "+12015550101", list[0].Customer.Number)
	})
	t.Run("ErrorBeforeCreate", func(t *testing.T) {
		b := setup(t, vapitest.Config{Faults: vapitest.Faults{CreateErrorBefore: 1}})
		_, err := b.client.CreateCall(ctx, b.dto("+12015550101"))
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		require.Empty(t, b.sim.Calls())
	})
	t.Run("TimeoutAfterCreate", func(t *testing.T) {
		b := setup(t, vapitest.Config{Faults: vapitest.Faults{CreateTimeout: 1}})
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := b.client.CreateCall(cctx, b.dto("+12015550101"))
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		require.Len(t, b.sim.Calls(), 1)
	})
	t.Run("DroppedConnection", func(t *testing.T) {
		b := setup(t, vapitest.Config{Faults: vapitest.Faults{CreateDrop: 1}})
		_, err := b.client.CreateCall(ctx, b.dto("+12015550101"))
		require.Error(t, err)
		require.Equal(t, vapi.ErrorClassAmbiguous, vapi.Classify(err))
		require.Len(t, b.sim.Calls(), 1)
	})
}

func TestSimulatorFaultRates(t *testing.T) {
	t.Parallel()
	const n, p = 200, 0.3
	inBand := func(t *testing.T, got int) {
		t.Helper()
		require.True(t, got >= 35 && got <= 90, "got %d of %d at p=%v", got, n, p)
	}
	ctx := context.Background()
	create := func(ctx context.Context, b *testVars, i int) error {
		_, err := b.b.client.CreateCall(ctx, b.b.dto(fmt.Sprintf("+1415555%04d", i)))
		return err
	}
	// createHeld creates call i and gives up on it (as a client's timeout would) only once the
	// simulator holds its response (a CreateTimeout fault), as its record says: the outcome is
	// exact however slow the machine is, and no request waits longer than it must.
	createHeld := func(t *testing.T, b *testVars, i int) error {
		t.Helper()
		reqCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- create(reqCtx, b, i) }()
		number := fmt.Sprintf("+1415555%04d", i)
		held := func() bool {
			for _, r := range b.b.sim.CreateRequests() {
				if r.Number == number && r.Fault == vapitest.FaultCreateTimeout {
					return true
				}
			}
			return false
		}
		deadline := time.After(10 * time.Second)
		for {
			changed := b.b.sim.Changed()
			if held() {
				cancel()
				return <-errc
			}
			select {
			case err := <-errc:
				return err
			case <-changed:
			case <-deadline:
				require.FailNow(t, "timed out waiting for request "+number)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		faults vapitest.Faults
		kind   vapitest.FaultKind
		// held: a faulted request's response is held (CreateTimeout); the client gives up on it.
		held bool
	}{
		{"ErrorBefore", vapitest.Faults{CreateErrorBefore: p}, vapitest.FaultCreateErrorBefore, false},
		{"ErrorAfter", vapitest.Faults{CreateErrorAfter: p}, vapitest.FaultCreateErrorAfter, false},
		{"Drop", vapitest.Faults{CreateDrop: p}, vapitest.FaultCreateDrop, false},
		{"Timeout", vapitest.Faults{CreateTimeout: p}, vapitest.FaultCreateTimeout, true},
		{"RateLimitBurst", vapitest.Faults{RateLimitBurst: p, RateLimitBurstLength: 1}, vapitest.FaultRateLimitBurstRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &testVars{b: setup(t, vapitest.Config{Seed: 3, Faults: tc.faults, ConcurrencyLimit: 1000, TimeScale: 1})}
			failed := 0
			for i := 0; i < n; i++ {
				var err error
				if tc.held {
					err = createHeld(t, b, i)
				} else {
					err = create(ctx, b, i)
				}
				if err != nil {
					failed++
				}
			}
			got := b.b.sim.FaultCounts()[tc.kind]
			inBand(t, got)
			require.Equal(t, got, failed)
		})
	}
	t.Run("Webhooks", func(t *testing.T) {
		t.Parallel()
		b := &testVars{b: setup(t, vapitest.Config{Seed: 5, ConcurrencyLimit: 1000, OutcomeMix: vapitest.OutcomeMix{Busy: 1},
			Faults: vapitest.Faults{WebhookDrop: p, WebhookDuplicate: p, WebhookReorder: p, WebhookDelay: p, WebhookDelayBy: time.Second}})}
		for i := 0; i < n; i++ {
			require.NoError(t, create(ctx, b, i))
		}
		waitFor(t, b.b.sim, "every call reported", func() bool {
			for _, c := range b.b.sim.Calls() {
				if !c.Reported {
					return false
				}
			}
			return true
		})
		// Busy calls send 3 webhooks: ringing, ended, end-of-call-report.
		waitFor(t, b.b.sim, "deliveries", func() bool {
			d := b.b.sim.Deliveries()
			dup := 0
			for _, x := range d {
				if x.Duplicate {
					dup++
				}
			}
			return len(d)-dup >= 3*n
		})
		fc := b.b.sim.FaultCounts()
		require.True(t, fc[vapitest.FaultWebhookDrop] >= 3*n*2/10 && fc[vapitest.FaultWebhookDrop] <= 3*n*4/10, fc)
		// Delays are drawn for every webhook but only applied to those not dropped: about 0.7 × 0.3.
		require.True(t, fc[vapitest.FaultWebhookDelay] >= 3*n*14/100 && fc[vapitest.FaultWebhookDelay] <= 3*n*28/100, fc)
		inBand(t, fc[vapitest.FaultWebhookReorder])
		dropped := 0
		for _, d := range b.b.sim.Deliveries() {
			if d.Dropped {
				dropped++
			}
		}
		require.Equal(t, fc[vapitest.FaultWebhookDrop], dropped)
		// Duplicates are drawn for the webhooks not dropped: about 0.7 × 0.3 of them.
		require.True(t, fc[vapitest.FaultWebhookDuplicate] >= 3*n*14/100 && fc[vapitest.FaultWebhookDuplicate] <= 3*n*28/100, fc)
	})
}

type testVars struct{ b *testBundle }

func TestSimulatorWebhookRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, vapitest.Config{OutcomeMix: vapitest.OutcomeMix{Busy: 1}})
	b.rc.status = http.StatusServiceUnavailable
	dto := b.dto("+12015550121")
	dto.AssistantOverrides.Server.BackoffPlan = &vapi.BackoffPlan{Type: vapi.BackoffTypeExponential, MaxRetries: 2, BaseDelaySeconds: 1}
	_, err := b.client.CreateCall(context.Background(), dto)
	require.NoError(t, err)
	dto = b.dto("+12015550122")
	_, err = b.client.CreateCall(context.Background(), dto) // no backoff plan: one attempt
	require.NoError(t, err)
	waitFor(t, b.sim, "all attempts", func() bool { return len(b.sim.Deliveries()) == 3*3+3 })
	per := map[string]int{}
	for _, d := range b.sim.Deliveries() {
		require.Equal(t, 503, d.StatusCode)
		per[d.CallID]++
	}
	require.ElementsMatch(t, []int{9, 3}, []int{per[b.sim.Calls()[0].ID], per[b.sim.Calls()[1].ID]})
}

func TestSimulatorOutcomes(t *testing.T) {
	t.Parallel()
	s1 := vapitest.New(vapitest.Config{Seed: 42})
	s2 := vapitest.New(vapitest.Config{Seed: 42})
	t.Cleanup(s1.Close)
	t.Cleanup(s2.Close)
	counts := map[vapitest.Outcome]int{}
	const n = 4000
	for i := 0; i < n; i++ {
		num := fmt.Sprintf("+1646555%04d", i)
		require.Equal(t, s1.OutcomeFor(num), s2.OutcomeFor(num))
		counts[s1.OutcomeFor(num)]++
	}
	mix := vapitest.DefaultOutcomeMix
	for o, w := range map[vapitest.Outcome]float64{vapitest.OutcomeCompleted: mix.Completed, vapitest.OutcomeNoAnswer: mix.NoAnswer,
		vapitest.OutcomeBusy: mix.Busy, vapitest.OutcomeVoicemail: mix.Voicemail, vapitest.OutcomeFailed: mix.Failed, vapitest.OutcomeStartError: mix.StartError} {
		want := w / 100 * n
		require.InDelta(t, want, float64(counts[o]), want*0.25+20, o)
	}
	for nn, want := range map[int]vapitest.Outcome{0: "completed", 19: "no-answer", 25: "busy", 33: "voicemail", 44: "failed", 59: "start-error"} {
		require.Equal(t, want, s1.OutcomeFor(fmt.Sprintf("%s%02d", vapitest.MagicPrefix, nn)))
	}
	s3 := vapitest.New(vapitest.Config{Seed: 42, OutcomeMix: vapitest.OutcomeMix{Voicemail: 1}})
	t.Cleanup(s3.Close)
	require.Equal(t, vapitest.OutcomeVoicemail, s3.OutcomeFor("+16465550000"))
	require.Equal(t, vapitest.OutcomeBusy, s3.OutcomeFor("+12015550120"))
}

// TestSimulatorAnalyticsStepOmitted: the spec's TimeRange.step is a non-nullable enum, so an
// answer to a query that asked for no step must leave step out rather than send null.
func TestSimulatorAnalyticsStepOmitted(t *testing.T) {
	t.Parallel()
	spec := vapispec.ForTest(t)
	b := setup(t, vapitest.Config{Seed: 7, Spec: spec})
	query := func(timeRange map[string]any) map[string]any {
		q := map[string]any{"table": "call", "name": "x", "operations": []map[string]any{{"operation": "count", "column": "id"}}}
		if timeRange != nil {
			q["timeRange"] = timeRange
		}
		code, body, _ := b.raw(t, http.MethodPost, "/analytics", map[string]any{"queries": []map[string]any{q}})
		require.Equal(t, http.StatusOK, code, "%s", body)
		var results []json.RawMessage
		require.NoError(t, json.Unmarshal(body, &results))
		require.Len(t, results, 1)
		require.NoError(t, spec.Validate("AnalyticsQueryResult", results[0], true), "%s", results[0])
		var r struct {
			TimeRange map[string]any `json:"timeRange"`
		}
		require.NoError(t, json.Unmarshal(results[0], &r))
		return r.TimeRange
	}
	tr := query(nil)
	require.NotContains(t, tr, "step")
	require.Equal(t, "UTC", tr["timezone"])
	tr = query(map[string]any{"timezone": "America/New_York"})
	require.NotContains(t, tr, "step")
	tr = query(map[string]any{"step": "day"})
	require.Equal(t, "day", tr["step"])
}

// TestSimulatorRetriesReachNewPeople: a number's calls draw their outcomes from the number's
// stable propensity, call by call, so a retry of a number not reached can reach its person
// (over many numbers, a plausible share), dead numbers stay dead, magic numbers keep their
// outcome on every call, and a seed replays the same outcomes.
func TestSimulatorRetriesReachNewPeople(t *testing.T) {
	t.Parallel()
	const numbers, calls = 1000, 4
	// A Tuesday, 18:00 in New York: the numbers' local evening.
	start := time.Date(2026, 8, 4, 22, 0, 0, 0, time.UTC)
	run := func() map[string][]vapitest.Outcome {
		b := setup(t, vapitest.Config{Seed: 11, Clock: vapitest.NewFakeClock(start), TimeScale: 1,
			ConcurrencyLimit: numbers*calls + 10, RequestRate: -1})
		var list []string
		for i := range numbers {
			list = append(list, fmt.Sprintf("+1646555%04d", i))
		}
		list = append(list, "+12015550105", "+12015550115", "+12015550151")
		for range calls {
			for _, n := range list {
				dto := b.dto(n)
				dto.AssistantOverrides.Server = nil
				_, err := b.client.CreateCall(context.Background(), dto)
				require.NoError(t, err)
			}
		}
		out := map[string][]vapitest.Outcome{}
		for _, c := range b.sim.Calls() {
			out[c.Number] = append(out[c.Number], c.Outcome)
		}
		return out
	}
	got := run()
	require.Equal(t, got, run(), "the same seed gives the same outcomes, call by call")

	for n, want := range map[string]vapitest.Outcome{"+12015550105": vapitest.OutcomeCompleted,
		"+12015550115": vapitest.OutcomeNoAnswer, "+12015550151": vapitest.OutcomeStartError} {
		require.Equal(t, []vapitest.Outcome{want, want, want, want}, got[n], n)
	}
	var (
		dead, deadStayed          int
		notReached, reachedLater  int
		newlyReached              = make([]int, calls)
		neverReached, transitions int
	)
	for i := range numbers {
		seq := got[fmt.Sprintf("+1646555%04d", i)]
		require.Len(t, seq, calls)
		if seq[0] == vapitest.OutcomeStartError {
			dead++
			if slices.Equal(seq, []vapitest.Outcome{seq[0], seq[0], seq[0], seq[0]}) {
				deadStayed++
			}
			continue
		}
		for k := 1; k < calls; k++ {
			if seq[k] != seq[k-1] {
				transitions++
			}
		}
		first := slices.Index(seq, vapitest.OutcomeCompleted)
		switch {
		case first < 0:
			neverReached++
		default:
			newlyReached[first]++
		}
		if seq[0] != vapitest.OutcomeCompleted {
			notReached++
			if first > 0 {
				reachedLater++
			}
		}
	}
	t.Logf("dead %d, newly reached per call %v, never reached %d of %d", dead, newlyReached, neverReached, numbers)
	require.Positive(t, dead)
	require.Equal(t, dead, deadStayed, "dead numbers stay dead")
	require.Positive(t, transitions)
	share := float64(reachedLater) / float64(notReached)
	require.True(t, share > 0.25 && share < 0.8, "share of numbers not reached by the first call reached by a later one: %.2f", share)
	require.Positive(t, newlyReached[1])
	require.Positive(t, newlyReached[2])
	require.Greater(t, newlyReached[1], newlyReached[2], "each attempt reaches fewer new people than the one before")
	require.Greater(t, neverReached, numbers/20, "some people rarely answer")
}

// TestSimulatorObservesPhoneNumbers: the simulator counts, per phoneNumberId, the calls placed
// and the most live at once, from its side of the wire; GET /phone-number/{id} answers each
// configured number with its E.164 number.
func TestSimulatorObservesPhoneNumbers(t *testing.T) {
	t.Parallel()
	clock := vapitest.NewFakeClock(time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC))
	b := setup(t, vapitest.Config{Seed: 1, Clock: clock, TimeScale: 1, ConcurrencyLimit: 2,
		PhoneNumbers: []vapi.PhoneNumber{{ID: "pn-1", Number: "+14155550100"}, {ID: "pn-2", Number: "+12125550100"}}})
	ctx := context.Background()
	pn, err := b.client.GetPhoneNumber(ctx, "pn-2")
	require.NoError(t, err)
	require.Equal(t, "+12125550100", pn.Number)

	from := func(phoneNumberID, number string) *vapi.CreateCallDTO {
		dto := b.dto(number)
		dto.PhoneNumberID = phoneNumberID
		return dto
	}
	for _, d := range []*vapi.CreateCallDTO{from("pn-1", "+12015550101"), from("pn-1", "+12015550102")} {
		_, err := b.client.CreateCall(ctx, d)
		require.NoError(t, err)
	}
	blocked, err := b.client.CreateCall(ctx, from("pn-2", "+12015550103"))
	require.NoError(t, err)
	require.True(t, blocked.ConcurrencyBlocked(), "over the account's limit: not a call from pn-2")
	require.Equal(t, map[string]vapitest.PhoneNumberStats{"pn-1": {Calls: 2, Live: 2, MaxLive: 2}}, b.sim.PhoneNumbers())

	clock.Advance(10 * time.Minute) // both calls are over
	_, err = b.client.CreateCall(ctx, from("pn-2", "+12015550104"))
	require.NoError(t, err)
	require.Equal(t, map[string]vapitest.PhoneNumberStats{
		"pn-1": {Calls: 2, Live: 0, MaxLive: 2}, "pn-2": {Calls: 1, Live: 1, MaxLive: 1},
	}, b.sim.PhoneNumbers())
}
