//go:build unix

// Command exportbench measures how fast `campaign export` writes a large finished campaign, and
// compares it with the floor for comparable columns: psql's \copy (SELECT …) TO of the same
// contacts with their calls aggregated in SQL.
//
// It is a benchmark program that prints figures, not a timed test. Run it with
//
//	make bench-export                                                     # 1,000,000 contacts
//	go run ./internal/bench/exportbench -bin bin/campaign -contacts 20000   # quick smoke run
//
// after `make build`. It:
//
//  1. creates a scratch database on the server (dropped at the end, even after an error or an
//     interrupt, so every run starts from the same state and the user's campaigns are never
//     touched), migrates it with `BIN migrate`, and imports a one-row CSV of 10 columns with
//     `BIN run --dry-run` (the campaign's header and settings, as a real import makes them);
//  2. fills the campaign in SQL (not timed): -contacts contacts in all, of which 5% were never
//     called, 14% have three unanswered calls (failed, no_answer), 17% an unanswered call then a
//     conversation, and the rest one conversation; 70% of conversations have structured data
//     (four keys, a fifth that is a nested object of two keys in a fifth of them). Then VACUUM
//     ANALYZE, as autovacuum would have done by the time a campaign ends;
//  3. runs `BIN export NAME -o DIR/export.csv` and records its wall time, peak RSS and CPU
//     time, and checks it wrote every contact; then the same with --filter outcome=no_answer
//     (a seventh of the rows: the peak RSS should not follow the row count) and with
//     --attempts (one row per call);
//  4. runs psql with \copy (SELECT …) TO 'DIR/copy.csv' CSV HEADER of comparable columns: the
//     ten original cells, the contact's state, outcome and attempts, its first and last call in
//     UTC and local time, totals of duration and cost, the last call's fields and the structured
//     values of its latest call with structured data (the key set given, not discovered);
//  5. prints a short report to stdout and writes the same figures as one JSON line to
//     DIR/export-bench.json; the exported files are removed unless -keep.
//
// The server is the one the CLI uses: DATABASE_URL when it is set, else the CLI's managed local
// Postgres, whose URL `BIN db url` prints (starting it if needed, before anything is timed).
// psql (the PostgreSQL client) must be installed. Progress goes to stderr, the report to stdout.
//
// The target, judged on 1,000,000 contacts only, is at least 300,000 rows/s for the contacts
// export, with a peak RSS that does not grow with the rows. Missing it is reported, not an
// error: the exit status is non-zero only when a step fails.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/bench/benchkit"
)

// The target of the benchmark, judged at targetContacts contacts.
const (
	targetContacts   = 1_000_000
	targetRowsPerSec = 300_000
)

// prog names this program in progress lines and scratch databases.
const prog benchkit.Program = "exportbench"

// campaignName is the name of the benchmark's campaign.
const campaignName = "exportbench"

// header is the imported file's header; the first row is imported by the CLI, the others made
// in SQL with the same columns.
const header = "phone,name,first_name,last_name,email,amount_due,due_date,customer_id,city,timezone"

func main() { prog.Main(run) }

func run(ctx context.Context) error {
	var common benchkit.CommonFlags
	common.Define("the campaign binary to benchmark", "work directory for the exported files")
	contacts := flag.Int("contacts", targetContacts, "contacts in the campaign")
	keep := flag.Bool("keep", false, "keep the exported files (about 1.5 GB at 1,000,000 contacts) instead of removing them at the end")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	if *contacts < 2 {
		return fmt.Errorf("-contacts must be at least 2, got %d", *contacts)
	}

	ws, err := common.Workspace(benchkit.ToolCampaign, benchkit.ToolPsql)
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

	outputs := []string{"export.csv", "export-no-answer.csv", "export-attempts.csv", "copy.csv"}
	for i, name := range outputs {
		outputs[i] = filepath.Join(ws.Dir, name)
	}
	if !*keep {
		defer func() {
			for _, p := range outputs {
				_ = os.Remove(p)
			}
		}()
	}
	full, err := runExport(ctx, ws.Bin, scratchURL, outputs[0], "contacts")
	if err != nil {
		return err
	}
	filtered, err := runExport(ctx, ws.Bin, scratchURL, outputs[1], "contacts",
		"--filter", "outcome=no_answer")
	if err != nil {
		return err
	}
	attempts, err := runExport(ctx, ws.Bin, scratchURL, outputs[2], "attempts", "--attempts")
	if err != nil {
		return err
	}
	cp, err := runCopy(ctx, ws.Psql, scratchURL, outputs[3])
	if err != nil {
		return err
	}
	if full.Rows != *contacts {
		prog.Progress("warning: the export wrote %d rows, the campaign has %d contacts", full.Rows, *contacts)
	}
	if cp.Rows != full.Rows {
		prog.Progress("warning: psql \\copy wrote %d rows, the export %d", cp.Rows, full.Rows)
	}

	res := newResult(*contacts, dbLabel, setup, full, filtered, attempts, cp)
	res.print(os.Stdout)
	return prog.SaveJSONLine(filepath.Join(ws.Dir, "export-bench.json"), res)
}

