package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
)

// suppressOptions are the arguments and flags of the `campaign suppress` subcommands.
type suppressOptions struct {
	// Args are the subcommand's arguments: numbers (add, remove) or a file (import).
	Args          []string
	Reason        string
	DefaultRegion string
	Format        string
}

// Environment variables read by `campaign suppress` (flag > env > default).
var suppressEnv = map[string]string{
	"default-region": "CAMPAIGN_DEFAULT_REGION",
}

// suppressSourceCLI is the source of numbers added with `suppress add`; imported ones have
// "import:" and the file's base name.
const suppressSourceCLI = "cli"

func newSuppressCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suppress",
		Short: "Manage the suppression (do-not-call) list: numbers no campaign ever calls",
		Long: "The suppression list holds numbers never to be called, whatever the campaign. Imports refuse\n" +
			"them, and a number added while a campaign runs is not dialed: its waiting contacts become\n" +
			"do_not_call at once (contacts in a call or already finished are left as they are).",
		Example: `  campaign suppress add "+1 415 555 0132" "(212) 555-0187" --reason complaint
  campaign suppress import dnc.csv
  campaign suppress list --format csv > suppression.csv
  campaign suppress remove +14155550132`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for \"campaign suppress\": want add, import, list or remove", args[0])
			}
			return nil
		},
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("campaign suppress needs a command: add, import, list or remove")
		},
	}
	cmd.AddCommand(newSuppressAddCmd(a, nil), newSuppressImportCmd(a, nil), newSuppressListCmd(a, nil), newSuppressRemoveCmd(a, nil))
	return cmd
}

func (o *suppressOptions) addRegionFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.DefaultRegion, "default-region", campaign.DefaultRegion,
		"country (ISO 3166 code) of numbers written without +country code (env "+suppressEnv["default-region"]+")")
}

func (o *suppressOptions) addReasonFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Reason, "reason", "manual", "why the numbers must not be called (kept with each new number)")
}

// complete takes the arguments, fills flags from the environment and checks the region.
func (o *suppressOptions) complete(a *app, cmd *cobra.Command, args []string) error {
	o.Args = args
	if err := applyEnv(cmd.Flags(), a.getenv, suppressEnv); err != nil {
		return err
	}
	o.DefaultRegion = strings.ToUpper(strings.TrimSpace(o.DefaultRegion))
	if !phonenumbers.GetSupportedRegions()[o.DefaultRegion] {
		return usageErrorf("--default-region %q is not a country code phone numbers know (e.g. US, GB, DE, IN)", o.DefaultRegion)
	}
	return nil
}

// parsePhones normalises every argument to E.164, in order, without duplicates. Every invalid
// argument is named in the error, so one run shows them all; nothing is written in that case.
func parsePhones(args []string, region string) ([]string, error) {
	var (
		phones []string
		bad    []string
		seen   = make(map[string]bool, len(args))
	)
	for _, raw := range args {
		e164, _, _, err := campaign.ParsePhone(raw, region)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q: %v", raw, err))
			continue
		}
		if !seen[e164] {
			seen[e164] = true
			phones = append(phones, e164)
		}
	}
	switch len(bad) {
	case 0:
		return phones, nil
	case 1:
		return nil, fmt.Errorf("not a phone number: %s (nothing was changed)", bad[0])
	}
	return nil, fmt.Errorf("%d arguments are not phone numbers (nothing was changed):\n  %s", len(bad), strings.Join(bad, "\n  "))
}

func numbersWord(n int) string {
	if n == 1 {
		return "1 number"
	}
	return fmt.Sprintf("%d numbers", n)
}

// addSuppressions stores phones and prints the confirmation on errOut.
func addSuppressions(ctx context.Context, a *app, phones []string, reason, source string) error {
	pool, err := a.openDB(ctx, dbWrite)
	if err != nil {
		return err
	}
	defer pool.Close()
	now := a.now()
	entries := make([]campaign.Suppression, len(phones))
	for i, p := range phones {
		entries[i] = campaign.Suppression{Phone: p, Reason: reason, Source: source, CreatedAt: now}
	}
	added, err := campaign.NewStore(pool).AddSuppressions(ctx, entries, a.now())
	if err != nil {
		return err
	}
	msg := numbersWord(added) + " added"
	if already := len(phones) - added; already > 0 {
		msg += fmt.Sprintf(" (%d already suppressed)", already)
	}
	fmt.Fprintln(a.errOut, msg)
	return nil
}

