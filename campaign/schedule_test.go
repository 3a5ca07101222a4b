package campaign_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// schedule sets b's campaign's start and end through SetPacing (nil: unchanged) and checks they
// read back.
func (b *testBundle) schedule(t *testing.T, startAt, endBy *time.Time) *campaign.Campaign {
	t.Helper()
	b.setPacing(t, campaign.Pacing{StartAt: startAt, EndBy: endBy})
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	for _, p := range []struct{ set, got *time.Time }{{startAt, c.StartAt}, {endBy, c.EndBy}} {
		switch {
		case p.set == nil:
		case p.set.IsZero():
			require.Nil(t, p.got)
		default:
			requireTime(t, *p.set, p.got)
		}
	}
	return c
}

func TestScheduledCampaignStartsOnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{status: campaign.StatusDraft, mode: campaign.ModeService})
	start := t0.Add(time.Hour)
	b.schedule(t, &start, nil)

	require.NoError(t, b.store.Start(b.ctx, b.camp.ID, t0))
	require.Equal(t, campaign.StatusScheduled, b.status(t))
	var startedAt *time.Time
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT started_at FROM campaign WHERE id = $1`, b.camp.ID).Scan(&startedAt))
	require.Nil(t, startedAt, "a scheduled campaign has not started")
	list, err := b.store.LiveCalls(b.ctx, time.Time{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.True(t, list[0].Scheduled, "what campaign_scheduled shows")

	// Nothing dials a scheduled campaign, and the hopper queues nothing.
	b.queue(t, b.contacts[0])
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[0], t0)
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNotRunning, g.Refusal)
	require.Equal(t, campaign.ContactPending, b.contact(t, b.contacts[0]).State)
	n, err := b.store.QueueDue(b.ctx, b.camp.ID, t0, 10, func(*campaign.Contact) campaign.Decision {
		return campaign.Decision{Queue: true}
	}, func(context.Context, pgx.Tx, []int64) error { return nil })
	require.NoError(t, err)
	require.Zero(t, n)

	// Before its start, and for another mode, nothing starts.
	ids, err := b.store.StartScheduled(b.ctx, campaign.ModeService, 0, start.Add(-time.Second))
	require.NoError(t, err)
	require.Empty(t, ids)
	ids, err = b.store.StartScheduled(b.ctx, campaign.ModeForeground, 0, start)
	require.NoError(t, err)
	require.Empty(t, ids)

	// At its start, several processes try at once: exactly one starts it.
	const starters = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		started []int64
	)
	for range starters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids, err := b.store.StartScheduled(b.ctx, campaign.ModeService, 0, start)
			require.NoError(t, err)
			mu.Lock()
			started = append(started, ids...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, []int64{b.camp.ID}, started)
	require.Equal(t, campaign.StatusRunning, b.status(t))
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT started_at FROM campaign WHERE id = $1`, b.camp.ID).Scan(&startedAt))
	requireTime(t, start, startedAt)
	b.queue(t, b.contacts[1])
	b.grant(t, b.contacts[1], start)
}

func TestScheduledCampaignResumeCancelAndSet(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{status: campaign.StatusDraft})
	start := t0.Add(time.Hour)
	b.schedule(t, &start, nil)
	require.NoError(t, b.store.Start(b.ctx, b.camp.ID, t0))
	require.Equal(t, campaign.StatusScheduled, b.status(t))

	// A resume before the start keeps it scheduled; so does a resume of it once cancelled.
	_, err := b.store.Resume(b.ctx, b.camp.ID, campaign.ResumeOptions{}, t0)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusScheduled, b.status(t))
	require.ErrorIs(t, b.store.Pause(b.ctx, b.camp.ID, t0), campaign.ErrWrongStatus)
	cancelled, err := b.store.Cancel(b.ctx, b.camp.ID, t0)
	require.NoError(t, err)
	require.Equal(t, 3, cancelled)
	require.Equal(t, campaign.StatusCancelled, b.status(t))
	back, err := b.store.Resume(b.ctx, b.camp.ID, campaign.ResumeOptions{}, t0)
	require.NoError(t, err)
	require.Equal(t, 3, back)
	require.Equal(t, campaign.StatusScheduled, b.status(t))

	// Removing the start lets the next StartScheduled start it, whatever the time.
	b.schedule(t, &time.Time{}, nil)
	ids, err := b.store.StartScheduled(b.ctx, "", b.camp.ID, t0)
	require.NoError(t, err)
	require.Equal(t, []int64{b.camp.ID}, ids)
	require.Equal(t, campaign.StatusRunning, b.status(t))

	// A start moved ahead on a paused campaign leaves it paused (TestPostponeRunningCampaign has
	// the running one); resumed before its start it waits scheduled; after it, runs.
	require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0))
	b.schedule(t, &start, nil)
	require.Equal(t, campaign.StatusPaused, b.status(t))
	_, err = b.store.Resume(b.ctx, b.camp.ID, campaign.ResumeOptions{}, t0)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusScheduled, b.status(t))
	cancelled, err = b.store.Cancel(b.ctx, b.camp.ID, t0)
	require.NoError(t, err)
	require.Equal(t, 3, cancelled)
	_, err = b.store.Resume(b.ctx, b.camp.ID, campaign.ResumeOptions{}, start)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, b.status(t))
}

