package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// CallSort is what the calls table is ordered by (then by attempt id, so the order is total).
type CallSort string

// Orders of the calls table. Each has an index (migration 00020) that reads a page in order.
const (
	// SortCreated: when the attempt was journaled (the default).
	SortCreated CallSort = "created"
	// SortCost: the call's cost; a call with no cost yet comes before every cost.
	SortCost CallSort = "cost"
	// SortDuration: the call's length; a call with no length yet comes before every length.
	SortDuration CallSort = "duration"
)

// callSortKey is the SQL sort key of each order over attempt a (the expression its index holds)
// and the type its cursor value is read back as.
var callSortKey = map[CallSort]struct{ expr, typ string }{
	SortCreated:  {"a.created_at", "timestamptz"},
	SortCost:     {"coalesce(a.cost, -1)", "numeric"},
	SortDuration: {"coalesce(a.duration_seconds, -1)", "float8"},
}

// Limits of a calls page.
const (
	// DefaultCallPage is the rows of a page when CallQuery.Limit is 0.
	DefaultCallPage = 50
	// MaxCallPage is the most rows a page may have.
	MaxCallPage = 500
	// maxCallSearch is the longest search text accepted, in bytes.
	maxCallSearch = 100
)

// ErrBadCursor is returned (wrapped) when a CallQuery's cursor is not one ListCalls made for
// that same query: garbage, altered, or from another campaign, order or filter.
var ErrBadCursor = errors.New("invalid page cursor")

// ErrBadCallQuery is returned (wrapped) for a CallQuery that cannot be run (an unknown order, a
// limit out of range, an over-long search).
var ErrBadCallQuery = errors.New("invalid calls query")

// CallQuery selects, orders and pages the calls of one campaign. The zero value is the first
// page of every call, newest last (SortCreated ascending).
type CallQuery struct {
	// Search matches a call whose contact's phone starts with it (a full number in any format
	// the campaign's import would accept, or digits with or without a leading +), whose name
	// starts with it (case-insensitively), or whose external id is exactly it. "": any.
	Search string
	// Outcome, EndedReason and Success keep the calls with exactly that outcome, Vapi ended
	// reason and success evaluation ("true", "false", a score…). "": any.
	Outcome     Outcome
	EndedReason string
	Success     string
	// Live keeps the calls live now (creating or created): the campaign page's "live calls".
	Live bool
	// Sort orders the calls ("": SortCreated); Desc reverses it.
	Sort CallSort
	Desc bool
	// Limit is the rows of a page (0: DefaultCallPage; at most MaxCallPage).
	Limit int
	// Cursor continues from an earlier page of the same query: after its last row
	// (CallPage.Next) or before its first (CallPage.Prev). "": the first page.
	Cursor string
}

// CallRow is one call of the calls table: an attempt and who it called.
type CallRow struct {
	AttemptID, ContactID int64
	// Number is the attempt's number among its contact's attempts (1, 2, …); Line the contact's
	// line in the CSV.
	Number, Line            int
	Name, Phone, ExternalID string
	State                   AttemptState
	Outcome                 Outcome
	EndedReason             string
	SuccessEvaluation       string
	// DurationSeconds and Cost are nil until the call's result says.
	DurationSeconds *float64
	Cost            *float64
	// CallerNumberID is the Vapi phone number the call came from ("" for attempts journaled
	// before number pools); CallerNumber its E.164 number when known.
	CallerNumberID, CallerNumber string
	CreatedAt                    time.Time
	EndedAt                      *time.Time
}

// CallPage is one page of the calls table.
type CallPage struct {
	Calls []CallRow
	// Next is the cursor of the next page (CallQuery.Cursor); "" when this page is the last.
	Next string
	// Prev is the cursor of the page before; "" on the first page (and on an empty page past
	// the last).
	Prev string
}

