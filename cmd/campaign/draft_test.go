package main

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPreflightUnansweredVapi points a run at an address that accepts connections and never
// answers: the pre-flight fails within one request timeout (one connection, no retry) with a
// message that says so, and leaves no draft, so the same command can simply be run again.
func TestPreflightUnansweredVapi(t *testing.T) {
	b := setup(t)
	b.vapiTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var accepted atomic.Int32
	held := make(chan net.Conn, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			held <- conn // never read, never answered
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(held)
		for c := range held {
			c.Close()
		}
	})

	b.env[envAPIKey] = "key"
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	args := []string{"run", file, "--name", "nov", "--assistant-id", "asst", "--phone-number-id", "pn",
		"--vapi-base-url", "http://" + ln.Addr().String()}
	for try := 1; try <= 2; try++ {
		require.Equal(t, exitError, b.run(t, args...), "try %d", try)
		msg := b.stderr.String()
		require.Contains(t, msg, "Vapi at http://"+ln.Addr().String()+" did not answer within 300ms", "try %d", try)
		require.NotContains(t, msg, "already exists", "try %d", try)
		require.Contains(t, msg, "nothing was dialed", "try %d", try)
		require.Equal(t, int32(try), accepted.Load(), "one connection a run: no retry after a timeout")
	}
	var campaigns int
	require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT count(*) FROM campaign`).Scan(&campaigns))
	require.Zero(t, campaigns, "a failed pre-flight leaves no draft behind")
}

// TestDraftReuse: a dry run's draft is replaced by the same command on the same file (e.g. a dry
// run, then the real one with the same --name); a different file, or a campaign that ran, keeps
// its name, and the error says how to go on.
func TestDraftReuse(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov"), "stderr: %s", b.stderr)
	pool := b.pool(t)
	ctx := context.Background()
	var firstID int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM campaign WHERE name = 'nov'`).Scan(&firstID))

	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov", "--rate", "3"), "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Replaced the draft campaign nov")
	var (
		n    int
		rate float64
	)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), max(rate_per_second) FROM campaign WHERE name = 'nov'`).Scan(&n, &rate))
	require.Equal(t, 1, n)
	require.Equal(t, 3.0, rate, "the new command's settings apply")
	var contacts int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM contact`).Scan(&contacts))
	require.Equal(t, 9, contacts, "the old draft's contacts went with it")

	// Another file under the same name: refused, nothing changed, and the way out named.
	other := writeFile(t, dir, "other.csv", "phone,name\n+14155550100,Ann\n")
	require.Equal(t, exitError, b.run(t, "run", other, "--dry-run", "--name", "nov"))
	require.Contains(t, b.stderr.String(), "a draft campaign nov from another file already exists")
	require.Contains(t, b.stderr.String(), "campaign delete nov")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM contact`).Scan(&contacts))
	require.Equal(t, 9, contacts)

	// A campaign that ran is never replaced.
	_, err := pool.Exec(ctx, `UPDATE campaign SET status = 'paused' WHERE name = 'nov'`)
	require.NoError(t, err)
	require.Equal(t, exitError, b.run(t, "run", file, "--dry-run", "--name", "nov"))
	require.Contains(t, b.stderr.String(), "campaign nov already exists (paused)")
	require.Contains(t, b.stderr.String(), "campaign resume nov")
}
