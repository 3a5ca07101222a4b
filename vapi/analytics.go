package vapi

import "time"

// AnalyticsTable is the table an analytics query reads.
type AnalyticsTable string

// Analytics tables.
const (
	AnalyticsTableCall         AnalyticsTable = "call"
	AnalyticsTableSubscription AnalyticsTable = "subscription"
)

// AnalyticsOperationKind is an aggregation of an analytics query.
type AnalyticsOperationKind string

// Analytics aggregations.
const (
	AnalyticsSum     AnalyticsOperationKind = "sum"
	AnalyticsAvg     AnalyticsOperationKind = "avg"
	AnalyticsCount   AnalyticsOperationKind = "count"
	AnalyticsMin     AnalyticsOperationKind = "min"
	AnalyticsMax     AnalyticsOperationKind = "max"
	AnalyticsHistory AnalyticsOperationKind = "history"
)

// AnalyticsQueryDTO is the body of POST /analytics.
type AnalyticsQueryDTO struct {
	// Queries are run independently; each comes back as one
	// AnalyticsQueryResult.
	Queries []AnalyticsQuery `json:"queries"`
}

// AnalyticsQuery is one analytics query. Vapi requires Table, Name and
// Operations.
type AnalyticsQuery struct {
	// Table is "call" or "subscription".
	Table AnalyticsTable `json:"table"`
	// Name identifies the query in the response (at most 40 characters).
	Name string `json:"name"`
	// Operations are the aggregations to compute.
	Operations []AnalyticsOperation `json:"operations"`
	// GroupBy lists the columns to group by: "type", "assistantId",
	// "endedReason", "analysis.successEvaluation", "status".
	GroupBy []string `json:"groupBy,omitempty"`
	// GroupByVariableValue lists variable-value keys to group by.
	GroupByVariableValue []VariableValueGroupBy `json:"groupByVariableValue,omitempty"`
	// TimeRange bounds the query; nil means Vapi's default (the last 7
	// days, UTC, no step).
	TimeRange *TimeRange `json:"timeRange,omitempty"`
}

// AnalyticsOperation is one aggregation of a column.
type AnalyticsOperation struct {
	// Operation is the aggregation.
	Operation AnalyticsOperationKind `json:"operation"`
	// Column is the aggregated column, e.g. "id", "cost", "duration",
	// "concurrency", "costBreakdown.llm".
	Column string `json:"column"`
	// Alias names the result key (at most 40 characters); Vapi's default is
	// operation + column, e.g. "sumDuration".
	Alias string `json:"alias,omitempty"`
}

// VariableValueGroupBy groups analytics by a variable value.
type VariableValueGroupBy struct {
	// Key is the variable's name (at most 100 characters).
	Key string `json:"key"`
}

// TimeRange is an analytics query's time range.
type TimeRange struct {
	// Step buckets the results: "minute", "hour", "day", "week", "month",
	// ... Empty: one bucket for the whole range.
	Step string `json:"step,omitempty"`
	// Start is the range's start (Vapi's default: 7 days ago).
	Start time.Time `json:"start,omitzero"`
	// End is the range's end (Vapi's default: now).
	End time.Time `json:"end,omitzero"`
	// Timezone is the IANA zone used for steps (Vapi's default: UTC).
	Timezone string `json:"timezone,omitempty"`
}

// AnalyticsQueryResult is the answer to one query: a row per group, each
// holding the group-by keys, "date" when a step is set, and one key per
// operation alias.
type AnalyticsQueryResult struct {
	// Name is the query's name.
	Name string `json:"name"`
	// TimeRange is the range actually used.
	TimeRange TimeRange `json:"timeRange"`
	// Result holds the rows.
	Result []map[string]any `json:"result"`
}
