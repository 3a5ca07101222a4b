//go:build unix

// Command millionbench runs one campaign of a million contacts end to end on the Vapi simulator
// and measures what a team running campaigns at that size would ask: how long it takes, the
// dials a second over its course, how big the database grows and whether River's job table
// piles up, and how long `status`, `report` and `export` take on it at the end.
//
// It is a benchmark program that prints figures, not a timed test. Run it with
//
//	make bench-million                                                       # 1,000,000 contacts
//	go run ./internal/bench/millionbench -bin bin/campaign -contacts 20000   # quick smoke run
//
// after `make build`. It:
//
//  1. writes -contacts distinct, valid US numbers to a CSV in the work directory and creates a
//     scratch database on the server (dropped at the end, even after an error or an interrupt);
//  2. starts, in this process, the Vapi simulator (vapitest) on a loopback HTTP server with an
//     account concurrency limit of four times the cap, no request-rate limit, no faults and a
//     time scale of -time-scale (short calls), and -procs `BIN serve` processes on the scratch
//     database behind a round-robin proxy for the webhooks (benchkit.StartFleet);
//  3. imports the file and hands the campaign to them with `BIN run FILE --detach --rate 0
//     --max-concurrent CAP` (one attempt a contact, the window "always"), timed: the import;
//  4. every -sample, reads the campaign's progress, the dials (attempts) so far, the rows and
//     size of River's job table and the database's size, and prints a line; when every contact
//     is final, the dialling time is from the hand-over to then;
//  5. stops the serve processes and times, with the real CLI, `status`, `report` (text and
//     JSON) and `export` of the campaign;
//  6. prints a short report to stdout (the figures, the sizes of the largest tables, the dials a
//     second sample by sample) and writes the same figures as one JSON line to
//     DIR/million-bench.json.
//
// The server is the one the CLI uses: DATABASE_URL when it is set, else the CLI's managed local
// Postgres, whose URL `BIN db url` prints. Progress goes to stderr, the report to stdout. The
// exit status is non-zero only when a step fails or the campaign does not finish within
// -timeout; anything odd (contacts without a result, the cap exceeded) is reported as a warning.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/bench/benchkit"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// Defaults of the flags.
const (
	defaultContacts  = 1_000_000
	defaultProcs     = 2
	defaultCap       = 200
	defaultTimeScale = 600 // a two-minute call lasts 0.2 s
)

// campaignName is the name of the benchmark's campaign.
const campaignName = "millionbench"

// prog names this program in progress lines and scratch databases.
const prog benchkit.Program = "millionbench"

func main() { prog.Main(run) }

// options are the command line's.
type options struct {
	benchkit.CommonFlags
	contacts  int
	procs     int
	cap       int
	timeScale float64
	sample    time.Duration
	timeout   time.Duration
}

