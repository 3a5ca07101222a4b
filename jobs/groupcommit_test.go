package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/migrations"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/webhook"
)

// resultCounter counts the results a Recorder applies, from many goroutines.
type resultCounter struct {
	mu sync.Mutex
	countingObserver
}

func (o *resultCounter) ObserveResult(outcome campaign.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.countingObserver.ObserveResult(outcome)
}

// groupBundle is a Recorder on a real store, in a database of its own, and a running campaign
// of n contacts, each in a call whose id is stored. The recorder has a pool of its own, whose
// connections are named appName; pool is the test's.
type groupBundle struct {
	ctx      context.Context
	pool     *pgxpool.Pool
	appName  string
	recorder *jobs.Recorder
	observer *resultCounter
	campaign int64
	calls    []string // call ids, one a contact
	keys     []string // their attempt keys
}

func setupGroup(t *testing.T, n int) *groupBundle {
	t.Helper()
	ctx := context.Background()
	url := testdb.SchemaURL(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = migrations.Up(ctx, pool, nil)
	require.NoError(t, err)
	// The recorder's connections have a name of their own, so that a test can kill them.
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	appName := fmt.Sprintf("groupcommit-%d", rand.Int64())
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	recorderPool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(recorderPool.Close)
	store := campaign.NewStore(recorderPool)
	now := time.Now()
	var csv strings.Builder
	csv.WriteString("phone\n")
	for i := range n {
		fmt.Fprintf(&csv, "+1415555%04d\n", i)
	}
	r, err := campaign.NewReader(strings.NewReader(csv.String()), campaign.ReaderOptions{})
	require.NoError(t, err)
	c, err := store.Import(ctx, campaign.NewCampaign{Name: "group", Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", WebhookSecret: "secret-group",
		MaxConcurrent: n, MaxAttempts: 1, RetryPolicy: "none",
	}}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	require.NoError(t, store.Start(ctx, c.ID, now))
	_, err = pool.Exec(ctx, `
		WITH c AS (UPDATE contact SET state = 'queued' WHERE campaign_id = $1 RETURNING 1)
		UPDATE campaign SET queued_contacts = (SELECT count(*) FROM c) WHERE id = $1`, c.ID)
	require.NoError(t, err)
	contacts, err := store.Contacts(ctx, c.ID, n)
	require.NoError(t, err)
	b := &groupBundle{ctx: ctx, pool: pool, observer: &resultCounter{}, campaign: c.ID, appName: appName}
	b.recorder = &jobs.Recorder{Store: store, Now: time.Now, Logger: slog.New(slog.DiscardHandler), Observer: b.observer}
	for i, ct := range contacts {
		g, err := store.BeginAttempt(ctx, ct.ID, now)
		require.NoError(t, err)
		require.NotNil(t, g.Attempt, "%+v", g)
		callID := fmt.Sprintf("call-%d", i)
		require.NoError(t, store.CallCreated(ctx, g.Attempt.ID, callID, now, now))
		b.calls, b.keys = append(b.calls, callID), append(b.keys, g.Attempt.Key)
	}
	return b
}

// event is webhook request seq: the end-of-call report (or the status-update "ended", when
// status) of call i, its body marked with seq so that the stored event can be found.
func (b *groupBundle) event(i, seq int, status bool) *webhook.Event {
	e := &webhook.Event{CallID: b.calls[i], AttemptKey: b.keys[i], CampaignID: b.campaign, Auth: webhook.AuthCampaignSecret,
		Body: fmt.Appendf(nil, `{"seq": %d}`, seq), ReceivedAt: time.Now()}
	call := &vapi.Call{ID: b.calls[i], Name: b.keys[i]}
	if status {
		e.Type, e.Status = vapi.ServerMessageTypeStatusUpdate, string(vapi.CallStatusEnded)
		e.Message = &vapi.ServerMessage{Type: e.Type, StatusUpdate: &vapi.StatusUpdate{Type: e.Type,
			Status: vapi.CallStatusEnded, EndedReason: "customer-busy", Call: call}}
	} else {
		e.Type = vapi.ServerMessageTypeEndOfCallReport
		e.Message = &vapi.ServerMessage{Type: e.Type, EndOfCallReport: &vapi.EndOfCallReport{Type: e.Type,
			EndedReason: "customer-ended-call", Call: call}}
	}
	return e
}

// durable reports whether request seq's event is committed and applied, as another
// connection sees it.
func (b *groupBundle) durable(t *testing.T, seq int) bool {
	var applied bool
	err := b.pool.QueryRow(b.ctx, `SELECT applied_at IS NOT NULL FROM webhook_event WHERE (payload->>'seq')::int = $1`, seq).Scan(&applied)
	return err == nil && applied
}

// deliver records e as Vapi delivers an event, retrying a few times until it is recorded: the
// first use of a pooled connection that was killed fails.
func (b *groupBundle) deliver(t *testing.T, e *webhook.Event) {
	t.Helper()
	var err error
	for range 5 {
		if err = b.recorder.Record(b.ctx, e); err == nil {
			return
		}
	}
	require.NoError(t, err, "delivered 5 times")
}

// requireAllApplied checks that every call has its one result: each attempt ended with a
// report, each contact final, the campaign completed, and no result counted twice (a batch cut
// short in its commit may have committed without saying so: its results are then not counted).
func (b *groupBundle) requireAllApplied(t *testing.T) {
	t.Helper()
	var reported, final int
	var status campaign.Status
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT (SELECT count(*) FROM attempt WHERE campaign_id = $1 AND report_at IS NOT NULL AND last_status = 'ended'),
		       (SELECT count(*) FROM contact WHERE campaign_id = $1 AND state = 'completed'),
		       (SELECT status FROM campaign WHERE id = $1)`, b.campaign).Scan(&reported, &final, &status))
	require.Equal(t, len(b.calls), reported)
	require.Equal(t, len(b.calls), final)
	require.Equal(t, campaign.StatusCompleted, status)
	require.LessOrEqual(t, len(b.observer.results), len(b.calls), "a result applied twice")
}

// TestGroupCommitManyRequests: many requests at once (each call's report, a duplicate of it
// and its status-update, in a random order) are recorded in shared transactions, and each
// returns only once its event is committed and applied; every result is applied once.
func TestGroupCommitManyRequests(t *testing.T) {
	t.Parallel()
	b := setupGroup(t, 40)
	type request struct {
		call   int
		status bool
	}
	var requests []request
	for i := range b.calls {
		requests = append(requests, request{i, false}, request{i, false}, request{i, true})
	}
	rand.Shuffle(len(requests), func(i, j int) { requests[i], requests[j] = requests[j], requests[i] })
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, len(requests))
	notDurable := make([]bool, len(requests))
	for seq, r := range requests {
		wg.Go(func() {
			<-start
			errs[seq] = b.recorder.Record(b.ctx, b.event(r.call, seq, r.status))
			notDurable[seq] = errs[seq] == nil && !b.durable(t, seq)
		})
	}
	close(start)
	wg.Wait()
	for seq := range requests {
		require.NoError(t, errs[seq], "request %d", seq)
		require.False(t, notDurable[seq], "request %d returned before its event was committed and applied", seq)
	}
	b.requireAllApplied(t)
	require.Len(t, b.observer.results, len(b.calls), "every result applied and counted once")
	var events, transactions int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM webhook_event`).
		Scan(&events, &transactions))
	require.Equal(t, len(requests), events)
	require.Less(t, transactions, events, "no two events shared a transaction")
}

