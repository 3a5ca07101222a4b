package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/internal/vapispec"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// simulatorOptions are the flags of `campaign simulator`.
type simulatorOptions struct {
	Listen           string
	APIKey           string
	Seed             int64
	TimeScale        float64
	ConcurrencyLimit int
	ConcurrencyMode  string
	RequestRate      float64
	RequestBurst     int
	SpecFile         string
	Mix              vapitest.OutcomeMix
	Faults           vapitest.Faults
	PhoneNumberIDs   []string
}

// Environment variables read by `campaign simulator`.
var simulatorEnv = map[string]string{
	"api-key":      "VAPI_API_KEY",
	"openapi-spec": vapispec.EnvVar,
}

// newSimulatorCmd returns `campaign simulator`; runF, when not nil, gets the checked options
// instead of runSimulator (tests).
func newSimulatorCmd(a *app, runF func(*simulatorOptions) error) *cobra.Command {
	opts := &simulatorOptions{}
	cmd := &cobra.Command{
		Use:   "simulator",
		Short: "Serve a simulated Vapi API (calls, webhooks, analytics) until interrupted",
		Example: `  campaign simulator --listen 127.0.0.1:8090 --seed 42 --time-scale 60
  campaign simulator --concurrency-limit 3 --concurrency-mode reject-400 --fault-create-timeout 0.05`,
		Args: usageArgs(cobra.ExactArgs(0)),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), a.getenv, simulatorEnv); err != nil {
				return err
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runSimulator(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8090", "address to listen on (port 0: any free port)")
	f.StringVar(&opts.APIKey, "api-key", vapitest.DefaultAPIKey, "bearer key the simulated API accepts (env VAPI_API_KEY)")
	f.Int64Var(&opts.Seed, "seed", 42, "seed of outcomes, durations and faults")
	f.Float64Var(&opts.TimeScale, "time-scale", 1, "simulated seconds per real second (60: a 2-minute call ends in 2 s)")
	f.IntVar(&opts.ConcurrencyLimit, "concurrency-limit", vapitest.DefaultConcurrencyLimit, "account concurrent-call limit")
	f.StringVar(&opts.ConcurrencyMode, "concurrency-mode", string(vapitest.ConcurrencyBlocked201), "over the limit: blocked-201 or reject-400")
	f.Float64Var(&opts.RequestRate, "request-rate", vapitest.DefaultRequestRate, "API requests per second before 429 (negative: unlimited)")
	f.IntVar(&opts.RequestBurst, "request-burst", 0, "rate limiter burst (default: the rate)")
	f.StringVar(&opts.SpecFile, "openapi-spec", "", "Vapi's openapi.json, to validate request bodies against it too (env "+vapispec.EnvVar+")")
	f.StringSliceVar(&opts.PhoneNumberIDs, "phone-number-id", nil, "accepted phoneNumberId (repeatable; default: any)")
	m := vapitest.DefaultOutcomeMix
	f.Float64Var(&opts.Mix.Completed, "mix-completed", m.Completed, "outcome weight: answered and completed")
	f.Float64Var(&opts.Mix.NoAnswer, "mix-no-answer", m.NoAnswer, "outcome weight: no answer")
	f.Float64Var(&opts.Mix.Busy, "mix-busy", m.Busy, "outcome weight: busy")
	f.Float64Var(&opts.Mix.Voicemail, "mix-voicemail", m.Voicemail, "outcome weight: voicemail")
	f.Float64Var(&opts.Mix.Failed, "mix-failed", m.Failed, "outcome weight: provider fault")
	f.Float64Var(&opts.Mix.StartError, "mix-start-error", m.StartError, "outcome weight: start error")
	f.Float64Var(&opts.Faults.CreateErrorBefore, "fault-create-5xx-before", 0, "probability of a 500 on POST /call without creating the call")
	f.Float64Var(&opts.Faults.CreateErrorAfter, "fault-create-5xx-after", 0, "probability of a 500 on POST /call after creating the call")
	f.Float64Var(&opts.Faults.CreateTimeout, "fault-create-timeout", 0, "probability of holding the POST /call response after creating the call")
	f.DurationVar(&opts.Faults.CreateTimeoutDelay, "fault-create-timeout-delay", 0, "answer a held response after this long (0: hold until the client gives up)")
	f.Float64Var(&opts.Faults.CreateDrop, "fault-create-drop", 0, "probability of closing the connection after creating the call")
	f.Float64Var(&opts.Faults.RateLimitBurst, "fault-429-burst", 0, "probability that a request starts a burst of 429s")
	f.IntVar(&opts.Faults.RateLimitBurstLength, "fault-429-burst-length", 5, "429s per burst")
	f.Float64Var(&opts.Faults.WebhookDrop, "fault-webhook-drop", 0, "probability of dropping a webhook")
	f.Float64Var(&opts.Faults.WebhookDuplicate, "fault-webhook-duplicate", 0, "probability of sending a webhook twice")
	f.Float64Var(&opts.Faults.WebhookDelay, "fault-webhook-delay", 0, "probability of delaying a webhook")
	f.DurationVar(&opts.Faults.WebhookDelayBy, "fault-webhook-delay-by", 30*time.Second, "simulated delay of a delayed webhook")
	f.Float64Var(&opts.Faults.WebhookReorder, "fault-webhook-reorder", 0, "probability of sending the end-of-call-report before the final status-update")
	return cmd
}

// validate checks the options: the time scale, concurrency and fault probabilities.
func (o *simulatorOptions) validate() error {
	if o.TimeScale <= 0 {
		return usageErrorf("--time-scale must be positive")
	}
	switch vapitest.ConcurrencyMode(o.ConcurrencyMode) {
	case vapitest.ConcurrencyBlocked201, vapitest.ConcurrencyReject400:
	default:
		return usageErrorf("--concurrency-mode %q: want blocked-201 or reject-400", o.ConcurrencyMode)
	}
	if o.ConcurrencyLimit <= 0 {
		return usageErrorf("--concurrency-limit must be positive")
	}
	for name, p := range map[string]float64{"create-5xx-before": o.Faults.CreateErrorBefore, "create-5xx-after": o.Faults.CreateErrorAfter,
		"create-timeout": o.Faults.CreateTimeout, "create-drop": o.Faults.CreateDrop, "429-burst": o.Faults.RateLimitBurst,
		"webhook-drop": o.Faults.WebhookDrop, "webhook-duplicate": o.Faults.WebhookDuplicate, "webhook-delay": o.Faults.WebhookDelay,
		"webhook-reorder": o.Faults.WebhookReorder} {
		if p < 0 || p > 1 {
			return usageErrorf("--fault-%s must be between 0 and 1", name)
		}
	}
	return nil
}

// runSimulator serves the simulator until ctx is done.
func runSimulator(ctx context.Context, a *app, o *simulatorOptions) error {
	cfg := vapitest.Config{
		APIKey: o.APIKey, Seed: o.Seed, TimeScale: o.TimeScale, ConcurrencyLimit: o.ConcurrencyLimit,
		ConcurrencyMode: vapitest.ConcurrencyMode(o.ConcurrencyMode), RequestRate: o.RequestRate, RequestBurst: o.RequestBurst,
		OutcomeMix: o.Mix, Faults: o.Faults, PhoneNumberIDs: o.PhoneNumberIDs,
		WebhookSecret: a.getenv(envWebhookSecret),
	}
	if o.SpecFile != "" {
		spec, err := vapispec.Load(o.SpecFile)
		if err != nil {
			return fmt.Errorf("load OpenAPI spec: %w", err)
		}
		cfg.Spec = spec
	}
	sim := vapitest.New(cfg)
	defer sim.Close()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	key := cfg.APIKey
	if key != vapitest.DefaultAPIKey {
		key = "(the key you gave; not shown)" // it may be a real Vapi key from VAPI_API_KEY
	}
	fmt.Fprintf(a.errOut, "Vapi simulator listening\n  VAPI_BASE_URL=http://%s\n  VAPI_API_KEY=%s\n  seed=%d time-scale=%g concurrency-limit=%d mode=%s\n",
		ln.Addr(), key, o.Seed, o.TimeScale, o.ConcurrencyLimit, o.ConcurrencyMode)
	for _, asst := range sim.Config().Assistants {
		fmt.Fprintf(a.errOut, "  assistant %s (%s)\n", asst.ID, asst.Name)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sim.Close() // releases held (timed-out) responses
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	return nil
}