// newSuppressAddCmd returns `campaign suppress add`; runF, when not nil, gets the checked options
// instead of runSuppressAdd (tests).
func newSuppressAddCmd(a *app, runF func(*suppressOptions) error) *cobra.Command {
	opts := &suppressOptions{}
	cmd := &cobra.Command{
		Use:   "add NUMBER...",
		Short: "Add numbers to the suppression list",
		Example: `  campaign suppress add +14155550132 "(212) 555-0187" --reason complaint
  campaign suppress add "020 7946 0018" --default-region GB`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(a, cmd, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runSuppressAdd(cmd.Context(), a, opts)
		},
	}
	opts.addReasonFlag(cmd)
	opts.addRegionFlag(cmd)
	return cmd
}

// runSuppressAdd adds the numbers given, all or none: one that is not a number changes nothing.
func runSuppressAdd(ctx context.Context, a *app, opts *suppressOptions) error {
	phones, err := parsePhones(opts.Args, opts.DefaultRegion)
	if err != nil {
		return err
	}
	return addSuppressions(ctx, a, phones, opts.Reason, suppressSourceCLI)
}

// newSuppressImportCmd returns `campaign suppress import`; runF, when not nil, gets the checked
// options instead of runSuppressImport (tests).
func newSuppressImportCmd(a *app, runF func(*suppressOptions) error) *cobra.Command {
	opts := &suppressOptions{}
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Add every number of a file to the suppression list (one per line, or a CSV with a phone column; - reads stdin)",
		Example: `  campaign suppress import dnc.txt --reason "national DNC registry"
  campaign suppress import complaints.csv --default-region GB`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(a, cmd, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runSuppressImport(cmd.Context(), a, opts)
		},
	}
	opts.addReasonFlag(cmd)
	opts.addRegionFlag(cmd)
	return cmd
}

// runSuppressImport adds every number of the file (- reads stdin), all or none.
func runSuppressImport(ctx context.Context, a *app, opts *suppressOptions) error {
	file := opts.Args[0]
	var r io.Reader = a.in
	source := "import:stdin"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r, source = f, "import:"+filepath.Base(file)
	}
	numbers, err := campaign.ReadSuppressionList(interruptible(ctx, r), opts.DefaultRegion)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted (%s) while reading %s: nothing was imported", signalName(ctx), file)
	}
	if err != nil {
		return fmt.Errorf("%s: %w (nothing was imported)", file, err)
	}
	phones := dedupe(numbers)
	if len(phones) == 0 {
		fmt.Fprintf(a.errOut, "%s holds no phone numbers: nothing to add\n", file)
		return nil
	}
	return addSuppressions(ctx, a, phones, opts.Reason, source)
}