// ---------------------------------------------------------------------------------------------
// Steps 1 and 2: the campaign.

// setupResult is what making the campaign took (not part of the figures judged).
type setupResult struct {
	Seconds  float64
	Attempts int
}

// fill migrates the scratch database, imports the one-row file and makes the rest of the
// campaign in SQL.
func fill(ctx context.Context, bin, dbURL, workDir string, contacts int) (*setupResult, error) {
	start := time.Now()
	env := append(os.Environ(), "DATABASE_URL="+dbURL) // not a flag: a password would show in ps
	tiny := filepath.Join(workDir, "exportbench-first-row.csv")
	first := header + "\n+12015550100,Ann Lee,Ann,Lee,ann.lee@example.com,10.00,2026-01-01,C00000001,Newark,America/New_York\n"
	if err := os.WriteFile(tiny, []byte(first), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(tiny)
	prog.Progress("importing the campaign's first row (migrating the scratch database) …")
	cmd := exec.CommandContext(ctx, bin, "run", tiny, "--dry-run", "--preview", "0", "--format", "json",
		"--name", campaignName, "--window", "always")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, io.Discard, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("`campaign run --dry-run` of the first row failed: %w (its messages are above)", err)
	}

	pool, err := benchkit.SeedPool(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	var campaignID, firstContact int64
	if err := pool.QueryRow(ctx, `SELECT c.id, ct.id FROM campaign c JOIN contact ct ON ct.campaign_id = c.id WHERE c.name = $1`,
		campaignName).Scan(&campaignID, &firstContact); err != nil {
		return nil, fmt.Errorf("find the campaign: %w", err)
	}

	prog.Progress("making %s contacts in SQL …", benchkit.Thousands(int64(contacts)))
	if _, err := pool.Exec(ctx, contactsSQL, campaignID, contacts-1,
		campaign.ContactPending, campaign.ContactFailed, campaign.ContactCompleted,
		campaign.OutcomeNoAnswer, campaign.OutcomeCompleted); err != nil {
		return nil, fmt.Errorf("make contacts: %w", err)
	}
	// The calls, in two halves at once: the attempt table's five indexes make this the long part.
	prog.Progress("making their calls in SQL …")
	var lastContact int64
	if err := pool.QueryRow(ctx, `SELECT max(id) FROM contact WHERE campaign_id = $1`, campaignID).Scan(&lastContact); err != nil {
		return nil, err
	}
	mid := firstContact + (lastContact-firstContact)/2
	var (
		wg   sync.WaitGroup
		errs [2]error
	)
	for i, r := range [2][2]int64{{firstContact, mid}, {mid + 1, lastContact}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = pool.Exec(ctx, attemptsSQL, campaignID, r[0], r[1],
				campaign.AttemptEnded, campaign.OutcomeCompleted, campaign.OutcomeNoAnswer, campaign.ContactCompleted)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("make calls: %w", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE campaign SET status = $2, finished_at = now() WHERE id = $1`,
		campaignID, campaign.StatusCompleted); err != nil {
		return nil, err
	}
	prog.Progress("VACUUM ANALYZE …")
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) contact, attempt`); err != nil {
		return nil, fmt.Errorf("vacuum: %w", err)
	}
	res := &setupResult{}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM attempt WHERE campaign_id = $1`, campaignID).Scan(&res.Attempts); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	prog.Progress("campaign ready in %.0f s: %s contacts, %s calls", res.Seconds, benchkit.Thousands(int64(contacts)),
		benchkit.Thousands(int64(res.Attempts)))
	return res, nil
}

// contactsSQL makes contacts 2…$2+1 of campaign $1: varied names (some non-ASCII), five cities
// and zones, a time-zone cell on one row in ten. Contact i is pending (never called) when i%20
// = 0, failed after three unanswered calls when i%7 = 0, completed otherwise (after one
// unanswered call when i%5 = 0). The states and outcomes are arguments: $3 pending, $4 failed,
// $5 completed (contact states), $6 no_answer, $7 completed (outcomes).
const contactsSQL = `
INSERT INTO contact (campaign_id, line, phone, name, external_id, time_zones, time_zone_source, fields, state, outcome, attempts)
SELECT $1, i + 1, phone, fn || ' ' || ln, cid, ARRAY[z], CASE WHEN i % 10 = 0 THEN 'column' ELSE 'phone' END,
       ARRAY[phone, fn || ' ' || ln, fn, ln, lower(fn) || '.' || lower(ln) || i || '@example.com',
             (5 + i % 4995)::text || '.' || lpad((i % 100)::text, 2, '0'),
             '2026-' || lpad((1 + i % 12)::text, 2, '0') || '-' || lpad((1 + i % 28)::text, 2, '0'),
             cid, city, CASE WHEN i % 10 = 0 THEN z ELSE '' END],
       CASE WHEN i % 20 = 0 THEN $3::text WHEN i % 7 = 0 THEN $4::text ELSE $5::text END,
       CASE WHEN i % 20 = 0 THEN '' WHEN i % 7 = 0 THEN $6::text ELSE $7::text END,
       CASE WHEN i % 20 = 0 THEN 0 WHEN i % 7 = 0 THEN 3 WHEN i % 5 = 0 THEN 2 ELSE 1 END
FROM (SELECT i, '+1' || (2020000000 + i)::text AS phone, 'C' || lpad((i + 1)::text, 8, '0') AS cid,
             (ARRAY['Ann','Bob','Chloé','Dmitri','Eve','Fatima','Giorgio','Hana','Ivan','José'])[1 + i % 10] AS fn,
             (ARRAY['Lee','Smith','García','Nguyen','Müller','Rossi','Kim','Ôtani','Brown','Silva'])[1 + (i / 10) % 10] AS ln,
             (ARRAY['Newark','New York','Chicago','Denver','Los Angeles'])[1 + i % 5] AS city,
             (ARRAY['America/New_York','America/New_York','America/Chicago','America/Denver','America/Los_Angeles'])[1 + i % 5] AS z
      FROM generate_series(1, $2::int) i) g`

// attemptsSQL makes the calls of campaign $1's contacts with ids $2…$3, as the recorder stores
// them: every unanswered call before the last, and the last one unanswered (failed contacts)
// or a conversation with a summary, a success evaluation and, seven times in ten, structured
// data. The states and outcomes are arguments: $4 the attempt state ended, $5 the outcome
// completed, $6 the outcome no_answer, $7 the contact state completed (a completed contact's
// last call is the conversation).
const attemptsSQL = `
INSERT INTO attempt (campaign_id, contact_id, number, key, state, vapi_call_id, created_at, call_created_at,
                     started_at, ended_at, report_at, ended_reason, outcome, duration_seconds, cost, cost_breakdown,
                     summary, success_evaluation, structured_data, recording_url, decision)
SELECT $1::bigint, c.id, n, 'cmp-' || $1::bigint || '-' || c.id || '-' || n, $4::text, call_id, t, t, t + interval '2 s',
       t + interval '2 s' + d * interval '1 s', t + interval '3 s' + d * interval '1 s',
       CASE WHEN talk THEN 'customer-ended-call' ELSE 'customer-did-not-answer' END,
       CASE WHEN talk THEN $5::text ELSE $6::text END,
       d, CASE WHEN talk THEN round((0.05 + d * 0.0015)::numeric, 4) ELSE 0 END,
       CASE WHEN talk THEN jsonb_build_object('transport', 0.008, 'stt', 0.01, 'llm', 0.02, 'tts', 0.01, 'vapi', 0.05,
            'total', 0.098, 'llmPromptTokens', 1200, 'llmCompletionTokens', 100, 'ttsCharacters', 400,
            'analysisCostBreakdown', jsonb_build_object('summary', 0.0004, 'summaryPromptTokens', 900))
       ELSE '{}'::jsonb END,
       CASE WHEN talk THEN 'The assistant spoke with ' || c.name || ', who agreed to pay on Friday.' ELSE '' END,
       CASE WHEN talk THEN (c.id % 3 = 0)::text ELSE '' END,
       CASE WHEN talk AND c.id % 10 < 7 THEN
            jsonb_build_object('will_pay', c.id % 3 = 0, 'amount_promised', c.id % 500,
                               'callback_at', to_char(t + interval '2 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                               'reason', (ARRAY['payday', 'dispute', 'lost job', 'already paid'])[1 + c.id % 4])
            || CASE WHEN c.id % 5 = 0 THEN jsonb_build_object('preferred',
                    jsonb_build_object('channel', 'sms', 'time', 'evening')) ELSE '{}'::jsonb END
       END,
       CASE WHEN talk THEN 'https://storage.vapi.ai/' || call_id || '-mono.wav' ELSE '' END,
       CASE WHEN talk THEN $5::text ELSE $6::text || ': retry' END
FROM contact c
CROSS JOIN LATERAL generate_series(1, c.attempts) n
CROSS JOIN LATERAL (SELECT c.state = $7::text AND n = c.attempts AS talk,
                           timestamptz '2026-11-20 14:00:00Z' + (c.id % 36000) * interval '1 s' + (n - 1) * interval '4 h' AS t,
                           md5(c.id::text || '-' || n::text)::uuid::text AS call_id) x
CROSS JOIN LATERAL (SELECT CASE WHEN x.talk THEN 45 + c.id % 240 ELSE 20 + c.id % 25 END::float8 AS d) y
WHERE c.campaign_id = $1::bigint AND c.id BETWEEN $2::bigint AND $3::bigint AND c.attempts > 0`

// ---------------------------------------------------------------------------------------------
// Step 3: the exports.

// exportResult is what one `campaign export` did and cost.
type exportResult struct {
	Args         []string
	Rows         int
	Wall         time.Duration
	CPU          time.Duration // user + system time of the CLI process itself (not the database's)
	PeakRSSBytes int64
	Bytes        int64
}

var exportedRows = regexp.MustCompile(`Exported (\d+) (contacts|attempts)`)

// runExport runs `BIN export` of the campaign into path, timing it.
func runExport(ctx context.Context, bin, dbURL, path, what string, args ...string) (*exportResult, error) {
	args = append([]string{"export", campaignName, "-o", path}, args...)
	prog.Progress("running %s %s …", bin, strings.Join(args, " "))
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("`campaign %s` failed after %.1f s: %w: %s", strings.Join(args, " "), wall.Seconds(), err, stderr.String())
	}
	m := exportedRows.FindStringSubmatch(stderr.String())
	if m == nil || m[2] != what {
		return nil, fmt.Errorf("`campaign export` did not say how many %s it wrote; it printed %q", what, stderr.String())
	}
	res := &exportResult{Args: args[3:], Wall: wall, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		PeakRSSBytes: peakRSS(cmd.ProcessState)}
	res.Rows, _ = strconv.Atoi(m[1])
	if st, err := os.Stat(path); err == nil {
		res.Bytes = st.Size()
	}
	return res, nil
}

// peakRSS is the peak resident set size of a finished process, in bytes (0 if unknown).
func peakRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes on macOS
	}
	return int64(ru.Maxrss) * 1024 // KiB on Linux and the BSDs
}

// ---------------------------------------------------------------------------------------------
// Step 4: the psql \copy baseline.

// The attempt state and outcome copyQuery leaves out, as SQL literals built from the typed
// constants: psql's \copy takes no bind parameters and interpolates no psql variables.
const (
	notCreatedSQL = "'" + string(campaign.AttemptNotCreated) + "'"
	capacitySQL   = "'" + string(campaign.OutcomeCapacity) + "'"
)

// copyQuery selects, for every contact of the campaign in file order, columns comparable with a
// contacts export's: the ten original cells, the contact's fields, the aggregates of its calls,
// the last call's fields and the structured values of its latest call with structured data,
// for the generator's key set.
const copyQuery = `
SELECT c.fields[1], c.fields[2], c.fields[3], c.fields[4], c.fields[5], c.fields[6], c.fields[7], c.fields[8],
       c.fields[9], c.fields[10], c.state, c.outcome, x.ended_reason, c.attempts,
       x.first_at, x.first_at AT TIME ZONE c.time_zones[1], x.last_at, x.last_at AT TIME ZONE c.time_zones[1],
       c.time_zones[1], x.duration, x.cost, x.success_evaluation, x.summary, x.recording_url, x.vapi_call_id, c.phone,
       s.sd #> '{amount_promised}', s.sd #> '{callback_at}', s.sd #> '{preferred,channel}', s.sd #> '{preferred,time}',
       s.sd #> '{reason}', s.sd #> '{will_pay}'
FROM contact c
LEFT JOIN (
    SELECT * FROM (
        SELECT a.contact_id, a.number, max(a.number) OVER w AS last_number,
               max(a.number) FILTER (WHERE a.structured_data IS NOT NULL) OVER w AS sd_number,
               min(coalesce(a.started_at, a.call_created_at)) OVER w AS first_at,
               max(coalesce(a.started_at, a.call_created_at)) OVER w AS last_at,
               sum(a.duration_seconds) OVER w AS duration, sum(a.cost) OVER w AS cost,
               a.ended_reason, a.success_evaluation, a.summary, a.recording_url, a.vapi_call_id
        FROM attempt a
        WHERE a.campaign_id = (SELECT id FROM campaign WHERE name = 'exportbench')
          AND a.state <> ` + notCreatedSQL + ` AND a.outcome <> ` + capacitySQL + `
        WINDOW w AS (PARTITION BY a.contact_id)) y
    WHERE y.number = y.last_number) x ON x.contact_id = c.id
LEFT JOIN LATERAL (SELECT structured_data AS sd FROM attempt
                   WHERE contact_id = c.id AND number = x.sd_number) s ON true
WHERE c.campaign_id = (SELECT id FROM campaign WHERE name = 'exportbench')
ORDER BY c.id`

// copyResult is what the psql \copy cost.
type copyResult struct {
	Wall  time.Duration
	Rows  int
	Bytes int64
}

var copyCount = regexp.MustCompile(`(?m)^COPY (\d+)$`)

// runCopy writes copyQuery's rows to path with psql's \copy, timing the psql process.
func runCopy(ctx context.Context, psql, dbURL, path string) (*copyResult, error) {
	prog.Progress("running psql \\copy (SELECT …) TO %s …", path)
	query := strings.Join(strings.Fields(copyQuery), " ")
	copyCmd := `\copy (` + query + `) TO '` + strings.ReplaceAll(path, `'`, `''`) + `' WITH (FORMAT csv, HEADER true)`
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "--dbname="+dbURL,
		"-c", "SET jit = off", "-c", copyCmd)
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("psql \\copy failed: %w (its messages are above)", err)
	}
	m := copyCount.FindStringSubmatch(out.String())
	if m == nil {
		return nil, fmt.Errorf("psql \\copy did not report a row count; it printed %q", out.String())
	}
	res := &copyResult{Wall: wall}
	res.Rows, _ = strconv.Atoi(m[1])
	if st, err := os.Stat(path); err == nil {
		res.Bytes = st.Size()
	}
	return res, nil
}

// ---------------------------------------------------------------------------------------------
// Step 5: the report.

// exportFigures are one export's figures in the report.
type exportFigures struct {
	Args          []string `json:"args"`
	Rows          int      `json:"rows"`
	Seconds       float64  `json:"seconds"`
	CPUSeconds    float64  `json:"cpu_seconds"` // the CLI's own; the rest is waiting (mostly on Postgres)
	RowsPerSecond float64  `json:"rows_per_second"`
	PeakRSSBytes  int64    `json:"peak_rss_bytes"`
	FileBytes     int64    `json:"file_bytes"`
}

func figures(e *exportResult) exportFigures {
	return exportFigures{Args: e.Args, Rows: e.Rows, Seconds: e.Wall.Seconds(), CPUSeconds: e.CPU.Seconds(),
		RowsPerSecond: float64(e.Rows) / e.Wall.Seconds(), PeakRSSBytes: e.PeakRSSBytes, FileBytes: e.Bytes}
}

// result is the benchmark's figures, as printed and as saved (one JSON line).
type result struct {
	Time      string `json:"time"`
	Contacts  int    `json:"contacts"`
	Attempts  int    `json:"attempts"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	Database  string `json:"database"`

	SetupSeconds float64       `json:"setup_seconds"`
	Export       exportFigures `json:"export"`
	Filtered     exportFigures `json:"export_filtered"`
	AttemptsExp  exportFigures `json:"export_attempts"`

	Copy struct {
		Seconds       float64 `json:"seconds"`
		RowsPerSecond float64 `json:"rows_per_second"`
		FileBytes     int64   `json:"file_bytes"`
	} `json:"psql_copy"`

	// Ratio is the contacts export's time over the psql \copy's.
	Ratio float64 `json:"ratio"`

	Target struct {
		Contacts         int     `json:"contacts"`
		MinRowsPerSecond float64 `json:"min_rows_per_second"`
		Judged           bool    `json:"judged"` // only at Contacts contacts
		Met              bool    `json:"met"`
		RateMet          bool    `json:"rate_met"`
		// MemoryFlat: the full export's peak RSS is within 1.5x of the filtered export's,
		// which writes a seventh of the rows.
		MemoryFlat bool `json:"memory_flat"`
	} `json:"target"`
}

func newResult(contacts int, db string, setup *setupResult, full, filtered, attempts *exportResult, cp *copyResult) *result {
	r := &result{
		Time:         time.Now().UTC().Format(time.RFC3339),
		Contacts:     contacts,
		Attempts:     setup.Attempts,
		Cores:        runtime.NumCPU(),
		GoVersion:    runtime.Version(),
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
		Database:     db,
		SetupSeconds: setup.Seconds,
		Export:       figures(full),
		Filtered:     figures(filtered),
		AttemptsExp:  figures(attempts),
	}
	r.Copy.Seconds = cp.Wall.Seconds()
	r.Copy.RowsPerSecond = float64(cp.Rows) / r.Copy.Seconds
	r.Copy.FileBytes = cp.Bytes
	r.Ratio = r.Export.Seconds / r.Copy.Seconds

	t := &r.Target
	t.Contacts, t.MinRowsPerSecond = targetContacts, targetRowsPerSec
	t.RateMet = r.Export.RowsPerSecond >= targetRowsPerSec
	t.MemoryFlat = full.PeakRSSBytes > 0 && filtered.PeakRSSBytes > 0 &&
		float64(full.PeakRSSBytes) <= 1.5*float64(filtered.PeakRSSBytes)
	t.Judged = contacts == targetContacts
	t.Met = t.Judged && t.RateMet && t.MemoryFlat
	return r
}

// print writes the human report.
func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "export benchmark: %s contacts, %s calls, %d cores, %s\n",
		benchkit.Thousands(int64(r.Contacts)), benchkit.Thousands(int64(r.Attempts)), r.Cores, r.GoVersion)
	line := func(label string, f exportFigures) {
		fmt.Fprintf(w, "%-34s: %s  %s rows/s   peak RSS %s   CPU %.1f s   (%s rows, %.0f MB)\n", label,
			benchkit.Seconds(f.Seconds), benchkit.Rate(f.RowsPerSecond, 9), benchkit.Megabytes(f.PeakRSSBytes), f.CPUSeconds,
			benchkit.Thousands(int64(f.Rows)), float64(f.FileBytes)/1e6)
	}
	line("campaign export", r.Export)
	line("campaign export --filter no_answer", r.Filtered)
	line("campaign export --attempts", r.AttemptsExp)
	fmt.Fprintf(w, "%-34s: %s  %s rows/s   (%.0f MB)\n", "psql \\copy (SELECT …) TO", benchkit.Seconds(r.Copy.Seconds),
		benchkit.Rate(r.Copy.RowsPerSecond, 9), float64(r.Copy.FileBytes)/1e6)
	fmt.Fprintf(w, "%-34s: %5.2fx the time of psql \\copy of comparable columns\n", "ratio", r.Ratio)

	t := &r.Target
	goal := fmt.Sprintf(">= %s rows/s, peak RSS flat in the rows", benchkit.Thousands(int64(t.MinRowsPerSecond)))
	switch {
	case !t.Judged:
		fmt.Fprintf(w, "%-34s: %s at %s contacts: not judged on %s\n", "target", goal,
			benchkit.Thousands(int64(t.Contacts)), benchkit.Thousands(int64(r.Contacts)))
	case t.Met:
		fmt.Fprintf(w, "%-34s: %s: met\n", "target", goal)
	default:
		var why []string
		if !t.RateMet {
			why = append(why, fmt.Sprintf("%s rows/s", benchkit.Thousands(int64(r.Export.RowsPerSecond))))
		}
		if !t.MemoryFlat {
			why = append(why, fmt.Sprintf("peak RSS %s for all rows vs %s for a seventh",
				benchkit.Megabytes(r.Export.PeakRSSBytes), benchkit.Megabytes(r.Filtered.PeakRSSBytes)))
		}
		fmt.Fprintf(w, "%-34s: %s: MISSED (%s)\n", "target", goal, strings.Join(why, ", "))
	}
}
