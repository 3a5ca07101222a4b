package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

// waitOptions are the argument and flags of `campaign wait`.
type waitOptions struct {
	// Ref names or numbers the campaign.
	Ref        string
	ExitStatus bool
	Interval   time.Duration
}

// newWaitCmd returns `campaign wait`; runF, when not nil, gets the checked options instead of
// runWait (tests).
func newWaitCmd(a *app, runF func(*waitOptions) error) *cobra.Command {
	opts := &waitOptions{}
	cmd := &cobra.Command{
		Use:   "wait CAMPAIGN",
		Short: "Wait until a campaign has ended: completed, cancelled or failed (--exit-status: fail unless completed)",
		Long: "Wait until a campaign has ended (completed, cancelled or failed), reading its status from the database\n" +
			"every --interval without changing anything, then print how it ended. It exits 0 once the campaign has\n" +
			"ended; with --exit-status only if it completed, 1 otherwise. Ctrl-C stops waiting (exit 1).",
		Example: `  campaign run customers.csv --detach --name nov && campaign wait nov --exit-status && campaign export nov -o results.csv`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if opts.Interval <= 0 {
				return usageErrorf("--interval must be more than 0")
			}
			if runF != nil {
				return runF(opts)
			}
			return runWait(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.ExitStatus, "exit-status", false, "exit 1 unless the campaign completed (cancelled or failed)")
	f.DurationVar(&opts.Interval, "interval", 2*time.Second, "time between two reads of the campaign's status")
	return cmd
}

// runWait reads the campaign's status every --interval until it has ended, or its budget cap
// paused it and its calls settled, or ctx is done.
func runWait(ctx context.Context, a *app, opts *waitOptions) error {
	pool, store, c, err := a.openCampaign(ctx, dbReadOnly, opts.Ref)
	if err != nil {
		return err
	}
	defer pool.Close()
	announced := false
	for {
		p, err := store.Progress(ctx, c.ID)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil && p.Status.Ended() {
			fmt.Fprintf(a.errOut, "Campaign %s %s: %d of %d contacts final.\n", c.Name, p.Status, p.FinalCount(), p.Total)
			if opts.ExitStatus && p.Status != campaign.StatusCompleted {
				return fmt.Errorf("campaign %s ended %s", c.Name, p.Status)
			}
			return nil
		}
		if err == nil && budgetPaused(p) && p.Live == 0 && p.ByState[campaign.ContactInCall] == 0 {
			// Stopped by its budget cap, its calls settled: nothing more happens without an operator.
			fmt.Fprintf(a.errOut, "Campaign %s paused by its budget cap: %d of %d contacts final; continue with a higher cap: %s\n",
				c.Name, p.FinalCount(), p.Total, campaign.BudgetContinueCommand(c))
			if opts.ExitStatus {
				return fmt.Errorf("campaign %s paused by its budget cap", c.Name)
			}
			return nil
		}
		if err == nil && !announced {
			announced = true
			fmt.Fprintf(a.errOut, "Waiting for campaign %s (%s, %d of %d contacts final)...\n", c.Name, p.Status, p.FinalCount(), p.Total)
		}
		t := time.NewTimer(opts.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("interrupted: stopped waiting for campaign %s", c.Name)
		case <-t.C:
		}
	}
}
