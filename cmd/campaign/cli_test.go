package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/testdb"
)

// testBundle is a CLI wired to buffers, a fixed clock, a fake environment and a database
// schema of the test's own, created on first use (databaseURL).
type testBundle struct {
	t *testing.T
	// dbURL is the URL of the test's schema; "" until databaseURL creates it.
	dbURL  string
	dbOnce sync.Once
	env    map[string]string
	now    time.Time
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	// realClock makes the CLI use time.Now instead of the fixed now (for runs that place calls).
	realClock bool
	// vapiTimeout is the Vapi client's request timeout (zero: vapi.DefaultTimeout).
	vapiTimeout time.Duration
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{
		t:   t,
		env: map[string]string{},
		// A Sunday evening in New York: 2026-11-22 23:30 UTC.
		now:    time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC),
		stdout: &bytes.Buffer{},
		stderr: &bytes.Buffer{},
	}
}

// databaseURL returns the URL of the test's own schema, created (and Postgres found) on the
// first call; the schema is dropped when the test that called setup ends. Parallel subtests
// that share a bundle may call it at once: the first creates the schema, the others wait.
func (b *testBundle) databaseURL() string {
	b.t.Helper()
	b.dbOnce.Do(func() { b.dbURL = testdb.SchemaURL(b.t) })
	return b.dbURL
}

// run executes the CLI with args (and --database-url unless the env has DATABASE_URL) and
// returns its exit code.
func (b *testBundle) run(t *testing.T, args ...string) int {
	t.Helper()
	b.stdout.Reset()
	b.stderr.Reset()
	if _, ok := b.env[envDatabaseURL]; !ok {
		args = append(args, "--database-url", b.databaseURL())
	}
	a := &app{
		in:     bytes.NewReader(nil),
		out:    b.stdout,
		errOut: b.stderr,
		getenv: func(k string) string { return b.env[k] },
		now:    func() time.Time { return b.now },

		vapiTimeout: b.vapiTimeout,
	}
	if b.realClock {
		a.now = time.Now
	}
	return execute(context.Background(), a, args)
}

func (b *testBundle) pool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), b.databaseURL())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// copyFile copies src into dir and returns the new path, so rejects files land in a temp dir.
func copyFile(t *testing.T, src, dir string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	dst := filepath.Join(dir, filepath.Base(src))
	require.NoError(t, os.WriteFile(dst, data, 0o644))
	return dst
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func decodeReport(t *testing.T, out []byte) dryRunReport {
	t.Helper()
	var r dryRunReport
	require.NoError(t, json.Unmarshal(out, &r), "stdout: %s", out)
	return r
}