// pageCursor is where a page ended (the sort key and id of its last row) or, Back, where the
// page after it began (of its first row), and a fingerprint of the query it belongs to.
type pageCursor struct {
	Key  string `json:"k"`
	ID   int64  `json:"i"`
	Back bool   `json:"b,omitempty"`
	Sum  string `json:"s"`
}

// fingerprint binds a cursor to its campaign, query and position, so an altered cursor, or one
// given to another query, is refused rather than read as a position it never was.
func (q CallQuery) fingerprint(campaignID int64, key string, id int64, back bool) string {
	h := sha256.New()
	var b [8]byte
	for _, n := range []int64{campaignID, id} {
		binary.BigEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	for _, s := range []string{key, strconv.FormatBool(back), string(q.Sort), strconv.FormatBool(q.Desc), strconv.FormatBool(q.Live),
		q.Search, string(q.Outcome), q.EndedReason, q.Success} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func (q CallQuery) encodeCursor(campaignID int64, key string, id int64, back bool) string {
	raw, _ := json.Marshal(pageCursor{Key: key, ID: id, Back: back, Sum: q.fingerprint(campaignID, key, id, back)})
	return base64.RawURLEncoding.EncodeToString(raw)
}

func (q CallQuery) decodeCursor(campaignID int64) (pageCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return pageCursor{}, fmt.Errorf("%w: not a cursor this program made", ErrBadCursor)
	}
	var c pageCursor
	if err := json.Unmarshal(raw, &c); err != nil || c.ID <= 0 {
		return pageCursor{}, fmt.Errorf("%w: not a cursor this program made", ErrBadCursor)
	}
	if c.Sum != q.fingerprint(campaignID, c.Key, c.ID, c.Back) {
		return pageCursor{}, fmt.Errorf("%w: altered, or made for another campaign, order or filter", ErrBadCursor)
	}
	return c, nil
}

// normalize checks q and fills its defaults.
func (q CallQuery) normalize() (CallQuery, error) {
	if q.Sort == "" {
		q.Sort = SortCreated
	}
	if _, ok := callSortKey[q.Sort]; !ok {
		return q, fmt.Errorf("%w: unknown order %q (created, cost or duration)", ErrBadCallQuery, q.Sort)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultCallPage
	case q.Limit < 0 || q.Limit > MaxCallPage:
		return q, fmt.Errorf("%w: a page has 1 to %d rows, not %d", ErrBadCallQuery, MaxCallPage, q.Limit)
	}
	q.Search = strings.TrimSpace(q.Search)
	if len(q.Search) > maxCallSearch {
		return q, fmt.Errorf("%w: the search is longer than %d bytes", ErrBadCallQuery, maxCallSearch)
	}
	return q, nil
}

// phonePrefix is the E.164 prefix a search stands for: the full number when it parses as one in
// region, else + and its digits when it is written like a number (digits, spaces, dots, dashes,
// brackets, a leading +, at least two digits); "" otherwise.
func phonePrefix(search, region string) string {
	if e164, _, _, err := ParsePhone(search, region); err == nil && e164 != "" {
		return e164
	}
	var digits strings.Builder
	for i, r := range search {
		switch {
		case unicode.IsDigit(r) && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return ""
		}
	}
	if digits.Len() < 2 {
		return ""
	}
	return "+" + digits.String()
}

// searchableSQL is the predicate of the search indexes (contact_search_*_idx) on contact ct:
// the contacts that have, or had, calls. Every contact with an attempt row is among them but a
// pending one whose only attempts Vapi refused for capacity (those do not count), which the
// hopper takes again soon.
const searchableSQL = `(ct.attempts > 0 OR ct.state <> ` + pendingSQL + `)`

// argNumber matches an argument's number in a statement.
var argNumber = regexp.MustCompile(`\$[0-9]+`)

// maxSearchList is the most contacts a search matches for ListCalls to read the page from their
// calls; past it, it walks the order's index, keeping the calls of matching contacts. That is
// fast when the matches are spread through the order (a common name: 30 ms at a million
// contacts), slower when they lie together far along it (a short phone prefix of a file sorted
// by number: its contacts were called one after the other).
const maxSearchList = 2000

// searchContactsSQL selects the ids of campaign campaignID's contacts that search matches (see
// CallQuery.Search), whose default phone region is region, with its arguments ($1…). Each arm is
// a range or an equality on one search index: Postgres ORs their bitmaps.
func searchContactsSQL(campaignID int64, search, region string) (string, []any) {
	args := []any{campaignID, search}
	arms := []string{`(lower(ct.name) COLLATE "C" >= lower($2::text) COLLATE "C"
			AND lower(ct.name) COLLATE "C" < (lower($2::text) || chr(1114111)) COLLATE "C")`,
		`(ct.external_id = $2::text AND ct.external_id <> '')`}
	if p := phonePrefix(search, region); p != "" {
		args = append(args, p, p+"\U0010FFFF")
		arms = append(arms, `(ct.phone COLLATE "C" >= $3::text AND ct.phone COLLATE "C" < $4::text)`)
	}
	return `SELECT ct.id FROM contact ct WHERE ct.campaign_id = $1 AND ` + searchableSQL + ` AND (` +
		strings.Join(arms, " OR ") + `)`, args
}

// callRowColumns are a CallRow's columns over attempt a, contact ct and caller_number n.
const callRowColumns = `a.id, a.contact_id, a.number, ct.line, ct.name, ct.phone, ct.external_id, a.state, a.outcome,
	a.ended_reason, a.success_evaluation, a.duration_seconds, a.cost::float8, a.phone_number_id, coalesce(n.number, ''),
	a.created_at, a.ended_at`

// ListCalls returns one page of a campaign's calls (attempts, including those that placed no
// call) as q selects and orders them. Pages are read by keyset (the sort key and id of the last
// row, or of the first going back), never by offset, so every page costs about the same however
// deep, and a call journaled while someone pages is seen once or not at all, never twice. ErrNotFound for an unknown
// campaign, ErrBadCallQuery or ErrBadCursor for a query that cannot be run.
func (s *Store) ListCalls(ctx context.Context, campaignID int64, q CallQuery) (CallPage, error) {
	q, err := q.normalize()
	if err != nil {
		return CallPage{}, err
	}
	var at *pageCursor
	if q.Cursor != "" {
		c, err := q.decodeCursor(campaignID)
		if err != nil {
			return CallPage{}, err
		}
		at = &c
	}
	var region string
	err = s.pool.QueryRow(ctx, `SELECT default_region FROM campaign WHERE id = $1`, campaignID).Scan(&region)
	if errors.Is(err, pgx.ErrNoRows) {
		return CallPage{}, fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
	}
	if err != nil {
		return CallPage{}, fmt.Errorf("list calls of campaign %d: %w", campaignID, err)
	}
	// A search reads the contacts it matches first, through the search indexes: when they are
	// few, the page is read from their calls; when many, from the order's index, keeping the
	// calls of matching contacts (the first matches come soon). Left to itself, the planner
	// cannot tell the two apart (it estimates a prefix's matches poorly) and may walk a million
	// calls for one number.
	var matched []int64
	if q.Search != "" {
		sql, args := searchContactsSQL(campaignID, q.Search, region)
		rows, err := s.pool.Query(ctx, sql+` LIMIT `+strconv.Itoa(maxSearchList+1), args...)
		if err != nil {
			return CallPage{}, fmt.Errorf("search the contacts of campaign %d: %w", campaignID, err)
		}
		matched, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return CallPage{}, fmt.Errorf("search the contacts of campaign %d: %w", campaignID, err)
		}
		if len(matched) > maxSearchList {
			matched = nil
		} else if matched == nil {
			matched = []int64{}
		}
	}
	sql, args := callsPageSQL(campaignID, q, region, matched, at)
	// Planned with its values at every call (the unnamed statement), never with a generic plan:
	// only the values say whether a search is narrow (read from the contacts it matches, through
	// the search indexes) or broad (walk the order's index and keep the matches).
	rows, err := s.pool.Query(ctx, sql, append([]any{pgx.QueryExecModeDescribeExec}, args...)...)
	if err != nil {
		return CallPage{}, fmt.Errorf("list calls of campaign %d: %w", campaignID, err)
	}
	var keys []string
	calls, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CallRow, error) {
		var (
			c   CallRow
			key string
		)
		err := row.Scan(&c.AttemptID, &c.ContactID, &c.Number, &c.Line, &c.Name, &c.Phone, &c.ExternalID, &c.State,
			&c.Outcome, &c.EndedReason, &c.SuccessEvaluation, &c.DurationSeconds, &c.Cost, &c.CallerNumberID,
			&c.CallerNumber, &c.CreatedAt, &c.EndedAt, &key)
		keys = append(keys, key)
		return c, err
	})
	if err != nil {
		return CallPage{}, fmt.Errorf("list calls of campaign %d: %w", campaignID, err)
	}
	back := at != nil && at.Back
	more := len(calls) > q.Limit // a page beyond this one, in the direction read
	if more {
		calls, keys = calls[:q.Limit], keys[:q.Limit]
	}
	if back { // read backwards: the page in the query's order
		slices.Reverse(calls)
		slices.Reverse(keys)
	}
	page := CallPage{Calls: calls}
	if len(calls) == 0 {
		return page, nil
	}
	// Going back, the rows after this page are those it came from; going forward from a
	// cursor, those before it are.
	if last := len(calls) - 1; back || more {
		page.Next = q.encodeCursor(campaignID, keys[last], calls[last].AttemptID, false)
	}
	if back && more || !back && at != nil {
		page.Prev = q.encodeCursor(campaignID, keys[0], calls[0].AttemptID, true)
	}
	return page, nil
}

