//go:build unix

// Command webhookbench measures how many end-of-call reports per second the webhook receiver
// ingests, and their latency, and compares it with the same handler with storage switched off.
//
// It is a benchmark program that prints figures, not a timed test. Run it with
//
//	make bench-webhook                                               # 20,000 reports
//	go run ./internal/bench/webhookbench -bin bin/campaign -reports 1000   # quick smoke run
//
// after `make build` (the binary is used only to find the managed local Postgres). It:
//
//  1. creates a scratch database on the server (dropped at the end, even after an error or an
//     interrupt) and migrates it with migrations.Up;
//  2. starts the receiver as `campaign serve` mounts it: webhook.NewHandler with a jobs.Recorder
//     on a campaign.Store, per-campaign secrets looked up in the database, and the metrics
//     observer, at /vapi/webhook on a real HTTP server on a loopback port;
//  3. imports a running campaign of as many contacts as reports are posted (not timed), and
//     gives each contact a live call: an attempt in state created with a Vapi call id, as the
//     dialer leaves it after POST /call;
//  4. builds realistic end-of-call reports of 10 to 30 KB: the call as POST /call created it
//     (jobs.CreateCallRequest: name, metadata, server settings, variables), costs, analysis
//     with structured data, and a conversation of 15 to 45 turns carried three times, as Vapi
//     does (artifact.transcript, artifact.messages, and the legacy transcript and messages);
//  5. from a load generator in this process, -clients concurrent clients post one report per
//     call over keep-alive connections on the loopback, each with the campaign's secret in
//     X-Vapi-Secret, and every request is timed; the first 2 x -clients requests warm up and
//     are not counted. Each report is stored raw (webhook_event) and applied (the attempt's
//     result, the contact's outcome) before the receiver answers 200;
//  6. does the same against the same handler with storage switched off: a recorder that does
//     nothing and the secret held in memory;
//  7. checks every request was answered 200 and every report stored and applied, prints a
//     short report to stdout and writes the same figures as one JSON line to
//     DIR/webhook-bench.json.
//
// The server is the one the CLI uses: DATABASE_URL when it is set, else the CLI's managed local
// Postgres, whose URL `BIN db url` prints (starting it if needed, before anything is timed).
// The load generator runs on the same machine as the receiver and Postgres, and its CPU time is
// counted in the process CPU reported. The CPU time of the scratch database's server processes
// (read from /proc when the server runs on this machine) is reported too, with the sum per
// report and the load average: on a machine shared with other work the throughput says how much
// CPU the run got, the CPU per report what ingest costs. From those costs it prints the ceiling:
// the reports per second the machine's cores could carry stored and with storage off, were they
// busy with nothing else, and so the best ratio of the two this machine allows. Progress goes to
// stderr, the report to stdout.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/bench/benchkit"
	"github.com/campaign-run/campaign/internal/metrics"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/migrations"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
	"github.com/campaign-run/campaign/webhook"
)

// targetReportsPerSecond is issue 15's target for webhook ingest, against which the ceiling line
// states the CPU budget of a report.
const targetReportsPerSecond = 3000

// Defaults of the flags.
const (
	defaultReports = 20_000
	defaultClients = 16
)

// The reports' sizes and the database pool.
const (
	minBodyBytes = 10 << 10
	maxBodyBytes = 30 << 10
	templates    = 32 // distinct report bodies; each request fills in its own call
	cliMinConns  = 8  // the CLI's floor on its pool size (cmd/campaign openDB)
	phoneNumber  = "webhookbench-phone-number"
)

// prog names this program in progress lines and scratch databases.
const prog benchkit.Program = "webhookbench"

func main() { prog.Main(run) }

// options are the command line's.
type options struct {
	benchkit.CommonFlags
	reports    int
	clients    int
	cpuProfile string
}

