package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CampaignSummary is one line of the campaign list.
type CampaignSummary struct {
	ID     int64
	Name   string
	Status Status
	Mode   Mode
	// PausedReason says why a paused campaign is paused (PauseOperator when it is not).
	PausedReason PauseReason
	// Contacts counts the campaign's contacts, Final those in a final state.
	Contacts, Final int
	// Live counts the attempts creating or created.
	Live int
	// Cost is the sum of the attempts' cost so far.
	Cost      float64
	CreatedAt time.Time
	// Runner is who runs the campaign (see Orphaned).
	Runner RunnerState
	// RatePerSecond and MaxConcurrent are the campaign's pacing (Settings).
	RatePerSecond float64
	MaxConcurrent int
	// StartedAt and FinishedAt are when it first ran and when it ended (nil: not yet).
	StartedAt, FinishedAt *time.Time
}

// ListFilter selects the campaigns of ListCampaignsPage: a status, or one of the views below;
// "" selects every campaign.
type ListFilter string

// The views of ListFilter beside the statuses.
const (
	// ListOrphaned: running with no runner (see Orphaned).
	ListOrphaned ListFilter = "orphaned"
	// ListPausedBudget: paused by the budget cap (PauseBudget).
	ListPausedBudget ListFilter = "paused-budget"
)

