package campaign

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/testdb"
)

// TestFlushJournalMakesEarlierCommitsDurable: after flushJournal the write-ahead log is on disk
// past a commit made just before it with synchronous_commit off (as BeginAttempt's grant is),
// which Postgres's WAL writer would otherwise flush only up to 200 ms later.
func TestFlushJournalMakesEarlierCommitsDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Pool(t)
	s := NewStore(pool)
	for range 5 {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO vapi_account (id) VALUES (gen_random_uuid()::text)`)
			return err
		})
		require.NoError(t, err)
		var committedBy string // the log's end once the commit returned: past its commit record
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&committedBy))

		require.NoError(t, s.flushJournal(ctx))
		var durable bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn`, committedBy).Scan(&durable))
		require.True(t, durable, "the log is not on disk past %s", committedBy)
	}
}
