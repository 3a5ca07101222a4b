package campaign

import (
	"errors"
	"fmt"
	"slices"
)

// The two state machines of the domain, a campaign's status and a contact's state, as pure
// tables. They are what the code did before they were written down: every statement of the
// Store that changes a status or a state makes one of these moves, and checks it here first
// (setStatus, Cancel, Resume and completeIfDone with CanMoveStatus; the contact statements with
// checkContactMove), so a move is legal in one place only.

// Statuses lists every campaign status, in the order of a campaign's life.
func Statuses() []Status {
	return []Status{StatusDraft, StatusScheduled, StatusRunning, StatusPaused, StatusCompleted, StatusCancelled, StatusFailed}
}

// statusMoves returns the statuses a campaign in status from may move to. The verbs that make
// each move:
//
//	draft     → running (Start, Resume), scheduled (Start or Resume before its StartAt),
//	            cancelled (Cancel)
//	scheduled → running (StartScheduled once its StartAt has come; Resume after it),
//	            scheduled (Resume before its StartAt: harmless), cancelled (Cancel)
//	running   → running (Resume: harmless, another process may be running it), paused (Pause;
//	            BeginAttempt when the budget cap would be passed, with PauseBudget),
//	            scheduled (SetPacing moving its StartAt ahead; Resume before its StartAt),
//	            completed (its last contact became final), cancelled (Cancel),
//	            failed (stopped by an error; no verb fails a campaign today)
//	paused    → running (Resume), scheduled (Resume before its StartAt), cancelled (Cancel)
//	failed    → running (Resume), scheduled (Resume before its StartAt), cancelled (Cancel)
//	cancelled → running (Resume), scheduled (Resume before its StartAt)
//	completed → running (Resume with RetryFailed), scheduled (the same before its StartAt)
func statusMoves(from Status) []Status {
	switch from {
	case StatusDraft:
		return []Status{StatusRunning, StatusScheduled, StatusCancelled}
	case StatusScheduled:
		return []Status{StatusRunning, StatusScheduled, StatusCancelled}
	case StatusRunning:
		return []Status{StatusRunning, StatusPaused, StatusCompleted, StatusCancelled, StatusFailed, StatusScheduled}
	case StatusPaused, StatusFailed:
		return []Status{StatusRunning, StatusScheduled, StatusCancelled}
	case StatusCancelled, StatusCompleted:
		return []Status{StatusRunning, StatusScheduled}
	}
	return nil
}

// CanMoveStatus reports whether a campaign in status from may move to status to. A move to the
// same status is one only for running and scheduled (a resume of a campaign already so).
func CanMoveStatus(from, to Status) bool {
	return slices.Contains(statusMoves(from), to)
}

// contactMoves returns the states a contact in state from may move to. What makes each move:
//
//	pending     → queued (the hopper), failed (the hopper: CallingHours.Decide fails it),
//	              cancelled (Cancel), do_not_call (its number suppressed)
//	queued      → in_call (BeginAttempt), pending (BeginAttempt of a campaign not running, its dial
//	              job giving up for now, a failed pre-dial check, an orphan adopted, Resume), cancelled (Cancel, or
//	              BeginAttempt of a cancelled campaign), do_not_call (its number suppressed),
//	              failed (the pre-dial hook made it ineligible: PredialIneligible, PredialFailed)
//	in_call     → completed, failed, do_not_call (its call's result or a permanent failure),
//	              pending (a retry, or its call was not created), cancelled (the same in a
//	              cancelled campaign)
//	failed      → pending (Resume with RetryFailed)
//	cancelled   → pending (Resume)
//	completed   → nothing
//	do_not_call → nothing
func contactMoves(from ContactState) []ContactState {
	switch from {
	case ContactPending:
		return []ContactState{ContactQueued, ContactFailed, ContactCancelled, ContactDoNotCall}
	case ContactQueued:
		return []ContactState{ContactInCall, ContactPending, ContactCancelled, ContactDoNotCall, ContactFailed}
	case ContactInCall:
		return []ContactState{ContactCompleted, ContactFailed, ContactDoNotCall, ContactPending, ContactCancelled}
	case ContactFailed, ContactCancelled:
		return []ContactState{ContactPending}
	}
	return nil
}

// CanMoveContact reports whether a contact in state from may move to state to. No state moves to
// itself.
func CanMoveContact(from, to ContactState) bool {
	return slices.Contains(contactMoves(from), to)
}

// checkContactMove returns an error unless a contact may move to state to from each state of
// from. The Store calls it with the from-list and target of a statement that moves contacts,
// before running it.
func checkContactMove(to ContactState, from ...ContactState) error {
	for _, f := range from {
		if !CanMoveContact(f, to) {
			return fmt.Errorf("contact state move %s → %s: %w", f, to, errIllegalMove)
		}
	}
	return nil
}

// checkStatusMove is checkContactMove for campaign statuses.
func checkStatusMove(to Status, from ...Status) error {
	for _, f := range from {
		if !CanMoveStatus(f, to) {
			return fmt.Errorf("campaign status move %s → %s: %w", f, to, errIllegalMove)
		}
	}
	return nil
}

// errIllegalMove is the error of a statement asked to make a move the tables do not list: a bug
// in the statement, not a refusal (an operator action in the wrong status is ErrWrongStatus).
var errIllegalMove = errors.New("not a move of the state table")
