package main

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/reports"
	"github.com/campaign-run/campaign/reports/export"
)

// TestSimulatedRunWithTwoNumbers: a --simulate run from two numbers takes them in turn; status
// shows the pool, the exports name each call's number and the report counts the calls of each.
func TestSimulatedRunWithTwoNumbers(t *testing.T) {
	b := setup(t)
	b.realClock = true
	file := writeFile(t, t.TempDir(), "pool.csv", killContacts(6))
	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "1200", "--rate", "0", "--name", "pool",
		"--phone-number-id", "pn-east,pn-west", "--per-number-max-concurrent", "2")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "6 of 6 contacts final")
	require.Contains(t, b.stderr.String(), "Calling from 2 numbers (round-robin).")

	require.Equal(t, exitOK, b.run(t, "status", "pool"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "numbers:      pn-east, pn-west (round-robin); per number: max concurrent 2, daily cap none (UTC); same number on retry")
	require.Equal(t, exitOK, b.run(t, "status", "pool", "--format", "json"), "stderr: %s", b.stderr)
	var st struct {
		Settings struct {
			PhoneNumberID          string   `json:"phone_number_id"`
			PhoneNumberIDs         []string `json:"phone_number_ids"`
			PerNumberMaxConcurrent int      `json:"per_number_max_concurrent"`
		} `json:"settings"`
	}
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &st), "%s", b.stdout)
	require.Equal(t, "pn-east", st.Settings.PhoneNumberID)
	require.Equal(t, []string{"pn-east", "pn-west"}, st.Settings.PhoneNumberIDs)
	require.Equal(t, 2, st.Settings.PerNumberMaxConcurrent)

	require.Equal(t, exitOK, b.run(t, "export", "pool", "--attempts"), "stderr: %s", b.stderr)
	rows := readCSVBytes(t, b.stdout.Bytes())
	col := slices.Index(rows[0], "caller_number_id")
	require.GreaterOrEqual(t, col, 0, "%v", rows[0])
	perNumber := map[string]int{}
	for _, r := range rows[1:] {
		perNumber[r[col]]++
	}
	require.Equal(t, map[string]int{"pn-east": 3, "pn-west": 3}, perNumber, "one call each, in turn")

	require.Equal(t, exitOK, b.run(t, "export", "pool"), "stderr: %s", b.stderr)
	rows = readCSVBytes(t, b.stdout.Bytes())
	col = slices.Index(rows[0], export.ColCallerNumberID)
	require.GreaterOrEqual(t, col, 0, "%v", rows[0])
	perNumber = map[string]int{}
	for _, r := range rows[1:] {
		perNumber[r[col]]++
	}
	require.Equal(t, map[string]int{"pn-east": 3, "pn-west": 3}, perNumber)

	require.Equal(t, exitOK, b.run(t, "report", "pool", "--format", "json"), "stderr: %s", b.stderr)
	var r reports.Report
	require.NoError(t, json.Unmarshal(b.stdout.Bytes(), &r), "%s", b.stdout)
	require.Len(t, r.CallerNumbers, 2)
	for i, id := range []string{"pn-east", "pn-west"} {
		require.Equal(t, id, r.CallerNumbers[i].PhoneNumberID)
		require.Equal(t, 3, r.CallerNumbers[i].Calls)
		require.NotEmpty(t, r.CallerNumbers[i].Number, "the E.164 number the pre-flight read")
	}
	require.Equal(t, exitOK, b.run(t, "report", "pool"), "stderr: %s", b.stderr)
	require.Contains(t, b.stdout.String(), "By caller number")
}
