package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// helperDataDirEnv makes the test binary act as a CLI process that calls Ensure and exits (see
// TestMain), for the tests that need several processes.
const helperDataDirEnv = "LOCALPG_TEST_HELPER_DATA_DIR"

// helperShareEnv makes the helper process call Share instead of Ensure, and exit without
// releasing, as a process killed with SIGKILL would.
const helperShareEnv = "LOCALPG_TEST_HELPER_SHARE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDataDirEnv); dir != "" {
		os.Exit(helperEnsure(dir, os.Getenv(helperShareEnv) == "1"))
	}
	os.Exit(m.Run())
}

// helperEnsure is the body of a helper process: Ensure, report the URL on stdout, exit.
func helperEnsure(dataDir string, share bool) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ensure := Ensure
	if share {
		ensure = func(ctx context.Context, opts Options) (*Server, error) {
			srv, _, err := Share(ctx, opts)
			return srv, err
		}
	}
	srv, err := ensure(context.Background(), Options{DataDir: dataDir, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stdout, "%s %t\n", srv.URL, srv.Initialized)
	return 0
}

type testBundle struct {
	opts    Options
	dataDir string
}

// setup returns options for a fresh data directory that the server's user can reach, and stops
// the server when the test ends.
func setup(t *testing.T) testBundle {
	t.Helper()
	dataDir := filepath.Join(reachableTempDir(t), "pg")
	opts := Options{DataDir: dataDir, Logger: testLogger(t)}
	t.Cleanup(func() {
		require.NoError(t, Stop(context.Background(), opts))
	})
	return testBundle{opts: opts, dataDir: dataDir}
}

// reachableTempDir is t.TempDir() opened up (0755, with its parent) so that the unprivileged
// user the server runs as when we are root can reach it.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), connString)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	pid, ok, err := readPID(filepath.Join(dataDir, "postmaster.pid"))
	require.NoError(t, err)
	require.True(t, ok, "postmaster.pid has a pid")
	return pid
}

// snapshot describes every file under dir (path, mode, owner, content), to prove it untouched.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v %d:%d", path, fi.Mode(), st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			content, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", content)
		}
		b.WriteString("\n")
		return nil
	})
	require.NoError(t, err)
	return b.String()
}

func TestEnsureFreshStartAndPersistence(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tb := setup(t)

	srv, err := Ensure(ctx, tb.opts)
	require.NoError(t, err)
	require.True(t, srv.Initialized)
	require.False(t, srv.Adopted)
	require.Equal(t, tb.dataDir, srv.DataDir)
	require.Equal(t, "postgres://postgres@/campaign?host="+url.QueryEscape(tb.dataDir)+"&port=5432&sslmode=disable", srv.URL)
	require.FileExists(t, filepath.Join(tb.dataDir, "PG_VERSION"))
	require.FileExists(t, logPath(tb.dataDir))
	require.NoDirExists(t, tb.dataDir+".initdb-tmp")

	if os.Geteuid() == 0 {
		// The data directory and the server belong to the unprivileged user.
		pgUser, err := user.Lookup("postgres")
		require.NoError(t, err)
		fi, err := os.Stat(tb.dataDir)
		require.NoError(t, err)
		require.Equal(t, pgUser.Uid, strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)))
		require.Equal(t, fs.FileMode(0o700), fi.Mode().Perm())
		proc, err := os.Stat("/proc/" + strconv.Itoa(postmasterPID(t, tb.dataDir)))
		require.NoError(t, err)
		require.Equal(t, pgUser.Uid, strconv.Itoa(int(proc.Sys().(*syscall.Stat_t).Uid)))
	}

	conn := connect(t, srv.URL)
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
	var db, listen string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&db))
	require.Equal(t, DatabaseName, db)
	require.NoError(t, conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen))
	require.Empty(t, listen, "no TCP")
	_, err = conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives restart')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	require.NoError(t, Stop(ctx, tb.opts))
	running, statusURL, err := Status(ctx, tb.opts)
	require.NoError(t, err)
	require.False(t, running)
	require.Empty(t, statusURL)
	require.NoFileExists(t, filepath.Join(tb.dataDir, "postmaster.pid"))
	require.NoError(t, Stop(ctx, tb.opts), "stopping a stopped server is fine")

	srv2, err := Ensure(ctx, tb.opts)
	require.NoError(t, err)
	require.False(t, srv2.Initialized)
	require.False(t, srv2.Adopted)
	require.Equal(t, srv.URL, srv2.URL)
	var v string
	require.NoError(t, connect(t, srv2.URL).QueryRow(ctx, "SELECT v FROM kept").Scan(&v))
	require.Equal(t, "survives restart", v)

	running, statusURL, err = Status(ctx, tb.opts)
	require.NoError(t, err)
	require.True(t, running)
	require.Equal(t, srv.URL, statusURL)
}

func TestEnsureAdoptsRunningServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tb := setup(t)
	// An existing empty data directory (here root's, 0755 when we are root) is initialised in
	// place and given to the server's user.
	require.NoError(t, os.Mkdir(tb.dataDir, 0o755))

	srv1, err := Ensure(ctx, tb.opts)
	require.NoError(t, err)
	require.True(t, srv1.Initialized)
	require.False(t, srv1.Adopted)
	pid := postmasterPID(t, tb.dataDir)

	srv2, err := Ensure(ctx, tb.opts)
	require.NoError(t, err)
	require.True(t, srv2.Adopted)
	require.False(t, srv2.Initialized)
	require.Equal(t, srv1.URL, srv2.URL)
	require.Equal(t, pid, postmasterPID(t, tb.dataDir), "same server process")
	require.NoError(t, connect(t, srv2.URL).Ping(ctx))
}

// A SIGKILLed postmaster leaves a stale postmaster.pid (here naming a zombie, as this machine's
// init does not reap orphans) and a backend that keeps its shared memory until it exits. Ensure
// must wait for that backend, then start the server on the old data.
func TestEnsureRecoversFromKilledServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tb := setup(t)

	srv, err := Ensure(ctx, tb.opts)
	require.NoError(t, err)
	conn := connect(t, srv.URL)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives kill')")
	require.NoError(t, err)

	// A backend busy in a loop does not notice the postmaster's death: an orphan holding shared
	// memory. statement_timeout ends it should the test fail before killing it.
	busy := connect(t, srv.URL)
	var busyPID int
	require.NoError(t, busy.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&busyPID))
	t.Cleanup(func() { _ = syscall.Kill(busyPID, syscall.SIGKILL) })
	_, err = busy.Exec(ctx, "SET statement_timeout = '60s'")
	require.NoError(t, err)
	busyDone := make(chan error, 1)
	go func() {
		_, err := busy.Exec(context.Background(), "DO $$ BEGIN LOOP END LOOP; END $$")
		busyDone <- err
	}()
	require.Eventually(t, func() bool {
		var active bool
		err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active')", busyPID).Scan(&active)
		return err == nil && active
	}, 10*time.Second, 20*time.Millisecond)

	pid := postmasterPID(t, tb.dataDir)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return probePID(pid) != procAlive }, 10*time.Second, 10*time.Millisecond)

	type result struct {
		srv *Server
		err error
	}
	ensured := make(chan result, 1)
	go func() {
		srv, err := Ensure(ctx, tb.opts)
		ensured <- result{srv, err}
	}()
	// Ensure waits while the orphan holds the shared memory...
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logPath(tb.dataDir))
		return bytes.Contains(b, []byte("pre-existing shared memory block"))
	}, 20*time.Second, 20*time.Millisecond)
	// ...and succeeds once it is gone.
	require.NoError(t, syscall.Kill(busyPID, syscall.SIGKILL))
	var res result
	select {
	case res = <-ensured:
	case <-time.After(45 * time.Second):
		t.Fatal("Ensure did not return after the orphaned backend exited")
	}
	require.NoError(t, res.err)
	require.False(t, res.srv.Adopted)
	require.False(t, res.srv.Initialized)
	require.NotEqual(t, pid, postmasterPID(t, tb.dataDir))
	require.Error(t, <-busyDone)

	var v string
	require.NoError(t, connect(t, res.srv.URL).QueryRow(ctx, "SELECT v FROM kept").Scan(&v))
	require.Equal(t, "survives kill", v)
}

func TestEnsureConcurrentCallsOnFreshDir(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	// Missing parents are created too, and given to the server's user when we are root.
	base := filepath.Dir(tb.dataDir)
	tb.opts.DataDir = filepath.Join(base, "state", "campaign", "pg")
	tb.dataDir = tb.opts.DataDir
	t.Cleanup(func() { require.NoError(t, Stop(context.Background(), tb.opts)) })

	const n = 3
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { servers[i], errs[i] = Ensure(t.Context(), tb.opts) })
	}
	wg.Wait()

	var initialized, started int
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, servers[0].URL, servers[i].URL)
		if servers[i].Initialized {
			initialized++
		}
		if !servers[i].Adopted {
			started++
		}
	}
	require.Equal(t, 1, initialized, "initdb ran once")
	require.Equal(t, 1, started, "one call started the server, the others adopted it")
	require.NoError(t, connect(t, servers[0].URL).Ping(t.Context()))

	if os.Geteuid() == 0 {
		pgUser, err := user.Lookup("postgres")
		require.NoError(t, err)
		for _, dir := range []string{filepath.Join(base, "state"), filepath.Join(base, "state", "campaign")} {
			fi, err := os.Stat(dir)
			require.NoError(t, err)
			require.Equal(t, pgUser.Uid, strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)), dir)
		}
	}
}

