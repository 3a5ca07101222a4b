package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"riverqueue.com/riverui"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/console"
	"github.com/campaign-run/campaign/internal/metrics"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/reports/export"
	"github.com/campaign-run/campaign/vapi"
)

// serveOptions are the flags of `campaign serve`.
type serveOptions struct {
	Listen      string
	VapiBaseURL string
	Grace       time.Duration
	// AdoptOrphans hands orphaned foreground campaigns to this service (never simulated ones).
	AdoptOrphans bool
	// PredialTimeout bounds each pre-dial check of a campaign's hook (--predial-url).
	PredialTimeout time.Duration
	// NotifyURL is where the notifications of campaigns without a notify URL of their own go;
	// NotifyTimeout bounds each delivery.
	NotifyURL     string
	NotifyTimeout time.Duration

	// consoleUsers are the console's logins, from the environment (validate).
	consoleUsers []console.User
}

// Environment variables read by `campaign serve`.
const (
	envListen = "CAMPAIGN_LISTEN"
	// envRiverUIUser and envRiverUIPassword are the basic-auth credentials of the River UI; it
	// is served only when both are set.
	envRiverUIUser     = "CAMPAIGN_RIVERUI_USER"
	envRiverUIPassword = "CAMPAIGN_RIVERUI_PASSWORD"
	// envConsoleOperator and envConsoleViewer are the console's logins ("user:password", several
	// separated by commas): operators act on campaigns, viewers only read. The console is served
	// only when one is set.
	envConsoleOperator = "CAMPAIGN_CONSOLE_OPERATOR"
	envConsoleViewer   = "CAMPAIGN_CONSOLE_VIEWER"
	// envMetricsToken, when set, is the bearer token /metrics requires.
	envMetricsToken = "CAMPAIGN_METRICS_TOKEN"
)

// serveEnv are the flags of `campaign serve` that default from the environment (flag > env >
// default).
var serveEnv = map[string]string{
	"listen":          envListen,
	"vapi-base-url":   envVapiBaseURL,
	"predial-timeout": envPredialTimeout,
	"notify-url":      envNotifyURL,
	"notify-timeout":  envNotifyTimeout,
}

// riverUIPrefix is the path under which the River UI is served.
const riverUIPrefix = "/riverui"

// Bounds of the shutdown steps that --grace does not cover.
const (
	// hardStopTimeout bounds the cancellation of jobs still running when the grace is over.
	hardStopTimeout = 10 * time.Second
	// httpShutdownTimeout bounds the requests in progress when the receiver closes.
	httpShutdownTimeout = 10 * time.Second
	// readyPingTimeout bounds the database ping of /readyz.
	readyPingTimeout = 2 * time.Second
	// drainPoll is how often the shutdown looks whether the calls in flight have reported.
	drainPoll = 250 * time.Millisecond
)

// newServeCmd returns `campaign serve`; runF, when not nil, gets the checked options instead of
// runServe (tests).
func newServeCmd(a *app, runF func(*serveOptions) error) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the campaigns handed to the service (run --detach): dialing, webhooks, reconciling, health and metrics",
		Long: "serve runs every campaign handed to the service (campaign run --detach, campaign resume --detach):\n" +
			"its dial workers, the hopper that queues due contacts, the reconciler, and an HTTP server on --listen\n" +
			"with the webhook receiver (" + jobs.WebhookPath + "), /healthz, /readyz, /metrics (Prometheus; with " + envMetricsToken + "\n" +
			"set it wants that bearer token), the browser console under " + console.Prefix + " when " + envConsoleOperator + " or\n" +
			envConsoleViewer + " is set, and, when " + envRiverUIUser + " and " + envRiverUIPassword + " are set, the River UI\n" +
			"under " + riverUIPrefix + "/.\n\n" +
			"Any number of serve processes on one database share the work and every limit. On SIGTERM, SIGHUP or\n" +
			"Ctrl-C it takes no new jobs, lets the running ones finish, and keeps receiving results until the calls\n" +
			"in flight have reported or --grace has passed.\n\n" +
			"--adopt-orphans also runs the foreground campaigns (campaign run, campaign resume) whose process died\n" +
			"and left them running with no runner: each is handed to the service, one log line each. The dead\n" +
			"run's --public-url (its own receiver) is dropped: the results of the calls serve places are read by\n" +
			"polling Vapi, and an assistant's own server is never touched. A simulated campaign is never adopted:\n" +
			"its calls existed only in the simulator of the process that died.",
		Example: `  VAPI_API_KEY=... DATABASE_URL=postgres://... campaign serve --listen 0.0.0.0:8080
  campaign run customers.csv --detach --public-url https://campaign.example.com --assistant-id ID --phone-number-id ID`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), a.getenv, serveEnv); err != nil {
				return err
			}
			if err := opts.validate(a.getenv); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runServe(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "address of the HTTP server: webhook receiver, health, metrics, console, River UI (env "+envListen+")")
	f.StringVar(&opts.VapiBaseURL, "vapi-base-url", vapi.DefaultBaseURL, "Vapi API base URL (env "+envVapiBaseURL+")")
	f.DurationVar(&opts.Grace, "grace", 2*time.Minute, "after SIGTERM, SIGHUP or Ctrl-C: how long to let running jobs finish and keep receiving results of calls in flight")
	f.DurationVar(&opts.PredialTimeout, "predial-timeout", jobs.DefaultPredialTimeout, predialTimeoutHelp+" (env "+envPredialTimeout+")")
	f.StringVar(&opts.NotifyURL, "notify-url", "", "where to POST the notifications of the service's campaigns that have no --notify-url of their own (env "+envNotifyURL+")")
	f.DurationVar(&opts.NotifyTimeout, "notify-timeout", jobs.DefaultNotifyTimeout, notifyTimeoutHelp+" (env "+envNotifyTimeout+")")
	f.BoolVar(&opts.AdoptOrphans, "adopt-orphans", false, "also run foreground campaigns left running by a process that died (never simulated ones)")
	return cmd
}

