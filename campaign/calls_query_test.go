package campaign_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/testdb"
)

// callsBundle is a campaign of 60 contacts made in SQL: contact i (1…60) is "+1202555" and i in
// seven digits' last four, named from a list, external id "X-i" when i is even; contacts 1…50 have
// i%3+1 attempts with varied outcomes, costs (NULL for some), durations and success.
type callsBundle struct {
	ctx        context.Context
	pool       *pgxpool.Pool
	store      *campaign.Store
	campaignID int64
	// calls are every attempt as a table row should show it, by attempt id.
	calls map[int64]campaign.CallRow
}

var callNames = []string{"Ann Lee", "ann marie", "Bob Smith", "Chloé Dupont", "Zoë Åberg"}

func setupCalls(t *testing.T) *callsBundle {
	t.Helper()
	b := &callsBundle{ctx: context.Background(), pool: testdb.Pool(t)}
	b.store = campaign.NewStore(b.pool)
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		INSERT INTO campaign (name, columns, phone_column, window_spec, status)
		VALUES ('calls', '{phone,name}', 0, 'always', $1) RETURNING id`, campaign.StatusRunning).Scan(&b.campaignID))
	_, err := b.pool.Exec(b.ctx, `
		INSERT INTO contact (campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields, state, attempts)
		SELECT $1, i + 1, '+1202555' || lpad(i::text, 4, '0'), ($2::text[])[1 + i % 5],
		       CASE WHEN i % 2 = 0 THEN 'X-' || i ELSE '' END, '{UTC}', 'default', '{x,y}',
		       CASE WHEN i <= 50 THEN $3 ELSE $4 END, CASE WHEN i <= 50 THEN i % 3 + 1 ELSE 0 END
		FROM generate_series(1, 60) i`, b.campaignID, callNames, campaign.ContactCompleted, campaign.ContactPending)
	require.NoError(t, err)
	// Attempt n of contact i: outcomes cycle; cost NULL when (i+n)%4 = 0, else repeated values
	// (ties, broken by id); the last attempt of contacts 1…3 is still live.
	_, err = b.pool.Exec(b.ctx, `
		INSERT INTO attempt (campaign_id, contact_id, number, key, state, created_at, updated_at, ended_at, outcome,
		                     ended_reason, success_evaluation, duration_seconds, cost, phone_number_id)
		SELECT $1, c.id, n, 'k-' || c.id || '-' || n, CASE WHEN c.line - 1 <= 3 AND n = c.attempts THEN $2 ELSE $3 END,
		       t, t, CASE WHEN c.line - 1 > 3 OR n < c.attempts THEN t + interval '1 minute' END,
		       (ARRAY[$4, $5, $6])[1 + (c.line + n) % 3], (ARRAY['customer-ended-call', 'customer-did-not-answer'])[1 + (c.line + n) % 2],
		       (ARRAY['true', 'false', ''])[1 + (c.line * n) % 3],
		       CASE WHEN (c.line + n) % 5 = 0 THEN NULL ELSE ((c.line * 7 + n) % 13)::float8 END,
		       CASE WHEN (c.line + n) % 4 = 0 THEN NULL ELSE ((c.line + n) % 6) * 0.05 END,
		       CASE WHEN n = 2 THEN 'pn-2' ELSE '' END
		FROM contact c CROSS JOIN generate_series(1, c.attempts) n
		CROSS JOIN LATERAL (SELECT timestamptz '2026-12-01 09:00:00Z' + ((c.line * 13 + n * 7) % 40) * interval '1 minute' AS t) x
		WHERE c.campaign_id = $1`, b.campaignID, campaign.AttemptCreated, campaign.AttemptEnded,
		campaign.OutcomeCompleted, campaign.OutcomeNoAnswer, campaign.OutcomeVoicemail)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `INSERT INTO caller_number (id, number) VALUES ('pn-2', '+14155550002')`)
	require.NoError(t, err)

	b.calls = map[int64]campaign.CallRow{}
	rows, err := b.pool.Query(b.ctx, `
		SELECT a.id, a.contact_id, a.number, ct.line, ct.name, ct.phone, ct.external_id, a.state, a.outcome, a.ended_reason,
		       a.success_evaluation, a.duration_seconds, a.cost::float8, a.phone_number_id,
		       CASE WHEN a.phone_number_id = 'pn-2' THEN '+14155550002' ELSE '' END, a.created_at, a.ended_at
		FROM attempt a JOIN contact ct ON ct.id = a.contact_id WHERE a.campaign_id = $1`, b.campaignID)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var c campaign.CallRow
		require.NoError(t, rows.Scan(&c.AttemptID, &c.ContactID, &c.Number, &c.Line, &c.Name, &c.Phone, &c.ExternalID, &c.State,
			&c.Outcome, &c.EndedReason, &c.SuccessEvaluation, &c.DurationSeconds, &c.Cost, &c.CallerNumberID, &c.CallerNumber,
			&c.CreatedAt, &c.EndedAt))
		b.calls[c.AttemptID] = c
	}
	require.NoError(t, rows.Err())
	require.Len(t, b.calls, 101) // the sum over i = 1…50 of i%3+1
	return b
}

// all pages through q, limit rows a page, and returns every row in the order read.
func (b *callsBundle) all(t *testing.T, q campaign.CallQuery) []campaign.CallRow {
	t.Helper()
	var out []campaign.CallRow
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "paging does not end")
		p, err := b.store.ListCalls(b.ctx, b.campaignID, q)
		require.NoError(t, err)
		out = append(out, p.Calls...)
		if p.Next == "" {
			return out
		}
		require.Len(t, p.Calls, cmp.Or(q.Limit, campaign.DefaultCallPage), "a page before the last is full")
		q.Cursor = p.Next
	}
}

// expect returns the calls keep keeps, in the order of sort (NULL as -1, then id), desc or not.
func (b *callsBundle) expect(sort campaign.CallSort, desc bool, keep func(campaign.CallRow) bool) []campaign.CallRow {
	key := func(c campaign.CallRow) float64 {
		orNeg := func(p *float64) float64 {
			if p == nil {
				return -1
			}
			return *p
		}
		switch sort {
		case campaign.SortCost:
			return orNeg(c.Cost)
		case campaign.SortDuration:
			return orNeg(c.DurationSeconds)
		}
		return float64(c.CreatedAt.UnixMicro())
	}
	var out []campaign.CallRow
	for _, c := range b.calls {
		if keep == nil || keep(c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(x, y campaign.CallRow) int {
		r := cmp.Or(cmp.Compare(key(x), key(y)), cmp.Compare(x.AttemptID, y.AttemptID))
		if desc {
			return -r
		}
		return r
	})
	return out
}

func ids(rows []campaign.CallRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.AttemptID
	}
	return out
}

func TestListCallsSorts(t *testing.T) {
	t.Parallel()
	b := setupCalls(t)
	for _, sort := range []campaign.CallSort{"", campaign.SortCreated, campaign.SortCost, campaign.SortDuration} {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s desc=%v", sort, desc), func(t *testing.T) {
				got := b.all(t, campaign.CallQuery{Sort: sort, Desc: desc, Limit: 7})
				want := b.expect(cmp.Or(sort, campaign.SortCreated), desc, nil)
				require.Equal(t, ids(want), ids(got))
			})
		}
	}
	// Every field of a row, and a caller number resolved.
	got := b.all(t, campaign.CallQuery{Limit: campaign.MaxCallPage})
	for _, c := range got {
		want := b.calls[c.AttemptID]
		require.Equal(t, want.CreatedAt.UnixMicro(), c.CreatedAt.UnixMicro())
		c.CreatedAt = want.CreatedAt
		if c.EndedAt != nil {
			require.Equal(t, want.EndedAt.UnixMicro(), c.EndedAt.UnixMicro())
			c.EndedAt = want.EndedAt
		}
		require.Equal(t, want, c)
	}
	require.True(t, slices.ContainsFunc(got, func(c campaign.CallRow) bool { return c.CallerNumber == "+14155550002" }))
}

// TestListCallsPagesBack pages forward to the last page, then back by each page's Prev to the
// first: every page going back is the one read going forward (rows, order, and a Next that
// leads on), and the first has no Prev; with each order, a filter and a search.
func TestListCallsPagesBack(t *testing.T) {
	t.Parallel()
	b := setupCalls(t)
	for name, q := range map[string]campaign.CallQuery{
		"created":             {Limit: 7},
		"cost desc":           {Sort: campaign.SortCost, Desc: true, Limit: 7},
		"duration, completed": {Sort: campaign.SortDuration, Outcome: campaign.OutcomeCompleted, Limit: 4},
		"search ann":          {Search: "ann", Limit: 5},
		"one page":            {Limit: campaign.MaxCallPage},
	} {
		t.Run(name, func(t *testing.T) {
			var forward []campaign.CallPage
			for fq := q; ; {
				p, err := b.store.ListCalls(b.ctx, b.campaignID, fq)
				require.NoError(t, err)
				require.NotEmpty(t, p.Calls)
				forward = append(forward, p)
				if p.Next == "" {
					break
				}
				fq.Cursor = p.Next
			}
			require.Empty(t, forward[0].Prev, "the first page has no page before it")
			for i := len(forward) - 1; i > 0; i-- {
				bq := q
				bq.Cursor = forward[i].Prev
				require.NotEmpty(t, bq.Cursor, "page %d has a page before it", i)
				back, err := b.store.ListCalls(b.ctx, b.campaignID, bq)
				require.NoError(t, err)
				require.Equal(t, ids(forward[i-1].Calls), ids(back.Calls), "page %d, read going back", i-1)
				require.Equal(t, i-1 > 0, back.Prev != "", "page %d: a Prev when a page comes before it", i-1)
				nq := q
				nq.Cursor = back.Next
				next, err := b.store.ListCalls(b.ctx, b.campaignID, nq)
				require.NoError(t, err)
				require.Equal(t, ids(forward[i].Calls), ids(next.Calls), "page %d's Next leads to page %d", i-1, i)
			}
		})
	}
}

func TestListCallsFiltersAndSearch(t *testing.T) {
	t.Parallel()
	b := setupCalls(t)
	for _, tc := range []struct {
		name string
		q    campaign.CallQuery
		keep func(campaign.CallRow) bool
	}{
		{"outcome", campaign.CallQuery{Outcome: campaign.OutcomeVoicemail},
			func(c campaign.CallRow) bool { return c.Outcome == campaign.OutcomeVoicemail }},
		{"ended reason", campaign.CallQuery{EndedReason: "customer-did-not-answer"},
			func(c campaign.CallRow) bool { return c.EndedReason == "customer-did-not-answer" }},
		{"success", campaign.CallQuery{Success: "true"}, func(c campaign.CallRow) bool { return c.SuccessEvaluation == "true" }},
		{"all three, by cost desc", campaign.CallQuery{Outcome: campaign.OutcomeCompleted, EndedReason: "customer-ended-call",
			Success: "true", Sort: campaign.SortCost, Desc: true},
			func(c campaign.CallRow) bool {
				return c.Outcome == campaign.OutcomeCompleted && c.EndedReason == "customer-ended-call" && c.SuccessEvaluation == "true"
			}},
		{"live", campaign.CallQuery{Live: true}, func(c campaign.CallRow) bool { return c.State == campaign.AttemptCreated }},
		{"full phone, as written nationally", campaign.CallQuery{Search: "(202) 555-0017"},
			func(c campaign.CallRow) bool { return c.Phone == "+12025550017" }},
		{"phone prefix with +", campaign.CallQuery{Search: "+1202555001"},
			func(c campaign.CallRow) bool { return strings.HasPrefix(c.Phone, "+1202555001") }},
		{"phone prefix, digits only", campaign.CallQuery{Search: "1 202 555 002"},
			func(c campaign.CallRow) bool { return strings.HasPrefix(c.Phone, "+1202555002") }},
		{"name prefix, any case", campaign.CallQuery{Search: "ANN"},
			func(c campaign.CallRow) bool { return strings.HasPrefix(strings.ToLower(c.Name), "ann") }},
		{"name prefix with a space", campaign.CallQuery{Search: "ann m"},
			func(c campaign.CallRow) bool { return c.Name == "ann marie" }},
		{"name prefix, not ASCII", campaign.CallQuery{Search: "zoë"},
			func(c campaign.CallRow) bool { return c.Name == "Zoë Åberg" }},
		{"name in the middle is not a prefix", campaign.CallQuery{Search: "Lee"}, func(campaign.CallRow) bool { return false }},
		{"external id", campaign.CallQuery{Search: "X-14"}, func(c campaign.CallRow) bool { return c.ExternalID == "X-14" }},
		{"external id prefix is not a match", campaign.CallQuery{Search: "X-1"}, func(campaign.CallRow) bool { return false }},
		{"search and filter", campaign.CallQuery{Search: "ann", Outcome: campaign.OutcomeNoAnswer, Sort: campaign.SortDuration},
			func(c campaign.CallRow) bool {
				return strings.HasPrefix(strings.ToLower(c.Name), "ann") && c.Outcome == campaign.OutcomeNoAnswer
			}},
		{"contacts never called are not calls", campaign.CallQuery{Search: "+12025550055"}, func(campaign.CallRow) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Limit = 4
			want := b.expect(cmp.Or(tc.q.Sort, campaign.SortCreated), tc.q.Desc, tc.keep)
			got := b.all(t, tc.q)
			require.Equal(t, ids(want), ids(got))
			if !strings.Contains(tc.name, "not") {
				require.NotEmpty(t, got, "the case selects something")
			}
		})
	}
}

// TestListCallsPagingWhileCalling pages through a campaign's calls, oldest first, while new
// attempts are journaled (as a running campaign does, each after the ones before): every call
// that existed before paging began is read exactly once, none twice, whatever was added.
func TestListCallsPagingWhileCalling(t *testing.T) {
	t.Parallel()
	b := setupCalls(t)
	var contactIDs []int64
	rows, err := b.pool.Query(b.ctx, `SELECT id FROM contact WHERE campaign_id = $1 AND attempts = 0`, b.campaignID)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		contactIDs = append(contactIDs, id)
	}
	require.NoError(t, rows.Err())

	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		inserted int
		insErr   error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			c := contactIDs[n%len(contactIDs)]
			_, insErr = b.pool.Exec(b.ctx, `
				INSERT INTO attempt (campaign_id, contact_id, number, key, state, created_at, updated_at)
				VALUES ($1, $2::bigint, $3::int, 'new-' || $2::bigint || '-' || $3::int, $4, timestamptz '2026-12-02 00:00:00Z' + $3::int * interval '1 ms', now())`,
				b.campaignID, c, n/len(contactIDs)+1, campaign.AttemptCreating)
			if insErr != nil {
				return
			}
			inserted++
		}
	}()
	seen := map[int64]int{}
	q := campaign.CallQuery{Limit: 3}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10000)
		p, err := b.store.ListCalls(b.ctx, b.campaignID, q)
		require.NoError(t, err)
		for _, c := range p.Calls {
			seen[c.AttemptID]++
		}
		// Stop once past the calls that were there (the new ones keep coming at the end).
		if p.Next == "" || len(seen) >= len(b.calls)+5 {
			break
		}
		q.Cursor = p.Next
	}
	close(stop)
	wg.Wait()
	require.NoError(t, insErr)
	require.Positive(t, inserted)
	for id, n := range seen {
		require.Equal(t, 1, n, "attempt %d read %d times", id, n)
	}
	for id := range b.calls {
		require.Contains(t, seen, id, "attempt %d, there before paging began, never read", id)
	}
}

func TestListCallsRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := setupCalls(t)
	p, err := b.store.ListCalls(b.ctx, b.campaignID, campaign.CallQuery{Limit: 5, Sort: campaign.SortCost})
	require.NoError(t, err)
	require.NotEmpty(t, p.Next)
	raw, err := base64.RawURLEncoding.DecodeString(p.Next)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	altered := func(k string, v any) string {
		m := map[string]any{}
		for k, v := range fields {
			m[k] = v
		}
		m[k] = v
		out, err := json.Marshal(m)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(out)
	}
	for name, q := range map[string]campaign.CallQuery{
		"garbage":               {Cursor: "!!not a cursor!!"},
		"base64 of garbage":     {Cursor: base64.RawURLEncoding.EncodeToString([]byte("{{{"))},
		"empty object":          {Cursor: base64.RawURLEncoding.EncodeToString([]byte("{}"))},
		"key altered":           {Sort: campaign.SortCost, Cursor: altered("k", "0.01); DROP TABLE attempt; --")},
		"id altered":            {Sort: campaign.SortCost, Cursor: altered("i", 1)},
		"another order":         {Sort: campaign.SortDuration, Cursor: p.Next},
		"the other direction":   {Sort: campaign.SortCost, Desc: true, Cursor: p.Next},
		"another filter":        {Sort: campaign.SortCost, Outcome: campaign.OutcomeBusy, Cursor: p.Next},
		"truncated":             {Sort: campaign.SortCost, Cursor: p.Next[:len(p.Next)-4]},
		"a null byte appended":  {Sort: campaign.SortCost, Cursor: p.Next + "\x00"},
		"a number, not a token": {Sort: campaign.SortCost, Cursor: "12345"},
	} {
		_, err := b.store.ListCalls(b.ctx, b.campaignID, q)
		require.ErrorIs(t, err, campaign.ErrBadCursor, name)
	}
	// The same cursor with another campaign.
	var other int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `INSERT INTO campaign (name, columns, phone_column, window_spec)
		VALUES ('other', '{phone}', 0, 'always') RETURNING id`).Scan(&other))
	_, err = b.store.ListCalls(b.ctx, other, campaign.CallQuery{Sort: campaign.SortCost, Cursor: p.Next})
	require.ErrorIs(t, err, campaign.ErrBadCursor)

	for name, q := range map[string]campaign.CallQuery{
		"unknown order":   {Sort: "name"},
		"negative limit":  {Limit: -1},
		"limit too large": {Limit: campaign.MaxCallPage + 1},
		"search too long": {Search: strings.Repeat("a", 101)},
	} {
		_, err := b.store.ListCalls(b.ctx, b.campaignID, q)
		require.ErrorIs(t, err, campaign.ErrBadCallQuery, name)
	}
	_, err = b.store.ListCalls(b.ctx, other+1000, campaign.CallQuery{})
	require.ErrorIs(t, err, campaign.ErrNotFound)
}

func TestCallDetail(t *testing.T) {
	t.Parallel()
	b := setupCalls(t)
	var a campaign.CallRow
	for _, c := range b.calls {
		if c.State == campaign.AttemptEnded && (a.AttemptID == 0 || c.AttemptID < a.AttemptID) {
			a = c
		}
	}
	var key string
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		UPDATE attempt SET vapi_call_id = 'call-1', summary = 'Agreed to pay.', transcript = $2,
		       structured_data = '{"will_pay": true}', cost_breakdown = '{"llm": 0.02, "total": 0.1}',
		       recording_url = 'https://storage.vapi.ai/call-1.wav', decision = 'completed: done', started_at = ended_at
		WHERE id = $1 RETURNING key`, a.AttemptID, "AI: Hello, is this Ann?\nUser: Yes: speaking.\nIt is.\nAI: Thanks.").Scan(&key))
	secretPayload := `{"message": {"type": "end-of-call-report", "call": {"id": "call-1", "assistantOverrides":
		{"server": {"url": "https://hooks.example.com", "headers": {"X-Vapi-Secret": "s3cret-value"}, "secret": "s3cret-too"}}}}}`
	for _, e := range []struct{ callID, key, payload string }{
		{"call-1", key, `{"message": {"type": "status-update", "status": "ended"}}`},
		{"", key, `{"message": {"type": "status-update", "status": "in-progress"}}`}, // by key alone
		{"call-1", "", secretPayload},
		{"call-2", "k-other", `{"message": {"type": "status-update"}}`}, // another call
	} {
		_, err := b.pool.Exec(b.ctx, `INSERT INTO webhook_event (type, vapi_call_id, attempt_key, payload, auth)
			VALUES ('status-update', $1, $2, $3, 'campaign_secret')`, e.callID, e.key, e.payload)
		require.NoError(t, err)
	}

	d, err := b.store.CallDetail(b.ctx, a.AttemptID)
	require.NoError(t, err)
	require.Equal(t, a.AttemptID, d.Attempt.ID)
	require.Equal(t, "completed: done", d.Attempt.Decision)
	require.Equal(t, a.ContactID, d.Contact.ID)
	require.Equal(t, a.Phone, d.Contact.Phone)
	require.Equal(t, []string{"phone", "name"}, d.Columns)
	require.Equal(t, "Agreed to pay.", d.Summary)
	require.JSONEq(t, `{"will_pay": true}`, string(d.StructuredData))
	require.JSONEq(t, `{"llm": 0.02, "total": 0.1}`, string(d.CostBreakdown))
	require.Nil(t, d.Costs)
	require.Equal(t, "https://storage.vapi.ai/call-1.wav", d.RecordingURL)
	require.NotNil(t, d.StartedAt)
	require.Equal(t, []campaign.Turn{{Speaker: "AI", Text: "Hello, is this Ann?"}, {Speaker: "User", Text: "Yes: speaking.\nIt is."},
		{Speaker: "AI", Text: "Thanks."}}, d.Conversation)
	require.Equal(t, 3, d.EventCount)
	require.Len(t, d.Events, 3)
	var all strings.Builder
	for _, e := range d.Events {
		all.Write(e.Payload)
	}
	require.NotContains(t, all.String(), "s3cret")
	require.Contains(t, all.String(), "https://hooks.example.com")
	require.Contains(t, all.String(), `"X-Vapi-Secret":"[redacted]"`)
	require.Contains(t, all.String(), `"in-progress"`)

	_, err = b.store.CallDetail(b.ctx, 1<<40)
	require.ErrorIs(t, err, campaign.ErrAttemptNotFound)
}

