package vapitest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/campaign-run/campaign/vapi"
)

var (
	analyticsOps     = set("sum", "avg", "count", "min", "max", "history")
	analyticsColumns = set("id", "cost", "costBreakdown.llm", "costBreakdown.stt", "costBreakdown.tts", "costBreakdown.vapi",
		"costBreakdown.transport", "costBreakdown.analysisBreakdown.summary", "costBreakdown.transcriber",
		"costBreakdown.ttsCharacters", "costBreakdown.llmPromptTokens", "costBreakdown.llmCompletionTokens",
		"costBreakdown.llmCachedPromptTokens", "duration", "concurrency", "minutesUsed")
	analyticsGroupBy = set("type", "assistantId", "endedReason", "analysis.successEvaluation", "status")
	analyticsSteps   = set("second", "minute", "hour", "day", "week", "month", "quarter", "year", "decade", "century", "millennium")
)

// callFacts is one call's analytics row.
type callFacts struct {
	createdAt time.Time
	groups    map[string]any
	vars      map[string]any
	values    map[string]float64
}

func (s *Server) handleAnalytics(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || !json.Valid(body) {
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest, "Unexpected token in JSON body"))
		return
	}
	var msgs []string
	if s.cfg.Spec != nil {
		msgs = append(msgs, s.cfg.Spec.RequestMessages("AnalyticsQueryDTO", body)...)
	}
	var dto vapi.AnalyticsQueryDTO
	if err := json.Unmarshal(body, &dto); err != nil {
		msgs = append(msgs, "queries must be an array of AnalyticsQuery: "+err.Error())
	}
	if dto.Queries == nil {
		msgs = append(msgs, "queries must be an array")
	}
	for i, q := range dto.Queries {
		p := fmt.Sprintf("queries.%d.", i)
		if q.Table != vapi.AnalyticsTableCall && q.Table != vapi.AnalyticsTableSubscription {
			msgs = append(msgs, p+"table must be one of the following values: call, subscription")
		}
		if q.Name == "" || len(q.Name) > 40 {
			msgs = append(msgs, p+"name must be shorter than or equal to 40 characters and not empty")
		}
		if len(q.Operations) == 0 {
			msgs = append(msgs, p+"operations must be an array")
		}
		for j, op := range q.Operations {
			if !analyticsOps[string(op.Operation)] {
				msgs = append(msgs, fmt.Sprintf("%soperations.%d.operation must be one of the following values: sum, avg, count, min, max, history", p, j))
			}
			if !analyticsColumns[op.Column] {
				msgs = append(msgs, fmt.Sprintf("%soperations.%d.column must be one of the following values: %s", p, j, strings.Join(sortedKeys(analyticsColumns), ", ")))
			}
		}
		for _, g := range q.GroupBy {
			if !analyticsGroupBy[g] {
				msgs = append(msgs, p+"groupBy must be one of the following values: type, assistantId, endedReason, analysis.successEvaluation, status")
			}
		}
		if q.TimeRange != nil && q.TimeRange.Step != "" && !analyticsSteps[q.TimeRange.Step] {
			msgs = append(msgs, p+"timeRange.step must be one of the following values: "+strings.Join(sortedKeys(analyticsSteps), ", "))
		}
		if q.TimeRange != nil && q.TimeRange.Timezone != "" {
			if _, err := time.LoadLocation(q.TimeRange.Timezone); err != nil {
				msgs = append(msgs, p+"timeRange.timezone must be a valid IANA time zone")
			}
		}
	}
	if len(msgs) > 0 {
		writeJSON(w, http.StatusBadRequest, nestError(http.StatusBadRequest, dedupe(msgs)))
		return
	}
	now := s.now()
	s.mu.Lock()
	facts := make([]callFacts, 0, len(s.order))
	for _, c := range s.order {
		facts = append(facts, s.factsLocked(c))
	}
	s.mu.Unlock()
	out := make([]map[string]any, 0, len(dto.Queries))
	for _, q := range dto.Queries {
		out = append(out, runQuery(q, facts, now))
	}
	writeJSON(w, http.StatusOK, out)
}

