package campaign_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// roundFacts rounds the sums of f to 1e-9 USD or second: the tallies sum in numeric, the
// oracle in float8, so the two may differ in the last bits.
func roundFacts(f *campaign.ReportFacts) {
	r := func(x *float64) { *x = math.Round(*x*1e9) / 1e9 }
	c := &f.Cost
	for _, x := range []*float64{&c.TotalUSD, &c.TransportUSD, &c.STTUSD, &c.LLMUSD, &c.TTSUSD, &c.VapiUSD, &c.AnalysisUSD,
		&f.Duration.Mean, &f.Duration.P50, &f.Duration.P90, &f.Duration.TotalSeconds} {
		r(x)
	}
	for i := range f.Groups {
		r(&f.Groups[i].CostUSD)
		r(&f.Groups[i].DurationSeconds)
	}
	for i := range f.ByCallerNumber {
		r(&f.ByCallerNumber[i].CostUSD)
	}
	f.ReadAt = time.Time{}
}

// requireTallies checks every figure Progress, CampaignTotals, ReportFacts and the campaign
// list read from the tallies against the scans of the oracle, with the deltas pending, then compacted.
func (b *testBundle) requireTallies(t *testing.T, step string) {
	t.Helper()
	for _, compacted := range []bool{false, true} {
		if compacted {
			_, err := b.store.CompactTallies(b.ctx)
			require.NoError(t, err, step)
		}
		msg := []any{"%s (compacted: %v)", step, compacted}
		want, err := b.store.OracleReportFacts(b.ctx, b.camp.ID)
		require.NoError(t, err, msg...)
		got, err := b.store.ReportFacts(b.ctx, b.camp.ID)
		require.NoError(t, err, msg...)
		roundFacts(want)
		roundFacts(got)
		require.Equal(t, want, got, msg...)

		wantP, err := b.store.OracleProgress(b.ctx, b.camp.ID)
		require.NoError(t, err, msg...)
		gotP, err := b.store.Progress(b.ctx, b.camp.ID)
		require.NoError(t, err, msg...)
		require.InDelta(t, wantP.Cost, gotP.Cost, 1e-9, msg...)
		wantP.Cost, gotP.Cost = 0, 0
		require.Equal(t, wantP, gotP, msg...)

		wantT, err := b.store.OracleCampaignTotals(b.ctx, b.camp.ID)
		require.NoError(t, err, msg...)
		gotT, err := b.store.CampaignTotals(b.ctx, []int64{b.camp.ID})
		require.NoError(t, err, msg...)
		require.Len(t, gotT, 1, msg...)
		require.InDelta(t, wantT.Cost, gotT[0].Cost, 1e-9, msg...)
		cost := wantT.Cost
		wantT.Cost, gotT[0].Cost = 0, 0
		require.Equal(t, wantT, gotT[0], msg...)

		list, err := b.store.ListCampaignsPage(b.ctx, campaign.ListPage{})
		require.NoError(t, err, msg...)
		found := false
		for _, c := range list {
			if c.ID == b.camp.ID {
				found = true
				require.Equal(t, []int{wantP.Total, wantP.FinalCount(), wantP.Live}, []int{c.Contacts, c.Final, c.Live}, msg...)
				require.InDelta(t, cost, c.Cost, 1e-9, msg...)
			}
		}
		require.True(t, found, msg...)
	}
}

