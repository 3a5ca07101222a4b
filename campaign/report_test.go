package campaign_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

func TestReportFacts(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{contacts: 4, maxConcurrent: 5, retry: "no_answer=1@1h"})
	// The fourth contact's zone is one Postgres does not know: its calls have no local hour.
	_, err := b.pool.Exec(b.ctx, `UPDATE contact SET time_zones = '{Mars/Olympus}' WHERE id = $1`, b.contacts[3])
	require.NoError(t, err)

	end := func(callID, reason string, at time.Time, duration, cost float64, eval string, breakdown string) {
		t.Helper()
		started := at.Add(10 * time.Second)
		ended := started.Add(time.Duration(duration * float64(time.Second)))
		res := campaign.CallResult{CallID: callID, EndedReason: reason, EndedAt: &ended, Cost: &cost, SuccessEvaluation: eval}
		if duration > 0 {
			res.StartedAt, res.DurationSeconds = &started, &duration
		}
		if breakdown != "" {
			res.CostBreakdown = json.RawMessage(breakdown)
		}
		applied, err := b.store.ApplyResult(b.ctx, res, ended.Add(5*time.Second))
		require.NoError(t, err)
		require.True(t, applied)
	}
	call := func(contact int, callID string, at time.Time) {
		t.Helper()
		b.queue(t, b.contacts[contact])
		a := b.grant(t, b.contacts[contact], at)
		require.NoError(t, b.store.CallCreated(b.ctx, a.ID, callID, at, at))
	}

	call(0, "c0", t0)
	end("c0", "customer-ended-call", t0, 100, 0.2, "true",
		`{"transport": 0.01, "analysisCostBreakdown": {"summary": 0.001, "successEvaluation": 0.002}}`)
	call(1, "c1", t0)
	end("c1", "customer-did-not-answer", t0, 0, 0, "", "")
	call(1, "c1b", t0.Add(2*time.Hour))
	end("c1b", "assistant-ended-call", t0.Add(2*time.Hour), 300, 0.5, "false", "")
	b.queue(t, b.contacts[2])
	refused := b.grant(t, b.contacts[2], t0)
	require.NoError(t, b.store.CallNotCreated(b.ctx, refused.ID, campaign.NotCreatedRetryable, "", "vapi 503", t0, t0))
	call(2, "c2", t0.Add(time.Minute)) // live
	call(3, "c3", t0)
	end("c3", "customer-ended-call", t0, 20, 0.05, " Yes ", "")

	f, err := b.store.ReportFacts(b.ctx, b.camp.ID)
	require.NoError(t, err)
	require.Equal(t, b.camp.ID, f.Campaign.ID)
	require.NotNil(t, f.StartedAt)
	require.Nil(t, f.FinishedAt)

	require.Equal(t, []campaign.ZoneFacts{
		{Zone: "America/Los_Angeles", Contacts: 3, Dialed: 3, Connected: 2, Successful: 1, Calls: 4, ConnectedCalls: 2},
		{Zone: "Mars/Olympus", Contacts: 1, Dialed: 1, Connected: 1, Successful: 1, Calls: 1, ConnectedCalls: 1},
	}, f.Zones)

	var calls, atVapi, attempts int
	for _, g := range f.Groups {
		attempts += g.Attempts
		if g.Call {
			calls += g.Attempts
		}
		if g.AtVapi {
			atVapi += g.Attempts
		}
		if !g.Call {
			require.Equal(t, campaign.AttemptGroup{Attempts: 1}, g,
				"the attempt refused with a 503 is no call")
		}
	}
	require.Equal(t, []int{6, 5, 5}, []int{attempts, calls, atVapi})

	require.Equal(t, []campaign.CallNumberFacts{
		{Number: 1, Calls: 4, Connected: 2, Successful: 2, FirstConnected: 2, FirstSuccessful: 2},
		{Number: 2, Calls: 1, Connected: 1, Successful: 0, FirstConnected: 1, FirstSuccessful: 0},
	}, f.ByCallNumber, "the refused attempt does not count as the live call's contact's first call")

	d := f.Duration
	require.Equal(t, 3, d.Calls)
	require.InDelta(t, 140, d.Mean, 1e-9)
	require.InDelta(t, 100, d.P50, 1e-9)
	require.InDelta(t, 260, d.P90, 1e-9)
	require.Equal(t, []int{1, 0, 1, 0, 0, 1, 0}, d.Buckets, "20 s, 100 s, 300 s (a bound belongs to the bucket above)")
	require.InDelta(t, 420, d.TotalSeconds, 1e-9)

	// 2025-03-03 is before the US switch to daylight time: Los Angeles is UTC-8.
	var hours []int
	for h, x := range f.Hours {
		for range x.Calls {
			hours = append(hours, h)
		}
	}
	require.Equal(t, []int{4, 4, 4, 6}, hours)
	require.Equal(t, campaign.HourFacts{Calls: 3, Connected: 1}, f.Hours[4])
	require.Equal(t, 1, f.UnknownHourCalls)

	require.InDelta(t, 0.75, f.Cost.TotalUSD, 1e-9)
	require.InDelta(t, 0.01, f.Cost.TransportUSD, 1e-9)
	require.InDelta(t, 0.003, f.Cost.AnalysisUSD, 1e-9)
	require.Equal(t, 1, f.LiveCalls)
	require.True(t, t0.Equal(*f.FirstAttemptAt))
	require.True(t, t0.Add(2*time.Hour).Equal(*f.LastAttemptAt))
	require.True(t, t0.Equal(*f.VapiFrom))
	require.True(t, t0.Add(2*time.Hour+5*time.Minute+10*time.Second).Equal(*f.VapiTo), "c1b ended at %s", f.VapiTo)

	byState := map[campaign.ContactState]int{}
	for _, c := range f.Contacts {
		byState[c.State] += c.Contacts
	}
	require.Equal(t, map[campaign.ContactState]int{campaign.ContactCompleted: 3, campaign.ContactInCall: 1}, byState)
	require.Nil(t, f.NextDue)

	_, err = b.store.ReportFacts(b.ctx, b.camp.ID+1000)
	require.True(t, errors.Is(err, campaign.ErrNotFound), "%v", err)
}