func run(ctx context.Context) error {
	var o options
	o.Define("the campaign binary, used only for BIN db url when DATABASE_URL is not set", "directory for the results")
	flag.IntVar(&o.reports, "reports", defaultReports, "end-of-call reports posted in each of the two runs (after the warm-up)")
	flag.IntVar(&o.clients, "clients", defaultClients, "concurrent clients of the load generator")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (receiver and load generator) during the run with storage to `file`")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	switch {
	case o.reports < 1:
		return fmt.Errorf("-reports must be at least 1, got %d", o.reports)
	case o.clients < 1:
		return fmt.Errorf("-clients must be at least 1, got %d", o.clients)
	}

	ws, err := o.Workspace()
	if err != nil {
		return err
	}
	scratchURL, dbLabel, dropScratch, err := prog.Database(ctx, o.Bin)
	if err != nil {
		return err
	}
	defer dropScratch()

	pool, err := newPool(ctx, scratchURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	prog.Progress("migrating the scratch database …")
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return err
	}
	store := campaign.NewStore(pool)
	logs := &errorLog{}
	logger := slog.New(logs)

	// The receiver with storage, as `campaign serve` mounts it; its URL is the campaign's.
	m := metrics.New(store)
	rec := &jobs.Recorder{Store: store, Now: time.Now, Logger: logger, Observer: m}
	stored, err := webhook.NewHandler(webhook.Config{Recorder: rec, Secrets: rec, Now: time.Now, Logger: logger, Observer: m})
	if err != nil {
		return err
	}
	receiver, closeReceiver, err := serveWebhook(stored)
	if err != nil {
		return err
	}
	defer closeReceiver()

	warm := 2 * o.clients
	c, calls, err := setup(ctx, pool, store, receiver, warm+o.reports)
	if err != nil {
		return err
	}
	bodies, err := newBodies(ctx, store, c, calls)
	if err != nil {
		return err
	}
	prog.Progress("reports of %s to %s bytes (mean %s)", benchkit.Thousands(int64(bodies.min)),
		benchkit.Thousands(int64(bodies.max)), benchkit.Thousands(int64(bodies.mean)))

	prog.Progress("storage on: %s reports from %d clients …", benchkit.Thousands(int64(o.reports)), o.clients)
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	on, err := load(ctx, pool, receiver+jobs.WebhookPath, c.WebhookSecret, bodies, warm, o.reports, o.clients)
	if err := errors.Join(err, stopProfile()); err != nil {
		return err
	}
	check, err := checkStored(ctx, pool, c.ID)
	if err != nil {
		return err
	}

	// The same handler, storage switched off: nothing recorded, the secret held in memory.
	discard := webhook.RecorderFunc(func(context.Context, *webhook.Event) error { return nil })
	secrets := webhook.SecretsFunc(func(_ context.Context, id int64) (string, error) {
		if id == c.ID {
			return c.WebhookSecret, nil
		}
		return "", nil
	})
	mOff := metrics.New(store)
	bare, err := webhook.NewHandler(webhook.Config{Recorder: discard, Secrets: secrets, Now: time.Now, Logger: logger, Observer: mOff})
	if err != nil {
		return err
	}
	bareURL, closeBare, err := serveWebhook(bare)
	if err != nil {
		return err
	}
	defer closeBare()
	prog.Progress("storage off: %s reports from %d clients …", benchkit.Thousands(int64(o.reports)), o.clients)
	off, err := load(ctx, pool, bareURL+jobs.WebhookPath, c.WebhookSecret, bodies, warm, o.reports, o.clients)
	if err != nil {
		return err
	}

	res := newResult(&o, dbLabel, bodies, on, off, check, warm, logs.count.Load())
	res.print(os.Stdout)
	return prog.SaveJSONLine(filepath.Join(ws.Dir, "webhook-bench.json"), res)
}

// startCPUProfile starts a CPU profile of this process written to path, and returns what stops
// it; with path "" it does nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start the CPU profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("write the CPU profile: %w", err)
		}
		return nil
	}, nil
}

// newPool opens a pool on dbURL sized as the CLI sizes its own.
func newPool(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		// pgconn's message may quote the URL, password included.
		return nil, errors.New("the database URL is not a valid Postgres URL")
	}
	cfg.MaxConns = max(cfg.MaxConns, cliMinConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the scratch database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the scratch database: %w", err)
	}
	return pool, nil
}

// serveWebhook serves h at jobs.WebhookPath on a loopback port, as serve's mux does.
func serveWebhook(h http.Handler) (string, func(), error) {
	mux := http.NewServeMux()
	mux.Handle(jobs.WebhookPath, h)
	url, closeFn, err := benchkit.Serve(mux)
	if err != nil {
		return "", nil, fmt.Errorf("start the webhook receiver: %w", err)
	}
	return url, closeFn, nil
}

