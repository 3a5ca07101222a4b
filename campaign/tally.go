package campaign

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Tallies (migration 00024): triggers on contact and attempt append every statement's signed
// change of a campaign's counts and sums to tally_delta; CompactTallies folds those deltas into
// tally. A reader sums both in one snapshot (tallySQL), so its figures are exact whether or not
// the deltas were folded. The kinds, their keys and their sums are described in the migration.
const (
	tallyContacts = "c" // key: state, outcome, first zone, called; no sums
	tallyAttempts = "a" // key: state, outcome, ended reason, evaluation, call, at Vapi, caller number, bucket
	tallyHours    = "h" // key: first zone, call start floored to the UTC quarter hour (Unix seconds)
	tallyRanks    = "r" // key: rank of the call among its contact's calls
	tallyZones    = "z" // key: first zone of the contacts with a call
)

// tallyRowsSQL is a table expression of the tally rows of kind kind, totals and pending deltas
// alike (campaign_id, key, n, v), of the campaigns whose id meets campaignCond (e.g. "= $1",
// "= c.id", "= ANY ($1)").
func tallyRowsSQL(campaignCond, kind string) string {
	return `(SELECT campaign_id, key, n, v FROM tally WHERE campaign_id ` + campaignCond + ` AND kind = '` + kind + `'
		UNION ALL
		SELECT campaign_id, key, n, v FROM tally_delta WHERE campaign_id ` + campaignCond + ` AND kind = '` + kind + `')`
}

// tallySQL is a table expression of the summed tallies of kind kind of campaign $1: key, n and
// v (the sums; v[1] is the first), without the keys that came to nothing.
func tallySQL(kind string) string {
	return `(SELECT key, sum(n)::bigint AS n, tally_sum(v) AS v FROM ` + tallyRowsSQL("= $1", kind) + ` x
		GROUP BY key HAVING sum(n) <> 0)`
}

// compactTalliesLockSQL takes, without waiting, the advisory lock of the compactor: one at a time
// per schema (see queueDueLockSQL for why the schema is in the key).
const compactTalliesLockSQL = `SELECT pg_try_advisory_xact_lock(hashtextextended('campaign.compact_tallies/' || current_schema(), 0))`

// CompactTallies folds the pending tally deltas into the totals, in one transaction, and returns
// how many delta rows it folded (0 when another compactor is at work). Readers see the deltas or
// the totals they became, never both nor neither. The deltas of a campaign that no longer exists
// are dropped; the totals that came to zero are deleted, of the campaigns folded only.
//
// It first takes a key-share lock of each campaign it folds, skipping those locked for update:
// a campaign being deleted (DeleteCampaign, an import replacing a draft: FOR UPDATE, then the
// cascade to tally) is left for the next run, once it is gone. Without that lock the fold's
// foreign-key check of a new total waited for the deletion while the deletion's cascade waited
// for a total the fold had updated: a deadlock.
func (s *Store) CompactTallies(ctx context.Context) (int, error) {
	var folded int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		folded = 0
		var locked bool
		if err := tx.QueryRow(ctx, compactTalliesLockSQL).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return nil
		}
		var held []int64
		if err := tx.QueryRow(ctx, `
			SELECT coalesce(array_agg(id), '{}') FROM (
				SELECT id FROM campaign WHERE id IN (SELECT DISTINCT campaign_id FROM tally_delta)
				ORDER BY id FOR KEY SHARE SKIP LOCKED) AS held`).Scan(&held); err != nil {
			return err
		}
		var campaigns []int64
		err := tx.QueryRow(ctx, `
			WITH d AS (
				DELETE FROM tally_delta x
				WHERE x.campaign_id = ANY ($1) OR NOT EXISTS (SELECT FROM campaign c WHERE c.id = x.campaign_id)
				RETURNING campaign_id, kind, key, n, v
			), g AS (
				SELECT d.campaign_id, d.kind, d.key, sum(d.n) AS n, tally_sum(d.v) AS v FROM d
				WHERE d.campaign_id = ANY ($1)
				GROUP BY 1, 2, 3
			), up AS (
				INSERT INTO tally AS t (campaign_id, kind, key, n, v) SELECT * FROM g
				ON CONFLICT (campaign_id, kind, key) DO UPDATE SET n = t.n + excluded.n, v = tally_add(t.v, excluded.v)
				RETURNING campaign_id
			)
			SELECT (SELECT count(*) FROM d), coalesce((SELECT array_agg(DISTINCT campaign_id) FROM up), '{}')`, held).
			Scan(&folded, &campaigns)
		if err != nil {
			return err
		}
		if len(campaigns) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `DELETE FROM tally WHERE campaign_id = ANY ($1) AND n = 0 AND NOT tally_nonzero(v)`, campaigns)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("compact tallies: %w", err)
	}
	return folded, nil
}

// Index probes for the time bounds the reports show: each reads one entry of an index (min and
// max as ORDER BY … LIMIT 1), never the campaign's rows.
const (
	// nextDueSQL and lastDueSQL: the earliest and latest next_attempt_at of the pending contacts
	// of campaign $1 (contact_due_idx).
	nextDueSQL = `SELECT (SELECT next_attempt_at FROM contact WHERE campaign_id = $1 AND state = ` + pendingSQL + `
		AND next_attempt_at IS NOT NULL ORDER BY next_attempt_at LIMIT 1)`
	lastDueSQL = `SELECT (SELECT next_attempt_at FROM contact WHERE campaign_id = $1 AND state = ` + pendingSQL + `
		AND next_attempt_at IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1)`
	// attemptBoundsSQL: the first and last journal time of the attempts of campaign $1
	// (attempt_calls_created_idx), and the bounds of those with a call at Vapi
	// (attempt_vapi_from_idx, attempt_vapi_to_idx).
	attemptBoundsSQL = `SELECT
		(SELECT created_at FROM attempt WHERE campaign_id = $1 ORDER BY created_at LIMIT 1),
		(SELECT created_at FROM attempt WHERE campaign_id = $1 ORDER BY created_at DESC LIMIT 1),
		(SELECT least(created_at, call_created_at) FROM attempt WHERE campaign_id = $1 AND vapi_call_id IS NOT NULL
		 ORDER BY least(created_at, call_created_at) LIMIT 1),
		(SELECT greatest(created_at, call_created_at, ended_at) FROM attempt WHERE campaign_id = $1 AND vapi_call_id IS NOT NULL
		 ORDER BY greatest(created_at, call_created_at, ended_at) DESC LIMIT 1)`
	// connectedDurationsSQL selects the durations of the connected calls of campaign $1 in
	// order, from position $2 (attempt_connected_duration_idx; its predicate is written out so
	// that every plan can use it).
	connectedDurationsSQL = `SELECT duration_seconds FROM attempt
		WHERE campaign_id = $1 AND outcome = '` + string(OutcomeCompleted) + `' AND state <> '` + string(AttemptNotCreated) + `'
		  AND duration_seconds IS NOT NULL
		ORDER BY duration_seconds OFFSET $2 LIMIT 2`
)
