package campaign

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// This file applies the retry rules of retry.go to a contact whose call has ended: it reads the
// campaign's policy and the contact, decides with RetryPolicy.AfterCall, moves the decision into
// the contact's calling window, and stores it.

// settleSettings are the campaign settings that decide what follows a call.
type settleSettings struct {
	retrySpec                 string
	maxAttempts               int
	callbackKey, doNotCallKey string
	windowSpec                string
	timeScale                 float64
	status                    Status
	mode                      Mode
	endBy                     *time.Time
}

// settledContact is what settling needs of the contact.
type settledContact struct {
	state     ContactState
	attempts  int
	phone     string
	timeZones []string
}

// DoNotCallReason is the suppression reason of a number whose owner asked, in a call, not to be
// called again.
const DoNotCallReason = "asked not to be called"

// settleContact decides and stores what follows attempt a of its contact, which ended with
// outcome (not capacity) and structured data, and returns the decision's reason, which the caller
// stores on the attempt when it writes the attempt's end, after this (so a counts as ended with
// outcome already). A contact no longer in a call (cancelled meanwhile) only gets the outcome.
//
//   - Retry: the contact goes back to pending with next_attempt_at at the retry time moved into
//     its calling window (the hopper defers it further if the window changes); in a cancelled
//     campaign it becomes cancelled instead, and when that time comes at or after the
//     campaign's EndBy it becomes failed with OutcomeExpired.
//   - Final: the contact gets its final state; ContactDoNotCall also puts the number on the
//     suppression list, with the call id and campaign as evidence, which stops its other
//     campaigns' pending contacts too. A simulated campaign's answer stops its own contact
//     only: the shared list is for real numbers that real people asked about.
//
// It returns the campaigns whose contacts it changed besides a's (see addSuppressionsTx): the
// caller settles them with a's campaign, in id order.
//
// Delays count from now, when the result is recorded (Vapi reports a call 5-15 s after it
// ends). In a simulated campaign, calls last RetryTimeScale times longer than the real time they
// take: the decision is taken at the call's end time (endedAt, a real time) and its distance
// from it, a simulated delay (a retry delay, or a callback asked for "in two hours"), is divided
// by the scale, so callbacks and retries come as soon, relatively, as the calls end.
//
// alone is false when the result is applied with others in one transaction (see
// Store.RecordEvents): a result that would add its number to the suppression list or note the
// campaign's deadline, which lock rows out of such a transaction's lock order, then returns
// errApplyAlone, and the caller rolls it back and applies it in a transaction of its own.
func settleContact(ctx context.Context, tx pgx.Tx, a *lockedAttempt, callID string, outcome Outcome,
	structured json.RawMessage, simEndedAt *time.Time, now time.Time, alone bool) (decision string, touched map[int64]int, err error) {
	// The contact's lock first, then the campaign's settings and status: a Cancel, which locks
	// the contacts in a call too, has committed by the time this lock is granted, so a
	// cancelled campaign gives no retry.
	var ct settledContact
	err = tx.QueryRow(ctx, `
		SELECT state, attempts, phone, time_zones FROM contact WHERE id = $1 FOR NO KEY UPDATE`, a.contactID).
		Scan(&ct.state, &ct.attempts, &ct.phone, &ct.timeZones)
	if err != nil {
		return "", nil, err
	}
	var set settleSettings
	err = tx.QueryRow(ctx, `
		SELECT retry_policy, max_attempts, callback_key, do_not_call_key, window_spec, retry_time_scale, status, mode,
			end_by
		FROM campaign WHERE id = $1`, a.campaignID).
		Scan(&set.retrySpec, &set.maxAttempts, &set.callbackKey, &set.doNotCallKey, &set.windowSpec, &set.timeScale,
			&set.status, &set.mode, &set.endBy)
	if err != nil {
		return "", nil, err
	}
	if ct.state != ContactInCall {
		return "contact was " + string(ct.state) + " meanwhile", nil, noteOutcome(ctx, tx, a.contactID, outcome, now)
	}
	// a itself is written after this (applyResult), ended with outcome: it counts as one.
	sameOutcome := 1
	var others int
	err = tx.QueryRow(ctx, `
		SELECT count(*) FROM attempt WHERE contact_id = $1 AND state = $3 AND outcome = $2 AND id <> $4`,
		a.contactID, outcome, AttemptEnded, a.id).Scan(&others)
	if err != nil {
		return "", nil, err
	}
	sameOutcome += others

	policy, err := ParseRetryPolicy(set.retrySpec)
	if err != nil { // specs are validated before they are stored; never retry on a bad one
		policy = RetryPolicy{}
	}
	policy.MaxAttempts = set.maxAttempts
	zones, zonesErr := loadTimeZones(ct.timeZones)
	clock, scale := now, 1.0
	if set.timeScale > 0 && set.timeScale != 1 && simEndedAt != nil {
		clock, scale = *simEndedAt, set.timeScale
	}
	fu, err := ParseFollowUp(structured, FollowUpKeys{CallbackAt: set.callbackKey, DoNotCall: set.doNotCallKey}, zones, clock)
	if err != nil {
		fu = FollowUp{} // a malformed analysis asks for nothing
	}
	if zonesErr != nil {
		// A local callback time cannot be read without the contact's zone; nor is the contact
		// called again: its calling hours fail it (see CallingHours.Decide).
		fu.CallbackAt, fu.HasCallback = time.Time{}, false
	}
	step := policy.AfterCall(outcome, ct.attempts, sameOutcome, clock, fu)

	if !step.Retry {
		if err := finishContact(ctx, tx, a.contactID, step.Final, outcome, now); err != nil {
			return "", nil, err
		}
		if step.Final != ContactDoNotCall {
			return step.Reason, nil, nil
		}
		if set.mode == ModeSimulated {
			// A simulated answer reached nobody: it stops this contact only, never a real number
			// in the shared list.
			return step.Reason + " (simulated: not added to the suppression list)", nil, nil
		}
		if !alone {
			return "", nil, errApplyAlone
		}
		_, touched, err := addSuppressionsTx(ctx, tx, []string{ct.phone}, []string{DoNotCallReason},
			[]string{SourceCall}, []string{callID}, []int64{a.campaignID},
			[]pgtype.Timestamptz{{Time: now, Valid: true}}, now)
		if err != nil {
			return "", nil, err
		}
		return step.Reason, touched, nil
	}
	if set.status == StatusCancelled {
		return step.Reason + "; not retried: the campaign is cancelled", nil,
			finishContact(ctx, tx, a.contactID, ContactCancelled, outcome, now)
	}
	// The retry moves to the window's next opening after its time. When the contact's calling
	// hours fail it (a bad spec or zone, no common hour), it keeps its time, at which the
	// hopper fails it with the decision's outcome.
	at := now.Add(time.Duration(float64(step.At.Sub(clock)) / scale))
	if d := ParseCallingHours(set.windowSpec).Decide(ct.timeZones, at); !d.DeferUntil.IsZero() {
		at = d.DeferUntil
	}
	if Expired(set.endBy, at) {
		// The retry would come at or after the campaign's end: the contact expires now; when the
		// end has come already, that is the campaign's deadline.
		reason := step.Reason + "; not retried: the campaign ends first (" + string(OutcomeExpired) + ")"
		if err := finishContact(ctx, tx, a.contactID, ContactFailed, OutcomeExpired, now); err != nil || !Expired(set.endBy, now) {
			return reason, nil, err
		}
		if !alone {
			return "", nil, errApplyAlone
		}
		return reason, nil, noteDeadline(ctx, tx, a.campaignID, *set.endBy, now)
	}
	if err := checkContactMove(ContactPending, ContactInCall); err != nil {
		return "", nil, err
	}
	_, err = tx.Exec(ctx, `
		UPDATE contact SET state = $5, outcome = $2, next_attempt_at = $3, updated_at = $4
		WHERE id = $1`, a.contactID, outcome, at, now, ContactPending)
	if err != nil {
		return "", nil, err
	}
	return step.Reason + "; next attempt " + at.UTC().Format(time.RFC3339), nil, nil
}
