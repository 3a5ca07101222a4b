//go:build unix

// Command consolebench measures the queries the console's calls table, call page and campaign
// page run, and the /metrics scrape, on one large campaign.
//
// It is a benchmark program that prints figures, not a timed test. Run it with
//
//	make bench-console                                                      # 1,000,000 contacts
//	go run ./internal/bench/consolebench -bin bin/campaign -contacts 20000    # quick smoke run
//
// after `make build`. It:
//
//  1. creates a scratch database on the server the CLI uses (dropped at the end, even after an
//     error or an interrupt), migrates it and imports a one-row CSV with `BIN run --dry-run`;
//  2. fills the campaign in SQL with generate_series (not timed): -contacts contacts, of which
//     one in 20 was never called, one in 7 has three unanswered calls, one in 5 an unanswered
//     call then a conversation, the rest one conversation; a status-update and an end-of-call
//     report stored raw for every call; the campaign left running, so the scrape lists it. Then
//     VACUUM ANALYZE, as autovacuum would have done;
//  3. runs each query -runs times through campaign.Store, as the console calls it, after one
//     untimed run (a slow query at least 5 times, and no more once 20 s have passed), and
//     prints the median and the 95th percentile of each. The target is 100 ms a query; a query
//     over it is reported, not an error;
//  4. writes the same figures as one JSON line to DIR/console-bench.json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/bench/benchkit"
)

// The target of every query, judged at targetContacts contacts.
const (
	targetContacts = 1_000_000
	targetQuery    = 100 * time.Millisecond
)

// prog names this program in progress lines and scratch databases.
const prog benchkit.Program = "consolebench"

// campaignName is the name of the benchmark's campaign.
const campaignName = "consolebench"

func main() { prog.Main(run) }

func run(ctx context.Context) error {
	var common benchkit.CommonFlags
	common.Define("the campaign binary that migrates the scratch database", "work directory for the figures")
	contacts := flag.Int("contacts", targetContacts, "contacts in the campaign")
	runs := flag.Int("runs", 30, "timed runs of each query")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	if *contacts < 1000 {
		return fmt.Errorf("-contacts must be at least 1000, got %d", *contacts)
	}
	if *runs < 1 {
		return fmt.Errorf("-runs must be at least 1, got %d", *runs)
	}
	ws, err := common.Workspace(benchkit.ToolCampaign)
	if err != nil {
		return err
	}
	scratchURL, dbLabel, dropScratch, err := prog.Database(ctx, ws.Bin)
	if err != nil {
		return err
	}
	defer dropScratch()

	setup, err := fill(ctx, ws.Bin, scratchURL, ws.Dir, *contacts)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, scratchURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	store := campaign.NewStore(pool)

	queries, err := consoleQueries(ctx, store, setup, *contacts)
	if err != nil {
		return err
	}
	res := result{Contacts: *contacts, Attempts: setup.Attempts, Events: setup.Events, Runs: *runs,
		Database: dbLabel, SetupSeconds: setup.Seconds, TargetMs: ms(targetQuery)}
	for _, q := range queries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		prog.Progress("timing %s …", q.name)
		f, err := timeQuery(ctx, q, *runs)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		res.Queries = append(res.Queries, f)
	}
	res.print(os.Stdout)
	return prog.SaveJSONLine(filepath.Join(ws.Dir, "console-bench.json"), res)
}

// ---------------------------------------------------------------------------------------------
// Steps 1 and 2: the campaign.

// setupResult is the campaign made and what making it took.
type setupResult struct {
	CampaignID        int64
	Seconds           float64
	Attempts, Events  int
	SomePhone, SomeID string
	SomeAttempt       int64
}