// pendingTallies counts the tally rows and pending deltas of a campaign.
func (b *testBundle) pendingTallies(t *testing.T, campaignID int64) (totals, deltas int) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT (SELECT count(*) FROM tally WHERE campaign_id = $1), (SELECT count(*) FROM tally_delta WHERE campaign_id = $1)`,
		campaignID).Scan(&totals, &deltas))
	return totals, deltas
}

func TestTallies(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 7, maxConcurrent: 10, retry: "no_answer=1@1h"})
	b.requireTallies(t, "import")

	// A zone Postgres does not know: its calls have no local hour. A zone may change until the
	// contact has an attempt, not after.
	_, err := b.pool.Exec(b.ctx, `UPDATE contact SET time_zones = '{Mars/Olympus}' WHERE id = $1`, b.contacts[5])
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `UPDATE contact SET time_zones = '{Asia/Kathmandu}' WHERE id = $1`, b.contacts[6])
	require.NoError(t, err)
	b.requireTallies(t, "zone changed")

	dial := func(contact int, at time.Time) *campaign.Attempt {
		t.Helper()
		if b.contact(t, b.contacts[contact]).State == campaign.ContactPending {
			b.queue(t, b.contacts[contact])
		}
		b.requireTallies(t, "queued")
		a := b.grant(t, b.contacts[contact], at)
		b.requireTallies(t, "dialed")
		return a
	}
	created := func(a *campaign.Attempt, callID string, at time.Time) {
		t.Helper()
		require.NoError(t, b.store.CallCreated(b.ctx, a.ID, callID, at.Add(time.Second), at))
		b.requireTallies(t, "call created")
	}
	end := func(callID, reason string, started time.Time, duration, cost float64, eval, breakdown string) {
		t.Helper()
		ended := started.Add(time.Duration(duration * float64(time.Second)))
		res := campaign.CallResult{CallID: callID, EndedReason: reason, EndedAt: &ended, Cost: &cost, SuccessEvaluation: eval}
		if duration > 0 {
			res.StartedAt, res.DurationSeconds = &started, &duration
		}
		if breakdown != "" {
			res.CostBreakdown = json.RawMessage(breakdown)
		}
		applied, err := b.store.ApplyResult(b.ctx, res, ended.Add(5*time.Second))
		require.NoError(t, err)
		require.True(t, applied)
		b.requireTallies(t, "result "+reason)
	}

	a := dial(0, t0)
	created(a, "c0", t0)
	require.NoError(t, b.store.ApplyStatus(b.ctx, b.camp.ID, "c0", a.Key, "in-progress", "", t0.Add(10*time.Second)))
	b.requireTallies(t, "status in-progress")
	end("c0", "customer-ended-call", t0.Add(10*time.Second), 100, 0.2, " Yes ",
		`{"transport": 0.01, "stt": 0.02, "llm": 0.03, "tts": 0.04, "vapi": 0.05,
		  "analysisCostBreakdown": {"summary": 0.001, "successEvaluation": 0.002}}`)

	// No answer, then the retry an hour later connects.
	a = dial(1, t0)
	created(a, "c1", t0)
	end("c1", "customer-did-not-answer", t0, 0, 0, "", "")
	require.NoError(t, b.store.RequeueContact(b.ctx, b.contacts[1], t0.Add(time.Hour), t0.Add(time.Minute)))
	b.requireTallies(t, "requeued")
	a = dial(1, t0.Add(2*time.Hour))
	created(a, "c1b", t0.Add(2*time.Hour))
	end("c1b", "assistant-ended-call", t0.Add(2*time.Hour), 300, 0.5, "false", `{"transport": "n/a"}`)

	// Refused before any call (no call), then dialed again and left live.
	a = dial(2, t0)
	require.NoError(t, b.store.CallNotCreated(b.ctx, a.ID, campaign.NotCreatedRetryable, "", "vapi 503", t0, t0))
	b.requireTallies(t, "not created")
	a = dial(2, t0.Add(time.Minute))
	created(a, "c2", t0.Add(time.Minute))

	// Blocked by Vapi's concurrency limit: no call.
	a = dial(3, t0)
	created(a, "c3", t0)
	end("c3", "call.start.error-subscription-concurrency-limit-reached", t0, 0, 0, "", "")

	// Unknown zone; a zone 5:45 ahead of UTC.
	a = dial(5, t0)
	created(a, "c5", t0)
	end("c5", "customer-ended-call", t0.Add(7*time.Minute), 20, 0.05, "pass", "")
	a = dial(6, t0.Add(50*time.Minute))
	created(a, "c6", t0.Add(50*time.Minute))
	end("c6", "customer-ended-call", t0.Add(50*time.Minute), 45, 0.07, "true", "")

	_, err = b.pool.Exec(b.ctx, `UPDATE contact SET time_zones = '{UTC}' WHERE id = $1`, b.contacts[6])
	require.ErrorContains(t, err, "cannot change once it has an attempt")

	require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0.Add(3*time.Hour)))
	b.requireTallies(t, "paused")
	_, err = b.store.Resume(b.ctx, b.camp.ID, campaign.ResumeOptions{}, t0.Add(3*time.Hour))
	require.NoError(t, err)
	b.requireTallies(t, "resumed")

	// Suppressed while queued: the suppression settles the contact.
	var phone string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT phone FROM contact WHERE id = $1`, b.contacts[4]).Scan(&phone))
	b.queue(t, b.contacts[4])
	_, err = b.store.AddSuppressions(b.ctx, []campaign.Suppression{{Phone: phone, Reason: "asked", Source: "cli"}}, t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, campaign.ContactDoNotCall, b.contact(t, b.contacts[4]).State)
	b.requireTallies(t, "suppressed")

	_, err = b.store.Cancel(b.ctx, b.camp.ID, t0.Add(4*time.Hour))
	require.NoError(t, err)
	b.requireTallies(t, "cancelled")
	end("c2", "customer-ended-call", t0.Add(time.Minute), 61, 0.1, "false", "")

	f, err := b.store.ReportFacts(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.NotEmpty(t, f.Groups, "the campaign has figures to compare")
	require.NotEmpty(t, f.ByCallNumber)
	require.NotEmpty(t, f.Zones)
	require.Positive(t, f.Duration.Calls)
	require.Positive(t, f.UnknownHourCalls)

	totals, _ := b.pendingTallies(t, b.camp.ID)
	require.Positive(t, totals)
	_, err = b.store.DeleteCampaign(b.ctx, b.camp.ID, campaign.DeleteOptions{Purge: true, Force: true})
	require.NoError(t, err)
	_, err = b.store.CompactTallies(b.ctx)
	require.NoError(t, err)
	totals, deltas := b.pendingTallies(t, b.camp.ID)
	require.Equal(t, []int{0, 0}, []int{totals, deltas}, "a deleted campaign's tallies go with it")
}

