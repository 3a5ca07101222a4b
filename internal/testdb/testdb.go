// Package testdb gives tests a real, migrated Postgres schema of their own.
//
// Postgres is found in this order: TEST_DATABASE_URL; else a testcontainers-go Postgres when a
// Docker engine answers; else the managed local Postgres (internal/localpg) in a data directory
// shared by all test processes. A test that cannot get a database fails; it never skips.
//
// A package whose tests use it runs them through Main (func TestMain(m *testing.M) {
// os.Exit(testdb.Main(m)) }), so that the managed local Postgres is stopped when the last test
// binary using it ends.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/campaign-run/campaign/internal/localpg"
	"github.com/campaign-run/campaign/migrations"
)

var (
	once    sync.Once
	baseURL string
	findErr error
	// release unregisters this test binary from the managed local Postgres (nil when it uses
	// none); Main calls it.
	release func(context.Context) error
)

// Main runs the tests (m.Run) and then, if they used the managed local Postgres, stops it unless
// another test binary still uses it. It returns the exit code for os.Exit: m.Run's, or 1 if the
// server could not be stopped.
func Main(m *testing.M) int {
	code := m.Run()
	if release != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := release(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "testdb: stop the managed local Postgres: %v\n", err)
			return max(code, 1)
		}
	}
	return code
}

// URL returns the URL of the Postgres server tests run against (see the package comment).
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { baseURL, findErr = find() })
	if findErr != nil {
		t.Fatalf("no test database: %v", findErr)
	}
	return baseURL
}

func find() (string, error) {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dockerErr := dockerHealthy(ctx)
	if dockerErr == nil {
		c, err := tcpostgres.Run(ctx, "postgres:15-alpine",
			tcpostgres.WithDatabase("campaign_test"), tcpostgres.WithUsername("postgres"),
			tcpostgres.WithPassword("postgres"), tcpostgres.BasicWaitStrategies())
		if err != nil {
			return "", fmt.Errorf("start postgres container: %w", err)
		}
		// Ryuk removes the container when the test process exits.
		return c.ConnectionString(ctx, "sslmode=disable")
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("campaign-test-pg-%d", os.Getuid()))
	srv, rel, err := localpg.Share(ctx, localpg.Options{DataDir: dir})
	if err != nil {
		return "", fmt.Errorf("TEST_DATABASE_URL is unset, Docker is unavailable (%v), and the managed local Postgres failed: %w", dockerErr, err)
	}
	release = rel
	return srv.URL, nil
}

func dockerHealthy(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker provider panicked: %v", r)
		}
	}()
	p, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Health(ctx)
}

// SchemaURL creates a fresh, empty schema for this test, dropped when the test ends, and returns
// a URL whose connections use it (search_path), suitable for a subprocess or a CLI flag.
func SchemaURL(t testing.TB) string {
	t.Helper()
	base := URL(t)
	ctx := context.Background()
	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	schema := "t_" + hex.EncodeToString(buf)

	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse test database URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Pool returns a pool on a fresh schema of its own, already migrated; both are removed when
// the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := EmptyPool(t)
	if _, err := migrations.Up(context.Background(), pool, nil); err != nil {
		t.Fatalf("migrate test schema: %v", err)
	}
	return pool
}

// EmptyPool returns a pool on a fresh, unmigrated schema of its own.
func EmptyPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), SchemaURL(t))
	if err != nil {
		t.Fatalf("connect to test schema: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
