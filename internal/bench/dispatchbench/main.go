//go:build unix

// Command dispatchbench measures how many call lifecycles per second the campaign runner carries
// end to end, and compares it with River's bare throughput for no-op jobs on the same database.
//
// It is a benchmark program that prints figures, not a timed test. Run it with
//
//	make bench-dispatch                                               # 20,000 contacts
//	go run ./internal/bench/dispatchbench -bin bin/campaign -contacts 2000   # quick smoke run
//
// after `make build` (the binary is used only to find the managed local Postgres). It:
//
//  1. creates a scratch database on the server (dropped at the end, even after an error or an
//     interrupt, so every run starts from the same state and the user's campaigns are never
//     touched) and migrates it with migrations.Up;
//  2. starts, in this process, the Vapi simulator (vapitest) on a loopback HTTP server, with a
//     concurrent-call limit of -cap, no request-rate limit, no faults and a time scale of
//     -time-scale (by default calls last a few milliseconds: the simulator adds next to no
//     latency), and the webhook receiver (webhook.NewHandler with jobs.Recorder) on another;
//  3. imports -contacts distinct, valid US numbers into a campaign (not timed) with no rate
//     limit, a live-call cap of -cap, one call per contact (no retries, no callbacks), the
//     window "always" and the receiver as its public URL;
//  4. sets the campaign running, starts one runner of it (jobs.NewRunner, -dial-workers dial
//     workers) and times it from its start until campaign.Store.Progress says every contact is
//     final. A lifecycle is one call: the journal row, POST /call, the status-update webhooks
//     and the end-of-call report, each stored and applied; the figure is contacts with a
//     recorded result (attempt.report_at set) per second. It also counts the webhook events
//     stored (table webhook_event) and checks what the simulator saw: the calls placed, the
//     highest live count, the webhook deliveries the receiver refused;
//  5. on the same database, with a pool of the same size, runs a separate River client with a
//     no-op worker (MaxWorkers 200, FetchCooldown 2 ms, as River's own benchmark): -noop-jobs
//     jobs are inserted with InsertManyFast (timed apart), then the client is started and timed
//     until the last job's completion event;
//  6. prints a short report to stdout, with the CPU time per lifecycle of this process and of
//     the scratch database's server processes (read from /proc, see benchkit.ReadBackendCPU) and
//     the ceiling it implies: the machine's cores over that CPU time, the most lifecycles a
//     second the machine could carry if nothing but CPU held them back; and writes the same
//     figures as one JSON line to DIR/dispatch-bench.json.
//
// The ratio is the runner's time per contact over River's time per no-op job: how many bare
// River jobs one call lifecycle costs.
//
// The server is the one the CLI uses: DATABASE_URL when it is set, else the CLI's managed local
// Postgres, whose URL `BIN db url` prints (starting it if needed, before anything is timed).
// Database pools are sized as the CLI sizes its own (the URL's pool_max_conns or pgx's default,
// at least 8) unless -db-conns says otherwise. The simulator sends webhooks over a keep-alive
// client with up to -cap idle connections, as a fleet of senders would, so that connection
// churn on the loopback is not what is measured.
//
// Progress, and the runner's warnings and errors (the first few of each, then a count), go to
// stderr; the report goes to stdout. The exit status is non-zero only when a step fails or the
// campaign does not finish within -timeout; anything odd (a result missing, a refused webhook,
// the cap exceeded, warnings logged) is reported as a warning in the report and the JSON.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/bench/benchkit"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/migrations"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
	"github.com/campaign-run/campaign/webhook"
)

// Defaults of the flags.
const (
	defaultContacts    = 20_000
	defaultCap         = 500
	defaultTimeScale   = 100_000
	defaultNoopJobs    = 20_000
	defaultDialWorkers = 200
)

// Settings of the runner and of River's no-op run.
const (
	hopperInterval    = 100 * time.Millisecond
	reconcileInterval = 500 * time.Millisecond
	progressPoll      = 250 * time.Millisecond // how often Store.Progress is read while timing, as `campaign run` does
	progressEvery     = 5 * time.Second        // how often a progress line is printed
	stallAfter        = 20 * time.Second       // no contact final for this long: say so, with what Postgres is doing
	cliMinConns       = 8                      // the CLI's floor on its pool size (cmd/campaign openDB)

	noopQueue       = "dispatchbench_noop"
	noopMaxWorkers  = 200
	noopCooldown    = 2 * time.Millisecond
	noopInsertBatch = 2_000

	webhookSecret = "dispatchbench-secret"
	phoneNumberID = "dispatchbench-phone-number"
	simSeed       = 1
)

// prog names this program in progress lines and scratch databases.
const prog benchkit.Program = "dispatchbench"

