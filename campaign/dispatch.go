package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The lock order (DESIGN guarantee 8). Every transaction that touches attempts, contacts or
// campaign rows, the operator's (cancel, pause, set, resume, suppress) as well as the runner's
// (dial, hopper, result, retry scheduling, completion), takes its row locks in this one order,
// so none can deadlock another:
//
//  1. the hopper's advisory lock of a campaign (QueueDue only);
//  2. attempt rows (a result locks its attempt first; a batch of webhook events,
//     Store.RecordEvents, locks every attempt its events name, in id order, then their results'
//     contacts, and leaves to be applied alone any event that comes to match another attempt or
//     contact meanwhile; flushJournal share-locks one attempt, the only lock of its transaction,
//     after BeginAttempt's commit);
//  3. suppression entries it adds (INSERT … ON CONFLICT waits for a concurrent insert of the
//     same number);
//  4. contact rows, several of them in id order: a statement that changes many contacts first
//     locks them in a CTE, SELECT … ORDER BY id FOR NO KEY UPDATE, because an UPDATE locks rows
//     in whatever order its plan scans them. Two exceptions cannot close a cycle: the contact of
//     a result (in a call) comes before 3, as no statement locking many contacts waits for a
//     contact in a call that it does not also change; and SELECT … FOR UPDATE SKIP LOCKED
//     (the hopper) never waits. The tally trigger of attempt (migration 00024) takes this lock
//     too: a statement that changes the calls of contacts (a call added, ended, connected …)
//     locks those contacts, in id order, FOR NO KEY UPDATE, after the attempt rows it changed,
//     so two transactions changing calls of one contact recompute its tallies one after the
//     other. Only BeginAttempt's insert (its contact already held), CallNotCreated and results
//     (attempt first, then that contact, which RecordEvents locks up front with the others)
//     change calls; a status-update, CallCreated and a lookup change none and lock no contact;
//  5. campaign rows, several of them in id order, always FOR NO KEY UPDATE (or an UPDATE,
//     which takes the same lock), so foreign-key checks are never blocked; only a deletion
//     (DeleteCampaign, an import replacing a draft) takes FOR UPDATE, as a DELETE must, after
//     locking every attempt and contact of that campaign, so nothing can insert under it. The
//     tally compactor (CompactTallies) key-share-locks the campaigns it folds, in id order,
//     skipping those locked for a deletion, before it writes any tally row, the only rows after
//     them in its transaction;
//  6. the rows of the campaign's caller numbers (caller_number; a contact's own number alone when
//     its row fixes one), several of them in id order,
//     FOR NO KEY UPDATE, taken by BeginAttempt alone, after its campaign, to count the live and
//     today's calls of every campaign from those numbers (the per-number limits). The rows
//     missing are inserted first, in id order, before any of them is locked: INSERT … ON
//     CONFLICT DO NOTHING locks no row that exists and waits only for a concurrent insert of
//     the same id, and a row inserted but not committed is invisible to the others' locking
//     SELECT, so an insert never waits for a transaction that waits for it;
//  7. the row of the campaign's Vapi account (vapi_account), taken by BeginAttempt alone, after
//     its campaign and its numbers, to count the live calls of every campaign on the account.
//
// The notification outbox (notifyTx) is written after the campaign row, in the transaction of
// the change it tells of; it takes no place in the order, as nothing that writes it waits for a
// lock of this list while holding a notification row (a claim locks only notification rows and
// commits at once).
//
// The campaign row, locked last and held briefly, is what serializes dialing, status changes and
// completion across processes. A statement that reads a row without locking it (settings, the
// status a dial rechecks under its lock) may come anywhere.

// DialRefusal says why BeginAttempt did not start an attempt ("" = it did).
type DialRefusal string

// Reasons BeginAttempt refuses to start an attempt.
const (
	// RefuseNotRunning: the campaign is not running, or its start (Settings.StartAt) is still
	// ahead, whatever its status says. A queued contact is put back to pending,
	// so the hopper picks it up again after a resume, or cancelled if the campaign is.
	RefuseNotRunning DialRefusal = "campaign_not_running"
	// RefuseNotQueued: the contact is not queued (already handled, cancelled, or gone):
	// nothing changes.
	RefuseNotQueued DialRefusal = "contact_not_queued"
	// RefuseSuppressed: the number is on the suppression list now: the contact becomes
	// do_not_call, with outcome "".
	RefuseSuppressed DialRefusal = "suppressed"
	// RefuseAtCapacity: the campaign's live attempts (creating or created) have reached
	// max_concurrent: nothing changes.
	RefuseAtCapacity DialRefusal = "at_capacity"
	// RefuseAccountLimit: the live attempts of every campaign on the campaign's Vapi account
	// have reached the limit learned for that account (see Store.LearnAccountLimit): nothing
	// changes.
	RefuseAccountLimit DialRefusal = "account_limit"
	// RefuseRateLimited: the shared schedule says wait (DialGrant.Wait): nothing changes.
	RefuseRateLimited DialRefusal = "rate_limited"
	// RefuseBudget: the call could pass the campaign's budget cap (see budgetAllows): the
	// campaign is paused with PauseBudget and the contact goes back to pending, like every
	// other queued contact whose dial then finds the campaign paused.
	RefuseBudget DialRefusal = "budget"
	// RefuseExpired: the campaign's end (Settings.EndBy) has come: the contact becomes failed
	// with OutcomeExpired (see Store.ExpireContacts, which ends the others).
	RefuseExpired DialRefusal = "expired"
	// RefuseNumbersBusy: every number the call may come from is at a per-number limit (live
	// calls, or today's calls: then DialGrant.Wait is the time until the next UTC day): nothing
	// changes.
	RefuseNumbersBusy DialRefusal = "numbers_busy"
)

