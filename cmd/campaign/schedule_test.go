package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports/export"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestScheduleFlagErrors: a schedule time that does not parse, lies in the past or ends before
// it starts is a usage error that says so, before anything is imported or changed.
func TestScheduleFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not a time", []string{"run", "x.csv", "--dry-run", "--start-at", "tomorrow"}, `--start-at: "tomorrow" is not a time`},
		{"bad duration", []string{"run", "x.csv", "--dry-run", "--end-by", "+0s"}, "--end-by: \"+0s\": a duration from now must be above zero"},
		{"start in the past", []string{"run", "x.csv", "--dry-run", "--timezone", "America/New_York", "--start-at", "2026-11-22 09:00"},
			"--start-at 2026-11-22 "},
		{"end in the past", []string{"run", "x.csv", "--dry-run", "--end-by", "2026-11-22T23:29:00Z"}, "is in the past: no call could be placed"},
		{"end before start", []string{"run", "x.csv", "--dry-run", "--start-at", "+2h", "--end-by", "+1h"}, "the end must come after the start"},
		{"end at start", []string{"run", "x.csv", "--dry-run", "--start-at", "2026-11-23T10:00:00Z", "--end-by", "2026-11-23T10:00:00Z"},
			"the end must come after the start"},
		{"set: not a time", []string{"set", "c", "--end-by", "soon"}, `--end-by: "soon" is not a time`},
		{"set: end in the past", []string{"set", "c", "--end-by", "2026-11-01T00:00:00Z"}, "use campaign cancel"},
		{"set: end before start", []string{"set", "c", "--start-at", "+3h", "--end-by", "+2h"}, "the end must come after the start"},
		{"resume: not a time", []string{"resume", "c", "--simulate", "--start-at", "9am"}, `--start-at: "9am" is not a time`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.env[envDatabaseURL] = "postgres://nobody@127.0.0.1:1/none" // never reached
			require.Equal(t, exitUsage, b.run(t, tc.args...), "stderr: %s", b.stderr)
			require.Contains(t, b.stderr.String(), tc.want)
		})
	}
}

// TestRunDryRunShowsTheSchedule: the dry run says when the campaign would start and end, and
// its first callable times count from the start.
func TestRunDryRunShowsTheSchedule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	csv := writeFile(t, t.TempDir(), "sched.csv", "phone,timezone\n+12015550100,UTC\n")
	code := b.run(t, "run", csv, "--dry-run", "--format", "json", "--window", "always",
		"--start-at", "2026-11-23T08:00:00Z", "--end-by", "2026-11-23T18:00:00+01:00")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	var r dryRunReport
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r))
	require.Equal(t, "2026-11-23T08:00:00Z", r.StartAt)
	require.Equal(t, "2026-11-23T17:00:00Z", r.EndBy)
	require.Len(t, r.TimeZones, 1)
	require.Equal(t, "2026-11-23T08:00:00Z", r.TimeZones[0].FirstCallable)
	require.False(t, r.TimeZones[0].CallableNow)

	code = b.run(t, "run", csv, "--dry-run", "--name", "sched-text", "--start-at", "+1h")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "Schedule")
	require.Contains(t, b.stdout.String(), "starts at ")
}

// firstAttemptAt returns when the campaign's first attempt began.
func firstAttemptAt(t *testing.T, b *testBundle, id int64) time.Time {
	t.Helper()
	var first time.Time
	require.NoError(t, b.pool(t).QueryRow(context.Background(),
		`SELECT min(created_at) FROM attempt WHERE campaign_id = $1`, id).Scan(&first))
	return first
}

