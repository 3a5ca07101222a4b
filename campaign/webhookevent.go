package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrEventNotFound is returned (wrapped) when a webhook event looked up by id does not exist.
var ErrEventNotFound = errors.New("webhook event not found")

// WebhookEvent is a webhook request as it is stored, before it is applied.
type WebhookEvent struct {
	// Type is the message type; Status a status-update's status.
	Type, Status string
	// CallID and AttemptKey name the call ("" when absent).
	CallID, AttemptKey string
	// Auth is how the request was authenticated: campaign_secret, global_secret or hmac.
	Auth string
	// CampaignID is the campaign the event is for: the one whose secret authenticated it, or the
	// campaign_id of its metadata with the global secret or HMAC; 0: none.
	CampaignID int64
	// Payload is the request body, a JSON document.
	Payload []byte
	// ReceivedAt is when the request arrived.
	ReceivedAt time.Time
}

// saveEventSQL stores one webhook event raw, with its mark (see eventMark), and returns its id.
const saveEventSQL = `
	INSERT INTO webhook_event (received_at, type, vapi_call_id, attempt_key, status, auth, auth_campaign_id, payload,
		applied_at, apply_error, rejected)
	VALUES ($1, $2, $3, $4, $5, $6, nullif($7, 0), $8::jsonb, $9, $10, $11) RETURNING id`

// eventMark is what became of a stored event: applied at appliedAt (nil: not applied yet) with
// note (its apply_error), or rejected with a reason.
type eventMark struct {
	appliedAt      *time.Time
	note, rejected string
}

// saveEventArgs are saveEventSQL's arguments for e marked m.
func saveEventArgs(e *WebhookEvent, m eventMark) []any {
	return []any{e.ReceivedAt, e.Type, e.CallID, e.AttemptKey, e.Status, e.Auth, e.CampaignID, string(e.Payload),
		m.appliedAt, m.note, m.rejected}
}

// SaveEvent stores a webhook event raw, before it is applied, and returns its id.
func (s *Store) SaveEvent(ctx context.Context, e WebhookEvent) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, saveEventSQL, saveEventArgs(&e, eventMark{})...).Scan(&id); err != nil {
		return 0, fmt.Errorf("save webhook event %q: %w", e.Type, err)
	}
	return id, nil
}

// markEventRejectedSQL and markEventAppliedSQL record what became of stored event $1.
const (
	markEventRejectedSQL = `UPDATE webhook_event SET rejected = $2 WHERE id = $1`
	markEventAppliedSQL  = `UPDATE webhook_event SET applied_at = $2, apply_error = $3 WHERE id = $1`
)

// markEvent runs one of the mark…SQL statements on event id through exec (the pool or a
// transaction); what names the change in the error.
func markEvent(ctx context.Context, exec func(context.Context, string, ...any) (pgconn.CommandTag, error),
	what, sql string, id int64, args ...any) error {
	tag, err := exec(ctx, sql, append([]any{id}, args...)...)
	if err != nil {
		return fmt.Errorf("mark webhook event %d %s: %w", id, what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("mark webhook event %d %s: %w", id, what, ErrEventNotFound)
	}
	return nil
}

// MarkEventRejected records why a stored webhook event is never applied (see
// EventRejectedError); its applied_at stays NULL.
func (s *Store) MarkEventRejected(ctx context.Context, id int64, reason string) error {
	return markEvent(ctx, s.pool.Exec, "rejected", markEventRejectedSQL, id, reason)
}

// MarkEventApplied records that a stored webhook event was applied at now; applyErr is the
// error it met ("" if none).
func (s *Store) MarkEventApplied(ctx context.Context, id int64, applyErr string, now time.Time) error {
	return markEvent(ctx, s.pool.Exec, "applied", markEventAppliedSQL, id, now, applyErr)
}

// EventChange is what a stored webhook event asks of its call's attempt: a result (an
// end-of-call report) or a status (a status-update), at most one of them; neither for a type
// that is kept and not applied.
type EventChange struct {
	Result *CallResult
	Status *CallStatus
}

// UnknownCallNote is the apply_error of an event about a call no attempt matches
// (ErrUnknownCall): kept, not applied, and not an error.
const UnknownCallNote = "unknown call"

// ApplyEvent applies the change of stored webhook event id (see ApplyResult and ApplyStatus) and
// marks the event, in one transaction, so that an event is marked applied exactly when its change
// is committed:
//
//   - applied, or nothing to apply (a result recorded before, another type): marked applied at
//     now; applied says whether a result was recorded now, for the first time;
//   - about a call no attempt matches (ErrUnknownCall): marked applied with UnknownCallNote, and
//     not an error (it is kept, as for a call placed by someone else);
//   - rejected (*EventRejectedError, returned): marked rejected with the reason, nothing changed;
//   - any other error: nothing of the change is kept, the event is marked applied with the error
//     in a transaction of its own, and the error is returned, so that the sender delivers the
//     event again.
func (s *Store) ApplyEvent(ctx context.Context, id int64, ch EventChange, now time.Time) (applied bool, err error) {
	var rejected *EventRejectedError
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		applied, rejected = false, nil
		var applyErr error
		var touched map[int64]int
		applied, touched, applyErr = applyChange(ctx, tx, ch, now, nil)
		if applyErr == nil {
			applyErr = settleCampaigns(ctx, tx, touched, now)
		}
		// ErrUnknownCall and a rejection come from lockAttemptOfCall, before anything is
		// written: the transaction can still mark the event. Any other error rolls it back.
		note := ""
		if r, ok := errors.AsType[*EventRejectedError](applyErr); ok {
			rejected = r
			return markEvent(ctx, tx.Exec, "rejected", markEventRejectedSQL, id, r.Reason)
		}
		switch {
		case errors.Is(applyErr, ErrUnknownCall):
			note = UnknownCallNote
		case applyErr != nil:
			return &applyError{err: applyErr}
		}
		return markEvent(ctx, tx.Exec, "applied", markEventAppliedSQL, id, now, note)
	})
	if ae, ok := errors.AsType[*applyError](err); ok {
		applyErr := fmt.Errorf("apply webhook event %d: %w", id, ae.err)
		return false, errors.Join(applyErr, s.MarkEventApplied(ctx, id, applyErr.Error(), now))
	}
	if err != nil {
		return false, fmt.Errorf("apply webhook event %d: %w", id, err)
	}
	if rejected != nil {
		return false, rejected
	}
	return applied, nil
}

