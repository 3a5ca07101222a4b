package reports

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
)

// AnalyticsClient runs Vapi analytics queries (POST /analytics); *vapi.Client implements it.
type AnalyticsClient interface {
	Analytics(ctx context.Context, q *vapi.AnalyticsQueryDTO) ([]vapi.AnalyticsQueryResult, error)
}

// AnalyticsOptions configure QueryAnalytics.
type AnalyticsOptions struct {
	// Variable is the variableValues key that every call of the campaign carries with the
	// campaign's name (jobs.CampaignVariable): Vapi's rows are grouped by it.
	Variable string
	// Now ends the time range queried (or the campaign's last call, if later).
	Now time.Time
}

// How Vapi's rows were matched to the campaign.
const (
	// MatchedByVariable: by the campaign's variable (groupByVariableValue).
	MatchedByVariable = "variable"
	// MatchedByAssistant: Vapi's answer had no group for the variable, so by the campaign's
	// assistant in the time range; other calls of that assistant in that time are included.
	MatchedByAssistant = "assistant"
)

// Comparison flags.
const (
	FlagCallsDiffer     = "calls_differ"
	FlagCostDiffers     = "cost_differs"
	FlagDurationDiffers = "duration_differs"
)

// Tolerances of the comparison: costs within a cent are equal, and average durations within a
// second or 5%.
const (
	costTolerance             = 0.01
	durationToleranceSeconds  = 1
	durationToleranceFraction = 0.05
)

// rangeMargin widens the time range queried on both sides, for clocks that disagree.
const rangeMargin = time.Minute

// Analytics is Vapi's view of the campaign's calls (POST /analytics) beside the runner's.
// Local figures count the attempts that have a Vapi call id.
type Analytics struct {
	// Available is false when Vapi's figures could not be had; Note says why.
	Available bool   `json:"available"`
	Note      string `json:"note"`
	// Query is what was asked of Vapi (null when nothing was).
	Query *AnalyticsQueryInfo `json:"query"`
	// Totals compares calls and cost over the whole campaign.
	Totals *ComparisonRow `json:"totals"`
	// ByEndedReason and BySuccessEvaluation compare group by group ("" = none), the groups
	// with the most calls first.
	ByEndedReason       []ComparisonRow `json:"by_ended_reason"`
	BySuccessEvaluation []ComparisonRow `json:"by_success_evaluation"`
	// Differences says in words every difference flagged.
	Differences []string `json:"differences"`
}

// AnalyticsQueryInfo is the query sent to Vapi.
type AnalyticsQueryInfo struct {
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	GroupVariable string    `json:"group_variable"`
	// MatchedBy is MatchedByVariable or MatchedByAssistant.
	MatchedBy string `json:"matched_by"`
}

// ComparisonRow sets the runner's figures of a group beside Vapi's.
type ComparisonRow struct {
	Key   string   `json:"key"`
	Local Figures  `json:"local"`
	Vapi  Figures  `json:"vapi"`
	Flags []string `json:"flags"`
}

// Figures are the calls of a group, their cost and average duration (null when unknown).
type Figures struct {
	Calls              int      `json:"calls"`
	CostUSD            float64  `json:"cost_usd"`
	AvgDurationSeconds *float64 `json:"avg_duration_seconds"`
}

// Unavailable is the analytics section of a report that could not ask Vapi, with the reason.
func Unavailable(note string) *Analytics {
	return &Analytics{Note: note, ByEndedReason: []ComparisonRow{}, BySuccessEvaluation: []ComparisonRow{},
		Differences: []string{}}
}

// Names of the queries sent (at most 40 characters).
const (
	queryByReason     = "campaign_by_ended_reason"
	queryByEvaluation = "campaign_by_success_evaluation"
)

// Vapi's group-by columns.
const (
	groupEndedReason = "endedReason"
	groupEvaluation  = "analysis.successEvaluation"
	groupAssistant   = "assistantId"
)

