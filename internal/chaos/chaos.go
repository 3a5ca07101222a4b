package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/campaign-run/campaign/vapi/vapitest"
)

const (
	// campaignName names the campaign in the private database.
	campaignName = "chaos"
	// noCallbackKey is the runner's --callback-key: a structured-data key the simulator never
	// writes, so that no callback is scheduled (see the package documentation).
	noCallbackKey = "chaos_no_callback"
	// maxSelfExits bounds how many times a runner that ended on its own with an error is
	// resumed before the driver gives up.
	maxSelfExits = 5
	// callsPerContact estimates the calls a contact takes (retries, refusals), to spread the
	// kills over the campaign.
	callsPerContact = 1.3
)

// faults are the simulator's fault knobs, every one on. webhookDelay is the real time a delayed
// webhook is held (the knob itself is in simulated time).
func faults(timeScale float64) vapitest.Faults {
	const webhookDelay = 5 * time.Second
	return vapitest.Faults{
		CreateErrorBefore: 0.01, CreateErrorAfter: 0.02,
		CreateTimeout:  0.01, // held until the runner's client gives up (30 s)
		CreateDrop:     0.02,
		RateLimitBurst: 0.003, RateLimitBurstLength: 2, // each 429 pauses every dial for 1 s
		WebhookDrop: 0.05, WebhookDuplicate: 0.1, WebhookReorder: 0.1,
		WebhookDelay: 0.05, WebhookDelayBy: time.Duration(float64(webhookDelay) * timeScale),
	}
}

// driver is one chaos run: the simulator, the private Postgres, the runner processes and what
// happened to them.
type driver struct {
	o      options
	rng    *rand.Rand
	sim    *vapitest.Server
	simURL string
	pg     *privatePG
	pool   *pgxpool.Pool
	rs     *runners
	runAs  []string // arguments of `campaign run`
	resAs  []string // arguments of `campaign resume`

	kills       int
	pgRestarts  int
	lastRestart time.Time
	resumes     int
	// findings are runners that ended on their own with an error, or stopped reporting
	// progress after a Postgres restart: each is a reason the verdict is not clean.
	findings []string
}

// run runs the campaign through the kills and Postgres restarts and checks the outcome.
func run(ctx context.Context, o options) (*verdict, error) {
	began := time.Now()
	prog.Progress("seed %d (replay with -seed %d)", o.seed, o.seed)
	base := filepath.Join(os.TempDir(), fmt.Sprintf("campaign-chaos-%d", time.Now().UnixNano()))
	pg, err := startPG(ctx, filepath.Join(base, "pg"))
	if err != nil {
		return nil, err
	}
	var v *verdict
	defer func() {
		pg.stop()
		if v != nil && v.clean() && !o.keep {
			_ = os.RemoveAll(base)
			return
		}
		prog.Progress("work directory kept: %s (runner logs in %s)", base, filepath.Join(base, "run"))
	}()
	work := filepath.Join(base, "run")
	if err := os.Mkdir(work, 0o755); err != nil {
		return nil, err
	}

	sim := vapitest.New(vapitest.Config{Seed: o.seed, TimeScale: o.timeScale, ConcurrencyLimit: o.accountLimit,
		Faults: faults(o.timeScale)})
	defer sim.Close()
	simURL, closeSim, err := serve(sim)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	defer closeSim()
	hookAddr, err := freeAddr()
	if err != nil {
		return nil, fmt.Errorf("webhook address: %w", err)
	}
	csvPath := filepath.Join(work, "contacts.csv")
	if err := os.WriteFile(csvPath, []byte(contactsCSV(o.contacts)), 0o644); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, pg.url)
	if err != nil {
		return nil, fmt.Errorf("connect to the private postgres: %w", err)
	}
	defer pool.Close()

	common := []string{"--vapi-base-url", simURL, "--public-url", "http://" + hookAddr, "--webhook-listen", hookAddr}
	d := &driver{
		o: o, rng: rand.New(rand.NewPCG(uint64(o.seed), 0x6368616f73)), sim: sim, simURL: simURL, pg: pg, pool: pool,
		rs: &runners{bin: o.bin, dir: work, env: []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + work,
			"DATABASE_URL=" + pg.url,
			"VAPI_API_KEY=" + sim.Config().APIKey,
			"VAPI_WEBHOOK_SECRET=chaos-webhook-secret",
			"CAMPAIGN_LOG_LEVEL=info",
		}},
		runAs: append([]string{"run", csvPath, "--name", campaignName,
			"--assistant-id", vapitest.AssistantCollections, "--phone-number-id", "pn-chaos", "--window", "always",
			"--rate", strconv.FormatFloat(o.rate, 'g', -1, 64), "--max-concurrent", strconv.Itoa(o.concurrency),
			"--retry", o.retry, "--max-attempts", strconv.Itoa(o.maxAttempts), "--callback-key", noCallbackKey}, common...),
		resAs: append([]string{"resume", campaignName}, common...),
	}
	defer d.rs.killAll()
	prog.Progress("%d contacts, %d kills, %d postgres restarts; simulator at %s (time x%g, account limit %d), runner logs in %s",
		o.contacts, o.kills, o.pgRestarts, simURL, o.timeScale, o.accountLimit, work)

	if err := d.drive(ctx); err != nil {
		return nil, err
	}
	prog.Progress("recovery paths taken across %d processes: %s", len(d.rs.all), d.logCounts())
	prog.Progress("faults injected: %v", sim.FaultCounts())
	v, err = d.verify(ctx)
	if err != nil {
		return nil, err
	}
	v.elapsed = time.Since(began)
	return v, nil
}

