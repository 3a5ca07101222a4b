package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDryRunExample(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)

	code := b.run(t, "run", file, "--dry-run", "--format", "json",
		"--assistant-id", "asst-123", "--phone-number-id", "pn-456", "--public-url", "https://hooks.example.com/")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)

	r := decodeReport(t, b.stdout.Bytes())
	require.True(t, r.DryRun)
	require.Equal(t, "draft", r.Campaign.Status)
	require.Equal(t, 12, r.RowsRead)
	require.Equal(t, 9, r.Accepted)
	require.Equal(t, 3, r.Rejected)
	require.Equal(t, map[string]int{"impossible_phone": 1, "duplicate_phone": 1, "missing_phone": 1}, r.RejectedByReason)
	require.Equal(t, filepath.Join(dir, "customers.rejects.csv"), r.RejectsFile)
	require.Equal(t, columnRoles{Phone: "phone", Name: "name", TimeZone: "timezone", ExternalID: "customer_id"}, r.Columns)
	require.Equal(t, []string{"name", "first_name", "amount_due", "due_date", "customer_id", "timezone"}, r.Variables)
	require.Len(t, r.Calls, 3, "--preview defaults to 3")

	// Time zones come from the column, else the number; every zone has a first callable time.
	zones := map[string]int{}
	for _, z := range r.TimeZones {
		zones[strings.Join(z.TimeZones, "+")] += z.Contacts
		require.NotEmpty(t, z.FirstCallable, "zones %v", z.TimeZones)
	}
	require.Equal(t, 1, zones["America/Chicago"], "the timezone column wins for line 5")
	require.Equal(t, 1, zones["Asia/Kolkata"])
	require.Equal(t, 1, zones["Europe/London"])
	// At 23:30 UTC on a Sunday it is evening in the Americas (callable until 20:00 local)
	// and night in London.
	for _, z := range r.TimeZones {
		switch strings.Join(z.TimeZones, "+") {
		case "America/Los_Angeles":
			require.True(t, z.CallableNow)
			require.Equal(t, "2026-11-22T23:30:00Z", z.FirstCallable)
		case "Europe/London":
			require.False(t, z.CallableNow)
			require.Equal(t, "Mon 2026-11-23 09:00 GMT", z.FirstCallableLocal)
		}
	}

	// The first body is exactly what the dialer will send, with the secret redacted.
	var body map[string]any
	require.NoError(t, json.Unmarshal(r.Calls[0], &body))
	require.Equal(t, "asst-123", body["assistantId"])
	require.Equal(t, "pn-456", body["phoneNumberId"])
	customer := body["customer"].(map[string]any)
	require.Equal(t, "+14155550132", customer["number"])
	require.Equal(t, "Jane Doe", customer["name"])
	require.Equal(t, body["name"], customer["externalId"], "the attempt key is both the call name and the external id")
	overrides := body["assistantOverrides"].(map[string]any)
	vars := overrides["variableValues"].(map[string]any)
	require.Equal(t, "Jane", vars["first_name"])
	require.Equal(t, "120.50", vars["amount_due"])
	server := overrides["server"].(map[string]any)
	require.Equal(t, "https://hooks.example.com/vapi/webhook", server["url"])
	require.Equal(t, map[string]any{"X-Vapi-Secret": redacted}, server["headers"])
	require.Equal(t, []any{"status-update", "end-of-call-report"}, overrides["serverMessages"])

	// The rejects file holds every rejected row with its line and reason.
	rejects := readCSV(t, r.RejectsFile)
	require.Equal(t, []string{"phone", "name", "first_name", "amount_due", "due_date", "customer_id", "timezone", "line", "reason", "detail"}, rejects[0])
	require.Len(t, rejects, 4)
	require.Equal(t, []string{"8", "impossible_phone"}, rejects[1][7:9])
	require.Equal(t, []string{"9", "duplicate_phone", "same number as line 2"}, rejects[2][7:10])
	require.Equal(t, []string{"11", "missing_phone"}, rejects[3][7:9])

	// The campaign and its contacts are stored as a draft.
	var contacts int
	require.NoError(t, b.pool(t).QueryRow(context.Background(),
		`SELECT count(*) FROM contact WHERE campaign_id = $1`, r.Campaign.ID).Scan(&contacts))
	require.Equal(t, 9, contacts)
}

func TestDryRunTextOutput(t *testing.T) {
	b := setup(t)
	file := copyFile(t, "../../examples/customers.csv", t.TempDir())
	code := b.run(t, "run", file, "--dry-run", "--name", "nov-reminders", "--preview", "1")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	out := b.stdout.String()
	for _, want := range []string{
		"Dry run: nobody was called.",
		"nov-reminders (id ",
		"12 read, 9 accepted, 3 rejected",
		"duplicate_phone 1, impossible_phone 1, missing_phone 1",
		"customers.rejects.csv",
		"phone=phone, name=name, time zone=timezone, external id=customer_id",
		"09:00-20:00",
		"Asia/Kolkata",
		"POST /call bodies for the first 1 of 9 contacts",
		`"number": "+14155550132"`,
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "X-Vapi-Secret", "no public URL: no webhook routing in the body")

	// The same name and file again replace the draft (see TestDraftReuse).
	code = b.run(t, "run", file, "--dry-run", "--name", "nov-reminders")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "Replaced the draft campaign nov-reminders")
}