func dedupe(in []string) []string {
	var out []string
	for _, m := range in {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// factsLocked extracts a call's analytics values. Duration is in seconds: the
// simulated length of the conversation (none if the call was never answered
// or is live), as the end-of-call report gives it.
func (s *Server) factsLocked(c *simCall) callFacts {
	f := callFacts{createdAt: c.createdAt, vars: map[string]any{}, values: map[string]float64{"id": 1}}
	succ := any(nil)
	if c.result != nil && c.result.analysis != nil && c.result.analysis.SuccessEvaluation != "" {
		succ = c.result.analysis.SuccessEvaluation
	}
	var er any
	if c.endedReason != "" {
		er = c.endedReason
	}
	f.groups = map[string]any{"type": string(vapi.CallTypeOutboundPhoneCall), "assistantId": c.assistantID,
		"endedReason": er, "analysis.successEvaluation": succ, "status": string(c.status)}
	if c.overrides != nil {
		for k, v := range c.overrides.VariableValues {
			f.vars[k] = v
		}
	}
	if r := c.result; r != nil {
		b := r.breakdown
		f.values["cost"] = r.cost
		f.values["costBreakdown.llm"] = b.LLM
		f.values["costBreakdown.stt"] = b.STT
		f.values["costBreakdown.transcriber"] = b.STT
		f.values["costBreakdown.tts"] = b.TTS
		f.values["costBreakdown.vapi"] = b.Vapi
		f.values["costBreakdown.transport"] = b.Transport
		f.values["costBreakdown.analysisBreakdown.summary"] = b.AnalysisCostBreakdown["summary"]
		f.values["costBreakdown.ttsCharacters"] = b.TTSCharacters
		f.values["costBreakdown.llmPromptTokens"] = b.LLMPromptTokens
		f.values["costBreakdown.llmCompletionTokens"] = b.LLMCompletionTokens
		if c.plan.talk > 0 && !c.startedAt.IsZero() {
			d := c.plan.talk
			f.values["duration"] = d.Seconds()
			f.values["minutesUsed"] = math.Ceil(d.Minutes())
		}
	}
	return f
}

// truncate returns the start of t's step bucket in loc.
func truncate(t time.Time, step string, loc *time.Location) time.Time {
	t = t.In(loc)
	y, mo, d := t.Date()
	switch step {
	case "second":
		return t.Truncate(time.Second)
	case "minute":
		return time.Date(y, mo, d, t.Hour(), t.Minute(), 0, 0, loc)
	case "hour":
		return time.Date(y, mo, d, t.Hour(), 0, 0, 0, loc)
	case "day":
		return time.Date(y, mo, d, 0, 0, 0, 0, loc)
	case "week":
		wd := (int(t.Weekday()) + 6) % 7 // Monday first
		return time.Date(y, mo, d-wd, 0, 0, 0, 0, loc)
	case "month":
		return time.Date(y, mo, 1, 0, 0, 0, 0, loc)
	case "quarter":
		return time.Date(y, ((mo-1)/3)*3+1, 1, 0, 0, 0, 0, loc)
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	case "decade":
		return time.Date(y-y%10, 1, 1, 0, 0, 0, 0, loc)
	case "century":
		return time.Date(y-y%100, 1, 1, 0, 0, 0, 0, loc)
	case "millennium":
		return time.Date(y-y%1000, 1, 1, 0, 0, 0, 0, loc)
	}
	return t
}

// runQuery computes one analytics query. Rows are sorted by date then by
// group keys. groupByVariableValue keys appear in rows under the variable's
// own name.
func runQuery(q vapi.AnalyticsQuery, facts []callFacts, now time.Time) map[string]any {
	tr := vapi.TimeRange{Start: now.Add(-7 * 24 * time.Hour), End: now, Timezone: "UTC"}
	if q.TimeRange != nil {
		tr.Step = q.TimeRange.Step
		if !q.TimeRange.Start.IsZero() {
			tr.Start = q.TimeRange.Start
		}
		if !q.TimeRange.End.IsZero() {
			tr.End = q.TimeRange.End
		}
		if q.TimeRange.Timezone != "" {
			tr.Timezone = q.TimeRange.Timezone
		}
	}
	loc, err := time.LoadLocation(tr.Timezone)
	if err != nil {
		loc = time.UTC
	}
	type group struct {
		keys map[string]any
		vals map[string][]float64
	}
	groups := map[string]*group{}
	var order []string
	if q.Table == vapi.AnalyticsTableCall {
		for _, f := range facts {
			if f.createdAt.Before(tr.Start) || f.createdAt.After(tr.End) {
				continue
			}
			keys := map[string]any{}
			for _, g := range q.GroupBy {
				keys[g] = f.groups[g]
			}
			for _, g := range q.GroupByVariableValue {
				keys[g.Key] = f.vars[g.Key]
			}
			if tr.Step != "" {
				keys["date"] = truncate(f.createdAt, tr.Step, loc).Format(time.RFC3339)
			}
			kb, _ := json.Marshal(keys)
			g, ok := groups[string(kb)]
			if !ok {
				g = &group{keys: keys, vals: map[string][]float64{}}
				groups[string(kb)] = g
				order = append(order, string(kb))
			}
			for _, op := range q.Operations {
				if v, ok := f.values[op.Column]; ok {
					g.vals[op.Column] = append(g.vals[op.Column], v)
				}
			}
		}
	}
	sort.Strings(order)
	rows := make([]map[string]any, 0, len(order))
	for _, k := range order {
		g := groups[k]
		row := map[string]any{}
		for kk, v := range g.keys {
			row[kk] = v
		}
		for _, op := range q.Operations {
			alias := op.Alias
			if alias == "" {
				alias = string(op.Operation) + strings.ToUpper(op.Column[:1]) + op.Column[1:]
			}
			row[alias] = aggregate(op.Operation, g.vals[op.Column])
		}
		rows = append(rows, row)
	}
	timeRange := map[string]any{"start": isoMillis(tr.Start), "end": isoMillis(tr.End), "timezone": tr.Timezone}
	if tr.Step != "" { // step is a non-nullable enum: absent when none was asked, never null
		timeRange["step"] = tr.Step
	}
	return map[string]any{"name": q.Name, "timeRange": timeRange, "result": rows}
}

func aggregate(op vapi.AnalyticsOperationKind, vals []float64) any {
	switch op {
	case vapi.AnalyticsCount:
		return len(vals)
	case vapi.AnalyticsHistory:
		return vals
	}
	if len(vals) == 0 {
		if op == vapi.AnalyticsSum {
			return 0
		}
		return nil
	}
	sum, lo, hi := 0.0, vals[0], vals[0]
	for _, v := range vals {
		sum += v
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	switch op {
	case vapi.AnalyticsSum:
		return round4(sum)
	case vapi.AnalyticsAvg:
		return round4(sum / float64(len(vals)))
	case vapi.AnalyticsMin:
		return lo
	}
	return hi
}
