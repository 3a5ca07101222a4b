//go:build unix

// Command suite runs every benchmark program under internal/bench in turn on this machine and
// writes BENCHMARKS.md at the repository root: the command, the date, the machine (cores,
// memory, CPU, Go and PostgreSQL versions), a table of each figure with the anchor measured in
// the same run and their ratio, and each program's report as it printed it.
//
// Run it with
//
//	make bench                        # every benchmark at full size
//	make bench BENCH_ARGS=-quick      # every benchmark at a small size: a smoke run
//	make bench BENCH_ARGS='-only webhook,rate'
//
// after `make build` (make bench builds first). It builds the programs into DIR/bin, then for
// each benchmark runs the program with the sizes below (or the -quick ones), copying its report
// to stdout and its progress to stderr, and reads the figures it saved as one JSON line in DIR.
// A benchmark that fails is reported in BENCHMARKS.md and the others still run; the exit status
// is then non-zero. BENCHMARKS.md is not written when every benchmark failed, nor after an
// interrupt.
//
// The benchmarks use the database the CLI uses: DATABASE_URL when it is set, else the CLI's
// managed local Postgres. They take the whole machine: run them when it is otherwise quiet (the
// load average at the start is recorded).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/campaign-run/campaign/internal/bench/benchkit"
)

// prog names this program in progress lines.
const prog benchkit.Program = "suite"

// benchmark is one benchmark program and how the suite runs and summarises it.
type benchmark struct {
	name  string // what -only names it by
	title string // its section's title
	prog  string // its package under internal/bench
	json  string // the file its figures are saved to, in the work directory
	about string // what it measures, for its section
	notes string // Markdown after its output: what was measured by hand to explain the figures ("": none)
	full  []string
	quick []string
	// summary reads the saved figures into the summary table's row.
	summary func(raw []byte) (row, error)
}

// row is a benchmark's line in the summary table.
type row struct {
	figure, measured, anchor, ratio string
}