// drive runs the campaign: `campaign run`, then kills at random moments, each followed by
// `campaign resume`, with the Postgres restarts spread among them, and waits for the last
// runner to finish the campaign.
func (d *driver) drive(ctx context.Context) error {
	// Restart j of n comes after kill j*kills/(n+1): spread over the campaign.
	restartsAfter := map[int]int{}
	for j := 1; j <= d.o.pgRestarts; j++ {
		restartsAfter[j*d.o.kills/(d.o.pgRestarts+1)]++
	}
	started := time.Now()
	p, err := d.rs.launch(ctx, "run", d.runAs...)
	if err != nil {
		return err
	}
	for {
		for ; restartsAfter[d.kills] > 0; restartsAfter[d.kills]-- {
			if p, err = d.restartPG(ctx, p); err != nil {
				return err
			}
		}
		if d.kills == d.o.kills {
			break
		}
		delay := d.killDelay(ctx)
		select {
		case <-p.done:
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		if p.exited() {
			if p.err == nil {
				prog.Progress("%s finished the campaign before kill %d was due", p.name, d.kills+1)
				return nil
			}
			if p, err = d.selfExit(ctx, p); err != nil {
				return err
			}
			continue
		}
		if err := p.kill(); err != nil {
			return err
		}
		if !p.killedBySignal() {
			continue // it ended on its own just before the signal: the next round looks at how
		}
		d.kills++
		prog.Progress("kill %d: %s killed %s into its work (%s in); %s", d.kills, p.name, delay.Round(time.Millisecond),
			time.Since(started).Round(time.Second), d.snapshot(ctx))
		if p, err = d.resume(ctx); err != nil {
			return err
		}
	}
	return d.finish(ctx, p)
}

// killDelay draws how long the current runner works before it is killed: up to twice the
// remaining campaign's estimated length divided among the kills left, so that the kills spread
// over the campaign.
func (d *driver) killDelay(ctx context.Context) time.Duration {
	remaining := d.o.contacts
	if n, err := d.notFinal(ctx); err == nil {
		remaining = n
	}
	est := time.Duration(float64(remaining) * callsPerContact / d.o.rate * float64(time.Second))
	spread := max(2*est/time.Duration(d.o.kills-d.kills+1), time.Second)
	return 300*time.Millisecond + time.Duration(d.rng.Int64N(int64(spread)))
}

// resume starts the next `campaign resume` and waits until it dispatches.
func (d *driver) resume(ctx context.Context) (*proc, error) {
	d.resumes++
	return d.rs.launch(ctx, fmt.Sprintf("resume-%d", d.resumes), d.resAs...)
}

// selfExit records a runner that ended on its own with an error (a finding: nothing but the
// driver's kills should stop one before the campaign is done) and resumes the campaign.
func (d *driver) selfExit(ctx context.Context, p *proc) (*proc, error) {
	what := fmt.Sprintf("%s exited on its own (%v)", p.name, p.err)
	if !d.lastRestart.IsZero() {
		what += fmt.Sprintf(", %s after postgres restart %d", time.Since(d.lastRestart).Round(time.Millisecond), d.pgRestarts)
	}
	d.findings = append(d.findings, what+"; log "+p.logPth)
	prog.Progress("FINDING: %s; its last lines:\n%s", what, indent(p.log.lastLines(12)))
	if len(d.findings) > maxSelfExits {
		return nil, fmt.Errorf("runners exited on their own %d times; giving up: %s", len(d.findings), strings.Join(d.findings, "; "))
	}
	return d.resume(ctx)
}

// restartPG restarts Postgres while runner p works (after a random 0.5–2.5 s of work), then
// waits until p reports progress again, which it does only after reading the database
// afresh. A runner that ends meanwhile, or stays silent for a minute, is a finding.
func (d *driver) restartPG(ctx context.Context, p *proc) (*proc, error) {
	select {
	case <-time.After(500*time.Millisecond + time.Duration(d.rng.Int64N(int64(2*time.Second)))):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if p.exited() {
		if p.err == nil {
			prog.Progress("%s finished the campaign before postgres restart %d was due", p.name, d.pgRestarts+1)
			return p, nil
		}
		var err error
		if p, err = d.selfExit(ctx, p); err != nil {
			return nil, err
		}
	}
	prog.Progress("postgres restart %d while %s works; %s", d.pgRestarts+1, p.name, d.snapshot(ctx))
	if err := d.pg.restart(ctx, d.o.pgDown); err != nil {
		return nil, err
	}
	d.pgRestarts++
	d.lastRestart = time.Now()
	reports := p.log.progressReports()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if p.exited() {
			if p.err == nil {
				return p, nil
			}
			return d.selfExit(ctx, p)
		}
		if p.log.progressReports() > reports {
			prog.Progress("%s rode out the restart: it reports progress again %s after; %s",
				p.name, time.Since(d.lastRestart).Round(time.Millisecond), d.snapshot(ctx))
			return p, nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	what := fmt.Sprintf("%s reported no progress within a minute of postgres restart %d", p.name, d.pgRestarts)
	d.findings = append(d.findings, what+"; log "+p.logPth)
	prog.Progress("FINDING: %s; its last lines:\n%s", what, indent(p.log.lastLines(12)))
	return p, nil
}

// finish waits for the last runner to finish the campaign, resuming it if it ends on its own
// with an error.
func (d *driver) finish(ctx context.Context, p *proc) error {
	deadline := time.After(d.o.finishWithin)
	for {
		select {
		case <-p.done:
			if p.err == nil {
				prog.Progress("%s finished the campaign; %s", p.name, d.snapshot(ctx))
				return nil
			}
			var err error
			if p, err = d.selfExit(ctx, p); err != nil {
				return err
			}
		case <-deadline:
			path := filepath.Join(d.rs.dir, "stuck.txt")
			_ = os.WriteFile(path, []byte(d.stuck(ctx)), 0o644)
			_ = p.kill()
			return fmt.Errorf("the campaign did not finish within %s of the last kill (%s); the contacts not final are in %s",
				d.o.finishWithin, d.snapshot(ctx), path)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// logCounts reports how often the runners logged each of logPhrases.
func (d *driver) logCounts() string {
	parts := make([]string, 0, len(logPhrases))
	for _, ph := range logPhrases {
		parts = append(parts, fmt.Sprintf("%q %d", ph, d.rs.count(ph)))
	}
	return strings.Join(parts, ", ")
}

// serve serves h on a free loopback port until the returned function is called.
func serve(h http.Handler) (baseURL string, closeFn func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			prog.Progress("simulator server: %v", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// freeAddr returns a loopback address with a free port, for the webhook receiver that every
// runner binds in turn.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// contactsCSV builds a CSV of n distinct valid US numbers: first the simulator's magic numbers
// (+1 201 555 0100…0199, every outcome forced, do-not-call and callback included), then
// ordinary numbers whose outcomes come from the simulator's mix.
func contactsCSV(n int) string {
	var sb strings.Builder
	sb.WriteString("phone,first_name\n")
	for i := range n {
		if i < 100 {
			fmt.Fprintf(&sb, "+1 201 555 %04d,Person %d\n", 100+i, i)
			continue
		}
		j := i - 100
		fmt.Fprintf(&sb, "+1 %d 555 %04d,Person %d\n", 415+j/8000, 2000+j%8000, i)
	}
	return sb.String()
}

// indent indents every line of s by four spaces.
func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