// TestRunStartAtWaitsThenRuns: a foreground run with a start ahead says until when it waits,
// dials nobody till then, and runs the campaign to its end from then on.
func TestRunStartAtWaitsThenRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "--rate", "0", "--name", "later",
		"--start-at", "+6s")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "scheduled: starts at ")
	require.Contains(t, b.stderr.String(), "Ctrl-C leaves it scheduled; continue with: campaign resume later --simulate")
	require.Contains(t, b.stderr.String(), "9 of 9 contacts final")

	c, err := campaign.NewStore(b.pool(t)).CampaignByRef(context.Background(), "later")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, c.Status)
	require.NotNil(t, c.StartAt)
	first := firstAttemptAt(t, b, c.ID)
	require.False(t, first.Before(*c.StartAt), "first call %s before the start %s", first, *c.StartAt)
}

// TestRunDetachStartAtServeStarts: run --detach with a start ahead leaves the campaign
// scheduled; campaign serve starts it when the start comes, not before.
func TestRunDetachStartAtServeStarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	sim := newServeSim(t, vapitest.Config{Seed: 11, TimeScale: 120})
	b.env[envAPIKey] = sim.Config().APIKey
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	csv := writeFile(t, t.TempDir(), "later.csv", serveContacts(4))
	code := b.run(t, "run", csv, "--detach", "--name", "detached-later", "--vapi-base-url", sim.url, "--public-url", "http://"+addr,
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-serve", "--allow-missing-variables",
		"--window", "always", "--rate", "0", "--retry", "none", "--max-attempts", "1", "--start-at", "+6s")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "scheduled: campaign serve starts it at ")

	store := campaign.NewStore(b.pool(t))
	c, err := store.CampaignByRef(context.Background(), "detached-later")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusScheduled, c.Status)

	// status says so, text and JSON.
	require.Equal(t, exitOK, b.run(t, "status", "detached-later", "--format", "json"), "stderr: %s", b.stderr)
	var st statusReport
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &st))
	require.Equal(t, "scheduled", st.Status)
	require.NotNil(t, st.Settings.StartAt)
	require.True(t, st.Settings.StartAt.Equal(*c.StartAt))
	require.Equal(t, c.StartAt.UTC().Format(time.RFC3339), st.NextWindow, "nobody is called before the start")
	require.Equal(t, exitOK, b.run(t, "status", "detached-later"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "schedule:")

	p := startServeInProcess(t, b, sim, map[string]string{}, addr)
	waitUntil(t, 60*time.Second, "the campaign completed", func() bool {
		pr, err := store.Progress(context.Background(), c.ID)
		require.NoError(t, err)
		return pr.Status == campaign.StatusCompleted
	})
	first := firstAttemptAt(t, b, c.ID)
	require.False(t, first.Before(*c.StartAt), "first call %s before the start %s", first, *c.StartAt)
	require.Len(t, sim.CreateRequestsByNumber(), 4)
	p.stop()
	require.Equal(t, exitOK, p.wait(t, 30*time.Second), "stderr: %s", p.stderr)
}

