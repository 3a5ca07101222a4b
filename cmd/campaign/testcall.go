package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/spf13/cobra"

	"github.com/campaign-run/campaign/campaign"
	"github.com/campaign-run/campaign/jobs"
	"github.com/campaign-run/campaign/vapi"
	"github.com/campaign-run/campaign/vapi/vapitest"
)

// testCallOptions are the argument and flags of `campaign call`: the operator's own number, the
// row whose call it tries, and the campaign flags of `run` that shape the request.
type testCallOptions struct {
	// Number is the operator's own number, the one called instead of the row's.
	Number   string
	File     string
	Row      int
	Name     string
	Timeout  time.Duration
	Format   string
	Simulate bool

	columnFlags

	AssistantID   string
	PhoneNumberID string
	OverridesFile string
	PublicURL     string
	Webhooks      string
	VapiBaseURL   string
	SimTimeScale  float64
	SimSeed       int64
}

// Environment variables read by `campaign call` (flag > env > default): those of `run` for the
// same flags.
var testCallEnv = map[string]string{
	"assistant-id":    "VAPI_ASSISTANT_ID",
	"phone-number-id": "VAPI_PHONE_NUMBER_ID",
	"public-url":      envPublicURL,
	"default-region":  "CAMPAIGN_DEFAULT_REGION",
	"vapi-base-url":   envVapiBaseURL,
	"webhooks":        "CAMPAIGN_WEBHOOKS",
}

// transcriptLines is how many lines of the transcript `campaign call` shows.
const transcriptLines = 10

