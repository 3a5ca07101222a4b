package export

// SpreadsheetSafe returns a cell that no spreadsheet runs as a formula: a value starting with
// =, +, -, @, a tab or a carriage return gets a leading apostrophe (OWASP's advice against CSV
// injection), which spreadsheets show as text and hide. Two kinds of values are left as they
// are because they cannot run anything and should stay usable: an E.164 phone number (+ and
// digits, e.g. +14155550123) and a plain number (e.g. -12.5, +3).
//
// A file made safe this way re-imports into campaign run unchanged in its phone numbers (a
// leading apostrophe is not a digit, so the number parses as before); other neutralized cells
// keep the apostrophe.
func SpreadsheetSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return "'" + s
	case '+', '-':
		if plainNumber(s[1:]) {
			return s
		}
		return "'" + s
	}
	return s
}

// plainNumber reports whether s is digits, optionally with one decimal point between digits.
func plainNumber(s string) bool {
	digits, point := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point && digits > 0 && i+1 < len(s):
			point = true
		default:
			return false
		}
	}
	return digits > 0
}
