package campaign

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRejectsWriter(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		header    []string
		delimiter rune
		rejects   []Reject
		want      string
	}{
		{
			name:   "NoRejectsWritesHeader",
			header: []string{"phone", "name"},
			want:   "phone,name,line,reason,detail\n",
		},
		{
			name:   "ExactPaddedAndSurplus",
			header: []string{"phone", "name", "notes"},
			rejects: []Reject{
				{Line: 4, Fields: []string{"call me", "Ada", "x"}, Reason: RejectInvalidPhone, Detail: `phone number "call me" contains letters`},
				{Line: 7, Fields: []string{"+14155550123"}, Reason: RejectWrongFieldCount, Detail: "expected 3 fields (as in the header), got 1"},
				{Line: 9, Fields: []string{"+14155550124", "Bob", "n", "extra", "more, still"}, Reason: RejectWrongFieldCount, Detail: "got 5"},
				{Line: 12, Reason: RejectMalformedCSV, Detail: `bare " in non-quoted-field on line 12, column 3`},
			},
			want: "phone,name,notes,line,reason,detail\n" +
				"call me,Ada,x,4,invalid_phone,\"phone number \"\"call me\"\" contains letters\"\n" +
				"+14155550123,,,7,wrong_field_count,\"expected 3 fields (as in the header), got 1\"\n" +
				"+14155550124,Bob,n,9,wrong_field_count,\"got 5; cells beyond the header: \"\"extra\"\", \"\"more, still\"\"\"\n" +
				",,,12,malformed_csv,\"bare \"\" in non-quoted-field on line 12, column 3\"\n",
		},
		{
			name:      "SemicolonAndMultiLineCells",
			header:    []string{"name", "phone"},
			delimiter: ';',
			rejects: []Reject{
				{Line: 2, Fields: []string{"Ada;Lovelace", "+1 555 0100"}, Reason: RejectImpossiblePhone, Detail: "not valid"},
				{Line: 3, Fields: []string{"line one\nline two", "+14155550123"}, Reason: RejectDuplicatePhone, Detail: "same number as line 2"},
			},
			want: "name;phone;line;reason;detail\n" +
				"\"Ada;Lovelace\";+1 555 0100;2;impossible_phone;not valid\n" +
				"\"line one\nline two\";+14155550123;3;duplicate_phone;same number as line 2\n",
		},
		{
			name:   "CellsKeptByteForByte",
			header: []string{"phone", "notes"},
			rejects: []Reject{
				{Line: 2, Fields: []string{"+14155550123", "caf\xe9"}, Reason: RejectInvalidUTF8, Detail: `column "notes" (column 2) is not valid UTF-8`},
			},
			want: "phone,notes,line,reason,detail\n" +
				"+14155550123,caf\xe9,2,invalid_utf8,\"column \"\"notes\"\" (column 2) is not valid UTF-8\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var buf bytes.Buffer
			w := NewRejectsWriter(&buf, tt.header, tt.delimiter)
			for _, rej := range tt.rejects {
				require.NoError(t, w.Write(rej))
			}
			require.NoError(t, w.Flush())
			require.Equal(t, tt.want, buf.String())
		})
	}
}

// TestRejectsWriterRoundTrip writes the rejects of testdata/csv_messy.csv and
// reads the rejects file back: every rejected line is there, with its reason,
// and the file is itself importable CSV with the original header first.
func TestRejectsWriterRoundTrip(t *testing.T) {
	t.Parallel()

	res := readAll(t, messyFile(t), ReaderOptions{MaxVariableBytes: 500})
	var buf bytes.Buffer
	w := NewRejectsWriter(&buf, res.header.Columns, res.header.Delimiter)
	for _, rej := range res.rejects {
		require.NoError(t, w.Write(*rej))
	}
	require.NoError(t, w.Flush())

	back, err := NewReader(bytes.NewReader(buf.Bytes()), ReaderOptions{})
	require.NoError(t, err)
	require.Equal(t, append(append([]string(nil), res.header.Columns...), "line", "reason", "detail"), back.Header().Columns)

	var reasons []string
	for {
		row, rej, err := back.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		var fields []string
		if row != nil {
			fields = row.Fields
		} else {
			fields = rej.Fields
		}
		reasons = append(reasons, fields[len(fields)-3]+":"+fields[len(fields)-2])
	}
	require.Equal(t, []string{
		"9:missing_phone", "10:invalid_phone", "11:impossible_phone", "12:impossible_phone",
		"13:invalid_time_zone", "14:wrong_field_count", "15:wrong_field_count", "16:malformed_csv",
		"17:invalid_utf8", "20:too_long", "21:too_long", "22:impossible_phone", "24:invalid_phone",
		"25:invalid_phone", "26:invalid_time_zone", "28:malformed_csv",
	}, reasons)
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestRejectsWriterError(t *testing.T) {
	t.Parallel()

	boom := errors.New("disk full")
	w := NewRejectsWriter(failingWriter{boom}, []string{"phone"}, ',')
	require.NoError(t, w.Write(Reject{Line: 2, Fields: []string{"x"}, Reason: RejectInvalidPhone}), "buffered")
	require.ErrorIs(t, w.Flush(), boom)
}

func TestRejectReasons(t *testing.T) {
	t.Parallel()

	snake := regexp.MustCompile(`^[a-z]+(_[a-z0-9]+)*$`)
	seen := map[RejectReason]bool{}
	for _, r := range RejectReasons() {
		t.Run(string(r), func(t *testing.T) {
			require.Regexp(t, snake, string(r))
			require.False(t, seen[r], "duplicate")
			seen[r] = true
		})
	}
	require.Len(t, seen, 13)
	require.True(t, seen[RejectDuplicatePhone] && seen[RejectSuppressed])
}

func messyFile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "csv_messy.csv"))
	require.NoError(t, err)
	return string(data)
}
