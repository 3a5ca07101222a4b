package vapitest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

// simCall is a simulated call's state. Guarded by Server.mu.
type simCall struct {
	id            string
	name          string
	assistantID   string
	phoneNumberID string
	number        string
	customerRaw   json.RawMessage
	overridesRaw  json.RawMessage
	overrides     *vapi.AssistantOverrides
	// target is the call's squad, workflow or transient assistant (beside assistantID).
	target callTarget
	plan   plan

	status      vapi.CallStatus
	endedReason string
	createdAt   time.Time
	updatedAt   time.Time
	startedAt   time.Time
	endedAt     time.Time
	live        bool
	reported    bool
	result      *callResult // set when ended

	// server is where the call's server messages go: assistantOverrides.server, else the
	// assistant's server, else the phone number's; nil: nowhere. messages are the types sent.
	server   *vapi.Server
	messages []vapi.ServerMessageType
	// tools are the assistant's function tools that have a server to call (theirs, else
	// server), with that server set.
	tools []vapi.Tool

	queue chan outMsg // webhook queue; nil when no message has anywhere to go
}

func (c *simCall) record() CallRecord {
	return CallRecord{ID: c.id, Number: c.number, Outcome: c.plan.outcome, Status: c.status,
		EndedReason: c.plan.endedReason, CreatedAt: c.createdAt, EndedAt: c.endedAt, Reported: c.reported}
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest, "could not read body"))
		return
	}
	req := CreateRequest{At: s.now(), Body: json.RawMessage(append([]byte(nil), body...))}
	var peek struct {
		Customer struct {
			Number string `json:"number"`
		} `json:"customer"`
	}
	if json.Valid(body) {
		_ = json.Unmarshal(body, &peek)
	} else {
		req.Body = nil
	}
	req.Number = peek.Customer.Number
	idx := s.addRequest(req)

	f := s.cfg.Faults
	errBefore := s.draw(f.CreateErrorBefore)
	errAfter := s.draw(f.CreateErrorAfter)
	timeout := s.draw(f.CreateTimeout)
	drop := s.draw(f.CreateDrop)

	if errBefore {
		s.recordFault(FaultEvent{Kind: FaultCreateErrorBefore, Detail: req.Number})
		s.finishRequest(idx, http.StatusInternalServerError, "", FaultCreateErrorBefore)
		internalError(w)
		return
	}
	if !json.Valid(body) {
		s.finishRequest(idx, http.StatusBadRequest, "", "")
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest, "Unexpected token in JSON body"))
		return
	}
	if msgs := s.validateCreate(body); len(msgs) > 0 {
		s.finishRequest(idx, http.StatusBadRequest, "", "")
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest, msgs))
		return
	}
	var dto struct {
		vapi.CreateCallDTO
		Customer           json.RawMessage `json:"customer"`
		AssistantOverrides json.RawMessage `json:"assistantOverrides"`
		SquadOverrides     json.RawMessage `json:"squadOverrides"`
		WorkflowOverrides  json.RawMessage `json:"workflowOverrides"`
	}
	_ = json.Unmarshal(body, &dto)
	target, msg := s.callTarget(dto.CreateCallDTO)
	if msg != "" {
		s.finishRequest(idx, http.StatusBadRequest, "", "")
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest, msg))
		return
	}
	if dto.PhoneNumberID != "" && len(s.phoneIDs) > 0 && !s.phoneIDs[dto.PhoneNumberID] {
		s.finishRequest(idx, http.StatusBadRequest, "", "")
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest,
			"Couldn't Get Phone Number. `phoneNumberId` "+dto.PhoneNumberID+" Does Not Exist."))
		return
	}
	overridesRaw := dto.AssistantOverrides
	switch target.overridesKey {
	case "squadOverrides":
		overridesRaw = dto.SquadOverrides
	case "workflowOverrides":
		overridesRaw = dto.WorkflowOverrides
	}
	var overrides *vapi.AssistantOverrides
	if len(overridesRaw) > 0 && string(overridesRaw) != "null" {
		// A workflow's overrides are its variables only, a subset of an assistant's.
		overrides = new(vapi.AssistantOverrides)
		_ = json.Unmarshal(overridesRaw, overrides)
	}

	c, limits, rejected := s.createCall(dto.CreateCallDTO, peek.Customer.Number, dto.Customer, overridesRaw, overrides, target)
	if rejected {
		s.finishRequest(idx, http.StatusBadRequest, "", "")
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Over Concurrency Limit", "error": "Over Concurrency Limit", "statusCode": 400})
		return
	}
	switch {
	case errAfter:
		s.recordFault(FaultEvent{Kind: FaultCreateErrorAfter, CallID: c.id, Detail: req.Number})
		s.finishRequest(idx, http.StatusInternalServerError, c.id, FaultCreateErrorAfter)
		internalError(w)
		return
	case timeout:
		s.recordFault(FaultEvent{Kind: FaultCreateTimeout, CallID: c.id, Detail: req.Number})
		s.finishRequest(idx, 0, c.id, FaultCreateTimeout)
		var done <-chan struct{}
		if f.CreateTimeoutDelay > 0 {
			ch := make(chan struct{})
			stop := s.cfg.Clock.AfterFunc(f.CreateTimeoutDelay, func() { close(ch) })
			defer stop()
			done = ch
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case <-done:
			s.finishRequest(idx, http.StatusCreated, c.id, FaultCreateTimeout)
		}
	case drop:
		s.recordFault(FaultEvent{Kind: FaultCreateDrop, CallID: c.id, Detail: req.Number})
		s.finishRequest(idx, 0, c.id, FaultCreateDrop)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // no hijacking (HTTP/2): abort the stream
	default:
		s.finishRequest(idx, http.StatusCreated, c.id, "")
	}
	s.mu.Lock()
	out := s.callBodyLocked(c)
	s.mu.Unlock()
	out["subscriptionLimits"] = limits
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) addRequest(r CreateRequest) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
	s.notifyLocked()
	return len(s.requests) - 1
}

