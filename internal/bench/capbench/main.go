//go:build unix

// Command capbench measures the live-call limits across processes: several `campaign serve`
// processes on one database share a campaign with a cap of N calls against a simulated Vapi
// account with a concurrency limit of its own, and what the simulator saw is compared with the
// smaller of the two. It has two modes, chosen by which of the two is the smaller:
//
//   - the cap (-sim-limit above -cap, the default): the account would allow more, and the
//     highest number of live calls the simulator saw must not exceed the cap;
//   - the account (-sim-limit below -cap, e.g. `-cap 300 -sim-limit 10`, as most users set
//     --max-concurrent above their account's limit): the runner must learn the account's limit
//     from Vapi's answers and refusals, shared by every process through the database, so that
//     Vapi refuses few calls (the target: refused creates at most 1% of the creates after the
//     first refusal) while the account's number of calls stay live.
//
// It is a benchmark program that prints figures, not a timed test. Run it with
//
//	make bench-cap                                                          # 3 processes, cap 20
//	make bench-account                                                      # cap 300, account 10
//	go run ./internal/bench/capbench -bin bin/campaign -contacts 40 -cap 5   # quick smoke run
//
// after `make build`. It:
//
//  1. creates a scratch database on the server (dropped at the end, even after an error or an
//     interrupt, so every run starts from the same state and the user's campaigns are never
//     touched);
//  2. starts, in this process, the Vapi simulator (vapitest) on a loopback HTTP server, with an
//     account concurrency limit of -sim-limit (default four times the cap) enforced as
//     `--simulate` does (a call over it is answered 201 and ends at once with
//     call.start.error-subscription-concurrency-limit-reached), no request-rate limit, no
//     faults and a time scale of -time-scale (by default calls last a few seconds, long next to
//     the two seconds a dial blocked by the cap waits before it tries again), and a round-robin
//     proxy on another loopback port that spreads the webhooks over the serve processes, as a
//     load balancer in front of them would;
//  3. starts -procs `BIN serve` processes on the scratch database, each on a loopback port, and
//     waits until each answers /readyz;
//  4. hands them a campaign of -contacts contacts with `BIN run FILE --detach --max-concurrent
//     CAP --rate 0` (no rate limit: the cap and the account are the only limits; one attempt
//     per contact, the window "always", the proxy as its public URL), and waits until every
//     contact is final;
//  5. stops the serve processes (SIGTERM), reads what the simulator saw (the live-call count at
//     every change, every POST /call and the calls placed and refused), the dial jobs each
//     process completed and, in the account mode, the limit the runner learned and when, and
//     prints a short report to stdout and writes the same figures as one JSON line to
//     DIR/cap-bench.json (DIR/account-bench.json in the account mode).
//
// The anchor of the cap mode is the cap itself: the highest concurrency the simulator saw must
// not exceed it. The share of the time the simulator had the cap's number of calls live says
// whether the cap was what limited the run (else the figure says little). The anchor of the
// account mode is the account's limit: the share of the creates after the first refusal that
// were refused, how many refusals came from dials begun before the runner had learned the limit
// (the opening burst) and how many after, and the time-weighted mean of the live calls over the
// limit while contacts were due (from the first POST /call to the last call placed).
//
// The server is the one the CLI uses: DATABASE_URL when it is set, else the CLI's managed local
// Postgres, whose URL `BIN db url` prints (starting it if needed, before anything is timed).
// Progress goes to stderr, the report to stdout. The exit status is non-zero only when a step
// fails; a cap exceeded or a target missed is reported, in the report and the JSON.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/internal/bench/benchkit"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// Defaults of the flags.
const (
	defaultProcs     = 3
	defaultCap       = 20
	defaultContacts  = 500
	defaultTimeScale = 20
)

// Timing of the run.
const (
	progressPoll  = 250 * time.Millisecond
	progressEvery = 5 * time.Second
)

// campaignName is the name of the benchmark's campaign.
const campaignName = "capbench"

// prog names this program in progress lines and scratch databases.
const prog benchkit.Program = "capbench"

func main() { prog.Main(run) }

// options are the command line's.
type options struct {
	benchkit.CommonFlags
	procs     int
	cap       int
	simLimit  int
	contacts  int
	timeScale float64
	timeout   time.Duration
}

// accountMode reports whether the simulated account's limit, not the cap, is the binding one.
func (o *options) accountMode() bool { return o.simLimit < o.cap }

