package campaign

// The oracle of the tallies: the scans of every contact and attempt that Progress,
// CampaignTotals and ReportFacts made before the tallies (migration 00024). TestTallies
// compares every figure of the tallies with them.

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// OracleReportFacts reads a campaign's report figures by scanning its rows.
func (s *Store) OracleReportFacts(ctx context.Context, campaignID int64) (*ReportFacts, error) {
	return s.reportFacts(ctx, campaignID, []reportRead{
		oracleReadReportTimes, oracleReadContactCounts, oracleReadZoneFacts, oracleReadAttemptGroups,
		oracleReadCallNumbers, oracleReadDurations, oracleReadHours, oracleReadCallerNumbers,
	})
}

// OracleProgress reads a campaign's progress by scanning its rows.
func (s *Store) OracleProgress(ctx context.Context, campaignID int64) (Progress, error) {
	p := Progress{ByState: map[ContactState]int{}, ByOutcome: map[Outcome]int{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT status, paused_reason FROM campaign WHERE id = $1`, campaignID).
				Scan(&p.Status, &p.PausedReason); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `
				SELECT state, outcome, count(*) FROM contact WHERE campaign_id = $1 GROUP BY state, outcome`, campaignID)
			if err != nil {
				return err
			}
			if err := p.addContactCounts(rows); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `
				SELECT count(*) FILTER (WHERE state = ANY($2)), count(*) FILTER (WHERE state <> $3),
				       coalesce(sum(cost), 0)::float8
				FROM attempt WHERE campaign_id = $1`, campaignID, liveAttemptStates(), AttemptNotCreated).
				Scan(&p.Live, &p.Attempts, &p.Cost); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `
				SELECT min(next_attempt_at) FROM contact WHERE campaign_id = $1 AND state = `+pendingSQL, campaignID).
				Scan(&p.NextDue)
		})
	return p, err
}

// OracleCampaignTotals reads a campaign's totals by scanning its rows.
func (s *Store) OracleCampaignTotals(ctx context.Context, campaignID int64) (CampaignTotals, error) {
	t := CampaignTotals{ID: campaignID, ByState: map[ContactState]int{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT coalesce(sum(cost), 0)::float8 FROM attempt WHERE campaign_id = $1`,
				campaignID).Scan(&t.Cost); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT state, count(*)::int FROM contact WHERE campaign_id = $1 GROUP BY state`, campaignID)
			if err != nil {
				return err
			}
			var (
				state ContactState
				n     int
			)
			_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
				t.ByState[state] = n
				return nil
			})
			return err
		})
	return t, err
}

// successSQL is true for an attempt whose success evaluation counts as a success.
func successSQL() string {
	return `lower(btrim(a.success_evaluation)) IN ('` + strings.Join(SuccessValues, `', '`) + `')`
}

// oracleReadReportTimes reads the snapshot's time, the campaign's run times, the pending contacts' due times, and the
// attempts' times, live count and cost.
func oracleReadReportTimes(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	id := f.Campaign.ID
	err := tx.QueryRow(ctx, `SELECT started_at, finished_at, now() FROM campaign WHERE id = $1`, id).
		Scan(&f.StartedAt, &f.FinishedAt, &f.ReadAt)
	if err != nil {
		return err
	}
	err = tx.QueryRow(ctx, `
		SELECT min(next_attempt_at), max(next_attempt_at) FROM contact WHERE campaign_id = $1 AND state = `+pendingSQL, id).
		Scan(&f.NextDue, &f.LastDue)
	if err != nil {
		return err
	}
	var analysis []string
	for _, k := range []string{"summary", "structuredData", "successEvaluation", "structuredOutput"} {
		analysis = append(analysis, "coalesce("+breakdownNumber("analysisCostBreakdown", k)+", 0)")
	}
	sum := func(expr string) string { return `coalesce(sum(` + expr + `), 0)::float8` }
	c := &f.Cost
	return tx.QueryRow(ctx, `
		SELECT min(a.created_at), max(a.created_at),
		       count(*) FILTER (WHERE a.state = ANY($2)),
		       min(least(a.created_at, a.call_created_at)) FILTER (WHERE a.vapi_call_id IS NOT NULL),
		       max(greatest(a.created_at, a.call_created_at, a.ended_at)) FILTER (WHERE a.vapi_call_id IS NOT NULL),
		       `+sum(`a.cost`)+`, `+sum(breakdownNumber("transport"))+`, `+sum(breakdownNumber("stt"))+`,
		       `+sum(breakdownNumber("llm"))+`, `+sum(breakdownNumber("tts"))+`, `+sum(breakdownNumber("vapi"))+`,
		       `+sum(strings.Join(analysis, " + "))+`
		FROM attempt a WHERE a.campaign_id = $1`, id, liveAttemptStates()).
		Scan(&f.FirstAttemptAt, &f.LastAttemptAt, &f.LiveCalls, &f.VapiFrom, &f.VapiTo,
			&c.TotalUSD, &c.TransportUSD, &c.STTUSD, &c.LLMUSD, &c.TTSUSD, &c.VapiUSD, &c.AnalysisUSD)
}

// oracleReadContactCounts counts the contacts by state and outcome.
func oracleReadContactCounts(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT state, outcome, count(*), count(*) FILTER (WHERE attempts > 0) FROM contact WHERE campaign_id = $1
		GROUP BY state, outcome ORDER BY state, outcome`, f.Campaign.ID)
	if err != nil {
		return err
	}
	f.Contacts, err = pgx.CollectRows(rows, scanContactCount)
	return err
}

