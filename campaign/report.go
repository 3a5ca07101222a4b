package campaign

import (
	"context"
	"errors"
	"fmt"
	"math"
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

// ReportFacts reads the figures of a campaign's report in one consistent snapshot. A campaign
// that does not exist is ErrNotFound.
func (s *Store) ReportFacts(ctx context.Context, campaignID int64) (*ReportFacts, error) {
	return s.reportFacts(ctx, campaignID, []reportRead{
		readReportTimes, readContactCounts, readZoneFacts, readAttemptGroups, readCallNumbers, readDurations, readHours,
		readCallerNumbers,
	})
}

// reportRead reads some of a report's figures into f (whose Campaign is set) in tx.
type reportRead func(ctx context.Context, tx pgx.Tx, f *ReportFacts) error

// reportFacts reads a campaign's report figures with reads, in one REPEATABLE READ snapshot.
func (s *Store) reportFacts(ctx context.Context, campaignID int64, reads []reportRead) (*ReportFacts, error) {
	var f *ReportFacts
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			f = &ReportFacts{}
			// A few small aggregates: JIT compilation would cost more than it saves.
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
			for _, read := range reads {
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

// readReportTimes reads the snapshot's time, the campaign's run times, the pending contacts' due
// times, the attempts' time bounds (index probes), and the live count and cost (tallies).
func readReportTimes(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	id := f.Campaign.ID
	err := tx.QueryRow(ctx, `SELECT started_at, finished_at, now() FROM campaign WHERE id = $1`, id).
		Scan(&f.StartedAt, &f.FinishedAt, &f.ReadAt)
	if err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, nextDueSQL, id).Scan(&f.NextDue); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, lastDueSQL, id).Scan(&f.LastDue); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, attemptBoundsSQL, id).Scan(&f.FirstAttemptAt, &f.LastAttemptAt, &f.VapiFrom, &f.VapiTo); err != nil {
		return err
	}
	sum := func(i int) string { return fmt.Sprintf(`coalesce(sum(v[%d]), 0)::float8`, i) }
	c := &f.Cost
	// v: cost, with a duration, duration, transport, stt, llm, tts, vapi, analysis.
	return tx.QueryRow(ctx, `
		SELECT coalesce(sum(n) FILTER (WHERE key[1] = ANY($2)), 0)::int,
		       `+sum(1)+`, `+sum(4)+`, `+sum(5)+`, `+sum(6)+`, `+sum(7)+`, `+sum(8)+`, `+sum(9)+`
		FROM `+tallySQL(tallyAttempts)+` t`, id, liveAttemptStates()).
		Scan(&f.LiveCalls, &c.TotalUSD, &c.TransportUSD, &c.STTUSD, &c.LLMUSD, &c.TTSUSD, &c.VapiUSD, &c.AnalysisUSD)
}

// readContactCounts counts the contacts by state and outcome.
func readContactCounts(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT key[1], key[2], sum(n)::int, coalesce(sum(n) FILTER (WHERE key[4] = 'true'), 0)::int
		FROM `+tallySQL(tallyContacts)+` t GROUP BY 1, 2 ORDER BY 1, 2`, f.Campaign.ID)
	if err != nil {
		return err
	}
	f.Contacts, err = pgx.CollectRows(rows, scanContactCount)
	return err
}

// readZoneFacts counts contacts and their calls by time zone: the funnel, zone by zone.
func readZoneFacts(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		WITH contacts AS (
			SELECT key[3] AS zone, sum(n) AS n FROM `+tallySQL(tallyContacts)+` t GROUP BY 1
		), calls AS (
			SELECT key[1] AS zone, sum(n) AS n, sum(v[1]) AS connected FROM `+tallySQL(tallyHours)+` t GROUP BY 1
		), dialed AS (
			SELECT key[1] AS zone, n, v FROM `+tallySQL(tallyZones)+` t
		)
		SELECT c.zone, c.n::int, coalesce(d.n, 0)::int, coalesce(d.v[1], 0)::int, coalesce(d.v[2], 0)::int,
		       coalesce(x.n, 0)::int, coalesce(x.connected, 0)::int
		FROM contacts c LEFT JOIN dialed d USING (zone) LEFT JOIN calls x USING (zone)
		WHERE c.n <> 0
		ORDER BY c.n DESC, c.zone`, f.Campaign.ID)
	if err != nil {
		return err
	}
	f.Zones, err = pgx.CollectRows(rows, scanZoneFacts)
	return err
}

