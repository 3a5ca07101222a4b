package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/campaign-run/campaign/campaign"
)

// finalStates are the contact states that end a contact (campaign.ContactState.Final), bound
// as the argument of `state = ANY($n)` or `state <> ALL($n)`.
func finalStates() []campaign.ContactState {
	var final []campaign.ContactState
	for _, s := range campaign.ContactStates() {
		if s.Final() {
			final = append(final, s)
		}
	}
	return final
}

// queryTimeout bounds the driver's progress queries, which must not hang while Postgres is down.
const queryTimeout = 5 * time.Second

// notFinal counts the campaign's contacts that are not final yet.
func (d *driver) notFinal(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var n int
	err := d.pool.QueryRow(ctx, `SELECT count(*) FROM contact ct JOIN campaign c ON c.id = ct.campaign_id
		WHERE c.name = $1 AND ct.state <> ALL($2)`, campaignName, finalStates()).Scan(&n)
	return n, err
}

// snapshot describes where the campaign stands: contacts by state, attempts by state, and the
// simulator's live calls and calls.
func (d *driver) snapshot(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	count := func(q string) string {
		rows, err := d.pool.Query(ctx, q)
		if err != nil {
			return "unreadable: " + err.Error()
		}
		defer rows.Close()
		var parts []string
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				return "unreadable: " + err.Error()
			}
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
		if err := rows.Err(); err != nil {
			return "unreadable: " + err.Error()
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprintf("contacts [%s], attempts [%s], simulator live %d, calls %d",
		count(`SELECT state, count(*)::int FROM contact GROUP BY state ORDER BY state`),
		count(`SELECT state, count(*)::int FROM attempt GROUP BY state ORDER BY state`),
		d.sim.Live(), len(d.sim.Calls()))
}

// stuck describes the contacts that are not final: their state, their attempts and their dial
// jobs.
func (d *driver) stuck(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rows, err := d.pool.Query(ctx, `SELECT ct.id, ct.phone, ct.state, ct.attempts, ct.outcome,
			coalesce(to_char(ct.next_attempt_at, 'YYYY-MM-DD HH24:MI:SS.MS'), '-'),
			coalesce((SELECT string_agg(a.key || ' ' || a.state || ' call=' || coalesce(a.vapi_call_id, '-') ||
				' report=' || coalesce(to_char(a.report_at, 'HH24:MI:SS.MS'), '-') || ' lookups=' || a.lookups ||
				' error=' || a.error, '; ' ORDER BY a.id) FROM attempt a WHERE a.contact_id = ct.id), ''),
			coalesce((SELECT string_agg(j.id || ' ' || j.state || ' attempt=' || j.attempt ||
				' scheduled=' || to_char(j.scheduled_at, 'HH24:MI:SS.MS'), '; ' ORDER BY j.id)
				FROM river_job j WHERE j.kind = 'campaign_dial' AND (j.args->>'contact_id')::bigint = ct.id), '')
		FROM contact ct WHERE ct.state <> ALL($1) ORDER BY ct.id`, finalStates())
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer rows.Close()
	var sb strings.Builder
	sb.WriteString("contacts not final (id phone state attempts outcome next_attempt_at | attempts | dial jobs):\n")
	for rows.Next() {
		var id int64
		var attempts int
		var phone, state, outcome, next, atts, jobs string
		if err := rows.Scan(&id, &phone, &state, &attempts, &outcome, &next, &atts, &jobs); err != nil {
			return sb.String() + "unreadable: " + err.Error()
		}
		fmt.Fprintf(&sb, "%d %s %s %d %q next=%s | %s | %s\n", id, phone, state, attempts, outcome, next, atts, jobs)
	}
	if err := rows.Err(); err != nil {
		sb.WriteString("unreadable: " + err.Error())
	}
	return sb.String()
}
