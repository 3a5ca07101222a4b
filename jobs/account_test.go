package jobs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestEndToEndLearnsAccountLimit: with the campaign's cap far above the Vapi account's
// concurrency limit, the runner learns the account's limit from the first answers and stops
// asking for calls Vapi will refuse: after the first burst (the dials in flight before any
// answer came back), refused creates are at most 1% of creates, and the live calls still reach
// the account's limit.
func TestEndToEndLearnsAccountLimit(t *testing.T) {
	t.Parallel()
	const accountLimit, userCap, contacts = 3, 60, 120
	// The most dials in flight before the first answer: the runner's dial workers (default 50).
	const firstBurst = 50
	b := setupE2E(t, contacts, accountLimit, vapitest.Faults{}, func(s *campaign.Settings) { s.MaxConcurrent = userCap })
	b.startRunner(t)
	b.waitFinal(t, 2*time.Minute)
	b.checkGuarantees(t, accountLimit)

	creates, refused, firstRefusal := 0, 0, -1
	for i, r := range b.sim.CreateRequests() {
		rec, ok := b.sim.Call(r.CallID)
		require.True(t, ok)
		creates++
		if rec.Outcome == vapitest.OutcomeConcurrencyBlocked {
			refused++
			if firstRefusal < 0 {
				firstRefusal = i
			}
		}
	}
	_, maxLive := b.sim.Concurrency()
	after := creates - max(firstRefusal, 0)
	t.Logf("POST /call: %d, refused for concurrency: %d (%.1f%%); after the first refusal: %d creates; live at most %d (account limit %d, cap %d)",
		creates, refused, 100*float64(refused)/float64(creates), after, maxLive, accountLimit, userCap)
	require.Equal(t, accountLimit, maxLive, "the live calls still reach the account's limit")
	require.LessOrEqual(t, float64(refused), firstBurst+0.01*float64(after),
		"refused creates beyond the first burst must be at most 1%% of the creates after the first refusal")
}