// errorLog is the receiver's slog.Handler: it counts the records at warn level and above and
// prints the first few, so that a failing run shows why without flooding the terminal.
type errorLog struct {
	count atomic.Int64
}

// Enabled implements slog.Handler.
func (*errorLog) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelWarn }

// Handle implements slog.Handler.
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	if n := l.count.Add(1); n <= 10 {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String()); return true })
		prog.Progress("log %s %s%s", r.Level, r.Message, b.String())
	}
	return nil
}

// WithAttrs implements slog.Handler.
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }

// WithGroup implements slog.Handler.
func (l *errorLog) WithGroup(string) slog.Handler { return l }

// ---------------------------------------------------------------------------------------------
// The campaign and its live calls.

// liveCall is a contact's call in progress, whose report the load generator posts.
type liveCall struct {
	contactID int64
	key       string // the attempt key: the call's name
	callID    string
}

// setup imports a running campaign of n contacts whose public URL is receiver, and gives every
// contact a live call, as the dialer leaves it after POST /call: the attempt in state created
// with its call id, the contact in_call. It returns the campaign and the calls in contact order.
func setup(ctx context.Context, pool *pgxpool.Pool, store *campaign.Store, receiver string, n int) (*campaign.Campaign, []liveCall, error) {
	prog.Progress("importing %s contacts …", benchkit.Thousands(int64(n)))
	csv, err := benchkit.ContactsCSV(n)
	if err != nil {
		return nil, nil, err
	}
	reader, err := campaign.NewReader(bytes.NewReader(csv), campaign.ReaderOptions{})
	if err != nil {
		return nil, nil, err
	}
	secret := make([]byte, 24)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails on supported platforms
	c, err := store.Import(ctx, campaign.NewCampaign{Name: "webhookbench", Mode: campaign.ModeService, Settings: campaign.Settings{
		AssistantID: vapitest.AssistantCollections, PhoneNumberID: phoneNumber,
		PublicURL: receiver, WebhookSecret: hex.EncodeToString(secret),
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US",
		RatePerSecond: 0, MaxConcurrent: n, MaxAttempts: 1, RetryPolicy: "none",
	}}, campaign.ImportInput{Reader: reader})
	if err != nil {
		return nil, nil, err
	}
	if c.ImportStats.Accepted != n {
		return nil, nil, fmt.Errorf("the import accepted %d contacts of %d", c.ImportStats.Accepted, n)
	}
	if err := store.Start(ctx, c.ID, time.Now()); err != nil {
		return nil, nil, err
	}

	prog.Progress("placing their calls in the database …")
	rows, err := pool.Query(ctx, `SELECT id FROM contact WHERE campaign_id = $1 ORDER BY id`, c.ID)
	if err != nil {
		return nil, nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, nil, err
	}
	calls := make([]liveCall, len(ids))
	created := time.Now().Add(-time.Minute)
	attempts := make([][]any, len(ids))
	for i, id := range ids {
		calls[i] = liveCall{contactID: id, key: campaign.AttemptKey(c.ID, id, 1), callID: callID(c.ID, id)}
		attempts[i] = []any{c.ID, id, 1, calls[i].key, campaign.AttemptCreated, calls[i].callID, created, created, created, "in-progress"}
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"attempt"},
			[]string{"campaign_id", "contact_id", "number", "key", "state", "vapi_call_id", "created_at", "call_created_at", "updated_at", "last_status"},
			pgx.CopyFromRows(attempts)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE contact SET state = $3, attempts = 1, updated_at = $2 WHERE campaign_id = $1`,
			c.ID, created, campaign.ContactInCall)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("place the calls: %w", err)
	}
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) contact, attempt`); err != nil {
		return nil, nil, fmt.Errorf("vacuum: %w", err)
	}
	c, err = store.Campaign(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	return c, calls, nil
}

// callID is a Vapi call id (a version-4 uuid) unique to the campaign and contact.
func callID(campaignID, contactID int64) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", campaignID, contactID)
}

// ---------------------------------------------------------------------------------------------
// The reports.

// bodies builds the report of every call from a few templates: a template is the full report of
// one call, cut where its call id, attempt key and contact id go.
type bodies struct {
	calls          []liveCall
	templates      []template
	min, max, mean int
}

// template is a report cut into parts; between part i and i+1 goes the value of field[i].
type template struct {
	parts  [][]byte
	fields []string // "call", "key" or "contact"
}

