package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/reports/export"
)

// exportOptions are the argument and flags of `campaign export`.
type exportOptions struct {
	// Ref names or numbers the campaign.
	Ref      string
	Output   string
	Attempts bool
	Filters  []string
	Format   string
	Excel    bool

	// format and filter are Format and Filters parsed by validate.
	format export.Format
	filter campaign.ExportFilter
}

// noOutcome is the --filter value for contacts without an outcome (never called, or waiting).
const noOutcome = "none"

// newExportCmd returns `campaign export`; runF, when not nil, gets the checked options instead of
// runExport (tests).
func newExportCmd(a *app, runF func(*exportOptions) error) *cobra.Command {
	opts := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export CAMPAIGN",
		Short: "Write a campaign's results: one row per contact (the original columns, then the results), or per attempt",
		Long: `Write a campaign's results, to stdout or to the file of -o, as CSV (the imported file's delimiter)
or JSON Lines.

One row per contact, in file order: the original CSV columns in their original order, then
` + wrapList(export.ResultColumns, 96) + `,
then structured.KEY for every key of the calls' structured data (nested keys joined by dots; the
same columns on every row). The file imports again as a new campaign as it is:
  campaign export nov-reminders --filter outcome=no_answer -o retry.csv && campaign run retry.csv

--attempts writes one row per call attempt instead, with its contact's number, line and external id.

CSV cells from customer or call data that a spreadsheet could run as a formula (starting with
= + - @, a tab or a carriage return) get a leading apostrophe; phone numbers in E.164 (+ and
digits) and plain numbers are left as they are. A campaign still running can be exported: the
file is a consistent snapshot of its results so far.`,
		Example: `  campaign export nov-reminders -o results.csv
  campaign export nov-reminders --excel -o results.csv            # for Excel: a UTF-8 BOM first
  campaign export nov-reminders --filter outcome=no_answer,busy -o retry.csv
  campaign export nov-reminders --filter state=failed --filter outcome=failed_retryable
  campaign export nov-reminders --attempts --format jsonl | jq .cost_usd`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runExport(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "", "write to FILE (complete or not at all) instead of stdout")
	f.BoolVar(&opts.Attempts, "attempts", false, "one row per call attempt instead of one per contact")
	f.StringArrayVar(&opts.Filters, "filter", nil, "only contacts with state=STATE or outcome=OUTCOME (none: no outcome yet; "+
		"with --attempts, the attempt's outcome); several values of a key are alternatives (outcome=no_answer,busy), "+
		"several keys must all match; repeatable")
	f.StringVar(&opts.Format, "format", string(export.FormatCSV), "csv or jsonl (one JSON object a line)")
	f.BoolVar(&opts.Excel, "excel", false, "CSV for Excel: start the file with a UTF-8 byte-order mark, so non-ASCII text shows right")
	_ = cmd.RegisterFlagCompletionFunc("format", completeValues(string(export.FormatCSV), string(export.FormatJSONL)))
	_ = cmd.RegisterFlagCompletionFunc("filter", completeExportFilter)
	return cmd
}

// validate parses --format and --filter, and checks that --excel goes with CSV.
func (o *exportOptions) validate() error {
	format, err := export.ParseFormat(o.Format)
	if err != nil {
		return usageErrorf("--format %q: want csv or jsonl", o.Format)
	}
	if o.Excel && format != export.FormatCSV {
		return usageErrorf("--excel applies to --format csv only")
	}
	filter, err := parseExportFilters(o.Filters)
	if err != nil {
		return err
	}
	o.format, o.filter = format, filter
	return nil
}

