package campaign

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrWrongStatus is returned when a campaign is not in a status the operation applies to.
var ErrWrongStatus = errors.New("campaign is not in a status this applies to")

// lockCampaign locks a campaign's row for the transaction (FOR NO KEY UPDATE, the lock every
// dial takes) and returns its status.
func lockCampaign(ctx context.Context, tx pgx.Tx, campaignID int64) (Status, error) {
	var status Status
	err := tx.QueryRow(ctx, `SELECT status FROM campaign WHERE id = $1 FOR NO KEY UPDATE`, campaignID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("lock campaign %d: %w", campaignID, err)
	}
	return status, nil
}

// Start sets a draft campaign running: the hopper queues its contacts from then on; one whose
// StartAt is ahead becomes scheduled instead, until StartScheduled starts it. A campaign
// that is no longer a draft (an operator started or cancelled it first) is left as it is, and
// the error is ErrWrongStatus. A campaign started with nothing left to call stays running until
// CompleteIfDone (or the end of its last call) completes it.
func (s *Store) Start(ctx context.Context, campaignID int64, now time.Time) error {
	return s.moveStatus(ctx, campaignID, []Status{StatusDraft}, StatusRunning, now)
}

// Pause stops new dials of a running campaign in every process: each dial checks the status in
// the transaction that starts it. Calls in flight finish and are recorded. A campaign that is not
// running is left as it is, and the error is ErrWrongStatus.
func (s *Store) Pause(ctx context.Context, campaignID int64, now time.Time) error {
	return s.moveStatus(ctx, campaignID, []Status{StatusRunning}, StatusPaused, now)
}

// moveStatus is setStatus with an error naming the current status when the move does not apply.
func (s *Store) moveStatus(ctx context.Context, campaignID int64, from []Status, to Status, now time.Time) error {
	moved, err := s.setStatus(ctx, campaignID, from, to, now)
	if err != nil {
		return err
	}
	if !moved {
		c, err := s.Campaign(ctx, campaignID)
		if err != nil {
			return err
		}
		return fmt.Errorf("campaign %s is %s: %w", c.Name, c.Status, ErrWrongStatus)
	}
	return nil
}