// TestPostponeRunningCampaign: a start moved ahead on a running campaign (campaign set
// --start-at) makes it scheduled: no dial is begun and nothing is queued till then, a queued
// contact goes back to pending, the call in flight finishes, and StartScheduled runs it again at
// the new start. A start set in the past leaves a running campaign running.
func TestPostponeRunningCampaign(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 3, maxConcurrent: 2})
	b.queue(t, b.contacts[0], b.contacts[1])
	inFlight := b.grant(t, b.contacts[0], t0)

	past := t0.Add(-time.Hour)
	b.schedule(t, &past, nil)
	require.Equal(t, campaign.StatusRunning, b.status(t), "a start already come changes nothing")

	start := t0.Add(time.Hour)
	b.schedule(t, &start, nil)
	require.Equal(t, campaign.StatusScheduled, b.status(t))

	g, err := b.store.BeginAttempt(b.ctx, b.contacts[1], t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNotRunning, g.Refusal)
	require.Equal(t, campaign.ContactPending, b.contact(t, b.contacts[1]).State)
	queueAll := func(now time.Time) int {
		n, err := b.store.QueueDue(b.ctx, b.camp.ID, now, 10, func(*campaign.Contact) campaign.Decision {
			return campaign.Decision{Queue: true}
		}, func(context.Context, pgx.Tx, []int64) error { return nil })
		require.NoError(t, err)
		return n
	}
	require.Zero(t, queueAll(t0.Add(time.Second)))

	// The call in flight ends and is recorded; the campaign still waits for its start.
	require.NoError(t, b.store.CallCreated(b.ctx, inFlight.ID, "call-postponed", t0, t0))
	ended := t0.Add(time.Minute)
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: "call-postponed",
		EndedReason: "customer-ended-call", EndedAt: &ended}, ended)
	require.NoError(t, err)
	require.True(t, applied)
	require.True(t, b.contact(t, b.contacts[0]).State.Final())
	require.Equal(t, campaign.StatusScheduled, b.status(t))

	ids, err := b.store.StartScheduled(b.ctx, "", b.camp.ID, start.Add(-time.Second))
	require.NoError(t, err)
	require.Empty(t, ids)
	ids, err = b.store.StartScheduled(b.ctx, "", b.camp.ID, start)
	require.NoError(t, err)
	require.Equal(t, []int64{b.camp.ID}, ids)
	require.Equal(t, campaign.StatusRunning, b.status(t))
	require.Equal(t, 2, queueAll(start))
	b.grant(t, b.contacts[1], start)

	// A dial never trusts the status alone: a campaign marked running while its start is ahead
	// (a process whose clock is behind started it) begins no call, and nothing is queued.
	later := start.Add(time.Hour)
	_, err = b.pool.Exec(b.ctx, `UPDATE campaign SET start_at = $2 WHERE id = $1`, b.camp.ID, later)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, b.status(t))
	g, err = b.store.BeginAttempt(b.ctx, b.contacts[2], start.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNotRunning, g.Refusal)
	require.Equal(t, campaign.ContactPending, b.contact(t, b.contacts[2]).State)
	require.Zero(t, queueAll(start.Add(time.Second)))
	b.queue(t, b.contacts[2])
	b.grant(t, b.contacts[2], later)
}

