package campaign

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/internal/testdb"
)

// TestCallsQueryPlans checks that the calls table's statements read through their indexes
// (migration 00020): an order its index, rather than sort every call of the campaign, even under
// a generic plan; a search the partial search indexes (their predicate, searchableSQL, is written
// as a literal); the calls of the contacts a search matched, the attempt's contact index.
func TestCallsQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Pool(t)
	// 30,000 contacts, a third never called; the others with one call each; another campaign
	// beside it, so the campaign's condition is selective; 20,000 webhook events, 4 in trouble.
	var campaignID int64
	require.NoError(t, pool.QueryRow(ctx, `
		INSERT INTO campaign (name, columns, phone_column, window_spec) VALUES ('plans', '{phone}', 0, 'always') RETURNING id`).
		Scan(&campaignID))
	_, err := pool.Exec(ctx, `
		INSERT INTO campaign (name, columns, phone_column, window_spec) VALUES ('beside', '{phone}', 0, 'always');
		INSERT INTO contact (campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields, state, attempts)
		SELECT c.id, i, '+1415' || lpad(i::text, 7, '0'), 'name ' || i, 'E' || i, '{UTC}', 'default', '{x}',
		       CASE WHEN i % 3 = 0 THEN '`+string(ContactPending)+`' ELSE '`+string(ContactCompleted)+`' END,
		       CASE WHEN i % 3 = 0 THEN 0 ELSE 1 END
		FROM campaign c CROSS JOIN generate_series(1, 15000) i;
		INSERT INTO attempt (campaign_id, contact_id, number, key, state, outcome, cost, duration_seconds, created_at)
		SELECT campaign_id, id, 1, 'k-' || id, '`+string(AttemptEnded)+`', '`+string(OutcomeCompleted)+`',
		       (id % 100) * 0.01, id % 300, now() - id * interval '1 s'
		FROM contact WHERE attempts > 0;
		INSERT INTO webhook_event (type, vapi_call_id, payload, apply_error)
		SELECT 'status-update', 'call-' || i, '{}', CASE WHEN i % 5000 = 0 THEN 'unknown call' ELSE '' END
		FROM generate_series(1, 20000) i;
		ANALYZE campaign, contact, attempt, webhook_event`)
	require.NoError(t, err)

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	var someContacts []int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(id) FROM (SELECT id FROM contact
		WHERE campaign_id = $1 AND attempts > 0 ORDER BY id LIMIT 20) x`, campaignID).Scan(&someContacts))
	for i, tc := range []struct {
		name string
		// sql and args are the statement; generic plans it generically (its arguments are then
		// numbers), else with its values, as ListCalls runs it.
		sql     string
		args    []any
		generic bool
		index   []string
	}{
		{name: "first page", generic: true, index: []string{"attempt_calls_created_idx"}},
		{name: "by cost, desc", generic: true, index: []string{"attempt_calls_cost_idx"}},
		{name: "by duration", generic: true, index: []string{"attempt_calls_duration_idx"}},
		{name: "back a page, by cost", generic: true, index: []string{"attempt_calls_cost_idx"}},
		{name: "search a phone", index: []string{"contact_search_phone_idx", "contact_search_name_idx",
			"contact_search_external_id_idx"}},
		{name: "search a name", index: []string{"contact_search_name_idx", "contact_search_external_id_idx"}},
		{name: "the calls of the contacts a search matched", index: []string{"attempt_contact_id_number_key"}},
		{name: "the errors of a campaign (status)", generic: true, index: []string{"attempt_error_idx"}},
		{name: "the webhook events in trouble (status)", generic: true, index: []string{"webhook_event_problem_idx"}},
	} {
		switch tc.name {
		case "first page", "by cost, desc", "by duration":
			q := CallQuery{Sort: map[string]CallSort{"by cost, desc": SortCost, "by duration": SortDuration}[tc.name],
				Desc: tc.name == "by cost, desc"}
			q, err := q.normalize()
			require.NoError(t, err)
			tc.sql, tc.args = callsPageSQL(campaignID, q, "US", nil, nil)
		case "back a page, by cost":
			q, err := CallQuery{Sort: SortCost}.normalize()
			require.NoError(t, err)
			tc.sql, tc.args = callsPageSQL(campaignID, q, "US", nil, &pageCursor{Key: "0.05", ID: 1000, Back: true})
		case "the errors of a campaign (status)":
			tc.sql, tc.args = `SELECT error, count(*) FROM attempt WHERE campaign_id = $1 AND error <> '' GROUP BY error`,
				[]any{campaignID}
		case "the webhook events in trouble (status)":
			tc.sql, tc.args = `SELECT count(*) FROM webhook_event e WHERE e.apply_error <> '' OR e.rejected <> ''`, nil
		case "search a phone":
			tc.sql, tc.args = searchContactsSQL(campaignID, "+1415000123", "US")
		case "search a name":
			tc.sql, tc.args = searchContactsSQL(campaignID, "name 12", "US")
		default:
			q, err := CallQuery{Search: "name 1"}.normalize()
			require.NoError(t, err)
			tc.sql, tc.args = callsPageSQL(campaignID, q, "US", someContacts, nil)
		}
		var rows pgx.Rows
		if tc.generic {
			name := fmt.Sprintf("calls_%d", i)
			_, err = conn.Exec(ctx, `PREPARE `+name+` AS `+tc.sql)
			require.NoError(t, err, tc.name)
			literals := make([]string, len(tc.args))
			for j, a := range tc.args {
				literals[j] = fmt.Sprint(a)
			}
			call := name
			if len(literals) > 0 {
				call += `(` + strings.Join(literals, ", ") + `)`
			}
			rows, err = conn.Query(ctx, `EXPLAIN EXECUTE `+call)
		} else {
			rows, err = conn.Query(ctx, `EXPLAIN `+tc.sql, append([]any{pgx.QueryExecModeDescribeExec}, tc.args...)...)
		}
		require.NoError(t, err, tc.name)
		var plan strings.Builder
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line), tc.name)
			plan.WriteString(line + "\n")
		}
		require.NoError(t, rows.Err(), tc.name)
		for _, index := range tc.index {
			require.Contains(t, plan.String(), index, "%s, plan:\n%s", tc.name, plan.String())
		}
	}
}

// TestSearchPathsAgree: a search reads the same calls, in the same order, whether ListCalls reads
// them from the contacts it matched (few) or walks the order's index keeping those of matching
// contacts (many): the two forms of callsPageSQL.
func TestSearchPathsAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Pool(t)
	var campaignID int64
	require.NoError(t, pool.QueryRow(ctx, `
		INSERT INTO campaign (name, columns, phone_column, window_spec) VALUES ('paths', '{phone}', 0, 'always') RETURNING id`).
		Scan(&campaignID))
	_, err := pool.Exec(ctx, `
		INSERT INTO contact (campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields, state, attempts)
		SELECT $1, i, '+1415' || lpad(i::text, 7, '0'), (ARRAY['Ann', 'Bob', 'anna'])[1 + i % 3] || ' ' || i, 'E' || i,
		       '{UTC}', 'default', '{x}', $2, 1 + i % 2
		FROM generate_series(1, 300) i`, campaignID, ContactCompleted)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
		INSERT INTO attempt (campaign_id, contact_id, number, key, state, cost, created_at)
		SELECT campaign_id, id, n, 'k-' || id || '-' || n, $1, CASE WHEN id % 7 > 0 THEN (id % 5) * 0.1 END,
		       timestamptz '2026-12-01 00:00:00Z' + (id % 17) * interval '1 s'
		FROM contact CROSS JOIN generate_series(1, attempts) n`, AttemptEnded)
	require.NoError(t, err)
	read := func(sql string, args []any) []int64 {
		rows, err := pool.Query(ctx, sql, args...)
		require.NoError(t, err)
		var ids []int64
		for rows.Next() {
			vals, err := rows.Values()
			require.NoError(t, err)
			ids = append(ids, vals[0].(int64))
		}
		require.NoError(t, rows.Err())
		return ids
	}
	for _, q := range []CallQuery{
		{Search: "ann", Limit: MaxCallPage},
		{Search: "ANN", Sort: SortCost, Desc: true, Limit: MaxCallPage},
		{Search: "+1415000001", Sort: SortDuration, Limit: MaxCallPage},
		{Search: "E12", Limit: MaxCallPage},
	} {
		q, err := q.normalize()
		require.NoError(t, err)
		matchSQL, matchArgs := searchContactsSQL(campaignID, q.Search, "US")
		matched := read(matchSQL, matchArgs)
		walk, walkArgs := callsPageSQL(campaignID, q, "US", nil, nil)
		listed, listedArgs := callsPageSQL(campaignID, q, "US", append([]int64{}, matched...), nil)
		want := read(walk, walkArgs)
		require.NotEmpty(t, want, q.Search)
		require.Equal(t, want, read(listed, listedArgs), q.Search)
	}
}
