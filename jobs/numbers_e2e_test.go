package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestEndToEndNumberPool: two runners dial a campaign from a pool of three numbers, at most 2
// live calls a number (the campaign's own cap, 10, would allow more). Every POST /call validates
// against Vapi's spec and carries the number its attempt recorded; the simulator never sees a
// number with more than 2 live calls; the round robin uses every number.
func TestEndToEndNumberPool(t *testing.T) {
	t.Parallel()
	const perNumber = 2
	pool := []string{"pn-a", "pn-b", "pn-c"}
	b := setupE2E(t, 40, 10, vapitest.Faults{}, func(s *campaign.Settings) {
		s.PhoneNumberIDs, s.PerNumberMaxConcurrent = pool, perNumber
	})
	b.startRunner(t)
	b.startRunner(t)
	p := b.waitFinal(t, time.Minute)
	require.Equal(t, 40, p.Total)
	b.checkGuarantees(t, 10)

	spec := vapispec.ForTest(t)
	ctx := context.Background()
	for _, r := range b.sim.CreateRequests() {
		require.NoError(t, spec.Validate("CreateCallDTO", r.Body, true), "%s", r.Body)
		var body struct {
			Name          string `json:"name"`
			PhoneNumberID string `json:"phoneNumberId"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		if r.CallID == "" {
			continue
		}
		att, err := b.store.AttemptByCallID(ctx, r.CallID)
		require.NoError(t, err)
		require.Equal(t, att.Key, body.Name)
		require.Equal(t, att.PhoneNumberID, body.PhoneNumberID, "the call comes from the number its attempt recorded")
	}
	seen := b.sim.PhoneNumbers()
	for _, id := range pool {
		require.Positive(t, seen[id].Calls, "%s placed no call: %v", id, seen)
		require.LessOrEqual(t, seen[id].MaxLive, perNumber, "%s: %v", id, seen)
	}
	require.Len(t, seen, len(pool), "no call from outside the pool: %v", seen)
}