// callsPageSQL is ListCalls's statement for query q (normalized) of campaign campaignID, whose
// default phone region is region, from cursor at (nil: the first page), and its arguments: with
// contactIDs not nil, a search reads the calls of those contacts alone (those it matched), else
// those of the contacts it matches. It reads one more row than a page, to know whether another
// page follows; the last column is the row's sort key as text, for the cursor. Going back (a
// Back cursor) it reads in the reverse order, nearest the cursor first.
func callsPageSQL(campaignID int64, q CallQuery, region string, contactIDs []int64, at *pageCursor) (string, []any) {
	sortKey := callSortKey[q.Sort]
	args := []any{campaignID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where strings.Builder
	where.WriteString(`a.campaign_id = $1`)
	if q.Outcome != "" {
		where.WriteString(` AND a.outcome = ` + arg(q.Outcome))
	}
	if q.EndedReason != "" {
		where.WriteString(` AND a.ended_reason = ` + arg(q.EndedReason))
	}
	if q.Success != "" {
		where.WriteString(` AND a.success_evaluation = ` + arg(q.Success))
	}
	if q.Live {
		where.WriteString(` AND a.state = ANY(` + arg(liveAttemptStates()) + `)`)
	}
	from := `attempt a`
	switch {
	case contactIDs != nil:
		// Their calls first, through the attempt's contact index, then sorted: never a walk of
		// the order's index looking for them (their calls may all lie at its far end, as
		// contacts imported together are called together).
		from = `(SELECT * FROM attempt WHERE contact_id = ANY(` + arg(contactIDs) + `) OFFSET 0) a`
	case q.Search != "":
		sub, subArgs := searchContactsSQL(campaignID, q.Search, region)
		offset := len(args) // its arguments go after ours
		sub = argNumber.ReplaceAllStringFunc(sub, func(n string) string {
			i, _ := strconv.Atoi(n[1:])
			return "$" + strconv.Itoa(offset+i)
		})
		args = append(args, subArgs...)
		where.WriteString(` AND a.contact_id IN (` + sub + `)`)
	}
	order, cmp := "ASC", ">"
	if q.Desc != (at != nil && at.Back) {
		order, cmp = "DESC", "<"
	}
	if at != nil {
		where.WriteString(fmt.Sprintf(` AND (%s, a.id) %s (%s::%s, %s)`, sortKey.expr, cmp, arg(at.Key), sortKey.typ, arg(at.ID)))
	}
	// The page's calls first, then their contacts and numbers: a page's worth of lookups.
	orderBy := `ORDER BY ` + sortKey.expr + ` ` + order + `, a.id ` + order
	sql := `SELECT ` + callRowColumns + `, (` + sortKey.expr + `)::text
		FROM (SELECT a.* FROM ` + from + ` WHERE ` + where.String() + ` ` + orderBy + ` LIMIT ` + arg(q.Limit+1) + `) a
		JOIN contact ct ON ct.id = a.contact_id
		LEFT JOIN caller_number n ON n.id = a.phone_number_id AND a.phone_number_id <> ''
		` + orderBy
	return sql, args
}

// Turn is one turn of a call's conversation.
type Turn struct {
	// Speaker is who spoke as the transcript names them ("AI", "User", …).
	Speaker string
	Text    string
}

// ParseTranscript splits a transcript in Vapi's plain-text form ("AI: …" and "User: …" lines)
// into turns. A line without a "Speaker: " prefix continues the turn before it (or is a turn
// of its own, with no speaker, at the start).
func ParseTranscript(text string) []Turn {
	var turns []Turn
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if speaker, said, ok := strings.Cut(line, ": "); ok && speaker != "" && len(speaker) <= 20 &&
			!strings.ContainsAny(speaker, ".,!?") {
			turns = append(turns, Turn{Speaker: speaker, Text: strings.TrimSpace(said)})
			continue
		}
		if len(turns) == 0 {
			turns = append(turns, Turn{Text: line})
			continue
		}
		turns[len(turns)-1].Text += "\n" + line
	}
	return turns
}