// benchmarks are run in this order, the order of the table in the issue that asked for them.
var benchmarks = []benchmark{
	{name: "import", title: "Import of a CSV", prog: "importbench", json: "import-bench.json",
		about: "`campaign run --dry-run` of a generated CSV of 10 columns (1% bad numbers, 0.5% duplicates) into a scratch " +
			"database: rows/s and the CLI's peak RSS. Anchors: `psql \\copy` of the same file into a table of text columns, " +
			"and River's `InsertManyFast` of as many id-only jobs in one transaction, as the import inserts its rows. " +
			"Then where Postgres spends the time: the imported contacts written again into a copy of the contact table, " +
			"one index or constraint at a time (`-profile-postgres`).",
		full: []string{"-rows", "1000000", "-profile-postgres"}, quick: []string{"-rows", "20000"}, summary: importRow},
	{name: "dispatch", title: "Dispatch", prog: "dispatchbench", json: "dispatch-bench.json",
		about: "A campaign run end to end by one runner (the journal row, `POST /call`, the status-update and end-of-call " +
			"webhooks stored and applied) against the in-process simulator at zero latency, with no rate limit: contacts " +
			"with a recorded result per second. Anchor: River working no-op jobs on the same database.",
		full: []string{"-contacts", "20000", "-noop-jobs", "20000"}, quick: []string{"-contacts", "1000", "-noop-jobs", "2000"}, summary: dispatchRow,
		notes: dispatchProfile},
	{name: "webhook", title: "Webhook ingest", prog: "webhookbench", json: "webhook-bench.json",
		about: "End-of-call reports with transcripts, posted by a load generator on loopback to the receiver as " +
			"`campaign serve` mounts it, for calls that exist in the database: each is stored raw and applied before the " +
			"200. Anchor: the same handler with storage off (a recorder that does nothing, the secret held in memory).",
		full: []string{"-reports", "20000", "-clients", "16"}, quick: []string{"-reports", "1000", "-clients", "16"}, summary: webhookRow,
		notes: webhookNotes},
	{name: "export", title: "Export", prog: "exportbench", json: "export-bench.json",
		about: "`campaign export` of a finished campaign made in SQL (contacts, their calls, structured data): rows/s and " +
			"the CLI's peak RSS. Anchor: `psql \\copy (SELECT …) TO` of comparable columns.",
		full: []string{"-contacts", "1000000"}, quick: []string{"-contacts", "20000"}, summary: exportRow},
	{name: "rate", title: "Rate accuracy", prog: "ratebench", json: "rate-bench.json",
		about: "`campaign run --rate R` against the simulator; the simulator's arrival times of `POST /call` give the " +
			"achieved rate over the window and the most calls in any sliding 1 s window. Anchor: the rate and burst " +
			"configured (GCRA on the campaign row without tolerance, and a local limiter with a bucket of 1: burst 1).",
		full: []string{"-rate", "10", "-duration", "60s"}, quick: []string{"-rate", "5", "-duration", "10s"}, summary: rateRow},
	{name: "cap", title: "Live-call cap across processes", prog: "capbench", json: "cap-bench.json",
		about: "One campaign handed with `campaign run --detach` to 3 `campaign serve` processes behind a round-robin " +
			"proxy, against a simulated account that allows 4 times the cap, with no rate limit: the highest number of " +
			"live calls the simulator saw. Anchor: the cap.",
		full: []string{"-procs", "3", "-cap", "20", "-contacts", "500"}, quick: []string{"-procs", "3", "-cap", "5", "-contacts", "40"}, summary: capRow},
	{name: "account", title: "The account's limit learned", prog: "capbench", json: "account-bench.json",
		about: "The same program in its account mode: one campaign with `--max-concurrent 300` handed to 3 `campaign serve` " +
			"processes against a simulated account that allows 10 calls (refusing more as `--simulate` does: a 201 with a " +
			"call ended at once for concurrency): the creates Vapi refused, after the first refusal and in all, split by " +
			"whether the dial began before or after the runner had learned the limit, and the live calls over the " +
			"account's limit while contacts were due. Anchor: the account's limit; the target is at most 1% refused.",
		full:  []string{"-procs", "3", "-cap", "300", "-sim-limit", "10", "-contacts", "300"},
		quick: []string{"-procs", "3", "-cap", "30", "-sim-limit", "5", "-contacts", "40"}, summary: accountRow},
	{name: "console", title: "Console queries", prog: "consolebench", json: "console-bench.json",
		about: "The queries of the console's calls table (`campaign.Store.ListCalls`: pages by keyset, search, filters, " +
			"orders), call page (`CallDetail`) and campaign page (`Progress`, `StatusExtras`, `ReportFacts`), and the " +
			"/metrics scrape's reads, on one campaign made in SQL (1.35 calls and 2 stored webhook events a contact), " +
			"each run through the Store as the console runs it: median and 95th percentile of 30 runs. Target: 100 ms a query.",
		full: []string{"-contacts", "1000000"}, quick: []string{"-contacts", "20000", "-runs", "5"}, summary: consoleRow},
}

func main() { prog.Main(run) }

// options are the command line's.
type options struct {
	benchkit.CommonFlags
	quick bool
	only  string
	out   string
	goCmd string
}

// run runs the selected programs one after the other. An interrupt reaches the programs too
// (they share the terminal's process group): each drops its scratch database and exits, and the
// suite stops after the one running.
func run(ctx context.Context) error {
	var o options
	o.Define("the campaign binary to benchmark", "work directory of the programs")
	flag.BoolVar(&o.quick, "quick", false, "small sizes, for a smoke run of a few minutes; BENCHMARKS.md says so")
	flag.StringVar(&o.only, "only", "", "comma-separated benchmarks to run (default all): "+names())
	flag.StringVar(&o.out, "out", "", "the report to write (default: BENCHMARKS.md in the repository root)")
	flag.StringVar(&o.goCmd, "go", "go", "the go command that builds the programs")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	selected, err := selectBenchmarks(o.only)
	if err != nil {
		return err
	}
	root := benchkit.RepoRoot()
	if o.out == "" {
		o.out = filepath.Join(root, "BENCHMARKS.md")
	}
	ws, err := o.Workspace(benchkit.ToolCampaign)
	if err != nil {
		return err
	}

	start := time.Now()
	m, err := readMachine(ctx, ws.Bin)
	if err != nil {
		return err
	}
	binDir := filepath.Join(ws.Dir, "bin")
	if err := build(ctx, o.goCmd, root, binDir, selected); err != nil {
		return err
	}

	var (
		done   []outcome
		failed int
	)
	for _, b := range selected {
		if ctx.Err() != nil {
			return errors.New("interrupted: BENCHMARKS.md not written")
		}
		oc := runOne(&o, b, binDir, ws.Dir)
		if ctx.Err() != nil {
			return errors.New("interrupted: BENCHMARKS.md not written")
		}
		if oc.err != nil {
			failed++
			prog.Progress("%s failed: %v", b.name, oc.err)
		}
		done = append(done, oc)
	}
	if failed == len(done) {
		return errors.New("every benchmark failed: BENCHMARKS.md not written")
	}
	if err := writeReport(o.out, &o, m, done, start); err != nil {
		return err
	}
	prog.Progress("%s written (%s in all)", o.out, time.Since(start).Round(time.Second))
	if failed > 0 {
		return fmt.Errorf("%d of %d benchmarks failed (see BENCHMARKS.md and the messages above)", failed, len(done))
	}
	return nil
}

