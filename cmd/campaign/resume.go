package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

// resumeOptions are the flags of `campaign resume`.
type resumeOptions struct {
	runOptions  // the run flags that apply after the import (Vapi, webhooks, output, grace)
	RetryFailed bool
	pacing      pacingFlags // changes to the stored settings
}

func newResumeCmd(a *app) *cobra.Command {
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
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			applyEnv(cmd.Flags(), a.getenv, runEnv)
			if !opts.Simulate && a.getenv(envAPIKey) == "" {
				return usageErrorf("set %s to your Vapi private API key (or use --simulate)", envAPIKey)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pacing, err := opts.pacing.changes(cmd.Flags())
			if err != nil {
				return err
			}
			return runResume(cmd, a, args[0], opts, pacing)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.RetryFailed, "retry-failed", false, "give each failed contact one more attempt (not permanent failures)")
	addPacingFlags(f, &opts.pacing)
	f.BoolVar(&opts.Detach, "detach", false, "hand the campaign to the campaign serve processes on this database and return")
	f.StringVar(&opts.AssistantID, "assistant-id", "", "Vapi assistant that places the calls (default: the campaign's)")
	f.StringVar(&opts.PhoneNumberID, "phone-number-id", "", "Vapi phone number the calls come from (default: the campaign's)")
	f.BoolVar(&opts.Simulate, "simulate", false, "continue on a fresh built-in Vapi simulator (calls of the earlier run are unknown to it)")
	addCallFlags(f, &opts.runOptions)
	f.StringVar(&opts.PublicURL, "public-url", "", "address at which Vapi can reach the webhook receiver (default: the campaign's)")
	return cmd
}

func runResume(cmd *cobra.Command, a *app, ref string, opts *resumeOptions, pacing campaign.Pacing) error {
	ctx := cmd.Context()
	pool, store, c, err := a.openCampaign(ctx, dbWrite, ref)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The calls go where the flags say, else where the campaign's say; a simulation brings its
	// own webhook address, and its assistant and number when the campaign has none.
	f := cmd.Flags()
	if !f.Changed("public-url") && !opts.Simulate {
		opts.PublicURL = c.PublicURL
	}
	if !f.Changed("webhooks") {
		opts.Webhooks = string(c.Webhooks)
	}
	if _, err := campaign.ParseWebhookMode(opts.Webhooks); err != nil {
		return usageErrorf("--webhooks: %v", err)
	}
	if !f.Changed("assistant-id") {
		opts.AssistantID = c.AssistantID
	}
	if !f.Changed("phone-number-id") {
		opts.PhoneNumberID = c.PhoneNumberID
	}
	if !opts.Simulate && (opts.AssistantID == "" || opts.PhoneNumberID == "") {
		return usageErrorf("campaign %s has no assistant or phone number to call from: %s", c.Name,
			"campaign resume "+c.Name+" --assistant-id ID --phone-number-id ID")
	}
	if opts.Detach {
		if opts.Simulate {
			return usageErrorf("--detach and --simulate do not go together: a simulated campaign runs only in the process that simulates Vapi")
		}
		return resumeDetached(ctx, a, store, c, opts, pacing)
	}
	conn, err := connectVapi(a, &opts.runOptions)
	if err != nil {
		return err
	}
	defer conn.close()
	if c, err = opts.store(ctx, a, store, c, pacing); err != nil {
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
	return driveCampaign(ctx, a, &opts.runOptions, conn, pool, store, c, start)
}

// routing is where the resumed campaign's calls go and who places them: this process (its
// simulator with --simulate, on simulated time), or serve with --detach.
func (opts *resumeOptions) routing() campaign.Routing {
	mode, scale := opts.mode(), 1.0
	if opts.Simulate {
		scale = opts.SimTimeScale
	}
	webhooks := campaign.WebhookMode(opts.Webhooks)
	return campaign.Routing{AssistantID: &opts.AssistantID, PhoneNumberID: &opts.PhoneNumberID, PublicURL: &opts.PublicURL,
		Webhooks: &webhooks, Mode: &mode, RetryTimeScale: &scale}
}

// store saves the resumed campaign's routing and the pacing changes given, and returns the
// campaign with them.
func (opts *resumeOptions) store(ctx context.Context, a *app, store *campaign.Store, c *campaign.Campaign, pacing campaign.Pacing) (*campaign.Campaign, error) {
	if err := store.SetRouting(ctx, c.ID, opts.routing(), a.now()); err != nil {
		return nil, err
	}
	if pacing != (campaign.Pacing{}) {
		if err := store.SetPacing(ctx, c.ID, pacing, a.now()); err != nil {
			return nil, usageErrorf("%v", err)
		}
	}
	return store.Campaign(ctx, c.ID)
}

// resumeDetached is `campaign resume --detach`: the campaign goes back to running in
// ModeService, for the `campaign serve` processes to dial, and the command returns.
func resumeDetached(ctx context.Context, a *app, store *campaign.Store, c *campaign.Campaign, opts *resumeOptions, pacing campaign.Pacing) error {
	client, err := a.newVapiClient(a.getenv(envAPIKey), opts.VapiBaseURL)
	if err != nil {
		return err
	}
	if c, err = opts.store(ctx, a, store, c, pacing); err != nil {
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