// DialRefusals lists every DialRefusal.
func DialRefusals() []DialRefusal {
	return []DialRefusal{RefuseNotRunning, RefuseNotQueued, RefuseSuppressed, RefuseAtCapacity,
		RefuseAccountLimit, RefuseRateLimited, RefuseBudget, RefuseExpired, RefuseNumbersBusy}
}

// DialGrant is BeginAttempt's answer: the journaled attempt, or why there is none.
type DialGrant struct {
	// Attempt is the committed attempt (state creating), nil when refused.
	Attempt *Attempt
	// Refusal is "" when Attempt is set.
	Refusal DialRefusal
	// Wait is how long until the rate allows the next call (RefuseRateLimited), or until the
	// next UTC day when the numbers' daily caps refused (RefuseNumbersBusy; 0 when live calls did).
	Wait time.Duration
}

// dialInterval is the GCRA emission interval of a rate in calls per second (0: unlimited).
func dialInterval(ratePerSecond float64) time.Duration {
	if ratePerSecond <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / ratePerSecond)
}

// BeginAttempt commits the journal row of a queued contact's next attempt, and returns it only
// once it is durable (see flushJournal), before any call is placed, in one transaction that
// serializes with every other process dialing the same campaign: it locks the contact, then the campaign row (FOR NO KEY UPDATE: writers serialize
// as with FOR UPDATE, foreign-key checks are not blocked). In order it checks that the campaign
// is running and its start (StartAt) has come, the contact is queued, the campaign's end (EndBy) has not come (else the contact
// expires), its number is not suppressed, the budget cap allows one
// more call (see budgetAllows; else the campaign pauses), the live attempts (creating
// or created) are fewer than max_concurrent, a number of the campaign's pool (or the contact's
// own, from the campaign's caller number column: that one or none) is within the
// per-number limits (see chooseNumber; the attempt records it, and a round robin's turn
// advances when the pool chose), the live attempts of every campaign on the campaign's Vapi account are fewer than
// the limit learned for that account (locking the account's row last; see accountAllows), and
// the rate: GCRA on campaign.next_dial_at with interval T = 1s / rate_per_second (rate 0:
// unlimited), allowed iff next_dial_at is NULL or <= now, and then next_dial_at =
// max(next_dial_at, now) + T; else RefuseRateLimited with Wait = next_dial_at - now. When all
// pass it inserts the attempt (state creating, created_at = now) and moves the contact to
// in_call with attempts + 1.
//
// The attempt's Number is one more than the contact's highest attempt number, so an attempt
// that did not count (capacity, or not created) never shares its key with a later one;
// contact.attempts counts only the attempts that count. A contact that does not exist is
// refused with RefuseNotQueued.
func (s *Store) BeginAttempt(ctx context.Context, contactID int64, now time.Time) (DialGrant, error) {
	var g DialGrant
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		g = DialGrant{}
		var (
			campaignID int64
			state      ContactState
			phone      string
			cell       *string
		)
		// The caller number column is set when the campaign is made and never changes, so its
		// cell is read with the contact, without the campaign row's lock.
		err := tx.QueryRow(ctx, `
			SELECT ct.campaign_id, ct.state, ct.phone,
			       CASE WHEN c.phone_number_column IS NOT NULL THEN coalesce(ct.fields[c.phone_number_column + 1], '') END
			FROM contact ct JOIN campaign c ON c.id = ct.campaign_id
			WHERE ct.id = $1 FOR NO KEY UPDATE OF ct`,
			contactID).Scan(&campaignID, &state, &phone, &cell)
		if errors.Is(err, pgx.ErrNoRows) {
			g.Refusal = RefuseNotQueued
			return nil
		}
		if err != nil {
			return err
		}
		// What depends on the contact alone is read under its lock, before the campaign row is
		// locked, so that the dials of the campaign hold that lock for less.
		var (
			suppressed bool
			number     int
			previous   string
		)
		if err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM suppression WHERE phone = $2),
			       coalesce((SELECT max(number) FROM attempt WHERE contact_id = $1), 0) + 1,
			       coalesce((SELECT phone_number_id FROM attempt WHERE contact_id = $1 AND phone_number_id <> ''
			                 ORDER BY number DESC LIMIT 1), '')`,
			contactID, phone).Scan(&suppressed, &number, &previous); err != nil {
			return err
		}
		fixed, err := contactCallerNumber(contactID, cell)
		if err != nil {
			return err
		}
		var (
			status        Status
			maxConcurrent int
			rate          float64
			nextDial      *time.Time
			account       string
			maxCost       *float64
			endBy         *time.Time
			startAt       *time.Time
			pool          []string
			strategy      NumberStrategy
			limits        NumberLimits
			newOnRetry    bool
			nextNumber    int64
		)
		err = tx.QueryRow(ctx, `
			SELECT status, max_concurrent, rate_per_second, next_dial_at, vapi_account, max_cost::float8, end_by,
			       phone_number_ids, number_strategy, coalesce(per_number_max_concurrent, 0),
			       coalesce(per_number_daily_cap, 0), new_number_on_retry, next_number, start_at
			FROM campaign WHERE id = $1 FOR NO KEY UPDATE`, campaignID).Scan(&status, &maxConcurrent, &rate,
			&nextDial, &account, &maxCost, &endBy, &pool, &strategy, &limits.MaxConcurrent, &limits.DailyCap, &newOnRetry, &nextNumber,
			&startAt)
		if err != nil {
			return err
		}
		if status != StatusRunning || beforeStart(startAt, now) {
			g.Refusal = RefuseNotRunning
			if state != ContactQueued {
				return nil
			}
			if status == StatusCancelled {
				return unqueue(ctx, tx, campaignID, contactID, ContactCancelled, `, next_attempt_at = NULL`, now)
			}
			return unqueue(ctx, tx, campaignID, contactID, ContactPending, ``, now)
		}
		if state != ContactQueued {
			g.Refusal = RefuseNotQueued
			return nil
		}
		if Expired(endBy, now) {
			g.Refusal = RefuseExpired
			return expireQueued(ctx, tx, campaignID, contactID, *endBy, now)
		}
		if suppressed {
			g.Refusal = RefuseSuppressed
			if err := unqueue(ctx, tx, campaignID, contactID, ContactDoNotCall, `, outcome = ''`, now); err != nil {
				return err
			}
			_, err := completeIfDone(ctx, tx, campaignID, now)
			return err
		}
		if maxCost != nil {
			allowed, err := budgetAllows(ctx, tx, campaignID, *maxCost)
			if err != nil {
				return err
			}
			if !allowed {
				g.Refusal = RefuseBudget
				if err := unqueue(ctx, tx, campaignID, contactID, ContactPending, ``, now); err != nil {
					return err
				}
				return pauseForBudget(ctx, tx, campaignID, now)
			}
		}
		var live int
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM attempt WHERE campaign_id = $1 AND state = ANY($2)`,
			campaignID, liveAttemptStates()).Scan(&live); err != nil {
			return err
		}
		if live >= maxConcurrent {
			g.Refusal = RefuseAtCapacity
			return nil
		}
		if fixed != "" {
			pool = []string{fixed} // the row's own number or none: never another of the pool
		}
		caller, err := chooseNumber(ctx, tx, pool, strategy, limits, !newOnRetry, previous, phone, nextNumber, now)
		if err != nil {
			return err
		}
		if caller.Refused {
			g.Refusal, g.Wait = RefuseNumbersBusy, caller.Wait
			return nil
		}
		if caller.Position >= 0 && fixed == "" {
			nextNumber = int64(caller.Position) + 1
		}
		if allowed, err := accountAllows(ctx, tx, account, campaignID, live, now); err != nil || !allowed {
			if err == nil {
				g.Refusal = RefuseAccountLimit
			}
			return err
		}
		if interval := dialInterval(rate); interval > 0 {
			if nextDial != nil && nextDial.After(now) {
				g.Refusal, g.Wait = RefuseRateLimited, nextDial.Sub(now)
				return nil
			}
			next := now.Add(interval)
			nextDial = &next
		}

		if err := checkContactMove(ContactInCall, ContactQueued); err != nil {
			return err
		}
		// The grant commits without waiting for its WAL to reach the disk, so that the campaign
		// row's lock is not held through that flush; BeginAttempt waits for it after the commit
		// (flushJournal), before it returns the attempt to be called.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		// One statement (one round trip under the campaign row's lock): the journal row, the
		// contact in its call, the campaign's schedule. The join reads the contact's phone
		// from the statement's snapshot, which the update does not change.
		a, err := scanAttempt(tx.QueryRow(ctx, `
			WITH a AS (
				INSERT INTO attempt (campaign_id, contact_id, number, key, state, created_at, updated_at, phone_number_id)
				VALUES ($1, $2, $3, $4, $6, $5, $5, $7)
				RETURNING *
			), ct_moved AS (
				UPDATE contact SET state = $8, attempts = attempts + 1, updated_at = $5 WHERE id = $2
			), c_paced AS (
				UPDATE campaign SET next_dial_at = $9, queued_contacts = greatest(queued_contacts - 1, 0), next_number = $10
				WHERE id = $1
			)
			SELECT `+attemptColumns+` FROM a JOIN contact ct ON ct.id = a.contact_id`,
			campaignID, contactID, number, AttemptKey(campaignID, contactID, number), now, AttemptCreating, caller.ID,
			ContactInCall, nextDial, nextNumber))
		if err != nil {
			return err
		}
		g.Attempt = a
		return nil
	})
	if err == nil && g.Attempt != nil {
		err = s.flushJournal(ctx, g.Attempt.ID)
	}
	if err != nil {
		return DialGrant{}, fmt.Errorf("begin attempt of contact %d: %w", contactID, err)
	}
	return g, nil
}

