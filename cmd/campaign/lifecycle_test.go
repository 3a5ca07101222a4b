package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPauseCancelSet(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov"), "stderr: %s", b.stderr)
	pool := b.pool(t)
	ctx := context.Background()
	status := func() string {
		var s string
		require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM campaign WHERE name = 'nov'`).Scan(&s))
		return s
	}

	// A draft cannot be paused.
	require.Equal(t, exitError, b.run(t, "pause", "nov"))
	require.Contains(t, b.stderr.String(), "is draft")

	_, err := pool.Exec(ctx, `UPDATE campaign SET status = 'running' WHERE name = 'nov'`)
	require.NoError(t, err)
	require.Equal(t, exitOK, b.run(t, "pause", "nov"), "stderr: %s", b.stderr)
	require.Equal(t, "paused", status())

	// Pacing changes, by name or id.
	var id string
	require.NoError(t, pool.QueryRow(ctx, `SELECT id::text FROM campaign WHERE name = 'nov'`).Scan(&id))
	_, err = pool.Exec(ctx, `UPDATE contact SET next_attempt_at = '2030-01-01' WHERE line = 2`)
	require.NoError(t, err)
	require.Equal(t, exitOK, b.run(t, "set", id, "--rate", "2.5", "--max-concurrent", "20", "--window", "mon-fri 10:00-18:00"),
		"stderr: %s", b.stderr)
	var (
		rate     float64
		max      int
		window   string
		deferred int
	)
	require.NoError(t, pool.QueryRow(ctx, `SELECT rate_per_second, max_concurrent, window_spec,
		(SELECT count(*) FROM contact WHERE next_attempt_at IS NOT NULL) FROM campaign WHERE name = 'nov'`).
		Scan(&rate, &max, &window, &deferred))
	require.Equal(t, 2.5, rate)
	require.Equal(t, 20, max)
	require.Equal(t, "mon-fri 10:00-18:00", window)
	require.Zero(t, deferred, "contacts deferred to the old window are due again")

	// Usage errors of set: TestSetFlags.

	// Cancel: every contact not yet called is cancelled; a second cancel is refused.
	require.Equal(t, exitOK, b.run(t, "cancel", "nov"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "9 contacts will not be called")
	require.Equal(t, "cancelled", status())
	var cancelled int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM contact WHERE state = 'cancelled'`).Scan(&cancelled))
	require.Equal(t, 9, cancelled)
	require.Equal(t, exitError, b.run(t, "cancel", "nov"))
	require.Contains(t, b.stderr.String(), "is cancelled")

	require.Equal(t, exitError, b.run(t, "pause", "no-such-campaign"))
	require.Contains(t, b.stderr.String(), `no campaign "no-such-campaign"`)
}

func TestPauseOfPausedIsNoOp(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov"), "stderr: %s", b.stderr)
	_, err := b.pool(t).Exec(context.Background(), `UPDATE campaign SET status = 'running' WHERE name = 'nov'`)
	require.NoError(t, err)
	require.Equal(t, exitOK, b.run(t, "pause", "nov"), "stderr: %s", b.stderr)
	require.Equal(t, exitOK, b.run(t, "pause", "nov"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "already paused")
	require.Contains(t, b.stderr.String(), "campaign resume nov")
}

func TestSetEchoesChanges(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov", "--rate", "1", "--max-concurrent", "10"),
		"stderr: %s", b.stderr)
	require.Equal(t, exitOK, b.run(t, "set", "nov", "--rate", "2.5", "--max-concurrent", "10", "--window", "mon-fri 10:00-18:00"),
		"stderr: %s", b.stderr)
	out := b.stderr.String()
	require.Contains(t, out, "  rate: 1/s → 2.5/s\n")
	require.Contains(t, out, "  max concurrent: 10 (unchanged)\n")
	require.Contains(t, out, `→ "mon-fri 10:00-18:00"`)
	require.Contains(t, out, "Campaign nov updated")

	require.Equal(t, exitOK, b.run(t, "set", "nov", "--retry", "busy=2@20m", "--max-attempts", "4"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), `busy=2@30m, voicemail=1@24h, failed=2@10m" → "no_answer=2@4h, busy=2@20m`)
	require.Contains(t, b.stderr.String(), "  max attempts: ")
	require.Contains(t, b.stderr.String(), " → 4\n")

	require.Equal(t, exitOK, b.run(t, "set", "nov", "--per-number-max-concurrent", "3", "--per-number-daily-cap", "0"),
		"stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "  per-number max concurrent: none → 3\n")
	require.Contains(t, b.stderr.String(), "  per-number daily cap: none (unchanged)\n")
	require.Equal(t, exitOK, b.run(t, "set", "nov", "--per-number-max-concurrent", "0", "--per-number-daily-cap", "150"),
		"stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "  per-number max concurrent: 3 → none\n")
	require.Contains(t, b.stderr.String(), "  per-number daily cap: none → 150\n")
}
