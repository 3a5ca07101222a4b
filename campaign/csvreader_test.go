package campaign

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// readResult is everything a Reader produced for one input.
type readResult struct {
	header  Header
	rows    []*Row
	rejects []*Reject
	reader  *Reader
}

// readAll reads input to the end, checking that every record is exactly one
// row or one reject.
func readAll(t *testing.T, input string, opts ReaderOptions) readResult {
	t.Helper()

	r, err := NewReader(strings.NewReader(input), opts)
	require.NoError(t, err)
	res := readResult{header: r.Header(), reader: r}
	for {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			require.Nil(t, row)
			require.Nil(t, rej)
			return res
		}
		require.NoError(t, err)
		require.True(t, (row == nil) != (rej == nil), "exactly one of row and reject")
		if row != nil {
			res.rows = append(res.rows, row)
		} else {
			res.rejects = append(res.rejects, rej)
		}
	}
}

func TestNewReaderHeaderErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		input   string
		opts    ReaderOptions
		wantErr error
		wantMsg []string // substrings of the message
	}{
		{name: "Empty", input: "", wantErr: ErrNoHeader},
		{name: "OnlyBOM", input: "\uFEFF", wantErr: ErrNoHeader},
		{name: "OnlyBlankLines", input: "\n\r\n\n", wantErr: ErrNoHeader},
		{name: "DuplicateNames", input: "phone,email,name,email\n", wantErr: ErrDuplicateColumn,
			wantMsg: []string{`"email" at columns 2 and 4`}},
		{name: "NoPhoneColumn", input: "first_name,email\nAda,ada@example.com\n", wantErr: ErrNoPhoneColumn,
			wantMsg: []string{`"first_name", "email"`, "phone, phone_number", "msisdn, contact_number", `delimiter ','`}},
		{name: "NamedPhoneColumnMissing", input: "phone,name\n", opts: ReaderOptions{PhoneColumn: "cell_no"}, wantErr: ErrColumnNotFound,
			wantMsg: []string{`"cell_no" is not in the header ("phone", "name")`, "phone column"}},
		{name: "NamedTimeZoneColumnMissing", input: "phone,name\n", opts: ReaderOptions{TimeZoneColumn: "zone"}, wantErr: ErrColumnNotFound,
			wantMsg: []string{"time zone column"}},
		{name: "NamedColumnAmbiguous", input: "Phone Number,phone_number,PHONE-NUMBER\n", opts: ReaderOptions{PhoneColumn: "phonenumber"},
			wantErr: ErrColumnNotFound, wantMsg: []string{"matches several columns"}},
		{name: "SameColumnTwoRoles", input: "phone,name\n", opts: ReaderOptions{NameColumn: "phone", PhoneColumn: "phone"},
			wantErr: ErrInvalidOption, wantMsg: []string{"both phone and name"}},
		{name: "HeaderQuoteError", input: "phone,\"na\"me\n", wantErr: ErrBadHeader, wantMsg: []string{"line 1"}},
		{name: "HeaderUnclosedQuote", input: "phone,\"name\n+14155550123,x\n", wantErr: ErrBadHeader},
		{name: "HeaderInvalidUTF8", input: "phone,n\xe9me\n", wantErr: ErrBadHeader, wantMsg: []string{"column 2"}},
		{name: "UnknownRegion", input: "phone\n", opts: ReaderOptions{DefaultRegion: "XX"}, wantErr: ErrInvalidOption},
		{name: "UnknownDefaultZone", input: "phone\n", opts: ReaderOptions{DefaultTimeZone: "Mars/Base"}, wantErr: ErrInvalidOption,
			wantMsg: []string{`"Mars/Base"`}},
		{name: "LocalDefaultZone", input: "phone\n", opts: ReaderOptions{DefaultTimeZone: "Local"}, wantErr: ErrInvalidOption},
		{name: "QuoteDelimiter", input: "phone\n", opts: ReaderOptions{Delimiter: '"'}, wantErr: ErrInvalidOption},
		{name: "NegativeMaxVariableBytes", input: "phone\n", opts: ReaderOptions{MaxVariableBytes: -1}, wantErr: ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r, err := NewReader(strings.NewReader(tt.input), tt.opts)
			require.ErrorIs(t, err, tt.wantErr)
			require.Nil(t, r)
			for _, m := range tt.wantMsg {
				require.Contains(t, err.Error(), m)
			}
		})
	}
}

