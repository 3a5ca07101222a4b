//go:build unix

// Command ratebench measures how closely `campaign run --rate R` holds its rate: the calls per
// second Vapi receives over a minute, and the most calls in any one-second window, against the
// configured rate and burst.
//
// It is a benchmark program that prints figures, not a timed test. Run it with
//
//	make bench-rate                                                         # 10 calls/s for 60 s
//	go run ./internal/bench/ratebench -bin bin/campaign -rate 5 -duration 10s   # quick smoke run
//
// after `make build`. It:
//
//  1. creates a scratch database on the server (dropped at the end, even after an error or an
//     interrupt, so every run starts from the same state and the user's campaigns are never
//     touched);
//  2. starts, in this process, the Vapi simulator (vapitest) on a loopback HTTP server, with no
//     request-rate limit, no faults, an account concurrency limit well above the campaign's
//     cap, and a time scale of -time-scale (calls last a second or two);
//  3. writes a CSV of enough contacts for -duration at -rate, and two seconds more, and runs
//     `BIN run FILE --rate R` on the simulator (--max-concurrent -max-concurrent, the window
//     "always", one attempt per contact, its webhook receiver on a loopback port) until every
//     contact is final;
//  4. reads the simulator's record of every POST /call (its arrival time on the simulator's
//     Clock, real time) and computes the calls per second received over the first
//     -duration from the first call, over the whole run, the most calls in any one-second window
//     (sliding, from every call), and the smallest gap between two calls;
//  5. prints a short report to stdout and writes the same figures as one JSON line to
//     DIR/rate-bench.json.
//
// The anchor is the configuration: the rate, and the burst. The rate is held by GCRA on the
// campaign row (campaign.Store.BeginAttempt: one call per 1/R seconds, no tolerance), and each
// process's dial workers are paced before that by a rate.Limiter with a bucket of 1
// (jobs/dial.go): the burst is 1, so no one-second window may hold more than floor(R) + 1 calls
// (floor(R) when the calls are exactly 1/R apart; the one more allows for the jitter between
// the dialer's clock and the request's arrival).
//
// The server is the one the CLI uses: DATABASE_URL when it is set, else the CLI's managed local
// Postgres, whose URL `BIN db url` prints (starting it if needed, before anything is timed).
// Progress goes to stderr, the report to stdout. The exit status is non-zero only when a step
// fails; a rate missed or a window over the bound is reported, in the report and the JSON.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/campaign-run/campaign/internal/bench/benchkit"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// Defaults of the flags.
const (
	defaultRate          = 10
	defaultDuration      = 60 * time.Second
	defaultTimeScale     = 100
	defaultMaxConcurrent = 1000
)

// burst is the configured burst of the campaign's rate: GCRA without tolerance and a local
// limiter with a bucket of 1 (see the package documentation).
const burst = 1

// tail is how long the campaign goes on dialing after the measured window, so that the window
// is full.
const tail = 2 * time.Second

// campaignName is the name of the benchmark's campaign.
const campaignName = "ratebench"

// prog names this program in progress lines and scratch databases.
const prog benchkit.Program = "ratebench"

func main() { prog.Main(run) }

// options are the command line's.
type options struct {
	benchkit.CommonFlags
	rate          float64
	duration      time.Duration
	timeScale     float64
	maxConcurrent int
	timeout       time.Duration
}