// CallEvent is a webhook event stored for a call, raw.
type CallEvent struct {
	ID         int64
	ReceivedAt time.Time
	Type       string
	Status     string
	// Auth is how the request was authenticated.
	Auth string
	// AppliedAt is when it was applied (nil: not, or not yet); ApplyError and Rejected say why
	// not.
	AppliedAt            *time.Time
	ApplyError, Rejected string
	// Payload is the request body as received, with the values of every "headers" object and
	// every "secret" field redacted: the call it carries echoes the server settings the call was
	// placed with, the webhook secret among them.
	Payload json.RawMessage
}

// MaxCallEvents is the most webhook events CallDetail returns (the first ones received).
const MaxCallEvents = 50

// CallDetail is everything a call's page shows.
type CallDetail struct {
	Attempt Attempt
	Contact Contact
	// Columns is the campaign's CSV header, for Contact.Fields.
	Columns []string
	// StartedAt is when the call was answered (nil: not known).
	StartedAt       *time.Time
	DurationSeconds *float64
	Cost            *float64
	// CostBreakdown, Costs and StructuredData are as Vapi sent them (nil: none).
	CostBreakdown, Costs, StructuredData json.RawMessage
	Summary, SuccessEvaluation           string
	// Transcript is the plain-text transcript; Conversation the same split into turns.
	Transcript   string
	Conversation []Turn
	// RecordingURL and StereoRecordingURL are Vapi's recording URLs ("" when none).
	RecordingURL, StereoRecordingURL string
	// CallerNumber is the E.164 number of Attempt.PhoneNumberID, when known.
	CallerNumber string
	// Events are the webhook events naming the call (by call id or attempt key), in the order
	// received, at most MaxCallEvents; EventCount counts them all.
	Events     []CallEvent
	EventCount int
}

