package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gocarina/gocsv"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestExportSpreadsheetSafe(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"Zoë 山田 🎉 محمد", "Zoë 山田 🎉 محمد"},
		{"=SUM(A1)", "'=SUM(A1)"},
		{"=1+2", "'=1+2"},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tTabbed", "'\tTabbed"},
		{"\rCR", "'\rCR"},
		{"+14155550123", "+14155550123"},        // E.164: left readable and re-importable
		{"+1 415 555 0123", "'+1 415 555 0123"}, // not E.164: could be an expression
		{"+1-415-555-0123", "'+1-415-555-0123"},
		{"+", "'+"},
		{"-", "'-"},
		{"-12.5", "-12.5"}, // plain numbers stay numbers
		{"+3", "+3"},
		{"-1.", "'-1."},
		{"-.5", "'-.5"},
		{"-1.2.3", "'-1.2.3"},
		{"-1e5", "'-1e5"},
		{"a=b", "a=b"},
		{" =SUM(A1)", " =SUM(A1)"}, // a leading space makes it text in every spreadsheet
		{"'=already", "'=already"},
	} {
		require.Equal(t, tt.want, SpreadsheetSafe(tt.in), "%q", tt.in)
	}
}

func TestExportSortPathsAndColumns(t *testing.T) {
	t.Parallel()
	paths := []campaign.StructuredPath{{"will_pay"}, {"details", "reason"}, {"a.b"}, {"details"}, {"a", "b"},
		{"details", "amount"}, {"Zeta"}, {"callback_at"}}
	SortPaths(paths)
	var names []string
	for _, p := range paths {
		names = append(names, StructuredColumn(p))
	}
	// Key by key: an object's keys stay together, after a leaf of the same name.
	require.Equal(t, []string{"structured.Zeta", "structured.a.b", "structured.a.b", "structured.callback_at",
		"structured.details", "structured.details.amount", "structured.details.reason", "structured.will_pay"}, names)

	header := ContactHeader([]string{"phone", "name", "result_state", "structured.a.b"}, paths)
	require.Equal(t, []string{"phone", "name", "result_state", "structured.a.b"}, header[:4], "the original columns first, as they were")
	require.Equal(t, "result_state_2", header[4], "a taken name gets a suffix")
	require.Equal(t, ResultColumns[1:], header[5:4+len(ResultColumns)])
	require.Equal(t, []string{"structured.Zeta", "structured.a.b_2", "structured.a.b_3", "structured.callback_at",
		"structured.details", "structured.details.amount", "structured.details.reason", "structured.will_pay"},
		header[4+len(ResultColumns):])
	seen := map[string]bool{}
	for _, h := range header {
		require.False(t, seen[h], "duplicate %q", h)
		seen[h] = true
	}

	// No result column may be taken for a role column by the import's header detection.
	for _, c := range ResultColumns {
		r, err := campaign.NewReader(strings.NewReader("phone,"+c+"\n+14155550100,x\n"), campaign.ReaderOptions{})
		require.NoError(t, err)
		h := r.Header()
		require.Equal(t, 0, h.Phone, c)
		require.Equal(t, []int{-1, -1, -1}, []int{h.Name, h.TimeZone, h.ExternalID}, c)
	}
}

func TestExportJSONCell(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", ""},           // absent
		{"null", ""},       // JSON null
		{`"text"`, "text"}, // strings lose their quotes
		{`""`, ""},         //
		{`"a \"q\" \u00e9\n"`, "a \"q\" é\n"},
		{`"=SUM(A1)"`, "=SUM(A1)"}, // neutralized by the CSV writer, not here
		{"12.5", "12.5"},
		{"true", "true"},
		{`[1, "two", {"x": null}]`, `[1, "two", {"x": null}]`}, // arrays are one cell, as JSON
		{`{"k": "v"}`, `{"k": "v"}`},                           // objects at the depth limit too
		{"{}", "{}"},
	} {
		require.Equal(t, tt.want, jsonCell(tt.in), "%q", tt.in)
	}
}

func TestExportAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"uote\back`, "tab\tnl\ncr\r\x00\x1f", "Zoë 山田 🎉 محمد", "<&>", "bad \xff utf8"} {
		got := appendJSONString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), "%s", got)
		require.Equal(t, strings.ToValidUTF8(s, "\uFFFD"), back)
	}
	require.Equal(t, `"<&>"`, string(appendJSONString(nil, "<&>")), "no HTML escaping")
}

func TestExportFormatNumber(t *testing.T) {
	t.Parallel()
	require.Equal(t, "0.3", formatNumber(0.1+0.2, 6))
	require.Equal(t, "62", formatNumber(62.0000001, 3))
	require.Equal(t, "0.0004", formatNumber(0.0004, 6))
	require.Equal(t, "1234567.5", formatNumber(1234567.5, 3))
}

func TestExportAttemptRecordCSV(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	started := time.Date(2026, 11, 23, 14, 5, 9, 0, time.UTC)
	rec := AttemptRecord{ContactPhone: "+14155550100", ContactExternalID: "=crm", ContactLine: 2, ContactState: "completed",
		AttemptNumber: 1, AttemptKey: "cmp-1-1-1", AttemptState: "ended", VapiCallID: "call-1",
		PlacedAt: Time(started.Add(-time.Second)), StartedAt: Time(started), StartedAtLocal: LocalTime(started.In(ny)),
		TimeZone: "America/New_York", EndedReason: "customer-ended-call", Outcome: "completed",
		DurationSeconds: Number{61.25, true}, CostUSD: Number{0.1 + 0.2, true}, Summary: "-2+3 said the customer",
		StructuredData: `{"a": 1}`, CallerNumberID: "pn-1", CallerNumber: "+12125550100"}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	cw, err := newCSVWriter(bw, 0, false)
	require.NoError(t, err)
	sw := gocsv.NewSafeCSVWriter(cw)
	require.NoError(t, gocsv.MarshalCSV([]AttemptRecord{rec}, sw))
	require.NoError(t, bw.Flush())
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	require.Equal(t, "contact_phone,contact_external_id,contact_line,contact_state,attempt_number,attempt_key,attempt_state,"+
		"vapi_call_id,placed_at_utc,started_at_utc,ended_at_utc,started_at_local,time_zone,ended_reason,outcome,"+
		"duration_seconds,cost_usd,cost_transport_usd,cost_stt_usd,cost_llm_usd,cost_tts_usd,cost_vapi_usd,"+
		"cost_analysis_usd,llm_prompt_tokens,llm_completion_tokens,tts_characters,success_evaluation,summary,"+
		"recording_url,structured_data,error,decision,caller_number_id,caller_number", lines[0])
	require.Equal(t, `+14155550100,'=crm,2,completed,1,cmp-1-1-1,ended,call-1,2026-11-23T14:05:08Z,2026-11-23T14:05:09Z,,`+
		`2026-11-23 09:05:09,America/New_York,customer-ended-call,completed,61.25,0.3,,,,,,,,,,,'-2+3 said the customer,,`+
		`"{""a"": 1}",,,pn-1,+12125550100`, lines[1])

	js, err := json.Marshal(rec)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(js, &m))
	require.Equal(t, "=crm", m["contact_external_id"], "JSON is not neutralized")
	require.Equal(t, "2026-11-23T09:05:09-05:00", m["started_at_local"])
	require.Nil(t, m["ended_at_utc"])
	require.Nil(t, m["cost_tts_usd"])
	require.Equal(t, 0.3, m["cost_usd"])
	require.Equal(t, map[string]any{"a": 1.0}, m["structured_data"])
}

func TestExportOptions(t *testing.T) {
	t.Parallel()
	_, err := ParseFormat("xml")
	require.Error(t, err)
	f, err := ParseFormat("")
	require.NoError(t, err)
	require.Equal(t, FormatCSV, f)
	_, err = Options{Format: FormatJSONL, Excel: true}.check()
	require.Error(t, err)
}