// Several CLI processes call Ensure on one fresh data directory at once and exit; the server
// outlives them, Status sees it, and Stop stops it.
func TestEnsureFromProcessesThatExit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tb := setup(t)

	const n = 2
	cmds := make([]*exec.Cmd, n)
	stdouts := make([]*bytes.Buffer, n)
	stderrs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = exec.CommandContext(ctx, os.Args[0])
		cmds[i].Env = append(os.Environ(), helperDataDirEnv+"="+tb.dataDir)
		stdouts[i], stderrs[i] = new(bytes.Buffer), new(bytes.Buffer)
		cmds[i].Stdout, cmds[i].Stderr = stdouts[i], stderrs[i]
		require.NoError(t, cmds[i].Start())
	}
	var urls []string
	initialized := 0
	for i := range n {
		require.NoError(t, cmds[i].Wait(), "helper %d stderr:\n%s", i, stderrs[i])
		connURL, init, ok := strings.Cut(strings.TrimSpace(stdouts[i].String()), " ")
		require.True(t, ok, "helper %d stdout: %q", i, stdouts[i])
		urls = append(urls, connURL)
		if init == "true" {
			initialized++
		}
	}
	require.Equal(t, urls[0], urls[1])
	require.Equal(t, 1, initialized, "initdb ran once")

	running, statusURL, err := Status(ctx, tb.opts)
	require.NoError(t, err)
	require.True(t, running, "the server outlives the processes that started it")
	require.Equal(t, urls[0], statusURL)
	var db string
	require.NoError(t, connect(t, statusURL).QueryRow(ctx, "SELECT current_database()").Scan(&db))
	require.Equal(t, DatabaseName, db)

	require.NoError(t, Stop(ctx, tb.opts))
	running, _, err = Status(ctx, tb.opts)
	require.NoError(t, err)
	require.False(t, running)
}

func TestEnsureRefusesForeignDirectory(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	require.NoError(t, os.Mkdir(tb.dataDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tb.dataDir, "notes.txt"), []byte("precious"), 0o644))
	before := snapshot(t, tb.dataDir)

	_, err := Ensure(t.Context(), tb.opts)
	require.ErrorIs(t, err, ErrNotDataDir)
	require.ErrorContains(t, err, tb.dataDir)
	require.ErrorContains(t, err, "refusing to touch it")
	require.Equal(t, before, snapshot(t, tb.dataDir))
}

