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
	rows := csvRows{CSVHeader}
	for _, section := range []func(*csvRows, *Report){
		csvReport, csvCampaign, csvContacts, csvFunnel, csvOutcomes, csvEndedReasons, csvSuccessEvaluations,
		csvAttempts, csvCost, csvDuration, csvHours, csvTimeZones, csvImport, csvSuppressions, csvProgress,
		csvAnalytics, csvCallerNumbers,
	} {
		section(&rows, r)
	}
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// csvRows are the rows of the CSV form, the header first.
type csvRows [][]string

// add adds the row of one figure.
func (rows *csvRows) add(section, item, metric string, v any) {
	*rows = append(*rows, []string{section, item, metric, csvValue(v)})
}

// csvFigure is one figure of a section as a whole (its item empty).
type csvFigure struct {
	metric string
	v      any
}

// addFigures adds the rows of figures of a section as a whole.
func (rows *csvRows) addFigures(section string, figures []csvFigure) {
	for _, f := range figures {
		rows.add(section, "", f.metric, f.v)
	}
}

// csvReport adds the report's own figures.
func csvReport(rows *csvRows, r *Report) {
	rows.addFigures("report", []csvFigure{{"schema_version", r.SchemaVersion}, {"generated_at", r.GeneratedAt}})
}

// csvCampaign adds the campaign's name, status, times and settings.
func csvCampaign(rows *csvRows, r *Report) {
	c := r.Campaign
	rows.addFigures("campaign", []csvFigure{
		{"id", c.ID}, {"name", c.Name}, {"status", c.Status}, {"mode", c.Mode}, {"source_file", c.SourceFile},
		{"created_at", c.CreatedAt}, {"started_at", c.StartedAt}, {"finished_at", c.FinishedAt},
		{"assistant_id", c.AssistantID}, {"phone_number_id", c.PhoneNumberID}, {"window", c.Window},
		{"default_time_zone", c.TimeZone}, {"rate_per_second", c.RatePerSecond}, {"max_concurrent", c.MaxConcurrent},
		{"max_attempts", c.MaxAttempts}, {"retry_policy", c.RetryPolicy},
	})
	// What places the calls when it is not a saved assistant, and the column choosing it per row.
	for _, f := range []csvFigure{{"squad_id", c.SquadID}, {"workflow_id", c.WorkflowID}, {"inline_assistant", c.InlineAssistant},
		{"target_column", c.TargetColumn}} {
		if f.v != "" {
			rows.addFigures("campaign", []csvFigure{f})
		}
	}
	if c.MaxCostUSD != nil {
		rows.addFigures("campaign", []csvFigure{{"max_cost_usd", *c.MaxCostUSD}})
	}
	if c.PausedReason != "" {
		rows.addFigures("campaign", []csvFigure{{"paused_reason", c.PausedReason}})
	}
}

// csvContacts adds the contacts in all, final and by state.
func csvContacts(rows *csvRows, r *Report) {
	rows.addFigures("contacts", []csvFigure{{"total", r.Contacts.Total}, {"final", r.Contacts.Final}})
	for _, s := range sortedKeys(r.Contacts.ByState) {
		rows.add("contacts", s, "by_state", r.Contacts.ByState[s])
	}
}

// csvFunnel adds the funnel's stages.
func csvFunnel(rows *csvRows, r *Report) {
	for _, s := range r.Funnel {
		rows.add("funnel", s.Stage, "contacts", s.Contacts)
		rows.add("funnel", s.Stage, "share_of_contacts", s.ShareOfContacts)
		rows.add("funnel", s.Stage, "share_of_previous", s.ShareOfPrevious)
	}
}

// csvOutcomes adds the contacts by outcome.
func csvOutcomes(rows *csvRows, r *Report) {
	for _, o := range r.Outcomes {
		rows.add("outcomes", o.Outcome, "contacts", o.Contacts)
		rows.add("outcomes", o.Outcome, "share", o.Share)
	}
}

