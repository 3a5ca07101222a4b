package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// PredialMaxFailures is how many pre-dial checks in a row may get no usable answer (a timeout,
// a connection error, a non-2xx status, a body that does not say) before the contact ends with
// OutcomeIneligible. Each failure puts the contact back for PredialRetry.
const PredialMaxFailures = 5

// PredialRetry is how long a contact whose pre-dial check failed waits before it is checked
// again (divided by a simulated campaign's RetryTimeScale: see Campaign.PredialRetryAt).
const PredialRetry = time.Minute

// PredialRetryAt is when a contact of the campaign whose pre-dial check failed at now is
// checked again: PredialRetry later, on the campaign's retry time (a simulated campaign's
// retries run on simulated time, like its calls).
func (c *Campaign) PredialRetryAt(now time.Time) time.Time {
	scale := c.RetryTimeScale
	if !(scale > 0) {
		scale = 1
	}
	return now.Add(time.Duration(float64(PredialRetry) / scale))
}

// maxPredialReason bounds the reason kept for an ineligible contact.
const maxPredialReason = 500

// PredialIneligible ends a queued contact that the pre-dial hook said not to call: it becomes
// failed with OutcomeIneligible and reason kept as its PredialReason (cut to 500 bytes), and the
// campaign completes if it was its last contact. A contact that is not queued is left alone.
func (s *Store) PredialIneligible(ctx context.Context, contactID int64, reason string, now time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return endIneligibleTx(ctx, tx, contactID, reason, now)
	})
	if err != nil {
		return fmt.Errorf("mark contact %d ineligible: %w", contactID, err)
	}
	return nil
}

// PredialFailed records a pre-dial check of a queued contact that got no usable answer (detail
// says what happened): the contact goes back to pending, due at retryAt, or, when this was its
// PredialMaxFailures-th failure in a row, ends as PredialIneligible does, with the reason
// "pre-dial check failed N times: detail". It reports whether the contact ended. A contact that
// is not queued is left alone.
func (s *Store) PredialFailed(ctx context.Context, contactID int64, detail string, retryAt, now time.Time) (ended bool, err error) {
	if err := checkContactMove(ContactPending, ContactQueued); err != nil {
		return false, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ended = false
		// The contact (4 in the lock order), then its campaign's row (5).
		var (
			campaignID int64
			failures   int
		)
		err := tx.QueryRow(ctx, `
			UPDATE contact SET predial_failures = predial_failures + 1, updated_at = $2
			WHERE id = $1 AND state = $3 RETURNING campaign_id, predial_failures`,
			contactID, now, ContactQueued).Scan(&campaignID, &failures)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if failures >= PredialMaxFailures {
			ended = true
			return endIneligibleTx(ctx, tx, contactID,
				fmt.Sprintf("pre-dial check failed %d times: %s", failures, detail), now)
		}
		if _, err := tx.Exec(ctx, `UPDATE contact SET state = $3, next_attempt_at = $2, updated_at = $4 WHERE id = $1`,
			contactID, retryAt, ContactPending, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE campaign SET queued_contacts = greatest(queued_contacts - 1, 0) WHERE id = $1`,
			campaignID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record failed pre-dial check of contact %d: %w", contactID, err)
	}
	return ended, nil
}

// PredialPassed clears the failed pre-dial checks of a contact the hook has answered about.
func (s *Store) PredialPassed(ctx context.Context, contactID int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE contact SET predial_failures = 0 WHERE id = $1 AND predial_failures <> 0`,
		contactID); err != nil {
		return fmt.Errorf("clear pre-dial failures of contact %d: %w", contactID, err)
	}
	return nil
}

// endIneligibleTx moves a queued contact to failed with OutcomeIneligible and reason, then
// counts it out of its campaign's queue and completes the campaign if it is done: the contact
// row first, then the campaign's (the lock order of dispatch.go).
func endIneligibleTx(ctx context.Context, tx pgx.Tx, contactID int64, reason string, now time.Time) error {
	if err := checkContactMove(ContactFailed, ContactQueued); err != nil {
		return err
	}
	if len(reason) > maxPredialReason {
		reason = truncateUTF8(reason, maxPredialReason)
	}
	var campaignID int64
	err := tx.QueryRow(ctx, `
		UPDATE contact SET state = $3, outcome = $4, predial_reason = $5, next_attempt_at = NULL, updated_at = $2
		WHERE id = $1 AND state = $6 RETURNING campaign_id`,
		contactID, now, ContactFailed, OutcomeIneligible, reason, ContactQueued).Scan(&campaignID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE campaign SET queued_contacts = greatest(queued_contacts - 1, 0) WHERE id = $1`,
		campaignID); err != nil {
		return err
	}
	_, err = completeIfDone(ctx, tx, campaignID, now)
	return err
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