func main() { prog.Main(run) }

// options are the command line's.
type options struct {
	benchkit.CommonFlags
	contacts    int
	cap         int
	timeScale   float64
	noopJobs    int
	dialWorkers int
	dbConns     int
	timeout     time.Duration
	cpuProfile  string
}

func run(ctx context.Context) error {
	var o options
	o.Define("the campaign binary, used only for BIN db url when DATABASE_URL is not set", "directory for the results")
	flag.IntVar(&o.contacts, "contacts", defaultContacts, "contacts in the campaign")
	flag.IntVar(&o.cap, "cap", defaultCap, "the campaign's live-call cap, and the simulator's concurrency limit")
	flag.Float64Var(&o.timeScale, "time-scale", defaultTimeScale, "the simulator's time scale (100000: a four-minute call lasts 2.4 ms)")
	flag.IntVar(&o.noopJobs, "noop-jobs", defaultNoopJobs, "no-op jobs in River's bare-throughput run")
	flag.IntVar(&o.dialWorkers, "dial-workers", defaultDialWorkers, "dial jobs the runner works at once (jobs.Config.DialWorkers)")
	flag.IntVar(&o.dbConns, "db-conns", 0, "connections in each database pool (0: as the CLI, the URL's pool_max_conns or pgx's default, at least 8)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up on the campaign run after this long")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the campaign run (this process: runner, receiver, simulator) to this file")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	switch {
	case o.contacts < 1:
		return fmt.Errorf("-contacts must be at least 1, got %d", o.contacts)
	case o.cap < 1:
		return fmt.Errorf("-cap must be at least 1, got %d", o.cap)
	case o.timeScale <= 0:
		return fmt.Errorf("-time-scale must be positive, got %g", o.timeScale)
	case o.noopJobs < 1:
		return fmt.Errorf("-noop-jobs must be at least 1, got %d", o.noopJobs)
	case o.dialWorkers < 1:
		return fmt.Errorf("-dial-workers must be at least 1, got %d", o.dialWorkers)
	case o.dbConns < 0:
		return fmt.Errorf("-db-conns must not be negative, got %d", o.dbConns)
	}

	ws, err := o.Workspace()
	if err != nil {
		return err
	}

	csv, err := benchkit.ContactsCSV(o.contacts)
	if err != nil {
		return err
	}

	// The server the CLI uses is resolved first, so that starting the managed Postgres is never
	// timed. Each run works in a scratch database of its own on that server, dropped at the end:
	// repeated runs then measure the same thing (no bloat from earlier runs' rows, no River jobs
	// left over) and never touch the campaigns in the user's database.
	scratchURL, dbLabel, dropScratch, err := prog.Database(ctx, o.Bin)
	if err != nil {
		return err
	}
	defer dropScratch()

	logs := newLogCounter(os.Stderr, slog.LevelWarn)
	cr, err := runCampaign(ctx, &o, scratchURL, csv, logs)
	if err != nil {
		return err
	}
	rr, err := runNoop(ctx, &o, scratchURL, logs)
	if err != nil {
		return err
	}
	logs.summary()

	res := newResult(&o, dbLabel, cr, rr, logs)
	res.print(os.Stdout)
	return prog.SaveJSONLine(filepath.Join(ws.Dir, "dispatch-bench.json"), res)
}

// ---------------------------------------------------------------------------------------------
// The database.

// newPool opens a pool on dbURL sized by -db-conns, or as the CLI sizes its own.
func newPool(ctx context.Context, dbURL string, conns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		// pgconn's message may quote the URL, password included.
		return nil, errors.New("the database URL is not a valid Postgres URL")
	}
	if conns > 0 {
		cfg.MaxConns = int32(conns)
	} else if cfg.MaxConns < cliMinConns {
		cfg.MaxConns = cliMinConns
	}
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

// ---------------------------------------------------------------------------------------------
// The campaign run.

// campaignResult is what the end-to-end run did and cost.
type campaignResult struct {
	Wall time.Duration
	CPU  time.Duration // this process: runner, receiver and simulator together
	// PostgresCPU is the CPU time of the scratch database's server processes (0 when their
	// /proc entries cannot be read, e.g. a remote server).
	PostgresCPU time.Duration
	MachineCPU  float64 // busy fraction of all the machine's cores over the run (-1: unknown)
	PoolConns   int

	Contacts        int
	Final           int
	Results         int // contacts with a recorded result (attempt.report_at set)
	Reports         int // attempts with report_at set
	Attempts        int
	NotCreated      int
	WebhookEvents   int
	EventErrors     int // stored events whose application met an error (apply_error set)
	ByOutcome       map[string]int
	CallsPlaced     int // calls the simulator created
	ConcurrencyHits int // calls the simulator refused for its concurrency limit
	MaxLive         int
	Deliveries      int // webhook deliveries the simulator attempted
	FailedDelivery  int // deliveries not answered 2xx (transport error or refusal)
	DialJobs        map[string]int
	DialJobErrors   int
}