func run(ctx context.Context) error {
	var o options
	o.Define("the campaign binary to benchmark", "work directory for the contacts, the export and the results")
	flag.IntVar(&o.contacts, "contacts", defaultContacts, "contacts in the campaign")
	flag.IntVar(&o.procs, "procs", defaultProcs, "campaign serve processes")
	flag.IntVar(&o.cap, "cap", defaultCap, "the campaign's live-call cap (--max-concurrent)")
	flag.Float64Var(&o.timeScale, "time-scale", defaultTimeScale, "the simulator's time scale (600: a two-minute call lasts 0.2 s)")
	flag.DurationVar(&o.sample, "sample", 10*time.Second, "how often to sample the progress and the sizes")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Hour, "give up on the campaign after this long")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	switch {
	case o.contacts < 1:
		return fmt.Errorf("-contacts must be at least 1, got %d", o.contacts)
	case o.procs < 1:
		return fmt.Errorf("-procs must be at least 1, got %d", o.procs)
	case o.cap < 1:
		return fmt.Errorf("-cap must be at least 1, got %d", o.cap)
	case o.timeScale <= 0:
		return fmt.Errorf("-time-scale must be positive, got %g", o.timeScale)
	case o.sample <= 0:
		return fmt.Errorf("-sample must be positive, got %s", o.sample)
	}

	ws, err := o.Workspace(benchkit.ToolCampaign)
	if err != nil {
		return err
	}
	prog.Progress("writing %s contacts …", benchkit.Thousands(int64(o.contacts)))
	file, err := benchkit.WriteContacts(ws.Dir, "millionbench-contacts.csv", o.contacts)
	if err != nil {
		return err
	}
	defer os.Remove(file)
	exportFile := filepath.Join(ws.Dir, "millionbench-export.csv")
	defer os.Remove(exportFile)

	scratchURL, dbLabel, dropScratch, err := prog.Database(ctx, ws.Bin)
	if err != nil {
		return err
	}
	defer dropScratch()
	sim, err := benchkit.StartSimulator(vapitest.Config{Seed: 1, TimeScale: o.timeScale,
		ConcurrencyLimit: 4 * o.cap, RequestRate: -1}, 4*o.cap)
	if err != nil {
		return err
	}
	defer sim.Close()
	// The serve processes stop (SIGTERM) before the scratch database is dropped.
	fleet, err := prog.StartFleet(ctx, o.procs, ws.Bin, scratchURL, sim)
	if err != nil {
		return err
	}
	defer fleet.Stop()
	pool, err := pgxpool.New(ctx, scratchURL)
	if err != nil {
		return fmt.Errorf("connect to the scratch database: %w", err)
	}
	defer pool.Close()

	res := &result{Contacts: o.contacts, Procs: o.procs, Cap: o.cap, TimeScale: o.timeScale, Database: dbLabel,
		Cores: runtime.NumCPU(), LoadAvg: benchkit.LoadAverage()}
	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	args := fleet.DetachArgs(file, campaignName, o.cap, sim)
	prog.Progress("importing and handing over with %s run --detach …", o.Bin)
	if res.ImportSeconds, err = timeCommand(runCtx, "campaign run --detach", ws.Bin, scratchURL, sim.Env(), args...); err != nil {
		return err
	}
	store := campaign.NewStore(pool)
	c, err := store.CampaignByRef(ctx, campaignName)
	if err != nil {
		return err
	}
	if err := watch(runCtx, &o, pool, store, c.ID, sim, res); err != nil {
		if runCtx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("the campaign did not finish within -timeout %s", o.timeout)
		}
		return err
	}
	fleet.Stop()
	_, res.MaxLive = sim.Concurrency()
	if err := res.readSizes(ctx, pool); err != nil {
		return err
	}
	if err := res.timeCommands(ctx, ws.Bin, scratchURL, exportFile); err != nil {
		return err
	}
	res.warn()
	res.print(os.Stdout)
	return prog.SaveJSONLine(filepath.Join(ws.Dir, "million-bench.json"), res)
}

// timeCommand runs `bin args…` on dbURL and returns how long it took, in seconds.
func timeCommand(ctx context.Context, label, bin, dbURL string, env []string, args ...string) (float64, error) {
	cmd, wait := prog.Command(ctx, label, bin, dbURL, env, args...)
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Seconds()
	wait()
	if err != nil {
		return 0, fmt.Errorf("`%s` failed: %w (its messages are above)", label, err)
	}
	return took, nil
}

// sample is what watch read at one moment of the run.
type sample struct {
	// At is the time since the hand-over, in seconds.
	At float64 `json:"at_s"`
	// Final counts the final contacts, Dials the attempts placed so far.
	Final, Dials int
	// DialsPerSecond is the dials since the previous sample over the time between them.
	DialsPerSecond float64 `json:"dials_per_s"`
	// Live is the simulator's live calls.
	Live int
	// RiverJobs counts the rows of river_job; RiverBytes is its size with indexes and TOAST.
	RiverJobs  int64 `json:"river_jobs"`
	RiverBytes int64 `json:"river_bytes"`
	// DatabaseBytes is the scratch database's size.
	DatabaseBytes int64 `json:"database_bytes"`
}

