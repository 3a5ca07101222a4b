package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/reports"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/report")

// reportFixtureCSV has twelve contacts in six time zones (one from the number) and four rows
// rejected: a bad number, a duplicate, a number on the do-not-call list, a missing number.
const reportFixtureCSV = "testdata/report/customers.csv"

// reportT0 is when the fixture campaign starts: Friday 2026-11-20 14:00 UTC.
var reportT0 = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

// reportRunningNow is the report's clock for the running fixture: 99m10s after reportT0.
var reportRunningNow = reportT0.Add(99*time.Minute + 10*time.Second)

// scriptedCall is one attempt of the fixture: placed at T0+at, for the contact on line
// contact+1 of the file's accepted rows.
type scriptedCall struct {
	contact int
	at      time.Duration
	// kind: "" (ended with reason), "capacity" (refused by Vapi's concurrency limit),
	// "not_created" (a 503 before any call existed).
	kind       string
	reason     string
	duration   float64 // seconds of conversation; 0: the call never connected
	cost       float64
	eval       string
	structured string
}

// reportScript is the fixture's calls, in order of placing. Retries follow the campaign's
// policy (no_answer=2@1h, busy=1@30m, voicemail=0, failed=0; 3 attempts at most).
var reportScript = []scriptedCall{
	{contact: 0, at: 0, kind: "capacity"},
	{contact: 0, at: time.Minute, reason: "customer-ended-call", duration: 125, cost: 0.31, eval: "true"},
	{contact: 1, at: time.Minute, reason: "customer-did-not-answer"},
	{contact: 2, at: 2 * time.Minute, kind: "not_created"},
	{contact: 3, at: 3 * time.Minute, reason: "voicemail", duration: 28, cost: 0.07, eval: "false"},
	{contact: 2, at: 4 * time.Minute, reason: "assistant-ended-call", duration: 65, cost: 0.18, eval: "Pass"},
	{contact: 4, at: 4 * time.Minute, reason: "customer-did-not-answer"},
	{contact: 5, at: 5 * time.Minute, reason: "customer-busy"},
	{contact: 6, at: 6 * time.Minute, reason: "call.in-progress.error-providerfault-outbound-sip-503-service-unavailable", cost: 0.02},
	{contact: 7, at: 7 * time.Minute, reason: "customer-ended-call", duration: 340, cost: 0.8, eval: "true"},
	{contact: 9, at: 9 * time.Minute, reason: "customer-ended-call", duration: 48, cost: 0.12, eval: "false",
		structured: `{"do_not_call": true}`},
	{contact: 5, at: 40 * time.Minute, reason: "customer-ended-call", duration: 95, cost: 0.25, eval: "true"},
	{contact: 1, at: 65 * time.Minute, reason: "assistant-ended-call", duration: 200, cost: 0.45, eval: "false"},
	{contact: 4, at: 70 * time.Minute, reason: "customer-did-not-answer"},
	{contact: 8, at: 99 * time.Minute, reason: "twilio-failed-to-connect-call"},
	{contact: 4, at: 135 * time.Minute, reason: "customer-did-not-answer"},
	{contact: 11, at: 140 * time.Minute, reason: "customer-ended-call", duration: 700, cost: 1.6, eval: "true"},
}

