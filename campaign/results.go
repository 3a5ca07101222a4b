package campaign

import (
	"context"
	"fmt"
	"time"
)

// ResultRow is one contact's result: its original row and what its calls came to.
type ResultRow struct {
	Fields            []string
	State             ContactState
	Outcome           string
	Attempts          int
	LastCallID        string
	LastEndedReason   string
	LastStartedAt     *time.Time
	DurationSeconds   float64 // all attempts
	Cost              float64 // all attempts, USD
	SuccessEvaluation string
	Summary           string
	RecordingURL      string
}

// EachResult calls fn for every contact of a campaign in file order, with its last call's
// result and the totals of all its calls. Rows stream: memory stays flat in the campaign size.
func (s *Store) EachResult(ctx context.Context, campaignID int64, fn func(*ResultRow) error) error {
	rows, err := s.pool.Query(ctx, `
		SELECT c.fields, c.state, c.outcome, c.attempts,
		       coalesce(la.vapi_call_id, ''), coalesce(la.ended_reason, ''), la.started_at,
		       coalesce(la.success_evaluation, ''), coalesce(la.summary, ''), coalesce(la.recording_url, ''),
		       coalesce(t.duration, 0), coalesce(t.cost, 0)
		FROM contact c
		LEFT JOIN LATERAL (
			SELECT a.vapi_call_id, a.ended_reason, a.started_at, a.success_evaluation, a.summary, a.recording_url
			FROM attempt a WHERE a.contact_id = c.id AND a.state <> 'not_created'
			ORDER BY a.number DESC LIMIT 1) la ON true
		LEFT JOIN LATERAL (
			SELECT sum(a.duration_seconds) AS duration, sum(a.cost)::float8 AS cost
			FROM attempt a WHERE a.contact_id = c.id) t ON true
		WHERE c.campaign_id = $1
		ORDER BY c.id`, campaignID)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	defer rows.Close()
	var r ResultRow
	for rows.Next() {
		if err := rows.Scan(&r.Fields, &r.State, &r.Outcome, &r.Attempts, &r.LastCallID, &r.LastEndedReason,
			&r.LastStartedAt, &r.SuccessEvaluation, &r.Summary, &r.RecordingURL, &r.DurationSeconds, &r.Cost); err != nil {
			return fmt.Errorf("read results: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	return nil
}

// AttemptByCallID returns the attempt that placed a Vapi call.
func (s *Store) AttemptByCallID(ctx context.Context, callID string) (*Attempt, error) {
	a, err := scanAttempt(s.pool.QueryRow(ctx, `SELECT `+attemptColumns+attemptFrom+`WHERE a.vapi_call_id = $1`, callID))
	if err != nil {
		return nil, fmt.Errorf("attempt of call %s: %w", callID, err)
	}
	return a, nil
}

// EmptyCells counts, for each given column index, the contacts of a campaign whose cell in that
// column is empty.
func (s *Store) EmptyCells(ctx context.Context, campaignID int64, columns []int) (map[int]int, error) {
	counts := make(map[int]int, len(columns))
	for _, col := range columns {
		var n int
		err := s.pool.QueryRow(ctx, `
			SELECT count(*) FROM contact WHERE campaign_id = $1 AND coalesce(fields[$2], '') = ''`,
			campaignID, col+1).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("count empty cells: %w", err)
		}
		counts[col] = n
	}
	return counts, nil
}
