package campaign

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the machine's zoneinfo

	"github.com/stretchr/testify/require"
)

func TestParseWindow(t *testing.T) {
	cases := []struct {
		name, spec, want string
	}{
		{"default spec", DefaultWindowSpec, "09:00-20:00"},
		{"single-digit hour", "9:00-17:00", "09:00-17:00"},
		{"24:00 as end", "20:00-24:00", "20:00-24:00"},
		{"one minute", "00:00-00:01", "00:00-00:01"},
		{"day range and single day", "mon-fri 09:00-20:00; sat 10:00-14:00", "mon-fri 09:00-20:00; sat 10:00-14:00"},
		{"case-insensitive", "Mon-FRI 9:00-17:00", "mon-fri 09:00-17:00"},
		{"full day names", "Monday-Friday 09:00-17:00; SATURDAY 10:00-12:00", "mon-fri 09:00-17:00; sat 10:00-12:00"},
		{"other abbreviations", "tues,weds,thurs 09:00-10:00", "tue-thu 09:00-10:00"},
		{"day list", "mon,wed,fri 09:00-12:00", "mon,wed,fri 09:00-12:00"},
		{"day list with spaces", "mon, wed fri 09:00-12:00", "mon,wed,fri 09:00-12:00"},
		{"wrapping day range", "fri-mon 10:00-16:00", "fri-mon 10:00-16:00"},
		{"wrapping range listed after others", "thu, sat-tue 09:00-10:00", "thu,sat-tue 09:00-10:00"},
		{"wrapping range merging into a list", "wed, sat-tue 09:00-10:00", "sat-wed 09:00-10:00"},
		{"two days listed not ranged", "sat-sun 10:00-14:00", "sat,sun 10:00-14:00"},
		{"sunday and monday", "sun-mon 10:00-14:00", "mon,sun 10:00-14:00"},
		{"same start and end day", "mon-mon 09:00-10:00", "mon 09:00-10:00"},
		{"weekdays", "weekdays 09:00-17:00", "mon-fri 09:00-17:00"},
		{"weekends", "weekends 10:00-14:00", "sat,sun 10:00-14:00"},
		{"weekday and weekend", "weekday 09:00-20:00; weekend 10:00-14:00", "mon-fri 09:00-20:00; sat,sun 10:00-14:00"},
		{"daily", "daily 09:00-17:00", "09:00-17:00"},
		{"everyday", "Everyday 09:00-17:00", "09:00-17:00"},
		{"all days named", "mon-sun 09:00-17:00", "09:00-17:00"},
		{"all days wrapping", "sun-sat 09:00-17:00", "09:00-17:00"},
		{"several ranges", "09:00-12:00, 13:00-17:00", "09:00-12:00, 13:00-17:00"},
		{"ranges sorted", "13:00-17:00, 09:00-12:00", "09:00-12:00, 13:00-17:00"},
		{"overlapping ranges merge", "09:00-12:00, 11:00-14:00", "09:00-14:00"},
		{"touching ranges merge", "09:00-12:00; 12:00-14:00", "09:00-14:00"},
		{"contained range merges", "09:00-17:00, 10:00-11:00", "09:00-17:00"},
		{"comma between clauses", "mon-fri 09:00-17:00, sat 10:00-14:00", "mon-fri 09:00-17:00; sat 10:00-14:00"},
		{"commas for ranges and clauses", "mon-fri 09:00-12:00, 13:00-17:00, sat 10:00-14:00",
			"mon-fri 09:00-12:00, 13:00-17:00; sat 10:00-14:00"},
		{"later clause adds ranges", "mon-fri 09:00-17:00; mon 18:00-20:00", "mon 09:00-17:00, 18:00-20:00; tue-fri 09:00-17:00"},
		{"later clause merges with earlier", "mon 09:00-17:00; mon-fri 16:00-18:00", "mon 09:00-18:00; tue-fri 16:00-18:00"},
		{"days with equal ranges grouped", "mon 09:00-10:00; wed 11:00-12:00; tue 09:00-10:00", "mon,tue 09:00-10:00; wed 11:00-12:00"},
		{"every day plus extra", "09:00-12:00; sun 14:00-15:00", "mon-sat 09:00-12:00; sun 09:00-12:00, 14:00-15:00"},
		{"spaces, en dash and trailing semicolon", "  mon - fri  09:00 - 17:00 ; sat 10:00–14:00 ; ", "mon-fri 09:00-17:00; sat 10:00-14:00"},
		{"empty clauses skipped", ";;mon 09:00-10:00;;", "mon 09:00-10:00"},
		{"comma before the times", "mon, 09:00-10:00", "mon 09:00-10:00"},
		{"always", "always", "always"},
		{"always any case and spaces", "  Always\t", "always"},
		{"whole day every day is always", "00:00-24:00", "always"},
		{"whole day assembled is always", "mon-fri 00:00-24:00; weekends 00:00-12:00, 12:00-24:00", "always"},
		{"whole day some days", "mon-fri 00:00-24:00", "mon-fri 00:00-24:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWindow(tc.spec)
			require.NoError(t, err)
			require.Equal(t, tc.want, w.String())
			require.Equal(t, tc.want == "always", w.IsAlways())

			again, err := ParseWindow(w.String())
			require.NoError(t, err)
			require.Equal(t, w, again, "String must round-trip through ParseWindow")
			require.Equal(t, tc.want, again.String())
		})
	}
}

