package vapitest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// plainDTO is a call without a server url: no webhooks, so the fake clock
// alone drives the simulator and nothing runs in the background.
func plainDTO(assistantID, phoneNumberID, number string) *vapi.CreateCallDTO {
	return &vapi.CreateCallDTO{
		Name: "list-" + number[len(number)-4:], AssistantID: assistantID, PhoneNumberID: phoneNumberID,
		Customer: &vapi.CreateCustomerDTO{Number: number},
	}
}

func callIDs(calls []vapi.Call) []string {
	out := make([]string, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.ID)
	}
	return out
}

// listIDs lists calls through the real client and returns their ids, in the
// order answered.
func (b *testBundle) listIDs(t *testing.T, p vapi.ListCallsParams) []string {
	t.Helper()
	calls, err := b.client.ListCalls(context.Background(), &p)
	require.NoError(t, err)
	require.NotNil(t, calls)
	return callIDs(calls)
}

// requireNestError checks NestJS' error body: exactly message (a string or
// a list of strings), error and statusCode.
func requireNestError(t *testing.T, status int, body []byte, wantMsgs ...string) {
	t.Helper()
	var nb struct {
		Message    json.RawMessage `json:"message"`
		Error      string          `json:"error"`
		StatusCode int             `json:"statusCode"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&nb), "%s", body)
	require.Equal(t, status, nb.StatusCode, "%s", body)
	require.Equal(t, http.StatusText(status), nb.Error, "%s", body)
	var msgs []string
	if err := json.Unmarshal(nb.Message, &msgs); err != nil {
		var one string
		require.NoError(t, json.Unmarshal(nb.Message, &one), "%s", body)
		msgs = []string{one}
	}
	require.ElementsMatch(t, wantMsgs, msgs, "%s", body)
}

// getNoAuth GETs path from the simulator without an Authorization header.
func (b *testBundle) getNoAuth(t *testing.T, path string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(b.http.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out, resp.Header
}

func TestSimulatorListCallsFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A start time off the millisecond grid: the API reports milliseconds,
	// the simulator keeps nanoseconds.
	t0 := time.Date(2026, 8, 1, 12, 0, 0, 123_456_789, time.UTC)
	clock := vapitest.NewFakeClock(t0)
	b := setup(t, vapitest.Config{Seed: 11, Clock: clock, TimeScale: 1, PhoneNumberIDs: []string{"pn-1", "pn-2"}})
	asstA, asstB := vapitest.AssistantCollections, vapitest.AssistantAppointment

	create := func(assistantID, pn, number string) *vapi.Call {
		t.Helper()
		c, err := b.client.CreateCall(ctx, plainDTO(assistantID, pn, number))
		require.NoError(t, err)
		return c
	}
	// Busy numbers: ringing after 0.5–2 s, ended after 4–6 s more, reported
	// 3–8 s later: a call is done within 16 s.
	c1 := create(asstA, "pn-1", "+12015550121")
	clock.Advance(time.Second)
	c2 := create(asstB, "pn-1", "+12015550122")
	clock.Advance(time.Minute) // c1 and c2 end and are reported
	c3 := create(asstA, "pn-2", "+12015550123")
	clock.Advance(time.Second)
	c4 := create(asstB, "pn-2", "+12015550124")

	ms := time.Millisecond
	require.Equal(t, t0.Truncate(ms), c1.CreatedAt.UTC())
	require.Equal(t, t0.Add(time.Second).Truncate(ms), c2.CreatedAt.UTC())
	require.Equal(t, t0.Add(61*time.Second).Truncate(ms), c3.CreatedAt.UTC())
	require.Equal(t, t0.Add(62*time.Second).Truncate(ms), c4.CreatedAt.UTC())
	// An unknown phone number id is refused, so nothing else is listed.
	_, err := b.client.CreateCall(ctx, plainDTO(asstA, "pn-3", "+12015550125"))
	require.Equal(t, vapi.ErrorClassPermanent, vapi.Classify(err))

	all := []string{c4.ID, c3.ID, c2.ID, c1.ID} // newest first
	list := func(p vapi.ListCallsParams) []string { t.Helper(); return b.listIDs(t, p) }

	t.Run("OrderAndIdentity", func(t *testing.T) {
		require.Equal(t, all, list(vapi.ListCallsParams{}))
		require.Equal(t, []string{c2.ID}, list(vapi.ListCallsParams{ID: c2.ID}))
		require.Empty(t, list(vapi.ListCallsParams{ID: "00000000-0000-4000-8000-000000000000"}))
		require.Equal(t, []string{c3.ID, c1.ID}, list(vapi.ListCallsParams{AssistantID: asstA}))
		require.Equal(t, []string{c4.ID, c2.ID}, list(vapi.ListCallsParams{AssistantID: asstB}))
		require.Equal(t, []string{c2.ID, c1.ID}, list(vapi.ListCallsParams{PhoneNumberID: "pn-1"}))
		require.Equal(t, []string{c4.ID, c3.ID}, list(vapi.ListCallsParams{PhoneNumberID: "pn-2"}))
		require.Equal(t, []string{c3.ID}, list(vapi.ListCallsParams{AssistantID: asstA, PhoneNumberID: "pn-2"}))
		require.Empty(t, list(vapi.ListCallsParams{ID: c1.ID, AssistantID: asstB}))
		require.Equal(t, []string{c4.ID, c3.ID}, list(vapi.ListCallsParams{Limit: 2}))
		calls, err := b.client.ListCalls(ctx, &vapi.ListCallsParams{PhoneNumberID: "pn-1"})
		require.NoError(t, err)
		for _, c := range calls {
			require.True(t, c.Ended(), c.ID)
			require.Equal(t, "customer-busy", c.EndedReason)
		}
	})

	t.Run("CreatedAtBoundaries", func(t *testing.T) {
		at := c2.CreatedAt // exactly as the API reported it, to the millisecond
		require.Equal(t, []string{c4.ID, c3.ID}, list(vapi.ListCallsParams{CreatedAtGt: at}))
		require.Equal(t, []string{c4.ID, c3.ID, c2.ID}, list(vapi.ListCallsParams{CreatedAtGe: at}))
		require.Equal(t, []string{c1.ID}, list(vapi.ListCallsParams{CreatedAtLt: at}))
		require.Equal(t, []string{c2.ID, c1.ID}, list(vapi.ListCallsParams{CreatedAtLe: at}))
		require.Equal(t, []string{c2.ID}, list(vapi.ListCallsParams{CreatedAtGe: at, CreatedAtLe: at}))
		require.Empty(t, list(vapi.ListCallsParams{CreatedAtGt: at, CreatedAtLt: at}))
		require.Equal(t, []string{c3.ID, c2.ID}, list(vapi.ListCallsParams{CreatedAtGt: c1.CreatedAt, CreatedAtLt: c4.CreatedAt}))
		// One millisecond either side.
		require.Equal(t, []string{c4.ID, c3.ID, c2.ID}, list(vapi.ListCallsParams{CreatedAtGt: at.Add(-ms)}))
		require.Equal(t, []string{c2.ID, c1.ID}, list(vapi.ListCallsParams{CreatedAtLt: at.Add(ms)}))
		require.Equal(t, []string{c4.ID, c3.ID}, list(vapi.ListCallsParams{CreatedAtGe: at.Add(ms)}))
		require.Equal(t, []string{c1.ID}, list(vapi.ListCallsParams{CreatedAtLe: at.Add(-ms)}))

		// The simulator's own nanosecond time: the client truncates lower
		// bounds and rounds upper bounds up (widening), so Gt still
		// excludes the call and Ge, Le (and, widened, Lt) include it.
		rec, ok := b.sim.Call(c2.ID)
		require.True(t, ok)
		require.Equal(t, t0.Add(time.Second), rec.CreatedAt)
		require.NotEqual(t, rec.CreatedAt, rec.CreatedAt.Truncate(ms))
		require.Equal(t, []string{c4.ID, c3.ID}, list(vapi.ListCallsParams{CreatedAtGt: rec.CreatedAt}))
		require.Equal(t, []string{c4.ID, c3.ID, c2.ID}, list(vapi.ListCallsParams{CreatedAtGe: rec.CreatedAt}))
		require.Equal(t, []string{c2.ID, c1.ID}, list(vapi.ListCallsParams{CreatedAtLe: rec.CreatedAt}))
		require.Equal(t, []string{c2.ID, c1.ID}, list(vapi.ListCallsParams{CreatedAtLt: rec.CreatedAt}))

		// Every pivot and operator, against a local predicate.
		for _, pivot := range []*vapi.Call{c1, c2, c3, c4} {
			p := pivot.CreatedAt
			for name, tc := range map[string]struct {
				params vapi.ListCallsParams
				keep   func(time.Time) bool
			}{
				"Gt": {vapi.ListCallsParams{CreatedAtGt: p}, func(x time.Time) bool { return x.After(p) }},
				"Ge": {vapi.ListCallsParams{CreatedAtGe: p}, func(x time.Time) bool { return !x.Before(p) }},
				"Lt": {vapi.ListCallsParams{CreatedAtLt: p}, func(x time.Time) bool { return x.Before(p) }},
				"Le": {vapi.ListCallsParams{CreatedAtLe: p}, func(x time.Time) bool { return !x.After(p) }},
			} {
				var want []string
				for _, c := range []*vapi.Call{c4, c3, c2, c1} {
					if tc.keep(c.CreatedAt) {
						want = append(want, c.ID)
					}
				}
				got := list(tc.params)
				if len(want) == 0 {
					require.Empty(t, got, "%s %s", name, p)
				} else {
					require.Equal(t, want, got, "%s %s", name, p)
				}
			}
		}

		// Other ISO 8601 spellings of the same instant, sent raw.
		for _, v := range []string{
			at.UTC().Format(vapi.QueryTimeLayout),
			at.In(time.FixedZone("", 2*3600)).Format(vapi.QueryTimeLayout), // +02:00
			at.UTC().Format(time.RFC3339Nano),
		} {
			code, body, _ := b.raw(t, http.MethodGet, "/call?createdAtGe="+url.QueryEscape(v)+"&createdAtLe="+url.QueryEscape(v), nil)
			require.Equal(t, http.StatusOK, code, "%s: %s", v, body)
			var got []vapi.Call
			require.NoError(t, json.Unmarshal(body, &got))
			require.Equal(t, []string{c2.ID}, callIDs(got), v)
		}
	})

	t.Run("UpdatedAt", func(t *testing.T) {
		calls, err := b.client.ListCalls(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, all, callIDs(calls))
		upd := map[string]time.Time{}
		for _, c := range calls {
			upd[c.ID] = c.UpdatedAt
			require.Equal(t, c.UpdatedAt, c.UpdatedAt.Truncate(ms))
		}
		// c1 and c2 ended (and were reported) before c3 and c4 were created.
		require.True(t, calls[2].Ended() && calls[3].Ended())
		require.False(t, calls[0].Ended() || calls[1].Ended())
		mark := upd[c1.ID]
		if upd[c2.ID].After(mark) {
			mark = upd[c2.ID]
		}
		require.True(t, mark.Before(c3.CreatedAt), "%s %s", mark, c3.CreatedAt)
		require.True(t, upd[c1.ID].After(c1.CreatedAt.Add(3*time.Second)))
		require.Equal(t, []string{c2.ID, c1.ID}, list(vapi.ListCallsParams{UpdatedAtLe: mark}))
		require.Equal(t, []string{c4.ID, c3.ID}, list(vapi.ListCallsParams{UpdatedAtGt: mark}))
		for _, pivot := range all {
			p := upd[pivot]
			for name, tc := range map[string]struct {
				params vapi.ListCallsParams
				keep   func(time.Time) bool
			}{
				"Gt": {vapi.ListCallsParams{UpdatedAtGt: p}, func(x time.Time) bool { return x.After(p) }},
				"Ge": {vapi.ListCallsParams{UpdatedAtGe: p}, func(x time.Time) bool { return !x.Before(p) }},
				"Lt": {vapi.ListCallsParams{UpdatedAtLt: p}, func(x time.Time) bool { return x.Before(p) }},
				"Le": {vapi.ListCallsParams{UpdatedAtLe: p}, func(x time.Time) bool { return !x.After(p) }},
			} {
				var want []string
				for _, id := range all {
					if tc.keep(upd[id]) {
						want = append(want, id)
					}
				}
				got := list(tc.params)
				if len(want) == 0 {
					require.Empty(t, got, "%s %s", name, p)
				} else {
					require.Equal(t, want, got, "%s %s", name, p)
				}
				// The pivot itself: in for Ge and Le, out for Gt and Lt.
				require.Equal(t, name == "Ge" || name == "Le", slices.Contains(got, pivot), "%s %s", name, p)
			}
		}

		// Let c3 and c4 end: they alone are updated after this point.
		before := clock.Now()
		clock.Advance(time.Minute)
		ended, err := b.client.ListCalls(ctx, &vapi.ListCallsParams{UpdatedAtGt: before})
		require.NoError(t, err)
		require.Equal(t, []string{c4.ID, c3.ID}, callIDs(ended))
		for _, c := range ended {
			require.True(t, c.Ended(), c.ID)
			require.True(t, c.UpdatedAt.After(before))
			require.False(t, c.EndedAt.IsZero())
		}
		require.Equal(t, []string{c2.ID, c1.ID}, list(vapi.ListCallsParams{UpdatedAtLt: before}))
		require.Equal(t, []string{c4.ID}, list(vapi.ListCallsParams{UpdatedAtGe: before, AssistantID: asstB, CreatedAtGt: c1.CreatedAt}))
	})
}

func TestSimulatorListCallsLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := vapitest.NewFakeClock(time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC))
	// The clock stays put: no call moves, and the rate limiter is off.
	b := setup(t, vapitest.Config{Seed: 12, Clock: clock, TimeScale: 1, RequestRate: -1, ConcurrencyLimit: 5000})
	const n = 1001
	for i := 0; i < n; i++ {
		_, err := b.client.CreateCall(ctx, plainDTO(vapitest.AssistantCollections, "pn-1", fmt.Sprintf("+1415555%04d", i)))
		require.NoError(t, err)
	}
	recs := b.sim.Calls()
	require.Len(t, recs, n)
	newest := make([]string, 0, n) // newest first
	for i := len(recs) - 1; i >= 0; i-- {
		newest = append(newest, recs[i].ID)
	}

	require.Equal(t, newest[:100], b.listIDs(t, vapi.ListCallsParams{}), "default limit")
	got, err := b.client.ListCalls(ctx, nil)
	require.NoError(t, err)
	require.Len(t, got, 100)
	require.Equal(t, newest[:2], b.listIDs(t, vapi.ListCallsParams{Limit: 2}))
	require.Equal(t, newest[:1], b.listIDs(t, vapi.ListCallsParams{Limit: 1}))
	require.Equal(t, newest[:1000], b.listIDs(t, vapi.ListCallsParams{Limit: 1000}), "max limit")
	require.Equal(t, newest[:2], b.listIDs(t, vapi.ListCallsParams{Limit: 2, PhoneNumberID: "pn-1"}))

	_, err = b.client.ListCalls(ctx, &vapi.ListCallsParams{Limit: 1001})
	var ae *vapi.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusBadRequest, ae.StatusCode)
	require.Equal(t, []string{"limit must not be greater than 1000"}, ae.Messages)
	require.Equal(t, "Bad Request", ae.ErrorText)
	require.Equal(t, vapi.ErrorClassPermanent, vapi.Classify(err))

	code, body, _ := b.raw(t, http.MethodGet, "/call?limit=0", nil)
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `[]`, string(body))
}

func TestSimulatorListCallsEmptyAndBadFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := vapitest.NewFakeClock(time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC))
	b := setup(t, vapitest.Config{Seed: 13, Clock: clock, TimeScale: 1})

	requireEmpty := func(path string) {
		t.Helper()
		code, body, hdr := b.raw(t, http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, code, "%s: %s", path, body)
		require.Contains(t, hdr.Get("Content-Type"), "application/json")
		require.Equal(t, "[]", strings.TrimSpace(string(body)), path)
	}
	requireEmpty("/call") // no calls at all
	c, err := b.client.CreateCall(ctx, plainDTO(vapitest.AssistantCollections, "pn-1", "+12015550101"))
	require.NoError(t, err)
	requireEmpty("/call?assistantId=" + vapitest.AssistantAppointment)
	requireEmpty("/call?phoneNumberId=pn-2")
	requireEmpty("/call?id=00000000-0000-4000-8000-000000000000")
	requireEmpty("/call?createdAtGt=" + url.QueryEscape(c.CreatedAt.Format(vapi.QueryTimeLayout)))
	requireEmpty("/call?createdAtLt=" + url.QueryEscape(c.CreatedAt.Format(vapi.QueryTimeLayout)))
	requireEmpty("/call?updatedAtGt=2030-01-01T00:00:00.000Z")
	calls, err := b.client.ListCalls(ctx, &vapi.ListCallsParams{AssistantID: vapitest.AssistantAppointment})
	require.NoError(t, err)
	require.NotNil(t, calls)
	require.Empty(t, calls)
	require.Equal(t, []string{c.ID}, b.listIDs(t, vapi.ListCallsParams{}))

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"createdAtGt=notadate", []string{"createdAtGt must be a valid ISO 8601 date string"}},
		{"createdAtLe=2026-13-45T00:00:00Z", []string{"createdAtLe must be a valid ISO 8601 date string"}},
		{"updatedAtGe=yesterday", []string{"updatedAtGe must be a valid ISO 8601 date string"}},
		{"updatedAtLt=1722513600", []string{"updatedAtLt must be a valid ISO 8601 date string"}},
		{"limit=5000", []string{"limit must not be greater than 1000"}},
		{"limit=1001", []string{"limit must not be greater than 1000"}},
		{"limit=-1", []string{"limit must not be less than 0"}},
		{"limit=ten", []string{"limit must be a number conforming to the specified constraints"}},
		{"foo=1", []string{"property foo should not exist"}},
		{"createdAtGt=notadate&limit=5000", []string{"createdAtGt must be a valid ISO 8601 date string", "limit must not be greater than 1000"}},
	} {
		code, body, hdr := b.raw(t, http.MethodGet, "/call?"+tc.query, nil)
		require.Equal(t, http.StatusBadRequest, code, "%s: %s", tc.query, body)
		require.Contains(t, hdr.Get("Content-Type"), "application/json")
		requireNestError(t, http.StatusBadRequest, body, tc.want...)
	}

	// Through the client: a permanent *APIError carrying the messages.
	_, err = b.client.ListCalls(ctx, &vapi.ListCallsParams{Limit: 5000})
	var ae *vapi.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusBadRequest, ae.StatusCode)
	require.Equal(t, []string{"limit must not be greater than 1000"}, ae.Messages)
	require.Equal(t, vapi.ErrorClassPermanent, vapi.Classify(err))

	// GET /call needs the key.
	code, body, _ := b.getNoAuth(t, "/call")
	require.Equal(t, http.StatusUnauthorized, code, "%s", body)
}

// simRequests is GET /_sim/requests.
type simRequests struct {
	Requests []vapitest.CreateRequest `json:"requests"`
	ByNumber map[string]int           `json:"byNumber"`
}

// simConcurrency is GET /_sim/concurrency.
type simConcurrency struct {
	Samples []vapitest.ConcurrencySample `json:"samples"`
	Max     int                          `json:"max"`
	Live    int                          `json:"live"`
	Limit   int                          `json:"limit"`
}

// simFaults is GET /_sim/faults.
type simFaults struct {
	Events []vapitest.FaultEvent      `json:"events"`
	Counts map[vapitest.FaultKind]int `json:"counts"`
}

// getSim GETs an introspection endpoint without credentials and decodes it
// strictly.
func getSim[T any](t *testing.T, b *testBundle, path string) T {
	t.Helper()
	code, body, hdr := b.getNoAuth(t, path)
	require.Equal(t, http.StatusOK, code, "%s: %s", path, body)
	require.Contains(t, hdr.Get("Content-Type"), "application/json")
	var v T
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&v), "%s: %s", path, body)
	return v
}

// checkIntrospection compares every /_sim endpoint with the Go API. The
// simulator must be quiescent.
func checkIntrospection(t *testing.T, b *testBundle) {
	t.Helper()
	sim := b.sim

	reqs := getSim[simRequests](t, b, "/_sim/requests")
	want := sim.CreateRequests()
	require.Len(t, reqs.Requests, len(want))
	for i, r := range want {
		g := reqs.Requests[i]
		require.True(t, r.At.Equal(g.At), i)
		require.Equal(t, r.Number, g.Number, i)
		require.Equal(t, r.Status, g.Status, i)
		require.Equal(t, r.CallID, g.CallID, i)
		require.Equal(t, r.Fault, g.Fault, i)
		if r.Body == nil {
			require.JSONEq(t, "null", string(g.Body), i)
		} else {
			require.JSONEq(t, string(r.Body), string(g.Body), i)
		}
	}
	require.Equal(t, sim.CreateRequestsByNumber(), reqs.ByNumber)

	calls := getSim[[]vapitest.CallRecord](t, b, "/_sim/calls")
	require.Equal(t, sim.Calls(), calls)

	conc := getSim[simConcurrency](t, b, "/_sim/concurrency")
	samples, maxLive := sim.Concurrency()
	require.Equal(t, samples, conc.Samples)
	require.Equal(t, maxLive, conc.Max)
	require.Equal(t, sim.Live(), conc.Live)
	require.Equal(t, sim.Config().ConcurrencyLimit, conc.Limit)

	dels := getSim[[]vapitest.Delivery](t, b, "/_sim/deliveries")
	wantDels := sim.Deliveries()
	require.Len(t, dels, len(wantDels))
	for i, d := range wantDels {
		g := dels[i]
		require.True(t, d.At.Equal(g.At), i)
		require.Equal(t, d.CallID, g.CallID, i)
		require.Equal(t, d.Type, g.Type, i)
		require.Equal(t, d.Status, g.Status, i)
		require.Equal(t, d.URL, g.URL, i)
		require.Equal(t, d.Attempt, g.Attempt, i)
		require.Equal(t, d.StatusCode, g.StatusCode, i)
		require.Equal(t, d.Err, g.Err, i)
		require.Equal(t, [4]bool{d.Dropped, d.Duplicate, d.Delayed, d.Reordered}, [4]bool{g.Dropped, g.Duplicate, g.Delayed, g.Reordered}, i)
		require.Equal(t, d.Header, g.Header, i)
		if len(d.Body) > 0 {
			require.JSONEq(t, string(d.Body), string(g.Body), i)
		}
	}

	faults := getSim[simFaults](t, b, "/_sim/faults")
	if wantEvents := sim.Faults(); len(wantEvents) == 0 {
		require.Empty(t, faults.Events)
	} else {
		require.Equal(t, wantEvents, faults.Events)
	}
	wantCounts := sim.FaultCounts()
	if len(wantCounts) == 0 {
		require.Empty(t, faults.Counts)
	} else {
		require.Equal(t, wantCounts, faults.Counts)
	}
}

func TestSimulatorIntrospectionEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := vapitest.NewFakeClock(time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC))
	b := setup(t, vapitest.Config{Seed: 21, Clock: clock, TimeScale: 1, ConcurrencyLimit: 2,
		RequestRate: 1, RequestBurst: 4, Faults: vapitest.Faults{WebhookDuplicate: 1}})

	// Before anything: empty lists are [] (not null), one concurrency sample.
	for p, want := range map[string]string{
		"/_sim/calls":       `[]`,
		"/_sim/deliveries":  `[]`,
		"/_sim/requests":    `{"requests":[],"byNumber":{}}`,
		"/_sim/faults":      `{"events":[],"counts":{}}`,
		"/_sim/concurrency": `{"samples":[{"at":"2026-08-01T12:00:00Z","live":0}],"max":0,"live":0,"limit":2}`,
	} {
		code, body, _ := b.getNoAuth(t, p)
		require.Equal(t, http.StatusOK, code)
		require.JSONEq(t, want, string(body), p)
	}
	checkIntrospection(t, b)
	require.Empty(t, getSim[simRequests](t, b, "/_sim/requests").Requests)

	// Two busy calls fill the concurrency limit; the third is blocked (201);
	// an invalid body is a 400; the fifth request meets the empty bucket.
	c1, err := b.client.CreateCall(ctx, b.dto("+12015550121"))
	require.NoError(t, err)
	c2, err := b.client.CreateCall(ctx, b.dto("+12015550122"))
	require.NoError(t, err)
	c3, err := b.client.CreateCall(ctx, b.dto("+12015550123"))
	require.NoError(t, err)
	require.True(t, c3.ConcurrencyBlocked())
	code, body, _ := b.raw(t, http.MethodPost, "/call", map[string]any{"assistantId": vapitest.AssistantCollections, "phoneNumberId": "pn-1", "customer": map[string]any{"number": "4155550123"}})
	require.Equal(t, http.StatusBadRequest, code, "%s", body)
	_, err = b.client.CreateCall(ctx, b.dto("+12015550124"))
	require.Equal(t, vapi.ErrorClassRateLimited, vapi.Classify(err))

	// The blocked call ended at once: wait for its (duplicated) ended
	// status-update, then the state is still until the clock moves.
	waitFor(t, b.sim, "the blocked call's status-update, twice", func() bool { return len(b.sim.Deliveries()) == 2 })
	// The bucket is empty, yet /_sim answers: no auth, no rate limit.
	checkIntrospection(t, b)

	reqs := getSim[simRequests](t, b, "/_sim/requests")
	require.Len(t, reqs.Requests, 4) // the 429 never reached the handler
	var statuses []int
	for _, r := range reqs.Requests {
		statuses = append(statuses, r.Status)
	}
	require.Equal(t, []int{201, 201, 201, 400}, statuses)
	require.Equal(t, []string{c1.ID, c2.ID, c3.ID, ""}, []string{reqs.Requests[0].CallID, reqs.Requests[1].CallID, reqs.Requests[2].CallID, reqs.Requests[3].CallID})
	require.Equal(t, map[string]int{"+12015550121": 1, "+12015550122": 1, "+12015550123": 1, "4155550123": 1}, reqs.ByNumber)

	conc := getSim[simConcurrency](t, b, "/_sim/concurrency")
	require.Equal(t, 2, conc.Max)
	require.Equal(t, 2, conc.Live)
	require.Equal(t, 2, conc.Limit)
	require.Equal(t, []int{0, 1, 2}, []int{conc.Samples[0].Live, conc.Samples[1].Live, conc.Samples[2].Live})

	faults := getSim[simFaults](t, b, "/_sim/faults")
	require.Equal(t, map[vapitest.FaultKind]int{vapitest.FaultRateLimited: 1, vapitest.FaultWebhookDuplicate: 1}, faults.Counts)

	// Every call ends and is reported; every webhook is sent twice.
	clock.Advance(time.Minute)
	for _, c := range []*vapi.Call{c1, c2, c3} {
		rec, ok := b.sim.Call(c.ID)
		require.True(t, ok)
		require.True(t, rec.Reported, c.ID)
	}
	// Busy: ringing, ended, report; blocked: ended, report. Each twice.
	const wantDeliveries = 2 * (3 + 3 + 2)
	waitFor(t, b.sim, "every delivery", func() bool { return len(b.sim.Deliveries()) == wantDeliveries })
	checkIntrospection(t, b)

	calls := getSim[[]vapitest.CallRecord](t, b, "/_sim/calls")
	require.Len(t, calls, 3)
	require.Equal(t, []string{c1.ID, c2.ID, c3.ID}, []string{calls[0].ID, calls[1].ID, calls[2].ID})
	require.Equal(t, vapitest.OutcomeConcurrencyBlocked, calls[2].Outcome)
	for _, c := range calls {
		require.Equal(t, vapi.CallStatusEnded, c.Status)
		require.True(t, c.Reported)
		require.False(t, c.EndedAt.IsZero())
	}
	conc = getSim[simConcurrency](t, b, "/_sim/concurrency")
	require.Equal(t, 2, conc.Max)
	require.Equal(t, 0, conc.Live)
	require.Equal(t, 0, conc.Samples[len(conc.Samples)-1].Live)

	dels := getSim[[]vapitest.Delivery](t, b, "/_sim/deliveries")
	perCall := map[string]int{}
	dups := 0
	for _, d := range dels {
		perCall[d.CallID]++
		if d.Duplicate {
			dups++
		}
		require.Equal(t, http.StatusOK, d.StatusCode)
		require.Equal(t, "tok", d.Header.Get("X-Runner-Token"))
	}
	require.Equal(t, map[string]int{c1.ID: 6, c2.ID: 6, c3.ID: 4}, perCall)
	require.Equal(t, wantDeliveries/2, dups)
	require.Len(t, b.rc.all(), wantDeliveries)

	faults = getSim[simFaults](t, b, "/_sim/faults")
	require.Equal(t, map[vapitest.FaultKind]int{vapitest.FaultRateLimited: 1, vapitest.FaultWebhookDuplicate: wantDeliveries / 2}, faults.Counts)
	// The blocked call's webhooks race the later requests: no order between kinds.
	for _, e := range faults.Events {
		switch e.Kind {
		case vapitest.FaultRateLimited:
			require.Equal(t, "POST /call", e.Detail)
		case vapitest.FaultWebhookDuplicate:
			require.Contains(t, []string{c1.ID, c2.ID, c3.ID}, e.CallID)
		}
	}

	// A wrong key does not matter either; a trailing slash is accepted;
	// other methods and names are 404s.
	req, err := http.NewRequest(http.MethodGet, b.http.URL+"/_sim/calls/", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	code, body, _ = b.getNoAuth(t, "/_sim/nope")
	require.Equal(t, http.StatusNotFound, code)
	requireNestError(t, http.StatusNotFound, body, "Cannot GET /_sim/nope")
	resp, err = http.Post(b.http.URL+"/_sim/calls", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