func fill(ctx context.Context, bin, dbURL, workDir string, contacts int) (*setupResult, error) {
	start := time.Now()
	tiny := filepath.Join(workDir, "consolebench-first-row.csv")
	if err := os.WriteFile(tiny, []byte("phone,name,customer_id\n+12015550100,Ann Lee,C00000000\n"), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(tiny)
	prog.Progress("importing the campaign's first row (migrating the scratch database) …")
	cmd := exec.CommandContext(ctx, bin, "run", tiny, "--dry-run", "--preview", "0", "--format", "json",
		"--name", campaignName, "--window", "always")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL) // not a flag: a password would show in ps
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("`campaign run --dry-run` of the first row failed: %w (its messages are above)", err)
	}
	pool, err := benchkit.SeedPool(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	res := &setupResult{}
	if err := pool.QueryRow(ctx, `SELECT id FROM campaign WHERE name = $1`, campaignName).Scan(&res.CampaignID); err != nil {
		return nil, fmt.Errorf("find the campaign: %w", err)
	}
	prog.Progress("making %s contacts in SQL …", benchkit.Thousands(int64(contacts)))
	if _, err := pool.Exec(ctx, contactsSQL, res.CampaignID, contacts-1, campaign.ContactPending, campaign.ContactFailed,
		campaign.ContactCompleted, campaign.OutcomeNoAnswer, campaign.OutcomeCompleted); err != nil {
		return nil, fmt.Errorf("make contacts: %w", err)
	}
	var first, last int64
	if err := pool.QueryRow(ctx, `SELECT min(id), max(id) FROM contact WHERE campaign_id = $1`, res.CampaignID).
		Scan(&first, &last); err != nil {
		return nil, err
	}
	// The calls, then their events, each in two halves at once.
	for _, step := range []struct {
		what string
		sql  string
		args []any
	}{
		{"calls", attemptsSQL, []any{campaign.AttemptEnded, campaign.OutcomeCompleted, campaign.OutcomeNoAnswer, campaign.ContactCompleted,
			campaign.OutcomeVoicemail}},
		{"webhook events", eventsSQL, []any{"status-update", "end-of-call-report", "ended"}},
	} {
		prog.Progress("making the %s in SQL …", step.what)
		mid := first + (last-first)/2
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for i, r := range [2][2]int64{{first, mid}, {mid + 1, last}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = pool.Exec(ctx, step.sql, append([]any{res.CampaignID, r[0], r[1]}, step.args...)...)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("make %s: %w", step.what, err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE campaign SET status = $2, started_at = now() WHERE id = $1`,
		res.CampaignID, campaign.StatusRunning); err != nil {
		return nil, err
	}
	prog.Progress("VACUUM ANALYZE …")
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) contact, attempt, webhook_event`); err != nil {
		return nil, fmt.Errorf("vacuum: %w", err)
	}
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM attempt WHERE campaign_id = $1),
		(SELECT count(*) FROM webhook_event)`, res.CampaignID).Scan(&res.Attempts, &res.Events); err != nil {
		return nil, err
	}
	// A contact in the middle with calls, and its last call.
	if err := pool.QueryRow(ctx, `SELECT ct.phone, ct.external_id, a.id FROM contact ct JOIN attempt a ON a.contact_id = ct.id
		WHERE ct.campaign_id = $1 AND ct.id >= $2 ORDER BY ct.id, a.number DESC LIMIT 1`, res.CampaignID, first+(last-first)/2).
		Scan(&res.SomePhone, &res.SomeID, &res.SomeAttempt); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	prog.Progress("campaign ready in %.0f s: %s contacts, %s calls, %s webhook events", res.Seconds,
		benchkit.Thousands(int64(contacts)), benchkit.Thousands(int64(res.Attempts)), benchkit.Thousands(int64(res.Events)))
	return res, nil
}

// contactsSQL makes contacts 1…$2 of campaign $1 (lines 2…): one hundred name pairs, phones
// +12020000001…, external ids C00000001…. Contact i is pending and never called when i%20 = 0,
// failed after three unanswered calls when i%7 = 0, completed otherwise (after an unanswered
// call when i%5 = 0). $3 pending, $4 failed, $5 completed (contact states); $6 no_answer, $7
// completed (outcomes).
const contactsSQL = `
INSERT INTO contact (campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields, state, outcome, attempts)
SELECT $1, i + 1, phone, nm, cid, '{America/New_York}', 'phone', ARRAY[phone, nm, cid],
       CASE WHEN i % 20 = 0 THEN $3::text WHEN i % 7 = 0 THEN $4::text ELSE $5::text END,
       CASE WHEN i % 20 = 0 THEN '' WHEN i % 7 = 0 THEN $6::text ELSE $7::text END,
       CASE WHEN i % 20 = 0 THEN 0 WHEN i % 7 = 0 THEN 3 WHEN i % 5 = 0 THEN 2 ELSE 1 END
FROM (SELECT i, '+1' || (2020000000 + i)::text AS phone, 'C' || lpad(i::text, 8, '0') AS cid,
             (ARRAY['Ann','Bob','Chloé','Dmitri','Eve','Fatima','Giorgio','Hana','Ivan','José'])[1 + i % 10] || ' ' ||
             (ARRAY['Lee','Smith','García','Nguyen','Müller','Rossi','Kim','Ôtani','Brown','Silva'])[1 + (i / 10) % 10] AS nm
      FROM generate_series(1, $2::int) i) g`

// attemptsSQL makes the calls of campaign $1's contacts with ids $2…$3: every call but a
// completed contact's last is unanswered. $4 the attempt state ended, $5 the outcome completed,
// $6 the outcome no_answer, $7 the contact state completed.
const attemptsSQL = `
INSERT INTO attempt (campaign_id, contact_id, number, key, state, vapi_call_id, created_at, call_created_at,
                     started_at, ended_at, report_at, ended_reason, outcome, duration_seconds, cost, cost_breakdown,
                     summary, success_evaluation, transcript, recording_url, decision)
SELECT $1::bigint, c.id, n, 'cmp-' || $1::bigint || '-' || c.id || '-' || n, $4::text, call_id, t, t, t + interval '2 s',
       t + interval '2 s' + d * interval '1 s', t + interval '3 s' + d * interval '1 s',
       CASE WHEN talk THEN 'customer-ended-call' ELSE 'customer-did-not-answer' END,
       CASE WHEN talk THEN $5::text WHEN c.id % 1000 = 7 THEN $8::text ELSE $6::text END,
       d, CASE WHEN talk THEN round((0.05 + d * 0.0015)::numeric, 4) ELSE 0 END,
       CASE WHEN talk THEN '{"transport": 0.008, "stt": 0.01, "llm": 0.02, "tts": 0.01, "vapi": 0.05}'::jsonb END,
       CASE WHEN talk THEN 'The assistant spoke with ' || c.name || '.' ELSE '' END,
       CASE WHEN talk THEN (c.id % 3 = 0)::text ELSE '' END,
       CASE WHEN talk THEN 'AI: Hello, is this ' || c.name || E'?\nUser: Yes.\nAI: Thank you.' ELSE '' END,
       CASE WHEN talk THEN 'https://storage.vapi.ai/' || call_id || '-mono.wav' ELSE '' END,
       CASE WHEN talk THEN $5::text ELSE $6::text || ': retry' END
FROM contact c
CROSS JOIN LATERAL generate_series(1, c.attempts) n
CROSS JOIN LATERAL (SELECT c.state = $7::text AND n = c.attempts AS talk,
                           timestamptz '2026-11-20 14:00:00Z' + (c.id % 36000) * interval '1 s' + (n - 1) * interval '4 h' AS t,
                           md5(c.id::text || '-' || n::text)::uuid::text AS call_id) x
CROSS JOIN LATERAL (SELECT CASE WHEN x.talk THEN 45 + c.id % 240 ELSE 20 + c.id % 25 END::float8 AS d) y
WHERE c.campaign_id = $1::bigint AND c.id BETWEEN $2::bigint AND $3::bigint AND c.attempts > 0`

// eventsSQL stores, raw, a status-update ($4, status $6) and an end-of-call report ($5) for every
// call of campaign $1's contacts with ids $2…$3.
const eventsSQL = `
INSERT INTO webhook_event (received_at, type, vapi_call_id, attempt_key, status, auth, auth_campaign_id, payload, applied_at)
SELECT a.ended_at + k * interval '1 s', CASE WHEN k = 0 THEN $4::text ELSE $5::text END, a.vapi_call_id, a.key,
       CASE WHEN k = 0 THEN $6::text ELSE '' END, 'campaign_secret', $1::bigint,
       jsonb_build_object('message', jsonb_build_object(
           'type', CASE WHEN k = 0 THEN $4::text ELSE $5::text END, 'endedReason', a.ended_reason,
           'call', jsonb_build_object('id', a.vapi_call_id, 'name', a.key),
           'artifact', CASE WHEN k = 1 THEN jsonb_build_object('transcript', a.transcript) END)),
       a.ended_at + k * interval '1 s'
FROM attempt a CROSS JOIN generate_series(0, 1) k
WHERE a.campaign_id = $1::bigint AND a.contact_id BETWEEN $2::bigint AND $3::bigint`

// ---------------------------------------------------------------------------------------------
// Step 3: the queries.

// query is one console query, run as the console runs it.
type query struct {
	name string
	run  func(ctx context.Context) (rows int, err error)
}

func consoleQueries(ctx context.Context, store *campaign.Store, s *setupResult, contacts int) ([]query, error) {
	id := s.CampaignID
	calls := func(q campaign.CallQuery) func(ctx context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			p, err := store.ListCalls(ctx, id, q)
			return len(p.Calls), err
		}
	}
	// A cursor half-way through the calls, reached by paging as a reader would (500 a page).
	prog.Progress("paging to the middle of the calls for a deep cursor …")
	deep := campaign.CallQuery{Limit: campaign.MaxCallPage}
	for seen := 0; seen < s.Attempts/2; {
		p, err := store.ListCalls(ctx, id, deep)
		if err != nil {
			return nil, err
		}
		if p.Next == "" {
			break
		}
		seen += len(p.Calls)
		deep.Cursor = p.Next
	}
	deep.Limit = 0
	namePrefix := "Hana Ôtani"
	return []query{
		{"calls: first page (created, 50 rows)", calls(campaign.CallQuery{})},
		{"calls: first page, newest first", calls(campaign.CallQuery{Desc: true})},
		{"calls: a page half-way (by cursor)", calls(deep)},
		{"calls: search a full phone number", calls(campaign.CallQuery{Search: s.SomePhone})},
		{"calls: search a phone prefix (1,000 contacts)", calls(campaign.CallQuery{Search: s.SomePhone[:len(s.SomePhone)-3]})},
		{"calls: search an external id", calls(campaign.CallQuery{Search: s.SomeID})},
		{fmt.Sprintf("calls: search a name prefix (%q, 1%% of contacts)", strings.ToLower(namePrefix)),
			calls(campaign.CallQuery{Search: strings.ToLower(namePrefix)})},
		{"calls: search a name prefix (\"hana\", 10% of contacts)", calls(campaign.CallQuery{Search: "hana"})},
		{"calls: filter outcome no_answer", calls(campaign.CallQuery{Outcome: campaign.OutcomeNoAnswer})},
		{"calls: filter outcome voicemail (rare)", calls(campaign.CallQuery{Outcome: campaign.OutcomeVoicemail})},
		{"calls: filter outcome voicemail, by cost", calls(campaign.CallQuery{Outcome: campaign.OutcomeVoicemail, Sort: campaign.SortCost})},
		{"calls: filter ended reason + success true", calls(campaign.CallQuery{EndedReason: "customer-ended-call", Success: "true"})},
		{"calls: sort by cost, dearest first", calls(campaign.CallQuery{Sort: campaign.SortCost, Desc: true})},
		{"calls: sort by duration, longest first", calls(campaign.CallQuery{Sort: campaign.SortDuration, Desc: true})},
		{"calls: live now", calls(campaign.CallQuery{Live: true})},
		{"call page: CallDetail", func(ctx context.Context) (int, error) {
			d, err := store.CallDetail(ctx, s.SomeAttempt)
			if err != nil {
				return 0, err
			}
			return len(d.Events), nil
		}},
		{"campaign page: Progress", func(ctx context.Context) (int, error) {
			p, err := store.Progress(ctx, id)
			return p.Total, err
		}},
		{"campaign page: StatusExtras", func(ctx context.Context) (int, error) {
			_, err := store.StatusExtras(ctx, id, time.Now(), 5*time.Minute, 5)
			return 1, err
		}},
		{"campaign page: ReportFacts (report model)", func(ctx context.Context) (int, error) {
			_, err := store.ReportFacts(ctx, id)
			return 1, err
		}},
		{"/metrics scrape: LiveCalls", func(ctx context.Context) (int, error) {
			l, err := store.LiveCalls(ctx, time.Time{})
			return len(l), err
		}},
		{"/metrics: CampaignTotals (cached 30 s)", func(ctx context.Context) (int, error) {
			t, err := store.CampaignTotals(ctx, []int64{id})
			return len(t), err
		}},
	}, nil
}

// figure is one query's times.
type figure struct {
	Name     string  `json:"name"`
	Rows     int     `json:"rows"`
	MedianMs float64 `json:"median_ms"`
	P95Ms    float64 `json:"p95_ms"`
	MaxMs    float64 `json:"max_ms"`
	Runs     int     `json:"runs"`
}

// A query is run -runs times, or at least minRuns times and no more once queryBudget has
// passed.
const (
	minRuns     = 5
	queryBudget = 20 * time.Second
)

func timeQuery(ctx context.Context, q query, runs int) (figure, error) {
	f := figure{Name: q.name}
	if _, err := q.run(ctx); err != nil { // untimed: warms the cache and the prepared statement
		return f, err
	}
	took := make([]time.Duration, 0, runs)
	start := time.Now()
	for i := range runs {
		if i >= minRuns && time.Since(start) > queryBudget {
			break // a slow query: its figures from fewer runs (printed)
		}
		start := time.Now()
		n, err := q.run(ctx)
		took = append(took, time.Since(start))
		if err != nil {
			return f, err
		}
		f.Rows = n
	}
	f.Runs = len(took)
	slices.Sort(took)
	f.MedianMs = ms(took[len(took)/2])
	f.P95Ms = ms(took[(len(took)*95+99)/100-1])
	f.MaxMs = ms(took[len(took)-1])
	return f, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ---------------------------------------------------------------------------------------------
// Step 4: the report.

// result is what the program prints and saves.
type result struct {
	Contacts     int      `json:"contacts"`
	Attempts     int      `json:"attempts"`
	Events       int      `json:"webhook_events"`
	Runs         int      `json:"runs"`
	Database     string   `json:"database"`
	SetupSeconds float64  `json:"setup_seconds"`
	TargetMs     float64  `json:"target_ms"`
	Queries      []figure `json:"queries"`
	// Over counts the queries whose 95th percentile passed the target.
	Over int `json:"over_target"`
}

func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "console benchmark: one campaign of %s contacts, %s calls, %s webhook events; %d runs a query\n",
		benchkit.Thousands(int64(r.Contacts)), benchkit.Thousands(int64(r.Attempts)), benchkit.Thousands(int64(r.Events)), r.Runs)
	width := 0
	for _, q := range r.Queries {
		width = max(width, len([]rune(q.Name)))
	}
	r.Over = 0
	for _, q := range r.Queries {
		mark := ""
		if q.P95Ms > r.TargetMs {
			mark = "  over the target"
			r.Over++
		}
		runs := ""
		if q.Runs != r.Runs {
			runs = fmt.Sprintf(", %d runs", q.Runs)
		}
		fmt.Fprintf(w, "%s%s : median %8.2f ms  p95 %8.2f ms  max %8.2f ms  (%d rows%s)%s\n",
			q.Name, strings.Repeat(" ", width-len([]rune(q.Name))), q.MedianMs, q.P95Ms, q.MaxMs, q.Rows, runs, mark)
	}
	verdict := "met"
	switch {
	case r.Contacts < targetContacts:
		verdict = fmt.Sprintf("not judged (judged at %s contacts)", benchkit.Thousands(targetContacts))
	case r.Over > 0:
		verdict = fmt.Sprintf("missed by %d queries", r.Over)
	}
	fmt.Fprintf(w, "target%s : p95 <= %.0f ms a query: %s\n", strings.Repeat(" ", max(0, width-len("target"))), r.TargetMs, verdict)
}
