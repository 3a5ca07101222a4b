// Package benchkit holds the helpers the benchmark programs under internal/bench share: their
// preamble (Main with a signal-aware context, the -bin and -dir flags, the lookup of the campaign
// binary and of psql, the work directory), progress lines on stderr, the repository root, the
// database URL the CLI uses, a scratch database that is dropped at the end, the formatting of the
// report's figures, and the saving of the figures as one JSON line; and for the programs that
// drive campaigns, servers on loopback ports, a CSV of contacts, the Vapi simulator, campaign
// processes with their messages prefixed, and the process's CPU time.
package benchkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Program is the name of a benchmark program (e.g. "importbench"). It prefixes the program's
// progress lines and names its scratch databases.
type Program string

// Progress prints a progress line to stderr, prefixed with the program's name; stdout carries
// the report only.
func (p Program) Progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, string(p)+": "+format+"\n", args...)
}

// RepoRoot is the nearest directory at or above the working directory that holds a go.mod, or
// the working directory itself when there is none.
func RepoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return wd
		}
		d = parent
	}
}

// WorkDir returns dir, or .bench/ in the repository root when dir is empty, creating it if
// needed.
func WorkDir(dir string) (string, error) {
	if dir == "" {
		dir = filepath.Join(RepoRoot(), ".bench")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create work directory: %w", err)
	}
	return dir, nil
}

// Database resolves the server's URL with DatabaseURL (so that starting the managed Postgres
// is never timed), prints its label, and creates a scratch database on it with ScratchDatabase.
// It returns the scratch database's URL, the server's label and the function that drops the
// scratch database.
func (p Program) Database(ctx context.Context, bin string) (scratchURL, label string, drop func(), err error) {
	dbURL, label, err := DatabaseURL(ctx, bin)
	if err != nil {
		return "", "", nil, err
	}
	p.Progress("database: %s", label)
	scratchURL, drop, err = p.ScratchDatabase(ctx, dbURL)
	if err != nil {
		return "", "", nil, err
	}
	return scratchURL, label, drop, nil
}

// DatabaseURL is DATABASE_URL when set, else what `BIN db url` prints (which starts the managed
// local Postgres if it is not running). label names the database without its URL, which may
// hold a password.
func DatabaseURL(ctx context.Context, bin string) (url, label string, err error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, "DATABASE_URL", nil
	}
	binPath, err := exec.LookPath(bin)
	if err != nil {
		return "", "", fmt.Errorf("campaign binary %s: %w (build it with `make build`, pass -bin, or set DATABASE_URL)", bin, err)
	}
	var out strings.Builder
	cmd := exec.CommandContext(ctx, binPath, "db", "url")
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("`%s db url` failed: %w (its messages are above)", bin, err)
	}
	lines := strings.Fields(strings.TrimSpace(out.String()))
	if len(lines) == 0 {
		return "", "", fmt.Errorf("`%s db url` printed no URL", bin)
	}
	return lines[len(lines)-1], "managed local Postgres (`campaign db url`)", nil
}

// ScratchDatabase creates an empty database, named campaign_PROGRAM_NANOSECONDS, next to the one
// at dbURL and returns its URL and a function that drops it (with a fresh context, so that the
// cleanup runs even after an interrupt).
func (p Program) ScratchDatabase(ctx context.Context, dbURL string) (string, func(), error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", nil, errors.New("the database URL is not a postgres:// URL")
	}
	name := fmt.Sprintf("campaign_%s_%d", p, time.Now().UnixNano())
	runSQL := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, sql)
		return err
	}
	p.Progress("creating scratch database %s …", name)
	if err := runSQL(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create scratch database (the user needs CREATEDB): %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		// A fresh context: the cleanup must run even after an interrupt.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		p.Progress("dropping scratch database %s …", name)
		if err := runSQL(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			p.Progress("warning: could not drop scratch database %s: %v", name, err)
		}
	}
	return u.String(), drop, nil
}

// seedWorkMem is the work_mem of the sessions that seed a campaign in SQL. The tally triggers
// (migration 00024) handle a statement's rows as one set, and a seed inserts hundreds of
// thousands of attempts in one statement: past the default 4 MB, Postgres gives up hashing
// the sets they look rows up in and rescans them for every row (measured: 200,000 contacts'
// calls 23 s, 500,000 not done in 200 s; 57 s with this). The runner's own statements change a
// row or a few at a time.
const seedWorkMem = "512MB"

// SeedPool connects to dbURL with a pool whose sessions seed campaigns in SQL (see seedWorkMem).
func SeedPool(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["work_mem"] = seedWorkMem
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// SaveJSONLine writes v (the program's figures) as one JSON line to path, replacing what was
// there, and says where in a progress line.
func (p Program) SaveJSONLine(path string, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(line, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	p.Progress("figures written to %s", path)
	return nil
}

// Seconds formats a duration in seconds to one decimal (two below 0.1 s), right-aligned.
func Seconds(s float64) string {
	if s < 0.1 {
		return fmt.Sprintf("%5.2f s", s)
	}
	return fmt.Sprintf("%5.1f s", s)
}

// Rate formats a rate to three significant figures with thousands separators, right-aligned in
// width characters ("-" when the rate is not positive and finite).
func Rate(r float64, width int) string {
	if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return fmt.Sprintf("%*s", width, "-")
	}
	mag := math.Pow(10, math.Floor(math.Log10(r))-2)
	if mag < 1 {
		mag = 1
	}
	return fmt.Sprintf("%*s", width, Thousands(int64(math.Round(r/mag)*mag)))
}

// Megabytes formats bytes in (decimal) megabytes ("unknown" when not positive).
func Megabytes(b int64) string {
	if b <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/1e6)
}

// Percent formats a fraction as a percentage ("unknown" when negative).
func Percent(f float64) string {
	if f < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

// Thousands formats n with comma thousands separators: 1,000,000.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}
