package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

// t0 is the tests' clock: every store call is given a time derived from it.
var t0 = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)

type testBundle struct {
	ctx      context.Context
	pool     *pgxpool.Pool
	store    *campaign.Store
	camp     *campaign.Campaign
	contacts []int64 // ids, file order
}

type setupOpts struct {
	contacts      int
	maxConcurrent int
	rate          float64
	status        campaign.Status
	// retry is the retry policy; "" means "none", so that every call is final and the tests
	// of dispatch need not follow retries (those have tests of their own).
	retry string
	mode  campaign.Mode
}

// setup imports a campaign of opts.contacts contacts (3 by default, max_concurrent 2, no rate
// limit) from an in-memory CSV and sets it running. At the end of the test it checks that the
// campaign's queued_contacts agrees with its contacts.
func setup(t *testing.T, opts setupOpts) *testBundle {
	t.Helper()
	if opts.contacts == 0 {
		opts.contacts = 3
	}
	if opts.maxConcurrent == 0 {
		opts.maxConcurrent = 2
	}
	if opts.status == "" {
		opts.status = campaign.StatusRunning
	}
	if opts.retry == "" {
		opts.retry = "none"
	}
	ctx := context.Background()
	pool := testdb.Pool(t)
	store := campaign.NewStore(pool)

	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range opts.contacts {
		fmt.Fprintf(&csv, "+1415555%04d,Customer %d\n", 100+i, i)
	}
	r, err := campaign.NewReader(strings.NewReader(csv.String()), campaign.ReaderOptions{})
	require.NoError(t, err)
	c, err := store.Import(ctx, campaign.NewCampaign{Name: "test", Mode: opts.mode, Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", WebhookSecret: "s3cret",
		RatePerSecond: opts.rate, MaxConcurrent: opts.maxConcurrent, MaxAttempts: 3, RetryPolicy: opts.retry,
	}}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	switch opts.status {
	case campaign.StatusDraft:
	case campaign.StatusRunning:
		require.NoError(t, store.Start(ctx, c.ID, t0))
	case campaign.StatusPaused:
		require.NoError(t, store.Start(ctx, c.ID, t0))
		require.NoError(t, store.Pause(ctx, c.ID, t0))
	default:
		// A status no verb reaches with the contacts untouched (a cancel cancels them; nothing
		// fails a campaign): set it as the fixture.
		tag, err := pool.Exec(ctx, `UPDATE campaign SET status = $2 WHERE id = $1`, c.ID, opts.status)
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected())
	}
	cs, err := store.Contacts(ctx, c.ID, opts.contacts)
	require.NoError(t, err)
	require.Len(t, cs, opts.contacts)
	b := &testBundle{ctx: ctx, pool: pool, store: store, camp: c}
	for _, ct := range cs {
		b.contacts = append(b.contacts, ct.ID)
	}
	t.Cleanup(func() {
		var counted, actual int
		err := pool.QueryRow(ctx, `SELECT queued_contacts, (SELECT count(*) FROM contact
			WHERE campaign_id = $1 AND state = 'queued') FROM campaign WHERE id = $1`, c.ID).Scan(&counted, &actual)
		if errors.Is(err, pgx.ErrNoRows) {
			return // the test deleted the campaign
		}
		require.NoError(t, err)
		require.Equal(t, actual, counted, "campaign.queued_contacts")
	})
	return b
}

// queue marks pending contacts queued, as the hopper does (without jobs).
func (b *testBundle) queue(t *testing.T, ids ...int64) {
	t.Helper()
	tag, err := b.pool.Exec(b.ctx, `
		WITH c AS (UPDATE contact SET state = 'queued' WHERE id = ANY($2) AND state = 'pending' RETURNING 1)
		UPDATE campaign SET queued_contacts = queued_contacts + (SELECT count(*) FROM c) WHERE id = $1`, b.camp.ID, ids)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	for _, id := range ids {
		require.Equal(t, campaign.ContactQueued, b.contact(t, id).State)
	}
}

