package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/reports/export"
)

// TestRunSimulate is the README's demo: the whole loop (import, dial, webhooks, results) on the
// built-in simulator, ending with every contact final, a summary and a results file.
func TestRunSimulate(t *testing.T) {
	b := setup(t)
	b.realClock = true // calls, webhooks and the reconciler run on real time
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	out := filepath.Join(dir, "results.csv")

	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "-o", out, "--rate", "0")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "9 of 9 contacts final")
	require.Contains(t, b.stderr.String(), "Simulating Vapi")

	rows := readCSV(t, out)
	require.Len(t, rows, 1+9)
	header := rows[0]
	require.Equal(t, []string{"phone", "name", "first_name", "amount_due", "due_date", "customer_id", "timezone"}, header[:7])
	require.Contains(t, header, export.ColOutcome)
	state := slices.Index(header, export.ColState)
	callID := slices.Index(header, export.ColVapiCallID)
	for _, r := range rows[1:] {
		require.Contains(t, []string{"completed", "failed"}, r[state], "row %v", r)
		require.NotEmpty(t, r[callID], "every contact was called: %v", r)
	}
}

// TestRunSimulateRetriesAndFollowUps runs a campaign whose numbers force their outcomes
// (vapitest's magic numbers) with a retry policy, on simulated time (x1200: a 1 m delay is
// 50 ms, a 2 h callback 6 s). Each contact is called as often as its outcome's rule and the
// attempt cap allow, a person who asks not to be called is suppressed with the call as evidence,
// and a callback is honoured until the cap.
func TestRunSimulateRetriesAndFollowUps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	dir := t.TempDir()
	file := filepath.Join(dir, "follow-ups.csv")
	require.NoError(t, os.WriteFile(file, []byte(`phone,name
+12015550100,Ann Completed
+12015550110,Bob NoAnswer
+12015550111,Cy NoAnswer
+12015550120,Di Busy
+12015550150,Ed StartError
+12015550108,Flo DoNotCall
+12015550109,Gus Callback
`), 0o600))

	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "1200", "--rate", "0", "--name", "follow-ups",
		"--retry", "no_answer=2@1m, busy=1@1m*2, failed=3@1m", "--max-attempts", "3", "--allow-missing-variables")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "7 of 7 contacts final")

	pool := b.pool(t)
	ctx := context.Background()
	rows, err := pool.Query(ctx, `
		SELECT ct.phone, ct.state, ct.outcome,
			count(a.id) FILTER (WHERE a.state = 'ended' AND a.outcome <> 'capacity')::int,
			coalesce(string_agg(a.decision, ' | ' ORDER BY a.number), '')
		FROM contact ct LEFT JOIN attempt a ON a.contact_id = ct.id
		GROUP BY ct.id ORDER BY ct.line`)
	require.NoError(t, err)
	type result struct {
		state, outcome string
		calls          int
		decisions      string
	}
	got := map[string]result{}
	for rows.Next() {
		var phone string
		var r result
		require.NoError(t, rows.Scan(&phone, &r.state, &r.outcome, &r.calls, &r.decisions))
		got[phone] = r
	}
	require.NoError(t, rows.Err())
	want := map[string]struct {
		state string
		calls int
	}{
		"+12015550100": {"completed", 1},
		"+12015550110": {"failed", 3}, // 1 + 2 no_answer retries
		"+12015550111": {"failed", 3},
		"+12015550120": {"failed", 2}, // 1 + 1 busy retry
		"+12015550150": {"failed", 1}, // a start error is permanent: never retried
		"+12015550108": {"do_not_call", 1},
		"+12015550109": {"completed", 3}, // callbacks until the attempt cap
	}
	for phone, w := range want {
		require.Equal(t, w.state, got[phone].state, "%s: %+v", phone, got[phone])
		require.Equal(t, w.calls, got[phone].calls, "%s: %+v", phone, got[phone])
	}
	require.Contains(t, got["+12015550109"].decisions, "callback asked for")
	require.Contains(t, got["+12015550110"].decisions, "no_answer: retries exhausted (2 of 2)")

	// A simulated "do not call" reached nobody: the contact is done, but the shared list that
	// real campaigns read stays as it was.
	require.Contains(t, got["+12015550108"].decisions, "simulated: not added to the suppression list")
	var suppressed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM suppression`).Scan(&suppressed))
	require.Zero(t, suppressed, "a simulated answer wrote the suppression list")
}

// TestRunSimulateCallTimesWithinTheCampaign: the simulator stamps calls with real time, so in a
// simulated campaign's export every call starts after the campaign started and ends before it
// finished, while the calls' durations stay the simulated ones (a conversation lasts 30 s or more,
// although at x1200 it is over in a fraction of a second).
func TestRunSimulateCallTimesWithinTheCampaign(t *testing.T) {
	b := setup(t)
	b.realClock = true
	runExportCampaign(t, b, "times")

	require.Equal(t, exitOK, b.run(t, "report", "times", "--format", "json"), "stderr: %s", b.stderr)
	var times struct {
		Campaign struct {
			StartedAt  *time.Time `json:"started_at"`
			FinishedAt *time.Time `json:"finished_at"`
		} `json:"campaign"`
	}
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &times), "%s", b.stdout)
	require.NotNil(t, times.Campaign.StartedAt)
	require.NotNil(t, times.Campaign.FinishedAt)
	// The export has whole seconds.
	start, finish := times.Campaign.StartedAt.Truncate(time.Second), *times.Campaign.FinishedAt

	require.Equal(t, exitOK, b.run(t, "export", "times", "--attempts", "--format", "jsonl"), "stderr: %s", b.stderr)
	var calls, conversations int
	for _, line := range strings.Split(strings.TrimSpace(b.stdout.String()), "\n") {
		var a struct {
			Outcome   string     `json:"outcome"`
			StartedAt *time.Time `json:"started_at_utc"`
			EndedAt   *time.Time `json:"ended_at_utc"`
			Duration  *float64   `json:"duration_seconds"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &a), line)
		if a.StartedAt != nil {
			calls++
			require.False(t, a.StartedAt.Before(start), "call started %s before the campaign %s: %s", a.StartedAt, start, line)
			require.NotNil(t, a.EndedAt, line)
			require.False(t, a.EndedAt.Before(*a.StartedAt), line)
		}
		if a.EndedAt != nil {
			require.False(t, a.EndedAt.After(finish), "call ended %s after the campaign finished %s: %s", a.EndedAt, finish, line)
		}
		if a.Outcome == "completed" {
			conversations++
			require.NotNil(t, a.Duration, line)
			require.GreaterOrEqual(t, *a.Duration, 30.0, "a simulated conversation lasts 30 s or more: %s", line)
		}
	}
	require.Positive(t, calls)
	require.Positive(t, conversations)
}
