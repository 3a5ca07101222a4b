package campaign

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nyaruka/phonenumbers"
)

// NumberStrategy is how the number a call comes from is chosen among a campaign's pool.
type NumberStrategy string

// Number strategies.
const (
	// StrategyRoundRobin takes the pool's numbers in turn, across every process dialing the
	// campaign (a counter on the campaign row).
	StrategyRoundRobin NumberStrategy = "round-robin"
	// StrategyLocalPresence prefers a number with the contact's area code, then one in the
	// contact's country, then any; numbers equally near are taken in turn.
	StrategyLocalPresence NumberStrategy = "local-presence"
)

// ParseNumberStrategy parses a --number-strategy value ("" is round robin).
func ParseNumberStrategy(s string) (NumberStrategy, error) {
	switch NumberStrategy(s) {
	case "", StrategyRoundRobin:
		return StrategyRoundRobin, nil
	case StrategyLocalPresence:
		return StrategyLocalPresence, nil
	}
	return "", fmt.Errorf("unknown number strategy %q: want %s or %s", s, StrategyRoundRobin, StrategyLocalPresence)
}

// CallerNumbers returns the pool of phone number ids the campaign's calls come from, in the
// order given: PhoneNumberIDs, or PhoneNumberID alone when no pool is set.
func (s *Settings) CallerNumbers() []string {
	if len(s.PhoneNumberIDs) > 0 {
		return s.PhoneNumberIDs
	}
	if s.PhoneNumberID != "" {
		return []string{s.PhoneNumberID}
	}
	return nil
}

// Presence tiers: how near a caller number is to a contact's number (lower is nearer).
const (
	presenceArea    = iota // same country and area code
	presenceCountry        // same country
	presenceAny            // another country, or a number not known
)

// callerNumbers caches the parse of caller numbers, which recur on every dial (contacts'
// numbers are parsed each time: there are too many to keep).
var callerNumbers sync.Map // E.164 → *phonenumbers.PhoneNumber (nil: not a phone number)

// parseE164 parses an E.164 number, nil when it is none.
func parseE164(e164 string) *phonenumbers.PhoneNumber {
	if !strings.HasPrefix(e164, "+") {
		return nil
	}
	p, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return nil
	}
	return p
}

// parseCaller is parseE164 of a caller number, cached.
func parseCaller(e164 string) *phonenumbers.PhoneNumber {
	if p, ok := callerNumbers.Load(e164); ok {
		return p.(*phonenumbers.PhoneNumber)
	}
	p := parseE164(e164)
	callerNumbers.Store(e164, p)
	return p
}

// areaCode is the geographic area code of a number: the NPA of a NANP number (+1), else the
// prefix of the national number the phone metadata calls geographic ("" when it has none, e.g.
// a mobile number in most countries).
func areaCode(p *phonenumbers.PhoneNumber) string {
	nsn := phonenumbers.GetNationalSignificantNumber(p)
	if p.GetCountryCode() == 1 {
		if len(nsn) >= 3 {
			return nsn[:3]
		}
		return ""
	}
	if n := phonenumbers.GetLengthOfGeographicalAreaCode(p); n > 0 && n <= len(nsn) {
		return nsn[:n]
	}
	return ""
}

// presence is the tier of a caller number (E.164, "" when unknown) for a contact's number.
// The country is the region the number belongs to (US and CA share +1 but are two).
func presence(caller, contact string) int {
	c, ct := parseCaller(caller), parseE164(contact)
	if c == nil || ct == nil || c.GetCountryCode() != ct.GetCountryCode() {
		return presenceAny
	}
	if phonenumbers.GetRegionCodeForNumber(c) != phonenumbers.GetRegionCodeForNumber(ct) {
		return presenceAny
	}
	if a := areaCode(c); a != "" && a == areaCode(ct) {
		return presenceArea
	}
	return presenceCountry
}

// NumberOrder is the order in which BeginAttempt tries the numbers of a pool (positions into
// numbers, the pool's E.164 numbers, "" where unknown) for a call to contact: round robin from
// position next (modulo the pool's size); local presence the same turn, stably sorted nearest
// first (same area code, same country, the rest). An empty pool has no order.
func NumberOrder(strategy NumberStrategy, numbers []string, contact string, next int64) []int {
	n := len(numbers)
	if n == 0 {
		return nil
	}
	start := int(((next % int64(n)) + int64(n)) % int64(n))
	order := make([]int, n)
	for i := range order {
		order[i] = (start + i) % n
	}
	if strategy == StrategyLocalPresence {
		tier := make([]int, n)
		for i, e164 := range numbers {
			tier[i] = presence(e164, contact)
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(tier[a], tier[b]) })
	}
	return order
}

// NumberLimits are a campaign's per-number limits (0: none).
type NumberLimits struct {
	// MaxConcurrent caps the live attempts placed from one number, across every campaign.
	MaxConcurrent int
	// DailyCap caps the attempts placed from one number per UTC day, across every campaign.
	DailyCap int
}

// NumberDay is the start of the UTC day of t: the day per-number daily caps count in.
func NumberDay(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour)
}

// numberChoice is chooseNumber's answer: the number's id, or why there is none.
type numberChoice struct {
	// ID is the number chosen ("" with a refusal, or with an empty pool).
	ID string
	// Position is ID's position in the pool (-1 when not from the pool's turn).
	Position int
	// Refused: every candidate number is at a limit; Wait is then how long until the next UTC
	// day when daily caps alone refused, else 0.
	Refused bool
	Wait    time.Duration
}

