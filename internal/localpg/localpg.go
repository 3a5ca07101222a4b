// Package localpg runs a PostgreSQL server that the campaign CLI manages itself, for when the
// user gives no DATABASE_URL.
//
// It uses PostgreSQL binaries already installed on the machine (initdb and pg_ctl, found through
// `pg_config --bindir`, PATH or the usual versioned install directories) and a data directory
// under the user's state directory. The server listens on no TCP port: its Unix socket lives
// inside the 0700 data directory, so only the owner (and root) can reach it, no port can clash,
// and trust authentication is safe.
//
// PostgreSQL refuses to run as root, so when this process is root, initdb, pg_ctl and the server
// run as an unprivileged user (by default "postgres"), and the data directory must be one that
// user can reach.
//
// Ensure is idempotent and safe to call from several processes at once: it takes an exclusive
// lock next to the data directory, adopts a server that is already running, starts one left
// stopped (or orphaned by a crash), and never deletes or re-initialises an existing data
// directory. The server keeps running after the calling process exits; Stop stops it.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DatabaseName is the database that Ensure creates and that Server.URL names.
const DatabaseName = "campaign"

// RootDataDir is the default data directory when this process runs as root: the unprivileged
// user the server runs as cannot reach a directory under /root.
const RootDataDir = "/var/lib/campaign/pg"

const (
	// superuser is the bootstrap superuser that initdb creates (-U).
	superuser = "postgres"
	// port only names the socket file (.s.PGSQL.5432); the server listens on no TCP port.
	port = 5432
	// defaultRunAs is the user the server runs as when this process is root.
	defaultRunAs = "postgres"

	// startTimeout bounds `pg_ctl start -w` and `pg_ctl stop -w` (pg_ctl -t, in seconds).
	startTimeout = 60 * time.Second
	// readyTimeout bounds how long Ensure waits for a running server that does not yet accept
	// connections (it may be starting up or recovering).
	readyTimeout = 60 * time.Second
	// orphanTimeout bounds how long Ensure waits for backends orphaned by a killed postmaster to
	// exit and release shared memory.
	orphanTimeout = 30 * time.Second
	// pollInterval is how often Ensure re-checks a condition it waits on.
	pollInterval = 100 * time.Millisecond
	// pingTimeout bounds one connection attempt to the server.
	pingTimeout = 3 * time.Second
)

// Options configures Ensure, Stop and Status.
type Options struct {
	// DataDir is the PostgreSQL data directory. "" means DefaultDataDir(). A relative path is
	// made absolute.
	DataDir string
	// Logger receives progress and diagnostics. nil means discard.
	Logger *slog.Logger
	// RunAs names the unprivileged OS user the server runs as when this process is root
	// ("" means "postgres", which must then exist). Ignored when not root.
	RunAs string

	// search overrides where PostgreSQL binaries are looked for; nil means the real
	// environment. Tests set it.
	search *searchPath
}

// Server is a running managed Postgres.
type Server struct {
	// DataDir is the absolute path of the data directory; the server's Unix socket lives in it.
	DataDir string
	// BinDir holds the initdb and pg_ctl that manage this server.
	BinDir string
	// Version is the PostgreSQL major version of the binaries and the data directory, e.g. "15".
	Version string
	// URL is a pgx- and psql-compatible URL for database "campaign" over the Unix socket, e.g.
	// postgres://postgres@/campaign?host=%2Fvar%2Flib%2Fcampaign%2Fpg&port=5432&sslmode=disable.
	URL string
	// Adopted is true when an already running server was reused.
	Adopted bool
	// Initialized is true when this call created the data directory with initdb.
	Initialized bool
}

// config is Options resolved: what every operation needs.
type config struct {
	dataDir string
	log     *slog.Logger
	search  searchPath
	runAs   string
}

