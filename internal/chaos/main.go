// Command chaos runs a campaign through crashes and checks that the guarantees held (`make
// chaos`).
//
// It runs a campaign of -contacts contacts with the built binary (`campaign run`, then
// `campaign resume` after each crash) against a Vapi simulator with every fault knob on (5xx
// before and after creating a call, held and dropped POST /call responses, 429 bursts, dropped,
// duplicated, delayed and reordered webhooks) and an account concurrency limit below the
// campaign's cap (so some calls are refused for concurrency), on a private Postgres of its own
// (the managed local Postgres of internal/localpg, in a scratch data directory). Meanwhile it
// kills the runner with SIGKILL -kills times at random moments, resuming it each time, and
// restarts Postgres (-pg-restarts times, pg_ctl stop -m fast, then start) while a runner is
// working: the runner must ride that out on its own.
//
// A resumed process takes the place of a killed one; a runner that ends on its own with an
// error, or reports no progress within a minute of a Postgres restart, is a finding: it is
// resumed too (so that the other checks still run), and the verdict is not clean.
//
// The simulator runs in this process, so its record (every POST /call, every call, the
// faults) outlives the runners. At the end it checks:
//
//   - every contact is final and the campaign completed;
//   - no number was dialed more often than the retry policy allows, given the outcomes of its
//     calls (the simulator's record; calls refused for concurrency dialed nobody), and no
//     attempt key placed two calls;
//   - every call the simulator made has its result recorded in our tables (the attempt that
//     placed it, and for a call that dialed someone its end-of-call report with the
//     simulator's ended reason);
//   - the simulator's POST /analytics totals (count and sum of cost of its calls) match the
//     attempts table.
//
// Progress goes to stderr; stdout gets one verdict line, `chaos: CLEAN …` or `chaos: FAILED …`
// with the counts (and the reasons), and the exit status is 1 unless the verdict is clean.
//
// The retry policy must be one the checks can follow: callbacks are turned off (the runner is
// given a --callback-key the simulator never writes, because the simulator dates callbacks on
// its own fast clock, hours or days ahead of the runner's), and retry delays run in real time
// (at least a minute each), which bounds how fast a campaign with retries can finish.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/bench/benchkit"
)

// prog prefixes the progress lines.
const prog benchkit.Program = "chaos"

// options are the command-line flags.
type options struct {
	bin          string
	contacts     int
	kills        int
	pgRestarts   int
	pgDown       time.Duration
	seed         int64
	rate         float64
	concurrency  int
	accountLimit int
	retry        string
	maxAttempts  int
	timeScale    float64
	finishWithin time.Duration
	keep         bool
}

func main() {
	opts := options{}
	flag.StringVar(&opts.bin, "bin", filepath.Join(benchkit.RepoRoot(), "bin", "campaign"), "the campaign binary (make build)")
	flag.IntVar(&opts.contacts, "contacts", 2000, "contacts in the campaign")
	flag.IntVar(&opts.kills, "kills", 10, "how many times the runner is killed with SIGKILL (and resumed)")
	flag.IntVar(&opts.pgRestarts, "pg-restarts", 1, "how many times Postgres is restarted while a runner works")
	flag.DurationVar(&opts.pgDown, "pg-down", 3*time.Second, "how long Postgres stays down at each restart")
	flag.Int64Var(&opts.seed, "seed", time.Now().UnixNano(), "seed of the kill moments and of the simulator (outcomes, faults)")
	flag.Float64Var(&opts.rate, "rate", 20, "the campaign's --rate (calls per second)")
	flag.IntVar(&opts.concurrency, "concurrency", 20, "the campaign's --max-concurrent")
	flag.IntVar(&opts.accountLimit, "account-limit", 15,
		"the simulator's account concurrency limit: below -concurrency, some calls are refused for concurrency")
	flag.StringVar(&opts.retry, "retry", "no_answer=1@1m, busy=1@1m, voicemail=0, failed=1@1m",
		`the campaign's --retry policy ("none": one call per contact); delays run in real time`)
	flag.IntVar(&opts.maxAttempts, "max-attempts", 2, "the campaign's --max-attempts")
	flag.Float64Var(&opts.timeScale, "time-scale", 120, "the simulator's time scale (simulated seconds per real second)")
	flag.DurationVar(&opts.finishWithin, "finish-within", 8*time.Minute, "how long the last runner may take to finish after the last kill")
	flag.BoolVar(&opts.keep, "keep", false, "keep the work directory (logs, CSV, Postgres data) even when the verdict is clean")
	flag.Parse()
	if err := opts.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := run(ctx, opts)
	if err != nil {
		fmt.Printf("chaos: FAILED error=%q\n", err.Error())
		os.Exit(1)
	}
	fmt.Println(v.line())
	if !v.clean() {
		os.Exit(1)
	}
}

// validate checks the flags before anything starts.
func (o *options) validate() error {
	switch {
	case o.contacts < 1:
		return fmt.Errorf("-contacts must be at least 1")
	case o.kills < 0 || o.pgRestarts < 0:
		return fmt.Errorf("-kills and -pg-restarts must not be negative")
	case o.rate <= 0 || o.concurrency < 1 || o.accountLimit < 1:
		return fmt.Errorf("-rate must be positive, -concurrency and -account-limit at least 1")
	case o.maxAttempts < 1:
		return fmt.Errorf("-max-attempts must be at least 1")
	case o.timeScale <= 0:
		return fmt.Errorf("-time-scale must be positive")
	}
	if _, err := campaign.ParseRetryPolicy(o.retry); err != nil {
		return fmt.Errorf("-retry: %w", err)
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("campaign binary: %w (build it with `make build` or pass -bin)", err)
	}
	// The runners start in the work directory: a relative path would not lead there.
	abs, err := filepath.Abs(o.bin)
	o.bin = abs
	return err
}
