package campaign

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// This file holds a campaign's schedule (Settings.StartAt, Settings.EndBy): the scheduled
// status a campaign waits in until its start, and the expiry of its contacts at its end.
//
// A campaign started before its StartAt becomes scheduled (Start, Resume), and so does a running
// one whose StartAt is moved ahead (SetPacing); StartScheduled moves it to running once StartAt
// has come, in one conditional statement under the campaign row's lock, so of several processes
// exactly one starts it. From EndBy on, BeginAttempt refuses every
// dial (RefuseExpired), QueueDue queues nothing, and ExpireContacts, which the runner's hopper
// calls, ends every pending or queued contact failed with OutcomeExpired; a contact whose call
// is live finishes it, and expires instead of being retried (settleContact). A retry or a
// calling window's opening that would come at or after EndBy expires the contact at once.

// ErrBadSchedule is returned when a campaign's end (EndBy) would not come after its start
// (StartAt).
var ErrBadSchedule = errors.New("the end (--end-by) must come after the start (--start-at)")

// CheckSchedule returns ErrBadSchedule when both startAt and endBy are set and endBy is not after
// startAt.
func CheckSchedule(startAt, endBy *time.Time) error {
	if startAt != nil && endBy != nil && !endBy.After(*startAt) {
		return fmt.Errorf("end %s, start %s: %w", endBy.Format(time.RFC3339), startAt.Format(time.RFC3339), ErrBadSchedule)
	}
	return nil
}

// isScheduleViolation reports whether err is the database refusing an end not after the start.
func isScheduleViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == "campaign_schedule_check"
}

// Expired reports whether a campaign with end endBy (nil: none) is over at now.
func Expired(endBy *time.Time, now time.Time) bool {
	return endBy != nil && !now.Before(*endBy)
}

// beforeStart reports whether a campaign with start startAt (nil: none) may not dial yet at now.
// BeginAttempt and QueueDue check it whatever the status: a running campaign is never ahead of
// its start (SetPacing moving it ahead makes the campaign scheduled), but a dial never trusts that.
func beforeStart(startAt *time.Time, now time.Time) bool {
	return startAt != nil && startAt.After(now)
}

// StartScheduled starts the scheduled campaigns whose StartAt has come (or was removed) by now:
// those of mode ("" = any), and only campaign campaignID when it is not 0. It returns the ids
// it started. The campaigns are locked in id order and each moves only if it is still
// scheduled, so of several processes calling it at once exactly one starts each campaign.
func (s *Store) StartScheduled(ctx context.Context, mode Mode, campaignID int64, now time.Time) ([]int64, error) {
	if err := checkStatusMove(StatusRunning, StatusScheduled); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM campaign
			WHERE status = $1 AND ($2 = '' OR mode = $2) AND ($3 = 0 OR id = $3)
			  AND (start_at IS NULL OR start_at <= $4)
			ORDER BY id FOR NO KEY UPDATE
		)
		UPDATE campaign c SET status = $5, started_at = coalesce(started_at, $4), finished_at = NULL,
			paused_reason = $6, updated_at = $4
		FROM due WHERE c.id = due.id AND c.status = $1
		RETURNING c.id`, StatusScheduled, string(mode), campaignID, now, StatusRunning, PauseOperator)
	if err != nil {
		return nil, fmt.Errorf("start scheduled campaigns: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("start scheduled campaigns: %w", err)
	}
	return ids, nil
}

// ExpireContacts ends the contacts of a campaign whose EndBy has come by now: every pending or
// queued contact becomes failed with OutcomeExpired; contacts in a call finish it (and expire
// then, see settleContact). It completes the campaign if nothing is left. It returns how many
// contacts it expired; a campaign without an end, or before it, is left alone. It is idempotent,
// and safe with several processes: the contacts are locked in id order, then the campaign row.
func (s *Store) ExpireContacts(ctx context.Context, campaignID int64, now time.Time) (int, error) {
	waiting := []ContactState{ContactPending, ContactQueued}
	if err := checkContactMove(ContactFailed, waiting...); err != nil {
		return 0, err
	}
	expired := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		expired = 0
		var (
			endBy  *time.Time
			queued int
		)
		err := tx.QueryRow(ctx, `SELECT end_by, queued_contacts FROM campaign WHERE id = $1`, campaignID).
			Scan(&endBy, &queued)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
		}
		if err != nil || !Expired(endBy, now) {
			return err
		}
		// Once they are expired, nothing waits: the later calls (each hopper run until the calls
		// in flight end) stop at one probe of the pending index.
		var pending bool
		if err := tx.QueryRow(ctx, hasPendingSQL, campaignID).Scan(&pending); err != nil {
			return err
		}
		if !pending && queued == 0 {
			_, err := completeIfDone(ctx, tx, campaignID, now)
			return err
		}
		// One statement, so every contact is locked in id order: the pending ones, and the
		// queued ones (a few, counted on the campaign) only when there are some.
		states := []ContactState{}
		if queued > 0 {
			states = append(states, ContactQueued)
		}
		rows, err := tx.Query(ctx, `
			WITH target AS (
				SELECT id, state FROM contact
				WHERE campaign_id = $1 AND (state = `+pendingSQL+` OR state = ANY($3))
				ORDER BY id FOR NO KEY UPDATE
			)
			UPDATE contact ct SET state = $4, outcome = $5, next_attempt_at = NULL, updated_at = $2
			FROM target WHERE ct.id = target.id
			RETURNING target.state`, campaignID, now, states, ContactFailed, OutcomeExpired)
		if err != nil {
			return err
		}
		was, err := pgx.CollectRows(rows, pgx.RowTo[ContactState])
		if err != nil {
			return err
		}
		expired = len(was)
		unqueued := len(slices.DeleteFunc(was, func(s ContactState) bool { return s != ContactQueued }))
		// The campaign row next (the lock order), then the deadline's notification: once per end
		// time, however many runs expire contacts, and before the completion's own.
		if _, err := tx.Exec(ctx, `UPDATE campaign SET queued_contacts = greatest(queued_contacts - $2, 0) WHERE id = $1`,
			campaignID, unqueued); err != nil {
			return err
		}
		if expired > 0 {
			if err := noteDeadline(ctx, tx, campaignID, *endBy, now); err != nil {
				return err
			}
		}
		_, err = completeIfDone(ctx, tx, campaignID, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire contacts of campaign %d: %w", campaignID, err)
	}
	return expired, nil
}

// expireQueued ends a queued contact whose dial came at or after its campaign's end endBy: failed,
// with OutcomeExpired. The caller holds the contact's lock and may take the campaign's.
func expireQueued(ctx context.Context, tx pgx.Tx, campaignID, contactID int64, endBy, now time.Time) error {
	if err := unqueue(ctx, tx, campaignID, contactID, ContactFailed, `, next_attempt_at = NULL`, now); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE contact SET outcome = $2 WHERE id = $1`, contactID, OutcomeExpired); err != nil {
		return err
	}
	if err := noteDeadline(ctx, tx, campaignID, endBy, now); err != nil {
		return err
	}
	_, err := completeIfDone(ctx, tx, campaignID, now)
	return err
}

