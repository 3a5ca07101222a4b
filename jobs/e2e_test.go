package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/migrations"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
	"github.com/campaign-run/campaign/webhook"
)

// e2eBundle is a campaign running against the simulator: a database schema of its own, the
// simulator, a webhook receiver, and one or more runner "processes" (each its own pool and
// River client).
type e2eBundle struct {
	dbURL  string
	store  *campaign.Store
	sim    *vapitest.Server
	simURL string
	c      *campaign.Campaign
	// dropReports, when set, makes the receiver drop end-of-call reports (answering 200, as
	// if delivered): the calls then end by their status-update and their results arrive by
	// the reconciler, a second or more later.
	dropReports atomic.Bool
}

// dropReportsWhenAsked hands every webhook to next but the end-of-call reports dropped while
// b.dropReports is set.
func (b *e2eBundle) dropReportsWhenAsked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.dropReports.Load() {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var m struct {
				Message struct {
					Type vapi.ServerMessageType `json:"type"`
				} `json:"message"`
			}
			if json.Unmarshal(body, &m) == nil && m.Message.Type == vapi.ServerMessageTypeEndOfCallReport {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// e2eContacts builds a CSV of n distinct, valid US numbers.
func e2eContacts(n int) string {
	var b strings.Builder
	b.WriteString("phone,first_name\n")
	for i := range n {
		fmt.Fprintf(&b, "+1 415 555 %04d,Person %d\n", 1000+i, i)
	}
	return b.String()
}

// withoutPublicURL makes the campaign's calls carry no webhook routing: results come by polling.
func withoutPublicURL(s *campaign.Settings) { s.PublicURL = "" }

func setupE2E(t *testing.T, contacts, maxConcurrent int, faults vapitest.Faults, options ...func(*campaign.Settings)) *e2eBundle {
	t.Helper()
	return setupE2EFile(t, e2eContacts(contacts), campaign.ReaderOptions{}, maxConcurrent, faults, options...)
}

// setupE2EFile is setupE2E with the campaign imported from csv, read with opts.
func setupE2EFile(t *testing.T, csv string, opts campaign.ReaderOptions, maxConcurrent int, faults vapitest.Faults,
	options ...func(*campaign.Settings)) *e2eBundle {
	t.Helper()
	ctx := context.Background()
	dbURL := testdb.SchemaURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = migrations.Up(ctx, pool, nil)
	require.NoError(t, err)
	store := campaign.NewStore(pool)
	b := &e2eBundle{dbURL: dbURL, store: store}

	sim := vapitest.New(vapitest.Config{Seed: 7, TimeScale: 600, ConcurrencyLimit: maxConcurrent, Faults: faults})
	t.Cleanup(sim.Close)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)

	rec := &jobs.Recorder{Store: store, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
	handler, err := webhook.NewHandler(webhook.Config{Recorder: rec, Secrets: rec, Now: time.Now})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(jobs.WebhookPath, b.dropReportsWhenAsked(handler))
	receiver := httptest.NewServer(mux)
	t.Cleanup(receiver.Close)

	reader, err := campaign.NewReader(strings.NewReader(csv), opts)
	require.NoError(t, err)
	settings := campaign.Settings{
		AssistantID: sim.Config().Assistants[0].ID, PhoneNumberID: "pn-e2e", PublicURL: receiver.URL,
		WebhookSecret: "e2e-secret", WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US",
		RatePerSecond: 0, MaxConcurrent: maxConcurrent, MaxAttempts: 1, RetryPolicy: "none",
	}
	for _, o := range options {
		o(&settings)
	}
	c, err := store.Import(ctx, campaign.NewCampaign{Name: "e2e", Settings: settings}, campaign.ImportInput{Reader: reader})
	require.NoError(t, err)
	require.NoError(t, store.Start(ctx, c.ID, time.Now()))
	b.sim, b.simURL, b.c = sim, simSrv.URL, c
	return b
}

// startRunner starts one runner process of the bundle's campaign: a pool and a River client of
// its own.
func (b *e2eBundle) startRunner(t *testing.T) {
	t.Helper()
	b.startRunnerFor(t, b.c.ID)
}

// startRunnerFor starts one runner process of campaign id.
func (b *e2eBundle) startRunnerFor(t *testing.T, id int64) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, b.dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	client, err := vapi.NewClient(vapitest.DefaultAPIKey, &vapi.Config{BaseURL: b.simURL, Timeout: time.Second})
	require.NoError(t, err)
	rc, err := jobs.NewRunner(pool, jobs.Config{
		CampaignID: id, Store: campaign.NewStore(pool), Vapi: client,
		HopperInterval: 200 * time.Millisecond, ReconcileInterval: 300 * time.Millisecond,
		Reconcile: jobs.ReconcileConfig{ReportGrace: time.Second, CreatingGrace: 500 * time.Millisecond,
			SureAbsentLookups: 2, SureAbsentAfter: 2 * time.Second},
		Notify: jobs.NotifierConfig{Secret: e2eNotifySecret},
	})
	require.NoError(t, err)
	require.NoError(t, rc.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, rc.Stop(stopCtx))
	})
}

