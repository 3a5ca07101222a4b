package campaign_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// TestAccountLimitSpansCampaigns: the limit learned for a Vapi account caps the live attempts of
// every campaign on it together, whatever each campaign's own cap.
func TestAccountLimitSpansCampaigns(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 4, maxConcurrent: 50})
	r, err := campaign.NewReader(strings.NewReader("phone\n+14155550900\n+14155550901\n"), campaign.ReaderOptions{})
	require.NoError(t, err)
	other, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: "other", Settings: campaign.Settings{
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", MaxConcurrent: 50, MaxAttempts: 1, RetryPolicy: "none",
	}}, campaign.ImportInput{Reader: r})
	require.NoError(t, err)
	require.NoError(t, b.store.Start(b.ctx, other.ID, t0))
	for _, id := range []int64{b.camp.ID, other.ID} {
		require.NoError(t, b.store.UseAccount(b.ctx, id, "acct"))
	}
	_, err = b.pool.Exec(b.ctx, `
		WITH c AS (UPDATE contact SET state = 'queued' WHERE campaign_id = $1 RETURNING 1)
		UPDATE campaign SET queued_contacts = (SELECT count(*) FROM c) WHERE id = $1`, other.ID)
	require.NoError(t, err)
	b.queueAll(t)

	// Nothing learned yet: the campaign's own cap applies.
	a := b.grant(t, b.contacts[0], t0)
	// Vapi reports a limit of 2 with 2 remaining (nothing else live on the account).
	require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", a.ID, campaign.AccountLimits{Limit: 2, Remaining: 2}, t0))
	limit, err := b.store.AccountLimit(b.ctx, other.ID)
	require.NoError(t, err)
	require.Equal(t, 2, *limit)

	otherContacts, err := b.store.Contacts(b.ctx, other.ID, 2)
	require.NoError(t, err)
	g, err := b.store.BeginAttempt(b.ctx, otherContacts[0].ID, t0)
	require.NoError(t, err)
	require.NotNil(t, g.Attempt, "refused: %s", g.Refusal)
	g, err = b.store.BeginAttempt(b.ctx, b.contacts[1], t0)
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseAccountLimit, g.Refusal, "the other campaign's live call counts against the account")
	g, err = b.store.BeginAttempt(b.ctx, otherContacts[1].ID, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseAccountLimit, g.Refusal, "with a reported limit, no probe")

	// An end frees a slot for either campaign.
	require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "", a.Key, "ended", "customer-ended-call", t0.Add(time.Minute)))
	b.grant(t, b.contacts[1], t0.Add(time.Minute))
}

// TestAccountLimitFromRefusalsAndProbes: without a reported limit, a refusal teaches the account's
// limit (the other live calls), and one call above it is tried every AccountProbeInterval; a
// probe that is placed raises the limit.
func TestAccountLimitFromRefusalsAndProbes(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 6, maxConcurrent: 50})
	require.NoError(t, b.store.UseAccount(b.ctx, b.camp.ID, "acct"))
	b.queueAll(t)
	a1 := b.grant(t, b.contacts[0], t0)
	// Placed; Vapi reports no limit: the account is no longer scouted.
	require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", a1.ID, campaign.AccountLimits{}, t0))
	require.NoError(t, b.store.CallCreated(b.ctx, a1.ID, "call-1", t0, t0))
	b.grant(t, b.contacts[1], t0)
	refused := b.grant(t, b.contacts[2], t0)
	require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", refused.ID, campaign.AccountLimits{Refused: true}, t0))
	require.NoError(t, b.store.CallNotCreated(b.ctx, refused.ID, campaign.NotCreatedCapacity, "", "concurrency", t0, t0))
	limit, err := b.store.AccountLimit(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, 2, *limit)

	g, err := b.store.BeginAttempt(b.ctx, b.contacts[3], t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseAccountLimit, g.Refusal)
	probeAt := t0.Add(campaign.AccountProbeInterval)
	probe := b.grant(t, b.contacts[3], probeAt)
	g, err = b.store.BeginAttempt(b.ctx, b.contacts[4], probeAt)
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseAccountLimit, g.Refusal, "one probe per interval")

	// The probe was placed: the account allows 3.
	require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", probe.ID, campaign.AccountLimits{}, probeAt))
	limit, err = b.store.AccountLimit(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, 3, *limit)
	require.NoError(t, b.store.ApplyStatus(b.ctx, 0, "", a1.Key, "ended", "customer-ended-call", probeAt))
	b.grant(t, b.contacts[4], probeAt)
}

