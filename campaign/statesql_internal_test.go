package campaign

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/testdb"
)

// TestPartialIndexPredicates checks that the hot statements written with pendingSQL,
// notCreatedSQL and expiredSQL keep their partial index under a generic plan, the plan Postgres may switch a
// prepared statement to after five executions (pgx prepares every statement): a bound state
// would not, and the hopper's claim would read every contact of a large campaign.
func TestPartialIndexPredicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Pool(t)
	// A campaign of 20,000 contacts, one in 30 pending (half of those with a due time), the rest
	// completed; an attempt per completed contact, one in 1,000 without its result.
	var campaignID int64
	require.NoError(t, pool.QueryRow(ctx, `
		INSERT INTO campaign (name, columns, phone_column, window_spec, status, mode)
		VALUES ('plans', '{phone}', 0, 'always', $1, $2) RETURNING id`, StatusRunning, ModeService).Scan(&campaignID))
	_, err := pool.Exec(ctx, `
		INSERT INTO contact (campaign_id, line, phone, time_zones, time_zone_source, fields, state, next_attempt_at)
		SELECT $1, i, '+1415' || lpad(i::text, 7, '0'), '{UTC}', 'default', '{x}',
		       CASE WHEN i % 30 = 0 THEN $2 ELSE $3 END,
		       CASE WHEN i % 60 = 0 THEN now() + interval '1 hour' END
		FROM generate_series(1, 20000) i`, campaignID, ContactPending, ContactCompleted)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
		INSERT INTO attempt (campaign_id, contact_id, number, key, state, report_at, created_at, updated_at)
		SELECT campaign_id, id, 1, 'k-' || id, CASE WHEN id % 1000 = 0 THEN $2 ELSE $3 END,
		       CASE WHEN id % 1000 <> 0 THEN now() END, now() - interval '1 hour', now() - interval '1 hour'
		FROM contact WHERE campaign_id = $1 AND state = $4`,
		campaignID, AttemptCreated, AttemptEnded, ContactCompleted)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE contact, attempt`)
	require.NoError(t, err)

	// One connection of the test's own pool, closed with it: what is set here goes no further.
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, sql, args, index string
	}{
		{"dueRetries", dueRetriesSQL, fmt.Sprintf("%d, now(), 10", campaignID), "contact_due_idx"},
		{"dueUntimed", dueUntimedSQL, fmt.Sprintf("%d, 10", campaignID), "contact_due_idx"},
		{"hasPending", hasPendingSQL, fmt.Sprint(campaignID), "contact_due_idx"},
		{"expiredCount", `SELECT ` + expiredCountSQL + ` FROM campaign c WHERE c.id = $1`, fmt.Sprint(campaignID),
			"contact_expired_idx"},
		{"staleAttempts", staleAttemptsSQL, fmt.Sprintf("now(), now(), 50, %d, ARRAY['%s', '%s'], '%s'",
			campaignID, AttemptCreated, AttemptEnded, AttemptCreating), "attempt_unreported_idx"},
	} {
		_, err := conn.Exec(ctx, `PREPARE `+tc.name+` AS `+tc.sql)
		require.NoError(t, err, tc.name)
		rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+tc.name+`(`+tc.args+`)`)
		require.NoError(t, err, tc.name)
		var plan strings.Builder
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line), tc.name)
			plan.WriteString(line + "\n")
		}
		require.NoError(t, rows.Err(), tc.name)
		require.Contains(t, plan.String(), tc.index, "%s, generic plan:\n%s", tc.name, plan.String())
	}
}