func TestParseWindowEquivalentSpecs(t *testing.T) {
	cases := []struct {
		name string
		a, b string
	}{
		{"weekdays", "weekdays 9:00-17:00", "MON-FRI 09:00-17:00"},
		{"list and range", "mon,tue,wed 09:00-10:00", "mon-wed 09:00-10:00"},
		{"clause order", "sat 10:00-14:00; mon-fri 09:00-20:00", "mon-fri 09:00-20:00; sat 10:00-14:00"},
		{"range order and merge", "13:00-17:00, 09:00-13:00", "09:00-17:00"},
		{"always", "always", "00:00-24:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseWindow(tc.a)
			require.NoError(t, err)
			b, err := ParseWindow(tc.b)
			require.NoError(t, err)
			require.Equal(t, a, b)
		})
	}
}

func TestParseWindowErrors(t *testing.T) {
	cases := []struct {
		name, spec, want string // want is the error message after `window "<spec>": `
	}{
		{"empty", "", `empty spec`},
		{"blank", " \t ", `empty spec`},
		{"only separators", " ; ;", `empty spec`},
		{"unknown day", "mon-fry 09:00-17:00", `unknown day "fry"`},
		{"unknown day first", "mondays 09:00-17:00", `unknown day "mondays"`},
		{"unknown day in list", "mon,wed,frid 09:00-17:00", `unknown day "frid"`},
		{"unknown day in second clause", "mon 09:00-10:00; holidays 10:00-12:00", `unknown day "holidays"`},
		{"always mixed with clauses", "always; mon 09:00-10:00", `"always" must be the whole spec`},
		{"always after a clause", "mon 09:00-10:00; always", `"always" must be the whole spec`},
		{"group in day range", "weekdays-sat 09:00-10:00", `"weekdays" cannot be used in a day range`},
		{"group as day range end", "mon-weekend 09:00-10:00", `"weekend" cannot be used in a day range`},
		{"day range without end", "mon- 09:00-10:00", `day range "mon-" has no end day`},
		{"days without range", "mon-fri", `clause "mon-fri" has no time range`},
		{"days without range then clause", "mon-fri; sat 10:00-12:00", `clause "mon-fri" has no time range`},
		{"days then junk", "mon ,, 09:00-10:00", `expected a time range after "mon", found ","`},
		{"clause starting with dash", "-09:00-10:00", `expected a day or a time range, found "-"`},
		{"hour too big", "25:00-26:00", `bad time "25:00": want HH:MM between 00:00 and 24:00, e.g. "09:30"`},
		{"minute too big", "09:60-10:00", `bad time "09:60": want HH:MM between 00:00 and 24:00, e.g. "09:30"`},
		{"past 24:00", "09:00-24:30", `bad time "24:30": want HH:MM between 00:00 and 24:00, e.g. "09:30"`},
		{"hour without minutes", "9-17", `bad time "9": want HH:MM between 00:00 and 24:00, e.g. "09:30"`},
		{"am pm", "9am-5pm", `bad time "9am": want HH:MM between 00:00 and 24:00, e.g. "09:30"`},
		{"dot separator", "9.30-17:00", `bad time "9.30": want HH:MM between 00:00 and 24:00, e.g. "09:30"`},
		{"one minute digit", "09:0-10:00", `bad time "09:0": want HH:MM between 00:00 and 24:00, e.g. "09:30"`},
		{"three hour digits", "009:00-10:00", `bad time "009:00": want HH:MM between 00:00 and 24:00, e.g. "09:30"`},
		{"24:00 as start", "24:00-24:00", `bad time "24:00": 24:00 is only allowed as the end of a range`},
		{"empty range", "09:00-09:00", `range "09:00-09:00" is empty: the end must be after the start`},
		{"overnight every day", "22:00-02:00",
			`range "22:00-02:00" ends before it starts: overnight windows are not supported, split them at midnight into two clauses, e.g. "22:00-24:00; 00:00-02:00"`},
		{"overnight one day", "fri 22:00-02:00",
			`range "22:00-02:00" ends before it starts: overnight windows are not supported, split them at midnight into two clauses, e.g. "fri 22:00-24:00; sat 00:00-02:00"`},
		{"overnight weekdays", "mon-fri 9:00-12:00, 22:00 - 6:00",
			`range "22:00 - 6:00" ends before it starts: overnight windows are not supported, split them at midnight into two clauses, e.g. "mon-fri 22:00-24:00; tue-sat 00:00-06:00"`},
		{"end before start", "17:00-09:00",
			`range "17:00-09:00" ends before it starts: overnight windows are not supported, split them at midnight into two clauses, e.g. "17:00-24:00; 00:00-09:00"`},
		{"midnight written as 00:00", "sat 20:00-00:00",
			`range "20:00-00:00" ends before it starts: write midnight at the end of a day as 24:00, e.g. "20:00-24:00"`},
		{"start only", "09:00", `range starting at "09:00" has no "-" and end time`},
		{"missing dash", "09:00 17:00", `range starting at "09:00" has no "-" and end time`},
		{"missing end", "mon 09:00-", `range "09:00-" has no end time`},
		{"missing end before clause", "mon 09:00-; tue 10:00-11:00", `range "09:00-" has no end time`},
		{"days after times", "09:00-17:00 mon-fri",
			`unexpected "mon" after "09:00-17:00": separate clauses with ";" and put the days before the times, e.g. "mon-fri 09:00-17:00; sat 10:00-14:00"`},
		{"clauses without separator", "mon 09:00-10:00 tue 10:00-11:00",
			`unexpected "tue" after "09:00-10:00": separate clauses with ";" and put the days before the times, e.g. "mon-fri 09:00-17:00; sat 10:00-14:00"`},
		{"ranges without comma", "09:00-10:00 11:00-12:00", `unexpected "11:00" after "09:00-10:00"`},
		{"chained range", "09:00-10:00-11:00", `unexpected "-" after "09:00-10:00"`},
		{"dangling comma", "09:00-10:00,", `dangling "," after "09:00-10:00"`},
		{"comma then semicolon", "09:00-10:00,;", `unexpected ";" after "09:00-10:00,"`},
		{"bad character", "mon@fri 09:00-10:00", `unexpected character "@" at offset 3`},
		{"non-ASCII character", "lun 09:00-10:00; é", `unexpected character "é" at offset 17`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWindow(tc.spec)
			require.EqualError(t, err, fmt.Sprintf("window %q: %s", tc.spec, tc.want))
			require.Equal(t, Window{}, w)
		})
	}
}