// reportFixture builds the fixture campaign "fx" deterministically: the suppression list, the
// import (by dry run), then the scripted calls through the Store with fixed times. Contact 11
// (line 12) is put on the do-not-call list after the import. With finished, every call is
// made and the campaign completes; otherwise the script stops at reportRunningNow: a call is
// live, a contact awaits its retry, one was never called. b.now is the report's clock.
func reportFixture(t *testing.T, finished bool) (*testBundle, int64) {
	t.Helper()
	b := setup(t)
	dir := t.TempDir()
	file := copyFile(t, reportFixtureCSV, dir)
	require.Equal(t, exitOK, b.run(t, "suppress", "add", "+12015550199", "--reason", "complaint"), "stderr: %s", b.stderr)
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "fx", "--window", "always", "--max-attempts", "3", "--rate", "0",
		"--retry", "no_answer=2@1h, busy=1@30m, voicemail=0, failed=0", "--assistant-id", "asst-fx",
		"--phone-number-id", "pn-fx", "--rejects", filepath.Join(dir, "customers.rejects.csv"), "--preview", "0"),
		"stderr: %s", b.stderr)

	ctx := context.Background()
	pool := b.pool(t)
	store := campaign.NewStore(pool)
	var id int64
	require.NoError(t, pool.QueryRow(ctx, `
		UPDATE campaign SET created_at = $1, source_file = 'customers.csv',
			import_stats = jsonb_set(import_stats, '{rejects_file}', '"customers.rejects.csv"')
		WHERE name = 'fx' RETURNING id`, reportT0.Add(-10*time.Minute)).Scan(&id))
	require.NoError(t, store.Start(ctx, id, reportT0), "started")
	fixtureRunner(t, store, id)
	contacts, err := store.Contacts(ctx, id, 100)
	require.NoError(t, err)
	require.Len(t, contacts, 12)
	_, err = store.AddSuppressions(ctx, []campaign.Suppression{{Phone: contacts[10].Phone, Reason: "complaint", Source: "cli"}}, reportT0)
	require.NoError(t, err)

	end := reportT0.Add(24 * time.Hour)
	if !finished {
		end = reportRunningNow
	}
	for i, sc := range reportScript {
		at := reportT0.Add(sc.at)
		if at.After(end) {
			continue
		}
		contactID := contacts[sc.contact].ID
		_, err := pool.Exec(ctx, `
			WITH c AS (UPDATE contact SET state = 'queued' WHERE id = $2 AND state = 'pending' RETURNING 1)
			UPDATE campaign SET queued_contacts = queued_contacts + (SELECT count(*) FROM c) WHERE id = $1`, id, contactID)
		require.NoError(t, err)
		g, err := store.BeginAttempt(ctx, contactID, at)
		require.NoError(t, err)
		require.NotNil(t, g.Attempt, "call %d refused: %s", i, g.Refusal)
		callID := fmt.Sprintf("call-%02d", i)
		switch sc.kind {
		case "not_created":
			require.NoError(t, store.CallNotCreated(ctx, g.Attempt.ID, campaign.NotCreatedRetryable, "",
				"vapi 503: Service Unavailable", at.Add(time.Minute), at))
			continue
		case "capacity":
			require.NoError(t, store.CallCreated(ctx, g.Attempt.ID, callID, at, at))
			_, err := store.ApplyResult(ctx, campaign.CallResult{CallID: callID,
				EndedReason: "call.start.error-subscription-concurrency-limit-reached"}, at.Add(time.Second))
			require.NoError(t, err)
			continue
		}
		require.NoError(t, store.CallCreated(ctx, g.Attempt.ID, callID, at, at))
		res := campaign.CallResult{CallID: callID, EndedReason: sc.reason, SuccessEvaluation: sc.eval}
		started := at.Add(10 * time.Second)
		ended := at.Add(30 * time.Second)
		if sc.duration > 0 {
			ended = started.Add(time.Duration(sc.duration * float64(time.Second)))
			res.StartedAt, res.DurationSeconds = &started, &sc.duration
			res.Summary = "The assistant spoke with the customer."
			res.CostBreakdown = json.RawMessage(fmt.Sprintf(`{"transport": %.4f, "stt": %.4f, "llm": %.4f, "tts": %.4f,
				"vapi": %.4f, "analysisCostBreakdown": {"summary": %.4f}}`, sc.cost*0.1, sc.cost*0.15, sc.cost*0.2, sc.cost*0.1,
				sc.cost*0.42, sc.cost*0.03))
		}
		res.EndedAt = &ended
		cost := sc.cost
		res.Cost = &cost
		if sc.structured != "" {
			res.StructuredData = json.RawMessage(sc.structured)
		}
		reported := ended.Add(5 * time.Second)
		if reported.After(end) {
			continue // still live
		}
		_, err = store.ApplyResult(ctx, res, reported)
		require.NoError(t, err)
	}
	b.now = end
	if finished {
		b.now = reportT0.Add(3 * time.Hour)
	}
	return b, id
}

// checkGolden compares got with testdata/report/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "report", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run TestReport -update to write it")
	require.Equal(t, string(want), string(got), "golden file %s (go test -run TestReport -update rewrites it)", path)
}

func decodeJSONReport(t *testing.T, data []byte) reports.Report {
	t.Helper()
	var r reports.Report
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&r), "%s", data)
	return r
}

