package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
)

// runOptions are the argument and flags of `campaign run`.
type runOptions struct {
	// File is the CSV to import: a path, or stdinFile; "" with Like means the source's contacts.
	File   string
	DryRun bool
	Name   string
	// Like names or numbers the campaign whose settings (and, without File, contacts) the new
	// one copies; like is what loadLike read of it.
	Like string
	like *likeSource

	columnFlags
	SuppressFile string
	RejectsFile  string

	Window   string
	TimeZone string

	OverridesFile string
	// AssistantFile is the --assistant file: a transient assistant sent with every call.
	AssistantFile string
	Rate          float64
	MaxConcurrent int
	MaxAttempts   int
	// Retry is the --retry spec, canonical after validate; CallbackKey and DoNotCallKey name
	// the structured-data follow-ups.
	Retry        string
	CallbackKey  string
	DoNotCallKey string
	// MaxCost is the --max-cost value; maxCostUSD its amount after validate (nil: no cap).
	MaxCost    string
	maxCostUSD *float64

	// PredialURL is the pre-dial eligibility hook (--predial-url), "" for none.
	PredialURL string
	// NotifyURL is where the campaign's notifications go (--notify-url), "" for nowhere;
	// NotifySpike is the failure-spike rule (--notify-spike), canonical after validate.
	NotifyURL, NotifySpike string

	// StartAt and EndBy are the --start-at and --end-by values; startAt and endBy the times they
	// name after parseSchedule (nil: none).
	StartAt, EndBy string
	startAt, endBy *time.Time

	// NumberStrategy, PerNumberMaxConcurrent, PerNumberDailyCap and SameNumberOnRetry say how
	// each call's number is chosen from the pool (campaign.Settings).
	NumberStrategy         string
	PerNumberMaxConcurrent int
	PerNumberDailyCap      int
	SameNumberOnRetry      bool

	Preview int
	Format  string

	// uploadName names the input read from stdin when it is a file uploaded to the console.
	uploadName string

	// callOptions are the flags of placing the calls (a real run, not --dry-run), shared with
	// resume.
	callOptions
}

// Environment variables read by `campaign run` (flag > env > default).
var runEnv = map[string]string{
	"assistant-id":    "VAPI_ASSISTANT_ID",
	"phone-number-id": "VAPI_PHONE_NUMBER_ID",
	"public-url":      envPublicURL,
	"default-region":  "CAMPAIGN_DEFAULT_REGION",
	"window":          "CAMPAIGN_WINDOW",
	"timezone":        "CAMPAIGN_TIMEZONE",
	"rate":            "CAMPAIGN_RATE",
	"max-concurrent":  "CAMPAIGN_MAX_CONCURRENT",
	"max-attempts":    "CAMPAIGN_MAX_ATTEMPTS",
	"retry":           "CAMPAIGN_RETRY",
	"max-cost":        "CAMPAIGN_MAX_COST",
	"vapi-base-url":   envVapiBaseURL,
	"webhook-listen":  envWebhookListen,
	"webhooks":        "CAMPAIGN_WEBHOOKS",
	"predial-url":     "CAMPAIGN_PREDIAL_URL",
	"predial-timeout": envPredialTimeout,
	"notify-url":      envNotifyURL,
	"notify-timeout":  envNotifyTimeout,
}

// Environment variables of the flags that run and resume share.
const (
	envPublicURL     = "CAMPAIGN_PUBLIC_URL"
	envWebhookListen = "CAMPAIGN_WEBHOOK_LISTEN"
)

// envWebhookSecret is the shared secret Vapi sends with every webhook; a secret is generated per
// campaign when it is unset. Secrets come from the environment only, never from flags.
const envWebhookSecret = "VAPI_WEBHOOK_SECRET"