// flushJournal returns once every transaction committed before it is on disk (and on the
// synchronous standbys the server's synchronous_commit asks for): it commits, with the server's
// synchronous_commit, a transaction of its own that writes a record to the write-ahead log (a
// share lock of the attempt's row, which nothing else waits for: only a deletion conflicts with
// it, and a transaction that writes no record, e.g. SELECT txid_current(), commits without a
// flush). Postgres flushes the log in order, up to that commit record, so an earlier commit
// made with synchronous_commit off (BeginAttempt's grant) is durable when it returns. An error
// leaves the grant's durability unknown: the attempt is then never called (its dial job fails
// and is retried, finding its contact in a call; the reconciler settles the attempt, which has
// no call, as it settles one whose runner died before POST /call).
func (s *Store) flushJournal(ctx context.Context, attemptID int64) error {
	if _, err := s.pool.Exec(ctx, `SELECT 1 FROM attempt WHERE id = $1 FOR KEY SHARE`, attemptID); err != nil {
		return fmt.Errorf("flush the journal to disk: %w", err)
	}
	return nil
}

// RoomUnbounded is what DialRoom answers for a campaign whose dials the cap does not hold back.
const RoomUnbounded = 1 << 30

// DialRoom is how many more calls campaign id's cap (max_concurrent) allows now: the cap less
// its live attempts (creating or created), at least 0. It is a read that locks nothing, for a
// dial refused with RefuseAtCapacity to learn when a slot is free before it asks BeginAttempt,
// which decides under the lock. A campaign that is not running, or no longer exists, has
// RoomUnbounded: a dial waiting for room then asks BeginAttempt at once, and learns what to do.
func (s *Store) DialRoom(ctx context.Context, id int64) (int, error) {
	var room int
	err := s.pool.QueryRow(ctx, `
		SELECT CASE WHEN c.status <> $2 THEN $4::int
		       ELSE greatest(c.max_concurrent - (SELECT count(*) FROM attempt WHERE campaign_id = c.id AND state = ANY($3)), 0)::int END
		FROM campaign c WHERE c.id = $1`, id, StatusRunning, liveAttemptStates(), RoomUnbounded).Scan(&room)
	if errors.Is(err, pgx.ErrNoRows) {
		return RoomUnbounded, nil
	}
	if err != nil {
		return 0, fmt.Errorf("room to dial of campaign %d: %w", id, err)
	}
	return room, nil
}