// TestRunEndByExpiresTheRest: a simulated run paced at one call every 4 s with its end 5 s
// ahead calls at most two contacts; the others end expired, the campaign completes, and the
// summary, status, report and export all show them.
func TestRunEndByExpiresTheRest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	out := filepath.Join(dir, "results.csv")
	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "--rate", "0.25", "--name", "ends",
		"--end-by", "+5s", "-o", out)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "9 of 9 contacts final")
	require.Contains(t, b.stderr.String(), "expired ")

	c, err := campaign.NewStore(b.pool(t)).CampaignByRef(context.Background(), "ends")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, c.Status)
	p, err := campaign.NewStore(b.pool(t)).Progress(context.Background(), c.ID)
	require.NoError(t, err)
	expired := p.ByOutcome[campaign.OutcomeExpired]
	require.GreaterOrEqual(t, expired, 7)
	require.LessOrEqual(t, p.Attempts, 9-expired)

	// The results file and the export give those contacts the outcome expired.
	rows := readCSV(t, out)
	outcome := slices.Index(rows[0], export.ColOutcome)
	n := 0
	for _, r := range rows[1:] {
		if r[outcome] == "expired" {
			n++
		}
	}
	require.Equal(t, expired, n)

	require.Equal(t, exitOK, b.run(t, "status", "ends", "--format", "json"), "stderr: %s", b.stderr)
	var st statusReport
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &st))
	require.Equal(t, expired, st.Contacts.Expired)
	require.Equal(t, expired, st.Outcomes["expired"])
	require.NotNil(t, st.Settings.EndBy)

	require.Equal(t, exitOK, b.run(t, "report", "ends", "--format", "json"), "stderr: %s", b.stderr)
	var rep struct {
		Campaign struct {
			EndBy *time.Time `json:"end_by"`
		} `json:"campaign"`
		Outcomes []struct {
			Outcome  string `json:"outcome"`
			Contacts int    `json:"contacts"`
		} `json:"outcomes"`
	}
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &rep))
	require.NotNil(t, rep.Campaign.EndBy)
	require.True(t, rep.Campaign.EndBy.Equal(*c.EndBy))
	got := map[string]int{}
	for _, o := range rep.Outcomes {
		got[o.Outcome] = o.Contacts
	}
	require.Equal(t, expired, got["expired"])
	for _, format := range []string{"text", "html"} {
		require.Equal(t, exitOK, b.run(t, "report", "ends", "--format", format), "stderr: %s", b.stderr)
		require.Contains(t, b.stdout.String(), "ends by ", format)
		require.Contains(t, b.stdout.String(), "expired", format)
	}
	require.Equal(t, exitOK, b.run(t, "export", "ends", "--filter", "outcome=expired"), "stderr: %s", b.stderr)
	require.Equal(t, 1+expired, strings.Count(strings.TrimSpace(b.stdout.String()), "\n")+1)
}

// TestScheduleLikeAndSet: run --like copies a schedule still ahead; set changes each time, or
// removes it with none, and says before and after.
func TestScheduleLikeAndSet(t *testing.T) {
	t.Parallel()
	b := setup(t)                         // now: 2026-11-22 23:30 UTC
	b.env["XDG_STATE_HOME"] = t.TempDir() // where a run without FILE keeps its rejects
	csv := writeFile(t, t.TempDir(), "src.csv", "phone\n+12015550100\n")
	require.Equal(t, exitOK, b.run(t, "run", csv, "--dry-run", "--name", "src", "--start-at", "+2h", "--end-by", "2026-11-23T12:00:00Z"),
		"stderr: %s", b.stderr)
	require.Equal(t, exitOK, b.run(t, "run", "--like", "src", "--dry-run", "--name", "copy", "--format", "json"), "stderr: %s", b.stderr)
	var r dryRunReport
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r))
	require.Equal(t, "2026-11-23T01:30:00Z", r.StartAt)
	require.Equal(t, "2026-11-23T12:00:00Z", r.EndBy)

	// Once its times have gone by, the copy starts now and has no end.
	b.now = time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	require.Equal(t, exitOK, b.run(t, "run", "--like", "src", "--dry-run", "--name", "copy-later", "--format", "json"), "stderr: %s", b.stderr)
	r = dryRunReport{}
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r))
	require.Empty(t, r.StartAt)
	require.Empty(t, r.EndBy)

	require.Equal(t, exitOK, b.run(t, "set", "src", "--start-at", "none", "--end-by", "2026-11-24T18:00:00+01:00"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "start at: ")
	require.Contains(t, b.stderr.String(), "→ none")
	store := campaign.NewStore(b.pool(t))
	c, err := store.CampaignByRef(context.Background(), "src")
	require.NoError(t, err)
	require.Nil(t, c.StartAt)
	require.NotNil(t, c.EndBy)
	require.True(t, c.EndBy.Equal(time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC)))

	// An end moved before the stored start is refused by the store with the times it has.
	require.Equal(t, exitOK, b.run(t, "set", "src", "--start-at", "2026-11-24T12:00:00Z"), "stderr: %s", b.stderr)
	require.Equal(t, exitError, b.run(t, "set", "src", "--end-by", "2026-11-24T11:00:00Z"))
	require.Contains(t, b.stderr.String(), "the end (--end-by) must come after the start (--start-at)")
	require.Equal(t, exitOK, b.run(t, "set", "src", "--end-by", ""), "stderr: %s", b.stderr)
	c, err = store.CampaignByRef(context.Background(), "src")
	require.NoError(t, err)
	require.Nil(t, c.EndBy)
	require.NotNil(t, c.StartAt)
}

