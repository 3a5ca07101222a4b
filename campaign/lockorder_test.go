package campaign_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// The tests of this file replay, deterministically, the interleavings that deadlocked: the test
// holds the first lock of a transaction that follows the documented lock order (dispatch.go),
// starts the statement under test, waits until it waits for that lock, then takes its second
// lock. A statement that follows the order waits without holding anything the test's
// transaction needs; one that does not is in a cycle, and Postgres aborts one side with 40P01.

// lockingTx begins the test's own transaction and returns it with its backend's pid.
func (b *testBundle) lockingTx(t *testing.T) (pgx.Tx, int) {
	t.Helper()
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(b.ctx) })
	var pid int
	require.NoError(t, tx.QueryRow(b.ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	return tx, pid
}

// lock runs one locking statement in tx.
func lock(t *testing.T, b *testBundle, tx pgx.Tx, sql string, args ...any) {
	t.Helper()
	_, err := tx.Exec(b.ctx, sql, args...)
	require.NoError(t, err, "the test's transaction (40P01 here: the statement under test took locks out of order)")
}

// whileBlocked runs fn in a goroutine, waits until it waits for a lock held by backend pid, and
// returns the channel of fn's error.
func (b *testBundle) whileBlocked(t *testing.T, pid int, fn func() error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	var finished error
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			finished = fmt.Errorf("finished without waiting for the test's lock: %v", err)
			return true
		default:
		}
		var n int
		err := b.pool.QueryRow(b.ctx, blockedBySQL, pid).Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, 5*time.Millisecond, "the statement under test never waited for the test's lock")
	require.NoError(t, finished)
	return done
}