func run(ctx context.Context) error {
	var o options
	o.Define("the campaign binary to benchmark", "work directory for the contacts and the results")
	flag.Float64Var(&o.rate, "rate", defaultRate, "the campaign's --rate, in calls per second")
	flag.DurationVar(&o.duration, "duration", defaultDuration, "the window over which the achieved rate is measured")
	flag.Float64Var(&o.timeScale, "time-scale", defaultTimeScale, "the simulator's time scale (100: a four-minute call lasts 2.4 s)")
	flag.IntVar(&o.maxConcurrent, "max-concurrent", defaultMaxConcurrent, "the campaign's live-call cap, high enough not to limit the rate (the simulator's limit is twice it)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on the campaign run after this long")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	switch {
	case o.rate <= 0:
		return fmt.Errorf("-rate must be positive, got %g", o.rate)
	case o.duration < time.Second:
		return fmt.Errorf("-duration must be at least 1s, got %s", o.duration)
	case o.timeScale <= 0:
		return fmt.Errorf("-time-scale must be positive, got %g", o.timeScale)
	case o.maxConcurrent < 1:
		return fmt.Errorf("-max-concurrent must be at least 1, got %d", o.maxConcurrent)
	}

	ws, err := o.Workspace(benchkit.ToolCampaign)
	if err != nil {
		return err
	}
	contacts := int(math.Ceil(o.rate * (o.duration + tail).Seconds()))
	file, err := benchkit.WriteContacts(ws.Dir, "ratebench-contacts.csv", contacts)
	if err != nil {
		return err
	}
	defer os.Remove(file)

	scratchURL, dbLabel, dropScratch, err := prog.Database(ctx, ws.Bin)
	if err != nil {
		return err
	}
	defer dropScratch()

	sim, err := benchkit.StartSimulator(vapitest.Config{Seed: 1, TimeScale: o.timeScale,
		ConcurrencyLimit: 2 * o.maxConcurrent, RequestRate: -1}, 64)
	if err != nil {
		return err
	}
	defer sim.Close()
	receiver, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}

	args := append([]string{"run", file, "--name", campaignName, "--rate", fmt.Sprint(o.rate),
		"--max-concurrent", fmt.Sprint(o.maxConcurrent), "--window", "always", "--retry", "none", "--max-attempts", "1",
		"--public-url", "http://" + receiver, "--webhook-listen", receiver}, sim.RunFlags()...)
	prog.Progress("running %s %s (%s contacts) …", o.Bin, args[0], benchkit.Thousands(int64(contacts)))
	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	cmd, wait := prog.Command(runCtx, "campaign run", ws.Bin, scratchURL, sim.Env(), args...)
	start := time.Now()
	err = cmd.Run()
	wait()
	wall := time.Since(start)
	if err != nil {
		if runCtx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("the campaign did not finish within -timeout %s", o.timeout)
		}
		return fmt.Errorf("`campaign run` failed after %.1f s: %w (its messages are above)", wall.Seconds(), err)
	}

	res, err := newResult(&o, dbLabel, contacts, wall, sim)
	if err != nil {
		return err
	}
	res.print(os.Stdout)
	return prog.SaveJSONLine(filepath.Join(ws.Dir, "rate-bench.json"), res)
}

// ---------------------------------------------------------------------------------------------
// The report.

// result is the benchmark's figures, as printed and as saved (one JSON line).
type result struct {
	Time      string  `json:"time"`
	Contacts  int     `json:"contacts"`
	TimeScale float64 `json:"time_scale"`
	Cores     int     `json:"cores"`
	GoVersion string  `json:"go_version"`
	Platform  string  `json:"platform"`
	Database  string  `json:"database"`

	Configured struct {
		Rate  float64 `json:"rate"`  // calls per second
		Burst int     `json:"burst"` // calls
		// MaxPerSecond is the most calls the rate and burst allow in any one-second window.
		MaxPerSecond int `json:"max_per_second"`
	} `json:"configured"`

	Achieved struct {
		WindowSeconds float64 `json:"window_seconds"`
		WindowCalls   int     `json:"window_calls"` // calls in the first WindowSeconds from the first
		Rate          float64 `json:"rate"`         // WindowCalls / WindowSeconds
		Calls         int     `json:"calls"`        // POST /call received in all
		SpanSeconds   float64 `json:"span_seconds"` // from the first to the last
		OverallRate   float64 `json:"overall_rate"` // (Calls - 1) / SpanSeconds
		MaxPerSecond  int     `json:"max_per_second"`
		MinGapMs      float64 `json:"min_gap_ms"`
		Refused       int     `json:"refused"` // POST /call not answered 201
	} `json:"achieved"`

	RunSeconds float64 `json:"run_seconds"` // the whole `campaign run`, import to summary

	// Ratio is the achieved rate over the configured one.
	Ratio float64 `json:"ratio"`
	// WithinBurst says no one-second window held more than the rate and burst allow.
	WithinBurst bool     `json:"within_burst"`
	Warnings    []string `json:"warnings"`
}

