package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports"
	"github.com/campaign-run/campaign/vapi"
)

var now = time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC)

// facts is a running campaign of 10 contacts: 4 final, first called 2 hours before now.
func facts() *campaign.ReportFacts {
	first := now.Add(-2 * time.Hour)
	retry := now.Add(30 * time.Minute)
	return &campaign.ReportFacts{
		Campaign: &campaign.Campaign{ID: 7, Name: `Nov <b>"reminders"</b>`, Status: campaign.StatusRunning,
			Mode: campaign.ModeForeground, CreatedAt: first, Settings: campaign.Settings{AssistantID: "asst-1", MaxAttempts: 3},
			ImportStats: campaign.ImportStats{RowsRead: 12, Accepted: 10,
				Rejected: map[campaign.RejectReason]int{campaign.RejectSuppressed: 1, campaign.RejectInvalidPhone: 1}}},
		Runner: campaign.RunnerState{Live: 1, LastSeen: &now},
		Contacts: []campaign.ContactCount{
			{State: campaign.ContactCompleted, Outcome: "completed", Contacts: 3, Called: 3},
			{State: campaign.ContactDoNotCall, Outcome: "", Contacts: 1},
			{State: campaign.ContactPending, Outcome: "", Contacts: 4},
			{State: campaign.ContactPending, Outcome: "no_answer", Contacts: 2, Called: 2},
		},
		NextDue: &retry, LastDue: &retry,
		Zones: []campaign.ZoneFacts{
			{Zone: "America/New_York", Contacts: 6, Dialed: 4, Connected: 2, Successful: 1, Calls: 5, ConnectedCalls: 2},
			{Zone: "Europe/London", Contacts: 4, Dialed: 1, Connected: 1, Successful: 1, Calls: 1, ConnectedCalls: 1},
		},
		Groups: []campaign.AttemptGroup{
			{EndedReason: "customer-ended-call", Outcome: "completed", SuccessEvaluation: "true", Call: true, AtVapi: true,
				Attempts: 2, CostUSD: 0.6, Durations: 2, DurationSeconds: 200},
			{EndedReason: "customer-ended-call", Outcome: "completed", SuccessEvaluation: "false", Call: true, AtVapi: true,
				Attempts: 1, CostUSD: 0.3, Durations: 1, DurationSeconds: 50},
			{EndedReason: "customer-did-not-answer", Outcome: "no_answer", Call: true, AtVapi: true, Attempts: 3},
			{EndedReason: "call.start.error-subscription-concurrency-limit-reached", Outcome: "capacity", AtVapi: true, Attempts: 1},
		},
		ByCallNumber: []campaign.CallNumberFacts{
			{Number: 1, Calls: 5, Connected: 2, Successful: 1, FirstConnected: 2, FirstSuccessful: 1},
			{Number: 2, Calls: 1, Connected: 1, Successful: 1, FirstConnected: 1, FirstSuccessful: 1},
		},
		Cost:           campaign.CostFacts{TotalUSD: 0.9, VapiUSD: 0.5},
		Duration:       campaign.DurationFacts{Calls: 3, Mean: 83.33, P50: 100, P90: 100, Buckets: []int{0, 1, 2, 0, 0, 0, 0}, TotalSeconds: 250},
		LiveCalls:      0,
		FirstAttemptAt: &first,
	}
}

