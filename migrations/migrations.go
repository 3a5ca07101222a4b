// Package migrations brings a database's schema up to date: the application's own tables
// (embedded SQL files run by goose) and River's job-queue tables (rivermigrate), both under one
// Postgres advisory lock so that any number of processes may start at once.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed sql/*.sql
var embedded embed.FS

// versionTable is the table in which goose records the application's applied migrations.
const versionTable = "campaign_schema_version"

// lockKey is the advisory lock every migrating process takes (an arbitrary constant:
// the first eight bytes of "campaign" read as a big-endian integer).
const lockKey int64 = 0x63616d706169676e

// ErrSchemaBehind is returned by Check when migrations are pending.
var ErrSchemaBehind = errors.New("the database schema is behind this version of campaign: run `campaign migrate`")

// Result tells what Up applied.
type Result struct {
	AppApplied   []int64 // application migration versions applied by this call
	RiverApplied []int   // River migration versions applied by this call
}

// Up applies every pending migration, application and River, holding an advisory lock for the
// duration so that concurrent callers run one after another and the later ones find nothing to do.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (Result, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var res Result
	// The lock lives on a connection of its own, outside the pool, so that callers waiting for
	// the lock never hold the pool connections the lock holder needs to migrate.
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return res, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return res, fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// Closing the connection releases the lock too; unlocking first is just tidy.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey)
	}()

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := newProvider(db)
	if err != nil {
		return res, err
	}
	applied, err := provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate: application schema: %w", err)
	}
	for _, r := range applied {
		res.AppApplied = append(res.AppApplied, r.Source.Version)
	}

	migrator, err := newRiverMigrator(pool)
	if err != nil {
		return res, err
	}
	riverRes, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("migrate: river schema: %w", err)
	}
	for _, v := range riverRes.Versions {
		res.RiverApplied = append(res.RiverApplied, v.Version)
	}
	if len(res.AppApplied) > 0 || len(res.RiverApplied) > 0 {
		logger.Info("schema migrated", "app_versions", res.AppApplied, "river_versions", res.RiverApplied)
	}
	return res, nil
}

// Check returns ErrSchemaBehind (wrapped with detail) when the application or River schema has
// pending migrations. Read-only commands call it instead of migrating.
func Check(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := newProvider(db)
	if err != nil {
		return err
	}
	current, target, err := provider.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if current < target {
		return fmt.Errorf("%w (application schema at version %d of %d)", ErrSchemaBehind, current, target)
	}
	migrator, err := newRiverMigrator(pool)
	if err != nil {
		return err
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		return fmt.Errorf("check river schema: %w", err)
	}
	if all := migrator.AllVersions(); len(existing) < len(all) {
		return fmt.Errorf("%w (River schema at version %d of %d)", ErrSchemaBehind, len(existing), len(all))
	}
	return nil
}

// newProvider returns goose's migrator for the embedded files. goose and River log nothing:
// Up reports what it applied itself.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	sqlFiles, err := fs.Sub(embedded, "sql")
	if err != nil {
		return nil, fmt.Errorf("migrate: embedded files: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sqlFiles,
		goose.WithTableName(versionTable), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return p, nil
}

func newRiverMigrator(pool *pgxpool.Pool) (*rivermigrate.Migrator[pgx.Tx], error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("migrate: river migrator: %w", err)
	}
	return m, nil
}
