package vapitest

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

// callResult is what an ended call produced.
type callResult struct {
	cost         float64
	costs        []map[string]any
	breakdown    *vapi.CostBreakdown
	analysis     *vapi.Analysis
	artifact     *vapi.Artifact
	recording    map[string]any
	endedMessage string
}

var templateRe = regexp.MustCompile(`\{\{\s*([A-Za-z_][\w.]*)\s*(?:\|\s*default:\s*"([^"]*)"\s*)?\}\}`)

// render replaces {{ var }} and {{ var | default: "x" }} (a LiquidJS subset).
func render(tmpl string, vars map[string]any) string {
	return templateRe.ReplaceAllStringFunc(tmpl, func(m string) string {
		sub := templateRe.FindStringSubmatch(m)
		var v any = vars
		for _, part := range strings.Split(sub[1], ".") {
			mm, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = mm[part]
		}
		if v == nil || v == "" {
			return sub[2]
		}
		return fmt.Sprint(v)
	})
}

// varsOf returns a call's template variables: variableValues plus customer.
func (c *simCall) vars() map[string]any {
	vars := map[string]any{}
	if c.overrides != nil {
		for k, v := range c.overrides.VariableValues {
			vars[k] = v
		}
	}
	var cust map[string]any
	_ = json.Unmarshal(c.customerRaw, &cust)
	vars["customer"] = cust
	return vars
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// buildResult produces the ended call's transcript, analysis, costs and
// recordings. s.mu is held.
func (s *Server) buildResult(c *simCall) *callResult {
	r := &callResult{analysis: &vapi.Analysis{}, artifact: &vapi.Artifact{}}
	a := c.target.assistant
	vars := c.vars()
	first := render(a.FirstMessage, vars)
	if c.overrides != nil {
		if raw, ok := c.overrides.Extra["firstMessage"]; ok {
			var fm string
			if json.Unmarshal(raw, &fm) == nil && fm != "" {
				first = render(fm, vars)
			}
		}
	}
	if first == "" {
		first = "Hello, this is an automated assistant calling."
	}
	name, _ := vars["first_name"].(string)
	if name == "" {
		name = "the customer"
	}
	answered := c.plan.talk > 0
	var turns []vapi.ArtifactMessage
	var lines []string
	if answered {
		start := c.startedAt
		turns = append(turns, vapi.ArtifactMessage{Role: "system", Message: render(a.SystemPrompt(), vars),
			Time: ms(start), SecondsFromStart: 0})
		var script []struct{ role, text string }
		if c.plan.outcome == OutcomeVoicemail {
			vm := render(a.VoicemailMessage, vars)
			if vm == "" {
				vm = first
			}
			script = []struct{ role, text string }{
				{"user", "You've reached the voicemail of " + name + ". Please leave a message after the tone."},
				{"bot", vm},
			}
		} else {
			script = []struct{ role, text string }{
				{"bot", first},
				{"user", "Yes, speaking."},
				{"bot", "Thanks. Is now a good time to talk for a minute?"},
				{"user", "Sure, go ahead."},
				{"bot", "Great. I just wanted to go over the details with you and find a time that works."},
				{"user", "Okay, Friday works for me."},
				{"bot", firstNonEmpty(a.EndCallMessage, "Thank you. Goodbye.")},
			}
		}
		// Offsets and lengths are simulated; time and endTime are Clock times, like the call's.
		step := c.plan.talk / time.Duration(len(script)+1)
		for i, t := range script {
			offset := time.Duration(i+1) * step
			at := start.Add(s.real(offset))
			dur := step * 2 / 3
			role := t.role
			turns = append(turns, vapi.ArtifactMessage{Role: role, Message: t.text, Time: ms(at), EndTime: ms(at.Add(s.real(dur))),
				SecondsFromStart: offset.Seconds(), Duration: float64(dur.Milliseconds())})
			label := "AI"
			if role == "user" {
				label = "User"
			}
			lines = append(lines, label+": "+t.text)
		}
		r.artifact.Messages = turns
		r.artifact.Transcript = strings.Join(lines, "\n") + "\n"
		base := "https://storage.vapi.ai/" + c.id
		r.artifact.RecordingURL = base + "-mono.wav"
		r.artifact.StereoRecordingURL = base + "-stereo.wav"
		r.recording = map[string]any{"stereoUrl": base + "-stereo.wav", "mono": map[string]any{
			"combinedUrl": base + "-mono.wav", "assistantUrl": base + "-assistant.wav", "customerUrl": base + "-customer.wav"}}
		if c.overrides != nil && len(c.overrides.VariableValues) > 0 {
			r.artifact.VariableValues = c.overrides.VariableValues
		}
	}
	minutes := round4(c.plan.talk.Minutes())
	if answered {
		success := c.plan.outcome == OutcomeCompleted && s.unit(c.number, "success") < 0.6
		r.analysis.SuccessEvaluation = fmt.Sprint(success)
		if c.plan.outcome == OutcomeVoicemail {
			r.analysis.Summary = "The call reached " + name + "'s voicemail; the assistant left a message."
		} else {
			r.analysis.Summary = "The assistant spoke with " + name + ", who agreed to follow up on Friday."
			nn, magic := magicNN(c.number)
			switch {
			case magic && nn == MagicDoNotCall:
				r.analysis.Summary = "The assistant spoke with " + name + ", who asked not to be called again."
				r.analysis.StructuredData = json.RawMessage(`{"will_pay":false,"do_not_call":true}`)
			case magic && nn == MagicCallback:
				r.analysis.Summary = "The assistant spoke with " + name + ", who asked to be called back in two hours."
				b, _ := json.Marshal(map[string]any{"will_pay": false, "callback_at": isoMillis(c.endedAt.Add(2 * time.Hour))})
				r.analysis.StructuredData = b
			case s.unit(c.number, "structured") < 0.7:
				sd := map[string]any{"will_pay": success}
				if !success {
					sd["callback_at"] = isoMillis(c.endedAt.Add(48 * time.Hour))
				}
				b, _ := json.Marshal(sd)
				r.analysis.StructuredData = b
			}
		}
		prompt, completion := float64(800+int(minutes*1500)), float64(60+int(minutes*120))
		chars := float64(len(r.artifact.Transcript))
		tr, stt, llm, tts, vp := round4(minutes*0.0085), round4(minutes*0.0101), round4(prompt*2.5e-6+completion*1e-5), round4(chars*1.8e-5), round4(minutes*0.05)
		an := 0.0004
		r.costs = []map[string]any{
			{"type": "transport", "provider": "twilio", "minutes": minutes, "cost": tr},
			{"type": "transcriber", "transcriber": map[string]any{"provider": "deepgram", "model": "nova-3"}, "minutes": minutes, "cost": stt},
			{"type": "model", "model": map[string]any{"provider": "openai", "model": "gpt-4o"}, "promptTokens": prompt, "completionTokens": completion, "cost": llm},
			{"type": "voice", "voice": map[string]any{"provider": "vapi", "voiceId": "Elliot"}, "characters": chars, "cost": tts},
			{"type": "vapi", "subType": "normal", "minutes": minutes, "cost": vp},
			{"type": "analysis", "analysisType": "summary", "model": map[string]any{"provider": "openai", "model": "gpt-4o-mini"}, "promptTokens": 900.0, "completionTokens": 60.0, "cost": an},
		}
		r.cost = round4(tr + stt + llm + tts + vp + an)
		r.breakdown = &vapi.CostBreakdown{Transport: tr, STT: stt, LLM: llm, TTS: tts, Vapi: vp, Total: r.cost,
			LLMPromptTokens: prompt, LLMCompletionTokens: completion, TTSCharacters: chars,
			AnalysisCostBreakdown: map[string]float64{"summary": an}}
	} else {
		r.costs = []map[string]any{}
		r.breakdown = &vapi.CostBreakdown{}
		switch c.plan.outcome {
		case OutcomeConcurrencyBlocked:
			r.endedMessage = "Call was blocked: the subscription concurrency limit was reached."
		case OutcomeStartError:
			r.endedMessage = "Couldn't get the phone number."
		}
	}
	return r
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func ms(t time.Time) float64 { return float64(t.UnixMilli()) }

// outMsg is a webhook to send.
type outMsg struct {
	typ       vapi.ServerMessageType
	to        *vapi.Server // where it goes
	status    vapi.CallStatus
	body      []byte
	reordered bool
	faults    [3]bool // drop, duplicate, delay
}

// twilioAccountSid is the account of the simulator's Twilio numbers.
const twilioAccountSid = "AC00000000000000000000000000000000"

// phoneNumberJSON is the phone number block of server messages.
func (s *Server) phoneNumberJSON(c *simCall) map[string]any {
	number := simulatedNumber
	if p, ok := s.phones[c.phoneNumberID]; ok && p.Number != "" {
		number = p.Number
	}
	return map[string]any{"id": c.phoneNumberID, "provider": "twilio", "number": number,
		"twilioAccountSid": twilioAccountSid}
}

// snapshotLocked is the call object embedded in server messages: the call
// as created (status queued), as Vapi often sends.
func (s *Server) snapshotLocked(c *simCall) map[string]any {
	m := s.callBodyLocked(&simCall{id: c.id, name: c.name, assistantID: c.assistantID, phoneNumberID: c.phoneNumberID,
		number: c.number, customerRaw: c.customerRaw, overridesRaw: c.overridesRaw, target: c.target, plan: c.plan,
		status: vapi.CallStatusQueued, createdAt: c.createdAt, updatedAt: c.createdAt})
	return m
}

// statusUpdateLocked builds the status-update for the call's current status.
func (s *Server) statusUpdateLocked(c *simCall) outMsg {
	su := vapi.StatusUpdate{Type: vapi.ServerMessageTypeStatusUpdate, Timestamp: vapi.Timestamp{Time: s.now()},
		Status: c.status, EndedReason: c.endedReason}
	m := toMap(su)
	m["call"] = s.snapshotLocked(c)
	m["customer"] = json.RawMessage(c.customerRaw)
	m["phoneNumber"] = s.phoneNumberJSON(c)
	body, _ := json.Marshal(map[string]any{"message": m})
	return outMsg{typ: vapi.ServerMessageTypeStatusUpdate, status: c.status, body: body}
}

// endOfCallReportLocked builds the end-of-call-report.
func (s *Server) endOfCallReportLocked(c *simCall) outMsg {
	r := c.result
	cost := r.cost
	rep := vapi.EndOfCallReport{Type: vapi.ServerMessageTypeEndOfCallReport, Timestamp: vapi.Timestamp{Time: s.now()},
		EndedReason: c.endedReason, StartedAt: c.startedAt, EndedAt: c.endedAt, Cost: &cost,
		Analysis: r.analysis, Artifact: r.artifact, CostBreakdown: r.breakdown,
		Summary: r.analysis.Summary, Transcript: r.artifact.Transcript, Messages: r.artifact.Messages,
		RecordingURL: r.artifact.RecordingURL, StereoRecordingURL: r.artifact.StereoRecordingURL}
	if !c.startedAt.IsZero() {
		d := c.plan.talk // the simulated length, not the (scaled) Clock time between the stamps
		secs, msec, mins := d.Seconds(), float64(d.Milliseconds()), round4(d.Minutes())
		rep.DurationSeconds, rep.DurationMs, rep.DurationMinutes = &secs, &msec, &mins
	}
	m := toMap(rep)
	if !c.startedAt.IsZero() {
		m["startedAt"] = isoMillis(c.startedAt)
	} else {
		delete(m, "startedAt")
	}
	m["endedAt"] = isoMillis(c.endedAt)
	m["costs"] = r.costs
	if art, ok := m["artifact"].(map[string]any); ok && r.recording != nil {
		art["recording"] = r.recording
	}
	m["call"] = s.snapshotLocked(c)
	m["customer"] = json.RawMessage(c.customerRaw)
	m["phoneNumber"] = s.phoneNumberJSON(c)
	body, _ := json.Marshal(map[string]any{"message": m})
	return outMsg{typ: vapi.ServerMessageTypeEndOfCallReport, body: body}
}

// toolCallsLocked builds the tool-calls message that asks for the call's function tool.
func (s *Server) toolCallsLocked(c *simCall, t vapi.Tool) outMsg {
	call := map[string]any{"id": "call_" + strings.ReplaceAll(c.id, "-", "")[:24], "type": "function",
		"function": map[string]any{"name": t.Function.Name, "arguments": "{}"}}
	withCall := map[string]any{"type": "function", "function": map[string]any{"name": t.Function.Name}, "toolCall": call}
	if t.Server != nil {
		withCall["server"] = t.Server
	}
	m := map[string]any{
		"type": vapi.ServerMessageTypeToolCalls, "timestamp": ms(s.now()),
		"toolCallList": []any{call}, "toolWithToolCallList": []any{withCall},
		"call": s.snapshotLocked(c), "customer": json.RawMessage(c.customerRaw), "phoneNumber": s.phoneNumberJSON(c),
	}
	body, _ := json.Marshal(map[string]any{"message": m})
	return outMsg{typ: vapi.ServerMessageTypeToolCalls, body: body}
}
