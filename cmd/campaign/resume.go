package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

// resumeOptions are the argument and flags of `campaign resume`.
type resumeOptions struct {
	// Ref names or numbers the campaign.
	Ref         string
	RetryFailed bool
	// Pacing holds the changes to the stored settings that the pacing flags give.
	Pacing campaign.Pacing
	pacing pacingFlags
	// callOptions are where the calls go and who places them. The routing among them (assistant,
	// phone number, public URL, webhooks mode) is the campaign's own unless Given says its flag
	// was given.
	callOptions
	Given routingGiven
}

// routingGiven says which routing flags of resume were given on the command line.
type routingGiven struct {
	AssistantID, PhoneNumberID, PublicURL, Webhooks bool
}

// resumeEnv are the flags of `campaign resume` that default from the environment (flag > env >
// default). The campaign's stored routing and pacing change only through flags given: the
// public URL from the environment is used only with --simulate (a simulation brings its own
// webhook address); otherwise the campaign's stored one wins over it.
var resumeEnv = map[string]string{
	"public-url":      envPublicURL,
	"vapi-base-url":   envVapiBaseURL,
	"webhook-listen":  envWebhookListen,
	"predial-timeout": envPredialTimeout,
	"notify-timeout":  envNotifyTimeout,
}

// newResumeCmd returns `campaign resume`; runF, when not nil, gets the checked options instead
// of runResume (tests).
func newResumeCmd(a *app, runF func(*resumeOptions) error) *cobra.Command {
	opts := &resumeOptions{}
	cmd := &cobra.Command{
		Use:   "resume CAMPAIGN",
		Short: "Continue an interrupted, failed, paused or cancelled campaign without calling anyone twice",
		Long: "Continue a campaign: contacts not yet final go back into dispatch, calls that were in flight are\n" +
			"reconciled with Vapi first, and " + pacingFlagNames + " update its stored settings.",
		Example: `  campaign resume nov-reminders
  campaign resume nov-reminders --retry-failed --rate 2
  campaign resume 12 --simulate`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			f := cmd.Flags()
			if err := applyEnv(f, a.getenv, resumeEnv); err != nil {
				return err
			}
			if !opts.Simulate && a.getenv(envAPIKey) == "" {
				return usageErrorf("set %s to your Vapi private API key (or use --simulate)", envAPIKey)
			}
			if err := checkPredialTimeout(opts.PredialTimeout); err != nil {
				return err
			}
			if err := checkNotifyTimeout(opts.NotifyTimeout); err != nil {
				return err
			}
			pacing, err := opts.pacing.changes(f, a.now())
			if err != nil {
				return err
			}
			opts.Pacing = pacing
			opts.Given = routingGiven{AssistantID: f.Changed("assistant-id"),
				PhoneNumberID: f.Changed("phone-number-id") || f.Changed("phone-numbers-file"),
				PublicURL:     f.Changed("public-url"), Webhooks: f.Changed("webhooks")}
			if err := opts.resolveCallerNumbers(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runResume(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.RetryFailed, "retry-failed", false, "give each failed contact one more attempt (not permanent failures)")
	addPacingFlags(f, &opts.pacing)
	f.BoolVar(&opts.Detach, "detach", false, "hand the campaign to the campaign serve processes on this database and return")
	f.StringVar(&opts.AssistantID, "assistant-id", "", "Vapi assistant that places the calls (default: the campaign's)")
	f.StringSliceVar(&opts.PhoneNumberIDs, "phone-number-id", nil, "Vapi phone number the calls come from, repeatable: replaces the campaign's pool (default: the campaign's)")
	f.StringVar(&opts.PhoneNumbersFile, "phone-numbers-file", "", "file of Vapi phone number ids, one per line (# comments): replaces the campaign's pool")
	f.BoolVar(&opts.Simulate, "simulate", false, "continue on a fresh built-in Vapi simulator (calls of the earlier run are unknown to it)")
	addCallFlags(f, &opts.callOptions)
	f.StringVar(&opts.PublicURL, "public-url", "", "address at which Vapi can reach the webhook receiver (default: the campaign's)")
	return cmd
}

// runResume is `campaign resume CAMPAIGN`: the campaign's routing and pacing updated, it goes on
// here (driveCampaign) or, with --detach, in the serve processes.
func runResume(ctx context.Context, a *app, opts *resumeOptions) error {
	pool, store, c, err := a.openCampaign(ctx, dbWrite, opts.Ref)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The calls go where the flags say, else where the campaign's say; a simulation brings its
	// own webhook address, and its assistant and number when the campaign has none.
	if !opts.Given.PublicURL && !opts.Simulate {
		opts.PublicURL = c.PublicURL
	}
	if !opts.Given.Webhooks {
		opts.Webhooks = string(c.Webhooks)
	}
	if _, err := campaign.ParseWebhookMode(opts.Webhooks); err != nil {
		return usageErrorf("--webhooks: %v", err)
	}
	if kind, _ := c.Target(); opts.Given.AssistantID && kind != campaign.TargetNone && kind != campaign.TargetAssistant {
		return usageErrorf("campaign %s is called by its %s: --assistant-id changes only a campaign called by a saved assistant", c.Name, c.TargetLabel())
	}
	if !opts.Given.AssistantID {
		opts.AssistantID = c.AssistantID
	}
	opts.SquadID, opts.WorkflowID, opts.Assistant = c.SquadID, c.WorkflowID, c.Assistant
	if !opts.Given.PhoneNumberID {
		opts.setCallerNumbers(c.CallerNumbers())
	}
	if !opts.Simulate && ((!opts.hasTarget() && c.TargetColumn == nil) || (opts.PhoneNumberID == "" && c.PhoneNumberColumn == nil)) {
		return usageErrorf("campaign %s has no assistant or phone number to call from: %s", c.Name,
			"campaign resume "+c.Name+" --assistant-id ID --phone-number-id ID")
	}
	if opts.Detach {
		if opts.Simulate {
			return usageErrorf("--detach and --simulate do not go together: a simulated campaign runs only in the process that simulates Vapi")
		}
		return resumeDetached(ctx, a, store, c, opts)
	}
	conn, err := connectVapi(a, &opts.callOptions)
	if err != nil {
		return err
	}
	defer conn.close()
	if c, err = opts.store(ctx, a, store, c); err != nil {
		return err
	}
	start := func() error {
		back, err := store.Resume(ctx, c.ID, campaign.ResumeOptions{RetryFailed: opts.RetryFailed}, a.now())
		if err != nil {
			return resumeRefused(c, err)
		}
		fmt.Fprintf(a.errOut, "Resuming campaign %s (id %d): %d contacts back in dispatch.\n", c.Name, c.ID, back)
		return nil
	}
	return driveCampaign(ctx, a, &opts.callOptions, conn, pool, store, c, start)
}

// routing is where the resumed campaign's calls go and who places them: this process (its
// simulator with --simulate, on simulated time), or serve with --detach.
func (opts *resumeOptions) routing() campaign.Routing {
	mode, scale := opts.mode(), opts.retryTimeScale()
	webhooks := campaign.WebhookMode(opts.Webhooks)
	pool := opts.PhoneNumberIDs
	if pool == nil {
		pool = []string{}
	}
	return campaign.Routing{AssistantID: &opts.AssistantID, PhoneNumberID: &opts.PhoneNumberID, PublicURL: &opts.PublicURL,
		Webhooks: &webhooks, Mode: &mode, RetryTimeScale: &scale, PhoneNumberIDs: &pool}
}

// store saves the resumed campaign's routing and the pacing changes given, and returns the
// campaign with them.
func (opts *resumeOptions) store(ctx context.Context, a *app, store *campaign.Store, c *campaign.Campaign) (*campaign.Campaign, error) {
	if err := store.SetRouting(ctx, c.ID, opts.routing(), a.now()); err != nil {
		return nil, err
	}
	if opts.Pacing != (campaign.Pacing{}) {
		if err := store.SetPacing(ctx, c.ID, opts.Pacing, a.now()); err != nil {
			return nil, usageErrorf("%v", err)
		}
	}
	return store.Campaign(ctx, c.ID)
}

// resumeDetached is `campaign resume --detach`: the campaign goes back to running in
// ModeService, for the `campaign serve` processes to dial, and the command returns.
func resumeDetached(ctx context.Context, a *app, store *campaign.Store, c *campaign.Campaign, opts *resumeOptions) error {
	client, err := a.newVapiClient(a.getenv(envAPIKey), opts.VapiBaseURL)
	if err != nil {
		return err
	}
	if c, err = opts.store(ctx, a, store, c); err != nil {
		return err
	}
	if c, err = preflight(ctx, a.errOut, client, store, c, opts.AllowMissingVariables, a.now()); err != nil {
		return err
	}
	back, err := store.Resume(ctx, c.ID, campaign.ResumeOptions{RetryFailed: opts.RetryFailed}, a.now())
	if err != nil {
		return resumeRefused(c, err)
	}
	fmt.Fprintf(a.errOut, "Campaign %s (id %d): %d contacts back in dispatch; handed to campaign serve.\n", c.Name, c.ID, back)
	return nil
}

// resumeRefused explains Store.Resume's refusal of a completed campaign in the user's terms.
func resumeRefused(c *campaign.Campaign, err error) error {
	if errors.Is(err, campaign.ErrWrongStatus) {
		return &hintError{err: err, msg: fmt.Sprintf("campaign %s is completed: nothing to resume; "+
			"to call its failed contacts again: campaign resume %s --retry-failed", c.Name, c.Name)}
	}
	return err
}
