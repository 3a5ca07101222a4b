package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// suppressed returns the stored suppression list as phone -> reason.
func (b *testBundle) suppressed(t *testing.T) map[string]string {
	t.Helper()
	rows, err := b.pool(t).Query(context.Background(), `SELECT phone, reason FROM suppression`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var phone, reason string
		require.NoError(t, rows.Scan(&phone, &reason))
		out[phone] = reason
	}
	require.NoError(t, rows.Err())
	return out
}

func TestSuppressAddListRemove(t *testing.T) {
	b := setup(t)

	code := b.run(t, "suppress", "add", "+1 (415) 555-0132", "(212) 555-0187", "--reason", "complaint")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "2 numbers added\n")
	require.Empty(t, b.stdout.String())

	// Duplicates: on the command line and already on the list. The first reason stays.
	code = b.run(t, "suppress", "add", "4155550132", "+442079460018", "+44 20 7946 0018")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "1 number added (1 already suppressed)")
	require.Equal(t, map[string]string{
		"+14155550132": "complaint", "+12125550187": "complaint", "+442079460018": "manual",
	}, b.suppressed(t))

	// A national number in another region, from the environment.
	b.env["CAMPAIGN_DEFAULT_REGION"] = "GB"
	code = b.run(t, "suppress", "add", "020 7946 0019")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.suppressed(t), "+442079460019")
	delete(b.env, "CAMPAIGN_DEFAULT_REGION")

	// text: a table in phone order.
	require.Equal(t, exitOK, b.run(t, "suppress", "list"), "stderr: %s", b.stderr)
	lines := strings.Split(strings.TrimSpace(b.stdout.String()), "\n")
	require.Len(t, lines, 5)
	require.Equal(t, []string{"PHONE", "ADDED", "REASON", "VAPI", "CALL", "SOURCE"}, strings.Fields(lines[0]))
	for i, want := range []string{"+12125550187", "+14155550132", "+442079460018", "+442079460019"} {
		f := strings.Fields(lines[i+1])
		require.Equal(t, want, f[0])
		require.Equal(t, "-", f[3], "no call id")
		require.Equal(t, "manual", f[4])
	}
	require.Contains(t, lines[1], "complaint")
	require.Contains(t, b.stderr.String(), "4 numbers suppressed")

	// csv.
	require.Equal(t, exitOK, b.run(t, "suppress", "list", "--format", "csv"), "stderr: %s", b.stderr)
	records, err := csv.NewReader(bytes.NewReader(b.stdout.Bytes())).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 5)
	require.Equal(t, []string{"phone", "reason", "source", "vapi_call_id", "created_at", "campaign"}, records[0])
	require.Equal(t, []string{"+12125550187", "complaint", "cli", ""}, records[1][:4])
	require.Equal(t, "2026-11-22T23:30:00Z", records[1][4], "added at the CLI's clock")

	// json lines.
	require.Equal(t, exitOK, b.run(t, "suppress", "list", "--format", "json"), "stderr: %s", b.stderr)
	lines = strings.Split(strings.TrimSpace(b.stdout.String()), "\n")
	require.Len(t, lines, 4)
	var first map[string]string
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.Equal(t, "+12125550187", first["phone"])
	require.Equal(t, "complaint", first["reason"])
	require.Equal(t, "cli", first["source"])
	require.Contains(t, first, "vapi_call_id")
	require.NotEmpty(t, first["created_at"])

	// remove.
	code = b.run(t, "suppress", "remove", "(415) 555-0132", "+1 303 555 0110")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "1 number removed (1 not on the list)")
	require.NotContains(t, b.suppressed(t), "+14155550132")
	require.Len(t, b.suppressed(t), 3)

	// An empty list.
	require.Equal(t, exitOK, b.run(t, "suppress", "remove", "+12125550187", "+442079460018", "+442079460019"))
	require.Equal(t, exitOK, b.run(t, "suppress", "list"))
	require.Equal(t, 1, strings.Count(b.stdout.String(), "\n"), "only the header")
	require.Contains(t, b.stderr.String(), "0 numbers suppressed")
}

func TestSuppressInvalidNumbers(t *testing.T) {
	b := setup(t)
	require.Equal(t, exitOK, b.run(t, "suppress", "add", "+14155550132"), "stderr: %s", b.stderr)

	code := b.run(t, "suppress", "add", "+12125550187", "1-800-FLOWERS", "12")
	require.Equal(t, exitError, code)
	require.Contains(t, b.stderr.String(), `"1-800-FLOWERS"`)
	require.Contains(t, b.stderr.String(), `"12"`)
	require.Contains(t, b.stderr.String(), "nothing was changed")
	require.Empty(t, b.stdout.String())
	require.Equal(t, map[string]string{"+14155550132": "manual"}, b.suppressed(t), "nothing written")

	code = b.run(t, "suppress", "remove", "+14155550132", "not-a-number")
	require.Equal(t, exitError, code)
	require.Contains(t, b.stderr.String(), `"not-a-number"`)
	require.Contains(t, b.suppressed(t), "+14155550132", "nothing removed")

	// Usage errors: TestSuppressFlags.
	require.Equal(t, map[string]string{"+14155550132": "manual"}, b.suppressed(t))
}

