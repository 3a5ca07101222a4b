package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/reports/export"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// Environment variables of a real run.
const (
	envAPIKey      = "VAPI_API_KEY"
	envVapiBaseURL = "VAPI_BASE_URL"
	// envWebhookHMACSecret, when set, also accepts webhooks signed by a Vapi HMAC credential
	// (x-signature over "{x-timestamp}.{body}", SHA-256) instead of the secret header.
	envWebhookHMACSecret = "VAPI_WEBHOOK_HMAC_SECRET"
)

// simulatedPhoneNumberID is the caller id used with --simulate when none is given.
const simulatedPhoneNumberID = "simulated-phone-number"

// callOptions are the options of placing calls that run and resume share: where the calls go,
// who places them, and what is kept at the end. Each command defines the flags of the first
// group with help of its own; addCallFlags defines the rest.
type callOptions struct {
	// AssistantID, SquadID, WorkflowID and Assistant (a transient assistant's JSON) are what
	// places the calls: at most one is set.
	AssistantID string
	SquadID     string
	WorkflowID  string
	Assistant   json.RawMessage
	// PhoneNumberIDs is the pool of numbers the calls come from (--phone-number-id, then the
	// ids of PhoneNumbersFile; see resolveCallerNumbers); PhoneNumberID is its first.
	PhoneNumberIDs   []string
	PhoneNumbersFile string
	PhoneNumberID    string
	PublicURL        string
	// Detach hands the campaign to `campaign serve` instead of running it here.
	Detach   bool
	Simulate bool

	SimTimeScale  float64
	SimSeed       int64
	VapiBaseURL   string
	WebhookListen string
	Output        string
	Grace         time.Duration
	// AllowMissingVariables dials even when the assistant uses variables the CSV lacks.
	AllowMissingVariables bool
	// Webhooks is the --webhooks mode: auto, override or poll.
	Webhooks string
	// PredialTimeout bounds each pre-dial check of the campaign's hook (--predial-url).
	PredialTimeout time.Duration
	// NotifyTimeout bounds each delivery of a notification (--notify-url).
	NotifyTimeout time.Duration
}

// Environment variables of notifications: the timeout of run, resume and serve, the URL of run
// and serve, and the signing secret (environment only, never a flag).
const (
	envNotifyTimeout = "CAMPAIGN_NOTIFY_TIMEOUT"
	envNotifyURL     = "CAMPAIGN_NOTIFY_URL"
	envNotifySecret  = "CAMPAIGN_NOTIFY_SECRET"
)

// notifyTimeoutHelp is the help of --notify-timeout.
const notifyTimeoutHelp = "how long to wait for the notify URL's answer before retrying the notification later"

// checkNotifyTimeout refuses a --notify-timeout that is not above zero.
func checkNotifyTimeout(d time.Duration) error {
	if d <= 0 {
		return usageErrorf("--notify-timeout must be above zero, got %s", d)
	}
	return nil
}

// envPredialTimeout sets --predial-timeout of run, resume and serve.
const envPredialTimeout = "CAMPAIGN_PREDIAL_TIMEOUT"

// predialTimeoutHelp is the help of --predial-timeout.
const predialTimeoutHelp = "how long to wait for the pre-dial hook's answer (--predial-url) before putting the contact back, not dialed"

// checkPredialTimeout refuses a --predial-timeout that is not above zero.
func checkPredialTimeout(d time.Duration) error {
	if d <= 0 {
		return usageErrorf("--predial-timeout must be above zero, got %s", d)
	}
	return nil
}

// hasTarget reports whether something is named to place the calls.
func (opts *callOptions) hasTarget() bool {
	return opts.AssistantID != "" || opts.SquadID != "" || opts.WorkflowID != "" || len(opts.Assistant) > 0
}

// addCallFlags defines the flags of placing calls that run and resume share with the same help.
func addCallFlags(f *pflag.FlagSet, opts *callOptions) {
	f.Float64Var(&opts.SimTimeScale, "sim-time-scale", 60, "with --simulate: simulated seconds per real second")
	f.Int64Var(&opts.SimSeed, "sim-seed", 42, "with --simulate: seed of the simulated outcomes")
	f.StringVar(&opts.VapiBaseURL, "vapi-base-url", vapi.DefaultBaseURL, "Vapi API base URL")
	f.StringVar(&opts.WebhookListen, "webhook-listen", "127.0.0.1:8080", "address of the webhook receiver that --public-url leads to")
	f.StringVarP(&opts.Output, "output", "o", "", "write one result row per contact to this CSV file at the end")
	f.DurationVar(&opts.Grace, "grace", 2*time.Minute, "after Ctrl-C: how long to keep receiving results of calls in flight")
	f.BoolVar(&opts.AllowMissingVariables, "allow-missing-variables", false, "dial even if the assistant uses variables the CSV does not supply")
	f.StringVar(&opts.Webhooks, "webhooks", string(campaign.WebhooksAuto),
		"where results go with --public-url: auto (there unless the assistant or phone number has its own server URL), override (there, replacing it) or poll (never set a server URL; read results from Vapi)")
	f.DurationVar(&opts.PredialTimeout, "predial-timeout", jobs.DefaultPredialTimeout, predialTimeoutHelp)
	f.DurationVar(&opts.NotifyTimeout, "notify-timeout", jobs.DefaultNotifyTimeout, notifyTimeoutHelp)
}