// newTestCallCmd returns `campaign call`. It parses and checks the options, then calls runF
// with them when runF is not nil (tests), else runTestCall.
func newTestCallCmd(a *app, runF func(*testCallOptions) error) *cobra.Command {
	opts := &testCallOptions{}
	cmd := &cobra.Command{
		Use:   "call NUMBER",
		Short: "Place one test call to your own NUMBER with a CSV row's variables and the campaign's exact request, and show its result",
		Example: `  campaign call +14155550100 --from-file customers.csv --simulate
  VAPI_API_KEY=... campaign call +14155550100 --from-file customers.csv --row 3 --assistant-id ID --phone-number-id ID
  campaign call +14155550100 --from-file customers.csv --overrides overrides.json --format json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Number = args[0]
			if err := applyEnv(cmd.Flags(), a.getenv, testCallEnv); err != nil {
				return err
			}
			if err := opts.complete(a.getenv); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runTestCall(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.File, "from-file", "", "the campaign's CSV (or - for stdin): the row whose variables the call carries")
	f.IntVar(&opts.Row, "row", 1, "which data row of --from-file (1 is the first row after the header)")
	f.StringVar(&opts.Name, "name", "", "the campaign name the call carries in {{_campaign}} (default: as run names it, the file name and the time)")
	f.DurationVar(&opts.Timeout, "timeout", 10*time.Minute, "how long to wait for the call to end")
	f.StringVar(&opts.Format, "format", "text", "output format, text or json")
	f.BoolVar(&opts.Simulate, "simulate", false, "place the call on a built-in Vapi simulator (no real call)")
	addColumnFlags(f, &opts.columnFlags, "country (ISO 3166 code) of numbers, NUMBER included, written without +country code")
	f.StringVar(&opts.AssistantID, "assistant-id", "", "Vapi assistant that places the call")
	f.StringVar(&opts.PhoneNumberID, "phone-number-id", "", "Vapi phone number the call comes from")
	f.StringVar(&opts.OverridesFile, "overrides", "", "JSON file of assistantOverrides merged into the call (row variables win)")
	f.StringVar(&opts.PublicURL, "public-url", "", "the campaign's --public-url: the call asks Vapi to send its server messages there, as the campaign's would")
	f.StringVar(&opts.Webhooks, "webhooks", string(campaign.WebhooksAuto), "the campaign's --webhooks: auto, override or poll")
	f.StringVar(&opts.VapiBaseURL, "vapi-base-url", vapi.DefaultBaseURL, "Vapi API base URL")
	f.Float64Var(&opts.SimTimeScale, "sim-time-scale", 60, "with --simulate: simulated seconds per real second")
	f.Int64Var(&opts.SimSeed, "sim-seed", 42, "with --simulate: seed of the simulated outcome")
	_ = cmd.RegisterFlagCompletionFunc("format", completeValues("text", "json"))
	_ = cmd.RegisterFlagCompletionFunc("webhooks", completeValues(string(campaign.WebhooksAuto), string(campaign.WebhooksOverride), string(campaign.WebhooksPoll)))
	return cmd
}

// complete checks the options and puts NUMBER in E.164; a real call needs the Vapi key, an
// assistant and a phone number.
func (o *testCallOptions) complete(getenv func(string) string) error {
	o.DefaultRegion = strings.ToUpper(o.DefaultRegion)
	if !phonenumbers.GetSupportedRegions()[o.DefaultRegion] {
		return usageErrorf("--default-region %q is not a country code phone numbers know (e.g. US, GB, DE, IN)", o.DefaultRegion)
	}
	e164, _, _, err := campaign.ParsePhone(o.Number, o.DefaultRegion)
	if err != nil {
		return usageErrorf("NUMBER %q: %v", o.Number, err)
	}
	o.Number = e164
	if _, err := parseDelimiter(o.Delimiter); err != nil {
		return usageErrorf("--delimiter: %v", err)
	}
	switch {
	case o.File == "":
		return usageErrorf("--from-file is required: the campaign's CSV, whose --row gives the call's variables")
	case o.Row < 1:
		return usageErrorf("--row must be 1 or more (1 is the first row after the header), got %d", o.Row)
	case o.Timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.Timeout)
	case o.Format != "text" && o.Format != "json":
		return usageErrorf("--format must be text or json, got %q", o.Format)
	case o.Simulate && o.SimTimeScale <= 0:
		return usageErrorf("--sim-time-scale must be positive")
	}
	if o.PublicURL != "" && !strings.HasPrefix(o.PublicURL, "https://") && !strings.HasPrefix(o.PublicURL, "http://") {
		return usageErrorf("--public-url must start with https:// (or http://), got %q", o.PublicURL)
	}
	if _, err := campaign.ParseWebhookMode(o.Webhooks); err != nil {
		return usageErrorf("--webhooks: %v", err)
	}
	if o.Simulate {
		return nil
	}
	switch {
	case getenv(envAPIKey) == "":
		return usageErrorf("set %s to your Vapi private API key (or use --simulate)", envAPIKey)
	case o.AssistantID == "" && !o.hasTargetColumn():
		return usageErrorf("--assistant-id (or VAPI_ASSISTANT_ID) is required to place a call, unless the row names its own (an assistant_id or squad_id column, or --target-column)")
	case o.PhoneNumberID == "" && !o.hasPhoneNumberColumn():
		return usageErrorf("--phone-number-id (or VAPI_PHONE_NUMBER_ID) is required to place a call, unless the row names its own (a phone_number_id column, or --phone-number-column)")
	}
	return nil
}

// hasTargetColumn reports whether --from-file has a per-row target column (see run's).
func (o *testCallOptions) hasTargetColumn() bool {
	return fileHasTargetColumn(o.File, o.headerOptions())
}

// hasPhoneNumberColumn reports whether --from-file has a per-row caller number column.
func (o *testCallOptions) hasPhoneNumberColumn() bool {
	return fileHasPhoneNumberColumn(o.File, o.headerOptions())
}

// testCallResult is what `campaign call` prints; with --format json it is one JSON document (a
// stable interface: fields are only ever added).
type testCallResult struct {
	CallID string `json:"call_id"`
	// Number is the number called (the operator's own), Row and Line the CSV row whose call it was.
	Number      string `json:"number"`
	Row         int    `json:"row"`
	Line        int    `json:"line"`
	Status      string `json:"status"`
	EndedReason string `json:"ended_reason"`
	// Outcome is the campaign outcome the call would have had (campaign.ClassifyEndedReason).
	Outcome           string          `json:"outcome"`
	Summary           string          `json:"summary,omitempty"`
	StructuredData    json.RawMessage `json:"structured_data,omitempty"`
	SuccessEvaluation string          `json:"success_evaluation,omitempty"`
	// Cost is in USD; absent when Vapi gave none.
	Cost *float64 `json:"cost,omitempty"`
	// Transcript is the transcript's first lines; TranscriptMore counts the lines left out.
	Transcript     []string `json:"transcript"`
	TranscriptMore int      `json:"transcript_more,omitempty"`
	// Request is the POST /call body sent, secrets redacted.
	Request json.RawMessage `json:"request"`
}

// runTestCall builds row --row's request as the dial worker would (jobs.CreateCallRequest), with
// NUMBER as the customer's number, places it, polls the call until it ends and prints the result.
// It reads no database and writes none: the call is no campaign's attempt.
func runTestCall(ctx context.Context, a *app, o *testCallOptions) error {
	c, ct, err := testCallContact(a, o)
	if err != nil {
		return err
	}
	rowNumber, err := c.RowPhoneNumber(ct)
	if err != nil {
		return err
	}
	if rowNumber != "" { // the row's own caller number, as BeginAttempt would choose
		c.PhoneNumberID = rowNumber
	}
	apiKey, baseURL := a.getenv(envAPIKey), o.VapiBaseURL
	if o.Simulate {
		sim := vapitest.New(vapitest.Config{TimeScale: o.SimTimeScale, Seed: o.SimSeed})
		defer sim.Close()
		simURL, closeSim, err := serve(sim, "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("start the simulator: %w", err)
		}
		defer closeSim()
		apiKey, baseURL = sim.Config().APIKey, simURL
		if !c.HasTarget() {
			c.AssistantID = sim.Config().Assistants[0].ID
		}
		if c.PhoneNumberID == "" {
			c.PhoneNumberID = simulatedPhoneNumberID
		}
		fmt.Fprintf(a.errOut, "Simulating Vapi at %s (time x%g): no real call is placed.\n", simURL, o.SimTimeScale)
	}
	client, err := a.newVapiClient(apiKey, baseURL)
	if err != nil {
		return err
	}
	if c.Settings, err = c.ContactSettings(ct); err != nil { // the row's own target, if it names one
		return err
	}
	assts, err := fetchAssistants(ctx, client, &c.Settings, map[string]*vapi.Assistant{})
	if err != nil {
		return err
	}
	targets := []targetAssistants{{label: c.TargetLabel(), assts: assts}}
	numbers := &numberReads{client: client, pool: []string{c.PhoneNumberID}, read: map[string]*vapi.PhoneNumber{}}
	if c.KeepServer, c.ServerMessages, err = webhookRouting(ctx, a.errOut, numbers, c, targets); err != nil {
		return err
	}
	if !o.Simulate && !c.KeepServer && unreachableURL(c.PublicURL) {
		fmt.Fprintf(a.errOut, "Warning: --public-url %s is a loopback or private address that Vapi cannot reach: its server messages will not arrive there.\n",
			urlHost(c.PublicURL))
	}
	warnMissingVariables(a.errOut, c, ct, assts)
	body, err := jobs.CreateCallRequest(c, ct, 1)
	if err != nil {
		return fmt.Errorf("build the call request: %w", err)
	}
	body.Customer.Number = o.Number
	shown, err := redactedRequest(body)
	if err != nil {
		return err
	}

	// Vapi has no idempotency key: POST /call is sent once and never retried, so a failure that
	// leaves it unclear whether the call exists says so rather than risk a second call.
	call, err := client.CreateCall(ctx, body)
	if err != nil {
		switch vapi.Classify(err) {
		case vapi.ErrorClassAmbiguous:
			return fmt.Errorf("place the call: %w (the call may have been placed: look for %s in Vapi's call log before trying again)", err, body.Name)
		case vapi.ErrorClassConcurrencyBlocked:
			return fmt.Errorf("place the call: the account's concurrent-call limit is reached: %w", err)
		}
		return fmt.Errorf("place the call: %w", err)
	}
	if call.ConcurrencyBlocked() {
		return fmt.Errorf("place the call: Vapi did not place it: the account's concurrent-call limit is reached (call %s)", call.ID)
	}
	fmt.Fprintf(a.errOut, "Calling %s with row %d (line %d) of %s: call %s. Waiting up to %s for it to end…\n",
		o.Number, o.Row, ct.Line, o.source(), call.ID, o.Timeout)
	ended, err := waitCallEnded(ctx, client, call, o.Timeout)
	if err != nil {
		return err
	}
	res := testCallSummary(ended, o, ct.Line, shown)
	if o.Format == "json" {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeTestCallText(a.out, res)
}

// source names the --from-file input in messages: the file, or "stdin".
func (o *testCallOptions) source() string {
	if o.File == stdinFile {
		return "stdin"
	}
	return o.File
}

// testCallContact reads --from-file up to row --row and returns the campaign and contact that
// `run` would make of it with the same flags, without a database: ids are zero (no campaign has
// id 0, so the call's attempt key matches no attempt and its server messages are applied to
// none). A row that the campaign would not call (rejected, or a number an earlier row has) is a
// usage error.
func testCallContact(a *app, o *testCallOptions) (*campaign.Campaign, *campaign.Contact, error) {
	overrides, err := readOverrides(o.OverridesFile)
	if err != nil {
		return nil, nil, err
	}
	checkRow, err := rowOverridesCheck(overrides, "")
	if err != nil {
		return nil, nil, err
	}
	delimiter, _ := parseDelimiter(o.Delimiter) // validated already
	var file io.Reader = a.in
	if o.File != stdinFile {
		f, err := os.Open(o.File)
		if err != nil {
			return nil, nil, err // *PathError says "open FILE: …"
		}
		defer f.Close()
		file = f
	}
	reader, err := campaign.NewReader(file, campaign.ReaderOptions{
		PhoneColumn:      o.PhoneColumn,
		NameColumn:       o.NameColumn,
		TimeZoneColumn:   o.TimeZoneColumn,
		ExternalIDColumn: o.ExternalIDColumn,
		OverridesColumn:  o.OverridesColumn,
		CheckOverrides:   checkRow,
		TargetColumn:     o.TargetColumn,
		RequireTarget:    o.AssistantID == "" && !o.Simulate,
		Delimiter:        delimiter,
		DefaultRegion:    o.DefaultRegion,
		// An empty cell without --phone-number-id is a row run would reject.
		PhoneNumberColumn: o.PhoneNumberColumn, RequirePhoneNumber: o.PhoneNumberID == "" && !o.Simulate,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.source(), err)
	}
	firstLine := map[string]int{} // number → first line that has it
	for n := 1; ; n++ {
		row, rej, err := reader.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil, usageErrorf("--row %d: %s has %d data row(s)", o.Row, o.source(), n-1)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.source(), err)
		}
		if n < o.Row {
			if row != nil {
				if _, seen := firstLine[row.Phone]; !seen {
					firstLine[row.Phone] = row.Line
				}
			}
			continue
		}
		if rej != nil {
			return nil, nil, usageErrorf("--row %d (line %d) would not be called: %s: %s", o.Row, rej.Line, rej.Reason, rej.Detail)
		}
		if first, seen := firstLine[row.Phone]; seen {
			return nil, nil, usageErrorf("--row %d (line %d) would not be called: its number is also on line %d, which the campaign calls instead",
				o.Row, row.Line, first)
		}
		return testCallCampaign(a, o, reader.Header(), overrides), &campaign.Contact{
			Line:           row.Line,
			Phone:          row.Phone,
			Name:           row.Name,
			ExternalID:     row.ExternalID,
			TimeZones:      row.TimeZones,
			TimeZoneSource: row.TimeZoneSource,
			Fields:         row.Fields,
		}, nil
	}
}

// testCallCampaign is the campaign `run` would import with the same flags: the settings that
// shape the request. The webhook secret is VAPI_WEBHOOK_SECRET, else one of the call's own, as
// a campaign's is.
func testCallCampaign(a *app, o *testCallOptions, h campaign.Header, overrides json.RawMessage) *campaign.Campaign {
	name := o.Name
	if name == "" {
		name = campaign.DefaultCampaignName(o.source(), a.now())
	}
	secret := a.getenv(envWebhookSecret)
	if secret == "" {
		buf := make([]byte, 24)
		_, _ = rand.Read(buf) // crypto/rand.Read never fails on supported platforms
		secret = hex.EncodeToString(buf)
	}
	return &campaign.Campaign{
		Name:             name,
		Columns:          h.Columns,
		Delimiter:        h.Delimiter,
		PhoneColumn:      h.Phone,
		NameColumn:       h.Name,
		TimeZoneColumn:   h.TimeZone,
		ExternalIDColumn: h.ExternalID,
		VariableColumns:  h.Variables,
		OverridesColumn:  overridesColumn(h),
		TargetColumn:     targetColumn(h),
		// Calls from the row's own number, when it names one (see runTestCall).
		PhoneNumberColumn: phoneNumberColumn(h),
		Settings: campaign.Settings{
			AssistantID:   o.AssistantID,
			PhoneNumberID: o.PhoneNumberID,
			Overrides:     overrides,
			PublicURL:     o.PublicURL,
			WebhookSecret: secret,
			Webhooks:      campaign.WebhookMode(o.Webhooks),
			DefaultRegion: o.DefaultRegion,
		},
	}
}

// warnMissingVariables says which template variables of the assistant's texts the call leaves
// without a value: no column supplies it, or the row's cell is empty, and it has no default.
// `run` refuses to dial the first kind without --allow-missing-variables; a test call is placed
// anyway, so that the operator hears what the person would.
func warnMissingVariables(w io.Writer, c *campaign.Campaign, ct *campaign.Contact, assts []*vapi.Assistant) {
	values := c.Variables(ct)
	for _, asst := range assts {
		_, checks := variableChecks(c, asst)
		for _, ch := range checks {
			switch {
			case ch.HasDefault:
			case ch.Column == "":
				fmt.Fprintf(w, "Warning: the assistant uses {{%s}}, which no column supplies (campaign run stops on this without --allow-missing-variables).\n", ch.Variable)
			case strings.TrimSpace(values[ch.Column]) == "":
				fmt.Fprintf(w, "Warning: the assistant uses {{%s}}, which is empty in this row (column %q).\n", ch.Variable, ch.Column)
			}
		}
	}
}

// Polling of a test call: the first read after pollFirst, then twice as long each time, up to
// pollMax.
const (
	pollFirst = 500 * time.Millisecond
	pollMax   = 5 * time.Second
)

// waitCallEnded polls GET /call/{id} until the call has ended or timeout passes. A read that
// fails is tried again at the next poll; a 404 is never taken for "ended".
func waitCallEnded(ctx context.Context, client *vapi.Client, call *vapi.Call, timeout time.Duration) (*vapi.Call, error) {
	if call.Ended() {
		return call, nil
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	wait := pollFirst
	var lastErr error
	for {
		poll := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil, fmt.Errorf("wait for call %s: %w (the call goes on at Vapi)", call.ID, ctx.Err())
		case <-deadline.C:
			poll.Stop()
			if lastErr != nil {
				return nil, fmt.Errorf("call %s had not ended after --timeout %s (last read: %w); it goes on at Vapi", call.ID, timeout, lastErr)
			}
			return nil, fmt.Errorf("call %s had not ended after --timeout %s; it goes on at Vapi", call.ID, timeout)
		case <-poll.C:
		}
		got, err := client.GetCall(ctx, call.ID)
		if err == nil && got.Ended() {
			return got, nil
		}
		if err != nil && vapi.Classify(err) == vapi.ErrorClassPermanent && !isNotFound(err) {
			return nil, fmt.Errorf("read call %s: %w", call.ID, err)
		}
		lastErr = err
		wait = min(2*wait, pollMax)
	}
}

// isNotFound reports whether err is Vapi's 404: a call just created may not be readable yet.
func isNotFound(err error) bool {
	var apiErr *vapi.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == 404
}

// testCallSummary is what `campaign call` prints of an ended call.
func testCallSummary(call *vapi.Call, o *testCallOptions, line int, request json.RawMessage) *testCallResult {
	r := &testCallResult{
		CallID:      call.ID,
		Number:      o.Number,
		Row:         o.Row,
		Line:        line,
		Status:      string(call.Status),
		EndedReason: call.EndedReason,
		Outcome:     string(campaign.ClassifyEndedReason(call.EndedReason)),
		Cost:        call.Cost,
		Transcript:  []string{},
		Request:     request,
	}
	if an := call.Analysis; an != nil {
		r.Summary, r.StructuredData, r.SuccessEvaluation = an.Summary, an.StructuredData, an.SuccessEvaluation
	}
	if call.Artifact != nil {
		if t := strings.TrimSpace(call.Artifact.Transcript); t != "" {
			lines := strings.Split(t, "\n")
			if len(lines) > transcriptLines {
				r.TranscriptMore = len(lines) - transcriptLines
				lines = lines[:transcriptLines]
			}
			r.Transcript = lines
		}
	}
	return r
}

// writeTestCallText writes the result of a test call for a person.
func writeTestCallText(w io.Writer, r *testCallResult) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Call\t%s to %s (row %d, line %d)\n", r.CallID, r.Number, r.Row, r.Line)
	fmt.Fprintf(tw, "Outcome\t%s (ended reason %s)\n", r.Outcome, r.EndedReason)
	if r.Summary != "" {
		fmt.Fprintf(tw, "Summary\t%s\n", r.Summary)
	}
	if len(r.StructuredData) > 0 {
		fmt.Fprintf(tw, "Structured data\t%s\n", r.StructuredData)
	}
	if r.SuccessEvaluation != "" {
		fmt.Fprintf(tw, "Success evaluation\t%s\n", r.SuccessEvaluation)
	}
	if r.Cost != nil {
		fmt.Fprintf(tw, "Cost\t$%.4f\n", *r.Cost)
	} else {
		fmt.Fprintf(tw, "Cost\tnot given by Vapi\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Transcript) == 0 {
		b.WriteString("Transcript: none\n")
	} else {
		b.WriteString("Transcript:\n")
		for _, l := range r.Transcript {
			fmt.Fprintf(&b, "  %s\n", l)
		}
		if r.TranscriptMore > 0 {
			fmt.Fprintf(&b, "  … %d more line(s)\n", r.TranscriptMore)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