// names lists the benchmarks' names.
func names() string {
	var n []string
	for _, b := range benchmarks {
		n = append(n, b.name)
	}
	return strings.Join(n, ", ")
}

// selectBenchmarks returns the benchmarks named in only (all when it is empty), in the suite's
// order.
func selectBenchmarks(only string) ([]benchmark, error) {
	if only == "" {
		return benchmarks, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		if !slices.ContainsFunc(benchmarks, func(b benchmark) bool { return b.name == n }) {
			return nil, fmt.Errorf("-only: no benchmark %q (there are %s)", n, names())
		}
		want[n] = true
	}
	var out []benchmark
	for _, b := range benchmarks {
		if want[b.name] {
			out = append(out, b)
		}
	}
	return out, nil
}

// build compiles the selected programs into binDir, so that no benchmark waits on the compiler.
func build(ctx context.Context, goCmd, root, binDir string, selected []benchmark) error {
	args := []string{"build", "-o", binDir + string(filepath.Separator)}
	for _, b := range selected {
		args = append(args, "./internal/bench/"+b.prog)
	}
	prog.Progress("building the benchmark programs: %s %s", goCmd, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the benchmark programs: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Running the benchmarks.

// outcome is how one benchmark went.
type outcome struct {
	b       benchmark
	command string // as a person would type it
	took    time.Duration
	block   string // the program's report
	row     row
	err     error
}

// runOne runs benchmark b's program, copying its report to stdout, and reads its figures.
func runOne(o *options, b benchmark, binDir, workDir string) outcome {
	args := []string{"-bin", o.Bin}
	if o.quick {
		args = append(args, b.quick...)
	} else {
		args = append(args, b.full...)
	}
	if o.Dir != "" {
		args = append(args, "-dir", o.Dir)
	}
	oc := outcome{b: b, command: "go run ./internal/bench/" + b.prog + " " + strings.Join(args, " ")}
	jsonPath := filepath.Join(workDir, b.json)
	_ = os.Remove(jsonPath) // figures left by an earlier run are never read as this run's

	prog.Progress("running %s", oc.command)
	var out bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, b.prog), args...)
	cmd.Stdout, cmd.Stderr = io.MultiWriter(os.Stdout, &out), os.Stderr
	start := time.Now()
	err := cmd.Run()
	oc.took = time.Since(start)
	oc.block = strings.TrimRight(out.String(), "\n")
	if err != nil {
		oc.err = fmt.Errorf("%s: %w (its messages are above)", b.prog, err)
		return oc
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		oc.err = fmt.Errorf("%s saved no figures: %w", b.prog, err)
		return oc
	}
	oc.row, oc.err = b.summary(raw)
	return oc
}

// ---------------------------------------------------------------------------------------------
// The summaries: each reads the fields it needs of a program's saved figures.