// CallDetail returns one call (attempt) with its contact, its result and its raw webhook
// events. ErrAttemptNotFound when there is no such attempt.
func (s *Store) CallDetail(ctx context.Context, attemptID int64) (*CallDetail, error) {
	var d CallDetail
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			a, err := scanAttempt(tx.QueryRow(ctx, `SELECT `+attemptColumns+attemptFrom+`WHERE a.id = $1`, attemptID))
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("attempt %d: %w", attemptID, ErrAttemptNotFound)
			}
			if err != nil {
				return err
			}
			d.Attempt = *a
			var costBreakdown, costs, structured []byte
			err = tx.QueryRow(ctx, `
				SELECT a.started_at, a.duration_seconds, a.cost::float8, a.cost_breakdown, a.costs, a.structured_data,
				       a.summary, a.success_evaluation, a.transcript, a.recording_url, a.stereo_recording_url,
				       coalesce(n.number, ''), c.columns
				FROM attempt a JOIN campaign c ON c.id = a.campaign_id
				LEFT JOIN caller_number n ON n.id = a.phone_number_id AND a.phone_number_id <> ''
				WHERE a.id = $1`, attemptID).Scan(&d.StartedAt, &d.DurationSeconds, &d.Cost, &costBreakdown, &costs,
				&structured, &d.Summary, &d.SuccessEvaluation, &d.Transcript, &d.RecordingURL, &d.StereoRecordingURL,
				&d.CallerNumber, &d.Columns)
			if err != nil {
				return err
			}
			d.CostBreakdown, d.Costs, d.StructuredData = rawJSON(costBreakdown), rawJSON(costs), rawJSON(structured)
			d.Conversation = ParseTranscript(d.Transcript)
			ct, err := scanContact(tx.QueryRow(ctx, `SELECT `+contactColumns+` FROM contact WHERE id = $1`, a.ContactID))
			if err != nil {
				return err
			}
			d.Contact = ct
			// Through webhook_event_call_idx and webhook_event_attempt_key_idx.
			const named = `FROM webhook_event e
				WHERE (e.vapi_call_id = $1 AND $1 <> '') OR (e.attempt_key = $2 AND e.attempt_key <> '')`
			if err := tx.QueryRow(ctx, `SELECT count(*) `+named, a.VapiCallID, a.Key).Scan(&d.EventCount); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `
				SELECT e.id, e.received_at, e.type, e.status, e.auth, e.applied_at, e.apply_error, e.rejected, e.payload `+named+`
				ORDER BY e.received_at, e.id LIMIT $3`, a.VapiCallID, a.Key, MaxCallEvents)
			if err != nil {
				return err
			}
			d.Events, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (CallEvent, error) {
				var (
					e       CallEvent
					payload []byte
				)
				err := row.Scan(&e.ID, &e.ReceivedAt, &e.Type, &e.Status, &e.Auth, &e.AppliedAt, &e.ApplyError, &e.Rejected, &payload)
				if err != nil {
					return e, err
				}
				e.Payload, err = redactPayload(payload)
				return e, err
			})
			return err
		})
	if err != nil {
		if errors.Is(err, ErrAttemptNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("call detail of attempt %d: %w", attemptID, err)
	}
	return &d, nil
}

// rawJSON is a stored JSON document, nil when there is none.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}

// redacted replaces a secret in a payload shown.
const redacted = "[redacted]"

// redactPayload is a JSON document with the values of every "headers" object and every
// "secret" field replaced by redacted.
func redactPayload(raw []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read webhook payload: %w", err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch h, isObject := x.(map[string]any); {
				case k == "secret" && x != nil:
					v[k] = redacted
				case k == "headers" && isObject:
					for hk := range h {
						h[hk] = redacted
					}
				default:
					walk(x)
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("write webhook payload: %w", err)
	}
	return out, nil
}