// runCampaign imports the contacts, runs them through one runner against the simulator, and
// gathers the figures.
func runCampaign(ctx context.Context, o *options, dbURL string, csv []byte, logs *logCounter) (*campaignResult, error) {
	pool, err := newPool(ctx, dbURL, o.dbConns)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	prog.Progress("migrating the scratch database …")
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return nil, err
	}
	store := campaign.NewStore(pool)

	// The simulator: no latency to speak of, no request-rate limit, no faults.
	hookTransport := &http.Transport{MaxIdleConns: o.cap, MaxIdleConnsPerHost: o.cap, IdleConnTimeout: time.Minute}
	defer hookTransport.CloseIdleConnections()
	sim := vapitest.New(vapitest.Config{
		Seed:             simSeed,
		TimeScale:        o.timeScale,
		ConcurrencyLimit: o.cap,
		RequestRate:      -1,
		HTTPClient:       &http.Client{Transport: hookTransport},
	})
	defer sim.Close()
	simURL, closeSim, err := benchkit.Serve(sim)
	if err != nil {
		return nil, fmt.Errorf("start the simulator: %w", err)
	}
	defer closeSim()

	// The webhook receiver, as `campaign run` mounts it.
	logger := slog.New(logs)
	rec := &jobs.Recorder{Store: store, Now: time.Now, Logger: logger}
	handler, err := webhook.NewHandler(webhook.Config{Recorder: rec, Secrets: rec, Now: time.Now, Logger: logger})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(jobs.WebhookPath, handler)
	receiverURL, closeReceiver, err := benchkit.Serve(mux)
	if err != nil {
		return nil, fmt.Errorf("start the webhook receiver: %w", err)
	}
	defer closeReceiver()

	prog.Progress("importing %s contacts …", benchkit.Thousands(int64(o.contacts)))
	reader, err := campaign.NewReader(strings.NewReader(string(csv)), campaign.ReaderOptions{})
	if err != nil {
		return nil, err
	}
	c, err := store.Import(ctx, campaign.NewCampaign{Name: "dispatchbench", Settings: campaign.Settings{
		AssistantID: sim.Config().Assistants[0].ID, PhoneNumberID: phoneNumberID,
		PublicURL: receiverURL, WebhookSecret: webhookSecret,
		WindowSpec: "always", DefaultTimeZone: "UTC", DefaultRegion: "US",
		RatePerSecond: 0, MaxConcurrent: o.cap,
		// One call per contact: the defaults retry unanswered calls, and call back those who
		// ask, hours or days later.
		MaxAttempts: 1, RetryPolicy: "none",
	}}, campaign.ImportInput{Reader: reader})
	if err != nil {
		return nil, err
	}
	if c.ImportStats.Accepted != o.contacts {
		return nil, fmt.Errorf("the import accepted %d contacts of %d (rejected %v)", c.ImportStats.Accepted, o.contacts, c.ImportStats.Rejected)
	}
	if err := store.Start(ctx, c.ID, time.Now()); err != nil {
		return nil, err
	}

	client, err := vapi.NewClient(sim.Config().APIKey, &vapi.Config{BaseURL: simURL})
	if err != nil {
		return nil, err
	}
	// One runner of this campaign, as `campaign run` starts it.
	rc, err := jobs.NewRunner(pool, jobs.Config{
		CampaignID: c.ID, Store: store, Vapi: client, Logger: logger, RiverLogger: logger,
		HopperInterval: hopperInterval, ReconcileInterval: reconcileInterval,
		DialWorkers: o.dialWorkers,
	})
	if err != nil {
		return nil, err
	}

	prog.Progress("running the campaign: %s contacts, cap %d, %d dial workers, pool of %d connections …",
		benchkit.Thousands(int64(o.contacts)), o.cap, o.dialWorkers, pool.Config().MaxConns)
	runCtx, cancelRun := context.WithTimeout(ctx, o.timeout)
	defer cancelRun()
	stopProfile, err := startProfile(o.cpuProfile)
	if err != nil {
		return nil, err
	}
	pg0, err := benchkit.ReadBackendCPU(ctx, pool)
	if err != nil {
		stopProfile()
		return nil, err
	}
	cpu0, machine0 := benchkit.ProcessCPU(), readMachineCPU()
	start := time.Now()
	if err := rc.Start(runCtx); err != nil {
		stopProfile()
		return nil, fmt.Errorf("start the runner: %w", err)
	}
	stopRunner := func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rc.Stop(stopCtx); err != nil {
			prog.Progress("warning: stopping the runner: %v", err)
		}
	}
	p, err := waitFinal(runCtx, store, pool, c.ID, start)
	wall := time.Since(start)
	cpu := benchkit.ProcessCPU() - cpu0
	machine := machineBusy(machine0, readMachineCPU())
	pg1, pgErr := benchkit.ReadBackendCPU(ctx, pool)
	stopProfile()
	stopRunner()
	if err == nil {
		err = pgErr
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("the campaign did not finish within -timeout %s: %d of %d contacts final", o.timeout, p.FinalCount(), p.Total)
		}
		return nil, err
	}
	prog.Progress("campaign finished in %.1f s", wall.Seconds())

	r := &campaignResult{
		Wall: wall, CPU: cpu, PostgresCPU: pg1.Since(pg0), MachineCPU: machine, PoolConns: int(pool.Config().MaxConns),
		Contacts: p.Total, Final: p.FinalCount(), ByOutcome: map[string]int{},
	}
	for o, n := range p.ByOutcome {
		r.ByOutcome[string(o)] = n
	}
	// What the simulator saw first: a delivery it saw answered 2xx is stored already, so the
	// database's counts, read next, can only be higher (by deliveries still in flight).
	for _, call := range sim.Calls() {
		if call.EndedReason == vapi.EndedReasonConcurrencyLimitReached {
			r.ConcurrencyHits++
		} else {
			r.CallsPlaced++
		}
	}
	_, r.MaxLive = sim.Concurrency()
	for _, d := range sim.Deliveries() {
		r.Deliveries++
		if !d.OK() {
			r.FailedDelivery++
		}
	}
	if err := gatherCounts(ctx, pool, c.ID, r); err != nil {
		return nil, err
	}
	return r, nil
}

