package campaign_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// exportCall places and settles one call of a contact at the given time, as the dial job and
// the recorder do.
type exportCall struct {
	reason     string
	duration   float64
	cost       float64
	structured string
	summary    string
}

func (b *testBundle) call(t *testing.T, contactID int64, at time.Time, c exportCall) *campaign.Attempt {
	t.Helper()
	a := b.grant(t, contactID, at)
	callID := a.Key + "-call"
	require.NoError(t, b.store.CallCreated(b.ctx, a.ID, callID, at, at))
	ended := at.Add(time.Duration(c.duration * float64(time.Second)))
	res := campaign.CallResult{CallID: callID, EndedReason: c.reason, StartedAt: &at, EndedAt: &ended,
		DurationSeconds: &c.duration, Cost: &c.cost, Summary: c.summary, SuccessEvaluation: "true",
		RecordingURL: "https://storage.example/" + callID + ".wav",
		CostBreakdown: json.RawMessage(`{"transport": 0.01, "llm": 0.02, "llmPromptTokens": 900,
			"analysisCostBreakdown": {"summary": 0.001, "summaryPromptTokens": 50, "structuredData": 0.002}}`)}
	if c.structured != "" {
		res.StructuredData = json.RawMessage(c.structured)
	}
	applied, err := b.store.ApplyResult(b.ctx, res, ended)
	require.NoError(t, err)
	require.True(t, applied)
	return a
}

func exportContacts(t *testing.T, b *testBundle, snap *campaign.ResultsSnapshot, f campaign.ExportFilter,
	paths []campaign.StructuredPath) []campaign.ContactResult {
	t.Helper()
	var out []campaign.ContactResult
	require.NoError(t, snap.EachContact(b.ctx, f, paths, func(r *campaign.ContactResult) error {
		c := *r
		c.Fields = append([]string(nil), r.Fields...)
		c.Structured = append([]string(nil), r.Structured...)
		out = append(out, c)
		return nil
	}))
	return out
}