// TestAccountLimitScoutsFirst: while nothing is known of the account, one call at a time is
// asked for, so that Vapi's first answer teaches the limit before a burst of dials it would
// refuse; once an answer came (with or without a limit), or when the first call had no answer
// for AccountScoutTimeout, the dials are no longer held back.
func TestAccountLimitScoutsFirst(t *testing.T) {
	t.Parallel()
	start := func(t *testing.T) *testBundle {
		b := setup(t, setupOpts{contacts: 4, maxConcurrent: 50})
		require.NoError(t, b.store.UseAccount(b.ctx, b.camp.ID, "acct"))
		b.queueAll(t)
		return b
	}
	refused := func(t *testing.T, b *testBundle, contactID int64, now time.Time, msg string) {
		t.Helper()
		g, err := b.store.BeginAttempt(b.ctx, contactID, now)
		require.NoError(t, err)
		require.Equal(t, campaign.RefuseAccountLimit, g.Refusal, msg)
	}

	t.Run("reported limit", func(t *testing.T) {
		t.Parallel()
		b := start(t)
		scout := b.grant(t, b.contacts[0], t0)
		refused(t, b, b.contacts[1], t0, "nothing known of the account: one call until its answer")
		require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", scout.ID, campaign.AccountLimits{Limit: 10, Remaining: 10}, t0))
		b.grant(t, b.contacts[1], t0)
		b.grant(t, b.contacts[2], t0)
	})
	t.Run("no limit reported", func(t *testing.T) {
		t.Parallel()
		b := start(t)
		scout := b.grant(t, b.contacts[0], t0)
		refused(t, b, b.contacts[1], t0, "nothing known of the account: one call until its answer")
		require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", scout.ID, campaign.AccountLimits{}, t0))
		require.NoError(t, b.store.CallCreated(b.ctx, scout.ID, "call-1", t0, t0))
		b.grant(t, b.contacts[1], t0)
		b.grant(t, b.contacts[2], t0)
		limit, err := b.store.AccountLimit(b.ctx, b.camp.ID)
		require.NoError(t, err)
		require.Nil(t, limit, "a call placed without a reported limit teaches no limit")
	})
	t.Run("scout without an answer", func(t *testing.T) {
		t.Parallel()
		b := start(t)
		b.grant(t, b.contacts[0], t0)
		refused(t, b, b.contacts[1], t0.Add(campaign.AccountScoutTimeout-time.Second), "the first call may still be answered")
		b.grant(t, b.contacts[1], t0.Add(campaign.AccountScoutTimeout))
	})
}

// TestLearnAccountLimitRepeatedLocksNothing: an answer that teaches what is known already (nearly
// every answer) does not lock the account's row, which every dial on the account locks: it returns
// while another transaction holds that row.
func TestLearnAccountLimitRepeatedLocksNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 1, maxConcurrent: 5})
	require.NoError(t, b.store.UseAccount(b.ctx, b.camp.ID, "acct"))
	b.queueAll(t)
	a := b.grant(t, b.contacts[0], t0)
	answer := campaign.AccountLimits{Limit: 10, Remaining: 10} // nothing else live on the account
	require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", a.ID, answer, t0))

	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(b.ctx) }()
	_, err = tx.Exec(b.ctx, `SELECT 1 FROM vapi_account WHERE id = 'acct' FOR UPDATE`)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second) // a bound on a hang, not a timing
	defer cancel()
	require.NoError(t, b.store.LearnAccountLimit(ctx, "acct", a.ID, answer, t0.Add(time.Second)),
		"the same answer waited for the account's row")
	require.NoError(t, tx.Rollback(b.ctx))

	limit, err := b.store.AccountLimit(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, 10, *limit)
	// A different answer is still learned.
	require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", a.ID, campaign.AccountLimits{Limit: 4, Remaining: 4}, t0.Add(time.Second)))
	limit, err = b.store.AccountLimit(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, 4, *limit)
}

// TestLearnAccountLimitLeavesOthersCalls: with a reported limit L and remaining R, the calls Vapi
// had live (L-R) beyond the account's own other live attempts are someone else's, and the limit
// learned leaves them out; when Vapi had no more live than the runner (the count stops there),
// the whole reported limit is the runner's.
func TestLearnAccountLimitLeavesOthersCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 3, maxConcurrent: 50})
	require.NoError(t, b.store.UseAccount(b.ctx, b.camp.ID, "acct"))
	b.queueAll(t)
	scout := b.grant(t, b.contacts[0], t0)
	require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", scout.ID, campaign.AccountLimits{Limit: 10, Remaining: 10}, t0))
	b.grant(t, b.contacts[1], t0)
	last := b.grant(t, b.contacts[2], t0) // the answer is last's: the account's other live attempts are 2

	for _, tc := range []struct {
		remaining, want int
	}{
		{remaining: 5, want: 7},  // Vapi had 5 live, 2 of them the runner's: 3 someone else's
		{remaining: 9, want: 10}, // Vapi had 1 live, fewer than the runner's 2: none someone else's
		{remaining: 3, want: 5},  // 7 live, 5 someone else's
		{remaining: 8, want: 10}, // 2 live, both the runner's
	} {
		require.NoError(t, b.store.LearnAccountLimit(b.ctx, "acct", last.ID,
			campaign.AccountLimits{Limit: 10, Remaining: tc.remaining}, t0.Add(time.Second)))
		limit, err := b.store.AccountLimit(b.ctx, b.camp.ID)
		require.NoError(t, err)
		require.Equal(t, tc.want, *limit, "remaining %d", tc.remaining)
	}
}
