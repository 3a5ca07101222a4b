package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDryRunMessyCSV runs the CLI on a file with every kind of bad input and checks the counts,
// the rejects file (complete, with line numbers and original cells) and the stored contacts.
func TestDryRunMessyCSV(t *testing.T) {
	b := setup(t)
	dir := t.TempDir()

	// Each record with the reason it must be rejected for ("" = accepted, "blank" = skipped).
	records := []struct{ text, want string }{
		{"+14155550123,Ada Lovelace,America/Los_Angeles,gold", ""},
		{"\"(415) 555-0132\",\"Hopper, Grace\",,\"line one\nline two\"", ""},
		{"", "blank"},
		{",No Phone,,gold", "missing_phone"},
		{"call me maybe,Garbage,,gold", "invalid_phone"},
		{"+1 555 0100,Short,,gold", "impossible_phone"},
		{"+14155550135,Bad Zone,Mars/Olympus_Mons,gold", "invalid_time_zone"},
		{"+14155550136,Too Many,,gold,EXTRA", "wrong_field_count"},
		{"+14155550137,Too Few", "wrong_field_count"},
		{"+14155550138,Bad \"Quote,,gold", "malformed_csv"},
		{"+14155550139,Ren\xe9 Latin1,,gold", "invalid_utf8"},
		{"+14155550140,Nul\x00Byte,,gold", "malformed_csv"},
		{"+14155550141,Big,," + strings.Repeat("x", 100_001), "too_long"},
		{"415-555-0123,Ada Again,,gold", "duplicate_phone"},
		{"+1 212 555 0187,On The File List,,gold", "suppressed"},
		{"+1 646 555 0123,On The Stored List,,gold", "suppressed"},
		{"+14155550142," + strings.Repeat("Long", 15) + ",,gold", ""},
		{"+44 20 7946 0018,Tim,Europe/London,gold\r", ""},
	}
	var file strings.Builder
	file.WriteString("\ufeffphone,name,timezone,plan\r\n")
	line := 2
	wantLines := map[string][]int{}
	for _, r := range records {
		switch r.want {
		case "", "blank":
		default:
			wantLines[r.want] = append(wantLines[r.want], line)
		}
		file.WriteString(r.text + "\n")
		line += strings.Count(r.text, "\n") + 1
	}
	path := writeFile(t, dir, "messy.csv", file.String())
	suppress := writeFile(t, dir, "dnc.csv", "number\n(212) 555-0187\n")
	require.Equal(t, exitOK, b.run(t, "migrate"), "stderr: %s", b.stderr)
	_, err := b.pool(t).Exec(context.Background(), `INSERT INTO suppression (phone) VALUES ('+16465550123')`)
	require.NoError(t, err)

	code := b.run(t, "run", path, "--dry-run", "--format", "json", "--suppress", suppress)
	require.Equal(t, exitOK, code, "stderr: %s", b.stderr)
	r := decodeReport(t, b.stdout.Bytes())

	wantCounts := map[string]int{}
	for reason, lines := range wantLines {
		wantCounts[reason] = len(lines)
	}
	require.Equal(t, wantCounts, r.RejectedByReason)
	require.Equal(t, 4, r.Accepted)
	require.Equal(t, 17, r.RowsRead, "the blank line is not a row")
	require.Equal(t, r.RowsRead, r.Accepted+r.Rejected)
	require.Contains(t, strings.Join(r.Warnings, "\n"), "40-character", "the long name was cut and said so")

	// The rejects file has every rejected row once, with its line, reason and original cells.
	rejects := readCSV(t, r.RejectsFile)
	require.Equal(t, []string{"phone", "name", "timezone", "plan", "line", "reason", "detail"}, rejects[0])
	require.Len(t, rejects, 1+r.Rejected)
	gotLines := map[string][]int{}
	for _, rec := range rejects[1:] {
		n, err := strconv.Atoi(rec[4])
		require.NoError(t, err)
		gotLines[rec[5]] = append(gotLines[rec[5]], n)
		require.NotEmpty(t, rec[6], "every reject says why: %v", rec)
	}
	require.Equal(t, wantLines, gotLines)
	for _, rec := range rejects[1:] {
		if rec[5] == "duplicate_phone" {
			require.Equal(t, []string{"415-555-0123", "Ada Again", "", "gold"}, rec[:4], "original cells kept")
			require.Equal(t, "same number as line 2", rec[6])
		}
	}

	// The accepted rows are stored as written.
	var fields []string
	require.NoError(t, b.pool(t).QueryRow(context.Background(),
		`SELECT fields FROM contact WHERE campaign_id = $1 AND line = 3`, r.Campaign.ID).Scan(&fields))
	require.Equal(t, []string{"(415) 555-0132", "Hopper, Grace", "", "line one\nline two"}, fields)
}
