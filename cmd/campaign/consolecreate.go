package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/console"
	"github.com/campaign-run/campaign/internal/localpg"
)

// consoleCreator is the console's console.Creator: campaign run --dry-run and run --detach
// from a browser, on the code of those commands. The form's values go through run's flags
// (with serve's environment, as a terminal's run has its own), so they are checked as on the
// command line.
type consoleCreator struct {
	a     *app
	store *campaign.Store
	// baseURL is serve's Vapi.
	baseURL string
}

// consolePreview is how many request bodies the console's dry run shows.
const consolePreview = 3

// consoleRejectLines is how many lines of the rejected rows' file the dry run shows.
const consoleRejectLines = 6

// quiet is the app with what the commands say to a terminal caught in w.
func (cc *consoleCreator) quiet(w io.Writer) *app {
	a := *cc.a
	a.out, a.errOut, a.statusLine, a.isTerminal = io.Discard, w, nil, false
	return &a
}

// runArgs are the arguments of campaign run --detach for form n, the upload on stdin: a real
// run's checks (a target and a number; serve has the Vapi key).
func (cc *consoleCreator) runArgs(n console.NewCampaign) []string {
	args := []string{stdinFile}
	for _, f := range []struct{ flag, value string }{
		{"name", n.Name}, {"assistant-id", n.AssistantID}, {"squad-id", n.SquadID}, {"phone-number-id", n.PhoneNumberIDs},
		{"window", n.Window}, {"timezone", n.TimeZone}, {"rate", n.Rate}, {"max-concurrent", n.MaxConcurrent},
		{"retry", n.Retry}, {"max-attempts", n.MaxAttempts}, {"max-cost", n.MaxCost}, {"start-at", n.StartAt}, {"end-by", n.EndBy},
	} {
		if v := strings.TrimSpace(f.value); v != "" {
			args = append(args, "--"+f.flag+"="+v)
		}
	}
	return append(args, "--detach")
}

// Import reads the upload into a draft campaign of the service, as campaign run does.
func (cc *consoleCreator) Import(ctx context.Context, n console.NewCampaign) (*campaign.Campaign, error) {
	var said bytes.Buffer
	a := cc.quiet(&said)
	a.in = n.CSV
	var opts *runOptions
	cmd := newRunCmd(a, func(o *runOptions) error { opts = o; return nil })
	cmd.SetArgs(cc.runArgs(n))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.ExecuteContext(ctx); err != nil {
		return nil, &console.InputError{Err: formValueError(err)} // the flags' checks: every error is the form's
	}
	opts.uploadName = uploadName(n.FileName)
	opts.VapiBaseURL = cc.baseURL
	// Into serve's own Store: the imports of the console's users share its pool and its bound on
	// imports at once (campaign.ErrImportsBusy past it).
	imp, err := importCampaign(ctx, a, cc.store, opts, a.now())
	if err != nil {
		if inputError(err) {
			return nil, &console.InputError{Err: err}
		}
		return nil, err
	}
	return imp.campaign, nil
}

// formValueError says a value of the wrong type for a flag as a form's field: `--rate: "fast"
// is not a number` rather than the parser's words.
func formValueError(err error) error {
	var bad *pflag.InvalidValueError
	if !errors.As(err, &bad) {
		return err
	}
	kind := "valid value"
	switch bad.GetFlag().Value.Type() {
	case "float64":
		kind = "number"
	case "int", "int64":
		kind = "whole number"
	}
	return fmt.Errorf("--%s: %q is not a %s", bad.GetFlag().Name, bad.GetValue(), kind)
}

// uploadName is the base name of an uploaded file, "upload.csv" when the browser sent none.
func uploadName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/")) // a Windows browser may send a path
	if name == "." || name == "/" || name == "" {
		return "upload.csv"
	}
	return name
}