// dedupe returns ss without repeats, in first-seen order.
func dedupe(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// newSuppressRemoveCmd returns `campaign suppress remove`; runF, when not nil, gets the checked
// options instead of runSuppressRemove (tests).
func newSuppressRemoveCmd(a *app, runF func(*suppressOptions) error) *cobra.Command {
	opts := &suppressOptions{}
	cmd := &cobra.Command{
		Use:     "remove NUMBER...",
		Short:   "Take numbers off the suppression list (contacts already marked do_not_call stay so)",
		Example: `  campaign suppress remove +14155550132`,
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(a, cmd, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runSuppressRemove(cmd.Context(), a, opts)
		},
	}
	opts.addRegionFlag(cmd)
	return cmd
}

// runSuppressRemove takes the numbers given off the list, all or none: one that is not a number
// changes nothing.
func runSuppressRemove(ctx context.Context, a *app, opts *suppressOptions) error {
	phones, err := parsePhones(opts.Args, opts.DefaultRegion)
	if err != nil {
		return err
	}
	pool, err := a.openDB(ctx, dbWrite)
	if err != nil {
		return err
	}
	defer pool.Close()
	removed, err := campaign.NewStore(pool).RemoveSuppressions(ctx, phones)
	if err != nil {
		return err
	}
	msg := numbersWord(removed) + " removed"
	if missing := len(phones) - removed; missing > 0 {
		msg += fmt.Sprintf(" (%d not on the list)", missing)
	}
	fmt.Fprintln(a.errOut, msg)
	return nil
}

// suppressionJSON is one line of `suppress list --format json`.
type suppressionJSON struct {
	Phone      string `json:"phone"`
	Reason     string `json:"reason"`
	Source     string `json:"source"`
	VapiCallID string `json:"vapi_call_id"`
	CreatedAt  string `json:"created_at"`
	// Campaign names the campaign of the call in which the person asked (source "call").
	Campaign string `json:"campaign"`
}

// newSuppressListCmd returns `campaign suppress list`; runF, when not nil, gets the checked
// options instead of runSuppressList (tests).
func newSuppressListCmd(a *app, runF func(*suppressOptions) error) *cobra.Command {
	opts := &suppressOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print the suppression list in phone order (text table, CSV or JSON lines)",
		Example: `  campaign suppress list
  campaign suppress list --format csv > suppression.csv`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("suppress list takes no arguments, got %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.Format {
			case "text", "csv", "json":
			default:
				return usageErrorf("--format must be text, csv or json, got %q", opts.Format)
			}
			if runF != nil {
				return runF(opts)
			}
			return runSuppressList(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text, csv or json (one object a line)")
	_ = cmd.RegisterFlagCompletionFunc("format", completeValues("text", "csv", "json"))
	return cmd
}

// runSuppressList prints the list in phone order, and how many numbers it holds.
func runSuppressList(ctx context.Context, a *app, opts *suppressOptions) error {
	pool, err := a.openDB(ctx, dbReadOnly)
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := writeSuppressions(ctx, a.out, opts.Format, campaign.NewStore(pool))
	if err != nil {
		return err
	}
	fmt.Fprintf(a.errOut, "%s suppressed\n", numbersWord(n))
	return nil
}

// writeSuppressions streams the list to w in format and returns how many numbers it wrote.
func writeSuppressions(ctx context.Context, w io.Writer, format string, store *campaign.Store) (int, error) {
	bw := bufio.NewWriter(w)
	var (
		n     int
		write func(campaign.Suppression) error
		flush func() error
	)
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch format {
	case "csv":
		cw := csv.NewWriter(bw)
		if err := cw.Write([]string{"phone", "reason", "source", "vapi_call_id", "created_at", "campaign"}); err != nil {
			return 0, err
		}
		write = func(s campaign.Suppression) error {
			return cw.Write([]string{s.Phone, s.Reason, s.Source, s.VapiCallID, stamp(s.CreatedAt), s.CampaignName})
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	case "json":
		enc := json.NewEncoder(bw)
		write = func(s campaign.Suppression) error {
			return enc.Encode(suppressionJSON{Phone: s.Phone, Reason: s.Reason, Source: s.Source,
				VapiCallID: s.VapiCallID, CreatedAt: stamp(s.CreatedAt), Campaign: s.CampaignName})
		}
		flush = func() error { return nil }
	default:
		// Fixed widths rather than a tabwriter, so a long list streams: an E.164 number is at
		// most 16 bytes, a timestamp 20 and a call id 36; where the entry came from (manual,
		// import FILE, call in campaign NAME) comes last.
		const row = "%-16s  %-20s  %-16s  %-36s  %s\n"
		if _, err := fmt.Fprintf(bw, row, "PHONE", "ADDED", "REASON", "VAPI CALL", "SOURCE"); err != nil {
			return 0, err
		}
		write = func(s campaign.Suppression) error {
			_, err := fmt.Fprintf(bw, row, s.Phone, stamp(s.CreatedAt), oneLine(s.Reason), oneLine(s.VapiCallID), oneLine(s.Origin()))
			return err
		}
		flush = func() error { return nil }
	}
	err := store.ListSuppressions(ctx, func(s campaign.Suppression) error {
		n++
		return write(s)
	})
	if err != nil {
		return n, err
	}
	if err := flush(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// oneLine keeps free text on one table row, and shows an empty cell as "-".
func oneLine(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Join(strings.Fields(s), " ")
}
