package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports/export"
)

// exportFixture is a CSV with cells a spreadsheet would run as formulas and non-ASCII text. Its
// numbers are vapitest's magic numbers, so the outcomes are known: 0100-0103 completed, 0110 no
// answer, 0120 busy, 0130 voicemail, 0140 a provider fault.
const exportFixture = "testdata/export/customers.csv"

func readCSVBytes(t *testing.T, data []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	rows, err := r.ReadAll()
	require.NoError(t, err, "%s", data)
	return rows
}

// runExportCampaign runs the fixture on the simulator to the end and returns its file rows.
func runExportCampaign(t *testing.T, b *testBundle, name string) [][]string {
	t.Helper()
	dir := t.TempDir()
	file := copyFile(t, exportFixture, dir)
	code := b.run(t, "run", file, "--simulate", "--sim-time-scale", "1200", "--rate", "0", "--window", "always",
		"--name", name, "--retry", "no_answer=1@1m, busy=1@1m, voicemail=0, failed=0", "--max-attempts", "2",
		"--callback-key", "no_callback_in_this_test", "--allow-missing-variables")
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	require.Contains(t, b.stderr.String(), "8 of 8 contacts final")
	data, err := os.ReadFile(exportFixture)
	require.NoError(t, err)
	return readCSVBytes(t, data)
}

