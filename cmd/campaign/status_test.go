package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// runCtx is run with the given context and terminal flag, and stdout going to out.
func (b *testBundle) runCtx(t *testing.T, ctx context.Context, out *cancelAfter, isTerminal bool, args ...string) int {
	t.Helper()
	b.stderr.Reset()
	args = append(args, "--database-url", b.databaseURL())
	a := &app{
		in:         bytes.NewReader(nil),
		out:        out,
		errOut:     b.stderr,
		getenv:     func(k string) string { return b.env[k] },
		isTerminal: isTerminal,
		now:        func() time.Time { return b.now },
	}
	return execute(ctx, a, args)
}

// cancelAfter collects writes and cancels its context once marker has been written n times.
type cancelAfter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Count(w.buf.String(), w.marker) >= w.n {
		w.cancel()
	}
	return len(p), nil
}

func (w *cancelAfter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestListStatusReadOnlyOnUnmigratedSchema(t *testing.T) {
	b := setup(t)
	for _, args := range [][]string{{"list"}, {"status", "nov"}, {"status", "nov", "--watch", "--format", "json"}} {
		require.Equal(t, exitError, b.run(t, args...), "%v", args)
		require.Contains(t, b.stderr.String(), "schema is behind", "%v", args)
		require.Contains(t, b.stderr.String(), "run `campaign migrate`", "%v", args)
		require.Empty(t, b.stdout.String())
	}
	var tables int
	require.NoError(t, b.pool(t).QueryRow(context.Background(), `
		SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'campaign'`).
		Scan(&tables))
	require.Zero(t, tables, "a read-only command migrated nothing")
}

// statusFixture imports two campaigns by dry run: "old" (draft, untouched) and "nov", running
// with three attempts: one ended busy at $0.1234, one live, one not created ("vapi 400: bad
// number"), all placed a minute before b.now; and one webhook event that failed to apply.
func statusFixture(t *testing.T) (b *testBundle, oldID, novID int64) {
	t.Helper()
	b = setup(t)
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	for _, name := range []string{"old", "nov"} {
		require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", name, "--window", "always", "--retry", "none",
			"--assistant-id", "asst_1", "--phone-number-id", "pn_1", "--rejects", dir+"/"+name+".rejects.csv"),
			"stderr: %s", b.stderr)
	}
	ctx := context.Background()
	pool := b.pool(t)
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM campaign WHERE name = 'old'`).Scan(&oldID))
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM campaign WHERE name = 'nov'`).Scan(&novID))
	_, err := pool.Exec(ctx, `UPDATE campaign SET created_at = $2 WHERE id = $1`, oldID, b.now.Add(-48*time.Hour))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE campaign SET created_at = $2, status = 'running', rate_per_second = 0, max_concurrent = 5
		WHERE id = $1`, novID, b.now.Add(-time.Hour))
	require.NoError(t, err)
	var ids []int64
	rows, err := pool.Query(ctx, `SELECT id FROM contact WHERE campaign_id = $1 ORDER BY id LIMIT 3`, novID)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	_, err = pool.Exec(ctx, `
		WITH c AS (UPDATE contact SET state = 'queued' WHERE id = ANY($2) RETURNING 1)
		UPDATE campaign SET queued_contacts = (SELECT count(*) FROM c) WHERE id = $1`, novID, ids)
	require.NoError(t, err)

	store := campaign.NewStore(pool)
	fixtureRunner(t, store, novID)
	at := b.now.Add(-time.Minute)
	attempts := make([]*campaign.Attempt, len(ids))
	for i, id := range ids {
		g, err := store.BeginAttempt(ctx, id, at)
		require.NoError(t, err)
		require.NotNil(t, g.Attempt, "refused: %s", g.Refusal)
		attempts[i] = g.Attempt
	}
	cost := 0.1234
	require.NoError(t, store.CallCreated(ctx, attempts[0].ID, "call-0", at, at))
	_, err = store.ApplyResult(ctx, campaign.CallResult{CallID: "call-0", EndedReason: "customer-busy", Cost: &cost}, at)
	require.NoError(t, err)
	require.NoError(t, store.CallCreated(ctx, attempts[1].ID, "call-1", at, at))
	require.NoError(t, store.CallNotCreated(ctx, attempts[2].ID, campaign.NotCreatedPermanent, "", "vapi 400: bad number", time.Time{}, at))
	ev, err := store.SaveEvent(ctx, campaign.WebhookEvent{Type: "status-update", CallID: "call-1", Status: "in-progress",
		Payload: []byte(`{}`), ReceivedAt: at})
	require.NoError(t, err)
	require.NoError(t, store.MarkEventApplied(ctx, ev, "deadlock detected", at))
	ev, err = store.SaveEvent(ctx, campaign.WebhookEvent{Type: "status-update", CallID: "call-zzz", Status: "in-progress",
		Payload: []byte(`{}`), ReceivedAt: at})
	require.NoError(t, err)
	require.NoError(t, store.MarkEventApplied(ctx, ev, "unknown call", at))
	_, err = pool.Exec(ctx, `UPDATE campaign SET rate_per_second = 2.5 WHERE id = $1`, novID)
	require.NoError(t, err)
	return b, oldID, novID
}

func TestList(t *testing.T) {
	b, oldID, novID := statusFixture(t)

	require.Equal(t, exitOK, b.run(t, "list", "--format", "json"), "stderr: %s", b.stderr)
	require.Equal(t, 1, strings.Count(b.stdout.String(), "\n"), "one JSON array")
	var items []map[string]any
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &items), "stdout: %s", b.stdout)
	require.Equal(t, []map[string]any{
		{"id": float64(novID), "name": "nov", "status": "running", "contacts": float64(9), "final": float64(2),
			"live_calls": float64(1), "created_at": b.now.Add(-time.Hour).Format(time.RFC3339), "cost_usd": 0.1234},
		{"id": float64(oldID), "name": "old", "status": "draft", "contacts": float64(9), "final": float64(0),
			"live_calls": float64(0), "created_at": b.now.Add(-48 * time.Hour).Format(time.RFC3339), "cost_usd": float64(0)},
	}, items)

	require.Equal(t, exitOK, b.run(t, "list"), "stderr: %s", b.stderr)
	lines := strings.Split(strings.TrimRight(b.stdout.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, []string{"ID", "NAME", "STATUS", "CONTACTS", "FINAL", "LIVE", "CREATED", "COST"}, strings.Fields(lines[0]))
	nov := strings.Fields(lines[1])
	require.Equal(t, []string{itoa(novID), "nov", "running", "9", "2", "1"}, nov[:6])
	require.Equal(t, "$0.12", nov[len(nov)-1])
	require.Contains(t, lines[1], formatTime(b.now.Add(-time.Hour)))
	old := strings.Fields(lines[2])
	require.Equal(t, []string{itoa(oldID), "old", "draft", "9", "0", "0"}, old[:6])
	require.Equal(t, "$0.00", old[len(old)-1])
	// Aligned: every column starts at the same offset on every line.
	require.Equal(t, strings.Index(lines[0], "STATUS"), strings.Index(lines[1], "running"))
	require.Equal(t, strings.Index(lines[0], "STATUS"), strings.Index(lines[2], "draft"))

}

func TestListEmpty(t *testing.T) {
	b := setup(t)
	require.Equal(t, exitOK, b.run(t, "migrate"), "stderr: %s", b.stderr)
	require.Equal(t, exitOK, b.run(t, "list", "--format", "json"))
	require.Equal(t, "[]\n", b.stdout.String())
	require.Equal(t, exitOK, b.run(t, "list"))
	require.Equal(t, "No campaigns yet.\n", b.stdout.String())
}

func TestStatus(t *testing.T) {
	b, oldID, novID := statusFixture(t)

	require.Equal(t, exitOK, b.run(t, "status", "nov", "--format", "json"), "stderr: %s", b.stderr)
	var r map[string]any
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r), "stdout: %s", b.stdout)
	require.Equal(t, map[string]any{
		"id": float64(novID), "name": "nov", "status": "running", "created_at": b.now.Add(-time.Hour).Format(time.RFC3339),
		"contacts": map[string]any{"total": float64(9), "final": float64(2), "expired": float64(0), "by_state": map[string]any{
			"pending": float64(6), "queued": float64(0), "in_call": float64(1), "completed": float64(0),
			"failed": float64(2), "cancelled": float64(0), "do_not_call": float64(0)}},
		"outcomes":         map[string]any{"busy": float64(1), "failed_permanent": float64(1)},
		"live_calls":       float64(1),
		"attempts_placed":  float64(2),
		"cost_usd":         0.1234,
		"rate_achieved":    0.01, // 3 attempts in 300 s
		"rate_last_minute": 0.0,  // at a minute ago: not in the last minute
		"next_window":      "now",
		"errors": map[string]any{
			"attempts":       []any{map[string]any{"error": "vapi 400: bad number", "count": float64(1)}},
			"attempts_total": float64(1), "permanent_failures": float64(1), "rejected_webhook_events": float64(0), "webhook_events": float64(1)},
		"settings": map[string]any{"rate_per_second": 2.5, "max_concurrent": float64(5), "window": "always",
			"assistant_id": "asst_1", "phone_number_id": "pn_1"},
		"import": map[string]any{"rows_read": float64(12), "accepted": float64(9), "rejected": float64(3)},
	}, r)

	require.Equal(t, exitOK, b.run(t, "status", itoa(novID)), "stderr: %s", b.stderr)
	out := b.stdout.String()
	for _, want := range []string{
		"Campaign nov (id " + itoa(novID) + "): running, created " + formatTime(b.now.Add(-time.Hour)) + "\n",
		"9 total, 2 final (pending 6, queued 0, in call 1, completed 0, failed 2, cancelled 0, do not call 0)\n",
		"busy 1, failed_permanent 1\n",
		"1 live, 2 placed, cost $0.12\n",
		"0 calls/s over the last minute, 0.01 over the last 5 min (limit 2.5/s)\n",
		"next window:  now\n",
		"1 attempts failed, 1 contacts failed for good, 1 webhook events not applied\n",
		"1× vapi 400: bad number\n",
		`rate 2.5/s, max concurrent 5, window "always", assistant asst_1, phone number pn_1` + "\n",
		"12 rows read, 9 accepted, 3 rejected\n",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "\x1b[", "no ANSI codes without --watch")

	// A campaign whose pending contacts all wait: the next window is their earliest time.
	_, err := b.pool(t).Exec(context.Background(), `UPDATE contact SET next_attempt_at = $2 WHERE campaign_id = $1`,
		oldID, b.now.Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, exitOK, b.run(t, "status", "old", "--format", "json"), "stderr: %s", b.stderr)
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r))
	require.Equal(t, b.now.Add(3*time.Hour).Format(time.RFC3339), r["next_window"])
	require.Equal(t, float64(0), r["rate_achieved"])
	require.Equal(t, map[string]any{"attempts": []any{}, "attempts_total": float64(0), "permanent_failures": float64(0),
		"rejected_webhook_events": float64(0), "webhook_events": float64(0)}, r["errors"])
	require.Equal(t, exitOK, b.run(t, "status", "old"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "next window:  "+formatTime(b.now.Add(3*time.Hour))+" (in 3h0m0s)\n")
	require.Contains(t, b.stdout.String(), "errors:       none\n")

	require.Equal(t, exitError, b.run(t, "status", "no-such-campaign"))
	require.Contains(t, b.stderr.String(), `no campaign "no-such-campaign"`)
	// Usage errors of status and list: TestStatusListWaitFlags.
}

func TestStatusWatch(t *testing.T) {
	b, _, _ := statusFixture(t)

	t.Run("json", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &cancelAfter{marker: "\n", n: 2, cancel: cancel}
		require.Equal(t, exitOK, b.runCtx(t, ctx, out, false, "status", "nov", "--watch", "--interval", "10ms", "--format", "json"),
			"stderr: %s", b.stderr)
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		require.Len(t, lines, 2, "one JSON object per line, until cancelled")
		for _, l := range lines {
			var r map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &r))
			require.Equal(t, "nov", r["name"])
			require.Equal(t, float64(1), r["live_calls"])
		}
	})

	t.Run("text, not a terminal", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &cancelAfter{marker: "  import:", n: 2, cancel: cancel}
		require.Equal(t, exitOK, b.runCtx(t, ctx, out, false, "status", "nov", "--watch", "--interval", "10ms"), "stderr: %s", b.stderr)
		s := out.String()
		require.Equal(t, 2, strings.Count(s, "Campaign nov (id "), "a new block each time")
		require.Equal(t, 2, strings.Count(s, "--- "+formatTime(b.now)+"\n"))
		require.NotContains(t, s, "\x1b[")
	})

	t.Run("text, terminal", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &cancelAfter{marker: "  import:", n: 2, cancel: cancel}
		require.Equal(t, exitOK, b.runCtx(t, ctx, out, true, "status", "nov", "--watch", "--interval", "10ms"), "stderr: %s", b.stderr)
		s := out.String()
		require.Equal(t, 2, strings.Count(s, clearScreen+"Campaign nov (id "), "the screen is cleared before each redraw")
		require.True(t, strings.HasPrefix(s, clearScreen))
	})
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestStatusAccountLimit: status shows the concurrency limit learned for the campaign's Vapi
// account next to the campaign's own cap.
func TestStatusAccountLimit(t *testing.T) {
	b, _, novID := statusFixture(t)
	ctx := context.Background()
	store := campaign.NewStore(b.pool(t))
	require.NoError(t, store.UseAccount(ctx, novID, "acct-1"))
	require.NoError(t, store.LearnAccountLimit(ctx, "acct-1", 0, campaign.AccountLimits{Limit: 3, Remaining: 3}, b.now))

	require.Equal(t, exitOK, b.run(t, "status", "nov"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), `max concurrent 5 (account allows 3), window "always"`)
	require.Equal(t, exitOK, b.run(t, "status", "nov", "--format", "json"), "stderr: %s", b.stderr)
	var r struct {
		Settings struct {
			AccountLimit *int `json:"account_concurrency_limit"`
		} `json:"settings"`
	}
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r))
	require.NotNil(t, r.Settings.AccountLimit)
	require.Equal(t, 3, *r.Settings.AccountLimit)
}

// TestStatusLastMinuteAndPermanentFailures: status shows the rate of the last minute beside the
// five-minute one, and counts contacts failed for good under errors (a bad number whose call
// ended with no error text is still an error that needs attention).
func TestStatusLastMinuteAndPermanentFailures(t *testing.T) {
	b, oldID, novID := statusFixture(t)
	pool := b.pool(t)
	ctx := context.Background()
	// Two of nov's three attempts were created in the last minute.
	_, err := pool.Exec(ctx, `UPDATE attempt SET created_at = $2 WHERE id IN (
		SELECT id FROM attempt WHERE campaign_id = $1 ORDER BY id LIMIT 2)`, novID, b.now.Add(-30*time.Second))
	require.NoError(t, err)
	require.Equal(t, exitOK, b.run(t, "status", "nov", "--format", "json"), "stderr: %s", b.stderr)
	var r struct {
		RateAchieved   float64 `json:"rate_achieved"`
		RateLastMinute float64 `json:"rate_last_minute"`
		Errors         struct {
			PermanentFailures int `json:"permanent_failures"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r), "stdout: %s", b.stdout)
	require.Equal(t, 0.01, r.RateAchieved)
	require.Equal(t, 0.033, r.RateLastMinute) // 2 in 60 s
	require.Equal(t, 1, r.Errors.PermanentFailures)
	require.Equal(t, exitOK, b.run(t, "status", "nov"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "0.033 calls/s over the last minute, 0.01 over the last 5 min (limit 2.5/s)\n")
	require.Contains(t, b.stdout.String(), "1 attempts failed, 1 contacts failed for good, 1 webhook events not applied\n")

	// A contact failed for good by its call's ended reason, with no error text.
	_, err = pool.Exec(ctx, `UPDATE contact SET state = 'failed', outcome = 'failed_permanent' WHERE id = (
		SELECT min(id) FROM contact WHERE campaign_id = $1)`, oldID)
	require.NoError(t, err)
	require.Equal(t, exitOK, b.run(t, "status", "old"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "errors:       0 attempts failed, 1 contacts failed for good, 0 webhook events not applied\n")
}

// TestStatusListBudgetPause: a campaign its budget cap paused shows "paused (budget)", the cap,
// what it spent and what it expects, and the command that continues it, in status and list,
// text and JSON.
func TestStatusListBudgetPause(t *testing.T) {
	b, novID, store := budgetPausedFixture(t)
	ctx := context.Background()

	require.Equal(t, exitOK, b.run(t, "status", "nov", "--format", "json"), "stderr: %s", b.stderr)
	var r map[string]any
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r), "stdout: %s", b.stdout)
	require.Equal(t, "paused", r["status"])
	require.Equal(t, "budget", r["paused_reason"])
	require.Equal(t, 0.1, r["settings"].(map[string]any)["max_cost_usd"])
	// The live call counts at the mean cost of the priced one.
	require.Equal(t, map[string]any{"spent_usd": 0.1234, "expected_usd": 0.2468, "unpriced_calls": float64(1)}, r["budget"])

	require.Equal(t, exitOK, b.run(t, "status", "nov"), "stderr: %s", b.stderr)
	out := b.stdout.String()
	for _, want := range []string{
		"): paused (budget), created ",
		"budget:       $0.12 spent of $0.10, $0.25 expected with 1 calls not yet priced\n",
		"paused: the next call could pass the cap; continue with a higher cap: campaign resume nov --max-cost USD\n",
	} {
		require.Contains(t, out, want)
	}

	require.Equal(t, exitOK, b.run(t, "list", "--format", "json"), "stderr: %s", b.stderr)
	var items []map[string]any
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &items), "stdout: %s", b.stdout)
	require.Equal(t, "paused", items[0]["status"])
	require.Equal(t, "budget", items[0]["paused_reason"])
	require.NotContains(t, items[1], "paused_reason", "only a campaign paused by its cap has one")
	require.Equal(t, exitOK, b.run(t, "list"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), " paused (budget) ")

	// An operator's pause after a resume has no reason.
	_, err := store.Resume(ctx, novID, campaign.ResumeOptions{}, b.now)
	require.NoError(t, err)
	require.NoError(t, store.Pause(ctx, novID, b.now))
	require.Equal(t, exitOK, b.run(t, "status", "nov", "--format", "json"), "stderr: %s", b.stderr)
	r = nil
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r), "stdout: %s", b.stdout)
	require.Equal(t, "paused", r["status"])
	require.NotContains(t, r, "paused_reason")
}