// queueAll marks every pending contact queued, ignoring the hopper's bound.
func (b *testBundle) queueAll(t *testing.T) {
	t.Helper()
	_, err := b.pool.Exec(b.ctx, `
		WITH c AS (UPDATE contact SET state = 'queued' WHERE campaign_id = $1 AND state = 'pending' RETURNING 1)
		UPDATE campaign SET queued_contacts = queued_contacts + (SELECT count(*) FROM c) WHERE id = $1`, b.camp.ID)
	require.NoError(t, err)
}

func (b *testBundle) contact(t *testing.T, id int64) campaign.Contact {
	t.Helper()
	var c campaign.Contact
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT id, state, outcome, attempts, next_attempt_at FROM contact WHERE id = $1`, id).
		Scan(&c.ID, &c.State, &c.Outcome, &c.Attempts, &c.NextAttemptAt))
	return c
}

func (b *testBundle) grant(t *testing.T, contactID int64, now time.Time) *campaign.Attempt {
	t.Helper()
	g, err := b.store.BeginAttempt(b.ctx, contactID, now)
	require.NoError(t, err)
	require.Empty(t, g.Refusal)
	require.NotNil(t, g.Attempt)
	return g.Attempt
}

func (b *testBundle) live(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM attempt WHERE campaign_id = $1 AND state IN ('creating', 'created')`,
		b.camp.ID).Scan(&n))
	return n
}

func (b *testBundle) status(t *testing.T) campaign.Status {
	t.Helper()
	p, err := b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	return p.Status
}

func requireTime(t *testing.T, want time.Time, got *time.Time, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, got, msgAndArgs...)
	require.True(t, want.Equal(*got), "want %s, got %s %v", want, *got, msgAndArgs)
}

func TestBeginAttemptGrantsThenRefusesAtCapacity(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 3, maxConcurrent: 2})
	b.queue(t, b.contacts...)

	a := b.grant(t, b.contacts[0], t0)
	require.Equal(t, b.camp.ID, a.CampaignID)
	require.Equal(t, b.contacts[0], a.ContactID)
	require.Equal(t, 1, a.Number)
	require.Equal(t, campaign.AttemptKey(b.camp.ID, b.contacts[0], 1), a.Key)
	require.Equal(t, campaign.AttemptCreating, a.State)
	require.True(t, t0.Equal(a.CreatedAt))
	require.Equal(t, "+14155550100", a.Phone)
	require.Empty(t, a.VapiCallID)
	require.Nil(t, a.ReportAt)
	c := b.contact(t, b.contacts[0])
	require.Equal(t, campaign.ContactInCall, c.State)
	require.Equal(t, 1, c.Attempts)

	b.grant(t, b.contacts[1], t0)
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[2], t0)
	require.NoError(t, err)
	require.Equal(t, campaign.DialGrant{Refusal: campaign.RefuseAtCapacity}, g)
	c = b.contact(t, b.contacts[2])
	require.Equal(t, campaign.ContactQueued, c.State, "refused at capacity: nothing changes")
	require.Zero(t, c.Attempts)

	// Ending a live attempt frees its slot.
	require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "", a.Key, "ended", "customer-ended-call", t0.Add(time.Minute)))
	b.grant(t, b.contacts[2], t0.Add(time.Minute))
	require.Equal(t, 2, b.live(t))
}

// TestDialRoom: the room of a running campaign is its cap less its live attempts, never below 0;
// a paused or unknown campaign has RoomUnbounded, so that a dial waiting for room asks
// BeginAttempt at once and learns what to do.
func TestDialRoom(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 3, maxConcurrent: 2})
	b.queue(t, b.contacts...)
	room := func() int {
		t.Helper()
		n, err := b.store.DialRoom(b.ctx, b.camp.ID)
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 2, room())
	a := b.grant(t, b.contacts[0], t0)
	require.Equal(t, 1, room())
	b.grant(t, b.contacts[1], t0)
	require.Equal(t, 0, room())
	_, err := b.pool.Exec(b.ctx, `UPDATE campaign SET max_concurrent = 1 WHERE id = $1`, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, 0, room(), "a cap lowered below the live calls leaves no room, not less")
	_, err = b.pool.Exec(b.ctx, `UPDATE campaign SET max_concurrent = 2 WHERE id = $1`, b.camp.ID)
	require.NoError(t, err)
	require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "", a.Key, "ended", "customer-ended-call", t0.Add(time.Minute)))
	require.Equal(t, 1, room(), "an ended call frees its slot")

	require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0.Add(time.Minute)))
	require.Equal(t, campaign.RoomUnbounded, room(), "paused")
	n, err := b.store.DialRoom(b.ctx, b.camp.ID+1_000_000)
	require.NoError(t, err)
	require.Equal(t, campaign.RoomUnbounded, n, "unknown campaign")
}

func TestBeginAttemptRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 6, maxConcurrent: 10, rate: 2})
	b.queueAll(t)
	ms := time.Millisecond
	steps := []struct {
		at      time.Duration // after t0
		delay   time.Duration // DelayDials to t0+delay first, if set
		refusal campaign.DialRefusal
		wait    time.Duration
	}{
		{at: 0},
		{at: 0, refusal: campaign.RefuseRateLimited, wait: 500 * ms},
		{at: 200 * ms, refusal: campaign.RefuseRateLimited, wait: 300 * ms},
		{at: 500 * ms},
		{at: 600 * ms, refusal: campaign.RefuseRateLimited, wait: 400 * ms},
		{at: 5 * time.Second}, // idle time gives no burst:
		{at: 5 * time.Second, refusal: campaign.RefuseRateLimited, wait: 500 * ms}, // still one per 500ms
		{at: 6 * time.Second, delay: 10 * time.Second, refusal: campaign.RefuseRateLimited, wait: 4 * time.Second},
		{at: 7 * time.Second, delay: 8 * time.Second, refusal: campaign.RefuseRateLimited, wait: 3 * time.Second}, // never pulled back
		{at: 10 * time.Second},
	}
	next := 0
	for i, s := range steps {
		if s.delay != 0 {
			require.NoError(t, b.store.DelayDials(b.ctx, b.camp.ID, t0.Add(s.delay)))
		}
		g, err := b.store.BeginAttempt(b.ctx, b.contacts[next], t0.Add(s.at))
		require.NoError(t, err, "step %d", i)
		require.Equal(t, s.refusal, g.Refusal, "step %d", i)
		require.Equal(t, s.wait, g.Wait, "step %d", i)
		if s.refusal == "" {
			require.NotNil(t, g.Attempt, "step %d", i)
			next++
		} else {
			require.Nil(t, g.Attempt, "step %d", i)
			require.Equal(t, campaign.ContactQueued, b.contact(t, b.contacts[next]).State, "step %d", i)
		}
	}
	require.Equal(t, 4, next)
	require.ErrorIs(t, b.store.DelayDials(b.ctx, -1, t0), campaign.ErrNotFound)
}

func TestBeginAttemptRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(t *testing.T, b *testBundle) int64 // returns the contact to dial
		want    campaign.DialRefusal
		check   func(t *testing.T, b *testBundle, contactID int64)
	}{{
		name: "NotRunning",
		prepare: func(t *testing.T, b *testBundle) int64 {
			b.queue(t, b.contacts[0])
			require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0))
			return b.contacts[0]
		},
		want: campaign.RefuseNotRunning,
		check: func(t *testing.T, b *testBundle, id int64) {
			require.Equal(t, campaign.ContactPending, b.contact(t, id).State, "back to pending for a resume")
		},
	}, {
		name: "NotRunningNotQueued",
		prepare: func(t *testing.T, b *testBundle) int64 {
			require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0))
			return b.contacts[0]
		},
		want: campaign.RefuseNotRunning,
		check: func(t *testing.T, b *testBundle, id int64) {
			require.Equal(t, campaign.ContactPending, b.contact(t, id).State)
		},
	}, {
		name: "Suppressed",
		prepare: func(t *testing.T, b *testBundle) int64 {
			b.queue(t, b.contacts[1])
			_, err := b.pool.Exec(b.ctx, `INSERT INTO suppression (phone) VALUES ('+14155550101')`)
			require.NoError(t, err)
			return b.contacts[1]
		},
		want: campaign.RefuseSuppressed,
		check: func(t *testing.T, b *testBundle, id int64) {
			c := b.contact(t, id)
			require.Equal(t, campaign.ContactDoNotCall, c.State)
			require.Empty(t, c.Outcome)
			require.Zero(t, c.Attempts)
		},
	}, {
		name:    "NotQueued",
		prepare: func(t *testing.T, b *testBundle) int64 { return b.contacts[2] },
		want:    campaign.RefuseNotQueued,
		check: func(t *testing.T, b *testBundle, id int64) {
			require.Equal(t, campaign.ContactPending, b.contact(t, id).State)
		},
	}, {
		name: "AlreadyInCall",
		prepare: func(t *testing.T, b *testBundle) int64 {
			b.queue(t, b.contacts[0])
			b.grant(t, b.contacts[0], t0)
			return b.contacts[0]
		},
		want: campaign.RefuseNotQueued,
		check: func(t *testing.T, b *testBundle, id int64) {
			c := b.contact(t, id)
			require.Equal(t, campaign.ContactInCall, c.State)
			require.Equal(t, 1, c.Attempts, "never a second attempt")
		},
	}, {
		name:    "NoSuchContact",
		prepare: func(t *testing.T, b *testBundle) int64 { return -1 },
		want:    campaign.RefuseNotQueued,
		check:   func(t *testing.T, b *testBundle, id int64) {},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			id := tc.prepare(t, b)
			attemptsBefore := b.attemptCount(t)
			g, err := b.store.BeginAttempt(b.ctx, id, t0)
			require.NoError(t, err)
			require.Equal(t, campaign.DialGrant{Refusal: tc.want}, g)
			require.Equal(t, attemptsBefore, b.attemptCount(t), "no attempt row")
			tc.check(t, b, id)
		})
	}
}

func (b *testBundle) attemptCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM attempt`).Scan(&n))
	return n
}

// TestBeginAttemptAcrossProcesses dials one campaign from two pools, as two processes would,
// as fast as they can: the live-call cap holds, and no contact gets two attempts.
func TestBeginAttemptAcrossProcesses(t *testing.T) {
	t.Parallel()
	const (
		contacts      = 40
		maxConcurrent = 3
	)
	b := setup(t, setupOpts{contacts: contacts, maxConcurrent: maxConcurrent})
	b.queueAll(t)
	other, err := pgxpool.New(b.ctx, b.pool.Config().ConnString())
	require.NoError(t, err)
	t.Cleanup(other.Close)
	stores := []*campaign.Store{b.store, campaign.NewStore(other)}

	var (
		live, maxLive atomic.Int32
		granted       [2]atomic.Int32
		wg            sync.WaitGroup
		errs          = make([]error, len(stores))
	)
	for w, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = func() error {
				var held []*campaign.Attempt
				end := func() error {
					a := held[0]
					held = held[1:]
					live.Add(-1) // before the slot is freed in the database
					_, err := st.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: a.Key, EndedReason: "customer-ended-call"}, t0)
					return err
				}
				for i := range contacts {
					id := b.contacts[i] // both in the same order: they race for every contact
					for {
						g, err := st.BeginAttempt(b.ctx, id, t0)
						if err != nil {
							return err
						}
						switch g.Refusal {
						case "":
							n := live.Add(1) // after the slot is taken in the database
							for m := maxLive.Load(); n > m && !maxLive.CompareAndSwap(m, n); m = maxLive.Load() {
							}
							var dbLive int
							if err := other.QueryRow(b.ctx, `SELECT count(*) FROM attempt WHERE state IN ('creating', 'created')`).
								Scan(&dbLive); err != nil {
								return err
							}
							if dbLive > maxConcurrent {
								return fmt.Errorf("%d live attempts", dbLive)
							}
							granted[w].Add(1)
							held = append(held, g.Attempt)
						case campaign.RefuseAtCapacity:
							if len(held) > 0 {
								if err := end(); err != nil {
									return err
								}
							} else {
								runtime.Gosched() // the other process holds every slot
							}
							continue
						case campaign.RefuseNotQueued:
						case campaign.RefuseNotRunning:
							// The other process ended the last call: the campaign is complete
							// and its remaining contacts were all taken.
						default:
							return fmt.Errorf("unexpected refusal %s", g.Refusal)
						}
						break
					}
				}
				for len(held) > 0 {
					if err := end(); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.LessOrEqual(t, maxLive.Load(), int32(maxConcurrent))
	require.Equal(t, int32(contacts), granted[0].Load()+granted[1].Load())
	t.Logf("grants: %d and %d; most live seen: %d", granted[0].Load(), granted[1].Load(), maxLive.Load())

	var maxPerContact, total int
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT max(n), sum(n) FROM (SELECT count(*) AS n FROM attempt GROUP BY contact_id) x`).Scan(&maxPerContact, &total))
	require.Equal(t, 1, maxPerContact, "one attempt per contact")
	require.Equal(t, contacts, total)
	p, err := b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, contacts, p.ByState[campaign.ContactCompleted])
	require.Equal(t, campaign.StatusCompleted, p.Status, "the last result completes the campaign")
}

