package jobs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestEndToEndLearnsAccountLimit: with the campaign's cap far above the Vapi account's
// concurrency limit, the runner learns the account's limit from the first answer (one call is
// asked for alone until then) and stops asking for calls Vapi will refuse: refused creates are
// at most 1% of the creates after the first refusal, and the live calls still reach the
// account's limit.
func TestEndToEndLearnsAccountLimit(t *testing.T) {
	t.Parallel()
	const accountLimit, userCap, contacts = 3, 60, 120
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
	after, refusedAfter := creates, 0 // creates after the first refusal, and refused of them
	if firstRefusal >= 0 {
		after, refusedAfter = creates-firstRefusal-1, refused-1
	}
	t.Logf("POST /call: %d, refused for concurrency: %d (%.1f%%); after the first refusal: %d creates; live at most %d (account limit %d, cap %d)",
		creates, refused, 100*float64(refused)/float64(creates), after, maxLive, accountLimit, userCap)
	require.Equal(t, accountLimit, maxLive, "the live calls still reach the account's limit")
	require.LessOrEqual(t, float64(refusedAfter), 0.01*float64(after),
		"refused creates after the first refusal must be at most 1%% of the creates after it")
}