// contactCallerNumber is a contact's own caller number, from its cell of the campaign's caller
// number column (cell; nil when the campaign has no such column): "" when it has none or its
// cell is empty.
func contactCallerNumber(contactID int64, cell *string) (string, error) {
	if cell == nil {
		return "", nil
	}
	id, err := ParseRowPhoneNumber(*cell)
	if err != nil {
		return "", fmt.Errorf("contact %d: phone number column: %w", contactID, err)
	}
	return id, nil
}

// BudgetPrior is the expected cost in USD of a call of a campaign none of whose calls has a cost
// yet: 0, so the first calls up to the concurrency cap are placed, and the cap is overshot by
// at most what the calls in flight when it is reached cost.
const BudgetPrior = 0.0

// BudgetUse is what the budget check of a campaign sees.
type BudgetUse struct {
	// SpentUSD sums the recorded cost of its attempts.
	SpentUSD float64
	// MeanUSD is the mean recorded cost of its attempts that have one (BudgetPrior before any).
	MeanUSD float64
	// Unpriced counts its calls that may still cost: attempts live (creating or created), and
	// attempts ended with a Vapi call but with neither a cost nor an end-of-call report yet.
	Unpriced int
}

// Expected is the spend to expect once the unpriced calls and extra more have their cost.
func (b BudgetUse) Expected(extra int) float64 {
	return b.SpentUSD + b.MeanUSD*float64(b.Unpriced+extra)
}

// Allows reports whether one more call keeps the expected spend within maxCost: nothing is
// left of it once SpentUSD reaches it, and the expected spend with one more call may not pass it.
func (b BudgetUse) Allows(maxCost float64) bool {
	return b.SpentUSD < maxCost && b.Expected(1) <= maxCost
}

