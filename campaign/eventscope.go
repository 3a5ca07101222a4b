package campaign

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EventRejectedError is returned (wrapped) when a call's result or status names an attempt that
// it may not change (DESIGN guarantee 6, "an authenticated request reaches only its own
// campaign"): an attempt of another campaign than the one the event is for, or a call id and an
// attempt key that do not name the same attempt. Nothing is changed. Match it with errors.As.
type EventRejectedError struct {
	// Reason says what did not match, with the ids involved (never a secret).
	Reason string
}

// Error implements error.
func (e *EventRejectedError) Error() string { return "event rejected: " + e.Reason }

// matchEventAttempt is the one rule that decides which attempt an event about a call (a
// webhook's end-of-call report or status-update, or a call the reconciler fetched) may change.
// candidates are the attempts whose call id is callID or whose key is key (callID and key may be
// ""); campaignID is the campaign the event is for, 0 for any. It returns the index of the
// attempt in candidates:
//
//   - the attempt of the call id, if there is one; a non-empty key must then be that attempt's
//     key (a key of another attempt, or of none, is rejected);
//   - else the attempt of the key, if there is one; a non-empty call id must then be free to be
//     that attempt's (the attempt has no call id yet), else it is rejected: the key's attempt
//     belongs to another call;
//   - else ErrUnknownCall (the event is kept and not applied, as for a call placed by someone
//     else);
//
// and the attempt found must belong to campaignID when it is not 0, else the event is rejected.
// Rejections are *EventRejectedError.
func matchEventAttempt(candidates []lockedAttempt, callID, key string, campaignID int64) (int, error) {
	byCall, byKey := -1, -1
	for i, a := range candidates {
		if callID != "" && a.callID == callID {
			byCall = i
		}
		if key != "" && a.key == key {
			byKey = i
		}
	}
	target := byCall
	switch {
	case byCall >= 0:
		if key != "" && byKey != byCall {
			if byKey < 0 {
				return -1, &EventRejectedError{Reason: fmt.Sprintf(
					"call %q is attempt %d's but attempt key %q names no attempt", callID, candidates[byCall].id, key)}
			}
			return -1, &EventRejectedError{Reason: fmt.Sprintf(
				"call %q is attempt %d's but attempt key %q is attempt %d's",
				callID, candidates[byCall].id, key, candidates[byKey].id)}
		}
	case byKey >= 0:
		if callID != "" && candidates[byKey].callID != "" {
			return -1, &EventRejectedError{Reason: fmt.Sprintf(
				"attempt key %q is attempt %d's, whose call is %q, not %q",
				key, candidates[byKey].id, candidates[byKey].callID, callID)}
		}
		target = byKey
	default:
		return -1, fmt.Errorf("call %q, attempt key %q: %w", callID, key, ErrUnknownCall)
	}
	if a := candidates[target]; campaignID != 0 && a.campaignID != campaignID {
		return -1, &EventRejectedError{Reason: fmt.Sprintf(
			"attempt %d (call %q, attempt key %q) belongs to campaign %d, not to campaign %d",
			a.id, a.callID, a.key, a.campaignID, campaignID)}
	}
	return target, nil
}

// lockAttemptOfCall finds and locks (FOR NO KEY UPDATE) the attempt an event about a call may
// change, by matchEventAttempt: callID and key are the event's, campaignID the campaign it is
// for (0: any). The candidates (at most two: call ids and keys are unique) are locked in id
// order, so two events never deadlock each other.
//
// held is nil in a transaction that applies one event; in one that applies many
// (Store.RecordEvents) it is the set of rows locked before any was applied, and the candidates
// are read without locking: they must all be among held, else (an attempt whose call id was
// recorded, or which was inserted, since held was locked) it returns errApplyAlone, locking
// nothing, as locking it now, after contacts, would break the lock order.
func lockAttemptOfCall(ctx context.Context, tx pgx.Tx, callID, key string, campaignID int64, held *heldLocks) (*lockedAttempt, error) {
	locking := " FOR NO KEY UPDATE"
	if held != nil {
		locking = ""
	}
	rows, err := tx.Query(ctx, lockedAttemptSQL+`
		WHERE ($1 <> '' AND vapi_call_id = $1) OR ($2 <> '' AND key = $2)
		ORDER BY id`+locking, callID, key)
	if err != nil {
		return nil, err
	}
	locked, err := collectLockedAttempts(rows)
	if err != nil {
		return nil, err
	}
	if held != nil {
		for _, a := range locked {
			if !held.attempts[a.id] {
				return nil, errApplyAlone
			}
		}
	}
	i, err := matchEventAttempt(locked, callID, key, campaignID)
	if err != nil {
		return nil, err
	}
	return &locked[i], nil
}

// heldLocks are the attempt and contact rows, by id, that a transaction applying many events
// (Store.RecordEvents) locked, in the lock order, before applying any of them: an event is
// applied with the others only when every row it locks is one of these.
type heldLocks struct {
	attempts, contacts map[int64]bool
}

// lockedAttemptSQL selects the columns of a lockedAttempt from attempt; the caller adds WHERE
// and the locking clause.
const lockedAttemptSQL = `
	SELECT id, contact_id, campaign_id, state, report_at, ended_reason, coalesce(vapi_call_id, ''), key
	FROM attempt`

// collectLockedAttempts reads the rows of a lockedAttemptSQL query.
func collectLockedAttempts(rows pgx.Rows) ([]lockedAttempt, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (lockedAttempt, error) {
		var a lockedAttempt
		err := row.Scan(&a.id, &a.contactID, &a.campaignID, &a.state, &a.reportAt, &a.endedReason, &a.callID, &a.key)
		return a, err
	})
}