// ParseListFilter checks a ListFilter: "", a status or a view.
func ParseListFilter(s string) (ListFilter, error) {
	f := ListFilter(s)
	if f == "" || f == ListOrphaned || f == ListPausedBudget {
		return f, nil
	}
	for _, st := range Statuses() {
		if Status(s) == st {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown campaign filter %q", s)
}

// ListPage selects one page of the campaign list, newest first.
type ListPage struct {
	Filter ListFilter
	// After, when set, is the last campaign of the previous page: the page starts past it
	// (keyset on created_at, id).
	After *CampaignSummary
	// Limit bounds the page (0: no bound).
	Limit int
}

// ListCampaigns returns every campaign, newest first (created_at, then id, descending), with
// its counts taken in one consistent snapshot.
func (s *Store) ListCampaigns(ctx context.Context) ([]CampaignSummary, error) {
	return s.ListCampaignsPage(ctx, ListPage{})
}

// ListCampaignsPage returns the campaigns of page p, newest first (created_at, then id,
// descending), with their counts taken in one consistent snapshot: one query, whose counts are
// taken for the page's campaigns alone.
func (s *Store) ListCampaignsPage(ctx context.Context, p ListPage) ([]CampaignSummary, error) {
	if _, err := ParseListFilter(string(p.Filter)); err != nil {
		return nil, err
	}
	var afterAt *time.Time
	var afterID int64
	if p.After != nil {
		afterAt, afterID = &p.After.CreatedAt, p.After.ID
	}
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	var status *Status
	switch p.Filter {
	case "":
	case ListOrphaned:
		status = ptrTo(StatusRunning)
	case ListPausedBudget:
		status = ptrTo(StatusPaused)
	default:
		status = ptrTo(Status(p.Filter))
	}
	var list []CampaignSummary
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
				SELECT c.id, c.name, c.status, c.mode, c.paused_reason, c.created_at,
				       ct.total, ct.final, a.live, a.cost, c.rate_per_second, c.max_concurrent,
				       c.started_at, c.finished_at, r.live, r.last_seen
				FROM campaign c
				CROSS JOIN LATERAL (SELECT `+runnerStateSQL+`) r(live, last_seen)
				CROSS JOIN LATERAL (
					SELECT coalesce(sum(t.n), 0)::int AS total, coalesce(sum(t.n) FILTER (WHERE t.key[1] = ANY($1)), 0)::int AS final
					FROM `+tallyRowsSQL("= c.id", tallyContacts)+` t
				) ct
				CROSS JOIN LATERAL (
					SELECT coalesce(sum(t.n) FILTER (WHERE t.key[1] = ANY($2)), 0)::int AS live,
					       coalesce(sum(t.v[1]), 0)::float8 AS cost
					FROM `+tallyRowsSQL("= c.id", tallyAttempts)+` t
				) a
				WHERE ($3::text IS NULL OR c.status = $3)
				  AND (NOT $4 OR c.paused_reason = $5)
				  AND (NOT $6 OR r.live = 0)
				  AND ($7::timestamptz IS NULL OR (c.created_at, c.id) < ($7, $8))
				ORDER BY c.created_at DESC, c.id DESC
				LIMIT $9`, finalContactStates(), liveAttemptStates(), status,
				p.Filter == ListPausedBudget, PauseBudget, p.Filter == ListOrphaned, afterAt, afterID, limit)
			if err != nil {
				return err
			}
			list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (CampaignSummary, error) {
				var c CampaignSummary
				err := row.Scan(&c.ID, &c.Name, &c.Status, &c.Mode, &c.PausedReason, &c.CreatedAt, &c.Contacts, &c.Final, &c.Live, &c.Cost,
					&c.RatePerSecond, &c.MaxConcurrent, &c.StartedAt, &c.FinishedAt, &c.Runner.Live, &c.Runner.LastSeen)
				return c, err
			})
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return list, nil
}

func ptrTo[T any](v T) *T { return &v }

// NextDial says when a campaign's next call may be placed, from its row c, its progress p and
// x.DueNow: now (isNow), at a time, or neither when no contact waits. A campaign scheduled to
// start later calls nobody before its start.
func NextDial(c *Campaign, p Progress, x StatusExtras, now time.Time) (at *time.Time, isNow bool) {
	switch {
	case c.Status == StatusScheduled && c.StartAt != nil && c.StartAt.After(now):
		due := *c.StartAt
		return &due, false
	case x.DueNow > 0 || p.ByState[ContactQueued] > 0:
		return nil, true
	case p.NextDue != nil && !p.NextDue.After(now):
		return nil, true
	case p.NextDue != nil:
		due := *p.NextDue
		return &due, false
	}
	return nil, false
}

// ErrorCount is how many attempts failed with one error text.
type ErrorCount struct {
	Error string
	Count int
}

// StatusExtras are the figures of `campaign status` that Progress does not give.
type StatusExtras struct {
	// RecentRate is the attempts created per second over the window given to StatusExtras
	// (from attempt.created_at, every attempt: each took a slot of the rate limit).
	RecentRate float64
	// LastMinuteRate is RecentRate over the last minute: what the pace is now.
	LastMinuteRate float64
	// DueNow counts the pending contacts whose next_attempt_at is unset or not after now:
	// they are due as soon as their calling window allows.
	DueNow int
	// Errors are the most frequent error texts of the campaign's attempts, most frequent
	// first (ties by text), at most the limit given.
	Errors []ErrorCount
	// ErroredAttempts counts every attempt with an error, in all error texts.
	ErroredAttempts int
	// EventErrors counts the webhook events of the campaign's calls (matched by call id or
	// attempt key) that failed to apply, "unknown call" aside.
	EventErrors int
	// RejectedEvents counts the authenticated webhook events never applied because they named
	// an attempt they may not change (see EventRejectedError): those authenticated for the
	// campaign and those naming one of its calls or attempt keys. Any is worth a look: a
	// campaign's secret may have leaked.
	RejectedEvents int
}

// StatusExtras returns the figures of a campaign's status that Progress does not: the rate of
// the last rateWindow before now, the contacts due now, and the errors needing attention (the
// top errorLimit error texts). It reads one consistent snapshot.
func (s *Store) StatusExtras(ctx context.Context, campaignID int64, now time.Time, rateWindow time.Duration, errorLimit int) (StatusExtras, error) {
	var x StatusExtras
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			x = StatusExtras{}
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign WHERE id = $1)`, campaignID).
				Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
			}
			var n, lastMinute int
			if err := tx.QueryRow(ctx, `
				SELECT count(*) FILTER (WHERE created_at > $2), count(*) FILTER (WHERE created_at > $4)
				FROM attempt WHERE campaign_id = $1 AND created_at > least($2, $4) AND created_at <= $3`,
				campaignID, now.Add(-rateWindow), now, now.Add(-time.Minute)).Scan(&n, &lastMinute); err != nil {
				return err
			}
			if rateWindow > 0 {
				x.RecentRate = float64(n) / rateWindow.Seconds()
			}
			x.LastMinuteRate = float64(lastMinute) / time.Minute.Seconds()
			if err := tx.QueryRow(ctx, `
				SELECT count(*) FROM contact WHERE campaign_id = $1 AND state = `+pendingSQL+`
				AND (next_attempt_at IS NULL OR next_attempt_at <= $2)`, campaignID, now).Scan(&x.DueNow); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `
				SELECT error, count(*) FROM attempt WHERE campaign_id = $1 AND error <> ''
				GROUP BY error ORDER BY count(*) DESC, error`, campaignID)
			if err != nil {
				return err
			}
			var ec ErrorCount
			_, err = pgx.ForEachRow(rows, []any{&ec.Error, &ec.Count}, func() error {
				x.ErroredAttempts += ec.Count
				if len(x.Errors) < errorLimit {
					x.Errors = append(x.Errors, ec)
				}
				return nil
			})
			if err != nil {
				return err
			}
			return tx.QueryRow(ctx, `
				SELECT count(*) FILTER (WHERE e.apply_error <> '' AND e.apply_error <> 'unknown call'
				                        AND `+namesCampaignAttemptSQL+`),
				       count(*) FILTER (WHERE e.rejected <> ''
				                        AND (e.auth_campaign_id = $1 OR `+namesCampaignAttemptSQL+`))
				FROM webhook_event e
				WHERE e.apply_error <> '' OR e.rejected <> ''`, campaignID).Scan(&x.EventErrors, &x.RejectedEvents)
		})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return StatusExtras{}, err
		}
		return StatusExtras{}, fmt.Errorf("status of campaign %d: %w", campaignID, err)
	}
	return x, nil
}

// namesCampaignAttemptSQL is true of a webhook_event e whose call id or attempt key is one of
// campaign $1's attempts.
const namesCampaignAttemptSQL = `(EXISTS (SELECT 1 FROM attempt a WHERE a.campaign_id = $1 AND e.vapi_call_id <> ''
	             AND a.vapi_call_id = e.vapi_call_id)
	  OR EXISTS (SELECT 1 FROM attempt a WHERE a.campaign_id = $1 AND e.attempt_key <> ''
	             AND a.key = e.attempt_key))`
