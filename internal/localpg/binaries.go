package localpg

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// NoBinariesError is returned when no PostgreSQL server binaries (initdb and pg_ctl) are found.
// Its message says what was searched and what to do instead.
type NoBinariesError struct {
	// Searched describes each place looked in, in order.
	Searched []string
}

// Error explains what was searched and how to get a database: install the server binaries, or
// run Postgres with Docker and point DATABASE_URL at it.
func (e *NoBinariesError) Error() string {
	var b strings.Builder
	b.WriteString("no PostgreSQL server binaries (initdb and pg_ctl) found to run a local database; searched:\n")
	for _, s := range e.Searched {
		b.WriteString("  - " + s + "\n")
	}
	b.WriteString("Do one of these:\n")
	b.WriteString("  - install the PostgreSQL server binaries: Debian/Ubuntu `apt-get install postgresql`, macOS `brew install postgresql@16`;\n")
	b.WriteString("  - or run `VAPI_API_KEY=unused docker compose up -d db` from the campaign repository and set\n")
	b.WriteString("    DATABASE_URL=postgres://campaign:campaign@localhost:5432/campaign?sslmode=disable (or pass --database-url)")
	return b.String()
}

// searchPath says where to look for PostgreSQL binaries.
type searchPath struct {
	// path is a PATH-style list searched for pg_config, then for initdb and pg_ctl.
	path string
	// globs are patterns of versioned bin directories, e.g. /usr/lib/postgresql/*/bin; the
	// highest version found wins.
	globs []string
}

func defaultSearchPath() searchPath {
	return searchPath{
		path: os.Getenv("PATH"),
		globs: []string{
			"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
			"/usr/pgsql-*/bin",                   // RHEL, Fedora (PGDG)
			"/opt/homebrew/opt/postgresql@*/bin", // Homebrew on Apple silicon (keg-only)
			"/usr/local/opt/postgresql@*/bin",    // Homebrew on Intel
		},
	}
}

// binaries is a directory holding initdb and pg_ctl.
type binaries struct {
	dir     string
	version string // full version, e.g. "15.20"
	major   string // major version as PG_VERSION spells it: "15", or "9.6" before 10
}

// findBinaries looks for initdb and pg_ctl, in order: `pg_config --bindir`, PATH, then the
// versioned directories of sp.globs (highest version first). It returns the first found, except
// that when wantMajor is set (the data directory's PG_VERSION) it prefers the first of that
// major version, so that a machine with several versions installed keeps using the one that
// created the data.
func findBinaries(ctx context.Context, sp searchPath, wantMajor string, log *slog.Logger) (binaries, error) {
	var found []binaries
	var searched []string
	matches := func(b binaries) bool { return wantMajor == "" || b.major == wantMajor }
	add := func(b binaries) {
		if !slices.ContainsFunc(found, func(f binaries) bool { return f.dir == b.dir }) {
			found = append(found, b)
		}
	}
	pick := func() (binaries, error) {
		if len(found) == 0 {
			return binaries{}, &NoBinariesError{Searched: searched}
		}
		b := found[0] // if none matches wantMajor, the caller reports the mismatch
		if i := slices.IndexFunc(found, matches); i >= 0 {
			b = found[i]
		}
		log.Debug("found PostgreSQL binaries", "bin_dir", b.dir, "version", b.version)
		return b, nil
	}

	// 1. pg_config --bindir.
	if pgConfig, ok := lookPath("pg_config", sp.path); ok {
		out, err := exec.CommandContext(ctx, pgConfig, "--bindir").Output()
		if err != nil {
			searched = append(searched, fmt.Sprintf("`%s --bindir` (failed: %v)", pgConfig, err))
		} else {
			dir := strings.TrimSpace(string(out))
			b, err := binariesIn(ctx, dir)
			if err != nil {
				searched = append(searched, fmt.Sprintf("`%s --bindir` = %s (%v)", pgConfig, dir, err))
			} else {
				add(b)
				if matches(b) {
					return pick()
				}
			}
		}
	} else {
		searched = append(searched, "`pg_config --bindir` (no pg_config on PATH)")
	}

	// 2. The first PATH directory holding both initdb and pg_ctl.
	searched = append(searched, fmt.Sprintf("initdb and pg_ctl on PATH (%q)", sp.path))
	for _, dir := range filepath.SplitList(sp.path) {
		if dir == "" || !isExecutable(filepath.Join(dir, "initdb")) || !isExecutable(filepath.Join(dir, "pg_ctl")) {
			continue
		}
		// Prefer the real directory when these are symlinks into an installation.
		if real, err := filepath.EvalSymlinks(filepath.Join(dir, "pg_ctl")); err == nil && isExecutable(filepath.Join(filepath.Dir(real), "initdb")) {
			dir = filepath.Dir(real)
		}
		b, err := binariesIn(ctx, dir)
		if err != nil {
			log.Debug("skipping PostgreSQL binaries", "bin_dir", dir, "error", err)
			break
		}
		add(b)
		if matches(b) {
			return pick()
		}
		break
	}

	// 3. Versioned installation directories, highest version first.
	var versioned []binaries
	for _, pattern := range sp.globs {
		searched = append(searched, pattern)
		dirs, _ := filepath.Glob(pattern) // ErrBadPattern is the only error: the patterns are ours
		for _, dir := range dirs {
			b, err := binariesIn(ctx, dir)
			if err != nil {
				log.Debug("skipping PostgreSQL binaries", "bin_dir", dir, "error", err)
				continue
			}
			versioned = append(versioned, b)
		}
	}
	slices.SortStableFunc(versioned, func(a, b binaries) int { return compareVersions(b.version, a.version) })
	for _, b := range versioned {
		add(b)
	}
	return pick()
}

// binariesIn checks that dir holds initdb and pg_ctl and asks pg_ctl its version.
func binariesIn(ctx context.Context, dir string) (binaries, error) {
	if dir == "" {
		return binaries{}, fmt.Errorf("empty directory name")
	}
	for _, name := range []string{"initdb", "pg_ctl"} {
		if !isExecutable(filepath.Join(dir, name)) {
			return binaries{}, fmt.Errorf("no executable %s in %s", name, dir)
		}
	}
	// --version is answered before pg_ctl's refusal to run as root.
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "pg_ctl"), "--version").Output()
	if err != nil {
		return binaries{}, fmt.Errorf("pg_ctl --version: %w", err)
	}
	version, major, err := parseVersion(string(out))
	if err != nil {
		return binaries{}, fmt.Errorf("pg_ctl --version: %w", err)
	}
	return binaries{dir: dir, version: version, major: major}, nil
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// parseVersion parses `pg_ctl --version` output such as "pg_ctl (PostgreSQL) 15.20 (Debian
// 15.20-0+deb12u1)" into the full version and the major version as PG_VERSION spells it.
func parseVersion(out string) (version, major string, err error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return "", "", fmt.Errorf("unrecognised version %q", strings.TrimSpace(out))
	}
	version = m[1]
	if m[2] != "" {
		version += "." + m[2]
	}
	major = m[1]
	if n, _ := strconv.Atoi(m[1]); n < 10 && m[2] != "" {
		major = m[1] + "." + m[2]
	}
	return version, major, nil
}

// compareVersions compares dotted numeric versions.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// lookPath finds an executable name in a PATH-style list.
func lookPath(name, pathList string) (string, bool) {
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p, true
		}
	}
	return "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
