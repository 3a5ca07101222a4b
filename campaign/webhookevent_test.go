package campaign_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// liveCalls sets up a running campaign of n contacts, each in a call whose id is stored:
// call-0, call-1, …
func liveCalls(t *testing.T, opts setupOpts) (*testBundle, []*campaign.Attempt) {
	t.Helper()
	b, as := dialedWith(t, opts)
	for i, a := range as {
		require.NoError(t, b.store.CallCreated(b.ctx, a.ID, fmt.Sprintf("call-%d", i), t0, t0))
	}
	return b, as
}

// reportEvent is the end-of-call report of call i of the campaign, ended for reason.
func (b *testBundle) reportEvent(i int, reason string) campaign.RecordedEvent {
	callID := fmt.Sprintf("call-%d", i)
	return campaign.RecordedEvent{
		Event: campaign.WebhookEvent{Type: "end-of-call-report", CallID: callID, Auth: "campaign_secret",
			CampaignID: b.camp.ID, Payload: []byte(`{"message": {"type": "end-of-call-report"}}`), ReceivedAt: t0},
		Change: campaign.EventChange{Result: &campaign.CallResult{CallID: callID, CampaignID: b.camp.ID, EndedReason: reason}},
	}
}

// statusEvent is the status-update "ended" of call i of the campaign.
func (b *testBundle) statusEvent(i int) campaign.RecordedEvent {
	callID := fmt.Sprintf("call-%d", i)
	return campaign.RecordedEvent{
		Event: campaign.WebhookEvent{Type: "status-update", Status: "ended", CallID: callID, Auth: "campaign_secret",
			CampaignID: b.camp.ID, Payload: []byte(`{"message": {"type": "status-update"}}`), ReceivedAt: t0},
		Change: campaign.EventChange{Status: &campaign.CallStatus{CallID: callID, CampaignID: b.camp.ID,
			Status: "ended", EndedReason: "customer-busy"}},
	}
}

// storedEvent is what the database holds of event id.
type storedEvent struct {
	applied              bool
	applyError, rejected string
}

func (b *testBundle) storedEvent(t *testing.T, id int64) storedEvent {
	t.Helper()
	var e storedEvent
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT applied_at IS NOT NULL, apply_error, rejected FROM webhook_event WHERE id = $1`, id).
		Scan(&e.applied, &e.applyError, &e.rejected))
	return e
}

// TestRecordEventsInOneBatch: events recorded together in one transaction are each stored and
// applied as they would be one after the other: a duplicate report changes nothing, a
// status-update and the report of one call come out the same in either order, an unknown call
// is kept and marked, an event for another campaign's call is rejected, another type is kept,
// and a report whose change fails is stored and left to be applied alone, without failing the
// others. The campaign is settled in the batch: it completes with its last result.
func TestRecordEventsInOneBatch(t *testing.T) {
	t.Parallel()
	b, as := liveCalls(t, setupOpts{contacts: 4, maxConcurrent: 4})
	otherCampaign := b.reportEvent(3, "customer-ended-call")
	otherCampaign.Change.Result.CampaignID = b.camp.ID + 1000
	broken := b.reportEvent(3, "customer-ended-call")
	broken.Change.Result.StructuredData = json.RawMessage(`{"not json`)
	unknown := b.reportEvent(99, "customer-busy")
	transcript := campaign.RecordedEvent{Event: campaign.WebhookEvent{Type: "transcript", CallID: "call-0",
		Payload: []byte(`{"message": {"type": "transcript"}}`), ReceivedAt: t0}}
	events := []campaign.RecordedEvent{
		b.reportEvent(0, "customer-busy"), b.reportEvent(0, "customer-busy"), // a duplicate
		b.statusEvent(1), b.reportEvent(1, "customer-ended-call"), // status first
		b.reportEvent(2, "customer-ended-call"), b.statusEvent(2), // report first
		unknown, otherCampaign, transcript, broken,
	}
	now := t0.Add(time.Minute)
	records, err := b.store.RecordEvents(b.ctx, events, now)
	require.NoError(t, err)
	require.Len(t, records, len(events))
	applied := []bool{true, false, false, true, true, false, false, false, false, false}
	for i, rec := range records {
		require.NotZero(t, rec.ID, "event %d", i)
		require.Equal(t, applied[i], rec.Applied, "event %d", i)
		require.Equal(t, i == 9, rec.Alone, "event %d", i)
		require.Equal(t, i == 7, rec.Rejected != nil, "event %d", i)
		got := b.storedEvent(t, rec.ID)
		require.Equal(t, i != 7 && i != 9, got.applied, "event %d applied", i)
		if i == 6 {
			require.Equal(t, campaign.UnknownCallNote, got.applyError)
		} else {
			require.Empty(t, got.applyError, "event %d", i)
		}
		require.Equal(t, i == 7, got.rejected != "", "event %d rejected", i)
	}

	for i, want := range []campaign.Outcome{campaign.OutcomeBusy, campaign.OutcomeCompleted, campaign.OutcomeCompleted} {
		a := b.attempt(t, as[i].ID)
		require.Equal(t, campaign.AttemptEnded, a.State, "attempt %d", i)
		require.Equal(t, want, a.Outcome, "attempt %d", i)
		requireTime(t, now, a.ReportAt, "attempt %d", i)
		if i > 0 {
			require.Equal(t, "ended", a.LastStatus, "attempt %d", i)
		}
		require.NotEqual(t, campaign.ContactInCall, b.contact(t, as[i].ContactID).State, "contact %d", i)
	}
	require.Nil(t, b.attempt(t, as[3].ID).ReportAt, "the broken report applied nothing")
	require.Equal(t, campaign.ContactInCall, b.contact(t, as[3].ContactID).State)

	// Applied alone, the broken report fails and is marked with its error.
	_, err = b.store.ApplyEvent(b.ctx, records[9].ID, broken.Change, now)
	require.Error(t, err)
	require.Contains(t, b.storedEvent(t, records[9].ID).applyError, "invalid input syntax for type json")

	// The last result completes the campaign, in the batch that records it.
	records, err = b.store.RecordEvents(b.ctx, []campaign.RecordedEvent{b.reportEvent(3, "customer-ended-call")}, now)
	require.NoError(t, err)
	require.True(t, records[0].Applied)
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, c.Status)
}