func TestParseWindowErrorExample(t *testing.T) {
	_, err := ParseWindow("mon-fry 09:00-17:00")
	require.EqualError(t, err, `window "mon-fry 09:00-17:00": unknown day "fry"`)
}

// windowTestZones loads the named zones ("+"-separated, "" for none).
func windowTestZones(t testing.TB, names string) []*time.Location {
	t.Helper()
	if names == "" {
		return nil
	}
	var zones []*time.Location
	for _, name := range strings.Split(names, "+") {
		loc, err := time.LoadLocation(name)
		require.NoError(t, err)
		zones = append(zones, loc)
	}
	return zones
}

func windowTestTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm
}

func windowTestParse(t testing.TB, spec string) Window {
	t.Helper()
	w, err := ParseWindow(spec)
	require.NoError(t, err)
	return w
}

// requireWindowInstant checks that got is the instant want (an RFC 3339 time,
// "" meaning the zero time).
func requireWindowInstant(t *testing.T, want string, got time.Time) {
	t.Helper()
	if want == "" {
		require.True(t, got.IsZero(), "want the zero time, got %s", got)
		return
	}
	w := windowTestTime(t, want)
	require.True(t, w.Equal(got), "want %s (%s), got %s (%s)", w, w.UTC(), got.In(w.Location()), got.UTC())
}

// windowCase is a query against a window: at is the instant asked about and
// want the expected instant ("" when ok is false).
type windowCase struct {
	name  string
	spec  string
	zones string // "+"-separated zone names; "" means t's own location
	at    string
	want  string
}

const (
	windowTestNY      = "America/New_York"
	windowTestLA      = "America/Los_Angeles"
	windowTestLon     = "Europe/London"
	windowTestKol     = "Asia/Kolkata"
	windowTestLH      = "Australia/Lord_Howe"
	windowTestTok     = "Asia/Tokyo"
	windowTestUTC     = "UTC"
	windowTestBizDays = "mon-fri 09:00-20:00"
)

func TestWindowContains(t *testing.T) {
	cases := []struct {
		name  string
		spec  string
		zones string
		at    string
		want  bool
	}{
		// UTC
		{"utc exactly at start is open", "09:00-17:00", windowTestUTC, "2024-05-15T09:00:00Z", true},
		{"utc just before start", "09:00-17:00", windowTestUTC, "2024-05-15T08:59:59.999999999Z", false},
		{"utc just before end", "09:00-17:00", windowTestUTC, "2024-05-15T16:59:59.999Z", true},
		{"utc exactly at end is closed", "09:00-17:00", windowTestUTC, "2024-05-15T17:00:00Z", false},
		{"utc gap between ranges", "09:00-12:00, 13:00-17:00", windowTestUTC, "2024-05-15T12:30:00Z", false},
		{"utc saturday outside weekdays", windowTestBizDays, windowTestUTC, "2024-05-18T12:00:00Z", false},
		{"utc last minute of the day with 24:00", "20:00-24:00", windowTestUTC, "2024-05-15T23:59:59Z", true},
		{"utc midnight after 24:00 end", "wed 20:00-24:00", windowTestUTC, "2024-05-16T00:00:00Z", false},
		{"t's offset is irrelevant", "09:00-17:00", windowTestUTC, "2024-05-15T18:00:00+09:00", true},
		{"nil zone means utc", "09:00-17:00", "", "2024-05-15T09:30:00Z", true},
		// Europe/London
		{"london summer start (BST)", "09:00-20:00", windowTestLon, "2024-07-01T08:00:00Z", true},
		{"london summer before start", "09:00-20:00", windowTestLon, "2024-07-01T07:59:59Z", false},
		{"london winter start (GMT)", "09:00-20:00", windowTestLon, "2024-01-15T09:00:00Z", true},
		{"london winter before start", "09:00-20:00", windowTestLon, "2024-01-15T08:59:59Z", false},
		{"london spring forward: just before the gap", "00:00-01:30", windowTestLon, "2024-03-31T00:59:59Z", true},
		{"london spring forward: after the gap is 02:00", "00:00-01:30", windowTestLon, "2024-03-31T02:00:00+01:00", false},
		{"london fall back: first 01:30", "01:00-02:00", windowTestLon, "2024-10-27T01:30:00+01:00", true},
		{"london fall back: second 01:30", "01:00-02:00", windowTestLon, "2024-10-27T01:30:00Z", true},
		{"london fall back: second 02:00", "01:00-02:00", windowTestLon, "2024-10-27T02:00:00Z", false},
		// America/New_York
		{"new york 09:00 EDT", windowTestBizDays, windowTestNY, "2024-05-15T09:00:00-04:00", true},
		{"new york 09:00 UTC is 05:00 EDT", windowTestBizDays, windowTestNY, "2024-05-15T09:00:00Z", false},
		{"new york weekday is local: friday evening is saturday UTC", windowTestBizDays, windowTestNY, "2024-05-17T19:00:00-04:00", true},
		{"new york spring forward: 03:00 EDT reads 03:00", "02:30-04:00", windowTestNY, "2024-03-10T03:00:00-04:00", true},
		{"new york spring forward: 01:59:59 EST", "02:30-04:00", windowTestNY, "2024-03-10T01:59:59-05:00", false},
		{"new york fall back: 01:30 EDT", "01:00-02:00", windowTestNY, "2024-11-03T01:30:00-04:00", true},
		{"new york fall back: 01:30 EST", "01:00-02:00", windowTestNY, "2024-11-03T01:30:00-05:00", true},
		{"new york fall back: 01:45 EDT outside 00:00-01:30", "00:00-01:30", windowTestNY, "2024-11-03T01:45:00-04:00", false},
		{"new york fall back: 01:15 EST inside 00:00-01:30", "00:00-01:30", windowTestNY, "2024-11-03T01:15:00-05:00", true},
		// Asia/Kolkata
		{"kolkata 09:00 IST", "09:00-20:00", windowTestKol, "2024-05-15T03:30:00Z", true},
		{"kolkata 08:59 IST", "09:00-20:00", windowTestKol, "2024-05-15T03:29:59Z", false},
		{"kolkata 20:00 IST", "09:00-20:00", windowTestKol, "2024-05-15T14:30:00Z", false},
		{"kolkata sunday UTC is monday IST", "mon 00:00-02:00", windowTestKol, "2024-05-19T20:00:00Z", true},
		{"kolkata sunday UTC is not sunday IST", "sun 00:00-24:00", windowTestKol, "2024-05-19T20:00:00Z", false},
		// Australia/Lord_Howe
		{"lord howe fall back: 01:45 +11", "01:30-02:00", windowTestLH, "2024-04-07T01:45:00+11:00", true},
		{"lord howe fall back: 01:45 +10:30", "01:30-02:00", windowTestLH, "2024-04-07T01:45:00+10:30", true},
		{"lord howe fall back: 02:00 +10:30", "01:30-02:00", windowTestLH, "2024-04-07T02:00:00+10:30", false},
		{"lord howe spring forward: 01:59 +10:30", "02:00-03:00", windowTestLH, "2024-10-06T01:59:59+10:30", false},
		{"lord howe spring forward: 02:30 +11", "02:00-03:00", windowTestLH, "2024-10-06T02:30:00+11:00", true},
		// several zones
		{"ny+la 11:59 ET is 08:59 PT", "09:00-20:00", windowTestNY + "+" + windowTestLA, "2024-05-15T11:59:00-04:00", false},
		{"ny+la 12:00 ET", "09:00-20:00", windowTestNY + "+" + windowTestLA, "2024-05-15T12:00:00-04:00", true},
		{"ny+la 19:59 ET", "09:00-20:00", windowTestNY + "+" + windowTestLA, "2024-05-15T19:59:59-04:00", true},
		{"ny+la 20:00 ET", "09:00-20:00", windowTestNY + "+" + windowTestLA, "2024-05-15T20:00:00-04:00", false},
		{"tokyo+ny never both open", "09:00-17:00", windowTestTok + "+" + windowTestNY, "2024-05-15T12:00:00-04:00", false},
		{"same zone twice", "09:00-17:00", windowTestKol + "+" + windowTestKol, "2024-05-15T05:00:00Z", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := windowTestParse(t, tc.spec)
			at := windowTestTime(t, tc.at)
			zones := windowTestZones(t, tc.zones)
			if tc.zones == "" {
				zones = []*time.Location{nil}
			}
			require.Equal(t, tc.want, w.Contains(at, zones))
		})
	}
}

