package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

func newDeleteCmd(a *app) *cobra.Command {
	var opts campaign.DeleteOptions
	cmd := &cobra.Command{
		Use:   "delete CAMPAIGN...",
		Short: "Delete campaigns that never placed a call, e.g. dry runs (--purge: also ones with results)",
		Long: "Delete campaigns with their contacts. A campaign that never placed a call (a dry run, a draft whose\n" +
			"pre-flight failed) goes at once. One that placed calls keeps its results, which cost money, unless\n" +
			"--purge: then its attempts and their webhook events go too. A running campaign is refused unless\n" +
			"--force (cancel it first: campaign cancel NAME). The do-not-call list is never touched.",
		Example: `  campaign delete customers-20261122-153012
  campaign delete nov-reminders --purge            # after campaign export nov-reminders -o results.csv
  campaign delete $(campaign list --format json | jq -r '.[] | select(.status == "draft") | .name')`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			pool, err := a.openDB(ctx, dbWrite)
			if err != nil {
				return err
			}
			defer pool.Close()
			store := campaign.NewStore(pool)
			for _, ref := range args {
				c, err := findCampaign(ctx, store, ref)
				if err != nil {
					return err
				}
				d, err := store.DeleteCampaign(ctx, c.ID, opts)
				switch {
				case errors.Is(err, campaign.ErrHasResults):
					return &hintError{err: err, msg: fmt.Sprintf("campaign %s has results of %d calls: export them first "+
						"(campaign export %s -o %s.csv), then delete it with --purge", c.Name, d.Calls, c.Name, c.Name)}
				case errors.Is(err, campaign.ErrWrongStatus):
					return &hintError{err: err, msg: fmt.Sprintf("campaign %s is running: stop it first (campaign cancel %s), "+
						"or delete it as it runs with --force", c.Name, c.Name)}
				case err != nil:
					return err
				}
				fmt.Fprintf(a.errOut, "Deleted campaign %s (%d contacts", c.Name, d.Contacts)
				if d.Calls > 0 {
					fmt.Fprintf(a.errOut, ", %d calls and their results", d.Calls)
				}
				fmt.Fprintln(a.errOut, ").")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Purge, "purge", false, "also delete a campaign that placed calls, with their results")
	f.BoolVar(&opts.Force, "force", false, "also delete a running campaign (its calls in flight go on, unrecorded)")
	return cmd
}