// validate checks the options and the secrets the environment must hold.
func (o *serveOptions) validate(getenv func(string) string) error {
	switch {
	case getenv(envAPIKey) == "":
		return usageErrorf("set %s to your Vapi private API key: serve places the calls of the campaigns handed to it", envAPIKey)
	case o.Grace < 0:
		return usageErrorf("--grace must be zero or more, got %s", o.Grace)
	case o.PredialTimeout <= 0:
		return checkPredialTimeout(o.PredialTimeout)
	case o.NotifyTimeout <= 0:
		return checkNotifyTimeout(o.NotifyTimeout)
	case checkHookURL("--notify-url", o.NotifyURL) != nil:
		return checkHookURL("--notify-url", o.NotifyURL)
	case (getenv(envRiverUIUser) == "") != (getenv(envRiverUIPassword) == ""):
		return usageErrorf("set both %s and %s to serve the River UI, or neither", envRiverUIUser, envRiverUIPassword)
	}
	operators, err := console.ParseUsers(console.RoleOperator, getenv(envConsoleOperator))
	if err != nil {
		return usageErrorf("%s: %v", envConsoleOperator, err)
	}
	viewers, err := console.ParseUsers(console.RoleViewer, getenv(envConsoleViewer))
	if err != nil {
		return usageErrorf("%s: %v", envConsoleViewer, err)
	}
	o.consoleUsers = append(operators, viewers...)
	for i, u := range o.consoleUsers {
		for _, v := range o.consoleUsers[:i] {
			if u.Name == v.Name {
				return usageErrorf("console user %s is in both %s and %s: give each user one role", u.Name, envConsoleOperator, envConsoleViewer)
			}
		}
	}
	return nil
}

// runServe is `campaign serve`: it runs every campaign of mode service until ctx is done, then
// shuts down gracefully.
func runServe(ctx context.Context, a *app, opts *serveOptions) error {
	pool, err := a.openDB(ctx, dbWrite)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := campaign.NewStore(pool)
	client, err := vapi.NewClient(a.getenv(envAPIKey), &vapi.Config{BaseURL: opts.VapiBaseURL})
	if err != nil {
		return err
	}
	// A signal cancels ctx; the work runs on a context of its own so that it can wind down.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()

	m := metrics.New(store)
	proc, err := a.newRunnerProcess(pool, store, client, 0, opts.PredialTimeout,
		jobs.NotifierConfig{Timeout: opts.NotifyTimeout, DefaultURL: opts.NotifyURL}, m)
	if err != nil {
		return err
	}
	rc := proc.runner
	ready := &readiness{ping: pool.Ping}
	mux, err := serveMux(work, a, opts, store, proc, m, ready)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on --listen %s: %w", opts.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()

	l, err := holdLease(ctx, a, store, 0, campaign.ModeService)
	if err != nil {
		return err
	}
	defer l.release(a)
	if err := rc.Start(work); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	if opts.AdoptOrphans {
		go adoptOrphans(ctx, a, store, l.ttl/3)
	}
	ready.set(stateRunning)
	attrs := []any{"listen", ln.Addr().String(), "vapi_base_url", opts.VapiBaseURL}
	if ids, err := store.RunningCampaigns(ctx, campaign.ModeService); err == nil {
		attrs = append(attrs, "campaigns_running", len(ids))
	}
	a.logger.Info("serving", attrs...)

	select {
	case <-ctx.Done():
	case err := <-served:
		ready.set(stateStopping)
		stopCtx, cancel := context.WithTimeout(work, hardStopTimeout)
		defer cancel()
		_ = rc.Client.StopAndCancel(stopCtx)
		return fmt.Errorf("http server on %s: %w", ln.Addr(), err)
	}
	return shutdown(work, a, opts.Grace, store, rc, srv, ready)
}

