package campaign

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Defaults and limits of [Reader].
const (
	// DefaultMaxVariableBytes is the default limit on the total bytes of a
	// row's variable values. Vapi limits serialized variables to 100,000
	// characters.
	DefaultMaxVariableBytes = 100_000
	// DefaultTimeZone is the zone used when neither the row nor the number
	// gives one and no default is configured.
	DefaultTimeZone = "UTC"
	// MaxNameLength is the longest customer name Vapi accepts, in characters.
	MaxNameLength = 40
	// minRecordBytes is the smallest limit on a single CSV record. A record
	// larger than the limit (typically everything after an unclosed quote) stops
	// the import with ErrRecordTooLarge instead of being held in memory.
	minRecordBytes = 16 << 20
	// sniffBytes is how far ahead the header line is looked for when detecting
	// the delimiter; it is also the read buffer size.
	sniffBytes = 64 << 10
)

// Errors returned by [NewReader] and [Reader.Next]. They are wrapped with
// details (column names and positions, lines); test with errors.Is.
var (
	// ErrNoHeader means the input is empty or holds only blank lines.
	ErrNoHeader = errors.New("no header row")
	// ErrBadHeader means the header row cannot be read: a quoting error or
	// invalid UTF-8.
	ErrBadHeader = errors.New("malformed header row")
	// ErrDuplicateColumn means two header names are exactly equal.
	ErrDuplicateColumn = errors.New("duplicate column name")
	// ErrNoPhoneColumn means no column is named like a phone column.
	ErrNoPhoneColumn = errors.New("no phone column")
	// ErrColumnNotFound means a column named in [ReaderOptions] is not in the
	// header.
	ErrColumnNotFound = errors.New("column not found")
	// ErrInvalidOption means a [ReaderOptions] value is unusable.
	ErrInvalidOption = errors.New("invalid CSV reader option")
	// ErrRecordTooLarge means a single record is larger than the reader holds in
	// memory, usually because a quote is never closed.
	ErrRecordTooLarge = errors.New("CSV record too large")
)

// Column names tried, in order of preference, when a role's column is not
// named in ReaderOptions. Matching ignores case, spaces, underscores and
// hyphens.
var (
	phoneColumnNames = []string{
		"phone", "phone_number", "phonenumber", "number", "mobile", "mobile_number",
		"cell", "cellphone", "telephone", "tel", "to", "to_number", "customer_number",
		"msisdn", "contact_number",
	}
	nameColumnNames       = []string{"name", "full_name", "customer_name", "contact_name"}
	timeZoneColumnNames   = []string{"timezone", "time_zone", "tz"}
	externalIDColumnNames = []string{"external_id", "externalid", "id", "customer_id", "crm_id"}
	overridesColumnNames  = []string{"assistant_overrides"}
)

// ReaderOptions configures NewReader. Zero values mean auto-detection / defaults.
type ReaderOptions struct {
	// PhoneColumn, NameColumn, TimeZoneColumn and ExternalIDColumn name the
	// header of each role's column; "" means auto-detect (case-insensitive,
	// ignoring spaces, underscores and hyphens). A name given here must exist;
	// it is matched exactly first, then the same lenient way.
	PhoneColumn, NameColumn, TimeZoneColumn, ExternalIDColumn string
	// OverridesColumn names the column of per-contact assistantOverrides (a JSON object
	// deep-merged over the campaign's); "" means a column named assistant_overrides, if any.
	OverridesColumn string
	// CheckOverrides, when set, validates a row's non-empty overrides cell (already known to be
	// a JSON object); an error rejects the row with RejectBadOverrides and the error as detail.
	CheckOverrides func(json.RawMessage) error
	// TargetColumn names the column of per-contact targets (see ParseRowTarget); "" means a
	// column named assistant_id or squad_id, if any.
	TargetColumn string
	// RequireTarget rejects a row whose target cell is empty (RejectBadTarget): the campaign
	// has no target of its own to place its calls.
	RequireTarget bool
	// PhoneNumberColumn names the column of per-contact caller numbers (Vapi phone number ids);
	// "" means a column named phone_number_id, if any.
	PhoneNumberColumn string
	// RequirePhoneNumber rejects a row whose caller number cell is empty
	// (RejectBadPhoneNumberID): the campaign has no number of its own to call from.
	RequirePhoneNumber bool
	// Delimiter separates fields; 0 means auto-detect among ',', ';', '\t' and
	// '|' from the header line (quotes respected), defaulting to ','.
	Delimiter rune
	// DefaultRegion is the ISO 3166-1 alpha-2 region used for numbers without
	// a +country code; "" means "US".
	DefaultRegion string
	// DefaultTimeZone is the IANA zone used when neither the row nor the
	// number gives one; "" means "UTC".
	DefaultTimeZone string
	// MaxVariableBytes is the maximum total bytes of a row's variable values;
	// 0 means DefaultMaxVariableBytes.
	MaxVariableBytes int
}