// newRunCmd returns `campaign run`. It parses and checks the options, then calls runF with them
// when runF is not nil (tests), else it runs: runDryRun or runCalls.
func newRunCmd(a *app, runF func(*runOptions) error) *cobra.Command {
	opts := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [FILE]",
		Short: "Import a CSV of customers (FILE, or - for stdin) as a campaign and call them (--dry-run: show what would be sent)",
		Long: "Import a CSV of customers (FILE, or - for stdin) as a new campaign and call them.\n" +
			"With --like CAMPAIGN the new campaign copies that campaign's settings (flags given on the command\n" +
			"line override them) and, without FILE, its contacts; never its webhook secret, states or attempts.",
		Example: `  campaign run examples/customers.csv --dry-run
  campaign run customers.csv --dry-run --default-region GB --window "mon-fri 09:00-19:00" --timezone Europe/London
  campaign run examples/customers.csv --simulate -o results.csv
  export-crm | campaign run - --name nov-reminders --dry-run
  VAPI_API_KEY=... campaign run customers.csv --assistant-id ID --phone-number-id ID --public-url https://my.tunnel -o results.csv
  campaign run --like nov-reminders dec.csv --name dec-reminders --rate 2
  campaign run --like nov-reminders --dry-run`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			changed := cmd.Flags().Changed
			if err := opts.checkLikeArgs(changed); err != nil {
				return err
			}
			if err := applyEnv(cmd.Flags(), a.getenv, runEnv); err != nil {
				return err
			}
			if !changed("assistant-id") && (opts.SquadID != "" || opts.WorkflowID != "" || opts.AssistantFile != "") {
				opts.AssistantID = "" // another target on the command line wins over VAPI_ASSISTANT_ID
			}
			given := func(flag string) bool { return changed(flag) || a.getenv(runEnv[flag]) != "" }
			if err := opts.complete(given, a.getenv); err != nil {
				return err
			}
			if err := opts.parseSchedule(given, a.now()); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.Like != "" {
				if err := opts.loadLike(cmd.Context(), a, changed, a.getenv); err != nil {
					return err
				}
			}
			if opts.DryRun {
				return runDryRun(cmd.Context(), a, opts)
			}
			return runCalls(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.DryRun, "dry-run", false, "import and show who would be called, when and with what; dial nobody")
	f.StringVar(&opts.Name, "name", "", "campaign name (default: the file name and the time)")
	f.StringVar(&opts.Like, "like", "", "copy this campaign's settings (flags given override them) and, without FILE, its contacts")
	addColumnFlags(f, &opts.columnFlags, "country (ISO 3166 code) of numbers written without +country code")
	f.StringVar(&opts.SuppressFile, "suppress", "", "file of numbers never to call (one per line, or a CSV with a phone column), on top of the stored list")
	f.StringVar(&opts.RejectsFile, "rejects", "", "where to write rejected rows (default: FILE with .rejects.csv; for stdin or an unwritable directory, the user's state directory)")
	f.StringVar(&opts.Window, "window", campaign.DefaultWindowSpec, `calling hours in each contact's local time, e.g. "mon-fri 09:00-20:00; sat 10:00-14:00", or "always"`)
	f.StringVar(&opts.TimeZone, "timezone", "UTC", "IANA time zone for contacts whose zone neither the file nor the number tells")
	f.StringVar(&opts.AssistantID, "assistant-id", "", "Vapi assistant that places the calls (or --squad-id, --workflow-id, --assistant)")
	f.StringVar(&opts.SquadID, "squad-id", "", "Vapi squad that places the calls (the row's variables go to every member)")
	f.StringVar(&opts.WorkflowID, "workflow-id", "", "Vapi workflow that places the calls (it takes variables only: results are polled)")
	f.StringVar(&opts.AssistantFile, "assistant", "", "JSON file of a transient assistant (Vapi's CreateAssistantDTO) sent with every call")
	f.StringSliceVar(&opts.PhoneNumberIDs, "phone-number-id", nil, "Vapi phone number the calls come from (repeatable or comma-separated: a pool)")
	f.StringVar(&opts.PhoneNumbersFile, "phone-numbers-file", "", "file of Vapi phone number ids the calls come from, one per line (# comments), after --phone-number-id")
	f.StringVar(&opts.NumberStrategy, "number-strategy", string(campaign.StrategyRoundRobin), "how each call's number is chosen from the pool: round-robin, or local-presence (the contact's area code, else country, else any)")
	f.IntVar(&opts.PerNumberMaxConcurrent, "per-number-max-concurrent", 0, "live calls from one number at once, at most, across every campaign on the database (0: no limit)")
	f.IntVar(&opts.PerNumberDailyCap, "per-number-daily-cap", 0, "calls placed from one number per UTC day, at most, across every campaign on the database (0: no limit)")
	f.BoolVar(&opts.SameNumberOnRetry, "same-number-on-retry", true, "a contact's later attempts come from the number of its previous attempt (=false: the strategy chooses again)")
	f.StringVar(&opts.OverridesFile, "overrides", "", "JSON file of assistantOverrides merged into every call (row variables win)")
	f.StringVar(&opts.PublicURL, "public-url", "", "address at which Vapi can reach this machine's webhook receiver (e.g. a tunnel): https://host or the full https://host"+jobs.WebhookPath)
	f.Float64Var(&opts.Rate, "rate", 1, "calls created per second, at most")
	f.IntVar(&opts.MaxConcurrent, "max-concurrent", 10, "live calls at once, at most (Vapi's default account limit is 10)")
	f.IntVar(&opts.MaxAttempts, "max-attempts", campaign.DefaultMaxAttempts, "calls per contact, at most, retries and callbacks included")
	f.StringVar(&opts.Retry, "retry", campaign.DefaultRetrySpec, `retry policy by outcome: outcome=retries@delay[*backoff], or "none"`)
	f.StringVar(&opts.CallbackKey, "callback-key", campaign.DefaultCallbackAtKey, "structured-data key of a callback time the person asked for")
	f.StringVar(&opts.DoNotCallKey, "do-not-call-key", campaign.DefaultDoNotCallKey, "structured-data key that says the person asked not to be called")
	f.StringVar(&opts.MaxCost, "max-cost", noMaxCost, `budget cap in USD: no new call once spent + the expected cost of live calls could pass it; the campaign pauses ("none": no cap)`)
	f.StringVar(&opts.PredialURL, "predial-url", "", "before each dial, POST the contact to this URL and dial only if it answers {\"eligible\": true}")
	f.StringVar(&opts.NotifyURL, "notify-url", "", "POST a JSON notification (Slack-compatible) here when the campaign completes, is cancelled, pauses for its budget, reaches its --end-by or its failures spike")
	f.StringVar(&opts.NotifySpike, "notify-spike", campaign.DefaultNotifySpike, `notify when at least PERCENT% of the last CALLS ended calls failed with one ended reason: PERCENT%/CALLS, or "off"`)
	f.StringVar(&opts.StartAt, "start-at", "", startAtHelp)
	f.StringVar(&opts.EndBy, "end-by", "", endByHelp)
	f.IntVar(&opts.Preview, "preview", 3, "with --dry-run: how many POST /call bodies to show")
	f.StringVar(&opts.Format, "format", "text", "with --dry-run: output format, text or json")
	f.BoolVar(&opts.Detach, "detach", false, "import, then hand the campaign to the campaign serve processes on this database and return")
	f.BoolVar(&opts.Simulate, "simulate", false, "place the calls on a built-in Vapi simulator (no real call; no window unless --window)")
	addCallFlags(f, &opts.callOptions)
	_ = cmd.RegisterFlagCompletionFunc("format", completeValues("text", "json"))
	_ = cmd.RegisterFlagCompletionFunc("like", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return a.completeCampaign(cmd, nil, toComplete) // FILE given or not, --like names one campaign
	})
	return cmd
}

