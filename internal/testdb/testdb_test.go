package testdb_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/localpg"
	"github.com/campaign-run/campaign/internal/testdb"
)

func TestMain(m *testing.M) {
	os.Exit(testdb.Main(m))
}

// TestPool checks that a test gets a migrated schema of its own.
func TestPool(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := testdb.Pool(t)
	var searchPath string
	require.NoError(t, pool.QueryRow(ctx, "SHOW search_path").Scan(&searchPath))
	require.True(t, strings.HasPrefix(searchPath, "t_"), searchPath)
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM campaign").Scan(&n))
	require.Zero(t, n)
}

// TestMainStopsTheManagedPostgres runs this test binary's TestPool in a child process with no
// TEST_DATABASE_URL and no Docker, so that it starts the managed local Postgres, and checks that
// no server is left running in that data directory once the child has exited.
func TestMainStopsTheManagedPostgres(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	// As root the server runs as user postgres, who must reach the data directory.
	require.NoError(t, os.Chmod(filepath.Dir(tmp), 0o755))
	require.NoError(t, os.Chmod(tmp, 0o755))
	dataDir := filepath.Join(tmp, fmt.Sprintf("campaign-test-pg-%d", os.Getuid()))
	t.Cleanup(func() { require.NoError(t, localpg.Stop(context.Background(), localpg.Options{DataDir: dataDir})) })

	child := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestPool$", "-test.count", "1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEST_DATABASE_URL=") && !strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "DOCKER_HOST=") {
			child.Env = append(child.Env, kv)
		}
	}
	child.Env = append(child.Env, "TMPDIR="+tmp, "DOCKER_HOST=unix://"+filepath.Join(tmp, "no-docker.sock"))
	out, err := child.CombinedOutput()
	require.NoError(t, err, "child:\n%s", out)

	require.FileExists(t, filepath.Join(dataDir, "PG_VERSION"), "the child used the managed local Postgres")
	running, _, err := localpg.Status(t.Context(), localpg.Options{DataDir: dataDir})
	require.NoError(t, err)
	require.False(t, running, "the child left its Postgres running")
	require.NoFileExists(t, filepath.Join(dataDir, "postmaster.pid"), "the child left its Postgres running")
}