func TestEnsureRefusesOtherMajorVersion(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	require.NoError(t, os.MkdirAll(filepath.Join(tb.dataDir, "base"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(tb.dataDir, "PG_VERSION"), []byte("9\n"), 0o600))
	before := snapshot(t, tb.dataDir)

	_, err := Ensure(t.Context(), tb.opts)
	var mismatch *VersionMismatchError
	require.ErrorAs(t, err, &mismatch)
	bins, ferr := findBinaries(t.Context(), defaultSearchPath(), "", testLogger(t))
	require.NoError(t, ferr)
	require.Equal(t, &VersionMismatchError{DataDir: tb.dataDir, DataVersion: "9", BinDir: bins.dir, BinVersion: bins.major}, mismatch)
	require.ErrorContains(t, err, "PostgreSQL 9")
	require.ErrorContains(t, err, "PostgreSQL "+bins.major)
	require.ErrorContains(t, err, "--data-dir")
	require.Equal(t, before, snapshot(t, tb.dataDir))
}

// TestEnsureUnreachableDataDir checks the refusal of a data directory the server's user cannot
// reach. As root, Ensure refuses it before creating anything. As a normal user the server runs
// as this user, so the check Ensure makes as root is made here for another user.
func TestEnsureUnreachableDataDir(t *testing.T) {
	t.Parallel()
	closed := reachableTempDir(t)
	require.NoError(t, os.Chmod(closed, 0o700)) // ours, and closed to everyone else
	dataDir := filepath.Join(closed, "pg")
	want := &UnreachableDataDirError{DataDir: dataDir, Dir: closed, User: "postgres"}

	if os.Geteuid() != 0 {
		other := uint32(os.Getegid()) + 1
		err := checkReachable(dataDir, &identity{name: "postgres", uid: uint32(os.Geteuid()) + 1, gid: other, groups: []uint32{other}})
		var unreachable *UnreachableDataDirError
		require.ErrorAs(t, err, &unreachable)
		require.Equal(t, want, unreachable)
		require.ErrorContains(t, err, "--data-dir /var/lib/campaign/pg")
		require.NoError(t, checkReachable(dataDir, &identity{name: "me", uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}),
			"the owner reaches it")
		return
	}

	_, err := Ensure(t.Context(), Options{DataDir: dataDir, Logger: testLogger(t)})
	var unreachable *UnreachableDataDirError
	require.ErrorAs(t, err, &unreachable)
	require.Equal(t, want, unreachable)
	require.ErrorContains(t, err, closed)
	require.ErrorContains(t, err, "--data-dir /var/lib/campaign/pg")
	entries, err := os.ReadDir(closed)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing created")
}

func TestEnsureRejectsOverlongSocketPath(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(reachableTempDir(t), strings.Repeat("d", 100), "pg")
	_, err := Ensure(t.Context(), Options{DataDir: dataDir, Logger: testLogger(t)})
	require.ErrorContains(t, err, "too long")
	require.ErrorContains(t, err, socketPath(dataDir))
	require.NoDirExists(t, filepath.Dir(dataDir))
}

func TestEnsureWithoutBinaries(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	opts := Options{
		DataDir: filepath.Join(reachableTempDir(t), "pg"),
		Logger:  testLogger(t),
		search:  &searchPath{path: empty, globs: []string{filepath.Join(empty, "*", "bin")}},
	}
	_, err := Ensure(t.Context(), opts)
	var noBins *NoBinariesError
	require.ErrorAs(t, err, &noBins)
	require.Len(t, noBins.Searched, 3)
	for _, want := range []string{
		"pg_config", empty, // what was searched
		"apt-get install postgresql", "brew install postgresql@16",
		"docker compose up -d db",
		"DATABASE_URL=postgres://campaign:campaign@localhost:5432/campaign?sslmode=disable",
		"--database-url",
	} {
		require.ErrorContains(t, err, want)
	}
	require.NoFileExists(t, filepath.Join(opts.DataDir, "PG_VERSION"))
}

func TestStopAndStatusWithoutServer(t *testing.T) {
	t.Parallel()
	opts := Options{DataDir: filepath.Join(reachableTempDir(t), "pg"), Logger: testLogger(t)}
	require.NoError(t, Stop(t.Context(), opts))
	running, connString, err := Status(t.Context(), opts)
	require.NoError(t, err)
	require.False(t, running)
	require.Empty(t, connString)
}

// fakeBinDir makes dir/initdb and dir/pg_ctl scripts that report PostgreSQL version.
func fakeBinDir(t *testing.T, dir, version string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, name := range []string{"initdb", "pg_ctl"} {
		script := fmt.Sprintf("#!/bin/sh\necho '%s (PostgreSQL) %s'\n", name, version)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755))
	}
	return dir
}

