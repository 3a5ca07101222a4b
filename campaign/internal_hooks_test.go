package campaign

import (
	"context"
	"time"
)

// This file lends the tests of package campaign_test what they check that is not exported.

// SetStatusForTest is setStatus, the raw status move under Start, Pause and the other verbs:
// TestSetStatusAndRunningCampaigns checks its from-lists, timestamps and table check.
func (s *Store) SetStatusForTest(ctx context.Context, campaignID int64, from []Status, to Status, now time.Time) (bool, error) {
	return s.setStatus(ctx, campaignID, from, to, now)
}

// ErrIllegalMoveForTest is errIllegalMove.
var ErrIllegalMoveForTest = errIllegalMove