func TestWindowNextOpen(t *testing.T) {
	cases := []windowCase{
		// UTC
		{"utc already open returns t", "09:00-17:00", windowTestUTC, "2024-05-15T10:00:00Z", "2024-05-15T10:00:00Z"},
		{"utc exactly at start", "09:00-17:00", windowTestUTC, "2024-05-15T09:00:00Z", "2024-05-15T09:00:00Z"},
		{"utc before start same day", "09:00-17:00", windowTestUTC, "2024-05-15T08:00:00Z", "2024-05-15T09:00:00Z"},
		{"utc a nanosecond before start", "09:00-17:00", windowTestUTC, "2024-05-15T08:59:59.999999999Z", "2024-05-15T09:00:00Z"},
		{"utc exactly at end is next day", "09:00-17:00", windowTestUTC, "2024-05-15T17:00:00Z", "2024-05-16T09:00:00Z"},
		{"utc gap between ranges", "09:00-12:00, 13:00-17:00", windowTestUTC, "2024-05-15T12:30:00Z", "2024-05-15T13:00:00Z"},
		{"utc weekend skipped from friday evening", windowTestBizDays, windowTestUTC, "2024-05-17T20:30:00Z", "2024-05-20T09:00:00Z"},
		{"utc weekend skipped from saturday", windowTestBizDays, windowTestUTC, "2024-05-18T12:00:00Z", "2024-05-20T09:00:00Z"},
		{"utc saturday clause", "mon-fri 09:00-20:00; sat 10:00-14:00", windowTestUTC, "2024-05-17T20:30:00Z", "2024-05-18T10:00:00Z"},
		{"utc weekly window a week later", "mon 09:00-10:00", windowTestUTC, "2024-05-20T10:00:00Z", "2024-05-27T09:00:00Z"},
		{"utc wrapping day range", "fri-mon 10:00-16:00", windowTestUTC, "2024-05-14T12:00:00Z", "2024-05-17T10:00:00Z"},
		{"zero window never opens", "", windowTestUTC, "2024-05-15T10:00:00Z", ""},
		// Europe/London
		{"london summer", "09:00-20:00", windowTestLon, "2024-07-01T07:00:00Z", "2024-07-01T08:00:00Z"},
		{"london winter", "09:00-20:00", windowTestLon, "2024-01-15T07:00:00Z", "2024-01-15T09:00:00Z"},
		{"london weekend skipped across spring forward", windowTestBizDays, windowTestLon, "2024-03-29T20:30:00Z", "2024-04-01T09:00:00+01:00"},
		{"london spring forward: range inside the gap is skipped that day", "01:00-02:00", windowTestLon, "2024-03-30T02:00:00Z", "2024-04-01T01:00:00+01:00"},
		{"london spring forward: range starting in the gap opens at 02:00 BST", "01:30-03:00", windowTestLon, "2024-03-31T00:00:00Z", "2024-03-31T02:00:00+01:00"},
		{"london fall back: reopens at the second 01:00", "00:00-01:30", windowTestLon, "2024-10-27T01:45:00+01:00", "2024-10-27T01:00:00Z"},
		{"london fall back: first 01:00", "01:00-02:00", windowTestLon, "2024-10-26T23:30:00Z", "2024-10-27T01:00:00+01:00"},
		// America/New_York
		{"new york weekend skipped", windowTestBizDays, windowTestNY, "2024-05-17T20:30:00-04:00", "2024-05-20T09:00:00-04:00"},
		{"new york weekend skipped across spring forward", windowTestBizDays, windowTestNY, "2024-03-08T20:30:00-05:00", "2024-03-11T09:00:00-04:00"},
		{"new york weekend skipped across fall back", windowTestBizDays, windowTestNY, "2024-11-01T20:30:00-04:00", "2024-11-04T09:00:00-05:00"},
		{"new york spring forward: 02:30 start opens at 03:00 EDT", "02:30-04:00", windowTestNY, "2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00"},
		{"new york spring forward: from the day before", "02:30-04:00", windowTestNY, "2024-03-09T05:00:00-05:00", "2024-03-10T03:00:00-04:00"},
		{"new york spring forward: range inside the gap is skipped that day", "02:00-03:00", windowTestNY, "2024-03-10T00:00:00-05:00", "2024-03-11T02:00:00-04:00"},
		{"new york fall back: first 01:00", "01:00-02:00", windowTestNY, "2024-11-03T00:00:00-04:00", "2024-11-03T01:00:00-04:00"},
		{"new york fall back: reopens at the second 01:00", "00:00-01:30", windowTestNY, "2024-11-03T01:45:00-04:00", "2024-11-03T01:00:00-05:00"},
		{"new york fall back: reopens at the second 01:30", "01:30-03:00", windowTestNY, "2024-11-03T01:00:00-05:00", "2024-11-03T01:30:00-05:00"},
		// Asia/Kolkata
		{"kolkata same day", "09:00-20:00", windowTestKol, "2024-05-15T00:00:00Z", "2024-05-15T03:30:00Z"},
		{"kolkata after close", "09:00-20:00", windowTestKol, "2024-05-15T14:30:00Z", "2024-05-16T03:30:00Z"},
		{"kolkata weekend skipped", windowTestBizDays, windowTestKol, "2024-05-17T14:30:00Z", "2024-05-20T03:30:00Z"},
		{"kolkata local monday starts on sunday UTC", windowTestBizDays, windowTestKol, "2024-05-19T22:00:00Z", "2024-05-20T03:30:00Z"},
		// Australia/Lord_Howe
		{"lord howe fall back: reopens at the second 01:30", "00:00-01:45", windowTestLH, "2024-04-07T01:50:00+11:00", "2024-04-07T01:30:00+10:30"},
		{"lord howe spring forward: 02:00 start opens at 02:30 +11", "02:00-03:00", windowTestLH, "2024-10-06T01:00:00+10:30", "2024-10-06T02:30:00+11:00"},
		{"lord howe spring forward: range inside the gap is skipped that day", "02:00-02:30", windowTestLH, "2024-10-06T00:00:00+10:30", "2024-10-07T02:00:00+11:00"},
		{"lord howe weekend skipped", windowTestBizDays, windowTestLH, "2024-05-17T20:30:00+10:30", "2024-05-20T09:00:00+10:30"},
		// several zones
		{"ny+la open at 12:00 ET", "09:00-20:00", windowTestNY + "+" + windowTestLA, "2024-05-15T10:00:00-04:00", "2024-05-15T12:00:00-04:00"},
		{"la+ny order does not matter", "09:00-20:00", windowTestLA + "+" + windowTestNY, "2024-05-15T10:00:00-04:00", "2024-05-15T12:00:00-04:00"},
		{"ny+la after 20:00 ET is next day", "09:00-20:00", windowTestNY + "+" + windowTestLA, "2024-05-15T20:00:00-04:00", "2024-05-16T12:00:00-04:00"},
		{"ny+la weekend skipped", windowTestBizDays, windowTestNY + "+" + windowTestLA, "2024-05-17T20:30:00-04:00", "2024-05-20T12:00:00-04:00"},
		{"tokyo+kolkata overlap, weekend skipped", windowTestBizDays, windowTestTok + "+" + windowTestKol, "2024-05-17T11:00:00Z", "2024-05-20T03:30:00Z"},
		{"tokyo+ny no overlap", "09:00-17:00", windowTestTok + "+" + windowTestNY, "2024-05-15T10:00:00-04:00", ""},
		{"ny+kolkata no overlap on weekdays", "mon-fri 09:00-17:00", windowTestNY + "+" + windowTestKol, "2024-05-15T10:00:00-04:00", ""},
		{"ny+london", "09:00-17:00", windowTestNY + "+" + windowTestLon, "2024-05-15T06:00:00-04:00", "2024-05-15T09:00:00-04:00"},
		{"ny+london during the weeks the US is already on DST", "09:00-17:00", windowTestNY + "+" + windowTestLon, "2024-03-15T06:00:00-04:00", "2024-03-15T09:00:00-04:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w Window
			if tc.spec != "" {
				w = windowTestParse(t, tc.spec)
			}
			at := windowTestTime(t, tc.at)
			next, ok := w.NextOpen(at, windowTestZones(t, tc.zones))
			require.Equal(t, tc.want != "", ok)
			requireWindowInstant(t, tc.want, next)
			if ok {
				require.Equal(t, at.Location(), next.Location(), "the result is in t's location")
			}
		})
	}
}