// readAttemptGroups counts the attempts by ended reason, outcome, evaluation, call and call id.
func readAttemptGroups(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT key[3], key[2], key[4], key[5]::boolean, key[6]::boolean, sum(n)::int, coalesce(sum(v[1]), 0)::float8,
		       coalesce(sum(v[2]), 0)::int, coalesce(sum(v[3]), 0)::float8
		FROM `+tallySQL(tallyAttempts)+` t
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`, f.Campaign.ID)
	if err != nil {
		return err
	}
	f.Groups, err = pgx.CollectRows(rows, scanAttemptGroup)
	return err
}

// readCallNumbers counts the calls by rank, and the contacts by the rank of their first
// connected and first successful call.
func readCallNumbers(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT key[1]::int, n::int, coalesce(v[1], 0)::int, coalesce(v[2], 0)::int, coalesce(v[3], 0)::int,
		       coalesce(v[4], 0)::int
		FROM `+tallySQL(tallyRanks)+` t ORDER BY 1`, f.Campaign.ID)
	if err != nil {
		return err
	}
	f.ByCallNumber, err = pgx.CollectRows(rows, scanCallNumberFacts)
	return err
}

// readCallerNumbers counts the calls, connected, successful, and their cost by the phone number
// they came from.
func readCallerNumbers(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		SELECT x.id, coalesce((SELECT number FROM caller_number WHERE id = x.id), ''), x.calls, x.connected,
		       x.successful, x.cost
		FROM (
			SELECT key[7] AS id, sum(n)::int AS calls, coalesce(sum(n) FILTER (WHERE key[2] = $2), 0)::int AS connected,
			       coalesce(sum(n) FILTER (WHERE tally_success(key[4])), 0)::int AS successful,
			       coalesce(sum(v[1]), 0)::float8 AS cost
			FROM `+tallySQL(tallyAttempts)+` t WHERE key[5] = 'true'
			GROUP BY 1 HAVING sum(n) <> 0
		) x ORDER BY x.id`, f.Campaign.ID, OutcomeCompleted)
	if err != nil {
		return err
	}
	f.ByCallerNumber, err = pgx.CollectRows(rows, scanCallerNumberFacts)
	return err
}

// scanContactCount reads one ContactCount from a row of its columns in order (its state, outcome,
// contacts and called).
func scanContactCount(row pgx.CollectableRow) (ContactCount, error) {
	var c ContactCount
	err := row.Scan(&c.State, &c.Outcome, &c.Contacts, &c.Called)
	return c, err
}

// scanZoneFacts reads one ZoneFacts from a row of its columns in order (its zone, contacts,
// dialled, connected, successful, calls and connected calls).
func scanZoneFacts(row pgx.CollectableRow) (ZoneFacts, error) {
	var z ZoneFacts
	err := row.Scan(&z.Zone, &z.Contacts, &z.Dialed, &z.Connected, &z.Successful, &z.Calls, &z.ConnectedCalls)
	return z, err
}

// scanAttemptGroup reads one AttemptGroup from a row of its columns in order (its ended reason,
// outcome, evaluation, call, at Vapi, attempts, cost, durations and their seconds).
func scanAttemptGroup(row pgx.CollectableRow) (AttemptGroup, error) {
	var g AttemptGroup
	err := row.Scan(&g.EndedReason, &g.Outcome, &g.SuccessEvaluation, &g.Call, &g.AtVapi, &g.Attempts, &g.CostUSD,
		&g.Durations, &g.DurationSeconds)
	return g, err
}

// scanCallNumberFacts reads one CallNumberFacts from a row of its columns in order (its rank,
// calls, connected, successful, first connected and first successful).
func scanCallNumberFacts(row pgx.CollectableRow) (CallNumberFacts, error) {
	var c CallNumberFacts
	err := row.Scan(&c.Number, &c.Calls, &c.Connected, &c.Successful, &c.FirstConnected, &c.FirstSuccessful)
	return c, err
}

// scanCallerNumberFacts reads one CallerNumberFacts from a row of its columns in order (its phone
// number id, number, calls, connected, successful and cost).
func scanCallerNumberFacts(row pgx.CollectableRow) (CallerNumberFacts, error) {
	var c CallerNumberFacts
	err := row.Scan(&c.PhoneNumberID, &c.Number, &c.Calls, &c.Connected, &c.Successful, &c.CostUSD)
	return c, err
}

// readDurations reads the connected calls' duration figures and every call's total duration: the
// counts and sums from the tallies, the percentiles by position in
// attempt_connected_duration_idx.
func readDurations(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	d := &f.Duration
	d.Buckets = make([]int, len(DurationBucketEdges)+1)
	id := f.Campaign.ID
	var seconds float64
	err := tx.QueryRow(ctx, `
		SELECT coalesce(sum(v[2]) FILTER (WHERE key[2] = $2), 0)::int,
		       coalesce(sum(v[3]) FILTER (WHERE key[2] = $2), 0)::float8,
		       coalesce(sum(v[3]), 0)::float8
		FROM `+tallySQL(tallyAttempts)+` t WHERE key[5] = 'true'`, id, OutcomeCompleted).
		Scan(&d.Calls, &seconds, &d.TotalSeconds)
	if err != nil {
		return err
	}
	if d.Calls > 0 {
		d.Mean = seconds / float64(d.Calls)
		if d.P50, err = durationPercentile(ctx, tx, id, d.Calls, 0.5); err != nil {
			return err
		}
		if d.P90, err = durationPercentile(ctx, tx, id, d.Calls, 0.9); err != nil {
			return err
		}
	}
	rows, err := tx.Query(ctx, `
		SELECT key[8]::int, sum(n)::int FROM `+tallySQL(tallyAttempts)+` t WHERE key[8] <> '' GROUP BY 1`, id)
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

// durationPercentile is the percentile p of the n connected calls' durations, interpolated as
// Postgres's percentile_cont does, read by position in attempt_connected_duration_idx.
func durationPercentile(ctx context.Context, tx pgx.Tx, campaignID int64, n int, p float64) (float64, error) {
	pos := p * float64(n-1)
	first := math.Floor(pos)
	rows, err := tx.Query(ctx, connectedDurationsSQL, campaignID, int64(first))
	if err != nil {
		return 0, err
	}
	values, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return 0, err
	}
	if len(values) == 0 {
		return 0, fmt.Errorf("connected call %d of %d: %w", int64(first), n, ErrNotFound)
	}
	if pos == first || len(values) == 1 {
		return values[0], nil
	}
	return values[0] + (values[1]-values[0])*(pos-first), nil
}

// readHours counts the calls by the contact's local hour at the call's start (its creation
// for calls that never started), in the contact's first zone, as Postgres knows the zone: the
// tallies keep them by zone and UTC quarter hour, which has one local hour in every zone.
func readHours(ctx context.Context, tx pgx.Tx, f *ReportFacts) error {
	rows, err := tx.Query(ctx, `
		WITH calls AS (
			SELECT key[1] AS zone, to_timestamp(key[2]::bigint) AS at, n, v[1] AS connected
			FROM `+tallySQL(tallyHours)+` t
		), known AS (
			SELECT name FROM pg_timezone_names WHERE name IN (SELECT DISTINCT zone FROM calls)
		)
		SELECT CASE WHEN zone IN (SELECT name FROM known) THEN extract(hour FROM at AT TIME ZONE zone)::int ELSE -1 END,
		       sum(n)::int, coalesce(sum(connected), 0)::int
		FROM calls GROUP BY 1`, f.Campaign.ID)
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