func TestNewReaderHeader(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		input        string
		opts         ReaderOptions
		wantColumns  []string
		wantDelim    rune
		wantRoles    [4]int // phone, name, time zone, external id
		wantVars     []int
		wantWarnings []string // substrings, one per warning, in order
	}{
		{
			name:        "Plain",
			input:       "phone,name,timezone,external_id,plan\n",
			wantColumns: []string{"phone", "name", "timezone", "external_id", "plan"},
			wantDelim:   ',', wantRoles: [4]int{0, 1, 2, 3}, wantVars: []int{1, 2, 3, 4},
		},
		{
			name:        "BOMStripped",
			input:       "\uFEFFphone,plan\n",
			wantColumns: []string{"phone", "plan"},
			wantDelim:   ',', wantRoles: [4]int{0, -1, -1, -1}, wantVars: []int{1},
		},
		{
			name:        "LenientNames",
			input:       "CRM_ID,Full-Name,Phone Number,TZ\n",
			wantColumns: []string{"CRM_ID", "Full-Name", "Phone Number", "TZ"},
			wantDelim:   ',', wantRoles: [4]int{2, 1, 3, 0}, wantVars: []int{0, 1, 3},
		},
		{
			name:        "FirstNameIsNotName",
			input:       "first_name,last_name,msisdn\n",
			wantColumns: []string{"first_name", "last_name", "msisdn"},
			wantDelim:   ',', wantRoles: [4]int{2, -1, -1, -1}, wantVars: []int{0, 1},
		},
		{
			name:        "PreferredAliasWins",
			input:       "mobile,phone,id,customer_id\n",
			wantColumns: []string{"mobile", "phone", "id", "customer_id"},
			wantDelim:   ',', wantRoles: [4]int{1, -1, -1, 2}, wantVars: []int{0, 2, 3},
			wantWarnings: []string{`using column "phone" (column 2) for the phone; "mobile" (column 1) also match`, `"id" (column 3) for the external id; "customer_id"`},
		},
		{
			name:        "NamedColumns",
			input:       "Cell No,Nom,Zone,Ref\n",
			opts:        ReaderOptions{PhoneColumn: "Cell No", NameColumn: "nom", TimeZoneColumn: "Zone", ExternalIDColumn: "Ref"},
			wantColumns: []string{"Cell No", "Nom", "Zone", "Ref"},
			wantDelim:   ',', wantRoles: [4]int{0, 1, 2, 3}, wantVars: []int{1, 2, 3},
		},
		{
			name:        "NamedColumnBeatsAutoDetection",
			input:       "phone,backup_phone\n",
			opts:        ReaderOptions{PhoneColumn: "backup_phone"},
			wantColumns: []string{"phone", "backup_phone"},
			wantDelim:   ',', wantRoles: [4]int{1, -1, -1, -1}, wantVars: []int{0},
		},
		{name: "Semicolon", input: "phone;name;notes\n", wantColumns: []string{"phone", "name", "notes"}, wantDelim: ';',
			wantRoles: [4]int{0, 1, -1, -1}, wantVars: []int{1, 2}},
		{name: "Tab", input: "name\tphone\n", wantColumns: []string{"name", "phone"}, wantDelim: '\t',
			wantRoles: [4]int{1, 0, -1, -1}, wantVars: []int{0}},
		{name: "Pipe", input: "phone|name\r\n", wantColumns: []string{"phone", "name"}, wantDelim: '|',
			wantRoles: [4]int{0, 1, -1, -1}, wantVars: []int{1}},
		{
			name:        "QuotedDelimitersIgnoredWhenSniffing",
			input:       "\"a,b,c\";phone;\"x,y\"\n",
			wantColumns: []string{"a,b,c", "phone", "x,y"},
			wantDelim:   ';', wantRoles: [4]int{1, -1, -1, -1}, wantVars: []int{0, 2},
			wantWarnings: []string{`"a,b,c" has spaces or punctuation`, `"x,y" has spaces or punctuation`},
		},
		{name: "SniffSkipsLeadingBlankLines", input: "\n\nphone;name\n", wantColumns: []string{"phone", "name"}, wantDelim: ';',
			wantRoles: [4]int{0, 1, -1, -1}, wantVars: []int{1}},
		{name: "ExplicitDelimiter", input: "phone:name\n", opts: ReaderOptions{Delimiter: ':'}, wantColumns: []string{"phone", "name"},
			wantDelim: ':', wantRoles: [4]int{0, 1, -1, -1}, wantVars: []int{1}},
		{name: "SingleColumn", input: "phone\n", wantColumns: []string{"phone"}, wantDelim: ',', wantRoles: [4]int{0, -1, -1, -1}},
		{
			name:        "EmptyNamesAndCase",
			input:       "phone,Email,,email,\n",
			wantColumns: []string{"phone", "Email", "", "email", ""},
			wantDelim:   ',', wantRoles: [4]int{0, -1, -1, -1}, wantVars: []int{1, 3},
			wantWarnings: []string{"column 3 has no name", "column 5 has no name", `"Email" (column 2) and "email" (column 4) differ only by case`},
		},
		{
			name:        "LeadingSpaceAfterDelimiter",
			input:       "phone, name, plan\n",
			wantColumns: []string{"phone", " name", " plan"},
			wantDelim:   ',', wantRoles: [4]int{0, 1, -1, -1}, wantVars: []int{1, 2},
			wantWarnings: []string{`" name" has spaces`, `" plan" has spaces`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r, err := NewReader(strings.NewReader(tt.input), tt.opts)
			require.NoError(t, err)
			h := r.Header()
			require.Equal(t, tt.wantColumns, h.Columns)
			require.Equal(t, tt.wantDelim, h.Delimiter)
			require.Equal(t, tt.wantRoles, [4]int{h.Phone, h.Name, h.TimeZone, h.ExternalID})
			require.Equal(t, tt.wantVars, h.Variables)
			require.Len(t, h.Warnings, len(tt.wantWarnings), "warnings: %q", h.Warnings)
			for i, w := range tt.wantWarnings {
				require.Contains(t, h.Warnings[i], w)
			}
		})
	}
}