func TestWindowOpenUntil(t *testing.T) {
	cases := []windowCase{
		// UTC
		{"utc exactly at start", "09:00-17:00", windowTestUTC, "2024-05-15T09:00:00Z", "2024-05-15T17:00:00Z"},
		{"utc a second before end", "09:00-17:00", windowTestUTC, "2024-05-15T16:59:59Z", "2024-05-15T17:00:00Z"},
		{"utc exactly at end is closed", "09:00-17:00", windowTestUTC, "2024-05-15T17:00:00Z", ""},
		{"utc before start is closed", "09:00-17:00", windowTestUTC, "2024-05-15T08:00:00Z", ""},
		{"utc first of two ranges", "09:00-12:00, 13:00-17:00", windowTestUTC, "2024-05-15T10:00:00Z", "2024-05-15T12:00:00Z"},
		{"utc friday", windowTestBizDays, windowTestUTC, "2024-05-17T19:00:00Z", "2024-05-17T20:00:00Z"},
		{"utc open across midnight", "sat 20:00-24:00; sun 00:00-02:00", windowTestUTC, "2024-05-18T23:00:00Z", "2024-05-19T02:00:00Z"},
		{"utc several days", "mon-wed 00:00-24:00", windowTestUTC, "2024-05-13T12:00:00Z", "2024-05-16T00:00:00Z"},
		// Europe/London
		{"london summer", "09:00-20:00", windowTestLon, "2024-07-01T12:00:00Z", "2024-07-01T19:00:00Z"},
		{"london winter", "09:00-20:00", windowTestLon, "2024-01-15T12:00:00Z", "2024-01-15T20:00:00Z"},
		{"london spring forward: closes when 01:00 GMT becomes 02:00 BST", "00:00-01:30", windowTestLon, "2024-03-31T00:30:00Z", "2024-03-31T02:00:00+01:00"},
		{"london spring forward: range starting in the gap", "01:30-03:00", windowTestLon, "2024-03-31T02:00:00+01:00", "2024-03-31T03:00:00+01:00"},
		{"london fall back: two real hours", "01:00-02:00", windowTestLon, "2024-10-27T00:30:00Z", "2024-10-27T02:00:00Z"},
		{"london fall back: closes at the first 01:30", "00:00-01:30", windowTestLon, "2024-10-26T23:30:00Z", "2024-10-27T01:30:00+01:00"},
		// America/New_York
		{"new york", windowTestBizDays, windowTestNY, "2024-05-17T10:00:00-04:00", "2024-05-17T20:00:00-04:00"},
		{"new york spring forward", "02:30-04:00", windowTestNY, "2024-03-10T03:00:00-04:00", "2024-03-10T04:00:00-04:00"},
		{"new york fall back: two real hours", "01:00-02:00", windowTestNY, "2024-11-03T01:00:00-04:00", "2024-11-03T02:00:00-05:00"},
		{"new york fall back: second 01:00 to 01:30", "00:00-01:30", windowTestNY, "2024-11-03T01:00:00-05:00", "2024-11-03T01:30:00-05:00"},
		{"new york fall back: first 01:15 closes at first 01:30", "00:00-01:30", windowTestNY, "2024-11-03T01:15:00-04:00", "2024-11-03T01:30:00-04:00"},
		{"new york fall back: 01:45 EDT is closed", "00:00-01:30", windowTestNY, "2024-11-03T01:45:00-04:00", ""},
		// Asia/Kolkata
		{"kolkata", "09:00-20:00", windowTestKol, "2024-05-15T10:00:00Z", "2024-05-15T14:30:00Z"},
		// Australia/Lord_Howe
		{"lord howe fall back: one real hour for 01:30-02:00", "01:30-02:00", windowTestLH, "2024-04-07T01:30:00+11:00", "2024-04-07T02:00:00+10:30"},
		{"lord howe spring forward: closes at the jump", "01:00-02:15", windowTestLH, "2024-10-06T01:30:00+10:30", "2024-10-06T02:30:00+11:00"},
		{"lord howe spring forward: range starting in the gap", "02:00-03:00", windowTestLH, "2024-10-06T02:30:00+11:00", "2024-10-06T03:00:00+11:00"},
		// several zones
		{"ny+la closes at 20:00 ET", "09:00-20:00", windowTestNY + "+" + windowTestLA, "2024-05-15T12:00:00-04:00", "2024-05-15T20:00:00-04:00"},
		{"ny+la closed at 10:00 ET", "09:00-20:00", windowTestNY + "+" + windowTestLA, "2024-05-15T10:00:00-04:00", ""},
		{"ny+london closes at 17:00 London", "09:00-17:00", windowTestNY + "+" + windowTestLon, "2024-05-15T09:00:00-04:00", "2024-05-15T12:00:00-04:00"},
		{"tokyo+ny no overlap", "09:00-17:00", windowTestTok + "+" + windowTestNY, "2024-05-15T10:00:00-04:00", ""},
		// horizon
		{"open past the 14-day horizon", "00:00-24:00; mon 00:00-12:00", windowTestUTC, "2024-05-15T10:30:00.5Z", "2024-05-29T10:30:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := windowTestParse(t, tc.spec)
			at := windowTestTime(t, tc.at)
			until, ok := w.OpenUntil(at, windowTestZones(t, tc.zones))
			require.Equal(t, tc.want != "", ok)
			requireWindowInstant(t, tc.want, until)
		})
	}
}

