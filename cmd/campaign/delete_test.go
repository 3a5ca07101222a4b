package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDelete(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	for _, name := range []string{"dry-1", "dry-2", "ran", "live"} {
		require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", name), "stderr: %s", b.stderr)
	}
	pool := b.pool(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	count := func(sql string) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql).Scan(&n))
		return n
	}
	// "ran" placed a call and has its result and webhook event; "live" is running.
	exec(`UPDATE campaign SET status = 'completed' WHERE name = 'ran'`)
	exec(`INSERT INTO attempt (campaign_id, contact_id, number, key, state, vapi_call_id, outcome, cost)
		SELECT c.campaign_id, c.id, 1, 'ran-key', 'ended', 'call-ran', 'busy', 0.05 FROM contact c
		JOIN campaign ON campaign.id = c.campaign_id WHERE campaign.name = 'ran' ORDER BY c.id LIMIT 1`)
	exec(`INSERT INTO webhook_event (type, vapi_call_id, payload) VALUES ('end-of-call-report', 'call-ran', '{}'),
		('end-of-call-report', 'call-other', '{}')`)
	exec(`INSERT INTO suppression (phone, reason, vapi_call_id) VALUES ('+14155550132', 'asked', 'call-ran')`)
	exec(`UPDATE campaign SET status = 'running' WHERE name = 'live'`)

	// Drafts go at once, several at a time, contacts and all.
	require.Equal(t, exitOK, b.run(t, "delete", "dry-1", "dry-2"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Deleted campaign dry-1 (9 contacts)")
	require.Contains(t, b.stderr.String(), "Deleted campaign dry-2 (9 contacts)")
	require.Zero(t, count(`SELECT count(*) FROM campaign WHERE name LIKE 'dry-%'`))
	require.Equal(t, 18, count(`SELECT count(*) FROM contact`), "the other campaigns' contacts stay")

	// Results are kept unless --purge.
	require.Equal(t, exitError, b.run(t, "delete", "ran"))
	require.Contains(t, b.stderr.String(), "campaign ran has results of 1 call")
	require.Contains(t, b.stderr.String(), "campaign export ran")
	require.Contains(t, b.stderr.String(), "--purge")
	require.Equal(t, 1, count(`SELECT count(*) FROM campaign WHERE name = 'ran'`))

	// A running campaign is refused unless --force, even with --purge.
	require.Equal(t, exitError, b.run(t, "delete", "live", "--purge"))
	require.Contains(t, b.stderr.String(), "campaign live is running")
	require.Contains(t, b.stderr.String(), "campaign cancel live")
	require.Contains(t, b.stderr.String(), "--force")
	require.Equal(t, 1, count(`SELECT count(*) FROM campaign WHERE name = 'live'`))

	require.Equal(t, exitOK, b.run(t, "delete", "ran", "--purge"), "stderr: %s", b.stderr)
	require.Zero(t, count(`SELECT count(*) FROM campaign WHERE name = 'ran'`))
	require.Zero(t, count(`SELECT count(*) FROM attempt`))
	require.Equal(t, 1, count(`SELECT count(*) FROM webhook_event`), "the campaign's events went, the others stay")
	require.Equal(t, 1, count(`SELECT count(*) FROM suppression`), "the do-not-call list stays whole")

	require.Equal(t, exitOK, b.run(t, "delete", "live", "--force"), "stderr: %s", b.stderr)
	require.Zero(t, count(`SELECT count(*) FROM campaign`))

	require.Equal(t, exitError, b.run(t, "delete", "live"))
	require.Contains(t, b.stderr.String(), `no campaign "live"`)
}