func TestSuppressImport(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	plain := writeFile(t, dir, "dnc.txt", "+1 212 555 0187\n\n(646) 555-0123\n+12125550187\n")
	table := writeFile(t, dir, "complaints.csv", "customer,Phone Number,note\nJane,+1 (415) 555-0132,rude\nPriya,(646) 555-0123,\n")
	bad := writeFile(t, dir, "bad.txt", "+13035550110\n+13035550111\nnot a number\n")

	code := b.run(t, "suppress", "import", plain, "--reason", "registry")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "2 numbers added")
	require.Equal(t, map[string]string{"+12125550187": "registry", "+16465550123": "registry"}, b.suppressed(t))

	code = b.run(t, "suppress", "import", table)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "1 number added (1 already suppressed)")
	require.Equal(t, "manual", b.suppressed(t)["+14155550132"])
	require.Equal(t, "registry", b.suppressed(t)["+16465550123"], "the first reason stays")

	var source string
	require.NoError(t, b.pool(t).QueryRow(context.Background(),
		`SELECT source FROM suppression WHERE phone = '+14155550132'`).Scan(&source))
	require.Equal(t, "import:complaints.csv", source)

	// A bad line: the error names it and nothing is imported.
	code = b.run(t, "suppress", "import", bad)
	require.Equal(t, exitError, code)
	require.Contains(t, b.stderr.String(), "line 3")
	require.Len(t, b.suppressed(t), 3)

	code = b.run(t, "suppress", "import", filepath.Join(dir, "nope.txt"))
	require.Equal(t, exitError, code)
	require.Contains(t, b.stderr.String(), "no such file")
}

func TestSuppressAddMarksRunningCampaign(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--format", "json"), "stderr: %s", b.stderr)
	r := decodeReport(t, b.stdout.Bytes())

	// Jane is in a call, Marcus is done, Olivia is queued, Priya waits; the campaign runs.
	ctx := context.Background()
	pool := b.pool(t)
	_, err := pool.Exec(ctx, `
		UPDATE contact SET state = CASE phone
			WHEN '+14155550132' THEN 'in_call' WHEN '+12125550187' THEN 'completed' WHEN '+442079460018' THEN 'queued'
			ELSE state END
		WHERE campaign_id = $1`, r.Campaign.ID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE campaign SET status = 'running', queued_contacts = 1 WHERE id = $1`, r.Campaign.ID)
	require.NoError(t, err)

	code := b.run(t, "suppress", "add", "+14155550132", "+12125550187", "+442079460018", "+16465550123")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "4 numbers added")

	states := map[string]string{}
	rows, err := pool.Query(ctx, `SELECT phone, state FROM contact WHERE campaign_id = $1`, r.Campaign.ID)
	require.NoError(t, err)
	for rows.Next() {
		var phone, state string
		require.NoError(t, rows.Scan(&phone, &state))
		states[phone] = state
	}
	require.NoError(t, rows.Err())
	require.Equal(t, "in_call", states["+14155550132"], "a live call is left alone")
	require.Equal(t, "completed", states["+12125550187"], "a final contact is left alone")
	require.Equal(t, "do_not_call", states["+442079460018"])
	require.Equal(t, "do_not_call", states["+16465550123"])
	require.Equal(t, "pending", states["+13035550110"])

	var status string
	var queued int
	require.NoError(t, pool.QueryRow(ctx, `SELECT status, queued_contacts FROM campaign WHERE id = $1`, r.Campaign.ID).
		Scan(&status, &queued))
	require.Equal(t, "running", status)
	require.Zero(t, queued)
}

func TestDryRunAfterSuppressAdd(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "suppress", "add", "(646) 555-0123"), "stderr: %s", b.stderr)

	code := b.run(t, "run", file, "--dry-run", "--format", "json")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	r := decodeReport(t, b.stdout.Bytes())
	require.Equal(t, 1, r.RejectedByReason["suppressed"])
	require.Equal(t, 8, r.Accepted)
	rejects := readCSV(t, r.RejectsFile)
	var found bool
	for _, row := range rejects[1:] {
		if row[0] == "+1 646 555 0123" {
			found = true
			require.Equal(t, "suppressed", row[8])
		}
	}
	require.True(t, found, "rejects: %v", rejects)
}

// TestSuppressListSaysWhereFrom: each entry says where it came from: added by hand, imported
// from a file, or asked for in a call of a named campaign (with the call's id).
func TestSuppressListSaysWhereFrom(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	require.Equal(t, exitOK, b.run(t, "run", file, "--dry-run", "--name", "nov"), "stderr: %s", b.stderr)
	require.Equal(t, exitOK, b.run(t, "suppress", "add", "+1 415 555 0101"), "stderr: %s", b.stderr)
	list := writeFile(t, t.TempDir(), "dnc.txt", "+1 415 555 0102\n")
	require.Equal(t, exitOK, b.run(t, "suppress", "import", list), "stderr: %s", b.stderr)
	_, err := b.pool(t).Exec(context.Background(), `
		INSERT INTO suppression (phone, reason, source, vapi_call_id, campaign_id)
		SELECT '+14155550103', 'asked not to be called', 'call', 'call-77', id FROM campaign WHERE name = 'nov'`)
	require.NoError(t, err)

	require.Equal(t, exitOK, b.run(t, "suppress", "list"), "stderr: %s", b.stderr)
	lines := strings.Split(strings.TrimSpace(b.stdout.String()), "\n")
	require.Len(t, lines, 4)
	require.True(t, strings.HasSuffix(lines[1], "  manual"), lines[1])
	require.True(t, strings.HasSuffix(lines[2], "  import dnc.txt"), lines[2])
	require.Contains(t, lines[3], "call-77")
	require.True(t, strings.HasSuffix(lines[3], "  call in campaign nov"), lines[3])

	require.Equal(t, exitOK, b.run(t, "suppress", "list", "--format", "csv"), "stderr: %s", b.stderr)
	records, err := csv.NewReader(bytes.NewReader(b.stdout.Bytes())).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"+14155550103", "asked not to be called", "call", "call-77"}, records[3][:4])
	require.Equal(t, "nov", records[3][5])
}