func TestReportFinished(t *testing.T) {
	b, _ := reportFixture(t, true)
	for _, format := range []string{"text", "json", "csv"} {
		require.Equal(t, exitOK, b.run(t, "report", "fx", "--format", format), "stderr: %s", b.stderr)
		require.Empty(t, b.stderr.String())
		ext := map[string]string{"text": "txt", "json": "json", "csv": "csv"}[format]
		checkGolden(t, "finished."+ext, b.stdout.Bytes())
	}
	require.Equal(t, exitOK, b.run(t, "report", "fx", "--format", "json"))
	r := decodeJSONReport(t, b.stdout.Bytes())
	require.Equal(t, 1, r.SchemaVersion)
	require.Equal(t, "completed", r.Campaign.Status)
	require.Nil(t, r.Progress, "a finished campaign has no progress section")
	require.Nil(t, r.Analytics)
	funnel := map[string]int{}
	for _, s := range r.Funnel {
		funnel[s.Stage] = s.Contacts
	}
	// 12 contacts; 11 called (line 11 was suppressed first); 7 reached a person; 5 successful
	// (true, Pass, true, true, true).
	require.Equal(t, map[string]int{"contacts": 12, "dialed": 11, "connected": 7, "successful": 5}, funnel)
	require.Equal(t, 15, r.EndedReasons.Calls, "17 attempts, less the capacity refusal and the one never created")
	require.Equal(t, reports.Suppressions{RejectedAtImport: 1, StoppedBeforeCall: 1, AskedInCall: 1}, r.Suppressions)
	require.Equal(t, map[string]int{"invalid_phone": 1, "duplicate_phone": 1, "suppressed": 1, "missing_phone": 1},
		r.Import.RejectedByReason)
	yields := make([][3]int, len(r.Attempts))
	for i, a := range r.Attempts {
		yields[i] = [3]int{a.Attempt, a.Calls, a.ConnectedCalls}
	}
	require.Equal(t, [][3]int{{1, 11, 5}, {2, 3, 2}, {3, 1, 0}}, yields)
	require.InDelta(t, 3.8, r.Cost.TotalUSD, 1e-9)
	require.InDelta(t, 3.8/7, *r.Cost.PerConnectedCallUSD, 1e-4)
	require.InDelta(t, 3.8/5, *r.Cost.PerSuccessUSD, 1e-4)
	require.Equal(t, 7, r.Duration.ConnectedCalls)
	require.Len(t, r.Hours.ByHour, 24)
	// Asia/Kolkata is UTC+5:30: the 14:06 UTC call is at 19:36 there.
	require.Equal(t, 1, r.Hours.ByHour[19].Calls)

	// HTML: one self-contained page with every chart's marks.
	path := filepath.Join(t.TempDir(), "fx.html")
	require.Equal(t, exitOK, b.run(t, "report", "fx", "--format", "html", "-o", path), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Wrote the report of campaign fx to "+path)
	require.Empty(t, b.stdout.String())
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	requireSelfContained(t, page)
	t.Run("in Chromium", func(t *testing.T) { checkInBrowser(t, []browserPage{{path: path, marks: reports.ChartMarks(&r)}}) })
}

func TestReportRunning(t *testing.T) {
	b, _ := reportFixture(t, false)
	for _, format := range []string{"text", "json", "csv"} {
		require.Equal(t, exitOK, b.run(t, "report", "fx", "--format", format), "stderr: %s", b.stderr)
		ext := map[string]string{"text": "txt", "json": "json", "csv": "csv"}[format]
		checkGolden(t, "running."+ext, b.stdout.Bytes())
	}
	require.Equal(t, exitOK, b.run(t, "report", "fx"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "Progress (running): 9 of 12 contacts final (75.0%)")
	require.Contains(t, b.stdout.String(), "estimated finish 2026-11-20 16:12 UTC (at the pace so far)")

	require.Equal(t, exitOK, b.run(t, "report", "fx", "--format", "json"))
	r := decodeJSONReport(t, b.stdout.Bytes())
	p := r.Progress
	require.NotNil(t, p)
	require.Equal(t, "running", p.Status)
	require.Equal(t, 9, p.Final)
	require.Equal(t, 3, p.Remaining)
	require.Equal(t, 1, p.NeverCalled, "line 12")
	require.Equal(t, 1, p.AwaitingRetry, "line 5, after two unanswered calls")
	require.Equal(t, 1, p.LiveCalls, "line 9's call")
	require.NotNil(t, p.EstimatedFinish)
	// 9 contacts final in 99m10s since the first call: 5.45 an hour; 3 more take 33 minutes.
	require.Equal(t, time.Date(2026, 11, 20, 16, 12, 0, 0, time.UTC), *p.EstimatedFinish)
	require.Equal(t, time.Date(2026, 11, 20, 16, 10, 35, 0, time.UTC), *p.LastScheduled,
		"line 5's retry: an hour after its second call's result (15:10:35)")

	// The export works on the running campaign too, and says it is not finished.
	require.Equal(t, exitOK, b.run(t, "export", "fx"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Note: campaign fx is still running: 3 of 12 contacts are not final yet (1 calls live)")
	require.Len(t, readCSVBytes(t, b.stdout.Bytes()), 1+12)

	path := filepath.Join(t.TempDir(), "running.html")
	require.Equal(t, exitOK, b.run(t, "report", "fx", "--format", "html", "-o", path), "stderr: %s", b.stderr)
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(page), `id="progress"`)
	require.Contains(t, string(page), "Estimated finish 2026-11-20 16:12 UTC")
	requireSelfContained(t, page)
	t.Run("in Chromium", func(t *testing.T) { checkInBrowser(t, []browserPage{{path: path, marks: reports.ChartMarks(&r)}}) })
}

// TestReportSimulated runs a campaign on the built-in simulator to the end and reports it: the
// report's figures agree with the database, and --analytics explains that a simulated
// campaign's calls are gone.
func TestReportSimulated(t *testing.T) {
	b := setup(t)
	b.realClock = true
	file := copyFile(t, exportFixture, t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "--rate", "0", "--name", "sim",
		"--allow-missing-variables"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "8 of 8 contacts final")

	require.Equal(t, exitOK, b.run(t, "report", "sim", "--format", "json"), "stderr: %s", b.stderr)
	r := decodeJSONReport(t, b.stdout.Bytes())
	ctx := context.Background()
	pool := b.pool(t)
	var contacts, dialed, connected, calls int
	var cost float64
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM contact), count(DISTINCT contact_id),
		       count(DISTINCT contact_id) FILTER (WHERE outcome = 'completed'), count(*), sum(cost)::float8
		FROM attempt WHERE state <> 'not_created' AND outcome <> 'capacity'`).Scan(&contacts, &dialed, &connected, &calls, &cost))
	require.Equal(t, []int{contacts, dialed, connected}, []int{r.Funnel[0].Contacts, r.Funnel[1].Contacts, r.Funnel[2].Contacts})
	require.Equal(t, 8, dialed)
	require.Equal(t, 4, connected, "the magic numbers 0100-0103 (0130's voicemail is no person)")
	require.Equal(t, calls, r.EndedReasons.Calls)
	require.InDelta(t, cost, r.Cost.TotalUSD, 1e-4)
	hourCalls := r.Hours.UnknownCalls
	for _, h := range r.Hours.ByHour {
		hourCalls += h.Calls
	}
	require.Equal(t, calls, hourCalls)
	require.Equal(t, "simulated", r.Campaign.Mode)

	require.Equal(t, exitOK, b.run(t, "report", "sim", "--analytics"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "Vapi analytics: not available. campaign sim ran on the built-in simulator")
	require.Contains(t, b.stderr.String(), "Note: Vapi analytics not available")

	path := filepath.Join(t.TempDir(), "sim.html")
	require.Equal(t, exitOK, b.run(t, "report", "sim", "--format", "html", "-o", path), "stderr: %s", b.stderr)
	t.Run("in Chromium", func(t *testing.T) { checkInBrowser(t, []browserPage{{path: path, marks: reports.ChartMarks(&r)}}) })

	require.Equal(t, exitOK, b.run(t, "export", "sim"), "stderr: %s", b.stderr)
	require.Len(t, readCSVBytes(t, b.stdout.Bytes()), 1+8)
}

// analyticsFixture runs campaign "an" (the export fixture's eight magic numbers) on an
// in-process simulator on a fake clock: every call is placed and recorded through the Store as
// the runner would, and one more call carrying the campaign's variable is placed that the
// runner never recorded. It returns the simulator's URL; b.now is after the calls ended.
func analyticsFixture(t *testing.T) (*testBundle, string) {
	t.Helper()
	b := setup(t)
	t0 := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	clock := vapitest.NewFakeClock(t0)
	sim := vapitest.New(vapitest.Config{Clock: clock, Seed: 9})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	file := copyFile(t, exportFixture, t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "an", "--window", "always", "--retry", "none", "--rate", "0",
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-an", "--preview", "0"), "stderr: %s", b.stderr)
	ctx := context.Background()
	pool := b.pool(t)
	store := campaign.NewStore(pool)
	var id int64
	require.NoError(t, pool.QueryRow(ctx, `UPDATE campaign SET created_at = $1, source_file = 'customers.csv' WHERE name = 'an'
		RETURNING id`, t0).Scan(&id))
	require.NoError(t, store.Start(ctx, id, t0))
	fixtureRunner(t, store, id)
	c, err := store.Campaign(ctx, id)
	require.NoError(t, err)
	contacts, err := store.Contacts(ctx, id, 100)
	require.NoError(t, err)
	client, err := vapi.NewClient(vapitest.DefaultAPIKey, &vapi.Config{BaseURL: srv.URL})
	require.NoError(t, err)

	var callIDs []string
	for i := range contacts {
		ct := &contacts[i]
		_, err := pool.Exec(ctx, `
			WITH c AS (UPDATE contact SET state = 'queued' WHERE id = $2 RETURNING 1)
			UPDATE campaign SET queued_contacts = queued_contacts + (SELECT count(*) FROM c) WHERE id = $1`, id, ct.ID)
		require.NoError(t, err)
		g, err := store.BeginAttempt(ctx, ct.ID, t0)
		require.NoError(t, err)
		require.NotNil(t, g.Attempt, "refused: %s", g.Refusal)
		dto, err := jobs.CreateCallRequest(c, ct, g.Attempt.Number)
		require.NoError(t, err)
		call, err := client.CreateCall(ctx, dto)
		require.NoError(t, err)
		require.NoError(t, store.CallCreated(ctx, g.Attempt.ID, call.ID, call.CreatedAt, t0))
		callIDs = append(callIDs, call.ID)
	}
	// A call of the campaign that the runner never recorded (say, placed by a process that died
	// before it could journal the call id): 0104 is a completed call.
	ghost, err := jobs.CreateCallRequest(c, &campaign.Contact{ID: 1 << 40, Phone: "+12015550104", Name: "Ghost"}, 1)
	require.NoError(t, err)
	_, err = client.CreateCall(ctx, ghost)
	require.NoError(t, err)

	clock.Advance(30 * time.Minute) // every call plays out
	for _, callID := range callIDs {
		call, err := client.GetCall(ctx, callID)
		require.NoError(t, err)
		require.Equal(t, vapi.CallStatusEnded, call.Status)
		_, err = store.ApplyResult(ctx, jobs.ResultFromCall(call), t0.Add(30*time.Minute))
		require.NoError(t, err)
	}
	b.now = t0.Add(31 * time.Minute)
	return b, srv.URL
}

func TestReportAnalytics(t *testing.T) {
	b, simURL := analyticsFixture(t)
	b.env[envAPIKey] = vapitest.DefaultAPIKey
	require.Equal(t, exitOK, b.run(t, "report", "an", "--analytics", "--vapi-base-url", simURL, "--format", "json"),
		"stderr: %s", b.stderr)
	require.Empty(t, b.stderr.String())
	r := decodeJSONReport(t, b.stdout.Bytes())
	a := r.Analytics
	require.NotNil(t, a)
	require.True(t, a.Available, a.Note)
	require.Empty(t, a.Note)
	require.Equal(t, reports.MatchedByVariable, a.Query.MatchedBy)
	require.Equal(t, jobs.CampaignVariable, a.Query.GroupVariable)
	require.Equal(t, 8, a.Totals.Local.Calls)
	require.Equal(t, 9, a.Totals.Vapi.Calls, "the ghost call too")
	require.Equal(t, []string{reports.FlagCallsDiffer, reports.FlagCostDiffers}, a.Totals.Flags)
	require.Contains(t, a.Differences, "Vapi reports 9 calls, the runner recorded 8: 1 call that Vapi knows and the runner never recorded.")

	// Group by group, only the ghost's group differs: its ended reason and its evaluation.
	var differ []string
	for _, row := range a.ByEndedReason {
		if len(row.Flags) > 0 {
			differ = append(differ, "reason "+row.Key)
			require.Equal(t, row.Local.Calls+1, row.Vapi.Calls, row.Key)
			continue
		}
		require.Equal(t, row.Local.Calls, row.Vapi.Calls, row.Key)
		require.InDelta(t, row.Local.CostUSD, row.Vapi.CostUSD, 1e-4, row.Key)
		if row.Vapi.AvgDurationSeconds != nil { // Vapi times answered calls only; the runner also times the ringing
			require.InDelta(t, *row.Vapi.AvgDurationSeconds, *row.Local.AvgDurationSeconds, 0.1, row.Key)
		}
	}
	for _, row := range a.BySuccessEvaluation {
		if len(row.Flags) > 0 {
			differ = append(differ, "evaluation "+row.Key)
			require.Equal(t, row.Local.Calls+1, row.Vapi.Calls, row.Key)
			continue
		}
		require.Equal(t, row.Local.Calls, row.Vapi.Calls, "evaluation %q", row.Key)
	}
	require.Len(t, differ, 2, "%v", differ)
	reasons := map[string]bool{}
	for _, row := range a.ByEndedReason {
		reasons[row.Key] = true
	}
	for _, want := range []string{"customer-did-not-answer", "customer-busy", "voicemail"} {
		require.True(t, reasons[want], "%s in %v", want, reasons)
	}

	checkGolden(t, "analytics.json", b.stdout.Bytes())
	require.Equal(t, exitOK, b.run(t, "report", "an", "--analytics", "--vapi-base-url", simURL), "stderr: %s", b.stderr)
	checkGolden(t, "analytics.txt", b.stdout.Bytes())
	require.Contains(t, b.stdout.String(), "Vapi analytics (POST /analytics, 2026-11-23 14:59 UTC to 2026-11-23 15:32 UTC, calls matched by the variable _campaign)")
	require.Contains(t, b.stdout.String(), "  in all: runner 8 calls")
	require.Contains(t, b.stdout.String(), "- Vapi reports 9 calls, the runner recorded 8: 1 call that Vapi knows and the runner never recorded.")

	// The HTML shows the comparison and passes the browser check.
	path := filepath.Join(t.TempDir(), "an.html")
	require.Equal(t, exitOK, b.run(t, "report", "an", "--analytics", "--vapi-base-url", simURL, "--format", "html", "-o", path),
		"stderr: %s", b.stderr)
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(page), `id="analytics"`)
	require.Contains(t, string(page), "1 call that Vapi knows and the runner never recorded")
	t.Run("in Chromium", func(t *testing.T) { checkInBrowser(t, []browserPage{{path: path, marks: reports.ChartMarks(&r)}}) })

	t.Run("401", func(t *testing.T) {
		b.env[envAPIKey] = "not-the-key"
		t.Cleanup(func() { b.env[envAPIKey] = vapitest.DefaultAPIKey })
		require.Equal(t, exitOK, b.run(t, "report", "an", "--analytics", "--vapi-base-url", simURL, "--format", "json"),
			"stderr: %s", b.stderr)
		r := decodeJSONReport(t, b.stdout.Bytes())
		require.False(t, r.Analytics.Available)
		require.Contains(t, r.Analytics.Note, "Vapi refused the analytics query (HTTP 401 Unauthorized")
		require.Contains(t, r.Analytics.Note, "this API key cannot read analytics")
		require.Contains(t, b.stderr.String(), "Note: Vapi analytics not available: Vapi refused the analytics query (HTTP 401")
		require.Equal(t, 8, r.Funnel[0].Contacts, "the local figures are all there")
	})

	t.Run("403", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"Forbidden resource","error":"Forbidden","statusCode":403}`))
		}))
		t.Cleanup(srv.Close)
		require.Equal(t, exitOK, b.run(t, "report", "an", "--analytics", "--vapi-base-url", srv.URL), "stderr: %s", b.stderr)
		require.Contains(t, b.stdout.String(), "Vapi analytics: not available. Vapi refused the analytics query "+
			"(HTTP 403 Forbidden: Forbidden resource): this API key cannot read analytics")
	})

	t.Run("5xx is an error", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"message":"Internal server error","statusCode":500}`, http.StatusInternalServerError)
		}))
		t.Cleanup(srv.Close)
		require.Equal(t, exitError, b.run(t, "report", "an", "--analytics", "--vapi-base-url", srv.URL))
		require.Contains(t, b.stderr.String(), "500 Internal Server Error")
		require.Contains(t, b.stderr.String(), "run without --analytics for the runner's figures alone")
		require.Empty(t, b.stdout.String())
	})
}

// TestReportDraft reports a draft, and refuses what needs the campaign to be known (the flags
// alone: TestReportFlags).
func TestReportDraft(t *testing.T) {
	b := setup(t)
	require.Equal(t, exitOK, b.run(t, "run", copyFile(t, reportFixtureCSV, t.TempDir()), "--dry-run", "--name", "d",
		"--preview", "0"), "stderr: %s", b.stderr)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report", "d", "--analytics"}, exitUsage, "--analytics needs VAPI_API_KEY"},
		{[]string{"report", "nope"}, exitError, `no campaign "nope"`},
	} {
		require.Equal(t, tt.code, b.run(t, tt.args...), "%v: %s", tt.args, b.stderr)
		require.Contains(t, b.stderr.String(), tt.want, "%v", tt.args)
		require.Empty(t, b.stdout.String(), "%v", tt.args)
	}

	// A draft: nobody called, no estimate; the -o file is written whole or not at all.
	require.Equal(t, exitOK, b.run(t, "report", "d"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "Progress (draft): 0 of 13 contacts final")
	require.Contains(t, b.stdout.String(), "no estimate (the campaign has not been started)")
	missing := filepath.Join(t.TempDir(), "no-such-dir", "r.html")
	require.Equal(t, exitError, b.run(t, "report", "d", "--format", "html", "-o", missing))
	_, err := os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// requireSelfContained checks that an HTML report needs nothing from elsewhere: no script, no
// stylesheet or image by URL, and a viewport for phones.
func requireSelfContained(t *testing.T, page []byte) {
	t.Helper()
	s := string(page)
	require.Contains(t, s, `<meta name="viewport" content="width=device-width, initial-scale=1">`)
	for _, bad := range []string{"<script", "src=", "http://", "https://", "@import", "url("} {
		require.NotContains(t, s, bad)
	}
}

// browserPage is a page for checkInBrowser and the marks its charts must have.
type browserPage struct {
	path  string
	marks map[string]int
}

// chromiumInstall is how to install what the browser check needs, one line per platform, as
// the README's prerequisites say.
const chromiumInstall = "Debian/Ubuntu: sudo apt-get install -y chromium (Ubuntu: chromium-browser); " +
	"macOS: brew install --cask google-chrome"

// chromiumCandidates are the names and paths findChromium tries, in order: Debian's and
// Ubuntu's packages, Google Chrome on Linux, and the macOS applications.
var chromiumCandidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
	"/Applications/Chromium.app/Contents/MacOS/Chromium", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"}

// findChromium returns the path of a Chromium (or Chrome) the browser check can drive: CHROMIUM
// when set (as for `make report-screenshot`), else the first of chromiumCandidates found.
func findChromium(getenv func(string) string, lookPath func(string) (string, error)) (string, error) {
	if p := getenv("CHROMIUM"); p != "" {
		found, err := lookPath(p)
		if err != nil {
			return "", fmt.Errorf("CHROMIUM=%s: %w", p, err)
		}
		return found, nil
	}
	for _, name := range chromiumCandidates {
		if p, err := lookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("Chromium is not installed, and `make test` checks the HTML report in headless Chromium; install it (" +
		chromiumInstall + "), or set CHROMIUM to a Chromium or Chrome binary")
}

func TestFindChromium(t *testing.T) {
	t.Parallel()
	// on is a lookPath that finds exactly the given names.
	on := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			if slices.Contains(names, name) {
				return "/found/" + filepath.Base(name), nil
			}
			return "", exec.ErrNotFound
		}
	}
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}

	_, err := findChromium(env(), on())
	require.ErrorContains(t, err, "sudo apt-get install -y chromium", "a missing browser fails, naming the install line")
	require.ErrorContains(t, err, "brew install --cask google-chrome")

	for _, name := range chromiumCandidates {
		p, err := findChromium(env(), on(name))
		require.NoError(t, err, name)
		require.Equal(t, "/found/"+filepath.Base(name), p)
	}
	p, err := findChromium(env("CHROMIUM", "/opt/chrome/chrome"), on("chromium", "/opt/chrome/chrome"))
	require.NoError(t, err)
	require.Equal(t, "/found/chrome", p, "CHROMIUM wins")
	_, err = findChromium(env("CHROMIUM", "/nope"), on("chromium"))
	require.ErrorContains(t, err, "CHROMIUM=/nope")
}

// chromiumPath finds Chromium, or fails the test saying how to install it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p, err := findChromium(os.Getenv, exec.LookPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkInBrowser loads each page in headless Chromium at a phone's size and checks that it
// loads without console errors, exceptions or failed requests, fetches nothing but itself, fits
// the phone's width, and has the expected marks in each chart. It first checks that a broken
// page does fail these checks.
func checkInBrowser(t *testing.T, pages []browserPage) {
	t.Helper()
	path := chromiumPath(t)
	// A bound for a stuck browser, not a timing assertion.
	parent, cancelParent := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelParent()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	require.NoError(t, chromedp.Do(browser), "start %s", path)

	broken := filepath.Join(t.TempDir(), "broken.html")
	require.NoError(t, os.WriteFile(broken, []byte(`<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width">
		<title>broken</title></head><body><script>console.error("boom")</script><img src="missing.png"></body></html>`), 0o644))
	res := loadPage(t, browser, broken)
	require.Contains(t, strings.Join(res.problems, "\n"), "console error: boom", "the check sees console errors")
	require.Contains(t, strings.Join(res.problems, "\n"), "missing.png", "the check sees failed and extra requests")

	for _, p := range pages {
		res := loadPage(t, browser, p.path)
		require.Empty(t, res.problems, "%s", p.path)
		require.True(t, res.Viewport, "a viewport meta for phones")
		require.LessOrEqual(t, res.ScrollWidth, res.InnerWidth, "the page fits a phone's width")
		require.Equal(t, p.marks, res.Marks, "marks per chart")
	}
}

// pageResult is what loadPage saw.
type pageResult struct {
	problems    []string
	Marks       map[string]int `json:"marks"`
	Viewport    bool           `json:"viewport"`
	ScrollWidth int            `json:"scrollWidth"`
	InnerWidth  int            `json:"innerWidth"`
}

// loadPage opens file in a new tab of browser at 390×844 (a phone) and reports console errors,
// exceptions, failed requests and requests for anything but the page, then the page's marks.
func loadPage(t *testing.T, browser context.Context, file string) pageResult {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	url := "file://" + file
	var (
		mu       sync.Mutex
		problems []string
	)
	note := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	require.NoError(t, chromedp.Listen(tab, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, strings.Trim(string(a.Value), `"`))
				}
				note("console error: %s", strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			note("exception: %s", ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				note("log error: %s %s", ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; u != url && !strings.HasPrefix(u, "data:") {
				note("request for something else than the page: %s", u)
			}
		case *network.EventLoadingFailed:
			note("failed request %s: %s", ev.RequestID, ev.ErrorText)
		}
	}))
	require.NoError(t, chromedp.Do(tab, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(url)))
	raw, err := chromedp.Run(tab, chromedp.Evaluate[[]byte](`(() => {
		const marks = {};
		for (const svg of document.querySelectorAll('svg[data-chart]')) {
			marks[svg.dataset.chart] = svg.querySelectorAll('[data-mark]').length;
		}
		return {
			marks,
			viewport: !!document.querySelector('meta[name="viewport"][content*="width=device-width"]'),
			scrollWidth: document.documentElement.scrollWidth,
			innerWidth: window.innerWidth,
		};
	})()`))
	require.NoError(t, err)
	var res pageResult
	require.NoError(t, json.Unmarshal(raw, &res), "%s", raw)
	mu.Lock()
	res.problems = append([]string(nil), problems...)
	mu.Unlock()
	return res
}
