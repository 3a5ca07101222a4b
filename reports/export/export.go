// Package export writes a campaign's results to a file a spreadsheet or a script can take: one
// row per contact (the original CSV columns in their original order, then the result columns,
// then one column per key of the calls' structured data), or one row per call attempt.
//
// Rows stream from a consistent snapshot of the database (campaign.ResultsSnapshot), so memory
// stays flat in the campaign's size and a campaign still running exports coherently. CSV cells
// taken from customer or call data are made safe to open in a spreadsheet (SpreadsheetSafe); a
// contacts export imports again as a new campaign without any column mapping.
//
// The formats:
//
//   - CSV (the default): the delimiter of the imported file; Options.Excel adds a UTF-8
//     byte-order mark, without which Excel reads the file in the machine's legacy code page
//     and garbles non-ASCII text. (Line ends stay LF, which Excel reads: CRLF would make
//     encoding/csv drop a carriage return inside a cell.)
//   - JSON Lines: one JSON object per row, whose keys are the CSV header's, in the same order;
//     original cells are strings, numbers are numbers, absent values null, structured-data
//     values their JSON as stored, times RFC 3339. Nothing is neutralized: it is for programs.
package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/campaign-run/campaign/campaign"
)

// Format is the format of an export file.
type Format string

// Formats.
const (
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// ParseFormat checks a format name ("" means CSV).
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", FormatCSV:
		return FormatCSV, nil
	case FormatJSONL:
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("unknown export format %q: want csv or jsonl", s)
}

// Options configure an export.
type Options struct {
	// Format is the file format; "" is CSV.
	Format Format
	// Excel starts a CSV file with a UTF-8 byte-order mark. It is an error with another format.
	Excel bool
	// Filter selects the contacts (or attempts) exported.
	Filter campaign.ExportFilter
}

func (o Options) check() (Format, error) {
	f, err := ParseFormat(string(o.Format))
	if err != nil {
		return "", err
	}
	if o.Excel && f != FormatCSV {
		return "", fmt.Errorf("the Excel option applies to CSV only, not %s", f)
	}
	return f, nil
}

// Stats say what an export wrote.
type Stats struct {
	// Rows is the number of rows written, header aside.
	Rows int
	// StructuredColumns is the number of structured-data columns (contacts exports).
	StructuredColumns int
}

// bom is the UTF-8 byte-order mark.
const bom = "\uFEFF"

// outputBufferSize is the buffer between the rows and w.
const outputBufferSize = 256 << 10