// inputError reports whether an import's error is the file's or the form's, for the user to fix.
func inputError(err error) bool {
	var usage *usageError
	var hint *hintError
	var parse *csv.ParseError
	if errors.As(err, &usage) || errors.As(err, &hint) || errors.As(err, &parse) {
		return true
	}
	for _, e := range []error{campaign.ErrNoHeader, campaign.ErrBadHeader, campaign.ErrDuplicateColumn, campaign.ErrNoPhoneColumn,
		campaign.ErrColumnNotFound, campaign.ErrInvalidOption, campaign.ErrRecordTooLarge, campaign.ErrNoDataRows,
		campaign.ErrUnknownRegion, campaign.ErrNameTaken, campaign.ErrTooManyTargets, campaign.ErrBadSchedule} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// DryRun is campaign run --dry-run of draft c: the pre-flight and the report. A failed pre-flight is shown, with the report of the draft as it is.
func (cc *consoleCreator) DryRun(ctx context.Context, c *campaign.Campaign) (*console.DryRun, error) {
	var said bytes.Buffer
	a := cc.quiet(&said)
	window, err := campaign.ParseWindow(c.WindowSpec)
	if err != nil {
		return nil, err
	}
	d := &console.DryRun{}
	now := a.now()
	report, checked, client, targets, err := dryRunPlan(ctx, a, cc.store, c, window, cc.baseURL, consolePreview, now)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		d.PreflightErr = err.Error()
		if report, err = buildDryRunReport(ctx, cc.store, c, window, consolePreview, now); err != nil {
			return nil, err
		}
	} else if client != nil {
		if err := preflightVariables(ctx, a.errOut, cc.store, checked, targets, false); err != nil {
			d.PreflightErr = err.Error()
		}
	}
	d.Preflight = strings.TrimSpace(said.String())
	d.Delimiter, d.Columns, d.Variables, d.Window = report.Delimiter, report.Columns.text(), report.Variables, report.Window
	d.Warnings = report.Warnings
	if report.StartAt != "" || report.EndBy != "" {
		d.Schedule = scheduleText(parseRFC3339(report.StartAt), parseRFC3339(report.EndBy))
	}
	for _, z := range report.TimeZones {
		d.TimeZones = append(d.TimeZones, console.DryRunZone{Zones: strings.Join(z.TimeZones, " + "), Contacts: z.Contacts, FirstCallable: z.firstText()})
	}
	for _, raw := range report.Calls {
		body, err := indentJSON(raw)
		if err != nil {
			return nil, err
		}
		d.Calls = append(d.Calls, body)
	}
	if d.Rejects, err = cc.rejectLines(c); err != nil {
		return nil, err
	}
	return d, nil
}

// Rejects opens the rejected rows' file of draft c, which the console's import wrote (the user's
// state directory's rejects/, where run puts those of stdin); fs.ErrNotExist for none, or for a
// file elsewhere (never served).
func (cc *consoleCreator) Rejects(c *campaign.Campaign) (io.ReadCloser, error) {
	path := c.ImportStats.RejectsFile
	if path == "" {
		return nil, fmt.Errorf("campaign %s rejected no row: %w", c.Name, fs.ErrNotExist)
	}
	state, err := localpg.StateDir(cc.a.getenv)
	if err != nil || filepath.Dir(path) != filepath.Join(state, "rejects") {
		return nil, fmt.Errorf("rejects of campaign %s: not the console's: %w", c.Name, fs.ErrNotExist)
	}
	return os.Open(path)
}

// rejectLines are the first lines of draft c's rejects file (Rejects); none when it has none.
func (cc *consoleCreator) rejectLines(c *campaign.Campaign) ([]string, error) {
	f, err := cc.Rejects(c)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for len(lines) < consoleRejectLines && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// Start hands draft c to the service as campaign run --detach does: the pre-flight, then
// running (or scheduled, with a start ahead).
func (cc *consoleCreator) Start(ctx context.Context, c *campaign.Campaign) error {
	var said bytes.Buffer
	a := cc.quiet(&said)
	if err := preflightService(ctx, a, cc.store, c, cc.baseURL, false); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &console.InputError{Err: err}
	}
	return cc.store.Start(ctx, c.ID, a.now())
}

// Discard deletes draft c, as campaign delete does.
func (cc *consoleCreator) Discard(ctx context.Context, c *campaign.Campaign) error {
	_, err := cc.store.DeleteCampaign(ctx, c.ID, campaign.DeleteOptions{})
	return err
}