// setStatus moves a campaign to status to if its current status is one of from (an empty from
// matches nothing), and reports whether it changed; every move from one of from to to must be
// in the status table (CanMoveStatus). A move to running from statuses that may move to
// scheduled becomes one to scheduled while the campaign's start_at is ahead. started_at is set when it first runs; finished_at is set when it
// becomes completed, cancelled or failed, and cleared when it runs again.
func (s *Store) setStatus(ctx context.Context, campaignID int64, from []Status, to Status, now time.Time) (bool, error) {
	if err := checkStatusMove(to, from...); err != nil {
		return false, fmt.Errorf("set campaign %d %s: %w", campaignID, to, err)
	}
	// A move to running from statuses that may wait scheduled (not from running itself).
	toRun := to == StatusRunning && checkStatusMove(StatusScheduled, from...) == nil
	tag, err := s.pool.Exec(ctx, `
		UPDATE campaign SET status = CASE WHEN $5 AND start_at > $3 THEN $8 ELSE $2 END, updated_at = $3, paused_reason = $7,
			started_at = CASE WHEN $2 = $9 AND NOT coalesce(start_at > $3, false) THEN coalesce(started_at, $3) ELSE started_at END,
			finished_at = CASE WHEN $6 THEN $3 WHEN $2 = $9 THEN NULL ELSE finished_at END
		WHERE id = $1 AND status = ANY($4)`, campaignID, to, now, from, toRun, to.Ended(), PauseOperator, StatusScheduled, StatusRunning)
	if err != nil {
		return false, fmt.Errorf("set campaign %d %s: %w", campaignID, to, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign WHERE id = $1)`, campaignID).
		Scan(&exists); err != nil {
		return false, fmt.Errorf("set campaign %d %s: %w", campaignID, to, err)
	}
	if !exists {
		return false, fmt.Errorf("set campaign %d %s: %w", campaignID, to, ErrNotFound)
	}
	return false, nil
}

// Cancel ends a campaign for good: its status becomes cancelled, and its contacts not yet
// called or waiting for a retry (pending, queued) become cancelled. Calls in flight finish and
// are recorded; their contacts get no retry (settleContact reads the status under the contact's
// lock, which Cancel takes too, so a result and a cancel at the same moment serialize). It
// records the KindCancelled notification in the same transaction, and returns how many contacts
// were cancelled.
func (s *Store) Cancel(ctx context.Context, campaignID int64, now time.Time) (int, error) {
	var cancelled int
	// Cancel moves the contacts waiting to be called; those in a call (locked too) are cancelled
	// when their call ends (settleContact).
	waiting := []ContactState{ContactPending, ContactQueued}
	if err := checkContactMove(ContactCancelled, waiting...); err != nil {
		return 0, fmt.Errorf("cancel campaign: %w", err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Contacts first, in id order, then the campaign row (the lock order of dispatch.go).
		tag, err := tx.Exec(ctx, `
			WITH target AS (
				SELECT id, state FROM contact WHERE campaign_id = $1 AND (state = ANY($3) OR state = $4)
				ORDER BY id FOR NO KEY UPDATE
			)
			UPDATE contact ct SET state = $5, next_attempt_at = NULL, updated_at = $2
			FROM target WHERE ct.id = target.id AND target.state = ANY($3)`,
			campaignID, now, waiting, ContactInCall, ContactCancelled)
		if err != nil {
			return err
		}
		cancelled = int(tag.RowsAffected())
		status, err := lockCampaign(ctx, tx, campaignID)
		if err != nil {
			return err
		}
		if !CanMoveStatus(status, StatusCancelled) {
			return fmt.Errorf("campaign %d is %s: %w", campaignID, status, ErrWrongStatus)
		}
		if _, err = tx.Exec(ctx, `
			UPDATE campaign SET status = $3, queued_contacts = 0, finished_at = $2, updated_at = $2, paused_reason = $4
			WHERE id = $1`, campaignID, now, StatusCancelled, PauseOperator); err != nil {
			return err
		}
		return notifyTx(ctx, tx, campaignID, KindCancelled, eventKey(KindCancelled, campaignID, now), nil, now)
	})
	if err != nil {
		return 0, fmt.Errorf("cancel campaign: %w", err)
	}
	return cancelled, nil
}

// Pacing is a change to a campaign's pacing, calling hours and retry rules; nil fields stay as
// they are. New retry rules apply to results recorded from then on; retries already scheduled
// keep their times.
type Pacing struct {
	RatePerSecond *float64
	MaxConcurrent *int
	WindowSpec    *string
	// RetryPolicy is a --retry spec (ParseRetryPolicy); it is stored in canonical form.
	RetryPolicy  *string
	MaxAttempts  *int
	CallbackKey  *string
	DoNotCallKey *string
	// MaxCostUSD sets the budget cap in USD (Settings.MaxCostUSD); 0 removes it. A campaign
	// the cap paused stays paused: resume it.
	MaxCostUSD *float64
	// PredialURL is the pre-dial eligibility hook ("" removes it).
	PredialURL *string
	// NotifyURL is where notifications go ("" removes it); NotifySpike is the failure-spike
	// rule (ParseSpike), stored in canonical form.
	NotifyURL, NotifySpike *string
	// StartAt and EndBy change the schedule (Settings.StartAt, EndBy); a zero time removes
	// it. A scheduled campaign whose start is removed or moved to the past is started by the
	// next hopper run; one whose end is moved to the past expires its waiting contacts. A
	// running campaign whose start is moved ahead becomes scheduled again: it dials no one
	// till then (its queued contacts go back to pending when their dials find it not running;
	// calls in flight finish), and StartScheduled runs it again at the new start. Any other
	// status stays: a paused campaign resumed before its start becomes scheduled then.
	StartAt, EndBy *time.Time
	// PerNumberMaxConcurrent and PerNumberDailyCap set the per-number limits; 0 removes one.
	PerNumberMaxConcurrent, PerNumberDailyCap *int
}

// NoMaxCost is the budget-cap value that means no cap (ParseMaxCost).
const NoMaxCost = "none"

// ParseMaxCost reads a budget cap as people type it: an amount in USD above 0, or NoMaxCost
// (nil: no cap). 0 is refused rather than taken as "no cap" or "spend nothing": neither reading
// is obvious.
func ParseMaxCost(s string) (*float64, error) {
	if strings.EqualFold(strings.TrimSpace(s), NoMaxCost) {
		return nil, nil
	}
	usd, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(usd > 0) || math.IsInf(usd, 0) {
		return nil, fmt.Errorf("must be an amount in USD above 0 (e.g. 25 or 12.50), or %s to remove the cap; got %q", NoMaxCost, s)
	}
	return &usd, nil
}

// SetPacing changes a campaign's pacing while it runs: every dial and hopper run reads the
// campaign afresh, so the change holds within seconds in every process. A new window also makes
// contacts deferred to the old window's opening due again, so the hopper re-decides them.
func (s *Store) SetPacing(ctx context.Context, campaignID int64, p Pacing, now time.Time) error {
	if p.RatePerSecond != nil && *p.RatePerSecond < 0 {
		return fmt.Errorf("rate must be zero (no limit) or more, got %v", *p.RatePerSecond)
	}
	if p.MaxConcurrent != nil && *p.MaxConcurrent < 1 {
		return fmt.Errorf("max concurrent must be at least 1, got %d", *p.MaxConcurrent)
	}
	if p.WindowSpec != nil {
		w, err := ParseWindow(*p.WindowSpec)
		if err != nil {
			return err
		}
		canonical := w.String()
		p.WindowSpec = &canonical
	}
	if p.RetryPolicy != nil {
		rp, err := ParseRetryPolicy(*p.RetryPolicy)
		if err != nil {
			return err
		}
		canonical := rp.String()
		p.RetryPolicy = &canonical
	}
	if p.MaxAttempts != nil && *p.MaxAttempts < 1 {
		return fmt.Errorf("max attempts must be at least 1, got %d", *p.MaxAttempts)
	}
	if (p.PerNumberMaxConcurrent != nil && *p.PerNumberMaxConcurrent < 0) || (p.PerNumberDailyCap != nil && *p.PerNumberDailyCap < 0) {
		return fmt.Errorf("per-number limits must be 0 (no limit) or more")
	}
	if p.MaxCostUSD != nil && !(*p.MaxCostUSD >= 0) {
		return fmt.Errorf("max cost must be above zero (zero: no cap), got %v", *p.MaxCostUSD)
	}
	if p.NotifySpike != nil {
		rule, err := ParseSpike(*p.NotifySpike)
		if err != nil {
			return err
		}
		canonical := rule.String()
		p.NotifySpike = &canonical
	}
	// A schedule time given is set ($14/$16 true) to its value, nil for a zero time (removed).
	scheduleArg := func(t *time.Time) (bool, *time.Time) {
		if t == nil || t.IsZero() {
			return t != nil, nil
		}
		return true, t
	}
	setStart, startAt := scheduleArg(p.StartAt)
	setEnd, endBy := scheduleArg(p.EndBy)
	// A start moved ahead ($20) takes a running campaign back to scheduled.
	postpone := startAt != nil && startAt.After(now)
	if err := checkStatusMove(StatusScheduled, StatusRunning); err != nil {
		return fmt.Errorf("set pacing: %w", err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Contacts first, in id order, then the campaign row (the lock order of dispatch.go).
		if p.WindowSpec != nil {
			// Deferred contacts wait for the old window's opening; the retries' own times stay.
			_, err := tx.Exec(ctx, `
				WITH target AS (
					SELECT id FROM contact
					WHERE campaign_id = $1 AND state = `+pendingSQL+` AND attempts = 0 AND next_attempt_at IS NOT NULL
					ORDER BY id FOR NO KEY UPDATE
				)
				UPDATE contact ct SET next_attempt_at = NULL, updated_at = $2
				FROM target WHERE ct.id = target.id`,
				campaignID, now)
			if err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `
			UPDATE campaign SET rate_per_second = coalesce($2, rate_per_second),
				max_concurrent = coalesce($3, max_concurrent), window_spec = coalesce($4, window_spec),
				retry_policy = coalesce($6, retry_policy), max_attempts = coalesce($7, max_attempts),
				callback_key = coalesce($8, callback_key), do_not_call_key = coalesce($9, do_not_call_key),
				max_cost = CASE WHEN $10::float8 IS NULL THEN max_cost WHEN $10::float8 = 0 THEN NULL ELSE $10::float8 END,
				predial_url = coalesce($11, predial_url), updated_at = $5,
				notify_url = coalesce($12, notify_url), notify_spike = coalesce($13, notify_spike),
				start_at = CASE WHEN $14 THEN $15 ELSE start_at END, end_by = CASE WHEN $16 THEN $17 ELSE end_by END,
				per_number_max_concurrent = CASE WHEN $18::int IS NULL THEN per_number_max_concurrent ELSE nullif($18::int, 0) END,
				per_number_daily_cap = CASE WHEN $19::int IS NULL THEN per_number_daily_cap ELSE nullif($19::int, 0) END,
				status = CASE WHEN $20 AND status = $21 THEN $22 ELSE status END
			WHERE id = $1`, campaignID, p.RatePerSecond, p.MaxConcurrent, p.WindowSpec, now,
			p.RetryPolicy, p.MaxAttempts, p.CallbackKey, p.DoNotCallKey, p.MaxCostUSD, p.PredialURL,
			p.NotifyURL, p.NotifySpike, setStart, startAt, setEnd, endBy, p.PerNumberMaxConcurrent, p.PerNumberDailyCap,
			postpone, StatusRunning, StatusScheduled)
		if isScheduleViolation(err) {
			return ErrBadSchedule
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set pacing: %w", err)
	}
	return nil
}

// ResumeOptions says how a campaign is resumed.
type ResumeOptions struct {
	// RetryFailed gives each failed contact one more attempt, except permanent failures (a bad
	// number or account problem would fail again).
	RetryFailed bool
}

// Resume sets a campaign running again after an interruption (a killed process, a reboot), a
// failure, a pause or a cancellation (scheduled instead while its StartAt is ahead), and returns how many contacts went back to dispatch:
// queued contacts (their dial jobs may be gone; a job that survives finds its contact no longer
// queued and does nothing), the contacts a cancellation stopped, and with RetryFailed the
// failed ones. Contacts in a call stay so: the reconciler settles their calls first. Resuming a
// running campaign, even one another process is running, is harmless: every dial still goes
// through BeginAttempt.
func (s *Store) Resume(ctx context.Context, campaignID int64, opts ResumeOptions, now time.Time) (int, error) {
	var back int
	// Resume takes back the queued and cancelled contacts, and with RetryFailed the failed ones.
	stopped := []ContactState{ContactQueued, ContactCancelled}
	if err := checkContactMove(ContactPending, append(stopped, ContactFailed)...); err != nil {
		return 0, fmt.Errorf("resume campaign: %w", err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Contacts first, in id order, then the campaign row (the lock order of dispatch.go).
		// Only a cancellation makes contacts cancelled, so taking back every cancelled contact
		// is right whatever the status.
		tag, err := tx.Exec(ctx, `
			WITH target AS (
				SELECT id FROM contact
				WHERE campaign_id = $1 AND (state = ANY($5)
				   OR ($3 AND state = $6 AND outcome <> $4))
				ORDER BY id FOR NO KEY UPDATE
			)
			UPDATE contact ct SET state = $7, next_attempt_at = NULL, updated_at = $2, predial_failures = 0, predial_reason = ''
			FROM target WHERE ct.id = target.id`,
			campaignID, now, opts.RetryFailed, OutcomeFailedPermanent, stopped, ContactFailed, ContactPending)
		if err != nil {
			return err
		}
		back = int(tag.RowsAffected())
		status, err := lockCampaign(ctx, tx, campaignID)
		if err != nil {
			return err
		}
		if !CanMoveStatus(status, StatusRunning) {
			return fmt.Errorf("campaign %d is %s: %w", campaignID, status, ErrWrongStatus)
		}
		if status == StatusCompleted && !opts.RetryFailed {
			return fmt.Errorf("campaign %d is completed (use --retry-failed to call its failed contacts again): %w",
				campaignID, ErrWrongStatus)
		}
		// Before its start_at it waits scheduled (again).
		_, err = tx.Exec(ctx, `
			UPDATE campaign SET status = CASE WHEN $6 AND start_at > $2 THEN $5 ELSE $3 END, queued_contacts = 0,
				finished_at = NULL, updated_at = $2, paused_reason = $4,
				started_at = CASE WHEN $6 AND start_at > $2 THEN started_at ELSE coalesce(started_at, $2) END
			WHERE id = $1`, campaignID, now, StatusRunning, PauseOperator, StatusScheduled,
			CanMoveStatus(status, StatusScheduled))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("resume campaign: %w", err)
	}
	return back, nil
}

// Routing is a change to where a campaign's calls come from and report to, and to who places
// them; nil fields stay.
type Routing struct {
	AssistantID   *string
	PhoneNumberID *string
	PublicURL     *string
	Webhooks      *WebhookMode
	Mode          *Mode
	// RetryTimeScale goes with Mode: the simulator's time scale for ModeSimulated, else 1.
	RetryTimeScale *float64
	// PhoneNumberIDs replaces the pool of numbers (Settings.PhoneNumberIDs); PhoneNumberID
	// should then be its first.
	PhoneNumberIDs *[]string
}

// SetRouting changes the assistant, the phone number, the webhook address and mode, or the mode
// of a campaign's future calls.
func (s *Store) SetRouting(ctx context.Context, campaignID int64, r Routing, now time.Time) error {
	if r.RetryTimeScale != nil && !(*r.RetryTimeScale > 0) {
		return fmt.Errorf("set routing: retry time scale must be above 0, got %v", *r.RetryTimeScale)
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE campaign SET assistant_id = coalesce($2, assistant_id),
			phone_number_id = coalesce($3, phone_number_id), public_url = coalesce($4, public_url),
			mode = coalesce($6, mode), retry_time_scale = coalesce($7, retry_time_scale),
			webhooks = coalesce($8, webhooks), phone_number_ids = coalesce($9, phone_number_ids), updated_at = $5
		WHERE id = $1`, campaignID, r.AssistantID, r.PhoneNumberID, r.PublicURL, now, r.Mode, r.RetryTimeScale, r.Webhooks,
		r.PhoneNumberIDs)
	if err != nil {
		return fmt.Errorf("set routing: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
	}
	return nil
}

// ErrHasResults is returned by DeleteCampaign when the campaign placed calls and Purge was not
// asked: their results (and what they cost) would go with it.
var ErrHasResults = errors.New("campaign has results")

// RunnerLiveError is returned by DeleteCampaign when a live runner of the campaign's own (a
// campaign run or campaign resume that still watches it, e.g. after a pause) would lose its
// campaign from under it, and Force was not asked.
type RunnerLiveError struct {
	// Runner is the oldest live runner of the campaign.
	Runner Runner
}

func (e *RunnerLiveError) Error() string {
	return fmt.Sprintf("campaign %d is still run by a %s runner on host %s (pid %d)",
		e.Runner.CampaignID, e.Runner.Mode, e.Runner.Host, e.Runner.PID)
}

// DeleteOptions says what DeleteCampaign may delete.
type DeleteOptions struct {
	// Purge deletes a campaign that placed calls, with their results and webhook events.
	Purge bool
	// Force deletes a running campaign: its dial jobs then find nothing to dial, and calls in
	// flight go on at Vapi with their results unrecorded.
	Force bool
}

// Deleted is what DeleteCampaign deleted, or with ErrHasResults what it would have.
type Deleted struct {
	Contacts int
	// Calls counts the attempts that placed a call, or may have (all but not_created).
	Calls int
}

// DeleteCampaign deletes a campaign with its contacts and attempts, and with Purge the webhook
// events of its calls. Unless Force, it refuses a running campaign (ErrWrongStatus) and one that
// a live runner of its own still watches (*RunnerLiveError: a campaign run or resume after a
// pause, which would otherwise lose its campaign from under it); and unless Purge, a campaign
// that placed calls (ErrHasResults, Deleted.Calls set). The suppression list stays whole: a
// do-not-call request outlives the campaign it came from.
//
// It takes its locks in the order of dispatch.go: the campaign's attempts in id order (a result
// locks its attempt first), then its contacts in id order, then the campaign row, under which it
// reads the status and the runners. Once the contacts are locked no attempt can be added.
func (s *Store) DeleteCampaign(ctx context.Context, campaignID int64, opts DeleteOptions) (Deleted, error) {
	var d Deleted
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d = Deleted{}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM attempt WHERE campaign_id = $1 ORDER BY id FOR UPDATE`, campaignID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM contact WHERE campaign_id = $1 ORDER BY id FOR UPDATE`, campaignID); err != nil {
			return err
		}
		var status Status
		err := tx.QueryRow(ctx, `SELECT status FROM campaign WHERE id = $1 FOR UPDATE`, campaignID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if status == StatusRunning && !opts.Force {
			return fmt.Errorf("campaign %d is %s: %w", campaignID, status, ErrWrongStatus)
		}
		if !opts.Force {
			var r Runner
			err := tx.QueryRow(ctx, `SELECT id, campaign_id, mode, host, pid FROM campaign_runner
				WHERE campaign_id = $1 AND expires_at > now() ORDER BY started_at, id LIMIT 1`, campaignID).
				Scan(&r.ID, &r.CampaignID, &r.Mode, &r.Host, &r.PID)
			switch {
			case err == nil:
				return &RunnerLiveError{Runner: r}
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM attempt WHERE campaign_id = $1 AND state <> $2`,
			campaignID, AttemptNotCreated).Scan(&d.Calls); err != nil {
			return err
		}
		if d.Calls > 0 && !opts.Purge {
			return ErrHasResults
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM webhook_event e
			WHERE EXISTS (SELECT 1 FROM attempt a WHERE a.campaign_id = $1 AND e.vapi_call_id <> ''
			              AND a.vapi_call_id = e.vapi_call_id)
			   OR EXISTS (SELECT 1 FROM attempt a WHERE a.campaign_id = $1 AND e.attempt_key <> ''
			              AND a.key = e.attempt_key)`, campaignID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM contact WHERE campaign_id = $1`, campaignID)
		if err != nil {
			return err
		}
		d.Contacts = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `DELETE FROM campaign WHERE id = $1`, campaignID)
		return err
	})
	if errors.Is(err, ErrHasResults) {
		return d, err
	}
	if err != nil {
		return Deleted{}, fmt.Errorf("delete campaign: %w", err)
	}
	return d, nil
}