func TestExport(t *testing.T) {
	b := setup(t)
	b.realClock = true
	original := runExportCampaign(t, b, "exp")
	pool := b.pool(t)
	ctx := context.Background()
	var campaignID int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM campaign WHERE name = 'exp'`).Scan(&campaignID))
	dir := t.TempDir()

	// Every contact: state, E.164 phone, attempts; and the campaign's attempts and structured data.
	type dbContact struct {
		state, phone string
		attempts     int
	}
	var contacts []dbContact
	rows, err := pool.Query(ctx, `SELECT state, phone, attempts FROM contact WHERE campaign_id = $1 ORDER BY id`, campaignID)
	require.NoError(t, err)
	for rows.Next() {
		var c dbContact
		require.NoError(t, rows.Scan(&c.state, &c.phone, &c.attempts))
		contacts = append(contacts, c)
	}
	require.NoError(t, rows.Err())
	require.Len(t, contacts, 8)
	var attempts, withStructured int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(structured_data) FROM attempt WHERE campaign_id = $1`,
		campaignID).Scan(&attempts, &withStructured))
	require.Greater(t, attempts, 8, "retries placed more calls than contacts")
	require.Positive(t, withStructured, "the simulator gave some calls structured data")

	var header []string
	t.Run("csv", func(t *testing.T) {
		require.Equal(t, exitOK, b.run(t, "export", "exp"), "stderr: %s", b.stderr)
		out := b.stdout.Bytes()
		require.False(t, bytes.HasPrefix(out, []byte("\uFEFF")), "no BOM without --excel")
		require.NotContains(t, string(out), "\r\n", "LF line ends without --excel")
		require.NotContains(t, b.stderr.String(), "Note:", "a completed campaign needs no note")
		got := readCSVBytes(t, out)
		require.Len(t, got, 1+8)
		header = got[0]

		// The original columns in their original order, the result columns, then structured.*.
		cols := original[0]
		require.Equal(t, cols, header[:len(cols)])
		require.Equal(t, export.ResultColumns, header[len(cols):len(cols)+len(export.ResultColumns)])
		structured := header[len(cols)+len(export.ResultColumns):]
		require.NotEmpty(t, structured)
		require.Contains(t, structured, "structured.will_pay")
		require.True(t, slices.IsSorted(structured), "%v", structured)
		for _, h := range structured {
			require.True(t, strings.HasPrefix(h, export.StructuredPrefix), h)
		}

		col := func(name string) int {
			i := slices.Index(header, name)
			require.GreaterOrEqual(t, i, 0, name)
			return i
		}
		for i, row := range got[1:] {
			orig := original[i+1]
			require.Len(t, row, len(header), "every row has every column")
			for j, cell := range orig {
				require.Equal(t, export.SpreadsheetSafe(cell), row[j], "row %d column %s", i+1, cols[j])
			}
			require.Equal(t, contacts[i].state, row[col(export.ColState)])
			require.Equal(t, contacts[i].phone, row[col(export.ColPhoneE164)])
			require.Equal(t, contacts[i].attempts, atoi(t, row[col(export.ColAttempts)]))
			require.NotEmpty(t, row[col(export.ColVapiCallID)], "everyone was called")
			require.NotEmpty(t, row[col(export.ColFirstCallUTC)])
			_, err := time.Parse(time.RFC3339, row[col(export.ColLastCallUTC)])
			require.NoError(t, err)
			_, err = time.Parse(export.LocalTimeLayout, row[col(export.ColLastCallLocal)])
			require.NoError(t, err)
		}

		// The cells named in the fixture, one by one.
		cell := func(row int, name string) string { return got[row][slices.Index(header, name)] }
		require.Equal(t, "+12015550100", cell(1, "phone"), "E.164 untouched")
		require.Equal(t, "Zoë Ünal", cell(1, "name"))
		require.Equal(t, "'=SUM(A1)", cell(1, "note"))
		require.Equal(t, "'+1 201 555 0101", cell(2, "phone"))
		require.Equal(t, "山田 太郎", cell(2, "name"))
		require.Equal(t, "'+cmd|' /C calc'!A0", cell(2, "note"))
		require.Equal(t, "'-2+3", cell(2, "amount"))
		require.Equal(t, "محمد علي", cell(3, "name"))
		require.Equal(t, "'@x", cell(3, "note"))
		require.Equal(t, "-12.5", cell(3, "amount"), "a plain number stays a number")
		require.Equal(t, "'-crm-3", cell(3, "customer_id"))
		require.Equal(t, `Émile "The Quote" Brontë`, cell(4, "name"))
		require.Equal(t, "line one\nline two", cell(4, "note"))
		require.Equal(t, "'@crm-4", cell(4, "customer_id"))
		require.Equal(t, "🎉 Party Person", cell(5, "name"))
		require.Equal(t, "'\tTabbed", cell(5, "note"))
		require.Equal(t, "'\rCR first", cell(6, "note"))
		require.Equal(t, `'=HYPERLINK("http://evil.example","click")`, cell(7, "name"))
		require.Equal(t, "'=crm-8", cell(8, "customer_id"))
		require.Equal(t, "Asia/Tokyo", cell(5, export.ColTimeZone))
		require.Equal(t, "no_answer", cell(3, export.ColOutcome))
		require.Equal(t, "2", cell(3, export.ColAttempts))

		// No cell of the file can run as a formula.
		for i, row := range got {
			for j, c := range row {
				require.Equal(t, c, export.SpreadsheetSafe(c), "row %d column %d: %q", i, j, c)
			}
		}
	})

	t.Run("excel", func(t *testing.T) {
		path := filepath.Join(dir, "excel.csv")
		require.Equal(t, exitOK, b.run(t, "export", "exp", "--excel", "-o", path), "stderr: %s", b.stderr)
		require.Empty(t, b.stdout.String(), "the file goes to -o, nothing to stdout")
		require.Contains(t, b.stderr.String(), "Exported 8 contacts of campaign exp to "+path)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(data, []byte("\uFEFF")), "BOM")
		require.Equal(t, exitOK, b.run(t, "export", "exp"))
		plain := readCSVBytes(t, b.stdout.Bytes())
		withBOM := readCSVBytes(t, bytes.TrimPrefix(data, []byte("\uFEFF")))
		require.Equal(t, plain, withBOM)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 1, "no temporary file left behind")
	})

	t.Run("jsonl", func(t *testing.T) {
		require.Equal(t, exitOK, b.run(t, "export", "exp", "--format", "jsonl"), "stderr: %s", b.stderr)
		sc := bufio.NewScanner(bytes.NewReader(b.stdout.Bytes()))
		sc.Buffer(nil, 1<<20)
		n := 0
		for sc.Scan() {
			line := sc.Bytes()
			var m map[string]any
			require.NoError(t, json.Unmarshal(line, &m), "line %d: %s", n+1, line)
			require.Len(t, m, len(header))
			// The keys come in the header's order.
			dec := json.NewDecoder(bytes.NewReader(line))
			_, err := dec.Token()
			require.NoError(t, err)
			for i := 0; dec.More(); i++ {
				k, err := dec.Token()
				require.NoError(t, err)
				require.Equal(t, header[i], k)
				var skip json.RawMessage
				require.NoError(t, dec.Decode(&skip))
			}
			orig := original[n+1]
			for j, c := range original[0] {
				require.Equal(t, orig[j], m[c], "JSON Lines keep the cells as they are")
			}
			require.IsType(t, float64(0), m[export.ColAttempts])
			require.IsType(t, float64(0), m[export.ColCostUSD])
			n++
		}
		require.NoError(t, sc.Err())
		require.Equal(t, 8, n)
	})

	t.Run("attempts", func(t *testing.T) {
		require.Equal(t, exitOK, b.run(t, "export", "exp", "--attempts"), "stderr: %s", b.stderr)
		got := readCSVBytes(t, b.stdout.Bytes())
		require.Len(t, got, 1+attempts, "one row per attempt in the database")
		require.Equal(t, "contact_phone", got[0][0])
		require.Contains(t, got[0], "cost_transport_usd")
		for _, row := range got {
			for j, c := range row {
				require.Equal(t, c, export.SpreadsheetSafe(c), "column %d: %q", j, c)
			}
		}

		require.Equal(t, exitOK, b.run(t, "export", "exp", "--attempts", "--format", "jsonl"), "stderr: %s", b.stderr)
		lines := strings.Split(strings.TrimSuffix(b.stdout.String(), "\n"), "\n")
		require.Len(t, lines, attempts)
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
		require.Equal(t, "+12015550100", rec["contact_phone"])

		require.Equal(t, exitOK, b.run(t, "export", "exp", "--attempts", "--filter", "outcome=no_answer"), "stderr: %s", b.stderr)
		got = readCSVBytes(t, b.stdout.Bytes())
		require.Len(t, got, 1+2, "the no-answer contact's two calls")
	})

	t.Run("filter", func(t *testing.T) {
		count := func(args ...string) int {
			t.Helper()
			require.Equal(t, exitOK, b.run(t, append([]string{"export", "exp"}, args...)...), "stderr: %s", b.stderr)
			return len(readCSVBytes(t, b.stdout.Bytes())) - 1
		}
		require.Equal(t, 1, count("--filter", "outcome=no_answer"))
		require.Equal(t, 2, count("--filter", "outcome=no_answer,busy"))
		require.Equal(t, 2, count("--filter", "outcome=no_answer", "--filter", "outcome=busy"))
		require.Equal(t, 1, count("--filter", "state=failed,outcome=busy"))
		require.Equal(t, 3, count("--filter", "state=failed"))
		require.Equal(t, 0, count("--filter", "state=pending"))
		require.Equal(t, 0, count("--filter", "outcome=none"))
		require.Equal(t, 8, count("--filter", "STATE = completed, failed"))

		// Usage errors of the filters and formats: TestExportFlags.
		require.Equal(t, exitError, b.run(t, "export", "no-such-campaign"))
		require.Contains(t, b.stderr.String(), `no campaign "no-such-campaign"`)
	})

	t.Run("round trip", func(t *testing.T) {
		// A retry list: the file exported imports as a new campaign as it is.
		retry := filepath.Join(dir, "retry.csv")
		require.Equal(t, exitOK, b.run(t, "export", "exp", "--filter", "outcome=no_answer,busy", "-o", retry), "stderr: %s", b.stderr)
		require.Equal(t, exitOK, b.run(t, "run", retry, "--dry-run", "--format", "json", "--name", "retry"), "stderr: %s", b.stderr)
		r := decodeReport(t, b.stdout.Bytes())
		require.Equal(t, 2, r.Accepted)
		require.Zero(t, r.Rejected)

		all := filepath.Join(dir, "all.csv")
		require.Equal(t, exitOK, b.run(t, "export", "exp", "--excel", "-o", all), "stderr: %s", b.stderr)
		require.Equal(t, exitOK, b.run(t, "run", all, "--dry-run", "--format", "json", "--name", "again", "--preview", "0"), "stderr: %s", b.stderr)
		r = decodeReport(t, b.stdout.Bytes())
		require.Equal(t, 8, r.RowsRead)
		require.Equal(t, 8, r.Accepted)
		require.Zero(t, r.Rejected, "%v", r.RejectedByReason)
		require.Equal(t, columnRoles{Phone: "phone", Name: "name", TimeZone: "timezone", ExternalID: "customer_id"}, r.Columns,
			"the result columns are not taken for the phone, name, zone or id")

		// The same numbers and names: the apostrophe of a neutralized cell is taken off again.
		rows, err := pool.Query(ctx, `
			SELECT o.phone, n.phone, o.fields[2], n.fields[2], n.time_zones = o.time_zones,
				n.fields[1:array_length(o.fields, 1)] = o.fields
			FROM contact o JOIN contact n ON n.line = o.line
			WHERE o.campaign_id = $1 AND n.campaign_id = (SELECT id FROM campaign WHERE name = 'again')
			ORDER BY o.id`, campaignID)
		require.NoError(t, err)
		n := 0
		for rows.Next() {
			var oldPhone, newPhone, oldName, newName string
			var sameZones, sameFields bool
			require.NoError(t, rows.Scan(&oldPhone, &newPhone, &oldName, &newName, &sameZones, &sameFields))
			require.Equal(t, oldPhone, newPhone)
			require.Equal(t, oldName, newName)
			require.True(t, sameZones, oldPhone)
			require.True(t, sameFields, "every original cell comes back as it was imported: %s", oldPhone)
			n++
		}
		require.NoError(t, rows.Err())
		require.Equal(t, 8, n)
	})

	t.Run("unfinished", func(t *testing.T) {
		// Back to running as a fixture: Resume would take the failed contacts back too.
		tag, err := pool.Exec(ctx, `UPDATE campaign SET status = $3, finished_at = NULL WHERE id = $1 AND status = $2`,
			campaignID, campaign.StatusCompleted, campaign.StatusRunning)
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected(), "changed")
		_, err = pool.Exec(ctx, `UPDATE contact SET state = 'pending' WHERE campaign_id = $1 AND line = 2`, campaignID)
		require.NoError(t, err)
		require.Equal(t, exitOK, b.run(t, "export", "exp"), "stderr: %s", b.stderr)
		require.Contains(t, b.stderr.String(), "Note: campaign exp is still running: 1 of 8 contacts are not final yet")
		require.Len(t, readCSVBytes(t, b.stdout.Bytes()), 1+8)

		require.Equal(t, exitOK, b.run(t, "run", filepath.Join(dir, "all.csv"), "--dry-run", "--name", "draft"), "stderr: %s", b.stderr)
		require.Equal(t, exitOK, b.run(t, "export", "draft", "--attempts"), "stderr: %s", b.stderr)
		require.Contains(t, b.stderr.String(), "Note: campaign draft is a draft (never started)")
		require.Len(t, readCSVBytes(t, b.stdout.Bytes()), 1, "a header and no attempt")
	})

	t.Run("output never half written", func(t *testing.T) {
		path := filepath.Join(dir, "missing-dir", "out.csv")
		require.Equal(t, exitError, b.run(t, "export", "exp", "-o", path))
		_, err := os.Stat(path)
		require.ErrorIs(t, err, os.ErrNotExist)
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	require.NoError(t, json.Unmarshal([]byte(s), &n), "%q", s)
	return n
}