// TimeZoneSource says where a row's time zones came from.
type TimeZoneSource string

const (
	// TimeZoneColumn is a zone given in the row's time-zone cell.
	TimeZoneColumn TimeZoneSource = "column"
	// TimeZonePhone is zones derived from the number's prefix.
	TimeZonePhone TimeZoneSource = "phone"
	// TimeZoneDefault is ReaderOptions.DefaultTimeZone.
	TimeZoneDefault TimeZoneSource = "default"
)

// Row is one accepted CSV record.
type Row struct {
	Line       int      // line number (1-based, header is line 1) where the record starts
	Fields     []string // the original cells, in header order (a copy the caller may keep)
	Phone      string   // E.164, e.g. "+14155550123"
	Name       string   // customer name for Vapi (≤ 40 characters, cut at a rune boundary); "" if no name column
	NameCut    bool     // true when Name was shortened; the full value stays in the variables
	ExternalID string   // the external-id cell, trimmed; "" if no such column
	// TimeZones are the IANA zones the contact's calls must respect (at least
	// one); several when the number's prefix spans zones. The slice may be
	// shared with other rows: do not modify it.
	TimeZones      []string
	TimeZoneSource TimeZoneSource
}

// Header describes the file's header row and the roles found.
type Header struct {
	Columns   []string // header names exactly as written (BOM stripped)
	Delimiter rune
	// Phone, Name, TimeZone, ExternalID, Overrides, Target and CallerNumber
	// are column indexes, -1 when absent (Phone is always ≥ 0).
	Phone, Name, TimeZone, ExternalID, Overrides, Target, CallerNumber int
	// Variables are the indexes of columns that become template variables:
	// every column except the phone column, the overrides, target and caller
	// number columns and columns with an empty header.
	Variables []int
	// Warnings are problems worth telling the operator that do not stop the
	// import: names that templates cannot use plainly, names differing only
	// by case, empty names, several candidate columns for a role.
	Warnings []string
}

// Reader reads contacts from CSV with constant memory in the file size. It
// validates everything about a row that does not need other rows; duplicates
// and the suppression list are the database layer's job. A Reader is not safe
// for concurrent use.
type Reader struct {
	csv    *csv.Reader
	guard  *recordGuard
	header Header
	digest hash.Hash // of the bytes read so far

	bomLen      int64
	maxRecord   int64
	region      string
	maxVarBytes int
	checkOver   func(json.RawMessage) error
	needTarget  bool
	needNumber  bool
	lastLine    int // start line of the last record read
	blank       int // blank records skipped

	defaultZones []string
	zoneCells    map[string][]string // time-zone cell → []string{zone}, nil when invalid
	phoneZones   map[*string][]string
}

// maxZoneCells bounds the cache of time-zone cells, so a file full of
// distinct garbage cannot grow it.
const maxZoneCells = 1024

// SHA256 is the hex SHA-256 of the input read so far: of the whole input once Next returned
// io.EOF. It tells whether two imports read the same file.
func (r *Reader) SHA256() string { return hex.EncodeToString(r.digest.Sum(nil)) }