// runExport writes the campaign's results to stdout or to the -o file, whole or not at all.
func runExport(ctx context.Context, a *app, opts *exportOptions) error {
	pool, store, c, err := a.openCampaign(ctx, dbReadOnly, opts.Ref)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := noteUnfinished(ctx, a.errOut, store, c); err != nil {
		return err
	}

	out := a.out
	var pending *pendingFile
	if opts.Output != "" {
		if pending, err = newPendingFile(opts.Output); err != nil {
			return err
		}
		defer pending.discard()
		out = pending.f
	}
	// The export allocates a few short-lived strings per cell and keeps almost nothing: a
	// lazier collector costs a few MB and saves a tenth of the CPU.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	xopts := export.Options{Format: opts.format, Excel: opts.Excel, Filter: opts.filter}
	write, what := export.Contacts, "contacts"
	if opts.Attempts {
		write, what = export.Attempts, "attempts"
	}
	stats, err := write(ctx, store, c, out, xopts)
	if err != nil {
		return err
	}
	if pending == nil {
		return nil
	}
	if err := pending.commit(); err != nil {
		return err
	}
	fmt.Fprintf(a.errOut, "Exported %d %s of campaign %s to %s\n", stats.Rows, what, c.Name, opts.Output)
	return nil
}

// wrapList joins items with ", " in lines of at most width characters.
func wrapList(items []string, width int) string {
	var b strings.Builder
	line := 0
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
			line++
			if line+1+len(it) > width {
				b.WriteByte('\n')
				line = 0
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(it)
		line += len(it)
	}
	return b.String()
}

// noteUnfinished says on w when the campaign's results are not final yet.
func noteUnfinished(ctx context.Context, w io.Writer, store *campaign.Store, c *campaign.Campaign) error {
	p, err := store.Progress(ctx, c.ID)
	if err != nil {
		return err
	}
	switch {
	case p.Status == campaign.StatusDraft:
		fmt.Fprintf(w, "Note: campaign %s is a draft (never started): nobody has been called yet.\n", c.Name)
	case p.Status != campaign.StatusCompleted && p.Status != campaign.StatusCancelled:
		fmt.Fprintf(w, "Note: campaign %s is still %s: %d of %d contacts are not final yet (%d calls live); "+
			"this export shows the results so far.\n", c.Name, statusText(p.Status, p.PausedReason), p.Total-p.FinalCount(), p.Total, p.Live)
	case p.Live > 0:
		fmt.Fprintf(w, "Note: campaign %s has %d calls still live; their results are not in this export yet.\n", c.Name, p.Live)
	}
	return nil
}

// parseExportFilters reads --filter values: KEY=VALUE items separated by commas, where an item
// without = is one more value of the key before it (outcome=no_answer,busy).
func parseExportFilters(values []string) (campaign.ExportFilter, error) {
	var f campaign.ExportFilter
	states := make([]string, 0, len(campaign.ContactStates()))
	for _, s := range campaign.ContactStates() {
		states = append(states, string(s))
	}
	outcomes := append(campaign.ContactOutcomes(), noOutcome)
	for _, v := range values {
		key := ""
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			val := item
			if k, rest, ok := strings.Cut(item, "="); ok {
				key, val = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(rest)
			} else if key == "" {
				return f, usageErrorf("--filter %q: want KEY=VALUE, e.g. outcome=no_answer or state=failed", v)
			}
			if val == "" {
				return f, usageErrorf("--filter %q: %s needs a value", v, key)
			}
			switch key {
			case "state":
				if !slices.Contains(states, val) {
					return f, usageErrorf("--filter %q: unknown state %q: want one of %s", v, val, strings.Join(states, ", "))
				}
				if !slices.Contains(f.States, campaign.ContactState(val)) {
					f.States = append(f.States, campaign.ContactState(val))
				}
			case "outcome":
				if !slices.Contains(outcomes, val) {
					return f, usageErrorf("--filter %q: unknown outcome %q: want one of %s", v, val, strings.Join(outcomes, ", "))
				}
				if val == noOutcome {
					val = ""
				}
				if !slices.Contains(f.Outcomes, val) {
					f.Outcomes = append(f.Outcomes, val)
				}
			default:
				return f, usageErrorf("--filter %q: unknown key %q: want state or outcome", v, key)
			}
		}
	}
	return f, nil
}
