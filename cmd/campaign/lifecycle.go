package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

// openCampaign opens the database in mode and finds the campaign named or numbered ref. The
// caller closes pool; on error nothing is left open.
func (a *app) openCampaign(ctx context.Context, mode dbMode, ref string) (pool *pgxpool.Pool, store *campaign.Store, c *campaign.Campaign, err error) {
	pool, err = a.openDB(ctx, mode)
	if err != nil {
		return nil, nil, nil, err
	}
	store = campaign.NewStore(pool)
	c, err = findCampaign(ctx, store, ref)
	if err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	return pool, store, c, nil
}

// findCampaign finds the campaign named or numbered ref; when there is none, the error names
// ref as the user typed it and says how to see the campaigns there are.
func findCampaign(ctx context.Context, store *campaign.Store, ref string) (*campaign.Campaign, error) {
	c, err := store.CampaignByRef(ctx, ref)
	if errors.Is(err, campaign.ErrNotFound) {
		return nil, &hintError{msg: fmt.Sprintf("no campaign %q (by name or id); see them with: campaign list", ref), err: err}
	}
	return c, err
}

// hintError is an error whose message explains it in the user's terms and says what to do next;
// it unwraps to the error it explains, for errors.Is.
type hintError struct {
	msg string
	err error
}

func (e *hintError) Error() string { return e.msg }
func (e *hintError) Unwrap() error { return e.err }

// withCampaign opens the database for writing and calls fn with the campaign named or numbered
// ref.
func (a *app) withCampaign(ctx context.Context, ref string, fn func(*campaign.Store, *campaign.Campaign) error) error {
	pool, store, c, err := a.openCampaign(ctx, dbWrite, ref)
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(store, c)
}

// pauseOptions are the argument of `campaign pause`.
type pauseOptions struct {
	// Ref names or numbers the campaign.
	Ref string
}

// newPauseCmd returns `campaign pause`; runF, when not nil, gets the options instead of runPause
// (tests).
func newPauseCmd(a *app, runF func(*pauseOptions) error) *cobra.Command {
	opts := &pauseOptions{}
	return &cobra.Command{
		Use:   "pause CAMPAIGN",
		Short: "Stop new calls of a running campaign in every process; calls in flight finish and are recorded",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runPause(cmd.Context(), a, opts)
		},
	}
}

// runPause pauses the campaign; one already paused is left as it is, and said so.
func runPause(ctx context.Context, a *app, opts *pauseOptions) error {
	return a.withCampaign(ctx, opts.Ref, func(store *campaign.Store, c *campaign.Campaign) error {
		err := store.Pause(ctx, c.ID, a.now())
		if errors.Is(err, campaign.ErrWrongStatus) {
			if c, err = store.Campaign(ctx, c.ID); err != nil {
				return err
			}
			switch c.Status {
			case campaign.StatusPaused:
				fmt.Fprintf(a.errOut, "Campaign %s is already paused: nothing to do. Continue it with: %s\n", c.Name, campaign.ContinueCommand(c, false))
				return nil
			case campaign.StatusDraft:
				return &hintError{msg: fmt.Sprintf("campaign %s is draft: it never ran, so there is nothing to pause; start it with: %s",
					c.Name, campaign.ContinueCommand(c, false)), err: err}
			default:
				return &hintError{msg: fmt.Sprintf("campaign %s is %s: there is nothing to pause", c.Name, c.Status), err: err}
			}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(a.errOut, "Campaign %s paused: no new calls; calls in flight finish and are recorded.\n", c.Name)
		return nil
	})
}

// cancelOptions are the argument of `campaign cancel`.
type cancelOptions struct {
	// Ref names or numbers the campaign.
	Ref string
}

// newCancelCmd returns `campaign cancel`; runF, when not nil, gets the options instead of
// runCancel (tests).
func newCancelCmd(a *app, runF func(*cancelOptions) error) *cobra.Command {
	opts := &cancelOptions{}
	return &cobra.Command{
		Use:   "cancel CAMPAIGN",
		Short: "End a campaign: contacts not yet called become cancelled; calls in flight finish and are recorded",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runCancel(cmd.Context(), a, opts)
		},
	}
}

// runCancel cancels the campaign: its contacts not yet called will not be.
func runCancel(ctx context.Context, a *app, opts *cancelOptions) error {
	return a.withCampaign(ctx, opts.Ref, func(store *campaign.Store, c *campaign.Campaign) error {
		n, err := store.Cancel(ctx, c.ID, a.now())
		if errors.Is(err, campaign.ErrWrongStatus) {
			return &hintError{msg: fmt.Sprintf("campaign %s is %s already: there is nothing to cancel", c.Name, c.Status), err: err}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(a.errOut, "Campaign %s cancelled: %d contacts will not be called.\n", c.Name, n)
		return nil
	})
}

// setOptions are the argument and flags of `campaign set`.
type setOptions struct {
	// Ref names or numbers the campaign.
	Ref string
	// Pacing holds the changes the flags give; at least one.
	Pacing campaign.Pacing
	pacing pacingFlags
}

// newSetCmd returns `campaign set`; runF, when not nil, gets the checked options instead of
// runSet (tests).
func newSetCmd(a *app, runF func(*setOptions) error) *cobra.Command {
	opts := &setOptions{}
	cmd := &cobra.Command{
		Use:   "set CAMPAIGN",
		Short: "Change the pacing, calling hours, retry rules or schedule of a campaign, also while it runs",
		Example: `  campaign set nov-reminders --rate 2 --max-concurrent 20
  campaign set nov-reminders --window "mon-fri 10:00-18:00"
  campaign set nov-reminders --retry "no_answer=3@2h, busy=2@20m" --max-attempts 4
  campaign set nov-reminders --start-at "2026-12-08 09:00" --end-by "2026-12-08 18:00"
  campaign set nov-reminders --start-at none`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			p, err := opts.pacing.changes(cmd.Flags(), a.now())
			if err != nil {
				return err
			}
			if p == (campaign.Pacing{}) {
				return usageErrorf("nothing to set: give %s", pacingFlagNames)
			}
			opts.Pacing = p
			if runF != nil {
				return runF(opts)
			}
			return runSet(cmd.Context(), a, opts)
		},
	}
	addPacingFlags(cmd.Flags(), &opts.pacing)
	return cmd
}

// runSet stores the campaign's new settings and shows each before and after.
func runSet(ctx context.Context, a *app, opts *setOptions) error {
	return a.withCampaign(ctx, opts.Ref, func(store *campaign.Store, c *campaign.Campaign) error {
		if err := store.SetPacing(ctx, c.ID, opts.Pacing, a.now()); err != nil {
			if errors.Is(err, campaign.ErrBadSchedule) {
				return &hintError{msg: fmt.Sprintf("campaign %s: %v (start %s, end %s now)", c.Name, err,
					scheduleOrNone(c.StartAt), scheduleOrNone(c.EndBy)), err: err}
			}
			return err
		}
		after, err := store.Campaign(ctx, c.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.errOut, "Campaign %s updated; running processes apply it within seconds.\n", c.Name)
		writePacingChanges(a.errOut, opts.Pacing, c, after)
		if after.Status == campaign.StatusPaused && after.PausedReason == campaign.PauseBudget {
			fmt.Fprintf(a.errOut, "Campaign %s is paused by its budget cap: continue it with: %s\n", c.Name,
				campaign.ContinueCommand(after, false))
		}
		return nil
	})
}
