package campaign

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Suppression is one number never to be called, whatever the campaign.
type Suppression struct {
	Phone  string // E.164
	Reason string // why, e.g. "manual", "asked", "complaint"
	// Source is where it came from: "cli" (suppress add), "import:" and a file's name, or
	// SourceCall.
	Source     string
	VapiCallID string // the call in which the person asked not to be called, if any
	// CampaignID is the campaign of that call (0 if none); CampaignName is its name, read back
	// by ListSuppressions ("" once the campaign is gone).
	CampaignID   int64
	CampaignName string
	CreatedAt    time.Time
}

// SourceCall is the source of a number whose owner asked, in a call of a campaign, not to be
// called again. Simulated campaigns never add one: their calls reached nobody.
const SourceCall = "call"

// Origin describes where the entry came from, for people: "manual", "import dnc.csv", "call
// in campaign nov-reminders", or the raw source.
func (s Suppression) Origin() string {
	switch {
	case s.Source == "cli":
		return "manual"
	case strings.HasPrefix(s.Source, "import:"):
		return "import " + strings.TrimPrefix(s.Source, "import:")
	case s.Source == SourceCall && s.CampaignName != "":
		return "call in campaign " + s.CampaignName
	case s.Source == SourceCall && s.CampaignID != 0:
		return fmt.Sprintf("call in campaign %d (deleted)", s.CampaignID)
	}
	return s.Source
}

// isE164 reports whether s has the shape of an E.164 number: "+" and 2 to 15 digits, the
// first not 0. Callers normalise with ParsePhone; this only keeps other text out of the table.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AddSuppressions adds numbers to the suppression list and returns how many were new. A number
// already on the list keeps its first reason, source and time (ON CONFLICT DO NOTHING); of a
// number given twice, the first entry counts. A zero CreatedAt means now. Phones must be in
// E.164 (normalise them with ParsePhone): if one is not, nothing is written.
//
// In the same transaction, contacts with these numbers that are still waiting (pending or
// queued) in a draft, running or paused campaign become do_not_call, so progress counts them
// final and no dial job picks them up; contacts in a call or already final are left alone
// (BeginAttempt refuses a suppressed number in any case). A running campaign whose last
// contacts these were is completed.
func (s *Store) AddSuppressions(ctx context.Context, numbers []Suppression, now time.Time) (added int, err error) {
	var (
		phones, reasons, sources, callIDs []string
		campaignIDs                       []int64
		created                           []pgtype.Timestamptz
		seen                              = make(map[string]bool, len(numbers))
	)
	for i, n := range numbers {
		if !isE164(n.Phone) {
			return 0, fmt.Errorf("add suppressions: entry %d: phone number is not in E.164 form", i+1)
		}
		if seen[n.Phone] {
			continue
		}
		seen[n.Phone] = true
		phones = append(phones, n.Phone)
		reasons = append(reasons, n.Reason)
		sources = append(sources, n.Source)
		callIDs = append(callIDs, n.VapiCallID)
		campaignIDs = append(campaignIDs, n.CampaignID)
		created = append(created, pgtype.Timestamptz{Time: n.CreatedAt, Valid: !n.CreatedAt.IsZero()})
	}
	if len(phones) == 0 {
		return 0, nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var touched map[int64]int
		added, touched, err = addSuppressionsTx(ctx, tx, phones, reasons, sources, callIDs, campaignIDs, created, now)
		if err != nil {
			return err
		}
		return settleCampaigns(ctx, tx, touched, now)
	})
	if err != nil {
		return 0, fmt.Errorf("add suppressions: %w", err)
	}
	return added, nil
}

