package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AccountProbeInterval is how often, when Vapi reports no concurrency limit and the runner
// learned the account's limit from refusals, one call above that limit is tried, in case the
// account's plan changed.
const AccountProbeInterval = 5 * time.Minute

// AccountScoutTimeout is how long, while nothing is known of an account, its first call (the
// scout, see accountAllows) holds the others back without an answer: longer than a dial job
// may take, so that only a scout whose answer was lost (an ambiguous failure) outlasts it.
const AccountScoutTimeout = time.Minute

// AccountLimits is what the answer to one POST /call says of the account's concurrency.
type AccountLimits struct {
	// Limit is subscriptionLimits.concurrencyLimit, 0 when the answer had none.
	Limit int
	// Remaining is subscriptionLimits.remainingConcurrentCalls: the calls the account allowed
	// when the call was asked for, this one included (meaningful only with Limit).
	Remaining int
	// Refused: Vapi refused the call for concurrency.
	Refused bool
}

// accountLiveSQL counts the live attempts (state one of $3: liveAttemptStates) of every
// campaign on account $1, except attempt $2, up to $4 of them (NULL: all).
const accountLiveSQL = `
	SELECT count(*) FROM (
		SELECT 1 FROM attempt
		WHERE state = ANY($3) AND id <> $2
		  AND campaign_id IN (SELECT id FROM campaign WHERE vapi_account = $1)
		LIMIT $4) AS live`

// otherCampaignsLiveSQL counts the live attempts (state one of $3: liveAttemptStates) of every
// campaign on account $1 but campaign $2: nothing to read when the campaign is the account's
// only one.
const otherCampaignsLiveSQL = `
	SELECT count(*) FROM attempt
	WHERE state = ANY($3)
	  AND campaign_id IN (SELECT id FROM campaign WHERE vapi_account = $1 AND id <> $2)`

// UseAccount notes that campaign's calls are placed on the Vapi account (vapi.Client.Account),
// so that its live calls count against that account's limit, with every other campaign's on the
// same account. It changes nothing when the campaign already uses the account.
func (s *Store) UseAccount(ctx context.Context, campaignID int64, account string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE campaign SET vapi_account = $2 WHERE id = $1 AND vapi_account <> $2`,
		campaignID, account); err != nil {
		return fmt.Errorf("note the vapi account of campaign %d: %w", campaignID, err)
	}
	return nil
}

// LearnAccountLimit learns the account's concurrency limit from Vapi's answer to the POST /call
// of attemptID, for every campaign and process dialing on the account (BeginAttempt enforces
// it). With a reported limit L and remaining R, Vapi had L-R calls live before this one; those
// beyond the account's own live attempts (the other campaigns' included) are someone else's, so
// the runner may have L less them. Without a reported limit, a refusal lowers the limit to the
// account's other live attempts (at least 1) and a call placed above the limit (a probe, see
// AccountProbeInterval) raises it. A refusal also puts the next probe AccountProbeInterval
// away. Every answer sets learned_at, which ends the account's scouting (see accountAllows),
// also when it taught no limit.
//
// With a reported limit, the account's other live attempts are counted only up to the L-R calls
// Vapi had live: from there on no call is someone else's, so more change nothing learned, and a
// campaign with many live calls is not read in full on every answer.
func (s *Store) LearnAccountLimit(ctx context.Context, account string, attemptID int64, l AccountLimits, now time.Time) error {
	if account == "" {
		return nil
	}
	var upTo *int // all
	if l.Limit > 0 {
		vapiLive := max(0, l.Limit-max(l.Remaining, 0))
		upTo = &vapiLive
	}
	var others int
	if err := s.pool.QueryRow(ctx, accountLiveSQL, account, attemptID, liveAttemptStates(), upTo).Scan(&others); err != nil {
		return fmt.Errorf("learn the limit of vapi account: %w", err)
	}
	var err error
	switch {
	case l.Limit > 0:
		external := max(0, l.Limit-max(l.Remaining, 0)-others)
		limit := max(1, l.Limit-external)
		// Nearly every answer repeats what is known: a read then, not an upsert, which would
		// lock the account's row (ON CONFLICT DO UPDATE locks it even when its WHERE changes
		// nothing) that every dial on the account locks in BeginAttempt.
		var known bool
		if err := s.pool.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM vapi_account
			               WHERE id = $1 AND concurrency_limit = $2 AND reported_limit = $3 AND learned_at IS NOT NULL)`,
			account, limit, l.Limit).Scan(&known); err != nil || known {
			if err != nil {
				return fmt.Errorf("learn the limit of vapi account: %w", err)
			}
			return nil
		}
		_, err = s.pool.Exec(ctx, `
			INSERT INTO vapi_account AS a (id, concurrency_limit, reported_limit, probe_at, learned_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)
			ON CONFLICT (id) DO UPDATE SET concurrency_limit = $2, reported_limit = $3, learned_at = $5, updated_at = $5
			WHERE a.concurrency_limit IS DISTINCT FROM $2 OR a.reported_limit IS DISTINCT FROM $3`,
			account, limit, l.Limit, now.Add(AccountProbeInterval), now)
	case l.Refused:
		_, err = s.pool.Exec(ctx, `
			INSERT INTO vapi_account AS a (id, concurrency_limit, probe_at, learned_at, updated_at)
			VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (id) DO UPDATE SET concurrency_limit = least(coalesce(a.concurrency_limit, $2), $2),
				probe_at = $3, learned_at = $4, updated_at = $4`,
			account, max(1, others), now.Add(AccountProbeInterval), now)
	default: // placed without a reported limit: at least this many calls are allowed
		_, err = s.pool.Exec(ctx, `
			UPDATE vapi_account
			SET concurrency_limit = CASE WHEN concurrency_limit < $2 THEN $2 ELSE concurrency_limit END,
				learned_at = $3, updated_at = $3
			WHERE id = $1 AND reported_limit IS NULL AND (concurrency_limit < $2 OR learned_at IS NULL)`,
			account, others+1, now)
	}
	if err != nil {
		return fmt.Errorf("learn the limit of vapi account: %w", err)
	}
	return nil
}

