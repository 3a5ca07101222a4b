package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Runner is a process that runs campaigns, as its lease in the database describes it. A runner
// renews its lease while it lives and deletes it when it exits cleanly; a lease past its expiry
// is a runner that died.
//
// Lease times are the database's clock, the one clock every process on every machine shares.
type Runner struct {
	// ID is the runner's own, random id.
	ID string
	// CampaignID is the campaign a foreground or simulated run works (campaign run, campaign
	// resume); 0 for campaign serve, which runs every campaign of ModeService.
	CampaignID int64
	Mode       Mode
	Host       string
	PID        int
	// StartedAt, HeartbeatAt and ExpiresAt are set by the database (Runners reads them).
	StartedAt, HeartbeatAt, ExpiresAt time.Time
}

// RunnerState is who runs a campaign: the live runners covering it, and when one was last seen.
type RunnerState struct {
	// Live counts the unexpired leases covering the campaign: its own runners and, for a
	// campaign of ModeService, every campaign serve process.
	Live int
	// LastSeen is the latest heartbeat of a lease covering the campaign, live or expired; nil
	// when no runner of it is known (one that exited cleanly leaves no lease behind).
	LastSeen *time.Time
}

// Orphaned reports whether a campaign in status with runners live runners is running with
// nothing running it: no process dials it, and its live calls wait for the next runner's
// reconciler, until it is resumed (or, for a foreground campaign, adopted by campaign serve
// --adopt-orphans).
func Orphaned(status Status, runners RunnerState) bool {
	return status == StatusRunning && runners.Live == 0
}

// runnerCoversSQL selects, for campaign row c, the leases that cover it: its own, and for a
// campaign of mode service, those of campaign serve. The one home of "who runs a campaign".
const runnerCoversSQL = `FROM campaign_runner r
	WHERE (r.campaign_id = c.id OR (r.campaign_id IS NULL AND c.mode = 'service'))`

// runnerStateSQL are the two columns of a RunnerState for campaign row c: live leases, last seen.
const runnerStateSQL = `(SELECT count(*) ` + runnerCoversSQL + ` AND r.expires_at > now())::int,
	(SELECT max(r.heartbeat_at) ` + runnerCoversSQL + `)`

// AcquireLease records runner r as alive for ttl, and clears the expired leases it supersedes
// (those of dead runners of the same campaign, or of dead serve processes). Renew it with
// Heartbeat before ttl passes; delete it with ReleaseLease.
func (s *Store) AcquireLease(ctx context.Context, r Runner, ttl time.Duration) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM campaign_runner WHERE campaign_id IS NOT DISTINCT FROM nullif($1::bigint, 0)
		AND expires_at <= now()`, r.CampaignID)
	if err != nil {
		return fmt.Errorf("acquire runner lease: %w", err)
	}
	if err := s.Heartbeat(ctx, r, ttl); err != nil {
		return fmt.Errorf("acquire runner lease: %w", err)
	}
	return nil
}

// Heartbeat renews runner r's lease for ttl from now, or creates it again if it is gone. When
// r's campaign no longer exists (campaign delete --force) it returns ErrNotFound: the runner
// has nothing left to run.
func (s *Store) Heartbeat(ctx context.Context, r Runner, ttl time.Duration) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO campaign_runner (id, campaign_id, mode, host, pid, started_at, heartbeat_at, expires_at)
		VALUES ($1, nullif($2::bigint, 0), $3, $4, $5, now(), now(), now() + $6::bigint * interval '1 microsecond')
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), expires_at = excluded.expires_at`,
		r.ID, r.CampaignID, string(r.Mode), r.Host, r.PID, ttl.Microseconds())
	if isForeignKeyViolation(err, "campaign_runner_campaign_id_fkey") {
		return fmt.Errorf("runner heartbeat: campaign %d: %w", r.CampaignID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("runner heartbeat: %w", err)
	}
	return nil
}

// ReleaseLease deletes runner id's lease: the runner exits cleanly.
func (s *Store) ReleaseLease(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM campaign_runner WHERE id = $1`, id); err != nil {
		return fmt.Errorf("release runner lease: %w", err)
	}
	return nil
}

// Runners returns who runs a campaign: its state, and the live runners covering it (oldest first).
func (s *Store) Runners(ctx context.Context, campaignID int64) (RunnerState, []Runner, error) {
	var st RunnerState
	var live []Runner
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `SELECT `+runnerStateSQL+` FROM campaign c WHERE c.id = $1`, campaignID).
				Scan(&st.Live, &st.LastSeen)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
			}
			if err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT r.id, coalesce(r.campaign_id, 0), r.mode, r.host, r.pid, r.started_at,
					r.heartbeat_at, r.expires_at
				FROM campaign c CROSS JOIN LATERAL (SELECT r.* `+runnerCoversSQL+` AND r.expires_at > now()) r
				WHERE c.id = $1 ORDER BY r.started_at, r.id`, campaignID)
			if err != nil {
				return err
			}
			live, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Runner, error) {
				var r Runner
				err := row.Scan(&r.ID, &r.CampaignID, &r.Mode, &r.Host, &r.PID, &r.StartedAt, &r.HeartbeatAt, &r.ExpiresAt)
				return r, err
			})
			return err
		})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return RunnerState{}, nil, err
		}
		return RunnerState{}, nil, fmt.Errorf("runners of campaign %d: %w", campaignID, err)
	}
	return st, live, nil
}