func TestBuild(t *testing.T) {
	r := reports.Build(facts(), reports.Options{Now: now, TopReasons: 1})
	require.Equal(t, reports.SchemaVersion, r.SchemaVersion)
	stages := make([]string, len(r.Funnel))
	for i, s := range r.Funnel {
		stages[i] = s.Stage
		require.Equal(t, []int{10, 5, 3, 2}[i], s.Contacts)
	}
	require.Equal(t, []string{"contacts", "dialed", "connected", "successful"}, stages)
	require.Equal(t, 0.6, *r.Funnel[2].ShareOfPrevious)
	require.Equal(t, 0.3, *r.Funnel[2].ShareOfContacts)

	require.Equal(t, []reports.OutcomeShare{
		{Outcome: "none", Contacts: 5, Share: ptr(0.5)},
		{Outcome: "completed", Contacts: 3, Share: ptr(0.3)},
		{Outcome: "no_answer", Contacts: 2, Share: ptr(0.2)},
	}, r.Outcomes)

	// The top reason (ties by name), then the rest summed up; the capacity refusal is no call.
	require.Equal(t, 6, r.EndedReasons.Calls)
	require.Equal(t, []reports.ReasonShare{{EndedReason: "customer-did-not-answer", Outcome: "no_answer", Calls: 3,
		Share: ptr(0.5)}}, r.EndedReasons.Top)
	require.Equal(t, &reports.OtherReasons{Reasons: 1, Calls: 3, Share: ptr(0.5), CostUSD: 0.9}, r.EndedReasons.Other)
	all := reports.Build(facts(), reports.Options{Now: now}).EndedReasons
	require.Nil(t, all.Other)
	require.Equal(t, reports.ReasonShare{EndedReason: "customer-ended-call", Outcome: "completed", Calls: 3, Share: ptr(0.5),
		CostUSD: 0.9, AvgDurationSeconds: ptr(83.3)}, all.Top[1])

	require.Equal(t, 3, r.SuccessEvaluations.Evaluated)
	require.Equal(t, 3, r.SuccessEvaluations.NotEvaluated)
	require.Equal(t, []reports.ValueShare{{Value: "true", Success: true, Calls: 2, Share: ptr(0.6667)},
		{Value: "false", Calls: 1, Share: ptr(0.3333)}}, r.SuccessEvaluations.Values)

	require.Equal(t, ptr(0.4), r.Attempts[0].Yield)
	require.Equal(t, ptr(0.6), r.Attempts[1].CumulativeConnectedShare, "3 of the 5 dialed contacts by attempt 2")
	require.Equal(t, ptr(0.4), r.Attempts[1].CumulativeSuccessShare)

	require.Equal(t, ptr(0.15), r.Cost.PerCallUSD)
	require.Equal(t, ptr(0.3), r.Cost.PerConnectedCallUSD)
	require.Equal(t, ptr(0.45), r.Cost.PerSuccessUSD)
	require.Equal(t, "completed", r.Cost.ByOutcome[0].Outcome)

	require.Equal(t, reports.Suppressions{RejectedAtImport: 1, StoppedBeforeCall: 1}, r.Suppressions)
	require.Equal(t, map[string]int{"suppressed": 1, "invalid_phone": 1}, r.Import.RejectedByReason)

	// 4 final in 2 hours: 2 an hour; 6 more take 3 hours.
	p := r.Progress
	require.NotNil(t, p)
	require.Equal(t, 4, p.NeverCalled)
	require.Equal(t, 2, p.AwaitingRetry)
	require.Equal(t, ptr(2.0), p.ContactsPerHour)
	require.Equal(t, now.Add(3*time.Hour), *p.EstimatedFinish)
	require.Equal(t, "at the pace so far", p.EstimateNote)
	require.Equal(t, now.Add(30*time.Minute), *p.NextDue)
}

func TestBuildProgress(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(f *campaign.ReportFacts)
		note   string
		finish *time.Time
	}{
		{"a retry scheduled past the pace", func(f *campaign.ReportFacts) {
			late := now.Add(5 * time.Hour)
			f.LastDue = &late
		}, "the last retry scheduled", ptr(now.Add(5 * time.Hour))},
		{"paused", func(f *campaign.ReportFacts) { f.Campaign.Status = campaign.StatusPaused },
			"the campaign is paused: no estimate until it runs again", nil},
		{"draft", func(f *campaign.ReportFacts) { f.Campaign.Status = campaign.StatusDraft },
			"the campaign has not been started", nil},
		{"no pace", func(f *campaign.ReportFacts) { f.FirstAttemptAt = nil }, "no contact is final yet: no pace to estimate from", nil},
		{"orphaned", func(f *campaign.ReportFacts) { f.Runner.Live = 0 },
			"no runner runs the campaign: no estimate until it runs again", nil},
		{"scheduled", func(f *campaign.ReportFacts) {
			f.Campaign.Status, f.Campaign.StartAt = campaign.StatusScheduled, ptr(now.Add(time.Hour))
		}, "the campaign is scheduled to start at 2026-11-20 17:00 UTC: no estimate until it runs", nil},
		{"the end comes before the pace's finish", func(f *campaign.ReportFacts) {
			f.Campaign.EndBy = ptr(now.Add(2 * time.Hour))
		}, "its end (--end-by): contacts not reached by then expire", ptr(now.Add(2 * time.Hour))},
		{"the end comes after the pace's finish", func(f *campaign.ReportFacts) {
			f.Campaign.EndBy = ptr(now.Add(4 * time.Hour))
		}, "at the pace so far", ptr(now.Add(3 * time.Hour))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := facts()
			tt.change(f)
			p := reports.Build(f, reports.Options{Now: now}).Progress
			require.Equal(t, tt.note, p.EstimateNote)
			require.Equal(t, tt.finish, p.EstimatedFinish)
			require.Equal(t, tt.name == "orphaned", p.Orphaned)
			if p.Orphaned {
				require.Equal(t, &now, p.NoRunnerSince)
				require.Equal(t, `campaign resume Nov <b>"reminders"</b> (or campaign serve --adopt-orphans)`, p.Continue)
			}
		})
	}
	f := facts()
	f.Campaign.Status = campaign.StatusCompleted
	require.Nil(t, reports.Build(f, reports.Options{Now: now}).Progress)
}