// TestRateLimitAcrossProcesses: two pools asking at the same instant get one grant between
// them.
func TestRateLimitAcrossProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 20, maxConcurrent: 20, rate: 10})
	b.queueAll(t)
	other, err := pgxpool.New(b.ctx, b.pool.Config().ConnString())
	require.NoError(t, err)
	t.Cleanup(other.Close)
	stores := []*campaign.Store{b.store, campaign.NewStore(other)}

	for round, at := range []time.Duration{0, 100 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond} {
		var (
			wg      sync.WaitGroup
			grants  atomic.Int32
			errs    = make([]error, 5)
			waitsOK atomic.Bool
		)
		waitsOK.Store(true)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g, err := stores[i%2].BeginAttempt(b.ctx, b.contacts[round*5+i], t0.Add(at))
				errs[i] = err
				switch {
				case g.Refusal == "":
					grants.Add(1)
				case g.Refusal == campaign.RefuseRateLimited && (g.Wait <= 0 || g.Wait > 100*time.Millisecond):
					waitsOK.Store(false)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		want := int32(1)
		if at == 150*time.Millisecond {
			want = 0 // the 100ms grant reserved until 200ms
		}
		require.Equal(t, want, grants.Load(), "round %d", round)
		require.True(t, waitsOK.Load(), "round %d", round)
	}
}

func TestAttemptNumbersSkipUncountedAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1})
	id := b.contacts[0]
	b.queue(t, id)
	first := b.grant(t, id, t0)
	require.NoError(t, b.store.CallNotCreated(b.ctx, first.ID, campaign.NotCreatedCapacity, "", "concurrency blocked", t0, t0))
	require.Zero(t, b.contact(t, id).Attempts)

	b.queue(t, id)
	second := b.grant(t, id, t0.Add(time.Second))
	require.Equal(t, 2, second.Number, "a new key, never the blocked call's")
	require.NotEqual(t, first.Key, second.Key)
	require.Equal(t, 1, b.contact(t, id).Attempts, "only the attempt that counts")
}

