package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// runAsync runs the CLI with args in the background on its own buffers and returns a channel
// that receives the exit code.
func (b *testBundle) runAsync(ctx context.Context, stderr *syncBuffer, args ...string) <-chan int {
	args = append(args, "--database-url", b.databaseURL())
	a := &app{
		in:     bytes.NewReader(nil),
		out:    &syncBuffer{},
		errOut: stderr,
		getenv: func(k string) string { return b.env[k] },
		now:    time.Now,
	}
	done := make(chan int, 1)
	go func() { done <- execute(ctx, a, args) }()
	return done
}

// waitFor waits up to a minute for cond, checking every 20 ms.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, time.Minute, 20*time.Millisecond, what)
}

// TestRunCancelledExitsNonZero cancels a simulated run from another command while it dials:
// the run ends, its summary counts the cancelled contacts, and it exits 1 so scripts see it.
func TestRunCancelledExitsNonZero(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	stderr := &syncBuffer{}
	// One call every 5 s: the test cancels after the first, with the others still to call.
	done := b.runAsync(context.Background(), stderr, "run", file, "--simulate", "--name", "nov", "--rate", "0.2",
		"--sim-time-scale", "600", "-o", filepath.Join(dir, "results.csv"))
	pool := b.pool(t)
	waitFor(t, "the import", func() bool { return bytes.Contains([]byte(stderr.String()), []byte("Campaign nov (id")) })
	waitFor(t, "a first call", func() bool {
		var n int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM attempt`).Scan(&n))
		return n > 0
	})
	require.Equal(t, exitOK, b.run(t, "cancel", "nov"), "stderr: %s", b.stderr)

	var code int
	select {
	case code = <-done:
	case <-time.After(time.Minute):
		t.Fatalf("the run did not end after cancel: %s", stderr)
	}
	require.Equal(t, exitError, code, "stderr: %s", stderr)
	var cancelled int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM contact WHERE state = 'cancelled'`).Scan(&cancelled))
	require.Positive(t, cancelled)
	require.Contains(t, stderr.String(), fmt.Sprintf("cancelled: %d contacts not called", cancelled))
	require.Contains(t, stderr.String(), "campaign nov was cancelled")
}

func TestWait(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov"), "stderr: %s", b.stderr)
	pool := b.pool(t)
	setStatus := func(s string) {
		_, err := pool.Exec(context.Background(), `UPDATE campaign SET status = $1 WHERE name = 'nov'`, s)
		require.NoError(t, err)
	}

	// A running campaign is waited for until it is final.
	setStatus("running")
	stderr := &syncBuffer{}
	done := b.runAsync(context.Background(), stderr, "wait", "nov", "--exit-status", "--interval", "10ms")
	waitFor(t, "the wait to poll", func() bool { return bytes.Contains([]byte(stderr.String()), []byte("Waiting for campaign nov")) })
	select {
	case code := <-done:
		t.Fatalf("wait returned %d while the campaign runs: %s", code, stderr)
	default:
	}
	setStatus("completed")
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, "stderr: %s", stderr)
	case <-time.After(time.Minute):
		t.Fatal("wait did not return once the campaign completed")
	}
	require.Contains(t, stderr.String(), "Campaign nov completed")

	// Cancelled: final, and with --exit-status not a success.
	setStatus("cancelled")
	require.Equal(t, exitOK, b.run(t, "wait", "nov"), "stderr: %s", b.stderr)
	require.Equal(t, exitError, b.run(t, "wait", "nov", "--exit-status"))
	require.Contains(t, b.stderr.String(), "campaign nov ended cancelled")
	setStatus("failed")
	require.Equal(t, exitError, b.run(t, "wait", "nov", "--exit-status"))

	// Ctrl-C ends the wait, not successfully.
	setStatus("paused")
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	done = b.runAsync(ctx, stderr, "wait", "nov", "--interval", "10ms")
	waitFor(t, "the wait to poll", func() bool { return bytes.Contains([]byte(stderr.String()), []byte("Waiting for campaign nov")) })
	cancel()
	select {
	case code := <-done:
		require.Equal(t, exitError, code, "stderr: %s", stderr)
	case <-time.After(time.Minute):
		t.Fatal("wait did not return on Ctrl-C")
	}
	require.Contains(t, stderr.String(), "interrupted")

	// Paused by its budget cap, with no call in flight: nothing more happens without an operator.
	_, err := pool.Exec(context.Background(), `UPDATE campaign SET paused_reason = $2 WHERE name = $1`,
		"nov", campaign.PauseBudget)
	require.NoError(t, err)
	require.Equal(t, exitOK, b.run(t, "wait", "nov"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Campaign nov paused by its budget cap: 0 of 9 contacts final; continue with a higher cap: campaign resume nov --max-cost USD")
	require.Equal(t, exitError, b.run(t, "wait", "nov", "--exit-status"))
	require.Contains(t, b.stderr.String(), "campaign nov paused by its budget cap")

	require.Equal(t, exitError, b.run(t, "wait", "novv"))
	require.Contains(t, b.stderr.String(), `no campaign "novv"`)
}