// TestRunStartAtInterrupted: Ctrl-C while a run waits for its start leaves the campaign
// scheduled, having called nobody, and says how to continue (exit 1).
func TestRunStartAtInterrupted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	stderr := &syncBuffer{}
	a := &app{in: bytes.NewReader(nil), out: &bytes.Buffer{}, errOut: stderr, getenv: func(k string) string { return b.env[k] },
		now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, a, []string{"run", file, "--simulate", "--name", "interrupted", "--start-at", "+1h",
			"--database-url", b.databaseURL()})
	}()
	waitUntil(t, 30*time.Second, "the run waits", func() bool { return strings.Contains(stderr.String(), "scheduled: starts at ") })
	cancel()
	select {
	case code := <-done:
		require.Equal(t, exitError, code, "stderr: %s", stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not stop")
	}
	require.Contains(t, stderr.String(), "interrupted: campaign interrupted stays scheduled")
	require.Contains(t, stderr.String(), "continue with: campaign resume interrupted --simulate")

	c, err := campaign.NewStore(b.pool(t)).CampaignByRef(context.Background(), "interrupted")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusScheduled, c.Status)
	var attempts int
	require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT count(*) FROM attempt WHERE campaign_id = $1`, c.ID).
		Scan(&attempts))
	require.Zero(t, attempts)
}

// TestSetStartAtPostponesARunningRun: campaign set --start-at moving the start of a campaign a
// foreground run is dialing ahead makes it scheduled; the run dials nobody till the new start,
// keeps watching, then calls the rest and finishes with the campaign completed.
func TestSetStartAtPostponesARunningRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	stderr := &syncBuffer{}
	a := &app{in: bytes.NewReader(nil), out: &bytes.Buffer{}, errOut: stderr, getenv: func(k string) string { return b.env[k] },
		now: time.Now}
	done := make(chan int, 1)
	go func() {
		done <- execute(context.Background(), a, []string{"run", file, "--simulate", "--sim-time-scale", "600",
			"--rate", "1", "--retry", "none", "--max-attempts", "1", "--name", "postponed", "--database-url", b.databaseURL()})
	}()

	pool := b.pool(t)
	ctx := context.Background()
	var id int64
	waitUntil(t, 60*time.Second, "the run's first call", func() bool {
		var n int
		err := pool.QueryRow(ctx, `SELECT coalesce(min(c.id), 0), count(a.id) FROM campaign c
			LEFT JOIN attempt a ON a.campaign_id = c.id WHERE c.name = 'postponed'`).Scan(&id, &n)
		return err == nil && n > 0 // the run may not have migrated the database yet
	})
	require.Equal(t, exitOK, b.run(t, "set", "postponed", "--start-at", "+3s"), "stderr: %s", b.stderr)
	setDone := time.Now()
	require.Contains(t, b.stderr.String(), "status: running → scheduled")
	c, err := campaign.NewStore(pool).Campaign(ctx, id)
	require.NoError(t, err)
	require.NotNil(t, c.StartAt)

	select {
	case code := <-done:
		require.Equal(t, exitOK, code, "stderr: %s", stderr)
	case <-time.After(90 * time.Second):
		t.Fatalf("the run did not finish; stderr: %s", stderr)
	}
	require.Contains(t, stderr.String(), "9 of 9 contacts final")
	c, err = campaign.NewStore(pool).Campaign(ctx, id)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, c.Status)

	// No call began between the set and the new start; some after it.
	var inGap, after int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE created_at > $2 AND created_at < $3),
			count(*) FILTER (WHERE created_at >= $3) FROM attempt WHERE campaign_id = $1`, id, setDone, *c.StartAt).
		Scan(&inGap, &after))
	require.Zero(t, inGap, "calls begun while the campaign waited for its new start")
	require.Positive(t, after, "the run went on at the new start")
}