// budgetUse reads a campaign's BudgetUse in tx.
func budgetUse(ctx context.Context, tx pgx.Tx, campaignID int64) (BudgetUse, error) {
	var (
		b    BudgetUse
		mean *float64
	)
	err := tx.QueryRow(ctx, `
		SELECT coalesce(sum(cost), 0)::float8, avg(cost)::float8,
		       count(*) FILTER (WHERE state = ANY($2)
		                        OR (state = $3 AND cost IS NULL AND report_at IS NULL AND vapi_call_id IS NOT NULL))
		FROM attempt WHERE campaign_id = $1`, campaignID, liveAttemptStates(), AttemptEnded).
		Scan(&b.SpentUSD, &mean, &b.Unpriced)
	if err != nil {
		return BudgetUse{}, fmt.Errorf("budget of campaign %d: %w", campaignID, err)
	}
	b.MeanUSD = BudgetPrior
	if mean != nil {
		b.MeanUSD = *mean
	}
	return b, nil
}

// budgetAllows reports whether a campaign's budget cap maxCost allows one more call (see
// BudgetUse.Allows). Costs that arrive after a call ended count as soon as they are recorded.
// The caller holds the campaign row, which serializes every dial of the campaign, so no two
// dials can both take the last of the budget.
func budgetAllows(ctx context.Context, tx pgx.Tx, campaignID int64, maxCost float64) (bool, error) {
	b, err := budgetUse(ctx, tx, campaignID)
	if err != nil {
		return false, err
	}
	return b.Allows(maxCost), nil
}

// pauseForBudget pauses a running campaign whose row tx holds, with PauseBudget, and records its
// KindPausedBudget notification.
func pauseForBudget(ctx context.Context, tx pgx.Tx, campaignID int64, now time.Time) error {
	if err := checkStatusMove(StatusPaused, StatusRunning); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `
		UPDATE campaign SET status = $2, paused_reason = $3, updated_at = $4 WHERE id = $1 AND status = $5`,
		campaignID, StatusPaused, PauseBudget, now, StatusRunning)
	if err != nil {
		return fmt.Errorf("pause campaign %d for its budget: %w", campaignID, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return notifyTx(ctx, tx, campaignID, KindPausedBudget, eventKey(KindPausedBudget, campaignID, now), nil, now)
}

// Budget returns a campaign's budget use now.
func (s *Store) Budget(ctx context.Context, campaignID int64) (BudgetUse, error) {
	var b BudgetUse
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			b, err = budgetUse(ctx, tx, campaignID)
			return err
		})
	if err != nil {
		return BudgetUse{}, fmt.Errorf("read budget: %w", err)
	}
	return b, nil
}

// unqueue moves a queued contact to state to, setting the columns of alsoSet too (", column =
// value…", or ""), and keeps the campaign's queued_contacts count. The campaign row must be
// locked or lockable (contact, then campaign: the order every transaction here takes them in).
func unqueue(ctx context.Context, tx pgx.Tx, campaignID, contactID int64, to ContactState, alsoSet string, now time.Time) error {
	if err := checkContactMove(to, ContactQueued); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		WITH c AS (
			UPDATE contact SET state = $4`+alsoSet+`, updated_at = $3 WHERE id = $2 AND state = $5 RETURNING id
		)
		UPDATE campaign SET queued_contacts = greatest(queued_contacts - (SELECT count(*) FROM c), 0)
		WHERE id = $1 AND EXISTS (SELECT 1 FROM c)`, campaignID, contactID, now, to, ContactQueued)
	return err
}

// DelayDials pushes the campaign's shared dial schedule to at least until (after a 429): every
// process then waits.
func (s *Store) DelayDials(ctx context.Context, campaignID int64, until time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE campaign SET next_dial_at = greatest(next_dial_at, $2) WHERE id = $1`,
		campaignID, until)
	if err != nil {
		return fmt.Errorf("delay dials of campaign %d: %w", campaignID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delay dials of campaign %d: %w", campaignID, ErrNotFound)
	}
	return nil
}

