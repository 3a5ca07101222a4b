package vapitest

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

// FaultKind names an injected failure (or, for FaultRateLimited, a refusal
// by the rate limiter).
type FaultKind string

// Fault kinds.
const (
	FaultCreateErrorBefore     FaultKind = "create-5xx-before"
	FaultCreateErrorAfter      FaultKind = "create-5xx-after"
	FaultCreateTimeout         FaultKind = "create-timeout"
	FaultCreateDrop            FaultKind = "create-drop"
	FaultRateLimitBurst        FaultKind = "rate-limit-burst"         // a burst started
	FaultRateLimitBurstRequest FaultKind = "rate-limit-burst-request" // one 429 of a burst
	FaultRateLimited           FaultKind = "rate-limited"             // the request-rate limiter refused a request
	FaultWebhookDrop           FaultKind = "webhook-drop"
	FaultWebhookDuplicate      FaultKind = "webhook-duplicate"
	FaultWebhookDelay          FaultKind = "webhook-delay"
	FaultWebhookReorder        FaultKind = "webhook-reorder"
)

// FaultEvent is one injected failure.
type FaultEvent struct {
	// At is the Clock time.
	At time.Time `json:"at"`
	// Kind is the failure.
	Kind FaultKind `json:"kind"`
	// CallID is the call concerned, if any.
	CallID string `json:"callId,omitempty"`
	// Detail says more (a webhook's type and status, a request).
	Detail string `json:"detail,omitempty"`
}

// CreateRequest is one POST /call that passed authentication and the rate
// limiter.
type CreateRequest struct {
	// At is the Clock time.
	At time.Time `json:"at"`
	// Number is customer.number, if the body had one.
	Number string `json:"number,omitempty"`
	// Body is the request body.
	Body json.RawMessage `json:"body"`
	// Status is the HTTP status answered (0 for a dropped connection).
	Status int `json:"status"`
	// CallID is the call created, if any (also when the answer was an
	// error, a timeout or a dropped connection).
	CallID string `json:"callId,omitempty"`
	// Fault is the fault injected into this request, if any.
	Fault FaultKind `json:"fault,omitempty"`
}

// CallRecord is a simulated call and how it was planned.
type CallRecord struct {
	// ID is the call id.
	ID string `json:"id"`
	// Number is the customer's number.
	Number string `json:"number"`
	// Outcome is the planned outcome.
	Outcome Outcome `json:"outcome"`
	// Status is the current status.
	Status vapi.CallStatus `json:"status"`
	// EndedReason is the (planned, once ended actual) ended reason.
	EndedReason string `json:"endedReason"`
	// CreatedAt is when the call was created (Clock time).
	CreatedAt time.Time `json:"createdAt"`
	// EndedAt is when it ended; zero while live.
	EndedAt time.Time `json:"endedAt,omitzero"`
	// Reported says whether the end-of-call report was produced.
	Reported bool `json:"reported"`
}

// ConcurrencySample is the number of live calls from At on.
type ConcurrencySample struct {
	// At is the Clock time of the change.
	At time.Time `json:"at"`
	// Live is the number of live calls.
	Live int `json:"live"`
}

// Delivery is one webhook delivery attempt (or a dropped webhook, with
// Dropped set and no attempt made).
type Delivery struct {
	// At is the Clock time of the attempt.
	At time.Time `json:"at"`
	// CallID is the call.
	CallID string `json:"callId"`
	// Type is the server message type.
	Type vapi.ServerMessageType `json:"type"`
	// Status is the status-update's status.
	Status vapi.CallStatus `json:"status,omitempty"`
	// URL is where it was sent.
	URL string `json:"url"`
	// Attempt counts from 1 per sending (a duplicate starts again at 1);
	// 0 for a dropped webhook.
	Attempt int `json:"attempt"`
	// StatusCode is the receiver's answer; 0 when none.
	StatusCode int `json:"statusCode,omitempty"`
	// Err is the transport error, if any.
	Err string `json:"error,omitempty"`
	// Dropped: the webhook was dropped by the WebhookDrop fault.
	Dropped bool `json:"dropped,omitempty"`
	// Duplicate: this is the second sending of a duplicated webhook.
	Duplicate bool `json:"duplicate,omitempty"`
	// Delayed: the webhook was held by the WebhookDelay fault.
	Delayed bool `json:"delayed,omitempty"`
	// Reordered: the call's end-of-call-report was sent before its final
	// status-update.
	Reordered bool `json:"reordered,omitempty"`
	// Body is what was sent.
	Body json.RawMessage `json:"body,omitempty"`
	// Header holds the headers sent.
	Header http.Header `json:"header,omitempty"`
}

// OK reports whether the receiver answered 2xx.
func (d Delivery) OK() bool { return d.StatusCode >= 200 && d.StatusCode < 300 }

// CreateRequests returns every POST /call received, in order.
func (s *Server) CreateRequests() []CreateRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CreateRequest(nil), s.requests...)
}