func newConfig(opts Options) (*config, error) {
	c := &config{log: opts.Logger, runAs: opts.RunAs}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.runAs == "" {
		c.runAs = defaultRunAs
	}
	if opts.search != nil {
		c.search = *opts.search
	} else {
		c.search = defaultSearchPath()
	}
	dir := opts.DataDir
	if dir == "" {
		var err error
		if dir, err = DefaultDataDir(); err != nil {
			return nil, err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %q: %w", opts.DataDir, err)
	}
	if err := checkDataDirPath(dir); err != nil {
		return nil, err
	}
	c.dataDir = dir
	return c, nil
}

// checkDataDirPath rejects data directory paths that pg_ctl cannot use: pg_ctl passes the path
// through /bin/sh inside double quotes, and the socket path inside it must fit in sun_path.
func checkDataDirPath(dir string) error {
	for _, r := range dir {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("\"$`\\", r) {
			return fmt.Errorf("data directory %q contains %q, which pg_ctl cannot quote safely; choose another --data-dir", dir, r)
		}
	}
	sock := socketPath(dir)
	if limit := maxSocketPathLen(); len(sock) > limit {
		return fmt.Errorf("data directory %s is too long: its Unix socket path %s would be %d bytes, more than the %d the OS allows; choose a shorter --data-dir (e.g. %s)",
			dir, sock, len(sock), limit, RootDataDir)
	}
	return nil
}

// socketPath is the path of the server's Unix socket in dir.
func socketPath(dir string) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// maxSocketPathLen is the longest Unix socket path PostgreSQL accepts: sizeof(sun_path) - 1.
func maxSocketPathLen() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103 // macOS and the BSDs
}

// connURL returns the URL of database db over the Unix socket in dir. The port is explicit so
// that a PGPORT in the environment cannot redirect the client to another socket name.
func connURL(dir, db string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&sslmode=disable",
		superuser, db, url.QueryEscape(dir), port)
}

// Ensure makes sure a server is running for the data directory and database "campaign" exists
// in it, and returns how to reach it. It finds the binaries, runs initdb if the directory is
// missing or empty, adopts a server that is already running or starts one (recovering from a
// killed server or CLI), and holds an exclusive lock on DataDir+".lock" throughout, so
// concurrent calls from several processes are safe.
//
// Ensure never deletes or re-initialises an existing data directory: it fails if the directory
// is not empty and not a PostgreSQL data directory, or was created by another major version.
func Ensure(ctx context.Context, opts Options) (*Server, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	var id *identity
	if os.Geteuid() == 0 {
		if id, err = lookupIdentity(c.runAs); err != nil {
			return nil, err
		}
		if err := checkReachable(c.dataDir, id); err != nil {
			return nil, err
		}
	}
	unlock, err := prepareAndLock(ctx, c, id)
	if err != nil {
		return nil, err
	}
	defer unlock()

	dataVersion, exists, err := inspectDataDir(c.dataDir)
	if err != nil {
		return nil, err
	}
	bins, err := findBinaries(ctx, c.search, dataVersion, c.log)
	if err != nil {
		return nil, err
	}
	if dataVersion != "" && dataVersion != bins.major {
		return nil, &VersionMismatchError{DataDir: c.dataDir, DataVersion: dataVersion, BinDir: bins.dir, BinVersion: bins.major}
	}
	srv := &Server{
		DataDir: c.dataDir,
		BinDir:  bins.dir,
		Version: bins.major,
		URL:     connURL(c.dataDir, DatabaseName),
	}
	r := runner{id: id}
	if dataVersion == "" {
		if err := initdb(ctx, c, r, bins, exists); err != nil {
			return nil, err
		}
		srv.Initialized = true
	}
	adopted, err := startOrAdopt(ctx, c, r, bins)
	if err != nil {
		return nil, err
	}
	srv.Adopted = adopted
	if err := createDatabase(ctx, c.dataDir, c.log); err != nil {
		return nil, err
	}
	return srv, nil
}