// marks stand for the per-call values in a template.
var marks = regexp.MustCompile(`@@(call|key|contact)@@`)

// render appends the report of call k to buf.
func (b *bodies) render(buf []byte, k int) []byte {
	t := &b.templates[k%len(b.templates)]
	c := &b.calls[k]
	for i, p := range t.parts {
		buf = append(buf, p...)
		if i < len(t.fields) {
			switch t.fields[i] {
			case "call":
				buf = append(buf, c.callID...)
			case "key":
				buf = append(buf, c.key...)
			case "contact":
				buf = strconv.AppendInt(buf, c.contactID, 10)
			}
		}
	}
	return buf
}

// newBodies builds the templates from the campaign's first contacts, with sizes spread evenly
// from minBodyBytes to maxBodyBytes, and checks that a rendered report decodes to its own call.
func newBodies(ctx context.Context, store *campaign.Store, c *campaign.Campaign, calls []liveCall) (*bodies, error) {
	b := &bodies{calls: calls, min: math.MaxInt}
	total := 0
	for k := range min(templates, len(calls)) {
		ct, err := store.Contact(ctx, calls[k].contactID)
		if err != nil {
			return nil, err
		}
		target := minBodyBytes + k*(maxBodyBytes-minBodyBytes-1024)/max(templates-1, 1)
		body, err := report(c, ct, calls[k], k, target)
		if err != nil {
			return nil, err
		}
		b.min, b.max, total = min(b.min, len(body)), max(b.max, len(body)), total+len(body)
		for _, r := range [][2]string{{calls[k].callID, "@@call@@"}, {calls[k].key, "@@key@@"},
			{`"contact_id":` + strconv.FormatInt(calls[k].contactID, 10), `"contact_id":@@contact@@`}} {
			body = bytes.ReplaceAll(body, []byte(r[0]), []byte(r[1]))
		}
		var t template
		last := 0
		for _, m := range marks.FindAllSubmatchIndex(body, -1) {
			t.parts = append(t.parts, body[last:m[0]])
			t.fields = append(t.fields, string(body[m[2]:m[3]]))
			last = m[1]
		}
		t.parts = append(t.parts, body[last:])
		b.templates = append(b.templates, t)
	}
	b.mean = total / len(b.templates)
	// The last call's report, rendered from a template made for another call, must name it.
	k := len(calls) - 1
	msg, err := vapi.ParseServerMessage(b.render(nil, k))
	if err != nil {
		return nil, fmt.Errorf("a rendered report does not decode: %w", err)
	}
	if r := msg.EndOfCallReport; r == nil || r.Call == nil || r.Call.ID != calls[k].callID || r.Call.Name != calls[k].key {
		return nil, errors.New("a rendered report does not name its own call")
	}
	return b, nil
}

// lines are what the two sides of a payment-reminder conversation say, in turn.
var lines = [2][]string{
	{ // the assistant
		"Thanks for confirming. I'm calling about the balance on your account, which was due at the end of last month.",
		"I understand. Would it help if we split the remaining amount into two payments over the next few weeks?",
		"Of course. I can see the last payment we received was in September, and there is an outstanding amount since then.",
		"That's no problem at all. Could you tell me which day this week would work best for you to make the payment?",
		"Great, I've made a note of that. You'll receive a confirmation by text message with a link to pay online.",
		"Just so you know, you can also pay by phone or at any branch, whichever is easiest for you.",
		"I'm sorry to hear that. If your circumstances have changed, we can look at a payment plan that fits your budget.",
		"Let me read that back to make sure I have it right: the full amount on Friday, by card, through the link we send.",
	},
	{ // the customer
		"Yes, I know, I've been meaning to call you about that. Things have been a bit hectic with work lately.",
		"Hmm, I think I can pay most of it on Friday when I get paid, and maybe the rest at the end of the month.",
		"Can you tell me exactly how much is outstanding? I thought I had paid part of it already in October.",
		"Friday would be best. Is it possible to do it online? I don't really have time to go to a branch.",
		"Okay, that sounds fine. Will I get a reminder before the second payment is due, or do I need to remember?",
		"Sorry, can you repeat that? The line was breaking up a little bit on my end.",
		"Actually I changed banks recently, so I'll need to update my card details before I can pay anything.",
		"Yes, that's right. Thank you for being so understanding about it, I really appreciate it.",
	},
}