// Adopted is a campaign that AdoptOrphans handed to campaign serve.
type Adopted struct {
	ID   int64
	Name string
	// LastSeen is when its last runner was last seen (nil: unknown).
	LastSeen *time.Time
	// DroppedPublicURL is the webhook address its dead runner had set (often that runner's own
	// receiver on loopback), cleared by the adoption: serve's calls then carry no server of
	// ours and their results are polled. "" when there was none.
	DroppedPublicURL string
}

// AdoptOrphans hands every orphaned foreground campaign to campaign serve: its mode becomes
// ModeService, and the contacts its dead runner had queued (their dial jobs in that runner's
// own queue) go back to pending, for serve's hopper. A simulated campaign is never adopted: its
// calls exist only in the simulator of the process that died. Its live calls are settled by
// serve's reconciler, like every campaign's.
func (s *Store) AdoptOrphans(ctx context.Context, now time.Time) ([]Adopted, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.id FROM campaign c WHERE `+orphanedForegroundSQL(1)+` ORDER BY c.id`, StatusRunning)
	if err != nil {
		return nil, fmt.Errorf("find orphaned campaigns: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("find orphaned campaigns: %w", err)
	}
	var adopted []Adopted
	for _, id := range ids {
		a, ok, err := s.adoptOrphan(ctx, id, now)
		if err != nil {
			return adopted, err
		}
		if ok {
			adopted = append(adopted, a)
		}
	}
	return adopted, nil
}

// orphanedForegroundSQL is true when campaign row c is a running foreground campaign that no
// live runner covers; parameter $running of the statement is StatusRunning.
func orphanedForegroundSQL(running int) string {
	return fmt.Sprintf(`c.status = $%d AND c.mode = 'foreground'
	AND NOT EXISTS (SELECT 1 `+runnerCoversSQL+` AND r.expires_at > now())`, running)
}

// adoptOrphan adopts campaign id if it is still an orphaned foreground campaign, taking its row
// locks in the order of dispatch.go: its queued contacts in id order (locked in a CTE, as every
// statement that changes many contacts does), then the campaign row. The public URL its dead
// runner had set is cleared (Adopted.DroppedPublicURL): it was that runner's receiver, and
// campaign serve has no public URL of its own, so the results of the calls serve places are
// polled. Calls that leave the assistant's own server in place (keep_server) are unchanged by it.
func (s *Store) adoptOrphan(ctx context.Context, id int64, now time.Time) (Adopted, bool, error) {
	var a Adopted
	var ok bool
	if err := checkContactMove(ContactPending, ContactQueued); err != nil {
		return Adopted{}, false, fmt.Errorf("adopt campaign %d: %w", id, err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			WITH target AS (
				SELECT id FROM contact WHERE campaign_id = $1 AND state = $4
				  AND EXISTS (SELECT 1 FROM campaign c WHERE c.id = $1 AND `+orphanedForegroundSQL(3)+`)
				ORDER BY id FOR NO KEY UPDATE
			)
			UPDATE contact ct SET state = $5, next_attempt_at = NULL, updated_at = $2
			FROM target WHERE ct.id = target.id`, id, now, StatusRunning, ContactQueued, ContactPending); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			UPDATE campaign c SET mode = 'service', queued_contacts = 0, public_url = '', updated_at = $2
			FROM (SELECT public_url FROM campaign WHERE id = $1) old
			WHERE c.id = $1 AND `+orphanedForegroundSQL(3)+`
			RETURNING c.id, c.name, (SELECT max(r.heartbeat_at) FROM campaign_runner r WHERE r.campaign_id = c.id),
				old.public_url`,
			id, now, StatusRunning).
			Scan(&a.ID, &a.Name, &a.LastSeen, &a.DroppedPublicURL)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNotAdopted // a runner came back, or an operator acted first
		}
		if err != nil {
			return err
		}
		ok = true
		return nil
	})
	switch {
	case errors.Is(err, errNotAdopted):
		return Adopted{}, false, nil
	case err != nil:
		return Adopted{}, false, fmt.Errorf("adopt campaign %d: %w", id, err)
	}
	return a, ok, nil
}

// errNotAdopted rolls back an adoption whose campaign is no longer an orphan.
var errNotAdopted = errors.New("campaign no longer orphaned")

// ContinueCommand is the command that gets campaign c dialing again, for the user to run: a
// simulated campaign goes on only with --simulate. An orphaned one (see Orphaned) can also be
// run by campaign serve: adopted when it ran in the foreground, at once when it is the
// service's; only its name and mode matter. Otherwise one without an assistant or phone number
// needs them.
func ContinueCommand(c *Campaign, orphaned bool) string {
	resume := "campaign resume " + c.Name
	switch {
	case c.Mode == ModeSimulated:
		return resume + " --simulate"
	case orphaned && c.Mode == ModeService:
		return "start campaign serve, or: " + resume
	case orphaned:
		return resume + " (or campaign serve --adopt-orphans)"
	case (!c.HasTarget() && c.TargetColumn == nil) || (c.PhoneNumberID == "" && c.PhoneNumberColumn == nil):
		return resume + " --assistant-id ID --phone-number-id ID (or --simulate)"
	}
	return resume
}

// BudgetContinueCommand is the command that continues a campaign its budget cap paused: resume
// with a higher cap (the campaign dialed, so it has its assistant and number).
func BudgetContinueCommand(c *Campaign) string {
	resume := "campaign resume " + c.Name + " --max-cost USD"
	if c.Mode == ModeSimulated {
		resume += " --simulate"
	}
	return resume
}