// waitFinal polls the campaign's progress until every contact is final, printing a progress
// line now and then, and what Postgres is busy with when nothing has moved for a while.
func waitFinal(ctx context.Context, store *campaign.Store, pool *pgxpool.Pool, id int64, start time.Time) (campaign.Progress, error) {
	tick := time.NewTicker(progressPoll)
	defer tick.Stop()
	var (
		p          campaign.Progress
		lastPrint  = start
		lastFinal  = -1
		lastMoved  = start
		printFinal int
		stallShown bool
	)
	for {
		var err error
		p, err = store.Progress(ctx, id)
		if err != nil {
			return p, err
		}
		if p.Final() {
			return p, nil
		}
		now := time.Now()
		if f := p.FinalCount(); f != lastFinal {
			lastFinal, lastMoved, stallShown = f, now, false
		}
		if now.Sub(lastPrint) >= progressEvery {
			f := p.FinalCount()
			prog.Progress("  %5.1f s: %s/%s final (%s/s over the last %.0f s), %d pending, %d queued, %d in call, %d live attempts",
				now.Sub(start).Seconds(), benchkit.Thousands(int64(f)), benchkit.Thousands(int64(p.Total)),
				benchkit.Thousands(int64(float64(f-printFinal)/now.Sub(lastPrint).Seconds())), now.Sub(lastPrint).Seconds(),
				p.ByState[campaign.ContactPending], p.ByState[campaign.ContactQueued], p.ByState[campaign.ContactInCall], p.Live)
			lastPrint, printFinal = now, f
		}
		if !stallShown && now.Sub(lastMoved) >= stallAfter {
			stallShown = true
			prog.Progress("  no contact has become final for %.0f s; Postgres is doing:", now.Sub(lastMoved).Seconds())
			showActivity(ctx, pool)
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-tick.C:
		}
	}
}

// showActivity prints the scratch database's sessions that are not idle (a stall diagnosis).
func showActivity(ctx context.Context, pool *pgxpool.Pool) {
	rows, err := pool.Query(ctx, `
		SELECT state, coalesce(wait_event_type || ':' || wait_event, ''),
		       extract(epoch FROM now() - query_start)::float8, left(regexp_replace(query, '\s+', ' ', 'g'), 100)
		FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
		ORDER BY query_start LIMIT 10`)
	if err != nil {
		prog.Progress("    (pg_stat_activity: %v)", err)
		return
	}
	var (
		state, wait, query string
		secs               float64
	)
	_, err = pgx.ForEachRow(rows, []any{&state, &wait, &secs, &query}, func() error {
		prog.Progress("    %-20s %-28s %6.1f s  %s", state, wait, secs, query)
		return nil
	})
	if err != nil {
		prog.Progress("    (pg_stat_activity: %v)", err)
	}
}