func TestDryRunSuppressionAndEnvDefaults(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	suppress := writeFile(t, dir, "dnc.txt", "+1 212 555 0187\n\n(646) 555-0123\n")
	b.env["CAMPAIGN_WINDOW"] = "mon-fri 09:00-17:00"
	b.env["VAPI_ASSISTANT_ID"] = "asst-from-env"
	b.env["CAMPAIGN_PUBLIC_URL"] = "https://tunnel.example.com"
	b.env[envWebhookSecret] = "s3cr3t-value"

	code := b.run(t, "run", file, "--dry-run", "--format", "json", "--suppress", suppress, "--assistant-id", "asst-flag")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	r := decodeReport(t, b.stdout.Bytes())
	require.Equal(t, 7, r.Accepted)
	require.Equal(t, 2, r.RejectedByReason["suppressed"])
	require.Equal(t, "mon-fri 09:00-17:00", r.Window, "env fills a flag that was not given")
	var body map[string]any
	require.NoError(t, json.Unmarshal(r.Calls[0], &body))
	require.Equal(t, "asst-flag", body["assistantId"], "a flag wins over its env variable")

	// The secret never reaches stdout or stderr.
	require.NotContains(t, b.stdout.String(), "s3cr3t-value")
	require.NotContains(t, b.stderr.String(), "s3cr3t-value")

	// Numbers suppressed in the database are refused by later imports too.
	_, err := b.pool(t).Exec(context.Background(), `INSERT INTO suppression (phone, reason) VALUES ('+14155550132', 'asked')`)
	require.NoError(t, err)
	code = b.run(t, "run", file, "--dry-run", "--format", "json")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	r = decodeReport(t, b.stdout.Bytes())
	// Lines 2 and 9 carry the suppressed number: both are refused as suppressed, none as a duplicate.
	require.Equal(t, 2, r.RejectedByReason["suppressed"])
	require.Zero(t, r.RejectedByReason["duplicate_phone"])
}

func TestDryRunOverridesMerge(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()
	file := copyFile(t, "../../examples/customers.csv", dir)
	overrides := writeFile(t, dir, "overrides.json", `{
		"firstMessage": "Hi {{first_name}}, this is Acme.",
		"variableValues": {"company": "Acme", "first_name": "overridden by the row"},
		"maxDurationSeconds": 300
	}`)
	code := b.run(t, "run", file, "--dry-run", "--format", "json", "--overrides", overrides)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	r := decodeReport(t, b.stdout.Bytes())
	var body map[string]any
	require.NoError(t, json.Unmarshal(r.Calls[0], &body))
	ov := body["assistantOverrides"].(map[string]any)
	require.Equal(t, "Hi {{first_name}}, this is Acme.", ov["firstMessage"])
	require.Equal(t, float64(300), ov["maxDurationSeconds"])
	vars := ov["variableValues"].(map[string]any)
	require.Equal(t, "Acme", vars["company"])
	require.Equal(t, "Jane", vars["first_name"], "row variables win over the overrides file")
	require.NotContains(t, ov, "server", "no public URL: no webhook routing")
}

func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	example := copyFile(t, "../../examples/customers.csv", dir)
	headerOnly := writeFile(t, dir, "header-only.csv", "phone,name\n\n")
	empty := writeFile(t, dir, "empty.csv", "")
	noPhone := writeFile(t, dir, "nophone.csv", "name,email\nJane,j@example.com\n")
	dupHeader := writeFile(t, dir, "dup.csv", "phone,name,name\n+14155550132,a,b\n")
	badOverrides := writeFile(t, dir, "bad.json", `["not", "an", "object"]`)

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing file", []string{"run", filepath.Join(dir, "nope.csv"), "--dry-run"}, exitError, "no such file"},
		{"empty file", []string{"run", empty, "--dry-run"}, exitError, "header"},
		{"header only", []string{"run", headerOnly, "--dry-run"}, exitError, "no data rows"},
		{"no phone column", []string{"run", noPhone, "--dry-run"}, exitError, "phone"},
		{"duplicate header", []string{"run", dupHeader, "--dry-run"}, exitError, "name"},
		{"unknown phone column", []string{"run", example, "--dry-run", "--phone-column", "cell"}, exitError, "cell"},
		{"bad overrides", []string{"run", example, "--dry-run", "--overrides", badOverrides}, exitError, "JSON object"},
		// Usage errors, found before the file is read: TestRunFlags.
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			code := b.run(t, tc.args...)
			require.Equal(t, tc.code, code, "stderr: %s", b.stderr)
			require.Contains(t, b.stderr.String(), tc.want)
			require.Empty(t, b.stdout.String(), "errors never go to stdout")
		})
	}

	// Nothing half-written: no campaign row, and no rejects or temporary file left behind.
	b := setup(t)
	require.Equal(t, exitError, b.run(t, "run", headerOnly, "--dry-run"))
	var campaigns int
	require.NoError(t, b.pool(t).QueryRow(context.Background(), `SELECT count(*) FROM campaign`).Scan(&campaigns))
	require.Zero(t, campaigns)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), "rejects", "left behind: %s", e.Name())
		require.NotContains(t, e.Name(), ".tmp", "left behind: %s", e.Name())
	}
}

func TestMigrateCommand(t *testing.T) {
	b := setup(t)
	require.Equal(t, exitOK, b.run(t, "migrate"), "stderr: %s", b.stderr)
	require.Equal(t, "schema is up to date\n", b.stdout.String())
	require.Equal(t, exitOK, b.run(t, "migrate"), "a second run is a no-op")

	require.Equal(t, exitOK, b.run(t, "db", "url"))
	require.Equal(t, b.databaseURL()+"\n", b.stdout.String())
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	require.NoError(t, err)
	return records
}