// oracleReadZoneFacts counts contacts and their calls by time zone: the funnel, zone by zone.
func oracleReadZoneFacts(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT coalesce(ct.time_zones[1], '') AS zone, count(*),
		       count(*) FILTER (WHERE x.calls > 0), count(*) FILTER (WHERE x.connected > 0),
		       count(*) FILTER (WHERE x.successful > 0),
		       coalesce(sum(x.calls), 0)::int, coalesce(sum(x.connected), 0)::int
		FROM contact ct
		LEFT JOIN (
			SELECT a.contact_id, count(*) AS calls, count(*) FILTER (WHERE a.outcome = $2) AS connected,
			       count(*) FILTER (WHERE `+successSQL()+`) AS successful
			FROM attempt a WHERE a.campaign_id = $1 AND `+callsSQL(3)+`
			GROUP BY a.contact_id
		) x ON x.contact_id = ct.id
		WHERE ct.campaign_id = $1
		GROUP BY zone ORDER BY count(*) DESC, zone`, callsArgs(f.Campaign.ID, OutcomeCompleted)...)
	if err != nil {
		return err
	}
	f.Zones, err = pgx.CollectRows(rows, scanZoneFacts)
	return err
}

// oracleReadAttemptGroups counts the attempts by ended reason, outcome, evaluation, call and call id.
func oracleReadAttemptGroups(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT a.ended_reason, a.outcome, a.success_evaluation, (`+callsSQL(2)+`), a.vapi_call_id IS NOT NULL,
		       count(*), coalesce(sum(a.cost), 0)::float8, count(a.duration_seconds),
		       coalesce(sum(a.duration_seconds), 0)::float8
		FROM attempt a WHERE a.campaign_id = $1
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`, callsArgs(f.Campaign.ID)...)
	if err != nil {
		return err
	}
	f.Groups, err = pgx.CollectRows(rows, scanAttemptGroup)
	return err
}