// prepareAndLock creates the data directory's missing parents and takes the lock next to it.
// As root, a concurrent Ensure may rename its own copy of a still empty parent over ours (see
// mkdirParents), and a directory or file created in the replaced one then fails with ENOENT:
// start again, which then finds the parents in place.
func prepareAndLock(ctx context.Context, c *config, id *identity) (func(), error) {
	for attempt := 1; ; attempt++ {
		err := mkdirParents(filepath.Dir(c.dataDir), id)
		if err == nil {
			var unlock func()
			if unlock, err = lockFile(ctx, c.dataDir+".lock", c.log); err == nil {
				return unlock, nil
			}
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 10 {
			return nil, err
		}
		c.log.Debug("data directory parent replaced concurrently; retrying", "data_dir", c.dataDir, "error", err)
	}
}

// initdb creates a new cluster in c.dataDir. A missing data directory is built in a sibling
// temporary directory and renamed into place, so a crash during initdb never leaves a
// half-initialised data directory behind; an existing empty one is initialised in place.
func initdb(ctx context.Context, c *config, r runner, bins binaries, exists bool) error {
	target := c.dataDir
	if !exists {
		target = c.dataDir + ".initdb-tmp"
		// A leftover from an initdb that crashed; we hold the lock, and it is ours.
		if err := os.RemoveAll(target); err != nil {
			return fmt.Errorf("initdb: remove leftover %s: %w", target, err)
		}
		if err := os.Mkdir(target, 0o700); err != nil {
			return fmt.Errorf("initdb: %w", err)
		}
	}
	// The data directory itself is ours to fix up: it must belong to the server's user, 0700.
	if err := r.chown(target); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	if err := os.Chmod(target, 0o700); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	c.log.Info("initialising PostgreSQL data directory", "data_dir", c.dataDir, "version", bins.major, "run_as", r.name())
	// Trust authentication is safe: the server listens on no TCP port and its socket lives in
	// the 0700 data directory. In case someone starts it by hand with TCP on, TCP connections
	// are rejected (--auth-host) and listen_addresses is off in postgresql.conf too.
	_, err := r.run(ctx, filepath.Join(bins.dir, "initdb"),
		"-D", target, "-U", superuser, "-A", "trust", "--auth-host=reject", "-E", "UTF8", "--no-locale")
	if err == nil {
		err = appendConf(filepath.Join(target, "postgresql.conf"))
	}
	if err != nil {
		if !exists {
			_ = os.RemoveAll(target)
		}
		return fmt.Errorf("initdb: %w", err)
	}
	if !exists {
		if err := os.Rename(target, c.dataDir); err != nil {
			return fmt.Errorf("initdb: move %s into place: %w", target, err)
		}
	}
	return nil
}

// appendConf appends the settings of a managed server to a fresh postgresql.conf.
func appendConf(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("\n# Added by campaign (internal/localpg): Unix socket only, in the data directory.\nlisten_addresses = ''\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// startOrAdopt reuses the server running for c.dataDir, or starts one. It reports whether the
// server was adopted.
func startOrAdopt(ctx context.Context, c *config, r runner, bins binaries) (bool, error) {
	waitCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	pingURL := connURL(c.dataDir, "postgres")
	for logged := false; ; {
		pid, ok, err := readPID(filepath.Join(c.dataDir, "postmaster.pid"))
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
		state := probePID(pid)
		if state == procGone {
			// PostgreSQL removes a stale postmaster.pid itself.
			c.log.Info("postmaster.pid is stale: server process is gone", "data_dir", c.dataDir, "pid", pid)
			break
		}
		if state == procDefunct {
			// The process is a zombie (nobody reaped it) or not PostgreSQL at all; PostgreSQL would
			// take it for a live postmaster and refuse to start. PostgreSQL's shared memory check
			// still protects against orphaned backends.
			c.log.Warn("postmaster.pid names a defunct process; removing stale lock files", "data_dir", c.dataDir, "pid", pid)
			if err := removeStaleLockFiles(c.dataDir, pid); err != nil {
				return false, err
			}
			break
		}
		if err := ping(waitCtx, pingURL); err == nil {
			c.log.Info("adopted running PostgreSQL", "data_dir", c.dataDir, "pid", pid)
			return true, nil
		}
		if !logged {
			c.log.Info("waiting for running PostgreSQL to accept connections", "data_dir", c.dataDir, "pid", pid)
			logged = true
		}
		if err := wait(waitCtx, pollInterval); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, fmt.Errorf("server process %d for %s is running but does not accept connections after %s; see %s (if that process is not PostgreSQL, remove %s)",
				pid, c.dataDir, readyTimeout, logPath(c.dataDir), filepath.Join(c.dataDir, "postmaster.pid"))
		}
	}
	return false, start(ctx, c, r, bins)
}

// logPath is the server log, inside the data directory where PostgreSQL ignores it.
func logPath(dataDir string) string {
	return filepath.Join(dataDir, "log", "server.log")
}

// start runs pg_ctl start. If the server fails because backends orphaned by a killed postmaster
// still hold its shared memory, it waits for them to exit (up to orphanTimeout) and retries.
func start(ctx context.Context, c *config, r runner, bins binaries) error {
	if err := checkOwner(c.dataDir, r); err != nil {
		return err
	}
	logFile := logPath(c.dataDir)
	if err := os.Mkdir(filepath.Dir(logFile), 0o700); err == nil {
		if err := r.chown(filepath.Dir(logFile)); err != nil {
			return fmt.Errorf("pg_ctl start: %w", err)
		}
	} else if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("pg_ctl start: %w", err)
	}
	// pg_ctl hands -o to /bin/sh; -k takes a list in which a double-quoted entry may contain
	// commas and spaces.
	serverOpts := "-c listen_addresses='' -k " + shellQuote(`"`+c.dataDir+`"`) + " -p " + strconv.Itoa(port)
	retryCtx, cancel := context.WithTimeout(ctx, orphanTimeout)
	defer cancel()
	for logged := false; ; {
		offset := fileSize(logFile)
		_, err := r.run(ctx, filepath.Join(bins.dir, "pg_ctl"), "start",
			"-D", c.dataDir, "-l", logFile, "-w", "-t", strconv.Itoa(int(startTimeout.Seconds())), "-o", serverOpts)
		if err == nil {
			c.log.Info("started PostgreSQL", "data_dir", c.dataDir, "bin_dir", bins.dir, "log", logFile)
			return nil
		}
		serverLog := readFrom(logFile, offset)
		// PostgreSQL's own message; there is no other signal for this condition.
		if !strings.Contains(serverLog, "pre-existing shared memory block") {
			return fmt.Errorf("pg_ctl start: %w\n%s", err, serverLog)
		}
		if !logged {
			c.log.Warn("processes of a killed PostgreSQL server still hold its shared memory; waiting for them to exit",
				"data_dir", c.dataDir, "timeout", orphanTimeout)
			logged = true
		}
		if werr := wait(retryCtx, 250*time.Millisecond); werr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("pg_ctl start: old server processes still use %s after %s; stop them and retry: %w\n%s",
				c.dataDir, orphanTimeout, err, serverLog)
		}
	}
}