// addSuppressionsTx is AddSuppressions in tx, on distinct E.164 numbers and their parallel
// details (campaign id 0: none), up to the campaign rows: it adds the entries, then marks the
// waiting contacts do_not_call, locked in id order, and returns the campaigns they belong to
// with how many of them were queued, for settleCampaigns. The caller locks those campaigns
// after every contact it changes (the lock order of dispatch.go).
func addSuppressionsTx(ctx context.Context, tx pgx.Tx, phones, reasons, sources, callIDs []string, campaignIDs []int64,
	created []pgtype.Timestamptz, now time.Time) (added int, touched map[int64]int, err error) {
	tag, err := tx.Exec(ctx, `
		INSERT INTO suppression (phone, reason, source, vapi_call_id, campaign_id, created_at)
		SELECT p, r, s, v, nullif(cid, 0), coalesce(c, now())
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[])
		     WITH ORDINALITY AS x(p, r, s, v, cid, c, n)
		ORDER BY n
		ON CONFLICT (phone) DO NOTHING`, phones, reasons, sources, callIDs, campaignIDs, created)
	if err != nil {
		return 0, nil, err
	}
	added = int(tag.RowsAffected())

	sorted := slices.Clone(phones)
	slices.Sort(sorted)
	// The contacts waiting to be called, of the campaigns that may still call them.
	waiting := []ContactState{ContactPending, ContactQueued}
	if err := checkContactMove(ContactDoNotCall, waiting...); err != nil {
		return 0, nil, err
	}
	rows, err := tx.Query(ctx, `
		WITH target AS (
			SELECT ct.id, ct.state
			FROM campaign cp
			CROSS JOIN unnest($1::text[]) AS p(phone)
			JOIN contact ct ON ct.campaign_id = cp.id AND ct.phone = p.phone
			WHERE cp.status = ANY($3) AND ct.state = ANY($4)
			ORDER BY ct.id
			FOR NO KEY UPDATE OF ct
		), marked AS (
			UPDATE contact ct SET state = $5, outcome = '', updated_at = $2
			FROM target WHERE ct.id = target.id
			RETURNING ct.campaign_id, target.state AS was
		)
		SELECT campaign_id, count(*) FILTER (WHERE was = $6) FROM marked GROUP BY campaign_id`,
		sorted, now, []Status{StatusDraft, StatusScheduled, StatusRunning, StatusPaused}, waiting, ContactDoNotCall, ContactQueued)
	if err != nil {
		return 0, nil, err
	}
	touched = map[int64]int{}
	var id int64
	var queued int
	if _, err := pgx.ForEachRow(rows, []any{&id, &queued}, func() error {
		touched[id] = queued
		return nil
	}); err != nil {
		return 0, nil, err
	}
	return added, touched, nil
}

// settleCampaigns brings campaign rows up to date after tx changed their contacts, in id order
// (the lock order of dispatch.go): touched maps a campaign to how many of its queued contacts
// left the queue, and each is completed if nothing is left to call.
func settleCampaigns(ctx context.Context, tx pgx.Tx, touched map[int64]int, now time.Time) error {
	ids := slices.Sorted(maps.Keys(touched))
	for _, id := range ids {
		if n := touched[id]; n > 0 {
			if _, err := tx.Exec(ctx, `
				UPDATE campaign SET queued_contacts = greatest(queued_contacts - $2, 0) WHERE id = $1`, id, n); err != nil {
				return fmt.Errorf("count queued contacts of campaign %d: %w", id, err)
			}
		}
		if _, err := completeIfDone(ctx, tx, id, now); err != nil {
			return err
		}
	}
	return nil
}

// RemoveSuppressions takes numbers (E.164) off the suppression list and returns how many were
// on it. Contacts already marked do_not_call stay so: only later imports and dials see the
// change.
func (s *Store) RemoveSuppressions(ctx context.Context, phones []string) (removed int, err error) {
	if len(phones) == 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM suppression WHERE phone = ANY($1::text[])`, phones)
	if err != nil {
		return 0, fmt.Errorf("remove suppressions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ListSuppressions calls fn for every suppressed number, in phone order, streaming from the
// database (the list may be long). An error from fn stops the listing and is returned as is.
func (s *Store) ListSuppressions(ctx context.Context, fn func(Suppression) error) error {
	rows, err := s.pool.Query(ctx, `
		SELECT s.phone, s.reason, s.source, s.vapi_call_id, coalesce(s.campaign_id, 0), coalesce(c.name, ''), s.created_at
		FROM suppression s LEFT JOIN campaign c ON c.id = s.campaign_id
		ORDER BY s.phone`)
	if err != nil {
		return fmt.Errorf("list suppressions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var x Suppression
		if err := rows.Scan(&x.Phone, &x.Reason, &x.Source, &x.VapiCallID, &x.CampaignID, &x.CampaignName, &x.CreatedAt); err != nil {
			return fmt.Errorf("list suppressions: %w", err)
		}
		if err := fn(x); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list suppressions: %w", err)
	}
	return nil
}