// complete checks the options (validate) and, for a run that places calls, fills in what it
// implies: a simulation calls at any hour and calls everyone once unless told otherwise; a real
// one needs the Vapi key, an assistant and a phone number. given reports whether a flag was set,
// on the command line or by its environment variable.
func (o *runOptions) complete(given func(flag string) bool, getenv func(string) string) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.DryRun {
		return nil
	}
	if o.Simulate && !given("window") {
		o.Window = "always" // a demo finishes at any hour
	}
	if o.Simulate && !given("retry") && !given("max-attempts") {
		// A demo calls everyone once; --retry shows retries, on simulated time.
		o.Retry, o.MaxAttempts = "none", 1
	}
	if o.Simulate {
		return nil
	}
	if o.Like != "" && getenv(envAPIKey) != "" {
		return nil // the assistant and phone number may be the source's: loadLike checks them
	}
	return o.checkRouting(getenv)
}

// parseSchedule reads --start-at and --end-by (friendly forms in --timezone when given, else in
// this machine's zone) and checks them at now: neither in the past, the end after the start.
func (o *runOptions) parseSchedule(given func(flag string) bool, now time.Time) error {
	loc := time.Local
	if given("timezone") {
		loc, _ = campaign.LoadTimeZone(o.TimeZone) // validated already
	}
	o.startAt, o.endBy = nil, nil
	for _, f := range []struct {
		flag, value string
		to          **time.Time
	}{{"start-at", o.StartAt, &o.startAt}, {"end-by", o.EndBy, &o.endBy}} {
		if !given(f.flag) {
			continue
		}
		t, err := parseScheduleFlag(f.flag, f.value, loc, now)
		if err != nil {
			return err
		}
		*f.to = &t
	}
	return checkLaunchSchedule(o.startAt, o.endBy, now)
}