func TestQueueDue(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 7, maxConcurrent: 2}) // at most 4 queued
	// The last contact is a retry that is due: it comes first.
	_, err := b.pool.Exec(b.ctx, `UPDATE contact SET next_attempt_at = $2 WHERE id = $1`, b.contacts[6], t0.Add(-time.Minute))
	require.NoError(t, err)
	deferTo := t0.Add(time.Hour)
	decide := func(c *campaign.Contact) campaign.Decision {
		switch c.ID {
		case b.contacts[0]:
			return campaign.Decision{FailOutcome: "no_calling_window"}
		case b.contacts[1]:
			return campaign.Decision{DeferUntil: deferTo}
		}
		return campaign.Decision{Queue: true}
	}
	var decided, enqueued []int64
	enqueue := func(ctx context.Context, tx pgx.Tx, ids []int64) error {
		enqueued = append(enqueued, ids...)
		var inTx, outside int
		require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM contact WHERE id = ANY($1) AND state = 'queued'`, ids).Scan(&inTx))
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM contact WHERE id = ANY($1) AND state = 'queued'`, ids).Scan(&outside))
		require.Equal(t, len(ids), inTx, "queued inside the transaction")
		require.Zero(t, outside, "not committed yet")
		return nil
	}
	record := func(c *campaign.Contact) campaign.Decision {
		decided = append(decided, c.ID)
		return decide(c)
	}

	n, err := b.store.QueueDue(b.ctx, b.camp.ID, t0, 10, record, enqueue)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []int64{b.contacts[0], b.contacts[1], b.contacts[2], b.contacts[6]}, decided, "4 at most, in id order")
	require.Equal(t, []int64{b.contacts[2], b.contacts[6]}, enqueued)
	c := b.contact(t, b.contacts[0])
	require.Equal(t, campaign.ContactFailed, c.State)
	require.Equal(t, "no_calling_window", c.Outcome)
	c = b.contact(t, b.contacts[1])
	require.Equal(t, campaign.ContactPending, c.State)
	requireTime(t, deferTo, c.NextAttemptAt)

	// Two queued: room for two more.
	decided, enqueued = nil, nil
	n, err = b.store.QueueDue(b.ctx, b.camp.ID, t0, 10, record, enqueue)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []int64{b.contacts[3], b.contacts[4]}, enqueued)

	// Full: decide is not even called.
	decided = nil
	n, err = b.store.QueueDue(b.ctx, b.camp.ID, t0, 10, record, enqueue)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, decided)

	// A dial takes one out of the queue; the deferred contact is not due yet.
	b.grant(t, b.contacts[2], t0)
	decided, enqueued = nil, nil
	n, err = b.store.QueueDue(b.ctx, b.camp.ID, t0, 10, record, enqueue)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []int64{b.contacts[5]}, decided)

	// Nothing is due but the deferred contact, once its time comes.
	b.grant(t, b.contacts[3], t0)
	decided = nil
	n, err = b.store.QueueDue(b.ctx, b.camp.ID, t0.Add(30*time.Minute), 10, record, enqueue)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, decided)
	n, err = b.store.QueueDue(b.ctx, b.camp.ID, deferTo, 10, func(*campaign.Contact) campaign.Decision {
		return campaign.Decision{Queue: true}
	}, enqueue)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, campaign.ContactQueued, b.contact(t, b.contacts[1]).State)

	// A paused campaign queues nothing.
	require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0))
	n, err = b.store.QueueDue(b.ctx, b.camp.ID, deferTo, 10, record, enqueue)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestQueueDueRollsBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		decide  campaign.Decision
		enqueue error
	}{
		{name: "EnqueueFails", decide: campaign.Decision{Queue: true}, enqueue: fmt.Errorf("river is down")},
		{name: "NoDecision", decide: campaign.Decision{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{contacts: 3})
			calls := 0
			_, err := b.store.QueueDue(b.ctx, b.camp.ID, t0, 10, func(c *campaign.Contact) campaign.Decision {
				calls++
				if c.ID == b.contacts[0] {
					return campaign.Decision{DeferUntil: t0.Add(time.Hour)} // undone too
				}
				return tc.decide
			}, func(context.Context, pgx.Tx, []int64) error { return tc.enqueue })
			require.Error(t, err)
			if tc.enqueue != nil {
				require.ErrorIs(t, err, tc.enqueue)
			}
			require.Positive(t, calls)
			for _, id := range b.contacts {
				c := b.contact(t, id)
				require.Equal(t, campaign.ContactPending, c.State)
				require.Nil(t, c.NextAttemptAt)
			}
		})
	}
}

