package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SuccessValues are the success evaluations (lower-cased, trimmed) that count a call as
// successful: Vapi's default PassFail rubric answers "true" or "false"; the others are the
// spellings of a pass that custom rubrics and prompts produce. Other rubrics (numeric,
// descriptive, Likert …) never count, and show only in the breakdown of evaluations.
var SuccessValues = []string{"true", "pass", "passed", "yes", "success", "successful"}

// DurationBucketEdges are the upper bounds, in seconds, of the buckets of the connected calls'
// durations in ReportFacts (the last bucket, past the last edge, is open).
var DurationBucketEdges = []float64{30, 60, 120, 180, 300, 600}

// ReportFacts are the figures a campaign report is made of, read in one consistent snapshot.
// Calls are the attempts that placed a call or may have (not those refused before dialing, nor
// those Vapi refused for lack of a concurrency slot), as in exports; a call is connected when
// its outcome is completed (a conversation with a person), successful when its success
// evaluation is one of SuccessValues.
type ReportFacts struct {
	Campaign *Campaign
	// ReadAt is when the facts were read: the start of the snapshot they come from.
	ReadAt time.Time
	// StartedAt is when the campaign first ran, FinishedAt when it ended (nil: not yet).
	StartedAt, FinishedAt *time.Time

	// Contacts counts the campaign's contacts by state and outcome.
	Contacts []ContactCount
	// Runner is who runs the campaign (see Orphaned).
	Runner RunnerState
	// NextDue and LastDue are the earliest and the latest next_attempt_at of pending contacts.
	NextDue, LastDue *time.Time

	// Zones counts contacts and their calls by the contact's first time zone, most contacts
	// first; summed, they give the funnel.
	Zones []ZoneFacts

	// Groups are every attempt counted by ended reason, outcome and success evaluation, apart
	// as calls or not, and as known to Vapi (a call id) or not: the ended reasons, evaluations
	// and the comparison with Vapi's analytics are made from them.
	Groups []AttemptGroup

	// ByCallNumber is the calls by their rank among the contact's calls (1 = first call).
	ByCallNumber []CallNumberFacts

	// ByCallerNumber is the calls by the phone number they came from, in id order.
	ByCallerNumber []CallerNumberFacts

	// Cost sums the cost of every attempt (CostUSD) and its breakdown by component.
	Cost CostFacts

	// Duration describes the connected calls that have a duration.
	Duration DurationFacts

	// Hours counts calls by the contact's local hour at the call's start (0-23);
	// UnknownHourCalls those whose zone Postgres does not know.
	Hours            [24]HourFacts
	UnknownHourCalls int

	// LiveCalls counts the attempts creating or created.
	LiveCalls int
	// FirstAttemptAt and LastAttemptAt bound the attempts' journal times (nil: none).
	FirstAttemptAt, LastAttemptAt *time.Time
	// VapiFrom and VapiTo bound the times of the attempts that have a call at Vapi: journaled,
	// created at Vapi, ended (nil: none).
	VapiFrom, VapiTo *time.Time
}

// ContactCount is how many contacts share a state and an outcome, and how many of them have
// had a counted attempt.
type ContactCount struct {
	State    ContactState
	Outcome  string
	Contacts int
	// Called counts those with at least one counted attempt.
	Called int
}

// ZoneFacts are the contacts of one time zone and what their calls came to.
type ZoneFacts struct {
	// Zone is the contact's first zone ("" when it has none).
	Zone string
	// Contacts counts the contacts; Dialed those with a call, Connected those with a connected
	// call, Successful those with a successful call.
	Contacts, Dialed, Connected, Successful int
	// Calls counts their calls, ConnectedCalls the connected ones.
	Calls, ConnectedCalls int
}

// AttemptGroup counts the attempts that share an ended reason, outcome, success evaluation,
// and whether they are calls and have a call id at Vapi.
type AttemptGroup struct {
	EndedReason       string
	Outcome           string
	SuccessEvaluation string
	// Call: a call placed (see ReportFacts); AtVapi: the attempt has a Vapi call id.
	Call, AtVapi bool
	Attempts     int
	CostUSD      float64
	// Durations counts the attempts with a duration, DurationSeconds sums it.
	Durations       int
	DurationSeconds float64
}

// CallNumberFacts are the calls of one rank among their contacts' calls.
type CallNumberFacts struct {
	// Number is the rank: 1 for a contact's first call, 2 for its second, …
	Number int
	// Calls counts the calls of that rank, Connected and Successful those connected and
	// successful.
	Calls, Connected, Successful int
	// FirstConnected counts the contacts whose first connected call has this rank,
	// FirstSuccessful those whose first successful call has.
	FirstConnected, FirstSuccessful int
}

// CallerNumberFacts are the calls placed from one phone number.
type CallerNumberFacts struct {
	// PhoneNumberID is the Vapi phone number id ("" for calls of a campaign without one);
	// Number its E.164 number when known.
	PhoneNumberID, Number string
	// Calls counts the calls, Connected and Successful those connected and successful.
	Calls, Connected, Successful int
	// CostUSD sums their cost.
	CostUSD float64
}

// CostFacts sum the cost of a campaign's attempts, in USD: the total and Vapi's breakdown
// (AnalysisUSD sums the analysis steps).
type CostFacts struct {
	TotalUSD                                                   float64
	TransportUSD, STTUSD, LLMUSD, TTSUSD, VapiUSD, AnalysisUSD float64
}

// DurationFacts describe the durations of connected calls, in seconds. Mean, P50 and P90 are
// zero when Calls is zero; Buckets has len(DurationBucketEdges)+1 counts. TotalSeconds sums the
// duration of every call, connected or not.
type DurationFacts struct {
	Calls          int
	Mean, P50, P90 float64
	Buckets        []int
	TotalSeconds   float64
}