// adoptOrphans hands the orphaned foreground campaigns to the service every interval, until ctx
// is done, and logs one line per campaign adopted, with the dead runner's public URL it dropped
// (serve has none of its own: the results of the calls it places are polled).
func adoptOrphans(ctx context.Context, a *app, store *campaign.Store, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		adopted, err := store.AdoptOrphans(ctx, a.now())
		if err != nil && ctx.Err() == nil {
			a.logger.Warn("adopt orphaned campaigns", "error", err)
		}
		for _, c := range adopted {
			attrs := []any{"campaign_id", c.ID, "campaign", c.Name}
			if c.LastSeen != nil {
				attrs = append(attrs, "no_runner_since", c.LastSeen.UTC().Format(time.RFC3339))
			}
			if c.DroppedPublicURL != "" {
				// The dead runner's receiver: serve's calls carry no server of ours.
				attrs = append(attrs, "dropped_public_url", c.DroppedPublicURL, "results", "polled")
			}
			a.logger.Info("adopted an orphaned campaign", attrs...)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// shutdown winds a serve process down within grace: /readyz answers 503 at once; no new job is
// taken and the running ones finish (cancelled if the grace runs out); then the receiver stays
// up until every call in flight at that moment (placed by any serve process) has reported.
func shutdown(ctx context.Context, a *app, grace time.Duration, store *campaign.Store, rc *jobs.Runner,
	srv *http.Server, ready *readiness) error {
	ready.set(stateStopping)
	a.logger.Info("shutting down: no new jobs; waiting for calls in flight to report", "grace", grace)
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if err := rc.Stop(graceCtx); err != nil {
		a.logger.Warn("grace over with jobs running: cancelling them", "error", err)
		hardCtx, cancelHard := context.WithTimeout(ctx, hardStopTimeout)
		_ = rc.Client.StopAndCancel(hardCtx)
		cancelHard()
	}
	// Every attempt this process journaled was created by now.
	switch live := waitForCalls(graceCtx, a, store, a.now()); {
	case grace == 0: // asked not to wait
	case live > 0:
		a.logger.Warn("grace over with calls in flight: the reconciler of a serve process will read their results", "calls_without_result", live)
	case live < 0:
		a.logger.Warn("grace over before the calls in flight could be read: the reconciler of a serve process will read their results")
	}
	httpCtx, cancelHTTP := context.WithTimeout(ctx, httpShutdownTimeout)
	defer cancelHTTP()
	if err := srv.Shutdown(httpCtx); err != nil {
		a.logger.Warn("webhook receiver: requests cut short at shutdown", "error", err)
	}
	a.logger.Info("stopped")
	return nil
}

// waitForCalls waits until the calls of the service's campaigns that were placed by createdBy
// have their results recorded (a call ends by its status-update a moment before its report
// comes), or ctx is done, and returns how many are still without one (-1 when the database could
// not be read).
func waitForCalls(ctx context.Context, a *app, store *campaign.Store, createdBy time.Time) int {
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	live := -1 // unknown until the first read
	for {
		list, err := store.LiveCalls(ctx, createdBy)
		switch {
		case err == nil:
			live = 0
			for _, c := range list {
				if c.Mode == campaign.ModeService {
					live += c.Unreported
				}
			}
			if live == 0 {
				a.logger.Info("no call in flight")
				return 0
			}
		case ctx.Err() == nil:
			a.logger.Warn("read the calls in flight", "error", err)
		}
		select {
		case <-ctx.Done():
			return live
		case <-tick.C:
		}
	}
}

// serveMux routes the HTTP surface of serve: the webhook receiver of proc, /healthz, /readyz,
// /metrics (behind its bearer token when one is set), the console on store when it has users,
// and, when its credentials are set, the River UI of proc's River client (started on ctx).
func serveMux(ctx context.Context, a *app, opts *serveOptions, store *campaign.Store, proc *runnerProcess, m *metrics.Metrics,
	ready *readiness) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	mux.Handle(jobs.WebhookPath, proc.webhook) // every method: the receiver answers 405 itself, and counts it
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /readyz", ready)
	mux.Handle("GET /metrics", bearerAuth(a.getenv(envMetricsToken), m.Handler(a.logger)))

	if len(opts.consoleUsers) == 0 {
		a.logger.Info("console not served: set " + envConsoleOperator + " (or " + envConsoleViewer + ") to user:password to serve it under " + console.Prefix)
	} else {
		key, err := store.ConsoleKey(ctx)
		if err != nil {
			return nil, err
		}
		ui, err := console.New(console.Config{Store: newConsoleStore(store, a.now), Users: opts.consoleUsers, Key: key,
			Now: a.now, Logger: a.logger,
			Export: func(ctx context.Context, c *campaign.Campaign, w io.Writer) error {
				_, err := export.Contacts(ctx, store, c, w, export.Options{})
				return err
			},
			Creator: &consoleCreator{a: a, store: store, baseURL: opts.VapiBaseURL}})
		if err != nil {
			return nil, err
		}
		mux.Handle(console.Prefix, ui)
		mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusSeeOther))
	}

	user, password := a.getenv(envRiverUIUser), a.getenv(envRiverUIPassword)
	if user == "" {
		a.logger.Info("River UI not served: set " + envRiverUIUser + " and " + envRiverUIPassword + " to serve it under " + riverUIPrefix + "/")
		return mux, nil
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(proc.runner.Client, nil),
		Logger:    a.riverLogger(),
		Prefix:    riverUIPrefix,
	})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("start river ui: %w", err)
	}
	mux.Handle(riverUIPrefix+"/", basicAuth("River UI", user, password, ui))
	return mux, nil
}

