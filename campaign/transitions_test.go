package campaign_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestCanMoveStatus(t *testing.T) {
	t.Parallel()
	const (
		draft     = campaign.StatusDraft
		scheduled = campaign.StatusScheduled
		running   = campaign.StatusRunning
		paused    = campaign.StatusPaused
		completed = campaign.StatusCompleted
		cancelled = campaign.StatusCancelled
		failed    = campaign.StatusFailed
	)
	// Every status a campaign may move to, from each status; every other pair is refused.
	allowed := map[campaign.Status][]campaign.Status{
		draft:     {running, scheduled, cancelled},
		scheduled: {running, scheduled, cancelled},
		running:   {running, paused, completed, cancelled, failed, scheduled},
		paused:    {running, scheduled, cancelled},
		completed: {running, scheduled},
		cancelled: {running, scheduled},
		failed:    {running, scheduled, cancelled},
	}
	statuses := campaign.Statuses()
	require.ElementsMatch(t, []campaign.Status{draft, scheduled, running, paused, completed, cancelled, failed}, statuses)
	for _, from := range statuses {
		want, ok := allowed[from]
		require.True(t, ok, "the table of this test lacks status %s", from)
		for _, to := range statuses {
			require.Equal(t, slices.Contains(want, to), campaign.CanMoveStatus(from, to), "%s → %s", from, to)
		}
		require.False(t, campaign.CanMoveStatus(from, "archived"), "%s → an unknown status", from)
		require.False(t, campaign.CanMoveStatus("archived", from), "an unknown status → %s", from)
	}
}

func TestCanMoveContact(t *testing.T) {
	t.Parallel()
	const (
		pending   = campaign.ContactPending
		queued    = campaign.ContactQueued
		inCall    = campaign.ContactInCall
		completed = campaign.ContactCompleted
		failed    = campaign.ContactFailed
		cancelled = campaign.ContactCancelled
		doNotCall = campaign.ContactDoNotCall
	)
	// Every state a contact may move to, from each state; every other pair is refused.
	allowed := map[campaign.ContactState][]campaign.ContactState{
		pending:   {queued, failed, cancelled, doNotCall},
		queued:    {inCall, pending, cancelled, doNotCall, failed},
		inCall:    {completed, failed, doNotCall, pending, cancelled},
		completed: nil,
		failed:    {pending},
		cancelled: {pending},
		doNotCall: nil,
	}
	states := campaign.ContactStates()
	require.Len(t, states, len(allowed))
	for _, from := range states {
		want, ok := allowed[from]
		require.True(t, ok, "the table of this test lacks state %s", from)
		for _, to := range states {
			require.Equal(t, slices.Contains(want, to), campaign.CanMoveContact(from, to), "%s → %s", from, to)
		}
		require.False(t, campaign.CanMoveContact(from, "archived"), "%s → an unknown state", from)
		require.False(t, campaign.CanMoveContact("archived", from), "an unknown state → %s", from)
	}
}

// TestFinalContactStatesLeadOnlyToPending checks the contact table against Final: a contact in a
// final state is only ever taken back to pending (by a resume).
func TestFinalContactStatesLeadOnlyToPending(t *testing.T) {
	t.Parallel()
	for _, from := range campaign.ContactStates() {
		for _, to := range campaign.ContactStates() {
			if from.Final() && campaign.CanMoveContact(from, to) {
				require.Equal(t, campaign.ContactPending, to, "%s → %s", from, to)
			}
		}
	}
}