// CampaignSecret returns a campaign's webhook secret (for webhook authentication).
func (s *Store) CampaignSecret(ctx context.Context, campaignID int64) (string, error) {
	var secret string
	err := s.pool.QueryRow(ctx, `SELECT webhook_secret FROM campaign WHERE id = $1`, campaignID).Scan(&secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("campaign %d secret: %w", campaignID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("campaign %d secret: %w", campaignID, err)
	}
	return secret, nil
}

// Decision is what a campaign's calling hours decide for a contact at an instant (see
// CallingHours.Decide): queue it; or, if FailOutcome is set, fail it with that outcome; or else
// defer it to DeferUntil (outside its calling hours). FailOutcome wins over Queue, Queue over
// DeferUntil.
type Decision struct {
	// Queue: the contact may be called now.
	Queue bool
	// DeferUntil is the next instant the contact may be called, when it may not be now.
	DeferUntil time.Time
	// FailOutcome, when set, is why the contact can never be called: OutcomeInvalidWindow,
	// OutcomeInvalidTimeZone or OutcomeNoCallingWindow.
	FailOutcome Outcome
}

// queueDueLockSQL takes, without waiting, the advisory lock QueueDue holds per campaign ($1),
// so that one hopper at a time fills a campaign's queue. Advisory locks are database-wide, so
// the key is a hash of the schema as well as the campaign id: two installations (or tests) in
// two schemas of one database each have a campaign 1, and neither's hopper may keep the other's
// out.
const queueDueLockSQL = `SELECT pg_try_advisory_xact_lock(
	hashtextextended('campaign.queue_due/' || current_schema() || '/' || $1::bigint, 0))`

// dueRetriesSQL selects and locks up to $3 pending contacts of campaign $1 due by $2, earliest
// first: a range scan of contact_due_idx (see pendingSQL).
const dueRetriesSQL = `SELECT ` + contactColumns + ` FROM contact
	WHERE campaign_id = $1 AND state = ` + pendingSQL + ` AND next_attempt_at <= $2
	ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED`

// dueUntimedSQL selects and locks up to $2 pending contacts of campaign $1 that have no due time.
// The ORDER BY sorts equal (NULL) keys, so it changes nothing but the plan: without it the
// planner may prefer a sequential scan, which reads every finished contact before the first
// pending one.
const dueUntimedSQL = `SELECT ` + contactColumns + ` FROM contact
	WHERE campaign_id = $1 AND state = ` + pendingSQL + ` AND next_attempt_at IS NULL
	ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED`

// QueueDue fills a running campaign's dial queue, in one transaction: it selects up to limit
// pending contacts whose next_attempt_at is NULL or <= now (FOR UPDATE SKIP LOCKED), calls
// decide for each in id order, sets the deferred ones' next_attempt_at (or, when that comes at
// or after the campaign's EndBy, fails them with OutcomeExpired), fails the failed ones
// (completing the campaign if they were the last), moves the queued ones to queued and calls
// enqueue(ctx, tx, ids) in the same transaction (the caller inserts the dial jobs there), then
// commits. It returns how many contacts were queued. An error from decide's input, enqueue or
// the database rolls everything back.
//
// The queue is bounded: limit is reduced so the campaign never has more than max_concurrent*2
// contacts queued. The selection follows the pending-contacts index, so its cost does not grow
// with the campaign: retries whose time has come first (earliest first), then contacts never
// deferred, in their physical order (file order after an import; a contact put back to
// pending may come later). A campaign that is not running, or whose queue another process is
// filling at this moment, or whose EndBy has come, gets 0 and no error.
func (s *Store) QueueDue(ctx context.Context, campaignID int64, now time.Time, limit int, decide func(*Contact) Decision, enqueue func(ctx context.Context, tx pgx.Tx, contactIDs []int64) error) (int, error) {
	queued := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		queued = 0
		var got bool
		if err := tx.QueryRow(ctx, queueDueLockSQL, campaignID).Scan(&got); err != nil {
			return err
		}
		if !got {
			return nil
		}
		var (
			status        Status
			maxConcurrent int
			inQueue       int
			endBy         *time.Time
			startAt       *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT status, max_concurrent, queued_contacts, end_by, start_at FROM campaign WHERE id = $1`,
			campaignID).Scan(&status, &maxConcurrent, &inQueue, &endBy, &startAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if status != StatusRunning || Expired(endBy, now) || beforeStart(startAt, now) {
			return nil // past its end, ExpireContacts ends the contacts
		}
		limit = min(limit, 2*maxConcurrent-inQueue)
		if limit <= 0 {
			return nil
		}

		// Two index range scans, each stopping after limit rows: due retries by time, then
		// contacts with no time.
		rows, err := tx.Query(ctx, dueRetriesSQL, campaignID, now, limit)
		if err != nil {
			return err
		}
		due, err := pgx.CollectRows(rows, collectContact)
		if err != nil {
			return err
		}
		if len(due) < limit {
			rows, err := tx.Query(ctx, dueUntimedSQL, campaignID, limit-len(due))
			if err != nil {
				return err
			}
			more, err := pgx.CollectRows(rows, collectContact)
			if err != nil {
				return err
			}
			due = append(due, more...)
		}
		if len(due) == 0 {
			return nil
		}
		slices.SortFunc(due, func(a, b Contact) int { return cmp.Compare(a.ID, b.ID) })

		var (
			queue, deferIDs, failIDs []int64
			deferAt                  []time.Time
			failOutcomes             []string
		)
		for i := range due {
			c := &due[i]
			d := decide(c)
			switch {
			case d.FailOutcome != "":
				failIDs, failOutcomes = append(failIDs, c.ID), append(failOutcomes, string(d.FailOutcome))
			case d.Queue:
				queue = append(queue, c.ID)
			case !d.DeferUntil.IsZero() && Expired(endBy, d.DeferUntil):
				// Its window opens only at or after the campaign's end.
				failIDs, failOutcomes = append(failIDs, c.ID), append(failOutcomes, string(OutcomeExpired))
			case !d.DeferUntil.IsZero():
				deferIDs, deferAt = append(deferIDs, c.ID), append(deferAt, d.DeferUntil)
			default:
				return fmt.Errorf("contact %d: the decision neither queues, defers nor fails it", c.ID)
			}
		}
		if len(deferIDs) > 0 {
			if _, err := tx.Exec(ctx, `
				UPDATE contact c SET next_attempt_at = d.at, updated_at = $3
				FROM unnest($1::bigint[], $2::timestamptz[]) AS d(id, at) WHERE c.id = d.id`,
				deferIDs, deferAt, now); err != nil {
				return fmt.Errorf("defer contacts: %w", err)
			}
		}
		if len(failIDs) > 0 {
			if err := checkContactMove(ContactFailed, ContactPending); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				UPDATE contact c SET state = $4, outcome = d.outcome, updated_at = $3
				FROM unnest($1::bigint[], $2::text[]) AS d(id, outcome) WHERE c.id = d.id`,
				failIDs, failOutcomes, now, ContactFailed); err != nil {
				return fmt.Errorf("fail contacts: %w", err)
			}
		}
		if len(queue) > 0 {
			if err := checkContactMove(ContactQueued, ContactPending); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE contact SET state = $3, updated_at = $2 WHERE id = ANY($1)`,
				queue, now, ContactQueued); err != nil {
				return fmt.Errorf("queue contacts: %w", err)
			}
			if err := enqueue(ctx, tx, queue); err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
			// Last, so the campaign row is locked only until the commit.
			if _, err := tx.Exec(ctx, `UPDATE campaign SET queued_contacts = queued_contacts + $2 WHERE id = $1`,
				campaignID, len(queue)); err != nil {
				return fmt.Errorf("count queued contacts: %w", err)
			}
		}
		if len(failIDs) > 0 {
			if _, err := completeIfDone(ctx, tx, campaignID, now); err != nil {
				return err
			}
		}
		queued = len(queue)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue due contacts of campaign %d: %w", campaignID, err)
	}
	return queued, nil
}

// RequeueContact puts a queued contact back to pending, due at at (a zero at means due at once),
// when its dial job gives up for now. A contact that is not queued is left alone.
func (s *Store) RequeueContact(ctx context.Context, contactID int64, at, now time.Time) error {
	var due *time.Time
	if !at.IsZero() {
		due = &at
	}
	if err := checkContactMove(ContactPending, ContactQueued); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `
		WITH c AS (
			UPDATE contact SET state = $4, next_attempt_at = $2, updated_at = $3
			WHERE id = $1 AND state = $5 RETURNING campaign_id
		)
		UPDATE campaign SET queued_contacts = greatest(queued_contacts - 1, 0)
		WHERE id = (SELECT campaign_id FROM c)`, contactID, due, now, ContactPending, ContactQueued)
	if err != nil {
		return fmt.Errorf("requeue contact %d: %w", contactID, err)
	}
	return nil
}

// RunningCampaigns lists the ids of the campaigns in status running, in id order: those of
// mode (e.g. ModeService for campaign serve), or of any mode when mode is "".
func (s *Store) RunningCampaigns(ctx context.Context, mode Mode) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id FROM campaign WHERE status = $2 AND ($1 = '' OR mode = $1) ORDER BY id`, string(mode), StatusRunning)
	if err != nil {
		return nil, fmt.Errorf("list running campaigns: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list running campaigns: %w", err)
	}
	return ids, nil
}

