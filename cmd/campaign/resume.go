package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

// resumeOptions are the flags of `campaign resume`.
type resumeOptions struct {
	runOptions  // the run flags that apply after the import (Vapi, webhooks, output, grace)
	RetryFailed bool
}

func newResumeCmd(a *app) *cobra.Command {
	opts := &resumeOptions{}
	cmd := &cobra.Command{
		Use:   "resume CAMPAIGN",
		Short: "Continue an interrupted, failed, paused or cancelled campaign without calling anyone twice",
		Long: "Continue a campaign: contacts not yet final go back into dispatch, calls that were in flight are\n" +
			"reconciled with Vapi first, and --rate, --max-concurrent and --window update its stored settings.",
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
			var pacing campaign.Pacing
			f := cmd.Flags()
			if f.Changed("rate") {
				pacing.RatePerSecond = &opts.Rate
			}
			if f.Changed("max-concurrent") {
				pacing.MaxConcurrent = &opts.MaxConcurrent
			}
			if f.Changed("window") {
				if _, err := campaign.ParseWindow(opts.Window); err != nil {
					return usageErrorf("--window: %v", err)
				}
				pacing.WindowSpec = &opts.Window
			}
			return runResume(cmd, a, args[0], opts, pacing)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.RetryFailed, "retry-failed", false, "give each failed contact one more attempt (not permanent failures)")
	f.Float64Var(&opts.Rate, "rate", 0, "new rate: calls created per second, at most (0: no limit)")
	f.IntVar(&opts.MaxConcurrent, "max-concurrent", 0, "new cap on live calls")
	f.StringVar(&opts.Window, "window", "", "new calling hours in each contact's local time")
	f.StringVar(&opts.AssistantID, "assistant-id", "", "Vapi assistant that places the calls (default: the campaign's)")
	f.StringVar(&opts.PhoneNumberID, "phone-number-id", "", "Vapi phone number the calls come from (default: the campaign's)")
	f.BoolVar(&opts.Simulate, "simulate", false, "continue on a fresh built-in Vapi simulator (calls of the earlier run are unknown to it)")
	addCallFlags(f, &opts.runOptions)
	f.StringVar(&opts.PublicURL, "public-url", "", "address at which Vapi can reach the webhook receiver (default: the campaign's)")
	return cmd
}

func runResume(cmd *cobra.Command, a *app, ref string, opts *resumeOptions, pacing campaign.Pacing) error {
	ctx := cmd.Context()
	pool, err := a.openDB(ctx, dbWrite)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := campaign.NewStore(pool)
	c, err := store.CampaignByRef(ctx, ref)
	if err != nil {
		return err
	}
	// The calls go where the flags say, else where the campaign's say; a simulation brings its
	// own webhook address, and its assistant and number when the campaign has none.
	f := cmd.Flags()
	if !f.Changed("public-url") && !opts.Simulate {
		opts.PublicURL = c.PublicURL
	}
	if !f.Changed("assistant-id") {
		opts.AssistantID = c.AssistantID
	}
	if !f.Changed("phone-number-id") {
		opts.PhoneNumberID = c.PhoneNumberID
	}
	if !opts.Simulate && (opts.AssistantID == "" || opts.PhoneNumberID == "") {
		return usageErrorf("campaign %s has no assistant or phone number to call from: give --assistant-id and --phone-number-id", c.Name)
	}
	conn, err := connectVapi(a, &opts.runOptions)
	if err != nil {
		return err
	}
	defer conn.close()
	routing := campaign.Routing{AssistantID: &opts.AssistantID, PhoneNumberID: &opts.PhoneNumberID, PublicURL: &opts.PublicURL}
	if err := store.SetRouting(ctx, c.ID, routing, a.now()); err != nil {
		return err
	}
	if pacing != (campaign.Pacing{}) {
		if err := store.SetPacing(ctx, c.ID, pacing, a.now()); err != nil {
			return usageErrorf("%v", err)
		}
	}
	if c, err = store.Campaign(ctx, c.ID); err != nil { // with the settings just stored
		return err
	}
	start := func() error {
		back, err := store.Resume(ctx, c.ID, campaign.ResumeOptions{RetryFailed: opts.RetryFailed}, a.now())
		if err != nil {
			return err
		}
		fmt.Fprintf(a.errOut, "Resuming campaign %s (id %d): %d contacts back in dispatch.\n", c.Name, c.ID, back)
		return nil
	}
	return driveCampaign(ctx, a, &opts.runOptions, conn, pool, store, c, start)
}