// oracleReadCallNumbers counts the calls by rank, and the contacts by the rank of their first
// connected and first successful call.
func oracleReadCallNumbers(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		WITH c AS (
			SELECT a.contact_id, a.outcome = $2 AS connected, `+successSQL()+` AS successful,
			       row_number() OVER (PARTITION BY a.contact_id ORDER BY a.number) AS n
			FROM attempt a WHERE a.campaign_id = $1 AND `+callsSQL(3)+`
		), firsts AS (
			SELECT min(n) FILTER (WHERE connected) AS connected, min(n) FILTER (WHERE successful) AS successful
			FROM c GROUP BY contact_id
		)
		SELECT n, sum(calls)::int, sum(connected)::int, sum(successful)::int, sum(first_connected)::int,
		       sum(first_successful)::int
		FROM (
			SELECT n, count(*) AS calls, count(*) FILTER (WHERE connected) AS connected,
			       count(*) FILTER (WHERE successful) AS successful, 0 AS first_connected, 0 AS first_successful
			FROM c GROUP BY n
			UNION ALL
			SELECT connected, 0, 0, 0, count(*), 0 FROM firsts WHERE connected IS NOT NULL GROUP BY connected
			UNION ALL
			SELECT successful, 0, 0, 0, 0, count(*) FROM firsts WHERE successful IS NOT NULL GROUP BY successful
		) x
		GROUP BY n ORDER BY n`, callsArgs(f.Campaign.ID, OutcomeCompleted)...)
	if err != nil {
		return err
	}
	f.ByCallNumber, err = pgx.CollectRows(rows, scanCallNumberFacts)
	return err
}

// oracleReadCallerNumbers counts the calls, connected, successful, and their cost by the phone number
// they came from.
func oracleReadCallerNumbers(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT a.phone_number_id, coalesce((SELECT number FROM caller_number WHERE id = a.phone_number_id), ''),
		       count(*), count(*) FILTER (WHERE a.outcome = $2), count(*) FILTER (WHERE `+successSQL()+`),
		       coalesce(sum(a.cost), 0)::float8
		FROM attempt a WHERE a.campaign_id = $1 AND `+callsSQL(3)+`
		GROUP BY a.phone_number_id ORDER BY a.phone_number_id`, callsArgs(f.Campaign.ID, OutcomeCompleted)...)
	if err != nil {
		return err
	}
	f.ByCallerNumber, err = pgx.CollectRows(rows, scanCallerNumberFacts)
	return err
}

// oracleReadDurations reads the connected calls' duration figures and every call's total duration.
func oracleReadDurations(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	d := &f.Duration
	d.Buckets = make([]int, len(DurationBucketEdges)+1)
	id := f.Campaign.ID
	err := tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE a.outcome = $2 AND a.duration_seconds IS NOT NULL),
		       coalesce(avg(a.duration_seconds) FILTER (WHERE a.outcome = $2), 0)::float8,
		       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_seconds)
		                FILTER (WHERE a.outcome = $2), 0)::float8,
		       coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY a.duration_seconds)
		                FILTER (WHERE a.outcome = $2), 0)::float8,
		       coalesce(sum(a.duration_seconds), 0)::float8
		FROM attempt a WHERE a.campaign_id = $1 AND `+callsSQL(3), callsArgs(id, OutcomeCompleted)...).
		Scan(&d.Calls, &d.Mean, &d.P50, &d.P90, &d.TotalSeconds)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `
		SELECT width_bucket(a.duration_seconds, $2::float8[]), count(*)
		FROM attempt a WHERE a.campaign_id = $1 AND `+callsSQL(4)+` AND a.outcome = $3
		  AND a.duration_seconds IS NOT NULL
		GROUP BY 1`, callsArgs(id, DurationBucketEdges, OutcomeCompleted)...)
	if err != nil {
		return err
	}
	var bucket, n int
	_, err = pgx.ForEachRow(rows, []any{&bucket, &n}, func() error {
		if bucket >= 0 && bucket < len(d.Buckets) {
			d.Buckets[bucket] += n
		}
		return nil
	})
	return err
}

// oracleReadHours counts the calls by the contact's local hour at the call's start (its creation
// for calls that never started), in the contact's first zone, as Postgres knows the zone.
func oracleReadHours(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		WITH calls AS (
			SELECT coalesce(a.started_at, a.call_created_at, a.created_at) AS at, a.outcome,
			       coalesce(ct.time_zones[1], '') AS zone
			FROM attempt a JOIN contact ct ON ct.id = a.contact_id
			WHERE a.campaign_id = $1 AND `+callsSQL(3)+`
		), known AS (
			SELECT name FROM pg_timezone_names WHERE name IN (SELECT DISTINCT zone FROM calls)
		)
		SELECT CASE WHEN zone IN (SELECT name FROM known) THEN extract(hour FROM at AT TIME ZONE zone)::int ELSE -1 END,
		       count(*), count(*) FILTER (WHERE outcome = $2)
		FROM calls GROUP BY 1`, callsArgs(f.Campaign.ID, OutcomeCompleted)...)
	if err != nil {
		return err
	}
	var hour, calls, connected int
	_, err = pgx.ForEachRow(rows, []any{&hour, &calls, &connected}, func() error {
		if hour < 0 || hour > 23 {
			f.UnknownHourCalls += calls
			return nil
		}
		f.Hours[hour].Calls += calls
		f.Hours[hour].Connected += connected
		return nil
	})
	return err
}