// report builds the end-of-call report of call, with a conversation long enough for the body to
// reach target bytes, as JSON: {"message": {...}}.
func report(c *campaign.Campaign, ct *campaign.Contact, call liveCall, k, target int) ([]byte, error) {
	dto, err := jobs.CreateCallRequest(c, ct, 1)
	if err != nil {
		return nil, err
	}
	created := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Minute)
	started := created.Add(4 * time.Second)
	snapshot := &vapi.Call{
		ID: call.callID, OrgID: vapitest.DefaultOrgID, Type: vapi.CallTypeOutboundPhoneCall, Name: dto.Name,
		Status: vapi.CallStatusQueued, CreatedAt: created, UpdatedAt: created,
		AssistantID: dto.AssistantID, PhoneNumberID: dto.PhoneNumberID,
		Customer: dto.Customer, AssistantOverrides: dto.AssistantOverrides,
	}
	recording := "https://storage.vapi.ai/" + call.callID
	rep := vapi.EndOfCallReport{
		Type: vapi.ServerMessageTypeEndOfCallReport, EndedReason: []string{"customer-ended-call", "assistant-ended-call"}[k%2],
		StartedAt: started, Call: snapshot, Customer: dto.Customer,
		PhoneNumber: &vapi.PhoneNumber{ID: dto.PhoneNumberID, Number: "+12015550000", Provider: "twilio", Name: "Outbound line"},
		Analysis: &vapi.Analysis{
			Summary:           "The assistant reminded the customer of the balance due; the customer agreed to pay in full on Friday by card.",
			StructuredData:    json.RawMessage(`{"will_pay":true,"amount_promised":120.5,"pay_by":"2026-11-27","channel":"card"}`),
			SuccessEvaluation: "true",
		},
		Artifact: &vapi.Artifact{
			RecordingURL: recording + "-mono.wav", StereoRecordingURL: recording + "-stereo.wav",
			Recording: &vapi.Recording{StereoURL: recording + "-stereo.wav", Mono: &vapi.MonoRecording{
				CombinedURL: recording + "-mono.wav", AssistantURL: recording + "-assistant.wav", CustomerURL: recording + "-customer.wav"}},
			VariableValues: dto.AssistantOverrides.VariableValues,
		},
	}
	turns := []vapi.ArtifactMessage{{Role: "system", Message: "You are Alex, a polite assistant for Acme. Remind the customer of the balance due and ask when they will pay.",
		Time: ms(started)}}
	var transcript []string
	at := started.Add(1500 * time.Millisecond)
	for i := 0; ; i++ {
		side := i % 2
		text := lines[side][(i/2+k)%len(lines[side])]
		dur := time.Duration(60*len(text)) * time.Millisecond
		role, label := []string{"bot", "user"}[side], []string{"AI", "User"}[side]
		turns = append(turns, vapi.ArtifactMessage{Role: role, Message: text, Time: ms(at), EndTime: ms(at.Add(dur)),
			SecondsFromStart: at.Sub(started).Seconds(), Duration: float64(dur.Milliseconds())})
		transcript = append(transcript, label+": "+text)
		at = at.Add(dur + 700*time.Millisecond)

		ended := at.Add(2 * time.Second)
		secs := ended.Sub(started).Seconds()
		minutes := secs / 60
		cost := math.Round((0.05+minutes*0.09)*1e4) / 1e4
		rep.EndedAt, rep.Timestamp = ended, vapi.Timestamp{Time: ended.Add(5 * time.Second)}
		rep.Cost, rep.DurationSeconds = &cost, &secs
		rep.DurationMs, rep.DurationMinutes = ptr(secs*1000), ptr(math.Round(minutes*1e4)/1e4)
		rep.Costs = []vapi.Cost{
			{Type: "transport", Minutes: minutes, Cost: minutes * 0.0085},
			{Type: "transcriber", Minutes: minutes, Cost: minutes * 0.0101},
			{Type: "model", PromptTokens: 800 + 1500*minutes, CompletionTokens: 60 + 120*minutes, Cost: 0.002 + minutes*0.004},
			{Type: "voice", Characters: float64(len(strings.Join(transcript, ""))), Cost: minutes * 0.018},
			{Type: "vapi", SubType: "normal", Minutes: minutes, Cost: minutes * 0.05},
			{Type: "analysis", PromptTokens: 900, CompletionTokens: 60, Cost: 0.0004},
		}
		rep.CostBreakdown = &vapi.CostBreakdown{Transport: minutes * 0.0085, STT: minutes * 0.0101, LLM: 0.002 + minutes*0.004,
			TTS: minutes * 0.018, Vapi: minutes * 0.05, Total: cost, AnalysisCostBreakdown: map[string]float64{"summary": 0.0004}}
		rep.Artifact.Transcript = strings.Join(transcript, "\n") + "\n"
		rep.Artifact.Messages = turns
		rep.Summary, rep.Transcript, rep.Messages = rep.Analysis.Summary, rep.Artifact.Transcript, turns
		rep.RecordingURL, rep.StereoRecordingURL = rep.Artifact.RecordingURL, rep.Artifact.StereoRecordingURL
		body, err := json.Marshal(map[string]any{"message": rep})
		if err != nil {
			return nil, err
		}
		if len(body) >= target {
			return body, nil
		}
	}
}