// fakeAnalytics is a reports.AnalyticsClient whose answer a test sets.
type fakeAnalytics struct {
	AnalyticsFunc func(ctx context.Context, q *vapi.AnalyticsQueryDTO) ([]vapi.AnalyticsQueryResult, error)
}

func (f *fakeAnalytics) Analytics(ctx context.Context, q *vapi.AnalyticsQueryDTO) ([]vapi.AnalyticsQueryResult, error) {
	return f.AnalyticsFunc(ctx, q)
}

func TestQueryAnalytics(t *testing.T) {
	f := facts()
	name := f.Campaign.Name
	answer := func(rows map[string][]map[string]any) *fakeAnalytics {
		return &fakeAnalytics{AnalyticsFunc: func(_ context.Context, q *vapi.AnalyticsQueryDTO) ([]vapi.AnalyticsQueryResult, error) {
			out := make([]vapi.AnalyticsQueryResult, len(q.Queries))
			for i, qq := range q.Queries {
				out[i] = vapi.AnalyticsQueryResult{Name: qq.Name, Result: rows[qq.Name]}
			}
			return out, nil
		}}
	}

	t.Run("by variable", func(t *testing.T) {
		var sent *vapi.AnalyticsQueryDTO
		client := answer(map[string][]map[string]any{
			"campaign_by_ended_reason": {
				{"endedReason": "customer-ended-call", "_campaign": name, "assistantId": "asst-1", "calls": 3.0, "costUsd": 0.9, "avgDuration": 83.3},
				// Counts and sums may come as strings.
				{"endedReason": "customer-did-not-answer", "_campaign": name, "calls": "4", "costUsd": "0", "avgDuration": nil},
				{"endedReason": "customer-busy", "_campaign": "another campaign", "calls": 9.0, "costUsd": 1.0},
				// Vapi's capacity refusal is a call there: the runner has it too.
				{"endedReason": "call.start.error-subscription-concurrency-limit-reached", "_campaign": name, "calls": 1.0, "costUsd": 0.0},
			},
			"campaign_by_success_evaluation": {
				{"analysis.successEvaluation": true, "_campaign": name, "calls": 2.0, "costUsd": 0.6, "avgDuration": 100.0},
				{"analysis.successEvaluation": "false", "_campaign": name, "calls": 1.0, "costUsd": 0.3, "avgDuration": 50.0},
				{"analysis.successEvaluation": nil, "_campaign": name, "calls": 5.0, "costUsd": 0.0},
			},
		})
		inner := client.AnalyticsFunc
		client.AnalyticsFunc = func(ctx context.Context, q *vapi.AnalyticsQueryDTO) ([]vapi.AnalyticsQueryResult, error) {
			sent = q
			return inner(ctx, q)
		}
		a, err := reports.QueryAnalytics(context.Background(), client, f, reports.AnalyticsOptions{Variable: "_campaign", Now: now})
		require.NoError(t, err)
		require.True(t, a.Available)
		require.Equal(t, reports.MatchedByVariable, a.Query.MatchedBy)
		require.Equal(t, now.Add(-2*time.Hour-time.Minute), a.Query.Start, "from the first call, less a minute")
		require.Equal(t, now.Add(time.Minute), a.Query.End)
		require.Len(t, sent.Queries, 2)
		for _, q := range sent.Queries {
			require.Equal(t, []vapi.VariableValueGroupBy{{Key: "_campaign"}}, q.GroupByVariableValue)
			require.Equal(t, vapi.AnalyticsTableCall, q.Table)
			require.LessOrEqual(t, len(q.Name), 40)
			require.Equal(t, a.Query.Start, q.TimeRange.Start)
		}
		require.Equal(t, 7, a.Totals.Local.Calls)
		require.Equal(t, 8, a.Totals.Vapi.Calls)
		require.Equal(t, []string{reports.FlagCallsDiffer}, a.Totals.Flags)
		rows := map[string]reports.ComparisonRow{}
		for _, r := range a.ByEndedReason {
			rows[r.Key] = r
		}
		require.Empty(t, rows["customer-ended-call"].Flags)
		require.Equal(t, []string{reports.FlagCallsDiffer}, rows["customer-did-not-answer"].Flags)
		require.NotContains(t, rows, "customer-busy", "another campaign's calls are left out")
		evals := map[string]reports.ComparisonRow{}
		for _, r := range a.BySuccessEvaluation {
			evals[r.Key] = r
		}
		require.Empty(t, evals["true"].Flags, "a boolean evaluation matches the runner's text")
		require.Equal(t, 5, evals[""].Vapi.Calls)
		require.Equal(t, 4, evals[""].Local.Calls)
		require.Equal(t, []string{
			"Vapi reports 8 calls, the runner recorded 7: 1 call that Vapi knows and the runner never recorded.",
			"Ended reason customer-did-not-answer: Vapi 4 calls, the runner 3.",
			"Success evaluation (none): Vapi 5 calls, the runner 4.",
		}, a.Differences)
	})

	t.Run("by assistant when Vapi has no variable group", func(t *testing.T) {
		client := answer(map[string][]map[string]any{
			"campaign_by_ended_reason": {
				{"endedReason": "customer-ended-call", "assistantId": "asst-1", "calls": 3.0, "costUsd": 0.9, "avgDuration": 90.0},
				{"endedReason": "customer-ended-call", "assistantId": "asst-2", "calls": 5.0, "costUsd": 2.0},
			},
		})
		a, err := reports.QueryAnalytics(context.Background(), client, f, reports.AnalyticsOptions{Variable: "_campaign", Now: now})
		require.NoError(t, err)
		require.Equal(t, reports.MatchedByAssistant, a.Query.MatchedBy)
		require.Contains(t, a.Note, `no "_campaign" group`)
		var ended reports.ComparisonRow
		for _, r := range a.ByEndedReason {
			if r.Key == "customer-ended-call" {
				ended = r
			}
		}
		require.Equal(t, 3, ended.Vapi.Calls, "asst-2's calls are left out")
		require.Equal(t, []string{reports.FlagDurationDiffers}, ended.Flags, "83.3 s against 90 s")
	})

	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			client := &fakeAnalytics{AnalyticsFunc: func(context.Context, *vapi.AnalyticsQueryDTO) ([]vapi.AnalyticsQueryResult, error) {
				return nil, &vapi.APIError{Op: vapi.OperationAnalytics, StatusCode: status, Messages: []string{"no access"}}
			}}
			a, err := reports.QueryAnalytics(context.Background(), client, f, reports.AnalyticsOptions{Variable: "_campaign", Now: now})
			require.NoError(t, err)
			require.False(t, a.Available)
			require.Contains(t, a.Note, http.StatusText(status)+": no access")
			require.NotNil(t, a.Query)
		})
	}

	t.Run("other errors", func(t *testing.T) {
		boom := &vapi.APIError{Op: vapi.OperationAnalytics, StatusCode: http.StatusBadGateway}
		client := &fakeAnalytics{AnalyticsFunc: func(context.Context, *vapi.AnalyticsQueryDTO) ([]vapi.AnalyticsQueryResult, error) {
			return nil, boom
		}}
		_, err := reports.QueryAnalytics(context.Background(), client, f, reports.AnalyticsOptions{Variable: "_campaign", Now: now})
		require.True(t, errors.Is(err, boom), "%v", err)
	})
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]reports.Format{"": reports.FormatText, "text": reports.FormatText, "json": reports.FormatJSON,
		"csv": reports.FormatCSV, "html": reports.FormatHTML} {
		got, err := reports.ParseFormat(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := reports.ParseFormat("pdf")
	require.ErrorContains(t, err, `unknown report format "pdf"`)
}

func TestWriteHTML(t *testing.T) {
	r := reports.Build(facts(), reports.Options{Now: now})
	r.Analytics = reports.Unavailable("no key <here>")
	var buf bytes.Buffer
	require.NoError(t, reports.Write(&buf, r, reports.FormatHTML))
	page := buf.String()

	// Every chart has the marks ChartMarks announces.
	charts := regexp.MustCompile(`(?s)<svg data-chart="([a-z]+)".*?</svg>`).FindAllStringSubmatch(page, -1)
	got := map[string]int{}
	for _, c := range charts {
		got[c[1]] = strings.Count(c[0], "data-mark=")
	}
	require.Equal(t, reports.ChartMarks(r), got)
	require.Equal(t, 48, got[reports.ChartHours], "24 hours, each a bar and its connected part")

	// Text is escaped; nothing is fetched; it reads on a phone.
	require.NotContains(t, page, "<b>")
	require.Contains(t, page, "Nov &lt;b&gt;&#34;reminders&#34;&lt;/b&gt;")
	require.Contains(t, page, "no key &lt;here&gt;")
	require.Contains(t, page, `<meta name="viewport" content="width=device-width, initial-scale=1">`)
	for _, bad := range []string{"<script", "src=", "http://", "https://", "url("} {
		require.NotContains(t, page, bad)
	}
	require.Contains(t, page, `id="progress"`)
}

func TestWriteCSV(t *testing.T) {
	f := facts()
	f.Campaign.Name = "=HYPERLINK(1)"
	r := reports.Build(f, reports.Options{Now: now})
	var buf bytes.Buffer
	require.NoError(t, reports.Write(&buf, r, reports.FormatCSV))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, reports.CSVHeader, rows[0])
	cell := func(section, item, metric string) string {
		for _, row := range rows[1:] {
			if row[0] == section && row[1] == item && row[2] == metric {
				return row[3]
			}
		}
		t.Fatalf("no row %s/%s/%s", section, item, metric)
		return ""
	}
	require.Equal(t, "1", cell("report", "", "schema_version"))
	require.Equal(t, "'=HYPERLINK(1)", cell("campaign", "", "name"), "safe in a spreadsheet")
	require.Equal(t, "0.3", cell("funnel", "connected", "share_of_contacts"))
	require.Equal(t, "", cell("campaign", "", "finished_at"), "null is an empty cell")
	require.Equal(t, "2026-11-20T19:00:00Z", cell("progress", "", "estimated_finish"))
	require.Equal(t, "5", cell("attempts", "1", "calls"))
	require.Equal(t, "2", cell("duration", "1m–2m", "histogram_calls"))
}