func importRow(raw []byte) (row, error) {
	var f struct {
		Rows     int `json:"rows"`
		Campaign struct {
			RowsPerSecond float64 `json:"rows_per_second"`
			PeakRSSBytes  int64   `json:"peak_rss_bytes"`
			Seconds       float64 `json:"seconds"`
		} `json:"campaign_run_dry_run"`
		Copy struct {
			RowsPerSecond float64 `json:"rows_per_second"`
		} `json:"psql_copy"`
		River struct {
			Jobs          int     `json:"jobs"`
			JobsPerSecond float64 `json:"jobs_per_second"`
		} `json:"river_insert_many_fast"`
		Ratio      float64 `json:"ratio"`
		RiverRatio float64 `json:"river_ratio"`
		// The last variant of the Postgres profile is the contact table as it is.
		PostgresProfile []struct {
			Seconds float64 `json:"seconds"`
		} `json:"postgres_profile"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return row{}, fmt.Errorf("read the import figures: %w", err)
	}
	r := row{
		figure: fmt.Sprintf("import of a %s-row CSV (`campaign run --dry-run`)", thousands(f.Rows)),
		measured: fmt.Sprintf("%s rows/s, peak RSS %s (%.1f s)", rate(f.Campaign.RowsPerSecond),
			benchkit.Megabytes(f.Campaign.PeakRSSBytes), f.Campaign.Seconds),
		anchor: fmt.Sprintf("`psql \\copy` of the same file: %s rows/s; River `InsertManyFast` of %s id-only jobs: %s jobs/s",
			rate(f.Copy.RowsPerSecond), thousands(f.River.Jobs), rate(f.River.JobsPerSecond)),
		ratio: fmt.Sprintf("%.1fx the time of `\\copy`; %.1fx the time of `InsertManyFast`", f.Ratio, f.RiverRatio),
	}
	if n := len(f.PostgresProfile); n > 0 {
		pg := f.PostgresProfile[n-1].Seconds
		r.anchor += fmt.Sprintf("; the same contacts inserted into a copy of the contact table by Postgres alone: %.1f s", pg)
		r.ratio += fmt.Sprintf("; %.2fx the time Postgres alone takes to write the rows", f.Campaign.Seconds/pg)
	}
	return r, nil
}

func dispatchRow(raw []byte) (row, error) {
	var f struct {
		Contacts int `json:"contacts"`
		Cap      int `json:"cap"`
		Campaign struct {
			LifecyclesPerSecond float64 `json:"lifecycles_per_second"`
		} `json:"campaign_run"`
		River struct {
			JobsPerSecond float64 `json:"jobs_per_second"`
		} `json:"river_noop"`
		Ratio    float64  `json:"ratio"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return row{}, fmt.Errorf("read the dispatch figures: %w", err)
	}
	return row{
		figure:   fmt.Sprintf("dispatch: %s call lifecycles end to end against the simulator at zero latency (cap %d)", thousands(f.Contacts), f.Cap),
		measured: fmt.Sprintf("%s call lifecycles/s", rate(f.Campaign.LifecyclesPerSecond)) + warned(f.Warnings),
		anchor:   fmt.Sprintf("River's bare no-op jobs: %s jobs/s", rate(f.River.JobsPerSecond)),
		ratio:    fmt.Sprintf("%.1fx the time per item", f.Ratio),
	}, nil
}

