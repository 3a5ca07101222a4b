//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/campaign-run/campaign/internal/bench/benchkit"
)

// pgCost is what one variant of the contact table costs to fill with the imported contacts.
type pgCost struct {
	Variant  string  `json:"variant"`
	Seconds  float64 `json:"seconds"`
	WALBytes int64   `json:"wal_bytes"`
}

// pgVariant is a shape of the contact table profilePostgres fills: a copy of contact's columns
// (profile_contact) with what sql adds.
type pgVariant struct{ name, sql string }

// pgVariants reads contact's indexes and foreign keys from the catalog, so that the profile
// follows the schema: the first variant has none of them, each next one of them alone, the last
// all of them.
func pgVariants(ctx context.Context, pool *pgxpool.Pool) ([]pgVariant, error) {
	rows, err := pool.Query(ctx, `
		SELECT '+ index ' || indexname,
		       regexp_replace(indexdef, '^(CREATE (UNIQUE )?INDEX) \S+ ON \S+', '\1 ON profile_contact')
		FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'contact'
		UNION ALL
		SELECT '+ foreign key ' || conname || ' (checked a row at a time)',
		       'ALTER TABLE profile_contact ADD ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE conrelid = 'contact'::regclass AND contype = 'f'
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("read contact's indexes and keys: %w", err)
	}
	added, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgVariant, error) {
		var v pgVariant
		return v, r.Scan(&v.name, &v.sql)
	})
	if err != nil {
		return nil, fmt.Errorf("read contact's indexes and keys: %w", err)
	}
	all := []string{`DROP TABLE profile_contact`, `CREATE TABLE profile_contact (LIKE contact INCLUDING ALL)`}
	for _, v := range added {
		if strings.HasPrefix(v.sql, "ALTER TABLE") {
			all = append(all, v.sql)
		}
	}
	variants := append([]pgVariant{{"contact's columns, no index or constraint", ""}}, added...)
	return append(variants, pgVariant{"contact as it is (all of the above)", strings.Join(all, ";\n")}), nil
}

// profilePostgres shows where Postgres spends an import's time: it writes the contacts the CLI
// imported (campaign name's, in id order, so numbers arrive in file order) into each variant of
// the table in turn, each in a transaction rolled back, and times the statement and the WAL it
// wrote. The scratch database it works in is dropped at the end of the benchmark. It is an INSERT … SELECT rather than the CLI's COPY: reading the rows costs the same in
// every variant, so the differences between variants are what each index or constraint costs a
// row, on this server, in this run.
func profilePostgres(ctx context.Context, dbURL, name string) ([]pgCost, error) {
	prog.Progress("profiling Postgres: the imported contacts into copies of the contact table …")
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	var id int64
	if err := pool.QueryRow(ctx, `SELECT id FROM campaign WHERE name = $1`, name).Scan(&id); err != nil {
		return nil, fmt.Errorf("find campaign %s: %w", name, err)
	}
	// The rows are read from a copy in file order made once, so that every variant reads them the
	// same way (warm, no sort) and the first does not pay for reading contact from disk.
	if _, err := pool.Exec(ctx, `CREATE UNLOGGED TABLE profile_source AS
		SELECT campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields
		FROM contact WHERE campaign_id = $1 ORDER BY id`, id); err != nil {
		return nil, fmt.Errorf("copy the imported contacts: %w", err)
	}
	variants, err := pgVariants(ctx, pool)
	if err != nil {
		return nil, err
	}
	var costs []pgCost
	for _, v := range variants {
		c, err := fillVariant(ctx, pool, v.sql)
		if err != nil {
			return nil, fmt.Errorf("profile %q: %w", v.name, err)
		}
		c.Variant = v.name
		costs = append(costs, c)
	}
	return costs, nil
}

// fillVariant creates profile_contact, applies variant, inserts the rows of profile_source and
// rolls everything back.
func fillVariant(ctx context.Context, pool *pgxpool.Pool, variant string) (pgCost, error) {
	var c pgCost
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off;
			CREATE TABLE profile_contact (LIKE contact INCLUDING DEFAULTS);
			ALTER TABLE profile_contact ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY`); err != nil {
			return err
		}
		if variant != "" {
			if _, err := tx.Exec(ctx, variant); err != nil {
				return err
			}
		}
		var before string
		if err := tx.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&before); err != nil {
			return err
		}
		start := time.Now()
		if _, err := tx.Exec(ctx, `
			INSERT INTO profile_contact (campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields)
			SELECT campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields FROM profile_source`); err != nil {
			return err
		}
		c.Seconds = time.Since(start).Seconds()
		if err := tx.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint`, before).
			Scan(&c.WALBytes); err != nil {
			return err
		}
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		return c, err
	}
	return c, nil
}

// errRollBack ends fillVariant's transaction without keeping anything.
var errRollBack = errors.New("roll back")

// printPGProfile prints costs: each variant's time and WAL, and what it adds to the one before.
func printPGProfile(w io.Writer, costs []pgCost, rows int) {
	fmt.Fprintf(w, "postgres profile       : the %s imported contacts into a copy of contact, one index or constraint at a time (WAL: the whole server's meanwhile)\n",
		benchkit.Thousands(int64(rows)))
	width := 0
	for _, c := range costs {
		width = max(width, len(c.Variant))
	}
	for i, c := range costs {
		added := ""
		if i > 0 && i < len(costs)-1 {
			d := c.Seconds - costs[0].Seconds
			added = fmt.Sprintf("   %+6.2f s, %+5.2f us a row over no index", d, d*1e6/float64(max(rows, 1)))
		}
		fmt.Fprintf(w, "  %s%s : %6.2f s  WAL %6.0f MB%s\n", c.Variant, strings.Repeat(" ", width-len(c.Variant)),
			c.Seconds, float64(c.WALBytes)/1e6, added)
	}
}
