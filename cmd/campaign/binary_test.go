package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBinaryOnManagedPostgres builds the real binary and runs the README's demo with no
// DATABASE_URL, so the CLI starts and uses the Postgres it manages itself: as the current user
// and, when the tests run as root, as an unprivileged user too.
func TestBinaryOnManagedPostgres(t *testing.T) {
	users := []string{""} // the current user
	if os.Geteuid() == 0 {
		users = append(users, "nobody")
	}
	for _, name := range users {
		t.Run("user="+cmp.Or(name, "current"), func(t *testing.T) {
			dir := sharedTempDir(t, name)
			bin := filepath.Join(dir, "campaign")
			build := exec.Command("go", "build", "-o", bin, ".")
			out, err := build.CombinedOutput()
			require.NoError(t, err, "go build: %s", out)
			csvPath := copyFile(t, "../../examples/customers.csv", dir)
			chownTree(t, dir, name)

			env := []string{
				"PATH=" + os.Getenv("PATH"),
				"HOME=" + dir,
				"XDG_STATE_HOME=" + filepath.Join(dir, "state"),
			}
			var args []string
			if os.Geteuid() == 0 && name == "" {
				// Root's default data directory is a system one; keep the test's own.
				args = []string{"--data-dir", filepath.Join(dir, "pg")}
			}
			runBin := func(extra ...string) (string, string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, append(extra, args...)...)
				cmd.Env = env
				cmd.Dir = dir
				if name != "" {
					cmd.SysProcAttr = &syscall.SysProcAttr{Credential: credential(t, name)}
				}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				return stdout.String(), stderr.String(), err
			}
			t.Cleanup(func() {
				_, stderr, err := runBin("db", "stop")
				if err != nil {
					t.Errorf("db stop: %v: %s", err, stderr)
				}
			})

			stdout, stderr, err := runBin("run", csvPath, "--dry-run", "--format", "json")
			require.NoError(t, err, "stderr: %s", stderr)
			var r dryRunReport
			require.NoError(t, json.Unmarshal([]byte(stdout), &r))
			require.Equal(t, 9, r.Accepted)

			// A second run reuses the same server and sees the first campaign's data.
			urlOut, stderr, err := runBin("db", "url")
			require.NoError(t, err, "stderr: %s", stderr)
			require.True(t, strings.HasPrefix(urlOut, "postgres://"), urlOut)
			stdout, stderr, err = runBin("run", csvPath, "--dry-run", "--format", "json")
			require.NoError(t, err, "stderr: %s", stderr)
			require.NoError(t, json.Unmarshal([]byte(stdout), &r))
			require.Greater(t, r.Campaign.ID, int64(1), "the first campaign is still stored")
		})
	}
}

// sharedTempDir returns a temporary directory the named user can use (t.TempDir's parents
// are private to the current user).
func sharedTempDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "campaign-bin-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func chownTree(t *testing.T, dir, name string) {
	t.Helper()
	if name == "" {
		return
	}
	c := credential(t, name)
	require.NoError(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, int(c.Uid), int(c.Gid))
	}))
}

func credential(t *testing.T, name string) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup(name)
	require.NoError(t, err)
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	require.NoError(t, err)
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	require.NoError(t, err)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}