// checkRouting checks that a real run can place calls: the Vapi key, an assistant and a phone
// number.
func (o *runOptions) checkRouting(getenv func(string) string) error {
	switch {
	case getenv(envAPIKey) == "":
		return usageErrorf("set %s to your Vapi private API key (or use --simulate or --dry-run)", envAPIKey)
	case !o.hasTarget() && !o.hasTargetColumn():
		return usageErrorf("--assistant-id (or VAPI_ASSISTANT_ID), --squad-id, --workflow-id or --assistant FILE is required to place calls, unless the CSV names each row's (an assistant_id or squad_id column, or --target-column)")
	case o.PhoneNumberID == "" && !o.hasPhoneNumberColumn():
		return usageErrorf("--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required to place calls (or --phone-numbers-file), unless the CSV names each row's (a phone_number_id column, or --phone-number-column)")
	}
	return nil
}

// hasTargetColumn reports whether the run's contacts have a target column: FILE's (read for its
// header only), else, with --like and no FILE, the source campaign's.
func (o *runOptions) hasTargetColumn() bool {
	if o.File == "" && o.like != nil {
		return o.like.campaign.TargetColumn != nil
	}
	return fileHasTargetColumn(o.File, o.headerOptions())
}

// hasPhoneNumberColumn reports whether the run's contacts have a caller number column, as
// hasTargetColumn does for the target column.
func (o *runOptions) hasPhoneNumberColumn() bool {
	if o.File == "" && o.like != nil {
		return o.like.campaign.PhoneNumberColumn != nil
	}
	return fileHasPhoneNumberColumn(o.File, o.headerOptions())
}

// validate checks everything that can be checked before touching the file or the database.
func (o *runOptions) validate() error {
	if _, err := campaign.ParseWindow(o.Window); err != nil {
		return usageErrorf("--window: %v", err)
	}
	if _, err := campaign.LoadTimeZone(o.TimeZone); err != nil {
		return usageErrorf("--timezone: %v", err)
	}
	o.DefaultRegion = strings.ToUpper(o.DefaultRegion)
	if !phonenumbers.GetSupportedRegions()[o.DefaultRegion] {
		return usageErrorf("--default-region %q is not a country code phone numbers know (e.g. US, GB, DE, IN)", o.DefaultRegion)
	}
	if _, err := parseDelimiter(o.Delimiter); err != nil {
		return usageErrorf("--delimiter: %v", err)
	}
	switch {
	case o.Rate < 0:
		return usageErrorf("--rate must be zero (no limit) or more, got %v", o.Rate)
	case o.MaxConcurrent < 1:
		return usageErrorf("--max-concurrent must be at least 1, got %d", o.MaxConcurrent)
	case o.MaxAttempts < 1:
		return usageErrorf("--max-attempts must be at least 1, got %d", o.MaxAttempts)
	case o.Preview < 0:
		return usageErrorf("--preview must be zero or more, got %d", o.Preview)
	case o.Detach && o.Simulate:
		return usageErrorf("--detach and --simulate do not go together: a simulated campaign runs only in the process that simulates Vapi")
	case o.Detach && o.DryRun:
		return usageErrorf("--detach and --dry-run do not go together: a dry run dials nobody")
	case o.Format != "text" && o.Format != "json":
		return usageErrorf("--format must be text or json, got %q", o.Format)
	case utf8.RuneCountInString(o.Name) > 200:
		return usageErrorf("--name is longer than 200 characters")
	}
	policy, err := campaign.ParseRetryPolicy(o.Retry)
	if err != nil {
		return usageErrorf("--retry: %v", err)
	}
	o.Retry = policy.String()
	if o.maxCostUSD, err = parseMaxCost(o.MaxCost); err != nil {
		return err
	}
	if err := checkFollowUpKey("--callback-key", o.CallbackKey); err != nil {
		return err
	}
	if err := checkFollowUpKey("--do-not-call-key", o.DoNotCallKey); err != nil {
		return err
	}
	if o.PublicURL != "" && !strings.HasPrefix(o.PublicURL, "https://") && !strings.HasPrefix(o.PublicURL, "http://") {
		return usageErrorf("--public-url must start with https:// (or http://), got %q", o.PublicURL)
	}
	mode, err := campaign.ParseWebhookMode(o.Webhooks)
	if err != nil {
		return usageErrorf("--webhooks: %v", err)
	}
	if err := checkPredialURL(o.PredialURL); err != nil {
		return err
	}
	if err := checkPredialTimeout(o.PredialTimeout); err != nil {
		return err
	}
	if err := checkHookURL("--notify-url", o.NotifyURL); err != nil {
		return err
	}
	spike, err := campaign.ParseSpike(o.NotifySpike)
	if err != nil {
		return usageErrorf("--notify-spike: %v", err)
	}
	o.NotifySpike = spike.String()
	if err := checkNotifyTimeout(o.NotifyTimeout); err != nil {
		return err
	}
	if err := o.validateNumbers(); err != nil {
		return err
	}
	return o.validateTarget(mode)
}

