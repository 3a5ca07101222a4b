package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/testdb"
)

// TestRunInterruptedReadingStdin runs the real binary on `campaign run -` fed by a pipe that
// stays open, and sends it a real SIGINT once the import is reading the rows: the process ends
// without waiting for the pipe's end, exits 1 saying the import was interrupted and nothing was
// kept, and leaves no campaign, no contact and no rejects file behind.
func TestRunInterruptedReadingStdin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	dbURL := testdb.SchemaURL(t)
	state := filepath.Join(dir, "state")

	cmd := exec.Command(bin, "run", "-", "--dry-run", "--name", "interrupted")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_STATE_HOME=" + state, envDatabaseURL + "=" + dbURL}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = stdin.Close()
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	// 2,000 rows of 130 bytes, every 50th a bad number (so a rejects file is being written). The
	// pipe holds 64 KB and the reader's header sniffing reads as much, so when the write returns
	// the import is reading rows. They are fewer than the loader's batch, so its reader hands
	// nothing on before the end of the file: its only wait is on the open pipe.
	var b strings.Builder
	b.WriteString("phone,name,note\n")
	note := strings.Repeat("n", 100)
	for line := 2; line <= 2_001; line++ {
		phone := fmt.Sprintf("+1415%07d", 5_000_000+line)
		if line%50 == 0 {
			phone = "bad"
		}
		fmt.Fprintf(&b, "%s,Customer %d,%s\n", phone, line, note)
	}
	_, err = io.WriteString(stdin, b.String())
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.NoError(t, cmd.Process.Signal(os.Interrupt))

	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("campaign run - did not end within a minute of SIGINT with its stdin open; stderr: %s", stderr.String())
	}
	var exitErr *exec.ExitError
	require.True(t, errors.As(err, &exitErr), "exit: %v; stderr: %s", err, stderr.String())
	require.Equal(t, exitError, exitErr.ExitCode(), "stderr: %s", stderr.String())
	require.Contains(t, stderr.String(), "campaign: interrupted (interrupt) while importing stdin: nothing was imported")

	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	defer pool.Close()
	var campaigns, contacts int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM campaign`).Scan(&campaigns))
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM contact`).Scan(&contacts))
	require.Zero(t, campaigns, "no campaign left")
	require.Zero(t, contacts, "no contact left")
	left, err := os.ReadDir(filepath.Join(state, "campaign", "rejects"))
	require.NoError(t, err, "the run made the rejects directory")
	require.Empty(t, left, "no rejects file, finished or temporary, is left")
}

// TestInterruptible reads through interruptible: the input's bytes and end pass through
// unchanged, and a read blocked on an input that stays open returns the context's error once the
// context ends.
func TestInterruptible(t *testing.T) {
	t.Parallel()
	got, err := io.ReadAll(interruptible(context.Background(), strings.NewReader("phone\n+14155550100\n")))
	require.NoError(t, err)
	require.Equal(t, "phone\n+14155550100\n", string(got))

	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	r := interruptible(ctx, pr)
	go func() { _, _ = pw.Write([]byte("phone\n")) }()
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "phone\n", string(buf[:n]))

	read := make(chan error, 1)
	go func() {
		_, err := r.Read(buf) // nothing more is written: blocks until ctx ends
		read <- err
	}()
	cancel()
	require.ErrorIs(t, <-read, context.Canceled)
	_, err = r.Read(buf)
	require.ErrorIs(t, err, context.Canceled, "an ended reader stays ended")
}
