package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestCrashBetweenJournalAndCallID kills a worker (in effect) after it committed an attempt and
// before it stored the call id: either the POST /call reached Vapi, or it never left. No webhook
// reaches the runner, and River later re-runs the dead worker's job. After a restart the contact
// is dialed exactly once either way: the existing call is found and adopted, or, once repeated
// lookups are sure there is none, the contact is dialed for the first time.
func TestCrashBetweenJournalAndCallID(t *testing.T) {
	for _, tc := range []struct {
		name        string
		callCreated bool
	}{
		{"the call was created", true},
		{"the request never left", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setupE2E(t, 3, 5, vapitest.Faults{WebhookDrop: 1})

			// The worker that dies: queues one contact and commits its attempt...
			var queued []int64
			_, err := b.store.QueueDue(ctx, b.c.ID, time.Now(), 1,
				func(*campaign.Contact) campaign.Decision { return campaign.Decision{Queue: true} },
				func(_ context.Context, _ pgx.Tx, ids []int64) error { queued = ids; return nil })
			require.NoError(t, err)
			require.Len(t, queued, 1)
			grant, err := b.store.BeginAttempt(ctx, queued[0], time.Now())
			require.NoError(t, err)
			require.Empty(t, grant.Refusal)
			ct, err := b.store.Contact(ctx, queued[0])
			require.NoError(t, err)
			// ...and maybe sends POST /call, then dies before storing the call id.
			if tc.callCreated {
				req, err := jobs.CreateCallRequest(b.c, ct, grant.Attempt.Number)
				require.NoError(t, err)
				client, err := vapi.NewClient(vapitest.DefaultAPIKey, &vapi.Config{BaseURL: b.simURL})
				require.NoError(t, err)
				_, err = client.CreateCall(ctx, req)
				require.NoError(t, err)
			}

			// River rescues the dead worker's job and runs it again after the restart.
			pool, err := pgxpool.New(ctx, b.dbURL)
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
			require.NoError(t, err)
			_, err = inserter.Insert(ctx, jobs.DialArgs{CampaignID: b.c.ID, ContactID: ct.ID},
				&river.InsertOpts{Queue: jobs.DialQueue(b.c.ID)})
			require.NoError(t, err)

			b.startRunner(t)
			b.waitFinal(t, time.Minute)
			require.Equal(t, 1, b.sim.CreateRequestsByNumber()[ct.Phone], "the crashed contact was dialed exactly once")
			b.checkGuarantees(t, 5)
		})
	}
}