// mode is who runs the campaign's calls: serve with --detach, the simulator's process with
// --simulate, else this process.
func (o *callOptions) mode() campaign.Mode {
	switch {
	case o.Detach:
		return campaign.ModeService
	case o.Simulate:
		return campaign.ModeSimulated
	}
	return campaign.ModeForeground
}

// retryTimeScale divides the campaign's retry delays: a simulation's retries run on its
// simulated time, like its calls.
func (o *callOptions) retryTimeScale() float64 {
	if o.Simulate {
		return o.SimTimeScale
	}
	return 1
}

// runCalls is `campaign run FILE` without --dry-run: import, dial, receive, reconcile until
// every contact is final, then summarise. Ctrl-C stops dialing at once and keeps receiving
// results of calls in flight for --grace.
func runCalls(ctx context.Context, a *app, opts *runOptions) error {
	if opts.Detach {
		return runDetached(ctx, a, opts)
	}
	conn, err := connectVapi(a, &opts.callOptions)
	if err != nil {
		return err
	}
	defer conn.close()
	imp, err := importCampaign(ctx, a, nil, opts, a.now())
	if err != nil {
		return err
	}
	defer imp.pool.Close()
	c := imp.campaign
	fmt.Fprintf(a.errOut, "Campaign %s (id %d): %d contacts, %d rejected.\n", c.Name, c.ID, c.ImportStats.Accepted, c.ImportStats.RejectedTotal())
	start := func() error {
		// A draft an operator started or cancelled meanwhile stays as it is: the watch follows it.
		return movedMeanwhile(imp.store.Start(ctx, c.ID, a.now()))
	}
	err = driveCampaign(ctx, a, &opts.callOptions, conn, imp.pool, imp.store, c, start)
	return discardDraft(ctx, a, imp.store, c, err)
}