func TestWindowEmptyZonesUseTimeLocation(t *testing.T) {
	w := windowTestParse(t, "09:00-17:00")
	ny := windowTestZones(t, windowTestNY)[0]
	at := time.Date(2024, 5, 15, 8, 0, 0, 0, ny) // 12:00 UTC
	require.False(t, w.Contains(at, nil))
	require.True(t, w.Contains(at.UTC(), nil))
	next, ok := w.NextOpen(at, nil)
	require.True(t, ok)
	require.Equal(t, time.Date(2024, 5, 15, 9, 0, 0, 0, ny), next)
	until, ok := w.OpenUntil(at.UTC(), []*time.Location{})
	require.True(t, ok)
	require.Equal(t, time.Date(2024, 5, 15, 17, 0, 0, 0, time.UTC), until)
}

func TestWindowNextOpenReturnsTItself(t *testing.T) {
	w := windowTestParse(t, "09:00-17:00")
	at := time.Now()
	at = time.Date(at.Year(), at.Month(), at.Day(), 12, 34, 56, 789, time.UTC)
	next, ok := w.NextOpen(at, windowTestZones(t, windowTestUTC))
	require.True(t, ok)
	require.Equal(t, at, next)
}

func TestAlwaysOpen(t *testing.T) {
	w := AlwaysOpen()
	require.True(t, w.IsAlways())
	require.Equal(t, "always", w.String())
	parsed := windowTestParse(t, "always")
	require.Equal(t, w, parsed)

	zones := windowTestZones(t, windowTestNY+"+"+windowTestKol+"+"+windowTestLH)
	for _, at := range []string{"2024-03-10T02:30:00-05:00", "2024-11-03T01:30:00-05:00", "2024-05-18T03:00:00Z", "1970-01-01T00:00:00Z"} {
		t.Run(at, func(t *testing.T) {
			tm := windowTestTime(t, at)
			require.True(t, w.Contains(tm, zones))
			next, ok := w.NextOpen(tm, zones)
			require.True(t, ok)
			require.Equal(t, tm, next)
			until, ok := w.OpenUntil(tm, zones)
			require.True(t, ok)
			require.Equal(t, 14*24*time.Hour, until.Sub(tm))
		})
	}
}