// NewReader reads and validates the header of a CSV file of contacts. Errors
// wrap ErrNoHeader, ErrBadHeader, ErrDuplicateColumn, ErrNoPhoneColumn,
// ErrColumnNotFound, ErrInvalidOption or an I/O error.
func NewReader(r io.Reader, opts ReaderOptions) (*Reader, error) {
	rd := &Reader{
		zoneCells:  map[string][]string{},
		phoneZones: map[*string][]string{},
	}
	if err := rd.setOptions(opts); err != nil {
		return nil, err
	}

	rd.digest = sha256.New()
	rd.guard = &recordGuard{r: io.TeeReader(r, rd.digest), limit: sniffBytes + rd.maxRecord}
	br := bufio.NewReaderSize(rd.guard, sniffBytes)
	if b, _ := br.Peek(3); bytes.HasPrefix(b, []byte("\uFEFF")) {
		_, _ = br.Discard(3)
		rd.bomLen = 3
	}
	delim := opts.Delimiter
	if delim == 0 {
		delim = sniffDelimiter(br)
	}

	rd.csv = csv.NewReader(br)
	rd.csv.Comma = delim
	rd.csv.ReuseRecord = true
	rd.csv.FieldsPerRecord = 0 // set from the header

	rec, err := rd.csv.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: the file is empty", ErrNoHeader)
	case errors.As(err, &pe):
		return nil, fmt.Errorf("%w: line %d, column %d: %v", ErrBadHeader, pe.Line, pe.Column, pe.Err)
	case errors.Is(err, ErrRecordTooLarge):
		return nil, fmt.Errorf("%w: the header row is over %d bytes", ErrRecordTooLarge, rd.maxRecord)
	case err != nil:
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	rd.lastLine, _ = rd.csv.FieldPos(0)
	for i, name := range rec {
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("%w: column %d's name is not valid UTF-8", ErrBadHeader, i+1)
		}
	}
	h, err := newHeader(slices.Clone(rec), delim, opts)
	if err != nil {
		return nil, err
	}
	rd.header = h
	return rd, nil
}

func (rd *Reader) setOptions(opts ReaderOptions) error {
	if d := opts.Delimiter; d != 0 && (d == '"' || d == '\r' || d == '\n' || d == utf8.RuneError || !utf8.ValidRune(d)) {
		return fmt.Errorf("%w: delimiter %q", ErrInvalidOption, d)
	}
	region, err := normalizeRegion(opts.DefaultRegion)
	if err != nil {
		return fmt.Errorf("%w: default region: %w", ErrInvalidOption, err)
	}
	rd.region = region

	tz := opts.DefaultTimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	zones := rd.zoneCell(tz)
	if zones == nil {
		return fmt.Errorf("%w: default time zone %q is not an IANA zone name such as America/New_York", ErrInvalidOption, tz)
	}
	rd.defaultZones = zones

	switch {
	case opts.MaxVariableBytes < 0:
		return fmt.Errorf("%w: negative MaxVariableBytes %d", ErrInvalidOption, opts.MaxVariableBytes)
	case opts.MaxVariableBytes == 0:
		rd.maxVarBytes = DefaultMaxVariableBytes
	default:
		rd.maxVarBytes = opts.MaxVariableBytes
	}
	rd.maxRecord = max(minRecordBytes, 2*int64(rd.maxVarBytes))
	rd.checkOver = opts.CheckOverrides
	rd.needTarget = opts.RequireTarget
	rd.needNumber = opts.RequirePhoneNumber
	return nil
}

// Header returns the header row and the roles found.
func (rd *Reader) Header() Header {
	h := rd.header
	h.Columns = slices.Clone(h.Columns)
	h.Variables = slices.Clone(h.Variables)
	h.Warnings = slices.Clone(h.Warnings)
	return h
}

// BlankRecords returns how many records were skipped so far because every
// cell was empty or white space (blank lines, or rows of bare delimiters that
// spreadsheets leave at the end of an export).
func (rd *Reader) BlankRecords() int { return rd.blank }

// Variables returns header name → value for the variable columns of a record
// (empty cells included as "").
func (rd *Reader) Variables(row []string) map[string]string {
	vars := make(map[string]string, len(rd.header.Variables))
	for _, i := range rd.header.Variables {
		v := ""
		if i < len(row) {
			v = row[i]
		}
		vars[rd.header.Columns[i]] = v
	}
	return vars
}