// TestScheduleTimeSaysTheOffsetOnce: a schedule time names its zone, and adds the offset only
// when the zone's name does not already say it.
func TestScheduleTimeSaysTheOffsetOnce(t *testing.T) {
	t.Parallel()
	winter := time.Date(2026, 12, 7, 17, 26, 7, 0, time.UTC)
	summer := time.Date(2026, 7, 7, 17, 26, 7, 0, time.UTC)
	for _, tc := range []struct {
		zone string
		at   time.Time
		want string
	}{
		{"UTC", winter, "2026-12-07 17:26:07 UTC"},
		{"Europe/London", winter, "2026-12-07 17:26:07 GMT"},
		{"Europe/London", summer, "2026-07-07 18:26:07 BST (UTC+01:00)"},
		{"Europe/Paris", winter, "2026-12-07 18:26:07 CET (UTC+01:00)"},
		{"America/New_York", winter, "2026-12-07 12:26:07 EST (UTC-05:00)"},
		{"Asia/Dubai", winter, "2026-12-07 21:26:07 +04"},
		{"America/Sao_Paulo", winter, "2026-12-07 14:26:07 -03"},
	} {
		loc, err := time.LoadLocation(tc.zone)
		require.NoError(t, err)
		require.Equal(t, tc.want, scheduleTimeIn(tc.at, loc), tc.zone)
	}
}

// TestRunInterruptedWhilePostponed: Ctrl-C while a run waits for the start campaign set moved
// ahead leaves the campaign scheduled (not paused), having begun no call since, and says so
// and how to continue (exit 1).
func TestRunInterruptedWhilePostponed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	stderr := &syncBuffer{}
	a := &app{in: bytes.NewReader(nil), out: &bytes.Buffer{}, errOut: stderr, getenv: func(k string) string { return b.env[k] },
		now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, a, []string{"run", file, "--simulate", "--sim-time-scale", "600", "--rate", "0.5",
			"--retry", "none", "--max-attempts", "1", "--name", "put-off", "--database-url", b.databaseURL()})
	}()
	pool := b.pool(t)
	var id int64
	waitUntil(t, 60*time.Second, "the run's first call", func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT coalesce(min(c.id), 0), count(a.id) FROM campaign c
			LEFT JOIN attempt a ON a.campaign_id = c.id WHERE c.name = 'put-off'`).Scan(&id, &n)
		return err == nil && n > 0 // the run may not have migrated the database yet
	})
	require.Equal(t, exitOK, b.run(t, "set", "put-off", "--start-at", "+1h"), "stderr: %s", b.stderr)
	setDone := time.Now()
	store := campaign.NewStore(pool)
	waitUntil(t, 30*time.Second, "no call in flight", func() bool {
		p, err := store.Progress(context.Background(), id)
		require.NoError(t, err)
		return p.Live == 0 && p.ByState[campaign.ContactInCall] == 0 && p.ByState[campaign.ContactQueued] == 0
	})
	cancel()
	select {
	case code := <-done:
		require.Equal(t, exitError, code, "stderr: %s", stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("the run did not stop; stderr: %s", stderr)
	}
	require.Contains(t, stderr.String(), "interrupted: campaign put-off is scheduled with ")
	require.Contains(t, stderr.String(), "continue with: campaign resume put-off --simulate")
	c, err := store.Campaign(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusScheduled, c.Status)
	var since int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM attempt WHERE campaign_id = $1 AND created_at > $2`,
		id, setDone).Scan(&since))
	require.Zero(t, since)
}