// chooseNumber picks, in BeginAttempt's transaction after the campaign row is locked, the number
// a contact's next call comes from: its previous attempt's (previous, "" if none) when the
// campaign keeps a contact's number and the pool still holds it, else the first of NumberOrder
// within the limits. It creates the caller_number rows of the candidates that are missing, then
// locks them all in id order (the lock order's step between the campaign and the Vapi account),
// then counts each one's live attempts and today's attempts over every campaign: those that
// placed a call or may have, less those Vapi refused for lack of a concurrency slot (outcome
// capacity: nobody was dialed, as for the campaign's own count of attempts).
func chooseNumber(ctx context.Context, tx pgx.Tx, pool []string, strategy NumberStrategy, limits NumberLimits,
	sameOnRetry bool, previous, contact string, next int64, now time.Time) (numberChoice, error) {
	if len(pool) == 0 {
		return numberChoice{Position: -1}, nil
	}
	kept := sameOnRetry && previous != "" && slices.Contains(pool, previous)
	if kept {
		pool = []string{previous}
	}
	ids := slices.Clone(pool)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	// The missing rows first, in id order, then every row locked in id order: inserting one
	// after locking another would break the lock order (step 6, at the top of dispatch.go).
	if _, err := tx.Exec(ctx, `
		INSERT INTO caller_number (id) SELECT id FROM unnest($1::text[]) AS n(id) ORDER BY id
		ON CONFLICT DO NOTHING`, ids); err != nil {
		return numberChoice{}, fmt.Errorf("note caller numbers: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT id, number FROM caller_number WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
	if err != nil {
		return numberChoice{}, fmt.Errorf("lock caller numbers: %w", err)
	}
	e164 := make(map[string]string, len(ids))
	var id, number string
	if _, err := pgx.ForEachRow(rows, []any{&id, &number}, func() error {
		e164[id] = number
		return nil
	}); err != nil {
		return numberChoice{}, fmt.Errorf("lock caller numbers: %w", err)
	}
	live := map[string]int{}
	today := map[string]int{}
	if limits.MaxConcurrent > 0 || limits.DailyCap > 0 {
		rows, err := tx.Query(ctx, `
			SELECT phone_number_id, count(*) FILTER (WHERE state = ANY($2)),
			       count(*) FILTER (WHERE created_at >= $4 AND outcome <> $5)
			FROM attempt WHERE phone_number_id = ANY($1) AND state = ANY($3)
			  AND (state = ANY($2) OR created_at >= $4)
			GROUP BY phone_number_id`,
			ids, liveAttemptStates(), placedAttemptStates(), NumberDay(now), OutcomeCapacity)
		if err != nil {
			return numberChoice{}, fmt.Errorf("count calls of caller numbers: %w", err)
		}
		var (
			id      string
			l, t    int
			scanned = []any{&id, &l, &t}
		)
		if _, err := pgx.ForEachRow(rows, scanned, func() error {
			live[id], today[id] = l, t
			return nil
		}); err != nil {
			return numberChoice{}, fmt.Errorf("count calls of caller numbers: %w", err)
		}
	}
	numbers := make([]string, len(pool))
	for i, id := range pool {
		numbers[i] = e164[id]
	}
	busy := false
	for _, i := range NumberOrder(strategy, numbers, contact, next) {
		id := pool[i]
		switch {
		case limits.MaxConcurrent > 0 && live[id] >= limits.MaxConcurrent:
			busy = true
		case limits.DailyCap > 0 && today[id] >= limits.DailyCap:
		default:
			if kept {
				return numberChoice{ID: id, Position: -1}, nil
			}
			return numberChoice{ID: id, Position: i}, nil
		}
	}
	c := numberChoice{Refused: true}
	if !busy {
		c.Wait = NumberDay(now).Add(24 * time.Hour).Sub(now)
	}
	return c, nil
}

// placedAttemptStates are the states of attempts that placed a call or may have: every state
// but not_created.
func placedAttemptStates() []AttemptState {
	return []AttemptState{AttemptCreating, AttemptCreated, AttemptEnded}
}

// NoteCallerNumbers records the E.164 numbers of Vapi phone numbers (id → number, as GET
// /phone-number/{id} answered; "" for one without, e.g. SIP), for local presence and exports.
func (s *Store) NoteCallerNumbers(ctx context.Context, numbers map[string]string, now time.Time) error {
	ids := make([]string, 0, len(numbers))
	for id := range numbers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	e164 := make([]string, len(ids))
	for i, id := range ids {
		e164[i] = numbers[id]
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO caller_number AS c (id, number, updated_at)
		SELECT id, number, $3 FROM unnest($1::text[], $2::text[]) AS n(id, number) ORDER BY id
		ON CONFLICT (id) DO UPDATE SET number = excluded.number, updated_at = excluded.updated_at
		WHERE c.number IS DISTINCT FROM excluded.number`, ids, e164, now)
	if err != nil {
		return fmt.Errorf("note caller numbers: %w", err)
	}
	return nil
}

// CallerNumberE164 returns the E.164 numbers known of the given phone number ids (ids unknown
// or without one are absent).
func (s *Store) CallerNumberE164(ctx context.Context, ids []string) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, number FROM caller_number WHERE id = ANY($1) AND number <> ''`, ids)
	if err != nil {
		return nil, fmt.Errorf("read caller numbers: %w", err)
	}
	out := map[string]string{}
	var id, number string
	if _, err := pgx.ForEachRow(rows, []any{&id, &number}, func() error {
		out[id] = number
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read caller numbers: %w", err)
	}
	return out, nil
}
