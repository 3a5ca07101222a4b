package main

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// TestNumberPoolWithThreeRunners: three runner processes dial one campaign of 90 contacts from
// three numbers by local presence, at most 2 live calls a number and 30 calls a number a day.
// Every contact is in San Francisco (415): the 415 number is preferred, the others take the
// calls it has no room for, and the caps leave room for exactly 90 calls, so every number
// reaches its cap. From the simulator's side of the wire: no number ever had more than 2 live
// calls, none placed more than 30 calls in a UTC day, each call came from the number its attempt
// recorded, and every contact ended with one call.
func TestNumberPoolWithThreeRunners(t *testing.T) {
	t.Parallel()
	const (
		contacts  = 90
		perNumber = 2
		dailyCap  = 30
	)
	b := setupOpsWith(t, vapitest.Config{Seed: 11, TimeScale: 120, ConcurrencyLimit: 100, PhoneNumbers: []vapi.PhoneNumber{
		{ID: "pn-415", Number: "+14155550000", Provider: "twilio"},
		{ID: "pn-212", Number: "+12125550000", Provider: "twilio"},
		{ID: "pn-310", Number: "+13105550000", Provider: "twilio"},
	}})
	ctx := context.Background()
	hookURL := opsReceiver(t, b.pool)
	csvPath := writeFile(t, b.dir, "pool.csv", killContacts(contacts))
	common := []string{"--vapi-base-url", b.simURL, "--public-url", hookURL, "--webhook-listen", "127.0.0.1:0"}
	runners := []*killProc{b.start(t, "runner-1", append([]string{"run", csvPath, "--name", "pool",
		"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-310,pn-212",
		"--phone-number-id", "pn-415", "--number-strategy", "local-presence",
		"--per-number-max-concurrent", strconv.Itoa(perNumber), "--per-number-daily-cap", strconv.Itoa(dailyCap),
		"--window", "always", "--rate", "0", "--max-concurrent", "20", "--retry", "none", "--max-attempts", "1"}, common...)...)}
	require.True(t, b.waitFor(t, runners[0], dispatching, time.Minute), "runner-1 ended before it started:\n%s", runners[0].stderr.String())
	for _, name := range []string{"runner-2", "runner-3"} {
		p := b.start(t, name, append([]string{"resume", "pool"}, common...)...)
		runners = append(runners, p)
		require.True(t, b.waitFor(t, p, "Resuming campaign", time.Minute), "%s ended before it started:\n%s", name, p.stderr.String())
	}
	deadline := time.After(3 * time.Minute)
	for _, p := range runners {
		select {
		case <-p.done:
			require.NoError(t, p.err, "%s:\n%s", p.name, p.stderr.String())
		case <-deadline:
			require.FailNow(t, p.name+" did not end", b.snapshot(t))
		}
	}

	var status campaign.Status
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT status FROM campaign WHERE name = 'pool'`).Scan(&status))
	require.Equal(t, campaign.StatusCompleted, status, b.snapshot(t))
	var final, calls int
	require.NoError(t, b.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state IN ('completed', 'failed')), count(*) FILTER (WHERE attempts = 1)
		FROM contact`).Scan(&final, &calls))
	require.Equal(t, contacts, final, b.snapshot(t))
	require.Equal(t, contacts, calls, "one call a contact")

	// From the simulator's side: the live calls of each number, and its calls of each UTC day
	// (the day of the attempt that placed it).
	seen := b.sim.PhoneNumbers()
	for id, s := range seen {
		require.LessOrEqual(t, s.MaxLive, perNumber, "%s had %d live calls at once", id, s.MaxLive)
	}
	byDay := map[string]int{}
	for _, r := range b.sim.CreateRequests() {
		if r.CallID == "" {
			continue
		}
		var body struct {
			Name          string `json:"name"`
			PhoneNumberID string `json:"phoneNumberId"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		var (
			recorded string
			day      time.Time
		)
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT phone_number_id, created_at FROM attempt WHERE key = $1`, body.Name).
			Scan(&recorded, &day))
		require.Equal(t, recorded, body.PhoneNumberID, "attempt %s", body.Name)
		k := body.PhoneNumberID + " " + campaign.NumberDay(day).Format(time.DateOnly)
		byDay[k]++
		require.LessOrEqual(t, byDay[k], dailyCap, "%s placed more than its daily cap", k)
	}
	require.Equal(t, contacts, seen["pn-415"].Calls+seen["pn-212"].Calls+seen["pn-310"].Calls, "%v", seen)
	if len(byDay) == 3 { // all on one UTC day (a run across midnight gets fresh caps)
		for _, id := range []string{"pn-415", "pn-212", "pn-310"} {
			require.Equal(t, dailyCap, seen[id].Calls, "every number reached its cap: %v", seen)
		}
	}
	t.Logf("calls by number: %v", seen)
}