// CompleteIfDone completes a running campaign (finished_at = now) when none of its contacts is
// pending, queued or in_call, and reports whether it did. Results and failures call it
// themselves; the hopper calls it for campaigns with nothing to queue, e.g. one started with
// no contact left to call.
func (s *Store) CompleteIfDone(ctx context.Context, campaignID int64, now time.Time) (bool, error) {
	var done bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		done, err = completeIfDone(ctx, tx, campaignID, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("complete campaign %d if done: %w", campaignID, err)
	}
	return done, nil
}

// completeIfDone is CompleteIfDone in tx, after tx changed contacts; a completion records its
// KindCompleted notification in tx. It locks the campaign row first, so of two transactions
// finishing a campaign's last contacts at once the later one sees the earlier one's changes.
// The cheap checks (pending contacts and live attempts, both indexed) come first; the scan for
// queued and in_call contacts runs only at the very end of a campaign.
func completeIfDone(ctx context.Context, tx pgx.Tx, campaignID int64, now time.Time) (bool, error) {
	// While a contact is pending (nearly all of a campaign's life) the campaign is not done, and
	// no result needs the campaign row's lock, which every dial takes. This check is safe without
	// the lock: a pending contact is made final only by a path that runs this function itself
	// (cancel, suppression, the hopper failing it). Contacts in a call or queued, and live
	// attempts, are checked only under the lock below: two results finishing the last two
	// contacts at once must see each other's commit.
	var pending bool
	if err := tx.QueryRow(ctx, hasPendingSQL, campaignID).Scan(&pending); err != nil || pending {
		if err != nil {
			return false, fmt.Errorf("check campaign %d done: %w", campaignID, err)
		}
		return false, nil
	}
	status, err := lockCampaign(ctx, tx, campaignID)
	if err != nil {
		return false, err
	}
	if !CanMoveStatus(status, StatusCompleted) {
		return false, nil
	}
	if busy, err := campaignBusy(ctx, tx, campaignID); err != nil || busy {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE campaign SET status = $3, finished_at = $2, updated_at = $2 WHERE id = $1`,
		campaignID, now, StatusCompleted); err != nil {
		return false, fmt.Errorf("complete campaign %d: %w", campaignID, err)
	}
	if err := notifyTx(ctx, tx, campaignID, KindCompleted, eventKey(KindCompleted, campaignID, now), nil, now); err != nil {
		return false, err
	}
	return true, nil
}

// hasPendingSQL is true when campaign $1 has a pending contact: one probe of contact_due_idx
// (ORDER BY … LIMIT 1 rather than EXISTS keeps the planner on it).
const hasPendingSQL = `SELECT (SELECT 1 FROM contact WHERE campaign_id = $1 AND state = ` + pendingSQL + `
	ORDER BY next_attempt_at LIMIT 1) IS NOT NULL`

// campaignBusy reports whether a campaign has a contact not yet final or a call still live.
func campaignBusy(ctx context.Context, tx pgx.Tx, campaignID int64) (bool, error) {
	// ORDER BY … LIMIT 1 rather than EXISTS: it keeps the planner on the pending index.
	var busy bool
	err := tx.QueryRow(ctx, `
		SELECT (SELECT 1 FROM contact WHERE campaign_id = $1 AND state = `+pendingSQL+`
		        ORDER BY next_attempt_at LIMIT 1) IS NOT NULL
		    OR EXISTS (SELECT 1 FROM attempt WHERE campaign_id = $1 AND state = ANY($2))`,
		campaignID, liveAttemptStates()).Scan(&busy)
	if err == nil && !busy {
		err = tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM contact WHERE campaign_id = $1 AND state = ANY($2))`,
			campaignID, []ContactState{ContactQueued, ContactInCall}).Scan(&busy)
	}
	if err != nil {
		return false, fmt.Errorf("check campaign %d done: %w", campaignID, err)
	}
	return busy, nil
}