// bearerAuth serves next only to requests with "Authorization: Bearer token" (compared in
// constant time, of hashes); others get 401. An empty token serves every request.
func bearerAuth(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// basicAuth serves next only to requests with HTTP basic credentials user and password,
// compared in constant time (of hashes, so neither the length nor the content leaks); others
// get 401 with a challenge for realm.
func basicAuth(realm, user, password string, next http.Handler) http.Handler {
	wantUser, wantPassword := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser, gotPassword := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
		passwordOK := subtle.ConstantTimeCompare(gotPassword[:], wantPassword[:])
		if !ok || userOK&passwordOK != 1 {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q, charset=\"UTF-8\"", realm))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveState is where a serve process stands, for /readyz.
type serveState int32

const (
	stateStarting serveState = iota // the workers are not running yet
	stateRunning
	stateStopping // shutting down: taking no new work
)

// readiness answers /readyz: 200 while the workers run and the database answers a ping; 503
// while starting, while shutting down, and when the database does not answer.
type readiness struct {
	ping  func(context.Context) error
	state atomic.Int32
}

func (r *readiness) set(s serveState) { r.state.Store(int32(s)) }

// ServeHTTP implements http.Handler.
func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch serveState(r.state.Load()) {
	case stateStarting:
		http.Error(w, "not ready: starting", http.StatusServiceUnavailable)
		return
	case stateStopping:
		http.Error(w, "not ready: shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), readyPingTimeout)
	defer cancel()
	if err := r.ping(ctx); err != nil {
		// The error is not echoed: it may name the database host.
		http.Error(w, "not ready: the database does not answer", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Ages of the console's cached reads: a campaign's progress (refreshed on its page every few
// seconds) and its report facts (the page's cards and charts, read on load).
const (
	consoleProgressAge = 3 * time.Second
	consoleFactsAge    = 30 * time.Second
)

// consoleStore is the console's view of the store: the campaign page's dear reads, Progress and
// ReportFacts, which read every contact or call of a campaign (BENCHMARKS.md, "Console
// queries"), come through caches, so pages open in several browsers read each campaign's at
// most once per age however often they refresh.
type consoleStore struct {
	*campaign.Store
	progress, facts *campaign.FactsCache
}

func newConsoleStore(store *campaign.Store, now func() time.Time) consoleStore {
	return consoleStore{Store: store, progress: campaign.NewFactsCache(store, consoleProgressAge, now),
		facts: campaign.NewFactsCache(store, consoleFactsAge, now)}
}

// Progress returns a campaign's progress, read at most consoleProgressAge ago.
func (s consoleStore) Progress(ctx context.Context, campaignID int64) (campaign.Progress, error) {
	p, _, err := s.progress.Progress(ctx, campaignID)
	return p, err
}

// ReportFacts returns a campaign's report facts, read at most consoleFactsAge ago, and after
// the campaign ended when it has: an ended campaign's page never shows the figures of while it
// ran.
func (s consoleStore) ReportFacts(ctx context.Context, campaignID int64) (*campaign.ReportFacts, error) {
	f, at, err := s.facts.ReportFacts(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	c, err := s.Store.Campaign(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	if !c.Status.Ended() || !at.Before(c.UpdatedAt) { // an ended campaign was last updated as it ended
		return f, nil
	}
	s.facts.Forget(campaignID)
	f, _, err = s.facts.ReportFacts(ctx, campaignID)
	return f, err
}