// createDatabase creates database "campaign" if it is missing.
func createDatabase(ctx context.Context, dataDir string, log *slog.Logger) error {
	conn, err := pgx.Connect(ctx, connURL(dataDir, "postgres"))
	if err != nil {
		return fmt.Errorf("create database %s: connect: %w", DatabaseName, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", DatabaseName).Scan(&exists); err != nil {
		return fmt.Errorf("create database %s: %w", DatabaseName, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{DatabaseName}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: someone else made it
			return nil
		}
		return fmt.Errorf("create database %s: %w", DatabaseName, err)
	}
	log.Info("created database", "database", DatabaseName, "data_dir", dataDir)
	return nil
}

// ping connects to the server's "postgres" database once.
func ping(ctx context.Context, connString string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// wait waits for d or until ctx is done.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Stop stops the server running for the data directory with `pg_ctl stop -m fast` and waits for
// it to exit. It is not an error if no server is running or the directory does not exist.
func Stop(ctx context.Context, opts Options) error {
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	if _, err := os.Stat(c.dataDir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockFile(ctx, c.dataDir+".lock", c.log)
	if err != nil {
		return err
	}
	defer unlock()
	if !serverProcessRunning(c.dataDir) {
		return nil
	}
	dataVersion, _, err := inspectDataDir(c.dataDir)
	if err != nil {
		return err
	}
	bins, err := findBinaries(ctx, c.search, dataVersion, c.log)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w", err)
	}
	var r runner
	if os.Geteuid() == 0 {
		// pg_ctl refuses root; run it as the owner of the data directory, who runs the server.
		if r.id, err = ownerIdentity(c.dataDir); err != nil {
			return fmt.Errorf("pg_ctl stop: %w", err)
		}
	}
	_, err = r.run(ctx, filepath.Join(bins.dir, "pg_ctl"), "stop",
		"-D", c.dataDir, "-m", "fast", "-w", "-t", strconv.Itoa(int(startTimeout.Seconds())))
	if err != nil {
		if !serverProcessRunning(c.dataDir) { // it exited on its own meanwhile
			return nil
		}
		return fmt.Errorf("pg_ctl stop: %w", err)
	}
	c.log.Info("stopped PostgreSQL", "data_dir", c.dataDir)
	return nil
}

// Status reports whether a server for the data directory is running and accepting connections,
// and if so the URL of database "campaign" on it (url is "" when not running). It changes
// nothing and needs no binaries.
func Status(ctx context.Context, opts Options) (running bool, url string, err error) {
	c, err := newConfig(opts)
	if err != nil {
		return false, "", err
	}
	if !serverProcessRunning(c.dataDir) {
		return false, "", nil
	}
	if err := ping(ctx, connURL(c.dataDir, "postgres")); err != nil {
		if ctx.Err() != nil {
			return false, "", ctx.Err()
		}
		c.log.Debug("server process is running but does not accept connections", "data_dir", c.dataDir, "error", err)
		return false, "", nil
	}
	return true, connURL(c.dataDir, DatabaseName), nil
}

// serverProcessRunning reports whether postmaster.pid in dataDir names a live process.
func serverProcessRunning(dataDir string) bool {
	pid, ok, err := readPID(filepath.Join(dataDir, "postmaster.pid"))
	return err == nil && ok && probePID(pid) == procAlive
}
