package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/campaign-run/campaign/reports/export"
)

// CSVHeader is the header of the CSV form: one figure a row, the same names as the JSON form's
// (section and metric are JSON field names; item names the group: a stage, outcome, reason,
// attempt, hour, zone, …; empty for figures of a whole section).
var CSVHeader = []string{"section", "item", "metric", "value"}

// WriteCSV writes r as CSV, one figure a row (see CSVHeader), sections in the JSON form's order.
// Absent values (JSON null) are empty cells; times are RFC 3339 in UTC.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	rows := [][]string{CSVHeader}
	add := func(section, item, metric string, v any) {
		rows = append(rows, []string{section, item, metric, csvValue(v)})
	}
	c := r.Campaign
	add("report", "", "schema_version", r.SchemaVersion)
	add("report", "", "generated_at", r.GeneratedAt)
	for _, f := range []struct {
		metric string
		v      any
	}{
		{"id", c.ID}, {"name", c.Name}, {"status", c.Status}, {"mode", c.Mode}, {"source_file", c.SourceFile},
		{"created_at", c.CreatedAt}, {"started_at", c.StartedAt}, {"finished_at", c.FinishedAt},
		{"assistant_id", c.AssistantID}, {"phone_number_id", c.PhoneNumberID}, {"window", c.Window},
		{"default_time_zone", c.TimeZone}, {"rate_per_second", c.RatePerSecond}, {"max_concurrent", c.MaxConcurrent},
		{"max_attempts", c.MaxAttempts}, {"retry_policy", c.RetryPolicy},
	} {
		add("campaign", "", f.metric, f.v)
	}
	add("contacts", "", "total", r.Contacts.Total)
	add("contacts", "", "final", r.Contacts.Final)
	for _, s := range sortedKeys(r.Contacts.ByState) {
		add("contacts", s, "by_state", r.Contacts.ByState[s])
	}
	for _, s := range r.Funnel {
		add("funnel", s.Stage, "contacts", s.Contacts)
		add("funnel", s.Stage, "share_of_contacts", s.ShareOfContacts)
		add("funnel", s.Stage, "share_of_previous", s.ShareOfPrevious)
	}
	for _, o := range r.Outcomes {
		add("outcomes", o.Outcome, "contacts", o.Contacts)
		add("outcomes", o.Outcome, "share", o.Share)
	}
	add("ended_reasons", "", "calls", r.EndedReasons.Calls)
	for _, rs := range r.EndedReasons.Top {
		add("ended_reasons", rs.EndedReason, "outcome", rs.Outcome)
		add("ended_reasons", rs.EndedReason, "calls", rs.Calls)
		add("ended_reasons", rs.EndedReason, "share", rs.Share)
		add("ended_reasons", rs.EndedReason, "cost_usd", rs.CostUSD)
		add("ended_reasons", rs.EndedReason, "avg_duration_seconds", rs.AvgDurationSeconds)
	}
	if o := r.EndedReasons.Other; o != nil {
		add("ended_reasons", "other", "reasons", o.Reasons)
		add("ended_reasons", "other", "calls", o.Calls)
		add("ended_reasons", "other", "share", o.Share)
		add("ended_reasons", "other", "cost_usd", o.CostUSD)
	}
	se := r.SuccessEvaluations
	add("success_evaluations", "", "evaluated_calls", se.Evaluated)
	add("success_evaluations", "", "not_evaluated_calls", se.NotEvaluated)
	for _, v := range se.Values {
		add("success_evaluations", v.Value, "calls", v.Calls)
		add("success_evaluations", v.Value, "share", v.Share)
		add("success_evaluations", v.Value, "success", v.Success)
	}
	for _, a := range r.Attempts {
		item := strconv.Itoa(a.Attempt)
		add("attempts", item, "calls", a.Calls)
		add("attempts", item, "connected_calls", a.ConnectedCalls)
		add("attempts", item, "successful_calls", a.SuccessfulCalls)
		add("attempts", item, "yield", a.Yield)
		add("attempts", item, "success_yield", a.SuccessYield)
		add("attempts", item, "first_connected_contacts", a.FirstConnected)
		add("attempts", item, "cumulative_connected_share", a.CumulativeConnectedShare)
		add("attempts", item, "first_successful_contacts", a.FirstSuccessful)
		add("attempts", item, "cumulative_success_share", a.CumulativeSuccessShare)
	}
	co := r.Cost
	add("cost", "", "total_usd", co.TotalUSD)
	add("cost", "", "per_call_usd", co.PerCallUSD)
	add("cost", "", "per_connected_call_usd", co.PerConnectedCallUSD)
	add("cost", "", "per_success_usd", co.PerSuccessUSD)
	bc := co.ByComponent
	for _, f := range []struct {
		item string
		v    float64
	}{{"transport_usd", bc.TransportUSD}, {"stt_usd", bc.STTUSD}, {"llm_usd", bc.LLMUSD}, {"tts_usd", bc.TTSUSD},
		{"vapi_usd", bc.VapiUSD}, {"analysis_usd", bc.AnalysisUSD}} {
		add("cost", f.item, "by_component", f.v)
	}
	for _, o := range co.ByOutcome {
		add("cost", o.Outcome, "by_outcome_calls", o.Calls)
		add("cost", o.Outcome, "by_outcome_cost_usd", o.CostUSD)
		add("cost", o.Outcome, "by_outcome_share", o.Share)
	}
	d := r.Duration
	add("duration", "", "connected_calls", d.ConnectedCalls)
	add("duration", "", "mean_seconds", d.MeanSeconds)
	add("duration", "", "p50_seconds", d.P50Seconds)
	add("duration", "", "p90_seconds", d.P90Seconds)
	add("duration", "", "total_minutes", d.TotalMinutes)
	for _, b := range d.Histogram {
		add("duration", bucketLabel(b), "histogram_calls", b.Calls)
	}
	for _, h := range r.Hours.ByHour {
		add("hours", strconv.Itoa(h.Hour), "calls", h.Calls)
		add("hours", strconv.Itoa(h.Hour), "connected", h.Connected)
	}
	add("hours", "", "unknown_calls", r.Hours.UnknownCalls)
	for _, z := range r.TimeZones {
		add("time_zones", z.TimeZone, "contacts", z.Contacts)
		add("time_zones", z.TimeZone, "dialed", z.Dialed)
		add("time_zones", z.TimeZone, "connected", z.Connected)
		add("time_zones", z.TimeZone, "successful", z.Successful)
		add("time_zones", z.TimeZone, "calls", z.Calls)
	}
	im := r.Import
	add("import", "", "rows_read", im.RowsRead)
	add("import", "", "accepted", im.Accepted)
	add("import", "", "rejected", im.Rejected)
	for _, k := range sortedKeys(im.RejectedByReason) {
		add("import", k, "rejected_by_reason", im.RejectedByReason[k])
	}
	add("import", "", "rejects_file", im.RejectsFile)
	add("import", "", "names_cut", im.NamesCut)
	add("import", "", "default_time_zone_rows", im.DefaultTimeZoneRows)
	add("suppressions", "", "rejected_at_import", r.Suppressions.RejectedAtImport)
	add("suppressions", "", "stopped_before_call", r.Suppressions.StoppedBeforeCall)
	add("suppressions", "", "asked_in_call", r.Suppressions.AskedInCall)
	if p := r.Progress; p != nil {
		for _, f := range []struct {
			metric string
			v      any
		}{
			{"status", p.Status}, {"final", p.Final}, {"remaining", p.Remaining}, {"final_share", p.FinalShare},
			{"never_called", p.NeverCalled}, {"awaiting_retry", p.AwaitingRetry}, {"in_progress", p.InProgress},
			{"live_calls", p.LiveCalls}, {"next_due", p.NextDue}, {"last_scheduled", p.LastScheduled},
			{"contacts_per_hour", p.ContactsPerHour}, {"estimated_finish", p.EstimatedFinish},
			{"estimate_note", p.EstimateNote},
		} {
			add("progress", "", f.metric, f.v)
		}
	}
	if a := r.Analytics; a != nil {
		add("analytics", "", "available", a.Available)
		add("analytics", "", "note", a.Note)
		if a.Totals != nil {
			addComparison(add, "totals", *a.Totals)
		}
		for _, row := range a.ByEndedReason {
			addComparison(add, "by_ended_reason", row)
		}
		for _, row := range a.BySuccessEvaluation {
			addComparison(add, "by_success_evaluation", row)
		}
		for _, d := range a.Differences {
			add("analytics", "", "difference", d)
		}
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// addComparison adds the rows of one comparison of the analytics section.
func addComparison(add func(section, item, metric string, v any), group string, r ComparisonRow) {
	section := "analytics." + group
	add(section, r.Key, "local_calls", r.Local.Calls)
	add(section, r.Key, "vapi_calls", r.Vapi.Calls)
	add(section, r.Key, "local_cost_usd", r.Local.CostUSD)
	add(section, r.Key, "vapi_cost_usd", r.Vapi.CostUSD)
	add(section, r.Key, "local_avg_duration_seconds", r.Local.AvgDurationSeconds)
	add(section, r.Key, "vapi_avg_duration_seconds", r.Vapi.AvgDurationSeconds)
	for _, f := range r.Flags {
		add(section, r.Key, "flag", f)
	}
}

// csvValue is a value's cell: numbers as JSON writes them, times RFC 3339 in UTC, nil empty;
// text (names, ended reasons, evaluations) is made safe to open in a spreadsheet.
func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return export.SpreadsheetSafe(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case *time.Time:
		if x == nil {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	case *float64:
		if x == nil {
			return ""
		}
		return strconv.FormatFloat(*x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