// gatherCounts reads what the run left in the database.
func gatherCounts(ctx context.Context, pool *pgxpool.Pool, campaignID int64, r *campaignResult) error {
	err := pool.QueryRow(ctx, `
		SELECT count(DISTINCT contact_id) FILTER (WHERE report_at IS NOT NULL),
		       count(*) FILTER (WHERE report_at IS NOT NULL),
		       count(*),
		       count(*) FILTER (WHERE state = $2)
		FROM attempt WHERE campaign_id = $1`, campaignID, campaign.AttemptNotCreated).
		Scan(&r.Results, &r.Reports, &r.Attempts, &r.NotCreated)
	if err != nil {
		return fmt.Errorf("count attempts: %w", err)
	}
	// The scratch database holds this campaign only.
	err = pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE apply_error <> '') FROM webhook_event`).
		Scan(&r.WebhookEvents, &r.EventErrors)
	if err != nil {
		return fmt.Errorf("count webhook events: %w", err)
	}
	rows, err := pool.Query(ctx, `
		SELECT state::text, count(*), count(*) FILTER (WHERE cardinality(errors) > 0)
		FROM river_job WHERE kind = $1 GROUP BY state`, jobs.DialArgs{}.Kind())
	if err != nil {
		return fmt.Errorf("count dial jobs: %w", err)
	}
	r.DialJobs = map[string]int{}
	var (
		state        string
		n, withError int
	)
	_, err = pgx.ForEachRow(rows, []any{&state, &n, &withError}, func() error {
		r.DialJobs[state] = n
		r.DialJobErrors += withError
		return nil
	})
	if err != nil {
		return fmt.Errorf("count dial jobs: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// River's bare throughput.

// noopArgs is a job that does nothing.
type noopArgs struct{}

// Kind implements river.JobArgs.
func (noopArgs) Kind() string { return "dispatchbench_noop" }

// InsertOpts implements river.JobArgsWithInsertOpts: a queue of its own, which the runner's
// leftover jobs never reach.
func (noopArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: noopQueue} }

// noopWorker works noopArgs by doing nothing.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

// Work implements river.Worker.
func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// noopResult is what River's no-op run cost.
type noopResult struct {
	Jobs      int
	Insert    time.Duration
	Wall      time.Duration
	CPU       time.Duration
	PoolConns int
}

// runNoop inserts o.noopJobs no-op jobs, then times a River client working them all.
func runNoop(ctx context.Context, o *options, dbURL string, logs *logCounter) (*noopResult, error) {
	pool, err := newPool(ctx, dbURL, o.dbConns)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:        slog.New(logs),
		Queues:        map[string]river.QueueConfig{noopQueue: {MaxWorkers: noopMaxWorkers}},
		Workers:       workers,
		FetchCooldown: noopCooldown,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}

	prog.Progress("inserting %s no-op River jobs …", benchkit.Thousands(int64(o.noopJobs)))
	insertStart := time.Now()
	for done := 0; done < o.noopJobs; {
		batch := make([]river.InsertManyParams, min(noopInsertBatch, o.noopJobs-done))
		for i := range batch {
			batch[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		n, err := client.InsertManyFast(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("insert no-op jobs: %w", err)
		}
		done += n
	}
	insert := time.Since(insertStart)

	// Completion events are sent once the completions are committed; the channel holds them all,
	// so none is dropped however slowly they are read.
	events, cancelSub := client.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: o.noopJobs + 16, Kinds: []river.EventKind{river.EventKindJobCompleted},
	})
	defer cancelSub()

	prog.Progress("working them with a River client (MaxWorkers %d, FetchCooldown %s, pool of %d connections) …",
		noopMaxWorkers, noopCooldown, pool.Config().MaxConns)
	runCtx, cancelRun := context.WithTimeout(ctx, o.timeout)
	defer cancelRun()
	cpu0 := benchkit.ProcessCPU()
	start := time.Now()
	if err := client.Start(runCtx); err != nil {
		return nil, fmt.Errorf("start the River client: %w", err)
	}
	completed := 0
	var waitErr error
	for completed < o.noopJobs && waitErr == nil {
		select {
		case e, ok := <-events:
			if !ok {
				waitErr = errors.New("river closed the subscription")
			} else if e.Job.Kind == (noopArgs{}).Kind() {
				completed++
			}
		case <-runCtx.Done():
			waitErr = runCtx.Err()
		}
	}
	wall := time.Since(start)
	cpu := benchkit.ProcessCPU() - cpu0
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStop()
	if err := client.Stop(stopCtx); err != nil {
		prog.Progress("warning: stopping the River client: %v", err)
	}
	if waitErr != nil {
		return nil, fmt.Errorf("no-op jobs: %d of %d completed: %w", completed, o.noopJobs, waitErr)
	}
	var inDB int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = $2`,
		(noopArgs{}).Kind(), rivertype.JobStateCompleted).Scan(&inDB); err != nil {
		return nil, fmt.Errorf("count completed no-op jobs: %w", err)
	}
	if inDB != o.noopJobs {
		prog.Progress("warning: %d no-op jobs are completed in river_job, %d completion events were received", inDB, completed)
	}
	prog.Progress("no-op jobs done in %.2f s", wall.Seconds())
	return &noopResult{Jobs: completed, Insert: insert, Wall: wall, CPU: cpu, PoolConns: int(pool.Config().MaxConns)}, nil
}