func webhookRow(raw []byte) (row, error) {
	type run struct {
		ReportsPerSecond float64 `json:"reports_per_second"`
		P50Ms            float64 `json:"p50_ms"`
		P99Ms            float64 `json:"p99_ms"`
	}
	var f struct {
		Reports int     `json:"reports"`
		Clients int     `json:"clients"`
		BodyMin int     `json:"body_min_bytes"`
		BodyMax int     `json:"body_max_bytes"`
		On      run     `json:"storage_on"`
		Off     run     `json:"storage_off"`
		Ratio   float64 `json:"ratio"`
		Ceiling struct {
			Ratio float64 `json:"ratio"`
		} `json:"ceiling"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return row{}, fmt.Errorf("read the webhook figures: %w", err)
	}
	return row{
		figure: fmt.Sprintf("webhook ingest: %s end-of-call reports of %.1f–%.1f KB from %d clients on loopback",
			thousands(f.Reports), float64(f.BodyMin)/1024, float64(f.BodyMax)/1024, f.Clients),
		measured: fmt.Sprintf("%s reports/s, p50 %.1f ms, p99 %.1f ms", rate(f.On.ReportsPerSecond), f.On.P50Ms, f.On.P99Ms) + warned(f.Warnings),
		anchor: fmt.Sprintf("the same handler with storage off: %s reports/s, p50 %.1f ms, p99 %.1f ms",
			rate(f.Off.ReportsPerSecond), f.Off.P50Ms, f.Off.P99Ms),
		ratio: fmt.Sprintf("%.1fx the throughput with storage on; %.1fx at best at the CPU costs measured (the section's ceiling)",
			f.Ratio, f.Ceiling.Ratio),
	}, nil
}

func exportRow(raw []byte) (row, error) {
	var f struct {
		Contacts int `json:"contacts"`
		Export   struct {
			RowsPerSecond float64 `json:"rows_per_second"`
			PeakRSSBytes  int64   `json:"peak_rss_bytes"`
			Seconds       float64 `json:"seconds"`
		} `json:"export"`
		Copy struct {
			RowsPerSecond float64 `json:"rows_per_second"`
		} `json:"psql_copy"`
		Ratio float64 `json:"ratio"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return row{}, fmt.Errorf("read the export figures: %w", err)
	}
	return row{
		figure: fmt.Sprintf("export of %s contacts (`campaign export`)", thousands(f.Contacts)),
		measured: fmt.Sprintf("%s rows/s, peak RSS %s (%.1f s)", rate(f.Export.RowsPerSecond),
			benchkit.Megabytes(f.Export.PeakRSSBytes), f.Export.Seconds),
		anchor: fmt.Sprintf("`psql \\copy (SELECT …) TO` of comparable columns: %s rows/s", rate(f.Copy.RowsPerSecond)),
		ratio:  fmt.Sprintf("%.2fx the time of `\\copy`", f.Ratio),
	}, nil
}

func rateRow(raw []byte) (row, error) {
	var f struct {
		Configured struct {
			Rate         float64 `json:"rate"`
			Burst        int     `json:"burst"`
			MaxPerSecond int     `json:"max_per_second"`
		} `json:"configured"`
		Achieved struct {
			WindowSeconds float64 `json:"window_seconds"`
			Rate          float64 `json:"rate"`
			MaxPerSecond  int     `json:"max_per_second"`
		} `json:"achieved"`
		Ratio       float64  `json:"ratio"`
		WithinBurst bool     `json:"within_burst"`
		Warnings    []string `json:"warnings"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return row{}, fmt.Errorf("read the rate figures: %w", err)
	}
	verdict := "within"
	if !f.WithinBurst {
		verdict = "OVER"
	}
	return row{
		figure: fmt.Sprintf("rate accuracy: `campaign run --rate %g` over %.0f s", f.Configured.Rate, f.Achieved.WindowSeconds),
		measured: fmt.Sprintf("%.3f calls/s achieved; at most %d calls in any 1 s window", f.Achieved.Rate, f.Achieved.MaxPerSecond) +
			warned(f.Warnings),
		anchor: fmt.Sprintf("configured %g calls/s, burst %d (at most %d in any 1 s window)",
			f.Configured.Rate, f.Configured.Burst, f.Configured.MaxPerSecond),
		ratio: fmt.Sprintf("%.3f achieved/configured; largest window %d of %d (%s)",
			f.Ratio, f.Achieved.MaxPerSecond, f.Configured.MaxPerSecond, verdict),
	}, nil
}

func capRow(raw []byte) (row, error) {
	var f struct {
		Procs      int      `json:"procs"`
		Cap        int      `json:"cap"`
		MaxLive    int      `json:"max_live"`
		AtCapShare float64  `json:"at_cap_share"`
		MeanLive   float64  `json:"mean_live_share"`
		Ratio      float64  `json:"ratio"`
		Held       bool     `json:"held"`
		Warnings   []string `json:"warnings"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return row{}, fmt.Errorf("read the cap figures: %w", err)
	}
	verdict := "held"
	if !f.Held {
		verdict = "EXCEEDED"
	}
	return row{
		figure: fmt.Sprintf("live-call cap with %d `campaign serve` processes", f.Procs),
		measured: fmt.Sprintf("highest concurrency the simulator saw: %d (at it %.0f%% of the time calls were live); live calls while contacts were due: %.2f of the cap on average (target ≥ 0.97)",
			f.MaxLive, 100*f.AtCapShare, f.MeanLive) + warned(f.Warnings),
		anchor: fmt.Sprintf("the cap: %d", f.Cap),
		ratio:  fmt.Sprintf("%.2f of the cap (%s)", f.Ratio, verdict),
	}, nil
}

