package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

// deleteOptions are the arguments and flags of `campaign delete`.
type deleteOptions struct {
	// Refs name or number the campaigns, deleted in this order.
	Refs []string
	campaign.DeleteOptions
}

// newDeleteCmd returns `campaign delete`; runF, when not nil, gets the options instead of
// runDelete (tests).
func newDeleteCmd(a *app, runF func(*deleteOptions) error) *cobra.Command {
	opts := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete CAMPAIGN...",
		Short: "Delete campaigns that never placed a call, e.g. dry runs (--purge: also ones with results)",
		Long: "Delete campaigns with their contacts. A campaign that never placed a call (a dry run, a draft whose\n" +
			"pre-flight failed) goes at once. One that placed calls keeps its results, which cost money, unless\n" +
			"--purge: then its attempts and their webhook events go too. A running campaign is refused unless\n" +
			"--force (cancel it first: campaign cancel NAME), and so is one that a campaign run or resume still\n" +
			"watches (after a pause it waits for the campaign to be final). The do-not-call list is never touched.",
		Example: `  campaign delete customers-20261122-153012
  campaign delete nov-reminders --purge            # after campaign export nov-reminders -o results.csv
  campaign delete $(campaign list --format json | jq -r '.[] | select(.status == "draft") | .name')`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			if runF != nil {
				return runF(opts)
			}
			return runDelete(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Purge, "purge", false, "also delete a campaign that placed calls, with their results")
	f.BoolVar(&opts.Force, "force", false, "also delete a running campaign, or one a run still watches (its calls in flight go on, unrecorded)")
	return cmd
}

// runDelete deletes the campaigns in order, each with what goes with it, and stops at the first
// one refused.
func runDelete(ctx context.Context, a *app, opts *deleteOptions) error {
	pool, err := a.openDB(ctx, dbWrite)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := campaign.NewStore(pool)
	for _, ref := range opts.Refs {
		c, err := findCampaign(ctx, store, ref)
		if err != nil {
			return err
		}
		d, err := store.DeleteCampaign(ctx, c.ID, opts.DeleteOptions)
		var live *campaign.RunnerLiveError
		switch {
		case errors.As(err, &live):
			return &hintError{err: err, msg: fmt.Sprintf("campaign %s is still watched by campaign run (or resume) "+
				"on host %s, pid %d: stop that run first (Ctrl-C in its terminal, or kill %d on %s), "+
				"or delete the campaign from under it with --force (the run then ends)",
				c.Name, live.Runner.Host, live.Runner.PID, live.Runner.PID, live.Runner.Host)}
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
}