// Next returns the next record: exactly one of row/reject is non-nil, or err
// (io.EOF at the end; other errors are I/O errors or ErrRecordTooLarge, not
// row problems). Blank records are skipped and not counted as records.
func (rd *Reader) Next() (*Row, *Reject, error) {
	for {
		rd.guard.limit = rd.bomLen + rd.csv.InputOffset() + rd.maxRecord + sniffBytes
		rec, err := rd.csv.Read()
		if err != nil {
			var pe *csv.ParseError
			switch {
			case errors.Is(err, io.EOF):
				return nil, nil, io.EOF
			case errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount):
				if isBlank(rec) {
					rd.blank++
					continue
				}
				rd.lastLine = pe.StartLine
				return nil, rd.reject(pe.StartLine, rec, RejectWrongFieldCount,
					fmt.Sprintf("expected %d fields (as in the header), got %d", len(rd.header.Columns), len(rec))), nil
			case errors.As(err, &pe):
				rd.lastLine = pe.StartLine
				return nil, rd.reject(pe.StartLine, rec, RejectMalformedCSV, quoteErrorDetail(pe)), nil
			case errors.Is(err, ErrRecordTooLarge):
				return nil, nil, fmt.Errorf("%w: the record after line %d is over %d bytes; is a quote left open?",
					ErrRecordTooLarge, rd.lastLine, rd.maxRecord)
			default:
				return nil, nil, fmt.Errorf("read CSV after line %d: %w", rd.lastLine, err)
			}
		}
		if isBlank(rec) {
			rd.blank++
			continue
		}
		line, _ := rd.csv.FieldPos(0)
		rd.lastLine = line
		row, rej := rd.check(line, rec)
		return row, rej, nil
	}
}

// check validates one well-formed record.
func (rd *Reader) check(line int, rec []string) (*Row, *Reject) {
	h := &rd.header
	for i, cell := range rec {
		if !utf8.ValidString(cell) {
			return nil, rd.reject(line, rec, RejectInvalidUTF8,
				fmt.Sprintf("column %s is not valid UTF-8", h.describe(i)))
		}
		if strings.IndexByte(cell, 0) >= 0 {
			// Valid UTF-8, but no text file carries it, and Postgres text cannot store it.
			return nil, rd.reject(line, rec, RejectMalformedCSV,
				fmt.Sprintf("column %s contains a NUL byte", h.describe(i)))
		}
		rec[i] = unneutralize(cell)
	}

	ph := parsePhone(rec[h.Phone], rd.region)
	if ph.reason != "" {
		return nil, rd.reject(line, rec, ph.reason, ph.err.Error())
	}

	var (
		zones  []string
		source TimeZoneSource
	)
	if h.TimeZone >= 0 {
		if cell := strings.TrimSpace(rec[h.TimeZone]); cell != "" {
			zones = rd.zoneCell(cell)
			if zones == nil {
				return nil, rd.reject(line, rec, RejectInvalidTimeZone,
					fmt.Sprintf("%q in column %s is not an IANA time zone such as America/New_York", cell, h.describe(h.TimeZone)))
			}
			source = TimeZoneColumn
		}
	}
	if zones == nil {
		if zones = rd.phoneZoneList(ph.e164, ph.zones); zones != nil {
			source = TimeZonePhone
		} else {
			zones, source = rd.defaultZones, TimeZoneDefault
		}
	}

	total, largest := 0, -1
	for _, i := range h.Variables {
		total += len(rec[i])
		if largest < 0 || len(rec[i]) > len(rec[largest]) {
			largest = i
		}
	}
	if total > rd.maxVarBytes {
		return nil, rd.reject(line, rec, RejectTooLong,
			fmt.Sprintf("variables total %d bytes, over the limit of %d (largest: column %s, %d bytes)",
				total, rd.maxVarBytes, h.describe(largest), len(rec[largest])))
	}

	if h.Overrides >= 0 {
		if detail := rd.overridesProblem(rec[h.Overrides]); detail != "" {
			return nil, rd.reject(line, rec, RejectBadOverrides,
				fmt.Sprintf("column %s: %s", h.describe(h.Overrides), detail))
		}
	}

	if h.Target >= 0 {
		if detail := rd.targetProblem(rec[h.Target], isSquadColumn(h.Columns[h.Target])); detail != "" {
			return nil, rd.reject(line, rec, RejectBadTarget, fmt.Sprintf("column %s: %s", h.describe(h.Target), detail))
		}
	}
	if h.CallerNumber >= 0 {
		if detail := rd.callerNumberProblem(rec[h.CallerNumber]); detail != "" {
			return nil, rd.reject(line, rec, RejectBadPhoneNumberID, fmt.Sprintf("column %s: %s", h.describe(h.CallerNumber), detail))
		}
	}

	row := &Row{
		Line:           line,
		Fields:         slices.Clone(rec),
		Phone:          ph.e164,
		TimeZones:      zones,
		TimeZoneSource: source,
	}
	if h.Name >= 0 {
		row.Name, row.NameCut = cutRunes(strings.TrimSpace(rec[h.Name]), MaxNameLength)
	}
	if h.ExternalID >= 0 {
		row.ExternalID = strings.TrimSpace(rec[h.ExternalID])
	}
	return row, nil
}

