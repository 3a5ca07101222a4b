package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// dialWorker is a DialWorker on the bundle's database and simulator, logging to the returned
// buffer.
func (b *e2eBundle) dialWorker(t *testing.T) (*jobs.DialWorker, *bytes.Buffer) {
	t.Helper()
	client, err := vapi.NewClient(vapitest.DefaultAPIKey, &vapi.Config{BaseURL: b.simURL, Timeout: 5 * time.Second})
	require.NoError(t, err)
	var logs bytes.Buffer
	return &jobs.DialWorker{Store: b.store, Vapi: client, Now: time.Now, Account: client.Account(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, &logs
}

// firstContact marks the campaign's first contact queued, as the hopper does, and returns it.
func (b *e2eBundle) firstContact(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	var id int64
	require.NoError(t, pool.QueryRow(context.Background(), `
		WITH q AS (UPDATE contact SET state = 'queued'
			WHERE id = (SELECT min(id) FROM contact WHERE campaign_id = $1) RETURNING id),
		n AS (UPDATE campaign SET queued_contacts = queued_contacts + 1 WHERE id = $1)
		SELECT id FROM q`, b.c.ID).Scan(&id))
	return id
}

// TestDialRecordsTheCallWhenLearningFails: learning the account's limit is optional; a call
// placed at Vapi is recorded (its call id kept) even when learning fails.
func TestDialRecordsTheCallWhenLearningFails(t *testing.T) {
	b := setupE2E(t, 1, 5, vapitest.Faults{})
	pool := b.pool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		CREATE FUNCTION refuse_learning() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN RAISE EXCEPTION 'learning refused by the test'; END $$;
		-- Updates only: the dial itself makes the account's row (see accountAllows), and what
		-- the answer teaches updates it.
		CREATE TRIGGER refuse_learning BEFORE UPDATE ON vapi_account
			FOR EACH ROW EXECUTE FUNCTION refuse_learning()`)
	require.NoError(t, err)
	contactID := b.firstContact(t, pool)
	w, logs := b.dialWorker(t)

	err = w.Work(ctx, &river.Job[jobs.DialArgs]{
		Args: jobs.DialArgs{CampaignID: b.c.ID, ContactID: contactID}})
	require.NoError(t, err, "the call was placed: the job succeeded")
	var state, callID string
	require.NoError(t, pool.QueryRow(ctx, `SELECT state, vapi_call_id FROM attempt WHERE contact_id = $1`, contactID).
		Scan(&state, &callID))
	require.Equal(t, string(campaign.AttemptCreated), state)
	require.NotEmpty(t, callID)
	require.Contains(t, logs.String(), "learning refused by the test")
}

// TestDialCancelsJobsOfDeletedCampaigns: a dial job whose campaign or contact was deleted is
// cancelled at once (one log line), not retried until River discards it.
func TestDialCancelsJobsOfDeletedCampaigns(t *testing.T) {
	b := setupE2E(t, 1, 5, vapitest.Faults{})
	ctx := context.Background()
	w, logs := b.dialWorker(t)
	var cancel *river.JobCancelError

	err := w.Work(ctx, &river.Job[jobs.DialArgs]{
		Args: jobs.DialArgs{CampaignID: b.c.ID, ContactID: 987654321}})
	require.ErrorAs(t, err, &cancel, "a contact that no longer exists")

	_, err = b.store.DeleteCampaign(ctx, b.c.ID, campaign.DeleteOptions{Force: true})
	require.NoError(t, err)
	err = w.Work(ctx, &river.Job[jobs.DialArgs]{
		Args: jobs.DialArgs{CampaignID: b.c.ID, ContactID: 1}})
	require.ErrorAs(t, err, &cancel, "a campaign that no longer exists")
	require.Contains(t, logs.String(), "no longer exists")
}
