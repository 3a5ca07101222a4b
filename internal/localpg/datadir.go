package localpg

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrNotDataDir is returned (wrapped) when the data directory exists, is not empty and has no
// PG_VERSION file: Ensure refuses to touch it.
var ErrNotDataDir = errors.New("not a PostgreSQL data directory; refusing to touch it")

// VersionMismatchError is returned when the data directory was created by a PostgreSQL major
// version other than that of the binaries found.
type VersionMismatchError struct {
	DataDir     string // the data directory
	DataVersion string // the major version in its PG_VERSION, e.g. "15"
	BinDir      string // the binaries found
	BinVersion  string // their major version, e.g. "16"
}

// Error names both versions and what to do.
func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("data directory %s was created by PostgreSQL %s, but the binaries found (%s) are PostgreSQL %s; "+
		"install the PostgreSQL %s server binaries, or choose another --data-dir (the existing data is left untouched)",
		e.DataDir, e.DataVersion, e.BinDir, e.BinVersion, e.DataVersion)
}

// UnreachableDataDirError is returned when this process is root and the unprivileged user the
// server must run as cannot reach the data directory, because a directory on its path denies
// that user search (x) permission.
type UnreachableDataDirError struct {
	DataDir string // the data directory asked for
	Dir     string // the directory on its path that denies access
	User    string // the user the server runs as
}

// Error names the directory and suggests a data directory that works.
func (e *UnreachableDataDirError) Error() string {
	return fmt.Sprintf("data directory %s is not reachable by user %q, which the server runs as because PostgreSQL refuses to run as root: "+
		"%s denies that user search (x) permission; use --data-dir %s (the default as root) or another directory that user can reach",
		e.DataDir, e.User, e.Dir, RootDataDir)
}

// DefaultDataDir returns the data directory used when Options.DataDir is empty:
// $XDG_STATE_HOME/campaign/pg, else $HOME/.local/state/campaign/pg. As root it is
// /var/lib/campaign/pg, because the server then runs as an unprivileged user who cannot reach
// root's home directory.
func DefaultDataDir() (string, error) {
	return defaultDataDir(os.Geteuid(), os.Getenv, os.UserHomeDir)
}

func defaultDataDir(euid int, getenv func(string) string, homeDir func() (string, error)) (string, error) {
	if euid == 0 {
		return RootDataDir, nil
	}
	state, err := stateDir(getenv, homeDir)
	if err != nil {
		return "", fmt.Errorf("default data directory: %w", err)
	}
	return filepath.Join(state, "pg"), nil
}

// StateDir returns campaign's directory in the user's state directory, the home of what the
// CLI keeps for the user: $XDG_STATE_HOME/campaign, else $HOME/.local/state/campaign.
func StateDir(getenv func(string) string) (string, error) {
	return stateDir(getenv, func() (string, error) {
		if home := getenv("HOME"); home != "" {
			return home, nil
		}
		return "", errors.New("$HOME is not defined")
	})
}

func stateDir(getenv func(string) string, homeDir func() (string, error)) (string, error) {
	// The XDG spec says to ignore a relative XDG_STATE_HOME.
	if state := getenv("XDG_STATE_HOME"); filepath.IsAbs(state) {
		return filepath.Join(state, "campaign"), nil
	}
	home, err := homeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "campaign"), nil
}

// inspectDataDir reports the major version in dir/PG_VERSION ("" for a missing or empty
// directory) and whether dir exists. It fails with ErrNotDataDir for a non-empty directory
// without PG_VERSION.
func inspectDataDir(dir string) (version string, exists bool, err error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return "", true, fmt.Errorf("data directory %s: not a directory", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if err == nil {
		version = strings.TrimSpace(string(b))
		if version == "" {
			return "", true, fmt.Errorf("data directory %s: empty PG_VERSION", dir)
		}
		return version, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", true, fmt.Errorf("data directory: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return "", true, fmt.Errorf("data directory: %w", err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err != nil {
			return "", true, fmt.Errorf("data directory: %w", err)
		}
		return "", true, fmt.Errorf("data directory %s is not empty and has no PG_VERSION: %w", dir, ErrNotDataDir)
	}
	return "", true, nil
}

// checkReachable checks that user id can search every existing directory above dataDir, both
// along the path as given and along the path with symlinks resolved. Missing directories are
// fine: Ensure creates them and gives them to id.
func checkReachable(dataDir string, id *identity) error {
	paths := []string{dataDir}
	if real := resolveExisting(dataDir); real != dataDir {
		paths = append(paths, real)
	}
	for _, p := range paths {
		var ancestors []string
		for d := filepath.Dir(p); ; d = filepath.Dir(d) {
			ancestors = append(ancestors, d)
			if d == filepath.Dir(d) {
				break
			}
		}
		for i := len(ancestors) - 1; i >= 0; i-- { // from / down
			fi, err := os.Stat(ancestors[i])
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
			if !fi.IsDir() {
				return fmt.Errorf("data directory %s: %s is not a directory", dataDir, ancestors[i])
			}
			if !id.canSearch(fi) {
				return &UnreachableDataDirError{DataDir: dataDir, Dir: ancestors[i], User: id.name}
			}
		}
	}
	return nil
}

// resolveExisting resolves symlinks in the longest existing prefix of path.
func resolveExisting(path string) string {
	rest := ""
	for p := path; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		if p == filepath.Dir(p) {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// mkdirParents creates dir and its missing parents (0700); when id is set they are given to id,
// who must be able to reach the data directory. Existing directories are left alone.
func mkdirParents(dir string, id *identity) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirParents(parent, id); err != nil {
			return err
		}
	}
	if id == nil {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) { // ErrExist: created concurrently
			return fmt.Errorf("create data directory parent: %w", err)
		}
		return nil
	}
	// As root: build the directory under a temporary name, give it to id, then rename it into
	// place, so that a concurrent Ensure checking reachability never sees it still root's.
	// rename(2) may replace a still empty directory that a concurrent Ensure just put there;
	// that one then gets ENOENT creating inside it and retries (see prepareAndLock).
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("create data directory parent: %w", err)
	}
	if err := os.Chown(tmp, int(id.uid), int(id.gid)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("create data directory parent: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.Remove(tmp)
		if _, serr := os.Stat(dir); serr == nil { // created concurrently
			return nil
		}
		return fmt.Errorf("create data directory parent: %w", err)
	}
	return nil
}

// checkOwner checks that the existing data directory belongs to the user the server runs as;
// PostgreSQL refuses any other.
func checkOwner(dataDir string, r runner) error {
	fi, err := os.Stat(dataDir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if want := r.uid(); st.Uid != want {
		return fmt.Errorf("data directory %s belongs to uid %d, but the server would run as %s (uid %d); "+
			"run as that directory's owner or choose another --data-dir", dataDir, st.Uid, r.name(), want)
	}
	return nil
}