func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, reports.Write(&buf, reports.Build(facts(), reports.Options{Now: now}), reports.FormatText))
	out := buf.String()
	for _, line := range strings.Split(out, "\n") {
		require.Equal(t, strings.TrimRight(line, " "), line, "no trailing spaces")
	}
	require.Contains(t, out, "Progress (running): 4 of 10 contacts final (40.0%)")
	require.Contains(t, out, "pace 2.00 contacts an hour; estimated finish 2026-11-20 19:00 UTC (at the pace so far)")
}

func ptr[T any](v T) *T { return &v }

// budgetPaused is facts() of a campaign its $1 budget cap paused.
func budgetPaused() *campaign.ReportFacts {
	f := facts()
	f.Campaign.Status, f.Campaign.PausedReason, f.Campaign.MaxCostUSD = campaign.StatusPaused, campaign.PauseBudget, ptr(1.0)
	return f
}

// TestBudgetPauseInEveryFormat: a campaign its budget cap paused says so, with the cap and the
// command that continues it, in JSON (fields added within the schema version), text, HTML and
// CSV; a campaign without a cap or paused by an operator has none of it.
func TestBudgetPauseInEveryFormat(t *testing.T) {
	r := reports.Build(budgetPaused(), reports.Options{Now: now})
	require.Equal(t, 1, r.SchemaVersion, "fields added: the schema version stays")
	require.Equal(t, ptr(1.0), r.Campaign.MaxCostUSD)
	require.Equal(t, "budget", r.Campaign.PausedReason)
	require.Equal(t, "budget", r.Progress.PausedReason)
	require.Equal(t, `campaign resume Nov <b>"reminders"</b> --max-cost USD`, r.Progress.Continue)
	require.Equal(t, "the campaign is paused by its budget cap: no estimate until it runs again", r.Progress.EstimateNote)

	var buf bytes.Buffer
	require.NoError(t, reports.Write(&buf, r, reports.FormatJSON))
	require.Contains(t, buf.String(), `"max_cost_usd": 1,`)
	require.Contains(t, buf.String(), `"paused_reason": "budget"`)

	buf.Reset()
	require.NoError(t, reports.Write(&buf, r, reports.FormatText))
	out := buf.String()
	require.Contains(t, out, `): paused (budget)`)
	require.Contains(t, out, "  budget cap $1.00, $0.9000 spent\n")
	require.Contains(t, out, `paused by its budget cap: the next call could pass it; continue with a higher cap: campaign resume Nov <b>"reminders"</b> --max-cost USD`)

	buf.Reset()
	require.NoError(t, reports.Write(&buf, r, reports.FormatHTML))
	page := buf.String()
	require.Contains(t, page, `<span class="badge">paused (budget)</span>`)
	require.Contains(t, page, "budget cap $1.00")
	require.Contains(t, page, "<strong>Paused by its budget cap:</strong>")

	buf.Reset()
	require.NoError(t, reports.Write(&buf, r, reports.FormatCSV))
	require.Contains(t, buf.String(), "campaign,,max_cost_usd,1\n")
	require.Contains(t, buf.String(), "campaign,,paused_reason,budget\n")

	for _, f := range []*campaign.ReportFacts{facts(), budgetPaused()} {
		if f.Campaign.MaxCostUSD != nil {
			f.Campaign.PausedReason = campaign.PauseOperator // an operator's pause
		}
		r := reports.Build(f, reports.Options{Now: now})
		require.Empty(t, r.Campaign.PausedReason)
		require.Empty(t, r.Progress.PausedReason)
		for _, format := range []reports.Format{reports.FormatJSON, reports.FormatText, reports.FormatHTML, reports.FormatCSV} {
			buf.Reset()
			require.NoError(t, reports.Write(&buf, r, format))
			require.NotContains(t, strings.ToLower(buf.String()), "paused by its budget", format)
			require.NotContains(t, buf.String(), "paused_reason", format)
		}
	}
}

