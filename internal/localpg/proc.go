package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// identity is an OS user that child processes run as.
type identity struct {
	name     string
	uid, gid uint32
	groups   []uint32 // supplementary groups, including gid
	home     string
}

// lookupIdentity resolves the unprivileged user the server runs as when this process is root.
func lookupIdentity(name string) (*identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, so the server runs as user %q, which cannot be found (%w); "+
			"create it (e.g. `useradd --system --create-home %s`) or set another user to run as", name, err, name)
	}
	id, err := identityOf(u)
	if err != nil {
		return nil, err
	}
	if id.uid == 0 {
		return nil, fmt.Errorf("user %q has uid 0; PostgreSQL refuses to run as root: choose an unprivileged user", name)
	}
	return id, nil
}

// ownerIdentity is the owner of path, who runs the server for that data directory.
func ownerIdentity(path string) (*identity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("cannot tell the owner of %s", path)
	}
	if st.Uid == 0 {
		return nil, fmt.Errorf("%s belongs to root; a PostgreSQL data directory cannot", path)
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil { // an owner without a passwd entry: use the bare ids
		return &identity{name: "uid " + strconv.FormatUint(uint64(st.Uid), 10), uid: st.Uid, gid: st.Gid, groups: []uint32{st.Gid}, home: "/"}, nil
	}
	return identityOf(u)
}

func identityOf(u *user.User) (*identity, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	id := &identity{name: u.Username, uid: uint32(uid), gid: uint32(gid), groups: []uint32{uint32(gid)}, home: u.HomeDir}
	gids, _ := u.GroupIds() // supplementary groups only widen what the server can reach
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && !slices.Contains(id.groups, uint32(n)) {
			id.groups = append(id.groups, uint32(n))
		}
	}
	if id.home == "" {
		id.home = "/"
	}
	return id, nil
}

// canSearch reports whether id may traverse the directory fi, by the owner/group/other
// permission bits (ACLs are not consulted).
func (id *identity) canSearch(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == id.uid:
		return perm&0o100 != 0
	case slices.Contains(id.groups, st.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// runner runs PostgreSQL programs: as id when set (this process is root), else as this process.
type runner struct {
	id *identity
}

func (r runner) name() string {
	if r.id != nil {
		return r.id.name
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Geteuid())
}

func (r runner) uid() uint32 {
	if r.id != nil {
		return r.id.uid
	}
	return uint32(os.Geteuid())
}

// chown gives path to the user the server runs as; a no-op when running as ourselves.
func (r runner) chown(path string) error {
	if r.id == nil {
		return nil
	}
	return os.Chown(path, int(r.id.uid), int(r.id.gid))
}

// run runs a program and returns its combined output; on failure the error includes it.
func (r runner) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/" // the user we run as may not be able to enter our working directory
	cmd.Env = childEnv(r.id)
	cmd.WaitDelay = 5 * time.Second
	if r.id != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: r.id.uid, Gid: r.id.gid, Groups: r.id.groups,
		}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", filepath.Base(name), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// childEnv is this process's environment without libpq/PostgreSQL variables (PGPORT, PGDATA,
// ... would change what the programs do) and locale variables (messages stay in English, which
// start relies on), with HOME and USER of the user we run as.
func childEnv(id *identity) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PG"), strings.HasPrefix(k, "LC_"), k == "LANG", k == "LANGUAGE":
			continue
		case id != nil && (k == "HOME" || k == "USER" || k == "LOGNAME"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C")
	if id != nil {
		env = append(env, "HOME="+id.home, "USER="+id.name, "LOGNAME="+id.name)
	}
	return env
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// lockFile takes an exclusive flock on path (creating it) and returns the function that releases
// it. It waits for other holders until ctx is done.
func lockFile(ctx context.Context, path string, log *slog.Logger) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrPermission) { // flock needs no write access
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	for logged := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock data directory: flock %s: %w", path, err)
		}
		if !logged {
			log.Info("waiting for another process using the data directory", "lock_file", path)
			logged = true
		}
		if err := wait(ctx, 50*time.Millisecond); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock data directory: %w", err)
		}
	}
}

// readPID reads the process id on the first line of a PostgreSQL lock file (postmaster.pid or
// .s.PGSQL.*.lock); ok is false when the file is missing or has no valid pid yet.
func readPID(path string) (pid int, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pid, err = strconv.Atoi(strings.TrimSpace(string(line)))
	if err != nil || pid == 0 {
		return 0, false, nil // being written, or garbage: PostgreSQL itself decides
	}
	return max(pid, -pid), true, nil // a standalone backend writes -pid
}

// procState is what probePID learns about a process.
type procState int

const (
	procGone    procState = iota // no such process
	procAlive                    // a live process
	procDefunct                  // a zombie, or (on Linux) a live process that is not PostgreSQL
)

// probePID reports whether pid is a live process, as PostgreSQL's own check would (kill 0), but
// also recognises, where /proc exists, a zombie that nobody reaps (a killed postmaster whose
// parent is an init that does not reap orphans) and a reused pid that is not PostgreSQL.
func probePID(pid int) procState {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return procGone
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procAlive
	}
	// pid (comm) state ...; comm may itself contain parentheses.
	open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || closing < open || closing+2 >= len(stat) {
		return procAlive
	}
	comm, state := string(stat[open+1:closing]), stat[closing+2]
	if state == 'Z' || state == 'X' {
		return procDefunct
	}
	if !strings.Contains(comm, "postgres") && !strings.Contains(comm, "postmaster") {
		return procDefunct
	}
	return procAlive
}

// removeStaleLockFiles removes postmaster.pid and the socket lock files in dataDir that name pid,
// a process known to be defunct.
func removeStaleLockFiles(dataDir string, pid int) error {
	locks, _ := filepath.Glob(filepath.Join(dataDir, ".s.PGSQL.*.lock")) // constant pattern
	locks = append(locks, filepath.Join(dataDir, "postmaster.pid"))
	for _, path := range locks {
		if p, ok, err := readPID(path); err != nil || !ok || p != pid {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale lock file: %w", err)
		}
	}
	return nil
}

// fileSize is the size of path, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns what path holds after offset, at most its last 4 KiB, for error messages.
func readFrom(path string, offset int64) string {
	const limit = 4 << 10
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if size := fileSize(path); size-offset > limit {
		offset = size - limit
	}
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, limit))
	return strings.TrimSpace(string(b))
}
