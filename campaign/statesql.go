package campaign

// This file is the one place where a status, state or outcome is written into SQL text.
//
// Everywhere else, SQL takes them as arguments bound to the typed constants: `state = $3` with
// ContactQueued, `state = ANY($3)` with a []ContactState, `status = $2` with StatusRunning. The
// exception is a predicate that must match a partial index, below: Postgres uses a partial index
// only when the planner can prove the index's predicate from the query's, and it cannot prove
// `state = 'pending'` from `state = $n` when it plans a prepared statement generically, for
// every value of $n. pgx prepares every statement it runs, and Postgres switches a prepared
// statement to its generic plan after five executions when that plan seems no dearer; the
// hopper's claim would then read every contact of the campaign instead of the pending ones
// (TestPartialIndexPredicates checks the plans). Such predicates use these literals, built from
// the typed constants, so the values still live in the constants alone.
//
// TestNoStateLiteralsInSQL fails on a quoted status, state or outcome in any other Go file.

const (
	// pendingSQL is ContactPending as an SQL literal, for every predicate `state = pending` on
	// contact: the predicate of the partial index contact_due_idx, through which the hopper,
	// completion and progress find a campaign's pending contacts without reading the others.
	pendingSQL = "'" + string(ContactPending) + "'"

	// notCreatedSQL is AttemptNotCreated as an SQL literal, for the reconciler's predicate
	// `report_at IS NULL AND state <> not_created` on attempt: the predicate of the partial index
	// attempt_unreported_idx.
	notCreatedSQL = "'" + string(AttemptNotCreated) + "'"

	// expiredSQL is OutcomeExpired as an SQL literal, for the predicate `outcome = expired` on
	// contact: the predicate of the partial index contact_expired_idx, through which LiveCalls
	// counts a campaign's expired contacts at every /metrics scrape.
	expiredSQL = "'" + string(OutcomeExpired) + "'"
)

// expiredCountSQL counts the expired contacts of the campaign row c, through contact_expired_idx.
const expiredCountSQL = `(SELECT count(*) FROM contact x WHERE x.campaign_id = c.id AND x.outcome = ` + expiredSQL + `)::int`
