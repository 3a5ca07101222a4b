package campaign_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestBudgetUseAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		use     campaign.BudgetUse
		maxCost float64
		want    bool
	}{
		{"nothing spent, no mean yet", campaign.BudgetUse{}, 1, true},
		{"prior 0 lets calls through while none is priced", campaign.BudgetUse{Unpriced: 50}, 1, true},
		{"spent reaches the cap", campaign.BudgetUse{SpentUSD: 1}, 1, false},
		{"spent passes the cap", campaign.BudgetUse{SpentUSD: 1.5}, 1, false},
		{"one more call fits exactly", campaign.BudgetUse{SpentUSD: 0.5, MeanUSD: 0.25, Unpriced: 1}, 1, true},
		{"one more call would pass", campaign.BudgetUse{SpentUSD: 0.5, MeanUSD: 0.25, Unpriced: 2}, 1, false},
		{"live calls count at the mean", campaign.BudgetUse{SpentUSD: 0.25, MeanUSD: 0.125, Unpriced: 5}, 1, true},
		{"live calls count at the mean, one too many", campaign.BudgetUse{SpentUSD: 0.25, MeanUSD: 0.125, Unpriced: 6}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.use.Allows(tt.maxCost))
		})
	}
}

// setBudget sets b's campaign's cap through SetPacing and checks it reads back.
func (b *testBundle) setBudget(t *testing.T, usd float64) {
	t.Helper()
	require.NoError(t, b.store.SetPacing(b.ctx, b.camp.ID, campaign.Pacing{MaxCostUSD: &usd}, t0))
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	if usd == 0 {
		require.Nil(t, c.MaxCostUSD)
		return
	}
	require.NotNil(t, c.MaxCostUSD)
	require.InDelta(t, usd, *c.MaxCostUSD, 1e-9)
}

// result records the end-of-call report of attempt a with the given cost.
func (b *testBundle) result(t *testing.T, a *campaign.Attempt, cost float64, now time.Time) {
	t.Helper()
	applied, err := b.store.ApplyResult(b.ctx, campaign.CallResult{AttemptKey: a.Key, EndedReason: "customer-ended-call",
		Cost: &cost}, now)
	require.NoError(t, err)
	require.True(t, applied)
}

func (b *testBundle) budget(t *testing.T) campaign.BudgetUse {
	t.Helper()
	u, err := b.store.Budget(b.ctx, b.camp.ID)
	require.NoError(t, err)
	return u
}

// budgetPausedMetric is LiveCalls' BudgetPaused for b's campaign (what campaign_budget_paused shows).
func (b *testBundle) budgetPausedMetric(t *testing.T) bool {
	t.Helper()
	list, err := b.store.LiveCalls(b.ctx, time.Time{})
	require.NoError(t, err)
	for _, l := range list {
		if l.ID == b.camp.ID {
			return l.BudgetPaused
		}
	}
	t.Fatalf("campaign %d not in LiveCalls", b.camp.ID)
	return false
}