func TestSetScheduleChecksTheEndComesAfterTheStart(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{status: campaign.StatusDraft})
	start, end := t0.Add(time.Hour), t0.Add(3*time.Hour)
	b.schedule(t, &start, &end)

	// An end before (or at) the start, set alone or together, is refused, and nothing changes.
	early := start.Add(-time.Minute)
	require.ErrorIs(t, b.store.SetPacing(b.ctx, b.camp.ID, campaign.Pacing{EndBy: &early}, t0), campaign.ErrBadSchedule)
	late := end
	require.ErrorIs(t, b.store.SetPacing(b.ctx, b.camp.ID, campaign.Pacing{StartAt: &late}, t0), campaign.ErrBadSchedule)
	c := b.schedule(t, nil, nil)
	requireTime(t, start, c.StartAt)
	requireTime(t, end, c.EndBy)

	// Moving both at once is checked on the new pair; each is removed with a zero time.
	newStart, newEnd := t0.Add(5*time.Hour), t0.Add(6*time.Hour)
	b.schedule(t, &newStart, &newEnd)
	b.schedule(t, &time.Time{}, nil)
	b.schedule(t, nil, &time.Time{})

	// An import with an end not after its start is refused before anything is stored.
	r, err := campaign.NewReader(strings.NewReader("phone\n+14155550100\n"), campaign.ReaderOptions{})
	require.NoError(t, err)
	_, err = b.store.Import(b.ctx, campaign.NewCampaign{Name: "bad-schedule", Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", MaxConcurrent: 1, MaxAttempts: 1,
		RetryPolicy: "none", StartAt: &end, EndBy: &start,
	}}, campaign.ImportInput{Reader: r})
	require.ErrorIs(t, err, campaign.ErrBadSchedule)
}

func TestBeginAttemptRefusesAtTheEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2, maxConcurrent: 2})
	end := t0.Add(time.Hour)
	b.schedule(t, nil, &end)
	b.queueAll(t)

	b.grant(t, b.contacts[0], end.Add(-time.Second))
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[1], end)
	require.NoError(t, err)
	require.Equal(t, campaign.DialGrant{Refusal: campaign.RefuseExpired}, g)
	ct := b.contact(t, b.contacts[1])
	require.Equal(t, campaign.ContactFailed, ct.State)
	require.Equal(t, string(campaign.OutcomeExpired), ct.Outcome)
	require.Zero(t, ct.Attempts)
	require.Equal(t, campaign.StatusRunning, b.status(t), "the other contact is in a call")
}

func TestExpireContactsAtTheEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 4, maxConcurrent: 2, retry: "no_answer=2@10m"})
	end := t0.Add(time.Hour)
	b.schedule(t, nil, &end)
	b.queue(t, b.contacts[0], b.contacts[1])
	a := b.grant(t, b.contacts[0], t0) // in a call; contacts[1] queued; 2 and 3 pending
	require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-0", t0, t0))

	n, err := b.store.ExpireContacts(b.ctx, b.camp.ID, end.Add(-time.Second))
	require.NoError(t, err)
	require.Zero(t, n, "before the end nothing expires")
	for range 2 { // idempotent: the second finds nothing to do
		n, err = b.store.ExpireContacts(b.ctx, b.camp.ID, end)
		require.NoError(t, err)
		if n != 0 {
			require.Equal(t, 3, n)
		}
	}
	for _, id := range b.contacts[1:] {
		ct := b.contact(t, id)
		require.Equal(t, campaign.ContactFailed, ct.State)
		require.Equal(t, string(campaign.OutcomeExpired), ct.Outcome)
		require.Nil(t, ct.NextAttemptAt)
	}
	require.Equal(t, campaign.ContactInCall, b.contact(t, b.contacts[0]).State)
	require.Equal(t, campaign.StatusRunning, b.status(t), "a call is live")
	live, err := b.store.LiveCalls(b.ctx, time.Time{})
	require.NoError(t, err)
	require.Len(t, live, 1)
	require.Equal(t, 3, live[0].Expired, "the /metrics gauge campaign_contacts_expired")

	// The live call ends unanswered after the end: its retry would come later, so it expires,
	// and the campaign completes.
	after := end.Add(time.Minute)
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: "call-0", EndedReason: "customer-did-not-answer",
		EndedAt: &after}, after)
	require.NoError(t, err)
	require.True(t, applied)
	ct := b.contact(t, b.contacts[0])
	require.Equal(t, campaign.ContactFailed, ct.State)
	require.Equal(t, string(campaign.OutcomeExpired), ct.Outcome)
	require.Equal(t, campaign.OutcomeNoAnswer, b.attempt(t, a.ID).Outcome, "the attempt keeps its call's outcome")
	require.Equal(t, campaign.StatusCompleted, b.status(t))
	p, err := b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, 4, p.ByOutcome[campaign.OutcomeExpired])
}

func TestRetryAfterTheEndExpires(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		end   time.Duration // from t0
		state campaign.ContactState
	}{
		{"retry before the end: pending", 10 * time.Hour, campaign.ContactPending},
		{"retry after the end: expired", 2 * time.Hour, campaign.ContactFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{contacts: 1, maxConcurrent: 1, retry: "no_answer=2@4h"})
			end := t0.Add(tc.end)
			b.schedule(t, nil, &end)
			a, _ := b.callOnce(t, b.contacts[0], t0, "customer-did-not-answer", "")
			require.Equal(t, campaign.OutcomeNoAnswer, a.Outcome)
			ct := b.contact(t, b.contacts[0])
			require.Equal(t, tc.state, ct.State)
			if tc.state == campaign.ContactFailed {
				require.Equal(t, string(campaign.OutcomeExpired), ct.Outcome)
				require.Equal(t, campaign.StatusCompleted, b.status(t))
			} else {
				require.NotNil(t, ct.NextAttemptAt)
				require.True(t, ct.NextAttemptAt.Before(end))
			}
		})
	}
}