// discardDraft deletes the campaign a run just imported when the run failed before starting it
// (e.g. its pre-flight), and says so: nothing was dialed, and the same command can run again.
// It returns err, the run's error.
func discardDraft(ctx context.Context, a *app, store *campaign.Store, c *campaign.Campaign, err error) error {
	if err == nil {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	now, lookErr := store.Campaign(ctx, c.ID)
	if lookErr != nil || now.Status != campaign.StatusDraft {
		return err
	}
	if _, delErr := store.DeleteCampaign(ctx, c.ID, campaign.DeleteOptions{}); delErr != nil {
		a.logger.Warn("could not delete the draft of a run that failed", "campaign_id", c.ID, "error", delErr)
		return fmt.Errorf("%w; nothing was dialed, and the draft campaign %s stays: %s, or delete it: campaign delete %s",
			err, c.Name, campaign.ContinueCommand(c, false), c.Name)
	}
	return fmt.Errorf("%w; nothing was dialed and campaign %s was not kept: run the same command again once this is fixed", err, c.Name)
}

// runDetached is `campaign run --detach`: import, set the campaign running in ModeService, and
// return; the `campaign serve` processes on the database dial it.
func runDetached(ctx context.Context, a *app, opts *runOptions) error {
	imp, err := importCampaign(ctx, a, nil, opts, a.now())
	if err != nil {
		return err
	}
	defer imp.pool.Close()
	c := imp.campaign
	if err := preflightService(ctx, a, imp.store, c, opts.VapiBaseURL, opts.AllowMissingVariables); err != nil {
		return discardDraft(ctx, a, imp.store, c, err)
	}
	if err := movedMeanwhile(imp.store.Start(ctx, c.ID, a.now())); err != nil {
		return err
	}
	fmt.Fprintf(a.errOut, "Campaign %s (id %d): %d contacts, %d rejected; handed to campaign serve.\n",
		c.Name, c.ID, c.ImportStats.Accepted, c.ImportStats.RejectedTotal())
	if c.StartAt != nil && c.StartAt.After(a.now()) {
		fmt.Fprintf(a.errOut, "scheduled: campaign serve starts it at %s (in %s).\n",
			scheduleTime(*c.StartAt), c.StartAt.Sub(a.now()).Round(time.Second))
	}
	fmt.Fprintf(a.errOut, "Follow it with: campaign status %s --watch\n", c.Name)
	return nil
}

// preflightService is the pre-flight of a draft handed to the service (run --detach, the
// console's Start), with Vapi at baseURL; what it says goes to a.errOut.
func preflightService(ctx context.Context, a *app, store *campaign.Store, c *campaign.Campaign, baseURL string, allowMissing bool) error {
	client, err := a.newVapiClient(a.getenv(envAPIKey), baseURL)
	if err != nil {
		return err
	}
	_, err = preflight(ctx, a.errOut, client, store, c, allowMissing, a.now())
	return err
}

// newVapiClient returns a client of the Vapi API at baseURL, with the app's request timeout.
func (a *app) newVapiClient(apiKey, baseURL string) (*vapi.Client, error) {
	return vapi.NewClient(apiKey, &vapi.Config{BaseURL: baseURL, Timeout: a.vapiTimeout})
}

// vapiConn is where a run's calls go: Vapi or an in-process simulator, and the webhook
// receiver's listener when Vapi can reach one.
type vapiConn struct {
	apiKey, baseURL string
	receiver        net.Listener // nil: results come by polling
	closers         []func()
}

func (v *vapiConn) close() {
	if v.receiver != nil {
		v.receiver.Close()
	}
	for i := len(v.closers) - 1; i >= 0; i-- {
		v.closers[i]()
	}
}

// connectVapi prepares a run's Vapi: with --simulate it starts the simulator and a receiver on
// loopback and fills in the assistant, phone number and public URL the run uses.
func connectVapi(a *app, opts *callOptions) (*vapiConn, error) {
	conn := &vapiConn{apiKey: a.getenv(envAPIKey), baseURL: opts.VapiBaseURL}
	ok := false
	defer func() {
		if !ok {
			conn.close()
		}
	}()
	if opts.Simulate {
		sim := vapitest.New(vapitest.Config{TimeScale: opts.SimTimeScale, Seed: opts.SimSeed})
		conn.closers = append(conn.closers, sim.Close)
		simURL, closeSim, err := serve(sim, "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("start the simulator: %w", err)
		}
		conn.closers = append(conn.closers, closeSim)
		conn.apiKey, conn.baseURL = sim.Config().APIKey, simURL
		if !opts.hasTarget() {
			opts.AssistantID = sim.Config().Assistants[0].ID
		}
		if opts.PhoneNumberID == "" {
			opts.setCallerNumbers([]string{simulatedPhoneNumberID})
		}
		if opts.PublicURL == "" {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("webhook receiver: %w", err)
			}
			conn.receiver, opts.PublicURL = ln, "http://"+ln.Addr().String()
		}
		fmt.Fprintf(a.errOut, "Simulating Vapi at %s (time x%g): no real call is placed.\n", simURL, opts.SimTimeScale)
	}
	if !opts.Simulate && unreachableURL(opts.PublicURL) {
		fmt.Fprintf(a.errOut, "Warning: --public-url %s is a loopback or private address that Vapi cannot reach: results will arrive only by polling, unless a tunnel forwards it.\n",
			urlHost(opts.PublicURL))
	}
	if conn.receiver == nil && opts.PublicURL != "" {
		ln, err := net.Listen("tcp", opts.WebhookListen)
		if err != nil {
			return nil, fmt.Errorf("webhook receiver on --webhook-listen %s: %w", opts.WebhookListen, err)
		}
		conn.receiver = ln
	}
	ok = true
	return conn, nil
}

// unreachableURL reports whether a URL's host is one Vapi, on the internet, cannot reach:
// localhost, a loopback, private, link-local or unspecified address.
func unreachableURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
}

