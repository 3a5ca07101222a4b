package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestResume continues a campaign whose process died: it was running, two contacts were queued
// (their dial jobs lost) and nothing was called. resume (which also turns retries and callbacks
// off: --retry none --max-attempts 1) finishes it on the simulator with one call per contact;
// then a completed campaign is refused unless --retry-failed, which calls the failed contacts
// again (not the permanent failures).
func TestResume(t *testing.T) {
	b := setup(t)
	b.realClock = true
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov", "--window", "always"), "stderr: %s", b.stderr)
	pool := b.pool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `UPDATE campaign SET status = 'running', queued_contacts = 2 WHERE name = 'nov';
		UPDATE contact SET state = 'queued' WHERE line IN (2, 3)`)
	require.NoError(t, err)

	code := b.run(t, "resume", "nov", "--simulate", "--sim-time-scale", "600", "--rate", "0", "--retry", "none", "--max-attempts", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "9 of 9 contacts final")
	var maxAttempts, calls int
	require.NoError(t, pool.QueryRow(ctx, `SELECT max(n)::int, sum(n)::int FROM (SELECT count(*) AS n FROM attempt
		WHERE state <> 'not_created' GROUP BY contact_id) x`).Scan(&maxAttempts, &calls))
	require.Equal(t, 1, maxAttempts, "nobody was called twice")
	require.Equal(t, 9, calls)

	require.Equal(t, exitError, b.run(t, "resume", "nov", "--simulate"))
	require.Contains(t, b.stderr.String(), "--retry-failed")

	_, err = pool.Exec(ctx, `UPDATE contact SET state = 'failed', outcome = 'failed_permanent' WHERE line = 2;
		UPDATE contact SET state = 'failed', outcome = 'no_answer' WHERE line = 3`)
	require.NoError(t, err)
	var retryable int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM contact WHERE state = 'failed' AND outcome <> 'failed_permanent'`).Scan(&retryable))
	require.GreaterOrEqual(t, retryable, 1)
	code = b.run(t, "resume", "nov", "--simulate", "--sim-time-scale", "600", "--retry-failed")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), fmt.Sprintf("%d contacts back in dispatch", retryable))
	var line3, line2 int
	require.NoError(t, pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM attempt a JOIN contact c ON c.id = a.contact_id WHERE c.line = 3 AND a.state <> 'not_created'),
		(SELECT count(*) FROM attempt a JOIN contact c ON c.id = a.contact_id WHERE c.line = 2 AND a.state <> 'not_created')`).
		Scan(&line3, &line2))
	require.Equal(t, 2, line3, "the failed contact got one more call")
	require.Equal(t, 1, line2, "a permanent failure is never retried")
}

// TestResumeKeepsTarget: a campaign drafted for a squad resumes with its squad (here on the
// simulator, whose default squad places the calls and reports by webhook), and --assistant-id
// cannot turn it into an assistant's campaign.
func TestResumeKeepsTarget(t *testing.T) {
	b := setup(t)
	b.realClock = true
	file := writeFile(t, t.TempDir(), "two.csv", "phone,first_name\n+1 415 555 0132,Jane\n+1 212 555 0187,Marcus\n")
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "sq", "--window", "always",
		"--squad-id", vapitest.SquadReminders), "stderr: %s", b.stderr)

	require.Equal(t, exitUsage, b.run(t, "resume", "sq", "--assistant-id", "a-1", "--simulate"))
	require.Contains(t, b.stderr.String(), "campaign sq is called by its squad "+vapitest.SquadReminders+
		": --assistant-id changes only a campaign called by a saved assistant")

	code := b.run(t, "resume", "sq", "--simulate", "--sim-time-scale", "600", "--rate", "0", "--retry", "none", "--max-attempts", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "2 of 2 contacts final")
	c, err := campaign.NewStore(b.pool(t)).CampaignByRef(context.Background(), "sq")
	require.NoError(t, err)
	require.Equal(t, "squad "+vapitest.SquadReminders, c.TargetLabel())
	require.Empty(t, c.AssistantID, "the simulator's assistant was not put in the squad's place")
}