func (s *Server) finishRequest(i, status int, callID string, fault FaultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[i].Status = status
	s.requests[i].CallID = callID
	s.requests[i].Fault = fault
	s.notifyLocked()
}

// createCall registers a call and starts its lifecycle. rejected is true in
// reject-400 mode over the limit (nothing is created).
func (s *Server) createCall(dto vapi.CreateCallDTO, number string, customerRaw, overridesRaw json.RawMessage, overrides *vapi.AssistantOverrides,
	target callTarget) (*simCall, vapi.SubscriptionLimits, bool) {
	s.mu.Lock()
	limit := s.cfg.ConcurrencyLimit
	blocked := s.live >= limit
	if blocked && s.cfg.ConcurrencyMode == ConcurrencyReject400 {
		s.mu.Unlock()
		return nil, vapi.SubscriptionLimits{}, true
	}
	index := s.dialed[number]
	if !blocked {
		s.dialed[number]++
	}
	s.mu.Unlock()

	var p plan
	if blocked {
		p = plan{outcome: OutcomeConcurrencyBlocked, endedReason: vapi.EndedReasonConcurrencyLimitReached, post: 2 * time.Second}
	} else {
		p = s.planFor(number, index, s.now())
	}
	now := s.now()
	c := &simCall{
		id: s.newID(), name: dto.Name, assistantID: dto.AssistantID, phoneNumberID: dto.PhoneNumberID,
		number: number, customerRaw: customerRaw, overridesRaw: overridesRaw, overrides: overrides, target: target, plan: p,
		status: vapi.CallStatusQueued, createdAt: now, updatedAt: now,
	}
	c.server, c.messages, c.tools = s.route(dto, overrides, target)
	if c.server != nil || len(c.tools) > 0 {
		c.queue = make(chan outMsg, 16)
	}

	s.mu.Lock()
	limits := vapi.SubscriptionLimits{ConcurrencyBlocked: blocked, ConcurrencyLimit: float64(limit),
		RemainingConcurrentCalls: float64(max(0, limit-s.live))}
	s.calls[c.id] = c
	s.order = append(s.order, c)
	if !blocked {
		s.phoneLocked(c.phoneNumberID).Calls++
	}
	startErr := p.outcome == OutcomeStartError || p.outcome == OutcomeConcurrencyBlocked
	if !startErr {
		c.live = true
		s.setLiveLocked(1)
		s.phoneLiveLocked(c.phoneNumberID, 1)
	}
	s.notifyLocked()
	s.mu.Unlock()

	if c.queue != nil {
		s.wg.Add(1)
		go s.deliverLoop(c)
	}
	if startErr {
		s.transition(c, vapi.CallStatusEnded)
		return c, limits, false
	}
	s.after(p.queued, func() {
		s.transition(c, vapi.CallStatusRinging)
		s.after(p.ring, func() {
			if p.talk > 0 {
				s.transition(c, vapi.CallStatusInProgress)
				s.after(p.talk, func() { s.transition(c, vapi.CallStatusEnded) })
				return
			}
			s.transition(c, vapi.CallStatusEnded)
		})
	})
	return c, limits, false
}