// TestTalliesConcurrentWriters changes two attempts of one contact in two transactions at once:
// the facts of the contact's calls taken together (first connected call, connected contacts)
// stay exact because the trigger waits for the other transaction before it recomputes them.
func TestTalliesConcurrentWriters(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1, retry: "no_answer=2@1h"})
	var ids []int64
	for i, at := range []time.Time{t0, t0.Add(2 * time.Hour)} {
		if b.contact(t, b.contacts[0]).State == campaign.ContactPending {
			b.queue(t, b.contacts[0])
		}
		a := b.grant(t, b.contacts[0], at)
		callID := []string{"w1", "w2"}[i]
		require.NoError(t, b.store.CallCreated(b.ctx, a.ID, callID, at, at))
		end := at.Add(time.Minute)
		applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{CallID: callID, EndedReason: "customer-did-not-answer", EndedAt: &end}, end)
		require.NoError(t, err)
		require.True(t, applied)
		require.NoError(t, b.store.RequeueContact(b.ctx, b.contacts[0], end, end))
		ids = append(ids, a.ID)
	}
	b.requireTallies(t, "two unanswered calls")

	// Both calls turn out connected (late reports), in two transactions at once.
	connect := func(tx pgx.Tx, id int64) error {
		_, err := tx.Exec(b.ctx, `UPDATE attempt SET outcome = 'completed', success_evaluation = 'true' WHERE id = $1`, id)
		return err
	}
	first, firstPID := b.lockingTx(t)
	require.NoError(t, connect(first, ids[0]))
	second, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer second.Rollback(b.ctx) //nolint:errcheck // a no-op after the commit
	done := make(chan error, 1)
	go func() {
		if err := connect(second, ids[1]); err != nil {
			done <- err
			return
		}
		done <- second.Commit(context.Background())
	}()
	// The second writer waits for the first's lock of the contact. Without it, it would finish
	// at once, having recomputed the contact's calls from a snapshot without the first's change:
	// both would count the contact's first connected call, and the figures below would drift.
	var (
		finished  bool
		secondErr error
	)
	require.Eventually(t, func() bool {
		select {
		case secondErr = <-done:
			finished = true
			return true
		default:
		}
		var n int
		err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
			firstPID).Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, 5*time.Millisecond, "the second writer neither waited nor finished")
	require.NoError(t, first.Commit(b.ctx))
	if !finished {
		secondErr = <-done
	}
	require.NoError(t, secondErr)
	b.requireTallies(t, "two writers")

	f, err := b.store.ReportFacts(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, []campaign.CallNumberFacts{
		{Number: 1, Calls: 1, Connected: 1, Successful: 1, FirstConnected: 1, FirstSuccessful: 1},
		{Number: 2, Calls: 1, Connected: 1, Successful: 1},
	}, f.ByCallNumber)
	require.Equal(t, 1, f.Zones[0].Connected)
}

// TestCompactTalliesSkipsACampaignBeingDeleted: while a deletion holds its campaign's row (FOR
// UPDATE, as DeleteCampaign and an import replacing a draft do), the compactor leaves that
// campaign's deltas alone instead of waiting for the row in a foreign-key check of a new total
// (which, with the deletion's cascade waiting for a total the fold had updated, deadlocked), and
// folds them once the row is free.
func TestCompactTalliesSkipsACampaignBeingDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2})
	deletion, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer deletion.Rollback(b.ctx)
	_, err = deletion.Exec(b.ctx, `SELECT 1 FROM campaign WHERE id = $1 FOR UPDATE`, b.camp.ID)
	require.NoError(t, err)
	// Changes of the campaign's contacts while the row is held (one there and back, which the
	// campaign's own counts do not see): deltas the compactor finds.
	for _, state := range []campaign.ContactState{campaign.ContactQueued, campaign.ContactPending} {
		_, err = b.pool.Exec(b.ctx, `UPDATE contact SET state = $2 WHERE id = $1`, b.contacts[0], state)
		require.NoError(t, err)
	}

	// Before the fix the fold waited here for the deletion's lock until this deadline.
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	_, err = b.store.CompactTallies(ctx)
	require.NoError(t, err, "the compactor does not wait for a campaign being deleted")
	_, deltas := b.pendingTallies(t, b.camp.ID)
	require.Positive(t, deltas, "the held campaign's deltas are left for a later run")

	require.NoError(t, deletion.Rollback(b.ctx))
	// Other tests' compactors share the database: whichever runs folds the deltas.
	for deltas > 0 {
		_, err = b.store.CompactTallies(ctx)
		require.NoError(t, err)
		_, deltas = b.pendingTallies(t, b.camp.ID)
	}
	b.requireTallies(t, "after the held campaign was folded")
}