// applyChange applies ch in tx (applyResult or applyStatus) and returns the campaigns to settle
// (settleCampaigns); held: the rows locked before a batch of events is applied (see
// lockAttemptOfCall), nil when ch is applied alone.
func applyChange(ctx context.Context, tx pgx.Tx, ch EventChange, now time.Time, held *heldLocks) (applied bool, touched map[int64]int, err error) {
	switch {
	case ch.Result != nil:
		return applyResult(ctx, tx, *ch.Result, now, held)
	case ch.Status != nil:
		return false, nil, applyStatus(ctx, tx, *ch.Status, now, held)
	}
	return false, nil, nil
}

// applyError is an error of an event's change, as opposed to one of marking it: ApplyEvent marks
// the event with it after the rollback.
type applyError struct{ err error }

func (e *applyError) Error() string { return e.err.Error() }

// errApplyAlone: an event must be applied in a transaction of its own, as it would lock rows out
// of a batch's lock order (see settleContact and lockAttemptOfCall).
var errApplyAlone = errors.New("the event must be applied alone")

// RecordedEvent is a webhook event to store and apply (RecordEvents): the raw event and the
// change it asks for.
type RecordedEvent struct {
	Event  WebhookEvent
	Change EventChange
}

// EventRecord is what RecordEvents did with one event.
type EventRecord struct {
	// ID is the stored event's id.
	ID int64
	// Applied: a result was recorded now, for the first time.
	Applied bool
	// Rejected is set when the event was stored, marked rejected and not applied.
	Rejected *EventRejectedError
	// Alone: the event is stored but not applied: the caller applies it with ApplyEvent, in a
	// transaction of its own (a do-not-call answer or a campaign's deadline, which lock rows out
	// of this transaction's order, or an error met while applying it with the others).
	Alone bool
}