func ms(t time.Time) float64 { return float64(t.UnixMilli()) }

func ptr(f float64) *float64 { return &f }

// ---------------------------------------------------------------------------------------------
// The load generator.

// loadResult is what one run of the load generator measured.
type loadResult struct {
	Wall time.Duration
	CPU  time.Duration // this process: receiver and load generator
	// PostgresCPU is the CPU time of the scratch database's server processes (0 when their
	// /proc entries cannot be read, e.g. a remote server).
	PostgresCPU time.Duration
	Latencies   []time.Duration
	Bytes       int64
	Non200      int
	FirstErr    string
	// LoadAverage is the machine's 1-minute load average when the run ended.
	LoadAverage float64
}

// load posts the reports of calls [0, warm) untimed, then of calls [warm, warm+n) timed, from
// clients concurrent clients over keep-alive connections, each request with secret.
func load(ctx context.Context, pool *pgxpool.Pool, url, secret string, b *bodies, warm, n, clients int) (*loadResult, error) {
	transport := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}

	res := &loadResult{Latencies: make([]time.Duration, n)}
	var (
		mu      sync.Mutex
		bytesIn atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		res.Non200++
		if res.FirstErr == "" {
			res.FirstErr = fmt.Sprintf(format, args...)
		}
	}
	post := func(buf []byte) (time.Duration, bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(buf))
		if err != nil {
			fail("%v", err)
			return 0, false
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(webhook.SecretHeader, secret)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			fail("%v", err)
			return 0, false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			fail("HTTP %d", resp.StatusCode)
			return took, false
		}
		return took, true
	}
	phase := func(from, to int, timed bool) {
		var (
			next atomic.Int64
			wg   sync.WaitGroup
		)
		next.Store(int64(from))
		for range clients {
			wg.Go(func() {
				var buf []byte
				for ctx.Err() == nil {
					k := int(next.Add(1) - 1)
					if k >= to {
						return
					}
					buf = b.render(buf[:0], k)
					took, _ := post(buf)
					if timed {
						res.Latencies[k-from] = took
						bytesIn.Add(int64(len(buf)))
					}
				}
			})
		}
		wg.Wait()
	}
	phase(0, warm, false)
	if res.Non200 > 0 {
		return nil, fmt.Errorf("%d of %d warm-up requests failed; the first: %s", res.Non200, warm, res.FirstErr)
	}
	pg0, err := benchkit.ReadBackendCPU(ctx, pool)
	if err != nil {
		return nil, err
	}
	cpu0, start := benchkit.ProcessCPU(), time.Now()
	phase(warm, warm+n, true)
	res.Wall, res.CPU = time.Since(start), benchkit.ProcessCPU()-cpu0
	pg1, err := benchkit.ReadBackendCPU(ctx, pool)
	if err != nil {
		return nil, err
	}
	res.PostgresCPU = pg1.Since(pg0)
	res.Bytes = bytesIn.Load()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.LoadAverage = loadAverage()
	prog.Progress("  done in %.1f s", res.Wall.Seconds())
	return res, nil
}

// loadAverage is the machine's 1-minute load average, from /proc/loadavg; 0 when unreadable.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), " ")
	l, _ := strconv.ParseFloat(first, 64)
	return l
}