// ---------------------------------------------------------------------------------------------
// CPU and logs.

// startProfile starts a CPU profile into path (nothing when path is empty) and returns the
// function that stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			prog.Progress("warning: cpu profile: %v", err)
		}
		prog.Progress("CPU profile of the campaign run written to %s", path)
	}, nil
}

// machineCPU is a reading of /proc/stat's cpu line: busy and total jiffies (Linux only).
type machineCPU struct {
	busy, total uint64
	ok          bool
}

func readMachineCPU() machineCPU {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return machineCPU{}
	}
	var m machineCPU
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return machineCPU{}
		}
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		m.total += v
		if i != 3 && i != 4 { // idle, iowait
			m.busy += v
		}
	}
	m.ok = true
	return m
}

// machineBusy is the fraction of all cores that were busy between two readings (-1: unknown).
func machineBusy(a, b machineCPU) float64 {
	if !a.ok || !b.ok || b.total <= a.total {
		return -1
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total)
}

// logCounter is a slog.Handler for the runner, the receiver and River: it counts the records at
// warn level and above, and prints the first few of each level to w, so that a run that goes
// wrong shows why without flooding the terminal.
type logCounter struct {
	w        io.Writer
	min      slog.Level
	printMax int

	mu      sync.Mutex
	counts  map[slog.Level]int
	printed map[slog.Level]int
	attrs   []slog.Attr
	group   string
	shared  *logCounter // the root, which holds the counts
}

func newLogCounter(w io.Writer, min slog.Level) *logCounter {
	l := &logCounter{w: w, min: min, printMax: 10, counts: map[slog.Level]int{}, printed: map[slog.Level]int{}}
	l.shared = l
	return l
}

// Enabled implements slog.Handler.
func (l *logCounter) Enabled(_ context.Context, level slog.Level) bool { return level >= l.min }

// Handle implements slog.Handler.
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	root := l.shared
	root.mu.Lock()
	defer root.mu.Unlock()
	root.counts[r.Level]++
	if root.printed[r.Level] >= root.printMax {
		return nil
	}
	root.printed[r.Level]++
	var b strings.Builder
	fmt.Fprintf(&b, "dispatchbench: log %s %s", r.Level, r.Message)
	add := func(a slog.Attr) {
		if l.group != "" {
			a.Key = l.group + "." + a.Key
		}
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
	}
	for _, a := range l.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	if root.printed[r.Level] == root.printMax {
		b.WriteString(" (further records at this level are counted, not shown)")
	}
	fmt.Fprintln(root.w, b.String())
	return nil
}

// WithAttrs implements slog.Handler.
func (l *logCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := &logCounter{min: l.min, group: l.group, shared: l.shared}
	c.attrs = append(append([]slog.Attr(nil), l.attrs...), attrs...)
	return c
}

// WithGroup implements slog.Handler.
func (l *logCounter) WithGroup(name string) slog.Handler {
	c := &logCounter{min: l.min, attrs: l.attrs, shared: l.shared}
	c.group = name
	if l.group != "" {
		c.group = l.group + "." + name
	}
	return c
}

// levels returns the counts of warnings and errors logged so far.
func (l *logCounter) levels() (warnings, errs int) {
	root := l.shared
	root.mu.Lock()
	defer root.mu.Unlock()
	for level, n := range root.counts {
		if level >= slog.LevelError {
			errs += n
		} else {
			warnings += n
		}
	}
	return warnings, errs
}

// summary prints the counts of the records that were not shown.
func (l *logCounter) summary() {
	if w, e := l.levels(); w+e > 0 {
		prog.Progress("logged %d warnings and %d errors in all", w, e)
	}
}

// ---------------------------------------------------------------------------------------------
// The report.

