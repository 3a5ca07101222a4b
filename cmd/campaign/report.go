package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/reports"
	"github.com/campaign-run/campaign/vapi"
)

// reportOptions are the argument and flags of `campaign report`.
type reportOptions struct {
	// Ref names or numbers the campaign.
	Ref         string
	Format      string
	Output      string
	Analytics   bool
	VapiBaseURL string
	Top         int

	// format is Format parsed by validate.
	format reports.Format
}

// reportEnv are the flags of `campaign report` that default from the environment (flag > env >
// default).
var reportEnv = map[string]string{"vapi-base-url": envVapiBaseURL}

// newReportCmd returns `campaign report`; runF, when not nil, gets the checked options instead of
// runReport (tests).
func newReportCmd(a *app, runF func(*reportOptions) error) *cobra.Command {
	opts := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report CAMPAIGN",
		Short: "Report a campaign: funnel, outcomes, attempts, cost, duration, hours, progress (--analytics: beside Vapi's figures)",
		Long: `Report a campaign, finished or still running, from the database: the funnel (contacts, dialed,
connected to a person, successful by the calls' success evaluation), outcomes and the top ended
reasons, the attempts contacts needed (the yield of attempt 1, 2, 3…), cost (in all, per connected
call, per success), duration of connected calls (mean, median, p90), calls by the contact's local
hour and by time zone, import rejects and do-not-call suppressions and, for a campaign under way,
its progress and an estimated finish.

--analytics also asks Vapi (POST /analytics, with VAPI_API_KEY) for the campaign's calls over its
time range, grouped by the variable ` + jobs.CampaignVariable + ` that every call carries, and sets
Vapi's counts, cost and durations beside the runner's, flagging differences (such as calls Vapi
knows that the runner never recorded). A key that may not read analytics (401/403) gives a note,
not an error.

--format html writes one self-contained page (inline CSS and SVG charts, nothing fetched) that
reads on a phone; json is a stable interface (schema_version 1); csv has one figure a row.`,
		Example: `  campaign report nov-reminders
  campaign report nov-reminders --format html -o report.html
  campaign report nov-reminders --format json | jq .funnel
  VAPI_API_KEY=... campaign report nov-reminders --analytics`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if err := applyEnv(cmd.Flags(), a.getenv, reportEnv); err != nil {
				return err
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runReport(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", string(reports.FormatText), "output format: text, json, csv or html")
	f.StringVarP(&opts.Output, "output", "o", "", "write to FILE (complete or not at all) instead of stdout")
	f.BoolVar(&opts.Analytics, "analytics", false, "also query Vapi's analytics (POST /analytics, needs VAPI_API_KEY) and compare")
	f.StringVar(&opts.VapiBaseURL, "vapi-base-url", vapi.DefaultBaseURL, "Vapi API base URL, for --analytics (env "+envVapiBaseURL+")")
	f.IntVar(&opts.Top, "top", reports.DefaultTopReasons, "how many ended reasons to list before summing up the rest")
	_ = cmd.RegisterFlagCompletionFunc("format", completeValues(string(reports.FormatText), string(reports.FormatJSON),
		string(reports.FormatCSV), string(reports.FormatHTML)))
	return cmd
}

// validate parses --format and checks --top.
func (o *reportOptions) validate() error {
	format, err := reports.ParseFormat(o.Format)
	if err != nil {
		return usageErrorf("--format %q: want text, json, csv or html", o.Format)
	}
	if o.Top < 1 {
		return usageErrorf("--top must be at least 1")
	}
	o.format = format
	return nil
}

// runReport builds the campaign's report, with Vapi's analytics beside it on --analytics, and
// writes it to stdout or to the -o file, whole or not at all.
func runReport(ctx context.Context, a *app, opts *reportOptions) error {
	pool, store, c, err := a.openCampaign(ctx, dbReadOnly, opts.Ref)
	if err != nil {
		return err
	}
	defer pool.Close()
	var client *vapi.Client
	if opts.Analytics && c.Mode != campaign.ModeSimulated {
		key := a.getenv(envAPIKey)
		if key == "" {
			return usageErrorf("--analytics needs %s, a Vapi private API key", envAPIKey)
		}
		if client, err = vapi.NewClient(key, &vapi.Config{BaseURL: opts.VapiBaseURL}); err != nil {
			return usageErrorf("--vapi-base-url: %v", err)
		}
	}

	now := a.now()
	facts, err := store.ReportFacts(ctx, c.ID)
	if err != nil {
		return err
	}
	r := reports.Build(facts, reports.Options{Now: now, TopReasons: opts.Top})
	if opts.Analytics {
		if client == nil {
			r.Analytics = reports.Unavailable(fmt.Sprintf("campaign %s ran on the built-in simulator (--simulate): its calls "+
				"existed only in that process, so Vapi has no analytics of them.", c.Name))
		} else if r.Analytics, err = reports.QueryAnalytics(ctx, client, facts,
			reports.AnalyticsOptions{Variable: jobs.CampaignVariable, Now: now}); err != nil {
			return fmt.Errorf("%w (run without --analytics for the runner's figures alone)", err)
		}
		if !r.Analytics.Available {
			fmt.Fprintf(a.errOut, "Note: Vapi analytics not available: %s\n", r.Analytics.Note)
		}
	}

	if opts.Output == "" {
		return reports.Write(a.out, r, opts.format)
	}
	pending, err := newPendingFile(opts.Output)
	if err != nil {
		return err
	}
	defer pending.discard()
	if err := reports.Write(pending.f, r, opts.format); err != nil {
		return fmt.Errorf("write %s: %w", opts.Output, err)
	}
	if err := pending.commit(); err != nil {
		return err
	}
	fmt.Fprintf(a.errOut, "Wrote the report of campaign %s to %s\n", c.Name, opts.Output)
	return nil
}