// newResult computes the figures from the simulator's record of the POST /call it received.
func newResult(o *options, db string, contacts int, wall time.Duration, sim *benchkit.Simulator) (*result, error) {
	reqs := sim.CreateRequests()
	if len(reqs) == 0 {
		return nil, errors.New("the simulator received no POST /call")
	}
	r := &result{
		Time: time.Now().UTC().Format(time.RFC3339), Contacts: contacts, TimeScale: o.timeScale,
		Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Database: db,
		RunSeconds: wall.Seconds(), Warnings: []string{},
	}
	r.Configured.Rate, r.Configured.Burst = o.rate, burst
	r.Configured.MaxPerSecond = int(math.Floor(o.rate)) + burst

	// The simulator stamps requests with its Clock, real time (TimeScale shortens its calls, not
	// its clock); concurrent requests may be recorded slightly out of order.
	first := reqs[0].At
	for _, q := range reqs {
		if q.At.Before(first) {
			first = q.At
		}
	}
	at := make([]time.Duration, len(reqs))
	for i, q := range reqs {
		at[i] = q.At.Sub(first)
		if q.Status != 201 {
			r.Achieved.Refused++
		}
	}
	slices.Sort(at)
	a := &r.Achieved
	a.Calls = len(at)
	a.WindowSeconds = o.duration.Seconds()
	a.WindowCalls = countBefore(at, o.duration)
	a.Rate = float64(a.WindowCalls) / a.WindowSeconds
	a.SpanSeconds = at[len(at)-1].Seconds()
	if a.SpanSeconds > 0 {
		a.OverallRate = float64(a.Calls-1) / a.SpanSeconds
	}
	a.MinGapMs = math.Inf(1)
	for i := range at {
		a.MaxPerSecond = max(a.MaxPerSecond, countBefore(at[i:], at[i]+time.Second))
		if i > 0 {
			a.MinGapMs = min(a.MinGapMs, float64(at[i]-at[i-1])/float64(time.Millisecond))
		}
	}
	if len(at) < 2 {
		a.MinGapMs = 0
	}
	r.Ratio = a.Rate / o.rate
	r.WithinBurst = a.MaxPerSecond <= r.Configured.MaxPerSecond

	warn := func(format string, args ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...)) }
	if a.Calls != contacts {
		warn("the simulator received %d POST /call for %d contacts", a.Calls, contacts)
	}
	if a.Refused > 0 {
		warn("%d POST /call were not answered 201", a.Refused)
	}
	if a.SpanSeconds < a.WindowSeconds {
		warn("the calls spanned %.1f s, less than the %.0f s window", a.SpanSeconds, a.WindowSeconds)
	}
	if !r.WithinBurst {
		warn("a one-second window held %d calls, more than the %d the rate and burst allow", a.MaxPerSecond, r.Configured.MaxPerSecond)
	}
	return r, nil
}

// countBefore counts the times in sorted at that are before t.
func countBefore(at []time.Duration, t time.Duration) int {
	n, _ := slices.BinarySearch(at, t)
	return n
}

// print writes the human report.
func (r *result) print(w io.Writer) {
	a, c := &r.Achieved, &r.Configured
	fmt.Fprintf(w, "rate benchmark: campaign run --rate %g, %s contacts, simulator time x%g, %d cores, %s\n",
		c.Rate, benchkit.Thousands(int64(r.Contacts)), r.TimeScale, r.Cores, r.GoVersion)
	fmt.Fprintf(w, "achieved                : %7.3f calls/s over the first %.0f s (%s calls); %.3f calls/s over the whole run (%s in %.1f s)\n",
		a.Rate, a.WindowSeconds, benchkit.Thousands(int64(a.WindowCalls)), a.OverallRate, benchkit.Thousands(int64(a.Calls)), a.SpanSeconds)
	fmt.Fprintf(w, "largest 1 s window      : %7d calls  (smallest gap between two calls %.1f ms)\n", a.MaxPerSecond, a.MinGapMs)
	fmt.Fprintf(w, "configured              : %7.3f calls/s, burst %d: at most %d calls in any 1 s window\n", c.Rate, c.Burst, c.MaxPerSecond)
	verdict := "within the burst"
	if !r.WithinBurst {
		verdict = "OVER the burst"
	}
	fmt.Fprintf(w, "ratio                   : %7.3f achieved/configured; largest window %d of %d allowed (%s)\n",
		r.Ratio, a.MaxPerSecond, c.MaxPerSecond, verdict)
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "warning                 : %s\n", s)
	}
}
