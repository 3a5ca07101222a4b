package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

func listSuppressions(t *testing.T, store *campaign.Store) []campaign.Suppression {
	t.Helper()
	var out []campaign.Suppression
	require.NoError(t, store.ListSuppressions(context.Background(), func(s campaign.Suppression) error {
		out = append(out, s)
		return nil
	}))
	return out
}

func TestSuppressionsAddListRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := campaign.NewStore(testdb.Pool(t))
	require.Empty(t, listSuppressions(t, store))

	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	added, err := store.AddSuppressions(ctx, []campaign.Suppression{
		{Phone: "+442079460018", Reason: "complaint", Source: "cli"},
		{Phone: "+14155550132", Reason: "asked", Source: "import:dnc.csv", VapiCallID: "call-1", CreatedAt: at},
		{Phone: "+442079460018", Reason: "second entry loses", Source: "cli"},
	}, t0)
	require.NoError(t, err)
	require.Equal(t, 2, added, "a number given twice is added once")

	// Already on the list: the first reason stays.
	added, err = store.AddSuppressions(ctx, []campaign.Suppression{
		{Phone: "+14155550132", Reason: "manual", Source: "cli"},
		{Phone: "+12125550187", Reason: "manual", Source: "cli"},
	}, t0)
	require.NoError(t, err)
	require.Equal(t, 1, added)

	list := listSuppressions(t, store)
	require.Len(t, list, 3)
	require.Equal(t, []string{"+12125550187", "+14155550132", "+442079460018"},
		[]string{list[0].Phone, list[1].Phone, list[2].Phone}, "phone order")
	got := list[1]
	require.True(t, at.Equal(got.CreatedAt), "created_at %s", got.CreatedAt)
	got.CreatedAt = at
	require.Equal(t, campaign.Suppression{Phone: "+14155550132", Reason: "asked", Source: "import:dnc.csv",
		VapiCallID: "call-1", CreatedAt: at}, got)
	require.Equal(t, "complaint", list[2].Reason)
	require.WithinDuration(t, time.Now(), list[0].CreatedAt, time.Minute, "a zero CreatedAt means now")

	// Nothing is written when one phone is not E.164.
	_, err = store.AddSuppressions(ctx, []campaign.Suppression{{Phone: "+16465550123"}, {Phone: "646 555 0124"}}, t0)
	require.ErrorContains(t, err, "entry 2")
	require.Len(t, listSuppressions(t, store), 3)
	added, err = store.AddSuppressions(ctx, nil, t0)
	require.NoError(t, err)
	require.Zero(t, added)

	removed, err := store.RemoveSuppressions(ctx, []string{"+14155550132", "+19995550000"})
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	list = listSuppressions(t, store)
	require.Len(t, list, 2)
	require.Equal(t, "+12125550187", list[0].Phone)
	require.Equal(t, "+442079460018", list[1].Phone)

	// An error from fn stops the listing.
	stop := errors.New("stop")
	calls := 0
	err = store.ListSuppressions(ctx, func(campaign.Suppression) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}

func phoneOf(i int) string { return fmt.Sprintf("+1415555%04d", 100+i) }

func TestAddSuppressionsMarksWaitingContacts(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 5, maxConcurrent: 2})
	pending, queued, inCall, final, untouched := b.contacts[0], b.contacts[1], b.contacts[2], b.contacts[3], b.contacts[4]
	b.queue(t, queued, inCall)
	b.grant(t, inCall, t0)
	_, err := b.pool.Exec(b.ctx, `UPDATE contact SET state = 'completed', outcome = 'answered' WHERE id = $1`, final)
	require.NoError(t, err)

	added, err := b.store.AddSuppressions(b.ctx, []campaign.Suppression{
		{Phone: phoneOf(0), Reason: "manual"}, {Phone: phoneOf(1), Reason: "manual"},
		{Phone: phoneOf(2), Reason: "manual"}, {Phone: phoneOf(3), Reason: "manual"},
	}, t0)
	require.NoError(t, err)
	require.Equal(t, 4, added)

	require.Equal(t, campaign.ContactDoNotCall, b.contact(t, pending).State)
	require.Equal(t, campaign.ContactDoNotCall, b.contact(t, queued).State)
	require.Equal(t, campaign.ContactInCall, b.contact(t, inCall).State, "a live call is left alone")
	final1 := b.contact(t, final)
	require.Equal(t, campaign.ContactCompleted, final1.State, "a final contact is left alone")
	require.Equal(t, "answered", final1.Outcome)
	require.Equal(t, campaign.ContactPending, b.contact(t, untouched).State)
	var queuedContacts int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT queued_contacts FROM campaign WHERE id = $1`, b.camp.ID).
		Scan(&queuedContacts))
	require.Zero(t, queuedContacts, "the queued contact left the queue")
	require.Equal(t, campaign.StatusRunning, b.status(t))

	// The dial job of the formerly queued contact finds nothing to dial.
	g, err := b.store.BeginAttempt(b.ctx, queued, t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, campaign.RefuseNotQueued, g.Refusal)
	require.Nil(t, g.Attempt)
}

func TestAddSuppressionsCompletesCampaign(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 2})
	b.queue(t, b.contacts[1])
	_, err := b.store.AddSuppressions(b.ctx, []campaign.Suppression{{Phone: phoneOf(0)}, {Phone: phoneOf(1)}}, t0)
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, b.status(t), "its last waiting contacts were suppressed")
}

func TestAddSuppressionsByCampaignStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status campaign.Status
		marked bool
	}{
		{campaign.StatusDraft, true},
		{campaign.StatusPaused, true},
		{campaign.StatusCancelled, false},
		{campaign.StatusFailed, false},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{contacts: 2, status: tc.status})
			_, err := b.store.AddSuppressions(b.ctx, []campaign.Suppression{{Phone: phoneOf(0)}}, t0)
			require.NoError(t, err)
			want := campaign.ContactPending
			if tc.marked {
				want = campaign.ContactDoNotCall
			}
			require.Equal(t, want, b.contact(t, b.contacts[0]).State)
			require.Equal(t, campaign.ContactPending, b.contact(t, b.contacts[1]).State)
			require.Equal(t, tc.status, b.status(t), "the status does not change")
		})
	}
}