// Progress is a campaign's state, from SQL counts on its own tables.
type Progress struct {
	// Total is the number of contacts; ByState and ByOutcome break it down (contacts without
	// an outcome are not in ByOutcome).
	Total     int
	ByState   map[ContactState]int
	ByOutcome map[Outcome]int
	// Live counts the attempts creating or created.
	Live int
	// Attempts counts the attempts that placed a call, or may have (all but not_created).
	Attempts int
	// Cost is the sum of the attempts' cost.
	Cost float64
	// NextDue is the earliest next_attempt_at among pending contacts (nil if there are none,
	// or none has a time); it may be in the past.
	NextDue *time.Time
	Status  Status
	// PausedReason says why a paused campaign is paused (PauseOperator when it is not).
	PausedReason PauseReason
}

// Final reports whether every contact is in a final state (completed, failed, cancelled,
// do_not_call).
func (p Progress) Final() bool {
	return p.FinalCount() == p.Total
}

// FinalCount is the number of contacts in a final state.
func (p Progress) FinalCount() int {
	n := 0
	for s, count := range p.ByState {
		if s.Final() {
			n += count
		}
	}
	return n
}

// addContactCounts adds rows of (state, outcome, contacts) to p's totals by state and outcome.
func (p *Progress) addContactCounts(rows pgx.Rows) error {
	var (
		state   ContactState
		outcome Outcome
		n       int
	)
	_, err := pgx.ForEachRow(rows, []any{&state, &outcome, &n}, func() error {
		p.Total += n
		p.ByState[state] += n
		if outcome != "" {
			p.ByOutcome[outcome] += n
		}
		return nil
	})
	return err
}

// Progress returns a campaign's progress, counted in one consistent snapshot.
func (s *Store) Progress(ctx context.Context, campaignID int64) (Progress, error) {
	p := Progress{ByState: map[ContactState]int{}, ByOutcome: map[Outcome]int{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `SELECT status, paused_reason FROM campaign WHERE id = $1`, campaignID).
				Scan(&p.Status, &p.PausedReason)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
			}
			if err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `
				SELECT key[1], key[2], sum(n)::int FROM `+tallySQL(tallyContacts)+` t GROUP BY 1, 2`, campaignID)
			if err != nil {
				return err
			}
			if err := p.addContactCounts(rows); err != nil {
				return err
			}
			err = tx.QueryRow(ctx, `
				SELECT coalesce(sum(n) FILTER (WHERE key[1] = ANY($2)), 0)::int,
				       coalesce(sum(n) FILTER (WHERE key[1] <> $3), 0)::int,
				       coalesce(sum(v[1]), 0)::float8
				FROM `+tallySQL(tallyAttempts)+` t`, campaignID, liveAttemptStates(), AttemptNotCreated).
				Scan(&p.Live, &p.Attempts, &p.Cost)
			if err != nil {
				return err
			}
			return tx.QueryRow(ctx, nextDueSQL, campaignID).Scan(&p.NextDue)
		})
	if err != nil {
		return Progress{}, fmt.Errorf("progress of campaign %d: %w", campaignID, err)
	}
	return p, nil
}