func TestExportSnapshot(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 5, maxConcurrent: 10, retry: "no_answer=1@1m"})
	c0, c1, c2, c3 := b.contacts[0], b.contacts[1], b.contacts[2], b.contacts[3]
	b.queueAll(t)

	// Contact 0: no answer, then a conversation with nested structured data.
	b.call(t, c0, t0, exportCall{reason: "customer-did-not-answer", duration: 20})
	b.queue(t, c0)
	b.call(t, c0, t0.Add(10*time.Minute), exportCall{reason: "customer-ended-call", duration: 60.5, cost: 0.25,
		summary: "Will pay.", structured: `{"a": 1, "nested": {"x": "y", "deep": {"z": true}}, "list": [1, "two"]}`})
	// Contact 1: the same keys with other types: nested is a string here, and an empty object.
	b.call(t, c1, t0.Add(time.Minute), exportCall{reason: "customer-ended-call", duration: 30, cost: 0.1,
		structured: `{"a": "text \"quoted\"", "nested": "scalar", "empty": {}}`})
	// Contact 2: refused for lack of a concurrency slot: nobody was dialed.
	b.call(t, c2, t0.Add(2*time.Minute), exportCall{reason: "call.start.error-subscription-concurrency-limit-reached"})
	// Contact 3: a conversation asking for a callback, then voicemail: the structured data is the
	// conversation's, the last call's fields the voicemail's.
	b.call(t, c3, t0.Add(3*time.Minute), exportCall{reason: "customer-ended-call", duration: 40, cost: 0.2,
		structured: `{"b": null, "callback_at": "2025-03-03T18:00:00Z"}`})
	b.queue(t, c3)
	b.call(t, c3, t0.Add(7*time.Hour), exportCall{reason: "voicemail", duration: 15, cost: 0.05, summary: "Voicemail."})
	// Contact 4: never called.

	snap, err := b.store.BeginResults(b.ctx, b.camp.ID)
	require.NoError(t, err)
	defer snap.Close(b.ctx)

	// A result recorded after the snapshot is not in it.
	b.queue(t, c2)
	b.call(t, c2, t0.Add(9*time.Hour), exportCall{reason: "customer-ended-call", duration: 5, structured: `{"late": 1}`})

	paths, err := snap.StructuredPaths(b.ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []campaign.StructuredPath{{"a"}, {"b"}, {"callback_at"}, {"empty"}, {"list"}, {"nested"},
		{"nested", "deep", "z"}, {"nested", "x"}}, paths)
	paths = []campaign.StructuredPath{{"a"}, {"b"}, {"callback_at"}, {"empty"}, {"list"}, {"nested"},
		{"nested", "deep", "z"}, {"nested", "x"}}

	rows := exportContacts(t, b, snap, campaign.ExportFilter{}, paths)
	require.Len(t, rows, 5)
	for i, r := range rows {
		require.Equal(t, b.contacts[i], r.ID, "file order")
		require.Equal(t, i+2, r.Line)
		require.Equal(t, []string{r.Phone, r.Fields[1]}, r.Fields, "phone and name")
	}

	r0 := rows[0]
	require.Equal(t, campaign.ContactCompleted, r0.State)
	require.Equal(t, "completed", r0.Outcome)
	require.Equal(t, 2, r0.Attempts)
	require.Equal(t, 2, r0.Calls)
	require.True(t, r0.FirstCallAt.Equal(t0), "%v", r0.FirstCallAt)
	require.True(t, r0.LastCallAt.Equal(t0.Add(10*time.Minute)), "%v", r0.LastCallAt)
	require.InDelta(t, 80.5, r0.DurationSeconds, 1e-9)
	require.InDelta(t, 0.25, r0.CostUSD, 1e-9)
	require.Equal(t, "customer-ended-call", r0.LastEndedReason)
	require.Equal(t, "Will pay.", r0.Summary)
	require.Equal(t, "true", r0.SuccessEvaluation)
	require.Contains(t, r0.RecordingURL, r0.LastCallID)
	require.Equal(t, []string{"1", "", "", "", `[1, "two"]`, "", "true", `"y"`}, r0.Structured)

	r1 := rows[1]
	require.Equal(t, 1, r1.Calls)
	require.Equal(t, []string{`"text \"quoted\""`, "", "", "{}", "", `"scalar"`, "", ""}, r1.Structured)

	r2 := rows[2]
	require.Equal(t, campaign.ContactPending, r2.State, "back in line after the capacity refusal")
	require.Zero(t, r2.Attempts, "a capacity refusal is not an attempt")
	require.Zero(t, r2.Calls, "nor a call")
	require.True(t, r2.FirstCallAt.IsZero())
	require.Empty(t, r2.LastCallID)
	require.Equal(t, make([]string, len(paths)), r2.Structured, "the late result is after the snapshot")

	r3 := rows[3]
	require.Equal(t, 2, r3.Calls)
	require.Equal(t, "voicemail", r3.LastEndedReason)
	require.Equal(t, "Voicemail.", r3.Summary)
	require.Equal(t, []string{"", "null", `"2025-03-03T18:00:00Z"`, "", "", "", "", ""}, r3.Structured,
		"the latest call with structured data")

	r4 := rows[4]
	require.Zero(t, r4.Calls)
	require.Equal(t, "", r4.Outcome)

	// Filters: by state, by outcome ("" = none yet), both.
	ids := func(rs []campaign.ContactResult) []int64 {
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	require.Equal(t, []int64{c0, c1}, ids(exportContacts(t, b, snap, campaign.ExportFilter{States: []campaign.ContactState{campaign.ContactCompleted}}, nil)))
	require.Equal(t, []int64{c2, b.contacts[4]}, ids(exportContacts(t, b, snap, campaign.ExportFilter{Outcomes: []string{""}}, nil)))
	require.Equal(t, []int64{c3}, ids(exportContacts(t, b, snap, campaign.ExportFilter{
		States: []campaign.ContactState{campaign.ContactPending, campaign.ContactCompleted}, Outcomes: []string{"voicemail"}}, nil)))

	// Attempts: every journaled one, in contact then attempt order.
	type att struct {
		line, number int
		outcome      string
	}
	var atts []att
	var first campaign.AttemptResult
	require.NoError(t, snap.EachAttempt(b.ctx, campaign.ExportFilter{}, func(a *campaign.AttemptResult) error {
		if len(atts) == 0 {
			first = *a
		}
		atts = append(atts, att{a.ContactLine, a.Number, a.Outcome})
		return nil
	}))
	require.Equal(t, []att{{2, 1, "no_answer"}, {2, 2, "completed"}, {3, 1, "completed"}, {4, 1, "capacity"},
		{5, 1, "completed"}, {5, 2, "voicemail"}}, atts)
	require.Equal(t, "+14155550100", first.ContactPhone)
	require.Equal(t, campaign.AttemptEnded, first.State)
	require.Equal(t, first.Key+"-call", first.VapiCallID)
	require.NotNil(t, first.StartedAt)
	require.True(t, first.StartedAt.Equal(t0))
	require.NotNil(t, first.DurationSeconds)
	require.InDelta(t, 20, *first.DurationSeconds, 1e-9)
	require.NotNil(t, first.TransportUSD)
	require.InDelta(t, 0.01, *first.TransportUSD, 1e-9)
	require.NotNil(t, first.AnalysisUSD)
	require.InDelta(t, 0.003, *first.AnalysisUSD, 1e-9, "summary + structured data, token counts aside")
	require.NotNil(t, first.LLMPromptTokens)
	require.InDelta(t, 900, *first.LLMPromptTokens, 1e-9)
	require.Nil(t, first.TTSUSD)

	var n int
	require.NoError(t, snap.EachAttempt(b.ctx, campaign.ExportFilter{Outcomes: []string{"capacity", "voicemail"}},
		func(*campaign.AttemptResult) error { n++; return nil }))
	require.Equal(t, 2, n)

	// A writer that fails stops the export at once, with its error.
	stop := errors.New("disk full")
	n = 0
	err = snap.EachContact(b.ctx, campaign.ExportFilter{}, paths, func(*campaign.ContactResult) error { n++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)
}

func TestExportSnapshotEmptyAndMissing(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2})
	_, err := b.store.BeginResults(b.ctx, -1)
	require.ErrorIs(t, err, campaign.ErrNotFound)

	snap, err := b.store.BeginResults(b.ctx, b.camp.ID)
	require.NoError(t, err)
	defer snap.Close(b.ctx)
	paths, err := snap.StructuredPaths(b.ctx)
	require.NoError(t, err)
	require.Empty(t, paths, "no call, no structured data")
	require.Len(t, exportContacts(t, b, snap, campaign.ExportFilter{}, paths), 2)
}

func TestExportStructuredPathsLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2})
	b.queueAll(t)
	deep := `{"l1": {"l2": {"l3": {"l4": {"l5": {"l6": {"l7": {"l8": {"l9": 1}}}}}}}}}`
	b.call(t, b.contacts[0], t0, exportCall{reason: "customer-ended-call", duration: 1, structured: deep})
	snap, err := b.store.BeginResults(b.ctx, b.camp.ID)
	require.NoError(t, err)
	defer snap.Close(b.ctx)
	paths, err := snap.StructuredPaths(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []campaign.StructuredPath{{"l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"}}, paths,
		"objects at the depth limit are leaves")
	rows := exportContacts(t, b, snap, campaign.ExportFilter{}, paths)
	require.JSONEq(t, `{"l9": 1}`, rows[0].Structured[0])

	// Data keyed by something unbounded is refused rather than exported as endless columns.
	many := map[string]int{}
	for i := range campaign.MaxStructuredPaths + 1 {
		many[time.Duration(i).String()] = i
	}
	data, err := json.Marshal(many)
	require.NoError(t, err)
	b.call(t, b.contacts[1], t0, exportCall{reason: "customer-ended-call", duration: 1, structured: string(data)})
	snap2, err := b.store.BeginResults(b.ctx, b.camp.ID)
	require.NoError(t, err)
	defer snap2.Close(b.ctx)
	_, err = snap2.StructuredPaths(b.ctx)
	require.ErrorIs(t, err, campaign.ErrTooManyStructuredPaths)
}

func TestExportStructuredShape(t *testing.T) {
	t.Parallel()
	var s campaign.StructuredShape
	require.Empty(t, s.Leaves(), "the zero value has no paths")
	for _, doc := range []string{
		`{"will_pay": true, "amount": 12.5, "tags": ["a", {"b": 1}], "note": null}`,
		`{"customer": {"email": "a@b.c", "address": {"city": "Paris", "zip": "75001"}}}`,
		`{"customer": "just a name"}`,        // a leaf here, an object above: both
		`{"empty": {}, "customer": {}}`,      // empty objects are leaves
		`["not", "an", "object"]`,            // ignored
		`"a string"`,                         // ignored
		`{"dotted.key": 1, "": "empty key"}`, // keys are kept as they are
		`{"will_pay": false}`,                // nothing new
	} {
		require.NoError(t, s.Add([]byte(doc)), doc)
	}
	require.Equal(t, []campaign.StructuredPath{
		{""}, {"amount"}, {"customer"}, {"customer", "address", "city"}, {"customer", "address", "zip"},
		{"customer", "email"}, {"dotted.key"}, {"empty"}, {"note"}, {"tags"}, {"will_pay"},
	}, s.Leaves(), "arrays are leaves; keys in sorted order, an object's keys together")
	require.Error(t, s.Add([]byte(`{"broken"`)))

	var deep campaign.StructuredShape
	require.NoError(t, deep.Add([]byte(`{"1": {"2": {"3": {"4": {"5": {"6": {"7": {"8": {"9": {"10": 1}}}}}}}}}}`)))
	require.Equal(t, []campaign.StructuredPath{{"1", "2", "3", "4", "5", "6", "7", "8"}}, deep.Leaves(),
		"an object at the depth limit is a leaf")
}