func TestWindowZeroValue(t *testing.T) {
	var w Window
	at := windowTestTime(t, "2024-05-15T12:00:00Z")
	require.False(t, w.IsAlways())
	require.Equal(t, "", w.String())
	require.False(t, w.Contains(at, nil))
	_, ok := w.NextOpen(at, nil)
	require.False(t, ok)
	_, ok = w.OpenUntil(at, nil)
	require.False(t, ok)
}

// TestCallingHoursDecide covers the one calling-window decision (moved from jobs' TestDecide,
// with the policy for an invalid spec and zones that do not load).
func TestCallingHoursDecide(t *testing.T) {
	t.Parallel()
	// Monday 2026-11-23 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles, 00:00 in Tokyo.
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		window string
		zones  []string
		want   Decision
	}{
		{"open", "09:00-20:00", []string{windowTestNY}, Decision{Queue: true}},
		{"always", "always", []string{windowTestTok}, Decision{Queue: true}},
		{"before opening: deferred to 09:00 local", "09:00-20:00", []string{windowTestLA},
			Decision{DeferUntil: time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)}},
		{"both zones must be open", "09:00-20:00", []string{windowTestNY, windowTestLA},
			Decision{DeferUntil: time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)}},
		{"zones that never share an hour fail the contact", "09:00-12:00", []string{windowTestNY, windowTestTok},
			Decision{FailOutcome: OutcomeNoCallingWindow}},
		{"unknown zone", "09:00-20:00", []string{"Mars/Base"}, Decision{FailOutcome: OutcomeInvalidTimeZone}},
		{"one unknown zone among good ones, even when the good ones are open", "always", []string{windowTestNY, "Mars/Base"},
			Decision{FailOutcome: OutcomeInvalidTimeZone}},
		{"no zone is not UTC", "always", nil, Decision{FailOutcome: OutcomeInvalidTimeZone}},
		{"an empty name is not UTC", "always", []string{""}, Decision{FailOutcome: OutcomeInvalidTimeZone}},
		{"Local is not the machine's zone", "always", []string{"Local"}, Decision{FailOutcome: OutcomeInvalidTimeZone}},
		{"a spec that does not parse", "mon-fry 09:00-17:00", []string{windowTestNY}, Decision{FailOutcome: OutcomeInvalidWindow}},
		{"the spec wins over the zones", "nonsense", []string{"Mars/Base"}, Decision{FailOutcome: OutcomeInvalidWindow}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ParseCallingHours(tc.window).Decide(tc.zones, now)
			require.Equal(t, tc.want.Queue, got.Queue)
			require.Equal(t, tc.want.FailOutcome, got.FailOutcome)
			require.True(t, tc.want.DeferUntil.Equal(got.DeferUntil), "defer until %v, want %v", got.DeferUntil, tc.want.DeferUntil)
		})
	}
}

// TestCallingHoursOfAParsedWindow: hours built from a parsed window decide as those parsed from
// its spec; the zero CallingHours never opens.
func TestCallingHoursOfAParsedWindow(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	spec := "mon-fri 16:00-18:00"
	parsed := CallingHours{Window: windowTestParse(t, spec)}
	for _, zones := range [][]string{{windowTestUTC}, {windowTestNY}, {windowTestTok}, {"Mars/Base"}} {
		require.Equal(t, ParseCallingHours(spec).Decide(zones, now), parsed.Decide(zones, now), "zones %v", zones)
	}
	require.Equal(t, Decision{FailOutcome: OutcomeNoCallingWindow}, CallingHours{}.Decide([]string{windowTestUTC}, now))
}