// stored is what the run with storage left in the database.
type stored struct {
	Events      int // webhook events stored
	Unapplied   int // stored events not applied
	ApplyErrors int // applied events that met an error
	Results     int // attempts with their report recorded
}

func checkStored(ctx context.Context, pool *pgxpool.Pool, campaignID int64) (*stored, error) {
	var s stored
	err := pool.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE applied_at IS NULL), count(*) FILTER (WHERE apply_error <> ''),
		       (SELECT count(*) FROM attempt WHERE campaign_id = $1 AND report_at IS NOT NULL)
		FROM webhook_event`, campaignID).Scan(&s.Events, &s.Unapplied, &s.ApplyErrors, &s.Results)
	if err != nil {
		return nil, fmt.Errorf("count stored reports: %w", err)
	}
	return &s, nil
}

// ---------------------------------------------------------------------------------------------
// The report.

// runFigures are one run's figures.
type runFigures struct {
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"` // this process: receiver and load generator
	// PostgresCPUSeconds is the CPU time of the scratch database's server processes.
	PostgresCPUSeconds float64 `json:"postgres_cpu_seconds"`
	// LoadAverage is the machine's 1-minute load average at the end of the run.
	LoadAverage      float64 `json:"load_average"`
	ReportsPerSecond float64 `json:"reports_per_second"`
	MBPerSecond      float64 `json:"mb_per_second"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	MaxMs            float64 `json:"max_ms"`
	Failed           int     `json:"failed"` // not answered 200
}

func figures(r *loadResult) runFigures {
	lat := slices.Clone(r.Latencies)
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)].Microseconds()) / 1000
	}
	return runFigures{
		Seconds: r.Wall.Seconds(), CPUSeconds: r.CPU.Seconds(), PostgresCPUSeconds: r.PostgresCPU.Seconds(),
		LoadAverage:      r.LoadAverage,
		ReportsPerSecond: float64(len(r.Latencies)) / r.Wall.Seconds(),
		MBPerSecond:      float64(r.Bytes) / 1e6 / r.Wall.Seconds(),
		P50Ms:            q(0.50), P99Ms: q(0.99), MaxMs: q(1),
		Failed: r.Non200,
	}
}

// result is the benchmark's figures, as printed and as saved (one JSON line).
type result struct {
	Time      string `json:"time"`
	Reports   int    `json:"reports"`
	Warmup    int    `json:"warmup"`
	Clients   int    `json:"clients"`
	BodyMin   int    `json:"body_min_bytes"`
	BodyMax   int    `json:"body_max_bytes"`
	BodyMean  int    `json:"body_mean_bytes"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	Database  string `json:"database"`

	StorageOn  runFigures `json:"storage_on"`
	StorageOff runFigures `json:"storage_off"`
	Stored     stored     `json:"stored"`

	// Ratio is the storage-off throughput over the storage-on one.
	Ratio float64 `json:"ratio"`
	// Ceiling is what the machine's cores could carry at the CPU costs measured.
	Ceiling ceiling `json:"ceiling"`

	LogWarnings int64    `json:"log_warnings"` // the receiver's warnings and errors
	Warnings    []string `json:"warnings"`     // anything that suggests the run did not go as it should
}

func newResult(o *options, db string, b *bodies, on, off *loadResult, s *stored, warm int, logged int64) *result {
	r := &result{
		Time: time.Now().UTC().Format(time.RFC3339), Reports: o.reports, Warmup: warm, Clients: o.clients,
		BodyMin: b.min, BodyMax: b.max, BodyMean: b.mean,
		Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Database: db,
		StorageOn: figures(on), StorageOff: figures(off), Stored: *s, LogWarnings: logged, Warnings: []string{},
	}
	if r.StorageOn.ReportsPerSecond > 0 {
		r.Ratio = r.StorageOff.ReportsPerSecond / r.StorageOn.ReportsPerSecond
	}
	r.Ceiling = newCeiling(r.Cores, o.reports, r.StorageOn, r.StorageOff)
	warn := func(format string, args ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...)) }
	if on.Non200 > 0 {
		warn("storage on: %d requests not answered 200; the first: %s", on.Non200, on.FirstErr)
	}
	if off.Non200 > 0 {
		warn("storage off: %d requests not answered 200; the first: %s", off.Non200, off.FirstErr)
	}
	if want := warm + o.reports - on.Non200; s.Events != want || s.Results != want {
		warn("%d reports answered 200, but %d events stored and %d results recorded", want, s.Events, s.Results)
	}
	if s.Unapplied > 0 || s.ApplyErrors > 0 {
		warn("%d stored events not applied, %d applied with an error", s.Unapplied, s.ApplyErrors)
	}
	if logged > 0 {
		warn("the receiver logged %d warnings or errors (the first are on stderr)", logged)
	}
	return r
}