// TestRecordEventsLeavesDoNotCallAlone: a report whose answer adds the number to the
// suppression list, which locks rows out of a batch's lock order, is stored in the batch but left
// to be applied alone; applied so, it stops the contact and lists the number.
func TestRecordEventsLeavesDoNotCallAlone(t *testing.T) {
	t.Parallel()
	b, as := liveCalls(t, setupOpts{contacts: 2, maxConcurrent: 2})
	b.setPacing(t, campaign.Pacing{DoNotCallKey: ptr("opt_out")})
	optOut := b.reportEvent(0, "customer-ended-call")
	optOut.Change.Result.StructuredData = json.RawMessage(`{"opt_out": true}`)
	now := t0.Add(time.Minute)
	records, err := b.store.RecordEvents(b.ctx, []campaign.RecordedEvent{optOut, b.reportEvent(1, "customer-busy")}, now)
	require.NoError(t, err)
	require.True(t, records[0].Alone)
	require.False(t, records[0].Applied)
	require.False(t, b.storedEvent(t, records[0].ID).applied)
	require.Nil(t, b.attempt(t, as[0].ID).ReportAt)
	require.True(t, records[1].Applied)

	applied, err := b.store.ApplyEvent(b.ctx, records[0].ID, optOut.Change, now)
	require.NoError(t, err)
	require.True(t, applied)
	require.True(t, b.storedEvent(t, records[0].ID).applied)
	require.Equal(t, campaign.ContactDoNotCall, b.contact(t, as[0].ContactID).State)
	var listed bool
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT EXISTS (SELECT FROM suppression WHERE vapi_call_id = 'call-0')`).Scan(&listed))
	require.True(t, listed)
}

// TestRecordEventsRefusedTogether: an event the database cannot store (a NUL character, which
// jsonb refuses) fails its whole batch, and nothing of the batch is stored or applied.
func TestRecordEventsRefusedTogether(t *testing.T) {
	t.Parallel()
	b, as := liveCalls(t, setupOpts{contacts: 2, maxConcurrent: 2})
	poison := b.reportEvent(1, "customer-busy")
	poison.Event.Payload = []byte(`{"message": {"type": "end-of-call-report", "summary": "\u0000"}}`)
	_, err := b.store.RecordEvents(b.ctx, []campaign.RecordedEvent{b.reportEvent(0, "customer-busy"), poison}, t0)
	require.Error(t, err)
	var events int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM webhook_event`).Scan(&events))
	require.Zero(t, events)
	require.Nil(t, b.attempt(t, as[0].ID).ReportAt)
}