// budgetPausedFixture is statusFixture with nov's budget cap ($0.10, below its $0.1234 spent)
// reached by a dial: nov is paused with PauseBudget.
func budgetPausedFixture(t *testing.T) (*testBundle, int64, *campaign.Store) {
	t.Helper()
	b, _, novID := statusFixture(t)
	ctx := context.Background()
	pool := b.pool(t)
	store := campaign.NewStore(pool)
	limit := 0.10
	require.NoError(t, store.SetPacing(ctx, novID, campaign.Pacing{MaxCostUSD: &limit}, b.now))
	var contactID int64
	require.NoError(t, pool.QueryRow(ctx, `
		WITH c AS (
			UPDATE contact SET state = $3 WHERE id = (SELECT min(id) FROM contact WHERE campaign_id = $1 AND state = $2)
			RETURNING id
		), n AS (UPDATE campaign SET queued_contacts = queued_contacts + 1 WHERE id = $1)
		SELECT id FROM c`, novID, campaign.ContactPending, campaign.ContactQueued).Scan(&contactID))
	g, err := store.BeginAttempt(ctx, contactID, b.now)
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseBudget, g.Refusal)
	return b, novID, store
}

// TestSetMaxCostOfBudgetPausedCampaign: export's note and the report name the pause; set --max-cost shows the
// cap before and after, and of a campaign the cap paused says that it stays paused and how to
// continue it.
func TestSetMaxCostOfBudgetPausedCampaign(t *testing.T) {
	b, _, _ := budgetPausedFixture(t)
	require.Equal(t, exitOK, b.run(t, "set", "nov", "--max-cost", "5"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "  max cost: $0.10 → $5.00\n")
	require.Contains(t, b.stderr.String(), "Campaign nov is paused by its budget cap: continue it with: campaign resume nov\n")
	// export's note names the pause; the report says it.
	out := filepath.Join(t.TempDir(), "nov.csv")
	require.Equal(t, exitOK, b.run(t, "export", "nov", "-o", out), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Note: campaign nov is still paused (budget): 7 of 9 contacts are not final yet")
	require.Equal(t, exitOK, b.run(t, "report", "nov"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "paused by its budget cap")

	require.Equal(t, exitOK, b.run(t, "set", "nov", "--max-cost", "none"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "  max cost: $5.00 → none\n")
	require.Equal(t, exitOK, b.run(t, "status", "nov", "--format", "json"), "stderr: %s", b.stderr)
	require.NotContains(t, b.stdout.String(), "max_cost_usd")
	require.NotContains(t, b.stdout.String(), `"budget"`+":")
}
