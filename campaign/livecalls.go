package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CampaignLiveCalls is how many calls of one campaign are live.
type CampaignLiveCalls struct {
	ID     int64
	Name   string
	Mode   Mode
	Status Status
	// Live counts the campaign's attempts creating or created: calls placed (or being placed)
	// that have not ended.
	Live int
	// Orphaned: the campaign is running and no live runner covers it (see Orphaned).
	Orphaned bool
	// BudgetPaused: the campaign is paused by its budget cap (PauseBudget).
	BudgetPaused bool
	// Scheduled: the campaign waits for its start (StatusScheduled).
	Scheduled bool
	// Expired counts its contacts whose end (--end-by) came first (OutcomeExpired).
	Expired int
	// Unreported counts the calls placed (or being placed) whose result is not recorded yet:
	// the live ones and those that ended (by their status-update) before their end-of-call
	// report came.
	Unreported int
}

// LiveCalls returns the live and unreported calls of every campaign that is scheduled, running or
// paused or has a live call, in id order (a campaign in another status with none is left out). With a non-zero
// createdBy, only the attempts created at or before it count: the calls already in flight at
// that moment, not those placed since.
func (s *Store) LiveCalls(ctx context.Context, createdBy time.Time) ([]CampaignLiveCalls, error) {
	var bound *time.Time
	if !createdBy.IsZero() {
		bound = &createdBy
	}
	// One index probe (attempt_campaign_idx) per campaign: cheap enough for every scrape.
	rows, err := s.pool.Query(ctx, `
		SELECT c.id, c.name, c.mode, c.status, c.paused_reason, l.live, l.unreported, `+expiredCountSQL+`, `+runnerStateSQL+`
		FROM campaign c
		CROSS JOIN LATERAL (
			SELECT count(*) FILTER (WHERE a.state = ANY($2))::int AS live,
			       count(*)::int AS unreported
			FROM attempt a
			WHERE a.campaign_id = c.id
			  AND (a.state = ANY($2) OR (a.state = $3 AND a.report_at IS NULL))
			  AND ($1::timestamptz IS NULL OR a.created_at <= $1)
		) l
		WHERE c.status = ANY($4) OR l.live > 0
		ORDER BY c.id`, bound, liveAttemptStates(), AttemptEnded, []Status{StatusScheduled, StatusRunning, StatusPaused})
	if err != nil {
		return nil, fmt.Errorf("live calls: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CampaignLiveCalls, error) {
		var c CampaignLiveCalls
		var (
			runner RunnerState
			reason PauseReason
		)
		err := row.Scan(&c.ID, &c.Name, &c.Mode, &c.Status, &reason, &c.Live, &c.Unreported, &c.Expired, &runner.Live, &runner.LastSeen)
		c.Orphaned = Orphaned(c.Status, runner)
		c.BudgetPaused = c.Status == StatusPaused && reason == PauseBudget
		c.Scheduled = c.Status == StatusScheduled
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("live calls: %w", err)
	}
	return list, nil
}

// CampaignTotals are a campaign's contacts by state and its cost so far (from the tallies).
type CampaignTotals struct {
	ID int64
	// ByState counts the contacts in each state (states with none are absent).
	ByState map[ContactState]int
	// Cost is the sum of its calls' cost so far (USD).
	Cost float64
}

// CampaignTotals returns the totals of the campaigns given, in id order (an unknown id is left
// out). They are read from the tallies (see tallySQL): a few rows a campaign, whatever its size.
func (s *Store) CampaignTotals(ctx context.Context, campaignIDs []int64) ([]CampaignTotals, error) {
	if len(campaignIDs) == 0 {
		return nil, nil
	}
	var list []CampaignTotals
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			list = nil
			index := map[int64]int{}
			rows, err := tx.Query(ctx, `
				SELECT c.id, coalesce((SELECT sum(t.v[1]) FROM `+tallyRowsSQL("= c.id", tallyAttempts)+` t), 0)::float8
				FROM campaign c WHERE c.id = ANY($1) ORDER BY c.id`, campaignIDs)
			if err != nil {
				return err
			}
			var t CampaignTotals
			if _, err := pgx.ForEachRow(rows, []any{&t.ID, &t.Cost}, func() error {
				index[t.ID] = len(list)
				list = append(list, CampaignTotals{ID: t.ID, Cost: t.Cost, ByState: map[ContactState]int{}})
				return nil
			}); err != nil {
				return err
			}
			rows, err = tx.Query(ctx, `
				SELECT campaign_id, key[1], sum(n)::int FROM `+tallyRowsSQL("= ANY ($1)", tallyContacts)+` t
				GROUP BY 1, 2 HAVING sum(n) <> 0`, campaignIDs)
			if err != nil {
				return err
			}
			var (
				id    int64
				state ContactState
				n     int
			)
			_, err = pgx.ForEachRow(rows, []any{&id, &state, &n}, func() error {
				if i, ok := index[id]; ok {
					list[i].ByState[state] = n
				}
				return nil
			})
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("campaign totals: %w", err)
	}
	return list, nil
}