// ceiling is the argument of what the machine could do at best: the CPU time a report costs,
// with storage and without, and the reports per second the machine's cores carry at those costs
// when nothing else runs and nothing waits (an upper bound: the load generator's CPU counts in
// this process's, and on a shared machine the CPU times measured include others' interference).
type ceiling struct {
	// PostgresMs is the scratch database's server CPU a report stored; ProcessOnMs and
	// ProcessOffMs this process's (receiver and load generator) with storage on and off.
	PostgresMs   float64 `json:"postgres_ms_per_report"`
	ProcessOnMs  float64 `json:"process_ms_per_report"`
	ProcessOffMs float64 `json:"process_off_ms_per_report"`
	// OnPerSecond and OffPerSecond are the reports per second the cores carry at those costs.
	OnPerSecond  float64 `json:"on_reports_per_second"`
	OffPerSecond float64 `json:"off_reports_per_second"`
	// Ratio is OffPerSecond over OnPerSecond: the best storage-off/storage-on ratio the costs allow.
	Ratio float64 `json:"ratio"`
}

func newCeiling(cores, reports int, on, off runFigures) ceiling {
	perReport := func(seconds float64) float64 { return 1000 * seconds / float64(reports) }
	c := ceiling{PostgresMs: perReport(on.PostgresCPUSeconds), ProcessOnMs: perReport(on.CPUSeconds),
		ProcessOffMs: perReport(off.CPUSeconds)}
	if on := c.PostgresMs + c.ProcessOnMs; on > 0 {
		c.OnPerSecond = float64(cores) * 1000 / on
	}
	if c.ProcessOffMs > 0 {
		c.OffPerSecond = float64(cores) * 1000 / c.ProcessOffMs
	}
	if c.OnPerSecond > 0 {
		c.Ratio = c.OffPerSecond / c.OnPerSecond
	}
	return c
}

// print writes the human report.
func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "webhook benchmark: %s end-of-call reports of %.1f-%.1f KB (mean %.1f KB), %d clients on loopback, %d cores, %s\n",
		benchkit.Thousands(int64(r.Reports)), float64(r.BodyMin)/1024, float64(r.BodyMax)/1024, float64(r.BodyMean)/1024,
		r.Clients, r.Cores, r.GoVersion)
	line := func(label string, f runFigures) {
		fmt.Fprintf(w, "%-28s: %s %s reports/s  p50 %6.2f ms  p99 %6.2f ms  max %6.1f ms  (%.0f MB/s; CPU %.1f s here, %.1f s Postgres: %.2f ms a report; load %.1f)\n",
			label, benchkit.Seconds(f.Seconds), benchkit.Rate(f.ReportsPerSecond, 6), f.P50Ms, f.P99Ms, f.MaxMs, f.MBPerSecond,
			f.CPUSeconds, f.PostgresCPUSeconds, 1000*(f.CPUSeconds+f.PostgresCPUSeconds)/float64(r.Reports), f.LoadAverage)
	}
	line("receiver, stored and applied", r.StorageOn)
	line("same handler, storage off", r.StorageOff)
	fmt.Fprintf(w, "%-28s: %5.1fx the throughput with storage on\n", "ratio", r.Ratio)
	c := r.Ceiling
	fmt.Fprintf(w, "%-28s: Postgres %.2f ms + this process %.2f ms CPU a report stored (storage off: %.2f ms); %d cores carry at most %s reports/s stored, %s storage off: %.2fx at best; %s reports/s would leave %.2f ms a report in all\n",
		"ceiling", c.PostgresMs, c.ProcessOnMs, c.ProcessOffMs, r.Cores, benchkit.Thousands(int64(c.OnPerSecond)),
		benchkit.Thousands(int64(c.OffPerSecond)), c.Ratio, benchkit.Thousands(targetReportsPerSecond),
		float64(r.Cores)*1000/targetReportsPerSecond)
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "%-28s: %s\n", "warning", s)
	}
}