// CreateRequestsByNumber counts POST /call requests per customer number.
func (s *Server) CreateRequestsByNumber() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, r := range s.requests {
		out[r.Number]++
	}
	return out
}

// Calls returns every call created, in creation order.
func (s *Server) Calls() []CallRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CallRecord, 0, len(s.order))
	for _, c := range s.order {
		out = append(out, c.record())
	}
	return out
}

// Call returns one call's record.
func (s *Server) Call(id string) (CallRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[id]
	if !ok {
		return CallRecord{}, false
	}
	return c.record(), true
}

// Concurrency returns the live-call count's changes over time and the
// highest count ever.
func (s *Server) Concurrency() (samples []ConcurrencySample, maxLive int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ConcurrencySample(nil), s.samples...), s.maxLive
}

// Live returns the number of live calls.
func (s *Server) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// Deliveries returns every webhook delivery attempt, in order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Faults returns every injected failure, in order.
func (s *Server) Faults() []FaultEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]FaultEvent(nil), s.faults...)
}

// FaultCounts counts the injected failures by kind.
func (s *Server) FaultCounts() map[FaultKind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[FaultKind]int{}
	for _, f := range s.faults {
		out[f.Kind]++
	}
	return out
}

// Changed returns a channel closed at the next change of state (a call
// transition, a delivery, a request), for tests that wait on a condition.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.subscribers = append(s.subscribers, ch)
	return ch
}

// notifyLocked wakes Changed waiters; s.mu must be held.
func (s *Server) notifyLocked() {
	for _, ch := range s.subscribers {
		close(ch)
	}
	s.subscribers = nil
}

func (s *Server) recordFault(f FaultEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.At.IsZero() {
		f.At = s.now()
	}
	s.faults = append(s.faults, f)
	s.notifyLocked()
}

func (s *Server) recordDelivery(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
	s.notifyLocked()
}

// setLiveLocked changes the live count; s.mu must be held.
func (s *Server) setLiveLocked(delta int) {
	s.live += delta
	if s.live > s.maxLive {
		s.maxLive = s.live
	}
	s.samples = append(s.samples, ConcurrencySample{At: s.now(), Live: s.live})
}

// phoneLocked returns the figures of one phone number; s.mu must be held.
func (s *Server) phoneLocked(phoneNumberID string) *PhoneNumberStats {
	p := s.byPhone[phoneNumberID]
	if p == nil {
		p = &PhoneNumberStats{}
		s.byPhone[phoneNumberID] = p
	}
	return p
}

// phoneLiveLocked changes the live count of the calls from one phone number; s.mu must be held.
func (s *Server) phoneLiveLocked(phoneNumberID string, delta int) {
	p := s.phoneLocked(phoneNumberID)
	p.Live += delta
	p.MaxLive = max(p.MaxLive, p.Live)
}

// PhoneNumberStats is what the simulator saw of the calls from one phone number.
type PhoneNumberStats struct {
	// Calls counts the calls placed from it: every call created but those refused for
	// concurrency (a call that fails to start counts, as its attempt does).
	Calls int `json:"calls"`
	// Live is the number of its calls live now; MaxLive the highest it ever was.
	Live    int `json:"live"`
	MaxLive int `json:"maxLive"`
}

// PhoneNumbers returns, by phoneNumberId, what the simulator saw of the calls from each number
// (calls without a phoneNumberId under "").
func (s *Server) PhoneNumbers() map[string]PhoneNumberStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]PhoneNumberStats, len(s.byPhone))
	for id, p := range s.byPhone {
		out[id] = *p
	}
	return out
}

// serveIntrospection serves GET /_sim/{requests,calls,concurrency,
// deliveries,faults} (no authentication).
func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request, what string) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusNotFound, nestError(http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path))
		return
	}
	switch what {
	case "requests":
		reqs := s.CreateRequests()
		byNumber := s.CreateRequestsByNumber()
		writeJSON(w, http.StatusOK, map[string]any{"requests": nonNil(reqs), "byNumber": byNumber})
	case "calls":
		writeJSON(w, http.StatusOK, s.Calls())
	case "concurrency":
		samples, maxLive := s.Concurrency()
		writeJSON(w, http.StatusOK, map[string]any{"samples": samples, "max": maxLive, "live": s.Live(), "limit": s.cfg.ConcurrencyLimit})
	case "deliveries":
		writeJSON(w, http.StatusOK, nonNil(s.Deliveries()))
	case "faults":
		counts := s.FaultCounts()
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		writeJSON(w, http.StatusOK, map[string]any{"events": nonNil(s.Faults()), "counts": counts})
	default:
		writeJSON(w, http.StatusNotFound, nestError(http.StatusNotFound, "Cannot GET "+r.URL.Path))
	}
}

// nonNil makes an empty list encode as [] rather than null, as /_sim/calls does.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