func TestFindBinariesSearchOrder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	configured := fakeBinDir(t, filepath.Join(root, "configured"), "13.4")
	onPath := fakeBinDir(t, filepath.Join(root, "path"), "14.1")
	pgConfigDir := filepath.Join(root, "pgconfig")
	require.NoError(t, os.MkdirAll(pgConfigDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pgConfigDir, "pg_config"), []byte("#!/bin/sh\necho "+configured+"\n"), 0o755))
	badConfigDir := filepath.Join(root, "badconfig")
	require.NoError(t, os.MkdirAll(badConfigDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(badConfigDir, "pg_config"), []byte("#!/bin/sh\necho "+root+"/nowhere\n"), 0o755))
	versions := filepath.Join(root, "versions")
	fakeBinDir(t, filepath.Join(versions, "9.6", "bin"), "9.6.24")
	fakeBinDir(t, filepath.Join(versions, "12", "bin"), "12.19")
	v16 := fakeBinDir(t, filepath.Join(versions, "16", "bin"), "16.3")
	fakeBinDir(t, filepath.Join(versions, "17", "bin-without-binaries"), "17.0")
	globs := []string{filepath.Join(versions, "*", "bin")}

	for _, tt := range []struct {
		name      string
		path      string
		wantMajor string
		wantDir   string
		wantVer   string
	}{
		{"pg_config first", pgConfigDir + ":" + onPath, "", configured, "13"},
		{"pg_config without binaries falls through to PATH", badConfigDir + ":" + onPath, "", onPath, "14"},
		{"PATH before versioned dirs", onPath, "", onPath, "14"},
		{"highest versioned dir", "", "", v16, "16"},
		{"data directory's version preferred", pgConfigDir + ":" + onPath, "12", filepath.Join(versions, "12", "bin"), "12"},
		{"pre-10 major versions", "", "9.6", filepath.Join(versions, "9.6", "bin"), "9.6"},
		{"no match: first found, for the caller to report", onPath, "11", onPath, "14"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bins, err := findBinaries(t.Context(), searchPath{path: tt.path, globs: globs}, tt.wantMajor, testLogger(t))
			require.NoError(t, err)
			require.Equal(t, tt.wantDir, bins.dir)
			require.Equal(t, tt.wantVer, bins.major)
		})
	}

	t.Run("real binaries on this machine", func(t *testing.T) {
		bins, err := findBinaries(t.Context(), defaultSearchPath(), "", testLogger(t))
		require.NoError(t, err)
		require.FileExists(t, filepath.Join(bins.dir, "pg_ctl"))
		require.FileExists(t, filepath.Join(bins.dir, "initdb"))
		require.NotEmpty(t, bins.major)
	})
}

func TestDefaultDataDir(t *testing.T) {
	t.Parallel()
	home := func() (string, error) { return "/home/ann", nil }
	noHome := func() (string, error) { return "", errors.New("$HOME is not defined") }
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	for _, tt := range []struct {
		name    string
		euid    int
		getenv  func(string) string
		homeDir func() (string, error)
		want    string
	}{
		{"XDG_STATE_HOME", 1000, env(map[string]string{"XDG_STATE_HOME": "/state"}), home, "/state/campaign/pg"},
		{"home", 1000, env(nil), home, "/home/ann/.local/state/campaign/pg"},
		{"relative XDG_STATE_HOME ignored", 1000, env(map[string]string{"XDG_STATE_HOME": "state"}), home, "/home/ann/.local/state/campaign/pg"},
		{"root", 0, env(map[string]string{"XDG_STATE_HOME": "/root/.local/state"}), home, "/var/lib/campaign/pg"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := defaultDataDir(tt.euid, tt.getenv, tt.homeDir)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := defaultDataDir(1000, env(nil), noHome)
	require.ErrorContains(t, err, "default data directory")

	got, err := DefaultDataDir()
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		require.Equal(t, RootDataDir, got)
	}
}

// TestShare checks that a server shared by several processes keeps running while one of them
// uses it and is stopped by the last one to release it, a user that died without releasing
// (SIGKILL) included.
func TestShare(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dataDir := filepath.Join(reachableTempDir(t), "pg")
	opts := Options{DataDir: dataDir, Logger: testLogger(t)}
	t.Cleanup(func() { require.NoError(t, Stop(context.Background(), opts)) })

	dead := exec.CommandContext(ctx, os.Args[0])
	dead.Env = append(os.Environ(), helperDataDirEnv+"="+dataDir, helperShareEnv+"=1")
	out, err := dead.CombinedOutput()
	require.NoError(t, err, "helper: %s", out)
	users, err := os.ReadDir(dataDir + ".users")
	require.NoError(t, err)
	require.Len(t, users, 1, "the helper registered and died without releasing")

	srv1, release1, err := Share(ctx, opts)
	require.NoError(t, err)
	require.True(t, srv1.Adopted, "the helper's server is shared")
	srv2, release2, err := Share(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, srv1.URL, srv2.URL)
	var one int
	require.NoError(t, connect(t, srv1.URL).QueryRow(ctx, "SELECT 1").Scan(&one))

	require.NoError(t, release1(ctx))
	running, _, err := Status(ctx, opts)
	require.NoError(t, err)
	require.True(t, running, "another user remains")

	require.NoError(t, release2(ctx))
	require.False(t, serverProcessRunning(dataDir), "the last user stopped the server")
	users, err = os.ReadDir(dataDir + ".users")
	require.NoError(t, err)
	require.Empty(t, users, "the dead user's file is removed too")

	// A new user starts it again.
	srv3, release3, err := Share(ctx, opts)
	require.NoError(t, err)
	require.False(t, srv3.Adopted)
	require.NoError(t, release3(ctx))
	require.False(t, serverProcessRunning(dataDir))
}