func TestCallDetailBoundsEvents(t *testing.T) {
	t.Parallel()
	b := setupCalls(t)
	var id int64
	var key string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT id, key FROM attempt WHERE campaign_id = $1 LIMIT 1`, b.campaignID).Scan(&id, &key))
	_, err := b.pool.Exec(b.ctx, `INSERT INTO webhook_event (type, attempt_key, payload, received_at)
		SELECT 'status-update', $1, jsonb_build_object('n', i), timestamptz '2026-12-01 00:00:00Z' + i * interval '1 s'
		FROM generate_series(1, $2::int) i`, key, campaign.MaxCallEvents+7)
	require.NoError(t, err)
	d, err := b.store.CallDetail(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, campaign.MaxCallEvents+7, d.EventCount)
	require.Len(t, d.Events, campaign.MaxCallEvents)
	require.JSONEq(t, `{"n": 1}`, string(d.Events[0].Payload), "the first received first")
}

func TestParseTranscript(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []campaign.Turn
	}{
		{"", nil},
		{"AI: Hi.\nUser: Hello.\n", []campaign.Turn{{"AI", "Hi."}, {"User", "Hello."}}},
		{"AI: Hi.\r\n\r\nUser: Well, yes.\nand more\n", []campaign.Turn{{"AI", "Hi."}, {"User", "Well, yes.\nand more"}}},
		{"no speaker here\nAI: then one", []campaign.Turn{{"", "no speaker here"}, {"AI", "then one"}}},
		{"AI: Wait. Note: a colon", []campaign.Turn{{"AI", "Wait. Note: a colon"}}},
		{"AI: ok\nWell, listen: this is text", []campaign.Turn{{"AI", "ok\nWell, listen: this is text"}}},
	} {
		require.Equal(t, tc.want, campaign.ParseTranscript(tc.in), "%q", tc.in)
	}
}

func TestCampaignTotals(t *testing.T) {
	t.Parallel()
	b := setupCalls(t)
	totals, err := b.store.CampaignTotals(b.ctx, []int64{b.campaignID, b.campaignID + 1000})
	require.NoError(t, err)
	var cost float64
	for _, c := range b.calls {
		if c.Cost != nil {
			cost += *c.Cost
		}
	}
	require.Len(t, totals, 1)
	require.Equal(t, b.campaignID, totals[0].ID)
	require.InDelta(t, cost, totals[0].Cost, 1e-9)
	require.Equal(t, map[campaign.ContactState]int{campaign.ContactCompleted: 50, campaign.ContactPending: 10}, totals[0].ByState)
	none, err := b.store.CampaignTotals(b.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, none)
}
