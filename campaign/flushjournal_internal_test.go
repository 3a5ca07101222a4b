package campaign

import (
	"context"
	"strings"
	"testing"
	"time"

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
	r, err := NewReader(strings.NewReader("phone\n+14155550100\n"), ReaderOptions{})
	require.NoError(t, err)
	now := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
	c, err := s.Import(ctx, NewCampaign{Name: "flush", Settings: Settings{WindowSpec: "always", DefaultTimeZone: "UTC",
		DefaultRegion: "US", MaxConcurrent: 1, MaxAttempts: 1, RetryPolicy: "none"}}, ImportInput{Reader: r})
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx, c.ID, now))
	var contactID int64
	require.NoError(t, pool.QueryRow(ctx, `UPDATE contact SET state = $2 WHERE campaign_id = $1 RETURNING id`,
		c.ID, ContactQueued).Scan(&contactID))
	_, err = pool.Exec(ctx, `UPDATE campaign SET queued_contacts = 1 WHERE id = $1`, c.ID)
	require.NoError(t, err)
	g, err := s.BeginAttempt(ctx, contactID, now)
	require.NoError(t, err)
	require.NotNil(t, g.Attempt, "refused: %s", g.Refusal)

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

		require.NoError(t, s.flushJournal(ctx, g.Attempt.ID))
		var durable bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn`, committedBy).Scan(&durable))
		require.True(t, durable, "the log is not on disk past %s", committedBy)
	}
}