// waitFinal waits until every contact of the campaign is final.
func (b *e2eBundle) waitFinal(t *testing.T, within time.Duration) campaign.Progress {
	t.Helper()
	var p campaign.Progress
	finished := assert.Eventually(t, func() bool {
		var err error
		p, err = b.store.Progress(context.Background(), b.c.ID)
		require.NoError(t, err)
		return p.Final()
	}, within, 100*time.Millisecond)
	require.True(t, finished, "campaign never finished: %+v", p) // p as last seen, not as at the start
	return p
}

// checkGuarantees asserts no double dial, no lost result and the cap.
func (b *e2eBundle) checkGuarantees(t *testing.T, maxConcurrent int) {
	t.Helper()
	ctx := context.Background()
	// No number was called twice: the campaign retries nothing (--retry none) and allows one
	// attempt (so the simulator's callback requests end the contact), so each contact is final
	// after its first real call and each number has at most one call that was not
	// refused for capacity.
	called := map[string]int{}
	for _, call := range b.sim.Calls() {
		if call.EndedReason != vapi.EndedReasonConcurrencyLimitReached {
			called[call.Number]++
		}
	}
	for number, n := range called {
		require.LessOrEqual(t, n, 1, "number %s was called %d times", number, n)
	}
	// No lost result: every call the simulator placed has its result recorded.
	for _, call := range b.sim.Calls() {
		if call.EndedReason == vapi.EndedReasonConcurrencyLimitReached {
			continue
		}
		att, err := b.store.AttemptByCallID(ctx, call.ID)
		require.NoError(t, err, "call %s (%s) has no attempt", call.ID, call.Number)
		require.NotNil(t, att.ReportAt, "call %s has no recorded result", call.ID)
		require.Equal(t, call.EndedReason, att.EndedReason)
	}
	// The cap held.
	_, maxLive := b.sim.Concurrency()
	require.LessOrEqual(t, maxLive, maxConcurrent)
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	b := setupE2E(t, 40, 5, vapitest.Faults{})
	b.startRunner(t)
	p := b.waitFinal(t, time.Minute)
	require.Equal(t, 40, p.Total)
	b.checkGuarantees(t, 5)
}

func TestEndToEndWithFaultsAndTwoProcesses(t *testing.T) {
	t.Parallel()
	const cap = 4
	b := setupE2E(t, 60, cap, vapitest.Faults{
		CreateErrorBefore: 0.05, CreateErrorAfter: 0.05, CreateTimeout: 0.05, CreateDrop: 0.05,
		RateLimitBurst: 0.03, RateLimitBurstLength: 2,
		WebhookDrop: 0.1, WebhookDuplicate: 0.1, WebhookReorder: 0.1, WebhookDelay: 0.1, WebhookDelayBy: 2 * time.Second,
	})
	b.startRunner(t)
	b.startRunner(t)
	p := b.waitFinal(t, 2*time.Minute)
	require.Equal(t, 60, p.Total)
	b.checkGuarantees(t, cap)
	faults := b.sim.FaultCounts()
	require.Positive(t, faults[vapitest.FaultCreateErrorAfter]+faults[vapitest.FaultCreateTimeout]+faults[vapitest.FaultCreateDrop],
		"the run met ambiguous failures: %v", faults)
}

// TestEndToEndPollingOnly runs a campaign whose calls tell Vapi no webhook address (no
// --public-url): every result arrives through the reconciler's GET /call.
func TestEndToEndPollingOnly(t *testing.T) {
	t.Parallel()
	b := setupE2E(t, 10, 5, vapitest.Faults{}, withoutPublicURL)
	b.startRunner(t)
	b.waitFinal(t, time.Minute)
	b.checkGuarantees(t, 5)
	require.Empty(t, b.sim.Deliveries(), "no webhook was sent")
}