// targetProblem says what is wrong with a target cell ("" when nothing is): see ParseRowTarget;
// an empty cell is the campaign's target, when it has one.
func (rd *Reader) targetProblem(cell string, squadColumn bool) string {
	t, err := ParseRowTarget(cell, squadColumn)
	switch {
	case err != nil:
		return err.Error()
	case t.Kind == TargetNone && rd.needTarget:
		return "empty, and the campaign has no assistant or squad of its own (--assistant-id, --squad-id, --workflow-id or --assistant)"
	}
	return ""
}

// callerNumberProblem says what is wrong with a caller number cell ("" when nothing is): see
// ParseRowPhoneNumber; an empty cell is the pool's choice, when the campaign has a pool.
func (rd *Reader) callerNumberProblem(cell string) string {
	id, err := ParseRowPhoneNumber(cell)
	switch {
	case err != nil:
		return err.Error()
	case id == "" && rd.needNumber:
		return "empty, and the campaign has no phone number of its own (--phone-number-id or --phone-numbers-file)"
	}
	return ""
}

// overridesProblem says what is wrong with an overrides cell ("" when nothing is): an empty
// cell is no overrides; anything else must be a JSON object that CheckOverrides accepts.
func (rd *Reader) overridesProblem(cell string) string {
	if strings.TrimSpace(cell) == "" {
		return ""
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(cell), &obj); err != nil || obj == nil {
		if !json.Valid([]byte(cell)) {
			return "not valid JSON"
		}
		return "not a JSON object"
	}
	if rd.checkOver != nil {
		if err := rd.checkOver(json.RawMessage(cell)); err != nil {
			return err.Error()
		}
	}
	return ""
}

// unneutralize undoes the apostrophe that `campaign export` (and the OWASP advice it follows)
// puts before a cell a spreadsheet would run as a formula, so that an exported file imports
// with the values it was exported from: "'=SUM(A1)" reads as "=SUM(A1)". Other apostrophes
// stay.
func unneutralize(cell string) string {
	if len(cell) >= 2 && cell[0] == '\'' && strings.IndexByte("=+-@\t\r", cell[1]) >= 0 {
		return cell[1:]
	}
	return cell
}

func (rd *Reader) reject(line int, rec []string, reason RejectReason, detail string) *Reject {
	return &Reject{Line: line, Fields: slices.Clone(rec), Reason: reason, Detail: detail}
}

// zoneCell returns []string{name} when name is a zone (LoadTimeZone), nil otherwise.
// Results are cached; the returned slice is shared.
func (rd *Reader) zoneCell(name string) []string {
	if zones, ok := rd.zoneCells[name]; ok {
		return zones
	}
	var zones []string
	if _, err := LoadTimeZone(name); err == nil {
		zones = []string{name}
	}
	if len(rd.zoneCells) < maxZoneCells {
		rd.zoneCells[name] = zones
	}
	return zones
}

// phoneZoneList turns the library's zone list for a number into the zones
// this system can load, without "Etc/Unknown"; nil when none is left. Results
// are cached per library list (there are a few hundred) and shared.
//
// A list that is merely the whole country's (toll-free and other
// non-geographic numbers: +1 800 gets North America's 42 zones, from Guam to
// Adak) says nothing about where the person is, and the hours open in all of
// those zones at once are none: such a number counts as having no zone, so the
// campaign's default applies.
func (rd *Reader) phoneZoneList(e164 string, lib []string) []string {
	if len(lib) == 0 {
		return nil
	}
	key := &lib[0]
	if zones, ok := rd.phoneZones[key]; ok {
		return zones
	}
	var zones []string
	if !countryWideZones(e164, lib) {
		for _, z := range knownZones(lib) {
			if rd.zoneCell(z) != nil {
				zones = append(zones, z)
			}
		}
	}
	zones = slices.Clip(zones)
	rd.phoneZones[key] = zones
	return zones
}

// isBlank reports whether every cell is empty or white space.
func isBlank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// cutRunes shortens s to at most n runes.
func cutRunes(s string, n int) (string, bool) {
	if len(s) <= n { // fewer bytes than n means fewer runes
		return s, false
	}
	count := 0
	for i := range s {
		if count == n {
			return s[:i], true
		}
		count++
	}
	return s, false
}