func accountRow(raw []byte) (row, error) {
	var f struct {
		Procs    int `json:"procs"`
		Cap      int `json:"cap"`
		SimLimit int `json:"sim_limit"`
		MaxLive  int `json:"max_live"`
		Account  struct {
			Creates           int     `json:"creates"`
			Refused           int     `json:"refused"`
			CreatesAfter      int     `json:"creates_after_first_refusal"`
			RefusedAfter      int     `json:"refused_after_first_refusal"`
			RefusedAfterShare float64 `json:"refused_after_share"`
			MeetsTarget       bool    `json:"meets_target"`
			MeanLiveShare     float64 `json:"mean_live_share"`
		} `json:"account"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return row{}, fmt.Errorf("read the account figures: %w", err)
	}
	verdict := "met"
	if !f.Account.MeetsTarget {
		verdict = "MISSED"
	}
	return row{
		figure: fmt.Sprintf("account limit learned: `--max-concurrent %d` on a %d-call account, %d `campaign serve` processes",
			f.Cap, f.SimLimit, f.Procs),
		measured: fmt.Sprintf("%s POST /call, %s refused (%s of %s after the first refusal); live %.2f of the limit on average, at most %d",
			thousands(f.Account.Creates), thousands(f.Account.Refused), thousands(f.Account.RefusedAfter),
			thousands(f.Account.CreatesAfter), f.Account.MeanLiveShare, f.MaxLive) + warned(f.Warnings),
		anchor: fmt.Sprintf("the account's limit: %d; target ≤ 1%% refused after the first refusal", f.SimLimit),
		ratio:  fmt.Sprintf("%.2f%% refused after the first refusal (%s)", 100*f.Account.RefusedAfterShare, verdict),
	}, nil
}

func consoleRow(raw []byte) (row, error) {
	var f struct {
		Contacts int     `json:"contacts"`
		TargetMs float64 `json:"target_ms"`
		Over     int     `json:"over_target"`
		Queries  []struct {
			Name  string  `json:"name"`
			P95Ms float64 `json:"p95_ms"`
		} `json:"queries"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return row{}, fmt.Errorf("read the console figures: %w", err)
	}
	var (
		worst     string
		worstMs   float64
		calls     float64
		callsName string
	)
	for _, q := range f.Queries {
		if q.P95Ms > worstMs {
			worst, worstMs = q.Name, q.P95Ms
		}
		if strings.HasPrefix(q.Name, "calls:") && q.P95Ms > calls {
			callsName, calls = q.Name, q.P95Ms
		}
	}
	return row{
		figure: fmt.Sprintf("console queries on a %s-contact campaign (%d queries)", thousands(f.Contacts), len(f.Queries)),
		measured: fmt.Sprintf("calls table: slowest p95 %.1f ms (%s); slowest of all: p95 %.1f ms (%s)",
			calls, callsName, worstMs, worst),
		anchor: fmt.Sprintf("target: p95 ≤ %.0f ms a query", f.TargetMs),
		ratio:  fmt.Sprintf("%d of %d over the target", f.Over, len(f.Queries)),
	}, nil
}

// warned is a note that the program reported warnings, for the summary table.
func warned(warnings []string) string {
	if len(warnings) == 0 {
		return ""
	}
	return fmt.Sprintf(" — %d warning(s), see below", len(warnings))
}

func thousands(n int) string { return benchkit.Thousands(int64(n)) }

func rate(r float64) string { return benchkit.Rate(r, 0) }

// ---------------------------------------------------------------------------------------------
// The machine.

// machine describes where the benchmarks ran.
type machine struct {
	cores     int
	memory    string
	cpu       string
	platform  string
	goVersion string
	postgres  string
	loadAvg   string
}

