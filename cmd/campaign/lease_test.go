package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// leaseTestTTL is the runner lease's TTL in these tests (CAMPAIGN_LEASE_TTL): a killed runner
// shows as gone this long after its last heartbeat.
const leaseTestTTL = "3s"

// fixtureRunner gives campaign id a live runner for an hour, as a running process would: a
// fixture set running by hand is otherwise an orphan.
func fixtureRunner(t *testing.T, store *campaign.Store, id int64) {
	t.Helper()
	require.NoError(t, store.AcquireLease(context.Background(), campaign.Runner{ID: "fixture-" + strconv.FormatInt(id, 10),
		CampaignID: id, Mode: campaign.ModeForeground, Host: "fixture-host", PID: 4242}, time.Hour))
}

// startCampaignBin starts the built binary with args on dbURL, with env besides the basics, and
// registers its SIGKILL at the test's end if it still runs.
func startCampaignBin(t *testing.T, bin, dbURL, name string, env []string, args ...string) *killProc {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		envDatabaseURL + "=" + dbURL,
		"CAMPAIGN_LOG_LEVEL=info",
		"CAMPAIGN_LEASE_TTL=" + leaseTestTTL,
	}, env...)
	p := &killProc{name: name, cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	require.NoError(t, cmd.Start(), "start %s", name)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("---- stderr of %s (exit: %v) ----\n%s", p.name, p.err, p.stderr.String())
		}
	})
	waitUntil(t, time.Minute, p.name+" dispatching", func() bool {
		require.False(t, p.exited() && !strings.Contains(p.stderr.String(), dispatching),
			"%s ended before it dispatched: %v\n%s", p.name, p.err, p.stderr.String())
		return strings.Contains(p.stderr.String(), dispatching)
	})
	return p
}

// waitExit waits for p to end and returns its exit code; a process ended by a signal fails the test.
func waitExit(t *testing.T, p *killProc, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		require.FailNow(t, p.name+" did not end", "waited %s\n%s", within, p.stderr.String())
	}
	if p.err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	require.ErrorAs(t, p.err, &exitErr)
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	require.True(t, ok && !ws.Signaled(), "%s was killed by %v instead of winding down:\n%s", p.name, ws.Signal(), p.stderr.String())
	return exitErr.ExitCode()
}