// TestCallerNumbersInEveryFormat: the calls by caller number, with the connect rate (connected
// calls of calls) and the cost a call, in JSON (added within the schema version), text, HTML
// and CSV; text and HTML show the section only for more than one number.
func TestCallerNumbersInEveryFormat(t *testing.T) {
	f := facts()
	f.ByCallerNumber = []campaign.CallerNumberFacts{
		{PhoneNumberID: "pn-a", Number: "+14155550100", Calls: 4, Connected: 1, Successful: 1, CostUSD: 0.5},
		{PhoneNumberID: "=pn-b", Calls: 2, Connected: 2, CostUSD: 0.4},
	}
	r := reports.Build(f, reports.Options{Now: now})
	require.Equal(t, 1, r.SchemaVersion)
	require.Equal(t, []reports.CallerNumberFigures{
		{PhoneNumberID: "pn-a", Number: "+14155550100", Calls: 4, ConnectedCalls: 1, SuccessfulCalls: 1, ConnectRate: ptr(0.25),
			CostUSD: 0.5, PerCallUSD: ptr(0.125)},
		{PhoneNumberID: "=pn-b", Calls: 2, ConnectedCalls: 2, ConnectRate: ptr(1.0), CostUSD: 0.4, PerCallUSD: ptr(0.2)},
	}, r.CallerNumbers)

	var buf bytes.Buffer
	require.NoError(t, reports.Write(&buf, r, reports.FormatJSON))
	require.Contains(t, buf.String(), `"connect_rate": 0.25,`)

	buf.Reset()
	require.NoError(t, reports.Write(&buf, r, reports.FormatText))
	require.Regexp(t, `(?m)^  pn-a \(\+14155550100\) +4 +1 +25\.0% +\$0\.5000 +\$0\.1250$`, buf.String())

	buf.Reset()
	require.NoError(t, reports.Write(&buf, r, reports.FormatHTML))
	require.Contains(t, buf.String(), "<h2>By caller number</h2>")
	require.Contains(t, buf.String(), "<td>pn-a (&#43;14155550100)</td>")

	buf.Reset()
	require.NoError(t, reports.Write(&buf, r, reports.FormatCSV))
	require.Contains(t, buf.String(), "caller_numbers,pn-a,connect_rate,0.25\n")
	require.Contains(t, buf.String(), "caller_numbers,'=pn-b,calls,2\n", "safe in a spreadsheet")

	one := facts()
	one.ByCallerNumber = f.ByCallerNumber[:1]
	r = reports.Build(one, reports.Options{Now: now})
	buf.Reset()
	require.NoError(t, reports.Write(&buf, r, reports.FormatText))
	require.NotContains(t, buf.String(), "By caller number")
	buf.Reset()
	require.NoError(t, reports.Write(&buf, r, reports.FormatHTML))
	require.NotContains(t, buf.String(), "By caller number")
}