func TestBeginAttemptBudgetCapPausesThenRaiseAndResume(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 5, maxConcurrent: 3})
	b.setBudget(t, 1)
	b.queueAll(t)

	// No call has a cost yet: the prior (0) lets calls through up to the concurrency cap.
	a0 := b.grant(t, b.contacts[0], t0)
	a1 := b.grant(t, b.contacts[1], t0)
	b.result(t, a0, 0.40, t0.Add(time.Minute))
	require.Equal(t, campaign.BudgetUse{SpentUSD: 0.40, MeanUSD: 0.40, Unpriced: 1}, b.budget(t))

	// 0.40 spent + 0.40 expected for the live call + 0.40 for this one = 1.20 > 1: refused, and
	// the campaign pauses for its budget; the contact goes back to pending.
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[2], t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, campaign.DialGrant{Refusal: campaign.RefuseBudget}, g)
	require.Equal(t, campaign.ContactPending, b.contact(t, b.contacts[2]).State)
	p, err := b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusPaused, p.Status)
	require.Equal(t, campaign.PauseBudget, p.PausedReason)
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.PauseBudget, c.PausedReason)
	require.True(t, b.budgetPausedMetric(t), "the metrics' source sees the pause")

	// The other queued contacts find the campaign paused.
	g, err = b.store.BeginAttempt(b.ctx, b.contacts[3], t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNotRunning, g.Refusal)

	// The live call ends and its cost arrives: recorded, and the running mean follows it.
	b.result(t, a1, 0.10, t0.Add(2*time.Minute))
	require.Equal(t, campaign.BudgetUse{SpentUSD: 0.50, MeanUSD: 0.25}, b.budget(t))

	// Raising the cap does not resume by itself; resume does, and clears the reason.
	b.setBudget(t, 2)
	require.Equal(t, campaign.StatusPaused, b.status(t))
	_, err = b.store.Resume(b.ctx, b.camp.ID, campaign.ResumeOptions{}, t0.Add(3*time.Minute))
	require.NoError(t, err)
	p, err = b.store.Progress(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, p.Status)
	require.Equal(t, campaign.PauseOperator, p.PausedReason)
	require.False(t, b.budgetPausedMetric(t))
	b.queue(t, b.contacts[2], b.contacts[3])
	b.grant(t, b.contacts[2], t0.Add(3*time.Minute))
	b.grant(t, b.contacts[3], t0.Add(3*time.Minute))
	require.Equal(t, campaign.BudgetUse{SpentUSD: 0.50, MeanUSD: 0.25, Unpriced: 2}, b.budget(t))
}

func TestBudgetCountsLateCosts(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 4, maxConcurrent: 4})
	b.setBudget(t, 1)
	b.queueAll(t)

	a0 := b.grant(t, b.contacts[0], t0)
	b.result(t, a0, 0.30, t0.Add(time.Minute))
	a1 := b.grant(t, b.contacts[1], t0.Add(time.Minute))
	require.NoError(t, b.store.CallCreated(b.ctx, a1.ID, "call-1", t0.Add(time.Minute), t0.Add(time.Minute)))
	// The call ends by its status-update: no report, no cost yet. It still counts at the mean.
	require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "call-1", a1.Key, "ended", "customer-ended-call", t0.Add(2*time.Minute)))
	require.Zero(t, b.live(t))
	require.Equal(t, campaign.BudgetUse{SpentUSD: 0.30, MeanUSD: 0.30, Unpriced: 1}, b.budget(t))
	// 0.30 + 0.30 (ended, unpriced) + 0.30 (this one) = 0.90 <= 1.
	a2 := b.grant(t, b.contacts[2], t0.Add(2*time.Minute))
	// 0.30 + 2 × 0.30 + 0.30 = 1.20 > 1.
	g, err := b.store.BeginAttempt(b.ctx, b.contacts[3], t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseBudget, g.Refusal)

	// The late report brings the cost: spent is the sum of recorded costs.
	b.result(t, a1, 0.50, t0.Add(3*time.Minute))
	b.result(t, a2, 0.10, t0.Add(3*time.Minute))
	require.Equal(t, campaign.BudgetUse{SpentUSD: 0.90, MeanUSD: 0.30}, b.budget(t))

	// Removing the cap lets every call through again.
	b.setBudget(t, 0)
	_, err = b.store.Resume(b.ctx, b.camp.ID, campaign.ResumeOptions{}, t0.Add(4*time.Minute))
	require.NoError(t, err)
	b.queue(t, b.contacts[3])
	b.grant(t, b.contacts[3], t0.Add(4*time.Minute))
}

func TestSetPacingRefusesNegativeMaxCost(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	err := b.store.SetPacing(b.ctx, b.camp.ID, campaign.Pacing{MaxCostUSD: ptr(-1.0)}, t0)
	require.ErrorContains(t, err, "max cost")
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Nil(t, c.MaxCostUSD)
}