// driveCampaign runs a campaign to the end: the pre-flight check of the assistant's variables,
// start (which sets the campaign running), the receiver, the runner and the progress view, then
// the summary and the results file. It is the second half of run and of resume.
func driveCampaign(ctx context.Context, a *app, opts *callOptions, conn *vapiConn, pool *pgxpool.Pool,
	store *campaign.Store, c *campaign.Campaign, start func() error) error {
	// Ctrl-C cancels ctx; the work itself runs on its own context so it can wind down.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()

	client, err := a.newVapiClient(conn.apiKey, conn.baseURL)
	if err != nil {
		return err
	}
	if c, err = preflight(ctx, a.errOut, client, store, c, opts.AllowMissingVariables, a.now()); err != nil {
		return err
	}
	// The lease says this process runs the campaign; one that dies without releasing it shows
	// as gone once the lease expires, and its campaign as orphaned.
	l, err := holdLease(ctx, a, store, c.ID, c.Mode)
	if err != nil {
		return err
	}
	defer l.release(a)
	if err := start(); err != nil {
		return err
	}
	// A campaign whose start is ahead waits for it here, scheduled.
	if err := waitForStart(ctx, a, store, c); err != nil {
		return err
	}
	if conn.receiver != nil && c.KeepServer {
		// The calls leave the user's server in place (pre-flight said so): nothing will come.
		conn.receiver.Close()
		conn.receiver = nil
	}
	proc, err := a.newRunnerProcess(pool, store, client, c.ID, opts.PredialTimeout,
		jobs.NotifierConfig{Timeout: opts.NotifyTimeout}, nil)
	if err != nil {
		return err
	}
	if conn.receiver != nil {
		mux := http.NewServeMux()
		mux.Handle(jobs.WebhookPath, proc.webhook)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(conn.receiver) }()
		defer srv.Close()
	} else if c.PublicURL == "" {
		fmt.Fprintln(a.errOut, "No --public-url: Vapi cannot reach this machine, so results are read by polling Vapi (GET /call).")
	}
	if err := proc.runner.Start(work); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = proc.runner.Stop(stopCtx)
	}()

	started := a.now()
	prog := newProgressView(a, c)
	interrupted, err := watch(ctx, work, a, store, c, prog, opts.Grace)
	prog.finish()
	if err != nil {
		return err
	}
	p, err := store.Progress(work, c.ID)
	if err != nil {
		return err
	}
	deliverLast(work, a, proc.runner, c, opts.NotifyTimeout)
	writeSummary(a.errOut, c, p, a.now().Sub(started))
	if opts.Output != "" {
		if err := writeResults(work, store, c, opts.Output); err != nil {
			return err
		}
		fmt.Fprintf(a.errOut, "Results written to %s\n", opts.Output)
	}
	if interrupted {
		// Paused, or scheduled when its start was moved ahead while it ran.
		return fmt.Errorf("interrupted: campaign %s is %s with %d contacts not yet final; continue with: %s",
			c.Name, p.Status, p.Total-p.FinalCount(), campaign.ContinueCommand(c, false))
	}
	return endError(c, p)
}

// deliverLast delivers the campaign's notifications due now (its completion, say) before the
// run exits, waiting at most timeout and a little for the database; one that fails is left to
// the retries of a later process (serve, resume).
func deliverLast(ctx context.Context, a *app, r *jobs.Runner, c *campaign.Campaign, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := r.DeliverNotifications(ctx, c.ID); err != nil {
		a.logger.Warn("deliver the campaign's last notifications", "campaign_id", c.ID, "error", err)
	}
}

// budgetPaused reports whether the campaign of p is paused by its budget cap.
func budgetPaused(p campaign.Progress) bool {
	return p.Status == campaign.StatusPaused && p.PausedReason == campaign.PauseBudget
}

// endError is the error of a run that ended without completing its campaign (someone cancelled
// it, or it failed), so the command exits non-zero; nil when the campaign completed.
func endError(c *campaign.Campaign, p campaign.Progress) error {
	switch p.Status {
	case campaign.StatusCancelled:
		return fmt.Errorf("campaign %s was cancelled: %d contacts not called", c.Name, p.ByState[campaign.ContactCancelled])
	case campaign.StatusFailed:
		return fmt.Errorf("campaign %s failed with %d contacts not yet final; continue with: %s",
			c.Name, p.Total-p.FinalCount(), campaign.ContinueCommand(c, false))
	}
	if budgetPaused(p) {
		return fmt.Errorf("campaign %s paused by its budget cap ($%.2f spent, %d contacts not yet final); "+
			"continue with a higher cap: %s",
			c.Name, p.Cost, p.Total-p.FinalCount(), campaign.BudgetContinueCommand(c))
	}
	return nil
}

// databaseOutageLimit is how long a run keeps going while it cannot read its campaign (e.g.
// Postgres restarting) before it gives up; the campaign can then be resumed.
const databaseOutageLimit = 5 * time.Minute