// result is the benchmark's figures, as printed and as saved (one JSON line).
type result struct {
	Time        string  `json:"time"`
	Contacts    int     `json:"contacts"`
	Cap         int     `json:"cap"`
	TimeScale   float64 `json:"time_scale"`
	DialWorkers int     `json:"dial_workers"`
	Cores       int     `json:"cores"`
	GoVersion   string  `json:"go_version"`
	Platform    string  `json:"platform"`
	Database    string  `json:"database"`

	Campaign struct {
		Seconds            float64 `json:"seconds"`
		CPUSeconds         float64 `json:"cpu_seconds"`          // this process: runner, receiver and simulator
		PostgresCPUSeconds float64 `json:"postgres_cpu_seconds"` // the scratch database's server processes (0: unknown)
		// CPUMsPerLifecycle is the CPU of this process and of Postgres's backends per
		// lifecycle; CeilingPerSecond is the lifecycles a second the machine's cores could
		// carry at that cost if nothing else ran and no lock held them back.
		CPUMsPerLifecycle         float64        `json:"cpu_ms_per_lifecycle"`
		PostgresCPUMsPerLifecycle float64        `json:"postgres_cpu_ms_per_lifecycle"`
		CeilingPerSecond          float64        `json:"ceiling_lifecycles_per_second"`
		MachineCPUBusy            float64        `json:"machine_cpu_busy"` // fraction of all cores, Postgres included (-1: unknown)
		LifecyclesPerSecond       float64        `json:"lifecycles_per_second"`
		PoolConns                 int            `json:"pool_conns"`
		Results                   int            `json:"results"` // contacts with a recorded result
		ContactsFinal             int            `json:"contacts_final"`
		ByOutcome                 map[string]int `json:"by_outcome"`
		Reports                   int            `json:"reports"`  // attempts with report_at set
		Attempts                  int            `json:"attempts"` // attempts journaled
		AttemptsNotCreated        int            `json:"attempts_not_created"`
		WebhookEvents             int            `json:"webhook_events"`
		WebhookApplyErrors        int            `json:"webhook_apply_errors"`
		CallsPlaced               int            `json:"calls_placed"`
		ConcurrencyRefused        int            `json:"concurrency_refused"`
		MaxLive                   int            `json:"max_live"`
		Deliveries                int            `json:"webhook_deliveries"`
		DeliveriesFailed          int            `json:"webhook_deliveries_failed"`
		DialJobs                  map[string]int `json:"dial_jobs"`
		DialJobsWithErrors        int            `json:"dial_jobs_with_errors"`
	} `json:"campaign_run"`

	River struct {
		Jobs          int     `json:"jobs"`
		InsertSeconds float64 `json:"insert_seconds"`
		Seconds       float64 `json:"seconds"`
		CPUSeconds    float64 `json:"cpu_seconds"`
		JobsPerSecond float64 `json:"jobs_per_second"`
		MaxWorkers    int     `json:"max_workers"`
		PoolConns     int     `json:"pool_conns"`
	} `json:"river_noop"`

	// Ratio is the runner's time per contact over River's time per no-op job.
	Ratio float64 `json:"ratio"`

	LogWarnings int      `json:"log_warnings"`
	LogErrors   int      `json:"log_errors"`
	Warnings    []string `json:"warnings"` // anything that suggests the run did not go as it should
}

