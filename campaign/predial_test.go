package campaign_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// TestPredialFailedThenIneligible follows one queued contact through failed pre-dial checks: each
// puts it back to pending at the time given, counted, until the PredialMaxFailures-th ends it
// failed/ineligible with the count in its reason; an answer clears the count. The queue count
// stays right throughout (setup checks it).
func TestPredialFailedThenIneligible(t *testing.T) {
	b := setup(t, setupOpts{contacts: 2})
	id := b.contacts[0]
	retryAt := t0.Add(time.Minute)
	for i := 1; i < campaign.PredialMaxFailures; i++ {
		b.queue(t, id)
		ended, err := b.store.PredialFailed(b.ctx, id, "hook answered 500", retryAt, t0)
		require.NoError(t, err)
		require.False(t, ended, "failure %d", i)
		ct, err := b.store.Contact(b.ctx, id)
		require.NoError(t, err)
		require.Equal(t, campaign.ContactPending, ct.State)
		requireTime(t, retryAt, ct.NextAttemptAt)
		require.Equal(t, i, ct.PredialFailures)
		require.Zero(t, ct.Attempts, "a check is no attempt")
	}
	// An answer clears the count; the failures start again from zero.
	require.NoError(t, b.store.PredialPassed(b.ctx, id))
	ct, err := b.store.Contact(b.ctx, id)
	require.NoError(t, err)
	require.Zero(t, ct.PredialFailures)
	for i := 1; i <= campaign.PredialMaxFailures; i++ {
		b.queue(t, id)
		ended, err := b.store.PredialFailed(b.ctx, id, "connection refused", retryAt, t0)
		require.NoError(t, err)
		require.Equal(t, i == campaign.PredialMaxFailures, ended, "failure %d", i)
	}
	ct, err = b.store.Contact(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, campaign.ContactFailed, ct.State)
	require.Equal(t, string(campaign.OutcomeIneligible), ct.Outcome)
	require.Equal(t, "pre-dial check failed 5 times: connection refused", ct.PredialReason)
	require.Nil(t, ct.NextAttemptAt)

	// A contact that is not queued (here: final) is left alone.
	ended, err := b.store.PredialFailed(b.ctx, id, "late", retryAt, t0)
	require.NoError(t, err)
	require.False(t, ended)
	require.NoError(t, b.store.PredialIneligible(b.ctx, id, "late", t0))
	ct, err = b.store.Contact(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, "pre-dial check failed 5 times: connection refused", ct.PredialReason)
	require.Equal(t, campaign.StatusRunning, b.status(t), "the other contact is still pending")
}

// TestPredialIneligibleCompletesTheCampaign: the hook's no ends the contact with its reason (cut
// to 500 bytes, never inside a character), and the campaign completes when it was the last.
func TestPredialIneligibleCompletesTheCampaign(t *testing.T) {
	b := setup(t, setupOpts{contacts: 1})
	id := b.contacts[0]
	b.queue(t, id)
	reason := "x" + strings.Repeat("é", 300) // byte 500 is the second byte of an é
	require.NoError(t, b.store.PredialIneligible(b.ctx, id, reason, t0))
	ct, err := b.store.Contact(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, campaign.ContactFailed, ct.State)
	require.Equal(t, string(campaign.OutcomeIneligible), ct.Outcome)
	require.Len(t, ct.PredialReason, 499, "cut before the character that would pass 500 bytes")
	require.Equal(t, campaign.StatusCompleted, b.status(t))

	// resume --retry-failed gives it a fresh start.
	_, err = b.store.Resume(b.ctx, b.camp.ID, campaign.ResumeOptions{RetryFailed: true}, t0)
	require.NoError(t, err)
	ct, err = b.store.Contact(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, campaign.ContactPending, ct.State)
	require.Empty(t, ct.PredialReason)
	require.Zero(t, ct.PredialFailures)
}