// TestWindowMatchesBruteForce checks NextOpen and OpenUntil at every minute of
// several days around DST changes against a minute-by-minute scan of
// Contains, which reads the wall clock directly.
func TestWindowMatchesBruteForce(t *testing.T) {
	specs := []string{
		"09:00-20:00",
		"mon-fri 09:00-12:00, 13:00-17:30; sat 10:00-14:00",
		"01:00-02:00",
		"00:00-01:30, 02:15-03:00, 23:30-24:00",
		"sat 02:00-03:00; sun 00:00-02:30; mon 01:45-24:00",
	}
	scenarios := []struct {
		zones string
		from  string
	}{
		{windowTestNY, "2024-03-08T00:00:00Z"},
		{windowTestNY, "2024-11-01T00:00:00Z"},
		{windowTestLon, "2024-03-29T00:00:00Z"},
		{windowTestLon, "2024-10-25T00:00:00Z"},
		{windowTestLH, "2024-04-05T00:00:00Z"},
		{windowTestLH, "2024-10-04T00:00:00Z"},
		{windowTestKol, "2024-05-17T00:00:00Z"},
		{windowTestNY + "+" + windowTestLA, "2024-03-08T00:00:00Z"},
		{windowTestLon + "+" + windowTestNY, "2024-10-25T00:00:00Z"},
		{windowTestLH + "+" + windowTestKol, "2024-10-04T00:00:00Z"},
	}
	const (
		queryMinutes = 4 * 24 * 60
		scanMinutes  = queryMinutes + 8*24*60
	)
	for _, sc := range scenarios {
		for _, spec := range specs {
			t.Run(sc.zones+" "+sc.from+" "+spec, func(t *testing.T) {
				t.Parallel()
				w := windowTestParse(t, spec)
				zones := windowTestZones(t, sc.zones)
				from := windowTestTime(t, sc.from)
				open := make([]bool, scanMinutes)
				for i := range open {
					open[i] = w.Contains(from.Add(time.Duration(i)*time.Minute), zones)
				}
				for i := 0; i < queryMinutes; i++ {
					at := from.Add(time.Duration(i) * time.Minute)
					next, ok := w.NextOpen(at, zones)
					j := i
					for j < scanMinutes && !open[j] {
						j++
					}
					if j < scanMinutes {
						require.True(t, ok, "NextOpen(%s)", at)
						require.Equal(t, from.Add(time.Duration(j)*time.Minute), next, "NextOpen(%s)", at)
					} else if ok {
						require.False(t, next.Before(from.Add(scanMinutes*time.Minute)), "NextOpen(%s) = %s", at, next)
					}

					until, ok := w.OpenUntil(at, zones)
					require.Equal(t, open[i], ok, "OpenUntil(%s)", at)
					if open[i] {
						k := i
						for k < scanMinutes && open[k] {
							k++
						}
						require.Less(t, k, scanMinutes)
						require.Equal(t, from.Add(time.Duration(k)*time.Minute), until, "OpenUntil(%s)", at)
					}
				}
			})
		}
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, seed := range []string{
		DefaultWindowSpec,
		"always",
		"mon-fri 09:00-20:00; sat 10:00-14:00",
		"Mon,Wed,Fri 9:00-17:00, sat 10:00-12:00",
		"weekdays 08:30-12:00, 13:00-21:00; weekends 10:00-18:00",
		"fri-mon 10:00-16:00",
		"monday-friday 9:00-12:00; tuesday 18:00-20:00",
		"daily 00:00-24:00",
		"sun 12:00-24:00; sat 00:00-06:00",
		"mon-fry 09:00-17:00",
		"22:00-02:00",
		"09:00-17:00 mon-fri",
		"9am-5pm",
		"mon 09:00-; tue",
		" ; ,",
		"mon–fri 09:00 – 17:00",
	} {
		f.Add(seed)
	}
	at := time.Date(2024, 11, 3, 5, 30, 0, 0, time.UTC)
	zones := []*time.Location{time.UTC, time.FixedZone("x", -5*3600)}
	f.Fuzz(func(t *testing.T, spec string) {
		w, err := ParseWindow(spec)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("window %q: ", spec)), err.Error())
			return
		}
		for d, spans := range w.days {
			for i, s := range spans {
				require.True(t, 0 <= s.start && s.start < s.end && s.end <= windowMinutesPerDay, "day %d: %v", d, spans)
				if i > 0 {
					require.Less(t, spans[i-1].end, s.start, "day %d: %v", d, spans)
				}
			}
		}
		s := w.String()
		again, err := ParseWindow(s)
		require.NoError(t, err, "canonical spec %q of %q", s, spec)
		require.Equal(t, w, again, "canonical spec %q of %q", s, spec)
		require.Equal(t, s, again.String())

		if next, ok := w.NextOpen(at, zones); ok {
			require.True(t, w.Contains(next, zones))
			_, ok := w.OpenUntil(next, zones)
			require.True(t, ok)
		}
	})
}

func BenchmarkNextOpen(b *testing.B) {
	cases := []struct {
		name, spec, zones, at string
	}{
		{"one zone, weekend skip", windowTestBizDays, windowTestNY, "2024-05-17T20:30:00-04:00"},
		{"two zones, weekend skip", windowTestBizDays, windowTestNY + "+" + windowTestLA, "2024-05-17T20:30:00-04:00"},
		{"two zones, no overlap", "09:00-17:00", windowTestTok + "+" + windowTestNY, "2024-05-15T10:00:00-04:00"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			w := windowTestParse(b, bc.spec)
			zones := windowTestZones(b, bc.zones)
			at := windowTestTime(b, bc.at)
			b.ReportAllocs()
			for b.Loop() {
				w.NextOpen(at, zones)
			}
		})
	}
}