func quoteErrorDetail(pe *csv.ParseError) string {
	if pe.Line != pe.StartLine {
		return fmt.Sprintf("%v on line %d, column %d, in a quoted field opened on line %d",
			pe.Err, pe.Line, pe.Column, pe.StartLine)
	}
	return fmt.Sprintf("%v on line %d, column %d", pe.Err, pe.Line, pe.Column)
}

// describe names column i for messages: "\"email\" (column 3)".
func (h *Header) describe(i int) string {
	if i < 0 || i >= len(h.Columns) {
		return strconv.Itoa(i + 1)
	}
	if h.Columns[i] == "" {
		return fmt.Sprintf("%d (no name)", i+1)
	}
	return fmt.Sprintf("%q (column %d)", h.Columns[i], i+1)
}

// recordGuard fails reads that would take the CSV reader more than limit
// bytes into the input, so one endless record cannot exhaust memory. It also
// makes errors from the input sticky, so an error met while sniffing the
// delimiter is reported by the CSV reader rather than lost.
type recordGuard struct {
	r     io.Reader
	read  int64
	limit int64
	err   error
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.read >= g.limit {
		return 0, ErrRecordTooLarge
	}
	if rem := g.limit - g.read; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	g.err = err
	return n, err
}

// sniffDelimiter picks the candidate delimiter that occurs most often outside
// quotes on the first non-blank line; ties go to the earlier of ',', ';',
// '\t', '|', and no candidate means ','.
//
// Read errors end the sniffing early; the CSV reader reports them.
func sniffDelimiter(br *bufio.Reader) rune {
	candidates := [...]rune{',', ';', '\t', '|'}
	for n := 4096; ; n *= 2 {
		n = min(n, br.Size())
		b, err := br.Peek(n)
		var counts [len(candidates)]int
		complete := scanHeaderLine(b, func(c byte) {
			for i, d := range candidates {
				if rune(c) == d {
					counts[i]++
				}
			}
		})
		if complete || err != nil || n == br.Size() {
			best := 0
			for i := range counts {
				if counts[i] > counts[best] {
					best = i
				}
			}
			return candidates[best]
		}
	}
}

// scanHeaderLine calls visit for each byte outside quotes on the first
// non-blank line of b and reports whether the line's end was found.
func scanHeaderLine(b []byte, visit func(byte)) bool {
	inQuotes, content := false, false
	for _, c := range b {
		switch {
		case c == '"':
			inQuotes = !inQuotes
			content = true
		case inQuotes:
		case c == '\n':
			if content {
				return true
			}
		case c == '\r':
		default:
			content = true
			visit(c)
		}
	}
	return false
}