func newResult(o *options, db string, cr *campaignResult, rr *noopResult, logs *logCounter) *result {
	r := &result{
		Time:        time.Now().UTC().Format(time.RFC3339),
		Contacts:    o.contacts,
		Cap:         o.cap,
		TimeScale:   o.timeScale,
		DialWorkers: o.dialWorkers,
		Cores:       runtime.NumCPU(),
		GoVersion:   runtime.Version(),
		Platform:    runtime.GOOS + "/" + runtime.GOARCH,
		Database:    db,
		Warnings:    []string{},
	}
	c := &r.Campaign
	c.Seconds = cr.Wall.Seconds()
	c.CPUSeconds = cr.CPU.Seconds()
	c.PostgresCPUSeconds = cr.PostgresCPU.Seconds()
	if cr.Results > 0 {
		c.CPUMsPerLifecycle = 1000 * c.CPUSeconds / float64(cr.Results)
		c.PostgresCPUMsPerLifecycle = 1000 * c.PostgresCPUSeconds / float64(cr.Results)
		if all := c.CPUMsPerLifecycle + c.PostgresCPUMsPerLifecycle; c.PostgresCPUSeconds > 0 {
			c.CeilingPerSecond = float64(r.Cores) * 1000 / all
		}
	}
	c.MachineCPUBusy = cr.MachineCPU
	c.LifecyclesPerSecond = float64(cr.Results) / c.Seconds
	c.PoolConns = cr.PoolConns
	c.Results, c.ContactsFinal, c.ByOutcome = cr.Results, cr.Final, cr.ByOutcome
	c.Reports, c.Attempts, c.AttemptsNotCreated = cr.Reports, cr.Attempts, cr.NotCreated
	c.WebhookEvents, c.WebhookApplyErrors = cr.WebhookEvents, cr.EventErrors
	c.CallsPlaced, c.ConcurrencyRefused, c.MaxLive = cr.CallsPlaced, cr.ConcurrencyHits, cr.MaxLive
	c.Deliveries, c.DeliveriesFailed = cr.Deliveries, cr.FailedDelivery
	c.DialJobs, c.DialJobsWithErrors = cr.DialJobs, cr.DialJobErrors

	rv := &r.River
	rv.Jobs = rr.Jobs
	rv.InsertSeconds = rr.Insert.Seconds()
	rv.Seconds = rr.Wall.Seconds()
	rv.CPUSeconds = rr.CPU.Seconds()
	rv.JobsPerSecond = float64(rr.Jobs) / rv.Seconds
	rv.MaxWorkers = noopMaxWorkers
	rv.PoolConns = rr.PoolConns
	if c.LifecyclesPerSecond > 0 {
		r.Ratio = rv.JobsPerSecond / c.LifecyclesPerSecond
	}
	r.LogWarnings, r.LogErrors = logs.levels()

	warn := func(format string, args ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...)) }
	if c.Results != r.Contacts {
		warn("%d of %d contacts have a recorded result", c.Results, r.Contacts)
	}
	if c.CallsPlaced != c.Reports {
		warn("the simulator placed %d calls, %d reports were recorded", c.CallsPlaced, c.Reports)
	}
	if c.MaxLive > r.Cap {
		warn("the cap did not hold: %d calls were live at once, cap %d", c.MaxLive, r.Cap)
	}
	if c.ConcurrencyRefused > 0 {
		warn("the simulator refused %d calls over its concurrency limit", c.ConcurrencyRefused)
	}
	if c.DeliveriesFailed > 0 {
		warn("%d of %d webhook deliveries were not answered 2xx", c.DeliveriesFailed, c.Deliveries)
	}
	if ok := c.Deliveries - c.DeliveriesFailed; c.WebhookEvents < ok {
		warn("%d webhook events stored, but %d deliveries were answered 2xx", c.WebhookEvents, ok)
	}
	if c.WebhookApplyErrors > 0 {
		warn("%d webhook events met an error when applied", c.WebhookApplyErrors)
	}
	if c.DialJobsWithErrors > 0 {
		warn("%d dial jobs returned an error at least once", c.DialJobsWithErrors)
	}
	if r.LogWarnings+r.LogErrors > 0 {
		warn("logged %d warnings and %d errors (the first are on stderr)", r.LogWarnings, r.LogErrors)
	}
	return r
}

// print writes the human report.
func (r *result) print(w io.Writer) {
	c, rv := &r.Campaign, &r.River
	fmt.Fprintf(w, "dispatch benchmark: %s contacts, cap %d, simulator at zero latency, %d cores, %s\n",
		benchkit.Thousands(int64(r.Contacts)), r.Cap, r.Cores, r.GoVersion)
	fmt.Fprintf(w, "campaign run (end to end)   : %s %s call lifecycles/s  (%s results, %s webhook events; CPU %.1f s here, machine %s busy)\n",
		benchkit.Seconds(c.Seconds), benchkit.Rate(c.LifecyclesPerSecond, 6), benchkit.Thousands(int64(c.Results)), benchkit.Thousands(int64(c.WebhookEvents)),
		c.CPUSeconds, benchkit.Percent(c.MachineCPUBusy))
	if c.CeilingPerSecond > 0 {
		fmt.Fprintf(w, "CPU per lifecycle           : %6.2f ms here + %.2f ms Postgres = %.2f ms: %d cores carry at most %s lifecycles/s (reached %.0f%% of it)\n",
			c.CPUMsPerLifecycle, c.PostgresCPUMsPerLifecycle, c.CPUMsPerLifecycle+c.PostgresCPUMsPerLifecycle, r.Cores,
			benchkit.Thousands(int64(c.CeilingPerSecond)), 100*c.LifecyclesPerSecond/c.CeilingPerSecond)
	} else {
		fmt.Fprintf(w, "CPU per lifecycle           : %6.2f ms here; Postgres's not readable (a server on another machine?)\n", c.CPUMsPerLifecycle)
	}
	fmt.Fprintf(w, "river no-op jobs            : %s %s jobs/s  (%d workers; inserted beforehand in %.1f s)\n",
		benchkit.Seconds(rv.Seconds), benchkit.Rate(rv.JobsPerSecond, 6), rv.MaxWorkers, rv.InsertSeconds)
	fmt.Fprintf(w, "ratio                       : %5.1fx the time of River's bare throughput per job\n", r.Ratio)
	fmt.Fprintf(w, "setup                       : %d dial workers, pools of %d connections, simulator time x%g\n",
		r.DialWorkers, c.PoolConns, r.TimeScale)
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "warning                     : %s\n", s)
	}
}