// AccountLimit returns the concurrency limit learned for the Vapi account campaign's calls are
// placed on: nil when none is known (no account yet, or nothing learned).
func (s *Store) AccountLimit(ctx context.Context, campaignID int64) (*int, error) {
	var limit *int
	err := s.pool.QueryRow(ctx, `
		SELECT a.concurrency_limit FROM campaign c JOIN vapi_account a ON a.id = c.vapi_account
		WHERE c.id = $1`, campaignID).Scan(&limit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vapi account limit of campaign %d: %w", campaignID, err)
	}
	return limit, nil
}

// accountAllows decides, in BeginAttempt's transaction and after the campaign row is locked,
// whether the campaign's Vapi account has room for one more live call: it locks the account's
// row (the last lock of the transaction: contact, campaign, caller numbers, account; made here for a new
// account), so that every campaign on the account serializes its dials, and counts the live
// attempts of every campaign on it. No account allows. While nothing is known of the account
// (no answer yet), one call at a time is allowed, the scout, so that Vapi's first answer teaches
// the limit before a burst of dials it would refuse; a scout without an answer for
// AccountScoutTimeout no longer counts. After an answer that taught no limit, the campaign's own
// cap applies. At the limit, a probe is allowed when the limit was learned without a reported
// one and the probe time has come (the next is then AccountProbeInterval away).
//
// campaignLive is the live attempts of the campaign (campaignID, on account), counted in tx
// under the campaign row's lock: the account's live attempts are those and the other
// campaigns', so the campaign's, which may be many, are not read twice. The sum holds the limit:
// an attempt is made live only by BeginAttempt, under the campaign row's lock that tx holds, so
// the campaign's live attempts can only have fallen since they were counted, and the sum is at
// least what one count of the account now would be.
func accountAllows(ctx context.Context, tx pgx.Tx, account string, campaignID int64, campaignLive int, now time.Time) (bool, error) {
	if account == "" {
		return true, nil
	}
	var (
		limit     *int
		reported  *int
		probeAt   *time.Time
		learnedAt *time.Time
	)
	lock := func() error {
		return tx.QueryRow(ctx, `
			SELECT concurrency_limit, reported_limit, probe_at, learned_at FROM vapi_account
			WHERE id = $1 FOR NO KEY UPDATE`, account).Scan(&limit, &reported, &probeAt, &learnedAt)
	}
	err := lock()
	if errors.Is(err, pgx.ErrNoRows) {
		// A new account: its row is made so that there is one to lock (a concurrent insert
		// waits for this transaction, then finds the row).
		if _, err = tx.Exec(ctx, `INSERT INTO vapi_account (id) VALUES ($1) ON CONFLICT DO NOTHING`, account); err == nil {
			err = lock()
		}
	}
	if err != nil {
		return false, fmt.Errorf("lock vapi account: %w", err)
	}
	if limit == nil {
		if learnedAt != nil {
			return true, nil
		}
		var scouting bool
		if err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM attempt WHERE state = $3 AND created_at > $2
			  AND campaign_id IN (SELECT id FROM campaign WHERE vapi_account = $1))`,
			account, now.Add(-AccountScoutTimeout), AttemptCreating).Scan(&scouting); err != nil {
			return false, fmt.Errorf("look for a scout of vapi account: %w", err)
		}
		return !scouting, nil
	}
	var others int
	if err := tx.QueryRow(ctx, otherCampaignsLiveSQL, account, campaignID, liveAttemptStates()).Scan(&others); err != nil {
		return false, fmt.Errorf("count live calls of vapi account: %w", err)
	}
	if campaignLive+others < *limit {
		return true, nil
	}
	if reported != nil || (probeAt != nil && probeAt.After(now)) {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE vapi_account SET probe_at = $2 WHERE id = $1`,
		account, now.Add(AccountProbeInterval)); err != nil {
		return false, fmt.Errorf("note a probe of vapi account: %w", err)
	}
	return true, nil
}