// csvEndedReasons adds the top ended reasons and the others summed up.
func csvEndedReasons(rows *csvRows, r *Report) {
	rows.add("ended_reasons", "", "calls", r.EndedReasons.Calls)
	for _, rs := range r.EndedReasons.Top {
		rows.add("ended_reasons", rs.EndedReason, "outcome", rs.Outcome)
		rows.add("ended_reasons", rs.EndedReason, "calls", rs.Calls)
		rows.add("ended_reasons", rs.EndedReason, "share", rs.Share)
		rows.add("ended_reasons", rs.EndedReason, "cost_usd", rs.CostUSD)
		rows.add("ended_reasons", rs.EndedReason, "avg_duration_seconds", rs.AvgDurationSeconds)
	}
	if o := r.EndedReasons.Other; o != nil {
		rows.add("ended_reasons", "other", "reasons", o.Reasons)
		rows.add("ended_reasons", "other", "calls", o.Calls)
		rows.add("ended_reasons", "other", "share", o.Share)
		rows.add("ended_reasons", "other", "cost_usd", o.CostUSD)
	}
}

// csvSuccessEvaluations adds the calls evaluated or not, and by evaluation.
func csvSuccessEvaluations(rows *csvRows, r *Report) {
	se := r.SuccessEvaluations
	rows.addFigures("success_evaluations", []csvFigure{{"evaluated_calls", se.Evaluated}, {"not_evaluated_calls", se.NotEvaluated}})
	for _, v := range se.Values {
		rows.add("success_evaluations", v.Value, "calls", v.Calls)
		rows.add("success_evaluations", v.Value, "share", v.Share)
		rows.add("success_evaluations", v.Value, "success", v.Success)
	}
}

// csvAttempts adds what each attempt number yielded.
func csvAttempts(rows *csvRows, r *Report) {
	for _, a := range r.Attempts {
		item := strconv.Itoa(a.Attempt)
		rows.add("attempts", item, "calls", a.Calls)
		rows.add("attempts", item, "connected_calls", a.ConnectedCalls)
		rows.add("attempts", item, "successful_calls", a.SuccessfulCalls)
		rows.add("attempts", item, "yield", a.Yield)
		rows.add("attempts", item, "success_yield", a.SuccessYield)
		rows.add("attempts", item, "first_connected_contacts", a.FirstConnected)
		rows.add("attempts", item, "cumulative_connected_share", a.CumulativeConnectedShare)
		rows.add("attempts", item, "first_successful_contacts", a.FirstSuccessful)
		rows.add("attempts", item, "cumulative_success_share", a.CumulativeSuccessShare)
	}
}

// csvCallerNumbers adds the calls by the phone number they came from (item: the phone number
// id).
func csvCallerNumbers(rows *csvRows, r *Report) {
	for _, n := range r.CallerNumbers {
		item := export.SpreadsheetSafe(n.PhoneNumberID)
		rows.add("caller_numbers", item, "number", n.Number)
		rows.add("caller_numbers", item, "calls", n.Calls)
		rows.add("caller_numbers", item, "connected_calls", n.ConnectedCalls)
		rows.add("caller_numbers", item, "successful_calls", n.SuccessfulCalls)
		rows.add("caller_numbers", item, "connect_rate", n.ConnectRate)
		rows.add("caller_numbers", item, "cost_usd", n.CostUSD)
		rows.add("caller_numbers", item, "per_call_usd", n.PerCallUSD)
	}
}

// csvCost adds the cost in all, by component and by outcome.
func csvCost(rows *csvRows, r *Report) {
	co := r.Cost
	rows.addFigures("cost", []csvFigure{{"total_usd", co.TotalUSD}, {"per_call_usd", co.PerCallUSD},
		{"per_connected_call_usd", co.PerConnectedCallUSD}, {"per_success_usd", co.PerSuccessUSD}})
	bc := co.ByComponent
	for _, f := range []struct {
		item string
		v    float64
	}{{"transport_usd", bc.TransportUSD}, {"stt_usd", bc.STTUSD}, {"llm_usd", bc.LLMUSD}, {"tts_usd", bc.TTSUSD},
		{"vapi_usd", bc.VapiUSD}, {"analysis_usd", bc.AnalysisUSD}} {
		rows.add("cost", f.item, "by_component", f.v)
	}
	for _, o := range co.ByOutcome {
		rows.add("cost", o.Outcome, "by_outcome_calls", o.Calls)
		rows.add("cost", o.Outcome, "by_outcome_cost_usd", o.CostUSD)
		rows.add("cost", o.Outcome, "by_outcome_share", o.Share)
	}
}

// csvDuration adds the durations of connected calls and their histogram.
func csvDuration(rows *csvRows, r *Report) {
	d := r.Duration
	rows.addFigures("duration", []csvFigure{{"connected_calls", d.ConnectedCalls}, {"mean_seconds", d.MeanSeconds},
		{"p50_seconds", d.P50Seconds}, {"p90_seconds", d.P90Seconds}, {"total_minutes", d.TotalMinutes}})
	for _, b := range d.Histogram {
		rows.add("duration", bucketLabel(b), "histogram_calls", b.Calls)
	}
}

