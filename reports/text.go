package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// barWidth is the width of the text form's hour bars, in characters.
const barWidth = 24

// WriteText writes r for a terminal: a few aligned sections, times in UTC.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	t := &textWriter{tw: tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)}
	sections := []func(*textWriter, *Report){
		textCampaign, textFunnel, textOutcomes, textEndedReasons, textSuccessEvaluations, textAttempts,
		textCost, textDuration, textHours, textTimeZones, textImport,
	}
	if r.Progress != nil {
		sections = append(sections, textProgress)
	}
	if r.Analytics != nil {
		sections = append(sections, textAnalytics)
	}
	if len(r.CallerNumbers) > 1 {
		sections = append(sections, textCallerNumbers)
	}
	for i, section := range sections {
		if i > 0 {
			t.line("")
		}
		section(t, r)
		t.flush()
	}
	// Padding leaves spaces at the end of lines whose last cells are empty.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

// textWriter writes the text form's lines through a tabwriter: the tab-separated cells of the
// lines written between two flushes are aligned.
type textWriter struct {
	tw *tabwriter.Writer
}

// line writes one line.
func (t *textWriter) line(format string, args ...any) { fmt.Fprintf(t.tw, format+"\n", args...) }

// flush ends a table: the lines after it are aligned apart.
func (t *textWriter) flush() { _ = t.tw.Flush() } // a tabwriter on a strings.Builder cannot fail

// textCampaign writes the campaign's name, status, times and settings.
func textCampaign(t *textWriter, r *Report) {
	c := r.Campaign
	status := c.Status
	if c.PausedReason != "" {
		status += " (" + c.PausedReason + ")"
	}
	t.line("Campaign %s (id %d): %s", c.Name, c.ID, status)
	times := "created " + fmtTime(c.CreatedAt)
	if c.StartedAt != nil {
		times += ", started " + fmtTime(*c.StartedAt)
	}
	if c.FinishedAt != nil {
		times += ", finished " + fmtTime(*c.FinishedAt)
	}
	t.line("  %s; report of %s", times, fmtTime(r.GeneratedAt))
	window := c.Window
	if window == "" {
		window = "always"
	}
	t.line("  file %s, %s, phone number %s, window %q, up to %d %s", keyLabel(c.SourceFile),
		c.Target(), keyLabel(c.PhoneNumberID), window, c.MaxAttempts, plural(c.MaxAttempts, "attempt", "attempts"))
	if c.MaxCostUSD != nil {
		t.line("  budget cap %s, %s spent", usd(*c.MaxCostUSD), usd(r.Cost.TotalUSD))
	}
	if sched := c.Schedule(); sched != "" {
		t.line("  schedule: %s", sched)
	}
}

// textFunnel writes the funnel's stages.
func textFunnel(t *textWriter, r *Report) {
	t.line("Funnel\tcontacts\tof all\tof the stage before")
	for i, s := range r.Funnel {
		prev := pct(s.ShareOfPrevious)
		if i == 0 {
			prev = ""
		}
		t.line("  %s\t%d\t%s\t%s", stageLabel(s.Stage), s.Contacts, pct(s.ShareOfContacts), prev)
	}
}

// textOutcomes writes the contacts by outcome.
func textOutcomes(t *textWriter, r *Report) {
	t.line("Outcomes\tcontacts\tshare")
	for _, o := range r.Outcomes {
		t.line("  %s\t%d\t%s", o.Outcome, o.Contacts, pct(o.Share))
	}
}

// textEndedReasons writes the top ended reasons and the others summed up.
func textEndedReasons(t *textWriter, r *Report) {
	er := r.EndedReasons
	t.line("Ended reasons (%s)", calls(er.Calls))
	if er.Calls > 0 {
		t.line("  calls\tshare\tcost\tavg duration\toutcome\tended reason")
	}
	for _, rs := range er.Top {
		t.line("  %d\t%s\t%s\t%s\t%s\t%s", rs.Calls, pct(rs.Share), usd(rs.CostUSD), secondsPtr(rs.AvgDurationSeconds),
			rs.Outcome, reasonLabel(rs.EndedReason))
	}
	if o := er.Other; o != nil {
		t.line("  %d\t%s\t%s\t\t\t%d other reasons", o.Calls, pct(o.Share), usd(o.CostUSD), o.Reasons)
	}
}

// textSuccessEvaluations writes the success evaluations on one line.
func textSuccessEvaluations(t *textWriter, r *Report) {
	se := r.SuccessEvaluations
	evals := make([]string, 0, len(se.Values))
	for _, v := range se.Values {
		mark := ""
		if v.Success {
			mark = ", success"
		}
		evals = append(evals, fmt.Sprintf("%s %d (%s%s)", v.Value, v.Calls, pct(v.Share), mark))
	}
	if len(evals) == 0 {
		evals = append(evals, "none")
	}
	t.line("Success evaluations: %d calls evaluated, %d not: %s", se.Evaluated, se.NotEvaluated, strings.Join(evals, ", "))
}