// Contacts writes one row per contact of campaign c (that passes opts.Filter), in file order,
// to w: c's original columns, ResultColumns, then a structured.* column for every leaf path of
// the structured data of any of c's calls (the same columns for every row of the file, sorted
// with SortPaths). A contact's structured values are those of its latest call that has
// structured data; its other call fields are those of its last call. w is written through a
// buffer and flushed at the end; on error, part of the file may have been written.
func Contacts(ctx context.Context, store *campaign.Store, c *campaign.Campaign, w io.Writer, opts Options) (Stats, error) {
	format, err := opts.check()
	if err != nil {
		return Stats{}, err
	}
	snap, err := store.BeginResults(ctx, c.ID)
	if err != nil {
		return Stats{}, err
	}
	defer snap.Close(ctx)
	paths, err := snap.StructuredPaths(ctx)
	if err != nil {
		return Stats{}, err
	}
	SortPaths(paths)
	header := ContactHeader(c.Columns, paths)
	stats := Stats{StructuredColumns: len(paths)}

	bw := bufio.NewWriterSize(w, outputBufferSize)
	rows := &contactRows{width: len(c.Columns), zones: zoneCache{}}
	var (
		write  func(*campaign.ContactResult) error
		finish = func() error { return nil }
	)
	switch format {
	case FormatJSONL:
		jw := newJSONLContacts(bw, header)
		write = func(r *campaign.ContactResult) error { return jw.write(rows, r) }
	default:
		cw, err := newCSVWriter(bw, c.Delimiter, opts.Excel)
		if err != nil {
			return stats, err
		}
		safeHeader := make([]string, len(header))
		for i, h := range header {
			safeHeader[i] = SpreadsheetSafe(h)
		}
		if err := cw.Write(safeHeader); err != nil {
			return stats, fmt.Errorf("write export: %w", err)
		}
		rec := make([]string, 0, len(header))
		write = func(r *campaign.ContactResult) error {
			rec = rows.csvRecord(rec[:0], r)
			return cw.Write(rec)
		}
		finish = func() error {
			cw.Flush()
			return cw.Error()
		}
	}
	err = snap.EachContact(ctx, opts.Filter, paths, func(r *campaign.ContactResult) error {
		stats.Rows++
		if err := write(r); err != nil {
			return fmt.Errorf("write export: %w", err)
		}
		return nil
	})
	if err != nil {
		return stats, err
	}
	if err := finish(); err != nil {
		return stats, fmt.Errorf("write export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return stats, fmt.Errorf("write export: %w", err)
	}
	return stats, nil
}

// newCSVWriter returns a CSV writer on bw with the given delimiter (',' if 0), after the
// byte-order mark when excel.
func newCSVWriter(bw *bufio.Writer, delimiter rune, excel bool) (*csv.Writer, error) {
	if excel {
		if _, err := bw.WriteString(bom); err != nil {
			return nil, fmt.Errorf("write export: %w", err)
		}
	}
	cw := csv.NewWriter(bw)
	if delimiter != 0 && delimiter != '"' && delimiter != '\r' && delimiter != '\n' && utf8.ValidRune(delimiter) {
		cw.Comma = delimiter
	}
	return cw, nil
}

// contactRows turns contact results into rows.
type contactRows struct {
	width int // the number of original columns
	zones zoneCache
	buf   []byte
}

// csvRecord appends r's CSV cells to rec.
func (x *contactRows) csvRecord(rec []string, r *campaign.ContactResult) []string {
	for i := range x.width {
		f := ""
		if i < len(r.Fields) {
			f = r.Fields[i]
		}
		rec = append(rec, SpreadsheetSafe(f))
	}
	loc := x.zones.get(r.TimeZone)
	rec = append(rec, string(r.State), r.Outcome, SpreadsheetSafe(r.LastEndedReason), strconv.Itoa(r.Attempts),
		x.utc(r.FirstCallAt), x.local(r.FirstCallAt, loc, LocalTimeLayout),
		x.utc(r.LastCallAt), x.local(r.LastCallAt, loc, LocalTimeLayout), r.TimeZone)
	if r.Calls > 0 {
		rec = append(rec, formatNumber(r.DurationSeconds, 3), formatNumber(r.CostUSD, 6))
	} else {
		rec = append(rec, "", "")
	}
	rec = append(rec, SpreadsheetSafe(r.SuccessEvaluation), SpreadsheetSafe(r.Summary), SpreadsheetSafe(r.RecordingURL),
		SpreadsheetSafe(r.LastCallID), r.Phone, SpreadsheetSafe(r.IneligibleReason),
		SpreadsheetSafe(r.CallerNumberID), r.CallerNumber)
	for _, v := range r.Structured {
		rec = append(rec, SpreadsheetSafe(jsonCell(v)))
	}
	return rec
}

func (x *contactRows) utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	x.buf = t.UTC().AppendFormat(x.buf[:0], time.RFC3339)
	return string(x.buf)
}

func (x *contactRows) local(t time.Time, loc *time.Location, layout string) string {
	if t.IsZero() || loc == nil {
		return ""
	}
	x.buf = t.In(loc).AppendFormat(x.buf[:0], layout)
	return string(x.buf)
}

// formatNumber formats v rounded to decimals places, without trailing zeros.
func formatNumber(v float64, decimals int) string {
	p := math.Pow10(decimals)
	return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
}

// zoneCache loads time zones once each; a zone that does not load is nil.
type zoneCache map[string]*time.Location

func (z zoneCache) get(name string) *time.Location {
	if name == "" {
		return nil
	}
	loc, ok := z[name]
	if !ok {
		loc, _ = time.LoadLocation(name)
		z[name] = loc
	}
	return loc
}

// jsonCell is the cell of a structured value given as JSON text: a string's text; nothing for
// null or an absent value (""); the JSON text of anything else (number, boolean, array, object).
func jsonCell(v string) string {
	switch {
	case v == "" || v == "null":
		return ""
	case v[0] == '"':
		if !containsByte(v, '\\') {
			return v[1 : len(v)-1]
		}
		var s string
		if json.Unmarshal([]byte(v), &s) == nil {
			return s
		}
	}
	return v
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}
