package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// phoneNumberColumnNames are the headers of the per-row caller number column found without
// ReaderOptions.PhoneNumberColumn.
var phoneNumberColumnNames = []string{"phone_number_id"}

// MaxRowPhoneNumbers bounds the distinct numbers of one campaign's caller number column, each of
// which the pre-flight reads from Vapi.
const MaxRowPhoneNumbers = 50

// ParseRowPhoneNumber reads a caller number cell: a Vapi phone number id, a uuid (the format of
// the {id} of GET /phone-number/{id} in Vapi's OpenAPI document), returned in lower case; spaces
// around it are ignored. An empty cell is "" (the campaign's pool chooses).
func ParseRowPhoneNumber(cell string) (string, error) {
	id := strings.ToLower(strings.TrimSpace(cell))
	if id == "" {
		return "", nil
	}
	if !vapiIDPattern.MatchString(id) {
		return "", fmt.Errorf("%q is not a phone number id: Vapi's ids are uuids such as 3f0c1a2b-7d4e-4f5a-9b6c-1d2e3f4a5b6c", cell)
	}
	return id, nil
}

// RowPhoneNumber returns the contact's own caller number from the campaign's caller number
// column: "" when the campaign has none or the cell is empty (the pool chooses). The cell was
// checked at import.
func (c *Campaign) RowPhoneNumber(ct *Contact) (string, error) {
	col := c.phoneNumberColumn()
	if col < 0 || col >= len(ct.Fields) {
		return "", nil
	}
	id, err := ParseRowPhoneNumber(ct.Fields[col])
	if err != nil {
		return "", fmt.Errorf("contact on line %d: phone number column: %w", ct.Line, err)
	}
	return id, nil
}

// phoneNumberColumn is the index of the campaign's caller number column, -1 without one.
func (c *Campaign) phoneNumberColumn() int {
	if c.PhoneNumberColumn == nil || *c.PhoneNumberColumn < 0 || *c.PhoneNumberColumn >= len(c.Columns) {
		return -1
	}
	return *c.PhoneNumberColumn
}

// RowPhoneNumbers returns the distinct caller numbers the campaign's contacts name in its caller
// number column, in the order of their first appearance in the file; nil without such a column.
// More than limit distinct numbers is an error.
func (s *Store) RowPhoneNumbers(ctx context.Context, c *Campaign, limit int) ([]string, error) {
	col := c.phoneNumberColumn()
	if col < 0 {
		return nil, nil
	}
	// The cells were checked at import: without spaces and in lower case, one number is one cell.
	cells, err := s.distinctCells(ctx, c.ID, col, limit+1)
	if err != nil {
		return nil, fmt.Errorf("row phone numbers: %w", err)
	}
	var out []string
	for _, cell := range cells {
		id, err := ParseRowPhoneNumber(cell)
		if err != nil {
			return nil, fmt.Errorf("row phone numbers: %w", err)
		}
		out = append(out, id)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: the phone number column %q names more than %d distinct numbers; split the file into campaigns",
			ErrTooManyPhoneNumbers, c.Columns[col], limit)
	}
	return out, nil
}

// ErrTooManyPhoneNumbers is a caller number column naming more distinct numbers than a campaign
// takes.
var ErrTooManyPhoneNumbers = errors.New("too many phone numbers")