// QueryAnalytics asks Vapi for the campaign's calls over its time range, counted, costed and
// timed by ended reason and by success evaluation, grouped by the campaign's variable, and
// compares them with the runner's. A 401 or 403 (the key may not read analytics) gives an
// Unavailable section; any other failure is an error.
func QueryAnalytics(ctx context.Context, client AnalyticsClient, f *campaign.ReportFacts, opts AnalyticsOptions) (*Analytics, error) {
	info := &AnalyticsQueryInfo{GroupVariable: opts.Variable}
	info.Start, info.End = timeRange(f, opts.Now)
	ops := []vapi.AnalyticsOperation{
		{Operation: vapi.AnalyticsCount, Column: "id", Alias: "calls"},
		{Operation: vapi.AnalyticsSum, Column: "cost", Alias: "costUsd"},
		{Operation: vapi.AnalyticsAvg, Column: "duration", Alias: "avgDuration"},
	}
	tr := &vapi.TimeRange{Start: info.Start, End: info.End, Timezone: "UTC"}
	vars := []vapi.VariableValueGroupBy{{Key: opts.Variable}}
	q := &vapi.AnalyticsQueryDTO{Queries: []vapi.AnalyticsQuery{
		{Table: vapi.AnalyticsTableCall, Name: queryByReason, Operations: ops, TimeRange: tr,
			GroupBy: []string{groupEndedReason, groupAssistant}, GroupByVariableValue: vars},
		{Table: vapi.AnalyticsTableCall, Name: queryByEvaluation, Operations: ops, TimeRange: tr,
			GroupBy: []string{groupEvaluation, groupAssistant}, GroupByVariableValue: vars},
	}}
	results, err := client.Analytics(ctx, q)
	if err != nil {
		var apiErr *vapi.APIError
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden) {
			detail := http.StatusText(apiErr.StatusCode)
			if m := apiErr.Message(); m != "" {
				detail += ": " + m
			}
			a := Unavailable(fmt.Sprintf("Vapi refused the analytics query (HTTP %d %s): this API key cannot read "+
				"analytics (POST /analytics), so the report shows the runner's figures only.", apiErr.StatusCode, detail))
			a.Query = info
			return a, nil
		}
		return nil, fmt.Errorf("vapi analytics: %w", err)
	}
	rows := map[string][]map[string]any{}
	for _, r := range results {
		rows[r.Name] = r.Result
	}
	info.MatchedBy = MatchedByAssistant
	for _, r := range append(slices.Clip(rows[queryByReason]), rows[queryByEvaluation]...) {
		if _, ok := r[opts.Variable]; ok {
			info.MatchedBy = MatchedByVariable
			break
		}
	}
	mine := func(r map[string]any) bool {
		if info.MatchedBy == MatchedByVariable {
			return groupValue(r[opts.Variable]) == f.Campaign.Name
		}
		return f.Campaign.AssistantID != "" && groupValue(r[groupAssistant]) == f.Campaign.AssistantID
	}

	a := &Analytics{Available: true, Query: info, Differences: []string{}}
	if info.MatchedBy == MatchedByAssistant {
		a.Note = fmt.Sprintf("Vapi's answer has no %q group, so its figures are those of the campaign's assistant "+
			"over the campaign's time range: other calls of that assistant in that time are included.", opts.Variable)
	}
	localByReason, localByEvaluation, localTotal := localFigures(f)
	vapiByReason, vapiTotal := vapiFigures(rows[queryByReason], groupEndedReason, mine)
	vapiByEvaluation, _ := vapiFigures(rows[queryByEvaluation], groupEvaluation, mine)
	a.ByEndedReason = compareGroups(localByReason, vapiByReason)
	a.BySuccessEvaluation = compareGroups(localByEvaluation, vapiByEvaluation)
	totals := compare("", localTotal, vapiTotal)
	a.Totals = &totals

	switch d := vapiTotal.Calls - localTotal.Calls; {
	case d > 0:
		a.Differences = append(a.Differences, fmt.Sprintf("Vapi reports %d calls, the runner recorded %d: %d %s that Vapi "+
			"knows and the runner never recorded.", vapiTotal.Calls, localTotal.Calls, d, plural(d, "call", "calls")))
	case d < 0:
		a.Differences = append(a.Differences, fmt.Sprintf("The runner recorded %d calls, Vapi reports %d: %d %s that Vapi "+
			"does not count (not in its analytics yet, or outside the time range).", localTotal.Calls, vapiTotal.Calls, -d,
			plural(-d, "call", "calls")))
	}
	if slices.Contains(totals.Flags, FlagCostDiffers) {
		a.Differences = append(a.Differences, fmt.Sprintf("Cost: Vapi $%.4f, the runner $%.4f.", vapiTotal.CostUSD, localTotal.CostUSD))
	}
	describe := func(what string, rows []ComparisonRow) {
		for _, r := range rows {
			key := r.Key
			if key == "" {
				key = "(none)"
			}
			if slices.Contains(r.Flags, FlagCallsDiffer) {
				a.Differences = append(a.Differences, fmt.Sprintf("%s %s: Vapi %d calls, the runner %d.", what, key,
					r.Vapi.Calls, r.Local.Calls))
			}
			if slices.Contains(r.Flags, FlagCostDiffers) {
				a.Differences = append(a.Differences, fmt.Sprintf("%s %s: cost Vapi $%.4f, the runner $%.4f.", what, key,
					r.Vapi.CostUSD, r.Local.CostUSD))
			}
			if slices.Contains(r.Flags, FlagDurationDiffers) {
				a.Differences = append(a.Differences, fmt.Sprintf("%s %s: average duration Vapi %.1f s, the runner %.1f s.",
					what, key, *r.Vapi.AvgDurationSeconds, *r.Local.AvgDurationSeconds))
			}
		}
	}
	describe("Ended reason", a.ByEndedReason)
	describe("Success evaluation", a.BySuccessEvaluation)
	return a, nil
}

