package campaign

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RejectReason says why a CSV record was not imported. Values are snake_case
// and stable: they appear in rejects files and reports.
type RejectReason string

const (
	// RejectWrongFieldCount is a record with more or fewer fields than the header.
	RejectWrongFieldCount RejectReason = "wrong_field_count"
	// RejectMalformedCSV is a record with a quoting error.
	RejectMalformedCSV RejectReason = "malformed_csv"
	// RejectInvalidUTF8 is a record with a cell that is not valid UTF-8.
	RejectInvalidUTF8 RejectReason = "invalid_utf8"
	// RejectMissingPhone is a record whose phone cell is empty.
	RejectMissingPhone RejectReason = "missing_phone"
	// RejectInvalidPhone is a phone cell that is not a phone number at all
	// (letters, garbage).
	RejectInvalidPhone RejectReason = "invalid_phone"
	// RejectImpossiblePhone is a phone cell shaped like a number that cannot
	// exist: too short or long, unknown country code, or not valid for its
	// country.
	RejectImpossiblePhone RejectReason = "impossible_phone"
	// RejectTooLong is a record whose variables exceed the size limit, or whose
	// phone cell is longer than [MaxPhoneLength].
	RejectTooLong RejectReason = "too_long"
	// RejectInvalidTimeZone is a time-zone cell that is not an IANA zone name.
	RejectInvalidTimeZone RejectReason = "invalid_time_zone"
	// RejectDuplicatePhone is a number already imported earlier in the same
	// campaign. Produced by the database layer, not by [Reader].
	RejectDuplicatePhone RejectReason = "duplicate_phone"
	// RejectSuppressed is a number on the suppression (do-not-call) list.
	// Produced by the database layer, not by [Reader].
	RejectSuppressed RejectReason = "suppressed"
	// RejectBadOverrides is an overrides cell (see ReaderOptions.OverridesColumn) that is not
	// a JSON object, or that the campaign's target cannot take: a field assistantOverrides
	// does not know, or, for a workflow, anything but variableValues.
	RejectBadOverrides RejectReason = "bad_overrides"
	// RejectBadTarget is a target cell (see ReaderOptions.TargetColumn) that is not an
	// assistant or squad id, or an empty one when the campaign has no target of its own.
	RejectBadTarget RejectReason = "bad_target"
	// RejectBadPhoneNumberID is a caller number cell (see ReaderOptions.PhoneNumberColumn) that
	// is not a Vapi phone number id, or an empty one when the campaign has no number of its own.
	RejectBadPhoneNumberID RejectReason = "bad_phone_number_id"
)

// RejectReasons lists every reason, in a stable order for reports.
func RejectReasons() []RejectReason {
	return []RejectReason{
		RejectWrongFieldCount, RejectMalformedCSV, RejectInvalidUTF8,
		RejectMissingPhone, RejectInvalidPhone, RejectImpossiblePhone,
		RejectTooLong, RejectInvalidTimeZone, RejectDuplicatePhone, RejectSuppressed,
		RejectBadOverrides, RejectBadTarget, RejectBadPhoneNumberID,
	}
}

// Reject is one CSV record that was not imported.
type Reject struct {
	Line   int          // line number where the record starts (the header is line 1)
	Fields []string     // the cells as read; fewer or more than the header for some reasons, possibly none
	Reason RejectReason // why
	Detail string       // a human explanation, e.g. which column and what was wrong
}

// RejectsWriter writes rejected records as CSV: the original header columns,
// then "line", "reason" and "detail", so the file can be fixed in a
// spreadsheet and imported again.
//
// A record with fewer cells than the header is padded with empty cells. A
// record with more keeps the first ones in place and lists the surplus in the
// detail column, so no cell is lost and the columns stay aligned.
type RejectsWriter struct {
	w          *csv.Writer
	width      int      // number of header columns
	header     []string // header columns + line, reason, detail
	headerDone bool
	record     []string // reused for every record
}

// NewRejectsWriter returns a writer for rejects of a file with the given
// header; pass [Header.Columns] and [Header.Delimiter] (0 means a comma). The
// header row is written with the first Write or Flush.
func NewRejectsWriter(w io.Writer, header []string, delimiter rune) *RejectsWriter {
	cw := csv.NewWriter(w)
	if delimiter != 0 {
		cw.Comma = delimiter
	}
	cols := make([]string, 0, len(header)+3)
	cols = append(cols, header...)
	cols = append(cols, "line", "reason", "detail")
	return &RejectsWriter{w: cw, width: len(header), header: cols, record: make([]string, 0, len(cols))}
}

func (w *RejectsWriter) writeHeader() error {
	if w.headerDone {
		return nil
	}
	w.headerDone = true
	if err := w.w.Write(w.header); err != nil {
		return fmt.Errorf("write rejects header: %w", err)
	}
	return nil
}

// Write writes one rejected record.
func (w *RejectsWriter) Write(rej Reject) error {
	if err := w.writeHeader(); err != nil {
		return err
	}
	cells, detail := rej.Fields, rej.Detail
	if len(cells) > w.width {
		detail = surplusDetail(detail, cells[w.width:])
		cells = cells[:w.width]
	}
	rec := append(w.record[:0], cells...)
	for len(rec) < w.width {
		rec = append(rec, "")
	}
	rec = append(rec, strconv.Itoa(rej.Line), string(rej.Reason), detail)
	w.record = rec
	if err := w.w.Write(rec); err != nil {
		return fmt.Errorf("write reject for line %d: %w", rej.Line, err)
	}
	return nil
}

// surplusDetail appends the cells beyond the header to a detail message.
func surplusDetail(detail string, extra []string) string {
	var b strings.Builder
	b.WriteString(detail)
	if detail != "" {
		b.WriteString("; ")
	}
	b.WriteString("cells beyond the header: ")
	for i, c := range extra {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(c))
	}
	return b.String()
}

// Flush writes any buffered data (and the header row, if nothing was written
// yet) to the underlying writer.
func (w *RejectsWriter) Flush() error {
	if err := w.writeHeader(); err != nil {
		return err
	}
	w.w.Flush()
	if err := w.w.Error(); err != nil {
		return fmt.Errorf("flush rejects: %w", err)
	}
	return nil
}