// newHeader validates the header names and finds each role's column.
func newHeader(cols []string, delim rune, opts ReaderOptions) (Header, error) {
	h := Header{Columns: cols, Delimiter: delim, Phone: -1, Name: -1, TimeZone: -1, ExternalID: -1, Overrides: -1, Target: -1, CallerNumber: -1}

	var dups []string
	seen := make(map[string]int, len(cols))
	for j, c := range cols {
		if c == "" {
			continue
		}
		if i, ok := seen[c]; ok {
			dups = append(dups, fmt.Sprintf("%q at columns %d and %d", c, i+1, j+1))
			continue
		}
		seen[c] = j
	}
	if len(dups) > 0 {
		return Header{}, fmt.Errorf("%w: %s", ErrDuplicateColumn, strings.Join(dups, "; "))
	}
	keys := make([]string, len(cols))
	for i, c := range cols {
		keys[i] = columnKey(c)
	}

	roles := []struct {
		role  string
		named string
		names []string
		dst   *int
	}{
		{"phone", opts.PhoneColumn, phoneColumnNames, &h.Phone},
		{"name", opts.NameColumn, nameColumnNames, &h.Name},
		{"time zone", opts.TimeZoneColumn, timeZoneColumnNames, &h.TimeZone},
		{"external id", opts.ExternalIDColumn, externalIDColumnNames, &h.ExternalID},
		{"overrides", opts.OverridesColumn, overridesColumnNames, &h.Overrides},
		{"target", opts.TargetColumn, targetColumnNames, &h.Target},
		{"caller number", opts.PhoneNumberColumn, phoneNumberColumnNames, &h.CallerNumber},
	}
	taken := map[int]string{}
	// Columns named in the options first, so auto-detection cannot take them.
	for _, r := range roles {
		if r.named == "" {
			continue
		}
		i, err := h.findNamed(r.named, keys)
		if err != nil {
			return Header{}, fmt.Errorf("%s column: %w", r.role, err)
		}
		if other, ok := taken[i]; ok {
			return Header{}, fmt.Errorf("%w: column %s is named for both %s and %s", ErrInvalidOption, h.describe(i), other, r.role)
		}
		taken[i] = r.role
		*r.dst = i
	}
	for _, r := range roles {
		if r.named != "" {
			continue
		}
		matches := findAuto(keys, r.names, taken)
		if len(matches) == 0 {
			continue
		}
		*r.dst = matches[0]
		taken[matches[0]] = r.role
		if len(matches) > 1 {
			others := make([]string, 0, len(matches)-1)
			for _, i := range matches[1:] {
				others = append(others, h.describe(i))
			}
			h.Warnings = append(h.Warnings, fmt.Sprintf("using column %s for the %s; %s also match: name the column explicitly to use another",
				h.describe(matches[0]), r.role, strings.Join(others, ", ")))
		}
	}
	if h.Phone < 0 {
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = strconv.Quote(c)
		}
		return Header{}, fmt.Errorf("%w: the header has %s (delimiter %q); looked for a column named %s; name the phone column explicitly",
			ErrNoPhoneColumn, strings.Join(quoted, ", "), delim, strings.Join(phoneColumnNames, ", "))
	}

	for i, name := range cols {
		switch {
		case i == h.Phone, i == h.Overrides, i == h.Target, i == h.CallerNumber:
		case name == "":
			h.Warnings = append(h.Warnings, fmt.Sprintf("column %d has no name: its cells are kept in the data but not passed to the assistant as a variable", i+1))
		default:
			h.Variables = append(h.Variables, i)
			if !plainVariableName(name) {
				h.Warnings = append(h.Warnings, fmt.Sprintf("column %q has spaces or punctuation: in templates write {{ [%q] }}", name, name))
			}
		}
	}
	folded := make(map[string]int, len(cols))
	for j, c := range cols {
		if c == "" {
			continue
		}
		lower := strings.ToLower(c)
		if i, ok := folded[lower]; ok {
			h.Warnings = append(h.Warnings, fmt.Sprintf("columns %s and %s differ only by case; template variables are case-sensitive",
				h.describe(i), h.describe(j)))
			continue
		}
		folded[lower] = j
	}
	return h, nil
}

// findNamed finds a column named in the options: an exact match, else the one
// column whose key (see columnKey) matches.
func (h *Header) findNamed(name string, keys []string) (int, error) {
	if i := slices.Index(h.Columns, name); i >= 0 {
		return i, nil
	}
	key := columnKey(name)
	var matches []int
	for i, k := range keys {
		if key != "" && k == key {
			matches = append(matches, i)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		quoted := make([]string, len(h.Columns))
		for i, c := range h.Columns {
			quoted[i] = strconv.Quote(c)
		}
		return -1, fmt.Errorf("%w: %q is not in the header (%s)", ErrColumnNotFound, name, strings.Join(quoted, ", "))
	default:
		descs := make([]string, len(matches))
		for k, i := range matches {
			descs[k] = h.describe(i)
		}
		return -1, fmt.Errorf("%w: %q matches several columns (%s); give the exact name", ErrColumnNotFound, name, strings.Join(descs, ", "))
	}
}

// findAuto returns the free columns whose keys match names, best name first
// and in column order for the same name.
func findAuto(keys, names []string, taken map[int]string) []int {
	var matches []int
	for _, n := range names {
		key := columnKey(n)
		for i, k := range keys {
			if _, ok := taken[i]; ok || k != key || slices.Contains(matches, i) {
				continue
			}
			matches = append(matches, i)
		}
	}
	return matches
}

// columnKey lower-cases name and drops spaces, underscores and hyphens.
func columnKey(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '_', '-':
			return -1
		}
		return r
	}, strings.ToLower(name))
}

// plainVariableName reports whether a Liquid template can use name as a bare
// variable: a letter or underscore, then letters, digits, underscores or
// hyphens.
func plainVariableName(name string) bool {
	for i, r := range name {
		switch {
		case r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z'):
		case i > 0 && (r == '-' || ('0' <= r && r <= '9')):
		default:
			return false
		}
	}
	return name != ""
}