// TestTwoCampaignsSideBySide runs two campaigns in one database, each with a runner process of
// its own: each runner sees only its campaign, and both finish (River's periodic jobs run on
// one leader only, so each runner schedules its own campaign's work).
func TestTwoCampaignsSideBySide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupE2E(t, 8, 3, vapitest.Faults{})
	reader, err := campaign.NewReader(strings.NewReader("phone\n+1 212 555 0101\n+1 212 555 0102\n"), campaign.ReaderOptions{})
	require.NoError(t, err)
	settings := b.c.Settings
	second, err := b.store.Import(ctx, campaign.NewCampaign{Name: "second", Settings: settings}, campaign.ImportInput{Reader: reader})
	require.NoError(t, err)
	require.NoError(t, b.store.Start(ctx, second.ID, time.Now()))

	b.startRunnerFor(t, second.ID)
	b.startRunner(t)
	b.waitFinal(t, time.Minute)
	require.Eventually(t, func() bool {
		p, err := b.store.Progress(ctx, second.ID)
		require.NoError(t, err)
		return p.Final()
	}, time.Minute, 100*time.Millisecond)
	b.checkGuarantees(t, 3)
}

// TestPauseHoldsAcrossProcesses pauses a campaign dialed by two runner processes: no attempt
// starts after the pause is committed, and the calls in flight still end with their results
// recorded.
func TestPauseHoldsAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupE2E(t, 30, 10, vapitest.Faults{}, func(s *campaign.Settings) { s.RatePerSecond = 5 })
	// Calls end by their status-update before their results arrive (here by the reconciler),
	// as they sometimes do with every report delivered.
	b.dropReports.Store(true)
	b.startRunner(t)
	b.startRunner(t)
	b.waitProgress(t, 30*time.Second, func(p campaign.Progress) bool { return p.Attempts >= 5 })

	require.NoError(t, b.store.Pause(ctx, b.c.ID, time.Now()))
	pausedAt := time.Now()

	// Calls in flight end and their results are in; nothing new starts. A call ends (is no
	// longer live) at its status-update "ended"; its contact stays in_call until the result.
	b.waitProgress(t, time.Minute, func(p campaign.Progress) bool {
		return p.Live == 0 && p.ByState[campaign.ContactInCall] == 0
	})
	p, err := b.store.Progress(ctx, b.c.ID)
	require.NoError(t, err)
	require.Less(t, p.Attempts, 30, "the pause stopped the campaign before the end")
	b.requireNoAttemptAfter(t, pausedAt)
	b.checkGuarantees(t, 10)
}

// TestPauseWhileDialsWaitAtTheCap pauses a campaign whose cap of 2 two runner processes keep
// full, its other queued dials waiting in their jobs for a slot (the room watch): no attempt
// starts after the pause is committed, the waiting dials put their contacts back to pending, and
// the cap held across both processes.
func TestPauseWhileDialsWaitAtTheCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const cap = 2
	b := setupE2E(t, 40, cap, vapitest.Faults{})
	b.startRunner(t)
	b.startRunner(t)
	b.waitProgress(t, 30*time.Second, func(p campaign.Progress) bool {
		return p.Attempts >= 6 && p.ByState[campaign.ContactQueued] > 0
	})

	require.NoError(t, b.store.Pause(ctx, b.c.ID, time.Now()))
	pausedAt := time.Now()

	b.waitProgress(t, time.Minute, func(p campaign.Progress) bool {
		return p.Live == 0 && p.ByState[campaign.ContactInCall] == 0 && p.ByState[campaign.ContactQueued] == 0
	})
	p, err := b.store.Progress(ctx, b.c.ID)
	require.NoError(t, err)
	require.Positive(t, p.ByState[campaign.ContactPending], "the pause left contacts to call")
	b.requireNoAttemptAfter(t, pausedAt)
	b.checkGuarantees(t, cap)
}

// waitProgress waits until cond holds of the campaign's progress.
func (b *e2eBundle) waitProgress(t *testing.T, within time.Duration, cond func(campaign.Progress) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		p, err := b.store.Progress(context.Background(), b.c.ID)
		require.NoError(t, err)
		return cond(p)
	}, within, 20*time.Millisecond)
}

// requireNoAttemptAfter asserts that no attempt of the campaign started after at (a pause).
func (b *e2eBundle) requireNoAttemptAfter(t *testing.T, at time.Time) {
	t.Helper()
	var lastStart time.Time
	require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT max(created_at) FROM attempt WHERE campaign_id = $1`,
		b.c.ID).Scan(&lastStart))
	require.False(t, lastStart.After(at), "an attempt started %s after the pause", lastStart.Sub(at))
}

func (b *e2eBundle) pool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), b.dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}