// watch shows progress until every contact is final. On Ctrl-C, SIGTERM or SIGHUP (ctx done) it pauses the
// campaign, so no process dials again, and keeps receiving results until no call is live or
// grace has passed. A database that stops answering is waited for, up to databaseOutageLimit; a
// campaign deleted meanwhile ends the watch with an error saying so.
func watch(ctx, work context.Context, a *app, store *campaign.Store, c *campaign.Campaign, prog *progressView, grace time.Duration) (interrupted bool, err error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var (
		deadline         <-chan time.Time
		unreachableSince time.Time // when reading progress began to fail; zero while it works
	)
	for {
		select {
		case <-ctx.Done():
			if !interrupted {
				interrupted = true
				if err := movedMeanwhile(store.Pause(work, c.ID, a.now())); err != nil {
					return true, err
				}
				fmt.Fprintf(a.errOut, "\nInterrupted (%s): no new calls. Waiting up to %s for the results of calls in flight (Ctrl-C again to quit now)...\n",
					signalName(ctx), grace)
				deadline = time.After(grace)
				ctx = work // stop watching for the first signal: main lets a second one end the process
			}
		case <-deadline:
			return true, nil
		case <-tick.C:
		}
		p, err := store.Progress(work, c.ID)
		if errors.Is(err, campaign.ErrNotFound) {
			return interrupted, fmt.Errorf("campaign %s was deleted (campaign delete --force) while this run watched it", c.Name)
		}
		if err != nil {
			// The database may be restarting: the pool reconnects by itself, and the workers
			// retry their jobs. Only a long outage ends the run.
			if unreachableSince.IsZero() {
				unreachableSince = time.Now()
				a.logger.Warn("cannot read the campaign's progress; retrying", "error", err)
			}
			if time.Since(unreachableSince) > databaseOutageLimit {
				return interrupted, fmt.Errorf("database unreachable for %s: %w", databaseOutageLimit, err)
			}
			continue
		}
		if !unreachableSince.IsZero() {
			a.logger.Info("the database answers again", "after", time.Since(unreachableSince).Round(time.Millisecond))
			unreachableSince = time.Time{}
		}
		prog.update(p)
		// A call ends by its status-update a moment before its report: its contact stays
		// in_call until the result is recorded.
		settled := p.Live == 0 && p.ByState[campaign.ContactInCall] == 0
		// A campaign scheduled again (campaign set moved its start ahead) waits for it, its
		// runner's hopper starting it then, and completes after: the run goes on watching.
		scheduled := p.Status == campaign.StatusScheduled
		if (p.Final() && !scheduled) || (interrupted && settled) || (budgetPaused(p) && settled) {
			return interrupted, nil
		}
	}
}

// serve runs h on addr until the returned close function is called.
func serve(h http.Handler, addr string) (baseURL string, closeFn func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// outcomeList is p's outcomes as "outcome n, …" in name order, or "no results yet".
func outcomeList(p campaign.Progress) string {
	keys := make([]string, 0, len(p.ByOutcome))
	for o, n := range p.ByOutcome {
		if o != "" && n > 0 {
			keys = append(keys, string(o))
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, p.ByOutcome[campaign.Outcome(k)])
	}
	if len(parts) == 0 {
		return "no results yet"
	}
	return strings.Join(parts, ", ")
}

func writeSummary(w io.Writer, c *campaign.Campaign, p campaign.Progress, took time.Duration) {
	fmt.Fprintf(w, "\nCampaign %s: %d of %d contacts final in %s\n", c.Name, p.FinalCount(), p.Total, took.Round(time.Second))
	fmt.Fprintf(w, "  outcomes: %s\n", outcomeList(p))
	if n := p.ByState[campaign.ContactCancelled]; n > 0 {
		fmt.Fprintf(w, "  cancelled: %d contacts not called\n", n)
	}
	fmt.Fprintf(w, "  calls placed: %d, cost: $%.2f\n", p.Attempts, p.Cost)
}

// writeResults writes the run's results file (-o): what `campaign export` writes, one row per
// contact, complete or not at all.
func writeResults(ctx context.Context, store *campaign.Store, c *campaign.Campaign, path string) error {
	out, err := newPendingFile(path)
	if err != nil {
		return err
	}
	defer out.discard()
	if _, err := export.Contacts(ctx, store, c, out.f, export.Options{}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return out.commit()
}

// movedMeanwhile is the error of a run's own Start or Pause, less the two an operator causes: a
// campaign started, paused or cancelled meanwhile (ErrWrongStatus) stays as it is, and one
// deleted meanwhile (ErrNotFound) is reported by the watch ("campaign NAME was deleted").
func movedMeanwhile(err error) error {
	if errors.Is(err, campaign.ErrWrongStatus) || errors.Is(err, campaign.ErrNotFound) {
		return nil
	}
	return err
}