func TestQueueDueExpiresAWindowOpeningAfterTheEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 3, maxConcurrent: 5})
	end := t0.Add(time.Hour)
	b.schedule(t, nil, &end)
	decide := func(c *campaign.Contact) campaign.Decision {
		switch c.ID {
		case b.contacts[0]:
			return campaign.Decision{DeferUntil: end} // opens at the end: too late
		case b.contacts[1]:
			return campaign.Decision{DeferUntil: end.Add(-time.Minute)}
		}
		return campaign.Decision{Queue: true}
	}
	var enqueued []int64
	enqueue := func(_ context.Context, _ pgx.Tx, ids []int64) error {
		enqueued = append(enqueued, ids...)
		return nil
	}
	n, err := b.store.QueueDue(b.ctx, b.camp.ID, t0, 10, decide, enqueue)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []int64{b.contacts[2]}, enqueued)
	ct := b.contact(t, b.contacts[0])
	require.Equal(t, campaign.ContactFailed, ct.State)
	require.Equal(t, string(campaign.OutcomeExpired), ct.Outcome)
	ct = b.contact(t, b.contacts[1])
	require.Equal(t, campaign.ContactPending, ct.State)
	requireTime(t, end.Add(-time.Minute), ct.NextAttemptAt)

	// At the end the hopper queues nothing, due or not.
	n, err = b.store.QueueDue(b.ctx, b.camp.ID, end, 10, decide, enqueue)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, campaign.ContactPending, b.contact(t, b.contacts[1]).State)
}

func TestParseScheduleTime(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	now := time.Date(2026, 12, 7, 16, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-12-08T09:00:00Z", time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)},
		{"2026-12-08T09:00:00-05:00", time.Date(2026, 12, 8, 14, 0, 0, 0, time.UTC)},
		{"2026-12-08 09:00", time.Date(2026, 12, 8, 8, 0, 0, 0, time.UTC)},
		{" 2026-12-08T09:00:30 ", time.Date(2026, 12, 8, 8, 0, 30, 0, time.UTC)},
		{"2026-07-08 09:00", time.Date(2026, 7, 8, 7, 0, 0, 0, time.UTC)}, // summer time
		{"18:00", time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)},
		{"+2h", now.Add(2 * time.Hour)},
		{"+1h30m", now.Add(90 * time.Minute)},
	} {
		got, err := campaign.ParseScheduleTime(tc.in, paris, now)
		require.NoError(t, err, tc.in)
		require.True(t, tc.want.Equal(got), "%s: got %s, want %s", tc.in, got, tc.want)
	}
	for _, bad := range []string{"", "tomorrow", "+0s", "+-1h", "2026-13-01 09:00", "25:00", "+2 hours"} {
		_, err := campaign.ParseScheduleTime(bad, paris, now)
		require.Error(t, err, bad)
	}
}

// TestExpireContactsConcurrently: several runners expiring a campaign's contacts at its end, and
// an operator cancelling it at the same moment, take their locks in one order: none fails
// (a deadlock would), each contact ends once, and the counts add up.
func TestExpireContactsConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 60, maxConcurrent: 10})
	end := t0.Add(time.Hour)
	b.schedule(t, nil, &end)
	b.queue(t, b.contacts[5], b.contacts[17], b.contacts[42])

	const runners = 4
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		expired  int
		canceled int
	)
	for range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := b.store.ExpireContacts(b.ctx, b.camp.ID, end)
			require.NoError(t, err)
			mu.Lock()
			expired += n
			mu.Unlock()
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, err := b.store.Cancel(b.ctx, b.camp.ID, end)
		if errors.Is(err, campaign.ErrWrongStatus) {
			n, err = 0, nil // the expiry completed the campaign first: nothing was cancelled
		}
		require.NoError(t, err)
		mu.Lock()
		canceled += n
		mu.Unlock()
	}()
	wg.Wait()
	require.Equal(t, 60, expired+canceled)
	p, err := b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, expired, p.ByOutcome[campaign.OutcomeExpired])
	require.Equal(t, canceled, p.ByState[campaign.ContactCancelled])
	require.True(t, p.Final())
}