// textAttempts writes what each attempt number yielded.
func textAttempts(t *textWriter, r *Report) {
	t.line("Attempts needed\tcalls\tconnected\tyield\treached (cumulative)\tsuccessful (cumulative)")
	for _, a := range r.Attempts {
		t.line("  attempt %d\t%d\t%d\t%s\t%d (%s)\t%d (%s)", a.Attempt, a.Calls, a.ConnectedCalls, pct(a.Yield),
			a.FirstConnected, pct(a.CumulativeConnectedShare), a.FirstSuccessful, pct(a.CumulativeSuccessShare))
	}
	if len(r.Attempts) == 0 {
		t.line("  no calls yet")
	}
}

// textCallerNumbers writes the calls by the phone number they came from.
func textCallerNumbers(t *textWriter, r *Report) {
	t.line("By caller number\tcalls\tconnected\tconnect rate\tcost\ta call")
	for _, n := range r.CallerNumbers {
		label := n.PhoneNumberID
		if n.Number != "" {
			label += " (" + n.Number + ")"
		}
		t.line("  %s\t%d\t%d\t%s\t%s\t%s", label, n.Calls, n.ConnectedCalls, pct(n.ConnectRate), usd(n.CostUSD), usdPtr(n.PerCallUSD))
	}
}

// textCost writes the cost in all, by component and by outcome.
func textCost(t *textWriter, r *Report) {
	co := r.Cost
	t.line("Cost: %s in all; %s a call, %s a connected call, %s a success", usd(co.TotalUSD), usdPtr(co.PerCallUSD),
		usdPtr(co.PerConnectedCallUSD), usdPtr(co.PerSuccessUSD))
	bc := co.ByComponent
	t.line("  by component: transport %s, speech-to-text %s, LLM %s, text-to-speech %s, Vapi %s, analysis %s",
		usd(bc.TransportUSD), usd(bc.STTUSD), usd(bc.LLMUSD), usd(bc.TTSUSD), usd(bc.VapiUSD), usd(bc.AnalysisUSD))
	byOutcome := make([]string, 0, len(co.ByOutcome))
	for _, o := range co.ByOutcome {
		byOutcome = append(byOutcome, fmt.Sprintf("%s %s (%s)", o.Outcome, usd(o.CostUSD), calls(o.Calls)))
	}
	if len(byOutcome) > 0 {
		t.line("  by outcome: %s", strings.Join(byOutcome, ", "))
	}
}

// textDuration writes the durations of connected calls and their histogram.
func textDuration(t *textWriter, r *Report) {
	d := r.Duration
	t.line("Duration of connected calls (%d): mean %s, median %s, p90 %s; all calls %.1f min", d.ConnectedCalls,
		secondsPtr(d.MeanSeconds), secondsPtr(d.P50Seconds), secondsPtr(d.P90Seconds), d.TotalMinutes)
	buckets := make([]string, len(d.Histogram))
	for i, hb := range d.Histogram {
		buckets[i] = fmt.Sprintf("%s %d", bucketLabel(hb), hb.Calls)
	}
	t.line("  %s", strings.Join(buckets, ", "))
}

// textHours writes a bar per local hour that had calls.
func textHours(t *textWriter, r *Report) {
	t.line("Calls by the contact's local hour")
	most := 0
	for _, h := range r.Hours.ByHour {
		most = max(most, h.Calls)
	}
	for _, h := range r.Hours.ByHour {
		if h.Calls == 0 {
			continue
		}
		n := (h.Calls*barWidth + most - 1) / most
		t.line("  %02d:00\t%s\t%s, %d connected", h.Hour, strings.Repeat("█", n), calls(h.Calls), h.Connected)
	}
	if most == 0 {
		t.line("  no calls yet")
	}
	if r.Hours.UnknownCalls > 0 {
		t.line("  unknown\t\t%s", calls(r.Hours.UnknownCalls))
	}
}

// textTimeZones writes the contacts and calls by time zone.
func textTimeZones(t *textWriter, r *Report) {
	t.line("Time zones\tcontacts\tdialed\tconnected\tsuccessful\tcalls")
	for _, z := range r.TimeZones {
		t.line("  %s\t%d\t%d\t%d\t%d\t%d", keyLabel(z.TimeZone), z.Contacts, z.Dialed, z.Connected, z.Successful, z.Calls)
	}
}