// TestRecordEventsInLockOrder: a batch locks every attempt its events name before any contact.
// A transaction that follows the lock order holds the second event's attempt and then wants the
// first event's contact: the batch must wait for that attempt holding no contact (applying the
// first event whole before locking the second one's attempt would close a cycle: 40P01).
func TestRecordEventsInLockOrder(t *testing.T) {
	b, as := liveCalls(t, setupOpts{contacts: 2, maxConcurrent: 2})
	tx, pid := b.lockingTx(t)
	lock(t, b, tx, `SELECT 1 FROM attempt WHERE id = $1 FOR NO KEY UPDATE`, as[1].ID)
	recorded := b.whileBlocked(t, pid, func() error {
		_, err := b.store.RecordEvents(b.ctx, []campaign.RecordedEvent{b.reportEvent(0, "customer-busy"),
			b.reportEvent(1, "customer-busy")}, t0)
		return err
	})
	lock(t, b, tx, `SELECT 1 FROM contact WHERE id = $1 FOR NO KEY UPDATE`, as[0].ContactID)
	require.NoError(t, tx.Commit(b.ctx))
	require.NoError(t, <-recorded)
	require.NotNil(t, b.attempt(t, as[0].ID).ReportAt)
	require.NotNil(t, b.attempt(t, as[1].ID).ReportAt)
}

// TestRecordEventsLateMatchAlone: a result naming only a call id whose attempt was journaled
// (its call id recorded) after the batch took its locks is left to be applied alone, without the
// batch locking that attempt after its contacts. The batch waits for the test's lock on the first
// event's contact, with its attempts locked; meanwhile the call id of the second event's attempt
// is recorded and a transaction that follows the lock order locks that attempt (and could then
// want the first contact: a cycle). The batch must commit without waiting for that transaction.
func TestRecordEventsLateMatchAlone(t *testing.T) {
	b, as := dialedWith(t, setupOpts{contacts: 2, maxConcurrent: 2})
	require.NoError(t, b.store.CallCreated(b.ctx, as[0].ID, "call-0", t0, t0))
	contactTx, contactPid := b.lockingTx(t)
	lock(t, b, contactTx, `SELECT 1 FROM contact WHERE id = $1 FOR NO KEY UPDATE`, as[0].ContactID)
	late := b.reportEvent(1, "customer-busy") // names call-1 only
	var records []campaign.EventRecord
	recorded := b.whileBlocked(t, contactPid, func() error {
		var err error
		records, err = b.store.RecordEvents(b.ctx, []campaign.RecordedEvent{b.reportEvent(0, "customer-busy"), late}, t0)
		return err
	})
	require.NoError(t, b.store.CallCreated(b.ctx, as[1].ID, "call-1", t0, t0))
	attemptTx, attemptPid := b.lockingTx(t)
	lock(t, b, attemptTx, `SELECT 1 FROM attempt WHERE id = $1 FOR NO KEY UPDATE`, as[1].ID)
	require.NoError(t, contactTx.Commit(b.ctx))

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case err := <-recorded:
			require.NoError(t, err)
			done = true
		case <-tick.C:
			require.False(t, b.blockedBy(t, attemptPid), "the batch waits for the late-matched attempt, holding a contact")
		case <-deadline:
			require.FailNow(t, "the batch neither finished nor waited")
		}
	}
	lock(t, b, attemptTx, `SELECT 1 FROM contact WHERE id = $1 FOR NO KEY UPDATE`, as[0].ContactID)
	require.NoError(t, attemptTx.Commit(b.ctx))

	require.True(t, records[0].Applied)
	require.True(t, records[1].Alone)
	require.False(t, b.storedEvent(t, records[1].ID).applied)
	require.Nil(t, b.attempt(t, as[1].ID).ReportAt)
	applied, err := b.store.ApplyEvent(b.ctx, records[1].ID, late.Change, t0)
	require.NoError(t, err)
	require.True(t, applied)
	require.Equal(t, campaign.OutcomeBusy, b.attempt(t, as[1].ID).Outcome)
}

// TestRecordEventsMatchedInBatchAlone: a status-update that gives its attempt (found by key) a
// call id matches, for a later result of the batch naming only that call id, an attempt whose
// contact was not locked up front; that result is left to be applied alone rather than lock the
// contact after the others.
func TestRecordEventsMatchedInBatchAlone(t *testing.T) {
	t.Parallel()
	b, as := dialedWith(t, setupOpts{contacts: 1, maxConcurrent: 1})
	status := b.statusEvent(0)
	status.Change.Status.AttemptKey = as[0].Key
	status.Change.Status.Status = "in-progress"
	result := b.reportEvent(0, "customer-busy")
	records, err := b.store.RecordEvents(b.ctx, []campaign.RecordedEvent{status, result}, t0)
	require.NoError(t, err)
	require.False(t, records[0].Alone)
	require.Equal(t, "call-0", b.attempt(t, as[0].ID).VapiCallID)
	require.True(t, records[1].Alone)
	require.Nil(t, b.attempt(t, as[0].ID).ReportAt)
	applied, err := b.store.ApplyEvent(b.ctx, records[1].ID, result.Change, t0)
	require.NoError(t, err)
	require.True(t, applied)
}
