package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

func newWaitCmd(a *app) *cobra.Command {
	var (
		exitStatus bool
		interval   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait CAMPAIGN",
		Short: "Wait until a campaign has ended: completed, cancelled or failed (--exit-status: fail unless completed)",
		Long: "Wait until a campaign has ended (completed, cancelled or failed), reading its status from the database\n" +
			"every --interval without changing anything, then print how it ended. It exits 0 once the campaign has\n" +
			"ended; with --exit-status only if it completed, 1 otherwise. Ctrl-C stops waiting (exit 1).",
		Example: `  campaign run customers.csv --detach --name nov && campaign wait nov --exit-status && campaign export nov -o results.csv`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return usageErrorf("--interval must be more than 0")
			}
			ctx := cmd.Context()
			pool, store, c, err := a.openCampaign(ctx, dbReadOnly, args[0])
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
					if exitStatus && p.Status != campaign.StatusCompleted {
						return fmt.Errorf("campaign %s ended %s", c.Name, p.Status)
					}
					return nil
				}
				if err == nil && !announced {
					announced = true
					fmt.Fprintf(a.errOut, "Waiting for campaign %s (%s, %d of %d contacts final)...\n", c.Name, p.Status, p.FinalCount(), p.Total)
				}
				t := time.NewTimer(interval)
				select {
				case <-ctx.Done():
					t.Stop()
					return fmt.Errorf("interrupted: stopped waiting for campaign %s", c.Name)
				case <-t.C:
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVar(&exitStatus, "exit-status", false, "exit 1 unless the campaign completed (cancelled or failed)")
	f.DurationVar(&interval, "interval", 2*time.Second, "time between two reads of the campaign's status")
	return cmd
}