// route is where a call's server messages go, by Vapi's precedence: a tool's own server for
// its tool-calls, then assistantOverrides.server, the saved assistant's server, the phone
// number's server (the simulator has no org server). The message types are
// assistantOverrides.serverMessages, else the assistant's, else Vapi's default list.
func (s *Server) route(dto vapi.CreateCallDTO, overrides *vapi.AssistantOverrides, target callTarget) (*vapi.Server, []vapi.ServerMessageType, []vapi.Tool) {
	asst := target.assistant
	phone, _ := s.phoneNumber(dto.PhoneNumberID)
	has := func(srv *vapi.Server) bool { return srv != nil && srv.URL != "" }
	var server *vapi.Server
	switch {
	case overrides != nil && has(overrides.Server):
		server = overrides.Server
	case has(asst.Server):
		server = asst.Server
	case has(phone.Server):
		server = phone.Server
	}
	messages := vapi.DefaultServerMessages
	switch {
	case overrides != nil && len(overrides.ServerMessages) > 0:
		messages = overrides.ServerMessages
	case len(asst.ServerMessages) > 0:
		messages = asst.ServerMessages
	}
	var tools []vapi.Tool
	if asst.Model != nil {
		for _, t := range asst.Model.Tools {
			if t.Type != "function" || t.Function == nil {
				continue
			}
			if !has(t.Server) {
				t.Server = server
			}
			if t.Server != nil {
				tools = append(tools, t)
			}
		}
	}
	return server, messages, tools
}

