package campaign

import (
	"context"
	"fmt"
)

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