// readMachine reads the machine's description, and the PostgreSQL server's version and the
// settings that weigh most on the figures.
func readMachine(ctx context.Context, bin string) (*machine, error) {
	m := &machine{cores: runtime.NumCPU(), memory: "unknown", cpu: "unknown", loadAvg: "unknown",
		platform: runtime.GOOS + "/" + runtime.GOARCH, goVersion: runtime.Version()}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb := procField(string(raw), "MemTotal"); kb != "" {
			if n, err := strconv.ParseFloat(strings.TrimSuffix(kb, " kB"), 64); err == nil {
				m.memory = fmt.Sprintf("%.1f GiB", n/(1<<20))
			}
		}
	}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if name := procField(string(raw), "model name"); name != "" {
			m.cpu = name
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.platform += ", Linux " + strings.TrimSpace(string(raw))
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(raw)); len(f) >= 3 {
			m.loadAvg = strings.Join(f[:3], " ")
		}
	}

	dbURL, label, err := benchkit.DatabaseURL(ctx, bin)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the database (%s): %w", label, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version, buffers, syncCommit string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('shared_buffers'),
		current_setting('synchronous_commit')`).Scan(&version, &buffers, &syncCommit)
	if err != nil {
		return nil, fmt.Errorf("read the PostgreSQL version: %w", err)
	}
	m.postgres = fmt.Sprintf("PostgreSQL %s; shared_buffers %s, synchronous_commit %s; %s", version, buffers, syncCommit, where(dbURL, label))
	return m, nil
}

// procField is the value of the first "name: value" line of a /proc file.
func procField(text, name string) string {
	for line := range strings.Lines(text) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// where says where the database server runs, as far as its URL tells.
func where(dbURL, label string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return label
	}
	host := u.Hostname()
	if host == "" || host == "localhost" || strings.HasPrefix(host, "/") {
		return "on this machine (" + label + ")"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "on this machine (" + label + ")"
	}
	return "on another host (" + label + ")"
}

// ---------------------------------------------------------------------------------------------
// BENCHMARKS.md.

// writeReport writes BENCHMARKS.md to path (through a temporary file, so that a reader never
// sees half of it).
func writeReport(path string, o *options, m *machine, done []outcome, start time.Time) error {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Generated by `make bench` (internal/bench/suite); do not edit by hand. Every anchor was measured in the\n" +
		"same run as its figure, on the same machine and database. The programs print figures; none is a timed test.\n\n")
	if o.quick {
		b.WriteString("> **Quick run** (`-quick`): every benchmark at a small size, as a smoke test. These are not the\n" +
			"> reference figures; `make bench` without `-quick` measures the sizes the figures are quoted at.\n\n")
	}
	command := "go run ./internal/bench/suite"
	if len(os.Args) > 1 {
		command += " " + strings.Join(os.Args[1:], " ")
	}
	fmt.Fprintf(&b, "- **Command:** `%s` (what `make bench` runs; `make bench BENCH_ARGS=...` adds flags)\n", command)
	fmt.Fprintf(&b, "- **Date:** %s (%s in all)\n", start.UTC().Format("2006-01-02 15:04 MST"), time.Since(start).Round(time.Second))
	fmt.Fprintf(&b, "- **Machine:** %d cores (%s), %s of memory, %s; load average at the start %s\n",
		m.cores, m.cpu, m.memory, m.platform, m.loadAvg)
	fmt.Fprintf(&b, "- **Go:** %s\n", m.goVersion)
	fmt.Fprintf(&b, "- **Database:** %s\n\n", m.postgres)

	b.WriteString("| figure | measured | anchor in the same run | ratio |\n|---|---|---|---|\n")
	for _, oc := range done {
		if oc.err != nil {
			fmt.Fprintf(&b, "| %s | **failed**: %s | | |\n", oc.b.title, cell(oc.err.Error()))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(oc.row.figure), cell(oc.row.measured), cell(oc.row.anchor), cell(oc.row.ratio))
	}
	for _, oc := range done {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", oc.b.title, oc.b.about)
		fmt.Fprintf(&b, "`%s` (%s; `-bin` is the binary `make build` makes, progress went to stderr)\n\n",
			oc.command, oc.took.Round(100*time.Millisecond))
		if oc.err != nil {
			fmt.Fprintf(&b, "**Failed:** %s\n\n", oc.err)
		}
		if oc.block != "" {
			fmt.Fprintf(&b, "```text\n%s\n```\n", oc.block)
		}
		if oc.b.notes != "" {
			fmt.Fprintf(&b, "\n%s\n", oc.b.notes)
		}
	}

	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