// transition moves a call to status, sends its status-update and, on ended,
// schedules the end-of-call-report.
func (s *Server) transition(c *simCall, status vapi.CallStatus) {
	s.mu.Lock()
	now := s.now()
	c.status = status
	c.updatedAt = now
	switch status {
	case vapi.CallStatusInProgress:
		c.startedAt = now
	case vapi.CallStatusEnded:
		c.endedAt = now
		c.endedReason = c.plan.endedReason
		if c.plan.outcome == OutcomeNoAnswer || c.plan.outcome == OutcomeBusy || c.plan.outcome == OutcomeFailed {
			// Vapi stamps startedAt when it begins dialling: when the call started ringing.
			c.startedAt = c.createdAt.Add(s.real(c.plan.queued))
		}
		c.result = s.buildResult(c)
		if c.live {
			c.live = false
			s.setLiveLocked(-1)
			s.phoneLiveLocked(c.phoneNumberID, -1)
		}
	}
	s.notifyLocked()
	msg := s.statusUpdateLocked(c)
	var toolCalls []outMsg
	if status == vapi.CallStatusInProgress {
		for _, t := range c.tools {
			tc := s.toolCallsLocked(c, t)
			tc.to = t.Server
			toolCalls = append(toolCalls, tc)
		}
	}
	reorder := false
	if status == vapi.CallStatusEnded && c.queue != nil {
		reorder = s.draw(s.cfg.Faults.WebhookReorder)
	}
	s.mu.Unlock()

	if status != vapi.CallStatusEnded {
		s.enqueue(c, msg, false)
		for _, tc := range toolCalls {
			s.enqueue(c, tc, false)
		}
		return
	}
	if !reorder {
		s.enqueue(c, msg, false)
	}
	s.after(c.plan.post, func() {
		s.mu.Lock()
		c.reported = true
		c.updatedAt = s.now()
		report := s.endOfCallReportLocked(c)
		s.notifyLocked()
		s.mu.Unlock()
		if reorder {
			s.recordFault(FaultEvent{Kind: FaultWebhookReorder, CallID: c.id})
			report.reordered = true
			msg.reordered = true
			s.enqueue(c, report, false)
			s.enqueue(c, msg, true)
			return
		}
		s.enqueue(c, report, true)
	})
}

// callBodyLocked renders the Call object as Vapi returns it.
func (s *Server) callBodyLocked(c *simCall) map[string]any {
	cost := 0.0
	call := vapi.Call{
		ID: c.id, OrgID: s.cfg.OrgID, Type: vapi.CallTypeOutboundPhoneCall, Name: c.name,
		Status: c.status, EndedReason: c.endedReason,
		AssistantID: c.assistantID, PhoneNumberID: c.phoneNumberID, Cost: &cost,
	}
	if r := c.result; r != nil {
		call.Cost = &r.cost
		call.CostBreakdown = r.breakdown
		call.Analysis = r.analysis
		call.Artifact = r.artifact
	}
	m := toMap(call)
	m["createdAt"] = isoMillis(c.createdAt)
	m["updatedAt"] = isoMillis(c.updatedAt)
	if !c.startedAt.IsZero() {
		m["startedAt"] = isoMillis(c.startedAt)
	}
	if !c.endedAt.IsZero() {
		m["endedAt"] = isoMillis(c.endedAt)
	}
	if c.result != nil {
		m["costs"] = c.result.costs
		if c.result.endedMessage != "" {
			m["endedMessage"] = c.result.endedMessage
		}
		if a, ok := m["artifact"].(map[string]any); ok {
			a["recording"] = c.result.recording
		}
	}
	if len(c.customerRaw) > 0 {
		m["customer"] = json.RawMessage(c.customerRaw)
	}
	if len(c.overridesRaw) > 0 && string(c.overridesRaw) != "null" {
		m[cmp.Or(c.target.overridesKey, "assistantOverrides")] = json.RawMessage(c.overridesRaw)
	}
	if c.target.squadID != "" {
		m["squadId"] = c.target.squadID
	}
	if c.target.workflowID != "" {
		m["workflowId"] = c.target.workflowID
	}
	if len(c.target.assistantRaw) > 0 {
		m["assistant"] = c.target.assistantRaw
	}
	host := "https://phone-call-websocket.aws-us-west-2-backend-production1.vapi.ai/" + c.id
	m["monitor"] = map[string]any{"listenUrl": strings.Replace(host, "https", "wss", 1) + "/listen", "controlUrl": host + "/control"}
	m["phoneCallProvider"] = "twilio"
	m["phoneCallTransport"] = "pstn"
	if c.plan.outcome != OutcomeStartError && c.plan.outcome != OutcomeConcurrencyBlocked {
		m["phoneCallProviderId"] = "CA" + strings.ReplaceAll(c.id, "-", "")
	}
	return m
}

// toMap converts a value to a JSON object map.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("vapitest: marshal %T: %v", v, err))
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("vapitest: unmarshal %T: %v", v, err))
	}
	return m
}
