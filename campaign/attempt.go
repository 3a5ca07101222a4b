package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AttemptState is where a call attempt stands in the journal.
type AttemptState string

// Attempt states. An attempt is live (it holds one of the campaign's concurrency slots) while
// it is creating or created.
const (
	// AttemptCreating: the row is committed and POST /call may be under way; whether a call
	// exists is not known yet.
	AttemptCreating AttemptState = "creating"
	// AttemptCreated: Vapi created the call and its id is stored.
	AttemptCreated AttemptState = "created"
	// AttemptEnded: the call ended (a status-update said so, or its result was recorded).
	AttemptEnded AttemptState = "ended"
	// AttemptNotCreated: no call was placed (refused, never sent, or looked up and absent).
	AttemptNotCreated AttemptState = "not_created"
)

// liveAttemptStates are the states of a live attempt, for SQL (state = ANY(…)).
func liveAttemptStates() []AttemptState {
	return []AttemptState{AttemptCreating, AttemptCreated}
}

// callStatusEnded is the status of a Vapi status-update that says the call ended (see
// ApplyStatus).
const callStatusEnded = "ended"

// CapacityRetryDelay is how long a contact waits after Vapi refused its call for lack of a
// concurrency slot (an end-of-call report with outcome capacity).
const CapacityRetryDelay = 30 * time.Second

// ErrAttemptNotFound is returned (wrapped) when an attempt looked up by id does not exist.
var ErrAttemptNotFound = errors.New("attempt not found")

// ErrUnknownCall is returned (wrapped) when neither a call id nor an attempt key matches an
// attempt.
var ErrUnknownCall = errors.New("no attempt for this call")

// Attempt is one call placed, or about to be placed, for a contact: a row of the journal.
type Attempt struct {
	ID, CampaignID, ContactID int64
	// Number is the attempt's sequence number among its contact's attempts (1, 2, …),
	// counting every row, including attempts that placed no call; it makes Key unique.
	Number int
	// Key is AttemptKey(CampaignID, ContactID, Number): the call's name and externalId.
	Key        string
	State      AttemptState
	VapiCallID string
	// CreatedAt is when the row was committed, before POST /call.
	CreatedAt time.Time
	// CallCreatedAt is when Vapi created the call; EndedAt when it ended; ReportAt when its
	// full result was recorded (nil until then).
	CallCreatedAt, EndedAt, ReportAt *time.Time
	EndedReason                      string
	Outcome                          Outcome
	// Lookups counts the reconciler's lookups that found nothing.
	Lookups int
	// LastStatus is the latest status-update seen ("ended" is never replaced).
	LastStatus string
	// Error is why the attempt placed no call (not_created attempts).
	Error string
	// Decision is what followed the call for its contact and why, e.g.
	// "no_answer: retry 1 of 2 after 4h; next attempt 2026-11-24T15:00:00Z".
	Decision  string
	UpdatedAt time.Time
	// Phone is the contact's number (E.164), for lookups.
	Phone string
	// PhoneNumberID is the Vapi phone number the call is placed from, chosen by BeginAttempt
	// ("" for attempts journaled before pools existed: their campaign's PhoneNumberID).
	PhoneNumberID string
}

const attemptColumns = `a.id, a.campaign_id, a.contact_id, a.number, a.key, a.state,
	coalesce(a.vapi_call_id, ''), a.created_at, a.call_created_at, a.ended_at, a.report_at,
	a.ended_reason, a.outcome, a.lookups, a.last_status, a.error, a.decision, a.updated_at, ct.phone,
	a.phone_number_id`

const attemptFrom = ` FROM attempt a JOIN contact ct ON ct.id = a.contact_id `