func (b *testBundle) campaignCount(t *testing.T, id int64) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM campaign WHERE id = $1`, id).Scan(&n))
	return n
}

// TestDeleteCampaignWaitsForAResult: a result locks its attempt, then its contact; a delete
// arriving between the two must wait for the attempt before it locks any contact.
func TestDeleteCampaignWaitsForAResult(t *testing.T) {
	b := setup(t, setupOpts{})
	b.queue(t, b.contacts[0])
	a := b.grant(t, b.contacts[0], t0)
	require.NoError(t, b.store.CallCreated(b.ctx, a.ID, "call-delete", t0, t0))
	require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0))

	tx, pid := b.lockingTx(t)
	lock(t, b, tx, `SELECT 1 FROM attempt WHERE id = $1 FOR NO KEY UPDATE`, a.ID)
	deleted := b.whileBlocked(t, pid, func() error {
		_, err := b.store.DeleteCampaign(b.ctx, b.camp.ID, campaign.DeleteOptions{Purge: true})
		return err
	})
	lock(t, b, tx, `SELECT 1 FROM contact WHERE id = $1 FOR NO KEY UPDATE`, b.contacts[0])
	require.NoError(t, tx.Commit(b.ctx))
	require.NoError(t, <-deleted)
	require.Zero(t, b.campaignCount(t, b.camp.ID))
}

// TestImportReplacesDraftInLockOrder: an operator action on a draft (cancel, suppress add) locks
// its contacts in id order, then its campaign row; an import replacing that draft at the same
// time must not hold the draft's campaign row while it waits for a contact.
func TestImportReplacesDraftInLockOrder(t *testing.T) {
	b := setup(t, setupOpts{status: campaign.StatusDraft})

	tx, pid := b.lockingTx(t)
	lock(t, b, tx, `SELECT 1 FROM contact WHERE campaign_id = $1 ORDER BY id FOR NO KEY UPDATE`, b.camp.ID)
	imported := make(chan *campaign.Campaign, 1)
	done := b.whileBlocked(t, pid, func() error {
		var csv strings.Builder
		csv.WriteString("phone,name\n")
		for i := range b.contacts {
			fmt.Fprintf(&csv, "+1415555%04d,Customer %d\n", 100+i, i) // the file setup imported
		}
		r, err := campaign.NewReader(strings.NewReader(csv.String()), campaign.ReaderOptions{})
		if err != nil {
			return err
		}
		c, err := b.store.Import(b.ctx, campaign.NewCampaign{Name: "test", Settings: campaign.Settings{
			WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US", MaxConcurrent: 2, MaxAttempts: 3,
		}}, campaign.ImportInput{Reader: r})
		imported <- c
		return err
	})
	lock(t, b, tx, `SELECT 1 FROM campaign WHERE id = $1 FOR NO KEY UPDATE`, b.camp.ID)
	require.NoError(t, tx.Commit(b.ctx))
	require.NoError(t, <-done)
	c := <-imported
	require.Equal(t, "test", c.Name)
	require.Equal(t, b.camp.ID, c.ImportStats.ReplacedDraft)
	require.Zero(t, b.campaignCount(t, b.camp.ID), "the draft was replaced")
}

// TestAdoptOrphanLocksContactsInIDOrder: adoption changes many contacts, so it must lock them in
// id order, whatever order the plan scans them in (here the first contact is last on disk and
// in the phone index).
func TestAdoptOrphanLocksContactsInIDOrder(t *testing.T) {
	b := setup(t, setupOpts{})
	b.queueAll(t)
	_, err := b.pool.Exec(b.ctx, `UPDATE contact SET phone = '+14155559999' WHERE id = $1`, b.contacts[0])
	require.NoError(t, err)

	tx, pid := b.lockingTx(t)
	lock(t, b, tx, `SELECT 1 FROM contact WHERE id = $1 FOR NO KEY UPDATE`, b.contacts[0])
	adopted := make(chan []campaign.Adopted, 1)
	done := b.whileBlocked(t, pid, func() error {
		a, err := b.store.AdoptOrphans(b.ctx, t0)
		adopted <- a
		return err
	})
	lock(t, b, tx, `SELECT 1 FROM contact WHERE id = $1 FOR NO KEY UPDATE`, b.contacts[1])
	require.NoError(t, tx.Commit(b.ctx))
	require.NoError(t, <-done)
	require.Len(t, <-adopted, 1)
	for _, id := range b.contacts {
		require.Equal(t, campaign.ContactPending, b.contact(t, id).State)
	}
}

// TestDeleteCampaignRefusesALiveRunner: a paused campaign whose run still watches it is not
// deleted without Force; the error names the runner. An expired lease (a dead runner) does not
// count.
func TestDeleteCampaignRefusesALiveRunner(t *testing.T) {
	b := setup(t, setupOpts{})
	require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0))
	r := campaign.Runner{ID: "runner-1", CampaignID: b.camp.ID, Mode: campaign.ModeForeground, Host: "host-a", PID: 4242}
	require.NoError(t, b.store.AcquireLease(b.ctx, r, time.Hour))

	_, err := b.store.DeleteCampaign(b.ctx, b.camp.ID, campaign.DeleteOptions{})
	var live *campaign.RunnerLiveError
	require.ErrorAs(t, err, &live)
	require.Equal(t, "runner-1", live.Runner.ID)
	require.Equal(t, "host-a", live.Runner.Host)
	require.Equal(t, 4242, live.Runner.PID)
	require.Contains(t, err.Error(), "host-a")
	require.Equal(t, 1, b.campaignCount(t, b.camp.ID))

	d, err := b.store.DeleteCampaign(b.ctx, b.camp.ID, campaign.DeleteOptions{Force: true})
	require.NoError(t, err)
	require.Equal(t, 3, d.Contacts)
	require.Zero(t, b.campaignCount(t, b.camp.ID))
}

// TestDeleteCampaignIgnoresADeadRunner: an expired lease is a runner that died. A serve process's
// lease covers the service's campaigns as they come, not one campaign: it does not hold a paused
// service campaign (serve cancels the jobs of a deleted campaign).
func TestDeleteCampaignIgnoresADeadRunner(t *testing.T) {
	b := setup(t, setupOpts{mode: campaign.ModeService})
	require.NoError(t, b.store.Pause(b.ctx, b.camp.ID, t0))
	serve := campaign.Runner{ID: "serve-1", Mode: campaign.ModeService, Host: "host-b", PID: 1}
	require.NoError(t, b.store.AcquireLease(b.ctx, serve, time.Hour))
	t.Cleanup(func() { _ = b.store.ReleaseLease(b.ctx, serve.ID) })
	r := campaign.Runner{ID: "runner-dead", CampaignID: b.camp.ID, Mode: campaign.ModeForeground, Host: "h", PID: 1}
	require.NoError(t, b.store.AcquireLease(b.ctx, r, time.Hour))
	_, err := b.pool.Exec(b.ctx, `UPDATE campaign_runner SET expires_at = now() - interval '1 second' WHERE id = $1`, r.ID)
	require.NoError(t, err)
	_, err = b.store.DeleteCampaign(b.ctx, b.camp.ID, campaign.DeleteOptions{})
	require.NoError(t, err)
	require.Zero(t, b.campaignCount(t, b.camp.ID))
}

// TestAdoptOrphanDropsTheDeadRunnersURL: the public URL a dead foreground run set (its own
// receiver, often on loopback) reaches nothing; adoption clears it, so serve's calls carry no
// server of ours and their results are polled, and says what it dropped.
func TestAdoptOrphanDropsTheDeadRunnersURL(t *testing.T) {
	b := setup(t, setupOpts{})
	url := "http://127.0.0.1:39999"
	require.NoError(t, b.store.SetRouting(b.ctx, b.camp.ID, campaign.Routing{PublicURL: &url}, t0))

	adopted, err := b.store.AdoptOrphans(b.ctx, t0)
	require.NoError(t, err)
	require.Len(t, adopted, 1)
	require.Equal(t, url, adopted[0].DroppedPublicURL)
	c, err := b.store.Campaign(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, campaign.ModeService, c.Mode)
	require.Empty(t, c.PublicURL)

	// Without a URL there is nothing to drop.
	setupInPool(t, b, "second")
	adopted, err = b.store.AdoptOrphans(b.ctx, t0)
	require.NoError(t, err)
	require.Len(t, adopted, 1)
	require.Empty(t, adopted[0].DroppedPublicURL)
}

// TestHeartbeatOfADeletedCampaign: a runner's heartbeat after its campaign was deleted says so
// (ErrNotFound), so the runner stops beating instead of failing on the foreign key forever.
func TestHeartbeatOfADeletedCampaign(t *testing.T) {
	b := setup(t, setupOpts{status: campaign.StatusDraft})
	r := campaign.Runner{ID: "runner-gone", CampaignID: b.camp.ID, Mode: campaign.ModeForeground, Host: "h", PID: 1}
	require.NoError(t, b.store.Heartbeat(b.ctx, r, time.Hour))
	_, err := b.store.DeleteCampaign(b.ctx, b.camp.ID, campaign.DeleteOptions{Force: true})
	require.NoError(t, err)
	require.ErrorIs(t, b.store.Heartbeat(b.ctx, r, time.Hour), campaign.ErrNotFound)
}

// blockedBySQL counts the backends waiting for a lock held by backend $1.
const blockedBySQL = `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`

// blockedBy reports whether some backend waits for a lock held by backend pid.
func (b *testBundle) blockedBy(t *testing.T, pid int) bool {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, blockedBySQL, pid).Scan(&n))
	return n > 0
}