// limit is the binding limit on live calls: the smaller of the cap and the account's.
func (o *options) limit() int { return min(o.cap, o.simLimit) }

func run(ctx context.Context) error {
	var o options
	o.Define("the campaign binary to benchmark", "work directory for the contacts and the results")
	flag.IntVar(&o.procs, "procs", defaultProcs, "campaign serve processes")
	flag.IntVar(&o.cap, "cap", defaultCap, "the campaign's live-call cap (--max-concurrent)")
	flag.IntVar(&o.simLimit, "sim-limit", 0, "the simulated account's concurrency limit (0: four times the cap; below the cap: the account mode)")
	flag.IntVar(&o.contacts, "contacts", defaultContacts, "contacts in the campaign")
	flag.Float64Var(&o.timeScale, "time-scale", defaultTimeScale, "the simulator's time scale (20: a two-minute call lasts 6 s)")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up on the campaign after this long")
	if err := benchkit.Parse(); err != nil {
		return err
	}
	if o.simLimit == 0 {
		o.simLimit = 4 * o.cap
	}
	switch {
	case o.procs < 1:
		return fmt.Errorf("-procs must be at least 1, got %d", o.procs)
	case o.cap < 1:
		return fmt.Errorf("-cap must be at least 1, got %d", o.cap)
	case o.simLimit < 1:
		return fmt.Errorf("-sim-limit must be at least 1, got %d", o.simLimit)
	case o.simLimit == o.cap:
		return fmt.Errorf("-sim-limit must differ from the cap (%d): above it the cap is measured, below it the account's limit", o.cap)
	case o.contacts < 1:
		return fmt.Errorf("-contacts must be at least 1, got %d", o.contacts)
	case o.timeScale <= 0:
		return fmt.Errorf("-time-scale must be positive, got %g", o.timeScale)
	}

	ws, err := o.Workspace(benchkit.ToolCampaign)
	if err != nil {
		return err
	}
	file, err := benchkit.WriteContacts(ws.Dir, "capbench-contacts.csv", o.contacts)
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
		ConcurrencyLimit: o.simLimit, RequestRate: -1}, 4*o.limit())
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
	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var limitSeen <-chan time.Time
	if o.accountMode() {
		limitSeen = watchLimit(runCtx, pool)
	}
	wall, err := runCampaign(runCtx, &o, ws.Bin, scratchURL, file, fleet, sim, pool)
	if err != nil {
		if runCtx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("the campaign did not finish within -timeout %s", o.timeout)
		}
		return err
	}
	fleet.Stop()
	byProcess, err := dialsByProcess(ctx, pool)
	if err != nil {
		return err
	}

	res := newResult(&o, dbLabel, wall, sim, byProcess)
	jsonName := "cap-bench.json"
	if o.accountMode() {
		jsonName = "account-bench.json"
		var seen time.Time
		select {
		case seen = <-limitSeen:
		default:
		}
		if res.Account, err = newAccountFigures(ctx, &o, sim, pool, seen); err != nil {
			return err
		}
		res.Warnings = append(res.Warnings, res.Account.warnings(o.simLimit)...)
	}
	res.print(os.Stdout)
	return prog.SaveJSONLine(filepath.Join(ws.Dir, jsonName), res)
}

// ---------------------------------------------------------------------------------------------
// The campaign.