// TestRunWindsDownOnHangupAndTerm sends SIGHUP (a closed terminal) and SIGTERM to the real binary
// in `campaign run --simulate`: each is handled like Ctrl-C: the campaign is paused, the calls in
// flight are waited for, the summary and the resume command are written, and the runner's lease
// is gone.
func TestRunWindsDownOnHangupAndTerm(t *testing.T) {
	t.Parallel()
	bin := buildServeBinary(t)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{{"SIGHUP", syscall.SIGHUP}, {"SIGTERM", syscall.SIGTERM}} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			csv := writeFile(t, t.TempDir(), "sig.csv", killContacts(60))
			name := "sig-" + strings.ToLower(tc.name)
			p := startCampaignBin(t, bin, b.databaseURL(), "run", nil, "run", csv, "--simulate", "--name", name, "--grace", "30s")
			require.NoError(t, p.cmd.Process.Signal(tc.sig))
			require.Equal(t, exitError, waitExit(t, p, time.Minute), "an interrupted run exits non-zero")

			out := p.stderr.String()
			require.Contains(t, out, "Interrupted ("+tc.name+"): no new calls")
			require.Contains(t, out, "Campaign "+name+": ")
			require.Contains(t, out, "contacts final in")
			require.Contains(t, out, "continue with: campaign resume "+name+" --simulate\n", "a simulated campaign goes on only with --simulate")
			var status string
			var runners int
			require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT status,
					(SELECT count(*) FROM campaign_runner)::int FROM campaign WHERE name = $1`, name).Scan(&status, &runners))
			require.Equal(t, "paused", status)
			require.Zero(t, runners, "a clean exit deletes its lease")
		})
	}
}

// TestKilledRunIsOrphaned SIGKILLs a `campaign run --simulate`: while it runs, status shows its
// runner; once its lease has expired, status and list show the campaign as orphaned, with the
// command that continues it.
func TestKilledRunIsOrphaned(t *testing.T) {
	t.Parallel()
	bin := buildServeBinary(t)
	b := setup(t)
	b.realClock = true
	csv := writeFile(t, t.TempDir(), "orphan.csv", killContacts(60))
	p := startCampaignBin(t, bin, b.databaseURL(), "run", nil, "run", csv, "--simulate", "--name", "phantom")

	require.Equal(t, exitOK, b.run(t, "status", "phantom"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "Campaign phantom (id ")
	require.Contains(t, b.stdout.String(), "runner:")
	require.NotContains(t, b.stdout.String(), "orphaned", "a live run is not an orphan")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done

	waitUntil(t, time.Minute, "status shows the orphan", func() bool {
		require.Equal(t, exitOK, b.run(t, "status", "phantom"), "stderr: %s", b.stderr)
		return strings.Contains(b.stdout.String(), "orphaned")
	})
	out := b.stdout.String()
	require.Contains(t, out, "running (orphaned)")
	require.Contains(t, out, "no runner since ")
	require.Contains(t, out, "campaign resume phantom --simulate")

	require.Equal(t, exitOK, b.run(t, "status", "phantom", "--format", "json"), "stderr: %s", b.stderr)
	var r map[string]any
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r))
	require.Equal(t, true, r["orphaned"])
	require.NotEmpty(t, r["no_runner_since"])

	require.Equal(t, exitOK, b.run(t, "list"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "running (orphaned)")
	require.Contains(t, b.stdout.String(), "phantom: no runner since ")
	require.Equal(t, exitOK, b.run(t, "list", "--format", "json"), "stderr: %s", b.stderr)
	var items []map[string]any
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &items))
	require.Len(t, items, 1)
	require.Equal(t, true, items[0]["orphaned"])

	require.Equal(t, exitOK, b.run(t, "report", "phantom"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "no runner since ")
}

// TestServeAdoptsOrphans SIGKILLs a foreground run and a simulated run; campaign serve
// --adopt-orphans adopts the foreground campaign (one log line) and finishes it, and leaves the
// simulated one alone.
func TestServeAdoptsOrphans(t *testing.T) {
	t.Parallel()
	bin := buildServeBinary(t)
	b := setup(t)
	b.realClock = true
	sim := newServeSim(t, vapitest.Config{Seed: 7, TimeScale: 120})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hookAddr := ln.Addr().String()
	require.NoError(t, ln.Close())

	dir := t.TempDir()
	fg := startCampaignBin(t, bin, b.databaseURL(), "foreground run",
		[]string{envAPIKey + "=" + sim.Config().APIKey},
		"run", writeFile(t, dir, "fg.csv", killContacts(20)), "--name", "fg", "--vapi-base-url", sim.url,
		"--public-url", "http://"+hookAddr, "--webhook-listen", hookAddr,
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-adopt", "--allow-missing-variables",
		"--window", "always", "--rate", "2", "--retry", "none", "--max-attempts", "1")
	simulated := startCampaignBin(t, bin, b.databaseURL(), "simulated run", nil,
		"run", writeFile(t, dir, "sim.csv", killContacts(40)), "--simulate", "--name", "simulated")
	for _, p := range []*killProc{fg, simulated} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		<-p.done
	}
	waitUntil(t, time.Minute, "both campaigns orphaned", func() bool {
		require.Equal(t, exitOK, b.run(t, "list"), "stderr: %s", b.stderr)
		return strings.Count(b.stdout.String(), "running (orphaned)") == 2
	})

	serve := startServeBinary(t, bin, "serve", b.databaseURL(), sim, "--adopt-orphans", "--listen", hookAddr)
	pool := b.pool(t)
	waitUntil(t, 4*time.Minute, "serve finished the adopted campaign", func() bool {
		var status string
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT status FROM campaign WHERE name = 'fg'`).Scan(&status))
		return status == "completed"
	})
	var final int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM contact ct JOIN campaign c
		ON c.id = ct.campaign_id WHERE c.name = 'fg' AND ct.state IN ('completed', 'failed', 'do_not_call')`).Scan(&final))
	require.Equal(t, 20, final)

	logs := serve.stderr.String()
	require.Equal(t, 1, strings.Count(logs, "adopted an orphaned campaign"), "one line per adoption:\n%s", logs)
	require.Contains(t, logs, "campaign=fg")
	require.Contains(t, logs, "dropped_public_url=http://"+hookAddr, "the dead run's receiver is dropped; results are polled")
	var publicURL string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT public_url FROM campaign WHERE name = 'fg'`).Scan(&publicURL))
	require.Empty(t, publicURL)
	var mode, status string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT mode, status FROM campaign WHERE name = 'simulated'`).
		Scan(&mode, &status))
	require.Equal(t, "simulated", mode, "a simulated campaign is never adopted")
	require.Equal(t, "running", status)
	require.Equal(t, exitOK, b.run(t, "status", "simulated"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "running (orphaned)")

	serve.stop()
	code := serve.wait(t, time.Minute)
	require.Equal(t, exitOK, code, "stderr: %s", serve.stderr)
}

// TestDeleteWhileARunWatches: a paused campaign whose run still watches it is not deleted
// without --force (the error names the runner and what to do); deleted with --force, the run
// ends at once saying so, its heartbeat stops with one log line, and its dial jobs are cancelled.
func TestDeleteWhileARunWatches(t *testing.T) {
	t.Parallel()
	bin := buildServeBinary(t)
	b := setup(t)
	csv := writeFile(t, t.TempDir(), "watched.csv", killContacts(60))
	p := startCampaignBin(t, bin, b.databaseURL(), "run", nil, "run", csv, "--simulate", "--name", "watched", "--grace", "10m")
	require.Equal(t, exitOK, b.run(t, "pause", "watched"), "stderr: %s", b.stderr)

	require.Equal(t, exitError, b.run(t, "delete", "watched", "--purge"))
	out := b.stderr.String()
	require.Contains(t, out, "campaign watched is still watched by campaign run")
	require.Contains(t, out, "pid "+strconv.Itoa(p.cmd.Process.Pid))
	require.Contains(t, out, "--force")
	require.False(t, p.exited(), "the run goes on")

	require.Equal(t, exitOK, b.run(t, "delete", "watched", "--purge", "--force"), "stderr: %s", b.stderr)
	require.Equal(t, exitError, waitExit(t, p, time.Minute))
	require.Contains(t, p.stderr.String(), "campaign watched was deleted")
	require.NotContains(t, p.stderr.String(), "database unreachable")
	require.LessOrEqual(t, strings.Count(p.stderr.String(), "runner heartbeat"), 1, "at most one heartbeat line")
}
