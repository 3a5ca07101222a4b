package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
)

// TestRunSimulateBudgetCap runs a campaign with a budget cap on the simulator: the cap pauses it
// with contacts left, the run ends with exit 1 and the command that continues it, and the spend
// passes the cap by at most what the calls in flight when the cap was reached cost (the last
// call granted and those not yet priced then: every dial checks the cap first). Resumed with a
// higher cap, it completes.
func TestRunSimulateBudgetCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.realClock = true
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("phone,name,first_name\n")
	for i := range 10 { // vapitest's numbers that always complete: every call has a cost
		fmt.Fprintf(&csv, "+1201555%04d,Completed %d,C%d\n", 100+i, i, i)
	}
	for i := range 20 { // the mix: some calls cost nothing
		fmt.Fprintf(&csv, "+1201555%04d,Mix %d,M%d\n", 160+i, i, i)
	}
	file := writeFile(t, dir, "budget.csv", csv.String())
	const maxCost = 1.5

	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "600", "--rate", "0", "--max-concurrent", "3",
		"--name", "budget", "--max-cost", fmt.Sprint(maxCost))
	require.Equal(t, exitError, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "campaign budget paused by its budget cap")
	require.Contains(t, b.stderr.String(), "continue with a higher cap: campaign resume budget --max-cost USD --simulate")

	ctx := context.Background()
	pool := b.pool(t)
	var (
		id                     int64
		status                 campaign.Status
		reason                 campaign.PauseReason
		spent, maxCall         float64
		attempts, unpriced     int
		liveAtStop, notYetDone int
	)
	require.NoError(t, pool.QueryRow(ctx, `SELECT id, status, paused_reason FROM campaign WHERE name = $1`, "budget").
		Scan(&id, &status, &reason))
	require.Equal(t, campaign.StatusPaused, status)
	require.Equal(t, campaign.PauseBudget, reason)
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT coalesce(sum(cost), 0)::float8, coalesce(max(cost), 0)::float8, count(*),
		       count(*) FILTER (WHERE report_at IS NULL)
		FROM attempt WHERE campaign_id = $1`, id).Scan(&spent, &maxCall, &attempts, &unpriced))
	require.Zero(t, unpriced, "the run waited for every result")
	// In flight when the cap was reached: the calls granted by the last dial's time and priced
	// after it (the last one included).
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT count(*) FROM attempt
		WHERE campaign_id = $1 AND report_at > (SELECT max(created_at) FROM attempt WHERE campaign_id = $1)`,
		id).Scan(&liveAtStop))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM contact WHERE campaign_id = $1 AND state = $2`,
		id, campaign.ContactPending).Scan(&notYetDone))
	t.Logf("spent $%.4f of $%.2f in %d calls; %d in flight at the stop, the dearest $%.4f; %d contacts left",
		spent, maxCost, attempts, liveAtStop, maxCall, notYetDone)
	require.Positive(t, notYetDone, "the cap stopped the campaign before its end")
	require.Positive(t, spent, "calls were placed and priced")
	require.LessOrEqual(t, spent, maxCost+float64(liveAtStop)*maxCall+1e-9)

	require.Equal(t, exitOK, b.run(t, "status", "budget"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "paused (budget)")

	// Raised and resumed in one command, it completes.
	code = b.run(t, "resume", "budget", "--simulate", "--sim-time-scale", "600", "--rate", "0", "--max-cost", "1000")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "30 of 30 contacts final")
	require.NoError(t, pool.QueryRow(ctx, `SELECT status, paused_reason FROM campaign WHERE id = $1`, id).
		Scan(&status, &reason))
	require.Equal(t, campaign.StatusCompleted, status)
	require.Equal(t, campaign.PauseOperator, reason)
}