// RecordEvents stores webhook events raw and applies them, all in one transaction, so that
// requests waiting at once share one commit (group commit); nothing is stored when it fails.
// First the attempts any of them names are locked, in id order, and the contacts of those that
// results will settle, in id order (the lock order of campaign/dispatch.go: attempts, then
// contacts), and no other attempt or contact row is locked after that. Then each event is
// applied in order, in a savepoint of its own, as ApplyEvent would (two events of one call see
// each other, as one after the other), except that their campaigns are settled once for all at
// the end, so the campaign rows are locked last, in id order, once, and for the commit only. An
// event whose change fails, or would lock rows out of that order (see settleContact; or one that
// matches an attempt or contact not locked up front: a call id recorded, by another transaction
// or by an earlier event of the batch, after the locks were taken, see lockAttemptOfCall), is
// rolled back to its savepoint and left for the caller to apply alone (EventRecord.Alone). Then
// the raw events are inserted, in one round trip, each already marked as ApplyEvent would mark
// it (an event left alone unmarked): each row is written once, with no second version to log
// and vacuum. It returns one record per event, in order.
func (s *Store) RecordEvents(ctx context.Context, events []RecordedEvent, now time.Time) ([]EventRecord, error) {
	records := make([]EventRecord, len(events))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		clear(records)
		held, err := lockEventRows(ctx, tx, events)
		if err != nil {
			return err
		}
		touched := map[int64]int{}
		batch := &pgx.Batch{}
		for i, e := range events {
			rec := &records[i]
			note, err := applyInSavepoint(ctx, tx, e.Change, now, held, rec, touched)
			if err != nil {
				return err
			}
			var mark eventMark
			switch {
			case rec.Alone:
			case rec.Rejected != nil:
				mark.rejected = rec.Rejected.Reason
			default:
				mark.appliedAt, mark.note = &now, note
			}
			batch.Queue(saveEventSQL, saveEventArgs(&events[i].Event, mark)...).QueryRow(func(row pgx.Row) error {
				return row.Scan(&rec.ID)
			})
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		return settleCampaigns(ctx, tx, touched, now)
	})
	if err != nil {
		return nil, fmt.Errorf("record %d webhook events: %w", len(events), err)
	}
	return records, nil
}

// applyInSavepoint applies ch in a savepoint of tx, which holds the locks held, filling rec, and
// adds the campaigns to settle to touched; it returns the event's note (UnknownCallNote or "").
// A change that fails or must be applied alone is rolled back to the savepoint and rec.Alone
// set; the error returned is the savepoint's own.
func applyInSavepoint(ctx context.Context, tx pgx.Tx, ch EventChange, now time.Time, held *heldLocks, rec *EventRecord, touched map[int64]int) (string, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return "", err
	}
	applied, settle, applyErr := applyChange(ctx, sp, ch, now, held)
	if r, ok := errors.AsType[*EventRejectedError](applyErr); ok {
		rec.Rejected = r
		return "", sp.Commit(ctx)
	}
	note := ""
	switch {
	case errors.Is(applyErr, ErrUnknownCall):
		note = UnknownCallNote
	case applyErr != nil:
		rec.Alone = true
		return "", sp.Rollback(ctx)
	}
	rec.Applied = applied
	for id, n := range settle {
		touched[id] += n
	}
	return note, sp.Commit(ctx)
}

// lockEventRows locks the attempts the events name (by call id or attempt key), in id order,
// then the contacts of the attempts their results will settle, in id order, and returns them:
// before any event is applied, so that applying them one after the other, each restricted to
// these rows (see lockAttemptOfCall), takes no attempt or contact lock after another contact's.
func lockEventRows(ctx context.Context, tx pgx.Tx, events []RecordedEvent) (*heldLocks, error) {
	held := &heldLocks{attempts: map[int64]bool{}, contacts: map[int64]bool{}}
	var callIDs, keys []string
	for _, e := range events {
		callID, key := e.Change.call()
		if callID != "" {
			callIDs = append(callIDs, callID)
		}
		if key != "" {
			keys = append(keys, key)
		}
	}
	if len(callIDs) == 0 && len(keys) == 0 {
		return held, nil
	}
	rows, err := tx.Query(ctx, lockedAttemptSQL+`
		WHERE vapi_call_id = ANY($1) OR key = ANY($2)
		ORDER BY id FOR NO KEY UPDATE`, callIDs, keys)
	if err != nil {
		return nil, err
	}
	locked, err := collectLockedAttempts(rows)
	if err != nil {
		return nil, err
	}
	for _, a := range locked {
		held.attempts[a.id] = true
	}
	var contacts []int64
	for _, e := range events {
		if e.Change.Result == nil {
			continue
		}
		r := e.Change.Result
		var candidates []lockedAttempt
		for _, a := range locked {
			if (r.CallID != "" && a.callID == r.CallID) || (r.AttemptKey != "" && a.key == r.AttemptKey) {
				candidates = append(candidates, a)
			}
		}
		if i, err := matchEventAttempt(candidates, r.CallID, r.AttemptKey, r.CampaignID); err == nil {
			contacts = append(contacts, candidates[i].contactID)
			held.contacts[candidates[i].contactID] = true
		}
	}
	if len(contacts) == 0 {
		return held, nil
	}
	if _, err = tx.Exec(ctx, `SELECT 1 FROM contact WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, contacts); err != nil {
		return nil, err
	}
	return held, nil
}

// call is the call id and attempt key a change names ("" when absent, or for no change).
func (ch EventChange) call() (callID, key string) {
	switch {
	case ch.Result != nil:
		return ch.Result.CallID, ch.Result.AttemptKey
	case ch.Status != nil:
		return ch.Status.CallID, ch.Status.AttemptKey
	}
	return "", ""
}