func TestReaderRows(t *testing.T) {
	t.Parallel()

	la := []string{"America/Los_Angeles"}
	tests := []struct {
		name        string
		input       string
		opts        ReaderOptions
		wantRows    []Row    // compared field by field
		wantRejects []Reject // Detail compared as a substring
		wantBlank   int
	}{
		{
			name:  "LF",
			input: "phone,name\n+14155550123,Ada\n+14155550124,Bob\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"+14155550123", "Ada"}, Phone: "+14155550123", Name: "Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
				{Line: 3, Fields: []string{"+14155550124", "Bob"}, Phone: "+14155550124", Name: "Bob", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "CRLFAndBOMAndNoFinalNewline",
			input: "\uFEFFphone,name\r\n+14155550123,Ada\r\n+14155550124,Bob",
			wantRows: []Row{
				{Line: 2, Fields: []string{"+14155550123", "Ada"}, Phone: "+14155550123", Name: "Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
				{Line: 3, Fields: []string{"+14155550124", "Bob"}, Phone: "+14155550124", Name: "Bob", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "QuotedDelimiterQuotesAndNewlines",
			input: "phone,name,notes\n\"+1 415 555 0123\",\"Lovelace, Ada\",\"said \"\"hi\"\"\nand left\r\nthen came back\"\n+14155550124,Bob,\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"+1 415 555 0123", "Lovelace, Ada", "said \"hi\"\nand left\nthen came back"}, Phone: "+14155550123",
					Name: "Lovelace, Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
				{Line: 5, Fields: []string{"+14155550124", "Bob", ""}, Phone: "+14155550124", Name: "Bob", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "BlankLinesAndEmptyRecordsSkipped",
			input: "phone,name\n\n+14155550123,Ada\n\r\n,\n  ,  \n\n+14155550124,Bob\n,,,\n",
			wantRows: []Row{
				{Line: 3, Fields: []string{"+14155550123", "Ada"}, Phone: "+14155550123", Name: "Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
				{Line: 8, Fields: []string{"+14155550124", "Bob"}, Phone: "+14155550124", Name: "Bob", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
			wantBlank: 3, // ",", "  ,  " and ",,,"; empty lines are not records at all
		},
		{
			name:  "Semicolon",
			input: "name;phone\nAda;+14155550123\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"Ada", "+14155550123"}, Phone: "+14155550123", Name: "Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "Tab",
			input: "name\tphone\nAda\t+14155550123\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"Ada", "+14155550123"}, Phone: "+14155550123", Name: "Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "Pipe",
			input: "name|phone\nAda|+14155550123\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"Ada", "+14155550123"}, Phone: "+14155550123", Name: "Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "WrongFieldCount",
			input: "phone,name\n+14155550123,Ada,extra\n+14155550124\n+14155550125,Cy\n",
			wantRejects: []Reject{
				{Line: 2, Fields: []string{"+14155550123", "Ada", "extra"}, Reason: RejectWrongFieldCount, Detail: "expected 2 fields (as in the header), got 3"},
				{Line: 3, Fields: []string{"+14155550124"}, Reason: RejectWrongFieldCount, Detail: "got 1"},
			},
			wantRows: []Row{
				{Line: 4, Fields: []string{"+14155550125", "Cy"}, Phone: "+14155550125", Name: "Cy", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "QuoteErrorThenContinue",
			input: "phone,name\n+14155550123,Ad\"a\n+14155550124,\"Bob\"x\n+14155550125,Cy\n",
			wantRejects: []Reject{
				{Line: 2, Fields: []string{"+14155550123"}, Reason: RejectMalformedCSV, Detail: "bare \" in non-quoted-field on line 2, column 16"},
				{Line: 3, Fields: []string{"+14155550124"}, Reason: RejectMalformedCSV, Detail: "extraneous or missing \" in quoted-field on line 3, column 18"},
			},
			wantRows: []Row{
				{Line: 4, Fields: []string{"+14155550125", "Cy"}, Phone: "+14155550125", Name: "Cy", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "UnclosedQuoteSwallowsTheRest",
			input: "phone,name\n+14155550123,Ada\n+14155550124,\"Bob\n+14155550125,Cy\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"+14155550123", "Ada"}, Phone: "+14155550123", Name: "Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
			wantRejects: []Reject{
				{Line: 3, Fields: []string{"+14155550124"}, Reason: RejectMalformedCSV, Detail: "in a quoted field opened on line 3"},
			},
		},
		{
			name:  "InvalidUTF8",
			input: "phone,name,notes\n+14155550123,Ada,caf\xe9\n",
			wantRejects: []Reject{
				{Line: 2, Fields: []string{"+14155550123", "Ada", "caf\xe9"}, Reason: RejectInvalidUTF8, Detail: `column "notes" (column 3) is not valid UTF-8`},
			},
		},
		{
			name:  "PhoneProblems",
			input: "phone,name\n,Ada\n  ,Bob\ncall me,Cy\n+1 555 0100,Di\n12,Ed\n+1 415 555 0141 555 0141 555 0141 555 0141,Flo\n",
			wantRejects: []Reject{
				{Line: 2, Fields: []string{"", "Ada"}, Reason: RejectMissingPhone, Detail: "empty"},
				{Line: 3, Fields: []string{"  ", "Bob"}, Reason: RejectMissingPhone, Detail: "empty"},
				{Line: 4, Fields: []string{"call me", "Cy"}, Reason: RejectInvalidPhone, Detail: "letters"},
				{Line: 5, Fields: []string{"+1 555 0100", "Di"}, Reason: RejectImpossiblePhone, Detail: "not a valid +1 (US) number"},
				{Line: 6, Fields: []string{"12", "Ed"}, Reason: RejectImpossiblePhone, Detail: "not a valid"},
				{Line: 7, Fields: []string{"+1 415 555 0141 555 0141 555 0141 555 0141", "Flo"}, Reason: RejectTooLong, Detail: "over the limit of 40"},
			},
		},
		{
			name:  "NationalNumbersUS",
			input: "phone\n(415) 555-0132\n415.555.0133 ext. 9\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"(415) 555-0132"}, Phone: "+14155550132", TimeZones: la, TimeZoneSource: TimeZonePhone},
				{Line: 3, Fields: []string{"415.555.0133 ext. 9"}, Phone: "+14155550133", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "NationalNumbersGB",
			input: "phone\n020 7946 0018\n",
			opts:  ReaderOptions{DefaultRegion: "GB"},
			wantRows: []Row{
				{Line: 2, Fields: []string{"020 7946 0018"}, Phone: "+442079460018", TimeZones: []string{"Europe/London"}, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "NameCutAtRuneBoundary",
			input: "phone,name\n+14155550123,  " + strings.Repeat("é", 39) + "ab  \n+14155550124," + strings.Repeat("x", 40) + "\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"+14155550123", "  " + strings.Repeat("é", 39) + "ab  "}, Phone: "+14155550123",
					Name: strings.Repeat("é", 39) + "a", NameCut: true, TimeZones: la, TimeZoneSource: TimeZonePhone},
				{Line: 3, Fields: []string{"+14155550124", strings.Repeat("x", 40)}, Phone: "+14155550124",
					Name: strings.Repeat("x", 40), TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name:  "ExternalID",
			input: "phone,customer_id\n+14155550123, C-1 \n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"+14155550123", " C-1 "}, Phone: "+14155550123", ExternalID: "C-1", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
		},
		{
			name: "TimeZones",
			input: "phone,tz\n" +
				"+14155550123, America/New_York \n" + // column, trimmed
				"+14155550124,\n" + // phone
				"+80012345678,\n" + // no zone for the number: default
				"+14155550125,Mars/Olympus_Mons\n" +
				"+14155550126,Local\n" +
				"+14155550127,america/new_york\n" +
				"+447400123456,\n", // several zones
			opts: ReaderOptions{DefaultTimeZone: "Europe/Paris"},
			wantRows: []Row{
				{Line: 2, Fields: []string{"+14155550123", " America/New_York "}, Phone: "+14155550123", TimeZones: []string{"America/New_York"}, TimeZoneSource: TimeZoneColumn},
				{Line: 3, Fields: []string{"+14155550124", ""}, Phone: "+14155550124", TimeZones: la, TimeZoneSource: TimeZonePhone},
				{Line: 4, Fields: []string{"+80012345678", ""}, Phone: "+80012345678", TimeZones: []string{"Europe/Paris"}, TimeZoneSource: TimeZoneDefault},
				{Line: 8, Fields: []string{"+447400123456", ""}, Phone: "+447400123456",
					TimeZones: []string{"Europe/Guernsey", "Europe/Isle_of_Man", "Europe/London"}, TimeZoneSource: TimeZonePhone},
			},
			wantRejects: []Reject{
				{Line: 5, Fields: []string{"+14155550125", "Mars/Olympus_Mons"}, Reason: RejectInvalidTimeZone, Detail: `"Mars/Olympus_Mons" in column "tz" (column 2)`},
				{Line: 6, Fields: []string{"+14155550126", "Local"}, Reason: RejectInvalidTimeZone, Detail: `"Local"`},
				{Line: 7, Fields: []string{"+14155550127", "america/new_york"}, Reason: RejectInvalidTimeZone, Detail: `"america/new_york"`},
			},
		},
		{
			name:  "DefaultTimeZoneIsUTC",
			input: "phone\n+80012345678\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"+80012345678"}, Phone: "+80012345678", TimeZones: []string{"UTC"}, TimeZoneSource: TimeZoneDefault},
			},
		},
		{
			name: "VariablesTooLong",
			// Variables are name and notes (10 bytes allowed); the phone cell does not count.
			input: "phone,name,notes\n+14155550123,Ada,12345\n+14155550124,Bob,12345678\n+14155550125,Cy,1234567\n",
			opts:  ReaderOptions{MaxVariableBytes: 10},
			wantRows: []Row{
				{Line: 2, Fields: []string{"+14155550123", "Ada", "12345"}, Phone: "+14155550123", Name: "Ada", TimeZones: la, TimeZoneSource: TimeZonePhone},
				{Line: 4, Fields: []string{"+14155550125", "Cy", "1234567"}, Phone: "+14155550125", Name: "Cy", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
			wantRejects: []Reject{
				{Line: 3, Fields: []string{"+14155550124", "Bob", "12345678"}, Reason: RejectTooLong,
					Detail: `variables total 11 bytes, over the limit of 10 (largest: column "notes" (column 3), 8 bytes)`},
			},
		},
		{
			name:  "VariablesOverDefaultLimit",
			input: "phone,notes\n+14155550123," + strings.Repeat("x", DefaultMaxVariableBytes) + "\n+14155550124," + strings.Repeat("x", DefaultMaxVariableBytes+1) + "\n",
			wantRows: []Row{
				{Line: 2, Fields: []string{"+14155550123", strings.Repeat("x", DefaultMaxVariableBytes)}, Phone: "+14155550123", TimeZones: la, TimeZoneSource: TimeZonePhone},
			},
			wantRejects: []Reject{
				{Line: 3, Fields: []string{"+14155550124", strings.Repeat("x", DefaultMaxVariableBytes+1)}, Reason: RejectTooLong,
					Detail: `variables total 100001 bytes, over the limit of 100000 (largest: column "notes" (column 2), 100001 bytes)`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := readAll(t, tt.input, tt.opts)
			require.Len(t, res.rows, len(tt.wantRows))
			for i, want := range tt.wantRows {
				require.Equal(t, want, *res.rows[i], "row %d", i)
			}
			require.Len(t, res.rejects, len(tt.wantRejects))
			for i, want := range tt.wantRejects {
				got := *res.rejects[i]
				require.Contains(t, got.Detail, want.Detail, "reject %d", i)
				got.Detail = want.Detail
				require.Equal(t, want, got, "reject %d", i)
			}
			require.Equal(t, tt.wantBlank, res.reader.BlankRecords())
		})
	}
}

// TestReaderMessyFile reads testdata/csv_messy.csv, a file with every problem
// the reader handles, and checks each record's fate by line.
func TestReaderMessyFile(t *testing.T) {
	t.Parallel()

	data, err := os.ReadFile(filepath.Join("testdata", "csv_messy.csv"))
	require.NoError(t, err)

	tests := []struct {
		name         string
		opts         ReaderOptions
		wantRowLines []int
		wantRejects  map[RejectReason][]int
	}{
		{
			name:         "US",
			opts:         ReaderOptions{MaxVariableBytes: 500},
			wantRowLines: []int{2, 3, 4, 7, 8, 18, 23, 27},
			wantRejects: map[RejectReason][]int{
				RejectMissingPhone:    {9},
				RejectInvalidPhone:    {10, 24, 25},
				RejectImpossiblePhone: {11, 12, 22},
				RejectInvalidTimeZone: {13, 26},
				RejectWrongFieldCount: {14, 15},
				RejectMalformedCSV:    {16, 28},
				RejectInvalidUTF8:     {17},
				RejectTooLong:         {20, 21},
			},
		},
		{
			// Read as British: the national London number is fine, the
			// American national ones are not; international ones still are.
			name:         "GB",
			opts:         ReaderOptions{MaxVariableBytes: 500, DefaultRegion: "GB"},
			wantRowLines: []int{2, 7, 8, 18, 22, 23, 27},
			wantRejects: map[RejectReason][]int{
				RejectMissingPhone:    {9},
				RejectInvalidPhone:    {10, 24, 25},
				RejectImpossiblePhone: {3, 4, 11, 12},
				RejectInvalidTimeZone: {13, 26},
				RejectWrongFieldCount: {14, 15},
				RejectMalformedCSV:    {16, 28},
				RejectInvalidUTF8:     {17},
				RejectTooLong:         {20, 21},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := readAll(t, string(data), tt.opts)
			require.Equal(t, []string{"phone", "name", "email", "timezone", "customer_id", "plan", "notes"}, res.header.Columns)

			var rowLines []int
			for _, r := range res.rows {
				rowLines = append(rowLines, r.Line)
			}
			require.Equal(t, tt.wantRowLines, rowLines)

			gotRejects := map[RejectReason][]int{}
			for _, r := range res.rejects {
				gotRejects[r.Reason] = append(gotRejects[r.Reason], r.Line)
				require.NotEmpty(t, r.Detail, "line %d", r.Line)
			}
			require.Equal(t, tt.wantRejects, gotRejects)
			require.Equal(t, 1, res.reader.BlankRecords(), "the ,,,,,, line")
		})
	}

	t.Run("RowDetails", func(t *testing.T) {
		t.Parallel()

		res := readAll(t, string(data), ReaderOptions{MaxVariableBytes: 500})
		byLine := map[int]*Row{}
		for _, r := range res.rows {
			byLine[r.Line] = r
		}
		require.Equal(t, "+14155550123", byLine[2].Phone)
		require.Equal(t, []string{"America/Los_Angeles"}, byLine[2].TimeZones)
		require.Equal(t, TimeZoneColumn, byLine[2].TimeZoneSource)
		require.Equal(t, "C-001", byLine[2].ExternalID)

		require.Equal(t, "+14155550132", byLine[3].Phone)
		require.Equal(t, TimeZonePhone, byLine[3].TimeZoneSource)
		require.Equal(t, "Prefers mornings, not Mondays", byLine[3].Fields[6])

		require.Equal(t, `Alan "The Enigma" Turing`, byLine[4].Name)
		require.Equal(t, "Line one\nline two", byLine[4].Fields[6])

		require.Equal(t, "+442079460018", byLine[7].Phone)
		require.Equal(t, "+14155550134", byLine[8].Phone, "extension dropped")

		require.True(t, byLine[18].NameCut)
		require.Equal(t, "Bartholomew Maximilian Fitzgerald-Worthi", byLine[18].Name)
		require.Equal(t, "Bartholomew Maximilian Fitzgerald-Worthington III", res.reader.Variables(byLine[18].Fields)["name"])

		require.Equal(t, []string{"UTC"}, byLine[23].TimeZones)
		require.Equal(t, TimeZoneDefault, byLine[23].TimeZoneSource)

		require.Equal(t, "+14155550144", byLine[27].Phone)
		require.Equal(t, "Padded Name", byLine[27].Name)
		require.Equal(t, []string{"America/New_York"}, byLine[27].TimeZones)
	})
}

func TestReaderVariables(t *testing.T) {
	t.Parallel()

	r, err := NewReader(strings.NewReader("Name,phone,first name,,plan\n"), ReaderOptions{})
	require.NoError(t, err)

	tests := []struct {
		name string
		row  []string
		want map[string]string
	}{
		{
			name: "AllCells",
			row:  []string{"Ada Lovelace", "+14155550123", "Ada", "kept", "gold"},
			want: map[string]string{"Name": "Ada Lovelace", "first name": "Ada", "plan": "gold"},
		},
		{
			name: "EmptyCellsIncluded",
			row:  []string{"", "+14155550123", "", "", ""},
			want: map[string]string{"Name": "", "first name": "", "plan": ""},
		},
		{
			name: "ShortRecord",
			row:  []string{"Ada"},
			want: map[string]string{"Name": "Ada", "first name": "", "plan": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, r.Variables(tt.row))
		})
	}
}

func TestReaderFieldsAreCopies(t *testing.T) {
	t.Parallel()

	res := readAll(t, "phone,name\n+14155550123,Ada\n+14155550124,Bob,extra\n+14155550125,Cy\n", ReaderOptions{})
	require.Equal(t, []string{"+14155550123", "Ada"}, res.rows[0].Fields)
	require.Equal(t, []string{"+14155550124", "Bob", "extra"}, res.rejects[0].Fields)
	require.Equal(t, []string{"+14155550125", "Cy"}, res.rows[1].Fields)

	h := res.reader.Header()
	h.Columns[0] = "changed"
	require.Equal(t, "phone", res.reader.Header().Columns[0])
}

// TestReaderRecordTooLarge feeds an unclosed quote followed by far more data
// than the record limit and checks that the reader stops with
// ErrRecordTooLarge after reading about the limit, instead of holding the
// rest of the input in memory.
func TestReaderRecordTooLarge(t *testing.T) {
	t.Parallel()

	src := &countingReader{r: io.MultiReader(
		strings.NewReader("phone,notes\n+14155550123,fine\n+14155550124,\"never closed "),
		&repeatReader{b: []byte("aaaaaaaaaaaaaaa\n")},
	)}
	r, err := NewReader(src, ReaderOptions{})
	require.NoError(t, err)

	row, rej, err := r.Next()
	require.NoError(t, err)
	require.Nil(t, rej)
	require.Equal(t, 2, row.Line)

	row, rej, err = r.Next()
	require.ErrorIs(t, err, ErrRecordTooLarge)
	require.Contains(t, err.Error(), "after line 2")
	require.Nil(t, row)
	require.Nil(t, rej)
	require.Less(t, src.n, int64(minRecordBytes+2*sniffBytes+1024), "read far past the limit")
}

func TestReaderIOError(t *testing.T) {
	t.Parallel()

	boom := errors.New("disk on fire")
	src := io.MultiReader(strings.NewReader("phone\n+14155550123\n"), iotest.ErrReader(boom))
	r, err := NewReader(src, ReaderOptions{})
	require.NoError(t, err)

	row, _, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, "+14155550123", row.Phone)

	row, rej, err := r.Next()
	require.ErrorIs(t, err, boom)
	require.Nil(t, row)
	require.Nil(t, rej)
}

func TestReaderSmallReads(t *testing.T) {
	t.Parallel()

	// One byte per Read: sniffing and the record guard must not depend on
	// how the input arrives.
	input := "\uFEFFname;phone\r\nAda;+14155550123\r\n\"Bob\nBobson\";+14155550124\r\n"
	r, err := NewReader(iotest.OneByteReader(strings.NewReader(input)), ReaderOptions{})
	require.NoError(t, err)
	require.Equal(t, ';', r.Header().Delimiter)
	require.Equal(t, []string{"name", "phone"}, r.Header().Columns)

	var lines []int
	for {
		row, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		lines = append(lines, row.Line)
	}
	require.Equal(t, []int{2, 3}, lines)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// repeatReader repeats b forever.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

// csvRecordCount counts, independently of Reader, the records after the
// header that encoding/csv sees in input with the given delimiter, leaving
// out records whose cells are all blank. Each parse error counts as one
// record, since csv resumes after it.
func csvRecordCount(t *testing.T, input []byte, delim rune) int {
	t.Helper()

	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(input, []byte("\uFEFF"))))
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	count := -1 // the header
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return count
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("unexpected error from csv: %v", err)
		}
		if err == nil && strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue
		}
		count++
	}
}

func FuzzReader(f *testing.F) {
	seeds := []string{
		"phone,name\n+14155550123,Ada\n",
		"\uFEFFphone,name,timezone,customer_id\r\n+14155550123,Ada,America/New_York,1\r\n(415) 555-0132,Bob,,2\r\n",
		"name;phone;notes\nAda;+44 20 7946 0018;\"a;b\"\n",
		"phone\tname\n+14155550123\tAda\n\n\n4155550132\tBob\n",
		"phone|tz\n+14155550123|Mars/Base\n+14155550124|\n",
		"phone,name\n+14155550123,\"multi\nline\"\n+14155550124,Bob,extra\n+14155550125\n",
		"phone,name\n+14155550123,Ad\"a\n+14155550124,\"Bob\"x\n+14155550125,\"open\n",
		"phone,name\n,Ada\ncall me,Bob\n+1 555 0100,Cy\n+14155550123,caf\xe9\n,,\n",
		"phone,phone\n",
		"Phone,phone\n+14155550123,+14155550124\n",
		"email\nada@example.com\n",
		"",
		"\n\n",
		"phone\n\"\"\n\" \"\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile(filepath.Join("testdata", "csv_messy.csv")); err == nil {
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, input []byte) {
		r, err := NewReader(bytes.NewReader(input), ReaderOptions{MaxVariableBytes: 64})
		if err != nil {
			return
		}
		h := r.Header()
		require.GreaterOrEqual(t, h.Phone, 0)
		rows, rejects, lastLine := 0, 0, 0
		for {
			row, rej, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "only I/O errors are errors, and a byte slice has none")
			require.True(t, (row == nil) != (rej == nil), "exactly one of row and reject")
			if row != nil {
				rows++
				require.Greater(t, row.Line, lastLine, "lines increase")
				lastLine = row.Line
				require.Len(t, row.Fields, len(h.Columns))
				require.True(t, strings.HasPrefix(row.Phone, "+"), row.Phone)
				require.NotEmpty(t, row.TimeZones)
				require.LessOrEqual(t, utf8.RuneCountInString(row.Name), MaxNameLength)
				for _, f := range row.Fields {
					require.True(t, utf8.ValidString(f))
				}
				vars := r.Variables(row.Fields)
				total := 0
				for _, v := range vars {
					total += len(v)
				}
				require.LessOrEqual(t, total, 64)
			} else {
				rejects++
				require.Greater(t, rej.Line, lastLine, "lines increase")
				lastLine = rej.Line
				require.NotEmpty(t, rej.Reason)
				require.NotEmpty(t, rej.Detail)
				// A reject must survive the rejects file.
				var buf bytes.Buffer
				w := NewRejectsWriter(&buf, h.Columns, h.Delimiter)
				require.NoError(t, w.Write(*rej))
				require.NoError(t, w.Flush())
			}
		}
		require.Equal(t, csvRecordCount(t, input, h.Delimiter), rows+rejects,
			"every non-blank record is exactly one row or reject")
	})
}

// benchmarkInput is a block of distinct 10-column rows in the usual phone
// formats.
func benchmarkInput(rows int) (header string, block []byte) {
	header = "phone,name,email,timezone,customer_id,plan,city,amount_due,due_date,notes\n"
	var b bytes.Buffer
	for i := range rows {
		n := 1000 + i%9000
		area := []string{"415", "212", "312", "617", "206"}[i%5]
		var phone string
		switch i % 4 {
		case 0:
			phone = "+1" + area + "555" + strconv.Itoa(n)
		case 1:
			phone = "(" + area + ") 555-" + strconv.Itoa(n)
		case 2:
			phone = "1-" + area + "-555-" + strconv.Itoa(n)
		default:
			phone = area + ".555." + strconv.Itoa(n)
		}
		tz := ""
		if i%10 == 0 {
			tz = "America/New_York"
		}
		b.WriteString(phone + ",Customer Number " + strconv.Itoa(i) + ",customer" + strconv.Itoa(i) + "@example.com," + tz +
			",C-" + strconv.Itoa(100000+i) + ",gold,San Francisco," + strconv.Itoa(i%1000) + ".50,2025-07-01,\"Called before, said \"\"later\"\"\"\n")
	}
	return header, b.Bytes()
}

// BenchmarkReader measures the cost of one 10-column row (ns/op = ns/row,
// allocs/op = allocs/row).
func BenchmarkReader(b *testing.B) {
	header, block := benchmarkInput(10_000)
	src := io.MultiReader(strings.NewReader(header), &repeatReader{b: block})
	r, err := NewReader(src, ReaderOptions{})
	require.NoError(b, err)

	b.ReportAllocs()
	b.SetBytes(int64(len(block) / 10_000))
	for b.Loop() {
		row, rej, err := r.Next()
		if err != nil || rej != nil {
			b.Fatal(err, rej)
		}
		_ = row
	}
}

func ExampleReader() {
	input := "phone;first name;plan\n(415) 555-0132;Ada;gold\ncall me;Bob;silver\n"
	r, err := NewReader(strings.NewReader(input), ReaderOptions{DefaultRegion: "US"})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := r.Header()
	fmt.Printf("delimiter %q, phone column %d\n", h.Delimiter, h.Phone)
	fmt.Println(h.Warnings[0])

	var rejects bytes.Buffer
	rw := NewRejectsWriter(&rejects, h.Columns, h.Delimiter)
	for {
		row, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if rej != nil {
			_ = rw.Write(*rej)
			continue
		}
		fmt.Println(row.Line, row.Phone, row.TimeZones, r.Variables(row.Fields)["first name"])
	}
	_ = rw.Flush()
	fmt.Print(rejects.String())
	// Output:
	// delimiter ';', phone column 0
	// column "first name" has spaces or punctuation: in templates write {{ ["first name"] }}
	// 2 +14155550132 [America/Los_Angeles] Ada
	// phone;first name;plan;line;reason;detail
	// call me;Bob;silver;3;invalid_phone;phone number contains letters
}

// TestReaderZonesAndNUL covers two rules found after the first cut: a number whose prefix
// only names its country (toll-free) carries no time zone, and a NUL byte rejects the row.
func TestReaderZonesAndNUL(t *testing.T) {
	in := "phone,name\n" +
		"+1 800 555 0199,toll free\n" +
		"+1 201 555 0123,new jersey\n" +
		"+44 7911 123456,uk mobile\n" +
		"+1 415 555 0132,a\x00b\n"
	rd, err := NewReader(strings.NewReader(in), ReaderOptions{DefaultTimeZone: "Europe/Paris"})
	require.NoError(t, err)

	row, rej, err := rd.Next()
	require.NoError(t, err)
	require.Nil(t, rej)
	require.Equal(t, []string{"Europe/Paris"}, row.TimeZones, "toll-free: the default zone, not 42 zones that never overlap")
	require.Equal(t, TimeZoneDefault, row.TimeZoneSource)

	row, _, err = rd.Next()
	require.NoError(t, err)
	require.Equal(t, []string{"America/New_York"}, row.TimeZones)
	require.Equal(t, TimeZonePhone, row.TimeZoneSource)

	row, _, err = rd.Next()
	require.NoError(t, err)
	require.Equal(t, TimeZonePhone, row.TimeZoneSource, "several zones of one offset are information")
	require.Contains(t, row.TimeZones, "Europe/London")

	row, rej, err = rd.Next()
	require.NoError(t, err)
	require.Nil(t, row)
	require.Equal(t, RejectMalformedCSV, rej.Reason)
	require.Contains(t, rej.Detail, "NUL")

	_, zones, _, err := ParsePhone("+18005550199", "US")
	require.NoError(t, err)
	require.Nil(t, zones)
}

// TestReaderUnneutralizes checks that the apostrophe an export puts before a formula-like cell
// is taken off on import, and that other apostrophes stay.
func TestReaderUnneutralizes(t *testing.T) {
	t.Parallel()
	in := "phone,name,note,id\n'+1 201 555 0101,\"'=HYPERLINK(\"\"x\"\")\",'-2+3,'@crm\n+12015550102,O'Brien,'tis,'plain\n"
	rd, err := NewReader(strings.NewReader(in), ReaderOptions{})
	require.NoError(t, err)
	row, rej, err := rd.Next()
	require.NoError(t, err)
	require.Nil(t, rej)
	require.Equal(t, []string{"+1 201 555 0101", `=HYPERLINK("x")`, "-2+3", "@crm"}, row.Fields)
	require.Equal(t, "+12015550101", row.Phone)
	row, rej, err = rd.Next()
	require.NoError(t, err)
	require.Nil(t, rej)
	require.Equal(t, []string{"+12015550102", "O'Brien", "'tis", "'plain"}, row.Fields)
}