// validateNumbers makes the pool of numbers and checks how they are chosen.
func (o *runOptions) validateNumbers() error {
	if err := o.resolveCallerNumbers(); err != nil {
		return err
	}
	strategy, err := campaign.ParseNumberStrategy(o.NumberStrategy)
	if err != nil {
		return usageErrorf("--number-strategy: %v", err)
	}
	o.NumberStrategy = string(strategy)
	if err := checkPerNumberLimit("per-number-max-concurrent", o.PerNumberMaxConcurrent); err != nil {
		return err
	}
	return checkPerNumberLimit("per-number-daily-cap", o.PerNumberDailyCap)
}

// validateTarget checks that at most one target is named and reads the --assistant file. A
// workflow's calls cannot carry a server, so --webhooks override does not go with it.
func (o *runOptions) validateTarget(mode campaign.WebhookMode) error {
	var named []string
	for _, t := range []struct{ flag, value string }{
		{"--assistant-id", o.AssistantID}, {"--squad-id", o.SquadID}, {"--workflow-id", o.WorkflowID}, {"--assistant", o.AssistantFile},
	} {
		if t.value != "" {
			named = append(named, t.flag)
		}
	}
	if len(named) > 1 {
		return usageErrorf("%s: give one of --assistant-id, --squad-id, --workflow-id or --assistant", strings.Join(named, " and "))
	}
	if o.WorkflowID != "" && mode == campaign.WebhooksOverride {
		return usageErrorf("--webhooks override does not go with --workflow-id: a workflow's calls carry no server of their own, so results are polled")
	}
	if o.AssistantFile == "" {
		return nil
	}
	data, err := os.ReadFile(o.AssistantFile)
	if err != nil {
		return usageErrorf("--assistant: %v", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return usageErrorf("--assistant %s: not a JSON object of an assistant (Vapi's CreateAssistantDTO): %v", o.AssistantFile, err)
	}
	compact, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("--assistant %s: %w", o.AssistantFile, err)
	}
	o.Assistant = compact
	return nil
}

// checkPredialURL checks a --predial-url: "" (none) or an absolute http(s) URL with a host.
func checkPredialURL(s string) error {
	return checkHookURL("--predial-url", s)
}

// checkHookURL checks the URL of flag: "" (none) or an absolute http(s) URL with a host. The
// error shows the URL masked: a notify URL may carry a token (a Slack webhook's path does).
func checkHookURL(flag, s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		shown := strconv.Quote(s)
		if flag == "--notify-url" {
			shown = campaign.MaskURL(s)
		}
		return usageErrorf("%s must be an absolute https:// (or http://) URL, got %s", flag, shown)
	}
	return nil
}

// parseDelimiter turns the --delimiter value into a rune; "" means detect.
func parseDelimiter(s string) (rune, error) {
	switch s {
	case "":
		return 0, nil
	case ",", ";", "|":
		return rune(s[0]), nil
	case "tab", `\t`, "\t":
		return '\t', nil
	}
	return 0, fmt.Errorf(`%q: want ",", ";", "tab" or "|"`, s)
}

// readOverrides reads the --overrides file: a JSON object of assistantOverrides.
func readOverrides(path string) (json.RawMessage, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--overrides: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("--overrides %s: not a JSON object of assistantOverrides: %w", path, err)
	}
	return json.RawMessage(data), nil
}

// stdinFile is the FILE argument that means "read the CSV from standard input".
const stdinFile = "-"

// source names the input in messages, the campaign's source file and its default name:
// the file, or "stdin".
func (o *runOptions) source() string {
	switch {
	case o.File == stdinFile && o.uploadName != "":
		return o.uploadName
	case o.File == stdinFile:
		return "stdin"
	case o.File == "" && o.like != nil:
		// The contacts are the source campaign's, which came from its file.
		return o.like.campaign.SourceFile
	}
	return o.File
}

// defaultRejectsPath is FILE with its extension replaced by .rejects.csv.
func defaultRejectsPath(file string) string {
	return strings.TrimSuffix(file, filepath.Ext(file)) + ".rejects.csv"
}

// readSuppressFile reads the --suppress file into E.164 numbers.
func readSuppressFile(path, region string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--suppress: %w", err)
	}
	defer f.Close()
	numbers, err := campaign.ReadSuppressionList(f, region)
	if err != nil {
		return nil, fmt.Errorf("--suppress %s: %w", path, err)
	}
	return numbers, nil
}