// csvHours adds the calls by local hour.
func csvHours(rows *csvRows, r *Report) {
	for _, h := range r.Hours.ByHour {
		rows.add("hours", strconv.Itoa(h.Hour), "calls", h.Calls)
		rows.add("hours", strconv.Itoa(h.Hour), "connected", h.Connected)
	}
	rows.add("hours", "", "unknown_calls", r.Hours.UnknownCalls)
}

// csvTimeZones adds the contacts and calls by time zone.
func csvTimeZones(rows *csvRows, r *Report) {
	for _, z := range r.TimeZones {
		rows.add("time_zones", z.TimeZone, "contacts", z.Contacts)
		rows.add("time_zones", z.TimeZone, "dialed", z.Dialed)
		rows.add("time_zones", z.TimeZone, "connected", z.Connected)
		rows.add("time_zones", z.TimeZone, "successful", z.Successful)
		rows.add("time_zones", z.TimeZone, "calls", z.Calls)
	}
}

// csvImport adds the import's counts and rejections.
func csvImport(rows *csvRows, r *Report) {
	im := r.Import
	rows.addFigures("import", []csvFigure{{"rows_read", im.RowsRead}, {"accepted", im.Accepted}, {"rejected", im.Rejected}})
	for _, k := range sortedKeys(im.RejectedByReason) {
		rows.add("import", k, "rejected_by_reason", im.RejectedByReason[k])
	}
	rows.addFigures("import", []csvFigure{{"rejects_file", im.RejectsFile}, {"names_cut", im.NamesCut},
		{"default_time_zone_rows", im.DefaultTimeZoneRows}})
}

// csvSuppressions adds the do-not-call figures.
func csvSuppressions(rows *csvRows, r *Report) {
	s := r.Suppressions
	rows.addFigures("suppressions", []csvFigure{{"rejected_at_import", s.RejectedAtImport},
		{"stopped_before_call", s.StoppedBeforeCall}, {"asked_in_call", s.AskedInCall}})
}

// csvProgress adds how far the campaign is and its pace, when the report has them.
func csvProgress(rows *csvRows, r *Report) {
	p := r.Progress
	if p == nil {
		return
	}
	rows.addFigures("progress", []csvFigure{
		{"status", p.Status}, {"final", p.Final}, {"remaining", p.Remaining}, {"final_share", p.FinalShare},
		{"never_called", p.NeverCalled}, {"awaiting_retry", p.AwaitingRetry}, {"in_progress", p.InProgress},
		{"live_calls", p.LiveCalls}, {"next_due", p.NextDue}, {"last_scheduled", p.LastScheduled},
		{"contacts_per_hour", p.ContactsPerHour}, {"estimated_finish", p.EstimatedFinish},
		{"estimate_note", p.EstimateNote},
	})
}

// csvAnalytics adds the comparison with Vapi's analytics, when the report has it.
func csvAnalytics(rows *csvRows, r *Report) {
	a := r.Analytics
	if a == nil {
		return
	}
	rows.addFigures("analytics", []csvFigure{{"available", a.Available}, {"note", a.Note}})
	if a.Totals != nil {
		rows.addComparison("totals", *a.Totals)
	}
	for _, row := range a.ByEndedReason {
		rows.addComparison("by_ended_reason", row)
	}
	for _, row := range a.BySuccessEvaluation {
		rows.addComparison("by_success_evaluation", row)
	}
	for _, d := range a.Differences {
		rows.add("analytics", "", "difference", d)
	}
}

// addComparison adds the rows of one comparison of the analytics section.
func (rows *csvRows) addComparison(group string, r ComparisonRow) {
	section := "analytics." + group
	rows.add(section, r.Key, "local_calls", r.Local.Calls)
	rows.add(section, r.Key, "vapi_calls", r.Vapi.Calls)
	rows.add(section, r.Key, "local_cost_usd", r.Local.CostUSD)
	rows.add(section, r.Key, "vapi_cost_usd", r.Vapi.CostUSD)
	rows.add(section, r.Key, "local_avg_duration_seconds", r.Local.AvgDurationSeconds)
	rows.add(section, r.Key, "vapi_avg_duration_seconds", r.Vapi.AvgDurationSeconds)
	for _, f := range r.Flags {
		rows.add(section, r.Key, "flag", f)
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