func TestRequeueContact(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2})
	b.queue(t, b.contacts...)
	b.grant(t, b.contacts[1], t0)
	at := t0.Add(10 * time.Minute)
	for _, id := range b.contacts {
		require.NoError(t, b.store.RequeueContact(b.ctx, id, at, t0))
	}
	c := b.contact(t, b.contacts[0])
	require.Equal(t, campaign.ContactPending, c.State)
	requireTime(t, at, c.NextAttemptAt)
	c = b.contact(t, b.contacts[1])
	require.Equal(t, campaign.ContactInCall, c.State, "not queued: left alone")
	require.Nil(t, c.NextAttemptAt)
}

func TestSetStatusAndRunningCampaigns(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{status: campaign.StatusDraft})
	ctx, id := b.ctx, b.camp.ID
	times := func() (started, finished *time.Time) {
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT started_at, finished_at FROM campaign WHERE id = $1`, id).
			Scan(&started, &finished))
		return
	}
	running, err := b.store.RunningCampaigns(ctx, "")
	require.NoError(t, err)
	require.Empty(t, running)

	steps := []struct {
		from     []campaign.Status
		to       campaign.Status
		at       time.Duration
		changed  bool
		started  time.Duration // -1: NULL
		finished time.Duration // -1: NULL
	}{
		{from: []campaign.Status{campaign.StatusPaused}, to: campaign.StatusRunning, changed: false, started: -1, finished: -1},
		{from: nil, to: campaign.StatusRunning, changed: false, started: -1, finished: -1},
		{from: []campaign.Status{campaign.StatusDraft, campaign.StatusPaused}, to: campaign.StatusRunning, at: time.Minute, changed: true, started: time.Minute, finished: -1},
		{from: []campaign.Status{campaign.StatusRunning}, to: campaign.StatusFailed, at: 2 * time.Minute, changed: true, started: time.Minute, finished: 2 * time.Minute},
		{from: []campaign.Status{campaign.StatusFailed}, to: campaign.StatusRunning, at: 3 * time.Minute, changed: true, started: time.Minute, finished: -1},
		{from: []campaign.Status{campaign.StatusRunning}, to: campaign.StatusCancelled, at: 4 * time.Minute, changed: true, started: time.Minute, finished: 4 * time.Minute},
	}
	for i, s := range steps {
		changed, err := b.store.SetStatusForTest(ctx, id, s.from, s.to, t0.Add(s.at))
		require.NoError(t, err, "step %d", i)
		require.Equal(t, s.changed, changed, "step %d", i)
		started, finished := times()
		for _, c := range []struct {
			want time.Duration
			got  *time.Time
		}{{s.started, started}, {s.finished, finished}} {
			if c.want < 0 {
				require.Nil(t, c.got, "step %d", i)
			} else {
				requireTime(t, t0.Add(c.want), c.got, "step %d", i)
			}
		}
		if i == 2 {
			running, err := b.store.RunningCampaigns(ctx, "")
			require.NoError(t, err)
			require.Equal(t, []int64{id}, running)
		}
	}
	_, err = b.store.SetStatusForTest(ctx, -1, []campaign.Status{campaign.StatusDraft}, campaign.StatusRunning, t0)
	require.ErrorIs(t, err, campaign.ErrNotFound)

	// A move the status table does not list is refused before any change, even when the
	// campaign's status is another of the from-list.
	changed, err := b.store.SetStatusForTest(ctx, id,
		[]campaign.Status{campaign.StatusCancelled, campaign.StatusCompleted}, campaign.StatusPaused, t0.Add(5*time.Minute))
	require.ErrorIs(t, err, campaign.ErrIllegalMoveForTest)
	require.False(t, changed)
	require.Equal(t, campaign.StatusCancelled, b.status(t))
}

func TestCompleteIfDone(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1})
	done, err := b.store.CompleteIfDone(b.ctx, b.camp.ID, t0)
	require.NoError(t, err)
	require.False(t, done, "a pending contact")
	_, err = b.pool.Exec(b.ctx, `UPDATE contact SET state = 'cancelled'`)
	require.NoError(t, err)
	done, err = b.store.CompleteIfDone(b.ctx, b.camp.ID, t0)
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, campaign.StatusCompleted, b.status(t))
	done, err = b.store.CompleteIfDone(b.ctx, b.camp.ID, t0)
	require.NoError(t, err)
	require.False(t, done, "completed already")
}

func TestProgress(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 6, maxConcurrent: 3})
	p, err := b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.Progress{
		Total: 6, ByState: map[campaign.ContactState]int{campaign.ContactPending: 6},
		ByOutcome: map[campaign.Outcome]int{}, Status: campaign.StatusRunning,
	}, p)
	require.False(t, p.Final())

	b.queue(t, b.contacts[:4]...)
	cost := 0.25
	done := b.grant(t, b.contacts[0], t0)
	require.NoError(t, b.store.CallCreated(b.ctx, done.ID, "call-0", t0, t0))
	_, err = b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: "call-0", EndedReason: "voicemail", Cost: &cost}, t0)
	require.NoError(t, err)
	blocked := b.grant(t, b.contacts[1], t0)
	require.NoError(t, b.store.CallNotCreated(b.ctx, blocked.ID, campaign.NotCreatedCapacity, "", "", t0.Add(time.Minute), t0))
	b.grant(t, b.contacts[2], t0)
	_, err = b.pool.Exec(b.ctx, `UPDATE contact SET next_attempt_at = $2 WHERE id = $1`, b.contacts[5], t0.Add(time.Hour))
	require.NoError(t, err)

	p, err = b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	next := p.NextDue
	p.NextDue = nil
	require.Equal(t, campaign.Progress{
		Total: 6,
		ByState: map[campaign.ContactState]int{
			campaign.ContactCompleted: 1, campaign.ContactPending: 3, campaign.ContactInCall: 1, campaign.ContactQueued: 1,
		},
		ByOutcome: map[campaign.Outcome]int{campaign.OutcomeVoicemail: 1},
		Live:      1, Attempts: 2, Cost: 0.25, Status: campaign.StatusRunning,
	}, p)
	requireTime(t, t0.Add(time.Minute), next, "the blocked contact's retry")
	require.False(t, p.Final())

	require.True(t, campaign.Progress{Total: 3, ByState: map[campaign.ContactState]int{
		campaign.ContactCompleted: 1, campaign.ContactFailed: 1, campaign.ContactDoNotCall: 1,
	}}.Final())
	require.True(t, campaign.Progress{ByState: map[campaign.ContactState]int{}}.Final(), "no contacts")

	_, err = b.store.Progress(b.ctx, -1)
	require.ErrorIs(t, err, campaign.ErrNotFound)
}

func TestCampaignSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1})
	secret, err := b.store.CampaignSecret(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, "s3cret", secret)
	_, err = b.store.CampaignSecret(b.ctx, -1)
	require.ErrorIs(t, err, campaign.ErrNotFound)
}

// TestQueueDueLockIsPerSchema: advisory locks are database-wide, so two installations (or two
// tests) in two schemas of one database both have a campaign 1. The hopper of one must never
// skip the other's campaign because it holds the lock of its own campaign 1.
func TestQueueDueLockIsPerSchema(t *testing.T) {
	t.Parallel()
	a := setup(t, setupOpts{contacts: 1})
	b := setup(t, setupOpts{contacts: 1})
	require.Equal(t, a.camp.ID, b.camp.ID, "the same campaign id in two schemas")
	queue := func(*campaign.Contact) campaign.Decision { return campaign.Decision{Queue: true} }

	var nb int
	na, err := a.store.QueueDue(a.ctx, a.camp.ID, t0, 10, queue, func(ctx context.Context, _ pgx.Tx, _ []int64) error {
		// While a's hopper holds its lock, b's fills b's queue.
		var err error
		nb, err = b.store.QueueDue(ctx, b.camp.ID, t0, 10, queue, func(context.Context, pgx.Tx, []int64) error { return nil })
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 1, na)
	require.Equal(t, 1, nb, "b's hopper was not kept out by a's lock")
}