// watch samples the run every o.sample until every contact is final, appending to res.Samples,
// and sets res.DialSeconds.
func watch(ctx context.Context, o *options, pool *pgxpool.Pool, store *campaign.Store, id int64, sim *benchkit.Simulator, res *result) error {
	start := time.Now()
	tick := time.NewTicker(o.sample)
	defer tick.Stop()
	prev := sample{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		p, err := store.Progress(ctx, id)
		if err != nil {
			return err
		}
		s := sample{At: time.Since(start).Seconds(), Final: p.FinalCount(), Dials: p.Attempts, Live: sim.Live()}
		err = pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM river_job), pg_total_relation_size('river_job'), pg_database_size(current_database())`).
			Scan(&s.RiverJobs, &s.RiverBytes, &s.DatabaseBytes)
		if err != nil {
			return fmt.Errorf("read the sizes: %w", err)
		}
		s.DialsPerSecond = float64(s.Dials-prev.Dials) / (s.At - prev.At)
		res.Samples = append(res.Samples, s)
		prev = s
		prog.Progress("  %6.0f s: %s/%s final, %s dials (%s/s), %d live, river_job %s rows %s, database %s",
			s.At, benchkit.Thousands(int64(s.Final)), benchkit.Thousands(int64(p.Total)), benchkit.Thousands(int64(s.Dials)),
			benchkit.Rate(s.DialsPerSecond, 0), s.Live, benchkit.Thousands(s.RiverJobs), benchkit.Megabytes(s.RiverBytes),
			benchkit.Megabytes(s.DatabaseBytes))
		if p.Final() {
			res.DialSeconds = time.Since(start).Seconds()
			res.Dials, res.Final = p.Attempts, p.FinalCount()
			return nil
		}
	}
}

// tableSize is one table's size at the end, with its indexes and TOAST.
type tableSize struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// result is what the program prints and saves.
type result struct {
	Contacts  int     `json:"contacts"`
	Procs     int     `json:"procs"`
	Cap       int     `json:"cap"`
	TimeScale float64 `json:"time_scale"`
	Database  string  `json:"database"`
	Cores     int     `json:"cores"`
	// LoadAvg is the load averages at the start ("" when unknown).
	LoadAvg string `json:"load_avg"`
	// ImportSeconds is `run --detach`: reading the file, importing it and handing it over.
	ImportSeconds float64 `json:"import_s"`
	// DialSeconds is from the hand-over until every contact was final.
	DialSeconds float64 `json:"dial_s"`
	// Dials counts the attempts, Final the final contacts at the end.
	Dials, Final int
	// MaxLive is the most calls the simulator had live at once.
	MaxLive int `json:"max_live"`
	Samples []sample
	// DatabaseBytes is the database's size at the end; Tables the largest tables'.
	DatabaseBytes int64       `json:"database_bytes"`
	Tables        []tableSize `json:"tables"`
	// The CLI's times on the finished campaign.
	StatusSeconds     float64 `json:"status_s"`
	ReportSeconds     float64 `json:"report_s"`
	ReportJSONSeconds float64 `json:"report_json_s"`
	ExportSeconds     float64 `json:"export_s"`
	ExportBytes       int64   `json:"export_bytes"`
	Warnings          []string
}

// readSizes reads the database's size and its largest tables'.
func (r *result) readSizes(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&r.DatabaseBytes); err != nil {
		return fmt.Errorf("read the database size: %w", err)
	}
	rows, err := pool.Query(ctx, `
		SELECT c.relname, c.reltuples::int8, pg_total_relation_size(c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname = current_schema()
		ORDER BY 3 DESC LIMIT 8`)
	if err != nil {
		return fmt.Errorf("read the table sizes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t tableSize
		if err := rows.Scan(&t.Table, &t.Rows, &t.Bytes); err != nil {
			return err
		}
		r.Tables = append(r.Tables, t)
	}
	return rows.Err()
}

// timeCommands times status, report (text and JSON) and export of the finished campaign.
func (r *result) timeCommands(ctx context.Context, bin, dbURL, exportFile string) error {
	var err error
	for _, c := range []struct {
		into *float64
		args []string
	}{
		{&r.StatusSeconds, []string{"status", campaignName}},
		{&r.ReportSeconds, []string{"report", campaignName}},
		{&r.ReportJSONSeconds, []string{"report", campaignName, "--format", "json"}},
		{&r.ExportSeconds, []string{"export", campaignName, "-o", exportFile}},
	} {
		label := "campaign " + c.args[0]
		prog.Progress("timing %s …", label)
		if *c.into, err = timeCommand(ctx, label, bin, dbURL, nil, c.args...); err != nil {
			return err
		}
	}
	fi, err := os.Stat(exportFile)
	if err != nil {
		return errors.New("the export wrote no file")
	}
	r.ExportBytes = fi.Size()
	return nil
}

// warn notes anything odd about the run.
func (r *result) warn() {
	if r.Final != r.Contacts {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d of %d contacts final", r.Final, r.Contacts))
	}
	if r.MaxLive > r.Cap {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the simulator saw %d live calls, over the cap of %d", r.MaxLive, r.Cap))
	}
}

// dialRates returns the dials a second of the samples taken while contacts were being dialled
// (the last sample, part idle, aside), sorted.
func (r *result) dialRates() []float64 {
	var rates []float64
	for i, s := range r.Samples {
		if i < len(r.Samples)-1 {
			rates = append(rates, s.DialsPerSecond)
		}
	}
	sort.Float64s(rates)
	return rates
}

// print writes the report.
func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "million benchmark: one campaign of %s contacts, %d serve processes, cap %d, time scale %g\n",
		benchkit.Thousands(int64(r.Contacts)), r.Procs, r.Cap, r.TimeScale)
	fmt.Fprintf(w, "database  : %s\nmachine   : %d cores, load average at the start %s\n", r.Database, r.Cores, r.LoadAvg)
	fmt.Fprintf(w, "import    : %s (run --detach: read, import, hand over)\n", benchkit.Seconds(r.ImportSeconds))
	fmt.Fprintf(w, "dialling  : %s for %s dials: %s dials/s overall, highest live %d (cap %d)\n",
		benchkit.Seconds(r.DialSeconds), benchkit.Thousands(int64(r.Dials)),
		benchkit.Rate(float64(r.Dials)/r.DialSeconds, 0), r.MaxLive, r.Cap)
	if rates := r.dialRates(); len(rates) > 0 {
		fmt.Fprintf(w, "dials/s   : lowest %s, median %s, highest %s over %d samples of %s\n",
			benchkit.Rate(rates[0], 0), benchkit.Rate(rates[len(rates)/2], 0), benchkit.Rate(rates[len(rates)-1], 0),
			len(rates), benchkit.Seconds(r.Samples[0].At))
	}
	var peakJobs, peakBytes int64
	for _, s := range r.Samples {
		peakJobs, peakBytes = max(peakJobs, s.RiverJobs), max(peakBytes, s.RiverBytes)
	}
	if n := len(r.Samples); n > 0 {
		fmt.Fprintf(w, "river_job : at most %s rows (%s); %s rows (%s) at the end\n", benchkit.Thousands(peakJobs),
			benchkit.Megabytes(peakBytes), benchkit.Thousands(r.Samples[n-1].RiverJobs), benchkit.Megabytes(r.Samples[n-1].RiverBytes))
	}
	fmt.Fprintf(w, "database  : %s at the end; largest tables:\n", benchkit.Megabytes(r.DatabaseBytes))
	for _, t := range r.Tables {
		fmt.Fprintf(w, "  %-24s %12s rows %12s\n", t.Table, benchkit.Thousands(t.Rows), benchkit.Megabytes(t.Bytes))
	}
	fmt.Fprintf(w, "status    : %s\nreport    : %s (text), %s (json)\nexport    : %s (%s)\n",
		benchkit.Seconds(r.StatusSeconds), benchkit.Seconds(r.ReportSeconds), benchkit.Seconds(r.ReportJSONSeconds),
		benchkit.Seconds(r.ExportSeconds), benchkit.Megabytes(r.ExportBytes))
	for _, warning := range r.Warnings {
		fmt.Fprintf(w, "warning   : %s\n", warning)
	}
}