// HourFacts count the calls of one local hour, and the connected ones.
type HourFacts struct {
	Calls, Connected int
}

// callsSQL is true for an attempt row a that is a call (see ReportFacts): the statement's
// parameters $first and $first+1 are callsArgs.
func callsSQL(first int) string {
	return fmt.Sprintf(`a.state <> $%d AND a.outcome <> $%d`, first, first+1)
}

// callsArgs are the parameters of callsSQL, after args.
func callsArgs(args ...any) []any {
	return append(args, AttemptNotCreated, OutcomeCapacity)
}

// successSQL is true for an attempt whose success evaluation counts as a success.
func successSQL() string {
	return `lower(btrim(a.success_evaluation)) IN ('` + strings.Join(SuccessValues, `', '`) + `')`
}

// ReportFacts reads the figures of a campaign's report in one consistent snapshot. A campaign
// that does not exist is ErrNotFound.
func (s *Store) ReportFacts(ctx context.Context, campaignID int64) (*ReportFacts, error) {
	var f *ReportFacts
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			f = &ReportFacts{}
			// A few aggregate scans: JIT compilation would cost more than it saves.
			if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
				return err
			}
			c, err := scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaign WHERE id = $1`, campaignID))
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
			}
			if err != nil {
				return err
			}
			f.Campaign = c
			if err := tx.QueryRow(ctx, `SELECT `+runnerStateSQL+` FROM campaign c WHERE c.id = $1`, campaignID).
				Scan(&f.Runner.Live, &f.Runner.LastSeen); err != nil {
				return err
			}
			for _, read := range []func(context.Context, pgx.Tx, *ReportFacts) error{
				readReportTimes, readContactCounts, readZoneFacts, readAttemptGroups, readCallNumbers, readDurations, readHours,
				readCallerNumbers,
			} {
				if err := read(ctx, tx, f); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("report of campaign %d: %w", campaignID, err)
	}
	return f, nil
}

// readReportTimes reads the snapshot's time, the campaign's run times, the pending contacts' due times, and the
// attempts' times, live count and cost.
func readReportTimes(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
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

// readContactCounts counts the contacts by state and outcome.
func readContactCounts(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT state, outcome, count(*), count(*) FILTER (WHERE attempts > 0) FROM contact WHERE campaign_id = $1
		GROUP BY state, outcome ORDER BY state, outcome`, f.Campaign.ID)
	if err != nil {
		return err
	}
	f.Contacts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ContactCount, error) {
		var c ContactCount
		err := row.Scan(&c.State, &c.Outcome, &c.Contacts, &c.Called)
		return c, err
	})
	return err
}

// readZoneFacts counts contacts and their calls by time zone: the funnel, zone by zone.
func readZoneFacts(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
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
	f.Zones, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ZoneFacts, error) {
		var z ZoneFacts
		err := row.Scan(&z.Zone, &z.Contacts, &z.Dialed, &z.Connected, &z.Successful, &z.Calls, &z.ConnectedCalls)
		return z, err
	})
	return err
}

// readAttemptGroups counts the attempts by ended reason, outcome, evaluation, call and call id.
func readAttemptGroups(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT a.ended_reason, a.outcome, a.success_evaluation, (`+callsSQL(2)+`), a.vapi_call_id IS NOT NULL,
		       count(*), coalesce(sum(a.cost), 0)::float8, count(a.duration_seconds),
		       coalesce(sum(a.duration_seconds), 0)::float8
		FROM attempt a WHERE a.campaign_id = $1
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`, callsArgs(f.Campaign.ID)...)
	if err != nil {
		return err
	}
	f.Groups, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (AttemptGroup, error) {
		var g AttemptGroup
		err := row.Scan(&g.EndedReason, &g.Outcome, &g.SuccessEvaluation, &g.Call, &g.AtVapi, &g.Attempts, &g.CostUSD,
			&g.Durations, &g.DurationSeconds)
		return g, err
	})
	return err
}

// readCallNumbers counts the calls by rank, and the contacts by the rank of their first
// connected and first successful call.
func readCallNumbers(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
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
	f.ByCallNumber, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (CallNumberFacts, error) {
		var c CallNumberFacts
		err := row.Scan(&c.Number, &c.Calls, &c.Connected, &c.Successful, &c.FirstConnected, &c.FirstSuccessful)
		return c, err
	})
	return err
}

// readCallerNumbers counts the calls, connected, successful, and their cost by the phone number
// they came from.
func readCallerNumbers(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT a.phone_number_id, coalesce((SELECT number FROM caller_number WHERE id = a.phone_number_id), ''),
		       count(*), count(*) FILTER (WHERE a.outcome = $2), count(*) FILTER (WHERE `+successSQL()+`),
		       coalesce(sum(a.cost), 0)::float8
		FROM attempt a WHERE a.campaign_id = $1 AND `+callsSQL(3)+`
		GROUP BY a.phone_number_id ORDER BY a.phone_number_id`, callsArgs(f.Campaign.ID, OutcomeCompleted)...)
	if err != nil {
		return err
	}
	f.ByCallerNumber, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (CallerNumberFacts, error) {
		var c CallerNumberFacts
		err := row.Scan(&c.PhoneNumberID, &c.Number, &c.Calls, &c.Connected, &c.Successful, &c.CostUSD)
		return c, err
	})
	return err
}

// readDurations reads the connected calls' duration figures and every call's total duration.
func readDurations(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
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

// readHours counts the calls by the contact's local hour at the call's start (its creation
// for calls that never started), in the contact's first zone, as Postgres knows the zone.
func readHours(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
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