// timeRange is the campaign's time range: from its first attempt (or its start, or creation)
// to now or its last call's end, whichever is later, widened by rangeMargin and to whole
// seconds.
func timeRange(f *campaign.ReportFacts, now time.Time) (start, end time.Time) {
	start = f.Campaign.CreatedAt
	for _, t := range []*time.Time{f.StartedAt, f.FirstAttemptAt, f.VapiFrom} {
		if t != nil && t.Before(start) {
			start = *t
		}
	}
	end = now
	for _, t := range []*time.Time{f.LastAttemptAt, f.VapiTo} {
		if t != nil && t.After(end) {
			end = *t
		}
	}
	start = start.Add(-rangeMargin).UTC().Truncate(time.Second)
	end = end.Add(rangeMargin + time.Second - 1).UTC().Truncate(time.Second)
	return start, end
}

// figuresAcc adds up figures; avg duration from the calls that have one.
type figuresAcc struct {
	calls, durations int
	cost, seconds    float64
}

func (x *figuresAcc) figures() Figures {
	f := Figures{Calls: x.calls, CostUSD: roundUSD(x.cost)}
	if x.durations > 0 {
		f.AvgDurationSeconds = ptr(roundSeconds(x.seconds / float64(x.durations)))
	}
	return f
}

// localFigures are the runner's figures of the attempts with a Vapi call id: by ended reason,
// by success evaluation, and in all (without a duration: Vapi gives averages by group only).
func localFigures(f *campaign.ReportFacts) (byReason, byEvaluation map[string]Figures, total Figures) {
	reasons, evaluations := map[string]*figuresAcc{}, map[string]*figuresAcc{}
	var all figuresAcc
	add := func(m map[string]*figuresAcc, key string, g campaign.AttemptGroup) {
		x := m[key]
		if x == nil {
			x = &figuresAcc{}
			m[key] = x
		}
		x.calls += g.Attempts
		x.cost += g.CostUSD
		x.durations += g.Durations
		x.seconds += g.DurationSeconds
	}
	for _, g := range f.Groups {
		if !g.AtVapi {
			continue
		}
		add(reasons, g.EndedReason, g)
		add(evaluations, g.SuccessEvaluation, g)
		all.calls += g.Attempts
		all.cost += g.CostUSD
	}
	byReason, byEvaluation = map[string]Figures{}, map[string]Figures{}
	for k, x := range reasons {
		byReason[k] = x.figures()
	}
	for k, x := range evaluations {
		byEvaluation[k] = x.figures()
	}
	return byReason, byEvaluation, all.figures()
}