// runCampaign hands the campaign to the serve processes with `campaign run --detach` and waits
// until every contact is final; it returns the time from the hand-over to then.
func runCampaign(ctx context.Context, o *options, bin, dbURL, file string, fleet *benchkit.Fleet, sim *benchkit.Simulator, pool *pgxpool.Pool) (time.Duration, error) {
	args := fleet.DetachArgs(file, campaignName, o.cap, sim)
	prog.Progress("handing %s contacts to them with %s run --detach --max-concurrent %d …",
		benchkit.Thousands(int64(o.contacts)), o.Bin, o.cap)
	cmd, wait := prog.Command(ctx, "campaign run", bin, dbURL, sim.Env(), args...)
	start := time.Now()
	err := cmd.Run()
	wait()
	if err != nil {
		return 0, fmt.Errorf("`campaign run --detach` failed: %w (its messages are above)", err)
	}
	store := campaign.NewStore(pool)
	c, err := store.CampaignByRef(ctx, campaignName)
	if err != nil {
		return 0, err
	}
	tick := time.NewTicker(progressPoll)
	defer tick.Stop()
	lastPrint := start
	for {
		p, err := store.Progress(ctx, c.ID)
		if err != nil {
			return 0, err
		}
		if p.Final() {
			wall := time.Since(start)
			prog.Progress("campaign finished in %.1f s", wall.Seconds())
			return wall, nil
		}
		if now := time.Now(); now.Sub(lastPrint) >= progressEvery {
			lastPrint = now
			_, maxLive := sim.Concurrency()
			prog.Progress("  %5.1f s: %s/%s final, %d live at the simulator (highest so far %d, cap %d, account limit %d)",
				now.Sub(start).Seconds(), benchkit.Thousands(int64(p.FinalCount())), benchkit.Thousands(int64(p.Total)),
				sim.Live(), maxLive, o.cap, o.simLimit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

// dialsByProcess counts the dial jobs completed by each River client (one per serve process),
// most first.
func dialsByProcess(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	rows, err := pool.Query(ctx, `
		SELECT count(*) FROM river_job
		WHERE kind = $1 AND state = $2
		GROUP BY attempted_by[array_upper(attempted_by, 1)]
		ORDER BY 1 DESC`, jobs.DialArgs{}.Kind(), rivertype.JobStateCompleted)
	if err != nil {
		return nil, fmt.Errorf("count dial jobs: %w", err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("count dial jobs: %w", err)
	}
	return counts, nil
}

// ---------------------------------------------------------------------------------------------
// The report.

// result is the benchmark's figures, as printed and as saved (one JSON line).
type result struct {
	Time      string  `json:"time"`
	Mode      string  `json:"mode"` // "cap" or "account": which limit binds
	Procs     int     `json:"procs"`
	Contacts  int     `json:"contacts"`
	SimLimit  int     `json:"sim_limit"`
	TimeScale float64 `json:"time_scale"`
	Cores     int     `json:"cores"`
	GoVersion string  `json:"go_version"`
	Platform  string  `json:"platform"`
	Database  string  `json:"database"`
	LoadAvg   string  `json:"load_avg"` // at the start, from /proc/loadavg ("" when unknown)

	Cap     int `json:"cap"`
	Limit   int `json:"limit"`    // the binding limit: the smaller of the cap and the account's
	MaxLive int `json:"max_live"` // the highest concurrency the simulator saw
	// AtCapShare is the share of the time calls were live during which the binding limit's
	// number were.
	AtCapShare float64 `json:"at_cap_share"`
	// MeanLiveShare is the time-weighted mean of the live calls over the binding limit while
	// contacts were due (see meanLiveWhileDue): the cap's utilization, target ≥ 0.97.
	MeanLiveShare float64 `json:"mean_live_share"`
	// Ratio is MaxLive over Limit.
	Ratio float64 `json:"ratio"`
	Held  bool    `json:"held"` // MaxLive <= Limit

	Seconds        float64 `json:"seconds"` // from the hand-over to every contact final
	CallsPlaced    int     `json:"calls_placed"`
	CallsRefused   int     `json:"calls_refused"`    // by the simulator, over its concurrency limit
	DialsByProcess []int   `json:"dials_by_process"` // dial jobs completed, by River client

	// Account holds the account mode's figures (absent in the cap mode).
	Account *accountFigures `json:"account,omitempty"`

	Warnings []string `json:"warnings"`
}

func newResult(o *options, db string, wall time.Duration, sim *benchkit.Simulator, byProcess []int) *result {
	mode := "cap"
	if o.accountMode() {
		mode = "account"
	}
	r := &result{
		Time: time.Now().UTC().Format(time.RFC3339), Mode: mode, Procs: o.procs, Contacts: o.contacts, SimLimit: o.simLimit,
		TimeScale: o.timeScale, Cores: runtime.NumCPU(), GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Database: db, LoadAvg: benchkit.LoadAverage(),
		Cap: o.cap, Limit: o.limit(), Seconds: wall.Seconds(), DialsByProcess: byProcess, Warnings: []string{},
	}
	samples, maxLive := sim.Concurrency()
	r.MaxLive = maxLive
	r.Ratio = float64(maxLive) / float64(r.Limit)
	r.Held = maxLive <= r.Limit
	var live, atLimit time.Duration
	for i := 1; i < len(samples); i++ {
		d := samples[i].At.Sub(samples[i-1].At)
		if samples[i-1].Live > 0 {
			live += d
		}
		if samples[i-1].Live >= r.Limit {
			atLimit += d
		}
	}
	if live > 0 {
		r.AtCapShare = float64(atLimit) / float64(live)
	}
	r.MeanLiveShare = meanLiveWhileDue(sim) / float64(r.Limit)
	for _, c := range sim.Calls() {
		if c.EndedReason == vapi.EndedReasonConcurrencyLimitReached {
			r.CallsRefused++
		} else {
			r.CallsPlaced++
		}
	}

	warn := func(format string, args ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...)) }
	if !r.Held {
		warn("the limit did not hold: %d calls were live at once, limit %d", maxLive, r.Limit)
	}
	if r.AtCapShare < 0.5 {
		warn("the limit's number of calls were live only %.0f%% of the time: it was not what limited the run", 100*r.AtCapShare)
	}
	if r.CallsPlaced != o.contacts {
		warn("the simulator placed %d calls for %d contacts", r.CallsPlaced, o.contacts)
	}
	if r.CallsRefused > 0 && !o.accountMode() {
		warn("the simulator refused %d calls over its concurrency limit", r.CallsRefused)
	}
	if len(byProcess) < o.procs {
		warn("dial jobs were completed by %d of the %d processes", len(byProcess), o.procs)
	}
	return r
}

// print writes the human report.
func (r *result) print(w io.Writer) {
	if r.Account != nil {
		fmt.Fprintf(w, "account limit benchmark: %d campaign serve processes, cap %d, simulated account limit %d, %s contacts, time x%g, %d cores, load %s, %s\n",
			r.Procs, r.Cap, r.SimLimit, benchkit.Thousands(int64(r.Contacts)), r.TimeScale, r.Cores, r.LoadAvg, r.GoVersion)
		r.Account.print(w, r.SimLimit)
		verdict := "held"
		if !r.Held {
			verdict = "EXCEEDED"
		}
		fmt.Fprintf(w, "peak live calls          : %4d at the simulator (the account's limit: %d, %s)\n", r.MaxLive, r.SimLimit, verdict)
	} else {
		fmt.Fprintf(w, "live-call cap benchmark: %d campaign serve processes, cap %d, %s contacts, simulated account limit %d, time x%g, %d cores, %s\n",
			r.Procs, r.Cap, benchkit.Thousands(int64(r.Contacts)), r.SimLimit, r.TimeScale, r.Cores, r.GoVersion)
		fmt.Fprintf(w, "highest concurrency seen : %4d live calls at the simulator (the cap's number live %.0f%% of the time calls were)\n",
			r.MaxLive, 100*r.AtCapShare)
		fmt.Fprintf(w, "live while contacts due  : %.2f of the cap on average (time-weighted; target ≥ %.2f)\n",
			r.MeanLiveShare, utilizationTarget)
		fmt.Fprintf(w, "cap                      : %4d\n", r.Cap)
		verdict := "held"
		if !r.Held {
			verdict = "EXCEEDED"
		}
		fmt.Fprintf(w, "ratio                    : %4.2f of the cap: %s\n", r.Ratio, verdict)
	}
	counts := make([]string, len(r.DialsByProcess))
	for i, n := range r.DialsByProcess {
		counts[i] = benchkit.Thousands(int64(n))
	}
	fmt.Fprintf(w, "calls                    : %s placed in %.1f s, %d refused by the simulator; dial jobs completed by process: %s\n",
		benchkit.Thousands(int64(r.CallsPlaced)), r.Seconds, r.CallsRefused, strings.Join(counts, ", "))
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "warning                  : %s\n", s)
	}
}

// ---------------------------------------------------------------------------------------------
// The account mode.

// utilizationTarget is the target for the cap mode: the live calls at least 97% of the
// cap on average while contacts are due.
const utilizationTarget = 0.97

// refusedShareTarget is the target: refused creates at most 1% of the creates after
// the first refusal.
const refusedShareTarget = 0.01

// accountFigures are the account mode's figures: how many POST /call the simulator refused for
// concurrency, when, and how full the account was kept.
type accountFigures struct {
	Creates int `json:"creates"` // POST /call received
	Refused int `json:"refused"` // of which refused for concurrency
	// FirstRefusal is the position (from 1) of the first refused create among all; 0: none.
	FirstRefusal int `json:"first_refusal"`
	// CreatesAfter and RefusedAfter count the creates after the first refused one, and those
	// of them refused; RefusedAfterShare is their ratio, the figure (target ≤ 1%).
	CreatesAfter      int     `json:"creates_after_first_refusal"`
	RefusedAfter      int     `json:"refused_after_first_refusal"`
	RefusedAfterShare float64 `json:"refused_after_share"`
	MeetsTarget       bool    `json:"meets_target"`
	// RefusedBlind counts the refused attempts begun (BeginAttempt) before the limit the runner
	// learned was seen in the database: the dials already on their way when it was learned.
	// RefusedInformed counts those begun after: every one is a refusal learning failed to
	// prevent.
	RefusedBlind    int `json:"refused_blind"`
	RefusedInformed int `json:"refused_informed"`
	// LearnedLimit is the limit the runner stored for the account; nil: none learned.
	LearnedLimit *int `json:"learned_limit"`
	// LearnedAfterMs is the time from the campaign's first attempt to the limit seen in the
	// database.
	LearnedAfterMs float64 `json:"learned_after_ms"`
	// MeanLiveShare is the time-weighted mean of the live calls over the account's limit while
	// contacts were due: from the first POST /call to the last call placed (simulated time).
	MeanLiveShare float64 `json:"mean_live_share"`
}

// limitPoll is how often watchLimit looks for the learned limit.
const limitPoll = 2 * time.Millisecond

// watchLimit polls the scratch database until a limit learned for a Vapi account is visible to
// other transactions, and sends the time it first saw it (at most limitPoll after the commit that
// made it so). The vapi_account row's learned_at is no substitute: it is taken before the
// learning transaction waits for a connection and commits, which on a loaded machine may be long
// after.
func watchLimit(ctx context.Context, pool *pgxpool.Pool) <-chan time.Time {
	seen := make(chan time.Time, 1)
	go func() {
		tick := time.NewTicker(limitPoll)
		defer tick.Stop()
		for {
			var known bool
			err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vapi_account WHERE concurrency_limit IS NOT NULL)`).Scan(&known)
			if err == nil && known {
				seen <- time.Now()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return seen
}

// newAccountFigures reads the account mode's figures from the simulator (every POST /call and
// the call it made, the live-call count over time) and from the scratch database (the limit the
// runner learned, and when each refused attempt was begun against limitSeen, the time watchLimit
// saw the limit; zero when it did not).
func newAccountFigures(ctx context.Context, o *options, sim *benchkit.Simulator, pool *pgxpool.Pool, limitSeen time.Time) (*accountFigures, error) {
	f := &accountFigures{}
	calls := map[string]vapitest.CallRecord{}
	for _, c := range sim.Calls() {
		calls[c.ID] = c
	}
	reqs := sim.CreateRequests()
	f.Creates = len(reqs)
	for i, r := range reqs {
		refused := calls[r.CallID].EndedReason == vapi.EndedReasonConcurrencyLimitReached
		switch {
		case refused && f.FirstRefusal == 0:
			f.FirstRefusal = i + 1
		case f.FirstRefusal != 0:
			f.CreatesAfter++
			if refused {
				f.RefusedAfter++
			}
		}
		if refused {
			f.Refused++
		}
	}
	if f.CreatesAfter > 0 {
		f.RefusedAfterShare = float64(f.RefusedAfter) / float64(f.CreatesAfter)
	}
	f.MeetsTarget = f.RefusedAfterShare <= refusedShareTarget
	f.MeanLiveShare = meanLiveWhileDue(sim) / float64(o.simLimit)

	// The runner's clock is the wall clock, as is BeginAttempt's created_at, taken before the
	// transaction that reads the account's row: an attempt begun after the limit was seen was
	// begun knowing it. Without a limit seen, every refusal was blind.
	var seen *time.Time
	if !limitSeen.IsZero() {
		seen = &limitSeen
	}
	var first *time.Time
	err := pool.QueryRow(ctx, `
		SELECT (SELECT a.concurrency_limit FROM vapi_account a WHERE a.id = c.vapi_account),
			(SELECT min(created_at) FROM attempt WHERE campaign_id = c.id),
			(SELECT count(*) FROM attempt WHERE campaign_id = c.id AND outcome = $2 AND created_at < coalesce($3::timestamptz, 'infinity')),
			(SELECT count(*) FROM attempt WHERE campaign_id = c.id AND outcome = $2 AND created_at >= $3::timestamptz)
		FROM campaign c WHERE c.name = $1`, campaignName, campaign.OutcomeCapacity, seen).
		Scan(&f.LearnedLimit, &first, &f.RefusedBlind, &f.RefusedInformed)
	if err != nil {
		return nil, fmt.Errorf("read the learned account limit: %w", err)
	}
	if seen != nil && first != nil {
		f.LearnedAfterMs = float64(seen.Sub(*first)) / float64(time.Millisecond)
	}
	return f, nil
}

// meanLiveWhileDue is the time-weighted mean of the live calls the simulator saw while contacts
// were due: from the first POST /call to the last call placed (simulated time); 0 without one.
func meanLiveWhileDue(sim *benchkit.Simulator) float64 {
	reqs := sim.CreateRequests()
	if len(reqs) == 0 {
		return 0
	}
	var lastPlaced time.Time
	for _, c := range sim.Calls() {
		if c.EndedReason != vapi.EndedReasonConcurrencyLimitReached && c.CreatedAt.After(lastPlaced) {
			lastPlaced = c.CreatedAt
		}
	}
	samples, _ := sim.Concurrency()
	return meanLive(samples, reqs[0].At, lastPlaced)
}

// meanLive is the time-weighted mean of the live-call count from `from` to `to`, the count
// being samples[i].Live from samples[i].At on (0 before the first sample).
func meanLive(samples []vapitest.ConcurrencySample, from, to time.Time) float64 {
	if !to.After(from) {
		return 0
	}
	var sum float64 // live calls × nanoseconds
	live, at := 0, from
	for _, s := range samples {
		if !s.At.Before(to) {
			break
		}
		if s.At.After(at) {
			sum += float64(live) * float64(s.At.Sub(at))
			at = s.At
		}
		live = s.Live
	}
	sum += float64(live) * float64(to.Sub(at))
	return sum / float64(to.Sub(from))
}

// warnings are the account mode's warnings: the target missed, and why.
func (f *accountFigures) warnings(limit int) []string {
	var out []string
	if !f.MeetsTarget {
		out = append(out, fmt.Sprintf("target missed: %.1f%% of the creates after the first refusal were refused (target ≤ %.0f%%): %d refused from dials begun before the limit was in the database, %d after",
			100*f.RefusedAfterShare, 100*refusedShareTarget, f.RefusedBlind, f.RefusedInformed))
	}
	if f.LearnedLimit == nil {
		out = append(out, "the runner learned no limit for the account")
	} else if *f.LearnedLimit != limit {
		out = append(out, fmt.Sprintf("the runner learned a limit of %d, the account's is %d", *f.LearnedLimit, limit))
	}
	return out
}

// print writes the account mode's lines of the human report.
func (f *accountFigures) print(w io.Writer, limit int) {
	learned := "none"
	if f.LearnedLimit != nil {
		learned = fmt.Sprintf("%d, in the database %.0f ms after the first attempt", *f.LearnedLimit, f.LearnedAfterMs)
	}
	fmt.Fprintf(w, "limit learned            : %s (the account's: %d)\n", learned, limit)
	fmt.Fprintf(w, "POST /call               : %s, %s refused for concurrency (%s begun before the limit was in the database, %s after)\n",
		benchkit.Thousands(int64(f.Creates)), benchkit.Thousands(int64(f.Refused)),
		benchkit.Thousands(int64(f.RefusedBlind)), benchkit.Thousands(int64(f.RefusedInformed)))
	verdict := "met"
	if !f.MeetsTarget {
		verdict = "MISSED"
	}
	if f.FirstRefusal == 0 {
		fmt.Fprintf(w, "after the first refusal  : no create was refused (target ≤ %.0f%%: %s)\n", 100*refusedShareTarget, verdict)
	} else {
		fmt.Fprintf(w, "after the first refusal  : %s of %s creates refused: %.2f%% (target ≤ %.0f%%: %s)\n",
			benchkit.Thousands(int64(f.RefusedAfter)), benchkit.Thousands(int64(f.CreatesAfter)),
			100*f.RefusedAfterShare, 100*refusedShareTarget, verdict)
	}
	fmt.Fprintf(w, "live while contacts due  : %.2f of the account's limit on average (time-weighted)\n", f.MeanLiveShare)
}