func scanAttempt(row pgx.Row) (*Attempt, error) {
	var a Attempt
	err := row.Scan(&a.ID, &a.CampaignID, &a.ContactID, &a.Number, &a.Key, &a.State, &a.VapiCallID,
		&a.CreatedAt, &a.CallCreatedAt, &a.EndedAt, &a.ReportAt, &a.EndedReason, &a.Outcome, &a.Lookups,
		&a.LastStatus, &a.Error, &a.Decision, &a.UpdatedAt, &a.Phone, &a.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Attempt returns one attempt by id.
func (s *Store) Attempt(ctx context.Context, id int64) (*Attempt, error) {
	a, err := scanAttempt(s.pool.QueryRow(ctx, `SELECT `+attemptColumns+attemptFrom+`WHERE a.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("attempt %d: %w", id, ErrAttemptNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load attempt %d: %w", id, err)
	}
	return a, nil
}

// CallCreated records Vapi's call id for an attempt: creating → created. It is idempotent; if an
// early webhook already ended the attempt (or it was given up as not created), only the id and
// the call's creation time are set. A zero callCreatedAt means now. An attempt that already has
// a different call id is an error.
func (s *Store) CallCreated(ctx context.Context, attemptID int64, callID string, callCreatedAt time.Time, now time.Time) error {
	if callID == "" {
		return fmt.Errorf("record call of attempt %d: empty call id", attemptID)
	}
	if callCreatedAt.IsZero() {
		callCreatedAt = now
	}
	var stored string
	err := s.pool.QueryRow(ctx, `
		UPDATE attempt SET
			vapi_call_id = coalesce(vapi_call_id, $2),
			call_created_at = coalesce(call_created_at, $3),
			state = CASE WHEN state = $5 THEN $6 ELSE state END,
			updated_at = CASE WHEN state = $5 OR vapi_call_id IS NULL OR call_created_at IS NULL
			                  THEN $4 ELSE updated_at END
		WHERE id = $1
		RETURNING vapi_call_id`, attemptID, callID, callCreatedAt, now, AttemptCreating, AttemptCreated).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("record call of attempt %d: %w", attemptID, ErrAttemptNotFound)
	}
	if err != nil {
		return fmt.Errorf("record call of attempt %d: %w", attemptID, err)
	}
	if stored != callID {
		return fmt.Errorf("record call %s of attempt %d: the attempt already has call %s", callID, attemptID, stored)
	}
	return nil
}

// NotCreatedKind says why an attempt placed no call, which decides what happens to its contact.
type NotCreatedKind string

// Kinds of attempts that placed no call.
const (
	// NotCreatedCapacity: Vapi refused for lack of a concurrency slot. The attempt ends
	// not_created with outcome capacity and does not count (contact.attempts -= 1); the contact
	// goes back to pending with next_attempt_at = retryAt.
	NotCreatedCapacity NotCreatedKind = "capacity"
	// NotCreatedRetryable: surely not created (request never sent, 429, or looked up and
	// absent): as capacity, but outcome "" and error = detail.
	NotCreatedRetryable NotCreatedKind = "retryable"
	// NotCreatedPermanent: bad number, assistant or billing: the attempt ends not_created with
	// outcome failed_permanent and error = detail; the contact fails with outcome
	// failed_permanent.
	NotCreatedPermanent NotCreatedKind = "permanent"
)

// CallNotCreated ends an attempt that placed no call. callID may be "" (or the id of a call
// Vapi created already ended, e.g. concurrency-blocked), retryAt is ignored for permanent
// failures and a zero retryAt means "due at once". The attempt must be creating, created, or
// ended without a result; otherwise (already not_created, or its result recorded) nothing
// changes and the call returns nil.
func (s *Store) CallNotCreated(ctx context.Context, attemptID int64, kind NotCreatedKind, callID, detail string, retryAt, now time.Time) error {
	var outcome Outcome
	switch kind {
	case NotCreatedCapacity:
		outcome = OutcomeCapacity
	case NotCreatedRetryable:
		outcome = ""
	case NotCreatedPermanent:
		outcome = OutcomeFailedPermanent
	default:
		return fmt.Errorf("end attempt %d as not created: unknown kind %q", attemptID, kind)
	}
	var retry *time.Time
	if !retryAt.IsZero() {
		retry = &retryAt
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			state                 AttemptState
			reportAt              *time.Time
			contactID, campaignID int64
		)
		err := tx.QueryRow(ctx, `
			SELECT state, report_at, contact_id, campaign_id FROM attempt WHERE id = $1 FOR NO KEY UPDATE`,
			attemptID).Scan(&state, &reportAt, &contactID, &campaignID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrAttemptNotFound
		}
		if err != nil {
			return err
		}
		if state == AttemptNotCreated || reportAt != nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `
			UPDATE attempt SET state = $6, outcome = $2, error = $3,
				vapi_call_id = coalesce(vapi_call_id, nullif($4, '')), updated_at = $5
			WHERE id = $1`, attemptID, outcome, detail, callID, now, AttemptNotCreated); err != nil {
			return err
		}
		if kind == NotCreatedPermanent {
			if err := finishContact(ctx, tx, contactID, ContactFailed, OutcomeFailedPermanent, now); err != nil {
				return err
			}
			_, err := completeIfDone(ctx, tx, campaignID, now)
			return err
		}
		return uncountAttempt(ctx, tx, contactID, retry, now)
	})
	if err != nil {
		return fmt.Errorf("end attempt %d as not created (%s): %w", attemptID, kind, err)
	}
	return nil
}

// uncountAttempt puts an in_call contact back to pending at retry, its last attempt not counted;
// in a cancelled campaign the contact becomes cancelled. The contact is locked before the
// campaign's status is read, as in settleContact.
func uncountAttempt(ctx context.Context, tx pgx.Tx, contactID int64, retry *time.Time, now time.Time) error {
	if err := checkContactMove(ContactPending, ContactInCall); err != nil {
		return err
	}
	if err := checkContactMove(ContactCancelled, ContactInCall); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM contact WHERE id = $1 FOR NO KEY UPDATE`, contactID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		WITH cp AS (SELECT cp.status FROM campaign cp JOIN contact ct ON ct.campaign_id = cp.id WHERE ct.id = $1)
		UPDATE contact SET attempts = greatest(attempts - 1, 0), updated_at = $3,
			state = CASE WHEN (SELECT status FROM cp) = $4 THEN $5 ELSE $6 END,
			next_attempt_at = CASE WHEN (SELECT status FROM cp) = $4 THEN NULL ELSE $2::timestamptz END
		WHERE id = $1 AND state = $7`,
		contactID, retry, now, StatusCancelled, ContactCancelled, ContactPending, ContactInCall)
	return err
}

// finishContact gives a contact its outcome and, if it is in_call, the state to (a contact
// moved elsewhere meanwhile, e.g. cancelled, keeps its state: see noteOutcome).
func finishContact(ctx context.Context, tx pgx.Tx, contactID int64, to ContactState, outcome Outcome, now time.Time) error {
	if err := checkContactMove(to, ContactInCall); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		UPDATE contact SET state = CASE WHEN state = $5 THEN $2 ELSE state END,
			outcome = $3, updated_at = $4
		WHERE id = $1`, contactID, to, outcome, now, ContactInCall)
	return err
}

// noteOutcome gives a contact no longer in a call the outcome of its call; its state stays.
func noteOutcome(ctx context.Context, tx pgx.Tx, contactID int64, outcome Outcome, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE contact SET outcome = $2, updated_at = $3 WHERE id = $1`, contactID, outcome, now)
	return err
}

// CallResult is a call's outcome as Vapi reports it: an end-of-call report, or GET /call of an
// ended call.
type CallResult struct {
	// CallID and AttemptKey find the attempt: by call id, else by key (a webhook may beat the
	// stored id); when both are given they must name the same attempt.
	CallID, AttemptKey string
	// CampaignID is the campaign the result is for (the campaign a webhook authenticated for);
	// a result naming an attempt of another campaign is rejected. 0: any campaign.
	CampaignID         int64
	EndedReason        string
	StartedAt, EndedAt *time.Time
	// DurationSeconds is the length Vapi reported; nil: ApplyResult measures it from StartedAt
	// and EndedAt.
	DurationSeconds *float64
	Cost            *float64
	// CostBreakdown, Costs and StructuredData are stored as given (JSON); empty means none.
	CostBreakdown, Costs, StructuredData json.RawMessage

	Summary, SuccessEvaluation, Transcript, RecordingURL, StereoRecordingURL string
}

// measuredSeconds is EndedAt - StartedAt in seconds; nil unless both are set, in order.
func (r *CallResult) measuredSeconds() *float64 {
	if r.StartedAt == nil || r.EndedAt == nil || r.EndedAt.Before(*r.StartedAt) {
		return nil
	}
	s := r.EndedAt.Sub(*r.StartedAt).Seconds()
	return &s
}

// lockedAttempt is what the result and status paths need of the attempt they lock.
type lockedAttempt struct {
	id, contactID, campaignID int64
	state                     AttemptState
	reportAt                  *time.Time
	endedReason               string
	// callID ("" if none) and key, to match the event (matchEventAttempt).
	callID, key string
}

func jsonArg(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// ApplyResult records a call's final result, idempotently and in any order. The attempt, found
// by call id else by key and locked, must be one the result may change (see matchEventAttempt:
// of r.CampaignID when it is set, and named alike by call id and key), else nothing changes and
// the error is an *EventRejectedError. It gets state ended, report_at = now, outcome =
// ClassifyEndedReason(EndedReason) (the reason a status-update left when the result has none),
// and every field of r; a second result for the same attempt changes nothing (applied=false).
// Without a reported length, duration_seconds is EndedAt - StartedAt times the campaign's
// RetryTimeScale: a simulator stamps real times on calls that last TimeScale times longer.
//
// The contact: with outcome capacity it goes back to pending at now + CapacityRetryDelay, the
// attempt not counted; otherwise the campaign's retry policy and the conversation's follow-ups
// decide (settleContact): back to pending for a retry or callback, or a final state (completed,
// failed, do_not_call), the reason stored as the attempt's decision. If the campaign is running
// and no contact is left pending, queued or in_call, the campaign is completed (finished_at =
// now).
//
// A result for an attempt that was ended as not created (the call turned up after all) is
// recorded on the attempt, which stays not_created; its contact has moved on and is left alone.
func (s *Store) ApplyResult(ctx context.Context, r CallResult, now time.Time) (applied bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var touched map[int64]int
		applied, touched, err = applyResult(ctx, tx, r, now, nil)
		if err != nil {
			return err
		}
		return settleCampaigns(ctx, tx, touched, now)
	})
	if err != nil {
		return false, fmt.Errorf("apply result of call %q: %w", r.CallID, err)
	}
	return applied, nil
}

// applyResult is ApplyResult in tx, but for the campaigns to settle (settleCampaigns), which it
// returns: the attempt's own, and any whose contacts a do-not-call answer finished. applied is
// false when the attempt had its result already. held: see lockAttemptOfCall (nil: applied
// alone); with held, a result whose contact is not among them returns errApplyAlone.
func applyResult(ctx context.Context, tx pgx.Tx, r CallResult, now time.Time, held *heldLocks) (applied bool, touched map[int64]int, err error) {
	a, err := lockAttemptOfCall(ctx, tx, r.CallID, r.AttemptKey, r.CampaignID, held)
	if err != nil {
		return false, nil, err
	}
	if a.reportAt != nil {
		return false, nil, nil
	}
	if held != nil && !held.contacts[a.contactID] {
		// Matched since the contacts were locked (an earlier event of the batch gave the
		// attempt its call id): locking the contact now could close a cycle.
		return false, nil, errApplyAlone
	}
	reason := r.EndedReason
	if reason == "" {
		reason = a.endedReason
	}
	outcome := ClassifyEndedReason(reason)
	state := AttemptEnded
	if a.state == AttemptNotCreated {
		state = AttemptNotCreated
	}
	// The contact is settled first, so that the attempt's row is written once, with the decision.
	var (
		decision string
		settled  bool // the contact was settled (touched: the campaigns to settle)
	)
	switch {
	case a.state == AttemptNotCreated:
	case outcome == OutcomeCapacity:
		retry := now.Add(CapacityRetryDelay)
		err = uncountAttempt(ctx, tx, a.contactID, &retry, now)
	default:
		settled = true
		decision, touched, err = settleContact(ctx, tx, a, r.CallID, outcome, r.StructuredData, r.EndedAt, now, held == nil)
	}
	if err != nil {
		return false, nil, err
	}
	_, err = tx.Exec(ctx, `
		UPDATE attempt SET state = $2, report_at = $3, updated_at = $3, outcome = $4, ended_reason = $5,
			vapi_call_id = coalesce(vapi_call_id, nullif($6, '')),
			started_at = coalesce($7, started_at), ended_at = coalesce($8, ended_at),
			duration_seconds = coalesce($9, duration_seconds,
				$19 * (SELECT retry_time_scale FROM campaign WHERE id = attempt.campaign_id)),
			cost = coalesce($10, cost),
			cost_breakdown = coalesce($11::jsonb, cost_breakdown), costs = coalesce($12::jsonb, costs),
			structured_data = coalesce($13::jsonb, structured_data),
			summary = $14, success_evaluation = $15, transcript = $16, recording_url = $17,
			stereo_recording_url = $18, decision = $20
		WHERE id = $1`,
		a.id, state, now, outcome, reason, r.CallID, r.StartedAt, r.EndedAt, r.DurationSeconds, r.Cost,
		jsonArg(r.CostBreakdown), jsonArg(r.Costs), jsonArg(r.StructuredData), r.Summary,
		r.SuccessEvaluation, r.Transcript, r.RecordingURL, r.StereoRecordingURL, r.measuredSeconds(), decision)
	switch {
	case err != nil:
		return false, nil, err
	case !settled:
		return true, nil, nil
	}
	if touched == nil {
		touched = map[int64]int{}
	}
	touched[a.campaignID] += 0 // its own campaign, with the others in id order
	return true, touched, nil
}

// ApplyStatus notes a status-update of a call, found by call id else by attempt key, which must
// be an attempt the status may change (see matchEventAttempt: of campaignID when it is not 0, and
// named alike by call id and key), else nothing changes and the error is an
// *EventRejectedError. It sets last_status (an "ended" status is never replaced by a late
// earlier one) and stores the call id if the attempt had none. Status "ended" moves a creating
// or created attempt to ended, releasing its live slot, and records endedReason if the attempt
// has none, without setting report_at: the full result comes from the report or the
// reconciler. Unknown calls → ErrUnknownCall.
func (s *Store) ApplyStatus(ctx context.Context, campaignID int64, callID, attemptKey, status, endedReason string, now time.Time) error {
	st := CallStatus{CampaignID: campaignID, CallID: callID, AttemptKey: attemptKey, Status: status, EndedReason: endedReason}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return applyStatus(ctx, tx, st, now, nil) })
	if err != nil {
		return fmt.Errorf("apply status %q of call %q: %w", status, callID, err)
	}
	return nil
}

// CallStatus is a status-update of a call, as ApplyStatus takes it.
type CallStatus struct {
	// CampaignID is the campaign the status is for; 0: any.
	CampaignID int64
	// CallID and AttemptKey name the call ("" when absent).
	CallID, AttemptKey string
	// Status is the call's status; EndedReason why it ended, with status "ended".
	Status, EndedReason string
}

// applyStatus is ApplyStatus in tx; held: see lockAttemptOfCall (nil: applied alone).
func applyStatus(ctx context.Context, tx pgx.Tx, st CallStatus, now time.Time, held *heldLocks) error {
	a, err := lockAttemptOfCall(ctx, tx, st.CallID, st.AttemptKey, st.CampaignID, held)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		UPDATE attempt SET
			last_status = CASE WHEN last_status = $6 THEN last_status ELSE $3 END,
			state = CASE WHEN $3 = $6 AND state = ANY($7) THEN $8 ELSE state END,
			ended_reason = CASE WHEN $3 = $6 AND ended_reason = '' THEN $4 ELSE ended_reason END,
			vapi_call_id = coalesce(vapi_call_id, nullif($2, '')),
			updated_at = $5
		WHERE id = $1`, a.id, st.CallID, st.Status, st.EndedReason, now, callStatusEnded, liveAttemptStates(), AttemptEnded)
	return err
}

// staleAttemptsSQL is the query of StaleAttempts: attempts of campaign $4 (0: of every service
// campaign) without a result, in states $5 (created, ended) not updated since $1 or in state $6
// (creating) since before $2, up to $3. Its first line is the predicate of the partial index
// attempt_unreported_idx (see notCreatedSQL).
const staleAttemptsSQL = `SELECT ` + attemptColumns + attemptFrom + `
	WHERE a.report_at IS NULL AND a.state <> ` + notCreatedSQL + `
	  AND ($4 = 0 AND a.campaign_id IN (SELECT id FROM campaign WHERE mode = 'service')
	    OR a.campaign_id = $4)
	  AND ((a.state = ANY($5) AND a.updated_at < $1)
	    OR (a.state = $6 AND a.created_at < $2))
	ORDER BY CASE WHEN a.state = $6 THEN a.created_at ELSE a.updated_at END, a.id
	LIMIT $3`

// StaleAttempts returns the attempts the reconciler must look at: created or ended without a
// result (report_at NULL) and not updated since reportCutoff; and creating since before
// creatingCutoff (the dial job may have died between the journal and POST /call, or after an
// ambiguous failure). Longest-waiting first (by updated_at, or created_at for creating
// attempts), up to limit. campaignID limits them to one campaign; 0 means every campaign of
// ModeService (campaign serve's), since the others' calls belong to the process running them.
func (s *Store) StaleAttempts(ctx context.Context, campaignID int64, reportCutoff, creatingCutoff time.Time, limit int) ([]Attempt, error) {
	rows, err := s.pool.Query(ctx, staleAttemptsSQL, reportCutoff, creatingCutoff, limit, campaignID,
		[]AttemptState{AttemptCreated, AttemptEnded}, AttemptCreating)
	if err != nil {
		return nil, fmt.Errorf("list stale attempts: %w", err)
	}
	attempts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Attempt, error) {
		a, err := scanAttempt(row)
		if err != nil {
			return Attempt{}, err
		}
		return *a, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list stale attempts: %w", err)
	}
	return attempts, nil
}

// NoteLookup increments an attempt's lookups (and sets updated_at = now) after a lookup that
// found nothing, and returns the new count.
func (s *Store) NoteLookup(ctx context.Context, attemptID int64, now time.Time) (lookups int, err error) {
	err = s.pool.QueryRow(ctx, `
		UPDATE attempt SET lookups = lookups + 1, updated_at = $2 WHERE id = $1 RETURNING lookups`,
		attemptID, now).Scan(&lookups)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("note lookup of attempt %d: %w", attemptID, ErrAttemptNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("note lookup of attempt %d: %w", attemptID, err)
	}
	return lookups, nil
}