// textImport writes the import's counts and the do-not-call figures.
func textImport(t *textWriter, r *Report) {
	im := r.Import
	rejected := ""
	if im.Rejected > 0 {
		rejected = " (" + rejectsText(im.RejectedByReason) + ")"
		if im.RejectsFile != "" {
			rejected += "; rejected rows are in " + im.RejectsFile
		}
	}
	t.line("Import: %d rows read, %d accepted, %d rejected%s", im.RowsRead, im.Accepted, im.Rejected, rejected)
	s := r.Suppressions
	t.line("Do-not-call: %d %s rejected at import, %d %s stopped before a call, %d asked not to be called again",
		s.RejectedAtImport, plural(s.RejectedAtImport, "row", "rows"), s.StoppedBeforeCall,
		plural(s.StoppedBeforeCall, "contact", "contacts"), s.AskedInCall)
}

// textProgress writes how far the campaign is, its pace and whether a runner runs it.
func textProgress(t *textWriter, r *Report) {
	p := r.Progress
	t.line("Progress (%s): %d of %d contacts final (%s)", p.Status, p.Final, p.Final+p.Remaining, pct(p.FinalShare))
	t.line("  waiting: %d never called, %d awaiting a retry; %d queued or in a call; %d live %s", p.NeverCalled,
		p.AwaitingRetry, p.InProgress, p.LiveCalls, plural(p.LiveCalls, "call", "calls"))
	t.line("  next due %s; last retry scheduled %s", fmtTimePtr(p.NextDue, "now"), fmtTimePtr(p.LastScheduled, "none"))
	pace := "no pace yet"
	if p.ContactsPerHour != nil {
		pace = fmt.Sprintf("%.2f contacts an hour", *p.ContactsPerHour)
	}
	finish := "no estimate"
	if p.EstimatedFinish != nil {
		finish = "estimated finish " + fmtTime(*p.EstimatedFinish)
	}
	t.line("  pace %s; %s (%s)", pace, finish, p.EstimateNote)
	if p.Orphaned {
		since := "no runner"
		if p.NoRunnerSince != nil {
			since = "no runner since " + fmtTime(*p.NoRunnerSince)
		}
		t.line("  orphaned: %s, nothing dials it; continue with: %s", since, p.Continue)
	}
	if p.PausedReason != "" {
		t.line("  paused by its budget cap: the next call could pass it; continue with a higher cap: %s", p.Continue)
	}
}

// calls is "1 call", "2 calls".
func calls(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "call", "calls")) }

// textAnalytics writes the comparison with Vapi's analytics, or why there is none.
func textAnalytics(t *textWriter, r *Report) {
	a := r.Analytics
	if !a.Available {
		t.line("Vapi analytics: not available. %s", a.Note)
		return
	}
	q := a.Query
	t.line("Vapi analytics (POST /analytics, %s to %s, calls matched by %s)", fmtTime(q.Start), fmtTime(q.End), matchedText(q))
	if a.Note != "" {
		t.line("  note: %s", a.Note)
	}
	totals := a.Totals
	t.line("  in all: runner %d calls %s, Vapi %d calls %s%s", totals.Local.Calls, usd(totals.Local.CostUSD), totals.Vapi.Calls,
		usd(totals.Vapi.CostUSD), flagsText(totals.Flags))
	t.flush()
	textComparison(t, "ended reason", a.ByEndedReason)
	textComparison(t, "success evaluation", a.BySuccessEvaluation)
	if len(a.Differences) == 0 {
		t.line("  no differences")
		return
	}
	t.line("  differences:")
	for _, d := range a.Differences {
		t.line("  - %s", d)
	}
}

// textComparison writes one table of the analytics comparison, the runner's figures beside
// Vapi's.
func textComparison(t *textWriter, title string, rows []ComparisonRow) {
	t.line("  %s\trunner calls\tVapi calls\trunner cost\tVapi cost\trunner avg\tVapi avg\t", title)
	for _, r := range rows {
		t.line("    %s\t%d\t%d\t%s\t%s\t%s\t%s\t%s", keyLabel(r.Key), r.Local.Calls, r.Vapi.Calls, usd(r.Local.CostUSD),
			usd(r.Vapi.CostUSD), secondsPtr(r.Local.AvgDurationSeconds), secondsPtr(r.Vapi.AvgDurationSeconds),
			strings.TrimPrefix(flagsText(r.Flags), " "))
	}
	t.flush()
}

// matchedText says how Vapi's rows were matched to the campaign.
func matchedText(q *AnalyticsQueryInfo) string {
	if q.MatchedBy == MatchedByVariable {
		return "the variable " + q.GroupVariable
	}
	return "assistant and time range"
}

// flagsText shows comparison flags as " [a, b]", "" when none.
func flagsText(flags []string) string {
	if len(flags) == 0 {
		return ""
	}
	return " [" + strings.Join(flags, ", ") + "]"
}