// noteDeadline records the KindDeadline notification of a campaign whose end endBy has come and
// whose contacts tx expired: once per end time, whichever expiry comes first (ExpireContacts, a
// dial refused at the end, a call that ended after it), and before the completion it may lead
// to. It locks the campaign row, so the caller holds no lock that comes after it.
func noteDeadline(ctx context.Context, tx pgx.Tx, campaignID int64, endBy, now time.Time) error {
	var expired int
	if err := tx.QueryRow(ctx, `
		WITH c AS (SELECT id FROM campaign WHERE id = $1 FOR NO KEY UPDATE)
		SELECT `+expiredCountSQL+` FROM c`, campaignID).Scan(&expired); err != nil {
		return fmt.Errorf("note the deadline of campaign %d: %w", campaignID, err)
	}
	key := fmt.Sprintf("%s-%d-%d", KindDeadline, campaignID, endBy.UnixNano())
	return notifyTx(ctx, tx, campaignID, KindDeadline, key, map[string]any{"expired": expired, "end_by": endBy.UTC()}, now)
}

// ParseScheduleTime reads a --start-at or --end-by value, for a campaign started at now:
//
//   - RFC 3339: 2026-12-08T09:00:00Z, 2026-12-08T09:00:00+01:00;
//   - a date and time in loc: 2026-12-08 09:00, 2026-12-08T09:00, with or without seconds;
//   - a time today in loc: 09:00 or 09:00:00 (today's date at now in loc);
//   - a duration from now: +2h, +90m, +1h30m.
func ParseScheduleTime(s string, loc *time.Location, now time.Time) (time.Time, error) {
	v := strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(v, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("%q: a duration from now must be above zero, e.g. +2h or +90m", s)
		}
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04", "15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			y, m, d := now.In(loc).Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, loc), nil
		}
	}
	zone := loc.String()
	if loc == time.Local {
		zone = "this machine's time zone"
	}
	return time.Time{}, fmt.Errorf("%q is not a time: give RFC 3339 (2026-12-08T09:00:00+01:00), a date and time "+
		"(2026-12-08 09:00, in %s), a time today (09:00) or a duration from now (+2h)", s, zone)
}
