package vapitest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

// queued is a webhook in a call's queue, with its injected faults.
type queued struct {
	outMsg
	drop, dup, delay bool
}

// enqueue queues a webhook for m.to, by default the call's server; last closes the queue.
func (s *Server) enqueue(c *simCall, m outMsg, last bool) {
	if m.to == nil {
		m.to = c.server
	}
	if c.queue == nil || m.to == nil || !s.wants(c, m.typ) {
		if last && c.queue != nil {
			close(c.queue)
		}
		return
	}
	f := s.cfg.Faults
	q := queued{outMsg: m, drop: s.draw(f.WebhookDrop), dup: s.draw(f.WebhookDuplicate), delay: s.draw(f.WebhookDelay)}
	select {
	case c.queue <- toOut(q):
	case <-s.ctx.Done():
	}
	if last {
		close(c.queue)
	}
}

// toOut smuggles the fault flags through the outMsg channel.
func toOut(q queued) outMsg {
	m := q.outMsg
	m.faults = [3]bool{q.drop, q.dup, q.delay}
	return m
}

// wants reports whether the call's server messages include typ. A tool's
// tool-calls are always sent: the model waits for the tool's result.
func (s *Server) wants(c *simCall, typ vapi.ServerMessageType) bool {
	return typ == vapi.ServerMessageTypeToolCalls || slices.Contains(c.messages, typ)
}

// deliverLoop sends a call's webhooks in order.
func (s *Server) deliverLoop(c *simCall) {
	defer s.wg.Done()
	for {
		var m outMsg
		var ok bool
		select {
		case m, ok = <-c.queue:
		case <-s.ctx.Done():
			return
		}
		if !ok {
			return
		}
		drop, dup, delay := m.faults[0], m.faults[1], m.faults[2]
		srv := m.to
		base := Delivery{CallID: c.id, Type: m.typ, Status: m.status, URL: srv.URL, Reordered: m.reordered, Delayed: delay}
		if m.typ != vapi.ServerMessageTypeStatusUpdate {
			base.Status = ""
		}
		detail := string(m.typ) + " " + string(base.Status)
		if drop {
			s.recordFault(FaultEvent{Kind: FaultWebhookDrop, CallID: c.id, Detail: detail})
			d := base
			d.At, d.Dropped = s.now(), true
			s.recordDelivery(d)
			continue
		}
		if delay {
			s.recordFault(FaultEvent{Kind: FaultWebhookDelay, CallID: c.id, Detail: detail})
			if !s.sleep(s.ctx, s.cfg.Faults.WebhookDelayBy) {
				return
			}
		}
		if !s.send(c, srv, m, base) {
			return
		}
		if dup {
			s.recordFault(FaultEvent{Kind: FaultWebhookDuplicate, CallID: c.id, Detail: detail})
			d := base
			d.Duplicate = true
			if !s.send(c, srv, m, d) {
				return
			}
		}
	}
}

// send delivers one webhook with the server's backoff plan (none: a single
// attempt). It returns false when the Server is closing.
func (s *Server) send(c *simCall, srv *vapi.Server, m outMsg, base Delivery) bool {
	attempts := 1
	var plan *vapi.BackoffPlan
	if srv.BackoffPlan != nil {
		plan = srv.BackoffPlan
		attempts += max(0, plan.MaxRetries)
	}
	timeout := 20 * time.Second
	if srv.TimeoutSeconds > 0 {
		timeout = time.Duration(srv.TimeoutSeconds * float64(time.Second))
	}
	for i := 1; i <= attempts; i++ {
		d := base
		d.Attempt, d.At, d.Body = i, s.now(), m.body
		code, hdr, err := s.post(srv, m.body, timeout)
		d.StatusCode, d.Header = code, hdr
		if err != nil {
			d.Err = err.Error()
		}
		s.recordDelivery(d)
		if s.ctx.Err() != nil {
			return false
		}
		if err == nil && code >= 200 && code < 300 {
			return true
		}
		if plan == nil || i == attempts {
			return true
		}
		for _, ex := range plan.ExcludedStatusCodes {
			if err == nil && ex == code {
				return true
			}
		}
		delay := time.Duration(plan.BaseDelaySeconds * float64(time.Second))
		if plan.Type == vapi.BackoffTypeExponential {
			delay <<= (i - 1)
		}
		if !s.sleep(s.ctx, delay) {
			return false
		}
	}
	return true
}

// post sends one webhook request.
func (s *Server) post(srv *vapi.Server, body []byte, timeout time.Duration) (int, http.Header, error) {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Vapi/1.0 (simulator)")
	for k, v := range srv.Headers {
		req.Header.Set(k, v)
	}
	if s.cfg.WebhookSecret != "" {
		req.Header.Set("X-Vapi-Secret", s.cfg.WebhookSecret)
	}
	hdr := req.Header.Clone()
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, hdr, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, hdr, nil
}