// TestGroupCommitKilledMidBatch: while the database connections recording webhook events are
// killed again and again (as when Postgres or the connection dies mid-batch), every request
// either fails or returns once its event is committed and applied; delivered again (as Vapi
// retries what was not answered 2xx), every result is applied exactly once.
func TestGroupCommitKilledMidBatch(t *testing.T) {
	t.Parallel()
	b := setupGroup(t, 40)
	done := make(chan struct{})
	killed := 0
	var killer sync.WaitGroup
	killer.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var n int
			// The recorder's connections that are busy.
			err := b.pool.QueryRow(b.ctx, `
				SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = $1 AND state <> 'idle'`, b.appName).Scan(&n)
			if err == nil {
				killed += n
			}
		}
	})
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, len(b.calls))
	notDurable := make([]bool, len(b.calls))
	for i := range b.calls {
		wg.Go(func() {
			<-start
			errs[i] = b.recorder.Record(b.ctx, b.event(i, i, false))
			notDurable[i] = errs[i] == nil && !b.durable(t, i)
		})
	}
	close(start)
	wg.Wait()
	close(done)
	killer.Wait()
	failed := 0
	for i := range b.calls {
		require.False(t, notDurable[i], "request %d returned before its event was committed and applied", i)
		if errs[i] != nil {
			failed++
			b.deliver(t, b.event(i, len(b.calls)+i, false))
		}
	}
	t.Logf("%d connections killed, %d of %d requests failed", killed, failed, len(b.calls))
	for i := range b.calls {
		b.deliver(t, b.event(i, 2*len(b.calls)+i, true))
	}
	b.requireAllApplied(t)
}

// TestGroupCommitRefusedPayload: an event the database refuses (jsonb holds no NUL character)
// fails only its own request, though it fails the batch it was recorded with: the others are
// recorded again alone.
func TestGroupCommitRefusedPayload(t *testing.T) {
	t.Parallel()
	b := setupGroup(t, 20)
	poison := len(b.calls) / 2
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, len(b.calls))
	for i := range b.calls {
		wg.Go(func() {
			e := b.event(i, i, false)
			if i == poison {
				e.Body = []byte(`{"seq": "\u0000"}`)
			}
			<-start
			errs[i] = b.recorder.Record(b.ctx, e)
		})
	}
	close(start)
	wg.Wait()
	for i := range b.calls {
		if i == poison {
			require.Error(t, errs[i])
			continue
		}
		require.NoError(t, errs[i], "request %d", i)
		require.True(t, b.durable(t, i), "request %d", i)
	}
	require.Len(t, b.observer.results, len(b.calls)-1)
}