// vapiFigures reads Vapi's rows that are the campaign's (mine), by the group column key; the
// total sums calls and cost. A group's average duration is the calls-weighted average of its
// rows' averages.
func vapiFigures(rows []map[string]any, key string, mine func(map[string]any) bool) (map[string]Figures, Figures) {
	type acc struct {
		calls, timed          int
		cost, weightedSeconds float64
	}
	groups := map[string]*acc{}
	var total figuresAcc
	for _, r := range rows {
		if !mine(r) {
			continue
		}
		k := groupValue(r[key])
		x := groups[k]
		if x == nil {
			x = &acc{}
			groups[k] = x
		}
		calls, _ := number(r["calls"])
		cost, _ := number(r["costUsd"])
		n := int(math.Round(calls))
		x.calls += n
		x.cost += cost
		if avg, ok := number(r["avgDuration"]); ok {
			x.timed += n
			x.weightedSeconds += avg * float64(n)
		}
		total.calls += n
		total.cost += cost
	}
	out := make(map[string]Figures, len(groups))
	for k, x := range groups {
		f := Figures{Calls: x.calls, CostUSD: roundUSD(x.cost)}
		if x.timed > 0 {
			f.AvgDurationSeconds = ptr(roundSeconds(x.weightedSeconds / float64(x.timed)))
		}
		out[k] = f
	}
	return out, total.figures()
}

// compareGroups compares group by group, the groups with the most calls on either side first.
func compareGroups(local, remote map[string]Figures) []ComparisonRow {
	keys := make([]string, 0, len(local)+len(remote))
	for k := range local {
		keys = append(keys, k)
	}
	for k := range remote {
		if _, ok := local[k]; !ok {
			keys = append(keys, k)
		}
	}
	out := make([]ComparisonRow, 0, len(keys))
	for _, k := range keys {
		out = append(out, compare(k, local[k], remote[k]))
	}
	slices.SortFunc(out, func(a, b ComparisonRow) int {
		return cmp.Or(cmp.Compare(max(b.Local.Calls, b.Vapi.Calls), max(a.Local.Calls, a.Vapi.Calls)), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// compare flags the differences between local and remote figures.
func compare(key string, local, remote Figures) ComparisonRow {
	r := ComparisonRow{Key: key, Local: local, Vapi: remote, Flags: []string{}}
	if local.Calls != remote.Calls {
		r.Flags = append(r.Flags, FlagCallsDiffer)
	}
	if math.Abs(local.CostUSD-remote.CostUSD) >= costTolerance {
		r.Flags = append(r.Flags, FlagCostDiffers)
	}
	if l, v := local.AvgDurationSeconds, remote.AvgDurationSeconds; l != nil && v != nil &&
		math.Abs(*l-*v) > max(durationToleranceSeconds, durationToleranceFraction*math.Abs(*v)) {
		r.Flags = append(r.Flags, FlagDurationDiffers)
	}
	return r
}

// groupValue is a group-by value of Vapi's rows as text: null is "", booleans and numbers as
// JSON writes them.
func groupValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// number reads a figure of Vapi's rows: a JSON number, or a numeric string (Postgres sums and
// counts can come as strings); false when absent, null or not a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
